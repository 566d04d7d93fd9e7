//! Connection admission: a cap on connections open at once, in total and per client address.
//! A [`Permit`] is held for a connection's lifetime and releases its slots when dropped.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::rc::Rc;

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Connection counters shared by every listener on the executor thread.
#[derive(Debug, Clone, Default)]
pub struct ConnLimits {
    counts: Rc<RefCell<Counts>>,
}

/// One admitted connection.
#[derive(Debug)]
pub struct Permit {
    counts: Rc<RefCell<Counts>>,
    ip: IpAddr,
}

impl ConnLimits {
    /// Admits a connection from `ip` if both caps allow it.
    pub fn try_admit(&self, ip: IpAddr, max_total: usize, max_per_ip: usize) -> Option<Permit> {
        let mut c = self.counts.borrow_mut();
        let here = c.per_ip.get(&ip).copied().unwrap_or(0);
        if c.total >= max_total || here >= max_per_ip {
            return None;
        }
        c.total += 1;
        c.per_ip.insert(ip, here + 1);
        Some(Permit {
            counts: self.counts.clone(),
            ip,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.counts.borrow().total
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut c = self.counts.borrow_mut();
        c.total -= 1;
        if let Some(n) = c.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_total_and_per_ip_and_releases_on_drop() {
        let l = ConnLimits::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let p1 = l.try_admit(a, 3, 2).unwrap();
        let _p2 = l.try_admit(a, 3, 2).unwrap();
        assert!(l.try_admit(a, 3, 2).is_none());
        let _p3 = l.try_admit(b, 3, 2).unwrap();
        assert!(l.try_admit(b, 3, 2).is_none());
        drop(p1);
        assert_eq!(l.open(), 2);
        assert!(l.try_admit(a, 3, 2).is_some());
    }
}

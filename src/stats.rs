//! Daily mail counters for the web page's overview chart: messages received (accepted by the
//! MX), recipients delivered by the outbound queue (sent), and messages or recipients refused.
//!
//! Invariants: counting is a few integer additions on the executor thread (no store write per
//! message: SD cards die of writes); the counters are written to the store's `STATE` table
//! (key [`STATE_KEY`]) by [`run_flusher`] every [`FLUSH`] when changed, and by the server as it
//! stops, so a crash
//! loses at most that much counting, never mail; at most [`DAYS`] days are kept.

use crate::store::{Op, Store};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

/// The store key of the counters.
pub const STATE_KEY: &str = "stats.daily";
/// Days kept.
pub const DAYS: usize = 60;
/// Longest time between two writes of changed counters.
pub const FLUSH: Duration = Duration::from_secs(300);

/// One day's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Day {
    /// Messages accepted by the MX.
    pub received: u64,
    /// Recipients the queue delivered.
    pub sent: u64,
    /// Messages or recipients refused (at SMTP time, or bounced by the queue).
    pub refused: u64,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The MX accepted a message.
    Received,
    /// The queue delivered to a recipient.
    Sent,
    /// A message or recipient was refused or bounced.
    Refused,
}

/// The counters, by day number (days since the Unix epoch, UTC).
#[derive(Debug, Default)]
pub struct Stats {
    days: RefCell<BTreeMap<u64, Day>>,
    dirty: Cell<bool>,
}

fn today() -> u64 {
    crate::time::unix_now() / 86_400
}

impl Stats {
    /// The counters saved in `store` (none when unreadable).
    pub fn load(store: &Store) -> Stats {
        let mut days = BTreeMap::new();
        if let Ok(Some(raw)) = store.state(STATE_KEY) {
            // Lines of `day received sent refused`.
            for line in String::from_utf8_lossy(&raw).lines() {
                let n: Vec<u64> = line.split(' ').filter_map(|x| x.parse().ok()).collect();
                if let [day, received, sent, refused] = n[..] {
                    days.insert(
                        day,
                        Day {
                            received,
                            sent,
                            refused,
                        },
                    );
                }
            }
        }
        Stats {
            days: RefCell::new(days),
            dirty: Cell::new(false),
        }
    }

    /// Counts one event today.
    pub fn count(&self, event: Event) {
        let mut days = self.days.borrow_mut();
        let d = days.entry(today()).or_default();
        match event {
            Event::Received => d.received += 1,
            Event::Sent => d.sent += 1,
            Event::Refused => d.refused += 1,
        }
        while days.len() > DAYS {
            days.pop_first();
        }
        self.dirty.set(true);
    }

    /// The last `n` days, oldest first, today included (days without mail count zero).
    pub fn last(&self, n: u64) -> Vec<(u64, Day)> {
        let days = self.days.borrow();
        let end = today();
        (end.saturating_sub(n.saturating_sub(1))..=end)
            .map(|d| (d, days.get(&d).copied().unwrap_or_default()))
            .collect()
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = String::new();
        for (day, d) in self.days.borrow().iter() {
            out.push_str(&format!("{day} {} {} {}\n", d.received, d.sent, d.refused));
        }
        out.into_bytes()
    }

    /// Writes the counters if they changed since the last write.
    pub async fn flush(&self, store: &Store) {
        if !self.dirty.replace(false) {
            return;
        }
        let op = Op::SetState {
            key: STATE_KEY.into(),
            value: Some(self.encode()),
        };
        if let Err(e) = store.call(op).await {
            log::warn!("stats: saving the daily counters failed: {e}");
            self.dirty.set(true);
        }
    }
}

/// Writes changed counters every [`FLUSH`] (the server writes them once more as it stops).
pub async fn run_flusher(stats: Rc<Stats>, store: Store, shutdown: async_channel::Receiver<()>) {
    loop {
        let stop = futures_lite::future::or(
            async {
                async_io::Timer::after(FLUSH).await;
                false
            },
            async {
                let _ = shutdown.recv().await;
                true
            },
        )
        .await;
        stats.flush(&store).await;
        if stop {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_round_trip_through_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb"), 1 << 20).unwrap();
        let s = Stats::load(&store);
        s.count(Event::Received);
        s.count(Event::Received);
        s.count(Event::Sent);
        s.count(Event::Refused);
        let last = s.last(7);
        assert_eq!(last.len(), 7);
        assert_eq!(
            last[6].1,
            Day {
                received: 2,
                sent: 1,
                refused: 1
            }
        );
        assert_eq!(last[0].1, Day::default());
        futures_lite::future::block_on(s.flush(&store));
        assert_eq!(Stats::load(&store).last(1), s.last(1));
        store.close();
    }
}

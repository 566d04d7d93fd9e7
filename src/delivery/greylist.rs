//! Greylisting (RFC 6647), optional and off by default: the first delivery attempt of a new
//! (client network, sender, recipient) triplet is answered 451 4.7.1; a retry after
//! `greylist.delay_secs` passes, and its client network then passes without delay for
//! `greylist.pass_days` (automatic whitelisting: a real MTA that retried once will retry again).
//!
//! Invariants: only the MX role greylists (never an authenticated submission); the client
//! network is the /24 (IPv4) or /64 (IPv6), so a sender's pool of outbound servers counts as
//! one; a store fault lets the message through (it is a spam defence, not a delivery guarantee)
//! and is logged.

use crate::config::Config;
use crate::store::{Done, Op, Store, greylist::GreylistCheck};
use std::net::IpAddr;

/// What to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Greylist {
    /// Go on with the recipient.
    Pass,
    /// Answer 451 4.7.1; the client may retry after this many seconds.
    Defer(u64),
}

/// The client network as greylisting sees it.
pub fn network(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// Decides one recipient of an inbound message.
pub async fn check(
    store: &Store,
    cfg: &Config,
    client: IpAddr,
    sender: &str,
    recipient: &str,
    now: u64,
) -> Greylist {
    if !cfg.greylist_enabled {
        return Greylist::Pass;
    }
    match decide(store, cfg, client, sender, recipient, now).await {
        Ok(g) => g,
        Err(e) => {
            log::warn!("greylisting unavailable, letting the message through: {e}");
            Greylist::Pass
        }
    }
}

async fn decide(
    store: &Store,
    cfg: &Config,
    client: IpAddr,
    sender: &str,
    recipient: &str,
    now: u64,
) -> crate::store::Result<Greylist> {
    let check = GreylistCheck {
        network: network(client),
        sender: sender.to_string(),
        recipient: recipient.to_string(),
        now,
        delay_secs: cfg.greylist_delay_secs,
        expire_secs: cfg.greylist_expire_secs,
        pass_secs: cfg.greylist_pass_days.saturating_mul(86_400),
        max_entries: cfg.greylist_max_entries,
    };
    Ok(match store.call(Op::Greylist(check)).await? {
        Done::Greylist(Some(secs)) => Greylist::Defer(secs),
        _ => Greylist::Pass,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_are_slash_24_and_slash_64() {
        assert_eq!(network("192.0.2.77".parse().unwrap()), "192.0.2.0/24");
        assert_eq!(
            network("2001:db8:1:2:3:4:5:6".parse().unwrap()),
            "2001:db8:1:2::/64"
        );
    }
}

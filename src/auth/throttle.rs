//! Failure throttling: bounded in-memory tables of recent login failures, one keyed by client
//! network and one by account, deciding whether an attempt must wait or is refused outright.
//!
//! Pure bookkeeping: the caller passes the current [`Instant`], so the schedule is tested without
//! sleeping. Invariants:
//! - A table never holds more than its `max_entries`; when full, entries whose failures are
//!   already forgiven go first, then those whose last failure is oldest.
//! - Failures are forgiven `block` after the last one, so a block lasts `block` from the failure
//!   that crossed the threshold and the counter starts afresh after it. Refused attempts are not
//!   failures: they neither extend a block nor count towards one.
//! - IPv6 clients are counted per /64 (one customer's prefix), IPv4-mapped IPv6 as IPv4.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

/// The throttling numbers for one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Failures that block the key.
    pub max_failures: u32,
    /// Failures answered without a delay before the next attempt.
    pub free_failures: u32,
    /// Delay after the first failure past the free ones; doubles with each further failure.
    pub delay_base: Duration,
    /// Longest delay.
    pub delay_max: Duration,
    /// How long a block lasts, and how long a failure is remembered.
    pub block: Duration,
    /// Entries kept at most.
    pub max_entries: usize,
}

impl Limits {
    /// The delay owed after `failures` recent failures: 0 for the free ones, then `delay_base`,
    /// twice that, four times that…, at most `delay_max`.
    pub fn delay(&self, failures: u32) -> Duration {
        if failures <= self.free_failures {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free_failures - 1).min(31);
        self.delay_base
            .saturating_mul(1u32 << doublings)
            .min(self.delay_max)
    }
}

/// What a table says about the next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Go ahead after waiting this long (zero: at once).
    Wait(Duration),
    /// Refused until the block expires.
    Blocked,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: Instant,
}

/// Recent failures per key, bounded.
#[derive(Debug)]
pub(crate) struct Table<K> {
    entries: HashMap<K, Entry>,
}

impl<K> Default for Table<K> {
    fn default() -> Self {
        Table {
            entries: HashMap::new(),
        }
    }
}

impl<K: Eq + Hash + Clone> Table<K> {
    /// Failures of `key` not yet forgiven at `now`.
    fn live(e: &Entry, now: Instant, limits: &Limits) -> bool {
        now.saturating_duration_since(e.last_failure) < limits.block
    }

    /// Whether `key` may try at `now`, and after what wait.
    pub fn gate(&self, key: &K, now: Instant, limits: &Limits) -> Gate {
        match self.entries.get(key) {
            Some(e) if Self::live(e, now, limits) => {
                if e.failures >= limits.max_failures {
                    Gate::Blocked
                } else {
                    let due = e.last_failure + limits.delay(e.failures);
                    Gate::Wait(due.saturating_duration_since(now))
                }
            }
            _ => Gate::Wait(Duration::ZERO),
        }
    }

    /// Records a failure of `key` at `now`; true if it blocks the key.
    pub fn fail(&mut self, key: K, now: Instant, limits: &Limits) -> bool {
        if !self.entries.contains_key(&key) && self.entries.len() >= limits.max_entries {
            self.make_room(now, limits);
        }
        let e = self.entries.entry(key).or_insert(Entry {
            failures: 0,
            last_failure: now,
        });
        if !Self::live(e, now, limits) {
            e.failures = 0;
        }
        e.failures = e.failures.saturating_add(1);
        e.last_failure = now;
        e.failures >= limits.max_failures
    }

    /// Moves the last failure of `key` to `now` (the failure was charged before its answer;
    /// delays and blocks count from the answer).
    pub fn touch(&mut self, key: &K, now: Instant) {
        if let Some(e) = self.entries.get_mut(key) {
            e.last_failure = e.last_failure.max(now);
        }
    }

    /// Forgets `key` (after a successful login).
    pub fn clear(&mut self, key: &K) {
        self.entries.remove(key);
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Drops forgiven entries, then the oldest, until one more fits.
    fn make_room(&mut self, now: Instant, limits: &Limits) {
        self.entries.retain(|_, e| Self::live(e, now, limits));
        let keep = limits.max_entries.saturating_sub(1);
        if self.entries.len() > keep {
            let mut by_age: Vec<(Instant, K)> = self
                .entries
                .iter()
                .map(|(k, e)| (e.last_failure, k.clone()))
                .collect();
            by_age.sort_unstable_by_key(|(t, _)| *t);
            let excess = self.entries.len() - keep;
            for (_, k) in by_age.into_iter().take(excess) {
                self.entries.remove(&k);
            }
        }
    }
}

/// The key a client address is counted under: IPv4 as is, IPv6 by its /64 prefix.
pub(crate) fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_failures: 5,
            free_failures: 2,
            delay_base: Duration::from_secs(1),
            delay_max: Duration::from_secs(4),
            block: Duration::from_secs(60),
            max_entries: 4,
        }
    }

    #[test]
    fn delay_grows_and_is_capped() {
        let l = limits();
        let secs: Vec<u64> = (0..8).map(|n| l.delay(n).as_secs()).collect();
        assert_eq!(secs, [0, 0, 0, 1, 2, 4, 4, 4]);
        let huge = Limits {
            delay_max: Duration::MAX,
            ..l
        };
        assert_eq!(huge.delay(u32::MAX), Duration::from_secs(1 << 31));
    }

    #[test]
    fn waits_count_from_the_last_failure() {
        let l = limits();
        let t0 = Instant::now();
        let mut t = Table::default();
        for _ in 0..3 {
            t.fail("a", t0, &l);
        }
        assert_eq!(t.gate(&"a", t0, &l), Gate::Wait(Duration::from_secs(1)));
        assert_eq!(
            t.gate(&"a", t0 + Duration::from_millis(400), &l),
            Gate::Wait(Duration::from_millis(600))
        );
        assert_eq!(
            t.gate(&"a", t0 + Duration::from_secs(5), &l),
            Gate::Wait(Duration::ZERO)
        );
        assert_eq!(t.gate(&"b", t0, &l), Gate::Wait(Duration::ZERO));
        t.touch(&"a", t0 + Duration::from_secs(5));
        assert_eq!(
            t.gate(&"a", t0 + Duration::from_secs(5), &l),
            Gate::Wait(Duration::from_secs(1))
        );
        t.touch(&"b", t0);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn blocks_at_the_threshold_until_forgiven() {
        let l = limits();
        let t0 = Instant::now();
        let mut t = Table::default();
        for i in 1..=5 {
            assert_eq!(t.fail("a", t0, &l), i == 5);
        }
        assert_eq!(
            t.gate(&"a", t0 + Duration::from_secs(59), &l),
            Gate::Blocked
        );
        let later = t0 + Duration::from_secs(60);
        assert_eq!(t.gate(&"a", later, &l), Gate::Wait(Duration::ZERO));
        // The counter starts afresh after the block.
        assert!(!t.fail("a", later, &l));
        assert_eq!(t.gate(&"a", later, &l), Gate::Wait(Duration::ZERO));
        t.clear(&"a");
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn stays_bounded_and_evicts_forgiven_then_oldest() {
        let l = limits();
        let t0 = Instant::now();
        let mut t = Table::default();
        for (i, k) in ["a", "b", "c", "d"].into_iter().enumerate() {
            t.fail(k, t0 + Duration::from_secs(i as u64), &l);
        }
        assert_eq!(t.len(), 4);
        t.fail("e", t0 + Duration::from_secs(10), &l);
        assert_eq!(t.len(), 4);
        assert_eq!(
            t.gate(&"a", t0 + Duration::from_secs(10), &l),
            Gate::Wait(Duration::ZERO)
        );
        // At 62 s "b" (61 s old) is forgiven and makes the room; live entries stay.
        let late = t0 + Duration::from_secs(62);
        t.fail("c", late, &l);
        t.fail("f", late, &l);
        assert_eq!(t.len(), 4);
        for live in ["c", "d", "e", "f"] {
            assert!(t.entries.contains_key(live), "{live}");
        }
        assert!(!t.entries.contains_key("b"));
        // A smaller bound (settings changed) is honoured at the next insert.
        let small = Limits {
            max_entries: 2,
            ..l
        };
        t.fail("g", late, &small);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn counts_ipv6_per_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(network_of(a), network_of(b));
        assert_ne!(network_of(a), network_of(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(network_of(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }
}

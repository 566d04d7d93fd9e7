//! A bounded TTL cache of lookup results, keyed by (lowercased name, type). Sans-IO: the caller
//! passes the current time, so tests drive the clock.
//!
//! Invariants: at most `max_entries` entries, ever; every TTL is clamped to `[min_ttl, max_ttl]`
//! (negative ones to `[min_ttl, max_negative_ttl]`); only answers that are facts are cached —
//! records, NXDOMAIN and NODATA (RFC 2308) — never temporary failures; an expired entry is never
//! returned.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{Error, RecordType, Records};

/// Sizes and TTL bounds of a [`Cache`].
#[derive(Debug, Clone)]
pub struct CacheLimits {
    /// Entry count limit; 0 disables caching.
    pub max_entries: usize,
    /// Shortest time anything is kept.
    pub min_ttl: Duration,
    /// Longest time records are kept, whatever their TTL.
    pub max_ttl: Duration,
    /// Negative TTL when the answer carried no SOA (RFC 2308 §5 says to not cache then; a short
    /// default still shields the servers from repeated lookups of one bad name).
    pub negative_default_ttl: Duration,
    /// Longest time a negative answer is kept (RFC 2308 §5 suggests one to three hours).
    pub max_negative_ttl: Duration,
}

impl Default for CacheLimits {
    fn default() -> Self {
        CacheLimits {
            max_entries: 1024,
            min_ttl: Duration::from_secs(5),
            max_ttl: Duration::from_secs(86_400),
            negative_default_ttl: Duration::from_secs(60),
            max_negative_ttl: Duration::from_secs(3 * 3600),
        }
    }
}

#[derive(Debug)]
struct Entry {
    value: Result<Records, Error>,
    expires: Instant,
}

/// The cache. Names passed in must already be normalized ([`super::normalize_name`]).
#[derive(Debug)]
pub struct Cache {
    limits: CacheLimits,
    map: HashMap<(String, RecordType), Entry>,
}

impl Cache {
    /// An empty cache.
    pub fn new(limits: CacheLimits) -> Cache {
        Cache {
            limits,
            map: HashMap::new(),
        }
    }

    /// Number of entries held, expired ones included until they are purged.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The cached result for (`name`, `rtype`) at `now`: records, or `NxDomain`/`NoRecords`.
    pub fn get(
        &mut self,
        name: &str,
        rtype: RecordType,
        now: Instant,
    ) -> Option<Result<Records, Error>> {
        let key = (name.to_owned(), rtype);
        match self.map.get(&key) {
            Some(e) if now < e.expires => Some(e.value.clone()),
            Some(_) => {
                self.map.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Caches records with the answer's TTL (the smallest TTL of the records and CNAMEs used).
    pub fn insert_records(&mut self, name: &str, records: Records, ttl_secs: u32, now: Instant) {
        let ttl = Duration::from_secs(u64::from(ttl_secs)).clamp(
            self.limits.min_ttl,
            self.limits.max_ttl.max(self.limits.min_ttl),
        );
        let rtype = records.record_type();
        self.insert(name, rtype, Ok(records), now, now + ttl);
    }

    /// Caches a negative answer (RFC 2308 §5). `soa_ttl` is min(SOA TTL, SOA MINIMUM) from the
    /// authority section, if the answer had one. Errors other than NXDOMAIN/NODATA are ignored.
    pub fn insert_negative(
        &mut self,
        name: &str,
        rtype: RecordType,
        error: Error,
        soa_ttl: Option<u32>,
        now: Instant,
    ) {
        if !error.is_not_found() {
            return;
        }
        let ttl = soa_ttl
            .map(|s| Duration::from_secs(u64::from(s)))
            .unwrap_or(self.limits.negative_default_ttl)
            .clamp(
                self.limits.min_ttl,
                self.limits.max_negative_ttl.max(self.limits.min_ttl),
            );
        self.insert(name, rtype, Err(error), now, now + ttl);
    }

    fn insert(
        &mut self,
        name: &str,
        rtype: RecordType,
        value: Result<Records, Error>,
        now: Instant,
        expires: Instant,
    ) {
        if self.limits.max_entries == 0 {
            return;
        }
        let key = (name.to_owned(), rtype);
        if !self.map.contains_key(&key) && self.map.len() >= self.limits.max_entries {
            self.make_room(now);
        }
        self.map.insert(key, Entry { value, expires });
    }

    /// Drops the entries expired at `now`; if none were, evicts the one that expires soonest.
    fn make_room(&mut self, now: Instant) {
        self.map.retain(|_, e| e.expires > now);
        if self.map.len() >= self.limits.max_entries
            && let Some(key) = self
                .map
                .iter()
                .min_by_key(|(_, e)| e.expires)
                .map(|(k, _)| k.clone())
        {
            self.map.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn limits(max_entries: usize) -> CacheLimits {
        CacheLimits {
            max_entries,
            min_ttl: Duration::from_secs(10),
            max_ttl: Duration::from_secs(100),
            negative_default_ttl: Duration::from_secs(30),
            max_negative_ttl: Duration::from_secs(50),
        }
    }

    fn a(last: u8) -> Records {
        Records::A(vec![Ipv4Addr::new(192, 0, 2, last)])
    }

    #[test]
    fn hit_until_ttl_then_miss() {
        let t0 = Instant::now();
        let mut c = Cache::new(limits(8));
        c.insert_records("x.example", a(1), 20, t0);
        assert_eq!(c.get("x.example", RecordType::A, t0), Some(Ok(a(1))));
        assert_eq!(c.get("x.example", RecordType::Aaaa, t0), None);
        let later = t0 + Duration::from_secs(19);
        assert_eq!(c.get("x.example", RecordType::A, later), Some(Ok(a(1))));
        assert_eq!(
            c.get("x.example", RecordType::A, t0 + Duration::from_secs(20)),
            None
        );
        assert!(c.is_empty(), "an expired entry is purged when seen");
    }

    #[test]
    fn ttls_are_clamped() {
        let t0 = Instant::now();
        let mut c = Cache::new(limits(8));
        c.insert_records("zero.example", a(1), 0, t0);
        c.insert_records("huge.example", a(2), u32::MAX, t0);
        let at = |s| t0 + Duration::from_secs(s);
        assert!(c.get("zero.example", RecordType::A, at(9)).is_some());
        assert!(c.get("zero.example", RecordType::A, at(10)).is_none());
        assert!(c.get("huge.example", RecordType::A, at(99)).is_some());
        assert!(c.get("huge.example", RecordType::A, at(100)).is_none());
    }

    #[test]
    fn negative_answers_use_the_soa_ttl_or_the_default() {
        let t0 = Instant::now();
        let at = |s| t0 + Duration::from_secs(s);
        let mut c = Cache::new(limits(8));
        c.insert_negative("nx.example", RecordType::Mx, Error::NxDomain, Some(40), t0);
        c.insert_negative("nd.example", RecordType::Mx, Error::NoRecords, None, t0);
        c.insert_negative(
            "big.example",
            RecordType::Mx,
            Error::NoRecords,
            Some(9999),
            t0,
        );
        c.insert_negative("sf.example", RecordType::Mx, Error::ServFail, Some(40), t0);
        assert_eq!(
            c.get("nx.example", RecordType::Mx, at(39)),
            Some(Err(Error::NxDomain))
        );
        assert_eq!(c.get("nx.example", RecordType::Mx, at(40)), None);
        assert_eq!(
            c.get("nd.example", RecordType::Mx, at(29)),
            Some(Err(Error::NoRecords))
        );
        assert_eq!(c.get("nd.example", RecordType::Mx, at(30)), None);
        assert!(c.get("big.example", RecordType::Mx, at(49)).is_some());
        assert!(c.get("big.example", RecordType::Mx, at(50)).is_none());
        assert_eq!(
            c.get("sf.example", RecordType::Mx, t0),
            None,
            "SERVFAIL is never cached"
        );
    }

    #[test]
    fn entry_count_is_bounded() {
        let t0 = Instant::now();
        let mut c = Cache::new(limits(3));
        for i in 0..10u8 {
            c.insert_records(&format!("h{i}.example"), a(i), 20 + u32::from(i), t0);
            assert!(c.len() <= 3);
        }
        // The ones expiring soonest went first; the newest are still there.
        assert!(c.get("h9.example", RecordType::A, t0).is_some());
        assert!(c.get("h0.example", RecordType::A, t0).is_none());
    }

    #[test]
    fn zero_entries_disables_caching() {
        let t0 = Instant::now();
        let mut c = Cache::new(limits(0));
        c.insert_records("x.example", a(1), 20, t0);
        assert!(c.get("x.example", RecordType::A, t0).is_none());
    }
}

//! The short-lived cache of successful password verifications (phones log in on every
//! connection; argon2 is deliberately slow).
//!
//! Invariants:
//! - An entry is keyed by HMAC-SHA-256, under a random key made when the process starts, of
//!   (normalised login, password, the stored PHC string it was verified against). Neither the
//!   password nor a plain hash of it is kept, and the key never leaves this process, so the
//!   table is useless to whoever reads the memory later.
//! - The PHC string in the key ties an entry to one stored hash: a password change (new hash,
//!   new salt) or a deleted user (no hash to read) misses, with nothing to invalidate.
//! - Entries live `ttl` from the verification that made them (a hit does not extend it) and the
//!   table holds at most `max_entries`; a zero of either turns the cache off.
//! - Lookups compare keyed MACs through a hash map: not constant-time, and needs not be, since
//!   nobody without the key can choose a MAC.

use crate::store::UserId;
use ring::hmac;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The MAC naming one (login, password, stored hash).
pub(crate) type Tag = [u8; 32];

#[derive(Debug, Clone, Copy)]
struct Entry {
    user: UserId,
    expires: Instant,
}

/// Recently verified credentials.
#[derive(Debug)]
pub(crate) struct Cache {
    key: hmac::Key,
    entries: HashMap<Tag, Entry>,
}

impl Cache {
    /// A cache with a fresh random key, or `None` if the OS has no randomness to give (then
    /// every login verifies).
    pub fn new() -> Option<Cache> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).ok()?;
        Some(Cache {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
            entries: HashMap::new(),
        })
    }

    /// The MAC of the three fields, each length-prefixed so no two triples share an input.
    pub fn tag(&self, login: &str, password: &str, phc: &str) -> Tag {
        let mut ctx = hmac::Context::with_key(&self.key);
        for field in [login, password, phc] {
            ctx.update(&(field.len() as u64).to_be_bytes());
            ctx.update(field.as_bytes());
        }
        let mut tag = [0u8; 32];
        tag.copy_from_slice(ctx.sign().as_ref());
        tag
    }

    /// Whether `tag` was verified for `user` and has not expired at `now`.
    pub fn hit(&mut self, tag: &Tag, user: UserId, now: Instant) -> bool {
        match self.entries.get(tag) {
            Some(e) if now < e.expires => e.user == user,
            Some(_) => {
                self.entries.remove(tag);
                false
            }
            None => false,
        }
    }

    /// Remembers a successful verification until `now + ttl`.
    pub fn insert(
        &mut self,
        tag: Tag,
        user: UserId,
        now: Instant,
        ttl: Duration,
        max_entries: usize,
    ) {
        if ttl.is_zero() || max_entries == 0 {
            self.entries.clear();
            return;
        }
        if !self.entries.contains_key(&tag) && self.entries.len() >= max_entries {
            self.entries.retain(|_, e| now < e.expires);
            // Entries all share one ttl, so the soonest to expire is the oldest.
            let keep = max_entries - 1;
            if self.entries.len() > keep {
                let mut by_age: Vec<(Instant, Tag)> =
                    self.entries.iter().map(|(t, e)| (e.expires, *t)).collect();
                by_age.sort_unstable_by_key(|(t, _)| *t);
                let excess = self.entries.len() - keep;
                for (_, t) in by_age.into_iter().take(excess) {
                    self.entries.remove(&t);
                }
            }
        }
        self.entries.insert(
            tag,
            Entry {
                user,
                expires: now + ttl,
            },
        );
    }

    /// Forgets everything (the cache was turned off).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHC: &str = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g";

    #[test]
    fn tags_depend_on_every_field_and_the_process_key() {
        let c = Cache::new().unwrap();
        let t = c.tag("a@example.test", "pw", PHC);
        assert_eq!(t, c.tag("a@example.test", "pw", PHC));
        assert_ne!(t, c.tag("a@example.test", "pw2", PHC));
        assert_ne!(t, c.tag("b@example.test", "pw", PHC));
        assert_ne!(t, c.tag("a@example.test", "pw", "$argon2id$other"));
        // Length prefixes: moving bytes between fields changes the tag.
        assert_ne!(c.tag("ab", "c", PHC), c.tag("a", "bc", PHC));
        // Another process (another key) cannot reproduce it.
        assert_ne!(t, Cache::new().unwrap().tag("a@example.test", "pw", PHC));
    }

    #[test]
    fn entries_expire_and_stay_bounded() {
        let mut c = Cache::new().unwrap();
        let t0 = Instant::now();
        let ttl = Duration::from_secs(10);
        let tag = c.tag("a", "pw", PHC);
        c.insert(tag, UserId(1), t0, ttl, 2);
        assert!(c.hit(&tag, UserId(1), t0 + Duration::from_secs(9)));
        assert!(!c.hit(&tag, UserId(2), t0));
        assert!(!c.hit(&tag, UserId(1), t0 + ttl));
        assert_eq!(c.len(), 0);
        for (i, login) in ["a", "b", "c"].into_iter().enumerate() {
            let tag = c.tag(login, "pw", PHC);
            c.insert(tag, UserId(1), t0 + Duration::from_secs(i as u64), ttl, 2);
        }
        assert_eq!(c.len(), 2);
        assert!(!c.hit(&c.tag("a", "pw", PHC), UserId(1), t0));
        assert!(c.hit(&c.tag("c", "pw", PHC), UserId(1), t0));
        c.insert(tag, UserId(1), t0, Duration::ZERO, 2);
        assert_eq!(c.len(), 0);
    }
}

//! Web sessions and CSRF tokens.
//!
//! A login creates a session: 32 random bytes, sent as the cookie [`COOKIE`] (`HttpOnly`,
//! `Secure`, `SameSite=Strict`, RFC 6265bis §4.1.2.7) and kept here in memory with who logged in
//! and when. Sessions end on logout, after `web.session_idle_secs` unused, after
//! `web.session_max_secs` in all, when the user's password changes, and when the server
//! restarts (logging in again is the only cost).
//!
//! CSRF: every form carries a token that is an HMAC of the cookie it was rendered for (the
//! session cookie, or before login the [`PRE_COOKIE`] set with the login and setup forms), under a
//! key made at start; a POST is accepted only when its token matches the cookie it came with
//! (compared in constant time). No token is stored, so pre-login forms cost no memory.
//!
//! Invariants: at most `web.max_sessions` sessions (the least recently used are dropped first);
//! cookie values are never logged; the table is only touched on the executor thread.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The session cookie's name.
pub const COOKIE: &str = "mn_session";
/// The cookie that anchors CSRF tokens of forms shown before login.
pub const PRE_COOKIE: &str = "mn_pre";

/// One logged-in user.
#[derive(Debug, Clone)]
pub struct Session {
    /// The login (a mail user's address).
    pub email: String,
    /// Whether they administer the box (`web.admins` at login).
    pub admin: bool,
    /// The password was right but the second factor (a TOTP code) is still owed: such a
    /// session only opens the code page.
    pub code_due: bool,
    /// Wrong codes entered in this session.
    pub code_failures: u32,
    /// A TOTP secret shown for enrolment, not yet confirmed with a code.
    pub enrolling: Option<Vec<u8>>,
    created: Instant,
    last_seen: Instant,
}

/// Session lifetimes and count.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Unused this long: ended.
    pub idle: Duration,
    /// This long after login: ended.
    pub max: Duration,
    /// Most sessions kept.
    pub count: usize,
}

/// The sessions of one server, and the CSRF key.
#[derive(Debug)]
pub struct Sessions {
    table: HashMap<String, Session>,
    key: ring::hmac::Key,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions::new()
    }
}

/// A fresh random token, base64url without padding.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    // Without OS randomness nothing secure can be made: fail loudly rather than predictably.
    getrandom::fill(&mut b).expect("OS randomness for a session token");
    crate::base64::encode_url(&b)
}

/// Whether two secrets are equal, in time that depends only on their lengths.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Sessions {
    /// An empty table with a new CSRF key.
    pub fn new() -> Sessions {
        let mut k = [0u8; 32];
        getrandom::fill(&mut k).expect("OS randomness for the CSRF key");
        Sessions {
            table: HashMap::new(),
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &k),
        }
    }

    /// Starts a session for `email` (`code_due`: a TOTP code must still be entered); returns
    /// the cookie value.
    pub fn create(
        &mut self,
        email: &str,
        admin: bool,
        code_due: bool,
        now: Instant,
        limits: &Limits,
    ) -> String {
        self.expire(now, limits);
        while self.table.len() >= limits.count.max(1) {
            let oldest = self
                .table
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => self.table.remove(&k),
                None => break,
            };
        }
        let id = random_token();
        self.table.insert(
            id.clone(),
            Session {
                email: email.to_string(),
                admin,
                code_due,
                code_failures: 0,
                enrolling: None,
                created: now,
                last_seen: now,
            },
        );
        id
    }

    /// The live session of cookie value `id`, marked used.
    pub fn get(&mut self, id: &str, now: Instant, limits: &Limits) -> Option<Session> {
        let s = self.table.get_mut(id)?;
        let alive = now.duration_since(s.last_seen) < limits.idle
            && now.duration_since(s.created) < limits.max;
        if !alive {
            self.table.remove(id);
            return None;
        }
        s.last_seen = now;
        Some(s.clone())
    }

    /// Changes session `id` in place (no-op if it is gone).
    pub fn update(&mut self, id: &str, change: impl FnOnce(&mut Session)) {
        if let Some(s) = self.table.get_mut(id) {
            change(s);
        }
    }

    /// Ends session `id`.
    pub fn end(&mut self, id: &str) {
        self.table.remove(id);
    }

    /// Ends every session of `email` except `keep`.
    pub fn end_user(&mut self, email: &str, keep: Option<&str>) {
        self.table
            .retain(|id, s| s.email != email || Some(id.as_str()) == keep);
    }

    /// Drops sessions past their limits.
    fn expire(&mut self, now: Instant, limits: &Limits) {
        self.table.retain(|_, s| {
            now.duration_since(s.last_seen) < limits.idle
                && now.duration_since(s.created) < limits.max
        });
    }

    /// How many sessions are kept.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether no session is kept.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The CSRF token for forms shown to the holder of cookie value `anchor`.
    pub fn csrf_token(&self, anchor: &str) -> String {
        let tag = ring::hmac::sign(&self.key, anchor.as_bytes());
        crate::base64::encode_url(&tag.as_ref()[..24])
    }

    /// Whether `token` is the CSRF token of cookie value `anchor` (constant time).
    pub fn csrf_ok(&self, anchor: &str, token: &str) -> bool {
        same(&self.csrf_token(anchor), token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits {
        idle: Duration::from_secs(60),
        max: Duration::from_secs(600),
        count: 3,
    };

    #[test]
    fn lifetimes_and_bounds() {
        let mut s = Sessions::new();
        let t0 = Instant::now();
        let a = s.create("a@x.test", true, false, t0, &L);
        assert_eq!(
            s.get(&a, t0 + Duration::from_secs(30), &L).unwrap().email,
            "a@x.test"
        );
        // Used at 30 s, so still alive at 80 s; idle past 60 s after that, gone.
        assert!(s.get(&a, t0 + Duration::from_secs(80), &L).is_some());
        assert!(s.get(&a, t0 + Duration::from_secs(141), &L).is_none());
        // The absolute limit holds however busy the session is.
        let b = s.create("b@x.test", false, false, t0, &L);
        for i in 1..=20 {
            let now = t0 + Duration::from_secs(i * 30);
            assert_eq!(s.get(&b, now, &L).is_some(), i * 30 < 600, "{i}");
        }
        // At most `count`; the least recently used goes.
        let ids: Vec<String> = (0..4)
            .map(|i| {
                s.create(
                    &format!("u{i}@x.test"),
                    false,
                    false,
                    t0 + Duration::from_secs(i),
                    &L,
                )
            })
            .collect();
        assert_eq!(s.len(), 3);
        assert!(s.get(&ids[0], t0 + Duration::from_secs(5), &L).is_none());
        s.end_user("u2@x.test", None);
        assert!(s.get(&ids[2], t0 + Duration::from_secs(5), &L).is_none());
        s.end(&ids[3]);
        assert!(s.get(&ids[3], t0 + Duration::from_secs(5), &L).is_none());
        assert_ne!(random_token(), random_token());
    }

    #[test]
    fn csrf_tokens() {
        let s = Sessions::new();
        let t = s.csrf_token("cookie-1");
        assert!(s.csrf_ok("cookie-1", &t));
        assert!(!s.csrf_ok("cookie-2", &t));
        assert!(!s.csrf_ok("cookie-1", ""));
        assert!(!s.csrf_ok("cookie-1", &t[1..]));
        // Another server (another key) does not accept it.
        assert!(!Sessions::new().csrf_ok("cookie-1", &t));
    }
}

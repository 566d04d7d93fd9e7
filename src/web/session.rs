//! Web sessions and CSRF tokens.
//!
//! A login creates a session: 32 random bytes, sent as the cookie [`COOKIE`] (`HttpOnly`,
//! `Secure`, `SameSite=Strict`, RFC 6265bis §4.1.2.7) and kept here, in memory and in the
//! store's `STATE` table (key [`STATE_PREFIX`] + the SHA-256 of the cookie, never the cookie
//! itself), so a restart logs nobody out. Sessions end on logout, after
//! `web.session_idle_secs` unused (counted from the restart for restored ones), after
//! `web.session_max_secs` in all, and when the user's password changes. A login still owing its
//! second factor is kept in memory only.
//!
//! Changes to the stored sessions queue up here ([`Sessions::take_writes`]); the web page writes
//! them after each request, so this module stays free of I/O.
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

/// The `STATE` key prefix of stored sessions.
pub const STATE_PREFIX: &str = "web.session.";

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

impl Limits {
    /// The `web.session_*` and `web.max_sessions` settings.
    pub fn from_config(config: &crate::config::Config) -> Limits {
        Limits {
            idle: Duration::from_secs(config.web_session_idle_secs),
            max: Duration::from_secs(config.web_session_max_secs),
            count: config.web_max_sessions,
        }
    }
}

/// The sessions of one server, and the CSRF key.
#[derive(Debug)]
pub struct Sessions {
    /// By the SHA-256 (hex) of the cookie value.
    table: HashMap<String, Session>,
    key: ring::hmac::Key,
    /// Store writes owed: (`STATE` key, value or removal).
    writes: Vec<(String, Option<Vec<u8>>)>,
}

/// The table key of cookie value `id`.
fn hash_of(id: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, id.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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
    crate::auth::same_secret(a.as_bytes(), b.as_bytes())
}

impl Sessions {
    /// An empty table with a new CSRF key.
    pub fn new() -> Sessions {
        let mut k = [0u8; 32];
        getrandom::fill(&mut k).expect("OS randomness for the CSRF key");
        Sessions {
            table: HashMap::new(),
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &k),
            writes: Vec::new(),
        }
    }

    /// Takes the store writes owed since the last call.
    pub fn take_writes(&mut self) -> Vec<(String, Option<Vec<u8>>)> {
        std::mem::take(&mut self.writes)
    }

    /// Drops the session under table key `hash`, and its stored copy.
    fn remove(&mut self, hash: &str) {
        if let Some(s) = self.table.remove(hash)
            && !s.code_due
        {
            self.writes.push((format!("{STATE_PREFIX}{hash}"), None));
        }
    }

    /// Brings back sessions stored by an earlier run (`entries` as read from `STATE` with
    /// [`STATE_PREFIX`]); expired or unreadable ones are removed from the store.
    pub fn restore(
        &mut self,
        entries: Vec<(String, Vec<u8>)>,
        now: Instant,
        unix_now: u64,
        limits: &Limits,
    ) {
        for (key, value) in entries {
            let hash = key.trim_start_matches(STATE_PREFIX).to_string();
            let text = String::from_utf8_lossy(&value).into_owned();
            let mut parts = text.split(' ');
            let parsed = (|| {
                let created_unix: u64 = parts.next()?.parse().ok()?;
                let admin = parts.next()? == "1";
                let email = parts.next()?.to_string();
                Some((created_unix, admin, email))
            })();
            let age = parsed
                .as_ref()
                .map(|(c, _, _)| Duration::from_secs(unix_now.saturating_sub(*c)));
            match (parsed, age.and_then(|a| now.checked_sub(a).map(|c| (a, c)))) {
                (Some((_, admin, email)), Some((age, created)))
                    if age < limits.max && self.table.len() < limits.count =>
                {
                    self.table.insert(
                        hash,
                        Session {
                            email,
                            admin,
                            code_due: false,
                            code_failures: 0,
                            enrolling: None,
                            created,
                            last_seen: now,
                        },
                    );
                }
                _ => self.writes.push((key, None)),
            }
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
                Some(k) => self.remove(&k),
                None => break,
            };
        }
        let id = random_token();
        let hash = hash_of(&id);
        let created_unix = crate::time::unix_now();
        if !code_due {
            let value = format!("{created_unix} {} {email}", u8::from(admin));
            self.writes
                .push((format!("{STATE_PREFIX}{hash}"), Some(value.into_bytes())));
        }
        self.table.insert(
            hash,
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
        let hash = hash_of(id);
        let s = self.table.get_mut(&hash)?;
        let alive = now.duration_since(s.last_seen) < limits.idle
            && now.duration_since(s.created) < limits.max;
        if !alive {
            self.remove(&hash);
            return None;
        }
        s.last_seen = now;
        Some(s.clone())
    }

    /// Changes session `id` in place (no-op if it is gone).
    pub fn update(&mut self, id: &str, change: impl FnOnce(&mut Session)) {
        if let Some(s) = self.table.get_mut(&hash_of(id)) {
            change(s);
        }
    }

    /// Ends session `id`.
    pub fn end(&mut self, id: &str) {
        self.remove(&hash_of(id));
    }

    /// Ends every session of `email` except `keep`.
    pub fn end_user(&mut self, email: &str, keep: Option<&str>) {
        let keep = keep.map(hash_of);
        let gone: Vec<String> = self
            .table
            .iter()
            .filter(|(h, s)| s.email == email && Some(*h) != keep.as_ref())
            .map(|(h, _)| h.clone())
            .collect();
        for h in gone {
            self.remove(&h);
        }
    }

    /// Drops sessions past their limits.
    fn expire(&mut self, now: Instant, limits: &Limits) {
        let gone: Vec<String> = self
            .table
            .iter()
            .filter(|(_, s)| {
                now.duration_since(s.last_seen) >= limits.idle
                    || now.duration_since(s.created) >= limits.max
            })
            .map(|(h, _)| h.clone())
            .collect();
        for h in gone {
            self.remove(&h);
        }
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
    fn stored_sessions_come_back_and_leave_with_their_session() {
        let t0 = Instant::now() + Duration::from_secs(10_000);
        let mut a = Sessions::new();
        let id = a.create("a@x.test", true, false, t0, &L);
        let half = a.create("b@x.test", false, true, t0, &L);
        let writes = a.take_writes();
        // One stored session (the half-done login is not stored), keyed by a hash of the cookie.
        assert_eq!(writes.len(), 1, "{writes:?}");
        assert!(writes[0].0.starts_with(STATE_PREFIX) && !writes[0].0.contains(&id));
        // A restart: the session is back, the half-done login is not; a stale entry goes.
        let mut b = Sessions::new();
        let stale = (format!("{STATE_PREFIX}00"), b"1 1 old@x.test".to_vec());
        let entries = vec![
            (writes[0].0.clone(), writes[0].1.clone().unwrap()),
            stale.clone(),
        ];
        b.restore(entries, t0, crate::time::unix_now(), &L);
        let s = b.get(&id, t0, &L).expect("restored");
        assert_eq!((s.email.as_str(), s.admin), ("a@x.test", true));
        assert!(b.get(&half, t0, &L).is_none());
        assert_eq!(b.take_writes(), vec![(stale.0, None)]);
        // Ending it removes the stored copy.
        b.end(&id);
        assert_eq!(b.take_writes(), vec![(writes[0].0.clone(), None)]);
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

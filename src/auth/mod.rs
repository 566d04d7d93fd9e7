//! Authentication: the one login path shared by IMAP, POP3 and submission. It owns password
//! hashing and verification, the cache of recent verifications, failure throttling and the SASL
//! PLAIN/LOGIN decoders, and returns a [`Principal`] or an [`AuthFailure`].
//!
//! Invariants:
//! - Passwords never leave this module in clear: they arrive in a [`Secret`], are handed to the
//!   argon2 worker and to an HMAC, and are never logged, stored or kept. The cache holds keyed
//!   MACs only (`cache.rs`).
//! - Nothing here blocks the executor thread. argon2 runs through `blocking::unblock`, at most
//!   `auth.max_parallel_hashes` at once (each costs `auth.argon2_memory_kib`); delays are
//!   `async_io::Timer`s; the store is only read, in short read transactions never held across an
//!   `.await`; no `RefCell` borrow is held across an `.await` either.
//! - The argon2 permit travels with the hash to the worker thread and is released when the hash
//!   ends, not when the login is abandoned, and the attempt is counted as a failure before the
//!   hash starts (a success clears it): clients that hang up mid-login can neither stack hashes
//!   nor escape the throttle.
//! - Throttling comes first: a blocked client or account is refused before any store read or
//!   hash. Failures are counted per client network and per account in bounded tables
//!   (`throttle.rs`); a success clears both counters for that client and account.
//! - An unknown user costs what a wrong password costs: one verification against a dummy PHC
//!   string with the current parameters, counted and logged as a failure alike. Only the log
//!   tells them apart (`reason=no-such-user`); the client sees the same [`AuthFailure::Invalid`].
//!
//! Known limits: a blocked account also refuses its owner until the block expires (an attacker
//! can lock an account out for `auth.block_secs`; the account threshold is higher than the
//! per-client one so one misconfigured phone cannot do it alone), and a success from a client
//! clears that client's counter even if it failed for other accounts before.

pub mod app_passwords;
mod cache;
mod password;
pub mod sasl;
mod secret;
mod throttle;
pub mod totp;

pub use password::{
    MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS, PasswordError, check_policy, hash_password,
    verify_password,
};
pub use sasl::{SaslError, decode_plain};
pub use secret::{Secret, same_secret};

use crate::base64;
use crate::config::Config;
use crate::store::{Store, User, UserId};
use async_lock::Semaphore;
use cache::Cache;
use std::cell::{Cell, RefCell};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use throttle::{Gate, Limits, Table};

/// Who logged in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user's id.
    pub user: UserId,
    /// The user's address as stored (normalised).
    pub email: String,
}

/// Why a login failed. The text is safe to show a client; it names no policy or account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// Wrong password or no such user (deliberately the same). SMTP 535 5.7.8 (RFC 4954 §6),
    /// IMAP `NO [AUTHENTICATIONFAILED]` (RFC 5530 §3), POP3 `-ERR [AUTH]` (RFC 3206 §4).
    #[error("authentication failed")]
    Invalid,
    /// Too many failures from this client or for this account; refused without checking the
    /// password. SMTP 454 4.7.0 (RFC 4954 §6), IMAP `NO [UNAVAILABLE]` (RFC 5530 §3),
    /// POP3 `-ERR [SYS/TEMP]` (RFC 3206 §4).
    #[error("too many failed logins; try again later")]
    Blocked,
    /// The store could not be read; temporary, answered like [`AuthFailure::Blocked`].
    #[error("authentication temporarily unavailable")]
    Unavailable,
}

impl AuthFailure {
    /// Whether trying again later may succeed with the same credentials.
    pub fn is_temporary(self) -> bool {
        !matches!(self, AuthFailure::Invalid)
    }
}

/// Counters for the metrics page and for tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthStats {
    /// argon2 verifications run (including those against the dummy hash).
    pub verifications: u64,
    /// Logins answered from the cache.
    pub cache_hits: u64,
    /// Logins refused as [`AuthFailure::Invalid`].
    pub failures: u64,
    /// Logins refused as [`AuthFailure::Blocked`].
    pub blocked: u64,
    /// The most verifications seen running at once on worker threads.
    pub peak_parallel_verifications: usize,
}

/// The settings this module reads, typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Settings {
    ip: Limits,
    account: Limits,
    cache_ttl: Duration,
    cache_entries: usize,
    max_parallel_hashes: usize,
    argon2_memory_kib: u32,
    argon2_iterations: u32,
}

impl Settings {
    fn from_config(c: &Config) -> Settings {
        let limits = |max_failures| Limits {
            max_failures,
            free_failures: c.auth_free_failures,
            delay_base: Duration::from_millis(c.auth_delay_base_ms),
            delay_max: Duration::from_millis(c.auth_delay_max_ms),
            block: Duration::from_secs(c.auth_block_secs),
            max_entries: c.auth_throttle_entries,
        };
        Settings {
            ip: limits(c.auth_max_failures_per_ip),
            account: limits(c.auth_max_failures_per_account),
            cache_ttl: Duration::from_secs(c.auth_cache_secs),
            cache_entries: c.auth_cache_entries,
            max_parallel_hashes: c.auth_max_parallel_hashes.max(1),
            argon2_memory_kib: c.auth_argon2_memory_kib,
            argon2_iterations: c.auth_argon2_iterations,
        }
    }
}

/// Verifications running on worker threads now, and the most seen at once.
#[derive(Debug, Default)]
struct InFlight {
    now: AtomicUsize,
    peak: AtomicUsize,
}

/// Longest login name kept as a throttling key (RFC 5321 §4.5.3.1.3: a path is at most 256
/// octets).
const MAX_ACCOUNT_KEY_BYTES: usize = 256;
/// Characters of a login name shown in a log line.
const MAX_LOGGED_NAME_CHARS: usize = 64;

/// One attempt's names: how it is looked up, throttled and logged.
struct Attempt {
    /// The normalised address, if the name is one.
    email: Option<String>,
    /// Throttling key: the normalised address, or the lower-cased name, truncated.
    account: String,
    /// Client network (throttling key).
    network: IpAddr,
    /// Client address (logged).
    peer: IpAddr,
    /// Escaped, truncated name for log lines.
    shown: String,
}

impl Attempt {
    fn new(username: &str, peer: IpAddr) -> Attempt {
        let email = crate::message::address::normalize(username);
        let account = email.clone().unwrap_or_else(|| {
            let name = username.trim();
            let mut end = name.len().min(MAX_ACCOUNT_KEY_BYTES);
            while !name.is_char_boundary(end) {
                end -= 1;
            }
            name[..end].to_lowercase()
        });
        let mut shown: String = username
            .chars()
            .take(MAX_LOGGED_NAME_CHARS)
            .flat_map(char::escape_debug)
            .collect();
        if username.chars().nth(MAX_LOGGED_NAME_CHARS).is_some() {
            shown.push_str("...");
        }
        Attempt {
            email,
            account,
            network: throttle::network_of(peer),
            peer,
            shown,
        }
    }
}

/// The login service: one per server, on the executor thread, shared as `Rc<Authenticator>`.
pub struct Authenticator {
    settings: Cell<Settings>,
    by_ip: RefCell<Table<IpAddr>>,
    by_account: RefCell<Table<String>>,
    cache: RefCell<Option<Cache>>,
    hashes: RefCell<Arc<Semaphore>>,
    in_flight: Arc<InFlight>,
    /// Salt and output of the dummy PHC string unknown users are verified against.
    dummy: ([u8; 16], [u8; 32]),
    stats: Cell<AuthStats>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("settings", &self.settings.get())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator with the `auth.*` settings of `config` and a fresh cache key.
    pub fn new(config: &Config) -> Authenticator {
        let settings = Settings::from_config(config);
        let cache = Cache::new();
        if cache.is_none() {
            log::warn!("auth: no OS randomness for the login cache key; every login is verified");
        }
        // A random dummy per process; if randomness failed above it fails here too, and a fixed
        // dummy is as good (nobody can find a password for a given argon2 output).
        let mut dummy = ([0x5a; 16], [0xa5; 32]);
        let _ = getrandom::fill(&mut dummy.0);
        let _ = getrandom::fill(&mut dummy.1);
        Authenticator {
            settings: Cell::new(settings),
            by_ip: RefCell::default(),
            by_account: RefCell::default(),
            cache: RefCell::new(cache),
            hashes: RefCell::new(Arc::new(Semaphore::new(settings.max_parallel_hashes))),
            in_flight: Arc::default(),
            dummy,
            stats: Cell::default(),
        }
    }

    /// Applies changed settings. Counters and cached logins are kept (tables shrink at their next
    /// insert); a new parallelism cap applies to hashes started from now on.
    pub fn reconfigure(&self, config: &Config) {
        let new = Settings::from_config(config);
        let old = self.settings.replace(new);
        if new.max_parallel_hashes != old.max_parallel_hashes {
            *self.hashes.borrow_mut() = Arc::new(Semaphore::new(new.max_parallel_hashes));
        }
        if (new.cache_ttl.is_zero() || new.cache_entries == 0)
            && let Some(c) = self.cache.borrow_mut().as_mut()
        {
            c.clear();
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> AuthStats {
        let mut s = self.stats.get();
        s.peak_parallel_verifications = self.in_flight.peak.load(Ordering::Relaxed);
        s
    }

    fn count(&self, f: impl FnOnce(&mut AuthStats)) {
        let mut s = self.stats.get();
        f(&mut s);
        self.stats.set(s);
    }

    /// Checks `password` for `username` (a full address, any case) from `peer`, for a mail
    /// protocol: the main password or one of the user's app passwords.
    pub async fn login(
        &self,
        store: &Store,
        username: &str,
        password: &Secret<String>,
        peer: IpAddr,
    ) -> Result<Principal, AuthFailure> {
        self.login_with(store, username, password, peer, true).await
    }

    /// Like [`Authenticator::login`], with the main password only (the web page: app passwords
    /// are for mail programs).
    pub async fn login_main(
        &self,
        store: &Store,
        username: &str,
        password: &Secret<String>,
        peer: IpAddr,
    ) -> Result<Principal, AuthFailure> {
        self.login_with(store, username, password, peer, false)
            .await
    }

    /// Checks `password` for `username` from `peer`; `app_passwords` says whether the user's
    /// app passwords count.
    ///
    /// In order: refused at once if the client or the account is blocked; waits out the delay
    /// owed for recent failures; one store read, answered from the cache if these credentials
    /// were verified against this stored hash lately; otherwise waits for a verification slot,
    /// checks the block again and verifies off the executor thread.
    async fn login_with(
        &self,
        store: &Store,
        username: &str,
        password: &Secret<String>,
        peer: IpAddr,
        app_passwords: bool,
    ) -> Result<Principal, AuthFailure> {
        let attempt = Attempt::new(username, peer);
        let wait = self.gate(&attempt)?;
        if !wait.is_zero() {
            async_io::Timer::after(wait).await;
        }

        let user = self.read_user(store, &attempt)?;
        // App passwords carry 100 random bits: one SHA-256 per stored one, no argon2, no cache
        // (a revoked one must stop working at once).
        if app_passwords
            && let Some(user) = &user
            && self.app_password_matches(store, &attempt, user, password)?
        {
            return Ok(self.succeed(&attempt, user, false));
        }
        if let Some(user) = &user
            && self.cache_hit(&attempt, password, user)
        {
            self.count(|s| s.cache_hits += 1);
            return Ok(self.succeed(&attempt, user, true));
        }

        let semaphore = self.hashes.borrow().clone();
        let permit = semaphore.acquire_arc().await;
        // Failures recorded while this attempt queued may have blocked it since.
        self.gate(&attempt)?;
        // Read again: the hash may have changed while this attempt waited.
        let user = self.read_user(store, &attempt)?;
        let phc = match &user {
            Some(u) => u.row.password_hash.clone(),
            None => self.dummy_phc(),
        };
        // Charged before the hash, so a client that hangs up mid-hash is still counted; a
        // success clears the charge with the rest of the counters.
        let block = self.charge(&attempt);
        let matched = self.verify(password, phc.clone(), permit).await;
        match user {
            Some(user) if matched => {
                let settings = self.settings.get();
                if let Some(cache) = self.cache.borrow_mut().as_mut() {
                    let tag = cache.tag(&attempt.account, password.expose(), &phc);
                    cache.insert(
                        tag,
                        user.id,
                        Instant::now(),
                        settings.cache_ttl,
                        settings.cache_entries,
                    );
                }
                Ok(self.succeed(&attempt, &user, false))
            }
            Some(_) => Err(self.fail(&attempt, "bad-password", block)),
            None => Err(self.fail(&attempt, "no-such-user", block)),
        }
    }

    /// Refuses a blocked client or account (logged, counted); otherwise the delay owed.
    fn gate(&self, a: &Attempt) -> Result<Duration, AuthFailure> {
        let settings = self.settings.get();
        let now = Instant::now();
        let by_ip = self.by_ip.borrow().gate(&a.network, now, &settings.ip);
        let by_account = self
            .by_account
            .borrow()
            .gate(&a.account, now, &settings.account);
        let reason = match (by_ip, by_account) {
            (Gate::Wait(x), Gate::Wait(y)) => return Ok(x.max(y)),
            (Gate::Blocked, _) => "blocked-ip",
            (_, Gate::Blocked) => "blocked-account",
        };
        self.count(|s| s.blocked += 1);
        log::info!(target: "maillog", "auth failed ip={} user=\"{}\" reason={reason}", a.peer, a.shown);
        Err(AuthFailure::Blocked)
    }

    fn read_user(&self, store: &Store, a: &Attempt) -> Result<Option<User>, AuthFailure> {
        let Some(email) = &a.email else {
            return Ok(None);
        };
        store.user(email).map_err(|e| {
            log::warn!(target: "maillog", "auth unavailable ip={} user=\"{}\" error={e}", a.peer, a.shown);
            AuthFailure::Unavailable
        })
    }

    fn app_password_matches(
        &self,
        store: &Store,
        a: &Attempt,
        user: &User,
        password: &Secret<String>,
    ) -> Result<bool, AuthFailure> {
        let raw = store
            .state(&app_passwords::state_key(&user.row.email))
            .map_err(|e| {
                log::warn!(target: "maillog", "auth unavailable ip={} user=\"{}\" error={e}", a.peer, a.shown);
                AuthFailure::Unavailable
            })?;
        Ok(raw
            .is_some_and(|r| app_passwords::matches(&app_passwords::decode(&r), password.expose())))
    }

    fn cache_hit(&self, a: &Attempt, password: &Secret<String>, user: &User) -> bool {
        let mut cache = self.cache.borrow_mut();
        let Some(cache) = cache.as_mut() else {
            return false;
        };
        let tag = cache.tag(&a.account, password.expose(), &user.row.password_hash);
        cache.hit(&tag, user.id, Instant::now())
    }

    /// A PHC string with the current parameters that no password matches: verifying against it
    /// costs what verifying a real user's password costs.
    fn dummy_phc(&self) -> String {
        let s = self.settings.get();
        format!(
            "$argon2id$v=19$m={},t={},p=1${}${}",
            s.argon2_memory_kib,
            s.argon2_iterations,
            base64::encode(&self.dummy.0, false),
            base64::encode(&self.dummy.1, false),
        )
    }

    /// Runs argon2 on a worker thread; `permit` is released when the hash ends, even if this
    /// future is dropped first.
    async fn verify(
        &self,
        password: &Secret<String>,
        phc: String,
        permit: async_lock::SemaphoreGuardArc,
    ) -> bool {
        self.count(|s| s.verifications += 1);
        let password = password.clone();
        let in_flight = self.in_flight.clone();
        blocking::unblock(move || {
            let running = in_flight.now.fetch_add(1, Ordering::SeqCst) + 1;
            in_flight.peak.fetch_max(running, Ordering::SeqCst);
            let matched = verify_password(password.expose(), &phc);
            in_flight.now.fetch_sub(1, Ordering::SeqCst);
            drop(permit);
            matched
        })
        .await
    }

    fn succeed(&self, a: &Attempt, user: &User, cached: bool) -> Principal {
        self.by_ip.borrow_mut().clear(&a.network);
        self.by_account.borrow_mut().clear(&a.account);
        log::debug!(target: "maillog", "auth ok ip={} user=\"{}\" cached={cached}", a.peer, a.shown);
        Principal {
            user: user.id,
            email: user.row.email.clone(),
        }
    }

    /// Records a failure for the client and the account; says which of them it blocked.
    fn charge(&self, a: &Attempt) -> &'static str {
        let settings = self.settings.get();
        let now = Instant::now();
        let ip_blocked = self.by_ip.borrow_mut().fail(a.network, now, &settings.ip);
        let account_blocked =
            self.by_account
                .borrow_mut()
                .fail(a.account.clone(), now, &settings.account);
        match (ip_blocked, account_blocked) {
            (true, true) => " block=ip+account",
            (true, false) => " block=ip",
            (false, true) => " block=account",
            (false, false) => "",
        }
    }

    /// Counts and logs a failed verification (already charged); its delay starts now.
    fn fail(&self, a: &Attempt, reason: &str, block: &str) -> AuthFailure {
        let now = Instant::now();
        self.by_ip.borrow_mut().touch(&a.network, now);
        self.by_account.borrow_mut().touch(&a.account, now);
        self.count(|s| s.failures += 1);
        log::info!(target: "maillog", "auth failed ip={} user=\"{}\" reason={reason}{block}", a.peer, a.shown);
        AuthFailure::Invalid
    }

    /// Clients and accounts with failures on record (for the metrics page).
    pub fn tracked(&self) -> (usize, usize) {
        (self.by_ip.borrow().len(), self.by_account.borrow().len())
    }

    /// Verified logins cached now.
    pub fn cached(&self) -> usize {
        self.cache.borrow().as_ref().map_or(0, Cache::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dummy_phc_parses_with_the_current_parameters() {
        let auth = Authenticator::new(&Config::default());
        let dummy = auth.dummy_phc();
        let parsed = argon2::PasswordHash::new(&dummy).expect("a valid PHC string");
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert!(dummy.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let real = hash_password("some password", 1024, 1).unwrap();
        assert_eq!(
            dummy.len(),
            real.len() + "19456,t=2".len() - "1024,t=1".len()
        );
        assert!(!verify_password("some password", &dummy));
    }

    #[test]
    fn log_names_are_escaped_and_truncated() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let a = Attempt::new("Eve\"\n@Example.TEST", ip);
        assert_eq!(a.shown, "Eve\\\"\\n@Example.TEST");
        assert_eq!(a.email, None);
        let long = "x".repeat(300);
        let a = Attempt::new(&long, ip);
        assert_eq!(a.shown, format!("{}...", "x".repeat(64)));
        assert_eq!(a.account.len(), MAX_ACCOUNT_KEY_BYTES);
        let a = Attempt::new(" Alice@Example.TEST ", ip);
        assert_eq!(a.email.as_deref(), Some("alice@example.test"));
        assert_eq!(a.account, "alice@example.test");
    }
}

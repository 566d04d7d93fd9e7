//! The login path (`auth::Authenticator`) on a real store, driven the way the server drives it:
//! one `LocalExecutor` under `async_io::block_on`. Correct, wrong and unknown credentials; the
//! verification cache (its speed-up with the production argon2 parameters, and its invalidation
//! by a password change or a deleted user); the growing delays, the per-client and per-account
//! blocks and their expiry; the cap on verifications in flight, abandoned logins included; the
//! mail log; and the SASL PLAIN/LOGIN decoders against RFC 4616's examples and malformed input.
//!
//! Timing assertions are ratios or lower bounds (timers never fire early), never absolute upper
//! bounds on work, so a loaded machine slows the suite down without failing it.

use async_executor::LocalExecutor;
use mailnook::auth::sasl::{
    self, LOGIN_PASSWORD_CHALLENGE, LOGIN_USERNAME_CHALLENGE, SaslError, decode_login_password,
    decode_login_username, encode_base64,
};
use mailnook::auth::{AuthFailure, Authenticator, Secret, decode_plain, hash_password};
use mailnook::config::Config;
use mailnook::store::{Done, Op, Store};
use std::collections::BTreeMap;
use std::future::Future;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct-horse-9";
/// Cheap argon2 parameters for tests that are not about argon2's cost.
const CHEAP: (u32, u32) = (1024, 1);

/// A store on a temporary file with the domain example.test.
struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("mailnook-auth")
            .tempdir()
            .expect("tempdir");
        let store = Store::open(&dir.path().join("mail.redb"), 1 << 20).expect("open store");
        store
            .call_blocking(Op::AddDomain("example.test".into()))
            .expect("add domain");
        Fixture { _dir: dir, store }
    }

    /// Adds `email` with `password`, hashed with `(memory_kib, iterations)`.
    fn user(&self, email: &str, password: &str, params: (u32, u32)) {
        let password_hash = hash_password(password, params.0, params.1).unwrap();
        let done = self
            .store
            .call_blocking(Op::AddUser {
                email: email.into(),
                password_hash,
            })
            .expect("add user");
        assert!(matches!(done, Done::User(_)));
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.store.close();
    }
}

/// Settings: the defaults with `pairs` applied (each must validate).
fn config(pairs: &[(&str, &str)]) -> Config {
    let mut map = BTreeMap::new();
    for (k, v) in pairs {
        mailnook::config::validate(k, v).unwrap_or_else(|e| panic!("{k}={v}: {e}"));
        map.insert(k.to_string(), v.to_string());
    }
    Config::from_pairs(&map, mailnook::config::board::Detected::Unknown)
}

/// Settings for tests about the throttle: cheap argon2 and no delays unless asked.
fn quick(pairs: &[(&str, &str)]) -> Config {
    let mut all = vec![
        ("auth.argon2_memory_kib", "1024"),
        ("auth.argon2_iterations", "1"),
        ("auth.delay_base_ms", "0"),
    ];
    all.extend_from_slice(pairs);
    config(&all)
}

/// Runs `f` on a fresh `LocalExecutor`, as the server does.
fn run<T>(f: impl Future<Output = T>) -> T {
    let ex = LocalExecutor::new();
    async_io::block_on(ex.run(f))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn secret(s: &str) -> Secret<String> {
    Secret::new(s.to_string())
}

#[test]
fn correct_password_succeeds_with_the_stored_address() {
    let f = Fixture::new();
    f.user("alice@example.test", PASSWORD, CHEAP);
    let auth = Authenticator::new(&quick(&[]));
    let p = run(auth.login(
        &f.store,
        " Alice@EXAMPLE.test",
        &secret(PASSWORD),
        ip("192.0.2.1"),
    ))
    .expect("login");
    assert_eq!(p.email, "alice@example.test");
    let stats = auth.stats();
    assert_eq!((stats.verifications, stats.failures), (1, 0));
}

#[test]
fn wrong_password_and_unknown_user_fail_alike() {
    let f = Fixture::new();
    f.user("alice@example.test", PASSWORD, CHEAP);
    let auth = Authenticator::new(&quick(&[]));
    let peer = ip("192.0.2.1");
    let wrong = run(auth.login(&f.store, "alice@example.test", &secret("nope-nope"), peer));
    let unknown = run(auth.login(&f.store, "bob@example.test", &secret(PASSWORD), peer));
    let not_an_address = run(auth.login(&f.store, "alice", &secret(PASSWORD), peer));
    assert_eq!(wrong, Err(AuthFailure::Invalid));
    assert_eq!(unknown, Err(AuthFailure::Invalid));
    assert_eq!(not_an_address, Err(AuthFailure::Invalid));
    // Every one of them paid for one verification and counts as one failure.
    let stats = auth.stats();
    assert_eq!((stats.verifications, stats.failures), (3, 3));
    assert!(!AuthFailure::Invalid.is_temporary());
    assert!(AuthFailure::Blocked.is_temporary());
}

/// With the production argon2 parameters an unknown user takes as long as a wrong password
/// (measured interleaved, so machine load hits both alike).
#[test]
fn unknown_user_costs_the_same_as_a_wrong_password() {
    let f = Fixture::new();
    let defaults = Config::default();
    let prod = (
        defaults.auth_argon2_memory_kib,
        defaults.auth_argon2_iterations,
    );
    f.user("alice@example.test", PASSWORD, prod);
    let auth = Authenticator::new(&config(&[
        ("auth.delay_base_ms", "0"),
        ("auth.max_failures_per_ip", "1000"),
        ("auth.max_failures_per_account", "1000"),
    ]));
    let (mut wrong, mut unknown) = (Duration::ZERO, Duration::ZERO);
    run(async {
        for i in 0..4 {
            let peer = ip(&format!("192.0.2.{i}"));
            let t = Instant::now();
            let r = auth
                .login(&f.store, "alice@example.test", &secret("wrong-pass"), peer)
                .await;
            wrong += t.elapsed();
            assert_eq!(r, Err(AuthFailure::Invalid));
            let t = Instant::now();
            let r = auth
                .login(&f.store, "nobody@example.test", &secret("wrong-pass"), peer)
                .await;
            unknown += t.elapsed();
            assert_eq!(r, Err(AuthFailure::Invalid));
        }
    });
    let ratio = unknown.as_secs_f64() / wrong.as_secs_f64();
    eprintln!("wrong password {wrong:?}, unknown user {unknown:?} for 4 each: ratio {ratio:.2}");
    assert!(
        (0.5..2.0).contains(&ratio),
        "unknown user {unknown:?} vs wrong password {wrong:?}"
    );
}

/// Fifty logins answered from the cache against fifty verified ones, both with the production
/// argon2 parameters: the cached path must be at least 20 times cheaper.
#[test]
fn cached_logins_are_at_least_20_times_cheaper() {
    let f = Fixture::new();
    let defaults = Config::default();
    let prod = (
        defaults.auth_argon2_memory_kib,
        defaults.auth_argon2_iterations,
    );
    f.user("alice@example.test", PASSWORD, prod);
    let peer = ip("198.51.100.7");
    let pw = secret(PASSWORD);
    let time_50 = |auth: &Authenticator| {
        run(async {
            let t = Instant::now();
            for _ in 0..50 {
                auth.login(&f.store, "alice@example.test", &pw, peer)
                    .await
                    .expect("login");
            }
            t.elapsed()
        })
    };

    let uncached = Authenticator::new(&config(&[("auth.cache_secs", "0")]));
    let slow = time_50(&uncached);
    assert_eq!(uncached.stats().verifications, 50);
    assert_eq!(uncached.stats().cache_hits, 0);

    let cached = Authenticator::new(&Config::default());
    run(cached.login(&f.store, "alice@example.test", &pw, peer)).expect("first login");
    let fast = time_50(&cached);
    let stats = cached.stats();
    assert_eq!((stats.verifications, stats.cache_hits), (1, 50));
    assert_eq!(cached.cached(), 1);

    let ratio = slow.as_secs_f64() / fast.as_secs_f64();
    eprintln!(
        "50 verified logins {slow:?} ({:?} each), 50 cached {fast:?} ({:?} each): {ratio:.0}x",
        slow / 50,
        fast / 50
    );
    assert!(ratio >= 20.0, "cached {fast:?} vs verified {slow:?}");
}

#[test]
fn password_change_invalidates_the_cache() {
    let f = Fixture::new();
    f.user("alice@example.test", PASSWORD, CHEAP);
    let auth = Authenticator::new(&quick(&[]));
    let peer = ip("192.0.2.9");
    run(async {
        for _ in 0..2 {
            auth.login(&f.store, "alice@example.test", &secret(PASSWORD), peer)
                .await
                .expect("login");
        }
        assert_eq!(auth.stats().cache_hits, 1);
        let password_hash = hash_password("new-password-1", CHEAP.0, CHEAP.1).unwrap();
        f.store
            .call(Op::SetPassword {
                email: "alice@example.test".into(),
                password_hash,
            })
            .await
            .expect("set password");
        let old = auth
            .login(&f.store, "alice@example.test", &secret(PASSWORD), peer)
            .await;
        assert_eq!(old, Err(AuthFailure::Invalid));
        auth.login(
            &f.store,
            "alice@example.test",
            &secret("new-password-1"),
            peer,
        )
        .await
        .expect("new password");
    });
    let stats = auth.stats();
    // The old password was verified again (a miss), not answered from the cache.
    assert_eq!((stats.cache_hits, stats.verifications), (1, 3));
}

#[test]
fn deleted_user_is_not_served_from_the_cache() {
    let f = Fixture::new();
    f.user("alice@example.test", PASSWORD, CHEAP);
    let auth = Authenticator::new(&quick(&[]));
    let peer = ip("192.0.2.9");
    run(async {
        auth.login(&f.store, "alice@example.test", &secret(PASSWORD), peer)
            .await
            .expect("login");
        f.store
            .call(Op::DelUser("alice@example.test".into()))
            .await
            .expect("delete");
        let r = auth
            .login(&f.store, "alice@example.test", &secret(PASSWORD), peer)
            .await;
        assert_eq!(r, Err(AuthFailure::Invalid));
    });
    assert_eq!(auth.stats().cache_hits, 0);
}

/// Delays of 0, base, 2·base, 4·base, then capped, after one free failure. Each attempt's extra
/// time over an undelayed attempt is compared with the schedule.
#[test]
fn delays_grow_after_failures_and_are_capped() {
    let f = Fixture::new();
    f.user("alice@example.test", PASSWORD, CHEAP);
    let base = Duration::from_millis(150);
    let auth = Authenticator::new(&quick(&[
        ("auth.free_failures", "1"),
        ("auth.delay_base_ms", "150"),
        ("auth.delay_max_ms", "600"),
        ("auth.max_failures_per_ip", "100"),
        ("auth.max_failures_per_account", "100"),
    ]));
    let peer = ip("203.0.113.5");
    let took: Vec<Duration> = run(async {
        let mut took = Vec::new();
        for _ in 0..6 {
            let t = Instant::now();
            let r = auth
                .login(&f.store, "alice@example.test", &secret("wrong-pass"), peer)
                .await;
            took.push(t.elapsed());
            assert_eq!(r, Err(AuthFailure::Invalid));
        }
        took
    });
    eprintln!("attempt times: {took:?}");
    // Failures before attempt i: i. Owed delay: 0, 0, base, 2 base, 4 base, 4 base (cap).
    let owed = [0, 0, 1, 2, 4, 4].map(|k| base * k);
    for (i, (t, d)) in took.iter().zip(owed).enumerate() {
        assert!(*t >= d.mul_f64(0.95), "attempt {i} took {t:?}, owed {d:?}");
    }
    // Growth: each doubling step waits about twice the previous step's extra time. The extra time
    // is measured over the faster of the two undelayed attempts (the first may also pay for
    // warming caches on a busy machine).
    let undelayed = took[0].min(took[1]);
    let extra = |i: usize| took[i].saturating_sub(undelayed).as_secs_f64();
    for i in [3, 4] {
        let r = extra(i) / extra(i - 1);
        assert!((1.4..2.8).contains(&r), "step {i}: ratio {r:.2} ({took:?})");
    }
    // The cap: the last attempt waited about as long as the one before, not twice as long.
    let r = extra(5) / extra(4);
    assert!(
        (0.6..1.4).contains(&r),
        "capped step: ratio {r:.2} ({took:?})"
    );
}

#[test]
fn client_is_blocked_after_the_threshold_until_it_expires() {
    let f = Fixture::new();
    f.user("alice@example.test", PASSWORD, CHEAP);
    let auth = Authenticator::new(&quick(&[
        ("auth.max_failures_per_ip", "3"),
        ("auth.max_failures_per_account", "1000"),
        ("auth.block_secs", "1"),
    ]));
    let bad = ip("203.0.113.66");
    run(async {
        // Guessing different accounts from one client.
        for who in ["a", "b", "c"] {
            let r = auth
                .login(
                    &f.store,
                    &format!("{who}@example.test"),
                    &secret("guess-1234"),
                    bad,
                )
                .await;
            assert_eq!(r, Err(AuthFailure::Invalid));
        }
        let before = auth.stats().verifications;
        let t = Instant::now();
        let r = auth
            .login(&f.store, "alice@example.test", &secret(PASSWORD), bad)
            .await;
        let refused_in = t.elapsed();
        assert_eq!(
            r,
            Err(AuthFailure::Blocked),
            "blocked even with the password"
        );
        assert_eq!(
            auth.stats().verifications,
            before,
            "refused without hashing"
        );
        assert!(refused_in < Duration::from_millis(500), "{refused_in:?}");
        // The same /64 is the same client; another client is not affected.
        let r = auth
            .login(&f.store, "alice@example.test", &secret(PASSWORD), bad)
            .await;
        assert_eq!(r, Err(AuthFailure::Blocked));
        auth.login(
            &f.store,
            "alice@example.test",
            &secret(PASSWORD),
            ip("192.0.2.1"),
        )
        .await
        .expect("other client");
        // Refused attempts do not extend the block.
        async_io::Timer::after(Duration::from_millis(1100)).await;
        auth.login(&f.store, "alice@example.test", &secret(PASSWORD), bad)
            .await
            .expect("block expired");
    });
    assert_eq!(auth.stats().blocked, 2);
}

#[test]
fn ipv6_clients_are_counted_per_64() {
    let f = Fixture::new();
    f.user("alice@example.test", PASSWORD, CHEAP);
    let auth = Authenticator::new(&quick(&[
        ("auth.max_failures_per_ip", "2"),
        ("auth.max_failures_per_account", "1000"),
    ]));
    run(async {
        for peer in ["2001:db8:7:7::1", "2001:db8:7:7:ffff::2"] {
            let r = auth
                .login(&f.store, "x@example.test", &secret("guess-1234"), ip(peer))
                .await;
            assert_eq!(r, Err(AuthFailure::Invalid));
        }
        let r = auth
            .login(
                &f.store,
                "alice@example.test",
                &secret(PASSWORD),
                ip("2001:db8:7:7::99"),
            )
            .await;
        assert_eq!(r, Err(AuthFailure::Blocked));
        auth.login(
            &f.store,
            "alice@example.test",
            &secret(PASSWORD),
            ip("2001:db8:7:8::1"),
        )
        .await
        .expect("next /64");
    });
}

#[test]
fn account_is_blocked_independently_of_the_client() {
    let f = Fixture::new();
    f.user("alice@example.test", PASSWORD, CHEAP);
    f.user("bob@example.test", PASSWORD, CHEAP);
    let auth = Authenticator::new(&quick(&[
        ("auth.max_failures_per_ip", "1000"),
        ("auth.max_failures_per_account", "3"),
        ("auth.block_secs", "1"),
    ]));
    run(async {
        // A distributed guess: one attempt per client, all on alice (any case).
        for (i, name) in [
            "alice@example.test",
            "ALICE@example.test",
            "Alice@Example.Test",
        ]
        .into_iter()
        .enumerate()
        {
            let r = auth
                .login(
                    &f.store,
                    name,
                    &secret("guess-1234"),
                    ip(&format!("198.51.100.{i}")),
                )
                .await;
            assert_eq!(r, Err(AuthFailure::Invalid));
        }
        let fresh = ip("192.0.2.200");
        let before = auth.stats().verifications;
        let r = auth
            .login(&f.store, "alice@example.test", &secret(PASSWORD), fresh)
            .await;
        assert_eq!(r, Err(AuthFailure::Blocked));
        assert_eq!(
            auth.stats().verifications,
            before,
            "refused without hashing"
        );
        auth.login(&f.store, "bob@example.test", &secret(PASSWORD), fresh)
            .await
            .expect("other account, same client");
        async_io::Timer::after(Duration::from_millis(1100)).await;
        auth.login(&f.store, "alice@example.test", &secret(PASSWORD), fresh)
            .await
            .expect("block expired");
    });
}

#[test]
fn success_resets_the_counters() {
    let f = Fixture::new();
    f.user("alice@example.test", PASSWORD, CHEAP);
    let auth = Authenticator::new(&quick(&[
        ("auth.max_failures_per_ip", "3"),
        ("auth.max_failures_per_account", "3"),
    ]));
    let phone = ip("192.0.2.77");
    run(async {
        for _ in 0..3 {
            for _ in 0..2 {
                let r = auth
                    .login(&f.store, "alice@example.test", &secret("typo-typo"), phone)
                    .await;
                assert_eq!(r, Err(AuthFailure::Invalid));
            }
            assert_eq!(auth.tracked(), (1, 1));
            auth.login(&f.store, "alice@example.test", &secret(PASSWORD), phone)
                .await
                .expect("two failures never block, a success forgets them");
            assert_eq!(auth.tracked(), (0, 0));
        }
    });
}

/// Eight logins at once with a cap of N: never more than N verifications run together, and
/// with N = 2 both slots are used.
#[test]
fn verifications_in_flight_never_exceed_the_cap() {
    let f = Fixture::new();
    f.user("alice@example.test", PASSWORD, (4096, 1));
    for cap in [1usize, 2] {
        let auth = Rc::new(Authenticator::new(&quick(&[
            ("auth.max_parallel_hashes", &cap.to_string()),
            ("auth.cache_secs", "0"),
        ])));
        let ex = LocalExecutor::new();
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (auth, store) = (auth.clone(), f.store.clone());
                ex.spawn(async move {
                    let pw = if i % 2 == 0 { PASSWORD } else { "wrong-pass" };
                    let peer = ip(&format!("192.0.2.{i}"));
                    auth.login(&store, "alice@example.test", &secret(pw), peer)
                        .await
                        .is_ok()
                })
            })
            .collect();
        let ok = async_io::block_on(ex.run(async {
            let mut ok = 0;
            for t in tasks {
                ok += usize::from(t.await);
            }
            ok
        }));
        let stats = auth.stats();
        assert_eq!((ok, stats.verifications), (4, 8));
        assert_eq!(stats.peak_parallel_verifications, cap, "cap {cap}");
    }
}

/// Clients that hang up mid-login do not free their slot before their hash ends.
#[test]
fn abandoned_logins_keep_their_slot_until_the_hash_ends() {
    let f = Fixture::new();
    let defaults = Config::default();
    let prod = (
        defaults.auth_argon2_memory_kib,
        defaults.auth_argon2_iterations,
    );
    f.user("alice@example.test", PASSWORD, prod);
    let auth = Rc::new(Authenticator::new(&config(&[
        ("auth.max_parallel_hashes", "1"),
        ("auth.cache_secs", "0"),
        ("auth.delay_base_ms", "0"),
    ])));
    let ex = LocalExecutor::new();
    async_io::block_on(ex.run(async {
        for i in 0..4 {
            let (auth, store) = (auth.clone(), f.store.clone());
            let task = ex.spawn(async move {
                let peer = ip(&format!("192.0.2.{i}"));
                let _ = auth
                    .login(&store, "alice@example.test", &secret("wrong-pass"), peer)
                    .await;
            });
            // Let it reach the worker, then hang up.
            async_io::Timer::after(Duration::from_millis(30)).await;
            drop(task);
        }
        auth.login(
            &f.store,
            "alice@example.test",
            &secret(PASSWORD),
            ip("192.0.2.99"),
        )
        .await
        .expect("login");
    }));
    assert_eq!(auth.stats().peak_parallel_verifications, 1);
    // The attempt that reached its hash still counts against its client (the others were
    // abandoned before costing anything); the success cleared the account.
    assert_eq!(auth.tracked(), (1, 0));
}

/// A test logger collecting `maillog` lines from every test in this binary.
fn maillog() -> &'static Mutex<Vec<String>> {
    static LINES: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    struct Collect;
    impl log::Log for Collect {
        fn enabled(&self, m: &log::Metadata<'_>) -> bool {
            m.target() == "maillog"
        }
        fn log(&self, r: &log::Record<'_>) {
            if self.enabled(r.metadata()) {
                let line = format!("{} {}", r.level(), r.args());
                LINES.get().unwrap().lock().unwrap().push(line);
            }
        }
        fn flush(&self) {}
    }
    LINES.get_or_init(|| {
        log::set_boxed_logger(Box::new(Collect)).expect("no other logger");
        log::set_max_level(log::LevelFilter::Debug);
        Mutex::new(Vec::new())
    })
}

#[test]
fn failures_are_logged_once_without_the_password() {
    let lines = maillog();
    let f = Fixture::new();
    f.user("carol@example.test", PASSWORD, CHEAP);
    let auth = Authenticator::new(&quick(&[("auth.max_failures_per_ip", "2")]));
    let peer = ip("192.0.2.123");
    let secret_pw = "Sup3r-Secret-Guess";
    let evil = format!("carol\"\r\nforged line{}", "x".repeat(100));
    run(async {
        let r = auth.login(&f.store, &evil, &secret(secret_pw), peer).await;
        assert_eq!(r, Err(AuthFailure::Invalid));
        let r = auth
            .login(&f.store, "carol@example.test", &secret(secret_pw), peer)
            .await;
        assert_eq!(r, Err(AuthFailure::Invalid));
        let r = auth
            .login(&f.store, "carol@example.test", &secret(PASSWORD), peer)
            .await;
        assert_eq!(r, Err(AuthFailure::Blocked));
        auth.login(
            &f.store,
            "carol@example.test",
            &secret(PASSWORD),
            ip("192.0.2.124"),
        )
        .await
        .expect("login");
    });
    let lines = lines.lock().unwrap().clone();
    let ours: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("192.0.2.123") || l.contains("192.0.2.124"))
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| !l.contains(secret_pw) && !l.contains(PASSWORD))
    );
    assert_eq!(ours.len(), 4, "{ours:#?}");
    assert!(ours.iter().all(|l| !l.contains('\n') && !l.contains('\r')));
    assert!(
        ours[0].starts_with("INFO auth failed ip=192.0.2.123 user=\"carol\\\"\\r\\nforged line")
    );
    assert!(
        ours[0].contains("x...\" reason=no-such-user"),
        "{}",
        ours[0]
    );
    assert_eq!(
        ours[1],
        "INFO auth failed ip=192.0.2.123 user=\"carol@example.test\" reason=bad-password block=ip"
    );
    assert_eq!(
        ours[2],
        "INFO auth failed ip=192.0.2.123 user=\"carol@example.test\" reason=blocked-ip"
    );
    assert_eq!(
        ours[3],
        "DEBUG auth ok ip=192.0.2.124 user=\"carol@example.test\" cached=false"
    );
}

#[test]
fn secrets_are_redacted_in_debug_output() {
    let (_, _, password) = decode_plain(b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm").unwrap();
    assert_eq!(format!("{password:?}"), "<redacted>");
    let all = format!("{:?}", decode_plain(b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm"));
    assert!(!all.contains("tanstaaf"), "{all}");
}

#[test]
fn sasl_plain_rfc4616_examples() {
    // RFC 4616 §4: "\0tim\0tanstaaftanstaaf".
    let (authzid, authcid, password) = decode_plain(b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm").unwrap();
    assert_eq!((authzid.as_str(), authcid.as_str()), ("", "tim"));
    assert_eq!(password.expose(), "tanstaaftanstaaf");
    // RFC 4616 §4: Kurt asks to act as Ursel; proxy logins are refused.
    assert_eq!(
        decode_plain(b"VXJzZWwAS3VydAB4aXBqM3BsbXE=").unwrap_err(),
        SaslError::AuthzidMismatch
    );
    // An authzid naming the same account (any case) is the account itself.
    let b64 = encode_base64(b"Tim@Example.test\0tim@example.TEST\0pw");
    let (authzid, authcid, _) = decode_plain(b64.as_bytes()).unwrap();
    assert_eq!(
        (authzid.as_str(), authcid.as_str()),
        ("Tim@Example.test", "tim@example.TEST")
    );
    // UTF-8 identities and passwords (RFC 4616 §2 SAFE).
    let b64 = encode_base64("\0jörg@example.test\0pässwörd".as_bytes());
    let (_, authcid, password) = decode_plain(b64.as_bytes()).unwrap();
    assert_eq!(
        (authcid.as_str(), password.expose().as_str()),
        ("jörg@example.test", "pässwörd")
    );
    // 255 octets each must be accepted (RFC 4616 §2).
    let long = "a".repeat(255);
    let b64 = encode_base64(format!("{long}\0{long}\0{long}").as_bytes());
    assert!(decode_plain(b64.as_bytes()).is_ok());
}

#[test]
fn sasl_plain_refuses_malformed_responses() {
    let cases: &[(&[u8], SaslError)] = &[
        (b"*", SaslError::Cancelled),
        (b"", SaslError::Malformed),
        (b"!!!!", SaslError::Base64),
        (b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n", SaslError::Base64),
        (b"AHRpbQB0YW5zdGFhZnRhbnN0YWF", SaslError::Base64),
        (b"AHRpbQB0YW5z dGFhZnRhbnN0YWFm", SaslError::Base64),
        (b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm====", SaslError::Base64),
    ];
    for (input, want) in cases {
        assert_eq!(
            decode_plain(input).unwrap_err(),
            *want,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    let malformed: &[&[u8]] = &[
        b"tim\0pw",          // one NUL
        b"\0\0pw",           // empty authcid
        b"\0tim\0",          // empty password
        b"\0tim\0pw\0extra", // NUL inside the password
        b"no separators at all",
    ];
    for m in malformed {
        assert_eq!(
            decode_plain(encode_base64(m).as_bytes()).unwrap_err(),
            SaslError::Malformed,
            "{m:?}"
        );
    }
    assert_eq!(
        decode_plain(encode_base64(b"\0tim\0\xff\xfe").as_bytes()).unwrap_err(),
        SaslError::Utf8
    );
    assert_eq!(
        decode_plain(encode_base64(b"\0\xc3\0pw").as_bytes()).unwrap_err(),
        SaslError::Utf8
    );
    let huge = encode_base64(&vec![b'a'; sasl::MAX_RESPONSE_BYTES + 1]);
    assert_eq!(
        decode_plain(huge.as_bytes()).unwrap_err(),
        SaslError::TooLong
    );
}

#[test]
fn sasl_login_helpers() {
    assert_eq!(encode_base64(b"Username:"), LOGIN_USERNAME_CHALLENGE);
    assert_eq!(encode_base64(b"Password:"), LOGIN_PASSWORD_CHALLENGE);
    let user = decode_login_username(encode_base64(b"tim@example.test").as_bytes()).unwrap();
    assert_eq!(user, "tim@example.test");
    let pw = decode_login_password(encode_base64(b"tanstaaf").as_bytes()).unwrap();
    assert_eq!(pw.expose(), "tanstaaf");
    assert_eq!(
        decode_login_username(b"").unwrap_err(),
        SaslError::Malformed
    );
    assert_eq!(
        decode_login_password(b"*").unwrap_err(),
        SaslError::Cancelled
    );
    assert_eq!(
        decode_login_password(encode_base64(b"a\0b").as_bytes()).unwrap_err(),
        SaslError::Malformed
    );
}

/// The decoded SASL credentials feed the login path unchanged.
#[test]
fn plain_response_logs_in() {
    let f = Fixture::new();
    f.user("tim@example.test", "tanstaaftanstaaf", CHEAP);
    let auth = Authenticator::new(&quick(&[]));
    let b64 = encode_base64(b"\0Tim@example.test\0tanstaaftanstaaf");
    let (_, authcid, password) = decode_plain(b64.as_bytes()).unwrap();
    let p = run(auth.login(&f.store, &authcid, &password, ip("192.0.2.1"))).expect("login");
    assert_eq!(p.email, "tim@example.test");
}

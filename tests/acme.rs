//! The ACME client (RFC 8555) against Pebble, the ACME test server, all on 127.0.0.1: Pebble's
//! validation authority resolves the test names through the in-process DNS test server and
//! checks our answers on the ports of the responders started here (an HTTP-01 responder serving
//! `acme::http01_response`, a TLS listener using `acme::with_acme_alpn`), standing in for the web
//! server. Pebble rejects a share of good nonces, so `badNonce` retries are exercised on the way.
//!
//! End to end, the running server (ACME turned on with `mailnook config set`) gets its
//! certificate with Pebble validating on the server's own web ports, HTTP-01 on plain HTTP and
//! TLS-ALPN-01 on HTTPS, and then presents it.
//!
//! Pebble's own HTTPS certificate comes from a CA made here (the Debian package ships no test
//! certificates); the issued chain is checked against the root Pebble publishes on its
//! management interface.

mod common;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use mailnook::acme::{self, AcmeError, AcmeSettings, ChallengeKind, Challenges};
use mailnook::dns::testserver::{TestRecord, TestServer, Zone};
use mailnook::store::{Op, Store};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use std::cell::Cell;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

const NAME: &str = "mail.example.test";
const ALT: &str = "alt.example.test";

/// A free port on 127.0.0.1 (bound and released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running Pebble; killed when dropped.
struct Pebble {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    management: u16,
    _dns: TestServer,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Pebble {
    /// Starts Pebble validating on `http_port`/`tls_port`, or `None` if it is not installed
    /// (with MAILNOOK_ALLOW_SKIP=1; otherwise a missing Pebble fails the test).
    fn start(http_port: u16, tls_port: u16) -> Option<Pebble> {
        if !common::require_tool("pebble") {
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("mailnook-pebble")
            .tempdir()
            .unwrap();
        // A CA for Pebble's own HTTPS listener, trusted by our client through acme.ca_file.
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "mailnook test CA for Pebble");
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let mut leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        leaf.subject_alt_names
            .push(rcgen::SanType::IpAddress(Ipv4Addr::LOCALHOST.into()));
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).unwrap();
        std::fs::write(dir.path().join("cert.pem"), leaf_cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), leaf_key.serialize_pem()).unwrap();

        let dns = TestServer::start(
            Zone::new()
                .add(NAME, TestRecord::A(Ipv4Addr::LOCALHOST))
                .add(ALT, TestRecord::A(Ipv4Addr::LOCALHOST)),
        )
        .unwrap();
        let (port, management) = (free_port(), free_port());
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{port}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": dir.path().join("cert.pem"),
            "privateKey": dir.path().join("key.pem"),
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        let config_path = dir.path().join("pebble-config.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let log = std::fs::File::create(dir.path().join("pebble.log")).unwrap();
        let child = Command::new("pebble")
            .arg("-config")
            .arg(&config_path)
            .arg("-dnsserver")
            .arg(dns.addr().to_string())
            .env("PEBBLE_VA_NOSLEEP", "1")
            // A realistic share of good nonces refused, so badNonce retries run (RFC 8555 §6.5).
            .env("PEBBLE_WFE_NONCEREJECT", "15")
            // Every order validates afresh (no reuse of earlier authorizations).
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("pebble starts");
        let mut pebble = Pebble {
            child,
            dir,
            port,
            management,
            _dns: dns,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        for p in [port, management] {
            while TcpStream::connect(("127.0.0.1", p)).is_err() {
                if let Ok(Some(status)) = pebble.child.try_wait() {
                    panic!("pebble exited ({status}):\n{}", pebble.log());
                }
                assert!(
                    Instant::now() < deadline,
                    "pebble did not listen:\n{}",
                    pebble.log()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Some(pebble)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pebble.log")).unwrap_or_default()
    }

    fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn directory(&self) -> String {
        format!("https://127.0.0.1:{}/dir", self.port)
    }

    fn settings(&self, challenge: ChallengeKind, names: &[&str]) -> AcmeSettings {
        AcmeSettings {
            directory: self.directory(),
            email: "postmaster@example.test".into(),
            challenge,
            names: names.iter().map(|n| n.to_string()).collect(),
            ca_file: Some(self.ca_file()),
            request_timeout: Duration::from_secs(10),
            order_timeout: Duration::from_secs(90),
        }
    }

    /// Pebble's issuing root, from its management interface (fetched with our own client).
    async fn root(&self) -> Vec<CertificateDer<'static>> {
        let ca = CertificateDer::pem_file_iter(self.ca_file())
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let client =
            acme::http::HttpsClient::new(acme::http::Roots::Custom(ca), Duration::from_secs(10))
                .unwrap();
        let url = format!("https://127.0.0.1:{}/roots/0", self.management);
        let resp = client
            .request(acme::http::Method::Get, &url, "*/*", None)
            .await
            .unwrap();
        assert_eq!(resp.status, 200, "{url}");
        CertificateDer::pem_slice_iter(&resp.body)
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
    }
}

/// How the test HTTP-01 responder answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// What `acme::http01_response` says (the web server's job).
    Right,
    /// A wrong key authorization for every pending token.
    Wrong,
}

/// Serves HTTP-01 answers on `listener` (one request per connection), counting requests.
async fn http_responder(
    listener: async_io::Async<TcpListener>,
    challenges: Challenges,
    answer: Answer,
    served: Rc<Cell<u32>>,
) {
    loop {
        let Ok((mut conn, _)) = listener.accept().await else {
            return;
        };
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 8192 {
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let text = String::from_utf8_lossy(&buf);
        let path = text
            .lines()
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .unwrap_or("");
        let body = acme::http01_response(&challenges, path).map(|b| match answer {
            Answer::Right => b,
            Answer::Wrong => format!("{}.not-the-thumbprint", b.split('.').next().unwrap()),
        });
        served.set(served.get() + 1);
        let reply = match body {
            Some(b) => format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
                b.len()
            ),
            None => {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into()
            }
        };
        let _ = conn.write_all(reply.as_bytes()).await;
        let _ = conn.close().await;
    }
}

/// Serves TLS handshakes with `acme::with_acme_alpn` over a server config holding a
/// self-signed certificate (the server's own), counting `acme-tls/1` handshakes.
async fn tls_responder(
    listener: async_io::Async<TcpListener>,
    challenges: Challenges,
    acme_handshakes: Rc<Cell<u32>>,
) {
    let own = rcgen::generate_simple_self_signed(vec![NAME.to_string()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(
        own.signing_key.serialize_pem().as_bytes(),
    )
    .unwrap();
    let base = rustls::ServerConfig::builder_with_provider(mailnook::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![own.cert.der().clone()], key)
        .unwrap();
    let acceptor = futures_rustls::TlsAcceptor::from(acme::with_acme_alpn(&base, &challenges));
    loop {
        let Ok((conn, _)) = listener.accept().await else {
            return;
        };
        if let Ok(tls) = acceptor.accept(conn).await {
            let (_, session) = tls.get_ref();
            if session.alpn_protocol() == Some(acme::ACME_TLS_ALPN) {
                acme_handshakes.set(acme_handshakes.get() + 1);
            }
            // RFC 8737 §4: an acme-tls/1 connection is closed after the handshake.
        }
    }
}

/// A data folder and store for one test.
struct Data {
    dir: tempfile::TempDir,
    store: Store,
}

impl Data {
    fn new() -> Data {
        let dir = tempfile::Builder::new()
            .prefix("mailnook-acme")
            .tempdir()
            .unwrap();
        let store = Store::open(&dir.path().join("mail.redb"), 1 << 20).unwrap();
        Data { dir, store }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn tls_file(&self, name: &str) -> PathBuf {
        self.path().join("tls").join(name)
    }
}

/// Checks the installed pair: key.pem is owner-only and matches cert.pem (loaded the way the
/// server loads it), and the chain verifies up to Pebble's root for exactly `names`.
fn assert_installed(data: &Data, roots: &[CertificateDer<'static>], names: &[&str]) {
    let files = mailnook::tls::current_files(data.path());
    assert_eq!(
        files.cert,
        data.tls_file("cert.pem"),
        "the ACME pair is in use"
    );
    mailnook::tls::load_server_config(&files).expect("cert.pem and key.pem form a pair");
    let mode = std::fs::metadata(&files.key).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    assert!(chain.len() >= 2, "leaf and intermediate");
    let mut store = rustls::RootCertStore::empty();
    for r in roots {
        store.add(r.clone()).unwrap();
    }
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(store),
        mailnook::tls::provider(),
    )
    .build()
    .unwrap();
    use rustls::client::danger::ServerCertVerifier;
    let verify = |name: &str| {
        verifier.verify_server_cert(
            &chain[0],
            &chain[1..],
            &ServerName::try_from(name.to_string()).unwrap(),
            &[],
            UnixTime::now(),
        )
    };
    for name in names {
        verify(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert!(
        verify("other.example.test").is_err(),
        "the certificate names nothing else"
    );
}

/// Runs `test` on a fresh local executor with both responders started; returns `None` when
/// Pebble is missing and skipping is allowed.
fn with_pebble<F, Fut>(answer: Answer, test: F) -> Option<()>
where
    F: FnOnce(Rc<Pebble>, Challenges, Rc<Cell<u32>>, Rc<Cell<u32>>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let http = async_io::Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
    let tls = async_io::Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
    let pebble = Rc::new(Pebble::start(
        http.get_ref().local_addr().unwrap().port(),
        tls.get_ref().local_addr().unwrap().port(),
    )?);
    let challenges = Challenges::new();
    let (served, alpn) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let ex = async_executor::LocalExecutor::new();
    ex.spawn(http_responder(
        http,
        challenges.clone(),
        answer,
        served.clone(),
    ))
    .detach();
    ex.spawn(tls_responder(tls, challenges.clone(), alpn.clone()))
        .detach();
    let p = pebble.clone();
    async_io::block_on(ex.run(test(pebble, challenges, served, alpn)));
    drop(p);
    Some(())
}

#[test]
fn http01_obtains_a_certificate_and_reuses_the_account() {
    with_pebble(Answer::Right, |pebble, challenges, served, _| async move {
        let data = Data::new();
        let settings = pebble.settings(ChallengeKind::Http01, &[NAME, ALT]);
        let first = acme::obtain(&settings, data.path(), &challenges, &data.store)
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", pebble.log()));
        assert!(first.new_account, "the first order registers the account");
        assert!(served.get() >= 2, "Pebble fetched both answers");
        assert_eq!(
            challenges.http01("anything"),
            None,
            "answers are withdrawn after the order"
        );
        let roots = pebble.root().await;
        assert_installed(&data, &roots, &[NAME, ALT]);
        assert!(first.not_after > mailnook::time::unix_now() as i64 + 30 * 86_400);
        let stored = acme::stored_account(&data.store).unwrap().unwrap();
        assert_eq!(stored, (pebble.directory(), first.account_url.clone()));

        // A second order: the stored account is used, no newAccount; a new key and chain.
        let old_key = std::fs::read(data.tls_file("key.pem")).unwrap();
        let seen = served.get();
        let second = acme::obtain(&settings, data.path(), &challenges, &data.store)
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", pebble.log()));
        assert!(!second.new_account, "the stored account is reused");
        assert_eq!(second.account_url, first.account_url);
        assert_eq!(acme::stored_account(&data.store).unwrap().unwrap(), stored);
        assert!(served.get() > seen, "the new order was validated again");
        assert_ne!(
            std::fs::read(data.tls_file("key.pem")).unwrap(),
            old_key,
            "a fresh key"
        );
        assert_installed(&data, &roots, &[NAME, ALT]);
        // A newAccount request refused for its nonce is sent again (RFC 8555 §6.5), so count
        // the accounts Pebble created, not the requests.
        let created = pebble.log().matches("accounts in memory").count();
        assert_eq!(created, 1, "one account in all:\n{}", pebble.log());
        assert_eq!(data.store.check().unwrap(), Vec::<String>::new());
        data.store.close();
    })
    .unwrap_or(());
}

#[test]
fn tls_alpn01_obtains_a_certificate() {
    with_pebble(
        Answer::Right,
        |pebble, challenges, served, alpn| async move {
            let data = Data::new();
            let settings = pebble.settings(ChallengeKind::TlsAlpn01, &[NAME]);
            let issued = acme::obtain(&settings, data.path(), &challenges, &data.store)
                .await
                .unwrap_or_else(|e| panic!("{e}\n{}", pebble.log()));
            assert_eq!(issued.names, vec![NAME.to_string()]);
            assert!(alpn.get() >= 1, "Pebble validated over acme-tls/1");
            assert_eq!(served.get(), 0, "no HTTP-01 request was needed");
            assert!(
                challenges.tls_alpn01(NAME).is_none(),
                "withdrawn after the order"
            );
            let roots = pebble.root().await;
            assert_installed(&data, &roots, &[NAME]);
            data.store.close();
        },
    )
    .unwrap_or(());
}

#[test]
fn a_failed_validation_is_reported_and_writes_nothing() {
    with_pebble(Answer::Wrong, |pebble, challenges, served, _| async move {
        let data = Data::new();
        let settings = pebble.settings(ChallengeKind::Http01, &[NAME]);
        let err = acme::obtain(&settings, data.path(), &challenges, &data.store)
            .await
            .expect_err("a wrong key authorization fails the order");
        assert!(served.get() >= 1);
        match &err {
            AcmeError::Validation(why) => {
                assert!(why.contains(NAME), "{why}");
                assert!(why.contains("http-01"), "{why}");
                assert!(why.contains("unauthorized"), "{why}");
            }
            other => panic!("want a validation error, got {other}"),
        }
        assert!(
            err.to_string()
                .starts_with("validation failed: http-01 validation of")
        );
        assert!(!data.tls_file("cert.pem").exists());
        assert!(!data.tls_file("key.pem").exists());
        assert!(
            data.store.state(acme::ISSUED_STATE).unwrap().is_none(),
            "nothing recorded as issued"
        );
        data.store.close();
    })
    .unwrap_or(());
}

#[test]
fn the_renewal_task_replaces_the_self_signed_certificate() {
    with_pebble(Answer::Right, |pebble, challenges, _, _| async move {
        let data = Data::new();
        mailnook::tls::ensure_self_signed(data.path(), NAME).unwrap();
        for (k, v) in [
            ("hostname", NAME.to_string()),
            ("acme.enabled", "1".into()),
            ("acme.directory", pebble.directory()),
            ("acme.ca_file", pebble.ca_file().display().to_string()),
            ("acme.timeout_secs", "10".into()),
        ] {
            let v = mailnook::config::validate(k, &v).unwrap();
            data.store
                .call(Op::SetSetting {
                    key: k.into(),
                    value: Some(v),
                })
                .await
                .unwrap();
        }
        let store = data.store.clone();
        let config = Rc::new(move || Rc::new(store.config().unwrap()))
            as Rc<dyn Fn() -> Rc<mailnook::config::Config>>;
        let (stop, shutdown) = async_channel::bounded::<()>(1);
        let task = async_executor::LocalExecutor::new();
        let run = task.spawn(acme::run(
            config,
            data.path().to_path_buf(),
            challenges,
            data.store.clone(),
            shutdown,
        ));
        let deadline = Instant::now() + Duration::from_secs(90);
        task.run(async {
            while !(data.tls_file("cert.pem").exists() && data.tls_file("key.pem").exists()) {
                assert!(
                    Instant::now() < deadline,
                    "no certificate:\n{}",
                    pebble.log()
                );
                async_io::Timer::after(Duration::from_millis(100)).await;
            }
        })
        .await;
        stop.close();
        task.run(run).await;
        let roots = pebble.root().await;
        assert_installed(&data, &roots, &[NAME]);
        assert!(acme::stored_account(&data.store).unwrap().is_some());
        data.store.close();
    })
    .unwrap_or(());
}

/// A port base all of whose role ports (the server binds every one) are free now.
fn free_web_base() -> u16 {
    // Tests run in parallel: each call starts its search somewhere else.
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let start = NEXT.fetch_add(37, std::sync::atomic::Ordering::Relaxed)
        + (std::process::id() as u16).wrapping_mul(7);
    for i in 0..400u16 {
        let base = 30_000 + (start.wrapping_add(i) % 300) * 100;
        if [25, 80, 110, 143, 443, 465, 587, 993, 995, 4190]
            .iter()
            .all(|p| TcpListener::bind(("127.0.0.1", base + p)).is_ok())
        {
            return base;
        }
    }
    panic!("no free port base");
}

/// The running server, its ACME settings made with the CLI: the renewal task orders a
/// certificate for the host name, Pebble validates it on the server's own web ports (plain
/// HTTP for HTTP-01, HTTPS with ALPN `acme-tls/1` for TLS-ALPN-01), and the new certificate is
/// what the server then presents.
fn the_server_gets_its_certificate(challenge: &str) {
    let base = free_web_base();
    let Some(pebble) = Pebble::start(base + 80, base + 443) else {
        return;
    };
    let d = common::DataDir::for_domain("example.test", NAME, &[]);
    d.cli_ok(&["config", "set", "tls.reload_check_secs", "1"]);
    for (k, v) in [
        ("acme.enabled", "1".to_string()),
        ("acme.challenge", challenge.into()),
        ("acme.directory", pebble.directory()),
        ("acme.ca_file", pebble.ca_file().display().to_string()),
        ("acme.timeout_secs", "10".into()),
    ] {
        d.cli_ok(&["config", "set", k, &v]);
    }
    let s = common::Server::serve_at(d, base);
    let cert = s.data.path().join("tls/cert.pem");
    let deadline = Instant::now() + Duration::from_secs(90);
    while !cert.exists() {
        assert!(
            Instant::now() < deadline,
            "no certificate:\n{}\n--- server ---\n{}",
            pebble.log(),
            common::tail(&s.log(), 30)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let leaf = CertificateDer::pem_file_iter(&cert)
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    // The server presents it once its reload loop has seen the files (Python's ssl module).
    let served = || {
        let out = Command::new("python3")
            .args([
                "-c",
                "import ssl, sys; print(ssl.get_server_certificate(('127.0.0.1', int(sys.argv[1]))))",
            ])
            .arg((base + 993).to_string())
            .output()
            .unwrap();
        CertificateDer::pem_slice_iter(&out.stdout)
            .next()
            .and_then(Result::ok)
    };
    while served().as_ref() != Some(&leaf) {
        assert!(
            Instant::now() < deadline,
            "the new certificate is not served:\n{}",
            common::tail(&s.log(), 30)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        pebble.log().contains(NAME),
        "Pebble validated {NAME}:\n{}",
        pebble.log()
    );
}

#[test]
fn the_running_server_answers_http01_on_its_web_port() {
    the_server_gets_its_certificate("http-01");
}

#[test]
fn the_running_server_answers_tls_alpn01_on_its_https_port() {
    the_server_gets_its_certificate("tls-alpn-01");
}

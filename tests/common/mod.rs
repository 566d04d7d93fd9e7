//! Shared harness for the integration tests: starts the real `mailnook` binary on a private data
//! folder and free loopback ports, and runs its CLI.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub mod dovecot;
pub mod tmpfs;

/// The binary under test: the one cargo built for the host, or `MAILNOOK_TEST_BIN` (a release
/// build for a board, run through `MAILNOOK_TEST_RUNNER`; see [`mailnook`]).
pub fn bin() -> PathBuf {
    match std::env::var_os("MAILNOOK_TEST_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_mailnook")),
    }
}

/// A command running the binary under test. With `MAILNOOK_TEST_RUNNER` set (words separated
/// by spaces, e.g. `qemu-aarch64-static -cpu cortex-a53`), the binary runs under it: a board's
/// build emulated, the test's clients on the host.
pub fn mailnook() -> Command {
    if let Some(prefix) = PREFIX.get() {
        let mut cmd = Command::new(&prefix[0]);
        cmd.args(&prefix[1..]).arg(bin());
        return cmd;
    }
    let runner = std::env::var("MAILNOOK_TEST_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    match words.next() {
        Some(program) => {
            let mut cmd = Command::new(program);
            cmd.args(words).arg(bin());
            cmd
        }
        None => Command::new(bin()),
    }
}

/// A command every run of the binary goes through in this test process (e.g. `nsenter` into a
/// mount namespace), set once with [`run_binary_under`].
static PREFIX: std::sync::OnceLock<Vec<std::ffi::OsString>> = std::sync::OnceLock::new();

/// Runs the binary under test through `prefix` (program and arguments) from now on, for the
/// whole test process; panics if a prefix is already set.
pub fn run_binary_under(prefix: Vec<std::ffi::OsString>) {
    assert!(!prefix.is_empty(), "an empty prefix");
    PREFIX
        .set(prefix)
        .expect("the prefix is set once per test process");
}

/// The mail domain every test server owns.
pub const DOMAIN: &str = "example.test";
/// The host name every test server uses.
pub const HOSTNAME: &str = "mx.example.test";
/// Password of the users the harness creates.
pub const PASSWORD: &str = "correct-horse-9";

/// Fails loudly when a client program the suite relies on is missing. Set
/// `MAILNOOK_ALLOW_SKIP=1` to turn that into a printed SKIP (never in CI).
pub fn require_tool(tool: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if found {
        return true;
    }
    if std::env::var("MAILNOOK_ALLOW_SKIP").as_deref() == Ok("1") {
        eprintln!("SKIP: {tool} is not installed");
        return false;
    }
    panic!(
        "{tool} is not installed; run tests/run (it installs the test clients) or set MAILNOOK_ALLOW_SKIP=1"
    );
}

/// A data folder set up with `init` and users, not yet served.
pub struct DataDir {
    pub dir: tempfile::TempDir,
}

impl DataDir {
    /// `init` for example.test plus the given users (password [`PASSWORD`]).
    pub fn new(users: &[&str]) -> DataDir {
        DataDir::for_domain(DOMAIN, HOSTNAME, users)
    }

    /// `init` for `domain` with host name `hostname`, plus the given users.
    pub fn for_domain(domain: &str, hostname: &str, users: &[&str]) -> DataDir {
        let dir = tempfile::Builder::new()
            .prefix("mailnook-test")
            .tempdir()
            .expect("tempdir");
        DataDir::init_in(dir, domain, hostname, users)
    }

    /// `init` in an existing (empty) folder for `domain` with host name `hostname`, plus the
    /// given users.
    pub fn init_in(
        dir: tempfile::TempDir,
        domain: &str,
        hostname: &str,
        users: &[&str],
    ) -> DataDir {
        let d = DataDir { dir };
        d.cli_ok(&["init", "--domain", domain, "--hostname", hostname]);
        // Cheap hashes keep the suite fast; the production default is set in config.rs.
        d.cli_ok(&["config", "set", "auth.argon2_memory_kib", "1024"]);
        d.cli_ok(&["config", "set", "auth.argon2_iterations", "1"]);
        for u in users {
            d.cli_ok(&["user", "add", u, "--password", PASSWORD]);
        }
        d
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `mailnook ARGS --data DIR`.
    pub fn cli(&self, args: &[&str]) -> Output {
        mailnook()
            .args(args)
            .arg("--data")
            .arg(self.path())
            .env("MAILNOOK_LOG", "warn")
            .output()
            .expect("run mailnook")
    }

    /// Runs the CLI and asserts success; returns stdout.
    pub fn cli_ok(&self, args: &[&str]) -> Vec<u8> {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "mailnook {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// A stored message's raw bytes.
    pub fn show(&self, user: &str, mailbox: &str, uid: u32) -> Vec<u8> {
        self.cli_ok(&["mail", "show", user, mailbox, &uid.to_string()])
    }

    /// The UIDs in a mailbox.
    pub fn uids(&self, user: &str, mailbox: &str) -> Vec<u32> {
        let out = String::from_utf8(self.cli_ok(&["mail", "list", user, mailbox])).unwrap();
        out.lines()
            .skip(1)
            .filter_map(|l| l.split('\t').next()?.parse().ok())
            .collect()
    }
}

/// A running server.
pub struct Server {
    pub data: DataDir,
    pub child: Option<Child>,
    pub port_base: u16,
    pub stderr: Arc<Mutex<String>>,
    pub stdout: Arc<Mutex<String>>,
}

fn free_port_base() -> u16 {
    // Spread over a wide range; verify the MX port is free right now.
    let seed = std::process::id() as u64 ^ Instant::now().elapsed().as_nanos() as u64 ^ rand_u64();
    for i in 0..200u64 {
        let base = 20000 + ((seed.wrapping_add(i * 7919)) % 400) as u16 * 100;
        if TcpListener::bind(("127.0.0.1", base + 25)).is_ok() {
            return base;
        }
    }
    panic!("no free port base");
}

fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .expect("urandom");
    u64::from_le_bytes(b)
}

impl Server {
    /// Serves a fresh data folder with the given users.
    pub fn start(users: &[&str]) -> Server {
        Server::serve(DataDir::new(users))
    }

    /// Serves an existing data folder (retrying on a port clash).
    pub fn serve(data: DataDir) -> Server {
        Server::serve_on(data, None, &[])
    }

    /// Serves an existing data folder on port base `base` (a restart that keeps its ports).
    pub fn serve_at(data: DataDir, base: u16) -> Server {
        Server::serve_on(data, Some(base), &[])
    }

    /// Serves an existing data folder through `launcher` (a command line the server's own is
    /// appended to, e.g. `nsenter` into another network namespace).
    pub fn serve_via(data: DataDir, launcher: &[String]) -> Server {
        Server::serve_on(data, None, launcher)
    }

    fn serve_on(data: DataDir, fixed: Option<u16>, launcher: &[String]) -> Server {
        for _ in 0..5 {
            let base = fixed.unwrap_or_else(free_port_base);
            let mut cmd = mailnook();
            if let Some((program, args)) = launcher.split_first() {
                let inner = cmd;
                cmd = Command::new(program);
                cmd.args(args)
                    .arg(inner.get_program())
                    .args(inner.get_args());
            }
            let mut child = cmd
                .args(["serve", "--port-base", &base.to_string(), "--data"])
                .arg(data.path())
                .env(
                    "MAILNOOK_LOG",
                    std::env::var("MAILNOOK_LOG").unwrap_or_else(|_| "info".into()),
                )
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn mailnook serve");
            let stdout = Arc::new(Mutex::new(String::new()));
            let stderr = Arc::new(Mutex::new(String::new()));
            let (tx, rx) = std::sync::mpsc::channel();
            let stderr_reader = {
                let out = child.stdout.take().unwrap();
                let buf = stdout.clone();
                std::thread::spawn(move || {
                    for line in BufReader::new(out).lines().map_while(Result::ok) {
                        if line.contains("control socket") {
                            let _ = tx.send(());
                        }
                        buf.lock().unwrap().push_str(&(line + "\n"));
                    }
                });
                let err = child.stderr.take().unwrap();
                let buf = stderr.clone();
                std::thread::spawn(move || {
                    for line in BufReader::new(err).lines().map_while(Result::ok) {
                        buf.lock().unwrap().push_str(&(line + "\n"));
                    }
                })
            };
            let ready = rx.recv_timeout(Duration::from_secs(30)).is_ok();
            if ready {
                return Server {
                    data,
                    child: Some(child),
                    port_base: base,
                    stderr,
                    stdout,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            // A server that could not bind exits at once: its error may still be in the pipe.
            let _ = stderr_reader.join();
            let err = stderr.lock().unwrap().clone();
            if !err.contains("Address already in use") {
                panic!("server did not start: {err}");
            }
        }
        panic!("server did not start after 5 attempts");
    }

    /// The MX address.
    pub fn mx(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port_base + 25))
    }

    /// The submission (STARTTLS) address.
    pub fn submission(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port_base + 587))
    }

    /// The submission over TLS address.
    pub fn submissions(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port_base + 465))
    }

    /// The IMAP (STARTTLS) address.
    pub fn imap(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port_base + 143))
    }

    /// The IMAP over TLS address.
    pub fn imaps(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port_base + 993))
    }

    /// The POP3 (STLS) address.
    pub fn pop3(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port_base + 110))
    }

    /// The POP3 over TLS address.
    pub fn pop3s(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port_base + 995))
    }

    /// The self-signed certificate's path (for clients that verify).
    pub fn cert(&self) -> PathBuf {
        self.data.path().join("tls/selfsigned-cert.pem")
    }

    /// A native-tls (OpenSSL) connector trusting only the server's self-signed certificate.
    pub fn tls_connector(&self) -> native_tls::TlsConnector {
        let pem = std::fs::read(self.cert()).unwrap();
        native_tls::TlsConnector::builder()
            .add_root_certificate(native_tls::Certificate::from_pem(&pem).unwrap())
            .build()
            .unwrap()
    }

    /// A logged-in session of the `imap` crate over IMAPS.
    pub fn imap_session(
        &self,
        user: &str,
    ) -> imap::Session<native_tls::TlsStream<std::net::TcpStream>> {
        let tcp = std::net::TcpStream::connect(self.imaps()).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let tls = self.tls_connector().connect(HOSTNAME, tcp).unwrap();
        let mut client = imap::Client::new(tls);
        client.read_greeting().unwrap();
        client.login(user, PASSWORD).map_err(|e| e.0).unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                return st;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("server ignored SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, no cleanup.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("running");
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Asserts the server is still running and never panicked.
    pub fn assert_alive(&mut self) {
        let child = self.child.as_mut().expect("server started");
        assert!(child.try_wait().unwrap().is_none(), "server exited");
        let log = self.log();
        assert!(!log.contains("panicked"), "server panicked:\n{log}");
    }

    /// Log lines written so far.
    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Delivers `message` (its lines, without the final dot) over the MX from `from` to
    /// alice@example.test after `EHLO mail.sender.test`; returns the reply to the final dot.
    pub fn deliver_to_alice(&self, from: &str, message: &str) -> String {
        self.deliver_to(from, "alice@example.test", message)
    }

    /// Sends `message` from `from` to `rcpt` over the MX port and returns the final reply.
    pub fn deliver_to(&self, from: &str, rcpt: &str, message: &str) -> String {
        let mut c = self.connect();
        assert!(c.cmd("EHLO mail.sender.test").starts_with("250"));
        assert!(c.cmd(&format!("MAIL FROM:<{from}>")).starts_with("250"));
        assert!(c.cmd(&format!("RCPT TO:<{rcpt}>")).starts_with("250"));
        assert!(c.cmd("DATA").starts_with("354"));
        c.cmd(&format!("{message}\r\n."))
    }

    /// The messages in alice@example.test's `mailbox`, as text.
    pub fn alices(&self, mailbox: &str) -> Vec<String> {
        self.messages_of("alice@example.test", mailbox)
    }

    /// The messages in `user`'s `mailbox`, as text.
    pub fn messages_of(&self, user: &str, mailbox: &str) -> Vec<String> {
        self.data
            .uids(user, mailbox)
            .into_iter()
            .map(|u| String::from_utf8_lossy(&self.data.show(user, mailbox, u)).into_owned())
            .collect()
    }

    /// Connects to the MX port and reads the greeting.
    pub fn connect(&self) -> Smtp {
        Smtp::connect(self.mx())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A bare-bones line client for exact protocol checks.
pub struct Smtp {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Smtp {
    pub fn connect(addr: SocketAddr) -> Smtp {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        let mut s = Smtp { stream, reader };
        let greeting = s.reply();
        assert!(greeting.starts_with("220 "), "greeting: {greeting}");
        s
    }

    /// Sends raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Sends a line plus CRLF.
    pub fn line(&mut self, line: &str) {
        self.send(format!("{line}\r\n").as_bytes());
    }

    /// Reads one reply (all its lines), returned with CRLFs stripped and lines joined by `\n`.
    pub fn reply(&mut self) -> String {
        let mut all = Vec::new();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).expect("read reply");
            assert!(
                n > 0,
                "connection closed while waiting for a reply; got {all:?}"
            );
            let line = line.trim_end_matches(['\r', '\n']).to_string();
            let last = line.as_bytes().get(3) != Some(&b'-');
            all.push(line);
            if last {
                return all.join("\n");
            }
        }
    }

    /// Sends a command and returns the reply.
    pub fn cmd(&mut self, line: &str) -> String {
        self.line(line);
        self.reply()
    }

    /// Whether the server closed the connection (reads to EOF, bounded).
    pub fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        self.reader.read_to_end(&mut rest).is_ok()
    }
}

/// Strips the trace header block mailnook prepends (Return-Path and Received) from a stored
/// message, so it can be compared with what the client sent.
pub fn strip_trace(stored: &[u8]) -> &[u8] {
    let mut rest = stored;
    loop {
        let starts = |p: &[u8]| rest.len() >= p.len() && rest[..p.len()].eq_ignore_ascii_case(p);
        if !(starts(b"Return-Path:") || starts(b"Received:")) {
            return rest;
        }
        // Skip the field and its folded continuation lines.
        let mut i = 0;
        loop {
            let nl = rest[i..]
                .iter()
                .position(|&b| b == b'\n')
                .map(|p| i + p + 1)
                .unwrap_or(rest.len());
            i = nl;
            if i >= rest.len() || !(rest[i] == b' ' || rest[i] == b'\t') {
                break;
            }
        }
        rest = &rest[i..];
    }
}

/// Runs one web page scenario of tests/web_clients/suite.py against `s` (Python's http.client
/// with the server's certificate verified) with `env` added, and asserts it passed; returns its
/// output.
pub fn web_scenario(s: &Server, name: &str, env: &[(&str, std::ffi::OsString)]) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web_clients");
    let mut cmd = Command::new("python3");
    cmd.arg(dir.join("suite.py"))
        .arg(name)
        .env("WEB_PORT", (s.port_base + 443).to_string())
        .env("HTTP_PORT", (s.port_base + 80).to_string())
        .env("IMAP_PORT", s.imap().port().to_string())
        .env("CA", s.cert())
        .env("HOSTNAME_TLS", HOSTNAME)
        .env("PASSWORD", PASSWORD)
        .env("COOKIES", s.data.path().join("cookies.txt"))
        .env("DOWNLOAD_DIR", s.data.path().join("download"))
        .env("PYTHONDONTWRITEBYTECODE", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run_bounded(&mut cmd, Duration::from_secs(300));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(&format!("scenario {name} passed")),
        "scenario {name} failed:\n{stdout}\n{}\n--- server log ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        tail(&s.log(), 40)
    );
    stdout.into_owned()
}

/// Runs a client program with a deadline (a hung client must not hang the suite).
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    // Drain the pipes while waiting: a chatty client (fetchmail -v, curl on 3 MB) must not block
    // on a full pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut v);
        v
    });
    let err_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stderr, &mut v);
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let out = out_thread.join().unwrap();
            let err = err_thread.join().unwrap();
            panic!(
                "{cmd:?} ran longer than {limit:?}:\n{}\n{}",
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&err)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out_thread.join().unwrap(),
        stderr: err_thread.join().unwrap(),
    }
}

/// The last `lines` lines of `text` (for failure messages).
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// curl with the server's certificate trusted, `HOSTNAME` resolved to loopback on `ports`, and
/// `user:password` as credentials.
pub fn curl_client(s: &Server, ports: &[u16], user: &str, password: &str) -> Command {
    let mut c = Command::new("curl");
    c.args(["-sS", "--max-time", "30", "--cacert"])
        .arg(s.cert());
    for port in ports {
        c.args(["--resolve", &format!("{HOSTNAME}:{port}:127.0.0.1")]);
    }
    c.args(["-u", &format!("{user}:{password}")]);
    c
}

/// Runs a curl command (bounded) and returns its output; fails the test if curl failed.
pub fn curl_ok(cmd: &mut Command) -> Vec<u8> {
    let out = run_bounded(cmd, Duration::from_secs(40));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({:?}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A rustls client configuration trusting only the server's self-signed certificate.
pub fn tls_client_config(cert: &Path) -> std::sync::Arc<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(cert).expect("read the server certificate") {
        roots
            .add(c.expect("PEM certificate"))
            .expect("trust anchor");
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    std::sync::Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Verifier: argv = records file ("name<TAB>value" lines), then message files. Prints one line
/// per signature: "<file>\t<idx>\tPASS|FAIL\t<reason>", and "<file>\t-\tNONE" without any.
/// With `--arc` first, prints each file's ARC chain status instead:
/// "<file>\tpass|fail|none\t<reason>".
pub const DKIM_VERIFY_PY: &str = r#"
import sys, logging, dkim
arc = sys.argv[1] == "--arc"
if arc:
    del sys.argv[1]
records = {}
with open(sys.argv[1]) as f:
    for line in f:
        name, value = line.rstrip("\n").split("\t", 1)
        records[name.lower()] = value.encode()
def dnsfunc(name, timeout=5):
    if isinstance(name, bytes):
        name = name.decode()
    return records.get(name.rstrip(".").lower())
class Collect(logging.Handler):
    def __init__(self):
        super().__init__(); self.msgs = []
    def emit(self, record):
        self.msgs.append(record.getMessage().replace("\t", " ").replace("\n", " "))
for path in sys.argv[2:]:
    msg = open(path, "rb").read()
    if arc:
        cv, _, why = dkim.arc_verify(msg, dnsfunc=dnsfunc)
        # A chain its newest sealer marked cv=fail comes back as None: a failed chain.
        cv = b"fail" if cv is None else cv
        print(f"{path}\t{cv.decode().lower()}\t{why}"); continue
    log = logging.getLogger("dkim-" + path); log.setLevel(logging.DEBUG)
    h = Collect(); log.addHandler(h); log.propagate = False
    d = dkim.DKIM(msg, logger=log, minkey=1024)
    n = sum(1 for k, v in d.headers if k.lower() == b"dkim-signature")
    if n == 0:
        print(f"{path}\t-\tNONE\t"); continue
    for idx in range(n):
        h.msgs.clear()
        try:
            ok = d.verify(idx=idx, dnsfunc=dnsfunc)
            why = "" if ok else (h.msgs[-1] if h.msgs else "")
        except Exception as e:
            ok, why = False, f"{type(e).__name__}: {e}"
        print(f"{path}\t{idx}\t{'PASS' if ok else 'FAIL'}\t{why}")
"#;

/// dkimpy, PyNaCl and authres (dkimpy's ARC sealer needs it) present, installing them with pip
/// if needed. Missing after that is a
/// failure unless MAILNOOK_ALLOW_SKIP=1 (the suite's rule for client programs, tests/common).
pub fn have_dkimpy() -> bool {
    let check = || {
        Command::new("python3")
            .args(["-c", "import dkim, nacl, authres"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if check() {
        return true;
    }
    eprintln!("dkim test: installing dkimpy, pynacl and authres with pip");
    let _ = Command::new("python3")
        .args([
            "-m", "pip", "install", "--quiet", "dkimpy", "pynacl", "authres",
        ])
        .status();
    if check() {
        return true;
    }
    if std::env::var("MAILNOOK_ALLOW_SKIP").as_deref() == Ok("1") {
        eprintln!("SKIP: python3 with dkimpy, pynacl and authres is not available");
        return false;
    }
    panic!(
        "python3 -c 'import dkim, nacl, authres' fails; run tests/run (it installs dkimpy) or set MAILNOOK_ALLOW_SKIP=1"
    );
}

/// Runs `tests/mail_transfer/boxes.py` (imaplib fill, dump and compare; Python's own `mailbox`
/// writers) and asserts it succeeded; returns its output.
pub fn boxes(args: &[&str]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mail_transfer/boxes.py");
    let out = run_bounded(
        Command::new("python3").arg(script).args(args),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "boxes.py {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `boxes.py CMD` against `user`'s account on `s`, over IMAPS, then `extra` arguments.
pub fn boxes_on(s: &Server, cmd: &str, user: &str, extra: &[&str]) -> String {
    let port = s.imaps().port().to_string();
    let cert = s.cert();
    let mut args = vec![
        cmd,
        "127.0.0.1",
        &port,
        cert.to_str().unwrap(),
        HOSTNAME,
        user,
        PASSWORD,
    ];
    args.extend_from_slice(extra);
    boxes(&args)
}

/// Lets this process hold a few thousand sockets (the server raises its own limit).
pub fn raise_open_file_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current.is_some_and(|c| c < 4096) {
        lim.current = Some(lim.maximum.map_or(8192, |m| m.min(8192)));
        setrlimit(Resource::Nofile, lim).expect("raise RLIMIT_NOFILE");
    }
}

/// Base64 (RFC 4648 §4, with padding) of `bytes`, for SASL exchanges.
pub fn b64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Polls `f` every 100 ms until it gives a value; panics naming `what` after `limit`.
pub fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The MX port of a server that is down: every connection is accepted and closed at once (a
/// server that does not answer), and no other test's server can take the port meanwhile.
/// Dropping it frees the port for the server to come back ([`Server::serve_at`]).
pub struct Down {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Down {
    /// Takes the MX port of port base `port_base` (its server was stopped just before).
    pub fn hold(port_base: u16) -> Down {
        let listener =
            TcpListener::bind(("127.0.0.1", port_base + 25)).expect("the MX port is free again");
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(std::sync::atomic::Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => drop(conn),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Down {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Down {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

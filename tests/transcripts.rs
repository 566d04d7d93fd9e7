//! Transcript tests against the real binary (STYLE.md "Testing habits"): every `*.t` file under
//! `tests/transcripts/mx/` is played against the MX port of a running server, in three modes:
//! - whole: every client byte in one write (pipelining), then all server lines are compared;
//! - line by line: each `C` item is one write, then the `S` lines after it are read and compared;
//! - byte by byte: as line by line, but each byte is its own write (TCP_NODELAY).
//!
//! Transcripts that switch to TLS (`=tls`) run line by line only, with a rustls client that
//! trusts the server's self-signed certificate.
//!
//! File format, one item per line (blank lines are ignored):
//! - `# text` — a comment; every file starts with one citing the RFC section or attack covered.
//! - `=config key value` — before the first `C` line: `mailnook config set` for this transcript
//!   only (unset again afterwards).
//! - `C: text` — the client sends `text` plus CRLF.
//! - `C! "escaped"` — the client sends raw bytes; escapes are `\r \n \t \0 \\ \" \xNN`.
//! - `C* N "escaped"` — the client sends the escaped bytes repeated N times (long lines, big data).
//! - `S: text` — the next server line (without CRLF) must equal `text`.
//! - `S~ regex` — the next server line must match `regex` (whole line); only for ids and times.
//! - `=tls` — the client does the TLS handshake here (after the server's 220 to STARTTLS).
//! - `=closed` — the server closes the connection here and sends nothing more; every transcript
//!   ends with it.
//! - `=stored user mailbox N file.eml` — checked once the connection is over: the N-th message
//!   this transcript delivered to that mailbox (1-based, in UID order) equals the golden file
//!   next to the transcript byte for byte, below the trace headers the server prepends. A mismatch
//!   writes `file.eml.actual`; `UPDATE_GOLDEN=1` rewrites the golden instead.
//!
//! Each mode gets its own server (users alice and bob; alice is the admin). After each transcript
//! the runner also checks that exactly as many messages arrived in each user's INBOX as the file
//! names with `=stored`, so a message that should have been refused (smuggling, relay) fails the
//! test even if every reply looked right.

mod common;
use common::*;

use regex::Regex;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const USERS: &[&str] = &["alice@example.test", "bob@example.test"];
/// How long the runner waits for one server line (or for the close).
const READ_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
enum Expect {
    Exact(String),
    Pattern(Regex),
}

impl Expect {
    fn matches(&self, line: &str) -> bool {
        match self {
            Expect::Exact(s) => s == line,
            Expect::Pattern(re) => re.is_match(line),
        }
    }

    fn show(&self) -> String {
        match self {
            Expect::Exact(s) => format!("S: {s}"),
            Expect::Pattern(re) => format!("S~ {}", re.as_str()),
        }
    }
}

#[derive(Debug, Clone)]
enum Step {
    Send(Vec<u8>),
    Expect(Expect),
    Tls,
    Closed,
}

#[derive(Debug)]
struct Stored {
    user: String,
    mailbox: String,
    nth: usize,
    golden: PathBuf,
}

#[derive(Debug)]
struct Transcript {
    path: PathBuf,
    config: Vec<(String, String)>,
    steps: Vec<Step>,
    stored: Vec<Stored>,
}

impl Transcript {
    fn name(&self) -> String {
        self.path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    fn uses_tls(&self) -> bool {
        self.steps.iter().any(|s| matches!(s, Step::Tls))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Whole,
    Lines,
    Bytes,
}

fn unescape(quoted: &str) -> Result<Vec<u8>, String> {
    let inner = quoted
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .ok_or_else(|| format!("expected a double-quoted string, got {quoted}"))?;
    let mut out = Vec::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut b = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            continue;
        }
        match chars.next() {
            Some('r') => out.push(b'\r'),
            Some('n') => out.push(b'\n'),
            Some('t') => out.push(b'\t'),
            Some('0') => out.push(0),
            Some('\\') => out.push(b'\\'),
            Some('"') => out.push(b'"'),
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                let b = u8::from_str_radix(&hex, 16).map_err(|_| format!("bad \\x{hex}"))?;
                out.push(b);
            }
            other => return Err(format!("unknown escape \\{other:?}")),
        }
    }
    Ok(out)
}

fn parse(path: &Path) -> Result<Transcript, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let dir = path.parent().unwrap();
    let mut t = Transcript {
        path: path.to_path_buf(),
        config: Vec::new(),
        steps: Vec::new(),
        stored: Vec::new(),
    };
    let mut first = true;
    for (i, line) in text.lines().enumerate() {
        let err = |m: String| format!("line {}: {m}", i + 1);
        if line.trim().is_empty() {
            continue;
        }
        if first && !line.starts_with('#') {
            return Err(err(
                "a transcript starts with a comment citing what it covers".into(),
            ));
        }
        first = false;
        if line.starts_with('#') {
            continue;
        }
        if matches!(t.steps.last(), Some(Step::Closed)) && !line.starts_with("=stored ") {
            return Err(err("only =stored may follow =closed".into()));
        }
        let (kind, rest) = line.split_at(line.len().min(2));
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        match kind {
            "C:" => t.steps.push(Step::Send(format!("{rest}\r\n").into_bytes())),
            "C!" => t.steps.push(Step::Send(unescape(rest).map_err(err)?)),
            "C*" => {
                let (n, bytes) = rest
                    .split_once(' ')
                    .ok_or_else(|| err("C* N \"bytes\"".into()))?;
                let n: usize = n.parse().map_err(|_| err(format!("bad count {n}")))?;
                t.steps
                    .push(Step::Send(unescape(bytes).map_err(err)?.repeat(n)));
            }
            "S:" => t.steps.push(Step::Expect(Expect::Exact(rest.to_string()))),
            "S~" => {
                let re = Regex::new(&format!("^(?:{rest})$")).map_err(|e| err(e.to_string()))?;
                t.steps.push(Step::Expect(Expect::Pattern(re)));
            }
            _ => {
                let words: Vec<&str> = line.split_whitespace().collect();
                match words.as_slice() {
                    ["=tls"] => t.steps.push(Step::Tls),
                    ["=closed"] => t.steps.push(Step::Closed),
                    ["=config", key, value] => {
                        if t.steps.iter().any(|s| matches!(s, Step::Send(_))) {
                            return Err(err("=config must come before the first C line".into()));
                        }
                        t.config.push((key.to_string(), value.to_string()));
                    }
                    ["=stored", user, mailbox, nth, file] => t.stored.push(Stored {
                        user: user.to_string(),
                        mailbox: mailbox.to_string(),
                        nth: nth.parse().map_err(|_| err(format!("bad N {nth}")))?,
                        golden: dir.join(file),
                    }),
                    _ => return Err(err(format!("unknown line {line:?}"))),
                }
            }
        }
    }
    if !matches!(t.steps.last(), Some(Step::Closed)) {
        return Err("a transcript ends with =closed".into());
    }
    for s in &t.stored {
        if !USERS.contains(&s.user.as_str()) {
            return Err(format!("=stored names unknown user {}", s.user));
        }
        // Only INBOXes are snapshotted before each transcript (the MX delivers nowhere else).
        if s.mailbox != "INBOX" {
            return Err(format!("=stored: only INBOX is checked, not {}", s.mailbox));
        }
    }
    Ok(t)
}

/// The client side of one connection: plain TCP, later maybe TLS, with its own read buffer.
enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    Gone,
}

impl Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
            Conn::Gone => unreachable!("used after a failed handshake"),
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.write_all(bytes),
            Conn::Tls(s) => s.write_all(bytes).and_then(|_| s.flush()),
            Conn::Gone => unreachable!("used after a failed handshake"),
        }
    }
}

struct Client {
    conn: Conn,
    buf: Vec<u8>,
    /// Every server line read so far, for failure messages.
    seen: Vec<String>,
}

fn show_bytes(b: &[u8]) -> String {
    b.escape_ascii().to_string()
}

impl Client {
    fn connect(s: &Server) -> Client {
        let tcp = TcpStream::connect(s.mx()).expect("connect to MX");
        tcp.set_nodelay(true).unwrap();
        tcp.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        Client {
            conn: Conn::Plain(tcp),
            buf: Vec::new(),
            seen: Vec::new(),
        }
    }

    fn send(&mut self, bytes: &[u8], mode: Mode) -> Result<(), String> {
        let res = match mode {
            // One write per `C` item: a `C!` block is the client's one write (e.g. the
            // STARTTLS injection), split only in byte mode.
            Mode::Whole | Mode::Lines => self.conn.write_all(bytes),
            Mode::Bytes => bytes.chunks(1).try_for_each(|b| self.conn.write_all(b)),
        };
        res.map_err(|e| format!("sending {:?}: {e}", show_bytes(bytes)))
    }

    /// Reads one CRLF-terminated line.
    fn line(&mut self) -> Result<String, String> {
        loop {
            if let Some(p) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..p + 2).take(p).collect();
                let line = String::from_utf8(line.clone()).unwrap_or_else(|_| show_bytes(&line));
                self.seen.push(line.clone());
                return Ok(line);
            }
            let mut chunk = [0u8; 4096];
            match self.conn.read(&mut chunk) {
                Ok(0) => {
                    return Err(format!(
                        "connection closed; unterminated rest {:?}",
                        show_bytes(&self.buf)
                    ));
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(format!("reading: {e}")),
            }
        }
    }

    /// Reads to EOF; returns what came before it.
    fn rest(&mut self) -> Result<Vec<u8>, String> {
        let mut rest = std::mem::take(&mut self.buf);
        let mut chunk = [0u8; 4096];
        loop {
            match self.conn.read(&mut chunk) {
                Ok(0) => return Ok(rest),
                Ok(n) => rest.extend_from_slice(&chunk[..n]),
                Err(e) => {
                    return Err(format!(
                        "waiting for the close: {e}; got {:?}",
                        show_bytes(&rest)
                    ));
                }
            }
        }
    }

    fn start_tls(&mut self, cert: &Path) -> Result<(), String> {
        if !self.buf.is_empty() {
            return Err(format!(
                "plaintext after the 220 to STARTTLS: {:?}",
                show_bytes(&self.buf)
            ));
        }
        let Conn::Plain(tcp) = std::mem::replace(&mut self.conn, Conn::Gone) else {
            return Err("=tls inside TLS".into());
        };
        let config = tls_client_config(cert);
        let name = rustls::pki_types::ServerName::try_from(HOSTNAME).unwrap();
        let conn = rustls::ClientConnection::new(config, name).map_err(|e| e.to_string())?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        while tls.conn.is_handshaking() {
            tls.conn
                .complete_io(&mut tls.sock)
                .map_err(|e| format!("TLS handshake: {e}"))?;
        }
        self.conn = Conn::Tls(Box::new(tls));
        Ok(())
    }
}

fn tls_client_config(cert: &Path) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(cert).expect("read the server certificate") {
        roots
            .add(c.expect("PEM certificate"))
            .expect("trust anchor");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Plays the connection part of a transcript.
fn play(s: &Server, t: &Transcript, mode: Mode) -> Result<(), String> {
    let mut c = Client::connect(s);
    if mode == Mode::Whole {
        let all: Vec<u8> = t
            .steps
            .iter()
            .filter_map(|st| match st {
                Step::Send(b) => Some(b.as_slice()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .concat();
        c.send(&all, mode)?;
        let expected: Vec<&Expect> = t
            .steps
            .iter()
            .filter_map(|st| match st {
                Step::Expect(e) => Some(e),
                _ => None,
            })
            .collect();
        let rest = c.rest()?;
        let text = String::from_utf8_lossy(&rest).into_owned();
        if !text.is_empty() && !text.ends_with("\r\n") {
            return Err(format!("server output does not end in CRLF: {text:?}"));
        }
        let got: Vec<&str> = text.split_terminator("\r\n").collect();
        let ok =
            got.len() == expected.len() && expected.iter().zip(&got).all(|(e, g)| e.matches(g));
        if !ok {
            let mut msg = String::from("expected / got:\n");
            for i in 0..expected.len().max(got.len()) {
                let e = expected.get(i).map(|e| e.show()).unwrap_or_default();
                let g = got.get(i).copied().unwrap_or("<nothing>");
                let mark = if expected.get(i).is_some_and(|e| e.matches(g)) {
                    "  "
                } else {
                    "!!"
                };
                msg.push_str(&format!("{mark} {e:<50} | {g}\n"));
            }
            return Err(msg);
        }
        return Ok(());
    }
    for (i, step) in t.steps.iter().enumerate() {
        let at = |m: String, c: &Client| {
            format!("step {}: {m}\nserver lines so far: {:#?}", i + 1, c.seen)
        };
        match step {
            Step::Send(b) => c.send(b, mode).map_err(|m| at(m, &c))?,
            Step::Expect(e) => {
                let line = c
                    .line()
                    .map_err(|m| at(format!("{} : {m}", e.show()), &c))?;
                if !e.matches(&line) {
                    return Err(at(format!("expected {}\n got     {line}", e.show()), &c));
                }
            }
            Step::Tls => c.start_tls(&s.cert()).map_err(|m| at(m, &c))?,
            Step::Closed => {
                let rest = c.rest().map_err(|m| at(m, &c))?;
                if !rest.is_empty() {
                    return Err(at(
                        format!(
                            "unexpected output before the close: {:?}",
                            show_bytes(&rest)
                        ),
                        &c,
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Runs `config set` for a transcript; the second call returns only after the server reloaded
/// the settings changed by the first (the control socket serves one request at a time).
fn configure(s: &Server, t: &Transcript, set: bool) {
    for (k, v) in &t.config {
        if set {
            s.data.cli_ok(&["config", "set", k, v]);
        } else {
            s.data.cli_ok(&["config", "unset", k]);
        }
    }
    if !t.config.is_empty() {
        s.data.cli_ok(&["config", "list"]);
    }
}

fn inboxes(s: &Server) -> Vec<Vec<u32>> {
    USERS.iter().map(|u| s.data.uids(u, "INBOX")).collect()
}

fn check_stored(s: &Server, t: &Transcript, before: &[Vec<u32>]) -> Result<(), String> {
    let after = inboxes(s);
    let mut problems = Vec::new();
    for (ui, user) in USERS.iter().enumerate() {
        let new: Vec<u32> = after[ui]
            .iter()
            .copied()
            .filter(|u| !before[ui].contains(u))
            .collect();
        let wanted = t.stored.iter().filter(|st| st.user == *user).count();
        if new.len() != wanted {
            problems.push(format!(
                "{user} INBOX got {} new message(s) (UIDs {new:?}), the transcript names {wanted}",
                new.len()
            ));
        }
    }
    for st in &t.stored {
        let ui = USERS.iter().position(|u| *u == st.user).unwrap();
        let new: Vec<u32> = after[ui]
            .iter()
            .copied()
            .filter(|u| !before[ui].contains(u))
            .collect();
        let Some(&uid) = new.get(st.nth - 1) else {
            problems.push(format!(
                "{} {}: no message #{} (new UIDs {new:?})",
                st.user, st.mailbox, st.nth
            ));
            continue;
        };
        let raw = s.data.show(&st.user, &st.mailbox, uid);
        let body = strip_trace(&raw);
        if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
            std::fs::write(&st.golden, body).expect("write golden");
            continue;
        }
        let golden = std::fs::read(&st.golden).unwrap_or_else(|e| {
            panic!("{}: {e} (UPDATE_GOLDEN=1 creates it)", st.golden.display())
        });
        if golden != body {
            let actual = PathBuf::from(format!("{}.actual", st.golden.display()));
            std::fs::write(&actual, body).expect("write .actual");
            problems.push(format!(
                "{} {} #{}: differs from {} (see {})",
                st.user,
                st.mailbox,
                st.nth,
                st.golden.display(),
                actual.display()
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

fn transcripts(dir: &str) -> Vec<Transcript> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/transcripts")
        .join(dir);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "t"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| parse(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect()
}

/// Runs every transcript of `dir` that fits `mode` against one fresh server.
fn run_dir(dir: &str, mode: Mode, tls_only: bool) {
    let all = transcripts(dir);
    let chosen: Vec<&Transcript> = all
        .iter()
        .filter(|t| {
            if tls_only {
                t.uses_tls()
            } else {
                !t.uses_tls()
            }
        })
        .collect();
    assert!(
        !chosen.is_empty(),
        "no {} transcripts under tests/transcripts/{dir}",
        if tls_only { "TLS" } else { "plain" }
    );
    let s = Server::start(USERS);
    let mut failures = Vec::new();
    let mut before = inboxes(&s);
    for t in &chosen {
        configure(&s, t, true);
        let played = play(&s, t, mode);
        configure(&s, t, false);
        let stored = check_stored(&s, t, &before);
        before = inboxes(&s);
        for r in [played, stored] {
            if let Err(e) = r {
                failures.push(format!("--- {dir}/{} ({mode:?}):\n{e}", t.name()));
            }
        }
    }
    let log = s.log();
    assert!(!log.contains("panicked"), "the server panicked:\n{log}");
    assert!(
        failures.is_empty(),
        "{} of {} transcripts failed:\n{}",
        failures.len(),
        chosen.len(),
        failures.join("\n")
    );
    eprintln!("{dir}: {} transcripts passed ({mode:?})", chosen.len());
}

#[test]
fn mx_transcripts_pipelined_in_one_write() {
    run_dir("mx", Mode::Whole, false);
}

#[test]
fn mx_transcripts_line_by_line() {
    run_dir("mx", Mode::Lines, false);
}

#[test]
fn mx_transcripts_byte_by_byte() {
    run_dir("mx", Mode::Bytes, false);
}

#[test]
fn mx_starttls_transcripts_line_by_line() {
    run_dir("mx", Mode::Lines, true);
}

#[test]
fn transcript_escapes_decode() {
    assert_eq!(
        unescape(r#""a\r\n\0\\\"\x41\t""#).unwrap(),
        b"a\r\n\0\\\"A\t"
    );
    assert!(unescape(r#""\q""#).is_err());
    assert!(unescape("no quotes").is_err());
}

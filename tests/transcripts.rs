//! Transcript tests against the real binary (STYLE.md "Testing habits"): every `*.t` file under
//! `tests/transcripts/mx/` is played against the MX port of a running server, every file under
//! `tests/transcripts/imap/` against the IMAP port (143, or 993 with `=implicit-tls`), every file
//! under `tests/transcripts/pop3/` against the POP3 port (110, or 995 with `=implicit-tls`), in
//! three modes:
//! - whole: the client pipelines, writing everything it may send in one write and reading the
//!   answers only when it has to wait: for a continuation request (IMAP: a `+` line, RFC 9051
//!   §7.5; POP3: the `+ ` challenge of AUTH, RFC 5034 §4, never `+OK`), after announcing a
//!   synchronising literal (`{n}`, RFC 9051 §4.3), at `=tls`, after `=deliver` and at the close;
//!   an SMTP transcript is thus one write, and so is a POP3 one without AUTH challenges, TLS or
//!   deliveries (RFC 2449 §6.6 PIPELINING; POP3 has no literals);
//! - line by line: each `C` item is one write, then the `S` lines after it are read and compared;
//! - byte by byte: as line by line, but each byte is its own write (TCP_NODELAY), except the
//!   last `C` item before `=tls` (the STARTTLS injection tests need it in one piece).
//!
//! SMTP transcripts that switch to TLS (`=tls`) run line by line only; IMAP and POP3 ones run in
//! every mode. The client is rustls, trusting the server's self-signed certificate.
//!
//! File format, one item per line (blank lines are ignored):
//! - `# text` — a comment; every file starts with one citing the RFC section or attack covered.
//! - `=config key value` — before the first `C` line: `mailnook config set` for this transcript
//!   only (restored afterwards).
//! - `=implicit-tls` — before the first `C` line (IMAP and POP3): connect to the implicit-TLS port
//!   and do the handshake before the greeting.
//! - `C: text` — the client sends `text` plus CRLF.
//! - `C! "escaped"` — the client sends raw bytes; escapes are `\r \n \t \0 \\ \" \xNN`.
//! - `C* N "escaped"` — the client sends the escaped bytes repeated N times (long lines, big data).
//! - `S: text` — the next server line (without CRLF) must equal `text`. Literal data in IMAP
//!   responses is split into lines like any other output, and so is a POP3 multi-line response,
//!   as sent: dot-stuffed (`S: ..hidden`) and ended by `S: .`; a line that is not UTF-8 or holds
//!   control characters (binary data) is spelt in Rust's `escape_ascii` form.
//! - `S~ regex` — the next server line must match `regex` (whole line); only for ids and times.
//!   A named group (`(?P<uv>\d+)`) captures the value for later client lines, which spell it
//!   `${uv}` (QRESYNC needs the UIDVALIDITY the server chose); a pipelining client waits for the
//!   answers before a line that uses a captured value.
//! - `=tls` — the client does the TLS handshake here (after the server's answer to STARTTLS or
//!   STLS).
//! - `=deliver user file.eml` — (IMAP, POP3) once the client has read every line before it, the
//!   file next to the transcript is delivered to `user` over SMTP on the MX port (CRLF line ends,
//!   dot-stuffed); the client then reads the `S` lines that follow before sending more, so
//!   untagged data the delivery causes (IDLE) is awaited up to the read timeout. A POP3 session
//!   sees only what was delivered before its login (the maildrop is a snapshot), so POP3
//!   transcripts deliver right after the greeting. Sizes POP3 reports include the trace header
//!   the MX prepends, whose date has a one- or two-digit day: they are matched with `S~ (?:a|b)`.
//! - `=closed` — the server closes the connection here and sends nothing more; every transcript
//!   ends with it.
//! - `=stored user mailbox N file.eml` — checked once the connection is over: the N-th message
//!   (1-based, in UID order) equals the golden file next to the transcript byte for byte, below
//!   the trace headers the server prepends. For MX transcripts N counts the messages this
//!   transcript delivered to that INBOX; for IMAP and POP3 ones, the messages in the mailbox at
//!   the end. A mismatch writes `file.eml.actual`; `UPDATE_GOLDEN=1` rewrites the golden instead.
//!
//! Each mode gets its own server (users alice and bob; alice is the admin). After each MX
//! transcript the runner also checks that exactly as many messages arrived in each user's INBOX
//! as the file names with `=stored`, so a message that should have been refused (smuggling,
//! relay) fails the test even if every reply looked right. After each POP3 transcript each
//! user's INBOX must hold exactly the messages the file names with `=stored` (numbered 1..k), so
//! a QUIT that should have deleted (RFC 1939 §6 UPDATE) or kept messages is checked against the
//! store. Before each IMAP or POP3 transcript both users are deleted and added again, so every
//! such transcript starts from the mailboxes a new account has (UIDs from 1, MODSEQ from 1;
//! UIDVALIDITY differs, so it is matched with `S~`). The IMAP and POP3 servers allow logins
//! without TLS on loopback (`imap.plaintext_loopback 1`, `pop3.plaintext_loopback 1`, which a
//! transcript can set back to 0) and neither delays nor blocks failed logins.

mod common;
use common::*;

use regex::Regex;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

const USERS: &[&str] = &["alice@example.test", "bob@example.test"];
/// How long the runner waits for one server line (or for the close).
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The protocol a transcript directory speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Mx,
    Imap,
    Pop3,
}

impl Proto {
    fn of(dir: &str) -> Proto {
        match dir {
            "mx" => Proto::Mx,
            "imap" => Proto::Imap,
            "pop3" => Proto::Pop3,
            other => panic!("no runner for tests/transcripts/{other}"),
        }
    }

    /// Server settings for the whole run (transcripts may override them with `=config`).
    fn baseline(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Proto::Mx => &[],
            Proto::Imap => &[
                ("imap.plaintext_loopback", "1"),
                ("auth.delay_base_ms", "0"),
                ("auth.max_failures_per_ip", "100000"),
                ("auth.max_failures_per_account", "100000"),
            ],
            Proto::Pop3 => &[
                ("pop3.plaintext_loopback", "1"),
                ("auth.delay_base_ms", "0"),
                ("auth.max_failures_per_ip", "100000"),
                ("auth.max_failures_per_account", "100000"),
            ],
        }
    }

    /// Whether each transcript starts with new accounts (and `=deliver`, `=implicit-tls` work).
    fn has_mailboxes(self) -> bool {
        matches!(self, Proto::Imap | Proto::Pop3)
    }
}

#[derive(Debug, Clone)]
enum Expect {
    Exact(String),
    Pattern(Regex, String),
}

impl Expect {
    fn matches(&self, line: &str) -> bool {
        match self {
            Expect::Exact(s) => s == line,
            Expect::Pattern(re, _) => re.is_match(line),
        }
    }

    fn show(&self) -> String {
        match self {
            Expect::Exact(s) => format!("S: {s}"),
            Expect::Pattern(_, src) => format!("S~ {src}"),
        }
    }

    /// Records the named groups of a matching pattern (`(?P<name>...)`) for `${name}`.
    fn capture(&self, line: &str, vars: &mut Vars) {
        if let Expect::Pattern(re, _) = self
            && let Some(caps) = re.captures(line)
        {
            for name in re.capture_names().flatten() {
                if let Some(m) = caps.name(name) {
                    vars.insert(name.to_string(), m.as_str().to_string());
                }
            }
        }
    }

    /// A continuation request: the client waits for it before sending more. IMAP's start with
    /// `+` (RFC 9051 §7.5); POP3's is AUTH's `+ ` challenge (RFC 5034 §4), unlike `+OK`.
    fn is_continuation(&self, proto: Proto) -> bool {
        match (self, proto) {
            (Expect::Exact(s), Proto::Pop3) => s == "+" || s.starts_with("+ "),
            (Expect::Pattern(_, src), Proto::Pop3) => src.starts_with("\\+ "),
            (Expect::Exact(s), _) => s.starts_with('+'),
            (Expect::Pattern(_, src), _) => src.starts_with("\\+"),
        }
    }
}

/// Values captured from server lines, for `${name}` in later client lines.
type Vars = std::collections::HashMap<String, String>;

/// Replaces every `${name}` in client bytes with its captured value.
fn substitute(bytes: &[u8], vars: &Vars) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some(at) = rest.windows(2).position(|w| w == b"${") {
        out.extend_from_slice(&rest[..at]);
        let end = rest[at..]
            .iter()
            .position(|&b| b == b'}')
            .ok_or("unterminated ${")?;
        let name = String::from_utf8_lossy(&rest[at + 2..at + end]).into_owned();
        let value = vars
            .get(&name)
            .ok_or_else(|| format!("${{{name}}} was not captured by an earlier S~ line"))?;
        out.extend_from_slice(value.as_bytes());
        rest = &rest[at + end + 1..];
    }
    out.extend_from_slice(rest);
    Ok(out)
}

#[derive(Debug, Clone)]
enum Step {
    Send(Vec<u8>),
    Expect(Expect),
    Tls,
    Deliver { user: String, file: PathBuf },
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
    implicit_tls: bool,
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
        self.implicit_tls || self.steps.iter().any(|s| matches!(s, Step::Tls))
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

/// Whether `bytes` end with a synchronising literal announcement (`{n}` CRLF, RFC 9051 §4.3),
/// after which a client must wait for the server.
fn ends_with_sync_literal(bytes: &[u8]) -> bool {
    let Some(line) = bytes.strip_suffix(b"}\r\n") else {
        return false;
    };
    let Some(open) = line.iter().rposition(|&b| b == b'{') else {
        return false;
    };
    let digits = &line[open + 1..];
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

fn parse(path: &Path, proto: Proto) -> Result<Transcript, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let dir = path.parent().unwrap();
    let mut t = Transcript {
        path: path.to_path_buf(),
        config: Vec::new(),
        implicit_tls: false,
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
        let started = t.steps.iter().any(|s| matches!(s, Step::Send(_)));
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
                t.steps
                    .push(Step::Expect(Expect::Pattern(re, rest.to_string())));
            }
            _ => {
                let words: Vec<&str> = line.split_whitespace().collect();
                match words.as_slice() {
                    ["=tls"] => t.steps.push(Step::Tls),
                    ["=closed"] => t.steps.push(Step::Closed),
                    ["=implicit-tls"] => {
                        if !proto.has_mailboxes() || !t.steps.is_empty() {
                            return Err(err(
                                "=implicit-tls is for IMAP and POP3, before the first line".into(),
                            ));
                        }
                        t.implicit_tls = true;
                    }
                    ["=config", key, value] => {
                        if started {
                            return Err(err("=config must come before the first C line".into()));
                        }
                        t.config.push((key.to_string(), value.to_string()));
                    }
                    ["=deliver", user, file] => {
                        if !proto.has_mailboxes() {
                            return Err(err("=deliver is for IMAP and POP3 transcripts".into()));
                        }
                        t.steps.push(Step::Deliver {
                            user: user.to_string(),
                            file: dir.join(file),
                        });
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
        // Only INBOXes are snapshotted before each MX transcript (the MX delivers nowhere else);
        // POP3 sees nothing but INBOX.
        if proto != Proto::Imap && s.mailbox != "INBOX" {
            return Err(format!("=stored: only INBOX is checked, not {}", s.mailbox));
        }
    }
    for st in &t.steps {
        if let Step::Deliver { user, file } = st {
            if !USERS.contains(&user.as_str()) {
                return Err(format!("=deliver names unknown user {user}"));
            }
            if !file.is_file() {
                return Err(format!("=deliver: no file {}", file.display()));
            }
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

/// A server line as the transcript spells it: as is when it is UTF-8 without control
/// characters (tab aside), else in `escape_ascii` form (binary literal data).
fn printable(line: &[u8]) -> String {
    match std::str::from_utf8(line) {
        Ok(s) if !s.chars().any(|c| c.is_control() && c != '\t') => s.to_string(),
        _ => show_bytes(line),
    }
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let tcp = TcpStream::connect(addr).expect("connect to the server");
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
            // One write per `C` item (or per pipelined batch): a `C!` block is the client's one
            // write (e.g. the STARTTLS injection), split only in byte mode.
            Mode::Whole | Mode::Lines => self.conn.write_all(bytes),
            Mode::Bytes => bytes.chunks(1).try_for_each(|b| self.conn.write_all(b)),
        };
        match res {
            // The server closed first (BYE): what it sent before is still read, and `=closed`
            // checks the close.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                ) =>
            {
                Ok(())
            }
            r => r.map_err(|e| format!("sending {:?}: {e}", show_bytes(bytes))),
        }
    }

    /// Reads one CRLF-terminated line.
    fn line(&mut self) -> Result<String, String> {
        loop {
            if let Some(p) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..p + 2).take(p).collect();
                let line = printable(&line);
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
                // A reset after the server's last words (it closed with unread input): EOF.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(rest),
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
                "plaintext after the answer to STARTTLS: {:?}",
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

/// A message file as a client submits it: CRLF line ends, dot-stuffed, ending in CRLF.
fn smtp_data(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 64);
    let mut at_line_start = true;
    let mut prev = 0u8;
    for &b in raw {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        at_line_start = b == b'\n';
        prev = b;
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// Delivers `file` to `user` through the MX port, as a remote server would.
fn deliver(s: &Server, user: &str, file: &Path) -> Result<(), String> {
    let raw = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut smtp = s.connect();
    for (cmd, want) in [
        ("EHLO client.test".to_string(), "250"),
        ("MAIL FROM:<sender@remote.test>".to_string(), "250"),
        (format!("RCPT TO:<{user}>"), "250"),
        ("DATA".to_string(), "354"),
    ] {
        let reply = smtp.cmd(&cmd);
        if !reply.lines().last().unwrap_or("").starts_with(want) {
            return Err(format!("delivering {}: {cmd} -> {reply}", file.display()));
        }
    }
    smtp.send(&smtp_data(&raw));
    let reply = smtp.reply();
    if !reply.starts_with("250") {
        return Err(format!(
            "delivering {}: end of data -> {reply}",
            file.display()
        ));
    }
    smtp.cmd("QUIT");
    Ok(())
}

/// Compares what the server sent with what the transcript expects, as a table on mismatch.
fn compare(expected: &[&Expect], got: &[String], vars: &mut Vars) -> Result<(), String> {
    let ok = got.len() == expected.len() && expected.iter().zip(got).all(|(e, g)| e.matches(g));
    if ok {
        for (e, g) in expected.iter().zip(got) {
            e.capture(g, vars);
        }
        return Ok(());
    }
    let mut msg = String::from("expected / got:\n");
    for i in 0..expected.len().max(got.len()) {
        let e = expected.get(i).map(|e| e.show()).unwrap_or_default();
        let g = got.get(i).map(String::as_str).unwrap_or("<nothing>");
        let mark = if expected.get(i).is_some_and(|e| e.matches(g)) {
            "  "
        } else {
            "!!"
        };
        msg.push_str(&format!("{mark} {e:<50} | {g}\n"));
    }
    Err(msg)
}

/// A pipelining client's batch: bytes not yet written and the lines expected for them.
#[derive(Default)]
struct Batch<'t> {
    send: Vec<u8>,
    expect: Vec<&'t Expect>,
    /// The client must read the expected lines before it writes again.
    wait: bool,
}

impl<'t> Batch<'t> {
    /// Writes the batch in one write and reads the lines it expects (`close`: and then EOF).
    fn flush(&mut self, c: &mut Client, close: bool, vars: &mut Vars) -> Result<(), String> {
        if !self.send.is_empty() {
            c.send(&std::mem::take(&mut self.send), Mode::Whole)?;
        }
        let expect = std::mem::take(&mut self.expect);
        self.wait = false;
        let got: Vec<String> = if close {
            let rest = c.rest()?;
            if !rest.is_empty() && !rest.ends_with(b"\r\n") {
                return Err(format!(
                    "server output does not end in CRLF: {:?}",
                    show_bytes(&rest)
                ));
            }
            // Split like `Client::line`, so binary literal data is spelt the same in every mode.
            let mut lines = Vec::new();
            let mut rest = &rest[..];
            while let Some(p) = rest.windows(2).position(|w| w == b"\r\n") {
                lines.push(printable(&rest[..p]));
                rest = &rest[p + 2..];
            }
            lines
        } else {
            let mut got = Vec::new();
            for _ in &expect {
                match c.line() {
                    Ok(l) => got.push(l),
                    Err(e) => {
                        got.push(format!("<{e}>"));
                        break;
                    }
                }
            }
            got
        };
        compare(&expect, &got, vars)
    }
}

/// Plays the connection part of a transcript.
fn play(s: &Server, t: &Transcript, proto: Proto, mode: Mode) -> Result<(), String> {
    let addr = match (proto, t.implicit_tls) {
        (Proto::Mx, _) => s.mx(),
        (Proto::Imap, false) => s.imap(),
        (Proto::Imap, true) => s.imaps(),
        (Proto::Pop3, false) => s.pop3(),
        (Proto::Pop3, true) => s.pop3s(),
    };
    let mut c = Client::connect(addr);
    if t.implicit_tls {
        c.start_tls(&s.cert())?;
    }
    let mut batch = Batch::default();
    let mut vars = Vars::new();
    for (i, step) in t.steps.iter().enumerate() {
        let at = |m: String, c: &Client| {
            format!("step {}: {m}\nserver lines so far: {:#?}", i + 1, c.seen)
        };
        if mode == Mode::Whole {
            let r = match step {
                Step::Send(b) => {
                    // A line using a captured value needs the answer it comes from.
                    let r = if batch.wait || b.windows(2).any(|w| w == b"${") {
                        batch.flush(&mut c, false, &mut vars)
                    } else {
                        Ok(())
                    };
                    r.and_then(|_| {
                        batch.send.extend(substitute(b, &vars)?);
                        batch.wait = ends_with_sync_literal(b);
                        Ok(())
                    })
                }
                Step::Expect(e) => {
                    batch.expect.push(e);
                    batch.wait |= e.is_continuation(proto);
                    Ok(())
                }
                Step::Tls => batch
                    .flush(&mut c, false, &mut vars)
                    .and_then(|_| c.start_tls(&s.cert())),
                Step::Deliver { user, file } => {
                    batch.flush(&mut c, false, &mut vars).and_then(|_| {
                        batch.wait = true;
                        deliver(s, user, file)
                    })
                }
                Step::Closed => batch.flush(&mut c, true, &mut vars),
            };
            r.map_err(|m| at(m, &c))?;
            continue;
        }
        match step {
            Step::Send(b) => {
                // The last write before STARTTLS's handshake is one piece even byte by byte:
                // the server drops what it read with STARTTLS, but bytes arriving one at a time
                // after its answer would be taken for the handshake.
                let before_tls = matches!(
                    t.steps[i + 1..]
                        .iter()
                        .find(|s| !matches!(s, Step::Expect(_))),
                    Some(Step::Tls)
                );
                let m = if before_tls { Mode::Lines } else { mode };
                let b = substitute(b, &vars).map_err(|m| at(m, &c))?;
                c.send(&b, m).map_err(|m| at(m, &c))?
            }
            Step::Expect(e) => {
                let line = c
                    .line()
                    .map_err(|m| at(format!("{} : {m}", e.show()), &c))?;
                if !e.matches(&line) {
                    return Err(at(format!("expected {}\n got     {line}", e.show()), &c));
                }
                e.capture(&line, &mut vars);
            }
            Step::Tls => c.start_tls(&s.cert()).map_err(|m| at(m, &c))?,
            Step::Deliver { user, file } => deliver(s, user, file).map_err(|m| at(m, &c))?,
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

/// Runs `config set` for a transcript (`set`), or restores the run's settings afterwards; the
/// second call returns only after the server reloaded the settings changed by the first (the
/// control socket serves one request at a time).
fn configure(s: &Server, t: &Transcript, proto: Proto, set: bool) {
    for (k, v) in &t.config {
        let base = proto.baseline().iter().find(|(bk, _)| bk == k);
        match (set, base) {
            (true, _) => s.data.cli_ok(&["config", "set", k, v]),
            (false, Some((_, bv))) => s.data.cli_ok(&["config", "set", k, bv]),
            (false, None) => s.data.cli_ok(&["config", "unset", k]),
        };
    }
    if !t.config.is_empty() {
        s.data.cli_ok(&["config", "list"]);
    }
}

/// Deletes and re-adds the users, so an IMAP or POP3 transcript starts from a new account's
/// mailboxes.
fn fresh_users(s: &Server) {
    for u in USERS {
        s.data.cli_ok(&["user", "del", u]);
        s.data.cli_ok(&["user", "add", u, "--password", PASSWORD]);
    }
}

fn inboxes(s: &Server) -> Vec<Vec<u32>> {
    USERS.iter().map(|u| s.data.uids(u, "INBOX")).collect()
}

/// Compares the `=stored` messages with their goldens and checks the INBOX counts: for MX
/// transcripts that no other message arrived, for POP3 ones that the INBOXes hold exactly the
/// messages named (what QUIT deleted is gone, the rest is still there).
fn check_stored(
    s: &Server,
    t: &Transcript,
    proto: Proto,
    before: &[Vec<u32>],
) -> Result<(), String> {
    let mut problems = Vec::new();
    let after = inboxes(s);
    if proto == Proto::Mx {
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
    }
    if proto == Proto::Pop3 {
        for (ui, user) in USERS.iter().enumerate() {
            let wanted = t.stored.iter().filter(|st| st.user == *user).count();
            if after[ui].len() != wanted {
                problems.push(format!(
                    "{user} INBOX holds {} message(s) (UIDs {:?}), the transcript names {wanted}",
                    after[ui].len(),
                    after[ui]
                ));
            }
        }
    }
    for st in &t.stored {
        let candidates: Vec<u32> = match proto {
            Proto::Mx => {
                let ui = USERS.iter().position(|u| *u == st.user).unwrap();
                after[ui]
                    .iter()
                    .copied()
                    .filter(|u| !before[ui].contains(u))
                    .collect()
            }
            Proto::Imap | Proto::Pop3 => s.data.uids(&st.user, &st.mailbox),
        };
        let Some(&uid) = candidates.get(st.nth - 1) else {
            problems.push(format!(
                "{} {}: no message #{} (UIDs {candidates:?})",
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
    // TRANSCRIPT=substring runs only the matching files (while writing one).
    if let Ok(only) = std::env::var("TRANSCRIPT") {
        paths.retain(|p| p.to_string_lossy().contains(&only));
    }
    paths
        .iter()
        .map(|p| parse(p, Proto::of(dir)).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect()
}

/// Which transcripts of a directory a test runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pick {
    Plain,
    Tls,
    All,
}

/// Runs every transcript of `dir` that `pick` selects against one fresh server.
fn run_dir(dir: &str, mode: Mode, pick: Pick) {
    let proto = Proto::of(dir);
    let all = transcripts(dir);
    let chosen: Vec<&Transcript> = all
        .iter()
        .filter(|t| match pick {
            Pick::Plain => !t.uses_tls(),
            Pick::Tls => t.uses_tls(),
            Pick::All => true,
        })
        .collect();
    if std::env::var("TRANSCRIPT").is_ok() && chosen.is_empty() {
        return;
    }
    assert!(
        !chosen.is_empty(),
        "no {pick:?} transcripts under tests/transcripts/{dir}"
    );
    let data = DataDir::new(USERS);
    for (k, v) in proto.baseline() {
        data.cli_ok(&["config", "set", k, v]);
    }
    let s = Server::serve(data);
    let mut failures = Vec::new();
    let mut before = inboxes(&s);
    for t in &chosen {
        if proto.has_mailboxes() {
            fresh_users(&s);
            before = inboxes(&s);
        }
        configure(&s, t, proto, true);
        let played = play(&s, t, proto, mode);
        configure(&s, t, proto, false);
        let stored = check_stored(&s, t, proto, &before);
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
    run_dir("mx", Mode::Whole, Pick::Plain);
}

#[test]
fn mx_transcripts_line_by_line() {
    run_dir("mx", Mode::Lines, Pick::Plain);
}

#[test]
fn mx_transcripts_byte_by_byte() {
    run_dir("mx", Mode::Bytes, Pick::Plain);
}

#[test]
fn mx_starttls_transcripts_line_by_line() {
    run_dir("mx", Mode::Lines, Pick::Tls);
}

#[test]
fn imap_transcripts_pipelined() {
    run_dir("imap", Mode::Whole, Pick::All);
}

#[test]
fn imap_transcripts_line_by_line() {
    run_dir("imap", Mode::Lines, Pick::All);
}

#[test]
fn imap_transcripts_byte_by_byte() {
    run_dir("imap", Mode::Bytes, Pick::All);
}

#[test]
fn pop3_transcripts_pipelined() {
    run_dir("pop3", Mode::Whole, Pick::All);
}

#[test]
fn pop3_transcripts_line_by_line() {
    run_dir("pop3", Mode::Lines, Pick::All);
}

#[test]
fn pop3_transcripts_byte_by_byte() {
    run_dir("pop3", Mode::Bytes, Pick::All);
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

#[test]
fn pipelining_waits_after_synchronising_literals_only() {
    assert!(ends_with_sync_literal(b"a1 LOGIN {5}\r\n"));
    assert!(!ends_with_sync_literal(b"a1 LOGIN {5+}\r\n"));
    assert!(!ends_with_sync_literal(b"a1 LOGIN {}\r\n"));
    assert!(!ends_with_sync_literal(b"a1 NOOP\r\n"));
    let data = smtp_data(b"a\n.b\r\n..\n");
    assert_eq!(data, b"a\r\n..b\r\n...\r\n.\r\n");
}

#[test]
fn pop3_pipelining_waits_for_auth_challenges_not_ok_lines() {
    let exact = |s: &str| Expect::Exact(s.to_string());
    let pattern = |s: &str| Expect::Pattern(Regex::new(s).unwrap(), s.to_string());
    assert!(exact("+ ").is_continuation(Proto::Pop3));
    assert!(!exact("+OK").is_continuation(Proto::Pop3));
    assert!(!exact("+OK Logged in, 0 messages (0 octets)").is_continuation(Proto::Pop3));
    assert!(!pattern(r"\+OK 2 \d+").is_continuation(Proto::Pop3));
    assert!(exact("+ idling").is_continuation(Proto::Imap));
    assert!(!exact("a1 OK").is_continuation(Proto::Imap));
}

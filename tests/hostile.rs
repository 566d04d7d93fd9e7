//! Hostile clients on every port of the real binary, over raw sockets: slowloris (silent and
//! dribbling clients; silent ones on the implicit-TLS ports too), megabyte command lines, TLS
//! handshake garbage, half-open connections and clients whose unread answers block the server's
//! writes, one address over its connection cap on every port, IMAP commands and APPEND
//! messages dribbled after login, login brute force across
//! IMAP, POP3 and the web page, IMAP literal floods, BDAT
//! floods and 2000-connection floods over SMTP, IMAP and POP3, plaintext and implicit TLS. Every test sets short timeouts
//! with `config set` before the server starts, asserts the protocol's exact reply where it
//! defines one, and checks that the server still answers a fresh client afterwards. The MX-only
//! attacks (connection caps, DATA timeouts, STARTTLS injection) are in `tests/smtp_attacks.rs`,
//! submission AUTH brute force in `tests/submission_attacks.rs`.

mod common;
use common::*;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const ALICE: &str = "alice@example.test";
const SMTP_GREETING: &str = "220 mx.example.test ESMTP mailnook";
const SMTP_TIMEOUT: &str = "421 4.4.2 Timeout, closing connection";
const SMTP_BUSY: &str = "421 4.7.0 Too many connections, try again later";
const IMAP_BYE_IDLE: &str = "* BYE Autologout; idle for too long";
const IMAP_BUSY: &str = "* BYE [UNAVAILABLE] Too many connections, try again later";
const POP3_GREETING: &str = "+OK mailnook POP3 ready";
const POP3_IDLE: &str = "-ERR Autologout; idle for too long";
const POP3_BUSY: &str = "-ERR [SYS/TEMP] Too many connections, try again later";
const SIEVE_IDLE: &str = "BYE \"Disconnected for inactivity\"";
const HTTP_TIMEOUT: &str = "HTTP/1.1 408 Request Timeout";
const SIEVE_BUSY: &str = "BYE (TRYLATER) \"Too many connections, try again later\"";
const HTTP_BUSY: &str = "HTTP/1.1 503 Service Unavailable";

/// A data folder with alice and the given settings applied before the server starts.
fn server_with(settings: &[(&str, &str)]) -> Server {
    let data = DataDir::new(&[ALICE]);
    for (k, v) in settings {
        data.cli_ok(&["config", "set", k, v]);
    }
    Server::serve(data)
}

/// The plaintext ports and what each says first (None: the client speaks first).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Port {
    Mx,
    Submission,
    Imap,
    Pop3,
    Sieve,
    Http,
}

const PLAIN_PORTS: [Port; 6] = [
    Port::Mx,
    Port::Submission,
    Port::Imap,
    Port::Pop3,
    Port::Sieve,
    Port::Http,
];

impl Port {
    fn addr(self, s: &Server) -> SocketAddr {
        let offset = match self {
            Port::Mx => 25,
            Port::Submission => 587,
            Port::Imap => 143,
            Port::Pop3 => 110,
            Port::Sieve => 4190,
            Port::Http => 80,
        };
        SocketAddr::from(([127, 0, 0, 1], s.port_base + offset))
    }

    /// Whether `line` is this port's greeting (its last line for ManageSieve).
    fn is_greeting(self, line: &str) -> bool {
        match self {
            Port::Mx | Port::Submission => line == SMTP_GREETING,
            Port::Imap => {
                line.starts_with("* OK [CAPABILITY ") && line.ends_with("] mailnook ready")
            }
            Port::Pop3 => line.starts_with(POP3_GREETING),
            Port::Sieve => line.starts_with("OK"),
            Port::Http => true,
        }
    }

    /// The timeout [`SHORT_TIMEOUTS`] sets for this port, in seconds.
    fn timeout_secs(self) -> u64 {
        match self {
            Port::Pop3 => 30,
            Port::Sieve => 10,
            _ => 5,
        }
    }

    /// What the server says to a connection over a connection cap, before closing it.
    fn busy_reply(self) -> &'static str {
        match self {
            Port::Mx | Port::Submission => SMTP_BUSY,
            Port::Imap => IMAP_BUSY,
            Port::Pop3 => POP3_BUSY,
            Port::Sieve => SIEVE_BUSY,
            Port::Http => HTTP_BUSY,
        }
    }

    /// What the server says when a command line takes too long.
    fn timeout_reply(self) -> &'static str {
        match self {
            Port::Mx | Port::Submission => SMTP_TIMEOUT,
            Port::Imap => IMAP_BYE_IDLE,
            Port::Pop3 => POP3_IDLE,
            Port::Sieve => SIEVE_IDLE,
            Port::Http => HTTP_TIMEOUT,
        }
    }
}

/// A raw line reader over one connection.
struct Raw {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Raw {
    fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream
            .set_write_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Raw { stream, reader }
    }

    /// Connects and reads the port's whole greeting; panics on anything else.
    fn greeted(port: Port, s: &Server) -> Raw {
        let mut c = Raw::connect(port.addr(s));
        c.greeting(port);
        c
    }

    fn greeting(&mut self, port: Port) {
        if port == Port::Http {
            return;
        }
        loop {
            let line = self.line();
            if port != Port::Sieve || line.starts_with("OK") {
                assert!(port.is_greeting(&line), "{port:?} greeting: {line:?}");
                return;
            }
        }
    }

    /// One line without its CRLF; empty at end of stream.
    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read a line");
        line.trim_end_matches(['\r', '\n']).to_string()
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Sends a line and returns the first line of the answer.
    fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.line()
    }

    /// Reads until the server closes; panics if it does not within the read timeout.
    fn rest(&mut self) -> Vec<u8> {
        let mut rest = Vec::new();
        self.reader
            .read_to_end(&mut rest)
            .expect("server closes the connection");
        rest
    }
}

/// The server's resident set size in KiB (`VmRSS` of /proc/PID/status).
fn rss_kib(s: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", s.pid())).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Asserts the server's RSS is at most `max_kib` above `before`, and prints both.
fn rss_grew_at_most(s: &Server, what: &str, before: u64, max_kib: u64) {
    let now = rss_kib(s);
    println!("{what}: server RSS {before} KiB before, {now} KiB now");
    assert!(
        now < before + max_kib,
        "{what}: RSS grew from {before} KiB to {now} KiB"
    );
}

/// Asserts a fresh client on every plaintext port is greeted (the server still answers).
fn all_ports_answer(s: &Server) {
    for port in PLAIN_PORTS {
        let mut c = Raw::greeted(port, s);
        if port == Port::Http {
            c.send(b"GET / HTTP/1.1\r\nHost: mx.example.test\r\nConnection: close\r\n\r\n");
            let status = c.line();
            assert!(status.starts_with("HTTP/1.1 "), "{status}");
        }
    }
}

/// Each role's timeout at the lowest value its setting allows (POP3's keeps RFC 1939 §3 in
/// sight, ManageSieve's likewise).
const SHORT_TIMEOUTS: &[(&str, &str)] = &[
    ("smtp.command_timeout_secs", "5"),
    ("imap.login_timeout_secs", "5"),
    ("pop3.timeout_secs", "30"),
    ("managesieve.timeout_secs", "10"),
    ("web.timeout_secs", "5"),
    ("net.tls_handshake_secs", "5"),
];

#[test]
fn slowloris_silent_and_dribbling_clients_are_cut_off_on_every_port() {
    let mut s = server_with(SHORT_TIMEOUTS);
    let started = Instant::now();
    let mut threads = Vec::new();
    for port in PLAIN_PORTS {
        for dribble in [false, true] {
            let addr = port.addr(&s);
            threads.push(std::thread::spawn(move || {
                let mut c = Raw::connect(addr);
                c.stream
                    .set_read_timeout(Some(Duration::from_secs(45)))
                    .unwrap();
                c.greeting(port);
                let start = Instant::now();
                if dribble {
                    // One byte every 300 ms: every read arrives well inside the timeout, but the
                    // line never ends.
                    let mut w = c.stream.try_clone().unwrap();
                    let byte: &[u8] = if port == Port::Http { b"G" } else { b"a" };
                    std::thread::spawn(move || {
                        while w.write_all(byte).is_ok() {
                            std::thread::sleep(Duration::from_millis(300));
                        }
                    });
                }
                let rest = c.rest();
                let waited = start.elapsed();
                let text = String::from_utf8_lossy(&rest).into_owned();
                let first = text.lines().next().unwrap_or("").to_string();
                (port, dribble, waited, first)
            }));
        }
    }
    // Meanwhile a fresh client on every port is answered.
    std::thread::sleep(Duration::from_millis(500));
    all_ports_answer(&s);
    for t in threads {
        let (port, dribble, waited, first) = t.join().expect("client thread");
        let want = Duration::from_secs(port.timeout_secs());
        assert!(
            waited >= want - Duration::from_millis(500) && waited < want + Duration::from_secs(4),
            "{port:?} (dribbling: {dribble}) cut off after {waited:?}, want {want:?}"
        );
        // A silent HTTP client just loses its connection; everything else hears why.
        if port == Port::Http && !dribble {
            assert_eq!(first, "", "silent HTTP client");
        } else {
            assert_eq!(first, port.timeout_reply(), "{port:?} dribbling: {dribble}");
        }
    }
    assert!(started.elapsed() < Duration::from_secs(40));
    all_ports_answer(&s);
    s.assert_alive();
}

#[test]
fn megabyte_command_lines_are_refused_without_memory_growth() {
    let mut s = server_with(SHORT_TIMEOUTS);
    all_ports_answer(&s);
    let before = rss_kib(&s);
    let big = vec![b'x'; 1 << 20];
    for port in PLAIN_PORTS {
        for crlf in [true, false] {
            let started = Instant::now();
            let mut c = Raw::greeted(port, &s);
            let prefix: &[u8] = match port {
                Port::Imap => b"a1 LOGIN ",
                Port::Http => b"GET /",
                _ => b"",
            };
            // The server may close while the line is still being written: a refusal too.
            let mut w = c.stream.try_clone().unwrap();
            let payload = [prefix, &big, if crlf { &b"\r\n"[..] } else { b"" }].concat();
            let writer = std::thread::spawn(move || w.write_all(&payload).is_ok());
            let first = c.line();
            let _ = writer.join();
            let expected = match port {
                Port::Mx | Port::Submission => "500 5.5.2 Line too long",
                Port::Imap => "a1 BAD Command too long",
                Port::Pop3 => "-ERR Line too long",
                // ManageSieve answers a line too long at its end; without one, the command
                // timeout ends the connection.
                Port::Sieve if crlf => "NO \"Line too long\"",
                Port::Sieve => SIEVE_IDLE,
                Port::Http => "HTTP/1.1 431 Request Header Fields Too Large",
            };
            assert!(
                first == expected || first.is_empty(),
                "{port:?} (CRLF: {crlf}): {first:?}"
            );
            assert!(
                started.elapsed() < Duration::from_secs(port.timeout_secs() + 5),
                "{port:?} took {:?}",
                started.elapsed()
            );
        }
    }
    all_ports_answer(&s);
    // Twelve megabytes went in; bounded buffers keep the growth to allocator noise.
    rss_grew_at_most(&s, "megabyte lines", before, 8 * 1024);
    s.assert_alive();
}

/// The first bytes of a TLS 1.2 ClientHello record whose body never arrives.
const TRUNCATED_HELLO: &[u8] = &[
    0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x5a, 0x5a, 0x5a, 0x5a,
];
/// An SSLv2-style CLIENT-HELLO (RFC 6101 appendix E.2), which no modern server accepts.
const SSLV2_HELLO: &[u8] = &[
    0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10, 0x07, 0x00, 0xc0, 0x05, 0x00,
    0x80, 0x03, 0x00, 0x80, 0x01, 0x00, 0x80, 0x06, 0x00, 0x40, 0x04, 0x00, 0x80, 0x02, 0x00, 0x80,
    0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
    0x0e, 0x0f,
];

/// Pseudo-random bytes (xorshift), the same every run.
fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Sends `garbage` where a ClientHello belongs, ends the write side, and asserts the server
/// closes within bounds, with at most a TLS alert (content type 21) and never plaintext.
fn garbage_is_closed(mut c: Raw, garbage: &[u8], what: &str) {
    let started = Instant::now();
    let _ = c.stream.write_all(garbage);
    let _ = c.stream.shutdown(Shutdown::Write);
    let mut rest = Vec::new();
    // A reset is a close too.
    let _ = c.reader.read_to_end(&mut rest);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{what}: open for {:?}",
        started.elapsed()
    );
    assert!(
        rest.is_empty() || rest[0] == 0x15,
        "{what}: answered {:?}",
        rest.escape_ascii().to_string()
    );
}

/// A TLS session over `tcp`, handshaken with the server's certificate verified; the handshake's
/// error when it fails (the server also closes an implicit-TLS connection over its cap so).
fn tls_session(
    s: &Server,
    tcp: TcpStream,
) -> std::io::Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
    let name = rustls::pki_types::ServerName::try_from(HOSTNAME).unwrap();
    let conn = rustls::ClientConnection::new(tls_client_config(&s.cert()), name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(tls)
}

/// A full TLS handshake on `addr` with the server's certificate verified.
fn tls_handshake_works(s: &Server, addr: SocketAddr) {
    if let Err(e) = tls_session(s, Raw::connect(addr).stream) {
        panic!("handshake on {addr}: {e}");
    }
}

#[test]
fn tls_handshake_garbage_is_closed_on_every_tls_port() {
    let mut s = server_with(SHORT_TIMEOUTS);
    let implicit = [
        s.submissions(),
        s.imaps(),
        s.pop3s(),
        SocketAddr::from(([127, 0, 0, 1], s.port_base + 443)),
    ];
    let garbage: [(&str, Vec<u8>); 3] = [
        ("random bytes", noise(4096)),
        ("truncated ClientHello", TRUNCATED_HELLO.to_vec()),
        ("SSLv2 hello", SSLV2_HELLO.to_vec()),
    ];
    // Clients that open a TLS port and say nothing are closed at the handshake deadline
    // (`net.tls_handshake_secs`, 5 s here), without a byte.
    let silent: Vec<_> = implicit
        .iter()
        .map(|&addr| {
            std::thread::spawn(move || {
                let mut c = Raw::connect(addr);
                c.stream
                    .set_read_timeout(Some(Duration::from_secs(20)))
                    .unwrap();
                let start = Instant::now();
                let mut rest = Vec::new();
                let _ = c.reader.read_to_end(&mut rest);
                (addr, start.elapsed(), rest)
            })
        })
        .collect();
    for addr in implicit {
        for (what, bytes) in &garbage {
            garbage_is_closed(Raw::connect(addr), bytes, &format!("{addr} {what}"));
        }
        tls_handshake_works(&s, addr);
    }
    // After the STARTTLS/STLS go-ahead of each plaintext protocol.
    let starttls: [(Port, &str, &str); 4] = [
        (Port::Submission, "STARTTLS", "220 2.0.0 Ready to start TLS"),
        (Port::Imap, "a STARTTLS", "a OK Begin TLS negotiation now"),
        (Port::Pop3, "STLS", "+OK Begin TLS negotiation"),
        (Port::Sieve, "STARTTLS", "OK"),
    ];
    for (port, command, go) in starttls {
        for (what, bytes) in &garbage {
            let mut c = Raw::greeted(port, &s);
            if port == Port::Submission {
                c.send(b"EHLO client.test\r\n");
                while c.line().starts_with("250-") {}
            }
            let answer = c.cmd(command);
            assert!(answer.starts_with(go), "{port:?} {command}: {answer}");
            garbage_is_closed(c, bytes, &format!("{port:?} after {command}: {what}"));
        }
    }
    all_ports_answer(&s);
    for addr in implicit {
        tls_handshake_works(&s, addr);
    }
    for t in silent {
        let (addr, waited, rest) = t.join().expect("silent client");
        assert!(
            waited >= Duration::from_millis(4900) && waited < Duration::from_secs(15),
            "silent client on {addr} closed after {waited:?}"
        );
        assert!(rest.is_empty(), "{addr} sent {rest:?} to a silent client");
    }
    s.assert_alive();
}

#[test]
fn half_open_connections_do_not_starve_others_and_are_freed_by_timeout() {
    const HALF_OPEN: usize = 300;
    raise_open_file_limit();
    let mut settings = SHORT_TIMEOUTS.to_vec();
    settings.extend([("net.max_conns", "340"), ("net.max_conns_per_ip", "1000")]);
    let mut s = server_with(&settings);
    let ports = [Port::Mx, Port::Submission, Port::Imap];
    // Clients that never read a byte, half of them also closing their write side.
    let held: Vec<TcpStream> = (0..HALF_OPEN)
        .map(|i| {
            let t = TcpStream::connect(ports[i % 3].addr(&s)).expect("connect");
            if i % 2 == 0 {
                t.shutdown(Shutdown::Write).unwrap();
            }
            t
        })
        .collect();
    // The other 40 slots still serve.
    all_ports_answer(&s);
    // After the 5 s timeouts every one of them is gone: 300 new clients fit under the cap of 340.
    std::thread::sleep(Duration::from_secs(8));
    let fresh: Vec<Raw> = (0..HALF_OPEN)
        .map(|i| Raw::greeted(ports[i % 3], &s))
        .collect();
    drop(fresh);
    drop(held);
    s.assert_alive();
}

#[test]
fn clients_that_never_read_are_dropped_when_output_blocks() {
    // Each client pipelines 100 000 EHLOs (800 KB) and reads nothing: their answers (about 20 MB
    // each) fill the socket buffers, the server's write waits, and smtp.command_timeout_secs
    // (5 s, also the write deadline) ends the connection.
    const CLIENTS: usize = 4;
    let mut s = server_with(SHORT_TIMEOUTS);
    let before = rss_kib(&s);
    let started = Instant::now();
    let flood = b"EHLO client.test\r\n".repeat(100_000);
    let writers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let flood = flood.clone();
            let mut t = Raw::connect(s.mx()).stream;
            t.set_write_timeout(Some(Duration::from_secs(40))).unwrap();
            std::thread::spawn(move || {
                let result = t.write_all(&flood);
                // Keep the socket open (and unread) until the server gives up on it.
                while result.is_ok() && t.write(b"NOOP\r\n").is_ok() {
                    std::thread::sleep(Duration::from_millis(200));
                }
                result.map_err(|e| e.kind())
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    all_ports_answer(&s);
    rss_grew_at_most(&s, "blocked output", before, 16 * 1024);
    for w in writers {
        // The writer ends only when the server has closed the connection.
        let _ = w.join().expect("writer");
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(4500) && took < Duration::from_secs(30),
        "blocked clients dropped after {took:?}, want the 5 s write deadline"
    );
    println!("blocked output: clients dropped after {took:?}");
    all_ports_answer(&s);
    s.assert_alive();
}

#[test]
fn login_brute_force_blocks_the_client_on_imap_and_pop3_even_with_the_right_password() {
    const IMAP_FAILED: &str = "NO [AUTHENTICATIONFAILED] Authentication failed";
    const IMAP_BLOCKED: &str = "NO [UNAVAILABLE] Try again later";
    const POP3_FAILED: &str = "-ERR [AUTH] Authentication failed";
    const POP3_BLOCKED: &str = "-ERR [SYS/TEMP] Try again later";
    let settings = [
        ("auth.max_failures_per_ip", "4"),
        ("auth.delay_base_ms", "10"),
        ("auth.delay_max_ms", "40"),
        ("imap.plaintext_loopback", "1"),
        ("pop3.plaintext_loopback", "1"),
    ];
    let plain = |password: &str| b64(format!("\0{ALICE}\0{password}").as_bytes());
    // Failures over IMAP (LOGIN and AUTHENTICATE PLAIN) block POP3 too.
    let mut s = server_with(&settings);
    let mut imap = Raw::greeted(Port::Imap, &s);
    for i in 1..=4 {
        let answer = if i % 2 == 0 {
            imap.cmd(&format!("a{i} LOGIN {ALICE} wrong-{i}"))
        } else {
            imap.cmd(&format!(
                "a{i} AUTHENTICATE PLAIN {}",
                plain(&format!("wrong-{i}"))
            ))
        };
        assert_eq!(answer, format!("a{i} {IMAP_FAILED}"), "attempt {i}");
    }
    assert_eq!(
        imap.cmd(&format!("b1 LOGIN {ALICE} {PASSWORD}")),
        format!("b1 {IMAP_BLOCKED}")
    );
    assert_eq!(
        imap.cmd(&format!("b2 AUTHENTICATE PLAIN {}", plain(PASSWORD))),
        format!("b2 {IMAP_BLOCKED}")
    );
    let mut pop = Raw::greeted(Port::Pop3, &s);
    assert!(pop.cmd(&format!("USER {ALICE}")).starts_with("+OK"));
    assert_eq!(pop.cmd(&format!("PASS {PASSWORD}")), POP3_BLOCKED);
    assert_eq!(
        pop.cmd(&format!("AUTH PLAIN {}", plain(PASSWORD))),
        POP3_BLOCKED
    );
    failures_logged_without_passwords(&s, 4);
    s.assert_alive();
    drop(s);
    // Failures over POP3 (USER/PASS and AUTH PLAIN) block IMAP too.
    let mut s = server_with(&settings);
    let mut pop = Raw::greeted(Port::Pop3, &s);
    for i in 1..=4 {
        let answer = if i % 2 == 0 {
            assert!(pop.cmd(&format!("USER {ALICE}")).starts_with("+OK"));
            pop.cmd(&format!("PASS wrong-{i}"))
        } else {
            pop.cmd(&format!("AUTH PLAIN {}", plain(&format!("wrong-{i}"))))
        };
        assert_eq!(answer, POP3_FAILED, "attempt {i}");
    }
    assert!(pop.cmd(&format!("USER {ALICE}")).starts_with("+OK"));
    assert_eq!(pop.cmd(&format!("PASS {PASSWORD}")), POP3_BLOCKED);
    let mut imap = Raw::greeted(Port::Imap, &s);
    assert_eq!(
        imap.cmd(&format!("c1 LOGIN {ALICE} {PASSWORD}")),
        format!("c1 {IMAP_BLOCKED}")
    );
    failures_logged_without_passwords(&s, 4);
    s.assert_alive();
}

/// Waits until the log (read as the server writes it) holds `n` failed logins of alice from
/// loopback, and asserts no password (`wrong-N` or the right one) appears in it.
fn failures_logged_without_passwords(s: &Server, n: usize) {
    let logged = format!("auth failed ip=127.0.0.1 user=\"{ALICE}\"");
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.log().matches(&logged).count() < n {
        assert!(
            Instant::now() < deadline,
            "failures not logged:\n{}",
            tail(&s.log(), 40)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = s.log();
    assert!(
        !log.contains("wrong-") && !log.contains(PASSWORD),
        "a password was logged"
    );
}

#[test]
fn web_login_brute_force_is_blocked_and_logged_without_the_password() {
    if !require_tool("python3") {
        return;
    }
    let mut s = server_with(&[
        ("auth.max_failures_per_ip", "4"),
        ("auth.delay_base_ms", "10"),
        ("auth.delay_max_ms", "40"),
    ]);
    web_scenario(&s, "login_brute_force", &[]);
    failures_logged_without_passwords(&s, 4);
    s.assert_alive();
}

#[test]
fn imap_literal_floods_are_refused_without_being_read() {
    let mut s = server_with(&[]);
    let before = rss_kib(&s);
    let mut c = Raw::greeted(Port::Imap, &s);
    // A 4 GiB synchronising literal: refused at once, no continuation request, nothing awaited.
    assert_eq!(c.cmd("a1 LOGIN {4294967295}"), "a1 BAD Command too long");
    assert!(c.cmd("a2 NOOP").starts_with("a2 OK"));
    // A non-synchronising literal over imap.max_command_bytes (RFC 7888 §4): refused, and its
    // bytes are skipped rather than read as commands.
    let mut flood = b"a3 LOGIN {200000+}\r\n".to_vec();
    flood.extend(std::iter::repeat_n(b'x', 200_000));
    flood.extend_from_slice(b" secret\r\n");
    c.send(&flood);
    assert_eq!(c.line(), "a3 BAD Command too long");
    assert!(
        c.cmd("a4 NOOP").starts_with("a4 OK"),
        "in step after the flood"
    );
    // Many small literals in one command: bounded by the same limit.
    let mut many = b"a5 LOGIN".to_vec();
    for _ in 0..20_000 {
        many.extend_from_slice(b" {1+}\r\nx");
    }
    many.extend_from_slice(b"\r\n");
    c.send(&many);
    assert_eq!(c.line(), "a5 BAD Command too long");
    assert!(
        c.cmd("a6 NOOP").starts_with("a6 OK"),
        "in step after the literals"
    );
    rss_grew_at_most(&s, "literal floods", before, 8 * 1024);
    s.assert_alive();
}

const IMAP_BYE_COMMAND: &str = "* BYE Autologout; command not completed in time";

/// A plaintext IMAP session logged in as alice (`imap.plaintext_loopback` must be 1).
fn imap_logged_in(s: &Server) -> Raw {
    let mut c = Raw::greeted(Port::Imap, s);
    let answer = c.cmd(&format!("a LOGIN {ALICE} {PASSWORD}"));
    assert!(answer.starts_with("a OK "), "{answer}");
    c
}

/// Sends `bytes` in `chunk`-byte pieces `every` apart from a thread of its own, until the server
/// stops taking them.
fn send_slowly(c: &Raw, bytes: Vec<u8>, chunk: usize, every: Duration) {
    let mut w = c.stream.try_clone().unwrap();
    std::thread::spawn(move || {
        for piece in bytes.chunks(chunk) {
            if w.write_all(piece).is_err() {
                return;
            }
            std::thread::sleep(every);
        }
    });
}

#[test]
fn imap_commands_after_login_must_arrive_whole_and_appends_must_keep_moving() {
    const COMMAND_SECS: u64 = 5;
    let mut s = server_with(&[
        ("imap.plaintext_loopback", "1"),
        ("imap.command_timeout_secs", "5"),
        ("imap.min_append_rate", "100"),
    ]);
    // Logged in, a command line dribbled a byte every 300 ms: every read is prompt, but the
    // line must be whole within imap.command_timeout_secs of its first byte.
    let line = std::thread::spawn({
        let mut c = imap_logged_in(&s);
        move || {
            let start = Instant::now();
            send_slowly(&c, vec![b'x'; 1000], 1, Duration::from_millis(300));
            let rest = String::from_utf8_lossy(&c.rest()).into_owned();
            (start.elapsed(), rest)
        }
    });
    // An APPEND message at 33 bytes/s: never a pause, but below imap.min_append_rate (100) once
    // the first command timeout has passed (5 s + bytes/100 is outrun at about 7.5 s).
    let slow_append = std::thread::spawn({
        let mut c = imap_logged_in(&s);
        move || {
            c.send(b"b APPEND INBOX {5000}\r\n");
            assert!(c.line().starts_with("+ "), "continuation");
            let start = Instant::now();
            send_slowly(&c, vec![b'y'; 5000], 10, Duration::from_millis(300));
            let rest = String::from_utf8_lossy(&c.rest()).into_owned();
            (start.elapsed(), rest)
        }
    });
    // A silent logged-in session is only idle: the command limit does not end it.
    let mut silent = imap_logged_in(&s);
    // An APPEND that pauses 3 s mid-message, inside the limits, is stored.
    let mut paused = imap_logged_in(&s);
    let message = b"Subject: paused\r\n\r\nwritten in two halves\r\n";
    paused.send(format!("c APPEND INBOX {{{}}}\r\n", message.len()).as_bytes());
    assert!(paused.line().starts_with("+ "), "continuation");
    paused.send(&message[..20]);
    std::thread::sleep(Duration::from_secs(3));
    paused.send(&message[20..]);
    paused.send(b"\r\n");
    let answer = paused.line();
    assert!(answer.starts_with("c OK [APPENDUID "), "{answer}");
    // A command begun, paused 3 s, then finished: answered.
    paused.send(b"d NO");
    std::thread::sleep(Duration::from_secs(3));
    assert!(paused.cmd("OP").starts_with("d OK"), "finished command");

    let want = Duration::from_secs(COMMAND_SECS);
    let (waited, rest) = line.join().expect("dribbling client");
    assert!(
        waited >= want - Duration::from_millis(500) && waited < want + Duration::from_secs(4),
        "dribbled command cut off after {waited:?}, want {want:?}"
    );
    assert_eq!(rest.lines().next(), Some(IMAP_BYE_COMMAND), "{rest}");
    let (waited, rest) = slow_append.join().expect("slow APPEND client");
    assert!(
        waited >= Duration::from_secs(7) && waited < Duration::from_secs(12),
        "slow APPEND cut off after {waited:?}, want about 7.5 s"
    );
    assert_eq!(rest.lines().next(), Some(IMAP_BYE_COMMAND), "{rest}");
    // The silent session outlived both (more than 7 s) and still answers.
    assert!(silent.cmd("e NOOP").starts_with("e OK"), "silent session");
    // Only the paused APPEND was stored.
    assert_eq!(s.data.uids(ALICE, "INBOX").len(), 1);
    assert!(paused.cmd("f LOGOUT").starts_with("* BYE"));
    s.assert_alive();
}

#[test]
fn bdat_chunks_beyond_the_size_limit_are_refused_and_nothing_is_stored() {
    let mut s = server_with(&[("smtp.max_message_bytes", "100000")]);
    let mut c = s.connect();
    assert!(c.cmd("EHLO client.test").starts_with("250-"));
    assert_eq!(c.cmd("MAIL FROM:<bob@remote.test>"), "250 2.1.0 Sender ok");
    assert_eq!(
        c.cmd(&format!("RCPT TO:<{ALICE}>")),
        "250 2.1.5 Recipient ok"
    );
    let chunk = vec![b'x'; 60_000];
    c.line("BDAT 60000");
    c.send(&chunk);
    assert!(c.reply().starts_with("250 "), "first chunk fits");
    c.line("BDAT 60000 LAST");
    c.send(&chunk);
    let refused = c.reply();
    assert!(refused.starts_with("552 5.3.4 "), "{refused}");
    // A single chunk announced far beyond the limit.
    assert_eq!(c.cmd("RSET"), "250 2.0.0 OK");
    assert_eq!(c.cmd("MAIL FROM:<bob@remote.test>"), "250 2.1.0 Sender ok");
    assert_eq!(
        c.cmd(&format!("RCPT TO:<{ALICE}>")),
        "250 2.1.5 Recipient ok"
    );
    c.line("BDAT 150000 LAST");
    c.send(&vec![b'y'; 150_000]);
    let refused = c.reply();
    assert!(refused.starts_with("552 5.3.4 "), "{refused}");
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye");
    std::thread::sleep(Duration::from_millis(300));
    assert!(s.data.uids(ALICE, "INBOX").is_empty(), "nothing stored");
    s.assert_alive();
}

/// Logs in on an IMAP connection whose greeting has been read and fetches message 1, which must
/// be the one delivered before the flood.
fn imap_login_and_fetch_on<S: Read + Write>(stream: S) {
    fn cmd<S: Read + Write>(c: &mut BufReader<S>, line: &str) {
        c.get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .expect("send");
        c.get_mut().flush().expect("send");
    }
    /// The untagged lines before `tag`'s answer, which must be OK.
    fn answer<S: Read>(c: &mut BufReader<S>, tag: &str) -> String {
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            let n = c.read_line(&mut line).expect("IMAP answer");
            assert!(n > 0, "closed while waiting for {tag}: {seen}");
            if line.starts_with(&format!("{tag} ")) {
                assert!(line.starts_with(&format!("{tag} OK")), "{line}");
                return seen;
            }
            seen.push_str(&line);
        }
    }
    let mut c = BufReader::new(stream);
    cmd(&mut c, &format!("a LOGIN {ALICE} {PASSWORD}"));
    answer(&mut c, "a");
    cmd(&mut c, "b SELECT INBOX");
    answer(&mut c, "b");
    cmd(&mut c, "c FETCH 1 BODY[]");
    let seen = answer(&mut c, "c");
    assert!(seen.contains("Subject: before the flood"), "{seen}");
    cmd(&mut c, "d LOGOUT");
    answer(&mut c, "d");
}

/// Logs in over plaintext IMAP (allowed on loopback by `imap.plaintext_loopback`) and fetches
/// message 1, retrying the connect while the server is full.
fn imap_login_and_fetch(s: &Server) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let c = loop {
        let mut c = Raw::connect(s.imap());
        let line = c.line();
        if Port::Imap.is_greeting(&line) {
            break c;
        }
        assert_eq!(line, IMAP_BUSY);
        assert!(Instant::now() < deadline, "IMAP still full after 10 s");
        std::thread::sleep(Duration::from_millis(100));
    };
    imap_login_and_fetch_on(c.stream);
}

/// Reads one line over TLS.
fn tls_line<S: Read>(stream: &mut S) -> String {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\n") {
        match stream.read(&mut byte) {
            Ok(1) => line.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&line).trim_end().to_string()
}

/// Logs in over IMAPS and fetches message 1, retrying while the server is full (it then closes
/// the connection without a word).
fn imaps_login_and_fetch(s: &Server) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut tls = loop {
        let tcp = Raw::connect(s.imaps()).stream;
        if let Ok(mut tls) = tls_session(s, tcp) {
            let greeting = tls_line(&mut tls);
            if Port::Imap.is_greeting(&greeting) {
                break tls;
            }
        }
        assert!(Instant::now() < deadline, "IMAPS still full after 10 s");
        std::thread::sleep(Duration::from_millis(100));
    };
    imap_login_and_fetch_on(&mut tls);
}

#[test]
fn one_address_gets_net_max_conns_per_ip_over_all_ports_and_each_role_says_so() {
    let mut s = server_with(&[("net.max_conns_per_ip", "4")]);
    // Four sessions from 127.0.0.1, on four ports.
    let mut held: Vec<Raw> = [Port::Mx, Port::Imap, Port::Pop3, Port::Sieve]
        .into_iter()
        .map(|port| Raw::greeted(port, &s))
        .collect();
    // One more on any port is turned away with that role's own reply, then closed.
    for port in PLAIN_PORTS {
        let mut c = Raw::connect(port.addr(&s));
        let rest = String::from_utf8_lossy(&c.rest()).into_owned();
        assert_eq!(rest.lines().next(), Some(port.busy_reply()), "{port:?}");
    }
    // On the implicit-TLS ports, where plaintext would read as a broken handshake: closed
    // without a byte.
    let https = SocketAddr::from(([127, 0, 0, 1], s.port_base + 443));
    for addr in [s.submissions(), s.imaps(), s.pop3s(), https] {
        let mut c = Raw::connect(addr);
        assert_eq!(c.rest(), b"", "{addr}");
    }
    // A session that ends frees its slot for any port.
    held.pop();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut c = Raw::connect(Port::Http.addr(&s));
        c.send(b"GET / HTTP/1.1\r\nHost: mx.example.test\r\nConnection: close\r\n\r\n");
        let status = c.line();
        if !status.starts_with(HTTP_BUSY) {
            assert!(status.starts_with("HTTP/1.1 "), "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "the slot was not freed");
        std::thread::sleep(Duration::from_millis(100));
    }
    for c in &mut held {
        c.send(b"QUIT\r\n");
    }
    s.assert_alive();
}

/// Connections each flood opens at once, from this many threads.
const FLOOD: usize = 2000;
const FLOOD_THREADS: usize = 10;
/// `net.max_conns` during a flood.
const FLOOD_MAX_CONNS: usize = 1024;
/// The fixed part of src/config/board.rs's worst-case model for this many connections: the
/// process (8 MiB), 64 KiB per connection and the largest class's store cache (16 MiB), 88 MiB in
/// all. Measured: about 25 MiB idle, 50 MiB with 1024 plaintext sessions open and 57 MiB with
/// 1008 TLS sessions (debug build).
const FLOOD_RSS_BOUND_KIB: u64 = 8 * 1024 + FLOOD_MAX_CONNS as u64 * 64 + 16 * 1024;

/// A server for a flood, capped at [`FLOOD_MAX_CONNS`], with `settings` too and one message for
/// alice; and its RSS in KiB before the flood.
fn flood_server(settings: &[(&str, &str)]) -> (Server, u64) {
    raise_open_file_limit();
    let max_conns = FLOOD_MAX_CONNS.to_string();
    let mut all = vec![
        ("net.max_conns", max_conns.as_str()),
        ("net.max_conns_per_ip", "5000"),
    ];
    all.extend_from_slice(settings);
    let s = server_with(&all);
    assert!(
        s.deliver_to_alice("bob@remote.test", "Subject: before the flood\r\n\r\nhello")
            .starts_with("250 ")
    );
    let idle = rss_kib(&s);
    (s, idle)
}

/// Opens [`FLOOD`] connections at once from [`FLOOD_THREADS`] threads, in turn to each target.
fn open_flood(targets: [(Port, SocketAddr); 3]) -> Vec<(Port, TcpStream)> {
    let barrier = Arc::new(Barrier::new(FLOOD_THREADS));
    let handles: Vec<_> = (0..FLOOD_THREADS)
        .map(|t| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                (0..FLOOD / FLOOD_THREADS)
                    .map(|i| {
                        let (port, addr) = targets[(t + i) % 3];
                        let stream = TcpStream::connect(addr).expect("connect under load");
                        stream
                            .set_read_timeout(Some(Duration::from_secs(20)))
                            .unwrap();
                        (port, stream)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let open: Vec<(Port, TcpStream)> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("connector thread"))
        .collect();
    assert_eq!(open.len(), FLOOD);
    open
}

#[test]
fn two_thousand_connections_over_smtp_imap_and_pop3() {
    const MAX_CONNS: usize = FLOOD_MAX_CONNS;
    let (mut s, idle) = flood_server(&[("imap.plaintext_loopback", "1")]);
    let open = open_flood([Port::Mx, Port::Imap, Port::Pop3].map(|p| (p, p.addr(&s))));
    let mut greeted = Vec::new();
    let mut refused = 0;
    for (port, stream) in open {
        let mut r = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        r.read_line(&mut line).expect("first line");
        let line = line.trim_end_matches("\r\n");
        if port.is_greeting(line) {
            greeted.push(stream);
            continue;
        }
        let busy = match port {
            Port::Mx => SMTP_BUSY,
            Port::Imap => IMAP_BUSY,
            _ => POP3_BUSY,
        };
        assert_eq!(line, busy, "{port:?} over the cap");
        refused += 1;
    }
    assert_eq!(greeted.len(), MAX_CONNS, "exactly net.max_conns are served");
    assert_eq!(refused, FLOOD - MAX_CONNS);
    let loaded = rss_kib(&s);
    println!(
        "2000 connections: server RSS {idle} KiB idle, {loaded} KiB with {MAX_CONNS} sessions (bound {FLOOD_RSS_BOUND_KIB} KiB)"
    );
    assert!(loaded < FLOOD_RSS_BOUND_KIB, "RSS {loaded} KiB under load");
    // During the load: a few sessions end, and a normal login and fetch gets a slot.
    greeted.truncate(MAX_CONNS - 8);
    imap_login_and_fetch(&s);
    drop(greeted);
    // After the load.
    imap_login_and_fetch(&s);
    s.assert_alive();
}

#[test]
fn two_thousand_connections_over_the_tls_ports() {
    const MAX_CONNS: usize = FLOOD_MAX_CONNS;
    // Held connections that complete their handshake and are greeted while the server is full
    // (the others stay silent, waiting in the handshake).
    const HANDSHAKEN: usize = MAX_CONNS - 16;
    // Long enough that no held connection reaches its handshake deadline during the test.
    let (mut s, idle) = flood_server(&[("net.tls_handshake_secs", "300")]);
    let mut pending = open_flood([
        (Port::Submission, s.submissions()),
        (Port::Imap, s.imaps()),
        (Port::Pop3, s.pop3s()),
    ]);
    // Over the cap the server closes a TLS port's connection without a byte (plaintext would
    // read as a broken handshake); under it, the connection waits for the ClientHello.
    let mut refused = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while refused < FLOOD - MAX_CONNS && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        pending.retain(|(port, stream)| {
            stream.set_nonblocking(true).unwrap();
            let mut byte = [0u8; 1];
            match stream.peek(&mut byte) {
                Ok(0) => {
                    refused += 1;
                    false
                }
                Ok(_) => panic!("{port:?}: the server spoke before the TLS handshake"),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => true,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    refused += 1;
                    false
                }
                Err(e) => panic!("{port:?}: {e}"),
            }
        });
    }
    // A moment more: nothing else is closed.
    std::thread::sleep(Duration::from_secs(1));
    let held: Vec<(Port, TcpStream)> = pending
        .into_iter()
        .filter(|(_, stream)| {
            let mut byte = [0u8; 1];
            !matches!(stream.peek(&mut byte), Ok(0))
        })
        .collect();
    assert_eq!(refused, FLOOD - MAX_CONNS, "refused over the cap");
    assert_eq!(held.len(), MAX_CONNS, "exactly net.max_conns are served");
    // The held connections complete their handshakes and hear their greetings.
    let mut sessions = Vec::new();
    let mut silent = Vec::new();
    for (i, (port, stream)) in held.into_iter().enumerate() {
        if i >= HANDSHAKEN {
            silent.push(stream);
            continue;
        }
        stream.set_nonblocking(false).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut tls = tls_session(&s, stream)
            .unwrap_or_else(|e| panic!("{port:?}: handshake of a held connection: {e}"));
        let greeting = tls_line(&mut tls);
        assert!(port.is_greeting(&greeting), "{port:?} greeting: {greeting}");
        sessions.push(tls);
    }
    let loaded = rss_kib(&s);
    println!(
        "2000 TLS connections: server RSS {idle} KiB idle, {loaded} KiB with {MAX_CONNS} held ({HANDSHAKEN} in TLS sessions; bound {FLOOD_RSS_BOUND_KIB} KiB)"
    );
    assert!(loaded < FLOOD_RSS_BOUND_KIB, "RSS {loaded} KiB under load");
    // During the load: a few held connections go, and an IMAPS login and fetch gets a slot.
    silent.truncate(silent.len() - 8);
    imaps_login_and_fetch(&s);
    drop(silent);
    drop(sessions);
    // After the load.
    imaps_login_and_fetch(&s);
    s.assert_alive();
}

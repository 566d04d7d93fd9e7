//! Hostile and careless clients on the submission ports (587 STARTTLS, 465 implicit TLS), spoken
//! to byte by byte over TCP and rustls: AUTH only inside TLS, MAIL only after AUTH, no relaying
//! without a login, no sending as someone else, brute-force throttling, SASL edge cases.

mod common;
use common::*;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ALICE: &str = "alice@example.test";
const BOB: &str = "bob@example.test";
const GREETING: &str = "220 mx.example.test ESMTP mailnook";

const AUTH_OK: &str = "235 2.7.0 Authentication successful";
const AUTH_INVALID: &str = "535 5.7.8 Authentication credentials invalid";
const AUTH_TEMPORARY: &str = "454 4.7.0 Temporary authentication failure";
const AUTH_REQUIRED: &str = "530 5.7.0 Authentication required";
const ENCRYPTION_REQUIRED: &str =
    "538 5.7.11 Encryption required for requested authentication mechanism";
const NOT_YOURS: &str = "550 5.7.1 Sender address not owned by the authenticated user";
const MAIL_OK: &str = "250 2.1.0 Sender ok";
const RCPT_OK: &str = "250 2.1.5 Recipient ok";
const DATA_GO: &str = "354 End data with <CR><LF>.<CR><LF>";

enum Wire {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    Gone,
}

impl Wire {
    fn io(&mut self) -> &mut dyn ReadWrite {
        match self {
            Wire::Plain(t) => t,
            Wire::Tls(t) => t.as_mut(),
            Wire::Gone => unreachable!("between transports"),
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// A line client that can move into TLS (STARTTLS) or start in it (port 465).
struct Client {
    wire: Wire,
    buf: Vec<u8>,
    tls: Arc<rustls::ClientConfig>,
}

fn tcp(addr: SocketAddr) -> TcpStream {
    let t = TcpStream::connect(addr).expect("connect");
    t.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    t.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    t
}

fn tls_over(tcp: TcpStream, config: &Arc<rustls::ClientConfig>) -> Wire {
    let name = rustls::pki_types::ServerName::try_from(HOSTNAME).unwrap();
    let conn = rustls::ClientConnection::new(config.clone(), name).expect("TLS client");
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .expect("TLS handshake");
    }
    Wire::Tls(Box::new(stream))
}

impl Client {
    /// Port 587: plaintext, greeting read.
    fn plain(s: &Server) -> Client {
        let mut c = Client {
            wire: Wire::Plain(tcp(s.submission())),
            buf: Vec::new(),
            tls: tls_client_config(&s.cert()),
        };
        assert_eq!(c.reply(), GREETING);
        c
    }

    /// Port 587 after EHLO and STARTTLS, EHLO again inside TLS.
    fn starttls(s: &Server) -> Client {
        let mut c = Client::plain(s);
        c.ehlo();
        c.start_tls();
        c.ehlo();
        c
    }

    /// Port 465: TLS from the first byte, greeting read.
    fn implicit(s: &Server) -> Client {
        let tls = tls_client_config(&s.cert());
        let wire = tls_over(tcp(s.submissions()), &tls);
        let mut c = Client {
            wire,
            buf: Vec::new(),
            tls,
        };
        assert_eq!(c.reply(), GREETING);
        c
    }

    /// STARTTLS and the handshake.
    fn start_tls(&mut self) {
        assert_eq!(self.cmd("STARTTLS"), "220 2.0.0 Ready to start TLS");
        assert!(self.buf.is_empty(), "bytes after the STARTTLS reply");
        let Wire::Plain(t) = std::mem::replace(&mut self.wire, Wire::Gone) else {
            panic!("STARTTLS inside TLS");
        };
        self.wire = tls_over(t, &self.tls);
    }

    fn send(&mut self, bytes: &[u8]) {
        let io = self.wire.io();
        io.write_all(bytes).expect("send");
        io.flush().expect("flush");
    }

    /// One reply, its lines joined by `\n`, CRLFs stripped.
    fn reply(&mut self) -> String {
        let mut lines = Vec::new();
        loop {
            let line = self.line();
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return lines.join("\n");
            }
        }
    }

    fn line(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8(self.buf[..i].to_vec()).expect("UTF-8 reply");
                self.buf.drain(..i + 2);
                return line;
            }
            let mut chunk = [0u8; 4096];
            let n = self.wire.io().read(&mut chunk).expect("read reply");
            assert!(
                n > 0,
                "connection closed while waiting for a reply; have {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// EHLO; returns the capability lines without their `250-`/`250 ` prefixes.
    fn ehlo(&mut self) -> Vec<String> {
        let reply = self.cmd("EHLO client.test");
        let lines: Vec<String> = reply
            .lines()
            .map(|l| {
                assert!(l.starts_with("250"), "EHLO: {reply}");
                l[4..].to_string()
            })
            .collect();
        assert_eq!(lines[0], HOSTNAME);
        lines[1..].to_vec()
    }

    /// AUTH PLAIN with an initial response for `user`/`password`.
    fn auth_plain(&mut self, user: &str, password: &str) -> String {
        self.cmd(&format!("AUTH PLAIN {}", plain(user, password)))
    }

    /// A whole message transaction; returns the reply to the end of data.
    fn submit(&mut self, from: &str, rcpts: &[&str], message: &str) -> String {
        assert_eq!(self.cmd(&format!("MAIL FROM:<{from}>")), MAIL_OK);
        for r in rcpts {
            assert_eq!(self.cmd(&format!("RCPT TO:<{r}>")), RCPT_OK, "RCPT {r}");
        }
        assert_eq!(self.cmd("DATA"), DATA_GO);
        self.send(message.as_bytes());
        self.send(b".\r\n");
        self.reply()
    }
}

/// The RFC 4616 PLAIN response, base64.
fn plain(user: &str, password: &str) -> String {
    b64(format!("\0{user}\0{password}").as_bytes())
}

fn server_with(users: &[&str], settings: &[(&str, &str)]) -> Server {
    let data = DataDir::new(users);
    for (k, v) in settings {
        data.cli_ok(&["config", "set", k, v]);
    }
    Server::serve(data)
}

#[test]
fn b64_matches_rfc4648_vectors() {
    assert_eq!(b64(b""), "");
    assert_eq!(b64(b"f"), "Zg==");
    assert_eq!(b64(b"fo"), "Zm8=");
    assert_eq!(b64(b"foo"), "Zm9v");
    assert_eq!(b64(b"foobar"), "Zm9vYmFy");
}

#[test]
fn auth_only_inside_tls_and_mail_only_after_auth() {
    let mut s = Server::start(&[ALICE]);
    let mut c = Client::plain(&s);
    let caps = c.ehlo();
    assert!(caps.iter().any(|l| l == "STARTTLS"), "{caps:?}");
    assert!(
        !caps.iter().any(|l| l.starts_with("AUTH")),
        "AUTH offered before TLS: {caps:?}"
    );
    // A correct password is not even looked at in plaintext.
    assert_eq!(c.auth_plain(ALICE, PASSWORD), ENCRYPTION_REQUIRED);
    assert_eq!(c.cmd("AUTH LOGIN"), ENCRYPTION_REQUIRED);
    assert_eq!(c.cmd("AUTH PLAIN"), ENCRYPTION_REQUIRED);
    assert_eq!(c.cmd(&format!("MAIL FROM:<{ALICE}>")), AUTH_REQUIRED);
    c.start_tls();
    let caps = c.ehlo();
    assert!(caps.iter().any(|l| l == "AUTH PLAIN LOGIN"), "{caps:?}");
    assert!(!caps.iter().any(|l| l == "STARTTLS"), "{caps:?}");
    assert_eq!(c.cmd("STARTTLS"), "503 5.5.1 TLS already active");
    assert_eq!(c.cmd(&format!("MAIL FROM:<{ALICE}>")), AUTH_REQUIRED);
    assert_eq!(
        c.cmd(&format!("RCPT TO:<{ALICE}>")),
        "503 5.5.1 Send MAIL first"
    );
    assert_eq!(c.auth_plain(ALICE, PASSWORD), AUTH_OK);
    // Logged in: the capability list no longer offers AUTH.
    let caps = c.ehlo();
    assert!(!caps.iter().any(|l| l.starts_with("AUTH")), "{caps:?}");
    assert_eq!(c.cmd(&format!("MAIL FROM:<{ALICE}>")), MAIL_OK);
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye");
    s.assert_alive();
}

#[test]
fn nothing_is_relayed_or_delivered_without_auth() {
    // Every refusal below counts as an error; let the session run through all of them.
    let mut s = server_with(
        &[ALICE, BOB],
        &[
            ("dns.nameservers", "127.0.0.1:9"),
            ("smtp.max_errors", "100"),
        ],
    );
    let senders = [ALICE, BOB, "someone@far.test", ""];
    let rcpts = [ALICE, BOB, "postmaster", "victim@far.test", "x@[127.0.0.1]"];
    let plain = Client::plain(&s);
    let tls = Client::starttls(&s);
    let implicit = Client::implicit(&s);
    for (name, mut c) in [("587 plain", plain), ("587 TLS", tls), ("465", implicit)] {
        if name != "587 TLS" {
            c.ehlo();
        }
        for from in senders {
            assert_eq!(
                c.cmd(&format!("MAIL FROM:<{from}>")),
                AUTH_REQUIRED,
                "{name}: MAIL FROM:<{from}>"
            );
        }
        for to in rcpts {
            // 503 (no sender yet), or 501 for an address literal the grammar refuses first.
            let reply = c.cmd(&format!("RCPT TO:<{to}>"));
            assert!(
                reply.starts_with("503 ") || reply.starts_with("501 "),
                "{name}: RCPT TO:<{to}>: {reply}"
            );
        }
        let reply = c.cmd("DATA");
        assert!(reply.starts_with("503 "), "{name}: DATA: {reply}");
        // Pipelined, as a spam tool would: nothing gets through either.
        c.send(
            b"RSET\r\nMAIL FROM:<someone@far.test>\r\nRCPT TO:<victim@far.test>\r\nDATA\r\nSubject: spam\r\n\r\nspam\r\n.\r\n",
        );
        assert_eq!(c.reply(), "250 2.0.0 OK", "{name}");
        assert_eq!(c.reply(), AUTH_REQUIRED, "{name}");
        let rcpt = c.reply();
        assert!(rcpt.starts_with("503 "), "{name}: {rcpt}");
        let data = c.reply();
        assert!(data.starts_with("503 "), "{name}: {data}");
        // The message lines are commands now; whatever they get, it is not 250 or 354.
        for _ in 0..2 {
            let r = c.reply();
            assert!(
                !r.starts_with("250") && !r.starts_with("354"),
                "{name}: {r}"
            );
        }
    }
    for user in [ALICE, BOB] {
        assert!(s.data.uids(user, "INBOX").is_empty(), "{user}");
    }
    s.assert_alive();
}

#[test]
fn sender_and_from_header_must_be_the_logged_in_user() {
    let mut s = Server::start(&[ALICE, BOB]);
    let mut c = Client::starttls(&s);
    assert_eq!(c.auth_plain(ALICE, PASSWORD), AUTH_OK);
    assert_eq!(c.cmd(&format!("MAIL FROM:<{BOB}>")), NOT_YOURS);
    assert_eq!(c.cmd("MAIL FROM:<>"), NOT_YOURS);
    assert_eq!(c.cmd("MAIL FROM:<alice@far.test>"), NOT_YOURS);
    assert_eq!(c.cmd("MAIL FROM:<alice+tag@example.test>"), NOT_YOURS);
    // Case does not matter (the domain never does; the user's own local part either).
    assert_eq!(c.cmd("MAIL FROM:<ALICE@Example.TEST>"), MAIL_OK);
    assert_eq!(c.cmd("RSET"), "250 2.0.0 OK");

    // Envelope alice, From: bob: refused after the final dot, and nothing stored.
    let forged = "From: Bob <bob@example.test>\r\nTo: bob@example.test\r\nSubject: forged\r\n\r\nnot from alice\r\n";
    assert_eq!(c.submit(ALICE, &[BOB], forged), NOT_YOURS);
    // A From: with alice and someone else, or a group hiding bob, is refused too.
    let two = "From: alice@example.test, bob@example.test\r\nSubject: two\r\n\r\nx\r\n";
    assert_eq!(c.submit(ALICE, &[BOB], two), NOT_YOURS);
    let folded = "From: Alice <alice@example.test>,\r\n Bob <bob@example.test>\r\nSubject: folded\r\n\r\nx\r\n";
    assert_eq!(c.submit(ALICE, &[BOB], folded), NOT_YOURS);
    let second =
        "From: alice@example.test\r\nFrom: bob@example.test\r\nSubject: second\r\n\r\nx\r\n";
    assert_eq!(c.submit(ALICE, &[BOB], second), NOT_YOURS);
    assert!(
        s.data.uids(BOB, "INBOX").is_empty(),
        "a forged message was stored"
    );
    assert!(s.data.uids(ALICE, "INBOX").is_empty());

    // The session goes on: alice's own message, From in another case, is delivered.
    let own = "From: Alice <Alice@EXAMPLE.test>\r\nTo: bob@example.test\r\nSubject: real\r\n\r\nfrom alice\r\n";
    let reply = c.submit(ALICE, &[BOB], own);
    assert!(reply.starts_with("250 2.0.0 Ok: queued as "), "{reply}");
    assert_eq!(s.data.uids(BOB, "INBOX"), vec![1]);
    let stored = String::from_utf8(s.data.show(BOB, "INBOX", 1)).unwrap();
    assert!(
        stored.contains(
            "\r\nFrom: Alice <Alice@EXAMPLE.test>\r\nTo: bob@example.test\r\nSubject: real\r\n"
        ) && stored.ends_with("\r\n\r\nfrom alice\r\n"),
        "{stored}"
    );
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye");
    s.assert_alive();
}

#[test]
fn brute_force_is_refused_then_blocked_even_for_the_right_password() {
    let mut s = server_with(
        &[ALICE],
        &[
            ("auth.max_failures_per_ip", "4"),
            ("auth.delay_base_ms", "10"),
            ("auth.delay_max_ms", "40"),
        ],
    );
    let started = Instant::now();
    let mut c = Client::starttls(&s);
    // auth.free_failures (2) answer at once, the next two after a short delay; the fourth
    // failure blocks the client address.
    for i in 1..=4 {
        assert_eq!(
            c.auth_plain(ALICE, &format!("wrong-{i}")),
            AUTH_INVALID,
            "attempt {i}"
        );
    }
    for i in 5..=6 {
        assert_eq!(
            c.auth_plain(ALICE, &format!("wrong-{i}")),
            AUTH_TEMPORARY,
            "attempt {i}"
        );
    }
    // Blocked: the right password, PLAIN or LOGIN, gets the same temporary failure.
    assert_eq!(c.auth_plain(ALICE, PASSWORD), AUTH_TEMPORARY);
    assert_eq!(c.cmd("AUTH LOGIN"), "334 VXNlcm5hbWU6");
    assert_eq!(c.cmd(&b64(ALICE.as_bytes())), "334 UGFzc3dvcmQ6");
    assert_eq!(c.cmd(&b64(PASSWORD.as_bytes())), AUTH_TEMPORARY);
    assert_eq!(c.cmd(&format!("MAIL FROM:<{ALICE}>")), AUTH_REQUIRED);
    // A new connection from the same address, on either port, is blocked too.
    let mut again = Client::starttls(&s);
    assert_eq!(again.auth_plain(ALICE, PASSWORD), AUTH_TEMPORARY);
    let mut implicit = Client::implicit(&s);
    implicit.ehlo();
    assert_eq!(implicit.auth_plain(ALICE, PASSWORD), AUTH_TEMPORARY);
    // An unknown user is counted and blocked the same way (no user enumeration).
    assert_eq!(
        implicit.auth_plain("nobody@example.test", "x"),
        AUTH_TEMPORARY
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    s.assert_alive();
}

#[test]
fn unknown_user_and_wrong_password_get_the_same_reply() {
    let s = Server::start(&[ALICE]);
    let mut c = Client::starttls(&s);
    assert_eq!(c.auth_plain(ALICE, "wrong"), AUTH_INVALID);
    assert_eq!(c.auth_plain("nobody@example.test", PASSWORD), AUTH_INVALID);
    assert_eq!(c.auth_plain("alice@far.test", PASSWORD), AUTH_INVALID);
    // After failures, the right password still works (below the block).
    assert_eq!(c.auth_plain(ALICE, PASSWORD), AUTH_OK);
}

#[test]
fn sasl_protocol_errors() {
    let mut s = Server::start(&[ALICE]);
    let mut c = Client::starttls(&s);
    assert_eq!(
        c.cmd("AUTH CRAM-MD5"),
        "504 5.5.4 Unrecognized authentication type"
    );
    assert_eq!(
        c.cmd("AUTH XOAUTH2 dGVzdA=="),
        "504 5.5.4 Unrecognized authentication type"
    );
    // `*` cancels a LOGIN exchange at either step.
    assert_eq!(c.cmd("AUTH LOGIN"), "334 VXNlcm5hbWU6");
    assert_eq!(c.cmd("*"), "501 5.0.0 Authentication cancelled");
    assert_eq!(c.cmd("AUTH LOGIN"), "334 VXNlcm5hbWU6");
    assert_eq!(c.cmd(&b64(ALICE.as_bytes())), "334 UGFzc3dvcmQ6");
    assert_eq!(c.cmd("*"), "501 5.0.0 Authentication cancelled");
    // ... and a PLAIN exchange.
    assert_eq!(c.cmd("AUTH PLAIN"), "334 ");
    assert_eq!(c.cmd("*"), "501 5.0.0 Authentication cancelled");
    assert_eq!(c.cmd("AUTH PLAIN"), "334 ");
    assert_eq!(c.cmd(&plain(ALICE, PASSWORD)), AUTH_OK);
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye");

    // Not base64 (a fresh session: each refusal counts against smtp.max_errors).
    let mut c = Client::starttls(&s);
    assert_eq!(
        c.cmd("AUTH PLAIN !!!not-base64!!!"),
        "501 5.5.2 Cannot decode response"
    );
    assert_eq!(c.cmd("AUTH PLAIN"), "334 ");
    assert_eq!(c.cmd("%%%"), "501 5.5.2 Cannot decode response");
    assert_eq!(
        c.cmd("AUTH LOGIN ####"),
        "334 UGFzc3dvcmQ6",
        "the user name is decoded with the password"
    );
    assert_eq!(
        c.cmd(&b64(PASSWORD.as_bytes())),
        "501 5.5.2 Cannot decode response"
    );
    // Base64 of something that is not a PLAIN message (no NULs).
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", b64(b"alice@example.test"))),
        "501 5.5.2 Cannot decode response"
    );
    // The session was not closed by these (none counted as a login failure either): log in,
    // with PLAIN's empty challenge answered on its own line.
    assert_eq!(c.cmd("AUTH PLAIN"), "334 ");
    assert_eq!(c.cmd(&plain(ALICE, PASSWORD)), AUTH_OK);
    // A second AUTH is out of sequence.
    assert_eq!(
        c.auth_plain(ALICE, PASSWORD),
        "503 5.5.1 Already authenticated"
    );
    assert_eq!(c.cmd("AUTH LOGIN"), "503 5.5.1 Already authenticated");
    assert_eq!(c.cmd(&format!("MAIL FROM:<{ALICE}>")), MAIL_OK);
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye");

    // AUTH LOGIN with every step, then AUTH inside a transaction.
    let mut c = Client::implicit(&s);
    c.ehlo();
    assert_eq!(c.cmd("AUTH LOGIN"), "334 VXNlcm5hbWU6");
    assert_eq!(c.cmd(&b64(ALICE.as_bytes())), "334 UGFzc3dvcmQ6");
    assert_eq!(c.cmd(&b64(PASSWORD.as_bytes())), AUTH_OK);
    assert_eq!(c.cmd(&format!("MAIL FROM:<{ALICE}>")), MAIL_OK);
    assert_eq!(c.cmd("AUTH PLAIN"), "503 5.5.1 Already authenticated");
    // AUTH before EHLO.
    let mut c = Client::implicit(&s);
    assert_eq!(c.auth_plain(ALICE, PASSWORD), "503 5.5.1 Send EHLO first");
    s.assert_alive();
}

#[test]
fn port_465_speaks_tls_first() {
    let mut s = Server::start(&[ALICE]);
    // A plaintext client waiting for a greeting gets none.
    let mut t = tcp(s.submissions());
    t.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 64];
    match t.read(&mut buf) {
        Err(e) => assert!(
            matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            "{e}"
        ),
        // Closed (a short handshake timeout) without a byte is also no greeting.
        Ok(0) => {}
        Ok(n) => panic!(
            "plaintext bytes on port 465: {:?}",
            String::from_utf8_lossy(&buf[..n])
        ),
    }
    // Plaintext SMTP is not a TLS handshake: no SMTP reply comes back, ever.
    t.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    t.write_all(b"EHLO client.test\r\nAUTH PLAIN AGFsaWNlAHg=\r\n")
        .unwrap();
    let mut rest = Vec::new();
    let _ = t.read_to_end(&mut rest);
    let text = String::from_utf8_lossy(&rest);
    assert!(
        !text.contains("220 ") && !text.contains("250") && !text.contains("535"),
        "{text:?}"
    );

    // The handshake works, with the certificate checked against the host name, and the greeting
    // follows it.
    let mut c = Client::implicit(&s);
    let caps = c.ehlo();
    assert!(caps.iter().any(|l| l == "AUTH PLAIN LOGIN"), "{caps:?}");
    assert!(!caps.iter().any(|l| l == "STARTTLS"), "{caps:?}");
    assert_eq!(c.cmd("STARTTLS"), "503 5.5.1 TLS already active");
    assert_eq!(c.auth_plain(ALICE, PASSWORD), AUTH_OK);
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye");
    s.assert_alive();
}

#[test]
fn remote_recipient_is_accepted_after_auth_and_not_delivered_locally() {
    let mut s = server_with(&[ALICE, BOB], &[("dns.nameservers", "127.0.0.1:9")]);
    let mut c = Client::starttls(&s);
    assert_eq!(c.auth_plain(ALICE, PASSWORD), AUTH_OK);
    let msg = "From: alice@example.test\r\nTo: friend@far.test\r\nSubject: away\r\n\r\nto a remote friend\r\n";
    let reply = c.submit(ALICE, &["friend@far.test"], msg);
    assert!(reply.starts_with("250 2.0.0 Ok: queued as "), "{reply}");
    // An unknown local user is still refused at RCPT; a remote and a local one mix.
    assert_eq!(c.cmd(&format!("MAIL FROM:<{ALICE}>")), MAIL_OK);
    assert_eq!(
        c.cmd("RCPT TO:<nobody@example.test>"),
        "550 5.1.1 No such user here"
    );
    assert_eq!(c.cmd("RCPT TO:<other@far.test>"), RCPT_OK);
    assert_eq!(c.cmd(&format!("RCPT TO:<{BOB}>")), RCPT_OK);
    assert_eq!(c.cmd("DATA"), DATA_GO);
    c.send(b"From: alice@example.test\r\nSubject: mixed\r\n\r\nboth\r\n.\r\n");
    let reply = c.reply();
    assert!(reply.starts_with("250 2.0.0 Ok: queued as "), "{reply}");
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye");
    // The remote-only message is in no local mailbox; the mixed one reached bob once.
    assert!(s.data.uids(ALICE, "INBOX").is_empty());
    assert_eq!(s.data.uids(BOB, "INBOX"), vec![1]);
    let stored = String::from_utf8(s.data.show(BOB, "INBOX", 1)).unwrap();
    assert!(stored.contains("Subject: mixed\r\n"), "{stored}");
    assert!(!stored.contains("to a remote friend"), "{stored}");
    s.assert_alive();
}

#[test]
fn from_header_tricks_cannot_name_another_sender() {
    let mut s = Server::start(&[ALICE, BOB]);
    let mut c = Client::starttls(&s);
    assert_eq!(c.auth_plain(ALICE, PASSWORD), AUTH_OK);
    let refused = [
        "FROM: bob@example.test\r\n",
        "From : bob@example.test\r\n",
        "From: alice@example.test\r\nFrom : bob@example.test\r\n",
        "From: alice@example.test\r\nfrom: bob@example.test\r\n",
        "From: <bob@example.test>\r\n",
        "From: alice@example.test <bob@example.test>\r\n",
        "From: \"x\" <bob@example.test> <alice@example.test>\r\n",
        "From: <alice@example.test>, <bob@example.test>\r\n",
        "From: alice@example.test,\r\n\tbob@example.test\r\n",
        "From: alice@example.test bob@example.test\r\n",
        "From: alice@example.test; bob@example.test\r\n",
        "From: Friends: alice@example.test, bob@example.test;\r\n",
        "From: Undisclosed:;\r\n",
        "From: \r\n",
        // No From at all: the message would name no sender the server checked.
        "",
    ];
    for (i, h) in refused.iter().enumerate() {
        let msg = format!("{h}Subject: refused {i}\r\n\r\nbody\r\n");
        assert_eq!(c.submit(ALICE, &[BOB], &msg), NOT_YOURS, "From {h:?}");
    }
    assert!(s.data.uids(BOB, "INBOX").is_empty());
    // Display names, comments and encoded words around alice's own address are fine.
    let accepted = [
        "From: \"Smith, Alice\" <alice@example.test>\r\n",
        "From: alice@example.test (work)\r\n",
        "From: =?utf-8?q?Alice_S=C3=B8rensen?= <alice@example.test>\r\n",
    ];
    for h in accepted {
        let msg = format!("{h}Subject: accepted\r\n\r\nbody\r\n");
        let reply = c.submit(ALICE, &[BOB], &msg);
        assert!(
            reply.starts_with("250 2.0.0 Ok: queued as "),
            "From {h:?}: {reply}"
        );
    }
    assert_eq!(s.data.uids(BOB, "INBOX").len(), accepted.len());
    s.assert_alive();
}

#[test]
fn plain_authzid_must_be_the_user_itself() {
    let s = Server::start(&[ALICE, BOB]);
    let mut c = Client::starttls(&s);
    // alice's credentials asking to act as bob: refused, not a login as either.
    let as_bob = b64(format!("{BOB}\0{ALICE}\0{PASSWORD}").as_bytes());
    let reply = c.cmd(&format!("AUTH PLAIN {as_bob}"));
    assert!(reply.starts_with("535 5.7.8"), "{reply}");
    assert_eq!(c.cmd(&format!("MAIL FROM:<{ALICE}>")), AUTH_REQUIRED);
    // Naming herself (any case) is the same as naming nobody.
    let as_self = b64(format!("Alice@Example.test\0{ALICE}\0{PASSWORD}").as_bytes());
    assert_eq!(c.cmd(&format!("AUTH PLAIN {as_self}")), AUTH_OK);
}

#[test]
fn commands_pipelined_behind_starttls_are_discarded() {
    let mut s = Server::start(&[ALICE]);
    let mut c = Client::plain(&s);
    c.ehlo();
    // RFC 3207 §6 (CVE-2011-0411): what was sent in plaintext behind STARTTLS must not be
    // answered inside TLS.
    c.send(b"STARTTLS\r\nAUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdAB4\r\nMAIL FROM:<alice@example.test>\r\n");
    assert_eq!(c.reply(), "220 2.0.0 Ready to start TLS");
    let Wire::Plain(t) = std::mem::replace(&mut c.wire, Wire::Gone) else {
        unreachable!()
    };
    c.buf.clear();
    c.wire = tls_over(t, &c.tls.clone());
    // The first reply inside TLS answers the first command sent inside TLS.
    assert_eq!(c.cmd("NOOP"), "250 2.0.0 OK");
    let caps = c.ehlo();
    assert!(caps.iter().any(|l| l == "AUTH PLAIN LOGIN"), "{caps:?}");
    assert_eq!(c.cmd(&format!("MAIL FROM:<{ALICE}>")), AUTH_REQUIRED);
    assert_eq!(c.auth_plain(ALICE, PASSWORD), AUTH_OK);
    s.assert_alive();
}

#[test]
fn login_limits_changed_on_a_running_server_apply_at_once() {
    let s = server_with(&[ALICE], &[("auth.delay_base_ms", "10")]);
    let mut c = Client::starttls(&s);
    assert_eq!(c.auth_plain(ALICE, "wrong-1"), AUTH_INVALID);
    // Through the control socket: the running server reloads its settings, the login
    // throttle included.
    s.data
        .cli_ok(&["config", "set", "auth.max_failures_per_ip", "2"]);
    assert_eq!(c.auth_plain(ALICE, "wrong-2"), AUTH_INVALID);
    assert_eq!(c.auth_plain(ALICE, PASSWORD), AUTH_TEMPORARY);
}

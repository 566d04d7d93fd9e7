//! The optional virus check against a fake clamd speaking the INSTREAM protocol on a Unix
//! socket: a message carrying the EICAR test string is refused with 550 5.7.1, a clean one is
//! delivered, and without a clamd the message is delivered unscanned (logged).

mod common;

use common::*;
use mailnook::dns::testserver::{TestServer, Zone};
use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::path::Path;

const EICAR: &str = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// A clamd that answers INSTREAM: FOUND when the stream holds "EICAR", else OK.
fn fake_clamd(path: &Path) {
    let listener = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { return };
            let mut cmd = [0u8; 10];
            if c.read_exact(&mut cmd).is_err() || &cmd != b"zINSTREAM\0" {
                continue;
            }
            let mut data = Vec::new();
            loop {
                let mut len = [0u8; 4];
                if c.read_exact(&mut len).is_err() {
                    break;
                }
                let n = u32::from_be_bytes(len) as usize;
                if n == 0 {
                    break;
                }
                let mut chunk = vec![0u8; n];
                if c.read_exact(&mut chunk).is_err() {
                    break;
                }
                data.extend_from_slice(&chunk);
            }
            let found = data.windows(5).any(|w| w == b"EICAR");
            let answer: &[u8] = if found {
                b"stream: Eicar-Test-Signature FOUND\0"
            } else {
                b"stream: OK\0"
            };
            let _ = c.write_all(answer);
        }
    });
}

fn send(s: &Server, subject: &str, body: &str) -> String {
    s.deliver_to_alice(
        "someone@sender.test",
        &format!(
            "From: someone@sender.test\r\nSubject: {subject}\r\nDate: Fri, 27 Nov 2026 00:00:00 +0000\r\nMessage-ID: <{subject}@sender.test>\r\n\r\n{body}"
        ),
    )
}

fn server(dns: &TestServer, socket: &Path) -> Server {
    let d = DataDir::new(&["alice@example.test"]);
    d.cli_ok(&["config", "set", "dns.nameservers", &dns.addr().to_string()]);
    d.cli_ok(&["config", "set", "smtp.check_loopback", "1"]);
    d.cli_ok(&[
        "config",
        "set",
        "spam.clamd_socket",
        socket.to_str().unwrap(),
    ]);
    Server::serve(d)
}

#[test]
fn a_virus_is_refused_and_clean_mail_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("clamd.sock");
    fake_clamd(&socket);
    let dns = TestServer::start(Zone::new()).unwrap();
    let s = server(&dns, &socket);
    let reply = send(&s, "clean", "Nothing to see here.");
    assert!(reply.starts_with("250"), "{reply}");
    let reply = send(&s, "infected", EICAR);
    assert!(
        reply.starts_with("550 5.7.1 Message contains a virus (Eicar-Test-Signature)"),
        "{reply}"
    );
    assert_eq!(s.data.uids("alice@example.test", "INBOX").len(), 1);
}

#[test]
fn without_clamd_mail_is_delivered_unscanned() {
    let dir = tempfile::tempdir().unwrap();
    let dns = TestServer::start(Zone::new()).unwrap();
    let s = server(&dns, &dir.path().join("nobody-listens.sock"));
    assert!(send(&s, "infected", EICAR).starts_with("250"));
    assert!(s.log().contains("virus check skipped"), "{}", s.log());
}

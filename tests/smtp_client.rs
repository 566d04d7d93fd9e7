//! The outbound SMTP client core (`mailnook::proto::smtp::client`) against real servers: the
//! mailnook MX (STARTTLS with certificate verification, pipelining, a refused recipient) and
//! Python's `smtpd` (an independent implementation without STARTTLS or PIPELINING). A small
//! blocking driver here stands in for the queue's async driver: it moves bytes between a socket
//! and the sans-IO client and streams the body through the shared dot-stuffing encoder.

mod common;
use common::*;

use mailnook::proto::dot::DotEncoder;
use mailnook::proto::smtp::client::{
    ClientConfig, Envelope, Event, Outcome, RcptResult, SmtpClient, TlsPolicy,
};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

enum Wire {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    Gone,
}

impl Wire {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Wire::Plain(s) => s.read(buf),
            Wire::Tls(s) => s.read(buf),
            Wire::Gone => Ok(0),
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Wire::Plain(s) => s.write_all(bytes),
            Wire::Tls(s) => s.write_all(bytes).and_then(|_| s.flush()),
            Wire::Gone => Ok(()),
        }
    }
}

/// Runs one transaction to the end and returns the outcome and everything the client wrote.
fn send(
    addr: std::net::SocketAddr,
    cert: Option<&Path>,
    cfg: ClientConfig,
    env: Envelope,
    message: &[u8],
) -> (Outcome, Vec<u8>) {
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut wire = Wire::Plain(tcp);
    let mut client = SmtpClient::new(cfg, env);
    let mut sent = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let event = client.next_event();
        let out = client.output().to_vec();
        client.clear_output();
        wire.write_all(&out).expect("write");
        sent.extend_from_slice(&out);
        match event {
            Event::NeedInput => match wire.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let Event::Done(o) = client.connection_lost() else {
                        unreachable!()
                    };
                    return (o, sent);
                }
                Ok(n) => client.feed(&buf[..n]),
            },
            Event::StartTls => {
                let Wire::Plain(tcp) = std::mem::replace(&mut wire, Wire::Gone) else {
                    panic!("STARTTLS inside TLS");
                };
                let name = rustls::pki_types::ServerName::try_from(HOSTNAME).unwrap();
                let conn = rustls::ClientConnection::new(
                    tls_client_config(cert.expect("a certificate to trust")),
                    name,
                )
                .unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                while tls.conn.is_handshaking() {
                    tls.conn.complete_io(&mut tls.sock).expect("TLS handshake");
                }
                wire = Wire::Tls(Box::new(tls));
                client.tls_started();
            }
            Event::SendBody => {
                let mut enc = DotEncoder::new(None);
                let mut body = Vec::new();
                // Odd piece sizes: the encoder must not care where pieces end.
                for piece in message.chunks(7) {
                    enc.encode(piece, &mut body);
                }
                enc.finish(&mut body);
                wire.write_all(&body).expect("write body");
                sent.extend_from_slice(&body);
                client.body_sent();
            }
            Event::Done(outcome) => {
                let out = client.output().to_vec();
                wire.write_all(&out).ok();
                return (outcome, sent);
            }
        }
    }
}

const MESSAGE: &[u8] = b"From: Sender <s@remote.test>\r\nTo: alice@example.test\r\n\
Subject: client test\r\nMessage-ID: <client-1@remote.test>\r\n\r\n.leading dot\r\n..two\r\n\
.\r\nlast line\r\n";

#[test]
fn delivers_to_the_mailnook_mx_over_starttls_with_pipelining() {
    let s = Server::start(&["alice@example.test"]);
    let cfg = ClientConfig {
        helo: "client.remote.test".into(),
        tls: TlsPolicy::Required,
        auth: None,
        auth_without_tls: false,
    };
    let env = Envelope {
        mail_from: "s@remote.test".into(),
        rcpts: vec!["alice@example.test".into(), "nobody@example.test".into()],
        size: MESSAGE.len() as u64,
        eight_bit: false,
        smtputf8: false,
    };
    let (outcome, sent) = send(s.mx(), Some(&s.cert()), cfg, env, MESSAGE);
    assert!(outcome.tls, "the message went over TLS");
    assert!(
        matches!(&outcome.rcpts[0], RcptResult::Delivered(r) if r.code == 250),
        "{outcome:?}"
    );
    assert!(
        matches!(&outcome.rcpts[1], RcptResult::Failed(r) if r.code == 550),
        "{outcome:?}"
    );
    // Nothing but EHLO and STARTTLS went out in plaintext... and the rest was pipelined.
    let sent = String::from_utf8_lossy(&sent);
    assert!(
        sent.starts_with("EHLO client.remote.test\r\nSTARTTLS\r\nEHLO"),
        "{sent}"
    );
    assert!(sent.contains("SIZE="), "SIZE used: {sent}");
    let uids = s.data.uids("alice@example.test", "INBOX");
    assert_eq!(uids.len(), 1);
    let stored = s.data.show("alice@example.test", "INBOX", uids[0]);
    assert_eq!(strip_trace(&stored), MESSAGE, "stored byte for byte");
}

#[test]
fn delivers_to_an_independent_server_without_extensions() {
    // Python 3.11's smtpd: EHLO with SIZE and 8BITMIME but without STARTTLS or PIPELINING, so
    // the client walks MAIL, RCPT and DATA one reply at a time and stays in plaintext
    // (opportunistic TLS).
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("received");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let script = format!(
        r#"
import asyncore, smtpd, sys, warnings
warnings.simplefilter("ignore")
class Sink(smtpd.SMTPServer):
    def process_message(self, peer, mailfrom, rcpttos, data, **kw):
        with open({out:?}, "wb") as f:
            f.write(mailfrom.encode() + b"\n" + b",".join(r.encode() for r in rcpttos) + b"\n" + data)
Sink(("127.0.0.1", {port}), None, decode_data=False)
print("ready", flush=True)
asyncore.loop(timeout=0.2, count=150)
"#,
        out = out.display().to_string(),
    );
    let mut py = std::process::Command::new("python3")
        .args(["-c", &script])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut ready = [0u8; 6];
    py.stdout.as_mut().unwrap().read_exact(&mut ready).unwrap();
    assert_eq!(&ready, b"ready\n");
    let cfg = ClientConfig {
        helo: "client.remote.test".into(),
        tls: TlsPolicy::Opportunistic,
        auth: None,
        auth_without_tls: false,
    };
    let env = Envelope {
        mail_from: "s@remote.test".into(),
        rcpts: vec!["a@sink.test".into(), "b@sink.test".into()],
        size: MESSAGE.len() as u64,
        eight_bit: false,
        smtputf8: false,
    };
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let (outcome, sent) = send(addr, None, cfg, env, MESSAGE);
    let _ = py.kill();
    let _ = py.wait();
    assert!(!outcome.tls);
    assert!(
        outcome
            .rcpts
            .iter()
            .all(|r| matches!(r, RcptResult::Delivered(r) if r.code == 250)),
        "{outcome:?}"
    );
    let sent = String::from_utf8_lossy(&sent);
    assert!(
        sent.starts_with("EHLO client.remote.test\r\nMAIL FROM:<s@remote.test> SIZE=")
            && !sent.contains("STARTTLS"),
        "{sent}"
    );
    let got = std::fs::read(&out).expect("the sink stored the message");
    let mut want = b"s@remote.test\na@sink.test,b@sink.test\n".to_vec();
    // smtpd hands over the un-stuffed data with LF line ends and without the final one.
    let text = String::from_utf8_lossy(MESSAGE).replace("\r\n", "\n");
    want.extend_from_slice(text.trim_end_matches('\n').as_bytes());
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want)
    );
}

//! Load and hostile-client tests against the real binary: connection floods and caps, idle and
//! stalled clients, plaintext slipped in after STARTTLS. Byte-level attacks on the protocol itself
//! (smuggling, relay syntax, injection in one write, long lines, HTTP) are transcripts under
//! `tests/transcripts/mx/`.

mod common;
use common::*;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const GREETING: &str = "220 mx.example.test ESMTP mailnook";
const TOO_MANY_CONNS: &str = "421 4.7.0 Too many connections, try again later";
const TIMEOUT: &str = "421 4.4.2 Timeout, closing connection";

/// A data folder with the given settings applied before the server starts.
fn server_with(settings: &[(&str, &str)]) -> Server {
    let data = DataDir::new(&["alice@example.test"]);
    for (k, v) in settings {
        data.cli_ok(&["config", "set", k, v]);
    }
    Server::serve(data)
}

/// One CRLF line from a fresh connection, or what went wrong.
fn first_line(stream: &TcpStream) -> String {
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    match r.read_line(&mut line) {
        Ok(_) => line.trim_end_matches("\r\n").to_string(),
        Err(e) => format!("<error: {e}>"),
    }
}

fn connect(s: &Server) -> TcpStream {
    let t = TcpStream::connect(s.mx()).expect("connect");
    t.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    t
}

/// Reads until the server closes; panics on a read error or timeout.
fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut rest = Vec::new();
    stream
        .read_to_end(&mut rest)
        .expect("server closes the connection");
    rest
}

/// Delivers one small message over a fresh connection, retrying the connect while the server
/// still counts closed connections against its cap.
fn deliver_after_load(s: &Server) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let probe = connect(s);
        let line = first_line(&probe);
        if line == GREETING {
            break;
        }
        assert_eq!(line, TOO_MANY_CONNS, "unexpected first line");
        assert!(
            Instant::now() < deadline,
            "server still full 10 s after load"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut c = s.connect();
    assert!(c.cmd("EHLO client.test").starts_with("250-mx.example.test"));
    assert_eq!(c.cmd("MAIL FROM:<bob@remote.test>"), "250 2.1.0 Sender ok");
    assert_eq!(
        c.cmd("RCPT TO:<alice@example.test>"),
        "250 2.1.5 Recipient ok"
    );
    assert_eq!(c.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>");
    c.send(b"Subject: after the flood\r\n\r\nstill here\r\n.\r\n");
    assert!(c.reply().starts_with("250 2.0.0 Ok: queued as "));
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye");
    let uids = s.data.uids("alice@example.test", "INBOX");
    assert_eq!(uids.len(), 1);
    assert_eq!(
        strip_trace(&s.data.show("alice@example.test", "INBOX", uids[0])),
        b"Subject: after the flood\r\n\r\nstill here\r\n"
    );
}

#[test]
fn thousand_connections_at_once_get_greeting_then_421_beyond_the_cap() {
    const FLOOD: usize = 1000;
    const THREADS: usize = 10;
    const MAX_CONNS: usize = 1024;
    raise_open_file_limit();
    let mut s = server_with(&[("net.max_conns", "1024"), ("net.max_conns_per_ip", "2000")]);
    let started = Instant::now();
    // Ten threads open 100 connections each, all released at once.
    let barrier = Arc::new(Barrier::new(THREADS));
    let addr = s.mx();
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                (0..FLOOD / THREADS)
                    .map(|_| {
                        let t = TcpStream::connect(addr).expect("connect under load");
                        t.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                        t
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut open: Vec<TcpStream> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("connector thread"))
        .collect();
    assert_eq!(open.len(), FLOOD);
    let greeted = open.iter().filter(|t| first_line(t) == GREETING).count();
    assert_eq!(greeted, FLOOD, "every connection under the cap is greeted");
    // All 1000 are still open: the next ones fill the total cap, then get 421 and are closed.
    let mut refused = 0;
    for i in 0..30 {
        let mut t = connect(&s);
        let line = first_line(&t);
        if i < MAX_CONNS - FLOOD {
            assert_eq!(
                line,
                GREETING,
                "connection {} of {MAX_CONNS}",
                FLOOD + i + 1
            );
            open.push(t);
        } else {
            assert_eq!(
                line,
                TOO_MANY_CONNS,
                "connection {} over the cap",
                FLOOD + i + 1
            );
            assert!(read_to_close(&mut t).is_empty());
            refused += 1;
        }
    }
    assert_eq!(refused, 30 - (MAX_CONNS - FLOOD));
    drop(open);
    deliver_after_load(&s);
    s.assert_alive();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(40), "flood test took {took:?}");
}

#[test]
fn connections_beyond_per_ip_cap_get_421_until_one_closes() {
    let mut s = server_with(&[("net.max_conns_per_ip", "3")]);
    let mut first: Vec<TcpStream> = (0..3).map(|_| connect(&s)).collect();
    for t in &first {
        assert_eq!(first_line(t), GREETING);
    }
    let mut over = connect(&s);
    assert_eq!(first_line(&over), TOO_MANY_CONNS);
    assert!(
        read_to_close(&mut over).is_empty(),
        "refused connection is closed"
    );
    // Closing one frees its slot once the server has seen the close.
    let mut gone = first.pop().unwrap();
    gone.write_all(b"QUIT\r\n").unwrap();
    assert_eq!(first_line(&gone), "221 2.0.0 Bye");
    drop(gone);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let t = connect(&s);
        let line = first_line(&t);
        if line == GREETING {
            break;
        }
        assert_eq!(line, TOO_MANY_CONNS);
        assert!(Instant::now() < deadline, "slot never freed");
        std::thread::sleep(Duration::from_millis(50));
    }
    s.assert_alive();
}

#[test]
fn idle_client_is_dropped_after_command_timeout() {
    let mut s = server_with(&[("smtp.command_timeout_secs", "5")]);
    let mut c = s.connect();
    assert!(c.cmd("EHLO client.test").starts_with("250-"));
    assert_eq!(c.cmd("MAIL FROM:<bob@remote.test>"), "250 2.1.0 Sender ok");
    let idle = Instant::now();
    assert_eq!(c.reply(), TIMEOUT);
    let waited = idle.elapsed();
    assert!(c.closed(), "connection closed after the 421");
    assert!(
        waited >= Duration::from_millis(4500) && waited < Duration::from_secs(9),
        "dropped after {waited:?}, want about 5 s"
    );
    s.assert_alive();
}

#[test]
fn stalled_data_is_cut_off_at_data_timeout_and_not_stored() {
    // The command timeout is long, so a cut-off after about 5 s can only be the data timeout.
    // The minimum-rate rule is off here so the idle limit alone is measured (the rate rule has
    // its own test below).
    let mut s = server_with(&[
        ("smtp.command_timeout_secs", "60"),
        ("smtp.data_timeout_secs", "5"),
        ("smtp.min_data_rate", "0"),
    ]);
    let mut c = s.connect();
    assert!(c.cmd("EHLO client.test").starts_with("250-"));
    assert_eq!(c.cmd("MAIL FROM:<bob@remote.test>"), "250 2.1.0 Sender ok");
    assert_eq!(
        c.cmd("RCPT TO:<alice@example.test>"),
        "250 2.1.5 Recipient ok"
    );
    assert_eq!(c.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>");
    // Dribble for 3 s (each byte restarts the idle clock), then stall before the end mark.
    c.send(b"Subject: never finished\r\n\r\n");
    for b in b"abc" {
        std::thread::sleep(Duration::from_secs(1));
        c.send(&[*b]);
    }
    let stalled = Instant::now();
    assert_eq!(c.reply(), TIMEOUT);
    let waited = stalled.elapsed();
    assert!(c.closed(), "connection closed after the 421");
    assert!(
        waited >= Duration::from_millis(4500) && waited < Duration::from_secs(9),
        "cut off {waited:?} after the last byte, want about 5 s"
    );
    assert_eq!(
        s.data.uids("alice@example.test", "INBOX"),
        Vec::<u32>::new(),
        "a cut-off message is not stored"
    );
    s.assert_alive();
}

#[test]
fn client_vanishing_mid_data_or_mid_bdat_stores_nothing() {
    let mut s = server_with(&[]);
    for (start, partial) in [
        ("DATA", &b"Subject: cut\r\n\r\nhalf a message\r\n"[..]),
        ("BDAT 100 LAST", &b"Subject: cut\r\n\r\nhalf a chunk"[..]),
    ] {
        let mut c = s.connect();
        assert!(c.cmd("EHLO client.test").starts_with("250-"));
        assert_eq!(c.cmd("MAIL FROM:<bob@remote.test>"), "250 2.1.0 Sender ok");
        assert_eq!(
            c.cmd("RCPT TO:<alice@example.test>"),
            "250 2.1.5 Recipient ok"
        );
        if start == "DATA" {
            assert_eq!(c.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>");
        } else {
            c.line(start);
        }
        c.send(partial);
        c.stream.shutdown(std::net::Shutdown::Both).unwrap();
    }
    // The server is still serving, and neither half message reached the INBOX (checked after
    // a pause, so a commit made on seeing the close would already show).
    let mut c = s.connect();
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye");
    std::thread::sleep(Duration::from_millis(300));
    assert!(s.data.uids("alice@example.test", "INBOX").is_empty());
    s.assert_alive();
}

#[test]
fn data_dribbled_forever_is_cut_off_at_data_timeout() {
    let s = server_with(&[
        ("smtp.command_timeout_secs", "60"),
        ("smtp.data_timeout_secs", "5"),
    ]);
    let mut c = s.connect();
    assert!(c.cmd("EHLO client.test").starts_with("250-"));
    assert_eq!(c.cmd("MAIL FROM:<bob@remote.test>"), "250 2.1.0 Sender ok");
    assert_eq!(
        c.cmd("RCPT TO:<alice@example.test>"),
        "250 2.1.5 Recipient ok"
    );
    assert_eq!(c.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>");
    let start = Instant::now();
    c.stream
        .set_read_timeout(Some(Duration::from_millis(900)))
        .unwrap();
    // One byte a second, never stopping: the server must give up within a bounded time.
    let mut reader = BufReader::new(c.stream.try_clone().unwrap());
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "still in DATA after {:?} of dribbling",
            start.elapsed()
        );
        if c.stream.write_all(b"x").is_err() {
            break; // closed under us: cut off
        }
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {
                assert_eq!(line, format!("{TIMEOUT}\r\n"));
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
}

#[test]
fn command_line_dribbled_forever_is_cut_off_at_command_timeout() {
    // Slowloris on the command side: every byte arrives before the idle limit, but the line as a
    // whole must be complete within smtp.command_timeout_secs of its first byte.
    let s = server_with(&[("smtp.command_timeout_secs", "5")]);
    let mut c = s.connect();
    assert!(c.cmd("EHLO client.test").starts_with("250-"));
    let start = Instant::now();
    c.stream
        .set_read_timeout(Some(Duration::from_millis(900)))
        .unwrap();
    let mut reader = BufReader::new(c.stream.try_clone().unwrap());
    let mut answer = String::new();
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "still reading one command line after {:?}",
            start.elapsed()
        );
        if c.stream.write_all(b"N").is_err() {
            break;
        }
        match reader.read_line(&mut answer) {
            Ok(0) => break,
            Ok(_) => break,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    assert!(
        start.elapsed() >= Duration::from_secs(4),
        "cut off too early: {:?}",
        start.elapsed()
    );
    assert!(
        answer.is_empty() || answer == format!("{TIMEOUT}\r\n"),
        "{answer:?}"
    );
}

#[test]
fn plaintext_sent_after_the_starttls_reply_is_never_run() {
    // CVE-2011-0411's other half: commands that arrive after the 220, in their own segment,
    // are read as TLS bytes, so the handshake fails and nothing is answered in plaintext.
    let mut s = server_with(&[]);
    let mut c = s.connect();
    assert!(c.cmd("EHLO client.test").starts_with("250-"));
    assert_eq!(c.cmd("STARTTLS"), "220 2.0.0 Ready to start TLS");
    c.send(b"MAIL FROM:<evil@evil.test>\r\nRCPT TO:<alice@example.test>\r\n");
    let mut rest = Vec::new();
    c.stream
        .read_to_end(&mut rest)
        .expect("server closes the connection");
    // At most a TLS alert record (content type 21), never an SMTP reply.
    assert!(
        rest.is_empty() || rest[0] == 0x15,
        "server answered plaintext: {:?}",
        rest.escape_ascii().to_string()
    );
    assert!(s.data.uids("alice@example.test", "INBOX").is_empty());
    s.assert_alive();
}

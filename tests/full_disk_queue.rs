//! The outbound queue on a full disk, end to end: instance A's data folder on an 8 MiB tmpfs in
//! a private mount namespace (as in `tests/full_disk.rs`), instance B its remote MX through the
//! in-process DNS server (as in `tests/outbound.rs`). Mail to an alias of A that forwards to B
//! waits in A's queue while B is down; then A's disk fills. While A cannot record an attempt's
//! outcome it attempts nothing, even once B is back (a 250 it could not write down would send
//! the message again, over and over); when deleting mail over IMAP makes room, every queued
//! message reaches B exactly once and A's queue empties, with no restart.
//!
//! Mounting needs root or an unprivileged user namespace (`unshare -rm`); where neither works
//! the test fails and says so.

mod common;
use common::tmpfs::Tmpfs;
use common::*;
use mailnook::dns::testserver::{TestRecord, TestServer, Zone};
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

const ALICE: &str = "alice@a.test";
const FORWARD: &str = "fwd@a.test";
const BOB: &str = "bob@b.test";
const QUEUED: [&str; 3] = ["queued one", "queued two", "queued three"];

/// One message over the MX: the reply to MAIL when it is not 250, else the reply to the data.
fn send(s: &Server, rcpt: &str, subject: &str, body_kib: usize) -> String {
    let mut c = s.connect();
    assert!(c.cmd("EHLO mail.sender.test").starts_with("250"));
    let mail = c.cmd("MAIL FROM:<carol@remote.test>");
    if !mail.starts_with("250") {
        return mail;
    }
    assert!(c.cmd(&format!("RCPT TO:<{rcpt}>")).starts_with("250"));
    assert!(c.cmd("DATA").starts_with("354"));
    let filler = format!("{subject} filler line\r\n").repeat(body_kib * 1024 / 30 + 1);
    c.cmd(&format!(
        "From: carol@remote.test\r\nTo: {rcpt}\r\nSubject: {subject}\r\n\r\n{filler}."
    ))
}

/// Subjects of the messages in bob's INBOX at B.
fn bobs_subjects(b: &Server) -> Vec<String> {
    b.messages_of(BOB, "INBOX")
        .iter()
        .filter_map(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .map(str::to_string)
        })
        .collect()
}

/// Deletes every message in alice's INBOX over plaintext IMAP (allowed on loopback).
fn expunge_alices_inbox(a: &Server) {
    let stream = TcpStream::connect(a.imap()).expect("connect to IMAP");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(line.starts_with("* OK"), "{line}");
    for (tag, cmd) in [
        ("a", format!("LOGIN {ALICE} {PASSWORD}")),
        ("b", "SELECT INBOX".to_string()),
        ("c", "STORE 1:* +FLAGS.SILENT (\\Deleted)".to_string()),
        ("d", "EXPUNGE".to_string()),
        ("e", "LOGOUT".to_string()),
    ] {
        w.write_all(format!("{tag} {cmd}\r\n").as_bytes()).unwrap();
        loop {
            line.clear();
            assert!(r.read_line(&mut line).unwrap() > 0, "closed during {cmd}");
            if line.starts_with(&format!("{tag} ")) {
                assert!(line.starts_with(&format!("{tag} OK")), "{cmd}: {line}");
                break;
            }
        }
    }
}

/// Lines of A's log that record a delivery attempt's outcome.
fn attempts_logged(a: &Server) -> usize {
    a.log()
        .lines()
        .filter(|l| l.contains("deferred id=") || l.contains("delivered id="))
        .count()
}

#[test]
fn queued_mail_waits_out_a_full_disk_and_is_sent_once_when_room_returns() {
    let zone = Zone::new()
        .add("b.test", TestRecord::Mx(10, "mx.b.test".into()))
        .add("mx.b.test", TestRecord::A(Ipv4Addr::LOCALHOST));
    let dns = TestServer::start(zone).unwrap();
    // B: started once for its ports, then down (its MX port held) until A's disk is full.
    let mut b = Server::serve(DataDir::for_domain("b.test", "mx.b.test", &[BOB]));
    let b_base = b.port_base;
    b.stop();
    let down = Down::hold(b_base);

    let dir = tempfile::Builder::new()
        .prefix("mailnook-fullqueue")
        .tempdir()
        .unwrap();
    let fs = Tmpfs::mount(dir.path(), "8m");
    run_binary_under(fs.enter());
    let ad = DataDir::init_in(dir, "a.test", "mx.a.test", &[ALICE]);
    for (k, v) in [
        ("dns.nameservers", dns.addr().to_string()),
        ("queue.remote_port", (b_base + 25).to_string()),
        ("queue.retry_base_secs", "1".to_string()),
        ("queue.retry_max_secs", "1".to_string()),
        // No reserve: the disk really fills, and the store meets ENOSPC.
        ("store.min_free_bytes", "0".to_string()),
        ("imap.plaintext_loopback", "1".to_string()),
    ] {
        ad.cli_ok(&["config", "set", k, &v]);
    }
    ad.cli_ok(&["alias", "add", FORWARD, BOB]);
    let mut a = Server::serve(ad);

    for subject in QUEUED {
        let reply = send(&a, FORWARD, subject, 1);
        assert!(reply.starts_with("250 "), "{subject}: {reply}");
    }
    wait_for(
        Duration::from_secs(20),
        "a deferral while B is down",
        || a.log().contains("deferred id=").then_some(()),
    );

    // Fill A's disk with mail for alice until it refuses.
    let mut refused = None;
    for i in 0..200 {
        let reply = send(&a, ALICE, &format!("filler {i}"), 96);
        if !reply.starts_with("250 ") {
            refused = Some(reply);
            break;
        }
    }
    let refused = refused.expect("an 8 MiB disk fills within 200 messages of 96 KiB");
    assert!(refused.starts_with("452 4.3.1"), "{refused}");
    assert!(
        a.log().contains("store storage full"),
        "the store met ENOSPC:\n{}",
        tail(&a.log(), 20)
    );
    // The store may still hold pages its earlier commits freed: enough to record a deferral
    // after refusing a 96 KiB message, and while deferrals are recorded the queue rightly goes
    // on. Small messages use those pages up until no commit fits, and then the queue stops.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut small = 0;
    while !a
        .log()
        .contains("queue: storage full; no attempt until writes succeed")
    {
        assert!(
            Instant::now() < deadline,
            "the queue did not stop after {small} small messages:\n{}",
            tail(
                &a.log()
                    .lines()
                    .filter(|l| !l.contains("refused cid="))
                    .collect::<Vec<_>>()
                    .join("\n"),
                60
            )
        );
        send(&a, ALICE, &format!("small filler {small}"), 1);
        small += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    // Forwarded mail is refused the same way while full.
    let reply = send(&a, FORWARD, "while full", 1);
    assert!(reply.starts_with("452 4.3.1"), "{reply}");

    // B comes back while A is still full: nothing is attempted, so nothing is sent (twice).
    let b_data = std::mem::replace(&mut b.data, DataDir::for_domain("x.test", "x.test", &[]));
    drop(down);
    let b = Server::serve_at(b_data, b_base);
    let before = attempts_logged(&a);
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        attempts_logged(&a),
        before,
        "attempts while the disk is full:\n{}",
        tail(&a.log(), 30)
    );
    assert!(
        bobs_subjects(&b).is_empty(),
        "sent while A could not record it"
    );
    a.assert_alive();

    // Deleting alice's mail makes room; the queue resumes by itself and sends each message once.
    expunge_alices_inbox(&a);
    wait_for(Duration::from_secs(60), "the queued mail at B", || {
        (bobs_subjects(&b).len() >= QUEUED.len()).then_some(())
    });
    wait_for(Duration::from_secs(30), "A's queue to empty", || {
        let list = String::from_utf8(a.data.cli_ok(&["queue", "list"])).unwrap();
        (list.trim() == "queue is empty").then_some(())
    });
    std::thread::sleep(Duration::from_secs(3));
    let mut got = bobs_subjects(&b);
    got.sort();
    let mut want: Vec<String> = QUEUED.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(got, want, "each queued message reaches B exactly once");
    assert!(
        a.log()
            .contains("queue: storage writable again; attempts resume"),
        "{}",
        tail(&a.log(), 20)
    );
    assert_eq!(
        String::from_utf8(a.data.cli_ok(&["check"])).unwrap(),
        "store ok\n"
    );
    a.assert_alive();
    assert_eq!(a.stop().code(), Some(0), "clean shutdown");
}

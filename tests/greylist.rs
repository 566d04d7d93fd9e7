//! Greylisting (RFC 6647) on the MX, with the real binary: a new (network, sender, recipient)
//! is deferred with 451 4.7.1 until `greylist.delay_secs` passed; the retry is accepted and the
//! client network then passes at once; unknown users and postmaster are never greylisted; off by
//! default.

mod common;

use common::*;
use std::time::Duration;

fn greylisting_server() -> Server {
    let d = DataDir::new(&["alice@example.test"]);
    d.cli_ok(&["config", "set", "greylist.enabled", "1"]);
    // Long enough that a loaded machine cannot let the immediate retry below pass by accident.
    d.cli_ok(&["config", "set", "greylist.delay_secs", "3"]);
    Server::serve(d)
}

#[test]
fn a_new_triplet_waits_then_its_network_passes() {
    let s = greylisting_server();
    let mut c = s.connect();
    assert!(c.cmd("EHLO client.far.test").starts_with("250"));
    assert!(c.cmd("MAIL FROM:<someone@far.test>").starts_with("250"));
    let first = c.cmd("RCPT TO:<alice@example.test>");
    assert!(
        first.starts_with("451 4.7.1 Greylisted, please try again in 3 seconds"),
        "{first}"
    );
    assert!(
        c.cmd("RCPT TO:<alice@example.test>")
            .starts_with("451 4.7.1")
    );
    // Unknown users are refused for what they are, not greylisted; postmaster is never delayed.
    assert!(
        c.cmd("RCPT TO:<nobody@example.test>")
            .starts_with("550 5.1.1")
    );
    assert!(
        c.cmd("RCPT TO:<postmaster@example.test>")
            .starts_with("250")
    );
    std::thread::sleep(Duration::from_millis(3100));
    assert!(c.cmd("RCPT TO:<alice@example.test>").starts_with("250"));
    assert!(c.cmd("DATA").starts_with("354"));
    assert!(
        c.cmd("Subject: after the wait\r\n\r\nhello\r\n.")
            .starts_with("250")
    );
    // The network passed: another sender is not delayed.
    assert!(c.cmd("MAIL FROM:<other@elsewhere.test>").starts_with("250"));
    assert!(c.cmd("RCPT TO:<alice@example.test>").starts_with("250"));
    assert_eq!(s.data.uids("alice@example.test", "INBOX").len(), 1);
    assert!(s.log().contains("greylisted cid="));
}

#[test]
fn off_by_default() {
    let s = Server::start(&["alice@example.test"]);
    let mut c = s.connect();
    assert!(c.cmd("EHLO client.far.test").starts_with("250"));
    assert!(c.cmd("MAIL FROM:<someone@far.test>").starts_with("250"));
    assert!(c.cmd("RCPT TO:<alice@example.test>").starts_with("250"));
}

//! Mailing lists end to end with `mailnook list` and Python's smtplib on the MX: a member's post
//! reaches every member with the RFC 2369/2919 fields from the list's bounce address, outsiders
//! and (on an announcement list) members are refused, a list takes its own transaction, a dead
//! member stops being sent to after `lists.max_bounces` failures, failure reports to the
//! `-bounces` address count, and `-request` unsubscribes.

mod common;
use common::*;

use std::process::Command;
use std::time::{Duration, Instant};

const ALICE: &str = "alice@example.test";
const BOB: &str = "bob@example.test";
const CAROL: &str = "carol@example.test";
const LIST: &str = "family@example.test";

/// Sends one message over the MX and prints `ok` or the refusing code.
const SEND: &str = r#"
import smtplib, sys
port, sender, rcpt, subject, body = sys.argv[1:6]
c = smtplib.SMTP("127.0.0.1", int(port), local_hostname="client.test", timeout=30)
msg = f"From: {sender or 'mailer-daemon@far.test'}\r\nTo: {rcpt}\r\nSubject: {subject}\r\n\r\n{body}\r\n"
try:
    c.sendmail(sender, [rcpt], msg.encode())
    print("ok")
except smtplib.SMTPRecipientsRefused as e:
    print(list(e.recipients.values())[0][0])
c.quit()
"#;

fn send(s: &Server, from: &str, to: &str, subject: &str, body: &str) -> String {
    let out = run_bounded(
        Command::new("python3").arg("-c").arg(SEND).args([
            &s.mx().port().to_string(),
            from,
            to,
            subject,
            body,
        ]),
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn cli(s: &Server, args: &[&str]) -> String {
    String::from_utf8(s.data.cli_ok(args)).unwrap()
}

fn wait_log(s: &Server, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !s.log().contains(what) {
        assert!(Instant::now() < deadline, "no {what:?} in:\n{}", s.log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn posts_reach_members_and_dead_members_stop_bouncing() {
    let s = Server::start(&[ALICE, BOB, CAROL]);
    let out = cli(&s, &["list", "add", LIST, "members", "reply-to-list"]);
    assert!(
        out.contains("members may post, replies go to the list"),
        "{out}"
    );
    cli(&s, &["config", "set", "lists.max_bounces", "2"]);
    cli(&s, &["list", "join", LIST, ALICE, BOB, "gone@remote.test"]);
    cli(&s, &["list", "moderator", "add", LIST, CAROL]);
    // The list's address cannot become a user or an alias.
    let out = s.data.cli(&["alias", "add", LIST, BOB]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a mailing list"));

    // A member posts: every member gets it, from the list's bounce address, with its fields.
    assert_eq!(
        send(&s, ALICE, LIST, "Dinner on Sunday", "Who is coming?"),
        "ok"
    );
    for user in [ALICE, BOB] {
        let got = s.messages_of(user, "INBOX");
        assert_eq!(got.len(), 1, "{user}");
        let m = &got[0];
        for want in [
            "Return-Path: <family-bounces@example.test>\r\n",
            "List-Id: <family.example.test>\r\n",
            "List-Post: <mailto:family@example.test>\r\n",
            "List-Unsubscribe: <mailto:family-request@example.test?subject=unsubscribe>\r\n",
            "Precedence: list\r\n",
            "Reply-To: <family@example.test>\r\n",
            "From: alice@example.test\r\n",
            "Who is coming?",
        ] {
            assert!(m.contains(want), "{want:?} missing for {user}:\n{m}");
        }
    }
    // The list's Reply-To, added at delivery, is in the ENVELOPE a client reads (RFC 3501
    // §7.4.2), not only in the stored bytes.
    let mut imap = s.imap_session(BOB);
    imap.select("INBOX").unwrap();
    let fetched = imap.uid_fetch("1", "ENVELOPE").unwrap();
    let envelope = fetched.iter().next().unwrap().envelope().unwrap();
    let reply_to: Vec<_> = envelope
        .reply_to
        .iter()
        .flatten()
        .map(|a| (a.mailbox.as_deref(), a.host.as_deref()))
        .collect();
    assert_eq!(
        reply_to,
        [(Some(&b"family"[..]), Some(&b"example.test"[..]))]
    );
    imap.logout().unwrap();
    assert!(
        s.messages_of(CAROL, "INBOX").is_empty(),
        "a moderator is not a member"
    );
    // Outsiders may not post; a moderator may.
    assert_eq!(send(&s, "x@sender.test", LIST, "spam", "buy"), "550");
    assert_eq!(send(&s, "", LIST, "bounce", "x"), "550");
    assert_eq!(send(&s, CAROL, LIST, "From the moderator", "hi"), "ok");
    assert_eq!(s.messages_of(BOB, "INBOX").len(), 2);

    // The list takes its own transaction.
    let mut c = s.connect();
    assert!(c.cmd("EHLO client.test").starts_with("250"));
    assert!(c.cmd("MAIL FROM:<alice@example.test>").starts_with("250"));
    assert!(c.cmd("RCPT TO:<bob@example.test>").starts_with("250"));
    assert!(c.cmd(&format!("RCPT TO:<{LIST}>")).starts_with("452 4.5.3"));
    assert!(c.cmd("RSET").starts_with("250"));
    assert!(c.cmd("MAIL FROM:<alice@example.test>").starts_with("250"));
    assert!(c.cmd(&format!("RCPT TO:<{LIST}>")).starts_with("250"));
    assert!(c.cmd("RCPT TO:<bob@example.test>").starts_with("452 4.5.3"));
    drop(c);

    // gone@remote.test fails for good on each post (no such domain): after two, it is disabled
    // and the posters got no report of it.
    wait_log(
        &s,
        "list family@example.test disabled member <gone@remote.test> after 2 bounces",
    );
    let shown = cli(&s, &["list", "show", LIST]);
    assert!(
        shown.contains("member\tgone@remote.test\tdisabled after 2 bounces"),
        "{shown}"
    );
    assert!(!s.log().contains("report id="), "{}", s.log());
    assert_eq!(send(&s, ALICE, LIST, "Third post", "x"), "ok");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        s.log().matches("to=<gone@remote.test>").count(),
        2,
        "{}",
        s.log()
    );

    // A failure report from elsewhere to the bounce address counts against the member it names.
    let report = "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.far.test\r\n\r\nFinal-Recipient: rfc822; bob@example.test\r\nAction: failed\r\nStatus: 5.2.2\r\n--b--";
    assert_eq!(
        send(&s, "", "family-bounces@example.test", "Undelivered", report),
        "ok"
    );
    let shown = cli(&s, &["list", "show", LIST]);
    assert!(
        shown.contains("member\tbob@example.test\t1 bounces"),
        "{shown}"
    );
    // Unsubscribing by mail to -request; rejoining clears the count.
    assert_eq!(
        send(&s, BOB, "family-request@example.test", "unsubscribe", ""),
        "ok"
    );
    assert!(!cli(&s, &["list", "show", LIST]).contains("member\tbob@"));
    cli(&s, &["list", "join", LIST, "gone@remote.test"]);
    assert!(cli(&s, &["list", "show", LIST]).contains("member\tgone@remote.test\t0 bounces"));

    // An announcement list: only moderators post.
    cli(&s, &["list", "add", LIST, "moderators"]);
    assert_eq!(send(&s, ALICE, LIST, "not allowed", "x"), "550");
    assert!(cli(&s, &["check"]).contains("ok"));
    assert!(
        cli(&s, &["list", "show"]).contains("family@example.test\t2 members\tmoderators may post")
    );
    cli(&s, &["list", "del", LIST]);
    assert_eq!(send(&s, CAROL, LIST, "gone", "x"), "550");
}

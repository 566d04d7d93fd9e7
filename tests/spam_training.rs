//! The spam scorer on the MX and its training, with the real binary: moving a message into Junk
//! over IMAP (Python's imaplib) teaches the model, and the next copy of that message lands in
//! Junk with an `X-Spam-Score` saying why; a forged `X-Spam-Score` from outside is removed; an
//! unrelated message still reaches the INBOX; each user is judged by their own lessons first; a
//! client listed by a DNS blocklist is refused at SMTP time once its score reaches the threshold.

mod common;

use common::*;
use mailnook::dns::testserver::{TestServer, Zone};
use std::process::Command;
use std::time::{Duration, Instant};

const SPAM_BODY: &str = "Congratulations winner! Claim your free lottery prize now, send your \
bank account details and a processing fee to claim the million dollars today. Limited offer, \
act now, click here to claim the prize money.";

fn send(s: &Server, subject: &str, body: &str, extra: &str) -> String {
    send_from(s, "promo@sender.test", subject, body, extra)
}

fn send_from(s: &Server, from: &str, subject: &str, body: &str, extra: &str) -> String {
    s.deliver_to_alice(
        from,
        &format!(
            "From: {from}\r\nTo: alice@example.test\r\n{extra}Subject: {subject}\r\n\r\n{body}"
        ),
    )
}

fn stored(s: &Server, mailbox: &str) -> Vec<String> {
    s.alices(mailbox)
}

/// Moves every message of alice's INBOX into Junk with imaplib over STARTTLS.
fn move_inbox_to_junk(s: &Server) {
    judge_inbox(s, "alice@example.test", "MOVE", "Junk");
}

/// Runs `UID <command> 1:* <argument>` on `user`'s INBOX with imaplib over STARTTLS.
fn judge_inbox(s: &Server, user: &str, command: &str, argument: &str) {
    const PY: &str = r#"
import imaplib, ssl, sys
c = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]), timeout=30)
c.starttls(ssl._create_unverified_context())
c.login(sys.argv[3], sys.argv[2])
c.select("INBOX")
typ, data = c.uid(sys.argv[4], "1:*", *sys.argv[5:])
assert typ == "OK", (typ, data)
c.logout()
"#;
    let mut args = vec![argument];
    if command == "STORE" {
        args.insert(0, "+FLAGS");
    }
    let out = Command::new("python3")
        .arg("-c")
        .arg(PY)
        .arg(s.imap().port().to_string())
        .arg(PASSWORD)
        .arg(user)
        .arg(command)
        .args(args)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "imaplib: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_message_moved_to_junk_sends_its_next_copy_to_junk() {
    let dns = TestServer::start(Zone::new()).unwrap();
    let d = DataDir::new(&["alice@example.test"]);
    d.cli_ok(&["config", "set", "dns.nameservers", &dns.addr().to_string()]);
    d.cli_ok(&["config", "set", "smtp.check_loopback", "1"]);
    let s = Server::serve(d);
    // No model yet: the first copy reaches the INBOX, scored, a forged score removed.
    let reply = send(
        &s,
        "You won",
        SPAM_BODY,
        "X-Spam-Score: -100.0 accept; forged=1\r\n",
    );
    assert!(reply.starts_with("250"), "{reply}");
    let first = stored(&s, "INBOX");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].matches("X-Spam-Score:").count(), 1, "{}", first[0]);
    assert!(!first[0].contains("forged=1"), "{}", first[0]);
    assert!(first[0].contains("X-Spam-Score: "), "{}", first[0]);
    // The user says it is junk.
    move_inbox_to_junk(&s);
    wait_learned(&s, 1);
    // The next copy goes to Junk, and says why.
    assert!(send(&s, "You won again", SPAM_BODY, "").starts_with("250"));
    let junk = stored(&s, "Junk");
    assert_eq!(junk.len(), 2, "{junk:?}");
    let score = junk[1]
        .lines()
        .find(|l| l.starts_with("X-Spam-Score: "))
        .expect("scored")
        .to_string();
    assert!(
        score.contains(" junk") && score.contains("bayes"),
        "{score}"
    );
    assert!(stored(&s, "INBOX").is_empty());
    // A message from someone else about something else is not caught by that one lesson.
    let ham = "Hi Alice, the minutes of Tuesday's meeting are attached below; see you on \
               Thursday at the library to plan the garden party for the neighbours.";
    assert!(send_from(&s, "bob@neighbours.test", "Minutes", ham, "").starts_with("250"));
    let inbox = stored(&s, "INBOX");
    assert_eq!(inbox.len(), 1, "{}", tail(&s.log(), 5));
}

/// Waits until the trainer has logged learning `n` judgements in all.
fn wait_learned(s: &Server, n: usize) {
    let learned = |log: String| -> usize {
        log.lines()
            .filter_map(|l| {
                l.split("spam: learned ")
                    .nth(1)?
                    .split(' ')
                    .next()?
                    .parse::<usize>()
                    .ok()
            })
            .sum()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while learned(s.log()) < n {
        assert!(
            Instant::now() < deadline,
            "not learned: {}",
            tail(&s.log(), 20)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn each_user_is_judged_by_their_own_lessons() {
    let dns = TestServer::start(Zone::new()).unwrap();
    let d = DataDir::new(&["alice@example.test", "bob@example.test"]);
    d.cli_ok(&["config", "set", "dns.nameservers", &dns.addr().to_string()]);
    d.cli_ok(&["config", "set", "smtp.check_loopback", "1"]);
    let s = Server::serve(d);
    let newsletter = |to: &str, subject: &str| {
        format!("From: news@shop.test\r\nTo: {to}\r\nSubject: {subject}\r\n\r\n{SPAM_BODY}")
    };
    for user in ["alice@example.test", "bob@example.test"] {
        let reply = s.deliver_to("news@shop.test", user, &newsletter(user, "Offer"));
        assert!(reply.starts_with("250"), "{reply}");
    }
    // Alice calls the newsletter junk; Bob wants it ($NotJunk). The shared model has learned
    // it once as spam and once as ham, so only each user's own model can tell them apart.
    move_inbox_to_junk(&s);
    wait_learned(&s, 1);
    judge_inbox(&s, "bob@example.test", "STORE", "($NotJunk)");
    wait_learned(&s, 2);
    for user in ["alice@example.test", "bob@example.test"] {
        let reply = s.deliver_to("news@shop.test", user, &newsletter(user, "Offer again"));
        assert!(reply.starts_with("250"), "{reply}");
    }
    assert_eq!(s.messages_of("alice@example.test", "Junk").len(), 2);
    assert!(s.messages_of("alice@example.test", "INBOX").is_empty());
    let bobs = s.messages_of("bob@example.test", "INBOX");
    assert_eq!(bobs.len(), 2, "{}", tail(&s.log(), 10));
    assert!(s.messages_of("bob@example.test", "Junk").is_empty());
    // A copy addressed to both is judged by the shared model, which has no opinion.
    let mut c = s.connect();
    assert!(c.cmd("EHLO mail.sender.test").starts_with("250"));
    assert!(c.cmd("MAIL FROM:<news@shop.test>").starts_with("250"));
    assert!(c.cmd("RCPT TO:<alice@example.test>").starts_with("250"));
    assert!(c.cmd("RCPT TO:<bob@example.test>").starts_with("250"));
    assert!(c.cmd("DATA").starts_with("354"));
    let reply = c.cmd(&format!("{}\r\n.", newsletter("both", "Offer for two")));
    assert!(reply.starts_with("250"), "{reply}");
    assert_eq!(s.messages_of("bob@example.test", "INBOX").len(), 3);
    let last = s.messages_of("alice@example.test", "INBOX");
    assert_eq!(last.len(), 1, "{}", tail(&s.log(), 10));
}

/// A client listed by a DNS blocklist: with the listing as evidence beyond the content, a score
/// at `spam.reject_tenths` is refused at SMTP time with 550 5.7.1 and nothing is stored (no
/// bounce is made); the same message from an unlisted setup is delivered.
#[test]
fn a_listed_client_over_the_reject_threshold_is_refused_at_smtp_time() {
    let zone = Zone::new().add(
        "1.0.0.127.bl.example",
        mailnook::dns::testserver::TestRecord::A(std::net::Ipv4Addr::new(127, 0, 0, 2)),
    );
    let dns = TestServer::start(zone).unwrap();
    let d = DataDir::new(&["alice@example.test"]);
    d.cli_ok(&["config", "set", "dns.nameservers", &dns.addr().to_string()]);
    d.cli_ok(&["config", "set", "smtp.check_loopback", "1"]);
    d.cli_ok(&["config", "set", "spam.dnsbl_zones", "bl.example"]);
    d.cli_ok(&["config", "set", "spam.junk_tenths", "10"]);
    d.cli_ok(&["config", "set", "spam.reject_tenths", "20"]);
    let s = Server::serve(d);
    let reply = send(&s, "You won", SPAM_BODY, "");
    assert!(reply.starts_with("550 5.7.1"), "{reply}");
    assert!(stored(&s, "INBOX").is_empty() && stored(&s, "Junk").is_empty());
    assert!(
        s.log().contains("dnsbl:bl.example"),
        "{}",
        tail(&s.log(), 10)
    );
    // Without the listing the same message is delivered.
    s.data
        .cli_ok(&["config", "set", "spam.dnsbl_zones", "other.example"]);
    let reply = send(&s, "You won", SPAM_BODY, "");
    assert!(reply.starts_with("250"), "{reply}");
    assert_eq!(stored(&s, "INBOX").len() + stored(&s, "Junk").len(), 1);
}

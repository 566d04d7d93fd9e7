//! Aliases end to end: made with `mailnook alias` (through the running server's control socket,
//! and with the server stopped), mail to an alias reaches every user it names over the MX
//! (Python's smtplib), a user may submit as an alias that delivers to them and not as another,
//! deleting a user takes them out of every alias, and the store check stays clean.

mod common;
use common::*;

use std::process::Command;
use std::time::Duration;

const ALICE: &str = "alice@example.test";
const BOB: &str = "bob@example.test";
const CAROL: &str = "carol@example.test";

/// Talks to the MX (`mx`) or, logged in as alice over STARTTLS, submission (`submit`) with
/// smtplib, and prints one line per attempt: `ok` or the refusing reply's code.
const SMTPLIB: &str = r#"
import smtplib, ssl, sys
port, cert, mode, sender, rcpt, from_header = sys.argv[1:7]
c = smtplib.SMTP("127.0.0.1", int(port), local_hostname="client.test", timeout=30)
c.ehlo()
if mode == "submit":
    ctx = ssl.create_default_context(cafile=cert)
    ctx.check_hostname = False
    c.starttls(context=ctx)
    c.ehlo()
    c.login("alice@example.test", sys.argv[7])
msg = f"From: {from_header}\r\nTo: {rcpt}\r\nSubject: to {rcpt}\r\n\r\nHello {rcpt}.\r\n"
try:
    c.sendmail(sender, [rcpt], msg.encode())
    print("ok")
except smtplib.SMTPRecipientsRefused as e:
    print(list(e.recipients.values())[0][0])
except smtplib.SMTPSenderRefused as e:
    print(e.smtp_code)
except smtplib.SMTPDataError as e:
    print(e.smtp_code)
c.quit()
"#;

fn send(s: &Server, mode: &str, sender: &str, rcpt: &str, from_header: &str) -> String {
    let port = match mode {
        "mx" => s.mx().port(),
        _ => s.submission().port(),
    };
    let out = run_bounded(
        Command::new("python3")
            .arg("-c")
            .arg(SMTPLIB)
            .arg(port.to_string())
            .arg(s.cert())
            .args([mode, sender, rcpt, from_header, PASSWORD]),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "smtplib: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Sends from someone@sender.test to `rcpt` over the MX.
fn mx_to(s: &Server, rcpt: &str) -> String {
    send(s, "mx", "someone@sender.test", rcpt, "someone@sender.test")
}

fn cli(s: &Server, args: &[&str]) -> String {
    String::from_utf8(s.data.cli_ok(args)).unwrap()
}

fn cli_err(s: &Server, args: &[&str]) -> String {
    let out = s.data.cli(args);
    assert!(!out.status.success(), "{args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn mail_to_an_alias_reaches_every_user_it_names() {
    let mut s = Server::start(&[ALICE, BOB, CAROL]);
    let out = cli(&s, &["alias", "add", "Family@Example.test", ALICE, BOB]);
    assert!(
        out.contains("family@example.test now delivers to alice@example.test, bob@example.test"),
        "{out}"
    );
    // Adding to an alias keeps its targets; naming one twice changes nothing.
    cli(&s, &["alias", "add", "family@example.test", CAROL, BOB]);
    assert_eq!(
        cli(&s, &["alias", "list"]).trim(),
        "family@example.test\talice@example.test, bob@example.test, carol@example.test"
    );
    // Refused, with the reason: a user's address, a foreign domain, an unknown target,
    // postmaster, no target.
    assert!(cli_err(&s, &["alias", "add", BOB, ALICE]).contains("is a user's address"));
    assert!(cli_err(&s, &["alias", "add", "x@elsewhere.test", ALICE]).contains("no such domain"));
    assert!(
        cli_err(&s, &["alias", "add", "x@example.test", "dave@example.test"])
            .contains("no such user: dave@example.test")
    );
    assert!(cli_err(&s, &["alias", "add", "postmaster@example.test", ALICE]).contains("admin"));
    assert!(cli_err(&s, &["alias", "add", "x@example.test"]).contains("wrong arguments"));
    assert!(
        cli_err(
            &s,
            &[
                "user",
                "add",
                "family@example.test",
                "--password",
                "x-x-x-x-x-x"
            ]
        )
        .contains("is an alias")
    );

    // One copy for each user.
    assert_eq!(mx_to(&s, "family@example.test"), "ok");
    for user in [ALICE, BOB, CAROL] {
        let got = s.messages_of(user, "INBOX");
        assert_eq!(got.len(), 1, "{user}");
        assert!(got[0].contains("Hello family@example.test."), "{}", got[0]);
    }
    assert_eq!(mx_to(&s, "nobody@example.test"), "550");

    // Alice may send as the alias (she is one of its users) but not as an alias she is not in.
    cli(&s, &["alias", "add", "sales@example.test", BOB]);
    assert_eq!(
        send(
            &s,
            "submit",
            "family@example.test",
            BOB,
            "family@example.test"
        ),
        "ok"
    );
    assert_eq!(
        send(
            &s,
            "submit",
            "sales@example.test",
            BOB,
            "sales@example.test"
        ),
        "550"
    );
    assert_eq!(send(&s, "submit", ALICE, BOB, "sales@example.test"), "550");
    assert_eq!(s.messages_of(BOB, "INBOX").len(), 2);

    // Removing a target, then a user: the alias shrinks, and goes with its last user.
    let out = cli(&s, &["alias", "del", "family@example.test", CAROL]);
    assert!(
        out.contains("now delivers to alice@example.test, bob@example.test"),
        "{out}"
    );
    assert!(cli_err(&s, &["alias", "del", "family@example.test", CAROL]).contains("not a target"));
    cli(&s, &["user", "del", BOB]);
    assert_eq!(
        cli(&s, &["alias", "list"]).trim(),
        "family@example.test\talice@example.test"
    );
    assert!(cli(&s, &["check"]).contains("ok"), "store check");
    // A domain with an alias in it stays.
    assert!(cli_err(&s, &["domain", "del", "example.test"]).contains("users or aliases"));

    // Kept across a restart.
    assert!(s.stop().success());
    let data = std::mem::replace(&mut s.data, DataDir::new(&[]));
    // Changed with the server stopped (the store directly), then served.
    data.cli_ok(&["alias", "add", "team@example.test", ALICE]);
    let s = Server::serve(data);
    assert_eq!(
        cli(&s, &["alias", "list"]),
        "family@example.test\talice@example.test\nteam@example.test\talice@example.test\n"
    );
    assert_eq!(mx_to(&s, "family@example.test"), "ok");
    assert_eq!(s.messages_of(ALICE, "INBOX").len(), 2);
}

/// Creates `mailbox` for `user` over IMAP (STARTTLS) with imaplib.
fn imap_create(s: &Server, user: &str, mailbox: &str) {
    let script = r#"
import imaplib, ssl, sys
port, cert, user, password, mailbox = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=cert)
ctx.check_hostname = False
c = imaplib.IMAP4("127.0.0.1", int(port), timeout=30)
c.starttls(ssl_context=ctx)
c.login(user, password)
typ, data = c.create(mailbox)
assert typ == "OK", data
c.logout()
"#;
    let out = run_bounded(
        Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(s.imap().port().to_string())
            .arg(s.cert())
            .args([user, PASSWORD, mailbox]),
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn subaddresses_and_the_catch_all() {
    let s = Server::start(&[ALICE, BOB]);
    cli(&s, &["alias", "add", "family@example.test", ALICE, BOB]);
    // RFC 5233: user+detail@ is the user's, and an alias's.
    assert_eq!(mx_to(&s, "alice+shop@example.test"), "ok");
    assert_eq!(mx_to(&s, "family+x@example.test"), "ok");
    assert_eq!(s.messages_of(ALICE, "INBOX").len(), 2);
    assert_eq!(s.messages_of(BOB, "INBOX").len(), 1);
    // Filed by the detail when asked, into the mailbox of that name in any case, else INBOX.
    imap_create(&s, ALICE, "News");
    cli(&s, &["config", "set", "delivery.plus_folder", "1"]);
    assert_eq!(mx_to(&s, "alice+news@example.test"), "ok");
    assert_eq!(mx_to(&s, "alice+nosuchbox@example.test"), "ok");
    let news = s.messages_of(ALICE, "News");
    assert_eq!(news.len(), 1);
    assert!(
        news[0].contains("Hello alice+news@example.test."),
        "{}",
        news[0]
    );
    assert_eq!(s.messages_of(ALICE, "INBOX").len(), 3);
    // Another separator, or none.
    cli(&s, &["config", "set", "delivery.plus_separator", "-"]);
    assert_eq!(mx_to(&s, "alice-news@example.test"), "ok");
    assert_eq!(s.messages_of(ALICE, "News").len(), 2);
    assert_eq!(mx_to(&s, "alice+news@example.test"), "550");
    cli(&s, &["config", "set", "delivery.plus_separator", "off"]);
    assert_eq!(mx_to(&s, "alice-news@example.test"), "550");
    // The catch-all takes every address nothing else takes.
    let out = cli(&s, &["alias", "add", "@Example.test", BOB]);
    assert!(
        out.contains("@example.test now delivers to bob@example.test"),
        "{out}"
    );
    assert_eq!(mx_to(&s, "anything@example.test"), "ok");
    assert_eq!(mx_to(&s, "alice@example.test"), "ok");
    assert_eq!(s.messages_of(BOB, "INBOX").len(), 2);
    assert_eq!(s.messages_of(ALICE, "INBOX").len(), 4);
    assert!(cli_err(&s, &["alias", "add", "@elsewhere.test", BOB]).contains("no such domain"));
    cli(&s, &["alias", "del", "@example.test"]);
    assert_eq!(mx_to(&s, "anything@example.test"), "550");
    assert!(cli(&s, &["check"]).contains("ok"), "store check");
}

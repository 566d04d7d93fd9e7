//! Sieve filtering end to end: scripts stored with `mailnook sieve`, mail delivered over the MX
//! with Python's smtplib, and what each user holds read back with imaplib (mailboxes, flags,
//! keywords): fileinto with flags, discard, redirect to a local user, reject at SMTP time, and
//! vacation replies (RFC 5230) sent once per sender, never to list mail, from the null sender.

mod common;
use common::*;

use std::process::Command;
use std::time::Duration;

const ALICE: &str = "alice@example.test";
const BOB: &str = "bob@example.test";

/// Sends one message over the MX and prints `ok` or the refusing code and text.
const SEND: &str = r#"
import smtplib, sys
port, sender, rcpts, subject, extra = sys.argv[1:6]
c = smtplib.SMTP("127.0.0.1", int(port), local_hostname="client.test", timeout=30)
msg = f"From: {sender}\r\nTo: {rcpts}\r\nSubject: {subject}\r\nMessage-ID: <{abs(hash(subject))}@client.test>\r\n{extra}\r\nHello.\r\n"
try:
    c.sendmail(sender, rcpts.split(","), msg.encode())
    print("ok")
except smtplib.SMTPDataError as e:
    print(e.smtp_code, e.smtp_error.decode())
except smtplib.SMTPRecipientsRefused as e:
    print(e.recipients)
c.quit()
"#;

/// Lists `mailbox uid (flags) subject` for every message of a user, over IMAP with STARTTLS.
const LIST: &str = r#"
import imaplib, ssl, sys, email
port, cert, user, password = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=cert)
ctx.check_hostname = False
c = imaplib.IMAP4("127.0.0.1", int(port), timeout=30)
c.starttls(ssl_context=ctx)
c.login(user, password)
typ, boxes = c.list()
for line in boxes:
    name = line.decode().rsplit(' "/" ', 1)[1].strip('"')
    c.select(f'"{name}"', readonly=True)
    typ, data = c.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    for item in data:
        if isinstance(item, tuple):
            flags = item[0].decode().split("FLAGS (")[1].split(")")[0]
            subject = email.message_from_bytes(item[1])["Subject"]
            print(f"{name}|{flags}|{subject}")
c.logout()
"#;

fn python(script: &str, args: &[&str]) -> String {
    let out = run_bounded(
        Command::new("python3").arg("-c").arg(script).args(args),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn send(s: &Server, from: &str, to: &str, subject: &str, extra: &str) -> String {
    python(
        SEND,
        &[&s.mx().port().to_string(), from, to, subject, extra],
    )
}

/// `mailbox|flags|subject` lines of what `user` holds.
fn holdings(s: &Server, user: &str) -> Vec<String> {
    let port = s.imap().port().to_string();
    let cert = s.cert().display().to_string();
    let out = python(LIST, &[&port, &cert, user, PASSWORD]);
    let mut lines: Vec<String> = out.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

fn put_script(s: &Server, user: &str, name: &str, text: &str) {
    let file = s.data.path().join(format!("{name}.sieve"));
    std::fs::write(&file, text).unwrap();
    let out = s
        .data
        .cli_ok(&["sieve", "put", user, name, file.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out).contains("stored script"));
    s.data.cli_ok(&["sieve", "activate", user, name]);
}

const FILTERS: &str = r#"require ["fileinto", "imap4flags", "reject", "copy"];
# Lists, read already and labelled.
if exists "list-id" { fileinto :flags ["\\Seen", "$List"] "Lists"; stop; }
if header :contains "subject" "casino" { discard; stop; }
if header :is "subject" "reject me" { reject "I do not take this."; stop; }
if address :domain "from" "boss.test" { addflag "\\Flagged"; }
if header :matches "subject" "fwd:*" { redirect :copy "bob@example.test"; }
"#;

#[test]
fn scripts_file_flag_discard_redirect_and_reject() {
    let s = Server::start(&[ALICE, BOB]);
    // A script that does not compile is refused with its line, and nothing is stored.
    let bad = s.data.path().join("bad.sieve");
    std::fs::write(&bad, "require \"fileinto\";\nfileinto;\n").unwrap();
    let out = s
        .data
        .cli(&["sieve", "put", ALICE, "bad", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 2"),
        "{out:?}"
    );
    put_script(&s, ALICE, "filters", FILTERS);
    assert_eq!(
        String::from_utf8(s.data.cli_ok(&["sieve", "list", ALICE])).unwrap(),
        "filters\tactive\n"
    );
    assert_eq!(
        String::from_utf8(s.data.cli_ok(&["sieve", "get", ALICE, "filters"])).unwrap(),
        FILTERS
    );
    // The Lists mailbox does not exist yet: created over IMAP as a mail program would.
    python(
        r#"
import imaplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2]); ctx.check_hostname = False
c = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]), timeout=30); c.starttls(ssl_context=ctx)
c.login(sys.argv[3], sys.argv[4]); assert c.create("Lists")[0] == "OK"; c.logout()
"#,
        &[
            &s.imap().port().to_string(),
            &s.cert().display().to_string(),
            ALICE,
            PASSWORD,
        ],
    );

    assert_eq!(
        send(
            &s,
            "news@lists.test",
            ALICE,
            "weekly news",
            "List-Id: <news.lists.test>\r\n"
        ),
        "ok"
    );
    assert_eq!(send(&s, "x@spam.test", ALICE, "casino bonus", ""), "ok");
    assert_eq!(send(&s, "ceo@boss.test", ALICE, "meeting", ""), "ok");
    assert_eq!(send(&s, "friend@x.test", ALICE, "fwd: photos", ""), "ok");
    let refused = send(&s, "friend@x.test", ALICE, "reject me", "");
    assert!(
        refused.starts_with("550 5.7.1 I do not take this."),
        "{refused}"
    );
    // Bob has no script: his copy of a message to both is plain.
    assert_eq!(
        send(
            &s,
            "friend@x.test",
            &format!("{ALICE},{BOB}"),
            "reject me",
            ""
        ),
        "ok"
    );

    assert_eq!(
        holdings(&s, ALICE),
        vec![
            "INBOX|\\Flagged|meeting",
            "INBOX||fwd: photos",
            "INBOX||reject me",
            "Lists|\\Seen $List|weekly news",
        ]
    );
    assert_eq!(
        holdings(&s, BOB),
        vec!["INBOX||fwd: photos", "INBOX||reject me"]
    );
    // The active script cannot be deleted.
    let out = s.data.cli(&["sieve", "del", ALICE, "filters"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is active"),
        "{out:?}"
    );
    // Deactivated: mail is filed as without a script.
    s.data.cli_ok(&["sieve", "deactivate", ALICE]);
    assert_eq!(send(&s, "x@spam.test", ALICE, "casino again", ""), "ok");
    assert!(holdings(&s, ALICE).contains(&"INBOX||casino again".to_string()));
    // An inactive script can be deleted.
    s.data.cli_ok(&["sieve", "del", ALICE, "filters"]);
    assert!(
        String::from_utf8(s.data.cli_ok(&["check"]))
            .unwrap()
            .contains("ok")
    );
}

const VACATION: &str = r#"require "vacation";
vacation :days 2 :subject "Away" :addresses ["info@example.test"] text:
I am away until Monday.
.
;
"#;

#[test]
fn vacation_replies_once_per_sender_and_never_to_lists() {
    let s = Server::start(&[ALICE, BOB]);
    s.data.cli_ok(&["alias", "add", "info@example.test", ALICE]);
    put_script(&s, ALICE, "away", VACATION);
    // Bob writes twice: one reply, from the null sender, marked as automatic.
    assert_eq!(send(&s, BOB, ALICE, "first", ""), "ok");
    assert_eq!(send(&s, BOB, ALICE, "second", ""), "ok");
    // Mail to the alias counts as the user's own address.
    assert_eq!(send(&s, BOB, "info@example.test", "third", ""), "ok");
    // Lists, automatic mail and the null sender get nothing.
    assert_eq!(
        send(
            &s,
            "carol@example.test",
            ALICE,
            "list",
            "List-Id: <l.test>\r\n"
        ),
        "ok"
    );
    assert_eq!(
        send(&s, "", ALICE, "bounce", "Auto-Submitted: auto-replied\r\n"),
        "ok"
    );
    let replies = s.messages_of(BOB, "INBOX");
    assert_eq!(replies.len(), 1, "{replies:?}");
    let r = &replies[0];
    assert!(r.starts_with("Return-Path: <>\r\n"), "{r}");
    for want in [
        "From: alice@example.test\r\n",
        "To: <bob@example.test>\r\n",
        "Subject: Away\r\n",
        "Auto-Submitted: auto-replied (vacation)\r\n",
        "In-Reply-To: <",
        "I am away until Monday.\r\n",
    ] {
        assert!(r.contains(want), "{want:?} missing:\n{r}");
    }
    // A remote sender's reply goes to the queue, from the null sender.
    assert_eq!(send(&s, "someone@remote.test", ALICE, "hello", ""), "ok");
    // No DNS here: the queue's attempt ends in a bounce, which the null sender never gets.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !s.log().contains("to=<someone@remote.test>") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = s.log();
    assert!(
        log.contains("vacation reply from alice@example.test to <someone@remote.test>"),
        "{log}"
    );
    assert!(
        log.contains("bounced id=1 to=<someone@remote.test>"),
        "{log}"
    );
    assert!(!log.contains("report id="), "{log}");
    assert_eq!(s.messages_of(ALICE, "INBOX").len(), 6);
}

//! The admin CLI against the real binary, with the server stopped (the CLI opens the store) and
//! running (the CLI goes through the control socket): same commands, same output, clear one-line
//! errors and non-zero exits on bad input, never a panic.

mod common;
use common::*;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

fn run(data: &std::path::Path, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = mailnook()
        .args(args)
        .arg("--data")
        .arg(data)
        .env("MAILNOOK_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .as_mut()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "mailnook {args:?} panicked: {stderr}"
    );
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

/// One-line error on stderr, nothing on stdout, the given exit code.
fn assert_error(data: &std::path::Path, args: &[&str], code: i32, needle: &str) {
    let (c, out, err) = run(data, args, None);
    assert_eq!(c, code, "mailnook {args:?}: exit {c}, stderr {err:?}");
    assert!(out.is_empty(), "mailnook {args:?} printed {out:?}");
    assert_eq!(
        err.lines().count(),
        1,
        "mailnook {args:?} stderr is not one line: {err:?}"
    );
    assert!(
        err.starts_with("mailnook: ") && err.contains(needle),
        "mailnook {args:?}: {err:?} lacks {needle:?}"
    );
}

/// The same script of admin commands, run offline or online.
fn exercise(data: &std::path::Path) {
    // Password from stdin (not a terminal), then from --password.
    let (c, out, _) = run(
        data,
        &["user", "add", "carol@example.test"],
        Some("stdin-pass-123\n"),
    );
    assert_eq!((c, out.as_str()), (0, "added carol@example.test\n"));
    let (c, out, _) = run(
        data,
        &[
            "user",
            "passwd",
            "carol@example.test",
            "--password",
            "another-pass-456",
        ],
        None,
    );
    assert_eq!(
        (c, out.as_str()),
        (0, "password changed for carol@example.test\n")
    );
    let (c, out, _) = run(data, &["user", "list"], None);
    assert_eq!(c, 0);
    let emails: Vec<&str> = out.lines().map(|l| l.split('\t').next().unwrap()).collect();
    assert_eq!(emails, vec!["alice@example.test", "carol@example.test"]);

    assert_eq!(
        run(data, &["domain", "add", "Other.Test"], None).1,
        "added domain other.test\n"
    );
    assert_eq!(
        run(data, &["domain", "list"], None).1,
        "example.test\nother.test\n"
    );
    assert_error(
        data,
        &["domain", "add", "other.test"],
        1,
        "domain already exists: other.test",
    );
    assert_error(
        data,
        &["domain", "del", "example.test"],
        1,
        "still has users",
    );
    assert_eq!(
        run(data, &["domain", "del", "other.test"], None).1,
        "deleted domain other.test\n"
    );

    assert_eq!(
        run(data, &["config", "get", "smtp.max_recipients"], None).1,
        "100\n"
    );
    assert_eq!(
        run(data, &["config", "set", "smtp.max_recipients", "7"], None).1,
        "smtp.max_recipients = 7\n"
    );
    assert_eq!(
        run(data, &["config", "get", "smtp.max_recipients"], None).1,
        "7\n"
    );
    let (_, list, _) = run(data, &["config", "list"], None);
    assert!(
        list.lines()
            .any(|l| l.starts_with("smtp.max_recipients = 7\t")),
        "{list}"
    );
    assert!(
        list.lines()
            .any(|l| l.starts_with("smtp.max_errors = 10  # default")),
        "{list}"
    );
    assert_eq!(
        run(data, &["config", "unset", "smtp.max_recipients"], None).1,
        "smtp.max_recipients = 100 (default)\n"
    );

    let (_, boxes, _) = run(data, &["mail", "list", "carol@example.test"], None);
    let names: Vec<&str> = boxes
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"]
    );
    assert_eq!(
        run(data, &["mail", "list", "carol@example.test", "INBOX"], None).1,
        "UID\tDATE\tSIZE\tFLAGS\tFROM\tSUBJECT\n"
    );
    assert_eq!(run(data, &["check"], None).1, "store ok\n");

    // Bad input: one line, non-zero, nothing changed.
    assert_error(
        data,
        &[
            "user",
            "add",
            "not-an-address",
            "--password",
            "whatever-123",
        ],
        1,
        "not a valid email address",
    );
    assert_error(
        data,
        &[
            "user",
            "add",
            "dave@nowhere.test",
            "--password",
            "whatever-123",
        ],
        1,
        "no such domain: nowhere.test",
    );
    assert_error(
        data,
        &[
            "user",
            "add",
            "carol@example.test",
            "--password",
            "whatever-123",
        ],
        1,
        "user already exists",
    );
    assert_error(
        data,
        &["user", "add", "erin@example.test", "--password", "short"],
        1,
        "password must be",
    );
    assert_error(
        data,
        &["user", "del", "nobody@example.test"],
        1,
        "no such user: nobody@example.test",
    );
    assert_error(
        data,
        &["config", "set", "smtp.max_recipients", "lots"],
        1,
        "not a whole number",
    );
    assert_error(
        data,
        &["config", "set", "no.such.key", "1"],
        1,
        "unknown setting",
    );
    assert_error(
        data,
        &["mail", "show", "carol@example.test", "INBOX", "99"],
        1,
        "no message with UID 99",
    );
    assert_error(
        data,
        &["mail", "list", "carol@example.test", "Nope"],
        1,
        "has no mailbox `Nope`",
    );
    assert_error(
        data,
        &["mail", "show", "carol@example.test", "INBOX", "x"],
        2,
        "not a number",
    );
    assert_error(data, &["frobnicate"], 2, "unknown command");
    assert_error(data, &["user", "add"], 2, "incomplete");

    assert_eq!(
        run(data, &["user", "del", "carol@example.test"], None).1,
        "deleted carol@example.test and all their mail\n"
    );
    assert_eq!(run(data, &["check"], None).1, "store ok\n");
    assert_eq!(
        run(data, &["reparse"], None).1,
        "summaries rewritten: 0 of 0 stored messages\n"
    );
}

#[test]
fn admin_commands_work_with_the_server_stopped() {
    let d = DataDir::new(&["alice@example.test"]);
    exercise(d.path());
}

#[test]
fn admin_commands_work_through_the_control_socket() {
    let s = Server::start(&["alice@example.test"]);
    let sock = s.data.path().join("control.sock");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&sock).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "control socket mode {mode:o}");
    let dir_mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(s.data.path()).unwrap().permissions(),
    );
    assert_eq!(dir_mode & 0o777, 0o700, "data folder mode {dir_mode:o}");
    let store_mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(s.data.path().join("mail.redb"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(store_mode & 0o777, 0o600, "store file mode {store_mode:o}");
    exercise(s.data.path());
    // The server really answered (no second process could have opened its store).
    assert!(s.log().contains("settings reloaded"), "{}", s.log());
}

#[test]
fn a_setting_changed_through_the_socket_applies_to_the_next_connection() {
    let s = Server::start(&["alice@example.test"]);
    s.data
        .cli_ok(&["config", "set", "smtp.max_recipients", "1"]);
    let mut c = s.connect();
    assert!(c.cmd("EHLO client.test").starts_with("250-"));
    assert_eq!(c.cmd("MAIL FROM:<bob@remote.test>"), "250 2.1.0 Sender ok");
    assert_eq!(
        c.cmd("RCPT TO:<alice@example.test>"),
        "250 2.1.5 Recipient ok"
    );
    assert_eq!(
        c.cmd("RCPT TO:<postmaster@example.test>"),
        "452 4.5.3 Too many recipients"
    );
}

#[test]
fn a_running_server_without_its_socket_is_reported_not_bypassed() {
    let s = Server::start(&["alice@example.test"]);
    std::fs::remove_file(s.data.path().join("control.sock")).unwrap();
    assert_error(
        s.data.path(),
        &["user", "list"],
        1,
        "in use by another process",
    );
}

#[test]
fn garbage_on_the_control_socket_does_not_hurt_the_server() {
    let s = Server::start(&["alice@example.test"]);
    for junk in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        b"MNK1\xff\xff\xff\xff",
        b"MNK1\x00\x00\x00\x01\x00\x00\x10\x00",
        b"",
    ] {
        let mut conn =
            std::os::unix::net::UnixStream::connect(s.data.path().join("control.sock")).unwrap();
        conn.write_all(junk).unwrap();
        let _ = conn.shutdown(std::net::Shutdown::Write);
        let mut rest = Vec::new();
        let _ = std::io::Read::read_to_end(&mut conn, &mut rest);
    }
    assert_eq!(
        String::from_utf8(s.data.cli_ok(&["user", "list"]))
            .unwrap()
            .lines()
            .count(),
        1
    );
}

#[test]
fn missing_data_folder_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    assert_error(&missing, &["user", "list"], 1, "no store in");
    assert!(
        !missing.exists(),
        "a read command must not create the data folder"
    );
}

/// Without `--data` the folder is `$MAILNOOK_DATA` (how the Debian package's operators point the
/// CLI at /var/lib/mailnook); `--data` still wins over it, and the server, stopped or running,
/// sees the same store either way.
#[test]
fn mailnook_data_names_the_folder_when_data_is_not_given() {
    let d = DataDir::new(&["alice@example.test"]);
    let elsewhere = tempfile::tempdir().unwrap();
    let cli = |args: &[&str], env: &std::path::Path| {
        let out = Command::new(bin())
            .args(args)
            .current_dir(elsewhere.path())
            .env("MAILNOOK_DATA", env)
            .env("MAILNOOK_LOG", "warn")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (c, out, err) = cli(&["user", "list"], d.path());
    assert_eq!(c, 0, "{err}");
    assert!(out.contains("alice@example.test"), "{out}");
    let (c, _, err) = cli(
        &["user", "add", "bob@example.test", "--password", PASSWORD],
        d.path(),
    );
    assert_eq!(c, 0, "{err}");
    // --data over $MAILNOOK_DATA: an empty folder has no store.
    let empty = elsewhere.path().join("other");
    let (c, _, err) = cli(
        &["user", "list", "--data", empty.to_str().unwrap()],
        d.path(),
    );
    assert_eq!(c, 1, "{err}");
    assert!(err.contains("no store in"), "{err}");
    assert!(
        !elsewhere.path().join("mailnook-data").exists(),
        "the ./mailnook-data default was used"
    );
    // The running server: the admin command goes through its control socket.
    let s = Server::serve(d);
    let (c, out, err) = cli(&["user", "list"], s.data.path());
    assert_eq!(c, 0, "{err}");
    assert!(
        out.contains("alice@example.test") && out.contains("bob@example.test"),
        "{out}"
    );
}

/// `spam eval` needs no data folder: a tiny corpus, written here, trains and tests; the last
/// line is the machine-readable summary.
#[test]
fn spam_eval_runs_offline_and_ends_with_the_rates() {
    let dir = tempfile::tempdir().unwrap();
    let write = |side: &str, class: &str, i: usize, body: &str| {
        let d = dir.path().join(side).join(class);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(format!("{i}.eml")), body).unwrap();
    };
    for side in ["train", "test"] {
        for i in 0..6 {
            write(
                side,
                "ham",
                i,
                &format!(
                    "From: Ann <ann@a.example>\r\nTo: b@b.example\r\nSubject: build notes {i}\r\n\
Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <{i}@a.example>\r\n\r\n\
The release branch builds again; notes from the meeting on the compiler upgrade {i}.\r\n"
                ),
            );
            write(
                side,
                "spam",
                i,
                &format!(
                    "From: Prize Office <win@lottery.example>\r\nTo: b@b.example\r\n\
Subject: Claim your prize {i}\r\n\r\nCongratulations winner, send your bank details to claim \
the million dollar lottery prize now http://claim.lottery.example/{i}\r\n"
                ),
            );
        }
    }
    let out = mailnook()
        .args(["spam", "eval", "--train"])
        .arg(dir.path().join("train"))
        .arg("--test")
        .arg(dir.path().join("test"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {:?}", out.stderr);
    let last = stdout.lines().last().unwrap();
    assert!(
        last.starts_with("fp_rate=0.0000 fn_rate=0.0000 ms_per_msg="),
        "{stdout}"
    );
    assert!(stdout.contains("test spam: total=6 accept=0"), "{stdout}");

    let (c, out, err) = run(
        dir.path(),
        &["spam", "eval", "--train", "/nonexistent", "--test", "/x"],
        None,
    );
    assert_eq!(c, 2, "--data does not apply: {out} {err}");
    let out = mailnook()
        .args(["spam", "eval", "--train", "/nonexistent/x", "--test", "/x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("mailnook: /nonexistent/x/ham"));
}

/// Delivers a multipart message with a 300 KiB attachment (several chunks) over the MX with
/// smtplib, so the stored body has a trace prefix and chunk rows.
const SEND_LARGE: &str = r#"
import smtplib, sys
from email.message import EmailMessage
from email.policy import SMTP
m = EmailMessage()
m["From"] = "bob@remote.test"
m["To"] = "alice@example.test"
m["Subject"] = "large"
m.set_content("see the attachment\n")
m.add_attachment(bytes(range(256)) * 1200, maintype="application", subtype="octet-stream", filename="a.bin")
c = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="client.test", timeout=30)
c.sendmail("bob@remote.test", ["alice@example.test"], m.as_bytes(policy=SMTP))
c.quit()
print("ok")
"#;

/// The subject in the ENVELOPE of alice's INBOX message `uid`.
fn envelope_subject(s: &Server, uid: u32) -> String {
    let mut imap = s.imap_session("alice@example.test");
    imap.select("INBOX").unwrap();
    let fetched = imap.uid_fetch(uid.to_string(), "ENVELOPE").unwrap();
    let subject = fetched
        .iter()
        .next()
        .unwrap()
        .envelope()
        .unwrap()
        .subject
        .clone();
    imap.logout().unwrap();
    String::from_utf8_lossy(&subject.unwrap_or_default()).into_owned()
}

/// Stores every golden MIME case through IMAP APPEND, then a large message through the MX;
/// returns the large message's UID (the last).
fn store_goldens_and_a_large_message(s: &Server) -> u32 {
    let mut goldens: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mime"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    goldens.sort();
    assert!(goldens.len() >= 10);
    let mut imap = s.imap_session("alice@example.test");
    for path in &goldens {
        let bytes = std::fs::read(path).unwrap();
        imap.append("INBOX", &bytes)
            .finish()
            .unwrap_or_else(|e| panic!("APPEND {}: {e}", path.display()));
    }
    imap.logout().unwrap();
    let out = run_bounded(
        Command::new("python3")
            .arg("-c")
            .arg(SEND_LARGE)
            .arg(s.mx().port().to_string()),
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "{out:?}");
    let large = goldens.len() as u32 + 1;
    assert_eq!(envelope_subject(s, large), "large");
    large
}

/// Stops `s` and gives alice's INBOX message `uid` a stale summary (one with the subject
/// "stale"), as a parser fix or a damaged row leaves it; with `forget_revision`, also removes the
/// record of the summaries' revision, as in a store older than that record. Returns the data
/// folder and the message's body id.
fn with_a_stale_summary(mut s: Server, uid: u32, forget_revision: bool) -> (DataDir, u64) {
    assert!(s.stop().success());
    let data = std::mem::replace(&mut s.data, DataDir::new(&[]));
    let store = mailnook::store::Store::open(&data.path().join("mail.redb"), 1 << 20).unwrap();
    assert_eq!(
        mailnook::delivery::summaries::stored_revision(&store).unwrap(),
        mailnook::message::summary::SUMMARY_REVISION,
        "the first start recorded the revision"
    );
    let alice = store.user("alice@example.test").unwrap().unwrap();
    let inbox = store.mailbox(alice.id, "INBOX").unwrap().unwrap();
    let body = store
        .message(inbox.id, uid)
        .unwrap()
        .expect("message")
        .row
        .body;
    let wrong = mailnook::message::Summary::from_message(b"Subject: stale\r\n\r\nx\r\n").encode();
    store
        .call_blocking(mailnook::store::Op::SetSummaries(vec![(
            mailnook::store::BodyId(body),
            wrong,
        )]))
        .unwrap();
    if forget_revision {
        store
            .call_blocking(mailnook::store::Op::SetState {
                key: mailnook::delivery::summaries::REVISION_KEY.to_string(),
                value: None,
            })
            .unwrap();
    }
    store.close();
    (data, body)
}

#[test]
fn check_compares_each_summary_with_its_message_and_reparse_mends_a_stale_one() {
    let s = Server::start(&["alice@example.test"]);
    let large = store_goldens_and_a_large_message(&s);
    // Through the control socket: every stored summary is what a parse of the stored bytes
    // (the delivery's trace prefix included) gives.
    assert_eq!(run(s.data.path(), &["check"], None).1, "store ok\n");

    let (data, body) = with_a_stale_summary(s, large, false);
    // Offline, `check` names that body and fails.
    let (code, out, err) = run(data.path(), &["check"], None);
    assert_eq!(code, 1, "{out} {err}");
    assert_eq!(
        out,
        format!(
            "stale summaries (they differ from a parse of their message's bytes): 1, bodies {body}; `mailnook reparse` rewrites them\n"
        )
    );
    // The revision is current, so the server does not reparse by itself.
    let s = Server::serve(data);
    assert_eq!(
        envelope_subject(&s, large),
        "stale",
        "IMAP answers from the summary"
    );
    // Through the control socket, with the server running: one rewritten, and IMAP sees it.
    assert_eq!(
        run(s.data.path(), &["reparse"], None).1,
        format!("summaries rewritten: 1 of {large} stored messages\n")
    );
    assert_eq!(envelope_subject(&s, large), "large");
    assert_eq!(run(s.data.path(), &["check"], None).1, "store ok\n");
    assert_eq!(
        run(s.data.path(), &["reparse"], None).1,
        format!("summaries rewritten: 0 of {large} stored messages\n")
    );
    assert!(!s.log().contains("summaries:"), "{}", s.log());
}

#[test]
fn a_server_started_on_summaries_of_an_older_revision_rewrites_them() {
    let s = Server::start(&["alice@example.test"]);
    let large = store_goldens_and_a_large_message(&s);
    let (data, _) = with_a_stale_summary(s, large, true);
    let mut s = Server::serve(data);
    wait_for(Duration::from_secs(30), "the reparse at start", || {
        s.log()
            .contains(&format!(
                "summaries: rewritten 1 of {large} stored messages"
            ))
            .then_some(())
    });
    assert!(
        s.log().contains(&format!(
            "summaries: made by revision 0, this server makes {}; stored messages to reparse: {large}",
            mailnook::message::summary::SUMMARY_REVISION
        )),
        "{}",
        s.log()
    );
    assert_eq!(envelope_subject(&s, large), "large");
    assert_eq!(run(s.data.path(), &["check"], None).1, "store ok\n");
    // Recorded: the next start does not read the messages again.
    assert!(s.stop().success());
    let data = std::mem::replace(&mut s.data, DataDir::new(&[]));
    let s = Server::serve(data);
    assert_eq!(envelope_subject(&s, large), "large");
    assert!(!s.log().contains("summaries:"), "{}", s.log());
}

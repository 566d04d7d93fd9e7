//! `mailnook collect` against a real Dovecot (IMAP and POP3, tests/common/dovecot.rs), filled
//! and read back with Python's imaplib (tests/mail_transfer/boxes.py):
//! - an IMAP account (implicit TLS, `--ca`, `--password-file`) added with the server stopped;
//!   `collect run` copies Dovecot's INBOX byte for byte with flags and INTERNALDATE; through
//!   the running server a second run copies nothing, and after one more message arrives
//!   exactly that one; `collect list` never shows the password, nor does the server's log;
//! - a wrong password is a clear error and the account's last result says so;
//! - a POP3 account over STLS with `--delete` copies every INBOX message (same bytes) and
//!   leaves Dovecot's INBOX empty;
//! - with `collect.min_interval_secs` at 1 the server's periodic task collects a new message
//!   by itself, without `collect run`.

mod common;
use common::dovecot::{Dovecot, OLD_PASSWORD, OLD_USER};
use common::*;

use std::path::Path;
use std::time::{Duration, Instant};

const ALICE: &str = "alice@example.test";

fn said(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn run_ok(data: &DataDir, args: &[&str]) -> String {
    let out = data.cli(args);
    let s = said(&out);
    assert!(out.status.success(), "{args:?}: {s}");
    s
}

fn count(path: &Path, folder: &str) -> usize {
    boxes(&["count", path.to_str().unwrap(), folder])
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn collects_from_dovecot_over_imap_and_pop3_by_command_and_periodically() {
    let Some(dv) = Dovecot::filled() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let t = |n: &str| tmp.path().join(n);
    let ts = |n: &str| t(n).to_str().unwrap().to_string();
    dv.imaplib("dump", &[&ts("dovecot.json")]);
    assert_eq!(count(&t("dovecot.json"), "INBOX"), 4);
    std::fs::write(t("pw"), format!("{OLD_PASSWORD}\n")).unwrap();
    std::fs::write(t("bad"), "wrong\n").unwrap();
    let ca = dv.ca().to_str().unwrap().to_string();
    let imaps = format!("127.0.0.1:{}", dv.imaps);

    // Server stopped: the CLI stores the account and collects itself.
    let data = DataDir::new(&[ALICE]);
    let out = run_ok(
        &data,
        &[
            "collect",
            "add",
            ALICE,
            "imap",
            &imaps,
            OLD_USER,
            "--ca",
            &ca,
            "--password-file",
            &ts("pw"),
        ],
    );
    assert!(out.contains("added account 1"), "{out}");
    let out = run_ok(&data, &["collect", "run", ALICE]);
    assert!(out.contains("4 new messages"), "{out}\n{}", dv.log());

    let s = Server::serve(data);
    boxes_on(&s, "dump", ALICE, &[&ts("mailnook.json")]);
    boxes(&[
        "same-folder",
        &ts("dovecot.json"),
        "INBOX",
        &ts("mailnook.json"),
        "INBOX",
        "flags,date,body",
    ]);

    // Through the running server: nothing new, then exactly the one new message.
    let out = run_ok(&s.data, &["collect", "run", ALICE]);
    assert!(out.contains("\t0 new messages"), "{out}");
    dv.imaplib("append-one", &["INBOX"]);
    let out = run_ok(&s.data, &["collect", "run", ALICE]);
    assert!(out.contains("\t1 new messages"), "{out}");
    dv.imaplib("dump", &[&ts("dovecot2.json")]);
    boxes_on(&s, "dump", ALICE, &[&ts("mailnook2.json")]);
    boxes(&[
        "same-folder",
        &ts("dovecot2.json"),
        "INBOX",
        &ts("mailnook2.json"),
        "INBOX",
        "flags,date,body",
    ]);

    // A wrong password: a clear error, kept as the account's last result.
    let out = run_ok(
        &s.data,
        &[
            "collect",
            "add",
            ALICE,
            "imap",
            &imaps,
            OLD_USER,
            "--ca",
            &ca,
            "--mailbox",
            "Other",
            "--password-file",
            &ts("bad"),
        ],
    );
    assert!(out.contains("added account 2"), "{out}");
    let out = s.data.cli(&["collect", "run", ALICE]);
    let text = said(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("2\tolduser@127.0.0.1\terror: logging in as olduser at 127.0.0.1"),
        "{text}"
    );
    let list = run_ok(&s.data, &["collect", "list", ALICE]);
    assert!(list.contains("error: logging in as olduser"), "{list}");
    assert!(
        list.contains("last ") && list.contains(": 0 new messages"),
        "{list}"
    );
    assert!(list.contains("password ********"), "{list}");
    assert!(
        !list.contains(OLD_PASSWORD) && !list.contains("wrong"),
        "{list}"
    );

    // POP3 over STLS, deleting on the server: every INBOX message, then Dovecot's INBOX empty.
    run_ok(&s.data, &["collect", "del", ALICE, "1"]);
    run_ok(&s.data, &["collect", "del", ALICE, "2"]);
    assert_eq!(run_ok(&s.data, &["collect", "list", ALICE]), "");
    let pop3 = format!("127.0.0.1:{}", dv.pop3);
    let out = run_ok(
        &s.data,
        &[
            "collect",
            "add",
            ALICE,
            "pop3",
            &pop3,
            OLD_USER,
            "--starttls",
            "--delete",
            "--ca",
            &ca,
            "--mailbox",
            "Popped",
            "--password-file",
            &ts("pw"),
        ],
    );
    assert!(
        out.contains("added account 3") && out.contains("deleted on the server"),
        "{out}"
    );
    let out = run_ok(&s.data, &["collect", "run", ALICE]);
    assert!(out.contains("\t5 new messages"), "{out}\n{}", dv.log());
    dv.imaplib("dump", &[&ts("dovecot3.json")]);
    assert_eq!(
        count(&t("dovecot3.json"), "INBOX"),
        0,
        "POP3 DELE left mail on Dovecot"
    );
    boxes_on(&s, "dump", ALICE, &[&ts("mailnook3.json")]);
    boxes(&[
        "same-folder",
        &ts("dovecot2.json"),
        "INBOX",
        &ts("mailnook3.json"),
        "Popped",
        "body",
    ]);

    // The periodic task: a new message arrives at Dovecot and is collected without a command.
    run_ok(
        &s.data,
        &["config", "set", "collect.min_interval_secs", "1"],
    );
    dv.imaplib("append-one", &["INBOX"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        boxes_on(&s, "dump", ALICE, &[&ts("mailnook4.json")]);
        if count(&t("mailnook4.json"), "Popped") == 6 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not collected by the server:\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    dv.imaplib("dump", &[&ts("dovecot4.json")]);
    assert_eq!(count(&t("dovecot4.json"), "INBOX"), 0);
    let list = run_ok(&s.data, &["collect", "list"]);
    assert!(
        list.contains("pop3 olduser@127.0.0.1")
            && list.contains(" new messages")
            && !list.contains("error"),
        "{list}"
    );
    let log = s.log();
    assert!(
        log.contains("collect: alice@example.test account 3 (olduser@127.0.0.1): 1 new messages"),
        "{log}"
    );
    assert!(!log.contains(OLD_PASSWORD), "the password reached the log");
}

/// The other two transports: POP3 over implicit TLS (995), keeping mail on the server, and
/// IMAP over implicit TLS deleting what it copied (`\Deleted` and expunge).
#[test]
fn pop3_over_tls_keeps_and_imap_deletes() {
    let Some(dv) = Dovecot::filled() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let t = |n: &str| tmp.path().join(n);
    let ts = |n: &str| t(n).to_str().unwrap().to_string();
    std::fs::write(t("pw"), format!("{OLD_PASSWORD}\n")).unwrap();
    let ca = dv.ca().to_str().unwrap().to_string();
    let s = Server::start(&[ALICE]);
    let add = |protocol: &str, port: u16, extra: &[&str]| {
        let host = format!("127.0.0.1:{port}");
        let mut args = vec![
            "collect", "add", ALICE, protocol, &host, OLD_USER, "--ca", &ca,
        ];
        args.extend_from_slice(extra);
        let pw = ts("pw");
        args.extend_from_slice(&["--password-file", &pw]);
        run_ok(&s.data, &args)
    };
    // POP3 on its TLS port, mail kept there: everything copied, Dovecot's INBOX unchanged.
    let out = add("pop3", dv.pop3s, &["--mailbox", "Kept"]);
    assert!(out.contains("added account 1"), "{out}");
    let out = run_ok(&s.data, &["collect", "run", ALICE]);
    assert!(out.contains("\t4 new messages"), "{out}\n{}", dv.log());
    dv.imaplib("dump", &[&ts("before.json")]);
    assert_eq!(count(&t("before.json"), "INBOX"), 4);
    let out = run_ok(&s.data, &["collect", "run", ALICE]);
    assert!(
        out.contains("\t0 new messages"),
        "kept mail is not copied twice: {out}"
    );
    run_ok(&s.data, &["collect", "del", ALICE, "1"]);
    // IMAP on its TLS port, deleting: the same four messages, then an empty INBOX there.
    let out = add("imap", dv.imaps, &["--delete", "--mailbox", "Moved"]);
    assert!(out.contains("deleted on the server"), "{out}");
    let out = run_ok(&s.data, &["collect", "run", ALICE]);
    assert!(out.contains("\t4 new messages"), "{out}\n{}", dv.log());
    dv.imaplib("dump", &[&ts("after.json")]);
    assert_eq!(count(&t("after.json"), "INBOX"), 0, "IMAP delete left mail");
    boxes_on(&s, "dump", ALICE, &[&ts("mailnook.json")]);
    for folder in ["Kept", "Moved"] {
        boxes(&[
            "same-folder",
            &ts("before.json"),
            "INBOX",
            &ts("mailnook.json"),
            folder,
            "body",
        ]);
    }
}

//! Moving mail out and in: `mailnook export` (mbox and Maildir++) of an account filled over IMAP
//! (Python's imaplib APPEND with flags, keywords and dates, nested and non-ASCII folders), then
//! `mailnook import` of each export into a fresh box, with the server stopped (store directly)
//! and running (control socket); the boxes must be equal folder by folder, message by message:
//! bytes, flags, keywords and INTERNALDATE, as imaplib fetches them. Also imports what Python's
//! own `mailbox.mbox` and `mailbox.Maildir` writers made, with flags set through their APIs.

mod common;
use common::*;

use std::path::Path;

const ALICE: &str = "alice@example.test";

/// Every folder of ALICE's account on `s` as JSON in `out`.
fn dump(s: &Server, out: &Path) {
    boxes_on(s, "dump", ALICE, &[out.to_str().unwrap()]);
}

fn same(a: &Path, b: &Path) {
    let said = boxes(&["same", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert!(said.starts_with("same: "), "{said}");
}

fn cli_out(d: &DataDir, args: &[&str]) -> (bool, String) {
    let out = d.cli(args);
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn export_then_import_gives_the_same_mailboxes_in_both_formats() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |n: &str| tmp.path().join(n);
    let src = Server::start(&[ALICE]);
    boxes_on(&src, "fill", ALICE, &[]);
    dump(&src, &t("src.json"));
    // Exports of a running server go through its control socket.
    let mbox = t("alice.mbox");
    let maildir = t("alice.maildir");
    let said = String::from_utf8(src.data.cli_ok(&[
        "export",
        ALICE,
        "--format",
        "mbox",
        "--out",
        mbox.to_str().unwrap(),
    ]))
    .unwrap();
    assert!(said.contains("exported 9 messages"), "{said}");
    src.data.cli_ok(&[
        "export",
        ALICE,
        "--format",
        "maildir",
        "--out",
        maildir.to_str().unwrap(),
    ]);
    let (ok, said) = cli_out(
        &src.data,
        &[
            "export",
            ALICE,
            "--format",
            "mbox",
            "--out",
            mbox.to_str().unwrap(),
        ],
    );
    assert!(!ok && said.contains("exists"), "{said}");

    // The files are what mutt, Thunderbird and Dovecot expect.
    let inbox = std::fs::read(mbox.join("INBOX")).unwrap();
    let text = String::from_utf8_lossy(&inbox);
    assert!(
        text.starts_with("From MAILER-DAEMON Wed Jan  1 10:00:00 2020\n"),
        "{}",
        &text[..80]
    );
    assert!(
        text.contains("\r\n>From the start of a line"),
        "From lines are quoted"
    );
    assert!(
        text.contains("\r\n>>From an already quoted line.") && text.contains("\r\n>>>From twice.")
    );
    assert!(text.contains("Status: O\r\nX-Status: AF\r\nX-Keywords: $Label1\r\n\r\n"));
    assert!(text.contains("Status: RO\r\nX-Status: D\r\nX-Keywords: $Forwarded\r\n\r\n"));
    assert!(mbox.join("Work.sbd/Projects").is_file() && mbox.join("Entwürfe").is_file());
    let projects = maildir.join(".Work.Projects");
    assert!(projects.join("maildirfolder").is_file());
    assert!(maildir.join(".Entw&APw-rfe/cur").is_dir());
    let names: Vec<String> = std::fs::read_dir(projects.join("cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n.ends_with(":2,D")), "{names:?}");
    assert!(names.iter().any(|n| n.ends_with(":2,FSab")), "{names:?}");
    let kw = std::fs::read_to_string(projects.join("dovecot-keywords")).unwrap();
    assert_eq!(kw, "0 work\n1 urgent\n");
    // INTERNALDATE is the file's mtime.
    let draft = names.iter().find(|n| n.ends_with(":2,D")).unwrap();
    let mtime = std::fs::metadata(projects.join("cur").join(draft))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(
        mtime
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        1_691_129_289 // 04-Aug-2023 07:08:09 +0100
    );

    // mbox into a stopped box (the CLI opens the store).
    let fresh = DataDir::new(&[ALICE]);
    let said = String::from_utf8(fresh.cli_ok(&["import", ALICE, mbox.to_str().unwrap()])).unwrap();
    assert!(said.contains("imported 9 messages"), "{said}");
    let dst = Server::serve(fresh);
    dump(&dst, &t("from-mbox.json"));
    same(&t("src.json"), &t("from-mbox.json"));

    // Maildir into a running box (the server reads the files).
    let dst2 = Server::start(&[ALICE]);
    let said = String::from_utf8(
        dst2.data
            .cli_ok(&["import", ALICE, maildir.to_str().unwrap()]),
    )
    .unwrap();
    assert!(said.contains("imported 9 messages"), "{said}");
    dump(&dst2, &t("from-maildir.json"));
    same(&t("src.json"), &t("from-maildir.json"));
    assert_eq!(
        String::from_utf8(dst2.data.cli_ok(&["check"])).unwrap(),
        "store ok\n"
    );
}

#[test]
fn imports_what_pythons_mailbox_module_wrote() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |n: &str| tmp.path().join(n);
    boxes(&[
        "write-mbox",
        t("mboxes").to_str().unwrap(),
        t("mbox.json").to_str().unwrap(),
    ]);
    boxes(&[
        "write-maildir",
        t("Maildir").to_str().unwrap(),
        t("maildir.json").to_str().unwrap(),
    ]);
    let s = Server::start(&[ALICE]);
    // A single mbox file names its mailbox; a folder of them names one each.
    s.data
        .cli_ok(&["import", ALICE, t("mboxes/INBOX").to_str().unwrap()]);
    s.data
        .cli_ok(&["import", ALICE, t("mboxes/Archive").to_str().unwrap()]);
    dump(&s, &t("got-mbox.json"));
    same(&t("mbox.json"), &t("got-mbox.json"));

    let s2 = Server::start(&[ALICE]);
    let said =
        String::from_utf8(
            s2.data
                .cli_ok(&["import", ALICE, t("Maildir").to_str().unwrap()]),
        )
        .unwrap();
    assert!(
        said.contains("imported 7 messages into 3 mailboxes"),
        "{said}"
    );
    dump(&s2, &t("got-maildir.json"));
    same(&t("maildir.json"), &t("got-maildir.json"));
}

#[test]
fn an_oversized_or_broken_message_is_reported_and_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("Big.mbox");
    let big = "x".repeat(2000);
    std::fs::write(
        &file,
        format!(
            "From a Mon Jan  1 00:00:00 2024\nSubject: small\n\nok\n\n\
From b Mon Jan  1 00:00:01 2024\nSubject: big\n\n{big}\n\n\
From c Mon Jan  1 00:00:02 2024\nSubject: small too\n\nok\n"
        ),
    )
    .unwrap();
    let d = DataDir::new(&[ALICE]);
    d.cli_ok(&["config", "set", "smtp.max_message_bytes", "1024"]);
    let (ok, said) = cli_out(&d, &["import", ALICE, file.to_str().unwrap()]);
    assert!(!ok, "a skipped message makes the import fail: {said}");
    assert!(
        said.contains("message 2 (at byte 52): larger than the message size limit of 1024 bytes"),
        "{said}"
    );
    assert!(said.contains("Big\t2 messages imported"), "{said}");
    assert_eq!(d.uids(ALICE, "Big"), vec![1, 2]);
    assert!(String::from_utf8_lossy(&d.show(ALICE, "Big", 2)).contains("small too"));
    let not_mbox = tmp.path().join("notes.txt");
    std::fs::write(&not_mbox, "just text\n").unwrap();
    let (ok, said) = cli_out(&d, &["import", ALICE, not_mbox.to_str().unwrap()]);
    assert!(!ok && said.contains("not an mbox file"), "{said}");
    assert_eq!(
        String::from_utf8(d.cli_ok(&["check"])).unwrap(),
        "store ok\n"
    );
}

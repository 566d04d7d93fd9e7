//! `mailnook import-imap` against a real Dovecot: a private Dovecot instance (its own config
//! file in a temporary folder, passwd-file users, Maildir, loopback only) is filled over IMAP by
//! Python's imaplib (APPEND with flags, keywords and dates into INBOX, nested folders, a
//! non-ASCII folder name and a `\Sent` special-use folder under another name), then copied
//! into mailnook with the server stopped (implicit TLS, `--ca`, `--password-file`); both
//! accounts are read back with imaplib and must be equal folder by folder, message by message
//! (bytes, flags, INTERNALDATE). Running it again through the running server (STARTTLS,
//! password on stdin) copies nothing; after one more message arrives at Dovecot it copies
//! exactly that one.

mod common;
use common::dovecot::{Dovecot, OLD_PASSWORD, OLD_USER};
use common::*;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

const ALICE: &str = "alice@example.test";

fn dump_mailnook(s: &Server, out: &Path) {
    boxes_on(s, "dump", ALICE, &[out.to_str().unwrap()]);
}

/// `import-imap` arguments for the Dovecot on `port` with the password in `password_file`.
fn import_args<'a>(
    port: &'a str,
    password_file: &'a Path,
    ca: &'a Path,
    security: &'a str,
) -> Vec<&'a str> {
    vec![
        "import-imap",
        ALICE,
        "--host",
        "127.0.0.1",
        "--port",
        port,
        security,
        "--user",
        OLD_USER,
        "--password-file",
        password_file.to_str().unwrap(),
        "--ca",
        ca.to_str().unwrap(),
    ]
}

#[test]
fn copies_every_folder_from_dovecot_and_only_new_mail_on_a_second_run() {
    let Some(dv) = Dovecot::filled() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let t = |n: &str| tmp.path().join(n);
    dv.imaplib("dump", &[t("dovecot.json").to_str().unwrap()]);
    std::fs::write(t("pw"), format!("{OLD_PASSWORD}\n")).unwrap();

    // Server stopped: the CLI copies into the store itself.
    let data = DataDir::new(&[ALICE]);
    let imaps = dv.imaps.to_string();
    let ca = dv.ca();
    let pw = t("pw");
    let out = data.cli(&import_args(&imaps, &pw, &ca, "--tls"));
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}\n{}", dv.log());
    assert!(said.contains("copied 9 new messages"), "{said}");
    assert!(
        said.contains("Sent Messages -> Sent\t1 new messages"),
        "the \\Sent folder goes to Sent: {said}"
    );

    let s = Server::serve(data);
    dump_mailnook(&s, &t("mailnook.json"));
    boxes(&[
        "same",
        t("dovecot.json").to_str().unwrap(),
        t("mailnook.json").to_str().unwrap(),
        "Sent Messages=Sent",
    ]);

    // Again, through the running server, over STARTTLS, the password on stdin: nothing new.
    let rerun = |expect: &str| {
        let mut child = mailnook()
            .args([
                "import-imap",
                ALICE,
                "--host",
                "127.0.0.1",
                "--port",
                &dv.imap.to_string(),
            ])
            .args([
                "--starttls",
                "--user",
                OLD_USER,
                "--ca",
                dv.ca().to_str().unwrap(),
                "--data",
            ])
            .arg(s.data.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{OLD_PASSWORD}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let said = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && said.contains(expect), "{said}");
    };
    rerun("copied 0 new messages");
    dv.imaplib("append-one", &["Work/Projects"]);
    rerun("copied 1 new messages");
    dv.imaplib("dump", &[t("dovecot2.json").to_str().unwrap()]);
    dump_mailnook(&s, &t("mailnook2.json"));
    boxes(&[
        "same",
        t("dovecot2.json").to_str().unwrap(),
        t("mailnook2.json").to_str().unwrap(),
        "Sent Messages=Sent",
    ]);

    // A wrong password is a clear error, and nothing changes.
    std::fs::write(t("bad"), "wrong\n").unwrap();
    let bad = t("bad");
    let out = s.data.cli(&import_args(&imaps, &bad, &ca, "--tls"));
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success() && said.contains("logging in as olduser"),
        "{said}"
    );
}

/// The same copy from the user's web page (the pasted certificate authority standing in for the
/// private server's), equal to what Dovecot holds; a second run copies nothing.
#[test]
fn the_web_page_moves_an_account_in() {
    for tool in ["dovecot", "doveadm", "openssl", "python3"] {
        if !require_tool(tool) {
            return;
        }
    }
    let dv = Dovecot::start();
    dv.imaplib("fill", &["Sent=Sent Messages"]);
    let tmp = tempfile::tempdir().unwrap();
    let t = |n: &str| tmp.path().join(n);
    dv.imaplib("dump", &[t("dovecot.json").to_str().unwrap()]);
    let s = Server::start(&[ALICE]);
    web_scenario(
        &s,
        "move_in",
        &[
            ("DOVECOT_PORT", dv.imaps.to_string().into()),
            ("DOVECOT_CA", dv.ca().into_os_string()),
            ("OLD_USER", OLD_USER.into()),
            ("OLD_PASSWORD", OLD_PASSWORD.into()),
        ],
    );
    dump_mailnook(&s, &t("mailnook.json"));
    boxes(&[
        "same",
        t("dovecot.json").to_str().unwrap(),
        t("mailnook.json").to_str().unwrap(),
        "Sent Messages=Sent",
    ]);
    assert!(!s.log().contains(OLD_PASSWORD), "a password in the log");
    let leftovers: Vec<_> = std::fs::read_dir(s.data.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("import-ca-"))
        .collect();
    assert!(leftovers.is_empty(), "the pasted authority was left behind");
}

//! Storage quotas end to end: set with the CLI (server stopped and running) and kept across a
//! restart; enforced on SMTP (452 4.2.2 at RCPT, 552 5.2.2 after the data, delivery to the
//! recipients with room and a failure report to the sender otherwise) and IMAP (APPEND and COPY
//! refused with OVERQUOTA, MOVE never), and reported by the RFC 9208 commands. The clients are
//! Python's smtplib and imaplib (tests/quota_clients/steps.py).

mod common;
use common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const ALICE: &str = "alice@example.test";
const BOB: &str = "bob@example.test";

/// Runs one steps.py step against `s` and asserts it passed; returns its output.
fn step(s: &Server, name: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/quota_clients");
    let mut cmd = Command::new("python3");
    cmd.arg(dir.join("steps.py"))
        .arg(name)
        .env("MX_PORT", s.mx().port().to_string())
        .env("SUBMISSION_PORT", s.submission().port().to_string())
        .env("IMAPS_PORT", s.imaps().port().to_string())
        .env("CA", s.cert())
        .env("HOSTNAME_TLS", HOSTNAME)
        .env("PASSWORD", PASSWORD)
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let out = run_bounded(&mut cmd, Duration::from_secs(90));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.contains(&format!("step {name} passed")),
        "step {name} failed:\n{stdout}\n{}\n--- server log ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        tail(&s.log(), 40)
    );
    stdout
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

/// The bytes `quota show USER` reports as used.
fn used(d: &DataDir, user: &str) -> u64 {
    let line = text(d.cli_ok(&["quota", "show", user]));
    line.split('\t')
        .nth(1)
        .and_then(|c| c.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no usage in {line:?}"))
}

#[test]
fn cli_sets_and_shows_quotas_and_new_users_get_the_default() {
    let d = DataDir::new(&[ALICE, BOB]);
    assert_eq!(
        text(d.cli_ok(&["quota", "set", ALICE, "500M"])),
        "quota of alice@example.test set to 500M (524288000 bytes)\n"
    );
    assert_eq!(
        text(d.cli_ok(&["quota", "show"])),
        "alice@example.test\t0 bytes used\tquota 524288000 bytes (500M, 0% used)\n\
         bob@example.test\t0 bytes used\tno quota\n"
    );
    let bad = d.cli(&["quota", "set", ALICE, "lots"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("`lots` is not a quota"),
        "{bad:?}"
    );
    let nobody = d.cli(&["quota", "set", "nobody@example.test", "1G"]);
    assert!(!nobody.status.success());
    assert!(
        String::from_utf8_lossy(&nobody.stderr).contains("no such user"),
        "{nobody:?}"
    );
    assert!(
        !d.cli(&["quota", "show", "nobody@example.test"])
            .status
            .success()
    );
    // The default applies to users added after it is set; existing ones keep theirs.
    d.cli_ok(&["config", "set", "quota.default_bytes", "2G"]);
    assert_eq!(
        text(d.cli_ok(&["config", "get", "quota.default_bytes"])),
        "2147483648\n"
    );
    d.cli_ok(&["user", "add", "carol@example.test", "--password", PASSWORD]);
    assert!(
        text(d.cli_ok(&["quota", "show", "carol@example.test"]))
            .contains("quota 2147483648 bytes (2G, 0% used)")
    );
    assert!(text(d.cli_ok(&["quota", "show", BOB])).contains("no quota"));
    assert_eq!(
        text(d.cli_ok(&["quota", "set", "carol@example.test", "0"])),
        "carol@example.test has no quota now\n"
    );
    assert_eq!(text(d.cli_ok(&["check"])), "store ok\n");
}

#[test]
fn smtp_refuses_at_rcpt_and_after_data_and_reports_the_recipients_left_out() {
    let d = DataDir::new(&[ALICE, BOB]);
    // No DNS answers: a report queued for a remote sender waits in the queue.
    d.cli_ok(&["config", "set", "dns.nameservers", "127.0.0.1:9"]);
    d.cli_ok(&["quota", "set", ALICE, "40K"]);
    let s = Server::serve(d);
    step(&s, "fill");
    assert_eq!(s.data.uids(ALICE, "INBOX"), vec![1, 2, 3]);
    let before = used(&s.data, ALICE);
    assert!(before > 30 * 1024 && before < 40 * 1024, "{before}");

    step(&s, "data_552");
    assert_eq!(s.data.uids(ALICE, "INBOX"), vec![1, 2, 3]);
    assert_eq!(used(&s.data, ALICE), before, "nothing stored for a 552");

    // A remote sender: bob gets the message, the report about alice is queued to the sender
    // from the null sender.
    step(&s, "split_mx");
    assert_eq!(s.data.uids(ALICE, "INBOX"), vec![1, 2, 3]);
    assert_eq!(s.data.uids(BOB, "INBOX"), vec![1]);
    let queue = text(s.data.cli_ok(&["queue", "list"]));
    let id = queue
        .lines()
        .find(|l| l.contains("from=<>"))
        .and_then(|l| l.split('\t').next())
        .unwrap_or_else(|| panic!("no report queued:\n{queue}"));
    let shown = text(s.data.cli_ok(&["queue", "show", id]));
    assert!(shown.contains("carol@remote.test"), "{shown}");
    assert!(
        shown.contains("Undelivered Mail Returned to Sender"),
        "{shown}"
    );

    // A local sender (submission): the report lands in their INBOX.
    step(&s, "split_submission");
    assert_eq!(s.data.uids(ALICE, "INBOX"), vec![1, 2, 3]);
    let bobs = text(s.data.cli_ok(&["mail", "list", BOB, "INBOX"]));
    assert_eq!(s.data.uids(BOB, "INBOX").len(), 3, "{bobs}");
    assert!(
        bobs.contains("Undelivered Mail Returned to Sender"),
        "{bobs}"
    );
    let report = s
        .data
        .uids(BOB, "INBOX")
        .into_iter()
        .map(|uid| text(s.data.show(BOB, "INBOX", uid)))
        .find(|m| m.contains("Undelivered Mail"))
        .unwrap();
    assert!(report.starts_with("Return-Path: <>\r\n"), "{report}");
    assert!(report.contains("Status: 5.2.2"), "{report}");
    assert!(
        report.contains("Final-Recipient: rfc822; alice@example.test"),
        "{report}"
    );
    assert!(report.contains("Subject: from bob"), "{report}");
    assert_eq!(used(&s.data, ALICE), before);

    // Lowered below usage while running (control socket): nothing is removed, RCPT is refused.
    assert_eq!(
        text(s.data.cli_ok(&["quota", "set", ALICE, "20K"])),
        "quota of alice@example.test set to 20K (20480 bytes)\n"
    );
    step(&s, "rcpt_452");
    assert_eq!(s.data.uids(ALICE, "INBOX"), vec![1, 2, 3]);
    assert_eq!(used(&s.data, ALICE), before);
    assert!(text(s.data.cli_ok(&["quota", "show", ALICE])).contains("quota 20480 bytes (20K, "));
    assert_eq!(text(s.data.cli_ok(&["check"])), "store ok\n");
}

#[test]
fn imap_append_copy_move_and_the_quota_commands_survive_a_restart() {
    let d = DataDir::new(&[ALICE, BOB]);
    d.cli_ok(&["quota", "set", ALICE, "20K"]);
    let mut s = Server::serve(d);
    let out = step(&s, "imap");
    let base = s.port_base;
    let usage = used(&s.data, ALICE);
    assert!(
        out.contains(&format!("usage {}", usage.div_ceil(1024))),
        "{out} {usage}"
    );
    assert_eq!(s.data.uids(ALICE, "Archive").len(), 1);
    assert_eq!(s.data.uids(ALICE, "Trash").len(), 1);
    assert!(s.stop().success());
    // Stopped: the CLI reads the store itself.
    assert!(text(s.data.cli_ok(&["quota", "show", ALICE])).contains("\tquota 20480 bytes (20K, "));
    let placeholder = DataDir {
        dir: tempfile::tempdir().unwrap(),
    };
    let data = std::mem::replace(&mut s.data, placeholder);
    let s = Server::serve_at(data, base);
    let out = step(&s, "imap_after_restart");
    assert!(
        out.contains(&format!("usage {}", usage.div_ceil(1024))),
        "{out}"
    );
}

//! Whole-box backup and restore with the real binary: a box filled over SMTP and IMAP (Python's
//! imaplib) is backed up with `mailnook backup` while the server runs and mail keeps arriving,
//! restored with `mailnook restore` into a fresh data folder, served, and compared over IMAP
//! (every mailbox's UIDVALIDITY and UIDNEXT, every message's UID, flags and bytes), plus the
//! queue, the settings, the TLS and DKIM files, and every table byte for byte (a backup of the
//! restored box equals the original backup). Truncated or corrupted backups,
//! and restores into a box in use, are refused and change nothing.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

const USERS: &str = "alice@example.test,bob@example.test";

fn imap_state(s: &Server, mode: &str) -> serde_json::Value {
    require_tool("python3");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/backup_clients/imap_state.py");
    let out = run_bounded(
        Command::new("python3")
            .arg(&script)
            .arg(mode)
            .env("IMAPS_PORT", s.imaps().port().to_string())
            .env("CA", s.cert())
            .env("HOSTNAME_TLS", HOSTNAME)
            .env("PASSWORD", PASSWORD)
            .env("USERS", USERS)
            .env("PYTHONDONTWRITEBYTECODE", "1"),
        std::time::Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "imap_state.py {mode} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if mode == "dump" {
        serde_json::from_slice(&out.stdout).expect("JSON from imap_state.py")
    } else {
        serde_json::Value::Null
    }
}

fn text(out: Vec<u8>) -> String {
    String::from_utf8(out).unwrap()
}

/// An empty folder to restore into (no `init`: a new SD card).
fn empty_data() -> DataDir {
    DataDir {
        dir: tempfile::Builder::new()
            .prefix("mailnook-restore")
            .tempdir()
            .unwrap(),
    }
}

#[test]
fn a_backup_taken_while_mail_arrives_restores_the_same_box() {
    let data = DataDir::new(&["alice@example.test", "bob@example.test"]);
    // No name server answers: remote mail waits in the queue.
    data.cli_ok(&["config", "set", "dns.nameservers", "127.0.0.1:9"]);
    let s = Server::serve(data);
    for i in 0..4 {
        let r = s.deliver_to(
            "sender@mail.sender.test",
            if i % 2 == 0 {
                "alice@example.test"
            } else {
                "bob@example.test"
            },
            &format!("From: sender@mail.sender.test\r\nSubject: hello {i}\r\n\r\nmessage {i}"),
        );
        assert!(r.starts_with("250"), "{r}");
    }
    imap_state(&s, "fill");
    // Settings, and a message for a remote recipient that waits in the queue (its domain does
    // not resolve in the test's DNS).
    s.data.cli_ok(&["config", "set", "spam.junk_tenths", "75"]);
    assert!(submit_remote(&s), "a message for the queue was accepted");
    let queue_before = text(s.data.cli_ok(&["queue", "list"]));
    assert!(queue_before.lines().count() > 1, "{queue_before}");

    // Mail keeps arriving while the backup is taken.
    let stop = Arc::new(AtomicBool::new(false));
    let delivered = Arc::new(AtomicUsize::new(0));
    let mx = s.mx();
    let loop_thread = {
        let (stop, delivered) = (stop.clone(), delivered.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let mut c = Smtp::connect(mx);
                assert!(c.cmd("EHLO mail.sender.test").starts_with("250"));
                assert!(
                    c.cmd("MAIL FROM:<loop@mail.sender.test>")
                        .starts_with("250")
                );
                assert!(c.cmd("RCPT TO:<alice@example.test>").starts_with("250"));
                assert!(c.cmd("DATA").starts_with("354"));
                let r = c.cmd(&format!(
                    "Subject: loop {i}\r\n\r\n{}\r\n.",
                    "x".repeat(i * 10)
                ));
                assert!(r.starts_with("250"), "{r}");
                delivered.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        })
    };
    while delivered.load(Ordering::Relaxed) < 3 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let file = s.data.path().join("box.mnb");
    let out = s.data.cli(&["backup", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    while delivered.load(Ordering::Relaxed) < 6 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    loop_thread.join().unwrap();
    let before = imap_state(&s, "dump");
    let settings_before = text(s.data.cli_ok(&["config", "list"]));
    let backup = std::fs::read(&file).unwrap();
    assert!(backup.starts_with(b"MAILNOOK-BACKUP\n"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Refusals leave the target empty.
    let target = empty_data();
    let cut = target.path().join("cut.mnb");
    std::fs::write(&cut, &backup[..backup.len() - 100]).unwrap();
    let bad = target.path().join("bad.mnb");
    let mut flipped = backup.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 1;
    std::fs::write(&bad, &flipped).unwrap();
    for f in [&cut, &bad] {
        let out = target.cli(&["restore", f.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "a damaged backup was restored");
        assert!(err.contains("nothing was restored"), "{err}");
        assert_eq!(
            text(target.cli_ok(&["user", "list"])).trim(),
            "",
            "target stays empty"
        );
    }
    assert!(
        !target.path().join("dkim").exists(),
        "no files were written"
    );

    // A box in use refuses a restore, with the server running (through the control socket)
    // and stopped.
    let out = s.data.cli(&["restore", file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The restore.
    let restored = text(target.cli_ok(&["restore", file.to_str().unwrap()]));
    assert!(restored.contains("restored"), "{restored}");
    target.cli_ok(&["check"]);
    for f in ["tls/selfsigned-cert.pem", "tls/selfsigned-key.pem"] {
        assert_eq!(
            std::fs::read(target.path().join(f)).unwrap(),
            std::fs::read(s.data.path().join(f)).unwrap(),
            "{f} restored"
        );
    }
    let dkim_files = |d: &Path| {
        let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(d.join("dkim"))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(dkim_files(target.path()), dkim_files(s.data.path()));
    // Every table (spam model and training, greylisting, state included) and file came back
    // as it was: the restored box backs up to the very same bytes.
    assert_eq!(
        target.cli_ok(&["backup", "-"]),
        backup,
        "backup of the restored box"
    );
    let queue_after = text(target.cli_ok(&["queue", "list"]));
    let settings_after = text(target.cli_ok(&["config", "list"]));
    let t = Server::serve(target);
    let after = imap_state(&t, "dump");

    // Every mailbox is the same, except that alice's INBOX kept receiving after the backup:
    // the restored INBOX is the original's first messages, unchanged.
    for user in ["alice@example.test", "bob@example.test"] {
        let (b, a) = (&before[user], &after[user]);
        assert_eq!(
            b.as_object().unwrap().keys().collect::<Vec<_>>(),
            a.as_object().unwrap().keys().collect::<Vec<_>>(),
            "{user}'s mailboxes"
        );
        for (name, mb) in b.as_object().unwrap() {
            if user == "alice@example.test" && name == "INBOX" {
                let (bm, am) = (
                    mb["messages"].as_object().unwrap(),
                    a[name]["messages"].as_object().unwrap(),
                );
                assert!(am.len() < bm.len(), "the loop went on after the backup");
                // One of the first deliveries (the other went to Junk) and three of the loop's.
                assert!(am.len() >= 4, "the loop's first messages are in the backup");
                for (uid, m) in am {
                    assert_eq!(&bm[uid], m, "alice INBOX uid {uid}");
                }
                let validity = |s: &serde_json::Value| {
                    s.as_str()
                        .unwrap()
                        .split("UIDVALIDITY ")
                        .nth(1)
                        .unwrap()
                        .split([' ', ')'])
                        .next()
                        .unwrap()
                        .to_string()
                };
                assert_eq!(
                    validity(&mb["status"]),
                    validity(&a[name]["status"]),
                    "INBOX UIDVALIDITY"
                );
            } else {
                assert_eq!(mb, &a[name], "{user} {name}");
            }
        }
    }
    let work = &after["alice@example.test"]["Work"]["messages"];
    assert_eq!(work.as_object().unwrap().len(), 4, "{work}");
    assert!(
        work.as_object().unwrap().values().any(|m| m["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "later")),
        "keywords restored: {work}"
    );
    // The AGE column moves on.
    let without_age = |q: &str| -> Vec<Vec<String>> {
        q.lines()
            .map(|l| {
                l.split('\t')
                    .enumerate()
                    .filter(|(i, _)| *i != 1)
                    .map(|(_, f)| f.to_string())
                    .collect()
            })
            .collect()
    };
    assert_eq!(
        without_age(&queue_after),
        without_age(&queue_before),
        "the queue"
    );
    assert_eq!(settings_after, settings_before, "the settings");
    drop(t);
}

/// Submits a message to a remote recipient as alice; whether it was accepted (it then waits in
/// the queue: no name server answers).
fn submit_remote(s: &Server) -> bool {
    let script = format!(
        r#"
import smtplib, ssl, sys
ctx = ssl.create_default_context(cafile={ca:?})
ctx.check_hostname = False
with smtplib.SMTP_SSL("127.0.0.1", {port}, context=ctx, timeout=20) as c:
    c.login("alice@example.test", {pw:?})
    c.sendmail("alice@example.test", ["someone@remote.invalid"], "From: alice@example.test\r\nTo: someone@remote.invalid\r\nSubject: out\r\n\r\nbye\r\n")
"#,
        ca = s.cert().to_str().unwrap(),
        port = s.submissions().port(),
        pw = PASSWORD
    );
    let out = run_bounded(
        Command::new("python3").arg("-c").arg(script),
        std::time::Duration::from_secs(60),
    );
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    }
    out.status.success()
}

#[test]
fn backup_to_stdout_with_the_server_stopped_and_restore_round_trip() {
    let d = DataDir::new(&["carol@example.test"]);
    let out = d.cli(&["backup", "-"]);
    assert!(out.status.success());
    assert!(out.stdout.starts_with(b"MAILNOOK-BACKUP\n"));
    let target = empty_data();
    let f = target.path().join("b.mnb");
    std::fs::write(&f, &out.stdout).unwrap();
    target.cli_ok(&["restore", f.to_str().unwrap()]);
    assert_eq!(
        text(target.cli_ok(&["user", "list"])),
        text(d.cli_ok(&["user", "list"]))
    );
    // A second restore into the now used box is refused.
    let again = target.cli(&["restore", f.to_str().unwrap()]);
    assert!(!again.status.success());
    // A backup file is never overwritten.
    let exists = target.cli(&["backup", f.to_str().unwrap()]);
    assert!(!exists.status.success());
    assert_eq!(std::fs::read(&f).unwrap(), out.stdout);
}

//! A full disk end to end: the data folder on an 8 MiB tmpfs in a private mount namespace, the
//! real server and CLI run inside it (`nsenter`), the clients are Python's smtplib and imaplib
//! (tests/full_disk_clients/steps.py). Filling it gets 452 4.3.1 after the data and then at MAIL,
//! APPEND gets NO [UNAVAILABLE]; everything answered 250 stays byte-identical and `check` stays
//! clean; deleting mail over IMAP makes room and delivery resumes without a restart; the
//! `store.min_free_bytes` reserve and an announced SIZE refuse at MAIL; growing the filesystem
//! needs no restart either.
//!
//! Mounting needs root or an unprivileged user namespace (`unshare -rm`); where neither works
//! the test fails and says so.

mod common;
use common::tmpfs::Tmpfs;
use common::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const ALICE: &str = "alice@example.test";

/// The server's certificate, copied out of the namespace for the clients.
fn certificate(fs: &Tmpfs, s: &Server, to: &Path) -> PathBuf {
    let prefix = fs.enter();
    let cat = Command::new(&prefix[0])
        .args(&prefix[1..])
        .arg("cat")
        .arg(s.cert())
        .output()
        .expect("run nsenter cat");
    assert!(cat.status.success(), "reading the certificate failed");
    let path = to.join("ca.pem");
    std::fs::write(&path, cat.stdout).unwrap();
    path
}

fn step(s: &Server, ca: &Path, out: &Path, name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/full_disk_clients");
    let mut cmd = Command::new("python3");
    cmd.arg(dir.join("steps.py"))
        .arg(name)
        .env("MX_PORT", s.mx().port().to_string())
        .env("IMAPS_PORT", s.imaps().port().to_string())
        .env("CA", ca)
        .env("HOSTNAME_TLS", HOSTNAME)
        .env("PASSWORD", PASSWORD)
        .env("OUT", out)
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let result = run_bounded(&mut cmd, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&result.stdout).into_owned();
    assert!(
        result.status.success() && stdout.contains(&format!("step {name} passed")),
        "step {name} failed:\n{stdout}\n{}\n--- server log ---\n{}",
        String::from_utf8_lossy(&result.stderr),
        tail(&s.log(), 40)
    );
}

/// Every message the clients got a 250 for (and did not expunge) is stored byte for byte, nothing
/// else is, and the store checks clean.
fn verify(s: &Server, out: &Path) {
    let sent: BTreeSet<Vec<u8>> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    let stored: BTreeSet<Vec<u8>> = s
        .data
        .uids(ALICE, "INBOX")
        .into_iter()
        .map(|uid| strip_trace(&s.data.show(ALICE, "INBOX", uid)).to_vec())
        .collect();
    assert_eq!(sent.len(), stored.len(), "messages stored vs. answered 250");
    assert!(
        sent == stored,
        "a stored message differs from what was sent"
    );
    assert_eq!(
        String::from_utf8(s.data.cli_ok(&["check"])).unwrap(),
        "store ok\n"
    );
}

#[test]
fn a_full_disk_refuses_new_mail_keeps_what_it_has_and_recovers_by_itself() {
    let dir = tempfile::Builder::new()
        .prefix("mailnook-fulldisk")
        .tempdir()
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let host = tempfile::tempdir().unwrap();
    let fs = Tmpfs::mount(dir.path(), "8m");
    run_binary_under(fs.enter());
    let d = DataDir::init_in(dir, DOMAIN, HOSTNAME, &[ALICE]);
    // No reserve: the disk really fills, and the store meets ENOSPC.
    d.cli_ok(&["config", "set", "store.min_free_bytes", "0"]);
    let mut s = Server::serve(d);
    let ca = certificate(&fs, &s, host.path());

    step(&s, &ca, out.path(), "fill");
    assert!(
        s.log().contains("store storage full"),
        "the store met ENOSPC:\n{}",
        tail(&s.log(), 20)
    );
    step(&s, &ca, out.path(), "append_full");
    verify(&s, out.path());

    // Room made by deleting mail is used again: no restart.
    step(&s, &ca, out.path(), "expunge");
    step(&s, &ca, out.path(), "deliver_again");
    verify(&s, out.path());

    // The reserve refuses early while anything is stored.
    s.data
        .cli_ok(&["config", "set", "store.min_free_bytes", "1G"]);
    step(&s, &ca, out.path(), "reserve");
    s.data
        .cli_ok(&["config", "set", "store.min_free_bytes", "0"]);

    // A grown filesystem is used at once; a SIZE beyond it is refused at MAIL.
    fs.resize("24m");
    step(&s, &ca, out.path(), "size_too_big");
    verify(&s, out.path());
    s.assert_alive();
    assert_eq!(s.stop().code(), Some(0), "clean shutdown");
    drop(s);
}

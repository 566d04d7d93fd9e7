//! ManageSieve (RFC 5804) against the real binary on loopback: sieve-connect, a client nobody
//! here wrote, uploads, lists, activates, downloads and deletes scripts over STARTTLS with the
//! server's certificate verified; the store then holds what it was told. A raw Python client
//! (tests/managesieve_clients/suite.py) covers what sieve-connect cannot show: AUTHENTICATE
//! before STARTTLS, compile errors, every response code, a literal over the size limit answered
//! in step, the error limit, the idle timeout and login throttling. Each test starts its own
//! server.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const ALICE: &str = "alice@example.test";

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/managesieve_clients")
}

/// A data folder with Alice and the given settings, served.
fn serve_with(settings: &[(&str, &str)]) -> Server {
    let data = DataDir::new(&[ALICE]);
    for (k, v) in settings {
        data.cli_ok(&["config", "set", k, v]);
    }
    Server::serve(data)
}

fn managesieve_port(s: &Server) -> u16 {
    s.port_base + 4190
}

/// Runs one suite.py scenario and asserts it passed; returns its stdout.
fn scenario(s: &Server, name: &str, max_script: &str) -> String {
    let mut cmd = Command::new("python3");
    cmd.arg(scripts().join("suite.py"))
        .arg(name)
        .arg(ALICE)
        .current_dir(scripts())
        .env("MANAGESIEVE_PORT", managesieve_port(s).to_string())
        .env("MAX_SCRIPT", max_script)
        .env("CA", s.cert())
        .env("HOSTNAME_TLS", HOSTNAME)
        .env("PASSWORD", PASSWORD)
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let out = run_bounded(&mut cmd, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.contains(&format!("scenario {name} passed")),
        "scenario {name} failed:\n{stdout}\n{}\n--- server log ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        tail(&s.log(), 40)
    );
    stdout
}

/// Runs sieve-connect with `args`, logging in as Alice over STARTTLS (certificate and host name
/// verified; the password on standard input).
fn sieve_connect(s: &Server, args: &[&str]) -> Output {
    let mut cmd = Command::new("sieve-connect");
    cmd.args(["--server", "127.0.0.1", "--nosrv", "--user", ALICE])
        .args(["--port", &managesieve_port(s).to_string()])
        .arg("--tlscafile")
        .arg(s.cert())
        .args([
            "--tlshostname",
            HOSTNAME,
            "--noclearauth",
            "--passwordfd",
            "0",
        ])
        .args(args)
        .stdin(Stdio::piped());
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sieve-connect");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.expect("sieve-connect output"),
        Err(_) => {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            panic!("sieve-connect {args:?} hung")
        }
    }
}

fn sieve_connect_ok(s: &Server, args: &[&str]) -> String {
    let out = sieve_connect(s, args);
    assert!(
        out.status.success(),
        "sieve-connect {args:?} failed: {}{}\n--- server log ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        tail(&s.log(), 20)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const FILTER: &str = "require [\"fileinto\"];\r\n\
    # Newsletters straight to the bin.\r\n\
    if header :contains \"subject\" \"[newsletter]\" {\r\n  fileinto \"Trash\";\r\n}\r\n";
const VACATION: &str = "require [\"vacation\"];\r\nvacation :days 7 \"Away until Monday.\";\r\n";

#[test]
fn sieve_connect_uploads_lists_activates_downloads_and_deletes() {
    if !require_tool("sieve-connect") {
        return;
    }
    let mut s = serve_with(&[]);
    let dir = tempfile::tempdir().unwrap();
    let local = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    };
    let filter = local("filter.sieve", FILTER);
    let vacation = local("vacation.sieve", VACATION);
    sieve_connect_ok(
        &s,
        &[
            "--upload",
            "--localsieve",
            &filter,
            "--remotesieve",
            "lists",
        ],
    );
    sieve_connect_ok(
        &s,
        &[
            "--upload",
            "--localsieve",
            &vacation,
            "--remotesieve",
            "away",
        ],
    );
    sieve_connect_ok(&s, &["--activate", "--remotesieve", "lists"]);
    let listed = sieve_connect_ok(&s, &["--list"]);
    let mut lines: Vec<&str> = listed.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["\"away\"", "\"lists\" ACTIVE"], "{listed}");
    // Delivery runs the script activated over ManageSieve.
    assert_eq!(
        String::from_utf8(s.data.cli_ok(&["sieve", "list", ALICE])).unwrap(),
        "away\nlists\tactive\n"
    );
    let reply = s.deliver_to_alice(
        "news@sender.test",
        "From: news@sender.test\r\nTo: alice@example.test\r\nSubject: [newsletter] May\r\n\r\nNews.\r\n",
    );
    assert!(reply.starts_with("250"), "{reply}");
    let trash = s.alices("Trash");
    assert!(
        trash.len() == 1 && trash[0].contains("[newsletter] May") && s.alices("INBOX").is_empty(),
        "{trash:?}"
    );
    let downloaded = dir.path().join("downloaded.sieve");
    sieve_connect_ok(
        &s,
        &[
            "--download",
            "--remotesieve",
            "lists",
            "--localsieve",
            &downloaded.to_string_lossy(),
        ],
    );
    assert_eq!(std::fs::read_to_string(&downloaded).unwrap(), FILTER);
    // The active script cannot be deleted (RFC 5804 §2.10); deactivated, it can.
    let refused = sieve_connect(&s, &["--delete", "--remotesieve", "lists"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("NO (ACTIVE)"),
        "{stderr}"
    );
    sieve_connect_ok(&s, &["--deactivate"]);
    sieve_connect_ok(&s, &["--delete", "--remotesieve", "lists"]);
    // A script that does not compile is refused with the compiler's line number.
    let broken = local("broken.sieve", "if true {\r\n  keep;\r\n");
    let refused = sieve_connect(
        &s,
        &["--upload", "--localsieve", &broken, "--remotesieve", "x"],
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("failed: NO \"line "),
        "{stderr}"
    );
    let refused = sieve_connect(&s, &["--checkscript", "--localsieve", &broken]);
    assert!(!refused.status.success());
    sieve_connect_ok(&s, &["--checkscript", "--localsieve", &vacation]);
    sieve_connect_ok(&s, &["--activate", "--remotesieve", "away"]);
    assert_eq!(sieve_connect_ok(&s, &["--list"]).trim(), "\"away\" ACTIVE");
    assert!(!s.log().contains(PASSWORD), "a password reached the log");
    // What the store holds once the server is gone.
    assert!(s.stop().success());
    let store = mailnook::store::Store::open(&s.data.path().join("mail.redb"), 1 << 20).unwrap();
    let user = store.user(ALICE).unwrap().expect("alice").id;
    assert_eq!(
        store.active_script(user).unwrap(),
        Some(("away".to_string(), VACATION.to_string()))
    );
    assert_eq!(
        store.scripts(user).unwrap(),
        vec![("away".to_string(), true)]
    );
    store.close();
}

#[test]
fn authenticate_is_refused_before_starttls() {
    let s = serve_with(&[]);
    scenario(&s, "auth_refused_before_starttls", "65536");
}

#[test]
fn script_commands_answer_with_rfc_5804_response_codes() {
    let s = serve_with(&[("sieve.max_script_bytes", "4096")]);
    scenario(&s, "script_edge_cases", "4096");
}

#[test]
fn an_idle_session_is_closed_after_the_timeout() {
    let s = serve_with(&[("managesieve.timeout_secs", "10")]);
    scenario(&s, "autologout", "65536");
}

#[test]
fn wrong_passwords_are_delayed_then_refused() {
    let s = serve_with(&[
        ("auth.free_failures", "2"),
        ("auth.delay_base_ms", "600"),
        ("auth.max_failures_per_ip", "5"),
        ("auth.block_secs", "60"),
    ]);
    let out = scenario(&s, "brute_force", "65536");
    for line in out.lines().filter(|l| l.starts_with("time from")) {
        eprintln!("{line}");
    }
    assert!(!s.log().contains("wrong-"), "a password reached the log");
}

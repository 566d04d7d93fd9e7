//! The smoke test every board build must pass: deliver over SMTP, read over IMAP and POP3,
//! submit and see the outside recipient queued, the web page answering, with Python's own
//! clients (tests/board_clients/smoke.py).
//!
//! Under plain `cargo test` it runs the host binary. `board/build --smoke` and CI run it again
//! against each Raspberry Pi build under qemu-user, with `MAILNOOK_TEST_BIN` set to the
//! release binary and `MAILNOOK_TEST_RUNNER` to the emulator and CPU model (for example
//! `qemu-arm-static -cpu arm1176`, which traps on any ARMv7 instruction in an ARMv6 build).

mod common;

use common::*;
use mailnook::dns::testserver::{TestRecord, TestServer, Zone};
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[test]
fn deliver_read_submit_queue() {
    if !require_tool("python3") {
        return;
    }
    // elsewhere.test's MX is loopback, on a port where nothing listens: the attempt is
    // deferred (connection refused) and the message stays queued.
    let dns = TestServer::start(
        Zone::new()
            .add(
                "elsewhere.test",
                TestRecord::Mx(10, "mx.elsewhere.test".into()),
            )
            .add("mx.elsewhere.test", TestRecord::A(Ipv4Addr::LOCALHOST)),
    )
    .expect("DNS test server");
    let closed_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data = DataDir::new(&["alice@example.test", "bob@example.test"]);
    data.cli_ok(&["config", "set", "dns.nameservers", &dns.addr().to_string()]);
    data.cli_ok(&[
        "config",
        "set",
        "queue.remote_port",
        &closed_port.to_string(),
    ]);
    let mut s = Server::serve(data);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/board_clients/smoke.py");
    let out = run_bounded(
        Command::new("python3")
            .arg(&script)
            .env("PORT_BASE", s.port_base.to_string())
            .env("CA", s.cert())
            .env("HOSTNAME_TLS", HOSTNAME)
            .env("PASSWORD", PASSWORD)
            .env("PYTHONDONTWRITEBYTECODE", "1"),
        Duration::from_secs(600),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("smoke passed"),
        "smoke clients failed:\n{stdout}\n{}\n--- server log ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        tail(&s.log(), 40)
    );

    // The outside recipient waits in the queue (no MX for elsewhere.test is reachable); the
    // local one was delivered at once (checked by the clients).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let queue = loop {
        let queue = String::from_utf8(s.data.cli_ok(&["queue", "list"])).unwrap();
        if queue.contains("Connection refused") || std::time::Instant::now() > deadline {
            break queue;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let id = queue
        .lines()
        .find(|l| l.contains("from=<alice@example.test>") && l.contains("Connection refused"))
        .and_then(|l| l.split('\t').next())
        .unwrap_or_else(|| panic!("the submission is not queued with its deferral:\n{queue}"));
    let shown = String::from_utf8(s.data.cli_ok(&["queue", "show", id])).unwrap();
    let rcpts: Vec<&str> = shown.lines().filter(|l| l.starts_with("  <")).collect();
    assert_eq!(rcpts.len(), 1, "{shown}");
    assert!(
        rcpts[0].contains("<carol@elsewhere.test>\tpending"),
        "{shown}"
    );
    assert!(
        shown.contains("DKIM-Signature: v=1"),
        "signed for the world: {shown}"
    );

    // What the IMAP client saw is what the store holds: flags written by STORE, the POP3
    // DELE applied, and the store's invariants hold after a clean stop.
    let uids = s.data.uids("alice@example.test", "INBOX");
    assert_eq!(uids.len(), 2, "alice's INBOX after POP3 DELE: {uids:?}");
    assert!(s.stop().success(), "server exit status");
    s.data.cli_ok(&["check"]);
}

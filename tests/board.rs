//! The defaults of the memory-bound settings follow the board's RAM (`board.ram_mib` here, so
//! nothing depends on the machine running the tests): the CLI reports them, a stored value wins,
//! and a server sized for a 256 MiB board says so at start and refuses connections beyond the
//! tiny class's caps with 421, over real sockets.

mod common;
use common::*;

use std::io::{BufRead, BufReader};
use std::process::Command;
use std::time::Duration;

fn get(data: &DataDir, key: &str) -> String {
    String::from_utf8(data.cli_ok(&["config", "get", key]))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn config_reports_the_small_class_defaults_and_stored_values_win() {
    let data = DataDir::new(&[]);
    let list = String::from_utf8(data.cli_ok(&["config", "list"])).unwrap();
    let header = list.lines().next().unwrap();
    assert!(
        header.starts_with("# board: ")
            && (header.contains(" MiB RAM (") || header.contains("RAM not detected"))
            && !header.contains("board.ram_mib)"),
        "{header}"
    );

    data.cli_ok(&["config", "set", "board.ram_mib", "512"]);
    for (key, small) in [
        ("net.max_conns", "256"),
        ("net.max_conns_per_ip", "32"),
        ("store.cache_bytes", "4194304"),
        ("auth.max_parallel_hashes", "1"),
        ("queue.concurrency", "4"),
        ("smtp.max_header_bytes", "65536"),
        ("spam.scan_bytes", "65536"),
        // Not sized: the same on every board.
        ("auth.cache_entries", "256"),
    ] {
        assert_eq!(get(&data, key), small, "{key}");
    }
    // The harness stores cheap argon2 parameters: stored values win over the class.
    assert_eq!(get(&data, "auth.argon2_memory_kib"), "1024");
    assert_eq!(get(&data, "auth.argon2_iterations"), "1");
    data.cli_ok(&["config", "unset", "auth.argon2_memory_kib"]);
    data.cli_ok(&["config", "unset", "auth.argon2_iterations"]);
    assert_eq!(get(&data, "auth.argon2_memory_kib"), "19456");
    assert_eq!(get(&data, "auth.argon2_iterations"), "2");
    let list = String::from_utf8(data.cli_ok(&["config", "list"])).unwrap();
    assert!(
        list.starts_with(
            "# board: 512 MiB RAM (small, board.ram_mib); defaults marked `for small` follow it\n"
        ),
        "{list}"
    );
    assert!(
        list.lines()
            .any(|l| l.starts_with("net.max_conns = 256  # default for small\t")),
        "{list}"
    );
    assert!(
        list.lines()
            .any(|l| l.starts_with("smtp.max_errors = 10  # default\t")),
        "{list}"
    );

    // A value the operator stored wins over the class; unsetting it brings the class back.
    data.cli_ok(&["config", "set", "net.max_conns", "300"]);
    assert_eq!(get(&data, "net.max_conns"), "300");
    data.cli_ok(&["config", "set", "board.ram_mib", "4096"]);
    assert_eq!(get(&data, "net.max_conns"), "300");
    assert_eq!(get(&data, "store.cache_bytes"), "16777216");
    assert_eq!(
        String::from_utf8(data.cli_ok(&["config", "unset", "net.max_conns"])).unwrap(),
        "net.max_conns = 768 (default)\n"
    );
    data.cli_ok(&["config", "set", "board.ram_mib", "200"]);
    assert_eq!(get(&data, "net.max_conns"), "128");
    assert_eq!(get(&data, "auth.argon2_iterations"), "5");
    let out = data.cli(&["config", "set", "board.ram_mib", "lots"]);
    assert!(!out.status.success());
}

/// Opens connections to the MX, `per_source` from each of `sources` loopback addresses, plus
/// one more from the first address once it has its share and one from a fresh address at the
/// end; reads each one's first line and prints `<source> <first line>`, in order. All stay open
/// until the script ends.
const FLOOD: &str = r#"
import socket, sys
port, per_source, sources = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
held = []
def first_line(src):
    s = socket.create_connection(("127.0.0.1", port), timeout=20, source_address=(src, 0))
    line = s.makefile("rb").readline().decode().rstrip("\r\n")
    held.append(s)
    print(src, line, flush=True)
for n in range(sources):
    for _ in range(per_source):
        first_line(f"127.0.0.{n + 1}")
    if n == 0:
        first_line("127.0.0.1")
first_line(f"127.0.0.{sources + 1}")
"#;

#[test]
fn server_sized_for_256_mib_says_so_and_caps_connections() {
    if !require_tool("python3") {
        return;
    }
    let data = DataDir::new(&["alice@example.test"]);
    data.cli_ok(&["config", "set", "board.ram_mib", "256"]);
    // The class's argon2 cost, not the harness's cheap one (no login happens here).
    data.cli_ok(&["config", "unset", "auth.argon2_memory_kib"]);
    let mut s = Server::serve(data);
    let stdout = s.stdout.lock().unwrap().clone();
    let line = stdout
        .lines()
        .find(|l| l.starts_with("mailnook: board: "))
        .unwrap_or_else(|| panic!("no board line in {stdout}"));
    assert!(
        line.starts_with(
            "mailnook: board: 256 MiB RAM (tiny, board.ram_mib): max 128 connections, \
             2 MiB store cache, argon2 7 MiB × 1, 2 outbound, worst case "
        ),
        "{line}"
    );

    // Tiny: 128 connections in all, 16 per client address: 8 addresses × 16 fill it.
    let out = run_bounded(
        Command::new("python3")
            .arg("-c")
            .arg(FLOOD)
            .arg(s.mx().port().to_string())
            .args(["16", "8"]),
        Duration::from_secs(60),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 130, "{text}");
    const GREETING: &str = " 220 mx.example.test ESMTP mailnook";
    const REFUSED: &str = " 421 4.7.0 Too many connections, try again later";
    let greeted = lines.iter().filter(|l| l.ends_with(GREETING)).count();
    assert_eq!(greeted, 128, "{text}");
    // The 17th from one address (16 open in all): the per-address cap.
    assert_eq!(lines[16], format!("127.0.0.1{REFUSED}"));
    // The 129th in all, from an address with none open: the total cap.
    assert_eq!(lines[129], format!("127.0.0.9{REFUSED}"));
    s.assert_alive();
    // With the clients gone (the server may take a moment to count them out), it greets again.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let probe = std::net::TcpStream::connect(s.mx()).unwrap();
        probe
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut greeting = String::new();
        BufReader::new(probe).read_line(&mut greeting).unwrap();
        if greeting.starts_with("220 ") {
            let mut c = s.connect();
            assert!(c.cmd("EHLO client.test").starts_with("250-mx.example.test"));
            assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye");
            break;
        }
        assert!(greeting.starts_with("421 "), "{greeting}");
        assert!(
            std::time::Instant::now() < deadline,
            "still full after 10 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

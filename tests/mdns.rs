//! Multicast DNS (RFC 6762): the server started with `mdns.enabled 1` answers for
//! `<mdns.name>.local` on port 5353, as resolved by clients nobody here wrote: dig (a legacy
//! unicast query, §6.7) and a Python peer on the multicast group using dnspython (a QM query,
//! §5.2). A port 5353 the server cannot bind is a warning, and the other roles keep serving.
//!
//! Port 5353 is the same for every server, so the tests here run one at a time.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::net::{TcpStream, UdpSocket};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

static PORT_5353: Mutex<()> = Mutex::new(());

/// A server answering for `name`.local.
fn mdns_server(name: &str) -> Server {
    let data = DataDir::new(&["alice@example.test"]);
    data.cli_ok(&["config", "set", "mdns.enabled", "1"]);
    data.cli_ok(&["config", "set", "mdns.name", name]);
    Server::serve(data)
}

/// Waits until the server's log contains `needle`.
fn wait_for_log(s: &Server, needle: &str) {
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        if s.log().contains(needle) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no `{needle}` in the log:\n{}", tail(&s.log(), 30));
}

fn dig(name: &str, rtype: &str, extra: &[&str]) -> String {
    let out = run_bounded(
        Command::new("dig")
            .args(["-p", "5353", "@127.0.0.1", name, rtype])
            .args(extra),
        Duration::from_secs(20),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether loopback has ::1 (IPv6 may be disabled on the machine).
fn loopback_has_ipv6() -> bool {
    std::fs::read_to_string("/proc/net/if_inet6").is_ok_and(|t| {
        t.lines()
            .any(|l| l.starts_with("00000000000000000000000000000001"))
    })
}

#[test]
fn dig_and_a_multicast_peer_resolve_the_name() {
    if !require_tool("dig") || !have_dkimpy() {
        return;
    }
    let _one = PORT_5353.lock().unwrap_or_else(|e| e.into_inner());
    let name = format!("nook-{}", std::process::id());
    let mut s = mdns_server(&name);
    wait_for_log(&s, &format!("answering for {name}.local"));

    // Legacy unicast: dig's ID and question come back, TTL at most 10 (§6.7).
    let full = dig(&format!("{name}.local"), "A", &["+time=2", "+tries=3"]);
    assert!(full.contains("status: NOERROR"), "{full}");
    assert!(full.contains("flags: qr aa"), "{full}");
    let answer = full
        .lines()
        .find(|l| l.starts_with(&format!("{name}.local.")) && l.contains("\tA\t"))
        .unwrap_or_else(|| panic!("no A record:\n{full}"));
    let fields: Vec<&str> = answer.split_whitespace().collect();
    assert_eq!(fields[4], "127.0.0.1", "{answer}");
    assert!(fields[1].parse::<u32>().unwrap() <= 10, "{answer}");

    // Case does not matter (§16).
    let upper = dig(
        &format!("{}.LOCAL", name.to_uppercase()),
        "A",
        &["+short", "+time=2", "+tries=3"],
    );
    assert_eq!(upper.trim(), "127.0.0.1");

    let aaaa = dig(
        &format!("{name}.local"),
        "AAAA",
        &["+short", "+time=2", "+tries=3"],
    );
    let want = if loopback_has_ipv6() { "::1" } else { "" };
    assert_eq!(aaaa.trim(), want);

    // Other names get no answer at all.
    let other = dig("someone-else.local", "A", &["+time=1", "+tries=1"]);
    assert!(!other.contains("ANSWER SECTION"), "{other}");
    assert!(
        other.contains("timed out") || other.contains("no servers could be reached"),
        "{other}"
    );

    // A peer on the group: a multicast answer with the cache-flush bit and TTL 120 (§10),
    // giving the address the group is reached from.
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/mdns_clients/multicast_query.py"
    );
    let out = run_bounded(
        Command::new("python3").args([script, &format!("{name}.local"), "10"]),
        Duration::from_secs(30),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "no multicast answer: {text}{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        tail(&s.log(), 20)
    );
    let from = text
        .lines()
        .find_map(|l| l.strip_prefix("FROM "))
        .expect("FROM line");
    assert!(
        text.lines().any(|l| l == format!("A {from} 120 1")),
        "{text}"
    );
    s.assert_alive();
    s.stop();
}

#[test]
fn a_busy_port_5353_is_a_warning_and_mail_still_flows() {
    let _one = PORT_5353.lock().unwrap_or_else(|e| e.into_inner());
    // Held without SO_REUSEADDR/SO_REUSEPORT, so nobody can share it.
    let Ok(_holder) = UdpSocket::bind("0.0.0.0:5353") else {
        eprintln!("port 5353 is already taken on this machine; the busy case is what it shows");
        return;
    };
    let mut s = mdns_server("busy");
    wait_for_log(&s, "cannot listen on 0.0.0.0:5353");
    let mut greeting = String::new();
    BufReader::new(TcpStream::connect(s.mx()).unwrap())
        .read_line(&mut greeting)
        .unwrap();
    assert!(greeting.starts_with("220 "), "{greeting}");
    s.assert_alive();
    s.stop();
}

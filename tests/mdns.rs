//! Multicast DNS (RFC 6762): the server started with `mdns.enabled 1` answers for
//! `<mdns.name>.local` on port 5353, as resolved by clients nobody here wrote: dig (a legacy
//! unicast query, §6.7) and a Python peer on the multicast group using dnspython (a QM query,
//! §5.2). A port 5353 the server cannot bind is a warning, and the other roles keep serving.
//!
//! On a LAN without a router (tests/mdns_clients/lan.sh: two network namespaces joined by a
//! veth pair, made in an unprivileged user namespace), with the server started before its
//! interface had an address, as a board booting before DHCP does: dig from the other end gets
//! the interface's address, and so does the multicast peer.
//!
//! Port 5353 is the same for every server on the host, so the tests on it run one at a time.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::net::{TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static PORT_5353: Mutex<()> = Mutex::new(());

/// A data folder set to answer for `name`.local.
fn mdns_data(name: &str) -> DataDir {
    let data = DataDir::new(&["alice@example.test"]);
    data.cli_ok(&["config", "set", "mdns.enabled", "1"]);
    data.cli_ok(&["config", "set", "mdns.name", name]);
    data
}

/// A server answering for `name`.local.
fn mdns_server(name: &str) -> Server {
    Server::serve(mdns_data(name))
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

/// Runs tests/mdns_clients/multicast_query.py for `name`.local with `python` (a command that
/// runs python3) and returns its output, which must show an answer.
fn multicast_query(mut python: Command, name: &str, s: &Server) -> String {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/mdns_clients/multicast_query.py"
    );
    let out = run_bounded(
        python.args([script, &format!("{name}.local"), "10"]),
        Duration::from_secs(30),
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "no multicast answer: {text}{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        tail(&s.log(), 20)
    );
    text
}

/// The fields of the A record for `name`.local in dig's output `text` (fifth: the address).
fn a_record<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .find(|l| l.starts_with(&format!("{name}.local.")) && l.contains("\tA\t"))
        .unwrap_or_else(|| panic!("no A record:\n{text}"))
        .split_whitespace()
        .collect()
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
    let fields = a_record(&full, &name);
    assert_eq!(fields[4], "127.0.0.1", "{fields:?}");
    assert!(fields[1].parse::<u32>().unwrap() <= 10, "{fields:?}");

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
    let text = multicast_query(Command::new("python3"), &name, &s);
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

/// Whether `/proc/net/igmp` (`igmp`) lists 224.0.0.251 on interface `iface`: an interface line
/// (`index name : count querier`) followed by its groups (hex, host byte order).
fn joined(igmp: &str, iface: &str) -> bool {
    let mut current = "";
    igmp.lines().any(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        if line.starts_with(|c: char| c.is_ascii_digit()) {
            current = words.get(1).copied().unwrap_or("");
            return false;
        }
        current == iface && words.first() == Some(&"FB0000E0")
    })
}

/// The LAN of tests/mdns_clients/lan.sh: the server's namespace (`v0`) and the peer's (`v1`,
/// 192.0.2.2/24). Both processes holding them are killed on drop.
struct Lan {
    holder: Child,
    peer: u32,
}

/// The server's address on the LAN.
const LAN_SERVER: &str = "192.0.2.1";

impl Lan {
    /// None (after a SKIP line) only with MAILNOOK_ALLOW_SKIP=1 when user namespaces are not
    /// available; otherwise that is a failure.
    fn new() -> Option<Lan> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mdns_clients/lan.sh");
        let mut holder = Command::new("unshare")
            .args(["-rnm", "sh", script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn unshare");
        let mut line = String::new();
        let _ = BufReader::new(holder.stdout.take().unwrap()).read_line(&mut line);
        if let Some(peer) = line.trim().strip_prefix("peer ") {
            return Some(Lan {
                peer: peer.parse().expect("peer pid"),
                holder,
            });
        }
        let _ = holder.kill();
        let out = holder.wait_with_output().expect("unshare output");
        let why = String::from_utf8_lossy(&out.stderr).into_owned();
        if std::env::var("MAILNOOK_ALLOW_SKIP").as_deref() == Ok("1") {
            eprintln!("SKIP: no network namespaces here (unshare -rn: {why})");
            return None;
        }
        panic!(
            "unshare -rn could not make the test LAN ({why}); unprivileged user namespaces are \
             needed, or set MAILNOOK_ALLOW_SKIP=1"
        );
    }

    /// The command line that runs a program in the namespaces `spaces` (nsenter's flags) of
    /// process `pid`.
    fn enter(pid: u32, spaces: &[&str]) -> Vec<String> {
        let pid = pid.to_string();
        let mut line = vec!["nsenter", "-t", &pid, "-U", "--preserve-credentials"];
        line.extend(spaces);
        line.into_iter().map(String::from).collect()
    }

    /// The server's side: its network namespace and the mount namespace with its /sys.
    fn server_side(&self) -> Vec<String> {
        Lan::enter(self.holder.id(), &["-n", "-m"])
    }

    fn command(line: Vec<String>, args: &[&str]) -> Command {
        let mut c = Command::new(&line[0]);
        c.args(&line[1..]).args(args);
        c
    }

    fn in_server(&self, args: &[&str]) -> Command {
        Lan::command(self.server_side(), args)
    }

    fn in_peer(&self, args: &[&str]) -> Command {
        Lan::command(Lan::enter(self.peer, &["-n"]), args)
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.peer.to_string()).status();
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

#[test]
fn answers_on_a_lan_without_a_router_for_an_address_that_came_after_the_start() {
    for tool in ["dig", "unshare", "nsenter", "ip"] {
        if !require_tool(tool) {
            return;
        }
    }
    if !have_dkimpy() {
        return;
    }
    let Some(lan) = Lan::new() else { return };
    let name = format!("lan-{}", std::process::id());
    let mut s = Server::serve_via(mdns_data(&name), &lan.server_side());
    // The responder's first look at the interfaces: it joins the group on v0 (the kernel's
    // /proc/net/igmp lists 224.0.0.251 there), finds no address and waits to look again.
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let igmp = run_bounded(
            &mut lan.in_server(&["cat", "/proc/net/igmp"]),
            Duration::from_secs(10),
        );
        let igmp = String::from_utf8_lossy(&igmp.stdout).into_owned();
        if joined(&igmp, "v0") {
            break;
        }
        assert!(
            Instant::now() < end,
            "never joined on v0:\n{igmp}\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !s.log().contains("answering for"),
        "announced before v0 had an address:\n{}",
        s.log()
    );
    let added = run_bounded(
        &mut lan.in_server(&[
            "ip",
            "addr",
            "add",
            &format!("{LAN_SERVER}/24"),
            "dev",
            "v0",
        ]),
        Duration::from_secs(10),
    );
    assert!(added.status.success(), "{added:?}");

    // Legacy unicast from the peer, sent at once: the first tries arrive before the responder
    // has seen the address (it looks again every few seconds, then probes for at least 750 ms)
    // and go unanswered; a later one gets the address of the interface they came in on.
    let out = run_bounded(
        &mut lan.in_peer(&[
            "dig",
            "-p",
            "5353",
            &format!("@{LAN_SERVER}"),
            &format!("{name}.local"),
            "A",
            "+time=2",
            "+tries=10",
        ]),
        Duration::from_secs(40),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("status: NOERROR") && text.contains("flags: qr aa"),
        "{text}\nserver log:\n{}",
        tail(&s.log(), 20)
    );
    assert!(
        text.contains("timed out"),
        "answered before it had the address?\n{text}"
    );
    let fields = a_record(&text, &name);
    assert_eq!(fields[4], LAN_SERVER, "{fields:?}");
    assert!(fields[1].parse::<u32>().unwrap() <= 10, "{fields:?}");
    wait_for_log(&s, &format!("answering for {name}.local ({LAN_SERVER}"));

    // A peer on the group over the same link: the multicast answer carries the same address.
    let text = multicast_query(lan.in_peer(&["python3"]), &name, &s);
    assert!(
        text.lines().any(|l| l == format!("A {LAN_SERVER} 120 1")),
        "{text}"
    );
    assert!(text.contains("FROM 192.0.2.2"), "{text}");
    s.assert_alive();
    s.stop();
}

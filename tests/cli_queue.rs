//! The operator commands around outbound mail, against the real binary: `queue list|show|retry|
//! delete` on a running server's queue, `dns records` from a fresh data folder's keys, and
//! `check outbound` against an in-process DNS server and a fake mail server on loopback.

mod common;
use common::*;
use mailnook::dkim::KeyAlgorithm;
use mailnook::dns::testserver::{TestRecord, TestServer, Zone};
use mailnook::tls::dkim_keys;
use std::io::Write;
use std::net::{Ipv4Addr, TcpListener};
use std::process::{Command, Output};
use std::time::Duration;

/// Runs `mailnook ARGS --data DIR` with a deadline.
fn cli(data: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out: Output = run_bounded(
        mailnook()
            .args(args)
            .arg("--data")
            .arg(data)
            .env("MAILNOOK_LOG", "warn"),
        Duration::from_secs(60),
    );
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        !stderr.contains("panicked"),
        "mailnook {args:?} panicked: {stderr}"
    );
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

/// The TXT value of a zone-file line `NAME. TXT "..."` or `NAME. TXT ( "..." "..." )`, and its
/// character-strings.
fn txt_value(line: &str) -> (String, Vec<String>) {
    let rdata = line.split_once(" TXT ").expect("a TXT line").1;
    let rdata = rdata.trim();
    let inner = rdata
        .strip_prefix("( ")
        .and_then(|r| r.strip_suffix(" )"))
        .unwrap_or(rdata);
    let strings: Vec<String> = inner
        .split("\" \"")
        .map(|s| s.trim_matches('"').to_string())
        .collect();
    (strings.concat(), strings)
}

#[test]
fn dns_records_lists_what_to_publish_with_the_init_keys() {
    let d = DataDir::new(&[]);
    let (code, out, err) = cli(d.path(), &["dns", "records", "--ip", "192.0.2.7"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let has = |l: &str| lines.contains(&l);
    assert!(has("; example.test"), "{out}");
    assert!(has("example.test. MX 10 mx.example.test."), "{out}");
    assert!(has("example.test. TXT \"v=spf1 mx -all\""), "{out}");
    assert!(
        has(
            "_dmarc.example.test. TXT \"v=DMARC1; p=quarantine; adkim=s; aspf=s; rua=mailto:postmaster@example.test\""
        ),
        "{out}"
    );
    for (service, port) in [
        ("_submissions._tcp", 465),
        ("_submission._tcp", 587),
        ("_imaps._tcp", 993),
        ("_imap._tcp", 143),
        ("_pop3s._tcp", 995),
        ("_pop3._tcp", 110),
        ("_sieve._tcp", 4190),
    ] {
        let prefix = format!("{service}.example.test. SRV ");
        let suffix = format!(" 1 {port} mx.example.test.");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&prefix) && l.ends_with(&suffix)),
            "no SRV for {service}: {out}"
        );
    }
    assert!(has("mx.example.test. A 192.0.2.7"), "{out}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(';') && l.contains("PTR") && l.contains("192.0.2.7")),
        "{out}"
    );

    let dir = dkim_keys::dkim_dir(d.path());
    for (alg, name) in [
        (KeyAlgorithm::Rsa, "mailnook-rsa._domainkey.example.test."),
        (
            KeyAlgorithm::Ed25519,
            "mailnook-ed25519._domainkey.example.test.",
        ),
    ] {
        let key = dkim_keys::load(&dkim_keys::key_path(&dir, "mailnook", alg), alg).unwrap();
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("{name} TXT ")))
            .unwrap_or_else(|| panic!("no {name}: {out}"));
        let (value, strings) = txt_value(line);
        assert_eq!(value, key.dns_txt(), "{line}");
        assert!(strings.iter().all(|s| s.len() <= 255), "{line}");
        if alg == KeyAlgorithm::Rsa {
            assert!(value.len() > 255 && strings.len() >= 2, "{line}");
            assert!(
                line.contains(" TXT ( \"") && line.ends_with("\" )"),
                "{line}"
            );
        }
    }

    // Without the keys: a comment saying so, the other records, still success; nothing created.
    std::fs::remove_dir_all(&dir).unwrap();
    let (code, out, err) = cli(d.path(), &["dns", "records"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("; DKIM key") && l.contains("mailnook init")),
        "{out}"
    );
    assert!(!out.contains("_domainkey"), "{out}");
    assert!(
        out.contains("example.test. MX 10 mx.example.test."),
        "{out}"
    );
    assert!(!dir.exists(), "dns records must not create keys");
}

/// A fake mail server: accepts connections on loopback and greets each one.
fn fake_mx() -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        // One connection is all the check makes.
        if let Ok((mut s, _)) = l.accept() {
            let _ = s.write_all(b"220 fake ESMTP\r\n");
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 64];
            let _ = std::io::Read::read(&mut s, &mut buf);
        }
    });
    (addr, t)
}

#[test]
fn check_outbound_reports_reachable_and_blocked() {
    let dns = TestServer::start(
        Zone::new()
            .add("remote.test", TestRecord::Mx(10, "mx.remote.test".into()))
            .add("mx.remote.test", TestRecord::A(Ipv4Addr::LOCALHOST)),
    )
    .unwrap();
    let d = DataDir::new(&[]);
    d.cli_ok(&["config", "set", "dns.nameservers", &dns.addr().to_string()]);
    d.cli_ok(&["config", "set", "queue.connect_timeout_secs", "5"]);

    let (addr, server) = fake_mx();
    d.cli_ok(&[
        "config",
        "set",
        "queue.remote_port",
        &addr.port().to_string(),
    ]);
    let (code, out, err) = cli(d.path(), &["check", "outbound", "--domain", "remote.test"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out,
        format!(
            "outbound port {}: reachable (mx.remote.test [127.0.0.1] says: 220 fake ESMTP)\n",
            addr.port()
        )
    );
    server.join().unwrap();

    // A port nobody listens on.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    d.cli_ok(&["config", "set", "queue.remote_port", &closed.to_string()]);
    let (code, out, err) = cli(d.path(), &["check", "outbound", "--domain", "remote.test"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.starts_with(&format!(
            "outbound port {closed}: blocked or unreachable (mx.remote.test [127.0.0.1]: "
        )),
        "{out}"
    );
    assert!(
        out.contains("mailnook config set smarthost.host HOST"),
        "{out}"
    );
    assert!(out.contains("smarthost.port 587"), "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("mailnook: outbound port"), "{err}");

    // Refused input: not a host name.
    let (code, out, err) = cli(d.path(), &["check", "outbound", "--domain", "bad_name!"]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.contains("not a valid domain"), "{err}");
}

#[test]
fn check_outbound_checks_the_relay_when_one_is_set() {
    let dns = TestServer::start(
        Zone::new()
            .add("remote.test", TestRecord::Mx(10, "mx.remote.test".into()))
            .add("mx.remote.test", TestRecord::A(Ipv4Addr::LOCALHOST))
            .add("relay.test", TestRecord::A(Ipv4Addr::LOCALHOST)),
    )
    .unwrap();
    let d = DataDir::new(&[]);
    d.cli_ok(&["config", "set", "dns.nameservers", &dns.addr().to_string()]);
    d.cli_ok(&["config", "set", "queue.connect_timeout_secs", "5"]);
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    d.cli_ok(&["config", "set", "queue.remote_port", &closed.to_string()]);
    let (relay, server) = fake_mx();
    d.cli_ok(&["config", "set", "smarthost.host", "relay.test"]);
    d.cli_ok(&["config", "set", "smarthost.port", &relay.port().to_string()]);
    let (code, out, err) = cli(d.path(), &["check", "outbound", "--domain", "remote.test"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("blocked or unreachable"), "{out}");
    assert!(out.contains("goes through the relay relay.test"), "{out}");
    assert!(
        out.contains(&format!(
            "relay relay.test port {} (starttls): reachable (relay.test [127.0.0.1] says: 220 fake ESMTP)",
            relay.port()
        )),
        "{out}"
    );
    server.join().unwrap();
}

/// Submits a message from `user` to `rcpt` on the submission port (STARTTLS, AUTH PLAIN).
fn submit(s: &Server, user: &str, rcpt: &str, subject: &str) {
    let script = r#"
import smtplib, ssl, sys
port, user, password, rcpt, subject = sys.argv[1:6]
msg = f"From: {user}\r\nTo: {rcpt}\r\nSubject: {subject}\r\n\r\nhello\r\n"
with smtplib.SMTP("127.0.0.1", int(port), local_hostname="client.test", timeout=30) as c:
    c.starttls(context=ssl._create_unverified_context())
    c.ehlo("client.test")
    c.login(user, password)
    refused = c.sendmail(user, [rcpt], msg.encode())
    assert refused == {}, refused
"#;
    let out = run_bounded(
        Command::new("python3").arg("-c").arg(script).args([
            (s.port_base + 587).to_string(),
            user.to_string(),
            PASSWORD.to_string(),
            rcpt.to_string(),
            subject.to_string(),
        ]),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "submission failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        tail(&s.log(), 20)
    );
}

#[test]
fn queue_commands_on_a_running_server() {
    if !require_tool("python3") {
        return;
    }
    let data = DataDir::new(&["alice@example.test"]);
    // Nothing answers there: deliveries cannot even resolve, so the message stays queued.
    data.cli_ok(&["config", "set", "dns.nameservers", "127.0.0.1:9"]);
    let s = Server::serve(data);
    let dir = s.data.path();

    let (code, out, _) = cli(dir, &["queue", "list"]);
    assert_eq!((code, out.as_str()), (0, "queue is empty\n"));

    submit(&s, "alice@example.test", "far@remote.test", "queued hello");
    let (code, out, err) = cli(dir, &["queue", "list"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0], "ID\tAGE\tNEXT\tTRIES\tFROM\tPENDING\tLAST RESULT");
    let cols: Vec<&str> = lines[1].split('\t').collect();
    assert_eq!(cols.len(), 7, "{out}");
    let id = cols[0].to_string();
    assert!(u64::from_str_radix(&id, 16).is_ok(), "{out}");
    assert!(cols[1].ends_with('s') || cols[1].ends_with('m'), "{out}");
    assert!(cols[2] == "now" || cols[2].starts_with("in "), "{out}");
    assert_eq!(cols[4], "from=<alice@example.test>", "{out}");
    assert_eq!(cols[5], "1/1", "{out}");

    let (code, out, err) = cli(dir, &["queue", "show", &id]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with(&format!("id:        {id}\n")), "{out}");
    assert!(out.contains("from:      <alice@example.test>\n"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("  <far@remote.test>\tpending\t")),
        "{out}"
    );
    assert!(out.contains("\nSubject: queued hello\r\n"), "{out}");
    assert!(
        !out.lines().any(|l| l.trim_end() == "hello"),
        "body printed: {out}"
    );

    let (code, out, err) = cli(dir, &["queue", "retry", &id]);
    assert_eq!(
        (code, out.clone()),
        (0, format!("{id}: next attempt now\n")),
        "{err}"
    );
    let (code, out, err) = cli(dir, &["queue", "retry", "--all"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "1 queued message: next attempt now\n"),
        "{err}"
    );

    let (code, out, err) = cli(dir, &["queue", "show", "ffff"]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert_eq!(err, "mailnook: no such queued message: ffff\n");
    let (code, out, err) = cli(dir, &["queue", "show", "zz"]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.contains("`zz` is not a queue id"), "{err}");
    let (code, _, err) = cli(dir, &["queue", "retry", "ffff"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no such queued message: ffff"), "{err}");

    let (code, out, err) = cli(dir, &["queue", "delete", &id]);
    assert_eq!((code, out.clone()), (0, format!("deleted {id}\n")), "{err}");
    let (code, out, _) = cli(dir, &["queue", "list"]);
    assert_eq!((code, out.as_str()), (0, "queue is empty\n"));
    let (code, _, err) = cli(dir, &["queue", "delete", &id]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(err, format!("mailnook: no such queued message: {id}\n"));
    assert_eq!(cli(dir, &["check"]).1, "store ok\n");
}

#[test]
fn queue_commands_work_offline_too() {
    let d = DataDir::new(&[]);
    assert_eq!(
        cli(d.path(), &["queue", "list"]),
        (0, "queue is empty\n".to_string(), String::new())
    );
    assert_eq!(
        cli(d.path(), &["queue", "retry", "--all"]).1,
        "queue is empty\n"
    );
    let (code, _, err) = cli(d.path(), &["queue", "delete", "7"]);
    assert_eq!(code, 1);
    assert_eq!(err, "mailnook: no such queued message: 7\n");
    let (code, _, err) = cli(d.path(), &["queue", "retry"]);
    assert_eq!(code, 2);
    assert!(err.contains("incomplete"), "{err}");
}

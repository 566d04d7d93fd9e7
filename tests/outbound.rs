//! The outbound MTA end to end: two mailnook instances on loopback, each the other's remote MX
//! through the in-process DNS server (`mailnook::dns::testserver`), with the real stub resolver,
//! the real queue and real SMTP between them. Messages are submitted with Python's smtplib.
//!
//! A is `a.test` (users alice, carol), B is `b.test` (user bob). A's `queue.remote_port` points
//! at B's MX port, A's `dns.nameservers` at the test DNS server, and its retry delays are seconds.

mod common;

use common::*;
use mailnook::dns::testserver::{TestRecord, TestServer, Zone};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn zone() -> Zone {
    Zone::new()
        .add("a.test", TestRecord::Mx(10, "mx.a.test".into()))
        .add("mx.a.test", TestRecord::A(LOOPBACK))
        // Two exchangers: the preferred one has no address, so the walk must go on to the next.
        .add("b.test", TestRecord::Mx(5, "gone.b.test".into()))
        .add("b.test", TestRecord::Mx(10, "mx.b.test".into()))
        .add("mx.b.test", TestRecord::A(LOOPBACK))
        .add("null.test", TestRecord::Mx(0, ".".into()))
}

fn instance_b() -> DataDir {
    DataDir::for_domain("b.test", "mx.b.test", &["bob@b.test"])
}

fn instance_a(dns: &TestServer, b_port_base: u16) -> DataDir {
    let a = DataDir::for_domain("a.test", "mx.a.test", &["alice@a.test", "carol@a.test"]);
    for (k, v) in [
        ("dns.nameservers", dns.addr().to_string()),
        ("queue.remote_port", (b_port_base + 25).to_string()),
        ("queue.retry_base_secs", "1".to_string()),
        ("queue.retry_max_secs", "2".to_string()),
    ] {
        a.cli_ok(&["config", "set", k, &v]);
    }
    a
}

/// The DNS server, B, and A pointed at both.
fn pair() -> (TestServer, Server, Server) {
    let dns = TestServer::start(zone()).unwrap();
    let b = Server::serve(instance_b());
    let a = Server::serve(instance_a(&dns, b.port_base));
    (dns, b, a)
}

/// Submits `msg` as `user` over STARTTLS with AUTH (smtplib), to `rcpts`.
fn submit(s: &Server, user: &str, rcpts: &[&str], msg: &str) {
    const PY: &str = r#"
import smtplib, ssl, sys
host, port, user, pw, rcpts = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5].split(",")
msg = sys.stdin.buffer.read()
with smtplib.SMTP(host, port, timeout=30) as c:
    c.starttls(context=ssl._create_unverified_context())
    c.login(user, pw)
    refused = c.sendmail(user, rcpts, msg)
    assert not refused, refused
"#;
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(PY)
        .args([
            "127.0.0.1",
            &s.submission().port().to_string(),
            user,
            PASSWORD,
            &rcpts.join(","),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(msg.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "smtplib failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn message(from: &str, to: &str, subject: &str) -> String {
    format!("From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\n\r\nHello from {from}.\r\n")
}

/// Waits until `f` returns `Some`, or fails with `what` after `limit`.
/// The messages in a mailbox, read through the running server's control socket.
fn messages(d: &DataDir, user: &str, mailbox: &str) -> Vec<String> {
    d.uids(user, mailbox)
        .into_iter()
        .map(|uid| String::from_utf8_lossy(&d.show(user, mailbox, uid)).into_owned())
        .collect()
}

fn wait_message(d: &DataDir, user: &str, subject: &str) -> String {
    wait_for(Duration::from_secs(30), subject, || {
        messages(d, user, "INBOX")
            .into_iter()
            .find(|m| m.contains(&format!("Subject: {subject}")))
    })
}

/// DKIM results from dkimpy for `msg`, with A's published keys.
fn dkim_results(a: &Path, msg: &str) -> Vec<String> {
    let keys = mailnook::dkim::keys::ensure(&a.join("dkim"), "mailnook").expect("A's keys");
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records.txt");
    let lines: String = keys
        .dns_records("mailnook", "a.test")
        .iter()
        .map(|(n, v)| format!("{n}\t{v}\n"))
        .collect();
    std::fs::write(&records, lines).unwrap();
    let file = dir.path().join("m.eml");
    std::fs::write(&file, msg).unwrap();
    let out = Command::new("python3")
        .arg("-c")
        .arg(DKIM_VERIFY_PY)
        .arg(&records)
        .arg(&file)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn delivers_to_the_remote_mx_signed_and_to_local_users_directly() {
    if !have_dkimpy() {
        return;
    }
    let (_dns, b, a) = pair();
    submit(
        &a,
        "alice@a.test",
        &["bob@b.test", "carol@a.test"],
        &message(
            "Alice <alice@a.test>",
            "bob@b.test, carol@a.test",
            "over the wire",
        ),
    );
    // The local copy is there at once (same commit as the queue row).
    let local = messages(&a.data, "carol@a.test", "INBOX");
    assert_eq!(local.len(), 1, "carol's copy");
    assert!(
        local[0].starts_with("Return-Path: <alice@a.test>\r\nDKIM-Signature: "),
        "{}",
        local[0]
    );
    let got = wait_message(&b.data, "bob@b.test", "over the wire");
    // B's own trace on top, then what A sent: A's signatures and Received.
    assert!(got.starts_with("Return-Path: <alice@a.test>\r\n"), "{got}");
    assert_eq!(
        got.matches("Return-Path:").count(),
        1,
        "A's was not relayed: {got}"
    );
    assert!(got.contains("by mx.b.test (mailnook) with ESMTPS"), "{got}");
    assert!(got.contains("DKIM-Signature: v=1; a=rsa-sha256;"), "{got}");
    assert!(
        got.contains("DKIM-Signature: v=1; a=ed25519-sha256;"),
        "{got}"
    );
    assert!(got.contains("Message-ID: <"), "{got}");
    let results = dkim_results(a.data.path(), &got);
    assert_eq!(results.len(), 2, "{results:?}");
    for r in &results {
        assert!(r.contains("\tPASS"), "dkimpy: {results:?}");
    }
    // The delivery is logged with its TLS, and the self-signed certificate as unverified.
    let log = wait_for(Duration::from_secs(10), "delivery log", || {
        let l = a.log();
        l.contains("delivered id=").then_some(l)
    });
    assert!(log.contains("relay=mx.b.test [127.0.0.1]"), "{log}");
    assert!(log.contains("tls=TLS1."), "{log}");
    assert!(log.contains("certificate not verified"), "{log}");
}

#[test]
fn signed_mail_from_a_passes_dkim_spf_and_dmarc_at_b() {
    // A's keys exist from init, so the zone can publish them before anything starts.
    let ad = DataDir::for_domain("a.test", "mx.a.test", &["alice@a.test"]);
    let keys = mailnook::dkim::keys::ensure(&ad.path().join("dkim"), "mailnook").unwrap();
    let mut z = zone()
        .add(
            "a.test",
            TestRecord::Txt(vec!["v=spf1 ip4:127.0.0.1 -all".into()]),
        )
        .add(
            "_dmarc.a.test",
            TestRecord::Txt(vec!["v=DMARC1; p=reject".into()]),
        );
    for (name, value) in keys.dns_records("mailnook", "a.test") {
        let strings = value
            .as_bytes()
            .chunks(255)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect();
        z = z.add(&name, TestRecord::Txt(strings));
    }
    let dns = TestServer::start(z).unwrap();
    let bd = instance_b();
    bd.cli_ok(&["config", "set", "dns.nameservers", &dns.addr().to_string()]);
    bd.cli_ok(&["config", "set", "smtp.check_loopback", "1"]);
    let b = Server::serve(bd);
    for (k, v) in [
        ("dns.nameservers", dns.addr().to_string()),
        ("queue.remote_port", (b.port_base + 25).to_string()),
    ] {
        ad.cli_ok(&["config", "set", k, &v]);
    }
    let a = Server::serve(ad);
    submit(
        &a,
        "alice@a.test",
        &["bob@b.test"],
        &message("alice@a.test", "bob@b.test", "authenticated"),
    );
    let got = wait_message(&b.data, "bob@b.test", "authenticated").replace("\r\n ", " ");
    assert!(got.contains("Authentication-Results: mx.b.test;"), "{got}");
    assert!(got.contains("spf=pass smtp.mailfrom=alice@a.test"), "{got}");
    assert_eq!(got.matches("dkim=pass header.d=a.test").count(), 2, "{got}");
    assert!(got.contains("dmarc=pass header.from=a.test"), "{got}");
}

#[test]
fn retries_until_the_remote_server_comes_back() {
    let dns = TestServer::start(zone()).unwrap();
    let mut b = Server::serve(instance_b());
    let b_base = b.port_base;
    b.stop();
    let down = Down::hold(b_base);
    let a = Server::serve(instance_a(&dns, b_base));
    submit(
        &a,
        "alice@a.test",
        &["bob@b.test"],
        &message("alice@a.test", "bob@b.test", "patience"),
    );
    wait_for(Duration::from_secs(20), "a deferral", || {
        a.log().contains("deferred id=").then_some(())
    });
    let data = std::mem::replace(&mut b.data, DataDir::for_domain("x.test", "x.test", &[]));
    drop(down);
    let b = Server::serve_at(data, b_base);
    wait_message(&b.data, "bob@b.test", "patience");
    // No report for a message that arrived in the end.
    assert!(
        messages(&a.data, "alice@a.test", "INBOX").is_empty(),
        "unexpected report"
    );
}

#[test]
fn a_delayed_message_is_reported_once_then_bounced_at_the_age_limit() {
    let dns = TestServer::start(zone()).unwrap();
    let mut b = Server::serve(instance_b());
    let b_base = b.port_base;
    b.stop();
    let _down = Down::hold(b_base);
    let ad = instance_a(&dns, b_base);
    ad.cli_ok(&["config", "set", "queue.delay_warning_secs", "2"]);
    ad.cli_ok(&["config", "set", "queue.max_age_secs", "7"]);
    let a = Server::serve(ad);
    submit(
        &a,
        "alice@a.test",
        &["bob@b.test"],
        &message("alice@a.test", "bob@b.test", "slow boat"),
    );
    let reports = wait_for(Duration::from_secs(30), "the bounce", || {
        let all = messages(&a.data, "alice@a.test", "INBOX");
        all.iter()
            .any(|m| m.contains("Subject: Undelivered Mail"))
            .then_some(all)
    });
    let delays: Vec<&String> = reports
        .iter()
        .filter(|m| m.contains("Subject: Delayed Mail"))
        .collect();
    assert_eq!(delays.len(), 1, "one delay warning: {reports:?}");
    assert!(delays[0].contains("Action: delayed"), "{}", delays[0]);
    assert!(delays[0].contains("Will-Retry-Until: "), "{}", delays[0]);
    let bounce = reports
        .iter()
        .find(|m| m.contains("Subject: Undelivered Mail"))
        .unwrap();
    // RFC 3463 §3.5: delivery time expired.
    assert!(bounce.contains("Status: 5.4.7"), "{bounce}");
    assert!(
        bounce.contains("Final-Recipient: rfc822; bob@b.test"),
        "{bounce}"
    );
    assert_eq!(reports.len(), 2, "{reports:?}");
}

#[test]
fn permanent_failures_are_reported_to_the_sender() {
    let (_dns, b, a) = pair();
    submit(
        &a,
        "alice@a.test",
        &[
            "bob@b.test",
            "nobody@b.test",
            "x@null.test",
            "y@missing.test",
        ],
        &message("alice@a.test", "nobody@b.test", "into the void"),
    );
    // One report per attempt: the three failures may come in one or more reports.
    let reports = wait_for(Duration::from_secs(30), "three bounces", || {
        let all = messages(&a.data, "alice@a.test", "INBOX");
        let text = all.join("\n");
        (text.contains("nobody@b.test")
            && text.contains("x@null.test")
            && text.contains("y@missing.test"))
        .then_some(all)
    });
    let text = reports.join("\n");
    assert!(text.contains("Return-Path: <>\r\n"), "{text}");
    assert!(
        text.contains("Subject: Undelivered Mail Returned to Sender"),
        "{text}"
    );
    assert!(
        text.contains("report-type=delivery-status")
            || text.contains("report-type=\"delivery-status\""),
        "{text}"
    );
    assert!(text.contains("Auto-Submitted: auto-replied"), "{text}");
    assert!(
        text.contains("Final-Recipient: rfc822; nobody@b.test"),
        "{text}"
    );
    assert!(text.contains("Status: 5.1.1"), "{text}");
    assert!(text.contains("Remote-MTA: dns; mx.b.test"), "{text}");
    assert!(text.contains("Status: 5.1.10"), "null MX: {text}");
    assert!(text.contains("Status: 5.1.2"), "NXDOMAIN: {text}");
    assert!(text.contains("Action: failed"), "{text}");
    // The original header is quoted, not the body.
    assert!(text.contains("Subject: into the void"), "{text}");
    assert!(!text.contains("Hello from alice@a.test."), "{text}");
    // The one good recipient got it and is not in any report.
    wait_message(&b.data, "bob@b.test", "into the void");
    assert!(!text.contains("rfc822; bob@b.test"), "{text}");
}

/// A is set up to send everything through B's submission port (`implicit`: 465, else 587 with
/// STARTTLS), logging in as alice, who has an account at B too, as with a mail provider.
fn smarthost_run(implicit: bool) {
    let dns = TestServer::start(zone()).unwrap();
    let bd = instance_b();
    bd.cli_ok(&["domain", "add", "a.test"]);
    bd.cli_ok(&["user", "add", "alice@a.test", "--password", PASSWORD]);
    let b = Server::serve(bd);
    // Direct delivery would go to port 34, where nothing listens: only the relay can deliver.
    let ad = instance_a(&dns, 9);
    for (k, v) in [
        ("smarthost.host", "127.0.0.1".to_string()),
        (
            "smarthost.port",
            (b.port_base + if implicit { 465 } else { 587 }).to_string(),
        ),
        (
            "smarthost.tls",
            if implicit { "tls" } else { "starttls" }.to_string(),
        ),
        ("smarthost.tls_verify", "0".to_string()),
        ("smarthost.user", "alice@a.test".to_string()),
        ("smarthost.password", PASSWORD.to_string()),
    ] {
        ad.cli_ok(&["config", "set", k, &v]);
    }
    let shown = String::from_utf8(ad.cli_ok(&["config", "get", "smarthost.password"])).unwrap();
    assert_eq!(
        shown.trim(),
        "********",
        "the relay password is never shown"
    );
    let a = Server::serve(ad);
    submit(
        &a,
        "alice@a.test",
        &["bob@b.test"],
        &message("alice@a.test", "bob@b.test", "via the relay"),
    );
    let got = wait_message(&b.data, "bob@b.test", "via the relay");
    assert!(
        got.contains("with ESMTPSA"),
        "B saw an authenticated submission: {got}"
    );
    assert!(
        got.contains("DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=a.test;"),
        "{got}"
    );
    assert!(
        !a.log().contains(PASSWORD),
        "the relay password reached the log"
    );
}

#[test]
fn smarthost_carries_everything_with_auth() {
    smarthost_run(false);
}

#[test]
fn smarthost_over_implicit_tls() {
    smarthost_run(true);
}

#[test]
fn a_domain_without_mx_is_reached_at_its_address() {
    // RFC 5321 §5.1: no MX records, so the domain itself is the mail exchanger.
    let dns = TestServer::start(zone().add("bare.test", TestRecord::A(LOOPBACK))).unwrap();
    let bd = instance_b();
    bd.cli_ok(&["domain", "add", "bare.test"]);
    bd.cli_ok(&["user", "add", "dana@bare.test", "--password", PASSWORD]);
    let b = Server::serve(bd);
    let a = Server::serve(instance_a(&dns, b.port_base));
    submit(
        &a,
        "alice@a.test",
        &["dana@bare.test"],
        &message("alice@a.test", "dana@bare.test", "no mx"),
    );
    wait_message(&b.data, "dana@bare.test", "no mx");
    assert!(
        a.log().contains("relay=bare.test [127.0.0.1]"),
        "{}",
        a.log()
    );
}

#[test]
fn a_full_queue_survives_kill_9() {
    const N: usize = 8;
    let dns = TestServer::start(zone()).unwrap();
    let mut b = Server::serve(instance_b());
    let b_base = b.port_base;
    b.stop();
    let down = Down::hold(b_base);
    let mut a = Server::serve(instance_a(&dns, b_base));
    for i in 0..N {
        submit(
            &a,
            "alice@a.test",
            &["bob@b.test"],
            &message("alice@a.test", "bob@b.test", &format!("survivor {i}")),
        );
    }
    a.kill9();
    let b_data = std::mem::replace(&mut b.data, DataDir::for_domain("x.test", "x.test", &[]));
    drop(down);
    let b = Server::serve_at(b_data, b_base);
    let a_data = std::mem::replace(&mut a.data, DataDir::for_domain("y.test", "y.test", &[]));
    let _a = Server::serve(a_data);
    wait_for(Duration::from_secs(60), "every queued message", || {
        let all = messages(&b.data, "bob@b.test", "INBOX").join("\n");
        (0..N)
            .all(|i| all.contains(&format!("Subject: survivor {i}\r\n")))
            .then_some(())
    });
}

/// An alias on A forwards outside (to bob@b.test): the message leaves A with an SRS sender of
/// a.test, so B's SPF check (against the test DNS, loopback checked) passes although A is not
/// allowed to send for the original sender's domain; a bounce to that SRS address is accepted
/// by A and sent on to the original sender; a forged one is refused.
#[test]
fn an_alias_forwards_outside_with_srs_and_spf_passes() {
    let txt = |s: &str| TestRecord::Txt(vec![s.to_string()]);
    let dns = TestServer::start(
        zone()
            .add("a.test", txt("v=spf1 ip4:127.0.0.1 -all"))
            .add("sender.test", txt("v=spf1 ip4:192.0.2.1 -all")),
    )
    .unwrap();
    let b_data = instance_b();
    b_data.cli_ok(&["config", "set", "dns.nameservers", &dns.addr().to_string()]);
    b_data.cli_ok(&["config", "set", "smtp.check_loopback", "1"]);
    let b = Server::serve(b_data);
    let a = Server::serve(instance_a(&dns, b.port_base));
    a.data
        .cli_ok(&["alias", "add", "fwd@a.test", "bob@b.test", "carol@a.test"]);
    assert_eq!(
        String::from_utf8(a.data.cli_ok(&["alias", "list"])).unwrap(),
        "fwd@a.test\tbob@b.test, carol@a.test\n"
    );
    let msg =
        "From: x@sender.test\r\nTo: fwd@a.test\r\nSubject: forwarded\r\n\r\nHello via an alias.";
    assert!(
        a.deliver_to("x@sender.test", "fwd@a.test", msg)
            .starts_with("250")
    );
    // The local target has its copy at once; bob's arrives through the queue.
    assert_eq!(messages(&a.data, "carol@a.test", "INBOX").len(), 1);
    let got = wait_message(&b.data, "bob@b.test", "forwarded");
    let return_path = got.lines().next().unwrap_or("").trim_end();
    assert!(
        return_path.starts_with("Return-Path: <SRS0=")
            && return_path.ends_with("=sender.test=x@a.test>"),
        "{got}"
    );
    assert!(got.contains("spf=pass smtp.mailfrom=SRS0="), "{got}");
    // A bounce to the SRS address goes back to the original sender (whose domain has no mail
    // server here, so A's queue gives up on it; a null sender gets no report of that).
    let srs = return_path
        .trim_start_matches("Return-Path: <")
        .trim_end_matches('>')
        .to_string();
    let mut c = a.connect();
    assert!(c.cmd("EHLO mx.b.test").starts_with("250"));
    assert!(c.cmd("MAIL FROM:<>").starts_with("250"));
    let forged = srs.replacen("SRS0=", "SRS0=X", 1);
    assert!(c.cmd(&format!("RCPT TO:<{forged}>")).starts_with("550"));
    assert!(c.cmd(&format!("RCPT TO:<{srs}>")).starts_with("250"));
    assert!(c.cmd("DATA").starts_with("354"));
    assert!(
        c.cmd("Subject: Undelivered\r\n\r\nbounce\r\n.")
            .starts_with("250")
    );
    drop(c);
    wait_for(Duration::from_secs(20), "the bounce sent on", || {
        a.log().contains("to=<x@sender.test>").then_some(())
    });
}

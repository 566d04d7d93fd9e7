//! Sender authentication on the MX with the real binary and the real resolver against the
//! in-process DNS server: SPF, DMARC (reject at SMTP time, quarantine into Junk), one
//! Authentication-Results field of ours (with `iprev`), forged ones removed, others' kept.

mod common;

use common::*;
use mailnook::dns::testserver::{TestRecord, TestServer, Zone};

fn txt(s: &str) -> TestRecord {
    TestRecord::Txt(vec![s.to_string()])
}

fn zone() -> Zone {
    Zone::new()
        .add("good.test", txt("v=spf1 ip4:127.0.0.1 -all"))
        .add("_dmarc.good.test", txt("v=DMARC1; p=reject"))
        .add("bad.test", txt("v=spf1 -all"))
        .add("_dmarc.bad.test", txt("v=DMARC1; p=reject"))
        .add("quarantined.test", txt("v=spf1 -all"))
        .add("_dmarc.quarantined.test", txt("v=DMARC1; p=quarantine"))
        .add("nopolicy.test", txt("v=spf1 -all"))
        .add(
            "1.0.0.127.in-addr.arpa",
            TestRecord::Ptr("mail.sender.test".into()),
        )
        .add(
            "mail.sender.test",
            TestRecord::A(std::net::Ipv4Addr::LOCALHOST),
        )
}

fn server(dns: &TestServer) -> Server {
    let d = DataDir::new(&["alice@example.test"]);
    d.cli_ok(&["config", "set", "dns.nameservers", &dns.addr().to_string()]);
    d.cli_ok(&["config", "set", "smtp.check_loopback", "1"]);
    Server::serve(d)
}

/// Sends one message from `from` with `extra` header lines; returns the final reply.
fn send(s: &Server, from: &str, extra: &str, subject: &str) -> String {
    s.deliver_to_alice(
        from,
        &format!("From: {from}\r\n{extra}Subject: {subject}\r\n\r\nbody"),
    )
}

fn stored(s: &Server, mailbox: &str) -> Vec<String> {
    s.alices(mailbox)
}

#[test]
fn spf_and_dmarc_decide_and_are_recorded_once() {
    let dns = TestServer::start(zone()).unwrap();
    let s = server(&dns);
    let forged = "Authentication-Results: mx.example.test; spf=pass smtp.mailfrom=forged\r\n\
                  Authentication-Results: other.example; dkim=pass header.d=kept\r\n";
    let reply = send(&s, "x@good.test", forged, "good");
    assert!(reply.starts_with("250"), "{reply}");
    let m = stored(&s, "INBOX").pop().expect("delivered");
    let ours: Vec<&str> = m
        .lines()
        .filter(|l| l.starts_with("Authentication-Results: mx.example.test"))
        .collect();
    assert_eq!(ours.len(), 1, "{m}");
    assert!(
        !m.contains("smtp.mailfrom=forged"),
        "forged field kept: {m}"
    );
    assert!(m.contains("Authentication-Results: other.example;"), "{m}");
    let unfolded = m.replace("\r\n ", " ").replace("\r\n\t", " ");
    assert!(
        unfolded.contains("spf=pass smtp.mailfrom=x@good.test"),
        "{m}"
    );
    assert!(unfolded.contains("dmarc=pass header.from=good.test"), "{m}");
    assert!(
        unfolded.contains("iprev=pass policy.iprev=127.0.0.1"),
        "{m}"
    );
    // Ours sits above our Received line, under Return-Path.
    assert!(
        m.starts_with("Return-Path: <x@good.test>\r\nAuthentication-Results: mx.example.test;"),
        "{m}"
    );

    // DMARC p=reject with SPF failing and no signature: refused at SMTP time, nothing stored.
    let reply = send(&s, "y@bad.test", "", "bad");
    assert!(
        reply.starts_with("550 5.7.1 Message rejected by the DMARC policy of bad.test"),
        "{reply}"
    );
    // p=quarantine: delivered into Junk.
    let reply = send(&s, "z@quarantined.test", "", "quarantined");
    assert!(reply.starts_with("250"), "{reply}");
    let junk = stored(&s, "Junk");
    assert_eq!(junk.len(), 1);
    assert!(
        junk[0].replace("\r\n ", " ").contains("dmarc=fail"),
        "{}",
        junk[0]
    );
    // No DMARC record: SPF fails, the message is delivered and says so.
    assert!(send(&s, "w@nopolicy.test", "", "no policy").starts_with("250"));
    let inbox = stored(&s, "INBOX");
    assert_eq!(inbox.len(), 2);
    let last = inbox[1].replace("\r\n ", " ");
    assert!(
        last.contains("spf=fail") && last.contains("dmarc=none"),
        "{last}"
    );
    assert!(s.log().contains("dmarc=fail policy=reject domain=bad.test"));
}

#[test]
fn loopback_clients_are_not_checked_by_default() {
    let dns = TestServer::start(zone()).unwrap();
    let d = DataDir::new(&["alice@example.test"]);
    d.cli_ok(&["config", "set", "dns.nameservers", &dns.addr().to_string()]);
    let s = Server::serve(d);
    let forged = "Authentication-Results: mx.example.test; dmarc=pass\r\n";
    assert!(send(&s, "y@bad.test", forged, "local").starts_with("250"));
    let m = stored(&s, "INBOX").pop().unwrap();
    // Not checked, but a forged field of ours is still removed.
    assert!(!m.contains("Authentication-Results"), "{m}");
}

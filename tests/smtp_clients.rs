//! Real SMTP clients nobody here wrote (Python's smtplib, swaks, curl) against the real binary on
//! loopback; every message sent is stored byte-identical below the added trace headers.

mod common;
use common::*;
use std::process::Command;

fn python(script: &str, args: &[String]) -> std::process::Output {
    Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3")
}

#[test]
fn smtplib_delivers_over_starttls_byte_identical() {
    let s = Server::start(&["alice@example.test"]);
    let body = "From: Bob <bob@remote.test>\r\nTo: alice@example.test\r\nSubject: hi\r\n\r\nline one\r\n.leading dot\r\nlast\r\n";
    let script = r#"
import smtplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.check_hostname = False
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="client.test", timeout=30) as c:
    c.starttls(context=ctx)
    c.ehlo("client.test")
    refused = c.sendmail("bob@remote.test", ["alice@example.test"], sys.argv[3].encode())
    assert refused == {}, refused
"#;
    let out = python(
        script,
        &[
            s.mx().port().to_string(),
            s.cert().display().to_string(),
            body.to_string(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let uids = s.data.uids("alice@example.test", "INBOX");
    assert_eq!(uids, vec![1]);
    let stored = s.data.show("alice@example.test", "INBOX", 1);
    assert_eq!(strip_trace(&stored), body.as_bytes());
    let text = String::from_utf8_lossy(&stored);
    assert!(
        text.starts_with(
            "Return-Path: <bob@remote.test>\r\nReceived: from client.test ([127.0.0.1])"
        ),
        "{text}"
    );
    assert!(text.contains("with ESMTPS (TLS1."), "{text}");
}

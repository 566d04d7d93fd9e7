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

/// Runs a client program and asserts it succeeded; returns its combined output.
fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// Writes `bytes` to a file in the server's temp folder and returns its path.
fn message_file(s: &Server, name: &str, bytes: &[u8]) -> String {
    let path = s.data.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

/// The only message in `user`'s INBOX, which must be UID 1.
fn only_message(s: &Server, user: &str) -> Vec<u8> {
    assert_eq!(s.data.uids(user, "INBOX"), vec![1], "{user} INBOX");
    s.data.show(user, "INBOX", 1)
}

fn assert_received_with(stored: &[u8], with: &str) {
    let text = String::from_utf8_lossy(stored);
    let received = text
        .split("\r\nReceived: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no Received header:\n{text}"));
    assert!(
        received
            .starts_with("from client.test ([127.0.0.1])\r\n\tby mx.example.test (mailnook) with ")
            && received.contains(&format!(" with {with} ")),
        "expected `with {with}`:\n{text}"
    );
}

/// swaks sends the file as DATA, dot-stuffed, and ends the last line with CRLF itself.
const SWAKS_BODY: &[u8] =
    b"From: Bob <bob@remote.test>\r\nTo: alice@example.test\r\nSubject: swaks\r\n\r\nline one\r\n.leading dot\r\n..two dots\r\n.\r\nlast";

fn swaks(s: &Server, file: &str) -> Command {
    let mut c = Command::new("swaks");
    c.args(["--server", &s.mx().to_string(), "--helo", "client.test"])
        .args(["--from", "bob@remote.test", "--to", "alice@example.test"])
        .args(["--data", &format!("@{file}")]);
    c
}

#[test]
fn swaks_delivers_plain_byte_identical() {
    if !require_tool("swaks") {
        return;
    }
    let s = Server::start(&["alice@example.test"]);
    let file = message_file(&s, "swaks.eml", SWAKS_BODY);
    let out = run_ok(&mut swaks(&s, &file));
    assert!(out.contains("<-  250 2.1.0 Sender ok"), "{out}");
    let stored = only_message(&s, "alice@example.test");
    assert_eq!(strip_trace(&stored), [SWAKS_BODY, b"\r\n"].concat());
    assert_received_with(&stored, "ESMTP");
}

#[test]
fn swaks_delivers_over_starttls_with_verified_certificate() {
    if !require_tool("swaks") {
        return;
    }
    let s = Server::start(&["alice@example.test"]);
    let file = message_file(&s, "swaks.eml", SWAKS_BODY);
    let cert = s.cert().display().to_string();
    let out = run_ok(swaks(&s, &file).args(["--tls", "--tls-verify", "--tls-ca-path", &cert]));
    assert!(out.contains("=== TLS started with cipher TLSv1."), "{out}");
    // Inside TLS the capability list no longer offers STARTTLS.
    assert!(out.contains("<~  250 CHUNKING"), "{out}");
    let stored = only_message(&s, "alice@example.test");
    assert_eq!(strip_trace(&stored), [SWAKS_BODY, b"\r\n"].concat());
    assert_received_with(&stored, "ESMTPS");
}

#[test]
fn swaks_pipelines_mail_rcpt_data() {
    if !require_tool("swaks") {
        return;
    }
    let s = Server::start(&["alice@example.test"]);
    let file = message_file(&s, "swaks.eml", SWAKS_BODY);
    let out = run_ok(swaks(&s, &file).args(["--protocol", "ESMTP", "--pipeline"]));
    // Pipelined: all three commands leave before the first reply comes back, in order.
    let data = out.find(" -> DATA").expect("DATA sent");
    let mail_ok = out.find("<-  250 2.1.0 Sender ok").expect("MAIL answered");
    let rcpt_ok = out
        .find("<-  250 2.1.5 Recipient ok")
        .expect("RCPT answered");
    let go = out.find("<-  354 ").expect("DATA answered");
    assert!(data < mail_ok && mail_ok < rcpt_ok && rcpt_ok < go, "{out}");
    let stored = only_message(&s, "alice@example.test");
    assert_eq!(strip_trace(&stored), [SWAKS_BODY, b"\r\n"].concat());
}

/// curl uploads the file as it is (CRLF lines) and dot-stuffs it.
const CURL_BODY: &[u8] =
    b"From: bob@remote.test\r\nTo: alice@example.test, bob@example.test\r\nSubject: curl\r\n\r\n.dot line\r\n.\r\nlast line\r\n";

#[test]
fn curl_delivers_plain_to_two_recipients_byte_identical() {
    if !require_tool("curl") {
        return;
    }
    let s = Server::start(&["alice@example.test", "bob@example.test"]);
    let file = message_file(&s, "curl.eml", CURL_BODY);
    run_ok(Command::new("curl").arg("-sS").args([
        &format!("smtp://127.0.0.1:{}/client.test", s.mx().port()),
        "--mail-from",
        "bob@remote.test",
        "--mail-rcpt",
        "alice@example.test",
        "--mail-rcpt",
        "bob@example.test",
        "--upload-file",
        &file,
    ]));
    for user in ["alice@example.test", "bob@example.test"] {
        let stored = only_message(&s, user);
        assert_eq!(strip_trace(&stored), CURL_BODY, "{user}");
        assert_received_with(&stored, "ESMTP");
        // Two recipients: the Received header names neither (RFC 5321 §7.2).
        assert!(!String::from_utf8_lossy(&stored).contains("\tfor <"));
    }
}

#[test]
fn curl_delivers_over_starttls_with_verified_certificate() {
    if !require_tool("curl") {
        return;
    }
    let s = Server::start(&["alice@example.test"]);
    let file = message_file(&s, "curl.eml", CURL_BODY);
    let port = s.mx().port();
    // --resolve makes curl check the certificate against the server's host name.
    run_ok(Command::new("curl").arg("-sS").args([
        "--resolve",
        &format!("{HOSTNAME}:{port}:127.0.0.1"),
        &format!("smtp://{HOSTNAME}:{port}/client.test"),
        "--ssl-reqd",
        "--cacert",
        &s.cert().display().to_string(),
        "--mail-from",
        "bob@remote.test",
        "--mail-rcpt",
        "alice@example.test",
        "--upload-file",
        &file,
    ]));
    let stored = only_message(&s, "alice@example.test");
    assert_eq!(strip_trace(&stored), CURL_BODY);
    assert_received_with(&stored, "ESMTPS");
}

#[test]
fn smtplib_send_message_with_3mb_of_attachments_to_several_recipients() {
    let s = Server::start(&["alice@example.test", "bob@example.test"]);
    let expected = s.data.path().join("expected.eml");
    // The bytes send_message puts on the wire are what its generator writes (smtplib.py
    // send_message: BytesGenerator(...).flatten(msg, linesep="\r\n")); the script saves them.
    let script = r#"
import io, random, smtplib, sys
from email.generator import BytesGenerator
from email.message import EmailMessage
msg = EmailMessage()
msg["From"] = "Bob <bob@remote.test>"
msg["To"] = "alice@example.test, bob@example.test"
msg["Cc"] = "nobody@example.test"
msg["Subject"] = "three megabytes"
msg["Message-ID"] = "<big-1@remote.test>"
msg["Date"] = "Thu, 01 Jan 2026 00:00:00 +0000"
msg.set_content("Hello,\n.a line with a leading dot\n.\n" + "text line\n" * 2000)
rnd = random.Random(42)
msg.add_attachment(rnd.randbytes(2_200_000), maintype="application",
                   subtype="octet-stream", filename="random.bin")
msg.add_attachment("".join("row %d;.;\r\n" % i for i in range(20000)), filename="table.csv")
buf = io.BytesIO()
BytesGenerator(buf).flatten(msg, linesep="\r\n")
flat = buf.getvalue()
assert len(flat) > 3_000_000, len(flat)
open(sys.argv[2], "wb").write(flat)
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="client.test", timeout=60) as c:
    refused = c.send_message(msg, from_addr="bob@remote.test",
                             to_addrs=["alice@example.test", "bob@example.test", "nobody@example.test"])
assert refused == {"nobody@example.test": (550, b"5.1.1 No such user here")}, refused
"#;
    let out = python(
        script,
        &[s.mx().port().to_string(), expected.display().to_string()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = std::fs::read(&expected).unwrap();
    assert!(expected.ends_with(b"\r\n"));
    for user in ["alice@example.test", "bob@example.test"] {
        let stored = only_message(&s, user);
        assert!(
            strip_trace(&stored) == expected.as_slice(),
            "{user}: stored {} bytes, sent {}",
            strip_trace(&stored).len(),
            expected.len()
        );
    }
}

#[test]
fn python_bdat_chunks_deliver_byte_identical() {
    let s = Server::start(&["alice@example.test"]);
    // CHUNKING (RFC 3030) from a raw Python socket client, pipelined: chunk boundaries fall
    // inside a CRLF and just before a "." line, which BDAT carries without any stuffing.
    let script = r#"
import socket, sys
msg = (b"From: bob@remote.test\r\nSubject: bdat\r\n\r\n"
       b".leading dot, not stuffed\r\n.\r\nmiddle\r\n" + b"0123456789" * 5000 + b"\r\nend\r\n")
cut1 = msg.index(b"\r\n\r\n") + 1          # ends in CR, next chunk starts with LF
cut2 = msg.index(b".\r\nmiddle")           # next chunk starts with a lone-dot line
chunks = [msg[:cut1], msg[cut1:cut2], msg[cut2:]]
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
f = s.makefile("rb")
def reply():
    lines = []
    while True:
        line = f.readline()
        assert line.endswith(b"\r\n"), line
        lines.append(line)
        if line[3:4] == b" ":
            return lines
assert reply()[0].startswith(b"220 ")
s.sendall(b"EHLO client.test\r\n")
assert b"250-CHUNKING\r\n" in reply()
out = b"MAIL FROM:<bob@remote.test>\r\nRCPT TO:<alice@example.test>\r\n"
for i, c in enumerate(chunks):
    out += b"BDAT %d%s\r\n" % (len(c), b" LAST" if i == len(chunks) - 1 else b"") + c
s.sendall(out)
got = [reply() for _ in range(5)]
assert got[0] == [b"250 2.1.0 Sender ok\r\n"], got
assert got[1] == [b"250 2.1.5 Recipient ok\r\n"], got
assert got[2] == [b"250 2.0.0 %d octets received\r\n" % cut1], got
assert got[3] == [b"250 2.0.0 %d octets received\r\n" % cut2], got
assert got[4][0].startswith(b"250 2.0.0 Ok: queued as "), got
s.sendall(b"QUIT\r\n")
assert reply() == [b"221 2.0.0 Bye\r\n"]
sys.stdout.buffer.write(msg)
"#;
    let out = python(script, &[s.mx().port().to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stored = only_message(&s, "alice@example.test");
    assert!(out.stdout.len() > 50_000);
    assert!(
        strip_trace(&stored) == out.stdout.as_slice(),
        "BDAT message differs"
    );
    assert_received_with(&stored, "ESMTP");
}

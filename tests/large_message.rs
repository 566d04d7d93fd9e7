//! A 50 MB message streams through the server into the store: the server's peak memory stays far
//! below the message size, and the stored copy is byte-identical.

mod common;
use common::*;
use std::io::Write;

fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn fifty_megabyte_message_streams_without_buffering_it() {
    let s = Server::start(&["alice@example.test"]);
    let before = vm_hwm_kib(s.pid());
    // 50,000,000 bytes of 100-byte lines, some starting with a dot (stuffed on the wire).
    let mut body = Vec::with_capacity(50_000_100);
    body.extend_from_slice(
        b"From: bob@remote.test\r\nTo: alice@example.test\r\nSubject: big\r\n\r\n",
    );
    let mut i = 0u64;
    while body.len() < 50_000_000 {
        let lead = if i.is_multiple_of(50) { "." } else { "x" };
        let line = format!("{lead}{i:020} {}\r\n", "abcdefghij".repeat(7));
        body.extend_from_slice(line.as_bytes());
        i += 1;
    }
    let mut wire = Vec::with_capacity(body.len() + body.len() / 50);
    for line in body.split_inclusive(|&b| b == b'\n') {
        if line.first() == Some(&b'.') {
            wire.push(b'.');
        }
        wire.extend_from_slice(line);
    }
    wire.extend_from_slice(b".\r\n");

    let mut c = s.connect();
    assert!(c.cmd("EHLO client.test").starts_with("250-"));
    assert_eq!(
        c.cmd("MAIL FROM:<bob@remote.test> SIZE=50000000"),
        "250 2.1.0 Sender ok"
    );
    assert_eq!(
        c.cmd("RCPT TO:<alice@example.test>"),
        "250 2.1.5 Recipient ok"
    );
    assert_eq!(c.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>");
    c.stream.write_all(&wire).unwrap();
    let reply = c.reply();
    assert!(reply.starts_with("250 2.0.0 Ok: queued as "), "{reply}");
    let after = vm_hwm_kib(s.pid());
    eprintln!("server peak RSS: {before} KiB before, {after} KiB after a 50 MB message");
    // The store writes the message in 64 KiB chunks; the process may grow by its redb cache
    // (4 MiB) and buffers, never by anything near the message size.
    assert!(
        after - before < 16 * 1024,
        "peak RSS grew by {} KiB for a 50 MB message",
        after - before
    );
    assert!(after < 40 * 1024, "peak RSS {after} KiB");

    let stored = s.data.show("alice@example.test", "INBOX", 1);
    assert_eq!(strip_trace(&stored).len(), body.len());
    assert!(
        strip_trace(&stored) == body.as_slice(),
        "stored message differs from the one sent"
    );
    assert_eq!(
        String::from_utf8(s.data.cli_ok(&["check"])).unwrap().trim(),
        "store ok"
    );
}

//! A 50 MB message streams through the server into the store and back out over IMAP (FETCH,
//! SEARCH BODY): the server's peak memory stays far below the message size, and the stored and
//! fetched copies are byte-identical.

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
    // Sized as a 512 MB board (4 MiB store cache), whatever machine runs the test.
    let data = DataDir::new(&["alice@example.test"]);
    data.cli_ok(&["config", "set", "board.ram_mib", "512"]);
    let s = Server::serve(data);
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

    // Served over IMAP: SEARCH streams the text (a needle on the last line, one that is
    // nowhere), FETCH streams the literal; neither holds the message in server memory.
    let pem = std::fs::read(s.cert()).unwrap();
    let tls = native_tls::TlsConnector::builder()
        .add_root_certificate(native_tls::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let tcp = std::net::TcpStream::connect(s.imaps()).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(120)))
        .unwrap();
    let mut client = imap::Client::new(tls.connect(HOSTNAME, tcp).unwrap());
    client.read_greeting().unwrap();
    let mut imap = client
        .login("alice@example.test", PASSWORD)
        .map_err(|e| e.0)
        .unwrap();
    imap.select("INBOX").unwrap();
    // The login's argon2id hash (auth.argon2_memory_kib) has been through the heap by now; what
    // follows is only the serving of the message.
    let logged_in = vm_hwm_kib(s.pid());
    assert!(imap.uid_search("SUBJECT big").unwrap().len() == 1);
    let last = format!("{:020} ABCDEFGHIJ", i - 1);
    assert_eq!(
        imap.uid_search(format!("BODY \"{last}\"")).unwrap(),
        [1].into()
    );
    assert!(
        imap.uid_search("TEXT \"not in this message\"")
            .unwrap()
            .is_empty()
    );
    let fetched = imap.uid_fetch("1", "BODY.PEEK[]").unwrap();
    let fetched = fetched
        .iter()
        .next()
        .and_then(|f| f.body())
        .expect("BODY[]");
    assert!(
        fetched == stored.as_slice(),
        "fetched message differs from the stored one"
    );
    imap.logout().unwrap();
    let served = vm_hwm_kib(s.pid());
    eprintln!(
        "server peak RSS: {logged_in} KiB after the IMAP login, {served} KiB after SEARCH BODY \
         and FETCH BODY[] of it"
    );
    // Reading 50 MB through the store fills its page cache (store.cache_bytes) once.
    assert!(
        served - logged_in < 16 * 1024,
        "peak RSS grew by {} KiB serving a 50 MB message",
        served - logged_in
    );
}

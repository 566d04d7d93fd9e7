//! Process-level crash consistency (STYLE.md "Crash consistency of the store", 2): the real
//! binary is killed with SIGKILL while clients deliver over SMTP, restarted on the same data
//! folder, and what it stored is compared with what the clients were told. Also a clean
//! shutdown (SIGTERM) in the middle of DATA.
//!
//! A message that got a 250 must be stored, exactly once per recipient and byte-identical below
//! the trace headers. One that got no 250 may be stored (the commit landed, the reply did not),
//! but then whole and for all its recipients. UIDs never go back, and `mailnook check` is clean
//! after every restart.

mod common;
mod store_support;
use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ALICE: &str = "alice@example.test";
const BOB: &str = "bob@example.test";

/// An SMTP client that reports failures instead of panicking: the server dies under it.
struct Client {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

fn eof() -> std::io::Error {
    std::io::Error::from(ErrorKind::UnexpectedEof)
}

impl Client {
    fn connect(addr: SocketAddr) -> std::io::Result<Client> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        stream.set_write_timeout(Some(Duration::from_secs(20)))?;
        let reader = BufReader::new(stream.try_clone()?);
        let mut c = Client { stream, reader };
        let greeting = c.reply()?;
        if !greeting.starts_with("220 ") {
            return Err(std::io::Error::other(greeting));
        }
        Ok(c)
    }

    fn reply(&mut self) -> std::io::Result<String> {
        let mut all = Vec::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(eof());
            }
            let line = line.trim_end_matches(['\r', '\n']).to_string();
            let last = line.as_bytes().get(3) != Some(&b'-');
            all.push(line);
            if last {
                return Ok(all.join("\n"));
            }
        }
    }

    fn cmd(&mut self, line: &str) -> std::io::Result<String> {
        self.stream.write_all(format!("{line}\r\n").as_bytes())?;
        self.reply()
    }

    /// Runs one transaction up to the point where the data is sent; `expect` checks each reply.
    fn start(&mut self, rcpts: &[&str]) -> std::io::Result<()> {
        let expect = |r: String, code: &str| {
            if r.starts_with(code) {
                Ok(())
            } else {
                Err(std::io::Error::other(r))
            }
        };
        expect(self.cmd("MAIL FROM:<sender@client.test>")?, "250")?;
        for r in rcpts {
            expect(self.cmd(&format!("RCPT TO:<{r}>"))?, "250")?;
        }
        expect(self.cmd("DATA")?, "354")
    }
}

/// Dot-stuffs a CRLF-terminated message (RFC 5321 §4.5.2) and appends the end marker.
fn stuffed(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + 64);
    let mut at_line_start = true;
    for &b in msg {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// A message named `tag`, about `len` bytes, with some lines starting with a dot.
fn message(tag: &str, len: usize) -> Vec<u8> {
    let mut out = format!(
        "From: Sender <sender@client.test>\r\nTo: someone@example.test\r\nMessage-ID: <{tag}@client.test>\r\nSubject: {tag}\r\n\r\n"
    )
    .into_bytes();
    let mut x = tag.bytes().fold(0x9e37_79b9_7f4a_7c15u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut n = 0;
    while out.len() < len {
        let mut line = if n % 17 == 3 {
            format!(".{tag} {n} ")
        } else {
            format!("{tag} {n} ")
        };
        while line.len() < 72 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            line.push(char::from(b'a' + (x % 26) as u8));
        }
        line.push_str("\r\n");
        out.extend_from_slice(line.as_bytes());
        n += 1;
    }
    out
}

/// One message a client sent.
#[derive(Debug, Clone)]
struct Sent {
    body: Vec<u8>,
    rcpts: Vec<&'static str>,
    /// The reply to the end of data, if one arrived.
    reply: Option<String>,
}

impl Sent {
    fn acked(&self) -> bool {
        self.reply.as_deref().is_some_and(|r| r.starts_with("250"))
    }
}

type Log = Arc<Mutex<BTreeMap<String, Sent>>>;

/// Delivers messages on one connection until the server goes away or `stop` is set.
fn client_loop(addr: SocketAddr, name: String, log: Log, stop: Arc<AtomicBool>) {
    let Ok(mut c) = Client::connect(addr) else {
        return;
    };
    if !c
        .cmd("EHLO client.test")
        .is_ok_and(|r| r.starts_with("250"))
    {
        return;
    }
    for n in 0.. {
        if stop.load(Ordering::SeqCst) {
            let _ = c.cmd("QUIT");
            return;
        }
        let tag = format!("{name}-{n}");
        let (len, rcpts) = match n % 6 {
            0 => (200_000, vec![ALICE, BOB]),
            1 => (1_500, vec![ALICE]),
            2 => (4_000, vec![BOB]),
            3 => (210_000, vec![BOB]),
            4 => (900, vec![ALICE, BOB]),
            _ => (30_000, vec![ALICE]),
        };
        let body = message(&tag, len);
        if c.start(&rcpts).is_err() {
            return;
        }
        log.lock().unwrap().insert(
            tag.clone(),
            Sent {
                body: body.clone(),
                rcpts,
                reply: None,
            },
        );
        if c.stream.write_all(&stuffed(&body)).is_err() {
            return;
        }
        let Ok(reply) = c.reply() else { return };
        let ok = reply.starts_with("250");
        log.lock().unwrap().get_mut(&tag).unwrap().reply = Some(reply);
        if !ok {
            return;
        }
    }
}

/// `mail list` of a user's INBOX: UID → subject.
fn listing(data: &DataDir, user: &str) -> BTreeMap<u32, String> {
    let out = String::from_utf8(data.cli_ok(&["mail", "list", user, "INBOX"])).unwrap();
    out.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 6, "listing line {l:?}");
            (f[0].parse().expect("uid"), f[5].to_string())
        })
        .collect()
}

/// What is known to be stored: user → UID → tag.
type Stored = BTreeMap<&'static str, BTreeMap<u32, String>>;

/// Compares the data folder with everything the clients sent; `known` is what earlier checks
/// found and is extended. Returns how many stored copies were read in full.
fn verify(data: &DataDir, log: &BTreeMap<String, Sent>, known: &mut Stored, when: &str) -> usize {
    let mut read = 0;
    for user in [ALICE, BOB] {
        let now = listing(data, user);
        let before = known.entry(user).or_default();
        let max_before = before.keys().next_back().copied().unwrap_or(0);
        // Nothing stored earlier vanished or changed its UID.
        for (uid, tag) in before.iter() {
            assert_eq!(
                now.get(uid),
                Some(tag),
                "{when}: {user} UID {uid} ({tag}) is gone"
            );
        }
        for (uid, subject) in &now {
            if before.contains_key(uid) {
                continue;
            }
            assert!(
                *uid > max_before,
                "{when}: {user} got UID {uid}, not above the earlier {max_before}"
            );
            let sent = log
                .get(subject)
                .unwrap_or_else(|| panic!("{when}: {user} UID {uid} holds unknown {subject:?}"));
            assert!(
                sent.rcpts.contains(&user),
                "{when}: {subject} stored for {user}, who was not a recipient"
            );
            let stored = data.show(user, "INBOX", *uid);
            assert!(
                strip_trace(&stored) == sent.body.as_slice(),
                "{when}: {user} UID {uid} ({subject}) differs from what was sent ({} bytes stored below the trace, {} sent)",
                strip_trace(&stored).len(),
                sent.body.len()
            );
            before.insert(*uid, subject.clone());
            read += 1;
        }
        // No message twice.
        let mut seen = BTreeSet::new();
        for tag in before.values() {
            assert!(seen.insert(tag), "{when}: {tag} is stored twice for {user}");
        }
    }
    // Every acknowledged message is there for each recipient; any other is all or nothing.
    for (tag, sent) in log {
        let holders: Vec<&str> = sent
            .rcpts
            .iter()
            .copied()
            .filter(|u| known[u].values().any(|t| t == tag))
            .collect();
        if sent.acked() {
            assert_eq!(
                holders, sent.rcpts,
                "{when}: {tag} got {:?} but is stored only for {holders:?}",
                sent.reply
            );
        } else {
            assert!(
                holders.is_empty() || holders == sent.rcpts,
                "{when}: unacknowledged {tag} is stored for {holders:?} of {:?}",
                sent.rcpts
            );
        }
    }
    let out = String::from_utf8(data.cli_ok(&["check"])).unwrap();
    assert_eq!(out.trim(), "store ok", "{when}");
    read
}

fn seed() -> u64 {
    if let Ok(s) = std::env::var("MAILNOOK_KILL9_SEED") {
        return s.parse().expect("MAILNOOK_KILL9_SEED is a number");
    }
    let mut b = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .expect("urandom");
    u64::from_le_bytes(b)
}

/// Reads every table of a stopped server's store with a raw redb handle, on a copy so that the
/// server's own open still meets the file as the crash left it (redb recovers the copy, which
/// must then pass its integrity check).
fn raw_copy(data: &DataDir, when: &str) -> store_support::Raw {
    store_support::raw_file(&data.path().join("mail.redb"), when)
}

/// Moves the data folder out of a stopped server.
fn take_data(s: &mut Server) -> DataDir {
    std::mem::replace(
        &mut s.data,
        DataDir {
            dir: tempfile::tempdir().expect("tempdir"),
        },
    )
}

#[test]
fn kill9_never_loses_an_acknowledged_message() {
    const ROUNDS: usize = 8;
    const CLIENTS: usize = 2;
    let seed = seed();
    eprintln!("kill9: seed {seed} (set MAILNOOK_KILL9_SEED to repeat)");
    let mut rng = seed | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let started = Instant::now();
    let log: Log = Arc::default();
    let mut known = Stored::new();
    let mut server = Server::start(&[ALICE, BOB]);
    let mut copies_read = 0;
    // Chunks of uploads a kill interrupted, found on disk before the restart removed them.
    let mut orphaned = 0;
    for round in 0..ROUNDS {
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (addr, log, stop) = (server.mx(), log.clone(), stop.clone());
                std::thread::spawn(move || client_loop(addr, format!("r{round}c{c}"), log, stop))
            })
            .collect();
        // Kill at a random moment: sometimes early, mostly mid-stream.
        let delay = Duration::from_millis(50 + next() % 700);
        std::thread::sleep(delay);
        server.kill9();
        stop.store(true, Ordering::SeqCst);
        for c in clients {
            c.join().expect("client thread");
        }
        let data = take_data(&mut server);
        let when = format!("kill -9 #{round} at {delay:?}, before the restart");
        let raw = raw_copy(&data, &when);
        // What the last commit left: chunk rows only for bodies and for uploads marked unfinished.
        raw.assert_bodies_and_chunks(&when);
        orphaned += raw.upload_chunks();
        server = Server::serve(data);
        let log = log.lock().unwrap().clone();
        copies_read += verify(
            &server.data,
            &log,
            &mut known,
            &format!("after kill -9 #{round} at {delay:?}"),
        );
    }
    // A clean stop keeps everything too.
    let status = server.stop();
    assert!(status.success(), "exit status {status}");
    let data = take_data(&mut server);
    let log = log.lock().unwrap().clone();
    copies_read += verify(&data, &log, &mut known, "after the final SIGTERM");
    // `check` ran on the stopped store, whose open removed what interrupted uploads left.
    let raw = raw_copy(&data, "after the final SIGTERM");
    raw.assert_closed_consistent("after the final SIGTERM");
    assert_eq!(
        raw.messages.len(),
        known.values().map(BTreeMap::len).sum::<usize>()
    );
    let acked = log.values().filter(|s| s.acked()).count();
    let unacked_stored = log
        .iter()
        .filter(|(tag, s)| !s.acked() && known[s.rcpts[0]].values().any(|t| t == *tag))
        .count();
    eprintln!(
        "kill9: {ROUNDS} kills, {} messages sent, {acked} acknowledged and found, {unacked_stored} stored without a 250, {copies_read} stored copies compared byte for byte, {orphaned} chunks of interrupted uploads removed at restart, {:?}",
        log.len(),
        started.elapsed()
    );
    assert!(
        acked >= 2 * ROUNDS,
        "only {acked} messages were acknowledged: the rounds were too short to test anything"
    );
}

#[test]
fn sigterm_mid_data_stores_only_acknowledged_messages() {
    let mut server = Server::start(&[ALICE]);
    let mut done = Client::connect(server.mx()).expect("connect");
    assert!(done.cmd("EHLO client.test").unwrap().starts_with("250"));
    let first = [message("before-1", 2_000), message("before-2", 200_000)];
    for m in &first {
        done.start(&[ALICE]).expect("transaction");
        done.stream.write_all(&stuffed(m)).unwrap();
        let reply = done.reply().unwrap();
        assert!(reply.starts_with("250"), "{reply}");
    }
    // A second client is in the middle of a large message: several chunks already stored.
    let mut mid = Client::connect(server.mx()).expect("connect");
    assert!(mid.cmd("EHLO client.test").unwrap().starts_with("250"));
    mid.start(&[ALICE]).expect("transaction");
    let big = stuffed(&message("in-flight", 300_000));
    mid.stream.write_all(&big[..250_000]).unwrap();
    // Let the server take it in (a reply would mean it ended DATA early).
    mid.stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut probe = [0u8; 1];
    match mid.stream.peek(&mut probe) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("the server answered mid-DATA: {other:?}"),
    }
    mid.stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();

    let pid = server.pid();
    let t0 = Instant::now();
    let mut child = server.child.take().expect("running");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // The client mid-DATA is told to come back later, and never gets a 250.
    match mid.reply() {
        Ok(r) => assert!(r.starts_with("421"), "mid-DATA client got {r:?}"),
        Err(e) => panic!("connection ended without a 421: {e}"),
    }
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(12),
            "the server did not exit within its 10 s grace period"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = t0.elapsed();
    assert!(status.success(), "exit status {status}");
    // The rest of the data goes nowhere.
    let _ = mid.stream.write_all(&big[250_000..]);
    drop((mid, done));

    // Before anything reopens the store: only the stored messages' chunk rows are on disk, and
    // no upload is marked unfinished (the interrupted one was discarded before the exit).
    let data = take_data(&mut server);
    {
        let raw = raw_copy(&data, "after SIGTERM, before any reopen");
        assert!(
            raw.uploads.is_empty(),
            "the interrupted upload is still marked: {:?}",
            raw.uploads
        );
        raw.assert_closed_consistent("after SIGTERM, before any reopen");
        // before-2 is about 200 KB: three full chunks, and its tail inline.
        let want = first[1].len() / mailnook::store::CHUNK_BYTES;
        assert_eq!(want, 3);
        assert_eq!(raw.messages.len(), 2);
        let big = raw
            .messages
            .iter()
            .find_map(|((_, uid), body)| (*uid == 2).then_some(*body))
            .expect("before-2 is UID 2");
        assert_eq!(raw.bodies[&big].chunks as usize, want);
        assert_eq!(
            raw.chunks.keys().copied().collect::<Vec<_>>(),
            (0..want as u32).map(|s| (big, s)).collect::<Vec<_>>(),
            "chunks of the interrupted upload were left in the store"
        );
    }
    assert_eq!(data.uids(ALICE, "INBOX"), vec![1, 2]);
    for (uid, m) in [1, 2].into_iter().zip(&first) {
        assert!(strip_trace(&data.show(ALICE, "INBOX", uid)) == m.as_slice());
    }
    let out = String::from_utf8(data.cli_ok(&["check"])).unwrap();
    assert_eq!(out.trim(), "store ok");
    eprintln!("sigterm: exited 0 after {took:?}");
}

//! Process-level crash consistency (STYLE.md "Crash consistency of the store", 2): the real
//! binary is killed with SIGKILL at a random moment under mixed load, restarted on the same
//! data folder, and what it stored is compared with what the clients were told. Also a clean
//! shutdown (SIGTERM) in the middle of DATA.
//!
//! The load of each round, all at once: raw SMTP clients delivering to INBOX over the MX;
//! imaplib APPENDing to, changing flags in and expunging from one mailbox per user (the only
//! writer of that mailbox); smtplib submitting (STARTTLS, AUTH) to an outside domain whose
//! exchanger refuses connections, so the queue keeps attempting and deferring
//! (tests/kill9_clients/load.py prints when each command went out and when its OK came back).
//!
//! After every restart:
//! - a delivery that got a 250 is stored, exactly once per recipient and byte-identical below
//!   the trace headers; one that got no 250 may be stored (the commit landed, the reply did
//!   not), but then whole and for all its recipients;
//! - an APPEND that got its tagged OK is stored exactly once, byte-identical, at the UID its
//!   APPENDUID named; one without may be stored at most once, with the flags it was sent with;
//! - a message's flags are those of its last acknowledged STORE, or of the one in flight at the
//!   kill; an acknowledged expunge stays done, and an expunged UID never comes back;
//! - a submission that got a 250 is in the queue exactly once, one without at most once, and a
//!   queued message stays queued (its exchanger never answers);
//! - no mailbox holds a Message-ID twice; UIDVALIDITY never changes, UIDNEXT never goes back,
//!   and a new message's UID is at least the UIDNEXT seen before;
//! - `mailnook check` is clean, and before each restart the crash image's bodies, chunks and
//!   queue rows agree (reference counts, due index).
//!
//! `KILL9_ROUNDS` sets the number of kills (default 8; README "Crash torture" runs 200),
//! `KILL9_SEED` replays a run's printed seed.

mod common;
mod store_support;
use common::*;
use mailnook::dns::testserver::{TestRecord, TestServer, Zone};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const ALICE: &str = "alice@example.test";
const BOB: &str = "bob@example.test";
/// The mailbox each user's IMAP client works on (the MX delivers to INBOX).
const LOAD_BOX: &str = "Torture";
/// Where submissions go: its exchanger refuses connections, so the queue defers them.
const REMOTE: &str = "someone@remote.test";

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
    /// What was sent; emptied once a check after a restart has settled the message.
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

/// `mail list` of a user's mailbox: UID → (flags, subject).
fn flagged_listing(data: &DataDir, user: &str, mailbox: &str) -> BTreeMap<u32, (u8, String)> {
    let out = String::from_utf8(data.cli_ok(&["mail", "list", user, mailbox])).unwrap();
    out.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 6, "listing line {l:?}");
            (
                f[0].parse().expect("uid"),
                (flag_bits(f[3]), f[5].to_string()),
            )
        })
        .collect()
}

/// `mail list` of a user's INBOX: UID → subject.
fn listing(data: &DataDir, user: &str) -> BTreeMap<u32, String> {
    flagged_listing(data, user, "INBOX")
        .into_iter()
        .map(|(uid, (_, subject))| (uid, subject))
        .collect()
}

/// The system flags in the letters of `mailnook mail list` and tests/kill9_clients/load.py
/// (`S` \Seen, `A` \Answered, `F` \Flagged, `D` \Deleted, `T` \Draft; `-` for none), as bits.
const LETTERS: &str = "SAFDT";
const DELETED: u8 = 1 << 3;

fn flag_bits(letters: &str) -> u8 {
    letters
        .chars()
        .filter(|c| *c != '-')
        .map(|c| {
            1 << LETTERS
                .find(c)
                .unwrap_or_else(|| panic!("flag letter {c:?}"))
        })
        .fold(0, |a, b| a | b)
}

fn flag_letters(bits: u8) -> String {
    let s: String = LETTERS
        .chars()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, c)| c)
        .collect();
    if s.is_empty() { "-".into() } else { s }
}

/// What is known to be stored: user → UID → tag.
type Stored = BTreeMap<&'static str, BTreeMap<u32, String>>;

/// Compares the data folder with everything the clients sent; `known` is what earlier checks
/// found and is extended. With `uids` (the server is up), also each INBOX's UIDVALIDITY and
/// UIDNEXT against the last ones seen. Returns how many stored copies were read in full.
fn verify(
    data: &DataDir,
    log: &BTreeMap<String, Sent>,
    known: &mut Stored,
    pruned: &BTreeSet<(&'static str, u32)>,
    mut uids: Option<(&Status, &mut UidState)>,
    when: &str,
) -> usize {
    let mut read = 0;
    for user in [ALICE, BOB] {
        let now = listing(data, user);
        if let Some((status, state)) = uids.as_mut() {
            state.entry((user, "INBOX")).or_default().advance(
                status[&(user, "INBOX")],
                &now,
                when,
                user,
            );
        }
        let before = known.entry(user).or_default();
        let max_before = before.keys().next_back().copied().unwrap_or(0);
        // Nothing stored earlier vanished or changed its UID, and what the test expunged
        // stays expunged.
        for (uid, tag) in before.iter() {
            if pruned.contains(&(user, *uid)) {
                assert!(
                    !now.contains_key(uid),
                    "{when}: {user} UID {uid} ({tag}) is back after its acknowledged expunge"
                );
                continue;
            }
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
            assert!(
                !sent.body.is_empty(),
                "{when}: {user} UID {uid} holds {subject}, which an earlier check found stored"
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
    let held: BTreeMap<&str, BTreeSet<&String>> = known
        .iter()
        .map(|(user, stored)| (*user, stored.values().collect()))
        .collect();
    for (tag, sent) in log {
        let holders: Vec<&str> = sent
            .rcpts
            .iter()
            .copied()
            .filter(|u| held[u].contains(tag))
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

/// STATUS (UIDVALIDITY, UIDNEXT) of each user's INBOX and load mailbox.
type Status = BTreeMap<(&'static str, &'static str), (u32, u32)>;
/// What the last checks saw of each mailbox's UIDs.
type UidState = BTreeMap<(&'static str, &'static str), Uids>;

/// One mailbox's UIDs as the last check saw them.
#[derive(Debug, Default)]
struct Uids {
    validity: Option<u32>,
    next: u32,
    seen: BTreeSet<u32>,
}

impl Uids {
    /// Checks STATUS `(validity, next)` and the UIDs now in the mailbox against the last check
    /// (RFC 9051 §2.3.1.1: UIDVALIDITY stays, UIDs only go up and are never reused), and
    /// remembers them.
    fn advance<V>(
        &mut self,
        (validity, next): (u32, u32),
        now: &BTreeMap<u32, V>,
        when: &str,
        what: &str,
    ) {
        let v = *self.validity.get_or_insert(validity);
        assert_eq!(v, validity, "{when}: {what}: UIDVALIDITY changed");
        assert!(
            next >= self.next,
            "{when}: {what}: UIDNEXT went back from {} to {next}",
            self.next
        );
        if let Some(max) = now.keys().next_back() {
            assert!(
                *max < next,
                "{when}: {what}: UID {max} is not below UIDNEXT {next}"
            );
        }
        for uid in now.keys() {
            assert!(
                self.seen.contains(uid) || *uid >= self.next,
                "{when}: {what}: UID {uid} is new but below the earlier UIDNEXT {}",
                self.next
            );
        }
        self.next = next;
        self.seen = now.keys().copied().collect();
    }
}

/// The bytes tests/kill9_clients/load.py sends for `tag` (its `message`).
fn load_message(tag: &str, size: usize) -> Vec<u8> {
    let mut out = format!(
        "From: Load <load@client.test>\r\nTo: load@example.test\r\nMessage-ID: <{tag}@client.test>\r\nSubject: {tag}\r\n\r\n"
    );
    let mut n = 0;
    while out.len() < size {
        let c = char::from(b'a' + (n % 26) as u8);
        out.push_str(&format!("{tag} {n:06} {}\r\n", c.to_string().repeat(60)));
        n += 1;
    }
    out.into_bytes()
}

/// tests/kill9_clients/load.py against `server`.
fn load_py(server: &Server, args: &[&str]) -> Command {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kill9_clients/load.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script)
        .args(args)
        .env("CA", server.cert())
        .env("PASSWORD", PASSWORD)
        .env("IMAPS_PORT", server.imaps().port().to_string())
        .env("SUBMISSION_PORT", server.submission().port().to_string())
        .env("PYTHONDONTWRITEBYTECODE", "1");
    cmd
}

/// A load client running during a round; its event lines are collected as they come.
struct Py {
    child: Child,
    lines: JoinHandle<Vec<String>>,
    /// Its first event line came: it is logged in and its first command is going out.
    started: std::sync::mpsc::Receiver<()>,
    stderr: JoinHandle<String>,
}

impl Py {
    fn spawn(server: &Server, args: &[&str]) -> Py {
        let mut child = load_py(server, args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3");
        let out = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        let (started, started_rx) = std::sync::mpsc::channel();
        Py {
            child,
            lines: std::thread::spawn(move || {
                let mut lines = Vec::new();
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    if lines.is_empty() {
                        let _ = started.send(());
                    }
                    lines.push(line);
                }
                lines
            }),
            started: started_rx,
            stderr: std::thread::spawn(move || {
                let mut s = String::new();
                let _ = err.read_to_string(&mut s);
                s
            }),
        }
    }

    /// Waits until the client's first event line (or `until`).
    fn wait_started(&self, until: Instant) {
        let _ = self
            .started
            .recv_timeout(until.saturating_duration_since(Instant::now()));
    }

    /// Waits for the client to notice the server is gone; returns its event lines, which must
    /// end with its `end` line.
    fn finish(mut self, what: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("{what}: the load client still runs 30 s after the kill");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let lines = self.lines.join().unwrap();
        let err = self.stderr.join().unwrap();
        assert!(
            status.success() && lines.last().is_some_and(|l| l.starts_with("end ")),
            "{what}: load client failed ({status}):\n{}\n{err}",
            lines.join("\n")
        );
        lines
    }
}

/// STATUS of each user's INBOX and load mailbox, through imaplib.
fn status(server: &Server) -> Status {
    let mut out = Status::new();
    for user in [ALICE, BOB] {
        let run = run_bounded(
            &mut load_py(server, &["status", user, "INBOX", LOAD_BOX]),
            Duration::from_secs(60),
        );
        let text = String::from_utf8_lossy(&run.stdout);
        assert!(
            run.status.success(),
            "status: {text}{}",
            String::from_utf8_lossy(&run.stderr)
        );
        for line in text.lines() {
            let w: Vec<&str> = line.split(' ').collect();
            let mailbox = match w[2] {
                "INBOX" => "INBOX",
                _ => LOAD_BOX,
            };
            out.insert(
                (user, mailbox),
                (w[3].parse().unwrap(), w[4].parse().unwrap()),
            );
        }
    }
    out
}

/// Whether a message is gone by an expunge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gone {
    No,
    /// Its expunge was sent and not acknowledged.
    InFlight,
    /// Its expunge got its tagged OK.
    Yes,
}

/// A message of the load mailbox the model knows to be stored.
#[derive(Debug)]
struct Item {
    tag: String,
    size: usize,
    /// Its flags after the last acknowledged change.
    flags: u8,
    /// Its flags if the change in flight at the kill landed.
    maybe: Option<u8>,
    gone: Gone,
    /// Whether its bytes were compared with what was sent.
    compared: bool,
}

/// An APPEND sent without its tagged OK yet.
#[derive(Debug)]
struct Pending {
    size: usize,
    flags: u8,
}

/// Counts of what the load did and the checks found.
#[derive(Debug, Default)]
struct Totals {
    appends_acked: usize,
    appends_unacked_stored: usize,
    stores_acked: usize,
    stores_unacked_landed: usize,
    expunges_acked: usize,
    submissions_acked: usize,
    submissions_unacked_queued: usize,
    copies_read: usize,
    /// Messages the test expunged between rounds to keep the store small.
    pruned: usize,
    /// Queued messages the test deleted between rounds.
    queue_deleted: usize,
}

/// The exact expected state of one user's load mailbox (its IMAP client is its only writer).
struct LoadBox {
    user: &'static str,
    items: BTreeMap<u32, Item>,
    pending: BTreeMap<String, Pending>,
    /// UIDs expunged for good, and what they held.
    expunged: BTreeMap<u32, String>,
    uids: Uids,
}

impl LoadBox {
    fn new(user: &'static str) -> LoadBox {
        LoadBox {
            user,
            items: BTreeMap::new(),
            pending: BTreeMap::new(),
            expunged: BTreeMap::new(),
            uids: Uids::default(),
        }
    }

    fn item(&mut self, uid: &str) -> &mut Item {
        let uid: u32 = uid.parse().expect("uid");
        self.items
            .get_mut(&uid)
            .unwrap_or_else(|| panic!("{}: the client used UID {uid}, unknown here", self.user))
    }

    /// Takes in one round's events of the IMAP client, in order.
    fn apply(&mut self, lines: &[String], totals: &mut Totals) {
        for line in lines {
            let w: Vec<&str> = line.split(' ').collect();
            match w[..] {
                ["append-begin", tag, size, flags] => {
                    let p = Pending {
                        size: size.parse().unwrap(),
                        flags: flag_bits(flags),
                    };
                    self.pending.insert(tag.to_string(), p);
                }
                ["append-ok", tag, uid] => {
                    let p = self.pending.remove(tag).expect("append-ok after its begin");
                    let uid: u32 = uid.parse().unwrap();
                    assert!(
                        uid >= self.uids.next && !self.items.contains_key(&uid),
                        "{}: APPENDUID {uid} for {tag} reuses a UID (UIDNEXT was {})",
                        self.user,
                        self.uids.next
                    );
                    let item = Item {
                        tag: tag.to_string(),
                        size: p.size,
                        flags: p.flags,
                        maybe: None,
                        gone: Gone::No,
                        compared: false,
                    };
                    self.items.insert(uid, item);
                    totals.appends_acked += 1;
                }
                ["store-begin", uid, sign, flags] => {
                    let f = flag_bits(flags);
                    let it = self.item(uid);
                    it.maybe = Some(if sign == "+" {
                        it.flags | f
                    } else {
                        it.flags & !f
                    });
                }
                ["store-ok", uid] => {
                    let it = self.item(uid);
                    it.flags = it.maybe.take().expect("store-ok after its begin");
                    totals.stores_acked += 1;
                }
                ["xuid-begin", uid] => self.item(uid).gone = Gone::InFlight,
                ["xuid-ok", uid] => {
                    self.item(uid).gone = Gone::Yes;
                    totals.expunges_acked += 1;
                }
                // EXPUNGE takes every message flagged \Deleted: the client changes nothing else
                // meanwhile, so the model's flags are exact here.
                ["xall-begin"] => {
                    for it in self.items.values_mut() {
                        if it.gone == Gone::No && it.flags & DELETED != 0 {
                            it.gone = Gone::InFlight;
                        }
                    }
                }
                ["xall-ok"] => {
                    for it in self.items.values_mut() {
                        if it.gone == Gone::InFlight {
                            it.gone = Gone::Yes;
                            totals.expunges_acked += 1;
                        }
                    }
                }
                ["end", ..] => {}
                _ => panic!("{}: load client said {line:?}", self.user),
            }
        }
    }

    /// Compares the mailbox as stored (`mail list`) with the model, then makes the model what
    /// was found: the outcome of whatever was in flight at the kill is known from here on.
    fn verify(
        &mut self,
        data: &DataDir,
        status: Option<(u32, u32)>,
        totals: &mut Totals,
        when: &str,
    ) {
        let user = self.user;
        let now = flagged_listing(data, user, LOAD_BOX);
        let mut tags = BTreeSet::new();
        for (uid, (_, subject)) in &now {
            assert!(
                tags.insert(subject),
                "{when}: {user} {LOAD_BOX} holds {subject} twice (UID {uid} and another)"
            );
            if let Some(tag) = self.expunged.get(uid) {
                panic!(
                    "{when}: {user} {LOAD_BOX}: expunged UID {uid} ({tag}) is back, holding {subject}"
                );
            }
        }
        let compare = |uid: u32, tag: &str, size: usize| {
            let stored = data.show(user, LOAD_BOX, uid);
            assert!(
                stored == load_message(tag, size),
                "{when}: {user} {LOAD_BOX} UID {uid} ({tag}) differs from what was appended ({} bytes stored, {size} sent)",
                stored.len()
            );
        };
        let mut expunged = Vec::new();
        for (uid, it) in self.items.iter_mut() {
            let tag = &it.tag;
            match (now.get(uid), it.gone) {
                (Some(_), Gone::Yes) => {
                    panic!(
                        "{when}: {user} {LOAD_BOX}: UID {uid} ({tag}) is back after its acknowledged expunge"
                    )
                }
                (None, Gone::Yes | Gone::InFlight) => expunged.push(*uid),
                (None, Gone::No) => panic!("{when}: {user} {LOAD_BOX}: UID {uid} ({tag}) is gone"),
                (Some((flags, subject)), _) => {
                    assert_eq!(subject, tag, "{when}: {user} {LOAD_BOX} UID {uid}");
                    assert!(
                        *flags == it.flags || it.maybe == Some(*flags),
                        "{when}: {user} {LOAD_BOX} UID {uid} ({tag}) has flags {}, not the acknowledged {}{}",
                        flag_letters(*flags),
                        flag_letters(it.flags),
                        it.maybe
                            .map(|m| format!(" or the in-flight {}", flag_letters(m)))
                            .unwrap_or_default()
                    );
                    if it.maybe.is_some() && *flags != it.flags {
                        totals.stores_unacked_landed += 1;
                    }
                    it.flags = *flags;
                    it.maybe = None;
                    it.gone = Gone::No;
                    if !it.compared {
                        compare(*uid, tag, it.size);
                        it.compared = true;
                        totals.copies_read += 1;
                    }
                }
            }
        }
        for uid in expunged {
            let it = self.items.remove(&uid).unwrap();
            self.expunged.insert(uid, it.tag);
        }
        // Anything else is an APPEND whose commit landed without its OK: whole, once, with the
        // flags it was sent with, at a UID never used before.
        for (uid, (flags, subject)) in &now {
            if self.items.contains_key(uid) {
                continue;
            }
            let p = self.pending.remove(subject).unwrap_or_else(|| {
                panic!("{when}: {user} {LOAD_BOX} UID {uid} holds {subject:?}, which no APPEND in flight sent")
            });
            assert!(
                *uid >= self.uids.next,
                "{when}: {user} {LOAD_BOX}: {subject} got UID {uid}, below the earlier UIDNEXT {}",
                self.uids.next
            );
            assert_eq!(
                flag_letters(*flags),
                flag_letters(p.flags),
                "{when}: flags of unacknowledged {subject}"
            );
            compare(*uid, subject, p.size);
            totals.copies_read += 1;
            totals.appends_unacked_stored += 1;
            let item = Item {
                tag: subject.clone(),
                size: p.size,
                flags: p.flags,
                maybe: None,
                gone: Gone::No,
                compared: true,
            };
            self.items.insert(*uid, item);
        }
        // The other APPENDs in flight never landed: their tags are unknown from here on.
        self.pending.clear();
        if let Some(status) = status {
            self.uids
                .advance(status, &now, when, &format!("{user} {LOAD_BOX}"));
        }
    }
}

impl LoadBox {
    /// Past [`PRUNE_AT`] messages, expunges all but the newest [`PRUNE_KEEP`]; they count as
    /// expunged with an acknowledgement from here on.
    fn prune(&mut self, server: &Server, totals: &mut Totals) {
        if self.items.len() <= PRUNE_AT {
            return;
        }
        let uids: Vec<u32> = self.items.keys().copied().collect();
        let uids = &uids[..uids.len() - PRUNE_KEEP];
        prune(server, self.user, LOAD_BOX, uids);
        for uid in uids {
            self.items.get_mut(uid).unwrap().gone = Gone::Yes;
        }
        totals.pruned += uids.len();
    }
}

/// The expected state of the outbound queue.
#[derive(Default)]
struct Queue {
    /// Submitted tag → whether it got its 250 (tags found neither queued nor acknowledged are
    /// dropped: they may never appear later).
    sent: BTreeMap<String, bool>,
    /// Queue id → the tag it holds.
    ids: BTreeMap<String, String>,
    /// Delivery attempts of each queued message, as `queue list` counts them.
    tries: BTreeMap<String, u64>,
    /// Delivery attempts of the messages deleted between rounds.
    tries_deleted: u64,
}

impl Queue {
    fn apply(&mut self, lines: &[String], totals: &mut Totals) {
        for line in lines {
            let w: Vec<&str> = line.split(' ').collect();
            match w[..] {
                ["submit-begin", tag] => {
                    self.sent.insert(tag.to_string(), false);
                }
                ["submit-ok", tag] => {
                    *self.sent.get_mut(tag).expect("submit-ok after its begin") = true;
                    totals.submissions_acked += 1;
                }
                ["end", ..] => {}
                _ => panic!("submission client said {line:?}"),
            }
        }
    }

    fn verify(&mut self, data: &DataDir, totals: &mut Totals, when: &str) {
        let out = String::from_utf8(data.cli_ok(&["queue", "list"])).unwrap();
        let mut now = BTreeMap::new();
        if out.trim() != "queue is empty" {
            for l in out.lines().skip(1) {
                let f: Vec<&str> = l.split('\t').collect();
                assert!(f.len() >= 7, "queue list line {l:?}");
                now.insert(f[0].to_string(), f[3].parse::<u64>().expect("tries"));
            }
        }
        for (id, tag) in &self.ids {
            assert!(
                now.contains_key(id),
                "{when}: queued {tag} ({id}) left the queue, though its exchanger never answers"
            );
        }
        for id in now.keys() {
            if self.ids.contains_key(id) {
                continue;
            }
            let show = String::from_utf8(data.cli_ok(&["queue", "show", id])).unwrap();
            let tag = show
                .lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .unwrap_or_else(|| panic!("{when}: queued {id} has no subject:\n{show}"))
                .to_string();
            let acked = *self.sent.get(&tag).unwrap_or_else(|| {
                panic!("{when}: queued {id} holds {tag:?}, which no submission in flight sent")
            });
            assert!(
                !self.ids.values().any(|t| *t == tag),
                "{when}: {tag} is queued twice"
            );
            if !acked {
                totals.submissions_unacked_queued += 1;
            }
            self.ids.insert(id.clone(), tag);
        }
        let queued: BTreeSet<&String> = self.ids.values().collect();
        for (tag, acked) in &self.sent {
            assert!(
                !acked || queued.contains(tag),
                "{when}: {tag} got a 250 at submission but is not queued"
            );
        }
        self.sent.retain(|tag, _| queued.contains(tag));
        self.tries = now;
    }
}

/// Past this many messages in a mailbox, or messages queued, the test removes the ones it has
/// verified between two rounds (expunged over IMAP, deleted with `queue delete`), so that a
/// long run keeps its store, and the time each crash image takes to check, small.
const PRUNE_AT: usize = 150;
/// Messages of a load mailbox that pruning leaves for the next round's flag changes and
/// expunges.
const PRUNE_KEEP: usize = 40;

/// Expunges `uids` from `user`'s `mailbox` over IMAP (tagged OKs checked by the script).
fn prune(server: &Server, user: &str, mailbox: &str, uids: &[u32]) {
    let mut args = vec!["prune".to_string(), user.to_string(), mailbox.to_string()];
    args.extend(uids.iter().map(u32::to_string));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_bounded(&mut load_py(server, &args), Duration::from_secs(120));
    assert!(
        out.status.success(),
        "prune {user} {mailbox}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Queue {
    /// Past [`PRUNE_AT`] queued messages, deletes the ones verified (`queue delete`); their
    /// tags are then unknown, so one that came back would fail the next check.
    fn prune(&mut self, data: &DataDir, totals: &mut Totals) {
        if self.ids.len() <= PRUNE_AT {
            return;
        }
        for (id, tag) in std::mem::take(&mut self.ids) {
            data.cli_ok(&["queue", "delete", &id]);
            self.sent.remove(&tag);
            self.tries_deleted += self.tries.remove(&id).unwrap_or(0);
            totals.queue_deleted += 1;
        }
    }

    /// Delivery attempts counted so far.
    fn attempts(&self) -> u64 {
        self.tries_deleted + self.tries.values().sum::<u64>()
    }
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name)
        .ok()
        .map(|s| s.parse().unwrap_or_else(|_| panic!("{name} is a number")))
}

fn seed() -> u64 {
    if let Some(s) = env_number("KILL9_SEED").or_else(|| env_number("MAILNOOK_KILL9_SEED")) {
        return s;
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

/// A data folder whose submissions to `remote.test` are deferred for ever: the test DNS server
/// names 127.0.0.1 as its exchanger, on a port nothing listens on, and the queue retries within
/// seconds.
fn torture_data(dns: &TestServer) -> DataDir {
    let closed = TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let data = DataDir::new(&[ALICE, BOB]);
    for (k, v) in [
        ("dns.nameservers", dns.addr().to_string()),
        ("queue.remote_port", closed.to_string()),
        ("queue.retry_base_secs", "1".to_string()),
        ("queue.retry_max_secs", "30".to_string()),
    ] {
        data.cli_ok(&["config", "set", k, &v]);
    }
    data
}

#[test]
fn kill9_never_loses_an_acknowledged_message() {
    const CLIENTS: usize = 2;
    if !require_tool("python3") {
        return;
    }
    let rounds = env_number("KILL9_ROUNDS").unwrap_or(8) as usize;
    let seed = seed();
    eprintln!("kill9: seed {seed} (set KILL9_SEED to repeat), {rounds} rounds (KILL9_ROUNDS)");
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
    let dns = TestServer::start(
        Zone::new()
            .add("remote.test", TestRecord::Mx(10, "mx.remote.test".into()))
            .add("mx.remote.test", TestRecord::A(Ipv4Addr::LOCALHOST)),
    )
    .expect("test DNS server");
    let mut server = Server::serve(torture_data(&dns));
    for user in [ALICE, BOB] {
        let out = run_bounded(
            &mut load_py(&server, &["create", user, LOAD_BOX]),
            Duration::from_secs(60),
        );
        assert!(out.status.success(), "create: {out:?}");
    }
    let mut boxes = [LoadBox::new(ALICE), LoadBox::new(BOB)];
    let mut queue = Queue::default();
    let mut uid_state = UidState::new();
    let mut totals = Totals::default();
    // INBOX messages the test expunged between rounds.
    let mut pruned = BTreeSet::new();
    // Chunks of uploads a kill interrupted, found on disk before the restart removed them.
    let mut orphaned = 0;
    for round in 0..rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (addr, log, stop) = (server.mx(), log.clone(), stop.clone());
                std::thread::spawn(move || client_loop(addr, format!("r{round}c{c}"), log, stop))
            })
            .collect();
        let imap: Vec<Py> = boxes
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let (seed, prefix) = (next().to_string(), format!("r{round}i{i}"));
                Py::spawn(&server, &["imap", b.user, LOAD_BOX, &seed, &prefix])
            })
            .collect();
        let (seed, prefix) = (next().to_string(), format!("r{round}s"));
        let submit = Py::spawn(&server, &["submit", ALICE, REMOTE, &seed, &prefix]);
        // Kill at a random moment: in one round of four counted from the clients' start, so
        // sometimes before they are in; otherwise counted from when every load client is in
        // (its first command going out), so that on a loaded machine, where Python's start and
        // the TLS handshakes take long, the kill still comes mid-stream.
        let r = next();
        let delay = Duration::from_millis(100 + r % 1200);
        if (r / 1200) % 4 != 0 {
            let until = Instant::now() + Duration::from_secs(30);
            for py in imap.iter().chain([&submit]) {
                py.wait_started(until);
            }
        }
        std::thread::sleep(delay);
        server.kill9();
        let killed = Instant::now();
        stop.store(true, Ordering::SeqCst);
        for c in clients {
            c.join().expect("client thread");
        }
        for (b, py) in boxes.iter_mut().zip(imap) {
            b.apply(
                &py.finish(&format!("round {round} imap {}", b.user)),
                &mut totals,
            );
        }
        queue.apply(
            &submit.finish(&format!("round {round} submit")),
            &mut totals,
        );
        let data = take_data(&mut server);
        let when = format!("kill -9 #{round} at {delay:?}, before the restart");
        let raw = raw_copy(&data, &when);
        // What the last commit left: chunk rows only for bodies and for uploads marked
        // unfinished, reference counts that count message and queue rows.
        raw.assert_bodies_and_chunks(&when);
        orphaned += raw.upload_chunks();
        let image = killed.elapsed();
        let checks = Instant::now();
        server = Server::serve(data);
        let restarted = checks.elapsed();
        let when = format!("after kill -9 #{round} at {delay:?} (seed {seed})");
        let status = status(&server);
        let mut log = log.lock().unwrap();
        totals.copies_read += verify(
            &server.data,
            &log,
            &mut known,
            &pruned,
            Some((&status, &mut uid_state)),
            &when,
        );
        // Every message sent so far is now stored for all its recipients or never will be:
        // its bytes are not needed again (a long run would otherwise hold them all).
        for sent in log.values_mut() {
            sent.body = Vec::new();
        }
        drop(log);
        for b in &mut boxes {
            let st = status[&(b.user, LOAD_BOX)];
            b.verify(&server.data, Some(st), &mut totals, &when);
        }
        queue.verify(&server.data, &mut totals, &when);
        // Keep the store small: what was verified may go (acknowledged, so it stays gone).
        for (user, stored) in &known {
            let live: Vec<u32> = stored
                .keys()
                .copied()
                .filter(|uid| !pruned.contains(&(*user, *uid)))
                .collect();
            if live.len() > PRUNE_AT {
                prune(&server, user, "INBOX", &live);
                totals.pruned += live.len();
                pruned.extend(live.into_iter().map(|uid| (*user, uid)));
            }
        }
        for b in &mut boxes {
            b.prune(&server, &mut totals);
        }
        queue.prune(&server.data, &mut totals);
        eprintln!(
            "kill9: round {round}: killed after {delay:?}, crash image checked in {image:?}, restarted in {restarted:?}, checked in {:?}",
            checks.elapsed() - restarted
        );
    }
    // A clean stop keeps everything too.
    let status = server.stop();
    assert!(status.success(), "exit status {status}");
    let data = take_data(&mut server);
    let log = log.lock().unwrap().clone();
    let when = "after the final SIGTERM";
    totals.copies_read += verify(&data, &log, &mut known, &pruned, None, when);
    for b in &mut boxes {
        b.verify(&data, None, &mut totals, when);
    }
    queue.verify(&data, &mut totals, when);
    // `check` ran on the stopped store, whose open removed what interrupted uploads left.
    let raw = raw_copy(&data, when);
    raw.assert_closed_consistent(when);
    assert_eq!(
        raw.messages.len(),
        known.values().map(BTreeMap::len).sum::<usize>() - pruned.len()
            + boxes.iter().map(|b| b.items.len()).sum::<usize>()
    );
    assert_eq!(raw.queue.len(), queue.ids.len());
    let acked = log.values().filter(|s| s.acked()).count();
    let unacked_stored = log
        .iter()
        .filter(|(tag, s)| !s.acked() && known[s.rcpts[0]].values().any(|t| t == *tag))
        .count();
    let t = &totals;
    eprintln!(
        "kill9: {rounds} kills in {:?}, seed {seed}\n\
         kill9: SMTP: {} messages sent, {acked} acknowledged and found, {unacked_stored} stored without a 250\n\
         kill9: IMAP: {} APPENDs acknowledged and found, {} stored without their OK; {} flag changes acknowledged, {} in flight that landed; {} messages expunged with an acknowledged EXPUNGE / UID EXPUNGE, {} expunged UIDs never back\n\
         kill9: queue: {} submissions acknowledged and queued, {} queued without a 250, {} queued in all, {} delivery attempts deferred\n\
         kill9: {} stored copies compared byte for byte, {orphaned} chunks of interrupted uploads removed at restart; {} verified messages expunged and {} queued ones deleted between rounds to keep the store small",
        started.elapsed(),
        log.len(),
        t.appends_acked,
        t.appends_unacked_stored,
        t.stores_acked,
        t.stores_unacked_landed,
        t.expunges_acked,
        boxes.iter().map(|b| b.expunged.len()).sum::<usize>(),
        t.submissions_acked,
        t.submissions_unacked_queued,
        queue.ids.len() + t.queue_deleted,
        queue.attempts(),
        t.copies_read,
        t.pruned,
        t.queue_deleted,
    );
    assert!(
        acked >= 2 * rounds,
        "only {acked} messages were acknowledged: the rounds were too short to test anything"
    );
    // Lower bounds that a loaded machine still meets: the point is that every kind ran.
    for (what, n, least) in [
        ("APPENDs", t.appends_acked, rounds / 4),
        ("flag changes", t.stores_acked, rounds / 4),
        ("expunges", t.expunges_acked, 1),
        ("submissions", t.submissions_acked, rounds / 4),
    ] {
        assert!(
            n >= least,
            "only {n} {what} were acknowledged in {rounds} rounds: the load did not run"
        );
    }
    assert!(queue.attempts() > 0, "the queue never attempted a delivery");
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

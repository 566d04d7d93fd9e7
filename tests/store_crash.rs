//! Crash consistency of the store, in process (STYLE.md "Crash consistency of the store").
//!
//! The store runs on [`CrashBackend`], which keeps the bytes a crash would leave: everything
//! written before the last completed sync. A concurrent workload goes through the real `Store`
//! API (users added and deleted, a password change, deliveries inline and chunked to several
//! recipients, identical payloads delivered twice (two independent bodies), refusals, discards,
//! chunk puts that ride along with other requests' commits, with a commit window and in-flight
//! guards as the server uses them; and, on a user of its own, an IMAP client's session: mailboxes
//! created, renamed (INBOX too) and deleted, subscriptions, appends, flag changes, copies, moves
//! into and out of Junk, expunges, one of them under a pinned body reader); each request records
//! the backend's sync counter when its answer arrived. An answer that came back while the counter was below `k` belonged to a commit
//! whose sync had completed before sync `k`.
//!
//! Freezing durability at sync `k` and then crashing leaves what syncs `1..k-1` made durable.
//! Freezing does not change what the live run does, so one run records the crash image of every
//! `k` at once: the durable bytes as of sync `k-1`, once as they are and once with the header write
//! that sync `k` was flushing overlaid (redb's own model: the header reached the disk, the pages
//! it names did not). Each image is opened as a new store and checked: every acknowledged request
//! is present, with byte-exact messages; nothing else is half-present; the IMAP user's state
//! (mailboxes, counters, messages with flags and bytes, subscriptions, VANISHED, training events)
//! is exactly the state after some prefix of its session, no shorter than what was acknowledged;
//! requests became durable in an order consistent with their acknowledgements; `check()` is
//! empty; UIDNEXT is above every UID; redb's `check_integrity()` holds before and after; a body
//! parked for a reader is gone after the open; and the recovered store takes a new delivery with
//! a fresh UID.

mod store_support;

use mailnook::store::{
    self, BodyId, CHUNK_BYTES, Done, MailboxId, MailboxRow, MessageRow, Op, SpecialUse, Store,
    StoreMode, TrainingEvent, Uid, UserId, Vanished, flags,
};
use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use store_support::*;

/// Snapshot granularity of the durable image.
const PAGE: usize = 4096;

/// Syncs whose crash images are all verified (two images each, about half a second per image in
/// a debug build); beyond this many, the first half of the bound and an evenly spaced sample of
/// the rest, always including the last (set MAILNOOK_CRASH_ALL=1 to verify every one). The
/// workload takes about 50 syncs, so normally every one is tested.
const MAX_SYNCS: u64 = 80;

/// The durable bytes at one moment, sharing unchanged pages with the other snapshots.
#[derive(Debug, Clone, Default)]
struct Snapshot {
    pages: Vec<Arc<Vec<u8>>>,
    len: usize,
}

impl Snapshot {
    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.pages.len() * PAGE);
        for p in &self.pages {
            out.extend_from_slice(p);
        }
        out.truncate(self.len);
        out
    }
}

/// The crash image for a freeze at one sync.
#[derive(Debug, Clone)]
struct Crash {
    /// Durable bytes through the previous sync.
    durable: Snapshot,
    /// The last header write before this sync.
    header: Vec<u8>,
}

impl Crash {
    fn image(&self, with_header: bool) -> Vec<u8> {
        let mut image = self.durable.bytes();
        if with_header && !self.header.is_empty() && image.len() >= self.header.len() {
            image[..self.header.len()].copy_from_slice(&self.header);
        }
        image
    }
}

#[derive(Debug, Default)]
struct CrashState {
    live: Vec<u8>,
    durable: Snapshot,
    /// Pages written or resized since the last sync.
    dirty: BTreeSet<usize>,
    last_header: Vec<u8>,
    syncs: u64,
    /// `crashes[k - 1]`: the image a freeze at sync `k` leaves.
    crashes: Vec<Crash>,
}

/// A redb backend that records, at every sync, the image a crash right then would leave.
#[derive(Debug, Clone, Default)]
struct CrashBackend(Arc<Mutex<CrashState>>);

impl CrashBackend {
    fn syncs(&self) -> u64 {
        self.0.lock().unwrap().syncs
    }
    fn crashes(&self) -> Vec<Crash> {
        self.0.lock().unwrap().crashes.clone()
    }
    /// The image after every sync so far completed.
    fn settled(&self) -> Crash {
        let s = self.0.lock().unwrap();
        Crash {
            durable: s.durable.clone(),
            header: Vec::new(),
        }
    }
}

fn mark(dirty: &mut BTreeSet<usize>, from: usize, to: usize) {
    if to > from {
        dirty.extend(from / PAGE..=(to - 1) / PAGE);
    }
}

impl redb::StorageBackend for CrashBackend {
    fn len(&self) -> Result<u64, std::io::Error> {
        Ok(self.0.lock().unwrap().live.len() as u64)
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        let s = self.0.lock().unwrap();
        let offset = usize::try_from(offset).unwrap();
        if offset + out.len() > s.live.len() {
            return Err(std::io::Error::from(ErrorKind::UnexpectedEof));
        }
        out.copy_from_slice(&s.live[offset..offset + out.len()]);
        Ok(())
    }
    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        let mut s = self.0.lock().unwrap();
        let (old, new) = (s.live.len(), usize::try_from(len).unwrap());
        s.live.resize(new, 0);
        mark(&mut s.dirty, old.min(new), old.max(new));
        Ok(())
    }
    fn sync_data(&self) -> Result<(), std::io::Error> {
        let mut s = self.0.lock().unwrap();
        s.syncs += 1;
        let crash = Crash {
            durable: s.durable.clone(),
            header: s.last_header.clone(),
        };
        s.crashes.push(crash);
        let len = s.live.len();
        let pages = len.div_ceil(PAGE);
        let dirty = std::mem::take(&mut s.dirty);
        let mut durable = std::mem::take(&mut s.durable);
        durable.pages.truncate(pages);
        while durable.pages.len() < pages {
            durable.pages.push(Arc::new(Vec::new()));
        }
        for p in dirty.into_iter().filter(|p| *p < pages) {
            let end = ((p + 1) * PAGE).min(len);
            durable.pages[p] = Arc::new(s.live[p * PAGE..end].to_vec());
        }
        // The last page may have been cut by a shrink without being written.
        if let Some(last) = pages.checked_sub(1) {
            let end = len;
            if durable.pages[last].len() != end - last * PAGE {
                durable.pages[last] = Arc::new(s.live[last * PAGE..end].to_vec());
            }
        }
        durable.len = len;
        s.durable = durable;
        Ok(())
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        let mut s = self.0.lock().unwrap();
        let offset = usize::try_from(offset).unwrap();
        if offset + data.len() > s.live.len() {
            let old = s.live.len();
            s.live.resize(offset + data.len(), 0);
            mark(&mut s.dirty, old, offset + data.len());
        }
        s.live[offset..offset + data.len()].copy_from_slice(data);
        mark(&mut s.dirty, offset, offset + data.len());
        if offset == 0 {
            s.last_header = data.to_vec();
        }
        Ok(())
    }
}

/// One request of the workload and what became of it.
#[derive(Debug)]
struct Rec {
    what: What,
    /// Logical clock when the request was sent and when its answer arrived.
    issued: u64,
    acked: u64,
    /// The backend's sync counter when the answer arrived.
    ack_sync: u64,
}

#[derive(Debug)]
enum What {
    AddDomain,
    AddUser {
        email: String,
        id: UserId,
    },
    DelUser {
        email: String,
    },
    SetPassword {
        email: String,
        hash: String,
    },
    Deliver {
        tag: String,
        data: Arc<Vec<u8>>,
        /// `None`: refused (the store said so; it must have changed nothing).
        result: Option<(BodyId, Vec<CopyAt>)>,
    },
    /// Step `step` of the IMAP session (its state after it is `imap_states[step + 1]`).
    Imap {
        step: usize,
        label: &'static str,
    },
}

/// Everything of the IMAP user's that an operation of the session can change.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ImapState {
    /// Name → (id, row).
    mailboxes: BTreeMap<String, (MailboxId, MailboxRow)>,
    /// (mailbox name, uid) → (row, fingerprint of the bytes).
    messages: BTreeMap<(String, u32), (MessageRow, u64)>,
    subscriptions: Vec<String>,
    /// Mailbox name → `vanished_since(0)`.
    vanished: BTreeMap<String, Option<Vanished>>,
    training: Vec<TrainingEvent>,
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn imap_state(store: &Store, user: UserId) -> ImapState {
    let mut st = ImapState {
        mailboxes: BTreeMap::new(),
        messages: BTreeMap::new(),
        subscriptions: store.subscriptions(user).unwrap(),
        vanished: BTreeMap::new(),
        training: store.training_events(user).unwrap(),
    };
    for mb in store.mailboxes(user).unwrap() {
        for m in store.messages(mb.id).unwrap() {
            let bytes = read_message(store, mb.id, m.uid.get()).expect("listed message reads");
            st.messages
                .insert((mb.row.name.clone(), m.uid.get()), (m.row, fnv(&bytes)));
        }
        st.vanished
            .insert(mb.row.name.clone(), store.vanished_since(mb.id, 0).unwrap());
        st.mailboxes.insert(mb.row.name.clone(), (mb.id, mb.row));
    }
    st
}

/// Where one recipient's copy went.
type CopyAt = (UserId, MailboxId, Uid);

/// Runs the workload's requests and records each one.
struct Recorder {
    store: Store,
    backend: CrashBackend,
    clock: AtomicU64,
    recs: Mutex<Vec<Rec>>,
    /// The IMAP user's state before its session and after each step.
    imap_states: Mutex<Vec<ImapState>>,
}

impl Recorder {
    /// Runs a durable request; returns its answer and records `what(answer)`.
    fn call<T>(&self, op: Op, what: impl FnOnce(store::Result<Done>) -> (What, T)) -> T {
        let issued = self.clock.fetch_add(1, Ordering::SeqCst);
        let answer = self.store.call_blocking(op);
        let ack_sync = self.backend.syncs();
        let acked = self.clock.fetch_add(1, Ordering::SeqCst);
        let (what, out) = what(answer);
        self.recs.lock().unwrap().push(Rec {
            what,
            issued,
            acked,
            ack_sync,
        });
        out
    }

    fn add_domain(&self) {
        self.call(Op::AddDomain("example.test".into()), |r| {
            assert!(matches!(r, Ok(Done::Unit)), "{r:?}");
            (What::AddDomain, ())
        })
    }

    fn add_user(&self, email: &str) {
        let op = Op::AddUser {
            email: email.into(),
            password_hash: "$argon2id$v0".into(),
        };
        self.call(op, |r| match r {
            Ok(Done::User(id)) => (
                What::AddUser {
                    email: email.into(),
                    id,
                },
                (),
            ),
            other => panic!("add user {email}: {other:?}"),
        })
    }

    fn del_user(&self, email: &str) {
        self.call(Op::DelUser(email.into()), |r| {
            assert!(matches!(r, Ok(Done::Unit)), "del user {email}: {r:?}");
            (
                What::DelUser {
                    email: email.into(),
                },
                (),
            )
        })
    }

    fn set_password(&self, email: &str, hash: &str) {
        let op = Op::SetPassword {
            email: email.into(),
            password_hash: hash.into(),
        };
        self.call(op, |r| {
            assert!(matches!(r, Ok(Done::Unit)), "set password: {r:?}");
            (
                What::SetPassword {
                    email: email.into(),
                    hash: hash.into(),
                },
                (),
            )
        })
    }

    /// Runs one step of the IMAP session, which must succeed, and records the state after it.
    fn imap(&self, user: UserId, label: &'static str, op: Op) -> Done {
        let step = self.imap_states.lock().unwrap().len() - 1;
        let done = self.call(op, |r| {
            let done = r.unwrap_or_else(|e| panic!("imap step {step} ({label}): {e}"));
            (What::Imap { step, label }, done)
        });
        let state = imap_state(&self.store, user);
        self.imap_states.lock().unwrap().push(state);
        done
    }

    /// An IMAP step that delivers (chunks first, like the other deliveries).
    fn imap_deliver(&self, user: UserId, tag: &str, len: usize) {
        let d = delivery(upload(&self.store, &payload(tag, len)), tag, &[user]);
        self.imap(user, "deliver", Op::Deliver(d));
    }

    /// An IMAP step that appends.
    fn imap_append(&self, user: UserId, mailbox: MailboxId, tag: &str, len: usize, seen: bool) {
        let data = payload(tag, len);
        let up = upload(&self.store, &data);
        let op = Op::Append {
            upload: up.id,
            chunks_sent: up.chunks_sent,
            mailbox,
            flags: if seen { flags::SEEN } else { 0 },
            keywords: vec!["work".into()],
            internal_date: 1_700_000_200,
            tail: up.tail,
            summary: summary_of(&data),
        };
        self.imap(user, "append", op);
    }

    fn user_id(&self, email: &str) -> UserId {
        self.recs
            .lock()
            .unwrap()
            .iter()
            .find_map(|r| match &r.what {
                What::AddUser { email: e, id } if e == email => Some(*id),
                _ => None,
            })
            .expect("recipient was added")
    }

    /// Uploads and delivers as `MessageSink` does: full chunks first (non-durable), then the
    /// delivery; a refused delivery's upload is discarded. `lose_chunk` claims one chunk more
    /// than was sent. Returns whether the store accepted it.
    fn deliver(&self, tag: &str, data: Arc<Vec<u8>>, to: &[&str], lose_chunk: bool) -> bool {
        let recipients: Vec<UserId> = to.iter().map(|e| self.user_id(e)).collect();
        // As `MessageSink` does: commits may wait (the commit window) for this one to join.
        let _receiving = self.store.in_flight();
        let mut d = delivery(upload(&self.store, &data), tag, &recipients);
        if lose_chunk {
            d.chunks_sent += 1;
        }
        let upload = d.upload;
        let tag = tag.to_string();
        let accepted = self.call(Op::Deliver(d), |r| {
            let result = match r {
                Ok(Done::Delivered { body, copies, .. }) => Some((body, copies)),
                Err(store::Error::Refused(_)) => None,
                other => panic!("deliver {tag}: {other:?}"),
            };
            let accepted = result.is_some();
            (What::Deliver { tag, data, result }, accepted)
        });
        if !accepted {
            self.store
                .call_blocking(Op::Discard(upload))
                .expect("discard");
        }
        accepted
    }
}

const USERS: [&str; 7] = [
    "u0@example.test",
    "u1@example.test",
    "u2@example.test",
    "u3@example.test",
    "u4@example.test",
    "u5@example.test",
    "u6@example.test",
];

/// Step `i` of thread `t`: every third message chunked (up to four chunks), the rest inline.
fn size_for(t: usize, i: usize) -> usize {
    match (t + i) % 3 {
        0 => 70_000 + (t * 37 + i * 11_113) % 150_000,
        1 => 300 + (t * 101 + i * 997) % 9_000,
        _ => 20_000 + (i * 4_099) % 40_000,
    }
}

/// One to three of u0..u4.
fn recipients_for(t: usize, i: usize) -> Vec<&'static str> {
    let n = 1 + (t + i) % 3;
    (0..n).map(|j| USERS[(t * 2 + i + j * 2) % 5]).collect()
}

const STEPS: usize = 12;

/// The user whose mailboxes only the IMAP session touches.
const IMAP_USER: &str = "imap@example.test";

/// An IMAP client's session on its own user, one durable step at a time, holding a reader on a
/// body while its last message is expunged.
fn imap_session(rec: &Recorder) {
    let u = rec.user_id(IMAP_USER);
    let s = &rec.store;
    rec.imap_states.lock().unwrap().push(imap_state(s, u));
    let by_name = |name: &str| mailbox_named(s, u, name);
    let range = |r: std::ops::RangeInclusive<u32>| vec![r];
    rec.imap_deliver(u, "i0", 700);
    rec.imap_deliver(u, "i1", 2 * CHUNK_BYTES + 300);
    rec.imap_deliver(u, "i2", 2_000);
    let create = Op::CreateMailbox {
        user: u,
        name: "Projects/2024".into(),
        special_use: SpecialUse::None,
    };
    rec.imap(u, "create", create);
    for name in ["Projects/2024", "Ghost"] {
        let op = Op::Subscribe {
            user: u,
            name: name.into(),
            subscribed: true,
        };
        rec.imap(u, "subscribe", op);
    }
    rec.imap_append(u, by_name("Projects/2024"), "i3", CHUNK_BYTES + 40, true);
    let inbox = by_name("INBOX");
    let highest = mailbox_row(s, inbox).highest_modseq;
    let store_op = Op::Store {
        mailbox: inbox,
        uids: range(1..=2),
        mode: StoreMode::Add,
        flags: flags::FLAGGED,
        keywords: vec!["$Junk".into()],
        unchanged_since: Some(highest),
    };
    rec.imap(u, "store $Junk", store_op);
    let copy = Op::Copy {
        from: inbox,
        uids: range(1..=2),
        to: by_name("Projects/2024"),
    };
    rec.imap(u, "copy", copy);
    let to_junk = Op::Move {
        from: inbox,
        uids: range(2..=2),
        to: by_name("Junk"),
    };
    rec.imap(u, "move to Junk", to_junk);
    let deleted = Op::Store {
        mailbox: inbox,
        uids: range(1..=1),
        mode: StoreMode::Add,
        flags: flags::DELETED,
        keywords: Vec::new(),
        unchanged_since: None,
    };
    rec.imap(u, "store \\Deleted", deleted);
    let expunge = Op::Expunge {
        mailbox: inbox,
        uids: None,
    };
    rec.imap(u, "expunge", expunge);
    let rename = Op::RenameMailbox {
        user: u,
        from: "Projects".into(),
        to: "Work".into(),
    };
    rec.imap(u, "rename", rename);
    // A FETCH in progress: the body of i2, whose only message goes below.
    let i2 = s
        .message(inbox, 3)
        .unwrap()
        .expect("i2 is INBOX 3")
        .row
        .body;
    let reader = s.open_body(BodyId(i2)).unwrap().expect("i2 opens");
    let rename_inbox = Op::RenameMailbox {
        user: u,
        from: "INBOX".into(),
        to: "Old".into(),
    };
    rec.imap(u, "rename INBOX", rename_inbox);
    let from_junk = Op::Move {
        from: by_name("Junk"),
        uids: range(1..=u32::MAX),
        to: inbox,
    };
    rec.imap(u, "move from Junk", from_junk);
    let old = by_name("Old");
    let deleted = Op::Store {
        mailbox: old,
        uids: range(1..=u32::MAX),
        mode: StoreMode::Add,
        flags: flags::DELETED,
        keywords: Vec::new(),
        unchanged_since: None,
    };
    rec.imap(u, "store \\Deleted in Old", deleted);
    let expunge = Op::Expunge {
        mailbox: old,
        uids: Some(range(1..=u32::MAX)),
    };
    rec.imap(u, "expunge Old (parks i2)", expunge);
    assert!(read_body(&reader, 4096).len() as u64 == reader.size());
    rec.imap_append(u, inbox, "i4", 500, false);
    let delete = Op::DeleteMailbox {
        user: u,
        name: "Work/2024".into(),
    };
    rec.imap(u, "delete", delete);
    drop(reader);
    let unsubscribe = Op::Subscribe {
        user: u,
        name: "Ghost".into(),
        subscribed: false,
    };
    rec.imap(u, "unsubscribe", unsubscribe);
    let replace = Op::Store {
        mailbox: inbox,
        uids: range(1..=u32::MAX),
        mode: StoreMode::Replace,
        flags: flags::SEEN,
        keywords: vec!["$NotJunk".into()],
        unchanged_since: None,
    };
    rec.imap(u, "store $NotJunk", replace);
}

/// The workload: setup, then three threads at once.
fn run_workload(rec: &Arc<Recorder>) {
    rec.add_domain();
    for u in &USERS[..6] {
        rec.add_user(u);
    }
    rec.add_user(IMAP_USER);
    let imap = {
        let rec = rec.clone();
        std::thread::spawn(move || imap_session(&rec))
    };
    let shared = Arc::new(payload("shared", 3 * CHUNK_BYTES + 1234));
    let threads: Vec<_> = (0..3)
        .map(|t| {
            let rec = rec.clone();
            let shared = shared.clone();
            std::thread::spawn(move || {
                for i in 0..STEPS {
                    let tag = format!("t{t}-{i}");
                    let data = Arc::new(payload(&tag, size_for(t, i)));
                    assert!(rec.deliver(&tag, data, &recipients_for(t, i), false));
                    let tag = format!("t{t}-{i}x");
                    match (t, i) {
                        // To a user another thread deletes: accepted or refused.
                        (0, 2) => {
                            rec.deliver(&tag, Arc::new(payload(&tag, 5_000)), &[USERS[5]], false);
                        }
                        // An upload its client abandoned.
                        (0, 4) => {
                            let up = upload(&rec.store, &payload(&tag, 2 * CHUNK_BYTES + 9));
                            rec.store
                                .call_blocking(Op::Discard(up.id))
                                .expect("discard");
                        }
                        (0, 8) => rec.set_password(USERS[1], "$argon2id$v1"),
                        // The same large payload twice: two bodies, each with its own chunks.
                        (1, 3) => assert!(rec.deliver(&tag, shared.clone(), &[USERS[2]], false)),
                        (1, 7) => {
                            assert!(rec.deliver(&tag, shared.clone(), &[USERS[3], USERS[4]], false))
                        }
                        // Chunks lost: refused, then discarded.
                        (1, 4) => assert!(!rec.deliver(
                            &tag,
                            Arc::new(payload(&tag, 2 * CHUNK_BYTES + 77)),
                            &[USERS[0]],
                            true
                        )),
                        (1, 10) => {
                            rec.add_user(USERS[6]);
                            let data = Arc::new(payload(&tag, 130_000));
                            assert!(rec.deliver(&tag, data, &[USERS[6], USERS[0]], false));
                        }
                        (2, 3) => {
                            let data = Arc::new(payload(&tag, 140_000));
                            assert!(rec.deliver(&tag, data, &[USERS[5], USERS[0]], false));
                        }
                        (2, 6) => rec.del_user(USERS[5]),
                        (2, 7) => {
                            let data = Arc::new(payload(&tag, 1_000));
                            assert!(rec.deliver(&tag, data, &[USERS[5], USERS[1]], false));
                        }
                        (2, 8) => {
                            let data = Arc::new(payload(&tag, 1_000));
                            assert!(!rec.deliver(&tag, data, &[USERS[5]], false));
                        }
                        _ => {}
                    }
                }
                if t == 2 {
                    // A client still mid-DATA when the run ends: its chunks are on disk only
                    // if a later commit carried them, and must be gone after a crash.
                    let _ = upload(&rec.store, &payload("unfinished", 2 * CHUNK_BYTES + 1));
                    rec.set_password(USERS[2], "$argon2id$v2");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("workload thread");
    }
    imap.join().expect("IMAP session thread");
}

/// What the live run did, indexed for the checks.
struct Run {
    recs: Vec<Rec>,
    /// (mailbox, uid) → index of the delivery that put a message there.
    by_copy: BTreeMap<(u64, u32), usize>,
    /// The IMAP user's state before its session and after each step.
    imap_states: Vec<ImapState>,
    imap_user: UserId,
}

impl Run {
    fn new(mut recs: Vec<Rec>, imap_states: Vec<ImapState>) -> Run {
        recs.sort_by_key(|r| r.acked);
        let mut by_copy = BTreeMap::new();
        let mut bodies = BTreeSet::new();
        for (i, r) in recs.iter().enumerate() {
            if let What::Deliver {
                result: Some((body, copies)),
                tag,
                ..
            } = &r.what
            {
                // Every delivery stores its own body, even of a payload delivered before.
                assert!(
                    bodies.insert(*body),
                    "{tag} got the body of another delivery"
                );
                for (_, mbox, uid) in copies {
                    let old = by_copy.insert((mbox.0, uid.get()), i);
                    assert!(old.is_none(), "the live run reused ({mbox:?}, {uid:?})");
                }
            }
        }
        let imap_user = recs
            .iter()
            .find_map(|r| match &r.what {
                What::AddUser { email, id } if email == IMAP_USER => Some(*id),
                _ => None,
            })
            .expect("the IMAP user was added");
        Run {
            recs,
            by_copy,
            imap_states,
            imap_user,
        }
    }
}

/// Opens `image` as a recovered store and checks it against the run. `k`: the frozen sync (an
/// answer that arrived while the sync counter was below `k` must be in the image).
fn verify(run: &Run, image: Vec<u8>, k: u64, label: &str) -> Verified {
    // redb recovers the image by itself and finds it sound.
    let raw = raw_image(image.clone(), label);
    // Every commit keeps the chunk layout whole: the chunk rows are exactly those of the bodies
    // and of the uploads marked in UPLOADS, and each body's bytes add up.
    raw.assert_bodies_and_chunks(label);
    let orphans = raw.upload_chunks();
    // A message row present in the image names the body its delivery reported.
    for (key, body) in &raw.messages {
        if let Some(&i) = run.by_copy.get(key)
            && let What::Deliver {
                result: Some((reported, _)),
                tag,
                ..
            } = &run.recs[i].what
        {
            assert_eq!(
                *body, reported.0,
                "{label}: message {key:?} ({tag}) names another body"
            );
        }
    }
    let backend = MemBackend::with_image(image);
    let store = Store::open_with_backend(backend.clone(), CACHE_BYTES)
        .unwrap_or_else(|e| panic!("{label}: the store does not open: {e}"));

    // Every stored message, with its bytes.
    let mut users: BTreeMap<UserId, store::UserRow> = BTreeMap::new();
    let mut present: BTreeMap<(u64, u32), Vec<u8>> = BTreeMap::new();
    for u in store.users().unwrap() {
        // The IMAP user's messages are checked against the session's states below.
        let mailboxes = if u.id == run.imap_user {
            Vec::new()
        } else {
            store.mailboxes(u.id).unwrap()
        };
        for mb in mailboxes {
            for m in store.messages(mb.id).unwrap() {
                let bytes = read_message(&store, mb.id, m.uid.get())
                    .unwrap_or_else(|| panic!("{label}: listed message unreadable"));
                assert_eq!(bytes.len() as u64, m.row.size, "{label}: size of a message");
                present.insert((mb.id.0, m.uid.get()), bytes);
            }
        }
        users.insert(u.id, u.row);
    }
    // Nothing stored that the run did not deliver, nothing truncated or mixed up.
    for (key, bytes) in &present {
        let Some(&i) = run.by_copy.get(key) else {
            panic!("{label}: message {key:?} was never delivered");
        };
        let What::Deliver { tag, data, .. } = &run.recs[i].what else {
            unreachable!()
        };
        let mut want = prefix(tag);
        want.extend_from_slice(data);
        assert!(
            bytes == &want,
            "{label}: message {key:?} ({tag}) differs from what was sent"
        );
    }

    // The IMAP user's state is the state after some prefix of its session: `imap_done` steps.
    let imap_done = users.contains_key(&run.imap_user).then(|| {
        let now = imap_state(&store, run.imap_user);
        run.imap_states
            .iter()
            .position(|s| *s == now)
            .unwrap_or_else(|| {
                let closest = run
                    .imap_states
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, s)| {
                        usize::from(s.mailboxes != now.mailboxes)
                            + usize::from(s.messages != now.messages)
                            + usize::from(s.subscriptions != now.subscriptions)
                            + usize::from(s.vanished != now.vanished)
                            + usize::from(s.training != now.training)
                    })
                    .map(|(i, _)| i);
                panic!(
                    "{label}: the IMAP user's state is no prefix of its session (closest: after {closest:?} steps): {now:#?}"
                )
            })
    });

    // Which requests the image holds: Some(true) present, Some(false) absent, None: the image
    // cannot tell (e.g. every copy belonged to a user deleted since).
    let next_user = raw.meta.get("next_user").copied().unwrap_or(1);
    let user_added = |id: UserId| id.0 < next_user;
    let presence: Vec<Option<bool>> = run
        .recs
        .iter()
        .map(|r| match &r.what {
            What::AddDomain => Some(store.is_local_domain("example.test").unwrap()),
            What::AddUser { email, id } => {
                let exists = users.get(id).map(|row| &row.email);
                assert!(
                    exists.is_none_or(|e| e == email),
                    "{label}: user {id:?} is not {email}"
                );
                Some(user_added(*id))
            }
            What::DelUser { email } => {
                let id = run.recs.iter().find_map(|r| match &r.what {
                    What::AddUser { email: e, id } if e == email => Some(*id),
                    _ => None,
                });
                let id = id.expect("deleted user was added");
                Some(user_added(id) && !users.contains_key(&id))
            }
            What::SetPassword { email, hash } => users
                .values()
                .find(|row| &row.email == email)
                .map(|row| &row.password_hash == hash),
            What::Deliver {
                result: Some((_, copies)),
                tag,
                ..
            } => {
                let alive: Vec<_> = copies
                    .iter()
                    .filter(|(u, _, _)| users.contains_key(u))
                    .collect();
                let n = alive
                    .iter()
                    .filter(|(_, mbox, uid)| present.contains_key(&(mbox.0, uid.get())))
                    .count();
                assert!(
                    n == 0 || n == alive.len(),
                    "{label}: delivery {tag} is half-present ({n} of {} copies)",
                    alive.len()
                );
                (!alive.is_empty()).then_some(n > 0)
            }
            What::Deliver { result: None, .. } => None,
            What::Imap { step, .. } => Some(imap_done.is_some_and(|done| *step < done)),
        })
        .collect();

    // Every request answered before the frozen sync is there.
    let mut must = 0;
    for (r, p) in run.recs.iter().zip(&presence) {
        if r.ack_sync < k {
            must += 1;
            assert!(
                *p != Some(false),
                "{label}: {:?} was acknowledged at sync {} but is missing",
                r.what_short(),
                r.ack_sync
            );
        }
    }
    // Durable in an order consistent with the answers: a request sent after another was
    // answered is never present without it.
    for (a, pa) in run.recs.iter().zip(&presence) {
        if *pa != Some(false) {
            continue;
        }
        for (b, pb) in run.recs.iter().zip(&presence) {
            assert!(
                !(a.acked < b.issued && *pb == Some(true)),
                "{label}: {:?} is present but {:?}, answered before it was sent, is not",
                b.what_short(),
                a.what_short()
            );
        }
    }

    // Counters, UIDNEXT, and the store's own check.
    assert_consistent(&store, label);

    // The recovered store keeps working: a new delivery to everyone gets fresh UIDs.
    if !users.is_empty() {
        let ids: Vec<UserId> = users.keys().copied().collect();
        let before: BTreeMap<UserId, (MailboxId, u32)> = ids
            .iter()
            .map(|u| {
                let mb = store.mailbox(*u, "INBOX").unwrap().unwrap();
                let max = store
                    .messages(mb.id)
                    .unwrap()
                    .last()
                    .map_or(0, |m| m.uid.get());
                (*u, (mb.id, max))
            })
            .collect();
        let data = payload("after-crash", 2 * CHUNK_BYTES + 5);
        let (_, copies) = copies(deliver(&store, "after-crash", &data, &ids));
        for (u, mbox, uid) in copies {
            let (want_mbox, max) = before[&u];
            assert_eq!(mbox, want_mbox);
            assert!(uid.get() > max, "{label}: UID {} reused", uid.get());
            let mut want = prefix("after-crash");
            want.extend_from_slice(&data);
            assert_eq!(read_message(&store, mbox, uid.get()), Some(want));
        }
        assert_consistent(&store, &format!("{label}, after a new delivery"));
    }
    store.close();
    let after = raw_image(backend.image(), &format!("{label}, closed"));
    after.assert_closed_consistent(&format!("{label}, closed"));
    // The open removed the unfinished uploads' chunk rows (an id may be given again later, but
    // then only to a body whose rows `assert_closed_consistent` accounted for).
    for id in raw.uploads.keys() {
        assert!(
            after.bodies.contains_key(id) || after.chunk_seqs(*id).is_empty(),
            "{label}: chunk rows of unfinished upload {id} survived the open"
        );
    }
    Verified {
        must,
        messages: present.len(),
        orphans,
        imap_steps: imap_done.unwrap_or(0),
        parked: raw.parked.len(),
    }
}

/// What one image held.
struct Verified {
    /// Requests that had to be present.
    must: usize,
    /// Message rows.
    messages: usize,
    /// Chunk rows of unfinished uploads in the crash image (removed by the open).
    orphans: usize,
    /// Steps of the IMAP session the image holds.
    imap_steps: usize,
    /// Bodies parked for a reader in the crash image (deleted by the open).
    parked: usize,
}

impl Rec {
    fn what_short(&self) -> String {
        match &self.what {
            What::Deliver { tag, result, .. } => {
                format!(
                    "deliver {tag} ({})",
                    if result.is_some() { "ok" } else { "refused" }
                )
            }
            What::Imap { step, label } => format!("imap step {step} ({label})"),
            other => format!("{other:?}"),
        }
    }
}

#[test]
fn every_acknowledged_request_survives_a_crash_at_any_sync() {
    let started = std::time::Instant::now();
    let backend = CrashBackend::default();
    let store = Store::open_with_backend(backend.clone(), CACHE_BYTES).expect("open");
    store.set_commit_window(std::time::Duration::from_millis(5));
    // Syncs that created the file and ran the store's first preparation.
    let opened_at = backend.syncs();
    let rec = Arc::new(Recorder {
        store,
        backend: backend.clone(),
        clock: AtomicU64::new(0),
        recs: Mutex::new(Vec::new()),
        imap_states: Mutex::new(Vec::new()),
    });
    run_workload(&rec);
    let total = backend.syncs();
    let crashes = backend.crashes();
    let settled = backend.settled();
    let rec = Arc::into_inner(rec).expect("workload threads ended");
    rec.store.close();
    let run = Run::new(
        rec.recs.into_inner().unwrap(),
        rec.imap_states.into_inner().unwrap(),
    );
    let imap_steps = run.imap_states.len() - 1;
    // Every step of the session changed what the state compares, so "a prefix" is exact.
    for (i, w) in run.imap_states.windows(2).enumerate() {
        assert_ne!(w[0], w[1], "IMAP step {i} changed nothing visible");
    }
    let acked_deliveries = run
        .recs
        .iter()
        .filter(|r| {
            matches!(
                r.what,
                What::Deliver {
                    result: Some(_),
                    ..
                }
            )
        })
        .count();
    assert!(acked_deliveries >= 3 * STEPS, "workload too small");
    assert!(
        total >= 20,
        "only {total} syncs: durable requests did not commit durably"
    );

    // Every k up to the bound, then an even sample (always including the last).
    let all = std::env::var("MAILNOOK_CRASH_ALL").as_deref() == Ok("1");
    let ks: Vec<u64> = if all || total <= MAX_SYNCS {
        (1..=total).collect()
    } else {
        let head = MAX_SYNCS / 2;
        let step = (total - head).div_ceil(MAX_SYNCS - head);
        let mut ks: Vec<u64> = (1..=head).collect();
        ks.extend((head + 1..=total).step_by(step as usize));
        if ks.last() != Some(&total) {
            ks.push(total);
        }
        ks
    };
    let mut checked = 0;
    let mut unborn = 0;
    let mut max_must = 0;
    let mut with_orphans = 0;
    let mut imap_prefixes = BTreeSet::new();
    let mut with_parked = 0;
    for &k in &ks {
        let crash = &crashes[k as usize - 1];
        for with_header in [false, true] {
            let label = format!("crash at sync {k}/{total} (header {with_header})");
            if k <= opened_at {
                // A crash while redb is still creating the file leaves one it does not
                // recognise; nothing had been acknowledged yet.
                let opened = redb::Database::builder()
                    .create_with_backend(MemBackend::with_image(crash.image(with_header)));
                if let Err(e) = opened {
                    assert!(
                        e.to_string().contains("Not a redb database"),
                        "{label}: {e}"
                    );
                    unborn += 1;
                    continue;
                }
            }
            let v = verify(&run, crash.image(with_header), k, &label);
            max_must = max_must.max(v.must);
            with_orphans += usize::from(v.orphans > 0);
            imap_prefixes.insert(v.imap_steps);
            with_parked += usize::from(v.parked > 0);
            checked += 1;
        }
    }
    // After every sync completed, every answered request is there.
    let v = verify(&run, settled.image(false), u64::MAX, "settled");
    assert_eq!(v.must, run.recs.len());
    assert_eq!(
        v.imap_steps, imap_steps,
        "the settled image holds the whole session"
    );
    // The session's steps were each the last durable one in some image, and some image caught a
    // body parked for the reader.
    assert!(
        imap_prefixes.len() > imap_steps / 2,
        "crash images held only these prefixes of the IMAP session: {imap_prefixes:?}"
    );
    assert!(with_parked > 0, "no crash image held a parked body");
    with_orphans += usize::from(v.orphans > 0);
    // The upload left unfinished at the end was carried to disk by the last commit, so at least
    // the settled image exercised the clean-up of orphaned chunks.
    assert!(
        with_orphans > 0,
        "no crash image held chunks of an unfinished upload"
    );
    eprintln!(
        "store_crash: {} requests ({acked_deliveries} deliveries accepted), {total} syncs \
         ({opened_at} to create and open the store), {} frozen × 2 images + settled: \
         {} images verified, {unborn} refused by redb as a file it never finished creating, \
         {with_orphans} held chunks of unfinished uploads, {with_parked} a parked body; \
         {} of the {} states of the IMAP session seen; up to {max_must} acknowledged \
         requests required per image, {} messages at the end; {:?}",
        run.recs.len(),
        ks.len(),
        checked + 1,
        imap_prefixes.len(),
        imap_steps + 1,
        v.messages,
        started.elapsed()
    );
}

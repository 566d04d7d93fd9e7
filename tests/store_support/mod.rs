//! Shared by `tests/store.rs`, `tests/store_crash.rs` and `tests/kill9.rs`: an in-memory redb
//! backend whose bytes outlive the store, uploads driven the way `delivery::MessageSink` drives
//! them, and a raw view of the tables for checks that the store's own API does not expose.
#![allow(dead_code)]

use mailnook::codec::Dec;
use mailnook::store::schema::{
    BODIES, CHUNKS, MAILBOX_BY_NAME, MAILBOXES, MESSAGES, META, PARKED, QUEUE, QUEUE_DUE,
    SUBSCRIPTIONS, SUMMARIES, TRAINING, UPLOADS, USER_BY_EMAIL, USERS, VANISHED,
};
use mailnook::store::{
    self, BodyRow, CHUNK_BYTES, Delivery, Done, LocalCopy, MailboxId, Op, Store, UserId,
};
use redb::{ReadableDatabase, ReadableTable};
use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::sync::{Arc, Mutex};

/// Page cache given to every store in these tests.
pub const CACHE_BYTES: usize = 1 << 20;

/// A redb backend over a shared byte vector: clones see the same bytes, so the image can be read
/// back after the database that wrote it is closed.
#[derive(Debug, Clone, Default)]
pub struct MemBackend(pub Arc<Mutex<Vec<u8>>>);

impl MemBackend {
    pub fn with_image(image: Vec<u8>) -> MemBackend {
        MemBackend(Arc::new(Mutex::new(image)))
    }
    pub fn image(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

impl redb::StorageBackend for MemBackend {
    fn len(&self) -> Result<u64, std::io::Error> {
        Ok(self.0.lock().unwrap().len() as u64)
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        let data = self.0.lock().unwrap();
        let offset = usize::try_from(offset).unwrap();
        if offset + out.len() > data.len() {
            return Err(std::io::Error::from(ErrorKind::UnexpectedEof));
        }
        out.copy_from_slice(&data[offset..offset + out.len()]);
        Ok(())
    }
    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        self.0
            .lock()
            .unwrap()
            .resize(usize::try_from(len).unwrap(), 0);
        Ok(())
    }
    fn sync_data(&self) -> Result<(), std::io::Error> {
        Ok(())
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        let mut image = self.0.lock().unwrap();
        let offset = usize::try_from(offset).unwrap();
        if offset + data.len() > image.len() {
            image.resize(offset + data.len(), 0);
        }
        image[offset..offset + data.len()].copy_from_slice(data);
        Ok(())
    }
}

/// Deterministic message bytes: CRLF text lines that name `tag`, so no two tags share a chunk.
pub fn payload(tag: &str, len: usize) -> Vec<u8> {
    let mut out = format!("Message-ID: <{tag}@test>\r\nSubject: {tag}\r\n\r\n").into_bytes();
    let mut x: u64 = tag.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut line = 0u64;
    while out.len() < len {
        let mut l = format!("{tag} {line:06} ");
        while l.len() < 76 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            l.push(char::from(b'a' + (x % 26) as u8));
        }
        l.push_str("\r\n");
        out.extend_from_slice(l.as_bytes());
        line += 1;
    }
    out.truncate(len);
    out
}

/// An upload whose full chunks were sent: what [`Delivery`] still needs.
pub struct Upload {
    pub id: store::UploadId,
    pub chunks_sent: usize,
    pub tail: Vec<u8>,
}

/// Sends every full chunk of `data` (as `MessageSink` does: a chunk goes out when it is full,
/// the rest stays for the final [`Delivery`]).
pub fn upload(store: &Store, data: &[u8]) -> Upload {
    let id = store.new_upload();
    let full = data.len() / CHUNK_BYTES;
    for i in 0..full {
        let chunk = data[i * CHUNK_BYTES..(i + 1) * CHUNK_BYTES].to_vec();
        store
            .call_blocking(Op::PutChunk {
                upload: id,
                data: chunk,
            })
            .expect("put chunk");
    }
    Upload {
        id,
        chunks_sent: full,
        tail: data[full * CHUNK_BYTES..].to_vec(),
    }
}

/// The trace prefix stored before a message.
pub fn prefix(tag: &str) -> Vec<u8> {
    format!("Received: from test by mx.example.test id {tag}\r\n").into_bytes()
}

/// The final step of an upload.
pub fn delivery(up: Upload, tag: &str, recipients: &[UserId]) -> Delivery {
    Delivery {
        upload: up.id,
        chunks_sent: up.chunks_sent,
        prefix: prefix(tag),
        tail: up.tail,
        summary: vec![1, 2, 3],
        internal_date: 1_700_000_000,
        recipients: recipients.iter().map(|u| LocalCopy::inbox(*u)).collect(),
        queue: None,
        junk: false,
        quota: true,
    }
}

/// Uploads and delivers `data`.
pub fn deliver(
    store: &Store,
    tag: &str,
    data: &[u8],
    recipients: &[UserId],
) -> store::Result<Done> {
    let up = upload(store, data);
    store.call_blocking(Op::Deliver(delivery(up, tag, recipients)))
}

/// A delivery's copies, or a panic naming what came back instead.
pub fn copies(done: store::Result<Done>) -> (store::BodyId, Vec<(UserId, MailboxId, store::Uid)>) {
    match done {
        Ok(Done::Delivered { body, copies, .. }) => (body, copies),
        other => panic!("expected a delivery, got {other:?}"),
    }
}

/// The stored bytes of one message.
pub fn read_message(store: &Store, mailbox: MailboxId, uid: u32) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    store
        .write_message_blocking(mailbox, uid, &mut out)
        .expect("read message")
        .then_some(out)
}

/// Adds the test domain and users; returns their ids in order.
pub fn setup_users(store: &Store, emails: &[&str]) -> Vec<UserId> {
    store
        .call_blocking(Op::AddDomain("example.test".into()))
        .expect("add domain");
    emails
        .iter()
        .map(|e| add_user(store, e))
        .collect::<Vec<_>>()
}

pub fn add_user(store: &Store, email: &str) -> UserId {
    match store.call_blocking(Op::AddUser {
        email: email.to_string(),
        password_hash: "$argon2id$test".into(),
    }) {
        Ok(Done::User(id)) => id,
        other => panic!("add user {email}: {other:?}"),
    }
}

/// A user's INBOX id.
pub fn inbox(store: &Store, user: UserId) -> MailboxId {
    store
        .mailbox(user, "INBOX")
        .expect("read mailbox")
        .expect("INBOX exists")
        .id
}

/// Asserts the store's own invariant check finds nothing.
pub fn assert_checked(store: &Store, when: &str) {
    let problems = store.check().expect("check runs");
    assert!(problems.is_empty(), "{when}: check() found {problems:#?}");
}

/// Asserts every mailbox's counters (messages, unseen, bytes, UIDNEXT, HIGHESTMODSEQ) match its
/// rows, that every message's modseq is in 1..=HIGHESTMODSEQ and its keywords are spelled as in
/// the mailbox's list, that VANISHED knows no UID that is present or not yet given, then that
/// `check()` is empty.
pub fn assert_consistent(store: &Store, when: &str) {
    for u in store.users().expect("users") {
        for mb in store.mailboxes(u.id).expect("mailboxes") {
            let msgs = store.messages(mb.id).expect("messages");
            let bytes: u64 = msgs.iter().map(|m| m.row.size).sum();
            let unseen = msgs
                .iter()
                .filter(|m| m.row.flags & store::flags::SEEN == 0)
                .count();
            let max_uid = msgs.iter().map(|m| m.uid.get()).max().unwrap_or(0);
            let row = &mb.row;
            assert_eq!(
                (row.messages as usize, row.unseen as usize, row.bytes),
                (msgs.len(), unseen, bytes),
                "{when}: counters of {} {}",
                u.row.email,
                row.name
            );
            assert!(
                row.uidnext > max_uid,
                "{when}: uidnext {} of {} {} is not above uid {max_uid}",
                row.uidnext,
                u.row.email,
                row.name
            );
            for m in &msgs {
                assert!(
                    m.row.modseq >= 1 && m.row.modseq <= row.highest_modseq,
                    "{when}: modseq {} outside 1..={} in {} {}",
                    m.row.modseq,
                    row.highest_modseq,
                    u.row.email,
                    row.name
                );
                for k in &m.row.keywords {
                    assert!(
                        row.keywords.contains(k),
                        "{when}: keyword {k} of {} {} uid {} is not in the mailbox's list {:?}",
                        u.row.email,
                        row.name,
                        m.uid.get(),
                        row.keywords
                    );
                }
            }
            if let Some(store::Vanished::Exact(gone)) =
                store.vanished_since(mb.id, 0).expect("vanished")
            {
                for g in gone {
                    assert!(
                        g.get() < row.uidnext && !msgs.iter().any(|m| m.uid == g),
                        "{when}: vanished uid {} of {} {} is present or not yet given",
                        g.get(),
                        u.row.email,
                        row.name
                    );
                }
            }
        }
    }
    assert_checked(store, when);
}

/// Every row of every table, read with a raw redb handle: keys, the small values, and the
/// parts of message and body rows the chunk layout depends on.
#[derive(Debug, Default)]
pub struct Raw {
    pub meta: BTreeMap<String, u64>,
    pub users: BTreeSet<u64>,
    pub user_by_email: BTreeMap<String, u64>,
    pub mailboxes: BTreeSet<u64>,
    pub mailbox_by_name: BTreeMap<(u64, String), u64>,
    /// (mailbox, UID) → the body the message row names.
    pub messages: BTreeMap<(u64, u32), u64>,
    /// Body id → row.
    pub bodies: BTreeMap<u64, BodyRow>,
    /// (body id, sequence number) → the chunk's bytes.
    pub chunks: BTreeMap<(u64, u32), Chunk>,
    /// Upload body id → chunks written (uploads whose delivery has not committed).
    pub uploads: BTreeMap<u64, u32>,
    /// Body id → summary.
    pub summaries: BTreeMap<u64, Vec<u8>>,
    /// Bodies whose deletion waits for readers.
    pub parked: BTreeSet<u64>,
    /// (mailbox, modseq, uid) of expunged messages.
    pub vanished: BTreeSet<(u64, u64, u32)>,
    /// (user, name) subscribed.
    pub subscriptions: BTreeSet<(u64, String)>,
    /// (user, seq) → (body, spam, time).
    pub training: BTreeMap<(u64, u64), (u64, bool, u64)>,
    /// Queue id → (the body its row names, its next attempt).
    pub queue: BTreeMap<u64, (u64, u64)>,
    /// (next attempt, queue id) of the queue's due index.
    pub queue_due: BTreeSet<(u64, u64)>,
}

/// The bytes of one chunk row; compared in full, but shown as their length and a fingerprint
/// (a failed comparison of whole tables would otherwise print megabytes).
#[derive(Clone, PartialEq, Eq)]
pub struct Chunk(pub Vec<u8>);

impl std::fmt::Debug for Chunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fnv = self.0.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
        });
        write!(f, "Chunk({} bytes, fnv {fnv:016x})", self.0.len())
    }
}

/// A body row, decoded here from its documented encoding (the store's own decoder is private
/// to the crate): version 2, refs u32, size u64, prefix, chunks u32, inline.
fn decode_body(b: &[u8]) -> Option<BodyRow> {
    let mut d = Dec(b);
    (d.u8()? == 2).then_some(())?;
    let (refs, size) = (d.u32()?, d.u64()?);
    let prefix = d.bytes()?.to_vec();
    let chunks = d.u32()?;
    let inline = d.bytes()?.to_vec();
    d.rest().is_empty().then_some(())?;
    Some(BodyRow {
        refs,
        size,
        prefix,
        chunks,
        inline,
    })
}

/// The body id a message row names (version 1, then the body id).
fn decode_message_body(b: &[u8]) -> Option<u64> {
    let mut d = Dec(b);
    (d.u8()? == 1).then_some(())?;
    d.u64()
}

/// The body id and next attempt a queue row names (version 1, body id, sender, created, next
/// attempt, then the rest).
fn decode_queue_row(b: &[u8]) -> Option<(u64, u64)> {
    let mut d = Dec(b);
    (d.u8()? == 1).then_some(())?;
    let body = d.u64()?;
    d.string()?;
    d.u64()?;
    Some((body, d.u64()?))
}

impl Raw {
    /// Reads every table; a table that does not exist yet (a store never opened, or a crash
    /// before its first commit) reads as empty.
    pub fn read(db: &redb::Database) -> Raw {
        let txn = db.begin_read().expect("begin read");
        let mut raw = Raw::default();
        macro_rules! each {
            ($table:expr, |$k:ident, $v:ident| $body:expr) => {
                match txn.open_table($table) {
                    Ok(t) => {
                        for e in t.iter().expect("iterate") {
                            let ($k, $v) = e.expect("read row");
                            $body;
                        }
                    }
                    Err(redb::TableError::TableDoesNotExist(_)) => {}
                    Err(e) => panic!("open table: {e}"),
                }
            };
        }
        each!(META, |k, v| raw
            .meta
            .insert(k.value().to_string(), v.value()));
        each!(USERS, |k, _v| raw.users.insert(k.value()));
        each!(USER_BY_EMAIL, |k, v| raw
            .user_by_email
            .insert(k.value().to_string(), v.value()));
        each!(MAILBOXES, |k, _v| raw.mailboxes.insert(k.value()));
        each!(MAILBOX_BY_NAME, |k, v| {
            let (user, name) = k.value();
            raw.mailbox_by_name
                .insert((user, name.to_string()), v.value())
        });
        each!(MESSAGES, |k, v| {
            let body = decode_message_body(v.value())
                .unwrap_or_else(|| panic!("message row {:?} does not decode", k.value()));
            raw.messages.insert(k.value(), body)
        });
        each!(BODIES, |k, v| {
            let row = decode_body(v.value())
                .unwrap_or_else(|| panic!("body row {} does not decode", k.value()));
            raw.bodies.insert(k.value(), row)
        });
        each!(CHUNKS, |k, v| raw
            .chunks
            .insert(k.value(), Chunk(v.value().to_vec())));
        each!(UPLOADS, |k, v| raw.uploads.insert(k.value(), v.value()));
        each!(SUMMARIES, |k, v| raw
            .summaries
            .insert(k.value(), v.value().to_vec()));
        each!(PARKED, |k, _v| raw.parked.insert(k.value()));
        each!(VANISHED, |k, _v| raw.vanished.insert(k.value()));
        each!(SUBSCRIPTIONS, |k, _v| {
            let (user, name) = k.value();
            raw.subscriptions.insert((user, name.to_string()))
        });
        each!(TRAINING, |k, v| raw.training.insert(k.value(), v.value()));
        each!(QUEUE, |k, v| {
            let row = decode_queue_row(v.value())
                .unwrap_or_else(|| panic!("queue row {} does not decode", k.value()));
            raw.queue.insert(k.value(), row)
        });
        each!(QUEUE_DUE, |k, _v| raw.queue_due.insert(k.value()));
        raw
    }

    /// The sequence numbers of the chunk rows stored under `body`, in key order.
    pub fn chunk_seqs(&self, body: u64) -> Vec<u32> {
        self.chunks
            .range((body, 0)..=(body, u32::MAX))
            .map(|((_, seq), _)| *seq)
            .collect()
    }

    /// The bytes of `body`'s chunk rows, concatenated in key order.
    pub fn chunk_bytes(&self, body: u64) -> Vec<u8> {
        self.chunks
            .range((body, 0)..=(body, u32::MAX))
            .flat_map(|(_, c)| c.0.iter().copied())
            .collect()
    }

    /// Chunk rows held by uploads whose delivery has not committed.
    pub fn upload_chunks(&self) -> usize {
        self.uploads.values().map(|n| *n as usize).sum()
    }

    /// Facts about bodies and chunks that every committed state keeps (crash images included):
    /// the chunk rows are exactly `(body, 0..chunks)` of every body plus `(upload, 0..n)` of
    /// every `UPLOADS` row, nothing else, each exactly `CHUNK_BYTES`; an upload's id is never a
    /// body's; every upload row counts at least one chunk; a body's size is its prefix, chunks
    /// and inline bytes; every body has a summary and every summary a body; a body's `refs` is
    /// the number of message and queue rows naming it, 0 only for a body listed in `PARKED`
    /// (whose deletion waits for a reader), and `PARKED` lists nothing else; and the queue's due
    /// index holds exactly one entry per queue row, its next attempt.
    pub fn assert_bodies_and_chunks(&self, when: &str) {
        let mut want: BTreeSet<(u64, u32)> = BTreeSet::new();
        for (id, b) in &self.bodies {
            want.extend((0..b.chunks).map(|s| (*id, s)));
        }
        for (id, n) in &self.uploads {
            assert!(
                !self.bodies.contains_key(id),
                "{when}: upload {id} has the id of a stored body"
            );
            assert!(*n > 0, "{when}: upload {id} is listed with no chunks");
            want.extend((0..*n).map(|s| (*id, s)));
        }
        let have: BTreeSet<(u64, u32)> = self.chunks.keys().copied().collect();
        for (key, c) in &self.chunks {
            assert_eq!(c.0.len(), CHUNK_BYTES, "{when}: chunk {key:?} is not full");
        }
        let bodies: BTreeSet<u64> = self.bodies.keys().copied().collect();
        let summarised: BTreeSet<u64> = self.summaries.keys().copied().collect();
        assert_eq!(
            bodies, summarised,
            "{when}: bodies and summaries are keyed differently"
        );
        let missing: Vec<_> = want.difference(&have).collect();
        let stray: Vec<_> = have.difference(&want).collect();
        assert!(
            missing.is_empty() && stray.is_empty(),
            "{when}: chunk rows missing {missing:?}, held by no body or upload {stray:?}"
        );
        let mut uses: BTreeMap<u64, u32> = BTreeMap::new();
        for ((mbox, uid), body) in &self.messages {
            assert!(
                self.bodies.contains_key(body),
                "{when}: message ({mbox}, {uid}) names missing body {body}"
            );
            *uses.entry(*body).or_default() += 1;
        }
        for (id, (body, _)) in &self.queue {
            assert!(
                self.bodies.contains_key(body),
                "{when}: queue row {id:x} names missing body {body}"
            );
            *uses.entry(*body).or_default() += 1;
        }
        let due: BTreeSet<(u64, u64)> = self.queue.iter().map(|(id, (_, n))| (*n, *id)).collect();
        assert_eq!(due, self.queue_due, "{when}: the queue's due index");
        for (id, b) in &self.bodies {
            assert_eq!(
                b.refs == 0,
                self.parked.contains(id),
                "{when}: body {id} has refs {} but is {}in PARKED",
                b.refs,
                if self.parked.contains(id) { "" } else { "not " }
            );
            assert_eq!(
                b.refs,
                uses.get(id).copied().unwrap_or(0),
                "{when}: refs of body {id}"
            );
            let len = b.prefix.len() + self.chunk_bytes(*id).len() + b.inline.len();
            assert_eq!(b.size, len as u64, "{when}: size of body {id}");
        }
    }

    /// Cross-table facts that hold whenever no upload is in flight and no reader is alive (after
    /// a clean close, or after the open that follows a crash): indexes are exact inverses, every
    /// message row and VANISHED entry belongs to a mailbox and every mailbox, subscription and
    /// training event to a user, no upload is marked unfinished, no body is parked, and every
    /// chunk belongs to a body ([`Raw::assert_bodies_and_chunks`]).
    pub fn assert_closed_consistent(&self, when: &str) {
        let indexed_users: BTreeSet<u64> = self.user_by_email.values().copied().collect();
        assert_eq!(
            indexed_users, self.users,
            "{when}: the address index and the user rows differ"
        );
        assert_eq!(
            indexed_users.len(),
            self.user_by_email.len(),
            "{when}: two addresses name one user"
        );
        let named: BTreeSet<u64> = self.mailbox_by_name.values().copied().collect();
        assert_eq!(
            named, self.mailboxes,
            "{when}: the mailbox name index and the mailbox rows differ"
        );
        for (user, _) in self.mailbox_by_name.keys() {
            assert!(
                self.users.contains(user),
                "{when}: a mailbox belongs to missing user {user}"
            );
        }
        for (mbox, uid) in self.messages.keys() {
            assert!(
                self.mailboxes.contains(mbox),
                "{when}: message ({mbox}, {uid}) is in a missing mailbox"
            );
        }
        assert!(
            self.uploads.is_empty(),
            "{when}: unfinished uploads are still marked: {:?}",
            self.uploads
        );
        assert!(
            self.parked.is_empty(),
            "{when}: parked bodies remain with no reader alive: {:?}",
            self.parked
        );
        for (mbox, _, uid) in &self.vanished {
            assert!(
                self.mailboxes.contains(mbox),
                "{when}: vanished uid {uid} of missing mailbox {mbox}"
            );
        }
        for (user, name) in &self.subscriptions {
            assert!(
                self.users.contains(user),
                "{when}: subscription {name} of missing user {user}"
            );
        }
        for (user, seq) in self.training.keys() {
            assert!(
                self.users.contains(user),
                "{when}: training event {seq} of missing user {user}"
            );
        }
        self.assert_bodies_and_chunks(when);
    }
}

/// Reads every table of a store file that may still be open (or was left by a crash) through
/// a copy, so the file itself is not touched: the copy is opened (redb recovers the last
/// commit), must then pass redb's integrity check, and is read.
pub fn raw_file(path: &std::path::Path, when: &str) -> Raw {
    let copy = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::copy(path, copy.path()).unwrap_or_else(|e| panic!("{when}: copy store: {e}"));
    let mut db = redb::Database::open(copy.path())
        .unwrap_or_else(|e| panic!("{when}: raw open failed: {e}"));
    let clean = db
        .check_integrity()
        .unwrap_or_else(|e| panic!("{when}: check_integrity failed: {e}"));
    assert!(clean, "{when}: check_integrity had to repair the file");
    Raw::read(&db)
}

/// Opens a raw redb handle on `image` and reads every table; also runs redb's own integrity
/// check, which must find the file clean.
pub fn raw_image(image: Vec<u8>, when: &str) -> Raw {
    let mut db = redb::Database::builder()
        .create_with_backend(MemBackend::with_image(image))
        .unwrap_or_else(|e| panic!("{when}: raw open failed: {e}"));
    let clean = db
        .check_integrity()
        .unwrap_or_else(|e| panic!("{when}: check_integrity failed: {e}"));
    assert!(clean, "{when}: check_integrity had to repair the file");
    Raw::read(&db)
}

/// A UID from a number.
pub fn uid(n: u32) -> store::Uid {
    store::Uid(std::num::NonZeroU32::new(n).expect("uid is not 0"))
}

/// UIDs as numbers.
pub fn nums(uids: &[store::Uid]) -> Vec<u32> {
    uids.iter().map(|u| u.get()).collect()
}

/// The UIDs of a mailbox's messages.
pub fn uids_in(store: &Store, mailbox: MailboxId) -> Vec<u32> {
    store
        .messages(mailbox)
        .expect("messages")
        .iter()
        .map(|m| m.uid.get())
        .collect()
}

/// A mailbox's row, which must exist.
pub fn mailbox_row(store: &Store, mailbox: MailboxId) -> store::MailboxRow {
    store
        .mailbox_by_id(mailbox)
        .expect("read mailbox")
        .expect("mailbox exists")
        .row
}

/// A user's mailbox by name, which must exist.
pub fn mailbox_named(store: &Store, user: UserId, name: &str) -> MailboxId {
    store
        .mailbox(user, name)
        .expect("read mailbox")
        .unwrap_or_else(|| panic!("no mailbox {name}"))
        .id
}

/// Creates a mailbox; returns its id.
pub fn create_mailbox(store: &Store, user: UserId, name: &str) -> MailboxId {
    match store.call_blocking(Op::CreateMailbox {
        user,
        name: name.into(),
        special_use: store::SpecialUse::None,
    }) {
        Ok(Done::Mailbox { id, .. }) => id,
        other => panic!("create {name}: {other:?}"),
    }
}

/// Uploads `data` and appends it to `mailbox`.
pub fn append(
    store: &Store,
    mailbox: MailboxId,
    data: &[u8],
    flags: u32,
    keywords: &[&str],
) -> store::Result<Done> {
    let up = upload(store, data);
    let id = up.id;
    let result = store.call_blocking(Op::Append {
        upload: up.id,
        chunks_sent: up.chunks_sent,
        mailbox,
        flags,
        keywords: keywords.iter().map(|k| k.to_string()).collect(),
        internal_date: 1_700_000_100,
        tail: up.tail,
        summary: summary_of(data),
    });
    if result.is_err() {
        store.call_blocking(Op::Discard(id)).expect("discard");
    }
    result
}

/// The summary a test stores with `data` (any bytes will do; these name the message).
pub fn summary_of(data: &[u8]) -> Vec<u8> {
    let mut s = b"summary:".to_vec();
    s.extend_from_slice(&data[..data.len().min(40)]);
    s
}

/// An append's (body, uidvalidity, uid), or a panic naming what came back instead.
pub fn appended(done: store::Result<Done>) -> (store::BodyId, u32, store::Uid) {
    match done {
        Ok(Done::Appended {
            body,
            uidvalidity,
            uid,
        }) => (body, uidvalidity, uid),
        other => panic!("expected an append, got {other:?}"),
    }
}

/// Runs a STORE.
pub fn set_flags(
    store: &Store,
    mailbox: MailboxId,
    uids: std::ops::RangeInclusive<u32>,
    mode: store::StoreMode,
    flags: u32,
    keywords: &[&str],
    unchanged_since: Option<u64>,
) -> store::Result<Done> {
    store.call_blocking(Op::Store {
        mailbox,
        uids: vec![uids],
        mode,
        flags,
        keywords: keywords.iter().map(|k| k.to_string()).collect(),
        unchanged_since,
    })
}

/// Flags `\Deleted` on `uids` and expunges them (only them).
pub fn delete_and_expunge(
    store: &Store,
    mailbox: MailboxId,
    uids: std::ops::RangeInclusive<u32>,
) -> Vec<u32> {
    set_flags(
        store,
        mailbox,
        uids.clone(),
        store::StoreMode::Add,
        store::flags::DELETED,
        &[],
        None,
    )
    .expect("flag deleted");
    match store.call_blocking(Op::Expunge {
        mailbox,
        uids: Some(vec![uids]),
    }) {
        Ok(Done::Expunged { uids, .. }) => nums(&uids),
        other => panic!("expunge: {other:?}"),
    }
}

/// The whole body through a [`store::BodyReader`], read in pieces of `step` bytes.
pub fn read_body(reader: &store::BodyReader, step: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0; step];
    loop {
        let n = reader.read_at(out.len() as u64, &mut buf).expect("read_at");
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

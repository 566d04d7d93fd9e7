//! The store through its public API, on a real file (and, where one batch must be forced, on a
//! gated in-memory backend): one body per delivery shared by its recipients, chunk rows owned by
//! exactly one body and keyed `(body, 0..n)`, identical payloads stored independently, discards,
//! refusals inside a group commit, user deletion, UIDs and mailbox counters, the schema-version
//! guard, the clean-up of chunks left by unfinished uploads, and the creation of a new store file.
//! Every scenario ends with `check()` empty and a raw look at the tables (`store_support::Raw`)
//! that the API cannot give.

mod store_support;

use mailnook::store::schema::{META, SCHEMA_VERSION};
use mailnook::store::{BodyId, CHUNK_BYTES, Done, Error, MailboxId, Op, Refusal, Store, UserId};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use store_support::*;

/// A store on a file in a temporary folder, closed and reopened at will.
struct Fixture {
    dir: tempfile::TempDir,
    store: Option<Store>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("mailnook-store")
            .tempdir()
            .expect("tempdir");
        let mut f = Fixture { dir, store: None };
        f.reopen();
        f
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("mail.redb")
    }

    fn store(&self) -> &Store {
        self.store.as_ref().expect("store open")
    }

    fn reopen(&mut self) {
        assert!(self.store.is_none());
        self.store = Some(Store::open(&self.path(), CACHE_BYTES).expect("open store"));
    }

    fn close(&mut self) {
        self.store.take().expect("store open").close();
    }

    /// Closes the store and reads every table with a raw redb handle (after redb's integrity
    /// check). The store stays closed.
    fn raw_closed(&mut self) -> Raw {
        if let Some(s) = self.store.take() {
            s.close();
        }
        let mut db = redb::Database::create(self.path()).expect("raw open");
        assert!(
            db.check_integrity().expect("check_integrity"),
            "redb repaired a cleanly closed store"
        );
        Raw::read(&db)
    }

    /// [`Fixture::raw_closed`], then reopens the store.
    fn raw(&mut self) -> Raw {
        let raw = self.raw_closed();
        self.reopen();
        raw
    }

    /// The tables as committed so far, read from a copy of the file while the store stays open
    /// (so uploads in flight stay in flight): first a durable request commits what the writer's
    /// open transaction holds (chunk puts and discards ride along with the next durable commit).
    fn raw_live(&self, when: &str) -> Raw {
        commit_now(self.store());
        raw_file(&self.path(), when)
    }
}

/// A durable request: the writer commits its open transaction before answering it.
fn commit_now(store: &Store) {
    store
        .call_blocking(Op::SetSetting {
            key: "smtp.max_errors".into(),
            value: Some("9".into()),
        })
        .expect("durable request");
}

/// The expected bytes of a stored message.
fn stored(tag: &str, data: &[u8]) -> Vec<u8> {
    let mut v = prefix(tag);
    v.extend_from_slice(data);
    v
}

/// How many chunk rows a body of `len` data bytes has: its full chunks (`MessageSink` sends a
/// chunk when it is full); the rest is kept inline in the body row.
fn chunk_count(len: usize) -> usize {
    len / CHUNK_BYTES
}

/// The full chunks of `data`, in order.
fn full_chunks(data: &[u8]) -> Vec<&[u8]> {
    data.chunks_exact(CHUNK_BYTES).collect()
}

/// Asserts the layout of a body row read through the API: `chunks` full chunks of `data`, the
/// rest inline, the trace prefix before it, and the size of the whole.
fn assert_row_layout(store: &Store, body: BodyId, tag: &str, data: &[u8], refs: u32) {
    let row = store
        .body(body)
        .expect("read body")
        .unwrap_or_else(|| panic!("{tag}: body {body:?} missing"));
    let n = chunk_count(data.len());
    assert_eq!(row.refs, refs, "{tag}: refs");
    assert_eq!(
        row.chunks as usize,
        n,
        "{tag}: chunks of a {}-byte body",
        data.len()
    );
    assert!(row.inline == data[n * CHUNK_BYTES..], "{tag}: inline tail");
    assert_eq!(row.prefix, prefix(tag), "{tag}: prefix");
    assert_eq!(row.size, stored(tag, data).len() as u64, "{tag}: size");
}

/// Asserts that `body`'s chunk rows on disk are exactly `(body, 0..n)` holding `data`'s full
/// chunks in order, and that its row keeps the rest inline.
fn assert_stored_layout(raw: &Raw, body: u64, data: &[u8], when: &str) {
    let row = raw
        .bodies
        .get(&body)
        .unwrap_or_else(|| panic!("{when}: body {body} missing"));
    let chunks = full_chunks(data);
    assert_eq!(
        row.chunks as usize,
        chunks.len(),
        "{when}: chunks of body {body}"
    );
    assert_eq!(
        raw.chunk_seqs(body),
        (0..chunks.len() as u32).collect::<Vec<_>>(),
        "{when}: chunk keys of body {body}"
    );
    for (i, c) in chunks.iter().enumerate() {
        assert!(
            raw.chunks[&(body, i as u32)].0 == *c,
            "{when}: chunk {i} of body {body} differs from the data"
        );
    }
    assert!(
        row.inline == data[chunks.len() * CHUNK_BYTES..],
        "{when}: inline tail of body {body}"
    );
}

/// Asserts that an unfinished upload with id `id` is marked in `UPLOADS` with `data`'s full
/// chunks, stored as `(id, 0..n)`.
fn assert_upload_layout(raw: &Raw, id: u64, data: &[u8], when: &str) {
    let chunks = full_chunks(data);
    assert_eq!(
        raw.uploads.get(&id),
        Some(&(chunks.len() as u32)),
        "{when}: UPLOADS row of upload {id}"
    );
    assert!(
        !raw.bodies.contains_key(&id),
        "{when}: upload {id} is also a body"
    );
    assert_eq!(
        raw.chunk_seqs(id),
        (0..chunks.len() as u32).collect::<Vec<_>>(),
        "{when}: chunk keys of upload {id}"
    );
    for (i, c) in chunks.iter().enumerate() {
        assert!(
            raw.chunks[&(id, i as u32)].0 == *c,
            "{when}: chunk {i} of upload {id} differs from the data"
        );
    }
}

/// The chunk rows of one body (or upload).
fn rows_of(raw: &Raw, id: u64) -> BTreeMap<(u64, u32), Chunk> {
    raw.chunks
        .range((id, 0)..=(id, u32::MAX))
        .map(|(k, v)| (*k, v.clone()))
        .collect()
}

fn five_recipients_share_one_body(len: usize) {
    let mut f = Fixture::new();
    let emails = ["u1", "u2", "u3", "u4", "u5", "bystander"].map(|u| format!("{u}@example.test"));
    let users = setup_users(
        f.store(),
        &emails.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let data = payload("five", len);
    let (body, cps) = copies(deliver(f.store(), "five", &data, &users[..5]));
    assert_eq!(cps.len(), 5);
    let want = stored("five", &data);
    for (i, (user, mbox, uid)) in cps.iter().enumerate() {
        assert_eq!(*user, users[i]);
        assert_eq!(*mbox, inbox(f.store(), *user));
        assert_eq!(uid.get(), 1);
        let msgs = f.store().messages(*mbox).unwrap();
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].row.body, body.0, "every copy names the one body");
        assert_eq!(msgs[0].row.size, want.len() as u64);
        assert_eq!(
            read_message(f.store(), *mbox, 1).as_deref(),
            Some(&want[..])
        );
        let mb = f.store().mailbox(*user, "INBOX").unwrap().unwrap().row;
        assert_eq!(
            (mb.messages, mb.unseen, mb.bytes, mb.uidnext),
            (1, 1, want.len() as u64, 2)
        );
    }
    let bystander = inbox(f.store(), users[5]);
    assert!(f.store().messages(bystander).unwrap().is_empty());
    assert_eq!(read_message(f.store(), bystander, 1), None);
    assert_row_layout(f.store(), body, "five", &data, 5);
    assert_consistent(f.store(), "after delivery");
    let raw = f.raw();
    assert_eq!(raw.bodies.len(), 1, "one body for five recipients");
    assert_eq!(raw.messages.len(), 5);
    assert!(
        raw.messages.values().all(|b| *b == body.0),
        "every message row names the one body"
    );
    assert_eq!(
        raw.chunks.len(),
        chunk_count(len),
        "one set of chunk rows for five recipients"
    );
    assert_stored_layout(&raw, body.0, &data, "after delivery");
    assert!(raw.uploads.is_empty());
    raw.assert_closed_consistent("after delivery");
    // And the same after a reopen.
    for (_, mbox, uid) in &cps {
        assert_eq!(
            read_message(f.store(), *mbox, uid.get()).as_deref(),
            Some(&want[..])
        );
    }
    assert_consistent(f.store(), "after reopen");
}

#[test]
fn one_inline_delivery_to_five_users_stores_one_body() {
    five_recipients_share_one_body(3_000);
}

#[test]
fn one_chunked_delivery_to_five_users_stores_one_body() {
    five_recipients_share_one_body(300_000);
}

#[test]
fn bodies_round_trip_at_chunk_boundaries() {
    let mut f = Fixture::new();
    let users = setup_users(f.store(), &["a@example.test", "b@example.test"]);
    let sizes = [
        0,
        1,
        CHUNK_BYTES - 1,
        CHUNK_BYTES,
        CHUNK_BYTES + 1,
        2 * CHUNK_BYTES,
        2 * CHUNK_BYTES + 1,
    ];
    let mut delivered: Vec<(u64, Vec<u8>)> = Vec::new();
    for (i, len) in sizes.into_iter().enumerate() {
        let tag = format!("edge{i}");
        let data = payload(&tag, len);
        let (body, cps) = copies(deliver(f.store(), &tag, &data, &users));
        assert_row_layout(f.store(), body, &tag, &data, 2);
        for (_, mbox, uid) in cps {
            assert_eq!(uid.get(), i as u32 + 1);
            assert_eq!(
                read_message(f.store(), mbox, uid.get()),
                Some(stored(&tag, &data)),
                "{len} bytes"
            );
        }
        delivered.push((body.0, data));
    }
    // A body whose chunks repeat: four chunk rows with the same bytes, each its own row (nothing
    // is shared, not even within one body), then the tail inline.
    let block = payload("block", CHUNK_BYTES);
    let mut data = block.repeat(4);
    data.extend_from_slice(b"tail\r\n");
    let (repeat, cps) = copies(deliver(f.store(), "repeat", &data, &users[..1]));
    assert_row_layout(f.store(), repeat, "repeat", &data, 1);
    assert_eq!(f.store().body(repeat).unwrap().unwrap().inline, b"tail\r\n");
    assert_eq!(
        read_message(f.store(), cps[0].1, cps[0].2.get()),
        Some(stored("repeat", &data))
    );
    assert_consistent(f.store(), "after boundary deliveries");
    let raw = f.raw();
    for (body, data) in &delivered {
        assert_stored_layout(&raw, *body, data, "after boundary deliveries");
    }
    assert_stored_layout(&raw, repeat.0, &data, "after boundary deliveries");
    assert_eq!(raw.chunk_seqs(repeat.0), vec![0, 1, 2, 3]);
    for seq in 0..4 {
        assert!(raw.chunks[&(repeat.0, seq)].0 == block);
    }
    let total: usize = sizes.iter().map(|l| chunk_count(*l)).sum::<usize>() + 4;
    assert_eq!(raw.chunks.len(), total, "one chunk row per full chunk");
    assert_eq!(raw.bodies.len(), sizes.len() + 1);
    raw.assert_closed_consistent("after boundary deliveries");
    let boundary_rows: Vec<_> = delivered.iter().map(|(b, _)| rows_of(&raw, *b)).collect();
    // Deleting the only holder of the repeated body removes its row and its four chunk rows,
    // and nothing of the bodies b still holds.
    f.store()
        .call_blocking(Op::DelUser("a@example.test".into()))
        .unwrap();
    assert_eq!(f.store().body(repeat).unwrap(), None);
    assert_consistent(f.store(), "after deleting a");
    let raw = f.raw();
    assert!(!raw.bodies.contains_key(&repeat.0));
    assert!(
        raw.chunk_seqs(repeat.0).is_empty(),
        "the repeated body's chunks remain"
    );
    for ((body, data), rows) in delivered.iter().zip(&boundary_rows) {
        assert_eq!(raw.bodies[body].refs, 1);
        assert_eq!(&rows_of(&raw, *body), rows, "body {body} changed");
        assert_stored_layout(&raw, *body, data, "after deleting a");
    }
    assert_eq!(raw.chunks.len(), total - 4);
    raw.assert_closed_consistent("after deleting a");
    // b still has every boundary message.
    let b_inbox = inbox(f.store(), users[1]);
    for (i, len) in sizes.into_iter().enumerate() {
        let tag = format!("edge{i}");
        assert_eq!(
            read_message(f.store(), b_inbox, i as u32 + 1),
            Some(stored(&tag, &payload(&tag, len)))
        );
    }
}

#[test]
fn identical_large_payloads_are_independent_bodies() {
    let mut f = Fixture::new();
    let users = setup_users(
        f.store(),
        &["a@example.test", "b@example.test", "c@example.test"],
    );
    let data = payload("shared", 300_000);
    let n = chunk_count(data.len());
    assert_eq!(n, 4);
    let (body1, c1) = copies(deliver(f.store(), "first", &data, &users[..1]));
    let (body2, c2) = copies(deliver(f.store(), "second", &data, &users[1..2]));
    assert_ne!(body1, body2, "two deliveries are two bodies");
    assert!(body2 > body1, "body ids ascend");
    assert_row_layout(f.store(), body1, "first", &data, 1);
    assert_row_layout(f.store(), body2, "second", &data, 1);
    assert_consistent(f.store(), "after two deliveries");
    let raw = f.raw();
    assert_eq!(raw.bodies.len(), 2);
    assert_eq!(raw.chunks.len(), 2 * n, "each body has its own chunk rows");
    assert_stored_layout(&raw, body1.0, &data, "after two deliveries");
    assert_stored_layout(&raw, body2.0, &data, "after two deliveries");
    raw.assert_closed_consistent("after two deliveries");
    let rows2 = rows_of(&raw, body2.0);

    f.store()
        .call_blocking(Op::DelUser("a@example.test".into()))
        .unwrap();
    assert_eq!(f.store().body(body1).unwrap(), None, "a's body went with a");
    assert_eq!(
        read_message(f.store(), c2[0].1, c2[0].2.get()),
        Some(stored("second", &data)),
        "b's copy is intact"
    );
    assert_eq!(read_message(f.store(), c1[0].1, c1[0].2.get()), None);
    assert_consistent(f.store(), "after deleting a");
    let raw = f.raw();
    assert_eq!(
        raw.bodies.keys().copied().collect::<Vec<_>>(),
        vec![body2.0]
    );
    assert!(raw.chunk_seqs(body1.0).is_empty(), "a's chunk rows remain");
    assert_eq!(raw.chunks, rows2, "only b's chunk rows, untouched");
    raw.assert_closed_consistent("after deleting a");

    // A third delivery of the same data, then the last older holder goes.
    let (body3, c3) = copies(deliver(f.store(), "third", &data, &users[2..3]));
    assert!(body3 > body2, "body ids ascend");
    f.store()
        .call_blocking(Op::DelUser("b@example.test".into()))
        .unwrap();
    assert_eq!(f.store().body(body2).unwrap(), None, "b's body went with b");
    assert_eq!(
        read_message(f.store(), c3[0].1, c3[0].2.get()),
        Some(stored("third", &data))
    );
    assert_consistent(f.store(), "after deleting b");
    let raw = f.raw();
    assert_eq!(
        raw.bodies.keys().copied().collect::<Vec<_>>(),
        vec![body3.0]
    );
    assert_eq!(raw.chunks.len(), n);
    assert_stored_layout(&raw, body3.0, &data, "after deleting b");
    raw.assert_closed_consistent("after deleting b");
}

#[test]
fn discard_removes_only_its_own_upload() {
    let mut f = Fixture::new();
    let users = setup_users(f.store(), &["a@example.test"]);
    let s = f.store().clone();

    // Alone: every chunk row and the UPLOADS row go.
    let lone_data = payload("lone", 3 * CHUNK_BYTES + 10);
    let lone = upload(&s, &lone_data);
    assert_eq!(lone.chunks_sent, 3);
    let raw = f.raw_live("lone upload in flight");
    assert_eq!(
        raw.uploads.len(),
        1,
        "the upload is not marked: {:?}",
        raw.uploads
    );
    let lone_id = *raw.uploads.keys().next().unwrap();
    assert_upload_layout(&raw, lone_id, &lone_data, "lone upload in flight");
    raw.assert_bodies_and_chunks("lone upload in flight");
    assert_checked(&s, "lone upload in flight");
    s.call_blocking(Op::Discard(lone.id)).unwrap();
    assert_consistent(&s, "after a lone discard");
    let raw = f.raw();
    assert!(
        raw.chunks.is_empty(),
        "discarded chunks remain: {:?}",
        raw.chunks.keys()
    );
    assert!(raw.uploads.is_empty() && raw.bodies.is_empty());
    raw.assert_closed_consistent("after a lone discard");

    // A stored body, then three uploads in flight: twins x and y (the same data), and z,
    // repeating the stored body's data.
    let s = f.store().clone();
    let held = payload("held", 2 * CHUNK_BYTES + 7);
    let (held_body, held_cps) = copies(deliver(&s, "held", &held, &users));
    let twin = payload("twin", 3 * CHUNK_BYTES + 10);
    let x = upload(&s, &twin);
    let x_upload = x.id;
    let y = upload(&s, &twin);
    let z = upload(&s, &held);
    let raw = f.raw_live("three uploads in flight");
    let ids: Vec<u64> = raw.uploads.keys().copied().collect();
    assert_eq!(ids.len(), 3, "uploads in flight: {:?}", raw.uploads);
    // Body ids are given at an upload's first chunk, in order, above every stored body.
    let (x_id, y_id, z_id) = (ids[0], ids[1], ids[2]);
    assert!(x_id > held_body.0);
    assert_upload_layout(&raw, x_id, &twin, "three uploads in flight");
    assert_upload_layout(&raw, y_id, &twin, "three uploads in flight");
    assert_upload_layout(&raw, z_id, &held, "three uploads in flight");
    assert_stored_layout(&raw, held_body.0, &held, "three uploads in flight");
    assert_eq!(raw.chunks.len(), 2 + 3 + 3 + 2);
    raw.assert_bodies_and_chunks("three uploads in flight");
    assert_checked(&s, "three uploads in flight");
    let before = raw;

    // Discarding y removes exactly y's chunk rows and UPLOADS row: not its twin's, not the
    // stored body's.
    s.call_blocking(Op::Discard(y.id)).unwrap();
    let raw = f.raw_live("after discarding y");
    let mut want_chunks = before.chunks.clone();
    want_chunks.retain(|(id, _), _| *id != y_id);
    let mut want_uploads = before.uploads.clone();
    want_uploads.remove(&y_id);
    assert_eq!(
        raw.chunks, want_chunks,
        "discarding y touched other chunk rows"
    );
    assert_eq!(raw.uploads, want_uploads);
    assert_eq!(raw.bodies, before.bodies);
    raw.assert_bodies_and_chunks("after discarding y");
    assert_checked(&s, "after discarding y");

    // x, y's twin, is delivered: its body takes over x's id and chunk rows unchanged.
    let (x_body, x_cps) = copies(s.call_blocking(Op::Deliver(delivery(x, "twin", &users))));
    assert_eq!(
        x_body.0, x_id,
        "the body keeps the id its upload's chunks were stored under"
    );
    assert_eq!(
        read_message(&s, x_cps[0].1, x_cps[0].2.get()),
        Some(stored("twin", &twin))
    );
    let raw = f.raw_live("after delivering x");
    assert_eq!(raw.chunks, want_chunks, "delivering x moved chunk rows");
    assert_eq!(raw.uploads.keys().copied().collect::<Vec<_>>(), vec![z_id]);
    assert_stored_layout(&raw, x_id, &twin, "after delivering x");
    raw.assert_bodies_and_chunks("after delivering x");
    let before = raw;

    // Discarding z, whose bytes equal the stored body's, leaves that body whole.
    s.call_blocking(Op::Discard(z.id)).unwrap();
    let raw = f.raw_live("after discarding z");
    let mut want_chunks = before.chunks.clone();
    want_chunks.retain(|(id, _), _| *id != z_id);
    assert_eq!(raw.chunks, want_chunks);
    assert!(raw.uploads.is_empty());
    assert_eq!(raw.bodies, before.bodies);
    assert_stored_layout(&raw, held_body.0, &held, "after discarding z");
    raw.assert_bodies_and_chunks("after discarding z");
    let before = raw;

    // The other order, within one open transaction (no commit between put and discard): twins
    // p and q, p delivered, then q discarded.
    let p = upload(&s, &twin);
    let q = upload(&s, &twin);
    let (p_body, p_cps) = copies(s.call_blocking(Op::Deliver(delivery(p, "twin2", &users))));
    s.call_blocking(Op::Discard(q.id)).unwrap();
    assert_consistent(&s, "after twin uploads");
    let raw = f.raw_live("after delivering p and discarding q");
    assert!(
        raw.uploads.is_empty(),
        "q is still marked: {:?}",
        raw.uploads
    );
    assert_stored_layout(&raw, p_body.0, &twin, "after delivering p");
    let mut want_chunks = before.chunks.clone();
    want_chunks.extend(rows_of(&raw, p_body.0));
    assert_eq!(raw.chunks, want_chunks, "q left chunk rows or took others");
    raw.assert_bodies_and_chunks("after discarding q");
    let before = raw;

    // Discarding an upload again, one that was delivered, or one the store never saw changes
    // nothing.
    for id in [q.id, z.id, x_upload, s.new_upload()] {
        s.call_blocking(Op::Discard(id)).unwrap();
    }
    assert_consistent(&s, "after discarding finished uploads");
    let raw = f.raw();
    assert_eq!(raw.chunks, before.chunks);
    assert_eq!(raw.bodies, before.bodies);
    assert_eq!(raw.messages, before.messages);
    assert_eq!(raw.meta, before.meta);
    assert_eq!(raw.bodies.len(), 3);
    assert_eq!(raw.chunks.len(), 2 + 3 + 3);
    raw.assert_closed_consistent("after discards");
    let s = f.store();
    for ((_, mbox, uid), (tag, data)) in [
        (held_cps[0], ("held", &held)),
        (x_cps[0], ("twin", &twin)),
        (p_cps[0], ("twin2", &twin)),
    ] {
        assert_eq!(read_message(s, mbox, uid.get()), Some(stored(tag, data)));
    }
}

/// A backend whose syncs can be held, so the writer can be parked inside one commit while the
/// next requests queue up: they then form one batch by construction.
#[derive(Debug, Clone, Default)]
struct GatedBackend {
    mem: MemBackend,
    gate: Arc<(Mutex<Gate>, Condvar)>,
}

#[derive(Debug, Default)]
struct Gate {
    closed: bool,
    waiting: bool,
}

impl GatedBackend {
    fn set(&self, closed: bool) {
        let (m, cv) = &*self.gate;
        m.lock().unwrap().closed = closed;
        cv.notify_all();
    }

    /// Blocks until a sync is held at the closed gate.
    fn wait_for_held_sync(&self) {
        let (m, cv) = &*self.gate;
        let mut g = m.lock().unwrap();
        while !g.waiting {
            let (next, timeout) = cv
                .wait_timeout(g, std::time::Duration::from_secs(20))
                .unwrap();
            assert!(!timeout.timed_out(), "the writer never synced");
            g = next;
        }
    }
}

impl redb::StorageBackend for GatedBackend {
    fn len(&self) -> Result<u64, std::io::Error> {
        self.mem.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.mem.read(offset, out)
    }
    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        self.mem.set_len(len)
    }
    fn sync_data(&self) -> Result<(), std::io::Error> {
        let (m, cv) = &*self.gate;
        let mut g = m.lock().unwrap();
        while g.closed {
            g.waiting = true;
            cv.notify_all();
            g = cv.wait(g).unwrap();
        }
        g.waiting = false;
        Ok(())
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        self.mem.write(offset, data)
    }
}

/// Every mailbox row of every user, for before/after comparisons.
fn mailbox_rows(store: &Store) -> BTreeMap<u64, mailnook::store::MailboxRow> {
    let mut out = BTreeMap::new();
    for u in store.users().unwrap() {
        for mb in store.mailboxes(u.id).unwrap() {
            out.insert(mb.id.0, mb.row);
        }
    }
    out
}

#[test]
fn refused_deliveries_change_nothing_and_their_batch_commits() {
    let backend = GatedBackend::default();
    let store = Store::open_with_backend(backend.clone(), CACHE_BYTES).expect("open");
    let users = setup_users(
        &store,
        &["a@example.test", "b@example.test", "gone@example.test"],
    );
    let (a, b, gone) = (users[0], users[1], users[2]);
    store
        .call_blocking(Op::DelUser("gone@example.test".into()))
        .unwrap();
    let first = payload("before", 1000);
    copies(deliver(&store, "before", &first, &[a]));

    // Alone, outside any batch: each refusal leaves every table as it was.
    let before_rows = mailbox_rows(&store);
    let before_raw = {
        store.close();
        let raw = raw_image(backend.mem.image(), "before refusals");
        raw.assert_closed_consistent("before refusals");
        raw
    };
    let store = Store::open_with_backend(backend.clone(), CACHE_BYTES).expect("reopen");
    let lost = upload(&store, &payload("lost", 2 * CHUNK_BYTES + 3));
    let mut d = delivery(lost, "lost", &[a]);
    d.chunks_sent += 1;
    let lost_id = d.upload;
    assert!(matches!(
        store.call_blocking(Op::Deliver(d)),
        Err(Error::Refused(Refusal::UploadLost))
    ));
    let nobody = delivery(
        upload(&store, &payload("nobody", 2 * CHUNK_BYTES + 3)),
        "nobody",
        &[gone, UserId(999)],
    );
    let nobody_id = nobody.upload;
    assert!(matches!(
        store.call_blocking(Op::Deliver(nobody)),
        Err(Error::Refused(Refusal::NoRecipients))
    ));
    assert_eq!(
        mailbox_rows(&store),
        before_rows,
        "a refusal moved a counter"
    );
    // A refused delivery leaves its upload in flight, its chunk rows marked in UPLOADS (the
    // refusals were durable requests, so their commit carried the chunks to disk); the caller
    // discards it.
    let in_flight = raw_image(backend.mem.image(), "after refusals, before discards");
    assert_eq!(
        in_flight.uploads.values().copied().collect::<Vec<_>>(),
        vec![2, 2],
        "the refused uploads are not both marked"
    );
    assert_eq!(in_flight.bodies, before_raw.bodies);
    assert_eq!(in_flight.messages, before_raw.messages);
    in_flight.assert_bodies_and_chunks("after refusals, before discards");
    store.call_blocking(Op::Discard(lost_id)).unwrap();
    store.call_blocking(Op::Discard(nobody_id)).unwrap();
    // Discarding an upload the store never saw is harmless.
    store
        .call_blocking(Op::Discard(store.new_upload()))
        .unwrap();
    assert_eq!(
        mailbox_rows(&store),
        before_rows,
        "a discard moved a counter"
    );
    assert_consistent(&store, "after refusals");
    store.close();
    let raw = raw_image(backend.mem.image(), "after refusals");
    assert_eq!(raw.meta, before_raw.meta);
    assert_eq!(raw.messages, before_raw.messages);
    assert_eq!(raw.bodies, before_raw.bodies);
    assert_eq!(raw.mailboxes, before_raw.mailboxes);
    assert_eq!(raw.chunks, before_raw.chunks);
    raw.assert_closed_consistent("after refusals");

    // Inside one batch: the refusals and the good requests are queued while the writer is
    // parked in the previous commit's sync, so they share one transaction.
    let store = Store::open_with_backend(backend.clone(), CACHE_BYTES).expect("reopen");
    let before_rows = mailbox_rows(&store);
    let lost = upload(&store, &payload("lost2", 2 * CHUNK_BYTES + 3));
    let mut lost_delivery = delivery(lost, "lost2", &[a, b]);
    lost_delivery.chunks_sent = 1;
    let lost_id = lost_delivery.upload;
    let good_small = payload("good-small", 2000);
    let good_big = payload("good-big", 200_000);
    let big_up = upload(&store, &good_big);
    let small_up = upload(&store, &good_small);
    let nobody_up = upload(&store, &payload("nobody2", 500));

    backend.set(true);
    let parked = {
        let s = store.clone();
        std::thread::spawn(move || {
            s.call_blocking(Op::SetSetting {
                key: "smtp.max_errors".into(),
                value: Some("7".into()),
            })
        })
    };
    backend.wait_for_held_sync();
    let ops = vec![
        Op::Deliver(lost_delivery),
        Op::Deliver(delivery(small_up, "good-small", &[a])),
        Op::Deliver(delivery(nobody_up, "nobody2", &[gone])),
        Op::AddUser {
            email: "new@example.test".into(),
            password_hash: "$argon2id$test".into(),
        },
        Op::Deliver(delivery(big_up, "good-big", &[a, b, gone])),
    ];
    let mut pending: Vec<_> = ops.into_iter().map(|op| Box::pin(store.call(op))).collect();
    for p in &mut pending {
        let polled = futures_lite::future::block_on(futures_lite::future::poll_once(p));
        assert!(polled.is_none(), "answered while the writer was parked");
    }
    backend.set(false);
    assert!(matches!(parked.join().unwrap(), Ok(Done::Unit)));
    let results: Vec<_> = pending
        .into_iter()
        .map(futures_lite::future::block_on)
        .collect();
    assert!(
        matches!(results[0], Err(Error::Refused(Refusal::UploadLost))),
        "{:?}",
        results[0]
    );
    assert!(
        matches!(results[2], Err(Error::Refused(Refusal::NoRecipients))),
        "{:?}",
        results[2]
    );
    let (a_inbox, b_inbox) = (inbox(&store, a), inbox(&store, b));
    let mut results = results.into_iter();
    let _ = results.next();
    let (_, small) = copies(results.next().unwrap());
    assert_eq!(small, vec![(a, a_inbox, uid(2))]);
    let _ = results.next();
    let Some(Ok(Done::User(_))) = results.next() else {
        panic!("AddUser in the batch failed")
    };
    let (big_body, big) = copies(results.next().unwrap());
    assert_eq!(big, vec![(a, a_inbox, uid(3)), (b, b_inbox, uid(1))]);
    assert_eq!(
        read_message(&store, a_inbox, 2),
        Some(stored("good-small", &good_small))
    );
    for (mbox, n) in [(a_inbox, 3), (b_inbox, 1)] {
        assert_eq!(
            read_message(&store, mbox, n),
            Some(stored("good-big", &good_big))
        );
    }
    assert!(store.user("new@example.test").unwrap().is_some());
    assert_eq!(store.config().unwrap().smtp_max_errors, 7);
    // Only the good deliveries moved counters.
    let after_rows = mailbox_rows(&store);
    for (id, row) in &before_rows {
        let after = &after_rows[id];
        let added = if *id == a_inbox.0 {
            2
        } else if *id == b_inbox.0 {
            1
        } else {
            0
        };
        assert_eq!(after.messages, row.messages + added, "mailbox {id}");
        assert_eq!(after.uidnext, row.uidnext + added, "mailbox {id}");
    }
    store.call_blocking(Op::Discard(lost_id)).unwrap();
    assert_consistent(&store, "after the batch");
    store.close();
    let raw = raw_image(backend.mem.image(), "after the batch");
    assert_eq!(raw.bodies.len(), 3, "before, good-small and good-big");
    assert_stored_layout(&raw, big_body.0, &good_big, "after the batch");
    assert_eq!(raw.chunks.len(), chunk_count(good_big.len()));
    raw.assert_closed_consistent("after the batch");
}

fn uid(n: u32) -> mailnook::store::Uid {
    mailnook::store::Uid(std::num::NonZeroU32::new(n).unwrap())
}

#[test]
fn deleting_a_user_frees_what_no_one_else_uses() {
    let mut f = Fixture::new();
    let users = setup_users(f.store(), &["a@example.test", "b@example.test"]);
    let (a, b) = (users[0], users[1]);
    let s = f.store().clone();
    let both = payload("both", 200_000);
    let only_a = payload("only-a", 200_000);
    let inline_a = payload("inline-a", 900);
    let (both_body, both_cps) = copies(deliver(&s, "both", &both, &[a, b]));
    let (a_body, _) = copies(deliver(&s, "only-a", &only_a, &[a]));
    let (inline_body, _) = copies(deliver(&s, "inline-a", &inline_a, &[a]));
    // b holds only_a's data through a body of its own.
    let (b_copy_body, b_copy) = copies(deliver(&s, "copy-for-b", &only_a, &[b]));
    assert_ne!(b_copy_body, a_body);
    assert_consistent(&s, "before deleting a");
    let raw = f.raw();
    assert_eq!(raw.bodies.len(), 4);
    let n = chunk_count(200_000);
    assert_eq!(n, 3);
    assert_eq!(
        raw.chunks.len(),
        3 * n,
        "both, only-a and copy-for-b each have their own"
    );
    assert_stored_layout(&raw, a_body.0, &only_a, "before deleting a");
    assert_stored_layout(&raw, b_copy_body.0, &only_a, "before deleting a");
    assert_stored_layout(&raw, inline_body.0, &inline_a, "before deleting a");
    raw.assert_closed_consistent("before deleting a");
    let kept: BTreeMap<_, _> = [both_body.0, b_copy_body.0]
        .into_iter()
        .flat_map(|b| rows_of(&raw, b))
        .collect();

    let s = f.store().clone();
    let a_boxes: Vec<MailboxId> = s.mailboxes(a).unwrap().iter().map(|m| m.id).collect();
    s.call_blocking(Op::DelUser("a@example.test".into()))
        .unwrap();
    assert!(s.user("a@example.test").unwrap().is_none());
    assert!(s.mailboxes(a).unwrap().is_empty());
    for mb in a_boxes {
        assert!(s.messages(mb).unwrap().is_empty());
    }
    assert_eq!(s.body(both_body).unwrap().map(|b| b.refs), Some(1));
    assert_eq!(s.body(a_body).unwrap(), None);
    assert_eq!(s.body(inline_body).unwrap(), None);
    assert!(matches!(
        s.call_blocking(Op::DelUser("a@example.test".into())),
        Err(Error::Refused(Refusal::NoSuchUser(_)))
    ));
    let b_inbox = inbox(&s, b);
    assert_eq!(
        read_message(&s, b_inbox, both_cps[1].2.get()),
        Some(stored("both", &both))
    );
    assert_eq!(
        read_message(&s, b_inbox, b_copy[0].2.get()),
        Some(stored("copy-for-b", &only_a))
    );
    assert_consistent(&s, "after deleting a");
    let raw = f.raw();
    assert_eq!(raw.bodies.len(), 2);
    assert_eq!(raw.users.len(), 1);
    assert_eq!(raw.mailboxes.len(), 6, "b's six mailboxes");
    assert_eq!(
        raw.chunks, kept,
        "exactly the chunk rows of b's two bodies remain, untouched"
    );
    assert_eq!(raw.bodies[&both_body.0].refs, 1);
    assert_stored_layout(&raw, both_body.0, &both, "after deleting a");
    assert_stored_layout(&raw, b_copy_body.0, &only_a, "after deleting a");
    raw.assert_closed_consistent("after deleting a");

    // The last user goes: nothing is left.
    f.store()
        .call_blocking(Op::DelUser("b@example.test".into()))
        .unwrap();
    assert_consistent(f.store(), "after deleting b");
    let raw = f.raw();
    assert!(raw.bodies.is_empty() && raw.chunks.is_empty() && raw.messages.is_empty());
    assert!(raw.mailboxes.is_empty() && raw.users.is_empty() && raw.uploads.is_empty());
    raw.assert_closed_consistent("after deleting b");
}

#[test]
fn uids_increase_and_are_never_reused() {
    let mut f = Fixture::new();
    let users = setup_users(f.store(), &["a@example.test", "b@example.test"]);
    let (a, b) = (users[0], users[1]);
    let s = f.store().clone();
    let mut last = 0;
    for i in 0..3 {
        let (_, cps) = copies(deliver(
            &s,
            &format!("m{i}"),
            &payload("m", 500 + i),
            &[a, b],
        ));
        let uid = cps[0].2.get();
        assert!(uid > last);
        last = uid;
    }
    let old_b = s.mailbox(b, "INBOX").unwrap().unwrap();
    // A refused delivery does not use up a UID.
    assert!(
        s.call_blocking(Op::Deliver(delivery(upload(&s, b"x"), "x", &[UserId(999)])))
            .is_err()
    );
    // Deleting and re-creating b: a new mailbox with a new UIDVALIDITY, so no (UIDVALIDITY, UID)
    // pair is ever reused.
    s.call_blocking(Op::DelUser("b@example.test".into()))
        .unwrap();
    let b2 = add_user(&s, "b@example.test");
    let new_b = s.mailbox(b2, "INBOX").unwrap().unwrap();
    assert_ne!(new_b.id, old_b.id);
    assert!(new_b.row.uidvalidity > old_b.row.uidvalidity);
    let mut validities: Vec<u32> = [a, b2]
        .iter()
        .flat_map(|u| s.mailboxes(*u).unwrap())
        .map(|m| m.row.uidvalidity)
        .collect();
    validities.push(old_b.row.uidvalidity);
    let n = validities.len();
    validities.sort_unstable();
    validities.dedup();
    assert_eq!(validities.len(), n, "UIDVALIDITY values repeat");
    let (_, cps) = copies(deliver(&s, "after-readd", b"hello\r\n", &[a, b2]));
    assert_eq!(cps[0].2.get(), last + 1);
    assert_eq!(cps[1].2.get(), 1);
    last += 1;
    assert_consistent(&s, "before reopen");
    // UIDNEXT is stored: a reopen continues where it was.
    f.close();
    f.reopen();
    let s = f.store().clone();
    let (_, cps) = copies(deliver(&s, "after-reopen", &payload("r", 100_000), &[a]));
    assert_eq!(cps[0].2.get(), last + 1);
    let mb = s.mailbox(a, "INBOX").unwrap().unwrap().row;
    assert_eq!(mb.uidnext, last + 2);
    assert_eq!(mb.messages, 5);
    assert_eq!(mb.unseen, 5);
    let uids: Vec<u32> = s
        .messages(inbox(&s, a))
        .unwrap()
        .iter()
        .map(|m| m.uid.get())
        .collect();
    assert_eq!(uids, vec![1, 2, 3, 4, 5]);
    assert_consistent(&s, "after reopen");
}

#[test]
fn a_newer_schema_is_refused() {
    let mut f = Fixture::new();
    setup_users(f.store(), &["a@example.test"]);
    f.close();
    {
        let db = redb::Database::create(f.path()).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(META)
            .unwrap()
            .insert("schema_version", SCHEMA_VERSION + 1)
            .unwrap();
        txn.commit().unwrap();
    }
    for _ in 0..2 {
        match Store::open(&f.path(), CACHE_BYTES) {
            Err(Error::NewerSchema { found, supported }) => {
                assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
            }
            Err(other) => panic!("wrong error: {other}"),
            Ok(_) => panic!("a store with a newer schema was opened"),
        }
    }
    // The refusal wrote nothing: the newer version is still there.
    let raw = f.raw_closed();
    assert_eq!(raw.meta["schema_version"], SCHEMA_VERSION + 1);
    assert_eq!(raw.users.len(), 1);
}

#[test]
fn chunks_of_unfinished_uploads_are_removed_at_next_open() {
    let mut f = Fixture::new();
    let users = setup_users(f.store(), &["a@example.test"]);
    let s = f.store().clone();
    let kept = payload("kept", 2 * CHUNK_BYTES + 100);
    let (kept_body, cps) = copies(deliver(&s, "kept", &kept, &users));
    // Two uploads that never complete: one of fresh data, one repeating a stored body's data.
    let orphan = payload("orphan", 3 * CHUNK_BYTES);
    let o = upload(&s, &orphan);
    assert_eq!(o.chunks_sent, 3);
    let again = upload(&s, &kept);
    assert_eq!(again.chunks_sent, 2);
    // A durable commit after the chunk puts, as in a busy server.
    commit_now(&s);
    drop(s);
    let raw = f.raw_closed();
    let ids: Vec<u64> = raw.uploads.keys().copied().collect();
    assert_eq!(
        ids.len(),
        2,
        "the unfinished uploads are not marked on disk, so this test proves nothing: {:?}",
        raw.uploads
    );
    let (o_id, again_id) = (ids[0], ids[1]);
    assert_upload_layout(&raw, o_id, &orphan, "before reopen");
    assert_upload_layout(&raw, again_id, &kept, "before reopen");
    assert_stored_layout(&raw, kept_body.0, &kept, "before reopen");
    assert_eq!(raw.chunks.len(), 2 + 3 + 2);
    raw.assert_bodies_and_chunks("before reopen");
    let kept_rows = rows_of(&raw, kept_body.0);
    f.reopen();
    assert_consistent(f.store(), "after reopen");
    assert_eq!(
        read_message(f.store(), cps[0].1, cps[0].2.get()),
        Some(stored("kept", &kept))
    );
    let raw = f.raw();
    assert!(
        raw.uploads.is_empty(),
        "UPLOADS rows remain: {:?}",
        raw.uploads
    );
    for id in [o_id, again_id] {
        assert!(
            raw.chunk_seqs(id).is_empty(),
            "chunk rows of unfinished upload {id} remain"
        );
        assert!(!raw.bodies.contains_key(&id));
    }
    assert_eq!(
        raw.chunks, kept_rows,
        "the kept body's chunk rows stay, untouched"
    );
    raw.assert_closed_consistent("after reopen");
    // An upload started before the reopen is gone: its delivery is refused.
    let late = Op::Deliver(delivery(o, "late", &users));
    assert!(matches!(
        f.store().call_blocking(late),
        Err(Error::Refused(Refusal::UploadLost))
    ));
    assert_consistent(f.store(), "after the refused late delivery");
    // A new upload after the clean-up (its id may be one an orphan had: nothing of it is left)
    // holds exactly the chunk rows it wrote.
    let fresh = payload("fresh", 2 * CHUNK_BYTES + 1);
    let (fresh_body, fresh_cps) = copies(deliver(f.store(), "fresh", &fresh, &users));
    assert_eq!(
        read_message(f.store(), fresh_cps[0].1, fresh_cps[0].2.get()),
        Some(stored("fresh", &fresh))
    );
    let raw = f.raw();
    assert_stored_layout(&raw, fresh_body.0, &fresh, "after a new delivery");
    raw.assert_closed_consistent("after a new delivery");
}

#[test]
fn a_new_store_file_appears_only_complete() {
    let dir = tempfile::Builder::new()
        .prefix("mailnook-create")
        .tempdir()
        .expect("tempdir");
    let path = dir.path().join("mail.redb");
    let fresh = dir.path().join("mail.redb.new");
    let names = || {
        let mut v: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    // A fresh path: the file is made under the temporary name and renamed into place.
    let store = Store::open(&path, CACHE_BYTES).expect("create store");
    assert_eq!(names(), vec!["mail.redb"], "while open");
    let users = setup_users(&store, &["a@example.test"]);
    let data = payload("first", 2 * CHUNK_BYTES + 3);
    let (_, cps) = copies(deliver(&store, "first", &data, &users));
    assert_consistent(&store, "new store");
    store.close();
    assert!(!fresh.exists(), "mail.redb.new remains after close");
    assert_eq!(names(), vec!["mail.redb"], "after close");
    let store = Store::open(&path, CACHE_BYTES).expect("reopen");
    assert_eq!(
        read_message(&store, cps[0].1, cps[0].2.get()),
        Some(stored("first", &data))
    );
    store.close();

    // A crash during the very first creation left only a half-written mail.redb.new: the next
    // start still creates a working store (and does not take the stale file for one).
    for (what, stale) in [
        ("garbage", payload("garbage", 10_000)),
        ("an empty file", Vec::new()),
        (
            "a redb header and nothing else",
            std::fs::read(&path).unwrap()[..4096].to_vec(),
        ),
    ] {
        let dir = tempfile::Builder::new()
            .prefix("mailnook-create")
            .tempdir()
            .expect("tempdir");
        let path = dir.path().join("mail.redb");
        let fresh = dir.path().join("mail.redb.new");
        std::fs::write(&fresh, &stale).unwrap();
        let store = Store::open(&path, CACHE_BYTES)
            .unwrap_or_else(|e| panic!("stale mail.redb.new ({what}): open failed: {e}"));
        assert!(!fresh.exists(), "{what}: mail.redb.new remains while open");
        assert!(
            store.users().unwrap().is_empty(),
            "{what}: the new store is not empty"
        );
        let users = setup_users(&store, &["a@example.test", "b@example.test"]);
        let data = payload(what, 3 * CHUNK_BYTES + 11);
        let (body, cps) = copies(deliver(&store, "after", &data, &users));
        for (_, mbox, uid) in &cps {
            assert_eq!(
                read_message(&store, *mbox, uid.get()),
                Some(stored("after", &data)),
                "{what}"
            );
        }
        assert_consistent(&store, what);
        store.close();
        assert!(!fresh.exists(), "{what}: mail.redb.new remains after close");
        let raw = raw_file(&path, what);
        assert_eq!(raw.users.len(), 2, "{what}");
        assert_stored_layout(&raw, body.0, &data, what);
        raw.assert_closed_consistent(what);
        // And it opens again with everything in it.
        let store = Store::open(&path, CACHE_BYTES).expect("reopen");
        assert_eq!(
            read_message(&store, cps[1].1, cps[1].2.get()),
            Some(stored("after", &data)),
            "{what}: after reopen"
        );
        assert_consistent(&store, &format!("{what}, reopened"));
        store.close();
    }
}

/// Breaks one cross-table invariant of a closed store with a raw redb write, reopens it and
/// returns what `check()` says.
fn check_after(tamper: impl FnOnce(&redb::WriteTransaction, &BTreeMap<&str, u64>)) -> Vec<String> {
    let mut f = Fixture::new();
    let users = setup_users(f.store(), &["a@example.test", "b@example.test"]);
    let (body, _) = copies(deliver(f.store(), "m", &payload("m", 150_000), &users));
    assert_eq!(f.store().body(body).unwrap().unwrap().chunks, 2);
    let ids: BTreeMap<&str, u64> = [
        ("body", body.0),
        ("a", users[0].0),
        ("b", users[1].0),
        ("a_inbox", inbox(f.store(), users[0]).0),
        ("b_inbox", inbox(f.store(), users[1]).0),
    ]
    .into_iter()
    .collect();
    assert_consistent(f.store(), "before tampering");
    f.close();
    {
        let db = redb::Database::create(f.path()).unwrap();
        let txn = db.begin_write().unwrap();
        tamper(&txn, &ids);
        txn.commit().unwrap();
    }
    f.reopen();
    f.store().check().expect("check runs")
}

#[test]
fn check_reports_rows_no_index_or_owner_reaches() {
    use mailnook::store::schema::{MAILBOX_BY_NAME, MESSAGES, USER_BY_EMAIL, USERS};
    use redb::ReadableTable;
    // A message row left in a mailbox that no longer exists.
    let found = check_after(|txn, ids| {
        let mut t = txn.open_table(MESSAGES).unwrap();
        let row = t
            .get((ids["a_inbox"], 1))
            .unwrap()
            .unwrap()
            .value()
            .to_vec();
        t.insert((ids["a_inbox"] + 1000, 1), row.as_slice())
            .unwrap();
    });
    assert!(
        found.iter().any(|p| p.contains("missing mailbox")),
        "{found:?}"
    );
    // A name-index entry naming a mailbox that does not exist.
    let found = check_after(|txn, ids| {
        let mut t = txn.open_table(MAILBOX_BY_NAME).unwrap();
        t.insert((ids["a"], "Ghost"), ids["a_inbox"] + 1000)
            .unwrap();
    });
    assert!(found.iter().any(|p| p.contains("Ghost")), "{found:?}");
    // A name-index entry naming another user's mailbox.
    let found = check_after(|txn, ids| {
        let mut t = txn.open_table(MAILBOX_BY_NAME).unwrap();
        t.insert((ids["a"], "Other"), ids["b_inbox"]).unwrap();
    });
    assert!(found.iter().any(|p| p.contains("Other")), "{found:?}");
    // Mailboxes whose user is gone (user row and address both removed).
    let found = check_after(|txn, ids| {
        txn.open_table(USERS).unwrap().remove(ids["b"]).unwrap();
        txn.open_table(USER_BY_EMAIL)
            .unwrap()
            .remove("b@example.test")
            .unwrap();
    });
    assert!(
        found.iter().any(|p| p.contains("missing user")),
        "{found:?}"
    );
}

#[test]
fn check_reports_missing_stray_and_resized_chunks() {
    use mailnook::store::schema::CHUNKS;
    // A chunk row of a body is gone.
    let found = check_after(|txn, ids| {
        txn.open_table(CHUNKS)
            .unwrap()
            .remove((ids["body"], 1))
            .unwrap();
    });
    assert!(
        found.iter().any(|p| p.contains("missing chunk 1")),
        "{found:?}"
    );
    // A chunk row that no body or upload accounts for.
    let found = check_after(|txn, ids| {
        txn.open_table(CHUNKS)
            .unwrap()
            .insert((ids["body"] + 1000, 0), &b"stray"[..])
            .unwrap();
    });
    assert!(
        found.iter().any(|p| p.contains("chunk rows but")),
        "{found:?}"
    );
    // A chunk row past the end of a body's chunks.
    let found = check_after(|txn, ids| {
        txn.open_table(CHUNKS)
            .unwrap()
            .insert((ids["body"], 2), &b"extra"[..])
            .unwrap();
    });
    assert!(
        found.iter().any(|p| p.contains("chunk rows but")),
        "{found:?}"
    );
    // A chunk whose length changed: the body's bytes no longer add up to its size.
    let found = check_after(|txn, ids| {
        txn.open_table(CHUNKS)
            .unwrap()
            .insert((ids["body"], 0), &b"short"[..])
            .unwrap();
    });
    assert!(
        found.iter().any(|p| p.contains("bytes add up to")),
        "{found:?}"
    );
}

// ---- Mailboxes, messages and the IMAP-facing state (RFC 9051, RFC 7162, RFC 6851) ----

use mailnook::store::schema::{
    MAX_KEYWORDS_PER_MAILBOX, MAX_KEYWORDS_PER_MESSAGE, MAX_MAILBOX_NAME_BYTES,
    MAX_MAILBOXES_PER_USER, MAX_SUBSCRIPTIONS_PER_USER, TRAINING_KEEP, VANISHED_KEEP,
};
use mailnook::store::{FlagChange, SpecialUse, StoreMode, TrainingEvent, Vanished, flags};

/// Runs many requests as one pipeline (queued together, so they share group commits), in order;
/// returns their answers.
fn pipelined(store: &Store, ops: Vec<Op>) -> Vec<mailnook::store::Result<Done>> {
    let mut answers = Vec::with_capacity(ops.len());
    let mut ops = ops.into_iter().peekable();
    while ops.peek().is_some() {
        let mut pending: Vec<_> = ops
            .by_ref()
            .take(200)
            .map(|op| Box::pin(store.call(op)))
            .collect();
        for p in &mut pending {
            let _ = futures_lite::future::block_on(futures_lite::future::poll_once(p));
        }
        answers.extend(pending.into_iter().map(futures_lite::future::block_on));
    }
    answers
}

/// Every mailbox name of a user.
fn names_of(store: &Store, user: UserId) -> Vec<String> {
    store
        .mailboxes(user)
        .unwrap()
        .into_iter()
        .map(|m| m.row.name)
        .collect()
}

fn refused(r: mailnook::store::Result<Done>) -> Refusal {
    match r {
        Err(Error::Refused(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn invalid_name_reason(r: mailnook::store::Result<Done>) -> &'static str {
    match refused(r) {
        Refusal::InvalidMailboxName { reason, .. } => reason,
        other => panic!("expected an invalid name, got {other:?}"),
    }
}

#[test]
fn mailbox_names_are_checked_before_anything_changes() {
    let f = Fixture::new();
    let s = f.store();
    let a = setup_users(s, &["a@example.test"])[0];
    let before = names_of(s, a);
    let generation = s.user_generation(a);
    let long = "x".repeat(MAX_MAILBOX_NAME_BYTES + 1);
    for (name, reason) in [
        ("", "empty"),
        (long.as_str(), "too long"),
        ("tab\there", "control character"),
        ("del\u{7f}", "control character"),
        ("c1\u{9b}", "control character"),
        ("/root", "empty hierarchy level"),
        ("trailing/", "empty hierarchy level"),
        ("a//b", "empty hierarchy level"),
        ("Inbox", "INBOX must be spelled INBOX"),
        ("inbox/Sub", "INBOX must be spelled INBOX"),
    ] {
        let create = Op::CreateMailbox {
            user: a,
            name: name.into(),
            special_use: SpecialUse::None,
        };
        assert_eq!(
            invalid_name_reason(s.call_blocking(create)),
            reason,
            "{name:?}"
        );
        let rename = Op::RenameMailbox {
            user: a,
            from: "Archive".into(),
            to: name.into(),
        };
        assert_eq!(
            invalid_name_reason(s.call_blocking(rename)),
            reason,
            "{name:?}"
        );
        let subscribe = Op::Subscribe {
            user: a,
            name: name.into(),
            subscribed: true,
        };
        assert_eq!(
            invalid_name_reason(s.call_blocking(subscribe)),
            reason,
            "{name:?}"
        );
    }
    // Names are opaque strings, not paths: dots, wildcards and any script are just characters.
    for name in ["../etc", "a.b", "100% *real*", "Ärger/Übersicht", "日本語"] {
        create_mailbox(s, a, name);
    }
    let longest = "y".repeat(MAX_MAILBOX_NAME_BYTES);
    create_mailbox(s, a, &longest);
    // A missing user is refused by id.
    let ghost = Op::CreateMailbox {
        user: UserId(999),
        name: "X".into(),
        special_use: SpecialUse::None,
    };
    assert!(matches!(
        refused(s.call_blocking(ghost)),
        Refusal::NoSuchUser(_)
    ));
    let mut want = before.clone();
    want.extend(
        [
            "../etc",
            "a.b",
            "100% *real*",
            "Ärger/Übersicht",
            "日本語",
            &longest,
        ]
        .map(String::from),
    );
    // "Ärger/Übersicht" and "../etc" created their superiors: ".." is just a name.
    want.extend(["Ärger".to_string(), "..".to_string()]);
    want.sort();
    assert_eq!(names_of(s, a), want);
    assert!(s.user_generation(a) > generation);
    assert_consistent(s, "after name checks");
}

#[test]
fn create_refuses_existing_names_and_makes_missing_superiors() {
    let mut f = Fixture::new();
    let s = f.store().clone();
    let a = setup_users(&s, &["a@example.test"])[0];
    let inbox_row = mailbox_row(&s, inbox(&s, a));
    let (id, uidvalidity) = match s.call_blocking(Op::CreateMailbox {
        user: a,
        name: "Projects/2024/Q1".into(),
        special_use: SpecialUse::Archive,
    }) {
        Ok(Done::Mailbox { id, uidvalidity }) => (id, uidvalidity),
        other => panic!("{other:?}"),
    };
    let leaf = mailbox_row(&s, id);
    assert_eq!(leaf.name, "Projects/2024/Q1");
    assert_eq!(leaf.uidvalidity, uidvalidity);
    assert!(uidvalidity > inbox_row.uidvalidity);
    assert_eq!(leaf.special_use, SpecialUse::Archive);
    assert_eq!(
        (
            leaf.uidnext,
            leaf.highest_modseq,
            leaf.messages,
            leaf.unseen,
            leaf.bytes
        ),
        (1, 1, 0, 0, 0)
    );
    for superior in ["Projects", "Projects/2024"] {
        let row = mailbox_row(&s, mailbox_named(&s, a, superior));
        assert_eq!(row.special_use, SpecialUse::None, "{superior}");
        assert!(row.uidvalidity < uidvalidity, "superiors are made first");
    }
    for existing in ["Projects", "Projects/2024/Q1", "INBOX", "Junk"] {
        let again = Op::CreateMailbox {
            user: a,
            name: existing.into(),
            special_use: SpecialUse::None,
        };
        assert_eq!(
            refused(s.call_blocking(again)),
            Refusal::MailboxExists(existing.into())
        );
    }
    // Under INBOX is fine; a second mailbox may share a special use (RFC 6154 allows it).
    create_mailbox(&s, a, "INBOX/receipts");
    let junk2 = Op::CreateMailbox {
        user: a,
        name: "Spam".into(),
        special_use: SpecialUse::Junk,
    };
    assert!(matches!(s.call_blocking(junk2), Ok(Done::Mailbox { .. })));
    // Subscriptions are not made by CREATE.
    assert!(!s.subscriptions(a).unwrap().contains(&"Spam".to_string()));
    assert_consistent(&s, "after creates");
    let raw = f.raw();
    assert_eq!(raw.mailboxes.len(), 6 + 3 + 2);
    raw.assert_closed_consistent("after creates");
}

#[test]
fn mailbox_and_subscription_counts_are_bounded() {
    let f = Fixture::new();
    let s = f.store();
    let a = setup_users(s, &["a@example.test"])[0];
    let room = MAX_MAILBOXES_PER_USER - 6;
    let ops = (0..room - 1)
        .map(|i| Op::CreateMailbox {
            user: a,
            name: format!("m{i:04}"),
            special_use: SpecialUse::None,
        })
        .collect();
    assert!(pipelined(s, ops).iter().all(|r| r.is_ok()));
    // One left: a name needing a superior does not fit, a plain one does, then nothing.
    let two = Op::CreateMailbox {
        user: a,
        name: "new/sub".into(),
        special_use: SpecialUse::None,
    };
    assert!(matches!(refused(s.call_blocking(two)), Refusal::TooMany(_)));
    assert!(s.mailbox(a, "new").unwrap().is_none());
    create_mailbox(s, a, "last");
    let over = Op::CreateMailbox {
        user: a,
        name: "over".into(),
        special_use: SpecialUse::None,
    };
    assert!(matches!(
        refused(s.call_blocking(over)),
        Refusal::TooMany(_)
    ));
    // Renaming into a name that needs a superior is refused too; a plain rename is not.
    let rename = Op::RenameMailbox {
        user: a,
        from: "last".into(),
        to: "deep/last".into(),
    };
    assert!(matches!(
        refused(s.call_blocking(rename)),
        Refusal::TooMany(_)
    ));
    assert_eq!(s.mailboxes(a).unwrap().len(), MAX_MAILBOXES_PER_USER);

    let have = s.subscriptions(a).unwrap().len();
    let ops = (0..MAX_SUBSCRIPTIONS_PER_USER - have)
        .map(|i| Op::Subscribe {
            user: a,
            name: format!("s{i:04}"),
            subscribed: true,
        })
        .collect();
    assert!(pipelined(s, ops).iter().all(|r| r.is_ok()));
    let one_more = Op::Subscribe {
        user: a,
        name: "one-more".into(),
        subscribed: true,
    };
    assert!(matches!(
        refused(s.call_blocking(one_more)),
        Refusal::TooMany(_)
    ));
    // Subscribing again to a subscribed name is not "more".
    let again = Op::Subscribe {
        user: a,
        name: "s0000".into(),
        subscribed: true,
    };
    assert!(s.call_blocking(again).is_ok());
    assert_eq!(
        s.subscriptions(a).unwrap().len(),
        MAX_SUBSCRIPTIONS_PER_USER
    );
    assert_consistent(s, "at the limits");
}

#[test]
fn subscriptions_are_names_not_mailboxes() {
    let mut f = Fixture::new();
    let users = setup_users(f.store(), &["a@example.test", "b@example.test"]);
    let (a, b) = (users[0], users[1]);
    let s = f.store().clone();
    let defaults = ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"].map(String::from);
    assert_eq!(s.subscriptions(a).unwrap(), defaults);
    let g = s.user_generation(a);
    let sub = |name: &str, on: bool| {
        s.call_blocking(Op::Subscribe {
            user: a,
            name: name.into(),
            subscribed: on,
        })
        .unwrap()
    };
    // RFC 9051 §6.3.7: a name may be subscribed whether or not a mailbox has it.
    sub("Lists/none-yet", true);
    sub("Lists/none-yet", true);
    sub("Trash", false);
    sub("never-subscribed", false);
    assert!(s.user_generation(a) > g);
    let mut want: Vec<String> = defaults.iter().filter(|n| *n != "Trash").cloned().collect();
    want.push("Lists/none-yet".into());
    want.sort();
    assert_eq!(s.subscriptions(a).unwrap(), want);
    assert_eq!(s.subscriptions(b).unwrap(), defaults, "b's are b's own");
    // Deleting or renaming a mailbox leaves its subscription alone.
    create_mailbox(&s, a, "Old");
    sub("Old", true);
    s.call_blocking(Op::DeleteMailbox {
        user: a,
        name: "Old".into(),
    })
    .unwrap();
    assert!(s.subscriptions(a).unwrap().contains(&"Old".to_string()));
    assert_consistent(&s, "after subscriptions");
    let raw = f.raw();
    assert!(raw.subscriptions.contains(&(a.0, "Old".to_string())));
    raw.assert_closed_consistent("after subscriptions");
    // Deleting the user deletes them.
    f.store()
        .call_blocking(Op::DelUser("a@example.test".into()))
        .unwrap();
    let raw = f.raw();
    assert!(raw.subscriptions.iter().all(|(u, _)| *u == b.0));
    assert_eq!(raw.subscriptions.len(), 6);
    raw.assert_closed_consistent("after deleting a");
}

#[test]
fn append_stores_a_message_with_its_flags_keywords_and_summary() {
    let mut f = Fixture::new();
    let a = setup_users(f.store(), &["a@example.test"])[0];
    let s = f.store().clone();
    let archive = mailbox_named(&s, a, "Archive");
    let before = mailbox_row(&s, archive);
    let small = payload("small", 900);
    let big = payload("big", 3 * CHUNK_BYTES + 500);
    let (small_body, v1, u1) = appended(append(
        &s,
        archive,
        &small,
        flags::SEEN | flags::FLAGGED | 1 << 20,
        &["work", "$Label1", "WORK"],
    ));
    let after_small = mailbox_row(&s, archive);
    let (big_body, v2, u2) = appended(append(&s, archive, &big, 0, &["Work"]));
    assert_eq!((v1, v2), (before.uidvalidity, before.uidvalidity));
    assert_eq!((u1.get(), u2.get()), (1, 2));
    let row = mailbox_row(&s, archive);
    assert_eq!(after_small.highest_modseq, before.highest_modseq + 1);
    assert_eq!(row.highest_modseq, before.highest_modseq + 2);
    assert_eq!(
        (row.messages, row.unseen, row.bytes, row.uidnext),
        (2, 1, (small.len() + big.len()) as u64, 3)
    );
    assert_eq!(row.keywords, vec!["work", "$Label1"], "first spelling kept");
    let msgs = s.messages(archive).unwrap();
    assert_eq!(
        msgs[0].row.flags,
        flags::SEEN | flags::FLAGGED,
        "unknown bits dropped"
    );
    assert_eq!(msgs[0].row.keywords, vec!["work", "$Label1"]);
    assert_eq!(msgs[0].row.modseq, after_small.highest_modseq);
    assert_eq!(msgs[0].row.internal_date, 1_700_000_100);
    assert_eq!(msgs[1].row.keywords, vec!["work"]);
    assert_eq!(msgs[1].row.modseq, row.highest_modseq);
    // The bytes are stored as given (no trace prefix), readable both ways.
    assert_eq!(read_message(&s, archive, 1), Some(small.clone()));
    assert_eq!(read_message(&s, archive, 2), Some(big.clone()));
    let reader = s.open_body(big_body).unwrap().expect("body");
    assert_eq!(reader.size(), big.len() as u64);
    assert!(read_body(&reader, 10_000) == big);
    drop(reader);
    assert_eq!(s.summary(small_body).unwrap(), Some(summary_of(&small)));
    assert_eq!(s.summary(big_body).unwrap(), Some(summary_of(&big)));
    assert_eq!(s.body_size(big_body).unwrap(), Some(big.len() as u64));
    assert_eq!(s.body_size(BodyId(999_999)).unwrap(), None);
    assert_eq!(s.summary(BodyId(999_999)).unwrap(), None);
    assert_consistent(&s, "after appends");

    // Refusals change nothing (their uploads are discarded by the helper).
    let rows = mailbox_rows(&s);
    assert!(matches!(
        refused(append(&s, MailboxId(999), b"x\r\n", 0, &[])),
        Refusal::NoSuchMailbox(_)
    ));
    for bad in ["\\Seen", "two words", "", "ünï"] {
        assert!(
            matches!(
                refused(append(&s, archive, b"x\r\n", 0, &[bad])),
                Refusal::InvalidKeyword(_)
            ),
            "{bad:?}"
        );
    }
    let too_many: Vec<String> = (0..=MAX_KEYWORDS_PER_MESSAGE)
        .map(|i| format!("k{i}"))
        .collect();
    let too_many: Vec<&str> = too_many.iter().map(String::as_str).collect();
    assert!(matches!(
        refused(append(
            &s,
            archive,
            &payload("many", 2 * CHUNK_BYTES + 1),
            0,
            &too_many
        )),
        Refusal::TooMany(_)
    ));
    let up = upload(&s, &payload("lost", 2 * CHUNK_BYTES + 1));
    let lost = Op::Append {
        upload: up.id,
        chunks_sent: up.chunks_sent + 1,
        mailbox: archive,
        flags: 0,
        keywords: Vec::new(),
        internal_date: 0,
        tail: up.tail,
        summary: Vec::new(),
    };
    assert_eq!(refused(s.call_blocking(lost)), Refusal::UploadLost);
    s.call_blocking(Op::Discard(up.id)).unwrap();
    // Chunks are full or they are refused.
    let short = Op::PutChunk {
        upload: s.new_upload(),
        data: vec![b'x'; CHUNK_BYTES - 1],
    };
    assert_eq!(
        refused(s.call_blocking(short)),
        Refusal::ChunkSize(CHUNK_BYTES - 1)
    );
    assert_eq!(mailbox_rows(&s), rows, "a refusal moved a counter");
    assert_consistent(&s, "after refused appends");
    let raw = f.raw();
    assert_eq!(raw.summaries[&small_body.0], summary_of(&small));
    assert_eq!(raw.summaries.len(), 2);
    assert_eq!(raw.bodies[&big_body.0].prefix, b"");
    assert_stored_layout(&raw, big_body.0, &big, "after appends");
    assert_eq!(
        raw.chunks.len(),
        3,
        "nothing of the refused uploads remains"
    );
    raw.assert_closed_consistent("after appends");
}

#[test]
fn store_changes_flags_with_modseqs_and_unchangedsince() {
    let f = Fixture::new();
    let a = setup_users(f.store(), &["a@example.test"])[0];
    let s = f.store().clone();
    let mb = inbox(&s, a);
    for i in 0..5 {
        copies(deliver(&s, &format!("m{i}"), &payload("m", 400 + i), &[a]));
    }
    let highest = |s: &Store| mailbox_row(s, mb).highest_modseq;
    let modseqs = |s: &Store| -> Vec<u64> {
        s.messages(mb)
            .unwrap()
            .iter()
            .map(|m| m.row.modseq)
            .collect()
    };
    let stored = |r: mailnook::store::Result<Done>| match r {
        Ok(Done::Stored {
            modseq,
            changed,
            failed,
        }) => (modseq, changed, nums(&failed)),
        other => panic!("{other:?}"),
    };
    let mut seen_modseqs = vec![highest(&s)];

    // +FLAGS \Seen on 1:2: both change, one new modseq for the operation.
    let h0 = highest(&s);
    let ms0 = modseqs(&s);
    let (m1, changed, failed) = stored(set_flags(
        &s,
        mb,
        1..=2,
        StoreMode::Add,
        flags::SEEN,
        &[],
        None,
    ));
    assert_eq!(m1, h0 + 1);
    assert!(failed.is_empty());
    assert_eq!(
        changed,
        (1..=2)
            .map(|n| FlagChange {
                uid: uid(n),
                flags: flags::SEEN,
                keywords: vec![],
                modseq: m1
            })
            .collect::<Vec<_>>()
    );
    assert_eq!(mailbox_row(&s, mb).unseen, 3);
    let now = modseqs(&s);
    assert_eq!(now[2..], ms0[2..], "untouched messages kept their modseq");
    assert_eq!(now[..2], [m1, m1]);
    seen_modseqs.push(m1);
    assert_consistent(&s, "after +FLAGS");

    // The same again changes nothing: no new modseq, nothing written.
    let generation = s.mailbox_generation(mb);
    let (m, changed, _) = stored(set_flags(
        &s,
        mb,
        1..=2,
        StoreMode::Add,
        flags::SEEN,
        &[],
        None,
    ));
    assert_eq!((m, changed.len()), (m1, 0));
    assert_eq!(highest(&s), m1);
    assert_eq!(
        s.mailbox_generation(mb),
        generation,
        "an empty STORE is no change"
    );

    // Keywords: added ignoring case, in the mailbox's spelling; -FLAGS; FLAGS replaces.
    let (m2, changed, _) = stored(set_flags(
        &s,
        mb,
        2..=3,
        StoreMode::Add,
        flags::FLAGGED,
        &["Work", "work", "$Label2"],
        None,
    ));
    assert_eq!(changed.len(), 2);
    assert!(
        changed
            .iter()
            .all(|c| c.keywords == ["Work", "$Label2"] && c.modseq == m2)
    );
    let (m3, changed, _) = stored(set_flags(&s, mb, 1..=5, StoreMode::Add, 0, &["WORK"], None));
    assert_eq!(
        nums(&changed.iter().map(|c| c.uid).collect::<Vec<_>>()),
        vec![1, 4, 5],
        "2 and 3 have it"
    );
    assert!(changed.iter().all(|c| c.keywords == ["Work"]));
    let (m4, changed, _) = stored(set_flags(
        &s,
        mb,
        3..=3,
        StoreMode::Remove,
        flags::FLAGGED,
        &["work", "$Unknown"],
        None,
    ));
    assert_eq!(changed[0].keywords, vec!["$Label2"]);
    assert_eq!(changed[0].flags, 0);
    let (m5, changed, _) = stored(set_flags(
        &s,
        mb,
        4..=4,
        StoreMode::Replace,
        flags::SEEN | flags::ANSWERED,
        &["$Label2"],
        None,
    ));
    assert_eq!(
        (changed[0].flags, changed[0].keywords.clone()),
        (flags::SEEN | flags::ANSWERED, vec!["$Label2".to_string()])
    );
    assert_eq!(
        mailbox_row(&s, mb).keywords,
        vec!["Work", "$Label2"],
        "removing $Unknown added nothing"
    );
    seen_modseqs.extend([m2, m3, m4, m5]);
    assert!(
        seen_modseqs.windows(2).all(|w| w[0] < w[1]),
        "modseqs only grow: {seen_modseqs:?}"
    );
    assert_consistent(&s, "after keyword changes");

    // CHANGEDSINCE: exactly what changed after a modseq.
    let since = |m: u64| -> Vec<u32> {
        s.messages_changed_since(mb, m)
            .unwrap()
            .iter()
            .map(|x| x.uid.get())
            .collect()
    };
    assert_eq!(since(m3), vec![3, 4]);
    assert_eq!(since(m5), Vec::<u32>::new());
    assert_eq!(since(0), vec![1, 2, 3, 4, 5]);

    // UNCHANGEDSINCE (RFC 7162 §3.1.3): messages changed after it fail and stay as they are;
    // the others change.
    let before = s.messages(mb).unwrap();
    let (m6, changed, failed) = stored(set_flags(
        &s,
        mb,
        1..=u32::MAX,
        StoreMode::Add,
        flags::DELETED,
        &[],
        Some(m3 - 1),
    ));
    assert_eq!(
        failed,
        vec![1, 2, 3, 4, 5]
            .into_iter()
            .filter(|n| before[*n as usize - 1].row.modseq > m3 - 1)
            .collect::<Vec<_>>()
    );
    assert_eq!(failed, vec![1, 3, 4, 5]);
    assert_eq!(
        nums(&changed.iter().map(|c| c.uid).collect::<Vec<_>>()),
        vec![2]
    );
    assert_eq!(changed[0].modseq, m6);
    let after = s.messages(mb).unwrap();
    for n in [0, 2, 3, 4] {
        assert_eq!(after[n].row, before[n].row, "a failed message changed");
    }
    // With the current modseq nothing fails; overlapping, out-of-order and empty ranges are one
    // set.
    #[allow(clippy::reversed_empty_ranges)]
    let op = Op::Store {
        mailbox: mb,
        uids: vec![4..=9, 1..=1, 3..=4, 100..=u32::MAX, 7..=2],
        mode: StoreMode::Add,
        flags: flags::DELETED,
        keywords: vec![],
        unchanged_since: Some(m6),
    };
    let (m7, changed, failed) = stored(s.call_blocking(op));
    assert!(failed.is_empty());
    assert_eq!(
        nums(&changed.iter().map(|c| c.uid).collect::<Vec<_>>()),
        vec![1, 3, 4, 5]
    );
    assert!(m7 > m6);
    // A missing mailbox and a bad keyword are refused.
    assert!(matches!(
        refused(set_flags(
            &s,
            MailboxId(999),
            1..=1,
            StoreMode::Add,
            flags::SEEN,
            &[],
            None
        )),
        Refusal::NoSuchMailbox(_)
    ));
    assert!(matches!(
        refused(set_flags(&s, mb, 1..=1, StoreMode::Add, 0, &["a b"], None)),
        Refusal::InvalidKeyword(_)
    ));
    assert_consistent(&s, "after UNCHANGEDSINCE");
}

#[test]
fn keywords_are_bounded_per_message_and_per_mailbox() {
    let f = Fixture::new();
    let a = setup_users(f.store(), &["a@example.test"])[0];
    let s = f.store().clone();
    let mb = inbox(&s, a);
    for i in 0..8 {
        copies(deliver(&s, &format!("k{i}"), b"hi\r\n", &[a]));
    }
    let kws = |from: usize, n: usize| -> Vec<String> {
        (from..from + n).map(|i| format!("kw{i}")).collect()
    };
    fn refs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    // Per message.
    let full = kws(0, MAX_KEYWORDS_PER_MESSAGE);
    set_flags(&s, mb, 1..=1, StoreMode::Add, 0, &refs(&full), None).unwrap();
    let rows = mailbox_rows(&s);
    let one_more = kws(MAX_KEYWORDS_PER_MESSAGE, 1);
    assert_eq!(
        refused(set_flags(
            &s,
            mb,
            1..=2,
            StoreMode::Add,
            flags::SEEN,
            &refs(&one_more),
            None
        )),
        Refusal::TooMany("keywords on one message")
    );
    assert_eq!(
        mailbox_rows(&s),
        rows,
        "the refused STORE changed something"
    );
    assert!(
        s.messages(mb).unwrap()[1].row.flags & flags::SEEN == 0,
        "message 2 changed"
    );
    // Per mailbox: fill the list through other messages.
    let mut next = MAX_KEYWORDS_PER_MESSAGE;
    let mut msg = 2;
    while next < MAX_KEYWORDS_PER_MAILBOX {
        let n = (MAX_KEYWORDS_PER_MAILBOX - next).min(MAX_KEYWORDS_PER_MESSAGE);
        set_flags(
            &s,
            mb,
            msg..=msg,
            StoreMode::Add,
            0,
            &refs(&kws(next, n)),
            None,
        )
        .unwrap();
        next += n;
        msg += 1;
    }
    assert_eq!(mailbox_row(&s, mb).keywords.len(), MAX_KEYWORDS_PER_MAILBOX);
    let rows = mailbox_rows(&s);
    assert_eq!(
        refused(set_flags(
            &s,
            mb,
            8..=8,
            StoreMode::Add,
            0,
            &["brand-new"],
            None
        )),
        Refusal::TooMany("keywords in one mailbox")
    );
    assert!(matches!(
        refused(append(&s, mb, b"x\r\n", 0, &["brand-new"])),
        Refusal::TooMany(_)
    ));
    assert_eq!(mailbox_rows(&s), rows);
    // Known keywords still work, in any case.
    set_flags(&s, mb, 8..=8, StoreMode::Add, 0, &["KW0"], None).unwrap();
    assert_eq!(s.messages(mb).unwrap()[7].row.keywords, vec!["kw0"]);
    // A copy into a mailbox whose list is full keeps the keywords that fit, and the copy.
    let other = create_mailbox(&s, a, "Other");
    let filler = kws(1000, MAX_KEYWORDS_PER_MESSAGE);
    appended(append(&s, other, b"f\r\n", 0, &refs(&filler)));
    let mut have = MAX_KEYWORDS_PER_MESSAGE;
    while have < MAX_KEYWORDS_PER_MAILBOX - 1 {
        let n = (MAX_KEYWORDS_PER_MAILBOX - 1 - have).min(MAX_KEYWORDS_PER_MESSAGE);
        appended(append(&s, other, b"f\r\n", 0, &refs(&kws(2000 + have, n))));
        have += n;
    }
    let copied = s
        .call_blocking(Op::Copy {
            from: mb,
            uids: vec![1..=1],
            to: other,
        })
        .unwrap();
    let Done::Copied { uids, .. } = copied else {
        panic!("{copied:?}")
    };
    let copy = s.message(other, uids[0].1.get()).unwrap().unwrap();
    assert_eq!(copy.row.keywords, vec!["kw0"], "one slot was left");
    assert_eq!(
        mailbox_row(&s, other).keywords.len(),
        MAX_KEYWORDS_PER_MAILBOX
    );
    assert_consistent(&s, "at the keyword limits");
}

#[test]
fn copy_shares_bodies_and_keeps_flags() {
    let mut f = Fixture::new();
    let users = setup_users(f.store(), &["a@example.test", "b@example.test"]);
    let (a, b) = (users[0], users[1]);
    let s = f.store().clone();
    let mb = inbox(&s, a);
    let archive = mailbox_named(&s, a, "Archive");
    let big = payload("big", 2 * CHUNK_BYTES + 10);
    let (big_body, _) = copies(deliver(&s, "big", &big, &[a]));
    let (small_body, _) = copies(deliver(&s, "small", b"small\r\n", &[a]));
    copies(deliver(&s, "third", b"third\r\n", &[a]));
    set_flags(
        &s,
        mb,
        2..=2,
        StoreMode::Add,
        flags::SEEN | flags::ANSWERED,
        &["keep"],
        None,
    )
    .unwrap();
    assert_consistent(&s, "before copies");
    let raw_before = f.raw();
    let s = f.store().clone();
    let archive_before = mailbox_row(&s, archive);
    let (validity, pairs) = match s
        .call_blocking(Op::Copy {
            from: mb,
            uids: vec![1..=2, 7..=9],
            to: archive,
        })
        .unwrap()
    {
        Done::Copied { uidvalidity, uids } => (uidvalidity, uids),
        other => panic!("{other:?}"),
    };
    assert_eq!(validity, archive_before.uidvalidity);
    assert_eq!(pairs, vec![(uid(1), uid(1)), (uid(2), uid(2))]);
    let row = mailbox_row(&s, archive);
    assert_eq!(row.highest_modseq, archive_before.highest_modseq + 1);
    assert_eq!((row.messages, row.unseen, row.uidnext), (2, 1, 3));
    let src = s.messages(mb).unwrap();
    let dst = s.messages(archive).unwrap();
    for (from, to) in src[..2].iter().zip(&dst) {
        assert_eq!(
            (
                to.row.body,
                to.row.flags,
                &to.row.keywords,
                to.row.internal_date,
                to.row.size
            ),
            (
                from.row.body,
                from.row.flags,
                &from.row.keywords,
                from.row.internal_date,
                from.row.size
            )
        );
        assert_eq!(to.row.modseq, row.highest_modseq);
    }
    assert_eq!(s.body(big_body).unwrap().unwrap().refs, 2);
    assert_eq!(s.body(small_body).unwrap().unwrap().refs, 2);
    // Within one mailbox: new UIDs, the same bodies again.
    let Done::Copied { uids, .. } = s
        .call_blocking(Op::Copy {
            from: archive,
            uids: vec![1..=u32::MAX],
            to: archive,
        })
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(uids, vec![(uid(1), uid(3)), (uid(2), uid(4))]);
    assert_eq!(s.body(big_body).unwrap().unwrap().refs, 3);
    // Nothing to copy: nothing changes, not even HIGHESTMODSEQ.
    let h = mailbox_row(&s, archive).highest_modseq;
    let none = s
        .call_blocking(Op::Copy {
            from: mb,
            uids: vec![50..=60],
            to: archive,
        })
        .unwrap();
    assert_eq!(
        none,
        Done::Copied {
            uidvalidity: validity,
            uids: vec![]
        }
    );
    assert_eq!(mailbox_row(&s, archive).highest_modseq, h);
    // Into another user's mailbox, or a missing one: refused.
    for to in [inbox(&s, b), MailboxId(999)] {
        let op = Op::Copy {
            from: mb,
            uids: vec![1..=3],
            to,
        };
        assert!(matches!(
            refused(s.call_blocking(op)),
            Refusal::NoSuchMailbox(_)
        ));
    }
    assert!(s.messages(inbox(&s, b)).unwrap().is_empty());
    assert_consistent(&s, "after copies");
    // No bytes were copied: the same chunk rows, only refs moved.
    let raw = f.raw();
    assert_eq!(raw.chunks, raw_before.chunks);
    assert_eq!(raw.bodies.len(), raw_before.bodies.len());
    assert_eq!(raw.bodies[&big_body.0].refs, 3);
    raw.assert_closed_consistent("after copies");
}

#[test]
fn move_is_a_copy_and_an_expunge_in_one_operation() {
    let mut f = Fixture::new();
    let a = setup_users(f.store(), &["a@example.test"])[0];
    let s = f.store().clone();
    let mb = inbox(&s, a);
    let archive = mailbox_named(&s, a, "Archive");
    let data = payload("moved", CHUNK_BYTES + 3);
    for tag in ["one", "two", "three"] {
        copies(deliver(&s, tag, &data, &[a]));
    }
    let bodies: Vec<u64> = s.messages(mb).unwrap().iter().map(|m| m.row.body).collect();
    let src_before = mailbox_row(&s, mb);
    let raw_before = f.raw();
    let s = f.store().clone();
    let (g_in, g_ar) = (s.mailbox_generation(mb), s.mailbox_generation(archive));
    let (validity, pairs, modseq) = match s
        .call_blocking(Op::Move {
            from: mb,
            uids: vec![2..=3],
            to: archive,
        })
        .unwrap()
    {
        Done::Moved {
            uidvalidity,
            uids,
            modseq,
        } => (uidvalidity, uids, modseq),
        other => panic!("{other:?}"),
    };
    assert_eq!(validity, mailbox_row(&s, archive).uidvalidity);
    assert_eq!(pairs, vec![(uid(2), uid(1)), (uid(3), uid(2))]);
    let src = mailbox_row(&s, mb);
    assert_eq!(modseq, src_before.highest_modseq + 1);
    assert_eq!(src.highest_modseq, modseq);
    assert_eq!((src.messages, src.unseen, src.uidnext), (1, 1, 4));
    assert_eq!(uids_in(&s, mb), vec![1]);
    assert_eq!(uids_in(&s, archive), vec![1, 2]);
    assert_eq!(
        s.vanished_since(mb, src_before.highest_modseq).unwrap(),
        Some(Vanished::Exact(vec![uid(2), uid(3)]))
    );
    for (n, body) in [(1, bodies[1]), (2, bodies[2])] {
        let m = s.message(archive, n).unwrap().unwrap();
        assert_eq!(m.row.body, body);
        assert_eq!(
            read_message(&s, archive, n),
            Some(stored(["two", "three"][n as usize - 1], &data))
        );
    }
    assert!(s.mailbox_generation(mb) > g_in && s.mailbox_generation(archive) > g_ar);
    // Moving within a mailbox renumbers.
    let Done::Moved { uids, .. } = s
        .call_blocking(Op::Move {
            from: archive,
            uids: vec![1..=1],
            to: archive,
        })
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(uids, vec![(uid(1), uid(3))]);
    assert_eq!(uids_in(&s, archive), vec![2, 3]);
    assert_consistent(&s, "after moves");
    // Refs did not move at all: the body rows and chunks are as they were.
    let raw = f.raw();
    assert_eq!(raw.bodies, raw_before.bodies);
    assert_eq!(raw.chunks, raw_before.chunks);
    raw.assert_closed_consistent("after moves");
}

#[test]
fn expunge_removes_only_deleted_messages_and_remembers_them() {
    let mut f = Fixture::new();
    let users = setup_users(f.store(), &["a@example.test", "b@example.test"]);
    let (a, b) = (users[0], users[1]);
    let s = f.store().clone();
    let mb = inbox(&s, a);
    let shared = payload("shared", 2 * CHUNK_BYTES + 1);
    let own = payload("own", 3 * CHUNK_BYTES + 1);
    let (shared_body, _) = copies(deliver(&s, "shared", &shared, &[a, b]));
    let (own_body, _) = copies(deliver(&s, "own", &own, &[a]));
    for i in 0..3 {
        copies(deliver(&s, &format!("x{i}"), b"x\r\n", &[a]));
    }
    let expunge = |uids: Option<Vec<std::ops::RangeInclusive<u32>>>| match s
        .call_blocking(Op::Expunge { mailbox: mb, uids })
        .unwrap()
    {
        Done::Expunged { modseq, uids } => (modseq, nums(&uids)),
        other => panic!("{other:?}"),
    };
    // Nothing flagged \Deleted: nothing happens.
    let h0 = mailbox_row(&s, mb).highest_modseq;
    assert_eq!(expunge(None), (h0, vec![]));
    assert_eq!(mailbox_row(&s, mb).highest_modseq, h0);
    set_flags(&s, mb, 1..=4, StoreMode::Add, flags::DELETED, &[], None).unwrap();
    set_flags(&s, mb, 3..=3, StoreMode::Remove, flags::DELETED, &[], None).unwrap();
    let h1 = mailbox_row(&s, mb).highest_modseq;
    // UID EXPUNGE (RFC 4315): only the given ones, and only if \Deleted.
    let (m1, gone) = expunge(Some(vec![3..=4]));
    assert_eq!((m1, gone), (h1 + 1, vec![4]));
    let (m2, gone) = expunge(None);
    assert_eq!((m2, gone), (m1 + 1, vec![1, 2]));
    assert_eq!(uids_in(&s, mb), vec![3, 5]);
    let row = mailbox_row(&s, mb);
    assert_eq!((row.messages, row.uidnext, row.vanished), (2, 6, 3));
    assert_eq!(
        s.vanished_since(mb, h1).unwrap(),
        Some(Vanished::Exact(vec![uid(1), uid(2), uid(4)]))
    );
    assert_eq!(
        s.vanished_since(mb, m1).unwrap(),
        Some(Vanished::Exact(vec![uid(1), uid(2)]))
    );
    assert_eq!(
        s.vanished_since(mb, m2).unwrap(),
        Some(Vanished::Exact(vec![]))
    );
    assert_eq!(s.vanished_since(MailboxId(999), 0).unwrap(), None);
    // The shared body lost a ref; the one only a held is gone with its chunks and summary.
    assert_eq!(s.body(shared_body).unwrap().unwrap().refs, 1);
    assert_eq!(s.body(own_body).unwrap(), None);
    assert_eq!(s.summary(own_body).unwrap(), None);
    assert_eq!(
        read_message(&s, inbox(&s, b), 1),
        Some(stored("shared", &shared))
    );
    // New deliveries never reuse an expunged UID.
    let (_, cps) = copies(deliver(&s, "after", b"after\r\n", &[a]));
    assert_eq!(cps[0].2.get(), 6);
    assert_consistent(&s, "after expunges");
    let raw = f.raw();
    assert!(!raw.bodies.contains_key(&own_body.0));
    assert!(!raw.summaries.contains_key(&own_body.0));
    assert!(raw.chunk_seqs(own_body.0).is_empty());
    assert_eq!(
        raw.vanished,
        [(mb.0, m1, 4), (mb.0, m2, 1), (mb.0, m2, 2)]
            .into_iter()
            .collect()
    );
    raw.assert_closed_consistent("after expunges");
    // Deleting the mailbox's user takes its history too.
    f.store()
        .call_blocking(Op::DelUser("a@example.test".into()))
        .unwrap();
    let raw = f.raw();
    assert!(raw.vanished.is_empty());
    raw.assert_closed_consistent("after deleting a");
}

/// Fills a mailbox with `n` messages sharing one small body, by delivering one and copying.
fn fill(s: &Store, user: UserId, mailbox: MailboxId, n: usize) {
    let before = uids_in(s, mailbox).len();
    if mailbox == inbox(s, user) {
        copies(deliver(s, "seed", b"seed\r\n", &[user]));
    } else {
        appended(append(s, mailbox, b"seed\r\n", 0, &[]));
    }
    while uids_in(s, mailbox).len() - before < n {
        let have = uids_in(s, mailbox);
        let want = n - (have.len() - before);
        let from = have[have.len() - want.min(have.len() - before)];
        s.call_blocking(Op::Copy {
            from: mailbox,
            uids: vec![from..=u32::MAX],
            to: mailbox,
        })
        .unwrap();
    }
}

#[test]
fn the_vanished_history_is_bounded() {
    let mut f = Fixture::new();
    let a = setup_users(f.store(), &["a@example.test"])[0];
    let s = f.store().clone();
    let mb = inbox(&s, a);
    let keep = VANISHED_KEEP;
    fill(&s, a, mb, 3 * keep as usize);
    let uids = uids_in(&s, mb);
    let h0 = mailbox_row(&s, mb).highest_modseq;
    // 600, then 600 more: the oldest 200 of the first expunge are dropped, and requests from
    // before that expunge are no longer exact.
    let first = delete_and_expunge(&s, mb, uids[0]..=uids[599]);
    let m1 = mailbox_row(&s, mb).highest_modseq;
    let second = delete_and_expunge(&s, mb, uids[600]..=uids[1199]);
    let m2 = mailbox_row(&s, mb).highest_modseq;
    assert_eq!((first.len(), second.len()), (600, 600));
    let row = mailbox_row(&s, mb);
    assert_eq!((row.vanished, row.vanished_floor), (keep, m1));
    assert_eq!(
        s.vanished_since(mb, h0).unwrap(),
        Some(Vanished::Truncated { floor: m1 })
    );
    assert_eq!(
        s.vanished_since(mb, m1 - 1).unwrap(),
        Some(Vanished::Truncated { floor: m1 })
    );
    let Some(Vanished::Exact(after_m1)) = s.vanished_since(mb, m1).unwrap() else {
        panic!("from the floor on the history is exact")
    };
    assert_eq!(nums(&after_m1), second);
    assert_eq!(
        s.vanished_since(mb, m2).unwrap(),
        Some(Vanished::Exact(vec![]))
    );
    assert_consistent(&s, "after trimming");
    // One expunge larger than the bound keeps none of itself: it is all one modseq.
    let rest = uids_in(&s, mb);
    let big = delete_and_expunge(&s, mb, rest[0]..=rest[keep as usize]);
    assert_eq!(big.len(), keep as usize + 1);
    let m3 = mailbox_row(&s, mb).highest_modseq;
    let row = mailbox_row(&s, mb);
    assert_eq!((row.vanished, row.vanished_floor), (0, m3));
    assert_eq!(
        s.vanished_since(mb, m2).unwrap(),
        Some(Vanished::Truncated { floor: m3 })
    );
    assert_eq!(
        s.vanished_since(mb, m3).unwrap(),
        Some(Vanished::Exact(vec![]))
    );
    let last = delete_and_expunge(&s, mb, 1..=u32::MAX);
    assert_eq!(
        s.vanished_since(mb, m3).unwrap(),
        Some(Vanished::Exact(last.iter().map(|n| uid(*n)).collect()))
    );
    assert_consistent(&s, "after the big expunge");
    let raw = f.raw();
    assert_eq!(raw.vanished.len(), last.len());
    raw.assert_closed_consistent("bounded history");
}

#[test]
fn renaming_a_mailbox_renames_its_inferiors_and_keeps_their_identity() {
    let mut f = Fixture::new();
    let a = setup_users(f.store(), &["a@example.test"])[0];
    let s = f.store().clone();
    for n in ["a", "a/b", "a/b/c", "ab", "a0", "x/b"] {
        create_mailbox(&s, a, n);
    }
    // x/b without x: the superior was deleted (a name in the hierarchy only).
    s.call_blocking(Op::DeleteMailbox {
        user: a,
        name: "x".into(),
    })
    .unwrap();
    let a_id = mailbox_named(&s, a, "a");
    let abc = mailbox_named(&s, a, "a/b/c");
    appended(append(&s, abc, b"deep\r\n", flags::SEEN, &["k"]));
    let before = mailbox_rows(&s);
    let subs = s.subscriptions(a).unwrap();
    let g = s.user_generation(a);
    let rename = |from: &str, to: &str| {
        s.call_blocking(Op::RenameMailbox {
            user: a,
            from: from.into(),
            to: to.into(),
        })
    };
    // Refusals first; none changes anything.
    assert_eq!(
        refused(rename("a", "ab")),
        Refusal::MailboxExists("ab".into())
    );
    assert_eq!(
        refused(rename("a", "x")),
        Refusal::MailboxExists("x/b".into())
    );
    assert_eq!(
        refused(rename("nope", "y")),
        Refusal::NoSuchMailbox("nope".into())
    );
    assert_eq!(
        invalid_name_reason(rename("a", "a/b/z")),
        "inside the mailbox it renames"
    );
    let long = "L".repeat(MAX_MAILBOX_NAME_BYTES - 2);
    assert_eq!(
        invalid_name_reason(rename("a", &long)),
        "too long",
        "a/b/c would not fit"
    );
    assert_eq!(mailbox_rows(&s), before);
    // a → c/d: c is made, the inferiors follow, ab and a0 stay.
    let Done::Mailbox { id, uidvalidity } = rename("a", "c/d").unwrap() else {
        panic!()
    };
    assert_eq!((id, uidvalidity), (a_id, before[&a_id.0].uidvalidity));
    let mut names = names_of(&s, a);
    names
        .retain(|n| !["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"].contains(&n.as_str()));
    assert_eq!(names, ["a0", "ab", "c", "c/d", "c/d/b", "c/d/b/c", "x/b"]);
    let after = mailbox_rows(&s);
    for (old, new) in [("a", "c/d"), ("a/b", "c/d/b"), ("a/b/c", "c/d/b/c")] {
        let id = mailbox_named(&s, a, new);
        let (was, is) = (&before[&id.0], &after[&id.0]);
        assert_eq!(was.name, old);
        let mut renamed = was.clone();
        renamed.name = new.into();
        assert_eq!(is, &renamed, "{old} → {new} changed more than its name");
        assert!(s.mailbox_generation(id) > 0);
    }
    assert_eq!(read_message(&s, abc, 1), Some(b"deep\r\n".to_vec()));
    assert!(s.user_generation(a) > g);
    assert_eq!(
        s.subscriptions(a).unwrap(),
        subs,
        "subscriptions are names, left alone"
    );
    assert_consistent(&s, "after rename");
    let raw = f.raw();
    assert_eq!(raw.mailboxes.len(), before.len() + 1, "only c is new");
    raw.assert_closed_consistent("after rename");
}

#[test]
fn renaming_inbox_moves_its_messages_into_a_new_mailbox() {
    let mut f = Fixture::new();
    let a = setup_users(f.store(), &["a@example.test"])[0];
    let s = f.store().clone();
    let mb = inbox(&s, a);
    let big = payload("big", 2 * CHUNK_BYTES + 5);
    for (tag, data) in [
        ("one", &b"one\r\n"[..]),
        ("two", &big[..]),
        ("three", &b"three\r\n"[..]),
    ] {
        copies(deliver(&s, tag, data, &[a]));
    }
    set_flags(
        &s,
        mb,
        2..=2,
        StoreMode::Add,
        flags::SEEN,
        &["$Forwarded"],
        None,
    )
    .unwrap();
    delete_and_expunge(&s, mb, 1..=1);
    let sub = create_mailbox(&s, a, "INBOX/sub");
    appended(append(&s, sub, b"sub\r\n", 0, &[]));
    let before = mailbox_row(&s, mb);
    let msgs_before = s.messages(mb).unwrap();
    let raw_before = f.raw();
    let s = f.store().clone();
    let (old, validity) = match s
        .call_blocking(Op::RenameMailbox {
            user: a,
            from: "INBOX".into(),
            to: "Old/2024".into(),
        })
        .unwrap()
    {
        Done::Mailbox { id, uidvalidity } => (id, uidvalidity),
        other => panic!("{other:?}"),
    };
    assert_ne!(old, mb);
    assert!(validity > before.uidvalidity);
    assert_eq!(mailbox_named(&s, a, "Old/2024"), old);
    assert!(
        s.mailbox(a, "Old").unwrap().is_some(),
        "the superior was made"
    );
    // The messages moved in UID order, renumbered from 1, with flags, keywords, dates, bodies.
    let moved = s.messages(old).unwrap();
    assert_eq!(
        nums(&moved.iter().map(|m| m.uid).collect::<Vec<_>>()),
        vec![1, 2]
    );
    let new_row = mailbox_row(&s, old);
    for (was, is) in msgs_before.iter().zip(&moved) {
        let mut want = was.row.clone();
        want.modseq = new_row.highest_modseq;
        assert_eq!(is.row, want);
    }
    assert_eq!(
        (new_row.messages, new_row.unseen, new_row.uidnext),
        (2, 1, 3)
    );
    assert_eq!(new_row.keywords, before.keywords);
    assert_eq!(read_message(&s, old, 1), Some(stored("two", &big)));
    // INBOX stays itself: same id, UIDVALIDITY and UIDNEXT; empty; the UIDs vanished.
    let inbox_row = mailbox_row(&s, mb);
    assert_eq!(inbox(&s, a), mb);
    assert_eq!(
        (inbox_row.uidvalidity, inbox_row.uidnext),
        (before.uidvalidity, before.uidnext)
    );
    assert_eq!(
        (inbox_row.messages, inbox_row.unseen, inbox_row.bytes),
        (0, 0, 0)
    );
    assert_eq!(inbox_row.highest_modseq, before.highest_modseq + 1);
    assert_eq!(
        s.vanished_since(mb, before.highest_modseq).unwrap(),
        Some(Vanished::Exact(vec![uid(2), uid(3)]))
    );
    // Its inferiors are not renamed (RFC 9051 §6.3.6).
    assert_eq!(uids_in(&s, mailbox_named(&s, a, "INBOX/sub")), vec![1]);
    // Mail keeps arriving in INBOX, after the old UIDs.
    let (_, cps) = copies(deliver(&s, "later", b"later\r\n", &[a]));
    assert_eq!(cps[0].1, mb);
    assert_eq!(cps[0].2.get(), before.uidnext);
    // Renaming INBOX again to a name now taken is refused; an empty INBOX renames fine.
    assert_eq!(
        refused(s.call_blocking(Op::RenameMailbox {
            user: a,
            from: "INBOX".into(),
            to: "Old/2024".into(),
        })),
        Refusal::MailboxExists("Old/2024".into())
    );
    delete_and_expunge(&s, mb, 1..=u32::MAX);
    let Done::Mailbox { id: empty, .. } = s
        .call_blocking(Op::RenameMailbox {
            user: a,
            from: "INBOX".into(),
            to: "Empty".into(),
        })
        .unwrap()
    else {
        panic!()
    };
    assert!(s.messages(empty).unwrap().is_empty());
    assert_consistent(&s, "after renaming INBOX");
    // No body was copied or lost: the moved messages' rows and chunks are the same.
    let raw = f.raw();
    let later: Vec<u64> = raw
        .bodies
        .keys()
        .copied()
        .filter(|b| !raw_before.bodies.contains_key(b))
        .collect();
    assert_eq!(later.len(), 0, "the later message was expunged again");
    assert_eq!(raw.chunks, raw_before.chunks);
    raw.assert_closed_consistent("after renaming INBOX");
}

#[test]
fn deleting_a_mailbox_drops_its_messages_and_keeps_its_inferiors() {
    let mut f = Fixture::new();
    let users = setup_users(f.store(), &["a@example.test", "b@example.test"]);
    let (a, b) = (users[0], users[1]);
    let s = f.store().clone();
    let lists = create_mailbox(&s, a, "Lists");
    let rust = create_mailbox(&s, a, "Lists/rust");
    let only = payload("only", 2 * CHUNK_BYTES + 9);
    let (only_body, _, _) = appended(append(&s, lists, &only, 0, &[]));
    let (shared_body, _) = copies(deliver(&s, "shared", b"shared\r\n", &[a, b]));
    s.call_blocking(Op::Copy {
        from: inbox(&s, a),
        uids: vec![1..=1],
        to: lists,
    })
    .unwrap();
    appended(append(&s, rust, b"rust\r\n", 0, &[]));
    delete_and_expunge(&s, lists, 2..=2);
    s.call_blocking(Op::Copy {
        from: inbox(&s, a),
        uids: vec![1..=1],
        to: lists,
    })
    .unwrap();
    let old = mailbox_row(&s, lists);
    let (g_user, g_box) = (s.user_generation(a), s.mailbox_generation(lists));
    let del = |name: &str| {
        s.call_blocking(Op::DeleteMailbox {
            user: a,
            name: name.into(),
        })
    };
    assert_eq!(refused(del("INBOX")), Refusal::InboxNotDeletable);
    assert_eq!(refused(del("nope")), Refusal::NoSuchMailbox("nope".into()));
    del("Lists").unwrap();
    assert!(s.mailbox(a, "Lists").unwrap().is_none());
    assert!(s.mailbox_by_id(lists).unwrap().is_none());
    assert!(s.messages(lists).unwrap().is_empty());
    assert_eq!(s.vanished_since(lists, 0).unwrap(), None);
    assert!(s.user_generation(a) > g_user && s.mailbox_generation(lists) > g_box);
    // The inferior stays; the bodies only Lists held are gone, the shared one lost a ref.
    assert_eq!(uids_in(&s, rust), vec![1]);
    assert_eq!(s.body(only_body).unwrap(), None);
    assert_eq!(s.body(shared_body).unwrap().unwrap().refs, 2);
    // The name can be made again: a new mailbox, a new UIDVALIDITY.
    let again = create_mailbox(&s, a, "Lists");
    assert_ne!(again, lists);
    assert!(mailbox_row(&s, again).uidvalidity > old.uidvalidity);
    assert_consistent(&s, "after deleting a mailbox");
    let raw = f.raw();
    assert!(!raw.mailboxes.contains(&lists.0));
    assert!(raw.vanished.iter().all(|(m, _, _)| *m != lists.0));
    assert!(raw.chunk_seqs(only_body.0).is_empty());
    raw.assert_closed_consistent("after deleting a mailbox");
}

#[test]
fn junk_training_events_are_recorded_with_the_change() {
    let mut f = Fixture::new();
    let users = setup_users(f.store(), &["a@example.test", "b@example.test"]);
    let (a, b) = (users[0], users[1]);
    let s = f.store().clone();
    let mb = inbox(&s, a);
    let junk = mailbox_named(&s, a, "Junk");
    let trash = mailbox_named(&s, a, "Trash");
    let archive = mailbox_named(&s, a, "Archive");
    let bodies: Vec<BodyId> = (0..4)
        .map(|i| copies(deliver(&s, &format!("t{i}"), b"t\r\n", &[a])).0)
        .collect();
    let events = || -> Vec<(u64, bool)> {
        s.training_events(a)
            .unwrap()
            .iter()
            .map(|e| (e.body.0, e.spam))
            .collect()
    };
    let mv = |from, uids: std::ops::RangeInclusive<u32>, to| {
        s.call_blocking(Op::Move {
            from,
            uids: vec![uids],
            to,
        })
        .unwrap()
    };
    // Copied into Junk: spam. Moved into Junk: spam.
    s.call_blocking(Op::Copy {
        from: mb,
        uids: vec![1..=1],
        to: junk,
    })
    .unwrap();
    mv(mb, 2..=2, junk);
    assert_eq!(events(), vec![(bodies[0].0, true), (bodies[1].0, true)]);
    // Moved out of Junk to a mailbox: ham; to Trash: no verdict; within Junk: none.
    mv(junk, 2..=2, archive);
    mv(junk, 1..=1, trash);
    assert_eq!(events().len(), 3);
    assert_eq!(events()[2], (bodies[1].0, false));
    // $Junk / $NotJunk set (in any case): spam / ham; set again: nothing.
    set_flags(&s, mb, 3..=3, StoreMode::Add, 0, &["$junk"], None).unwrap();
    set_flags(&s, mb, 3..=3, StoreMode::Add, 0, &["$Junk"], None).unwrap();
    set_flags(&s, mb, 4..=4, StoreMode::Replace, 0, &["$NotJunk"], None).unwrap();
    let all = s.training_events(a).unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!((all[3].body, all[3].spam), (bodies[2], true));
    assert_eq!((all[4].body, all[4].spam), (bodies[3], false));
    let now = mailnook::time::unix_now();
    assert!(
        all.iter()
            .all(|e: &TrainingEvent| e.time <= now && e.time + 600 > now)
    );
    assert!(s.training_events(b).unwrap().is_empty());
    // Bounded per user: the newest are kept.
    let many = TRAINING_KEEP as usize + 150;
    fill(&s, a, archive, many);
    s.call_blocking(Op::Copy {
        from: archive,
        uids: vec![1..=u32::MAX],
        to: junk,
    })
    .unwrap();
    let kept = s.training_events(a).unwrap();
    assert_eq!(kept.len(), TRAINING_KEEP as usize);
    assert!(kept.iter().all(|e| e.spam));
    assert_consistent(&s, "after training");
    let raw = f.raw();
    let seqs: Vec<u64> = raw
        .training
        .keys()
        .filter(|(u, _)| *u == a.0)
        .map(|(_, q)| *q)
        .collect();
    assert_eq!(seqs.len(), TRAINING_KEEP as usize);
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "sequence numbers are contiguous"
    );
    raw.assert_closed_consistent("after training");
    f.store()
        .call_blocking(Op::DelUser("a@example.test".into()))
        .unwrap();
    let raw = f.raw();
    assert!(raw.training.is_empty());
    raw.assert_closed_consistent("after deleting a");
}

#[test]
fn a_pinned_reader_outlives_the_expunge_of_its_message() {
    let mut f = Fixture::new();
    let a = setup_users(f.store(), &["a@example.test"])[0];
    let s = f.store().clone();
    let mb = inbox(&s, a);
    let data = payload("pinned", 3 * CHUNK_BYTES + 1234);
    let want = stored("pinned", &data);
    let (body, _) = copies(deliver(&s, "pinned", &data, &[a]));
    let (other, _) = copies(deliver(&s, "other", b"other\r\n", &[a]));
    let reader = s.open_body(body).unwrap().expect("open");
    let second = s.open_body(body).unwrap().expect("open twice");
    assert_eq!(s.body_readers(), 2);
    // Reads at any offset and length, across the prefix, chunk and inline boundaries.
    assert!(read_body(&reader, 7_777) == want);
    let p = prefix("pinned").len();
    for (at, len) in [
        (0, 10),
        (p - 3, 6),
        (p + CHUNK_BYTES - 2, 5),
        (want.len() - 4, 100),
        (want.len(), 8),
    ] {
        let mut buf = vec![0; len];
        let n = reader.read_at(at as u64, &mut buf).unwrap();
        assert_eq!(&buf[..n], &want[at..(at + len).min(want.len())], "at {at}");
    }
    // Expunged while pinned: the message goes, the bytes stay, parked.
    delete_and_expunge(&s, mb, 1..=1);
    assert!(s.message(mb, 1).unwrap().is_none());
    assert!(
        s.open_body(body).unwrap().is_none(),
        "no new reader for a body no message shows"
    );
    assert!(read_body(&reader, 65_536) == want);
    assert_eq!(
        s.summary(body).unwrap(),
        Some(vec![1, 2, 3]),
        "the summary stays with it"
    );
    assert_consistent(&s, "while parked");
    let raw = f.raw_live("while parked");
    assert_eq!(raw.parked, [body.0].into_iter().collect());
    assert_eq!(raw.bodies[&body.0].refs, 0);
    assert_stored_layout(&raw, body.0, &data, "while parked");
    raw.assert_bodies_and_chunks("while parked");
    // One reader gone: still parked. The last: collected with the next commit.
    drop(second);
    assert!(read_body(&reader, 100_000) == want);
    commit_now(&s);
    assert_eq!(f.raw_live("one reader left").parked.len(), 1);
    drop(reader);
    assert_eq!(s.body_readers(), 0);
    commit_now(&s);
    let raw = f.raw_live("after the last reader");
    assert!(raw.parked.is_empty());
    assert!(!raw.bodies.contains_key(&body.0) && !raw.summaries.contains_key(&body.0));
    assert!(raw.chunk_seqs(body.0).is_empty(), "the chunks remain");
    raw.assert_bodies_and_chunks("after the last reader");
    // A body other messages still show is never parked.
    s.call_blocking(Op::Copy {
        from: mb,
        uids: vec![2..=2],
        to: mailbox_named(&s, a, "Archive"),
    })
    .unwrap();
    let r = s.open_body(other).unwrap().unwrap();
    delete_and_expunge(&s, mb, 2..=2);
    assert_eq!(s.body(other).unwrap().unwrap().refs, 1);
    drop(r);
    // A body that does not exist does not open.
    assert!(s.open_body(BodyId(987_654)).unwrap().is_none());
    assert_eq!(s.body_readers(), 0);
    assert_consistent(&s, "after the readers");
    let raw = f.raw();
    raw.assert_closed_consistent("after the readers");
}

#[test]
fn a_parked_deletion_leaves_nothing_after_a_crash() {
    let f = Fixture::new();
    let a = setup_users(f.store(), &["a@example.test"])[0];
    let s = f.store().clone();
    let mb = inbox(&s, a);
    let data = payload("crash", 2 * CHUNK_BYTES + 99);
    let (body, _) = copies(deliver(&s, "crash", &data, &[a]));
    let (kept, _) = copies(deliver(&s, "kept", &payload("kept", CHUNK_BYTES + 1), &[a]));
    let reader = s.open_body(body).unwrap().unwrap();
    delete_and_expunge(&s, mb, 1..=1);
    // The file as a crash right now would leave it (the expunge committed, the reader alive).
    let image = f.dir.path().join("crash.redb");
    std::fs::copy(f.path(), &image).unwrap();
    let raw = raw_file(&image, "crash image");
    assert_eq!(raw.parked, [body.0].into_iter().collect());
    raw.assert_bodies_and_chunks("crash image");
    // The process that comes back has no readers: the open finishes the deletion.
    let back = Store::open(&image, CACHE_BYTES).unwrap();
    assert_eq!(back.body(body).unwrap(), None);
    assert!(back.body(kept).unwrap().is_some());
    assert_consistent(&back, "after the crash");
    back.close();
    let raw = raw_file(&image, "after the crash, closed");
    assert!(raw.parked.is_empty() && !raw.bodies.contains_key(&body.0));
    assert!(raw.chunk_seqs(body.0).is_empty() && !raw.summaries.contains_key(&body.0));
    raw.assert_closed_consistent("after the crash, closed");
    // Meanwhile the original still reads.
    assert!(read_body(&reader, 50_000) == stored("crash", &data));
    drop(reader);
}

#[test]
fn generations_change_after_commits_and_wake_waiters_on_other_threads() {
    let f = Fixture::new();
    let users = setup_users(f.store(), &["a@example.test", "b@example.test"]);
    let (a, b) = (users[0], users[1]);
    let s = f.store().clone();
    let (mb, archive, b_inbox) = (inbox(&s, a), mailbox_named(&s, a, "Archive"), inbox(&s, b));
    let g0 = s.mailbox_generation(mb);
    copies(deliver(&s, "g", b"g\r\n", &[a]));
    let g1 = s.mailbox_generation(mb);
    assert!(g1 > g0, "a delivery bumps the INBOX");
    assert_eq!(s.mailbox_generation(b_inbox), 0, "and no one else's");
    // Reads and refusals and no-op changes bump nothing.
    let _ = s.messages(mb).unwrap();
    let _ = refused(set_flags(
        &s,
        mb,
        1..=1,
        StoreMode::Add,
        0,
        &["bad word"],
        None,
    ));
    set_flags(&s, mb, 5..=9, StoreMode::Add, flags::SEEN, &[], None).unwrap();
    assert_eq!(s.mailbox_generation(mb), g1);
    // A move bumps both ends.
    let ga = s.mailbox_generation(archive);
    s.call_blocking(Op::Move {
        from: mb,
        uids: vec![1..=1],
        to: archive,
    })
    .unwrap();
    assert!(s.mailbox_generation(mb) > g1 && s.mailbox_generation(archive) > ga);
    // Already different: resolves at once.
    futures_lite::future::block_on(s.changed(mb, g0));
    // A waiter on another thread wakes on the next commit that touches the mailbox.
    let (tx, rx) = std::sync::mpsc::channel();
    let seen = s.mailbox_generation(mb);
    let waiter = {
        let s = s.clone();
        std::thread::spawn(move || {
            futures_lite::future::block_on(s.changed(mb, seen));
            tx.send(s.mailbox_generation(mb)).unwrap();
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(100));
    // Commits elsewhere (b's INBOX, another mailbox of a) do not wake it for good.
    copies(deliver(&s, "for-b", b"b\r\n", &[b]));
    appended(append(&s, archive, b"a\r\n", 0, &[]));
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert!(
        rx.try_recv().is_err(),
        "woke without a change to its mailbox"
    );
    copies(deliver(&s, "wake", b"wake\r\n", &[a]));
    let woke_at = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the waiter did not wake");
    assert!(woke_at > seen);
    waiter.join().unwrap();
    // The user's generation follows the mailbox list.
    let gu = s.user_generation(a);
    let (tx, rx) = std::sync::mpsc::channel();
    let user_waiter = {
        let s = s.clone();
        std::thread::spawn(move || {
            futures_lite::future::block_on(s.user_changed(a, gu));
            tx.send(()).unwrap();
        })
    };
    copies(deliver(&s, "no-list-change", b"x\r\n", &[a]));
    assert_eq!(
        s.user_generation(a),
        gu,
        "a delivery does not change the list"
    );
    create_mailbox(&s, a, "New");
    rx.recv_timeout(std::time::Duration::from_secs(10))
        .expect("the user waiter did not wake");
    user_waiter.join().unwrap();
    assert!(s.user_generation(a) > gu);
    assert_eq!(s.user_generation(b), s.user_generation(b), "stable");
}

#[test]
fn a_version_1_store_is_migrated_when_opened() {
    use mailnook::codec::Enc;
    use mailnook::store::schema::{
        BODIES, CHUNKS, MAILBOX_BY_NAME, MAILBOXES, MESSAGES, USER_BY_EMAIL, USERS,
    };
    let dir = tempfile::Builder::new()
        .prefix("mailnook-v1")
        .tempdir()
        .unwrap();
    let path = dir.path().join("mail.redb");
    let data = payload("old", CHUNK_BYTES + 20);
    {
        // The rows as schema 1 wrote them (mailbox rows with a `subscribed` byte, body rows
        // with the summary inside).
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut meta = txn.open_table(META).unwrap();
            for (k, v) in [
                ("schema_version", 1),
                ("next_user", 2),
                ("next_mailbox", 3),
                ("next_uidvalidity", 500),
            ] {
                meta.insert(k, v).unwrap();
            }
            let user = Enc::default()
                .u8(1)
                .str("old@example.test")
                .str("$argon2id$x")
                .u64(7)
                .done();
            txn.open_table(USERS)
                .unwrap()
                .insert(1, user.as_slice())
                .unwrap();
            txn.open_table(USER_BY_EMAIL)
                .unwrap()
                .insert("old@example.test", 1)
                .unwrap();
            let mbox = |name: &str,
                        validity: u32,
                        uidnext: u32,
                        special: u8,
                        subscribed: u8,
                        n: u32,
                        size: u64| {
                Enc::default()
                    .u8(1)
                    .u64(1)
                    .str(name)
                    .u32(validity)
                    .u32(uidnext)
                    .u64(3)
                    .u8(special)
                    .u8(subscribed)
                    .u32(n)
                    .u32(n)
                    .u64(size)
                    .done()
            };
            let size = (b"P: x\r\n".len() + data.len()) as u64;
            let mut mailboxes = txn.open_table(MAILBOXES).unwrap();
            mailboxes
                .insert(1, mbox("INBOX", 498, 3, 0, 1, 1, size).as_slice())
                .unwrap();
            mailboxes
                .insert(2, mbox("Old stuff", 499, 1, 5, 0, 0, 0).as_slice())
                .unwrap();
            let mut names = txn.open_table(MAILBOX_BY_NAME).unwrap();
            names.insert((1, "INBOX"), 1).unwrap();
            names.insert((1, "Old stuff"), 2).unwrap();
            let msg = Enc::default()
                .u8(1)
                .u64(10)
                .u64(1_600_000_000)
                .u64(size)
                .u32(0)
                .u64(2)
                .u32(0)
                .done();
            txn.open_table(MESSAGES)
                .unwrap()
                .insert((1, 2), msg.as_slice())
                .unwrap();
            let body = Enc::default()
                .u8(1)
                .u32(1)
                .u64(size)
                .bytes(b"P: x\r\n")
                .bytes(b"old summary")
                .u32(1)
                .bytes(&data[CHUNK_BYTES..])
                .done();
            txn.open_table(BODIES)
                .unwrap()
                .insert(10, body.as_slice())
                .unwrap();
            txn.open_table(CHUNKS)
                .unwrap()
                .insert((10, 0), &data[..CHUNK_BYTES])
                .unwrap();
        }
        txn.commit().unwrap();
    }
    let s = Store::open(&path, CACHE_BYTES).expect("a v1 store opens");
    let a = s.user("old@example.test").unwrap().unwrap().id;
    let mb = inbox(&s, a);
    let mut want = b"P: x\r\n".to_vec();
    want.extend_from_slice(&data);
    assert_eq!(read_message(&s, mb, 2), Some(want.clone()));
    assert_eq!(
        s.summary(BodyId(10)).unwrap(),
        Some(b"old summary".to_vec())
    );
    assert_eq!(s.subscriptions(a).unwrap(), vec!["INBOX".to_string()]);
    let old = mailbox_row(&s, mailbox_named(&s, a, "Old stuff"));
    assert_eq!(
        (
            old.uidvalidity,
            old.special_use,
            old.vanished,
            old.keywords.len()
        ),
        (499, SpecialUse::Archive, 0, 0)
    );
    assert!(read_body(&s.open_body(BodyId(10)).unwrap().unwrap(), 4096) == want);
    assert_consistent(&s, "after the migration");
    // It works as a current store: new bodies take ids above the old ones.
    let (body, cps) = copies(deliver(&s, "new", b"new\r\n", &[a]));
    assert!(body.0 > 10);
    assert_eq!(cps[0].2.get(), 3);
    s.close();
    let raw = raw_file(&path, "migrated");
    assert_eq!(raw.meta["schema_version"], SCHEMA_VERSION);
    raw.assert_closed_consistent("migrated");
    let s = Store::open(&path, CACHE_BYTES).expect("reopen");
    assert_consistent(&s, "reopened after the migration");
    s.close();
}

#[test]
fn check_reports_broken_imap_tables() {
    use mailnook::store::schema::{BODIES, PARKED, SUBSCRIPTIONS, SUMMARIES, TRAINING, VANISHED};
    use redb::ReadableTable;
    let has = |found: &[String], what: &str| {
        assert!(found.iter().any(|p| p.contains(what)), "{what}: {found:?}");
    };
    // A vanished UID of a missing mailbox.
    let found = check_after(|txn, ids| {
        txn.open_table(VANISHED)
            .unwrap()
            .insert((ids["a_inbox"] + 1000, 2, 1), ())
            .unwrap();
    });
    has(&found, "belong to a missing mailbox");
    // A vanished UID the mailbox does not count (and that is still present).
    let found = check_after(|txn, ids| {
        txn.open_table(VANISHED)
            .unwrap()
            .insert((ids["a_inbox"], 2, 1), ())
            .unwrap();
    });
    has(&found, "still present");
    has(&found, "keeps 1 vanished uids but counts 0");
    // A body without its summary.
    let found = check_after(|txn, ids| {
        txn.open_table(SUMMARIES)
            .unwrap()
            .remove(ids["body"])
            .unwrap();
    });
    has(&found, "has no summary");
    // A parked row for a body messages still show.
    let found = check_after(|txn, ids| {
        txn.open_table(PARKED)
            .unwrap()
            .insert(ids["body"], ())
            .unwrap();
    });
    has(&found, "is parked");
    // A body nobody holds that is not parked.
    let found = check_after(|txn, ids| {
        let mut bodies = txn.open_table(BODIES).unwrap();
        let mut row = bodies.get(ids["body"]).unwrap().unwrap().value().to_vec();
        row[1..5].copy_from_slice(&0u32.to_le_bytes());
        bodies.insert(ids["body"], row.as_slice()).unwrap();
    });
    has(&found, "is not parked");
    // Subscriptions and training events of a missing user.
    let found = check_after(|txn, _| {
        txn.open_table(SUBSCRIPTIONS)
            .unwrap()
            .insert((77, "x"), ())
            .unwrap();
        txn.open_table(TRAINING)
            .unwrap()
            .insert((78, 1), (1, true, 0))
            .unwrap();
    });
    has(&found, "subscriptions of missing user 77");
    has(&found, "training events of missing user 78");
}

#[test]
fn state_values_are_kept_bounded_and_a_version_3_store_gains_the_table() {
    use mailnook::store::schema::{MAX_STATE_KEY_BYTES, MAX_STATE_VALUE_BYTES, STATE};
    let mut f = Fixture::new();
    let set = |s: &Store, key: &str, value: Option<Vec<u8>>| {
        s.call_blocking(Op::SetState {
            key: key.into(),
            value,
        })
    };
    assert_eq!(f.store().state("acme.account").unwrap(), None);
    set(f.store(), "acme.account", Some(b"one".to_vec())).unwrap();
    set(f.store(), "acme.account", Some(b"two".to_vec())).unwrap();
    assert_eq!(
        f.store().state("acme.account").unwrap(),
        Some(b"two".to_vec())
    );
    assert!(matches!(
        set(
            f.store(),
            &"k".repeat(MAX_STATE_KEY_BYTES + 1),
            Some(vec![])
        ),
        Err(Error::Refused(Refusal::TooMany(_)))
    ));
    assert!(matches!(
        set(f.store(), "big", Some(vec![0; MAX_STATE_VALUE_BYTES + 1])),
        Err(Error::Refused(Refusal::TooMany(_)))
    ));
    assert_consistent(f.store(), "with state rows");
    f.close();
    f.reopen();
    assert_eq!(
        f.store().state("acme.account").unwrap(),
        Some(b"two".to_vec()),
        "durable"
    );
    set(f.store(), "acme.account", None).unwrap();
    assert_eq!(f.store().state("acme.account").unwrap(), None);
    f.close();
    // A store as schema 3 left it (no STATE table) is brought to the current version.
    {
        let db = redb::Database::create(f.path()).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(META)
            .unwrap()
            .insert("schema_version", 3)
            .unwrap();
        assert!(txn.delete_table(STATE).unwrap());
        txn.commit().unwrap();
    }
    f.reopen();
    assert_eq!(f.store().state("acme.account").unwrap(), None);
    set(f.store(), "acme.account", Some(b"three".to_vec())).unwrap();
    assert_consistent(f.store(), "after the v3 migration");
    let raw = f.raw_closed();
    assert_eq!(raw.meta["schema_version"], SCHEMA_VERSION);
}

#[test]
fn a_delivery_files_each_copy_in_its_mailbox_with_its_flags() {
    use mailnook::store::{LocalCopy, flags};
    let mut f = Fixture::new();
    let s = f.store().clone();
    let users = setup_users(&s, &["a@example.test", "b@example.test"]);
    let (a, b) = (users[0], users[1]);
    let lists = create_mailbox(&s, a, "Lists");
    let copy = |user, mailbox: Option<&str>, flags, keywords: &[&str]| LocalCopy {
        user,
        mailbox: mailbox.map(str::to_string),
        flags,
        keywords: keywords.iter().map(|k| k.to_string()).collect(),
    };
    let mut d = delivery(upload(&s, b"Subject: x\r\n\r\nhi"), "filed", &[]);
    d.recipients = vec![
        // Into a named mailbox, seen and flagged, with keywords (a bad one and a repeat left off).
        copy(
            a,
            Some("Lists"),
            flags::SEEN | flags::FLAGGED,
            &["$Label1", "bad keyword", "$label1"],
        ),
        // A mailbox b does not have: INBOX.
        copy(b, Some("Nowhere"), 0, &[]),
        // The same mailbox twice for a (by name and by INBOX fallback): one copy each.
        copy(a, None, 0, &[]),
        copy(a, Some("NoSuch"), flags::SEEN, &[]),
    ];
    let (_, placed) = copies(s.call_blocking(Op::Deliver(d)));
    let (inbox_a, inbox_b) = (inbox(&s, a), inbox(&s, b));
    let mut where_to: Vec<(UserId, MailboxId)> = placed.iter().map(|(u, m, _)| (*u, *m)).collect();
    where_to.sort();
    let mut want = vec![(a, lists), (a, inbox_a), (b, inbox_b)];
    want.sort();
    assert_eq!(where_to, want);
    let listed = s.messages(lists).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].row.flags, flags::SEEN | flags::FLAGGED);
    assert_eq!(listed[0].row.keywords, vec!["$Label1".to_string()]);
    let row = mailbox_row(&s, lists);
    assert_eq!((row.messages, row.unseen), (1, 0));
    assert_eq!(row.keywords, vec!["$Label1".to_string()]);
    assert_eq!(mailbox_row(&s, inbox_a).unseen, 1);
    assert_consistent(&s, "after a filed delivery");
    f.raw().assert_bodies_and_chunks("after a filed delivery");
}

/// Quotas are decided inside the writer's transaction: two deliveries (and an APPEND) queued in
/// one batch for a user with room for only one of them cannot both get in; a delivery to that
/// user and another is stored for the other and names the user left out; COPY is refused, MOVE
/// is not; a quota lowered below usage removes nothing; reports (`quota: false`) always land.
#[test]
fn quotas_hold_inside_one_batch() {
    let backend = GatedBackend::default();
    let store = Store::open_with_backend(backend.clone(), CACHE_BYTES).expect("open");
    let users = setup_users(&store, &["a@example.test", "b@example.test"]);
    let (a, b) = (users[0], users[1]);
    let a_inbox = inbox(&store, a);
    let first = payload("first", 100_000);
    let second = payload("second", 100_000);
    let (first_up, second_up) = (upload(&store, &first), upload(&store, &second));
    let appended = payload("appended", 100_000);
    let append_up = upload(&store, &appended);
    let append_op = Op::Append {
        upload: append_up.id,
        chunks_sent: append_up.chunks_sent,
        mailbox: a_inbox,
        flags: 0,
        keywords: Vec::new(),
        internal_date: 1_700_000_000,
        tail: append_up.tail,
        summary: vec![1, 2, 3],
    };

    backend.set(true);
    let parked = {
        let s = store.clone();
        std::thread::spawn(move || {
            s.call_blocking(Op::SetQuota {
                email: "a@example.test".into(),
                bytes: 150_000,
            })
        })
    };
    backend.wait_for_held_sync();
    let ops = vec![
        Op::Deliver(delivery(first_up, "first", &[a])),
        Op::Deliver(delivery(second_up, "second", &[a, b])),
        append_op,
    ];
    let mut pending: Vec<_> = ops.into_iter().map(|op| Box::pin(store.call(op))).collect();
    for p in &mut pending {
        let polled = futures_lite::future::block_on(futures_lite::future::poll_once(p));
        assert!(polled.is_none(), "answered while the writer was parked");
    }
    backend.set(false);
    assert!(matches!(parked.join().unwrap(), Ok(Done::Unit)));
    let mut results = pending.into_iter().map(futures_lite::future::block_on);
    let (_, first_copies) = copies(results.next().unwrap());
    assert_eq!(first_copies, vec![(a, a_inbox, uid(1))]);
    match results.next().unwrap() {
        Ok(Done::Delivered {
            copies, over_quota, ..
        }) => {
            assert_eq!(copies, vec![(b, inbox(&store, b), uid(1))]);
            assert_eq!(over_quota, vec![(a, "a@example.test".to_string())]);
        }
        other => panic!("{other:?}"),
    }
    let append = results.next().unwrap();
    assert!(
        matches!(&append, Err(Error::Refused(Refusal::OverQuota(who))) if who == "a@example.test"),
        "{append:?}"
    );
    store.call_blocking(Op::Discard(append_up.id)).unwrap();
    let q = store.quota(a).unwrap().unwrap();
    assert_eq!(q.limit, 150_000);
    assert!(q.used > 100_000 && q.used <= 150_000, "{q:?}");

    // Alone: a delivery that fits nobody is refused whole, a report is not held back.
    let third = upload(&store, &payload("third", 100_000));
    let third_id = third.id;
    assert!(matches!(
        store.call_blocking(Op::Deliver(delivery(third, "third", &[a]))),
        Err(Error::Refused(Refusal::OverQuota(_)))
    ));
    store.call_blocking(Op::Discard(third_id)).unwrap();
    let mut report = delivery(upload(&store, b"a short report\r\n"), "report", &[a]);
    report.quota = false;
    let (_, report_copies) = copies(store.call_blocking(Op::Deliver(report)));
    assert_eq!(report_copies, vec![(a, a_inbox, uid(2))]);

    // COPY would add bytes: refused; MOVE shifts them: allowed.
    let archive = store.mailbox(a, "Archive").unwrap().unwrap().id;
    let copy = store.call_blocking(Op::Copy {
        from: a_inbox,
        uids: vec![1..=1],
        to: archive,
    });
    assert!(
        matches!(copy, Err(Error::Refused(Refusal::OverQuota(_)))),
        "{copy:?}"
    );
    let used = store.quota(a).unwrap().unwrap().used;
    assert!(matches!(
        store.call_blocking(Op::Move {
            from: a_inbox,
            uids: vec![1..=1],
            to: archive,
        }),
        Ok(Done::Moved { .. })
    ));
    assert_eq!(store.quota(a).unwrap().unwrap().used, used);

    // Lowered below usage: nothing is removed; unlimited again: mail fits.
    store
        .call_blocking(Op::SetQuota {
            email: "a@example.test".into(),
            bytes: 1,
        })
        .unwrap();
    assert_eq!(store.quota(a).unwrap().unwrap().used, used);
    assert!(store.quota(a).unwrap().unwrap().full());
    assert!(matches!(
        store.call_blocking(Op::SetQuota {
            email: "nobody@example.test".into(),
            bytes: 1,
        }),
        Err(Error::Refused(Refusal::NoSuchUser(_)))
    ));
    store
        .call_blocking(Op::SetQuota {
            email: "a@example.test".into(),
            bytes: 0,
        })
        .unwrap();
    copies(deliver(&store, "fourth", &payload("fourth", 100_000), &[a]));
    assert_consistent(&store, "after quotas");
}

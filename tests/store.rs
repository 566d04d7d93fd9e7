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

//! The store through its public API, on a real file (and, where one batch must be forced, on a
//! gated in-memory backend): body sharing and chunk reference counts, discards, refusals inside a
//! group commit, user deletion, UIDs and mailbox counters, the schema-version guard, and the
//! clean-up of chunks left by unfinished uploads. Every scenario ends with `check()` empty and a
//! raw look at the tables (`store_support::Raw`) that the API cannot give.

mod store_support;

use mailnook::store::schema::{META, SCHEMA_VERSION};
use mailnook::store::{
    BodyData, CHUNK_BYTES, Done, Error, MailboxId, Op, Refusal, Store, UserId, chunk_hash,
};
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
}

/// The expected bytes of a stored message.
fn stored(tag: &str, data: &[u8]) -> Vec<u8> {
    let mut v = prefix(tag);
    v.extend_from_slice(data);
    v
}

/// How many chunks a body of `len` data bytes is cut into (0: inline).
fn chunk_count(len: usize) -> usize {
    if len < CHUNK_BYTES {
        0
    } else {
        len.div_ceil(CHUNK_BYTES)
    }
}

fn body_hashes(store: &Store, body: mailnook::store::BodyId) -> Vec<[u8; 32]> {
    match store
        .body(body)
        .expect("read body")
        .expect("body exists")
        .data
    {
        BodyData::Inline(_) => Vec::new(),
        BodyData::Chunks(h) => h,
    }
}

/// How many times each hash appears in these lists.
fn uses(lists: &[&[[u8; 32]]]) -> BTreeMap<[u8; 32], u32> {
    let mut m = BTreeMap::new();
    for l in lists {
        for h in *l {
            *m.entry(*h).or_default() += 1;
        }
    }
    m
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
    let row = f.store().body(body).unwrap().unwrap();
    assert_eq!(row.refs, 5);
    assert_eq!(row.size, want.len() as u64);
    let hashes = body_hashes(f.store(), body);
    assert_eq!(
        hashes.len(),
        chunk_count(len),
        "chunk list of a {len}-byte body"
    );
    if let BodyData::Inline(d) = &row.data {
        assert_eq!(d, &data);
    }
    assert_consistent(f.store(), "after delivery");
    let raw = f.raw();
    assert_eq!(raw.bodies.len(), 1, "one body for five recipients");
    assert_eq!(raw.messages.len(), 5);
    assert_eq!(
        raw.chunk_refs,
        uses(&[hashes.as_slice()]),
        "one set of chunks, each held once"
    );
    for (i, h) in hashes.iter().enumerate() {
        let end = ((i + 1) * CHUNK_BYTES).min(data.len());
        assert_eq!(*h, chunk_hash(&data[i * CHUNK_BYTES..end]));
        assert_eq!(raw.chunks[h], end - i * CHUNK_BYTES);
    }
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
    let mut all_hashes = Vec::new();
    for (i, len) in sizes.into_iter().enumerate() {
        let tag = format!("edge{i}");
        let data = payload(&tag, len);
        let (body, cps) = copies(deliver(f.store(), &tag, &data, &users));
        assert_eq!(
            body_hashes(f.store(), body).len(),
            chunk_count(len),
            "{len} bytes"
        );
        for (_, mbox, uid) in cps {
            assert_eq!(uid.get(), i as u32 + 1);
            assert_eq!(
                read_message(f.store(), mbox, uid.get()),
                Some(stored(&tag, &data)),
                "{len} bytes"
            );
        }
        all_hashes.push(body_hashes(f.store(), body));
    }
    // A body whose chunks repeat: the same hash listed four times, counted four times.
    let block = payload("block", CHUNK_BYTES);
    let mut data = block.repeat(4);
    data.extend_from_slice(b"tail\r\n");
    let (body, cps) = copies(deliver(f.store(), "repeat", &data, &users[..1]));
    let hashes = body_hashes(f.store(), body);
    assert_eq!(hashes.len(), 5);
    assert!(hashes[..4].iter().all(|h| *h == chunk_hash(&block)));
    assert_eq!(
        read_message(f.store(), cps[0].1, cps[0].2.get()),
        Some(stored("repeat", &data))
    );
    all_hashes.push(hashes);
    assert_consistent(f.store(), "after boundary deliveries");
    let raw = f.raw();
    let lists: Vec<&[[u8; 32]]> = all_hashes.iter().map(Vec::as_slice).collect();
    assert_eq!(raw.chunk_refs, uses(&lists));
    assert_eq!(raw.chunk_refs[&chunk_hash(&block)], 4);
    raw.assert_closed_consistent("after boundary deliveries");
    // Deleting the only holder of the repeated chunk removes it.
    f.store()
        .call_blocking(Op::DelUser("a@example.test".into()))
        .unwrap();
    assert_consistent(f.store(), "after deleting a");
    let raw = f.raw();
    assert!(!raw.chunks.contains_key(&chunk_hash(&block)));
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
fn identical_large_payloads_share_chunks() {
    let mut f = Fixture::new();
    let users = setup_users(
        f.store(),
        &["a@example.test", "b@example.test", "c@example.test"],
    );
    let data = payload("shared", 300_000);
    let (body1, c1) = copies(deliver(f.store(), "first", &data, &users[..1]));
    let (body2, c2) = copies(deliver(f.store(), "second", &data, &users[1..2]));
    assert_ne!(body1, body2, "two deliveries are two bodies");
    let hashes = body_hashes(f.store(), body1);
    assert_eq!(
        hashes,
        body_hashes(f.store(), body2),
        "same data, same chunks"
    );
    assert_eq!(hashes.len(), 5);
    assert_consistent(f.store(), "after two deliveries");
    let raw = f.raw();
    assert_eq!(raw.bodies.len(), 2);
    assert_eq!(raw.chunks.len(), 5, "one set of chunks for both");
    assert!(
        raw.chunk_refs.values().all(|n| *n == 2),
        "{:?}",
        raw.chunk_refs
    );
    raw.assert_closed_consistent("after two deliveries");

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
    assert_eq!(raw.bodies.len(), 1);
    assert_eq!(raw.chunks.len(), 5);
    assert!(raw.chunk_refs.values().all(|n| *n == 1));
    raw.assert_closed_consistent("after deleting a");

    // A third delivery of the same data, then the last older holder goes.
    let (_, c3) = copies(deliver(f.store(), "third", &data, &users[2..3]));
    f.store()
        .call_blocking(Op::DelUser("b@example.test".into()))
        .unwrap();
    assert_eq!(
        read_message(f.store(), c3[0].1, c3[0].2.get()),
        Some(stored("third", &data))
    );
    assert_consistent(f.store(), "after deleting b");
    let raw = f.raw();
    assert_eq!(raw.chunks.len(), 5);
    assert!(raw.chunk_refs.values().all(|n| *n == 1));
    raw.assert_closed_consistent("after deleting b");
}

#[test]
fn discard_removes_chunks_no_one_else_holds() {
    let mut f = Fixture::new();
    let users = setup_users(f.store(), &["a@example.test"]);
    let s = f.store().clone();

    // Alone: every chunk goes.
    let lone = upload(&s, &payload("lone", 3 * CHUNK_BYTES + 10));
    assert_eq!(lone.chunks_sent, 3);
    s.call_blocking(Op::Discard(lone.id)).unwrap();
    assert_consistent(&s, "after a lone discard");
    let raw = f.raw();
    assert!(
        raw.chunks.is_empty(),
        "discarded chunks remain: {}",
        raw.chunks.len()
    );
    assert!(raw.bodies.is_empty());
    raw.assert_closed_consistent("after a lone discard");

    // Two uploads of the same data: discarding one leaves the other whole.
    let s = f.store().clone();
    let twin = payload("twin", 2 * CHUNK_BYTES + 500);
    let b = upload(&s, &twin);
    let c = upload(&s, &twin);
    s.call_blocking(Op::Discard(b.id)).unwrap();
    let (_, cps) = copies(s.call_blocking(Op::Deliver(delivery(c, "twin", &users))));
    assert_eq!(
        read_message(&s, cps[0].1, cps[0].2.get()),
        Some(stored("twin", &twin))
    );
    // The other order: the survivor is discarded after its twin was delivered.
    let d = upload(&s, &twin);
    let e = upload(&s, &twin);
    let (_, cps2) = copies(s.call_blocking(Op::Deliver(delivery(d, "twin2", &users))));
    s.call_blocking(Op::Discard(e.id)).unwrap();
    assert_consistent(&s, "after twin uploads");

    // Chunks a stored body holds survive a discard of an upload that sent them too.
    let held = payload("held", 2 * CHUNK_BYTES + 7);
    let (_, cps3) = copies(deliver(&s, "held", &held, &users));
    let again = upload(&s, &held);
    s.call_blocking(Op::Discard(again.id)).unwrap();
    // Discarding an unknown or already finished upload changes nothing.
    s.call_blocking(Op::Discard(again.id)).unwrap();
    assert_consistent(&s, "after discarding a held upload");
    let raw = f.raw();
    let twin_full: Vec<[u8; 32]> = (0..2)
        .map(|i| chunk_hash(&twin[i * CHUNK_BYTES..(i + 1) * CHUNK_BYTES]))
        .collect();
    for h in &twin_full {
        assert_eq!(
            raw.chunk_refs.get(h),
            Some(&2),
            "twin chunk held by two bodies"
        );
    }
    let held_full = chunk_hash(&held[..CHUNK_BYTES]);
    assert_eq!(raw.chunk_refs.get(&held_full), Some(&1));
    // Chunks: two twin fulls plus one twin tail, two held fulls plus one held tail.
    assert_eq!(raw.chunks.len(), 6);
    raw.assert_closed_consistent("after discards");
    let s = f.store();
    for ((_, mbox, uid), (tag, data)) in [
        (cps[0], ("twin", &twin)),
        (cps2[0], ("twin2", &twin)),
        (cps3[0], ("held", &held)),
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
    // A refused delivery leaves its upload in flight; the caller discards it.
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
    let (_, big) = copies(results.next().unwrap());
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
    let (_, b_copy) = copies(deliver(&s, "copy-for-b", &only_a, &[b]));
    assert_consistent(&s, "before deleting a");
    let raw = f.raw();
    assert_eq!(raw.bodies.len(), 4);
    raw.assert_closed_consistent("before deleting a");

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
    let both_hashes = body_hashes(f.store(), both_body);
    let b_copy_body = f
        .store()
        .messages(b_inbox)
        .unwrap()
        .iter()
        .find(|m| m.uid == b_copy[0].2)
        .unwrap()
        .row
        .body;
    let copy_hashes = body_hashes(f.store(), mailnook::store::BodyId(b_copy_body));
    assert_eq!(
        raw.chunk_refs,
        uses(&[both_hashes.as_slice(), copy_hashes.as_slice()])
    );
    raw.assert_closed_consistent("after deleting a");

    // The last user goes: nothing is left.
    f.store()
        .call_blocking(Op::DelUser("b@example.test".into()))
        .unwrap();
    assert_consistent(f.store(), "after deleting b");
    let raw = f.raw();
    assert!(raw.bodies.is_empty() && raw.chunks.is_empty() && raw.messages.is_empty());
    assert!(raw.mailboxes.is_empty() && raw.users.is_empty());
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
    let (_, cps) = copies(deliver(&s, "kept", &kept, &users));
    // Two uploads that never complete: one of fresh data, one repeating a stored body's data.
    let orphan = payload("orphan", 3 * CHUNK_BYTES);
    let o = upload(&s, &orphan);
    assert_eq!(o.chunks_sent, 3);
    let again = upload(&s, &kept);
    assert_eq!(again.chunks_sent, 2);
    // A durable commit after the chunk puts, as in a busy server.
    s.call_blocking(Op::SetSetting {
        key: "smtp.max_errors".into(),
        value: Some("9".into()),
    })
    .unwrap();
    drop(s);
    let raw = f.raw_closed();
    let orphans: Vec<[u8; 32]> = (0..3)
        .map(|i| chunk_hash(&orphan[i * CHUNK_BYTES..(i + 1) * CHUNK_BYTES]))
        .collect();
    for h in &orphans {
        assert_eq!(
            raw.chunk_refs.get(h),
            Some(&0),
            "the unfinished upload's chunk was not on disk, so this test proves nothing"
        );
    }
    f.reopen();
    assert_consistent(f.store(), "after reopen");
    assert_eq!(
        read_message(f.store(), cps[0].1, cps[0].2.get()),
        Some(stored("kept", &kept))
    );
    let raw = f.raw();
    for h in &orphans {
        assert!(!raw.chunks.contains_key(h) && !raw.chunk_refs.contains_key(h));
    }
    assert_eq!(raw.chunks.len(), 3, "the kept body's chunks stay");
    raw.assert_closed_consistent("after reopen");
    // An upload started before the reopen is gone: its delivery is refused.
    let late = Op::Deliver(delivery(o, "late", &users));
    assert!(matches!(
        f.store().call_blocking(late),
        Err(Error::Refused(Refusal::UploadLost))
    ));
    assert_consistent(f.store(), "after the refused late delivery");
}

/// Breaks one cross-table invariant of a closed store with a raw redb write, reopens it and
/// returns what `check()` says.
fn check_after(tamper: impl FnOnce(&redb::WriteTransaction, &BTreeMap<&str, u64>)) -> Vec<String> {
    let mut f = Fixture::new();
    let users = setup_users(f.store(), &["a@example.test", "b@example.test"]);
    copies(deliver(f.store(), "m", &payload("m", 150_000), &users));
    let ids: BTreeMap<&str, u64> = [
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

//! `store_ops`: the store's operations against a model, on a storage backend that fails where
//! the input says.
//!
//! Two users' mailboxes and the outbound queue are driven through the real [`Store`] API
//! (deliveries inline and chunked, with a queue row or not; APPEND, STORE, COPY, MOVE, EXPUNGE,
//! UID EXPUNGE, POP3's removal; mailboxes created and deleted; queue rows dropped), while
//! [`Model`] says what each request must do. The backend ([`FaultyDisk`], kept in the store, the
//! only module that uses redb) fails its n-th write, resize or sync after setup with `EIO` or
//! `ENOSPC`, as the input's fault plan says; a failed write may leave a sector-aligned prefix
//! behind.
//!
//! Properties, checked after every request:
//! - a request answered `Ok` did exactly what the model says, and that holds even when a fault
//!   fired during the request (then in work after its commit): the store reopened on what the
//!   fault left still shows it, so nothing is acknowledged over a write that failed;
//! - a refusal changed nothing, and the model agrees it had to be refused;
//! - a request that met a fault answers [`Error::Io`] or [`Error::Full`] (the latter exactly for
//!   `ENOSPC`), or [`Error::Unavailable`] when the fault hit work done after an earlier answer.
//!   The store is then reopened on the bytes it left, either the file as the process sees it
//!   (every write that returned) or as a power cut would (everything up to the last sync that
//!   returned), and it holds exactly the state before the request or the state after it: every
//!   acknowledged message with its bytes and flags, nothing half-done;
//! - after every reopen and at the end, `check()` finds nothing;
//! - always: UIDVALIDITY never changes, UIDNEXT and HIGHESTMODSEQ never go back, expunged UIDs
//!   never return.

use crate::spam::tokens::token_hash;
use crate::store::faulty::{Fault, FaultyDisk};
use crate::store::{
    self, BodyId, CHUNK_BYTES, Delivery, Done, Error, LocalCopy, MailboxId, NewQueued, Op, QueueId,
    SpecialUse, Store, StoreMode, UserId, flags,
};
use std::collections::BTreeMap;
use std::ops::RangeInclusive;

/// The store's page cache in this target.
const CACHE_BYTES: usize = 256 * 1024;
/// Requests per input.
const MAX_REQUESTS: usize = 48;
/// Mailbox names a request may create or delete (`A/C` makes `A` first when it is missing).
const NAMES: [&str; 5] = ["A", "A/C", "B", "Junk", "Sent"];

/// A mailbox as the model knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mbox {
    /// Unknown (0) for a mailbox created by a request that met a fault, until it is seen.
    id: u64,
    uidvalidity: u32,
    uidnext: u32,
    /// UID → (hash of the body's bytes, system flags).
    msgs: BTreeMap<u32, (u64, u32)>,
}

/// What the store must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Model {
    /// (user index, name) → mailbox.
    boxes: BTreeMap<(usize, String), Mbox>,
    /// Queue rows: id → hash of the body.
    queue: BTreeMap<u64, u64>,
}

/// What the store holds, read back.
#[derive(Debug)]
struct Seen {
    model: Model,
    /// Mailbox id → HIGHESTMODSEQ.
    modseq: BTreeMap<u64, u64>,
}

fn body_hash(store: &Store, body: BodyId) -> u64 {
    let reader = store
        .open_body(body)
        .expect("body opens")
        .expect("a message's body exists");
    let mut bytes = vec![0; usize::try_from(reader.size()).expect("fits")];
    let mut at = 0;
    while at < bytes.len() {
        let n = reader
            .read_at(at as u64, &mut bytes[at..])
            .expect("body reads");
        assert!(n > 0, "body {body:?} ends early");
        at += n;
    }
    token_hash(&bytes)
}

/// Reads the store back; with `check`, also runs the store's own consistency check.
fn read_back(store: &Store, users: &[UserId], check: bool) -> Seen {
    if check {
        let problems = store.check().expect("check runs");
        assert!(problems.is_empty(), "check: {problems:?}");
    }
    let mut boxes = BTreeMap::new();
    let mut modseq = BTreeMap::new();
    for (i, user) in users.iter().enumerate() {
        for mb in store.mailboxes(*user).expect("mailboxes") {
            let mut msgs = BTreeMap::new();
            for m in store.messages(mb.id).expect("messages") {
                let hash = body_hash(store, BodyId(m.row.body));
                msgs.insert(m.uid.get(), (hash, m.row.flags));
            }
            assert!(
                msgs.keys().all(|u| *u < mb.row.uidnext),
                "a UID at or above UIDNEXT in {}",
                mb.row.name
            );
            modseq.insert(mb.id.0, mb.row.highest_modseq);
            let mbox = Mbox {
                id: mb.id.0,
                uidvalidity: mb.row.uidvalidity,
                uidnext: mb.row.uidnext,
                msgs,
            };
            boxes.insert((i, mb.row.name), mbox);
        }
    }
    let queue = store
        .queue()
        .expect("queue")
        .into_iter()
        .map(|q| (q.id.0, body_hash(store, q.body)))
        .collect();
    Seen {
        model: Model { boxes, queue },
        modseq,
    }
}

/// Whether `seen` is `want`; a mailbox or queue row of unknown id (0) matches any id (and
/// UIDVALIDITY).
fn matches(want: &Model, seen: &Model) -> bool {
    let hashes = |m: &Model| {
        let mut h: Vec<u64> = m.queue.values().copied().collect();
        h.sort_unstable();
        h
    };
    want.queue.len() == seen.queue.len()
        && want
            .queue
            .iter()
            .all(|(id, h)| *id == 0 || seen.queue.get(id) == Some(h))
        && hashes(want) == hashes(seen)
        && want.boxes.len() == seen.boxes.len()
        && want
            .boxes
            .iter()
            .zip(&seen.boxes)
            .all(|((wk, w), (sk, s))| {
                wk == sk
                    && (w.id == 0 || (w.id == s.id && w.uidvalidity == s.uidvalidity))
                    && w.uidnext == s.uidnext
                    && w.msgs == s.msgs
            })
}

/// A request, decoded from the input.
#[derive(Debug, Clone)]
enum Req {
    Deliver {
        to: u8,
        len: usize,
        queue: bool,
    },
    Append {
        mbox: u8,
        flags: u32,
        len: usize,
    },
    Store {
        mbox: u8,
        uids: RangeInclusive<u32>,
        mode: StoreMode,
        flags: u32,
    },
    Copy {
        from: u8,
        to: u8,
        uids: RangeInclusive<u32>,
        moving: bool,
    },
    Expunge {
        mbox: u8,
        uids: Option<RangeInclusive<u32>>,
    },
    Remove {
        mbox: u8,
        uids: RangeInclusive<u32>,
    },
    Create {
        user: usize,
        name: usize,
    },
    Delete {
        user: usize,
        name: usize,
    },
    Unqueue {
        pick: u8,
    },
}

fn decode(input: &[u8]) -> (Vec<Fault>, Vec<Req>) {
    let (head, rest) = input.split_at(input.len().min(6));
    let mut plan = Vec::new();
    for f in head.chunks_exact(3) {
        plan.push(Fault {
            at: u32::from(u16::from_le_bytes([f[0], f[1]])) % 512 + 1,
            enospc: f[2] & 1 != 0,
            torn: f[2] & 2 != 0,
            power_cut: f[2] & 4 != 0,
        });
    }
    let mut reqs = Vec::new();
    for r in rest.chunks_exact(4).take(MAX_REQUESTS) {
        let (a, b, c) = (r[1], r[2], r[3]);
        let uids = u32::from(b % 16) + 1..=u32::from(b % 16) + 1 + u32::from(c % 8);
        reqs.push(match r[0] % 11 {
            0 | 1 => Req::Deliver {
                to: a % 3 + 1,
                len: deliver_len(b, c),
                queue: a & 0x80 != 0,
            },
            2 => Req::Append {
                mbox: a,
                flags: u32::from(b) & flags::ALL,
                len: deliver_len(c, b),
            },
            3 => Req::Store {
                mbox: a,
                uids,
                mode: [StoreMode::Add, StoreMode::Remove, StoreMode::Replace]
                    [usize::from(c >> 6) % 3],
                flags: u32::from(c >> 1) & flags::ALL,
            },
            4 | 5 => Req::Copy {
                from: a,
                to: c,
                uids,
                moving: r[0] % 11 == 5,
            },
            6 => Req::Expunge {
                mbox: a,
                uids: (c & 1 != 0).then_some(uids),
            },
            7 => Req::Remove { mbox: a, uids },
            8 => Req::Create {
                user: usize::from(a & 1),
                name: usize::from(b) % NAMES.len(),
            },
            9 => Req::Delete {
                user: usize::from(a & 1),
                name: usize::from(b) % NAMES.len(),
            },
            _ => Req::Unqueue { pick: a },
        });
    }
    (plan, reqs)
}

/// Mostly small messages; now and then one of up to two chunks and a tail.
fn deliver_len(b: u8, c: u8) -> usize {
    if b >= 0xf8 {
        usize::from(c % 3) * CHUNK_BYTES + usize::from(b) * 7
    } else {
        usize::from(b) * 13 + usize::from(c)
    }
}

/// Deterministic message bytes for request number `n`.
fn payload(n: usize, len: usize) -> Vec<u8> {
    let mut out = format!("Message-ID: <{n}@fuzz.test>\r\n\r\n").into_bytes();
    let mut x = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push(b'a' + (x % 26) as u8);
        if out.len() % 78 == 76 {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// A live store, its disk, and the two users.
struct Rig {
    store: Store,
    disk: FaultyDisk,
    users: Vec<UserId>,
}

const PREFIX: &[u8] = b"Received: from fuzz by mx.example.test\r\n";

/// Sends the full chunks of `data` and returns the upload, its chunk count and the tail.
fn upload(store: &Store, data: &[u8]) -> Result<(store::UploadId, usize, Vec<u8>), Error> {
    let id = store.new_upload();
    let full = data.len() / CHUNK_BYTES;
    for chunk in data.chunks_exact(CHUNK_BYTES) {
        store.call_blocking(Op::PutChunk {
            upload: id,
            data: chunk.to_vec(),
        })?;
    }
    Ok((id, full, data[full * CHUNK_BYTES..].to_vec()))
}

/// The mailboxes a selector byte chooses from: every mailbox the model knows, then ids of
/// mailboxes that no longer exist.
fn pick(model: &Model, gone: &[u64], sel: u8) -> Option<(usize, String, u64)> {
    let all: Vec<_> = model
        .boxes
        .iter()
        .map(|((u, n), m)| (*u, n.clone(), m.id))
        .chain(gone.iter().map(|id| (usize::MAX, String::new(), *id)))
        .collect();
    (!all.is_empty()).then(|| all[usize::from(sel) % all.len()].clone())
}

/// What the model says a request does: `Some(next)` to succeed, `None` to be refused.
fn expect(model: &Model, gone: &[u64], req: &Req, n: usize) -> Option<Model> {
    let mut next = model.clone();
    let key = |u: usize, name: &str| (u, name.to_string());
    match req {
        Req::Deliver { to, len, queue } => {
            let data = payload(n, *len);
            let mut body = PREFIX.to_vec();
            body.extend_from_slice(&data);
            let h = token_hash(&body);
            for u in 0..2 {
                if to & (1 << u) != 0 {
                    let mb = next.boxes.get_mut(&key(u, "INBOX")).expect("INBOX");
                    mb.msgs.insert(mb.uidnext, (h, 0));
                    mb.uidnext += 1;
                }
            }
            if *queue {
                next.queue.insert(0, h);
            }
        }
        Req::Append { mbox, flags, len } => {
            let (u, name, _) = pick(model, gone, *mbox)?;
            let mb = next.boxes.get_mut(&key(u, &name))?;
            mb.msgs
                .insert(mb.uidnext, (token_hash(&payload(n, *len)), *flags));
            mb.uidnext += 1;
        }
        Req::Store {
            mbox,
            uids,
            mode,
            flags,
        } => {
            let (u, name, _) = pick(model, gone, *mbox)?;
            let mb = next.boxes.get_mut(&key(u, &name))?;
            for (_, f) in mb.msgs.range_mut(uids.clone()) {
                f.1 = match mode {
                    StoreMode::Add => f.1 | flags,
                    StoreMode::Remove => f.1 & !flags,
                    StoreMode::Replace => *flags,
                };
            }
        }
        Req::Copy {
            from,
            to,
            uids,
            moving,
        } => {
            let (fu, fname, _) = pick(model, gone, *from)?;
            let (tu, tname, _) = pick(model, gone, *to)?;
            if fu != tu {
                return None;
            }
            let src: Vec<_> = model
                .boxes
                .get(&key(fu, &fname))?
                .msgs
                .range(uids.clone())
                .map(|(u, v)| (*u, *v))
                .collect();
            let dst = next.boxes.get_mut(&key(tu, &tname))?;
            for (_, v) in &src {
                dst.msgs.insert(dst.uidnext, *v);
                dst.uidnext += 1;
            }
            if *moving {
                let from_box = next.boxes.get_mut(&key(fu, &fname)).expect("source");
                for (u, _) in src {
                    from_box.msgs.remove(&u);
                }
            }
        }
        Req::Expunge { mbox, uids } => {
            let (u, name, _) = pick(model, gone, *mbox)?;
            let mb = next.boxes.get_mut(&key(u, &name))?;
            let range = uids.clone().unwrap_or(1..=u32::MAX);
            mb.msgs
                .retain(|uid, (_, f)| !(range.contains(uid) && *f & flags::DELETED != 0));
        }
        Req::Remove { mbox, uids } => {
            let (u, name, _) = pick(model, gone, *mbox)?;
            let mb = next.boxes.get_mut(&key(u, &name))?;
            mb.msgs.retain(|uid, _| !uids.contains(uid));
        }
        Req::Create { user, name } => {
            let name = NAMES[*name];
            if model.boxes.contains_key(&key(*user, name)) {
                return None;
            }
            let mut path = String::new();
            for part in name.split('/') {
                if !path.is_empty() {
                    path.push('/');
                }
                path.push_str(part);
                next.boxes.entry(key(*user, &path)).or_insert(Mbox {
                    id: 0,
                    uidvalidity: 0,
                    uidnext: 1,
                    msgs: BTreeMap::new(),
                });
            }
        }
        Req::Delete { user, name } => {
            next.boxes.remove(&key(*user, NAMES[*name]))?;
        }
        Req::Unqueue { pick } => {
            let ids: Vec<u64> = model.queue.keys().copied().collect();
            let id = ids.get(usize::from(*pick) % ids.len().max(1))?;
            next.queue.remove(id);
        }
    }
    Some(next)
}

/// Sends a request to the store as the server would.
fn send(rig: &Rig, model: &Model, gone: &[u64], req: &Req, n: usize) -> Result<Done, Error> {
    let store = &rig.store;
    let id_of = |sel: u8| pick(model, gone, sel).map_or(MailboxId(u64::MAX), |p| MailboxId(p.2));
    let op = match req {
        Req::Deliver { to, len, queue } => {
            let (upload, chunks_sent, tail) = upload(store, &payload(n, *len))?;
            let recipients = (0..2)
                .filter(|u| to & (1 << u) != 0)
                .map(|u| LocalCopy::inbox(rig.users[u]))
                .collect();
            let queue = queue.then(|| NewQueued {
                from: "a@example.test".into(),
                rcpts: vec!["r@remote.test".into()],
                now: 1_700_000_000,
            });
            Op::Deliver(Delivery {
                upload,
                chunks_sent,
                prefix: PREFIX.to_vec(),
                tail,
                summary: vec![1, 2, 3],
                internal_date: 1_700_000_000,
                recipients,
                queue,
                junk: false,
                quota: true,
            })
        }
        Req::Append { mbox, flags, len } => {
            let (upload, chunks_sent, tail) = upload(store, &payload(n, *len))?;
            Op::Append {
                upload,
                chunks_sent,
                mailbox: id_of(*mbox),
                flags: *flags,
                keywords: Vec::new(),
                internal_date: 1_700_000_000,
                tail,
                summary: vec![1, 2, 3],
            }
        }
        Req::Store {
            mbox,
            uids,
            mode,
            flags,
        } => Op::Store {
            mailbox: id_of(*mbox),
            uids: vec![uids.clone()],
            mode: *mode,
            flags: *flags,
            keywords: Vec::new(),
            unchanged_since: None,
        },
        Req::Copy {
            from,
            to,
            uids,
            moving,
        } => {
            let (from, to, uids) = (id_of(*from), id_of(*to), vec![uids.clone()]);
            if *moving {
                Op::Move { from, uids, to }
            } else {
                Op::Copy { from, uids, to }
            }
        }
        Req::Expunge { mbox, uids } => Op::Expunge {
            mailbox: id_of(*mbox),
            uids: uids.clone().map(|r| vec![r]),
        },
        Req::Remove { mbox, uids } => Op::Remove {
            mailbox: id_of(*mbox),
            uids: vec![uids.clone()],
        },
        Req::Create { user, name } => Op::CreateMailbox {
            user: rig.users[*user],
            name: NAMES[*name].into(),
            special_use: SpecialUse::None,
        },
        Req::Delete { user, name } => Op::DeleteMailbox {
            user: rig.users[*user],
            name: NAMES[*name].into(),
        },
        Req::Unqueue { pick } => {
            let ids: Vec<u64> = model.queue.keys().copied().collect();
            let id = ids
                .get(usize::from(*pick) % ids.len().max(1))
                .copied()
                .unwrap_or(u64::MAX);
            Op::QueueDelete(QueueId(id))
        }
    };
    store.call_blocking(op)
}

/// Opens a store on `image`, reopening after each fault that fires while it opens.
fn reopen(image: Vec<u8>, plan: &[Fault], calls: u32, users: &[UserId]) -> Rig {
    let (mut image, mut calls) = (image, calls);
    for _ in 0..=plan.len() {
        let disk = FaultyDisk::on(image, plan.to_vec(), calls);
        match Store::open_with_backend(disk.clone(), CACHE_BYTES) {
            Ok(store) => {
                return Rig {
                    store,
                    disk,
                    users: users.to_vec(),
                };
            }
            Err(e) => {
                let fired = disk.take_fired();
                assert!(!fired.is_empty(), "the store does not open: {e}");
                image = disk.image(fired[0].power_cut);
                calls = disk.calls();
            }
        }
    }
    panic!("more failed opens than faults");
}

/// Creates the store with the domain and the two users, then arms the plan.
fn setup(plan: &[Fault]) -> Rig {
    let disk = FaultyDisk::default();
    let store = Store::open_with_backend(disk.clone(), CACHE_BYTES).expect("open");
    store
        .call_blocking(Op::AddDomain("example.test".into()))
        .expect("domain");
    let users = ["a@example.test", "b@example.test"]
        .iter()
        .map(|email| {
            match store.call_blocking(Op::AddUser {
                email: (*email).into(),
                password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into(),
            }) {
                Ok(Done::User(id)) => id,
                other => panic!("add user: {other:?}"),
            }
        })
        .collect();
    disk.arm(plan.to_vec());
    Rig { store, disk, users }
}

/// See the module documentation.
pub fn fuzz_store_ops(input: &[u8]) {
    let (plan, reqs) = decode(input);
    let mut rig = setup(&plan);
    let first = read_back(&rig.store, &rig.users, false);
    let mut model = first.model;
    let mut modseq = first.modseq;
    let mut gone: Vec<u64> = Vec::new();
    for (n, req) in reqs.iter().enumerate() {
        let want = expect(&model, &gone, req, n);
        let answer = send(&rig, &model, &gone, req, n);
        let fired = rig.disk.take_fired();
        if let Some(f) = fired.first() {
            match &answer {
                Err(e @ Error::Full(_)) => assert!(f.enospc, "{e} for {f:?}"),
                Err(e @ Error::Io(_)) => assert!(!f.enospc, "{e} for {f:?}"),
                // The fault hit work the writer did after an earlier answer (a chunk written
                // out), or after this one (a commit that only releases pages): the store stopped.
                Err(Error::Unavailable) | Ok(_) => {}
                Err(e) => panic!("{req:?} met {f:?} and answered {e}"),
            }
            rig.store.close();
            let image = rig.disk.image(f.power_cut);
            rig = reopen(image, &plan, rig.disk.calls(), &rig.users);
        }
        let seen = read_back(&rig.store, &rig.users, !fired.is_empty());
        let after = want.as_ref().is_some_and(|w| matches(w, &seen.model));
        match &answer {
            Ok(done) => {
                let want = want.as_ref().unwrap_or_else(|| {
                    panic!("{req:?} succeeded ({done:?}); the model refuses it")
                });
                assert!(
                    after,
                    "{req:?} answered {done:?} (faults: {fired:?}):\nwant {want:?}\nseen {:?}",
                    seen.model
                );
            }
            Err(Error::Refused(why)) if fired.is_empty() => {
                assert!(
                    want.is_none(),
                    "{req:?} refused ({why:?}); the model accepts it"
                );
                assert!(
                    matches(&model, &seen.model),
                    "refused {req:?} changed the store"
                );
            }
            Err(e) => {
                assert!(!fired.is_empty(), "{req:?} failed with no fault: {e}");
                assert!(
                    after || matches(&model, &seen.model),
                    "{req:?} met {fired:?}; the store is neither before nor after it:\nbefore {model:?}\nafter {want:?}\nseen {:?}",
                    seen.model
                );
            }
        }
        for (k, mb) in &model.boxes {
            if let Some(now) = seen.model.boxes.get(k).filter(|m| m.id == mb.id) {
                assert_eq!(
                    now.uidvalidity, mb.uidvalidity,
                    "UIDVALIDITY of {k:?} changed"
                );
                assert!(now.uidnext >= mb.uidnext, "UIDNEXT of {k:?} went back");
                assert!(
                    seen.modseq[&now.id] >= modseq.get(&now.id).copied().unwrap_or(0),
                    "HIGHESTMODSEQ of {k:?} went back"
                );
            } else if !seen.model.boxes.values().any(|m| m.id == mb.id) && mb.id != 0 {
                gone.push(mb.id);
            }
        }
        model = seen.model;
        modseq = seen.modseq;
    }
    read_back(&rig.store, &rig.users, true);
    rig.store.close();
}

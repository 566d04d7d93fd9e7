//! The writer thread: group commit over every change to the store.
//!
//! The loop takes the first pending request, then whatever else is already queued (up to
//! [`MAX_BATCH`]), and applies them in the open write transaction. If any of them needs
//! durability the transaction is committed (durably) and only then are the answers sent;
//! requests that need none (chunk uploads, discards) are answered at once and their changes ride
//! along with the next durable commit. If that commit fails, the in-memory upload state is
//! dropped with the database handle, so a delivery can never commit chunks that were lost. Per-upload state
//! (which chunks an unfinished upload wrote) lives here in memory: uploads do not survive a
//! restart, and [`prepare`] deletes their chunks at the next open.

use super::schema::*;
use super::{BodyId, MailboxId, Uid};
use super::{
    Delivery, Done, Error, Op, Refusal, Request, Result, Shared, UploadId, UserId, chunk_hash,
};
use redb::{Database, ReadableTable, WriteTransaction};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// Most requests folded into one transaction.
const MAX_BATCH: usize = 128;

/// Opens or creates the database file.
pub(super) fn open_file(path: &Path, cache_bytes: usize) -> Result<Database> {
    redb::Database::builder()
        .set_cache_size(cache_bytes)
        .set_repair_callback(|_| log::warn!("store: repairing database after an unclean shutdown"))
        .create(path)
        .map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => Error::Locked(path.to_path_buf()),
            redb::DatabaseError::Storage(redb::StorageError::Io(io))
                if io.kind() == std::io::ErrorKind::WouldBlock =>
            {
                Error::Locked(path.to_path_buf())
            }
            other => Error::Io(other.to_string()),
        })
}

/// Chunks written by one unfinished upload.
#[derive(Default)]
struct Upload {
    hashes: Vec<[u8; 32]>,
    bytes: u64,
}

/// In-memory writer state. It is changed as operations apply; if their transaction then fails it
/// is discarded wholesale (the database is reopened), so it never disagrees with what committed.
#[derive(Default)]
pub(super) struct State {
    /// Unfinished uploads.
    uploads: HashMap<UploadId, Upload>,
    /// How many unfinished uploads list each chunk (such chunks must not be collected).
    pending: HashMap<[u8; 32], u32>,
    /// Next body id (bodies are frequent, so their counter is not a stored row).
    next_body: u64,
}

/// Creates missing tables, checks the schema version, removes chunks no body references, and
/// reads the body counter.
pub(super) fn prepare(db: &Database) -> Result<State> {
    let txn = db.begin_write()?;
    let next_body;
    {
        let mut meta = txn.open_table(META)?;
        let found = meta.get("schema_version")?.map(|v| v.value());
        match found {
            Some(v) if v > SCHEMA_VERSION => {
                return Err(Error::NewerSchema {
                    found: v,
                    supported: SCHEMA_VERSION,
                });
            }
            Some(_) => {}
            None => {
                meta.insert("schema_version", SCHEMA_VERSION)?;
                meta.insert("next_user", 1)?;
                meta.insert("next_mailbox", 1)?;
                meta.insert("next_uidvalidity", crate::time::unix_now().max(1))?;
            }
        }
        txn.open_table(SETTINGS)?;
        txn.open_table(DOMAINS)?;
        txn.open_table(USERS)?;
        txn.open_table(USER_BY_EMAIL)?;
        txn.open_table(MAILBOXES)?;
        txn.open_table(MAILBOX_BY_NAME)?;
        txn.open_table(MESSAGES)?;
        let bodies = txn.open_table(BODIES)?;
        next_body = bodies.last()?.map(|(k, _)| k.value() + 1).unwrap_or(1);
        let mut refs = txn.open_table(CHUNK_REFS)?;
        let mut chunks = txn.open_table(CHUNKS)?;
        let orphans: Vec<[u8; 32]> = refs
            .iter()?
            .filter_map(|e| e.ok())
            .filter(|(_, v)| v.value() == 0)
            .map(|(k, _)| k.value())
            .collect();
        for h in &orphans {
            refs.remove(h)?;
            chunks.remove(h)?;
        }
        if !orphans.is_empty() {
            log::info!(
                "store: removed {} chunks of unfinished uploads",
                orphans.len()
            );
        }
    }
    txn.commit()?;
    Ok(State {
        next_body,
        ..State::default()
    })
}

/// The writer loop; returns when every [`super::Store`] handle closed the channel.
pub(super) fn run(
    mut db: Arc<Database>,
    mut state: State,
    rx: async_channel::Receiver<Request>,
    shared: Weak<Shared>,
    reopen: Option<std::path::PathBuf>,
    cache_bytes: usize,
) {
    let mut batch: Vec<Request> = Vec::with_capacity(MAX_BATCH);
    // Changes that need no durability (chunk uploads, discards) stay in this open transaction,
    // answered at once, until a durable request commits them all together: one commit per
    // delivery instead of one per chunk (every commit rewrites a handful of B-tree pages).
    let mut open: Option<WriteTransaction> = None;
    while let Ok(first) = rx.recv_blocking() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        match apply_batch(&db, &mut open, &mut state, &mut batch, &rx, &shared) {
            Ok(results) => {
                for (req, res) in batch.drain(..).zip(results) {
                    let _ = req.reply.try_send(res);
                }
            }
            Err(e) => {
                log::error!("store: write failed, reopening the database: {e}");
                for req in batch.drain(..) {
                    let _ = req.reply.try_send(Err(Error::Io(e.to_string())));
                }
                let Some(path) = &reopen else {
                    // A caller-supplied backend cannot be reopened: stop taking writes.
                    if let Some(s) = shared.upgrade() {
                        *s.db.write().expect("not poisoned") = None;
                    }
                    break;
                };
                match reopen_file(path, cache_bytes, &db, &shared, &rx) {
                    Some((new_db, new_state)) => {
                        db = new_db;
                        state = new_state;
                    }
                    None => break,
                }
            }
        }
    }
    // Closing: whatever is still open (chunks of uploads that never finished, discards) is
    // committed so the file is tidy; losing it would be harmless too.
    if let Some(txn) = open.take()
        && let Err(e) = txn.commit()
    {
        log::warn!("store: final commit failed: {e}");
    }
    drop(db);
    if let Some(s) = shared.upgrade() {
        *s.db.write().expect("not poisoned") = None;
    }
}

/// Drops the poisoned handle and reopens the file, answering `Unavailable` meanwhile. Returns
/// `None` if the channel closed first.
fn reopen_file(
    path: &Path,
    cache_bytes: usize,
    old: &Arc<Database>,
    shared: &Weak<Shared>,
    rx: &async_channel::Receiver<Request>,
) -> Option<(Arc<Database>, State)> {
    if let Some(s) = shared.upgrade() {
        *s.db.write().expect("not poisoned") = None;
    }
    let mut old = Some(old.clone());
    let mut delay = std::time::Duration::from_millis(50);
    loop {
        // Readers may still hold the old handle for a moment; redb refuses a second open until
        // the last reference is gone.
        old = old.and_then(|db| Arc::try_unwrap(db).err());
        if old.is_none() {
            match open_file(path, cache_bytes).and_then(|db| prepare(&db).map(|st| (db, st))) {
                Ok((db, state)) => {
                    let db = Arc::new(db);
                    if let Some(s) = shared.upgrade() {
                        *s.db.write().expect("not poisoned") = Some(db.clone());
                    }
                    log::info!("store: database reopened");
                    return Some((db, state));
                }
                Err(e) => log::error!("store: reopen failed: {e}"),
            }
        }
        while let Ok(r) = rx.try_recv() {
            let _ = r.reply.try_send(Err(Error::Unavailable));
        }
        if rx.is_closed() && rx.is_empty() {
            return None;
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(std::time::Duration::from_secs(5));
    }
}

/// Waits up to `limit` for the next request.
fn recv_within(rx: &async_channel::Receiver<Request>, limit: Duration) -> Option<Request> {
    futures_lite::future::block_on(futures_lite::future::or(async { rx.recv().await.ok() }, async {
        async_io::Timer::after(limit).await;
        None
    }))
}

/// Applies a batch in the open transaction (starting one if needed). If any request needs
/// durability the transaction is committed before the answers are returned, after waiting up to
/// the commit window for deliveries of messages still in flight to join; otherwise it stays
/// open. On a storage error the transaction is aborted and the error returned.
fn apply_batch(
    db: &Database,
    open: &mut Option<WriteTransaction>,
    state: &mut State,
    batch: &mut Vec<Request>,
    rx: &async_channel::Receiver<Request>,
    shared: &Weak<Shared>,
) -> Result<Vec<Result<Done>>> {
    let txn = match open.take() {
        Some(t) => t,
        None => db.begin_write()?,
    };
    let mut results = Vec::with_capacity(batch.len());
    let mut applied = 0;
    let mut durable = false;
    let window = shared
        .upgrade()
        .map(|s| Duration::from_micros(s.commit_window_us.load(Ordering::Relaxed)))
        .unwrap_or_default();
    let deadline = Instant::now() + window;
    loop {
        for req in &batch[applied..] {
            durable |= req.op.durable();
            match apply(&txn, state, &req.op) {
                Ok(done) => results.push(Ok(done)),
                Err(Error::Refused(r)) => results.push(Err(Error::Refused(r))),
                Err(e) => {
                    txn.abort()?;
                    return Err(e);
                }
            }
        }
        applied = batch.len();
        // Messages still being received whose delivery is not in this batch: wait for them.
        let delivering = batch.iter().filter(|r| matches!(r.op, Op::Deliver(_))).count();
        let in_flight = shared.upgrade().map(|s| s.in_flight.load(Ordering::Relaxed)).unwrap_or(0);
        let now = Instant::now();
        if !durable || in_flight <= delivering || now >= deadline || batch.len() >= MAX_BATCH {
            break;
        }
        match recv_within(rx, deadline - now) {
            Some(req) => batch.push(req),
            None => break,
        }
    }
    if durable {
        txn.commit()?;
    } else {
        *open = Some(txn);
    }
    Ok(results)
}

fn corrupt(what: &'static str) -> Error {
    Error::Corrupt(what)
}

fn next_counter(txn: &WriteTransaction, key: &str) -> Result<u64> {
    let mut meta = txn.open_table(META)?;
    let v = meta
        .get(key)?
        .map(|v| v.value())
        .ok_or(corrupt("meta counter missing"))?;
    meta.insert(key, v + 1)?;
    Ok(v)
}

fn domain_of(email: &str) -> &str {
    email.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
}

fn apply(txn: &WriteTransaction, state: &mut State, op: &Op) -> Result<Done> {
    match op {
        Op::SetSetting { key, value } => {
            if crate::config::spec(key).is_none() {
                return Err(Refusal::UnknownSetting(key.clone()).into());
            }
            let mut t = txn.open_table(SETTINGS)?;
            match value {
                Some(v) => t.insert(key.as_str(), v.as_str())?,
                None => t.remove(key.as_str())?,
            };
            Ok(Done::Unit)
        }
        Op::AddDomain(d) => {
            let mut t = txn.open_table(DOMAINS)?;
            if t.get(d.as_str())?.is_some() {
                return Err(Refusal::DomainExists(d.clone()).into());
            }
            t.insert(d.as_str(), crate::time::unix_now())?;
            Ok(Done::Unit)
        }
        Op::DelDomain(d) => {
            let mut t = txn.open_table(DOMAINS)?;
            if t.get(d.as_str())?.is_none() {
                return Err(Refusal::NoSuchDomain(d.clone()).into());
            }
            let users = txn.open_table(USER_BY_EMAIL)?;
            for e in users.iter()? {
                let (k, _) = e?;
                if domain_of(k.value()) == d {
                    return Err(Refusal::DomainInUse(d.clone()).into());
                }
            }
            t.remove(d.as_str())?;
            Ok(Done::Unit)
        }
        Op::AddUser {
            email,
            password_hash,
        } => {
            if txn.open_table(DOMAINS)?.get(domain_of(email))?.is_none() {
                return Err(Refusal::NoSuchDomain(domain_of(email).to_string()).into());
            }
            let mut by_email = txn.open_table(USER_BY_EMAIL)?;
            if by_email.get(email.as_str())?.is_some() {
                return Err(Refusal::UserExists(email.clone()).into());
            }
            let id = next_counter(txn, "next_user")?;
            let row = UserRow {
                email: email.clone(),
                password_hash: password_hash.clone(),
                created: crate::time::unix_now(),
            };
            txn.open_table(USERS)?.insert(id, row.encode().as_slice())?;
            by_email.insert(email.as_str(), id)?;
            for (name, special_use) in DEFAULT_MAILBOXES {
                create_mailbox(txn, UserId(id), name, *special_use)?;
            }
            Ok(Done::User(UserId(id)))
        }
        Op::DelUser(email) => {
            let mut by_email = txn.open_table(USER_BY_EMAIL)?;
            let id = by_email
                .get(email.as_str())?
                .map(|v| v.value())
                .ok_or_else(|| Refusal::NoSuchUser(email.clone()))?;
            by_email.remove(email.as_str())?;
            txn.open_table(USERS)?.remove(id)?;
            delete_user_mailboxes(txn, state, UserId(id))?;
            Ok(Done::Unit)
        }
        Op::SetPassword {
            email,
            password_hash,
        } => {
            let id = txn
                .open_table(USER_BY_EMAIL)?
                .get(email.as_str())?
                .map(|v| v.value())
                .ok_or_else(|| Refusal::NoSuchUser(email.clone()))?;
            let mut users = txn.open_table(USERS)?;
            let mut row = users
                .get(id)?
                .and_then(|v| UserRow::decode(v.value()))
                .ok_or(corrupt("user row"))?;
            row.password_hash = password_hash.clone();
            users.insert(id, row.encode().as_slice())?;
            Ok(Done::Unit)
        }
        Op::PutChunk { upload, data } => {
            let h = put_chunk(txn, data)?;
            let up = state.uploads.entry(*upload).or_default();
            up.hashes.push(h);
            up.bytes += data.len() as u64;
            *state.pending.entry(h).or_default() += 1;
            Ok(Done::Unit)
        }
        Op::Deliver(d) => deliver(txn, state, d),
        Op::Discard(upload) => {
            if let Some(up) = state.uploads.remove(upload) {
                release_pending(txn, state, &up.hashes)?;
            }
            Ok(Done::Unit)
        }
    }
}

fn put_chunk(txn: &WriteTransaction, data: &[u8]) -> Result<[u8; 32]> {
    let h = chunk_hash(data);
    let mut refs = txn.open_table(CHUNK_REFS)?;
    if refs.get(h)?.is_none() {
        txn.open_table(CHUNKS)?.insert(h, data)?;
        refs.insert(h, 0)?;
    }
    Ok(h)
}

/// Drops an unfinished upload's claim on its chunks and deletes those nothing else holds.
fn release_pending(txn: &WriteTransaction, state: &mut State, hashes: &[[u8; 32]]) -> Result<()> {
    let mut refs = txn.open_table(CHUNK_REFS)?;
    let mut chunks = txn.open_table(CHUNKS)?;
    for h in hashes {
        let left = match state.pending.get_mut(h) {
            Some(n) => {
                *n -= 1;
                *n
            }
            None => 0,
        };
        if left == 0 {
            state.pending.remove(h);
            if refs.get(h)?.map(|v| v.value()) == Some(0) {
                refs.remove(h)?;
                chunks.remove(h)?;
            }
        }
    }
    Ok(())
}

fn create_mailbox(
    txn: &WriteTransaction,
    user: UserId,
    name: &str,
    special_use: SpecialUse,
) -> Result<MailboxId> {
    let id = next_counter(txn, "next_mailbox")?;
    let uidvalidity = next_counter(txn, "next_uidvalidity")? as u32;
    let row = MailboxRow {
        user: user.0,
        name: name.to_string(),
        uidvalidity: uidvalidity.max(1),
        uidnext: 1,
        highest_modseq: 1,
        special_use,
        subscribed: true,
        messages: 0,
        unseen: 0,
        bytes: 0,
    };
    txn.open_table(MAILBOXES)?
        .insert(id, row.encode().as_slice())?;
    txn.open_table(MAILBOX_BY_NAME)?
        .insert((user.0, name), id)?;
    Ok(MailboxId(id))
}

fn delete_user_mailboxes(txn: &WriteTransaction, state: &mut State, user: UserId) -> Result<()> {
    let mut names = txn.open_table(MAILBOX_BY_NAME)?;
    let owned: Vec<(String, u64)> = names
        .range((user.0, "")..(user.0 + 1, ""))?
        .map(|e| e.map(|(k, v)| (k.value().1.to_string(), v.value())))
        .collect::<std::result::Result<_, _>>()?;
    let mut mailboxes = txn.open_table(MAILBOXES)?;
    let mut messages = txn.open_table(MESSAGES)?;
    for (name, mbox) in owned {
        names.remove((user.0, name.as_str()))?;
        mailboxes.remove(mbox)?;
        let rows: Vec<((u64, u32), MessageRow)> = messages
            .range((mbox, 0)..=(mbox, u32::MAX))?
            .map(|e| {
                let (k, v) = e?;
                let row = MessageRow::decode(v.value()).ok_or(corrupt("message row"))?;
                Ok((k.value(), row))
            })
            .collect::<Result<_>>()?;
        for (key, row) in rows {
            messages.remove(key)?;
            drop_body_ref(txn, state, BodyId(row.body))?;
        }
    }
    Ok(())
}

/// Removes one message row's claim on a body, deleting the body and its unreferenced chunks at
/// zero.
fn drop_body_ref(txn: &WriteTransaction, state: &State, body: BodyId) -> Result<()> {
    let mut bodies = txn.open_table(BODIES)?;
    let mut row = bodies
        .get(body.0)?
        .and_then(|v| BodyRow::decode(v.value()))
        .ok_or(corrupt("body row"))?;
    row.refs = row.refs.saturating_sub(1);
    if row.refs > 0 {
        bodies.insert(body.0, row.encode().as_slice())?;
        return Ok(());
    }
    bodies.remove(body.0)?;
    if let BodyData::Chunks(hashes) = row.data {
        let mut refs = txn.open_table(CHUNK_REFS)?;
        let mut chunks = txn.open_table(CHUNKS)?;
        for h in hashes {
            let n = refs
                .get(h)?
                .map(|v| v.value())
                .unwrap_or(0)
                .saturating_sub(1);
            if n == 0 && !state.pending.contains_key(&h) {
                refs.remove(h)?;
                chunks.remove(h)?;
            } else {
                refs.insert(h, n)?;
            }
        }
    }
    Ok(())
}

fn deliver(txn: &WriteTransaction, state: &mut State, d: &Delivery) -> Result<Done> {
    let sent = state
        .uploads
        .get(&d.upload)
        .map(|u| u.hashes.len())
        .unwrap_or(0);
    if sent != d.chunks_sent {
        return Err(Refusal::UploadLost.into());
    }
    // Resolve every recipient's INBOX before changing anything.
    let mut recipients = d.recipients.clone();
    recipients.sort();
    recipients.dedup();
    let names = txn.open_table(MAILBOX_BY_NAME)?;
    let mut mailboxes = txn.open_table(MAILBOXES)?;
    let mut targets = Vec::with_capacity(recipients.len());
    for user in &recipients {
        let Some(mbox) = names.get((user.0, "INBOX"))?.map(|v| v.value()) else {
            continue; // the user was deleted since RCPT
        };
        let row = mailboxes
            .get(mbox)?
            .and_then(|v| MailboxRow::decode(v.value()))
            .ok_or(corrupt("mailbox row"))?;
        if row.uidnext == u32::MAX {
            continue; // UID space exhausted; RFC 9051 would need a new UIDVALIDITY
        }
        targets.push((*user, mbox, row));
    }
    if targets.is_empty() {
        return Err(Refusal::NoRecipients.into());
    }
    // The body: inline when it fits one chunk, otherwise the uploaded chunks plus the tail.
    let upload = state.uploads.remove(&d.upload).unwrap_or_default();
    let data_len = upload.bytes + d.tail.len() as u64;
    let mut hashes = upload.hashes.clone();
    let data = if hashes.is_empty() {
        BodyData::Inline(d.tail.clone())
    } else {
        if !d.tail.is_empty() {
            hashes.push(put_chunk(txn, &d.tail)?);
        }
        let mut refs = txn.open_table(CHUNK_REFS)?;
        for h in &hashes {
            let n = refs
                .get(h)?
                .map(|v| v.value())
                .ok_or(corrupt("chunk ref missing"))?;
            refs.insert(h, n + 1)?;
        }
        BodyData::Chunks(hashes)
    };
    let size = d.prefix.len() as u64 + data_len;
    let body = BodyId(state.next_body);
    state.next_body += 1;
    let row = BodyRow {
        refs: targets.len() as u32,
        size,
        prefix: d.prefix.clone(),
        data,
        summary: d.summary.clone(),
    };
    txn.open_table(BODIES)?
        .insert(body.0, row.encode().as_slice())?;
    let mut messages = txn.open_table(MESSAGES)?;
    let mut copies = Vec::with_capacity(targets.len());
    for (user, mbox, mut row) in targets {
        let uid = row.uidnext;
        row.uidnext += 1;
        row.highest_modseq += 1;
        row.messages += 1;
        row.unseen += 1;
        row.bytes += size;
        let msg = MessageRow {
            body: body.0,
            internal_date: d.internal_date,
            size,
            flags: 0,
            keywords: Vec::new(),
            modseq: row.highest_modseq,
        };
        messages.insert((mbox, uid), msg.encode().as_slice())?;
        mailboxes.insert(mbox, row.encode().as_slice())?;
        let uid = Uid(std::num::NonZeroU32::new(uid).ok_or(corrupt("uid 0"))?);
        copies.push((user, MailboxId(mbox), uid));
    }
    // The upload's chunks are now held by the body, not by the upload.
    for h in &upload.hashes {
        if let Some(n) = state.pending.get_mut(h) {
            *n -= 1;
            if *n == 0 {
                state.pending.remove(h);
            }
        }
    }
    Ok(Done::Delivered { body, copies })
}

//! The writer thread: group commit over every change to the store.
//!
//! The loop takes the first pending request, then whatever else is already queued (up to
//! [`MAX_BATCH`]), and applies them in the open write transaction. Requests that need no
//! durability (chunk uploads, discards) are answered as soon as they are applied; their changes
//! ride along with the next durable commit. If any request needs durability the transaction is
//! committed, after waiting up to the commit window for deliveries of messages still being
//! received, and only then are those requests answered. If a commit fails, the in-memory upload
//! state is dropped with the database handle, so a delivery can never commit chunks that were
//! lost.
//!
//! Per-upload state (the body id and chunk count of an unfinished upload) lives here in memory;
//! the `UPLOADS` table marks the same uploads on disk so [`prepare`] can delete their chunks at
//! the next open if a crash interrupted them.
//!
//! Also in memory, per open transaction: the mailboxes and users its operations touched (their
//! generations are bumped once it commits, [`super::notify`]) and the bodies it deleted (their
//! dying marks in the pin table are cleared then, [`super::body`]).

use super::body::PinTable;
use super::notify::Notify;
use super::queue;
use super::schema::*;
use super::{BodyId, MailboxId, Uid};
use super::{
    Delivery, Done, Error, LocalCopy, Op, Refusal, Request, Result, Shared, UploadId, UserId, Work,
};
use redb::{Database, ReadableTable, WriteTransaction};
use std::collections::{BTreeSet, HashMap};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// Most requests folded into one transaction.
const MAX_BATCH: usize = 128;

fn open_error(path: &Path, e: redb::DatabaseError) -> Error {
    match e {
        redb::DatabaseError::DatabaseAlreadyOpen => Error::Locked(path.to_path_buf()),
        redb::DatabaseError::Storage(redb::StorageError::Io(io))
            if io.kind() == std::io::ErrorKind::WouldBlock =>
        {
            Error::Locked(path.to_path_buf())
        }
        redb::DatabaseError::Storage(redb::StorageError::Io(io)) if super::is_storage_full(&io) => {
            Error::Full(io.to_string())
        }
        other => Error::Io(other.to_string()),
    }
}

fn builder(cache_bytes: usize) -> redb::Builder {
    let mut b = redb::Database::builder();
    b.set_cache_size(cache_bytes)
        .set_repair_callback(|_| log::warn!("store: repairing database after an unclean shutdown"));
    b
}

/// Opens the database file, creating it first if it does not exist.
///
/// A new file is made under a temporary name, given its tables and committed, then renamed into
/// place: redb refuses a file whose first commit never reached the disk, so creating it in place
/// would leave an unopenable store after a power cut during the very first start.
pub(super) fn open_file(path: &Path, cache_bytes: usize) -> Result<Database> {
    if !path.exists() {
        let mut fresh = path.as_os_str().to_owned();
        fresh.push(".new");
        let fresh = std::path::PathBuf::from(fresh);
        let _ = std::fs::remove_file(&fresh);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&fresh)?;
        let db = builder(cache_bytes)
            .create_with_backend(super::file::DataFile::new(file)?)
            .map_err(|e| open_error(&fresh, e))?;
        prepare(&db, &Arc::default())?;
        drop(db);
        std::fs::File::open(&fresh)?.sync_all()?;
        std::fs::rename(&fresh, path)?;
        if let Some(dir) = path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            std::fs::File::open(dir)?.sync_all()?;
        }
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    builder(cache_bytes)
        .create_with_backend(super::file::DataFile::new(file)?)
        .map_err(|e| open_error(path, e))
}

/// An unfinished upload: its body id (allocated at the first chunk) and what it wrote.
#[derive(Debug, Clone, Copy)]
struct Upload {
    body: u64,
    chunks: u32,
    bytes: u64,
}

/// In-memory writer state. It is changed as operations apply; if their transaction then fails it
/// is discarded wholesale (the database is reopened), so it never disagrees with what committed.
#[derive(Default)]
pub(super) struct State {
    /// Unfinished uploads.
    uploads: HashMap<UploadId, Upload>,
    /// Next body id (bodies are frequent, so their counter is not a stored row).
    next_body: u64,
    /// Chunk bytes written into the open transaction since its last commit.
    open_bytes: u64,
    /// Readers' pins (shared with [`super::Store`]).
    pub(super) pins: Arc<PinTable>,
    /// Mailboxes whose generation the next commit bumps.
    pub(super) touched_mailboxes: BTreeSet<u64>,
    /// Users whose mailbox list the next commit changes.
    pub(super) touched_users: BTreeSet<u64>,
    /// Bodies deleted in the open transaction (dying in the pin table until it commits).
    dying: Vec<u64>,
    /// Next queue id.
    pub(super) next_queue: u64,
    /// The open transaction changed the queue (its generation is bumped at commit).
    pub(super) queue_changed: bool,
    /// The open transaction recorded junk training events.
    pub(super) training_changed: bool,
}

impl State {
    /// Records a change to a mailbox's messages (or name) for the next commit's notification.
    pub(super) fn touch(&mut self, mailbox: u64) {
        self.touched_mailboxes.insert(mailbox);
    }
}

/// Deletes the chunk rows `(body, 0..count)`.
fn delete_chunks(txn: &WriteTransaction, body: u64, count: u32) -> Result<()> {
    let mut chunks = txn.open_table(CHUNKS)?;
    for seq in 0..count {
        chunks.remove((body, seq))?;
    }
    Ok(())
}

/// Deletes a body row, its summary and its chunks (and its `PARKED` row, if any).
fn delete_body(txn: &WriteTransaction, body: u64) -> Result<()> {
    let chunks = {
        let mut bodies = txn.open_table(BODIES)?;
        let row = bodies.remove(body)?.ok_or(corrupt("body row"))?;
        BodyView::parse(row.value())
            .ok_or(corrupt("body row"))?
            .chunks
    };
    txn.open_table(SUMMARIES)?.remove(body)?;
    txn.open_table(PARKED)?.remove(body)?;
    delete_chunks(txn, body, chunks)
}

/// Carries out a parked deletion: only of a body no message shows (a `PARKED` row naming a body
/// with refs is corruption, left for `check` to report rather than acted on). Returns whether
/// the body was deleted.
fn collect_body(txn: &WriteTransaction, body: u64) -> Result<bool> {
    let refs = match txn.open_table(BODIES)?.get(body)? {
        Some(v) => BodyView::parse(v.value()).ok_or(corrupt("body row"))?.refs,
        None => {
            txn.open_table(PARKED)?.remove(body)?;
            return Ok(false);
        }
    };
    if refs > 0 {
        log::warn!("store: body {body} is marked parked but {refs} messages show it; left alone");
        return Ok(false);
    }
    delete_body(txn, body)?;
    Ok(true)
}

/// Rewrites every row of a table keyed by id, reading them in slices of `n` so a migration
/// never holds the whole table in memory.
fn migrate_rows(
    txn: &WriteTransaction,
    table: redb::TableDefinition<'_, u64, &[u8]>,
    n: usize,
    mut convert: impl FnMut(&WriteTransaction, u64, &[u8]) -> Result<Vec<u8>>,
) -> Result<()> {
    let mut next = 0u64;
    loop {
        let rows: Vec<(u64, Vec<u8>)> = txn
            .open_table(table)?
            .range(next..)?
            .take(n)
            .map(|e| e.map(|(k, v)| (k.value(), v.value().to_vec())))
            .collect::<std::result::Result<_, _>>()?;
        let Some(&(last, _)) = rows.last() else {
            return Ok(());
        };
        for (k, v) in rows {
            let new = convert(txn, k, &v)?;
            txn.open_table(table)?.insert(k, new.as_slice())?;
        }
        match last.checked_add(1) {
            Some(k) => next = k,
            None => return Ok(()),
        }
    }
}

/// Schema 1 → 2: summaries move out of body rows into `SUMMARIES`, `subscribed` flags out of
/// mailbox rows into `SUBSCRIPTIONS`.
fn migrate_v1(txn: &WriteTransaction) -> Result<()> {
    migrate_rows(txn, MAILBOXES, 256, |txn, _, v| {
        let (row, subscribed) = MailboxRow::decode_v1(v).ok_or(corrupt("v1 mailbox row"))?;
        if subscribed {
            txn.open_table(SUBSCRIPTIONS)?
                .insert((row.user, row.name.as_str()), ())?;
        }
        Ok(row.encode())
    })?;
    migrate_rows(txn, BODIES, 64, |txn, id, v| {
        let (row, summary) = BodyRow::decode_v1(v).ok_or(corrupt("v1 body row"))?;
        txn.open_table(SUMMARIES)?.insert(id, summary.as_slice())?;
        Ok(row.encode())
    })?;
    log::info!("store: migrated the schema from version 1 to {SCHEMA_VERSION}");
    Ok(())
}

/// Creates missing tables, checks the schema version (migrating an older one), deletes the
/// chunks of uploads a crash interrupted, carries out parked body deletions no reader holds any
/// more, and reads the body counter.
pub(super) fn prepare(db: &Database, pins: &Arc<PinTable>) -> Result<State> {
    let txn = db.begin_write()?;
    let (next_body, next_queue);
    {
        let found = txn
            .open_table(META)?
            .get("schema_version")?
            .map(|v| v.value());
        match found {
            Some(v) => upgrade(&txn, v)?,
            None => {
                let mut meta = txn.open_table(META)?;
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
        txn.open_table(SUMMARIES)?;
        txn.open_table(VANISHED)?;
        txn.open_table(SUBSCRIPTIONS)?;
        txn.open_table(TRAINING)?;
        txn.open_table(QUEUE_DUE)?;
        txn.open_table(GREYLIST)?;
        txn.open_table(SPAM_TOKENS)?;
        txn.open_table(SPAM_TOTALS)?;
        txn.open_table(SPAM_LEARNED)?;
        txn.open_table(GREYLIST_PASSED)?;
        txn.open_table(STATE)?;
        txn.open_table(ALIASES)?;
        txn.open_table(LISTS)?;
        txn.open_table(SIEVE_SCRIPTS)?;
        txn.open_table(SIEVE_ACTIVE)?;
        txn.open_table(VACATION_SENT)?;
        (next_body, next_queue) = tidy(&txn, pins)?;
    }
    txn.commit()?;
    Ok(State {
        next_body,
        next_queue,
        pins: pins.clone(),
        ..State::default()
    })
}

/// Brings a store of schema `found` to [`SCHEMA_VERSION`]; a newer one is refused.
fn upgrade(txn: &WriteTransaction, found: u64) -> Result<()> {
    match found {
        v if v > SCHEMA_VERSION => Err(Error::NewerSchema {
            found: v,
            supported: SCHEMA_VERSION,
        }),
        SCHEMA_VERSION => Ok(()),
        1 => {
            migrate_v1(txn)?;
            txn.open_table(META)?
                .insert("schema_version", SCHEMA_VERSION)?;
            Ok(())
        }
        // v3 only adds the QUEUE table, v4 the STATE table, v5 the ALIASES and Sieve tables;
        // opening them creates them.
        2..=4 => {
            txn.open_table(META)?
                .insert("schema_version", SCHEMA_VERSION)?;
            Ok(())
        }
        _ => Err(corrupt("unknown schema version")),
    }
}

/// Carries out parked body deletions no reader holds any more, deletes the chunks of uploads a
/// crash interrupted, and returns the next body and queue ids.
fn tidy(txn: &WriteTransaction, pins: &Arc<PinTable>) -> Result<(u64, u64)> {
    let mut next_body = 1;
    let mut next_queue = 1;
    {
        if let Some((k, _)) = txn.open_table(QUEUE)?.last()? {
            next_queue = k.value() + 1;
        }
        let parked: Vec<u64> = txn
            .open_table(PARKED)?
            .iter()?
            .map(|e| e.map(|(k, _)| k.value()))
            .collect::<std::result::Result<_, _>>()?;
        let mut collected = 0;
        for body in parked {
            if !pins.keep_parked(body) && collect_body(txn, body)? {
                collected += 1;
            }
        }
        if collected > 0 {
            log::info!("store: removed {collected} bodies whose deletion waited for readers");
        }
        if let Some((k, _)) = txn.open_table(BODIES)?.last()? {
            next_body = next_body.max(k.value() + 1);
        }
        if let Some((k, _)) = txn.open_table(CHUNKS)?.last()? {
            next_body = next_body.max(k.value().0 + 1);
        }
        let mut uploads = txn.open_table(UPLOADS)?;
        let orphans: Vec<(u64, u32)> = uploads
            .iter()?
            .map(|e| e.map(|(k, v)| (k.value(), v.value())))
            .collect::<std::result::Result<_, _>>()?;
        for (body, count) in &orphans {
            next_body = next_body.max(body + 1);
            delete_chunks(txn, *body, *count)?;
            uploads.remove(body)?;
        }
        if !orphans.is_empty() {
            log::info!(
                "store: removed the chunks of {} unfinished uploads",
                orphans.len()
            );
        }
    }
    Ok((next_body, next_queue))
}

/// The writer loop; returns when every [`super::Store`] handle closed the channel.
pub(super) fn run(
    mut db: Arc<Database>,
    mut state: State,
    rx: async_channel::Receiver<Request>,
    shared: Weak<Shared>,
    notify: Arc<Notify>,
    reopen: Option<std::path::PathBuf>,
    cache_bytes: usize,
) {
    // Changes that need no durability stay in this open transaction until a durable request
    // commits them all together: one commit per batch of deliveries instead of one per chunk
    // (every commit rewrites a handful of B-tree pages, which an SD card pays for).
    let mut open: Option<WriteTransaction> = None;
    'serve: while let Ok(first) = rx.recv_blocking() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        // A restore runs in a transaction of its own, between the requests around it.
        let mut rest = batch;
        while !rest.is_empty() {
            let cut = rest
                .iter()
                .position(|r| matches!(r.work, Work::Op(Op::Restore(_))))
                .unwrap_or(rest.len());
            let mut after = rest.split_off(cut);
            let result = if !rest.is_empty() {
                let ctx = Batch {
                    db: &db,
                    rx: &rx,
                    shared: &shared,
                    notify: &notify,
                    cache_bytes,
                };
                ctx.apply(&mut open, &mut state, std::mem::take(&mut rest))
            } else {
                let req = after.remove(0);
                restore(&db, &mut open, &mut state, &notify, req)
            };
            rest = after;
            if let Err(e) = result {
                log::error!("store: write failed, reopening the database: {e}");
                // While the disk is full, what cannot be written is refused as full.
                let refusal = || match &e {
                    Error::Full(m) => Error::Full(m.clone()),
                    _ => Error::Unavailable,
                };
                if e.is_full()
                    && let Some(s) = shared.upgrade()
                {
                    s.space.failed();
                }
                for r in rest.drain(..) {
                    let _ = r.reply.try_send(Err(refusal()));
                }
                state.pins.reset();
                let Some(path) = &reopen else {
                    // A caller-supplied backend cannot be reopened: stop taking writes, and
                    // refuse what is already queued (the store's own sender keeps the channel,
                    // and the requests in it, alive: their callers would wait forever).
                    if let Some(s) = shared.upgrade() {
                        *s.db.write().expect("not poisoned") = None;
                    }
                    rx.close();
                    refuse_queued(&rx, &refusal);
                    break 'serve;
                };
                // The poisoned handle goes to the reopen, which waits for its last reference.
                match reopen_file(path, cache_bytes, db, &state.pins, &shared, &rx, &refusal) {
                    Some((new_db, new_state)) => {
                        db = new_db;
                        state = new_state;
                    }
                    // Closed while reopening: nothing is open to finish.
                    None => return,
                }
            }
        }
    }
    // Closing: whatever is still open (chunks of uploads that never finished, discards, bodies
    // whose readers let go) is committed so the file is tidy; losing it would be harmless too.
    let mut finish = || -> Result<()> {
        let txn = match open.take() {
            Some(t) => t,
            None => db.begin_write()?,
        };
        collect_parked(&txn, &mut state)?;
        txn.commit()?;
        Ok(())
    };
    if let Err(e) = finish() {
        log::warn!("store: final commit failed: {e}");
    }
    drop(db);
    if let Some(s) = shared.upgrade() {
        *s.db.write().expect("not poisoned") = None;
    }
}

/// Answers every request waiting in the channel with `refusal()`.
fn refuse_queued(rx: &async_channel::Receiver<Request>, refusal: &dyn Fn() -> Error) {
    while let Ok(r) = rx.try_recv() {
        let _ = r.reply.try_send(Err(refusal()));
    }
}

/// Drops the poisoned handle and reopens the file, answering `refusal()` meanwhile. Returns
/// `None` if the channel closed first.
fn reopen_file(
    path: &Path,
    cache_bytes: usize,
    old: Arc<Database>,
    pins: &Arc<PinTable>,
    shared: &Weak<Shared>,
    rx: &async_channel::Receiver<Request>,
    refusal: &dyn Fn() -> Error,
) -> Option<(Arc<Database>, State)> {
    if let Some(s) = shared.upgrade() {
        *s.db.write().expect("not poisoned") = None;
    }
    let mut old = Some(old);
    let mut delay = std::time::Duration::from_millis(50);
    loop {
        // Readers may still hold the old handle for a moment; redb refuses a second open until
        // the last reference is gone.
        old = old.and_then(|db| Arc::try_unwrap(db).err());
        if old.is_none() {
            match open_file(path, cache_bytes).and_then(|db| prepare(&db, pins).map(|st| (db, st)))
            {
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
        refuse_queued(rx, refusal);
        if rx.is_closed() && rx.is_empty() {
            return None;
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(std::time::Duration::from_secs(5));
    }
}

/// Runs an [`Op::Restore`] alone: commits what the open transaction holds, then loads the
/// backup into a fresh transaction over an empty store, checks it, has the backup's files
/// written and commits. A refusal drops the transaction (the store stays as it was) and is the
/// request's answer; only a storage error is returned.
fn restore(
    db: &Database,
    open: &mut Option<WriteTransaction>,
    state: &mut State,
    notify: &Notify,
    req: Request,
) -> Result<()> {
    let Work::Op(Op::Restore(restore)) = req.work else {
        unreachable!("only restores are passed here");
    };
    if let Some(txn) = open.take() {
        txn.commit()?;
        state.open_bytes = 0;
        state.pins.settled(&std::mem::take(&mut state.dying));
    }
    let txn = db.begin_write()?;
    let outcome = (|| -> Result<(Done, u64, u64)> {
        if !super::backup::is_empty(&txn)? || !state.uploads.is_empty() {
            return Err(Refusal::NotEmpty.into());
        }
        let mut source = restore.source;
        let (summary, files) = super::backup::load(&txn, &mut source)?;
        let stored = txn
            .open_table(META)?
            .get("schema_version")?
            .map(|v| v.value());
        if stored != Some(summary.schema) {
            return Err(Refusal::BadBackup(
                "its schema version differs from its own header".into(),
            )
            .into());
        }
        upgrade(&txn, summary.schema)?;
        let (next_body, next_queue) = tidy(&txn, &state.pins)?;
        let problems = super::read::check(&txn)?;
        if let Some(first) = problems.first() {
            return Err(Refusal::BadBackup(format!(
                "the restored store would fail its check ({} problems, the first: {first})",
                problems.len()
            ))
            .into());
        }
        (restore.place_files)(&files)
            .map_err(|e| Refusal::BadBackup(format!("writing the backup's files: {e}")))?;
        Ok((Done::Restored(summary), next_body, next_queue))
    })();
    match outcome {
        Ok((done, next_body, next_queue)) => {
            txn.commit()?;
            state.next_body = next_body;
            state.next_queue = next_queue;
            notify.publish(&BTreeSet::new(), &BTreeSet::new(), true, true);
            let _ = req.reply.try_send(Ok(done));
            Ok(())
        }
        Err(e @ Error::Refused(_)) | Err(e @ Error::NewerSchema { .. }) => {
            txn.abort()?;
            let _ = req.reply.try_send(Err(e));
            Ok(())
        }
        Err(e) => {
            let _ = req.reply.try_send(Err(e.fault()));
            let _ = txn.abort();
            Err(e)
        }
    }
}

/// Waits up to `limit` for the next request.
fn recv_within(rx: &async_channel::Receiver<Request>, limit: Duration) -> Option<Request> {
    futures_lite::future::block_on(futures_lite::future::or(
        async { rx.recv().await.ok() },
        async {
            async_io::Timer::after(limit).await;
            None
        },
    ))
}

/// Deletes the parked bodies whose last reader let go (in the open transaction; not durable by
/// itself: a crash before the next commit leaves them in `PARKED` for the next open).
fn collect_parked(txn: &WriteTransaction, state: &mut State) -> Result<()> {
    for body in state.pins.take_collectable() {
        state.dying.push(body);
        let parked = txn.open_table(PARKED)?.get(body)?.is_some();
        if parked {
            collect_body(txn, body)?;
        }
    }
    Ok(())
}

/// What one batch needs besides the transaction and the state.
struct Batch<'a> {
    db: &'a Database,
    rx: &'a async_channel::Receiver<Request>,
    shared: &'a Weak<Shared>,
    notify: &'a Notify,
    cache_bytes: usize,
}

impl Batch<'_> {
    /// Marks the store full when `e` says so, before anyone hears of the failure: a client told
    /// 452 may come straight back, and must find the mark.
    fn failed(&self, e: &Error) {
        if e.is_full()
            && let Some(s) = self.shared.upgrade()
        {
            s.space.failed();
        }
    }

    /// Applies a batch in the open transaction (starting one if needed) and answers it. Requests
    /// that need no durability are answered as soon as they are applied. If any request needs
    /// durability, the transaction is committed (after waiting up to the commit window for
    /// deliveries of messages still in flight to join) and those requests are answered after the
    /// commit; otherwise the transaction stays open. On a storage error the transaction is
    /// aborted, every unanswered request gets the error, and the error is returned.
    fn apply(
        &self,
        open: &mut Option<WriteTransaction>,
        state: &mut State,
        batch: Vec<Request>,
    ) -> Result<()> {
        let txn = match open.take() {
            Some(t) => t,
            None => match self.db.begin_write() {
                Ok(t) => t,
                Err(e) => {
                    let e = Error::from(e);
                    self.failed(&e);
                    for req in batch {
                        let _ = req.reply.try_send(Err(e.fault()));
                    }
                    return Err(e);
                }
            },
        };
        let window = self
            .shared
            .upgrade()
            .map(|s| Duration::from_micros(s.commit_window_us.load(Ordering::Relaxed)))
            .unwrap_or_default();
        let deadline = Instant::now() + window;
        let mut waiting: Vec<(Request, Result<Done>)> = Vec::new();
        let mut incoming = batch.into_iter().collect::<std::collections::VecDeque<_>>();
        let mut applied = 0usize;
        let mut delivering = 0usize;
        loop {
            while let Some(req) = incoming.pop_front() {
                applied += 1;
                let result = match &req.work {
                    Work::Op(op) => apply(&txn, state, op),
                    Work::Collect => collect_parked(&txn, state).map(|()| Done::Unit),
                };
                match result {
                    Err(
                        e @ (Error::Io(_)
                        | Error::Full(_)
                        | Error::Corrupt(_)
                        | Error::Unavailable
                        | Error::Locked(_)
                        | Error::NewerSchema { .. }),
                    ) => {
                        self.failed(&e);
                        let _ = req.reply.try_send(Err(e.fault()));
                        for (r, _) in waiting.drain(..) {
                            let _ = r.reply.try_send(Err(e.fault()));
                        }
                        for r in incoming.drain(..) {
                            let _ = r.reply.try_send(Err(e.fault()));
                        }
                        // The batch's own error is the one to report, not abort's echo of it.
                        let _ = txn.abort();
                        return Err(e);
                    }
                    result if req.work.durable() => {
                        delivering += usize::from(matches!(
                            req.work,
                            Work::Op(Op::Deliver(_) | Op::Append { .. })
                        ));
                        waiting.push((req, result));
                    }
                    result => {
                        let _ = req.reply.try_send(result);
                    }
                }
            }
            // Parked bodies whose readers let go, in case their wake-up did not fit the queue.
            if let Err(e) = collect_parked(&txn, state) {
                self.failed(&e);
                for (r, _) in waiting.drain(..) {
                    let _ = r.reply.try_send(Err(e.fault()));
                }
                let _ = txn.abort();
                return Err(e);
            }
            // Messages still being received whose delivery is not in this commit: wait for them.
            let in_flight = self
                .shared
                .upgrade()
                .map(|s| s.in_flight.load(Ordering::Relaxed))
                .unwrap_or(0);
            let now = Instant::now();
            if waiting.is_empty()
                || in_flight <= delivering
                || now >= deadline
                || applied >= MAX_BATCH
            {
                break;
            }
            match recv_within(self.rx, deadline - now) {
                Some(req) => incoming.push_back(req),
                None => break,
            }
        }
        // redb keeps an open transaction's pages in its write buffer (half the cache) and writes
        // pages it had to evict early a second time at commit; committing before the uploads in
        // it outgrow the buffer keeps every chunk to a single write.
        let buffer_full = state.open_bytes as usize > self.cache_bytes / 4;
        if waiting.is_empty() && !buffer_full {
            *open = Some(txn);
            return Ok(());
        }
        state.open_bytes = 0;
        log::debug!(
            "store: commit requests={applied} deliveries={delivering} waited_us={}",
            (Instant::now() + window)
                .saturating_duration_since(deadline)
                .as_micros()
        );
        if let Err(e) = txn.commit() {
            let e = Error::from(e);
            self.failed(&e);
            for (r, _) in waiting {
                let _ = r.reply.try_send(Err(e.fault()));
            }
            return Err(e);
        }
        // Durable: bodies deleted in it may be forgotten, and waiters may look.
        let was_full = self.shared.upgrade().is_some_and(|s| s.space.wrote());
        state.pins.settled(&std::mem::take(&mut state.dying));
        self.notify.publish(
            &std::mem::take(&mut state.touched_mailboxes),
            &std::mem::take(&mut state.touched_users),
            std::mem::take(&mut state.queue_changed),
            std::mem::take(&mut state.training_changed),
        );
        for (r, result) in waiting {
            let _ = r.reply.try_send(result);
        }
        if was_full {
            // redb hands out the pages a commit freed only after a later commit: on a full disk,
            // an empty one now lets the next message use the room a deletion just made.
            self.db.begin_write()?.commit()?;
        }
        Ok(())
    }
}

pub(super) fn corrupt(what: &'static str) -> Error {
    Error::Corrupt(what)
}

pub(super) fn next_counter(txn: &WriteTransaction, key: &str) -> Result<u64> {
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
    use super::{mailboxes, messages};
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
        Op::SetState { key, value } => {
            if key.len() > MAX_STATE_KEY_BYTES {
                return Err(Refusal::TooMany("bytes in a state key").into());
            }
            if value
                .as_ref()
                .is_some_and(|v| v.len() > MAX_STATE_VALUE_BYTES)
            {
                return Err(Refusal::TooMany("bytes in a state value").into());
            }
            let mut t = txn.open_table(STATE)?;
            match value {
                Some(v) => t.insert(key.as_str(), v.as_slice())?,
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
        Op::SetSummaries(summaries) => {
            let bodies = txn.open_table(BODIES)?;
            let mut t = txn.open_table(SUMMARIES)?;
            for (body, summary) in summaries {
                if bodies.get(body.0)?.is_some() {
                    t.insert(body.0, summary.as_slice())?;
                }
            }
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
            drop(users);
            if super::aliases::any_in_domain(txn, d)? || super::lists::any_in_domain(txn, d)? {
                return Err(Refusal::DomainInUse(d.clone()).into());
            }
            t.remove(d.as_str())?;
            Ok(Done::Unit)
        }
        Op::AddAlias { address, targets } => {
            super::aliases::add(txn, address, targets)?;
            Ok(Done::Unit)
        }
        Op::DelAlias { address, targets } => {
            super::aliases::remove(txn, address, targets)?;
            Ok(Done::Unit)
        }
        Op::AddUser {
            email,
            password_hash,
        } => {
            if txn.open_table(DOMAINS)?.get(domain_of(email))?.is_none() {
                return Err(Refusal::NoSuchDomain(domain_of(email).to_string()).into());
            }
            if super::aliases::exists(txn, email)? {
                return Err(Refusal::AliasExists(email.clone()).into());
            }
            if super::lists::exists(txn, email)? {
                return Err(Refusal::ListExists(email.clone()).into());
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
                quota: super::quota::default_bytes(txn)?,
            };
            txn.open_table(USERS)?.insert(id, row.encode().as_slice())?;
            by_email.insert(email.as_str(), id)?;
            let mut subscriptions = txn.open_table(SUBSCRIPTIONS)?;
            for (name, special_use) in DEFAULT_MAILBOXES {
                mailboxes::insert_mailbox(txn, UserId(id), name, *special_use)?;
                subscriptions.insert((id, *name), ())?;
            }
            state.touched_users.insert(id);
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
            drop(by_email);
            super::aliases::forget_user(txn, email)?;
            super::sieve::forget_user(txn, UserId(id))?;
            mailboxes::delete_user_data(txn, state, UserId(id))?;
            state.touched_users.insert(id);
            Ok(Done::Unit)
        }
        Op::SetPassword {
            email,
            password_hash,
        } => {
            update_user(txn, email, |row| row.password_hash = password_hash.clone())?;
            Ok(Done::Unit)
        }
        Op::SetQuota { email, bytes } => super::quota::set(txn, email, *bytes),
        Op::PutChunk { upload, data } => {
            // Every chunk is full, so readers find an offset's chunk by division.
            if data.len() != CHUNK_BYTES {
                return Err(Refusal::ChunkSize(data.len()).into());
            }
            let next_body = &mut state.next_body;
            let up = state.uploads.entry(*upload).or_insert_with(|| {
                let body = *next_body;
                *next_body += 1;
                Upload {
                    body,
                    chunks: 0,
                    bytes: 0,
                }
            });
            // Chunks append at the right edge of the tree (keys grow), where redb starts a new
            // leaf instead of rewriting a neighbour.
            txn.open_table(CHUNKS)?
                .insert((up.body, up.chunks), data.as_slice())?;
            up.chunks += 1;
            up.bytes += data.len() as u64;
            state.open_bytes += data.len() as u64;
            txn.open_table(UPLOADS)?.insert(up.body, up.chunks)?;
            Ok(Done::Unit)
        }
        Op::Deliver(d) => deliver(txn, state, d),
        Op::Discard(upload) => {
            if let Some(up) = state.uploads.remove(upload) {
                delete_chunks(txn, up.body, up.chunks)?;
                txn.open_table(UPLOADS)?.remove(up.body)?;
            }
            Ok(Done::Unit)
        }
        Op::CreateMailbox {
            user,
            name,
            special_use,
        } => mailboxes::create(txn, state, *user, name, *special_use),
        Op::DeleteMailbox { user, name } => mailboxes::delete(txn, state, *user, name),
        Op::RenameMailbox { user, from, to } => mailboxes::rename(txn, state, *user, from, to),
        Op::Subscribe {
            user,
            name,
            subscribed,
        } => mailboxes::subscribe(txn, state, *user, name, *subscribed),
        Op::Append {
            upload,
            chunks_sent,
            mailbox,
            flags,
            keywords,
            internal_date,
            tail,
            summary,
        } => messages::append(
            txn,
            state,
            messages::AppendArgs {
                upload: *upload,
                chunks_sent: *chunks_sent,
                mailbox: *mailbox,
                flags: *flags,
                keywords,
                internal_date: *internal_date,
                tail,
                summary,
            },
        ),
        Op::Store {
            mailbox,
            uids,
            mode,
            flags,
            keywords,
            unchanged_since,
        } => messages::store_flags(
            txn,
            state,
            *mailbox,
            uids,
            *mode,
            *flags,
            keywords,
            *unchanged_since,
        ),
        Op::Copy { from, uids, to } => messages::copy(txn, state, *from, uids, *to, false),
        Op::Move { from, uids, to } => messages::copy(txn, state, *from, uids, *to, true),
        Op::Expunge { mailbox, uids } => {
            messages::expunge(txn, state, *mailbox, uids.as_deref(), true)
        }
        Op::Remove { mailbox, uids } => messages::expunge(txn, state, *mailbox, Some(uids), false),
        Op::QueueUpdate { update, report } => {
            if let Some(d) = report {
                match deliver(txn, state, d) {
                    // The sender's account is gone: there is nobody left to tell.
                    Err(Error::Refused(Refusal::NoRecipients)) => {}
                    Err(e) => return Err(e),
                    Ok(_) => {}
                }
            }
            queue::update(txn, state, update)
        }
        Op::QueueDelete(id) => queue::delete(txn, state, *id),
        Op::Greylist(check) => super::greylist::decide(txn, check),
        Op::Script { user, change } => super::sieve::change(txn, *user, change),
        Op::List { address, change } => super::lists::change(txn, address, change),
        Op::VacationDue {
            user,
            key,
            now,
            until,
        } => super::sieve::vacation_due(txn, *user, *key, *now, *until),
        Op::SpamTrain(t) => super::spam::train(txn, t),
        Op::QueueRetry { id, now } => queue::retry_now(txn, state, *id, *now),
        // The writer loop runs restores in transactions of their own (`restore`).
        Op::Restore(_) => {
            Err(Refusal::BadBackup("a restore cannot share a transaction".into()).into())
        }
    }
}

/// Rewrites the row of the user with this address.
pub(super) fn update_user(
    txn: &WriteTransaction,
    email: &str,
    change: impl FnOnce(&mut UserRow),
) -> Result<()> {
    let id = txn
        .open_table(USER_BY_EMAIL)?
        .get(email)?
        .map(|v| v.value())
        .ok_or_else(|| Refusal::NoSuchUser(email.to_string()))?;
    let mut users = txn.open_table(USERS)?;
    let mut row = users
        .get(id)?
        .and_then(|v| UserRow::decode(v.value()))
        .ok_or(corrupt("user row"))?;
    change(&mut row);
    users.insert(id, row.encode().as_slice())?;
    Ok(())
}

/// Refuses a final upload request whose chunks are not all there (lost in a reopen).
pub(super) fn check_upload(state: &State, upload: UploadId, chunks_sent: usize) -> Result<()> {
    let sent = state
        .uploads
        .get(&upload)
        .map(|u| u.chunks as usize)
        .unwrap_or(0);
    if sent != chunks_sent {
        return Err(Refusal::UploadLost.into());
    }
    Ok(())
}

/// The size of the body [`store_body`] would make of an upload.
pub(super) fn upload_size(state: &State, upload: UploadId, prefix: &[u8], tail: &[u8]) -> u64 {
    let chunks = state.uploads.get(&upload).map_or(0, |u| u.bytes);
    prefix.len() as u64 + chunks + tail.len() as u64
}

/// Makes an upload a body held by `refs` message rows: its chunks (if any), then `tail` kept
/// inline, after `prefix`; writes the body and summary rows. Returns the body and its size.
pub(super) fn store_body(
    txn: &WriteTransaction,
    state: &mut State,
    upload: UploadId,
    prefix: &[u8],
    tail: &[u8],
    summary: &[u8],
    refs: u32,
) -> Result<(BodyId, u64)> {
    let (body, chunks, chunk_bytes) = match state.uploads.remove(&upload) {
        Some(up) => {
            txn.open_table(UPLOADS)?.remove(up.body)?;
            (up.body, up.chunks, up.bytes)
        }
        None => {
            let body = state.next_body;
            state.next_body += 1;
            (body, 0, 0)
        }
    };
    let size = prefix.len() as u64 + chunk_bytes + tail.len() as u64;
    let row = BodyRow {
        refs,
        size,
        prefix: prefix.to_vec(),
        chunks,
        inline: tail.to_vec(),
    };
    txn.open_table(BODIES)?
        .insert(body, row.encode().as_slice())?;
    txn.open_table(SUMMARIES)?.insert(body, summary)?;
    Ok((BodyId(body), size))
}

/// Body row `body` with its reference count replaced by `f(count)`, and that new count.
fn rerefed(
    bodies: &redb::Table<'_, u64, &[u8]>,
    body: u64,
    f: impl FnOnce(u32) -> Result<u32>,
) -> Result<(u32, Vec<u8>)> {
    let v = bodies.get(body)?.ok_or(corrupt("body row missing"))?;
    let view = BodyView::parse(v.value()).ok_or(corrupt("body row"))?;
    let refs = f(view.refs)?;
    let row = BodyRow::with_refs(v.value(), refs).ok_or(corrupt("body row"))?;
    Ok((refs, row))
}

/// Adds message rows' claims on bodies (body → how many new rows name it).
pub(super) fn add_body_refs(
    txn: &WriteTransaction,
    counts: &std::collections::BTreeMap<u64, u32>,
) -> Result<()> {
    let mut bodies = txn.open_table(BODIES)?;
    for (body, n) in counts {
        let (_, row) = rerefed(&bodies, *body, |refs| Ok(refs + n))?;
        bodies.insert(*body, row.as_slice())?;
    }
    Ok(())
}

/// Removes one message row's claim on a body. At zero the body is deleted with its summary and
/// chunks, or, if a reader pins it, parked until the reader lets go ([`super::body`]).
pub(super) fn drop_body_ref(txn: &WriteTransaction, state: &mut State, body: u64) -> Result<()> {
    let mut bodies = txn.open_table(BODIES)?;
    let (refs, row) = rerefed(&bodies, body, |refs| {
        refs.checked_sub(1).ok_or(corrupt("body refs below zero"))
    })?;
    if refs > 0 {
        bodies.insert(body, row.as_slice())?;
        return Ok(());
    }
    if state.pins.park_or_doom(body) {
        bodies.insert(body, row.as_slice())?;
        txn.open_table(PARKED)?.insert(body, ())?;
        return Ok(());
    }
    drop(bodies);
    state.dying.push(body);
    delete_body(txn, body)
}

fn deliver(txn: &WriteTransaction, state: &mut State, d: &Delivery) -> Result<Done> {
    check_upload(state, d.upload, d.chunks_sent)?;
    // Resolve every copy's mailbox before changing anything: the one it names if the user has
    // it, else Junk for junk, else INBOX. One copy per (user, mailbox).
    let size = upload_size(state, d.upload, &d.prefix, &d.tail);
    let mut over_quota = Vec::new();
    let names = txn.open_table(MAILBOX_BY_NAME)?;
    let mut resolved: Vec<(UserId, u64, &LocalCopy)> = Vec::with_capacity(d.recipients.len());
    for copy in &d.recipients {
        let user = copy.user.0;
        let named = match &copy.mailbox {
            Some(name) => names.get((user, name.as_str()))?.map(|v| v.value()),
            None => None,
        };
        let junk = match (named, d.junk) {
            (None, true) => names.get((user, "Junk"))?.map(|v| v.value()),
            _ => None,
        };
        let Some(mbox) = named
            .or(junk)
            .or(names.get((user, "INBOX"))?.map(|v| v.value()))
        else {
            continue; // the user was deleted since RCPT
        };
        if !resolved.iter().any(|(_, m, _)| *m == mbox) {
            resolved.push((copy.user, mbox, copy));
        }
    }
    resolved.sort_by_key(|(user, mbox, _)| (*user, *mbox));
    let mut targets = Vec::with_capacity(resolved.len());
    {
        let mailboxes = txn.open_table(MAILBOXES)?;
        let users = txn.open_table(USERS)?;
        // Quota: all of a user's copies fit, or none of them is stored.
        let mut full: Vec<UserId> = Vec::new();
        if d.quota {
            for (i, (user, _, _)) in resolved.iter().enumerate() {
                if resolved[..i].iter().any(|(u, _, _)| u == user) {
                    continue;
                }
                let n = resolved.iter().filter(|(u, _, _)| u == user).count() as u64;
                if let Some((q, email)) = super::quota::read(&users, &names, &mailboxes, user.0)?
                    && !q.fits(size.saturating_mul(n))
                {
                    over_quota.push((*user, email));
                    full.push(*user);
                }
            }
        }
        for (user, mbox, copy) in resolved {
            if full.contains(&user) {
                continue;
            }
            let row = mailboxes
                .get(mbox)?
                .and_then(|v| MailboxRow::decode(v.value()))
                .ok_or(corrupt("mailbox row"))?;
            if row.uidnext == u32::MAX {
                continue; // UID space exhausted; RFC 9051 would need a new UIDVALIDITY
            }
            targets.push((user, mbox, row, copy));
        }
    }
    if targets.is_empty() && d.queue.is_none() {
        return Err(match over_quota.first() {
            Some((_, email)) => Refusal::OverQuota(email.clone()),
            None => Refusal::NoRecipients,
        }
        .into());
    }
    // The body: the uploaded chunks (if any) followed by the tail, kept inline in the row. The
    // queue row, if any, holds one reference like a message row.
    let refs = targets.len() as u32 + u32::from(d.queue.is_some());
    let (body, stored) = store_body(txn, state, d.upload, &d.prefix, &d.tail, &d.summary, refs)?;
    debug_assert_eq!(stored, size);
    let queued = match &d.queue {
        Some(q) => Some(queue::enqueue(txn, state, body, q)?),
        None => None,
    };
    let mut mailboxes = txn.open_table(MAILBOXES)?;
    let mut messages = txn.open_table(MESSAGES)?;
    let mut copies = Vec::with_capacity(targets.len());
    for (user, mbox, mut row, copy) in targets {
        let flags = copy.flags & flags::ALL;
        let keywords = super::messages::arrival_keywords(&mut row, &copy.keywords);
        let uid = row.uidnext;
        row.uidnext += 1;
        row.highest_modseq += 1;
        row.messages += 1;
        row.unseen += u32::from(flags & flags::SEEN == 0);
        row.bytes += size;
        let msg = MessageRow {
            body: body.0,
            internal_date: d.internal_date,
            size,
            flags,
            keywords,
            modseq: row.highest_modseq,
        };
        messages.insert((mbox, uid), msg.encode().as_slice())?;
        mailboxes.insert(mbox, row.encode().as_slice())?;
        state.touch(mbox);
        let uid = Uid(std::num::NonZeroU32::new(uid).ok_or(corrupt("uid 0"))?);
        copies.push((user, MailboxId(mbox), uid));
    }
    Ok(Done::Delivered {
        body,
        copies,
        queued,
        over_quota,
    })
}

//! The store: the only module that uses redb. Everything mailnook keeps lives in one file,
//! `DATA/mail.redb` (DESIGN.md "Store").
//!
//! Invariants:
//! - One writer: a dedicated thread ([`writer`]) owns every write transaction. Requests arrive over
//!   a bounded channel; the thread folds whatever is pending into one transaction (group commit)
//!   and answers each request only after that transaction committed. A request whose answer is
//!   `Ok` that needed durability ([`Op::durable`]) is on disk: that is what lets SMTP say 250.
//! - Reads run in short read transactions on the caller's thread and are never held across an
//!   `.await` (MVCC pins pages until a read transaction ends, which grows the file).
//! - Message bytes are never held whole in memory: an upload sends chunks of at most
//!   [`CHUNK_BYTES`] as they arrive (written into the open transaction, no commit of their own)
//!   and the final [`Delivery`] commits them with the index rows durably in one transaction.
//! - Every commit rewrites a handful of B-tree pages whatever it holds, so commits are shared:
//!   all requests queued together commit together, and a commit may wait up to the commit window
//!   for deliveries of messages still being received ([`Store::set_commit_window`]).
//! - After a storage I/O error the writer reopens the database (redb poisons its handle) and
//!   answers [`Error::Unavailable`] until it succeeds; uploads in flight are then lost and
//!   their deliveries refused, so nothing half-written is ever acknowledged.
//! - Logical refusals ([`Refusal`]) are decided before an operation mutates anything, so one bad
//!   request never spoils the others in its batch.

mod file;
mod read;
pub mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

pub use read::{Mailbox, Message, User};
pub use schema::{BodyRow, CHUNK_BYTES, MailboxRow, MessageRow, SpecialUse, UserRow, flags};

/// A user's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserId(pub u64);
/// A mailbox's id (unique across users).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MailboxId(pub u64);
/// A stored body's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BodyId(pub u64);
/// An IMAP UID within one mailbox (never 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uid(pub std::num::NonZeroU32);
/// One message upload in flight (chunks sent, delivery not yet committed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UploadId(u64);

impl Uid {
    /// The UID as a number.
    pub fn get(self) -> u32 {
        self.0.get()
    }
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another process holds the database file.
    #[error(
        "the store {0} is in use by another process (is `mailnook serve` running without its control socket?)"
    )]
    Locked(PathBuf),
    /// The file was written by a newer release.
    #[error(
        "the store was written by a newer mailnook (schema {found}; this binary reads up to {supported}); refusing to open it"
    )]
    NewerSchema {
        /// Version found in the file.
        found: u64,
        /// Highest version this binary understands.
        supported: u64,
    },
    /// An I/O or database error; the writer reopens the database after one.
    #[error("store I/O error: {0}")]
    Io(String),
    /// A row could not be decoded.
    #[error("store row corrupt: {0}")]
    Corrupt(&'static str),
    /// The writer is stopped or reopening the database.
    #[error("store unavailable")]
    Unavailable,
    /// The operation was refused; nothing was changed.
    #[error(transparent)]
    Refused(#[from] Refusal),
}

/// A logical refusal: the request conflicts with what is stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No user with that address.
    #[error("no such user: {0}")]
    NoSuchUser(String),
    /// The address is taken.
    #[error("user already exists: {0}")]
    UserExists(String),
    /// The domain is not local.
    #[error("no such domain: {0} (add it with `mailnook domain add`)")]
    NoSuchDomain(String),
    /// The domain is already local.
    #[error("domain already exists: {0}")]
    DomainExists(String),
    /// Users still have addresses in the domain.
    #[error("domain {0} still has users; delete them first")]
    DomainInUse(String),
    /// The setting is not known.
    #[error("unknown setting: {0}")]
    UnknownSetting(String),
    /// The upload's chunks were lost (the store reopened mid-upload).
    #[error("message upload lost; try again")]
    UploadLost,
    /// None of the recipients exists any more.
    #[error("no recipient exists")]
    NoRecipients,
}

macro_rules! io_errors {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Error { Error::Io(e.to_string()) }
        }
    )*};
}
io_errors!(
    redb::Error,
    redb::StorageError,
    redb::TableError,
    redb::TransactionError,
    redb::CommitError,
    redb::SetDurabilityError,
    std::io::Error
);

/// Shorthand.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A change to the store, executed by the writer thread.
#[derive(Debug)]
pub enum Op {
    /// Sets (or with `None` removes) a setting. The value must already be validated.
    SetSetting {
        /// Setting key.
        key: String,
        /// New value.
        value: Option<String>,
    },
    /// Adds a local domain.
    AddDomain(String),
    /// Removes a local domain that no user belongs to.
    DelDomain(String),
    /// Creates a user with the default mailboxes.
    AddUser {
        /// Normalised address in a local domain.
        email: String,
        /// PHC argon2id string.
        password_hash: String,
    },
    /// Deletes a user, their mailboxes and messages.
    DelUser(String),
    /// Replaces a user's password hash.
    SetPassword {
        /// The user.
        email: String,
        /// PHC argon2id string.
        password_hash: String,
    },
    /// Stores one full chunk of an upload (not durable by itself).
    PutChunk {
        /// The upload.
        upload: UploadId,
        /// At most [`CHUNK_BYTES`].
        data: Vec<u8>,
    },
    /// Commits an upload as new messages in recipients' INBOXes.
    Deliver(Delivery),
    /// Drops an upload that will not be delivered.
    Discard(UploadId),
}

impl Op {
    /// Whether an `Ok` answer must mean "on disk".
    pub fn durable(&self) -> bool {
        !matches!(self, Op::PutChunk { .. } | Op::Discard(_))
    }
}

/// The final step of an upload.
#[derive(Debug)]
pub struct Delivery {
    /// The upload whose chunks form the body.
    pub upload: UploadId,
    /// How many chunks were sent with [`Op::PutChunk`] (a mismatch means they were lost).
    pub chunks_sent: usize,
    /// Trace headers stored before the data.
    pub prefix: Vec<u8>,
    /// The data after the last full chunk (at most [`CHUNK_BYTES`]).
    pub tail: Vec<u8>,
    /// Encoded `message::Summary`.
    pub summary: Vec<u8>,
    /// INTERNALDATE, Unix seconds.
    pub internal_date: u64,
    /// Users whose INBOX receives the message (duplicates are delivered once).
    pub recipients: Vec<UserId>,
}

/// What a successful operation returns.
#[derive(Debug, PartialEq, Eq)]
pub enum Done {
    /// Nothing to report.
    Unit,
    /// The new user's id.
    User(UserId),
    /// Where each recipient's copy went, in recipient order (duplicates removed).
    Delivered {
        /// The shared body.
        body: BodyId,
        /// (user, mailbox, uid) per recipient.
        copies: Vec<(UserId, MailboxId, Uid)>,
    },
}

struct Request {
    op: Op,
    reply: async_channel::Sender<Result<Done>>,
}

struct Shared {
    db: RwLock<Option<Arc<redb::Database>>>,
    tx: async_channel::Sender<Request>,
    next_upload: AtomicU64,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Messages being received right now ([`InFlight`] guards alive).
    in_flight: AtomicUsize,
    /// How long a durable commit may wait for deliveries still being received, in µs.
    commit_window_us: AtomicU64,
}

/// Marks one message as being received, from its first byte to its commit or abandonment. While
/// any are alive, a durable commit may wait up to the commit window for their deliveries to
/// join it (see [`Store::set_commit_window`]).
#[derive(Debug)]
pub struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("store::Shared")
    }
}

/// A handle on the store; cheap to clone and usable from any thread.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

/// Queue depth between callers and the writer thread.
const REQUEST_QUEUE: usize = 512;

impl Store {
    /// Opens (creating if needed) the store file at `path` with a page cache of `cache_bytes`.
    /// The file is reopened after a storage error.
    pub fn open(path: &Path, cache_bytes: usize) -> Result<Store> {
        let db = writer::open_file(path, cache_bytes)?;
        Store::start(db, Some(path.to_path_buf()), cache_bytes)
    }

    /// Opens a store on a caller's redb storage backend (e.g. one that simulates crashes). After
    /// a storage error such a store stays unavailable.
    pub fn open_with_backend(
        backend: impl redb::StorageBackend,
        cache_bytes: usize,
    ) -> Result<Store> {
        let db = redb::Database::builder()
            .set_cache_size(cache_bytes)
            .create_with_backend(backend)
            .map_err(|e| Error::Io(e.to_string()))?;
        Store::start(db, None, cache_bytes)
    }

    /// Checks the schema version, removes chunks left by uploads that never completed, and
    /// starts the writer thread.
    fn start(db: redb::Database, reopen: Option<PathBuf>, cache_bytes: usize) -> Result<Store> {
        let state = writer::prepare(&db)?;
        let db = Arc::new(db);
        let (tx, rx) = async_channel::bounded(REQUEST_QUEUE);
        let shared = Arc::new(Shared {
            db: RwLock::new(Some(db.clone())),
            tx,
            next_upload: AtomicU64::new(1),
            thread: Mutex::new(None),
            in_flight: AtomicUsize::new(0),
            commit_window_us: AtomicU64::new(0),
        });
        let weak = Arc::downgrade(&shared);
        let handle = std::thread::Builder::new()
            .name("store".into())
            .spawn(move || writer::run(db, state, rx, weak, reopen, cache_bytes))?;
        *shared.thread.lock().expect("not poisoned") = Some(handle);
        Ok(Store { shared })
    }

    /// Runs `op` on the writer thread and waits (async) for its committed result.
    pub async fn call(&self, op: Op) -> Result<Done> {
        let (reply, answer) = async_channel::bounded(1);
        self.shared
            .tx
            .send(Request { op, reply })
            .await
            .map_err(|_| Error::Unavailable)?;
        answer.recv().await.map_err(|_| Error::Unavailable)?
    }

    /// Runs `op` on the writer thread and blocks until its committed result. Never call this on
    /// the executor thread.
    pub fn call_blocking(&self, op: Op) -> Result<Done> {
        let (reply, answer) = async_channel::bounded(1);
        self.shared
            .tx
            .send_blocking(Request { op, reply })
            .map_err(|_| Error::Unavailable)?;
        answer.recv_blocking().map_err(|_| Error::Unavailable)?
    }

    /// A fresh upload id for [`Op::PutChunk`] / [`Op::Deliver`].
    pub fn new_upload(&self) -> UploadId {
        UploadId(self.shared.next_upload.fetch_add(1, Ordering::Relaxed))
    }

    /// Registers a message being received; drop the guard when it is committed or abandoned.
    pub fn in_flight(&self) -> InFlight {
        self.shared.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.shared.clone())
    }

    /// Sets how long a durable commit may wait for deliveries of messages still being received
    /// (group commit across sessions): fewer commits mean fewer page writes per message, at the
    /// cost of up to this much latency. Zero commits at once.
    pub fn set_commit_window(&self, window: std::time::Duration) {
        self.shared
            .commit_window_us
            .store(window.as_micros() as u64, Ordering::Relaxed);
    }

    /// Stops the writer after it has finished every request already queued, and waits for it.
    pub fn close(&self) {
        self.shared.tx.close();
        let handle = self.shared.thread.lock().expect("not poisoned").take();
        if let Some(h) = handle {
            let _ = h.join();
        }
        *self.shared.db.write().expect("not poisoned") = None;
    }

    fn db(&self) -> Result<Arc<redb::Database>> {
        self.shared
            .db
            .read()
            .expect("not poisoned")
            .clone()
            .ok_or(Error::Unavailable)
    }
}

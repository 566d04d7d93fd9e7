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
//! - After a storage I/O error the writer reopens the database (redb fails every later
//!   operation on the handle with `PreviousIo`) and answers [`Error::Unavailable`] until it
//!   succeeds; uploads in flight are then lost and their deliveries refused, so nothing
//!   half-written is ever acknowledged. A write that failed because the disk is full
//!   (`ENOSPC`/`EDQUOT`) is [`Error::Full`], for it and for everything refused until the reopen
//!   succeeds, and marks the store full until a commit succeeds or space appears ([`space`]).
//!   The reopen needs no free space: the file is only read and rewritten in place, so the
//!   store serves reads (and deletions, which free pages inside the file) on a full disk.
//! - Logical refusals ([`Refusal`]) are decided before an operation mutates anything, so one bad
//!   request never spoils the others in its batch.
//! - IMAP state follows RFC 9051 and RFC 7162: every change to a message (append, flags, copy
//!   into, expunge) raises its mailbox's HIGHESTMODSEQ by one per operation and gives the changed
//!   messages that modseq; expunged UIDs are remembered with it ([`schema::VANISHED`], bounded).
//!   Flag changes and expunges are ordinary requests, so they share the group commit.
//! - A body's bytes outlive its last message while a [`BodyReader`] pins it: the writer parks the
//!   deletion ([`schema::PARKED`]) and carries it out when the last reader is dropped, or at the
//!   next open after a crash ([`body`]).
//! - After every commit the writer bumps an in-memory generation of each mailbox (and each user,
//!   for changes to the mailbox list) the commit touched, and wakes whoever waits on it
//!   ([`Store::changed`], for IDLE). Generations start at 0 with the process; they say "look
//!   again", never what changed.
//! - Nothing here trusts mailbox names as paths: they are opaque strings, checked by
//!   [`check_mailbox_name`], and mailbox ids from callers are checked against their owner where
//!   two mailboxes meet (copy, move).

pub mod aliases;
pub mod backup;
mod body;
pub mod faulty;
mod file;
pub mod greylist;
pub mod lists;
mod mailboxes;
mod messages;
mod notify;
pub mod queue;
mod quota;
mod read;
pub mod schema;
pub mod sieve;
mod space;
pub mod spam;
mod writer;

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

pub use body::BodyReader;
pub use mailboxes::check_mailbox_name;
pub use messages::check_keyword;
pub use queue::{NewQueued, QueueId, QueueUpdate, QueuedMessage, QueuedRcpt, RcptState};
pub use quota::Quota;
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
    /// A write failed because the filesystem holding the store is full, or its owner's disk
    /// quota is reached (`ENOSPC`/`EDQUOT` somewhere in the error's chain). Like [`Error::Io`]
    /// the writer reopens the database after one; unlike it, the cure is space, not a retry.
    #[error("store storage full: {0}")]
    Full(String),
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
    #[error("domain {0} still has users or aliases; delete them first")]
    DomainInUse(String),
    /// The setting is not known.
    #[error("unknown setting: {0}")]
    UnknownSetting(String),
    /// No queued message has that id.
    #[error("no such queued message: {0}")]
    NoSuchQueued(String),
    /// The upload's chunks were lost (the store reopened mid-upload).
    #[error("message upload lost; try again")]
    UploadLost,
    /// None of the recipients exists any more.
    #[error("no recipient exists")]
    NoRecipients,
    /// The mailbox does not exist (or belongs to another user).
    #[error("no such mailbox: {0}")]
    NoSuchMailbox(String),
    /// A mailbox with that name exists.
    #[error("mailbox already exists: {0}")]
    MailboxExists(String),
    /// The name cannot be a mailbox name.
    #[error("invalid mailbox name {name:?}: {reason}")]
    InvalidMailboxName {
        /// The name as given.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// INBOX cannot be deleted (RFC 9051 §6.3.5).
    #[error("INBOX cannot be deleted")]
    InboxNotDeletable,
    /// The keyword is not an IMAP atom the store keeps.
    #[error("invalid keyword {0:?}")]
    InvalidKeyword(String),
    /// A fixed limit of the store would be exceeded (see the `MAX_*` constants in [`schema`]).
    #[error("too many {0}")]
    TooMany(&'static str),
    /// The mailbox has used up its UIDs (a new UIDVALIDITY would be needed).
    #[error("mailbox {0} has no UIDs left")]
    UidsExhausted(String),
    /// An alias has the address (a user cannot take it).
    #[error("{0} is an alias; delete the alias first")]
    AliasExists(String),
    /// A user has the address (an alias cannot take it).
    #[error("{0} is a user's address")]
    AddressIsUser(String),
    /// No alias has that address.
    #[error("no such alias: {0}")]
    NoSuchAlias(String),
    /// An alias needs at least one target.
    #[error("an alias needs at least one target")]
    AliasWithoutTargets,
    /// The address is not one of the alias's targets.
    #[error("{0} is not a target of {1}")]
    NotATarget(String, String),
    /// A list has the address.
    #[error("{0} is a mailing list")]
    ListExists(String),
    /// No list has that address.
    #[error("no such list: {0}")]
    NoSuchList(String),
    /// The name cannot be a script name (RFC 5804 §1.6).
    #[error("invalid script name {0:?}")]
    InvalidScriptName(String),
    /// No script has that name.
    #[error("no such script: {0}")]
    NoSuchScript(String),
    /// A script has that name.
    #[error("a script named {0} exists")]
    ScriptExists(String),
    /// The active script cannot be deleted (RFC 5804 §2.10).
    #[error("script {0} is active; deactivate it first")]
    ScriptActive(String),
    /// Storing the message would take the user over their quota ([`quota`]).
    #[error("mailbox full: {0} is over quota")]
    OverQuota(String),
    /// A chunk of an upload was not exactly [`CHUNK_BYTES`] long.
    #[error("upload chunk of {0} bytes (every chunk must be full)")]
    ChunkSize(usize),
    /// A restore needs an empty store.
    #[error(
        "the store is not empty (it has users, messages or queued mail); a backup is restored only into a new box"
    )]
    NotEmpty,
    /// A backup was refused; nothing was written.
    #[error("backup refused, nothing was restored: {0}")]
    BadBackup(String),
}

impl Error {
    /// Whether this is [`Error::Full`].
    pub fn is_full(&self) -> bool {
        matches!(self, Error::Full(_))
    }

    /// The same fault for another waiter of a failed batch: [`Error::Full`] stays full, anything
    /// else becomes [`Error::Io`].
    pub(crate) fn fault(&self) -> Error {
        match self {
            Error::Full(m) => Error::Full(m.clone()),
            Error::Io(m) => Error::Io(m.clone()),
            other => Error::Io(other.to_string()),
        }
    }
}

/// Whether an I/O error, or any error in its source chain, is `ENOSPC` ("No space left on
/// device") or `EDQUOT` ("Disk quota exceeded").
pub fn is_storage_full(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind;
            if matches!(io.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded) {
                return true;
            }
            // An error wrapped by `io::Error::other` is its own kind; look inside.
            if let Some(inner) = io.get_ref() {
                next = Some(inner);
                continue;
            }
        }
        next = e.source();
    }
    false
}

/// The I/O error a redb storage error carries, if it carries one.
fn storage_io(e: &redb::StorageError) -> Option<&std::io::Error> {
    match e {
        redb::StorageError::Io(io) => Some(io),
        _ => None,
    }
}

/// Converts redb's errors, keeping a full disk apart from other I/O errors ([`Error::Full`]).
macro_rules! io_errors {
    ($($t:ty => |$e:ident| $io:expr),* $(,)?) => {$(
        impl From<$t> for Error {
            fn from($e: $t) -> Error {
                let io: Option<&std::io::Error> = $io;
                match io {
                    Some(io) if is_storage_full(io) => Error::Full($e.to_string()),
                    _ => Error::Io($e.to_string()),
                }
            }
        }
    )*};
}
io_errors!(
    redb::Error => |e| match &e {
        redb::Error::Io(io) => Some(io),
        _ => None,
    },
    redb::StorageError => |e| storage_io(&e),
    redb::TableError => |e| match &e {
        redb::TableError::Storage(s) => storage_io(s),
        _ => None,
    },
    redb::TransactionError => |e| match &e {
        redb::TransactionError::Storage(s) => storage_io(s),
        _ => None,
    },
    redb::CommitError => |e| match &e {
        redb::CommitError::Storage(s) => storage_io(s),
        _ => None,
    },
    redb::SetDurabilityError => |_e| None,
    std::io::Error => |e| Some(&e),
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
    /// Sets (or with `None` removes) a named value in [`schema::STATE`]; a key over
    /// [`schema::MAX_STATE_KEY_BYTES`] or a value over [`schema::MAX_STATE_VALUE_BYTES`] is
    /// refused.
    SetState {
        /// The key, e.g. `acme.account`.
        key: String,
        /// The value, encoded by its owner.
        value: Option<Vec<u8>>,
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
    /// Deletes a user, their mailboxes and messages, and removes them from every alias.
    DelUser(String),
    /// Adds targets (existing users' addresses) to an alias in a local domain, creating it
    /// (`aliases`).
    AddAlias {
        /// Normalised alias address; no user may have it.
        address: String,
        /// Normalised user addresses.
        targets: Vec<String>,
    },
    /// Removes targets from an alias, or the whole alias when `targets` is empty or names all
    /// of them.
    DelAlias {
        /// Normalised alias address.
        address: String,
        /// Normalised user addresses.
        targets: Vec<String>,
    },
    /// Replaces a user's password hash.
    SetPassword {
        /// The user.
        email: String,
        /// PHC argon2id string.
        password_hash: String,
    },
    /// Sets a user's storage quota in bytes (0: unlimited). Nothing stored is removed when it is
    /// lowered below their usage; new mail is refused until they make room ([`quota`]).
    SetQuota {
        /// The user.
        email: String,
        /// The quota in bytes.
        bytes: u64,
    },
    /// Stores one full chunk of an upload (not durable by itself).
    PutChunk {
        /// The upload.
        upload: UploadId,
        /// Exactly [`CHUNK_BYTES`]; the rest of a message goes in the final request's `tail`.
        data: Vec<u8>,
    },
    /// Commits an upload as new messages in recipients' INBOXes. With [`Delivery::quota`], a
    /// recipient the message does not fit is left out ([`Done::Delivered`] lists them); if that
    /// leaves nobody (and no queue row), it is refused with [`Refusal::OverQuota`].
    Deliver(Delivery),
    /// Drops an upload that will not be delivered.
    Discard(UploadId),
    /// Creates a mailbox, and any missing superiors (RFC 9051 §6.3.4: "the server SHOULD create
    /// any superior hierarchical names that are needed"). Answers [`Done::Mailbox`].
    CreateMailbox {
        /// Owner.
        user: UserId,
        /// The name ([`check_mailbox_name`]); refused if it exists.
        name: String,
        /// Special use (RFC 6154).
        special_use: SpecialUse,
    },
    /// Deletes a mailbox and its messages (RFC 9051 §6.3.5); its inferiors stay, and so do
    /// subscriptions to its name. INBOX is refused.
    DeleteMailbox {
        /// Owner.
        user: UserId,
        /// The name.
        name: String,
    },
    /// Renames a mailbox and its inferiors (`a/b` becomes `c/b` when `a` becomes `c`), keeping
    /// their ids and UIDVALIDITY, and creates missing superiors of the new name. Renaming INBOX
    /// (RFC 9051 §6.3.6) instead moves all its messages into a new mailbox with the new name and
    /// leaves INBOX, and its inferiors, in place. Answers [`Done::Mailbox`] for the mailbox now
    /// under the new name.
    RenameMailbox {
        /// Owner.
        user: UserId,
        /// Existing name.
        from: String,
        /// New name; refused if it (or a renamed inferior's new name) exists.
        to: String,
    },
    /// Adds or removes a subscription (RFC 9051 §6.3.7/§6.3.8); the name need not exist.
    Subscribe {
        /// Owner.
        user: UserId,
        /// The name ([`check_mailbox_name`]).
        name: String,
        /// Subscribe or unsubscribe.
        subscribed: bool,
    },
    /// Commits an upload as a new message in one mailbox (IMAP APPEND). Answers
    /// [`Done::Appended`]. Like [`Op::Deliver`], a refusal leaves the upload for a discard;
    /// [`Refusal::OverQuota`] if the message does not fit the owner's quota.
    Append {
        /// The upload whose chunks start the message.
        upload: UploadId,
        /// How many chunks were sent with [`Op::PutChunk`].
        chunks_sent: usize,
        /// Target mailbox.
        mailbox: MailboxId,
        /// System flags ([`flags`]; bits outside [`flags::ALL`] are ignored). Without
        /// `\Seen` the message counts as unseen.
        flags: u32,
        /// Keywords ([`check_keyword`]).
        keywords: Vec<String>,
        /// INTERNALDATE, Unix seconds.
        internal_date: u64,
        /// The data after the last full chunk.
        tail: Vec<u8>,
        /// Encoded `message::Summary`.
        summary: Vec<u8>,
    },
    /// Replaces bodies' summaries (`mailnook reparse`): each pair is a body and the encoded
    /// `message::Summary` of its stored bytes. A body that is gone by then is skipped, so no
    /// summary outlives its body.
    SetSummaries(Vec<(BodyId, Vec<u8>)>),
    /// Changes flags of the messages in `uids` (IMAP STORE, RFC 7162 §3.1.3 UNCHANGEDSINCE).
    /// Answers [`Done::Stored`].
    Store {
        /// The mailbox.
        mailbox: MailboxId,
        /// UID ranges (`u32::MAX` stands for `*`); UIDs with no message are skipped.
        uids: Vec<RangeInclusive<u32>>,
        /// How `flags` and `keywords` combine with each message's.
        mode: StoreMode,
        /// System flags ([`flags`]).
        flags: u32,
        /// Keywords ([`check_keyword`]); matched ignoring ASCII case.
        keywords: Vec<String>,
        /// Messages whose modseq is above this are left alone and reported as failed.
        unchanged_since: Option<u64>,
    },
    /// Copies messages into another mailbox of the same user (IMAP COPY, RFC 4315 COPYUID):
    /// flags, keywords and INTERNALDATE are kept; the copies share the originals' bodies.
    /// Answers [`Done::Copied`]; [`Refusal::OverQuota`] if the copies do not fit the owner's
    /// quota (MOVE is never refused for the quota: it adds nothing).
    Copy {
        /// Source mailbox.
        from: MailboxId,
        /// UID ranges in the source.
        uids: Vec<RangeInclusive<u32>>,
        /// Target mailbox.
        to: MailboxId,
    },
    /// Copies and expunges in one commit (RFC 6851). Answers [`Done::Moved`].
    Move {
        /// Source mailbox.
        from: MailboxId,
        /// UID ranges in the source.
        uids: Vec<RangeInclusive<u32>>,
        /// Target mailbox.
        to: MailboxId,
    },
    /// Removes the messages flagged `\Deleted` (IMAP EXPUNGE), only those in `uids` if given
    /// (RFC 4315 UID EXPUNGE). Answers [`Done::Expunged`].
    Expunge {
        /// The mailbox.
        mailbox: MailboxId,
        /// UID ranges, or every message.
        uids: Option<Vec<RangeInclusive<u32>>>,
    },
    /// Removes these messages whatever their flags (POP3's UPDATE state, RFC 1939 §6), as an
    /// expunge other sessions see. Answers [`Done::Expunged`].
    Remove {
        /// The mailbox.
        mailbox: MailboxId,
        /// UID ranges.
        uids: Vec<RangeInclusive<u32>>,
    },
    /// Records an attempt's results on a queued message (the row goes once nothing is
    /// pending) and, in the same commit, delivers a report to the sender if one is given.
    QueueUpdate {
        /// The results.
        update: Box<QueueUpdate>,
        /// A delivery status notification for the sender's INBOX.
        report: Option<Box<Delivery>>,
    },
    /// Drops a queued message.
    QueueDelete(QueueId),
    /// Greylisting (RFC 6647): decides one triplet and records what it decided. Answered from the
    /// writer's open transaction (not durable: losing it in a crash only greylists again), so
    /// every decision sees the ones before it. Answers [`Done::Greylist`].
    Greylist(greylist::GreylistCheck),
    /// Creates, changes or deletes a mailing list (`lists::ListChange`).
    List {
        /// The list address.
        address: String,
        /// What.
        change: lists::ListChange,
    },
    /// Changes a user's Sieve scripts (`sieve::ScriptChange`).
    Script {
        /// Whose.
        user: UserId,
        /// What.
        change: sieve::ScriptChange,
    },
    /// A vacation reply (RFC 5230) for `user` to the sender hashed as `key`: answers
    /// [`Done::Greylist`] `None` to send it (now recorded until `until`), or `Some(seconds)`
    /// when one went within its period. Not durable, like [`Op::Greylist`].
    VacationDue {
        /// Whose vacation.
        user: UserId,
        /// Hash of the handle and the sender's address.
        key: u64,
        /// Unix seconds.
        now: u64,
        /// Unix seconds until which no other reply goes to that sender.
        until: u64,
    },
    /// Trains (or untrains) a user's spam model and the global one.
    SpamTrain(spam::Training),
    /// Makes a queued message (or, with `None`, every one) due at `now`.
    QueueRetry {
        /// The message.
        id: Option<QueueId>,
        /// Unix seconds.
        now: u64,
    },
    /// Replaces the contents of an empty store with a backup ([`backup`]), in a transaction of
    /// its own that commits only if the whole backup is sound. Answers [`Done::Restored`].
    Restore(backup::Restore),
}

impl Op {
    /// Whether an `Ok` answer must mean "on disk".
    pub fn durable(&self) -> bool {
        !matches!(
            self,
            Op::PutChunk { .. } | Op::Discard(_) | Op::Greylist(_) | Op::VacationDue { .. }
        )
    }
}

/// How [`Op::Store`] combines its flags with a message's (RFC 9051 §6.4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// `+FLAGS`
    Add,
    /// `-FLAGS`
    Remove,
    /// `FLAGS`
    Replace,
}

/// A message whose flags an [`Op::Store`] changed, as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagChange {
    /// The message.
    pub uid: Uid,
    /// System flags.
    pub flags: u32,
    /// Keywords.
    pub keywords: Vec<String>,
    /// Its new modseq.
    pub modseq: u64,
}

/// One junk/not-junk judgement by a user, for the spam scorer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrainingEvent {
    /// The message's body (possibly deleted since).
    pub body: BodyId,
    /// Spam (moved or copied into Junk, `$Junk` set) or ham (moved out of Junk, `$NotJunk` set).
    pub spam: bool,
    /// Unix seconds.
    pub time: u64,
}

/// What [`Store::vanished_since`] knows about the UIDs expunged after a modseq.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vanished {
    /// Exactly these, ascending.
    Exact(Vec<Uid>),
    /// The history no longer reaches back that far (it keeps [`schema::VANISHED_KEEP`] UIDs per
    /// mailbox; this is the highest modseq it dropped). Any UID below UIDNEXT with no message may
    /// have vanished since: report every such UID the client asked about, as RFC 7162 allows a
    /// server that does not remember expunges to do.
    Truncated {
        /// Requests from this modseq on are exact.
        floor: u64,
    },
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
    /// The local copies (a user and mailbox named twice is delivered once).
    pub recipients: Vec<LocalCopy>,
    /// Remote recipients: a queue row written in the same commit.
    pub queue: Option<NewQueued>,
    /// File the local copies that name no mailbox in each recipient's `Junk` mailbox (INBOX
    /// when they have none).
    pub junk: bool,
    /// Leave out recipients the message does not fit ([`quota`]); false only for reports to a
    /// sender, which always land.
    pub quota: bool,
}

/// One local copy of a delivered message.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LocalCopy {
    /// Whose.
    pub user: UserId,
    /// The mailbox by exact name; `None`, or a name the user has no mailbox by, means INBOX
    /// (or Junk, for a message judged junk).
    pub mailbox: Option<String>,
    /// Flags set on arrival (within [`flags::ALL`]).
    pub flags: u32,
    /// Keywords set on arrival; ones the store cannot keep ([`check_keyword`], the per-message
    /// and per-mailbox limits) are left off rather than refusing the delivery.
    pub keywords: Vec<String>,
}

impl LocalCopy {
    /// A plain copy for `user`'s INBOX.
    pub fn inbox(user: UserId) -> LocalCopy {
        LocalCopy {
            user,
            mailbox: None,
            flags: 0,
            keywords: Vec::new(),
        }
    }
}

/// What a successful operation returns.
#[derive(Debug, PartialEq, Eq)]
pub enum Done {
    /// Nothing to report.
    Unit,
    /// The new user's id.
    User(UserId),
    /// Where each copy went, in (user, mailbox) order (duplicates removed).
    Delivered {
        /// The shared body.
        body: BodyId,
        /// (user, mailbox, uid) per recipient.
        copies: Vec<(UserId, MailboxId, Uid)>,
        /// The queue row for the remote recipients, if any.
        queued: Option<QueueId>,
        /// Recipients left out because the message did not fit their quota, with their
        /// addresses.
        over_quota: Vec<(UserId, String)>,
    },
    /// Greylisting: `None` to go on, `Some(seconds)` to defer for that long.
    Greylist(Option<u64>),
    /// The mailbox created, or now under the new name.
    Mailbox {
        /// Its id.
        id: MailboxId,
        /// Its UIDVALIDITY.
        uidvalidity: u32,
    },
    /// An appended message (RFC 4315 APPENDUID).
    Appended {
        /// Its body.
        body: BodyId,
        /// The mailbox's UIDVALIDITY.
        uidvalidity: u32,
        /// Its UID.
        uid: Uid,
    },
    /// What a STORE changed.
    Stored {
        /// The mailbox's HIGHESTMODSEQ afterwards.
        modseq: u64,
        /// Messages changed, in UID order.
        changed: Vec<FlagChange>,
        /// Messages left alone because their modseq was above UNCHANGEDSINCE (RFC 7162
        /// §3.1.3 MODIFIED).
        failed: Vec<Uid>,
    },
    /// Copies made, in source UID order (RFC 4315 COPYUID).
    Copied {
        /// The target's UIDVALIDITY.
        uidvalidity: u32,
        /// (source UID, new UID) pairs.
        uids: Vec<(Uid, Uid)>,
    },
    /// Messages moved, in source UID order.
    Moved {
        /// The target's UIDVALIDITY.
        uidvalidity: u32,
        /// (source UID, new UID) pairs; the source UIDs are expunged.
        uids: Vec<(Uid, Uid)>,
        /// The source's HIGHESTMODSEQ afterwards (the modseq of the expunge).
        modseq: u64,
    },
    /// Messages expunged.
    Expunged {
        /// The mailbox's HIGHESTMODSEQ afterwards.
        modseq: u64,
        /// Their UIDs, ascending.
        uids: Vec<Uid>,
    },
    /// What a restore read.
    Restored(backup::Summary),
}

/// What the writer thread is asked to do.
enum Work {
    /// A caller's operation.
    Op(Op),
    /// A reader let go of a parked body: collect what [`body::PinTable`] lists.
    Collect,
}

impl Work {
    fn durable(&self) -> bool {
        match self {
            Work::Op(op) => op.durable(),
            Work::Collect => false,
        }
    }
}

struct Request {
    work: Work,
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
    /// Bodies pinned by readers, and deletions parked for them.
    pins: Arc<body::PinTable>,
    /// Generations of mailboxes and users, and their waiters.
    notify: Arc<notify::Notify>,
    /// Free space, and whether the last write failed for lack of it.
    space: space::Space,
}

/// Marks one message being received whose delivery should join the next durable commit: while
/// any are alive, a durable commit may wait up to the commit window for them (see
/// [`Store::set_commit_window`]). Held from the message's first byte to its commit or
/// abandonment, or until it proves too large to wait for.
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
    /// The board's RAM as read when the process started ([`Store::on_board`]); the settings'
    /// memory-bound defaults follow it.
    ram: crate::config::board::Detected,
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
        let pins = Arc::new(body::PinTable::default());
        let notify = Arc::new(notify::Notify::default());
        let state = writer::prepare(&db, &pins)?;
        let db = Arc::new(db);
        let (tx, rx) = async_channel::bounded(REQUEST_QUEUE);
        let shared = Arc::new(Shared {
            db: RwLock::new(Some(db.clone())),
            tx,
            next_upload: AtomicU64::new(1),
            thread: Mutex::new(None),
            in_flight: AtomicUsize::new(0),
            commit_window_us: AtomicU64::new(0),
            pins,
            notify: notify.clone(),
            space: space::Space::new(reopen.as_deref().and_then(Path::parent).map(|d| {
                if d.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    d.to_path_buf()
                }
            })),
        });
        let weak = Arc::downgrade(&shared);
        let handle = std::thread::Builder::new()
            .name("store".into())
            .spawn(move || writer::run(db, state, rx, weak, notify, reopen, cache_bytes))?;
        *shared.thread.lock().expect("not poisoned") = Some(handle);
        Ok(Store {
            shared,
            ram: crate::config::board::Detected::Unknown,
        })
    }

    /// This handle (and its clones) with the board's RAM as [`crate::config::board::detect`]
    /// found it; without it [`Store::config`] sizes the defaults for unknown RAM.
    pub fn on_board(self, ram: crate::config::board::Detected) -> Store {
        Store { ram, ..self }
    }

    /// The board's RAM this handle sizes the defaults for.
    pub fn ram(&self) -> crate::config::board::Detected {
        self.ram
    }

    /// Runs `op` on the writer thread and waits (async) for its committed result.
    pub async fn call(&self, op: Op) -> Result<Done> {
        let (reply, answer) = async_channel::bounded(1);
        self.shared
            .tx
            .send(Request {
                work: Work::Op(op),
                reply,
            })
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
            .send_blocking(Request {
                work: Work::Op(op),
                reply,
            })
            .map_err(|_| Error::Unavailable)?;
        answer.recv_blocking().map_err(|_| Error::Unavailable)?
    }

    /// Unit tests: adds `email`'s domain and `email` as a user (with a dummy password hash).
    #[cfg(test)]
    pub(crate) fn add_test_user(&self, email: &str) -> UserId {
        let domain = email.rsplit_once('@').expect("an address").1;
        self.call_blocking(Op::AddDomain(domain.into())).unwrap();
        match self.call_blocking(Op::AddUser {
            email: email.into(),
            password_hash: "$argon2id$test".into(),
        }) {
            Ok(Done::User(id)) => id,
            other => panic!("adding {email}: {other:?}"),
        }
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

    /// The generation of a mailbox: it changes after every commit that touched the mailbox
    /// (messages added, changed or expunged; renamed; deleted). 0 until the first such commit
    /// since the process started.
    pub fn mailbox_generation(&self, id: MailboxId) -> u64 {
        self.shared.notify.mailbox(id.0)
    }

    /// Resolves once the mailbox's generation differs from `seen` (at once if it already does).
    /// Holds no transaction or lock while waiting; usable from any thread or executor.
    pub fn changed(
        &self,
        id: MailboxId,
        seen: u64,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        notify::Notify::wait_mailbox(self.shared.notify.clone(), id.0, seen)
    }

    /// The queue's generation: it changes after every commit that added, changed or removed a
    /// queue row.
    pub fn queue_generation(&self) -> u64 {
        self.shared.notify.queue()
    }

    /// Resolves once the queue's generation differs from `seen`.
    pub fn queue_changed(
        &self,
        seen: u64,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        notify::Notify::wait_queue(self.shared.notify.clone(), seen)
    }

    /// The generation of the junk training events: it changes after every commit that recorded
    /// some.
    pub fn training_generation(&self) -> u64 {
        self.shared.notify.training()
    }

    /// Resolves once the training generation differs from `seen`.
    pub fn training_changed(
        &self,
        seen: u64,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        notify::Notify::wait_training(self.shared.notify.clone(), seen)
    }

    /// The generation of a user's mailbox list: it changes after every commit that created,
    /// deleted or renamed one of their mailboxes or changed their subscriptions.
    pub fn user_generation(&self, user: UserId) -> u64 {
        self.shared.notify.user(user.0)
    }

    /// Resolves once the user's generation differs from `seen`.
    pub fn user_changed(
        &self,
        user: UserId,
        seen: u64,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        notify::Notify::wait_user(self.shared.notify.clone(), user.0, seen)
    }

    /// Whether new mail of `size` bytes (if announced) should be refused at once for lack of
    /// storage: the store's filesystem has less than `reserve` bytes free (or not `size` above
    /// it), or a write failed with [`Error::Full`] and no commit succeeded nor space appeared
    /// since ([`space`]). A `statvfs` call, which can wait on the filesystem: blocking.
    pub fn known_full(&self, reserve: u64, size: Option<u64>) -> bool {
        self.shared.space.known_full(reserve, size)
    }

    /// Whether a write failed for lack of storage and neither a successful commit nor more free
    /// space has shown room since: work whose outcome must be recorded waits ([`space`]). A
    /// `statvfs` call: blocking.
    pub fn writes_failing(&self) -> bool {
        self.shared.space.writes_failing()
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

    /// Writes a backup of the whole store, as one read transaction sees it, followed by
    /// `files` ([`backup`]). Blocking: never call it on the executor thread.
    pub fn backup(
        &self,
        files: &[backup::DataFile],
        out: &mut dyn std::io::Write,
    ) -> Result<backup::Summary> {
        let txn = redb::ReadableDatabase::begin_read(&*self.db()?)?;
        backup::dump(&txn, files, out)
    }

    /// Restores a backup into this store, which must be empty ([`Op::Restore`]). Blocking.
    pub fn restore_blocking(&self, restore: backup::Restore) -> Result<backup::Summary> {
        match self.call_blocking(Op::Restore(restore))? {
            Done::Restored(s) => Ok(s),
            _ => Err(Error::Corrupt("restore answered with something else")),
        }
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

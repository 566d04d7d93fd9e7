//! Table definitions and row types: the on-disk format of `DATA/mail.redb`.
//!
//! Invariants kept by every write (checked by [`super::Store::check`]):
//! - a mailbox row's `messages`, `unseen` and `bytes` equal the count, the count without
//!   `\Seen` and the summed size of its message rows; its `uidnext` is greater than every UID
//!   in it and every UID in its `VANISHED` history; every message's `modseq` (and every
//!   `VANISHED` entry's) is at least 1 and at most the mailbox's `highest_modseq`, which only
//!   grows;
//! - a message's keywords are at most [`MAX_KEYWORDS_PER_MESSAGE`], distinct ignoring ASCII case,
//!   and each is spelled as in its mailbox's `keywords` list (at most
//!   [`MAX_KEYWORDS_PER_MAILBOX`]); its flags are within [`flags::ALL`];
//! - a body row's `refs` equals the number of message rows and `QUEUE` rows naming it; every
//!   `QUEUE` row has exactly one `QUEUE_DUE` entry (its next attempt and id) and no other exists; a body with `refs` 0
//!   exists only while a reader pins it, and is then listed in `PARKED` (and only then);
//! - every body has exactly one `SUMMARIES` row and every `SUMMARIES` row a body (that the row
//!   is what a parse of the body gives is checked above the store, in `cli::summaries`);
//! - a body's data is its chunks `(body, 0..chunks)` in order, then its inline bytes, and `size`
//!   is the prefix plus that data; every chunk row holds exactly [`CHUNK_BYTES`]; chunk rows
//!   exist only for bodies and for uploads listed in `UPLOADS` (startup removes the latter);
//! - `USER_BY_EMAIL` and `MAILBOX_BY_NAME` are exact inverses of the rows they index; mailbox
//!   names pass [`super::check_mailbox_name`]; a user has at most [`MAX_MAILBOXES_PER_USER`];
//! - every mailbox's user and every message row's mailbox exist; `VANISHED` entries belong to
//!   existing mailboxes (a mailbox row's `vanished` counts them, at most [`VANISHED_KEEP`], all
//!   newer than its `vanished_floor`); `SUBSCRIPTIONS` (at most [`MAX_SUBSCRIPTIONS_PER_USER`])
//!   and `TRAINING` (at most [`TRAINING_KEEP`]) rows belong to existing users;
//! - `ALIASES` rows keep the invariants stated in `super::aliases`, `LISTS` those in
//!   `super::lists`, the Sieve tables those in `super::sieve`;
//! - `STATE` keys and values are within [`MAX_STATE_KEY_BYTES`] and [`MAX_STATE_VALUE_BYTES`].
//! - a user row's quota is 0 (unlimited) or at most `config::MAX_QUOTA_BYTES`. Usage is not
//!   stored (it is the sum of the user's mailbox rows' `bytes`, `super::quota`), so usage may
//!   exceed the quota (a quota lowered below it) but never drifts from the rows.
//!
//! Bump [`SCHEMA_VERSION`] for any incompatible change; a store with a newer version is refused,
//! an older one is migrated when it is opened (`writer::prepare`).

use crate::codec::{Dec, Enc};
use redb::TableDefinition;

/// The schema this binary reads and writes. Version 1 kept the summary inside the body row and a
/// `subscribed` flag in the mailbox row; opening such a store migrates it. Version 3 added
/// [`QUEUE`], version 4 [`STATE`], version 5 [`ALIASES`] and the Sieve tables: opening an older
/// store creates them.
pub const SCHEMA_VERSION: u64 = 5;

/// Counters and format facts: `schema_version`, `next_user`, `next_mailbox`, `next_uidvalidity`.
pub const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");
/// Settings as text, validated by `config::validate` before they are written.
pub const SETTINGS: TableDefinition<'_, &str, &str> = TableDefinition::new("settings");
/// Local mail domains (lower-case) → time added.
pub const DOMAINS: TableDefinition<'_, &str, u64> = TableDefinition::new("domains");
/// User id → [`UserRow`].
pub const USERS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("users");
/// Lower-case address → user id.
pub const USER_BY_EMAIL: TableDefinition<'_, &str, u64> = TableDefinition::new("user_by_email");
/// Mailbox id → [`MailboxRow`].
pub const MAILBOXES: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("mailboxes");
/// (user id, mailbox name) → mailbox id.
pub const MAILBOX_BY_NAME: TableDefinition<'_, (u64, &str), u64> =
    TableDefinition::new("mailbox_by_name");
/// (mailbox id, UID) → [`MessageRow`].
pub const MESSAGES: TableDefinition<'_, (u64, u32), &[u8]> = TableDefinition::new("messages");
/// Body id → [`BodyRow`]. One body is shared by every message row holding the same delivery.
pub const BODIES: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("bodies");
/// (body id, sequence number) → one chunk of that body's data, written once.
///
/// Keyed by body, not by content hash: hashed keys land at random places in the B-tree, where
/// redb rewrites neighbouring pages and every chunk needs its own reference-count row; measured,
/// that doubled the bytes written per delivered message. Ascending keys append at the tree's
/// right edge. A delivery to several users is still stored once (its body is shared).
pub const CHUNKS: TableDefinition<'_, (u64, u32), &[u8]> = TableDefinition::new("chunks");
/// Body id → chunks written so far, for uploads whose delivery has not committed. The row goes
/// with the delivery (or discard); rows found at open belong to uploads a crash interrupted, and
/// their chunks are deleted.
pub const UPLOADS: TableDefinition<'_, u64, u32> = TableDefinition::new("uploads");
/// Body id → encoded `message::Summary`, written in the same commit as the body. Kept apart from
/// [`BODIES`] so that a summary lookup (IMAP ENVELOPE, BODYSTRUCTURE, SEARCH on headers) never
/// reads a body's inline data; body ids ascend, so new rows append at the tree's right edge.
pub const SUMMARIES: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("summaries");
/// Bodies whose last message row went while a reader pinned them (`Store::open_body`): their
/// row (with `refs` 0), summary and chunks stay until the last reader lets go, then the writer
/// deletes them. Rows found at open belong to deletions a crash or restart interrupted and are
/// carried out then.
pub const PARKED: TableDefinition<'_, u64, ()> = TableDefinition::new("parked");
/// (mailbox id, modseq, UID) of expunged messages, for QRESYNC's `VANISHED (EARLIER)` (RFC 7162
/// §3.2: an expunge increments the mailbox's mod-sequence and associates it with the UIDs it
/// removed). At most [`VANISHED_KEEP`] per mailbox: the oldest are dropped first and the
/// mailbox row's `vanished_floor` records the highest modseq dropped, below which the history
/// is incomplete.
pub const VANISHED: TableDefinition<'_, (u64, u64, u32), ()> = TableDefinition::new("vanished");
/// (user id, mailbox name) of subscribed names (RFC 9051 §6.3.7: a name may be subscribed
/// whether or not a mailbox has it).
pub const SUBSCRIPTIONS: TableDefinition<'_, (u64, &str), ()> =
    TableDefinition::new("subscriptions");
/// (user id, sequence) → (body id, spam, Unix seconds): the user's junk/not-junk judgements for
/// the spam scorer, newest last, at most [`TRAINING_KEEP`] per user (the oldest go first). The
/// body may be gone by the time the row is read (it holds no reference).
pub const TRAINING: TableDefinition<'_, (u64, u64), (u64, bool, u64)> =
    TableDefinition::new("training");
/// Queue id → encoded `queue::QueuedMessage`: the outbound queue (schema v3). Each row holds
/// one reference on its body.
pub const QUEUE: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("queue");
/// Spam token counts: (user id, 0 for the global model; token hash) → (ham messages, spam
/// messages, day last trained). No plaintext words.
pub const SPAM_TOKENS: TableDefinition<'_, (u64, u64), (u32, u32, u32)> =
    TableDefinition::new("spam_tokens");
/// Spam model totals: user id (0: global) → (ham messages, spam messages, tokens held).
pub const SPAM_TOTALS: TableDefinition<'_, u64, (u64, u64, u64)> =
    TableDefinition::new("spam_totals");
/// Spam training: (user id, body id) → the class the body was last learned as (true: spam), so
/// a reversed judgement untrains the old class first; and (user id, 0) → the last training event
/// sequence number learned (body ids start at 1).
pub const SPAM_LEARNED: TableDefinition<'_, (u64, u64), u64> = TableDefinition::new("spam_learned");
/// Greylisting: triplet key (`greylist::triplet_key`) → Unix seconds first seen.
pub const GREYLIST: TableDefinition<'_, &str, u64> = TableDefinition::new("greylist");
/// Greylisting: client network → Unix seconds until which it is let through.
pub const GREYLIST_PASSED: TableDefinition<'_, &str, u64> = TableDefinition::new("greylist_passed");
/// Small named values a service keeps between runs (schema v4), e.g. `acme.account` (the ACME
/// account key and URL, `crate::acme`). Keys are at most [`MAX_STATE_KEY_BYTES`], values at
/// most [`MAX_STATE_VALUE_BYTES`]; each owner encodes its own value.
pub const STATE: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("state");
/// Lower-case alias address → encoded `aliases::Alias` (schema v5): the users it delivers to.
pub const ALIASES: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("aliases");
/// Lower-case list address → encoded `lists::List` (schema v5): members, moderators, policies.
pub const LISTS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("lists");
/// (user id, script name) → the Sieve script's text (schema v5; `super::sieve`).
pub const SIEVE_SCRIPTS: TableDefinition<'_, (u64, &str), &[u8]> =
    TableDefinition::new("sieve_scripts");
/// User id → the name of their active Sieve script (schema v5).
pub const SIEVE_ACTIVE: TableDefinition<'_, u64, &str> = TableDefinition::new("sieve_active");
/// (user id, hash of the vacation handle and sender) → Unix seconds until which no other
/// vacation reply goes to that sender (schema v5; RFC 5230 §4.2).
pub const VACATION_SENT: TableDefinition<'_, (u64, u64), u64> =
    TableDefinition::new("vacation_sent");
/// Longest [`STATE`] key, in bytes.
pub const MAX_STATE_KEY_BYTES: usize = 128;
/// Largest [`STATE`] value, in bytes.
pub const MAX_STATE_VALUE_BYTES: usize = 64 * 1024;
/// (next attempt, queue id) → (): the queue in due order, one entry per `QUEUE` row, so the
/// scheduler finds the next due messages without reading the others.
pub const QUEUE_DUE: TableDefinition<'_, (u64, u64), ()> = TableDefinition::new("queue_due");

/// Size of every stored chunk: a leaf holding one chunk plus its key and header stays within one
/// 64 KiB page, so a large message costs close to its own size on disk. All chunks are full, so
/// a byte offset maps to its chunk by division (`BodyReader::read_at`).
pub const CHUNK_BYTES: usize = 64 * 1024 - 256;

/// Longest mailbox name, in bytes (the whole `/`-separated name).
pub const MAX_MAILBOX_NAME_BYTES: usize = 255;
/// Most mailboxes one user may have.
pub const MAX_MAILBOXES_PER_USER: usize = 1000;
/// Most subscribed names one user may have.
pub const MAX_SUBSCRIPTIONS_PER_USER: usize = 1000;
/// Longest keyword, in bytes.
pub const MAX_KEYWORD_BYTES: usize = 64;
/// Most keywords on one message.
pub const MAX_KEYWORDS_PER_MESSAGE: usize = 32;
/// Most distinct keywords used in one mailbox (its PERMANENTFLAGS); a mailbox's list only grows.
pub const MAX_KEYWORDS_PER_MAILBOX: usize = 128;
/// Expunged UIDs remembered per mailbox for `VANISHED (EARLIER)`.
pub const VANISHED_KEEP: u32 = 1000;
/// Junk training events kept per user.
pub const TRAINING_KEEP: u64 = 1000;

/// IMAP special-use attribute of a mailbox (RFC 6154).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SpecialUse {
    /// No special use.
    None = 0,
    /// `\Sent`
    Sent = 1,
    /// `\Drafts`
    Drafts = 2,
    /// `\Junk`
    Junk = 3,
    /// `\Trash`
    Trash = 4,
    /// `\Archive`
    Archive = 5,
}

impl SpecialUse {
    fn from_u8(v: u8) -> Option<SpecialUse> {
        Some(match v {
            0 => SpecialUse::None,
            1 => SpecialUse::Sent,
            2 => SpecialUse::Drafts,
            3 => SpecialUse::Junk,
            4 => SpecialUse::Trash,
            5 => SpecialUse::Archive,
            _ => return None,
        })
    }
    /// The RFC 6154 attribute text, if any.
    pub fn attribute(self) -> Option<&'static str> {
        match self {
            SpecialUse::None => None,
            SpecialUse::Sent => Some("\\Sent"),
            SpecialUse::Drafts => Some("\\Drafts"),
            SpecialUse::Junk => Some("\\Junk"),
            SpecialUse::Trash => Some("\\Trash"),
            SpecialUse::Archive => Some("\\Archive"),
        }
    }
}

/// The mailboxes every new user gets.
pub const DEFAULT_MAILBOXES: &[(&str, SpecialUse)] = &[
    ("INBOX", SpecialUse::None),
    ("Sent", SpecialUse::Sent),
    ("Drafts", SpecialUse::Drafts),
    ("Junk", SpecialUse::Junk),
    ("Trash", SpecialUse::Trash),
    ("Archive", SpecialUse::Archive),
];

const ROW_V1: u8 = 1;
const ROW_V2: u8 = 2;

/// A user account.
///
/// Encoding: `ROW_V1`, email, password hash, created, then — only when the user has a quota —
/// the quota as one trailing u64. A row without the trailing field (every row written before
/// quotas existed, and every row of a user without a quota) decodes as "no quota"; binaries
/// that predate the field read the first three fields and ignore the rest, so the change needs
/// no schema version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// Login and primary address, lower-case.
    pub email: String,
    /// PHC string of the argon2id hash.
    pub password_hash: String,
    /// Unix seconds.
    pub created: u64,
    /// Storage quota in bytes: the most the sizes of the user's messages, summed over their
    /// mailboxes, may reach through new mail (0: unlimited). See `store::quota`.
    pub quota: u64,
}

impl UserRow {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.u8(ROW_V1)
            .str(&self.email)
            .str(&self.password_hash)
            .u64(self.created);
        if self.quota != 0 {
            e.u64(self.quota);
        }
        e.done()
    }
    pub(crate) fn decode(b: &[u8]) -> Option<UserRow> {
        let mut d = Dec(b);
        (d.u8()? == ROW_V1).then_some(())?;
        let mut row = UserRow {
            email: d.string()?,
            password_hash: d.string()?,
            created: d.u64()?,
            quota: 0,
        };
        if !d.0.is_empty() {
            row.quota = d.u64()?;
        }
        d.0.is_empty().then_some(row)
    }
}

/// A mailbox and its IMAP counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxRow {
    /// Owner.
    pub user: u64,
    /// Name (IMAP mailbox name, `/` separated).
    pub name: String,
    /// RFC 9051 §2.3.1.1 UIDVALIDITY.
    pub uidvalidity: u32,
    /// Next UID to assign.
    pub uidnext: u32,
    /// RFC 7162 HIGHESTMODSEQ.
    pub highest_modseq: u64,
    /// Special use.
    pub special_use: SpecialUse,
    /// Number of message rows.
    pub messages: u32,
    /// Messages without `\Seen`.
    pub unseen: u32,
    /// Sum of message sizes.
    pub bytes: u64,
    /// `VANISHED` entries kept for this mailbox.
    pub vanished: u32,
    /// Highest modseq of the `VANISHED` entries dropped to keep the bound (0: none dropped):
    /// the expunges after any modseq at or above it are all known.
    pub vanished_floor: u64,
    /// Keywords used in this mailbox, in the spelling first seen (PERMANENTFLAGS).
    pub keywords: Vec<String>,
}

impl MailboxRow {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.u8(ROW_V2)
            .u64(self.user)
            .str(&self.name)
            .u32(self.uidvalidity)
            .u32(self.uidnext)
            .u64(self.highest_modseq)
            .u8(self.special_use as u8)
            .u32(self.messages)
            .u32(self.unseen)
            .u64(self.bytes)
            .u32(self.vanished)
            .u64(self.vanished_floor)
            .u32(self.keywords.len() as u32);
        for k in &self.keywords {
            e.str(k);
        }
        e.done()
    }
    pub(crate) fn decode(b: &[u8]) -> Option<MailboxRow> {
        let mut d = Dec(b);
        (d.u8()? == ROW_V2).then_some(())?;
        let mut row = MailboxRow {
            user: d.u64()?,
            name: d.string()?,
            uidvalidity: d.u32()?,
            uidnext: d.u32()?,
            highest_modseq: d.u64()?,
            special_use: SpecialUse::from_u8(d.u8()?)?,
            messages: d.u32()?,
            unseen: d.u32()?,
            bytes: d.u64()?,
            vanished: d.u32()?,
            vanished_floor: d.u64()?,
            keywords: Vec::new(),
        };
        let n = d.u32()? as usize;
        row.keywords.reserve(n.min(MAX_KEYWORDS_PER_MAILBOX));
        for _ in 0..n {
            row.keywords.push(d.string()?);
        }
        d.rest().is_empty().then_some(row)
    }
    /// A schema-1 row and its `subscribed` flag (for the migration).
    pub(crate) fn decode_v1(b: &[u8]) -> Option<(MailboxRow, bool)> {
        let mut d = Dec(b);
        (d.u8()? == ROW_V1).then_some(())?;
        let (user, name, uidvalidity, uidnext, highest_modseq) =
            (d.u64()?, d.string()?, d.u32()?, d.u32()?, d.u64()?);
        let special_use = SpecialUse::from_u8(d.u8()?)?;
        let subscribed = d.u8()? != 0;
        let row = MailboxRow {
            user,
            name,
            uidvalidity,
            uidnext,
            highest_modseq,
            special_use,
            messages: d.u32()?,
            unseen: d.u32()?,
            bytes: d.u64()?,
            vanished: 0,
            vanished_floor: 0,
            keywords: Vec::new(),
        };
        Some((row, subscribed))
    }
}

/// System flags as bits (RFC 9051 §2.3.2).
pub mod flags {
    /// `\Seen`
    pub const SEEN: u32 = 1;
    /// `\Answered`
    pub const ANSWERED: u32 = 2;
    /// `\Flagged`
    pub const FLAGGED: u32 = 4;
    /// `\Deleted`
    pub const DELETED: u32 = 8;
    /// `\Draft`
    pub const DRAFT: u32 = 16;
    /// Every system flag the store keeps (`\Recent` is not stored: RFC 9051 dropped it).
    pub const ALL: u32 = SEEN | ANSWERED | FLAGGED | DELETED | DRAFT;
    /// Each system flag and its IMAP name.
    pub const NAMES: [(u32, &str); 5] = [
        (SEEN, "\\Seen"),
        (ANSWERED, "\\Answered"),
        (FLAGGED, "\\Flagged"),
        (DELETED, "\\Deleted"),
        (DRAFT, "\\Draft"),
    ];

    /// Flag names (any case) as system flag bits and the rest as keywords.
    pub fn from_names(names: &[String]) -> (u32, Vec<String>) {
        let mut bits = 0;
        let mut keywords = Vec::new();
        for n in names {
            match NAMES.iter().find(|(_, name)| name.eq_ignore_ascii_case(n)) {
                Some((bit, _)) => bits |= bit,
                None if n.starts_with('\\') => {} // \Recent and unknown system flags
                None => keywords.push(n.clone()),
            }
        }
        (bits, keywords)
    }
}

/// One message in one mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    /// The body this message shows.
    pub body: u64,
    /// INTERNALDATE, Unix seconds.
    pub internal_date: u64,
    /// RFC822.SIZE in octets.
    pub size: u64,
    /// System flags ([`flags`]).
    pub flags: u32,
    /// Keywords (user-defined flags).
    pub keywords: Vec<String>,
    /// RFC 7162 MODSEQ of the last change.
    pub modseq: u64,
}

impl MessageRow {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.u8(ROW_V1)
            .u64(self.body)
            .u64(self.internal_date)
            .u64(self.size)
            .u32(self.flags)
            .u64(self.modseq);
        e.u32(self.keywords.len() as u32);
        for k in &self.keywords {
            e.str(k);
        }
        e.done()
    }
    pub(crate) fn decode(b: &[u8]) -> Option<MessageRow> {
        let mut d = Dec(b);
        (d.u8()? == ROW_V1).then_some(())?;
        let (body, internal_date, size, flags, modseq) =
            (d.u64()?, d.u64()?, d.u64()?, d.u32()?, d.u64()?);
        let n = d.u32()? as usize;
        let mut keywords = Vec::with_capacity(n.min(64));
        for _ in 0..n {
            keywords.push(d.string()?);
        }
        Some(MessageRow {
            body,
            internal_date,
            size,
            flags,
            keywords,
            modseq,
        })
    }
}

/// The bytes of one delivery, shared by all its message rows. Everything but `refs` is written
/// once. Its parsed summary is in [`SUMMARIES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyRow {
    /// Message rows naming this body (0 only while parked, see [`PARKED`]).
    pub refs: u32,
    /// Total size: prefix plus data.
    pub size: u64,
    /// Trace headers added on arrival (e.g. `Received:`), stored before the data.
    pub prefix: Vec<u8>,
    /// Number of chunk rows `(body, 0..chunks)` holding the start of the data.
    pub chunks: u32,
    /// The rest of the data after the chunks (all of it for a message that fits one chunk):
    /// kept in the row, so a small message costs one page instead of three tables.
    pub inline: Vec<u8>,
}

/// A body row read in place: the fields without copying the prefix or the inline data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyView<'a> {
    pub refs: u32,
    pub size: u64,
    pub prefix: &'a [u8],
    pub chunks: u32,
    pub inline: &'a [u8],
}

impl<'a> BodyView<'a> {
    pub(crate) fn parse(b: &'a [u8]) -> Option<BodyView<'a>> {
        let mut d = Dec(b);
        (d.u8()? == ROW_V2).then_some(())?;
        let (refs, size) = (d.u32()?, d.u64()?);
        let prefix = d.bytes()?;
        let chunks = d.u32()?;
        let inline = d.bytes()?;
        d.rest().is_empty().then_some(BodyView {
            refs,
            size,
            prefix,
            chunks,
            inline,
        })
    }
}

impl BodyRow {
    pub(crate) fn encode(&self) -> Vec<u8> {
        Enc::default()
            .u8(ROW_V2)
            .u32(self.refs)
            .u64(self.size)
            .bytes(&self.prefix)
            .u32(self.chunks)
            .bytes(&self.inline)
            .done()
    }
    pub(crate) fn decode(b: &[u8]) -> Option<BodyRow> {
        let v = BodyView::parse(b)?;
        Some(BodyRow {
            refs: v.refs,
            size: v.size,
            prefix: v.prefix.to_vec(),
            chunks: v.chunks,
            inline: v.inline.to_vec(),
        })
    }
    /// Rewrites a body row with `refs` changed, copying the rest as stored.
    pub(crate) fn with_refs(b: &[u8], refs: u32) -> Option<Vec<u8>> {
        (b.len() >= 5 && b[0] == ROW_V2).then_some(())?;
        let mut out = b.to_vec();
        out[1..5].copy_from_slice(&refs.to_le_bytes());
        Some(out)
    }
    /// A schema-1 row and its summary (for the migration).
    pub(crate) fn decode_v1(b: &[u8]) -> Option<(BodyRow, Vec<u8>)> {
        let mut d = Dec(b);
        (d.u8()? == ROW_V1).then_some(())?;
        let (refs, size) = (d.u32()?, d.u64()?);
        let prefix = d.bytes()?.to_vec();
        let summary = d.bytes()?.to_vec();
        let chunks = d.u32()?;
        let inline = d.bytes()?.to_vec();
        d.rest().is_empty().then_some(())?;
        let row = BodyRow {
            refs,
            size,
            prefix,
            chunks,
            inline,
        };
        Some((row, summary))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip() {
        let u = UserRow {
            email: "a@b.test".into(),
            password_hash: "$argon2id$x".into(),
            created: 5,
            quota: 0,
        };
        assert_eq!(UserRow::decode(&u.encode()), Some(u.clone()));
        // A row as written before quotas existed: no trailing field, no quota; and a user
        // without a quota is still written exactly that way.
        let old = Enc::default()
            .u8(1)
            .str("a@b.test")
            .str("$argon2id$x")
            .u64(5)
            .done();
        assert_eq!(UserRow::decode(&old), Some(u.clone()));
        assert_eq!(u.encode(), old);
        let q = UserRow {
            quota: 500 << 20,
            ..u.clone()
        };
        let with = q.encode();
        assert_eq!(with.len(), old.len() + 8);
        assert_eq!(&with[..old.len()], &old[..], "the quota only trails");
        assert_eq!(UserRow::decode(&with), Some(q));
        assert_eq!(UserRow::decode(&with[..with.len() - 1]), None);
        let mut long = with.clone();
        long.push(0);
        assert_eq!(UserRow::decode(&long), None);
        let m = MailboxRow {
            user: 1,
            name: "INBOX".into(),
            uidvalidity: 9,
            uidnext: 3,
            highest_modseq: 4,
            special_use: SpecialUse::Junk,
            messages: 2,
            unseen: 1,
            bytes: 100,
            vanished: 3,
            vanished_floor: 2,
            keywords: vec!["$Junk".into(), "work".into()],
        };
        assert_eq!(MailboxRow::decode(&m.encode()), Some(m.clone()));
        let v1 = Enc::default()
            .u8(1)
            .u64(1)
            .str("INBOX")
            .u32(9)
            .u32(3)
            .u64(4)
            .u8(3)
            .u8(1)
            .u32(2)
            .u32(1)
            .u64(100)
            .done();
        let (old, subscribed) = MailboxRow::decode_v1(&v1).unwrap();
        assert!(subscribed);
        assert_eq!(
            (old.name.as_str(), old.messages, old.bytes),
            ("INBOX", 2, 100)
        );
        assert_eq!(
            MailboxRow::decode(&v1),
            None,
            "a v1 row is not read as current"
        );
        let r = MessageRow {
            body: 1,
            internal_date: 2,
            size: 3,
            flags: flags::SEEN,
            keywords: vec!["$Junk".into()],
            modseq: 7,
        };
        assert_eq!(MessageRow::decode(&r.encode()), Some(r));
        for (chunks, inline) in [(0, b"hi".to_vec()), (3, Vec::new()), (2, b"tail".to_vec())] {
            let b = BodyRow {
                refs: 2,
                size: 10,
                prefix: b"Received: x\r\n".to_vec(),
                chunks,
                inline,
            };
            assert_eq!(BodyRow::decode(&b.encode()), Some(b.clone()));
            let three = BodyRow::with_refs(&b.encode(), 3).unwrap();
            assert_eq!(BodyRow::decode(&three).map(|r| r.refs), Some(3));
        }
        assert_eq!(BodyRow::decode(&[1, 0]), None);
        let v1 = Enc::default()
            .u8(1)
            .u32(2)
            .u64(4)
            .bytes(b"P")
            .bytes(b"sum")
            .u32(0)
            .bytes(b"abc")
            .done();
        let (b, summary) = BodyRow::decode_v1(&v1).unwrap();
        assert_eq!(
            (b.refs, &b.prefix[..], &b.inline[..]),
            (2, &b"P"[..], &b"abc"[..])
        );
        assert_eq!(summary, b"sum");
    }
}

//! Table definitions and row types: the on-disk format of `DATA/mail.redb`.
//!
//! Invariants kept by every write (checked by [`super::Store::check`]):
//! - a mailbox row's `messages` and `bytes` equal the count and summed size of its message rows,
//!   and its `uidnext` is greater than every UID in it;
//! - a body row's `refs` equals the number of message rows naming it;
//! - a body's data is its chunks `(body, 0..chunks)` in order, then its inline bytes, and `size`
//!   is the prefix plus that data; chunk rows exist only for bodies and for uploads listed in
//!   `UPLOADS` (startup removes the latter);
//! - `USER_BY_EMAIL` and `MAILBOX_BY_NAME` are exact inverses of the rows they index;
//! - every mailbox's user and every message row's mailbox exist.
//!
//! Bump [`SCHEMA_VERSION`] for any incompatible change; a store with a newer version is refused.

use crate::codec::{Dec, Enc};
use redb::TableDefinition;

/// The schema this binary reads and writes.
pub const SCHEMA_VERSION: u64 = 1;

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

/// Size of a stored chunk: a leaf holding one chunk plus its key and header stays within one
/// 64 KiB page, so a large message costs close to its own size on disk.
pub const CHUNK_BYTES: usize = 64 * 1024 - 256;

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

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// Login and primary address, lower-case.
    pub email: String,
    /// PHC string of the argon2id hash.
    pub password_hash: String,
    /// Unix seconds.
    pub created: u64,
}

impl UserRow {
    pub(crate) fn encode(&self) -> Vec<u8> {
        Enc::default()
            .u8(ROW_V1)
            .str(&self.email)
            .str(&self.password_hash)
            .u64(self.created)
            .done()
    }
    pub(crate) fn decode(b: &[u8]) -> Option<UserRow> {
        let mut d = Dec(b);
        (d.u8()? == ROW_V1).then_some(())?;
        Some(UserRow {
            email: d.string()?,
            password_hash: d.string()?,
            created: d.u64()?,
        })
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
    /// Subscribed (LSUB / LIST SUBSCRIBED).
    pub subscribed: bool,
    /// Number of message rows.
    pub messages: u32,
    /// Messages without `\Seen`.
    pub unseen: u32,
    /// Sum of message sizes.
    pub bytes: u64,
}

impl MailboxRow {
    pub(crate) fn encode(&self) -> Vec<u8> {
        Enc::default()
            .u8(ROW_V1)
            .u64(self.user)
            .str(&self.name)
            .u32(self.uidvalidity)
            .u32(self.uidnext)
            .u64(self.highest_modseq)
            .u8(self.special_use as u8)
            .u8(self.subscribed as u8)
            .u32(self.messages)
            .u32(self.unseen)
            .u64(self.bytes)
            .done()
    }
    pub(crate) fn decode(b: &[u8]) -> Option<MailboxRow> {
        let mut d = Dec(b);
        (d.u8()? == ROW_V1).then_some(())?;
        Some(MailboxRow {
            user: d.u64()?,
            name: d.string()?,
            uidvalidity: d.u32()?,
            uidnext: d.u32()?,
            highest_modseq: d.u64()?,
            special_use: SpecialUse::from_u8(d.u8()?)?,
            subscribed: d.u8()? != 0,
            messages: d.u32()?,
            unseen: d.u32()?,
            bytes: d.u64()?,
        })
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

/// The bytes of one delivery, shared by all its message rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyRow {
    /// Message rows naming this body.
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
    /// Parsed summary (`message::Summary` encoding).
    pub summary: Vec<u8>,
}

impl BodyRow {
    pub(crate) fn encode(&self) -> Vec<u8> {
        Enc::default()
            .u8(ROW_V1)
            .u32(self.refs)
            .u64(self.size)
            .bytes(&self.prefix)
            .bytes(&self.summary)
            .u32(self.chunks)
            .bytes(&self.inline)
            .done()
    }
    pub(crate) fn decode(b: &[u8]) -> Option<BodyRow> {
        let mut d = Dec(b);
        (d.u8()? == ROW_V1).then_some(())?;
        let (refs, size) = (d.u32()?, d.u64()?);
        let prefix = d.bytes()?.to_vec();
        let summary = d.bytes()?.to_vec();
        let chunks = d.u32()?;
        let inline = d.bytes()?.to_vec();
        d.rest().is_empty().then_some(())?;
        Some(BodyRow {
            refs,
            size,
            prefix,
            chunks,
            inline,
            summary,
        })
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
        };
        assert_eq!(UserRow::decode(&u.encode()), Some(u));
        let m = MailboxRow {
            user: 1,
            name: "INBOX".into(),
            uidvalidity: 9,
            uidnext: 3,
            highest_modseq: 4,
            special_use: SpecialUse::Junk,
            subscribed: true,
            messages: 2,
            unseen: 1,
            bytes: 100,
        };
        assert_eq!(MailboxRow::decode(&m.encode()), Some(m));
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
                summary: vec![1, 2],
            };
            assert_eq!(BodyRow::decode(&b.encode()), Some(b));
        }
        assert_eq!(BodyRow::decode(&[1, 0]), None);
    }
}

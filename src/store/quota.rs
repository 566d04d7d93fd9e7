//! Per-user storage quotas: what a user may store, and what they use.
//!
//! Rules:
//! - A user's limit is [`UserRow::quota`] in bytes, 0 meaning unlimited; a new user gets the
//!   `quota.default_bytes` setting in force when [`super::Op::AddUser`] applies.
//! - Usage is not stored: it is the sum of the `bytes` counters of the user's mailboxes (each
//!   message counted in every mailbox that shows it, as IMAP clients see it), read in the same
//!   transaction that adds to it, so it can never drift from the rows.
//! - Only operations that add bytes to a user are checked, in the writer, before they change
//!   anything: a delivery (per recipient: one without room is left out, [`super::Done::Delivered`]
//!   lists them), an APPEND and a COPY. They are refused when usage plus what they add would
//!   exceed the limit. The writer applies operations one after another in one transaction, so
//!   two deliveries committing together cannot both slip under the limit. MOVE and renaming
//!   INBOX move bytes between mailboxes of one user and are never refused; expunges only lower
//!   usage. Reports to a sender (bounces, delay warnings) are not checked: a sender always
//!   learns what became of their mail.
//! - Nothing stored is ever removed for a quota: a limit lowered below usage only refuses new
//!   mail until the user makes room.

use super::schema::*;
use super::writer::corrupt;
use super::{Refusal, Result, UserId};
use redb::{ReadableTable, WriteTransaction};

/// A user's usage and limit, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Sum of the sizes of the user's messages over all their mailboxes.
    pub used: u64,
    /// The quota; 0: unlimited.
    pub limit: u64,
}

impl Quota {
    /// Whether `adding` more bytes fit.
    pub fn fits(&self, adding: u64) -> bool {
        self.limit == 0 || self.used.saturating_add(adding) <= self.limit
    }

    /// Whether the user is at or over the limit (nothing more fits, not even an empty message
    /// once the trace fields are added).
    pub fn full(&self) -> bool {
        self.limit != 0 && self.used >= self.limit
    }
}

/// The summed `bytes` of a user's mailboxes.
pub(super) fn usage(
    names: &impl ReadableTable<(u64, &'static str), u64>,
    rows: &impl ReadableTable<u64, &'static [u8]>,
    user: u64,
) -> Result<u64> {
    let mut used = 0u64;
    for e in names.range((user, "")..(user + 1, ""))? {
        let (_, id) = e?;
        let row = rows
            .get(id.value())?
            .and_then(|v| MailboxRow::decode(v.value()))
            .ok_or(corrupt("mailbox row"))?;
        used = used.saturating_add(row.bytes);
    }
    Ok(used)
}

/// A user's quota and address (`None`: no such user).
pub(super) fn limit(
    users: &impl ReadableTable<u64, &'static [u8]>,
    user: u64,
) -> Result<Option<(u64, String)>> {
    users
        .get(user)?
        .map(|v| {
            UserRow::decode(v.value())
                .map(|r| (r.quota, r.email))
                .ok_or(corrupt("user row"))
        })
        .transpose()
}

/// A user's usage and limit from open tables, with their address; `None` if the user does not
/// exist.
pub(super) fn read(
    users: &impl ReadableTable<u64, &'static [u8]>,
    names: &impl ReadableTable<(u64, &'static str), u64>,
    rows: &impl ReadableTable<u64, &'static [u8]>,
    user: u64,
) -> Result<Option<(Quota, String)>> {
    let Some((limit, email)) = limit(users, user)? else {
        return Ok(None);
    };
    let used = usage(names, rows, user)?;
    Ok(Some((Quota { used, limit }, email)))
}

/// A user's usage and limit within the writer's transaction (no table of it may be open).
pub(super) fn of(txn: &WriteTransaction, user: UserId) -> Result<Option<(Quota, String)>> {
    read(
        &txn.open_table(USERS)?,
        &txn.open_table(MAILBOX_BY_NAME)?,
        &txn.open_table(MAILBOXES)?,
        user.0,
    )
}

/// Refuses adding `bytes` to `user` if that would exceed their quota.
pub(super) fn check_room(txn: &WriteTransaction, user: UserId, bytes: u64) -> Result<()> {
    match of(txn, user)? {
        Some((q, email)) if !q.fits(bytes) => Err(Refusal::OverQuota(email).into()),
        _ => Ok(()),
    }
}

/// Sets a user's quota ([`super::Op::SetQuota`]).
pub(super) fn set(txn: &WriteTransaction, email: &str, bytes: u64) -> Result<super::Done> {
    if bytes > crate::config::MAX_QUOTA_BYTES {
        return Err(Refusal::TooMany("bytes in a quota").into());
    }
    super::writer::update_user(txn, email, |row| row.quota = bytes)?;
    Ok(super::Done::Unit)
}

/// The `quota.default_bytes` setting as stored (0 when unset or invalid, as `config` reads it).
pub(super) fn default_bytes(txn: &WriteTransaction) -> Result<u64> {
    let key = "quota.default_bytes";
    let stored = txn
        .open_table(SETTINGS)?
        .get(key)?
        .map(|v| v.value().to_string());
    Ok(stored
        .and_then(|v| crate::config::validate(key, &v).ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

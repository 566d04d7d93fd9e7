//! Each user's Sieve scripts (RFC 5228), at most one of them active (RFC 5804 §1.4), and the
//! record of vacation replies sent (RFC 5230 §4.2: one per sender per period).
//!
//! Invariants (kept by the writer, checked by [`check`]):
//! - a script name passes [`check_script_name`] and a script is at most
//!   [`MAX_SCRIPT_BYTES`] of UTF-8; a user has at most [`MAX_SCRIPTS_PER_USER`];
//! - `SIEVE_ACTIVE` names an existing script of its user; the active script cannot be deleted
//!   (RFC 5804 §2.10) but can be renamed (the record follows it);
//! - every row belongs to an existing user (deleting a user deletes their rows);
//! - `VACATION_SENT` holds at most [`MAX_VACATION_ENTRIES`] per user; expired entries and then
//!   the soonest to expire go first. Nothing there needs to survive a crash (it would only mean
//!   one more reply), so that op is not durable by itself.
//!
//! Scripts are stored as the user wrote them; compiling them is `crate::sieve`'s business (the
//! callers check a script compiles before storing it).

use super::schema::{SIEVE_ACTIVE, SIEVE_SCRIPTS, VACATION_SENT};
use super::{Done, Refusal, Result, Store, UserId};
use redb::{ReadableDatabase, ReadableTable, WriteTransaction};

/// Largest script, in bytes (the setting `sieve.max_script_bytes` may only be lower).
pub const MAX_SCRIPT_BYTES: usize = 1024 * 1024;
/// Most scripts per user.
pub const MAX_SCRIPTS_PER_USER: usize = 32;
/// Longest script name, in bytes.
pub const MAX_SCRIPT_NAME_BYTES: usize = 128;
/// Most remembered vacation replies per user.
pub const MAX_VACATION_ENTRIES: usize = 4096;

/// RFC 5804 §1.6: a script name is non-empty UTF-8 without control characters (CR, LF, NUL,
/// DEL, 0x80–0x9F, U+2028, U+2029), here also at most [`MAX_SCRIPT_NAME_BYTES`].
pub fn check_script_name(name: &str) -> std::result::Result<(), Refusal> {
    let bad = |c: char| c.is_control() || c == '\u{2028}' || c == '\u{2029}';
    if name.is_empty() || name.len() > MAX_SCRIPT_NAME_BYTES || name.chars().any(bad) {
        return Err(Refusal::InvalidScriptName(name.to_string()));
    }
    Ok(())
}

/// A change to a user's scripts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptChange {
    /// Creates or replaces a script.
    Put {
        /// Its name.
        name: String,
        /// Its text (already compiled once by the caller).
        text: String,
    },
    /// Deletes an inactive script.
    Delete(String),
    /// Renames a script; refused if the new name is taken.
    Rename {
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// Makes this script the active one, or (`None`) none.
    Activate(Option<String>),
}

fn exists(txn: &WriteTransaction, user: u64, name: &str) -> Result<bool> {
    Ok(txn.open_table(SIEVE_SCRIPTS)?.get((user, name))?.is_some())
}

fn active(txn: &WriteTransaction, user: u64) -> Result<Option<String>> {
    Ok(txn
        .open_table(SIEVE_ACTIVE)?
        .get(user)?
        .map(|v| v.value().to_string()))
}

/// Applies one change to `user`'s scripts.
pub(super) fn change(txn: &WriteTransaction, user: UserId, c: &ScriptChange) -> Result<Done> {
    let user = user.0;
    match c {
        ScriptChange::Put { name, text } => {
            check_script_name(name)?;
            if text.len() > MAX_SCRIPT_BYTES {
                return Err(Refusal::TooMany("bytes in a script").into());
            }
            let mut t = txn.open_table(SIEVE_SCRIPTS)?;
            if t.get((user, name.as_str()))?.is_none()
                && t.range((user, "")..(user + 1, ""))?.count() >= MAX_SCRIPTS_PER_USER
            {
                return Err(Refusal::TooMany("scripts").into());
            }
            t.insert((user, name.as_str()), text.as_bytes())?;
        }
        ScriptChange::Delete(name) => {
            if active(txn, user)?.as_deref() == Some(name) {
                return Err(Refusal::ScriptActive(name.clone()).into());
            }
            if txn
                .open_table(SIEVE_SCRIPTS)?
                .remove((user, name.as_str()))?
                .is_none()
            {
                return Err(Refusal::NoSuchScript(name.clone()).into());
            }
        }
        ScriptChange::Rename { from, to } => {
            check_script_name(to)?;
            if exists(txn, user, to)? {
                return Err(Refusal::ScriptExists(to.clone()).into());
            }
            let mut t = txn.open_table(SIEVE_SCRIPTS)?;
            let text = t
                .remove((user, from.as_str()))?
                .map(|v| v.value().to_vec())
                .ok_or_else(|| Refusal::NoSuchScript(from.clone()))?;
            t.insert((user, to.as_str()), text.as_slice())?;
            if active(txn, user)?.as_deref() == Some(from) {
                txn.open_table(SIEVE_ACTIVE)?.insert(user, to.as_str())?;
            }
        }
        ScriptChange::Activate(None) => {
            txn.open_table(SIEVE_ACTIVE)?.remove(user)?;
        }
        ScriptChange::Activate(Some(name)) => {
            if !exists(txn, user, name)? {
                return Err(Refusal::NoSuchScript(name.clone()).into());
            }
            txn.open_table(SIEVE_ACTIVE)?.insert(user, name.as_str())?;
        }
    }
    Ok(Done::Unit)
}

/// Deletes every script and vacation record of a deleted user.
pub(super) fn forget_user(txn: &WriteTransaction, user: UserId) -> Result<()> {
    txn.open_table(SIEVE_SCRIPTS)?
        .retain_in((user.0, "")..(user.0 + 1, ""), |_, _| false)?;
    txn.open_table(SIEVE_ACTIVE)?.remove(user.0)?;
    txn.open_table(VACATION_SENT)?
        .retain_in((user.0, 0)..=(user.0, u64::MAX), |_, _| false)?;
    Ok(())
}

/// A vacation reply about to be sent for `user` to the sender whose hash is `key`: answers
/// [`Done::Greylist`] `None` ("send it") and records it until `until`, or `Some(seconds)` when
/// one was sent within its period (RFC 5230 §4.2).
pub(super) fn vacation_due(
    txn: &WriteTransaction,
    user: UserId,
    key: u64,
    now: u64,
    until: u64,
) -> Result<Done> {
    let mut t = txn.open_table(VACATION_SENT)?;
    if let Some(v) = t.get((user.0, key))?
        && v.value() > now
    {
        return Ok(Done::Greylist(Some(v.value() - now)));
    }
    let range = (user.0, 0)..=(user.0, u64::MAX);
    t.retain_in(range.clone(), |_, expiry| expiry > now)?;
    let mut held: Vec<(u64, u64)> = t
        .range(range)?
        .map(|e| e.map(|(k, v)| (v.value(), k.value().1)))
        .collect::<std::result::Result<_, _>>()?;
    if held.len() >= MAX_VACATION_ENTRIES {
        held.sort_unstable();
        for (_, k) in &held[..=held.len() - MAX_VACATION_ENTRIES] {
            t.remove((user.0, *k))?;
        }
    }
    t.insert((user.0, key), until)?;
    Ok(Done::Greylist(None))
}

/// Every broken invariant of the scripts, as sentences (for `Store::check`).
pub(super) fn check(
    txn: &impl super::read::Tables,
    users: &impl Fn(u64) -> bool,
) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let scripts = txn.open_table(SIEVE_SCRIPTS)?;
    let mut per_user = std::collections::BTreeMap::<u64, usize>::new();
    for e in scripts.iter()? {
        let (k, v) = e?;
        let (user, name) = k.value();
        *per_user.entry(user).or_default() += 1;
        if !users(user) {
            problems.push(format!("script {name:?} of missing user {user}"));
        }
        if check_script_name(name).is_err() || v.value().len() > MAX_SCRIPT_BYTES {
            problems.push(format!("script {name:?} of user {user} exceeds its bounds"));
        }
        if std::str::from_utf8(v.value()).is_err() {
            problems.push(format!("script {name:?} of user {user} is not UTF-8"));
        }
    }
    for (user, n) in per_user {
        if n > MAX_SCRIPTS_PER_USER {
            problems.push(format!("user {user} has {n} scripts"));
        }
    }
    for e in txn.open_table(SIEVE_ACTIVE)?.iter()? {
        let (k, v) = e?;
        if scripts.get((k.value(), v.value()))?.is_none() {
            problems.push(format!(
                "active script {:?} of user {} does not exist",
                v.value(),
                k.value()
            ));
        }
    }
    let mut vacation = std::collections::BTreeMap::<u64, usize>::new();
    for e in txn.open_table(VACATION_SENT)?.iter()? {
        let user = e?.0.value().0;
        *vacation.entry(user).or_default() += 1;
    }
    for (user, n) in vacation {
        if !users(user) || n > MAX_VACATION_ENTRIES {
            problems.push(format!("{n} vacation records of user {user}"));
        }
    }
    Ok(problems)
}

impl Store {
    /// The user's scripts by name, with whether each is the active one.
    pub fn scripts(&self, user: UserId) -> Result<Vec<(String, bool)>> {
        let txn = self.db()?.begin_read()?;
        let active = txn
            .open_table(SIEVE_ACTIVE)?
            .get(user.0)?
            .map(|v| v.value().to_string());
        let t = txn.open_table(SIEVE_SCRIPTS)?;
        t.range((user.0, "")..(user.0 + 1, ""))?
            .map(|e| {
                let name = e?.0.value().1.to_string();
                let on = active.as_deref() == Some(name.as_str());
                Ok((name, on))
            })
            .collect()
    }

    /// The text of one of the user's scripts.
    pub fn script(&self, user: UserId, name: &str) -> Result<Option<String>> {
        let txn = self.db()?.begin_read()?;
        let t = txn.open_table(SIEVE_SCRIPTS)?;
        Ok(t.get((user.0, name))?
            .map(|v| String::from_utf8_lossy(v.value()).into_owned()))
    }

    /// The user's active script: its name and text.
    pub fn active_script(&self, user: UserId) -> Result<Option<(String, String)>> {
        let txn = self.db()?.begin_read()?;
        let Some(name) = txn
            .open_table(SIEVE_ACTIVE)?
            .get(user.0)?
            .map(|v| v.value().to_string())
        else {
            return Ok(None);
        };
        let t = txn.open_table(SIEVE_SCRIPTS)?;
        let text = t
            .get((user.0, name.as_str()))?
            .map(|v| String::from_utf8_lossy(v.value()).into_owned())
            .ok_or(super::Error::Corrupt("active script missing"))?;
        Ok(Some((name, text)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_names() {
        for ok in ["vacation", "My filters", "Ünïcødé", "a.sieve"] {
            assert_eq!(check_script_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", "a\r\nb", "nul\0", "\u{2028}", &"x".repeat(129)] {
            assert!(check_script_name(bad).is_err(), "{bad:?}");
        }
    }
}

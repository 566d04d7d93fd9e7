//! Greylisting state (RFC 6647): (client network, sender, recipient) triplets with the time each
//! was first seen, and client networks that retried once and pass for a while.
//!
//! Invariants: decisions are made in the writer's open transaction ([`decide`]), so each sees
//! every earlier one, committed or not; neither table grows past `max_entries` (expired entries
//! are dropped first; when a table is still full nothing new is recorded and the triplet passes:
//! greylisting fails open); key parts are bounded ([`MAX_KEY_PART`]). Nothing here needs to
//! survive a crash (it would only greylist again), so the op is not durable by itself.

use super::schema::{GREYLIST, GREYLIST_PASSED};
use super::{Done, Result};
use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};

/// Longest part of a triplet key kept (sender or recipient address).
pub const MAX_KEY_PART: usize = 320;

/// One greylisting question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GreylistCheck {
    /// The client network (`/24` or `/64`).
    pub network: String,
    /// Envelope sender.
    pub sender: String,
    /// Recipient.
    pub recipient: String,
    /// Unix seconds.
    pub now: u64,
    /// How long a new triplet is deferred.
    pub delay_secs: u64,
    /// How long an unanswered triplet is remembered.
    pub expire_secs: u64,
    /// How long a network that retried passes.
    pub pass_secs: u64,
    /// Most entries per table.
    pub max_entries: u64,
}

fn cut(s: &str) -> String {
    let mut s = s.to_ascii_lowercase().replace('\0', "");
    if s.len() > MAX_KEY_PART {
        let mut end = MAX_KEY_PART;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// Makes room in a table of `key → unix seconds`, dropping entries for which `stale` holds.
/// Returns whether there is room for one more.
fn room(
    t: &mut redb::Table<'_, &str, u64>,
    max_entries: u64,
    stale: impl Fn(u64) -> bool,
) -> Result<bool> {
    if t.len()? < max_entries {
        return Ok(true);
    }
    let old: Vec<String> = t
        .iter()?
        .filter_map(|e| e.ok())
        .filter(|(_, v)| stale(v.value()))
        .map(|(k, _)| k.value().to_string())
        .collect();
    for k in old {
        t.remove(k.as_str())?;
    }
    Ok(t.len()? < max_entries)
}

/// Decides one triplet: pass if its network passed lately or it was first seen at least
/// `delay_secs` ago (then the network passes from now on), else defer and remember it.
pub(super) fn decide(txn: &WriteTransaction, c: &GreylistCheck) -> Result<Done> {
    let network = cut(&c.network);
    let mut passed = txn.open_table(GREYLIST_PASSED)?;
    if passed
        .get(network.as_str())?
        .is_some_and(|until| until.value() > c.now)
    {
        return Ok(Done::Greylist(None));
    }
    let key = format!("{network}\0{}\0{}", cut(&c.sender), cut(&c.recipient));
    let mut triplets = txn.open_table(GREYLIST)?;
    let first = triplets.get(key.as_str())?.map(|v| v.value());
    match first {
        Some(first) if c.now >= first.saturating_add(c.delay_secs) => {
            triplets.remove(key.as_str())?;
            if room(&mut passed, c.max_entries, |until| until <= c.now)? {
                passed.insert(network.as_str(), c.now.saturating_add(c.pass_secs))?;
            }
            Ok(Done::Greylist(None))
        }
        Some(first) => Ok(Done::Greylist(Some(
            first.saturating_add(c.delay_secs) - c.now,
        ))),
        None => {
            let expire = c.expire_secs;
            if !room(&mut triplets, c.max_entries, |seen| {
                seen.saturating_add(expire) < c.now
            })? {
                return Ok(Done::Greylist(None));
            }
            triplets.insert(key.as_str(), c.now)?;
            Ok(Done::Greylist(Some(c.delay_secs)))
        }
    }
}

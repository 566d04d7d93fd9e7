//! The spam scorer's token counts: per user and global (user id 0), how many ham and spam
//! messages each hashed token appeared in, and how many messages of each kind were trained.
//!
//! Invariants: tokens are 64-bit hashes (no plaintext words are stored); counts never go below
//! zero (untraining more than was trained stops at zero) and a token whose counts are both zero
//! is removed; each user's table holds at most the `max_tokens` its trainer passes (when over,
//! the tokens least recently seen go first, then the rarest); a trained message touches at most
//! [`MAX_TOKENS_PER_MESSAGE`] tokens.

use super::schema::{SPAM_LEARNED, SPAM_TOKENS, SPAM_TOTALS};
use super::{Done, Result};
use redb::{ReadableTable, WriteTransaction};

/// Tokens one training step may touch.
pub const MAX_TOKENS_PER_MESSAGE: usize = 4096;
/// The user id of the model shared by all users.
pub const GLOBAL: u64 = 0;

/// One training step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Training {
    /// The user whose model learns (the global model learns too).
    pub user: u64,
    /// The message's distinct tokens.
    pub tokens: Vec<u64>,
    /// Spam or ham.
    pub spam: bool,
    /// Learn (`true`) or forget an earlier learning (`false`, a judgement reversed).
    pub learn: bool,
    /// Today, in days since the epoch (for aging).
    pub day: u32,
    /// Most tokens kept per model.
    pub max_tokens: u64,
    /// The message learned, when it comes from a training event: a body already learned as
    /// this class is not learned twice, and one learned as the other class is untrained first.
    pub body: Option<u64>,
    /// The training event's sequence number: the user's cursor moves up to it.
    pub seq: Option<u64>,
}

/// Ham and spam counts of one token, and the day it was last trained.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenCount {
    /// Ham messages with the token.
    pub ham: u32,
    /// Spam messages with the token.
    pub spam: u32,
    /// Day last trained.
    pub day: u32,
}

fn bump(v: u32, learn: bool) -> u32 {
    if learn {
        v.saturating_add(1)
    } else {
        v.saturating_sub(1)
    }
}

/// Applies one training step (see [`Training::body`] for judgements that change).
pub(super) fn train(txn: &WriteTransaction, t: &Training) -> Result<Done> {
    let mut learned = txn.open_table(SPAM_LEARNED)?;
    if let Some(seq) = t.seq {
        let cursor = learned.get((t.user, 0))?.map_or(0, |v| v.value());
        learned.insert((t.user, 0), cursor.max(seq))?;
    }
    if let Some(body) = t.body.filter(|_| t.learn) {
        let before = learned.get((t.user, body))?.map(|v| v.value() == 1);
        if before == Some(t.spam) {
            return Ok(Done::Unit);
        }
        learned.insert((t.user, body), u64::from(t.spam))?;
        drop(learned);
        if let Some(old) = before {
            apply(
                txn,
                &Training {
                    spam: old,
                    learn: false,
                    ..t.clone()
                },
            )?;
        }
    } else {
        drop(learned);
    }
    apply(txn, t)
}

/// Counts one message in or out of the user's model and the global one.
fn apply(txn: &WriteTransaction, t: &Training) -> Result<Done> {
    let mut tokens: Vec<u64> = t
        .tokens
        .iter()
        .copied()
        .take(MAX_TOKENS_PER_MESSAGE)
        .collect();
    tokens.sort_unstable();
    tokens.dedup();
    let models: &[u64] = if t.user == GLOBAL {
        &[GLOBAL]
    } else {
        &[t.user, GLOBAL]
    };
    let mut table = txn.open_table(SPAM_TOKENS)?;
    let mut totals = txn.open_table(SPAM_TOTALS)?;
    for &user in models {
        let (mut ham, mut spam, mut count) =
            totals.get(user)?.map(|v| v.value()).unwrap_or((0, 0, 0));
        let messages = if t.spam { &mut spam } else { &mut ham };
        *messages = if t.learn {
            messages.saturating_add(1)
        } else {
            messages.saturating_sub(1)
        };
        for &tok in &tokens {
            let old = table.get((user, tok))?.map(|v| v.value());
            let (h, s, day) = old.unwrap_or((0, 0, 0));
            let (h, s) = if t.spam {
                (h, bump(s, t.learn))
            } else {
                (bump(h, t.learn), s)
            };
            match (old.is_some(), h == 0 && s == 0) {
                (true, true) => {
                    table.remove((user, tok))?;
                    count = count.saturating_sub(1);
                }
                (false, true) => {}
                (known, false) => {
                    table.insert((user, tok), (h, s, t.day.max(day)))?;
                    count += u64::from(!known);
                }
            }
        }
        if count > t.max_tokens {
            count -= prune(&mut table, user, count, t.max_tokens)?;
        }
        totals.insert(user, (ham, spam, count))?;
    }
    Ok(Done::Unit)
}

/// Brings `user`'s `count` tokens down to 90 % of `max_tokens` (so pruning is not paid on every
/// step): the least recently trained go first, and among those the rarest. Returns how many
/// were removed.
fn prune(
    table: &mut redb::Table<'_, (u64, u64), (u32, u32, u32)>,
    user: u64,
    count: u64,
    max_tokens: u64,
) -> Result<u64> {
    let excess = (count - max_tokens + max_tokens / 10) as usize;
    let mut all: Vec<(u32, u32, u64)> = table
        .range((user, 0)..=(user, u64::MAX))?
        .filter_map(|e| e.ok())
        .map(|(k, v)| {
            let (h, s, day) = v.value();
            (day, h.saturating_add(s), k.value().1)
        })
        .collect();
    all.sort_unstable();
    let mut removed = 0;
    for (_, _, tok) in all.into_iter().take(excess) {
        table.remove((user, tok))?;
        removed += 1;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    #[test]
    fn bump_saturates_both_ways() {
        assert_eq!(super::bump(0, false), 0);
        assert_eq!(super::bump(u32::MAX, true), u32::MAX);
        assert_eq!(super::bump(3, true), 4);
    }
}

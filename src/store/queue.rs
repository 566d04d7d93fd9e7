//! The outbound queue's rows: messages accepted for remote recipients and not yet finished.
//!
//! Invariants (checked by [`super::Store::check`]):
//! - a queue row names an existing body and holds one of its references, exactly as a message
//!   row does; the reference is dropped in the transaction that removes the row;
//! - a row exists only while at least one of its recipients is [`RcptState::Pending`]: the
//!   update that settles the last one removes the row in the same commit;
//! - a row is written in the same transaction that accepts the message (with the local copies of
//!   the same delivery), so a 250 is never sent for a message the queue does not hold;
//! - recipients and their results are bounded: at most [`MAX_QUEUE_RCPTS`] recipients, and each
//!   stored reply text at most [`MAX_RESULT_BYTES`].

use super::schema::{QUEUE, QUEUE_DUE};
use super::writer::{State, corrupt, drop_body_ref};
use super::{BodyId, Done, Error, Refusal, Result};
use crate::codec::{Dec, Enc};
use redb::{ReadableTable, WriteTransaction};

/// Most recipients one queue row holds.
pub const MAX_QUEUE_RCPTS: usize = 10_000;
/// Longest stored result text per recipient.
pub const MAX_RESULT_BYTES: usize = 512;

const ROW_V1: u8 = 1;

/// A queue row's id (also the message's id in logs and in `mailnook queue`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QueueId(pub u64);

impl std::fmt::Display for QueueId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:x}", self.0)
    }
}

/// Where one recipient stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RcptState {
    /// Not delivered yet; the next attempt will try.
    Pending = 0,
    /// A remote server took it (2xx after the data).
    Delivered = 1,
    /// Given up: a permanent failure or the age limit; the sender was told.
    Failed = 2,
}

/// One recipient of a queued message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRcpt {
    /// The forward path.
    pub address: String,
    /// Its state.
    pub state: RcptState,
    /// The last result: the remote reply or the local reason (at most [`MAX_RESULT_BYTES`]).
    pub last_result: String,
}

/// A message in the outbound queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    /// Its id.
    pub id: QueueId,
    /// The message (trace and signature fields included).
    pub body: BodyId,
    /// The reverse path; empty for the null sender (then no report is ever sent).
    pub from: String,
    /// When it was accepted, Unix seconds.
    pub created: u64,
    /// When the next attempt is due, Unix seconds.
    pub next_attempt: u64,
    /// Attempts made so far.
    pub attempts: u32,
    /// The delay warning was sent.
    pub warned: bool,
    /// Its recipients.
    pub rcpts: Vec<QueuedRcpt>,
}

impl QueuedMessage {
    /// Recipients still to deliver.
    pub fn pending(&self) -> impl Iterator<Item = &QueuedRcpt> {
        self.rcpts.iter().filter(|r| r.state == RcptState::Pending)
    }

    pub(super) fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.u8(ROW_V1)
            .u64(self.body.0)
            .str(&self.from)
            .u64(self.created)
            .u64(self.next_attempt)
            .u32(self.attempts)
            .u8(u8::from(self.warned))
            .u32(self.rcpts.len() as u32);
        for r in &self.rcpts {
            e.str(&r.address).u8(r.state as u8).str(&r.last_result);
        }
        e.done()
    }

    pub(super) fn decode(id: u64, row: &[u8]) -> Option<QueuedMessage> {
        let mut d = Dec(row);
        if d.u8()? != ROW_V1 {
            return None;
        }
        let body = BodyId(d.u64()?);
        let from = d.string()?;
        let created = d.u64()?;
        let next_attempt = d.u64()?;
        let attempts = d.u32()?;
        let warned = d.u8()? != 0;
        let n = d.u32()? as usize;
        if n > MAX_QUEUE_RCPTS {
            return None;
        }
        let mut rcpts = Vec::with_capacity(n);
        for _ in 0..n {
            let address = d.string()?;
            let state = match d.u8()? {
                0 => RcptState::Pending,
                1 => RcptState::Delivered,
                2 => RcptState::Failed,
                _ => return None,
            };
            let last_result = d.string()?;
            rcpts.push(QueuedRcpt {
                address,
                state,
                last_result,
            });
        }
        Some(QueuedMessage {
            id: QueueId(id),
            body,
            from,
            created,
            next_attempt,
            attempts,
            warned,
            rcpts,
        })
    }
}

/// What a delivery adds to the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewQueued {
    /// The reverse path.
    pub from: String,
    /// Remote forward paths (duplicates are kept once).
    pub rcpts: Vec<String>,
    /// Unix seconds now (created; first attempt due).
    pub now: u64,
}

/// A progress report on a queued message.
#[derive(Debug)]
pub struct QueueUpdate {
    /// The row.
    pub id: QueueId,
    /// New states per recipient address; addresses not listed keep theirs.
    pub results: Vec<(String, RcptState, String)>,
    /// When to try again.
    pub next_attempt: u64,
    /// Count this as an attempt.
    pub attempted: bool,
    /// The delay warning was sent with this update.
    pub warned: bool,
}

/// Cuts `s` to at most [`MAX_RESULT_BYTES`] at a character boundary, without line breaks.
pub fn bounded_result(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if out.len() > MAX_RESULT_BYTES {
        let mut cut = MAX_RESULT_BYTES;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

/// Adds a queue row for `body` (whose reference the caller already counted).
pub(super) fn enqueue(
    txn: &WriteTransaction,
    state: &mut State,
    body: BodyId,
    new: &NewQueued,
) -> Result<QueueId> {
    let mut rcpts: Vec<QueuedRcpt> = Vec::with_capacity(new.rcpts.len());
    for a in &new.rcpts {
        if rcpts.iter().any(|r| r.address.eq_ignore_ascii_case(a)) {
            continue;
        }
        rcpts.push(QueuedRcpt {
            address: a.clone(),
            state: RcptState::Pending,
            last_result: String::new(),
        });
    }
    if rcpts.is_empty() || rcpts.len() > MAX_QUEUE_RCPTS {
        return Err(Refusal::NoRecipients.into());
    }
    let id = state.next_queue;
    state.next_queue += 1;
    let row = QueuedMessage {
        id: QueueId(id),
        body,
        from: new.from.clone(),
        created: new.now,
        next_attempt: new.now,
        attempts: 0,
        warned: false,
        rcpts,
    };
    save(txn, None, &row)?;
    state.queue_changed = true;
    Ok(QueueId(id))
}

/// Writes `row` and its due entry, replacing the entry for `old_due` if the row existed.
fn save(txn: &WriteTransaction, old_due: Option<u64>, row: &QueuedMessage) -> Result<()> {
    let mut due = txn.open_table(QUEUE_DUE)?;
    if let Some(old) = old_due {
        due.remove((old, row.id.0))?;
    }
    due.insert((row.next_attempt, row.id.0), ())?;
    txn.open_table(QUEUE)?
        .insert(row.id.0, row.encode().as_slice())?;
    Ok(())
}

fn load(txn: &WriteTransaction, id: QueueId) -> Result<Option<QueuedMessage>> {
    let t = txn.open_table(QUEUE)?;
    let Some(v) = t.get(id.0)? else {
        return Ok(None);
    };
    QueuedMessage::decode(id.0, v.value())
        .map(Some)
        .ok_or(corrupt("queue row"))
}

/// Applies an attempt's results; removes the row when nothing is pending any more.
pub(super) fn update(txn: &WriteTransaction, state: &mut State, u: &QueueUpdate) -> Result<Done> {
    let Some(mut row) = load(txn, u.id)? else {
        return Err(Refusal::NoSuchQueued(u.id.to_string()).into());
    };
    for (addr, st, text) in &u.results {
        if let Some(r) = row
            .rcpts
            .iter_mut()
            .find(|r| r.address.eq_ignore_ascii_case(addr) && r.state == RcptState::Pending)
        {
            r.state = *st;
            r.last_result = bounded_result(text);
        }
    }
    if u.attempted {
        row.attempts = row.attempts.saturating_add(1);
    }
    row.warned |= u.warned;
    state.queue_changed = true;
    if row.pending().next().is_none() {
        remove(txn, state, &row)?;
    } else {
        let old = std::mem::replace(&mut row.next_attempt, u.next_attempt);
        save(txn, Some(old), &row)?;
    }
    Ok(Done::Unit)
}

fn remove(txn: &WriteTransaction, state: &mut State, row: &QueuedMessage) -> Result<()> {
    txn.open_table(QUEUE)?.remove(row.id.0)?;
    txn.open_table(QUEUE_DUE)?
        .remove((row.next_attempt, row.id.0))?;
    drop_body_ref(txn, state, row.body.0)
}

/// Drops a queued message without telling anyone (`mailnook queue delete`).
pub(super) fn delete(txn: &WriteTransaction, state: &mut State, id: QueueId) -> Result<Done> {
    let Some(row) = load(txn, id)? else {
        return Err(Refusal::NoSuchQueued(id.to_string()).into());
    };
    state.queue_changed = true;
    remove(txn, state, &row)?;
    Ok(Done::Unit)
}

/// Makes one message (or every one) due now (`mailnook queue retry`).
pub(super) fn retry_now(
    txn: &WriteTransaction,
    state: &mut State,
    id: Option<QueueId>,
    now: u64,
) -> Result<Done> {
    let rows: Vec<QueuedMessage> = match id {
        Some(id) => vec![
            load(txn, id)?
                .ok_or_else(|| -> Error { Refusal::NoSuchQueued(id.to_string()).into() })?,
        ],
        None => {
            let t = txn.open_table(QUEUE)?;
            let mut v = Vec::new();
            for e in t.iter()? {
                let (k, val) = e?;
                v.push(QueuedMessage::decode(k.value(), val.value()).ok_or(corrupt("queue row"))?);
            }
            v
        }
    };
    for mut row in rows {
        let old = std::mem::replace(&mut row.next_attempt, now);
        save(txn, Some(old), &row)?;
    }
    state.queue_changed = true;
    Ok(Done::Unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_round_trips_and_rejects_corruption() {
        let row = QueuedMessage {
            id: QueueId(7),
            body: BodyId(3),
            from: "a@example.org".into(),
            created: 10,
            next_attempt: 20,
            attempts: 2,
            warned: true,
            rcpts: vec![
                QueuedRcpt {
                    address: "b@x.test".into(),
                    state: RcptState::Pending,
                    last_result: "451 4.3.0 later".into(),
                },
                QueuedRcpt {
                    address: "c@x.test".into(),
                    state: RcptState::Failed,
                    last_result: "550 5.1.1 no".into(),
                },
            ],
        };
        let enc = row.encode();
        assert_eq!(QueuedMessage::decode(7, &enc), Some(row));
        assert_eq!(QueuedMessage::decode(7, &enc[..enc.len() - 1]), None);
        let mut bad = enc.clone();
        bad[0] = 9;
        assert_eq!(QueuedMessage::decode(7, &bad), None);
    }

    #[test]
    fn results_are_bounded_single_lines() {
        let long = "é".repeat(400);
        let b = bounded_result(&long);
        assert!(b.len() <= MAX_RESULT_BYTES);
        assert_eq!(bounded_result("a\r\nb"), "a  b");
    }
}

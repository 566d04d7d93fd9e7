//! The writer's message operations: append, flag changes, copy, move, expunge; and what they
//! record besides the messages: the VANISHED history and the junk training events.
//!
//! Rules kept here (RFC 9051, RFC 7162, RFC 6851):
//! - an operation that changes messages of a mailbox raises its HIGHESTMODSEQ by one and gives
//!   every message it added or changed that modseq; one that changes nothing writes nothing;
//! - an expunge (EXPUNGE, UID EXPUNGE, MOVE, renaming INBOX) raises HIGHESTMODSEQ once and
//!   remembers each UID with that modseq in `VANISHED` (RFC 7162 §3.2), keeping the newest
//!   [`VANISHED_KEEP`] per mailbox;
//! - operations select messages by UID ranges and hold only UIDs (and a few numbers per message)
//!   in memory, never whole mailboxes of rows; refusals (bad keyword, limits, UIDs exhausted)
//!   are decided in a read pass before the write pass.
//! - APPEND and COPY are refused when they would take the owner over their quota
//!   ([`super::quota`]), before anything is written; MOVE never is (it adds nothing);
//! - junk training: copying or moving into a `\Junk` mailbox from another records "spam",
//!   moving out of one into anything but `\Trash` records "ham" (deleting junk is no verdict),
//!   and setting `$Junk` / `$NotJunk` on a message records "spam" / "ham"; in the same
//!   transaction, at most [`TRAINING_KEEP`] kept per user.

use super::schema::*;
use super::writer::{
    State, add_body_refs, check_upload, corrupt, drop_body_ref, store_body, upload_size,
};
use super::{Done, FlagChange, MailboxId, Refusal, Result, StoreMode, Uid, UploadId, UserId};
use redb::{ReadableTable, WriteTransaction};
use std::collections::BTreeMap;
use std::ops::RangeInclusive;

/// Checks a keyword (a user-defined flag): 1 to [`MAX_KEYWORD_BYTES`] bytes of IMAP `atom`
/// characters (RFC 9051 §9: no controls, space, `(){%*"\]`, nothing outside ASCII), not
/// starting with `\` (those are system flags).
pub fn check_keyword(k: &str) -> Result<(), Refusal> {
    let atom = |b: u8| (0x21..0x7f).contains(&b) && !b"(){%*\"\\]".contains(&b);
    if k.is_empty() || k.len() > MAX_KEYWORD_BYTES || !k.bytes().all(atom) {
        return Err(Refusal::InvalidKeyword(k.to_string()));
    }
    Ok(())
}

fn find_ci<'a>(list: &'a [String], k: &str) -> Option<&'a String> {
    list.iter().find(|x| x.eq_ignore_ascii_case(k))
}

/// The mailbox's spelling of `k`, adding it to the mailbox's list if it has room.
fn intern(list: &mut Vec<String>, k: &str) -> Option<String> {
    if let Some(x) = find_ci(list, k) {
        return Some(x.clone());
    }
    if list.len() >= MAX_KEYWORDS_PER_MAILBOX {
        return None;
    }
    list.push(k.to_string());
    Some(k.to_string())
}

/// The keywords a delivered copy can keep of `wanted`, spelled as in its mailbox (interned):
/// invalid ones, duplicates and any beyond the per-message or per-mailbox limits are left off.
pub(super) fn arrival_keywords(row: &mut MailboxRow, wanted: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for k in wanted {
        if out.len() < MAX_KEYWORDS_PER_MESSAGE
            && check_keyword(k).is_ok()
            && find_ci(&out, k).is_none()
            && let Some(k) = intern(&mut row.keywords, k)
        {
            out.push(k);
        }
    }
    out
}

/// Validates keywords and removes duplicates (ignoring case).
fn distinct_keywords(keywords: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(keywords.len().min(MAX_KEYWORDS_PER_MESSAGE));
    for k in keywords {
        check_keyword(k)?;
        if find_ci(&out, k).is_none() {
            if out.len() >= MAX_KEYWORDS_PER_MAILBOX {
                return Err(Refusal::TooMany("keywords in one mailbox").into());
            }
            out.push(k.clone());
        }
    }
    Ok(out)
}

fn load_mailbox(txn: &WriteTransaction, id: MailboxId) -> Result<MailboxRow> {
    match txn.open_table(MAILBOXES)?.get(id.0)? {
        Some(v) => MailboxRow::decode(v.value()).ok_or(corrupt("mailbox row")),
        None => Err(Refusal::NoSuchMailbox(format!("#{}", id.0)).into()),
    }
}

fn save_mailbox(txn: &WriteTransaction, id: u64, row: &MailboxRow) -> Result<()> {
    txn.open_table(MAILBOXES)?
        .insert(id, row.encode().as_slice())?;
    Ok(())
}

/// A message row the read pass of this transaction already saw (so missing means corrupt).
fn reread(t: &redb::Table<'_, (u64, u32), &[u8]>, key: (u64, u32)) -> Result<MessageRow> {
    let v = t.get(key)?.ok_or(corrupt("message vanished"))?;
    MessageRow::decode(v.value()).ok_or(corrupt("message row"))
}

fn uid(n: u32) -> Result<Uid> {
    Ok(Uid(std::num::NonZeroU32::new(n).ok_or(corrupt("uid 0"))?))
}

/// Sorted, merged, non-empty ranges.
fn normalize(ranges: &[RangeInclusive<u32>]) -> Vec<(u32, u32)> {
    let mut v: Vec<(u32, u32)> = ranges
        .iter()
        .filter(|r| r.start() <= r.end())
        .map(|r| (*r.start(), *r.end()))
        .collect();
    v.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(v.len());
    for (lo, hi) in v {
        match out.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// Visits the messages of `mbox` in `ranges` (all if `None`) in UID order, collecting what `f`
/// returns for each.
fn select<T>(
    txn: &WriteTransaction,
    mbox: u64,
    ranges: Option<&[RangeInclusive<u32>]>,
    mut f: impl FnMut(u32, MessageRow) -> Result<Option<T>>,
) -> Result<Vec<T>> {
    let ranges = match ranges {
        Some(r) => normalize(r),
        None => vec![(0, u32::MAX)],
    };
    let t = txn.open_table(MESSAGES)?;
    let mut out = Vec::new();
    for (lo, hi) in ranges {
        for e in t.range((mbox, lo)..=(mbox, hi))? {
            let (k, v) = e?;
            let row = MessageRow::decode(v.value()).ok_or(corrupt("message row"))?;
            if let Some(x) = f(k.value().1, row)? {
                out.push(x);
            }
        }
    }
    Ok(out)
}

/// What removing a message changes besides its row.
#[derive(Debug, Clone, Copy)]
struct Gone {
    uid: u32,
    body: u64,
    size: u64,
    seen: bool,
}

impl Gone {
    fn of(uid: u32, row: &MessageRow) -> Gone {
        Gone {
            uid,
            body: row.body,
            size: row.size,
            seen: row.flags & flags::SEEN != 0,
        }
    }
}

/// Removes message rows of `mbox` (whose row is `row`, saved here), raising its HIGHESTMODSEQ
/// once and remembering the UIDs in VANISHED; drops the bodies' refs unless they moved on.
/// Returns the new modseq.
fn remove_messages(
    txn: &WriteTransaction,
    state: &mut State,
    mbox: u64,
    row: &mut MailboxRow,
    gone: &[Gone],
    drop_refs: bool,
) -> Result<u64> {
    {
        let mut t = txn.open_table(MESSAGES)?;
        for g in gone {
            t.remove((mbox, g.uid))?;
            row.messages -= 1;
            row.bytes -= g.size;
            row.unseen -= u32::from(!g.seen);
        }
    }
    row.highest_modseq += 1;
    let modseq = row.highest_modseq;
    record_vanished(txn, mbox, row, modseq, gone.iter().map(|g| g.uid))?;
    save_mailbox(txn, mbox, row)?;
    if drop_refs {
        for g in gone {
            drop_body_ref(txn, state, g.body)?;
        }
    }
    state.touch(mbox);
    Ok(modseq)
}

/// Remembers UIDs expunged at `modseq` (one modseq per expunge, RFC 7162 §3.2) and keeps the
/// newest [`VANISHED_KEEP`] of the mailbox. Entries that share a modseq are only useful
/// together (a request names a modseq, not a UID): when one expunge alone exceeds the bound,
/// none of it is kept and the floor becomes its modseq.
fn record_vanished(
    txn: &WriteTransaction,
    mbox: u64,
    row: &mut MailboxRow,
    modseq: u64,
    uids: impl ExactSizeIterator<Item = u32>,
) -> Result<()> {
    let mut t = txn.open_table(VANISHED)?;
    let all = (mbox, 0, 0)..=(mbox, u64::MAX, u32::MAX);
    let n = uids.len();
    if n > VANISHED_KEEP as usize {
        t.retain_in(all, |_, _| false)?;
        row.vanished = 0;
        row.vanished_floor = modseq;
        return Ok(());
    }
    for u in uids {
        t.insert((mbox, modseq, u), ())?;
    }
    row.vanished += n as u32;
    if row.vanished > VANISHED_KEEP {
        let excess = (row.vanished - VANISHED_KEEP) as usize;
        let oldest: Vec<(u64, u64, u32)> = t
            .range(all)?
            .take(excess)
            .map(|e| e.map(|(k, _)| k.value()))
            .collect::<std::result::Result<_, _>>()?;
        for k in oldest {
            t.remove(k)?;
            row.vanished_floor = row.vanished_floor.max(k.1);
        }
        row.vanished = VANISHED_KEEP;
    }
    Ok(())
}

/// Appends junk training events for `user` (body, spam) and keeps the newest [`TRAINING_KEEP`].
/// Sequence numbers per user are contiguous (new ones follow the last, old ones go from the
/// front), so the count is `last - first + 1`.
fn record_training(txn: &WriteTransaction, user: u64, events: &[(u64, bool)]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let now = crate::time::unix_now();
    let keep = TRAINING_KEEP as usize;
    let events = &events[events.len().saturating_sub(keep)..];
    let mut t = txn.open_table(TRAINING)?;
    let range = (user, 0)..=(user, u64::MAX);
    let (first, last) = {
        let mut r = t.range(range.clone())?;
        let first = r.next().transpose()?.map(|(k, _)| k.value().1);
        let last = r
            .next_back()
            .transpose()?
            .map(|(k, _)| k.value().1)
            .or(first);
        (first, last)
    };
    let mut next = last.map_or(1, |l| l + 1);
    let first = first.unwrap_or(next);
    for (body, spam) in events {
        t.insert((user, next), (*body, *spam, now))?;
        next += 1;
    }
    let count = next - first;
    for seq in first..first + count.saturating_sub(TRAINING_KEEP) {
        t.remove((user, seq))?;
    }
    Ok(())
}

/// [`super::Op::Append`]'s fields.
pub(super) struct AppendArgs<'a> {
    pub upload: UploadId,
    pub chunks_sent: usize,
    pub mailbox: MailboxId,
    pub flags: u32,
    pub keywords: &'a [String],
    pub internal_date: u64,
    pub tail: &'a [u8],
    pub summary: &'a [u8],
}

pub(super) fn append(txn: &WriteTransaction, state: &mut State, a: AppendArgs<'_>) -> Result<Done> {
    check_upload(state, a.upload, a.chunks_sent)?;
    let mut row = load_mailbox(txn, a.mailbox)?;
    if row.uidnext == u32::MAX {
        return Err(Refusal::UidsExhausted(row.name).into());
    }
    let wanted = distinct_keywords(a.keywords)?;
    if wanted.len() > MAX_KEYWORDS_PER_MESSAGE {
        return Err(Refusal::TooMany("keywords on one message").into());
    }
    let keywords = wanted
        .iter()
        .map(|k| intern(&mut row.keywords, k))
        .collect::<Option<Vec<String>>>()
        .ok_or(Refusal::TooMany("keywords in one mailbox"))?;
    super::quota::check_room(
        txn,
        UserId(row.user),
        upload_size(state, a.upload, &[], a.tail),
    )?;
    let (body, size) = store_body(txn, state, a.upload, &[], a.tail, a.summary, 1)?;
    let flags = a.flags & flags::ALL;
    let n = row.uidnext;
    row.uidnext += 1;
    row.highest_modseq += 1;
    row.messages += 1;
    row.unseen += u32::from(flags & flags::SEEN == 0);
    row.bytes += size;
    let msg = MessageRow {
        body: body.0,
        internal_date: a.internal_date,
        size,
        flags,
        keywords,
        modseq: row.highest_modseq,
    };
    txn.open_table(MESSAGES)?
        .insert((a.mailbox.0, n), msg.encode().as_slice())?;
    save_mailbox(txn, a.mailbox.0, &row)?;
    state.touch(a.mailbox.0);
    Ok(Done::Appended {
        body,
        uidvalidity: row.uidvalidity,
        uid: uid(n)?,
    })
}

/// A message's flags and keywords after a STORE.
fn stored(m: &MessageRow, mode: StoreMode, flags: u32, wanted: &[String]) -> (u32, Vec<String>) {
    match mode {
        StoreMode::Add => {
            let mut k = m.keywords.clone();
            for w in wanted {
                if find_ci(&k, w).is_none() {
                    k.push(w.clone());
                }
            }
            (m.flags | flags, k)
        }
        StoreMode::Remove => {
            let mut k = m.keywords.clone();
            k.retain(|x| find_ci(wanted, x).is_none());
            (m.flags & !flags, k)
        }
        StoreMode::Replace => (flags, wanted.to_vec()),
    }
}

/// The training verdicts a keyword change implies: `$Junk` newly set is spam, `$NotJunk` ham.
fn keyword_verdict(old: &[String], new: &[String]) -> Option<bool> {
    let added = |k: &str| find_ci(new, k).is_some() && find_ci(old, k).is_none();
    if added("$Junk") {
        Some(true)
    } else if added("$NotJunk") {
        Some(false)
    } else {
        None
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn store_flags(
    txn: &WriteTransaction,
    state: &mut State,
    mailbox: MailboxId,
    uids: &[RangeInclusive<u32>],
    mode: StoreMode,
    flags: u32,
    keywords: &[String],
    unchanged_since: Option<u64>,
) -> Result<Done> {
    let mut row = load_mailbox(txn, mailbox)?;
    let flags = flags & flags::ALL;
    let wanted = distinct_keywords(keywords)?;
    let mut list = row.keywords.clone();
    // In the mailbox's spelling; removing a keyword the mailbox never had adds nothing.
    let wanted: Vec<String> = match mode {
        StoreMode::Remove => wanted
            .into_iter()
            .map(|k| find_ci(&list, &k).cloned().unwrap_or(k))
            .collect(),
        StoreMode::Add | StoreMode::Replace => wanted
            .iter()
            .map(|k| intern(&mut list, k))
            .collect::<Option<_>>()
            .ok_or(Refusal::TooMany("keywords in one mailbox"))?,
    };
    // Read pass: what changes, what fails UNCHANGEDSINCE (RFC 7162 §3.1.3), what is refused.
    let mut failed = Vec::new();
    let plan = select(txn, mailbox.0, Some(uids), |n, m| {
        if unchanged_since.is_some_and(|since| m.modseq > since) {
            failed.push(uid(n)?);
            return Ok(None);
        }
        let (f, k) = stored(&m, mode, flags, &wanted);
        if k.len() > MAX_KEYWORDS_PER_MESSAGE {
            return Err(Refusal::TooMany("keywords on one message").into());
        }
        Ok((f != m.flags || k != m.keywords).then_some(n))
    })?;
    if plan.is_empty() {
        return Ok(Done::Stored {
            modseq: row.highest_modseq,
            changed: Vec::new(),
            failed,
        });
    }
    // Write pass. Every keyword in `wanted` is now on a changed message (Add, Replace), so the
    // grown list is the mailbox's.
    row.keywords = list;
    row.highest_modseq += 1;
    let modseq = row.highest_modseq;
    let mut changed = Vec::with_capacity(plan.len());
    let mut training = Vec::new();
    {
        let mut t = txn.open_table(MESSAGES)?;
        for n in plan {
            let mut m = reread(&t, (mailbox.0, n))?;
            let (f, k) = stored(&m, mode, flags, &wanted);
            let was_seen = m.flags & flags::SEEN != 0;
            let is_seen = f & flags::SEEN != 0;
            row.unseen = row.unseen + u32::from(was_seen) - u32::from(is_seen);
            if let Some(spam) = keyword_verdict(&m.keywords, &k) {
                training.push((m.body, spam));
            }
            m.flags = f;
            m.keywords = k;
            m.modseq = modseq;
            t.insert((mailbox.0, n), m.encode().as_slice())?;
            changed.push(FlagChange {
                uid: uid(n)?,
                flags: m.flags,
                keywords: m.keywords,
                modseq,
            });
        }
    }
    save_mailbox(txn, mailbox.0, &row)?;
    record_training(txn, row.user, &training)?;
    state.training_changed |= !training.is_empty();
    state.touch(mailbox.0);
    Ok(Done::Stored {
        modseq,
        changed,
        failed,
    })
}

/// COPY, or with `is_move` MOVE (RFC 6851: the copy and the expunge in one transaction).
pub(super) fn copy(
    txn: &WriteTransaction,
    state: &mut State,
    from: MailboxId,
    uids: &[RangeInclusive<u32>],
    to: MailboxId,
    is_move: bool,
) -> Result<Done> {
    let src = load_mailbox(txn, from)?;
    let mut dst = load_mailbox(txn, to)?;
    if src.user != dst.user {
        return Err(Refusal::NoSuchMailbox(format!("#{}", to.0)).into());
    }
    let picked = select(txn, from.0, Some(uids), |n, m| Ok(Some(Gone::of(n, &m))))?;
    if picked.is_empty() {
        return Ok(if is_move {
            Done::Moved {
                uidvalidity: dst.uidvalidity,
                uids: Vec::new(),
                modseq: src.highest_modseq,
            }
        } else {
            Done::Copied {
                uidvalidity: dst.uidvalidity,
                uids: Vec::new(),
            }
        });
    }
    if u64::from(dst.uidnext) + picked.len() as u64 > u64::from(u32::MAX) {
        return Err(Refusal::UidsExhausted(dst.name).into());
    }
    // A move only shifts bytes between two mailboxes of the same user.
    if !is_move {
        let adding = picked.iter().map(|g| g.size).sum();
        super::quota::check_room(txn, UserId(dst.user), adding)?;
    }
    dst.highest_modseq += 1;
    let modseq = dst.highest_modseq;
    let mut pairs = Vec::with_capacity(picked.len());
    let mut refs: BTreeMap<u64, u32> = BTreeMap::new();
    {
        let mut t = txn.open_table(MESSAGES)?;
        for g in &picked {
            let mut m = reread(&t, (from.0, g.uid))?;
            let n = dst.uidnext;
            dst.uidnext += 1;
            dst.messages += 1;
            dst.bytes += m.size;
            dst.unseen += u32::from(!g.seen);
            m.modseq = modseq;
            // Keywords the target has no room for are dropped rather than failing the copy.
            m.keywords = m
                .keywords
                .iter()
                .filter_map(|k| intern(&mut dst.keywords, k))
                .collect();
            t.insert((to.0, n), m.encode().as_slice())?;
            *refs.entry(g.body).or_default() += 1;
            pairs.push((uid(g.uid)?, uid(n)?));
        }
    }
    save_mailbox(txn, to.0, &dst)?;
    state.touch(to.0);
    let into_junk = dst.special_use == SpecialUse::Junk && src.special_use != SpecialUse::Junk;
    let out_of_junk = is_move
        && src.special_use == SpecialUse::Junk
        && !matches!(dst.special_use, SpecialUse::Junk | SpecialUse::Trash);
    if into_junk || out_of_junk {
        let events: Vec<(u64, bool)> = picked.iter().map(|g| (g.body, into_junk)).collect();
        record_training(txn, src.user, &events)?;
        state.training_changed = true;
    }
    if !is_move {
        add_body_refs(txn, &refs)?;
        return Ok(Done::Copied {
            uidvalidity: dst.uidvalidity,
            uids: pairs,
        });
    }
    // Reloaded: the source may be the target.
    let mut src = load_mailbox(txn, from)?;
    let modseq = remove_messages(txn, state, from.0, &mut src, &picked, false)?;
    Ok(Done::Moved {
        uidvalidity: dst.uidvalidity,
        uids: pairs,
        modseq,
    })
}

pub(super) fn expunge(
    txn: &WriteTransaction,
    state: &mut State,
    mailbox: MailboxId,
    uids: Option<&[RangeInclusive<u32>]>,
    flagged_only: bool,
) -> Result<Done> {
    let mut row = load_mailbox(txn, mailbox)?;
    let gone = select(txn, mailbox.0, uids, |n, m| {
        Ok((!flagged_only || m.flags & flags::DELETED != 0).then(|| Gone::of(n, &m)))
    })?;
    if gone.is_empty() {
        return Ok(Done::Expunged {
            modseq: row.highest_modseq,
            uids: Vec::new(),
        });
    }
    let modseq = remove_messages(txn, state, mailbox.0, &mut row, &gone, true)?;
    Ok(Done::Expunged {
        modseq,
        uids: gone.iter().map(|g| uid(g.uid)).collect::<Result<_>>()?,
    })
}

/// Renaming INBOX: every message moves, in UID order, to the new (empty) mailbox `to`, which
/// takes INBOX's keyword list; INBOX keeps its UIDVALIDITY and UIDNEXT and remembers the UIDs.
pub(super) fn move_all(
    txn: &WriteTransaction,
    state: &mut State,
    from: u64,
    to: u64,
) -> Result<()> {
    let mut src = load_mailbox(txn, MailboxId(from))?;
    let mut dst = load_mailbox(txn, MailboxId(to))?;
    let picked = select(txn, from, None, |n, m| Ok(Some(Gone::of(n, &m))))?;
    if picked.is_empty() {
        return Ok(());
    }
    dst.keywords = src.keywords.clone();
    dst.highest_modseq += 1;
    {
        let mut t = txn.open_table(MESSAGES)?;
        for g in &picked {
            let mut m = reread(&t, (from, g.uid))?;
            m.modseq = dst.highest_modseq;
            t.insert((to, dst.uidnext), m.encode().as_slice())?;
            dst.uidnext += 1;
            dst.messages += 1;
            dst.bytes += m.size;
            dst.unseen += u32::from(!g.seen);
        }
    }
    save_mailbox(txn, to, &dst)?;
    state.touch(to);
    remove_messages(txn, state, from, &mut src, &picked, false)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords() {
        for ok in [
            "$Junk",
            "work",
            "a.b-c_d",
            "~x",
            &"k".repeat(MAX_KEYWORD_BYTES),
        ] {
            assert_eq!(check_keyword(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "\\Seen",
            "a b",
            "a(b",
            "a]",
            "%",
            "*",
            "\"q\"",
            "{3}",
            "é",
            "a\u{1}",
            &"k".repeat(MAX_KEYWORD_BYTES + 1),
        ] {
            assert!(check_keyword(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    #[allow(clippy::reversed_empty_ranges)]
    fn ranges_merge() {
        assert_eq!(
            normalize(&[5..=9, 1..=2, 3..=3, 8..=12, 20..=19, 30..=u32::MAX]),
            vec![(1, 3), (5, 12), (30, u32::MAX)]
        );
        assert_eq!(normalize(&[]), vec![]);
    }

    #[test]
    fn store_modes() {
        let m = MessageRow {
            body: 1,
            internal_date: 0,
            size: 1,
            flags: flags::SEEN | flags::FLAGGED,
            keywords: vec!["a".into(), "B".into()],
            modseq: 1,
        };
        let kw = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            stored(&m, StoreMode::Add, flags::DELETED, &kw(&["b", "c"])),
            (
                flags::SEEN | flags::FLAGGED | flags::DELETED,
                kw(&["a", "B", "c"])
            )
        );
        assert_eq!(
            stored(&m, StoreMode::Remove, flags::SEEN, &kw(&["b"])),
            (flags::FLAGGED, kw(&["a"]))
        );
        assert_eq!(
            stored(&m, StoreMode::Replace, 0, &kw(&["z"])),
            (0, kw(&["z"]))
        );
        assert_eq!(keyword_verdict(&kw(&[]), &kw(&["$junk"])), Some(true));
        assert_eq!(keyword_verdict(&kw(&["$Junk"]), &kw(&["$Junk"])), None);
        assert_eq!(keyword_verdict(&kw(&[]), &kw(&["$NotJunk"])), Some(false));
    }
}

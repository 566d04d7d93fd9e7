//! A session's view of its selected mailbox: the message sequence numbers it has been told
//! about (RFC 9051 §2.3.1.2) and when changes from other sessions may be reported.
//!
//! Invariants:
//! - `uids` is strictly ascending: sequence number n is `uids[n-1]`;
//! - a message expunged elsewhere stays in the view (its sequence number stable) until an
//!   EXPUNGE (or VANISHED) response may be sent — never while answering FETCH, STORE or SEARCH
//!   (RFC 9051 §7.5.1); new messages are added at once (EXISTS may be sent at any time);
//! - memory is one `u32` per message plus the expunges not yet reported.

use imap_codec::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};

/// Untagged updates to send after a sync.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Updates {
    /// Sequence numbers to report with EXPUNGE, in the order to send them (each already shifted
    /// for the ones before it, as RFC 9051 §7.5.1 requires).
    pub expunged_seqs: Vec<u32>,
    /// UIDs to report with VANISHED instead, when QRESYNC is enabled (RFC 7162 §3.2.10).
    pub vanished_uids: Vec<u32>,
    /// New message count to report with EXISTS, if it changed.
    pub exists: Option<u32>,
}

/// The selected mailbox as this session knows it.
#[derive(Debug, Clone)]
pub struct MailboxView {
    /// UIDVALIDITY when selected.
    pub uidvalidity: u32,
    uids: Vec<u32>,
    pending_expunge: Vec<u32>,
    /// Highest MODSEQ this session has reported changes up to.
    pub modseq: u64,
    /// Selected read-only (EXAMINE).
    pub read_only: bool,
}

impl MailboxView {
    /// A view of `uids` (ascending) at `modseq`.
    pub fn new(uidvalidity: u32, mut uids: Vec<u32>, modseq: u64, read_only: bool) -> MailboxView {
        uids.sort_unstable();
        uids.dedup();
        MailboxView {
            uidvalidity,
            uids,
            pending_expunge: Vec::new(),
            modseq,
            read_only,
        }
    }

    /// Messages in the view (EXISTS).
    pub fn exists(&self) -> u32 {
        self.uids.len() as u32
    }

    /// The UID of sequence number `seq`.
    pub fn uid(&self, seq: u32) -> Option<u32> {
        self.uids.get(seq.checked_sub(1)? as usize).copied()
    }

    /// The sequence number of `uid`, if in the view.
    pub fn seq(&self, uid: u32) -> Option<u32> {
        self.uids.binary_search(&uid).ok().map(|i| i as u32 + 1)
    }

    /// All UIDs in sequence order.
    pub fn uids(&self) -> &[u32] {
        &self.uids
    }

    /// Whether expunges made elsewhere wait to be reported.
    pub fn has_pending_expunges(&self) -> bool {
        !self.pending_expunge.is_empty()
    }

    /// Whether `uid` was expunged elsewhere but not yet reported.
    pub fn is_expunged(&self, uid: u32) -> bool {
        self.pending_expunge.binary_search(&uid).is_ok()
    }

    /// The messages a sequence set names, as (seq, uid) in ascending order. With `uid`, the set
    /// holds UIDs and `*` is the highest UID; otherwise sequence numbers and `*` is the last
    /// message (RFC 9051 §6.4.8, §9 `seq-number`). Numbers beyond the mailbox are ignored for UID
    /// sets; for sequence sets they make the set invalid (`None`, a BAD for the client).
    pub fn resolve(&self, set: &SequenceSet, uid: bool) -> Option<Vec<(u32, u32)>> {
        let mut out = Vec::new();
        if uid {
            let largest = self.uids.last().copied().unwrap_or(0);
            for seq in set.0.as_ref() {
                let (lo, hi) = bounds(seq, largest);
                let start = self.uids.partition_point(|&u| u < lo);
                for (i, &u) in self.uids[start..].iter().enumerate() {
                    if u > hi {
                        break;
                    }
                    out.push((start as u32 + i as u32 + 1, u));
                }
            }
        } else {
            let largest = self.exists();
            for seq in set.0.as_ref() {
                let (lo, hi) = bounds(seq, largest);
                if lo == 0 || hi > largest {
                    return None;
                }
                for s in lo..=hi {
                    out.push((s, self.uids[s as usize - 1]));
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        Some(out)
    }

    /// Takes in the mailbox's current UIDs (from the store) and returns what to tell the client.
    /// New UIDs join at once; missing ones are reported only when `may_expunge`.
    pub fn sync(&mut self, current: &[u32], may_expunge: bool, qresync: bool) -> Updates {
        let mut updates = Updates::default();
        // Expunged elsewhere: in the view, no longer in the store.
        for &u in &self.uids {
            if current.binary_search(&u).is_err() && self.pending_expunge.binary_search(&u).is_err()
            {
                let at = self.pending_expunge.partition_point(|&x| x < u);
                self.pending_expunge.insert(at, u);
            }
        }
        if may_expunge && !self.pending_expunge.is_empty() {
            let gone = std::mem::take(&mut self.pending_expunge);
            if qresync {
                updates.vanished_uids = gone.clone();
            } else {
                // Highest first: each EXPUNGE then leaves the lower numbers unchanged.
                for &u in gone.iter().rev() {
                    if let Some(seq) = self.seq(u) {
                        updates.expunged_seqs.push(seq);
                    }
                }
            }
            self.uids.retain(|u| gone.binary_search(u).is_err());
        }
        let before = self.exists();
        let highest = self.uids.last().copied().unwrap_or(0);
        for &u in current {
            if u > highest {
                self.uids.push(u);
            }
        }
        if self.exists() != before {
            updates.exists = Some(self.exists());
        }
        updates
    }

    /// Removes messages this session itself expunged (reported in its own response).
    /// Returns their sequence numbers in sending order (highest first).
    pub fn remove_own(&mut self, uids: &[u32]) -> Vec<u32> {
        let mut seqs = Vec::new();
        let mut sorted = uids.to_vec();
        sorted.sort_unstable();
        for &u in sorted.iter().rev() {
            if let Some(seq) = self.seq(u) {
                seqs.push(seq);
            }
        }
        self.uids.retain(|u| sorted.binary_search(u).is_err());
        self.pending_expunge
            .retain(|u| sorted.binary_search(u).is_err());
        seqs
    }
}

fn bound(v: &SeqOrUid, largest: u32) -> u32 {
    match v {
        SeqOrUid::Value(n) => n.get(),
        SeqOrUid::Asterisk => largest,
    }
}

/// Inclusive bounds of one sequence item (`a:b` is the same as `b:a`).
fn bounds(seq: &Sequence, largest: u32) -> (u32, u32) {
    match seq {
        Sequence::Single(v) => {
            let n = bound(v, largest);
            (n, n)
        }
        Sequence::Range(a, b) => {
            let (a, b) = (bound(a, largest), bound(b, largest));
            (a.min(b), a.max(b))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(s: &str) -> SequenceSet {
        SequenceSet::try_from(s).unwrap()
    }

    #[test]
    fn resolves_sequence_and_uid_sets() {
        let v = MailboxView::new(1, vec![3, 5, 9, 10], 1, false);
        assert_eq!(v.resolve(&set("1:2"), false), Some(vec![(1, 3), (2, 5)]));
        assert_eq!(v.resolve(&set("*"), false), Some(vec![(4, 10)]));
        assert_eq!(
            v.resolve(&set("4:2"), false),
            Some(vec![(2, 5), (3, 9), (4, 10)])
        );
        assert_eq!(v.resolve(&set("5"), false), None);
        assert_eq!(v.resolve(&set("4:9"), true), Some(vec![(2, 5), (3, 9)]));
        assert_eq!(v.resolve(&set("11:*"), true), Some(vec![(4, 10)]));
        assert_eq!(v.resolve(&set("100"), true), Some(vec![]));
    }

    #[test]
    fn holds_expunges_until_allowed_and_shifts_numbers() {
        let mut v = MailboxView::new(1, vec![1, 2, 3, 4, 5], 1, false);
        let u = v.sync(&[1, 3, 5, 6], false, false);
        assert_eq!(
            u,
            Updates {
                exists: Some(6),
                ..Updates::default()
            }
        );
        assert_eq!(v.seq(2), Some(2), "still addressable until reported");
        assert!(v.is_expunged(2));
        let u = v.sync(&[1, 3, 5, 6], true, false);
        assert_eq!(u.expunged_seqs, vec![4, 2]);
        assert_eq!(v.uids(), &[1, 3, 5, 6]);
        let mut q = MailboxView::new(1, vec![1, 2, 3], 1, false);
        assert_eq!(q.sync(&[3], true, true).vanished_uids, vec![1, 2]);
        assert_eq!(q.remove_own(&[3]), vec![1]);
        assert_eq!(q.exists(), 0);
    }
}

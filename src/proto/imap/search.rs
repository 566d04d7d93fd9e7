//! SEARCH evaluation (RFC 9051 §6.4.4, RFC 7162 MODSEQ): whether one message matches a search
//! key. The message is seen through [`Candidate`], whose costly parts (headers, decoded text) the
//! driver loads only when a key needs them; cheap keys are evaluated first within AND so most
//! searches never read a body.
//!
//! String keys match as case-insensitive substrings of decoded text (Unicode lower-casing, RFC 9051
//! §6.4.4); dates compare calendar days, ignoring time and zone (INTERNALDATE in UTC, the Date:
//! header in its own zone).

use chrono::NaiveDate;
use imap_codec::imap_types::search::SearchKey;
use imap_codec::imap_types::sequence::SequenceSet;

/// System flags of a message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SysFlags {
    /// \Seen
    pub seen: bool,
    /// \Answered
    pub answered: bool,
    /// \Flagged
    pub flagged: bool,
    /// \Deleted
    pub deleted: bool,
    /// \Draft
    pub draft: bool,
    /// \Recent
    pub recent: bool,
}

/// Address header fields a key can search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// From:
    From,
    /// To:
    To,
    /// Cc:
    Cc,
    /// Bcc:
    Bcc,
    /// Subject:
    Subject,
}

impl Field {
    /// The header name.
    pub fn name(self) -> &'static str {
        match self {
            Field::From => "From",
            Field::To => "To",
            Field::Cc => "Cc",
            Field::Bcc => "Bcc",
            Field::Subject => "Subject",
        }
    }
}

/// One message as the evaluator sees it.
pub trait Candidate {
    /// Sequence number.
    fn seq(&self) -> u32;
    /// UID.
    fn uid(&self) -> u32;
    /// System flags.
    fn flags(&self) -> SysFlags;
    /// Whether the keyword is set (case-insensitive, RFC 9051 §2.3.2).
    fn has_keyword(&self, keyword: &str) -> bool;
    /// INTERNALDATE's calendar day (UTC).
    fn internal_day(&self) -> NaiveDate;
    /// RFC822.SIZE.
    fn size(&self) -> u64;
    /// MODSEQ.
    fn modseq(&self) -> u64;
    /// The Date: header's calendar day, if it parses.
    fn sent_day(&mut self) -> Option<NaiveDate>;
    /// Decoded, lower-cased values of every header field named `name` (case-insensitive).
    fn header(&mut self, name: &str) -> Vec<String>;
    /// Whether the decoded body text (all text parts) contains `needle` (already lower-case).
    fn body_contains(&mut self, needle: &str) -> bool;
    /// Whether the decoded header section (MIME part headers included) contains `needle`.
    fn headers_contain(&mut self, needle: &str) -> bool;
}

/// Context shared by all messages of one search.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The mailbox's sequence-number to UID view, for sequence-set keys.
    pub max_seq: u32,
    /// The highest UID, for `*` in UID keys.
    pub max_uid: u32,
    /// Set when a key mentioned MODSEQ (the response then carries `(MODSEQ n)`).
    pub modseq_used: &'a std::cell::Cell<bool>,
}

fn lower(s: &[u8]) -> String {
    String::from_utf8_lossy(s).to_lowercase()
}

fn in_set(set: &SequenceSet, n: u32, largest: u32) -> bool {
    use imap_codec::imap_types::sequence::{SeqOrUid, Sequence};
    let v = |x: &SeqOrUid| match x {
        SeqOrUid::Value(v) => v.get(),
        SeqOrUid::Asterisk => largest,
    };
    set.0.as_ref().iter().any(|s| match s {
        Sequence::Single(x) => v(x) == n,
        Sequence::Range(a, b) => {
            let (a, b) = (v(a), v(b));
            (a.min(b)..=a.max(b)).contains(&n)
        }
    })
}

/// Rough cost of a key: flags and numbers 0, headers 1, bodies 2. Used to order AND operands.
fn cost(key: &SearchKey<'_>) -> u8 {
    use SearchKey as K;
    match key {
        K::Body(_) | K::Text(_) => 2,
        K::Bcc(_) | K::Cc(_) | K::From(_) | K::To(_) | K::Subject(_) | K::Header(..) => 1,
        K::SentBefore(_) | K::SentOn(_) | K::SentSince(_) => 1,
        K::And(keys) => keys.as_ref().iter().map(cost).max().unwrap_or(0),
        K::Or(a, b) => cost(a).max(cost(b)),
        K::Not(k) => cost(k),
        _ => 0,
    }
}

/// Whether `m` matches `key`.
pub fn matches(key: &SearchKey<'_>, m: &mut dyn Candidate, cx: &Context<'_>) -> bool {
    use SearchKey as K;
    let contains = |hay: &[String], needle: &[u8]| {
        let needle = lower(needle);
        hay.iter().any(|h| h.contains(&needle))
    };
    match key {
        K::All => true,
        K::And(keys) => {
            let mut ordered: Vec<&SearchKey<'_>> = keys.as_ref().iter().collect();
            ordered.sort_by_key(|k| cost(k));
            ordered.into_iter().all(|k| matches(k, m, cx))
        }
        K::Or(a, b) => {
            let (first, second) = if cost(a) <= cost(b) { (a, b) } else { (b, a) };
            matches(first, m, cx) || matches(second, m, cx)
        }
        K::Not(k) => !matches(k, m, cx),
        K::SequenceSet(set) => in_set(set, m.seq(), cx.max_seq),
        K::Uid(set) => in_set(set, m.uid(), cx.max_uid),
        K::Answered => m.flags().answered,
        K::Unanswered => !m.flags().answered,
        K::Deleted => m.flags().deleted,
        K::Undeleted => !m.flags().deleted,
        K::Draft => m.flags().draft,
        K::Undraft => !m.flags().draft,
        K::Flagged => m.flags().flagged,
        K::Unflagged => !m.flags().flagged,
        K::Seen => m.flags().seen,
        K::Unseen => !m.flags().seen,
        K::Recent => m.flags().recent,
        K::New => m.flags().recent && !m.flags().seen,
        K::Old => !m.flags().recent,
        K::Keyword(k) => m.has_keyword(k.inner()),
        K::Unkeyword(k) => !m.has_keyword(k.inner()),
        K::Larger(n) => m.size() > u64::from(*n),
        K::Smaller(n) => m.size() < u64::from(*n),
        K::Before(d) => m.internal_day() < *d.as_ref(),
        K::On(d) => m.internal_day() == *d.as_ref(),
        K::Since(d) => m.internal_day() >= *d.as_ref(),
        K::SentBefore(d) => m.sent_day().is_some_and(|s| s < *d.as_ref()),
        K::SentOn(d) => m.sent_day().is_some_and(|s| s == *d.as_ref()),
        K::SentSince(d) => m.sent_day().is_some_and(|s| s >= *d.as_ref()),
        K::From(s) => contains(&m.header(Field::From.name()), s.as_ref()),
        K::To(s) => contains(&m.header(Field::To.name()), s.as_ref()),
        K::Cc(s) => contains(&m.header(Field::Cc.name()), s.as_ref()),
        K::Bcc(s) => contains(&m.header(Field::Bcc.name()), s.as_ref()),
        K::Subject(s) => contains(&m.header(Field::Subject.name()), s.as_ref()),
        K::Header(name, value) => {
            let name = String::from_utf8_lossy(name.as_ref()).into_owned();
            let values = m.header(&name);
            // RFC 9051 §6.4.4: an empty string matches every message that has the field.
            if value.as_ref().is_empty() {
                !values.is_empty()
            } else {
                contains(&values, value.as_ref())
            }
        }
        K::Body(s) => m.body_contains(&lower(s.as_ref())),
        K::Text(s) => {
            let needle = lower(s.as_ref());
            m.headers_contain(&needle) || m.body_contains(&needle)
        }
        K::ModSequence { modseq, .. } => {
            cx.modseq_used.set(true);
            m.modseq() >= *modseq
        }
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// Whether a key needs the message's headers or text (so the driver can pre-load for a batch).
pub fn needs_content(key: &SearchKey<'_>) -> bool {
    cost(key) > 0
}

//! `mailnook queue list|show|retry|delete`: the outbound queue as the operator sees it.
//!
//! Invariants:
//! - Read-only commands read one snapshot of the queue table; `retry` and `delete` are single
//!   store operations ([`Op::QueueRetry`], [`Op::QueueDelete`]), so they never race the
//!   scheduler into a half-changed row (a running scheduler wakes on the store's queue
//!   notification).
//! - An id is the hexadecimal [`QueueId`] that `queue list` prints; anything else is refused with
//!   one line before the store is asked.
//! - Output is bounded and single-line per field: reply texts are stripped of control characters
//!   and cut, and `show` reads at most [`MAX_HEADER_BYTES`] of the message.

use super::admin::AdminError;
use crate::store::{self, Op, QueueId, QueuedMessage, RcptState, Refusal, Store};
use std::io::Write;

/// Most bytes of a queued message's header section `queue show` prints.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Longest last-result text in `queue list`.
const LIST_RESULT_CHARS: usize = 80;

fn invalid(s: impl Into<String>) -> AdminError {
    AdminError::Invalid(s.into())
}

/// Parses a queue id as `queue list` shows it (hexadecimal).
pub fn parse_id(s: &str) -> Result<QueueId, AdminError> {
    let t = s.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if t.is_empty() || t.len() > 16 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(format!(
            "`{s}` is not a queue id (the hexadecimal id `mailnook queue list` shows)"
        )));
    }
    u64::from_str_radix(t, 16)
        .map(QueueId)
        .map_err(|_| invalid(format!("`{s}` is not a queue id")))
}

/// A duration in seconds as its largest whole unit: `45s`, `3m`, `2h`, `4d`.
pub fn short_duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86_400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

/// When the next attempt is due, relative to `now`: `now` or `in 5m`.
pub fn next_attempt(next: u64, now: u64) -> String {
    if next <= now {
        "now".to_string()
    } else {
        format!("in {}", short_duration(next - now))
    }
}

fn one_line(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

fn state_word(s: RcptState) -> &'static str {
    match s {
        RcptState::Pending => "pending",
        RcptState::Delivered => "delivered",
        RcptState::Failed => "failed",
    }
}

fn lookup(store: &Store, id: &str) -> Result<QueuedMessage, AdminError> {
    let id = parse_id(id)?;
    store
        .queued(id)?
        .ok_or_else(|| store::Error::from(Refusal::NoSuchQueued(id.to_string())).into())
}

/// One line of `queue list` for `m` at `now`.
pub fn list_line(m: &QueuedMessage, now: u64) -> String {
    let pending = m.pending().count();
    let last = m
        .pending()
        .next()
        .map(|r| r.last_result.as_str())
        .filter(|s| !s.is_empty())
        .unwrap_or("-");
    format!(
        "{}\t{}\t{}\t{}\tfrom=<{}>\t{}/{}\t{}",
        m.id,
        short_duration(now.saturating_sub(m.created)),
        next_attempt(m.next_attempt, now),
        m.attempts,
        one_line(&m.from, 256),
        pending,
        m.rcpts.len(),
        one_line(last, LIST_RESULT_CHARS)
    )
}

/// `queue list`.
pub fn list(store: &Store, out: &mut dyn Write) -> Result<(), AdminError> {
    let rows = store.queue()?;
    if rows.is_empty() {
        writeln!(out, "queue is empty")?;
        return Ok(());
    }
    let now = crate::time::unix_now();
    writeln!(out, "ID\tAGE\tNEXT\tTRIES\tFROM\tPENDING\tLAST RESULT")?;
    for m in &rows {
        writeln!(out, "{}", list_line(m, now))?;
    }
    Ok(())
}

/// Reads the header section of `body` (up to and including the empty line, at most
/// [`MAX_HEADER_BYTES`]); the flag says whether it was cut short.
fn read_header(store: &Store, body: store::BodyId) -> Result<Option<(Vec<u8>, bool)>, AdminError> {
    let Some(reader) = store.open_body(body)? else {
        return Ok(None);
    };
    let mut buf = vec![0u8; MAX_HEADER_BYTES.min(reader.size() as usize)];
    let mut filled = 0;
    while filled < buf.len() {
        let n = reader
            .read_at(filled as u64, &mut buf[filled..])
            .map_err(|e| invalid(format!("reading the queued message: {e}")))?;
        if n == 0 {
            break;
        }
        filled += n;
        if let Some(end) = header_end(&buf[..filled]) {
            buf.truncate(end);
            return Ok(Some((buf, false)));
        }
    }
    buf.truncate(filled);
    let cut = (filled as u64) < reader.size();
    Ok(Some((buf, cut)))
}

/// Where the header section ends: the offset just past its last field line (the empty line
/// that follows is not included).
fn header_end(b: &[u8]) -> Option<usize> {
    if b.starts_with(b"\r\n") || b.starts_with(b"\n") {
        return Some(0);
    }
    let mut i = 0;
    while let Some(p) = b[i..].iter().position(|&c| c == b'\n') {
        let next = i + p + 1;
        let rest = &b[next..];
        if rest.starts_with(b"\r\n") || rest.starts_with(b"\n") {
            return Some(next);
        }
        i = next;
    }
    None
}

/// `queue show ID`.
pub fn show(store: &Store, id: &str, out: &mut dyn Write) -> Result<(), AdminError> {
    let m = lookup(store, id)?;
    let now = crate::time::unix_now();
    writeln!(out, "id:        {}", m.id)?;
    writeln!(out, "from:      <{}>", one_line(&m.from, 512))?;
    writeln!(
        out,
        "queued:    {} ({} ago)",
        crate::time::iso8601(m.created),
        short_duration(now.saturating_sub(m.created))
    )?;
    writeln!(
        out,
        "next try:  {} ({})",
        crate::time::iso8601(m.next_attempt),
        next_attempt(m.next_attempt, now)
    )?;
    writeln!(out, "attempts:  {}", m.attempts)?;
    writeln!(
        out,
        "warned:    {}",
        if m.warned {
            "yes (the sender was told of the delay)"
        } else {
            "no"
        }
    )?;
    let size = store.body_size(m.body)?;
    match size {
        Some(n) => writeln!(out, "size:      {n} bytes")?,
        None => writeln!(out, "size:      unknown (message body missing)")?,
    }
    writeln!(
        out,
        "rcpts:     {} pending of {}",
        m.pending().count(),
        m.rcpts.len()
    )?;
    for r in &m.rcpts {
        let last = if r.last_result.is_empty() {
            "-"
        } else {
            &r.last_result
        };
        writeln!(
            out,
            "  <{}>\t{}\t{}",
            one_line(&r.address, 512),
            state_word(r.state),
            one_line(last, store::queue::MAX_RESULT_BYTES)
        )?;
    }
    writeln!(out)?;
    match read_header(store, m.body)? {
        Some((header, cut)) => {
            out.write_all(&header)?;
            if !header.is_empty() && !header.ends_with(b"\n") {
                writeln!(out)?;
            }
            if cut {
                writeln!(
                    out,
                    "[header section cut at {} KiB]",
                    MAX_HEADER_BYTES / 1024
                )?;
            }
        }
        None => writeln!(out, "[message body is gone]")?,
    }
    Ok(())
}

/// `queue retry ID` / `queue retry --all`.
pub fn retry(store: &Store, id: Option<&str>, out: &mut dyn Write) -> Result<(), AdminError> {
    let now = crate::time::unix_now();
    match id {
        Some(id) => {
            let id = parse_id(id)?;
            store.call_blocking(Op::QueueRetry { id: Some(id), now })?;
            writeln!(out, "{id}: next attempt now")?;
        }
        None => {
            let n = store.queue()?.len();
            if n == 0 {
                writeln!(out, "queue is empty")?;
                return Ok(());
            }
            store.call_blocking(Op::QueueRetry { id: None, now })?;
            let s = if n == 1 { "" } else { "s" };
            writeln!(out, "{n} queued message{s}: next attempt now")?;
        }
    }
    Ok(())
}

/// `queue delete ID`.
pub fn delete(store: &Store, id: &str, out: &mut dyn Write) -> Result<(), AdminError> {
    let id = parse_id(id)?;
    store.call_blocking(Op::QueueDelete(id))?;
    writeln!(out, "deleted {id}")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{BodyId, QueuedRcpt};

    #[test]
    fn ids_are_hex_and_bad_ones_are_refused() {
        assert_eq!(parse_id("1a").unwrap(), QueueId(0x1a));
        assert_eq!(parse_id("0xFF").unwrap(), QueueId(255));
        assert_eq!(parse_id("ffffffffffffffff").unwrap(), QueueId(u64::MAX));
        for bad in ["", "zz", "-1", "1 2", "12345678901234567", "0x"] {
            assert!(parse_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations_use_the_largest_unit() {
        assert_eq!(short_duration(0), "0s");
        assert_eq!(short_duration(59), "59s");
        assert_eq!(short_duration(180), "3m");
        assert_eq!(short_duration(7300), "2h");
        assert_eq!(short_duration(4 * 86_400 + 5), "4d");
        assert_eq!(next_attempt(10, 10), "now");
        assert_eq!(next_attempt(5, 10), "now");
        assert_eq!(next_attempt(310, 10), "in 5m");
    }

    #[test]
    fn header_ends_at_the_first_empty_line() {
        assert_eq!(header_end(b"A: 1\r\nB: 2\r\n\r\nbody"), Some(12));
        assert_eq!(header_end(b"A: 1\nB: 2\n\nbody"), Some(10));
        assert_eq!(header_end(b"\r\nbody"), Some(0));
        assert_eq!(header_end(b"A: 1\r\nB: 2"), None);
    }

    #[test]
    fn list_line_shows_the_first_pending_result_cut_short() {
        let m = QueuedMessage {
            id: QueueId(0x2b),
            body: BodyId(1),
            from: "a@example.test".into(),
            created: 1000,
            next_attempt: 1000 + 600,
            attempts: 2,
            warned: false,
            rcpts: vec![
                QueuedRcpt {
                    address: "x@remote.test".into(),
                    state: RcptState::Delivered,
                    last_result: "250 ok".into(),
                },
                QueuedRcpt {
                    address: "y@remote.test".into(),
                    state: RcptState::Pending,
                    last_result: format!("451 4.7.1 {}\r\nmore", "x".repeat(200)),
                },
            ],
        };
        let line = list_line(&m, 1000 + 180);
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(
            cols[..6],
            ["2b", "3m", "in 7m", "2", "from=<a@example.test>", "1/2"]
        );
        assert!(cols[6].starts_with("451 4.7.1 xxx"), "{line}");
        assert_eq!(cols[6].chars().count(), LIST_RESULT_CHARS + 1);
        assert!(!line.contains('\n') && !line.contains('\r'));
    }
}

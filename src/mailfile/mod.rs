//! Mail folder files other programs read and write: mbox ([`mbox`], RFC 4155 with mboxrd
//! quoting) and Maildir / Maildir++ ([`maildir`]), as used by `mailnook export`, `mailnook
//! import` and the web page's mail download.
//!
//! Everything here is pure: readers take a [`BufRead`], writers a [`Write`]; no store, no
//! sockets, no clock. Every read is bounded: input is taken in line pieces of at most
//! [`LINE_PIECE_BYTES`] ([`Lines`]), so a file with a line of any length costs one piece of
//! memory. Only a line's first piece is looked at for separators, quoting and metadata
//! headers; writer and reader apply that same rule, so what one writes the other reads back.
//!
//! Flags and keywords travel as [`Meta`]; the letters and header fields each format uses are
//! in its module. Line endings: messages are written with the bytes the store holds (CRLF);
//! a message read from a file whose first line ends in a bare LF (the usual Unix convention
//! of mutt, Dovecot and Python's `mailbox`) is given CRLF line endings ([`CrlfFixer`]), as
//! RFC 5322 §2.3 and IMAP APPEND (RFC 9051 §6.3.12) expect.

pub mod maildir;
pub mod mbox;
pub mod tar;

use std::io::{self, BufRead};

/// Longest piece of a line handled at once.
pub const LINE_PIECE_BYTES: usize = 64 * 1024;

/// A message's flags, keywords and INTERNALDATE as a mail folder file records them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    /// System flags ([`flags`]).
    pub flags: u32,
    /// Keywords, in the order found.
    pub keywords: Vec<String>,
    /// INTERNALDATE in Unix seconds, if the file records one.
    pub internal_date: Option<u64>,
}

impl Meta {
    /// Adds a keyword unless present (ASCII case-insensitively, as IMAP compares them).
    pub fn add_keyword(&mut self, k: &str) {
        if !k.is_empty() && !self.keywords.iter().any(|x| x.eq_ignore_ascii_case(k)) {
            self.keywords.push(k.to_string());
        }
    }
}

/// The keyword standing for Maildir's `P` (passed/forwarded) flag, which IMAP has no system
/// flag for (RFC 5788 registry: `$Forwarded`).
pub const FORWARDED: &str = "$Forwarded";

/// Where messages read from a file go. A receiver that cannot take a message (too big, store
/// refusal) records that itself and keeps accepting the rest of its bytes, so one bad message
/// never stops the reader.
pub trait Receiver {
    /// A message starts: `index` counts from 1 in its file, `offset` is where its first line
    /// starts in the file.
    fn begin(&mut self, index: u64, offset: u64);
    /// The next bytes of the message (line endings already fixed).
    fn data(&mut self, bytes: &[u8]);
    /// The message ended; here is what the file said about it.
    fn end(&mut self, meta: Meta);
}

/// Reads a [`BufRead`] in line pieces: each piece ends at a line feed or after
/// [`LINE_PIECE_BYTES`] bytes.
#[derive(Debug)]
pub struct Lines<R> {
    inner: R,
    buf: Vec<u8>,
    starts_line: bool,
    next_starts_line: bool,
    offset: u64,
}

impl<R: BufRead> Lines<R> {
    /// Wraps a reader.
    pub fn new(inner: R) -> Lines<R> {
        Lines {
            inner,
            buf: Vec::new(),
            starts_line: true,
            next_starts_line: true,
            offset: 0,
        }
    }

    /// Reads the next piece; false at the end of the input.
    pub fn advance(&mut self) -> io::Result<bool> {
        self.offset += self.buf.len() as u64;
        self.buf.clear();
        let n = io::Read::take(&mut self.inner, LINE_PIECE_BYTES as u64)
            .read_until(b'\n', &mut self.buf)?;
        if n == 0 {
            return Ok(false);
        }
        self.starts_line = self.next_starts_line;
        self.next_starts_line = self.buf.last() == Some(&b'\n');
        Ok(true)
    }

    /// The current piece.
    pub fn piece(&self) -> &[u8] {
        &self.buf
    }

    /// Whether the current piece is the start of a line.
    pub fn starts_line(&self) -> bool {
        self.starts_line
    }

    /// Where the current piece starts in the input.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

/// Whether a line piece is an empty line (`LF` or `CRLF`).
pub fn is_blank(line: &[u8]) -> bool {
    line == b"\n" || line == b"\r\n"
}

/// Gives a message read from a Unix-style file CRLF line endings: decided on the message's
/// first line ending (bare LF: convert every bare LF; CRLF: keep every byte as it is), so a
/// message that already has CRLF comes back byte for byte.
#[derive(Debug, Default)]
pub struct CrlfFixer {
    convert: Option<bool>,
    last_cr: bool,
}

impl CrlfFixer {
    /// Appends `piece` (a line piece: a line feed can only be its last byte) to `out`.
    pub fn fix(&mut self, piece: &[u8], out: &mut Vec<u8>) {
        let Some((&last, body)) = piece.split_last() else {
            return;
        };
        if last == b'\n' {
            let cr_before = body.last().map_or(self.last_cr, |&b| b == b'\r');
            let convert = *self.convert.get_or_insert(!cr_before);
            out.extend_from_slice(body);
            if convert && !cr_before {
                out.push(b'\r');
            }
            out.push(b'\n');
            self.last_cr = false;
        } else {
            out.extend_from_slice(piece);
            self.last_cr = last == b'\r';
        }
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds of a UTC civil time; `None` if out of range (years 1900 to 9999; a time
/// before 1970 is `None` too).
pub(crate) fn unix_time(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<u64> {
    if !(1900..=9999).contains(&y)
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&d)
        || h > 23
        || mi > 59
        || s > 60
    {
        return None;
    }
    let secs = days_from_civil(y, mo, d) * 86_400
        + i64::from(h) * 3600
        + i64::from(mi) * 60
        + i64::from(s);
    u64::try_from(secs).ok()
}

/// The month number (1-12) of an English three-letter abbreviation, any case.
pub(crate) fn month(name: &str) -> Option<u32> {
    MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(name))
        .map(|i| i as u32 + 1)
}

/// C `asctime` form in UTC, as mbox `From ` lines carry it: `Thu Jan  1 00:00:00 1970`.
pub fn asctime(secs: u64) -> String {
    let (y, mo, d, h, mi, s, wd) = crate::time::utc_parts(secs);
    format!(
        "{} {} {d:2} {h:02}:{mi:02}:{s:02} {y}",
        WEEKDAYS[wd as usize],
        MONTHS[(mo - 1) as usize]
    )
}

/// Parses `hh:mm[:ss]`.
pub(crate) fn clock(s: &str) -> Option<(u32, u32, u32)> {
    let mut it = s.split(':');
    let h = it.next()?.parse().ok()?;
    let m = it.next()?.parse().ok()?;
    let sec = match it.next() {
        Some(x) => x.parse().ok()?,
        None => 0,
    };
    it.next().is_none().then_some((h, m, sec))
}

/// Parses the date of an `asctime`-style text (`Www Mmm dd hh:mm:ss yyyy`, whitespace-tolerant,
/// an optional numeric zone after the time or the year), in UTC unless a zone is given.
pub fn parse_asctime(s: &str) -> Option<u64> {
    let t: Vec<&str> = s.split_whitespace().take(8).collect();
    let (mon, day, time) = (
        month(t.get(1)?)?,
        t.get(2)?.parse().ok()?,
        clock(t.get(3)?)?,
    );
    let mut zone = 0i64;
    let mut year = None;
    for tok in &t[4..] {
        if let Ok(y) = tok.parse::<i64>()
            && tok.len() == 4
        {
            year = Some(y);
        } else if let Some(z) = numeric_zone(tok) {
            zone = z;
        }
    }
    let base = unix_time(year?, mon, day, time.0, time.1, time.2)? as i64;
    u64::try_from(base - zone).ok()
}

/// A `+hhmm` / `-hhmm` zone as seconds east of UTC.
pub(crate) fn numeric_zone(s: &str) -> Option<i64> {
    let (sign, digits) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    Some(sign * ((n / 100) * 3600 + (n % 100) * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asctime_round_trips() {
        for t in [0, 951_782_400, 1_700_000_000, 4_102_444_799] {
            assert_eq!(parse_asctime(&asctime(t)), Some(t), "{}", asctime(t));
        }
        assert_eq!(asctime(0), "Thu Jan  1 00:00:00 1970");
        assert_eq!(parse_asctime("Thu Jan  1 01:00:00 1970 +0100"), Some(0));
        assert_eq!(parse_asctime("nonsense"), None);
        assert_eq!(parse_asctime("Mon Jan  1 00:00:00 22222222222222"), None);
    }

    #[test]
    fn fixes_bare_line_feeds_only_for_unix_files() {
        let run = |pieces: &[&[u8]]| {
            let mut f = CrlfFixer::default();
            let mut out = Vec::new();
            for p in pieces {
                f.fix(p, &mut out);
            }
            out
        };
        assert_eq!(run(&[b"a\n", b"b\n"]), b"a\r\nb\r\n");
        assert_eq!(run(&[b"a\r\n", b"b\n"]), b"a\r\nb\n");
        assert_eq!(run(&[b"a\r", b"\n", b"b\n"]), b"a\r\nb\n");
    }

    #[test]
    fn lines_come_in_bounded_pieces() {
        let long = vec![b'x'; LINE_PIECE_BYTES + 10];
        let mut input = long.clone();
        input.extend_from_slice(b"\nnext\n");
        let mut l = Lines::new(&input[..]);
        assert!(l.advance().unwrap());
        assert_eq!((l.piece().len(), l.starts_line()), (LINE_PIECE_BYTES, true));
        assert!(l.advance().unwrap());
        assert_eq!((l.piece().len(), l.starts_line()), (11, false));
        assert!(l.advance().unwrap());
        assert_eq!((l.piece(), l.starts_line()), (&b"next\n"[..], true));
        assert_eq!(l.offset(), LINE_PIECE_BYTES as u64 + 11);
        assert!(!l.advance().unwrap());
    }
}

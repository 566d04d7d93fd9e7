//! mbox files: one file holds many messages, each starting with a `From ` line (RFC 4155).
//!
//! Writing ([`MboxWriter`]):
//! - the separator is `From MAILER-DAEMON <asctime of INTERNALDATE in UTC>` (the sender is
//!   unknown for stored mail; Dovecot writes the same placeholder);
//! - mboxrd quoting: every line that starts with zero or more `>` then `From ` gets one more
//!   `>`, so reading strips exactly one back and no content line can pass for a separator;
//! - flags and keywords go into the header as mutt and Dovecot write them, just before the
//!   blank line ending the header: `Status: RO` (`R` = `\Seen`, `O` = not new) and
//!   `X-Status:` letters `A` `\Answered`, `F` `\Flagged`, `T` `\Draft`, `D` `\Deleted`, and
//!   `X-Keywords:` with the keywords separated by spaces. A message's own fields of those names
//!   are left out (they would contradict the ones written);
//! - each message ends with a line ending, then one empty line before the next `From `.
//!
//! Reading ([`read`]): a `From ` line at the start of the file or after an empty line starts a
//! message, and that empty line is not part of the message before it; `>`-quoted `From ` lines
//! lose one `>`; the `Status`, `X-Status` and `X-Keywords` fields of the header are taken as
//! flags and keywords and removed; the `From ` line's date is the INTERNALDATE. What cannot be
//! restored exactly: a message that did not end with a line ending gains one, and a message's
//! own `Status`/`X-Status`/`X-Keywords` fields are taken as metadata.

use super::{CrlfFixer, Lines, Meta, Receiver, is_blank};
use crate::store::flags;
use std::io::{self, BufRead, Read, Write};

/// The metadata header fields this format owns, lower-case with the colon.
const META_FIELDS: [&[u8]; 3] = [b"status:", b"x-status:", b"x-keywords:"];

/// `X-Status` letters (mutt and Dovecot).
const X_STATUS: [(u32, u8); 4] = [
    (flags::ANSWERED, b'A'),
    (flags::FLAGGED, b'F'),
    (flags::DRAFT, b'T'),
    (flags::DELETED, b'D'),
];

/// Whether a line starts with `>*From ` (so needs a `>` more when written).
fn needs_quote(line: &[u8]) -> bool {
    let rest = &line[line.iter().take_while(|&&b| b == b'>').count()..];
    rest.starts_with(b"From ")
}

/// Whether a header line is one of [`META_FIELDS`].
fn is_meta_field(line: &[u8]) -> bool {
    META_FIELDS
        .iter()
        .any(|f| line.len() >= f.len() && line[..f.len()].eq_ignore_ascii_case(f))
}

/// The metadata header fields for `flags` and `keywords`, each ending with `eol`.
pub fn meta_fields(flag_bits: u32, keywords: &[String], eol: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(if flag_bits & flags::SEEN != 0 {
        b"Status: RO"
    } else {
        b"Status: O"
    });
    out.extend_from_slice(eol);
    let x: Vec<u8> = X_STATUS
        .iter()
        .filter(|(bit, _)| flag_bits & bit != 0)
        .map(|(_, c)| *c)
        .collect();
    if !x.is_empty() {
        out.extend_from_slice(b"X-Status: ");
        out.extend_from_slice(&x);
        out.extend_from_slice(eol);
    }
    if !keywords.is_empty() {
        out.extend_from_slice(b"X-Keywords: ");
        out.extend_from_slice(keywords.join(" ").as_bytes());
        out.extend_from_slice(eol);
    }
    out
}

/// Writes messages into one mbox file.
#[derive(Debug)]
pub struct MboxWriter<W: Write> {
    out: W,
}

impl<W: Write> MboxWriter<W> {
    /// Starts an mbox on `out` (normally an empty file).
    pub fn new(out: W) -> MboxWriter<W> {
        MboxWriter { out }
    }

    /// Writes one message, read from `body` (the stored bytes), with its metadata. Memory: one
    /// line piece.
    pub fn write_message(
        &mut self,
        internal_date: u64,
        flag_bits: u32,
        keywords: &[String],
        body: impl Read,
    ) -> io::Result<()> {
        let out = &mut self.out;
        writeln!(out, "From MAILER-DAEMON {}", super::asctime(internal_date))?;
        let mut lines = Lines::new(io::BufReader::with_capacity(16 * 1024, body));
        let mut in_header = true;
        let mut dropping = false;
        let mut ended = true;
        let mut eol: &[u8] = b"\r\n";
        while lines.advance()? {
            let p = lines.piece();
            if lines.starts_line() {
                if in_header {
                    if is_blank(p) {
                        out.write_all(&meta_fields(flag_bits, keywords, p))?;
                        in_header = false;
                        dropping = false;
                    } else if is_meta_field(p)
                        || (dropping && matches!(p.first(), Some(b' ' | b'\t')))
                    {
                        dropping = true;
                        continue;
                    } else {
                        dropping = false;
                        // A last line without an ending says nothing about the message's.
                        if p.ends_with(b"\n") {
                            eol = if p.ends_with(b"\r\n") { b"\r\n" } else { b"\n" };
                        }
                    }
                }
                if needs_quote(p) {
                    out.write_all(b">")?;
                }
            } else if dropping {
                continue;
            }
            out.write_all(p)?;
            ended = p.ends_with(b"\n");
        }
        if in_header {
            // No empty line ends the header: the fields go at its end.
            if !ended {
                out.write_all(eol)?;
            }
            out.write_all(&meta_fields(flag_bits, keywords, eol))?;
            ended = true;
        }
        if !ended {
            // The line ending the message's own lines use, not a bare LF inside CRLF text.
            out.write_all(eol)?;
        }
        out.write_all(b"\n")
    }

    /// Flushes and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Why an mbox could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MboxError {
    /// The file does not start with a `From ` line.
    #[error("not an mbox file (it does not start with a \"From \" line)")]
    NotMbox,
    /// Reading failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Parses the metadata field (or continuation) `line` into `meta`; `field` remembers which
/// field a continuation line belongs to.
fn parse_meta_field(line: &[u8], meta: &mut Meta, field: &mut u8) {
    let text = String::from_utf8_lossy(line);
    let value = if text.starts_with([' ', '\t']) {
        text.as_ref()
    } else {
        let (name, value) = text.split_once(':').unwrap_or(("", ""));
        *field = match name.to_ascii_lowercase().as_str() {
            "status" => b'S',
            "x-status" => b'X',
            _ => b'K',
        };
        value
    };
    match *field {
        b'S' => {
            if value.contains('R') {
                meta.flags |= flags::SEEN;
            }
        }
        b'X' => {
            for (bit, c) in X_STATUS {
                if value.as_bytes().contains(&c) {
                    meta.flags |= bit;
                }
            }
        }
        _ => {
            for k in value.split_whitespace() {
                meta.add_keyword(k);
            }
        }
    }
}

/// Reads every message of an mbox into `to`. Returns how many messages there were. Memory: a
/// few line pieces, whatever the file holds.
pub fn read(input: impl BufRead, to: &mut dyn Receiver) -> Result<u64, MboxError> {
    let mut lines = Lines::new(input);
    let mut count = 0u64;
    let mut in_msg = false;
    let mut in_header = false;
    // The rest of a line is skipped (a long `From ` line, a metadata field).
    let mut skip_rest = false;
    // In a metadata field: its continuation lines are dropped too.
    let mut meta_field = 0u8;
    let mut held: Option<Vec<u8>> = None;
    let mut meta = Meta::default();
    let mut fixer = CrlfFixer::default();
    let mut out = Vec::with_capacity(super::LINE_PIECE_BYTES + 1);
    while lines.advance()? {
        let p = lines.piece();
        if !lines.starts_line() {
            if !skip_rest {
                out.clear();
                fixer.fix(p, &mut out);
                to.data(&out);
            }
            continue;
        }
        skip_rest = false;
        if p.starts_with(b"From ") && (held.is_some() || !in_msg) {
            if in_msg {
                to.end(std::mem::take(&mut meta));
            }
            held = None;
            count += 1;
            in_msg = true;
            in_header = true;
            meta_field = 0;
            fixer = CrlfFixer::default();
            meta.internal_date = std::str::from_utf8(&p[5..])
                .ok()
                .and_then(|rest| rest.trim_start().split_once(char::is_whitespace))
                .and_then(|(_sender, date)| super::parse_asctime(date));
            to.begin(count, lines.offset());
            skip_rest = !p.ends_with(b"\n");
            continue;
        }
        if !in_msg {
            return Err(MboxError::NotMbox);
        }
        if let Some(h) = held.take() {
            out.clear();
            fixer.fix(&h, &mut out);
            to.data(&out);
            in_header = false;
        }
        if is_blank(p) {
            held = Some(p.to_vec());
            meta_field = 0;
            continue;
        }
        if in_header
            && (is_meta_field(p) || (meta_field != 0 && matches!(p.first(), Some(b' ' | b'\t'))))
        {
            parse_meta_field(p, &mut meta, &mut meta_field);
            skip_rest = !p.ends_with(b"\n");
            continue;
        }
        meta_field = 0;
        let line = if needs_quote(p) && p.first() == Some(&b'>') {
            &p[1..]
        } else {
            p
        };
        out.clear();
        fixer.fix(line, &mut out);
        to.data(&out);
    }
    if in_msg {
        to.end(meta);
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Vec<(Vec<u8>, Meta, u64)>);
    impl Receiver for Collect {
        fn begin(&mut self, _index: u64, offset: u64) {
            self.0.push((Vec::new(), Meta::default(), offset));
        }
        fn data(&mut self, bytes: &[u8]) {
            self.0.last_mut().unwrap().0.extend_from_slice(bytes);
        }
        fn end(&mut self, meta: Meta) {
            self.0.last_mut().unwrap().1 = meta;
        }
    }

    #[test]
    fn a_message_without_a_final_line_ending_gains_its_own_kind() {
        for (body, want) in [
            (&b"Subject: x\r\nTo: y"[..], &b"Subject: x\r\nTo: y\r\n"[..]),
            (b"Subject: x\r\n\r\nno end", b"Subject: x\r\n\r\nno end\r\n"),
        ] {
            let mut w = MboxWriter::new(Vec::new());
            w.write_message(0, flags::SEEN, &[], body).unwrap();
            let mut c = Collect::default();
            read(&w.finish().unwrap()[..], &mut c).unwrap();
            assert_eq!(c.0.len(), 1);
            assert_eq!(c.0[0].0, want, "{:?}", String::from_utf8_lossy(&c.0[0].0));
            assert_eq!(c.0[0].1.flags, flags::SEEN);
        }
    }

    #[test]
    fn round_trips_messages_flags_and_quoting() {
        let msgs: Vec<(&[u8], u32, Vec<String>, u64)> = vec![
            (
                b"Subject: a\r\n\r\nFrom here\r\n>From there\r\n>>From x\r\n\r\n",
                flags::SEEN | flags::FLAGGED,
                vec!["$Label1".into(), "work".into()],
                1_700_000_000,
            ),
            (b"Subject: b\r\n\r\nbody\r\n", 0, vec![], 12),
            (
                b"Subject: c\r\nStatus: RO\r\n\r\nFrom the start\r\n",
                flags::ANSWERED | flags::DRAFT | flags::DELETED,
                vec![],
                99,
            ),
            (b"Subject: headers only\r\n", flags::SEEN, vec![], 5),
        ];
        let mut w = MboxWriter::new(Vec::new());
        for (b, f, k, d) in &msgs {
            w.write_message(*d, *f, k, &b[..]).unwrap();
        }
        let file = w.finish().unwrap();
        let text = String::from_utf8_lossy(&file);
        assert!(
            text.contains("\r\n>From here\r\n>>From there\r\n>>>From x\r\n"),
            "{text}"
        );
        assert!(text.starts_with("From MAILER-DAEMON Tue Nov 14 22:13:20 2023\n"));
        let mut c = Collect::default();
        assert_eq!(read(&file[..], &mut c).unwrap(), 4);
        for (i, (b, f, k, d)) in msgs.iter().enumerate() {
            let (got, meta, _) = &c.0[i];
            let want: Vec<u8> = if i == 2 {
                b"Subject: c\r\n\r\nFrom the start\r\n".to_vec()
            } else {
                b.to_vec()
            };
            assert_eq!(String::from_utf8_lossy(got), String::from_utf8_lossy(&want));
            assert_eq!(meta.flags, *f, "{i}");
            assert_eq!(&meta.keywords, k);
            assert_eq!(meta.internal_date, Some(*d));
        }
    }

    #[test]
    fn reads_a_unix_mbox_and_refuses_other_files() {
        let file = b"From someone@example.test Sat Jan  3 01:05:34 1996\n\
Status: R\nX-Status: F\nX-Keywords: one\n two\nSubject: x\n\nhi\n>From quoted\n\n\
From other Mon Feb  5 10:00:00 2024\nSubject: y\n\nbody\nFrom not-a-separator\n";
        let mut c = Collect::default();
        assert_eq!(read(&file[..], &mut c).unwrap(), 2);
        assert_eq!(c.0[0].0, b"Subject: x\r\n\r\nhi\r\nFrom quoted\r\n");
        assert_eq!(c.0[0].1.flags, flags::SEEN | flags::FLAGGED);
        assert_eq!(c.0[0].1.keywords, vec!["one", "two"]);
        assert_eq!(c.0[0].1.internal_date, Some(820_631_134));
        assert_eq!(
            c.0[1].0,
            b"Subject: y\r\n\r\nbody\r\nFrom not-a-separator\r\n"
        );
        assert!(matches!(
            read(&b"Subject: x\n\nhi\n"[..], &mut Collect::default()),
            Err(MboxError::NotMbox)
        ));
        assert_eq!(read(&b""[..], &mut Collect::default()).unwrap(), 0);
    }
}

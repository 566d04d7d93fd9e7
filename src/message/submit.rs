//! Rewriting a message's header section as its bytes stream in: for submission, completing it
//! (RFC 6409 §8); for inbound mail, removing forged `Authentication-Results:` fields (RFC 8601
//! §5).
//!
//! The header section is held (at most `limit` bytes) until the empty line that ends it, then
//! emitted once, rewritten. Submission: `Bcc:` fields removed (RFC 5322 §3.6.3), `Date:` (RFC
//! 6409 §8.1) and `Message-ID:` (§8.3) added when missing. Inbound: every
//! `Authentication-Results:` field naming our authserv-id removed. Everything after the empty
//! line passes through unchanged. The rewritten header stays available for DKIM and the checks.
//!
//! Invariants: the output is the input with only those field changes; memory is bounded by
//! `limit` (a longer header section is an error, never a growing buffer); line ends inside the
//! header are kept as they came (the SMTP layer already refused bare CR/LF in the data).

use crate::message::header::{RawField, split_fields};

/// The header section is longer than the configured limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("header section too large")]
pub struct HeaderTooLarge;

/// What the rewrite does.
#[derive(Debug)]
enum Mode {
    /// Complete a submitted message: Message-ID under `hostname`, Date from `now`.
    Submission { hostname: String, now: u64 },
    /// Remove forged Authentication-Results of `authserv_id` from an inbound message.
    Inbound { authserv_id: String },
}

/// Rewrites the header section of one message.
#[derive(Debug)]
pub struct HeaderFixer {
    limit: usize,
    mode: Mode,
    /// The raw header so far (while pending), then the rewritten one.
    header: Vec<u8>,
    done: bool,
}

impl HeaderFixer {
    /// A fixer for one submitted message; `hostname` goes into a generated Message-ID, `now`
    /// (Unix seconds) into a generated Date.
    pub fn new(limit: usize, hostname: &str, now: u64) -> HeaderFixer {
        HeaderFixer {
            limit,
            mode: Mode::Submission {
                hostname: hostname.to_string(),
                now,
            },
            header: Vec::new(),
            done: false,
        }
    }

    /// A rewriter for one inbound message received by `authserv_id` (our host name).
    pub fn inbound(limit: usize, authserv_id: &str) -> HeaderFixer {
        HeaderFixer {
            limit,
            mode: Mode::Inbound {
                authserv_id: authserv_id.to_string(),
            },
            header: Vec::new(),
            done: false,
        }
    }

    /// Takes the next message bytes and appends to `out` what is ready to store. Returns the
    /// offset in `out` where body bytes start (equal to `out.len()` when none were added).
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<usize, HeaderTooLarge> {
        if self.done {
            let at = out.len();
            out.extend_from_slice(data);
            return Ok(at);
        }
        let scan_from = self.header.len().saturating_sub(3);
        self.header.extend_from_slice(data);
        let end = if self.header.starts_with(b"\r\n") {
            Some((0, 2))
        } else {
            memchr::memmem::find(&self.header[scan_from..], b"\r\n\r\n")
                .map(|i| (scan_from + i + 2, scan_from + i + 4))
        };
        let Some((header_end, body_start)) = end else {
            // The empty line may still start in the last three bytes held: refuse only when
            // even that would put the header's end past the limit.
            if self.header.len() > self.limit + 3 {
                return Err(HeaderTooLarge);
            }
            return Ok(out.len());
        };
        if header_end > self.limit {
            return Err(HeaderTooLarge);
        }
        let body = self.header.split_off(body_start);
        self.header.truncate(header_end);
        self.rewrite();
        out.extend_from_slice(&self.header);
        out.extend_from_slice(b"\r\n");
        let at = out.len();
        out.extend_from_slice(&body);
        Ok(at)
    }

    /// The message ended: a message without an empty line is all header (RFC 5322 §2.1).
    /// Inbound messages come out byte for byte as they came in but for removed fields: no empty
    /// line is added.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        if matches!(self.mode, Mode::Inbound { .. }) {
            self.rewrite();
            out.extend_from_slice(&self.header);
            return;
        }
        if !self.header.is_empty() && !self.header.ends_with(b"\r\n") {
            self.header.extend_from_slice(b"\r\n");
        }
        self.rewrite();
        out.extend_from_slice(&self.header);
        out.extend_from_slice(b"\r\n");
    }

    /// The rewritten header section (each field ending in CRLF, no empty line), once emitted.
    pub fn header(&self) -> Option<&[u8]> {
        self.done.then_some(self.header.as_slice())
    }

    fn rewrite(&mut self) {
        let (hostname, now) = match &self.mode {
            Mode::Inbound { authserv_id } => {
                let stripped =
                    crate::message::auth_results::strip_forged(&self.header, authserv_id);
                // Our spam verdict is ours alone too. A header with nothing to remove is kept
                // exactly as it came.
                let fields = split_fields(&stripped);
                let spam_score = |f: &&RawField<'_>| f.name.eq_ignore_ascii_case(b"x-spam-score");
                if fields.iter().any(|f| spam_score(&f)) {
                    let mut out = Vec::with_capacity(stripped.len());
                    for f in fields.iter().filter(|f| !spam_score(f)) {
                        out.extend_from_slice(f.raw);
                        out.extend_from_slice(b"\r\n");
                    }
                    self.header = out;
                } else {
                    self.header = stripped;
                }
                self.done = true;
                return;
            }
            Mode::Submission { hostname, now } => (hostname.clone(), *now),
        };
        let fields = split_fields(&self.header);
        let has = |name: &str| {
            fields
                .iter()
                .any(|f| f.name.eq_ignore_ascii_case(name.as_bytes()))
        };
        let (has_date, has_id) = (has("date"), has("message-id"));
        let mut out = Vec::with_capacity(self.header.len() + 128);
        for f in &fields {
            if f.name.eq_ignore_ascii_case(b"bcc") {
                continue;
            }
            out.extend_from_slice(f.raw);
            out.extend_from_slice(b"\r\n");
        }
        if !has_date {
            out.extend_from_slice(format!("Date: {}\r\n", crate::time::rfc5322(now)).as_bytes());
        }
        if !has_id {
            out.extend_from_slice(
                format!("Message-ID: <{}@{}>\r\n", unique_token(now), hostname).as_bytes(),
            );
        }
        self.header = out;
        self.done = true;
    }
}

/// A token unique to a message (the left part of a Message-ID): the time and 64 random bits.
pub fn unique_token(now: u64) -> String {
    let mut r = [0u8; 8];
    if getrandom::fill(&mut r).is_err() {
        r = now.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes();
    }
    let rnd: String = r.iter().map(|b| format!("{b:02x}")).collect();
    format!("{now:x}.{rnd}")
}

/// The addresses of the `From:` fields of a header section, lowercased; `None` when a From
/// field cannot be parsed.
pub fn from_addresses(header: &[u8]) -> Option<Vec<String>> {
    let froms = split_fields(header)
        .iter()
        .filter(|f| f.name.eq_ignore_ascii_case(b"from"))
        .count();
    match froms {
        0 => return Some(Vec::new()),
        1 => {}
        // RFC 5322 §3.6 allows one From field; mail-parser would keep only one of several.
        _ => return None,
    }
    let mut text = header.to_vec();
    text.extend_from_slice(b"\r\n");
    let msg = mail_parser::MessageParser::new()
        .with_address_headers()
        .parse_headers(&text)?;
    msg.from()?
        .iter()
        .map(|a| a.address().map(str::to_ascii_lowercase))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8], pieces: usize) -> (Vec<u8>, Vec<u8>) {
        let mut f = HeaderFixer::new(1 << 16, "mx.example.org", 1_700_000_000);
        let mut out = Vec::new();
        let mut body_at = None;
        for chunk in input.chunks(pieces) {
            let at = f.feed(chunk, &mut out).unwrap();
            if at < out.len() && body_at.is_none() {
                body_at = Some(at);
            }
        }
        if f.header().is_none() {
            f.finish(&mut out);
        }
        (out, f.header().unwrap().to_vec())
    }

    #[test]
    fn removes_bcc_and_adds_date_and_id_in_any_chunking() {
        let msg = b"From: a@example.org\r\nBcc: secret@x.test,\r\n other@x.test\r\nSubject: hi\r\n\r\nbody\r\n";
        for n in [1, 2, 3, 5, 64, 1000] {
            let (out, header) = run(msg, n);
            let text = String::from_utf8(out).unwrap();
            assert!(!text.contains("secret"), "{text}");
            assert!(!text.contains("other@"), "{text}");
            assert!(text.contains("Date: "));
            assert!(text.contains("Message-ID: <"));
            assert!(text.contains("@mx.example.org>\r\n"));
            assert!(text.ends_with("\r\n\r\nbody\r\n"), "{text:?}");
            assert!(header.starts_with(b"From: a@example.org\r\nSubject: hi\r\n"));
        }
    }

    #[test]
    fn keeps_existing_date_and_id_and_body_bytes() {
        let msg = b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <x@y>\r\nFrom: a@b.c\r\n\r\nBcc: not a header\r\n\r\nmore";
        let (out, _) = run(msg, 7);
        assert_eq!(out, msg);
    }

    #[test]
    fn header_only_and_empty_header() {
        let (out, _) = run(b"From: a@b.c\r\nSubject: s", 4);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("From: a@b.c\r\nSubject: s\r\nDate: "));
        assert!(text.ends_with(">\r\n\r\n"));
        let (out, _) = run(b"\r\nbody only\r\n", 3);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("Date: "));
        assert!(text.ends_with("\r\n\r\nbody only\r\n"));
    }

    #[test]
    fn inbound_messages_pass_byte_for_byte_but_for_our_fields() {
        let run = |input: &[u8], step: usize| {
            let mut f = HeaderFixer::inbound(1 << 16, "mx.example.org");
            let mut out = Vec::new();
            for chunk in input.chunks(step.max(1)) {
                f.feed(chunk, &mut out).unwrap();
            }
            f.finish(&mut out);
            out
        };
        for input in [
            &b""[..],
            b"Subject: no body\r\n",
            b"Subject: no final line end",
            b"Subject: s\r\n\r\nbody\r\n",
            b"\r\nonly a body\r\n",
        ] {
            for step in [1, 3, 100] {
                assert_eq!(run(input, step), input, "{input:?} by {step}");
            }
        }
        let forged =
            b"X-Spam-Score: -99 accept\r\nAuthentication-Results: mx.example.org; spf=pass\r\n\
Authentication-Results: other.example; spf=fail\r\nSubject: s\r\n\r\nbody\r\n";
        assert_eq!(
            run(forged, 7),
            b"Authentication-Results: other.example; spf=fail\r\nSubject: s\r\n\r\nbody\r\n"
        );
    }

    #[test]
    fn header_limit() {
        let mut f = HeaderFixer::new(64, "h", 1);
        let mut out = Vec::new();
        let long = [b'X'; 100];
        assert_eq!(f.feed(&long, &mut out), Err(HeaderTooLarge));
        assert!(out.is_empty());
        // A header of exactly the limit is taken, however its empty line is split.
        let mut exact = vec![b'X'; 62];
        exact.extend_from_slice(b"\r\n\r\nbody");
        for cut in 60..68 {
            let mut f = HeaderFixer::new(64, "h", 1);
            let mut out = Vec::new();
            f.feed(&exact[..cut], &mut out).unwrap();
            f.feed(&exact[cut..], &mut out).unwrap();
            assert!(out.ends_with(b"\r\n\r\nbody"), "cut at {cut}");
        }
    }

    #[test]
    fn from_addresses_parses_and_refuses_two_froms() {
        assert_eq!(
            from_addresses(b"From: Alice <Alice@Example.ORG>\r\nTo: b@x\r\n"),
            Some(vec!["alice@example.org".to_string()])
        );
        assert_eq!(
            from_addresses(b"From: a@x.test, b@y.test\r\n").map(|v| v.len()),
            Some(2)
        );
        assert_eq!(
            from_addresses(b"From: a@x.test\r\nFrom: b@y.test\r\n"),
            None
        );
        assert_eq!(from_addresses(b"To: b@x\r\n"), Some(vec![]));
    }
}

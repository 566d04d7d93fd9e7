//! RFC 6376 canonicalization: "relaxed" header fields (§3.4.2) and body (§3.4.4), "simple"
//! header fields (§3.4.1) and body (§3.4.3), and the body hash `bh=` (§3.7) over the canonical
//! body with SHA-256, optionally limited to the first `l=` canonical bytes (§3.5).
//!
//! Invariants:
//! - Only CRLF ends a line. A bare CR or bare LF is ordinary line content (it is not WSP), as in
//!   dkimpy and OpenDKIM; SMTP input never has them (our DATA reader refuses them).
//! - The body canonicalizer is streaming and its output does not depend on how the input is
//!   split: state is one pending CR, one "WSP run seen" flag, "line has content" and a count of
//!   empty lines not yet known to be non-trailing (§3.4.4: trailing empty lines are removed).
//! - An empty body, or one made only of empty/whitespace lines, canonicalizes to the empty string
//!   (§3.4.4 relaxed; unlike "simple", no CRLF is added). A non-empty body that does not end in
//!   CRLF gets one.
//! - "simple" body (§3.4.3): bytes pass unchanged except that trailing CRLFs are held back (a
//!   counter) and exactly one CRLF ends the output; an empty body becomes a single CRLF.
//! - `l=` is supported by [`CanonBodyHasher`] only (verification); the signer never sets it.

use ring::digest;

/// Where canonical bytes go: a `Vec<u8>` in tests, a SHA-256 context in [`BodyHasher`].
pub trait CanonSink {
    /// Appends canonical bytes.
    fn put(&mut self, bytes: &[u8]);
}

impl CanonSink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// WSP of RFC 5234: SP or HTAB.
fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Relaxed header canonicalization (RFC 6376 §3.4.2) of one raw header field
/// `name ":" value` (folding CRLFs included, final CRLF optional). Appends
/// `lowercase-name ":" value CRLF` to `out`.
///
/// §3.4.2: lowercase the name; unfold (remove every CR and LF); turn WSP runs into one SP;
/// delete WSP at the end of the value and WSP around the colon. A field without a colon is
/// canonicalized as a name with an empty value.
pub fn relaxed_header(field: &[u8], out: &mut Vec<u8>) {
    let (name, value) = match field.iter().position(|&b| b == b':') {
        Some(i) => (&field[..i], &field[i + 1..]),
        None => (field, &b""[..]),
    };
    // Name: lowercase, no WSP before the colon (§3.4.2, bullets 1 and 5).
    let name_end = name.iter().rposition(|&b| !is_wsp(b)).map_or(0, |i| i + 1);
    out.extend(name[..name_end].iter().map(u8::to_ascii_lowercase));
    out.push(b':');
    // Value: unfold, compress WSP, trim both ends (§3.4.2 bullets 2–5).
    let mut pending_wsp = false;
    let mut started = false;
    for &b in value {
        match b {
            b'\r' | b'\n' => {}
            b' ' | b'\t' => pending_wsp = true,
            _ => {
                if pending_wsp && started {
                    out.push(b' ');
                }
                pending_wsp = false;
                started = true;
                out.push(b);
            }
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Simple header canonicalization (RFC 6376 §3.4.1): the field exactly as it is, plus CRLF.
/// `field` is a raw field as [`split_fields`] returns it (no final line end).
pub fn simple_header(field: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(field);
    out.extend_from_slice(b"\r\n");
}

pub use crate::message::header::{RawField, split_fields};

/// The fields an `h=` list selects, in its order (RFC 6376 §5.4.2): a name listed n times takes
/// its instances from the bottom up, and a listing with no instance left selects nothing (the
/// "oversigned" entries that sign a field's absence). Names match ignoring ASCII case.
pub fn signed_fields<'f, 'a>(fields: &'f [RawField<'a>], names: &[&[u8]]) -> Vec<&'f RawField<'a>> {
    let mut used: Vec<(&[u8], usize)> = Vec::new();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let skip = match used.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some((_, k)) => {
                *k += 1;
                *k - 1
            }
            None => {
                used.push((name, 1));
                0
            }
        };
        if let Some(f) = fields
            .iter()
            .rev()
            .filter(|f| f.name.eq_ignore_ascii_case(name))
            .nth(skip)
        {
            out.push(f);
        }
    }
    out
}

/// Streaming relaxed body canonicalizer (RFC 6376 §3.4.4).
///
/// Feed the body in pieces of any size with [`RelaxedBody::feed`], then call
/// [`RelaxedBody::finish`] once.
#[derive(Debug, Default, Clone)]
pub struct RelaxedBody {
    /// A CR was the last byte seen; whether it starts CRLF depends on the next byte.
    cr_pending: bool,
    /// A WSP run was seen in the current line and not yet emitted (it is emitted as one SP
    /// only if non-WSP content follows on the same line).
    wsp_pending: bool,
    /// The current line has had non-WSP content (and its bytes were emitted).
    line_has_content: bool,
    /// Empty lines seen since the last content; emitted only if content follows.
    empty_lines: u64,
}

impl RelaxedBody {
    /// A canonicalizer at the start of a body.
    pub fn new() -> Self {
        Self::default()
    }

    /// Canonicalizes the next piece of the body into `sink`.
    pub fn feed(&mut self, mut input: &[u8], sink: &mut impl CanonSink) {
        if self.cr_pending && !input.is_empty() {
            self.cr_pending = false;
            if input[0] == b'\n' {
                self.end_line(sink);
                input = &input[1..];
            } else {
                self.content(b"\r", sink);
            }
        }
        // Runs of ordinary bytes are emitted as slices, not byte by byte.
        let mut run_start = 0;
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            if b == b'\r' || is_wsp(b) {
                if run_start < i {
                    self.content(&input[run_start..i], sink);
                }
                if b == b'\r' {
                    match input.get(i + 1) {
                        Some(b'\n') => {
                            self.end_line(sink);
                            i += 1;
                        }
                        Some(_) => self.content(b"\r", sink),
                        None => self.cr_pending = true,
                    }
                } else {
                    self.wsp_pending = true; // §3.4.4: WSP runs become one SP (or vanish at EOL)
                }
                i += 1;
                run_start = i;
            } else {
                i += 1;
            }
        }
        if run_start < input.len() {
            self.content(&input[run_start..], sink);
        }
    }

    /// Ends the body: a trailing bare CR is content; a last line without CRLF gets one
    /// (§3.4.4); trailing empty lines are dropped by never emitting them.
    pub fn finish(mut self, sink: &mut impl CanonSink) {
        if self.cr_pending {
            self.cr_pending = false;
            self.content(b"\r", sink);
        }
        if self.line_has_content {
            // Trailing WSP of the unterminated last line is dropped like any end-of-line WSP.
            sink.put(b"\r\n");
        }
    }

    /// Non-WSP, non-line-ending bytes of the current line.
    fn content(&mut self, bytes: &[u8], sink: &mut impl CanonSink) {
        // Not trailing after all: emit the empty lines held back, in bounded pieces.
        emit_crlfs(&mut self.empty_lines, sink);
        if self.wsp_pending {
            sink.put(b" ");
            self.wsp_pending = false;
        }
        sink.put(bytes);
        self.line_has_content = true;
    }

    /// A CRLF: WSP at the end of the line is dropped (§3.4.4); an empty line is held back.
    fn end_line(&mut self, sink: &mut impl CanonSink) {
        self.wsp_pending = false;
        if self.line_has_content {
            sink.put(b"\r\n");
            self.line_has_content = false;
        } else {
            self.empty_lines += 1;
        }
    }
}

/// Canonicalizes a whole body at once (tests and small bodies).
pub fn relaxed_body(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 2);
    let mut c = RelaxedBody::new();
    c.feed(body, &mut out);
    c.finish(&mut out);
    out
}

/// Streaming simple body canonicalizer (RFC 6376 §3.4.3): the body unchanged, except that
/// empty lines at the end are removed and the result ends in exactly one CRLF (an empty body
/// becomes CRLF).
#[derive(Debug, Default, Clone)]
pub struct SimpleBody {
    /// A CR was the last byte seen.
    cr_pending: bool,
    /// CRLFs seen since the last other byte, not yet emitted (they may be trailing).
    crlfs: u64,
}

impl SimpleBody {
    /// A canonicalizer at the start of a body.
    pub fn new() -> Self {
        Self::default()
    }

    /// Canonicalizes the next piece of the body into `sink`.
    pub fn feed(&mut self, mut input: &[u8], sink: &mut impl CanonSink) {
        if self.cr_pending && !input.is_empty() {
            self.cr_pending = false;
            if input[0] == b'\n' {
                self.crlfs += 1;
                input = &input[1..];
            } else {
                self.content(b"\r", sink);
            }
        }
        let mut run_start = 0;
        let mut i = 0;
        while i < input.len() {
            if input[i] != b'\r' {
                i += 1;
                continue;
            }
            match input.get(i + 1) {
                Some(b'\n') => {
                    if run_start < i {
                        self.content(&input[run_start..i], sink);
                    }
                    self.crlfs += 1;
                    i += 2;
                    run_start = i;
                }
                Some(_) => i += 1, // a bare CR is content
                None => {
                    if run_start < i {
                        self.content(&input[run_start..i], sink);
                    }
                    self.cr_pending = true;
                    i += 1;
                    run_start = i;
                }
            }
        }
        if run_start < input.len() {
            self.content(&input[run_start..], sink);
        }
    }

    /// Ends the body with exactly one CRLF (§3.4.3).
    pub fn finish(mut self, sink: &mut impl CanonSink) {
        if self.cr_pending {
            self.cr_pending = false;
            self.content(b"\r", sink);
        }
        sink.put(b"\r\n");
    }

    fn content(&mut self, bytes: &[u8], sink: &mut impl CanonSink) {
        emit_crlfs(&mut self.crlfs, sink);
        sink.put(bytes);
    }
}

/// Emits `n` held-back CRLFs in bounded pieces and sets `n` to zero.
fn emit_crlfs(n: &mut u64, sink: &mut impl CanonSink) {
    const CRLFS: &[u8] = b"\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n";
    while *n > 0 {
        let k = (*n).min((CRLFS.len() / 2) as u64);
        sink.put(&CRLFS[..(k as usize) * 2]);
        *n -= k;
    }
}

/// Canonicalizes a whole body at once with "simple" (tests and small bodies).
pub fn simple_body(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 2);
    let mut c = SimpleBody::new();
    c.feed(body, &mut out);
    c.finish(&mut out);
    out
}

/// The body canonicalization algorithm of `c=` (RFC 6376 §3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyCanon {
    /// §3.4.3.
    Simple,
    /// §3.4.4.
    Relaxed,
}

#[derive(Debug, Clone)]
enum AnyBody {
    Simple(SimpleBody),
    Relaxed(RelaxedBody),
}

/// The result of [`CanonBodyHasher::finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyDigest {
    /// SHA-256 of the canonical body, or of its first `limit` bytes.
    pub hash: [u8; 32],
    /// Length of the whole canonical body (hashed or not).
    pub canonical_len: u64,
}

/// SHA-256 over the simple or relaxed canonical body, optionally only its first `limit` bytes
/// (`l=`, RFC 6376 §3.5), fed in pieces. Used by verification.
pub struct CanonBodyHasher {
    canon: AnyBody,
    sink: DigestSink,
}

impl std::fmt::Debug for CanonBodyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CanonBodyHasher")
            .field("canon", &self.canon)
            .field("limit", &self.sink.limit)
            .finish_non_exhaustive()
    }
}

impl CanonBodyHasher {
    /// A hasher at the start of a body; `limit` is the `l=` value, if any.
    pub fn new(canon: BodyCanon, limit: Option<u64>) -> Self {
        CanonBodyHasher {
            canon: match canon {
                BodyCanon::Simple => AnyBody::Simple(SimpleBody::new()),
                BodyCanon::Relaxed => AnyBody::Relaxed(RelaxedBody::new()),
            },
            sink: DigestSink::new(limit.unwrap_or(u64::MAX)),
        }
    }

    /// Feeds the next piece of the body (any split gives the same result).
    pub fn update(&mut self, piece: &[u8]) {
        match &mut self.canon {
            AnyBody::Simple(c) => c.feed(piece, &mut self.sink),
            AnyBody::Relaxed(c) => c.feed(piece, &mut self.sink),
        }
    }

    /// The hash and the canonical length.
    pub fn finish(self) -> BodyDigest {
        let CanonBodyHasher { canon, mut sink } = self;
        match canon {
            AnyBody::Simple(c) => c.finish(&mut sink),
            AnyBody::Relaxed(c) => c.finish(&mut sink),
        }
        let canonical_len = sink.total;
        BodyDigest {
            hash: sink.finish(),
            canonical_len,
        }
    }
}

/// SHA-256 over the relaxed canonical body: the `bh=` value (RFC 6376 §3.7), fed in pieces.
pub struct BodyHasher {
    canon: RelaxedBody,
    sink: DigestSink,
}

struct DigestSink {
    ctx: digest::Context,
    buf: Vec<u8>,
    /// Bytes still to hash (`l=`); later bytes are only counted.
    limit: u64,
    /// Canonical bytes seen in all.
    total: u64,
}

const DIGEST_BUF: usize = 4096;

impl DigestSink {
    fn new(limit: u64) -> Self {
        DigestSink {
            ctx: digest::Context::new(&digest::SHA256),
            buf: Vec::with_capacity(DIGEST_BUF),
            limit,
            total: 0,
        }
    }

    fn finish(mut self) -> [u8; 32] {
        self.ctx.update(&self.buf);
        let d = self.ctx.finish();
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }
}

impl CanonSink for DigestSink {
    fn put(&mut self, bytes: &[u8]) {
        self.total = self.total.saturating_add(bytes.len() as u64);
        let take = usize::try_from(self.limit).map_or(bytes.len(), |l| l.min(bytes.len()));
        self.limit -= take as u64;
        let bytes = &bytes[..take];
        if self.buf.len() + bytes.len() > DIGEST_BUF {
            self.ctx.update(&self.buf);
            self.buf.clear();
        }
        if bytes.len() >= DIGEST_BUF {
            self.ctx.update(bytes);
        } else {
            self.buf.extend_from_slice(bytes);
        }
    }
}

impl std::fmt::Debug for BodyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyHasher")
            .field("canon", &self.canon)
            .finish_non_exhaustive()
    }
}

impl Default for BodyHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl BodyHasher {
    /// A hasher at the start of a body.
    pub fn new() -> Self {
        BodyHasher {
            canon: RelaxedBody::new(),
            sink: DigestSink::new(u64::MAX),
        }
    }

    /// Feeds the next piece of the body (any split gives the same hash).
    pub fn update(&mut self, piece: &[u8]) {
        self.canon.feed(piece, &mut self.sink);
    }

    /// The SHA-256 of the canonical body.
    pub fn finish(self) -> [u8; 32] {
        let BodyHasher { canon, mut sink } = self;
        canon.finish(&mut sink);
        sink.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(field: &str) -> String {
        let mut out = Vec::new();
        relaxed_header(field.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    fn body(b: &str) -> String {
        String::from_utf8(relaxed_body(b.as_bytes())).unwrap()
    }

    #[test]
    fn rfc6376_3_4_5_example_headers() {
        // RFC 6376 §3.4.5: "A: <SP> X <CRLF>" and "B <SP> : <SP> Y <HTAB><CRLF> <HTAB> Z <SP><SP><CRLF>"
        assert_eq!(hdr("A: X\r\n"), "a:X\r\n");
        assert_eq!(hdr("B : Y\t\r\n\tZ  \r\n"), "b:Y Z\r\n");
        let fields = split_fields(b"A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n");
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[0].name, b"A");
        assert_eq!(fields[1].name, b"B");
        assert_eq!(fields[1].raw, b"B : Y\t\r\n\tZ  ");
    }

    #[test]
    fn rfc6376_3_4_5_example_body() {
        // " C <CRLF> D <SP><HTAB><SP> E <CRLF> <CRLF> <CRLF>" → " C <CRLF> D <SP> E <CRLF>"
        assert_eq!(body(" C \r\nD \t E\r\n\r\n\r\n"), " C\r\nD E\r\n");
    }

    #[test]
    fn header_edge_cases() {
        assert_eq!(hdr("SUBJECT:hello"), "subject:hello\r\n");
        assert_eq!(hdr("Subject:   \t  "), "subject:\r\n");
        assert_eq!(hdr("Subject:"), "subject:\r\n");
        assert_eq!(hdr("To: a,\r\n  b,\r\n\tc"), "to:a, b, c\r\n");
        // Unfolding removes CRLF without adding a space: "a\r\n b" keeps the WSP of the fold.
        assert_eq!(hdr("X-A: a\r\n b"), "x-a:a b\r\n");
        assert_eq!(
            hdr("Subject: caf\u{e9}  na\u{ef}ve"),
            "subject:caf\u{e9} na\u{ef}ve\r\n"
        );
        assert_eq!(hdr("Weird"), "weird:\r\n");
        // Only the first colon separates name and value.
        assert_eq!(
            hdr("Date: Mon, 1 Jan 2024 10:00:00 +0000"),
            "date:Mon, 1 Jan 2024 10:00:00 +0000\r\n"
        );
    }

    #[test]
    fn split_fields_lf_and_stray_continuation() {
        let f = split_fields(b" stray\nFrom: a\n  b\nTo: c");
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].raw, b"From: a\n  b");
        assert_eq!(f[1].raw, b"To: c");
        assert!(split_fields(b"").is_empty());
        assert!(split_fields(b"\r\nFrom: x\r\n").is_empty());
    }

    #[test]
    fn empty_body_is_empty_string() {
        // RFC 6376 §3.4.4 relaxed: no CRLF is added to an empty body (unlike "simple", §3.4.3).
        assert_eq!(body(""), "");
        assert_eq!(body("\r\n"), "");
        assert_eq!(body("\r\n\r\n\r\n"), "");
        assert_eq!(body("  \r\n\t\r\n"), "");
        // SHA-256 of the empty string, the well-known bh= of an empty relaxed body.
        let h = BodyHasher::new().finish();
        let b64 = crate::base64::encode(&h, true);
        assert_eq!(b64, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
        // Not the hash of "\r\n", which is what "simple" (§3.4.3) gives an empty body.
        let crlf = digest::digest(&digest::SHA256, b"\r\n");
        let b64 = crate::base64::encode(crlf.as_ref(), true);
        assert_eq!(b64, "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
        assert_ne!(crlf.as_ref(), h.as_slice());
        let mut h = BodyHasher::new();
        h.update(b"x");
        assert_ne!(h.finish(), BodyHasher::new().finish());
    }

    #[test]
    fn body_edge_cases() {
        assert_eq!(body("abc"), "abc\r\n"); // missing final CRLF is added
        assert_eq!(body("abc  "), "abc\r\n"); // ... and the line's trailing WSP dropped
        assert_eq!(body("a\r\n\r\nb\r\n"), "a\r\n\r\nb\r\n"); // inner empty lines kept
        assert_eq!(body("a\r\n \r\nb\r\n"), "a\r\n\r\nb\r\n"); // whitespace-only line → empty
        assert_eq!(body("a\r\n\r\n \t \r\n\r\n"), "a\r\n"); // trailing (blank) lines removed
        assert_eq!(body("  lead\r\n"), " lead\r\n"); // leading WSP run → one SP
        assert_eq!(body("a \t  b\t\r\n"), "a b\r\n");
        assert_eq!(body("a\rb\r\n"), "a\rb\r\n"); // bare CR is content
        assert_eq!(body("a\nb\r\n"), "a\nb\r\n"); // bare LF is content
        assert_eq!(body("a \nb\r\n"), "a \nb\r\n"); // ... and not a line end for WSP stripping
        assert_eq!(body("a\r"), "a\r\r\n");
        assert_eq!(body("\r"), "\r\r\n");
        assert_eq!(body("\r\r\n"), "\r\r\n");
        assert_eq!(body("\r\n\r\nx"), "\r\n\r\nx\r\n"); // leading empty lines kept
    }

    #[test]
    fn many_empty_lines_then_content() {
        let mut s = "\r\n".repeat(1000);
        s.push('x');
        let want = format!("{}x\r\n", "\r\n".repeat(1000));
        assert_eq!(body(&s), want);
        assert_eq!(body(&"\r\n".repeat(1000)), "");
    }

    fn sbody(b: &str) -> String {
        String::from_utf8(simple_body(b.as_bytes())).unwrap()
    }

    #[test]
    fn simple_body_rfc6376_3_4_5_and_edges() {
        // §3.4.5: " C <CRLF> D <SP><HTAB><SP> E <CRLF> <CRLF> <CRLF>" → " C <CRLF> D <SP><HTAB><SP> E <CRLF>"
        assert_eq!(sbody(" C \r\nD \t E\r\n\r\n\r\n"), " C \r\nD \t E\r\n");
        assert_eq!(sbody(""), "\r\n"); // §3.4.3: an empty body is CRLF
        assert_eq!(sbody("\r\n\r\n"), "\r\n");
        assert_eq!(sbody("abc"), "abc\r\n");
        assert_eq!(sbody("abc  "), "abc  \r\n"); // whitespace is kept
        assert_eq!(sbody("\r\n\r\nx\r\n\r\n"), "\r\n\r\nx\r\n");
        assert_eq!(sbody("a\rb\n\r\n"), "a\rb\n\r\n");
        assert_eq!(sbody("a\r"), "a\r\r\n");
        assert_eq!(sbody("  \r\n"), "  \r\n"); // a whitespace line is not empty
        let mut h = Vec::new();
        simple_header(b"Subject :  x\r\n y ", &mut h);
        assert_eq!(h, b"Subject :  x\r\n y \r\n");
    }

    #[test]
    fn simple_streaming_and_limited_hasher() {
        for s in SAMPLES {
            let b = s.as_bytes();
            let whole = simple_body(b);
            for i in 0..=b.len() {
                for j in i..=b.len() {
                    let mut c = SimpleBody::new();
                    let mut out = Vec::new();
                    c.feed(&b[..i], &mut out);
                    c.feed(&b[i..j], &mut out);
                    c.feed(&b[j..], &mut out);
                    c.finish(&mut out);
                    assert_eq!(out, whole, "split {i}/{j} of {s:?}");
                }
            }
            for (canon, full) in [
                (BodyCanon::Simple, whole.clone()),
                (BodyCanon::Relaxed, relaxed_body(b)),
            ] {
                for limit in [None, Some(0), Some(3), Some(u64::MAX)] {
                    let mut h = CanonBodyHasher::new(canon, limit);
                    for piece in b.chunks(3) {
                        h.update(piece);
                    }
                    let d = h.finish();
                    let n = limit.map_or(full.len(), |l| full.len().min(l as usize));
                    let want = digest::digest(&digest::SHA256, &full[..n]);
                    assert_eq!(
                        d.hash.as_slice(),
                        want.as_ref(),
                        "{canon:?} {limit:?} {s:?}"
                    );
                    assert_eq!(d.canonical_len, full.len() as u64);
                }
            }
        }
    }

    const SAMPLES: &[&str] = &[
        "",
        " C \r\nD \t E\r\n\r\n\r\n",
        "a\r\n\r\n \t \r\n\r\n",
        "a\rb\r\r\n\r\n\tx  y \r\n\r",
        "Hello,\r\n\r\n  this  is\ta test.  \r\n-- \r\nsig\r\n\r\n",
        "\r\n\r\n\r\nx\r\n\r\n\r\n",
        "caf\u{e9} \u{2003} ok\r\n",
    ];

    #[test]
    fn streaming_equals_one_shot_for_every_split() {
        for s in SAMPLES {
            let b = s.as_bytes();
            let whole = relaxed_body(b);
            // Every split into two pieces, and every split into three pieces.
            for i in 0..=b.len() {
                for j in i..=b.len() {
                    let mut c = RelaxedBody::new();
                    let mut out = Vec::new();
                    c.feed(&b[..i], &mut out);
                    c.feed(&b[i..j], &mut out);
                    c.feed(&b[j..], &mut out);
                    c.finish(&mut out);
                    assert_eq!(out, whole, "split {i}/{j} of {s:?}");
                }
            }
            // Byte by byte, through the hasher too.
            let mut c = RelaxedBody::new();
            let mut out = Vec::new();
            let mut h = BodyHasher::new();
            for k in 0..b.len() {
                c.feed(&b[k..k + 1], &mut out);
                h.update(&b[k..k + 1]);
            }
            c.finish(&mut out);
            assert_eq!(out, whole);
            let want = digest::digest(&digest::SHA256, &whole);
            assert_eq!(h.finish().as_slice(), want.as_ref());
        }
    }

    #[test]
    fn hasher_large_body_matches_digest_of_canonical_form() {
        let mut body = Vec::new();
        for i in 0..5000 {
            body.extend_from_slice(format!("line {i}  with\t\twsp   \r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n\r\n");
        let canon = relaxed_body(&body);
        let want = digest::digest(&digest::SHA256, &canon);
        for chunk in [1usize, 7, 4096, 5000, body.len()] {
            let mut h = BodyHasher::new();
            for piece in body.chunks(chunk) {
                h.update(piece);
            }
            assert_eq!(h.finish().as_slice(), want.as_ref(), "chunk {chunk}");
        }
    }
}

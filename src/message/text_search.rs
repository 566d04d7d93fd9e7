//! Streaming text search for IMAP SEARCH BODY and TEXT (RFC 9051 §6.4.4: a case-insensitive
//! substring match in the body, after undoing transfer encodings and converting each part's
//! charset, as RFC 9051 §6.4.4 asks of servers that "can" decode).
//!
//! Invariants: a part's body may be fed in chunks of any size and the answer is the same as for
//! the whole body at once. The transfer decoder keeps a few bytes between chunks; decoded bytes
//! are converted to UTF-8 in pieces that end after a line feed (so no character is split in any
//! charset where LF is a single byte; UTF-16 pieces keep an even length); the last
//! needle-length bytes of each lower-cased piece are carried into the next, so a match across a
//! chunk boundary is found. Memory stays bounded by [`PIECE_BYTES`] plus the needle, whatever
//! the part size. Which parts are text is read from the stored [`Summary`].

use super::summary::{Part, PartBody, Summary};
use super::transfer::{Decoder, Encoding};
use mail_parser::decoders::charsets::{DecoderFnc, map::charset_decoder};
use std::ops::Range;

/// Most decoded bytes held before they are converted and searched.
pub const PIECE_BYTES: usize = 64 * 1024;

/// A byte range of the stored message that holds text, with how to decode it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextPart {
    pub range: Range<u64>,
    pub encoding: Encoding,
    /// Content-Type charset as written; `None` is US-ASCII (RFC 2046 §4.1.2), read as UTF-8.
    pub charset: Option<String>,
}

/// The parts SEARCH BODY looks in (RFC 9051 §6.4.4 "the body of the message"): every text leaf
/// (a part without Content-Type is text/plain, RFC 2045 §5.2), in order, and the header of each
/// encapsulated message (it is body content of the enclosing message). Attachments that are not
/// text and parts a parser limit left opaque are skipped.
pub fn text_parts(summary: &Summary) -> Vec<TextPart> {
    let mut out = Vec::new();
    collect(&summary.root, &mut out);
    out
}

fn collect(part: &Part, out: &mut Vec<TextPart>) {
    match &part.body {
        PartBody::Multipart(children) => children.iter().for_each(|c| collect(c, out)),
        PartBody::Message(m) => {
            let header = m.root.header_range();
            if !header.is_empty() {
                out.push(TextPart {
                    range: header,
                    encoding: Encoding::Identity,
                    charset: None,
                });
            }
            collect(&m.root, out);
        }
        PartBody::Single if part.is_text() && !part.truncated => out.push(TextPart {
            range: part.body_range(),
            encoding: Encoding::from_name(part.mime.encoding.as_deref())
                .unwrap_or(Encoding::Identity),
            charset: part
                .mime
                .params
                .iter()
                .find(|p| p.base_name().eq_ignore_ascii_case(b"charset"))
                .map(|p| p.decoded_value()),
        }),
        PartBody::Single => {}
    }
}

/// The MIME headers of the body parts (SEARCH TEXT looks in "the header (including MIME header
/// fields)", RFC 9051 §6.4.4): every part below the top one, in order, read as UTF-8.
pub fn mime_headers(summary: &Summary) -> Vec<TextPart> {
    let mut out = Vec::new();
    collect_headers(&summary.root, &mut out);
    out
}

fn collect_headers(part: &Part, out: &mut Vec<TextPart>) {
    let children: &[Part] = match &part.body {
        PartBody::Multipart(children) => children,
        PartBody::Message(m) => std::slice::from_ref(&m.root),
        PartBody::Single => &[],
    };
    for child in children {
        if !child.header_range().is_empty() {
            out.push(TextPart {
                range: child.header_range(),
                encoding: Encoding::Identity,
                charset: None,
            });
        }
        collect_headers(child, out);
    }
}

#[derive(Clone, Copy)]
enum Charset {
    Utf8,
    Utf16(DecoderFnc),
    Other(DecoderFnc),
}

/// Looks for one needle in a sequence of parts.
pub struct TextMatcher {
    /// Lower-cased.
    needle: String,
    found: bool,
    /// The end of the previous piece (fewer bytes than the needle), lower-cased.
    carry: String,
    /// Decoded bytes not yet converted.
    pending: Vec<u8>,
    decoder: Decoder,
    charset: Charset,
}

impl TextMatcher {
    /// A matcher for `needle` (compared case-insensitively).
    pub fn new(needle: &str) -> TextMatcher {
        TextMatcher {
            needle: needle.to_lowercase(),
            found: needle.is_empty(),
            carry: String::new(),
            pending: Vec::new(),
            decoder: Decoder::new(Encoding::Identity),
            charset: Charset::Utf8,
        }
    }

    /// Whether the needle was seen.
    pub fn found(&self) -> bool {
        self.found
    }

    /// Starts a part; text never matches across parts.
    pub fn begin_part(&mut self, part: &TextPart) {
        self.carry.clear();
        self.pending.clear();
        self.decoder = Decoder::new(part.encoding);
        self.charset = match part.charset.as_deref().map(str::trim) {
            None => Charset::Utf8,
            Some(name) => {
                let lower = name.to_ascii_lowercase();
                match charset_decoder(name.as_bytes()) {
                    _ if matches!(lower.as_str(), "utf-8" | "utf8" | "us-ascii") => Charset::Utf8,
                    Some(f) if lower.starts_with("utf-16") || lower.starts_with("utf16") => {
                        Charset::Utf16(f)
                    }
                    Some(f) => Charset::Other(f),
                    // An unknown charset is searched as UTF-8 (ASCII needles still match).
                    None => Charset::Utf8,
                }
            }
        };
    }

    /// Feeds the next bytes of the part as stored (transfer-encoded).
    pub fn feed(&mut self, raw: &[u8]) {
        if self.found {
            return;
        }
        for chunk in raw.chunks(PIECE_BYTES) {
            let mut decoded = std::mem::take(&mut self.pending);
            self.decoder.feed(chunk, &mut decoded);
            let cut = self.cut(&decoded);
            self.pending = decoded.split_off(cut);
            self.search(&decoded);
            if self.found {
                return;
            }
        }
    }

    /// Ends the part: searches what is still held.
    pub fn end_part(&mut self) {
        if self.found {
            return;
        }
        let mut rest = std::mem::take(&mut self.pending);
        std::mem::replace(&mut self.decoder, Decoder::new(Encoding::Identity)).finish(&mut rest);
        self.search(&rest);
        self.carry.clear();
    }

    /// How much of `decoded` to convert now: through its last line feed, or all of it once it
    /// is a whole piece (then only whole UTF-8 sequences, or an even length for UTF-16).
    fn cut(&self, decoded: &[u8]) -> usize {
        if decoded.len() < PIECE_BYTES {
            return match self.charset {
                Charset::Utf16(_) => 0,
                _ => memchr::memrchr(b'\n', decoded).map_or(0, |i| i + 1),
            };
        }
        match self.charset {
            Charset::Utf16(_) => decoded.len() & !1,
            Charset::Utf8 => utf8_boundary(decoded),
            Charset::Other(_) => memchr::memrchr(b'\n', decoded).map_or(decoded.len(), |i| i + 1),
        }
    }

    fn search(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let text = match self.charset {
            Charset::Utf8 => String::from_utf8_lossy(bytes).to_lowercase(),
            Charset::Utf16(f) | Charset::Other(f) => f(bytes).to_lowercase(),
        };
        let mut window = std::mem::take(&mut self.carry);
        window.push_str(&text);
        if window.contains(&self.needle) {
            self.found = true;
            return;
        }
        let keep = self.needle.len().saturating_sub(1);
        let mut start = window.len().saturating_sub(keep);
        while !window.is_char_boundary(start) {
            start -= 1;
        }
        self.carry = window.split_off(start);
    }
}

/// The length of the longest prefix of `data` that ends on a UTF-8 sequence boundary (what is
/// cut off is an incomplete sequence of at most 3 bytes).
fn utf8_boundary(data: &[u8]) -> usize {
    let n = data.len();
    for back in 1..=n.min(4) {
        let b = data[n - back];
        if b & 0xC0 != 0x80 {
            // A lead byte (or ASCII): complete if its sequence fits in what follows.
            let need = match b {
                0x00..=0x7F => 1,
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            return if need <= back { n } else { n - back };
        }
    }
    n
}

/// Whether `needle` occurs in the text parts of a message read through `read_at` (offset,
/// buffer → bytes read, 0 at the end). Reads in [`PIECE_BYTES`] chunks and stops at the first
/// match.
pub fn message_contains(
    parts: &[TextPart],
    needle: &str,
    mut read_at: impl FnMut(u64, &mut [u8]) -> std::io::Result<usize>,
) -> bool {
    let mut m = TextMatcher::new(needle);
    let mut buf = vec![0u8; PIECE_BYTES];
    for part in parts {
        m.begin_part(part);
        let mut at = part.range.start;
        while at < part.range.end && !m.found() {
            let want = ((part.range.end - at) as usize).min(buf.len());
            match read_at(at, &mut buf[..want]) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    m.feed(&buf[..n]);
                    at += n as u64;
                }
            }
        }
        m.end_part();
        if m.found() {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(message: &[u8], needle: &str, chunk: usize) -> bool {
        let s = Summary::from_message(message);
        let parts = text_parts(&s);
        let mut m = TextMatcher::new(needle);
        for p in &parts {
            m.begin_part(p);
            for c in message[p.range.start as usize..p.range.end as usize].chunks(chunk) {
                m.feed(c);
            }
            m.end_part();
        }
        let whole = m.found();
        let read = message_contains(&parts, needle, |at, buf| {
            let at = at as usize;
            let n = buf.len().min(message.len() - at).min(chunk);
            buf[..n].copy_from_slice(&message[at..at + n]);
            Ok(n)
        });
        assert_eq!(whole, read, "{needle}");
        whole
    }

    const MULTI: &[u8] = b"From: a@b\r\nSubject: hello\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=x\r\n\r\npreamble\r\n--x\r\n\
Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
Gr=FC=DFe aus M=FCnchen, soft=\r\nbreak here\r\n--x\r\n\
Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
PHA+xZtsaXdrYSDFvMOzxYJ0YTwvcD4=\r\n--x\r\n\
Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n\
c2VjcmV0IGF0dGFjaG1lbnQ=\r\n--x\r\n\
Content-Type: message/rfc822\r\n\r\nSubject: inner subject\r\n\r\ninner body text\r\n--x--\r\n";

    #[test]
    fn decodes_transfer_encodings_and_charsets_in_any_chunking() {
        for chunk in [1, 2, 3, 7, 64, 4096] {
            assert!(
                find(MULTI, "GRÜSSE", chunk) || find(MULTI, "grüße", chunk),
                "chunk {chunk}"
            );
            assert!(find(MULTI, "MÜNCHEN", chunk), "chunk {chunk}");
            assert!(
                find(MULTI, "softbreak", chunk),
                "soft line break joined, chunk {chunk}"
            );
            assert!(
                find(MULTI, "ŚLIWKA ŻÓŁTA", chunk),
                "base64 UTF-8 html, chunk {chunk}"
            );
            assert!(
                find(MULTI, "inner subject", chunk),
                "encapsulated header, chunk {chunk}"
            );
            assert!(
                find(MULTI, "inner body", chunk),
                "encapsulated body, chunk {chunk}"
            );
            assert!(
                !find(MULTI, "secret attachment", chunk),
                "binary attachment, chunk {chunk}"
            );
            assert!(
                !find(MULTI, "preamble", chunk),
                "preamble is not a part, chunk {chunk}"
            );
            assert!(
                !find(MULTI, "hello", chunk),
                "top header is not body, chunk {chunk}"
            );
            assert!(
                !find(MULTI, "text/html", chunk),
                "MIME headers are not body, chunk {chunk}"
            );
        }
    }

    #[test]
    fn matches_across_piece_boundaries() {
        let mut body = b"Subject: x\r\n\r\n".to_vec();
        body.extend(std::iter::repeat_n(b'a', PIECE_BYTES - 20));
        body.extend_from_slice("zwölf needle ünd more".as_bytes());
        body.extend(std::iter::repeat_n(b'b', PIECE_BYTES + 5));
        body.extend_from_slice(b"\r\ntail end\r\n");
        for chunk in [1000, PIECE_BYTES - 1, PIECE_BYTES, PIECE_BYTES * 3] {
            assert!(find(&body, "ZWÖLF NEEDLE ÜND", chunk), "chunk {chunk}");
            assert!(find(&body, "tail end", chunk), "chunk {chunk}");
            assert!(!find(&body, "needle und", chunk), "chunk {chunk}");
        }
    }

    #[test]
    fn utf8_boundary_keeps_whole_sequences() {
        assert_eq!(utf8_boundary(b"ab"), 2);
        assert_eq!(utf8_boundary("aü".as_bytes()), 3);
        assert_eq!(utf8_boundary(&"aü".as_bytes()[..2]), 1);
        assert_eq!(utf8_boundary(&"a€".as_bytes()[..3]), 1);
        assert_eq!(utf8_boundary(&"a😀".as_bytes()[..4]), 1);
        assert_eq!(utf8_boundary("a😀".as_bytes()), 5);
        assert_eq!(utf8_boundary(&[0x80, 0x80, 0x80, 0x80, 0x80]), 5);
    }

    #[test]
    fn utf16_and_unknown_charsets() {
        let text: Vec<u8> = "Hello Wörld\n"
            .encode_utf16()
            .flat_map(|u| u.to_be_bytes())
            .collect();
        let mut msg = b"Content-Type: text/plain; charset=utf-16be\r\nContent-Transfer-Encoding: binary\r\n\r\n".to_vec();
        msg.extend_from_slice(&text);
        for chunk in [1, 3, 5, 1000] {
            assert!(find(&msg, "wörld", chunk), "chunk {chunk}");
        }
        let msg = b"Content-Type: text/plain; charset=x-unknown\r\n\r\nplain ascii words\r\n";
        assert!(find(msg, "ASCII WORDS", 3));
    }

    #[test]
    fn mime_headers_are_listed_below_the_top() {
        let s = Summary::from_message(MULTI);
        let headers: Vec<&[u8]> = mime_headers(&s)
            .iter()
            .map(|p| &MULTI[p.range.start as usize..p.range.end as usize])
            .collect();
        assert_eq!(headers.len(), 5, "four parts and the encapsulated message");
        assert!(headers[0].starts_with(b"Content-Type: text/plain; charset=iso-8859-1"));
        assert!(headers[3].starts_with(b"Content-Type: message/rfc822"));
        assert_eq!(headers[4], b"Subject: inner subject\r\n\r\n");
    }

    #[test]
    fn empty_needle_matches_everything() {
        assert!(find(b"Subject: x\r\n\r\n", "", 1));
    }
}

//! The streaming MIME structure parser: computes a message's [`Summary`] (envelope, part tree
//! with byte offsets, MIME fields) in one pass while the message streams into the store.
//!
//! Owns [`MimeParser`] (a pure push parser: `feed` any chunking, then `finish`), its
//! [`MimeLimits`], and the small RFC 5322 §3.2 lexer behind the structured fields that IMAP must
//! return undecoded: address lists (RFC 5322 §3.4), Content-Type/Content-Disposition parameters
//! (RFC 2045 §5.1, RFC 2231 §3-4), Content-Transfer-Encoding and Content-Language tokens. Header
//! blocks are split into fields by mail-parser (`MessageParser::parse_headers` on one captured
//! block), which also decodes the Subject (RFC 2047), parses the Date and the References ids.
//! mail-parser's own address and parameter parsers are not used for the IMAP fields because they
//! decode RFC 2047 words and RFC 2231 values and fold comments into display names, while IMAP
//! ENVELOPE and BODYSTRUCTURE (RFC 3501 §7.4.2) carry the header text as written.
//!
//! May not touch: any I/O, clock or store; it sees only the bytes it is fed.
//!
//! Invariants:
//! - Memory is bounded by [`MimeLimits`] whatever the input: one header block
//!   (`max_header_bytes`), the first bytes of the current line, the boundary stack
//!   (`max_depth` × `max_boundary_bytes`) and the part tree (`max_parts`, field caps, text budget).
//! - Offsets index the fed bytes: the caller feeds every stored byte (trace headers included), so
//!   a part's `header_start..body_end` slices the stored message directly.
//! - Feeding the same bytes in any chunking yields the same summary (lines are assembled across
//!   chunk ends; nothing depends on where a chunk ends).
//! - For every part `header_start <= body_start <= body_end <= size`, and children lie inside
//!   their parent's body, in order.
//!
//! Where the RFCs leave room (broken boundaries, stray syntax) the parser reads messages the way
//! Dovecot does, because `tests/imap_reference/compare.py` holds ENVELOPE/BODYSTRUCTURE to
//! Dovecot's answers; the deliberate differences are listed there with their reasons.

use super::summary::{
    Address, Disposition, Envelope, LimitsHit, Message, MimeFields, Param, Part, PartBody, Summary,
};
use mail_parser::parsers::MessageStream;
use mail_parser::{HeaderName, HeaderValue, MessageParser};

// ---------------------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------------------

/// What one message may cost the parser. Every bound has its unit in its name; [`Default`]
/// gives the values used for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MimeLimits {
    /// Bytes of one header block kept for parsing (default 64 KiB). Whole fields beyond it are
    /// skipped and counted in [`LimitsHit::header_bytes_skipped`].
    pub max_header_bytes: usize,
    /// Parts in the whole tree, encapsulated messages included (default 1000). A delimiter
    /// beyond it starts no part; its bytes stay in the enclosing body.
    pub max_parts: usize,
    /// Nesting of multiparts and encapsulated messages (default 32). A multipart or message at
    /// this depth is kept as one opaque leaf (`Part::truncated`).
    pub max_depth: usize,
    /// Longest boundary honoured (default 200 bytes; RFC 2046 §5.1.1 allows 70). A longer one
    /// makes its multipart childless.
    pub max_boundary_bytes: usize,
    /// Longest value kept per text field (default 8 KiB).
    pub max_field_bytes: usize,
    /// Addresses kept per address field, group markers included (default 1000).
    pub max_addresses: usize,
    /// Parameters kept per Content-Type or Content-Disposition (default 64).
    pub max_params: usize,
    /// Message ids kept from `References:` (default 100: the first and the last 99).
    pub max_references: usize,
    /// Bytes of field text kept for the whole message (default 512 KiB), so a thousand parts
    /// with large headers cannot make a huge summary.
    pub max_text_bytes: usize,
}

impl Default for MimeLimits {
    fn default() -> MimeLimits {
        MimeLimits {
            max_header_bytes: 64 * 1024,
            max_parts: 1000,
            max_depth: 32,
            max_boundary_bytes: 200,
            max_field_bytes: 8 * 1024,
            max_addresses: 1000,
            max_params: 64,
            max_references: 100,
            max_text_bytes: 512 * 1024,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// RFC 5322 §3.2 lexer
// ---------------------------------------------------------------------------------------------

/// Broken syntax at the lexer's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Broken;

/// A lexer step: `Ok(true)` more input follows, `Ok(false)` the input ended.
type Step = Result<bool, Broken>;

/// Replaces a NUL inside quoted strings, comments and domain literals (as Dovecot does), so the
/// value stays a valid IMAP string.
const NUL_REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

/// RFC 5322 §3.2.3 `atext`, with 8-bit bytes accepted (RFC 6532 §3.2 `UTF8-non-ascii`, and
/// what unlabelled 8-bit headers need).
fn is_atext(b: u8) -> bool {
    b >= 0x80 || b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// RFC 2045 §5.1 `token` (atext less the tspecials `/`, `=`, `?`), plus `.`.
fn is_token(b: u8) -> bool {
    (is_atext(b) && !matches!(b, b'/' | b'=' | b'?')) || b == b'.'
}

fn is_lwsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// A NUL at `i` inside a comment, quoted string or domain literal: appends the run
/// `d[*start..i]` and [`NUL_REPLACEMENT`]; the run resumes after the NUL.
fn replace_nul(d: &[u8], i: usize, start: &mut usize, out: &mut Vec<u8>) {
    out.extend_from_slice(&d[*start..i]);
    out.extend_from_slice(NUL_REPLACEMENT);
    *start = i + 1;
}

/// An LF at `i` inside a comment, quoted string or domain literal (RFC 5322 §2.2.3
/// unfolding): appends the run `d[*start..i]` less a CR right before the LF; the run resumes
/// after the LF.
fn unfold_at(d: &[u8], i: usize, start: &mut usize, out: &mut Vec<u8>) {
    let end = if i > *start && d[i - 1] == b'\r' {
        i - 1
    } else {
        i
    };
    out.extend_from_slice(&d[*start..end]);
    *start = i + 1;
}

/// A backslash at `*i` inside a comment or quoted string (RFC 5322 §3.2.1 `quoted-pair`):
/// drops the backslash from the output and leaves `*i` on the quoted byte. Before CR, LF or
/// NUL it is not a quoted-pair: the backslash is kept and the byte handled normally.
fn quoted_pair(
    d: &[u8],
    i: &mut usize,
    start: &mut usize,
    out: &mut Vec<u8>,
) -> Result<(), Broken> {
    *i += 1;
    if *i >= d.len() {
        return Err(Broken);
    }
    if matches!(d[*i], b'\r' | b'\n' | 0) {
        *i -= 1;
    } else {
        out.extend_from_slice(&d[*start..*i - 1]);
        *start = *i;
    }
    Ok(())
}

/// A cursor over one unfolded field value. Every `Ok(..)` leaves the cursor after any CFWS.
struct Lexer<'a> {
    d: &'a [u8],
    i: usize,
    /// Text of the last comment skipped (an address's display name may come from it).
    comment: Vec<u8>,
}

impl<'a> Lexer<'a> {
    fn new(d: &'a [u8]) -> Lexer<'a> {
        Lexer {
            d,
            i: 0,
            comment: Vec::new(),
        }
    }

    fn at_end(&self) -> bool {
        self.i >= self.d.len()
    }

    /// The current byte, or 0 at the end (the value's C-string terminator, in effect).
    fn peek(&self) -> u8 {
        self.d.get(self.i).copied().unwrap_or(0)
    }

    fn more(&self) -> Step {
        Ok(!self.at_end())
    }

    /// RFC 5322 §3.2.2 `comment` (nested, with quoted-pairs); the cursor is on `(`.
    fn skip_comment(&mut self) -> Step {
        self.comment.clear();
        let mut level = 1;
        self.i += 1;
        let mut start = self.i;
        while self.i < self.d.len() {
            match self.d[self.i] {
                0 => replace_nul(self.d, self.i, &mut start, &mut self.comment),
                b'(' => level += 1,
                b')' => {
                    level -= 1;
                    if level == 0 {
                        self.comment.extend_from_slice(&self.d[start..self.i]);
                        self.i += 1;
                        return self.more();
                    }
                }
                b'\n' => unfold_at(self.d, self.i, &mut start, &mut self.comment),
                b'\\' => quoted_pair(self.d, &mut self.i, &mut start, &mut self.comment)?,
                _ => {}
            }
            self.i += 1;
        }
        Err(Broken) // RFC 5322 §3.2.2: unterminated comment
    }

    /// RFC 5322 §3.2.2 `CFWS`.
    fn skip_cfws(&mut self) -> Step {
        while let Some(&b) = self.d.get(self.i) {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => self.i += 1,
                b'(' => {
                    self.skip_comment()?;
                }
                _ => break,
            }
        }
        self.more()
    }

    /// Appends `d[start..i]` and skips CFWS after it.
    fn finish_run(&mut self, start: usize, out: &mut Vec<u8>) -> Step {
        out.extend_from_slice(&self.d[start..self.i]);
        if self.at_end() {
            Ok(false)
        } else {
            self.skip_cfws()
        }
    }

    /// RFC 5322 §3.2.3 `atom`.
    fn atom(&mut self, out: &mut Vec<u8>) -> Step {
        if self.at_end() || !is_atext(self.peek()) {
            return Err(Broken);
        }
        let start = self.i;
        while self.i < self.d.len() && is_atext(self.d[self.i]) {
            self.i += 1;
        }
        self.finish_run(start, out)
    }

    /// RFC 5322 §3.2.3 `dot-atom`, allowing CFWS around the dots (RFC 822 did).
    fn dot_atom(&mut self, out: &mut Vec<u8>) -> Step {
        if self.at_end() || !is_atext(self.peek()) {
            return Err(Broken);
        }
        let mut start = self.i;
        self.i += 1;
        while self.i < self.d.len() {
            if is_atext(self.d[self.i]) {
                self.i += 1;
                continue;
            }
            if start == self.i {
                return Err(Broken);
            }
            out.extend_from_slice(&self.d[start..self.i]);
            if !self.skip_cfws()? {
                return Ok(false);
            }
            if self.peek() != b'.' {
                return Ok(true);
            }
            self.i += 1;
            out.push(b'.');
            if !self.skip_cfws()? {
                return Err(Broken);
            }
            start = self.i;
        }
        out.extend_from_slice(&self.d[start..self.i]);
        Ok(false)
    }

    /// RFC 2045 §5.1 `token` (possibly empty).
    fn token(&mut self, out: &mut Vec<u8>) -> Step {
        let start = self.i;
        while self.i < self.d.len() && is_token(self.d[self.i]) {
            self.i += 1;
        }
        self.finish_run(start, out)
    }

    /// RFC 5322 §3.2.4 `quoted-string`, unquoted into `out` (quoted-pairs resolved, folds
    /// removed); the cursor is on `"`.
    fn quoted(&mut self, out: &mut Vec<u8>) -> Step {
        self.i += 1;
        let mut start = self.i;
        while self.i < self.d.len() {
            match self.d[self.i] {
                0 => replace_nul(self.d, self.i, &mut start, out),
                b'"' => {
                    out.extend_from_slice(&self.d[start..self.i]);
                    self.i += 1;
                    return self.skip_cfws();
                }
                // RFC 5322 §3.2.4: FWS inside a quoted string is unfolded.
                b'\n' => unfold_at(self.d, self.i, &mut start, out),
                b'\\' => quoted_pair(self.d, &mut self.i, &mut start, out)?,
                _ => {}
            }
            self.i += 1;
        }
        Err(Broken)
    }

    /// A run of atext and dots (RFC 5322 §4.1 `obs-phrase` words).
    fn atom_or_dot(&mut self, out: &mut Vec<u8>) -> Step {
        let start = self.i;
        while self.i < self.d.len() && (is_atext(self.d[self.i]) || self.d[self.i] == b'.') {
            self.i += 1;
        }
        self.finish_run(start, out)
    }

    /// RFC 5322 §3.2.5 `phrase` (and §4.1 `obs-phrase`): words joined by one space.
    /// `Ok(false)` when the input ended inside or right after the phrase.
    fn phrase(&mut self, out: &mut Vec<u8>) -> Step {
        if self.at_end() {
            return Ok(false);
        }
        if self.peek() == b'.' {
            return Err(Broken);
        }
        loop {
            let before = self.i;
            let more = if self.peek() == b'"' {
                self.quoted(out)?
            } else {
                self.atom_or_dot(out)?
            };
            if !more {
                return Ok(false);
            }
            let b = self.peek();
            if !(is_atext(b) || b == b'"' || b == b'.') || self.i == before {
                break;
            }
            out.push(b' ');
        }
        self.skip_cfws()
    }

    /// RFC 5322 §3.4.1 `domain-literal`, kept with its brackets; the cursor is on `[`.
    fn domain_literal(&mut self, out: &mut Vec<u8>) -> Step {
        let mut start = self.i;
        self.i += 1;
        while self.i < self.d.len() {
            match self.d[self.i] {
                0 => replace_nul(self.d, self.i, &mut start, out),
                b'[' => return Err(Broken),
                b']' => {
                    out.extend_from_slice(&self.d[start..=self.i]);
                    self.i += 1;
                    return self.skip_cfws();
                }
                b'\n' => unfold_at(self.d, self.i, &mut start, out),
                b'\\' => {
                    self.i += 1;
                    if self.at_end() {
                        return Err(Broken);
                    }
                    if matches!(self.d[self.i], b'\r' | b'\n' | 0) {
                        out.extend_from_slice(&self.d[start..self.i]);
                        start = self.i;
                        self.i -= 1;
                    }
                }
                _ => {}
            }
            self.i += 1;
        }
        Err(Broken)
    }

    /// RFC 5322 §3.4.1 `domain` after `@`; the cursor is on `@`.
    fn domain(&mut self, out: &mut Vec<u8>) -> Step {
        self.i += 1;
        if !self.skip_cfws()? {
            return Err(Broken);
        }
        if self.peek() == b'[' {
            self.domain_literal(out)
        } else {
            self.dot_atom(out)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// RFC 5322 §3.4 address lists
// ---------------------------------------------------------------------------------------------

/// One address as it is built: fields stay `None` until seen.
#[derive(Default)]
struct AddrBuild {
    name: Option<Vec<u8>>,
    route: Option<Vec<u8>>,
    mailbox: Option<Vec<u8>>,
    domain: Option<Vec<u8>>,
    invalid: bool,
}

/// Parses an address list into IMAP ENVELOPE address structures (RFC 3501 §7.4.2): display
/// names stay undecoded, a group becomes a start marker `(NIL NIL name NIL)` and an end marker
/// `(NIL NIL NIL NIL)`, and a missing local part or domain reads `MISSING_MAILBOX` /
/// `MISSING_DOMAIN` (an unparsable angle address reads `SYNTAX_ERROR` as its host) so that a
/// client never mistakes a broken address for a group marker.
struct AddressParser<'a> {
    lx: Lexer<'a>,
    cur: AddrBuild,
    out: Vec<Address>,
    buf: Vec<u8>,
    room: usize,
}

/// What a sub-parser returned: `Err` broken, `Ok(false)` input ended, `Ok(true)` more follows.
type Ret = Result<bool, Broken>;

impl<'a> AddressParser<'a> {
    fn parse(value: &'a [u8], max: usize) -> Vec<Address> {
        let mut p = AddressParser {
            lx: Lexer::new(value),
            cur: AddrBuild::default(),
            out: Vec::new(),
            buf: Vec::new(),
            room: max,
        };
        if p.lx.skip_cfws() == Ok(true) {
            p.address_list();
        }
        p.out
    }

    fn push(&mut self) {
        let a = std::mem::take(&mut self.cur);
        if self.out.len() < self.room {
            self.out.push(Address {
                name: a.name,
                adl: a.route,
                mailbox: a.mailbox,
                host: a.domain,
            });
        }
    }

    /// Adds the current address with placeholders for what is missing.
    fn push_fixed(&mut self) {
        if self.cur.mailbox.is_none() {
            self.cur.mailbox = Some(b"MISSING_MAILBOX".to_vec());
            self.cur.invalid = true;
        }
        if self.cur.domain.as_ref().is_none_or(|d| d.is_empty()) {
            self.cur.domain = Some(b"MISSING_DOMAIN".to_vec());
            self.cur.invalid = true;
        }
        self.push();
    }

    /// RFC 5322 §3.4.1 `local-part` (dot-atom or quoted-string).
    fn local_part(&mut self) -> Ret {
        self.buf.clear();
        let ret = if self.lx.peek() == b'"' {
            let mut b = std::mem::take(&mut self.buf);
            let r = self.lx.quoted(&mut b);
            self.buf = b;
            r
        } else {
            self.loose_dot_atom()
        }?;
        self.cur.mailbox = Some(self.buf.clone());
        Ok(ret)
    }

    /// A dot-atom local part that also takes leading, trailing and doubled dots
    /// (`....@x`, `a.@x`): invalid under RFC 5322 §3.4.1 but common in real mail.
    fn loose_dot_atom(&mut self) -> Ret {
        let mut ret = Err(Broken);
        loop {
            while self.lx.peek() == b'.' {
                self.buf.push(b'.');
                self.lx.i += 1;
                if self.lx.at_end() {
                    return Ok(false);
                }
                ret = Ok(true);
            }
            if self.lx.peek() == b'@' {
                return ret;
            }
            let mut b = std::mem::take(&mut self.buf);
            ret = self.lx.atom(&mut b);
            self.buf = b;
            if ret != Ok(true) || self.lx.peek() != b'.' {
                return ret;
            }
        }
    }

    fn domain(&mut self) -> Ret {
        self.buf.clear();
        let ret = self.lx.domain(&mut self.buf)?;
        self.cur.domain = Some(self.buf.clone());
        Ok(ret)
    }

    /// RFC 5322 §4.4 `obs-domain-list` (a source route); `Ok(false)` if the input ended.
    fn domain_list(&mut self) -> Ret {
        self.buf.clear();
        loop {
            if self.lx.at_end() {
                return Ok(false);
            }
            if self.lx.peek() != b'@' {
                break;
            }
            if !self.buf.is_empty() {
                self.buf.push(b',');
            }
            self.buf.push(b'@');
            let mut b = std::mem::take(&mut self.buf);
            let r = self.lx.domain(&mut b);
            self.buf = b;
            if !r? {
                return Ok(false);
            }
            while self.lx.skip_cfws() == Ok(true) && self.lx.peek() == b',' {
                self.lx.i += 1;
            }
        }
        self.cur.route = Some(self.buf.clone());
        Ok(true)
    }

    /// RFC 5322 §3.4 `angle-addr` with the §4.4 obsolete route; the cursor is on `<`.
    fn angle_addr(&mut self) -> Ret {
        self.lx.i += 1;
        if self.lx.skip_cfws() != Ok(true) {
            return Err(Broken);
        }
        if self.lx.peek() == b'@' {
            if self.domain_list() == Ok(true) && self.lx.peek() == b':' {
                self.lx.i += 1;
            } else {
                self.cur.route = Some(b"INVALID_ROUTE".to_vec());
                if self.lx.at_end() {
                    return Err(Broken);
                }
            }
            if self.lx.skip_cfws() != Ok(true) {
                return Err(Broken);
            }
        }
        if self.lx.peek() != b'>' {
            if self.local_part() != Ok(true) {
                return Err(Broken);
            }
            if self.lx.peek() == b'@' && self.domain() != Ok(true) {
                return Err(Broken);
            }
        }
        if self.lx.peek() != b'>' {
            return Err(Broken);
        }
        self.lx.i += 1;
        self.lx.skip_cfws()
    }

    /// RFC 5322 §3.4 `name-addr`.
    fn name_addr(&mut self) -> Ret {
        self.buf.clear();
        let mut b = std::mem::take(&mut self.buf);
        let r = self.lx.phrase(&mut b);
        self.buf = b;
        if r != Ok(true) || self.lx.peek() != b'<' {
            return Err(Broken);
        }
        self.cur.name = (!self.buf.is_empty()).then(|| self.buf.clone());
        if self.angle_addr().is_err() {
            self.cur.domain = Some(b"SYNTAX_ERROR".to_vec());
            self.cur.invalid = true;
        }
        Ok(!self.lx.at_end())
    }

    /// RFC 5322 §3.4.1 `addr-spec`, with the usual repairs: a trailing comment names the
    /// mailbox; a lone word without `@` is a mailbox without domain; several words are a name.
    fn addr_spec(&mut self) -> Ret {
        self.lx.comment.clear();
        let quoted = self.lx.peek() == b'"';
        let mut ret = self.local_part();
        if ret != Ok(true) {
            self.cur.invalid = true;
        }
        let mut domain_tried = false;
        if ret != Ok(false) && !self.lx.at_end() && self.lx.peek() == b'@' {
            domain_tried = true;
            let r = self.domain();
            if r != Ok(true) {
                ret = r;
            }
        }
        if !self.lx.comment.is_empty() {
            self.cur.name = Some(self.lx.comment.clone());
        } else if !domain_tried {
            self.buf.push(b' ');
            let before = self.buf.len();
            let mut b = std::mem::take(&mut self.buf);
            let _ = self.lx.phrase(&mut b);
            self.buf = b;
            if self.buf.len() != before {
                self.cur.mailbox = None;
                self.cur.name = Some(self.buf.clone());
            } else if !quoted {
                self.cur.domain = Some(Vec::new());
            }
            self.cur.invalid = true;
            ret = Err(Broken);
        }
        ret
    }

    /// RFC 5322 §3.4 `mailbox`.
    fn mailbox(&mut self) -> Ret {
        let start = self.lx.i;
        let mut ret = self.name_addr();
        if ret.is_err() {
            self.lx.i = start;
            ret = self.addr_spec();
            let c = &mut self.cur;
            if c.invalid && c.name.is_none() && c.mailbox.is_some() && c.domain.is_none() {
                c.name = c.mailbox.take();
            }
        }
        if ret.is_err() {
            self.cur.invalid = true;
        }
        self.push_fixed();
        ret
    }

    /// RFC 5322 §3.4 `group`: `Err` if this is not a group at all.
    fn group(&mut self) -> Ret {
        self.buf.clear();
        let mut b = std::mem::take(&mut self.buf);
        let r = self.lx.phrase(&mut b);
        self.buf = b;
        if r != Ok(true) || self.lx.peek() != b':' {
            return Err(Broken);
        }
        // From here on this is a group, however broken its inside.
        self.lx.i += 1;
        let mut ret = self.lx.skip_cfws();
        self.cur.mailbox = Some(self.buf.clone());
        self.push();
        if ret == Ok(true) && self.lx.peek() != b';' {
            loop {
                let _ = self.mailbox();
                if self.lx.at_end() || self.lx.peek() != b',' {
                    break;
                }
                self.lx.i += 1;
                if self.lx.skip_cfws() != Ok(true) {
                    ret = Err(Broken);
                    break;
                }
            }
        }
        if ret.is_ok() {
            if self.lx.at_end() || self.lx.peek() != b';' {
                ret = Err(Broken);
            } else {
                self.lx.i += 1;
                ret = self.lx.skip_cfws();
            }
        }
        self.push();
        Ok(ret != Ok(false))
    }

    fn address(&mut self) -> Ret {
        let start = self.lx.i;
        match self.group() {
            Err(Broken) => {
                self.lx.i = start;
                self.mailbox()
            }
            ok => ok,
        }
    }

    /// RFC 5322 §3.4 `address-list` (and §4.4 `obs-addr-list`).
    fn address_list(&mut self) {
        while self.out.len() < self.room {
            if self.address() == Ok(false) {
                break;
            }
            if self.lx.at_end() || self.lx.peek() != b',' {
                break;
            }
            self.lx.i += 1;
            match self.lx.skip_cfws() {
                Ok(true) => {}
                Ok(false) => break,
                Err(Broken) => {
                    self.push_fixed();
                    break;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// RFC 2045 §5.1 / RFC 2231 parameters and the other MIME fields
// ---------------------------------------------------------------------------------------------

/// RFC 2045 §5.1 `type "/" subtype`, which must be followed by `;` or the end.
fn content_type(lx: &mut Lexer<'_>) -> Result<(Vec<u8>, Vec<u8>, bool), Broken> {
    if !lx.skip_cfws()? {
        return Err(Broken);
    }
    let mut ty = Vec::new();
    if !lx.token(&mut ty)? || ty.is_empty() || lx.peek() != b'/' {
        return Err(Broken);
    }
    lx.i += 1;
    if !lx.skip_cfws()? {
        return Err(Broken);
    }
    let mut sub = Vec::new();
    let more = lx.token(&mut sub)?;
    if sub.is_empty() || (!lx.at_end() && lx.peek() != b';') {
        return Err(Broken);
    }
    Ok((ty, sub, more))
}

/// A parameter's attribute and value, as read.
type RawParam = (Vec<u8>, Vec<u8>);

/// One `;` attribute `=` value (RFC 2045 §5.1); `Ok(None)` at the end of the input.
fn content_param(lx: &mut Lexer<'_>) -> Result<Option<RawParam>, Broken> {
    if lx.at_end() {
        return Ok(None);
    }
    if lx.peek() != b';' {
        return Err(Broken);
    }
    lx.i += 1;
    if !lx.skip_cfws()? {
        return Err(Broken);
    }
    let mut key = Vec::new();
    if !lx.token(&mut key)? || lx.peek() != b'=' {
        return Err(Broken);
    }
    lx.i += 1;
    let mut value = Vec::new();
    match lx.skip_cfws()? {
        false => {} // no value
        true if lx.peek() == b'"' => {
            lx.quoted(&mut value)?;
        }
        true if lx.peek() == b'=' => {
            // A bare RFC 2047 word (`name==?utf-8?b?...?=`), common in the wild: take it whole.
            while !lx.at_end() && !matches!(lx.peek(), b';' | b' ' | b'\t' | b'\r' | b'\n') {
                value.push(lx.peek());
                lx.i += 1;
            }
        }
        true => {
            lx.token(&mut value)?;
        }
    }
    Ok(Some((key, value)))
}

/// One RFC 2231 §3 section `name*<n>[*]`.
struct Section {
    key: Vec<u8>,
    index: u32,
    extended: bool,
    value: Vec<u8>,
}

/// The parameter list after a content type or disposition. Names are lower-cased (RFC 2045
/// §5.1: they are case-insensitive). RFC 2231 §3 continuations are joined into one `name` (or
/// `name*` if any section is extended); extended values stay encoded (`charset'lang'%XX`,
/// plain sections' `%` escaped), so the list stays 7-bit for IMAP; see
/// [`Param::decoded_value`]. If a continuation has a gap, its sections stay separate.
fn parameters(lx: &mut Lexer<'_>, max: usize) -> Vec<Param> {
    let mut plain = Vec::new();
    let mut sections: Vec<Section> = Vec::new();
    loop {
        match content_param(lx) {
            Ok(None) => break,
            Err(Broken) => {
                if lx.at_end() {
                    break;
                }
                lx.i += 1;
            }
            Ok(Some((mut key, value))) => {
                key.make_ascii_lowercase();
                if plain.len() + sections.len() >= max {
                    continue;
                }
                match rfc2231_section(&key) {
                    Some((name, index, extended)) => sections.push(Section {
                        key: name.to_vec(),
                        index,
                        extended,
                        value,
                    }),
                    None => plain.push(Param { name: key, value }),
                }
            }
        }
    }
    // RFC 2231 §3: sections may arrive in any order.
    sections.sort_by(|a, b| a.key.cmp(&b.key).then(a.index.cmp(&b.index)));
    let mut i = 0;
    while i < sections.len() {
        let mut j = i;
        while j < sections.len() && sections[j].key == sections[i].key {
            j += 1;
        }
        let group = &sections[i..j];
        let complete = group.iter().enumerate().all(|(n, s)| s.index as usize == n);
        let extended = group.iter().any(|s| s.extended);
        if complete {
            let mut value = Vec::new();
            if extended && !group[0].extended {
                value.extend_from_slice(b"''");
            }
            for s in group {
                if extended && !s.extended {
                    for &b in &s.value {
                        if b == b'%' {
                            value.extend_from_slice(b"%25");
                        } else {
                            value.push(b);
                        }
                    }
                } else {
                    value.extend_from_slice(&s.value);
                }
            }
            let mut name = group[0].key.clone();
            if extended {
                name.push(b'*');
            }
            plain.push(Param { name, value });
        } else {
            for s in group {
                let mut name = s.key.clone();
                name.push(b'*');
                name.extend_from_slice(s.index.to_string().as_bytes());
                if s.extended {
                    name.push(b'*');
                }
                plain.push(Param {
                    name,
                    value: s.value.clone(),
                });
            }
        }
        i = j;
    }
    plain
}

/// Splits `name*` (RFC 2231 §4: extended, one section), `name*3` or `name*3*` (§3-4: section
/// 3, plain or extended); `None` for an ordinary name.
fn rfc2231_section(key: &[u8]) -> Option<(&[u8], u32, bool)> {
    let star = key.iter().position(|&b| b == b'*')?;
    let rest = &key[star + 1..];
    if rest.is_empty() {
        return Some((&key[..star], 0, true));
    }
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let index = rest[..digits].iter().fold(0u32, |n, &d| {
        n.saturating_mul(10).saturating_add(u32::from(d - b'0'))
    });
    match &rest[digits..] {
        b"" => Some((&key[..star], index, false)),
        b"*" => Some((&key[..star], index, true)),
        _ => None,
    }
}

/// A field's value as Dovecot's header parser hands it on: the bytes after the colon, initial
/// white space skipped (only one blank if the first line is all blank), lines joined by LF with
/// their CRs dropped, no final line end.
fn field_value(raw: &[u8]) -> Vec<u8> {
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    let mut out = Vec::with_capacity(raw.len());
    for (n, line) in raw.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if n == 0 {
            let blank = line.iter().take_while(|&&b| is_lwsp(b)).count();
            let skip = if blank == line.len() {
                blank.min(1)
            } else {
                blank
            };
            out.extend_from_slice(&line[skip..]);
        } else {
            out.push(b'\n');
            out.extend_from_slice(line);
        }
    }
    out
}

/// RFC 5322 §2.2.3 unfolding: CR and LF removed.
fn unfold(v: &[u8]) -> Vec<u8> {
    v.iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect()
}

/// RFC 2045 §6.1 `mechanism`: one token and nothing after it.
fn transfer_encoding(v: &[u8]) -> Option<Vec<u8>> {
    let mut lx = Lexer::new(v);
    lx.skip_cfws().ok()?;
    let mut t = Vec::new();
    lx.token(&mut t).ok()?;
    (lx.skip_cfws() == Ok(false) && !t.is_empty()).then_some(t)
}

/// RFC 2183 §2: disposition type and parameters.
fn disposition(v: &[u8], max_params: usize) -> Option<Disposition> {
    let mut lx = Lexer::new(v);
    lx.skip_cfws().ok()?;
    let mut kind = Vec::new();
    lx.token(&mut kind).ok()?;
    Some(Disposition {
        kind,
        params: parameters(&mut lx, max_params),
    })
}

/// RFC 3282 §2: a comma-separated list of language tags.
fn languages(v: &[u8]) -> Vec<Vec<u8>> {
    let mut lx = Lexer::new(v);
    let mut out = Vec::new();
    let _ = lx.skip_cfws();
    loop {
        let mut tag = Vec::new();
        if lx.atom(&mut tag).is_err() {
            break;
        }
        out.push(tag);
        if lx.at_end() || lx.peek() != b',' || out.len() >= 64 {
            break;
        }
        lx.i += 1;
        let _ = lx.skip_cfws();
    }
    out
}

// ---------------------------------------------------------------------------------------------
// One header block
// ---------------------------------------------------------------------------------------------

/// What one part's header block says.
#[derive(Default)]
struct HeaderFacts {
    /// `MIME-Version:` or `Content-Type:` seen (RFC 2045 §4; a Content-Type alone is accepted,
    /// as most readers do).
    is_mime: bool,
    /// The first Content-Type: `Some(None)` if present but unparsable.
    content_type: Option<Option<(Vec<u8>, Vec<u8>)>>,
    /// The Content-Type's `boundary` parameter, whole (field caps apply only to what is kept).
    boundary: Option<Vec<u8>>,
    mime: MimeFields,
    envelope: Envelope,
    date: Option<i64>,
    subject: Option<String>,
    references: Vec<String>,
}

/// Truncates field text to the per-field cap and the message's remaining text budget.
struct Budget {
    field: usize,
    left: usize,
    truncated: u32,
}

impl Budget {
    fn keep(&mut self, mut v: Vec<u8>) -> Vec<u8> {
        let cap = self.field.min(self.left);
        if v.len() > cap {
            v.truncate(cap);
            self.truncated = self.truncated.saturating_add(1);
        }
        self.left -= v.len();
        v
    }

    fn keep_params(&mut self, params: Vec<Param>) -> Vec<Param> {
        params
            .into_iter()
            .map(|p| Param {
                name: self.keep(p.name),
                value: self.keep(p.value),
            })
            .collect()
    }

    fn keep_addresses(&mut self, list: Vec<Address>) -> Vec<Address> {
        let mut keep = |o: Option<Vec<u8>>| o.map(|v| self.keep(v));
        list.into_iter()
            .map(|a| Address {
                name: keep(a.name),
                adl: keep(a.adl),
                mailbox: keep(a.mailbox),
                host: keep(a.host),
            })
            .collect()
    }
}

/// Joins the envelope fields of a block written before the top header (`earlier`) with the
/// header's own in `s`, as [`header_facts`] reads one block holding both: an address list of
/// the header adds to the earlier one, a text field of the header replaces the earlier one.
fn join_earlier_fields(s: &mut Summary, earlier: HeaderFacts, max_addresses: usize) {
    let e = earlier.envelope;
    let env = &mut s.envelope;
    for (first, list) in [
        (e.from, &mut env.from),
        (e.sender, &mut env.sender),
        (e.reply_to, &mut env.reply_to),
        (e.to, &mut env.to),
        (e.cc, &mut env.cc),
        (e.bcc, &mut env.bcc),
    ] {
        if !first.is_empty() {
            let then = std::mem::replace(list, first);
            let room = max_addresses.saturating_sub(list.len());
            list.extend(then.into_iter().take(room));
        }
    }
    if env.date.is_none() {
        env.date = e.date;
        s.date = earlier.date;
    }
    if env.subject.is_none() {
        env.subject = e.subject;
        s.subject = earlier.subject;
    }
    if env.in_reply_to.is_none() {
        env.in_reply_to = e.in_reply_to;
    }
    if env.message_id.is_none() {
        env.message_id = e.message_id;
    }
    if s.references.is_empty() {
        s.references = earlier.references;
    }
}

/// Drops continuation lines at the very start of a block: they cannot belong to a field of this
/// block (after a stored trace prefix they continue its last field).
fn skip_leading_continuations(block: &[u8]) -> &[u8] {
    let mut rest = block;
    while rest.first().is_some_and(|&b| is_lwsp(b)) {
        match memchr::memchr(b'\n', rest) {
            Some(i) => rest = &rest[i + 1..],
            None => return &[],
        }
    }
    rest
}

fn header_facts(
    splitter: &MessageParser,
    limits: &MimeLimits,
    budget: &mut Budget,
    block: &[u8],
    envelope: bool,
    top: bool,
) -> HeaderFacts {
    let mut f = HeaderFacts::default();
    let block = skip_leading_continuations(block);
    let Some(parsed) = splitter.parse_headers(block) else {
        return f;
    };
    let Some(part) = parsed.parts.first() else {
        return f;
    };
    let (mut id, mut desc, mut cte, mut md5, mut loc) = (None, None, None, None, None);
    let mut disp: Option<Disposition> = None;
    let mut lang: Option<Vec<Vec<u8>>> = None;
    let mut params = Vec::new();
    let env = &mut f.envelope;
    for h in &part.headers {
        let raw = block
            .get(h.offset_start as usize..h.offset_end as usize)
            .unwrap_or_default();
        let name = h.name.as_str();
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        if is("mime-version") {
            f.is_mime = true;
        } else if is("content-type") {
            f.is_mime = true;
            if f.content_type.is_none() {
                let v = field_value(raw);
                let mut lx = Lexer::new(&v);
                f.content_type = Some(match content_type(&mut lx) {
                    Ok((ty, sub, _)) => {
                        params = parameters(&mut lx, limits.max_params);
                        Some((ty, sub))
                    }
                    Err(Broken) => None,
                });
            }
        } else if is("content-transfer-encoding") {
            // The first one that parses counts (as Dovecot reads repeated fields).
            if cte.is_none() {
                cte = transfer_encoding(&field_value(raw));
            }
        } else if is("content-id") {
            id.get_or_insert_with(|| unfold(&field_value(raw)));
        } else if is("content-description") {
            desc.get_or_insert_with(|| unfold(&field_value(raw)));
        } else if is("content-md5") {
            md5.get_or_insert_with(|| unfold(&field_value(raw)));
        } else if is("content-location") {
            loc.get_or_insert_with(|| unfold(&field_value(raw)));
        } else if is("content-disposition") {
            // A later one replaces one without parameters (as Dovecot reads repeated fields).
            if disp.as_ref().is_none_or(|d| d.params.is_empty()) {
                disp = disposition(&field_value(raw), limits.max_params).or(disp);
            }
        } else if is("content-language") {
            lang.get_or_insert_with(|| languages(&field_value(raw)));
        } else if (envelope && env_field(name)) || (top && is("references")) {
            // RFC 3501 §7.4.2 ENVELOPE. A repeated field (RFC 5322 §3.6 allows one) replaces
            // an earlier text field and adds to an earlier address list, as Dovecot reads it.
            let text = |raw: &[u8]| Some(unfold(&field_value(raw)));
            let addrs = |raw: &[u8]| AddressParser::parse(&field_value(raw), limits.max_addresses);
            let append = |list: &mut Vec<Address>, more: Vec<Address>| {
                let room = limits.max_addresses.saturating_sub(list.len());
                list.extend(more.into_iter().take(room));
            };
            match name.to_ascii_lowercase().as_str() {
                "date" => {
                    env.date = text(raw);
                    if !top {
                        continue;
                    }
                    if let HeaderValue::DateTime(d) = MessageStream::new(raw).parse_date() {
                        f.date = d.is_valid().then(|| d.to_timestamp());
                    }
                }
                "subject" => {
                    env.subject = text(raw);
                    if !top {
                        continue;
                    }
                    // RFC 5256 §2.1 base subject starts from the decoded text (RFC 2047).
                    if let HeaderValue::Text(t) = MessageStream::new(raw).parse_unstructured() {
                        f.subject = Some(t.into_owned());
                    }
                }
                "from" => append(&mut env.from, addrs(raw)),
                "sender" => append(&mut env.sender, addrs(raw)),
                "reply-to" => append(&mut env.reply_to, addrs(raw)),
                "to" => append(&mut env.to, addrs(raw)),
                "cc" => append(&mut env.cc, addrs(raw)),
                "bcc" => append(&mut env.bcc, addrs(raw)),
                "in-reply-to" => env.in_reply_to = text(raw),
                "message-id" => env.message_id = text(raw),
                "references" => {
                    f.references = match MessageStream::new(raw).parse_id() {
                        HeaderValue::TextList(l) => l.into_iter().map(|t| t.into_owned()).collect(),
                        HeaderValue::Text(t) => vec![t.into_owned()],
                        _ => Vec::new(),
                    };
                }
                _ => {}
            }
        }
    }
    f.boundary = params
        .iter()
        .find(|p| p.name == b"boundary")
        .map(|p| p.value.clone());
    let keep_opt = |b: &mut Budget, o: Option<Vec<u8>>| o.map(|v| b.keep(v));
    let (ty, sub) = match &f.content_type {
        Some(Some((t, s))) => (Some(t.clone()), Some(s.clone())),
        _ => (None, None),
    };
    f.mime = MimeFields {
        media_type: keep_opt(budget, ty),
        subtype: keep_opt(budget, sub),
        params: budget.keep_params(params),
        id: keep_opt(budget, id),
        description: keep_opt(budget, desc),
        encoding: keep_opt(budget, cte),
        md5: keep_opt(budget, md5),
        disposition: disp.map(|d| Disposition {
            kind: budget.keep(d.kind),
            params: budget.keep_params(d.params),
        }),
        language: lang
            .unwrap_or_default()
            .into_iter()
            .map(|l| budget.keep(l))
            .collect(),
        location: keep_opt(budget, loc),
    };
    let e = std::mem::take(&mut f.envelope);
    f.envelope = Envelope {
        date: keep_opt(budget, e.date),
        subject: keep_opt(budget, e.subject),
        from: budget.keep_addresses(e.from),
        sender: budget.keep_addresses(e.sender),
        reply_to: budget.keep_addresses(e.reply_to),
        to: budget.keep_addresses(e.to),
        cc: budget.keep_addresses(e.cc),
        bcc: budget.keep_addresses(e.bcc),
        in_reply_to: keep_opt(budget, e.in_reply_to),
        message_id: keep_opt(budget, e.message_id),
    };
    if let Some(s) = &mut f.subject {
        truncate_text(s, limits.max_field_bytes);
    }
    let n = f.references.len();
    if n > limits.max_references && limits.max_references > 0 {
        // RFC 5256 §2.2: the first id is the thread root, the last ones the nearest parents.
        f.references.drain(1..n - (limits.max_references - 1));
    }
    for r in &mut f.references {
        truncate_text(r, limits.max_field_bytes);
    }
    f
}

/// Cuts decoded text to at most `max` bytes, at a character boundary.
fn truncate_text(s: &mut String, max: usize) {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
}

fn env_field(name: &str) -> bool {
    [
        "date",
        "subject",
        "from",
        "sender",
        "reply-to",
        "to",
        "cc",
        "bcc",
        "in-reply-to",
        "message-id",
    ]
    .iter()
    .any(|n| name.eq_ignore_ascii_case(n))
}

// ---------------------------------------------------------------------------------------------
// The streaming parser
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Leaf,
    Multipart,
    Message,
}

/// A part under construction; `nodes[0]` is the message itself.
struct Node {
    parent: Option<usize>,
    depth: usize,
    header_start: u64,
    body_start: u64,
    body_end: u64,
    /// LF counts at the body start (all LFs, and those without CR).
    lf0: u64,
    bare0: u64,
    lines: u64,
    bare_lf: u64,
    kind: Kind,
    digest: bool,
    truncated: bool,
    children: Vec<usize>,
    mime: MimeFields,
    /// For the message itself and for each encapsulated message's root part.
    envelope: Option<Envelope>,
}

/// A point in the input with the LF counters there.
#[derive(Debug, Clone, Copy)]
struct Mark {
    at: u64,
    lf: u64,
    bare: u64,
}

/// The streaming parser. Feed it every byte of the stored message, in order and in any
/// chunking, then call [`MimeParser::finish`].
///
/// ```
/// use mailnook::message::mime::{MimeLimits, MimeParser};
/// let mut p = MimeParser::new(MimeLimits::default());
/// p.feed(b"Subject: hi\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n");
/// let s = p.finish();
/// assert_eq!(s.root.children().len(), 1);
/// assert_eq!(s.envelope.subject.as_deref(), Some(&b"hi"[..]));
/// ```
pub struct MimeParser {
    limits: MimeLimits,
    splitter: MessageParser,
    budget: Budget,
    hit: LimitsHit,
    /// Bytes fed so far; LFs so far, and LFs not preceded by CR.
    pos: u64,
    lf: u64,
    bare: u64,
    /// The current line: where it starts, its first bytes, its length so far, whether its last
    /// byte so far is CR.
    line: Mark,
    head: Vec<u8>,
    head_cap: usize,
    line_len: u64,
    line_cr: bool,
    /// Length of the previous line's end (1 or 2) if that line belongs to the current region,
    /// 0 at a region start: a boundary line claims the line end before it (RFC 2046 §5.1.1).
    prev_end: u8,
    /// Header capture of the innermost part while `in_header`.
    in_header: bool,
    hdr: Vec<u8>,
    hdr_line: usize,
    hdr_field: usize,
    hdr_full: bool,
    /// Bytes at the start of the top header that `max_header_bytes` does not count and that are
    /// never cut: the trace prefix of a stored message ([`MimeParser::after_prefix`]); 0 once
    /// the top header has ended.
    exempt: usize,
    /// The trace prefix's fields, read into the summary last, by [`MimeParser::build`]: the
    /// prefix given to [`MimeParser::finish_with_prefix`], or the exempt start of a stored top
    /// header. Read last either way, they meet the text budget in the same state.
    prefix: Vec<u8>,
    nodes: Vec<Node>,
    cur: usize,
    /// Active boundaries, outermost first, with the multipart that owns each.
    boundaries: Vec<(Vec<u8>, usize)>,
    date: Option<i64>,
    subject: Option<String>,
    references: Vec<String>,
}

impl MimeParser {
    /// A parser for one message.
    pub fn new(limits: MimeLimits) -> MimeParser {
        // Split fields only; values are parsed above from the raw bytes.
        let splitter = MessageParser::new()
            .ignore_header(HeaderName::Subject)
            .default_header_ignore();
        let head_cap = 2 + limits.max_boundary_bytes + 2;
        let budget = Budget {
            field: limits.max_field_bytes,
            left: limits.max_text_bytes,
            truncated: 0,
        };
        MimeParser {
            splitter,
            budget,
            hit: LimitsHit::default(),
            pos: 0,
            lf: 0,
            bare: 0,
            line: Mark {
                at: 0,
                lf: 0,
                bare: 0,
            },
            head: Vec::with_capacity(head_cap),
            head_cap,
            line_len: 0,
            line_cr: false,
            prev_end: 0,
            in_header: true,
            hdr: Vec::new(),
            hdr_line: 0,
            hdr_field: 0,
            hdr_full: false,
            exempt: 0,
            prefix: Vec::new(),
            nodes: vec![Node::new(None, 0, 0)],
            cur: 0,
            boundaries: Vec::new(),
            date: None,
            subject: None,
            references: Vec::new(),
            limits,
        }
    }

    /// A parser for a message as stored: behind a trace prefix of `prefix_len` bytes that
    /// [`finish_with_prefix`](Self::finish_with_prefix) accounted for at delivery. The header
    /// limit applies to the header the sender wrote, so the prefix's bytes are not counted
    /// against `max_header_bytes` and its fields are never cut; this parse of the stored bytes
    /// gives the summary `finish_with_prefix` gave.
    pub fn after_prefix(limits: MimeLimits, prefix_len: usize) -> MimeParser {
        let mut p = MimeParser::new(limits);
        p.exempt = prefix_len;
        p
    }

    /// Bytes fed so far.
    pub fn len(&self) -> u64 {
        self.pos
    }

    /// Whether nothing was fed yet.
    pub fn is_empty(&self) -> bool {
        self.pos == 0
    }

    /// Bytes the parser holds for the message in progress, the part tree aside: header capture,
    /// the current line's start and the boundary stack, all bounded by [`MimeLimits`].
    #[doc(hidden)]
    pub fn buffered_bytes(&self) -> usize {
        self.hdr.capacity()
            + self.head.capacity()
            + self.boundaries.iter().map(|(b, _)| b.len()).sum::<usize>()
    }

    /// Takes the next bytes of the message.
    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match memchr::memchr(b'\n', data) {
                Some(i) => {
                    self.take(&data[..i]);
                    self.end_line();
                    data = &data[i + 1..];
                }
                None => {
                    self.take(data);
                    break;
                }
            }
        }
    }

    /// Ends the message and returns its summary.
    pub fn finish(mut self) -> Summary {
        if self.line_len > 0 {
            // A last line without LF (RFC 5322 requires CRLF, but stored bytes may lack it).
            match self.match_boundary() {
                Some((k, close)) => {
                    if self.in_header {
                        self.hdr.truncate(self.hdr_line);
                    }
                    self.boundary(k, close, false);
                }
                None => {
                    if self.in_header && !self.hdr_full {
                        self.note_field_line();
                    }
                }
            }
        }
        let end = Mark {
            at: self.pos,
            lf: self.lf,
            bare: self.bare,
        };
        loop {
            if self.in_header {
                self.end_header(end);
                if self.in_header {
                    continue; // an encapsulated message started at the very end
                }
            }
            self.close(self.cur, end);
            match self.nodes[self.cur].parent {
                Some(p) => self.cur = p,
                None => break,
            }
        }
        self.build()
    }

    /// As [`finish`](Self::finish) for a message stored behind `prefix`: header fields written
    /// before the fed bytes at delivery (RFC 5321 §4.4 Return-Path and Received, our
    /// Authentication-Results, a signature, a list's fields), each line ending in LF. The prefix
    /// only adds fields to the top header block and carries no MIME field, so the structure is
    /// that of the fed bytes with every offset moved by the prefix length. Its envelope fields
    /// (a list's `Reply-To:`) join the header's own as one block reads them: address lists add
    /// up, a text field of the header replaces the prefix's. They are read last, after every
    /// part, so they meet the text budget as the parts left it. The header limit counts only the
    /// fed bytes; [`after_prefix`](Self::after_prefix) parses the stored bytes the same way,
    /// reading the prefix last too. A continuation line at the start of the fed bytes is ignored
    /// either way.
    pub fn finish_with_prefix(mut self, prefix: &[u8]) -> Summary {
        debug_assert!(prefix.is_empty() || prefix.ends_with(b"\n"));
        let p = prefix.len() as u64;
        if p == 0 {
            return self.finish();
        }
        self.prefix = prefix.to_vec();
        let mut s = self.finish();
        shift(&mut s.root, p);
        s.root.header_start = 0;
        s.size += p;
        let lf = memchr::memchr_iter(b'\n', prefix).count() as u64;
        let bare = memchr::memchr_iter(b'\n', prefix)
            .filter(|&i| i == 0 || prefix[i - 1] != b'\r')
            .count() as u64;
        s.lines += lf;
        s.bare_lf += bare;
        s
    }

    /// Appends bytes of the current line (no LF among them).
    fn take(&mut self, seg: &[u8]) {
        if seg.is_empty() {
            return;
        }
        if self.head.len() < self.head_cap {
            let n = (self.head_cap - self.head.len()).min(seg.len());
            self.head.extend_from_slice(&seg[..n]);
        }
        if self.in_header && !self.hdr_full {
            if self.line_len == 0 && !is_lwsp(seg[0]) {
                self.hdr_field = self.hdr_line;
            }
            if self.hdr.len() + seg.len() <= self.header_limit() {
                self.hdr.extend_from_slice(seg);
            } else {
                // Keep whole fields only; skip the rest of this header block.
                let keep = if self.line_len == 0 && !is_lwsp(seg[0]) {
                    self.hdr_line
                } else {
                    self.hdr_field
                };
                let keep = keep.max(self.exempt.min(self.hdr.len()));
                self.hit.header_bytes_skipped += (self.hdr.len() - keep + seg.len()) as u64;
                self.hdr.truncate(keep);
                self.hdr_full = true;
            }
        } else if self.in_header {
            self.hit.header_bytes_skipped += seg.len() as u64;
        }
        self.line_len += seg.len() as u64;
        self.line_cr = seg[seg.len() - 1] == b'\r';
        self.pos += seg.len() as u64;
    }

    /// Handles the LF that ends the current line.
    fn end_line(&mut self) {
        let crlf = self.line_cr;
        self.pos += 1;
        self.lf += 1;
        if !crlf {
            self.bare += 1;
        }
        let end_len: u8 = if crlf { 2 } else { 1 };
        let content = self.line_len - u64::from(crlf);
        if self.in_header && content == 0 {
            // RFC 5322 §2.1: the empty line ends the header block.
            self.hdr.truncate(self.hdr_line);
            let body = Mark {
                at: self.pos,
                lf: self.lf,
                bare: self.bare,
            };
            self.end_header(body);
        } else if let Some((k, close)) = self.match_boundary() {
            if self.in_header {
                self.hdr.truncate(self.hdr_line);
            }
            self.boundary(k, close, true);
        } else {
            if self.in_header {
                if self.hdr_full {
                    self.hit.header_bytes_skipped += 1;
                } else {
                    self.hdr.push(b'\n');
                    self.note_field_line();
                }
            }
            self.prev_end = end_len;
        }
        self.line = Mark {
            at: self.pos,
            lf: self.lf,
            bare: self.bare,
        };
        self.head.clear();
        self.line_len = 0;
        self.line_cr = false;
        self.hdr_line = self.hdr.len();
    }

    /// Checks the capture limit after a complete header line was appended.
    fn note_field_line(&mut self) {
        if self.hdr.len() > self.header_limit() {
            let keep = self.hdr_field.max(self.exempt.min(self.hdr.len()));
            self.hit.header_bytes_skipped += (self.hdr.len() - keep) as u64;
            self.hdr.truncate(keep);
            self.hdr_full = true;
        }
    }

    /// Bytes the current header block may keep: `max_header_bytes` plus an exempt prefix.
    fn header_limit(&self) -> usize {
        self.limits.max_header_bytes.saturating_add(self.exempt)
    }

    /// RFC 2046 §5.1.1: a line `--boundary` (close delimiter `--boundary--`) of any active
    /// multipart. As in Dovecot, the boundary need only prefix the line (transport padding and
    /// stray text after it are ignored) and the longest matching boundary wins, the innermost
    /// among equals.
    fn match_boundary(&self) -> Option<(usize, bool)> {
        let rest = self.head.strip_prefix(b"--")?;
        let mut best: Option<usize> = None;
        for (k, (b, _)) in self.boundaries.iter().enumerate().rev() {
            if rest.starts_with(b) && best.is_none_or(|j| self.boundaries[j].0.len() < b.len()) {
                best = Some(k);
            }
        }
        let k = best?;
        let close = rest[self.boundaries[k].0.len()..].starts_with(b"--");
        Some((k, close))
    }

    /// A delimiter of `boundaries[k]` was found at the current line.
    fn boundary(&mut self, k: usize, close: bool, line_ended: bool) {
        // RFC 2046 §5.1.1: the line end before the delimiter belongs to the delimiter.
        let cut = if self.prev_end > 0 {
            Mark {
                at: self.line.at - u64::from(self.prev_end),
                lf: self.line.lf - 1,
                bare: self.line.bare - u64::from(self.prev_end == 1),
            }
        } else {
            self.line
        };
        let owner = self.boundaries[k].1;
        while self.cur != owner {
            if self.in_header {
                self.end_header(cut);
                continue;
            }
            self.close(self.cur, cut);
            self.cur = self.nodes[self.cur]
                .parent
                .expect("the owner of an active boundary is an ancestor");
        }
        self.in_header = false;
        // Delimiters of inner multiparts left open are forgotten; a close delimiter also
        // retires its own boundary (what follows is the epilogue).
        self.boundaries.truncate(if close { k } else { k + 1 });
        self.prev_end = 0;
        if !close && line_ended {
            self.start_child(owner, self.pos);
        }
    }

    /// Starts a part (header first) at `at`, if the part limit allows.
    fn start_child(&mut self, parent: usize, at: u64) -> bool {
        if self.nodes.len() >= self.limits.max_parts {
            self.hit.parts_dropped = self.hit.parts_dropped.saturating_add(1);
            return false;
        }
        let depth = self.nodes[parent].depth + 1;
        let idx = self.nodes.len();
        self.nodes.push(Node::new(Some(parent), depth, at));
        self.nodes[parent].children.push(idx);
        self.cur = idx;
        self.in_header = true;
        self.hdr.clear();
        self.hdr_line = 0;
        self.hdr_field = 0;
        self.hdr_full = false;
        self.prev_end = 0;
        true
    }

    /// The current part's header ended; its body starts at `body`.
    fn end_header(&mut self, body: Mark) {
        let idx = self.cur;
        self.in_header = false;
        self.prev_end = 0;
        let parent = self.nodes[idx].parent;
        let parent_kind = parent.map(|p| (self.nodes[p].kind, self.nodes[p].digest));
        let is_root = parent_kind.is_none_or(|(k, _)| k == Kind::Message);
        // The exempt start is the trace prefix: its fields are read last (`build`).
        let exempt = std::mem::take(&mut self.exempt).min(self.hdr.len());
        if exempt > 0 {
            self.prefix = self.hdr[..exempt].to_vec();
        }
        let block = std::mem::take(&mut self.hdr);
        let f = header_facts(
            &self.splitter,
            &self.limits,
            &mut self.budget,
            &block[exempt..],
            is_root,
            idx == 0,
        );
        self.hdr = block;
        self.hdr.clear();
        self.hdr_line = 0;
        // RFC 2046 §5.1: body parts of a multipart are MIME entities whatever their header says.
        let in_multipart = matches!(parent_kind, Some((Kind::Multipart, _)));
        let is_mime = f.is_mime || in_multipart;
        let kind = match (&f.content_type, is_mime) {
            (Some(Some((ty, sub))), true) => {
                if ty.eq_ignore_ascii_case(b"multipart") {
                    Kind::Multipart
                } else if ty.eq_ignore_ascii_case(b"message")
                    && (sub.eq_ignore_ascii_case(b"rfc822") || sub.eq_ignore_ascii_case(b"global"))
                {
                    // RFC 2046 §5.2.1, RFC 6532 §3.7: an encapsulated message.
                    Kind::Message
                } else {
                    Kind::Leaf
                }
            }
            // RFC 2046 §5.1.5: in a digest the default is message/rfc822.
            (None, true) if matches!(parent_kind, Some((Kind::Multipart, true))) => Kind::Message,
            _ => Kind::Leaf,
        };
        let digest = kind == Kind::Multipart
            && matches!(&f.content_type, Some(Some((_, s))) if s.eq_ignore_ascii_case(b"digest"));
        let boundary = match (kind, is_mime) {
            (Kind::Multipart, true) => f.boundary,
            _ => None,
        };
        if idx == 0 {
            self.date = f.date;
            self.subject = f.subject;
            self.references = f.references;
        }
        let n = &mut self.nodes[idx];
        n.body_start = body.at;
        n.lf0 = body.lf;
        n.bare0 = body.bare;
        n.digest = digest;
        // RFC 2045 §4: without MIME-Version (or Content-Type) the Content-* fields mean nothing.
        n.mime = if is_mime {
            f.mime
        } else {
            MimeFields::default()
        };
        if is_root {
            n.envelope = Some(f.envelope);
        }
        n.kind = kind;
        if kind != Kind::Leaf && n.depth >= self.limits.max_depth {
            n.truncated = true;
            n.kind = Kind::Leaf;
            self.hit.depth_exceeded = self.hit.depth_exceeded.saturating_add(1);
            return;
        }
        match kind {
            Kind::Multipart => match boundary {
                Some(b) if !b.is_empty() && b.len() <= self.limits.max_boundary_bytes => {
                    self.boundaries.push((b, idx));
                }
                _ => {
                    // RFC 2046 §5.1.1: no usable boundary, so no body parts.
                    self.hit.boundaries_ignored = self.hit.boundaries_ignored.saturating_add(1);
                }
            },
            Kind::Message => {
                if !self.start_child(idx, body.at) {
                    let n = &mut self.nodes[idx];
                    n.kind = Kind::Leaf;
                    n.truncated = true;
                }
            }
            Kind::Leaf => {}
        }
    }

    fn close(&mut self, idx: usize, end: Mark) {
        let n = &mut self.nodes[idx];
        n.body_end = end.at;
        n.lines = end.lf - n.lf0;
        n.bare_lf = end.bare - n.bare0;
    }

    fn build(mut self) -> Summary {
        let nodes = std::mem::take(&mut self.nodes);
        let mut slots: Vec<Option<Node>> = nodes.into_iter().map(Some).collect();
        let (root, envelope) = build_part(&mut slots, 0);
        let prefix = (!self.prefix.is_empty()).then(|| {
            header_facts(
                &self.splitter,
                &self.limits,
                &mut self.budget,
                &self.prefix,
                true,
                true,
            )
        });
        self.hit.fields_truncated = self.budget.truncated;
        let mut s = Summary {
            envelope: envelope.unwrap_or_default(),
            root,
            size: self.pos,
            lines: self.lf,
            bare_lf: self.bare,
            date: self.date,
            subject: self.subject,
            references: self.references,
            limits_hit: self.hit,
        };
        if let Some(facts) = prefix {
            join_earlier_fields(&mut s, facts, self.limits.max_addresses);
        }
        s
    }
}

impl Node {
    fn new(parent: Option<usize>, depth: usize, at: u64) -> Node {
        Node {
            parent,
            depth,
            header_start: at,
            body_start: at,
            body_end: at,
            lf0: 0,
            bare0: 0,
            lines: 0,
            bare_lf: 0,
            kind: Kind::Leaf,
            digest: false,
            truncated: false,
            children: Vec::new(),
            mime: MimeFields::default(),
            envelope: None,
        }
    }
}

/// Turns node `idx` (and its subtree) into a [`Part`]; also returns its envelope.
fn build_part(slots: &mut [Option<Node>], idx: usize) -> (Part, Option<Envelope>) {
    let n = slots[idx].take().expect("each node is built once");
    let body = match n.kind {
        Kind::Leaf => PartBody::Single,
        Kind::Multipart => {
            PartBody::Multipart(n.children.iter().map(|&c| build_part(slots, c).0).collect())
        }
        Kind::Message => match n.children.first() {
            Some(&c) => {
                let (root, envelope) = build_part(slots, c);
                PartBody::Message(Box::new(Message {
                    envelope: envelope.unwrap_or_default(),
                    root,
                }))
            }
            None => PartBody::Single,
        },
    };
    let part = Part {
        header_start: n.header_start,
        body_start: n.body_start,
        body_end: n.body_end,
        lines: n.lines,
        bare_lf: n.bare_lf,
        truncated: n.truncated || (n.kind == Kind::Message && n.children.is_empty()),
        mime: n.mime,
        body,
    };
    (part, n.envelope)
}

/// Moves every offset of `part` and its subtree by `by`.
fn shift(part: &mut Part, by: u64) {
    part.header_start += by;
    part.body_start += by;
    part.body_end += by;
    match &mut part.body {
        PartBody::Single => {}
        PartBody::Multipart(children) => children.iter_mut().for_each(|c| shift(c, by)),
        PartBody::Message(m) => shift(&mut m.root, by),
    }
}

/// Parses a whole message held in memory (tests, tools, the reference renderer).
pub fn parse(message: &[u8]) -> Summary {
    let mut p = MimeParser::new(MimeLimits::default());
    p.feed(message);
    p.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// name, adl, mailbox, host
    type Fields = (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );

    fn addrs(v: &str) -> Vec<Fields> {
        let s = |o: Option<Vec<u8>>| o.map(|v| String::from_utf8(v).unwrap());
        AddressParser::parse(v.as_bytes(), 100)
            .into_iter()
            .map(|a| (s(a.name), s(a.adl), s(a.mailbox), s(a.host)))
            .collect()
    }

    fn one(name: Option<&str>, mailbox: &str, host: &str) -> Fields {
        (
            name.map(str::to_string),
            None,
            Some(mailbox.to_string()),
            Some(host.to_string()),
        )
    }

    #[test]
    fn addresses_keep_raw_names_and_groups() {
        assert_eq!(
            addrs("=?utf-8?q?J=C3=B6rg?= <j@example.test>, \"Doe, J.\" <d@x.test>"),
            vec![
                one(Some("=?utf-8?q?J=C3=B6rg?="), "j", "example.test"),
                one(Some("Doe, J."), "d", "x.test")
            ]
        );
        assert_eq!(
            addrs("a@b.test (Alice A)"),
            vec![one(Some("Alice A"), "a", "b.test")]
        );
        assert_eq!(
            addrs("undisclosed-recipients:;"),
            vec![
                (None, None, Some("undisclosed-recipients".into()), None),
                (None, None, None, None)
            ]
        );
        assert_eq!(
            addrs("team: a@b.test, c@d.test;"),
            vec![
                (None, None, Some("team".into()), None),
                one(None, "a", "b.test"),
                one(None, "c", "d.test"),
                (None, None, None, None)
            ]
        );
        assert_eq!(
            addrs("<@r1.test,@r2.test:u@h.test>"),
            vec![(
                None,
                Some("@r1.test,@r2.test".into()),
                Some("u".into()),
                Some("h.test".into())
            )]
        );
        assert_eq!(addrs("user"), vec![one(None, "user", "MISSING_DOMAIN")]);
        assert_eq!(
            addrs("Undisclosed recipients"),
            vec![one(
                Some("Undisclosed recipients"),
                "MISSING_MAILBOX",
                "MISSING_DOMAIN"
            )]
        );
        assert_eq!(
            addrs("Name <broken"),
            vec![(
                Some("Name".into()),
                None,
                Some("broken".into()),
                Some("SYNTAX_ERROR".into())
            )]
        );
        assert_eq!(addrs("   "), vec![]);
        assert_eq!(
            addrs("\"q\\\"uote\" <x@[1.2.3.4]>"),
            vec![one(Some("q\"uote"), "x", "[1.2.3.4]")]
        );
    }

    #[test]
    fn parameters_follow_rfc2231() {
        let p = |v: &str| {
            let mut lx = Lexer::new(v.as_bytes());
            let ct = content_type(&mut lx).map(|(t, s, _)| (t, s));
            let params: Vec<(String, String)> = parameters(&mut lx, 64)
                .into_iter()
                .map(|p| {
                    (
                        String::from_utf8(p.name).unwrap(),
                        String::from_utf8(p.value).unwrap(),
                    )
                })
                .collect();
            (ct.is_ok(), params)
        };
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            p("text/plain; CharSet=\"utf-8\"; format=flowed"),
            (true, vec![s("charset", "utf-8"), s("format", "flowed")])
        );
        assert_eq!(
            p("application/x; name*1=\"b c\"; name*0=a; title*0*=us-ascii'en'%41; title*1=%"),
            (
                true,
                vec![s("name", "ab c"), s("title*", "us-ascii'en'%41%25")]
            )
        );
        assert_eq!(
            p("application/x; name*0=a; name*2=c"),
            (true, vec![s("name*0", "a"), s("name*2", "c")])
        );
        assert_eq!(p("text"), (false, vec![]));
        assert!(!p("text/plain charset=x").0);
        assert_eq!(
            p("text/plain; name==?utf-8?b?eA==?= ; x=y"),
            (true, vec![s("name", "=?utf-8?b?eA==?="), s("x", "y")])
        );
        let names = |v: &[u8]| -> Vec<Vec<u8>> {
            parameters(&mut Lexer::new(v), 64)
                .into_iter()
                .map(|p| p.name)
                .collect()
        };
        assert_eq!(
            names(b"; a=1 ;B=\"2\" (c); c=3"),
            vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
        );
        // After a broken parameter the rest is skipped byte by byte, as Dovecot does.
        assert_eq!(names(b"; a=1; broken; c=3"), vec![b"a".to_vec()]);
    }

    fn crlf(text: &str) -> Vec<u8> {
        text.replace('\n', "\r\n").into_bytes()
    }

    fn slice(msg: &[u8], r: std::ops::Range<u64>) -> &[u8] {
        &msg[r.start as usize..r.end as usize]
    }

    fn with_limits(msg: &[u8], limits: MimeLimits) -> Summary {
        let mut p = MimeParser::new(limits);
        p.feed(msg);
        p.finish()
    }

    #[test]
    fn nested_multiparts_have_exact_offsets() {
        let msg = crlf(
            "Subject: n\nContent-Type: multipart/mixed; boundary=o\n\npreamble\n--o\n\
             Content-Type: multipart/alternative; boundary=i\n\n--i\n\nplain\n--i\n\
             Content-Type: text/html\n\n<p>html</p>\n--i--\ninner epilogue\n--o\n\
             Content-Type: image/png\n\nPNG\n--o--\nepilogue\n",
        );
        let s = parse(&msg);
        let top = s.root.children();
        assert_eq!(top.len(), 2);
        let alt = top[0].children();
        assert_eq!(alt.len(), 2);
        assert_eq!(slice(&msg, alt[0].body_range()), b"plain");
        assert_eq!(slice(&msg, alt[1].body_range()), b"<p>html</p>");
        assert_eq!(
            slice(&msg, alt[1].header_range()),
            b"Content-Type: text/html\r\n\r\n"
        );
        assert_eq!(slice(&msg, top[1].body_range()), b"PNG");
        // The alternative's body runs to the outer delimiter, its epilogue included.
        assert!(slice(&msg, top[0].body_range()).ends_with(b"--i--\r\ninner epilogue"));
        assert_eq!(s.root.body_end, s.size);
        assert_eq!(s.lines, 22);
        assert_eq!((alt[0].lines, top[0].lines), (0, 8));
        assert_eq!(s.root.mime.subtype.as_deref(), Some(&b"mixed"[..]));
    }

    #[test]
    fn rfc822_inside_multipart_has_its_own_envelope() {
        let msg = crlf(
            "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\n\
             From: In <in@x.test>\nSubject: inner\nContent-Type: multipart/alternative; boundary=c\n\n\
             --c\n\ninner text\n--c--\n--b--\n",
        );
        let s = parse(&msg);
        let part = &s.root.children()[0];
        let m = part.message().expect("encapsulated message");
        assert_eq!(m.envelope.subject.as_deref(), Some(&b"inner"[..]));
        assert_eq!(m.envelope.from[0].name.as_deref(), Some(&b"In"[..]));
        assert_eq!(m.root.header_start, part.body_start);
        assert_eq!(
            slice(&msg, m.root.children()[0].body_range()),
            b"inner text"
        );
        assert!(s.envelope.subject.is_none());
        // RFC 3501 §6.4.5: 1 is the message part, 1.1 the first part of its message.
        assert!(std::ptr::eq(s.section(&[1]).unwrap(), part));
        assert!(std::ptr::eq(
            s.section(&[1, 1]).unwrap(),
            &m.root.children()[0]
        ));
    }

    #[test]
    fn digest_parts_default_to_messages() {
        let msg = crlf(
            "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nbody\n\
             --d\nContent-Type: text/plain\n\ntext\n--d--\n",
        );
        let s = parse(&msg);
        let parts = s.root.children();
        assert_eq!(
            parts[0].message().unwrap().envelope.subject.as_deref(),
            Some(&b"one"[..])
        );
        assert!(parts[1].message().is_none());
    }

    #[test]
    fn missing_close_delimiters_end_at_eof() {
        let msg = crlf(
            "Content-Type: multipart/mixed; boundary=o\n\n--o\n\
             Content-Type: multipart/alternative; boundary=i\n\n--i\n\none\n--o\n\nlast\n",
        );
        let s = parse(&msg);
        let top = s.root.children();
        assert_eq!(top.len(), 2);
        assert_eq!(slice(&msg, top[0].children()[0].body_range()), b"one");
        assert_eq!(slice(&msg, top[1].body_range()), b"last\r\n");
        assert_eq!(top[1].body_end, s.size);
    }

    #[test]
    fn crlf_and_lf_give_the_same_structure() {
        let text = "Content-Type: multipart/mixed; boundary=x\n\n--x\n\na\nb\n--x--\n";
        let c = parse(&crlf(text));
        let l = parse(text.as_bytes());
        assert_eq!(l.bare_lf, l.lines);
        assert_eq!(c.bare_lf, 0);
        assert_eq!(c.size, l.size_crlf());
        let (pc, pl) = (&c.root.children()[0], &l.root.children()[0]);
        assert_eq!((pc.lines, pl.lines), (1, 1));
        assert_eq!(pc.size_crlf(), pl.size_crlf());
        assert_eq!(c.imap_body_structure(true), l.imap_body_structure(true));
    }

    #[test]
    fn empty_body_and_header_only_messages() {
        let s = parse(b"Subject: e\r\n\r\n");
        assert_eq!((s.header_bytes(), s.root.body_end, s.size), (14, 14, 14));
        assert_eq!(s.envelope.subject.as_deref(), Some(&b"e"[..]));
        let s = parse(b"Subject: h\r\nX: no line end");
        assert_eq!((s.header_bytes(), s.size), (26, 26));
        assert_eq!(s.envelope.subject.as_deref(), Some(&b"h"[..]));
        let s = parse(b"");
        assert_eq!((s.size, s.root.body_end), (0, 0));
        let s = parse(b"\r\nbody");
        assert_eq!((s.header_bytes(), s.root.body_end), (2, 6));
    }

    #[test]
    fn eight_bit_headers_stay_raw() {
        let msg = "Subject: Grüße\r\nFrom: Jörg <j@x.test>\r\n\r\n".as_bytes();
        let s = parse(msg);
        assert_eq!(s.envelope.subject.as_deref(), Some("Grüße".as_bytes()));
        assert_eq!(s.envelope.from[0].name.as_deref(), Some("Jörg".as_bytes()));
        assert_eq!(s.subject.as_deref(), Some("Grüße"));
        let s = parse(b"Subject: \xe4\xff\r\n\r\n");
        assert_eq!(s.envelope.subject.as_deref(), Some(&b"\xe4\xff"[..]));
        assert_eq!(Summary::decode(&s.encode()), Some(s));
    }

    #[test]
    fn rfc2231_parameters_reach_the_part() {
        let msg = crlf(
            "MIME-Version: 1.0\nContent-Type: application/x; name*0=\"a \"; NAME*1=b\n\
             Content-Disposition: attachment; filename*=utf-8''%C3%A4.txt\n\nx",
        );
        let s = parse(&msg);
        let m = &s.root.mime;
        assert_eq!(m.params[0].name, b"name");
        assert_eq!(m.params[0].value, b"a b");
        let d = m.disposition.as_ref().unwrap();
        assert_eq!(d.params[0].name, b"filename*");
        assert_eq!(d.params[0].decoded_value(), "ä.txt");
    }

    #[test]
    fn content_fields_need_mime() {
        // RFC 2045 §4: without MIME-Version or Content-Type, Content-* mean nothing.
        let s = parse(b"Content-Transfer-Encoding: base64\r\n\r\nx");
        assert_eq!(s.root.mime, MimeFields::default());
        let s = parse(b"MIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n\r\nx");
        assert_eq!(s.root.mime.encoding.as_deref(), Some(&b"base64"[..]));
    }

    #[test]
    fn a_delimiter_cuts_a_part_header_short() {
        let msg =
            crlf("Content-Type: multipart/mixed; boundary=c\n\n--c\nX-A: 1\n--c\n\nb\n--c--\n");
        let s = parse(&msg);
        let parts = s.root.children();
        assert_eq!(slice(&msg, parts[0].header_range()), b"X-A: 1");
        assert_eq!(parts[0].body_range(), parts[0].body_end..parts[0].body_end);
        assert_eq!(slice(&msg, parts[1].body_range()), b"b");
    }

    #[test]
    fn limits_bound_the_tree() {
        let mut many = String::from("Content-Type: multipart/mixed; boundary=m\n\n");
        for _ in 0..20 {
            many.push_str("--m\n\nx\n");
        }
        many.push_str("--m--\n");
        let limits = MimeLimits {
            max_parts: 5,
            ..MimeLimits::default()
        };
        let s = with_limits(&crlf(&many), limits);
        assert_eq!(s.root.children().len(), 4);
        assert_eq!(s.limits_hit.parts_dropped, 16);
        // Delimiters that could start no part stay in the multipart's body.
        assert_eq!(slice(&crlf(&many), s.root.children()[3].body_range()), b"x");
        assert_eq!(s.root.body_end, s.size);

        let mut deep = String::new();
        for d in 0..6 {
            deep.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=d{d}\n\n--d{d}\n"
            ));
        }
        deep.push_str("\nleaf\n");
        let limits = MimeLimits {
            max_depth: 3,
            ..MimeLimits::default()
        };
        let s = with_limits(deep.as_bytes(), limits);
        let mut p = &s.root;
        let mut depth = 0;
        while let [c] = p.children() {
            p = c;
            depth += 1;
        }
        assert_eq!(depth, 3);
        assert!(p.truncated);
        assert_eq!(s.limits_hit.depth_exceeded, 1);

        let mut big = String::from("Subject: kept\n");
        for i in 0..100 {
            big.push_str(&format!("X-Filler-{i}: {}\n", "y".repeat(50)));
        }
        big.push_str("To: lost@x.test\n\nbody");
        let limits = MimeLimits {
            max_header_bytes: 1024,
            ..MimeLimits::default()
        };
        let s = with_limits(big.as_bytes(), limits);
        assert_eq!(s.envelope.subject.as_deref(), Some(&b"kept"[..]));
        assert!(s.envelope.to.is_empty());
        assert!(s.limits_hit.header_bytes_skipped > 4000);
        assert_eq!(slice(big.as_bytes(), s.root.body_range()), b"body");

        let b = "B".repeat(30);
        let msg = format!("Content-Type: multipart/mixed; boundary={b}\n\n--{b}\n\nx\n");
        let limits = MimeLimits {
            max_boundary_bytes: 20,
            max_field_bytes: 10,
            ..MimeLimits::default()
        };
        let s = with_limits(msg.as_bytes(), limits);
        assert!(s.root.children().is_empty());
        assert_eq!(s.limits_hit.boundaries_ignored, 1);
        assert!(s.limits_hit.fields_truncated > 0);
    }

    #[test]
    fn decoded_text_is_cut_at_character_boundaries() {
        // Found by fuzzing: a References id cut inside a UTF-8 sequence.
        let limits = MimeLimits {
            max_field_bytes: 4,
            ..MimeLimits::default()
        };
        let s = with_limits(
            "Subject: aäää\r\nReferences: <aääb@x>\r\n\r\n".as_bytes(),
            limits,
        );
        assert_eq!(s.subject.as_deref(), Some("aä"));
        assert_eq!(s.references, vec!["aä".to_string()]);
    }

    #[test]
    fn trace_prefix_moves_offsets() {
        let msg =
            crlf("Subject: p\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\n");
        let prefix = b"Received: from a\r\n\tby b; now\r\n";
        let (shifted, stored) = delivered(MimeLimits::default(), prefix, &msg);
        assert_eq!(shifted, parse(&stored));
        assert_eq!(
            slice(&stored, shifted.root.children()[0].body_range()),
            b"x"
        );
    }

    /// The summary delivery stores for `msg` behind `prefix`, and the stored bytes.
    fn delivered(limits: MimeLimits, prefix: &[u8], msg: &[u8]) -> (Summary, Vec<u8>) {
        let mut p = MimeParser::new(limits);
        p.feed(msg);
        let mut stored = prefix.to_vec();
        stored.extend_from_slice(msg);
        (p.finish_with_prefix(prefix), stored)
    }

    /// Parses `stored` as [`MimeParser::after_prefix`] does.
    fn parse_after(limits: MimeLimits, prefix_len: usize, stored: &[u8]) -> Summary {
        let mut p = MimeParser::after_prefix(limits, prefix_len);
        p.feed(stored);
        p.finish()
    }

    #[test]
    fn the_header_limit_counts_only_what_follows_the_prefix() {
        // Found by fuzzing: the prefix spent part of the header limit of the stored parse.
        let limits = MimeLimits {
            max_header_bytes: 100,
            ..MimeLimits::default()
        };
        let prefix = b"Return-Path: <a@b.test>\r\nReceived: from x\r\n\tby y; now\r\n";
        for msg in [
            crlf(
                "Subject: s\nX-Pad: 0123456789012345678901234567890123456789\nTo: t@example.org\nFrom: f@example.org\n\nbody\n",
            ),
            // A continuation line first continues the prefix's last field in the stored bytes.
            crlf(&format!(
                " {}\nTo: t@example.org\n\nbody\n",
                "c".repeat(150)
            )),
            crlf(&format!(
                "To: t@example.org\nX-Long: {}\n\nbody\n",
                "l".repeat(150)
            )),
        ] {
            let (shifted, stored) = delivered(limits.clone(), prefix, &msg);
            assert_eq!(shifted, parse_after(limits.clone(), prefix.len(), &stored));
            assert_eq!(
                shifted.limits_hit.header_bytes_skipped,
                with_limits(&msg, limits.clone())
                    .limits_hit
                    .header_bytes_skipped
            );
            assert!(shifted.limits_hit.header_bytes_skipped > 0);
        }
    }

    #[test]
    fn a_reply_to_in_the_prefix_is_in_the_envelope() {
        // A list that sets Reply-To adds it in the prefix (delivery::lists::fields).
        let msg = crlf("From: a@example.org\nTo: l@example.org\nSubject: s\n\nbody\n");
        let prefix = b"Return-Path: <l-bounces@example.org>\r\nList-Id: <l.example.org>\r\nReply-To: <l@example.org>\r\n";
        let (shifted, stored) = delivered(MimeLimits::default(), prefix, &msg);
        assert_eq!(shifted, parse(&stored));
        let reply_to = &shifted.envelope.reply_to;
        assert_eq!(reply_to.len(), 1);
        assert_eq!(reply_to[0].mailbox.as_deref(), Some(&b"l"[..]));
        assert_eq!(shifted.envelope.subject.as_deref(), Some(&b"s"[..]));
    }

    #[test]
    fn the_prefix_spends_the_text_budget_last_in_a_stored_parse_too() {
        // At delivery the prefix is read when the whole message has been parsed, so its body
        // parts may have used up the text budget before the list's Reply-To is kept.
        let limits = MimeLimits {
            max_text_bytes: 60,
            ..MimeLimits::default()
        };
        let msg = crlf(
            "From: a@example.org\nSubject: s\nMIME-Version: 1.0\n\
             Content-Type: multipart/mixed; boundary=b\n\n--b\n\
             Content-Description: a description that spends the budget\n\nx\n--b--\n",
        );
        let prefix = b"Reply-To: <list@example.org>\r\n";
        let (shifted, stored) = delivered(limits.clone(), prefix, &msg);
        assert_eq!(shifted, parse_after(limits, prefix.len(), &stored));
        assert!(shifted.limits_hit.fields_truncated > 0);
    }

    #[test]
    fn field_values_unfold_like_the_reference() {
        assert_eq!(field_value(b"  a\r\n b\r\n"), b"a\n b");
        assert_eq!(field_value(b"   \r\n b\r\n"), b"  \n b");
        assert_eq!(field_value(b"x"), b"x");
        assert_eq!(transfer_encoding(b" Base64 (c)"), Some(b"Base64".to_vec()));
        assert_eq!(transfer_encoding(b"7bit; x"), None);
        assert_eq!(transfer_encoding(b" (only a comment)"), None);
        assert_eq!(
            languages(b" en, de-CH"),
            vec![b"en".to_vec(), b"de-CH".to_vec()]
        );
    }
}

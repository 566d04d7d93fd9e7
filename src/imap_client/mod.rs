//! The client side of IMAP, for copying mail from another server (`mailnook import-imap`).
//! Sans-IO: bytes in, parsed responses out; the driver that owns the socket is
//! `cli::import_imap`.
//!
//! [`ResponseReader`] splits what a server sends into fragments (RFC 9051 §2.2.2: a response
//! is lines, each of which may end with a literal `{n}` whose n octets follow), the way
//! imap-codec's fragmentizer does for the server side, with the same defences: a line longer
//! than its limit, or a literal announced larger than the message size limit, is an error at
//! once, and a literal is handed out in pieces as it arrives, never held whole. The parsers
//! below read one response's text (its lines joined, each literal replaced by a
//! [`Token::Literal`] placeholder or its bytes when small) into the few shapes the copy needs:
//! tagged status, CAPABILITY, LIST (RFC 9051 §7.3.1, RFC 6154 attributes), SELECT's UIDVALIDITY
//! and EXISTS, SEARCH, and FETCH's UID, FLAGS, INTERNALDATE and BODY[]. Nesting, token counts
//! and literal sizes are bounded; nothing here panics on any input (fuzz target
//! `imap_client_responses`).

use crate::mailfile::{Meta, month, numeric_zone, unix_time};

/// Longest response line (outside literals) accepted.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// Largest literal kept in a response's text (mailbox names and the like); larger ones are
/// message bodies, streamed.
pub const MAX_INLINE_LITERAL: u64 = 64 * 1024;
/// Most tokens in one response (a FETCH of one message has a few dozen).
pub const MAX_TOKENS: usize = 100_000;
/// Deepest parenthesis nesting.
pub const MAX_DEPTH: usize = 16;

/// What went wrong with the server's bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// A line without its CRLF grew past [`MAX_LINE_BYTES`].
    #[error("the server sent a line longer than {MAX_LINE_BYTES} bytes")]
    LineTooLong,
    /// A literal larger than allowed.
    #[error("the server announced a literal of {0} bytes, more than allowed")]
    LiteralTooLarge(u64),
    /// The response could not be parsed.
    #[error("unexpected response from the server: {0}")]
    Syntax(String),
}

/// One piece of a response as it arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fragment {
    /// A line without its CRLF. If it ends with `{n}`, `literal` is `Some(n)` and n octets of
    /// literal data follow before the response goes on with another line.
    Line {
        /// The text.
        text: Vec<u8>,
        /// The size of the literal that follows.
        literal: Option<u64>,
    },
    /// Literal bytes (in order; all of a literal's pieces add up to its size).
    LiteralData(Vec<u8>),
    /// The literal is complete.
    LiteralEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadState {
    Line,
    Literal(u64),
}

/// Splits server bytes into [`Fragment`]s. Feed bytes with [`ResponseReader::feed`], take
/// fragments with [`ResponseReader::next_fragment`] until it returns `None`.
#[derive(Debug)]
pub struct ResponseReader {
    buf: Vec<u8>,
    state: ReadState,
    max_literal: u64,
    /// Where the line scan left off, so a long line is not rescanned.
    scanned: usize,
}

/// The literal size a line announces at its end (`{n}` or `{n+}`).
fn literal_at_end(line: &[u8]) -> Option<u64> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

impl ResponseReader {
    /// A reader that refuses literals over `max_literal` bytes.
    pub fn new(max_literal: u64) -> ResponseReader {
        ResponseReader {
            buf: Vec::new(),
            state: ReadState::Line,
            max_literal,
            scanned: 0,
        }
    }

    /// Adds bytes read from the server.
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Drops buffered bytes (after STARTTLS nothing sent before the handshake may be used).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.scanned = 0;
        self.state = ReadState::Line;
    }

    /// Bytes buffered that no fragment has taken yet.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Whether bytes are buffered that no fragment has taken yet.
    pub fn has_pending(&self) -> bool {
        !self.buf.is_empty()
    }

    /// The next complete fragment, `None` if more bytes are needed.
    pub fn next_fragment(&mut self) -> Result<Option<Fragment>, ClientError> {
        match self.state {
            ReadState::Literal(0) => {
                self.state = ReadState::Line;
                Ok(Some(Fragment::LiteralEnd))
            }
            ReadState::Literal(left) => {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                let n = (left.min(self.buf.len() as u64)) as usize;
                let data: Vec<u8> = self.buf.drain(..n).collect();
                self.state = ReadState::Literal(left - n as u64);
                Ok(Some(Fragment::LiteralData(data)))
            }
            ReadState::Line => {
                let from = self.scanned.saturating_sub(1);
                let Some(pos) = self.buf[from..]
                    .windows(2)
                    .position(|w| w == b"\r\n")
                    .map(|p| p + from)
                else {
                    self.scanned = self.buf.len();
                    if self.buf.len() > MAX_LINE_BYTES {
                        return Err(ClientError::LineTooLong);
                    }
                    return Ok(None);
                };
                if pos > MAX_LINE_BYTES {
                    return Err(ClientError::LineTooLong);
                }
                let text: Vec<u8> = self.buf.drain(..pos + 2).take(pos).collect();
                self.scanned = 0;
                let literal = literal_at_end(&text);
                if let Some(n) = literal {
                    if n > self.max_literal {
                        return Err(ClientError::LiteralTooLarge(n));
                    }
                    self.state = ReadState::Literal(n);
                }
                Ok(Some(Fragment::Line { text, literal }))
            }
        }
    }
}

/// One token of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// An atom, number, flag or `NIL`, as sent (brackets included: `BODY[]`, `[UIDVALIDITY`).
    Atom(String),
    /// A quoted string or a small literal's bytes.
    Str(Vec<u8>),
    /// A streamed literal (its bytes went elsewhere); the index counts literals from 0.
    Literal(usize),
    /// `(`
    Open,
    /// `)`
    Close,
}

fn syntax(what: &str) -> ClientError {
    ClientError::Syntax(what.to_string())
}

/// Tokenizes one line of a response (without CRLF and without a trailing `{n}`), appending to
/// `out`. Square brackets stay part of atoms; a quoted string may hold `\"` and `\\`.
pub fn tokenize(line: &[u8], out: &mut Vec<Token>) -> Result<(), ClientError> {
    let mut i = 0;
    while i < line.len() {
        if out.len() >= MAX_TOKENS {
            return Err(syntax("too many tokens"));
        }
        match line[i] {
            b' ' => i += 1,
            b'(' => {
                out.push(Token::Open);
                i += 1;
            }
            b')' => {
                out.push(Token::Close);
                i += 1;
            }
            b'"' => {
                let mut s = Vec::new();
                i += 1;
                loop {
                    match line.get(i) {
                        None => return Err(syntax("unterminated quoted string")),
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') => {
                            s.push(*line.get(i + 1).ok_or_else(|| syntax("bad escape"))?);
                            i += 2;
                        }
                        Some(&c) => {
                            s.push(c);
                            i += 1;
                        }
                    }
                }
                out.push(Token::Str(s));
            }
            _ => {
                let start = i;
                // A section's brackets may hold spaces (`BODY[HEADER.FIELDS (A B)]`): keep them
                // in the atom. A response code (`[UIDVALIDITY 3]`) splits like any text.
                let code = line[i] == b'[';
                let mut depth = 0usize;
                while i < line.len() {
                    match line[i] {
                        b'[' if !code => depth += 1,
                        b']' => depth = depth.saturating_sub(1),
                        b' ' | b'(' | b')' if depth == 0 => break,
                        _ => {}
                    }
                    i += 1;
                }
                out.push(Token::Atom(
                    String::from_utf8_lossy(&line[start..i]).into_owned(),
                ));
            }
        }
    }
    Ok(())
}

/// A response's tokens, assembled from its fragments.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Response {
    /// Its tokens.
    pub tokens: Vec<Token>,
}

impl Response {
    /// Adds a line (its trailing `{n}` already stripped by the caller when a literal follows).
    pub fn push_line(&mut self, line: &[u8]) -> Result<(), ClientError> {
        tokenize(line, &mut self.tokens)
    }

    /// The tag (`*`, `+` or the command's tag).
    pub fn tag(&self) -> Option<&str> {
        match self.tokens.first()? {
            Token::Atom(a) => Some(a),
            _ => None,
        }
    }

    fn atom(&self, i: usize) -> Option<&str> {
        match self.tokens.get(i)? {
            Token::Atom(a) => Some(a),
            _ => None,
        }
    }

    /// For a tagged response: `OK`, `NO` or `BAD` and the text after it.
    pub fn status(&self) -> Option<(String, String)> {
        let s = self.atom(1)?.to_ascii_uppercase();
        matches!(s.as_str(), "OK" | "NO" | "BAD" | "BYE" | "PREAUTH").then_some(())?;
        let rest: Vec<String> = self.tokens[2..]
            .iter()
            .map(|t| match t {
                Token::Atom(a) => a.clone(),
                Token::Str(s) => String::from_utf8_lossy(s).into_owned(),
                Token::Open => "(".into(),
                Token::Close => ")".into(),
                Token::Literal(_) => "{..}".into(),
            })
            .collect();
        Some((s, rest.join(" ")))
    }

    /// `* CAPABILITY ...` or a status response's `[CAPABILITY ...]` code: the capabilities,
    /// upper-case.
    pub fn capabilities(&self) -> Option<Vec<String>> {
        let at = self.tokens.iter().position(|t| {
            matches!(t, Token::Atom(a) if a.eq_ignore_ascii_case("CAPABILITY") || a.eq_ignore_ascii_case("[CAPABILITY"))
        })?;
        let mut caps = Vec::new();
        for t in &self.tokens[at + 1..] {
            let Token::Atom(a) = t else { break };
            let done = a.ends_with(']');
            caps.push(a.trim_end_matches(']').to_ascii_uppercase());
            if done {
                break;
            }
        }
        Some(caps)
    }

    /// `* n KEYWORD`: (n, KEYWORD), e.g. `EXISTS`.
    pub fn numbered(&self) -> Option<(u32, String)> {
        (self.tag()? == "*").then_some(())?;
        let n = self.atom(1)?.parse().ok()?;
        Some((n, self.atom(2)?.to_ascii_uppercase()))
    }

    /// A response code with a number, e.g. `[UIDVALIDITY 3857529045]`.
    pub fn code_number(&self, code: &str) -> Option<u32> {
        let at = self.tokens.iter().position(|t| {
            matches!(t, Token::Atom(a) if a.len() == code.len() + 1 && a.starts_with('[') && a[1..].eq_ignore_ascii_case(code))
        })?;
        self.atom(at + 1)?.trim_end_matches(']').parse().ok()
    }

    /// `* LIST (attributes) delimiter name`.
    pub fn list(&self) -> Option<ListEntry> {
        (self.tag()? == "*" && self.atom(1)?.eq_ignore_ascii_case("LIST")).then_some(())?;
        let mut i = 2;
        (self.tokens.get(i)? == &Token::Open).then_some(())?;
        i += 1;
        let mut attributes = Vec::new();
        loop {
            match self.tokens.get(i)? {
                Token::Close => break,
                Token::Atom(a) => attributes.push(a.to_ascii_lowercase()),
                _ => return None,
            }
            i += 1;
        }
        i += 1;
        let delimiter = match self.tokens.get(i)? {
            Token::Str(s) if s.len() == 1 => Some(s[0] as char),
            Token::Atom(a) if a.eq_ignore_ascii_case("NIL") => None,
            _ => return None,
        };
        i += 1;
        let name = match self.tokens.get(i)? {
            Token::Str(s) => s.clone(),
            Token::Atom(a) => a.as_bytes().to_vec(),
            _ => return None,
        };
        Some(ListEntry {
            attributes,
            delimiter,
            name,
        })
    }

    /// `* SEARCH n n n`: the numbers.
    pub fn search(&self) -> Option<Vec<u32>> {
        (self.tag()? == "*" && self.atom(1)?.eq_ignore_ascii_case("SEARCH")).then_some(())?;
        self.tokens[2..]
            .iter()
            .map(|t| match t {
                Token::Atom(a) => a.parse().ok(),
                _ => None,
            })
            .collect()
    }

    /// `* n FETCH (...)`: the items this client asks for.
    pub fn fetch(&self) -> Option<Fetched> {
        let (_, kw) = self.numbered()?;
        (kw == "FETCH").then_some(())?;
        (self.tokens.get(3)? == &Token::Open).then_some(())?;
        let mut f = Fetched::default();
        let mut i = 4;
        loop {
            let name = match self.tokens.get(i)? {
                Token::Close => return Some(f),
                Token::Atom(a) => a.to_ascii_uppercase(),
                _ => return None,
            };
            i += 1;
            match name.as_str() {
                "UID" => f.uid = Some(self.atom(i)?.parse().ok()?),
                "FLAGS" => {
                    (self.tokens.get(i)? == &Token::Open).then_some(())?;
                    let mut flags = Meta::default();
                    loop {
                        i += 1;
                        match self.tokens.get(i)? {
                            Token::Close => break,
                            Token::Atom(a) => add_flag(&mut flags, a),
                            _ => return None,
                        }
                    }
                    f.flags = Some(flags);
                }
                "INTERNALDATE" => match self.tokens.get(i)? {
                    Token::Str(s) => f.internal_date = Some(parse_date_time(s)?),
                    _ => return None,
                },
                "BODY[]" | "RFC822" => match self.tokens.get(i)? {
                    Token::Literal(n) => f.body = Some(*n),
                    Token::Atom(a) if a.eq_ignore_ascii_case("NIL") => {}
                    Token::Str(_) => f.inline_body = true,
                    _ => return None,
                },
                _ => {
                    // Any other item: skip its value (an atom, string or parenthesised list).
                    if self.tokens.get(i)? == &Token::Open {
                        let mut depth = 0usize;
                        loop {
                            match self.tokens.get(i)? {
                                Token::Open => depth += 1,
                                Token::Close => depth -= 1,
                                _ => {}
                            }
                            if depth == 0 {
                                break;
                            }
                            if depth > MAX_DEPTH {
                                return None;
                            }
                            i += 1;
                        }
                    }
                }
            }
            i += 1;
        }
    }
}

/// One mailbox a LIST returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// Its attributes, lower-case (`\noselect`, `\sent`, ...).
    pub attributes: Vec<String>,
    /// The hierarchy delimiter.
    pub delimiter: Option<char>,
    /// The name as sent (modified UTF-7 unless UTF-8 was enabled).
    pub name: Vec<u8>,
}

/// What one FETCH response said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    /// UID.
    pub uid: Option<u32>,
    /// FLAGS as system flags and keywords.
    pub flags: Option<Meta>,
    /// INTERNALDATE, Unix seconds.
    pub internal_date: Option<u64>,
    /// The index of the literal that held BODY[].
    pub body: Option<usize>,
    /// BODY[] came as a quoted string (only an empty or tiny message can).
    pub inline_body: bool,
}

/// Adds one flag of a FLAGS list (`\Recent` and unknown system flags are dropped).
fn add_flag(meta: &mut Meta, flag: &str) {
    use crate::store::flags;
    let bit = match flag.to_ascii_lowercase().as_str() {
        "\\seen" => flags::SEEN,
        "\\answered" => flags::ANSWERED,
        "\\flagged" => flags::FLAGGED,
        "\\deleted" => flags::DELETED,
        "\\draft" => flags::DRAFT,
        _ if flag.starts_with('\\') => return,
        _ => {
            meta.add_keyword(flag);
            return;
        }
    };
    meta.flags |= bit;
}

/// Parses an IMAP `date-time` (RFC 9051 §9): `dd-Mon-yyyy hh:mm:ss +zzzz`, day possibly
/// space-padded.
pub fn parse_date_time(s: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(s).ok()?.trim();
    let (date, rest) = s.split_once(' ')?;
    let (time, zone) = rest.trim_start().split_once(' ')?;
    let mut d = date.split('-');
    let day: u32 = d.next()?.trim().parse().ok()?;
    let mon = month(d.next()?)?;
    let year: i64 = d.next()?.parse().ok()?;
    let (h, mi, sec) = crate::mailfile::clock(time)?;
    let base = unix_time(year, mon, day, h, mi, sec)? as i64;
    u64::try_from(base - numeric_zone(zone.trim())?).ok()
}

/// Quotes a string for a command (RFC 9051 §4.3); `None` if it cannot be quoted (CR, LF, NUL).
pub fn quoted(s: &str) -> Option<String> {
    if s.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return None;
    }
    Some(format!(
        "\"{}\"",
        s.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::flags;

    fn fragments(input: &[u8], chunk: usize) -> Vec<Fragment> {
        let mut r = ResponseReader::new(1000);
        let mut out = Vec::new();
        for c in input.chunks(chunk) {
            r.feed(c);
            while let Some(f) = r.next_fragment().unwrap() {
                out.push(f);
            }
        }
        // Merge literal pieces so every chunking compares equal.
        let mut merged: Vec<Fragment> = Vec::new();
        for f in out {
            match (merged.last_mut(), f) {
                (Some(Fragment::LiteralData(a)), Fragment::LiteralData(b)) => a.extend(b),
                (_, f) => merged.push(f),
            }
        }
        merged
    }

    #[test]
    fn splits_lines_and_literals_in_any_chunking() {
        let input = b"* 1 FETCH (UID 7 BODY[] {5}\r\nab\r\nc)\r\na1 OK done\r\n";
        let want = vec![
            Fragment::Line {
                text: b"* 1 FETCH (UID 7 BODY[] {5}".to_vec(),
                literal: Some(5),
            },
            Fragment::LiteralData(b"ab\r\nc".to_vec()),
            Fragment::LiteralEnd,
            Fragment::Line {
                text: b")".to_vec(),
                literal: None,
            },
            Fragment::Line {
                text: b"a1 OK done".to_vec(),
                literal: None,
            },
        ];
        for chunk in [1, 2, 3, 7, 100] {
            assert_eq!(fragments(input, chunk), want, "chunk {chunk}");
        }
    }

    #[test]
    fn refuses_oversized_lines_and_literals() {
        let mut r = ResponseReader::new(10);
        r.feed(b"* 1 FETCH (BODY[] {11}\r\n");
        assert_eq!(r.next_fragment(), Err(ClientError::LiteralTooLarge(11)));
        let mut r = ResponseReader::new(10);
        r.feed(&vec![b'x'; MAX_LINE_BYTES + 1]);
        assert_eq!(r.next_fragment(), Err(ClientError::LineTooLong));
    }

    #[test]
    fn parses_the_responses_a_copy_needs() {
        let mut r = Response::default();
        r.push_line(br#"* LIST (\HasNoChildren \Sent) "/" "Sent Items""#)
            .unwrap();
        assert_eq!(
            r.list(),
            Some(ListEntry {
                attributes: vec!["\\hasnochildren".into(), "\\sent".into()],
                delimiter: Some('/'),
                name: b"Sent Items".to_vec()
            })
        );
        let mut r = Response::default();
        r.push_line(b"* LIST () NIL INBOX").unwrap();
        assert_eq!(r.list().unwrap().delimiter, None);
        let mut r = Response::default();
        r.push_line(br#"* 3 FETCH (UID 44 FLAGS (\Seen \Recent $Label1) INTERNALDATE "17-Jul-1996 02:44:25 -0700" BODY[]"#).unwrap();
        r.tokens.push(Token::Literal(0));
        r.push_line(b")").unwrap();
        let f = r.fetch().unwrap();
        assert_eq!(f.uid, Some(44));
        assert_eq!(
            f.flags,
            Some(Meta {
                flags: flags::SEEN,
                keywords: vec!["$Label1".into()],
                internal_date: None
            })
        );
        assert_eq!(f.internal_date, Some(837_596_665));
        assert_eq!(f.body, Some(0));
        let mut r = Response::default();
        r.push_line(b"* 1 FETCH (BODY[HEADER.FIELDS (A B)] NIL UID 5)")
            .unwrap();
        assert_eq!(r.fetch().unwrap().uid, Some(5));
        let mut r = Response::default();
        r.push_line(b"* OK [UIDVALIDITY 3857529045] UIDs valid")
            .unwrap();
        assert_eq!(r.code_number("UIDVALIDITY"), Some(3_857_529_045));
        let mut r = Response::default();
        r.push_line(b"* SEARCH 2 84 882").unwrap();
        assert_eq!(r.search(), Some(vec![2, 84, 882]));
        let mut r = Response::default();
        r.push_line(b"a1 OK [CAPABILITY IMAP4rev1 SPECIAL-USE AUTH=PLAIN] Logged in")
            .unwrap();
        assert_eq!(
            r.capabilities().unwrap(),
            vec!["IMAP4REV1", "SPECIAL-USE", "AUTH=PLAIN"]
        );
        assert_eq!(r.status().unwrap().0, "OK");
        assert_eq!(
            parse_date_time(b" 1-Jan-2020 00:00:00 +0000"),
            Some(1_577_836_800)
        );
        assert_eq!(quoted("a\"b\\"), Some(r#""a\"b\\""#.to_string()));
        assert_eq!(quoted("a\r\n"), None);
    }
}

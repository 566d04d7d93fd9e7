//! `multipart/form-data` request bodies (RFC 7578), streamed: bytes in, events out.
//!
//! The body is split at boundary delimiters as RFC 2046 §5.1.1 defines them: the delimiter is
//! CRLF `--` boundary (the CRLF belongs to the delimiter, not to the part before it; the first
//! one may start the body), optionally followed by linear white space (transport padding) and a
//! CRLF; the close delimiter is the delimiter followed by `--`. The preamble before the first
//! delimiter and the epilogue after the close delimiter are ignored. A delimiter followed by
//! anything else is an error (the boundary must not occur in a part, §5.1.1). Each part's header
//! section is parsed by `httparse::parse_headers`; its `Content-Disposition` must be
//! `form-data` with a `name` (RFC 7578 §4.2), and may carry a `filename`.
//!
//! Invariants:
//! - Feed a chunk only after [`Parser::next_event`] has answered `Ok(None)` (it wants more input);
//!   the parser then never buffers more than that chunk plus [`Parser::max_carry`] bytes (a part
//!   header section in progress, or the bytes that might begin a delimiter).
//! - [`Limits`] bound each part's header section, the number of parts, the value of every
//!   field without a filename, and the names; file parts are not bounded here (the caller
//!   counts the body it feeds).
//! - The events do not depend on how the body was split into chunks, except that consecutive
//!   [`Event::Data`] slices may be cut differently (the fuzz target `multipart` checks this).
//! - After an error every later call returns [`Error::Failed`]; nothing here panics on input.

use std::fmt;

/// Longest boundary (RFC 2046 §5.1.1).
pub const MAX_BOUNDARY: usize = 70;
/// Longest field name or file name, in bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// Most header fields in one part.
pub const MAX_PART_HEADERS: usize = 16;
/// Most linear white space after a delimiter (transport padding).
const MAX_PADDING: usize = 64;

/// Size limits a driver passes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// One part's header section, bytes.
    pub max_header_bytes: usize,
    /// Parts in the body.
    pub max_parts: usize,
    /// The value of a field without a filename, bytes.
    pub max_field_bytes: usize,
}

/// What the parser found.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A part begins.
    PartStart {
        /// Its `name` parameter.
        name: String,
        /// Its `filename` parameter, for a file.
        filename: Option<String>,
    },
    /// Bytes of the current part's content.
    Data(&'a [u8]),
    /// The current part ended.
    PartEnd,
    /// The close delimiter: the body is complete.
    Done,
}

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The boundary parameter is missing or not allowed.
    Boundary,
    /// A part's header section is larger than allowed.
    HeaderTooLarge,
    /// More parts than allowed.
    TooManyParts,
    /// A field's value is larger than allowed.
    FieldTooLarge,
    /// Broken framing or headers.
    Malformed(&'static str),
    /// The body ended before the close delimiter.
    Truncated,
    /// An earlier call failed.
    Failed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Boundary => f.write_str("the multipart boundary is missing or not allowed"),
            Error::HeaderTooLarge => f.write_str("a part's header section is too large"),
            Error::TooManyParts => f.write_str("too many parts in the form"),
            Error::FieldTooLarge => f.write_str("a form field is too large"),
            Error::Malformed(why) => write!(f, "malformed multipart body: {why}"),
            Error::Truncated => f.write_str("the form ended early"),
            Error::Failed => f.write_str("the form was refused"),
        }
    }
}

impl std::error::Error for Error {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first delimiter: bytes are skipped.
    Preamble,
    /// Just past a delimiter's boundary: `--`, or padding and CRLF, follow.
    AfterDelimiter,
    /// In a part's header section.
    Headers,
    /// In a part's content.
    Body,
    /// After the close delimiter: bytes are skipped.
    Epilogue,
    /// An error was returned.
    Failed,
}

/// A streaming `multipart/form-data` parser.
#[derive(Debug)]
pub struct Parser {
    /// CRLF `--` boundary.
    delimiter: Vec<u8>,
    limits: Limits,
    buf: Vec<u8>,
    pos: usize,
    state: State,
    parts: usize,
    /// The current part has a filename (its content is not bounded here).
    file: bool,
    /// Content bytes of the current part so far.
    part_bytes: usize,
    done_sent: bool,
}

impl Parser {
    /// A parser for bodies split by `boundary` (the Content-Type parameter, see
    /// [`boundary`]).
    pub fn new(boundary: &str, limits: Limits) -> Result<Parser, Error> {
        if !valid_boundary(boundary) {
            return Err(Error::Boundary);
        }
        let mut delimiter = b"\r\n--".to_vec();
        delimiter.extend_from_slice(boundary.as_bytes());
        Ok(Parser {
            delimiter,
            limits,
            // The first delimiter may start the body, without the CRLF that belongs to it.
            buf: b"\r\n".to_vec(),
            pos: 0,
            state: State::Preamble,
            parts: 0,
            file: false,
            part_bytes: 0,
            done_sent: false,
        })
    }

    /// Most bytes kept between chunks.
    pub fn max_carry(&self) -> usize {
        self.limits
            .max_header_bytes
            .max(self.delimiter.len() + MAX_PADDING + 2)
    }

    /// Bytes buffered and not yet consumed.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Adds the next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8]) {
        if matches!(self.state, State::Epilogue | State::Failed) {
            return;
        }
        self.buf.drain(..self.pos);
        self.pos = 0;
        self.buf.extend_from_slice(chunk);
    }

    /// Whether the close delimiter was seen.
    pub fn is_done(&self) -> bool {
        self.state == State::Epilogue
    }

    /// The end of the body: an error unless the close delimiter was seen.
    pub fn finish(&self) -> Result<(), Error> {
        match self.state {
            State::Epilogue => Ok(()),
            State::Failed => Err(Error::Failed),
            _ => Err(Error::Truncated),
        }
    }

    fn fail(&mut self, e: Error) -> Result<Option<Event<'_>>, Error> {
        self.state = State::Failed;
        self.buf = Vec::new();
        self.pos = 0;
        Err(e)
    }

    /// The next event, or `Ok(None)` when more input is needed (or, after [`Event::Done`],
    /// never again).
    pub fn next_event(&mut self) -> Result<Option<Event<'_>>, Error> {
        loop {
            let rest = &self.buf[self.pos..];
            match self.state {
                State::Failed => return Err(Error::Failed),
                State::Epilogue => {
                    self.pos = self.buf.len();
                    if !std::mem::replace(&mut self.done_sent, true) {
                        return Ok(Some(Event::Done));
                    }
                    return Ok(None);
                }
                State::Preamble | State::Body => {
                    let in_part = self.state == State::Body;
                    let (n, found) = match memchr::memmem::find(rest, &self.delimiter) {
                        Some(i) => (i, true),
                        None => (rest.len() - held_back(rest, &self.delimiter), false),
                    };
                    if n > 0 {
                        let start = self.pos;
                        self.pos += n;
                        if in_part {
                            self.part_bytes = self.part_bytes.saturating_add(n);
                            if !self.file && self.part_bytes > self.limits.max_field_bytes {
                                return self.fail(Error::FieldTooLarge);
                            }
                            return Ok(Some(Event::Data(&self.buf[start..start + n])));
                        }
                        continue;
                    }
                    if !found {
                        return Ok(None);
                    }
                    self.pos += self.delimiter.len();
                    self.state = State::AfterDelimiter;
                    if in_part {
                        return Ok(Some(Event::PartEnd));
                    }
                }
                State::AfterDelimiter => {
                    if rest.len() < 2 {
                        return Ok(None);
                    }
                    if rest.starts_with(b"--") {
                        self.pos += 2;
                        self.state = State::Epilogue;
                        continue;
                    }
                    let pad = rest
                        .iter()
                        .take_while(|&&b| b == b' ' || b == b'\t')
                        .count();
                    if pad > MAX_PADDING {
                        return self.fail(Error::Malformed("too much padding after a boundary"));
                    }
                    match &rest[pad..] {
                        [] | [b'\r'] => return Ok(None),
                        [b'\r', b'\n', ..] => {
                            self.pos += pad + 2;
                            self.state = State::Headers;
                        }
                        _ => return self.fail(Error::Malformed("text after a boundary")),
                    }
                }
                State::Headers => {
                    // Only the bytes the limit allows are looked at, so the outcome does not
                    // depend on how much arrived at once.
                    let window = &rest[..rest.len().min(self.limits.max_header_bytes + 1)];
                    let mut fields = [httparse::EMPTY_HEADER; MAX_PART_HEADERS];
                    let parsed = match httparse::parse_headers(window, &mut fields) {
                        Ok(httparse::Status::Complete((n, fields))) => {
                            if n > self.limits.max_header_bytes {
                                return self.fail(Error::HeaderTooLarge);
                            }
                            disposition(fields).map(|d| (n, d))
                        }
                        Ok(httparse::Status::Partial) => {
                            if window.len() > self.limits.max_header_bytes {
                                return self.fail(Error::HeaderTooLarge);
                            }
                            return Ok(None);
                        }
                        Err(httparse::Error::TooManyHeaders) => {
                            return self.fail(Error::HeaderTooLarge);
                        }
                        Err(_) => Err(Error::Malformed("a part's header section")),
                    };
                    let (n, (name, filename)) = match parsed {
                        Ok(x) => x,
                        Err(e) => return self.fail(e),
                    };
                    self.parts += 1;
                    if self.parts > self.limits.max_parts {
                        return self.fail(Error::TooManyParts);
                    }
                    self.pos += n;
                    self.state = State::Body;
                    self.file = filename.is_some();
                    self.part_bytes = 0;
                    return Ok(Some(Event::PartStart { name, filename }));
                }
            }
        }
    }
}

/// How many bytes at the end of `rest` might begin `delimiter` (and must wait for more input).
fn held_back(rest: &[u8], delimiter: &[u8]) -> usize {
    (1..delimiter.len().min(rest.len() + 1))
        .rev()
        .find(|&k| rest.ends_with(&delimiter[..k]))
        .unwrap_or(0)
}

/// `bchars` of RFC 2046 §5.1.1, 1 to 70 of them, not ending in a space.
fn valid_boundary(b: &str) -> bool {
    (1..=MAX_BOUNDARY).contains(&b.len())
        && !b.ends_with(' ')
        && b.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&c))
}

/// The boundary of a `multipart/form-data` Content-Type value, if it is one.
pub fn boundary(content_type: &str) -> Option<String> {
    let (kind, params) = parameters(content_type)?;
    if kind != "multipart/form-data" {
        return None;
    }
    let b = params.into_iter().find(|(n, _)| n == "boundary")?.1;
    valid_boundary(&b).then_some(b)
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A header value `type *( OWS ";" OWS name "=" ( token / quoted-string ) )` (RFC 9110 §5.6.6):
/// the type lower-cased and the parameters with lower-cased names, or `None` if it does not
/// follow that grammar, repeats a parameter, or has a value over [`MAX_NAME_BYTES`].
fn parameters(value: &str) -> Option<(String, Vec<(String, String)>)> {
    let b = value.as_bytes();
    let mut i = 0;
    let skip_ows = |i: &mut usize| {
        while *i < b.len() && (b[*i] == b' ' || b[*i] == b'\t') {
            *i += 1;
        }
    };
    skip_ows(&mut i);
    let start = i;
    while i < b.len() && (is_tchar(b[i]) || b[i] == b'/') {
        i += 1;
    }
    if i == start {
        return None;
    }
    let kind = value[start..i].to_ascii_lowercase();
    let mut params: Vec<(String, String)> = Vec::new();
    loop {
        skip_ows(&mut i);
        if i == b.len() {
            return Some((kind, params));
        }
        if b[i] != b';' {
            return None;
        }
        i += 1;
        skip_ows(&mut i);
        let start = i;
        while i < b.len() && is_tchar(b[i]) {
            i += 1;
        }
        if i == start || b.get(i) != Some(&b'=') {
            return None;
        }
        let name = value[start..i].to_ascii_lowercase();
        i += 1;
        let mut v = Vec::new();
        if b.get(i) == Some(&b'"') {
            i += 1;
            loop {
                match *b.get(i)? {
                    b'"' => {
                        i += 1;
                        break;
                    }
                    b'\\' => {
                        v.push(*b.get(i + 1)?);
                        i += 2;
                    }
                    c if c == b'\t' || c >= b' ' && c != 0x7f => {
                        v.push(c);
                        i += 1;
                    }
                    _ => return None,
                }
                if v.len() > MAX_NAME_BYTES {
                    return None;
                }
            }
        } else {
            let start = i;
            while i < b.len() && is_tchar(b[i]) {
                i += 1;
            }
            if i == start {
                return None;
            }
            v.extend_from_slice(&b[start..i]);
        }
        if v.len() > MAX_NAME_BYTES || params.iter().any(|(n, _)| *n == name) {
            return None;
        }
        params.push((name, String::from_utf8(v).ok()?));
    }
}

/// The `name` and `filename` of a part's `Content-Disposition: form-data` (RFC 7578 §4.2).
fn disposition(fields: &[httparse::Header<'_>]) -> Result<(String, Option<String>), Error> {
    let mut found = fields
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("content-disposition"));
    let (Some(h), None) = (found.next(), found.next()) else {
        return Err(Error::Malformed(
            "a part needs exactly one Content-Disposition",
        ));
    };
    let value = std::str::from_utf8(h.value)
        .map_err(|_| Error::Malformed("Content-Disposition is not UTF-8"))?;
    let (kind, params) = parameters(value).ok_or(Error::Malformed("Content-Disposition syntax"))?;
    if kind != "form-data" {
        return Err(Error::Malformed("a part that is not form-data"));
    }
    let mut name = None;
    let mut filename = None;
    for (n, v) in params {
        match n.as_str() {
            "name" => name = Some(v),
            "filename" => filename = Some(v),
            _ => {}
        }
    }
    let name = name.ok_or(Error::Malformed("a part without a name"))?;
    Ok((name, filename))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_header_bytes: 1024,
        max_parts: 8,
        max_field_bytes: 64,
    };

    /// Events with the data of each part joined, for comparing splits.
    #[derive(Debug, PartialEq, Eq)]
    enum Seen {
        Start(String, Option<String>),
        Data(Vec<u8>),
        End,
        Done,
    }

    fn run(body: &[u8], chunks: &[usize], limits: Limits) -> Result<Vec<Seen>, Error> {
        let mut p = Parser::new("AaB03x", limits)?;
        let mut seen: Vec<Seen> = Vec::new();
        let mut rest = body;
        let mut sizes = chunks.iter().cycle();
        loop {
            while let Some(e) = p.next_event()? {
                match e {
                    Event::PartStart { name, filename } => seen.push(Seen::Start(name, filename)),
                    Event::Data(d) => match seen.last_mut() {
                        Some(Seen::Data(prev)) => prev.extend_from_slice(d),
                        _ => seen.push(Seen::Data(d.to_vec())),
                    },
                    Event::PartEnd => seen.push(Seen::End),
                    Event::Done => seen.push(Seen::Done),
                }
            }
            assert!(p.buffered() <= p.max_carry(), "carry {}", p.buffered());
            if rest.is_empty() {
                p.finish()?;
                return Ok(seen);
            }
            let n = (*sizes.next().unwrap()).clamp(1, rest.len());
            p.feed(&rest[..n]);
            rest = &rest[n..];
        }
    }

    const SAMPLE: &[u8] = b"preamble\r\n--AaB03x\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntok\r\n--AaB03x  \r\nContent-Disposition: form-data; name=\"file\"; filename=\"a b.txt\"\r\nContent-Type: text/plain\r\n\r\nline\r\n--AaB03 not yet\r\n\r\n--AaB03x--\r\nepilogue --AaB03x";

    fn expected() -> Vec<Seen> {
        vec![
            Seen::Start("csrf".into(), None),
            Seen::Data(b"tok".to_vec()),
            Seen::End,
            Seen::Start("file".into(), Some("a b.txt".into())),
            Seen::Data(b"line\r\n--AaB03 not yet\r\n".to_vec()),
            Seen::End,
            Seen::Done,
        ]
    }

    #[test]
    fn every_split_of_a_sample_body_gives_the_same_events() {
        assert_eq!(run(SAMPLE, &[SAMPLE.len()], LIMITS).unwrap(), expected());
        for at in 0..=SAMPLE.len() {
            let sizes = [at, SAMPLE.len()];
            assert_eq!(
                run(SAMPLE, &sizes, LIMITS).unwrap(),
                expected(),
                "split at {at}"
            );
        }
        assert_eq!(run(SAMPLE, &[1], LIMITS).unwrap(), expected());
        assert_eq!(run(SAMPLE, &[3, 7], LIMITS).unwrap(), expected());
    }

    #[test]
    fn the_body_may_start_with_the_delimiter_and_parts_may_be_empty() {
        let body = b"--AaB03x\r\nContent-Disposition: form-data; name=a\r\n\r\n\r\n--AaB03x--";
        assert_eq!(
            run(body, &[100], LIMITS).unwrap(),
            vec![Seen::Start("a".into(), None), Seen::End, Seen::Done]
        );
    }

    #[test]
    fn refusals() {
        let e = |body: &[u8], limits: Limits| run(body, &[5], limits).unwrap_err();
        assert_eq!(e(b"--AaB03x\r\n", LIMITS), Error::Truncated);
        assert_eq!(
            e(
                b"--AaB03x\r\nContent-Disposition: form-data; name=a\r\n\r\nx",
                LIMITS
            ),
            Error::Truncated
        );
        assert!(matches!(e(b"--AaB03xyz\r\n", LIMITS), Error::Malformed(_)));
        assert!(matches!(
            e(
                b"--AaB03x\r\nContent-Type: text/plain\r\n\r\nx\r\n--AaB03x--",
                LIMITS
            ),
            Error::Malformed(_)
        ));
        assert!(matches!(
            e(
                b"--AaB03x\r\nContent-Disposition: attachment; name=a\r\n\r\n\r\n--AaB03x--",
                LIMITS
            ),
            Error::Malformed(_)
        ));
        assert!(matches!(
            e(
                b"--AaB03x\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\n\r\n--AaB03x--",
                LIMITS
            ),
            Error::Malformed(_)
        ));
        assert!(matches!(
            e(
                b"--AaB03x\r\nContent-Disposition: form-data; name=\"a\r\n\r\n\r\n--AaB03x--",
                LIMITS
            ),
            Error::Malformed(_)
        ));
        let big = [
            b"--AaB03x\r\nContent-Disposition: form-data; name=a\r\n\r\n".as_slice(),
            &[b'x'; 65],
            b"\r\n--AaB03x--",
        ]
        .concat();
        assert_eq!(e(&big, LIMITS), Error::FieldTooLarge);
        let file = [
            b"--AaB03x\r\nContent-Disposition: form-data; name=a; filename=f\r\n\r\n".as_slice(),
            &[b'x'; 5000],
            b"\r\n--AaB03x--",
        ]
        .concat();
        assert!(
            run(&file, &[7], LIMITS).is_ok(),
            "file parts are not bounded here"
        );
        let long_head = [b"--AaB03x\r\nX: ".as_slice(), &[b'y'; 2000], b"\r\n\r\n"].concat();
        assert_eq!(e(&long_head, LIMITS), Error::HeaderTooLarge);
        let many: Vec<u8> = (0..9)
            .flat_map(|_| {
                b"--AaB03x\r\nContent-Disposition: form-data; name=a\r\n\r\n\r\n".to_vec()
            })
            .chain(b"--AaB03x--".to_vec())
            .collect();
        assert_eq!(e(&many, LIMITS), Error::TooManyParts);
        let mut p = Parser::new("AaB03x", LIMITS).unwrap();
        p.feed(b"--AaB03xyz\r\n");
        assert!(p.next_event().is_err());
        assert_eq!(p.next_event().unwrap_err(), Error::Failed);
    }

    #[test]
    fn boundaries() {
        assert_eq!(
            boundary("multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxk").as_deref(),
            Some("----WebKitFormBoundary7MA4YWxk")
        );
        assert_eq!(
            boundary("Multipart/Form-Data; charset=utf-8; Boundary=\"a b:c\"").as_deref(),
            Some("a b:c")
        );
        assert_eq!(boundary("multipart/mixed; boundary=x"), None);
        assert_eq!(boundary("multipart/form-data"), None);
        assert_eq!(
            boundary(&format!("multipart/form-data; boundary={}", "a".repeat(71))),
            None
        );
        assert_eq!(boundary("multipart/form-data; boundary=\"a \""), None);
        assert_eq!(
            boundary("multipart/form-data; boundary=a; boundary=b"),
            None
        );
        assert!(Parser::new("", LIMITS).is_err());
    }
}

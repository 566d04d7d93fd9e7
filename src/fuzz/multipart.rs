//! Fuzz target `multipart`: the streaming `multipart/form-data` parser.

use super::{chunks, header, into_tokens};
use crate::proto::multipart::{Error, Event, Limits, MAX_NAME_BYTES, Parser};

/// Delimiters, header lines and fragments, so short inputs build whole forms.
const TOKENS: &[&[u8]] = &[
    b"--b\r\n",
    b"--b--",
    b"--b--\r\n",
    b"\r\n--b\r\n",
    b"\r\n--b--\r\n",
    b"\r\n--b",
    b"--b  \r\n",
    b"--bb\r\n",
    b"Content-Disposition: form-data; name=\"csrf\"\r\n",
    b"Content-Disposition: form-data; name=f; filename=\"x.pem\"\r\n",
    b"Content-Disposition: form-data; name=\"a\\\"b\"\r\n",
    b"Content-Disposition: attachment\r\n",
    b"Content-Type: application/octet-stream\r\n",
    b"X: y\r\n",
    b"\r\n",
    b"\r",
    b"\n",
    b"-",
    b"b",
    b"data",
    b" ",
    b"\0",
    b"\xff",
];

#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Start(String, Option<String>),
    Data(Vec<u8>),
    End,
    Done,
    Failed(Error),
}

/// Parses `body` fed in chunks of `sizes`, checking the buffer bound and the limits.
fn parse(body: &[u8], sizes: &[u8], limits: Limits) -> Vec<Seen> {
    let mut p = Parser::new("b", limits).expect("a valid boundary");
    let mut seen = Vec::new();
    let mut field_bytes = 0usize;
    let mut file = false;
    let mut parts = 0usize;
    let mut pieces = chunks(body, sizes).into_iter();
    loop {
        loop {
            match p.next_event() {
                Ok(None) => break,
                Ok(Some(Event::PartStart { name, filename })) => {
                    parts += 1;
                    assert!(parts <= limits.max_parts, "{parts} parts");
                    assert!(name.len() <= MAX_NAME_BYTES);
                    assert!(filename.as_ref().is_none_or(|f| f.len() <= MAX_NAME_BYTES));
                    file = filename.is_some();
                    field_bytes = 0;
                    seen.push(Seen::Start(name, filename));
                }
                Ok(Some(Event::Data(d))) => {
                    assert!(!d.is_empty(), "empty data event");
                    field_bytes += d.len();
                    assert!(file || field_bytes <= limits.max_field_bytes);
                    match seen.last_mut() {
                        Some(Seen::Data(prev)) => prev.extend_from_slice(d),
                        Some(Seen::Start(..)) => seen.push(Seen::Data(d.to_vec())),
                        other => panic!("data after {other:?}"),
                    }
                }
                Ok(Some(Event::PartEnd)) => seen.push(Seen::End),
                Ok(Some(Event::Done)) => seen.push(Seen::Done),
                Err(e) => {
                    // How much of the failing part was passed on depends on the chunks; a
                    // driver drops that part anyway.
                    if matches!(seen.last(), Some(Seen::Data(_))) {
                        seen.pop();
                    }
                    seen.push(Seen::Failed(e));
                    return seen;
                }
            }
        }
        assert!(
            p.buffered() <= p.max_carry(),
            "{} bytes carried, bound {}",
            p.buffered(),
            p.max_carry()
        );
        match pieces.next() {
            Some(c) => p.feed(c),
            None => {
                if let Err(e) = p.finish() {
                    seen.push(Seen::Failed(e));
                }
                return seen;
            }
        }
    }
}

/// The multipart parser: no panic, the carried bytes within their bound between chunks,
/// limits kept, and the same events (data joined per part) and outcome whether the body
/// arrives whole, in fuzzed chunk sizes, or byte by byte.
///
/// Input: `[flags, size0, size1, payload...]`; flag bit 0 maps the payload to multipart
/// tokens, bit 1 selects tiny limits.
pub fn fuzz_multipart(data: &[u8]) {
    let (h, rest) = header::<3>(data);
    let body = if h[0] & 1 == 1 {
        into_tokens(rest, TOKENS)
    } else {
        rest.to_vec()
    };
    let limits = if h[0] & 2 == 2 {
        Limits {
            max_header_bytes: 48,
            max_parts: 3,
            max_field_bytes: 8,
        }
    } else {
        Limits {
            max_header_bytes: 1024,
            max_parts: 16,
            max_field_bytes: 1024,
        }
    };
    let whole = parse(&body, &[0], limits);
    assert_eq!(
        parse(&body, &h[1..3], limits),
        whole,
        "whole and chunked parsing differ"
    );
    if body.len() <= 4096 {
        assert_eq!(
            parse(&body, &[1], limits),
            whole,
            "whole and bytewise parsing differ"
        );
    }
}

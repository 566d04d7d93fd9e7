//! IMAP client fuzz entry point: server bytes, in chunks the first header byte sizes, through
//! `imap_client::ResponseReader` and every response parser, as `cli::import_imap` drives them.
//! Checks: nothing panics, the reader never holds more than a line's limit plus one chunk, a
//! literal's pieces add up to exactly its announced size, and no literal over the limit is
//! accepted.

use crate::imap_client::{Fragment, MAX_LINE_BYTES, Response, ResponseReader, Token};

/// Largest literal the fuzzed reader accepts.
const MAX_LITERAL: u64 = 1 << 16;

/// Fuzz target `imap_client_responses`.
pub fn fuzz_imap_client_responses(data: &[u8]) {
    let Some((&h, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(h % 64) + 1;
    let mut r = ResponseReader::new(MAX_LITERAL);
    let mut resp = Response::default();
    let mut literal: Option<(u64, u64)> = None;
    let mut literals = 0;
    for piece in rest.chunks(chunk) {
        r.feed(piece);
        loop {
            let f = match r.next_fragment() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(_) => return,
            };
            match f {
                Fragment::Line { text, literal: n } => {
                    assert!(text.len() <= MAX_LINE_BYTES, "line over its limit");
                    assert!(literal.is_none(), "a line inside a literal");
                    let text = match n {
                        Some(size) => {
                            assert!(size <= MAX_LITERAL, "literal over its limit");
                            literal = Some((size, 0));
                            &text[..text.iter().rposition(|&b| b == b'{').unwrap_or(0)]
                        }
                        None => &text[..],
                    };
                    if resp.push_line(text).is_err() {
                        resp = Response::default();
                        continue;
                    }
                    if n.is_some() {
                        resp.tokens.push(Token::Literal(literals));
                        literals += 1;
                        continue;
                    }
                    let _ = (resp.tag(), resp.status(), resp.capabilities(), resp.list());
                    let _ = (resp.search(), resp.fetch(), resp.numbered());
                    let _ = resp.code_number("UIDVALIDITY");
                    resp = Response::default();
                }
                Fragment::LiteralData(d) => {
                    let (size, got) = literal.as_mut().expect("literal data after a literal");
                    *got += d.len() as u64;
                    assert!(*got <= *size, "more literal bytes than announced");
                }
                Fragment::LiteralEnd => {
                    let (size, got) = literal.take().expect("literal end after a literal");
                    assert_eq!(size, got, "literal cut short");
                }
            }
        }
        assert!(
            r.buffered() <= MAX_LINE_BYTES,
            "reader holds unbounded input"
        );
    }
}

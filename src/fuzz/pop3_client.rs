//! POP3 client fuzz entry point: server bytes, in chunks the first byte sizes, through
//! `pop3_client::Reader` the way `cli::collect` drives it: a status line, then (by the second
//! byte) a listing parsed as UIDL and LIST lines, or a message streamed in pieces. Checks:
//! nothing panics, no status or listing line over its limit is handed out, the reader holds at
//! most a line's limit plus one chunk, and the message pieces are exactly the input's lines up
//! to the terminator with dot-stuffing undone.

use crate::pop3_client::{MAX_LINE_BYTES, Piece, Reader, parse_list, parse_uidl};

/// The message a multi-line answer's wire bytes carry, computed the simple way: lines up to
/// the lone `.`, a leading `.` removed; `None` without a terminator.
fn unstuffed(wire: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = wire;
    loop {
        let i = rest.windows(2).position(|w| w == b"\r\n")?;
        let line = &rest[..i];
        if line == b"." {
            return Some(out);
        }
        out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
        out.extend_from_slice(b"\r\n");
        rest = &rest[i + 2..];
    }
}

/// Fuzz target `pop3_client_responses`.
pub fn fuzz_pop3_client_responses(data: &[u8]) {
    let [h, mode, rest @ ..] = data else {
        return;
    };
    let chunk = usize::from(h % 64) + 1;
    let mut r = Reader::new();
    let fed = std::cell::Cell::new(0);
    let feed = |r: &mut Reader| -> bool {
        let from = fed.get();
        if from >= rest.len() {
            return false;
        }
        let end = (from + chunk).min(rest.len());
        r.feed(&rest[from..end]);
        fed.set(end);
        true
    };
    // The status line.
    let status = loop {
        match r.status() {
            Ok(Some(s)) => break s,
            Ok(None) if feed(&mut r) => continue,
            _ => return,
        }
    };
    assert!(status.text.len() <= 4 * MAX_LINE_BYTES);
    let body_start = fed.get() - r.buffered();
    if mode % 2 == 0 {
        loop {
            match r.listing_line() {
                Ok(Some(Some(line))) => {
                    assert!(line.len() <= MAX_LINE_BYTES, "listing line over its limit");
                    let _ = (parse_uidl(&line), parse_list(&line));
                }
                Ok(Some(None)) => return,
                Ok(None) if feed(&mut r) => continue,
                _ => return,
            }
            assert!(r.buffered() <= MAX_LINE_BYTES + 2 + chunk);
        }
    }
    let mut got = Vec::new();
    loop {
        match r.piece() {
            Some(Piece::Data(d)) => got.extend(d),
            Some(Piece::End) => {
                let want = unstuffed(&rest[body_start..]).expect("an end without a terminator");
                assert_eq!(got, want, "message bytes differ from the wire's");
                return;
            }
            None if feed(&mut r) => {}
            None => return,
        }
        assert!(r.buffered() <= 3 + chunk);
    }
}

//! Golden tests of the streaming MIME parser and its IMAP rendering over `tests/mime/*.eml`:
//! edge cases (nested multiparts, digests, encapsulated messages, missing and padded
//! delimiters, RFC 2231, 8-bit and broken headers, odd address syntax) whose rendering was
//! checked against Dovecot with `tests/imap_reference/compare.py` (which compares these files
//! too; its allow-list names the deliberate differences).
//!
//! Each `<name>.eml` has a `<name>.expected`: the FETCH response of the reference item set
//! (ENVELOPE, BODYSTRUCTURE, BODY, BODY[1], BODY[HEADER.FIELDS (...)], RFC822.SIZE) followed by
//! the part tree with every part's byte ranges. On a mismatch `<name>.actual` is written;
//! `UPDATE_GOLDEN=1 cargo test --test mime` rewrites the goldens.
//!
//! Properties checked on every file: the summary is the same whole, byte by byte and in
//! several chunkings; the same message with other line ends gives the same items; the
//! storage encoding round-trips; the trace-prefix shortcut equals parsing the stored bytes;
//! every part is reachable by its IMAP section number.

use mailnook::message::summary::{Part, PartBody, Summary, render_reference_fetch};
use mailnook::message::{MimeLimits, MimeParser};
use std::fmt::Write;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mime")
}

fn cases() -> Vec<(String, Vec<u8>)> {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .expect("tests/mime")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".eml").map(str::to_string))
        .collect();
    names.sort();
    let cases: Vec<_> = names
        .into_iter()
        .map(|n| {
            let data = std::fs::read(dir().join(format!("{n}.eml"))).expect("read");
            (n, data)
        })
        .collect();
    assert!(cases.len() >= 10, "only {} golden messages", cases.len());
    cases
}

fn parse_chunked(msg: &[u8], chunk: usize) -> Summary {
    let mut p = MimeParser::new(MimeLimits::default());
    for c in msg.chunks(chunk.max(1)) {
        p.feed(c);
    }
    p.finish()
}

fn media(p: &Part) -> String {
    let s = |v: &Option<Vec<u8>>, d: &str| {
        v.as_deref()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_else(|| d.to_string())
    };
    format!("{}/{}", s(&p.mime.media_type, "-"), s(&p.mime.subtype, "-"))
}

/// The part tree, one line per part: section (children of a part numbered `n` are `n.1`...;
/// an encapsulated message's top part shows as `n (message)`), ranges, lines, media type.
fn tree(out: &mut String, p: &Part, label: &str, prefix: &str, depth: usize) {
    let _ = writeln!(
        out,
        "{:indent$}{label}: header {}..{} body {}..{} lines {} bare-lf {}{} {}",
        "",
        p.header_start,
        p.body_start,
        p.body_start,
        p.body_end,
        p.lines,
        p.bare_lf,
        if p.truncated { " truncated" } else { "" },
        media(p),
        indent = depth * 2
    );
    match &p.body {
        PartBody::Single => {}
        PartBody::Multipart(children) => {
            for (i, c) in children.iter().enumerate() {
                let n = if prefix.is_empty() {
                    format!("{}", i + 1)
                } else {
                    format!("{prefix}.{}", i + 1)
                };
                tree(out, c, &n, &n, depth + 1);
            }
        }
        PartBody::Message(m) => {
            let own = if prefix.is_empty() { "1" } else { prefix };
            tree(out, &m.root, &format!("{own} (message)"), prefix, depth + 1)
        }
    }
}

fn golden_text(msg: &[u8], s: &Summary) -> Vec<u8> {
    let mut out = render_reference_fetch(1, msg, s);
    let mut t = String::from("\n");
    tree(&mut t, &s.root, "top", "", 0);
    let _ = writeln!(
        t,
        "size {} lines {} bare-lf {} header {}",
        s.size,
        s.lines,
        s.bare_lf,
        s.header_bytes()
    );
    out.extend_from_slice(t.as_bytes());
    out
}

/// Every part with a section number, with that number (RFC 3501 §6.4.5).
fn sections<'a>(p: &'a Part, path: Vec<u32>, out: &mut Vec<(Vec<u32>, &'a Part)>) {
    match &p.body {
        PartBody::Multipart(children) => {
            if !path.is_empty() {
                out.push((path.clone(), p));
            }
            for (i, c) in children.iter().enumerate() {
                let mut sub = path.clone();
                sub.push(i as u32 + 1);
                sections(c, sub, out);
            }
        }
        PartBody::Message(m) => {
            let own = if path.is_empty() { vec![1] } else { path };
            out.push((own.clone(), p));
            match &m.root.body {
                PartBody::Multipart(children) => {
                    for (i, c) in children.iter().enumerate() {
                        let mut sub = own.clone();
                        sub.push(i as u32 + 1);
                        sections(c, sub, out);
                    }
                }
                _ => {
                    let mut sub = own;
                    sub.push(1);
                    sections(&m.root, sub, out);
                }
            }
        }
        PartBody::Single => {
            out.push((if path.is_empty() { vec![1] } else { path }, p));
        }
    }
}

fn to_crlf(msg: &[u8]) -> Vec<u8> {
    let lf: Vec<u8> = msg
        .windows(2)
        .enumerate()
        .filter(|(_, w)| *w != b"\r\n")
        .map(|(i, _)| msg[i])
        .chain(msg.last().copied())
        .collect();
    let mut out = Vec::with_capacity(lf.len() * 2);
    for &b in &lf {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

fn to_lf(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len());
    let mut i = 0;
    while i < msg.len() {
        if msg[i] == b'\r' && msg.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(msg[i]);
        i += 1;
    }
    out
}

#[test]
fn goldens_match() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failed = Vec::new();
    for (name, msg) in cases() {
        let s = parse_chunked(&msg, 65536);
        let got = golden_text(&msg, &s);
        let expected_path = dir().join(format!("{name}.expected"));
        let actual_path = dir().join(format!("{name}.actual"));
        if update {
            std::fs::write(&expected_path, &got).expect("write golden");
            let _ = std::fs::remove_file(&actual_path);
            continue;
        }
        let expected = std::fs::read(&expected_path).unwrap_or_default();
        if expected == got {
            let _ = std::fs::remove_file(&actual_path);
        } else {
            std::fs::write(&actual_path, &got).expect("write actual");
            failed.push(name);
        }
    }
    assert!(
        failed.is_empty(),
        "golden mismatch (see tests/mime/<name>.actual): {failed:?}"
    );
}

#[test]
fn chunking_does_not_matter() {
    for (name, msg) in cases() {
        let whole = parse_chunked(&msg, usize::MAX);
        for chunk in [1, 2, 3, 7, 64, 4096] {
            assert_eq!(
                parse_chunked(&msg, chunk),
                whole,
                "{name}: chunks of {chunk}"
            );
        }
    }
}

#[test]
fn line_ends_do_not_change_the_items() {
    for (name, msg) in cases() {
        let crlf = to_crlf(&msg);
        let lf = to_lf(&msg);
        let a = Summary::from_message(&crlf);
        let b = Summary::from_message(&lf);
        assert_eq!(a.imap_envelope(), b.imap_envelope(), "{name}");
        assert_eq!(
            a.imap_body_structure(true),
            b.imap_body_structure(true),
            "{name}"
        );
        assert_eq!(a.size_crlf(), b.size_crlf(), "{name}");
        assert_eq!(a.size_crlf(), crlf.len() as u64, "{name}");
        assert_eq!(b.bare_lf, b.lines, "{name}");
        assert_eq!(a.bare_lf, 0, "{name}");
    }
}

#[test]
fn storage_encoding_round_trips() {
    for (name, msg) in cases() {
        let s = Summary::from_message(&msg);
        assert_eq!(Summary::decode(&s.encode()), Some(s), "{name}");
    }
}

#[test]
fn trace_prefix_only_moves_offsets() {
    let prefix = b"Return-Path: <a@b.test>\r\nReceived: from c.test\r\n\tby mx.test; now\r\n";
    for (name, msg) in cases() {
        let mut p = MimeParser::new(MimeLimits::default());
        p.feed(&msg);
        let shifted = p.finish_with_prefix(prefix);
        let mut stored = prefix.to_vec();
        stored.extend_from_slice(&msg);
        assert_eq!(shifted, Summary::from_message(&stored), "{name}");
    }
}

#[test]
fn every_part_has_its_section() {
    let mut checked = 0;
    for (name, msg) in cases() {
        let s = Summary::from_message(&msg);
        let mut all = Vec::new();
        sections(&s.root, Vec::new(), &mut all);
        checked += all.len();
        for (path, part) in all {
            let found = s
                .section(&path)
                .unwrap_or_else(|| panic!("{name}: no section {path:?}"));
            assert!(
                std::ptr::eq(found, part),
                "{name}: section {path:?} names another part"
            );
        }
    }
    assert!(checked > 50, "only {checked} sections checked");
}

//! Fuzz entry point for inbound authentication's pure parts: the DMARC record parser
//! ([`crate::dmarc::DmarcRecord`]), the Public Suffix List parser and lookups
//! ([`crate::dmarc::psl`]), and the `Authentication-Results` builder and forged-field filter
//! ([`crate::message::auth_results`]).

use super::{header, into_tokens};
use crate::dmarc::psl::PublicSuffixList;
use crate::dmarc::{Disposition, DmarcOutcome, DmarcRecord, DmarcResult};
use crate::message::auth_results::{
    AuthResult, AuthResults, field_spans, read_authserv_id, strip_forged,
};

const TOKENS: &[&[u8]] = &[
    b"v=DMARC1",
    b"; ",
    b";",
    b"p=",
    b"sp=",
    b"np=",
    b"none",
    b"quarantine",
    b"reject",
    b"adkim=",
    b"aspf=",
    b"r",
    b"s",
    b"pct=",
    b"100",
    b"25",
    b"rua=mailto:a@b.test",
    b"!",
    b"*.",
    b".",
    b"\n",
    b"// ",
    b"co.uk",
    b"example",
    b"com",
    b"xn--",
    b"\xe9\xa3\x9f\xe7\x8b\xae",
    b"Authentication-Results",
    b"authentication-results",
    b":",
    b" ",
    b"\t",
    b"mx.example.org",
    b"MX.Example.Org",
    b"(",
    b")",
    b"\"",
    b"\\",
    b"\r\n",
    b"\r\n\t",
    b"=",
    b"@",
    b"a",
    b"\xff",
];

const OURS: &str = "mx.example.org";

/// `name` lowercased without one trailing dot, as the list's lookups normalize it.
fn normalized(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_lowercase()
}

fn check_psl(list: &PublicSuffixList, name: &str) {
    let org = list.org_domain(name);
    let norm = normalized(name);
    match list.registrable_domain(name) {
        Some(reg) => {
            assert_eq!(org, reg);
            assert!(
                !reg.is_empty() && reg.split('.').all(|l| !l.is_empty()),
                "registrable domain {reg:?} of {name:?}"
            );
            assert!(
                norm == reg || norm.ends_with(&format!(".{reg}")),
                "{reg:?} is not a suffix of {norm:?}"
            );
            assert_eq!(list.org_domain(&org), org, "org_domain is not idempotent");
        }
        None => assert_eq!(org, norm),
    }
}

/// Checks `strip_forged(h, id)`: the output is the input minus whole fields, exactly those
/// naming `id`; a second pass changes nothing.
fn check_strip(h: &[u8], id: &str) {
    let out = strip_forged(h, id);
    let (fields, rest) = field_spans(h);
    let mut expect = Vec::with_capacity(h.len());
    let mut at = 0;
    for f in &fields {
        assert!(
            f.start == at && f.end > f.start,
            "fields do not tile the header"
        );
        at = f.end;
        let ours = read_authserv_id(&h[f.start..f.end])
            .is_some_and(|v| v.eq_ignore_ascii_case(id.as_bytes()));
        if !ours {
            expect.extend_from_slice(&h[f.start..f.end]);
        }
    }
    assert_eq!(at, rest);
    expect.extend_from_slice(&h[rest..]);
    assert_eq!(out, expect, "output is not the input minus whole fields");
    assert_eq!(strip_forged(&out, id), out, "stripping is not idempotent");
}

/// Checks the rendered field: CRLF line ends only, every line after the first a
/// continuation, no line over 998 octets, one field, and recognised as `id`'s.
fn check_header(ar: &AuthResults, id: &str) {
    let h = ar.to_header();
    let body = h.strip_suffix("\r\n").expect("ends in CRLF");
    for (i, line) in body.split("\r\n").enumerate() {
        assert!(!line.contains(['\r', '\n']), "bare CR or LF in {h:?}");
        assert!(line.len() <= 998, "line of {} octets", line.len());
        assert!(
            i == 0 || line.starts_with('\t'),
            "line {i} is not a continuation"
        );
    }
    let (fields, rest) = field_spans(h.as_bytes());
    assert_eq!((fields.len(), rest), (1, h.len()), "{h:?}");
    assert!(
        strip_forged(h.as_bytes(), id).is_empty(),
        "our own field is not recognised as ours: {h:?}"
    );
}

/// Input: `[flags, payload...]`; flag bit 0 maps the payload to record, list and header
/// tokens; bit 1 strips with an authserv-id taken from the payload's first line.
///
/// Checks: `DmarcRecord::parse` keeps `pct` in 0..=100 and round-trips through `to_txt`; a
/// list parsed from the payload (and the built-in one) gives every payload line and word a
/// registrable domain that is a suffix of it, equal to `org_domain`, which is idempotent;
/// `strip_forged` removes whole fields only (see [`check_strip`]); the header built from
/// payload values is one well-formed field that `strip_forged` recognises as ours.
pub fn fuzz_dmarc_record(data: &[u8]) {
    let (h, rest) = header::<1>(data);
    let bytes = if h[0] & 1 == 1 {
        into_tokens(rest, TOKENS)
    } else {
        rest.to_vec()
    };
    let text = String::from_utf8_lossy(&bytes);

    for candidate in std::iter::once(&*text).chain(text.lines().take(8)) {
        if let Ok(rec) = DmarcRecord::parse(candidate) {
            assert!(rec.pct <= 100);
            assert_eq!(DmarcRecord::parse(&rec.to_txt()), Ok(rec.clone()));
        }
    }

    let list = PublicSuffixList::parse(&text);
    let builtin = PublicSuffixList::builtin();
    let names = text
        .lines()
        .flat_map(|l| std::iter::once(l.trim()).chain(l.split_whitespace()))
        .take(32);
    for name in names {
        check_psl(&list, name);
        check_psl(&builtin, name);
        check_psl(&list, &format!("www.{name}"));
    }

    let first_line: String = text
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    let id = if h[0] & 2 == 2 { &first_line } else { OURS };
    check_strip(&bytes, id);
    check_strip(&bytes, OURS);

    let words: Vec<&str> = text.split(['\n', ';']).take(8).collect();
    let w = |i: usize| words.get(i).copied().unwrap_or("");
    let mut ar = AuthResults::new(id);
    ar.spf(AuthResult::Pass, Some(w(0)), Some(w(1)))
        .dkim(AuthResult::Fail, w(2), w(3), w(4));
    ar.dmarc(&DmarcOutcome {
        result: DmarcResult::Fail,
        policy: Disposition::Quarantine,
        from_domain: w(5).to_string(),
        policy_domain: None,
        spf_aligned: false,
        dkim_aligned: false,
        reason: w(6).to_string(),
    });
    check_header(&ar, id);
    check_header(&AuthResults::new(id), id);
}

//! SPF fuzz entry point: arbitrary record text evaluated by `spf::check_host` against a
//! `MockResolver` whose zone comes from the input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{header, into_tokens};
use crate::dns::mock::MockResolver;
use crate::dns::{Error, Mx, RecordType, Records};
use crate::spf::{Limits, SpfResult, check_host};

const SPF_TOKENS: &[&[u8]] = &[
    b"v=spf1 ",
    b" ",
    b"\n",
    b"a",
    b"mx",
    b"ptr",
    b"all",
    b"-",
    b"~",
    b"?",
    b"+",
    b":",
    b"/",
    b".",
    b"=",
    b"include:",
    b"exists:",
    b"redirect=",
    b"exp=",
    b"ip4:192.0.2.0/24",
    b"ip6:2001:db8::/32",
    b"/24",
    b"//64",
    b"fuzz.test",
    b"x.fuzz.test",
    b"y.fuzz.test",
    b"x.fuzz.test v=spf1 ",
    b"y.fuzz.test ",
    b"%{d}",
    b"%{i}",
    b"%{ir}.%{v}",
    b"%{l1r-}",
    b"%{S}",
    b"%{o}",
    b"%{h}",
    b"%{p}",
    b"%{c}",
    b"%{t}",
    b"%{d2}",
    b"%%",
    b"%_",
    b"%-",
    b"%",
    b"{",
    b"}",
    b"0",
    b"9",
];

/// Evaluates an SPF policy built from the input.
///
/// Input: `[flags, payload...]`; `flags` bits: 0 payload as SPF tokens, 1 IPv6 client, 2 TXT
/// lookups of `tmp.fuzz.test` fail with SERVFAIL, 3 every extra name also gets an A record.
/// The payload's first line is the TXT record of `fuzz.test`; each further line `name text`
/// adds TXT record `text` at `name`. `fuzz.test` also has A, AAAA and MX records, and the
/// client's PTR name validates.
///
/// Checks: no panic; the DNS-term count stops at the limit plus one; the resolver sees at most
/// `max_queries` queries; an explanation comes only with Fail, is ASCII and within its cap; a
/// deciding term comes only with a qualifier result.
pub fn fuzz_spf_record(data: &[u8]) {
    let (h, rest) = header::<1>(data);
    let flags = h[0];
    let payload = if flags & 1 != 0 {
        into_tokens(rest, SPF_TOKENS)
    } else {
        rest.to_vec()
    };
    let text = String::from_utf8_lossy(&payload);
    let mut lines = text.split('\n');
    let first = lines.next().unwrap_or("").to_string();
    let client_v4 = Ipv4Addr::new(192, 0, 2, 1);
    let client_v6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    let ip = if flags & 2 != 0 {
        IpAddr::V6(client_v6)
    } else {
        IpAddr::V4(client_v4)
    };
    let mut m = MockResolver::new()
        .with("fuzz.test", Records::Txt(vec![first]))
        .with("fuzz.test", Records::A(vec![client_v4]))
        .with("fuzz.test", Records::Aaaa(vec![client_v6]))
        .with(
            "fuzz.test",
            Records::Mx(vec![Mx {
                preference: 10,
                exchange: "mx.fuzz.test".into(),
            }]),
        )
        .with(
            "mx.fuzz.test",
            Records::A(vec![Ipv4Addr::new(192, 0, 2, 2)]),
        )
        .with(
            &crate::dns::reverse_name(ip),
            Records::Ptr(vec!["host.fuzz.test".into()]),
        )
        .with("host.fuzz.test", Records::A(vec![client_v4]))
        .with("host.fuzz.test", Records::Aaaa(vec![client_v6]));
    if flags & 4 != 0 {
        m = m.with_error("tmp.fuzz.test", RecordType::Txt, Error::ServFail);
    }
    let mut extra: Vec<(String, Vec<String>)> = Vec::new();
    for line in lines {
        let (name, txt) = line.split_once(' ').unwrap_or((line, ""));
        match extra.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => v.push(txt.to_string()),
            None => extra.push((name.to_string(), vec![txt.to_string()])),
        }
    }
    for (name, txts) in extra {
        if name == "fuzz.test" {
            continue;
        }
        m = m.with(&name, Records::Txt(txts));
        if flags & 8 != 0 {
            m = m.with(&name, Records::A(vec![Ipv4Addr::new(127, 0, 0, 2)]));
        }
    }
    let limits = Limits::default();
    let out = async_io::block_on(check_host(
        &m,
        ip,
        "fuzz.test",
        "user+tag-x@fuzz.test",
        "helo.fuzz.test",
        &limits,
    ));
    assert!(out.lookups <= limits.dns_lookups + 1, "{out:?}");
    assert!(m.queries().len() <= limits.max_queries as usize, "{out:?}");
    if let Some(e) = &out.explanation {
        assert_eq!(out.result, SpfResult::Fail);
        assert!(e.is_ascii() && e.len() <= limits.max_explanation, "{e:?}");
    }
    if out.mechanism.is_some() {
        assert!(
            matches!(
                out.result,
                SpfResult::Pass | SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral
            ),
            "{out:?}"
        );
    }
}

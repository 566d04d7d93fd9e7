//! SPF record selection and syntax: which TXT record is the policy (RFC 7208 §4.5) and its
//! terms (§4.6.1, §5, §6, the ABNF of §12).
//!
//! Invariants:
//! - The whole record is parsed before anything is evaluated, so a syntax error anywhere is a
//!   PermError even when an earlier mechanism would have matched (§4.6).
//! - Only visible ASCII is accepted inside terms and only SP separates them (§4.6.1, §12);
//!   a record with any other byte is a PermError (§3.1: records are 7-bit ASCII).
//! - A parsed record holds at most one term per two input bytes, and its strings are slices of
//!   the input copied once: its size is bounded by the record's.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::SpfResult;
use super::macros::{Kind, MacroString};

/// A mechanism qualifier (§4.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Qualifier {
    Pass,
    Fail,
    SoftFail,
    Neutral,
}

impl Qualifier {
    pub(crate) fn result(self) -> SpfResult {
        match self {
            Qualifier::Pass => SpfResult::Pass,
            Qualifier::Fail => SpfResult::Fail,
            Qualifier::SoftFail => SpfResult::SoftFail,
            Qualifier::Neutral => SpfResult::Neutral,
        }
    }
}

/// A mechanism (§5) with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mechanism {
    /// §5.1.
    All,
    /// §5.2.
    Include(MacroString),
    /// §5.3: optional target, IPv4 and IPv6 prefix lengths.
    A(Option<MacroString>, u8, u8),
    /// §5.4.
    Mx(Option<MacroString>, u8, u8),
    /// §5.5.
    Ptr(Option<MacroString>),
    /// §5.6.
    Ip4(Ipv4Addr, u8),
    /// §5.6.
    Ip6(Ipv6Addr, u8),
    /// §5.7.
    Exists(MacroString),
}

/// A qualifier and a mechanism, with the term as written (for results and logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Directive {
    pub qualifier: Qualifier,
    pub mechanism: Mechanism,
    pub text: String,
}

/// A parsed `v=spf1` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub directives: Vec<Directive>,
    /// §6.1.
    pub redirect: Option<MacroString>,
    /// §6.2.
    pub exp: Option<MacroString>,
}

/// The outcome of record selection (§4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selection<'a> {
    /// No `v=spf1` record: the result is None.
    None,
    /// Exactly one.
    One(&'a str),
    /// More than one: PermError.
    Many,
}

/// §4.5: keep the TXT records that begin with "v=spf1" (any case) followed by SP or the end.
pub(crate) fn select(txts: &[String]) -> Selection<'_> {
    let mut found = None;
    for t in txts {
        let b = t.as_bytes();
        if b.len() >= 6 && b[..6].eq_ignore_ascii_case(b"v=spf1") && (b.len() == 6 || b[6] == b' ')
        {
            if found.is_some() {
                return Selection::Many;
            }
            found = Some(t.as_str());
        }
    }
    found.map_or(Selection::None, Selection::One)
}

/// Parses a selected record (which starts with "v=spf1").
pub(crate) fn parse(record: &str) -> Result<Record, &'static str> {
    if !record.is_ascii() {
        return Err("record is not 7-bit ASCII");
    }
    let body = record.get(6..).unwrap_or("");
    let mut out = Record {
        directives: Vec::new(),
        redirect: None,
        exp: None,
    };
    for term in body.split(' ').filter(|t| !t.is_empty()) {
        if !term.bytes().all(|c| (0x21..=0x7e).contains(&c)) {
            return Err("control or non-visible character in a term");
        }
        // §12: modifier names are ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) followed by "=".
        let name_len = term
            .bytes()
            .enumerate()
            .take_while(|&(i, c)| {
                if i == 0 {
                    c.is_ascii_alphabetic()
                } else {
                    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.')
                }
            })
            .count();
        if name_len > 0 && term.as_bytes().get(name_len) == Some(&b'=') {
            let (name, value) = (&term[..name_len], &term[name_len + 1..]);
            if name.eq_ignore_ascii_case("redirect") {
                // §6: redirect and exp MUST NOT appear more than once.
                if out.redirect.is_some() {
                    return Err("redirect= appears twice");
                }
                out.redirect = Some(MacroString::parse_domain_spec(value)?);
            } else if name.eq_ignore_ascii_case("exp") {
                if out.exp.is_some() {
                    return Err("exp= appears twice");
                }
                out.exp = Some(MacroString::parse_domain_spec(value)?);
            } else {
                // §6: unknown modifiers are ignored, but must be syntactically valid.
                MacroString::parse(value, Kind::Modifier)?;
            }
            continue;
        }
        out.directives.push(parse_directive(term)?);
    }
    Ok(out)
}

fn parse_directive(term: &str) -> Result<Directive, &'static str> {
    // §4.6.2: the qualifier defaults to "+".
    let (qualifier, rest) = match term.as_bytes()[0] {
        b'+' => (Qualifier::Pass, &term[1..]),
        b'-' => (Qualifier::Fail, &term[1..]),
        b'~' => (Qualifier::SoftFail, &term[1..]),
        b'?' => (Qualifier::Neutral, &term[1..]),
        _ => (Qualifier::Pass, term),
    };
    let name_len = rest.bytes().take_while(u8::is_ascii_alphanumeric).count();
    let (name, args) = rest.split_at(name_len);
    let name = name.to_ascii_lowercase();
    let mechanism = match name.as_str() {
        "all" if args.is_empty() => Mechanism::All,
        "include" => Mechanism::Include(required_domain(args)?),
        "exists" => Mechanism::Exists(required_domain(args)?),
        "a" | "mx" => {
            let (spec, c4, c6) = split_dual_cidr(args)?;
            let domain = optional_domain(spec)?;
            if name == "a" {
                Mechanism::A(domain, c4, c6)
            } else {
                Mechanism::Mx(domain, c4, c6)
            }
        }
        "ptr" => Mechanism::Ptr(optional_domain(args)?),
        "ip4" => {
            let arg = args.strip_prefix(':').ok_or("ip4 needs an address")?;
            let (net, cidr) = match arg.split_once('/') {
                Some((n, c)) => (n, cidr(c, 32)?),
                None => (arg, 32),
            };
            Mechanism::Ip4(parse_ip4(net).ok_or("bad ip4 network")?, cidr)
        }
        "ip6" => {
            let arg = args.strip_prefix(':').ok_or("ip6 needs an address")?;
            let (net, cidr) = match arg.split_once('/') {
                Some((n, c)) => (n, cidr(c, 128)?),
                None => (arg, 128),
            };
            Mechanism::Ip6(net.parse().map_err(|_| "bad ip6 network")?, cidr)
        }
        _ => return Err("unknown mechanism or bad arguments"),
    };
    Ok(Directive {
        qualifier,
        mechanism,
        text: term.to_string(),
    })
}

/// `":" domain-spec`, required.
fn required_domain(args: &str) -> Result<MacroString, &'static str> {
    let spec = args
        .strip_prefix(':')
        .ok_or("mechanism needs ':' domain-spec")?;
    MacroString::parse_domain_spec(spec)
}

/// `[ ":" domain-spec ]`.
fn optional_domain(args: &str) -> Result<Option<MacroString>, &'static str> {
    if args.is_empty() {
        Ok(None)
    } else {
        required_domain(args).map(Some)
    }
}

/// Splits `[ ":" domain-spec ] [ dual-cidr-length ]` from its end: "//n" then "/n" (§5.3, §5.4;
/// a domain-spec may itself contain "/", so only a trailing all-digit suffix is a length).
fn split_dual_cidr(args: &str) -> Result<(&str, u8, u8), &'static str> {
    let mut rest = args;
    let mut c6 = 128;
    let mut c4 = 32;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if let Some(i) = rest.rfind("//")
        && digits(&rest[i + 2..])
    {
        c6 = cidr(&rest[i + 2..], 128)?;
        rest = &rest[..i];
    }
    if let Some(i) = rest.rfind('/')
        && digits(&rest[i + 1..])
    {
        c4 = cidr(&rest[i + 1..], 32)?;
        rest = &rest[..i];
    }
    Ok((rest, c4, c6))
}

/// A prefix length: 1*DIGIT without leading zeros, at most `max` (§5.6: larger is an error).
fn cidr(s: &str, max: u8) -> Result<u8, &'static str> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err("bad CIDR length");
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err("CIDR length with a leading zero");
    }
    match s.parse::<u8>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err("CIDR length out of range"),
    }
}

/// §12 `ip4-network = qnum "." qnum "." qnum "." qnum`, qnum 0–255 without leading zeros.
fn parse_ip4(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.split('.');
    for o in &mut octets {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        if p.len() > 1 && p.starts_with('0') {
            return None;
        }
        *o = p.parse().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::from(octets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_follows_section_4_5() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(select(&v(&["v=spf10", "other"])), Selection::None);
        assert_eq!(select(&v(&["v=spf1"])), Selection::One("v=spf1"));
        assert_eq!(
            select(&v(&["V=SpF1 -all", "x"])),
            Selection::One("V=SpF1 -all")
        );
        assert_eq!(select(&v(&["v=spf1 -all", "v=spf1 +all"])), Selection::Many);
        assert_eq!(select(&v(&["v=spf1mx"])), Selection::None);
    }

    #[test]
    fn parses_mechanisms_and_modifiers() {
        let r = parse("v=spf1 a/24//64 mx:example.com ~ip4:192.0.2.0/24 ?ip6:2001:db8::/32 ptr exists:%{i}.x.example -all redirect=example.org exp=e.%{d} foo=bar").unwrap();
        assert_eq!(r.directives.len(), 7);
        assert_eq!(r.directives[0].mechanism, Mechanism::A(None, 24, 64));
        assert_eq!(r.directives[2].qualifier, Qualifier::SoftFail);
        assert_eq!(
            r.directives[2].mechanism,
            Mechanism::Ip4(Ipv4Addr::new(192, 0, 2, 0), 24)
        );
        assert_eq!(r.directives[6].text, "-all");
        assert!(r.redirect.is_some() && r.exp.is_some());
    }

    #[test]
    fn syntax_errors_are_detected() {
        for bad in [
            "v=spf1 -all.",
            "v=spf1 -all:foo",
            "v=spf1 -all/8",
            "v=spf1 ptr/0",
            "v=spf1 a/33",
            "v=spf1 a//129",
            "v=spf1 a/24/64",
            "v=spf1 ip4:1.2.3.4/032",
            "v=spf1 ip4:1.2.3",
            "v=spf1 ip4:01.2.3.4",
            "v=spf1 ip4:1.2.3.4//32",
            "v=spf1 ip6:::1/129",
            "v=spf1 ip6::CAFE::BABE",
            "v=spf1 include",
            "v=spf1 include:",
            "v=spf1 exists:a.example/24",
            "v=spf1 1up=foo",
            "v=spf1 =all",
            "v=spf1 redirect:x.example",
            "v=spf1 redirect=a.example redirect=b.example",
            "v=spf1 exp=a.example exp=b.example",
            "v=spf1 exp=",
            "v=spf1 foo=%abc",
            "v=spf1 a:ctrl.example\rptr",
            "v=spf1 moo.cow/far=x",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse("v=spf1 moo.cow-far_out=man:dog/cat  -all").is_ok());
        assert!(parse("v=spf1 default=+").is_ok());
    }
}

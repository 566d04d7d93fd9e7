//! SPF macros (RFC 7208 §7): parsing a `macro-string` (§7.1, §12) into literal text and
//! `%{...}` expansions, and expanding it for one check (§7.3, §7.4).
//!
//! Invariants:
//! - Parsing is a single pass over the bytes; a `MacroString` holds at most one piece per input
//!   byte and never more text than the input.
//! - Expansion output is capped by the caller (`cap`); going over it is an error, never a large
//!   allocation. Splitting a value on delimiters allocates at most one slice per value byte.
//! - The letters `c`, `r` and `t` are accepted only in explanation text (§7.3); everything else
//!   is a syntax error that the record parser turns into PermError.

use std::net::IpAddr;

/// Where a macro-string appears: the allowed characters and letters differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A `domain-spec` (mechanism argument, `redirect=`, `exp=`): visible ASCII, no `c`/`r`/`t`.
    Domain,
    /// The value of an unknown modifier: visible ASCII, any macro letter (§6, §12).
    Modifier,
    /// The TXT record an `exp=` names (§6.2 `explain-string`): spaces allowed, any letter.
    Explanation,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Expand {
        /// Lowercase macro letter.
        letter: u8,
        /// Uppercase letter: URL-escape the result (§7.3).
        escape: bool,
        /// Keep this many right-hand parts (0: all).
        keep: usize,
        reverse: bool,
        /// Delimiters to split on; empty means ".".
        delimiters: Vec<u8>,
    },
}

/// A parsed macro-string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MacroString {
    pieces: Vec<Piece>,
    /// The last token was a `macro-expand` (for the `domain-end` rule of §7.1).
    ends_with_expand: bool,
}

/// The values the macro letters expand to (§7.3).
#[derive(Debug, Clone)]
pub(crate) struct Env<'a> {
    /// `s`: the whole sender, `local@domain`.
    pub sender: &'a str,
    /// `l`: the sender's local-part ("postmaster" if it had none).
    pub local: &'a str,
    /// `o`: the sender's domain.
    pub sender_domain: &'a str,
    /// `d`: the domain whose record is being evaluated.
    pub domain: &'a str,
    /// `i`, `c`, `v`: the client address (IPv4-mapped addresses already unmapped).
    pub ip: IpAddr,
    /// `h`: the HELO/EHLO name.
    pub helo: &'a str,
    /// `p`: the validated name, when it was looked up; "unknown" otherwise.
    pub validated: Option<&'a str>,
    /// `r`: the checking host's name.
    pub receiver: &'a str,
    /// `t`: seconds since the epoch.
    pub now: u64,
}

/// RFC 7208 §7.1 delimiters.
const DELIMITERS: &[u8] = b".-+,/_=";

impl MacroString {
    /// Parses `s` as a macro-string of `kind` (§7.1, §12).
    pub(crate) fn parse(s: &str, kind: Kind) -> Result<MacroString, &'static str> {
        let b = s.as_bytes();
        let mut pieces: Vec<Piece> = Vec::new();
        let mut literal = String::new();
        let mut ends_with_expand = false;
        let mut i = 0;
        let flush = |literal: &mut String, pieces: &mut Vec<Piece>| {
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(literal)));
            }
        };
        while i < b.len() {
            let c = b[i];
            if c != b'%' {
                let ok = match kind {
                    Kind::Explanation => (0x20..=0x7e).contains(&c),
                    Kind::Domain | Kind::Modifier => (0x21..=0x7e).contains(&c),
                };
                if !ok {
                    return Err("invalid character in macro-string");
                }
                literal.push(char::from(c));
                ends_with_expand = false;
                i += 1;
                continue;
            }
            // §7.1: "%" must be followed by "{", "%", "_" or "-".
            match b.get(i + 1) {
                Some(b'%') => literal.push('%'),
                Some(b'_') => literal.push(' '),
                Some(b'-') => literal.push_str("%20"),
                Some(b'{') => {
                    flush(&mut literal, &mut pieces);
                    let (piece, used) = parse_expand(&b[i + 2..], kind)?;
                    pieces.push(piece);
                    i += 2 + used;
                    ends_with_expand = true;
                    continue;
                }
                _ => return Err("'%' not followed by '{', '%', '_' or '-'"),
            }
            ends_with_expand = true;
            i += 2;
        }
        flush(&mut literal, &mut pieces);
        Ok(MacroString {
            pieces,
            ends_with_expand,
        })
    }

    /// Parses `s` as a `domain-spec` (§7.1: `macro-string domain-end`, where `domain-end` is a
    /// macro-expand or "." toplabel ["."]).
    pub(crate) fn parse_domain_spec(s: &str) -> Result<MacroString, &'static str> {
        let m = MacroString::parse(s, Kind::Domain)?;
        if m.ends_with_expand {
            return Ok(m);
        }
        let body = s.strip_suffix('.').unwrap_or(s);
        match body.rfind('.') {
            Some(dot) if is_toplabel(&body[dot + 1..]) => Ok(m),
            _ => Err("domain-spec does not end in a macro or a valid top label"),
        }
    }

    /// Whether expanding needs the `p` macro (a PTR walk).
    pub(crate) fn uses_p(&self) -> bool {
        self.pieces
            .iter()
            .any(|p| matches!(p, Piece::Expand { letter: b'p', .. }))
    }

    /// Expands for `env` (§7.3). `None` if the result would exceed `cap` bytes.
    pub(crate) fn expand(&self, env: &Env<'_>, cap: usize) -> Option<String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(s) => out.push_str(s),
                Piece::Expand {
                    letter,
                    escape,
                    keep,
                    reverse,
                    delimiters,
                } => {
                    let value = letter_value(*letter, env);
                    let delims: &[u8] = if delimiters.is_empty() {
                        b"."
                    } else {
                        delimiters
                    };
                    let mut parts: Vec<&str> = value
                        .split(|c: char| c.is_ascii() && delims.contains(&(c as u8)))
                        .collect();
                    if *reverse {
                        parts.reverse();
                    }
                    if *keep > 0 && *keep < parts.len() {
                        parts.drain(..parts.len() - keep);
                    }
                    for (n, part) in parts.iter().enumerate() {
                        if n > 0 {
                            out.push('.');
                        }
                        if *escape {
                            url_escape(part, &mut out);
                        } else {
                            out.push_str(part);
                        }
                        if out.len() > cap {
                            return None;
                        }
                    }
                }
            }
            if out.len() > cap {
                return None;
            }
        }
        Some(out)
    }
}

/// Parses what follows "%{": letter, transformers, delimiters, "}". Returns the piece and the
/// number of bytes used (including the "}").
fn parse_expand(b: &[u8], kind: Kind) -> Result<(Piece, usize), &'static str> {
    let first = *b.first().ok_or("unterminated macro")?;
    let letter = first.to_ascii_lowercase();
    let allowed: &[u8] = match kind {
        Kind::Domain => b"slodiphv",
        Kind::Modifier | Kind::Explanation => b"slodiphvcrt",
    };
    if !allowed.contains(&letter) {
        return Err("unknown or misplaced macro letter");
    }
    let mut i = 1;
    let mut keep: usize = 0;
    let mut digits = false;
    while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
        // Anything above 255 keeps every part anyway; saturate so long digit runs are harmless.
        keep = (keep * 10 + usize::from(d - b'0')).min(1000);
        digits = true;
        i += 1;
    }
    // §7.3: a DIGIT transformer, if present, MUST be at least one.
    if digits && keep == 0 {
        return Err("macro transformer of zero parts");
    }
    let mut reverse = false;
    if matches!(b.get(i), Some(b'r' | b'R')) {
        reverse = true;
        i += 1;
    }
    let mut delimiters = Vec::new();
    while let Some(&d) = b.get(i).filter(|c| DELIMITERS.contains(c)) {
        if !delimiters.contains(&d) {
            delimiters.push(d);
        }
        i += 1;
    }
    if b.get(i) != Some(&b'}') {
        return Err("malformed macro");
    }
    Ok((
        Piece::Expand {
            letter,
            escape: first.is_ascii_uppercase(),
            keep,
            reverse,
            delimiters,
        },
        i + 1,
    ))
}

/// §7.1 `toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )`.
fn is_toplabel(l: &str) -> bool {
    let b = l.as_bytes();
    let (Some(first), Some(last)) = (b.first(), b.last()) else {
        return false;
    };
    if !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-') {
        return false;
    }
    if b.contains(&b'-') {
        first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric()
    } else {
        b.iter().any(u8::is_ascii_alphabetic)
    }
}

fn letter_value(letter: u8, env: &Env<'_>) -> String {
    match letter {
        b's' => env.sender.to_string(),
        b'l' => env.local.to_string(),
        b'o' => env.sender_domain.to_string(),
        b'd' => env.domain.to_string(),
        b'i' => dotted_ip(env.ip),
        b'p' => env.validated.unwrap_or("unknown").to_string(),
        b'v' => match env.ip {
            IpAddr::V4(_) => "in-addr".into(),
            IpAddr::V6(_) => "ip6".into(),
        },
        b'h' => env.helo.to_string(),
        b'c' => env.ip.to_string(),
        b'r' => env.receiver.to_string(),
        b't' => env.now.to_string(),
        _ => String::new(),
    }
}

/// §7.3 `i`: dotted quad for IPv4, dot-separated nibbles (most significant first) for IPv6.
pub(crate) fn dotted_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(63);
            for b in v6.octets() {
                for nibble in [b >> 4, b & 0x0f] {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    s.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
                }
            }
            s
        }
    }
}

/// §7.3: uppercase macros are URL-escaped (RFC 3986): every byte outside the unreserved set
/// becomes `%XX`.
fn url_escape(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(ip: &str) -> Env<'static> {
        Env {
            sender: "strong-bad@email.example.com",
            local: "strong-bad",
            sender_domain: "email.example.com",
            domain: "email.example.com",
            ip: ip.parse().unwrap(),
            helo: "mx.example.org",
            validated: None,
            receiver: "unknown",
            now: 0,
        }
    }

    fn x(s: &str, ip: &str) -> String {
        MacroString::parse(s, Kind::Explanation)
            .unwrap()
            .expand(&env(ip), 4096)
            .unwrap()
    }

    /// RFC 7208 §7.4, the examples with <ip> 192.0.2.3 and 2001:db8::cb01.
    #[test]
    fn rfc7208_section_7_4_examples() {
        let v4 = "192.0.2.3";
        for (m, want) in [
            ("%{s}", "strong-bad@email.example.com"),
            ("%{o}", "email.example.com"),
            ("%{d}", "email.example.com"),
            ("%{d4}", "email.example.com"),
            ("%{d3}", "email.example.com"),
            ("%{d2}", "example.com"),
            ("%{d1}", "com"),
            ("%{dr}", "com.example.email"),
            ("%{d2r}", "example.email"),
            ("%{l}", "strong-bad"),
            ("%{l-}", "strong.bad"),
            ("%{lr}", "strong-bad"),
            ("%{lr-}", "bad.strong"),
            ("%{l1r-}", "strong"),
            (
                "%{ir}.%{v}._spf.%{d2}",
                "3.2.0.192.in-addr._spf.example.com",
            ),
            ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
            (
                "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
                "bad.strong.lp.3.2.0.192.in-addr._spf.example.com",
            ),
            (
                "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
                "3.2.0.192.in-addr.strong.lp._spf.example.com",
            ),
            (
                "%{d2}.trusted-domains.example.net",
                "example.com.trusted-domains.example.net",
            ),
        ] {
            assert_eq!(x(m, v4), want, "{m}");
        }
        assert_eq!(
            x("%{ir}.%{v}._spf.%{d2}", "2001:db8::cb01"),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"
        );
    }

    #[test]
    fn escapes_and_url_encoding() {
        assert_eq!(x("a%%b%_c%-d", "192.0.2.3"), "a%b c%20d");
        assert_eq!(x("%{L}", "192.0.2.3"), "strong-bad");
        assert_eq!(x("%{S}", "192.0.2.3"), "strong-bad%40email.example.com");
        assert_eq!(x("%{c} %{v}", "2001:db8::cb01"), "2001:db8::cb01 ip6");
        assert_eq!(x("%{p}", "192.0.2.3"), "unknown");
        assert_eq!(x("%{d200r}", "192.0.2.3"), "com.example.email");
    }

    #[test]
    fn syntax_errors() {
        for bad in [
            "%", "%a", "%{", "%{x}", "%{d0}", "%{d", "%{dr-", "a b", "\u{7f}", "%(ir)",
        ] {
            assert!(MacroString::parse(bad, Kind::Domain).is_err(), "{bad:?}");
        }
        assert!(MacroString::parse("%{r}", Kind::Domain).is_err());
        assert!(MacroString::parse("%{c}", Kind::Explanation).is_ok());
        assert!(MacroString::parse("a b", Kind::Explanation).is_ok());
        assert!(MacroString::parse("é", Kind::Explanation).is_err());
        for good in [
            "a.example.com",
            "%{d}",
            "x.%{d}",
            "foo:bar/baz.example.com",
            "e.xn--zckzah",
        ] {
            assert!(MacroString::parse_domain_spec(good).is_ok(), "{good}");
        }
        for bad in [
            "museum",
            "museum.",
            "abc.123",
            "example.-com",
            "example.com:8080",
            "",
            "a.b/24",
        ] {
            assert!(MacroString::parse_domain_spec(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn expansion_is_capped() {
        let m = MacroString::parse("%{s}%{s}%{s}%{s}", Kind::Domain).unwrap();
        assert!(m.expand(&env("192.0.2.3"), 40).is_none());
        assert!(m.expand(&env("192.0.2.3"), 200).is_some());
    }
}

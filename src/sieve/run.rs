//! Running a program against one message for one recipient (RFC 5228 §2.10): the actions it
//! takes, with the implicit keep when nothing cancelled it.
//!
//! Invariants: pure, no I/O (sending replies and redirects is the delivery's job); every test
//! reads the message's header section through [`MessageView`], parsed once; at most
//! [`Limits::max_actions`] actions and [`Limits::max_redirects`] redirects — beyond them, or on
//! any other run-time error (a reject beside a keep, RFC 5429 §2.1), the result is the implicit
//! keep alone (RFC 5228 §2.10.6), with the error for the log.

use super::Limits;
use super::compile::{AddressPart, Cmd, Comparator, Cond, FlagOp, Match, MatchType, VacationArgs};

/// The message a script looks at.
pub struct MessageView {
    /// Header fields: lower-case name and value (unfolded, RFC 2047 decoded, trimmed).
    fields: Vec<(String, String)>,
    /// Address fields: lower-case name and the addresses in it (lower-case).
    addresses: Vec<(String, Vec<String>)>,
    /// Size in bytes.
    pub size: u64,
    /// Envelope sender (empty for the null sender).
    pub envelope_from: String,
    /// Envelope recipient, as given at RCPT.
    pub envelope_to: String,
}

impl MessageView {
    /// Parses a header section (the bytes up to the empty line).
    pub fn new(header: &[u8], size: u64, envelope_from: &str, envelope_to: &str) -> MessageView {
        let mut text = header.to_vec();
        text.extend_from_slice(b"\r\n");
        let mut fields = Vec::new();
        if let Some(m) = mail_parser::MessageParser::new()
            .default_header_text()
            .parse_headers(&text)
        {
            for h in m.headers() {
                let value = match &h.value {
                    mail_parser::HeaderValue::Text(t) => t.trim().to_string(),
                    mail_parser::HeaderValue::TextList(l) => l.join(", "),
                    _ => String::new(),
                };
                fields.push((h.name.as_str().to_ascii_lowercase(), value));
            }
        }
        let mut addresses = Vec::new();
        if let Some(m) = mail_parser::MessageParser::new()
            .with_address_headers()
            .parse_headers(&text)
        {
            for h in m.headers() {
                if let mail_parser::HeaderValue::Address(a) = &h.value {
                    let list = a
                        .iter()
                        .filter_map(|x| x.address())
                        .map(str::to_ascii_lowercase)
                        .collect();
                    addresses.push((h.name.as_str().to_ascii_lowercase(), list));
                }
            }
        }
        MessageView {
            fields,
            addresses,
            size,
            envelope_from: envelope_from.to_ascii_lowercase(),
            envelope_to: envelope_to.to_ascii_lowercase(),
        }
    }

    /// The values of the fields named `name` (lower-case), in order.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The addresses in the fields named `name` (lower-case).
    pub fn addresses<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.addresses
            .iter()
            .filter(move |(n, _)| n == name)
            .flat_map(|(_, l)| l.iter().map(String::as_str))
    }
}

/// What a script decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Copies to store: the mailbox (`None`: INBOX, the implicit or explicit keep) and the
    /// flags to set. Empty when the message is discarded.
    pub keep: Vec<(Option<String>, Vec<String>)>,
    /// Addresses to redirect the message to.
    pub redirects: Vec<String>,
    /// Refuse the message with this reason.
    pub reject: Option<String>,
    /// Send this vacation reply, if the delivery's checks allow it.
    pub vacation: Option<VacationArgs>,
    /// A run-time error, if one made this the implicit keep.
    pub error: Option<String>,
}

impl Outcome {
    /// Only the implicit keep: what happens without a script, or after an error.
    pub fn implicit_keep(error: Option<String>) -> Outcome {
        Outcome {
            keep: vec![(None, Vec::new())],
            error,
            ..Outcome::default()
        }
    }
}

struct Run<'a> {
    msg: &'a MessageView,
    limits: &'a Limits,
    out: Outcome,
    flags: Vec<String>,
    implicit_keep: bool,
    actions: usize,
}

enum Flow {
    Next,
    Stop,
}

impl Run<'_> {
    fn act(&mut self) -> Result<(), String> {
        self.actions += 1;
        if self.actions > self.limits.max_actions {
            return Err(format!("more than {} actions", self.limits.max_actions));
        }
        Ok(())
    }

    fn flags_now(&self, explicit: &Option<Vec<String>>) -> Vec<String> {
        explicit.clone().unwrap_or_else(|| self.flags.clone())
    }

    fn block(&mut self, cmds: &[Cmd]) -> Result<Flow, String> {
        for c in cmds {
            if let Flow::Stop = self.cmd(c)? {
                return Ok(Flow::Stop);
            }
        }
        Ok(Flow::Next)
    }

    fn cmd(&mut self, c: &Cmd) -> Result<Flow, String> {
        match c {
            Cmd::If {
                branches,
                otherwise,
            } => {
                for (cond, body) in branches {
                    if self.test(cond) {
                        return self.block(body);
                    }
                }
                if let Some(body) = otherwise {
                    return self.block(body);
                }
            }
            Cmd::Stop => return Ok(Flow::Stop),
            Cmd::Keep { flags } => {
                self.act()?;
                let f = self.flags_now(flags);
                self.out.keep.push((None, f));
                self.implicit_keep = false;
            }
            Cmd::Discard => self.implicit_keep = false,
            Cmd::FileInto {
                mailbox,
                copy,
                flags,
            } => {
                self.act()?;
                let f = self.flags_now(flags);
                self.out.keep.push((Some(mailbox.clone()), f));
                self.implicit_keep &= *copy;
            }
            Cmd::Redirect { address, copy } => {
                self.act()?;
                if self.out.redirects.len() >= self.limits.max_redirects {
                    return Err(format!("more than {} redirects", self.limits.max_redirects));
                }
                if !self.out.redirects.contains(address) {
                    self.out.redirects.push(address.clone());
                }
                self.implicit_keep &= *copy;
            }
            Cmd::Reject(reason) => {
                self.act()?;
                if self.out.reject.is_some() {
                    return Err("two rejects".into());
                }
                self.out.reject = Some(reason.clone());
                self.implicit_keep = false;
            }
            Cmd::Vacation(v) => {
                self.act()?;
                if self.out.vacation.is_some() {
                    return Err("two vacation actions".into()); // RFC 5230 §4.7
                }
                self.out.vacation = Some(v.clone());
            }
            Cmd::Flags(op, list) => {
                let list = split_flags(list);
                match op {
                    FlagOp::Set => self.flags = Vec::new(),
                    FlagOp::Add | FlagOp::Remove => {}
                }
                for f in list {
                    let present = self.flags.iter().position(|x| x.eq_ignore_ascii_case(&f));
                    match (op, present) {
                        (FlagOp::Remove, Some(i)) => {
                            self.flags.remove(i);
                        }
                        (FlagOp::Set | FlagOp::Add, None) => self.flags.push(f),
                        _ => {}
                    }
                }
            }
        }
        Ok(Flow::Next)
    }

    fn test(&self, c: &Cond) -> bool {
        match c {
            Cond::True => true,
            Cond::False => false,
            Cond::Not(x) => !self.test(x),
            Cond::AllOf(l) => l.iter().all(|x| self.test(x)),
            Cond::AnyOf(l) => l.iter().any(|x| self.test(x)),
            Cond::Exists(names) => names.iter().all(|n| self.msg.values(n).next().is_some()),
            Cond::Size { over, limit } => {
                if *over {
                    self.msg.size > *limit
                } else {
                    self.msg.size < *limit
                }
            }
            Cond::Header { names, keys, how } => names
                .iter()
                .flat_map(|n| self.msg.values(n))
                .any(|v| keys.iter().any(|k| matches(*how, v, k))),
            Cond::Address {
                names,
                keys,
                how,
                part,
                envelope,
            } => {
                let values: Vec<&str> = if *envelope {
                    names
                        .iter()
                        .map(|n| match n.as_str() {
                            "from" => self.msg.envelope_from.as_str(),
                            _ => self.msg.envelope_to.as_str(),
                        })
                        .collect()
                } else {
                    names.iter().flat_map(|n| self.msg.addresses(n)).collect()
                };
                values.iter().any(|v| {
                    let v = address_part(v, *part);
                    keys.iter().any(|k| matches(*how, v, k))
                })
            }
            Cond::HasFlag { keys, how } => self
                .flags
                .iter()
                .any(|f| split_flags(keys).iter().any(|k| matches(*how, f, k))),
        }
    }
}

/// Flag lists are space-separated inside each string (RFC 5232 §3).
fn split_flags(list: &[String]) -> Vec<String> {
    list.iter()
        .flat_map(|s| s.split_ascii_whitespace())
        .map(str::to_string)
        .collect()
}

fn address_part(a: &str, part: AddressPart) -> &str {
    match (part, a.rsplit_once('@')) {
        (AddressPart::All, _) => a,
        (AddressPart::LocalPart, Some((l, _))) => l,
        (AddressPart::Domain, Some((_, d))) => d,
        (AddressPart::LocalPart, None) => a,
        (AddressPart::Domain, None) => "",
    }
}

/// RFC 5228 §2.7.1 with the RFC 4790 comparators.
pub fn matches(how: Match, value: &str, key: &str) -> bool {
    let (v, k) = match how.comparator {
        Comparator::Octet => (value.as_bytes().to_vec(), key.as_bytes().to_vec()),
        Comparator::AsciiCasemap => (
            value.as_bytes().to_ascii_lowercase(),
            key.as_bytes().to_ascii_lowercase(),
        ),
    };
    match how.kind {
        MatchType::Is => v == k,
        MatchType::Contains => k.is_empty() || v.windows(k.len()).any(|w| w == k.as_slice()),
        MatchType::Matches => wildcard(&v, &k),
    }
}

/// `*` (any run) and `?` (one character, RFC 5228 §2.7.1: a UTF-8 character) with `\`
/// escapes; iterative, at most O(len(value) × len(pattern)).
fn wildcard(value: &[u8], pattern: &[u8]) -> bool {
    // Pattern items: Some(byte) literal, None for `?`, and a star marker.
    #[derive(Clone, Copy, PartialEq)]
    enum P {
        Lit(u8),
        One,
        Star,
    }
    let mut p = Vec::with_capacity(pattern.len());
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'\\' if i + 1 < pattern.len() => {
                p.push(P::Lit(pattern[i + 1]));
                i += 1;
            }
            b'*' => p.push(P::Star),
            b'?' => p.push(P::One),
            b => p.push(P::Lit(b)),
        }
        i += 1;
    }
    let char_len = |at: usize| -> usize {
        let b = value[at];
        let n = match b {
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf7 => 4,
            _ => 1,
        };
        n.min(value.len() - at)
    };
    let (mut v, mut q) = (0usize, 0usize);
    let mut backtrack: Option<(usize, usize)> = None;
    while v < value.len() {
        match p.get(q) {
            Some(P::Star) => {
                backtrack = Some((q, v));
                q += 1;
                continue;
            }
            Some(P::One) => {
                v += char_len(v);
                q += 1;
                continue;
            }
            Some(P::Lit(b)) if *b == value[v] => {
                v += 1;
                q += 1;
                continue;
            }
            _ => {}
        }
        match backtrack {
            Some((sq, sv)) => {
                let next = sv + char_len(sv);
                backtrack = Some((sq, next));
                q = sq + 1;
                v = next;
            }
            None => return false,
        }
    }
    p[q..].iter().all(|x| *x == P::Star)
}

/// Runs `program` against `msg`.
pub fn run(program: &[Cmd], msg: &MessageView, limits: &Limits) -> Outcome {
    let mut r = Run {
        msg,
        limits,
        out: Outcome::default(),
        flags: Vec::new(),
        implicit_keep: true,
        actions: 0,
    };
    if let Err(e) = r.block(program) {
        return Outcome::implicit_keep(Some(e));
    }
    if r.out.reject.is_some() && !r.out.keep.is_empty() {
        // RFC 5429 §2.1: reject cannot be combined with keep or fileinto.
        return Outcome::implicit_keep(Some("reject beside keep or fileinto".into()));
    }
    if r.implicit_keep {
        let flags = r.flags.clone();
        r.out.keep.push((None, flags));
    }
    r.out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn how(kind: MatchType) -> Match {
        Match {
            kind,
            comparator: Comparator::AsciiCasemap,
        }
    }

    #[test]
    fn match_types() {
        assert!(matches(how(MatchType::Is), "Hello", "hello"));
        assert!(!matches(
            Match {
                kind: MatchType::Is,
                comparator: Comparator::Octet
            },
            "Hello",
            "hello"
        ));
        assert!(matches(how(MatchType::Contains), "Big SALE today", "sale"));
        assert!(matches(how(MatchType::Contains), "x", ""));
        for (v, p, want) in [
            ("[list] news", "[list]*", true),
            ("abc", "a?c", true),
            ("aüc", "a?c", true),
            ("abc", "a*", true),
            ("abc", "*c", true),
            ("abc", "*b*", true),
            ("abc", "a*d", false),
            ("a*c", "a\\*c", true),
            ("abc", "a\\*c", false),
            ("", "*", true),
            ("", "?", false),
            ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "*a*a*a*a*a*a*c", false),
        ] {
            assert_eq!(matches(how(MatchType::Matches), v, p), want, "{v} {p}");
        }
    }
}

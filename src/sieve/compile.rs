//! What commands and tests mean: the parsed script checked against RFC 5228 and the
//! extensions mailnook implements (fileinto, envelope, reject/ereject (RFC 5429), vacation
//! (RFC 5230), imap4flags (RFC 5232), copy (RFC 3894)), and turned into a typed program.
//!
//! Invariants: pure; every error names its line; an extension is usable only after `require`
//! names it, and `require` may only come before every other command (RFC 5228 §3.2); unknown
//! commands, tests, tags, comparators and extensions are errors (§2.10.5: no silent ignoring);
//! `elsif`/`else` only follow `if`/`elsif`.

use super::parse::{Arg, Command, Test};

/// RFC 4790 comparators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparator {
    /// `i;octet`: bytes as they are.
    Octet,
    /// `i;ascii-casemap` (the default): ASCII letters compared without case.
    AsciiCasemap,
}

/// RFC 5228 §2.7.1 match types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchType {
    /// `:is` (the default)
    Is,
    /// `:contains`
    Contains,
    /// `:matches`: `*` and `?` wildcards, `\` escapes.
    Matches,
}

/// How values are compared with keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    /// Match type.
    pub kind: MatchType,
    /// Comparator.
    pub comparator: Comparator,
}

/// RFC 5228 §2.7.4 address parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressPart {
    /// `:all` (the default)
    All,
    /// `:localpart`
    LocalPart,
    /// `:domain`
    Domain,
}

/// A test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// `true`
    True,
    /// `false`
    False,
    /// `not`
    Not(Box<Cond>),
    /// `allof`
    AllOf(Vec<Cond>),
    /// `anyof`
    AnyOf(Vec<Cond>),
    /// `exists`: every named header field is present.
    Exists(Vec<String>),
    /// `size :over` (true) or `:under` (false).
    Size {
        /// `:over`
        over: bool,
        /// Bytes.
        limit: u64,
    },
    /// `header`
    Header {
        /// Field names, lower-case.
        names: Vec<String>,
        /// Keys.
        keys: Vec<String>,
        /// How.
        how: Match,
    },
    /// `address` (fields) or `envelope` (`from`/`to`, when `envelope` is set).
    Address {
        /// Field names (lower-case), or envelope parts.
        names: Vec<String>,
        /// Keys.
        keys: Vec<String>,
        /// How.
        how: Match,
        /// Which part.
        part: AddressPart,
        /// The envelope test rather than header fields.
        envelope: bool,
    },
    /// `hasflag` (RFC 5232 §4): the internal flags.
    HasFlag {
        /// Keys.
        keys: Vec<String>,
        /// How.
        how: Match,
    },
}

/// RFC 5232 §3 flag commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagOp {
    /// `setflag`
    Set,
    /// `addflag`
    Add,
    /// `removeflag`
    Remove,
}

/// `vacation`'s arguments (RFC 5230 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VacationArgs {
    /// `:days` (at least 1; 7 without it).
    pub days: u64,
    /// `:subject`
    pub subject: Option<String>,
    /// `:from`
    pub from: Option<String>,
    /// `:addresses`: more of the user's own addresses.
    pub addresses: Vec<String>,
    /// `:mime`: the reason is a MIME entity.
    pub mime: bool,
    /// `:handle`
    pub handle: Option<String>,
    /// The reply text.
    pub reason: String,
}

/// A command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmd {
    /// `if`/`elsif`… with an optional `else`.
    If {
        /// Each test and its block, in order.
        branches: Vec<(Cond, Vec<Cmd>)>,
        /// The `else` block.
        otherwise: Option<Vec<Cmd>>,
    },
    /// `stop`
    Stop,
    /// `keep [:flags]`
    Keep {
        /// `:flags`
        flags: Option<Vec<String>>,
    },
    /// `discard`
    Discard,
    /// `fileinto [:copy] [:flags] mailbox`
    FileInto {
        /// Mailbox name.
        mailbox: String,
        /// `:copy`: keeps the implicit keep.
        copy: bool,
        /// `:flags`
        flags: Option<Vec<String>>,
    },
    /// `redirect [:copy] address`
    Redirect {
        /// Address.
        address: String,
        /// `:copy`
        copy: bool,
    },
    /// `reject` or `ereject`.
    Reject(String),
    /// `vacation`
    Vacation(VacationArgs),
    /// `setflag`/`addflag`/`removeflag`
    Flags(FlagOp, Vec<String>),
}

/// A compile error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// Line (1-based).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for CompileError {}

/// The extensions `require` may name.
pub const KNOWN: &[&str] = &[
    "fileinto",
    "envelope",
    "reject",
    "ereject",
    "vacation",
    "imap4flags",
    "copy",
    "comparator-i;octet",
    "comparator-i;ascii-casemap",
];

type Result<T> = std::result::Result<T, CompileError>;

fn err<T>(line: usize, message: impl Into<String>) -> Result<T> {
    Err(CompileError {
        line,
        message: message.into(),
    })
}

/// Tagged arguments and positional ones, split (RFC 5228 §2.6.2: tags come first).
struct Split {
    tags: Vec<(String, Option<Arg>)>,
    positional: Vec<Arg>,
}

impl Split {
    fn has(&self, tag: &str) -> bool {
        self.tags.iter().any(|(t, _)| t == tag)
    }

    fn param(&self, tag: &str) -> Option<&Arg> {
        self.tags
            .iter()
            .find(|(t, _)| t == tag)
            .and_then(|(_, p)| p.as_ref())
    }
}

/// Splits `args` given which tags it allows and which of those take a parameter.
fn split(line: usize, what: &str, args: &[Arg], flags: &[&str], valued: &[&str]) -> Result<Split> {
    let mut out = Split {
        tags: Vec::new(),
        positional: Vec::new(),
    };
    let mut it = args.iter().peekable();
    while let Some(a) = it.next() {
        match a {
            Arg::Tag(t) if !out.positional.is_empty() => {
                return err(
                    line,
                    format!("`:{t}` must come before the other arguments of {what}"),
                );
            }
            Arg::Tag(t) if out.has(t) => return err(line, format!("`:{t}` given twice")),
            Arg::Tag(t) if valued.contains(&t.as_str()) => match it.next() {
                Some(p @ (Arg::Strings(_) | Arg::Number(_))) => {
                    out.tags.push((t.clone(), Some(p.clone())))
                }
                _ => return err(line, format!("`:{t}` needs a value")),
            },
            Arg::Tag(t) if flags.contains(&t.as_str()) => out.tags.push((t.clone(), None)),
            Arg::Tag(t) => return err(line, format!("{what} has no `:{t}` argument")),
            other => out.positional.push(other.clone()),
        }
    }
    Ok(out)
}

fn strings(line: usize, a: Option<&Arg>, what: &str) -> Result<Vec<String>> {
    match a {
        Some(Arg::Strings(s)) => Ok(s.clone()),
        _ => err(line, format!("{what} must be a string or a string list")),
    }
}

fn string(line: usize, a: Option<&Arg>, what: &str) -> Result<String> {
    match a {
        Some(Arg::Strings(s)) if s.len() == 1 => Ok(s[0].clone()),
        _ => err(line, format!("{what} must be one string")),
    }
}

struct Checker {
    required: Vec<String>,
}

impl Checker {
    fn need(&self, line: usize, ext: &str, what: &str) -> Result<()> {
        if self.required.iter().any(|r| r == ext) {
            Ok(())
        } else {
            err(line, format!("{what} needs `require \"{ext}\";`"))
        }
    }

    fn how(&self, line: usize, s: &Split) -> Result<Match> {
        let kinds: Vec<MatchType> = [
            ("is", MatchType::Is),
            ("contains", MatchType::Contains),
            ("matches", MatchType::Matches),
        ]
        .iter()
        .filter(|(t, _)| s.has(t))
        .map(|(_, k)| *k)
        .collect();
        if kinds.len() > 1 {
            return err(line, "only one match type may be given");
        }
        let comparator = match s.param("comparator") {
            None => Comparator::AsciiCasemap,
            Some(a) => match string(line, Some(a), "`:comparator`")?.as_str() {
                "i;ascii-casemap" => Comparator::AsciiCasemap,
                "i;octet" => {
                    self.need(line, "comparator-i;octet", "the i;octet comparator")?;
                    Comparator::Octet
                }
                other => return err(line, format!("unknown comparator {other:?}")),
            },
        };
        Ok(Match {
            kind: kinds.first().copied().unwrap_or(MatchType::Is),
            comparator,
        })
    }

    fn part(&self, line: usize, s: &Split) -> Result<AddressPart> {
        let parts: Vec<AddressPart> = [
            ("all", AddressPart::All),
            ("localpart", AddressPart::LocalPart),
            ("domain", AddressPart::Domain),
        ]
        .iter()
        .filter(|(t, _)| s.has(t))
        .map(|(_, p)| *p)
        .collect();
        if parts.len() > 1 {
            return err(line, "only one address part may be given");
        }
        Ok(parts.first().copied().unwrap_or(AddressPart::All))
    }

    fn no_tests(&self, line: usize, what: &str, tests: &[Test]) -> Result<()> {
        if tests.is_empty() {
            Ok(())
        } else {
            err(line, format!("{what} takes no test"))
        }
    }

    fn cond(&self, t: &Test) -> Result<Cond> {
        const MATCH: &[&str] = &["is", "contains", "matches"];
        const PART: &[&str] = &["all", "localpart", "domain"];
        let line = t.line;
        let nested = |n: usize| -> Result<()> {
            if t.tests.len() == n || (n == usize::MAX && !t.tests.is_empty()) {
                Ok(())
            } else {
                err(line, format!("wrong number of tests for `{}`", t.name))
            }
        };
        let positional = |s: &Split, n: usize| -> Result<()> {
            if s.positional.len() == n {
                Ok(())
            } else {
                err(line, format!("`{}` takes {n} arguments", t.name))
            }
        };
        match t.name.as_str() {
            "true" | "false" => {
                split(line, &t.name, &t.args, &[], &[])
                    .and_then(|s| positional(&s, 0))
                    .and(nested(0))?;
                Ok(if t.name == "true" {
                    Cond::True
                } else {
                    Cond::False
                })
            }
            "not" => {
                split(line, "not", &t.args, &[], &[]).and_then(|s| positional(&s, 0))?;
                nested(1)?;
                Ok(Cond::Not(Box::new(self.cond(&t.tests[0])?)))
            }
            "allof" | "anyof" => {
                split(line, &t.name, &t.args, &[], &[]).and_then(|s| positional(&s, 0))?;
                nested(usize::MAX)?;
                let list = t
                    .tests
                    .iter()
                    .map(|x| self.cond(x))
                    .collect::<Result<Vec<_>>>()?;
                Ok(if t.name == "allof" {
                    Cond::AllOf(list)
                } else {
                    Cond::AnyOf(list)
                })
            }
            "exists" => {
                let s = split(line, "exists", &t.args, &[], &[])?;
                positional(&s, 1)?;
                nested(0)?;
                Ok(Cond::Exists(lower(strings(
                    line,
                    s.positional.first(),
                    "the header names",
                )?)))
            }
            "size" => {
                let s = split(line, "size", &t.args, &[], &["over", "under"])?;
                positional(&s, 0)?;
                nested(0)?;
                match (s.param("over"), s.param("under")) {
                    (Some(Arg::Number(n)), None) => Ok(Cond::Size {
                        over: true,
                        limit: *n,
                    }),
                    (None, Some(Arg::Number(n))) => Ok(Cond::Size {
                        over: false,
                        limit: *n,
                    }),
                    _ => err(line, "size needs exactly one of `:over N` or `:under N`"),
                }
            }
            "header" => {
                let s = split(line, "header", &t.args, MATCH, &["comparator"])?;
                positional(&s, 2)?;
                nested(0)?;
                Ok(Cond::Header {
                    names: lower(strings(line, s.positional.first(), "the header names")?),
                    keys: strings(line, s.positional.get(1), "the keys")?,
                    how: self.how(line, &s)?,
                })
            }
            "address" | "envelope" => {
                let envelope = t.name == "envelope";
                if envelope {
                    self.need(line, "envelope", "the envelope test")?;
                }
                let flags: Vec<&str> = MATCH.iter().chain(PART).copied().collect();
                let s = split(line, &t.name, &t.args, &flags, &["comparator"])?;
                positional(&s, 2)?;
                nested(0)?;
                let names = lower(strings(line, s.positional.first(), "the header names")?);
                if envelope && names.iter().any(|n| n != "from" && n != "to") {
                    return err(line, "envelope parts are \"from\" and \"to\"");
                }
                Ok(Cond::Address {
                    names,
                    keys: strings(line, s.positional.get(1), "the keys")?,
                    how: self.how(line, &s)?,
                    part: self.part(line, &s)?,
                    envelope,
                })
            }
            "hasflag" => {
                self.need(line, "imap4flags", "hasflag")?;
                let s = split(line, "hasflag", &t.args, MATCH, &["comparator"])?;
                positional(&s, 1)?;
                nested(0)?;
                Ok(Cond::HasFlag {
                    keys: strings(line, s.positional.first(), "the flags")?,
                    how: self.how(line, &s)?,
                })
            }
            other => err(line, format!("unknown test `{other}`")),
        }
    }

    fn block(&self, commands: &[Command]) -> Result<Vec<Cmd>> {
        let mut out: Vec<Cmd> = Vec::new();
        for c in commands {
            let line = c.line;
            if c.name == "require" {
                return err(line, "`require` must come before every other command");
            }
            let needs_block = matches!(c.name.as_str(), "if" | "elsif" | "else");
            match (&c.block, needs_block) {
                (None, true) => return err(line, format!("`{}` needs a block", c.name)),
                (Some(_), false) => return err(line, format!("`{}` takes no block", c.name)),
                _ => {}
            }
            let body = || self.block(c.block.as_deref().unwrap_or(&[]));
            match c.name.as_str() {
                "if" => {
                    let s = split(line, "if", &c.args, &[], &[])?;
                    if !s.positional.is_empty() || c.tests.len() != 1 {
                        return err(line, "`if` takes one test");
                    }
                    out.push(Cmd::If {
                        branches: vec![(self.cond(&c.tests[0])?, body()?)],
                        otherwise: None,
                    });
                }
                "elsif" | "else" => {
                    let Some(Cmd::If {
                        branches,
                        otherwise,
                    }) = out.last_mut()
                    else {
                        return err(line, format!("`{}` must follow `if` or `elsif`", c.name));
                    };
                    if otherwise.is_some() {
                        return err(line, format!("`{}` after `else`", c.name));
                    }
                    if !c.args.is_empty() {
                        return err(line, format!("`{}` takes no arguments", c.name));
                    }
                    if c.name == "elsif" {
                        if c.tests.len() != 1 {
                            return err(line, "`elsif` takes one test");
                        }
                        branches.push((self.cond(&c.tests[0])?, body()?));
                    } else {
                        self.no_tests(line, "else", &c.tests)?;
                        *otherwise = Some(body()?);
                    }
                }
                name => {
                    self.no_tests(line, name, &c.tests)?;
                    out.push(self.action(c)?);
                }
            }
        }
        Ok(out)
    }

    fn action(&self, c: &Command) -> Result<Cmd> {
        let line = c.line;
        let count = |s: &Split, n: usize| -> Result<()> {
            if s.positional.len() == n {
                Ok(())
            } else {
                err(line, format!("`{}` takes {n} arguments", c.name))
            }
        };
        let flags_arg = |s: &Split| -> Result<Option<Vec<String>>> {
            match s.param("flags") {
                None => Ok(None),
                Some(a) => {
                    self.need(line, "imap4flags", "`:flags`")?;
                    Ok(Some(strings(line, Some(a), "`:flags`")?))
                }
            }
        };
        let copy = |s: &Split| -> Result<bool> {
            if s.has("copy") {
                self.need(line, "copy", "`:copy`")?;
            }
            Ok(s.has("copy"))
        };
        match c.name.as_str() {
            "stop" | "discard" => {
                count(&split(line, &c.name, &c.args, &[], &[])?, 0)?;
                Ok(if c.name == "stop" {
                    Cmd::Stop
                } else {
                    Cmd::Discard
                })
            }
            "keep" => {
                let s = split(line, "keep", &c.args, &[], &["flags"])?;
                count(&s, 0)?;
                Ok(Cmd::Keep {
                    flags: flags_arg(&s)?,
                })
            }
            "fileinto" => {
                self.need(line, "fileinto", "fileinto")?;
                let s = split(line, "fileinto", &c.args, &["copy"], &["flags"])?;
                count(&s, 1)?;
                Ok(Cmd::FileInto {
                    mailbox: string(line, s.positional.first(), "the mailbox")?,
                    copy: copy(&s)?,
                    flags: flags_arg(&s)?,
                })
            }
            "redirect" => {
                let s = split(line, "redirect", &c.args, &["copy"], &[])?;
                count(&s, 1)?;
                let address = string(line, s.positional.first(), "the address")?;
                let Some(address) = crate::message::address::normalize(&address)
                    .filter(|a| !a.contains(char::is_whitespace))
                else {
                    return err(
                        line,
                        format!("redirect needs an email address, not {address:?}"),
                    );
                };
                Ok(Cmd::Redirect {
                    address,
                    copy: copy(&s)?,
                })
            }
            "reject" | "ereject" => {
                self.need(line, &c.name, &c.name)?;
                let s = split(line, &c.name, &c.args, &[], &[])?;
                count(&s, 1)?;
                Ok(Cmd::Reject(string(
                    line,
                    s.positional.first(),
                    "the reason",
                )?))
            }
            "vacation" => {
                self.need(line, "vacation", "vacation")?;
                let s = split(
                    line,
                    "vacation",
                    &c.args,
                    &["mime"],
                    &["days", "subject", "from", "addresses", "handle"],
                )?;
                count(&s, 1)?;
                let days = match s.param("days") {
                    None => 7,
                    // RFC 5230 §4.1: a site minimum of 1 day; a bounded maximum too.
                    Some(Arg::Number(n)) => (*n).clamp(1, 365),
                    Some(_) => return err(line, "`:days` needs a number"),
                };
                let opt = |tag: &str| -> Result<Option<String>> {
                    s.param(tag)
                        .map(|a| string(line, Some(a), &format!("`:{tag}`")))
                        .transpose()
                };
                Ok(Cmd::Vacation(VacationArgs {
                    days,
                    subject: opt("subject")?,
                    from: opt("from")?,
                    addresses: match s.param("addresses") {
                        None => Vec::new(),
                        a => lower(strings(line, a, "`:addresses`")?),
                    },
                    mime: s.has("mime"),
                    handle: opt("handle")?,
                    reason: string(line, s.positional.first(), "the reason")?,
                }))
            }
            "setflag" | "addflag" | "removeflag" => {
                self.need(line, "imap4flags", &c.name)?;
                let s = split(line, &c.name, &c.args, &[], &[])?;
                if s.positional.len() == 2 {
                    return err(
                        line,
                        "flag variables need the variables extension, which is not supported",
                    );
                }
                count(&s, 1)?;
                let op = match c.name.as_str() {
                    "setflag" => FlagOp::Set,
                    "addflag" => FlagOp::Add,
                    _ => FlagOp::Remove,
                };
                Ok(Cmd::Flags(
                    op,
                    strings(line, s.positional.first(), "the flags")?,
                ))
            }
            other => err(line, format!("unknown command `{other}`")),
        }
    }
}

fn lower(v: Vec<String>) -> Vec<String> {
    v.into_iter().map(|s| s.to_ascii_lowercase()).collect()
}

/// Checks a parsed script and turns it into a program.
pub fn check(commands: &[Command]) -> Result<Vec<Cmd>> {
    let mut required = Vec::new();
    let mut rest = commands;
    while let Some((c, tail)) = rest.split_first() {
        if c.name != "require" {
            break;
        }
        if c.block.is_some() || !c.tests.is_empty() {
            return err(c.line, "`require` takes only a string list");
        }
        let s = split(c.line, "require", &c.args, &[], &[])?;
        if s.positional.len() != 1 {
            return err(c.line, "`require` takes one string list");
        }
        for ext in strings(c.line, s.positional.first(), "`require`")? {
            if !KNOWN.contains(&ext.as_str()) {
                return err(c.line, format!("unsupported extension {ext:?}"));
            }
            required.push(ext);
        }
        rest = tail;
    }
    Checker { required }.block(rest)
}

#[cfg(test)]
mod tests {
    use super::super::{lex::tokens, parse::parse};
    use super::*;

    fn compiled(s: &str) -> Result<Vec<Cmd>> {
        check(&parse(&tokens(s).unwrap(), 16, 1000).unwrap())
    }

    #[test]
    fn a_full_script() {
        let p = compiled(
            r#"require ["fileinto", "imap4flags", "copy", "vacation", "envelope"];
if header :contains "subject" ["sale", "offer"] { fileinto :flags "\\Seen" "Ads"; stop; }
elsif envelope :domain :is "from" "example.org" { fileinto :copy "Work"; }
else { addflag "$Later"; }
vacation :days 3 :subject "Away" :addresses ["me@example.org"] "Back soon.";
"#,
        )
        .unwrap();
        assert_eq!(p.len(), 2);
        let Cmd::If {
            branches,
            otherwise,
        } = &p[0]
        else {
            panic!("{p:?}")
        };
        assert_eq!(branches.len(), 2);
        assert_eq!(
            branches[0].1[0],
            Cmd::FileInto {
                mailbox: "Ads".into(),
                copy: false,
                flags: Some(vec!["\\Seen".into()])
            }
        );
        assert!(matches!(
            branches[1].0,
            Cond::Address {
                envelope: true,
                part: AddressPart::Domain,
                ..
            }
        ));
        assert_eq!(
            otherwise.as_ref().unwrap()[0],
            Cmd::Flags(FlagOp::Add, vec!["$Later".into()])
        );
        assert!(
            matches!(&p[1], Cmd::Vacation(v) if v.days == 3 && v.addresses == ["me@example.org"])
        );
    }

    #[test]
    fn errors_name_line_and_cause() {
        for (s, line, words) in [
            ("fileinto \"x\";", 1, "require \"fileinto\""),
            ("keep;\nrequire \"fileinto\";", 2, "before every other"),
            ("require \"body\";", 1, "unsupported extension"),
            ("if true { keep; }\n\nelse keep;", 3, "needs a block"),
            ("else { }", 1, "must follow"),
            ("if size :over 1 :under 2 { }", 1, "exactly one"),
            (
                "if header :is :contains \"a\" \"b\" { }",
                1,
                "only one match type",
            ),
            ("if header \"a\" { }", 1, "takes 2 arguments"),
            ("if frobnicate { }", 1, "unknown test"),
            ("frobnicate;", 1, "unknown command"),
            ("keep :copy;", 1, "no `:copy`"),
            ("redirect \"not an address\";", 1, "email address"),
            (
                "if header :comparator \"i;weird\" \"a\" \"b\" { }",
                1,
                "unknown comparator",
            ),
            (
                "require \"imap4flags\"; setflag \"v\" \"\\\\Seen\";",
                1,
                "variables",
            ),
            ("if envelope \"cc\" \"x\" { }", 1, "require \"envelope\""),
            ("keep;\nif not true false { }", 2, "wrong number"),
        ] {
            let e = compiled(s).unwrap_err();
            assert_eq!(e.line, line, "{s}: {e}");
            assert!(e.message.contains(words), "{s}: {e}");
        }
    }
}

//! Command syntax imap-codec 2.0.0-alpha.10 does not parse: LIST with selection and return
//! options (RFC 5258 LIST-EXTENDED, RFC 5819 LIST-STATUS, RFC 6154 SPECIAL-USE), SEARCH with
//! RETURN options (RFC 4731 ESEARCH, RFC 9051 §6.4.4) and CREATE with a USE parameter (RFC 6154
//! §3 CREATE-SPECIAL-USE).
//!
//! LIST and LSUB are parsed here in all their forms, so the driver sees one [`ListCommand`].
//! SEARCH with RETURN and CREATE with parameters are rewritten without the extra clause and
//! handed back to imap-codec, so search keys and mailbox names keep a single grammar. The reader
//! is bounded by the command it is given (already size-limited by the session) and never panics
//! on malformed input.

use imap_codec::imap_types::status::StatusDataItemName;

/// LIST selection options (RFC 5258 §3.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListSelect {
    /// SUBSCRIBED
    pub subscribed: bool,
    /// RECURSIVEMATCH
    pub recursive_match: bool,
    /// SPECIAL-USE (RFC 6154 §5)
    pub special_use: bool,
    /// REMOTE (accepted; there are no remote mailboxes)
    pub remote: bool,
}

/// LIST return options (RFC 5258 §3.2, RFC 5819, RFC 6154).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListReturn {
    /// SUBSCRIBED
    pub subscribed: bool,
    /// CHILDREN
    pub children: bool,
    /// SPECIAL-USE
    pub special_use: bool,
    /// STATUS (items)
    pub status: Option<Vec<StatusDataItemName>>,
}

/// A LIST or LSUB command in any of its forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCommand {
    /// LSUB rather than LIST.
    pub lsub: bool,
    /// Whether the extended syntax was used (responses then follow RFC 5258 rules).
    pub extended: bool,
    /// Selection options.
    pub select: ListSelect,
    /// Reference name (wire bytes).
    pub reference: Vec<u8>,
    /// Mailbox patterns (wire bytes).
    pub patterns: Vec<Vec<u8>>,
    /// Return options.
    pub ret: ListReturn,
}

/// ESEARCH return options (RFC 4731 §3.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchReturn {
    /// MIN
    pub min: bool,
    /// MAX
    pub max: bool,
    /// ALL
    pub all: bool,
    /// COUNT
    pub count: bool,
}

impl SearchReturn {
    /// `RETURN ()` means ALL (RFC 4731 §3.1).
    pub fn normalised(mut self) -> SearchReturn {
        if !(self.min || self.max || self.all || self.count) {
            self.all = true;
        }
        self
    }
}

struct Tokens<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Tokens<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }
    fn sp(&mut self) -> Option<()> {
        self.eat(b' ')
    }
    fn at_end(&self) -> bool {
        &self.b[self.i..] == b"\r\n"
    }
    fn word(&mut self, extra: &[u8]) -> Option<&'a [u8]> {
        let start = self.i;
        while let Some(c) = self.peek() {
            let atom = c > 0x20 && c < 0x7f && !b"(){%*\"\\]".contains(&c);
            if atom || extra.contains(&c) {
                self.i += 1;
            } else {
                break;
            }
        }
        (self.i > start).then(|| &self.b[start..self.i])
    }
    fn quoted(&mut self) -> Option<Vec<u8>> {
        self.eat(b'"')?;
        let mut out = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(out);
                }
                b'\\' => {
                    self.i += 1;
                    let c = self.peek()?;
                    if c != b'"' && c != b'\\' {
                        return None;
                    }
                    out.push(c);
                    self.i += 1;
                }
                b'\r' | b'\n' => return None,
                c => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }
    fn literal(&mut self) -> Option<Vec<u8>> {
        self.eat(b'{')?;
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        let n: usize = std::str::from_utf8(&self.b[start..self.i])
            .ok()?
            .parse()
            .ok()?;
        let _ = self.eat(b'+');
        self.eat(b'}')?;
        self.eat(b'\r')?;
        self.eat(b'\n')?;
        let data = self.b.get(self.i..self.i.checked_add(n)?)?.to_vec();
        self.i += n;
        Some(data)
    }
    /// astring, or with `wild` a list-mailbox (which also allows `%`, `*` and `]`).
    fn string_like(&mut self, wild: bool) -> Option<Vec<u8>> {
        match self.peek()? {
            b'"' => self.quoted(),
            b'{' => self.literal(),
            _ => self
                .word(if wild { b"%*]" } else { b"]" })
                .map(<[u8]>::to_vec),
        }
    }
    /// `( word SP word ... )`, each item parsed by `f`.
    fn list<T>(&mut self, mut f: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        self.eat(b'(')?;
        let mut items = Vec::new();
        if self.eat(b')').is_some() {
            return Some(items);
        }
        loop {
            items.push(f(self)?);
            if self.eat(b')').is_some() {
                return Some(items);
            }
            self.sp()?;
        }
    }
}

fn upper(w: &[u8]) -> String {
    String::from_utf8_lossy(w).to_ascii_uppercase()
}

fn status_item(w: &[u8]) -> Option<StatusDataItemName> {
    Some(match upper(w).as_str() {
        "MESSAGES" => StatusDataItemName::Messages,
        "RECENT" => StatusDataItemName::Recent,
        "UIDNEXT" => StatusDataItemName::UidNext,
        "UIDVALIDITY" => StatusDataItemName::UidValidity,
        "UNSEEN" => StatusDataItemName::Unseen,
        "DELETED" => StatusDataItemName::Deleted,
        "SIZE" => StatusDataItemName::Size,
        "HIGHESTMODSEQ" => StatusDataItemName::HighestModSeq,
        _ => return None,
    })
}

/// Splits `tag SP name SP rest` of a complete command; returns (tag, upper-case name, rest).
fn head(command: &[u8]) -> Option<(&[u8], String, Tokens<'_>)> {
    let mut t = Tokens { b: command, i: 0 };
    let tag = t.word(b"")?;
    t.sp()?;
    let mut name = upper(t.word(b"")?);
    if name == "UID" {
        t.sp()?;
        name = format!("UID {}", upper(t.word(b"")?));
    }
    Some((tag, name, t))
}

/// Whether `command` (one complete command, CRLF included) is LIST or LSUB.
pub fn is_list(command: &[u8]) -> bool {
    matches!(head(command), Some((_, name, _)) if name == "LIST" || name == "LSUB")
}

/// Parses LIST/LSUB in basic or extended form; `None` is a syntax error.
pub fn parse_list(command: &[u8]) -> Option<ListCommand> {
    let (_, name, mut t) = head(command)?;
    let lsub = name == "LSUB";
    t.sp()?;
    let mut cmd = ListCommand {
        lsub,
        extended: false,
        select: ListSelect::default(),
        reference: Vec::new(),
        patterns: Vec::new(),
        ret: ListReturn::default(),
    };
    if !lsub && t.peek()? == b'(' {
        cmd.extended = true;
        let opts = t.list(|t| t.word(b"").map(upper))?;
        for o in opts {
            match o.as_str() {
                "SUBSCRIBED" => cmd.select.subscribed = true,
                "RECURSIVEMATCH" => cmd.select.recursive_match = true,
                "SPECIAL-USE" => cmd.select.special_use = true,
                "REMOTE" => cmd.select.remote = true,
                _ => return None,
            }
        }
        // RFC 5258 §3.1: RECURSIVEMATCH needs another selection option.
        if cmd.select.recursive_match && !(cmd.select.subscribed || cmd.select.special_use) {
            return None;
        }
        t.sp()?;
    }
    cmd.reference = t.string_like(false)?;
    t.sp()?;
    if !lsub && t.peek()? == b'(' {
        cmd.extended = true;
        cmd.patterns = t.list(|t| t.string_like(true))?;
        if cmd.patterns.is_empty() {
            return None;
        }
    } else {
        cmd.patterns.push(t.string_like(true)?);
    }
    if !lsub && !t.at_end() {
        t.sp()?;
        if upper(t.word(b"")?) != "RETURN" {
            return None;
        }
        t.sp()?;
        cmd.extended = true;
        t.eat(b'(')?;
        if t.eat(b')').is_none() {
            loop {
                match upper(t.word(b"")?).as_str() {
                    "SUBSCRIBED" => cmd.ret.subscribed = true,
                    "CHILDREN" => cmd.ret.children = true,
                    "SPECIAL-USE" => cmd.ret.special_use = true,
                    "STATUS" => {
                        t.sp()?;
                        let items = t.list(|t| t.word(b"").and_then(status_item))?;
                        cmd.ret.status = Some(items);
                    }
                    _ => return None,
                }
                if t.eat(b')').is_some() {
                    break;
                }
                t.sp()?;
            }
        }
    }
    t.at_end().then_some(cmd)
}

/// If `command` is `[UID] SEARCH RETURN (...) ...`, returns the options and the command
/// rewritten without the RETURN clause. `Some(Err(()))` is a malformed RETURN clause.
pub fn split_search_return(command: &[u8]) -> Option<Result<(SearchReturn, Vec<u8>), ()>> {
    let (tag, name, mut t) = head(command)?;
    if name != "SEARCH" && name != "UID SEARCH" {
        return None;
    }
    let after_name = t.i;
    t.sp()?;
    let word = t.word(b"")?;
    if upper(word) != "RETURN" {
        return None;
    }
    let parsed = (|| {
        t.sp()?;
        let opts = t.list(|t| t.word(b"").map(upper))?;
        let mut ret = SearchReturn::default();
        for o in opts {
            match o.as_str() {
                "MIN" => ret.min = true,
                "MAX" => ret.max = true,
                "ALL" => ret.all = true,
                "COUNT" => ret.count = true,
                _ => return None,
            }
        }
        Some(ret)
    })();
    let Some(ret) = parsed else {
        return Some(Err(()));
    };
    let mut rewritten = Vec::with_capacity(command.len());
    rewritten.extend_from_slice(tag);
    rewritten.push(b' ');
    rewritten.extend_from_slice(name.as_bytes());
    let _ = after_name;
    rewritten.extend_from_slice(&command[t.i..]);
    Some(Ok((ret.normalised(), rewritten)))
}

/// The USE attributes of a CREATE and the command without them.
pub type CreateParams = (Vec<String>, Vec<u8>);

/// If `command` is `CREATE mailbox (USE (...))` (RFC 6154 §6 `create-param`, RFC 4466 §2.2
/// `create-params`), returns the USE attributes (`\\Archive`, ...; possibly none) and the command
/// rewritten without its parameters. `Some(Err(()))` is a malformed or unknown parameter.
pub fn split_create_params(command: &[u8]) -> Option<Result<CreateParams, ()>> {
    let (_, name, mut t) = head(command)?;
    if name != "CREATE" {
        return None;
    }
    t.sp()?;
    t.string_like(false)?;
    let end_of_mailbox = t.i;
    if t.at_end() || t.peek() != Some(b' ') {
        return None;
    }
    let parsed = (|| {
        t.sp()?;
        let params = t.list(|t| {
            if upper(t.word(b"")?) != "USE" {
                return None;
            }
            t.sp()?;
            // RFC 6154 §6: use-attr is "\" atom (flag-extension for the unknown ones).
            t.list(|t| {
                t.eat(b'\\')?;
                Some(format!("\\{}", String::from_utf8_lossy(t.word(b"")?)))
            })
        })?;
        t.at_end().then(|| params.concat())
    })();
    let Some(uses) = parsed else {
        return Some(Err(()));
    };
    let mut rewritten = command[..end_of_mailbox].to_vec();
    rewritten.extend_from_slice(b"\r\n");
    Some(Ok((uses, rewritten)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_basic_and_extended_list() {
        let c = parse_list(b"a1 LIST \"\" *\r\n").unwrap();
        assert!(!c.extended && !c.lsub);
        assert_eq!(
            (c.reference.as_slice(), c.patterns),
            (&b""[..], vec![b"*".to_vec()])
        );
        let c = parse_list(b"a1 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (INBOX \"Sent Items\" %/x) RETURN (CHILDREN STATUS (MESSAGES UNSEEN SIZE))\r\n").unwrap();
        assert!(c.extended && c.select.subscribed && c.select.recursive_match);
        assert_eq!(
            c.patterns,
            vec![b"INBOX".to_vec(), b"Sent Items".to_vec(), b"%/x".to_vec()]
        );
        assert!(c.ret.children);
        assert_eq!(c.ret.status.unwrap().len(), 3);
        let c = parse_list(b"a1 LSUB \"\" {3}\r\nfoo\r\n").unwrap();
        assert!(c.lsub);
        assert_eq!(c.patterns, vec![b"foo".to_vec()]);
        for bad in [
            &b"a1 LIST (RECURSIVEMATCH) \"\" *\r\n"[..],
            b"a1 LIST \"\" () \r\n",
            b"a1 LIST (FOO) \"\" *\r\n",
            b"a1 LIST \"\" * RETURN (BOGUS)\r\n",
            b"a1 LIST \"\"\r\n",
            b"a1 LIST \"\" {9}\r\nab\r\n",
        ] {
            assert_eq!(parse_list(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn strips_search_return() {
        let (ret, rest) = split_search_return(b"a1 UID SEARCH RETURN (MIN COUNT) UNSEEN\r\n")
            .unwrap()
            .unwrap();
        assert!(ret.min && ret.count && !ret.all);
        assert_eq!(rest, b"a1 UID SEARCH UNSEEN\r\n");
        let (ret, _) = split_search_return(b"a1 SEARCH RETURN () ALL\r\n")
            .unwrap()
            .unwrap();
        assert!(ret.all);
        assert!(split_search_return(b"a1 SEARCH ALL\r\n").is_none());
        assert_eq!(
            split_search_return(b"a1 SEARCH RETURN (SAVE) ALL\r\n"),
            Some(Err(()))
        );
    }

    #[test]
    fn strips_create_use() {
        let (uses, rest) = split_create_params(b"a1 CREATE \"My Archive\" (USE (\\Archive))\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(
            (uses, rest),
            (
                vec!["\\Archive".to_string()],
                b"a1 CREATE \"My Archive\"\r\n".to_vec()
            )
        );
        let (uses, rest) = split_create_params(b"a1 create {3}\r\nx y (use ())\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(
            (uses.len(), rest),
            (0, b"a1 create {3}\r\nx y\r\n".to_vec())
        );
        assert!(split_create_params(b"a1 CREATE foo\r\n").is_none());
        assert!(split_create_params(b"a1 LIST foo\r\n").is_none());
        for bad in [
            &b"a1 CREATE foo (USE)\r\n"[..],
            b"a1 CREATE foo (FOO (\\Archive))\r\n",
            b"a1 CREATE foo (USE (Archive))\r\n",
            b"a1 CREATE foo (USE (\\Sent)) x\r\n",
        ] {
            assert_eq!(
                split_create_params(bad),
                Some(Err(())),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}

//! Forward-path checks the grammar crate cannot make (RFC 5321 §4.1.2, App. C).
//!
//! smtp-proto parses `RCPT TO:<...>` but silently strips source routes, unquotes quoted local
//! parts and maps `<postmaster>` to an empty address. Relay policy needs the raw form, so this
//! module looks at the text between `<` and `>` itself and classifies it before the parsed
//! address is used. Refused outright: source routes (`<@a,@b:u@d>`), quoted local parts, the
//! percent hack (`u%other@local`) and bang paths (`other!u@local`).

/// What a raw forward path is.
#[derive(Debug, PartialEq, Eq)]
pub enum PathKind<'a> {
    /// `<postmaster>` without a domain (RFC 5321 §4.1.1.3), any case.
    Postmaster,
    /// A plain `local@domain` (domain lower-cased, local part as given).
    Mailbox {
        /// Local part.
        local: &'a str,
        /// Domain, as given.
        domain: &'a str,
    },
    /// A source route.
    SourceRoute,
    /// A quoted local part.
    Quoted,
    /// `%` or `!` in the local part: relay syntax.
    RelayHack,
    /// Anything else that is not an address.
    Invalid,
}

/// The text between the first `<` and the last `>` of a MAIL/RCPT line.
pub fn raw_path(line: &str) -> Option<&str> {
    let start = line.find('<')?;
    let end = line.rfind('>')?;
    (end > start).then(|| &line[start + 1..end])
}

/// Classifies a raw forward path.
pub fn classify(path: &str) -> PathKind<'_> {
    if path.starts_with('@') {
        return PathKind::SourceRoute;
    }
    if path.contains('"') {
        return PathKind::Quoted;
    }
    if path.eq_ignore_ascii_case("postmaster") {
        return PathKind::Postmaster;
    }
    let Some((local, domain)) = path.rsplit_once('@') else {
        return PathKind::Invalid;
    };
    if local.contains(['%', '!', '@']) {
        return PathKind::RelayHack;
    }
    if local.is_empty() || domain.is_empty() || path.contains(['<', '>', ' ', '\\']) {
        return PathKind::Invalid;
    }
    PathKind::Mailbox { local, domain }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_relay_syntax() {
        assert_eq!(
            raw_path("RCPT TO:<a@b.test> NOTIFY=NEVER"),
            Some("a@b.test")
        );
        assert_eq!(
            classify("a@b.test"),
            PathKind::Mailbox {
                local: "a",
                domain: "b.test"
            }
        );
        assert_eq!(classify("PostMaster"), PathKind::Postmaster);
        assert_eq!(classify("@relay.test:u@b.test"), PathKind::SourceRoute);
        assert_eq!(classify("@a,@b:u@b.test"), PathKind::SourceRoute);
        assert_eq!(classify("\"u@evil\"@b.test"), PathKind::Quoted);
        assert_eq!(classify("u%evil.test@b.test"), PathKind::RelayHack);
        assert_eq!(classify("evil.test!u@b.test"), PathKind::RelayHack);
        assert_eq!(classify("u@evil@b.test"), PathKind::RelayHack);
        assert_eq!(classify("nobody"), PathKind::Invalid);
    }
}

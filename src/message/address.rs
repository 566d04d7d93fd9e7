//! Mailbox address syntax (RFC 5321 §4.1.2 `Mailbox`, RFC 5322 §3.4.1 `addr-spec`) for the
//! addresses mailnook owns: user logins, aliases, the admin address.
//!
//! Only the dot-atom form is accepted for local parts; quoted local parts, `%` and `!` are refused
//! because they are relay syntax (percent hack, bang paths), never a local user. Addresses are
//! compared case-insensitively: [`normalize`] lower-cases them.

/// RFC 5322 §3.2.3 `atext`, less the relay characters `%` and `!`.
fn is_local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"#$&'*+-/=?^_`{|}~".contains(&b)
}

/// True for a dot-atom local part of at most 64 octets (RFC 5321 §4.5.3.1.1) without relay
/// characters.
pub fn is_local_part(local: &str) -> bool {
    !local.is_empty()
        && local.len() <= 64
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.bytes().all(is_local_char))
}

/// Splits and checks `local@domain`; returns the normalised (lower-case) address.
pub fn normalize(addr: &str) -> Option<String> {
    let addr = addr.trim();
    let (local, domain) = addr.rsplit_once('@')?;
    if !is_local_part(local)
        || !crate::config::is_hostname(domain)
        || !domain.contains('.') && domain != "localhost"
    {
        return None;
    }
    Some(addr.to_ascii_lowercase())
}

/// The local part of a normalised address.
pub fn local_part(addr: &str) -> &str {
    addr.rsplit_once('@').map(|(l, _)| l).unwrap_or(addr)
}

/// The domain of a normalised address.
pub fn domain(addr: &str) -> &str {
    addr.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_and_refuses_relay_syntax() {
        assert_eq!(
            normalize(" Alice.B+tag@Example.TEST ").as_deref(),
            Some("alice.b+tag@example.test")
        );
        for bad in [
            "a%b@example.test",
            "a!b@example.test",
            "\"a\"@example.test",
            "a..b@example.test",
            ".a@example.test",
            "a@",
            "@example.test",
            "a@-x.test",
            "a@b@c.test",
            "a@nodot",
        ] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
        assert_eq!(domain("a@b.test"), "b.test");
    }
}

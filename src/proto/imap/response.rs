//! Building IMAP responses (RFC 9051 §7): the wire syntax of strings, lists and status lines.
//!
//! Responses are written straight into the session's output buffer. Strings are sent quoted when
//! they are short printable text and as literals otherwise, so no client-supplied byte can end a
//! line early or break a quoted string.

/// Appends an IMAP `string`: quoted if it is short printable ASCII, else a literal (8-bit text
/// in quoted strings is only allowed once a client enabled UTF-8; a literal is always allowed).
pub fn string(out: &mut Vec<u8>, s: &[u8]) {
    let quotable = s.len() <= 1024 && s.iter().all(|&b| (0x20..0x7f).contains(&b));
    if quotable {
        quoted(out, s);
    } else {
        literal(out, s);
    }
}

/// Appends `s` in double quotes, `"` and `\` escaped (RFC 9051 §4.3; ManageSieve's quoted
/// strings, RFC 5804 §4, are the same). The caller checks `s` holds no CR, LF or NUL.
pub fn quoted(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// Appends a literal (`{n}` CRLF bytes).
pub fn literal(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
    out.extend_from_slice(s);
}

/// Appends `NIL` or a string.
pub fn nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// Appends an `astring`: an atom when it is one, else a string.
pub fn astring(out: &mut Vec<u8>, s: &[u8]) {
    let atom = !s.is_empty()
        && s.iter()
            .all(|&b| b > 0x20 && b < 0x7f && !b"(){%*\"\\]".contains(&b));
    if atom {
        out.extend_from_slice(s);
    } else {
        string(out, s);
    }
}

/// The status of a tagged or untagged status response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// OK
    Ok,
    /// NO
    No,
    /// BAD
    Bad,
    /// BYE (untagged only)
    Bye,
    /// PREAUTH (greeting only)
    Preauth,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
            Status::Bye => "BYE",
            Status::Preauth => "PREAUTH",
        }
    }
}

/// Appends `tag STATUS [code] text` (tag `*` for untagged).
pub fn status(out: &mut Vec<u8>, tag: &str, status: Status, code: Option<&str>, text: &str) {
    out.extend_from_slice(tag.as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.word().as_bytes());
    out.push(b' ');
    if let Some(code) = code {
        out.push(b'[');
        out.extend_from_slice(code.as_bytes());
        out.extend_from_slice(b"] ");
    }
    // Text is ours; still, never let it break the line.
    out.extend(text.bytes().filter(|&b| b != b'\r' && b != b'\n'));
    out.extend_from_slice(b"\r\n");
}

/// The quota root every user has (RFC 9208 §3.2): one, with the empty name.
pub const QUOTA_ROOT: &[u8] = b"";

/// Appends `* QUOTAROOT mailbox root...` (RFC 9208 §5.2); `mailbox` in wire form. With no roots
/// the mailbox has no quota (§4.3.2).
pub fn quota_root(out: &mut Vec<u8>, mailbox: &[u8], roots: &[&[u8]]) {
    out.extend_from_slice(b"* QUOTAROOT ");
    astring(out, mailbox);
    for r in roots {
        out.push(b' ');
        string(out, r);
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `* QUOTA root (STORAGE usage limit)` (RFC 9208 §5.1) for `used` and `limit` bytes.
/// STORAGE counts units of 1024 octets (§5.1): usage is rounded up and the limit down, so a
/// client never reads more room than there is.
pub fn quota_storage(out: &mut Vec<u8>, root: &[u8], used: u64, limit: u64) {
    out.extend_from_slice(b"* QUOTA ");
    string(out, root);
    out.extend_from_slice(
        format!(" (STORAGE {} {})\r\n", used.div_ceil(1024), limit / 1024).as_bytes(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut v = Vec::new();
        f(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn quotes_or_literals() {
        assert_eq!(s(|o| string(o, b"hello")), "\"hello\"");
        assert_eq!(s(|o| string(o, b"a\"b\\c")), "\"a\\\"b\\\\c\"");
        assert_eq!(s(|o| string(o, b"a\r\nb")), "{4}\r\na\r\nb");
        assert_eq!(s(|o| string(o, "Grüße".as_bytes())), "{7}\r\nGrüße");
        assert_eq!(s(|o| astring(o, b"INBOX")), "INBOX");
        assert_eq!(s(|o| astring(o, b"My Box")), "\"My Box\"");
        assert_eq!(s(|o| nstring(o, None)), "NIL");
        assert_eq!(
            s(|o| quota_root(o, b"INBOX", &[QUOTA_ROOT])),
            "* QUOTAROOT INBOX \"\"\r\n"
        );
        assert_eq!(
            s(|o| quota_root(o, b"My Box", &[])),
            "* QUOTAROOT \"My Box\"\r\n"
        );
        assert_eq!(
            s(|o| quota_storage(o, QUOTA_ROOT, 1025, 500 << 20)),
            "* QUOTA \"\" (STORAGE 2 512000)\r\n"
        );
        assert_eq!(
            s(|o| status(o, "a1", Status::No, Some("TRYCREATE"), "No such\r\nmailbox")),
            "a1 NO [TRYCREATE] No suchmailbox\r\n"
        );
    }
}

//! The `Authentication-Results:` header field (RFC 8601) added to inbound mail: building ours
//! (§2.2) and removing forged ones that claim to be ours (§5).
//!
//! [`AuthResults`] collects one result per method check (SPF, each DKIM signature, DMARC) and
//! renders the field for our authserv-id (the host name). [`strip_forged`] runs on the received
//! header section before ours is added: a field naming our authserv-id cannot have come from
//! us, since we add ours only after stripping, so it is removed (§5: "MUST remove").
//!
//! Invariants:
//! - Nothing from the peer or DNS can break the field: every value is written as an RFC 2045
//!   token, as `local-part@domain` when it has that form (§2.2 `pvalue`), or as a quoted-string
//!   with `\` and `"` escaped; control characters (CR and LF included) are dropped and values
//!   are truncated (320 bytes, 200 for `reason`), so no line exceeds 998 octets.
//! - Lines are folded at 78 characters between a result's items; one result starts each line.
//!   An item longer than a line (a long quoted address) stays whole on its own line.
//! - `strip_forged` removes whole fields only: its output is its input with some complete
//!   `Authentication-Results` fields (name, folded lines, line ends) left out, every other byte
//!   kept in order, including line-end style and anything after the empty line.
//! - A field whose authserv-id cannot be read (unbalanced comment, unterminated quote) is kept:
//!   a mail reader would not read our id in it either.

use crate::dkim::arc::{ArcOutcome, ArcResult};
use crate::dmarc::{DmarcOutcome, DmarcResult};

const FIELD: &str = "Authentication-Results";
/// Longest value written (bytes, before quoting).
const MAX_VALUE: usize = 320;
const MAX_REASON: usize = 200;
const WIDTH: usize = 78;

/// A method's result keyword (RFC 8601 §2.7; RFC 7208 §2.6 for SPF, RFC 6376 for DKIM,
/// RFC 7489 §11.2 for DMARC). Not every method uses every value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthResult {
    /// `none`: nothing to check (no SPF record, no signature, no DMARC policy).
    None,
    /// `pass`.
    Pass,
    /// `fail`.
    Fail,
    /// `softfail` (SPF `~all`).
    SoftFail,
    /// `neutral`.
    Neutral,
    /// `policy`: a DKIM signature valid but unacceptable by local policy.
    Policy,
    /// `temperror`.
    TempError,
    /// `permerror`.
    PermError,
}

impl AuthResult {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthResult::None => "none",
            AuthResult::Pass => "pass",
            AuthResult::Fail => "fail",
            AuthResult::SoftFail => "softfail",
            AuthResult::Neutral => "neutral",
            AuthResult::Policy => "policy",
            AuthResult::TempError => "temperror",
            AuthResult::PermError => "permerror",
        }
    }
}

impl From<DmarcResult> for AuthResult {
    fn from(r: DmarcResult) -> AuthResult {
        match r {
            DmarcResult::Pass => AuthResult::Pass,
            DmarcResult::Fail => AuthResult::Fail,
            DmarcResult::None => AuthResult::None,
            DmarcResult::TempError => AuthResult::TempError,
            DmarcResult::PermError => AuthResult::PermError,
        }
    }
}

/// One `resinfo`: `method=result [reason=...] ptype.property=value ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ResInfo {
    method: &'static str,
    result: AuthResult,
    reason: Option<String>,
    props: Vec<(&'static str, String)>,
}

/// The results to report in our `Authentication-Results:` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResults {
    authserv_id: String,
    results: Vec<ResInfo>,
}

impl AuthResults {
    /// No results yet, for the authserv-id `authserv_id` (our host name).
    pub fn new(authserv_id: &str) -> AuthResults {
        AuthResults {
            authserv_id: authserv_id.to_string(),
            results: Vec::new(),
        }
    }

    /// An SPF result (RFC 7208 §9.1): `mailfrom` is the MAIL FROM identity checked (address
    /// or domain), `helo` the HELO identity when that was checked.
    pub fn spf(
        &mut self,
        result: AuthResult,
        mailfrom: Option<&str>,
        helo: Option<&str>,
    ) -> &mut AuthResults {
        let mut props = Vec::new();
        if let Some(m) = mailfrom {
            props.push(("smtp.mailfrom", m.to_string()));
        }
        if let Some(h) = helo {
            props.push(("smtp.helo", h.to_string()));
        }
        self.push("spf", result, None, props)
    }

    /// A DKIM result for one signature: its `d=`, `s=` and `b=` (RFC 6008: the first 8
    /// characters of `b=`, whitespace removed, tell signatures of one domain apart).
    pub fn dkim(&mut self, result: AuthResult, d: &str, s: &str, b: &str) -> &mut AuthResults {
        let b: String = b.chars().filter(|c| !c.is_whitespace()).take(8).collect();
        let mut props = vec![("header.d", d.to_string()), ("header.s", s.to_string())];
        if !b.is_empty() {
            props.push(("header.b", b));
        }
        self.push("dkim", result, None, props)
    }

    /// The DMARC result: `header.from` the From domain, `policy.dmarc` the disposition applied
    /// (only on `fail`), `reason` the explanation for anything but pass and none.
    pub fn dmarc(&mut self, outcome: &DmarcOutcome) -> &mut AuthResults {
        let mut props = vec![("header.from", outcome.from_domain.clone())];
        if outcome.result == DmarcResult::Fail {
            props.push(("policy.dmarc", outcome.policy.as_str().to_string()));
        }
        let reason = match outcome.result {
            DmarcResult::Pass | DmarcResult::None => None,
            _ => Some(outcome.reason.clone()).filter(|r| !r.is_empty()),
        };
        self.push("dmarc", outcome.result.into(), reason, props)
    }

    /// The ARC chain's status (RFC 8617 §7.2), with the reason when it failed.
    pub fn arc(&mut self, outcome: &ArcOutcome) -> &mut AuthResults {
        let (result, reason) = match &outcome.result {
            ArcResult::None => (AuthResult::None, None),
            ArcResult::Pass => (AuthResult::Pass, None),
            ArcResult::Fail(why) => (AuthResult::Fail, Some(why.clone())),
        };
        self.push("arc", result, reason, Vec::new())
    }

    /// The client's reverse DNS check (RFC 8601 §2.7.3 `iprev`): `policy.iprev` is its address.
    pub fn iprev(&mut self, result: AuthResult, ip: &str) -> &mut AuthResults {
        self.push(
            "iprev",
            result,
            None,
            vec![("policy.iprev", ip.to_string())],
        )
    }

    fn push(
        &mut self,
        method: &'static str,
        result: AuthResult,
        reason: Option<String>,
        props: Vec<(&'static str, String)>,
    ) -> &mut AuthResults {
        self.results.push(ResInfo {
            method,
            result,
            reason,
            props,
        });
        self
    }

    /// The folded header field, ending in CRLF (`...; none` when there are no results).
    pub fn to_header(&self) -> String {
        let mut out = format!("{FIELD}: {}", value(&self.authserv_id, MAX_VALUE, false));
        if self.results.is_empty() {
            fold_item(&mut out, "none", ";");
        }
        for r in &self.results {
            out.push_str(";\r\n\t");
            out.push_str(r.method);
            out.push('=');
            out.push_str(r.result.as_str());
            if let Some(reason) = &r.reason {
                fold_item(
                    &mut out,
                    &format!("reason={}", value(reason, MAX_REASON, false)),
                    "",
                );
            }
            for (name, v) in &r.props {
                fold_item(
                    &mut out,
                    &format!("{name}={}", value(v, MAX_VALUE, true)),
                    "",
                );
            }
        }
        out.push_str("\r\n");
        out
    }
}

/// Appends `sep`, then `item` after a space, or after a fold when it would pass [`WIDTH`].
fn fold_item(out: &mut String, item: &str, sep: &str) {
    out.push_str(sep);
    let line = out.rsplit('\n').next().unwrap_or(out);
    if line.chars().count() + 1 + item.chars().count() > WIDTH {
        out.push_str("\r\n\t");
    } else {
        out.push(' ');
    }
    out.push_str(item);
}

/// RFC 2045 token characters.
fn is_token_char(c: char) -> bool {
    c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?=".contains(c)
}

/// RFC 5322 `atext` and `.` (a dot-atom's characters).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c)
}

/// `v` as a header value: without control characters, truncated to `max` bytes, then bare if
/// a token (or `local-part@domain` when `addr`), else quoted.
fn value(v: &str, max: usize, addr: bool) -> String {
    let mut clean = String::with_capacity(v.len().min(max));
    for c in v.chars().filter(|c| !c.is_control()) {
        if clean.len() + c.len_utf8() > max {
            break;
        }
        clean.push(c);
    }
    let token = |s: &str| !s.is_empty() && s.chars().all(is_token_char);
    let bare = token(&clean)
        || (addr
            && clean.split_once('@').is_some_and(|(local, domain)| {
                local.chars().all(is_atext)
                    && !local.starts_with('.')
                    && !local.ends_with('.')
                    && !local.contains("..")
                    && token(domain)
            }));
    if bare {
        return clean;
    }
    let mut q = String::with_capacity(clean.len() + 2);
    q.push('"');
    for c in clean.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// One header field as found: where it starts and ends in the header (line end included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldSpan {
    pub start: usize,
    pub end: usize,
}

/// Splits `header` into fields (a line starting with SP or HTAB continues the field before
/// it), each with its line ends. Returns the fields and where the part not made of fields
/// begins (the empty line, or the end).
pub(crate) fn field_spans(header: &[u8]) -> (Vec<FieldSpan>, usize) {
    let mut fields: Vec<FieldSpan> = Vec::new();
    let mut pos = 0;
    while pos < header.len() {
        let end = memchr::memchr(b'\n', &header[pos..]).map_or(header.len(), |i| pos + i + 1);
        let line = &header[pos..end];
        if line == b"\n" || line == b"\r\n" {
            break;
        }
        match fields.last_mut() {
            Some(f) if matches!(line[0], b' ' | b'\t') && f.end == pos => f.end = end,
            _ => fields.push(FieldSpan { start: pos, end }),
        }
        pos = end;
    }
    (fields, pos)
}

/// The authserv-id of an `Authentication-Results` field (given whole, name included), or
/// `None` when the field is not one or its id cannot be read.
pub fn read_authserv_id(field: &[u8]) -> Option<Vec<u8>> {
    let colon = memchr::memchr(b':', field)?;
    let name = field[..colon].trim_ascii_end();
    if !name.eq_ignore_ascii_case(FIELD.as_bytes()) {
        return None;
    }
    let v = &field[colon + 1..];
    let mut i = skip_cfws(v, 0)?;
    if v.get(i) == Some(&b'"') {
        i += 1;
        let mut id = Vec::new();
        loop {
            match *v.get(i)? {
                b'"' => return Some(id),
                b'\\' => {
                    id.push(*v.get(i + 1)?);
                    i += 2;
                }
                b'\r' | b'\n' => i += 1, // folding inside the quotes
                c => {
                    id.push(c);
                    i += 1;
                }
            }
        }
    }
    let end = v[i..]
        .iter()
        .position(|&c| matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b';' | b'('))
        .map_or(v.len(), |n| i + n);
    (end > i).then(|| v[i..end].to_vec())
}

/// The index after any whitespace, line ends and (nested) comments from `i`; `None` for an
/// unbalanced comment.
fn skip_cfws(v: &[u8], mut i: usize) -> Option<usize> {
    loop {
        match v.get(i) {
            Some(b' ' | b'\t' | b'\r' | b'\n') => i += 1,
            Some(b'(') => {
                let mut depth = 0usize;
                loop {
                    match *v.get(i)? {
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                i += 1;
                                break;
                            }
                        }
                        b'\\' => i += 1,
                        _ => {}
                    }
                    i += 1;
                }
            }
            _ => return Some(i),
        }
    }
}

/// `header` without the `Authentication-Results` fields whose authserv-id is `authserv_id`
/// (ASCII case-insensitive), every other byte kept as it was.
pub fn strip_forged(header: &[u8], authserv_id: &str) -> Vec<u8> {
    let (fields, rest) = field_spans(header);
    let mut out = Vec::with_capacity(header.len());
    let mut copied = 0;
    for f in fields {
        if read_authserv_id(&header[f.start..f.end])
            .is_some_and(|id| id.eq_ignore_ascii_case(authserv_id.as_bytes()))
        {
            out.extend_from_slice(&header[copied..f.start]);
            copied = f.end;
        }
    }
    debug_assert!(copied <= rest);
    out.extend_from_slice(&header[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dmarc::Disposition;

    fn outcome(result: DmarcResult, policy: Disposition, reason: &str) -> DmarcOutcome {
        DmarcOutcome {
            result,
            policy,
            from_domain: "example.com".into(),
            policy_domain: Some("example.com".into()),
            spf_aligned: false,
            dkim_aligned: false,
            reason: reason.into(),
        }
    }

    fn assert_well_formed(h: &str) {
        assert!(h.ends_with("\r\n"));
        for line in h.strip_suffix("\r\n").unwrap().split("\r\n") {
            assert!(!line.contains(['\r', '\n']), "{h:?}");
            assert!(line.len() <= 998);
        }
        assert!(!h.contains("\r\n\r\n"));
    }

    #[test]
    fn renders_each_method() {
        let mut ar = AuthResults::new("mx.example.org");
        ar.spf(AuthResult::Pass, Some("sender@example.com"), None)
            .spf(AuthResult::None, None, Some("client.example.net"))
            .dkim(
                AuthResult::Pass,
                "example.com",
                "sel1",
                "dGhp cyBp\r\n\tcyBhIHNpZ25hdHVyZQ==",
            )
            .dkim(AuthResult::Fail, "example.net", "s", "")
            .dmarc(&outcome(
                DmarcResult::Fail,
                Disposition::Reject,
                "no aligned pass",
            ));
        assert_eq!(
            ar.to_header(),
            "Authentication-Results: mx.example.org;\r\n\
             \tspf=pass smtp.mailfrom=sender@example.com;\r\n\
             \tspf=none smtp.helo=client.example.net;\r\n\
             \tdkim=pass header.d=example.com header.s=sel1 header.b=dGhpcyBp;\r\n\
             \tdkim=fail header.d=example.net header.s=s;\r\n\
             \tdmarc=fail reason=\"no aligned pass\" header.from=example.com\r\n\
             \tpolicy.dmarc=reject\r\n"
        );
        let mut ar = AuthResults::new("mx.example.org");
        ar.dmarc(&outcome(DmarcResult::Pass, Disposition::None, "aligned"));
        assert_eq!(
            ar.to_header(),
            "Authentication-Results: mx.example.org;\r\n\tdmarc=pass header.from=example.com\r\n"
        );
        assert_eq!(
            AuthResults::new("mx.example.org").to_header(),
            "Authentication-Results: mx.example.org; none\r\n"
        );
    }

    #[test]
    fn quotes_values_that_are_not_tokens() {
        assert_eq!(value("example.com", 320, true), "example.com");
        assert_eq!(value("a.b+c@example.com", 320, true), "a.b+c@example.com");
        assert_eq!(value("a@example.com", 320, false), "\"a@example.com\"");
        assert_eq!(
            value("\"odd local\"@x.test", 320, true),
            "\"\\\"odd local\\\"@x.test\""
        );
        assert_eq!(value("a..b@x.test", 320, true), "\"a..b@x.test\"");
        assert_eq!(value("ab/cd+=", 320, true), "\"ab/cd+=\"");
        assert_eq!(value("back\\slash", 320, true), "\"back\\\\slash\"");
        assert_eq!(value("", 320, true), "\"\"");
        assert_eq!(value("bücher.example", 320, true), "\"bücher.example\"");
        assert_eq!(value("x; dkim=pass", 320, true), "\"x; dkim=pass\"");
        // Truncated on a character boundary.
        assert_eq!(value("ééé", 5, true), "\"éé\"");
    }

    #[test]
    fn no_line_injection_from_any_input() {
        let evil = "x\r\nAuthentication-Results: mx.example.org; dkim=pass\r\n\r\nbody\n\0";
        let mut ar = AuthResults::new("mx.example.org\r\nX: y");
        ar.spf(AuthResult::Pass, Some(evil), Some(evil))
            .dkim(AuthResult::Pass, evil, evil, evil);
        let mut o = outcome(DmarcResult::PermError, Disposition::None, evil);
        o.from_domain = evil.into();
        ar.dmarc(&o);
        let h = ar.to_header();
        assert_well_formed(&h);
        // One field: every line but the first is a continuation.
        let (fields, rest) = field_spans(h.as_bytes());
        assert_eq!((fields.len(), rest), (1, h.len()));
        assert!(!h.contains("\r\nAuthentication-Results"));
        assert!(h.contains("\"xAuthentication-Results: mx.example.org; dkim=passbody\""));
    }

    #[test]
    fn folds_at_78_columns() {
        let mut ar = AuthResults::new("mx.example.org");
        let long = format!("{}.example.com", "sub.".repeat(12));
        ar.dkim(AuthResult::Pass, &long, "selector2024", "AAAABBBBCCCC")
            .spf(
                AuthResult::Fail,
                Some(&format!("{}@{long}", "l".repeat(60))),
                None,
            );
        let h = ar.to_header();
        assert_well_formed(&h);
        for line in h.split("\r\n") {
            let long_item = line.trim_start().len() > WIDTH - 1 && !line.trim_start().contains(' ');
            assert!(line.len() <= WIDTH || long_item, "{line:?}");
        }
        assert!(h.contains("\r\n\theader.s=selector2024"), "{h}");
        // Unfolded, it reads as the items separated by single spaces.
        let unfolded = h.replace("\r\n\t", " ");
        assert!(unfolded.contains(&format!("dkim=pass header.d={long} header.s=selector2024")));
        // What we write is recognised as ours.
        assert!(strip_forged(h.as_bytes(), "MX.example.org").is_empty());
        let odd = AuthResults::new("odd id;x").to_header();
        assert!(odd.starts_with("Authentication-Results: \"odd id;x\"; none"));
        assert!(strip_forged(odd.as_bytes(), "odd id;x").is_empty());
    }

    const OURS: &str = "mx.example.org";

    #[test]
    fn strips_forged_fields_in_every_spelling() {
        let header = b"Received: from a\r\n\tby b; now\r\n\
            Authentication-Results: mx.example.org; dkim=pass\r\n\
            authentication-results:MX.EXAMPLE.ORG;spf=pass\r\n\
            AUTHENTICATION-RESULTS : mx.example.org 1; none\r\n\
            Authentication-Results:\r\n mx.example.org;\r\n\tdkim=pass header.d=x\r\n\
            Authentication-Results: (forged (nested \\) c)) mx.example.org (c); dmarc=pass\r\n\
            Authentication-Results: \"mx.example.org\"; dkim=pass\r\n\
            Authentication-Results: \"mx.ex\\ample.org\"; dkim=pass\n\
            Authentication-Results: mx.example.org(c);dkim=pass\r\n\
            Subject: kept\r\n\
            \r\n\
            Authentication-Results: mx.example.org; body is not header\r\n";
        assert_eq!(
            strip_forged(header, OURS),
            b"Received: from a\r\n\tby b; now\r\nSubject: kept\r\n\r\n\
              Authentication-Results: mx.example.org; body is not header\r\n"
        );
    }

    #[test]
    fn keeps_everything_else_byte_for_byte() {
        let header = b"Authentication-Results: other.example.org; dkim=pass\r\n\
            Authentication-Results: mx.example.org.evil; spf=pass\r\n\
            Authentication-Results: sub.mx.example.org; spf=pass\r\n\
            Authentication-Results: (mx.example.org) other.example; spf=pass\r\n\
            Authentication-Results: (unclosed mx.example.org; spf=pass\r\n\
            Authentication-Results: \"mx.example.org; spf=pass\r\n\
            Authentication-Results:\r\n\
            X-Authentication-Results: mx.example.org; spf=pass\r\n\
            ARC-Authentication-Results: i=1; mx.example.org; spf=pass\r\n\
            Authentication-Results-Original: mx.example.org; spf=pass\r\n\
            Subject: x\n \n\
            \tcontinued\r\n\
            no colon line\r\n\
            From: a@b";
        assert_eq!(strip_forged(header, OURS), header.to_vec());
        assert_eq!(strip_forged(b"", OURS), b"");
        // A leading continuation line belongs to no field and stays.
        let odd = b" orphan\r\nAuthentication-Results: mx.example.org; x";
        assert_eq!(strip_forged(odd, OURS), b" orphan\r\n");
    }

    #[test]
    fn reads_authserv_ids() {
        let id = |f: &[u8]| read_authserv_id(f).map(|v| String::from_utf8(v).unwrap());
        assert_eq!(
            id(b"Authentication-Results: a.b; x").as_deref(),
            Some("a.b")
        );
        assert_eq!(id(b"Authentication-Results:a.b").as_deref(), Some("a.b"));
        assert_eq!(
            id(b"Authentication-Results: \"a\\\"b\" ; x").as_deref(),
            Some("a\"b")
        );
        assert_eq!(id(b"Authentication-Results: (c) ;"), None);
        assert_eq!(id(b"Authentication-Results: \"open"), None);
        assert_eq!(id(b"Subject: a.b"), None);
    }
}

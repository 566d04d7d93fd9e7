//! The `DKIM-Signature:` header field (RFC 6376 §3.5) and its signature (§3.7, §5).
//!
//! Policy:
//! - `c=relaxed/relaxed`, SHA-256 only, no `l=`, no `x=`, no `i=` (it defaults to `@d`).
//! - `h=` (§5.4): every present instance of [`SIGNED_FIELDS`] and of `List-*` fields, plus one
//!   extra "oversigned" entry for each name in [`SIGNED_FIELDS`]. An extra entry matches no
//!   instance and so signs the field's absence (§5.4.2, §8.15): nobody can add a second From
//!   (or a Reply-To, Subject, …) above the signed ones without breaking the signature.
//!   List-* fields are not oversigned, so a mailing list may add its own.
//! - Two signatures per message, one per key: **RSA first (topmost), Ed25519 second.** Neither
//!   covers the other (`dkim-signature` is not in `h=`). Verifiers that look only at the first
//!   signature, or that predate RFC 8463, then meet the one they can check; RFC 8463 verifiers
//!   check both. [`sign_message`] returns the fields in the order of the signers it is given and
//!   [`Signer::pair`] gives `[rsa, ed25519]`, with `s=<selector>-rsa` and `s=<selector>-ed25519`.
//! - Folded at ≤ 78 columns (RFC 5322 §2.1.1) with CRLF + one SP, only where FWS is allowed:
//!   between tags, after `:` in `h=`, inside the base64 of `b=`. `bh=` is never folded.
//!
//! Invariant: the bytes signed are exactly what a verifier rebuilds from the emitted field by
//! emptying `b=` (§3.7): the header text is built once, the prefix up to `b=` is canonicalized
//! and signed, and the signature is only appended after it. `d=`/`s=` are checked to be plain
//! DNS names, so nothing from the caller can inject `;`, CR or LF into the field.

use std::io::Read;
use std::sync::Arc;

use crate::base64;

use super::Error;
use super::canon::{self, BodyHasher};
use super::keys::{DkimKey, SelectorKeys};

/// Header fields signed when present, and oversigned once (RFC 6376 §5.4.1 recommendations).
pub const SIGNED_FIELDS: &[&str] = &[
    "from",
    "reply-to",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
];

/// RFC 5322 §2.1.1: lines SHOULD be at most 78 characters, excluding CRLF.
const MAX_COLUMNS: usize = 78;

/// Checks that `value` is a plain DNS name (LDH labels, dots between), as `d=` and `s=` need.
pub(crate) fn check_dns_name(tag: &'static str, value: &str) -> Result<(), Error> {
    let ok = !value.is_empty()
        && value.len() <= 253
        && value.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::BadName {
            tag,
            value: value.chars().take(64).collect(),
        })
    }
}

/// Signs messages for one (domain, selector, key).
#[derive(Debug)]
pub struct Signer {
    domain: String,
    selector: String,
    key: Arc<DkimKey>,
}

impl Signer {
    /// A signer for `d=domain`, `s=selector`. Both must be plain DNS names (A-labels).
    pub fn new(domain: &str, selector: &str, key: impl Into<Arc<DkimKey>>) -> Result<Self, Error> {
        check_dns_name("d", domain)?;
        check_dns_name("s", selector)?;
        Ok(Signer {
            domain: domain.to_ascii_lowercase(),
            selector: selector.to_owned(),
            key: key.into(),
        })
    }

    /// Both signers of one selector, in header order: RSA (topmost) then Ed25519, with
    /// `s=<selector>-rsa` and `s=<selector>-ed25519` ([`SelectorKeys::dns_records`]).
    pub fn pair(domain: &str, selector: &str, keys: &SelectorKeys) -> Result<[Signer; 2], Error> {
        let s = |k: &DkimKey| k.algorithm().dns_selector(selector);
        Ok([
            Signer::new(domain, &s(&keys.rsa), keys.rsa.clone())?,
            Signer::new(domain, &s(&keys.ed25519), keys.ed25519.clone())?,
        ])
    }

    /// The key this signer uses.
    pub fn key(&self) -> &DkimKey {
        &self.key
    }

    /// Builds the `DKIM-Signature:` field (ending in CRLF) for a message whose header section
    /// is `header` (the blank line and body may follow; they are ignored) and whose relaxed
    /// body hash is `body_hash` ([`BodyHasher`]). `timestamp` is the `t=` value (Unix seconds).
    pub fn sign(
        &self,
        header: &[u8],
        body_hash: &[u8; 32],
        timestamp: u64,
    ) -> Result<String, Error> {
        let fields = canon::split_fields(header);
        let names = signed_names(&fields)?;

        // RFC 6376 §5.4.2: for a name listed n times, use its instances from the bottom up;
        // a listing with no instance left contributes nothing (the oversigned entries).
        let mut data = Vec::with_capacity(1024);
        let wanted: Vec<&[u8]> = names.iter().map(|n| n.as_bytes()).collect();
        for f in canon::signed_fields(&fields, &wanted) {
            canon::relaxed_header(f.raw, &mut data);
        }

        let mut h = Folder::new("DKIM-Signature:");
        h.word("v=1;", true);
        h.word(&format!("a={};", self.key.algorithm().tag()), true);
        h.word("c=relaxed/relaxed;", true);
        h.word(&format!("d={};", self.domain), true);
        h.word(&format!("s={};", self.selector), true);
        h.word(&format!("t={timestamp};"), true);
        for (i, name) in names.iter().enumerate() {
            let (lead, sep) = if i == 0 { ("h=", true) } else { ("", false) };
            let end = if i + 1 == names.len() { ";" } else { ":" };
            h.word(&format!("{lead}{name}{end}"), sep);
        }
        h.word(&format!("bh={};", base64::encode(body_hash, true)), true);
        h.word("b=", true);

        // §3.7: the DKIM-Signature field itself, b= empty, canonicalized, without its CRLF.
        let mut own = Vec::with_capacity(h.out.len());
        canon::relaxed_header(h.out.as_bytes(), &mut own);
        own.truncate(own.len() - 2);
        data.extend_from_slice(&own);

        let sig = base64::encode(&self.key.sign(&data)?, true);
        h.base64(&sig);
        h.out.push_str("\r\n");
        Ok(h.out)
    }
}

/// The `h=` list for these fields (see the module doc). Fails without a From field, since
/// From MUST be signed (RFC 6376 §5.4).
fn signed_names(fields: &[canon::RawField<'_>]) -> Result<Vec<String>, Error> {
    let count = |name: &str| {
        fields
            .iter()
            .filter(|f| f.name.eq_ignore_ascii_case(name.as_bytes()))
            .count()
    };
    if count("from") == 0 {
        return Err(Error::NoFrom);
    }
    let mut names = Vec::new();
    for &name in SIGNED_FIELDS {
        for _ in 0..count(name) + 1 {
            names.push(name.to_owned());
        }
    }
    let mut lists: Vec<String> = Vec::new();
    for f in fields {
        let lower = String::from_utf8_lossy(f.name).to_ascii_lowercase();
        if lower.starts_with("list-")
            && lower
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !lists.contains(&lower)
        {
            lists.push(lower);
        }
    }
    for name in lists {
        for _ in 0..count(&name) {
            names.push(name.clone());
        }
    }
    Ok(names)
}

/// Builds a folded header field: words are separated by a space (or not) and a line is broken
/// with CRLF SP before a word that would pass [`MAX_COLUMNS`].
struct Folder {
    out: String,
    col: usize,
}

impl Folder {
    fn new(start: &str) -> Self {
        Folder {
            out: start.to_owned(),
            col: start.len(),
        }
    }

    fn word(&mut self, w: &str, space: bool) {
        let sep = usize::from(space);
        if self.col + sep + w.len() > MAX_COLUMNS {
            self.out.push_str("\r\n ");
            self.col = 1;
        } else if space {
            self.out.push(' ');
            self.col += 1;
        }
        self.out.push_str(w);
        self.col += w.len();
    }

    /// Base64 text, broken wherever the line is full (FWS is allowed inside b=, §3.5).
    fn base64(&mut self, mut s: &str) {
        while !s.is_empty() {
            let room = MAX_COLUMNS.saturating_sub(self.col);
            if room == 0 {
                self.out.push_str("\r\n ");
                self.col = 1;
                continue;
            }
            let (now, rest) = s.split_at(room.min(s.len()));
            self.out.push_str(now);
            self.col += now.len();
            s = rest;
        }
    }
}

/// Reads the body from `body` in pieces, hashes it once, and signs with every signer.
/// Returns the `DKIM-Signature:` fields, each ending in CRLF, concatenated in the order of
/// `signers`, ready to be put in front of the message's header section.
pub fn sign_message(
    signers: &[Signer],
    header: &[u8],
    mut body: impl Read,
    timestamp: u64,
) -> Result<String, Error> {
    let mut hasher = BodyHasher::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(Error::Io {
                    path: "message body".into(),
                    source,
                });
            }
        }
    }
    let bh = hasher.finish();
    let mut out = String::new();
    for s in signers {
        out.push_str(&s.sign(header, &bh, timestamp)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dkim::keys::{KeyAlgorithm, generate_ed25519};

    fn ed_signer() -> Signer {
        let key = DkimKey::from_pkcs8(KeyAlgorithm::Ed25519, &generate_ed25519().unwrap()).unwrap();
        Signer::new("example.org", "sel2026", key).unwrap()
    }

    #[test]
    fn names_are_checked() {
        let key = DkimKey::from_pkcs8(KeyAlgorithm::Ed25519, &generate_ed25519().unwrap()).unwrap();
        for bad in ["", "a;b", "a..b", "-a.org", "a\r\n.org", "a b"] {
            assert!(check_dns_name("d", bad).is_err(), "{bad:?}");
        }
        assert!(Signer::new("example.org; x=1", "s", key).is_err());
        assert!(check_dns_name("d", "mail-1.Example.ORG").is_ok());
    }

    #[test]
    fn h_lists_present_fields_oversigns_and_keeps_lists() {
        let header = b"From: a@example.org\r\nTo: b@x.test\r\nTo: c@x.test\r\nList-Id: <l.x.test>\r\nX-Other: 1\r\nSubject: s\r\n";
        let fields = canon::split_fields(header);
        let names = signed_names(&fields).unwrap();
        let count = |n: &str| names.iter().filter(|x| *x == n).count();
        assert_eq!(count("from"), 2); // one instance + oversigned
        assert_eq!(count("to"), 3);
        assert_eq!(count("subject"), 2);
        assert_eq!(count("reply-to"), 1); // absent, signed as absent
        assert_eq!(count("list-id"), 1);
        assert_eq!(count("x-other"), 0);
        assert!(matches!(
            signed_names(&canon::split_fields(b"To: b@x.test\r\n")),
            Err(Error::NoFrom)
        ));
    }

    #[test]
    fn field_is_folded_and_well_formed() {
        let s = ed_signer();
        let header = b"From: a@example.org\r\nTo: b@x.test\r\nCc: c@x.test\r\nSubject: s\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <1@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n";
        let f = s
            .sign(header, &BodyHasher::new().finish(), 1_700_000_000)
            .unwrap();
        assert!(f.starts_with(
            "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org;"
        ));
        assert!(f.ends_with("\r\n"));
        for line in f.trim_end_matches("\r\n").split("\r\n") {
            assert!(line.len() <= MAX_COLUMNS, "{line:?}");
        }
        for cont in f.trim_end_matches("\r\n").split("\r\n").skip(1) {
            assert!(cont.starts_with(' '));
        }
        let unfolded = f.replace("\r\n", "");
        assert!(unfolded.contains(" t=1700000000;"));
        assert!(unfolded.contains(" bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;"));
        // Ed25519 is deterministic: same input, same field.
        let g = s
            .sign(header, &BodyHasher::new().finish(), 1_700_000_000)
            .unwrap();
        assert_eq!(f, g);
    }

    #[test]
    fn sign_message_reads_stream_in_order() {
        let signers = [ed_signer(), ed_signer()];
        let out =
            sign_message(&signers, b"From: a@example.org\r\n\r\n", &b"hi\r\n"[..], 1).unwrap();
        assert_eq!(out.matches("DKIM-Signature:").count(), 2);
    }
}

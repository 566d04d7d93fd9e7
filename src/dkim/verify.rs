//! DKIM signature verification (RFC 6376 §6, RFC 8463 `ed25519-sha256`, RFC 8301) for inbound
//! mail, streaming over the body.
//!
//! Use: [`DkimVerifier::new`] with the header section (it parses every `DKIM-Signature` field and
//! builds the header data each signature covers), [`DkimVerifier::update`] with the body in
//! pieces (one body hasher per distinct (body canonicalization, `l=`) pair, however many
//! signatures share it), [`DkimVerifier::finish`], then [`verify`] with a [`Resolver`]: it
//! fetches each key (`<s>._domainkey.<d>` TXT, §3.6.2) and checks the signatures with ring.
//!
//! Policy:
//! - At most [`DEFAULT_MAX_SIGNATURES`] signatures (topmost first; [`DkimVerifier::with_limit`]
//!   changes it) are checked. Further ones get [`DkimResult::Policy`] ("not checked") and no DNS
//!   query, at most [`MAX_REPORTED_UNCHECKED`] of them are reported.
//! - Algorithms: `rsa-sha256` (RSA keys of 1024–4096 bits; shorter ones are a permerror,
//!   RFC 8301 §3.2) and `ed25519-sha256` (the raw 32-byte key of RFC 8463 §4). `rsa-sha1` is a
//!   permerror (RFC 8301 §3.1: verifiers must not consider it valid).
//! - `l=` (§3.5): only the first `l` bytes of the canonical body are hashed, as the signer asked;
//!   a canonical body shorter than `l` fails. A signature that passes with `l=` reports how many
//!   canonical body bytes it did not cover in [`SignatureResult::unsigned_body_bytes`]: anything
//!   there may have been appended by anyone (§8.2), so a scorer should not trust such a pass to
//!   vouch for the whole body. The result stays `pass` (RFC 6376 lets verifiers choose).
//! - `x=` in the past: permerror "signature expired" (§3.5, §6.1.1). `t=` in the future is
//!   accepted (clock skew). `x=` before `t=`: permerror.
//! - `h=` must list From (§5.4); `i=` must be in `d=` or a subdomain (§6.1.1), and exactly `d=`
//!   when the key has `t=s` (§3.6.1). The key's `t=y` (testing) is passed on in
//!   [`SignatureResult::testing`]; it does not change the result.
//! - DNS: NXDOMAIN/NODATA → permerror "no key"; timeouts and server failures → temperror. A name
//!   with several TXT records uses the first that parses as a key record. Two signatures naming
//!   the same key share one lookup.
//!
//! Invariants:
//! - No panics on any input; every allocation is bounded by the header section's size or by
//!   the constants below (signature fields of at most [`MAX_SIGNATURE_FIELD`] bytes, at most
//!   [`MAX_H_ENTRIES`] names in `h=`, `b=` of at most 4096-bit signatures, key records of at most
//!   [`MAX_KEY_RECORD`] bytes). The body is never held: only hasher states are kept.
//! - The header data each signature covers is built in [`DkimVerifier::new`] (the header section
//!   is not kept afterwards) and is at most the header section plus the signature field.
//! - Signature checks are CPU-light for public keys (RSA verification with a small exponent,
//!   Ed25519) and run on the executor thread.

use ring::{digest, signature};

use super::arc::{self, PendingChain};
use super::canon::{self, BodyCanon, BodyDigest, CanonBodyHasher};
use crate::base64;
use crate::dns::{self, Resolver};

/// Signatures checked per message unless [`DkimVerifier::with_limit`] says otherwise.
pub const DEFAULT_MAX_SIGNATURES: usize = 5;
/// Unchecked signatures (past the limit) reported with [`DkimResult::Policy`]; more are dropped.
pub const MAX_REPORTED_UNCHECKED: usize = 16;
/// A `DKIM-Signature` field longer than this (raw, with folding) is a permerror.
pub const MAX_SIGNATURE_FIELD: usize = 8192;
/// At most this many names in `h=`.
pub const MAX_H_ENTRIES: usize = 128;
/// Key records (one TXT value) longer than this are not parsed.
pub const MAX_KEY_RECORD: usize = 4096;
/// Largest accepted RSA modulus.
pub const MAX_RSA_BITS: usize = 4096;
/// Smallest accepted RSA modulus (RFC 8301 §3.2).
pub const MIN_RSA_BITS: usize = 1024;
/// Longest reported algorithm, domain, selector or identity text (longer ones are cut).
const MAX_REPORTED: usize = 255;

/// The outcome of one signature (RFC 8601 §2.7.1 keywords, via [`DkimResult::as_str`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DkimResult {
    /// The signature verified.
    Pass,
    /// The signature or the body hash did not verify.
    Fail(String),
    /// The signature was not checked for a reason that says nothing either way.
    Neutral(String),
    /// The key could not be fetched for a reason that may go away (DNS timeout, SERVFAIL).
    TempError(String),
    /// The signature or its key record is unusable: syntax, missing key, revoked key, weak key,
    /// disallowed algorithm, expired.
    PermError(String),
    /// The signature was not accepted by local policy (here: past the signature limit).
    Policy(String),
}

impl DkimResult {
    /// The RFC 8601 result keyword: `pass`, `fail`, `neutral`, `temperror`, `permerror`, `policy`.
    pub fn as_str(&self) -> &'static str {
        match self {
            DkimResult::Pass => "pass",
            DkimResult::Fail(_) => "fail",
            DkimResult::Neutral(_) => "neutral",
            DkimResult::TempError(_) => "temperror",
            DkimResult::PermError(_) => "permerror",
            DkimResult::Policy(_) => "policy",
        }
    }

    /// Why the result is not `pass` (empty for `pass`).
    pub fn reason(&self) -> &str {
        match self {
            DkimResult::Pass => "",
            DkimResult::Fail(r)
            | DkimResult::Neutral(r)
            | DkimResult::TempError(r)
            | DkimResult::PermError(r)
            | DkimResult::Policy(r) => r,
        }
    }
}

/// The result of one `DKIM-Signature` field, in header order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureResult {
    /// `d=`, lowercased (empty when the field could not be parsed that far).
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// `a=` as written (lowercased).
    pub algorithm: String,
    /// The outcome.
    pub result: DkimResult,
    /// The first 8 characters of `b=` (whitespace removed), RFC 8601 `header.b`.
    pub header_b: String,
    /// `i=`, or `@` + `d=` when absent (§3.5).
    pub identity: String,
    /// `l=`, if the signature has one.
    pub body_length: Option<u64>,
    /// Canonical body bytes after the first `l=` bytes, which the signature does not cover
    /// (0 without `l=`). Non-zero means content could have been appended after signing.
    pub unsigned_body_bytes: u64,
    /// The key record has `t=y`: the domain is testing DKIM (§3.6.1).
    pub testing: bool,
}

/// The signature algorithms checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Algorithm {
    RsaSha256,
    Ed25519Sha256,
}

/// One parsed `DKIM-Signature` field (§3.5).
#[derive(Debug, Clone)]
pub(super) struct Signature {
    pub(super) algorithm: Algorithm,
    pub(super) signature: Vec<u8>,
    body_hash: Vec<u8>,
    pub(super) body_canon: BodyCanon,
    pub(super) domain: String,
    pub(super) selector: String,
    /// The i= domain, lowercased (`d=` for an ARC-Message-Signature, whose i= is its instance).
    identity_domain: String,
    pub(super) length: Option<u64>,
    expires: Option<u64>,
}

/// Which kind of signature field [`prepare`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `DKIM-Signature` (RFC 6376 §3.5).
    Dkim,
    /// `ARC-Message-Signature` (RFC 8617 §4.1.2): DKIM's tags without `v=`, `i=` the instance.
    ArcMessage,
}

/// What is known about a signature before its key is fetched.
#[derive(Debug, Clone)]
enum State {
    /// Parsed; `data` is the header hash input (§3.7), `body` the index of its body hasher.
    Ready {
        sig: Box<Signature>,
        data: Vec<u8>,
        body: usize,
    },
    /// Decided already (parse error, or not checked).
    Done(DkimResult),
}

/// A signature whose header data and body hash are computed, waiting for its key.
#[derive(Debug, Clone)]
pub struct PendingSignature {
    report: SignatureResult,
    state: State,
    digest: Option<BodyDigest>,
}

impl PendingSignature {
    /// `d=` (lowercased; empty if the field did not parse that far).
    pub fn domain(&self) -> &str {
        &self.report.domain
    }

    /// `s=`.
    pub fn selector(&self) -> &str {
        &self.report.selector
    }
}

/// Parses the signatures of one message and hashes its body (see the module doc).
#[derive(Debug)]
pub struct DkimVerifier {
    pending: Vec<(SignatureResult, State)>,
    hashers: Vec<(BodyCanon, Option<u64>, CanonBodyHasher)>,
    /// The ARC chain, and the index of the body hasher its newest AMS needs.
    arc: (arc::Parsed, Option<usize>),
}

/// The signatures of one message and its ARC chain, hashed and ready for their keys.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Every `DKIM-Signature`, in header order, for [`verify`].
    pub signatures: Vec<PendingSignature>,
    /// The ARC chain, for [`arc::verify`].
    pub arc: PendingChain,
}

impl DkimVerifier {
    /// Parses every `DKIM-Signature` field of `header` (the header section; an empty line and
    /// anything after it are ignored), checking at most [`DEFAULT_MAX_SIGNATURES`].
    pub fn new(header: &[u8]) -> Self {
        Self::with_limit(header, DEFAULT_MAX_SIGNATURES)
    }

    /// Like [`DkimVerifier::new`], checking at most `max_signatures` signatures (topmost first).
    pub fn with_limit(header: &[u8], max_signatures: usize) -> Self {
        let fields = canon::split_fields(header);
        let mut v = DkimVerifier {
            pending: Vec::new(),
            hashers: Vec::new(),
            arc: (arc::Parsed::Decided(arc::no_chain()), None),
        };
        let mut seen = 0usize;
        for (index, field) in fields.iter().enumerate() {
            if !field.name.eq_ignore_ascii_case(b"dkim-signature") {
                continue;
            }
            seen += 1;
            if seen > max_signatures {
                if seen > max_signatures + MAX_REPORTED_UNCHECKED {
                    break;
                }
                let mut report = empty_report();
                if field.raw.len() <= MAX_SIGNATURE_FIELD
                    && let Ok(tags) = parse_tags(field_value(field.raw))
                {
                    fill_report(&mut report, &tags);
                }
                let reason = format!("not checked: more than {max_signatures} signatures");
                v.pending
                    .push((report, State::Done(DkimResult::Policy(reason))));
                continue;
            }
            let mut report = empty_report();
            let state = match prepare(&fields, index, Kind::Dkim, &mut report) {
                Ok((sig, data)) => {
                    let body = v.hasher_for(sig.body_canon, sig.length);
                    State::Ready {
                        sig: Box::new(sig),
                        data,
                        body,
                    }
                }
                Err(reason) => State::Done(DkimResult::PermError(reason)),
            };
            v.pending.push((report, state));
        }
        let chain = arc::parse(&fields);
        let body = match &chain {
            arc::Parsed::Ready(c) => {
                let (canon, length) = c.body();
                Some(v.hasher_for(canon, length))
            }
            arc::Parsed::Decided(_) => None,
        };
        v.arc = (chain, body);
        v
    }

    fn hasher_for(&mut self, canon: BodyCanon, length: Option<u64>) -> usize {
        if let Some(i) = self
            .hashers
            .iter()
            .position(|(c, l, _)| *c == canon && *l == length)
        {
            return i;
        }
        self.hashers
            .push((canon, length, CanonBodyHasher::new(canon, length)));
        self.hashers.len() - 1
    }

    /// How many signatures will be checked (the others are already decided).
    pub fn signatures_to_check(&self) -> usize {
        self.pending
            .iter()
            .filter(|(_, s)| matches!(s, State::Ready { .. }))
            .count()
    }

    /// Feeds the next piece of the body (any split gives the same result).
    pub fn update(&mut self, body_piece: &[u8]) {
        for (_, _, h) in &mut self.hashers {
            h.update(body_piece);
        }
    }

    /// Ends the body; the signatures and the ARC chain, ready for [`verify`] and
    /// [`arc::verify`].
    pub fn finish(self) -> Pending {
        let digests: Vec<BodyDigest> = self
            .hashers
            .into_iter()
            .map(|(_, _, h)| h.finish())
            .collect();
        let (chain, body) = self.arc;
        let arc = PendingChain {
            parsed: chain,
            digest: body.and_then(|i| digests.get(i).copied()),
        };
        let signatures = self
            .pending
            .into_iter()
            .map(|(report, state)| {
                let digest = match &state {
                    State::Ready { body, .. } => digests.get(*body).copied(),
                    State::Done(_) => None,
                };
                PendingSignature {
                    report,
                    state,
                    digest,
                }
            })
            .collect();
        Pending { signatures, arc }
    }
}

/// Fetches the keys and checks the signatures; `now` (Unix seconds) is for `x=`. The results
/// are in the order of `pending`.
pub async fn verify<R: Resolver + ?Sized>(
    pending: Vec<PendingSignature>,
    r: &R,
    now: u64,
) -> Vec<SignatureResult> {
    let mut keys = KeyCache::default();
    let mut out = Vec::with_capacity(pending.len());
    for p in pending {
        let PendingSignature {
            mut report,
            state,
            digest,
        } = p;
        report.result = match state {
            State::Done(result) => result,
            // §6.1.1: an expired signature is refused without asking DNS.
            State::Ready { sig, .. } if sig.expires.is_some_and(|x| x < now) => {
                DkimResult::PermError("signature expired".into())
            }
            State::Ready { sig, data, .. } => {
                let answer = keys.records(r, &sig.selector, &sig.domain).await;
                check(&sig, &data, digest, answer, &mut report)
            }
        };
        out.push(report);
    }
    out
}

/// Key lookups already made: (name, answer), so that two signatures with one key ask once.
#[derive(Debug, Default)]
pub(super) struct KeyCache(Vec<(String, Result<Vec<String>, dns::Error>)>);

impl KeyCache {
    /// The TXT records at `<selector>._domainkey.<domain>` (§3.6.2.1), asked at most once.
    pub(super) async fn records<R: Resolver + ?Sized>(
        &mut self,
        r: &R,
        selector: &str,
        domain: &str,
    ) -> Result<Vec<String>, dns::Error> {
        let name = format!("{selector}._domainkey.{domain}");
        if let Some((_, a)) = self.0.iter().find(|(n, _)| *n == name) {
            return a.clone();
        }
        let a = r.txt(&name).await;
        self.0.push((name, a.clone()));
        a
    }
}

/// §6.1.2: the first usable key record of a key lookup's answer, or why there is none.
pub(super) fn usable_key(answer: Result<Vec<String>, dns::Error>) -> Result<Key, DkimResult> {
    let records = match answer {
        Ok(r) => r,
        Err(e) if e.is_temporary() => {
            return Err(DkimResult::TempError(format!("key lookup failed: {e}")));
        }
        Err(e) => return Err(DkimResult::PermError(format!("no key for signature ({e})"))),
    };
    let mut first_error = None;
    for rec in records.iter().take(8) {
        match parse_key_record(rec) {
            Ok(k) => return Ok(k),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(DkimResult::PermError(
        first_error.unwrap_or_else(|| "no key for signature".to_owned()),
    ))
}

/// Whether `signature` by `key` (of `algorithm`) is valid over the header hash input `data`.
pub(super) fn signature_ok(algorithm: Algorithm, key: &Key, data: &[u8], signature: &[u8]) -> bool {
    match algorithm {
        Algorithm::RsaSha256 => signature::UnparsedPublicKey::new(
            &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
            &key.public_key,
        )
        .verify(data, signature)
        .is_ok(),
        Algorithm::Ed25519Sha256 => {
            // RFC 8463 §3: Ed25519 over the SHA-256 of the data.
            let hash = digest::digest(&digest::SHA256, data);
            signature::UnparsedPublicKey::new(&signature::ED25519, &key.public_key)
                .verify(hash.as_ref(), signature)
                .is_ok()
        }
    }
}

/// §6.1.2 (key), then §6.1.3 (body hash, then signature).
pub(super) fn check(
    sig: &Signature,
    data: &[u8],
    digest: Option<BodyDigest>,
    answer: Result<Vec<String>, dns::Error>,
    report: &mut SignatureResult,
) -> DkimResult {
    let key = match usable_key(answer) {
        Ok(k) => k,
        Err(result) => return result,
    };
    report.testing = key.testing;
    if key.algorithm != sig.algorithm {
        return DkimResult::PermError("key type does not match a=".into());
    }
    if key.strict_identity && sig.identity_domain != sig.domain {
        return DkimResult::PermError("key has t=s but i= is a subdomain of d=".into());
    }
    let Some(digest) = digest else {
        return DkimResult::PermError("no body hash".into());
    };
    if let Some(l) = sig.length {
        if digest.canonical_len < l {
            return DkimResult::Fail("body shorter than l=".into());
        }
        report.unsigned_body_bytes = digest.canonical_len - l;
    }
    if digest.hash.as_slice() != sig.body_hash.as_slice() {
        return DkimResult::Fail("body hash did not verify".into());
    }
    if signature_ok(sig.algorithm, &key, data, &sig.signature) {
        DkimResult::Pass
    } else {
        DkimResult::Fail("signature did not verify".into())
    }
}

pub(super) fn empty_report() -> SignatureResult {
    SignatureResult {
        domain: String::new(),
        selector: String::new(),
        algorithm: String::new(),
        result: DkimResult::Neutral("not verified".into()),
        header_b: String::new(),
        identity: String::new(),
        body_length: None,
        unsigned_body_bytes: 0,
        testing: false,
    }
}

/// Bounded, lowercased text for a report.
fn show(v: &[u8]) -> String {
    let v = &v[..v.len().min(MAX_REPORTED)];
    String::from_utf8_lossy(v).to_ascii_lowercase()
}

/// Removes FWS (SP, HTAB, CR, LF) from a tag value.
fn strip_fws(v: &[u8]) -> Vec<u8> {
    v.iter()
        .copied()
        .filter(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .collect()
}

/// Fills what can be reported from the tags, whatever else is wrong with them.
fn fill_report(report: &mut SignatureResult, tags: &[Tag<'_>]) {
    let get = |n: &[u8]| tags.iter().find(|t| t.name == n).map(|t| t.value);
    if let Some(d) = get(b"d") {
        report.domain = show(d);
    }
    if let Some(s) = get(b"s") {
        report.selector = String::from_utf8_lossy(&s[..s.len().min(MAX_REPORTED)]).into_owned();
    }
    if let Some(a) = get(b"a") {
        report.algorithm = show(a);
    }
    if let Some(b) = get(b"b") {
        let b = strip_fws(b);
        report.header_b = String::from_utf8_lossy(&b[..b.len().min(8)]).into_owned();
    }
    report.identity = match get(b"i") {
        Some(i) => String::from_utf8_lossy(&i[..i.len().min(MAX_REPORTED)]).into_owned(),
        None if !report.domain.is_empty() => format!("@{}", report.domain),
        None => String::new(),
    };
}

/// The part of a raw field after its first colon.
pub(super) fn field_value(raw: &[u8]) -> &[u8] {
    match raw.iter().position(|&b| b == b':') {
        Some(i) => &raw[i + 1..],
        None => &[],
    }
}

/// One `tag=value` of a tag list (§3.2), value trimmed of surrounding FWS; `range` is where the
/// untrimmed value lies in the text parsed (for emptying `b=`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Tag<'a> {
    pub(super) name: &'a [u8],
    pub(super) value: &'a [u8],
    pub(super) range: (usize, usize),
}

fn is_fws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

pub(super) fn trim_fws(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|&b| !is_fws(b)).unwrap_or(v.len());
    let end = v.iter().rposition(|&b| !is_fws(b)).map_or(start, |i| i + 1);
    &v[start..end]
}

/// Parses a tag list (RFC 6376 §3.2). Duplicate tags and malformed names are errors; a
/// trailing `;` is allowed.
pub(super) fn parse_tags(text: &[u8]) -> Result<Vec<Tag<'_>>, String> {
    let mut tags: Vec<Tag<'_>> = Vec::new();
    let mut pos = 0;
    while pos <= text.len() {
        let end = memchr::memchr(b';', &text[pos..]).map_or(text.len(), |i| pos + i);
        let spec = &text[pos..end];
        if trim_fws(spec).is_empty() {
            // Only allowed as the empty spec after a trailing ";" (or an empty list).
            if end != text.len() {
                return Err("empty tag in tag list".into());
            }
            break;
        }
        let eq = memchr::memchr(b'=', spec).ok_or("tag without '='")?;
        let name = trim_fws(&spec[..eq]);
        // tag-name = ALPHA *ALNUMPUNC
        let valid = name.first().is_some_and(u8::is_ascii_alphabetic)
            && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Err("malformed tag name".into());
        }
        if tags.iter().any(|t| t.name == name) {
            return Err(format!("duplicate tag {}=", show(name)));
        }
        if tags.len() >= 64 {
            return Err("too many tags".into());
        }
        let value_start = pos + eq + 1;
        tags.push(Tag {
            name,
            value: trim_fws(&spec[eq + 1..]),
            range: (value_start, end),
        });
        pos = end + 1;
    }
    Ok(tags)
}

pub(super) fn parse_decimal(v: &[u8], max_digits: usize) -> Option<u64> {
    if v.is_empty() || v.len() > max_digits || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

pub(super) fn b64(v: &[u8], max: usize, what: &str) -> Result<Vec<u8>, String> {
    let text = strip_fws(v);
    base64::decode(&text, max).map_err(|_| format!("{what} is not valid base64 of a usable size"))
}

/// A plain DNS name (LDH labels), as `d=` and `s=` must be for the key query.
pub(super) fn dns_name(v: &[u8], tag: &str) -> Result<String, String> {
    let s = std::str::from_utf8(v).map_err(|_| format!("{tag}= is not ASCII"))?;
    super::sign::check_dns_name("d", s).map_err(|_| format!("{tag}= is not a valid DNS name"))?;
    Ok(s.to_ascii_lowercase())
}

/// Parses the signature field at `fields[index]` and builds the header hash input (§3.7).
pub(super) fn prepare(
    fields: &[canon::RawField<'_>],
    index: usize,
    kind: Kind,
    report: &mut SignatureResult,
) -> Result<(Signature, Vec<u8>), String> {
    let field = fields[index];
    if field.raw.len() > MAX_SIGNATURE_FIELD {
        return Err("signature field too long".into());
    }
    let value = field_value(field.raw);
    let value_offset = field.raw.len() - value.len();
    let tags = parse_tags(value)?;
    fill_report(report, &tags);
    let get = |n: &[u8]| tags.iter().find(|t| t.name == n);
    let need = |n: &'static str| {
        get(n.as_bytes())
            .map(|t| t.value)
            .ok_or_else(|| format!("missing required tag {n}="))
    };
    // §3.5 required tags (RFC 8617 §4.1.2: an ARC-Message-Signature has no v=).
    if kind == Kind::Dkim && need("v")? != b"1" {
        return Err("unsupported v= (not 1)".into());
    }
    let algorithm = match need("a")?.to_ascii_lowercase().as_slice() {
        b"rsa-sha256" => Algorithm::RsaSha256,
        b"ed25519-sha256" => Algorithm::Ed25519Sha256,
        b"rsa-sha1" => return Err("rsa-sha1 is not accepted (RFC 8301)".into()),
        _ => return Err("unknown algorithm a=".into()),
    };
    let b_tag = get(b"b").ok_or("missing required tag b=")?;
    // 4096-bit RSA signatures are 512 bytes; Ed25519 ones 64.
    let sig_bytes = b64(b_tag.value, MAX_RSA_BITS / 8, "b=")?;
    if sig_bytes.is_empty() {
        return Err("b= is empty".into());
    }
    let body_hash = b64(need("bh")?, 64, "bh=")?;
    if body_hash.len() != 32 {
        return Err("bh= is not a SHA-256 hash".into());
    }
    let domain = dns_name(need("d")?, "d")?;
    let selector = dns_name(need("s")?, "s")?;
    if domain.len() + selector.len() + ".\u{5f}domainkey.".len() > 253 {
        return Err("s= and d= make too long a name".into());
    }
    let h = need("h")?;
    let mut names: Vec<Vec<u8>> = Vec::new();
    for n in h.split(|&b| b == b':') {
        let n = trim_fws(n);
        if n.is_empty() || n.iter().any(|&b| b <= b' ' || b >= 0x7f) {
            return Err("malformed h=".into());
        }
        if names.len() >= MAX_H_ENTRIES {
            return Err("too many names in h=".into());
        }
        names.push(n.to_ascii_lowercase());
    }
    if !names.iter().any(|n| n == b"from") {
        return Err("From is not signed (h= lacks from)".into());
    }
    // RFC 8617 §4.1.2: an ARC-Message-Signature never covers ARC-Seal fields.
    if kind == Kind::ArcMessage && names.iter().any(|n| n == b"arc-seal") {
        return Err("ARC-Message-Signature covers ARC-Seal (h=)".into());
    }
    // Optional tags.
    let (header_canon_simple, body_canon) = match get(b"c").map(|t| t.value) {
        None => (true, BodyCanon::Simple),
        Some(c) => {
            let c = c.to_ascii_lowercase();
            let (hc, bc) = match memchr::memchr(b'/', &c) {
                Some(i) => (&c[..i], &c[i + 1..]),
                None => (&c[..], &b"simple"[..]),
            };
            let hs = match hc {
                b"simple" => true,
                b"relaxed" => false,
                _ => return Err("unknown header canonicalization".into()),
            };
            let bc = match bc {
                b"simple" => BodyCanon::Simple,
                b"relaxed" => BodyCanon::Relaxed,
                _ => return Err("unknown body canonicalization".into()),
            };
            (hs, bc)
        }
    };
    let identity_domain = match get(b"i").map(|t| t.value) {
        None => domain.clone(),
        Some(_) if kind == Kind::ArcMessage => domain.clone(),
        Some(i) => {
            let at = i
                .iter()
                .rposition(|&b| b == b'@')
                .ok_or("i= has no @domain")?;
            let id = std::str::from_utf8(&i[at + 1..])
                .map_err(|_| "i= domain is not ASCII")?
                .to_ascii_lowercase();
            if id != domain && !id.ends_with(&format!(".{domain}")) {
                return Err("i= is not within d=".into());
            }
            id
        }
    };
    let length = match get(b"l") {
        None => None,
        Some(t) => Some(parse_decimal(t.value, 76).ok_or("malformed l=")?),
    };
    report.body_length = length;
    if let Some(q) = get(b"q") {
        let ok = q
            .value
            .split(|&b| b == b':')
            .any(|m| trim_fws(m).eq_ignore_ascii_case(b"dns/txt"));
        if !ok {
            return Err("q= has no dns/txt".into());
        }
    }
    let timestamp = match get(b"t") {
        None => None,
        Some(t) => Some(parse_decimal(t.value, 12).ok_or("malformed t=")?),
    };
    let expires = match get(b"x") {
        None => None,
        Some(t) => Some(parse_decimal(t.value, 12).ok_or("malformed x=")?),
    };
    if let (Some(t), Some(x)) = (timestamp, expires)
        && x < t
    {
        return Err("x= is before t=".into());
    }

    // §5.4.2: each h= name takes the next instance from the bottom; none left → null.
    let mut data = Vec::with_capacity(1024);
    let wanted: Vec<&[u8]> = names.iter().map(|n| n.as_slice()).collect();
    for f in canon::signed_fields(fields, &wanted) {
        if header_canon_simple {
            canon::simple_header(f.raw, &mut data);
        } else {
            canon::relaxed_header(f.raw, &mut data);
        }
    }
    // §3.7: the signature field itself, b= value emptied, canonicalized, without its CRLF.
    let (b_start, b_end) = (value_offset + b_tag.range.0, value_offset + b_tag.range.1);
    let mut own = Vec::with_capacity(field.raw.len());
    own.extend_from_slice(&field.raw[..b_start]);
    own.extend_from_slice(&field.raw[b_end..]);
    let mark = data.len();
    if header_canon_simple {
        canon::simple_header(&own, &mut data);
    } else {
        canon::relaxed_header(&own, &mut data);
    }
    data.truncate(data.len().saturating_sub(2).max(mark));

    Ok((
        Signature {
            algorithm,
            signature: sig_bytes,
            body_hash,
            body_canon,
            domain,
            selector,
            identity_domain,
            length,
            expires,
        },
        data,
    ))
}

/// A usable key from a key record (§3.6.1).
#[derive(Debug)]
pub(super) struct Key {
    pub(super) algorithm: Algorithm,
    /// PKCS#1 RSAPublicKey DER, or the raw 32 Ed25519 bytes.
    public_key: Vec<u8>,
    testing: bool,
    strict_identity: bool,
}

/// Parses one TXT value as a DKIM key record (§3.6.1).
fn parse_key_record(rec: &str) -> Result<Key, String> {
    if rec.len() > MAX_KEY_RECORD {
        return Err("key record too long".into());
    }
    let tags = parse_tags(rec.as_bytes()).map_err(|e| format!("bad key record: {e}"))?;
    let get = |n: &[u8]| tags.iter().find(|t| t.name == n).map(|t| t.value);
    if let Some(v) = get(b"v")
        && (v != b"DKIM1" || tags.first().is_none_or(|t| t.name != b"v"))
    {
        return Err("key record has a bad v=".into());
    }
    if let Some(h) = get(b"h") {
        let ok = h
            .split(|&b| b == b':')
            .any(|a| trim_fws(a).eq_ignore_ascii_case(b"sha256"));
        if !ok {
            return Err("key does not allow sha256 (h=)".into());
        }
    }
    let algorithm = match get(b"k").map(<[u8]>::to_ascii_lowercase).as_deref() {
        None | Some(b"rsa") => Algorithm::RsaSha256,
        Some(b"ed25519") => Algorithm::Ed25519Sha256,
        Some(_) => return Err("unknown key type k=".into()),
    };
    if let Some(s) = get(b"s") {
        let ok = s
            .split(|&b| b == b':')
            .any(|t| matches!(trim_fws(t), b"*" | b"email"));
        if !ok {
            return Err("key is not for email (s=)".into());
        }
    }
    let (mut testing, mut strict_identity) = (false, false);
    if let Some(t) = get(b"t") {
        for flag in t.split(|&b| b == b':') {
            match trim_fws(flag) {
                b"y" => testing = true,
                b"s" => strict_identity = true,
                _ => {}
            }
        }
    }
    let p = get(b"p").ok_or("key record has no p=")?;
    let p = strip_fws(p);
    if p.is_empty() {
        return Err("key revoked (empty p=)".into());
    }
    let der = base64::decode(&p, 2048).map_err(|_| "key p= is not valid base64".to_string())?;
    let public_key = match algorithm {
        Algorithm::Ed25519Sha256 => {
            if der.len() != 32 {
                return Err("ed25519 key is not 32 bytes".into());
            }
            der
        }
        Algorithm::RsaSha256 => {
            let pkcs1 = rsa_public_key(&der).ok_or("unparsable RSA key")?;
            let bits = rsa_modulus_bits(pkcs1).ok_or("unparsable RSA key")?;
            if bits < MIN_RSA_BITS {
                return Err(format!("RSA key of {bits} bits is too short (RFC 8301)"));
            }
            if bits > MAX_RSA_BITS {
                return Err(format!("RSA key of {bits} bits is too long"));
            }
            pkcs1.to_vec()
        }
    };
    Ok(Key {
        algorithm,
        public_key,
        testing,
        strict_identity,
    })
}

/// Reads one DER TLV at the start of `d`: (tag, content, rest).
fn der(d: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = d.split_first()?;
    let (&len0, mut rest) = rest.split_first()?;
    let len = if len0 < 0x80 {
        usize::from(len0)
    } else {
        let n = usize::from(len0 & 0x7f);
        if n == 0 || n > 3 || rest.len() < n {
            return None;
        }
        let l = rest[..n]
            .iter()
            .fold(0usize, |a, &b| a << 8 | usize::from(b));
        rest = &rest[n..];
        l
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The PKCS#1 RSAPublicKey inside `p=`: a SubjectPublicKeyInfo (RFC 6376 §3.6.1; what
/// everyone publishes) or a bare RSAPublicKey (which some publish).
fn rsa_public_key(d: &[u8]) -> Option<&[u8]> {
    let (tag, content, _) = der(d)?;
    if tag != 0x30 {
        return None;
    }
    let (inner_tag, alg, rest) = der(content)?;
    match inner_tag {
        0x02 => Some(d), // SEQUENCE { INTEGER n, ... }: already PKCS#1
        0x30 => {
            // AlgorithmIdentifier must be rsaEncryption (1.2.840.113549.1.1.1).
            let (oid_tag, oid, _) = der(alg)?;
            if oid_tag != 0x06 || oid != [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01] {
                return None;
            }
            let (bs_tag, bits, _) = der(rest)?;
            let (&unused, key) = bits.split_first()?;
            (bs_tag == 0x03 && unused == 0).then_some(key)
        }
        _ => None,
    }
}

/// The modulus size of a PKCS#1 RSAPublicKey, in bits.
fn rsa_modulus_bits(pkcs1: &[u8]) -> Option<usize> {
    let (tag, content, _) = der(pkcs1)?;
    if tag != 0x30 {
        return None;
    }
    let (int_tag, n, _) = der(content)?;
    if int_tag != 0x02 {
        return None;
    }
    let skip = n.iter().take_while(|&&b| b == 0).count();
    let n = &n[skip..];
    let first = *n.first()?;
    Some(n.len() * 8 - first.leading_zeros() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_lists() {
        let t = parse_tags(b" v=1; a = rsa-sha256 ;\r\n b=ab\r\n cd; ").unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[1].name, b"a");
        assert_eq!(t[1].value, b"rsa-sha256");
        assert_eq!(t[2].value, b"ab\r\n cd");
        assert!(parse_tags(b"a=1; a=2").is_err());
        assert!(parse_tags(b"a=1;; b=2").is_err());
        assert!(parse_tags(b"1a=1").is_err());
        assert!(parse_tags(b"novalue").is_err());
        assert!(parse_tags(b"").unwrap().is_empty());
        assert!(parse_tags(b"a=").unwrap()[0].value.is_empty());
    }

    #[test]
    fn decimals_are_bounded() {
        assert_eq!(parse_decimal(b"0", 12), Some(0));
        assert_eq!(parse_decimal(b"1528637909", 12), Some(1528637909));
        assert_eq!(parse_decimal(b"1234567890123", 12), None);
        assert_eq!(parse_decimal(b"99999999999999999999999", 76), None);
        assert_eq!(parse_decimal(b"-1", 12), None);
        assert_eq!(parse_decimal(b"", 12), None);
    }

    #[test]
    fn key_records() {
        let ed = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
        let k = parse_key_record(ed).unwrap();
        assert_eq!(k.algorithm, Algorithm::Ed25519Sha256);
        assert_eq!(k.public_key.len(), 32);
        assert!(
            parse_key_record("v=DKIM1; k=ed25519; p=")
                .unwrap_err()
                .contains("revoked")
        );
        assert!(
            parse_key_record("k=ed25519; v=DKIM1; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
                .is_err()
        );
        assert!(parse_key_record("v=DKIM2; p=x").is_err());
        assert!(parse_key_record("k=dsa; p=AAAA").is_err());
        assert!(
            parse_key_record("k=ed25519; s=other; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
                .is_err()
        );
        let k = parse_key_record("k=ed25519; t=y:s; s=email; h=sha1:sha256; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=").unwrap();
        assert!(k.testing && k.strict_identity);
        // RFC 8463 A.2 RSA test key: SPKI, 1024 bits.
        let rsa = "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";
        let k = parse_key_record(rsa).unwrap();
        assert_eq!(rsa_modulus_bits(&k.public_key), Some(1024));
        // The same key as a bare PKCS#1 RSAPublicKey.
        let bare = base64::encode(&k.public_key, true);
        let k2 = parse_key_record(&format!("p={bare}")).unwrap();
        assert_eq!(k2.public_key, k.public_key);
    }

    #[test]
    fn short_rsa_keys_are_refused() {
        // SEQUENCE { INTEGER (512-bit modulus), INTEGER 65537 }
        let mut n = vec![0x00, 0xc1];
        n.extend(std::iter::repeat_n(0x55u8, 63));
        let mut seq = vec![0x02, 0x41];
        seq.extend_from_slice(&n);
        seq.extend_from_slice(&[0x02, 0x03, 0x01, 0x00, 0x01]);
        let mut der = vec![0x30, seq.len() as u8];
        der.extend_from_slice(&seq);
        assert_eq!(rsa_modulus_bits(&der), Some(512));
        let rec = format!("k=rsa; p={}", base64::encode(&der, true));
        assert!(parse_key_record(&rec).unwrap_err().contains("too short"));
    }
}

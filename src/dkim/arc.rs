//! ARC chain validation (RFC 8617 §5.2) for inbound mail: whether the intermediaries that
//! handled a message (mailing lists, forwarders) left an intact, signed record of it.
//!
//! An ARC set is one `ARC-Authentication-Results` (AAR), one `ARC-Message-Signature` (AMS) and
//! one `ARC-Seal` (AS) field sharing an instance `i=`. [`parse`] reads the sets from the header
//! section ([`super::DkimVerifier`] calls it and hashes the body for the newest AMS with its
//! DKIM hashers); [`verify`] fetches keys and decides:
//! - no ARC field at all: `none`;
//! - §5.2 step 2: the newest seal says `cv=fail`: `fail`, nothing else is checked;
//! - §5.2 step 3 (§4.2.1): instances 1..=N, N ≤ [`MAX_INSTANCES`], each exactly one AAR, AMS and
//!   AS; `cv=none` at i=1 and `cv=pass` after; else `fail`;
//! - §5.2 step 4: the newest AMS verifies like a DKIM signature (`i=` is its instance, there is
//!   no `v=`, and it must not cover `ARC-Seal`); else `fail`;
//! - §5.2 step 5 (§5.1.1): each seal, newest first, verifies over the sets 1..=i in order AAR,
//!   AMS, AS, relaxed header canonicalization, its own `b=` emptied and its final CRLF dropped;
//!   an `h=` tag in a seal is an error (§4.1.3); else `fail`;
//! - otherwise `pass`.
//!
//! A key that cannot be fetched (a DNS timeout too) makes the chain `fail`, with the reason:
//! RFC 8617 defines only none, pass and fail. The result is reported, not acted on: trusting a
//! sealer to override DMARC needs a list of trusted sealers, which this server does not keep.
//!
//! Invariants: no panics on any input; at most 3 × [`MAX_INSTANCES`] ARC fields are read (one
//! more is a duplicate or a bad instance, a `fail` without further work); AMS and AS fields longer than
//! [`super::verify::MAX_SIGNATURE_FIELD`] and AAR fields longer than [`MAX_AAR_FIELD`] are a
//! `fail`; what is kept is bounded by the header section (one relaxed copy of each ARC field)
//! plus the newest AMS's header hash input; keys are looked up at most once per name.

use super::canon::{self, BodyCanon, BodyDigest, RawField};
use super::verify::{
    self, Algorithm, DkimResult, KeyCache, Kind, MAX_RSA_BITS, MAX_SIGNATURE_FIELD, Signature,
};
use crate::dns::Resolver;

/// Most ARC sets in a chain (RFC 8617 §4.2.1).
pub const MAX_INSTANCES: usize = 50;
/// Longest `ARC-Authentication-Results` field read.
pub const MAX_AAR_FIELD: usize = 16 * 1024;

/// The chain's validation status (RFC 8617 §4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArcResult {
    /// No ARC fields.
    None,
    /// Every set is present and every signature verified.
    Pass,
    /// Something did not hold; the reason says what (the first problem found).
    Fail(String),
}

impl ArcResult {
    /// The RFC 8601 result keyword.
    pub fn as_str(&self) -> &'static str {
        match self {
            ArcResult::None => "none",
            ArcResult::Pass => "pass",
            ArcResult::Fail(_) => "fail",
        }
    }
}

/// What validation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcOutcome {
    /// The status.
    pub result: ArcResult,
    /// The newest instance (0 without a readable chain).
    pub instance: usize,
    /// `d=` of the newest seal, lowercased (empty when unknown).
    pub sealer: String,
}

impl ArcOutcome {
    fn fail(instance: usize, sealer: &str, reason: String) -> ArcOutcome {
        ArcOutcome {
            result: ArcResult::Fail(reason),
            instance,
            sealer: sealer.to_string(),
        }
    }
}

/// One `ARC-Seal`, parsed.
#[derive(Debug, Clone)]
struct Seal {
    algorithm: Algorithm,
    signature: Vec<u8>,
    domain: String,
    selector: String,
}

/// One set's fields, relaxed-canonicalized (§5.1.1): `aar`, `ams` and `seal` with their CRLF;
/// `seal_unsigned` with `b=` emptied and without the final CRLF.
#[derive(Debug, Clone, Default)]
struct SetCanon {
    aar: Vec<u8>,
    ams: Vec<u8>,
    seal: Vec<u8>,
    seal_unsigned: Vec<u8>,
}

/// A chain whose structure holds, waiting for keys and the newest AMS's body hash.
#[derive(Debug, Clone)]
pub(super) struct ReadyChain {
    ams: Box<Signature>,
    ams_data: Vec<u8>,
    seals: Vec<Seal>,
    sets: Vec<SetCanon>,
}

impl ReadyChain {
    /// The body hash the newest AMS needs: canonicalization and `l=`.
    pub(super) fn body(&self) -> (BodyCanon, Option<u64>) {
        (self.ams.body_canon, self.ams.length)
    }
}

/// What [`parse`] found.
#[derive(Debug, Clone)]
pub(super) enum Parsed {
    /// Decided without keys (none, or a structural failure).
    Decided(ArcOutcome),
    /// Ready for [`verify`].
    Ready(ReadyChain),
}

/// A chain ready for [`verify`]: the parse and, when it needs one, the newest AMS's body hash.
#[derive(Debug, Clone)]
pub struct PendingChain {
    pub(super) parsed: Parsed,
    pub(super) digest: Option<BodyDigest>,
}

impl PendingChain {
    /// A message without ARC fields.
    pub fn none() -> PendingChain {
        PendingChain {
            parsed: Parsed::Decided(no_chain()),
            digest: None,
        }
    }
}

/// Which of a set's three fields a header field is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Results,
    Message,
    Seal,
}

impl Part {
    fn of(name: &[u8]) -> Option<Part> {
        if name.eq_ignore_ascii_case(b"arc-authentication-results") {
            Some(Part::Results)
        } else if name.eq_ignore_ascii_case(b"arc-message-signature") {
            Some(Part::Message)
        } else if name.eq_ignore_ascii_case(b"arc-seal") {
            Some(Part::Seal)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Part::Results => "ARC-Authentication-Results",
            Part::Message => "ARC-Message-Signature",
            Part::Seal => "ARC-Seal",
        }
    }
}

/// `i=` as an instance number (1..=[`MAX_INSTANCES`]).
fn instance(v: &[u8]) -> Option<usize> {
    let n = verify::parse_decimal(verify::trim_fws(v), 2)?;
    let n = usize::try_from(n).ok()?;
    (1..=MAX_INSTANCES).contains(&n).then_some(n)
}

/// The instance of an AAR field value: `i=N;` before the results (§4.1.1).
fn aar_instance(value: &[u8]) -> Option<usize> {
    let semi = memchr::memchr(b';', value)?;
    let (name, n) = value[..semi].split_at(memchr::memchr(b'=', &value[..semi])?);
    (verify::trim_fws(name) == b"i").then_some(())?;
    instance(&n[1..])
}

/// The instance of an AMS or AS field value, from its tag list.
fn tagged_instance(value: &[u8]) -> Option<usize> {
    let tags = verify::parse_tags(value).ok()?;
    tags.iter()
        .find(|t| t.name == b"i")
        .and_then(|t| instance(t.value))
}

/// Parses one `ARC-Seal` field (§4.1.3) and its unsigned relaxed form; `cv` is what it must say.
fn parse_seal(raw: &[u8], cv: &[u8]) -> Result<(Seal, Vec<u8>), String> {
    let value = verify::field_value(raw);
    let value_offset = raw.len() - value.len();
    let tags = verify::parse_tags(value)?;
    let get = |n: &[u8]| tags.iter().find(|t| t.name == n);
    let need = |n: &'static str| {
        get(n.as_bytes())
            .map(|t| t.value)
            .ok_or_else(|| format!("missing tag {n}="))
    };
    if get(b"h").is_some() {
        return Err("has an h= tag".into());
    }
    let got = need("cv")?.to_ascii_lowercase();
    if got != cv {
        return Err(format!(
            "says cv={} where cv={} belongs",
            String::from_utf8_lossy(&got[..got.len().min(16)]),
            String::from_utf8_lossy(cv)
        ));
    }
    let algorithm = match need("a")?.to_ascii_lowercase().as_slice() {
        b"rsa-sha256" => Algorithm::RsaSha256,
        b"ed25519-sha256" => Algorithm::Ed25519Sha256,
        _ => return Err("unknown algorithm a=".into()),
    };
    let b_tag = get(b"b").ok_or("missing tag b=")?;
    let signature = verify::b64(b_tag.value, MAX_RSA_BITS / 8, "b=")?;
    if signature.is_empty() {
        return Err("b= is empty".into());
    }
    let domain = verify::dns_name(need("d")?, "d")?;
    let selector = verify::dns_name(need("s")?, "s")?;
    let (start, end) = (value_offset + b_tag.range.0, value_offset + b_tag.range.1);
    let unsigned = [&raw[..start], &raw[end..]].concat();
    let mut canonical = Vec::with_capacity(unsigned.len());
    canon::relaxed_header(&unsigned, &mut canonical);
    canonical.truncate(canonical.len().saturating_sub(2));
    let seal = Seal {
        algorithm,
        signature,
        domain,
        selector,
    };
    Ok((seal, canonical))
}

/// Reads the ARC sets of a header section (see the module documentation).
pub(super) fn parse(fields: &[RawField<'_>]) -> Parsed {
    let mut slots: Vec<[Option<usize>; 3]> = Vec::new();
    for (index, f) in fields.iter().enumerate() {
        let Some(part) = Part::of(f.name) else {
            continue;
        };
        let limit = match part {
            Part::Results => MAX_AAR_FIELD,
            _ => MAX_SIGNATURE_FIELD,
        };
        if f.raw.len() > limit {
            return fail(0, "", format!("{} field too long", part.name()));
        }
        let value = verify::field_value(f.raw);
        let i = match part {
            Part::Results => aar_instance(value),
            _ => tagged_instance(value),
        };
        let Some(i) = i else {
            return fail(0, "", format!("{} without a valid i=", part.name()));
        };
        if slots.len() < i {
            slots.resize(i, [None; 3]);
        }
        let slot = &mut slots[i - 1][part as usize];
        if slot.is_some() {
            return fail(0, "", format!("two {} fields with i={i}", part.name()));
        }
        *slot = Some(index);
    }
    let newest = slots.len();
    if newest == 0 {
        return Parsed::Decided(no_chain());
    }
    // §5.2 step 2: the newest sealer already found the chain broken.
    if let Some(seal) = slots[newest - 1][Part::Seal as usize] {
        let value = verify::field_value(fields[seal].raw);
        if let Ok(tags) = verify::parse_tags(value)
            && tags
                .iter()
                .any(|t| t.name == b"cv" && t.value.eq_ignore_ascii_case(b"fail"))
        {
            return fail(newest, "", "the newest ARC-Seal says cv=fail".into());
        }
    }
    let mut seals = Vec::with_capacity(newest);
    let mut sets = Vec::with_capacity(newest);
    for (k, slot) in slots.iter().enumerate() {
        let i = k + 1;
        let [Some(aar), Some(ams), Some(seal)] = *slot else {
            return fail(newest, "", format!("ARC set i={i} is incomplete"));
        };
        let cv: &[u8] = if i == 1 { b"none" } else { b"pass" };
        let (parsed, seal_unsigned) = match parse_seal(fields[seal].raw, cv) {
            Ok(s) => s,
            Err(e) => return fail(newest, "", format!("ARC-Seal i={i} {e}")),
        };
        let relaxed = |raw: &[u8]| {
            let mut out = Vec::with_capacity(raw.len());
            canon::relaxed_header(raw, &mut out);
            out
        };
        sets.push(SetCanon {
            aar: relaxed(fields[aar].raw),
            ams: relaxed(fields[ams].raw),
            seal: relaxed(fields[seal].raw),
            seal_unsigned,
        });
        seals.push(parsed);
    }
    let sealer = seals.last().map(|s| s.domain.clone()).unwrap_or_default();
    let Some(ams_index) = slots[newest - 1][Part::Message as usize] else {
        return fail(newest, &sealer, "no ARC-Message-Signature".into());
    };
    let mut report = verify::empty_report();
    match verify::prepare(fields, ams_index, Kind::ArcMessage, &mut report) {
        Ok((ams, ams_data)) => Parsed::Ready(ReadyChain {
            ams: Box::new(ams),
            ams_data,
            seals,
            sets,
        }),
        Err(e) => fail(
            newest,
            &sealer,
            format!("ARC-Message-Signature i={newest}: {e}"),
        ),
    }
}

fn fail(instance: usize, sealer: &str, reason: String) -> Parsed {
    Parsed::Decided(ArcOutcome::fail(instance, sealer, reason))
}

pub(super) fn no_chain() -> ArcOutcome {
    ArcOutcome {
        result: ArcResult::None,
        instance: 0,
        sealer: String::new(),
    }
}

/// Validates the chain (see the module documentation).
pub async fn verify<R: Resolver + ?Sized>(pending: PendingChain, r: &R) -> ArcOutcome {
    let chain = match pending.parsed {
        Parsed::Decided(outcome) => return outcome,
        Parsed::Ready(chain) => chain,
    };
    let newest = chain.sets.len();
    let sealer = chain
        .seals
        .last()
        .map(|s| s.domain.clone())
        .unwrap_or_default();
    let mut keys = KeyCache::default();
    // §5.2 step 4: the newest AMS.
    let answer = keys
        .records(r, &chain.ams.selector, &chain.ams.domain)
        .await;
    let mut report = verify::empty_report();
    let result = verify::check(
        &chain.ams,
        &chain.ams_data,
        pending.digest,
        answer,
        &mut report,
    );
    if result != DkimResult::Pass {
        let why = format!(
            "ARC-Message-Signature i={newest}: {} ({})",
            result.as_str(),
            result.reason()
        );
        return ArcOutcome::fail(newest, &sealer, why);
    }
    // §5.2 step 5: every seal, newest first, over the sets up to its own.
    let mut prefix_ends = Vec::with_capacity(newest);
    let mut signed = Vec::new();
    for set in &chain.sets {
        signed.extend_from_slice(&set.aar);
        signed.extend_from_slice(&set.ams);
        signed.extend_from_slice(&set.seal);
        prefix_ends.push(signed.len());
    }
    for k in (0..newest).rev() {
        let seal = &chain.seals[k];
        let set = &chain.sets[k];
        let before = if k == 0 { 0 } else { prefix_ends[k - 1] };
        let data = [&signed[..before], &set.aar, &set.ams, &set.seal_unsigned].concat();
        let answer = keys.records(r, &seal.selector, &seal.domain).await;
        let i = k + 1;
        let key = match verify::usable_key(answer) {
            Ok(key) => key,
            Err(result) => {
                let why = format!("ARC-Seal i={i}: {} ({})", result.as_str(), result.reason());
                return ArcOutcome::fail(newest, &sealer, why);
            }
        };
        if key.algorithm != seal.algorithm {
            let why = format!("ARC-Seal i={i}: key type does not match a=");
            return ArcOutcome::fail(newest, &sealer, why);
        }
        if !verify::signature_ok(seal.algorithm, &key, &data, &seal.signature) {
            let why = format!("ARC-Seal i={i} did not verify");
            return ArcOutcome::fail(newest, &sealer, why);
        }
    }
    ArcOutcome {
        result: ArcResult::Pass,
        instance: newest,
        sealer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances() {
        assert_eq!(aar_instance(b" i=1; mx.example; spf=pass"), Some(1));
        assert_eq!(aar_instance(b" i = 50 ;x"), Some(50));
        assert_eq!(aar_instance(b" i=51; x"), None);
        assert_eq!(aar_instance(b" i=0; x"), None);
        assert_eq!(aar_instance(b" j=1; x"), None);
        assert_eq!(aar_instance(b" i=1"), None);
        assert_eq!(tagged_instance(b" i=2; a=rsa-sha256; cv=pass"), Some(2));
        assert_eq!(tagged_instance(b" a=rsa-sha256"), None);
        assert_eq!(tagged_instance(b" i=007"), None);
    }

    fn parse_header(h: &str) -> Parsed {
        parse(&canon::split_fields(h.as_bytes()))
    }

    fn decided(p: Parsed) -> ArcOutcome {
        match p {
            Parsed::Decided(o) => o,
            Parsed::Ready(_) => panic!("not decided"),
        }
    }

    #[test]
    fn structure() {
        let none = decided(parse_header("From: a@b.test\r\nSubject: x\r\n"));
        assert_eq!(none.result, ArcResult::None);
        let seal = |i: usize, cv: &str| {
            format!("ARC-Seal: i={i}; a=rsa-sha256; cv={cv}; d=example.org; s=s; b=AAAA\r\n")
        };
        let ams = |i: usize| {
            format!(
                "ARC-Message-Signature: i={i}; a=rsa-sha256; d=example.org; s=s; h=from; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\n"
            )
        };
        let aar =
            |i: usize| format!("ARC-Authentication-Results: i={i}; mx.example.org; spf=pass\r\n");
        let set = |i: usize, cv: &str| format!("{}{}{}", seal(i, cv), ams(i), aar(i));
        let reason = |h: String| match decided(parse_header(&h)).result {
            ArcResult::Fail(r) => r,
            other => panic!("{other:?}"),
        };
        let from = "From: a@example.org\r\n";
        assert!(matches!(
            parse_header(&format!("{}{from}", set(1, "none"))),
            Parsed::Ready(_)
        ));
        assert!(matches!(
            parse_header(&format!("{}{}{from}", set(2, "pass"), set(1, "none"))),
            Parsed::Ready(_)
        ));
        assert!(reason(format!("{}{from}", set(1, "pass"))).contains("cv=none belongs"));
        assert!(reason(format!("{}{}{from}", set(2, "none"), set(1, "none"))).contains("i=2"));
        assert!(reason(format!("{}{from}", set(2, "pass"))).contains("i=1 is incomplete"));
        assert!(reason(format!("{}{}{from}", set(2, "fail"), set(1, "none"))).contains("cv=fail"));
        assert!(
            reason(format!("{}{}{from}", set(1, "none"), seal(1, "none"))).contains("two ARC-Seal")
        );
        assert!(reason(format!("{}{}{from}", seal(1, "none"), ams(1))).contains("incomplete"));
        assert!(reason(format!("{}{from}", set(51, "pass"))).contains("valid i="));
        let h_tag = set(1, "none").replace("cv=none;", "cv=none; h=from;");
        assert!(reason(format!("{h_tag}{from}")).contains("h= tag"));
        let covers_seal = set(1, "none").replace("h=from;", "h=from:arc-seal;");
        assert!(reason(format!("{covers_seal}{from}")).contains("covers ARC-Seal"));
    }
}

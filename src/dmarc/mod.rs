//! DMARC (RFC 7489) for inbound mail: the policy record (§6.3), policy discovery (§6.6.3),
//! identifier alignment (§3.1) and the resulting disposition (§6.6.4, `pct` §6.3).
//!
//! Pure decision code: SPF and DKIM are verified elsewhere and come in as plain results
//! ([`SpfVerdict`] for the MAIL FROM identity, `(d=, pass)` per DKIM signature); the only I/O is
//! TXT (and, for `np`, one A) lookups through the [`Resolver`] given, and the Organizational
//! Domain comes from [`psl::PublicSuffixList`]. Reports (`rua`, `ruf`) are not sent.
//!
//! Invariants:
//! - Temporary DNS failures give [`DmarcResult::TempError`] and never a disposition: a message
//!   is not rejected because a lookup timed out.
//! - Exactly one record starting with `v=DMARC1` at a name counts; several mean no policy
//!   (§6.6.3 step 5, result `none`) and do not fall back to the Organizational Domain.
//! - A record with `v=DMARC1` but no valid `p` (or an invalid `sp`) is a `permerror`, unless it
//!   names a syntactically valid `rua` URI, in which case it acts as `p=none` (§6.6.3 step 6).
//!   Invalid values of the other tags give their defaults; unknown tags are ignored; of a
//!   repeated tag the first occurrence counts; at most 64 tags are read.
//! - Domains are compared lowercased, in A-label form, without a trailing dot.
//! - `np` (RFC 9091) is honoured for a subdomain without a record of its own when the From
//!   domain gives NXDOMAIN for an A query.

pub mod psl;

use crate::dns::Resolver;
use psl::PublicSuffixList;

/// The most TXT strings at `_dmarc.<domain>` looked at (a name with more is treated as having
/// several DMARC records only if two of the first ones are).
const MAX_TXT: usize = 32;

/// What a receiver does with a message (§6.3 `p`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Disposition {
    /// Deliver as usual.
    #[default]
    None,
    /// Deliver as suspicious (to the junk folder).
    Quarantine,
    /// Refuse in the SMTP transaction.
    Reject,
}

impl Disposition {
    /// The tag value (`none`, `quarantine`, `reject`).
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::None => "none",
            Disposition::Quarantine => "quarantine",
            Disposition::Reject => "reject",
        }
    }

    fn parse(v: &str) -> Option<Disposition> {
        [
            Disposition::None,
            Disposition::Quarantine,
            Disposition::Reject,
        ]
        .into_iter()
        .find(|d| d.as_str().eq_ignore_ascii_case(v))
    }

    /// The next weaker disposition, for messages not sampled by `pct` (§6.6.4).
    fn weaker(self) -> Disposition {
        match self {
            Disposition::Reject => Disposition::Quarantine,
            _ => Disposition::None,
        }
    }
}

/// Identifier alignment mode (§3.1, tags `adkim` and `aspf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Alignment {
    /// Same Organizational Domain (the default).
    #[default]
    Relaxed,
    /// The very same domain.
    Strict,
}

impl Alignment {
    fn parse(v: &str) -> Option<Alignment> {
        match v {
            _ if v.eq_ignore_ascii_case("r") => Some(Alignment::Relaxed),
            _ if v.eq_ignore_ascii_case("s") => Some(Alignment::Strict),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Alignment::Relaxed => "r",
            Alignment::Strict => "s",
        }
    }
}

/// A DMARC policy record (§6.3). Reporting tags (`rua`, `ruf`, `fo`, `rf`, `ri`) are accepted
/// and not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcRecord {
    /// `p`: the policy for the domain queried.
    pub policy: Disposition,
    /// `sp`: the policy for its subdomains (when found at the Organizational Domain).
    pub subdomain_policy: Option<Disposition>,
    /// `np` (RFC 9091): the policy for non-existent subdomains.
    pub nonexistent_policy: Option<Disposition>,
    /// `adkim`.
    pub adkim: Alignment,
    /// `aspf`.
    pub aspf: Alignment,
    /// `pct`: the percentage of failing messages the policy applies to, 0..=100.
    pub pct: u8,
}

/// Why a TXT string is not a usable DMARC record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// It does not start with `v=DMARC1` (not a DMARC record at all: ignored in discovery).
    #[error("not a DMARC record")]
    NotDmarc,
    /// `p` is missing or invalid, and no valid `rua` URI makes it `p=none`.
    #[error("missing or invalid p= tag")]
    BadPolicy,
    /// `sp` is invalid, and no valid `rua` URI makes the record `p=none`.
    #[error("invalid sp= tag")]
    BadSubdomainPolicy,
}

impl DmarcRecord {
    /// Parses a TXT record (§6.4 grammar, leniently: tags in any order after `v`, whitespace
    /// around `=` and `;`, tag values case-insensitive, unknown tags ignored).
    pub fn parse(txt: &str) -> Result<DmarcRecord, RecordError> {
        let mut tags = txt.split(';').map(|t| t.trim_matches(is_wsp));
        match tags.next().and_then(split_tag) {
            Some(("v", "DMARC1")) => {}
            _ => return Err(RecordError::NotDmarc),
        }
        let mut p: Option<Option<Disposition>> = None;
        let mut sp: Option<Option<Disposition>> = None;
        let mut rec = DmarcRecord {
            policy: Disposition::None,
            subdomain_policy: None,
            nonexistent_policy: None,
            adkim: Alignment::Relaxed,
            aspf: Alignment::Relaxed,
            pct: 100,
        };
        let mut valid_rua = false;
        let mut seen: Vec<String> = Vec::new();
        for tag in tags.take(64) {
            let Some((name, value)) = split_tag(tag) else {
                continue;
            };
            // The first occurrence of a tag counts, valid or not.
            let name = name.to_ascii_lowercase();
            if seen.contains(&name) {
                continue;
            }
            match name.as_str() {
                "p" => p = Some(Disposition::parse(value)),
                "sp" => sp = Some(Disposition::parse(value)),
                "np" => rec.nonexistent_policy = Disposition::parse(value),
                "adkim" => rec.adkim = Alignment::parse(value).unwrap_or_default(),
                "aspf" => rec.aspf = Alignment::parse(value).unwrap_or_default(),
                "pct" => rec.pct = parse_pct(value).unwrap_or(100),
                "rua" => valid_rua = value.split(',').any(is_uri),
                _ => {}
            }
            seen.push(name);
        }
        match p {
            Some(Some(d)) => rec.policy = d,
            _ if valid_rua => {
                rec.policy = Disposition::None;
                rec.subdomain_policy = None;
                return Ok(rec);
            }
            _ => return Err(RecordError::BadPolicy),
        }
        match sp {
            None => {}
            Some(Some(d)) => rec.subdomain_policy = Some(d),
            Some(None) if valid_rua => {
                rec.policy = Disposition::None;
                rec.subdomain_policy = None;
            }
            Some(None) => return Err(RecordError::BadSubdomainPolicy),
        }
        Ok(rec)
    }

    /// The record in canonical form (`parse` of it gives `self` back).
    pub fn to_txt(&self) -> String {
        let mut s = format!("v=DMARC1; p={}", self.policy.as_str());
        if let Some(sp) = self.subdomain_policy {
            s.push_str("; sp=");
            s.push_str(sp.as_str());
        }
        if let Some(np) = self.nonexistent_policy {
            s.push_str("; np=");
            s.push_str(np.as_str());
        }
        s.push_str(&format!(
            "; adkim={}; aspf={}; pct={}",
            self.adkim.as_str(),
            self.aspf.as_str(),
            self.pct
        ));
        s
    }
}

fn is_wsp(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// `name = value` with optional whitespace around `=`.
fn split_tag(tag: &str) -> Option<(&str, &str)> {
    let (name, value) = tag.split_once('=')?;
    let name = name.trim_matches(is_wsp);
    (!name.is_empty()).then(|| (name, value.trim_matches(is_wsp)))
}

/// `1*3DIGIT` in 0..=100.
fn parse_pct(v: &str) -> Option<u8> {
    if v.is_empty() || v.len() > 3 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<u8>().ok().filter(|&n| n <= 100)
}

/// A DMARC URI (§6.4: a URI with an optional `!size` suffix), checked for its scheme and a
/// non-empty rest.
fn is_uri(v: &str) -> bool {
    let v = v.trim_matches(is_wsp);
    let Some((scheme, rest)) = v.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !rest.contains(is_wsp)
}

/// The SPF result for the MAIL FROM identity, as far as DMARC cares (§4.2: only `pass` counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpfVerdict {
    /// SPF `pass`.
    Pass,
    /// Any other SPF result (fail, softfail, neutral, none, temperror, permerror).
    NotPass,
}

/// The DMARC result (RFC 7489 §11.2, for Authentication-Results).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DmarcResult {
    /// An aligned identifier passed.
    Pass,
    /// A policy was found and no aligned identifier passed.
    Fail,
    /// No (single, valid-version) policy record.
    None,
    /// A DNS lookup failed temporarily.
    TempError,
    /// The record found is broken.
    PermError,
}

impl DmarcResult {
    /// The Authentication-Results keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            DmarcResult::Pass => "pass",
            DmarcResult::Fail => "fail",
            DmarcResult::None => "none",
            DmarcResult::TempError => "temperror",
            DmarcResult::PermError => "permerror",
        }
    }
}

/// The outcome of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcOutcome {
    /// pass, fail, none, temperror or permerror.
    pub result: DmarcResult,
    /// What to do with the message: the policy that applies (`p`, `sp` or `np`), weakened one
    /// step when `pct` did not sample it; always `None` unless `result` is `Fail`.
    pub policy: Disposition,
    /// The RFC5322.From domain, normalized.
    pub from_domain: String,
    /// Where the record used was found (`_dmarc.` not included), if one was.
    pub policy_domain: Option<String>,
    /// Whether an aligned SPF pass was seen.
    pub spf_aligned: bool,
    /// Whether an aligned DKIM pass was seen.
    pub dkim_aligned: bool,
    /// A short human explanation, for logs and `reason=`.
    pub reason: String,
}

/// Where policy discovery ended.
enum Discovery {
    Found(String, Result<DmarcRecord, RecordError>),
    NotFound,
    Multiple(String),
    TempError(String),
}

/// The DMARC records (strings starting with `v=DMARC1`) at `_dmarc.<domain>`.
async fn lookup<R: Resolver>(r: &R, domain: &str) -> Discovery {
    let name = format!("_dmarc.{domain}");
    let txts = match r.txt(&name).await {
        Ok(v) => v,
        Err(e) if e.is_temporary() => return Discovery::TempError(format!("{name}: {e}")),
        Err(_) => return Discovery::NotFound,
    };
    let mut found: Vec<Result<DmarcRecord, RecordError>> = txts
        .iter()
        .take(MAX_TXT)
        .map(|t| DmarcRecord::parse(t))
        .filter(|p| *p != Err(RecordError::NotDmarc))
        .collect();
    match found.len() {
        0 => Discovery::NotFound,
        1 => Discovery::Found(domain.to_string(), found.remove(0)),
        _ => Discovery::Multiple(domain.to_string()),
    }
}

/// Whether `a` is aligned with the From domain `from` (both normalized) under `mode` (§3.1).
fn aligned(psl: &PublicSuffixList, mode: Alignment, a: &str, from: &str, from_org: &str) -> bool {
    match mode {
        Alignment::Strict => a == from,
        Alignment::Relaxed => a == from || psl.org_domain(a) == from_org,
    }
}

/// Evaluates DMARC for a message whose RFC5322.From domain is `from_domain`.
///
/// `spf` is the MAIL FROM domain (or address; the HELO domain when MAIL FROM was empty,
/// RFC 7489 §4.1) with its SPF verdict, if SPF was checked; `dkim` holds each verified
/// signature's `d=` and whether it passed. `pct_draw` is a uniformly random number in
/// `0..100` (taken modulo 100): the policy applies when it is below `pct`.
pub async fn evaluate<R: Resolver>(
    r: &R,
    psl: &PublicSuffixList,
    from_domain: &str,
    spf: Option<(&str, SpfVerdict)>,
    dkim: &[(&str, bool)],
    pct_draw: u8,
) -> DmarcOutcome {
    let mut out = DmarcOutcome {
        result: DmarcResult::None,
        policy: Disposition::None,
        from_domain: from_domain.to_ascii_lowercase(),
        policy_domain: None,
        spf_aligned: false,
        dkim_aligned: false,
        reason: String::new(),
    };
    let Some(from) = psl::to_ascii(from_domain).filter(|d| crate::dns::normalize_name(d).is_ok())
    else {
        out.reason = "From domain is not a domain name".into();
        return out;
    };
    out.from_domain.clone_from(&from);
    let from_org = psl.org_domain(&from);

    // §6.6.3: the From domain first, then its Organizational Domain.
    let mut discovery = lookup(r, &from).await;
    if matches!(discovery, Discovery::NotFound) && from_org != from {
        discovery = lookup(r, &from_org).await;
    }
    let (policy_domain, record) = match discovery {
        Discovery::Found(d, rec) => (d, rec),
        Discovery::NotFound => {
            out.reason = "no DMARC record".into();
            return out;
        }
        Discovery::Multiple(d) => {
            out.reason = format!("several DMARC records at _dmarc.{d}");
            return out;
        }
        Discovery::TempError(e) => {
            out.result = DmarcResult::TempError;
            out.reason = e;
            return out;
        }
    };
    out.policy_domain = Some(policy_domain.clone());
    let record = match record {
        Ok(rec) => rec,
        Err(e) => {
            out.result = DmarcResult::PermError;
            out.reason = format!("_dmarc.{policy_domain}: {e}");
            return out;
        }
    };

    // §3.1 alignment; any aligned pass is a DMARC pass (§4.2).
    let norm = |d: &str| psl::to_ascii(d).unwrap_or_default();
    out.spf_aligned = spf.is_some_and(|(d, v)| {
        // A whole address is accepted too: its domain is what aligns.
        let d = d.rsplit('@').next().unwrap_or(d);
        v == SpfVerdict::Pass && aligned(psl, record.aspf, &norm(d), &from, &from_org)
    });
    out.dkim_aligned = dkim
        .iter()
        .any(|&(d, pass)| pass && aligned(psl, record.adkim, &norm(d), &from, &from_org));
    if out.spf_aligned || out.dkim_aligned {
        out.result = DmarcResult::Pass;
        out.reason = match (out.spf_aligned, out.dkim_aligned) {
            (true, true) => "aligned SPF and DKIM pass",
            (true, false) => "aligned SPF pass",
            _ => "aligned DKIM pass",
        }
        .into();
        return out;
    }
    out.result = DmarcResult::Fail;

    // §6.6.3 step 3 / §6.3 sp, RFC 9091 np: which policy applies.
    let mut which = "p";
    let mut policy = record.policy;
    if policy_domain != from {
        if let Some(sp) = record.subdomain_policy {
            (which, policy) = ("sp", sp);
        }
        if let Some(np) = record.nonexistent_policy {
            match r.a(&from).await {
                Err(crate::dns::Error::NxDomain) => (which, policy) = ("np", np),
                Err(e) if e.is_temporary() => {
                    out.result = DmarcResult::TempError;
                    out.reason = format!("{from}: {e}");
                    return out;
                }
                _ => {}
            }
        }
    }
    // §6.6.4: pct samples failing messages; the others get the next weaker policy.
    let sampled = pct_draw % 100 < record.pct;
    out.policy = if sampled { policy } else { policy.weaker() };
    out.reason = format!(
        "no aligned SPF or DKIM pass; {which}={}{}",
        policy.as_str(),
        if sampled {
            String::new()
        } else {
            format!(", not sampled by pct={}", record.pct)
        }
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::mock::MockResolver;
    use crate::dns::{Error, RecordType, Records};
    use futures_lite::future::block_on;
    use std::net::Ipv4Addr;

    fn txt(v: &[&str]) -> Records {
        Records::Txt(v.iter().map(|s| s.to_string()).collect())
    }

    fn psl() -> PublicSuffixList {
        PublicSuffixList::builtin()
    }

    fn eval(
        r: &MockResolver,
        from: &str,
        spf: Option<(&str, SpfVerdict)>,
        dkim: &[(&str, bool)],
        draw: u8,
    ) -> DmarcOutcome {
        block_on(evaluate(r, &psl(), from, spf, dkim, draw))
    }

    fn rec(p: Disposition) -> DmarcRecord {
        DmarcRecord {
            policy: p,
            subdomain_policy: None,
            nonexistent_policy: None,
            adkim: Alignment::Relaxed,
            aspf: Alignment::Relaxed,
            pct: 100,
        }
    }

    #[test]
    fn parses_the_appendix_b2_records() {
        // B.2.1: entire domain, monitoring only.
        assert_eq!(
            DmarcRecord::parse("v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com"),
            Ok(rec(Disposition::None))
        );
        // B.2.2/B.2.3: failure reports to a third party.
        assert_eq!(
            DmarcRecord::parse(
                "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com; \
                 ruf=mailto:auth-reports@thirdparty.example.net"
            ),
            Ok(rec(Disposition::None))
        );
        // B.2.4: subdomain, sampling, several report destinations with a size limit.
        assert_eq!(
            DmarcRecord::parse(
                "v=DMARC1; p=quarantine; rua=mailto:dmarc-feedback@example.com,\
                 mailto:tld-test@thirdparty.example.net!10m; pct=25"
            ),
            Ok(DmarcRecord {
                pct: 25,
                ..rec(Disposition::Quarantine)
            })
        );
    }

    #[test]
    fn parses_tags_leniently() {
        let r = DmarcRecord::parse(
            "v = DMARC1 ;P=Reject;sp=QUARANTINE; np=reject ;adkim=s;aspf=S;pct=0;fo=1;rf=afrf;\
             ri=86400;future=x;;junk",
        )
        .unwrap();
        assert_eq!(
            r,
            DmarcRecord {
                policy: Disposition::Reject,
                subdomain_policy: Some(Disposition::Quarantine),
                nonexistent_policy: Some(Disposition::Reject),
                adkim: Alignment::Strict,
                aspf: Alignment::Strict,
                pct: 0,
            }
        );
        assert_eq!(DmarcRecord::parse(&r.to_txt()), Ok(r));
        // Bad optional values: defaults; a repeated tag does not count.
        let r =
            DmarcRecord::parse("v=DMARC1; p=reject; adkim=x; adkim=s; pct=101; pct=50").unwrap();
        assert_eq!((r.adkim, r.pct), (Alignment::Relaxed, 100));
        assert_eq!(
            DmarcRecord::parse("v=DMARC1; p=reject; pct=-1")
                .unwrap()
                .pct,
            100
        );
        assert_eq!(
            DmarcRecord::parse("v=DMARC1; p=reject; p=none")
                .unwrap()
                .policy,
            Disposition::Reject
        );
    }

    #[test]
    fn rejects_what_is_not_a_policy_record() {
        for t in [
            "",
            "v=spf1 -all",
            "p=reject; v=DMARC1",
            "v=DMARC10; p=reject",
            "v=dmarc1; p=reject",
            " x v=DMARC1; p=reject",
        ] {
            assert_eq!(DmarcRecord::parse(t), Err(RecordError::NotDmarc), "{t:?}");
        }
        assert_eq!(DmarcRecord::parse("v=DMARC1"), Err(RecordError::BadPolicy));
        assert_eq!(
            DmarcRecord::parse("v=DMARC1; p=bogus; rua=not a uri"),
            Err(RecordError::BadPolicy)
        );
        assert_eq!(
            DmarcRecord::parse("v=DMARC1; p=reject; sp=maybe"),
            Err(RecordError::BadSubdomainPolicy)
        );
        // §6.6.3 step 6: a valid rua URI makes a broken p (or sp) act as p=none.
        assert_eq!(
            DmarcRecord::parse("v=DMARC1; p=bogus; rua=mailto:r@example.com"),
            Ok(rec(Disposition::None))
        );
        assert_eq!(
            DmarcRecord::parse("v=DMARC1; p=reject; sp=x; rua=mailto:r@example.com"),
            Ok(rec(Disposition::None))
        );
    }

    /// `_dmarc.example.com` with `record`, and A records for example.com and child.example.com.
    fn example(record: &str) -> MockResolver {
        MockResolver::new()
            .with("_dmarc.example.com", txt(&[record]))
            .with("example.com", Records::A(vec![Ipv4Addr::new(192, 0, 2, 1)]))
            .with(
                "child.example.com",
                Records::A(vec![Ipv4Addr::new(192, 0, 2, 2)]),
            )
    }

    const PASS: SpfVerdict = SpfVerdict::Pass;

    #[test]
    fn appendix_b1_spf_alignment() {
        let relaxed = example("v=DMARC1; p=reject");
        let strict = example("v=DMARC1; p=reject; aspf=s");
        // B.1.1: MAIL FROM and From in the same domain: aligned either way.
        for r in [&relaxed, &strict] {
            let o = eval(r, "example.com", Some(("example.com", PASS)), &[], 0);
            assert_eq!(o.result, DmarcResult::Pass);
            assert!(o.spf_aligned && !o.dkim_aligned);
        }
        // MAIL FROM in a subdomain: relaxed only.
        let o = eval(
            &relaxed,
            "example.com",
            Some(("child.example.com", PASS)),
            &[],
            0,
        );
        assert_eq!(o.result, DmarcResult::Pass);
        let o = eval(
            &strict,
            "example.com",
            Some(("child.example.com", PASS)),
            &[],
            0,
        );
        assert_eq!(
            (o.result, o.policy),
            (DmarcResult::Fail, Disposition::Reject)
        );
        // Another organization: never.
        let o = eval(&relaxed, "example.com", Some(("example.org", PASS)), &[], 0);
        assert_eq!(o.result, DmarcResult::Fail);
        // An address instead of a domain.
        let o = eval(
            &strict,
            "example.com",
            Some(("a@b@Example.com", PASS)),
            &[],
            0,
        );
        assert_eq!(o.result, DmarcResult::Pass);
        // Aligned but not an SPF pass.
        let o = eval(
            &relaxed,
            "example.com",
            Some(("example.com", SpfVerdict::NotPass)),
            &[],
            0,
        );
        assert_eq!(o.result, DmarcResult::Fail);
    }

    #[test]
    fn appendix_b1_dkim_alignment() {
        let relaxed = example("v=DMARC1; p=reject");
        let strict = example("v=DMARC1; p=reject; adkim=s");
        // B.1.2: d= and From the same: aligned either way.
        for r in [&relaxed, &strict] {
            let o = eval(r, "Example.COM.", None, &[("example.com", true)], 0);
            assert_eq!(o.result, DmarcResult::Pass);
            assert!(o.dkim_aligned);
            assert_eq!(o.from_domain, "example.com");
        }
        // d= a subdomain: relaxed only.
        let o = eval(
            &relaxed,
            "example.com",
            None,
            &[("child.example.com", true)],
            0,
        );
        assert_eq!(o.result, DmarcResult::Pass);
        let o = eval(
            &strict,
            "example.com",
            None,
            &[("child.example.com", true)],
            0,
        );
        assert_eq!(o.result, DmarcResult::Fail);
        // Another organization, or an aligned signature that failed.
        let o = eval(
            &relaxed,
            "example.com",
            None,
            &[("example.org", true), ("example.com", false)],
            0,
        );
        assert_eq!(o.result, DmarcResult::Fail);
        // One aligned pass among others is enough.
        let o = eval(
            &relaxed,
            "example.com",
            Some(("example.org", PASS)),
            &[("example.org", true), ("example.com", true)],
            0,
        );
        assert_eq!(o.result, DmarcResult::Pass);
        assert!(!o.spf_aligned && o.dkim_aligned);
    }

    #[test]
    fn appendix_b1_subdomain_from_falls_back_to_the_org_record() {
        // B.1.3: From in child.example.com, the record at example.com, relaxed alignment.
        let r = example("v=DMARC1; p=reject");
        let o = eval(&r, "child.example.com", Some(("example.com", PASS)), &[], 0);
        assert_eq!(o.result, DmarcResult::Pass);
        assert_eq!(o.policy_domain.as_deref(), Some("example.com"));
        assert_eq!(
            r.queries(),
            vec![
                ("_dmarc.child.example.com".to_string(), RecordType::Txt),
                ("_dmarc.example.com".to_string(), RecordType::Txt),
            ]
        );
        // A deeper name goes straight to the Organizational Domain (not every ancestor).
        let r = example("v=DMARC1; p=reject");
        let o = eval(&r, "a.b.example.com", None, &[], 0);
        assert_eq!(o.result, DmarcResult::Fail);
        assert_eq!(r.queries()[1].0, "_dmarc.example.com");
        // With the built-in list, co.uk is a suffix.
        let r = MockResolver::new().with("_dmarc.example.co.uk", txt(&["v=DMARC1; p=quarantine"]));
        let o = eval(
            &r,
            "mail.example.co.uk",
            None,
            &[("example.co.uk", true)],
            0,
        );
        assert_eq!(o.result, DmarcResult::Pass);
    }

    #[test]
    fn subdomain_and_nonexistent_domain_policies() {
        let r = example("v=DMARC1; p=reject; sp=quarantine; np=none");
        // The From domain itself: p.
        let o = eval(&r, "example.com", None, &[], 0);
        assert_eq!(o.policy, Disposition::Reject);
        // An existing subdomain without its own record: sp.
        let o = eval(&r, "child.example.com", None, &[], 0);
        assert_eq!(o.policy, Disposition::Quarantine);
        assert!(o.reason.contains("sp=quarantine"), "{}", o.reason);
        // A subdomain that does not exist: np (RFC 9091).
        let o = eval(&r, "ghost.example.com", None, &[], 0);
        assert_eq!(o.policy, Disposition::None);
        assert!(o.reason.contains("np=none"), "{}", o.reason);
        // Without sp, p covers subdomains.
        let r = example("v=DMARC1; p=quarantine");
        let o = eval(&r, "ghost.example.com", None, &[], 0);
        assert_eq!(o.policy, Disposition::Quarantine);
        // A subdomain's own record wins, and its sp does not apply to itself.
        let r = example("v=DMARC1; p=reject").with(
            "_dmarc.child.example.com",
            txt(&["v=DMARC1; p=none; sp=reject"]),
        );
        let o = eval(&r, "child.example.com", None, &[], 0);
        assert_eq!(o.policy_domain.as_deref(), Some("child.example.com"));
        assert_eq!((o.result, o.policy), (DmarcResult::Fail, Disposition::None));
        // A temporary failure checking existence for np.
        let r = example("v=DMARC1; p=reject; np=reject").with_error(
            "flaky.example.com",
            RecordType::A,
            Error::Timeout,
        );
        let o = eval(&r, "flaky.example.com", None, &[], 0);
        assert_eq!(
            (o.result, o.policy),
            (DmarcResult::TempError, Disposition::None)
        );
    }

    #[test]
    fn pct_samples_failing_messages() {
        // B.2.4: quarantine 25% of the failing mail of test.example.com.
        let r = MockResolver::new().with(
            "_dmarc.test.example.com",
            txt(&["v=DMARC1; p=quarantine; rua=mailto:dmarc-feedback@example.com; pct=25"]),
        );
        let policies: Vec<Disposition> = [0, 24, 25, 99, 124, 125]
            .iter()
            .map(|&d| eval(&r, "test.example.com", None, &[], d).policy)
            .collect();
        use Disposition::{Quarantine, Reject};
        assert_eq!(
            policies,
            [
                Quarantine,
                Quarantine,
                Disposition::None,
                Disposition::None,
                Quarantine,
                Disposition::None
            ]
        );
        // Not sampled: reject becomes quarantine.
        let r = example("v=DMARC1; p=reject; pct=50");
        assert_eq!(eval(&r, "example.com", None, &[], 49).policy, Reject);
        let o = eval(&r, "example.com", None, &[], 50);
        assert_eq!((o.result, o.policy), (DmarcResult::Fail, Quarantine));
        assert!(o.reason.contains("pct=50"), "{}", o.reason);
        // pct=0 never applies the policy; pct=100 always does, whatever the draw.
        let r = example("v=DMARC1; p=reject; pct=0");
        assert_eq!(eval(&r, "example.com", None, &[], 0).policy, Quarantine);
        let r = example("v=DMARC1; p=reject");
        assert_eq!(eval(&r, "example.com", None, &[], 255).policy, Reject);
        // A pass has no disposition.
        let o = eval(&r, "example.com", None, &[("example.com", true)], 0);
        assert_eq!(o.policy, Disposition::None);
    }

    #[test]
    fn one_dmarc_record_or_none() {
        // Other TXT records at the name are not DMARC records.
        let r = example("v=DMARC1; p=reject")
            .with("_dmarc.child.example.com", txt(&["v=spf1 -all", "hello"]));
        let o = eval(&r, "child.example.com", None, &[], 0);
        assert_eq!(o.policy_domain.as_deref(), Some("example.com"));
        assert_eq!(o.result, DmarcResult::Fail);
        // Two DMARC records: no policy, and no fallback to the Organizational Domain.
        let r = example("v=DMARC1; p=reject").with(
            "_dmarc.child.example.com",
            txt(&["v=DMARC1; p=none", "v=DMARC1; p=reject"]),
        );
        let o = eval(&r, "child.example.com", None, &[], 0);
        assert_eq!((o.result, o.policy), (DmarcResult::None, Disposition::None));
        assert_eq!(r.queries().len(), 1);
        // Two at the Organizational Domain (one broken): no policy either.
        let r = example("v=DMARC1; p=reject").with(
            "_dmarc.example.com",
            txt(&["v=DMARC1; p=reject", "v=DMARC1; p="]),
        );
        assert_eq!(
            eval(&r, "example.com", None, &[], 0).result,
            DmarcResult::None
        );
        // Nothing anywhere.
        let r = MockResolver::new();
        let o = eval(&r, "mail.example.net", Some(("example.net", PASS)), &[], 0);
        assert_eq!(
            (o.result, o.policy, o.policy_domain),
            (DmarcResult::None, Disposition::None, Option::None)
        );
    }

    #[test]
    fn dns_failures_are_temperror_and_broken_records_permerror() {
        let r = example("v=DMARC1; p=reject").with_error(
            "_dmarc.child.example.com",
            RecordType::Txt,
            Error::ServFail,
        );
        let o = eval(&r, "child.example.com", None, &[], 0);
        assert_eq!(
            (o.result, o.policy),
            (DmarcResult::TempError, Disposition::None)
        );
        assert!(
            o.reason.contains("_dmarc.child.example.com"),
            "{}",
            o.reason
        );
        let r =
            MockResolver::new().with_error("_dmarc.example.com", RecordType::Txt, Error::Timeout);
        let o = eval(&r, "child.example.com", None, &[], 0);
        assert_eq!(o.result, DmarcResult::TempError);
        // NODATA is "no record", not an error.
        let r = MockResolver::new().with("_dmarc.example.com", Records::A(vec![]));
        assert_eq!(
            eval(&r, "example.com", None, &[], 0).result,
            DmarcResult::None
        );
        // A DMARC record without a valid p.
        let r = example("v=DMARC1; p=bogus");
        let o = eval(&r, "example.com", None, &[("example.com", true)], 0);
        assert_eq!(
            (o.result, o.policy),
            (DmarcResult::PermError, Disposition::None)
        );
        assert_eq!(o.policy_domain.as_deref(), Some("example.com"));
        // A From domain that is not a name: nothing asked.
        let r = MockResolver::new();
        for bad in ["", "a..b", "exa mple.com", "."] {
            assert_eq!(eval(&r, bad, None, &[], 0).result, DmarcResult::None);
        }
        assert!(r.queries().is_empty());
    }

    #[test]
    fn internationalized_from_domains_are_looked_up_as_a_labels() {
        let r =
            MockResolver::new().with("_dmarc.xn--bcher-kva.example", txt(&["v=DMARC1; p=reject"]));
        let o = eval(
            &r,
            "Bücher.example",
            None,
            &[("xn--bcher-kva.example", true)],
            0,
        );
        assert_eq!(o.result, DmarcResult::Pass);
        assert_eq!(o.from_domain, "xn--bcher-kva.example");
    }
}

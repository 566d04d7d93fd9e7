//! Sender authentication of one inbound message on the MX role: SPF for the MAIL FROM identity
//! (RFC 7208), every DKIM signature (RFC 6376, the body hashed while it streamed in), DMARC for
//! the From: domain (RFC 7489), the ARC chain (RFC 8617, reported only) and the client's
//! reverse DNS (`iprev`), summed up in one `Authentication-Results:` field (RFC 8601).
//!
//! Invariants: everything runs under one deadline (`smtp.check_timeout_ms`); what did not finish
//! counts as `temperror`, never as a failure, so a slow resolver cannot get mail rejected; the
//! public suffix list is read once, on the blocking pool, when the first message needs it (an
//! idle server never holds it); the field is built only from values `message::auth_results`
//! quotes and folds, so nothing from the message can add a header line.

use super::evidence::{self, ClientEvidence};
use crate::dkim::arc::{self, ArcOutcome};
use crate::dkim::verify::{self, DkimResult, Pending, SignatureResult};
use crate::dmarc::psl::PublicSuffixList;
use crate::dmarc::{self, Disposition, DmarcOutcome, DmarcResult, SpfVerdict};
use crate::dns::stub::StubResolver;
use crate::message::auth_results::{AuthResult, AuthResults};
use crate::message::submit::from_addresses;
use crate::spf::{self, Limits, SpfResult};
use std::net::IpAddr;
use std::rc::Rc;
use std::time::Duration;

/// The public suffix list, loaded on first use.
#[derive(Debug, Default)]
pub struct Psl(async_lock::OnceCell<Rc<PublicSuffixList>>);

impl Psl {
    async fn get(&self) -> Rc<PublicSuffixList> {
        self.0
            .get_or_init(|| async {
                Rc::new(blocking::unblock(PublicSuffixList::system_blocking).await)
            })
            .await
            .clone()
    }
}

/// What the checks share across messages: the resolver of the configured nameservers and the
/// public suffix list.
#[derive(Debug)]
pub struct Checker {
    /// The resolver (shared with the outbound queue).
    pub resolver: Rc<crate::dns::stub::ConfiguredResolver>,
    /// The public suffix list, loaded on first use.
    pub psl: Psl,
}

/// The message as the checks see it.
pub struct Message<'a> {
    /// The client's address.
    pub client: IpAddr,
    /// Its HELO name.
    pub helo: &'a str,
    /// MAIL FROM (empty for the null sender).
    pub mail_from: &'a str,
    /// The header section (forged Authentication-Results already removed).
    pub header: &'a [u8],
    /// DKIM signatures and the ARC chain with their body hashes computed.
    pub dkim: Pending,
    /// DNS blocklist zones to ask about the client.
    pub dnsbl_zones: &'a [String],
}

/// What the checks found.
#[derive(Debug)]
pub struct Verdict {
    /// The `Authentication-Results:` field, ending in CRLF.
    pub field: String,
    /// The SPF result for MAIL FROM.
    pub spf: SpfResult,
    /// One result per DKIM signature.
    pub dkim: Vec<SignatureResult>,
    /// The DMARC outcome.
    pub dmarc: DmarcOutcome,
    /// The ARC chain's status (`None` when the checks ran out of time before it).
    pub arc: Option<ArcOutcome>,
    /// What reverse DNS says about the client.
    pub client: ClientEvidence,
}

impl Verdict {
    /// What the From: domain's owner asked for this message.
    pub fn disposition(&self) -> Disposition {
        if self.dmarc.result == DmarcResult::Fail {
            self.dmarc.policy
        } else {
            Disposition::None
        }
    }
}

fn spf_result(r: SpfResult) -> AuthResult {
    match r {
        SpfResult::None => AuthResult::None,
        SpfResult::Neutral => AuthResult::Neutral,
        SpfResult::Pass => AuthResult::Pass,
        SpfResult::Fail => AuthResult::Fail,
        SpfResult::SoftFail => AuthResult::SoftFail,
        SpfResult::TempError => AuthResult::TempError,
        SpfResult::PermError => AuthResult::PermError,
    }
}

fn dkim_result(r: &DkimResult) -> AuthResult {
    match r {
        DkimResult::Pass => AuthResult::Pass,
        DkimResult::Fail(_) => AuthResult::Fail,
        DkimResult::Neutral(_) => AuthResult::Neutral,
        DkimResult::TempError(_) => AuthResult::TempError,
        DkimResult::PermError(_) => AuthResult::PermError,
        DkimResult::Policy(_) => AuthResult::Policy,
    }
}

fn timed_out_dmarc(from_domain: &str) -> DmarcOutcome {
    DmarcOutcome {
        result: DmarcResult::TempError,
        policy: Disposition::None,
        from_domain: from_domain.to_string(),
        policy_domain: None,
        spf_aligned: false,
        dkim_aligned: false,
        reason: "checks timed out".into(),
    }
}

/// Runs the checks for `m`; `authserv_id` is our host name.
pub async fn check(
    r: &StubResolver,
    psl: &Psl,
    authserv_id: &str,
    m: Message<'_>,
    now: u64,
    deadline: Duration,
) -> Verdict {
    // RFC 7489 §6.6.1: exactly one From address, whose domain is the one evaluated.
    let from_domain = match from_addresses(m.header).as_deref() {
        Some([one]) => one.rsplit_once('@').map(|(_, d)| d.to_string()),
        _ => None,
    };
    let from_domain_text = from_domain.clone().unwrap_or_default();
    let work = async {
        let spf = spf::verify_mail_from(r, m.client, m.mail_from, m.helo, &Limits::default()).await;
        let dkim = verify::verify(m.dkim.signatures, r, now).await;
        let arc = arc::verify(m.dkim.arc, r).await;
        let dmarc = match &from_domain {
            Some(domain) => {
                let psl = psl.get().await;
                let mail_from_domain = if m.mail_from.is_empty() {
                    m.helo.to_string()
                } else {
                    m.mail_from
                        .rsplit_once('@')
                        .map_or(m.mail_from, |(_, d)| d)
                        .to_string()
                };
                let spf_verdict = if spf.result == SpfResult::Pass {
                    SpfVerdict::Pass
                } else {
                    SpfVerdict::NotPass
                };
                let passes: Vec<(&str, bool)> = dkim
                    .iter()
                    .map(|s| (s.domain.as_str(), s.result == DkimResult::Pass))
                    .collect();
                let mut draw = [0u8; 1];
                let _ = getrandom::fill(&mut draw);
                dmarc::evaluate(
                    r,
                    &psl,
                    domain,
                    Some((&mail_from_domain, spf_verdict)),
                    &passes,
                    draw[0] % 100,
                )
                .await
            }
            None => DmarcOutcome {
                result: DmarcResult::PermError,
                policy: Disposition::None,
                from_domain: String::new(),
                policy_domain: None,
                spf_aligned: false,
                dkim_aligned: false,
                reason: "no single From address".into(),
            },
        };
        let client = evidence::gather(r, m.client, m.helo, m.dnsbl_zones, deadline).await;
        (spf.result, dkim, dmarc, Some(arc), client)
    };
    let timer = async {
        async_io::Timer::after(deadline).await;
        None
    };
    let (spf, dkim, dmarc, arc, client) =
        futures_lite::future::or(async { Some(work.await) }, timer)
            .await
            .unwrap_or_else(|| {
                let client = ClientEvidence {
                    incomplete: true,
                    ..ClientEvidence::default()
                };
                (
                    SpfResult::TempError,
                    Vec::new(),
                    timed_out_dmarc(&from_domain_text),
                    None,
                    client,
                )
            });
    let mut ar = AuthResults::new(authserv_id);
    let mail_from = (!m.mail_from.is_empty()).then_some(m.mail_from);
    let helo = mail_from.is_none().then_some(m.helo);
    ar.spf(spf_result(spf), mail_from, helo);
    for s in &dkim {
        ar.dkim(dkim_result(&s.result), &s.domain, &s.selector, &s.header_b);
    }
    ar.dmarc(&dmarc);
    if let Some(arc) = &arc {
        ar.arc(arc);
    }
    // RFC 8601 §2.7.3: pass when a PTR name resolves back to the address.
    let iprev = match (&client.ptr, client.fcrdns, client.incomplete) {
        (_, true, _) => AuthResult::Pass,
        (_, false, true) => AuthResult::TempError,
        (Some(_), false, false) => AuthResult::Fail,
        (None, false, false) => AuthResult::PermError,
    };
    ar.iprev(iprev, &m.client.to_string());
    Verdict {
        field: ar.to_header(),
        spf,
        dkim,
        dmarc,
        arc,
        client,
    }
}

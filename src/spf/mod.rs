//! SPF (RFC 7208): is this client address authorised to send mail for this domain?
//!
//! [`check_host`] is the `check_host()` function of RFC 7208 §4; [`verify_mail_from`] and
//! [`verify_helo`] pick its arguments for the two identities an SMTP server checks (§2.3, §2.4).
//! The MX role calls them with the connection's [`Resolver`] and records the
//! [`SpfOutcome`] in logs and `Authentication-Results` (RFC 8601 keywords from
//! [`SpfResult::as_str`]).
//!
//! Owns: `record` (record selection §4.5 and the ABNF of §12), `macros` (§7), `eval` (the
//! evaluation of §4.6–§6 and the processing limits of §4.6.4).
//!
//! Invariants:
//! - No panics and no unbounded work on any input: every record is bounded by the resolver's
//!   answer size, every macro expansion by a cap, every list (MX names, PTR names, terms) by a
//!   limit, the recursion through include/redirect by [`Limits::dns_lookups`] and a hard depth
//!   cap, the number of DNS queries by [`Limits::max_queries`] and the elapsed time by
//!   [`Limits::timeout`] (§4.6.4, §11.1).
//! - Temporary DNS failures give TempError; permanent absence gives None, no-match or PermError
//!   as §4–§6 say; nothing here retries.
//! - Futures are `!Send` like the resolver's and run on the executor thread.

mod eval;
mod macros;
mod record;

use std::net::IpAddr;
use std::time::Duration;

use crate::dns::Resolver;

/// The result of an SPF check (RFC 7208 §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpfResult {
    /// No syntactically valid domain, or no SPF record (§2.6.1).
    None,
    /// The domain makes no assertion (§2.6.2).
    Neutral,
    /// The client is authorised (§2.6.3).
    Pass,
    /// The client is not authorised (§2.6.4).
    Fail,
    /// Probably not authorised (§2.6.5).
    SoftFail,
    /// A transient (DNS) error; try later (§2.6.6).
    TempError,
    /// The record could not be interpreted (§2.6.7).
    PermError,
}

impl SpfResult {
    /// The RFC 8601 §2.7.2 result keyword (`spf=...` in `Authentication-Results`).
    pub fn as_str(self) -> &'static str {
        match self {
            SpfResult::None => "none",
            SpfResult::Neutral => "neutral",
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::SoftFail => "softfail",
            SpfResult::TempError => "temperror",
            SpfResult::PermError => "permerror",
        }
    }
}

impl std::fmt::Display for SpfResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfOutcome {
    /// The result.
    pub result: SpfResult,
    /// For Fail only: the domain's `exp=` explanation, macro-expanded, 7-bit ASCII and at most
    /// [`Limits::max_explanation`] bytes (§6.2). `None` when there is none or it is unusable.
    pub explanation: Option<String>,
    /// The term that decided the result as written in the record (e.g. `-all`,
    /// `ip4:192.0.2.0/24`); for a result reached through `redirect=`, the term of the target's
    /// record. `None` for defaults, None and errors.
    pub mechanism: Option<String>,
    /// DNS-querying terms evaluated (include, a, mx, ptr, exists, redirect; §4.6.4).
    pub lookups: u32,
}

/// Processing limits (RFC 7208 §4.6.4, §11.1). The defaults are the RFC's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Terms that cause DNS queries (include, a, mx, ptr, exists, redirect); more is PermError.
    /// RFC: 10.
    pub dns_lookups: u32,
    /// Lookups answered NXDOMAIN or with no records; more is PermError. RFC: 2.
    pub void_lookups: u32,
    /// MX names one `mx` term may have; more is PermError. RFC: 10.
    pub mx_names: usize,
    /// PTR names one `ptr` term (or the `p` macro) looks at; the rest are ignored. RFC: 10.
    pub ptr_names: usize,
    /// DNS queries one check may make in all, a backstop above what the limits above allow
    /// (about 125 with the defaults); more is PermError.
    pub max_queries: u32,
    /// Wall-clock budget for one check; exceeding it is TempError (RFC: at least 20 s).
    pub timeout: Duration,
    /// Longest explanation returned, in bytes.
    pub max_explanation: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            dns_lookups: 10,
            void_lookups: 2,
            mx_names: 10,
            ptr_names: 10,
            max_queries: 130,
            timeout: Duration::from_secs(20),
            max_explanation: 512,
        }
    }
}

/// RFC 7208 §4 `check_host()`: evaluates the SPF policy of `domain` for a client at `ip` that
/// claims `sender` (`local@domain`; without a local-part "postmaster" is used, §4.3) and greeted
/// with `helo`. IPv4-mapped IPv6 addresses are checked as IPv4 (§5).
pub async fn check_host<R: Resolver + ?Sized>(
    r: &R,
    ip: IpAddr,
    domain: &str,
    sender: &str,
    helo: &str,
    limits: &Limits,
) -> SpfOutcome {
    eval::run(r, ip, domain, sender, helo, limits).await
}

/// The MAIL FROM identity (§2.4): `mail_from` is the reverse-path address (angle brackets
/// optional). For the null reverse-path the identity is `postmaster@<helo>` (§2.4).
pub async fn verify_mail_from<R: Resolver + ?Sized>(
    r: &R,
    ip: IpAddr,
    mail_from: &str,
    helo: &str,
    limits: &Limits,
) -> SpfOutcome {
    let addr = mail_from
        .strip_prefix('<')
        .and_then(|a| a.strip_suffix('>'))
        .unwrap_or(mail_from);
    if addr.is_empty() {
        return verify_helo(r, ip, helo, limits).await;
    }
    let domain = addr.rsplit_once('@').map_or(addr, |(_, d)| d);
    check_host(r, ip, domain, addr, helo, limits).await
}

/// The HELO identity (§2.3): `check_host(ip, helo, "postmaster@" helo)`. An address literal or a
/// name that is not a fully qualified domain gives None (§2.3, §4.3).
pub async fn verify_helo<R: Resolver + ?Sized>(
    r: &R,
    ip: IpAddr,
    helo: &str,
    limits: &Limits,
) -> SpfOutcome {
    let sender = format!("postmaster@{helo}");
    check_host(r, ip, helo, &sender, helo, limits).await
}

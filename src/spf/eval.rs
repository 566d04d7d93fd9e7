//! Evaluation of a domain's SPF policy (RFC 7208 §4.6–§6) with the processing limits of §4.6.4.
//!
//! Invariants:
//! - One [`Ctx`] per check holds every counter: DNS-querying terms (§4.6.4 limit 10, include and
//!   redirect included), void lookups (§4.6.4 limit 2), and all queries made (a backstop). Every
//!   DNS query goes through [`Ctx`] so none escapes the budget.
//! - include/redirect recurse through a boxed future; each level costs a counted lookup, and
//!   depth is also capped at [`MAX_DEPTH`], so recursion is bounded whatever the limits say.
//! - The `exp=` explanation is fetched once, after the result is known and only for Fail; its
//!   lookups count toward neither limit (§6.2, §4.6.4).

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;

use super::macros::{Env, Kind, MacroString};
use super::record::{self, Mechanism, Selection};
use super::{Limits, SpfOutcome, SpfResult};
use crate::dns::{Resolver, normalize_name};

/// Nesting of include/redirect beyond which the check is a PermError, whatever the limits.
const MAX_DEPTH: u32 = 20;

/// Longest macro expansion kept (a domain is then cut to 253 octets, §7.3).
const EXPANSION_CAP: usize = 4096;

/// Why evaluation stopped before a result was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Perm,
    Temp,
}

type Flow<T> = Result<T, Stop>;

/// The result of evaluating one domain's record.
struct Eval {
    result: SpfResult,
    mechanism: Option<String>,
    /// The deciding record's `exp=` and the domain it was found at.
    exp: Option<(MacroString, String)>,
}

impl Eval {
    fn bare(result: SpfResult) -> Eval {
        Eval {
            result,
            mechanism: None,
            exp: None,
        }
    }
}

struct Ctx<'a, R: Resolver + ?Sized> {
    r: &'a R,
    ip: IpAddr,
    sender: String,
    local: String,
    sender_domain: String,
    helo: &'a str,
    limits: &'a Limits,
    lookups: u32,
    voids: u32,
    queries: u32,
    /// The names that validated for `ip` (`p` macro, §7.3), once looked up.
    validated: Option<Vec<String>>,
}

pub(super) async fn run<R: Resolver + ?Sized>(
    r: &R,
    ip: IpAddr,
    domain: &str,
    sender: &str,
    helo: &str,
    limits: &Limits,
) -> SpfOutcome {
    // §5: an IPv4-mapped IPv6 address is an IPv4 address.
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    // §4.3: without a local-part, "postmaster".
    let (local, sender_domain) = match sender.rsplit_once('@') {
        Some(("", d)) => ("postmaster", d),
        Some((l, d)) => (l, d),
        None => ("postmaster", sender),
    };
    let mut ctx = Ctx {
        r,
        ip,
        sender: format!("{local}@{sender_domain}"),
        local: local.to_string(),
        sender_domain: sender_domain.to_string(),
        helo,
        limits,
        lookups: 0,
        voids: 0,
        queries: 0,
        validated: None,
    };
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let outcome = {
        let evaluate = async {
            let eval = match check(&mut ctx, domain.to_string(), 0).await {
                Ok(e) => e,
                Err(Stop::Perm) => Eval::bare(SpfResult::PermError),
                Err(Stop::Temp) => Eval::bare(SpfResult::TempError),
            };
            let explanation = match (&eval.result, &eval.exp) {
                (SpfResult::Fail, Some((spec, at))) => explain(&mut ctx, spec, at).await,
                _ => None,
            };
            Some((eval.result, eval.mechanism, explanation))
        };
        let timeout = async {
            async_io::Timer::after(limits.timeout).await;
            None
        };
        futures_lite::future::or(evaluate, timeout).await
    };
    match outcome {
        Some((result, mechanism, explanation)) => SpfOutcome {
            result,
            explanation,
            mechanism,
            lookups: ctx.lookups,
        },
        // §4.6.4: exceeding the elapsed-time limit SHOULD be TempError.
        None => SpfOutcome {
            result: SpfResult::TempError,
            explanation: None,
            mechanism: None,
            lookups: ctx.lookups,
        },
    }
}

/// §4.3: a domain we can evaluate: a valid DNS name of at least two labels, ASCII, not an
/// address literal.
fn valid_domain(d: &str) -> Option<String> {
    if !d.is_ascii() || d.starts_with('[') {
        return None;
    }
    let n = normalize_name(d).ok()?;
    n.contains('.').then_some(n)
}

/// `check_host()` for one domain (§4): select (§4.4, §4.5), parse (§4.6), evaluate (§4.6.2),
/// redirect (§6.1), default Neutral (§4.7).
fn check<'c, 'a: 'c, R: Resolver + ?Sized>(
    ctx: &'c mut Ctx<'a, R>,
    domain: String,
    depth: u32,
) -> Pin<Box<dyn Future<Output = Flow<Eval>> + 'c>> {
    Box::pin(async move {
        if depth > MAX_DEPTH {
            return Err(Stop::Perm);
        }
        let Some(domain) = valid_domain(&domain) else {
            return Ok(Eval::bare(SpfResult::None));
        };
        ctx.budget()?;
        let txts = match ctx.r.txt(&domain).await {
            Ok(t) => t,
            // §4.3, §4.4: NXDOMAIN or no records: None.
            Err(e) if !e.is_temporary() => return Ok(Eval::bare(SpfResult::None)),
            // §4.4: other DNS errors: TempError.
            Err(_) => return Err(Stop::Temp),
        };
        let text = match record::select(&txts) {
            Selection::None => return Ok(Eval::bare(SpfResult::None)),
            // §4.5: more than one record: PermError.
            Selection::Many => return Err(Stop::Perm),
            Selection::One(t) => t,
        };
        let rec = record::parse(text).map_err(|_| Stop::Perm)?;
        for d in &rec.directives {
            if ctx.matches(&d.mechanism, &domain, depth).await? {
                return Ok(Eval {
                    result: d.qualifier.result(),
                    mechanism: Some(d.text.clone()),
                    exp: rec.exp.clone().map(|e| (e, domain.clone())),
                });
            }
        }
        // §6.1: redirect applies only when no mechanism matched; the original exp= is dropped.
        if let Some(spec) = &rec.redirect {
            ctx.count_lookup()?;
            let target = ctx.target(spec, &domain).await?.unwrap_or_default();
            let inner = check(ctx, target, depth + 1).await?;
            if inner.result == SpfResult::None {
                return Err(Stop::Perm);
            }
            return Ok(inner);
        }
        // §4.7: no match, no redirect: Neutral.
        Ok(Eval {
            result: SpfResult::Neutral,
            mechanism: None,
            exp: rec.exp.clone().map(|e| (e, domain.clone())),
        })
    })
}

impl<R: Resolver + ?Sized> Ctx<'_, R> {
    /// §4.6.4: at most `dns_lookups` terms that query DNS.
    fn count_lookup(&mut self) -> Flow<()> {
        self.lookups += 1;
        if self.lookups > self.limits.dns_lookups {
            Err(Stop::Perm)
        } else {
            Ok(())
        }
    }

    /// §4.6.4: at most `void_lookups` answers with nothing in them.
    fn void(&mut self) -> Flow<()> {
        self.voids += 1;
        if self.voids > self.limits.void_lookups {
            Err(Stop::Perm)
        } else {
            Ok(())
        }
    }

    /// Every query takes one unit of the total budget.
    fn budget(&mut self) -> Flow<()> {
        self.queries += 1;
        if self.queries > self.limits.max_queries {
            Err(Stop::Perm)
        } else {
            Ok(())
        }
    }

    fn env<'e>(&'e self, domain: &'e str, validated: Option<&'e str>) -> Env<'e> {
        Env {
            sender: &self.sender,
            local: &self.local,
            sender_domain: &self.sender_domain,
            domain,
            ip: self.ip,
            helo: self.helo,
            validated,
            receiver: "unknown",
            now: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }

    /// The `p` value for `domain` (§7.3): a validated name equal to or under `domain` if any,
    /// else any validated name, else "unknown" (`None`).
    async fn p_value(&mut self, domain: &str) -> Flow<Option<String>> {
        if self.validated.is_none() {
            let names = self.validated_names().await?;
            self.validated = Some(names);
        }
        let names = self.validated.as_deref().unwrap_or_default();
        Ok(names
            .iter()
            .find(|n| in_domain(n, domain))
            .or(names.first())
            .cloned())
    }

    /// Expands a domain-spec into a query name (§7.3): trailing dot dropped, cut from the left
    /// to 253 octets. `None` if the result is not a valid DNS name.
    async fn target(&mut self, spec: &MacroString, domain: &str) -> Flow<Option<String>> {
        let p = if spec.uses_p() {
            self.p_value(domain).await?
        } else {
            None
        };
        let Some(name) = spec.expand(&self.env(domain, p.as_deref()), EXPANSION_CAP) else {
            return Ok(None);
        };
        let mut name = name.strip_suffix('.').unwrap_or(&name);
        while name.len() > 253 {
            match name.split_once('.') {
                Some((_, rest)) => name = rest,
                None => return Ok(None),
            }
        }
        Ok(valid_domain(name))
    }

    /// The target of a term with an optional domain-spec: the current domain by default.
    async fn target_or(
        &mut self,
        spec: &Option<MacroString>,
        domain: &str,
    ) -> Flow<Option<String>> {
        match spec {
            Some(s) => self.target(s, domain).await,
            None => Ok(Some(domain.to_string())),
        }
    }

    /// The client's family of addresses of `name`: `Ok(None)` for NXDOMAIN/NODATA/bad names.
    async fn addresses(&mut self, name: &str) -> Flow<Option<Vec<IpAddr>>> {
        self.budget()?;
        let got = match self.ip {
            IpAddr::V4(_) => self
                .r
                .a(name)
                .await
                .map(|v| v.into_iter().map(IpAddr::V4).collect()),
            IpAddr::V6(_) => self
                .r
                .aaaa(name)
                .await
                .map(|v| v.into_iter().map(IpAddr::V6).collect()),
        };
        match got {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_temporary() => Err(Stop::Temp),
            Err(_) => Ok(None),
        }
    }

    /// The names of `ip` that validate (§5.5): at most `ptr_names` PTR names, each kept if its
    /// A/AAAA records include `ip`. DNS errors skip a name; a failed PTR lookup gives no names
    /// (§5.5).
    async fn validated_names(&mut self) -> Flow<Vec<String>> {
        self.budget()?;
        let names = match self.r.ptr(self.ip).await {
            Ok(n) => n,
            Err(_) => return Ok(Vec::new()),
        };
        let mut out = Vec::new();
        for name in names.iter().take(self.limits.ptr_names) {
            self.budget()?;
            let ok = match self.ip {
                IpAddr::V4(v4) => self.r.a(name).await.is_ok_and(|v| v.contains(&v4)),
                IpAddr::V6(v6) => self.r.aaaa(name).await.is_ok_and(|v| v.contains(&v6)),
            };
            if ok {
                out.push(name.clone());
            }
        }
        Ok(out)
    }

    /// Whether `m` matches (§5).
    async fn matches(&mut self, m: &Mechanism, domain: &str, depth: u32) -> Flow<bool> {
        match m {
            // §5.1.
            Mechanism::All => Ok(true),
            // §5.2: Pass matches; Fail, SoftFail, Neutral do not; TempError propagates;
            // PermError and None are PermError.
            Mechanism::Include(spec) => {
                self.count_lookup()?;
                let target = self.target(spec, domain).await?.unwrap_or_default();
                let inner = check(self, target, depth + 1).await?;
                match inner.result {
                    SpfResult::Pass => Ok(true),
                    SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral => Ok(false),
                    SpfResult::TempError => Err(Stop::Temp),
                    SpfResult::None | SpfResult::PermError => Err(Stop::Perm),
                }
            }
            // §5.3.
            Mechanism::A(spec, c4, c6) => {
                self.count_lookup()?;
                let Some(target) = self.target_or(spec, domain).await? else {
                    return Ok(false);
                };
                match self.addresses(&target).await? {
                    Some(addrs) => Ok(addrs.iter().any(|a| in_cidr(self.ip, *a, *c4, *c6))),
                    None => self.void().map(|()| false),
                }
            }
            // §5.4: the MX names (at most `mx_names`, or PermError), then their addresses; no
            // implicit MX.
            Mechanism::Mx(spec, c4, c6) => {
                self.count_lookup()?;
                let Some(target) = self.target_or(spec, domain).await? else {
                    return Ok(false);
                };
                self.budget()?;
                let mxs = match self.r.mx(&target).await {
                    Ok(v) => v,
                    Err(e) if e.is_temporary() => return Err(Stop::Temp),
                    Err(_) => return self.void().map(|()| false),
                };
                let exchanges: Vec<String> = mxs
                    .into_iter()
                    .filter(|m| m.exchange != "." && !m.exchange.is_empty())
                    .map(|m| m.exchange)
                    .collect();
                if exchanges.len() > self.limits.mx_names {
                    return Err(Stop::Perm);
                }
                for x in &exchanges {
                    if let Some(addrs) = self.addresses(x).await?
                        && addrs.iter().any(|a| in_cidr(self.ip, *a, *c4, *c6))
                    {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            // §5.5.
            Mechanism::Ptr(spec) => {
                self.count_lookup()?;
                let Some(target) = self.target_or(spec, domain).await? else {
                    return Ok(false);
                };
                self.budget()?;
                let names = match self.r.ptr(self.ip).await {
                    Ok(n) => n,
                    Err(e) if e.is_not_found() => return self.void().map(|()| false),
                    Err(_) => return Ok(false),
                };
                for name in names.iter().take(self.limits.ptr_names) {
                    if !in_domain(name, &target) {
                        continue;
                    }
                    self.budget()?;
                    let ok = match self.ip {
                        IpAddr::V4(v4) => self.r.a(name).await.is_ok_and(|v| v.contains(&v4)),
                        IpAddr::V6(v6) => self.r.aaaa(name).await.is_ok_and(|v| v.contains(&v6)),
                    };
                    if ok {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            // §5.6.
            Mechanism::Ip4(net, len) => Ok(match self.ip {
                IpAddr::V4(ip) => v4_in(ip, *net, *len),
                IpAddr::V6(_) => false,
            }),
            Mechanism::Ip6(net, len) => Ok(match self.ip {
                IpAddr::V6(ip) => v6_in(ip, *net, *len),
                IpAddr::V4(_) => false,
            }),
            // §5.7: an A query whatever the client's family.
            Mechanism::Exists(spec) => {
                self.count_lookup()?;
                let Some(target) = self.target(spec, domain).await? else {
                    return Ok(false);
                };
                self.budget()?;
                match self.r.a(&target).await {
                    Ok(v) => Ok(!v.is_empty()),
                    Err(e) if e.is_temporary() => Err(Stop::Temp),
                    Err(_) => self.void().map(|()| false),
                }
            }
        }
    }
}

/// §6.2: the explanation for a Fail. Any problem (expansion, DNS, not exactly one TXT record,
/// bad syntax, non-ASCII) means no explanation.
async fn explain<R: Resolver + ?Sized>(
    ctx: &mut Ctx<'_, R>,
    spec: &MacroString,
    domain: &str,
) -> Option<String> {
    let name = ctx.target(spec, domain).await.ok()??;
    ctx.budget().ok()?;
    let txts = ctx.r.txt(&name).await.ok()?;
    let [text] = txts.as_slice() else {
        return None;
    };
    let m = MacroString::parse(text, Kind::Explanation).ok()?;
    let p = if m.uses_p() {
        ctx.p_value(domain).await.ok()?
    } else {
        None
    };
    let cap = EXPANSION_CAP.max(ctx.limits.max_explanation);
    let expanded = m.expand(&ctx.env(domain, p.as_deref()), cap)?;
    // §6.2: explanations are ASCII; a UTF-8 sender's characters become '?'. Then any byte
    // index is a char boundary.
    let mut out: String = expanded
        .chars()
        .map(|c| if c.is_ascii() { c } else { '?' })
        .collect();
    out.truncate(ctx.limits.max_explanation);
    Some(out)
}

/// `name` is `domain` or a subdomain of it (case-insensitively).
fn in_domain(name: &str, domain: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    if name.len() == domain.len() {
        return name.eq_ignore_ascii_case(domain);
    }
    name.len() > domain.len()
        && name.as_bytes()[name.len() - domain.len() - 1] == b'.'
        && name.as_bytes()[name.len() - domain.len()..].eq_ignore_ascii_case(domain.as_bytes())
}

fn in_cidr(ip: IpAddr, addr: IpAddr, c4: u8, c6: u8) -> bool {
    match (ip, addr) {
        (IpAddr::V4(ip), IpAddr::V4(a)) => v4_in(ip, a, c4),
        (IpAddr::V6(ip), IpAddr::V6(a)) => v6_in(ip, a, c6),
        _ => false,
    }
}

fn v4_in(ip: Ipv4Addr, net: Ipv4Addr, len: u8) -> bool {
    let mask = u32::MAX
        .checked_shl(32 - u32::from(len.min(32)))
        .unwrap_or(0);
    u32::from(ip) & mask == u32::from(net) & mask
}

fn v6_in(ip: Ipv6Addr, net: Ipv6Addr, len: u8) -> bool {
    let mask = u128::MAX
        .checked_shl(128 - u32::from(len.min(128)))
        .unwrap_or(0);
    u128::from(ip) & mask == u128::from(net) & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_matching() {
        let a = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert!(v4_in(a("192.0.2.130"), a("192.0.2.128"), 28));
        assert!(!v4_in(a("192.0.2.65"), a("192.0.2.128"), 28));
        assert!(v4_in(a("10.0.0.1"), a("192.0.2.1"), 0));
        assert!(v4_in(a("192.0.2.1"), a("192.0.2.1"), 32));
        assert!(!v4_in(a("192.0.2.2"), a("192.0.2.1"), 32));
        let b = |s: &str| s.parse::<Ipv6Addr>().unwrap();
        assert!(v6_in(b("cafe:babe:8000::"), b("cafe:babe:8000::"), 33));
        assert!(!v6_in(b("cafe:babe:0::1"), b("cafe:babe:8000::"), 33));
        assert!(v6_in(b("deaf:babe::cab:fee"), b("::1.1.1.1"), 0));
        assert!(v6_in(b("2001:db8::1"), b("2001:db8::1"), 128));
    }

    #[test]
    fn domain_membership() {
        assert!(in_domain("mail.Example.com", "example.com"));
        assert!(in_domain("example.com.", "EXAMPLE.com"));
        assert!(!in_domain("badexample.com", "example.com"));
        assert!(!in_domain("com", "example.com"));
    }
}

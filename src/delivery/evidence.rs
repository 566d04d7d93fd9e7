//! DNS evidence about an inbound client for the spam scorer: DNS blocklist listings and the
//! sanity of its reverse DNS and HELO name.
//!
//! - DNSBL (RFC 5782 §2.1): the client's address, reversed (nibbles for IPv6), under each zone;
//!   an A record in 127.0.0.0/8 is a listing. 127.255.255.252–255 are the zones' error codes
//!   (RFC 5782 §2.3 and common practice: "query refused", "typo") and are ignored, and so is any
//!   answer outside 127/8, so a wildcarded or hijacked zone cannot list everyone.
//! - Reverse DNS: the PTR names of the address and whether one of them resolves back to it
//!   (forward-confirmed reverse DNS); whether the HELO name is a plausible host name for it.
//!
//! Invariants: every lookup runs under one deadline (`spam.dns_timeout_ms`) for all of a
//! message's checks together; a timeout or DNS failure is "no evidence", never a listing; at
//! most [`MAX_ZONES`] zones and [`MAX_PTR_NAMES`] PTR names are followed.

use crate::dns::{Resolver, reverse_name};
use std::net::IpAddr;
use std::time::Duration;

/// Blocklist zones asked at most.
pub const MAX_ZONES: usize = 8;
/// PTR names followed at most.
pub const MAX_PTR_NAMES: usize = 4;

/// What DNS says about a client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientEvidence {
    /// Zones listing the address.
    pub dnsbl_hits: Vec<String>,
    /// The first PTR name, if any.
    pub ptr: Option<String>,
    /// A PTR name resolves back to the address.
    pub fcrdns: bool,
    /// The HELO name is a dotted host name (not an address literal, not a bare word).
    pub helo_is_fqdn: bool,
    /// The HELO name equals a PTR name.
    pub helo_matches_ptr: bool,
    /// Some lookups did not finish in time or failed.
    pub incomplete: bool,
}

/// The blocklist query name of `ip` under `zone` (RFC 5782 §2.1, §2.4).
pub fn dnsbl_name(ip: IpAddr, zone: &str) -> String {
    let rev = reverse_name(ip);
    let stem = rev
        .strip_suffix(".in-addr.arpa")
        .or_else(|| rev.strip_suffix(".ip6.arpa"))
        .unwrap_or(&rev);
    format!("{stem}.{zone}")
}

/// Whether an A record from a blocklist means "listed".
fn is_listing(a: std::net::Ipv4Addr) -> bool {
    let o = a.octets();
    o[0] == 127 && !(o[1] == 255 && o[2] == 255 && o[3] >= 252)
}

/// Gathers the evidence for `ip` that said `helo`, giving up on whatever is not answered within
/// `deadline`.
pub async fn gather<R: Resolver + ?Sized>(
    r: &R,
    ip: IpAddr,
    helo: &str,
    zones: &[String],
    deadline: Duration,
) -> ClientEvidence {
    let helo = helo.trim_end_matches('.').to_ascii_lowercase();
    let mut ev = ClientEvidence {
        helo_is_fqdn: helo.contains('.')
            && !helo.starts_with('[')
            && helo.parse::<IpAddr>().is_err()
            && crate::config::is_hostname(&helo),
        ..ClientEvidence::default()
    };
    let work = async {
        let mut ev = ev.clone();
        for zone in zones.iter().take(MAX_ZONES) {
            match r.a(&dnsbl_name(ip, zone)).await {
                Ok(addrs) if addrs.iter().any(|a| is_listing(*a)) => {
                    ev.dnsbl_hits.push(zone.clone())
                }
                Ok(_) => {}
                Err(e) if e.is_temporary() => ev.incomplete = true,
                Err(_) => {}
            }
        }
        match r.ptr(ip).await {
            Ok(names) => {
                ev.ptr = names.first().cloned();
                for name in names.iter().take(MAX_PTR_NAMES) {
                    ev.helo_matches_ptr |= *name == helo;
                    let forward = match ip {
                        IpAddr::V4(v4) => r.a(name).await.map(|a| a.contains(&v4)),
                        IpAddr::V6(v6) => r.aaaa(name).await.map(|a| a.contains(&v6)),
                    };
                    if forward.unwrap_or(false) {
                        ev.fcrdns = true;
                        break;
                    }
                }
            }
            Err(e) if e.is_temporary() => ev.incomplete = true,
            Err(_) => {}
        }
        ev
    };
    let timed_out = async {
        async_io::Timer::after(deadline).await;
        None
    };
    match futures_lite::future::or(async { Some(work.await) }, timed_out).await {
        Some(done) => done,
        None => {
            ev.incomplete = true;
            ev
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::Records;
    use crate::dns::mock::MockResolver;
    use std::net::Ipv4Addr;

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        futures_lite::future::block_on(f)
    }

    #[test]
    fn query_names_follow_rfc_5782() {
        assert_eq!(
            dnsbl_name("192.0.2.99".parse().unwrap(), "bl.example"),
            "99.2.0.192.bl.example"
        );
        let v6 = dnsbl_name("2001:db8:1:2:3:4:567:89ab".parse().unwrap(), "bl.example");
        assert_eq!(
            v6,
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.example"
        );
    }

    #[test]
    fn listings_error_codes_and_fcrdns() {
        let ip: IpAddr = "192.0.2.99".parse().unwrap();
        let r = MockResolver::new()
            .with(
                "99.2.0.192.listed.example",
                Records::A(vec![Ipv4Addr::new(127, 0, 0, 2)]),
            )
            .with(
                "99.2.0.192.refusing.example",
                Records::A(vec![Ipv4Addr::new(127, 255, 255, 254)]),
            )
            .with(
                "99.2.0.192.wildcard.example",
                Records::A(vec![Ipv4Addr::new(192, 0, 2, 1)]),
            )
            .with(
                "99.2.0.192.in-addr.arpa",
                Records::Ptr(vec!["mail.sender.example".into()]),
            )
            .with(
                "mail.sender.example",
                Records::A(vec![Ipv4Addr::new(192, 0, 2, 99)]),
            );
        let zones: Vec<String> = [
            "listed.example",
            "refusing.example",
            "wildcard.example",
            "clean.example",
        ]
        .map(String::from)
        .to_vec();
        let ev = run(gather(
            &r,
            ip,
            "Mail.Sender.Example",
            &zones,
            Duration::from_secs(5),
        ));
        assert_eq!(ev.dnsbl_hits, vec!["listed.example".to_string()]);
        assert_eq!(ev.ptr.as_deref(), Some("mail.sender.example"));
        assert!(ev.fcrdns && ev.helo_is_fqdn && ev.helo_matches_ptr);
        // A bare HELO word and an address without PTR.
        let ev = run(gather(
            &r,
            "198.51.100.7".parse().unwrap(),
            "localhost",
            &[],
            Duration::from_secs(5),
        ));
        assert!(!ev.helo_is_fqdn && !ev.fcrdns && ev.ptr.is_none());
        assert!(!run(gather(&r, ip, "[192.0.2.99]", &[], Duration::from_secs(5))).helo_is_fqdn);
    }

    #[test]
    fn a_silent_resolver_costs_one_deadline_and_no_listing() {
        use crate::dns::stub::{Options, StubResolver};
        use crate::dns::testserver::{TestServer, Zone};
        let server = TestServer::start(Zone::new()).unwrap();
        server.drop_queries(true);
        let r = StubResolver::with_servers(vec![server.addr()], Options::default());
        let zones: Vec<String> = vec!["a.example".into(), "b.example".into()];
        let started = std::time::Instant::now();
        let ev = run(gather(
            &r,
            "192.0.2.1".parse().unwrap(),
            "mx.example",
            &zones,
            Duration::from_millis(300),
        ));
        assert!(ev.incomplete && ev.dnsbl_hits.is_empty());
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
}

//! The box's health, said plainly: whether outbound port 25 is open, whether the DNS records
//! `mailnook dns records` prints are published as printed, and what the TLS certificate is.
//! Shown right after setup and on the administrators' checks page.
//!
//! Invariants: every network probe has a deadline ([`PROBE_SECS`]) and runs on the executor
//! without blocking it (DNS through the configured resolver, the port 25 probe through
//! async-io); file reads run on the blocking pool; nothing is changed.

use super::Web;
use crate::dns::Resolver;
use crate::tls::TlsFiles;
use rustls::pki_types::pem::PemObject;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How long one probe may take.
pub const PROBE_SECS: u64 = 5;

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What was checked.
    pub what: String,
    /// `Some(true)`: works; `Some(false)`: does not; `None`: could not tell.
    pub ok: Option<bool>,
    /// What was found, and what to do about it.
    pub detail: String,
}

fn finding(what: impl Into<String>, ok: Option<bool>, detail: impl Into<String>) -> Finding {
    Finding {
        what: what.into(),
        ok,
        detail: detail.into(),
    }
}

/// Runs every check.
pub async fn run(web: &Web) -> Vec<Finding> {
    let config = (web.config)();
    let resolver = web.resolver.get(&config.dns_nameservers).await;
    let r = resolver.as_ref();
    let mut out = Vec::new();
    out.push(outbound(r, &config).await);
    out.push(certificate(web).await);
    let host = config.hostname.trim_end_matches('.').to_ascii_lowercase();
    match within(r.a(&host)).await {
        Some(ips) => out.push(finding(
            format!("Host name {host}"),
            Some(true),
            format!("resolves to {}", join(ips.iter().map(|ip| ip.to_string()))),
        )),
        _ => out.push(finding(
            format!("Host name {host}"),
            Some(false),
            format!("no A record: publish one for {host} with the box's public address"),
        )),
    }
    let (store, data, selector) = (
        web.store.clone(),
        web.data.clone(),
        config.dkim_selector.clone(),
    );
    let (domains, keys) = blocking::unblock(move || {
        (
            store.domains().unwrap_or_default(),
            crate::cli::dns_records::dkim_keys(&data, &selector).ok(),
        )
    })
    .await;
    for d in &domains {
        let mx = match within(r.mx(d)).await {
            Some(list)
                if list
                    .iter()
                    .any(|m| m.exchange.trim_end_matches('.').eq_ignore_ascii_case(&host)) =>
            {
                finding(
                    format!("MX of {d}"),
                    Some(true),
                    format!("points to {host}"),
                )
            }
            Some(list) => finding(
                format!("MX of {d}"),
                Some(false),
                format!(
                    "points to {} instead of {host}: publish `{d}. MX 10 {host}.`",
                    join(list.iter().map(|m| m.exchange.clone()))
                ),
            ),
            _ => finding(
                format!("MX of {d}"),
                Some(false),
                format!("missing: publish `{d}. MX 10 {host}.`"),
            ),
        };
        out.push(mx);
        let txt = |name: String| async move { within(r.txt(&name)).await.unwrap_or_default() };
        let spf = txt(d.clone()).await;
        out.push(
            match spf
                .iter()
                .find(|t| t.to_ascii_lowercase().starts_with("v=spf1"))
            {
                Some(t) => finding(format!("SPF of {d}"), Some(true), t.clone()),
                None => finding(
                    format!("SPF of {d}"),
                    Some(false),
                    format!("missing: publish `{d}. TXT \"v=spf1 mx -all\"`"),
                ),
            },
        );
        if let Some(keys) = &keys {
            for (name, value) in keys.dns_records(&config.dkim_selector, d) {
                let got = txt(name.clone()).await;
                let ok = got.iter().any(|t| strip_spaces(t) == strip_spaces(&value));
                let detail = if ok {
                    "published as printed by `mailnook dns records`".to_string()
                } else if got.is_empty() {
                    format!(
                        "missing: publish the TXT record for {name} that `mailnook dns records` prints"
                    )
                } else {
                    format!(
                        "{name} holds another key: publish the one `mailnook dns records` prints"
                    )
                };
                out.push(finding(format!("DKIM key {name}"), Some(ok), detail));
            }
        }
        let srv: Vec<String> = crate::cli::dns_records::SRV_SERVICES
            .iter()
            .map(|(service, priority, port)| {
                format!("{service}.{d}. SRV {priority} 1 {port} {host}.")
            })
            .collect();
        out.push(finding(
            format!("Client autoconfiguration of {d}"),
            None,
            format!(
                "optional (RFC 6186): lets mail apps find the servers from the address alone: {}",
                srv.join("; ")
            ),
        ));
        let dmarc = txt(format!("_dmarc.{d}")).await;
        out.push(
            match dmarc
                .iter()
                .find(|t| t.to_ascii_lowercase().starts_with("v=dmarc1"))
            {
                Some(t) => finding(format!("DMARC of {d}"), Some(true), t.clone()),
                None => finding(
                    format!("DMARC of {d}"),
                    Some(false),
                    format!("missing: publish `_dmarc.{d}. TXT \"v=DMARC1; p=quarantine\"`"),
                ),
            },
        );
    }
    out.push(local_name(&config));
    out.push(finding(
        "Reverse DNS (PTR)",
        None,
        format!("ask your ISP or hosting provider to set the PTR of the box's public address to {host}; many receivers refuse mail without it"),
    ));
    out
}

/// Whether the box answers for `<name>.local` on the LAN (multicast DNS, `conn::mdns`).
fn local_name(config: &crate::config::Config) -> Finding {
    let name = format!("{}.local", config.mdns_label());
    if config.mdns_enabled {
        finding(
            format!("Local name {name}"),
            None,
            format!(
                "on: devices on the same network reach the box as http://{name} (multicast DNS, port 5353; the log says if the port was taken)"
            ),
        )
    } else {
        finding(
            format!("Local name {name}"),
            None,
            format!(
                "off: `mailnook config set mdns.enabled 1` and a restart let devices on the same network reach the box as http://{name}"
            ),
        )
    }
}

/// The answer of a lookup, or `None` when it failed or took longer than [`PROBE_SECS`].
async fn within<T>(
    lookup: impl std::future::Future<Output = Result<T, crate::dns::Error>>,
) -> Option<T> {
    futures_lite::future::or(async { lookup.await.ok() }, async {
        async_io::Timer::after(Duration::from_secs(PROBE_SECS)).await;
        None
    })
    .await
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

fn strip_spaces(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Whether a TCP connection to port 25 out there opens (many home ISPs block it).
async fn outbound<R: Resolver>(r: &R, config: &crate::config::Config) -> Finding {
    if let Some(relay) = &config.smarthost {
        return finding(
            "Outbound mail",
            None,
            format!(
                "goes through the relay {}:{} (Settings)",
                relay.host, relay.port
            ),
        );
    }
    let probe = config.web_port25_probe.clone();
    let Some((host, port)) = probe
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
    else {
        return finding(
            "Outbound port 25",
            None,
            "web.port25_probe is not host:port",
        );
    };
    let limit = Duration::from_secs(PROBE_SECS);
    let addr: Option<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => Some(SocketAddr::new(ip, port)),
        Err(_) => within(r.a(&host))
            .await
            .and_then(|ips| ips.first().copied())
            .map(|ip| SocketAddr::new(IpAddr::V4(ip), port)),
    };
    let Some(addr) = addr else {
        return finding(
            "Outbound port 25",
            None,
            format!("could not look up {host} to try"),
        );
    };
    match crate::conn::with_timeout(limit, async_io::Async::<std::net::TcpStream>::connect(addr))
        .await
    {
        Ok(_) => finding(
            "Outbound port 25",
            Some(true),
            format!("open: a connection to {probe} succeeded, so mail can be delivered directly"),
        ),
        Err(e) => finding(
            "Outbound port 25",
            Some(false),
            format!(
                "blocked ({e} connecting to {probe}): your ISP blocks port 25, so send through a relay (Settings → Outbound mail; presets for common providers there)"
            ),
        ),
    }
}

/// What the certificate in use is.
pub async fn certificate(web: &Web) -> Finding {
    let data = web.data.clone();
    let found = blocking::unblock(move || {
        let files: TlsFiles = crate::tls::current_files(&data);
        let self_signed = files
            .cert
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("selfsigned"));
        let pem = std::fs::read(&files.cert).ok()?;
        let der = rustls::pki_types::CertificateDer::pem_slice_iter(&pem)
            .next()?
            .ok()?;
        let until = crate::acme::renewal::cert_info(der.as_ref())
            .and_then(|i| u64::try_from(i.not_after).ok())
            .map(crate::time::iso8601);
        Some((self_signed, until))
    })
    .await;
    match found {
        Some((true, _)) => finding(
            "TLS certificate",
            Some(false),
            "self-signed: mail apps and browsers warn once and must be told to trust it; a real certificate comes with ACME once the box is reachable from the internet",
        ),
        Some((false, until)) => finding(
            "TLS certificate",
            Some(true),
            match until {
                Some(t) => format!("your own certificate, valid until {t}"),
                None => "your own certificate".to_string(),
            },
        ),
        None => finding("TLS certificate", Some(false), "no readable certificate"),
    }
}

//! `mailnook check outbound`: can this machine reach remote mail servers (home ISPs often block
//! outbound port 25), and, if one is set, the relay?
//!
//! Invariants:
//! - It only connects and reads the greeting line (then says QUIT): no mail is sent, nothing is
//!   stored, no setting is changed.
//! - Every step is bounded: DNS by the stub resolver's deadlines, the TCP connect and the
//!   greeting each by `queue.connect_timeout_secs`, the greeting line by [`MAX_GREETING_BYTES`].
//! - It runs on a plain thread (the CLI process, or a blocking worker of the server behind the
//!   control socket), never on the server's executor: the async resolver is driven with
//!   `async_io::block_on` and the sockets are blocking std sockets.
//! - The exit status tells whether the way outbound mail actually leaves works: straight to
//!   port 25 without a relay, the relay when `smarthost.host` is set.

use super::admin::{AdminError, domain_arg};
use crate::config::Config;
use crate::dns::stub::{Options, StubResolver};
use crate::dns::{MailRoute, Resolver, mail_route};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

/// The domain tried when `--domain` is not given.
pub const DEFAULT_DOMAIN: &str = "gmail.com";
/// Longest greeting line read.
pub const MAX_GREETING_BYTES: usize = 512;

fn invalid(s: impl Into<String>) -> AdminError {
    AdminError::Invalid(s.into())
}

/// The resolver the outbound queue would use: `dns.nameservers`, else /etc/resolv.conf.
fn resolver(cfg: &Config) -> StubResolver {
    if cfg.dns_nameservers.is_empty() {
        StubResolver::from_resolv_conf_blocking(Options::default())
    } else {
        StubResolver::with_servers(cfg.dns_nameservers.clone(), Options::default())
    }
}

/// The first address of `host`: IPv4 first, then IPv6; an IP literal is itself.
async fn first_address(r: &StubResolver, host: &str) -> Result<IpAddr, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ip);
    }
    match r.a(host).await {
        Ok(v) if !v.is_empty() => return Ok(IpAddr::V4(v[0])),
        Ok(_) => {}
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(format!("cannot resolve {host}: {e}")),
    }
    match r.aaaa(host).await {
        Ok(v) if !v.is_empty() => Ok(IpAddr::V6(v[0])),
        Ok(_) => Err(format!("{host} has no address")),
        Err(e) => Err(format!("cannot resolve {host}: {e}")),
    }
}

/// The mail exchanger of `domain` to try, and its first address.
async fn mail_exchanger(r: &StubResolver, domain: &str) -> Result<(String, IpAddr), String> {
    let route = mail_route(r, domain)
        .await
        .map_err(|e| format!("cannot look up the MX of {domain}: {e}"))?;
    let hosts = match route {
        MailRoute::Exchanges(mx) if !mx.is_empty() => {
            mx.into_iter().map(|m| m.exchange).collect::<Vec<_>>()
        }
        MailRoute::Exchanges(_) | MailRoute::Implicit => vec![domain.to_string()],
        MailRoute::NullMx => return Err(format!("{domain} accepts no mail (null MX)")),
    };
    let mut last = String::new();
    for h in hosts {
        match first_address(r, &h).await {
            Ok(ip) => return Ok((h, ip)),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn one_line(s: &str, max: usize) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect::<String>()
        .trim()
        .to_string()
}

fn describe(e: &std::io::Error, timeout: Duration) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::TimedOut | K::WouldBlock => format!("no answer within {}s", timeout.as_secs()),
        K::ConnectionRefused => "connection refused".to_string(),
        K::ConnectionReset => "connection reset".to_string(),
        _ => e.to_string(),
    }
}

/// How the direct way out (port 25 of the domain's mail exchanger) fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direct {
    /// Connected and greeted.
    Reachable,
    /// The connection or the greeting failed.
    Blocked,
    /// The exchanger's address could not be found, so nothing was tried.
    Untested,
}

/// What one probe found.
enum Probe {
    /// The server's first reply line.
    Greeting(String),
    /// The TCP connection was accepted (the greeting was not read).
    Connected,
}

/// Connects to `addr` and, with `greeting`, reads the first reply line.
fn probe(addr: SocketAddr, timeout: Duration, greeting: bool) -> Result<Probe, String> {
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| describe(&e, timeout))?;
    if !greeting {
        return Ok(Probe::Connected);
    }
    s.set_read_timeout(Some(timeout))
        .map_err(|e| describe(&e, timeout))?;
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    let mut reader = (&s).take(MAX_GREETING_BYTES as u64);
    loop {
        match reader.read(&mut byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => line.push(byte[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(format!(
                    "connected, but no greeting: {}",
                    describe(&e, timeout)
                ));
            }
        }
    }
    if line.is_empty() {
        return Err("connected, but the server closed the connection without a greeting".into());
    }
    let _ = s.write_all(b"QUIT\r\n");
    Ok(Probe::Greeting(one_line(
        &String::from_utf8_lossy(&line),
        200,
    )))
}

fn at(host: &str, ip: IpAddr) -> String {
    format!("{host} [{ip}]")
}

/// `check outbound [--domain D]`. Prints the findings; an error when the way out is closed.
pub fn check(
    store: &crate::store::Store,
    domain: Option<&str>,
    out: &mut dyn Write,
) -> Result<(), AdminError> {
    let domain = match domain {
        Some(d) => domain_arg(d)?,
        None => DEFAULT_DOMAIN.to_string(),
    };
    let cfg = store.config()?;
    let timeout = Duration::from_secs(cfg.queue_connect_timeout_secs);
    let port = cfg.queue_remote_port;
    let r = resolver(&cfg);

    let direct = match async_io::block_on(mail_exchanger(&r, &domain)) {
        Err(e) => {
            writeln!(
                out,
                "outbound port {port}: not tested ({e}; check dns.nameservers or /etc/resolv.conf)"
            )?;
            Direct::Untested
        }
        Ok((host, ip)) => match probe(SocketAddr::new(ip, port), timeout, true) {
            Ok(Probe::Greeting(g)) => {
                writeln!(
                    out,
                    "outbound port {port}: reachable ({} says: {g})",
                    at(&host, ip)
                )?;
                Direct::Reachable
            }
            Ok(Probe::Connected) => Direct::Reachable,
            Err(e) => {
                writeln!(
                    out,
                    "outbound port {port}: blocked or unreachable ({}: {e})",
                    at(&host, ip)
                )?;
                Direct::Blocked
            }
        },
    };

    let Some(relay) = &cfg.smarthost else {
        return match direct {
            Direct::Reachable => Ok(()),
            Direct::Untested => Err(invalid(format!(
                "outbound port {port} could not be tested: the DNS lookup failed"
            ))),
            Direct::Blocked => {
                writeln!(
                    out,
                    "most home connections block outbound port {port}; send through a relay (your provider's or a mail service's submission server):"
                )?;
                for line in [
                    "mailnook config set smarthost.host HOST",
                    "mailnook config set smarthost.port 587",
                    "mailnook config set smarthost.user USER",
                    "mailnook config set smarthost.password PASSWORD",
                ] {
                    writeln!(out, "  {line}")?;
                }
                writeln!(
                    out,
                    "(smarthost.tls tls with smarthost.port 465 for a relay that only speaks implicit TLS)"
                )?;
                Err(invalid(format!(
                    "outbound port {port} is blocked or unreachable"
                )))
            }
        };
    };

    if direct != Direct::Reachable {
        writeln!(
            out,
            "outbound mail goes through the relay {} (smarthost.host), so port {port} need not be open",
            relay.host
        )?;
    }
    let mode = if relay.implicit_tls {
        "tls"
    } else {
        "starttls"
    };
    let found = async_io::block_on(first_address(&r, &relay.host));
    let relay_ok = match found {
        Err(e) => {
            writeln!(
                out,
                "relay {} port {} ({mode}): not tested ({e})",
                relay.host, relay.port
            )?;
            false
        }
        Ok(ip) => match probe(
            SocketAddr::new(ip, relay.port),
            timeout,
            !relay.implicit_tls,
        ) {
            Ok(Probe::Greeting(g)) => {
                writeln!(
                    out,
                    "relay {} port {} ({mode}): reachable ({} says: {g})",
                    relay.host,
                    relay.port,
                    at(&relay.host, ip)
                )?;
                true
            }
            Ok(Probe::Connected) => {
                writeln!(
                    out,
                    "relay {} port {} ({mode}): reachable ({}: connection accepted; TLS and AUTH not tested)",
                    relay.host,
                    relay.port,
                    at(&relay.host, ip)
                )?;
                true
            }
            Err(e) => {
                writeln!(
                    out,
                    "relay {} port {} ({mode}): blocked or unreachable ({}: {e})",
                    relay.host,
                    relay.port,
                    at(&relay.host, ip)
                )?;
                false
            }
        },
    };
    if relay_ok {
        Ok(())
    } else {
        writeln!(
            out,
            "check smarthost.host and smarthost.port (587 with smarthost.tls starttls, 465 with tls) against the relay's documentation"
        )?;
        Err(invalid(format!("the relay {} is unreachable", relay.host)))
    }
}

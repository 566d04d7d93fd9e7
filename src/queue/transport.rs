//! One delivery attempt for the recipients of one message in one domain (or all of them through
//! the smarthost): the MX walk, the connection and the SMTP client transaction.
//!
//! MX walk (RFC 5321 §5.1): MX hosts in preference order, each one's IPv4 then IPv6 addresses;
//! no MX records → the domain itself (implicit MX); null MX (RFC 7505) → permanent failure;
//! NXDOMAIN → permanent failure; any other DNS trouble → try again later. A host that refuses
//! every recipient temporarily (or cannot be reached) makes the walk go on to the next one.
//!
//! Invariants: every connect, read and write has a deadline (`queue.*_timeout_secs`); TLS is
//! opportunistic towards MX hosts (its verification is recorded, not required) and required
//! towards a smarthost; the message is read from the store in pieces and dot-stuffed on the fly,
//! never held whole; every recipient handed in gets exactly one result back.

use super::Env;
use crate::config::Config;
use crate::conn::stream::Stream;
use crate::dns::{self, MailRoute, Resolver};
use crate::proto::dot::DotEncoder;
use crate::proto::smtp::client::{
    ClientConfig, Credentials, Envelope, Event, Outcome, RcptResult, Reply, SmtpClient, TlsPolicy,
};
use crate::store::BodyId;
use crate::tls::client::Policy;
use async_io::Async;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// MX hosts tried per attempt at most.
const MAX_HOSTS: usize = 5;
/// Addresses tried per host at most.
const MAX_ADDRS_PER_HOST: usize = 4;
/// Bytes read from the store per body piece.
const BODY_PIECE: usize = 32 * 1024;

/// Most addresses remembered as unreachable.
const MAX_UNREACHABLE: usize = 1024;

/// Addresses whose last connection attempt failed, and until when they are not tried again: one
/// dead server costs one connection timeout per retry window, not one per queued message.
#[derive(Debug, Default)]
pub struct Unreachable(RefCell<HashMap<SocketAddr, Instant>>);

impl Unreachable {
    fn is_marked(&self, addr: SocketAddr) -> bool {
        self.0
            .borrow()
            .get(&addr)
            .is_some_and(|t| *t > Instant::now())
    }

    fn mark(&self, addr: SocketAddr, until: Instant) {
        let mut map = self.0.borrow_mut();
        let now = Instant::now();
        map.retain(|_, t| *t > now);
        if map.len() < MAX_UNREACHABLE {
            map.insert(addr, until);
        }
    }

    fn clear(&self, addr: SocketAddr) {
        self.0.borrow_mut().remove(&addr);
    }
}

/// What happened to a group of recipients.
#[derive(Debug)]
pub struct GroupResult {
    /// One result per recipient, in the order given.
    pub rcpts: Vec<(String, RcptResult)>,
    /// The host that gave the results, `host [ip]`, if any was reached.
    pub relay: Option<String>,
    /// The TLS used, with the certificate check's result, if any.
    pub tls: Option<String>,
}

fn all(rcpts: &[String], r: RcptResult) -> Vec<(String, RcptResult)> {
    rcpts.iter().map(|a| (a.clone(), r.clone())).collect()
}

fn reply(code: u16, text: String) -> Reply {
    Reply { code, text }
}

/// Where the connection goes and how.
struct Hop {
    host: String,
    port: u16,
    client: ClientConfig,
    tls: Policy,
}

/// Delivers `rcpts` (all in `domain`, or anywhere through the smarthost) of the message `body`.
pub async fn deliver_group(
    env: &Env,
    from: &str,
    body: BodyId,
    size: u64,
    domain: &str,
    rcpts: &[String],
) -> GroupResult {
    let cfg = env.config.clone();
    let envelope = Envelope {
        mail_from: from.to_string(),
        rcpts: rcpts.to_vec(),
        size,
        // BODY=8BITMIME is correct for 7-bit content too, and the client sends it only when offered.
        eight_bit: true,
        smtputf8: !from.is_ascii() || rcpts.iter().any(|r| !r.is_ascii()),
    };
    let mut result = GroupResult {
        rcpts: Vec::new(),
        relay: None,
        tls: None,
    };
    let (hosts, port, make_client, tls) = match &cfg.smarthost {
        Some(sh) => {
            let client = ClientConfig {
                helo: cfg.hostname.clone(),
                tls: if sh.implicit_tls {
                    TlsPolicy::Active
                } else {
                    TlsPolicy::Required
                },
                auth: (!sh.user.is_empty()).then(|| Credentials {
                    user: sh.user.clone(),
                    password: sh.password.clone(),
                }),
                auth_without_tls: false,
            };
            let policy = if sh.verify {
                Policy::Strict
            } else {
                Policy::RecordOnly
            };
            (vec![sh.host.clone()], sh.port, client, policy)
        }
        None => {
            let hosts = match dns::mail_route(&*env.resolver, domain).await {
                Ok(MailRoute::Exchanges(mx)) => mx.into_iter().map(|m| m.exchange).collect(),
                Ok(MailRoute::Implicit) => vec![domain.to_string()],
                Ok(MailRoute::NullMx) => {
                    result.rcpts = all(
                        rcpts,
                        RcptResult::Failed(reply(
                            556,
                            format!("5.1.10 {domain} accepts no mail (null MX, RFC 7505)"),
                        )),
                    );
                    return result;
                }
                Err(e) => {
                    // NXDOMAIN is permanent (RFC 2308 §2.1); any other DNS trouble may pass.
                    result.rcpts = all(
                        rcpts,
                        match e {
                            dns::Error::NxDomain => RcptResult::Failed(reply(
                                550,
                                format!("5.1.2 domain {domain} does not exist"),
                            )),
                            e => RcptResult::Deferred(reply(
                                451,
                                format!("4.4.3 looking up the mail exchangers of {domain}: {e}"),
                            )),
                        },
                    );
                    return result;
                }
            };
            let client = ClientConfig {
                helo: cfg.hostname.clone(),
                tls: TlsPolicy::Opportunistic,
                auth: None,
                auth_without_tls: false,
            };
            (hosts, cfg.queue_remote_port, client, Policy::RecordOnly)
        }
    };
    let mut last = RcptResult::Deferred(reply(
        451,
        format!("4.4.1 no mail exchanger of {domain} could be reached"),
    ));
    for host in hosts.into_iter().take(MAX_HOSTS) {
        let addrs = match addresses(&*env.resolver, &host).await {
            Ok(a) => a,
            Err(e) => {
                last =
                    RcptResult::Deferred(reply(451, format!("4.4.3 no address for {host}: {e}")));
                continue;
            }
        };
        let hop = Hop {
            host: host.clone(),
            port,
            client: make_client.clone(),
            tls,
        };
        for ip in addrs.into_iter().take(MAX_ADDRS_PER_HOST) {
            let addr = SocketAddr::new(ip, hop.port);
            if env.unreachable.is_marked(addr) {
                last = RcptResult::Deferred(reply(
                    451,
                    format!(
                        "4.4.1 {host} [{ip}]:{} was unreachable moments ago",
                        hop.port
                    ),
                ));
                continue;
            }
            let stream = match connect(env, &cfg, &hop, addr).await {
                Ok(s) => {
                    env.unreachable.clear(addr);
                    s
                }
                Err(why) => {
                    let window = Duration::from_secs(cfg.queue_retry_base_secs);
                    env.unreachable.mark(addr, Instant::now() + window);
                    log::info!(target: "maillog", "connect to {host} [{ip}]:{} failed: {why}", hop.port);
                    last = RcptResult::Deferred(reply(
                        451,
                        format!("4.4.1 connecting to {host} [{ip}]: {why}"),
                    ));
                    continue;
                }
            };
            let (outcome, tls_note) =
                transaction(env, &cfg, stream, &hop, envelope.clone(), body).await;
            let relay = format!("{host} [{ip}]");
            let all_deferred = outcome
                .rcpts
                .iter()
                .all(|r| matches!(r, RcptResult::Deferred(_)));
            if all_deferred && let Some(RcptResult::Deferred(r)) = outcome.rcpts.first() {
                last = RcptResult::Deferred(reply(r.code, format!("{} (from {relay})", r.text)));
                log::info!(target: "maillog", "{relay} deferred every recipient: {} {}", r.code, r.text);
                continue;
            }
            result.rcpts = rcpts.iter().cloned().zip(outcome.rcpts).collect();
            result.relay = Some(relay);
            result.tls = tls_note;
            return result;
        }
    }
    result.rcpts = all(rcpts, last);
    result
}

/// A host's addresses: IPv4 first (home networks often lack IPv6 routes), then IPv6.
async fn addresses<R: Resolver>(r: &R, host: &str) -> Result<Vec<IpAddr>, dns::Error> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let v4 = r.a(host).await;
    let v6 = r.aaaa(host).await;
    let mut out: Vec<IpAddr> = Vec::new();
    if let Ok(a) = &v4 {
        out.extend(a.iter().map(|ip| IpAddr::V4(*ip)));
    }
    if let Ok(a) = &v6 {
        out.extend(a.iter().map(|ip| IpAddr::V6(*ip)));
    }
    if out.is_empty() {
        return Err(v4.err().or(v6.err()).unwrap_or(dns::Error::NoRecords));
    }
    Ok(out)
}

/// [`crate::conn::with_timeout`] with the error as text (it ends up in a recipient's result).
async fn with_deadline<T>(
    limit: Duration,
    fut: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T, String> {
    crate::conn::with_timeout(limit, fut)
        .await
        .map_err(|e| e.to_string())
}

/// Connects, and for implicit TLS also does the handshake.
async fn connect(env: &Env, cfg: &Config, hop: &Hop, addr: SocketAddr) -> Result<Stream, String> {
    let limit = Duration::from_secs(cfg.queue_connect_timeout_secs);
    let tcp = with_deadline(limit, Async::<TcpStream>::connect(addr)).await?;
    let _ = tcp.get_ref().set_nodelay(true);
    let stream = Stream::Plain(tcp);
    if hop.client.tls != TlsPolicy::Active {
        return Ok(stream);
    }
    let (config, _seen) = env.tls_config(hop.tls)?;
    let name = server_name(&hop.host)?;
    with_deadline(limit, stream.connect_tls(config, name)).await
}

fn server_name(host: &str) -> Result<rustls::pki_types::ServerName<'static>, String> {
    rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| format!("{host} is not a TLS server name: {e}"))
}

/// Runs the SMTP client over `stream`. Returns the outcome and a note on the TLS used.
async fn transaction(
    env: &Env,
    cfg: &Config,
    mut stream: Stream,
    hop: &Hop,
    envelope: Envelope,
    body: BodyId,
) -> (Outcome, Option<String>) {
    let command = Duration::from_secs(cfg.queue_command_timeout_secs);
    let final_reply = Duration::from_secs(cfg.queue_final_timeout_secs);
    let mut client = SmtpClient::new(hop.client.clone(), envelope);
    let mut buf = vec![0u8; 8 * 1024];
    let mut body_sent = false;
    let mut verification = None;
    let mut event = client.next_event();
    let outcome = loop {
        match event {
            Event::Done(outcome) => break outcome,
            Event::NeedInput => {
                if !send_output(&mut stream, &mut client, command).await {
                    event = client.connection_lost();
                    continue;
                }
                let limit = if body_sent { final_reply } else { command };
                match with_deadline(limit, stream.read(&mut buf)).await {
                    Ok(0) | Err(_) => event = client.connection_lost(),
                    Ok(n) => {
                        client.feed(&buf[..n]);
                        event = client.next_event();
                    }
                }
            }
            Event::StartTls => {
                if !send_output(&mut stream, &mut client, command).await {
                    event = client.connection_lost();
                    continue;
                }
                let handshake = async {
                    let (config, seen) = env.tls_config(hop.tls)?;
                    let name = server_name(&hop.host)?;
                    let plain = std::mem::replace(&mut stream, Stream::Upgrading);
                    let limit = Duration::from_secs(cfg.queue_connect_timeout_secs);
                    let upgraded = with_deadline(limit, plain.connect_tls(config, name)).await?;
                    Ok::<_, String>((upgraded, seen))
                };
                match handshake.await {
                    Ok((upgraded, seen)) => {
                        stream = upgraded;
                        verification = Some(seen);
                        client.tls_started();
                        event = client.next_event();
                    }
                    Err(why) => event = client.tls_failed(&why),
                }
            }
            Event::SendBody => {
                let sent = send_body(env, &mut stream, &mut client, body, command).await;
                client.body_sent();
                body_sent = true;
                event = match sent {
                    Ok(()) => client.next_event(),
                    Err(_) => client.connection_lost(),
                };
            }
        }
    };
    if !client.output().is_empty() {
        let _ = with_deadline(command, stream.write_all(client.output())).await;
    }
    let _ = with_deadline(Duration::from_secs(5), stream.close()).await;
    let tls_note =
        stream
            .tls_description()
            .map(|d| match verification.as_ref().and_then(|v| v.result()) {
                Some(Ok(())) => format!("{d}, certificate verified"),
                Some(Err(why)) => format!("{d}, certificate not verified: {why}"),
                None => d,
            });
    (outcome, tls_note)
}

/// Sends the client's pending output; false if the connection failed.
async fn send_output(stream: &mut Stream, client: &mut SmtpClient, limit: Duration) -> bool {
    if client.output().is_empty() {
        return true;
    }
    let sent = with_deadline(limit, stream.write_all(client.output()))
        .await
        .is_ok();
    client.clear_output();
    sent
}

/// Streams the stored message, dot-stuffed, followed by the final `.` line.
async fn send_body(
    env: &Env,
    stream: &mut Stream,
    client: &mut SmtpClient,
    body: BodyId,
    limit: Duration,
) -> Result<(), String> {
    // Pipelined commands may still be waiting in the output.
    if !send_output(stream, client, limit).await {
        return Err("connection lost".to_string());
    }
    let reader = env
        .store
        .open_body(body)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "message body missing".to_string())?;
    let mut enc = DotEncoder::new(None);
    let mut piece = vec![0u8; BODY_PIECE];
    let mut out = Vec::with_capacity(BODY_PIECE + BODY_PIECE / 8);
    // The stored copy starts with the Return-Path written for local deliveries (one line, as
    // `conn::smtp` writes it); RFC 5321 §4.4: a relayed message carries none.
    let mut offset = 0u64;
    let n = reader.read_at(0, &mut piece).map_err(|e| e.to_string())?;
    if piece[..n].starts_with(b"Return-Path:")
        && let Some(end) = memchr::memmem::find(&piece[..n], b"\r\n")
    {
        offset = end as u64 + 2;
    }
    loop {
        let n = reader
            .read_at(offset, &mut piece)
            .map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        offset += n as u64;
        out.clear();
        enc.encode(&piece[..n], &mut out);
        with_deadline(limit, stream.write_all(&out)).await?;
    }
    out.clear();
    enc.finish(&mut out);
    with_deadline(limit, stream.write_all(&out)).await?;
    with_deadline(limit, stream.flush()).await
}

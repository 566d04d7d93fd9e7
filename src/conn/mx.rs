//! The MX driver: inbound SMTP on port 25 (RFC 5321), with STARTTLS (RFC 3207).
//!
//! Pumps a [`SmtpServerSession`] over a [`Stream`]: recipients are decided by
//! [`delivery::check_recipient`], message bytes stream into the store through a
//! [`MessageSink`], and the 250 for a message is sent only after its durable commit. A store
//! fault becomes 451 4.3.0; the session then goes on.

use super::stream::Stream;
use super::{ConnError, ConnId, ReadClock, loggable, with_timeout};
use crate::config::Config;
use crate::delivery::{self, MessageSink, RcptDecision};
use crate::message::trace::{Received, with_keyword};
use crate::proto::smtp::reply::r;
use crate::proto::smtp::{Event, SessionConfig, SmtpServerSession};
use crate::store::{Done, Store, UserId};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// Read buffer per connection.
const READ_BYTES: usize = 16 * 1024;
/// Longest TLS handshake allowed.
const HANDSHAKE_SECS: u64 = 30;

/// What one MX connection needs.
pub struct MxContext {
    /// The store.
    pub store: Store,
    /// Settings in force when the connection was accepted.
    pub config: Rc<Config>,
    /// TLS configuration for STARTTLS, if a certificate is loaded.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Closed when the server shuts down.
    pub shutdown: async_channel::Receiver<()>,
    /// The client's address.
    pub peer: SocketAddr,
    /// Connection id for logs.
    pub cid: ConnId,
}

/// The message transaction in progress.
struct Txn {
    sink: Option<MessageSink>,
    recipients: Vec<(UserId, String)>,
    store_failed: bool,
}

enum Input {
    Bytes(usize),
    Eof,
    Timeout,
    Shutdown,
}

async fn read_some(
    stream: &mut Stream,
    buf: &mut [u8],
    limit: Duration,
    shutdown: &async_channel::Receiver<()>,
) -> Input {
    let read = async {
        match with_timeout(limit, stream.read(buf)).await {
            Ok(0) => Input::Eof,
            Ok(n) => Input::Bytes(n),
            Err(ConnError::Timeout) => Input::Timeout,
            Err(_) => Input::Eof,
        }
    };
    futures_lite::future::or(read, async {
        let _ = shutdown.recv().await;
        Input::Shutdown
    })
    .await
}

async fn flush(
    stream: &mut Stream,
    session: &mut SmtpServerSession,
    limit: Duration,
) -> Result<(), ConnError> {
    if !session.output().is_empty() {
        with_timeout(limit, stream.write_all(session.output())).await?;
        session.clear_output();
        with_timeout(limit, stream.flush()).await?;
    }
    Ok(())
}

fn new_txn_id() -> String {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        b = crate::time::unix_now().to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Serves one MX connection until it ends.
pub async fn serve(mut stream: Stream, ctx: MxContext) -> Result<(), ConnError> {
    let cfg = &ctx.config;
    let mut session = SmtpServerSession::new(SessionConfig {
        hostname: cfg.hostname.clone(),
        max_line_bytes: cfg.smtp_max_line_bytes,
        max_message_bytes: cfg.smtp_max_message_bytes,
        max_recipients: cfg.smtp_max_recipients,
        max_errors: cfg.smtp_max_errors,
        starttls: ctx.tls.is_some(),
        tls_active: false,
    });
    let command_timeout = Duration::from_secs(cfg.smtp_command_timeout_secs);
    let mut clock = ReadClock::new(
        command_timeout,
        Duration::from_secs(cfg.smtp_data_timeout_secs),
        cfg.smtp_min_data_rate,
    );
    let mut buf = vec![0u8; READ_BYTES];
    let mut txn = Txn {
        sink: None,
        recipients: Vec::new(),
        store_failed: false,
    };
    let result = drive(
        &mut stream,
        &ctx,
        &mut session,
        &mut buf,
        &mut txn,
        command_timeout,
        &mut clock,
    )
    .await;
    if let Some(sink) = txn.sink.take() {
        sink.discard().await;
    }
    let _ = with_timeout(Duration::from_secs(5), stream.close()).await;
    result
}

#[allow(clippy::too_many_arguments)]
async fn drive(
    stream: &mut Stream,
    ctx: &MxContext,
    session: &mut SmtpServerSession,
    buf: &mut [u8],
    txn: &mut Txn,
    command_timeout: Duration,
    clock: &mut ReadClock,
) -> Result<(), ConnError> {
    loop {
        match session.next_event() {
            Event::NeedInput => {
                flush(stream, session, command_timeout).await?;
                let limit = clock.limit(session.in_data(), session.has_partial_input());
                match read_some(stream, buf, limit, &ctx.shutdown).await {
                    Input::Bytes(n) => {
                        clock.received(n);
                        session.feed(&buf[..n]);
                    }
                    Input::Eof => return Ok(()),
                    Input::Timeout => {
                        log::info!("cid={} timeout", ctx.cid);
                        session.close_with(r::TIMEOUT);
                    }
                    Input::Shutdown => session.close_with(r::SHUTDOWN),
                }
            }
            Event::Mail { from, .. } => {
                log::debug!("cid={} mail from=<{}>", ctx.cid, loggable(from, 100));
                txn.recipients.clear();
                session.accept_mail();
            }
            Event::Rcpt(rcpt) => {
                let rcpt = rcpt.clone();
                match delivery::check_recipient(&ctx.store, &ctx.config, &rcpt) {
                    Ok(RcptDecision::Accept(user)) => {
                        let shown = match &rcpt {
                            crate::proto::smtp::Recipient::Postmaster => "postmaster".to_string(),
                            crate::proto::smtp::Recipient::Mailbox { local, domain } => {
                                format!("{local}@{domain}")
                            }
                        };
                        txn.recipients.push((user, shown));
                        session.accept_rcpt();
                    }
                    Ok(RcptDecision::Reject(reply)) => {
                        log::info!(target: "maillog", "rejected cid={} ip={} rcpt={:?} code={}", ctx.cid, ctx.peer.ip(), rcpt, reply.code);
                        session.reject(reply);
                    }
                    Err(e) => {
                        log::warn!("cid={} recipient check failed: {e}", ctx.cid);
                        session.reject(r::LOCAL_ERROR);
                    }
                }
            }
            Event::StartTls => {
                flush(stream, session, command_timeout).await?;
                let Some(config) = ctx.tls.clone() else {
                    return Ok(()); // not offered, so not reachable
                };
                let plain = std::mem::replace(stream, Stream::Upgrading);
                let upgraded = futures_lite::future::or(
                    async { plain.upgrade(config).await.map_err(ConnError::Tls) },
                    async {
                        async_io::Timer::after(Duration::from_secs(HANDSHAKE_SECS)).await;
                        Err(ConnError::Timeout)
                    },
                )
                .await?;
                *stream = upgraded;
                session.tls_started();
            }
            Event::MessageStart => {
                if let Some(old) = txn.sink.replace(MessageSink::new(&ctx.store)) {
                    old.discard().await;
                }
                txn.store_failed = false;
            }
            Event::Data(bytes) => {
                if let Some(sink) = txn.sink.as_mut()
                    && !txn.store_failed
                    && let Err(e) = sink.write(bytes).await
                {
                    log::warn!("cid={} storing message data failed: {e}", ctx.cid);
                    txn.store_failed = true;
                }
            }
            Event::MessageAbort => {
                if let Some(sink) = txn.sink.take() {
                    sink.discard().await;
                }
            }
            Event::MessageEnd => finish_message(stream, ctx, session, txn).await,
            Event::Close => {
                flush(stream, session, command_timeout).await?;
                return Ok(());
            }
        }
    }
}

async fn finish_message(
    stream: &Stream,
    ctx: &MxContext,
    session: &mut SmtpServerSession,
    txn: &mut Txn,
) {
    let Some(sink) = txn.sink.take() else {
        session.reject(r::LOCAL_ERROR);
        return;
    };
    if txn.store_failed {
        sink.discard().await;
        session.reject(r::LOCAL_ERROR);
        return;
    }
    let id = new_txn_id();
    let now = crate::time::unix_now();
    let from = session.mail_from().unwrap_or("").to_string();
    let tls = stream.tls_description();
    let for_rcpt = match txn.recipients.as_slice() {
        [(_, one)] => Some(one.as_str()),
        _ => None,
    };
    let received = Received {
        helo: session.helo().unwrap_or(""),
        client_ip: ctx.peer.ip(),
        by: &ctx.config.hostname,
        with: with_keyword(session.esmtp(), session.tls(), false, session.smtputf8()),
        tls: tls.as_deref(),
        id: &id,
        for_rcpt,
        when: now,
    };
    // RFC 5321 §4.4: the delivering server records the reverse path in Return-Path.
    let mut prefix = format!("Return-Path: <{}>\r\n", from.replace(['\r', '\n'], "")).into_bytes();
    prefix.extend_from_slice(received.to_header().as_bytes());
    let size = sink.len();
    let users: Vec<UserId> = txn.recipients.iter().map(|(u, _)| *u).collect();
    match sink.commit(prefix, users, now).await {
        Ok(Done::Delivered { copies, .. }) => {
            log::info!(
                target: "maillog",
                "accepted cid={} id={} ip={} from=<{}> rcpts={} size={}",
                ctx.cid,
                id,
                ctx.peer.ip(),
                loggable(&from, 100),
                copies.len(),
                size
            );
            session.message_accepted(&id);
        }
        Ok(_) => session.reject(r::LOCAL_ERROR),
        Err(e) => {
            log::warn!("cid={} commit failed: {e}", ctx.cid);
            session.reject(r::LOCAL_ERROR);
        }
    }
}

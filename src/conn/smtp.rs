//! The SMTP driver for two roles: inbound mail on port 25 (MX, RFC 5321, STARTTLS RFC 3207) and
//! message submission on 587/465 (RFC 6409, AUTH RFC 4954, implicit TLS RFC 8314).
//!
//! Pumps a [`SmtpServerSession`] over a [`Stream`]. MX: recipients are decided by
//! [`delivery::check_recipient`]. Submission: the client must log in (inside TLS) through the
//! shared [`Authenticator`]; the envelope sender and every `From:` address must be the user's
//! own; local recipients are delivered directly, remote ones go to the outbound queue; the
//! header is completed ([`HeaderFixer`]) and the message DKIM-signed (RSA and Ed25519, the RSA
//! signature computed on the blocking pool). Message bytes stream into the store through a
//! [`MessageSink`], and the 250 for a message is sent only after the durable commit that holds
//! its local copies and its queue row. A store fault becomes 451 4.3.0, and a full disk 452
//! 4.3.1 (after the data, or already at MAIL while the store knows it is full or has less than
//! `store.min_free_bytes` free); the session goes on.
//! Quotas: a recipient at their quota is refused at RCPT with 452 4.2.2; after the data, the
//! rule of `delivery` applies (552 5.2.2 when the message fits no recipient, else delivery to
//! those with room and a failure report to the sender for the others).

use super::stream::Stream;
use super::{ConnError, ConnId, Input, ReadClock, loggable, read_some, with_timeout};
use crate::auth::sasl::{decode_login_password, decode_login_username};
use crate::auth::{AuthFailure, Authenticator, Principal, SaslError, decode_plain};
use crate::config::Config;
use crate::delivery::greylist::{self, Greylist};
use crate::delivery::lists::{self, Role as ListRole};
use crate::delivery::sender_auth::{self, Checker};
use crate::delivery::{self, MessageSink, RcptDecision};
use crate::delivery::{clamd, filters, scoring};
use crate::dkim::SelectorKeys;
use crate::dkim::canon::BodyHasher;
use crate::dkim::verify::DkimVerifier;
use crate::dmarc::Disposition;
use crate::message::submit::{HeaderFixer, from_addresses};
use crate::message::trace::{Received, with_keyword};
use crate::proto::line::Exchange;
use crate::proto::smtp::reply::r;
use crate::proto::smtp::{Event, Recipient, Reply, SaslResponse, SessionConfig, SmtpServerSession};
use crate::store::lists::ListChange;
use crate::store::{self, Done, LocalCopy, NewQueued, Op, Store, UserId};
use futures_lite::AsyncWriteExt;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// Read buffer per connection.
const READ_BYTES: usize = 16 * 1024;
/// Longest SASL line accepted on the submission port (RFC 4954 §4 asks for 12288 octets; this
/// fits a 2048-octet PLAIN response, the most `auth::sasl` decodes).
const SUBMISSION_LINE_BYTES: usize = 4096;

/// What the submission role adds.
pub struct Submission {
    /// Logins, throttling and the verification cache, shared by every session.
    pub auth: Rc<Authenticator>,
    /// The DKIM keys of the configured selector, if they could be loaded.
    pub dkim: Option<Arc<SelectorKeys>>,
    /// Port 465: the connection starts with the TLS handshake.
    pub implicit_tls: bool,
}

/// What one SMTP connection needs.
pub struct SmtpContext {
    /// The store.
    pub store: Store,
    /// Settings in force when the connection was accepted.
    pub config: Rc<Config>,
    /// TLS configuration, if a certificate is loaded.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// `Some` on the submission ports.
    pub submission: Option<Submission>,
    /// Sender authentication of inbound mail (MX).
    pub checker: Rc<Checker>,
    /// Closed when the server shuts down.
    pub shutdown: async_channel::Receiver<()>,
    /// The daily counters (received, refused).
    pub stats: Rc<crate::stats::Stats>,
    /// The client's address.
    pub peer: SocketAddr,
    /// Connection id for logs.
    pub cid: ConnId,
}

/// The message transaction in progress.
#[derive(Default)]
struct Txn {
    sink: Option<MessageSink>,
    /// Local recipients: user and address as written (an alias adds one entry per user).
    local: Vec<(LocalCopy, String)>,
    /// Remote recipients (submission only).
    remote: Vec<String>,
    /// Outside addresses mail to a local address is forwarded to (an alias's outside targets,
    /// the sender an SRS address stands for), and the local domain they were reached through.
    forward: Vec<String>,
    forward_domain: Option<String>,
    /// A mailing list address (alone in its transaction) and which of its addresses.
    list: Option<(String, ListRole)>,
    /// For a list's `-bounces` and `-request` addresses: the start of the message.
    capture: Vec<u8>,
    /// Why the message cannot be accepted, once something failed while it streamed in.
    failed: Option<Reply>,
    /// Header rewriting (completion for submission, forged Authentication-Results for MX), and
    /// the DKIM body hash (submission) or the signatures being verified (MX, when checked).
    fixer: Option<HeaderFixer>,
    hasher: Option<BodyHasher>,
    dkim: Option<DkimVerifier>,
    /// MX: this message's sender is checked.
    checked: bool,
    /// MX, when scored: the first `spam.scan_bytes` of the message.
    scan: Vec<u8>,
    scratch: Vec<u8>,
}

impl Txn {
    fn clear_recipients(&mut self) {
        self.local.clear();
        self.remote.clear();
        self.forward.clear();
        self.forward_domain = None;
        self.list = None;
    }
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

/// One connection's state besides the session.
struct Conn<'a> {
    ctx: &'a SmtpContext,
    session: SmtpServerSession,
    txn: Txn,
    principal: Option<Principal>,
}

/// Serves one SMTP connection (MX or submission) until it ends.
pub async fn serve(stream: Stream, ctx: SmtpContext) -> Result<(), ConnError> {
    let implicit = ctx.submission.as_ref().is_some_and(|s| s.implicit_tls);
    let handshake = ctx.config.net_tls_handshake;
    let Some(mut stream) =
        super::starting_stream(stream, implicit, ctx.tls.clone(), handshake).await?
    else {
        return Ok(());
    };
    let cfg = &ctx.config;
    let submission = ctx.submission.is_some();
    let session = SmtpServerSession::new(SessionConfig {
        hostname: cfg.hostname.clone(),
        max_line_bytes: if submission {
            cfg.smtp_max_line_bytes.max(SUBMISSION_LINE_BYTES)
        } else {
            cfg.smtp_max_line_bytes
        },
        max_message_bytes: cfg.smtp_max_message_bytes,
        max_recipients: cfg.smtp_max_recipients,
        max_errors: cfg.smtp_max_errors,
        starttls: ctx.tls.is_some() && !implicit,
        tls_active: implicit,
        auth: submission,
    });
    let mut conn = Conn {
        ctx: &ctx,
        session,
        txn: Txn::default(),
        principal: None,
    };
    let result = drive(&mut stream, &mut conn).await;
    if let Some(sink) = conn.txn.sink.take() {
        sink.discard().await;
    }
    let _ = with_timeout(Duration::from_secs(5), stream.close()).await;
    result
}

async fn drive(stream: &mut Stream, conn: &mut Conn<'_>) -> Result<(), ConnError> {
    let ctx = conn.ctx;
    let cfg = &ctx.config;
    let command_timeout = Duration::from_secs(cfg.smtp_command_timeout_secs);
    let mut clock = ReadClock::new(command_timeout, command_timeout).with_data(
        Duration::from_secs(cfg.smtp_data_timeout_secs),
        cfg.smtp_min_data_rate,
    );
    let mut buf = vec![0u8; READ_BYTES];
    loop {
        match conn.session.next_event() {
            Event::NeedInput => {
                flush(stream, &mut conn.session, command_timeout).await?;
                let limit = clock.limit(conn.session.in_data(), conn.session.has_partial_input());
                match read_some(stream, &mut buf, limit, &ctx.shutdown).await {
                    Input::Bytes(n) => {
                        clock.received(n);
                        conn.session.feed(&buf[..n]);
                    }
                    Input::Eof => return Ok(()),
                    Input::Timeout => {
                        log::info!("cid={} timeout", ctx.cid);
                        conn.session.close_with(r::TIMEOUT);
                    }
                    Input::Shutdown => conn.session.close_with(r::SHUTDOWN),
                }
            }
            Event::Auth(response) => {
                let result = login(ctx, response).await;
                answer_login(conn, result);
            }
            Event::Mail { from, size, .. } => {
                let from = from.to_string();
                log::debug!("cid={} mail from=<{}>", ctx.cid, loggable(&from, 100));
                conn.txn.clear_recipients();
                // statvfs is a system call on the data folder: asked on the blocking pool
                let full = {
                    let (store, reserve) = (ctx.store.clone(), cfg.store_min_free_bytes);
                    blocking::unblock(move || store.known_full(reserve, size)).await
                };
                match &conn.principal {
                    Some(p) if ctx.submission.is_some() && !owns(&ctx.store, p, &from) => {
                        log::info!(target: "maillog", "refused cid={} user={} from=<{}>: not the user's address", ctx.cid, loggable(&p.email, 80), loggable(&from, 100));
                        conn.session.reject(r::NOT_YOUR_ADDRESS);
                    }
                    // The disk is known to be full, or the announced size does not fit above the
                    // reserve: refused before any data is received (RFC 1870 §6.1).
                    _ if full => {
                        log::warn!(target: "maillog", "refused cid={} ip={} from=<{}>: storage full", ctx.cid, ctx.peer.ip(), loggable(&from, 100));
                        conn.session.reject(r::STORAGE_FULL);
                    }
                    _ => conn.session.accept_mail(),
                }
            }
            Event::Rcpt(rcpt) => {
                let rcpt = rcpt.clone();
                rcpt_decision(conn, &rcpt).await;
            }
            Event::StartTls => {
                flush(stream, &mut conn.session, command_timeout).await?;
                let Some(config) = ctx.tls.clone() else {
                    return Ok(()); // not offered, so not reachable
                };
                let plain = std::mem::replace(stream, Stream::Upgrading);
                *stream = super::tls_handshake(plain, config, ctx.config.net_tls_handshake).await?;
                conn.session.tls_started();
                conn.principal = None;
            }
            Event::MessageStart => {
                if let Some(old) = conn.txn.sink.replace(MessageSink::new(&ctx.store)) {
                    old.discard().await;
                }
                conn.txn.failed = None;
                conn.txn.dkim = None;
                conn.txn.scan = Vec::new();
                conn.txn.capture = Vec::new();
                if ctx.submission.is_some() {
                    conn.txn.fixer = Some(HeaderFixer::new(
                        cfg.smtp_max_header_bytes,
                        &cfg.hostname,
                        crate::time::unix_now(),
                    ));
                    conn.txn.hasher = Some(BodyHasher::new());
                    conn.txn.checked = false;
                } else {
                    conn.txn.fixer = Some(HeaderFixer::inbound(
                        cfg.smtp_max_header_bytes,
                        &cfg.hostname,
                    ));
                    conn.txn.checked = cfg.smtp_check_senders
                        && (cfg.smtp_check_loopback || !ctx.peer.ip().is_loopback());
                }
            }
            Event::Data(bytes) => {
                let txn = &mut conn.txn;
                if txn.failed.is_some() {
                    continue;
                }
                let data: &[u8] = match txn.fixer.as_mut() {
                    Some(fixer) => {
                        txn.scratch.clear();
                        match fixer.feed(bytes, &mut txn.scratch) {
                            Ok(body_at) => {
                                let body = &txn.scratch[body_at..];
                                if let Some(h) = txn.hasher.as_mut() {
                                    h.update(body);
                                }
                                if txn.checked
                                    && txn.dkim.is_none()
                                    && let Some(header) = fixer.header()
                                {
                                    txn.dkim = Some(DkimVerifier::new(header));
                                }
                                if let Some(v) = txn.dkim.as_mut() {
                                    v.update(body);
                                }
                                if txn.checked && cfg.spam_enabled {
                                    let room = cfg.spam_scan_bytes.saturating_sub(txn.scan.len());
                                    let take = room.min(txn.scratch.len());
                                    txn.scan.extend_from_slice(&txn.scratch[..take]);
                                }
                                &txn.scratch
                            }
                            Err(_) => {
                                txn.failed = Some(HEADER_TOO_LARGE);
                                continue;
                            }
                        }
                    }
                    None => bytes,
                };
                if matches!(txn.list, Some((_, ListRole::Bounces | ListRole::Request))) {
                    let room = lists::CAPTURE_BYTES.saturating_sub(txn.capture.len());
                    txn.capture.extend_from_slice(&data[..room.min(data.len())]);
                }
                if let Some(sink) = txn.sink.as_mut()
                    && let Err(e) = sink.write(data).await
                {
                    log::warn!("cid={} storing message data failed: {e}", ctx.cid);
                    txn.failed = Some(store_fault(&e));
                }
            }
            Event::MessageAbort => {
                if let Some(sink) = conn.txn.sink.take() {
                    sink.discard().await;
                }
            }
            Event::MessageEnd => finish_message(stream, conn).await,
            Event::Close => {
                flush(stream, &mut conn.session, command_timeout).await?;
                return Ok(());
            }
        }
    }
}

/// RFC 5322 §2.1.1 / RFC 3463: the header section is over the configured limit.
const HEADER_TOO_LARGE: Reply = Reply::new(552, (5, 3, 4), "Header section too large");

/// Whether `address` is one of the principal's own: their address, or an alias that delivers
/// to them (RFC 6409 §6.1: the server may refuse a sender the user is not entitled to).
fn owns(store: &Store, p: &Principal, address: &str) -> bool {
    if address.eq_ignore_ascii_case(&p.email) {
        return true;
    }
    match store.alias(&address.to_ascii_lowercase()) {
        Ok(Some(alias)) => alias.targets.contains(&p.email),
        Ok(None) => false,
        Err(e) => {
            log::warn!("alias lookup failed: {e}");
            false
        }
    }
}

async fn login(ctx: &SmtpContext, response: SaslResponse<'_>) -> Result<Principal, Reply> {
    let Some(sub) = ctx.submission.as_ref() else {
        return Err(r::NOT_IMPLEMENTED);
    };
    let (user, password) = match response {
        SaslResponse::Plain(b64) => match decode_plain(b64) {
            Ok((_authz, user, password)) => (user, password),
            // A proxy login (another user's authorization identity) is a refusal, not bad syntax.
            Err(SaslError::AuthzidMismatch) => return Err(r::AUTH_INVALID),
            Err(_) => return Err(r::AUTH_MALFORMED),
        },
        SaslResponse::Login { user, password } => {
            match (decode_login_username(user), decode_login_password(password)) {
                (Ok(u), Ok(p)) => (u, p),
                _ => return Err(r::AUTH_MALFORMED),
            }
        }
    };
    sub.auth
        .login(&ctx.store, &user, &password, ctx.peer.ip())
        .await
        .map_err(|e| match e {
            AuthFailure::Invalid => r::AUTH_INVALID,
            AuthFailure::Blocked | AuthFailure::Unavailable => r::AUTH_TEMPORARY,
        })
}

fn answer_login(conn: &mut Conn<'_>, result: Result<Principal, Reply>) {
    match result {
        Ok(p) => {
            log::info!(target: "maillog", "login cid={} user={} proto=submission", conn.ctx.cid, loggable(&p.email, 80));
            conn.principal = Some(p);
            conn.session.auth_succeeded();
        }
        Err(reply) => conn.session.auth_failed(reply),
    }
}

async fn rcpt_decision(conn: &mut Conn<'_>, rcpt: &Recipient) {
    let ctx = conn.ctx;
    let shown = match rcpt {
        Recipient::Postmaster => "postmaster".to_string(),
        Recipient::Mailbox { local, domain } => format!("{local}@{domain}"),
    };
    // Submission: a recipient outside our domains goes to the queue (the user is logged in).
    if ctx.submission.is_some()
        && let Recipient::Mailbox { domain, .. } = rcpt
    {
        match ctx.store.is_local_domain(domain) {
            Ok(false) => {
                if !conn
                    .txn
                    .remote
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(&shown))
                {
                    conn.txn.remote.push(shown);
                }
                conn.session.accept_rcpt();
                return;
            }
            Ok(true) => {}
            Err(e) => {
                log::warn!("cid={} recipient check failed: {e}", ctx.cid);
                conn.session.reject(r::LOCAL_ERROR);
                return;
            }
        }
    }
    let decision = delivery::check_recipient(&ctx.store, &ctx.config, rcpt);
    // A list takes its own transaction: the fields it adds go into the one stored body.
    let busy =
        !conn.txn.local.is_empty() || !conn.txn.remote.is_empty() || !conn.txn.forward.is_empty();
    if conn.txn.list.is_some() || (busy && matches!(decision, Ok(RcptDecision::List { .. }))) {
        conn.session.reject(r::LIST_ALONE);
        return;
    }
    match decision {
        Ok(RcptDecision::List { list, role }) => {
            let from = conn.session.mail_from().unwrap_or("").to_ascii_lowercase();
            if role == ListRole::Post {
                let allowed = match ctx.store.list(&list) {
                    Ok(Some(l)) => !from.is_empty() && l.may_post(&from),
                    _ => false,
                };
                if !allowed {
                    log::info!(target: "maillog", "rejected cid={} ip={} from=<{}> list={}: not allowed to post", ctx.cid, ctx.peer.ip(), loggable(&from, 100), list);
                    conn.session.reject(r::LIST_NOT_ALLOWED);
                    return;
                }
            }
            conn.txn.list = Some((list, role));
            conn.session.accept_rcpt();
        }
        Ok(RcptDecision::Accept { copies, forward }) => {
            // RFC 6647 on the MX only, and never for postmaster (RFC 5321 §4.5.1).
            let postmaster = match rcpt {
                Recipient::Postmaster => true,
                Recipient::Mailbox { local, .. } => local.eq_ignore_ascii_case("postmaster"),
            };
            if ctx.submission.is_none() && !postmaster {
                let from = conn.session.mail_from().unwrap_or("").to_string();
                let now = crate::time::unix_now();
                let g = greylist::check(&ctx.store, &ctx.config, ctx.peer.ip(), &from, &shown, now);
                if let Greylist::Defer(secs) = g.await {
                    log::info!(target: "maillog", "greylisted cid={} ip={} from=<{}> rcpt=<{}>", ctx.cid, ctx.peer.ip(), loggable(&from, 100), loggable(&shown, 100));
                    conn.session.reject(Reply::owned(
                        451,
                        Some((4, 7, 1)),
                        format!("Greylisted, please try again in {secs} seconds"),
                    ));
                    return;
                }
            }
            for copy in copies {
                conn.txn.local.push((copy, shown.clone()));
            }
            for f in forward {
                if !conn.txn.forward.iter().any(|x| x.eq_ignore_ascii_case(&f)) {
                    conn.txn.forward.push(f);
                }
            }
            if let Recipient::Mailbox { domain, .. } = rcpt {
                conn.txn
                    .forward_domain
                    .get_or_insert_with(|| domain.clone());
            }
            conn.session.accept_rcpt();
        }
        Ok(RcptDecision::Reject(reply)) => {
            log::info!(target: "maillog", "rejected cid={} ip={} rcpt={:?} code={}", ctx.cid, ctx.peer.ip(), rcpt, reply.code);
            ctx.stats.count(crate::stats::Event::Refused);
            conn.session.reject(reply);
        }
        Err(e) => {
            log::warn!("cid={} recipient check failed: {e}", ctx.cid);
            conn.session.reject(r::LOCAL_ERROR);
        }
    }
}

/// The envelope sender for forwarding a message from `from` through the local `domain`: as it
/// is for the null sender and our own domains, else rewritten with SRS (`crate::srs`) so the
/// next hop's SPF check sees our domain. Without a secret it stays as it is.
fn forward_sender(ctx: &SmtpContext, from: &str, domain: &str) -> String {
    let ours = |d: &str| ctx.store.is_local_domain(d).unwrap_or(false);
    if from.is_empty() || ours(crate::message::address::domain(from)) {
        return from.to_string();
    }
    match ctx.store.state(crate::srs::SECRET_KEY) {
        Ok(Some(secret)) => {
            crate::srs::forward(&secret, from, domain, crate::time::unix_now() / 86_400)
                .unwrap_or_else(|| from.to_string())
        }
        _ => from.to_string(),
    }
}

/// Refuses the message in progress with `reply`, dropping what was stored of it.
async fn refuse(conn: &mut Conn<'_>, sink: MessageSink, reply: Reply) {
    if reply.code >= 500 {
        conn.ctx.stats.count(crate::stats::Event::Refused);
    }
    sink.discard().await;
    conn.session.reject(reply);
}

async fn finish_message(stream: &Stream, conn: &mut Conn<'_>) {
    let ctx = conn.ctx;
    let Some(mut sink) = conn.txn.sink.take() else {
        conn.session.reject(r::LOCAL_ERROR);
        return;
    };
    if let Some(reply) = conn.txn.failed.take() {
        return refuse(conn, sink, reply).await;
    }
    let id = new_txn_id();
    let now = crate::time::unix_now();
    let from = conn.session.mail_from().unwrap_or("").to_string();
    let mut header = Vec::new();
    if let Some(mut fixer) = conn.txn.fixer.take() {
        if fixer.header().is_none() {
            let mut rest = Vec::new();
            fixer.finish(&mut rest);
            if conn.txn.checked && ctx.config.spam_enabled {
                let room = ctx
                    .config
                    .spam_scan_bytes
                    .saturating_sub(conn.txn.scan.len());
                conn.txn
                    .scan
                    .extend_from_slice(&rest[..room.min(rest.len())]);
            }
            if let Err(e) = sink.write(&rest).await {
                log::warn!("cid={} storing message data failed: {e}", ctx.cid);
                return refuse(conn, sink, store_fault(&e)).await;
            }
        }
        header = fixer.header().unwrap_or_default().to_vec();
    }
    // A list's service addresses: what the message says is acted on; nothing is stored.
    if let Some((list, role @ (ListRole::Bounces | ListRole::Request))) = conn.txn.list.clone() {
        let capture = std::mem::take(&mut conn.txn.capture);
        let change = match role {
            ListRole::Bounces => Some(ListChange::Bounced {
                members: lists::failed_recipients(&capture),
                max: ctx.config.lists_max_bounces,
            }),
            _ if !from.is_empty() && lists::asks_to_leave(&header) => {
                Some(ListChange::DelMembers(vec![from.to_ascii_lowercase()]))
            }
            _ => None,
        };
        if let Some(change) = change {
            log::info!(target: "maillog", "list {list} cid={} from=<{}>: {change:?}", ctx.cid, loggable(&from, 100));
            if let Err(e) = ctx
                .store
                .call(Op::List {
                    address: list,
                    change,
                })
                .await
            {
                log::warn!("cid={} list change failed: {e}", ctx.cid);
                return refuse(conn, sink, store_fault(&e)).await;
            }
        }
        sink.discard().await;
        conn.session.message_accepted(&id);
        return;
    }
    // MX: sender authentication, and what the From: domain's DMARC policy asks for.
    let mut results = String::new();
    let mut junk = false;
    if conn.txn.checked {
        let dkim = match conn.txn.dkim.take() {
            Some(v) => v.finish(),
            None => DkimVerifier::new(&header).finish(),
        };
        let resolver = ctx.checker.resolver.get(&ctx.config.dns_nameservers).await;
        let verdict = sender_auth::check(
            &resolver,
            &ctx.checker.psl,
            &ctx.config.hostname,
            sender_auth::Message {
                client: ctx.peer.ip(),
                helo: conn.session.helo().unwrap_or(""),
                mail_from: &from,
                header: &header,
                dkim,
                dnsbl_zones: &ctx.config.spam_dnsbl_zones,
            },
            now,
            Duration::from_millis(ctx.config.smtp_check_timeout_ms),
        )
        .await;
        match verdict.disposition() {
            Disposition::Reject => {
                log::info!(target: "maillog", "rejected cid={} ip={} from=<{}> dmarc=fail policy=reject domain={}", ctx.cid, ctx.peer.ip(), loggable(&from, 100), loggable(&verdict.dmarc.from_domain, 100));
                // RFC 7489 §6.6.3 / §7.3: a reject policy is applied at SMTP time (no bounce).
                let reply = Reply::owned(
                    550,
                    Some((5, 7, 1)),
                    format!(
                        "Message rejected by the DMARC policy of {}",
                        verdict.dmarc.from_domain
                    ),
                );
                return refuse(conn, sink, reply).await;
            }
            Disposition::Quarantine => junk = true,
            Disposition::None => {}
        }
        results = verdict.field.clone();
        if ctx.config.spam_enabled {
            let scan = std::mem::take(&mut conn.txn.scan);
            if let Some(socket) = &ctx.config.spam_clamd_socket {
                let limit = Duration::from_millis(ctx.config.spam_clamd_timeout_ms);
                match clamd::scan(socket, &scan, limit).await {
                    clamd::Scan::Clean => {}
                    clamd::Scan::Found(sig) => {
                        log::info!(target: "maillog", "rejected cid={} ip={} from=<{}> virus={}", ctx.cid, ctx.peer.ip(), loggable(&from, 100), sig);
                        let reply = Reply::owned(
                            550,
                            Some((5, 7, 1)),
                            format!("Message contains a virus ({sig})"),
                        );
                        return refuse(conn, sink, reply).await;
                    }
                    clamd::Scan::Unavailable(why) => {
                        log::warn!("cid={} virus check skipped: {why}", ctx.cid);
                    }
                }
            }
            let only = match conn.txn.local.as_slice() {
                [(first, _), rest @ ..] if rest.iter().all(|(c, _)| c.user == first.user) => {
                    Some(first.user)
                }
                _ => None,
            };
            let v = scoring::score(&ctx.store, &ctx.config, scan, &verdict, only).await;
            let shown = crate::spam::x_spam_score(&v);
            log::info!(target: "maillog", "scored cid={} ip={} from=<{}> spam={}", ctx.cid, ctx.peer.ip(), loggable(&from, 100), shown);
            match v.action {
                crate::spam::Action::Reject => {
                    let reply = Reply::owned(
                        550,
                        Some((5, 7, 1)),
                        format!("Message rejected as spam (score {:.1})", v.score),
                    );
                    return refuse(conn, sink, reply).await;
                }
                crate::spam::Action::Junk => junk = true,
                crate::spam::Action::Accept => {}
            }
            results.push_str(&format!("X-Spam-Score: {shown}\r\n"));
        }
    }
    // Kept for a report to the sender, should the message not fit some recipient's quota.
    let original_header = header.clone();
    // Submission: check the header's From, sign.
    let mut signature = String::new();
    if ctx.submission.is_some() {
        let Some(p) = conn.principal.clone() else {
            return refuse(conn, sink, r::AUTH_REQUIRED).await;
        };
        match from_addresses(&header) {
            Some(list) if !list.is_empty() && list.iter().all(|a| owns(&ctx.store, &p, a)) => {}
            _ => {
                log::info!(target: "maillog", "refused cid={} user={}: From header is not the user's address", ctx.cid, loggable(&p.email, 80));
                return refuse(conn, sink, r::NOT_YOUR_ADDRESS).await;
            }
        }
        let body_hash = conn.txn.hasher.take().unwrap_or_default().finish();
        signature = sign(ctx, &p, header.clone(), body_hash, now).await;
    }
    // A list post goes to the members from the list's bounce address, with the list's fields.
    let mut envelope_from = from.clone();
    let mut list_fields = String::new();
    if let Some((address, ListRole::Post)) = conn.txn.list.take() {
        // Up to `MAX_MEMBERS` recipient lookups: on the blocking pool, not the executor.
        let expanded = {
            let (store, config) = (ctx.store.clone(), Config::clone(&ctx.config));
            let (address, header) = (address.clone(), header.clone());
            blocking::unblock(move || -> store::Result<_> {
                let Some(list) = store.list(&address)? else {
                    return Ok(None);
                };
                let fields = lists::fields(&list, &header);
                Ok(Some((fields, lists::expand(&store, &config, &list)?)))
            })
            .await
        };
        match expanded {
            Ok(None) => {}
            Ok(Some((fields, (copies, remote)))) => {
                list_fields = fields;
                envelope_from = lists::bounce_address(&address);
                log::info!(target: "maillog", "list {address} cid={} post from=<{}> to {} local and {} remote members", ctx.cid, loggable(&from, 100), copies.len(), remote.len());
                conn.txn.local = copies.into_iter().map(|c| (c, address.clone())).collect();
                conn.txn.remote = remote;
            }
            Err(e) => {
                log::warn!("cid={} list expansion failed: {e}", ctx.cid);
                return refuse(conn, sink, store_fault(&e)).await;
            }
        }
    }
    let tls = stream.tls_description();
    let recipients = conn.txn.local.len() + conn.txn.remote.len();
    let for_rcpt = match (conn.txn.local.as_slice(), conn.txn.remote.as_slice()) {
        ([(_, one)], []) => Some(one.as_str()),
        ([], [one]) => Some(one.as_str()),
        _ => None,
    };
    let received = Received {
        helo: conn.session.helo().unwrap_or(""),
        client_ip: ctx.peer.ip(),
        by: &ctx.config.hostname,
        with: with_keyword(
            conn.session.esmtp(),
            conn.session.tls(),
            conn.principal.is_some(),
            conn.session.smtputf8(),
        ),
        tls: tls.as_deref(),
        id: &id,
        for_rcpt,
        when: now,
    };
    // RFC 5321 §4.4: the delivering server records the reverse path in Return-Path. A submitted
    // message's local copies are final deliveries too; the queue strips the field again before
    // relaying the shared body (`queue::transport`), as a relay must not send one.
    let mut prefix = format!(
        "Return-Path: <{}>\r\n",
        envelope_from.replace(['\r', '\n'], "")
    )
    .into_bytes();
    prefix.extend_from_slice(list_fields.as_bytes());
    prefix.extend_from_slice(results.as_bytes());
    prefix.extend_from_slice(signature.as_bytes());
    prefix.extend_from_slice(received.to_header().as_bytes());
    let size = sink.len();
    // Each local recipient's Sieve script: where their copies go, redirects, reject, vacation.
    let local = std::mem::take(&mut conn.txn.local);
    // Each user and the address they were given as, for the over-quota report.
    let shown_as: Vec<(UserId, String)> = local.iter().map(|(c, a)| (c.user, a.clone())).collect();
    let filtered = {
        let (store, config) = (ctx.store.clone(), Config::clone(&ctx.config));
        let has_remote = !conn.txn.remote.is_empty() || !conn.txn.forward.is_empty();
        let (header, from) = (header.clone(), from.clone());
        let list = !list_fields.is_empty();
        blocking::unblock(move || {
            let m = filters::Incoming {
                header: &header,
                size,
                from: &from,
                local: &local,
                junk,
                has_remote,
                list,
            };
            filters::apply(&store, &config, &m)
        })
        .await
    };
    let filtered = match filtered {
        Ok(f) => f,
        Err(e) => {
            log::warn!("cid={} filtering failed: {e}", ctx.cid);
            return refuse(conn, sink, store_fault(&e)).await;
        }
    };
    if let Some(reason) = &filtered.reject {
        log::info!(target: "maillog", "rejected cid={} ip={} from=<{}> by the recipient's filter", ctx.cid, ctx.peer.ip(), loggable(&from, 100));
        let reason = reason.replace(['\r', '\n'], " ");
        let reply = Reply::owned(550, Some((5, 7, 1)), loggable(&reason, 200));
        return refuse(conn, sink, reply).await;
    }
    let mut remote = std::mem::take(&mut conn.txn.remote);
    let mut forward = std::mem::take(&mut conn.txn.forward);
    forward.extend(filtered.redirects.iter().cloned());
    // Forwarded mail leaves with a sender of ours (SRS) when its own is from elsewhere.
    let queue_from = match (forward.is_empty(), conn.txn.forward_domain.take()) {
        (false, Some(domain)) if envelope_from == from => forward_sender(ctx, &from, &domain),
        _ => envelope_from.clone(),
    };
    for r in forward {
        if !remote.iter().any(|x| x.eq_ignore_ascii_case(&r)) {
            remote.push(r);
        }
    }
    if filtered.copies.is_empty() && remote.is_empty() {
        // Every recipient's script discarded it: accepted, and nothing to store (RFC 5228 §4.5).
        log::info!(target: "maillog", "discarded cid={} id={} ip={} from=<{}> by the recipients' filters", ctx.cid, id, ctx.peer.ip(), loggable(&from, 100));
        sink.discard().await;
        conn.session.message_accepted(&id);
        return;
    }
    let queue = (!remote.is_empty()).then_some(NewQueued {
        from: queue_from,
        rcpts: remote,
        now,
    });
    match sink.commit(prefix, filtered.copies, queue, junk, now).await {
        Ok(Done::Delivered {
            queued, over_quota, ..
        }) => {
            if !over_quota.is_empty() {
                let over: Vec<String> = over_quota
                    .iter()
                    .map(|(user, email)| {
                        shown_as
                            .iter()
                            .find(|(u, _)| u == user)
                            .map_or_else(|| email.clone(), |(_, shown)| shown.clone())
                    })
                    .collect();
                log::info!(target: "maillog", "over quota cid={} id={} from=<{}> rcpts={}", ctx.cid, id, loggable(&from, 100), loggable(&over.join(","), 400));
                ctx.stats.count(crate::stats::Event::Refused);
                if let Err(e) =
                    report_over_quota(ctx, &from, &id, &original_header, &over, now).await
                {
                    // The copies with room are stored, the report is not: 451 makes the client
                    // send again rather than leave the sender uninformed.
                    log::warn!("cid={} over-quota report failed: {e}", ctx.cid);
                    conn.session.reject(store_fault(&e));
                    return;
                }
            }
            log::info!(
                target: "maillog",
                "accepted cid={} id={} ip={} from=<{}> rcpts={} size={}{}",
                ctx.cid,
                id,
                ctx.peer.ip(),
                loggable(&from, 100),
                recipients,
                size,
                queued.map(|q| format!(" queued={q}")).unwrap_or_default()
            );
            if ctx.submission.is_none() {
                ctx.stats.count(crate::stats::Event::Received);
            }
            conn.session.message_accepted(&id);
            filters::send_replies(&ctx.store, &ctx.config, filtered.replies).await;
        }
        Ok(_) => conn.session.reject(r::LOCAL_ERROR),
        Err(store::Error::Refused(store::Refusal::OverQuota(who))) => {
            log::info!(target: "maillog", "rejected cid={} id={} ip={} from=<{}> size={} over quota: {}", ctx.cid, id, ctx.peer.ip(), loggable(&from, 100), size, loggable(&who, 100));
            ctx.stats.count(crate::stats::Event::Refused);
            conn.session.reject(r::MAILBOX_FULL);
        }
        Err(e) => {
            log::warn!("cid={} commit failed: {e}", ctx.cid);
            conn.session.reject(store_fault(&e));
        }
    }
}

/// The reply to a message the store could not take: 452 4.3.1 when its disk is full (the
/// client keeps the message and retries, RFC 5321 §4.5.3.1.10), else 451 4.3.0. Never 250.
fn store_fault(e: &store::Error) -> Reply {
    if e.is_full() {
        r::STORAGE_FULL
    } else {
        r::LOCAL_ERROR
    }
}

/// Commits the report telling `from` that message `id` did not fit the quota of `over`
/// (`delivery::quota_report`); nothing for the null sender.
async fn report_over_quota(
    ctx: &SmtpContext,
    from: &str,
    id: &str,
    header: &[u8],
    over: &[String],
    now: u64,
) -> store::Result<()> {
    let report = delivery::quota_report(&ctx.store, &ctx.config, from, id, header, over, now)?;
    if let Some(d) = report {
        let local = !d.recipients.is_empty();
        ctx.store.call(store::Op::Deliver(d)).await?;
        log::info!(target: "maillog", "report id={id} kind=Failure to=<{}> rcpts={} {}", loggable(from, 100), over.len(), if local { "local" } else { "queued" });
    }
    Ok(())
}

/// The DKIM-Signature fields (RSA first, then Ed25519) for a message from `p`, or nothing when
/// no keys are loaded or signing fails (the message still goes out, unsigned, and the log says
/// why). The RSA signature costs milliseconds of CPU, so both are computed on the blocking pool.
async fn sign(
    ctx: &SmtpContext,
    p: &Principal,
    header: Vec<u8>,
    body_hash: [u8; 32],
    now: u64,
) -> String {
    let Some(keys) = ctx.submission.as_ref().and_then(|s| s.dkim.clone()) else {
        return String::new();
    };
    let domain = p.email.rsplit_once('@').map_or("", |(_, d)| d).to_string();
    let selector = ctx.config.dkim_selector.clone();
    let result = blocking::unblock(move || -> Result<String, crate::dkim::Error> {
        let signers = crate::dkim::sign::Signer::pair(&domain, &selector, &keys)?;
        let mut out = String::new();
        for s in &signers {
            out.push_str(&s.sign(&header, &body_hash, now)?);
        }
        Ok(out)
    })
    .await;
    result.unwrap_or_else(|e| {
        log::warn!("cid={} DKIM signing failed: {e}", ctx.cid);
        String::new()
    })
}

//! The IMAP driver (RFC 9051 / RFC 3501 on 143 with STARTTLS and 993 with implicit TLS): pumps
//! an [`ImapSession`] over a [`Stream`] and executes its commands against the store.
//!
//! Invariants:
//! - every read has a deadline and output is flushed before each read: before login the login
//!   limit bounds the whole exchange; after it, a silent session may wait the idle limit (the
//!   keep-alive interval inside IDLE), but a command must arrive whole within the command limit
//!   of its first byte and APPEND message data must keep moving ([`ReadClock`]);
//! - message literals of FETCH stream from the store in chunks straight to the socket, and
//!   APPEND literals stream into the store, so no message is held whole in memory;
//! - changes made by other sessions are reported when RFC 9051 §7.5.1 allows: new messages and
//!   flag changes after any command, expunges never while answering FETCH, STORE or SEARCH;
//! - a session only ever reaches mailboxes of the user it authenticated as (every lookup is by
//!   that user's id).

mod auth;
mod fetch;
mod mailbox;
mod messages;
mod quota;

use super::compress::Deflate;
use super::stream::Stream;
use super::{ConnError, ConnId, ReadClock, loggable, with_timeout};
use crate::auth::{Authenticator, Principal};
use crate::config::Config;
use crate::proto::imap::response::Status;
use crate::proto::imap::view::{MailboxView, Updates};
use crate::proto::imap::{ConnState, Event, ImapSession, SessionConfig};
use crate::proto::line::Exchange;
use crate::store::{MailboxId, Store};
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

/// Read buffer per connection (allocated while reading, released when idle).
const READ_BYTES: usize = 8 * 1024;

/// What one IMAP connection needs.
pub struct ImapContext {
    /// The store.
    pub store: Store,
    /// Settings in force when the connection was accepted.
    pub config: Rc<Config>,
    /// TLS configuration, if a certificate is loaded.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Port 993: TLS from the first byte.
    pub implicit_tls: bool,
    /// Logins, throttling and the verification cache, shared by every session.
    pub auth: Rc<Authenticator>,
    /// Closed when the server shuts down.
    pub shutdown: async_channel::Receiver<()>,
    /// The client's address.
    pub peer: SocketAddr,
    /// Connection id for logs.
    pub cid: ConnId,
}

/// The byte stream, possibly compressed (RFC 4978).
enum Wire {
    Plain(Stream),
    Deflate(Box<Deflate<Stream>>),
}

impl AsyncRead for Wire {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Wire::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Wire::Deflate(d) => Pin::new(d.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Wire {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Wire::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Wire::Deflate(d) => Pin::new(d.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Wire::Plain(s) => Pin::new(s).poll_flush(cx),
            Wire::Deflate(d) => Pin::new(d.as_mut()).poll_flush(cx),
        }
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Wire::Plain(s) => Pin::new(s).poll_close(cx),
            Wire::Deflate(d) => Pin::new(d.as_mut()).poll_close(cx),
        }
    }
}

/// Extensions the client turned on (RFC 5161 ENABLE, RFC 7162, RFC 9051).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Enabled {
    /// CONDSTORE: MODSEQ in FETCH responses after changes.
    pub condstore: bool,
    /// QRESYNC: VANISHED instead of EXPUNGE.
    pub qresync: bool,
    /// IMAP4rev2 (or UTF8=ACCEPT): UTF-8 mailbox names, no \Recent.
    pub utf8: bool,
    /// IMAP4rev2 proper: ESEARCH-style SEARCH responses.
    pub rev2: bool,
}

/// The selected mailbox.
pub(crate) struct Selected {
    pub id: MailboxId,
    pub name: String,
    pub view: MailboxView,
    /// Store generation last synced.
    pub generation: u64,
    /// Flag changes this session made and already reported: (uid, modseq), skipped by the next
    /// sync so the client does not hear of them twice.
    pub own_changes: Vec<(u32, u64)>,
}

/// An APPEND being streamed into the store.
pub(crate) struct Appending {
    pub sink: Option<crate::delivery::MessageSink>,
    pub mailbox: MailboxId,
    pub flags: u32,
    pub keywords: Vec<String>,
    pub date: u64,
    pub failed: Option<crate::store::Error>,
}

/// One connection's state beside the protocol session.
pub(crate) struct Conn {
    wire: Wire,
    pub session: ImapSession,
    pub ctx: ImapContext,
    pub user: Option<Principal>,
    pub selected: Option<Selected>,
    pub enabled: Enabled,
    pub appending: Option<Appending>,
    /// The AUTHENTICATE in progress (tag).
    pub sasl_tag: Option<String>,
    /// The IDLE in progress (tag).
    pub idle_tag: Option<String>,
    /// When a connection that has not logged in is dropped (`imap.login_timeout_secs` after
    /// it opened, however the client spaces its bytes).
    login_deadline: Instant,
    /// Read deadlines once logged in.
    clock: ReadClock,
}

enum Input {
    Bytes(usize),
    Eof,
    Timeout,
    Shutdown,
    Changed,
}

impl Conn {
    /// Sends the session's pending output.
    pub async fn flush(&mut self) -> Result<(), ConnError> {
        if !self.session.output().is_empty() {
            let limit = Duration::from_secs(self.ctx.config.imap_idle_timeout_secs.min(300));
            with_timeout(limit, self.wire.write_all(self.session.output())).await?;
            self.session.clear_output();
        }
        let limit = Duration::from_secs(60);
        with_timeout(limit, self.wire.flush()).await?;
        Ok(())
    }

    /// Writes bytes after the session's pending output (for streamed literals).
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), ConnError> {
        if !self.session.output().is_empty() {
            let out = std::mem::take(self.session.out_mut());
            with_timeout(Duration::from_secs(300), self.wire.write_all(&out)).await?;
        }
        with_timeout(Duration::from_secs(300), self.wire.write_all(bytes)).await?;
        Ok(())
    }

    /// Whether mailbox names are UTF-8 on the wire (else modified UTF-7).
    pub fn utf8(&self) -> bool {
        self.enabled.utf8
    }

    /// Reports changes made elsewhere to the selected mailbox (RFC 9051 §7.5.1).
    pub fn sync_selected(&mut self, may_expunge: bool) -> Result<(), crate::store::Error> {
        let Some(sel) = self.selected.as_mut() else {
            return Ok(());
        };
        let generation = self.ctx.store.mailbox_generation(sel.id);
        if generation == sel.generation && !(may_expunge && sel.view.has_pending_expunges()) {
            return Ok(());
        }
        let rows = self.ctx.store.messages(sel.id)?;
        let current: Vec<u32> = rows.iter().map(|m| m.uid.get()).collect();
        let old_modseq = sel.view.modseq;
        let known_before: Vec<u32> = sel.view.uids().to_vec();
        let updates: Updates = sel.view.sync(&current, may_expunge, self.enabled.qresync);
        let mut out = Vec::new();
        if !updates.vanished_uids.is_empty() {
            out.extend_from_slice(
                format!(
                    "* VANISHED {}\r\n",
                    mailbox::uid_set(&updates.vanished_uids)
                )
                .as_bytes(),
            );
        }
        for seq in &updates.expunged_seqs {
            out.extend_from_slice(format!("* {seq} EXPUNGE\r\n").as_bytes());
        }
        if let Some(n) = updates.exists {
            out.extend_from_slice(format!("* {n} EXISTS\r\n").as_bytes());
        }
        // Flag changes of messages the client already knew about.
        let mut highest = old_modseq;
        for m in &rows {
            highest = highest.max(m.row.modseq);
            let uid = m.uid.get();
            let own = sel.own_changes.contains(&(uid, m.row.modseq));
            if m.row.modseq > old_modseq
                && !own
                && known_before.binary_search(&uid).is_ok()
                && let Some(seq) = sel.view.seq(uid)
            {
                out.extend_from_slice(format!("* {seq} FETCH (").as_bytes());
                out.extend_from_slice(
                    format!(
                        "UID {uid} FLAGS ({})",
                        messages::flag_list(m.row.flags, &m.row.keywords)
                    )
                    .as_bytes(),
                );
                if self.enabled.condstore {
                    out.extend_from_slice(format!(" MODSEQ ({})", m.row.modseq).as_bytes());
                }
                out.extend_from_slice(b")\r\n");
            }
        }
        sel.view.modseq = highest;
        sel.generation = generation;
        sel.own_changes.clear();
        self.session.untagged(&out);
        Ok(())
    }
}

fn session_config(
    cfg: &Config,
    tls_available: bool,
    implicit: bool,
    peer: &SocketAddr,
) -> SessionConfig {
    SessionConfig {
        max_command_bytes: cfg.imap_max_command_bytes,
        max_append_bytes: cfg.smtp_max_message_bytes,
        max_errors: cfg.imap_max_errors,
        starttls: tls_available && !implicit,
        tls_active: implicit,
        plaintext_auth: cfg.imap_plaintext_loopback && peer.ip().is_loopback(),
        compress: true,
    }
}

/// Serves one IMAP connection until it ends.
pub async fn serve(stream: Stream, ctx: ImapContext) -> Result<(), ConnError> {
    let handshake = ctx.config.net_tls_handshake;
    let Some(stream) =
        super::starting_stream(stream, ctx.implicit_tls, ctx.tls.clone(), handshake).await?
    else {
        return Ok(());
    };
    let session = ImapSession::new(session_config(
        &ctx.config,
        ctx.tls.is_some(),
        ctx.implicit_tls,
        &ctx.peer,
    ));
    let login_deadline = Instant::now() + Duration::from_secs(ctx.config.imap_login_timeout_secs);
    let command = Duration::from_secs(ctx.config.imap_command_timeout_secs);
    let clock = ReadClock::new(
        Duration::from_secs(ctx.config.imap_idle_timeout_secs),
        command,
    )
    .with_data(command, ctx.config.imap_min_append_rate);
    let mut conn = Conn {
        wire: Wire::Plain(stream),
        session,
        ctx,
        user: None,
        selected: None,
        enabled: Enabled::default(),
        appending: None,
        sasl_tag: None,
        idle_tag: None,
        login_deadline,
        clock,
    };
    let result = drive(&mut conn).await;
    if let Some(mut a) = conn.appending.take()
        && let Some(sink) = a.sink.take()
    {
        sink.discard().await;
    }
    let _ = with_timeout(Duration::from_secs(5), conn.wire.close()).await;
    result
}

async fn read_input(conn: &mut Conn, buf: &mut Vec<u8>) -> Input {
    let limit = if conn.user.is_none() {
        conn.login_deadline
            .saturating_duration_since(Instant::now())
    } else {
        let partial = conn.session.has_partial_input();
        let limit = conn.clock.limit(conn.session.in_append(), partial);
        if conn.session.idling() && !partial {
            Duration::from_secs(conn.ctx.config.imap_idle_keepalive_secs)
        } else {
            limit
        }
    };
    if buf.is_empty() {
        buf.resize(READ_BYTES, 0);
    }
    let shutdown = conn.ctx.shutdown.clone();
    let watch = match (&conn.selected, conn.session.idling()) {
        (Some(sel), true) => Some((sel.id, sel.generation)),
        _ => None,
    };
    let store = conn.ctx.store.clone();
    let read = async {
        match with_timeout(limit, conn.wire.read(buf)).await {
            Ok(0) => Input::Eof,
            Ok(n) => Input::Bytes(n),
            Err(ConnError::Timeout) => Input::Timeout,
            Err(_) => Input::Eof,
        }
    };
    let changed = async {
        match watch {
            Some((id, generation)) => {
                store.changed(id, generation).await;
                Input::Changed
            }
            None => std::future::pending().await,
        }
    };
    futures_lite::future::or(futures_lite::future::or(read, changed), async {
        let _ = shutdown.recv().await;
        Input::Shutdown
    })
    .await
}

async fn drive(conn: &mut Conn) -> Result<(), ConnError> {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        match conn.session.next_event() {
            Event::NeedInput => {
                conn.flush().await?;
                match read_input(conn, &mut buf).await {
                    Input::Bytes(n) => {
                        conn.clock.received(n);
                        conn.session.feed(&buf[..n]);
                    }
                    Input::Eof => return Ok(()),
                    Input::Timeout
                        if conn.user.is_some()
                            && (conn.session.has_partial_input() || conn.session.in_append()) =>
                    {
                        log::info!("cid={} command timeout", conn.ctx.cid);
                        conn.session
                            .bye("Autologout; command not completed in time");
                    }
                    Input::Timeout if conn.session.idling() => {
                        // Sparse keep-alive for NAT boxes; phones sleep between (RFC 2177).
                        conn.session.untagged(b"* OK Still here\r\n");
                    }
                    Input::Timeout => {
                        log::info!("cid={} autologout", conn.ctx.cid);
                        conn.session.bye("Autologout; idle for too long");
                    }
                    Input::Shutdown => conn.session.bye("Server shutting down"),
                    Input::Changed => {
                        if let Err(e) = conn.sync_selected(true) {
                            log::warn!("cid={} sync failed: {e}", conn.ctx.cid);
                        }
                    }
                }
                // An idle connection keeps no read buffer.
                if !conn.session.has_partial_input() && !buf.is_empty() && conn.session.idling() {
                    buf = Vec::new();
                }
            }
            Event::Command { tag, request } => {
                match messages::execute(conn, tag.clone(), request).await {
                    Ok(()) => {}
                    // The selected mailbox was deleted by another session (RFC 2180 §3.1): not our
                    // fault, and the client can recover by selecting another one (RFC 5530).
                    Err(crate::store::Error::Refused(crate::store::Refusal::NoSuchMailbox(_)))
                        if !conn.session.is_closed() =>
                    {
                        conn.session.tagged(
                            &tag,
                            Status::No,
                            Some("NONEXISTENT"),
                            "Mailbox no longer exists",
                        );
                    }
                    Err(e) => {
                        log::warn!("cid={} command failed: {e}", conn.ctx.cid);
                        if !conn.session.is_closed() {
                            let (code, text) = mailbox::fault(&e);
                            conn.session.tagged(&tag, Status::No, Some(code), text);
                        }
                    }
                }
            }
            Event::AppendStart(start) => mailbox::append_start(conn, start),
            Event::AppendData(bytes) => {
                let bytes = bytes.to_vec();
                mailbox::append_data(conn, &bytes).await;
            }
            Event::AppendEnd => mailbox::append_end(conn).await,
            Event::AppendAbort => {
                if let Some(mut a) = conn.appending.take()
                    && let Some(sink) = a.sink.take()
                {
                    sink.discard().await;
                }
            }
            Event::SaslResponse(response) => auth::sasl_response(conn, response).await,
            Event::IdleDone => {
                let tag = conn.idle_tag.take().unwrap_or_default();
                if let Err(e) = conn.sync_selected(true) {
                    log::warn!("cid={} sync failed: {e}", conn.ctx.cid);
                }
                conn.session
                    .tagged(&tag, Status::Ok, None, "IDLE terminated");
            }
            Event::StartTls => {
                conn.flush().await?;
                let Some(config) = conn.ctx.tls.clone() else {
                    return Ok(());
                };
                let Wire::Plain(stream) =
                    std::mem::replace(&mut conn.wire, Wire::Plain(Stream::Upgrading))
                else {
                    return Ok(());
                };
                let limit = conn.ctx.config.net_tls_handshake;
                let upgraded = super::tls_handshake(stream, config, limit).await?;
                conn.wire = Wire::Plain(upgraded);
                conn.session.tls_started();
            }
            Event::Compress => {
                conn.flush().await?;
                let Wire::Plain(stream) =
                    std::mem::replace(&mut conn.wire, Wire::Plain(Stream::Upgrading))
                else {
                    return Ok(());
                };
                conn.wire = Wire::Deflate(Box::new(Deflate::new(stream)));
                conn.session.compress_started();
            }
            Event::Close => {
                conn.flush().await?;
                return Ok(());
            }
        }
    }
}

/// The selected state for a mailbox just selected.
pub(crate) fn enter_selected(conn: &mut Conn, sel: Selected) {
    let read_only = sel.view.read_only;
    conn.selected = Some(sel);
    conn.session.set_state(ConnState::Selected { read_only });
}

/// Back to the authenticated state.
pub(crate) fn leave_selected(conn: &mut Conn) {
    conn.selected = None;
    if conn.user.is_some() {
        conn.session.set_state(ConnState::Authenticated);
    }
}

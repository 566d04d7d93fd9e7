//! The POP3 connection driver (ports 110 with STLS and 995 with implicit TLS): pumps bytes
//! between the stream and a [`Pop3Session`], verifies logins through the shared
//! [`Authenticator`], locks the maildrop, streams RETR/TOP from the store and carries out the
//! UPDATE state.
//!
//! Invariants: the maildrop (INBOX) is held by at most one POP3 session per user (a second gets
//! `-ERR [IN-USE]`, RFC 2449 §8.1.1), released when the connection ends however it ends;
//! messages are removed only after QUIT, in one store commit, as an expunge IMAP sessions see;
//! POP3 never changes flags; a message is streamed in store-sized pieces, never held whole; a
//! command line must arrive whole within `pop3.timeout_secs` of its first byte (slowloris).

use super::stream::Stream;
use super::{ConnError, ConnId, Input, ReadClock, loggable, read_some, send_output, with_timeout};
use crate::auth::{AuthFailure, Authenticator, Principal, Secret, decode_plain};
use crate::config::Config;
use crate::proto::line::Exchange;
use crate::proto::pop3::{
    DotEncoder, Entry, Event, LoginFailure, Maildrop, Pop3Session, SessionConfig,
};
use crate::store::{self, BodyId, Done, MailboxId, Op, Store, UserId};
use futures_lite::AsyncWriteExt;
use std::cell::RefCell;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// Read buffer per connection.
const READ_BYTES: usize = 4 * 1024;
/// Bytes of a message read from the store per write.
const PIECE_BYTES: usize = 64 * 1024;
/// Longest wait for one write to the client.
const WRITE_SECS: u64 = 120;

/// Users whose maildrop a POP3 session holds, shared by every POP3 connection.
pub type MaildropLocks = Rc<RefCell<HashSet<UserId>>>;

/// What one POP3 connection needs.
pub struct Pop3Context {
    /// The store.
    pub store: Store,
    /// Settings in force when the connection was accepted.
    pub config: Rc<Config>,
    /// TLS configuration, if a certificate is loaded.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Port 995: TLS from the first byte.
    pub implicit_tls: bool,
    /// Logins, throttling and the verification cache, shared by every session.
    pub auth: Rc<Authenticator>,
    /// Maildrops in use.
    pub locks: MaildropLocks,
    /// Closed when the server shuts down.
    pub shutdown: async_channel::Receiver<()>,
    /// The client's address.
    pub peer: SocketAddr,
    /// Connection id for logs.
    pub cid: ConnId,
}

/// A held maildrop; dropping it lets the next session in.
struct Lock {
    locks: MaildropLocks,
    user: UserId,
}

impl Drop for Lock {
    fn drop(&mut self) {
        self.locks.borrow_mut().remove(&self.user);
    }
}

/// The logged-in user's INBOX as the session saw it at login.
struct Inbox {
    id: MailboxId,
    /// (uid, body, internal date) in UID order.
    messages: Vec<(u32, u64, u64)>,
    _lock: Lock,
}

struct Conn {
    stream: Stream,
    session: Pop3Session,
    ctx: Pop3Context,
    inbox: Option<Inbox>,
    /// The read deadline: the whole command line within the timeout of its first byte.
    clock: ReadClock,
}

/// Serves one POP3 connection until it ends.
pub async fn serve(stream: Stream, ctx: Pop3Context) -> Result<(), ConnError> {
    let handshake = ctx.config.net_tls_handshake;
    let Some(stream) =
        super::starting_stream(stream, ctx.implicit_tls, ctx.tls.clone(), handshake).await?
    else {
        return Ok(());
    };
    let cfg = &ctx.config;
    let session = Pop3Session::new(SessionConfig {
        max_line_bytes: cfg.pop3_max_line_bytes,
        max_errors: cfg.pop3_max_errors,
        starttls: ctx.tls.is_some() && !ctx.implicit_tls,
        tls_active: ctx.implicit_tls,
        plaintext_auth: cfg.pop3_plaintext_loopback && ctx.peer.ip().is_loopback(),
        expire_days: cfg.pop3_expire_days,
    });
    let timeout = Duration::from_secs(ctx.config.pop3_timeout_secs);
    let clock = ReadClock::new(timeout, timeout);
    let mut conn = Conn {
        stream,
        session,
        ctx,
        inbox: None,
        clock,
    };
    let result = drive(&mut conn).await;
    let _ = with_timeout(Duration::from_secs(5), conn.stream.close()).await;
    result
}

impl Conn {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), ConnError> {
        with_timeout(
            Duration::from_secs(WRITE_SECS),
            self.stream.write_all(bytes),
        )
        .await
    }

    /// Sends the session's pending output.
    async fn flush(&mut self) -> Result<(), ConnError> {
        send_output(
            &mut self.stream,
            &mut self.session,
            Duration::from_secs(WRITE_SECS),
        )
        .await
    }

    async fn read(&mut self, buf: &mut [u8]) -> Input {
        // A command line must arrive whole within the timeout of its first byte, so a client
        // dribbling bytes cannot hold the connection (slowloris).
        let partial = self.session.buffered_input() > 0;
        let limit = self.clock.limit(false, partial);
        read_some(&mut self.stream, buf, limit, &self.ctx.shutdown).await
    }
}

async fn drive(conn: &mut Conn) -> Result<(), ConnError> {
    let mut buf = vec![0u8; READ_BYTES];
    loop {
        match conn.session.next_event() {
            Event::NeedInput => {
                conn.flush().await?;
                match conn.read(&mut buf).await {
                    Input::Bytes(n) => conn.session.feed(&buf[..n]),
                    Input::Eof => return Ok(()),
                    Input::Timeout => {
                        log::info!("cid={} pop3 autologout", conn.ctx.cid);
                        conn.session.close_with("Autologout; idle for too long");
                    }
                    Input::Shutdown => conn.session.close_with("Server shutting down"),
                }
            }
            Event::Login { user, password } => {
                let password = Secret::new(password);
                login(conn, &user, &password).await;
            }
            Event::AuthPlain(b64) => {
                let b64 = if b64 == b"=" { &b""[..] } else { &b64[..] };
                match decode_plain(b64) {
                    Ok((_authz, authc, password)) => login(conn, &authc, &password).await,
                    Err(_) => conn.session.auth_malformed(),
                }
            }
            Event::StartTls => {
                conn.flush().await?;
                let Some(config) = conn.ctx.tls.clone() else {
                    return Ok(());
                };
                let plain = std::mem::replace(&mut conn.stream, Stream::Upgrading);
                let limit = conn.ctx.config.net_tls_handshake;
                conn.stream = super::tls_handshake(plain, config, limit).await?;
                conn.session.tls_started();
            }
            Event::Retrieve { uid, top } => retrieve(conn, uid, top).await?,
            Event::Update { delete } => update(conn, delete).await,
            Event::Close => {
                conn.flush().await?;
                return Ok(());
            }
        }
    }
}

/// Verifies a login, takes the maildrop lock and loads INBOX.
async fn login(conn: &mut Conn, user: &str, password: &Secret<String>) {
    let result = conn
        .ctx
        .auth
        .login(&conn.ctx.store, user, password, conn.ctx.peer.ip())
        .await;
    let principal = match result {
        Ok(p) => p,
        Err(AuthFailure::Invalid) => return conn.session.login_failed(LoginFailure::Invalid),
        Err(_) => return conn.session.login_failed(LoginFailure::Unavailable),
    };
    if !conn.ctx.locks.borrow_mut().insert(principal.user) {
        return conn.session.login_failed(LoginFailure::InUse);
    }
    let lock = Lock {
        locks: conn.ctx.locks.clone(),
        user: principal.user,
    };
    match load_inbox(&conn.ctx.store, &principal) {
        Ok((maildrop, id, messages)) => {
            log::info!(target: "maillog", "login cid={} user={} proto=pop3", conn.ctx.cid, loggable(&principal.email, 80));
            conn.inbox = Some(Inbox {
                id,
                messages,
                _lock: lock,
            });
            conn.session.login_ok(maildrop);
        }
        Err(e) => {
            log::warn!("cid={} pop3 maildrop: {e}", conn.ctx.cid);
            conn.session.login_failed(LoginFailure::Unavailable);
        }
    }
}

type InboxSnapshot = (Maildrop, MailboxId, Vec<(u32, u64, u64)>);

fn load_inbox(store: &Store, p: &Principal) -> store::Result<InboxSnapshot> {
    let inbox = store
        .mailbox(p.user, "INBOX")?
        .ok_or(store::Error::Corrupt("user without INBOX"))?;
    let messages = store.messages(inbox.id)?;
    let maildrop = Maildrop {
        uidvalidity: inbox.row.uidvalidity,
        entries: messages
            .iter()
            .map(|m| Entry {
                uid: m.uid.get(),
                size: m.row.size,
            })
            .collect(),
    };
    let snapshot = messages
        .iter()
        .map(|m| (m.uid.get(), m.row.body, m.row.internal_date))
        .collect();
    Ok((maildrop, inbox.id, snapshot))
}

/// RETR/TOP: streams the stored bytes through the dot-stuffing encoder.
async fn retrieve(conn: &mut Conn, uid: u32, top: Option<u32>) -> Result<(), ConnError> {
    let reader = conn.inbox.as_ref().and_then(|inbox| {
        // Still in the mailbox (another session may have expunged it since login)?
        let still = matches!(conn.ctx.store.message(inbox.id, uid), Ok(Some(_)));
        let body = inbox.messages.iter().find(|m| m.0 == uid)?.1;
        still
            .then(|| conn.ctx.store.open_body(BodyId(body)).ok().flatten())
            .flatten()
    });
    let Some(reader) = reader else {
        conn.session.retrieve_gone();
        return Ok(());
    };
    conn.flush().await?;
    let mut encoder = DotEncoder::new(top);
    let mut piece = vec![0u8; PIECE_BYTES.min(reader.size() as usize).max(1)];
    let mut out = Vec::with_capacity(piece.len() + piece.len() / 32 + 8);
    let mut at = 0u64;
    while at < reader.size() && !encoder.done() {
        let n = reader.read_at(at, &mut piece)?;
        if n == 0 {
            break;
        }
        at += n as u64;
        out.clear();
        encoder.encode(&piece[..n], &mut out);
        conn.write(&out).await?;
    }
    out.clear();
    encoder.finish(&mut out);
    conn.write(&out).await?;
    conn.session.retrieve_done();
    Ok(())
}

/// The UPDATE state: removes the messages marked with DELE (and, with `pop3.expire_days`,
/// those that arrived longer ago) in one commit.
async fn update(conn: &mut Conn, mut delete: Vec<u32>) {
    let Some(inbox) = conn.inbox.as_ref() else {
        return conn.session.update_done(Ok(0));
    };
    let marked = delete.len();
    let days = conn.ctx.config.pop3_expire_days;
    if days > 0 {
        let cutoff = crate::time::unix_now().saturating_sub(days * 86_400);
        delete.extend(inbox.messages.iter().filter(|m| m.2 < cutoff).map(|m| m.0));
        delete.sort_unstable();
        delete.dedup();
    }
    if delete.is_empty() {
        return conn.session.update_done(Ok(0));
    }
    let uids = delete.iter().map(|&u| u..=u).collect();
    let op = Op::Remove {
        mailbox: inbox.id,
        uids,
    };
    match conn.ctx.store.call(op).await {
        Ok(Done::Expunged { uids, .. }) => {
            log::info!(target: "maillog", "pop3 update cid={} removed={} marked={marked}", conn.ctx.cid, uids.len());
            conn.session.update_done(Ok(marked.min(uids.len())));
        }
        Ok(_) => conn.session.update_done(Err(())),
        Err(e) => {
            log::warn!("cid={} pop3 update failed: {e}", conn.ctx.cid);
            conn.session.update_done(Err(()));
        }
    }
}

//! The ManageSieve connection driver (port 4190, RFC 5804): pumps bytes between the stream and a
//! [`ManageSieveSession`], upgrades to TLS on STARTTLS with the server's certificate, verifies
//! logins through the shared [`Authenticator`] (app passwords included), compiles scripts with
//! `crate::sieve` and reads and changes the user's scripts in the store.
//!
//! Invariants: a script is stored only after it compiled, and OK is sent only after the store's
//! commit; every change goes through `Store::call` (the writer thread) and every read of a script
//! through the blocking pool, so the executor never waits on the database; a session reaches only
//! the scripts of the user it authenticated as; logs carry names, never passwords or script text;
//! a command (literals included) must arrive whole within `managesieve.timeout_secs` of its first
//! byte (slowloris).

use super::stream::Stream;
use super::{ConnError, ConnId, Input, ReadClock, loggable, read_some, send_output, with_timeout};
use crate::auth::{AuthFailure, Authenticator, Principal, Secret, decode_plain};
use crate::config::Config;
use crate::proto::line::Exchange;
use crate::proto::managesieve::{
    Event, LoginFailure, MAX_LINE_BYTES, ManageSieveSession, Outcome, SessionConfig,
};
use crate::sieve;
use crate::store::sieve::{MAX_SCRIPTS_PER_USER, ScriptChange, check_script_name};
use crate::store::{self, Op, Refusal, Store};
use futures_lite::AsyncWriteExt;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// Read buffer per connection.
const READ_BYTES: usize = 8 * 1024;
/// Longest wait for one write to the client.
const WRITE_SECS: u64 = 120;

/// What one ManageSieve connection needs.
pub struct ManageSieveContext {
    /// The store.
    pub store: Store,
    /// Settings in force when the connection was accepted.
    pub config: Rc<Config>,
    /// TLS configuration, if a certificate is loaded.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Logins, throttling and the verification cache, shared by every session.
    pub auth: Rc<Authenticator>,
    /// Closed when the server shuts down.
    pub shutdown: async_channel::Receiver<()>,
    /// The client's address.
    pub peer: SocketAddr,
    /// Connection id for logs.
    pub cid: ConnId,
}

struct Conn {
    stream: Stream,
    session: ManageSieveSession,
    ctx: ManageSieveContext,
    limits: sieve::Limits,
    principal: Option<Principal>,
    /// The read deadline: the whole command line within the timeout of its first byte.
    clock: ReadClock,
}

/// Serves one ManageSieve connection until it ends.
pub async fn serve(stream: Stream, ctx: ManageSieveContext) -> Result<(), ConnError> {
    let limits = sieve::Limits::from_config(&ctx.config);
    let session = ManageSieveSession::new(SessionConfig {
        max_line_bytes: MAX_LINE_BYTES,
        max_errors: ctx.config.managesieve_max_errors,
        max_script_bytes: limits.max_script_bytes,
        starttls: ctx.tls.is_some(),
        tls_active: false,
        extensions: sieve::EXTENSIONS.to_string(),
        max_redirects: limits.max_redirects,
    });
    let timeout = Duration::from_secs(ctx.config.managesieve_timeout_secs);
    let clock = ReadClock::new(timeout, timeout);
    let mut conn = Conn {
        stream,
        session,
        ctx,
        limits,
        principal: None,
        clock,
    };
    let result = drive(&mut conn).await;
    let _ = with_timeout(Duration::from_secs(5), conn.stream.close()).await;
    result
}

impl Conn {
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

    fn user(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }
}

async fn drive(conn: &mut Conn) -> Result<(), ConnError> {
    let mut buf = vec![0u8; READ_BYTES];
    loop {
        let event = conn.session.next_event();
        match event {
            Event::NeedInput => {
                conn.flush().await?;
                match conn.read(&mut buf).await {
                    Input::Bytes(n) => conn.session.feed(&buf[..n]),
                    Input::Eof => return Ok(()),
                    Input::Timeout => {
                        log::info!("cid={} managesieve autologout", conn.ctx.cid);
                        conn.session.close_with(None, "Disconnected for inactivity");
                    }
                    Input::Shutdown => conn
                        .session
                        .close_with(Some("TRYLATER"), "Server shutting down"),
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
            Event::AuthPlain(b64) => match decode_plain(&b64) {
                Ok((_authz, authc, password)) => login(conn, &authc, &password).await,
                Err(_) => conn.session.auth_malformed(),
            },
            Event::Unauthenticated => {
                if let Some(p) = conn.principal.take() {
                    log::info!(
                        "cid={} managesieve unauthenticate user={}",
                        conn.ctx.cid,
                        loggable(&p.email, 80)
                    );
                }
            }
            Event::Close => {
                conn.flush().await?;
                return Ok(());
            }
            script_event => {
                let Some(principal) = conn.user().cloned() else {
                    // The session emits script commands only once logged in.
                    conn.session.done(Outcome::TryLater);
                    continue;
                };
                scripts(conn, &principal, script_event).await;
            }
        }
    }
}

/// Verifies a login.
async fn login(conn: &mut Conn, user: &str, password: &Secret<String>) {
    let result = conn
        .ctx
        .auth
        .login(&conn.ctx.store, user, password, conn.ctx.peer.ip())
        .await;
    match result {
        Ok(principal) => {
            log::info!(target: "maillog", "login cid={} user={} proto=managesieve", conn.ctx.cid, loggable(&principal.email, 80));
            conn.session.login_ok(&principal.email);
            conn.principal = Some(principal);
        }
        Err(AuthFailure::Invalid) => conn.session.login_failed(LoginFailure::Invalid),
        Err(_) => conn.session.login_failed(LoginFailure::Unavailable),
    }
}

/// Reads off the executor thread.
async fn read_store<T: Send + 'static>(
    store: &Store,
    f: impl FnOnce(&Store) -> store::Result<T> + Send + 'static,
) -> store::Result<T> {
    let store = store.clone();
    blocking::unblock(move || f(&store)).await
}

/// A script command of the logged-in user.
async fn scripts(conn: &mut Conn, p: &Principal, event: Event) {
    let cid = conn.ctx.cid;
    let user = p.user;
    let store = conn.ctx.store.clone();
    let outcome = match event {
        Event::ListScripts => match read_store(&store, move |s| s.scripts(user)).await {
            Ok(list) => return conn.session.listing(&list),
            Err(e) => failed(cid, "listscripts", &e),
        },
        Event::GetScript(name) => {
            let n = name.clone();
            match read_store(&store, move |s| s.script(user, &n)).await {
                Ok(Some(text)) => return conn.session.script(&text),
                Ok(None) => Outcome::NonExistent,
                Err(e) => failed(cid, "getscript", &e),
            }
        }
        Event::HaveSpace { name } => have_space(&store, p, name).await,
        Event::CheckScript(text) => compile(&text, &conn.limits),
        Event::PutScript { name, text } => match check_script_name(&name) {
            Err(_) => Outcome::Invalid("Invalid script name".into()),
            Ok(()) => match compile(&text, &conn.limits) {
                Outcome::Ok => {
                    change_scripts(&store, p, ScriptChange::Put { name, text }, cid).await
                }
                refused => refused,
            },
        },
        Event::SetActive(name) => {
            change_scripts(&store, p, ScriptChange::Activate(name), cid).await
        }
        Event::DeleteScript(name) => {
            change_scripts(&store, p, ScriptChange::Delete(name), cid).await
        }
        Event::RenameScript { from, to } => {
            change_scripts(&store, p, ScriptChange::Rename { from, to }, cid).await
        }
        Event::NeedInput
        | Event::StartTls
        | Event::AuthPlain(_)
        | Event::Unauthenticated
        | Event::Close => return,
    };
    conn.session.done(outcome);
}

/// CHECKSCRIPT and the check before PUTSCRIPT: the compiler's error as the answer's text.
fn compile(text: &str, limits: &sieve::Limits) -> Outcome {
    match sieve::compile(text, limits) {
        Ok(_) => Outcome::Ok,
        Err(e) => Outcome::Invalid(e.to_string()),
    }
}

/// HAVESPACE: room for one more script unless the name is new and the user has the most
/// allowed (the size was checked by the session).
async fn have_space(store: &Store, p: &Principal, name: String) -> Outcome {
    if check_script_name(&name).is_err() {
        return Outcome::Invalid("Invalid script name".into());
    }
    let user = p.user;
    match read_store(store, move |s| s.scripts(user)).await {
        Ok(list) if list.len() >= MAX_SCRIPTS_PER_USER && !list.iter().any(|(n, _)| *n == name) => {
            Outcome::MaxScripts
        }
        Ok(_) => Outcome::Ok,
        Err(_) => Outcome::TryLater,
    }
}

/// One change through the store's writer, its refusal mapped to a response code.
async fn change_scripts(
    store: &Store,
    p: &Principal,
    change: ScriptChange,
    cid: ConnId,
) -> Outcome {
    let what = match &change {
        ScriptChange::Put { name, text } => {
            format!("put name={} bytes={}", loggable(name, 80), text.len())
        }
        ScriptChange::Delete(name) => format!("delete name={}", loggable(name, 80)),
        ScriptChange::Rename { from, to } => {
            format!("rename from={} to={}", loggable(from, 80), loggable(to, 80))
        }
        ScriptChange::Activate(name) => {
            format!(
                "activate name={}",
                loggable(name.as_deref().unwrap_or(""), 80)
            )
        }
    };
    match store
        .call(Op::Script {
            user: p.user,
            change,
        })
        .await
    {
        Ok(_) => {
            log::info!(
                "cid={cid} managesieve script {what} user={}",
                loggable(&p.email, 80)
            );
            Outcome::Ok
        }
        Err(store::Error::Refused(r)) => match r {
            Refusal::NoSuchScript(_) => Outcome::NonExistent,
            Refusal::ScriptActive(_) => Outcome::Active,
            Refusal::ScriptExists(_) => Outcome::AlreadyExists,
            Refusal::InvalidScriptName(_) => Outcome::Invalid("Invalid script name".into()),
            Refusal::TooMany("scripts") => Outcome::MaxScripts,
            Refusal::TooMany(_) => Outcome::MaxSize,
            other => Outcome::Invalid(other.to_string()),
        },
        Err(e) => failed(cid, "script change", &e),
    }
}

fn failed(cid: ConnId, what: &str, e: &store::Error) -> Outcome {
    log::warn!("cid={cid} managesieve {what} failed: {e}");
    Outcome::TryLater
}

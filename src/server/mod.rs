//! The server: binds the listeners, supervises connection tasks, reloads settings and
//! certificates, and shuts down cleanly. The only module that wires all the others together.
//!
//! Runtime (DESIGN.md): one `LocalExecutor` on this thread runs every connection, the control
//! socket acceptor and the reload timers; the store's writer has its own thread; blocking work
//! (control commands, certificate loading, the summaries' reparse after a parser upgrade) goes to
//! the `blocking` pool. On SIGTERM/SIGINT the listeners stop, sessions are told to finish (421 to
//! idle ones; a commit in flight completes and its reply is sent), and the store writer drains
//! its queue before the process exits.

pub mod limits;

use crate::cli::args::ServeArgs;
use crate::config::Config;
use crate::conn::stream::Stream;
use crate::conn::{ConnId, imap, managesieve, pop3, smtp};
use crate::store::Store;
use crate::tls::ServerTls;
use async_executor::LocalExecutor;
use async_io::{Async, Timer};
use futures_lite::{AsyncWriteExt, StreamExt};
use limits::ConnLimits;
use std::cell::{Cell, RefCell};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// The store's file name inside the data folder.
pub const STORE_FILE: &str = "mail.redb";
/// Port base used by a server started without root and without `--port-base`.
pub const DEV_PORT_BASE: u16 = 10000;
/// How long shutdown waits for sessions to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Preparing the data folder failed.
    #[error("{0}")]
    Setup(String),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    /// A port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// Other I/O.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The roles and their standard ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Inbound SMTP.
    Mx,
    /// Message submission with STARTTLS (RFC 6409).
    Submission,
    /// Message submission over implicit TLS (RFC 8314).
    Submissions,
    /// IMAP with STARTTLS.
    Imap,
    /// IMAP over implicit TLS.
    Imaps,
    /// POP3 with STLS.
    Pop3,
    /// POP3 over implicit TLS.
    Pop3s,
    /// ManageSieve with STARTTLS (RFC 5804).
    ManageSieve,
    /// The web page over plain HTTP (redirects to HTTPS).
    Web,
    /// The web page over HTTPS.
    WebTls,
}

impl Role {
    /// Every role with a listener.
    pub const ALL: &'static [Role] = &[
        Role::Mx,
        Role::Submission,
        Role::Submissions,
        Role::Imap,
        Role::Imaps,
        Role::Pop3,
        Role::Pop3s,
        Role::ManageSieve,
        Role::Web,
        Role::WebTls,
    ];

    /// Standard port.
    pub fn port(self) -> u16 {
        match self {
            Role::Mx => 25,
            Role::Submission => 587,
            Role::Submissions => 465,
            Role::Imap => 143,
            Role::Imaps => 993,
            Role::Pop3 => 110,
            Role::Pop3s => 995,
            Role::ManageSieve => 4190,
            Role::Web => 80,
            Role::WebTls => 443,
        }
    }

    /// Name for logs.
    pub fn name(self) -> &'static str {
        match self {
            Role::Mx => "mx (SMTP)",
            Role::Submission => "submission (STARTTLS)",
            Role::Submissions => "submissions (TLS)",
            Role::Imap => "imap (STARTTLS)",
            Role::Imaps => "imaps (TLS)",
            Role::Pop3 => "pop3 (STLS)",
            Role::Pop3s => "pop3s (TLS)",
            Role::ManageSieve => "managesieve (STARTTLS)",
            Role::Web => "web (HTTP)",
            Role::WebTls => "web (HTTPS)",
        }
    }
}

/// Everything the tasks share, owned by the executor thread.
struct Shared {
    store: Store,
    data: PathBuf,
    config: RefCell<Rc<Config>>,
    tls: ServerTls,
    limits: ConnLimits,
    auth: Rc<crate::auth::Authenticator>,
    dkim: Option<Arc<crate::dkim::SelectorKeys>>,
    resolver: Rc<crate::dns::stub::ConfiguredResolver>,
    checker: Rc<crate::delivery::sender_auth::Checker>,
    pop3_locks: pop3::MaildropLocks,
    /// The daily mail counters (overview chart).
    stats: Rc<crate::stats::Stats>,
    /// ACME challenge answers, published by the renewal task and served by the web page.
    acme: crate::acme::Challenges,
    /// The web page; set once the shared state exists (its reload closure refers back here).
    web: RefCell<Option<Rc<crate::web::Web>>>,
    next_cid: Cell<u64>,
    shutdown: async_channel::Receiver<()>,
}

impl Shared {
    fn cid(&self) -> ConnId {
        let n = self.next_cid.get() + 1;
        self.next_cid.set(n);
        ConnId(n)
    }

    /// Runs `fut` unless shutdown begins first (then `None`).
    async fn unless_shutdown<T>(&self, fut: impl std::future::Future<Output = T>) -> Option<T> {
        futures_lite::future::or(async { Some(fut.await) }, async {
            let _ = self.shutdown.recv().await;
            None
        })
        .await
    }

    fn config(&self) -> Rc<Config> {
        self.config.borrow().clone()
    }

    fn reload_config(&self) {
        match self.store.config() {
            Ok(c) => {
                self.store
                    .set_commit_window(Duration::from_millis(c.store_commit_window_ms));
                self.auth.reconfigure(&c);
                *self.config.borrow_mut() = Rc::new(c);
            }
            Err(e) => log::warn!("config reload failed: {e}"),
        }
    }
}

fn raise_fd_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current < lim.maximum {
        lim.current = lim.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, lim) {
            log::warn!("cannot raise the open-file limit: {e}");
        }
    }
}

/// Opens the store at `path` for a board with `ram` (as [`crate::config::board::detect`] found
/// it), with the page cache its settings ask for: the default on this board unless
/// `store.cache_bytes` or `board.ram_mib` is stored, which takes a reopen to learn.
pub fn open_sized(
    path: &Path,
    ram: crate::config::board::Detected,
) -> Result<Store, crate::store::Error> {
    let default_cache = Config::from_pairs(&Default::default(), ram).store_cache_bytes;
    let store = Store::open(path, default_cache)?.on_board(ram);
    let wanted = store.config()?.store_cache_bytes;
    if wanted == default_cache {
        return Ok(store);
    }
    store.close();
    Ok(Store::open(path, wanted)?.on_board(ram))
}

/// Opens the store with the configured cache size, initialising a new data folder first.
fn open_store(args: &ServeArgs) -> Result<Store, ServerError> {
    let path = args.data.join(STORE_FILE);
    let first_run = !path.exists();
    crate::cli::admin::create_data_dir(&args.data)
        .map_err(|e| ServerError::Setup(format!("{}: {e}", args.data.display())))?;
    let store = open_sized(&path, crate::config::board::detect())?;
    if first_run || args.domain.is_some() {
        let domain = args
            .domain
            .clone()
            .unwrap_or_else(crate::cli::admin::default_domain);
        let mut out = Vec::new();
        crate::cli::admin::init(&store, &args.data, &domain, None, None, &mut out).map_err(
            |e| ServerError::Setup(format!("initialising {}: {e}", args.data.display())),
        )?;
        if first_run {
            println!("mailnook: first run: initialised {}", args.data.display());
        }
        print!("{}", String::from_utf8_lossy(&out));
    }
    Ok(store)
}

/// Brings the stored summaries to this binary's revision, on the blocking pool
/// (`delivery::summaries::upgrade`); a stop cuts the pass short, and the next start runs it again.
/// When the revision is current (one small read here), no worker thread is started.
async fn upgrade_summaries(store: Store, shutdown: async_channel::Receiver<()>) {
    use crate::delivery::summaries;
    if summaries::stored_revision(&store)
        .is_ok_and(|r| r >= crate::message::summary::SUMMARY_REVISION)
    {
        return;
    }
    let result =
        blocking::unblock(move || summaries::upgrade(&store, &|| shutdown.is_closed())).await;
    match result {
        Ok(None) => {}
        Ok(Some(r)) => {
            for (body, e) in &r.unreadable {
                log::warn!(
                    "summaries: body {} not read, summary left as is: {e}",
                    body.0
                );
            }
            log::info!(
                "summaries: rewritten {} of {} stored messages{}",
                r.rewritten,
                r.read,
                if r.whole {
                    ""
                } else {
                    "; stopped, the next start goes on"
                }
            );
        }
        Err(e) => log::warn!("summaries: reparse failed, the next start tries again: {e}"),
    }
}

/// Runs the server until SIGTERM or SIGINT.
pub fn run(args: ServeArgs) -> Result<(), ServerError> {
    raise_fd_limit();
    let store = open_store(&args)?;
    let result = run_with_store(&args, store.clone());
    store.close();
    result
}

fn run_with_store(args: &ServeArgs, store: Store) -> Result<(), ServerError> {
    let config = store.config()?;
    println!(
        "mailnook: board: {}",
        crate::config::board::summary(&config)
    );
    store.set_commit_window(Duration::from_millis(config.store_commit_window_ms));
    crate::tls::ensure_self_signed(&args.data, &config.hostname)
        .map_err(|e| ServerError::Setup(e.to_string()))?;
    let tls = ServerTls::default();
    match crate::tls::reload_if_changed(&args.data, None) {
        Some(Ok((files, print, cfg))) => tls.swap(files, print, cfg),
        Some(Err(e)) => log::error!("TLS unavailable: {e}"),
        None => {}
    }
    let root = rustix::process::geteuid().is_root();
    let port_base = args
        .port_base
        .unwrap_or(if root { 0 } else { DEV_PORT_BASE });
    let bind = args.bind.unwrap_or(if port_base == 0 {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    });
    if args.port_base.is_none() && !root {
        println!("mailnook: not running as root: using dev ports (--port-base {DEV_PORT_BASE})");
    }
    let mut listeners = Vec::new();
    for role in Role::ALL {
        let port = port_base
            .checked_add(role.port())
            .ok_or_else(|| ServerError::Setup(format!("--port-base {port_base} is too high")))?;
        let addr = SocketAddr::new(bind, port);
        let l = Async::<TcpListener>::bind(addr)
            .map_err(|source| ServerError::Bind { addr, source })?;
        println!(
            "mailnook: {} listening on {}",
            role.name(),
            l.get_ref().local_addr()?
        );
        listeners.push((*role, l));
    }
    let sock_path = args.data.join(crate::cli::control::SOCKET_NAME);
    // We hold the store's lock, so no other server owns a socket file left here.
    let _ = std::fs::remove_file(&sock_path);
    let control = Async::<UnixListener>::bind(&sock_path)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&sock_path, std::fs::Permissions::from_mode(0o600))?;
    }
    println!("mailnook: control socket {}", sock_path.display());
    if store.users()?.is_empty() {
        println!(
            "mailnook: no users yet; add one with: mailnook user add you@{} --data {}",
            store
                .domains()?
                .first()
                .map(String::as_str)
                .unwrap_or("example.test"),
            args.data.display()
        );
    }
    let auth = crate::auth::Authenticator::new(&config);
    let dkim = load_dkim(&args.data, &config.dkim_selector);
    let resolver: Rc<crate::dns::stub::ConfiguredResolver> = Rc::default();
    let (shutdown_tx, shutdown_rx) = async_channel::bounded::<()>(1);
    let stats = Rc::new(crate::stats::Stats::load(&store));
    // Made before any connection, so every forwarded sender is rewritten under the same secret.
    if let Err(e) = crate::srs::ensure_secret(&store) {
        log::warn!("srs: no secret ({e}); forwarding keeps the original sender");
    }
    let shared = Rc::new(Shared {
        store,
        data: args.data.clone(),
        config: RefCell::new(Rc::new(config)),
        tls,
        limits: ConnLimits::default(),
        auth: Rc::new(auth),
        dkim,
        resolver: resolver.clone(),
        checker: Rc::new(crate::delivery::sender_auth::Checker {
            resolver,
            psl: Default::default(),
        }),
        pop3_locks: Default::default(),
        stats,
        acme: crate::acme::Challenges::new(),
        web: RefCell::new(None),
        next_cid: Cell::new(0),
        shutdown: shutdown_rx,
    });
    let https_port = port_base.saturating_add(Role::WebTls.port());
    *shared.web.borrow_mut() = Some(Rc::new(web_page(&shared, https_port, port_base)));
    let ex = Rc::new(LocalExecutor::new());
    let signals =
        async_signal::Signals::new([async_signal::Signal::Term, async_signal::Signal::Int])?;
    let main = {
        let ex = ex.clone();
        let shared = shared.clone();
        async move {
            for (role, l) in listeners {
                ex.spawn(accept_loop(ex.clone(), shared.clone(), role, l))
                    .detach();
            }
            ex.spawn(control_loop(shared.clone(), control)).detach();
            let config = {
                let shared = shared.clone();
                Rc::new(move || shared.config()) as Rc<dyn Fn() -> Rc<Config>>
            };
            let queue = crate::queue::Queue::new(
                shared.store.clone(),
                config,
                ex.clone(),
                shared.shutdown.clone(),
                shared.resolver.clone(),
                shared.stats.clone(),
            );
            ex.spawn(crate::queue::run(Rc::new(queue))).detach();
            let config = {
                let shared = shared.clone();
                Rc::new(move || shared.config()) as Rc<dyn Fn() -> Rc<Config>>
            };
            ex.spawn(crate::delivery::scoring::run_trainer(
                shared.store.clone(),
                config,
                shared.shutdown.clone(),
            ))
            .detach();
            ex.spawn(tls_reload_loop(shared.clone())).detach();
            let cfg = shared.config();
            if cfg.mdns_enabled {
                ex.spawn(crate::conn::mdns::run(
                    cfg.mdns_label(),
                    shared.shutdown.clone(),
                ))
                .detach();
            }
            ex.spawn(crate::stats::run_flusher(
                shared.stats.clone(),
                shared.store.clone(),
                shared.shutdown.clone(),
            ))
            .detach();
            let config = {
                let shared = shared.clone();
                Rc::new(move || shared.config()) as Rc<dyn Fn() -> Rc<Config>>
            };
            ex.spawn(crate::acme::run(
                config,
                shared.data.clone(),
                shared.acme.clone(),
                shared.store.clone(),
                shared.shutdown.clone(),
            ))
            .detach();
            let config = {
                let shared = shared.clone();
                Rc::new(move || shared.config()) as Rc<dyn Fn() -> Rc<Config>>
            };
            ex.spawn(upgrade_summaries(
                shared.store.clone(),
                shared.shutdown.clone(),
            ))
            .detach();
            ex.spawn(crate::cli::collect::run_task(
                shared.store.clone(),
                shared.data.clone(),
                config,
                shared.shutdown.clone(),
            ))
            .detach();
            let mut signals = signals;
            let sig = futures_lite::future::or(async { signals.next().await }, async {
                let _ = shared.shutdown.recv().await;
                None
            })
            .await;
            log::info!(
                "shutting down ({sig:?}); {} connections open",
                shared.limits.open()
            );
            shutdown_tx.close();
            let deadline = std::time::Instant::now() + SHUTDOWN_GRACE;
            while shared.limits.open() > 0 && std::time::Instant::now() < deadline {
                Timer::after(Duration::from_millis(20)).await;
            }
            // The day's counters, before the store closes.
            shared.stats.flush(&shared.store).await;
        }
    };
    async_io::block_on(ex.run(main));
    let _ = std::fs::remove_file(&sock_path);
    log::info!("stopped");
    Ok(())
}

async fn accept_loop(
    ex: Rc<LocalExecutor<'static>>,
    shared: Rc<Shared>,
    role: Role,
    listener: Async<TcpListener>,
) {
    loop {
        let Some(accepted) = shared.unless_shutdown(listener.accept()).await else {
            return;
        };
        let (tcp, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                log::warn!("{}: accept failed: {e}", role.name());
                Timer::after(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = tcp.get_ref().set_nodelay(true);
        let cfg = shared.config();
        let cid = shared.cid();
        let Some(permit) =
            shared
                .limits
                .try_admit(peer.ip(), cfg.net_max_conns, cfg.net_max_conns_per_ip)
        else {
            log::info!("cid={cid} refused ip={}: connection limit", peer.ip());
            ex.spawn(refuse(tcp, role)).detach();
            continue;
        };
        let shared = shared.clone();
        ex.spawn(async move {
            let _permit = permit;
            log::debug!("cid={cid} connect ip={} role={}", peer.ip(), role.name());
            let result = match role {
                Role::Mx | Role::Submission | Role::Submissions => {
                    let submission = (role != Role::Mx).then(|| smtp::Submission {
                        auth: shared.auth.clone(),
                        dkim: shared.dkim.clone(),
                        implicit_tls: role == Role::Submissions,
                    });
                    let ctx = smtp::SmtpContext {
                        store: shared.store.clone(),
                        config: shared.config(),
                        tls: shared.tls.config(),
                        submission,
                        checker: shared.checker.clone(),
                        shutdown: shared.shutdown.clone(),
                        stats: shared.stats.clone(),
                        peer,
                        cid,
                    };
                    smtp::serve(Stream::Plain(tcp), ctx).await
                }
                Role::Imap | Role::Imaps => {
                    let ctx = imap::ImapContext {
                        store: shared.store.clone(),
                        config: shared.config(),
                        tls: shared.tls.config(),
                        implicit_tls: role == Role::Imaps,
                        auth: shared.auth.clone(),
                        shutdown: shared.shutdown.clone(),
                        peer,
                        cid,
                    };
                    imap::serve(Stream::Plain(tcp), ctx).await
                }
                Role::Pop3 | Role::Pop3s => {
                    let ctx = pop3::Pop3Context {
                        store: shared.store.clone(),
                        config: shared.config(),
                        tls: shared.tls.config(),
                        implicit_tls: role == Role::Pop3s,
                        auth: shared.auth.clone(),
                        locks: shared.pop3_locks.clone(),
                        shutdown: shared.shutdown.clone(),
                        peer,
                        cid,
                    };
                    pop3::serve(Stream::Plain(tcp), ctx).await
                }
                Role::ManageSieve => {
                    let ctx = managesieve::ManageSieveContext {
                        store: shared.store.clone(),
                        config: shared.config(),
                        tls: shared.tls.config(),
                        auth: shared.auth.clone(),
                        shutdown: shared.shutdown.clone(),
                        peer,
                        cid,
                    };
                    managesieve::serve(Stream::Plain(tcp), ctx).await
                }
                Role::Web | Role::WebTls => {
                    let Some(web) = shared.web.borrow().clone() else {
                        return;
                    };
                    // TLS-ALPN-01 (RFC 8737): the HTTPS port also answers ACME validations.
                    let tls = shared
                        .tls
                        .config()
                        .map(|c| crate::acme::with_acme_alpn(&c, &shared.acme));
                    let ctx = crate::conn::web::WebContext {
                        web,
                        tls,
                        https: role == Role::WebTls,
                        shutdown: shared.shutdown.clone(),
                        peer,
                        cid,
                    };
                    crate::conn::web::serve(Stream::Plain(tcp), ctx).await
                }
            };
            match result {
                Ok(()) => log::debug!("cid={cid} closed"),
                Err(e) => log::info!("cid={cid} ended: {e}"),
            }
        })
        .detach();
    }
}

/// The web page's shared state: the store, settings (reloaded here after its own changes) and
/// the login service of the mail roles.
fn web_page(shared: &Rc<Shared>, https_port: u16, port_base: u16) -> crate::web::Web {
    let weak = Rc::downgrade(shared);
    let config = {
        let weak = weak.clone();
        Rc::new(move || weak.upgrade().map(|s| s.config()).unwrap_or_default())
            as Rc<dyn Fn() -> Rc<Config>>
    };
    let reload = Rc::new(move || {
        if let Some(s) = weak.upgrade() {
            s.reload_config();
            log::info!("settings reloaded");
        }
    }) as Rc<dyn Fn()>;
    crate::web::Web {
        store: shared.store.clone(),
        data: shared.data.clone(),
        config,
        reload,
        auth: shared.auth.clone(),
        resolver: shared.resolver.clone(),
        challenges: shared.acme.clone(),
        stats: shared.stats.clone(),
        sessions: {
            // Sessions of the last run: nobody is logged out by a restart.
            let config = shared.config();
            let limits = crate::web::session::Limits::from_config(&config);
            let mut sessions = crate::web::session::Sessions::new();
            match shared.store.states_with_prefix(
                crate::web::session::STATE_PREFIX,
                config.web_max_sessions.saturating_mul(2),
            ) {
                Ok(entries) => sessions.restore(
                    entries,
                    std::time::Instant::now(),
                    crate::time::unix_now(),
                    &limits,
                ),
                Err(e) => log::warn!("web: stored sessions unreadable: {e}"),
            }
            RefCell::new(sessions)
        },
        totp_steps: Default::default(),
        started: std::time::Instant::now(),
        https_port,
        port_base,
        own_certificate: {
            let weak = Rc::downgrade(shared);
            Rc::new(move || {
                weak.upgrade()
                    .and_then(|s| s.tls.loaded())
                    .is_some_and(|(files, _)| files.cert.ends_with("cert.pem"))
            })
        },
        open_connections: {
            let weak = Rc::downgrade(shared);
            Rc::new(move || weak.upgrade().map_or(0, |s| s.limits.open()))
        },
        streams: Default::default(),
    }
}

/// Turns away a connection over the caps with the role's own "too busy" reply, then closes:
/// SMTP `421 4.7.0` (RFC 5321 §3.8), an IMAP `BYE` greeting with `[UNAVAILABLE]` (RFC 9051
/// §7.1.5, RFC 5530), POP3 `-ERR [SYS/TEMP]` (RFC 2449 §8.1.2, RFC 3206), a ManageSieve
/// `BYE (TRYLATER)` (RFC 5804 §1.3) and HTTP 503. On the implicit-TLS ports, where plaintext
/// would be read as a broken handshake, the connection is closed without a word.
async fn refuse(mut tcp: Async<std::net::TcpStream>, role: Role) {
    let mut out = Vec::new();
    match role {
        Role::Mx | Role::Submission => {
            crate::proto::smtp::reply::r::TOO_MANY_CONNS.write_to(&mut out)
        }
        Role::Imap => {
            out.extend_from_slice(b"* BYE [UNAVAILABLE] Too many connections, try again later\r\n")
        }
        Role::Pop3 => {
            out.extend_from_slice(b"-ERR [SYS/TEMP] Too many connections, try again later\r\n")
        }
        Role::ManageSieve => out.extend_from_slice(
            b"BYE (TRYLATER) \"Too many connections, try again later\"\r\n",
        ),
        Role::Web => out.extend_from_slice(
            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 10\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ),
        Role::Submissions | Role::Imaps | Role::Pop3s | Role::WebTls => {}
    }
    if !out.is_empty() {
        let _ = crate::conn::with_timeout(Duration::from_secs(5), tcp.write_all(&out)).await;
    }
}

async fn control_loop(shared: Rc<Shared>, listener: Async<UnixListener>) {
    loop {
        let Some(accepted) = shared.unless_shutdown(listener.accept()).await else {
            return;
        };
        let conn = match accepted.and_then(|(c, _)| c.into_inner()) {
            Ok(c) => c,
            Err(e) => {
                log::warn!("control: accept failed: {e}");
                Timer::after(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = conn.set_nonblocking(false);
        let (store, data) = (shared.store.clone(), shared.data.clone());
        let (changed, answer) =
            blocking::unblock(move || crate::cli::serve_control(conn, &store, &data)).await;
        if changed.config {
            shared.reload_config();
            log::info!("settings reloaded");
        }
        blocking::unblock(move || answer.send()).await;
    }
}

async fn tls_reload_loop(shared: Rc<Shared>) {
    // The files last tried, loaded or not: a broken file is reported once, not on every check.
    let mut tried = shared.tls.loaded();
    loop {
        let wait = Duration::from_secs(shared.config().tls_reload_check_secs);
        if shared.unless_shutdown(Timer::after(wait)).await.is_none() {
            return;
        }
        let data: PathBuf = shared.data.clone();
        let last = tried.clone();
        let (result, now) = blocking::unblock(move || {
            let result = crate::tls::reload_if_changed(&data, last);
            let files = crate::tls::current_files(&data);
            let print = crate::tls::fingerprint(&files);
            (result, (files, print))
        })
        .await;
        tried = Some(now);
        match result {
            Some(Ok((files, print, cfg))) => {
                log::info!("TLS certificate loaded from {}", files.cert.display());
                shared.tls.swap(files, print, cfg);
            }
            Some(Err(e)) => log::error!("TLS certificate not reloaded: {e}"),
            None => {}
        }
    }
}

/// The DKIM keys of `selector`, generated first if missing (a data folder from before keys were
/// made at init). Without keys, outbound mail is sent unsigned and the log says so.
fn load_dkim(data: &Path, selector: &str) -> Option<Arc<crate::dkim::SelectorKeys>> {
    match crate::tls::dkim_keys::ensure(&crate::tls::dkim_keys::dkim_dir(data), selector) {
        Ok(keys) => Some(Arc::new(keys)),
        Err(e) => {
            log::error!("DKIM keys unavailable, outbound mail will not be signed: {e}");
            None
        }
    }
}

/// Where the store file of a data folder is.
pub fn store_path(data: &Path) -> PathBuf {
    data.join(STORE_FILE)
}

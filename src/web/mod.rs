//! The built-in web page: first-run setup, administration, each user's own page, and client
//! onboarding, over HTTP/1.1 ([`crate::proto::http`], driven by `conn::web`).
//!
//! Routes (HTTPS on 443, dev 10443; plain HTTP on 80, dev 10080, only redirects there):
//! - `/setup`: shown while no administrator exists; makes the same state as
//!   `mailnook init --admin` plus `mailnook user add` (it runs those very commands).
//! - `/login`, `/logout`: mail users log in with their address and password, through the same
//!   throttled authenticator as IMAP, POP3 and submission.
//! - `/admin`, `/admin/users`, …, `/admin/backup` (download a backup of the whole box): for the
//!   addresses in `web.admins`.
//! - `multipart/form-data` POSTs are streamed ([`backup`]): a backup restored on a new box
//!   (`/setup/restore`), PEM files on the TLS page; their CSRF token is the form's first part.
//! - `/me`: any logged-in user: their client settings, phone setup (QR code, Apple profile)
//!   and password.
//! - Client autoconfiguration (`clients`): Thunderbird autoconfig (also over plain HTTP) and
//!   Outlook autodiscover, without a session.
//! - `/static/style.css`.
//!
//! Security (DESIGN.md "Security model"):
//! - Requests from outside loopback and the local network get 403 unless `web.public` is 1;
//!   ACME HTTP-01 answers are the one exception (the CA is on the internet).
//! - Session cookies are `HttpOnly; Secure; SameSite=Strict` and only ever set over HTTPS.
//! - Every POST needs the CSRF token of the cookie it comes with ([`session`]), and an `Origin`,
//!   when sent, must name this host.
//! - Every response carries a strict Content-Security-Policy (nothing but our own stylesheet;
//!   no scripts), `X-Frame-Options: DENY`, `X-Content-Type-Options: nosniff`,
//!   `Referrer-Policy: same-origin` (other sites learn nothing; our own forms keep their
//!   `Origin`, which browsers replace by `null` under `no-referrer`), and pages are
//!   `Cache-Control: no-store`; with the operator's or ACME's certificate in use (not the
//!   self-signed one), also `Strict-Transport-Security` (RFC 6797).
//!
//! Invariants: handlers never block the executor thread (argon2, admin commands and file
//! reads run on the blocking pool); every value shown is escaped by [`html`]; passwords are
//! never logged.

mod admin;
mod backup;
pub mod checks;
mod clients;
mod collect;
mod download;
mod filters;
pub mod html;
mod metrics;
pub mod onboarding;
mod pages;
pub mod session;
mod two_step;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::proto::http::{Method, Request, Response};
use crate::store::Store;
pub use backup::{BodyStream, Streams, UploadBody};
use session::Sessions;
use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

/// What the web page shares across requests.
pub struct Web {
    /// The store.
    pub store: Store,
    /// The data folder (for `init` and the admin commands).
    pub data: PathBuf,
    /// The current settings.
    pub config: Rc<dyn Fn() -> Rc<Config>>,
    /// Reloads the settings after a change made here.
    pub reload: Rc<dyn Fn()>,
    /// The login service shared with the mail protocols.
    pub auth: Rc<Authenticator>,
    /// The daily mail counters, for the overview chart.
    pub stats: Rc<crate::stats::Stats>,
    /// ACME HTTP-01 answers to serve.
    pub challenges: crate::acme::Challenges,
    /// The resolver of the configured name servers (for the checks page).
    pub resolver: Rc<crate::dns::stub::ConfiguredResolver>,
    /// Logged-in sessions.
    pub sessions: RefCell<Sessions>,
    /// The last TOTP step each user logged in with (codes are single-use).
    pub totp_steps: RefCell<std::collections::HashMap<String, u64>>,
    /// When the server started (for the overview).
    pub started: Instant,
    /// The HTTPS port plain HTTP redirects to.
    pub https_port: u16,
    /// The port base of the mail roles (0 in production), for client settings.
    pub port_base: u16,
    /// How many client connections are open (for /metrics).
    pub open_connections: Rc<dyn Fn() -> usize>,
    /// Whether the certificate in use is the operator's (or ACME's), not the self-signed one:
    /// only then do responses ask browsers to insist on HTTPS (HSTS).
    pub own_certificate: Rc<dyn Fn() -> bool>,
    /// Response bodies being streamed (backup downloads).
    pub streams: Streams,
}

impl std::fmt::Debug for Web {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Web")
            .field("data", &self.data)
            .field("https_port", &self.https_port)
            .finish_non_exhaustive()
    }
}

/// Where a request came from.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    /// The client.
    pub peer: SocketAddr,
    /// Whether it arrived over TLS.
    pub https: bool,
}

/// Whether `ip` is on this machine or the local network: loopback, RFC 1918, link-local,
/// RFC 6598 shared space, or IPv6 unique-local (RFC 4193).
pub fn is_local_network(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_local_network(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
    }
}

/// Whether a request for `path` from `peer` is answered at all: from the local network, from
/// anywhere with `web.public`, and ACME HTTP-01 from anywhere (the CA is on the internet).
fn admitted(path: &str, peer: IpAddr, public: bool) -> bool {
    public || is_local_network(peer) || path.starts_with(crate::acme::challenge::HTTP01_PREFIX)
}

/// The security fields every response carries.
fn secured(mut r: Response) -> Response {
    r.headers.push((
        "Content-Security-Policy",
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
            .into(),
    ));
    r.headers.push(("X-Frame-Options", "DENY".into()));
    r.headers.push(("X-Content-Type-Options", "nosniff".into()));
    r.headers.push(("Referrer-Policy", "same-origin".into()));
    if !r.headers.iter().any(|(n, _)| *n == "Cache-Control") {
        r.headers.push(("Cache-Control", "no-store".into()));
    }
    r
}

/// A plain-text error page.
pub fn error_page(status: u16, text: &str) -> Response {
    let body = html::page(
        crate::proto::http::reason(status),
        &html::Viewer::default(),
        &format!("<p>{}</p>", html::esc(text)),
    );
    secured(Response::new(status, "text/html; charset=utf-8", body))
}

/// The host name the client used (from `Host`, without a port), if it is a plain name or
/// address.
fn request_host(req: &Request) -> Option<String> {
    let host = req.header("host")?;
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b));
    ok.then(|| name.to_ascii_lowercase())
}

/// Whether a POST names another site as the page that sent it (RFC 6454: a browser names the
/// page that sent the form; it must be one of ours).
fn foreign_form(req: &Request) -> bool {
    let Some(o) = req.header("origin").filter(|_| req.method == Method::Post) else {
        return false;
    };
    let host = request_host(req).unwrap_or_default();
    let from = o
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or("")
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    o == "null" || !from.eq_ignore_ascii_case(&host)
}

impl Web {
    /// Answers one request.
    pub async fn handle(&self, req: &Request, origin: Origin) -> Response {
        let config = (self.config)();
        if !admitted(&req.path, origin.peer.ip(), config.web_public) {
            return error_page(
                403,
                "The web page answers only the local network (web.public is 0).",
            );
        }
        if let Some(r) = clients::acme_route(self, req) {
            return secured(r);
        }
        if let Some(r) = clients::public_route(self, req, origin.https).await {
            return secured(r);
        }
        if !origin.https {
            return secured(self.redirect_to_https(req));
        }
        if req.method == Method::Other {
            return error_page(405, "Only GET, HEAD and POST are used here.")
                .with("Allow", "GET, HEAD, POST");
        }
        if foreign_form(req) {
            return error_page(403, "This form was sent from another site.");
        }
        let response = pages::route(self, req, origin, &config).await;
        self.finish(response).await
    }

    /// Answers a `multipart/form-data` POST ([`Request::is_upload`]) whose body `body` yields
    /// as it arrives.
    pub async fn handle_upload(
        &self,
        req: &Request,
        origin: Origin,
        body: &mut impl UploadBody,
    ) -> Response {
        let config = (self.config)();
        if !admitted(&req.path, origin.peer.ip(), config.web_public) {
            return error_page(
                403,
                "The web page answers only the local network (web.public is 0).",
            );
        }
        if !origin.https {
            return error_page(403, "Forms are sent over HTTPS only.");
        }
        if foreign_form(req) {
            return error_page(403, "This form was sent from another site.");
        }
        let ctx = pages::context(self, req, origin, &config);
        let response = backup::upload(self, ctx, req, &config, body).await;
        self.finish(response).await
    }

    /// Saves session changes and adds the security fields.
    async fn finish(&self, mut response: Response) -> Response {
        self.save_sessions().await;
        // RFC 6797: only with a certificate browsers accept, or the box could lock itself out.
        if (self.own_certificate)() {
            response = response.with("Strict-Transport-Security", "max-age=31536000");
        }
        secured(response)
    }

    /// Writes the session changes of the last request to the store.
    async fn save_sessions(&self) {
        let writes = self.sessions.borrow_mut().take_writes();
        for (key, value) in writes {
            if let Err(e) = self
                .store
                .call(crate::store::Op::SetState { key, value })
                .await
            {
                log::warn!("web: saving a session failed: {e}");
            }
        }
    }

    /// Plain HTTP: everything moves to HTTPS (the session cookie is `Secure`).
    fn redirect_to_https(&self, req: &Request) -> Response {
        let host = request_host(req).unwrap_or_else(|| (self.config)().hostname.clone());
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        let port = if self.https_port == 443 {
            String::new()
        } else {
            format!(":{}", self.https_port)
        };
        let query = if req.query.is_empty() {
            String::new()
        } else {
            format!("?{}", req.query)
        };
        let path = crate::proto::http::percent_encode_path(&req.path);
        Response::new(301, "text/plain; charset=utf-8", "Moved to HTTPS\n")
            .with("Location", format!("https://{host}{port}{path}{query}"))
    }
}

/// The box's figures for the overview page and /metrics, read on the blocking pool.
pub(super) struct Overview {
    /// Resident memory of this process, bytes.
    pub rss: Option<u64>,
    /// Size of the store file, bytes.
    pub store_bytes: u64,
    /// Free space on the data folder's file system, bytes.
    pub free_bytes: Option<u64>,
    /// Mail users.
    pub users: usize,
    /// Local domains.
    pub domains: Vec<String>,
    /// Messages in the outbound queue.
    pub queued: usize,
}

pub(super) async fn overview(web: &Web) -> Overview {
    let (store, data) = (web.store.clone(), web.data.clone());
    blocking::unblock(move || {
        let rss = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
                let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
                Some(kib * 1024)
            });
        let store_bytes = std::fs::metadata(crate::server::store_path(&data))
            .map(|m| m.len())
            .unwrap_or(0);
        let free_bytes = rustix::fs::statvfs(&data)
            .ok()
            .map(|s| s.f_bavail.saturating_mul(s.f_frsize));
        Overview {
            rss,
            store_bytes,
            free_bytes,
            users: store.users().map(|u| u.len()).unwrap_or(0),
            domains: store.domains().unwrap_or_default(),
            queued: store.queue().map(|q| q.len()).unwrap_or(0),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_acme_answers_reach_the_internet_by_default() {
        let outside: IpAddr = "203.0.113.9".parse().unwrap();
        let lan: IpAddr = "192.168.1.20".parse().unwrap();
        assert!(admitted("/.well-known/acme-challenge/abc", outside, false));
        assert!(!admitted("/login", outside, false));
        assert!(!admitted("/mail/config-v1.1.xml", outside, false));
        assert!(admitted("/login", outside, true));
        assert!(admitted("/login", lan, false));
    }

    #[test]
    fn local_networks() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.20",
            "169.254.1.1",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:192.168.1.1",
        ] {
            assert!(is_local_network(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2001:db8::1",
            "::ffff:1.1.1.1",
        ] {
            assert!(!is_local_network(ip.parse().unwrap()), "{ip}");
        }
    }
}

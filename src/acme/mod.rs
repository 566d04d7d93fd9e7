//! ACME (RFC 8555): obtains the server's TLS certificate from a CA such as Let's Encrypt and
//! renews it before it expires.
//!
//! Owns: the ACME account (its key and URL, kept in the store's `STATE` table under
//! `acme.account`), the certificate order ([`obtain`]), the renewal task ([`run`]) and the
//! challenge answers the web server serves ([`Challenges`]). Layers: [`jws`] (account key,
//! signatures), [`protocol`] (messages and what to do next, sans-IO), [`http`] (a bounded
//! HTTPS/1.1 client on async-io + futures-rustls), [`challenge`] (HTTP-01 and TLS-ALPN-01
//! answers), [`renewal`] (when a certificate is due). The files it produces are written through
//! `crate::tls` (`DATA/tls/cert.pem` + `key.pem`), which the server reloads when they change.
//!
//! Invariants:
//! - Nothing is written to `DATA/tls/` unless the CA issued a certificate and it forms a usable
//!   pair with the new key; a failed order leaves the files as they were. Each file is replaced
//!   atomically (temporary file + rename), the key owner-only.
//! - Every certificate gets a fresh P-256 key; the account key never signs a certificate.
//! - Every request carries a fresh nonce; a `badNonce` refusal is retried with the nonce it
//!   brought, at most [`MAX_NONCE_RETRIES`] times (RFC 8555 §6.5). Polling follows `Retry-After`
//!   within bounds ([`protocol::poll_delay`]); one order runs under `acme.order_timeout_secs`,
//!   each request under `acme.timeout_secs`.
//! - A challenge answer is published only while its order runs, and only for a name the order
//!   is for.
//! - The account key is the one private key kept outside `DATA/tls/`: PKCS#8 in the store, read
//!   and used only here.
//! - Everything runs on the executor thread without blocking it: file reads and writes go
//!   through `blocking::unblock`; signing one request is a single ECDSA signature.
//!
//! # Integration (server and web server)
//!
//! In `server`: make one `Challenges::new()`, give a clone to the web server, and spawn
//! `acme::run(config_closure, data_dir, challenges, store.clone(), shutdown.clone())` on the
//! executor like `queue::run` (it does nothing while `acme.enabled` is 0, and re-reads the
//! settings every minute). The existing `tls_reload_loop` picks the new files up.
//!
//! In the web server:
//! - HTTP (port 80): for `GET /.well-known/acme-challenge/<token>` answer
//!   `acme::http01_response(&challenges, path)`: `Some(body)` → `200`, `Content-Type:
//!   application/octet-stream`, the body; `None` → `404`. Pass the path without the query.
//! - HTTPS (port 443): build each connection's rustls config with
//!   `acme::with_acme_alpn(&server_tls_config, &challenges)` (it wraps the certificate resolver
//!   in an [`AlpnResolver`] and offers `acme-tls/1` as well as `http/1.1`). After the handshake,
//!   if `conn.alpn_protocol() == Some(acme::ACME_TLS_ALPN)`, close the connection without
//!   reading a request (RFC 8737 §4).

pub mod challenge;
pub mod http;
pub mod jws;
pub mod protocol;
pub mod renewal;

pub use challenge::{ACME_TLS_ALPN, AlpnResolver, Challenges, http01_response, with_acme_alpn};

use crate::codec::{Dec, Enc};
use crate::config::Config;
use crate::store::{Op, Store};
use http::{HttpError, HttpsClient, Method, Response, Roots};
use jws::{AccountKey, Signer};
use protocol::{AuthzStep, Directory, OrderStep, Problem};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a `badNonce` refusal is retried for one request.
pub const MAX_NONCE_RETRIES: usize = 5;
/// The store key of the account: directory URL, account URL, PKCS#8 key.
pub const ACCOUNT_STATE: &str = "acme.account";
/// The store key of the names of the certificate last installed by [`obtain`].
pub const ISSUED_STATE: &str = "acme.issued";
/// How often [`run`] looks at the settings.
const TICK: Duration = Duration::from_secs(60);
/// Longest sleep between two checks of the certificate in use.
const DAY: Duration = Duration::from_secs(86_400);
/// Longest wait between two polls before `Retry-After` is considered.
const MAX_OWN_POLL: Duration = Duration::from_secs(5);
const ACCOUNT_ROW_V1: u8 = 1;

/// Why an order failed.
#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    /// The ACME server could not be reached or answered garbage at the HTTP level.
    #[error("ACME server {url}: {source}")]
    Http {
        /// The request URL.
        url: String,
        /// The cause.
        source: HttpError,
    },
    /// The ACME server refused a request (RFC 8555 §6.7 problem document).
    #[error("the ACME server refused {what} (HTTP {status}): {problem}")]
    Refused {
        /// Which request.
        what: String,
        /// HTTP status.
        status: u16,
        /// The problem document.
        problem: Problem,
    },
    /// An answer that RFC 8555 does not allow here.
    #[error("unexpected answer from the ACME server: {0}")]
    Protocol(String),
    /// The CA could not validate a name.
    #[error("validation failed: {0}")]
    Validation(String),
    /// The order failed after validation.
    #[error("order failed: {0}")]
    Order(String),
    /// A key or certificate could not be made.
    #[error("{0}")]
    Key(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] crate::store::Error),
    /// The certificate files could not be checked or written.
    #[error("certificate files: {0}")]
    Tls(#[from] crate::tls::TlsError),
    /// The settings cannot work.
    #[error("settings: {0}")]
    Config(String),
    /// The whole order took too long.
    #[error("the order did not complete within {0:?}")]
    Timeout(Duration),
}

/// How the CA is asked to validate the names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeKind {
    /// RFC 8555 §8.3: a file on port 80.
    Http01,
    /// RFC 8737: a certificate on port 443 for ALPN `acme-tls/1`.
    TlsAlpn01,
}

impl ChallengeKind {
    /// The RFC name.
    pub fn name(self) -> &'static str {
        match self {
            ChallengeKind::Http01 => "http-01",
            ChallengeKind::TlsAlpn01 => "tls-alpn-01",
        }
    }
}

/// What one order needs.
#[derive(Debug, Clone)]
pub struct AcmeSettings {
    /// The directory URL.
    pub directory: String,
    /// Contact address (empty: none).
    pub email: String,
    /// The challenge type.
    pub challenge: ChallengeKind,
    /// The names, lower-case.
    pub names: Vec<String>,
    /// Roots for the ACME server's HTTPS certificate (`None`: the web PKI roots).
    pub ca_file: Option<PathBuf>,
    /// Deadline of each request.
    pub request_timeout: Duration,
    /// Deadline of the whole order.
    pub order_timeout: Duration,
}

impl AcmeSettings {
    /// The settings in `config` (`acme.*`; the names default to the host name).
    pub fn from_config(c: &Config) -> AcmeSettings {
        AcmeSettings {
            directory: c.acme_directory.clone(),
            email: c.acme_email.clone(),
            challenge: if c.acme_challenge == "tls-alpn-01" {
                ChallengeKind::TlsAlpn01
            } else {
                ChallengeKind::Http01
            },
            names: if c.acme_names.is_empty() {
                vec![c.hostname.clone()]
            } else {
                c.acme_names.clone()
            },
            ca_file: c.acme_ca_file.clone(),
            request_timeout: Duration::from_secs(c.acme_timeout_secs),
            order_timeout: Duration::from_secs(c.acme_order_timeout_secs),
        }
    }
}

/// A certificate obtained and installed.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The names it covers.
    pub names: Vec<String>,
    /// Its notAfter, Unix seconds.
    pub not_after: i64,
    /// The account URL used.
    pub account_url: String,
    /// Whether the account was registered by this order (newAccount) rather than reused.
    pub new_account: bool,
}

/// The stored account: (directory URL, account URL), if any.
pub fn stored_account(store: &Store) -> Result<Option<(String, String)>, AcmeError> {
    Ok(load_account(store)?.map(|(d, u, _)| (d, u)))
}

fn load_account(store: &Store) -> Result<Option<(String, String, Vec<u8>)>, AcmeError> {
    let Some(row) = store.state(ACCOUNT_STATE)? else {
        return Ok(None);
    };
    let mut d = Dec(&row);
    let parsed = (|| {
        (d.u8()? == ACCOUNT_ROW_V1).then_some(())?;
        Some((d.string()?, d.string()?, d.bytes()?.to_vec()))
    })();
    if parsed.is_none() {
        log::warn!("acme: the stored account is unreadable; a new one will be registered");
    }
    Ok(parsed)
}

async fn save_account(
    store: &Store,
    directory: &str,
    url: &str,
    key: &AccountKey,
) -> Result<(), AcmeError> {
    let row = Enc::default()
        .u8(ACCOUNT_ROW_V1)
        .str(directory)
        .str(url)
        .bytes(key.pkcs8())
        .done();
    store
        .call(Op::SetState {
            key: ACCOUNT_STATE.into(),
            value: Some(row),
        })
        .await?;
    Ok(())
}

/// One conversation with the ACME server: the client, the directory, the key and the nonce.
struct Session {
    http: HttpsClient,
    dir: Directory,
    key: AccountKey,
    kid: Option<String>,
    nonce: Option<String>,
}

impl Session {
    /// A fresh nonce: the one the last response brought, else newNonce (RFC 8555 §7.2).
    async fn nonce(&mut self) -> Result<String, AcmeError> {
        if let Some(n) = self.nonce.take() {
            return Ok(n);
        }
        let url = self.dir.new_nonce.clone();
        let resp = self
            .http
            .request(Method::Head, &url, "*/*", None)
            .await
            .map_err(|source| AcmeError::Http { url, source })?;
        protocol::replay_nonce(&resp)
            .ok_or_else(|| AcmeError::Protocol("newNonce gave no Replay-Nonce".into()))
    }

    /// A signed POST (RFC 8555 §6.2); `payload` `None` is POST-as-GET (§6.3).
    async fn post(
        &mut self,
        url: &str,
        payload: Option<&Value>,
        accept: &str,
        what: &str,
    ) -> Result<Response, AcmeError> {
        let mut attempt = 0;
        loop {
            let nonce = self.nonce().await?;
            let signer = match &self.kid {
                Some(kid) => Signer::Kid(kid),
                None => Signer::Jwk,
            };
            let body = self.key.sign(signer, &nonce, url, payload)?;
            let resp = self
                .http
                .request(
                    Method::Post,
                    url,
                    accept,
                    Some(("application/jose+json", &body)),
                )
                .await
                .map_err(|source| AcmeError::Http {
                    url: url.to_string(),
                    source,
                })?;
            // RFC 8555 §6.5: every response carries the next nonce, errors included.
            self.nonce = protocol::replay_nonce(&resp);
            if resp.status < 400 {
                return Ok(resp);
            }
            let problem = protocol::problem(&resp);
            if problem.kind == protocol::BAD_NONCE && attempt < MAX_NONCE_RETRIES {
                attempt += 1;
                log::debug!("acme: {what}: nonce refused, retrying ({attempt})");
                continue;
            }
            return Err(AcmeError::Refused {
                what: what.to_string(),
                status: resp.status,
                problem,
            });
        }
    }

    async fn post_json(
        &mut self,
        url: &str,
        payload: Option<&Value>,
        what: &str,
    ) -> Result<Response, AcmeError> {
        self.post(url, payload, "application/json", what).await
    }

    /// newAccount (RFC 8555 §7.3) with a new key; returns the account URL.
    async fn register(&mut self, email: &str) -> Result<String, AcmeError> {
        self.key = AccountKey::generate()?;
        self.kid = None;
        let url = self.dir.new_account.clone();
        let resp = self
            .post_json(
                &url,
                Some(&protocol::new_account_payload(email)),
                "newAccount",
            )
            .await?;
        if !matches!(resp.status, 200 | 201) {
            return Err(AcmeError::Protocol(format!(
                "newAccount answered {}",
                resp.status
            )));
        }
        let kid = protocol::location(&resp, "newAccount")?;
        self.kid = Some(kid.clone());
        Ok(kid)
    }
}

/// Sleeps before the next poll.
async fn pause(resp: &Response, delay: &mut Duration) {
    async_io::Timer::after(protocol::poll_delay(resp, *delay)).await;
    *delay = (*delay * 2).min(MAX_OWN_POLL);
}

/// Reads the PEM certificates of `path` (blocking pool).
async fn read_roots(path: &Path) -> Result<Roots, AcmeError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let p = path.to_path_buf();
    let certs = blocking::unblock(move || -> Result<Vec<CertificateDer<'static>>, String> {
        CertificateDer::pem_file_iter(&p)
            .map_err(|e| e.to_string())?
            .take(256)
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| AcmeError::Config(format!("acme.ca_file {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(AcmeError::Config(format!(
            "acme.ca_file {}: no certificate",
            path.display()
        )));
    }
    Ok(Roots::Custom(certs))
}

/// Orders a certificate for `settings.names`, answers the challenges through `challenges`,
/// and installs the result as `DATA/tls/cert.pem` + `key.pem`. The account is taken from the
/// store if one exists for this directory, else registered and stored.
pub async fn obtain(
    settings: &AcmeSettings,
    data: &Path,
    challenges: &Challenges,
    store: &Store,
) -> Result<Issued, AcmeError> {
    let limit = settings.order_timeout;
    futures_lite::future::or(order(settings, data, challenges, store), async move {
        async_io::Timer::after(limit).await;
        Err(AcmeError::Timeout(limit))
    })
    .await
}

async fn order(
    settings: &AcmeSettings,
    data: &Path,
    challenges: &Challenges,
    store: &Store,
) -> Result<Issued, AcmeError> {
    let names = &settings.names;
    if names.is_empty() || names.len() > protocol::MAX_AUTHORIZATIONS {
        return Err(AcmeError::Config(format!(
            "{} names to certify",
            names.len()
        )));
    }
    let roots = match &settings.ca_file {
        Some(p) => read_roots(p).await?,
        None => Roots::WebPki,
    };
    let http =
        HttpsClient::new(roots, settings.request_timeout).map_err(|source| AcmeError::Http {
            url: settings.directory.clone(),
            source,
        })?;
    let resp = http
        .request(Method::Get, &settings.directory, "application/json", None)
        .await
        .map_err(|source| AcmeError::Http {
            url: settings.directory.clone(),
            source,
        })?;
    if resp.status != 200 {
        return Err(AcmeError::Refused {
            what: "the directory".into(),
            status: resp.status,
            problem: protocol::problem(&resp),
        });
    }
    let dir: Directory = protocol::parse(&resp, "directory")?;
    if dir
        .meta
        .as_ref()
        .is_some_and(|m| m.external_account_required)
    {
        return Err(AcmeError::Config(
            "the CA requires external account binding, which mailnook does not support".into(),
        ));
    }

    // The account (RFC 8555 §7.3): reused when stored for this directory.
    let stored = load_account(store)?.filter(|(d, _, _)| *d == settings.directory);
    let (key, kid) = match stored {
        Some((_, url, pkcs8)) => (AccountKey::from_pkcs8(&pkcs8)?, Some(url)),
        None => (AccountKey::generate()?, None),
    };
    let mut s = Session {
        http,
        dir,
        key,
        kid,
        nonce: None,
    };
    let mut new_account = false;
    if s.kid.is_none() {
        let url = s.register(&settings.email).await?;
        save_account(store, &settings.directory, &url, &s.key).await?;
        log::info!("acme: registered account {url}");
        new_account = true;
    }

    // newOrder (RFC 8555 §7.4); an account the CA forgot is registered again, once.
    let new_order = s.dir.new_order.clone();
    let payload = protocol::new_order_payload(names);
    let resp = match s.post_json(&new_order, Some(&payload), "newOrder").await {
        Err(AcmeError::Refused { problem, .. })
            if problem.kind == protocol::ACCOUNT_DOES_NOT_EXIST && !new_account =>
        {
            log::warn!("acme: the CA does not know the stored account; registering a new one");
            let url = s.register(&settings.email).await?;
            save_account(store, &settings.directory, &url, &s.key).await?;
            new_account = true;
            s.post_json(&new_order, Some(&payload), "newOrder").await?
        }
        other => other?,
    };
    let order_url = protocol::location(&resp, "newOrder")?;
    let mut current: protocol::Order = protocol::parse(&resp, "order")?;
    if current.authorizations.len() > protocol::MAX_AUTHORIZATIONS {
        return Err(AcmeError::Protocol("too many authorizations".into()));
    }

    // Authorizations (RFC 8555 §7.5): answer each with the configured challenge and poll.
    let kind = settings.challenge;
    let mut published = Vec::new();
    for authz_url in current.authorizations.clone() {
        let mut responded = false;
        let mut delay = protocol::MIN_POLL;
        loop {
            let resp = s.post_json(&authz_url, None, "authorization").await?;
            let authz: protocol::Authorization = protocol::parse(&resp, "authorization")?;
            let name = authz.identifier.value.to_ascii_lowercase();
            match protocol::authz_step(&authz, kind.name(), responded) {
                AuthzStep::Done => break,
                AuthzStep::Respond { url, token } => {
                    if authz.identifier.kind != "dns" || !names.contains(&name) {
                        return Err(AcmeError::Protocol(format!(
                            "authorization for {name}, which was not ordered"
                        )));
                    }
                    let key_auth = s.key.key_authorization(&token);
                    let guard = match kind {
                        ChallengeKind::Http01 => challenges.publish_http01(&token, key_auth),
                        ChallengeKind::TlsAlpn01 => {
                            let cert = challenge::tls_alpn01_cert(&name, &key_auth)?;
                            challenges.publish_tls_alpn01(&name, Arc::new(cert))
                        }
                    }
                    .ok_or_else(|| AcmeError::Key("too many challenges pending".into()))?;
                    published.push(guard);
                    // RFC 8555 §7.5.1: an empty object says "ready for validation".
                    s.post_json(&url, Some(&json!({})), "challenge").await?;
                    responded = true;
                    log::info!("acme: answered the {} challenge for {name}", kind.name());
                }
                AuthzStep::Wait => {}
                AuthzStep::Failed(why) => return Err(AcmeError::Validation(why)),
            }
            pause(&resp, &mut delay).await;
        }
    }

    // Finalize (RFC 8555 §7.4) once ready, then wait for issuance.
    let mut cert_key: Option<rcgen::KeyPair> = None;
    let mut delay = protocol::MIN_POLL;
    let cert_url = loop {
        match protocol::order_step(&current) {
            OrderStep::Download(url) => break url,
            OrderStep::Failed(why) => return Err(AcmeError::Order(why)),
            OrderStep::Finalize if cert_key.is_none() => {
                let (key, csr) = csr(names)?;
                cert_key = Some(key);
                let resp = s
                    .post_json(
                        &current.finalize.clone(),
                        Some(&protocol::finalize_payload(&csr)),
                        "finalize",
                    )
                    .await?;
                current = protocol::parse(&resp, "order")?;
                continue;
            }
            OrderStep::Authorize | OrderStep::Finalize | OrderStep::Wait => {}
        }
        let resp = s.post_json(&order_url, None, "order").await?;
        current = protocol::parse(&resp, "order")?;
        let waiting = match protocol::order_step(&current) {
            OrderStep::Download(_) | OrderStep::Failed(_) => false,
            OrderStep::Finalize => cert_key.is_some(),
            OrderStep::Authorize | OrderStep::Wait => true,
        };
        if waiting {
            pause(&resp, &mut delay).await;
        }
    };
    let Some(cert_key) = cert_key else {
        return Err(AcmeError::Protocol(
            "order valid before it was finalized".into(),
        ));
    };

    // Download (RFC 8555 §7.4.2) and install.
    let resp = s
        .post(
            &cert_url,
            None,
            "application/pem-certificate-chain",
            "certificate",
        )
        .await?;
    if resp.status != 200 {
        return Err(AcmeError::Protocol(format!(
            "certificate download answered {}",
            resp.status
        )));
    }
    let chain = resp.body;
    let not_after = leaf_not_after(&chain)
        .ok_or_else(|| AcmeError::Protocol("the certificate chain is unreadable".into()))?;
    drop(published);
    let key_pem = cert_key.serialize_pem();
    let dir = data.to_path_buf();
    blocking::unblock(move || crate::tls::install_pair(&dir, &chain, key_pem.as_bytes())).await?;
    store
        .call(Op::SetState {
            key: ISSUED_STATE.into(),
            value: Some(names.join(",").into_bytes()),
        })
        .await?;
    Ok(Issued {
        names: names.clone(),
        not_after,
        account_url: s.kid.unwrap_or_default(),
        new_account,
    })
}

/// A fresh P-256 key and the CSR (RFC 2986) naming `names` as subjectAltNames.
fn csr(names: &[String]) -> Result<(rcgen::KeyPair, Vec<u8>), AcmeError> {
    let err = |e: rcgen::Error| AcmeError::Key(format!("certificate request: {e}"));
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(err)?;
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(err)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    if let Some(first) = names.first().filter(|n| n.len() <= 64) {
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, first.as_str());
    }
    let csr = params.serialize_request(&key).map_err(err)?;
    Ok((key, csr.der().to_vec()))
}

/// notAfter of the first certificate of a PEM chain.
fn leaf_not_after(chain_pem: &[u8]) -> Option<i64> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let leaf = CertificateDer::pem_slice_iter(chain_pem).next()?.ok()?;
    renewal::cert_info(leaf.as_ref()).map(|i| i.not_after)
}

/// The names of the certificate [`obtain`] last installed.
fn issued_names(store: &Store) -> Option<Vec<String>> {
    let raw = store.state(ISSUED_STATE).ok()??;
    Some(
        String::from_utf8_lossy(&raw)
            .split(',')
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

/// The renewal task: while `acme.enabled` is 1, obtains a certificate when the one in use is
/// self-signed, unreadable, for other names than the ones configured, or expires within
/// `acme.renew_days`; otherwise sleeps until then (checking at least daily). A failed order is
/// retried after `acme.retry_base_secs`, doubling per failure up to a day. Settings are read
/// every minute, so `mailnook config set acme.…` takes effect without a restart. Ends when
/// `shutdown` closes.
pub async fn run(
    config: Rc<dyn Fn() -> Rc<Config>>,
    data: PathBuf,
    challenges: Challenges,
    store: Store,
    shutdown: async_channel::Receiver<()>,
) {
    let mut next_check = Instant::now();
    let mut seen: Option<(String, Vec<String>, String)> = None;
    let mut failures: u32 = 0;
    loop {
        let cfg = config();
        if cfg.acme_enabled {
            let settings = AcmeSettings::from_config(&cfg);
            let now_seen = (
                settings.directory.clone(),
                settings.names.clone(),
                settings.challenge.name().to_string(),
            );
            if seen.as_ref() != Some(&now_seen) {
                seen = Some(now_seen);
                next_check = Instant::now();
                failures = 0;
            }
            if Instant::now() >= next_check {
                let check = check_once(&cfg, &settings, &data, &challenges, &store, &mut failures);
                let Some(wait) = unless_shutdown(&shutdown, check).await else {
                    return;
                };
                next_check = Instant::now() + wait;
            }
        } else {
            seen = None;
        }
        let sleep = next_check
            .saturating_duration_since(Instant::now())
            .clamp(Duration::from_millis(10), TICK);
        if unless_shutdown(&shutdown, async_io::Timer::after(sleep))
            .await
            .is_none()
        {
            return;
        }
    }
}

/// Runs `fut` unless shutdown begins first (then `None`).
async fn unless_shutdown<T>(
    shutdown: &async_channel::Receiver<()>,
    fut: impl std::future::Future<Output = T>,
) -> Option<T> {
    futures_lite::future::or(async { Some(fut.await) }, async {
        let _ = shutdown.recv().await;
        None
    })
    .await
}

/// One look at the certificate in use, and an order if it is due; returns the wait until the
/// next look.
async fn check_once(
    cfg: &Config,
    settings: &AcmeSettings,
    data: &Path,
    challenges: &Challenges,
    store: &Store,
    failures: &mut u32,
) -> Duration {
    let now = crate::time::unix_now() as i64;
    let renew = (cfg.acme_renew_days * 86_400) as i64;
    let (dir, names, issued) = (
        data.to_path_buf(),
        settings.names.clone(),
        issued_names(store),
    );
    let due = blocking::unblock(move || {
        renewal::check_blocking(&dir, &names, issued.as_deref(), renew, now)
    })
    .await;
    let reason = match due {
        renewal::Due::At(t) => {
            *failures = 0;
            return Duration::from_secs(u64::try_from(t - now).unwrap_or(0)).clamp(TICK, DAY);
        }
        renewal::Due::Now(reason) => reason,
    };
    log::info!(
        "acme: ordering a certificate for {} from {} ({}): {reason}",
        settings.names.join(","),
        settings.directory,
        settings.challenge.name()
    );
    match obtain(settings, data, challenges, store).await {
        Ok(issued) => {
            *failures = 0;
            log::info!(
                "acme: certificate for {} installed, valid until Unix time {}",
                issued.names.join(","),
                issued.not_after
            );
            DAY
        }
        Err(e) => {
            *failures = failures.saturating_add(1);
            let backoff = Duration::from_secs(cfg.acme_retry_base_secs)
                .saturating_mul(1 << (*failures - 1).min(16))
                .min(DAY);
            log::error!(
                "acme: ordering a certificate failed (attempt {}; next in {}s): {e}",
                *failures,
                backoff.as_secs()
            );
            backoff
        }
    }
}

//! TLS: rustls configurations on the ring provider, the self-signed certificate made at init,
//! and certificate files in `DATA/tls/` picked up without a restart.
//!
//! This is the only module that reads private keys. Files:
//! - `DATA/tls/cert.pem` + `DATA/tls/key.pem`: the operator's certificate chain and key; used
//!   whenever both exist.
//! - `DATA/tls/selfsigned-cert.pem` + `DATA/tls/selfsigned-key.pem`: generated at init (rcgen,
//!   ECDSA P-256) so TLS works from the first start.
//!
//! - DKIM selector keys: `DATA/dkim/<selector>.{ed25519,rsa}.pem` ([`dkim_keys`]).
//!
//! Key files are created owner-only (0600). Loading is blocking file I/O: the server calls it off
//! the executor thread and swaps the result in ([`ServerTls::swap`]).

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::cell::RefCell;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

pub mod client;
pub mod dkim_keys;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A PEM file held no usable certificate or key.
    #[error("{path}: {why}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// The cause.
        why: String,
    },
    /// rustls refused the certificate/key pair.
    #[error("certificate and key do not form a usable pair: {0}")]
    Rustls(#[from] rustls::Error),
    /// Generating the self-signed certificate failed.
    #[error("generating a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// The certificate and key files in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key.
    pub key: PathBuf,
}

/// `DATA/tls`.
pub fn tls_dir(data: &Path) -> PathBuf {
    data.join("tls")
}

fn self_signed_files(data: &Path) -> TlsFiles {
    let dir = tls_dir(data);
    TlsFiles {
        cert: dir.join("selfsigned-cert.pem"),
        key: dir.join("selfsigned-key.pem"),
    }
}

/// The files to use now: the operator's pair if both exist, else the self-signed pair.
pub fn current_files(data: &Path) -> TlsFiles {
    let dir = tls_dir(data);
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    if cert.is_file() && key.is_file() {
        TlsFiles { cert, key }
    } else {
        self_signed_files(data)
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `dir` and its parents, owner-only (0700) where new; an existing directory is kept.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Writes `bytes` to `path` so that readers see the old file or the new one, never a mix: a
/// temporary file beside it (created with `mode`, synced), renamed over it, and the directory
/// synced.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".new");
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    f.write_all(bytes).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(dir))?;
    }
    Ok(())
}

/// Checks that `cert_pem` (a chain, leaf first) and `key_pem` form a pair rustls can serve.
pub(crate) fn check_pair(cert_pem: &[u8], key_pem: &[u8]) -> Result<(), TlsError> {
    let pem_err = |what: &str, why: String| TlsError::Pem {
        path: PathBuf::from(what),
        why,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| pem_err("certificate chain", e.to_string()))?;
    if certs.is_empty() {
        return Err(pem_err("certificate chain", "no certificate found".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| pem_err("key", e.to_string()))?;
    rustls::sign::CertifiedKey::from_der(certs, key, &provider())?;
    Ok(())
}

/// Installs a new certificate chain and key as `DATA/tls/cert.pem` and `key.pem` (after
/// [`check_pair`]), each replaced atomically, the key first and owner-only (0600). The reload
/// loop picks the pair up; between the two renames it may see the new key with the old chain,
/// which fails to load and is retried at the next check.
pub(crate) fn install_pair(data: &Path, cert_pem: &[u8], key_pem: &[u8]) -> Result<(), TlsError> {
    check_pair(cert_pem, key_pem)?;
    let dir = tls_dir(data);
    create_private_dir(&dir).map_err(io_err(&dir))?;
    write_atomically(&dir.join("key.pem"), key_pem, 0o600)?;
    write_atomically(&dir.join("cert.pem"), cert_pem, 0o644)
}

/// Creates the self-signed pair for `hostname` unless it exists. Returns whether it was created.
pub fn ensure_self_signed(data: &Path, hostname: &str) -> Result<bool, TlsError> {
    let files = self_signed_files(data);
    if files.cert.is_file() && files.key.is_file() {
        return Ok(false);
    }
    let dir = tls_dir(data);
    create_private_dir(&dir).map_err(io_err(&dir))?;
    let names = vec![hostname.to_string(), "localhost".to_string()];
    let certified = rcgen::generate_simple_self_signed(names)?;
    let mut key = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&files.key)
        .map_err(io_err(&files.key))?;
    key.write_all(certified.signing_key.serialize_pem().as_bytes())
        .map_err(io_err(&files.key))?;
    key.sync_all().map_err(io_err(&files.key))?;
    std::fs::write(&files.cert, certified.cert.pem()).map_err(io_err(&files.cert))?;
    Ok(true)
}

/// The ring crypto provider; every config names it explicitly so no process default is needed.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds a server configuration from PEM files (TLS 1.2 and 1.3, no client certificates).
pub fn load_server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| TlsError::Pem {
            path: files.cert.clone(),
            why: e.to_string(),
        })?
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Pem {
            path: files.cert.clone(),
            why: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: files.cert.clone(),
            why: "no certificate found".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| TlsError::Pem {
        path: files.key.clone(),
        why: e.to_string(),
    })?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(Arc::new(config))
}

/// What identifies a version of the files: modification times and sizes.
pub type Fingerprint = Option<(SystemTime, u64, SystemTime, u64)>;

/// Reads the fingerprint of `files` (blocking).
pub fn fingerprint(files: &TlsFiles) -> Fingerprint {
    let c = std::fs::metadata(&files.cert).ok()?;
    let k = std::fs::metadata(&files.key).ok()?;
    Some((c.modified().ok()?, c.len(), k.modified().ok()?, k.len()))
}

/// The server configuration in use on the executor thread, replaced when files change.
#[derive(Default)]
pub struct ServerTls {
    current: RefCell<Option<(TlsFiles, Fingerprint, Arc<ServerConfig>)>>,
}

impl ServerTls {
    /// The configuration for a new handshake, if TLS is available.
    pub fn config(&self) -> Option<Arc<ServerConfig>> {
        self.current.borrow().as_ref().map(|(_, _, c)| c.clone())
    }

    /// The files and fingerprint last loaded.
    pub fn loaded(&self) -> Option<(TlsFiles, Fingerprint)> {
        self.current
            .borrow()
            .as_ref()
            .map(|(f, p, _)| (f.clone(), *p))
    }

    /// Installs a newly loaded configuration.
    pub fn swap(&self, files: TlsFiles, print: Fingerprint, config: Arc<ServerConfig>) {
        *self.current.borrow_mut() = Some((files, print, config));
    }
}

/// A loaded configuration and where it came from.
pub type Loaded = (TlsFiles, Fingerprint, Arc<ServerConfig>);

/// Checks `DATA/tls/` and loads a new configuration if the files in use changed since `loaded`
/// (blocking; run it on a worker thread). Returns `None` when nothing changed.
pub fn reload_if_changed(
    data: &Path,
    loaded: Option<(TlsFiles, Fingerprint)>,
) -> Option<Result<Loaded, TlsError>> {
    let files = current_files(data);
    let print = fingerprint(&files);
    if let Some((old_files, old_print)) = loaded
        && old_files == files
        && old_print == print
    {
        return None;
    }
    Some(load_server_config(&files).map(|c| (files, print, c)))
}

/// A short description of the negotiated parameters, for the Received header and queue logs.
pub fn describe<D>(conn: &rustls::ConnectionCommon<D>) -> String {
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS1.2",
        _ => "TLS",
    };
    match conn.negotiated_cipher_suite() {
        Some(s) => format!("{version} {:?}", s.suite()),
        None => version.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_pair_loads_and_operator_files_win() {
        let dir = tempfile::tempdir().unwrap();
        assert!(ensure_self_signed(dir.path(), "mx.example.test").unwrap());
        assert!(!ensure_self_signed(dir.path(), "mx.example.test").unwrap());
        let files = current_files(dir.path());
        assert!(files.cert.ends_with("selfsigned-cert.pem"));
        load_server_config(&files).unwrap();
        let mode = std::fs::metadata(&files.key).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        let first = reload_if_changed(dir.path(), None).unwrap().unwrap();
        assert!(reload_if_changed(dir.path(), Some((first.0.clone(), first.1))).is_none());
        // The operator drops a pair in: it is picked up.
        std::fs::copy(&files.cert, tls_dir(dir.path()).join("cert.pem")).unwrap();
        std::fs::copy(&files.key, tls_dir(dir.path()).join("key.pem")).unwrap();
        let next = reload_if_changed(dir.path(), Some((first.0, first.1)))
            .unwrap()
            .unwrap();
        assert!(next.0.cert.ends_with("cert.pem"));
        // A broken file is reported, not loaded.
        std::fs::write(tls_dir(dir.path()).join("key.pem"), "garbage").unwrap();
        assert!(
            reload_if_changed(dir.path(), Some((next.0, next.1)))
                .unwrap()
                .is_err()
        );
    }
}

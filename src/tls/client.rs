//! TLS client configurations for outbound SMTP (and `import-imap`'s IMAP client): the web PKI roots (webpki-roots), checked either
//! strictly (a smarthost with verification on) or only recorded (opportunistic STARTTLS to an MX,
//! RFC 7435: an unverified encrypted channel is still better than plaintext, and the result is
//! logged and kept with the delivery).
//!
//! Invariants: the roots are parsed once per process ([`ClientTls::new`]); every connection gets
//! its own [`Verification`] record, so one connection's result never leaks into another's; the
//! handshake signatures are always checked with the ring provider, whatever the policy, so
//! "recorded only" never means "any key will do" for the certificate the server presented.

use rustls::DigitallySignedStruct;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use std::sync::{Arc, Mutex};

/// What the certificate check found, filled in during the handshake.
#[derive(Debug, Default)]
pub struct Verification(Mutex<Option<Result<(), String>>>);

impl Verification {
    /// `Some(Ok)` verified, `Some(Err(why))` not verified, `None` no certificate was checked.
    pub fn result(&self) -> Option<Result<(), String>> {
        self.0.lock().map(|g| g.clone()).unwrap_or(None)
    }

    fn set(&self, r: Result<(), String>) {
        if let Ok(mut g) = self.0.lock() {
            *g = Some(r);
        }
    }
}

/// Whether a failed check ends the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// The certificate must verify.
    Strict,
    /// Record the result and go on (opportunistic TLS).
    RecordOnly,
}

#[derive(Debug)]
struct Recording {
    inner: Arc<WebPkiServerVerifier>,
    policy: Policy,
    seen: Arc<Verification>,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let r = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now);
        self.seen
            .set(r.as_ref().map(|_| ()).map_err(ToString::to_string));
        match (r, self.policy) {
            (Ok(v), _) => Ok(v),
            (Err(e), Policy::Strict) => Err(e),
            (Err(_), Policy::RecordOnly) => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The shared part of every outbound TLS client configuration.
#[derive(Debug, Clone)]
pub struct ClientTls {
    verifier: Arc<WebPkiServerVerifier>,
}

impl ClientTls {
    /// Parses the bundled roots. Call once.
    pub fn new() -> Result<ClientTls, rustls::Error> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        ClientTls::with_roots(roots)
    }

    /// Like [`ClientTls::new`], with `roots` instead of the bundled web roots (a private
    /// certificate authority, e.g. for `import-imap --ca`).
    pub fn with_roots(roots: rustls::RootCertStore) -> Result<ClientTls, rustls::Error> {
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), super::provider())
                .build()
                .map_err(|e| rustls::Error::General(e.to_string()))?;
        Ok(ClientTls { verifier })
    }

    /// A configuration for one connection and the record its handshake will fill in.
    pub fn config(
        &self,
        policy: Policy,
    ) -> Result<(Arc<rustls::ClientConfig>, Arc<Verification>), rustls::Error> {
        let seen = Arc::new(Verification::default());
        let verifier = Arc::new(Recording {
            inner: self.verifier.clone(),
            policy,
            seen: seen.clone(),
        });
        let config = rustls::ClientConfig::builder_with_provider(super::provider())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok((Arc::new(config), seen))
    }
}

//! The answers to pending ACME challenges, shared between the ACME client (which publishes them)
//! and the web server (which serves them).
//!
//! Owns: [`Challenges`] (the registry), [`http01_response`] (RFC 8555 §8.3), the TLS-ALPN-01
//! certificate (RFC 8737 §3) and [`AlpnResolver`], the rustls certificate resolver that answers
//! `acme-tls/1` handshakes from the registry and hands every other handshake to the server's own
//! resolver.
//!
//! Invariants: an entry exists only while its order runs ([`Published`] removes it when
//! dropped); the registry holds at most [`MAX_PENDING`] entries of each kind; an `acme-tls/1`
//! handshake is only ever answered with a challenge certificate (or refused), never with the
//! server's real certificate, and a challenge certificate is never served without `acme-tls/1`
//! (RFC 8737 §3, §4). The HTTP-01 part is `Rc` (executor thread only); the TLS-ALPN part is
//! `Arc<Mutex<…>>` because rustls wants resolvers `Send + Sync`; its lock is held for a map
//! lookup only.

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

/// The ALPN protocol of TLS-ALPN-01 validation (RFC 8737 §6.2).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";
/// The path prefix of HTTP-01 validation (RFC 8555 §8.3).
pub const HTTP01_PREFIX: &str = "/.well-known/acme-challenge/";
/// Most pending entries of each kind.
pub const MAX_PENDING: usize = 256;

type AlpnCerts = Arc<Mutex<HashMap<String, Arc<CertifiedKey>>>>;

/// The challenge answers currently published. Cheap to clone; clones share the entries.
#[derive(Clone, Default)]
pub struct Challenges {
    http: Rc<RefCell<HashMap<String, String>>>,
    alpn: AlpnCerts,
}

impl std::fmt::Debug for Challenges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Challenges")
            .field("http01", &self.http.borrow().len())
            .finish_non_exhaustive()
    }
}

impl Challenges {
    /// An empty registry.
    pub fn new() -> Challenges {
        Challenges::default()
    }

    /// The body to answer `GET /.well-known/acme-challenge/<token>` with (the key
    /// authorization), if that token is pending.
    pub fn http01(&self, token: &str) -> Option<String> {
        self.http.borrow().get(token).cloned()
    }

    /// The certificate for an `acme-tls/1` handshake naming `server_name`, if one is pending.
    pub fn tls_alpn01(&self, server_name: &str) -> Option<Arc<CertifiedKey>> {
        lookup(&self.alpn, server_name)
    }

    /// Publishes an HTTP-01 answer until the returned guard is dropped.
    pub(crate) fn publish_http01(
        &self,
        token: &str,
        key_authorization: String,
    ) -> Option<Published> {
        let mut map = self.http.borrow_mut();
        if map.len() >= MAX_PENDING && !map.contains_key(token) {
            return None;
        }
        map.insert(token.to_string(), key_authorization);
        Some(Published {
            owner: self.clone(),
            key: Entry::Http(token.to_string()),
        })
    }

    /// Publishes a TLS-ALPN-01 certificate for `name` until the returned guard is dropped.
    pub(crate) fn publish_tls_alpn01(
        &self,
        name: &str,
        cert: Arc<CertifiedKey>,
    ) -> Option<Published> {
        let name = name.to_ascii_lowercase();
        let mut map = self.alpn.lock().ok()?;
        if map.len() >= MAX_PENDING && !map.contains_key(&name) {
            return None;
        }
        map.insert(name.clone(), cert);
        Some(Published {
            owner: self.clone(),
            key: Entry::Alpn(name),
        })
    }
}

fn lookup(certs: &AlpnCerts, server_name: &str) -> Option<Arc<CertifiedKey>> {
    let name = server_name.trim_end_matches('.').to_ascii_lowercase();
    certs.lock().ok()?.get(&name).cloned()
}

#[derive(Debug)]
enum Entry {
    Http(String),
    Alpn(String),
}

/// A published challenge answer; dropping it withdraws the answer.
#[derive(Debug)]
pub struct Published {
    owner: Challenges,
    key: Entry,
}

impl Drop for Published {
    fn drop(&mut self) {
        match &self.key {
            Entry::Http(token) => {
                self.owner.http.borrow_mut().remove(token);
            }
            Entry::Alpn(name) => {
                if let Ok(mut map) = self.owner.alpn.lock() {
                    map.remove(name);
                }
            }
        }
    }
}

/// The answer to an HTTP request for `path` (the request target, query excluded by the
/// caller or refused here): the key authorization if `path` is
/// `/.well-known/acme-challenge/<token>` with a pending, base64url, bounded token. The web
/// server sends it as `200 OK` with `Content-Type: application/octet-stream` (RFC 8555 §8.3);
/// `None` means 404.
pub fn http01_response(ch: &Challenges, path: &str) -> Option<String> {
    let token = path.strip_prefix(HTTP01_PREFIX)?;
    if !super::protocol::valid_token(token) {
        return None;
    }
    ch.http01(token)
}

/// The TLS-ALPN-01 certificate for `name` (RFC 8737 §3): self-signed, a fresh P-256 key, the
/// name as its only SAN, and the critical id-pe-acmeIdentifier extension holding the SHA-256
/// digest of the key authorization.
pub fn tls_alpn01_cert(
    name: &str,
    key_authorization: &str,
) -> Result<CertifiedKey, super::AcmeError> {
    let err = |e: String| super::AcmeError::Key(format!("TLS-ALPN-01 certificate: {e}"));
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| err(e.to_string()))?;
    let mut params =
        rcgen::CertificateParams::new(vec![name.to_string()]).map_err(|e| err(e.to_string()))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    let digest = ring::digest::digest(&ring::digest::SHA256, key_authorization.as_bytes());
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest.as_ref())];
    let cert = params.self_signed(&key).map_err(|e| err(e.to_string()))?;
    let der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    // Not `CertifiedKey::from_der`: its consistency check parses the certificate with webpki,
    // which refuses the critical extension it does not know. The pair was made together here.
    let signer = crate::tls::provider()
        .key_provider
        .load_private_key(der)
        .map_err(|e| err(e.to_string()))?;
    Ok(CertifiedKey::new(vec![cert.der().clone()], signer))
}

/// A certificate resolver for the web server's TLS port: a ClientHello offering `acme-tls/1`
/// gets the pending TLS-ALPN-01 certificate for its SNI name (or none: the handshake fails);
/// every other ClientHello goes to `inner`.
pub struct AlpnResolver {
    certs: AlpnCerts,
    inner: Arc<dyn ResolvesServerCert>,
}

impl std::fmt::Debug for AlpnResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlpnResolver")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl AlpnResolver {
    /// Answers `acme-tls/1` from `challenges`, everything else from `inner`.
    pub fn new(challenges: &Challenges, inner: Arc<dyn ResolvesServerCert>) -> AlpnResolver {
        AlpnResolver {
            certs: challenges.alpn.clone(),
            inner,
        }
    }
}

impl ResolvesServerCert for AlpnResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let acme = hello
            .alpn()
            .is_some_and(|mut protocols| protocols.any(|p| p == ACME_TLS_ALPN));
        if acme {
            // RFC 8737 §3: the validation names the domain in SNI.
            return lookup(&self.certs, hello.server_name()?);
        }
        self.inner.resolve(hello)
    }
}

/// `base` made ready for TLS-ALPN-01: its certificate resolver wrapped in an [`AlpnResolver`]
/// and `acme-tls/1` added to its ALPN protocols (after `http/1.1`, which is added if the list
/// is empty). A connection whose negotiated protocol is [`ACME_TLS_ALPN`] must be closed after
/// the handshake without reading a request (RFC 8737 §4).
pub fn with_acme_alpn(
    base: &rustls::ServerConfig,
    challenges: &Challenges,
) -> Arc<rustls::ServerConfig> {
    let mut config = base.clone();
    config.cert_resolver = Arc::new(AlpnResolver::new(challenges, base.cert_resolver.clone()));
    if config.alpn_protocols.is_empty() {
        config.alpn_protocols.push(b"http/1.1".to_vec());
    }
    if !config.alpn_protocols.iter().any(|p| p == ACME_TLS_ALPN) {
        config.alpn_protocols.push(ACME_TLS_ALPN.to_vec());
    }
    Arc::new(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http01_answers_only_pending_well_formed_tokens() {
        let ch = Challenges::new();
        assert_eq!(
            http01_response(&ch, "/.well-known/acme-challenge/abc"),
            None
        );
        let guard = ch.publish_http01("abc_-1", "abc_-1.thumb".into()).unwrap();
        assert_eq!(
            http01_response(&ch, "/.well-known/acme-challenge/abc_-1").as_deref(),
            Some("abc_-1.thumb")
        );
        for bad in [
            "/.well-known/acme-challenge/",
            "/.well-known/acme-challenge/abc_-1/",
            "/.well-known/acme-challenge/abc_-1?x",
            "/.well-known/acme-challenge/../abc_-1",
            "/well-known/acme-challenge/abc_-1",
            "/.well-known/acme-challenge/abc_-1%20",
        ] {
            assert_eq!(http01_response(&ch, bad), None, "{bad}");
        }
        let long = format!("{HTTP01_PREFIX}{}", "a".repeat(300));
        assert_eq!(http01_response(&ch, &long), None);
        let clone = ch.clone();
        drop(guard);
        assert_eq!(
            clone.http01("abc_-1"),
            None,
            "withdrawn when the guard goes"
        );
    }

    #[test]
    fn registry_is_bounded() {
        let ch = Challenges::new();
        let guards: Vec<_> = (0..MAX_PENDING)
            .map(|i| ch.publish_http01(&format!("t{i}"), "x".into()).unwrap())
            .collect();
        assert!(ch.publish_http01("one-more", "x".into()).is_none());
        drop(guards);
        assert!(ch.publish_http01("one-more", "x".into()).is_some());
    }

    #[test]
    fn tls_alpn01_certificate_carries_the_digest_in_a_critical_extension() {
        let cert = tls_alpn01_cert("mail.example.test", "tok.thumb").unwrap();
        let der = cert.cert[0].as_ref();
        let digest = ring::digest::digest(&ring::digest::SHA256, b"tok.thumb");
        // Extension ::= SEQUENCE { extnID 1.3.6.1.5.5.7.1.31, critical TRUE, extnValue OCTET
        // STRING { OCTET STRING (32 bytes) } } (RFC 8737 §3).
        let mut ext = vec![
            0x30, 0x31, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x1f, 0x01, 0x01,
            0xff, 0x04, 0x22, 0x04, 0x20,
        ];
        ext.extend_from_slice(digest.as_ref());
        assert!(
            der.windows(ext.len()).any(|w| w == ext),
            "acmeIdentifier extension"
        );
        assert!(
            der.windows(17).any(|w| w == b"mail.example.test"),
            "the name is in the certificate"
        );
        let ch = Challenges::new();
        let _g = ch
            .publish_tls_alpn01("Mail.Example.Test", Arc::new(cert))
            .unwrap();
        assert!(ch.tls_alpn01("mail.example.test.").is_some());
        assert!(ch.tls_alpn01("other.example.test").is_none());
    }
}

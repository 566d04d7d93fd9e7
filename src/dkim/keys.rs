//! DKIM selector keys: generation, PKCS#8 parsing, signing and the DNS TXT record values.
//!
//! The key files (`<dir>/<selector>.{ed25519,rsa}.pem`, written and loaded at init) are handled
//! by `crate::tls::dkim_keys`, the only place that reads private keys; [`ensure`], [`load`],
//! [`write_pem`] and [`key_path`] are re-exported from there.
//! DNS: a name holds one key record, so the two keys are published (and signed with `s=`) as
//! `<selector>-rsa._domainkey.<domain>` and `<selector>-ed25519._domainkey.<domain>`
//! ([`SelectorKeys::dns_records`]).
//!
//! Invariants:
//! - Ed25519 keys come from ring (`Ed25519KeyPair::generate_pkcs8`, PKCS#8 v2).
//! - ring cannot generate RSA keys, so RustCrypto `rsa` 0.10 (constant-time crypto-bigint, no
//!   OpenSSL, no tokio) generates RSA-2048 once, with randomness from ring's `SystemRandom`. We
//!   write the PKCS#8 DER ourselves (its `encoding` feature cost ~24 KB more); ring parses and
//!   checks it on load. Everything after generation is ring; `rsa` is never used to sign.
//!   Measured cost of the keygen path in the aarch64 release binary: ~170 KiB (text+data).
//!   `openssl genpkey` is not an option: there is no openssl on the Pi image.
//! - Private key bytes never appear in `Debug` output or errors.

use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{self, Ed25519KeyPair, KeyPair, RsaKeyPair};

use super::Error;
use crate::base64;

/// The key files (reading, writing, generating into `DATA/dkim`) live in `crate::tls`, the only
/// module that reads private keys; re-exported here so callers keep one path.
pub use crate::tls::dkim_keys::{ensure, key_path, load, write_pem};

/// RSA modulus size for new keys. RFC 8301 §3.2: at least 1024, SHOULD be at least 2048;
/// 2048 still fits one 255-octet TXT string split in two (the DNS layer splits it).
pub const RSA_BITS: usize = 2048;

/// The DKIM signing algorithms we produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// `ed25519-sha256` (RFC 8463).
    Ed25519,
    /// `rsa-sha256` (RFC 6376 §3.3.1, RFC 8301).
    Rsa,
}

impl KeyAlgorithm {
    /// The `a=` tag value.
    pub fn tag(self) -> &'static str {
        match self {
            KeyAlgorithm::Ed25519 => "ed25519-sha256",
            KeyAlgorithm::Rsa => "rsa-sha256",
        }
    }

    /// The `k=` value of the DNS key record.
    pub fn key_type(self) -> &'static str {
        match self {
            KeyAlgorithm::Ed25519 => "ed25519",
            KeyAlgorithm::Rsa => "rsa",
        }
    }

    /// The file name suffix: `<selector>.<suffix>.pem`.
    pub(crate) fn file_suffix(self) -> &'static str {
        self.key_type()
    }

    /// The `s=` value used for this algorithm's key of `selector`: `<selector>-rsa` or
    /// `<selector>-ed25519`. One DNS name holds one key record (RFC 6376 §3.6.2.1), so the two
    /// keys of a selector are published under two names.
    pub fn dns_selector(self, selector: &str) -> String {
        format!("{selector}-{}", self.key_type())
    }
}

/// A loaded private key for one algorithm.
pub enum DkimKey {
    /// Ed25519 (RFC 8463).
    Ed25519(Ed25519KeyPair),
    /// RSA, at least 2048 bits (ring refuses smaller keys).
    Rsa(RsaKeyPair),
}

impl std::fmt::Debug for DkimKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Public part only.
        f.debug_struct("DkimKey")
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

impl DkimKey {
    /// Parses PKCS#8 DER for `alg`.
    pub fn from_pkcs8(alg: KeyAlgorithm, der: &[u8]) -> Result<Self, String> {
        match alg {
            // Accepts v1 (no public key inside) and v2 documents.
            KeyAlgorithm::Ed25519 => Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                .map(DkimKey::Ed25519)
                .map_err(|e| format!("not an Ed25519 PKCS#8 key: {e}")),
            KeyAlgorithm::Rsa => RsaKeyPair::from_pkcs8(der)
                .map(DkimKey::Rsa)
                .map_err(|e| format!("not an RSA PKCS#8 key ring accepts: {e}")),
        }
    }

    /// Which algorithm this key signs with.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            DkimKey::Ed25519(_) => KeyAlgorithm::Ed25519,
            DkimKey::Rsa(_) => KeyAlgorithm::Rsa,
        }
    }

    /// The `p=` value: base64 of the raw 32-byte public key (RFC 8463 §4) or of the RSA
    /// SubjectPublicKeyInfo DER (what opendkim publishes; RFC 6376 §3.6.1 verifiers accept it).
    pub fn public_key_b64(&self) -> String {
        match self {
            DkimKey::Ed25519(k) => base64::encode(k.public_key().as_ref(), true),
            DkimKey::Rsa(k) => base64::encode(&rsa_spki(k.public_key().as_ref()), true),
        }
    }

    /// The DNS TXT record value for `<selector>._domainkey.<domain>` (RFC 6376 §3.6.1).
    pub fn dns_txt(&self) -> String {
        format!(
            "v=DKIM1; k={}; p={}",
            self.algorithm().key_type(),
            self.public_key_b64()
        )
    }

    /// Signs the canonical data of RFC 6376 §3.7 (headers + the DKIM-Signature with empty b=).
    ///
    /// RSA: RSASSA-PKCS1-v1_5 with SHA-256 over `data`. Ed25519 (RFC 8463 §3): PureEdDSA over
    /// the SHA-256 hash of `data`, not over `data` itself.
    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
        match self {
            DkimKey::Ed25519(k) => {
                let hash = ring::digest::digest(&ring::digest::SHA256, data);
                Ok(k.sign(hash.as_ref()).as_ref().to_vec())
            }
            DkimKey::Rsa(k) => {
                let mut sig = vec![0u8; k.public().modulus_len()];
                k.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    data,
                    &mut sig,
                )
                .map_err(|_| Error::Sign)?;
                Ok(sig)
            }
        }
    }
}

/// AlgorithmIdentifier `{ rsaEncryption (1.2.840.113549.1.1.1), NULL }` (RFC 3279 §2.3.1).
const RSA_ALG_ID: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

/// Wraps a PKCS#1 RSAPublicKey in a SubjectPublicKeyInfo (RFC 5280 §4.1, RFC 3279 §2.3.1):
/// `SEQUENCE { SEQUENCE { rsaEncryption, NULL }, BIT STRING { 0 unused bits, key } }`.
fn rsa_spki(pkcs1: &[u8]) -> Vec<u8> {
    let mut bit_string = vec![0x00];
    bit_string.extend_from_slice(pkcs1);
    let mut inner = RSA_ALG_ID.to_vec();
    der_tlv(0x03, &bit_string, &mut inner);
    let mut out = Vec::with_capacity(inner.len() + 4);
    der_tlv(0x30, &inner, &mut out);
    out
}

fn der_tlv(tag: u8, content: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
}

/// ring's system RNG as a rand_core 0.10 RNG, for `rsa` key generation.
struct RingRng(SystemRandom);

/// The system RNG failed (ring gives no detail).
#[derive(Debug)]
struct RngError;

impl std::fmt::Display for RngError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("system RNG failed")
    }
}

impl std::error::Error for RngError {}

impl From<ring::error::Unspecified> for RngError {
    fn from(_: ring::error::Unspecified) -> Self {
        RngError
    }
}

impl rsa::rand_core::TryRng for RingRng {
    type Error = RngError;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.0.fill(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.0.fill(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        Ok(self.0.fill(dst)?)
    }
}

impl rsa::rand_core::TryCryptoRng for RingRng {}

/// A new Ed25519 key as PKCS#8 v2 DER.
pub fn generate_ed25519() -> Result<Vec<u8>, Error> {
    let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map_err(|_| Error::KeyGen("ed25519: system RNG failed".into()))?;
    Ok(doc.as_ref().to_vec())
}

/// A new RSA key of `bits` bits as PKCS#8 DER. Slow (about a second on a desktop, several on a
/// Pi in release builds): run it off the executor thread.
pub fn generate_rsa(bits: usize) -> Result<Vec<u8>, Error> {
    use rsa::traits::{PrivateKeyParts, PublicKeyParts};
    let key = rsa::PrivateKey::new(&mut RingRng(SystemRandom::new()), bits)
        .map_err(|e| Error::KeyGen(format!("rsa: {e}")))?;
    let [p, q] = key.primes() else {
        return Err(Error::KeyGen("rsa: not a two-prime key".into()));
    };
    let (Some(dp), Some(dq), Some(qinv)) = (key.dp(), key.dq(), key.crt_coefficient()) else {
        return Err(Error::KeyGen("rsa: CRT values missing".into()));
    };
    let ints: [&rsa::BoxedUint; 8] = [key.n(), key.e(), key.d(), p, q, dp, dq, &qinv];
    Ok(rsa_pkcs8(&ints.map(|i| i.to_be_bytes())))
}

/// PKCS#8 PrivateKeyInfo (RFC 5208 §5) around a PKCS#1 RSAPrivateKey (RFC 8017 §A.1.2), from
/// the big-endian n, e, d, p, q, dP, dQ, qInv. Written by hand so that `rsa`'s DER/PKCS#8
/// encoding stack stays out of the binary; ring parses and checks the result on every load.
fn rsa_pkcs8(ints: &[Box<[u8]>; 8]) -> Vec<u8> {
    let mut rsa_key = Vec::with_capacity(1200);
    der_uint(&[0], &mut rsa_key); // version two-prime
    for i in ints {
        der_uint(i, &mut rsa_key);
    }
    let mut rsa_seq = Vec::with_capacity(rsa_key.len() + 4);
    der_tlv(0x30, &rsa_key, &mut rsa_seq);
    let mut info = Vec::with_capacity(rsa_seq.len() + 32);
    der_uint(&[0], &mut info); // PrivateKeyInfo version 0
    info.extend_from_slice(RSA_ALG_ID);
    der_tlv(0x04, &rsa_seq, &mut info);
    let mut out = Vec::with_capacity(info.len() + 4);
    der_tlv(0x30, &info, &mut out);
    out
}

/// A DER INTEGER from unsigned big-endian bytes: minimal, with a 0x00 if the top bit is set.
fn der_uint(be: &[u8], out: &mut Vec<u8>) {
    let skip = be.iter().take_while(|&&b| b == 0).count();
    let v = &be[skip..];
    let mut content = Vec::with_capacity(v.len() + 1);
    if v.first().is_none_or(|&b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(v);
    der_tlv(0x02, &content, out);
}

/// Both keys of one selector, Ed25519 and RSA.
#[derive(Debug)]
pub struct SelectorKeys {
    /// The Ed25519 key.
    pub ed25519: std::sync::Arc<DkimKey>,
    /// The RSA key.
    pub rsa: std::sync::Arc<DkimKey>,
}

impl SelectorKeys {
    /// The two DNS TXT records to publish for `selector` in `domain`, RSA first:
    /// `(owner name, TXT value)`, e.g. `("s-rsa._domainkey.example.org", "v=DKIM1; k=rsa; p=…")`.
    pub fn dns_records(&self, selector: &str, domain: &str) -> [(String, String); 2] {
        [&self.rsa, &self.ed25519].map(|k| {
            let name = k.algorithm().dns_selector(selector);
            (format!("{name}._domainkey.{domain}"), k.dns_txt())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_integers_are_minimal_and_positive() {
        let enc = |b: &[u8]| {
            let mut o = Vec::new();
            der_uint(b, &mut o);
            o
        };
        assert_eq!(enc(&[]), [0x02, 1, 0]);
        assert_eq!(enc(&[0, 0]), [0x02, 1, 0]);
        assert_eq!(enc(&[0, 0x7f]), [0x02, 1, 0x7f]);
        assert_eq!(enc(&[0, 0x80]), [0x02, 2, 0, 0x80]);
        assert_eq!(enc(&[1, 0, 1]), [0x02, 3, 1, 0, 1]);
    }

    #[test]
    fn der_lengths() {
        let mut out = Vec::new();
        der_tlv(0x04, &[0u8; 5], &mut out);
        assert_eq!(&out[..2], &[0x04, 5]);
        out.clear();
        der_tlv(0x04, &[0u8; 0x80], &mut out);
        assert_eq!(&out[..3], &[0x04, 0x81, 0x80]);
        out.clear();
        der_tlv(0x04, &[0u8; 0x10e], &mut out);
        assert_eq!(&out[..4], &[0x04, 0x82, 0x01, 0x0e]);
    }

    #[test]
    fn ed25519_txt_is_raw_32_bytes() {
        let der = generate_ed25519().unwrap();
        let k = DkimKey::from_pkcs8(KeyAlgorithm::Ed25519, &der).unwrap();
        let txt = k.dns_txt();
        let p = txt.strip_prefix("v=DKIM1; k=ed25519; p=").unwrap();
        assert_eq!(base64::decode(p.as_bytes(), 64).unwrap().len(), 32);
        assert!(format!("{k:?}").contains("Ed25519"));
    }
}

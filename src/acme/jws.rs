//! The ACME account key and the JSON Web Signatures made with it (RFC 7515, RFC 8555 §6.2).
//!
//! Owns: the account key (ECDSA P-256, ring, kept as PKCS#8), its JWK (RFC 7517 §4, RFC 7518
//! §6.2.1) and JWK thumbprint (RFC 7638), key authorizations (RFC 8555 §8.1), and the flattened
//! JWS JSON serialization of every request body (RFC 7515 §7.2.2).
//!
//! Invariants: pure (no I/O, no clock); the signature is ES256 in its fixed-length `r || s` form
//! (RFC 7518 §3.4), never DER; the protected header carries `alg`, `nonce`, `url` and exactly one
//! of `jwk` (newAccount only) or `kid` (everything else), as RFC 8555 §6.2 requires.

use super::AcmeError;
use crate::base64::encode_url;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

/// How the protected header names the account key (RFC 8555 §6.2).
#[derive(Debug, Clone, Copy)]
pub enum Signer<'a> {
    /// The whole public key: only for newAccount (and revocation by certificate key).
    Jwk,
    /// The account URL returned by newAccount.
    Kid(&'a str),
}

/// An ACME account key (ECDSA P-256).
pub struct AccountKey {
    pair: EcdsaKeyPair,
    pkcs8: Vec<u8>,
    rng: SystemRandom,
}

impl std::fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountKey")
            .field("thumbprint", &self.thumbprint())
            .finish_non_exhaustive()
    }
}

impl AccountKey {
    /// A new random key.
    pub fn generate() -> Result<AccountKey, AcmeError> {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| AcmeError::Key("generating the account key failed".into()))?;
        AccountKey::from_pkcs8(doc.as_ref())
    }

    /// The key stored as PKCS#8 (v1 or v2, as ring writes it).
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<AccountKey, AcmeError> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng)
            .map_err(|e| AcmeError::Key(format!("stored account key unusable: {e}")))?;
        Ok(AccountKey {
            pair,
            pkcs8: pkcs8.to_vec(),
            rng,
        })
    }

    /// The PKCS#8 document, for the store.
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public key's `x` and `y` coordinates, base64url.
    fn coordinates(&self) -> (String, String) {
        // An uncompressed P-256 point: 0x04 || x (32 bytes) || y (32 bytes).
        let point = self.pair.public_key().as_ref();
        (encode_url(&point[1..33]), encode_url(&point[33..65]))
    }

    /// The public JWK (RFC 7518 §6.2.1).
    pub fn jwk(&self) -> Value {
        let (x, y) = self.coordinates();
        json!({"crv": "P-256", "kty": "EC", "x": x, "y": y})
    }

    /// The JWK thumbprint (RFC 7638 §3), base64url.
    pub fn thumbprint(&self) -> String {
        let (x, y) = self.coordinates();
        thumbprint(&[("crv", "P-256"), ("kty", "EC"), ("x", &x), ("y", &y)])
    }

    /// The key authorization for a challenge token (RFC 8555 §8.1).
    pub fn key_authorization(&self, token: &str) -> String {
        key_authorization(token, &self.thumbprint())
    }

    /// A request body: the flattened JWS of `payload` (`None`: the empty payload of a
    /// POST-as-GET, RFC 8555 §6.3) for `url`, with a fresh `nonce`.
    pub fn sign(
        &self,
        signer: Signer<'_>,
        nonce: &str,
        url: &str,
        payload: Option<&Value>,
    ) -> Result<Vec<u8>, AcmeError> {
        let mut protected = json!({"alg": "ES256", "nonce": nonce, "url": url});
        match signer {
            Signer::Jwk => protected["jwk"] = self.jwk(),
            Signer::Kid(kid) => protected["kid"] = Value::from(kid),
        }
        let protected = encode_url(protected.to_string().as_bytes());
        let payload = match payload {
            Some(p) => encode_url(p.to_string().as_bytes()),
            None => String::new(),
        };
        // RFC 7515 §5.1: the signing input is ASCII(protected || '.' || payload).
        let input = format!("{protected}.{payload}");
        let sig = self
            .pair
            .sign(&self.rng, input.as_bytes())
            .map_err(|_| AcmeError::Key("signing failed".into()))?;
        let body = json!({
            "protected": protected,
            "payload": payload,
            "signature": encode_url(sig.as_ref()),
        });
        Ok(body.to_string().into_bytes())
    }
}

/// The RFC 7638 thumbprint of a JWK given its required members: SHA-256 over the members sorted
/// by name, as JSON without whitespace (§3.2), base64url.
pub fn thumbprint(members: &[(&str, &str)]) -> String {
    let mut sorted = members.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let body: Vec<String> = sorted
        .iter()
        .map(|(k, v)| format!("{}:{}", Value::from(*k), Value::from(*v)))
        .collect();
    let canonical = format!("{{{}}}", body.join(","));
    encode_url(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()).as_ref())
}

/// RFC 8555 §8.1: `keyAuthorization = token || '.' || base64url(Thumbprint(accountKey))`.
pub fn key_authorization(token: &str, thumbprint: &str) -> String {
    format!("{token}.{thumbprint}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

    #[test]
    fn rfc7638_example_thumbprint() {
        // RFC 7638 §3.1: the RSA key of RFC 7517 appendix A.1 and its thumbprint.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let t = thumbprint(&[("e", "AQAB"), ("kty", "RSA"), ("n", n)]);
        assert_eq!(t, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
        // Member order in the input does not matter.
        assert_eq!(thumbprint(&[("n", n), ("kty", "RSA"), ("e", "AQAB")]), t);
    }

    #[test]
    fn key_authorization_is_token_dot_thumbprint() {
        let key = AccountKey::generate().unwrap();
        let ka = key.key_authorization("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA");
        let (token, thumb) = ka.split_once('.').unwrap();
        assert_eq!(token, "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA");
        assert_eq!(thumb, key.thumbprint());
        // SHA-256 in unpadded base64url: 43 characters of the URL-safe alphabet.
        assert_eq!(thumb.len(), 43);
        assert!(crate::base64::is_url_safe(thumb));
        assert_eq!(
            key_authorization("tok", "thumb"),
            "tok.thumb",
            "RFC 8555 §8.1 format"
        );
    }

    #[test]
    fn jws_verifies_and_names_the_key_as_asked() {
        let key = AccountKey::generate().unwrap();
        let again = AccountKey::from_pkcs8(key.pkcs8()).unwrap();
        assert_eq!(again.thumbprint(), key.thumbprint());
        let payload = json!({"termsOfServiceAgreed": true});
        for (signer, payload) in [
            (Signer::Jwk, Some(&payload)),
            (Signer::Kid("https://ca.test/acct/1"), None),
        ] {
            let body = key
                .sign(signer, "nonce-1", "https://ca.test/new", payload)
                .unwrap();
            let v: Value = serde_json::from_slice(&body).unwrap();
            let (p, pl, sig) = (
                v["protected"].as_str().unwrap(),
                v["payload"].as_str().unwrap(),
                v["signature"].as_str().unwrap(),
            );
            let header: Value = serde_json::from_slice(&b64url_decode(p)).unwrap();
            assert_eq!(header["alg"], "ES256");
            assert_eq!(header["nonce"], "nonce-1");
            assert_eq!(header["url"], "https://ca.test/new");
            match signer {
                Signer::Jwk => {
                    assert_eq!(header["jwk"], key.jwk());
                    assert!(header.get("kid").is_none());
                    assert_eq!(
                        serde_json::from_slice::<Value>(&b64url_decode(pl)).unwrap(),
                        payload.cloned().unwrap()
                    );
                }
                Signer::Kid(kid) => {
                    assert_eq!(header["kid"], kid);
                    assert!(header.get("jwk").is_none());
                    assert_eq!(pl, "", "POST-as-GET has an empty payload (RFC 8555 §6.3)");
                }
            }
            let sig = b64url_decode(sig);
            assert_eq!(sig.len(), 64, "ES256 is r || s (RFC 7518 §3.4)");
            let public = UnparsedPublicKey::new(
                &ECDSA_P256_SHA256_FIXED,
                key.pair.public_key().as_ref().to_vec(),
            );
            public
                .verify(format!("{p}.{pl}").as_bytes(), &sig)
                .expect("the signature verifies");
        }
    }

    /// Test-only base64url decoding through the standard decoder.
    fn b64url_decode(s: &str) -> Vec<u8> {
        let mut std: String = s
            .chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '/',
                c => c,
            })
            .collect();
        while !std.len().is_multiple_of(4) {
            std.push('=');
        }
        crate::base64::decode(std.as_bytes(), 1 << 16).unwrap()
    }
}

//! DKIM (RFC 6376) with our own code on ring: signing outbound mail (relaxed/relaxed, the
//! `DKIM-Signature:` header field, the selector keys with their DNS TXT records) and verifying
//! the signatures of inbound mail on the MX role.
//!
//! Owns: `canon` (RFC 6376 §3.4: simple and relaxed, header fields and body, streaming for the
//! body, `l=` limits), `sign` (RFC 6376 §3.5/§3.7, `rsa-sha256` and RFC 8463 `ed25519-sha256`),
//! `keys` (generation, PKCS#8 parsing, DNS TXT values; the PEM files are read and written by
//! `crate::tls::dkim_keys`, re-exported in `keys`), `verify` (RFC 6376 §6: `DKIM-Signature`
//! and key record parsing, the header and body hashes, key lookup through
//! [`crate::dns::Resolver`], RFC 8601 result keywords; `rsa-sha256` with 1024–4096-bit keys
//! and `ed25519-sha256`), `arc` (RFC 8617 §5.2: ARC chain validation, built on `verify`'s
//! parsing, hashing and key checks). mail-auth cannot be used here (TOOLCHAIN.md §6).
//!
//! Invariants:
//! - No file I/O (key files are `crate::tls`'s), sockets or clocks. Signing is pure; the caller
//!   passes the signature time (`t=`), so signing is deterministic for Ed25519. Verification's
//!   only async step is the key lookup through the caller's resolver, and the caller passes
//!   "now" for `x=`.
//! - RSA signing is CPU-heavy (milliseconds on a Pi): callers run it on the worker pool
//!   (DESIGN.md "Runtime model"), never on the executor thread.
//! - The body is never held whole: it is fed in pieces to [`canon::BodyHasher`] (signing) or
//!   [`canon::CanonBodyHasher`] (verification, one per distinct canonicalization and `l=`),
//!   whose state is a few flags, a pending-empty-line counter and a small output buffer.
//! - Verification never panics on message or DNS input and its allocations are bounded (see
//!   [`verify`]); at most [`verify::DEFAULT_MAX_SIGNATURES`] signatures per message are checked.
//! - Signing is used by submission (`conn::smtp`) for every submitted message; verification
//!   (DKIM and ARC) by the MX role's sender checks (`delivery::sender_auth`).

pub mod arc;
pub mod canon;
pub mod keys;
pub mod sign;
pub mod verify;

pub use canon::BodyHasher;
pub use keys::{DkimKey, KeyAlgorithm, SelectorKeys};
pub use sign::{Signer, sign_message};
pub use verify::{DkimResult, DkimVerifier, PendingSignature, SignatureResult};

/// Errors of DKIM key handling and signing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a key file, or reading the body stream, failed.
    #[error("dkim I/O on {path}: {source}")]
    Io {
        /// The file (or "body") the operation was about.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A key file is not PEM `PRIVATE KEY` (PKCS#8) that ring accepts for the algorithm.
    #[error("dkim key {path}: {reason}")]
    BadKey {
        /// The key file.
        path: String,
        /// What was wrong with it.
        reason: String,
    },
    /// Key generation failed.
    #[error("dkim key generation: {0}")]
    KeyGen(String),
    /// `d=` or `s=` is not a plain DNS name (this also keeps header injection out).
    #[error("dkim {tag}= value {value:?} is not a valid DNS name")]
    BadName {
        /// "d" or "s".
        tag: &'static str,
        /// The refused value (truncated).
        value: String,
    },
    /// The message header has no From field (RFC 6376 §5.4: From must be signed).
    #[error("message has no From header field")]
    NoFrom,
    /// ring refused to sign.
    #[error("dkim signing failed")]
    Sign,
}

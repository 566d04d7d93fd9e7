//! SASL client responses for the PLAIN (RFC 4616) and LOGIN mechanisms, shared by IMAP
//! AUTHENTICATE, POP3 AUTH and SMTP AUTH.
//!
//! Pure functions: base64 text in, identities and a [`Secret`] password out. The caller strips
//! the line ending and handles the protocol's framing (continuations, the empty initial response
//! `=` of RFC 4954 §4); the decoded message is bounded by [`MAX_RESPONSE_BYTES`] before anything
//! is allocated. Errors carry no part of the input, so they can be logged as they are.

use super::Secret;
use crate::base64::{self, Base64Error};

/// Longest decoded response accepted. RFC 4616 §2 asks servers to accept at least 255 octets
/// for each of authzid, authcid and password; this leaves room for a 1024-byte password.
pub const MAX_RESPONSE_BYTES: usize = 2048;

/// LOGIN's first challenge, base64 of `Username:` (draft-murchison-sasl-login-00 §2).
pub const LOGIN_USERNAME_CHALLENGE: &str = "VXNlcm5hbWU6";
/// LOGIN's second challenge, base64 of `Password:`.
pub const LOGIN_PASSWORD_CHALLENGE: &str = "UGFzc3dvcmQ6";

/// Why a SASL response was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    /// The client sent `*` (RFC 4954 §4, RFC 9051 §6.2.2, RFC 5034 §4).
    #[error("authentication cancelled by the client")]
    Cancelled,
    /// The decoded response would exceed [`MAX_RESPONSE_BYTES`].
    #[error("SASL response too long")]
    TooLong,
    /// Not canonical base64 (RFC 4648 §4).
    #[error("SASL response is not valid base64")]
    Base64,
    /// Wrong number of fields or an empty identity or password.
    #[error("malformed SASL response")]
    Malformed,
    /// A field is not UTF-8 (RFC 4616 §2).
    #[error("SASL response is not UTF-8")]
    Utf8,
    /// An authorization identity other than the authentication identity (no proxy logins).
    #[error("authorization identity differs from the authentication identity")]
    AuthzidMismatch,
}

/// A client's response: `*` cancels, anything else is base64 of at most [`MAX_RESPONSE_BYTES`].
fn response(b64: &[u8]) -> Result<Secret<Vec<u8>>, SaslError> {
    if b64 == b"*" {
        return Err(SaslError::Cancelled);
    }
    base64::decode(b64, MAX_RESPONSE_BYTES)
        .map(Secret::new)
        .map_err(|e| match e {
            Base64Error::TooLong => SaslError::TooLong,
            Base64Error::Invalid => SaslError::Base64,
        })
}

fn utf8(bytes: &[u8]) -> Result<String, SaslError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| SaslError::Utf8)
}

/// Decodes a PLAIN response into `(authzid, authcid, password)`. `authzid` is empty or names the
/// same account as `authcid` (compared ASCII-case-insensitively, as logins are).
pub fn decode_plain(b64: &[u8]) -> Result<(String, String, Secret<String>), SaslError> {
    let message = response(b64)?;
    // RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd
    let mut fields = message.expose().splitn(3, |&b| b == 0);
    let (Some(authzid), Some(authcid), Some(passwd)) =
        (fields.next(), fields.next(), fields.next())
    else {
        return Err(SaslError::Malformed);
    };
    // RFC 4616 §2: authcid and passwd are 1*SAFE, and SAFE excludes NUL.
    if authcid.is_empty() || passwd.is_empty() || passwd.contains(&0) {
        return Err(SaslError::Malformed);
    }
    let (authzid, authcid) = (utf8(authzid)?, utf8(authcid)?);
    let password = Secret::new(utf8(passwd)?);
    // RFC 4616 §2: the server decides whether authcid may act as authzid; we allow only itself.
    if !authzid.is_empty() && !authzid.eq_ignore_ascii_case(&authcid) {
        return Err(SaslError::AuthzidMismatch);
    }
    Ok((authzid, authcid, password))
}

fn login_field(b64: &[u8]) -> Result<Secret<String>, SaslError> {
    let field = response(b64)?;
    if field.expose().is_empty() || field.expose().contains(&0) {
        return Err(SaslError::Malformed);
    }
    utf8(field.expose()).map(Secret::new)
}

/// Decodes the answer to [`LOGIN_USERNAME_CHALLENGE`] (also LOGIN's initial response).
pub fn decode_login_username(b64: &[u8]) -> Result<String, SaslError> {
    login_field(b64).map(Secret::into_inner)
}

/// Decodes the answer to [`LOGIN_PASSWORD_CHALLENGE`].
pub fn decode_login_password(b64: &[u8]) -> Result<Secret<String>, SaslError> {
    login_field(b64)
}

/// Base64 of `data` (RFC 4648 §4, padded): for challenges and for tests that play the client.
pub fn encode_base64(data: &[u8]) -> String {
    base64::encode(data, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4616_examples() {
        // RFC 4616 §4, first example: no authzid.
        let (z, c, p) = decode_plain(b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm").unwrap();
        assert_eq!((z.as_str(), c.as_str()), ("", "tim"));
        assert_eq!(p.expose(), "tanstaaftanstaaf");
        // RFC 4616 §4, second example: Kurt asks to act as Ursel, which we refuse.
        assert_eq!(
            decode_plain(b"VXJzZWwAS3VydAB4aXBqM3BsbXE=").unwrap_err(),
            SaslError::AuthzidMismatch
        );
    }

    #[test]
    fn login_challenges_are_the_prompts() {
        assert_eq!(encode_base64(b"Username:"), LOGIN_USERNAME_CHALLENGE);
        assert_eq!(encode_base64(b"Password:"), LOGIN_PASSWORD_CHALLENGE);
    }
}

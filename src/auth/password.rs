//! Passwords: argon2id hashing and verification (RFC 9106), and the password policy.
//!
//! Hashing and verifying are blocking and cost `auth.argon2_memory_kib` of memory each: callers
//! run them off the executor thread ([`super::Authenticator`] does, behind a semaphore). The PHC
//! string stores its own parameters, so changing the settings affects new hashes only. Passwords
//! are never logged or stored in clear.

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

/// Why a password cannot be set.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Too short or too long.
    #[error("password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_BYTES} characters long")]
    Length,
    /// Contains a control character (line breaks would break SASL and the control socket).
    #[error("password must not contain control characters")]
    Control,
    /// The hasher failed (bad parameters).
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Checks the password policy.
pub fn check_policy(password: &str) -> Result<(), PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::Length);
    }
    if password.chars().any(char::is_control) {
        return Err(PasswordError::Control);
    }
    Ok(())
}

/// Hashes `password` with argon2id (`memory_kib`, `iterations`, one lane) and a random salt.
/// Blocking: never call it on the executor thread.
pub fn hash_password(
    password: &str,
    memory_kib: u32,
    iterations: u32,
) -> Result<String, PasswordError> {
    check_policy(password)?;
    let params = Params::new(memory_kib, iterations, 1, None)
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    hasher
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches the PHC string `phc` (constant-time comparison inside argon2).
/// Blocking: never call it on the executor thread.
pub fn verify_password(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_verifies_with_argon2id() {
        let h = hash_password("correct horse", 1024, 1).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse!", &h));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn enforces_policy() {
        assert!(matches!(check_policy("short"), Err(PasswordError::Length)));
        assert!(matches!(
            check_policy("has\nnewline"),
            Err(PasswordError::Control)
        ));
        assert!(check_policy("benchpass").is_ok());
    }
}

//! Two-step login (RFC 6238 TOTP) for the web page: a user may turn it on from their page by
//! scanning a QR code into an authenticator app and confirming one code; from then on a login
//! on the web page asks for a code after the password. An administrator can turn it off for a
//! user who lost their phone. Mail programs (IMAP, POP3, submission) keep using the password
//! alone: they cannot ask for a code.
//!
//! Invariants: the secret is kept in the store (`STATE` key `totp.<address>`), never shown
//! again after enrolment and never logged; a code is accepted once (the last step used per user
//! is remembered, so a code seen over someone's shoulder cannot be replayed in its window);
//! after [`MAX_CODE_FAILURES`] wrong codes the half-done login is ended.

use super::Web;
use crate::auth::totp;
use crate::store::Op;

/// Wrong codes a half-done login may enter before it is ended.
pub const MAX_CODE_FAILURES: u32 = 5;

fn key(email: &str) -> String {
    format!("totp.{email}")
}

/// The user's TOTP secret, if two-step login is on.
pub async fn secret(web: &Web, email: &str) -> Option<Vec<u8>> {
    let (store, key) = (web.store.clone(), key(email));
    blocking::unblock(move || store.state(&key).ok().flatten())
        .await
        .filter(|s| !s.is_empty())
}

/// Turns two-step login on with `secret`, or off with `None`.
pub async fn set(web: &Web, email: &str, secret: Option<Vec<u8>>) -> crate::store::Result<()> {
    web.store
        .call(Op::SetState {
            key: key(email),
            value: secret,
        })
        .await?;
    Ok(())
}

/// Whether `code` is valid for `secret` now and not used before by `email`; records its use.
pub fn accept(web: &Web, email: &str, secret: &[u8], code: &str) -> bool {
    let now = crate::time::unix_now();
    let last = web.totp_steps.borrow().get(email).copied();
    match totp::verify(secret, code, now, last) {
        Some(step) => {
            web.totp_steps.borrow_mut().insert(email.to_string(), step);
            true
        }
        None => false,
    }
}

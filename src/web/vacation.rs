//! The vacation (out-of-office) reply each user sets on their page. Kept now in the store
//! (`STATE` key `vacation.<address>`: JSON `{"on", "subject", "body"}`); sending the replies
//! (RFC 3834, once per sender per period, never to lists or automatic mail) belongs to the
//! filtering work that comes with Sieve.
//!
//! Invariants: the subject is at most [`MAX_SUBJECT`] characters on one line and the body at
//! most [`MAX_BODY`] bytes; a value that cannot be read counts as "off".

use super::Web;
use crate::store::Op;

/// Longest subject, characters.
pub const MAX_SUBJECT: usize = 200;
/// Longest body, bytes.
pub const MAX_BODY: usize = 4000;

/// A user's vacation reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vacation {
    /// Whether replies are to be sent.
    pub on: bool,
    /// Subject of the reply.
    pub subject: String,
    /// Text of the reply.
    pub body: String,
}

fn key(email: &str) -> String {
    format!("vacation.{email}")
}

/// The stored reply of `email` (off and empty when none).
pub async fn get(web: &Web, email: &str) -> Vacation {
    let (store, key) = (web.store.clone(), key(email));
    let raw = blocking::unblock(move || store.state(&key).ok().flatten()).await;
    raw.and_then(|r| serde_json::from_slice::<serde_json::Value>(&r).ok())
        .map(|v| Vacation {
            on: v["on"].as_bool().unwrap_or(false),
            subject: v["subject"].as_str().unwrap_or("").to_string(),
            body: v["body"].as_str().unwrap_or("").to_string(),
        })
        .unwrap_or_default()
}

/// Checks and stores `v` for `email`.
pub async fn set(web: &Web, email: &str, v: &Vacation) -> Result<(), String> {
    if v.subject.chars().count() > MAX_SUBJECT || v.subject.contains(['\r', '\n']) {
        return Err(format!(
            "The subject must be one line of at most {MAX_SUBJECT} characters."
        ));
    }
    if v.body.len() > MAX_BODY {
        return Err(format!("The message must be at most {MAX_BODY} bytes."));
    }
    if v.on && v.body.trim().is_empty() {
        return Err("Write the reply before turning it on.".into());
    }
    let value = serde_json::json!({"on": v.on, "subject": v.subject, "body": v.body}).to_string();
    web.store
        .call(Op::SetState {
            key: key(email),
            value: Some(value.into_bytes()),
        })
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

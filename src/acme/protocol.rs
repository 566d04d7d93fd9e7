//! RFC 8555 messages and the decisions taken on them, without I/O: what the server's JSON means
//! (directory, account, order, authorization, challenge, problem document), what to send, and
//! what to do next given the last response.
//!
//! Invariants: pure (no sockets, no clock, no store); every response is judged by its status
//! and parsed from a body already bounded by the HTTP layer; a token or URL from the server is
//! checked before it is used (tokens are base64url, RFC 8555 §8.1; URLs are parsed again by the
//! HTTP layer, which accepts `https://` only); polling delays are clamped to [`MIN_POLL`] ..
//! [`MAX_POLL`] whatever `Retry-After` says.

use super::AcmeError;
use super::http::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// RFC 8555 §6.7 error type of a rejected nonce.
pub const BAD_NONCE: &str = "urn:ietf:params:acme:error:badNonce";
/// RFC 8555 §6.7: the `kid` names no account the server knows.
pub const ACCOUNT_DOES_NOT_EXIST: &str = "urn:ietf:params:acme:error:accountDoesNotExist";
/// Longest challenge token accepted (RFC 8555 §8.1 wants at least 128 bits, i.e. 22 characters).
pub const MAX_TOKEN_BYTES: usize = 256;
/// Most authorizations (names) in one order.
pub const MAX_AUTHORIZATIONS: usize = 100;
/// Shortest wait between two polls.
pub const MIN_POLL: Duration = Duration::from_millis(500);
/// Longest wait between two polls, even if `Retry-After` asks for more.
pub const MAX_POLL: Duration = Duration::from_secs(60);

/// The directory (RFC 8555 §7.1.1).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Directory {
    /// newNonce URL.
    pub new_nonce: String,
    /// newAccount URL.
    pub new_account: String,
    /// newOrder URL.
    pub new_order: String,
    /// Optional metadata.
    #[serde(default)]
    pub meta: Option<DirectoryMeta>,
}

/// Directory metadata (RFC 8555 §7.1.1).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryMeta {
    /// Terms of service the account agrees to.
    #[serde(default)]
    pub terms_of_service: Option<String>,
    /// The CA requires external account binding (not supported here).
    #[serde(default)]
    pub external_account_required: bool,
}

/// Status of an ACME object (RFC 8555 §7.1.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// pending
    Pending,
    /// ready (orders)
    Ready,
    /// processing
    Processing,
    /// valid
    Valid,
    /// invalid
    Invalid,
    /// deactivated
    Deactivated,
    /// expired
    Expired,
    /// revoked
    Revoked,
    /// Anything else.
    #[serde(other)]
    Unknown,
}

impl Status {
    /// The RFC 8555 spelling.
    pub fn name(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Ready => "ready",
            Status::Processing => "processing",
            Status::Valid => "valid",
            Status::Invalid => "invalid",
            Status::Deactivated => "deactivated",
            Status::Expired => "expired",
            Status::Revoked => "revoked",
            Status::Unknown => "unknown",
        }
    }
}

/// A problem document (RFC 7807, RFC 8555 §6.7).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Problem {
    /// The error type URN.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Human-readable detail.
    #[serde(default)]
    pub detail: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = self
            .kind
            .strip_prefix("urn:ietf:params:acme:error:")
            .unwrap_or(&self.kind);
        // The detail comes from the server: shown bounded and without control characters.
        let detail: String = self
            .detail
            .chars()
            .filter(|c| !c.is_control())
            .take(300)
            .collect();
        write!(f, "{kind}: {detail}")
    }
}

/// An identifier (RFC 8555 §9.7.7: only `dns` here).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Identifier {
    /// `dns`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The name.
    pub value: String,
}

/// An order (RFC 8555 §7.1.3).
#[derive(Debug, Clone, Deserialize)]
pub struct Order {
    /// Its status.
    pub status: Status,
    /// Authorization URLs.
    #[serde(default)]
    pub authorizations: Vec<String>,
    /// Finalize URL.
    pub finalize: String,
    /// Certificate URL, once valid.
    #[serde(default)]
    pub certificate: Option<String>,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<Problem>,
}

/// An authorization (RFC 8555 §7.1.4).
#[derive(Debug, Clone, Deserialize)]
pub struct Authorization {
    /// Its status.
    pub status: Status,
    /// The name.
    pub identifier: Identifier,
    /// The ways to prove control.
    #[serde(default)]
    pub challenges: Vec<Challenge>,
}

/// A challenge (RFC 8555 §8).
#[derive(Debug, Clone, Deserialize)]
pub struct Challenge {
    /// `http-01`, `tls-alpn-01`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Where to say "ready".
    pub url: String,
    /// Its status.
    pub status: Status,
    /// The token (for the types used here).
    #[serde(default)]
    pub token: Option<String>,
    /// Why validation failed.
    #[serde(default)]
    pub error: Option<Problem>,
}

/// Parses a JSON body.
pub fn parse<T: for<'de> Deserialize<'de>>(resp: &Response, what: &str) -> Result<T, AcmeError> {
    serde_json::from_slice(&resp.body)
        .map_err(|e| AcmeError::Protocol(format!("{what}: unreadable JSON ({e})")))
}

/// The problem document of an error response (a bare status if the body is not one).
pub fn problem(resp: &Response) -> Problem {
    serde_json::from_slice(&resp.body).unwrap_or_else(|_| Problem {
        kind: String::new(),
        detail: format!("HTTP status {}", resp.status),
    })
}

/// The server's next nonce, if it sent a well-formed one (RFC 8555 §6.5.1: base64url).
pub fn replay_nonce(resp: &Response) -> Option<String> {
    resp.header("replay-nonce")
        .filter(|n| !n.is_empty() && n.len() <= 256 && crate::base64::is_url_safe(n))
        .map(str::to_string)
}

/// The `Location` of a created object.
pub fn location(resp: &Response, what: &str) -> Result<String, AcmeError> {
    resp.header("location")
        .filter(|l| l.len() <= super::http::MAX_URL_BYTES)
        .map(str::to_string)
        .ok_or_else(|| AcmeError::Protocol(format!("{what}: no Location")))
}

/// How long to wait before polling again: `Retry-After` in seconds if the server sent it
/// (RFC 8555 §7.5.1, §7.4), else `fallback`, clamped to [`MIN_POLL`] .. [`MAX_POLL`].
/// An HTTP-date `Retry-After` is not parsed; the fallback applies.
pub fn poll_delay(resp: &Response, fallback: Duration) -> Duration {
    resp.header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(fallback)
        .clamp(MIN_POLL, MAX_POLL)
}

/// newAccount payload (RFC 8555 §7.3).
pub fn new_account_payload(email: &str) -> Value {
    if email.is_empty() {
        json!({"termsOfServiceAgreed": true})
    } else {
        json!({"termsOfServiceAgreed": true, "contact": [format!("mailto:{email}")]})
    }
}

/// newOrder payload (RFC 8555 §7.4).
pub fn new_order_payload(names: &[String]) -> Value {
    let ids: Vec<Value> = names
        .iter()
        .map(|n| json!({"type": "dns", "value": n}))
        .collect();
    json!({ "identifiers": ids })
}

/// finalize payload (RFC 8555 §7.4): the DER CSR in base64url.
pub fn finalize_payload(csr_der: &[u8]) -> Value {
    json!({ "csr": crate::base64::encode_url(csr_der) })
}

/// What to do with an order next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderStep {
    /// Its authorizations need answers (status `pending`).
    Authorize,
    /// Send the CSR (status `ready`).
    Finalize,
    /// The CA is issuing; poll again (status `processing`).
    Wait,
    /// Issued: fetch the chain from this URL.
    Download(String),
    /// It failed.
    Failed(String),
}

/// RFC 8555 §7.1.6 order status transitions, from the client's side.
pub fn order_step(order: &Order) -> OrderStep {
    match order.status {
        Status::Pending => OrderStep::Authorize,
        Status::Ready => OrderStep::Finalize,
        Status::Processing => OrderStep::Wait,
        Status::Valid => match &order.certificate {
            Some(url) => OrderStep::Download(url.clone()),
            None => OrderStep::Failed("order valid without a certificate URL".into()),
        },
        other => OrderStep::Failed(match &order.error {
            Some(p) => format!("order is {}: {p}", other.name()),
            None => format!("order is {}", other.name()),
        }),
    }
}

/// What to do with an authorization next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthzStep {
    /// Valid already (e.g. reused from an earlier order).
    Done,
    /// Answer this challenge: publish the key authorization for its token, then POST `{}` to
    /// its URL (RFC 8555 §7.5.1).
    Respond {
        /// The challenge URL.
        url: String,
        /// Its token (checked: base64url, bounded).
        token: String,
    },
    /// Validation is under way; poll again.
    Wait,
    /// It failed.
    Failed(String),
}

/// Decides what to do with `authz` for challenge type `kind`; `responded` says whether we
/// already answered its challenge.
pub fn authz_step(authz: &Authorization, kind: &str, responded: bool) -> AuthzStep {
    let name = &authz.identifier.value;
    let chosen = authz.challenges.iter().find(|c| c.kind == kind);
    match authz.status {
        Status::Valid => return AuthzStep::Done,
        Status::Pending => {}
        other => {
            // The challenge that failed says why (RFC 8555 §7.1.5 `error`).
            let failed = chosen
                .filter(|c| c.error.is_some())
                .or_else(|| authz.challenges.iter().find(|c| c.error.is_some()));
            return AuthzStep::Failed(match failed {
                Some(c) => format!(
                    "{} validation of {name} failed: {}",
                    c.kind,
                    c.error.clone().unwrap_or_default()
                ),
                None => format!("authorization for {name} is {}", other.name()),
            });
        }
    }
    let Some(ch) = chosen else {
        return AuthzStep::Failed(format!("the CA offers no {kind} challenge for {name}"));
    };
    match ch.status {
        Status::Pending if !responded => match &ch.token {
            Some(t) if valid_token(t) => AuthzStep::Respond {
                url: ch.url.clone(),
                token: t.clone(),
            },
            _ => AuthzStep::Failed(format!("{kind} challenge for {name} has no usable token")),
        },
        Status::Pending | Status::Processing | Status::Valid => AuthzStep::Wait,
        _ => AuthzStep::Failed(match &ch.error {
            Some(p) => format!("{kind} validation of {name} failed: {p}"),
            None => format!("{kind} validation of {name} failed"),
        }),
    }
}

/// A challenge token is base64url and bounded (RFC 8555 §8.1, §8.3).
pub fn valid_token(token: &str) -> bool {
    !token.is_empty() && token.len() <= MAX_TOKEN_BYTES && crate::base64::is_url_safe(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn orders_move_through_their_states() {
        let o = |s: &str, cert: &str| -> Order {
            serde_json::from_str(&format!(
                r#"{{"status":"{s}","authorizations":["https://ca.test/a/1"],"finalize":"https://ca.test/f"{cert},"identifiers":[]}}"#
            ))
            .unwrap()
        };
        assert_eq!(order_step(&o("pending", "")), OrderStep::Authorize);
        assert_eq!(order_step(&o("ready", "")), OrderStep::Finalize);
        assert_eq!(order_step(&o("processing", "")), OrderStep::Wait);
        assert_eq!(
            order_step(&o("valid", r#","certificate":"https://ca.test/c""#)),
            OrderStep::Download("https://ca.test/c".into())
        );
        assert!(matches!(order_step(&o("valid", "")), OrderStep::Failed(_)));
        assert!(matches!(
            order_step(&o("invalid", "")),
            OrderStep::Failed(_)
        ));
        assert!(matches!(order_step(&o("weird", "")), OrderStep::Failed(_)));
    }

    #[test]
    fn authorizations_pick_the_configured_challenge() {
        let a: Authorization = serde_json::from_str(
            r#"{"status":"pending","identifier":{"type":"dns","value":"mail.example.test"},
                "challenges":[{"type":"dns-01","url":"https://ca.test/c/1","status":"pending","token":"AAAA"},
                              {"type":"http-01","url":"https://ca.test/c/2","status":"pending","token":"tok_-en"}]}"#,
        )
        .unwrap();
        assert_eq!(
            authz_step(&a, "http-01", false),
            AuthzStep::Respond {
                url: "https://ca.test/c/2".into(),
                token: "tok_-en".into()
            }
        );
        assert_eq!(authz_step(&a, "http-01", true), AuthzStep::Wait);
        assert!(matches!(
            authz_step(&a, "tls-alpn-01", false),
            AuthzStep::Failed(w) if w.contains("no tls-alpn-01")
        ));
        let bad_token: Authorization = serde_json::from_str(
            r#"{"status":"pending","identifier":{"type":"dns","value":"x.test"},
                "challenges":[{"type":"http-01","url":"https://ca.test/c","status":"pending","token":"../../etc"}]}"#,
        )
        .unwrap();
        assert!(matches!(
            authz_step(&bad_token, "http-01", false),
            AuthzStep::Failed(_)
        ));
        let failed: Authorization = serde_json::from_str(
            r#"{"status":"invalid","identifier":{"type":"dns","value":"x.test"},
                "challenges":[{"type":"http-01","url":"https://ca.test/c","status":"invalid","token":"t",
                "error":{"type":"urn:ietf:params:acme:error:unauthorized","detail":"wrong key authorization"}}]}"#,
        )
        .unwrap();
        match authz_step(&failed, "http-01", true) {
            AuthzStep::Failed(w) => assert_eq!(
                w,
                "http-01 validation of x.test failed: unauthorized: wrong key authorization"
            ),
            other => panic!("{other:?}"),
        }
        let valid: Authorization = serde_json::from_str(
            r#"{"status":"valid","identifier":{"type":"dns","value":"x.test"},"challenges":[]}"#,
        )
        .unwrap();
        assert_eq!(authz_step(&valid, "http-01", false), AuthzStep::Done);
    }

    #[test]
    fn nonces_problems_and_retry_after() {
        let r = resp(
            400,
            &[("replay-nonce", "abc_-1"), ("retry-after", "7")],
            r#"{"type":"urn:ietf:params:acme:error:badNonce","detail":"JWS has an invalid anti-replay nonce"}"#,
        );
        assert_eq!(replay_nonce(&r).as_deref(), Some("abc_-1"));
        assert_eq!(problem(&r).kind, BAD_NONCE);
        assert_eq!(
            poll_delay(&r, Duration::from_secs(1)),
            Duration::from_secs(7)
        );
        let r = resp(
            500,
            &[("replay-nonce", "bad nonce!"), ("retry-after", "86400")],
            "oops",
        );
        assert_eq!(replay_nonce(&r), None);
        assert_eq!(problem(&r).detail, "HTTP status 500");
        assert_eq!(poll_delay(&r, Duration::from_secs(1)), MAX_POLL);
        let r = resp(200, &[("retry-after", "Fri, 31 Dec 1999 23:59:59 GMT")], "");
        assert_eq!(
            poll_delay(&r, Duration::from_secs(2)),
            Duration::from_secs(2)
        );
        assert_eq!(poll_delay(&r, Duration::ZERO), MIN_POLL);
    }

    #[test]
    fn payloads() {
        assert_eq!(
            new_account_payload("a@b.test"),
            json!({"termsOfServiceAgreed": true, "contact": ["mailto:a@b.test"]})
        );
        assert_eq!(
            new_account_payload(""),
            json!({"termsOfServiceAgreed": true})
        );
        assert_eq!(
            new_order_payload(&["a.test".into(), "b.test".into()]),
            json!({"identifiers": [{"type": "dns", "value": "a.test"}, {"type": "dns", "value": "b.test"}]})
        );
        assert_eq!(finalize_payload(&[0xfb, 0xff]), json!({"csr": "-_8"}));
    }
}

//! ACME client fuzz entry point: arbitrary ACME server responses through the HTTP response
//! parser and the RFC 8555 JSON handling.

use super::{chunks, header, into_tokens};
use crate::acme::http::{self, Response, parse_response};
use crate::acme::protocol::{self, AuthzStep, MAX_POLL, MIN_POLL, OrderStep};
use std::time::Duration;

const TOKENS: &[&[u8]] = &[
    b"HTTP/1.1 200 OK\r\n",
    b"HTTP/1.1 201 Created\r\n",
    b"HTTP/1.1 400 Bad Request\r\n",
    b"HTTP/1.1 204 No Content\r\n",
    b"Content-Length: ",
    b"Transfer-Encoding: chunked\r\n",
    b"Replay-Nonce: abc_-",
    b"Retry-After: ",
    b"Location: https://ca.test/o/1\r\n",
    b"Content-Type: application/json\r\n",
    b"\r\n",
    b"0",
    b"1",
    b"5",
    b"a",
    b";x=y",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"\"status\":",
    b"\"pending\"",
    b"\"valid\"",
    b"\"invalid\"",
    b"\"ready\"",
    b"\"processing\"",
    b"\"type\":",
    b"\"http-01\"",
    b"\"tls-alpn-01\"",
    b"\"url\":\"https://ca.test/c\"",
    b"\"token\":",
    b"\"tok_-1\"",
    b"\"finalize\":\"https://ca.test/f\"",
    b"\"certificate\":\"https://ca.test/cert\"",
    b"\"authorizations\":[\"https://ca.test/a\"]",
    b"\"identifier\":{\"type\":\"dns\",\"value\":\"mail.test\"}",
    b"\"challenges\":",
    b"\"error\":{\"type\":\"urn:ietf:params:acme:error:badNonce\",\"detail\":\"x\"}",
    b"\"newNonce\":\"https://ca.test/n\",\"newAccount\":\"https://ca.test/a\",\"newOrder\":\"https://ca.test/o\"",
    b"\"meta\":{\"externalAccountRequired\":true}",
    b"\\u0000",
    b"\xff",
];

/// Parses server bytes as a response (fed in chunks) and its body as every RFC 8555 message.
///
/// Input: `[flags, size0, size1, size2, payload...]`; `flags` bits: 0 payload as tokens, 1 the
/// response is to HEAD, 2 the payload is a JSON body (no HTTP framing), 3 the connection ends
/// after the payload.
///
/// Checks: a response complete on a prefix stays the same however many bytes follow; bodies
/// and header counts stay within the parser's bounds; nonces are base64url; poll delays stay
/// within [`MIN_POLL`]..[`MAX_POLL`]; a challenge to answer always has a well-formed token; a
/// problem's text is bounded by the body.
pub fn fuzz_acme_response(data: &[u8]) {
    let (h, rest) = header::<4>(data);
    let flags = h[0];
    let payload = if flags & 1 != 0 {
        into_tokens(rest, TOKENS)
    } else {
        rest.to_vec()
    };
    let response = if flags & 4 != 0 {
        Response {
            status: 200,
            headers: vec![("retry-after".into(), "3".into())],
            body: payload,
        }
    } else {
        let head = flags & 2 != 0;
        let eof = flags & 8 != 0;
        let mut buf = Vec::new();
        let mut first: Option<Response> = None;
        for chunk in chunks(&payload, &h[1..]) {
            buf.extend_from_slice(chunk);
            match parse_response(&buf, false, head) {
                Ok(Some(r)) => {
                    first = Some(r);
                    break;
                }
                Ok(None) => {}
                Err(_) => return,
            }
        }
        let whole = match parse_response(&payload, eof, head) {
            Ok(Some(r)) => r,
            Ok(None) => {
                assert!(first.is_none(), "complete on a prefix, incomplete in all");
                return;
            }
            Err(_) => return,
        };
        if let Some(f) = first {
            assert_eq!(f, whole, "more bytes changed a complete response");
        }
        assert!(whole.body.len() <= http::MAX_BODY_BYTES);
        assert!(whole.headers.len() <= http::MAX_HEADERS);
        whole
    };
    if let Some(n) = protocol::replay_nonce(&response) {
        assert!(crate::base64::is_url_safe(&n) && n.len() <= 256);
    }
    for fallback in [
        Duration::ZERO,
        Duration::from_secs(2),
        Duration::from_secs(3600),
    ] {
        let d = protocol::poll_delay(&response, fallback);
        assert!((MIN_POLL..=MAX_POLL).contains(&d), "{d:?}");
    }
    if let Ok(loc) = protocol::location(&response, "fuzz") {
        let _ = http::Url::parse(&loc);
    }
    let p = protocol::problem(&response);
    let shown = p.to_string();
    assert!(shown.len() <= p.kind.len() + 2 + 300 * 4, "{}", shown.len());
    let _ = protocol::parse::<protocol::Directory>(&response, "directory");
    if let Ok(order) = protocol::parse::<protocol::Order>(&response, "order")
        && let OrderStep::Download(url) = protocol::order_step(&order)
    {
        assert_eq!(Some(url), order.certificate);
    }
    if let Ok(authz) = protocol::parse::<protocol::Authorization>(&response, "authz") {
        for kind in ["http-01", "tls-alpn-01"] {
            for responded in [false, true] {
                match protocol::authz_step(&authz, kind, responded) {
                    AuthzStep::Respond { token, .. } => {
                        assert!(!responded);
                        assert!(protocol::valid_token(&token));
                    }
                    AuthzStep::Done => {
                        assert_eq!(authz.status, protocol::Status::Valid);
                    }
                    AuthzStep::Wait | AuthzStep::Failed(_) => {}
                }
            }
        }
    }
}

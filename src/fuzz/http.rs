//! Fuzz entry point for the web page's HTTP request parsing ([`crate::proto::http`]): request
//! heads (httparse plus our framing rules), URL-encoded forms, query strings and cookies, and
//! the response writer.

use super::{header, into_tokens};
use crate::proto::http::{self, Form, Limits, Response};

const TOKENS: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"/",
    b"/admin/users",
    b"/setup?x=1&y=%41",
    b"%2e%2e",
    b"%00",
    b"%zz",
    b" HTTP/1.1\r\n",
    b" HTTP/1.0\r\n",
    b" HTTP/2.0\r\n",
    b"Host: mail.example.test:10443\r\n",
    b"Content-Length: 12\r\n",
    b"Content-Length: 99999999999999\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Cookie: mn_session=abc; mn_pre=\"def\"\r\n",
    b"Connection: close\r\n",
    b"Connection: keep-alive\r\n",
    b"Content-Type: application/x-www-form-urlencoded\r\n",
    b"Expect: 100-continue\r\n",
    b"\r\n",
    b"a=1&b=x+y%2B&csrf=",
    b"&",
    b"=",
    b"\xff",
];

/// Input: `[flags, head_limit, body_limit, payload...]`; flags bit 0 maps the payload to HTTP
/// tokens. Checks: no panic; a complete head is within the head limit and announces a body
/// within the body limit; its path is absolute, decoded and free of `..` segments, NUL and
/// backslashes; forms, the query and cookies of any request are read without panicking; a
/// response carrying the path in a field still has one line per field.
pub fn fuzz_http_request(data: &[u8]) {
    let (h, rest) = header::<3>(data);
    let payload = if h[0] & 1 != 0 {
        into_tokens(rest, TOKENS)
    } else {
        rest.to_vec()
    };
    let limits = Limits {
        max_head_bytes: 64 + usize::from(h[1]) * 16,
        max_body_bytes: usize::from(h[2]) * 4,
        max_upload_bytes: u64::from(h[2]) * 64,
    };
    let _ = Form::parse(&payload);
    match http::parse_head(&payload, &limits) {
        Ok(Some((mut req, n))) => {
            assert!(n <= limits.max_head_bytes && n <= payload.len());
            if req.is_upload() {
                assert!(req.content_length as u64 <= limits.max_upload_bytes);
            } else {
                assert!(req.content_length <= limits.max_body_bytes);
            }
            assert!(req.path.starts_with('/'));
            assert!(!req.path.contains('\0') && !req.path.contains('\\'));
            assert!(!req.path.split('/').any(|s| s == ".."));
            let end = (n + req.content_length).min(payload.len());
            req.body = payload[n..end].to_vec();
            let _ = (
                req.form(),
                req.query_form(),
                req.cookie("mn_session"),
                req.keep_alive(),
            );
            let r = Response::new(404, "text/plain", "x").with("X-Path", req.path.clone());
            let bytes = r.to_bytes(false, true, "D");
            let head = &bytes[..bytes.len() - 1];
            // Status line, Content-Type, X-Path, Date, Content-Length, then the empty line.
            assert_eq!(head.windows(2).filter(|w| w == b"\r\n").count(), 6);
        }
        Ok(None) => assert!(payload.len() < limits.max_head_bytes),
        Err(e) => assert!([400, 413, 431, 501, 505].contains(&e.status())),
    }
}

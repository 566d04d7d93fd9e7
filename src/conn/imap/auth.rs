//! LOGIN and AUTHENTICATE PLAIN (RFC 9051 §6.2.2–6.2.3, RFC 4616, RFC 4959 SASL-IR) through the
//! shared [`crate::auth::Authenticator`]. Refused before TLS unless allowed on loopback.

use super::Conn;
use crate::auth::{AuthFailure, Principal, Secret, decode_plain};
use crate::proto::imap::ConnState;
use crate::proto::imap::response::Status;

/// Answers a finished login attempt.
fn finish(conn: &mut Conn, tag: &str, result: Result<Principal, AuthFailure>) {
    match result {
        Ok(p) => {
            log::info!(target: "maillog", "login cid={} user={} proto=imap", conn.ctx.cid, super::loggable(&p.email, 80));
            conn.user = Some(p);
            conn.session.set_state(ConnState::Authenticated);
            let caps = format!("CAPABILITY {}", conn.session.capabilities());
            conn.session
                .tagged(tag, Status::Ok, Some(&caps), "Logged in");
        }
        Err(AuthFailure::Invalid) => {
            conn.session.tagged(
                tag,
                Status::No,
                Some("AUTHENTICATIONFAILED"),
                "Authentication failed",
            );
        }
        Err(_) => {
            conn.session
                .tagged(tag, Status::No, Some("UNAVAILABLE"), "Try again later");
        }
    }
}

fn refuse_cleartext(conn: &mut Conn, tag: &str) -> bool {
    if conn.session.auth_allowed() {
        return false;
    }
    // RFC 9051 §6.2.3: LOGIN must not be accepted before TLS.
    conn.session.tagged(
        tag,
        Status::No,
        Some("PRIVACYREQUIRED"),
        "Use STARTTLS first",
    );
    true
}

/// LOGIN user password.
pub(super) async fn login(conn: &mut Conn, tag: &str, username: &[u8], password: Vec<u8>) {
    if refuse_cleartext(conn, tag) {
        return;
    }
    let username = String::from_utf8_lossy(username).into_owned();
    let password = Secret::new(String::from_utf8_lossy(&password).into_owned());
    let result = conn
        .ctx
        .auth
        .login(&conn.ctx.store, &username, &password, conn.ctx.peer.ip())
        .await;
    finish(conn, tag, result);
}

/// AUTHENTICATE mechanism [initial-response].
pub(super) async fn authenticate(
    conn: &mut Conn,
    tag: &str,
    mechanism: &str,
    initial: Option<Vec<u8>>,
) {
    if refuse_cleartext(conn, tag) {
        return;
    }
    if !mechanism.eq_ignore_ascii_case("PLAIN") {
        conn.session.tagged(
            tag,
            Status::No,
            None,
            "Unsupported authentication mechanism",
        );
        return;
    }
    match initial {
        // RFC 4959: an initial response; imap-codec has already decoded its base64 (and "=" to
        // an empty one), while `plain` takes the wire text, so encode it back.
        Some(data) => plain(conn, tag, base64_text(&data).as_bytes()).await,
        None => {
            conn.sasl_tag = Some(tag.to_string());
            conn.session.sasl_challenge(b"");
        }
    }
}

/// The client's answer to the empty PLAIN challenge.
pub(super) async fn sasl_response(conn: &mut Conn, response: Option<Vec<u8>>) {
    let tag = conn.sasl_tag.take().unwrap_or_default();
    match response {
        None => conn
            .session
            .tagged(&tag, Status::Bad, None, "Authentication cancelled"),
        Some(line) => plain(conn, &tag, &line).await,
    }
}

async fn plain(conn: &mut Conn, tag: &str, b64: &[u8]) {
    let b64 = if b64 == b"=" { &b""[..] } else { b64 };
    match decode_plain(b64) {
        Ok((_authz, authc, password)) => {
            let result = conn
                .ctx
                .auth
                .login(&conn.ctx.store, &authc, &password, conn.ctx.peer.ip())
                .await;
            finish(conn, tag, result);
        }
        Err(_) => conn
            .session
            .tagged(tag, Status::Bad, None, "Malformed PLAIN response"),
    }
}

/// RFC 4648 §4 base64 (padded) of `data`.
fn base64_text(data: &[u8]) -> String {
    crate::base64::encode(data, true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_text_pads() {
        let cases: [(&[u8], &str); 5] = [
            (b"", ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"\0a\0b", "AGEAYg=="),
        ];
        for (data, text) in cases {
            assert_eq!(super::base64_text(data), text);
        }
    }
}

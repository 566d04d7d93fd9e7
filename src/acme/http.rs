//! A minimal HTTPS/1.1 client for talking to an ACME server: one request per connection
//! (`Connection: close`), on `async_io::Async<TcpStream>` and futures-rustls.
//!
//! Owns: URL splitting for `https://` URLs, the request bytes, and the response parser
//! ([`parse_response`], sans-IO: bytes in, a complete [`Response`] or "need more" out; the
//! grammar of the status line and header fields is httparse's).
//!
//! Invariants: every size is bounded ([`MAX_HEAD_BYTES`], [`MAX_HEADERS`], [`MAX_BODY_BYTES`];
//! the bytes buffered from the wire at most [`MAX_WIRE_BYTES`]); a whole request (name lookup,
//! connect, handshake, request, response) runs under one deadline; the parser never panics on
//! input. Only TLS is spoken (RFC 8555 §6.1: ACME is HTTPS only). Name lookups go through
//! `getaddrinfo` on the blocking pool, never on the executor thread.

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use rustls::pki_types::{CertificateDer, ServerName};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// Largest status line plus header section.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most header fields in a response.
pub const MAX_HEADERS: usize = 48;
/// Largest response body (a certificate chain is a few KiB; directories and orders less).
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Most bytes buffered from the wire for one response (head, body and chunk framing).
pub const MAX_WIRE_BYTES: usize = MAX_HEAD_BYTES + 2 * MAX_BODY_BYTES;
/// Longest URL accepted.
pub const MAX_URL_BYTES: usize = 2048;

/// Why an HTTP exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL is not an `https://` URL this client can use.
    #[error("bad URL {0:?}")]
    Url(String),
    /// No address for the host, or none accepted a connection.
    #[error("cannot connect to {host}: {why}")]
    Connect {
        /// The host.
        host: String,
        /// The cause.
        why: String,
    },
    /// The TLS handshake failed (e.g. an untrusted certificate).
    #[error("TLS with {host}: {why}")]
    Tls {
        /// The host.
        host: String,
        /// The cause.
        why: String,
    },
    /// Reading or writing failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The deadline passed.
    #[error("no complete answer within {0:?}")]
    Timeout(Duration),
    /// The status line and header section exceed [`MAX_HEAD_BYTES`] or [`MAX_HEADERS`].
    #[error("response header section too large")]
    HeadTooLarge,
    /// The body exceeds [`MAX_BODY_BYTES`].
    #[error("response body too large")]
    BodyTooLarge,
    /// Not an HTTP/1.x response.
    #[error("malformed response: {0}")]
    Malformed(&'static str),
    /// The connection ended before the response did.
    #[error("response truncated")]
    Truncated,
}

/// A complete response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header fields, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The first field named `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a response from the bytes received so far. `eof`: the peer closed the connection (a
/// body without a length then ends there). `head_request`: the response to HEAD, which has no
/// body (RFC 9112 §6.3). `Ok(None)`: more bytes are needed.
pub fn parse_response(
    buf: &[u8],
    eof: bool,
    head_request: bool,
) -> Result<Option<Response>, HttpError> {
    if buf.len() > MAX_WIRE_BYTES {
        return Err(HttpError::BodyTooLarge);
    }
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut fields);
    let head_len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(n)) if n <= MAX_HEAD_BYTES => n,
        Ok(httparse::Status::Complete(_)) => return Err(HttpError::HeadTooLarge),
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD_BYTES => {
            return Err(HttpError::HeadTooLarge);
        }
        Ok(httparse::Status::Partial) if eof => return Err(HttpError::Truncated),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HttpError::HeadTooLarge),
        Err(_) => return Err(HttpError::Malformed("status line or header field")),
    };
    let status = parsed.code.ok_or(HttpError::Malformed("no status"))?;
    if status < 200 {
        // We never send `Expect`, so an interim response is a protocol error here.
        return Err(HttpError::Malformed("interim (1xx) response"));
    }
    let headers: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).trim().to_string(),
            )
        })
        .collect();
    let rest = &buf[head_len..];
    let done = |body: Vec<u8>| {
        Ok(Some(Response {
            status,
            headers: headers.clone(),
            body,
        }))
    };
    // RFC 9112 §6.3: the rules for the length of a response body, in order.
    if head_request || status == 204 || status == 304 {
        return done(Vec::new());
    }
    let field = |name: &'static str| headers.iter().filter(move |(n, _)| n == name);
    if field("transfer-encoding").next().is_some() {
        let last = field("transfer-encoding")
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .rfind(|c| !c.is_empty())
            .unwrap_or("");
        if !last.eq_ignore_ascii_case("chunked") {
            return Err(HttpError::Malformed("transfer coding other than chunked"));
        }
        return match dechunk(rest)? {
            Some(body) => done(body),
            None if eof => Err(HttpError::Truncated),
            None => Ok(None),
        };
    }
    let mut length: Option<usize> = None;
    for (_, v) in field("content-length") {
        for item in v.split(',').map(str::trim) {
            if item.is_empty() || !item.bytes().all(|b| b.is_ascii_digit()) || item.len() > 12 {
                return Err(HttpError::Malformed("Content-Length"));
            }
            let n: usize = item
                .parse()
                .map_err(|_| HttpError::Malformed("Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(HttpError::Malformed("conflicting Content-Length"));
            }
            length = Some(n);
        }
    }
    match length {
        Some(n) if n > MAX_BODY_BYTES => Err(HttpError::BodyTooLarge),
        Some(n) if rest.len() >= n => done(rest[..n].to_vec()),
        Some(_) if eof => Err(HttpError::Truncated),
        Some(_) => Ok(None),
        None if rest.len() > MAX_BODY_BYTES => Err(HttpError::BodyTooLarge),
        None if eof => done(rest.to_vec()),
        None => Ok(None),
    }
}

/// Decodes a chunked body (RFC 9112 §7.1) if all of it has arrived; trailer fields are read and
/// dropped.
fn dechunk(mut rest: &[u8]) -> Result<Option<Vec<u8>>, HttpError> {
    let mut body = Vec::new();
    loop {
        let (start, size) = match httparse::parse_chunk_size(rest) {
            Ok(httparse::Status::Complete(v)) => v,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(HttpError::Malformed("chunk size")),
        };
        let size = usize::try_from(size).map_err(|_| HttpError::BodyTooLarge)?;
        if size > MAX_BODY_BYTES - body.len() {
            return Err(HttpError::BodyTooLarge);
        }
        rest = &rest[start..];
        if size == 0 {
            // The trailer section: header fields, then an empty line.
            let mut trailers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            return match httparse::parse_headers(rest, &mut trailers) {
                Ok(httparse::Status::Complete(_)) => Ok(Some(body)),
                Ok(httparse::Status::Partial) => Ok(None),
                Err(_) => Err(HttpError::Malformed("chunked trailer")),
            };
        }
        if rest.len() < size + 2 {
            return Ok(None);
        }
        if &rest[size..size + 2] != b"\r\n" {
            return Err(HttpError::Malformed("chunk data not followed by CRLF"));
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// An `https://` URL split for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// Host name or IP address (without brackets).
    pub host: String,
    /// Port (443 unless given).
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl Url {
    /// Splits `url`; anything but a plain `https://host[:port][/path]` is refused.
    pub fn parse(url: &str) -> Result<Url, HttpError> {
        let bad = || HttpError::Url(url.chars().take(200).collect());
        if url.len() > MAX_URL_BYTES || url.bytes().any(|b| !(0x21..0x7f).contains(&b)) {
            return Err(bad());
        }
        let rest = url.strip_prefix("https://").ok_or_else(bad)?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let path = path.split('#').next().unwrap_or("/");
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        if authority.contains('@') {
            return Err(bad());
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(bad)?;
            h.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
            (h, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let port = match port {
            Some(p) => p.parse::<u16>().ok().filter(|&p| p != 0).ok_or_else(bad)?,
            None => 443,
        };
        if host.is_empty() || (host.parse::<IpAddr>().is_err() && !crate::config::is_hostname(host))
        {
            return Err(bad());
        }
        Ok(Url {
            host: host.to_ascii_lowercase(),
            port,
            path,
        })
    }

    /// The `Host` field value (RFC 9110 §7.2).
    fn authority(&self) -> String {
        let host = match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => format!("[{}]", self.host),
            _ => self.host.clone(),
        };
        if self.port == 443 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// The request method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET (the directory).
    Get,
    /// HEAD (newNonce, RFC 8555 §7.2).
    Head,
    /// POST (everything signed).
    Post,
}

/// Which certificates the server's must chain to.
#[derive(Debug, Clone)]
pub enum Roots {
    /// The bundled web PKI roots.
    WebPki,
    /// These roots only (a private or test CA).
    Custom(Vec<CertificateDer<'static>>),
}

/// A client for one ACME server's host(s).
#[derive(Debug, Clone)]
pub struct HttpsClient {
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
}

impl HttpsClient {
    /// A client verifying servers against `roots`, with `timeout` for each whole request.
    pub fn new(roots: Roots, timeout: Duration) -> Result<HttpsClient, HttpError> {
        let mut store = rustls::RootCertStore::empty();
        match roots {
            Roots::WebPki => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            Roots::Custom(certs) => {
                for c in certs {
                    store.add(c).map_err(|e| HttpError::Tls {
                        host: "-".into(),
                        why: format!("unusable root: {e}"),
                    })?;
                }
            }
        }
        let config = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
            .with_safe_default_protocol_versions()
            .map(|b| b.with_root_certificates(store).with_no_client_auth())
            .map_err(|e| HttpError::Tls {
                host: "-".into(),
                why: e.to_string(),
            })?;
        Ok(HttpsClient {
            tls: Arc::new(config),
            timeout,
        })
    }

    /// Sends one request and reads the whole response, within the client's deadline.
    /// `body`: content type and bytes.
    pub async fn request(
        &self,
        method: Method,
        url: &str,
        accept: &str,
        body: Option<(&str, &[u8])>,
    ) -> Result<Response, HttpError> {
        let url = Url::parse(url)?;
        let limit = self.timeout;
        futures_lite::future::or(self.exchange(method, &url, accept, body), async move {
            async_io::Timer::after(limit).await;
            Err(HttpError::Timeout(limit))
        })
        .await
    }

    async fn exchange(
        &self,
        method: Method,
        url: &Url,
        accept: &str,
        body: Option<(&str, &[u8])>,
    ) -> Result<Response, HttpError> {
        let tcp = connect(&url.host, url.port).await?;
        let name =
            ServerName::try_from(url.host.clone()).map_err(|_| HttpError::Url(url.host.clone()))?;
        let tls_err = |e: std::io::Error| HttpError::Tls {
            host: url.host.clone(),
            why: e.to_string(),
        };
        let mut stream = futures_rustls::TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(tls_err)?;
        let verb = match method {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
        };
        let mut out = format!(
            "{verb} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: mailnook/{} (ACME client)\r\nAccept: {accept}\r\nConnection: close\r\n",
            url.path,
            url.authority(),
            env!("CARGO_PKG_VERSION"),
        )
        .into_bytes();
        if let Some((content_type, data)) = body {
            out.extend_from_slice(
                format!(
                    "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                    data.len()
                )
                .as_bytes(),
            );
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(data);
        } else {
            out.extend_from_slice(b"\r\n");
        }
        stream.write_all(&out).await?;
        stream.flush().await?;
        let mut buf = Vec::with_capacity(8 * 1024);
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            let n = match stream.read(&mut chunk).await {
                Ok(n) => n,
                // A peer that closes without close_notify: what arrived is judged as at EOF.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
                Err(e) => return Err(e.into()),
            };
            buf.extend_from_slice(&chunk[..n]);
            if let Some(resp) = parse_response(&buf, n == 0, method == Method::Head)? {
                return Ok(resp);
            }
            if n == 0 {
                return Err(HttpError::Truncated);
            }
        }
    }
}

/// Resolves `host` (on the blocking pool) and connects to the first address that answers.
async fn connect(host: &str, port: u16) -> Result<async_io::Async<TcpStream>, HttpError> {
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => {
            let h = host.to_string();
            blocking::unblock(move || {
                std::net::ToSocketAddrs::to_socket_addrs(&(h.as_str(), port))
                    .map(|a| a.take(8).collect())
            })
            .await
            .map_err(|e| HttpError::Connect {
                host: host.to_string(),
                why: e.to_string(),
            })?
        }
    };
    let mut last = String::from("no address");
    for addr in addrs {
        match async_io::Async::<TcpStream>::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(HttpError::Connect {
        host: host.to_string(),
        why: last,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(raw: &[u8]) -> Response {
        parse_response(raw, false, false).unwrap().unwrap()
    }

    #[test]
    fn content_length_body_and_headers() {
        let raw = b"HTTP/1.1 201 Created\r\nReplay-Nonce: abc\r\nLocation: https://ca.test/o/1\r\nContent-Length: 2\r\n\r\n{}extra";
        let r = complete(raw);
        assert_eq!(r.status, 201);
        assert_eq!(r.header("replay-nonce"), Some("abc"));
        assert_eq!(r.header("location"), Some("https://ca.test/o/1"));
        assert_eq!(r.body, b"{}");
        // Every strict prefix needs more bytes; at EOF it is truncated.
        for n in 0..raw.len() - 5 {
            assert_eq!(
                parse_response(&raw[..n], false, false).unwrap(),
                None,
                "{n}"
            );
            assert!(matches!(
                parse_response(&raw[..n], true, false),
                Err(HttpError::Truncated)
            ));
        }
    }

    #[test]
    fn head_and_no_content_have_no_body() {
        let raw = b"HTTP/1.1 200 OK\r\nReplay-Nonce: n1\r\nContent-Length: 10\r\n\r\n";
        let r = parse_response(raw, false, true).unwrap().unwrap();
        assert!(r.body.is_empty());
        assert_eq!(r.header("replay-nonce"), Some("n1"));
        let r = complete(b"HTTP/1.1 204 No Content\r\n\r\n");
        assert_eq!((r.status, r.body.len()), (204, 0));
    }

    #[test]
    fn chunked_bodies() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: y\r\n\r\n";
        assert_eq!(complete(raw).body, b"Wikipedia");
        for n in 0..raw.len() {
            assert_eq!(
                parse_response(&raw[..n], false, false).unwrap(),
                None,
                "{n}"
            );
        }
        let no_trailer =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        assert_eq!(complete(no_trailer).body, b"abc");
    }

    #[test]
    fn bad_chunked_encoding_is_refused() {
        for bad in [
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\x01\r\n\r\n",
        ] {
            assert!(
                matches!(
                    parse_response(bad, false, false),
                    Err(HttpError::Malformed(_))
                ),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        // A chunk larger than the body bound is refused before its data arrives.
        let huge = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffff\r\n";
        assert!(matches!(
            parse_response(huge, false, false),
            Err(HttpError::BodyTooLarge)
        ));
        let overflow =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n";
        assert!(parse_response(overflow, false, false).is_err());
    }

    #[test]
    fn oversized_heads_and_bodies_are_refused() {
        let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
        while head.len() <= MAX_HEAD_BYTES {
            head.extend_from_slice(
                b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
            );
        }
        assert!(matches!(
            parse_response(&head, false, false),
            Err(HttpError::HeadTooLarge)
        ));
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert!(matches!(
            parse_response(&many, false, false),
            Err(HttpError::HeadTooLarge)
        ));
        let big = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY_BYTES + 1
        );
        assert!(matches!(
            parse_response(big.as_bytes(), false, false),
            Err(HttpError::BodyTooLarge)
        ));
        let mut unframed = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        unframed.resize(unframed.len() + MAX_BODY_BYTES + 1, b'a');
        assert!(matches!(
            parse_response(&unframed, false, false),
            Err(HttpError::BodyTooLarge)
        ));
        // Many one-byte chunks: the framing is bounded too.
        let mut tiny = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        while tiny.len() <= MAX_WIRE_BYTES {
            tiny.extend_from_slice(b"1\r\na\r\n");
        }
        assert!(parse_response(&tiny, false, false).is_err());
    }

    #[test]
    fn lengths_must_agree_and_be_numbers() {
        for bad in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\n",
            b"SMTP 220 hello\r\n\r\n",
        ] {
            assert!(parse_response(bad, false, false).is_err());
        }
        assert_eq!(
            complete(b"HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc").body,
            b"abc"
        );
        // No length: the body runs to the end of the connection.
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\n\r\nab", false, false).unwrap(),
            None
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\n\r\nab", true, false)
                .unwrap()
                .unwrap()
                .body,
            b"ab"
        );
    }

    #[test]
    fn urls() {
        let u = Url::parse("https://acme-v02.api.letsencrypt.org/directory").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("acme-v02.api.letsencrypt.org", 443, "/directory")
        );
        assert_eq!(u.authority(), "acme-v02.api.letsencrypt.org");
        let u = Url::parse("https://127.0.0.1:14000/dir?x=1#frag").unwrap();
        assert_eq!((u.port, u.path.as_str()), (14000, "/dir?x=1"));
        assert_eq!(u.authority(), "127.0.0.1:14000");
        let u = Url::parse("https://[::1]:8443").unwrap();
        assert_eq!((u.host.as_str(), u.path.as_str()), ("::1", "/"));
        assert_eq!(u.authority(), "[::1]:8443");
        for bad in [
            "http://ca.test/",
            "https://",
            "https://user@ca.test/",
            "https://ca.test:0/",
            "https://ca.test:99999/",
            "https://ca test/",
            "https://bad_host/",
            "https://[zz]/",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
    }
}

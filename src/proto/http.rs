//! HTTP/1.1 messages for the built-in web page (RFC 9110, RFC 9112): request heads parsed with
//! httparse, bodies framed by Content-Length only, URL-encoded forms, cookies, and responses
//! written out.
//!
//! Invariants:
//! - [`parse_head`] never reads past [`Limits::max_head_bytes`] and accepts at most
//!   [`MAX_HEADERS`] fields; a head that does not fit is an error the driver answers with 431.
//! - A request body is accepted only with a valid `Content-Length` (RFC 9112 §6.3) of at most
//!   [`Limits::max_body_bytes`], or [`Limits::max_upload_bytes`] for a `multipart/form-data`
//!   POST ([`Request::is_upload`], which the driver streams instead of buffering);
//!   `Transfer-Encoding` on a request is refused (501), as are several or malformed
//!   `Content-Length` fields (400: request smuggling starts there).
//! - A response whose body is streamed ([`Response::stream`]) is framed with the chunked
//!   transfer coding (RFC 9112 §7.1): the head says so and the driver writes [`chunk`]s, then
//!   [`LAST_CHUNK`].
//! - Only origin-form targets (`/path?query`) are accepted; the path is percent-decoded into
//!   UTF-8 and must not contain NUL, `..` segments or backslashes.
//! - [`Form`] decoding is bounded by its input; every value is valid UTF-8 or the form is refused.
//! - Nothing here does I/O; the driver in `conn::web` feeds bytes and writes what
//!   [`Response::to_bytes`] returns.

/// Most header fields in a request.
pub const MAX_HEADERS: usize = 48;

/// Size limits a driver passes in.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Request line and header section, bytes.
    pub max_head_bytes: usize,
    /// Request body, bytes.
    pub max_body_bytes: usize,
    /// A `multipart/form-data` request body (streamed by the driver), bytes.
    pub max_upload_bytes: u64,
}

/// Request methods the web page answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// HEAD (a GET without the body).
    Head,
    /// POST.
    Post,
    /// Anything else (answered 405).
    Other,
}

/// A parsed request head.
#[derive(Debug, Clone)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The percent-decoded path, starting with `/`.
    pub path: String,
    /// The raw query string (after `?`, without it), still encoded.
    pub query: String,
    /// HTTP/1.1 (`true`) or HTTP/1.0.
    pub http11: bool,
    /// Header fields: lowercased names, values as sent.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body length announced by `Content-Length` (0 without one).
    pub content_length: usize,
    /// The body, once read (the driver fills it in).
    pub body: Vec<u8>,
}

/// Why a request was refused before it reached the application.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// Not HTTP, or a malformed head (400).
    #[error("malformed request: {0}")]
    Malformed(&'static str),
    /// The head is larger than allowed (431).
    #[error("request header fields too large")]
    HeadTooLarge,
    /// The announced body is larger than allowed (413).
    #[error("request body too large")]
    BodyTooLarge,
    /// A request body framed by something other than Content-Length (501).
    #[error("transfer codings are not accepted on requests")]
    TransferCoding,
    /// HTTP/2 or anything newer than 1.1 (505).
    #[error("HTTP version not supported")]
    Version,
}

impl HttpError {
    /// The status code that answers it.
    pub fn status(&self) -> u16 {
        match self {
            HttpError::Malformed(_) => 400,
            HttpError::HeadTooLarge => 431,
            HttpError::BodyTooLarge => 413,
            HttpError::TransferCoding => 501,
            HttpError::Version => 505,
        }
    }
}

impl Request {
    /// The first value of header `name` (lowercase), as text if it is valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
            .map(str::trim)
    }

    /// Whether the connection stays open after this exchange (RFC 9112 §9.3).
    pub fn keep_alive(&self) -> bool {
        let tokens = self.header("connection").unwrap_or("").to_ascii_lowercase();
        let has = |t: &str| tokens.split(',').any(|x| x.trim() == t);
        if self.http11 {
            !has("close")
        } else {
            has("keep-alive")
        }
    }

    /// The value of cookie `name` (RFC 6265 §5.4), from every `Cookie` field.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "cookie")
            .filter_map(|(_, v)| std::str::from_utf8(v).ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.trim_matches('"'))
    }

    /// The query string's fields.
    pub fn query_form(&self) -> Option<Form> {
        Form::parse(self.query.as_bytes())
    }

    /// Whether this is a `multipart/form-data` POST: its body is an upload the driver streams
    /// to the application instead of reading it whole.
    pub fn is_upload(&self) -> bool {
        self.method == Method::Post
            && self
                .header("content-type")
                .and_then(|ct| ct.split(';').next())
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("multipart/form-data"))
    }

    /// The body as a URL-encoded form (`None` if it is not one).
    pub fn form(&self) -> Option<Form> {
        let ct = self.header("content-type").unwrap_or("");
        let mime = ct.split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return None;
        }
        Form::parse(&self.body)
    }
}

/// Parses a request head from the start of `buf`. `Ok(None)`: not complete yet (read more);
/// `Ok(Some((request, n)))`: the head took `n` bytes and the body (of `content_length` bytes)
/// follows.
pub fn parse_head(buf: &[u8], limits: &Limits) -> Result<Option<(Request, usize)>, HttpError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut fields);
    let n = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return if buf.len() >= limits.max_head_bytes {
                Err(HttpError::HeadTooLarge)
            } else {
                Ok(None)
            };
        }
        Err(httparse::Error::TooManyHeaders) => return Err(HttpError::HeadTooLarge),
        Err(httparse::Error::Version) => return Err(HttpError::Version),
        Err(_) => return Err(HttpError::Malformed("not an HTTP/1.x request head")),
    };
    if n > limits.max_head_bytes {
        return Err(HttpError::HeadTooLarge);
    }
    let method = match req.method.unwrap_or("") {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        _ => Method::Other,
    };
    let target = req.path.unwrap_or("");
    if !target.starts_with('/') {
        return Err(HttpError::Malformed(
            "only origin-form targets are accepted",
        ));
    }
    let (raw_path, query) = target.split_once('?').unwrap_or((target, ""));
    let path = decode_path(raw_path).ok_or(HttpError::Malformed("bad path"))?;
    let mut headers = Vec::with_capacity(req.headers.len());
    let mut content_length = None;
    for h in req.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        match name.as_str() {
            // RFC 9112 §6.1: a server that does not understand a request's transfer coding
            // answers 501; we take none, so bodies are framed by Content-Length only.
            "transfer-encoding" => return Err(HttpError::TransferCoding),
            "content-length" => {
                let v = std::str::from_utf8(h.value)
                    .ok()
                    .map(str::trim)
                    .filter(|v| {
                        !v.is_empty() && v.len() <= 12 && v.bytes().all(|b| b.is_ascii_digit())
                    })
                    .and_then(|v| v.parse::<usize>().ok())
                    .ok_or(HttpError::Malformed("bad Content-Length"))?;
                // §6.3: differing or repeated lengths are an error (smuggling).
                if content_length.is_some() {
                    return Err(HttpError::Malformed("several Content-Length fields"));
                }
                content_length = Some(v);
            }
            _ => {}
        }
        headers.push((name, h.value.to_vec()));
    }
    let request = Request {
        method,
        path,
        query: query.to_string(),
        http11: req.version == Some(1),
        headers,
        content_length: content_length.unwrap_or(0),
        body: Vec::new(),
    };
    let limit = if request.is_upload() {
        limits.max_upload_bytes
    } else {
        limits.max_body_bytes as u64
    };
    if request.content_length as u64 > limit {
        return Err(HttpError::BodyTooLarge);
    }
    Ok(Some((request, n)))
}

/// Percent-decodes a path; refuses NUL, backslashes, invalid UTF-8 and `..` segments.
fn decode_path(raw: &str) -> Option<String> {
    let bytes = percent_decode(raw.as_bytes(), false)?;
    let path = String::from_utf8(bytes).ok()?;
    let bad = path.contains('\0') || path.contains('\\') || path.split('/').any(|s| s == "..");
    (!bad).then_some(path)
}

/// Decodes `%XX` escapes (and `+` as space when `plus`); `None` for a broken escape.
fn percent_decode(input: &[u8], plus: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'%' => {
                let hex = input.get(i + 1..i + 3)?;
                let hi = (hex[0] as char).to_digit(16)?;
                let lo = (hex[1] as char).to_digit(16)?;
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

/// Percent-encodes everything but unreserved characters (RFC 3986 §2.3).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encodes a decoded path again, segment by segment (the `/` are kept).
pub fn percent_encode_path(path: &str) -> String {
    path.split('/')
        .map(percent_encode)
        .collect::<Vec<_>>()
        .join("/")
}

/// An `application/x-www-form-urlencoded` form (or query string): name/value pairs in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form(Vec<(String, String)>);

impl Form {
    /// Decodes `input`; `None` when an escape is broken or a value is not UTF-8.
    pub fn parse(input: &[u8]) -> Option<Form> {
        let mut fields = Vec::new();
        for pair in input.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            let name = String::from_utf8(percent_decode(name, true)?).ok()?;
            let value = String::from_utf8(percent_decode(value, true)?).ok()?;
            fields.push((name, value));
        }
        Some(Form(fields))
    }

    /// A form of these fields (e.g. from a `multipart/form-data` body).
    pub fn from_fields(fields: Vec<(String, String)>) -> Form {
        Form(fields)
    }

    /// The first value of field `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name`, trimmed, or empty.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).unwrap_or("").trim()
    }
}

/// A response to write.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header fields (name, value); `Content-Length` and `Date` are added when written.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Instead of `body`: the id of a stream the application registered with the driver; the
    /// body is sent with the chunked transfer coding as the stream yields it.
    pub stream: Option<u64>,
}

/// The end of a chunked body (RFC 9112 §7.1: last-chunk and an empty trailer section).
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// One chunk of a chunked body (RFC 9112 §7.1); `data` must not be empty.
pub fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

impl Response {
    /// A response with `status`, a content type and a body.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type", content_type.to_string())],
            body: body.into(),
            stream: None,
        }
    }

    /// A `303 See Other` to `location` (after a POST, RFC 9110 §15.4.4).
    pub fn see_other(location: &str) -> Response {
        let mut r = Response::new(303, "text/plain; charset=utf-8", "See other\n");
        r.headers.push(("Location", location.to_string()));
        r
    }

    /// Adds a header field.
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    /// The bytes to send: status line, fields, and the body unless `head_only`.
    pub fn to_bytes(&self, head_only: bool, keep_alive: bool, date: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.body.len());
        out.extend_from_slice(
            format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status)).as_bytes(),
        );
        for (name, value) in &self.headers {
            // Values are ours, but a CR or LF must never split a field.
            let value: String = value.chars().filter(|c| !c.is_control()).collect();
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(format!("Date: {date}\r\n").as_bytes());
        if self.stream.is_some() {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
        } else {
            out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        if !keep_alive {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if !head_only {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

/// The reason phrase of the status codes used.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        303 => "See Other",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits {
        max_head_bytes: 1024,
        max_body_bytes: 100,
        max_upload_bytes: 1000,
    };

    fn parse(s: &str) -> Result<Option<(Request, usize)>, HttpError> {
        parse_head(s.as_bytes(), &L)
    }

    #[test]
    fn heads() {
        let (r, n) =
            parse("GET /a%20b/c?x=1&y=%41 HTTP/1.1\r\nHost: h\r\nCookie: a=1; mn=xyz\r\n\r\nrest")
                .unwrap()
                .unwrap();
        assert_eq!(n, 65);
        assert_eq!(
            (r.method, r.path.as_str(), r.query.as_str()),
            (Method::Get, "/a b/c", "x=1&y=%41")
        );
        assert_eq!(r.cookie("mn"), Some("xyz"));
        assert_eq!(r.query_form().unwrap().get("y"), Some("A"));
        assert!(r.keep_alive());
        assert!(parse("GET / HTTP/1.1\r\nHost: h\r\n").unwrap().is_none());
        let (r, _) = parse("GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(!r.keep_alive());
        let (r, _) = parse("POST /x HTTP/1.1\r\nContent-Length: 7\r\nContent-Type: application/x-www-form-urlencoded; charset=utf-8\r\n\r\n").unwrap().unwrap();
        assert_eq!(r.content_length, 7);
        assert_eq!(
            parse("PUT / HTTP/1.1\r\n\r\n").unwrap().unwrap().0.method,
            Method::Other
        );
    }

    #[test]
    fn refusals() {
        let e = |s: &str| parse(s).unwrap_err().status();
        assert_eq!(e("GET http://x/ HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(e("GET /../etc/passwd HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(e("GET /a/%2e%2e/b HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(e("GET /a%00 HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(e("GET /%zz HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(
            e("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            501
        );
        assert_eq!(
            e("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"),
            400
        );
        assert_eq!(e("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400);
        assert_eq!(e("POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n"), 413);
        let upload =
            "POST / HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length:";
        let (r, _) = parse(&format!("{upload} 1000\r\n\r\n")).unwrap().unwrap();
        assert!(r.is_upload() && r.content_length == 1000);
        assert_eq!(e(&format!("{upload} 1001\r\n\r\n")), 413);
        assert_eq!(
            e(&format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(1100))),
            431
        );
        let many: String = (0..60).map(|i| format!("X{i}: y\r\n")).collect();
        assert_eq!(e(&format!("GET / HTTP/1.1\r\n{many}\r\n")), 431);
        assert_eq!(e("\x16\x03\x01\x02\x00\x01\x00\x01\x03\x03"), 400);
    }

    #[test]
    fn forms_and_responses() {
        let f = Form::parse(b"a=1&b=x+y%2Bz&c&a=2&d=%C3%A9").unwrap();
        assert_eq!(
            (f.get("a"), f.get("b"), f.get("c"), f.get("d")),
            (Some("1"), Some("x y+z"), Some(""), Some("\u{e9}"))
        );
        assert!(Form::parse(b"a=%ff").is_none());
        assert!(Form::parse(b"a=%4").is_none());
        assert_eq!(percent_encode("a b@c/\u{e9}"), "a%20b%40c%2F%C3%A9");
        assert_eq!(percent_encode_path("/a b/c"), "/a%20b/c");
        let r = Response::new(200, "text/plain", "hi").with("X-A", "1\r\nInjected: yes");
        let bytes = String::from_utf8(r.to_bytes(false, false, "D")).unwrap();
        assert_eq!(
            bytes,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: 1Injected: yes\r\nDate: D\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
        );
        let head = r.to_bytes(true, true, "D");
        assert!(head.ends_with(b"Content-Length: 2\r\n\r\n"));
        let mut streamed = Response::new(200, "application/octet-stream", "");
        streamed.stream = Some(1);
        assert!(
            streamed
                .to_bytes(false, true, "D")
                .ends_with(b"Date: D\r\nTransfer-Encoding: chunked\r\n\r\n")
        );
        assert_eq!(
            chunk(&[b'a'; 26]),
            [b"1a\r\n".as_slice(), &[b'a'; 26], b"\r\n"].concat()
        );
    }
}

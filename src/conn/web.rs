//! The HTTP/1.1 connection driver for the web page: reads request heads and bodies within
//! their limits and deadlines, lets `web` answer, writes the responses, keeps the connection
//! for the next request when both sides want that.
//!
//! Invariants: a whole request (head and body) must arrive within `web.timeout_secs` of its
//! first byte, and the next one must start within the same time (slowloris); the buffer never
//! holds more than the head limit plus the body limit; a malformed or oversized request gets its
//! status code and the connection is closed; responses are written in request order (no
//! pipelining beyond reading ahead into the buffer).
//!
//! Uploads (`multipart/form-data` POSTs, up to `web.max_upload_bytes`) are not buffered: the
//! page pulls their body read by read ([`crate::web::UploadBody`]), and each read must arrive
//! within `web.timeout_secs` of the one before (a large upload takes longer than one timeout).
//! A connection whose upload was not read to its end is closed after the answer. A streamed
//! response (a backup download) is sent with the chunked transfer coding as its pieces come;
//! if producing it fails, the connection is closed without the last chunk, so the client sees
//! an incomplete body rather than a short file.

use super::stream::Stream;
use super::{ConnError, ConnId, starting_stream, with_timeout};
use crate::proto::http::{self, Limits, Request};
use crate::web::{Origin, Web, error_page};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One web connection's setting.
pub struct WebContext {
    /// The web page.
    pub web: Rc<Web>,
    /// The TLS configuration (HTTPS port).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Whether this is the HTTPS port.
    pub https: bool,
    /// Closed when the server shuts down.
    pub shutdown: async_channel::Receiver<()>,
    /// The client.
    pub peer: SocketAddr,
    /// For logs.
    pub cid: ConnId,
}

const READ_CHUNK: usize = 8192;

/// Reads more into `buf` before `deadline`; `Ok(false)` at end of stream or on shutdown.
async fn fill(
    stream: &mut Stream,
    buf: &mut Vec<u8>,
    deadline: Instant,
    shutdown: &async_channel::Receiver<()>,
) -> Result<bool, ConnError> {
    let mut chunk = [0u8; READ_CHUNK];
    let wait = deadline.saturating_duration_since(Instant::now());
    let read = futures_lite::future::or(
        async { Some(with_timeout(wait, stream.read(&mut chunk)).await) },
        async {
            let _ = shutdown.recv().await;
            None
        },
    )
    .await;
    match read {
        None => Ok(false),
        Some(Ok(0)) => Ok(false),
        Some(Ok(n)) => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(true)
        }
        Some(Err(e)) => Err(e),
    }
}

/// Writes a response with a deadline.
async fn send(stream: &mut Stream, bytes: &[u8], limit: Duration) -> Result<(), ConnError> {
    with_timeout(limit, async {
        stream.write_all(bytes).await?;
        stream.flush().await
    })
    .await
}

/// An upload's body: what the buffer already holds, then reads from the connection, up to
/// `Content-Length`.
struct Upload<'a> {
    stream: &'a mut Stream,
    buf: &'a mut Vec<u8>,
    remaining: usize,
    timeout: Duration,
    shutdown: &'a async_channel::Receiver<()>,
}

impl crate::web::UploadBody for Upload<'_> {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, String> {
        if self.remaining == 0 {
            return Ok(None);
        }
        if self.buf.is_empty() {
            let deadline = Instant::now() + self.timeout;
            match fill(self.stream, self.buf, deadline, self.shutdown).await {
                Ok(true) => {}
                Ok(false) => return Err("the connection closed during the upload".into()),
                Err(e) => return Err(format!("reading the upload: {e}")),
            }
        }
        let n = self.buf.len().min(self.remaining);
        self.remaining -= n;
        Ok(Some(self.buf.drain(..n).collect()))
    }
}

/// Serves one connection until either side ends it.
pub async fn serve(stream: Stream, ctx: WebContext) -> Result<(), ConnError> {
    let handshake = (ctx.web.config)().net_tls_handshake;
    let Some(mut stream) = starting_stream(stream, ctx.https, ctx.tls.clone(), handshake).await?
    else {
        return Ok(());
    };
    // RFC 8737 §4: a TLS-ALPN-01 validation only completes the handshake; no request follows.
    if stream.alpn().as_deref() == Some(crate::acme::ACME_TLS_ALPN) {
        let _ = with_timeout(Duration::from_secs(5), stream.close()).await;
        return Ok(());
    }
    let origin = Origin {
        peer: ctx.peer,
        https: ctx.https,
    };
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let config = (ctx.web.config)();
        let limits = Limits {
            max_head_bytes: config.web_max_head_bytes,
            max_body_bytes: config.web_max_body_bytes,
            max_upload_bytes: config.web_max_upload_bytes,
        };
        let timeout = Duration::from_secs(config.web_timeout_secs);
        let deadline = Instant::now() + timeout;
        let parsed = loop {
            match http::parse_head(&buf, &limits) {
                Ok(Some(done)) => break Ok(done),
                Ok(None) => {}
                Err(e) => break Err(e),
            }
            match fill(&mut stream, &mut buf, deadline, &ctx.shutdown).await {
                Ok(true) => {}
                Ok(false) => return Ok(()),
                // An idle kept-alive connection just ends; a half-sent request hears why.
                Err(ConnError::Timeout) if !buf.is_empty() => {
                    let r = error_page(408, "The request took too long to arrive.");
                    let date = crate::time::http_date(crate::time::unix_now());
                    let _ = send(&mut stream, &r.to_bytes(false, false, &date), timeout).await;
                    return Err(ConnError::Timeout);
                }
                Err(ConnError::Timeout) => return Ok(()),
                Err(e) => return Err(e),
            }
        };
        let (mut req, head_len): (Request, usize) = match parsed {
            Ok(x) => x,
            Err(e) => {
                log::info!("cid={} web: refused ip={}: {e}", ctx.cid, ctx.peer.ip());
                let r = error_page(e.status(), &e.to_string());
                let date = crate::time::http_date(crate::time::unix_now());
                let _ = send(&mut stream, &r.to_bytes(false, false, &date), timeout).await;
                return Ok(());
            }
        };
        buf.drain(..head_len);
        if req.content_length > 0
            && req
                .header("expect")
                .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
            && buf.is_empty()
        {
            send(&mut stream, b"HTTP/1.1 100 Continue\r\n\r\n", timeout).await?;
        }
        let mut keep_alive =
            req.keep_alive() && ctx.shutdown.try_recv().is_err() && !ctx.shutdown.is_closed();
        let mut response = if req.is_upload() {
            let mut body = Upload {
                stream: &mut stream,
                buf: &mut buf,
                remaining: req.content_length,
                timeout,
                shutdown: &ctx.shutdown,
            };
            let response = ctx.web.handle_upload(&req, origin, &mut body).await;
            keep_alive &= body.remaining == 0;
            response
        } else {
            while buf.len() < req.content_length {
                match fill(&mut stream, &mut buf, deadline, &ctx.shutdown).await {
                    Ok(true) => {}
                    Ok(false) => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
            req.body = buf.drain(..req.content_length).collect();
            ctx.web.handle(&req, origin).await
        };
        let mut pieces = response.stream.and_then(|id| ctx.web.streams.take(id));
        if pieces.is_some() && !req.http11 {
            // RFC 9112 §7.1: no chunked coding towards an HTTP/1.0 client.
            pieces = None;
            response = error_page(505, "This download needs HTTP/1.1.");
        }
        log::debug!(
            "cid={} web: {:?} {} -> {}",
            ctx.cid,
            req.method,
            crate::conn::loggable(&req.path, 120),
            response.status
        );
        let head_only = req.method == http::Method::Head;
        let date = crate::time::http_date(crate::time::unix_now());
        send(
            &mut stream,
            &response.to_bytes(head_only, keep_alive, &date),
            timeout,
        )
        .await?;
        if let Some(pieces) = pieces.filter(|_| !head_only) {
            loop {
                match pieces.recv().await {
                    Ok(Ok(piece)) if piece.is_empty() => {}
                    Ok(Ok(piece)) => send(&mut stream, &http::chunk(&piece), timeout).await?,
                    Ok(Err(e)) => {
                        log::warn!("cid={} web: streamed response failed: {e}", ctx.cid);
                        let _ = with_timeout(timeout, stream.close()).await;
                        return Ok(());
                    }
                    Err(_) => break,
                }
            }
            send(&mut stream, http::LAST_CHUNK, timeout).await?;
        }
        if !keep_alive {
            let _ = with_timeout(timeout, stream.close()).await;
            return Ok(());
        }
    }
}

//! The HTTP/1.1 connection driver for the web page: reads request heads and bodies within
//! their limits and deadlines, lets `web` answer, writes the responses, keeps the connection
//! for the next request when both sides want that.
//!
//! Invariants: a whole request (head and body) must arrive within `web.timeout_secs` of its
//! first byte, and the next one must start within the same time (slowloris); the buffer never
//! holds more than the head limit plus the body limit; a malformed or oversized request gets its
//! status code and the connection is closed; responses are written in request order (no
//! pipelining beyond reading ahead into the buffer).

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

/// Chunks of a streamed body between its writer (blocking pool) and the connection.
const STREAM_CHUNK: usize = 64 * 1024;
const STREAM_QUEUE: usize = 4;

/// A [`std::io::Write`] that hands full chunks to the connection task.
struct ChunkSender {
    tx: async_channel::Sender<Vec<u8>>,
    buf: Vec<u8>,
}

impl std::io::Write for ChunkSender {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(STREAM_CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == STREAM_CHUNK {
            self.flush()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(STREAM_CHUNK));
        self.tx
            .send_blocking(chunk)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client gone"))
    }
}

/// Sends a streamed body with chunked transfer coding (RFC 9112 §7.1): the source writes on
/// the blocking pool into a bounded queue, so at most a few chunks are in memory. Only a source
/// that finished writes the last chunk; if it failed, the connection ends without it.
async fn send_stream(
    stream: &mut Stream,
    source: Arc<dyn http::BodySource>,
    limit: Duration,
) -> Result<(), ConnError> {
    let (tx, rx) = async_channel::bounded(STREAM_QUEUE);
    let producer = blocking::unblock(move || {
        let mut w = ChunkSender {
            tx,
            buf: Vec::with_capacity(STREAM_CHUNK),
        };
        source
            .write_to(&mut w)
            .and_then(|_| std::io::Write::flush(&mut w))
    });
    while let Ok(chunk) = rx.recv().await {
        let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
        framed.extend_from_slice(&chunk);
        framed.extend_from_slice(b"\r\n");
        // A client that stops reading closes the queue, which stops the writer.
        send(stream, &framed, limit).await?;
    }
    producer
        .await
        .map_err(|e| ConnError::Io(std::io::Error::other(e.to_string())))?;
    send(stream, b"0\r\n\r\n", limit).await
}

/// Serves one connection until either side ends it.
pub async fn serve(stream: Stream, ctx: WebContext) -> Result<(), ConnError> {
    let Some(mut stream) = starting_stream(stream, ctx.https, ctx.tls.clone()).await? else {
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
        while buf.len() < req.content_length {
            match fill(&mut stream, &mut buf, deadline, &ctx.shutdown).await {
                Ok(true) => {}
                Ok(false) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        req.body = buf.drain(..req.content_length).collect();
        let keep_alive =
            req.keep_alive() && ctx.shutdown.try_recv().is_err() && !ctx.shutdown.is_closed();
        let response = ctx.web.handle(&req, origin).await;
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
        if let Some(source) = response.stream.filter(|_| !head_only)
            && let Err(e) = send_stream(&mut stream, source, timeout).await
        {
            log::info!("cid={} web: streamed body not finished: {e}", ctx.cid);
            return Err(e);
        }
        if !keep_alive {
            let _ = with_timeout(timeout, stream.close()).await;
            return Ok(());
        }
    }
}

//! Connection drivers: one per role, each pumping bytes between a (TLS) stream and a sans-IO
//! session from `proto`, with timeouts and limits.
//!
//! Invariants: every read and write has a deadline; output is flushed before each read; a
//! session's decisions that need the store are awaited in order, so replies leave in command
//! order. Drivers never panic on peer input and never block the executor thread.

pub mod compress;
pub mod imap;
pub mod managesieve;
pub mod mdns;
pub mod pop3;
pub mod smtp;
pub mod stream;
pub mod web;

use std::time::Duration;

/// A connection's id, carried by every log line about it (`cid=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId(pub u64);

impl std::fmt::Display for ConnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why a connection ended abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// Socket error.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A read or write deadline passed.
    #[error("timeout")]
    Timeout,
    /// The TLS handshake failed.
    #[error("tls handshake: {0}")]
    Tls(std::io::Error),
}

/// Runs `fut` with a deadline.
pub async fn with_timeout<T>(
    limit: Duration,
    fut: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T, ConnError> {
    futures_lite::future::or(async { fut.await.map_err(ConnError::from) }, async {
        async_io::Timer::after(limit).await;
        Err(ConnError::Timeout)
    })
    .await
}

/// What one read of a session driver brought.
pub enum Input {
    /// This many bytes.
    Bytes(usize),
    /// The client closed the connection, or it failed.
    Eof,
    /// Nothing came within the deadline.
    Timeout,
    /// The server is shutting down.
    Shutdown,
}

/// Reads into `buf` with a deadline, or stops early when the server shuts down.
pub async fn read_some(
    stream: &mut stream::Stream,
    buf: &mut [u8],
    limit: Duration,
    shutdown: &async_channel::Receiver<()>,
) -> Input {
    use futures_lite::AsyncReadExt;
    let read = async {
        match with_timeout(limit, stream.read(buf)).await {
            Ok(0) => Input::Eof,
            Ok(n) => Input::Bytes(n),
            Err(ConnError::Timeout) => Input::Timeout,
            Err(_) => Input::Eof,
        }
    };
    futures_lite::future::or(read, async {
        let _ = shutdown.recv().await;
        Input::Shutdown
    })
    .await
}

/// Sends a sans-IO session's pending output within `limit` and flushes the stream. The output
/// buffer is handed to the write and given back emptied, so its capacity is kept and nothing is
/// copied.
pub async fn send_output(
    stream: &mut stream::Stream,
    session: &mut impl crate::proto::line::Exchange,
    limit: Duration,
) -> Result<(), ConnError> {
    use futures_lite::AsyncWriteExt;
    if !session.output().is_empty() {
        let out = std::mem::take(&mut session.buffers_mut().out);
        let sent = with_timeout(limit, stream.write_all(&out)).await;
        let buf = &mut session.buffers_mut().out;
        *buf = out;
        buf.clear();
        sent?;
    }
    with_timeout(limit, stream.flush()).await
}

/// The server side of a TLS handshake (implicit TLS, or after STARTTLS/STLS), which must end
/// within `limit` (`net.tls_handshake_secs`) however the client spaces its bytes.
pub async fn tls_handshake(
    stream: stream::Stream,
    config: std::sync::Arc<rustls::ServerConfig>,
    limit: Duration,
) -> Result<stream::Stream, ConnError> {
    futures_lite::future::or(
        async { stream.upgrade(config).await.map_err(ConnError::Tls) },
        async {
            async_io::Timer::after(limit).await;
            Err(ConnError::Timeout)
        },
    )
    .await
}

/// The stream a session starts on: on an implicit-TLS port, after the handshake; `None` when
/// that port has no certificate to offer (the connection is then closed without a word).
pub async fn starting_stream(
    stream: stream::Stream,
    implicit_tls: bool,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    limit: Duration,
) -> Result<Option<stream::Stream>, ConnError> {
    if !implicit_tls {
        return Ok(Some(stream));
    }
    match tls {
        Some(config) => tls_handshake(stream, config, limit).await.map(Some),
        None => Ok(None),
    }
}

/// Read deadlines that stop slow clients (slowloris), not only idle ones:
/// - between commands a client may stay silent for the idle timeout;
/// - once a command's first byte has arrived, the whole command (its literals included) must
///   arrive within the command timeout, however the client spaces its bytes;
/// - message data may pause at most the data timeout between reads, and must keep an average
///   rate: after the first data timeout, each second must have brought `min_rate` bytes.
#[derive(Debug)]
pub struct ReadClock {
    idle: Duration,
    command: Duration,
    data: Duration,
    min_rate: u64,
    line_started: Option<std::time::Instant>,
    data_started: Option<(std::time::Instant, u64)>,
}

impl ReadClock {
    /// A clock for commands only: `idle` between them, `command` to finish one.
    pub fn new(idle: Duration, command: Duration) -> ReadClock {
        ReadClock {
            idle,
            command,
            data: command,
            min_rate: 0,
            line_started: None,
            data_started: None,
        }
    }

    /// The same clock with limits for message data (`min_rate` in bytes per second; 0 disables
    /// the rate rule).
    pub fn with_data(self, data: Duration, min_rate: u64) -> ReadClock {
        ReadClock {
            data,
            min_rate,
            ..self
        }
    }

    /// How long the next read may wait. `partial` says whether part of a command is buffered.
    pub fn limit(&mut self, in_data: bool, partial: bool) -> Duration {
        let now = std::time::Instant::now();
        if in_data {
            self.line_started = None;
            let (start, bytes) = *self.data_started.get_or_insert((now, 0));
            if self.min_rate == 0 {
                return self.data;
            }
            let budget = self.data + Duration::from_secs_f64(bytes as f64 / self.min_rate as f64);
            return self
                .data
                .min((start + budget).saturating_duration_since(now));
        }
        self.data_started = None;
        if !partial {
            self.line_started = None;
            return self.idle;
        }
        // The first call that sees part of a command follows the read that brought its first
        // bytes: the command's time starts there.
        let start = *self.line_started.get_or_insert(now);
        (start + self.command).saturating_duration_since(now)
    }

    /// Records bytes received while reading message data.
    pub fn received(&mut self, n: usize) {
        if let Some((_, bytes)) = self.data_started.as_mut() {
            *bytes += n as u64;
        }
    }
}

/// Escapes peer-supplied text for a log line and cuts it short.
pub fn loggable(s: &str, max: usize) -> String {
    s.chars().take(max).flat_map(char::escape_default).collect()
}

//! Connection drivers: one per role, each pumping bytes between a (TLS) stream and a sans-IO
//! session from `proto`, with timeouts and limits.
//!
//! Invariants: every read and write has a deadline; output is flushed before each read; a
//! session's decisions that need the store are awaited in order, so replies leave in command
//! order. Drivers never panic on peer input and never block the executor thread.

pub mod mx;
pub mod stream;

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

/// Escapes peer-supplied text for a log line and cuts it short.
pub fn loggable(s: &str, max: usize) -> String {
    s.chars().take(max).flat_map(char::escape_default).collect()
}

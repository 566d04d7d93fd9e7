//! The byte stream under a session: plain TCP, or TLS over TCP (implicit or after STARTTLS).

use async_io::Async;
use futures_lite::{AsyncRead, AsyncWrite};
use futures_rustls::server::TlsStream;
use std::io;
use std::net::TcpStream;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A client connection.
pub enum Stream {
    /// Plain TCP.
    Plain(Async<TcpStream>),
    /// TLS over TCP.
    Tls(Box<TlsStream<Async<TcpStream>>>),
    /// Between the two during a handshake (any I/O fails).
    Upgrading,
}

impl Stream {
    /// Performs the server side of a TLS handshake on a plain stream.
    pub async fn upgrade(self, config: Arc<rustls::ServerConfig>) -> io::Result<Stream> {
        match self {
            Stream::Plain(tcp) => {
                let tls = futures_rustls::TlsAcceptor::from(config)
                    .accept(tcp)
                    .await?;
                Ok(Stream::Tls(Box::new(tls)))
            }
            other => Ok(other),
        }
    }

    /// A description of the negotiated TLS parameters, if any.
    pub fn tls_description(&self) -> Option<String> {
        match self {
            Stream::Tls(s) => Some(crate::tls::describe(s.get_ref().1)),
            _ => None,
        }
    }
}

fn upgrading() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "stream is being upgraded")
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_close(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_close(cx),
            Stream::Upgrading => Poll::Ready(Ok(())),
        }
    }
}

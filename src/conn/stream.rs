//! The byte stream under a session: plain TCP, or TLS over TCP (implicit or after STARTTLS),
//! as the server side of a client's connection or as the client side of the outbound queue's.
//!
//! Invariant: a TLS peer that closes without close_notify reads as an ordinary end of stream
//! (every protocol here frames its own messages, so nothing truncated passes for complete).

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
    /// TLS over TCP, server side.
    Tls(Box<TlsStream<Async<TcpStream>>>),
    /// TLS over TCP, client side (outbound SMTP).
    ClientTls(Box<futures_rustls::client::TlsStream<Async<TcpStream>>>),
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

    /// Performs the client side of a TLS handshake on a plain stream, for server `name`.
    pub async fn connect_tls(
        self,
        config: Arc<rustls::ClientConfig>,
        name: rustls::pki_types::ServerName<'static>,
    ) -> io::Result<Stream> {
        match self {
            Stream::Plain(tcp) => {
                let tls = futures_rustls::TlsConnector::from(config)
                    .connect(name, tcp)
                    .await?;
                Ok(Stream::ClientTls(Box::new(tls)))
            }
            other => Ok(other),
        }
    }

    /// The application protocol negotiated with ALPN (RFC 7301), if any.
    pub fn alpn(&self) -> Option<Vec<u8>> {
        match self {
            Stream::Tls(s) => s.get_ref().1.alpn_protocol().map(<[u8]>::to_vec),
            _ => None,
        }
    }

    /// A description of the negotiated TLS parameters, if any.
    pub fn tls_description(&self) -> Option<String> {
        match self {
            Stream::Tls(s) => Some(crate::tls::describe(&**s.get_ref().1)),
            Stream::ClientTls(s) => Some(crate::tls::describe(&**s.get_ref().1)),
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
        let read = match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::ClientTls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Upgrading => Poll::Ready(Err(upgrading())),
        };
        // Many clients close a TLS connection without close_notify; rustls reports that as
        // UnexpectedEof. Every protocol here frames its own messages, so a truncation cannot
        // pass for a complete message: it is an ordinary end of stream (RFC 8446 §6.1 leaves
        // this to the application).
        match read {
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Poll::Ready(Ok(0)),
            other => other,
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
            Stream::ClientTls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::ClientTls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_close(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_close(cx),
            Stream::ClientTls(s) => Pin::new(s.as_mut()).poll_close(cx),
            Stream::Upgrading => Poll::Ready(Ok(())),
        }
    }
}

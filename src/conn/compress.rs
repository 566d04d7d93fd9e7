//! COMPRESS=DEFLATE (RFC 4978): raw DEFLATE (RFC 1951) in both directions over a stream.
//!
//! Each flush ends with a sync flush, so every response the server sends is decodable by the
//! client at once (RFC 4978 §4). Buffers are bounded: at most one read buffer of compressed input
//! and the compressed form of what one write handed over.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use futures_lite::{AsyncRead, AsyncWrite};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

const BUF: usize = 16 * 1024;

/// A stream whose bytes are DEFLATE-compressed on the wire.
pub struct Deflate<S> {
    inner: S,
    inflate: Decompress,
    deflate: Compress,
    /// Compressed bytes read from `inner`, not yet inflated: `raw[raw_pos..raw_end]`.
    raw: Vec<u8>,
    raw_pos: usize,
    raw_end: usize,
    /// Compressed bytes waiting to be written to `inner`.
    pending: Vec<u8>,
    pending_pos: usize,
    eof: bool,
}

impl<S> Deflate<S> {
    /// Wraps `inner` (compression starts with the next byte either way).
    pub fn new(inner: S) -> Deflate<S> {
        Deflate {
            inner,
            inflate: Decompress::new(false),
            deflate: Compress::new(Compression::new(6), false),
            raw: vec![0; BUF],
            raw_pos: 0,
            raw_end: 0,
            pending: Vec::with_capacity(BUF),
            pending_pos: 0,
            eof: false,
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("deflate: {e}"))
}

impl<S: AsyncRead + AsyncWrite + Unpin> Deflate<S> {
    fn poll_write_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.pending_pos < self.pending.len() {
            let n = ready!(
                Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.pending_pos..])
            )?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending_pos += n;
        }
        self.pending.clear();
        self.pending_pos = 0;
        Poll::Ready(Ok(()))
    }

    /// Compresses `input` into `pending` with `flush`; returns bytes of `input` consumed (all).
    fn compress(&mut self, input: &[u8], flush: FlushCompress) -> io::Result<usize> {
        let mut consumed = 0;
        loop {
            self.pending.reserve(BUF.max(input.len() - consumed + 64));
            let before_in = self.deflate.total_in();
            self.deflate
                .compress_vec(&input[consumed..], &mut self.pending, flush)
                .map_err(invalid)?;
            consumed += (self.deflate.total_in() - before_in) as usize;
            // Done once all input is taken and the compressor stopped short of the buffer's end
            // (so it had nothing more to emit for this flush mode).
            if consumed == input.len() && self.pending.len() < self.pending.capacity() {
                return Ok(consumed);
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Deflate<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            if this.raw_pos < this.raw_end {
                let before_in = this.inflate.total_in();
                let before_out = this.inflate.total_out();
                this.inflate
                    .decompress(
                        &this.raw[this.raw_pos..this.raw_end],
                        buf,
                        FlushDecompress::Sync,
                    )
                    .map_err(invalid)?;
                this.raw_pos += (this.inflate.total_in() - before_in) as usize;
                let produced = (this.inflate.total_out() - before_out) as usize;
                if produced > 0 {
                    return Poll::Ready(Ok(produced));
                }
                if this.raw_pos < this.raw_end {
                    continue;
                }
            }
            if this.eof {
                return Poll::Ready(Ok(0));
            }
            this.raw_pos = 0;
            this.raw_end = 0;
            let n = ready!(Pin::new(&mut this.inner).poll_read(cx, &mut this.raw))?;
            if n == 0 {
                this.eof = true;
            }
            this.raw_end = n;
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Deflate<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.pending.len() >= BUF {
            ready!(this.poll_write_pending(cx))?;
        }
        let n = this.compress(buf, FlushCompress::None)?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.pending_pos == 0 {
            this.compress(&[], FlushCompress::Sync)?;
        }
        ready!(this.poll_write_pending(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(Pin::new(&mut *this).poll_flush(cx))?;
        Pin::new(&mut this.inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::io::Cursor;
    use futures_lite::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn round_trips_through_flate2() {
        futures_lite::future::block_on(async {
            // Write through the wrapper into memory, then read it back through another wrapper.
            let mut w = Deflate::new(Cursor::new(Vec::new()));
            let text: Vec<u8> = (0..200_000u32)
                .flat_map(|i| format!("* {i} FETCH (FLAGS (\\Seen))\r\n").into_bytes())
                .collect();
            for part in text.chunks(7777) {
                w.write_all(part).await.unwrap();
                w.flush().await.unwrap();
            }
            let wire = w.inner.into_inner();
            assert!(
                wire.len() < text.len() / 5,
                "compressed {} of {}",
                wire.len(),
                text.len()
            );
            let mut r = Deflate::new(Cursor::new(wire));
            let mut back = Vec::new();
            r.read_to_end(&mut back).await.unwrap();
            assert_eq!(back, text);
        });
    }
}

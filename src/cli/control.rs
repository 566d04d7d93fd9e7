//! The control socket `DATA/control.sock`: how admin commands reach a running server (redb
//! allows one process per file).
//!
//! Wire format, both directions length-prefixed (u32 big-endian):
//! - request: magic `MNK1`, argument count, then each argument (an admin argv, see
//!   [`AdminCommand::to_args`](super::args::AdminCommand::to_args));
//! - response: frames of a tag byte and a payload: `o` standard output bytes (any number),
//!   then either `x` with a one-byte exit code, or `e` with an error message followed by `x`.
//!
//! The socket is created owner-only (0600) inside the owner-only data folder. Requests are
//! bounded ([`MAX_ARGS`], [`MAX_ARG_BYTES`]).

use std::io::{self, Read, Write};

const MAGIC: &[u8; 4] = b"MNK1";
/// Most arguments in a request.
pub const MAX_ARGS: u32 = 32;
/// Longest argument.
pub const MAX_ARG_BYTES: u32 = 4096;
/// The socket's file name inside the data folder.
pub const SOCKET_NAME: &str = "control.sock";

fn put_u32(w: &mut dyn Write, v: u32) -> io::Result<()> {
    w.write_all(&v.to_be_bytes())
}

fn get_u32(r: &mut dyn Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_be_bytes(b))
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Writes a request.
pub fn write_request(w: &mut dyn Write, args: &[String]) -> io::Result<()> {
    w.write_all(MAGIC)?;
    put_u32(w, args.len() as u32)?;
    for a in args {
        put_u32(w, a.len() as u32)?;
        w.write_all(a.as_bytes())?;
    }
    w.flush()
}

/// Reads a request (bounded).
pub fn read_request(r: &mut dyn Read) -> io::Result<Vec<String>> {
    let mut magic = [0u8; 4];
    r.read_exact(&mut magic)?;
    if &magic != MAGIC {
        return Err(bad("not a mailnook control request"));
    }
    let n = get_u32(r)?;
    if n > MAX_ARGS {
        return Err(bad("too many arguments"));
    }
    let mut args = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let len = get_u32(r)?;
        if len > MAX_ARG_BYTES {
            return Err(bad("argument too long"));
        }
        let mut b = vec![0u8; len as usize];
        r.read_exact(&mut b)?;
        args.push(String::from_utf8(b).map_err(|_| bad("argument is not UTF-8"))?);
    }
    Ok(args)
}

fn frame(w: &mut dyn Write, tag: u8, payload: &[u8]) -> io::Result<()> {
    w.write_all(&[tag])?;
    put_u32(w, payload.len() as u32)?;
    w.write_all(payload)
}

/// A writer that sends standard output as `o` frames, buffered.
pub struct FrameWriter<'a> {
    inner: &'a mut dyn Write,
    buf: Vec<u8>,
}

impl<'a> FrameWriter<'a> {
    /// Wraps the connection.
    pub fn new(inner: &'a mut dyn Write) -> FrameWriter<'a> {
        FrameWriter {
            inner,
            buf: Vec::new(),
        }
    }

    /// Sends the buffered output, then the outcome.
    pub fn finish(mut self, result: Result<(), String>, code: u8) -> io::Result<()> {
        self.flush()?;
        if let Err(msg) = result {
            frame(self.inner, b'e', msg.as_bytes())?;
        }
        frame(self.inner, b'x', &[code])?;
        self.inner.flush()
    }
}

impl Write for FrameWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 64 * 1024 {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            frame(self.inner, b'o', &self.buf)?;
            self.buf.clear();
        }
        self.inner.flush()
    }
}

/// Reads response frames, copying output to `out` and errors to `err`; returns the exit code.
pub fn read_response(r: &mut dyn Read, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<u8> {
    loop {
        let mut tag = [0u8; 1];
        r.read_exact(&mut tag)?;
        let len = get_u32(r)? as usize;
        if len > 16 * 1024 * 1024 {
            return Err(bad("oversized frame"));
        }
        // Read what arrives rather than allocating the announced length up front.
        let mut payload = Vec::new();
        r.take(len as u64).read_to_end(&mut payload)?;
        if payload.len() != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "truncated frame",
            ));
        }
        match tag[0] {
            b'o' => out.write_all(&payload)?,
            b'e' => {
                err.write_all(&payload)?;
                err.write_all(b"\n")?;
            }
            b'x' => return Ok(payload.first().copied().unwrap_or(1)),
            _ => return Err(bad("unknown frame")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_response_round_trip() {
        let mut wire = Vec::new();
        write_request(&mut wire, &["user".into(), "list".into()]).unwrap();
        assert_eq!(
            read_request(&mut wire.as_slice()).unwrap(),
            vec!["user", "list"]
        );
        let mut resp = Vec::new();
        let mut w = FrameWriter::new(&mut resp);
        w.write_all(b"hello\n").unwrap();
        w.finish(Err("boom".into()), 1).unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(
            read_response(&mut resp.as_slice(), &mut out, &mut err).unwrap(),
            1
        );
        assert_eq!(
            (out.as_slice(), err.as_slice()),
            (&b"hello\n"[..], &b"boom\n"[..])
        );
        let mut huge = Vec::new();
        huge.extend_from_slice(MAGIC);
        huge.extend_from_slice(&1000u32.to_be_bytes());
        assert!(read_request(&mut huge.as_slice()).is_err());
    }
}

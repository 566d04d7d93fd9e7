//! The client side of POP3 (RFC 1939), for collecting mail from another server
//! (`mailnook collect`). Sans-IO: bytes in, status lines, listing lines and message pieces out;
//! the driver that owns the socket is `cli::collect`.
//!
//! Invariants:
//! - A status line (`+OK`/`-ERR`, RFC 1939 §3) or a line of a UIDL/LIST listing longer than
//!   [`MAX_LINE_BYTES`] without its CRLF is an error at once, never buffered further.
//! - A message (RETR's multi-line answer) is handed out in pieces as it arrives, never held
//!   whole: the buffer only holds what one read added. Dot-stuffing is undone (RFC 1939 §3: a
//!   line starting with the termination octet has it removed) and the lone `.` line ends the
//!   message; the pieces add up to the message with its CRLFs.
//! - The listing parsers accept exactly RFC 1939 §7's `msg unique-id` (1 to 70 characters in
//!   0x21..0x7E) and §5's `msg octets`; nothing here panics on any input (fuzz target
//!   `pop3_client_responses`).

/// Longest status or listing line accepted (RFC 1939 §3 allows 512 octets for responses;
/// servers are lenient, this is too).
pub const MAX_LINE_BYTES: usize = 4096;
/// Longest unique-id (RFC 1939 §7).
pub const MAX_UID_BYTES: usize = 70;

/// What went wrong with the server's bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Pop3Error {
    /// A line without its CRLF grew past [`MAX_LINE_BYTES`].
    #[error("the server sent a line longer than {MAX_LINE_BYTES} bytes")]
    LineTooLong,
    /// A status line that is neither `+OK` nor `-ERR`.
    #[error("unexpected response from the server: {0}")]
    Syntax(String),
}

/// A status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// `+OK` (true) or `-ERR` (false).
    pub ok: bool,
    /// The text after the indicator.
    pub text: String,
}

/// A piece of a multi-line answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Message bytes, dot-stuffing undone.
    Data(Vec<u8>),
    /// The terminating `.` line was read.
    End,
}

/// Splits server bytes into status lines, listing lines and message pieces. Which one comes
/// next is the caller's to know (it sent the command).
#[derive(Debug, Default)]
pub struct Reader {
    buf: Vec<u8>,
    /// In a multi-line answer, whether the next byte starts a line.
    mid_line: bool,
}

fn crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

impl Reader {
    /// A reader at the start of a line.
    pub fn new() -> Reader {
        Reader::default()
    }

    /// Adds bytes read from the server.
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes buffered that nothing has taken yet.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Whether bytes are buffered that nothing has taken yet.
    pub fn has_pending(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Drops buffered bytes (after STLS nothing sent before the handshake may be used).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.mid_line = false;
    }

    /// One whole line without its CRLF, if buffered.
    fn line(&mut self) -> Result<Option<Vec<u8>>, Pop3Error> {
        match crlf(&self.buf) {
            Some(i) if i <= MAX_LINE_BYTES => {
                let line = self.buf[..i].to_vec();
                self.buf.drain(..i + 2);
                Ok(Some(line))
            }
            Some(_) => Err(Pop3Error::LineTooLong),
            None if self.buf.len() > MAX_LINE_BYTES + 1 => Err(Pop3Error::LineTooLong),
            None => Ok(None),
        }
    }

    /// The next status line (RFC 1939 §3), if a whole one is buffered.
    pub fn status(&mut self) -> Result<Option<Status>, Pop3Error> {
        let Some(line) = self.line()? else {
            return Ok(None);
        };
        let text = |rest: &[u8]| {
            String::from_utf8_lossy(rest.strip_prefix(b" ").unwrap_or(rest)).into_owned()
        };
        if let Some(rest) = line.strip_prefix(b"+OK") {
            Ok(Some(Status {
                ok: true,
                text: text(rest),
            }))
        } else if let Some(rest) = line.strip_prefix(b"-ERR") {
            Ok(Some(Status {
                ok: false,
                text: text(rest),
            }))
        } else {
            let shown: String = String::from_utf8_lossy(&line).chars().take(100).collect();
            Err(Pop3Error::Syntax(shown))
        }
    }

    /// The next line of a multi-line listing (UIDL, LIST, CAPA): `Some(None)` at its end.
    pub fn listing_line(&mut self) -> Result<Option<Option<Vec<u8>>>, Pop3Error> {
        let Some(line) = self.line()? else {
            return Ok(None);
        };
        if line == b"." {
            return Ok(Some(None));
        }
        Ok(Some(Some(match line.strip_prefix(b".") {
            Some(rest) => rest.to_vec(),
            None => line,
        })))
    }

    /// The next piece of a multi-line message (RETR), if bytes are buffered.
    pub fn piece(&mut self) -> Option<Piece> {
        if !self.mid_line && self.buf.first() == Some(&b'.') {
            match self.buf.get(1) {
                None => return None,
                Some(b'\r') => match self.buf.get(2) {
                    None => return None,
                    Some(b'\n') => {
                        self.buf.drain(..3);
                        return Some(Piece::End);
                    }
                    Some(_) => {}
                },
                Some(_) => {}
            }
            self.buf.remove(0);
            self.mid_line = true;
        }
        if self.buf.is_empty() {
            return None;
        }
        let take = match crlf(&self.buf) {
            Some(i) => {
                self.mid_line = false;
                i + 2
            }
            None => {
                // Hold back a final CR: it may start the CRLF that ends the line.
                let n = self.buf.len() - usize::from(self.buf.last() == Some(&b'\r'));
                if n == 0 {
                    return None;
                }
                self.mid_line = true;
                n
            }
        };
        Some(Piece::Data(self.buf.drain(..take).collect()))
    }
}

fn printable(s: &[u8]) -> bool {
    s.iter().all(|b| (0x21..=0x7e).contains(b))
}

fn number<T: std::str::FromStr>(s: &[u8]) -> Option<T> {
    if s.is_empty() || s.len() > 20 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// A UIDL listing line (RFC 1939 §7): message number and unique-id.
pub fn parse_uidl(line: &[u8]) -> Option<(u32, String)> {
    let mut it = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let n = number(it.next()?)?;
    let uid = it.next()?;
    if it.next().is_some() || uid.len() > MAX_UID_BYTES || !printable(uid) {
        return None;
    }
    Some((n, String::from_utf8_lossy(uid).into_owned()))
}

/// A LIST listing line (RFC 1939 §5): message number and size in octets.
pub fn parse_list(line: &[u8]) -> Option<(u32, u64)> {
    let mut it = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let n = number(it.next()?)?;
    let size = number(it.next()?)?;
    Some((n, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &mut Reader) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        while let Some(p) = r.piece() {
            match p {
                Piece::Data(d) => out.extend(d),
                Piece::End => return (out, true),
            }
        }
        (out, false)
    }

    #[test]
    fn reads_status_lines() {
        let mut r = Reader::new();
        r.feed(b"+OK ready\r\n-ERR no\r\n+OK\r\nHELLO\r\n");
        assert_eq!(
            r.status().unwrap(),
            Some(Status {
                ok: true,
                text: "ready".into()
            })
        );
        assert_eq!(
            r.status().unwrap(),
            Some(Status {
                ok: false,
                text: "no".into()
            })
        );
        assert_eq!(
            r.status().unwrap(),
            Some(Status {
                ok: true,
                text: "".into()
            })
        );
        assert!(r.status().is_err());
        let mut r = Reader::new();
        r.feed(&[b'x'; MAX_LINE_BYTES + 2]);
        assert_eq!(r.status(), Err(Pop3Error::LineTooLong));
    }

    #[test]
    fn unstuffs_messages_fed_byte_by_byte() {
        let wire = b"Subject: x\r\n\r\n..dot\r\n\r\n..\r\nend\r\n.\r\n+OK next\r\n";
        let want = b"Subject: x\r\n\r\n.dot\r\n\r\n.\r\nend\r\n".to_vec();
        // Whole, and one byte at a time: the same bytes.
        let mut r = Reader::new();
        r.feed(wire);
        assert_eq!(body(&mut r), (want.clone(), true));
        assert!(r.status().unwrap().unwrap().ok);
        let mut r = Reader::new();
        let mut got = Vec::new();
        let mut ended = false;
        for b in wire.iter() {
            r.feed(&[*b]);
            let (d, e) = body(&mut r);
            got.extend(d);
            if e {
                ended = true;
                break;
            }
        }
        assert!(ended);
        assert_eq!(got, want);
    }

    #[test]
    fn parses_listings() {
        let mut r = Reader::new();
        r.feed(b"1 abc\r\n2 d\r\n.\r\n");
        assert_eq!(r.listing_line().unwrap(), Some(Some(b"1 abc".to_vec())));
        assert_eq!(r.listing_line().unwrap(), Some(Some(b"2 d".to_vec())));
        assert_eq!(r.listing_line().unwrap(), Some(None));
        assert_eq!(
            parse_uidl(b"1 whqtswO00WBw418f9t5JxYwZ"),
            Some((1, "whqtswO00WBw418f9t5JxYwZ".into()))
        );
        assert_eq!(parse_uidl(b"1 a b"), None);
        assert_eq!(parse_uidl(&[b"1 ".as_slice(), &[b'a'; 71]].concat()), None);
        assert_eq!(parse_list(b"3 120"), Some((3, 120)));
        assert_eq!(parse_list(b"3 x"), None);
    }
}

//! Bounded line splitting for the line-oriented protocols (SMTP commands, POP3).
//!
//! A line ends at LF; a CR before it is stripped. A line longer than the limit is reported once
//! as [`Split::TooLong`] and the rest of it is discarded up to its LF, so a flood of bytes without
//! a newline never grows a buffer beyond the limit.
//!
//! [`Buffers`] and [`Exchange`] are the byte side every sans-IO session shares with its driver:
//! the driver feeds what it read and sends what the session wrote; consumed input is dropped on
//! the next feed, so the held input is what the session has not parsed yet.

/// One step of splitting.
#[derive(Debug, PartialEq, Eq)]
pub enum Split<'a> {
    /// A complete line without its line ending. `crlf` is false when it ended in a bare LF.
    Line {
        /// The line's content.
        line: &'a [u8],
        /// Whether it ended with CRLF.
        crlf: bool,
    },
    /// The line exceeded the limit; its bytes so far were dropped and the rest will be.
    TooLong,
    /// No complete line yet. If nothing was consumed, feed more input; otherwise call again.
    Incomplete,
}

/// Splits lines of at most `max` octets (line ending included) out of an input buffer.
#[derive(Debug, Clone)]
pub struct LineSplitter {
    max: usize,
    discarding: bool,
}

impl LineSplitter {
    /// A splitter for lines of at most `max` octets including CRLF.
    pub fn new(max: usize) -> LineSplitter {
        LineSplitter {
            max: max.max(3),
            discarding: false,
        }
    }

    /// Examines `input`; returns how many bytes were consumed and what was found. The caller
    /// drops the consumed bytes and calls again while lines keep coming.
    pub fn split<'a>(&mut self, input: &'a [u8]) -> (usize, Split<'a>) {
        match memchr::memchr(b'\n', input) {
            Some(nl) if self.discarding => {
                // The end of a line already reported as too long: nothing new to say.
                self.discarding = false;
                (nl + 1, Split::Incomplete)
            }
            Some(nl) if nl + 1 > self.max => (nl + 1, Split::TooLong),
            Some(nl) => {
                let crlf = nl > 0 && input[nl - 1] == b'\r';
                let line = &input[..if crlf { nl - 1 } else { nl }];
                (nl + 1, Split::Line { line, crlf })
            }
            None if self.discarding => (input.len(), Split::Incomplete),
            None if input.len() >= self.max => {
                self.discarding = true;
                (input.len(), Split::TooLong)
            }
            None => (0, Split::Incomplete),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(line: &[u8], crlf: bool) -> Split<'_> {
        Split::Line { line, crlf }
    }

    #[test]
    fn splits_crlf_and_bare_lf_lines() {
        let mut s = LineSplitter::new(10);
        assert_eq!(s.split(b"ab\r\ncd"), (4, line(b"ab", true)));
        assert_eq!(s.split(b"cd"), (0, Split::Incomplete));
        assert_eq!(s.split(b"cd\n"), (3, line(b"cd", false)));
    }

    #[test]
    fn reports_a_long_line_once_and_discards_it() {
        let mut s = LineSplitter::new(6);
        assert_eq!(s.split(b"1234567\r\nok\r\n"), (9, Split::TooLong));
        assert_eq!(s.split(b"ok\r\n"), (4, line(b"ok", true)));
        // Without a newline in sight: report at the limit, then swallow until LF.
        assert_eq!(s.split(b"123456"), (6, Split::TooLong));
        assert_eq!(s.split(b"789"), (3, Split::Incomplete));
        assert_eq!(s.split(b"0\r\nnext\r\n"), (3, Split::Incomplete));
        assert_eq!(s.split(b"next\r\n"), (6, line(b"next", true)));
        // Exactly at the limit is fine.
        assert_eq!(s.split(b"1234\r\n"), (6, line(b"1234", true)));
    }
}

/// A sans-IO session's bytes: input read from the peer (consumed up to `pos`) and output the
/// driver has not sent yet.
#[derive(Debug, Default)]
pub struct Buffers {
    /// Bytes read from the peer; those before `pos` are consumed.
    pub input: Vec<u8>,
    /// How much of `input` the session has consumed.
    pub pos: usize,
    /// Bytes to send before the next read.
    pub out: Vec<u8>,
}

/// The driver's side of a session over [`Buffers`]: feed, send, clear.
pub trait Exchange {
    /// The session's buffers.
    fn buffers(&self) -> &Buffers;
    /// The session's buffers, to change.
    fn buffers_mut(&mut self) -> &mut Buffers;

    /// Bytes to send before the next read.
    fn output(&self) -> &[u8] {
        &self.buffers().out
    }

    /// Call after sending [`output`](Self::output).
    fn clear_output(&mut self) {
        self.buffers_mut().out.clear();
    }

    /// Adds bytes read from the peer, dropping what the session already consumed.
    fn feed(&mut self, bytes: &[u8]) {
        let b = self.buffers_mut();
        if b.pos > 0 {
            b.input.drain(..b.pos);
            b.pos = 0;
        }
        b.input.extend_from_slice(bytes);
    }

    /// Input bytes held but not yet consumed.
    fn buffered_input(&self) -> usize {
        let b = self.buffers();
        b.input.len() - b.pos
    }
}

//! Dot-stuffed message data (RFC 5321 §4.5.2 SMTP DATA transparency, RFC 1939 §3 POP3
//! multi-line responses): the stored message with CRLF line ends, a "." doubled at the start of
//! each line, ended by "." on a line of its own.
//!
//! Streaming: the driver feeds the stored bytes in any pieces and writes what comes out; state
//! between pieces is a few flags, so memory does not depend on the message size. A bare LF in the
//! stored bytes goes out as CRLF. For POP3 TOP the encoder stops after the header, its blank line
//! and the requested number of body lines.

/// Encodes one message for RETR (`top: None`) or TOP (`top: Some(lines)`).
#[derive(Debug)]
pub struct DotEncoder {
    /// At the start of an output line.
    line_start: bool,
    /// The last input byte was CR (its LF may come in the next piece).
    after_cr: bool,
    /// TOP: body lines still wanted, once the header has ended.
    body_lines: Option<u32>,
    /// TOP: still inside the header; the current line is empty so far.
    in_header: bool,
    line_empty: bool,
    done: bool,
}

impl DotEncoder {
    /// An encoder for RETR (`None`) or TOP with that many body lines.
    pub fn new(top: Option<u32>) -> DotEncoder {
        DotEncoder {
            line_start: true,
            after_cr: false,
            body_lines: top,
            in_header: top.is_some(),
            line_empty: true,
            done: false,
        }
    }

    /// Whether TOP has everything it wants (the driver can stop reading).
    pub fn done(&self) -> bool {
        self.done
    }

    /// Appends the encoded form of `input` to `out`.
    pub fn encode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len() + input.len() / 64 + 4);
        for &b in input {
            if self.done {
                return;
            }
            match b {
                b'\n' => {
                    if !self.after_cr {
                        out.push(b'\r');
                    }
                    out.push(b'\n');
                    self.after_cr = false;
                    self.line_start = true;
                    self.end_line();
                }
                _ => {
                    if self.after_cr {
                        // A CR not followed by LF: kept as data.
                        self.line_empty = false;
                    }
                    if self.line_start && b == b'.' {
                        out.push(b'.');
                    }
                    out.push(b);
                    self.line_start = false;
                    self.after_cr = b == b'\r';
                    if b != b'\r' {
                        self.line_empty = false;
                    }
                }
            }
        }
    }

    /// A line ended: TOP counts header and body lines.
    fn end_line(&mut self) {
        if self.in_header {
            if self.line_empty {
                self.in_header = false;
                if self.body_lines == Some(0) {
                    self.done = true;
                }
            }
        } else if let Some(n) = self.body_lines.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.done = true;
            }
        }
        self.line_empty = true;
    }

    /// Ends the response: a final CRLF if the message did not end with one, then ".".
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.line_start {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        self.done = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(top: Option<u32>, pieces: &[&[u8]]) -> String {
        let mut e = DotEncoder::new(top);
        let mut out = Vec::new();
        for p in pieces {
            e.encode(p, &mut out);
        }
        e.finish(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn stuffs_dots_and_ends_with_a_dot_line() {
        let msg = b"Subject: x\r\n\r\n.hidden\r\n..two\r\nend.\r\n";
        let want = "Subject: x\r\n\r\n..hidden\r\n...two\r\nend.\r\n.\r\n";
        assert_eq!(encode(None, &[msg]), want);
        // Any split gives the same bytes.
        for cut in 0..msg.len() {
            assert_eq!(encode(None, &[&msg[..cut], &msg[cut..]]), want, "cut {cut}");
        }
    }

    #[test]
    fn bare_lf_becomes_crlf_and_a_missing_final_line_end_is_added() {
        assert_eq!(encode(None, &[b"a\nb"]), "a\r\nb\r\n.\r\n");
        assert_eq!(encode(None, &[b"a\r", b"\nb\r\n"]), "a\r\nb\r\n.\r\n");
        assert_eq!(encode(None, &[b""]), ".\r\n");
    }

    #[test]
    fn top_sends_the_header_and_n_body_lines() {
        let msg = b"A: 1\r\nB: 2\r\n\r\nl1\r\n.l2\r\nl3\r\n";
        assert_eq!(encode(Some(0), &[msg]), "A: 1\r\nB: 2\r\n\r\n.\r\n");
        assert_eq!(
            encode(Some(2), &[msg]),
            "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\n.\r\n"
        );
        assert_eq!(
            encode(Some(9), &[msg]),
            "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n"
        );
        // A message without a body.
        assert_eq!(encode(Some(3), &[b"A: 1\r\n"]), "A: 1\r\n.\r\n");
    }
}

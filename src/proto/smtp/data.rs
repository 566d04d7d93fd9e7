//! Message data decoding: DATA dot-unstuffing (RFC 5321 §4.5.2) and the line-ending check
//! shared with BDAT.
//!
//! Policy (SMTP smuggling, CVE-2023-51764 class): only `CRLF . CRLF` ends DATA. Any bare CR or
//! bare LF in the data is passed through but noted, and the session then refuses the whole
//! message with 550 5.6.0 after reading it to its real end, so the two ends of a relay can never
//! disagree about where a message stops. smtp-proto's `DataReceiver` is not used because it
//! neither reports bare line endings nor treats the first line as a line start (a message whose
//! first line is `.` or `..x` would be misread).

/// Where the decoder stands in the byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// At the start of a line (after CRLF, or at the very start).
    LineStart,
    /// After a `.` at line start.
    Dot,
    /// After `.` CR at line start.
    DotCr,
    /// Inside a line.
    Mid,
    /// After a CR.
    Cr,
}

/// Tracks CR/LF pairing across chunks; used directly for BDAT and inside [`DataDecoder`].
#[derive(Debug, Clone, Default)]
pub struct NewlineCheck {
    after_cr: bool,
    /// Set once a CR not followed by LF, or an LF not preceded by CR, was seen.
    pub bare: bool,
}

impl NewlineCheck {
    /// Scans a chunk of message bytes.
    pub fn scan(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match (self.after_cr, b) {
                (true, b'\n') => self.after_cr = false,
                (true, b'\r') => self.bare = true,
                (true, _) => {
                    self.bare = true;
                    self.after_cr = false;
                }
                (false, b'\r') => self.after_cr = true,
                (false, b'\n') => self.bare = true,
                _ => {}
            }
        }
    }

    /// Call at the end of the data: a trailing CR is bare.
    pub fn finish(&mut self) {
        if self.after_cr {
            self.bare = true;
        }
    }
}

/// Decodes DATA input into message bytes.
#[derive(Debug, Clone)]
pub struct DataDecoder {
    at: At,
    /// Set once a bare CR or LF was seen.
    pub bare_newline: bool,
}

impl Default for DataDecoder {
    fn default() -> Self {
        DataDecoder {
            at: At::LineStart,
            bare_newline: false,
        }
    }
}

impl DataDecoder {
    /// Decodes `input` into `out` (appending). Returns `(consumed, ended)`: when `ended`, the
    /// terminating `CRLF . CRLF` was consumed (its CRLF before the dot stays in `out`, as it
    /// belongs to the message's last line) and the bytes after it are left for the caller.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> (usize, bool) {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.at {
                At::Mid => {
                    // Fast path: copy up to the next CR or LF.
                    match memchr::memchr2(b'\r', b'\n', &input[i..]) {
                        None => {
                            out.extend_from_slice(&input[i..]);
                            return (input.len(), false);
                        }
                        Some(k) => {
                            out.extend_from_slice(&input[i..i + k]);
                            i += k;
                            let c = input[i];
                            out.push(c);
                            if c == b'\r' {
                                self.at = At::Cr;
                            } else {
                                self.bare_newline = true; // LF without CR
                            }
                        }
                    }
                }
                At::LineStart if b == b'.' => self.at = At::Dot,
                At::Dot if b == b'\r' => self.at = At::DotCr,
                // The first byte of a line's content (after a removed stuffing dot, RFC 5321
                // §4.5.2: the leading dot goes, the byte stays).
                At::LineStart | At::Dot => {
                    out.push(b);
                    self.at = match b {
                        b'\r' => At::Cr,
                        b'\n' => {
                            self.bare_newline = true;
                            At::Mid
                        }
                        _ => At::Mid,
                    };
                }
                At::DotCr => {
                    if b == b'\n' {
                        return (i + 1, true);
                    }
                    // ".\r" then something else: the dot was stuffing, the CR is bare.
                    out.push(b'\r');
                    self.bare_newline = true;
                    self.at = At::Cr;
                    continue; // reconsider `b` after the CR
                }
                At::Cr => match b {
                    b'\n' => {
                        out.push(b);
                        self.at = At::LineStart;
                    }
                    b'\r' => {
                        out.push(b);
                        self.bare_newline = true;
                    }
                    _ => {
                        out.push(b);
                        self.bare_newline = true;
                        self.at = At::Mid;
                    }
                },
            }
            i += 1;
        }
        (input.len(), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8]) -> (Vec<u8>, bool, bool, usize) {
        // Whole, then byte by byte: both must agree.
        let mut d = DataDecoder::default();
        let mut out = Vec::new();
        let (n, ended) = d.decode(input, &mut out);
        let mut d2 = DataDecoder::default();
        let mut out2 = Vec::new();
        let mut n2 = 0;
        let mut ended2 = false;
        for b in input {
            let (k, e) = d2.decode(std::slice::from_ref(b), &mut out2);
            n2 += k;
            if e {
                ended2 = true;
                break;
            }
        }
        assert_eq!(
            (out.clone(), ended, d.bare_newline, n),
            (out2, ended2, d2.bare_newline, n2)
        );
        (out, ended, d.bare_newline, n)
    }

    #[test]
    fn ends_only_at_crlf_dot_crlf() {
        assert_eq!(run(b".\r\n"), (b"".to_vec(), true, false, 3));
        assert_eq!(run(b"a\r\n.\r\nMAIL"), (b"a\r\n".to_vec(), true, false, 6));
        assert_eq!(
            run(b"a\r\n..b\r\n.\r\n"),
            (b"a\r\n.b\r\n".to_vec(), true, false, 11)
        );
        assert_eq!(run(b"..\r\n.\r\n"), (b".\r\n".to_vec(), true, false, 7));
    }

    #[test]
    fn smuggling_variants_do_not_end_data_and_are_flagged() {
        for input in [
            &b"a\n.\nb"[..],
            b"a\n.\r\nb",
            b"a\r.\r\nb",
            b"a\r\n.\nb",
            b"a\r\n.\rb",
        ] {
            let (_, ended, bare, _) = run(input);
            assert!(!ended, "{input:?} ended DATA");
            assert!(bare, "{input:?} not flagged");
        }
        let (out, ended, bare, _) = run(b"x\n.\r\n.\r\n");
        assert!(bare && ended);
        assert_eq!(out, b"x\n.\r\n");
    }

    #[test]
    fn newline_check_tracks_across_chunks() {
        let mut c = NewlineCheck::default();
        c.scan(b"a\r");
        c.scan(b"\nb\r\n");
        c.finish();
        assert!(!c.bare);
        for bad in [&b"a\nb"[..], b"a\rb", b"a\r"] {
            let mut c = NewlineCheck::default();
            c.scan(bad);
            c.finish();
            assert!(c.bare, "{bad:?}");
        }
    }
}

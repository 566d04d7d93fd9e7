//! Streaming Content-Transfer-Encoding decoders (RFC 2045 §6.7 quoted-printable, §6.8 base64),
//! for IMAP BINARY (RFC 3516) and text search. Bounded state: a few pending bytes between
//! chunks, whatever the part size. Malformed input is decoded leniently the way mail readers do
//! (invalid base64 characters skipped, a stray `=` kept) rather than failing.

/// A transfer encoding this module can undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// 7bit, 8bit, binary: the bytes as they are.
    Identity,
    /// base64
    Base64,
    /// quoted-printable
    QuotedPrintable,
}

impl Encoding {
    /// The encoding named by a Content-Transfer-Encoding value; `None` if unknown (RFC 3516
    /// §4.3: answered with `[UNKNOWN-CTE]`).
    pub fn from_name(name: Option<&[u8]>) -> Option<Encoding> {
        let Some(name) = name else {
            return Some(Encoding::Identity);
        };
        let name = String::from_utf8_lossy(name).trim().to_ascii_lowercase();
        match name.as_str() {
            "" | "7bit" | "8bit" | "binary" => Some(Encoding::Identity),
            "base64" => Some(Encoding::Base64),
            "quoted-printable" => Some(Encoding::QuotedPrintable),
            _ => None,
        }
    }
}

/// Decodes one part's body chunk by chunk.
#[derive(Debug, Clone)]
pub struct Decoder {
    kind: Encoding,
    pending: Vec<u8>,
    bits: u32,
    nbits: u8,
}

fn b64(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    } as u32)
}

/// The value of one hexadecimal digit (either case).
pub(super) fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

impl Decoder {
    /// A decoder for `kind`.
    pub fn new(kind: Encoding) -> Decoder {
        Decoder {
            kind,
            pending: Vec::new(),
            bits: 0,
            nbits: 0,
        }
    }

    /// Decodes `input`, appending to `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        match self.kind {
            Encoding::Identity => out.extend_from_slice(input),
            Encoding::Base64 => {
                for &c in input {
                    if c == b'=' {
                        // Padding ends the current quantum.
                        self.bits = 0;
                        self.nbits = 0;
                        continue;
                    }
                    let Some(v) = b64(c) else { continue };
                    self.bits = (self.bits << 6) | v;
                    self.nbits += 6;
                    if self.nbits >= 8 {
                        self.nbits -= 8;
                        out.push((self.bits >> self.nbits) as u8);
                        self.bits &= (1 << self.nbits) - 1;
                    }
                }
            }
            Encoding::QuotedPrintable => {
                self.pending.extend_from_slice(input);
                let data = std::mem::take(&mut self.pending);
                let mut i = 0;
                while i < data.len() {
                    let c = data[i];
                    if c != b'=' {
                        out.push(c);
                        i += 1;
                        continue;
                    }
                    // Need up to two more bytes to decide.
                    if i + 2 >= data.len() && !(i + 1 < data.len() && data[i + 1] == b'\n') {
                        self.pending.extend_from_slice(&data[i..]);
                        return;
                    }
                    match (data[i + 1], data.get(i + 2).copied()) {
                        (b'\r', Some(b'\n')) => i += 3,
                        (b'\n', _) => i += 2,
                        (h, Some(l)) => match (hex(h), hex(l)) {
                            (Some(h), Some(l)) => {
                                out.push(h << 4 | l);
                                i += 3;
                            }
                            _ => {
                                out.push(b'=');
                                i += 1;
                            }
                        },
                        _ => {
                            out.push(b'=');
                            i += 1;
                        }
                    }
                }
            }
        }
    }

    /// Flushes what is left at the end of the part.
    pub fn finish(self, out: &mut Vec<u8>) {
        if self.kind == Encoding::QuotedPrintable {
            // A trailing "=" or "=X" that never completed.
            out.extend_from_slice(&self.pending);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(kind: Encoding, input: &[u8], chunk: usize) -> Vec<u8> {
        let mut d = Decoder::new(kind);
        let mut out = Vec::new();
        for c in input.chunks(chunk.max(1)) {
            d.feed(c, &mut out);
        }
        d.finish(&mut out);
        out
    }

    #[test]
    fn decodes_in_any_chunking() {
        for chunk in [1, 2, 3, 7, 100] {
            assert_eq!(
                decode(Encoding::Base64, b"SGVs\r\nbG8g\r\nd29y bGQ=\r\n", chunk),
                b"Hello world"
            );
            assert_eq!(
                decode(
                    Encoding::QuotedPrintable,
                    b"caf=C3=A9 soft=\r\nbreak =3D x=\n=ZZ end=",
                    chunk
                ),
                "café softbreak = x=ZZ end=".as_bytes()
            );
            assert_eq!(decode(Encoding::Identity, b"as is", chunk), b"as is");
        }
        assert_eq!(
            Encoding::from_name(Some(b" Base64 ")),
            Some(Encoding::Base64)
        );
        assert_eq!(Encoding::from_name(Some(b"x-uuencode")), None);
    }
}

//! Base64 (RFC 4648 §4, the standard alphabet) for SASL exchanges (IMAP, POP3, the SMTP client),
//! PHC strings and DKIM tags, and its URL-safe form (RFC 4648 §5, unpadded as RFC 7515 §2 wants)
//! for ACME's JWS: the crate's one implementation, a leaf every layer may use.
//!
//! Small and strict on purpose: the decoder takes a bound on its output and refuses anything not
//! in canonical form (no whitespace, padding only at the end, zero pad bits), so a peer cannot
//! make it allocate more than the bound or smuggle two spellings of the same bytes.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Why base64 text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base64Error {
    /// The decoded bytes would exceed the caller's bound.
    TooLong,
    /// Not canonical padded base64.
    Invalid,
}

/// Encodes `data`, with `=` padding when `pad` (SASL, RFC 4648 §4) or without (PHC strings).
pub(crate) fn encode(data: &[u8], pad: bool) -> String {
    encode_with(data, pad, ALPHABET)
}

/// Encodes `data` as unpadded base64url (RFC 4648 §5; RFC 7515 §2 "Base64url Encoding"), for
/// JWS and for tokens in cookies and forms.
pub(crate) fn encode_url(data: &[u8]) -> String {
    encode_with(data, false, URL_ALPHABET)
}

/// True when `s` consists of base64url characters only (RFC 4648 §5 alphabet, no padding).
pub(crate) fn is_url_safe(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn encode_with(data: &[u8], pad: bool, alphabet: &[u8; 64]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..4 {
            if i < chars {
                out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

fn value(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes padded base64 of at most `max_decoded` bytes. The length is checked before anything
/// is allocated.
pub(crate) fn decode(text: &[u8], max_decoded: usize) -> Result<Vec<u8>, Base64Error> {
    // RFC 4648 §3.2: padded input is a whole number of 4-character quanta.
    if !text.len().is_multiple_of(4) {
        return Err(Base64Error::Invalid);
    }
    let pads = text.iter().rev().take_while(|&&c| c == b'=').count();
    if pads > 2 {
        return Err(Base64Error::Invalid);
    }
    let decoded_len = text.len() / 4 * 3 - pads;
    if decoded_len > max_decoded {
        return Err(Base64Error::TooLong);
    }
    let body = &text[..text.len() - pads];
    let mut out = Vec::with_capacity(decoded_len);
    for chunk in body.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            // RFC 4648 §3.3: characters outside the alphabet (and `=` before the end) are errors.
            n |= value(c).ok_or(Base64Error::Invalid)? << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let keep = chunk.len() - 1;
        // RFC 4648 §3.5: the pad bits of the last quantum must be zero (one spelling per value).
        if keep < 3 && n & (0xff_ffff >> (8 * keep)) != 0 {
            return Err(Base64Error::Invalid);
        }
        out.extend_from_slice(&bytes[..keep]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4648 §10 test vectors.
    const VECTORS: &[(&str, &str)] = &[
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];

    #[test]
    fn rfc4648_vectors_round_trip() {
        for (plain, b64) in VECTORS {
            assert_eq!(encode(plain.as_bytes(), true), *b64);
            assert_eq!(encode(plain.as_bytes(), false), b64.trim_end_matches('='));
            assert_eq!(decode(b64.as_bytes(), 64).unwrap(), plain.as_bytes());
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(decode(encode(&all, true).as_bytes(), 256).unwrap(), all);
    }

    #[test]
    fn url_safe_form_has_no_padding_and_its_own_alphabet() {
        // RFC 7515 appendix C: the bytes 3, 236, 255, 224, 193 encode as "A-z_4ME".
        assert_eq!(encode_url(&[3, 236, 255, 224, 193]), "A-z_4ME");
        assert_eq!(encode_url(b"foob"), "Zm9vYg");
        assert!(is_url_safe("A-z_4ME") && !is_url_safe("Zm9vYg==") && !is_url_safe("a/b"));
    }

    #[test]
    fn refuses_non_canonical_and_oversized_input() {
        for bad in [
            "Zg", "Zg=", "Zg===", "Z===", "Zh==", "Zm9=", "Zm9v\r\n", " Zm9v", "Zm=v", "Zm9v====",
            "Zm-v", "Zm_v",
        ] {
            assert_eq!(
                decode(bad.as_bytes(), 64),
                Err(Base64Error::Invalid),
                "{bad:?}"
            );
        }
        assert_eq!(decode(b"Zm9vYmFy", 5), Err(Base64Error::TooLong));
        assert_eq!(decode(b"Zm9vYmE=", 5).unwrap(), b"fooba");
    }
}

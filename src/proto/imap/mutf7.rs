//! Modified UTF-7 mailbox names (RFC 3501 §5.1.3), used with IMAP4rev1 clients that have not
//! enabled UTF-8 (RFC 9051 and RFC 6855 use UTF-8 directly).
//!
//! `&` starts a base64 run (alphabet with `,` instead of `/`) of UTF-16BE, `-` ends it, `&-` is a
//! literal `&`. Decoding is strict: malformed input is an error, never a silent substitution, so
//! two different wire names can never map to one stored name.

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn b64_value(c: u8) -> Option<u32> {
    B64.iter().position(|&x| x == c).map(|p| p as u32)
}

/// Encodes a UTF-8 name for the wire.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        out.push('&');
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        for chunk in bytes.chunks(3) {
            let n = (u32::from(chunk[0]) << 16)
                | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
                | u32::from(*chunk.get(2).unwrap_or(&0));
            let digits = [(n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63];
            for d in &digits[..chunk.len() + 1] {
                out.push(B64[*d as usize] as char);
            }
        }
        out.push('-');
        pending.clear();
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

/// Decodes a wire name; `None` if it is not valid modified UTF-7.
pub fn decode(wire: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(wire.len());
    let mut i = 0;
    while i < wire.len() {
        let c = wire[i];
        if !(0x20..=0x7e).contains(&c) {
            return None;
        }
        if c != b'&' {
            out.push(c as char);
            i += 1;
            continue;
        }
        let end = i + 1 + wire[i + 1..].iter().position(|&b| b == b'-')?;
        let run = &wire[i + 1..end];
        if run.is_empty() {
            out.push('&');
            i = end + 1;
            continue;
        }
        let mut bits = 0u32;
        let mut nbits = 0;
        let mut units: Vec<u16> = Vec::new();
        let mut bytes: Vec<u8> = Vec::new();
        for &b in run {
            bits = (bits << 6) | b64_value(b)?;
            nbits += 6;
            if nbits >= 8 {
                nbits -= 8;
                bytes.push((bits >> nbits) as u8);
                bits &= (1 << nbits) - 1;
            }
        }
        // Leftover bits must be zero padding shorter than a byte.
        if nbits >= 6 || bits != 0 || !bytes.len().is_multiple_of(2) {
            return None;
        }
        for pair in bytes.chunks(2) {
            units.push(u16::from_be_bytes([pair[0], pair[1]]));
        }
        let decoded = String::from_utf16(&units).ok()?;
        // A run must not encode printable ASCII (that would make two spellings of one name).
        if decoded.chars().any(|c| (' '..='~').contains(&c)) {
            return None;
        }
        out.push_str(&decoded);
        i = end + 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_rfc_examples() {
        // RFC 3501 §5.1.3 example.
        assert_eq!(
            encode("~peter/mail/台北/日本語"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
        assert_eq!(
            decode(b"~peter/mail/&U,BTFw-/&ZeVnLIqe-").as_deref(),
            Some("~peter/mail/台北/日本語")
        );
        assert_eq!(encode("A&B"), "A&-B");
        assert_eq!(decode(b"A&-B").as_deref(), Some("A&B"));
        for name in [
            "Entwürfe",
            "Gesendete Elemente",
            "😀 emoji",
            "plain",
            "a&b&",
        ] {
            assert_eq!(
                decode(encode(name).as_bytes()).as_deref(),
                Some(name),
                "{name}"
            );
        }
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            &b"&"[..],
            b"&U,BTFw",
            b"&AGE-",
            b"\xc3\xa4",
            b"&U,BTF-",
            b"a\x01",
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }
}

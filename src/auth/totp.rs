//! Time-based one-time passwords, the second login factor of the web page: RFC 6238 TOTP over
//! RFC 4226 HOTP, with the parameters every authenticator app uses by default (HMAC-SHA-1,
//! 30-second steps counted from the Unix epoch, 6 digits), the secret in base32 (RFC 4648 §6)
//! and the `otpauth://totp/…` URI that apps scan from a QR code.
//!
//! Pure functions: the caller supplies the time and keeps the secret and the last step used
//! (the store's business). No I/O but [`new_secret`]'s read of the OS random source.
//!
//! Invariants:
//! - [`verify`] accepts the current step and one step on either side (RFC 6238 §5.2 allows one
//!   step back for transmission delay; one forward covers a phone clock a little fast), and never
//!   a step at or before the last one accepted, so a code cannot be used twice (§5.2: "MUST NOT
//!   accept the second attempt of the OTP after the successful validation").
//! - Comparison is constant-time: every candidate step is computed and compared byte by byte
//!   with an OR of XORs, without early exit, whether or not an earlier one matched.
//! - Secrets shorter than 128 bits never verify (RFC 4226 §4 R6), so an empty or truncated
//!   secret cannot open an account; [`new_secret`] makes 160-bit ones (the recommended length).
//! - Parsing is bounded: [`parse_base32`] refuses more than [`MAX_BASE32_CHARS`] bytes before
//!   doing anything else; codes longer than [`MAX_CODE_CHARS`] bytes are refused unread.

use std::fmt::Write as _;

use ring::hmac;

/// Bytes of a new secret (160 bits, RFC 4226 §4 R6's recommendation).
pub const SECRET_BYTES: usize = 20;
/// Shortest secret [`verify`] accepts (128 bits, RFC 4226 §4 R6).
pub const MIN_SECRET_BYTES: usize = 16;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Length of a time step in seconds (RFC 6238 §4.1 `X`, its recommended default).
pub const STEP_SECS: u64 = 30;
/// Longest base32 text [`parse_base32`] reads, in bytes (spaces and padding included): up to 200
/// bytes of secret.
pub const MAX_BASE32_CHARS: usize = 320;
/// Longest code text [`verify`] reads, in bytes (spaces included).
pub const MAX_CODE_CHARS: usize = 16;

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The HMAC of HOTP. Only SHA-1 is used for logins (what apps support everywhere); the SHA-2
/// variants of RFC 6238 exist here for its test vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Sha1,
    #[cfg(test)]
    Sha256,
    #[cfg(test)]
    Sha512,
}

impl Algorithm {
    fn hmac(self) -> hmac::Algorithm {
        match self {
            Algorithm::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            #[cfg(test)]
            Algorithm::Sha256 => hmac::HMAC_SHA256,
            #[cfg(test)]
            Algorithm::Sha512 => hmac::HMAC_SHA512,
        }
    }
}

/// A fresh random secret of [`SECRET_BYTES`] from the OS.
pub fn new_secret() -> Result<[u8; SECRET_BYTES], getrandom::Error> {
    let mut secret = [0u8; SECRET_BYTES];
    getrandom::fill(&mut secret)?;
    Ok(secret)
}

/// RFC 4226 §5.3 dynamic truncation of an HMAC value: the low nibble of the last byte picks an
/// offset, the 31 bits from there are the result.
fn truncate(mac: &[u8]) -> u32 {
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    u32::from_be_bytes([
        mac[offset],
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]) & 0x7fff_ffff
}

/// HOTP (RFC 4226 §5.3): `truncate(HMAC(secret, counter as 8 big-endian bytes)) mod 10^digits`.
fn hotp(algorithm: Algorithm, secret: &[u8], counter: u64, digits: u32) -> u32 {
    let key = hmac::Key::new(algorithm.hmac(), secret);
    let mac = hmac::sign(&key, &counter.to_be_bytes());
    truncate(mac.as_ref()) % 10u32.pow(digits)
}

/// The time step of `unix_time` (RFC 6238 §4.2: `T = (Current Unix time - T0) / X`, `T0 = 0`).
pub fn step_of(unix_time: u64) -> u64 {
    unix_time / STEP_SECS
}

/// The code for `unix_time` (RFC 6238 §4.2: HOTP with the time step as counter).
pub fn code_at(secret: &[u8], unix_time: u64) -> u32 {
    hotp(Algorithm::Sha1, secret, step_of(unix_time), DIGITS)
}

/// `code` zero-padded to [`DIGITS`] digits, as apps show it.
fn digits_of(code: u32) -> [u8; DIGITS as usize] {
    let mut out = [b'0'; DIGITS as usize];
    let mut n = code;
    for d in out.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out
}

/// Checks `code` (six digits; spaces ignored, as apps show "123 456") against `secret` at
/// `unix_time`. Returns the step it matched, which the caller stores and passes back as
/// `last_used_step` next time; `None` if it matches no step in the window after
/// `last_used_step`, or the secret is shorter than [`MIN_SECRET_BYTES`].
pub fn verify(
    secret: &[u8],
    code: &str,
    unix_time: u64,
    last_used_step: Option<u64>,
) -> Option<u64> {
    if code.len() > MAX_CODE_CHARS {
        return None;
    }
    let mut typed = [0u8; DIGITS as usize];
    let mut n = 0;
    for b in code.bytes().filter(|&b| b != b' ') {
        if !b.is_ascii_digit() || n == typed.len() {
            return None;
        }
        typed[n] = b;
        n += 1;
    }
    if n != typed.len() || secret.len() < MIN_SECRET_BYTES {
        return None;
    }
    let now = step_of(unix_time);
    let mut matched = None;
    // Every candidate is computed and compared; the latest match wins, so a code valid for
    // two steps (a one-in-a-million coincidence) burns both.
    for step in [now.checked_sub(1), Some(now), now.checked_add(1)]
        .into_iter()
        .flatten()
    {
        let expected = digits_of(hotp(Algorithm::Sha1, secret, step, DIGITS));
        let same = super::same_secret(&expected, &typed);
        let fresh = last_used_step.is_none_or(|last| step > last);
        if same && fresh {
            matched = Some(step);
        }
    }
    matched
}

/// `secret` in base32 (RFC 4648 §6), upper case, without `=` padding (as `otpauth://` URIs
/// carry it).
pub fn base32(secret: &[u8]) -> String {
    let mut out = String::with_capacity(secret.len().div_ceil(5) * 8);
    let mut buffer: u16 = 0;
    let mut bits = 0;
    for &byte in secret {
        buffer = (buffer << 8) | u16::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(
                BASE32_ALPHABET[usize::from((buffer >> bits) & 31)],
            ));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(
            BASE32_ALPHABET[usize::from((buffer << (5 - bits)) & 31)],
        ));
    }
    out
}

/// The bytes of base32 text: case-insensitive, spaces ignored, `=` padding allowed only at
/// the end. `None` for more than [`MAX_BASE32_CHARS`] bytes, any other character, a
/// length no byte string encodes to, or non-zero bits after the last byte (RFC 4648 §3.5:
/// canonical encoding only).
pub fn parse_base32(s: &str) -> Option<Vec<u8>> {
    if s.len() > MAX_BASE32_CHARS {
        return None;
    }
    let s = s.trim_end_matches([' ', '=']);
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let mut buffer: u16 = 0;
    let mut bits = 0;
    let mut chars = 0usize;
    for c in s.bytes().filter(|&c| c != b' ') {
        let value = match c.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        chars += 1;
        buffer = (buffer << 5) | u16::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    // RFC 4648 §6: a final quantum is 2, 4, 5 or 7 characters (8, 16, 24, 32 bits).
    if matches!(chars % 8, 1 | 3 | 6) || buffer != 0 {
        return None;
    }
    Some(out)
}

/// The `otpauth://totp/` URI authenticator apps scan (the "Key Uri Format" of Google
/// Authenticator, which every app follows): label `issuer:account`, the secret in base32 and
/// the parameters spelled out. Issuer and account are percent-encoded (RFC 3986 §2.1; every
/// byte but the unreserved characters of §2.3), so neither can add a parameter or move the
/// `:` between them. An empty issuer is left out.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let mut out = String::from("otpauth://totp/");
    if !issuer.is_empty() {
        percent_encode(&mut out, issuer);
        out.push(':');
    }
    percent_encode(&mut out, account);
    out.push_str("?secret=");
    out.push_str(&base32(secret));
    if !issuer.is_empty() {
        out.push_str("&issuer=");
        percent_encode(&mut out, issuer);
    }
    let _ = write!(out, "&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}");
    out
}

/// Appends `s` with every byte outside RFC 3986 §2.3 `unreserved` as `%XX`.
fn percent_encode(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED20: &[u8] = b"12345678901234567890";
    const SEED32: &[u8] = b"12345678901234567890123456789012";
    const SEED64: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

    /// RFC 4226 Appendix D: the truncated values and 6-digit HOTP codes for counters 0..=9.
    #[test]
    fn rfc4226_appendix_d() {
        let expected: [(u32, u32); 10] = [
            (1284755224, 755224),
            (1094287082, 287082),
            (137359152, 359152),
            (1726969429, 969429),
            (1640338314, 338314),
            (868254676, 254676),
            (1918287922, 287922),
            (82162583, 162583),
            (673399871, 399871),
            (645520489, 520489),
        ];
        for (counter, (truncated, code)) in expected.into_iter().enumerate() {
            let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, SEED20);
            let mac = hmac::sign(&key, &(counter as u64).to_be_bytes());
            assert_eq!(truncate(mac.as_ref()), truncated, "counter {counter}");
            assert_eq!(hotp(Algorithm::Sha1, SEED20, counter as u64, 6), code);
        }
    }

    /// RFC 6238 Appendix B: every row, 8 digits, for SHA-1, SHA-256 and SHA-512 (each with its
    /// own seed length, as in the RFC's reference code).
    #[test]
    fn rfc6238_appendix_b() {
        let rows: [(u64, u32, u32, u32); 6] = [
            (59, 94287082, 46119246, 90693936),
            (1111111109, 7081804, 68084774, 25091201),
            (1111111111, 14050471, 67062674, 99943326),
            (1234567890, 89005924, 91819424, 93441116),
            (2000000000, 69279037, 90698825, 38618901),
            (20000000000, 65353130, 77737706, 47863826),
        ];
        for (time, sha1, sha256, sha512) in rows {
            let step = step_of(time);
            assert_eq!(hotp(Algorithm::Sha1, SEED20, step, 8), sha1, "SHA1 {time}");
            assert_eq!(
                hotp(Algorithm::Sha256, SEED32, step, 8),
                sha256,
                "SHA256 {time}"
            );
            assert_eq!(
                hotp(Algorithm::Sha512, SEED64, step, 8),
                sha512,
                "SHA512 {time}"
            );
            // The 6-digit code is the same value's last six digits.
            assert_eq!(code_at(SEED20, time), sha1 % 1_000_000);
        }
        assert_eq!(step_of(59), 1);
        assert_eq!(step_of(1111111109), 0x023523EC);
        assert_eq!(step_of(20000000000), 0x27BC86AA);
    }

    #[test]
    fn rfc4648_base32_vectors() {
        let vectors: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "MY======"),
            (b"fo", "MZXQ===="),
            (b"foo", "MZXW6==="),
            (b"foob", "MZXW6YQ="),
            (b"fooba", "MZXW6YTB"),
            (b"foobar", "MZXW6YTBOI======"),
        ];
        for (data, padded) in vectors {
            let unpadded = padded.trim_end_matches('=');
            assert_eq!(base32(data), unpadded);
            assert_eq!(parse_base32(padded).as_deref(), Some(data), "{padded}");
            assert_eq!(parse_base32(unpadded).as_deref(), Some(data));
            assert_eq!(
                parse_base32(&unpadded.to_lowercase()).as_deref(),
                Some(data)
            );
        }
    }

    #[test]
    fn base32_round_trips_and_refuses_junk() {
        for len in 0..=64 {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let text = base32(&data);
            assert_eq!(parse_base32(&text), Some(data.clone()));
            // Grouped in fours with spaces, as some sites show secrets.
            let spaced: String = text
                .as_bytes()
                .chunks(4)
                .map(|c| std::str::from_utf8(c).unwrap().to_lowercase())
                .collect::<Vec<_>>()
                .join(" ");
            assert_eq!(parse_base32(&spaced), Some(data));
        }
        assert_eq!(
            parse_base32("GEZDGNBV GY3TQOJQ").as_deref(),
            Some(&b"1234567890"[..])
        );
        for bad in [
            "A", "ABC", "ABCDEF", "MY=A", "M1", "MZ", "ÄA", "MZXW6YT!", "MZ-XW",
        ] {
            assert_eq!(parse_base32(bad), None, "{bad}");
        }
        assert_eq!(parse_base32(&"A".repeat(MAX_BASE32_CHARS + 8)), None);
        assert!(parse_base32(&"A".repeat(MAX_BASE32_CHARS)).is_some());
    }

    #[test]
    fn verify_accepts_one_step_either_side_and_never_twice() {
        let secret = SEED20;
        let t = 1_234_567_890;
        let step = step_of(t);
        let code = |time: u64| format!("{:06}", code_at(secret, time));
        assert_eq!(verify(secret, &code(t), t, None), Some(step));
        assert_eq!(verify(secret, &code(t - 30), t, None), Some(step - 1));
        assert_eq!(verify(secret, &code(t + 30), t, None), Some(step + 1));
        assert_eq!(verify(secret, &code(t - 60), t, None), None);
        assert_eq!(verify(secret, &code(t + 60), t, None), None);
        // Replay: the same code, or an older one, after a success.
        assert_eq!(verify(secret, &code(t), t, Some(step)), None);
        assert_eq!(verify(secret, &code(t - 30), t + 5, Some(step)), None);
        assert_eq!(verify(secret, &code(t + 30), t, Some(step)), Some(step + 1));
        assert_eq!(verify(secret, &code(t + 30), t + 30, Some(step + 1)), None);
        // Spaces as apps show them; anything else is refused.
        let c = code(t);
        assert_eq!(
            verify(secret, &format!("{} {}", &c[..3], &c[3..]), t, None),
            Some(step)
        );
        for bad in [
            &c[..5],
            &format!("{c}0"),
            &format!("{c}x"),
            "",
            "12345a",
            "１２３４５６",
        ] {
            assert_eq!(verify(secret, bad, t, None), None, "{bad:?}");
        }
        assert_eq!(
            verify(
                secret,
                &format!("{c}{}", " ".repeat(MAX_CODE_CHARS)),
                t,
                None
            ),
            None
        );
        // Short secrets never verify.
        assert_eq!(
            verify(
                &secret[..15],
                &format!("{:06}", code_at(&secret[..15], t)),
                t,
                None
            ),
            None
        );
        assert_eq!(
            verify(b"", &format!("{:06}", code_at(b"", t)), t, None),
            None
        );
        // Step 0 has no step before it.
        assert_eq!(verify(secret, &code(0), 0, None), Some(0));
    }

    #[test]
    fn codes_keep_leading_zeros() {
        assert_eq!(&digits_of(7), b"000007");
        assert_eq!(&digits_of(123456), b"123456");
        // RFC 6238 Appendix B, T = 1111111109: 07081804, six digits "081804".
        assert_eq!(code_at(SEED20, 1111111109), 81804);
        assert_eq!(
            verify(SEED20, "081804", 1111111109, None),
            Some(step_of(1111111109))
        );
        assert_eq!(verify(SEED20, "81804", 1111111109, None), None);
    }

    #[test]
    fn new_secrets_are_random_and_full_length() {
        let a = new_secret().unwrap();
        let b = new_secret().unwrap();
        assert_ne!(a, b);
        assert_eq!(base32(&a).len(), 32);
    }

    #[test]
    fn otpauth_uri_is_percent_encoded() {
        let uri = otpauth_uri("mailnook example.test", "alice@example.test", SEED20);
        assert_eq!(
            uri,
            "otpauth://totp/mailnook%20example.test:alice%40example.test\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=mailnook%20example.test\
             &algorithm=SHA1&digits=6&period=30"
        );
        let odd = otpauth_uri("A:B&c=d", "x?y#z/é", b"1234567890123456");
        assert_eq!(
            odd,
            "otpauth://totp/A%3AB%26c%3Dd:x%3Fy%23z%2F%C3%A9?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY\
             &issuer=A%3AB%26c%3Dd&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(
            otpauth_uri("", "bob", SEED20),
            "otpauth://totp/bob?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&algorithm=SHA1&digits=6&period=30"
        );
    }
}

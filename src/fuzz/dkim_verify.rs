//! Fuzz entry point for DKIM verification ([`crate::dkim::verify`]) and ARC chain validation
//! ([`crate::dkim::arc`]): signature, seal and key-record parsing, header and body hashing, and
//! the checks against a fixed set of keys.

use futures_lite::future::block_on;

use super::{chunks, header, into_tokens};
use crate::dkim::arc::{self, ArcOutcome, ArcResult};
use crate::dkim::verify::{self, DkimVerifier, MAX_REPORTED_UNCHECKED, SignatureResult};
use crate::dns::mock::MockResolver;
use crate::dns::{Error, RecordType, Records};

/// RFC 8463 Appendix A.2 keys, plus a revoked key, a 512-bit RSA key and a failing lookup.
fn resolver() -> MockResolver {
    let txt = |v: &str| Records::Txt(vec![v.to_owned()]);
    MockResolver::new()
        .with(
            "brisbane._domainkey.football.example.com",
            txt("v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="),
        )
        .with(
            "test._domainkey.football.example.com",
            txt(concat!(
                "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR",
                "iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC",
                "DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3",
                "Ip3G+2kryOTIKT+l/K4w3QIDAQAB",
            )),
        )
        .with(
            "revoked._domainkey.football.example.com",
            txt("v=DKIM1; k=ed25519; p="),
        )
        .with_error(
            "slow._domainkey.football.example.com",
            RecordType::Txt,
            Error::Timeout,
        )
}

const TOKENS: &[&[u8]] = &[
    b"DKIM-Signature: ",
    b"ARC-Seal: ",
    b"ARC-Message-Signature: ",
    b"ARC-Authentication-Results: ",
    b"i=1; ",
    b"i=2; ",
    b"cv=none; ",
    b"cv=pass; ",
    b"cv=fail; ",
    b"v=1; ",
    b"a=ed25519-sha256; ",
    b"a=rsa-sha256; ",
    b"c=relaxed/relaxed; ",
    b"c=simple/simple; ",
    b"c=relaxed; ",
    b"d=football.example.com; ",
    b"s=brisbane; ",
    b"s=test; ",
    b"s=revoked; ",
    b"s=slow; ",
    b"h=from : to : subject; ",
    b"h=from; ",
    b"bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; ",
    b"bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; ",
    b"b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11BusFa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==; ",
    b"l=5; ",
    b"l=99999999999999999999; ",
    b"i=@football.example.com; ",
    b"t=1528637909; ",
    b"x=1528637910; ",
    b"q=dns/txt; ",
    b"From: Joe SixPack <joe@football.example.com>\r\n",
    b"To: Suzie Q <suzie@shopping.example.net>\r\n",
    b"Subject: Is dinner ready?\r\n",
    b"\r\n",
    b"\r\n ",
    b" ",
    b"\t",
    b";",
    b"=",
    b":",
    b"Hi.\r\n",
    b"\xff",
];

/// Runs the verifier over `header` and the body `pieces`.
fn run(header: &[u8], pieces: &[&[u8]], limit: usize) -> (Vec<SignatureResult>, ArcOutcome) {
    let mut v = DkimVerifier::with_limit(header, limit);
    for p in pieces {
        v.update(p);
    }
    let pending = v.finish();
    let r = resolver();
    block_on(async {
        let signatures = verify::verify(pending.signatures, &r, 1_700_000_000).await;
        (signatures, arc::verify(pending.arc, &r).await)
    })
}

/// Input: `[flags, size0, size1, payload...]`; flags bit 0 maps the payload to DKIM tokens,
/// bits 4–7 are the signature limit. The payload is split into header and body at its first
/// empty line. Checks: no panic; the result does not depend on how the body is split; at most
/// `limit + MAX_REPORTED_UNCHECKED` results, each with bounded report fields; `pass` only for
/// the signing domain of the fixed keys.
pub fn fuzz_dkim_verify(data: &[u8]) {
    let (h, rest) = header::<3>(data);
    let payload = if h[0] & 1 != 0 {
        into_tokens(rest, TOKENS)
    } else {
        rest.to_vec()
    };
    let limit = usize::from(h[0] >> 4);
    let (head, body) = match memchr::memmem::find(&payload, b"\r\n\r\n") {
        Some(i) => (&payload[..i + 2], &payload[i + 4..]),
        None => (&payload[..], &b""[..]),
    };
    let (whole, chain) = run(head, &[body], limit);
    let split = run(head, &chunks(body, &h[1..3]), limit);
    assert_eq!(
        (&whole, &chain),
        (&split.0, &split.1),
        "result depends on how the body was split"
    );
    assert!(chain.instance <= arc::MAX_INSTANCES);
    if chain.result == ArcResult::Pass {
        assert_eq!(chain.sealer, "football.example.com");
    }
    assert!(whole.len() <= limit + MAX_REPORTED_UNCHECKED);
    for r in &whole {
        assert!(r.header_b.chars().count() <= 8);
        assert!(r.domain.chars().count() <= 255 && r.selector.chars().count() <= 255);
        assert!(r.identity.chars().count() <= 256);
        if r.result == verify::DkimResult::Pass {
            assert_eq!(r.domain, "football.example.com");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8463_seed_passes_against_the_fixed_keys() {
        let seed = include_bytes!("../../tests/fuzz/corpus/dkim_verify/seed-rfc8463");
        let msg = &seed[3..];
        let i = memchr::memmem::find(msg, b"\r\n\r\n").unwrap();
        let (rs, _) = run(&msg[..i + 2], &[&msg[i + 4..]], 5);
        let got: Vec<&str> = rs.iter().map(|r| r.result.as_str()).collect();
        assert_eq!(got, ["pass", "pass"], "{rs:?}");
        fuzz_dkim_verify(seed);
    }
}

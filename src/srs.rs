//! The Sender Rewriting Scheme: when mail from another domain is forwarded to another domain
//! (an alias with an outside target, a Sieve redirect), its envelope sender is rewritten into
//! one of our addresses so the next hop's SPF check (RFC 7208) sees our domain and passes; a
//! bounce to that address is turned back into the original sender.
//!
//! Forms (as libsrs2 and postsrsd write them, with a base32 hash):
//! - `SRS0=HHHHHH=TT=orig-domain=orig-local@our-domain` for an ordinary sender;
//! - `SRS1=HHHHHH=first-hop==HHHHHH=TT=orig-domain=orig-local@our-domain` when the sender is
//!   already an SRS0 (or SRS1) address of `first-hop`: bounces go back to the first forwarder.
//!
//! Invariants: pure; `HHHHHH` is 30 bits of HMAC-SHA256 under the box's secret over the rest
//! (lower-cased, so hops that change case do not break it) and is compared ignoring case; `TT`
//! is the day number modulo 1024 in two base32 characters, and an address older than
//! `max_age_days` is refused, so the addresses cannot be used as an open relay forever; the null
//! sender is never rewritten.

use ring::hmac;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const HASH_CHARS: usize = 6;

/// Why an SRS address was not turned back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SrsError {
    /// Not an SRS address, or not one of its forms.
    #[error("not an SRS address")]
    Malformed,
    /// The hash does not match: not made here, or altered.
    #[error("SRS address not made here")]
    BadHash,
    /// Older than the configured age.
    #[error("SRS address expired")]
    Expired,
}

fn hash(key: &hmac::Key, parts: &[&str]) -> String {
    let mut ctx = hmac::Context::with_key(key);
    for p in parts {
        ctx.update(p.to_ascii_lowercase().as_bytes());
        ctx.update(b"\0");
    }
    let tag = ctx.sign();
    let bits = u32::from_be_bytes([
        tag.as_ref()[0],
        tag.as_ref()[1],
        tag.as_ref()[2],
        tag.as_ref()[3],
    ]);
    (0..HASH_CHARS)
        .map(|i| BASE32[((bits >> (27 - 5 * i as u32)) & 31) as usize] as char)
        .collect()
}

fn stamp(day: u64) -> String {
    let t = (day % 1024) as usize;
    [BASE32[t >> 5] as char, BASE32[t & 31] as char]
        .iter()
        .collect()
}

fn stamp_day(tt: &str) -> Option<u64> {
    let b = tt.as_bytes();
    if b.len() != 2 {
        return None;
    }
    let v = |c: u8| BASE32.iter().position(|&x| x == c.to_ascii_uppercase());
    Some((v(b[0])? * 32 + v(b[1])?) as u64)
}

/// The rewritten envelope sender for forwarding `sender` through `our_domain` on `day` (Unix
/// days); `None` for the null sender and anything else that is not `local@domain` (kept as it
/// is by the caller).
pub fn forward(secret: &[u8], sender: &str, our_domain: &str, day: u64) -> Option<String> {
    let (local, domain) = sender.rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() || domain.contains('=') {
        return None;
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let lower = local.to_ascii_lowercase();
    if lower.starts_with("srs0=") || lower.starts_with("srs1=") {
        // Already forwarded: SRS1 keeps the first hop so a bounce goes straight back to it.
        let (first_hop, rest) = if lower.starts_with("srs1=") {
            let mut it = local[5..].splitn(3, '=');
            let _old_hash = it.next();
            match (it.next(), it.next()) {
                (Some(hop), Some(rest)) => (hop.to_string(), rest.to_string()),
                _ => return None,
            }
        } else {
            (domain.to_string(), local[4..].to_string())
        };
        if first_hop.is_empty() || !rest.starts_with('=') {
            return None;
        }
        let h = hash(&key, &[&first_hop, &rest]);
        return Some(format!("SRS1={h}={first_hop}={rest}@{our_domain}"));
    }
    let tt = stamp(day);
    let h = hash(&key, &[&tt, domain, local]);
    Some(format!("SRS0={h}={tt}={domain}={local}@{our_domain}"))
}

/// The address an SRS local part (`SRS0=…` or `SRS1=…`, without `@our-domain`) stands for.
pub fn reverse(
    secret: &[u8],
    local: &str,
    day: u64,
    max_age_days: u64,
) -> Result<String, SrsError> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let lower = local.to_ascii_lowercase();
    if lower.starts_with("srs0=") {
        let mut it = local[5..].splitn(4, '=');
        let (Some(h), Some(tt), Some(domain), Some(orig)) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            return Err(SrsError::Malformed);
        };
        if domain.is_empty() || orig.is_empty() {
            return Err(SrsError::Malformed);
        }
        if !hash(&key, &[tt, domain, orig]).eq_ignore_ascii_case(h) {
            return Err(SrsError::BadHash);
        }
        let then = stamp_day(tt).ok_or(SrsError::Malformed)?;
        let age = (day % 1024 + 1024 - then) % 1024;
        if age > max_age_days {
            return Err(SrsError::Expired);
        }
        return Ok(format!("{orig}@{domain}"));
    }
    if lower.starts_with("srs1=") {
        let mut it = local[5..].splitn(3, '=');
        let (Some(h), Some(hop), Some(rest)) = (it.next(), it.next(), it.next()) else {
            return Err(SrsError::Malformed);
        };
        // `rest` is `=HHHHHH=TT=…` (the first hop's SRS0 part after its `SRS0`).
        if hop.is_empty() || !rest.starts_with('=') {
            return Err(SrsError::Malformed);
        }
        if !hash(&key, &[hop, rest]).eq_ignore_ascii_case(h) {
            return Err(SrsError::BadHash);
        }
        return Ok(format!("SRS0{rest}@{hop}"));
    }
    Err(SrsError::Malformed)
}

/// Whether `local` has an SRS form (so a recipient check asks [`reverse`]).
pub fn is_srs(local: &str) -> bool {
    let l = local.to_ascii_lowercase();
    l.starts_with("srs0=") || l.starts_with("srs1=")
}

/// The `STATE` key of the box's SRS secret (32 random bytes, made once).
pub const SECRET_KEY: &str = "srs.secret";

/// The box's SRS secret, made and stored on first use (blocking: call at start-up or from the
/// blocking pool).
pub fn ensure_secret(store: &crate::store::Store) -> crate::store::Result<Vec<u8>> {
    if let Some(s) = store.state(SECRET_KEY)? {
        return Ok(s);
    }
    let mut s = vec![0u8; 32];
    getrandom::fill(&mut s).map_err(|e| crate::store::Error::Io(e.to_string()))?;
    store.call_blocking(crate::store::Op::SetState {
        key: SECRET_KEY.into(),
        value: Some(s.clone()),
    })?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn round_trips_and_refusals() {
        let day = 20_000;
        let f = forward(KEY, "Ann.Lee@Example.org", "fwd.test", day).unwrap();
        assert!(
            f.starts_with("SRS0=") && f.ends_with("=Example.org=Ann.Lee@fwd.test"),
            "{f}"
        );
        let local = f.rsplit_once('@').unwrap().0;
        assert!(is_srs(local));
        assert_eq!(reverse(KEY, local, day, 21).unwrap(), "Ann.Lee@Example.org");
        // A hop that lower-cases the address changes nothing.
        assert_eq!(
            reverse(KEY, &local.to_ascii_lowercase(), day + 3, 21).unwrap(),
            "ann.lee@example.org"
        );
        assert_eq!(reverse(KEY, local, day + 22, 21), Err(SrsError::Expired));
        assert_eq!(
            reverse(b"another secret", local, day, 21),
            Err(SrsError::BadHash)
        );
        let forged = local.replace("Ann.Lee", "Bob");
        assert_eq!(reverse(KEY, &forged, day, 21), Err(SrsError::BadHash));
        for bad in [
            "SRS0=",
            "SRS0=abc",
            "SRS0=a=b=c",
            "SRS1=x",
            "plain",
            "SRS0=AAAAAA=ZZZ=d=l",
        ] {
            assert!(reverse(KEY, bad, day, 21).is_err(), "{bad}");
        }
        // Stamps wrap at 1024 days.
        let f = forward(KEY, "a@b.test", "fwd.test", 1023).unwrap();
        assert!(reverse(KEY, f.rsplit_once('@').unwrap().0, 1024 + 3, 21).is_ok());
        for not_an_address in ["", "x", "@d.test", "x@", "SRS0=a@", "SRS1=h@d.test"] {
            assert_eq!(
                forward(KEY, not_an_address, "fwd.test", day),
                None,
                "{not_an_address}"
            );
        }
    }

    #[test]
    fn a_forwarded_sender_becomes_srs1_and_bounces_to_the_first_hop() {
        let first = forward(b"first hop's key", "ann@example.org", "first.test", 7).unwrap();
        let second = forward(KEY, &first, "second.test", 7).unwrap();
        assert!(
            second.starts_with("SRS1=") && second.contains("=first.test=="),
            "{second}"
        );
        let back = reverse(KEY, second.rsplit_once('@').unwrap().0, 8, 21).unwrap();
        assert_eq!(back, first);
        // Forwarded once more: still names the first hop.
        let third = forward(b"third", &second, "third.test", 7).unwrap();
        assert!(third.contains("=first.test=="), "{third}");
    }
}

//! DNS lookups for the mail roles: MX for the outbound MTA, A/AAAA for its connections, TXT for
//! SPF/DKIM/DMARC, PTR for trace headers and spam evidence.
//!
//! The [`Resolver`] trait is what the rest of the server sees. [`stub::StubResolver`] implements it
//! over UDP/TCP to the system's recursive resolvers (it never recurses itself), with the TTL cache
//! of [`cache`]; [`mock::MockResolver`] implements it from a map for unit tests; and
//! [`testserver`] is a tiny in-process DNS server that integration tests point the real stub at.
//!
//! Invariants:
//! - Futures are `!Send` and run on the executor thread; every socket is an `async_io::Async`, every
//!   wait has a deadline, and nothing here blocks (reading `/etc/resolv.conf` is a `*_blocking`
//!   function meant for start-up).
//! - Nothing a peer sends can make parsing panic or allocate beyond the response size limit.
//! - Names are compared and cached lowercased, without the trailing dot.
//! - Errors keep "the name does not exist" (NXDOMAIN), "it has no such records" (NODATA) and
//!   "ask again later" (SERVFAIL, timeouts, malformed answers) apart: mail decisions differ on each.

pub mod cache;
pub mod mock;
pub mod stub;
pub mod testserver;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The record types the mail roles ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordType {
    /// IPv4 address (RFC 1035 §3.4.1).
    A,
    /// IPv6 address (RFC 3596 §2.1).
    Aaaa,
    /// Mail exchanger (RFC 1035 §3.3.9).
    Mx,
    /// Text strings (RFC 1035 §3.3.14).
    Txt,
    /// Domain name pointer (RFC 1035 §3.3.12).
    Ptr,
}

impl RecordType {
    /// The wire type code.
    pub fn code(self) -> u16 {
        match self {
            RecordType::A => 1,
            RecordType::Aaaa => 28,
            RecordType::Mx => 15,
            RecordType::Txt => 16,
            RecordType::Ptr => 12,
        }
    }
}

/// One MX record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mx {
    /// Lower is preferred (RFC 5321 §5.1).
    pub preference: u16,
    /// The exchange host, lowercased without the trailing dot; the root is `"."`.
    pub exchange: String,
}

/// The records of one successful lookup, of the type asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Records {
    /// A records.
    A(Vec<Ipv4Addr>),
    /// AAAA records.
    Aaaa(Vec<Ipv6Addr>),
    /// MX records sorted by preference, then exchange.
    Mx(Vec<Mx>),
    /// TXT records, each one's character-strings joined (RFC 7208 §3.3, RFC 6376 §3.6.2.2).
    Txt(Vec<String>),
    /// PTR targets, lowercased without the trailing dot.
    Ptr(Vec<String>),
}

impl Records {
    /// The type these records are of.
    pub fn record_type(&self) -> RecordType {
        match self {
            Records::A(_) => RecordType::A,
            Records::Aaaa(_) => RecordType::Aaaa,
            Records::Mx(_) => RecordType::Mx,
            Records::Txt(_) => RecordType::Txt,
            Records::Ptr(_) => RecordType::Ptr,
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Records::A(v) => v.is_empty(),
            Records::Aaaa(v) => v.is_empty(),
            Records::Mx(v) => v.is_empty(),
            Records::Txt(v) => v.is_empty(),
            Records::Ptr(v) => v.is_empty(),
        }
    }
}

/// Why a lookup gave no records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The name does not exist (RCODE 3, RFC 1035 §4.1.1; RFC 2308 §2.1). Permanent.
    #[error("no such domain (NXDOMAIN)")]
    NxDomain,
    /// The name exists but has no records of this type (NODATA, RFC 2308 §2.2). Permanent.
    #[error("no records of this type (NODATA)")]
    NoRecords,
    /// The server could not answer (RCODE 2). Temporary.
    #[error("server failure (SERVFAIL)")]
    ServFail,
    /// The server refused or did not implement the query (RCODE 1, 4, 5 and others). Temporary:
    /// another server, or the same one later, may answer.
    #[error("server refused the query (rcode {0})")]
    Refused(u16),
    /// No acceptable answer arrived from any server in time. Temporary.
    #[error("timed out")]
    Timeout,
    /// An answer that matched our query but could not be used (bad packet, CNAME chain too long,
    /// TCP answer for another query). Temporary.
    #[error("malformed answer: {0}")]
    Malformed(&'static str),
    /// A socket error. Temporary.
    #[error("i/o: {0}")]
    Io(String),
    /// The name asked for is not a valid domain name. Permanent.
    #[error("invalid domain name")]
    InvalidName,
}

impl Error {
    /// Whether asking again later may succeed (SMTP 4xx rather than 5xx).
    pub fn is_temporary(&self) -> bool {
        !matches!(
            self,
            Error::NxDomain | Error::NoRecords | Error::InvalidName
        )
    }

    /// Whether the answer was an authoritative "nothing here" (NXDOMAIN or NODATA).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NxDomain | Error::NoRecords)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Io(e.to_string())
    }
}

/// An asynchronous DNS resolver. Used from the `LocalExecutor`, so its futures need not be `Send`.
/// Implementors provide [`Resolver::query`]; the typed lookups are built on it.
pub trait Resolver {
    /// Looks up `name` (with or without a trailing dot; case does not matter) for `rtype`. An
    /// `Ok` always holds at least one record of type `rtype`.
    fn query(&self, name: &str, rtype: RecordType) -> impl Future<Output = Result<Records, Error>>;

    /// MX records, sorted by preference (then exchange). See [`is_null_mx`] and [`mail_route`].
    fn mx(&self, domain: &str) -> impl Future<Output = Result<Vec<Mx>, Error>> {
        async move {
            match self.query(domain, RecordType::Mx).await? {
                Records::Mx(v) => Ok(v),
                _ => Err(Error::Malformed("wrong record type")),
            }
        }
    }

    /// IPv4 addresses.
    fn a(&self, name: &str) -> impl Future<Output = Result<Vec<Ipv4Addr>, Error>> {
        async move {
            match self.query(name, RecordType::A).await? {
                Records::A(v) => Ok(v),
                _ => Err(Error::Malformed("wrong record type")),
            }
        }
    }

    /// IPv6 addresses.
    fn aaaa(&self, name: &str) -> impl Future<Output = Result<Vec<Ipv6Addr>, Error>> {
        async move {
            match self.query(name, RecordType::Aaaa).await? {
                Records::Aaaa(v) => Ok(v),
                _ => Err(Error::Malformed("wrong record type")),
            }
        }
    }

    /// TXT records, one string per record with its character-strings joined.
    fn txt(&self, name: &str) -> impl Future<Output = Result<Vec<String>, Error>> {
        async move {
            match self.query(name, RecordType::Txt).await? {
                Records::Txt(v) => Ok(v),
                _ => Err(Error::Malformed("wrong record type")),
            }
        }
    }

    /// Reverse lookup: the PTR names of `ip` (under in-addr.arpa or ip6.arpa).
    fn ptr(&self, ip: IpAddr) -> impl Future<Output = Result<Vec<String>, Error>> {
        async move {
            match self.query(&reverse_name(ip), RecordType::Ptr).await? {
                Records::Ptr(v) => Ok(v),
                _ => Err(Error::Malformed("wrong record type")),
            }
        }
    }
}

/// RFC 7505 §3: a domain that accepts no mail publishes a single MX with preference 0 and the
/// root as exchange ("null MX").
pub fn is_null_mx(mx: &[Mx]) -> bool {
    matches!(mx, [only] if only.preference == 0 && only.exchange == ".")
}

/// Where mail for a domain goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailRoute {
    /// The domain's MX hosts, most preferred first.
    Exchanges(Vec<Mx>),
    /// No MX records: the domain itself is the implicit MX (RFC 5321 §5.1), so look up its
    /// A/AAAA records.
    Implicit,
    /// Null MX (RFC 7505 §3): the domain accepts no mail; a permanent failure.
    NullMx,
}

/// The MX walk's first step for `domain`: RFC 7505 null MX, RFC 5321 §5.1 implicit MX on NODATA.
/// NXDOMAIN and temporary errors are passed through.
pub async fn mail_route<R: Resolver + ?Sized>(r: &R, domain: &str) -> Result<MailRoute, Error> {
    match r.mx(domain).await {
        Ok(mx) if is_null_mx(&mx) => Ok(MailRoute::NullMx),
        // RFC 7505 §3: a null MX mixed with real ones is a misconfiguration; use the real ones.
        Ok(mx) => Ok(MailRoute::Exchanges(
            mx.into_iter().filter(|m| m.exchange != ".").collect(),
        )),
        Err(Error::NoRecords) => Ok(MailRoute::Implicit),
        Err(e) => Err(e),
    }
}

/// The reverse-lookup name of `ip` (RFC 1035 §3.5, RFC 3596 §2.5).
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(72);
            for b in v6.octets().iter().rev() {
                for nibble in [b & 0x0f, b >> 4] {
                    s.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
                    s.push('.');
                }
            }
            s.push_str("ip6.arpa");
            s
        }
    }
}

/// `name` lowercased, without a trailing dot, checked against RFC 1035 §2.3.4 lengths (labels of
/// 1–63 octets, at most 253 octets as text). The root is not a valid query name here.
pub fn normalize_name(name: &str) -> Result<String, Error> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty()
        || name.len() > 253
        || name.split('.').any(|l| l.is_empty() || l.len() > 63)
        || name.bytes().any(|b| b <= b' ' || b == 0x7f || b == b'\\')
    {
        return Err(Error::InvalidName);
    }
    Ok(name.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mx(p: u16, e: &str) -> Mx {
        Mx {
            preference: p,
            exchange: e.into(),
        }
    }

    #[test]
    fn null_mx_is_a_single_root_exchange_at_preference_zero() {
        assert!(is_null_mx(&[mx(0, ".")]));
        assert!(!is_null_mx(&[mx(10, ".")]));
        assert!(!is_null_mx(&[mx(0, "."), mx(10, "mx.example")]));
        assert!(!is_null_mx(&[mx(0, "mx.example")]));
        assert!(!is_null_mx(&[]));
    }

    #[test]
    fn reverse_names() {
        assert_eq!(
            reverse_name("192.0.2.1".parse().unwrap()),
            "1.2.0.192.in-addr.arpa"
        );
        assert_eq!(
            reverse_name("2001:db8::567:89ab".parse().unwrap()),
            "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
    }

    #[test]
    fn names_are_normalized_and_checked() {
        assert_eq!(
            normalize_name("Mail.Example.ORG.").unwrap(),
            "mail.example.org"
        );
        assert_eq!(normalize_name("."), Err(Error::InvalidName));
        assert_eq!(normalize_name("a..b"), Err(Error::InvalidName));
        assert_eq!(normalize_name("a b.example"), Err(Error::InvalidName));
        assert_eq!(normalize_name(&"a".repeat(64)), Err(Error::InvalidName));
        assert!(normalize_name(&["a"; 127].join(".")).is_ok());
        assert_eq!(
            normalize_name(&["a"; 128].join(".")),
            Err(Error::InvalidName)
        );
    }

    #[test]
    fn temporary_and_permanent_errors() {
        assert!(!Error::NxDomain.is_temporary());
        assert!(!Error::NoRecords.is_temporary());
        assert!(Error::ServFail.is_temporary());
        assert!(Error::Timeout.is_temporary());
        assert!(Error::Malformed("x").is_temporary());
        assert!(Error::NoRecords.is_not_found());
    }

    #[test]
    fn mail_route_distinguishes_null_implicit_and_exchanges() {
        let m = mock::MockResolver::new()
            .with("null.example", Records::Mx(vec![mx(0, ".")]))
            .with(
                "mx.example",
                Records::Mx(vec![mx(10, "a.mx.example"), mx(20, "b.mx.example")]),
            )
            .with("nomx.example", Records::A(vec![Ipv4Addr::LOCALHOST]));
        let run = |d: &str| futures_lite::future::block_on(mail_route(&m, d));
        assert_eq!(run("null.example"), Ok(MailRoute::NullMx));
        assert_eq!(run("nomx.example"), Ok(MailRoute::Implicit));
        assert_eq!(run("gone.example"), Err(Error::NxDomain));
        match run("mx.example") {
            Ok(MailRoute::Exchanges(v)) => assert_eq!(v[0].exchange, "a.mx.example"),
            other => panic!("{other:?}"),
        }
    }
}

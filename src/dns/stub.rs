//! `StubResolver`: asks the configured recursive resolvers over UDP, falls back to TCP when an
//! answer is truncated, and caches what it learns.
//!
//! The file has a sans-IO half ([`build_query`], [`parse_response`]) and an I/O half on
//! `async_io::Async` sockets.
//!
//! Invariants:
//! - Each UDP try uses a fresh socket (a new random source port chosen by the kernel) and a fresh
//!   16-bit ID from the OS random source. A datagram is accepted only if it comes from the server's
//!   address and port and matches ID, question name (case-insensitively), type and class
//!   (RFC 5452 §9.1). Anything else, malformed packets included, is ignored until the deadline.
//! - Every try has a deadline (`Options::timeout`); a lookup makes at most
//!   `attempts × servers` tries, each a UDP exchange plus at most one TCP exchange.
//! - Responses are bounded: UDP by the receive buffer, TCP by `Options::max_tcp_bytes`; a header
//!   whose record counts cannot fit in the packet is rejected before anything is allocated.
//!   Parsing never panics (see the malformed-input test).
//! - CNAME chains are followed within the answer section only, at most [`MAX_CNAME_HOPS`] links.
//! - No `RefCell` borrow of the cache is held across an `.await`.

use std::cell::RefCell;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_io::{Async, Timer};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use simple_dns::rdata::{OPT, RData};
use simple_dns::{CLASS, Name, Packet, PacketFlag, QCLASS, QTYPE, Question, RCODE, TYPE};

use super::cache::{Cache, CacheLimits};
use super::{Error, Mx, RecordType, Records, Resolver, normalize_name};

/// Longest CNAME chain followed inside one answer.
pub const MAX_CNAME_HOPS: usize = 8;

/// At most this many `nameserver` lines are used (glibc's MAXNS).
pub const MAX_SERVERS: usize = 3;

/// Resolver settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Deadline of one try (one server, UDP plus any TCP fallback).
    pub timeout: Duration,
    /// Rounds over the server list.
    pub attempts: u32,
    /// EDNS0 UDP payload size to advertise (RFC 6891 §6.2.5); `None` sends no OPT record and
    /// accepts 512-octet UDP answers (RFC 1035 §4.2.1).
    pub edns_udp_bytes: Option<u16>,
    /// Largest TCP answer accepted.
    pub max_tcp_bytes: usize,
    /// Cache bounds.
    pub cache: CacheLimits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Duration::from_secs(3),
            attempts: 2,
            // The DNS flag day 2020 value: no IP fragmentation on common paths.
            edns_udp_bytes: Some(1232),
            max_tcp_bytes: 65_535,
            cache: CacheLimits::default(),
        }
    }
}

/// What a response that matches our query says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Records of the type asked for; `ttl` is the smallest TTL along the CNAME chain.
    Records {
        /// The records.
        records: Records,
        /// Seconds they may be cached.
        ttl: u32,
    },
    /// NXDOMAIN or NODATA, with min(SOA TTL, SOA MINIMUM) if the authority section had an SOA
    /// (RFC 2308 §5).
    Negative {
        /// `Error::NxDomain` or `Error::NoRecords`.
        error: Error,
        /// Negative-caching TTL.
        soa_ttl: Option<u32>,
    },
    /// The server could not or would not answer, or the answer was unusable.
    Failed(Error),
    /// TC was set: ask again over TCP (RFC 1035 §4.2.1, RFC 7766 §5).
    Truncated,
}

/// A query for `qname` (already normalized) of type `rtype` with ID `id`, recursion desired.
pub fn build_query(
    id: u16,
    qname: &str,
    rtype: RecordType,
    edns_udp_bytes: Option<u16>,
) -> Result<Vec<u8>, Error> {
    let mut p = Packet::new_query(id);
    p.set_flags(PacketFlag::RECURSION_DESIRED);
    let name = Name::new(qname).map_err(|_| Error::InvalidName)?;
    p.questions.push(Question::new(
        name,
        QTYPE::TYPE(TYPE::from(rtype.code())),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    if let Some(size) = edns_udp_bytes {
        *p.opt_mut() = Some(OPT {
            opt_codes: Vec::new(),
            udp_packet_size: size.max(512),
            version: 0,
        });
    }
    p.build_bytes_vec().map_err(|_| Error::InvalidName)
}

/// A wire name as text: lowercased, no trailing dot, the root as `"."`.
pub(crate) fn name_text(name: &Name<'_>) -> String {
    let s = name.to_string().to_ascii_lowercase();
    let s = s.strip_suffix('.').unwrap_or(&s);
    if s.is_empty() { ".".into() } else { s.into() }
}

/// Cheap checks before the full parse: a header, and record counts that could fit in the packet
/// (a question takes at least 5 octets, a record at least 11), so a 12-octet packet claiming
/// 65535 records is refused before anything is allocated for them.
fn plausible(packet: &[u8]) -> bool {
    if packet.len() < 12 || packet.len() > 65_535 {
        return false;
    }
    let count = |i: usize| usize::from(u16::from_be_bytes([packet[i], packet[i + 1]]));
    let min = 12 + 5 * count(4) + 11 * (count(6) + count(8) + count(10));
    min <= packet.len()
}

/// Reads a response to the query (`id`, `qname` normalized, `rtype`). `None` means the packet is
/// not an answer to that query (wrong ID, not a response, other question, unparseable) and must
/// be ignored.
pub fn parse_response(packet: &[u8], id: u16, qname: &str, rtype: RecordType) -> Option<Answer> {
    if packet.len() < 12 || u16::from_be_bytes([packet[0], packet[1]]) != id {
        return None;
    }
    // QR must be set (RFC 1035 §4.1.1).
    if packet[2] & 0x80 == 0 {
        return None;
    }
    let truncated = packet[2] & 0x02 != 0;
    let parsed = if plausible(packet) {
        Packet::parse(packet).ok()
    } else {
        None
    };
    let Some(p) = parsed else {
        // Some servers cut a truncated answer mid-record. TC with our ID only sends us to TCP,
        // where the answer is checked again, so trusting it here gives a spoofer nothing.
        return truncated.then_some(Answer::Truncated);
    };
    let [q] = p.questions.as_slice() else {
        return None;
    };
    let qtype: u16 = q.qtype.into();
    let qclass: u16 = q.qclass.into();
    if qtype != rtype.code() || qclass != CLASS::IN as u16 || name_text(&q.qname) != qname {
        return None;
    }
    if truncated {
        return Some(Answer::Truncated);
    }
    let soa_ttl = p.name_servers.iter().find_map(|rr| match &rr.rdata {
        RData::SOA(soa) => Some(rr.ttl.min(soa.minimum)),
        _ => None,
    });
    Some(match p.rcode() {
        RCODE::NoError => follow_chain(&p, qname, rtype, soa_ttl),
        RCODE::NameError => Answer::Negative {
            error: Error::NxDomain,
            soa_ttl,
        },
        RCODE::ServerFailure => Answer::Failed(Error::ServFail),
        other => Answer::Failed(Error::Refused(other as u16)),
    })
}

/// Collects the records for `qname`, following CNAMEs inside the answer (RFC 1034 §3.6.2,
/// RFC 2181 §10.1.1: the answer holds the chain, then the target's records).
fn follow_chain(p: &Packet<'_>, qname: &str, rtype: RecordType, soa_ttl: Option<u32>) -> Answer {
    let mut current = qname.to_owned();
    let mut ttl = u32::MAX;
    for _ in 0..=MAX_CNAME_HOPS {
        let owned_by_current = |rr: &&simple_dns::ResourceRecord<'_>| {
            rr.class == CLASS::IN && name_text(&rr.name) == current
        };
        let mut records = empty_records(rtype);
        let mut rr_ttl = u32::MAX;
        for rr in p.answers.iter().filter(owned_by_current) {
            if push_record(&mut records, &rr.rdata) {
                rr_ttl = rr_ttl.min(rr.ttl);
            }
        }
        if !records.is_empty() {
            if let Records::Mx(v) = &mut records {
                v.sort();
            }
            return Answer::Records {
                records,
                ttl: ttl.min(rr_ttl),
            };
        }
        let cname = p
            .answers
            .iter()
            .filter(owned_by_current)
            .find_map(|rr| match &rr.rdata {
                RData::CNAME(c) => Some((name_text(&c.0), rr.ttl)),
                _ => None,
            });
        match cname {
            Some((target, t)) => {
                ttl = ttl.min(t);
                current = target;
            }
            None => {
                return Answer::Negative {
                    error: Error::NoRecords,
                    soa_ttl,
                };
            }
        }
    }
    Answer::Failed(Error::Malformed("CNAME chain too long"))
}

fn empty_records(rtype: RecordType) -> Records {
    match rtype {
        RecordType::A => Records::A(Vec::new()),
        RecordType::Aaaa => Records::Aaaa(Vec::new()),
        RecordType::Mx => Records::Mx(Vec::new()),
        RecordType::Txt => Records::Txt(Vec::new()),
        RecordType::Ptr => Records::Ptr(Vec::new()),
    }
}

/// Adds `rdata` to `records` if it is of their type; says whether it was.
fn push_record(records: &mut Records, rdata: &RData<'_>) -> bool {
    match (records, rdata) {
        (Records::A(v), RData::A(a)) => v.push(Ipv4Addr::from(a.address)),
        (Records::Aaaa(v), RData::AAAA(a)) => v.push(Ipv6Addr::from(a.address)),
        (Records::Mx(v), RData::MX(mx)) => v.push(Mx {
            preference: mx.preference,
            exchange: name_text(&mx.exchange),
        }),
        (Records::Txt(v), RData::TXT(txt)) => v.push(match String::try_from(txt.clone()) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(&e.into_bytes()).into_owned(),
        }),
        (Records::Ptr(v), RData::PTR(p)) => v.push(name_text(&p.0)),
        _ => return false,
    }
    true
}

/// The `nameserver` addresses of a resolv.conf text (port 53), at most [`MAX_SERVERS`]. Lines
/// with a zone index (`fe80::1%eth0`) are skipped.
pub fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let line = line.split(['#', ';']).next()?;
            let mut words = line.split_whitespace();
            if words.next()? != "nameserver" {
                return None;
            }
            let ip: IpAddr = words.next()?.parse().ok()?;
            Some(SocketAddr::new(ip, 53))
        })
        .take(MAX_SERVERS)
        .collect()
}

fn random_id() -> Result<u16, Error> {
    let mut b = [0u8; 2];
    getrandom::fill(&mut b).map_err(|e| Error::Io(e.to_string()))?;
    Ok(u16::from_be_bytes(b))
}

async fn with_deadline<T>(
    limit: Duration,
    fut: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    futures_lite::future::or(fut, async {
        Timer::after(limit).await;
        Err(Error::Timeout)
    })
    .await
}

/// The resolver for a configured server list (the `dns.nameservers` setting; empty means
/// /etc/resolv.conf), made again when the list changes. Shared by the roles that resolve.
#[derive(Debug, Default)]
pub struct ConfiguredResolver {
    current: RefCell<Option<(Vec<SocketAddr>, Rc<StubResolver>)>>,
}

impl ConfiguredResolver {
    /// The resolver for `servers`; /etc/resolv.conf is read on the blocking pool when needed.
    pub async fn get(&self, servers: &[SocketAddr]) -> Rc<StubResolver> {
        if let Some((s, r)) = self.current.borrow().as_ref()
            && s == servers
        {
            return r.clone();
        }
        let r = if servers.is_empty() {
            Rc::new(
                blocking::unblock(|| StubResolver::from_resolv_conf_blocking(Options::default()))
                    .await,
            )
        } else {
            Rc::new(StubResolver::with_servers(
                servers.to_vec(),
                Options::default(),
            ))
        };
        *self.current.borrow_mut() = Some((servers.to_vec(), r.clone()));
        r
    }
}

/// A caching stub resolver over UDP and TCP.
#[derive(Debug)]
pub struct StubResolver {
    servers: Vec<SocketAddr>,
    options: Options,
    cache: RefCell<Cache>,
}

impl StubResolver {
    /// A resolver asking `servers` in order (127.0.0.1:53 if the list is empty).
    pub fn with_servers(servers: Vec<SocketAddr>, options: Options) -> StubResolver {
        let servers = if servers.is_empty() {
            vec![SocketAddr::from((Ipv4Addr::LOCALHOST, 53))]
        } else {
            servers
        };
        StubResolver {
            servers,
            cache: RefCell::new(Cache::new(options.cache.clone())),
            options,
        }
    }

    /// A resolver for the servers of /etc/resolv.conf. Reads a file: call it at start-up, not on
    /// the executor thread.
    pub fn from_resolv_conf_blocking(options: Options) -> StubResolver {
        let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        StubResolver::with_servers(parse_resolv_conf(&text), options)
    }

    /// The servers asked, in order.
    pub fn servers(&self) -> &[SocketAddr] {
        &self.servers
    }

    async fn lookup(&self, name: &str, rtype: RecordType) -> Result<Records, Error> {
        let name = normalize_name(name)?;
        if let Some(hit) = self.cache.borrow_mut().get(&name, rtype, Instant::now()) {
            return hit;
        }
        let answer = self.ask_servers(&name, rtype).await?;
        let now = Instant::now();
        match answer {
            Answer::Records { records, ttl } => {
                self.cache
                    .borrow_mut()
                    .insert_records(&name, records.clone(), ttl, now);
                Ok(records)
            }
            Answer::Negative { error, soa_ttl } => {
                self.cache
                    .borrow_mut()
                    .insert_negative(&name, rtype, error.clone(), soa_ttl, now);
                Err(error)
            }
            Answer::Failed(e) => Err(e),
            Answer::Truncated => Err(Error::Malformed("truncated")),
        }
    }

    /// Tries each server in turn, `attempts` rounds; returns the first definite answer, else the
    /// last failure.
    async fn ask_servers(&self, name: &str, rtype: RecordType) -> Result<Answer, Error> {
        let mut last = Error::Timeout;
        for _ in 0..self.options.attempts.max(1) {
            for &server in &self.servers {
                match self.try_server(server, name, rtype).await {
                    Ok(a @ (Answer::Records { .. } | Answer::Negative { .. })) => return Ok(a),
                    Ok(Answer::Failed(e)) | Err(e) => {
                        log::debug!("dns server={server} name={name} type={rtype:?} error={e}");
                        last = e;
                    }
                    Ok(Answer::Truncated) => last = Error::Malformed("truncated"),
                }
            }
        }
        Err(last)
    }

    async fn try_server(
        &self,
        server: SocketAddr,
        name: &str,
        rtype: RecordType,
    ) -> Result<Answer, Error> {
        with_deadline(self.options.timeout, async {
            match self.udp_exchange(server, name, rtype).await? {
                Answer::Truncated => self.tcp_exchange(server, name, rtype).await,
                a => Ok(a),
            }
        })
        .await
    }

    async fn udp_exchange(
        &self,
        server: SocketAddr,
        name: &str,
        rtype: RecordType,
    ) -> Result<Answer, Error> {
        let id = random_id()?;
        let query = build_query(id, name, rtype, self.options.edns_udp_bytes)?;
        let local: SocketAddr = match server {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        // A new socket per try: the kernel picks a random ephemeral source port.
        let socket = Async::<UdpSocket>::bind(local)?;
        socket.send_to(&query, server).await?;
        let size = usize::from(self.options.edns_udp_bytes.unwrap_or(512).max(512));
        let mut buf = vec![0u8; size];
        loop {
            let (n, from) = socket.recv_from(&mut buf).await?;
            if from.ip() != server.ip() || from.port() != server.port() {
                log::debug!("dns ignored datagram from={from} expected={server}");
                continue;
            }
            match parse_response(&buf[..n], id, name, rtype) {
                Some(a) => return Ok(a),
                None => log::debug!("dns ignored non-matching answer from={from}"),
            }
        }
    }

    /// RFC 1035 §4.2.2, RFC 7766 §8: each message is prefixed by its two-octet length.
    async fn tcp_exchange(
        &self,
        server: SocketAddr,
        name: &str,
        rtype: RecordType,
    ) -> Result<Answer, Error> {
        let id = random_id()?;
        let query = build_query(id, name, rtype, None)?;
        let len = u16::try_from(query.len()).map_err(|_| Error::InvalidName)?;
        let mut framed = Vec::with_capacity(2 + query.len());
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&query);
        let mut stream = Async::<TcpStream>::connect(server).await?;
        stream.write_all(&framed).await?;
        stream.flush().await?;
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await?;
        let len = usize::from(u16::from_be_bytes(len));
        if len > self.options.max_tcp_bytes {
            return Err(Error::Malformed("TCP answer too large"));
        }
        let mut buf = vec![0u8; len];
        stream.read_exact(&mut buf).await?;
        match parse_response(&buf, id, name, rtype) {
            Some(Answer::Truncated) => Err(Error::Malformed("truncated TCP answer")),
            Some(a) => Ok(a),
            None => Err(Error::Malformed("TCP answer does not match the query")),
        }
    }
}

impl Resolver for StubResolver {
    fn query(&self, name: &str, rtype: RecordType) -> impl Future<Output = Result<Records, Error>> {
        self.lookup(name, rtype)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::testserver::{TestRecord, Zone, respond};

    fn zone() -> Zone {
        Zone::new()
            .add("example.org", TestRecord::Mx(20, "b.example.org".into()))
            .add("example.org", TestRecord::Mx(10, "a.example.org".into()))
            .add("a.example.org", TestRecord::A(Ipv4Addr::new(192, 0, 2, 1)))
            .add("www.example.org", TestRecord::Cname("a.example.org".into()))
            .add(
                "loop1.example.org",
                TestRecord::Cname("loop2.example.org".into()),
            )
            .add(
                "loop2.example.org",
                TestRecord::Cname("loop1.example.org".into()),
            )
    }

    fn answer_for(name: &str, rtype: RecordType) -> (Vec<u8>, u16) {
        let q = build_query(0x1234, name, rtype, Some(1232)).unwrap();
        (respond(&zone(), &q, false).unwrap(), 0x1234)
    }

    #[test]
    fn query_round_trips_through_the_test_server() {
        let (r, id) = answer_for("example.org", RecordType::Mx);
        match parse_response(&r, id, "example.org", RecordType::Mx) {
            Some(Answer::Records {
                records: Records::Mx(v),
                ttl,
            }) => {
                assert_eq!(v[0].exchange, "a.example.org");
                assert_eq!(v[1].preference, 20);
                assert_eq!(ttl, 300);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn mismatched_answers_are_ignored() {
        let (r, id) = answer_for("example.org", RecordType::Mx);
        assert_eq!(
            parse_response(&r, id ^ 1, "example.org", RecordType::Mx),
            None
        );
        assert_eq!(parse_response(&r, id, "example.com", RecordType::Mx), None);
        assert_eq!(parse_response(&r, id, "example.org", RecordType::Txt), None);
        let mut not_response = r.clone();
        not_response[2] &= 0x7f;
        assert_eq!(
            parse_response(&not_response, id, "example.org", RecordType::Mx),
            None
        );
        // The question matches case-insensitively (resolvers may use 0x20 randomization).
        let q = build_query(7, "ExAmple.ORG", RecordType::Mx, None).unwrap();
        let r = respond(&zone(), &q, false).unwrap();
        assert!(matches!(
            parse_response(&r, 7, "example.org", RecordType::Mx),
            Some(Answer::Records { .. })
        ));
    }

    #[test]
    fn cname_chains_are_followed_and_bounded() {
        let (r, id) = answer_for("www.example.org", RecordType::A);
        assert_eq!(
            parse_response(&r, id, "www.example.org", RecordType::A),
            Some(Answer::Records {
                records: Records::A(vec![Ipv4Addr::new(192, 0, 2, 1)]),
                ttl: 300
            })
        );
        let (r, id) = answer_for("loop1.example.org", RecordType::A);
        assert_eq!(
            parse_response(&r, id, "loop1.example.org", RecordType::A),
            Some(Answer::Failed(Error::Malformed("CNAME chain too long")))
        );
    }

    #[test]
    fn negative_answers_carry_the_soa_ttl() {
        let (r, id) = answer_for("nowhere.example.org", RecordType::A);
        assert_eq!(
            parse_response(&r, id, "nowhere.example.org", RecordType::A),
            Some(Answer::Negative {
                error: Error::NxDomain,
                soa_ttl: Some(60)
            })
        );
        let (r, id) = answer_for("a.example.org", RecordType::Mx);
        assert_eq!(
            parse_response(&r, id, "a.example.org", RecordType::Mx),
            Some(Answer::Negative {
                error: Error::NoRecords,
                soa_ttl: Some(60)
            })
        );
    }

    #[test]
    fn implausible_counts_are_refused_before_parsing() {
        let mut p = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0xff, 0xff, 0, 0, 0, 0];
        p.extend_from_slice(&[0, 0, 1, 0, 1]);
        assert_eq!(parse_response(&p, 0x1234, "x", RecordType::A), None);
        p[2] |= 0x02; // with TC it only sends us to TCP
        assert_eq!(
            parse_response(&p, 0x1234, "x", RecordType::A),
            Some(Answer::Truncated)
        );
    }

    /// No input makes the parser panic: truncations, byte flips and noise around real answers.
    #[test]
    fn malformed_packets_never_panic() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let cases = [
            ("example.org", RecordType::Mx),
            ("www.example.org", RecordType::A),
            ("nowhere.example.org", RecordType::Txt),
        ];
        for (name, rtype) in cases {
            let (r, id) = answer_for(name, rtype);
            for cut in 0..r.len() {
                let _ = parse_response(&r[..cut], id, name, rtype);
            }
            for _ in 0..3000 {
                let mut m = r.clone();
                for _ in 0..(next() % 6 + 1) {
                    let i = (next() as usize) % m.len();
                    m[i] = next() as u8;
                }
                let cut = (next() as usize) % (m.len() + 1);
                let _ = parse_response(&m[..cut], id, name, rtype);
                // Keep ID and flags so the full parser is reached.
                let _ = parse_response(&m, id, name, rtype);
            }
        }
        for len in 0..600 {
            let mut noise: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if noise.len() >= 4 {
                noise[0] = 0;
                noise[1] = 1;
                noise[2] |= 0x80;
            }
            let _ = parse_response(&noise, 1, "example.org", RecordType::A);
        }
        // A compression pointer to itself.
        let mut p = vec![0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0];
        p.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        let _ = parse_response(&p, 1, "example.org", RecordType::A);
    }

    #[test]
    fn resolv_conf_nameservers() {
        let text = "# comment\nsearch lan\nnameserver 192.0.2.53\nnameserver 2001:db8::53 # v6\n\
                    nameserver fe80::1%eth0\noptions edns0\nnameserver 10.0.0.1\nnameserver 10.0.0.2\n";
        let v = parse_resolv_conf(text);
        assert_eq!(
            v,
            vec![
                "192.0.2.53:53".parse().unwrap(),
                "[2001:db8::53]:53".parse().unwrap(),
                "10.0.0.1:53".parse().unwrap(),
            ]
        );
        let r = StubResolver::with_servers(parse_resolv_conf(""), Options::default());
        assert_eq!(r.servers(), &["127.0.0.1:53".parse().unwrap()]);
    }
}

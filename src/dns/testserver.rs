//! A tiny DNS server for tests: answers from a [`Zone`] written in code, over UDP and TCP on one
//! 127.0.0.1 port, on std threads, so integration tests run the real `StubResolver` against
//! loopback. Not used by the server itself.
//!
//! It can be told to drop queries, set TC on UDP answers, answer SERVFAIL, or send a datagram with
//! a wrong ID, or from a wrong port, before each real answer; it counts the queries it receives.
//!
//! Invariants: it only ever binds 127.0.0.1; its threads stop when the [`TestServer`] is dropped;
//! a malformed query is ignored, never a panic. Answers hold the CNAME chain from the question
//! name and then the target's records, or an SOA (TTL and MINIMUM = `Zone::negative_ttl`) in the
//! authority section for NXDOMAIN/NODATA, as a recursive resolver's would.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use simple_dns::rdata::{A, AAAA, CNAME, MX, PTR, RData, SOA, TXT};
use simple_dns::{CLASS, Name, Packet, PacketFlag, RCODE, ResourceRecord};

use super::stub::name_text;

/// One record of a test zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestRecord {
    /// IPv4 address.
    A(Ipv4Addr),
    /// IPv6 address.
    Aaaa(Ipv6Addr),
    /// Preference and exchange (`"."` for a null MX).
    Mx(u16, String),
    /// The character-strings of one TXT record (each at most 255 octets).
    Txt(Vec<String>),
    /// Target name.
    Ptr(String),
    /// Alias target.
    Cname(String),
}

impl TestRecord {
    fn type_code(&self) -> u16 {
        match self {
            TestRecord::A(_) => 1,
            TestRecord::Aaaa(_) => 28,
            TestRecord::Mx(..) => 15,
            TestRecord::Txt(_) => 16,
            TestRecord::Ptr(_) => 12,
            TestRecord::Cname(_) => 5,
        }
    }
}

/// The records a test server answers from. Names are matched case-insensitively.
#[derive(Debug, Clone)]
pub struct Zone {
    records: Vec<(String, TestRecord)>,
    /// TTL of every record.
    pub ttl: u32,
    /// TTL and MINIMUM of the SOA sent with negative answers.
    pub negative_ttl: u32,
}

impl Default for Zone {
    fn default() -> Self {
        Zone::new()
    }
}

impl Zone {
    /// An empty zone: records live 300 s, negative answers 60 s.
    pub fn new() -> Zone {
        Zone {
            records: Vec::new(),
            ttl: 300,
            negative_ttl: 60,
        }
    }

    /// Adds a record.
    pub fn add(mut self, name: &str, record: TestRecord) -> Zone {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.records.push((name, record));
        self
    }

    fn exists(&self, name: &str) -> bool {
        self.records.iter().any(|(n, _)| n == name)
    }
}

fn wire_name(s: &str) -> Name<'_> {
    if s == "." || s.is_empty() {
        Name::new_with_labels(&[])
    } else {
        Name::new_unchecked(s)
    }
}

fn rdata(r: &TestRecord) -> Option<RData<'_>> {
    Some(match r {
        TestRecord::A(ip) => RData::A(A::from(*ip)),
        TestRecord::Aaaa(ip) => RData::AAAA(AAAA::from(*ip)),
        TestRecord::Mx(preference, exchange) => RData::MX(MX {
            preference: *preference,
            exchange: wire_name(exchange),
        }),
        TestRecord::Txt(strings) => {
            let mut txt = TXT::new();
            for s in strings {
                txt.add_string(s).ok()?;
            }
            RData::TXT(txt)
        }
        TestRecord::Ptr(target) => RData::PTR(PTR(wire_name(target))),
        TestRecord::Cname(target) => RData::CNAME(CNAME(wire_name(target))),
    })
}

/// The answer to `query` from `zone`, or `None` if the query cannot be parsed. With `truncate`
/// the answer is empty with TC set, as an over-long UDP answer would be.
pub fn respond(zone: &Zone, query: &[u8], truncate: bool) -> Option<Vec<u8>> {
    let q = Packet::parse(query).ok()?;
    let question = q.questions.first()?.clone();
    let qtype: u16 = question.qtype.into();
    let mut reply = Packet::new_reply(q.id());
    reply.set_flags(PacketFlag::RECURSION_AVAILABLE | PacketFlag::RECURSION_DESIRED);
    let qname = name_text(&question.qname);
    reply.questions.push(question);
    if truncate {
        reply.set_flags(PacketFlag::TRUNCATION);
        return reply.build_bytes_vec().ok();
    }
    let mut current: &str = &qname;
    for _ in 0..16 {
        let matching: Vec<&TestRecord> = zone
            .records
            .iter()
            .filter(|(n, r)| n == current && r.type_code() == qtype)
            .map(|(_, r)| r)
            .collect();
        if !matching.is_empty() {
            for r in matching {
                reply.answers.push(ResourceRecord::new(
                    wire_name(current),
                    CLASS::IN,
                    zone.ttl,
                    rdata(r)?,
                ));
            }
            break;
        }
        let cname = zone.records.iter().find_map(|(n, r)| match r {
            TestRecord::Cname(t) if n == current => Some((r, t)),
            _ => None,
        });
        if let Some((r, target)) = cname {
            reply.answers.push(ResourceRecord::new(
                wire_name(current),
                CLASS::IN,
                zone.ttl,
                rdata(r)?,
            ));
            current = target;
            continue;
        }
        if !zone.exists(current) {
            *reply.rcode_mut() = RCODE::NameError;
        }
        reply.name_servers.push(ResourceRecord::new(
            wire_name("test"),
            CLASS::IN,
            zone.negative_ttl,
            RData::SOA(SOA {
                mname: wire_name("ns.test"),
                rname: wire_name("hostmaster.test"),
                serial: 1,
                refresh: 3600,
                retry: 600,
                expire: 86_400,
                minimum: zone.negative_ttl,
            }),
        ));
        break;
    }
    reply.build_bytes_vec().ok()
}

/// A SERVFAIL answer to `query`.
fn servfail(query: &[u8]) -> Option<Vec<u8>> {
    let q = Packet::parse(query).ok()?;
    let mut reply = Packet::new_reply(q.id());
    reply.questions.push(q.questions.first()?.clone());
    *reply.rcode_mut() = RCODE::ServerFailure;
    reply.build_bytes_vec().ok()
}

#[derive(Debug, Default)]
struct Behaviour {
    drop: AtomicBool,
    truncate_udp: AtomicBool,
    servfail: AtomicBool,
    bogus_id_first: AtomicBool,
    spoof_source_first: AtomicBool,
    stop: AtomicBool,
    udp_queries: AtomicUsize,
    tcp_queries: AtomicUsize,
}

impl Behaviour {
    fn answer(&self, zone: &Zone, query: &[u8], udp: bool) -> Option<Vec<u8>> {
        if self.servfail.load(Ordering::SeqCst) {
            servfail(query)
        } else {
            respond(zone, query, udp && self.truncate_udp.load(Ordering::SeqCst))
        }
    }
}

/// A running test server; stops when dropped.
#[derive(Debug)]
pub struct TestServer {
    addr: SocketAddr,
    behaviour: Arc<Behaviour>,
    threads: Vec<JoinHandle<()>>,
}

impl TestServer {
    /// Starts serving `zone` on a free 127.0.0.1 port (the same port for UDP and TCP).
    pub fn start(zone: Zone) -> std::io::Result<TestServer> {
        let (udp, tcp) = bind_pair()?;
        let addr = udp.local_addr()?;
        let behaviour = Arc::new(Behaviour::default());
        let zone = Arc::new(zone);
        udp.set_read_timeout(Some(Duration::from_millis(50)))?;
        let (b, z) = (behaviour.clone(), zone.clone());
        let udp_thread = std::thread::spawn(move || serve_udp(&udp, &z, &b));
        let (b, z) = (behaviour.clone(), zone);
        let tcp_thread = std::thread::spawn(move || serve_tcp(&tcp, &z, &b));
        Ok(TestServer {
            addr,
            behaviour,
            threads: vec![udp_thread, tcp_thread],
        })
    }

    /// The address to give the resolver.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Silently drop every query (UDP and TCP).
    pub fn drop_queries(&self, on: bool) {
        self.behaviour.drop.store(on, Ordering::SeqCst);
    }

    /// Answer UDP queries with an empty, TC-flagged answer; TCP answers stay whole.
    pub fn truncate_udp(&self, on: bool) {
        self.behaviour.truncate_udp.store(on, Ordering::SeqCst);
    }

    /// Answer SERVFAIL to everything.
    pub fn servfail(&self, on: bool) {
        self.behaviour.servfail.store(on, Ordering::SeqCst);
    }

    /// Before each UDP answer, send a SERVFAIL for the same question with a wrong ID.
    pub fn bogus_id_first(&self, on: bool) {
        self.behaviour.bogus_id_first.store(on, Ordering::SeqCst);
    }

    /// Before each UDP answer, send a SERVFAIL with the right ID and question from another port.
    pub fn spoof_source_first(&self, on: bool) {
        self.behaviour
            .spoof_source_first
            .store(on, Ordering::SeqCst);
    }

    /// UDP queries received so far (dropped ones included).
    pub fn udp_queries(&self) -> usize {
        self.behaviour.udp_queries.load(Ordering::SeqCst)
    }

    /// TCP queries received so far (dropped ones included).
    pub fn tcp_queries(&self) -> usize {
        self.behaviour.tcp_queries.load(Ordering::SeqCst)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.behaviour.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop; the UDP loop wakes on its read timeout.
        let _ = TcpStream::connect(self.addr);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn bind_pair() -> std::io::Result<(UdpSocket, TcpListener)> {
    let mut last = None;
    for _ in 0..20 {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        match TcpListener::bind(udp.local_addr()?) {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free port")))
}

fn serve_udp(socket: &UdpSocket, zone: &Zone, b: &Behaviour) {
    let mut buf = [0u8; 4096];
    while !b.stop.load(Ordering::SeqCst) {
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        b.udp_queries.fetch_add(1, Ordering::SeqCst);
        if b.drop.load(Ordering::SeqCst) {
            continue;
        }
        let Some(reply) = b.answer(zone, &buf[..n], true) else {
            continue;
        };
        if b.bogus_id_first.load(Ordering::SeqCst) {
            // Same question, wrong ID, and SERVFAIL: taking it would fail the lookup.
            let mut bogus = reply.clone();
            bogus[0] ^= 0x5a;
            bogus[3] = (bogus[3] & 0xf0) | 2;
            let _ = socket.send_to(&bogus, from);
        }
        if b.spoof_source_first.load(Ordering::SeqCst)
            && let Ok(other) = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        {
            // Right ID and question, SERVFAIL, from another port.
            let mut spoofed = reply.clone();
            spoofed[3] = (spoofed[3] & 0xf0) | 2;
            let _ = other.send_to(&spoofed, from);
        }
        let _ = socket.send_to(&reply, from);
    }
}

fn serve_tcp(listener: &TcpListener, zone: &Zone, b: &Behaviour) {
    for conn in listener.incoming() {
        if b.stop.load(Ordering::SeqCst) {
            return;
        }
        if let Ok(mut conn) = conn {
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            serve_tcp_conn(&mut conn, zone, b);
        }
    }
}

fn serve_tcp_conn(conn: &mut TcpStream, zone: &Zone, b: &Behaviour) {
    loop {
        let mut len = [0u8; 2];
        if conn.read_exact(&mut len).is_err() {
            return;
        }
        let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if conn.read_exact(&mut query).is_err() {
            return;
        }
        b.tcp_queries.fetch_add(1, Ordering::SeqCst);
        if b.drop.load(Ordering::SeqCst) {
            return;
        }
        let Some(reply) = b.answer(zone, &query, false) else {
            return;
        };
        let Ok(len) = u16::try_from(reply.len()) else {
            return;
        };
        let mut framed = len.to_be_bytes().to_vec();
        framed.extend_from_slice(&reply);
        if conn.write_all(&framed).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::RecordType;
    use crate::dns::stub::{Answer, build_query, parse_response};

    #[test]
    fn answers_over_udp_and_tcp_and_stops_on_drop() {
        let server = TestServer::start(
            Zone::new().add("x.test", TestRecord::A(Ipv4Addr::new(192, 0, 2, 7))),
        )
        .unwrap();
        let q = build_query(42, "x.test", RecordType::A, None).unwrap();
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        udp.send_to(&q, server.addr()).unwrap();
        let mut buf = [0u8; 512];
        let (n, _) = udp.recv_from(&mut buf).unwrap();
        assert!(matches!(
            parse_response(&buf[..n], 42, "x.test", RecordType::A),
            Some(Answer::Records { .. })
        ));

        let mut tcp = TcpStream::connect(server.addr()).unwrap();
        tcp.write_all(&(q.len() as u16).to_be_bytes()).unwrap();
        tcp.write_all(&q).unwrap();
        let mut len = [0u8; 2];
        tcp.read_exact(&mut len).unwrap();
        let mut r = vec![0u8; usize::from(u16::from_be_bytes(len))];
        tcp.read_exact(&mut r).unwrap();
        assert!(matches!(
            parse_response(&r, 42, "x.test", RecordType::A),
            Some(Answer::Records { .. })
        ));
        assert_eq!((server.udp_queries(), server.tcp_queries()), (1, 1));
        drop(tcp);
        drop(server);
    }

    #[test]
    fn garbage_queries_get_no_answer() {
        assert_eq!(respond(&Zone::new(), b"\x00\x01garbage", false), None);
        assert_eq!(respond(&Zone::new(), b"", false), None);
    }
}

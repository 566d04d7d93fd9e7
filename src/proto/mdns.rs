//! Multicast DNS responder core (RFC 6762): the box answers for `<name>.local` by itself.
//!
//! Datagrams in, datagrams out: [`Responder::handle`] takes one received UDP payload, its source
//! and the addresses of the interface it came in on, and says what to send back and where. The
//! driver (`conn::mdns`) owns the socket, the clock and the host's addresses.
//!
//! What is answered:
//! - Questions of class IN (or ANY) for A, AAAA and ANY of one of our names, compared
//!   case-insensitively (§16). Other names and types get no answer; a question for our name of a
//!   type we do not have gets an NSEC record saying which types exist (§6.1).
//! - Multicast answers (ID 0, no questions, authoritative) carry the cache-flush bit and TTL
//!   [`TTL`] (§10, §10.2) and, in the additional section, our records of the other address type
//!   (§6.2).
//! - A question with the unicast-response bit (QU, §5.4) is answered by unicast to the querier
//!   when the record was multicast within a quarter of its TTL; otherwise by multicast, so that
//!   every cache on the link is refreshed (§5.4).
//! - A query from a source port other than 5353 is a legacy unicast query (§6.7): the answer goes
//!   back to that address and port with the query's ID and question, TTL at most
//!   [`LEGACY_TTL`] and no cache-flush bit (§10.2).
//! - A known answer in the query at no less than half our TTL suppresses that record (§7.1).
//! - A record is not multicast again within one second of its last multicast (§6).
//!
//! What is ignored: responses (checked only for conflicts: another host claiming our name with
//! other addresses, §9), non-zero OPCODE or RCODE (§18.3, §18.11), truncated packets (a
//! truncated query's known answers continue in later packets, §7.2; the querier asks again),
//! anything that does not parse, packets over [`MAX_PACKET_BYTES`], more than [`MAX_QUESTIONS`]
//! questions or [`MAX_RECORDS`] records, and every query until [`Responder::announce`] has run
//! (during probing the name is not yet ours, §8.1).
//!
//! Invariants: no input makes this code panic or allocate beyond what the packet's size allows
//! (record counts are checked against the packet length before parsing); every reply is built
//! from at most [`MAX_ADDRESSES`] addresses per family, so it stays far below 9000 bytes.

use simple_dns::ResourceRecord;
use simple_dns::rdata::{A, AAAA, NSEC, RData};
use simple_dns::{CLASS, Name, OPCODE, Packet, PacketFlag, QCLASS, QTYPE, Question, RCODE, TYPE};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

/// The mDNS port (§22).
pub const PORT: u16 = 5353;
/// The IPv4 link-local multicast group (§22).
pub const GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);
/// Largest datagram looked at (§17: 9000 bytes including IP and UDP headers).
pub const MAX_PACKET_BYTES: usize = 9000;
/// A query with more questions is ignored.
pub const MAX_QUESTIONS: usize = 32;
/// A packet with more records (answers, authority and additional together) is ignored.
pub const MAX_RECORDS: usize = 256;
/// Most addresses of each family put in one reply.
pub const MAX_ADDRESSES: usize = 8;
/// TTL of our address records (§10: 120 seconds for records with a host name).
pub const TTL: u32 = 120;
/// Largest TTL in a legacy unicast answer (§6.7).
pub const LEGACY_TTL: u32 = 10;
/// Shortest interval between two multicasts of the same records (§6).
pub const MIN_MULTICAST_INTERVAL: Duration = Duration::from_secs(1);

/// The addresses of the interface a packet came in on, as the answers give them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addresses {
    /// IPv4 addresses (A records).
    pub v4: Vec<Ipv4Addr>,
    /// IPv6 addresses (AAAA records).
    pub v6: Vec<Ipv6Addr>,
}

impl Addresses {
    /// Whether there is nothing to announce.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => self.v4.contains(&a),
            IpAddr::V6(a) => self.v6.contains(&a),
        }
    }
}

/// Where a reply goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    /// To the group, port 5353, on the interface the query came in on.
    Multicast,
    /// Straight back to this address.
    Unicast(SocketAddr),
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Where.
    pub dest: Dest,
    /// The DNS message.
    pub bytes: Vec<u8>,
}

/// Another host answers for one of our names with addresses that are not ours (§9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// Our name, e.g. `mailnook.local`.
    pub name: String,
    /// The addresses the other host gave.
    pub theirs: Vec<IpAddr>,
}

/// What to do with a received datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing.
    Ignore,
    /// Send this.
    Send(Reply),
    /// Tell the operator.
    Conflict(Conflict),
}

/// Why a configured name cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a single DNS label (letters, digits, hyphens; at most 63)")]
pub struct BadName(pub String);

/// The responder for a fixed set of names.
#[derive(Debug)]
pub struct Responder {
    /// Full names, lower case, e.g. `mailnook.local`.
    names: Vec<String>,
    /// When each name's records were last multicast.
    last_multicast: Vec<Option<Instant>>,
    /// Set once the names have been announced; until then queries are not answered.
    live: bool,
}

/// Which of a name's records a reply carries.
#[derive(Debug, Clone, Copy, Default)]
struct Want {
    a: bool,
    aaaa: bool,
    /// A type we have no record of was asked: say which exist (§6.1).
    nsec: bool,
    /// Every question for this name had the QU bit.
    qu_only: bool,
    asked: bool,
}

impl Responder {
    /// A responder for `labels` (each a single label such as `mailnook`; `.local` is added).
    pub fn new(labels: &[String]) -> Result<Responder, BadName> {
        let mut names = Vec::new();
        for l in labels {
            let l = l.trim().trim_end_matches('.');
            let l = l.strip_suffix(".local").unwrap_or(l).to_ascii_lowercase();
            if !is_label(&l) {
                return Err(BadName(l));
            }
            let full = format!("{l}.local");
            if !names.contains(&full) {
                names.push(full);
            }
        }
        Ok(Responder {
            last_multicast: vec![None; names.len()],
            names,
            live: false,
        })
    }

    /// The full names served, e.g. `["mailnook.local"]`.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether the names have been announced (queries are answered).
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// A probe (§8.1): a QU query of type ANY for each name, our proposed records in the
    /// authority section. Sent three times 250 ms apart before announcing.
    pub fn probe(&self, addrs: &Addresses) -> Vec<u8> {
        let mut p = Packet::new_query(0);
        let names = parsed(&self.names);
        for name in &names {
            p.questions.push(Question::new(
                name.clone(),
                QTYPE::ANY,
                QCLASS::CLASS(CLASS::IN),
                true,
            ));
            p.name_servers
                .extend(records(name, addrs, true, true, TTL, false));
        }
        build(&p)
    }

    /// An unsolicited response with all our records (§8.3), or with TTL 0 when `goodbye`
    /// (§10.1). Marks the names as ours: queries are answered from now on.
    pub fn announce(&mut self, addrs: &Addresses, now: Instant, goodbye: bool) -> Vec<u8> {
        self.live = !goodbye;
        let ttl = if goodbye { 0 } else { TTL };
        let mut p = response(0);
        let names = parsed(&self.names);
        for (i, name) in names.iter().enumerate() {
            p.answers
                .extend(records(name, addrs, true, true, ttl, true));
            if !goodbye {
                p.additional_records.push(nsec(name, addrs, ttl));
                self.last_multicast[i] = Some(now);
            }
        }
        build(&p)
    }

    /// Decides what to send for the datagram `packet` from `src`, which came in on an interface
    /// whose addresses are `addrs`.
    pub fn handle(
        &mut self,
        packet: &[u8],
        src: SocketAddr,
        addrs: &Addresses,
        now: Instant,
    ) -> Outcome {
        if !plausible(packet) {
            return Outcome::Ignore;
        }
        let Ok(msg) = Packet::parse(packet) else {
            return Outcome::Ignore;
        };
        if msg.opcode() != OPCODE::StandardQuery
            || msg.rcode() != RCODE::NoError
            || msg.has_flags(PacketFlag::TRUNCATION)
        {
            return Outcome::Ignore;
        }
        if msg.has_flags(PacketFlag::RESPONSE) {
            return self.check_conflict(&msg, addrs);
        }
        if !self.live || addrs.is_empty() {
            return Outcome::Ignore;
        }
        let legacy = src.port() != PORT;
        let names = parsed(&self.names);
        let mut wants = vec![Want::default(); names.len()];
        let mut echoed = Vec::new();
        for q in &msg.questions {
            if !matches!(q.qclass, QCLASS::CLASS(CLASS::IN) | QCLASS::ANY) {
                continue;
            }
            let Some(i) = names.iter().position(|n| *n == q.qname) else {
                continue;
            };
            let w = &mut wants[i];
            let (a, aaaa) = match q.qtype {
                QTYPE::TYPE(TYPE::A) => (true, false),
                QTYPE::TYPE(TYPE::AAAA) => (false, true),
                QTYPE::ANY => (true, true),
                _ => (false, false),
            };
            let (has_a, has_aaaa) = (a && !addrs.v4.is_empty(), aaaa && !addrs.v6.is_empty());
            w.a |= has_a;
            w.aaaa |= has_aaaa;
            // Nothing of the asked type exists: the NSEC says what does (§6.1).
            w.nsec |= !has_a && !has_aaaa;
            w.qu_only = if w.asked {
                w.qu_only && q.unicast_response
            } else {
                q.unicast_response
            };
            w.asked = true;
            echoed.push(q.clone());
        }
        if echoed.is_empty() {
            return Outcome::Ignore;
        }
        if legacy {
            return self.legacy_reply(&msg, echoed, &names, &wants, src, addrs);
        }
        let mut p = response(0);
        let mut unicast = true;
        let mut multicast_names = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let w = wants[i];
            if !w.asked {
                continue;
            }
            let mut answers = records(name, addrs, w.a, w.aaaa, TTL, true);
            // Known-answer suppression (§7.1).
            answers.retain(|rr| !known(&msg.answers, rr));
            let nsec = w.nsec.then(|| nsec(name, addrs, TTL));
            if answers.is_empty() && nsec.is_none() {
                continue;
            }
            let recent =
                self.last_multicast[i].is_some_and(|t| now.duration_since(t) < quarter_ttl());
            if !(w.qu_only && recent) {
                if self.last_multicast[i]
                    .is_some_and(|t| now.duration_since(t) < MIN_MULTICAST_INTERVAL)
                {
                    continue;
                }
                unicast = false;
                multicast_names.push(i);
            }
            // The other address type rides along (§6.2), and the NSEC of what exists.
            let extra = records(name, addrs, !w.a && w.aaaa, w.a && !w.aaaa, TTL, true);
            p.answers.extend(answers);
            p.additional_records.extend(extra);
            p.additional_records.extend(nsec);
        }
        if p.answers.is_empty() && p.additional_records.is_empty() {
            return Outcome::Ignore;
        }
        let dest = if unicast {
            Dest::Unicast(src)
        } else {
            for i in multicast_names {
                self.last_multicast[i] = Some(now);
            }
            Dest::Multicast
        };
        Outcome::Send(Reply {
            dest,
            bytes: build(&p),
        })
    }

    /// The legacy unicast answer (§6.7): ID and questions echoed, short TTL, no cache-flush bit.
    /// A question for our name of a type we lack gets an empty (NODATA) answer.
    fn legacy_reply(
        &self,
        msg: &Packet<'_>,
        echoed: Vec<Question<'_>>,
        names: &[Name<'_>],
        wants: &[Want],
        src: SocketAddr,
        addrs: &Addresses,
    ) -> Outcome {
        let mut p = response(msg.id());
        p.questions = echoed;
        for (name, w) in names.iter().zip(wants) {
            p.answers.extend(records(
                name,
                addrs,
                w.a,
                w.aaaa,
                LEGACY_TTL.min(TTL),
                false,
            ));
        }
        Outcome::Send(Reply {
            dest: Dest::Unicast(src),
            bytes: build(&p),
        })
    }

    /// A response naming one of ours with an address that is not ours is a conflict (§9).
    fn check_conflict(&self, msg: &Packet<'_>, addrs: &Addresses) -> Outcome {
        let names = parsed(&self.names);
        for (i, name) in names.iter().enumerate() {
            let mut theirs = Vec::new();
            for rr in msg.answers.iter().chain(&msg.additional_records) {
                if rr.name != *name || rr.ttl == 0 {
                    continue;
                }
                let ip = match &rr.rdata {
                    RData::A(a) => IpAddr::V4(Ipv4Addr::from(a.address)),
                    RData::AAAA(a) => IpAddr::V6(Ipv6Addr::from(a.address)),
                    _ => continue,
                };
                if !addrs.contains(ip) && !theirs.contains(&ip) {
                    theirs.push(ip);
                }
            }
            if !theirs.is_empty() {
                theirs.truncate(MAX_ADDRESSES);
                return Outcome::Conflict(Conflict {
                    name: self.names[i].clone(),
                    theirs,
                });
            }
        }
        Outcome::Ignore
    }
}

fn parsed(names: &[String]) -> Vec<Name<'_>> {
    names
        .iter()
        .map(|n| Name::new_unchecked(n.as_str()))
        .collect()
}

fn quarter_ttl() -> Duration {
    Duration::from_secs(u64::from(TTL) / 4)
}

/// A single DNS label: letters, digits and inner hyphens, 1 to 63 octets (RFC 1123 §2.1).
pub fn is_label(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && !l.starts_with('-')
        && !l.ends_with('-')
        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Cheap checks before parsing: the size bounds, and record counts that fit the packet (a
/// question takes at least 5 octets, a record 11) and the caps.
fn plausible(packet: &[u8]) -> bool {
    if packet.len() < 12 || packet.len() > MAX_PACKET_BYTES {
        return false;
    }
    let count = |i: usize| usize::from(u16::from_be_bytes([packet[i], packet[i + 1]]));
    let (questions, records) = (count(4), count(6) + count(8) + count(10));
    questions <= MAX_QUESTIONS
        && records <= MAX_RECORDS
        && 12 + 5 * questions + 11 * records <= packet.len()
}

fn response(id: u16) -> Packet<'static> {
    let mut p = Packet::new_reply(id);
    p.set_flags(PacketFlag::AUTHORITATIVE_ANSWER);
    p
}

/// Our A (when `a`) and AAAA (when `aaaa`) records for `name`.
fn records<'a>(
    name: &Name<'a>,
    addrs: &Addresses,
    a: bool,
    aaaa: bool,
    ttl: u32,
    cache_flush: bool,
) -> Vec<ResourceRecord<'a>> {
    let v4 = addrs.v4.iter().take(MAX_ADDRESSES).filter(|_| a);
    let v6 = addrs.v6.iter().take(MAX_ADDRESSES).filter(|_| aaaa);
    v4.map(|ip| RData::A(A::from(*ip)))
        .chain(v6.map(|ip| RData::AAAA(AAAA::from(*ip))))
        .map(|rdata| {
            ResourceRecord::new(name.clone(), CLASS::IN, ttl, rdata).with_cache_flush(cache_flush)
        })
        .collect()
}

/// The NSEC record listing the address types `name` has (§6.1): the answer for a type it lacks.
fn nsec<'a>(name: &Name<'a>, addrs: &Addresses, ttl: u32) -> ResourceRecord<'a> {
    let mut types = Vec::new();
    if !addrs.v4.is_empty() {
        types.push(TYPE::A);
    }
    if !addrs.v6.is_empty() {
        types.push(TYPE::AAAA);
    }
    let rdata = RData::NSEC(NSEC::from_types(name.clone(), &types));
    ResourceRecord::new(name.clone(), CLASS::IN, ttl, rdata).with_cache_flush(true)
}

/// Whether the querier already holds `rr` with at least half its TTL left (§7.1).
fn known(answers: &[ResourceRecord<'_>], rr: &ResourceRecord<'_>) -> bool {
    answers.iter().any(|k| {
        k.name == rr.name && k.rdata == rr.rdata && k.ttl >= rr.ttl / 2 && k.class == rr.class
    })
}

fn build(p: &Packet<'_>) -> Vec<u8> {
    // Our own records always encode: names are validated labels, addresses are fixed-size.
    p.build_bytes_vec_compressed().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn responder() -> Responder {
        let mut r = Responder::new(&["mailnook".to_string()]).unwrap();
        r.announce(&v4_only(), t0(), false);
        r
    }

    /// The announcement's time; each test runs on its own thread.
    fn t0() -> Instant {
        thread_local!(static T: Instant = Instant::now());
        T.with(|t| *t)
    }

    fn later(secs: u64) -> Instant {
        t0() + Duration::from_secs(secs)
    }

    fn v4_only() -> Addresses {
        Addresses {
            v4: vec![Ipv4Addr::new(192, 168, 1, 20)],
            v6: vec![],
        }
    }

    fn dual() -> Addresses {
        Addresses {
            v4: vec![Ipv4Addr::new(192, 168, 1, 20)],
            v6: vec!["fe80::1".parse().unwrap(), "fd00::20".parse().unwrap()],
        }
    }

    fn mdns_src() -> SocketAddr {
        "192.168.1.9:5353".parse().unwrap()
    }

    fn query(id: u16, name: &str, qtype: QTYPE, qu: bool) -> Vec<u8> {
        let mut p = Packet::new_query(id);
        p.questions.push(Question::new(
            Name::new_unchecked(name),
            qtype,
            QCLASS::CLASS(CLASS::IN),
            qu,
        ));
        p.build_bytes_vec().unwrap()
    }

    /// A question for our name.
    fn ours(qtype: QTYPE, class: CLASS, qu: bool) -> Question<'static> {
        Question::new(
            Name::new_unchecked("mailnook.local"),
            qtype,
            QCLASS::CLASS(class),
            qu,
        )
    }

    fn assert_ignored(r: &mut Responder, q: &[u8]) {
        assert_eq!(
            r.handle(q, mdns_src(), &v4_only(), later(5)),
            Outcome::Ignore
        );
    }

    fn a() -> QTYPE {
        QTYPE::TYPE(TYPE::A)
    }

    fn sent(o: Outcome) -> Reply {
        match o {
            Outcome::Send(r) => r,
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    fn addresses_in(rrs: &[ResourceRecord<'_>]) -> Vec<IpAddr> {
        rrs.iter()
            .filter_map(|rr| match &rr.rdata {
                RData::A(a) => Some(IpAddr::V4(Ipv4Addr::from(a.address))),
                RData::AAAA(a) => Some(IpAddr::V6(Ipv6Addr::from(a.address))),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn qm_query_gets_a_multicast_answer_with_cache_flush_and_ttl_120() {
        let mut r = responder();
        let q = query(0, "mailnook.local", a(), false);
        let reply = sent(r.handle(&q, mdns_src(), &v4_only(), later(5)));
        assert_eq!(reply.dest, Dest::Multicast);
        let p = Packet::parse(&reply.bytes).unwrap();
        assert!(p.has_flags(PacketFlag::RESPONSE | PacketFlag::AUTHORITATIVE_ANSWER));
        assert_eq!(p.id(), 0);
        assert!(
            p.questions.is_empty(),
            "§6: no questions in multicast answers"
        );
        assert_eq!(p.answers.len(), 1);
        let rr = &p.answers[0];
        assert_eq!(rr.name.to_string(), "mailnook.local");
        assert!(rr.cache_flush);
        assert_eq!(rr.ttl, 120);
        assert_eq!(
            addresses_in(&p.answers),
            vec![IpAddr::from([192, 168, 1, 20])]
        );
    }

    #[test]
    fn the_same_record_is_not_multicast_twice_within_a_second() {
        let mut r = responder();
        let q = query(0, "mailnook.local", a(), false);
        sent(r.handle(&q, mdns_src(), &v4_only(), later(5)));
        let t = later(5) + Duration::from_millis(500);
        assert_eq!(r.handle(&q, mdns_src(), &v4_only(), t), Outcome::Ignore);
        sent(r.handle(&q, mdns_src(), &v4_only(), later(7)));
    }

    #[test]
    fn qu_query_gets_a_unicast_answer_after_a_recent_multicast() {
        let mut r = responder();
        let q = query(0, "mailnook.local", a(), true);
        let reply = sent(r.handle(&q, mdns_src(), &v4_only(), later(5)));
        assert_eq!(reply.dest, Dest::Unicast(mdns_src()));
        let p = Packet::parse(&reply.bytes).unwrap();
        assert_eq!(p.id(), 0);
        assert!(p.answers[0].cache_flush);
        // Not multicast for more than a quarter of the TTL: refresh every cache (§5.4).
        let reply = sent(r.handle(&q, mdns_src(), &v4_only(), later(31)));
        assert_eq!(reply.dest, Dest::Multicast);
        let reply = sent(r.handle(&q, mdns_src(), &v4_only(), later(32)));
        assert_eq!(reply.dest, Dest::Unicast(mdns_src()));
    }

    #[test]
    fn legacy_unicast_echoes_id_and_question_with_a_short_ttl() {
        let mut r = responder();
        let src: SocketAddr = "192.168.1.9:40000".parse().unwrap();
        let q = query(0x4242, "mailnook.local", a(), false);
        let reply = sent(r.handle(&q, src, &v4_only(), later(5)));
        assert_eq!(reply.dest, Dest::Unicast(src));
        let p = Packet::parse(&reply.bytes).unwrap();
        assert_eq!(p.id(), 0x4242);
        assert_eq!(p.questions.len(), 1);
        assert_eq!(p.questions[0].qname.to_string(), "mailnook.local");
        assert_eq!(p.answers.len(), 1);
        assert!(p.answers[0].ttl <= 10);
        assert!(!p.answers[0].cache_flush, "§10.2: no cache-flush bit");
        // Legacy answers are not rate-limited: a resolver retrying gets an answer each time.
        sent(r.handle(&q, src, &v4_only(), later(5)));
        // A type we lack: an empty answer, so the resolver stops asking.
        let q = query(7, "mailnook.local", QTYPE::TYPE(TYPE::AAAA), false);
        let bytes = sent(r.handle(&q, src, &v4_only(), later(5))).bytes;
        let p = Packet::parse(&bytes).unwrap();
        assert_eq!((p.id(), p.answers.len()), (7, 0));
    }

    #[test]
    fn names_match_case_insensitively() {
        let mut r = Responder::new(&["MailNook".to_string()]).unwrap();
        r.announce(&v4_only(), t0(), false);
        let q = query(0, "MAILnook.LOCAL", a(), false);
        let bytes = sent(r.handle(&q, mdns_src(), &v4_only(), later(5))).bytes;
        let p = Packet::parse(&bytes).unwrap();
        assert_eq!(p.answers.len(), 1);
    }

    #[test]
    fn other_names_and_unowned_types_are_not_answered() {
        let mut r = responder();
        for name in [
            "other.local",
            "mailnook.example.org",
            "mailnook",
            "x.mailnook.local",
        ] {
            let q = query(0, name, a(), false);
            assert_ignored(&mut r, &q);
        }
        // Class CHAOS is not ours either.
        let mut p = Packet::new_query(0);
        p.questions.push(ours(a(), CLASS::CH, false));
        let q = p.build_bytes_vec().unwrap();
        assert_ignored(&mut r, &q);
    }

    #[test]
    fn a_type_we_lack_gets_an_nsec() {
        let mut r = responder();
        let q = query(0, "mailnook.local", QTYPE::TYPE(TYPE::AAAA), false);
        let bytes = sent(r.handle(&q, mdns_src(), &v4_only(), later(5))).bytes;
        let p = Packet::parse(&bytes).unwrap();
        assert!(p.answers.is_empty());
        let RData::NSEC(n) = &p.additional_records[0].rdata else {
            panic!("no NSEC: {p:?}");
        };
        assert!(n.contains(TYPE::A) && !n.contains(TYPE::AAAA));
    }

    #[test]
    fn responses_are_not_answered_and_foreign_addresses_are_a_conflict() {
        let mut r = responder();
        let ours = r.announce(&v4_only(), later(5), false);
        // Our own announcement coming back is no conflict.
        assert_eq!(
            r.handle(&ours, mdns_src(), &v4_only(), later(9)),
            Outcome::Ignore
        );
        let other = Addresses {
            v4: vec![Ipv4Addr::new(192, 168, 1, 77)],
            v6: vec![],
        };
        let mut them = Responder::new(&["mailnook".to_string()]).unwrap();
        let theirs = them.announce(&other, later(5), false);
        assert_eq!(
            r.handle(&theirs, mdns_src(), &v4_only(), later(9)),
            Outcome::Conflict(Conflict {
                name: "mailnook.local".into(),
                theirs: vec![IpAddr::from([192, 168, 1, 77])],
            })
        );
        // A goodbye from them is not.
        let bye = them.announce(&other, later(6), true);
        assert_eq!(
            r.handle(&bye, mdns_src(), &v4_only(), later(9)),
            Outcome::Ignore
        );
    }

    #[test]
    fn nothing_is_answered_before_the_announcement() {
        let mut r = Responder::new(&["mailnook".to_string()]).unwrap();
        let q = query(0, "mailnook.local", a(), false);
        assert_ignored(&mut r, &q);
        let probe = r.probe(&v4_only());
        let p = Packet::parse(&probe).unwrap();
        assert!(!p.has_flags(PacketFlag::RESPONSE));
        assert!(p.questions[0].unicast_response);
        assert_eq!(p.questions[0].qtype, QTYPE::ANY);
        assert_eq!(
            addresses_in(&p.name_servers),
            vec![IpAddr::from([192, 168, 1, 20])]
        );
        r.announce(&v4_only(), t0(), false);
        assert!(r.is_live());
        sent(r.handle(&q, mdns_src(), &v4_only(), later(5)));
    }

    #[test]
    fn malformed_truncated_and_oversized_packets_are_ignored() {
        let mut r = responder();
        let good = query(0, "mailnook.local", a(), false);
        let mut cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![0; 11],
            good[..good.len() - 3].to_vec(),
            vec![0xff; 100],
        ];
        // Truncated (TC bit).
        let mut tc = good.clone();
        tc[2] |= 0x02;
        cases.push(tc);
        // Opcode 1 (§18.3).
        let mut op = good.clone();
        op[2] |= 0x08;
        cases.push(op);
        // A count claiming more questions than fit.
        let mut many = good.clone();
        many[4..6].copy_from_slice(&60_000u16.to_be_bytes());
        cases.push(many);
        // Over 9000 bytes, the rest padding.
        let mut big = good.clone();
        big.resize(MAX_PACKET_BYTES + 1, 0);
        cases.push(big);
        for c in cases {
            assert_eq!(
                r.handle(&c, mdns_src(), &v4_only(), later(5)),
                Outcome::Ignore,
                "{c:?}"
            );
        }
        // Trailing padding within the limit is fine.
        let mut padded = good.clone();
        padded.resize(2000, 0);
        sent(r.handle(&padded, mdns_src(), &v4_only(), later(5)));
    }

    #[test]
    fn too_many_questions_are_ignored() {
        let mut r = responder();
        let mut p = Packet::new_query(0);
        for _ in 0..=MAX_QUESTIONS {
            p.questions.push(ours(a(), CLASS::IN, false));
        }
        let q = p.build_bytes_vec().unwrap();
        assert_ignored(&mut r, &q);
    }

    #[test]
    fn any_gets_both_families_and_aaaa_gets_ipv6_with_a_as_additional() {
        let mut r = responder();
        let q = query(0, "mailnook.local", QTYPE::ANY, false);
        let bytes = sent(r.handle(&q, mdns_src(), &dual(), later(5))).bytes;
        let p = Packet::parse(&bytes).unwrap();
        let mut want: Vec<IpAddr> = vec![IpAddr::from([192, 168, 1, 20])];
        want.extend(dual().v6.iter().map(|a| IpAddr::V6(*a)));
        assert_eq!(addresses_in(&p.answers), want);
        let q = query(0, "mailnook.local", QTYPE::TYPE(TYPE::AAAA), false);
        let bytes = sent(r.handle(&q, mdns_src(), &dual(), later(9))).bytes;
        let p = Packet::parse(&bytes).unwrap();
        assert_eq!(
            addresses_in(&p.answers),
            dual().v6.iter().map(|a| IpAddr::V6(*a)).collect::<Vec<_>>()
        );
        assert_eq!(
            addresses_in(&p.additional_records),
            vec![IpAddr::from([192, 168, 1, 20])]
        );
    }

    #[test]
    fn known_answers_suppress_the_reply() {
        let mut r = responder();
        let mut p = Packet::new_query(0);
        p.questions.push(ours(a(), CLASS::IN, false));
        p.answers.push(ResourceRecord::new(
            Name::new_unchecked("mailnook.local"),
            CLASS::IN,
            100,
            RData::A(A::from(Ipv4Addr::new(192, 168, 1, 20))),
        ));
        let q = p.build_bytes_vec().unwrap();
        assert_ignored(&mut r, &q);
        // Below half the TTL, the answer is refreshed.
        p.answers[0].ttl = 30;
        let q = p.build_bytes_vec().unwrap();
        sent(r.handle(&q, mdns_src(), &v4_only(), later(5)));
    }

    #[test]
    fn names_are_single_labels() {
        assert!(Responder::new(&["a.b".to_string()]).is_err());
        assert!(Responder::new(&["".to_string()]).is_err());
        assert!(Responder::new(&["bad_name".to_string()]).is_err());
        let r = Responder::new(&["Box.local.".to_string(), "box".to_string()]).unwrap();
        assert_eq!(r.names(), ["box.local"]);
    }
}

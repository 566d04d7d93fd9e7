//! mDNS responder fuzz entry point: any datagram from any source.

use super::header;
use crate::proto::mdns::{Addresses, Dest, LEGACY_TTL, MAX_PACKET_BYTES, Outcome, Responder, TTL};
use simple_dns::{Packet, PacketFlag};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// `data[0]`: bit 0 sends from a legacy port (not 5353), bit 1 gives the interface IPv6
/// addresses too, bit 2 asks before the announcement; the rest is the datagram. Checks: no
/// panic; a reply parses, is an authoritative response within the size limit, names only our
/// name, and keeps the rules of its kind (legacy: to the source, the query's ID, TTL ≤ 10, no
/// cache-flush; multicast/QU: ID 0, no questions, TTL 120 with the cache-flush bit); nothing is
/// sent before the announcement.
pub fn fuzz_mdns_packet(data: &[u8]) {
    let ([flags], packet) = header::<1>(data);
    let src: SocketAddr = if flags & 1 == 1 {
        "192.168.1.9:40000".parse().expect("address")
    } else {
        "192.168.1.9:5353".parse().expect("address")
    };
    let mut addrs = Addresses {
        v4: vec![[192, 168, 1, 20].into()],
        v6: vec![],
    };
    if flags & 2 == 2 {
        addrs.v6.push("fd00::20".parse().expect("address"));
    }
    let mut r = Responder::new(&["mailnook".to_string()]).expect("a valid name");
    let t0 = Instant::now();
    let live = flags & 4 == 0;
    if live {
        r.announce(&addrs, t0, false);
    }
    let reply = match r.handle(packet, src, &addrs, t0 + Duration::from_secs(5)) {
        Outcome::Send(reply) => reply,
        Outcome::Ignore | Outcome::Conflict(_) => return,
    };
    assert!(live, "answered before the announcement");
    assert!(reply.bytes.len() <= MAX_PACKET_BYTES);
    let p = Packet::parse(&reply.bytes).expect("our reply parses");
    assert!(p.has_flags(PacketFlag::RESPONSE | PacketFlag::AUTHORITATIVE_ANSWER));
    let query_id = u16::from_be_bytes([packet[0], packet[1]]);
    for rr in p.answers.iter().chain(&p.additional_records) {
        assert!(
            rr.name.to_string().eq_ignore_ascii_case("mailnook.local"),
            "{}",
            rr.name
        );
    }
    if flags & 1 == 1 {
        assert_eq!(reply.dest, Dest::Unicast(src));
        assert_eq!(p.id(), query_id);
        assert!(!p.questions.is_empty());
        assert!(
            p.answers
                .iter()
                .all(|rr| rr.ttl <= LEGACY_TTL && !rr.cache_flush)
        );
    } else {
        assert_eq!(p.id(), 0);
        assert!(p.questions.is_empty());
        assert!(p.answers.iter().all(|rr| rr.ttl == TTL && rr.cache_flush));
    }
}

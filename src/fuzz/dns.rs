//! DNS fuzz entry point: any datagram as the answer to a query of the stub resolver.

use super::header;
use crate::dns::stub::{Answer, build_query, parse_response};
use crate::dns::{RecordType, Records};

const QNAME: &str = "fuzz.test";
const ID: u16 = 0x4d4e;

/// `data[0]` picks the record type asked for (low 3 bits) and whether the datagram is taken as it
/// is or given the query's ID, QR and question first (bit 3: the fuzzer's bytes then start at the
/// answer section, so its records are what gets parsed). The rest is the datagram.
///
/// Properties: never a panic; an answer is only ever for the query's ID; a datagram of n octets
/// yields at most (n - 12) / 11 records (a resource record takes at least 11 octets); names stay
/// within their wire limit and TXT text within the datagram's size.
pub fn fuzz_dns_response(data: &[u8]) {
    let ([h], rest) = header::<1>(data);
    let rtype = [
        RecordType::A,
        RecordType::Aaaa,
        RecordType::Mx,
        RecordType::Txt,
        RecordType::Ptr,
    ][usize::from(h & 7) % 5];
    let packet = if h & 8 != 0 {
        // the query turned into a response header with the fuzzer's counts and sections
        let mut p = build_query(ID, QNAME, rtype, None).expect("a valid query");
        p[2] |= 0x80;
        let (counts, sections) = header::<6>(rest);
        p[6..12].copy_from_slice(&counts);
        p.extend_from_slice(sections);
        p
    } else {
        rest.to_vec()
    };
    let answer = parse_response(&packet, ID, QNAME, rtype);
    if answer.is_some() {
        assert_eq!(u16::from_be_bytes([packet[0], packet[1]]), ID);
    }
    if let Some(Answer::Records { records, .. }) = answer {
        let max = packet.len().saturating_sub(12) / 11;
        // a name is at most 255 octets on the wire (RFC 1035 §3.1), each shown as at most 4
        // characters (\DDD); TXT bytes that are not UTF-8 become U+FFFD (3 bytes each)
        let (n, names, texts) = match &records {
            Records::A(v) => (v.len(), 0, 0),
            Records::Aaaa(v) => (v.len(), 0, 0),
            Records::Mx(v) => (
                v.len(),
                v.iter().map(|m| m.exchange.len()).max().unwrap_or(0),
                0,
            ),
            Records::Ptr(v) => (v.len(), v.iter().map(String::len).max().unwrap_or(0), 0),
            Records::Txt(v) => (v.len(), 0, v.iter().map(String::len).sum()),
        };
        assert!(n <= max, "{n} records from {} octets", packet.len());
        assert!(names <= 4 * 255, "a {names}-character name");
        assert!(
            texts <= 3 * packet.len(),
            "{texts} bytes of TXT from {} octets",
            packet.len()
        );
        assert_eq!(records.record_type(), rtype);
    }
}

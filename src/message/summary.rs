//! The parsed summary stored beside each body: what IMAP ENVELOPE, listings and header searches
//! need, computed once at delivery from the message's header section.
//!
//! Only the header section is parsed (at most [`HEADER_SCAN_BYTES`]), so building a summary costs
//! bounded memory whatever the message size. Text is decoded (RFC 2047) by mail-parser and
//! truncated to [`MAX_FIELD_BYTES`] per field. The encoding starts with a version byte.

use crate::codec::{Dec, Enc};
use mail_parser::{Address, MessageParser};

/// How much of the message start is kept to find and parse the header section.
pub const HEADER_SCAN_BYTES: usize = 64 * 1024;
/// Longest text kept per field.
pub const MAX_FIELD_BYTES: usize = 1024;
/// Most addresses kept per address field.
pub const MAX_ADDRESSES: usize = 100;

const SUMMARY_V1: u8 = 1;

/// One address of an address header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Addr {
    /// Display name, decoded.
    pub name: Option<String>,
    /// `local@domain` as written.
    pub address: Option<String>,
}

/// Header facts of one message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    /// `Date:` as Unix seconds.
    pub date: Option<i64>,
    /// `Subject:`, decoded.
    pub subject: Option<String>,
    /// `From:`
    pub from: Vec<Addr>,
    /// `Sender:`
    pub sender: Vec<Addr>,
    /// `Reply-To:`
    pub reply_to: Vec<Addr>,
    /// `To:`
    pub to: Vec<Addr>,
    /// `Cc:`
    pub cc: Vec<Addr>,
    /// `Bcc:`
    pub bcc: Vec<Addr>,
    /// `In-Reply-To:`
    pub in_reply_to: Option<String>,
    /// `Message-ID:`
    pub message_id: Option<String>,
    /// Length of the header section including the blank line (0 if none was found).
    pub header_bytes: u64,
}

fn cut(s: &str) -> String {
    let mut end = s.len().min(MAX_FIELD_BYTES);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

fn addrs(a: Option<&Address<'_>>) -> Vec<Addr> {
    let Some(a) = a else { return Vec::new() };
    a.iter()
        .take(MAX_ADDRESSES)
        .map(|x| Addr {
            name: x.name.as_deref().map(cut),
            address: x.address.as_deref().map(cut),
        })
        .collect()
}

/// Length of the header section (through the CRLFCRLF or LFLF that ends it), if it is complete
/// within `start`.
pub fn header_section_len(start: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < start.len() {
        if start[i] == b'\n' {
            if start.get(i + 1) == Some(&b'\n') {
                return Some(i + 2);
            }
            if start.get(i + 1) == Some(&b'\r') && start.get(i + 2) == Some(&b'\n') {
                return Some(i + 3);
            }
        }
        i += 1;
    }
    None
}

impl Summary {
    /// Parses the header section found at the start of a message (`start` holds at most the
    /// first [`HEADER_SCAN_BYTES`]). Never fails: unparsable input gives an empty summary.
    pub fn from_message_start(start: &[u8]) -> Summary {
        let start = &start[..start.len().min(HEADER_SCAN_BYTES)];
        let header_len = header_section_len(start);
        let section = &start[..header_len.unwrap_or(start.len())];
        let Some(m) = MessageParser::new().parse_headers(section) else {
            return Summary {
                header_bytes: header_len.unwrap_or(0) as u64,
                ..Summary::default()
            };
        };
        Summary {
            date: m.date().map(|d| d.to_timestamp()),
            subject: m.subject().map(cut),
            from: addrs(m.from()),
            sender: addrs(m.sender()),
            reply_to: addrs(m.reply_to()),
            to: addrs(m.to()),
            cc: addrs(m.cc()),
            bcc: addrs(m.bcc()),
            in_reply_to: m.in_reply_to().as_text().map(cut),
            message_id: m.message_id().map(cut),
            header_bytes: header_len.unwrap_or(0) as u64,
        }
    }

    /// Encodes for storage.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.u8(SUMMARY_V1);
        match self.date {
            Some(d) => e.u8(1).u64(d as u64),
            None => e.u8(0),
        };
        for s in [&self.subject, &self.in_reply_to, &self.message_id] {
            opt(&mut e, s.as_deref());
        }
        for list in [
            &self.from,
            &self.sender,
            &self.reply_to,
            &self.to,
            &self.cc,
            &self.bcc,
        ] {
            e.u32(list.len() as u32);
            for a in list {
                opt(&mut e, a.name.as_deref());
                opt(&mut e, a.address.as_deref());
            }
        }
        e.u64(self.header_bytes);
        e.done()
    }

    /// Decodes a stored summary; `None` if it is corrupt or of an unknown version.
    pub fn decode(b: &[u8]) -> Option<Summary> {
        let mut d = Dec(b);
        (d.u8()? == SUMMARY_V1).then_some(())?;
        let date = match d.u8()? {
            0 => None,
            _ => Some(d.u64()? as i64),
        };
        let subject = get_opt(&mut d)?;
        let in_reply_to = get_opt(&mut d)?;
        let message_id = get_opt(&mut d)?;
        let mut lists: Vec<Vec<Addr>> = Vec::with_capacity(6);
        for _ in 0..6 {
            let n = d.u32()? as usize;
            let mut list = Vec::with_capacity(n.min(MAX_ADDRESSES));
            for _ in 0..n {
                list.push(Addr {
                    name: get_opt(&mut d)?,
                    address: get_opt(&mut d)?,
                });
            }
            lists.push(list);
        }
        let header_bytes = d.u64()?;
        let mut lists = lists.into_iter();
        let mut next = || lists.next().expect("six lists decoded");
        Some(Summary {
            date,
            subject,
            from: next(),
            sender: next(),
            reply_to: next(),
            to: next(),
            cc: next(),
            bcc: next(),
            in_reply_to,
            message_id,
            header_bytes,
        })
    }
}

fn opt(e: &mut Enc, s: Option<&str>) {
    match s {
        Some(s) => e.u8(1).str(s),
        None => e.u8(0),
    };
}

fn get_opt(d: &mut Dec<'_>) -> Option<Option<String>> {
    match d.u8()? {
        0 => Some(None),
        _ => Some(Some(d.string()?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_round_trips() {
        let msg = b"From: =?utf-8?q?J=C3=B6rg?= <j@example.test>\r\nTo: a@b.test, \"C D\" <c@d.test>\r\n\
                    Subject: =?utf-8?b?SGVsbG8gd29ybGQ=?=\r\nDate: Thu, 26 Nov 2026 18:29:11 +0000\r\n\
                    Message-ID: <x@y>\r\n\r\nbody\r\n";
        let s = Summary::from_message_start(msg);
        assert_eq!(s.subject.as_deref(), Some("Hello world"));
        assert_eq!(s.from[0].name.as_deref(), Some("Jörg"));
        assert_eq!(s.to.len(), 2);
        assert_eq!(s.date, Some(1_795_717_751));
        assert_eq!(s.message_id.as_deref(), Some("x@y"));
        assert_eq!(s.header_bytes as usize, msg.len() - 6);
        assert_eq!(Summary::decode(&s.encode()), Some(s));
        assert_eq!(Summary::decode(&[9]), None);
    }

    #[test]
    fn survives_garbage() {
        for input in [
            &b""[..],
            b"\r\n",
            b"no colon here",
            b"\xff\xfe: \x00\r\n\r\n",
            b"Subject: a\n\nb",
        ] {
            let s = Summary::from_message_start(input);
            assert_eq!(Summary::decode(&s.encode()), Some(s));
        }
    }
}

//! mbox fuzz entry point: reading any file, and reading again what writing the result gives.

use crate::mailfile::mbox::{MboxWriter, read};
use crate::mailfile::{Meta, Receiver};

#[derive(Default)]
struct Collect {
    messages: Vec<(Vec<u8>, Meta)>,
    open: bool,
}

impl Receiver for Collect {
    fn begin(&mut self, _index: u64, _offset: u64) {
        assert!(!self.open, "a message began inside another");
        self.open = true;
        self.messages.push((Vec::new(), Meta::default()));
    }
    fn data(&mut self, bytes: &[u8]) {
        assert!(self.open, "data outside a message");
        self.messages
            .last_mut()
            .expect("begun")
            .0
            .extend_from_slice(bytes);
    }
    fn end(&mut self, meta: Meta) {
        assert!(self.open, "an end without a beginning");
        self.open = false;
        self.messages.last_mut().expect("begun").1 = meta;
    }
}

fn parse(bytes: &[u8]) -> Option<Vec<(Vec<u8>, Meta)>> {
    let mut c = Collect::default();
    let n = read(std::io::Cursor::new(bytes), &mut c).ok()?;
    assert!(!c.open, "a message left open");
    assert_eq!(n as usize, c.messages.len());
    Some(c.messages)
}

/// Whether every CR is followed by LF and every LF preceded by CR: what the store holds (SMTP
/// and APPEND refuse bare CR and LF), and what the exact round trip is promised for.
fn crlf_only(b: &[u8]) -> bool {
    b.iter().enumerate().all(|(i, &c)| match c {
        b'\r' => b.get(i + 1) == Some(&b'\n'),
        b'\n' => i > 0 && b[i - 1] == b'\r',
        _ => true,
    })
}

/// Any input is read without a panic and with well-formed events; what it yields, written as an
/// mbox and read again, comes back as many messages, and those with CRLF line endings only (as
/// stored messages are) come back the same (bytes, flags, keywords), except that a message not
/// ending with a line ending gains one.
pub fn fuzz_mbox_reader(data: &[u8]) {
    let Some(first) = parse(data) else {
        return;
    };
    let mut w = MboxWriter::new(Vec::new());
    for (body, meta) in &first {
        w.write_message(
            meta.internal_date.unwrap_or(0),
            meta.flags,
            &meta.keywords,
            &body[..],
        )
        .expect("writing to memory");
    }
    let written = w.finish().expect("writing to memory");
    let second = parse(&written).expect("our own mbox reads back");
    assert_eq!(first.len(), second.len(), "message count");
    for ((b1, m1), (b2, m2)) in first.iter().zip(&second) {
        if !crlf_only(b1) {
            continue;
        }
        if b1.ends_with(b"\n") || b1.is_empty() {
            assert_eq!(b1, b2, "message bytes");
        } else {
            assert!(
                b2.strip_prefix(&b1[..])
                    .is_some_and(|t| t == b"\r\n" || t == b"\n"),
                "only a line ending added: {b1:?} -> {b2:?}"
            );
        }
        assert_eq!(
            (m1.flags, &m1.keywords),
            (m2.flags, &m2.keywords),
            "metadata"
        );
    }
}

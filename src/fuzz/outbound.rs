//! Fuzz entry points for what the submission and queue paths build from user input: the header
//! completion of submitted messages ([`crate::message::submit`]) and delivery status reports
//! ([`crate::message::dsn`]).

use super::{chunks, header, into_tokens};
use crate::message::dsn::{self, DsnInput, DsnKind, DsnRecipient};
use crate::message::header::split_fields;
use crate::message::submit::{HeaderFixer, from_addresses};

const HEADER_TOKENS: &[&[u8]] = &[
    b"From: a@b.test\r\n",
    b"From: \"x\" <a@b.test>, c@d.test\r\n",
    b"Bcc: s@x.test\r\n",
    b"BCC:\r\n y@z.test\r\n",
    b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n",
    b"Message-ID: <1@x>\r\n",
    b"Subject: hi\r\n",
    b" continued\r\n",
    b"\r\n",
    b"\r",
    b"\n",
    b"body",
    b":",
    b"\xff",
];

/// Runs a [`HeaderFixer`] over the input fed in chunks.
///
/// Input: `[flags, limit, size0, size1, payload...]`; flags bit 0 maps the payload to header
/// tokens; the limit is `64 + 8 * limit` bytes. Checks: the header is refused only past the
/// limit; everything after the header's empty line comes out unchanged; no Bcc field survives;
/// Date and Message-ID are present afterwards; the From parse never panics.
pub fn fuzz_submission_header(data: &[u8]) {
    let (h, rest) = header::<4>(data);
    let payload = if h[0] & 1 != 0 {
        into_tokens(rest, HEADER_TOKENS)
    } else {
        rest.to_vec()
    };
    let limit = 64 + 8 * usize::from(h[1]);
    let mut fixer = HeaderFixer::new(limit, "fuzz.test", 1_700_000_000);
    let mut out = Vec::new();
    for chunk in chunks(&payload, &h[2..4]) {
        if fixer.feed(chunk, &mut out).is_err() {
            // Refused only when the header section is really longer than the limit.
            let end = memchr::memmem::find(&payload, b"\r\n\r\n").map(|i| i + 2);
            let starts_blank = payload.starts_with(b"\r\n");
            assert!(!starts_blank, "an empty header section was refused");
            assert!(
                end.is_none_or(|e| e > limit),
                "refused a header within the limit"
            );
            return;
        }
    }
    if fixer.header().is_none() {
        fixer.finish(&mut out);
    }
    let fixed = fixer.header().expect("finished").to_vec();
    assert!(
        out.starts_with(&fixed),
        "output does not start with the header"
    );
    assert_eq!(&out[fixed.len()..fixed.len() + 2], b"\r\n");
    // The body passes through.
    let body_in = if payload.starts_with(b"\r\n") {
        Some(&payload[2..])
    } else {
        memchr::memmem::find(&payload, b"\r\n\r\n").map(|i| &payload[i + 4..])
    };
    if let Some(body) = body_in {
        assert_eq!(&out[fixed.len() + 2..], body, "body changed");
    }
    let fields = split_fields(&fixed);
    assert!(
        fields.iter().all(|f| !f.name.eq_ignore_ascii_case(b"bcc")),
        "Bcc kept"
    );
    let count = |n: &[u8]| {
        fields
            .iter()
            .filter(|f| f.name.eq_ignore_ascii_case(n))
            .count()
    };
    assert!(count(b"date") >= 1 && count(b"message-id") >= 1);
    let _ = from_addresses(&fixed);
}

/// Builds a report from fields cut out of the input (separated by `0xff`).
///
/// Checks: the report parses; its top-level header has exactly the fields the builder writes
/// (nothing the input carries can add one); the delivery-status part names every recipient;
/// the size stays within the builder's bounds.
pub fn fuzz_dsn(data: &[u8]) {
    let mut parts = data.split(|&b| b == 0xff);
    let mut next = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let (mta, to, qid, header_text) = (next(), next(), next(), next());
    let mut recipients = Vec::new();
    for _ in 0..3 {
        let (address, remote, diag) = (next(), next(), next());
        if address.is_empty() {
            break;
        }
        recipients.push(DsnRecipient {
            address,
            status: dsn::status_from_reply(550, &diag),
            remote_mta: (!remote.is_empty()).then_some(remote),
            diagnostic: Some(diag),
            last_attempt: Some(1_700_000_000),
        });
    }
    let delay = data.first().is_some_and(|b| b & 1 != 0);
    let report = dsn::build(&DsnInput {
        kind: if delay {
            DsnKind::Delay
        } else {
            DsnKind::Failure
        },
        reporting_mta: &mta,
        to: &to,
        queue_id: &qid,
        arrival: 1_700_000_000,
        now: 1_700_000_100,
        retry_until: delay.then_some(1_700_400_000),
        recipients: &recipients,
        original_header: header_text.as_bytes(),
    });
    assert!(
        report.len() <= 96 * 1024 + recipients.len() * 8 * 1024,
        "report of {} bytes",
        report.len()
    );
    let top_end = memchr::memmem::find(&report, b"\r\n\r\n").expect("a header section");
    let names: Vec<String> = split_fields(&report[..top_end + 2])
        .iter()
        .map(|f| String::from_utf8_lossy(f.name).to_ascii_lowercase())
        .collect();
    for n in &names {
        assert!(
            [
                "from",
                "to",
                "subject",
                "date",
                "message-id",
                "auto-submitted",
                "mime-version",
                "content-type",
            ]
            .contains(&n.as_str()),
            "unexpected top-level field {n:?}"
        );
    }
    let msg = mail_parser::MessageParser::new()
        .parse(&report)
        .expect("the report parses");
    assert!(msg.parts.len() >= 4, "three parts and the container");
}

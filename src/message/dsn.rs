//! Delivery status notifications (RFC 3464): the bounce sent when a message could not be
//! delivered, and the warning sent while its delivery is still being retried.
//!
//! Invariants:
//!
//! - Pure: no I/O and no clock reads. The time (`now`, `arrival`, ...) is passed in, and the
//!   MIME boundary is derived from the input (never from mail-builder's clock-seeded
//!   generator), so the same input always gives the same bytes.
//! - Never panics on any input, and never includes the original message body: only the header
//!   section, cut at its first empty line.
//! - Bounded: the report is at most about 70 KiB (the original header section is cut to
//!   [`MAX_HEADER_SECTION`] at a line boundary, the rest is short fixed text) plus, for each
//!   recipient, a few lines whose fields are each cut to a fixed length (address
//!   [`MAX_ADDRESS`], diagnostic [`MAX_DIAGNOSTIC`], host names [`MAX_HOST`]).
//! - Header injection is impossible: every value taken from the input is stripped of CR, LF
//!   and other control characters before it is written, in the top-level header as in the
//!   report fields.
//!
//! Structure (RFC 3464 §2, RFC 6522): a `multipart/report; report-type=delivery-status` with
//! three parts:
//!
//! 1. `text/plain` for a person: what happened to each recipient and, for a delay, until when
//!    the mail system keeps trying (§2.1 first part).
//! 2. `message/delivery-status`, written here byte for byte as 7bit text because mail-builder
//!    would otherwise choose its own transfer encoding: per-message fields (§2.2:
//!    `Reporting-MTA`, `Arrival-Date`), then one block per recipient after an empty line (§2.3:
//!    `Final-Recipient`, `Action`, `Status`, `Remote-MTA`, `Diagnostic-Code`,
//!    `Last-Attempt-Date`, `Will-Retry-Until`). Field values are printable ASCII only (§2.1: the
//!    part is 7bit), non-ASCII is replaced by `?`, except in a non-ASCII recipient address,
//!    which is written as an RFC 6533 §3 `utf-8` address with `\x{HHHH}` escapes. Lines are
//!    folded at spaces (§2.1: RFC 822 header syntax) and no line exceeds 998 octets
//!    (RFC 5322 §2.1.1).
//! 3. `text/rfc822-headers` (RFC 6522 §4; RFC 3464 §2.1 third part): the original header
//!    section with its line ends made CRLF; `7bit`, or `8bit` when the original header had
//!    non-ASCII octets (an SMTPUTF8 message).
//!
//! The top-level header carries `Auto-Submitted: auto-replied` (RFC 3834 §5) so that
//! responders do not answer the report.

use mail_builder::MessageBuilder;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;
use mail_builder::headers::text::Text;
use mail_builder::mime::{BodyPart, MimePart};

use crate::time::rfc5322;

/// The original header section is cut to this many octets, at a line boundary.
pub const MAX_HEADER_SECTION: usize = 64 * 1024;
/// A recipient address is cut to this many octets (RFC 5321 §4.5.3.1.3 allows 256 for a path).
pub const MAX_ADDRESS: usize = 512;
/// A diagnostic text is cut to this many octets.
pub const MAX_DIAGNOSTIC: usize = 1024;
/// A host name (or queue id) is cut to this many octets (RFC 1035: 255).
pub const MAX_HOST: usize = 255;
/// Report field lines are folded before this column when there is a space to fold at.
const FOLD_AT: usize = 78;
/// A single word of a report field is cut to this length, which keeps every line, name
/// included, under 998 octets.
const MAX_WORD: usize = 900;

/// Why the report is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsnKind {
    /// Delivery failed for good (`Action: failed`).
    Failure,
    /// Delivery is still being retried (`Action: delayed`).
    Delay,
}

/// What happened to one recipient (RFC 3464 §2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsnRecipient {
    /// Final recipient, written as `rfc822; address` (an `rfc822;` prefix or angle brackets
    /// given here are dropped).
    pub address: String,
    /// Enhanced status (RFC 3463), e.g. (5,1,1).
    pub status: (u8, u16, u16),
    /// Host that answered, written as `dns; host` (a `dns;` prefix given here is dropped).
    pub remote_mta: Option<String>,
    /// `smtp; 550 5.1.1 no such user`: the reply code and text as received. Without a
    /// `type;` prefix, `smtp; ` is added when the text starts with a reply code and
    /// `X-mailnook; ` otherwise.
    pub diagnostic: Option<String>,
    /// Unix seconds.
    pub last_attempt: Option<u64>,
}

/// Everything the report says.
#[derive(Debug, Clone)]
pub struct DsnInput<'a> {
    /// Why the report is sent.
    pub kind: DsnKind,
    /// Our host name.
    pub reporting_mta: &'a str,
    /// The original sender (envelope MAIL FROM), who gets the report.
    pub to: &'a str,
    /// Our id of the message (in the Message-ID and the text part).
    pub queue_id: &'a str,
    /// Unix seconds the message was accepted.
    pub arrival: u64,
    /// Unix seconds (Date header, Message-ID).
    pub now: u64,
    /// For [`DsnKind::Delay`]: when we give up (`Will-Retry-Until`).
    pub retry_until: Option<u64>,
    /// The recipients the report is about.
    pub recipients: &'a [DsnRecipient],
    /// The header section of the original message (up to, not including, the blank line).
    pub original_header: &'a [u8],
}

/// The whole report message, CRLF line endings, ready to deliver into the sender's INBOX.
pub fn build(input: &DsnInput<'_>) -> Vec<u8> {
    let mta = host(input.reporting_mta);
    let qid = queue_id(input.queue_id);
    let human = human_text(input, &mta, &qid);
    let status = delivery_status(input, &mta);
    let (headers, eight_bit) = header_section(input.original_header);
    let boundary = boundary(input.now, &[human.as_bytes(), status.as_bytes(), &headers]);

    let subject = match input.kind {
        DsnKind::Failure => "Undelivered Mail Returned to Sender",
        DsnKind::Delay => "Delayed Mail (still being retried)",
    };
    let body = MimePart::new(
        ContentType::new("multipart/report")
            .attribute("report-type", "delivery-status")
            .attribute("boundary", boundary),
        vec![
            MimePart::new("text/plain", human),
            MimePart::new(
                ContentType::new("message/delivery-status"),
                BodyPart::Binary(status.into_bytes().into()),
            )
            .transfer_encoding("7bit"),
            MimePart::new(
                ContentType::new("text/rfc822-headers"),
                BodyPart::Binary(headers.into()),
            )
            .transfer_encoding(if eight_bit { "8bit" } else { "7bit" }),
        ],
    );
    let message = MessageBuilder::new()
        .header(
            "From",
            Raw::new(format!("Mail Delivery System <MAILER-DAEMON@{mta}>")),
        )
        .header("To", Raw::new(format!("<{}>", sender(input.to))))
        .header("Subject", Text::new(subject))
        .header("Date", Raw::new(rfc5322(input.now)))
        .header(
            "Message-ID",
            MessageId::new(format!("{}.{qid}.dsn@{}", input.now, queue_id(&mta))),
        )
        .header("Auto-Submitted", Raw::new("auto-replied"))
        .header("MIME-Version", Raw::new("1.0"))
        .body(body);
    let mut out = Vec::with_capacity(4096);
    message.serialize(&mut out);
    out
}

/// Extracts an enhanced status code from an SMTP reply (RFC 3463: "5.1.1 text" at the start of
/// the text); falls back to X.0.0 from the reply's first digit (4 or 5; anything else →
/// 4.0.0). A code in the text whose class differs from the reply's is ignored.
pub fn status_from_reply(code: u16, text: &str) -> (u8, u16, u16) {
    let class = match code / 100 {
        5 => 5,
        _ => 4,
    };
    let mut rest = text.trim_start();
    // Tolerate the reply code repeated at the start of the text ("550 5.1.1 ..." or "550-...").
    let code_text = code.to_string();
    if let Some(after) = rest.strip_prefix(code_text.as_str())
        && (after.starts_with([' ', '-']) || after.is_empty())
    {
        rest = after.get(1..).unwrap_or("").trim_start();
    }
    let token = rest.split_ascii_whitespace().next().unwrap_or("");
    match parse_status(token) {
        Some(status) if status.0 == class => status,
        _ => (class, 0, 0),
    }
}

/// `class "." subject "." detail` (RFC 3463 §2): class 2, 4 or 5; 1–3 digits each after it.
fn parse_status(token: &str) -> Option<(u8, u16, u16)> {
    let mut parts = token.split('.');
    let class = parts.next()?;
    let subject = parts.next()?;
    let detail = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let class = match class {
        "2" => 2,
        "4" => 4,
        "5" => 5,
        _ => return None,
    };
    let number = |s: &str| -> Option<u16> {
        if (1..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    Some((class, number(subject)?, number(detail)?))
}

/// The status as written in the report: the class made valid for the report's kind and the
/// numbers kept to three digits.
fn status_text(kind: DsnKind, (class, subject, detail): (u8, u16, u16)) -> String {
    let class = match class {
        2 | 4 | 5 => class,
        _ if kind == DsnKind::Delay => 4,
        _ => 5,
    };
    let three = |n: u16| if n > 999 { 0 } else { n };
    format!("{class}.{}.{}", three(subject), three(detail))
}

/// Part 1: the explanation for a person.
fn human_text(input: &DsnInput<'_>, mta: &str, qid: &str) -> String {
    let mut t = String::new();
    t.push_str(&format!(
        "This is an automatic message from the mail system at {mta}.\r\nPlease do not reply to it.\r\n\r\n"
    ));
    match input.kind {
        DsnKind::Failure => t.push_str(
            "Your message could not be delivered to the recipients below, and the mail\r\n\
             system has given up. The reasons follow.\r\n",
        ),
        DsnKind::Delay => {
            t.push_str(
                "Your message has not yet been delivered to the recipients below. The mail\r\n\
                 system is still trying; you do not need to send it again.\r\n",
            );
            if let Some(until) = input.retry_until {
                t.push_str(&format!(
                    "It will give up if the message is still undelivered on {}.\r\n",
                    rfc5322(until)
                ));
            }
        }
    }
    t.push_str("\r\n");
    for r in input.recipients {
        t.push_str(&format!(
            "<{}>: ",
            human_line(&bare_address(&r.address), MAX_ADDRESS)
        ));
        match &r.diagnostic {
            Some(d) => t.push_str(&human_line(d, MAX_DIAGNOSTIC)),
            None => t.push_str(&format!("status {}", status_text(input.kind, r.status))),
        }
        if let Some(remote) = &r.remote_mta {
            t.push_str(&format!(
                " (answered by {})",
                host(strip_type(remote, "dns"))
            ));
        }
        t.push_str("\r\n");
    }
    t.push_str(&format!(
        "\r\nMessage accepted {} with queue id {qid}.\r\n\
         The delivery report and the header of your message are attached.\r\n",
        rfc5322(input.arrival)
    ));
    t
}

/// Part 2: the machine-readable report (RFC 3464 §2.2, §2.3), 7bit CRLF text.
fn delivery_status(input: &DsnInput<'_>, mta: &str) -> String {
    let mut s = String::new();
    push_field(&mut s, "Reporting-MTA", &format!("dns; {mta}"));
    push_field(&mut s, "Arrival-Date", &rfc5322(input.arrival));
    for r in input.recipients {
        s.push_str("\r\n");
        push_field(&mut s, "Final-Recipient", &final_recipient(&r.address));
        let action = match input.kind {
            DsnKind::Failure => "failed",
            DsnKind::Delay => "delayed",
        };
        push_field(&mut s, "Action", action);
        push_field(&mut s, "Status", &status_text(input.kind, r.status));
        if let Some(remote) = &r.remote_mta {
            let h = host(strip_type(remote, "dns"));
            if !h.is_empty() {
                push_field(&mut s, "Remote-MTA", &format!("dns; {h}"));
            }
        }
        if let Some(d) = &r.diagnostic {
            let d = ascii_line(d, MAX_DIAGNOSTIC);
            if !d.is_empty() {
                push_field(&mut s, "Diagnostic-Code", &diagnostic_code(&d));
            }
        }
        if let Some(t) = r.last_attempt {
            push_field(&mut s, "Last-Attempt-Date", &rfc5322(t));
        }
        if input.kind == DsnKind::Delay
            && let Some(t) = input.retry_until
        {
            push_field(&mut s, "Will-Retry-Until", &rfc5322(t));
        }
    }
    s
}

/// `diagnostic-type; text` (RFC 3464 §2.3.6), the type added when the text has none.
fn diagnostic_code(d: &str) -> String {
    if let Some((kind, _)) = d.split_once(';')
        && !kind.is_empty()
        && kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return d.to_string();
    }
    let starts_with_code = d.len() >= 3 && d.as_bytes().iter().take(3).all(u8::is_ascii_digit);
    if starts_with_code {
        format!("smtp; {d}")
    } else {
        format!("X-mailnook; {d}")
    }
}

/// `rfc822; address` for an ASCII address, `utf-8; address` with RFC 6533 §3 embedded
/// `\x{HHHH}` escapes for any other (the part is 7bit).
fn final_recipient(address: &str) -> String {
    let a: String = bare_address(address)
        .chars()
        .filter(|c| !c.is_control() && !c.is_whitespace())
        .collect();
    let a = cut(&a, MAX_ADDRESS);
    if a.is_ascii() {
        return format!("rfc822; {a}");
    }
    let mut out = String::from("utf-8; ");
    for c in a.chars() {
        // QCHAR of RFC 6533 §3: printable ASCII except "+", "=" and "\".
        if c.is_ascii_graphic() && !matches!(c, '+' | '=' | '\\') {
            out.push(c);
        } else {
            out.push_str(&format!("\\x{{{:02X}}}", u32::from(c)));
        }
    }
    out
}

/// The address without an `rfc822;` type prefix or angle brackets.
fn bare_address(address: &str) -> String {
    let a = strip_type(address, "rfc822").trim();
    let a = a.strip_prefix('<').unwrap_or(a);
    let a = a.strip_suffix('>').unwrap_or(a);
    a.to_string()
}

/// `value` without a leading `kind;` (case-insensitive), trimmed.
fn strip_type<'v>(value: &'v str, kind: &str) -> &'v str {
    let v = value.trim();
    match v.split_once(';') {
        Some((k, rest)) if k.trim().eq_ignore_ascii_case(kind) => rest.trim(),
        _ => v,
    }
}

/// A host name or address literal: letters, digits and `.-_:[]` only, at most [`MAX_HOST`].
fn host(s: &str) -> String {
    let h: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '[' | ']'))
        .take(MAX_HOST)
        .collect();
    if h.is_empty() { "localhost".into() } else { h }
}

/// The queue id as a dot-atom part of the Message-ID: letters, digits and `.-_` only.
fn queue_id(s: &str) -> String {
    let q: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(MAX_HOST)
        .collect();
    let q = q.trim_matches('.').to_string();
    if q.is_empty() { "unknown".into() } else { q }
}

/// The sender address for the `To:` header: no controls, whitespace or angle brackets.
fn sender(s: &str) -> String {
    let a: String = bare_address(s)
        .chars()
        .filter(|c| !c.is_control() && !c.is_whitespace() && !matches!(c, '<' | '>'))
        .collect();
    cut(&a, MAX_ADDRESS).to_string()
}

/// One line of printable ASCII: CR, LF and tabs become spaces, other controls go, non-ASCII
/// becomes `?`, runs of spaces become one; cut to `max` octets.
fn ascii_line(s: &str, max: usize) -> String {
    let mapped: String = s
        .chars()
        .filter_map(|c| match c {
            '\r' | '\n' | '\t' => Some(' '),
            c if c.is_control() => None,
            c if !c.is_ascii() => Some('?'),
            c => Some(c),
        })
        .collect();
    let joined = mapped
        .split_ascii_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    cut(&joined, max).to_string()
}

/// One line of text for the person: like [`ascii_line`] but non-ASCII is kept (the text part
/// is UTF-8 and mail-builder encodes it).
fn human_line(s: &str, max: usize) -> String {
    let mapped: String = s
        .chars()
        .filter_map(|c| match c {
            '\r' | '\n' | '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect();
    let joined = mapped.split_whitespace().collect::<Vec<_>>().join(" ");
    cut(&joined, max).to_string()
}

/// `s` cut to at most `max` octets at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

/// Appends `Name: value` CRLF, folding at spaces before [`FOLD_AT`] where it can (RFC 3464
/// §2.1 fields follow RFC 822 syntax); words longer than [`MAX_WORD`] are cut so that no line
/// exceeds 998 octets. `value` must already be one line of printable ASCII.
fn push_field(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push(':');
    let start = name.len() + 1;
    let mut line = start;
    for word in value.split(' ').filter(|w| !w.is_empty()) {
        let word = cut(word, MAX_WORD);
        if line > start && line + 1 + word.len() > FOLD_AT {
            out.push_str("\r\n");
            line = 0;
        }
        out.push(' ');
        out.push_str(word);
        line += 1 + word.len();
    }
    out.push_str("\r\n");
}

/// Part 3: the original header section, CRLF line ends, cut at its first empty line (the body
/// never follows) and to [`MAX_HEADER_SECTION`] at a line boundary. Bare CR and NUL inside a
/// line become spaces. Returns the bytes and whether any is non-ASCII.
fn header_section(original: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(original.len().min(MAX_HEADER_SECTION) + 2);
    for raw in original.split(|&b| b == b'\n') {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.is_empty() {
            break; // the blank line (the body would follow), or the end after the last CRLF
        }
        if out.len() + line.len() + 2 > MAX_HEADER_SECTION {
            break;
        }
        out.extend(
            line.iter()
                .map(|&b| if b == b'\r' || b == 0 { b' ' } else { b }),
        );
        out.extend_from_slice(b"\r\n");
    }
    let eight_bit = !out.is_ascii();
    (out, eight_bit)
}

/// A boundary that occurs in none of the parts. It starts with `=_`, which quoted-printable
/// output never contains, and is derived from `now` (no clock read, unlike mail-builder's own).
fn boundary(now: u64, parts: &[&[u8]]) -> String {
    let free = |b: &String| {
        !parts
            .iter()
            .any(|p| memchr::memmem::find(p, b.as_bytes()).is_some())
    };
    (0u64..)
        .map(|n| format!("=_dsn_{now:x}_{n}"))
        .find(free)
        .unwrap_or_else(|| format!("=_dsn_{now:x}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::{MessageParser, MimeHeaders};

    const HEADER: &[u8] =
        b"Received: from a.test\r\n\tby mx.test; Thu, 1 Jan 1970 00:00:00 +0000\r\n\
        From: Sender <s@example.test>\nTo: u@remote.test\r\nSubject: hello\r\nMessage-ID: <x@y>";

    fn recipients() -> Vec<DsnRecipient> {
        vec![
            DsnRecipient {
                address: "u@remote.test".into(),
                status: (5, 1, 1),
                remote_mta: Some("mx.remote.test".into()),
                diagnostic: Some("smtp; 550 5.1.1 no such user".into()),
                last_attempt: Some(1_795_717_751),
            },
            DsnRecipient {
                address: "<v@other.test>".into(),
                status: (5, 4, 4),
                remote_mta: None,
                diagnostic: None,
                last_attempt: None,
            },
        ]
    }

    fn input<'a>(kind: DsnKind, rcpts: &'a [DsnRecipient], header: &'a [u8]) -> DsnInput<'a> {
        DsnInput {
            kind,
            reporting_mta: "mx.example.test",
            to: "s@example.test",
            queue_id: "Q123",
            arrival: 1_795_700_000,
            now: 1_795_717_751,
            retry_until: Some(1_796_000_000),
            recipients: rcpts,
            original_header: header,
        }
    }

    fn text(b: &[u8]) -> &str {
        std::str::from_utf8(b).unwrap()
    }

    #[test]
    fn failure_report_parses_as_a_three_part_report() {
        let rcpts = recipients();
        let out = build(&input(DsnKind::Failure, &rcpts, HEADER));
        let raw = text(&out);
        for line in raw.split("\r\n") {
            assert!(line.len() <= 998);
            assert!(!line.contains('\n') && !line.contains('\r'), "{raw}");
        }
        let msg = MessageParser::new().parse(&out).unwrap();
        let ct = msg.content_type().unwrap();
        assert_eq!(ct.ctype(), "multipart");
        assert_eq!(ct.subtype(), Some("report"));
        assert_eq!(ct.attribute("report-type"), Some("delivery-status"));
        assert_eq!(msg.subject(), Some("Undelivered Mail Returned to Sender"));
        assert_eq!(
            msg.from().unwrap().first().unwrap().address(),
            Some("MAILER-DAEMON@mx.example.test")
        );
        assert_eq!(
            msg.to().unwrap().first().unwrap().address(),
            Some("s@example.test")
        );
        assert_eq!(
            msg.message_id(),
            Some("1795717751.Q123.dsn@mx.example.test")
        );
        assert_eq!(msg.date().unwrap().to_timestamp(), 1_795_717_751);
        assert!(raw.contains("\r\nAuto-Submitted: auto-replied\r\n"));
        assert!(raw.contains("\r\nMIME-Version: 1.0\r\n"));

        let root = msg.part(0).unwrap();
        let children = match &root.body {
            mail_parser::PartType::Multipart(c) => c.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(children.len(), 3);
        let part = |i: usize| msg.part(children[i]).unwrap();

        let human = part(0);
        assert_eq!(human.content_type().unwrap().subtype(), Some("plain"));
        let human_text = human.text_contents().unwrap();
        assert!(human_text.contains("automatic message"));
        assert!(human_text.contains("<u@remote.test>: smtp; 550 5.1.1 no such user"));
        assert!(human_text.contains("<v@other.test>: status 5.4.4"));

        let ds = part(1);
        let ct = ds.content_type().unwrap();
        assert_eq!(
            (ct.ctype(), ct.subtype()),
            ("message", Some("delivery-status"))
        );
        let ds = text(ds.contents());
        assert!(ds.starts_with(
            "Reporting-MTA: dns; mx.example.test\r\nArrival-Date: Thu, 26 Nov 2026 13:33:20 +0000\r\n\r\n"
        ), "{ds}");
        assert!(
            ds.contains(
                "Final-Recipient: rfc822; u@remote.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\
             Remote-MTA: dns; mx.remote.test\r\nDiagnostic-Code: smtp; 550 5.1.1 no such user\r\n\
             Last-Attempt-Date: Thu, 26 Nov 2026 18:29:11 +0000\r\n"
            ),
            "{ds}"
        );
        assert!(ds.contains(
            "\r\n\r\nFinal-Recipient: rfc822; v@other.test\r\nAction: failed\r\nStatus: 5.4.4\r\n"
        ), "{ds}");
        assert!(!ds.contains("Will-Retry-Until"));

        let hdrs = part(2);
        let ct = hdrs.content_type().unwrap();
        assert_eq!((ct.ctype(), ct.subtype()), ("text", Some("rfc822-headers")));
        let h = text(hdrs.contents());
        assert!(
            h.starts_with("Received: from a.test\r\n\tby mx.test;"),
            "{h}"
        );
        assert!(h.contains("\r\nFrom: Sender <s@example.test>\r\nTo: u@remote.test\r\n"));
        assert!(h.contains("Message-ID: <x@y>"));
    }

    #[test]
    fn delay_report_says_until_when() {
        let rcpts = [DsnRecipient {
            address: "u@remote.test".into(),
            status: (4, 4, 1),
            remote_mta: None,
            diagnostic: Some("connection timed out".into()),
            last_attempt: Some(1_795_717_000),
        }];
        let out = build(&input(DsnKind::Delay, &rcpts, HEADER));
        let msg = MessageParser::new().parse(&out).unwrap();
        assert_eq!(msg.subject(), Some("Delayed Mail (still being retried)"));
        let human = msg.body_text(0).unwrap();
        assert!(human.contains("give up"), "{human}");
        assert!(human.contains(&rfc5322(1_796_000_000)));
        let ds = text(msg.part(2).unwrap().contents());
        assert!(ds.contains("Action: delayed\r\nStatus: 4.4.1\r\n"), "{ds}");
        assert!(ds.contains("Diagnostic-Code: X-mailnook; connection timed out\r\n"));
        assert!(ds.contains(&format!("Will-Retry-Until: {}\r\n", rfc5322(1_796_000_000))));
    }

    #[test]
    fn diagnostic_injection_stays_on_its_line() {
        let rcpts = [DsnRecipient {
            address: "u@remote.test\r\nBcc: x@evil.test".into(),
            status: (5, 7, 1),
            remote_mta: Some("mx.remote.test\r\nX-Evil: 1".into()),
            diagnostic: Some(
                "smtp; 550 5.7.1 denied\r\nX-Injected: yes\nSubject: pwned\r\n\r\nbody ünïcode\x07"
                    .into(),
            ),
            last_attempt: None,
        }];
        let mut evil = input(DsnKind::Failure, &rcpts, HEADER);
        evil.to = "s@example.test>\r\nBcc: y@evil.test";
        evil.reporting_mta = "mx.example.test\r\nX-Top: 1";
        evil.queue_id = "Q1>\r\nX-Q: 1";
        let out = build(&evil);
        let raw = text(&out);
        let top = &raw[..raw.find("\r\n\r\n").unwrap()];
        for line in top.split("\r\n") {
            assert!(line.is_ascii(), "{top}");
            assert!(!line.starts_with("X-") && !line.starts_with("Bcc"), "{top}");
        }
        assert!(
            top.contains("\r\nTo: <s@example.testBcc:y@evil.test>\r\n"),
            "{top}"
        );
        let msg = MessageParser::new().parse(&out).unwrap();
        assert!(msg.header("X-Injected").is_none());
        assert!(msg.header("Bcc").is_none());
        assert!(msg.header("X-Top").is_none());
        assert!(msg.header("X-Q").is_none());
        assert_eq!(msg.subject(), Some("Undelivered Mail Returned to Sender"));
        let ds = text(msg.part(2).unwrap().contents());
        assert!(ds.is_ascii());
        let fields = [
            "Reporting-MTA:",
            "Arrival-Date:",
            "Final-Recipient:",
            "Action:",
            "Status:",
            "Remote-MTA:",
            "Diagnostic-Code:",
        ];
        for l in ds.split("\r\n") {
            assert!(
                l.is_empty() || l.starts_with(' ') || fields.iter().any(|p| l.starts_with(p)),
                "{ds}"
            );
        }
        let unfolded = ds.replace("\r\n ", " ");
        assert!(
            unfolded.contains(
                "\r\nDiagnostic-Code: smtp; 550 5.7.1 denied X-Injected: yes Subject: pwned body ?n?code\r\n"
            ),
            "{ds}"
        );
        assert!(
            ds.contains("\r\nFinal-Recipient: rfc822; u@remote.testBcc:x@evil.test\r\n"),
            "{ds}"
        );
        assert!(
            ds.contains("\r\nRemote-MTA: dns; mx.remote.testX-Evil:1\r\n"),
            "{ds}"
        );
    }

    #[test]
    fn long_diagnostic_is_folded_and_bounded() {
        let long = format!("smtp; 550 {} {}", "word ".repeat(400), "x".repeat(5000));
        let rcpts = [DsnRecipient {
            address: "u@remote.test".into(),
            status: (5, 0, 0),
            remote_mta: None,
            diagnostic: Some(long),
            last_attempt: None,
        }];
        let out = build(&input(DsnKind::Failure, &rcpts, HEADER));
        let raw = text(&out);
        assert!(raw.split("\r\n").all(|l| l.len() <= 998));
        let msg = MessageParser::new().parse(&out).unwrap();
        let ds = text(msg.part(2).unwrap().contents());
        let start = ds.find("Diagnostic-Code:").unwrap();
        let field: Vec<&str> = ds[start..].split("\r\n").collect();
        assert!(field[0].len() <= FOLD_AT);
        assert!(field[1].starts_with(' '));
        let total: usize = field
            .iter()
            .take_while(|l| !l.is_empty())
            .map(|l| l.len())
            .sum();
        assert!(total < MAX_DIAGNOSTIC + 200, "{total}");

        let mut f = String::new();
        push_field(
            &mut f,
            "Diagnostic-Code",
            &format!("smtp; 550 {}", "x".repeat(5000)),
        );
        let lines: Vec<&str> = f.split("\r\n").collect();
        assert_eq!(lines[0], "Diagnostic-Code: smtp; 550");
        assert_eq!(lines[1].len(), 1 + MAX_WORD);
        assert_eq!(lines[2], "");
    }

    #[test]
    fn header_section_is_cut_and_never_carries_the_body() {
        let mut big = Vec::new();
        for i in 0..5000 {
            big.extend_from_slice(format!("X-Filler-{i}: {}\n", "a".repeat(20)).as_bytes());
        }
        let rcpts = recipients();
        let out = build(&input(DsnKind::Failure, &rcpts, &big));
        let msg = MessageParser::new().parse(&out).unwrap();
        let h = msg.part(3).unwrap().contents();
        assert!(h.len() <= MAX_HEADER_SECTION && h.len() > MAX_HEADER_SECTION - 100);
        assert!(h.ends_with(b"\r\n"));
        assert!(
            text(h)
                .split("\r\n")
                .all(|l| l.is_empty() || l.starts_with("X-Filler-"))
        );
        assert!(out.len() < 72 * 1024);

        let (h, eight) = header_section(b"Subject: a\r\nX: b\r\n\r\nthe body\r\n");
        assert_eq!(h, b"Subject: a\r\nX: b\r\n");
        assert!(!eight);
        let (h, eight) = header_section("Subject: é\rx\0y".as_bytes());
        assert_eq!(h, "Subject: é x y\r\n".as_bytes());
        assert!(eight);
        assert_eq!(header_section(b"").0, b"");
    }

    #[test]
    fn boundary_avoids_the_content() {
        let now = 1_795_717_751u64;
        let trap = format!("X-Trap: --=_dsn_{now:x}_0\r\n");
        let rcpts = recipients();
        let out = build(&input(DsnKind::Failure, &rcpts, trap.as_bytes()));
        let msg = MessageParser::new().parse(&out).unwrap();
        assert_eq!(
            msg.content_type().unwrap().attribute("boundary"),
            Some(format!("=_dsn_{now:x}_1").as_str())
        );
        assert_eq!(text(msg.part(3).unwrap().contents()), trap);
        // Pure: the same input gives the same bytes.
        assert_eq!(
            out,
            build(&input(DsnKind::Failure, &rcpts, trap.as_bytes()))
        );
    }

    #[test]
    fn non_ascii_recipient_uses_utf8_address_type() {
        assert_eq!(
            final_recipient("rfc822;<ü+x@b.test>"),
            "utf-8; \\x{FC}\\x{2B}x@b.test"
        );
        assert_eq!(final_recipient("a@b.test"), "rfc822; a@b.test");
    }

    #[test]
    fn status_from_reply_cases() {
        assert_eq!(status_from_reply(550, "5.1.1 User unknown"), (5, 1, 1));
        assert_eq!(status_from_reply(452, "mailbox full"), (4, 0, 0));
        assert_eq!(status_from_reply(450, "5.7.1 go away"), (4, 0, 0));
        assert_eq!(status_from_reply(450, "5.7.1"), (4, 0, 0));
        assert_eq!(status_from_reply(554, "550 5.7.1 relay denied"), (5, 0, 0));
        assert_eq!(status_from_reply(550, "550-5.7.1 relay denied"), (5, 7, 1));
        assert_eq!(status_from_reply(421, "  4.4.2 timeout"), (4, 4, 2));
        assert_eq!(status_from_reply(550, "5.1.1000 x"), (5, 0, 0));
        assert_eq!(status_from_reply(550, "5.1 x"), (5, 0, 0));
        assert_eq!(status_from_reply(250, "2.0.0 ok"), (4, 0, 0));
        assert_eq!(status_from_reply(0, ""), (4, 0, 0));
        assert_eq!(status_from_reply(999, "5.1.1 x"), (4, 0, 0));
    }

    #[test]
    fn odd_statuses_are_made_valid() {
        assert_eq!(status_text(DsnKind::Failure, (9, 1000, 7)), "5.0.7");
        assert_eq!(status_text(DsnKind::Delay, (0, 1, 2)), "4.1.2");
        assert_eq!(status_text(DsnKind::Failure, (4, 4, 1)), "4.4.1");
    }
}

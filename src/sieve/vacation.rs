//! When a vacation reply may go (RFC 5230 §4.5–4.6, RFC 3834 §2) and what it says (RFC 5230
//! §5, RFC 3834 §3).
//!
//! Invariants: pure; no reply to the null sender, to the user themselves, to list or bulk mail,
//! to automatic mail (`Auto-Submitted` other than `no`), to mailer daemons and list robots, or
//! to a message that does not name one of the user's addresses; every header value written is
//! free of CR and LF (no header injection from a script or a message), and non-ASCII values are
//! RFC 2047 encoded. "Once per sender per period" is the store's business (`Op::VacationDue`),
//! keyed by [`key`].

use super::compile::VacationArgs;
use super::run::MessageView;
use ring::digest::{Context, SHA256};

/// List fields (RFC 2369, RFC 2919): their presence marks list mail.
const LIST_FIELDS: &[&str] = &[
    "list-id",
    "list-help",
    "list-subscribe",
    "list-unsubscribe",
    "list-post",
    "list-owner",
    "list-archive",
];

/// Why no reply may go to this message, or `None` when one may. `own` holds the user's
/// addresses (lower-case): their login, the aliases that reach them, and `:addresses`.
pub fn refusal(msg: &MessageView, own: &[String]) -> Option<&'static str> {
    let sender = msg.envelope_from.as_str();
    if sender.is_empty() {
        return Some("null sender");
    }
    if own.iter().any(|a| a == sender) {
        return Some("sent by the user");
    }
    let local = sender.rsplit_once('@').map_or(sender, |(l, _)| l);
    if local == "mailer-daemon"
        || local == "listserv"
        || local == "majordomo"
        || local.starts_with("owner-")
        || local.ends_with("-request")
    {
        return Some("sender is a robot");
    }
    if msg
        .values("auto-submitted")
        .any(|v| !v.trim().eq_ignore_ascii_case("no"))
    {
        return Some("automatic message");
    }
    if LIST_FIELDS.iter().any(|f| msg.values(f).next().is_some()) {
        return Some("list message");
    }
    if msg.values("precedence").any(|v| {
        let v = v.trim().to_ascii_lowercase();
        v == "bulk" || v == "list" || v == "junk"
    }) {
        return Some("bulk message");
    }
    let named = ["to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc"]
        .iter()
        .flat_map(|f| msg.addresses(f))
        .any(|a| own.iter().any(|o| o == a));
    if !named {
        return Some("user not named in To or Cc");
    }
    None
}

/// The key under which a reply to this sender is remembered: the handle (or, without one, the
/// reply's content, RFC 5230 §4.2) and the sender.
pub fn key(args: &VacationArgs, sender: &str) -> u64 {
    let mut h = Context::new(&SHA256);
    match &args.handle {
        Some(handle) => h.update(handle.as_bytes()),
        None => {
            for part in [&args.subject, &args.from] {
                h.update(part.as_deref().unwrap_or("").as_bytes());
                h.update(&[0]);
            }
            h.update(args.reason.as_bytes());
        }
    }
    h.update(&[0xff]);
    h.update(sender.as_bytes());
    let d = h.finish();
    let d = d.as_ref();
    u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// RFC 2047 `B` encoding for a header value with non-ASCII text.
fn encoded(s: &str) -> String {
    let s = clean(s);
    if s.is_ascii() {
        return s;
    }
    // Encoded words are at most 75 characters: 45 bytes of UTF-8 per word, cut at characters.
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in s.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    words.push(chunk);
    words
        .iter()
        .map(|w| format!("=?UTF-8?B?{}?=", crate::base64::encode(w.as_bytes(), true)))
        .collect::<Vec<_>>()
        .join("\r\n ")
}

/// The reply (header and body, CRLF line ends), from `user` (or `:from`) to the message's
/// envelope sender.
pub fn reply(
    args: &VacationArgs,
    msg: &MessageView,
    user: &str,
    hostname: &str,
    now: u64,
) -> Vec<u8> {
    let from = args
        .from
        .as_deref()
        .map(clean)
        .unwrap_or_else(|| user.to_string());
    let subject = match &args.subject {
        Some(s) => encoded(s),
        None => encoded(&format!(
            "Auto: {}",
            msg.values("subject").next().unwrap_or("")
        )),
    };
    let mut out = format!(
        "From: {from}\r\nTo: <{to}>\r\nSubject: {subject}\r\nDate: {date}\r\nMessage-ID: <{id}@{hostname}>\r\nAuto-Submitted: auto-replied (vacation)\r\n",
        to = clean(&msg.envelope_from),
        date = crate::time::rfc5322(now),
        id = crate::message::submit::unique_token(now),
    );
    // RFC 3834 §3.1.5: In-Reply-To and References as for a reply by a person.
    let ids = |field: &str| -> Vec<String> {
        msg.values(field)
            .flat_map(|v| v.split([' ', '\t', ',', '\r', '\n']))
            .map(|t| t.trim_matches(|c| c == '<' || c == '>'))
            .filter(|t| !t.is_empty() && t.contains('@') && t.is_ascii())
            .map(|t| format!("<{t}>"))
            .take(20)
            .collect()
    };
    if let Some(id) = ids("message-id").into_iter().next() {
        let mut refs = ids("references");
        refs.push(id.clone());
        out.push_str(&format!(
            "In-Reply-To: {id}\r\nReferences: {}\r\n",
            refs.join(" ")
        ));
    }
    out.push_str("MIME-Version: 1.0\r\n");
    if args.mime {
        // RFC 5230 §4.4: the reason is a MIME entity, its own header fields first.
        out.push_str(&args.reason.replace("\r\n", "\n").replace('\n', "\r\n"));
    } else {
        out.push_str(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        );
        out.push_str(&args.reason.replace("\r\n", "\n").replace('\n', "\r\n"));
    }
    if !out.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> VacationArgs {
        VacationArgs {
            days: 7,
            subject: None,
            from: None,
            addresses: Vec::new(),
            mime: false,
            handle: None,
            reason: "Away until Monday.\nUrgent: call.".into(),
        }
    }

    fn view(header: &str, from: &str) -> MessageView {
        MessageView::new(header.as_bytes(), 100, from, "bob@example.test")
    }

    #[test]
    fn who_gets_no_reply() {
        let own = vec!["bob@example.test".to_string()];
        let base = "From: a@x.test\r\nTo: Bob <Bob@Example.test>\r\nSubject: hi\r\n";
        assert_eq!(refusal(&view(base, "a@x.test"), &own), None);
        for (extra, from, why) in [
            ("", "", "null sender"),
            ("", "bob@example.test", "sent by the user"),
            ("", "MAILER-DAEMON@x.test", "robot"),
            ("", "owner-list@x.test", "robot"),
            ("", "list-request@x.test", "robot"),
            ("Auto-Submitted: auto-replied\r\n", "a@x.test", "automatic"),
            ("List-Id: <l.x.test>\r\n", "a@x.test", "list"),
            ("Precedence: bulk\r\n", "a@x.test", "bulk"),
        ] {
            let h = format!("{base}{extra}");
            let r = refusal(&view(&h, from), &own).unwrap_or("");
            assert!(r.contains(why), "{extra} {from}: {r}");
        }
        assert_eq!(
            refusal(
                &view("Auto-Submitted: no\r\nTo: bob@example.test\r\n", "a@x.test"),
                &own
            ),
            None
        );
        let bcc = "From: a@x.test\r\nTo: other@x.test\r\n";
        assert!(
            refusal(&view(bcc, "a@x.test"), &own)
                .unwrap()
                .contains("not named")
        );
    }

    #[test]
    fn the_reply() {
        let msg = view(
            "From: a@x.test\r\nTo: bob@example.test\r\nSubject: Grüße\r\nMessage-ID: <m1@x.test>\r\n",
            "a@x.test",
        );
        let text = String::from_utf8(reply(
            &args(),
            &msg,
            "bob@example.test",
            "mx.example.test",
            1_700_000_000,
        ))
        .unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains("From: bob@example.test\r\nTo: <a@x.test>\r\n"),
            "{head}"
        );
        assert!(head.contains("Subject: =?UTF-8?B?"), "{head}");
        assert!(
            head.contains("Auto-Submitted: auto-replied (vacation)"),
            "{head}"
        );
        assert!(
            head.contains("In-Reply-To: <m1@x.test>\r\nReferences: <m1@x.test>"),
            "{head}"
        );
        assert_eq!(body, "Away until Monday.\r\nUrgent: call.\r\n");
        let parsed = mail_parser::MessageParser::new()
            .parse(text.as_bytes())
            .unwrap();
        assert_eq!(parsed.subject(), Some("Auto: Grüße"));
        // A script cannot inject header fields.
        let mut a = args();
        a.subject = Some("x\r\nBcc: victim@x.test".into());
        let text = reply(&a, &msg, "bob@example.test", "mx.example.test", 0);
        assert!(!String::from_utf8(text).unwrap().contains("\r\nBcc:"));
        // The key depends on the handle (or the content) and the sender.
        let k = key(&args(), "a@x.test");
        assert_ne!(k, key(&args(), "b@x.test"));
        let mut h = args();
        h.handle = Some("h".into());
        assert_ne!(k, key(&h, "a@x.test"));
    }
}

//! Delivering to a mailing list (`store::lists`): who may post, what a post looks like to its
//! members (RFC 2369 and RFC 2919 header fields), where it goes, and the list's two service
//! addresses: `LIST-request@` (unsubscribe) and `LIST-bounces@` (failure reports).
//!
//! Invariants: a post leaves with the envelope sender `LIST-bounces@domain`, so a dead member
//! address bounces to the list, never to the poster (RFC 2369 §2: errors go to the list's
//! administrative address); a list recipient is alone in its SMTP transaction (the header
//! fields it adds are stored with the one shared body); the fields added carry no CR or LF from
//! outside; a failure report is read within [`CAPTURE_BYTES`] and names members only through
//! its `Final-Recipient` fields (RFC 3464 §2.3.2).

use crate::config::Config;
use crate::message::address;
use crate::store::lists::List;
use crate::store::{self, LocalCopy, Store};

/// How much of a message to a `-bounces` or `-request` address is read.
pub const CAPTURE_BYTES: usize = 64 * 1024;

/// Which of a list's addresses a recipient is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The list itself: a post.
    Post,
    /// `LIST-request@`: an unsubscribe request.
    Request,
    /// `LIST-bounces@`: a failure report about a member.
    Bounces,
}

/// The list a local address belongs to, and in which role.
pub fn find(store: &Store, email: &str) -> store::Result<Option<(List, Role)>> {
    if let Some(l) = store.list(email)? {
        return Ok(Some((l, Role::Post)));
    }
    let (local, domain) = (address::local_part(email), address::domain(email));
    for (suffix, role) in [("-request", Role::Request), ("-bounces", Role::Bounces)] {
        if let Some(base) = local.strip_suffix(suffix)
            && let Some(l) = store.list(&format!("{base}@{domain}"))?
        {
            return Ok(Some((l, role)));
        }
    }
    Ok(None)
}

/// `LIST-bounces@domain`.
pub fn bounce_address(list: &str) -> String {
    let (local, domain) = (address::local_part(list), address::domain(list));
    format!("{local}-bounces@{domain}")
}

/// The header fields a post gets (RFC 2919 `List-Id`, RFC 2369 `List-Post`,
/// `List-Unsubscribe`, `List-Help`), `Precedence: list`, and `Reply-To:` the list when it asks
/// for that and the message has none.
pub fn fields(list: &List, header: &[u8]) -> String {
    let (local, domain) = (
        address::local_part(&list.address),
        address::domain(&list.address),
    );
    let mut out = format!(
        "List-Id: <{local}.{domain}>\r\nList-Post: <mailto:{a}>\r\nList-Unsubscribe: <mailto:{local}-request@{domain}?subject=unsubscribe>\r\nList-Help: <mailto:{local}-request@{domain}?subject=help>\r\nPrecedence: list\r\n",
        a = list.address
    );
    let has_reply_to = crate::message::header::split_fields(header)
        .iter()
        .any(|f| f.name.eq_ignore_ascii_case(b"reply-to"));
    if list.reply_to_list && !has_reply_to {
        out.push_str(&format!("Reply-To: <{}>\r\n", list.address));
    }
    out
}

/// The local copies and outside addresses a post goes to: each enabled member, a local one
/// resolved like a recipient (a user or an alias's users; never another list).
pub fn expand(
    store: &Store,
    cfg: &Config,
    list: &List,
) -> store::Result<(Vec<LocalCopy>, Vec<String>)> {
    let (mut copies, mut remote) = (Vec::new(), Vec::new());
    for m in list.recipients() {
        if !store.is_local_domain(address::domain(m))? {
            remote.push(m.to_string());
            continue;
        }
        if store.list(m)?.is_some() {
            continue; // lists are not nested: no loops
        }
        let rcpt = crate::proto::smtp::Recipient::Mailbox {
            local: address::local_part(m).to_string(),
            domain: address::domain(m).to_string(),
        };
        match super::check_recipient(store, cfg, &rcpt)? {
            super::RcptDecision::Accept { copies: c, forward } => {
                copies.extend(c);
                remote.extend(forward);
            }
            _ => log::info!("list {}: member <{m}> cannot take mail now", list.address),
        }
    }
    Ok((copies, remote))
}

/// Whether a message to `LIST-request@` asks to unsubscribe (RFC 2369 §3.2: the subject says
/// so).
pub fn asks_to_leave(header: &[u8]) -> bool {
    crate::message::header::split_fields(header)
        .iter()
        .filter(|f| f.name.eq_ignore_ascii_case(b"subject"))
        .any(|f| {
            String::from_utf8_lossy(f.raw)
                .to_ascii_lowercase()
                .contains("unsubscribe")
        })
}

/// The addresses a failure report names as failed (`Final-Recipient: rfc822; ADDR` with
/// `Action: failed`, RFC 3464 §2.3), lower-case.
pub fn failed_recipients(report: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(&report[..report.len().min(CAPTURE_BYTES)]);
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let lower = line.trim().to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("final-recipient:") {
            current = v
                .split_once(';')
                .map(|(_, a)| a.trim().trim_matches(['<', '>']).to_string());
        } else if lower.starts_with("action:") && lower.contains("failed") {
            if let Some(a) = current.take()
                && address::normalize(&a).is_some()
                && !out.contains(&a)
            {
                out.push(a);
            }
        } else if lower.is_empty() {
            current = None;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::lists::Posting;

    fn list(reply_to_list: bool) -> List {
        List {
            address: "family@example.org".into(),
            posting: Posting::Members,
            reply_to_list,
            members: Vec::new(),
            moderators: Vec::new(),
            created: 0,
        }
    }

    #[test]
    fn the_fields_a_post_gets() {
        let f = fields(&list(true), b"From: a@b.test\r\nSubject: x\r\n");
        assert!(
            f.starts_with(
                "List-Id: <family.example.org>\r\nList-Post: <mailto:family@example.org>\r\n"
            ),
            "{f}"
        );
        assert!(f.contains(
            "List-Unsubscribe: <mailto:family-request@example.org?subject=unsubscribe>\r\n"
        ));
        assert!(
            f.ends_with("Precedence: list\r\nReply-To: <family@example.org>\r\n"),
            "{f}"
        );
        let f = fields(&list(true), b"From: a@b.test\r\nReply-To: c@d.test\r\n");
        assert!(!f.contains("Reply-To"), "{f}");
        assert!(!fields(&list(false), b"").contains("Reply-To"));
        assert_eq!(
            bounce_address("family@example.org"),
            "family-bounces@example.org"
        );
    }

    #[test]
    fn reading_failure_reports() {
        let report = b"Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.far.test\r\n\r\nFinal-Recipient: rfc822; Gone@Far.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\nFinal-Recipient: rfc822; slow@far.test\r\nAction: delayed\r\n\r\nFinal-Recipient: rfc822;<x@far.test>\r\nAction: failed\r\n";
        assert_eq!(failed_recipients(report), ["gone@far.test", "x@far.test"]);
        assert!(failed_recipients(b"Action: failed\r\n").is_empty());
        assert!(asks_to_leave(b"Subject: Please UNSUBSCRIBE me\r\n"));
        assert!(!asks_to_leave(b"Subject: hello\r\n"));
    }
}

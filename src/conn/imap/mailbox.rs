//! Mailbox-level commands: SELECT/EXAMINE (with CONDSTORE/QRESYNC), CREATE (RFC 6154 USE),
//! DELETE, RENAME, SUBSCRIBE, LIST/LSUB (RFC 5258, 5819, 6154), STATUS (RFC 8438 SIZE),
//! NAMESPACE (RFC 2342) and APPEND (RFC 4315 APPENDUID, streamed).

use super::{Appending, Conn, Selected, enter_selected, leave_selected};
use crate::proto::imap::AppendStart;
use crate::proto::imap::extended::ListCommand;
use crate::proto::imap::list;
use crate::proto::imap::mutf7;
use crate::proto::imap::response::{self, Status};
use crate::proto::imap::view::MailboxView;
use crate::store::{self, Done, MailboxId, Op, Refusal, SpecialUse, UserId};
use imap_codec::imap_types::command::SelectParameter;
use imap_codec::imap_types::mailbox::Mailbox;
use imap_codec::imap_types::status::StatusDataItemName;

/// Renders UIDs as a compact set (`1:3,7`).
pub(crate) fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// The stored name a wire name refers to; `None` if it does not decode.
pub(crate) fn wire_to_name(conn: &Conn, wire: &[u8]) -> Option<String> {
    let name = if conn.utf8() {
        String::from_utf8(wire.to_vec()).ok()?
    } else {
        mutf7::decode(wire)?
    };
    let name = name
        .strip_suffix(list::DELIMITER)
        .unwrap_or(&name)
        .to_string();
    Some(list::canonical(&name))
}

/// The stored name of a decoded IMAP mailbox argument.
pub(crate) fn mailbox_name(conn: &Conn, mailbox: &Mailbox<'_>) -> Option<String> {
    match mailbox {
        Mailbox::Inbox => Some("INBOX".to_string()),
        Mailbox::Other(other) => wire_to_name(conn, other.as_ref()),
    }
}

/// A mailbox name in wire form (UTF-8 once enabled, else modified UTF-7).
pub(crate) fn wire_name(conn: &Conn, name: &str) -> String {
    if conn.utf8() {
        name.to_string()
    } else {
        mutf7::encode(name)
    }
}

/// Appends a mailbox name in wire form.
pub(crate) fn push_name(conn: &Conn, out: &mut Vec<u8>, name: &str) {
    response::astring(out, wire_name(conn, name).as_bytes());
}

fn user(conn: &Conn) -> UserId {
    conn.user
        .as_ref()
        .expect("mailbox commands run only when authenticated")
        .user
}

/// Answers a store refusal with the right response code.
pub(crate) fn refusal(conn: &mut Conn, tag: &str, e: store::Error) {
    let (code, text) = match &e {
        store::Error::Refused(Refusal::NoSuchMailbox(_)) => {
            (Some("NONEXISTENT"), "No such mailbox".to_string())
        }
        store::Error::Refused(Refusal::MailboxExists(_)) => {
            (Some("ALREADYEXISTS"), "Mailbox already exists".to_string())
        }
        store::Error::Refused(Refusal::InvalidMailboxName { .. }) => {
            (Some("CANNOT"), "Invalid mailbox name".to_string())
        }
        store::Error::Refused(Refusal::TooMany(what)) => {
            (Some("LIMIT"), format!("Too many {what}"))
        }
        // RFC 9208 §4.3 (RFC 5530 §3): the operation would exceed the quota.
        store::Error::Refused(Refusal::OverQuota(_)) => {
            (Some("OVERQUOTA"), "Quota exceeded".to_string())
        }
        store::Error::Refused(r) => (Some("CANNOT"), r.to_string()),
        other => {
            log::warn!("cid={} store error: {other}", conn.ctx.cid);
            let (code, text) = fault(other);
            (Some(code), text.to_string())
        }
    };
    conn.session.tagged(tag, Status::No, code, &text);
}

/// The response code and text for a store fault (RFC 5530 §3). A full disk is `UNAVAILABLE`,
/// "temporary failure because a subsystem is down": the storage cannot take writes until space
/// returns, nothing is wrong with the request, and the same command will work later. It is not
/// `OVERQUOTA` ("the user would be over quota after the operation": the user's own quota, which
/// is a refusal with its own code), not `LIMIT` (an implementation limit the command ran into,
/// which a retry would hit again) and not `SERVERBUG` (a bug or broken invariant). Any other
/// fault is `SERVERBUG`.
pub(crate) fn fault(e: &store::Error) -> (&'static str, &'static str) {
    if e.is_full() {
        (
            "UNAVAILABLE",
            "Insufficient system storage, try again later",
        )
    } else {
        ("SERVERBUG", "Internal error, try again")
    }
}

/// System flags and keywords used in a mailbox (for the FLAGS response).
fn flags_response(keywords: &[String]) -> String {
    let mut s = String::from("\\Answered \\Flagged \\Deleted \\Seen \\Draft");
    for k in keywords {
        s.push(' ');
        s.push_str(k);
    }
    s
}

/// SELECT or EXAMINE.
pub(super) async fn select(
    conn: &mut Conn,
    tag: &str,
    mailbox: &Mailbox<'_>,
    params: &[SelectParameter],
    read_only: bool,
) -> store::Result<()> {
    // RFC 9051 §6.3.2 (and RFC 7162 §3.2.11): deselecting announces OK [CLOSED], the boundary
    // between the old mailbox's responses and the new one's.
    if conn.selected.is_some() {
        conn.session
            .untagged(b"* OK [CLOSED] Previous mailbox closed\r\n");
    }
    leave_selected(conn);
    let Some(name) = mailbox_name(conn, mailbox) else {
        conn.session
            .tagged(tag, Status::No, Some("NONEXISTENT"), "No such mailbox");
        return Ok(());
    };
    let Some(mb) = conn.ctx.store.mailbox(user(conn), &name)? else {
        conn.session
            .tagged(tag, Status::No, Some("NONEXISTENT"), "No such mailbox");
        return Ok(());
    };
    let mut qresync = None;
    for p in params {
        match p {
            SelectParameter::CondStore => conn.enabled.condstore = true,
            SelectParameter::QResync {
                uid_validity,
                mod_sequence_value,
                known_uids,
                ..
            } => {
                if !conn.enabled.qresync {
                    conn.session
                        .tagged(tag, Status::Bad, None, "QRESYNC is not enabled");
                    return Ok(());
                }
                qresync = Some((
                    uid_validity.get(),
                    mod_sequence_value.get(),
                    known_uids.clone(),
                ));
            }
        }
    }
    let generation = conn.ctx.store.mailbox_generation(mb.id);
    let rows = conn.ctx.store.messages(mb.id)?;
    let uids: Vec<u32> = rows.iter().map(|m| m.uid.get()).collect();
    let mut keywords: Vec<String> = rows
        .iter()
        .flat_map(|m| m.row.keywords.iter().cloned())
        .collect();
    keywords.sort_by_key(|k| k.to_ascii_lowercase());
    keywords.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    let view = MailboxView::new(mb.row.uidvalidity, uids, mb.row.highest_modseq, read_only);
    let mut out = Vec::new();
    out.extend_from_slice(format!("* FLAGS ({})\r\n", flags_response(&keywords)).as_bytes());
    out.extend_from_slice(
        format!(
            "* OK [PERMANENTFLAGS ({} \\*)] Flags permitted\r\n",
            flags_response(&keywords)
        )
        .as_bytes(),
    );
    out.extend_from_slice(format!("* {} EXISTS\r\n", view.exists()).as_bytes());
    if !conn.enabled.rev2 {
        out.extend_from_slice(b"* 0 RECENT\r\n");
        if let Some(pos) = rows
            .iter()
            .position(|m| m.row.flags & store::flags::SEEN == 0)
        {
            out.extend_from_slice(format!("* OK [UNSEEN {}] First unseen\r\n", pos + 1).as_bytes());
        }
    }
    out.extend_from_slice(
        format!("* OK [UIDVALIDITY {}] UIDs valid\r\n", mb.row.uidvalidity).as_bytes(),
    );
    out.extend_from_slice(
        format!("* OK [UIDNEXT {}] Predicted next UID\r\n", mb.row.uidnext).as_bytes(),
    );
    if conn.enabled.condstore {
        out.extend_from_slice(
            format!("* OK [HIGHESTMODSEQ {}] Highest\r\n", mb.row.highest_modseq).as_bytes(),
        );
    }
    if conn.enabled.rev2 {
        out.extend_from_slice(b"* LIST () \"/\" ");
        push_name(conn, &mut out, &name);
        out.extend_from_slice(b"\r\n");
    }
    // RFC 7162 §3.2.5.2: what changed since the client's last sync.
    if let Some((validity, since, known)) = qresync
        && validity == mb.row.uidvalidity
    {
        let known_uid = |u: u32| match &known {
            Some(set) => MailboxView::new(0, vec![u], 0, true)
                .resolve(set, true)
                .is_some_and(|r| !r.is_empty()),
            None => true,
        };
        let vanished: Vec<u32> = match conn.ctx.store.vanished_since(mb.id, since)? {
            Some(store::Vanished::Exact(uids)) => uids
                .into_iter()
                .map(|u| u.get())
                .filter(|&u| known_uid(u))
                .collect(),
            _ => (1..mb.row.uidnext)
                .filter(|u| known_uid(*u) && view.seq(*u).is_none())
                .collect(),
        };
        if !vanished.is_empty() {
            out.extend_from_slice(
                format!("* VANISHED (EARLIER) {}\r\n", uid_set(&vanished)).as_bytes(),
            );
        }
        for m in rows.iter().filter(|m| m.row.modseq > since) {
            let uid = m.uid.get();
            if let Some(seq) = view.seq(uid) {
                out.extend_from_slice(
                    format!(
                        "* {seq} FETCH (UID {uid} FLAGS ({}) MODSEQ ({}))\r\n",
                        super::messages::flag_list(m.row.flags, &m.row.keywords),
                        m.row.modseq
                    )
                    .as_bytes(),
                );
            }
        }
    }
    conn.session.untagged(&out);
    let code = if read_only { "READ-ONLY" } else { "READ-WRITE" };
    enter_selected(
        conn,
        Selected {
            id: mb.id,
            name,
            view,
            generation,
            own_changes: Vec::new(),
        },
    );
    let what = if read_only {
        "EXAMINE completed"
    } else {
        "SELECT completed"
    };
    conn.session.tagged(tag, Status::Ok, Some(code), what);
    Ok(())
}

/// The special use of RFC 6154 USE attributes: none, or exactly one we store.
pub(crate) fn special_use(attrs: &[String]) -> Result<SpecialUse, &'static str> {
    let mut found = SpecialUse::None;
    for a in attrs {
        let u = match a.to_ascii_lowercase().as_str() {
            "\\sent" => SpecialUse::Sent,
            "\\drafts" => SpecialUse::Drafts,
            "\\junk" => SpecialUse::Junk,
            "\\trash" => SpecialUse::Trash,
            "\\archive" => SpecialUse::Archive,
            _ => return Err("Unsupported special use"),
        };
        if found != SpecialUse::None && found != u {
            return Err("One special use per mailbox");
        }
        found = u;
    }
    Ok(found)
}

/// The name a mailbox is created or renamed to; answers (and gives `None`) when it is
/// invalid (`None`) or INBOX, which always exists.
fn new_name(conn: &mut Conn, tag: &str, name: Option<String>) -> Option<String> {
    match name.as_deref() {
        None => conn
            .session
            .tagged(tag, Status::No, Some("CANNOT"), "Invalid mailbox name"),
        Some("INBOX") => conn.session.tagged(
            tag,
            Status::No,
            Some("ALREADYEXISTS"),
            "INBOX always exists",
        ),
        Some(_) => return name,
    }
    None
}

/// CREATE [USE (...)].
pub(super) async fn create(
    conn: &mut Conn,
    tag: &str,
    mailbox: &Mailbox<'_>,
    special_use: SpecialUse,
) -> store::Result<()> {
    let Some(name) = new_name(conn, tag, mailbox_name(conn, mailbox)) else {
        return Ok(());
    };
    match conn
        .ctx
        .store
        .call(Op::CreateMailbox {
            user: user(conn),
            name,
            special_use,
        })
        .await
    {
        Ok(_) => conn
            .session
            .tagged(tag, Status::Ok, None, "CREATE completed"),
        Err(e) => refusal(conn, tag, e),
    }
    Ok(())
}

/// DELETE.
pub(super) async fn delete(conn: &mut Conn, tag: &str, mailbox: &Mailbox<'_>) -> store::Result<()> {
    let Some(name) = mailbox_name(conn, mailbox) else {
        conn.session
            .tagged(tag, Status::No, Some("NONEXISTENT"), "No such mailbox");
        return Ok(());
    };
    if name == "INBOX" {
        conn.session
            .tagged(tag, Status::No, Some("CANNOT"), "INBOX cannot be deleted");
        return Ok(());
    }
    if conn.selected.as_ref().is_some_and(|s| s.name == name) {
        leave_selected(conn);
    }
    match conn
        .ctx
        .store
        .call(Op::DeleteMailbox {
            user: user(conn),
            name,
        })
        .await
    {
        Ok(_) => conn
            .session
            .tagged(tag, Status::Ok, None, "DELETE completed"),
        Err(e) => refusal(conn, tag, e),
    }
    Ok(())
}

/// RENAME.
pub(super) async fn rename(
    conn: &mut Conn,
    tag: &str,
    from: &Mailbox<'_>,
    to: &Mailbox<'_>,
) -> store::Result<()> {
    let from = mailbox_name(conn, from);
    // An invalid source is answered like an invalid target.
    let to = mailbox_name(conn, to).filter(|_| from.is_some());
    let (Some(from), Some(to)) = (from, new_name(conn, tag, to)) else {
        return Ok(());
    };
    match conn
        .ctx
        .store
        .call(Op::RenameMailbox {
            user: user(conn),
            from: from.clone(),
            to: to.clone(),
        })
        .await
    {
        Ok(_) => {
            if let Some(sel) = conn.selected.as_mut()
                && from != "INBOX"
                && (sel.name == from || sel.name.starts_with(&format!("{from}/")))
            {
                sel.name = format!("{to}{}", &sel.name[from.len()..]);
            }
            conn.session
                .tagged(tag, Status::Ok, None, "RENAME completed")
        }
        Err(e) => refusal(conn, tag, e),
    }
    Ok(())
}

/// SUBSCRIBE / UNSUBSCRIBE.
pub(super) async fn subscribe(
    conn: &mut Conn,
    tag: &str,
    mailbox: &Mailbox<'_>,
    subscribed: bool,
) -> store::Result<()> {
    let Some(name) = mailbox_name(conn, mailbox) else {
        conn.session
            .tagged(tag, Status::No, Some("CANNOT"), "Invalid mailbox name");
        return Ok(());
    };
    match conn
        .ctx
        .store
        .call(Op::Subscribe {
            user: user(conn),
            name,
            subscribed,
        })
        .await
    {
        Ok(_) => conn.session.tagged(
            tag,
            Status::Ok,
            None,
            if subscribed {
                "SUBSCRIBE completed"
            } else {
                "UNSUBSCRIBE completed"
            },
        ),
        Err(e) => refusal(conn, tag, e),
    }
    Ok(())
}

/// One line of a LIST answer.
struct Entry {
    name: String,
    exists: bool,
    special: Option<&'static str>,
    subscribed: bool,
    children: bool,
    /// RFC 5258 CHILDINFO: a descendant the patterns do not reach matched the SUBSCRIBED selection.
    child_subscribed: bool,
    id: Option<MailboxId>,
}

/// LIST / LSUB in every form.
pub(super) async fn list(conn: &mut Conn, tag: &str, cmd: &ListCommand) -> store::Result<()> {
    let Some(reference) = wire_to_name_raw(conn, &cmd.reference) else {
        conn.session.tagged(tag, Status::Ok, None, "LIST completed");
        return Ok(());
    };
    // RFC 9051 §6.3.9: an empty pattern asks for the delimiter.
    if !cmd.lsub && cmd.patterns.len() == 1 && cmd.patterns[0].is_empty() {
        conn.session.untagged(b"* LIST (\\Noselect) \"/\" \"\"\r\n");
        conn.session.tagged(tag, Status::Ok, None, "LIST completed");
        return Ok(());
    }
    let patterns: Vec<String> = cmd
        .patterns
        .iter()
        .filter_map(|p| wire_to_name_raw(conn, p))
        .map(|p| list::combine(&reference, &p))
        .collect();
    let me = user(conn);
    let boxes = conn.ctx.store.mailboxes(me)?;
    let subs: Vec<String> = conn.ctx.store.subscriptions(me)?;
    let is_sub = |n: &str| subs.iter().any(|s| list::canonical(s) == n);
    let mut entries: std::collections::BTreeMap<String, Entry> = std::collections::BTreeMap::new();
    for b in &boxes {
        entries.insert(
            b.row.name.clone(),
            Entry {
                name: b.row.name.clone(),
                exists: true,
                special: b.row.special_use.attribute(),
                subscribed: is_sub(&b.row.name),
                children: false,
                child_subscribed: false,
                id: Some(b.id),
            },
        );
    }
    // Subscribed names that do not exist (RFC 9051 §6.3.9: \NonExistent in SUBSCRIBED lists).
    for s in &subs {
        let s = list::canonical(s);
        entries.entry(s.clone()).or_insert(Entry {
            name: s,
            exists: false,
            special: None,
            subscribed: true,
            children: false,
            child_subscribed: false,
            id: None,
        });
    }
    // Superiors that do not exist as mailboxes appear as \Noselect/\NonExistent placeholders.
    let names: Vec<String> = entries.keys().cloned().collect();
    for n in &names {
        // RFC 5258 §3.5 (and LSUB with %, RFC 3501 §6.3.9): a parent stands in for a subscribed
        // descendant only when the pattern does not return that descendant itself.
        let sub_child = entries.get(n).is_some_and(|e| e.subscribed)
            && !patterns.iter().any(|p| list::matches(p, n));
        for p in list::parents(n) {
            let e = entries.entry(p.to_string()).or_insert(Entry {
                name: p.to_string(),
                exists: false,
                special: None,
                subscribed: false,
                children: false,
                child_subscribed: false,
                id: None,
            });
            e.children = true;
            e.child_subscribed |= sub_child;
        }
    }
    let mut out = Vec::new();
    let mut status_for: Vec<(String, MailboxId)> = Vec::new();
    for e in entries.values() {
        if !patterns.iter().any(|p| list::matches(p, &e.name)) {
            continue;
        }
        let subscribed_view = cmd.lsub || cmd.select.subscribed;
        if subscribed_view
            && !e.subscribed
            && !((cmd.select.recursive_match || cmd.lsub) && e.child_subscribed)
        {
            continue;
        }
        if cmd.select.special_use
            && e.special.is_none()
            && !(cmd.select.recursive_match && e.children)
        {
            continue;
        }
        if !e.exists && !e.subscribed && !e.children {
            continue;
        }
        // Placeholders only show in LIST when a pattern reaches them and something lies below.
        let mut attrs: Vec<&str> = Vec::new();
        if !e.exists {
            // RFC 5258 §3: \NonExistent (which implies \Noselect) is LIST-EXTENDED's; LSUB is
            // RFC 3501's, whose clients know only \Noselect (§6.3.9).
            attrs.push(if cmd.extended && !cmd.lsub {
                "\\NonExistent"
            } else {
                "\\Noselect"
            });
        }
        if e.children {
            attrs.push("\\HasChildren");
        } else if e.exists {
            attrs.push("\\HasNoChildren");
        }
        if let Some(s) = e.special {
            attrs.push(s);
        }
        if e.subscribed && (cmd.select.subscribed || cmd.ret.subscribed) {
            attrs.push("\\Subscribed");
        }
        if cmd.lsub && !e.subscribed && e.exists {
            // LSUB with % reaching an unsubscribed parent of subscribed names: \Noselect
            // (RFC 3501 §6.3.9).
            attrs.insert(0, "\\Noselect");
        }
        let verb = if cmd.lsub { "LSUB" } else { "LIST" };
        out.extend_from_slice(format!("* {verb} ({}) \"/\" ", attrs.join(" ")).as_bytes());
        push_name(conn, &mut out, &e.name);
        if cmd.select.recursive_match && e.child_subscribed && !e.subscribed {
            out.extend_from_slice(b" (\"CHILDINFO\" (\"SUBSCRIBED\"))");
        }
        out.extend_from_slice(b"\r\n");
        if let (Some(_), Some(id)) = (&cmd.ret.status, e.id) {
            status_for.push((e.name.clone(), id));
        }
        if let (Some(items), Some(id)) = (&cmd.ret.status, e.id) {
            let line = status_line(conn, &e.name, id, items)?;
            out.extend_from_slice(&line);
        }
    }
    conn.session.untagged(&out);
    conn.session.tagged(
        tag,
        Status::Ok,
        None,
        if cmd.lsub {
            "LSUB completed"
        } else {
            "LIST completed"
        },
    );
    Ok(())
}

fn wire_to_name_raw(conn: &Conn, wire: &[u8]) -> Option<String> {
    if conn.utf8() {
        String::from_utf8(wire.to_vec()).ok()
    } else {
        mutf7::decode(wire)
    }
}

/// `* STATUS name (...)` for one mailbox.
fn status_line(
    conn: &Conn,
    name: &str,
    id: MailboxId,
    items: &[StatusDataItemName],
) -> store::Result<Vec<u8>> {
    let Some(mb) = conn.ctx.store.mailbox_by_id(id)? else {
        return Ok(Vec::new());
    };
    let deleted = if items.contains(&StatusDataItemName::Deleted) {
        conn.ctx
            .store
            .messages(id)?
            .iter()
            .filter(|m| m.row.flags & store::flags::DELETED != 0)
            .count()
    } else {
        0
    };
    let mut parts = Vec::new();
    for item in items {
        parts.push(match item {
            StatusDataItemName::Messages => format!("MESSAGES {}", mb.row.messages),
            StatusDataItemName::Recent => "RECENT 0".to_string(),
            StatusDataItemName::UidNext => format!("UIDNEXT {}", mb.row.uidnext),
            StatusDataItemName::UidValidity => format!("UIDVALIDITY {}", mb.row.uidvalidity),
            StatusDataItemName::Unseen => format!("UNSEEN {}", mb.row.unseen),
            StatusDataItemName::Deleted => format!("DELETED {deleted}"),
            StatusDataItemName::Size => format!("SIZE {}", mb.row.bytes),
            StatusDataItemName::HighestModSeq => format!("HIGHESTMODSEQ {}", mb.row.highest_modseq),
            _ => continue,
        });
    }
    let mut out = b"* STATUS ".to_vec();
    push_name(conn, &mut out, name);
    out.extend_from_slice(format!(" ({})\r\n", parts.join(" ")).as_bytes());
    Ok(out)
}

/// STATUS.
pub(super) async fn status(
    conn: &mut Conn,
    tag: &str,
    mailbox: &Mailbox<'_>,
    items: &[StatusDataItemName],
) -> store::Result<()> {
    let Some(name) = mailbox_name(conn, mailbox) else {
        conn.session
            .tagged(tag, Status::No, Some("NONEXISTENT"), "No such mailbox");
        return Ok(());
    };
    let Some(mb) = conn.ctx.store.mailbox(user(conn), &name)? else {
        conn.session
            .tagged(tag, Status::No, Some("NONEXISTENT"), "No such mailbox");
        return Ok(());
    };
    if items.contains(&StatusDataItemName::HighestModSeq) {
        conn.enabled.condstore = true;
    }
    let line = status_line(conn, &name, mb.id, items)?;
    conn.session.untagged(&line);
    conn.session
        .tagged(tag, Status::Ok, None, "STATUS completed");
    Ok(())
}

/// Parses flags of APPEND into system bits and keywords.
pub(crate) fn split_flags(flags: &[imap_codec::imap_types::flag::Flag<'_>]) -> (u32, Vec<String>) {
    use imap_codec::imap_types::flag::Flag;
    let mut bits = 0;
    let mut keywords = Vec::new();
    for f in flags {
        match f {
            Flag::Seen => bits |= store::flags::SEEN,
            Flag::Answered => bits |= store::flags::ANSWERED,
            Flag::Flagged => bits |= store::flags::FLAGGED,
            Flag::Deleted => bits |= store::flags::DELETED,
            Flag::Draft => bits |= store::flags::DRAFT,
            Flag::Keyword(k) => keywords.push(k.inner().to_string()),
            _ => {}
        }
    }
    (bits, keywords)
}

/// APPEND announced: check the mailbox and start the upload.
pub(super) fn append_start(conn: &mut Conn, start: AppendStart) {
    let Some(name) = mailbox_name(conn, &start.mailbox) else {
        conn.session
            .reject_append(Status::No, Some("TRYCREATE"), "No such mailbox");
        return;
    };
    let mb = match conn.ctx.store.mailbox(user(conn), &name) {
        Ok(Some(mb)) => mb,
        Ok(None) => {
            conn.session
                .reject_append(Status::No, Some("TRYCREATE"), "No such mailbox");
            return;
        }
        Err(e) => {
            log::warn!("cid={} append: {e}", conn.ctx.cid);
            conn.session
                .reject_append(Status::No, Some("SERVERBUG"), "Internal error, try again");
            return;
        }
    };
    // RFC 9208 §4.3: refused before the literal is read when it cannot fit; the store checks
    // again when it commits.
    match conn.ctx.store.quota(user(conn)) {
        Ok(Some(q)) if !q.fits(start.length) => {
            conn.session
                .reject_append(Status::No, Some("OVERQUOTA"), "Quota exceeded");
            return;
        }
        Ok(_) => {}
        Err(e) => {
            log::warn!("cid={} append: {e}", conn.ctx.cid);
            conn.session
                .reject_append(Status::No, Some("SERVERBUG"), "Internal error, try again");
            return;
        }
    }
    let (flags, keywords) = split_flags(&start.flags);
    let date = match &start.date {
        Some(d) => d.as_ref().timestamp().max(0) as u64,
        None => crate::time::unix_now(),
    };
    conn.appending = Some(Appending {
        sink: Some(crate::delivery::MessageSink::new(&conn.ctx.store)),
        mailbox: mb.id,
        flags,
        keywords,
        date,
        failed: None,
    });
    conn.session.accept_append();
}

/// APPEND data.
pub(super) async fn append_data(conn: &mut Conn, bytes: &[u8]) {
    let cid = conn.ctx.cid;
    if let Some(a) = conn.appending.as_mut()
        && a.failed.is_none()
        && let Some(sink) = a.sink.as_mut()
        && let Err(e) = sink.write(bytes).await
    {
        log::warn!("cid={cid} append: storing data failed: {e}");
        a.failed = Some(e);
    }
}

/// APPEND complete: commit it.
pub(super) async fn append_end(conn: &mut Conn) {
    let Some(mut a) = conn.appending.take() else {
        conn.session
            .finish_append(Status::No, None, "APPEND failed");
        return;
    };
    let Some(sink) = a.sink.take() else { return };
    if let Some(e) = &a.failed {
        sink.discard().await;
        let (code, text) = fault(e);
        conn.session.finish_append(Status::No, Some(code), text);
        return;
    }
    match sink.append(a.mailbox, a.flags, a.keywords, a.date).await {
        Ok(Done::Appended {
            uidvalidity, uid, ..
        }) => {
            let _ = conn.sync_selected(false);
            conn.session.finish_append(
                Status::Ok,
                Some(&format!("APPENDUID {uidvalidity} {}", uid.get())),
                "APPEND completed",
            );
        }
        Ok(_) => {
            conn.session
                .finish_append(Status::No, Some("SERVERBUG"), "Internal error, try again")
        }
        Err(store::Error::Refused(Refusal::NoSuchMailbox(_))) => {
            conn.session
                .finish_append(Status::No, Some("TRYCREATE"), "No such mailbox")
        }
        Err(store::Error::Refused(Refusal::OverQuota(_))) => {
            conn.session
                .finish_append(Status::No, Some("OVERQUOTA"), "Quota exceeded")
        }
        Err(e) => {
            log::warn!("cid={} append: {e}", conn.ctx.cid);
            let (code, text) = fault(&e);
            conn.session.finish_append(Status::No, Some(code), text);
        }
    }
}

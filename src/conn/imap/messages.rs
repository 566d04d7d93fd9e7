//! Command dispatch and the message-level commands: STORE (RFC 7162 UNCHANGEDSINCE), COPY/MOVE
//! (RFC 4315 COPYUID, RFC 6851), EXPUNGE/UID EXPUNGE, CLOSE, SEARCH (RFC 4731 ESEARCH), SORT and
//! THREAD (RFC 5256), plus the small ones (NOOP, CHECK, ENABLE, ID, NAMESPACE, IDLE).

use super::{Conn, fetch, leave_selected, mailbox};
use crate::message::Summary;
use crate::message::text_search;
use crate::message::transfer::Encoding;
use crate::proto::imap::Request;
use crate::proto::imap::extended::SearchReturn;
use crate::proto::imap::response::Status;
use crate::proto::imap::search::{self, Candidate, SysFlags};
use crate::proto::imap::thread::{self, Facts, SortBy};
use crate::store::{self, Done, Op, Refusal, StoreMode, flags};
use imap_codec::imap_types::command::CommandBody;
use imap_codec::imap_types::flag::{Flag, StoreResponse, StoreType};
use imap_codec::imap_types::search::SearchKey;
use imap_codec::imap_types::sequence::SequenceSet;
use std::ops::RangeInclusive;

/// `\Seen \Answered ...` plus keywords, for FLAGS.
pub(crate) fn flag_list(bits: u32, keywords: &[String]) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for (bit, name) in flags::NAMES {
        if bits & bit != 0 {
            parts.push(name);
        }
    }
    parts.extend(keywords.iter().map(String::as_str));
    parts.join(" ")
}

/// Contiguous UID ranges for the store.
pub(crate) fn ranges(uids: &[u32]) -> Vec<RangeInclusive<u32>> {
    let mut out: Vec<RangeInclusive<u32>> = Vec::new();
    for &u in uids {
        match out.last_mut() {
            Some(r) if *r.end() + 1 == u => *r = *r.start()..=u,
            _ => out.push(u..=u),
        }
    }
    out
}

/// Whether the command may be answered with EXPUNGE responses (RFC 9051 §7.5.1).
fn may_expunge(body: &CommandBody<'_>) -> bool {
    !matches!(
        body,
        CommandBody::Fetch { uid: false, .. }
            | CommandBody::Store { uid: false, .. }
            | CommandBody::Search { uid: false, .. }
    )
}

/// Executes one command and answers it.
pub(super) async fn execute(conn: &mut Conn, tag: String, request: Request) -> store::Result<()> {
    let body = match request {
        Request::List(cmd) => return mailbox::list(conn, &tag, &cmd).await,
        Request::Search { body, ret } => {
            conn.sync_selected(may_expunge(&body))?;
            return search_command(conn, &tag, body, Some(ret));
        }
        Request::Create {
            body: CommandBody::Create { mailbox },
            special_use,
        } => {
            return match mailbox::special_use(&special_use) {
                Ok(use_) => mailbox::create(conn, &tag, &mailbox, use_).await,
                Err(text) => {
                    // RFC 6154 §3: a special use we cannot assign is a NO with USEATTR.
                    conn.session.tagged(&tag, Status::No, Some("USEATTR"), text);
                    Ok(())
                }
            };
        }
        Request::Create { .. } => return Ok(()),
        Request::Codec(body) => body,
    };
    if conn.selected.is_some() {
        conn.sync_selected(may_expunge(&body))?;
    }
    use CommandBody as C;
    match body {
        C::Noop | C::Check => conn
            .session
            .tagged(&tag, Status::Ok, None, "NOOP completed"),
        C::Login { username, password } => {
            super::auth::login(
                conn,
                &tag,
                username.as_ref(),
                password.declassify().as_ref().to_vec(),
            )
            .await
        }
        C::Authenticate {
            mechanism,
            initial_response,
        } => {
            let mech = mechanism.to_string();
            let initial = initial_response.map(|r| r.declassify().to_vec());
            super::auth::authenticate(conn, &tag, &mech, initial).await
        }
        C::Id { .. } => {
            conn.session.untagged(
                format!(
                    "* ID (\"name\" \"mailnook\" \"version\" \"{}\")\r\n",
                    env!("CARGO_PKG_VERSION")
                )
                .as_bytes(),
            );
            conn.session.tagged(&tag, Status::Ok, None, "ID completed");
        }
        C::Namespace => {
            conn.session
                .untagged(b"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
            conn.session
                .tagged(&tag, Status::Ok, None, "NAMESPACE completed");
        }
        C::Enable { capabilities } => {
            let mut enabled = Vec::new();
            for cap in capabilities.as_ref() {
                let name = cap.to_string().to_ascii_uppercase();
                match name.as_str() {
                    "CONDSTORE" => conn.enabled.condstore = true,
                    "QRESYNC" => {
                        conn.enabled.qresync = true;
                        conn.enabled.condstore = true;
                    }
                    "IMAP4REV2" => {
                        conn.enabled.rev2 = true;
                        conn.enabled.utf8 = true;
                    }
                    "UTF8=ACCEPT" => conn.enabled.utf8 = true,
                    _ => continue,
                }
                enabled.push(name);
            }
            conn.session.untagged(
                format!("* ENABLED {}\r\n", enabled.join(" "))
                    .trim_end()
                    .as_bytes(),
            );
            conn.session.untagged(b"\r\n");
            conn.session
                .tagged(&tag, Status::Ok, None, "ENABLE completed");
        }
        C::Select {
            mailbox,
            parameters,
        } => mailbox::select(conn, &tag, &mailbox, &parameters, false).await?,
        C::Examine {
            mailbox,
            parameters,
        } => mailbox::select(conn, &tag, &mailbox, &parameters, true).await?,
        C::Create { mailbox } => {
            mailbox::create(conn, &tag, &mailbox, store::SpecialUse::None).await?
        }
        C::Delete { mailbox } => mailbox::delete(conn, &tag, &mailbox).await?,
        C::Rename { from, to } => mailbox::rename(conn, &tag, &from, &to).await?,
        C::Subscribe { mailbox } => mailbox::subscribe(conn, &tag, &mailbox, true).await?,
        C::Unsubscribe { mailbox } => mailbox::subscribe(conn, &tag, &mailbox, false).await?,
        C::Status {
            mailbox,
            item_names,
        } => mailbox::status(conn, &tag, &mailbox, &item_names).await?,
        C::Idle => {
            conn.idle_tag = Some(tag);
            conn.session.start_idle();
        }
        C::Unselect => {
            leave_selected(conn);
            conn.session
                .tagged(&tag, Status::Ok, None, "UNSELECT completed");
        }
        C::Close => {
            // RFC 9051 §6.4.1: expunge silently unless read-only.
            let expunged = match &conn.selected {
                Some(sel) if !sel.view.read_only => conn
                    .ctx
                    .store
                    .call(Op::Expunge {
                        mailbox: sel.id,
                        uids: None,
                    })
                    .await
                    .map(|_| ()),
                _ => Ok(()),
            };
            // CLOSE always returns to the authenticated state, even when the mailbox was
            // deleted meanwhile (RFC 9051 §6.4.1 has no NO for it).
            leave_selected(conn);
            match expunged {
                Ok(()) | Err(store::Error::Refused(Refusal::NoSuchMailbox(_))) => {}
                Err(e) => return Err(e),
            }
            conn.session
                .tagged(&tag, Status::Ok, None, "CLOSE completed");
        }
        C::Expunge => expunge(conn, &tag, None).await?,
        C::ExpungeUid { sequence_set } => expunge(conn, &tag, Some(sequence_set)).await?,
        C::Fetch {
            sequence_set,
            macro_or_item_names,
            uid,
            modifiers,
        } => {
            fetch::fetch(
                conn,
                &tag,
                &sequence_set,
                macro_or_item_names,
                uid,
                &modifiers,
            )
            .await?
        }
        C::Store {
            sequence_set,
            kind,
            response,
            flags,
            uid,
            modifiers,
        } => {
            store_flags(
                conn,
                &tag,
                &sequence_set,
                kind,
                response,
                &flags,
                uid,
                &modifiers,
            )
            .await?
        }
        C::Copy {
            sequence_set,
            mailbox,
            uid,
        } => copy_move(conn, &tag, &sequence_set, &mailbox, uid, false).await?,
        C::Move {
            sequence_set,
            mailbox,
            uid,
        } => copy_move(conn, &tag, &sequence_set, &mailbox, uid, true).await?,
        C::GetQuotaRoot { mailbox } => super::quota::get_quota_root(conn, &tag, &mailbox)?,
        C::GetQuota { root } => super::quota::get_quota(conn, &tag, root.as_ref())?,
        C::SetQuota { .. } => super::quota::set_quota(conn, &tag),
        body @ C::Search { .. } => search_command(conn, &tag, body, None)?,
        body @ C::Sort { .. } => sort_command(conn, &tag, body)?,
        body @ C::Thread { .. } => thread_command(conn, &tag, body)?,
        _ => conn
            .session
            .tagged(&tag, Status::Bad, None, "Command not supported"),
    }
    Ok(())
}

fn resolve(conn: &mut Conn, tag: &str, set: &SequenceSet, uid: bool) -> Option<Vec<(u32, u32)>> {
    let sel = conn.selected.as_ref()?;
    match sel.view.resolve(set, uid) {
        Some(v) => Some(v),
        None => {
            conn.session
                .tagged(tag, Status::Bad, None, "Invalid message sequence number");
            None
        }
    }
}

async fn expunge(conn: &mut Conn, tag: &str, set: Option<SequenceSet>) -> store::Result<()> {
    let sel = conn.selected.as_ref().expect("selected");
    if sel.view.read_only {
        conn.session
            .tagged(tag, Status::No, Some("READ-ONLY"), "Mailbox is read-only");
        return Ok(());
    }
    let id = sel.id;
    let uids = match &set {
        Some(set) => {
            let Some(msgs) = resolve(conn, tag, set, true) else {
                return Ok(());
            };
            Some(ranges(&msgs.iter().map(|(_, u)| *u).collect::<Vec<_>>()))
        }
        None => None,
    };
    let done = conn
        .ctx
        .store
        .call(Op::Expunge { mailbox: id, uids })
        .await?;
    if let Done::Expunged { uids, modseq } = done {
        let uids: Vec<u32> = uids.iter().map(|u| u.get()).collect();
        report_own_expunge(conn, &uids, modseq);
    }
    conn.session
        .tagged(tag, Status::Ok, None, "EXPUNGE completed");
    Ok(())
}

/// EXPUNGE (or VANISHED) responses for messages this session removed.
fn report_own_expunge(conn: &mut Conn, uids: &[u32], modseq: u64) {
    let qresync = conn.enabled.qresync;
    let Some(sel) = conn.selected.as_mut() else {
        return;
    };
    let seqs = sel.view.remove_own(uids);
    sel.view.modseq = sel.view.modseq.max(modseq);
    let mut out = Vec::new();
    if qresync {
        if !uids.is_empty() {
            out.extend_from_slice(format!("* VANISHED {}\r\n", mailbox::uid_set(uids)).as_bytes());
        }
    } else {
        for s in seqs {
            out.extend_from_slice(format!("* {s} EXPUNGE\r\n").as_bytes());
        }
    }
    conn.session.untagged(&out);
}

#[allow(clippy::too_many_arguments)]
async fn store_flags(
    conn: &mut Conn,
    tag: &str,
    set: &SequenceSet,
    kind: StoreType,
    response: StoreResponse,
    fl: &[Flag<'_>],
    uid: bool,
    modifiers: &[imap_codec::imap_types::command::StoreModifier],
) -> store::Result<()> {
    if conn.selected.as_ref().is_some_and(|s| s.view.read_only) {
        conn.session
            .tagged(tag, Status::No, Some("READ-ONLY"), "Mailbox is read-only");
        return Ok(());
    }
    let Some(msgs) = resolve(conn, tag, set, uid) else {
        return Ok(());
    };
    let (bits, keywords) = mailbox::split_flags(fl);
    let mode = match kind {
        StoreType::Add => StoreMode::Add,
        StoreType::Remove => StoreMode::Remove,
        StoreType::Replace => StoreMode::Replace,
    };
    let unchanged_since = modifiers
        .iter()
        .map(|m| match m {
            imap_codec::imap_types::command::StoreModifier::UnchangedSince(n) => *n,
        })
        .next();
    if unchanged_since.is_some() {
        conn.enabled.condstore = true;
    }
    let sel = conn.selected.as_ref().expect("selected");
    let id = sel.id;
    let uids: Vec<u32> = msgs.iter().map(|(_, u)| *u).collect();
    if uids.is_empty() {
        conn.session
            .tagged(tag, Status::Ok, None, "STORE completed");
        return Ok(());
    }
    let done = match conn
        .ctx
        .store
        .call(Op::Store {
            mailbox: id,
            uids: ranges(&uids),
            mode,
            flags: bits,
            keywords,
            unchanged_since,
        })
        .await
    {
        Ok(d) => d,
        Err(store::Error::Refused(Refusal::InvalidKeyword(_)))
        | Err(store::Error::Refused(Refusal::TooMany(_))) => {
            conn.session
                .tagged(tag, Status::No, Some("LIMIT"), "Keyword refused");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let Done::Stored {
        changed, failed, ..
    } = done
    else {
        return Ok(());
    };
    let condstore = conn.enabled.condstore;
    let silent = matches!(response, StoreResponse::Silent);
    let mut out = Vec::new();
    let sel = conn.selected.as_mut().expect("selected");
    for c in &changed {
        let u = c.uid.get();
        sel.own_changes.push((u, c.modseq));
        let Some(seq) = sel.view.seq(u) else { continue };
        if silent && !condstore {
            continue;
        }
        let mut items = Vec::new();
        if uid {
            items.push(format!("UID {u}"));
        }
        if !silent {
            items.push(format!("FLAGS ({})", flag_list(c.flags, &c.keywords)));
        }
        if condstore {
            items.push(format!("MODSEQ ({})", c.modseq));
        }
        out.extend_from_slice(format!("* {seq} FETCH ({})\r\n", items.join(" ")).as_bytes());
    }
    conn.session.untagged(&out);
    if failed.is_empty() {
        conn.session
            .tagged(tag, Status::Ok, None, "STORE completed");
    } else {
        // RFC 7162 §3.1.3: MODIFIED lists what was not stored (sequence numbers unless UID).
        let list: Vec<u32> = failed
            .iter()
            .filter_map(|u| {
                if uid {
                    Some(u.get())
                } else {
                    conn.selected.as_ref().and_then(|s| s.view.seq(u.get()))
                }
            })
            .collect();
        let code = format!("MODIFIED {}", mailbox::uid_set(&list));
        conn.session
            .tagged(tag, Status::Ok, Some(&code), "Conditional STORE failed");
    }
    Ok(())
}

async fn copy_move(
    conn: &mut Conn,
    tag: &str,
    set: &SequenceSet,
    target: &imap_codec::imap_types::mailbox::Mailbox<'_>,
    uid: bool,
    mv: bool,
) -> store::Result<()> {
    if mv && conn.selected.as_ref().is_some_and(|s| s.view.read_only) {
        conn.session
            .tagged(tag, Status::No, Some("READ-ONLY"), "Mailbox is read-only");
        return Ok(());
    }
    let Some(msgs) = resolve(conn, tag, set, uid) else {
        return Ok(());
    };
    let user = conn.user.as_ref().expect("authenticated").user;
    let Some(name) = mailbox::mailbox_name(conn, target) else {
        conn.session
            .tagged(tag, Status::No, Some("TRYCREATE"), "No such mailbox");
        return Ok(());
    };
    let Some(to) = conn.ctx.store.mailbox(user, &name)? else {
        conn.session
            .tagged(tag, Status::No, Some("TRYCREATE"), "No such mailbox");
        return Ok(());
    };
    let from = conn.selected.as_ref().expect("selected").id;
    let uids: Vec<u32> = msgs.iter().map(|(_, u)| *u).collect();
    if uids.is_empty() {
        conn.session.tagged(
            tag,
            Status::Ok,
            None,
            if mv {
                "MOVE completed"
            } else {
                "COPY completed"
            },
        );
        return Ok(());
    }
    let op = if mv {
        Op::Move {
            from,
            uids: ranges(&uids),
            to: to.id,
        }
    } else {
        Op::Copy {
            from,
            uids: ranges(&uids),
            to: to.id,
        }
    };
    let done = match conn.ctx.store.call(op).await {
        Ok(d) => d,
        Err(e @ store::Error::Refused(_)) => {
            mailbox::refusal(conn, tag, e);
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    match done {
        Done::Copied { uidvalidity, uids } => {
            let (src, dst): (Vec<u32>, Vec<u32>) =
                uids.iter().map(|(a, b)| (a.get(), b.get())).unzip();
            let code = format!(
                "COPYUID {uidvalidity} {} {}",
                mailbox::uid_set(&src),
                mailbox::uid_set(&dst)
            );
            conn.session
                .tagged(tag, Status::Ok, Some(&code), "COPY completed");
        }
        Done::Moved {
            uidvalidity,
            uids,
            modseq,
        } => {
            let (src, dst): (Vec<u32>, Vec<u32>) =
                uids.iter().map(|(a, b)| (a.get(), b.get())).unzip();
            // RFC 6851 §4.3: COPYUID goes in an untagged OK before the expunges.
            let line = format!(
                "* OK [COPYUID {uidvalidity} {} {}] Moved\r\n",
                mailbox::uid_set(&src),
                mailbox::uid_set(&dst)
            );
            conn.session.untagged(line.as_bytes());
            report_own_expunge(conn, &src, modseq);
            conn.session.tagged(tag, Status::Ok, None, "MOVE completed");
        }
        _ => conn.session.tagged(tag, Status::Ok, None, "COPY completed"),
    }
    Ok(())
}

/// Lazy access to one message for SEARCH, SORT and THREAD.
struct Msg<'a> {
    conn: &'a Conn,
    seq: u32,
    uid: u32,
    row: &'a store::MessageRow,
    summary: Option<Option<Summary>>,
    headers: Option<Vec<(String, String)>>,
}

impl<'a> Msg<'a> {
    fn new(conn: &'a Conn, seq: u32, uid: u32, row: &'a store::MessageRow) -> Msg<'a> {
        Msg {
            conn,
            seq,
            uid,
            row,
            summary: None,
            headers: None,
        }
    }

    fn summary(&mut self) -> Option<&Summary> {
        if self.summary.is_none() {
            let s = self
                .conn
                .ctx
                .store
                .summary(store::BodyId(self.row.body))
                .ok()
                .flatten()
                .and_then(|b| Summary::decode(&b));
            self.summary = Some(s);
        }
        self.summary.as_ref().and_then(Option::as_ref)
    }

    /// Reads `len` bytes at `offset` of the stored message.
    fn read(&self, offset: u64, len: u64) -> Vec<u8> {
        let Ok(Some(reader)) = self.conn.ctx.store.open_body(store::BodyId(self.row.body)) else {
            return Vec::new();
        };
        let len = len.min(reader.size().saturating_sub(offset));
        let mut out = vec![0u8; len as usize];
        let mut got = 0;
        while got < out.len() {
            match reader.read_at(offset + got as u64, &mut out[got..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
        out.truncate(got);
        out
    }

    fn headers(&mut self) -> &[(String, String)] {
        if self.headers.is_none() {
            // Most headers fit in the first 8 KiB; a longer one is read up to 64 KiB.
            let mut start = self.read(0, 8 * 1024);
            if header_len(&start).is_none() && start.len() == 8 * 1024 {
                start = self.read(0, 64 * 1024);
            }
            let end = header_len(&start).unwrap_or(start.len());
            let mut fields = Vec::new();
            if let Some(m) = mail_parser::MessageParser::new().parse_headers(&start[..end]) {
                for h in m.headers() {
                    let value = match h.value() {
                        mail_parser::HeaderValue::Text(t) => t.to_string(),
                        mail_parser::HeaderValue::TextList(l) => l.join(" "),
                        mail_parser::HeaderValue::Address(a) => a
                            .iter()
                            .map(|x| {
                                format!(
                                    "{} <{}>",
                                    x.name.as_deref().unwrap_or(""),
                                    x.address.as_deref().unwrap_or("")
                                )
                            })
                            .collect::<Vec<_>>()
                            .join(", "),
                        _ => String::from_utf8_lossy(
                            &start[h.offset_start() as usize..h.offset_end() as usize],
                        )
                        .into_owned(),
                    };
                    fields.push((h.name().to_ascii_lowercase(), value.to_lowercase()));
                }
            }
            self.headers = Some(fields);
        }
        self.headers.as_deref().unwrap_or(&[])
    }

    /// Whether `needle` occurs in the decoded text parts (streamed; see `message::text_search`).
    /// A message without a stored summary is searched as one UTF-8 text.
    fn body_has(&mut self, needle: &str) -> bool {
        let parts = match self.summary() {
            Some(s) => text_search::text_parts(s),
            None => vec![text_search::TextPart {
                range: 0..self.row.size,
                encoding: Encoding::Identity,
                charset: None,
            }],
        };
        self.read_contains(&parts, needle)
    }

    fn read_contains(&self, parts: &[text_search::TextPart], needle: &str) -> bool {
        if parts.is_empty() {
            return false;
        }
        let Ok(Some(reader)) = self.conn.ctx.store.open_body(store::BodyId(self.row.body)) else {
            return false;
        };
        text_search::message_contains(parts, needle, |at, buf| reader.read_at(at, buf))
    }
}

impl Candidate for Msg<'_> {
    fn seq(&self) -> u32 {
        self.seq
    }
    fn uid(&self) -> u32 {
        self.uid
    }
    fn flags(&self) -> SysFlags {
        let f = self.row.flags;
        SysFlags {
            seen: f & flags::SEEN != 0,
            answered: f & flags::ANSWERED != 0,
            flagged: f & flags::FLAGGED != 0,
            deleted: f & flags::DELETED != 0,
            draft: f & flags::DRAFT != 0,
            recent: false,
        }
    }
    fn has_keyword(&self, keyword: &str) -> bool {
        self.row
            .keywords
            .iter()
            .any(|k| k.eq_ignore_ascii_case(keyword))
    }
    fn internal_day(&self) -> chrono::NaiveDate {
        day(self.row.internal_date as i64)
    }
    fn size(&self) -> u64 {
        self.row.size
    }
    fn modseq(&self) -> u64 {
        self.row.modseq
    }
    fn sent_day(&mut self) -> Option<chrono::NaiveDate> {
        let date = self
            .headers()
            .iter()
            .find(|(n, _)| n == "date")
            .map(|(_, v)| v.clone())?;
        mail_parser::DateTime::parse_rfc822(&date).and_then(|d| {
            chrono::NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
        })
    }
    fn header(&mut self, name: &str) -> Vec<String> {
        let name = name.to_ascii_lowercase();
        self.headers()
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
    fn body_contains(&mut self, needle: &str) -> bool {
        self.body_has(needle)
    }
    fn headers_contain(&mut self, needle: &str) -> bool {
        if self
            .headers()
            .iter()
            .any(|(n, v)| n.contains(needle) || v.contains(needle))
        {
            return true;
        }
        let parts = match self.summary() {
            Some(s) => text_search::mime_headers(s),
            None => return false,
        };
        self.read_contains(&parts, needle)
    }
}

/// Decodes RFC 2047 encoded words in a raw header value (display names for SORT DISPLAYFROM).
fn decode_words(raw: &[u8]) -> String {
    let mut field = b"X: ".to_vec();
    field.extend_from_slice(raw);
    field.extend_from_slice(b"\r\n\r\n");
    mail_parser::MessageParser::new()
        .parse_headers(&field)
        .and_then(|m| {
            m.header_raw("X").map(|_| ()).and(
                m.headers()
                    .first()
                    .and_then(|h| h.value().as_text().map(str::to_string)),
            )
        })
        .unwrap_or_else(|| String::from_utf8_lossy(raw).into_owned())
        .trim_matches('"')
        .to_string()
}

/// Length of the header section at the start of `data` (through its blank line), if complete.
fn header_len(data: &[u8]) -> Option<usize> {
    let lf = memchr::memmem::find(data, b"\n\n").map(|i| i + 2);
    let crlf = memchr::memmem::find(data, b"\n\r\n").map(|i| i + 3);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn day(secs: i64) -> chrono::NaiveDate {
    let (y, m, d, ..) = crate::time::utc_parts(secs.max(0) as u64);
    chrono::NaiveDate::from_ymd_opt(y as i32, m, d).unwrap_or_default()
}

fn check_charset(conn: &mut Conn, tag: &str, charset: Option<&str>) -> bool {
    match charset.map(str::to_ascii_uppercase).as_deref() {
        None | Some("UTF-8") | Some("US-ASCII") => true,
        Some(_) => {
            conn.session.tagged(
                tag,
                Status::No,
                Some("BADCHARSET (UTF-8 US-ASCII)"),
                "Unsupported charset",
            );
            false
        }
    }
}

/// Evaluates a search over the selected mailbox: (seq, uid, modseq) of each match.
fn run_search(
    conn: &Conn,
    key: &SearchKey<'_>,
    used_modseq: &std::cell::Cell<bool>,
) -> store::Result<Vec<(u32, u32, u64)>> {
    let sel = conn.selected.as_ref().expect("selected");
    let rows = conn.ctx.store.messages(sel.id)?;
    Ok(search_rows(conn, &rows, key, used_modseq))
}

/// [`run_search`] over rows already read; the hits come in the order of `rows`.
fn search_rows(
    conn: &Conn,
    rows: &[store::Message],
    key: &SearchKey<'_>,
    used_modseq: &std::cell::Cell<bool>,
) -> Vec<(u32, u32, u64)> {
    let sel = conn.selected.as_ref().expect("selected");
    let cx = search::Context {
        max_seq: sel.view.exists(),
        max_uid: sel.view.uids().last().copied().unwrap_or(0),
        modseq_used: used_modseq,
    };
    let mut hits = Vec::new();
    for m in rows {
        let uid = m.uid.get();
        let Some(seq) = sel.view.seq(uid) else {
            continue;
        };
        let mut c = Msg::new(conn, seq, uid, &m.row);
        if search::matches(key, &mut c, &cx) {
            hits.push((seq, uid, m.row.modseq));
        }
    }
    hits
}

fn and_key<'a>(criteria: &[SearchKey<'a>]) -> SearchKey<'a> {
    match criteria {
        [one] => one.clone(),
        many => SearchKey::And(many.to_vec().try_into().expect("non-empty")),
    }
}

fn search_command(
    conn: &mut Conn,
    tag: &str,
    body: CommandBody<'static>,
    ret: Option<SearchReturn>,
) -> store::Result<()> {
    let CommandBody::Search {
        charset,
        criteria,
        uid,
    } = body
    else {
        return Ok(());
    };
    if !check_charset(conn, tag, charset.as_ref().map(|c| c.as_ref())) {
        return Ok(());
    }
    let key = and_key(criteria.as_ref());
    let used_modseq = std::cell::Cell::new(false);
    let hits = run_search(conn, &key, &used_modseq)?;
    if used_modseq.get() {
        conn.enabled.condstore = true;
    }
    let ids: Vec<u32> = hits
        .iter()
        .map(|(s, u, _)| if uid { *u } else { *s })
        .collect();
    let top_modseq = hits.iter().map(|(_, _, m)| *m).max();
    let ret = ret.or_else(|| {
        conn.enabled.rev2.then(|| SearchReturn {
            all: true,
            ..SearchReturn::default()
        })
    });
    let mut line = String::new();
    match ret {
        Some(r) => {
            // RFC 4731 §3.1 ESEARCH response.
            line.push_str(&format!("* ESEARCH (TAG \"{tag}\")"));
            if uid {
                line.push_str(" UID");
            }
            if r.min
                && let Some(m) = ids.iter().min()
            {
                line.push_str(&format!(" MIN {m}"));
            }
            if r.max
                && let Some(m) = ids.iter().max()
            {
                line.push_str(&format!(" MAX {m}"));
            }
            if r.count {
                line.push_str(&format!(" COUNT {}", ids.len()));
            }
            if r.all && !ids.is_empty() {
                line.push_str(&format!(" ALL {}", mailbox::uid_set(&ids)));
            }
            if used_modseq.get()
                && let Some(m) = top_modseq
            {
                line.push_str(&format!(" MODSEQ {m}"));
            }
        }
        None => {
            line.push_str("* SEARCH");
            for id in &ids {
                line.push_str(&format!(" {id}"));
            }
            if used_modseq.get()
                && let Some(m) = top_modseq
            {
                line.push_str(&format!(" (MODSEQ {m})"));
            }
        }
    }
    line.push_str("\r\n");
    conn.session.untagged(line.as_bytes());
    conn.session
        .tagged(tag, Status::Ok, None, "SEARCH completed");
    Ok(())
}

/// The SORT / THREAD facts of `hits`, which [`search_rows`] found in `rows` (so in their order:
/// one pass over `rows` finds them all).
fn facts(conn: &Conn, rows: &[store::Message], hits: &[(u32, u32, u64)], uid: bool) -> Vec<Facts> {
    let mut rest = rows.iter();
    let mut out = Vec::new();
    for &(seq, u, _) in hits {
        let Some(m) = rest.find(|m| m.uid.get() == u) else {
            continue;
        };
        let mut c = Msg::new(conn, seq, u, &m.row);
        let first_addr = |c: &mut Msg<'_>, name: &str| -> (String, String) {
            let Some(s) = c.summary() else {
                return (String::new(), String::new());
            };
            let list = match name {
                "from" => &s.envelope.from,
                "to" => &s.envelope.to,
                _ => &s.envelope.cc,
            };
            match list.first() {
                Some(a) => {
                    let lossy = |v: &Option<Vec<u8>>| {
                        v.as_deref()
                            .map(|b| String::from_utf8_lossy(b).into_owned())
                            .unwrap_or_default()
                    };
                    let local = lossy(&a.mailbox).to_lowercase();
                    let addr = format!("{}@{}", lossy(&a.mailbox), lossy(&a.host)).to_lowercase();
                    let display = match &a.name {
                        Some(n) => decode_words(n),
                        None => addr,
                    };
                    (local, display)
                }
                None => (String::new(), String::new()),
            }
        };
        let (from, display_from) = first_addr(&mut c, "from");
        let (to, display_to) = first_addr(&mut c, "to");
        let (cc, _) = first_addr(&mut c, "cc");
        let subject = c
            .summary()
            .and_then(|s| s.subject.clone())
            .unwrap_or_default();
        let sent = c.summary().and_then(|s| s.date);
        let strip = |v: &[u8]| {
            String::from_utf8_lossy(v)
                .trim()
                .trim_matches(['<', '>'])
                .to_string()
        };
        let message_id = c
            .summary()
            .and_then(|s| s.envelope.message_id.as_deref().map(strip));
        let mut references: Vec<String> = c
            .summary()
            .map(|s| s.references.clone())
            .unwrap_or_default();
        if references.is_empty()
            && let Some(irt) = c
                .summary()
                .and_then(|s| s.envelope.in_reply_to.as_deref().map(strip))
        {
            references.push(irt);
        }
        out.push(Facts {
            id: if uid { u } else { seq },
            seq,
            arrival: m.row.internal_date as i64,
            sent,
            size: m.row.size,
            subject,
            from,
            to,
            cc,
            display_from,
            display_to,
            message_id,
            references,
        });
    }
    out
}

/// The shared start of SORT and THREAD: refuse an unknown charset (answered, `None`), else
/// the facts of the messages matching the search criteria.
fn matching_facts(
    conn: &mut Conn,
    tag: &str,
    charset: &str,
    search_criteria: &[SearchKey<'_>],
    uid: bool,
) -> store::Result<Option<Vec<Facts>>> {
    if !check_charset(conn, tag, Some(charset)) {
        return Ok(None);
    }
    let key = and_key(search_criteria);
    let used = std::cell::Cell::new(false);
    let sel = conn.selected.as_ref().expect("selected");
    let rows = conn.ctx.store.messages(sel.id)?;
    let hits = search_rows(conn, &rows, &key, &used);
    Ok(Some(facts(conn, &rows, &hits, uid)))
}

fn sort_command(conn: &mut Conn, tag: &str, body: CommandBody<'static>) -> store::Result<()> {
    let CommandBody::Sort {
        sort_criteria,
        charset,
        search_criteria,
        uid,
    } = body
    else {
        return Ok(());
    };
    let Some(msgs) = matching_facts(conn, tag, charset.as_ref(), search_criteria.as_ref(), uid)?
    else {
        return Ok(());
    };
    use imap_codec::imap_types::extensions::sort::SortKey;
    let criteria: Vec<(SortBy, bool)> = sort_criteria
        .as_ref()
        .iter()
        .map(|c| {
            let by = match c.key {
                SortKey::Arrival => SortBy::Arrival,
                SortKey::Cc => SortBy::Cc,
                SortKey::Date => SortBy::Date,
                SortKey::From => SortBy::From,
                SortKey::Size => SortBy::Size,
                SortKey::Subject => SortBy::Subject,
                SortKey::To => SortBy::To,
                SortKey::DisplayFrom => SortBy::DisplayFrom,
                SortKey::DisplayTo => SortBy::DisplayTo,
            };
            (by, c.reverse)
        })
        .collect();
    let sorted = thread::sort(msgs, &criteria);
    let mut line = String::from("* SORT");
    for id in sorted {
        line.push_str(&format!(" {id}"));
    }
    line.push_str("\r\n");
    conn.session.untagged(line.as_bytes());
    conn.session.tagged(tag, Status::Ok, None, "SORT completed");
    Ok(())
}

fn thread_command(conn: &mut Conn, tag: &str, body: CommandBody<'static>) -> store::Result<()> {
    let CommandBody::Thread {
        algorithm,
        charset,
        search_criteria,
        uid,
    } = body
    else {
        return Ok(());
    };
    let Some(msgs) = matching_facts(conn, tag, charset.as_ref(), search_criteria.as_ref(), uid)?
    else {
        return Ok(());
    };
    use imap_codec::imap_types::extensions::thread::ThreadingAlgorithm;
    let threads = match algorithm {
        ThreadingAlgorithm::OrderedSubject => thread::ordered_subject(&msgs),
        ThreadingAlgorithm::References => thread::references(&msgs),
        _ => {
            conn.session
                .tagged(tag, Status::No, None, "Unsupported threading algorithm");
            return Ok(());
        }
    };
    conn.session
        .untagged(format!("* THREAD {}\r\n", thread::render(&threads)).as_bytes());
    conn.session
        .tagged(tag, Status::Ok, None, "THREAD completed");
    Ok(())
}

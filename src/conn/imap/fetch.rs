//! FETCH and UID FETCH (RFC 9051 §6.4.5, RFC 3516 BINARY, RFC 7162 CHANGEDSINCE/VANISHED).
//!
//! Message bytes are streamed: each literal is announced with its exact length (computed from
//! the stored summary, or by a counting pass for bare-LF conversion and BINARY decoding) and
//! then copied from the store to the socket chunk by chunk, so no message is held whole in
//! memory. Stored bare LFs are served as CRLF (RFC 9051 §2.3.1 requires CRLF).

use super::{Conn, mailbox};
use crate::message::Summary;
use crate::message::transfer::{Decoder, Encoding};
use crate::proto::imap::response::Status;
use crate::proto::line::Exchange;
use crate::store::{self, BodyId, Done, Op, StoreMode, flags};
use imap_codec::imap_types::command::FetchModifier;
use imap_codec::imap_types::fetch::{
    Macro, MacroOrMessageDataItemNames, MessageDataItem, MessageDataItemName, Part, Section,
};
use imap_codec::imap_types::sequence::SequenceSet;

/// Bytes read from the store per step while streaming.
const STEP: usize = 64 * 1024;

/// Encodes one FETCH data item with imap-codec and returns its text (`ENVELOPE (...)`).
fn render_item(item: MessageDataItem<'static>) -> Vec<u8> {
    use imap_codec::encode::Encoder;
    use imap_codec::imap_types::response::{Data, Response};
    let response = Response::Data(Data::Fetch {
        seq: std::num::NonZeroU32::MIN,
        items: vec![item].try_into().expect("one item"),
    });
    let bytes = imap_codec::ResponseCodec::new().encode(&response).dump();
    let prefix = b"* 1 FETCH (";
    let body = bytes.strip_prefix(prefix.as_slice()).unwrap_or(&bytes);
    body.strip_suffix(b")\r\n").unwrap_or(body).to_vec()
}

/// A byte range of the stored message and how to serve it.
#[derive(Debug, Clone)]
struct Extract {
    start: u64,
    end: u64,
    /// Serve stored bare LFs as CRLF.
    crlf: bool,
    /// Undo this transfer encoding (BINARY).
    decode: Option<Encoding>,
    /// Replace the range with these bytes (HEADER.FIELDS, or an empty part).
    fixed: Option<Vec<u8>>,
}

/// What to send for one BODY[...]/BINARY[...] item.
enum Source {
    Range(Extract),
    /// The part does not exist: an empty string (RFC 9051 §6.4.5) or NIL for BINARY.
    Missing,
    /// BINARY on an encoding we cannot undo.
    UnknownCte,
}

fn path(part: &Option<Part>) -> Vec<u32> {
    part.as_ref()
        .map(|p| p.0.as_ref().iter().map(|n| n.get()).collect())
        .unwrap_or_default()
}

/// A BINARY section's part numbers as they are written back: `1.2`.
fn part_numbers(section: &[impl std::fmt::Display]) -> String {
    section
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(".")
}

/// Resolves a section to a byte range of the stored message.
fn locate(
    conn: &Conn,
    body: BodyId,
    s: &Summary,
    section: &Option<Section<'_>>,
    binary: bool,
) -> store::Result<Source> {
    let crlf = s.bare_lf > 0;
    let range = |start: u64, end: u64| {
        Source::Range(Extract {
            start,
            end,
            crlf,
            decode: None,
            fixed: None,
        })
    };
    let Some(section) = section else {
        return Ok(range(0, s.size));
    };
    // The part a path names, and the message whose header/text a HEADER/TEXT suffix means.
    let msg_root = |p: &Vec<u32>| -> Option<(u64, u64, u64)> {
        if p.is_empty() {
            return Some((0, s.root.body_start, s.size));
        }
        let part = s.section(p)?;
        let m = part.message()?;
        Some((
            m.root.header_start,
            m.root.body_start,
            m.root.body_end.max(part.body_end),
        ))
    };
    Ok(match section {
        Section::Part(p) => {
            let p = path(&Some(p.clone()));
            let Some(part) = s.section(&p) else {
                return Ok(Source::Missing);
            };
            if binary {
                let Some(enc) = Encoding::from_name(part.mime.encoding.as_deref()) else {
                    return Ok(Source::UnknownCte);
                };
                let decode = if !part.children().is_empty() || part.message().is_some() {
                    Encoding::Identity
                } else {
                    enc
                };
                Source::Range(Extract {
                    start: part.body_start,
                    end: part.body_end,
                    crlf: crlf && decode == Encoding::Identity,
                    decode: Some(decode),
                    fixed: None,
                })
            } else {
                range(part.body_start, part.body_end)
            }
        }
        Section::Header(p) => match msg_root(&path(p)) {
            Some((h, b, _)) => range(h, b),
            None => Source::Missing,
        },
        Section::Text(p) => match msg_root(&path(p)) {
            Some((_, b, e)) => range(b, e),
            None => Source::Missing,
        },
        Section::Mime(p) => match s.section(&path(&Some(p.clone()))) {
            Some(part) => range(part.header_start, part.body_start),
            None => Source::Missing,
        },
        Section::HeaderFields(p, names) | Section::HeaderFieldsNot(p, names) => {
            let not = matches!(section, Section::HeaderFieldsNot(..));
            let Some((h, b, _)) = msg_root(&path(p)) else {
                return Ok(Source::Missing);
            };
            let block = read_range(conn, body, h, b)?;
            let names: Vec<&[u8]> = names.as_ref().iter().map(|n| n.as_ref()).collect();
            let mut fields = crate::message::summary::header_fields(&block, &names, not);
            if crlf {
                fields = to_crlf(&fields);
            }
            Source::Range(Extract {
                start: 0,
                end: 0,
                crlf: false,
                decode: None,
                fixed: Some(fields),
            })
        }
    })
}

fn to_crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut prev = 0u8;
    for &b in data {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// Reads a (small) range of the stored message into memory.
fn read_range(conn: &Conn, body: BodyId, start: u64, end: u64) -> store::Result<Vec<u8>> {
    let Some(reader) = conn.ctx.store.open_body(body)? else {
        return Ok(Vec::new());
    };
    let end = end.min(reader.size());
    let mut out = vec![0u8; end.saturating_sub(start) as usize];
    let mut got = 0;
    while got < out.len() {
        match reader.read_at(start + got as u64, &mut out[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => return Err(store::Error::Io(e.to_string())),
        }
    }
    out.truncate(got);
    Ok(out)
}

/// Yields the served bytes of an extract in bounded steps.
struct Producer {
    reader: Option<crate::store::BodyReader>,
    at: u64,
    end: u64,
    crlf: bool,
    prev: u8,
    decoder: Option<Decoder>,
    fixed: Option<Vec<u8>>,
    buf: Vec<u8>,
}

impl Producer {
    fn new(conn: &Conn, body: BodyId, x: &Extract) -> store::Result<Producer> {
        let reader = if x.fixed.is_some() {
            None
        } else {
            conn.ctx.store.open_body(body)?
        };
        let end = reader.as_ref().map(|r| x.end.min(r.size())).unwrap_or(0);
        let prev = if x.crlf && x.start > 0 {
            read_range(conn, body, x.start - 1, x.start)?
                .first()
                .copied()
                .unwrap_or(0)
        } else {
            0
        };
        Ok(Producer {
            reader,
            at: x.start,
            end,
            crlf: x.crlf,
            prev,
            decoder: x.decode.map(Decoder::new),
            fixed: x.fixed.clone(),
            buf: Vec::new(),
        })
    }

    /// The next served bytes, `None` at the end.
    fn next(&mut self) -> store::Result<Option<Vec<u8>>> {
        if let Some(f) = self.fixed.take() {
            return Ok(Some(f));
        }
        let Some(reader) = self.reader.as_ref() else {
            return Ok(None);
        };
        if self.at >= self.end {
            if let Some(d) = self.decoder.take() {
                let mut out = Vec::new();
                d.finish(&mut out);
                return Ok((!out.is_empty()).then_some(out));
            }
            return Ok(None);
        }
        if self.buf.len() < STEP {
            self.buf.resize(STEP, 0);
        }
        let want = (self.end - self.at).min(STEP as u64) as usize;
        let n = reader
            .read_at(self.at, &mut self.buf[..want])
            .map_err(|e| store::Error::Io(e.to_string()))?;
        if n == 0 {
            self.at = self.end;
            return Ok(Some(Vec::new()));
        }
        self.at += n as u64;
        let mut out = Vec::with_capacity(n + 64);
        match self.decoder.as_mut() {
            Some(d) => d.feed(&self.buf[..n], &mut out),
            None => out.extend_from_slice(&self.buf[..n]),
        }
        if self.crlf {
            let mut conv = Vec::with_capacity(out.len() + 64);
            for &b in &out {
                if b == b'\n' && self.prev != b'\r' {
                    conv.push(b'\r');
                }
                conv.push(b);
                self.prev = b;
            }
            out = conv;
        }
        Ok(Some(out))
    }
}

/// The served length of an extract (counting pass when it differs from the stored range).
fn served_len(conn: &Conn, body: BodyId, x: &Extract) -> store::Result<u64> {
    if let Some(f) = &x.fixed {
        return Ok(f.len() as u64);
    }
    if !x.crlf && matches!(x.decode, None | Some(Encoding::Identity)) {
        let size = conn.ctx.store.body_size(body)?.unwrap_or(0);
        return Ok(x.end.min(size).saturating_sub(x.start));
    }
    let mut p = Producer::new(conn, body, x)?;
    let mut n = 0u64;
    while let Some(chunk) = p.next()? {
        n += chunk.len() as u64;
    }
    Ok(n)
}

/// A streamed FETCH item: label, source, partial range, BINARY.
type Literal = (String, Source, Option<(u32, Option<u32>)>, bool);

/// Whether the items read the message's content (and so set \Seen unless PEEK).
fn sets_seen(items: &[MessageDataItemName<'_>]) -> bool {
    items.iter().any(|i| {
        matches!(
            i,
            MessageDataItemName::BodyExt { peek: false, .. }
                | MessageDataItemName::Binary { peek: false, .. }
                | MessageDataItemName::Rfc822
                | MessageDataItemName::Rfc822Text
        )
    })
}

fn expand(items: MacroOrMessageDataItemNames<'static>) -> Vec<MessageDataItemName<'static>> {
    use MessageDataItemName as N;
    match items {
        MacroOrMessageDataItemNames::Macro(Macro::Fast) => {
            vec![N::Flags, N::InternalDate, N::Rfc822Size]
        }
        MacroOrMessageDataItemNames::Macro(Macro::All) => {
            vec![N::Flags, N::InternalDate, N::Rfc822Size, N::Envelope]
        }
        MacroOrMessageDataItemNames::Macro(Macro::Full) => vec![
            N::Flags,
            N::InternalDate,
            N::Rfc822Size,
            N::Envelope,
            N::Body,
        ],
        MacroOrMessageDataItemNames::MessageDataItemNames(v) => v,
        #[allow(unreachable_patterns)]
        _ => vec![N::Flags],
    }
}

/// BINARY's section number list as a section (`[]` is the whole message).
fn section_path(section: &[std::num::NonZeroU32]) -> Option<Section<'static>> {
    let parts: Vec<std::num::NonZeroU32> = section.to_vec();
    let vec1 = imap_codec::imap_types::core::Vec1::try_from(parts).ok()?;
    Some(Section::Part(Part(vec1)))
}

/// INTERNALDATE text (RFC 9051 §9 `date-time`), in UTC.
fn internal_date(secs: u64) -> String {
    let (y, mo, d, h, mi, s, _) = crate::time::utc_parts(secs);
    const M: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "\"{d:2}-{}-{y:04} {h:02}:{mi:02}:{s:02} +0000\"",
        M[(mo - 1) as usize]
    )
}

fn section_text(section: &Option<Section<'_>>) -> String {
    let item = MessageDataItem::BodyExt {
        section: section
            .clone()
            .map(imap_codec::imap_types::IntoStatic::into_static),
        origin: None,
        data: imap_codec::imap_types::core::NString(None),
    };
    let text = String::from_utf8_lossy(&render_item(item)).into_owned();
    // "BODY[...] NIL" → "[...]"
    let start = text.find('[').unwrap_or(0);
    let end = text.rfind(']').map(|i| i + 1).unwrap_or(text.len());
    text[start..end].to_string()
}

/// FETCH / UID FETCH.
pub(super) async fn fetch(
    conn: &mut Conn,
    tag: &str,
    set: &SequenceSet,
    items: MacroOrMessageDataItemNames<'static>,
    uid: bool,
    modifiers: &[FetchModifier],
) -> store::Result<()> {
    let Some(sel) = conn.selected.as_ref() else {
        return Ok(());
    };
    let (id, read_only) = (sel.id, sel.view.read_only);
    let Some(msgs) = sel.view.resolve(set, uid) else {
        conn.session
            .tagged(tag, Status::Bad, None, "Invalid message sequence number");
        return Ok(());
    };
    let mut names = expand(items);
    if uid && !names.contains(&MessageDataItemName::Uid) {
        names.insert(0, MessageDataItemName::Uid);
    }
    let mut changed_since = None;
    let mut vanished = false;
    for m in modifiers {
        match m {
            FetchModifier::ChangedSince(n) => changed_since = Some(n.get()),
            FetchModifier::Vanished => vanished = true,
        }
    }
    if changed_since.is_some() || names.contains(&MessageDataItemName::ModSeq) {
        conn.enabled.condstore = true;
    }
    if changed_since.is_some() && !names.contains(&MessageDataItemName::ModSeq) {
        names.push(MessageDataItemName::ModSeq);
    }
    if vanished && !(uid && conn.enabled.qresync && changed_since.is_some()) {
        conn.session.tagged(
            tag,
            Status::Bad,
            None,
            "VANISHED needs UID FETCH, QRESYNC and CHANGEDSINCE",
        );
        return Ok(());
    }
    // RFC 7162 §3.2.6: expunged UIDs of the set, reported before the FETCH responses.
    if let (true, Some(since)) = (vanished, changed_since) {
        let mb = conn.ctx.store.mailbox_by_id(id)?;
        let uidnext = mb.map(|m| m.row.uidnext).unwrap_or(1);
        let probe = crate::proto::imap::view::MailboxView::new(0, (1..uidnext).collect(), 0, true);
        let asked: Vec<u32> = probe
            .resolve(set, true)
            .unwrap_or_default()
            .into_iter()
            .map(|(_, u)| u)
            .collect();
        let gone: Vec<u32> = match conn.ctx.store.vanished_since(id, since)? {
            Some(store::Vanished::Exact(v)) => v
                .into_iter()
                .map(|u| u.get())
                .filter(|u| asked.binary_search(u).is_ok())
                .collect(),
            _ => asked
                .into_iter()
                .filter(|u| {
                    conn.selected
                        .as_ref()
                        .is_some_and(|s| s.view.seq(*u).is_none())
                })
                .collect(),
        };
        if !gone.is_empty() {
            conn.session.untagged(
                format!("* VANISHED (EARLIER) {}\r\n", mailbox::uid_set(&gone)).as_bytes(),
            );
        }
    }
    // Mark \Seen first (one commit for the whole set), so FLAGS below are current.
    let mut seen_now: Vec<u32> = Vec::new();
    if sets_seen(&names) && !read_only {
        let unseen: Vec<u32> = msgs
            .iter()
            .filter_map(|&(_, u)| {
                conn.ctx
                    .store
                    .message(id, u)
                    .ok()
                    .flatten()
                    .filter(|m| m.row.flags & flags::SEEN == 0)
                    .map(|_| u)
            })
            .collect();
        if !unseen.is_empty() {
            let done = conn
                .ctx
                .store
                .call(Op::Store {
                    mailbox: id,
                    uids: super::messages::ranges(&unseen),
                    mode: StoreMode::Add,
                    flags: flags::SEEN,
                    keywords: Vec::new(),
                    unchanged_since: None,
                })
                .await?;
            if let Done::Stored { changed, .. } = done
                && let Some(sel) = conn.selected.as_mut()
            {
                for c in changed {
                    sel.own_changes.push((c.uid.get(), c.modseq));
                    seen_now.push(c.uid.get());
                }
            }
        }
    }
    // Stands in for a missing summary, made once rather than cloned per item.
    let no_summary = Summary::default();
    for (seq, u) in msgs {
        let Some(m) = conn.ctx.store.message(id, u)? else {
            // Expunged by another session since the view was synced: RFC 2180 §4.1.
            continue;
        };
        if changed_since.is_some_and(|c| m.row.modseq <= c) {
            continue;
        }
        let body = BodyId(m.row.body);
        let summary = conn
            .ctx
            .store
            .summary(body)?
            .and_then(|b| Summary::decode(&b));
        let s = summary.as_ref().unwrap_or(&no_summary);
        let mut head: Vec<u8> = format!("* {seq} FETCH (").into_bytes();
        let mut first = true;
        let mut sep = |out: &mut Vec<u8>| {
            if !first {
                out.push(b' ');
            }
            first = false;
        };
        let mut want_flags = names.contains(&MessageDataItemName::Flags) || seen_now.contains(&u);
        // Streamed parts, written after the small items.
        let mut literals: Vec<Literal> = Vec::new();
        for name in &names {
            match name {
                MessageDataItemName::Uid => {
                    sep(&mut head);
                    head.extend_from_slice(format!("UID {u}").as_bytes());
                }
                MessageDataItemName::Flags => {
                    if want_flags {
                        sep(&mut head);
                        head.extend_from_slice(
                            format!(
                                "FLAGS ({})",
                                super::messages::flag_list(m.row.flags, &m.row.keywords)
                            )
                            .as_bytes(),
                        );
                        want_flags = false;
                    }
                }
                MessageDataItemName::InternalDate => {
                    sep(&mut head);
                    head.extend_from_slice(
                        format!("INTERNALDATE {}", internal_date(m.row.internal_date)).as_bytes(),
                    );
                }
                MessageDataItemName::Rfc822Size => {
                    sep(&mut head);
                    let size = summary
                        .as_ref()
                        .map(|s| s.size_crlf())
                        .unwrap_or(m.row.size);
                    head.extend_from_slice(format!("RFC822.SIZE {size}").as_bytes());
                }
                MessageDataItemName::ModSeq => {
                    sep(&mut head);
                    head.extend_from_slice(format!("MODSEQ ({})", m.row.modseq).as_bytes());
                }
                MessageDataItemName::Envelope => {
                    sep(&mut head);
                    head.extend_from_slice(&render_item(MessageDataItem::Envelope(
                        s.imap_envelope(),
                    )));
                }
                MessageDataItemName::BodyStructure | MessageDataItemName::Body => {
                    sep(&mut head);
                    let extended = matches!(name, MessageDataItemName::BodyStructure);
                    let structure = s.imap_body_structure(extended);
                    let item = if extended {
                        MessageDataItem::BodyStructure(structure)
                    } else {
                        MessageDataItem::Body(structure)
                    };
                    head.extend_from_slice(&render_item(item));
                }
                MessageDataItemName::BodyExt {
                    section,
                    partial,
                    peek: _,
                } => {
                    let src = locate(conn, body, s, section, false)?;
                    let label = format!("BODY{}", section_text(section));
                    literals.push((label, src, partial.map(|(a, b)| (a, Some(b.get()))), false));
                }
                MessageDataItemName::Binary {
                    section,
                    partial,
                    peek: _,
                } => {
                    let p = section_path(section);
                    let src = locate(conn, body, s, &p, true)?;
                    let label = format!("BINARY[{}]", part_numbers(section));
                    literals.push((label, src, partial.map(|(a, b)| (a, Some(b.get()))), true));
                }
                MessageDataItemName::BinarySize { section } => {
                    let p = section_path(section);
                    let label = format!("BINARY.SIZE[{}]", part_numbers(section));
                    match locate(conn, body, s, &p, true)? {
                        Source::Range(x) => {
                            let n = served_len(conn, body, &x)?;
                            sep(&mut head);
                            head.extend_from_slice(format!("{label} {n}").as_bytes());
                        }
                        Source::Missing => {
                            sep(&mut head);
                            head.extend_from_slice(format!("{label} 0").as_bytes());
                        }
                        Source::UnknownCte => {
                            conn.session.tagged(
                                tag,
                                Status::No,
                                Some("UNKNOWN-CTE"),
                                "Unknown transfer encoding",
                            );
                            return Ok(());
                        }
                    }
                }
                MessageDataItemName::Rfc822 => {
                    literals.push((
                        "RFC822".into(),
                        Source::Range(Extract {
                            start: 0,
                            end: m.row.size,
                            crlf: summary.as_ref().is_some_and(|s| s.bare_lf > 0),
                            decode: None,
                            fixed: None,
                        }),
                        None,
                        false,
                    ));
                }
                MessageDataItemName::Rfc822Header | MessageDataItemName::Rfc822Text => {
                    let (label, section) = if matches!(name, MessageDataItemName::Rfc822Header) {
                        ("RFC822.HEADER", Section::Header(None))
                    } else {
                        ("RFC822.TEXT", Section::Text(None))
                    };
                    literals.push((
                        label.into(),
                        locate(conn, body, s, &Some(section), false)?,
                        None,
                        false,
                    ));
                }
            }
        }
        if want_flags {
            sep(&mut head);
            head.extend_from_slice(
                format!(
                    "FLAGS ({})",
                    super::messages::flag_list(m.row.flags, &m.row.keywords)
                )
                .as_bytes(),
            );
        }
        if literals.is_empty() {
            head.extend_from_slice(b")\r\n");
            conn.session.untagged(&head);
            if conn.session.output().len() > STEP {
                conn.flush()
                    .await
                    .map_err(|e| store::Error::Io(e.to_string()))?;
            }
            continue;
        }
        conn.session.untagged(&head);
        for (label, src, partial, binary) in literals {
            let mut out = Vec::new();
            if !first {
                out.push(b' ');
            }
            first = false;
            match src {
                Source::Missing if binary => {
                    out.extend_from_slice(format!("{label} NIL").as_bytes());
                    conn.session.untagged(&out);
                }
                Source::Missing => {
                    out.extend_from_slice(format!("{label} \"\"").as_bytes());
                    conn.session.untagged(&out);
                }
                Source::UnknownCte => {
                    conn.session.untagged(b")\r\n");
                    conn.session.tagged(
                        tag,
                        Status::No,
                        Some("UNKNOWN-CTE"),
                        "Unknown transfer encoding",
                    );
                    return Ok(());
                }
                Source::Range(x) => {
                    let total = served_len(conn, body, &x)?;
                    let (skip, take, origin) = match partial {
                        Some((start, len)) => {
                            let start = u64::from(start);
                            let take = total
                                .saturating_sub(start)
                                .min(u64::from(len.unwrap_or(u32::MAX)));
                            (start.min(total), take, Some(start))
                        }
                        None => (0, total, None),
                    };
                    let label = match origin {
                        Some(o) => format!("{label}<{o}>"),
                        None => label,
                    };
                    // RFC 3516 §4.2: binary data may need literal8.
                    let tilde = if binary && x.decode.is_some_and(|d| d != Encoding::Identity) {
                        "~"
                    } else {
                        ""
                    };
                    out.extend_from_slice(format!("{label} {tilde}{{{take}}}\r\n").as_bytes());
                    conn.write_raw(&out)
                        .await
                        .map_err(|e| store::Error::Io(e.to_string()))?;
                    stream(conn, body, &x, skip, take).await?;
                }
            }
        }
        conn.session.untagged(b")\r\n");
    }
    conn.session.tagged(
        tag,
        Status::Ok,
        None,
        if uid {
            "UID FETCH completed"
        } else {
            "FETCH completed"
        },
    );
    Ok(())
}

/// Streams `take` served bytes of `x`, after skipping `skip`, to the socket.
async fn stream(
    conn: &mut Conn,
    body: BodyId,
    x: &Extract,
    skip: u64,
    take: u64,
) -> store::Result<()> {
    if take == 0 {
        return Ok(());
    }
    let mut p = Producer::new(conn, body, x)?;
    // Plain ranges start reading at the offset instead of producing and skipping.
    if x.fixed.is_none() && !x.crlf && matches!(x.decode, None | Some(Encoding::Identity)) {
        p.at = x.start + skip;
    }
    let mut skip = if p.at == x.start { skip } else { 0 };
    let mut sent = 0u64;
    while sent < take {
        let Some(chunk) = p.next()? else { break };
        let mut c = &chunk[..];
        if skip > 0 {
            let k = (skip as usize).min(c.len());
            skip -= k as u64;
            c = &c[k..];
        }
        let c = &c[..c.len().min((take - sent) as usize)];
        if !c.is_empty() {
            conn.write_raw(c)
                .await
                .map_err(|e| store::Error::Io(e.to_string()))?;
            sent += c.len() as u64;
        }
    }
    drop(p);
    if sent < take {
        pad(conn, take - sent).await?;
    }
    Ok(())
}

/// Fills an announced literal whose source vanished (the count must match what was announced).
async fn pad(conn: &mut Conn, mut n: u64) -> store::Result<()> {
    let spaces = [b' '; 4096];
    while n > 0 {
        let k = n.min(spaces.len() as u64) as usize;
        conn.write_raw(&spaces[..k])
            .await
            .map_err(|e| store::Error::Io(e.to_string()))?;
        n -= k as u64;
    }
    Ok(())
}

//! The accept decision for inbound mail: which recipients are ours, and how a message's bytes
//! reach the store.
//!
//! Invariants: a recipient is accepted only if its domain is local and a user, an alias with at
//! least one user (`store::aliases`), or the postmaster alias exists; nothing here is ever answered with 250 before [`MessageSink::commit`]
//! returned, which happens only after the store's durable commit. Store faults are reported as
//! errors for the caller to turn into 4xx replies, never 5xx.
//!
//! Quotas (`store::quota`), for SMTP inbound and submission alike:
//! - at RCPT, a user already at or over their quota is refused with `452 4.2.2 Mailbox full`
//!   (RFC 5321 §4.5.3.1.10, RFC 3463 §3.3), so a sender retries later;
//! - at the end of the data, the store decides atomically, per recipient, whether the message
//!   fits. SMTP (unlike LMTP) has one reply for the whole message after DATA, so: if it fits no
//!   local recipient and there is nobody else (no remote recipient), the message is refused with
//!   `552 5.2.2 Mailbox full` and nothing is stored; otherwise it is stored for those with room
//!   (and queued for the remote ones), answered 250, and the sender gets one RFC 3464 failure
//!   report (5.2.2) naming the recipients left out ([`quota_report`]): into their INBOX when
//!   they are a local user, else queued to them from the null sender; never to the null sender.
//!   That report is committed before the 250; if it cannot be, the client gets 451 and sends
//!   again (the recipients with room may then see the message twice; none loses it).

pub mod clamd;
pub mod evidence;
pub mod filters;
pub mod greylist;
pub mod lists;
pub mod scoring;
pub mod sender_auth;
pub mod summaries;

use crate::config::Config;
use crate::message::dsn::{self, DsnInput, DsnKind, DsnRecipient};
use crate::message::{MimeLimits, MimeParser, address};
use crate::proto::smtp::reply::r;
use crate::proto::smtp::{Recipient, Reply};
use crate::store::{
    self, CHUNK_BYTES, Delivery, Done, LocalCopy, MailboxId, NewQueued, Op, Store, UploadId, UserId,
};

/// What to do with one RCPT.
#[derive(Debug, PartialEq, Eq)]
pub enum RcptDecision {
    /// Deliver these copies (one for a user, one per user of an alias) and forward to these
    /// outside addresses (an alias's outside targets, or the sender an SRS address stands for).
    Accept {
        /// Local copies.
        copies: Vec<LocalCopy>,
        /// Outside addresses, for the queue.
        forward: Vec<String>,
    },
    /// One of a mailing list's addresses (`lists`): the list's own rules apply.
    List {
        /// The list address.
        list: String,
        /// Which of its addresses.
        role: lists::Role,
    },
    /// Refuse with this reply.
    Reject(Reply),
}

/// The user that receives postmaster mail: the `admin` setting if it names a user, else the
/// first user created.
pub fn postmaster(store: &Store, cfg: &Config) -> store::Result<Option<UserId>> {
    if !cfg.admin.is_empty()
        && let Some(u) = store.user(&cfg.admin)?
    {
        return Ok(Some(u.id));
    }
    Ok(store.users()?.first().map(|u| u.id))
}

/// Decides one recipient for the MX role (RFC 5321 §4.5.1: postmaster is always accepted).
pub fn check_recipient(
    store: &Store,
    cfg: &Config,
    rcpt: &Recipient,
) -> store::Result<RcptDecision> {
    let (local, domain) = match rcpt {
        Recipient::Postmaster => return postmaster_decision(store, cfg),
        Recipient::Mailbox { local, domain } => (local, domain),
    };
    if !store.is_local_domain(domain)? {
        return Ok(RcptDecision::Reject(r::RELAY_DENIED));
    }
    if local.eq_ignore_ascii_case("postmaster") {
        return postmaster_decision(store, cfg);
    }
    if !address::is_local_part(local) {
        return Ok(RcptDecision::Reject(r::NO_SUCH_USER));
    }
    if crate::srs::is_srs(local) {
        return srs_decision(store, cfg, local);
    }
    let local = local.to_ascii_lowercase();
    let inbox = |users: Vec<UserId>| users.into_iter().map(LocalCopy::inbox).collect();
    if let Some((users, forward)) = owners(store, &format!("{local}@{domain}"))? {
        return with_room(store, inbox(users), forward);
    }
    if let Some((list, role)) = lists::find(store, &format!("{local}@{domain}"))? {
        return Ok(RcptDecision::List {
            list: list.address,
            role,
        });
    }
    // RFC 5233: `user+detail@` is `user@`, filed by its detail when that is asked for.
    if let Some(sep) = cfg.plus_separator
        && let Some((base, detail)) = local.split_once(sep)
        && !base.is_empty()
        && let Some((users, forward)) = owners(store, &format!("{base}@{domain}"))?
    {
        let mut copies = Vec::with_capacity(users.len());
        for user in users {
            let mut copy = LocalCopy::inbox(user);
            if cfg.plus_folder && !detail.is_empty() {
                copy.mailbox = store
                    .mailboxes(user)?
                    .into_iter()
                    .find(|m| m.row.name.eq_ignore_ascii_case(detail))
                    .map(|m| m.row.name);
            }
            copies.push(copy);
        }
        return with_room(store, copies, forward);
    }
    // The domain's catch-all alias (`@domain`) takes every other address.
    match owners(store, &format!("@{domain}"))? {
        Some((users, forward)) => with_room(store, inbox(users), forward),
        None => Ok(RcptDecision::Reject(r::NO_SUCH_USER)),
    }
}

/// An SRS address of ours (`crate::srs`): mail to it (a bounce, as a rule) is forwarded to the
/// sender it stands for; a forged, altered or expired one is refused like an unknown user.
fn srs_decision(store: &Store, cfg: &Config, local: &str) -> store::Result<RcptDecision> {
    let Some(secret) = store.state(crate::srs::SECRET_KEY)? else {
        return Ok(RcptDecision::Reject(r::NO_SUCH_USER));
    };
    let day = crate::time::unix_now() / 86_400;
    Ok(
        match crate::srs::reverse(&secret, local, day, cfg.srs_max_age_days) {
            Ok(original)
                if address::normalize(&original).is_some() || crate::srs::is_srs(&original) =>
            {
                RcptDecision::Accept {
                    copies: Vec::new(),
                    forward: vec![original],
                }
            }
            _ => RcptDecision::Reject(r::NO_SUCH_USER),
        },
    )
}

/// The copies of users below their quota, and the forwards; when every user named is at their
/// quota and there is nothing to forward, `452 4.2.2`.
fn with_room(
    store: &Store,
    copies: Vec<LocalCopy>,
    forward: Vec<String>,
) -> store::Result<RcptDecision> {
    let mut room = Vec::with_capacity(copies.len());
    for c in copies {
        if !store.quota(c.user)?.is_some_and(|q| q.full()) {
            room.push(c);
        }
    }
    Ok(if room.is_empty() && forward.is_empty() {
        RcptDecision::Reject(r::MAILBOX_FULL_RCPT)
    } else {
        RcptDecision::Accept {
            copies: room,
            forward,
        }
    })
}

/// The user with the address `email`, or the users and outside targets of the alias it is;
/// `None` for neither.
#[allow(clippy::type_complexity)]
fn owners(store: &Store, email: &str) -> store::Result<Option<(Vec<UserId>, Vec<String>)>> {
    if let Some(u) = store.user(email)? {
        return Ok(Some((vec![u.id], Vec::new())));
    }
    Ok(store
        .alias_targets(email)?
        .filter(|(users, outside)| !users.is_empty() || !outside.is_empty()))
}

fn postmaster_decision(store: &Store, cfg: &Config) -> store::Result<RcptDecision> {
    Ok(match postmaster(store, cfg)? {
        Some(id) => with_room(store, vec![LocalCopy::inbox(id)], Vec::new())?,
        // No user exists yet: nowhere to put it, but the sender may retry once one does.
        None => RcptDecision::Reject(r::LOCAL_ERROR),
    })
}

/// A generated message (a report, a vacation reply) for local copies (`to`) and/or the outbound
/// queue (`queue`), delivered like a message from the null sender (RFC 3464 §2) and never held
/// back by a quota.
pub fn report_delivery(
    store: &Store,
    bytes: Vec<u8>,
    now: u64,
    to: Vec<LocalCopy>,
    queue: Option<NewQueued>,
) -> Delivery {
    let prefix = b"Return-Path: <>\r\n".to_vec();
    let mut mime = MimeParser::new(MimeLimits::default());
    mime.feed(&bytes);
    let summary = mime.finish_with_prefix(&prefix).encode();
    Delivery {
        upload: store.new_upload(),
        chunks_sent: 0,
        prefix,
        tail: bytes,
        summary,
        internal_date: now,
        recipients: to,
        queue,
        junk: false,
        quota: false,
    }
}

/// The failure report (RFC 3464, status 5.2.2) telling the envelope sender `from` that the
/// message `id` was not delivered to `over` (addresses as given at RCPT) because their mailboxes
/// are full: for the sender's INBOX if `from` is a local user, else queued to `from` from the
/// null sender. `None` for the null sender, who is never sent a report.
pub fn quota_report(
    store: &Store,
    cfg: &Config,
    from: &str,
    id: &str,
    header: &[u8],
    over: &[String],
    now: u64,
) -> store::Result<Option<Delivery>> {
    if from.is_empty() || over.is_empty() {
        return Ok(None);
    }
    let recipients: Vec<DsnRecipient> = over
        .iter()
        .map(|a| DsnRecipient {
            address: a.clone(),
            status: (5, 2, 2),
            remote_mta: None,
            diagnostic: Some("smtp; 552 5.2.2 Mailbox full (over quota)".to_string()),
            last_attempt: Some(now),
        })
        .collect();
    let bytes = dsn::build(&DsnInput {
        kind: DsnKind::Failure,
        reporting_mta: &cfg.hostname,
        to: from,
        queue_id: id,
        arrival: now,
        now,
        retry_until: None,
        recipients: &recipients,
        original_header: header,
    });
    let local = match address::normalize(from) {
        Some(a) => store.user(&a)?.map(|u| u.id),
        None => None,
    };
    let queue = local.is_none().then(|| NewQueued {
        from: String::new(),
        rcpts: vec![from.to_string()],
        now,
    });
    let to = local.into_iter().map(LocalCopy::inbox).collect();
    Ok(Some(report_delivery(store, bytes, now, to, queue)))
}

/// Streams one message into the store in chunks, so memory stays at one chunk whatever the
/// message size, and feeds every byte to a [`MimeParser`] so the message's structure summary
/// (`message::Summary`) is ready at commit without reading the message back.
pub struct MessageSink {
    store: Store,
    upload: UploadId,
    /// Held while the message is small: commits wait for it (group commit). A message that
    /// spills a chunk lets go, since the rest of it takes longer to arrive than the commit
    /// window is worth waiting for, and its own commit is spread over its size.
    in_flight: Option<store::InFlight>,
    buf: Vec<u8>,
    chunks_sent: usize,
    mime: MimeParser,
    total: u64,
}

impl MessageSink {
    /// Starts an upload.
    pub fn new(store: &Store) -> MessageSink {
        MessageSink {
            upload: store.new_upload(),
            in_flight: Some(store.in_flight()),
            store: store.clone(),
            buf: Vec::new(),
            chunks_sent: 0,
            mime: MimeParser::new(MimeLimits::default()),
            total: 0,
        }
    }

    /// Bytes received so far.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether nothing was received.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Appends message bytes, sending every full chunk to the store.
    pub async fn write(&mut self, mut data: &[u8]) -> store::Result<()> {
        self.total += data.len() as u64;
        self.mime.feed(data);
        while !data.is_empty() {
            let room = CHUNK_BYTES - self.buf.len();
            let (now, rest) = data.split_at(data.len().min(room));
            if self.buf.capacity() == 0 {
                self.buf.reserve_exact(CHUNK_BYTES.min(now.len().max(4096)));
            }
            self.buf.extend_from_slice(now);
            data = rest;
            if self.buf.len() == CHUNK_BYTES {
                let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_BYTES));
                self.store
                    .call(Op::PutChunk {
                        upload: self.upload,
                        data: chunk,
                    })
                    .await?;
                self.chunks_sent += 1;
                self.in_flight = None;
            }
        }
        Ok(())
    }

    /// Commits the message durably as each local copy (INBOX, or Junk with `junk`, unless the
    /// copy names its mailbox) and, for
    /// remote recipients, to the outbound queue, in one transaction, with `prefix` (trace and
    /// signature fields) stored before the data. On error the upload is dropped.
    pub async fn commit(
        self,
        prefix: Vec<u8>,
        recipients: Vec<LocalCopy>,
        queue: Option<NewQueued>,
        junk: bool,
        internal_date: u64,
    ) -> store::Result<Done> {
        // The prefix is stored before the data but known only now; it adds only trace lines to
        // the top header, so the parser's offsets move by its length (`finish_with_prefix`).
        let summary = self.mime.finish_with_prefix(&prefix).encode();
        let delivery = Delivery {
            upload: self.upload,
            chunks_sent: self.chunks_sent,
            prefix,
            tail: self.buf,
            summary,
            internal_date,
            recipients,
            queue,
            junk,
            quota: true,
        };
        let result = self.store.call(Op::Deliver(delivery)).await;
        if result.is_err() {
            let _ = self.store.call(Op::Discard(self.upload)).await;
        }
        result
    }

    /// Commits the message durably as a new message in `mailbox` (IMAP APPEND), with its flags
    /// and INTERNALDATE. On error the upload is dropped.
    pub async fn append(
        self,
        mailbox: MailboxId,
        flags: u32,
        keywords: Vec<String>,
        internal_date: u64,
    ) -> store::Result<Done> {
        let summary = self.mime.finish().encode();
        let op = Op::Append {
            upload: self.upload,
            chunks_sent: self.chunks_sent,
            mailbox,
            flags,
            keywords,
            internal_date,
            tail: self.buf,
            summary,
        };
        let result = self.store.call(op).await;
        if result.is_err() {
            let _ = self.store.call(Op::Discard(self.upload)).await;
        }
        result
    }

    /// Drops the upload and whatever chunks only it holds.
    pub async fn discard(self) {
        if self.chunks_sent > 0
            && let Err(e) = self.store.call(Op::Discard(self.upload)).await
        {
            log::warn!("store: discarding an upload failed: {e}");
        }
    }
}

//! The accept decision for inbound mail: which recipients are ours, and how a message's bytes
//! reach the store.
//!
//! Invariants: a recipient is accepted only if its domain is local and a user, an alias with at
//! least one user (`store::aliases`), or the postmaster alias exists; nothing here is ever answered with 250 before [`MessageSink::commit`]
//! returned, which happens only after the store's durable commit. Store faults are reported as
//! errors for the caller to turn into 4xx replies, never 5xx.

pub mod clamd;
pub mod evidence;
pub mod filters;
pub mod greylist;
pub mod scoring;
pub mod sender_auth;

use crate::config::Config;
use crate::message::{MimeLimits, MimeParser, address};
use crate::proto::smtp::reply::r;
use crate::proto::smtp::{Recipient, Reply};
use crate::store::{
    self, CHUNK_BYTES, Delivery, Done, LocalCopy, MailboxId, NewQueued, Op, Store, UploadId, UserId,
};

/// What to do with one RCPT.
#[derive(Debug, PartialEq, Eq)]
pub enum RcptDecision {
    /// Deliver these copies (one for a user, one per user of an alias).
    Accept(Vec<LocalCopy>),
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
    let local = local.to_ascii_lowercase();
    let inbox = |users: Vec<UserId>| users.into_iter().map(LocalCopy::inbox).collect();
    if let Some(users) = owners(store, &format!("{local}@{domain}"))? {
        return Ok(RcptDecision::Accept(inbox(users)));
    }
    // RFC 5233: `user+detail@` is `user@`, filed by its detail when that is asked for.
    if let Some(sep) = cfg.plus_separator
        && let Some((base, detail)) = local.split_once(sep)
        && !base.is_empty()
        && let Some(users) = owners(store, &format!("{base}@{domain}"))?
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
        return Ok(RcptDecision::Accept(copies));
    }
    // The domain's catch-all alias (`@domain`) takes every other address.
    Ok(match owners(store, &format!("@{domain}"))? {
        Some(users) => RcptDecision::Accept(inbox(users)),
        None => RcptDecision::Reject(r::NO_SUCH_USER),
    })
}

/// The user with the address `email`, or the users of the alias it is; `None` for neither.
fn owners(store: &Store, email: &str) -> store::Result<Option<Vec<UserId>>> {
    if let Some(u) = store.user(email)? {
        return Ok(Some(vec![u.id]));
    }
    Ok(store.alias_users(email)?.filter(|users| !users.is_empty()))
}

fn postmaster_decision(store: &Store, cfg: &Config) -> store::Result<RcptDecision> {
    Ok(match postmaster(store, cfg)? {
        Some(id) => RcptDecision::Accept(vec![LocalCopy::inbox(id)]),
        // No user exists yet: nowhere to put it, but the sender may retry once one does.
        None => RcptDecision::Reject(r::LOCAL_ERROR),
    })
}

/// Streams one message into the store in chunks, so memory stays at one chunk whatever the
/// message size, and feeds every byte to a [`MimeParser`] so the message's structure summary
/// (`message::Summary`) is ready at commit without reading the message back.
pub struct MessageSink {
    store: Store,
    upload: UploadId,
    _in_flight: store::InFlight,
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
            _in_flight: store.in_flight(),
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

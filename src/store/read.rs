//! Read queries. Each opens one short read transaction and returns owned values, so no
//! transaction outlives the call (and none can be held across an `.await`).

use super::schema::*;
use super::{BodyId, Error, MailboxId, Result, Store, Uid, UserId};
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};
use std::collections::BTreeMap;
use std::io::Write;

/// A user as stored.
#[derive(Debug, Clone)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Row.
    pub row: UserRow,
}

/// A mailbox as stored.
#[derive(Debug, Clone)]
pub struct Mailbox {
    /// Id.
    pub id: MailboxId,
    /// Row.
    pub row: MailboxRow,
}

/// A message as stored.
#[derive(Debug, Clone)]
pub struct Message {
    /// UID in its mailbox.
    pub uid: Uid,
    /// Row.
    pub row: MessageRow,
}

fn corrupt(what: &'static str) -> Error {
    Error::Corrupt(what)
}

fn uid(n: u32) -> Result<Uid> {
    Ok(Uid(std::num::NonZeroU32::new(n).ok_or(corrupt("uid 0"))?))
}

impl Store {
    /// Every stored setting.
    pub fn settings(&self) -> Result<BTreeMap<String, String>> {
        let txn = self.db()?.begin_read()?;
        let t = txn.open_table(SETTINGS)?;
        t.iter()?
            .map(|e| {
                e.map(|(k, v)| (k.value().to_string(), v.value().to_string()))
                    .map_err(Error::from)
            })
            .collect()
    }

    /// The typed settings in force.
    pub fn config(&self) -> Result<crate::config::Config> {
        Ok(crate::config::Config::from_pairs(&self.settings()?))
    }

    /// Local domains, sorted.
    pub fn domains(&self) -> Result<Vec<String>> {
        let txn = self.db()?.begin_read()?;
        let t = txn.open_table(DOMAINS)?;
        t.iter()?
            .map(|e| e.map(|(k, _)| k.value().to_string()).map_err(Error::from))
            .collect()
    }

    /// Whether `domain` (lower-case) is local.
    pub fn is_local_domain(&self, domain: &str) -> Result<bool> {
        let txn = self.db()?.begin_read()?;
        Ok(txn.open_table(DOMAINS)?.get(domain)?.is_some())
    }

    /// The user with this (normalised) address.
    pub fn user(&self, email: &str) -> Result<Option<User>> {
        let txn = self.db()?.begin_read()?;
        let Some(id) = txn
            .open_table(USER_BY_EMAIL)?
            .get(email)?
            .map(|v| v.value())
        else {
            return Ok(None);
        };
        let row = txn
            .open_table(USERS)?
            .get(id)?
            .and_then(|v| UserRow::decode(v.value()))
            .ok_or(corrupt("user row"))?;
        Ok(Some(User {
            id: UserId(id),
            row,
        }))
    }

    /// Every user, in creation order.
    pub fn users(&self) -> Result<Vec<User>> {
        let txn = self.db()?.begin_read()?;
        let t = txn.open_table(USERS)?;
        t.iter()?
            .map(|e| {
                let (k, v) = e?;
                let row = UserRow::decode(v.value()).ok_or(corrupt("user row"))?;
                Ok(User {
                    id: UserId(k.value()),
                    row,
                })
            })
            .collect()
    }

    /// A user's mailboxes, sorted by name.
    pub fn mailboxes(&self, user: UserId) -> Result<Vec<Mailbox>> {
        let txn = self.db()?.begin_read()?;
        let names = txn.open_table(MAILBOX_BY_NAME)?;
        let rows = txn.open_table(MAILBOXES)?;
        let mut out = Vec::new();
        for e in names.range((user.0, "")..(user.0 + 1, ""))? {
            let (_, id) = e?;
            let id = id.value();
            let row = rows
                .get(id)?
                .and_then(|v| MailboxRow::decode(v.value()))
                .ok_or(corrupt("mailbox row"))?;
            out.push(Mailbox {
                id: MailboxId(id),
                row,
            });
        }
        Ok(out)
    }

    /// One of a user's mailboxes by exact name.
    pub fn mailbox(&self, user: UserId, name: &str) -> Result<Option<Mailbox>> {
        let txn = self.db()?.begin_read()?;
        let Some(id) = txn
            .open_table(MAILBOX_BY_NAME)?
            .get((user.0, name))?
            .map(|v| v.value())
        else {
            return Ok(None);
        };
        let row = txn
            .open_table(MAILBOXES)?
            .get(id)?
            .and_then(|v| MailboxRow::decode(v.value()))
            .ok_or(corrupt("mailbox row"))?;
        Ok(Some(Mailbox {
            id: MailboxId(id),
            row,
        }))
    }

    /// A mailbox's messages in UID order.
    pub fn messages(&self, mailbox: MailboxId) -> Result<Vec<Message>> {
        let txn = self.db()?.begin_read()?;
        let t = txn.open_table(MESSAGES)?;
        t.range((mailbox.0, 0)..=(mailbox.0, u32::MAX))?
            .map(|e| {
                let (k, v) = e?;
                let row = MessageRow::decode(v.value()).ok_or(corrupt("message row"))?;
                Ok(Message {
                    uid: uid(k.value().1)?,
                    row,
                })
            })
            .collect()
    }

    /// A body's row (prefix, chunk list and summary; inline data included).
    pub fn body(&self, body: BodyId) -> Result<Option<BodyRow>> {
        let txn = self.db()?.begin_read()?;
        let t = txn.open_table(BODIES)?;
        match t.get(body.0)? {
            Some(v) => Ok(Some(BodyRow::decode(v.value()).ok_or(corrupt("body row"))?)),
            None => Ok(None),
        }
    }

    /// Writes the raw message (stored prefix then data) to `out`, one chunk at a time. Returns
    /// false if there is no such message. Blocking: call it off the executor thread.
    pub fn write_message_blocking(
        &self,
        mailbox: MailboxId,
        uid: u32,
        out: &mut dyn Write,
    ) -> Result<bool> {
        let txn = self.db()?.begin_read()?;
        let Some(msg) = txn.open_table(MESSAGES)?.get((mailbox.0, uid))? else {
            return Ok(false);
        };
        let msg = MessageRow::decode(msg.value()).ok_or(corrupt("message row"))?;
        let body = txn
            .open_table(BODIES)?
            .get(msg.body)?
            .ok_or(corrupt("body missing"))?;
        let body = BodyRow::decode(body.value()).ok_or(corrupt("body row"))?;
        out.write_all(&body.prefix)?;
        let chunks = txn.open_table(CHUNKS)?;
        for seq in 0..body.chunks {
            let c = chunks
                .get((msg.body, seq))?
                .ok_or(corrupt("chunk missing"))?;
            out.write_all(c.value())?;
        }
        out.write_all(&body.inline)?;
        Ok(true)
    }

    /// Checks the invariants listed in [`super::schema`]; returns one line per problem found.
    pub fn check(&self) -> Result<Vec<String>> {
        let txn = self.db()?.begin_read()?;
        let mut problems = Vec::new();
        let users = txn.open_table(USERS)?;
        let by_email = txn.open_table(USER_BY_EMAIL)?;
        let mut user_count = 0;
        for e in users.iter()? {
            let (k, v) = e?;
            user_count += 1;
            match UserRow::decode(v.value()) {
                Some(row)
                    if by_email.get(row.email.as_str())?.map(|v| v.value()) == Some(k.value()) => {}
                Some(row) => problems.push(format!(
                    "user {} ({}) missing from the address index",
                    k.value(),
                    row.email
                )),
                None => problems.push(format!("user {} row corrupt", k.value())),
            }
        }
        if by_email.len()? != user_count {
            problems.push(format!(
                "address index has {} entries for {} users",
                by_email.len()?,
                user_count
            ));
        }
        let mailboxes = txn.open_table(MAILBOXES)?;
        let names = txn.open_table(MAILBOX_BY_NAME)?;
        let messages = txn.open_table(MESSAGES)?;
        let bodies = txn.open_table(BODIES)?;
        let mut body_refs: BTreeMap<u64, u32> = BTreeMap::new();
        let mut rows_in_mailboxes = 0u64;
        for e in mailboxes.iter()? {
            let (k, v) = e?;
            let id = k.value();
            let Some(row) = MailboxRow::decode(v.value()) else {
                problems.push(format!("mailbox {id} row corrupt"));
                continue;
            };
            if names.get((row.user, row.name.as_str()))?.map(|v| v.value()) != Some(id) {
                problems.push(format!(
                    "mailbox {id} ({}) missing from the name index",
                    row.name
                ));
            }
            if users.get(row.user)?.is_none() {
                problems.push(format!(
                    "mailbox {id} ({}) belongs to missing user {}",
                    row.name, row.user
                ));
            }
            let (mut count, mut bytes, mut unseen, mut max_uid) = (0u32, 0u64, 0u32, 0u32);
            for m in messages.range((id, 0)..=(id, u32::MAX))? {
                let (k, v) = m?;
                rows_in_mailboxes += 1;
                let Some(msg) = MessageRow::decode(v.value()) else {
                    problems.push(format!("message {:?} row corrupt", k.value()));
                    continue;
                };
                count += 1;
                bytes += msg.size;
                unseen += u32::from(msg.flags & flags::SEEN == 0);
                max_uid = max_uid.max(k.value().1);
                *body_refs.entry(msg.body).or_default() += 1;
                match bodies
                    .get(msg.body)?
                    .and_then(|b| BodyRow::decode(b.value()))
                {
                    Some(b) if b.size == msg.size => {}
                    Some(_) => problems.push(format!(
                        "message {:?} size differs from its body",
                        k.value()
                    )),
                    None => problems.push(format!("message {:?} has no body", k.value())),
                }
            }
            if (count, bytes, unseen) != (row.messages, row.bytes, row.unseen) {
                problems.push(format!(
                    "mailbox {id} counters (messages {}, bytes {}, unseen {}) differ from its rows ({count}, {bytes}, {unseen})",
                    row.messages, row.bytes, row.unseen
                ));
            }
            if row.uidnext <= max_uid {
                problems.push(format!(
                    "mailbox {id} uidnext {} is not above its largest uid {max_uid}",
                    row.uidnext
                ));
            }
        }
        // Rows the walk above cannot reach: messages of missing mailboxes, and name-index
        // entries naming a missing or different mailbox.
        if messages.len()? != rows_in_mailboxes {
            let mut strays: BTreeMap<u64, u64> = BTreeMap::new();
            for m in messages.iter()? {
                let mbox = m?.0.value().0;
                if mailboxes.get(mbox)?.is_none() {
                    *strays.entry(mbox).or_default() += 1;
                }
            }
            for (mbox, n) in strays {
                problems.push(format!("{n} messages in missing mailbox {mbox}"));
            }
        }
        for e in names.iter()? {
            let (k, v) = e?;
            let ((user, name), id) = (k.value(), v.value());
            let row = mailboxes
                .get(id)?
                .and_then(|m| MailboxRow::decode(m.value()));
            if !row.is_some_and(|r| r.user == user && r.name == name) {
                problems.push(format!(
                    "name index entry ({user}, {name}) names mailbox {id}, which is missing or another mailbox"
                ));
            }
        }
        let chunks = txn.open_table(CHUNKS)?;
        let mut chunk_rows = 0u64;
        for e in bodies.iter()? {
            let (k, v) = e?;
            let Some(b) = BodyRow::decode(v.value()) else {
                problems.push(format!("body {} row corrupt", k.value()));
                continue;
            };
            let want = body_refs.remove(&k.value()).unwrap_or(0);
            if b.refs != want {
                problems.push(format!(
                    "body {} refs {} but {} messages use it",
                    k.value(),
                    b.refs,
                    want
                ));
            }
            let mut len = b.prefix.len() as u64 + b.inline.len() as u64;
            for seq in 0..b.chunks {
                match chunks.get((k.value(), seq))? {
                    Some(c) => len += c.value().len() as u64,
                    None => problems.push(format!("body {} is missing chunk {seq}", k.value())),
                }
            }
            chunk_rows += u64::from(b.chunks);
            if len != b.size {
                problems.push(format!(
                    "body {} size {} but its bytes add up to {len}",
                    k.value(),
                    b.size
                ));
            }
        }
        for (body, n) in body_refs {
            problems.push(format!("{n} messages use missing body {body}"));
        }
        // Chunk rows belong to bodies or to uploads still marked in UPLOADS; nothing else.
        for e in txn.open_table(UPLOADS)?.iter()? {
            let (_, n) = e?;
            chunk_rows += u64::from(n.value());
        }
        if chunks.len()? != chunk_rows {
            problems.push(format!(
                "{} chunk rows but bodies and uploads account for {chunk_rows}",
                chunks.len()?
            ));
        }
        Ok(problems)
    }
}

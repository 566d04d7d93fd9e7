//! Read queries. Each opens one short read transaction and returns owned values, so no
//! transaction outlives the call (and none can be held across an `.await`).

use super::schema::*;
use super::{BodyId, Error, MailboxId, Result, Store, TrainingEvent, Uid, UserId, Vanished};
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};
use std::collections::{BTreeMap, BTreeSet};
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

    /// A named value from [`STATE`] (see [`super::Op::SetState`]).
    pub fn state(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let txn = self.db()?.begin_read()?;
        let t = txn.open_table(STATE)?;
        Ok(t.get(key)?.map(|v| v.value().to_vec()))
    }

    /// Every [`STATE`] entry whose key starts with `prefix`, in key order, at most `limit`.
    pub fn states_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<(String, Vec<u8>)>> {
        let txn = self.db()?.begin_read()?;
        let t = txn.open_table(STATE)?;
        let mut out = Vec::new();
        for e in t.range(prefix..)? {
            let (k, v) = e?;
            if !k.value().starts_with(prefix) || out.len() >= limit {
                break;
            }
            out.push((k.value().to_string(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// The typed settings in force: the stored values, else the defaults on this board.
    pub fn config(&self) -> Result<crate::config::Config> {
        Ok(crate::config::Config::from_pairs(
            &self.settings()?,
            self.ram(),
        ))
    }

    /// The board the defaults are sized for: `board.ram_mib` when stored, else the RAM this
    /// handle was opened with.
    pub fn board(&self) -> Result<crate::config::board::Board> {
        Ok(crate::config::board::Board::from_pairs(
            &self.settings()?,
            self.ram(),
        ))
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

    /// The user with this id.
    pub fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
        let txn = self.db()?.begin_read()?;
        let Some(v) = txn.open_table(USERS)?.get(id.0)? else {
            return Ok(None);
        };
        let row = UserRow::decode(v.value()).ok_or(corrupt("user row"))?;
        Ok(Some(User { id, row }))
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

    /// A user's storage usage and quota (`None`: no such user).
    pub fn quota(&self, user: UserId) -> Result<Option<super::Quota>> {
        let txn = self.db()?.begin_read()?;
        Ok(super::quota::read(
            &txn.open_table(USERS)?,
            &txn.open_table(MAILBOX_BY_NAME)?,
            &txn.open_table(MAILBOXES)?,
            user.0,
        )?
        .map(|(q, _)| q))
    }

    /// Every queued message, by id.
    pub fn queue(&self) -> Result<Vec<super::QueuedMessage>> {
        let txn = self.db()?.begin_read()?;
        let t = txn.open_table(QUEUE)?;
        t.iter()?
            .map(|e| {
                let (k, v) = e?;
                super::QueuedMessage::decode(k.value(), v.value()).ok_or(corrupt("queue row"))
            })
            .collect()
    }

    /// The first `limit` entries of the queue in due order: (next attempt, id).
    pub fn queue_schedule(&self, limit: usize) -> Result<Vec<(u64, super::QueueId)>> {
        let txn = self.db()?.begin_read()?;
        let t = txn.open_table(QUEUE_DUE)?;
        t.iter()?
            .take(limit)
            .map(|e| {
                let (k, _) = e?;
                let (due, id) = k.value();
                Ok((due, super::QueueId(id)))
            })
            .collect()
    }

    /// A spam model's counts for `tokens` (user id 0: the global model), in order.
    pub fn spam_counts(&self, user: u64, tokens: &[u64]) -> Result<Vec<super::spam::TokenCount>> {
        let txn = self.db()?.begin_read()?;
        let t = txn.open_table(SPAM_TOKENS)?;
        tokens
            .iter()
            .map(|tok| {
                Ok(t.get((user, *tok))?
                    .map(|v| {
                        let (ham, spam, day) = v.value();
                        super::spam::TokenCount { ham, spam, day }
                    })
                    .unwrap_or_default())
            })
            .collect()
    }

    /// The last junk training event of `user` that the spam model learned (0: none).
    pub fn spam_cursor(&self, user: UserId) -> Result<u64> {
        let txn = self.db()?.begin_read()?;
        Ok(txn
            .open_table(SPAM_LEARNED)?
            .get((user.0, 0))?
            .map_or(0, |v| v.value()))
    }

    /// A user's junk training events after sequence number `after`: (seq, event).
    pub fn training_after(&self, user: UserId, after: u64) -> Result<Vec<(u64, TrainingEvent)>> {
        let txn = self.db()?.begin_read()?;
        let t = txn.open_table(TRAINING)?;
        t.range((user.0, after.saturating_add(1))..=(user.0, u64::MAX))?
            .map(|e| {
                let (k, v) = e?;
                let (body, spam, time) = v.value();
                Ok((
                    k.value().1,
                    TrainingEvent {
                        body: BodyId(body),
                        spam,
                        time,
                    },
                ))
            })
            .collect()
    }

    /// A spam model's totals: (ham messages, spam messages, tokens held).
    pub fn spam_totals(&self, user: u64) -> Result<(u64, u64, u64)> {
        let txn = self.db()?.begin_read()?;
        Ok(txn
            .open_table(SPAM_TOTALS)?
            .get(user)?
            .map(|v| v.value())
            .unwrap_or((0, 0, 0)))
    }

    /// One queued message.
    pub fn queued(&self, id: super::QueueId) -> Result<Option<super::QueuedMessage>> {
        let txn = self.db()?.begin_read()?;
        let t = txn.open_table(QUEUE)?;
        match t.get(id.0)? {
            Some(v) => super::QueuedMessage::decode(id.0, v.value())
                .map(Some)
                .ok_or(corrupt("queue row")),
            None => Ok(None),
        }
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

    /// A mailbox by id.
    pub fn mailbox_by_id(&self, id: MailboxId) -> Result<Option<Mailbox>> {
        let txn = self.db()?.begin_read()?;
        let t = txn.open_table(MAILBOXES)?;
        match t.get(id.0)? {
            Some(v) => Ok(Some(Mailbox {
                id,
                row: MailboxRow::decode(v.value()).ok_or(corrupt("mailbox row"))?,
            })),
            None => Ok(None),
        }
    }

    /// A mailbox's messages in UID order.
    pub fn messages(&self, mailbox: MailboxId) -> Result<Vec<Message>> {
        self.messages_where(mailbox, |_| true)
    }

    /// The messages whose modseq is above `modseq` (RFC 7162 CHANGEDSINCE), in UID order. A scan
    /// of the mailbox: an index by modseq would cost every delivery another table write.
    pub fn messages_changed_since(&self, mailbox: MailboxId, modseq: u64) -> Result<Vec<Message>> {
        self.messages_where(mailbox, |m| m.modseq > modseq)
    }

    fn messages_where(
        &self,
        mailbox: MailboxId,
        keep: impl Fn(&MessageRow) -> bool,
    ) -> Result<Vec<Message>> {
        let txn = self.db()?.begin_read()?;
        let t = txn.open_table(MESSAGES)?;
        let mut out = Vec::new();
        for e in t.range((mailbox.0, 0)..=(mailbox.0, u32::MAX))? {
            let (k, v) = e?;
            let row = MessageRow::decode(v.value()).ok_or(corrupt("message row"))?;
            if keep(&row) {
                out.push(Message {
                    uid: uid(k.value().1)?,
                    row,
                });
            }
        }
        Ok(out)
    }

    /// One message by UID.
    pub fn message(&self, mailbox: MailboxId, uid_: u32) -> Result<Option<Message>> {
        let txn = self.db()?.begin_read()?;
        let t = txn.open_table(MESSAGES)?;
        match t.get((mailbox.0, uid_))? {
            Some(v) => Ok(Some(Message {
                uid: uid(uid_)?,
                row: MessageRow::decode(v.value()).ok_or(corrupt("message row"))?,
            })),
            None => Ok(None),
        }
    }

    /// The UIDs expunged from a mailbox after `modseq` (QRESYNC `VANISHED (EARLIER)`); `None` if
    /// there is no such mailbox.
    pub fn vanished_since(&self, mailbox: MailboxId, modseq: u64) -> Result<Option<Vanished>> {
        let txn = self.db()?.begin_read()?;
        let Some(row) = txn.open_table(MAILBOXES)?.get(mailbox.0)? else {
            return Ok(None);
        };
        let row = MailboxRow::decode(row.value()).ok_or(corrupt("mailbox row"))?;
        if modseq < row.vanished_floor {
            return Ok(Some(Vanished::Truncated {
                floor: row.vanished_floor,
            }));
        }
        let t = txn.open_table(VANISHED)?;
        let mut uids = Vec::new();
        if modseq < u64::MAX {
            for e in t.range((mailbox.0, modseq + 1, 0)..=(mailbox.0, u64::MAX, u32::MAX))? {
                uids.push(uid(e?.0.value().2)?);
            }
        }
        uids.sort_unstable();
        Ok(Some(Vanished::Exact(uids)))
    }

    /// A user's subscribed names, sorted (whether or not the mailboxes exist).
    pub fn subscriptions(&self, user: UserId) -> Result<Vec<String>> {
        let txn = self.db()?.begin_read()?;
        let t = txn.open_table(SUBSCRIPTIONS)?;
        t.range((user.0, "")..(user.0 + 1, ""))?
            .map(|e| e.map(|(k, _)| k.value().1.to_string()).map_err(Error::from))
            .collect()
    }

    /// A user's junk training events, oldest first.
    pub fn training_events(&self, user: UserId) -> Result<Vec<TrainingEvent>> {
        let txn = self.db()?.begin_read()?;
        let t = txn.open_table(TRAINING)?;
        t.range((user.0, 0)..=(user.0, u64::MAX))?
            .map(|e| {
                let (_, v) = e?;
                let (body, spam, time) = v.value();
                Ok(TrainingEvent {
                    body: BodyId(body),
                    spam,
                    time,
                })
            })
            .collect()
    }

    /// A body's row (prefix, chunk count, inline data). For the bytes use [`Store::open_body`],
    /// for the summary [`Store::summary`].
    pub fn body(&self, body: BodyId) -> Result<Option<BodyRow>> {
        let txn = self.db()?.begin_read()?;
        let t = txn.open_table(BODIES)?;
        match t.get(body.0)? {
            Some(v) => Ok(Some(BodyRow::decode(v.value()).ok_or(corrupt("body row"))?)),
            None => Ok(None),
        }
    }

    /// A body's parsed summary (`message::Summary` encoding), read without the body's data.
    pub fn summary(&self, body: BodyId) -> Result<Option<Vec<u8>>> {
        let txn = self.db()?.begin_read()?;
        let t = txn.open_table(SUMMARIES)?;
        Ok(t.get(body.0)?.map(|v| v.value().to_vec()))
    }

    /// Every body that messages or queued messages still use (parked ones are left out), in id
    /// order.
    pub fn live_bodies(&self) -> Result<Vec<BodyId>> {
        let txn = self.db()?.begin_read()?;
        let t = txn.open_table(BODIES)?;
        let mut out = Vec::new();
        for e in t.iter()? {
            let (k, v) = e?;
            if BodyView::parse(v.value()).is_some_and(|b| b.refs > 0) {
                out.push(BodyId(k.value()));
            }
        }
        Ok(out)
    }

    /// A body's size in bytes (prefix and data).
    pub fn body_size(&self, body: BodyId) -> Result<Option<u64>> {
        let txn = self.db()?.begin_read()?;
        let t = txn.open_table(BODIES)?;
        match t.get(body.0)? {
            Some(v) => Ok(Some(
                BodyView::parse(v.value()).ok_or(corrupt("body row"))?.size,
            )),
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
    /// Reads every row of every table (and every chunk): a maintenance command, not a hot path.
    pub fn check(&self) -> Result<Vec<String>> {
        check(&self.db()?.begin_read()?)
    }
}

/// A transaction whose tables can be read: a read transaction, or a write transaction before it
/// commits (a restore checks what it wrote before committing it).
pub(super) trait Tables {
    /// An open table.
    type Table<'a, K: redb::Key + 'static, V: redb::Value + 'static>: ReadableTable<K, V>
        + ReadableTableMetadata
    where
        Self: 'a;
    /// Opens a table.
    fn open_table<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        def: redb::TableDefinition<'_, K, V>,
    ) -> Result<Self::Table<'_, K, V>>;
}

impl Tables for redb::ReadTransaction {
    type Table<'a, K: redb::Key + 'static, V: redb::Value + 'static> = redb::ReadOnlyTable<K, V>;
    fn open_table<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        def: redb::TableDefinition<'_, K, V>,
    ) -> Result<redb::ReadOnlyTable<K, V>> {
        Ok(redb::ReadTransaction::open_table(self, def)?)
    }
}

impl Tables for redb::WriteTransaction {
    type Table<'a, K: redb::Key + 'static, V: redb::Value + 'static> = redb::Table<'a, K, V>;
    fn open_table<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        def: redb::TableDefinition<'_, K, V>,
    ) -> Result<redb::Table<'_, K, V>> {
        Ok(redb::WriteTransaction::open_table(self, def)?)
    }
}

/// [`Store::check`] on the tables `txn` sees.
pub(super) fn check(txn: &impl Tables) -> Result<Vec<String>> {
    {
        let mut problems = Vec::new();
        let users = txn.open_table(USERS)?;
        let by_email = txn.open_table(USER_BY_EMAIL)?;
        let mut user_count = 0;
        for e in users.iter()? {
            let (k, v) = e?;
            user_count += 1;
            match UserRow::decode(v.value()) {
                Some(row) if row.quota > crate::config::MAX_QUOTA_BYTES => problems.push(format!(
                    "user {} ({}) has a quota of {} bytes, over the most allowed",
                    k.value(),
                    row.email,
                    row.quota
                )),
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
        let vanished = txn.open_table(VANISHED)?;
        let mut body_refs: BTreeMap<u64, u32> = BTreeMap::new();
        let mut per_user: BTreeMap<u64, usize> = BTreeMap::new();
        let mut rows_in_mailboxes = 0u64;
        let mut vanished_in_mailboxes = 0u64;
        for e in mailboxes.iter()? {
            let (k, v) = e?;
            let id = k.value();
            let Some(row) = MailboxRow::decode(v.value()) else {
                problems.push(format!("mailbox {id} row corrupt"));
                continue;
            };
            *per_user.entry(row.user).or_default() += 1;
            if names.get((row.user, row.name.as_str()))?.map(|v| v.value()) != Some(id) {
                problems.push(format!(
                    "mailbox {id} ({}) missing from the name index",
                    row.name
                ));
            }
            if let Err(e) = super::check_mailbox_name(&row.name) {
                problems.push(format!("mailbox {id}: {e}"));
            }
            if users.get(row.user)?.is_none() {
                problems.push(format!(
                    "mailbox {id} ({}) belongs to missing user {}",
                    row.name, row.user
                ));
            }
            if row.keywords.len() > MAX_KEYWORDS_PER_MAILBOX || !distinct_ci(&row.keywords) {
                problems.push(format!(
                    "mailbox {id} keyword list is too long or repeats: {:?}",
                    row.keywords
                ));
            }
            let (mut count, mut bytes, mut unseen, mut max_uid) = (0u32, 0u64, 0u32, 0u32);
            let mut present = BTreeSet::new();
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
                present.insert(k.value().1);
                *body_refs.entry(msg.body).or_default() += 1;
                if msg.modseq == 0 || msg.modseq > row.highest_modseq {
                    problems.push(format!(
                        "message {:?} modseq {} outside 1..={}",
                        k.value(),
                        msg.modseq,
                        row.highest_modseq
                    ));
                }
                if msg.flags & !flags::ALL != 0 {
                    problems.push(format!("message {:?} has unknown flag bits", k.value()));
                }
                if msg.keywords.len() > MAX_KEYWORDS_PER_MESSAGE
                    || !distinct_ci(&msg.keywords)
                    || !msg.keywords.iter().all(|kw| row.keywords.contains(kw))
                {
                    problems.push(format!(
                        "message {:?} keywords {:?} are too many, repeat, or are not in the mailbox's list",
                        k.value(),
                        msg.keywords
                    ));
                }
                match bodies
                    .get(msg.body)?
                    .and_then(|b| BodyView::parse(b.value()).map(|v| v.size))
                {
                    Some(size) if size == msg.size => {}
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
            let mut gone = 0u32;
            for e in vanished.range((id, 0, 0)..=(id, u64::MAX, u32::MAX))? {
                let (_, modseq, u) = e?.0.value();
                gone += 1;
                if modseq < row.vanished_floor.max(1) || modseq > row.highest_modseq {
                    problems.push(format!(
                        "mailbox {id} vanished uid {u} has modseq {modseq} outside {}..={}",
                        row.vanished_floor.max(1),
                        row.highest_modseq
                    ));
                }
                if u == 0 || u >= row.uidnext || present.contains(&u) {
                    problems.push(format!(
                        "mailbox {id} vanished uid {u} is 0, not below uidnext {} or still present",
                        row.uidnext
                    ));
                }
            }
            vanished_in_mailboxes += u64::from(gone);
            if gone != row.vanished || gone > VANISHED_KEEP {
                problems.push(format!(
                    "mailbox {id} keeps {gone} vanished uids but counts {} (at most {VANISHED_KEEP})",
                    row.vanished
                ));
            }
        }
        for (user, n) in per_user {
            if n > MAX_MAILBOXES_PER_USER {
                problems.push(format!("user {user} has {n} mailboxes"));
            }
        }
        // Rows the walk above cannot reach: messages and vanished UIDs of missing mailboxes, and
        // name-index entries naming a missing or different mailbox.
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
        if vanished.len()? != vanished_in_mailboxes {
            problems.push(format!(
                "{} vanished uids but the mailboxes account for {vanished_in_mailboxes} (some belong to a missing mailbox)",
                vanished.len()?
            ));
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
        let summaries = txn.open_table(SUMMARIES)?;
        let parked = txn.open_table(PARKED)?;
        let mut chunk_rows = 0u64;
        let mut body_count = 0u64;
        let mut due: BTreeSet<(u64, u64)> = BTreeSet::new();
        for e in txn.open_table(QUEUE_DUE)?.iter()? {
            due.insert(e?.0.value());
        }
        for e in txn.open_table(QUEUE)?.iter()? {
            let (k, v) = e?;
            match super::queue::QueuedMessage::decode(k.value(), v.value()) {
                Some(q) => {
                    if !due.remove(&(q.next_attempt, q.id.0)) {
                        problems.push(format!("queue row {} has no due entry", q.id));
                    }
                    *body_refs.entry(q.body.0).or_default() += 1;
                    if q.pending().next().is_none() {
                        problems.push(format!("queue row {} has nothing pending", q.id));
                    }
                }
                None => problems.push(format!("queue row {} corrupt", k.value())),
            }
        }
        for (at, id) in due {
            problems.push(format!("due entry ({at}, {id:x}) has no queue row"));
        }
        let mut parked_count = 0u64;
        for e in bodies.iter()? {
            let (k, v) = e?;
            let id = k.value();
            body_count += 1;
            let Some(b) = BodyView::parse(v.value()) else {
                problems.push(format!("body {id} row corrupt"));
                continue;
            };
            let want = body_refs.remove(&id).unwrap_or(0);
            if b.refs != want {
                problems.push(format!(
                    "body {id} refs {} but {want} messages and queue rows use it",
                    b.refs
                ));
            }
            let is_parked = parked.get(id)?.is_some();
            parked_count += u64::from(is_parked);
            if is_parked != (b.refs == 0) {
                problems.push(format!(
                    "body {id} has refs {} and is {}parked",
                    b.refs,
                    if is_parked { "" } else { "not " }
                ));
            }
            if summaries.get(id)?.is_none() {
                problems.push(format!("body {id} has no summary"));
            }
            let mut len = b.prefix.len() as u64 + b.inline.len() as u64;
            for seq in 0..b.chunks {
                match chunks.get((id, seq))? {
                    Some(c) => {
                        let n = c.value().len();
                        len += n as u64;
                        if n != CHUNK_BYTES {
                            problems.push(format!("body {id} chunk {seq} holds {n} bytes"));
                        }
                    }
                    None => problems.push(format!("body {id} is missing chunk {seq}")),
                }
            }
            chunk_rows += u64::from(b.chunks);
            if len != b.size {
                problems.push(format!(
                    "body {id} size {} but its bytes add up to {len}",
                    b.size
                ));
            }
        }
        for (body, n) in body_refs {
            problems.push(format!("{n} messages use missing body {body}"));
        }
        if summaries.len()? != body_count {
            problems.push(format!(
                "{} summaries for {body_count} bodies",
                summaries.len()?
            ));
        }
        if parked.len()? != parked_count {
            problems.push(format!(
                "{} parked rows but {parked_count} parked bodies",
                parked.len()?
            ));
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
        // Subscriptions and training events belong to users, within their bounds.
        let mut subs: BTreeMap<u64, usize> = BTreeMap::new();
        for e in txn.open_table(SUBSCRIPTIONS)?.iter()? {
            let (k, _) = e?;
            let (user, name) = k.value();
            *subs.entry(user).or_default() += 1;
            if let Err(e) = super::check_mailbox_name(name) {
                problems.push(format!("subscription of user {user}: {e}"));
            }
        }
        let mut tokens: BTreeMap<u64, u64> = BTreeMap::new();
        for e in txn.open_table(SPAM_TOKENS)?.iter()? {
            let (k, v) = e?;
            *tokens.entry(k.value().0).or_default() += 1;
            if v.value().0 == 0 && v.value().1 == 0 {
                problems.push(format!("spam token {:?} has no counts", k.value()));
            }
        }
        for e in txn.open_table(SPAM_TOTALS)?.iter()? {
            let (k, v) = e?;
            let (user, held) = (k.value(), v.value().2);
            let found = tokens.remove(&user).unwrap_or(0);
            if held != found {
                problems.push(format!(
                    "spam model {user} says {held} tokens, holds {found}"
                ));
            }
            if user != super::spam::GLOBAL && users.get(user)?.is_none() {
                problems.push(format!("spam model of missing user {user}"));
            }
        }
        for (user, n) in tokens {
            problems.push(format!("{n} spam tokens of user {user} without totals"));
        }
        let mut events: BTreeMap<u64, u64> = BTreeMap::new();
        for e in txn.open_table(TRAINING)?.iter()? {
            *events.entry(e?.0.value().0).or_default() += 1;
        }
        for (what, user, n, max) in subs
            .into_iter()
            .map(|(u, n)| {
                (
                    "subscriptions",
                    u,
                    n as u64,
                    MAX_SUBSCRIPTIONS_PER_USER as u64,
                )
            })
            .chain(
                events
                    .into_iter()
                    .map(|(u, n)| ("training events", u, n, TRAINING_KEEP)),
            )
        {
            if users.get(user)?.is_none() {
                problems.push(format!("{n} {what} of missing user {user}"));
            }
            if n > max {
                problems.push(format!("user {user} has {n} {what} (at most {max})"));
            }
        }
        for e in txn.open_table(STATE)?.iter()? {
            let (k, v) = e?;
            if k.value().len() > MAX_STATE_KEY_BYTES || v.value().len() > MAX_STATE_VALUE_BYTES {
                problems.push(format!("state row {:?} exceeds its bounds", k.value()));
            }
        }
        let user_ids: std::collections::BTreeSet<u64> = users
            .iter()?
            .map(|e| e.map(|(k, _)| k.value()))
            .collect::<std::result::Result<_, _>>()?;
        problems.extend(super::sieve::check(txn, &|u| user_ids.contains(&u))?);
        let (aliases, domains) = (txn.open_table(ALIASES)?, txn.open_table(DOMAINS)?);
        problems.extend(super::aliases::check(&aliases, &by_email, &domains)?);
        problems.extend(super::lists::check(
            &txn.open_table(LISTS)?,
            &by_email,
            &aliases,
            &domains,
        )?);
        Ok(problems)
    }
}

/// No two equal ignoring ASCII case.
fn distinct_ci(list: &[String]) -> bool {
    list.iter()
        .enumerate()
        .all(|(i, a)| list[..i].iter().all(|b| !a.eq_ignore_ascii_case(b)))
}

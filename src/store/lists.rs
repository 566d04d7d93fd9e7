//! Mailing lists: an address in a local domain whose mail goes to every member (local users or
//! outside addresses), with a posting policy, a reply-to policy and bounce counting.
//!
//! Invariants (kept by the writer, checked by [`check`]):
//! - a list address is lower-case, in a local domain, and neither a user nor an alias has it
//!   (nor can take it while the list exists); its `-request` and `-bounces` addresses belong
//!   to the list;
//! - at most [`MAX_MEMBERS`] members and [`MAX_MODERATORS`] moderators, each a normalised
//!   address, distinct; at most [`MAX_LISTS`] lists;
//! - a member whose address failed permanently `lists.max_bounces` times in a row is disabled
//!   (kept, sent nothing) until added again, so a dead address stops costing every post a bounce;
//!   a successful delivery is not tracked, a re-add resets the count.

use super::schema::{ALIASES, DOMAINS, LISTS, USER_BY_EMAIL};
use super::{Done, Refusal, Result};
use crate::codec::{Dec, Enc};
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, WriteTransaction};

/// Most members of one list.
pub const MAX_MEMBERS: usize = 1000;
/// Most moderators of one list.
pub const MAX_MODERATORS: usize = 32;
/// Most lists.
pub const MAX_LISTS: u64 = 1000;

const ROW_V1: u8 = 1;

/// Who may post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posting {
    /// Members (and moderators) only.
    Members,
    /// Anyone.
    Anyone,
    /// Moderators only (an announcement list).
    Moderators,
}

impl Posting {
    fn code(self) -> u8 {
        match self {
            Posting::Members => 0,
            Posting::Anyone => 1,
            Posting::Moderators => 2,
        }
    }

    fn from_code(c: u8) -> Option<Posting> {
        [Posting::Members, Posting::Anyone, Posting::Moderators]
            .into_iter()
            .find(|p| p.code() == c)
    }

    /// The word the command line and the page use.
    pub fn word(self) -> &'static str {
        match self {
            Posting::Members => "members",
            Posting::Anyone => "anyone",
            Posting::Moderators => "moderators",
        }
    }

    /// The policy a word names.
    pub fn from_word(w: &str) -> Option<Posting> {
        [Posting::Members, Posting::Anyone, Posting::Moderators]
            .into_iter()
            .find(|p| p.word() == w)
    }
}

/// One member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Address, lower-case.
    pub address: String,
    /// Permanent failures in a row.
    pub bounces: u32,
    /// Sent nothing while set.
    pub disabled: bool,
}

/// A list as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List {
    /// The list address.
    pub address: String,
    /// Who may post.
    pub posting: Posting,
    /// Replies go to the list (`Reply-To:` added when the message has none).
    pub reply_to_list: bool,
    /// Members.
    pub members: Vec<Member>,
    /// Moderators (may always post; members or not).
    pub moderators: Vec<String>,
    /// Unix seconds.
    pub created: u64,
}

impl List {
    fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.u8(ROW_V1)
            .u64(self.created)
            .u8(self.posting.code())
            .u8(u8::from(self.reply_to_list));
        e.u32(self.members.len() as u32);
        for m in &self.members {
            e.str(&m.address).u32(m.bounces).u8(u8::from(m.disabled));
        }
        e.u32(self.moderators.len() as u32);
        for m in &self.moderators {
            e.str(m);
        }
        e.done()
    }

    fn decode(address: &str, b: &[u8]) -> Option<List> {
        let mut d = Dec(b);
        (d.u8()? == ROW_V1).then_some(())?;
        let created = d.u64()?;
        let posting = Posting::from_code(d.u8()?)?;
        let reply_to_list = d.u8()? == 1;
        let n = d.u32()? as usize;
        if n > MAX_MEMBERS {
            return None;
        }
        let mut members = Vec::with_capacity(n);
        for _ in 0..n {
            members.push(Member {
                address: d.string()?,
                bounces: d.u32()?,
                disabled: d.u8()? == 1,
            });
        }
        let n = d.u32()? as usize;
        if n > MAX_MODERATORS {
            return None;
        }
        let mut moderators = Vec::with_capacity(n);
        for _ in 0..n {
            moderators.push(d.string()?);
        }
        Some(List {
            address: address.to_string(),
            posting,
            reply_to_list,
            members,
            moderators,
            created,
        })
    }

    /// Whether `sender` (lower-case) may post.
    pub fn may_post(&self, sender: &str) -> bool {
        let moderator = self.moderators.iter().any(|m| m == sender);
        let member = self.members.iter().any(|m| m.address == sender);
        match self.posting {
            Posting::Anyone => true,
            Posting::Members => member || moderator,
            Posting::Moderators => moderator,
        }
    }

    /// The addresses a post goes to.
    pub fn recipients(&self) -> impl Iterator<Item = &str> {
        self.members
            .iter()
            .filter(|m| !m.disabled)
            .map(|m| m.address.as_str())
    }
}

/// A change to a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListChange {
    /// Creates the list, or changes its policies.
    Set {
        /// Who may post.
        posting: Posting,
        /// Replies to the list.
        reply_to_list: bool,
    },
    /// Deletes the list.
    Delete,
    /// Adds members (re-adding one clears its bounces).
    AddMembers(Vec<String>),
    /// Removes members.
    DelMembers(Vec<String>),
    /// Adds moderators.
    AddModerators(Vec<String>),
    /// Removes moderators.
    DelModerators(Vec<String>),
    /// These members' addresses failed permanently once more; disabled at `max`.
    Bounced {
        /// Addresses.
        members: Vec<String>,
        /// `lists.max_bounces`.
        max: u32,
    },
}

fn domain_of(a: &str) -> &str {
    a.rsplit_once('@').map_or("", |(_, d)| d)
}

/// Whether some list lives in `domain` (so the domain cannot be removed).
pub(super) fn any_in_domain(txn: &WriteTransaction, domain: &str) -> Result<bool> {
    for e in txn.open_table(LISTS)?.iter()? {
        if domain_of(e?.0.value()) == domain {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether `address` is a list (so no user or alias may take it).
pub(super) fn exists(txn: &WriteTransaction, address: &str) -> Result<bool> {
    Ok(txn.open_table(LISTS)?.get(address)?.is_some())
}

/// Applies one change to the list `address`.
pub(super) fn change(txn: &WriteTransaction, address: &str, c: &ListChange) -> Result<Done> {
    let mut t = txn.open_table(LISTS)?;
    let existing = match t.get(address)? {
        Some(v) => Some(List::decode(address, v.value()).ok_or(super::Error::Corrupt("list row"))?),
        None => None,
    };
    let mut list = match (existing, c) {
        (Some(l), _) => l,
        (None, ListChange::Set { .. }) => {
            if txn.open_table(DOMAINS)?.get(domain_of(address))?.is_none() {
                return Err(Refusal::NoSuchDomain(domain_of(address).to_string()).into());
            }
            if txn.open_table(USER_BY_EMAIL)?.get(address)?.is_some() {
                return Err(Refusal::AddressIsUser(address.to_string()).into());
            }
            if txn.open_table(ALIASES)?.get(address)?.is_some() {
                return Err(Refusal::AliasExists(address.to_string()).into());
            }
            if t.len()? >= MAX_LISTS {
                return Err(Refusal::TooMany("lists").into());
            }
            List {
                address: address.to_string(),
                posting: Posting::Members,
                reply_to_list: false,
                members: Vec::new(),
                moderators: Vec::new(),
                created: crate::time::unix_now(),
            }
        }
        (None, _) => return Err(Refusal::NoSuchList(address.to_string()).into()),
    };
    match c {
        ListChange::Set {
            posting,
            reply_to_list,
        } => {
            list.posting = *posting;
            list.reply_to_list = *reply_to_list;
        }
        ListChange::Delete => {
            t.remove(address)?;
            return Ok(Done::Unit);
        }
        ListChange::AddMembers(add) => {
            for a in add {
                match list.members.iter_mut().find(|m| &m.address == a) {
                    Some(m) => {
                        m.bounces = 0;
                        m.disabled = false;
                    }
                    None => list.members.push(Member {
                        address: a.clone(),
                        bounces: 0,
                        disabled: false,
                    }),
                }
            }
            if list.members.len() > MAX_MEMBERS {
                return Err(Refusal::TooMany("members of one list").into());
            }
        }
        ListChange::DelMembers(del) => list.members.retain(|m| !del.contains(&m.address)),
        ListChange::AddModerators(add) => {
            for a in add {
                if !list.moderators.contains(a) {
                    list.moderators.push(a.clone());
                }
            }
            if list.moderators.len() > MAX_MODERATORS {
                return Err(Refusal::TooMany("moderators of one list").into());
            }
        }
        ListChange::DelModerators(del) => list.moderators.retain(|m| !del.contains(m)),
        ListChange::Bounced { members, max } => {
            for m in list
                .members
                .iter_mut()
                .filter(|m| members.contains(&m.address))
            {
                m.bounces = m.bounces.saturating_add(1);
                if m.bounces >= *max && !m.disabled {
                    m.disabled = true;
                    log::info!(target: "maillog", "list {} disabled member <{}> after {} bounces", list.address, m.address, m.bounces);
                }
            }
        }
    }
    t.insert(address, list.encode().as_slice())?;
    Ok(Done::Unit)
}

/// Every broken invariant of the lists, as sentences (for `Store::check`, which opens the
/// tables: a write transaction may open each only once).
pub(super) fn check<L, U, A, D>(
    lists: &L,
    users: &U,
    aliases: &A,
    domains: &D,
) -> Result<Vec<String>>
where
    L: ReadableTable<&'static str, &'static [u8]>,
    U: ReadableTable<&'static str, u64>,
    A: ReadableTable<&'static str, &'static [u8]>,
    D: ReadableTable<&'static str, u64>,
{
    let mut problems = Vec::new();
    for e in lists.iter()? {
        let (k, v) = e?;
        let address = k.value();
        let Some(list) = List::decode(address, v.value()) else {
            problems.push(format!("list {address} row corrupt"));
            continue;
        };
        if users.get(address)?.is_some() || aliases.get(address)?.is_some() {
            problems.push(format!("list {address} is also a user or an alias"));
        }
        if domains.get(domain_of(address))?.is_none() {
            problems.push(format!("list {address} is not in a local domain"));
        }
        let mut seen: Vec<&str> = Vec::new();
        for m in &list.members {
            if seen.contains(&m.address.as_str()) {
                problems.push(format!("list {address} names {} twice", m.address));
            }
            seen.push(&m.address);
        }
    }
    Ok(problems)
}

impl super::Store {
    /// The list `address` (normalised), if there is one.
    pub fn list(&self, address: &str) -> Result<Option<List>> {
        let txn = self.db()?.begin_read()?;
        let t = txn.open_table(LISTS)?;
        let Some(v) = t.get(address)? else {
            return Ok(None);
        };
        Ok(Some(
            List::decode(address, v.value()).ok_or(super::Error::Corrupt("list row"))?,
        ))
    }

    /// Every list, by address.
    pub fn lists(&self) -> Result<Vec<List>> {
        let txn = self.db()?.begin_read()?;
        let t = txn.open_table(LISTS)?;
        t.iter()?
            .map(|e| {
                let (k, v) = e?;
                List::decode(k.value(), v.value()).ok_or(super::Error::Corrupt("list row"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_round_trip_and_posting() {
        let l = List {
            address: "family@example.org".into(),
            posting: Posting::Members,
            reply_to_list: true,
            members: vec![
                Member {
                    address: "a@example.org".into(),
                    bounces: 0,
                    disabled: false,
                },
                Member {
                    address: "b@far.test".into(),
                    bounces: 3,
                    disabled: true,
                },
            ],
            moderators: vec!["mod@example.org".into()],
            created: 9,
        };
        assert_eq!(List::decode(&l.address, &l.encode()), Some(l.clone()));
        assert!(l.may_post("a@example.org") && l.may_post("mod@example.org"));
        assert!(!l.may_post("x@far.test"));
        assert_eq!(l.recipients().collect::<Vec<_>>(), ["a@example.org"]);
        let announce = List {
            posting: Posting::Moderators,
            ..l.clone()
        };
        assert!(!announce.may_post("a@example.org") && announce.may_post("mod@example.org"));
    }
}

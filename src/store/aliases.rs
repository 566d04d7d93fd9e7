//! Aliases: addresses in a local domain that deliver to local users and forward to outside
//! addresses (e.g. `info@example.org` → `alice@example.org`, `bob@elsewhere.net`);
//! `@example.org` is the domain's catch-all, which takes mail for every address of the domain
//! that nothing else takes. Forwarding rewrites the envelope sender (`crate::srs`).
//!
//! Invariants (kept by the writer, checked by [`check`]):
//! - an alias address is lower-case, in a local domain, and no user has it; a user address is
//!   never an alias (adding a user or an alias with a taken address is refused);
//! - an alias has 1..=[`MAX_ALIAS_TARGETS`] distinct targets; a target in a local domain is
//!   the address of an existing user (deleting a user removes it from every alias, and an alias
//!   left with no target goes with it), any other is an outside address; so resolving an alias
//!   never chains and never loops;
//! - there are at most [`MAX_ALIASES`] aliases, so listing them is bounded.

use super::schema::{ALIASES, DOMAINS, USER_BY_EMAIL};
use super::{Refusal, Result, UserId};
use crate::codec::{Dec, Enc};
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, WriteTransaction};

/// Most targets one alias may have.
pub const MAX_ALIAS_TARGETS: usize = 100;
/// Most aliases a store holds.
pub const MAX_ALIASES: u64 = 10_000;

const ROW_V1: u8 = 1;

/// An alias as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    /// The alias address, lower-case.
    pub address: String,
    /// The users it delivers to and the outside addresses it forwards to, in the order given.
    pub targets: Vec<String>,
    /// Unix seconds.
    pub created: u64,
}

impl Alias {
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.u8(ROW_V1).u64(self.created);
        e.u32(self.targets.len() as u32);
        for t in &self.targets {
            e.str(t);
        }
        e.done()
    }

    pub(super) fn decode(address: &str, b: &[u8]) -> Option<Alias> {
        let mut d = Dec(b);
        (d.u8()? == ROW_V1).then_some(())?;
        let created = d.u64()?;
        let n = d.u32()? as usize;
        if n > MAX_ALIAS_TARGETS {
            return None;
        }
        let mut targets = Vec::with_capacity(n);
        for _ in 0..n {
            targets.push(d.string()?);
        }
        Some(Alias {
            address: address.to_string(),
            targets,
            created,
        })
    }
}

fn domain_of(email: &str) -> &str {
    email.rsplit_once('@').map_or("", |(_, d)| d)
}

/// Adds `targets` (normalised user addresses) to the alias `address` (normalised), creating it
/// when it does not exist.
pub(super) fn add(txn: &WriteTransaction, address: &str, targets: &[String]) -> Result<()> {
    if txn.open_table(DOMAINS)?.get(domain_of(address))?.is_none() {
        return Err(Refusal::NoSuchDomain(domain_of(address).to_string()).into());
    }
    let users = txn.open_table(USER_BY_EMAIL)?;
    if users.get(address)?.is_some() {
        return Err(Refusal::AddressIsUser(address.to_string()).into());
    }
    if super::lists::exists(txn, address)? {
        return Err(Refusal::ListExists(address.to_string()).into());
    }
    if targets.is_empty() {
        return Err(Refusal::AliasWithoutTargets.into());
    }
    let domains = txn.open_table(DOMAINS)?;
    for t in targets {
        if domains.get(domain_of(t))?.is_some() && users.get(t.as_str())?.is_none() {
            return Err(Refusal::NoSuchUser(t.clone()).into());
        }
    }
    let mut aliases = txn.open_table(ALIASES)?;
    let mut row = match aliases.get(address)? {
        Some(v) => Alias::decode(address, v.value()).ok_or(super::Error::Corrupt("alias row"))?,
        None if aliases.len()? >= MAX_ALIASES => {
            return Err(Refusal::TooMany("aliases").into());
        }
        None => Alias {
            address: address.to_string(),
            targets: Vec::new(),
            created: crate::time::unix_now(),
        },
    };
    for t in targets {
        if !row.targets.contains(t) {
            row.targets.push(t.clone());
        }
    }
    if row.targets.len() > MAX_ALIAS_TARGETS {
        return Err(Refusal::TooMany("targets of one alias").into());
    }
    aliases.insert(address, row.encode().as_slice())?;
    Ok(())
}

/// Removes `targets` from the alias `address`, or the whole alias when `targets` is empty or
/// names every target it has.
pub(super) fn remove(txn: &WriteTransaction, address: &str, targets: &[String]) -> Result<()> {
    let mut aliases = txn.open_table(ALIASES)?;
    let mut row = match aliases.get(address)? {
        Some(v) => Alias::decode(address, v.value()).ok_or(super::Error::Corrupt("alias row"))?,
        None => return Err(Refusal::NoSuchAlias(address.to_string()).into()),
    };
    if let Some(t) = targets.iter().find(|t| !row.targets.contains(t)) {
        return Err(Refusal::NotATarget(t.clone(), address.to_string()).into());
    }
    row.targets.retain(|t| !targets.contains(t));
    if targets.is_empty() || row.targets.is_empty() {
        aliases.remove(address)?;
    } else {
        aliases.insert(address, row.encode().as_slice())?;
    }
    Ok(())
}

/// Whether `address` is an alias (so no user may take it).
pub(super) fn exists(txn: &WriteTransaction, address: &str) -> Result<bool> {
    Ok(txn.open_table(ALIASES)?.get(address)?.is_some())
}

/// Whether some alias lives in `domain` (so the domain cannot be removed).
pub(super) fn any_in_domain(txn: &WriteTransaction, domain: &str) -> Result<bool> {
    for e in txn.open_table(ALIASES)?.iter()? {
        if domain_of(e?.0.value()) == domain {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Removes the deleted user `email` from every alias; an alias left without targets goes.
pub(super) fn forget_user(txn: &WriteTransaction, email: &str) -> Result<()> {
    let mut t = txn.open_table(ALIASES)?;
    let mut changed = Vec::new();
    for e in t.iter()? {
        let (k, v) = e?;
        let alias =
            Alias::decode(k.value(), v.value()).ok_or(super::Error::Corrupt("alias row"))?;
        if alias.targets.iter().any(|x| x == email) {
            changed.push(alias);
        }
    }
    for mut alias in changed {
        alias.targets.retain(|x| x != email);
        if alias.targets.is_empty() {
            t.remove(alias.address.as_str())?;
        } else {
            t.insert(alias.address.as_str(), alias.encode().as_slice())?;
        }
    }
    Ok(())
}

/// Every broken invariant of the aliases, as sentences (for `Store::check`).
pub(super) fn check<T, U, D>(aliases: &T, users: &U, domains: &D) -> Result<Vec<String>>
where
    T: ReadableTable<&'static str, &'static [u8]>,
    U: ReadableTable<&'static str, u64>,
    D: ReadableTable<&'static str, u64>,
{
    let mut problems = Vec::new();
    for e in aliases.iter()? {
        let (k, v) = e?;
        let address = k.value();
        let Some(alias) = Alias::decode(address, v.value()) else {
            problems.push(format!("alias {address} row corrupt"));
            continue;
        };
        if users.get(address)?.is_some() {
            problems.push(format!("alias {address} is also a user"));
        }
        if domains.get(domain_of(address))?.is_none() {
            problems.push(format!("alias {address} is not in a local domain"));
        }
        if alias.targets.is_empty() {
            problems.push(format!("alias {address} has no target"));
        }
        for t in &alias.targets {
            if domains.get(domain_of(t))?.is_some() && users.get(t.as_str())?.is_none() {
                problems.push(format!("alias {address} names missing user {t}"));
            }
        }
    }
    Ok(problems)
}

impl super::Store {
    /// The alias `address` (normalised), if there is one.
    pub fn alias(&self, address: &str) -> Result<Option<Alias>> {
        let txn = self.db()?.begin_read()?;
        let t = txn.open_table(ALIASES)?;
        let Some(v) = t.get(address)? else {
            return Ok(None);
        };
        Ok(Some(
            Alias::decode(address, v.value()).ok_or(super::Error::Corrupt("alias row"))?,
        ))
    }

    /// The users the alias `address` delivers to and the outside addresses it forwards to, or
    /// `None` when it is not an alias.
    pub fn alias_targets(&self, address: &str) -> Result<Option<(Vec<UserId>, Vec<String>)>> {
        let txn = self.db()?.begin_read()?;
        let Some(v) = txn.open_table(ALIASES)?.get(address)? else {
            return Ok(None);
        };
        let alias = Alias::decode(address, v.value()).ok_or(super::Error::Corrupt("alias row"))?;
        let users = txn.open_table(USER_BY_EMAIL)?;
        let domains = txn.open_table(DOMAINS)?;
        let (mut ids, mut outside) = (Vec::new(), Vec::new());
        for t in &alias.targets {
            if let Some(id) = users.get(t.as_str())? {
                ids.push(UserId(id.value()));
            } else if domains.get(domain_of(t))?.is_none() {
                outside.push(t.clone());
            }
        }
        Ok(Some((ids, outside)))
    }

    /// Every alias, by address.
    pub fn aliases(&self) -> Result<Vec<Alias>> {
        let txn = self.db()?.begin_read()?;
        let t = txn.open_table(ALIASES)?;
        t.iter()?
            .map(|e| {
                let (k, v) = e?;
                Alias::decode(k.value(), v.value()).ok_or(super::Error::Corrupt("alias row"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_round_trip() {
        let a = Alias {
            address: "info@example.org".into(),
            targets: vec!["alice@example.org".into(), "bob@example.org".into()],
            created: 7,
        };
        assert_eq!(Alias::decode(&a.address, &a.encode()), Some(a.clone()));
        let mut short = a.encode();
        short.pop();
        assert_eq!(Alias::decode(&a.address, &short), None);
    }
}

//! The writer's mailbox operations (create, delete, rename, subscribe) and the rules for mailbox
//! names.
//!
//! Names are opaque UTF-8 strings with `/` as the hierarchy separator; they are never used as
//! paths. Every operation here checks its user exists and refuses before it writes anything.
//! Changes to a user's mailbox list bump the user's generation; changes to a mailbox (its name,
//! its messages) bump the mailbox's.

use super::schema::*;
use super::writer::{State, corrupt, drop_body_ref, next_counter};
use super::{Done, MailboxId, Refusal, Result, UserId, messages};
use redb::{ReadableTable, WriteTransaction};

/// Checks a mailbox name: not empty, at most [`MAX_MAILBOX_NAME_BYTES`], no control characters,
/// no empty hierarchy level (`/a`, `a/`, `a//b`), and a first level that is a case variant of
/// INBOX spelled `INBOX` (RFC 9051 §5.1: INBOX is case-insensitive; the IMAP layer normalises).
pub fn check_mailbox_name(name: &str) -> Result<(), Refusal> {
    let bad = |reason| {
        Err(Refusal::InvalidMailboxName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > MAX_MAILBOX_NAME_BYTES {
        return bad("too long");
    }
    if name.chars().any(char::is_control) {
        return bad("control character");
    }
    if name.split('/').any(str::is_empty) {
        return bad("empty hierarchy level");
    }
    let first = name.split('/').next().unwrap_or_default();
    if first.eq_ignore_ascii_case("INBOX") && first != "INBOX" {
        return bad("INBOX must be spelled INBOX");
    }
    Ok(())
}

fn user_exists(txn: &WriteTransaction, user: UserId) -> Result<()> {
    if txn.open_table(USERS)?.get(user.0)?.is_none() {
        return Err(Refusal::NoSuchUser(format!("#{}", user.0)).into());
    }
    Ok(())
}

/// Writes a new, empty mailbox row and its name-index entry (the caller checked the name).
pub(super) fn insert_mailbox(
    txn: &WriteTransaction,
    user: UserId,
    name: &str,
    special_use: SpecialUse,
) -> Result<(MailboxId, u32)> {
    let id = next_counter(txn, "next_mailbox")?;
    let uidvalidity = (next_counter(txn, "next_uidvalidity")? as u32).max(1);
    let row = MailboxRow {
        user: user.0,
        name: name.to_string(),
        uidvalidity,
        uidnext: 1,
        highest_modseq: 1,
        special_use,
        messages: 0,
        unseen: 0,
        bytes: 0,
        vanished: 0,
        vanished_floor: 0,
        keywords: Vec::new(),
    };
    txn.open_table(MAILBOXES)?
        .insert(id, row.encode().as_slice())?;
    txn.open_table(MAILBOX_BY_NAME)?
        .insert((user.0, name), id)?;
    Ok((MailboxId(id), uidvalidity))
}

/// The superiors of `name` (`a` and `a/b` for `a/b/c`) that do not exist yet, outermost first.
fn missing_superiors(
    names: &impl ReadableTable<(u64, &'static str), u64>,
    user: UserId,
    name: &str,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (i, _) in name.match_indices('/') {
        let superior = &name[..i];
        if names.get((user.0, superior))?.is_none() {
            out.push(superior.to_string());
        }
    }
    Ok(out)
}

/// Refuses if `adding` more mailboxes would take the user past [`MAX_MAILBOXES_PER_USER`].
fn check_mailbox_count(
    names: &impl ReadableTable<(u64, &'static str), u64>,
    user: UserId,
    adding: usize,
) -> Result<()> {
    let mut have = 0usize;
    for e in names.range((user.0, "")..(user.0 + 1, ""))? {
        e?;
        have += 1;
    }
    if have + adding > MAX_MAILBOXES_PER_USER {
        return Err(Refusal::TooMany("mailboxes for one user").into());
    }
    Ok(())
}

pub(super) fn create(
    txn: &WriteTransaction,
    state: &mut State,
    user: UserId,
    name: &str,
    special_use: SpecialUse,
) -> Result<Done> {
    check_mailbox_name(name)?;
    user_exists(txn, user)?;
    let superiors = {
        let names = txn.open_table(MAILBOX_BY_NAME)?;
        if names.get((user.0, name))?.is_some() {
            return Err(Refusal::MailboxExists(name.to_string()).into());
        }
        let superiors = missing_superiors(&names, user, name)?;
        check_mailbox_count(&names, user, superiors.len() + 1)?;
        superiors
    };
    for s in &superiors {
        insert_mailbox(txn, user, s, SpecialUse::None)?;
    }
    let (id, uidvalidity) = insert_mailbox(txn, user, name, special_use)?;
    state.touched_users.insert(user.0);
    Ok(Done::Mailbox { id, uidvalidity })
}

/// Removes a mailbox row, its name-index entry, its messages (dropping their bodies' refs) and
/// its VANISHED history.
fn remove_mailbox(
    txn: &WriteTransaction,
    state: &mut State,
    user: UserId,
    name: &str,
    id: u64,
) -> Result<()> {
    txn.open_table(MAILBOX_BY_NAME)?.remove((user.0, name))?;
    txn.open_table(MAILBOXES)?.remove(id)?;
    let mut messages = txn.open_table(MESSAGES)?;
    for e in messages.extract_from_if((id, 0)..=(id, u32::MAX), |_, _| true)? {
        let (_, v) = e?;
        let row = MessageRow::decode(v.value()).ok_or(corrupt("message row"))?;
        drop_body_ref(txn, state, row.body)?;
    }
    txn.open_table(VANISHED)?
        .retain_in((id, 0, 0)..=(id, u64::MAX, u32::MAX), |_, _| false)?;
    state.touch(id);
    Ok(())
}

pub(super) fn delete(
    txn: &WriteTransaction,
    state: &mut State,
    user: UserId,
    name: &str,
) -> Result<Done> {
    if name == "INBOX" {
        return Err(Refusal::InboxNotDeletable.into());
    }
    user_exists(txn, user)?;
    let id = txn
        .open_table(MAILBOX_BY_NAME)?
        .get((user.0, name))?
        .map(|v| v.value())
        .ok_or_else(|| Refusal::NoSuchMailbox(name.to_string()))?;
    remove_mailbox(txn, state, user, name, id)?;
    state.touched_users.insert(user.0);
    Ok(Done::Unit)
}

pub(super) fn rename(
    txn: &WriteTransaction,
    state: &mut State,
    user: UserId,
    from: &str,
    to: &str,
) -> Result<Done> {
    check_mailbox_name(to)?;
    user_exists(txn, user)?;
    let names = txn.open_table(MAILBOX_BY_NAME)?;
    let from_id = names
        .get((user.0, from))?
        .map(|v| v.value())
        .ok_or_else(|| Refusal::NoSuchMailbox(from.to_string()))?;
    if names.get((user.0, to))?.is_some() {
        return Err(Refusal::MailboxExists(to.to_string()).into());
    }
    if from == "INBOX" {
        // RFC 9051 §6.3.6: renaming INBOX moves its messages to a new mailbox with the new
        // name and leaves INBOX empty; INBOX's inferiors are unaffected.
        let superiors = missing_superiors(&names, user, to)?;
        check_mailbox_count(&names, user, superiors.len() + 1)?;
        drop(names);
        for s in &superiors {
            insert_mailbox(txn, user, s, SpecialUse::None)?;
        }
        let (id, uidvalidity) = insert_mailbox(txn, user, to, SpecialUse::None)?;
        messages::move_all(txn, state, from_id, id.0)?;
        state.touched_users.insert(user.0);
        return Ok(Done::Mailbox { id, uidvalidity });
    }
    let under = format!("{from}/");
    if to.starts_with(&under) {
        return Err(Refusal::InvalidMailboxName {
            name: to.to_string(),
            reason: "inside the mailbox it renames",
        }
        .into());
    }
    // The mailbox and its inferiors: every name starting with "from/" sorts between "from/" and
    // "from0" ('0' follows '/').
    let mut moving = vec![(from.to_string(), from_id)];
    let end = format!("{from}0");
    for e in names.range((user.0, under.as_str())..(user.0, end.as_str()))? {
        let (k, v) = e?;
        moving.push((k.value().1.to_string(), v.value()));
    }
    let mut renamed = Vec::with_capacity(moving.len());
    for (old, id) in moving {
        let new = format!("{to}{}", &old[from.len()..]);
        check_mailbox_name(&new)?;
        if names.get((user.0, new.as_str()))?.is_some() {
            return Err(Refusal::MailboxExists(new).into());
        }
        renamed.push((old, new, id));
    }
    let superiors = missing_superiors(&names, user, to)?;
    check_mailbox_count(&names, user, superiors.len())?;
    drop(names);
    let mut uidvalidity = 0;
    {
        let mut names = txn.open_table(MAILBOX_BY_NAME)?;
        let mut mailboxes = txn.open_table(MAILBOXES)?;
        for (old, _, _) in &renamed {
            names.remove((user.0, old.as_str()))?;
        }
        for (_, new, id) in &renamed {
            names.insert((user.0, new.as_str()), *id)?;
            let mut row = mailboxes
                .get(*id)?
                .and_then(|v| MailboxRow::decode(v.value()))
                .ok_or(corrupt("mailbox row"))?;
            row.name = new.clone();
            if *id == from_id {
                uidvalidity = row.uidvalidity;
            }
            mailboxes.insert(*id, row.encode().as_slice())?;
            state.touch(*id);
        }
    }
    for s in &superiors {
        insert_mailbox(txn, user, s, SpecialUse::None)?;
    }
    state.touched_users.insert(user.0);
    Ok(Done::Mailbox {
        id: MailboxId(from_id),
        uidvalidity,
    })
}

pub(super) fn subscribe(
    txn: &WriteTransaction,
    state: &mut State,
    user: UserId,
    name: &str,
    subscribed: bool,
) -> Result<Done> {
    check_mailbox_name(name)?;
    user_exists(txn, user)?;
    let mut t = txn.open_table(SUBSCRIPTIONS)?;
    if subscribed {
        if t.get((user.0, name))?.is_none() {
            let mut have = 0usize;
            for e in t.range((user.0, "")..(user.0 + 1, ""))? {
                e?;
                have += 1;
            }
            if have >= MAX_SUBSCRIPTIONS_PER_USER {
                return Err(Refusal::TooMany("subscriptions").into());
            }
            t.insert((user.0, name), ())?;
        }
    } else {
        t.remove((user.0, name))?;
    }
    state.touched_users.insert(user.0);
    Ok(Done::Unit)
}

/// Everything a deleted user owned: mailboxes, messages, subscriptions, training events.
pub(super) fn delete_user_data(
    txn: &WriteTransaction,
    state: &mut State,
    user: UserId,
) -> Result<()> {
    let owned: Vec<(String, u64)> = txn
        .open_table(MAILBOX_BY_NAME)?
        .range((user.0, "")..(user.0 + 1, ""))?
        .map(|e| e.map(|(k, v)| (k.value().1.to_string(), v.value())))
        .collect::<std::result::Result<_, _>>()?;
    for (name, id) in owned {
        remove_mailbox(txn, state, user, &name, id)?;
    }
    txn.open_table(SUBSCRIPTIONS)?
        .retain_in((user.0, "")..(user.0 + 1, ""), |_, _| false)?;
    txn.open_table(TRAINING)?
        .retain_in((user.0, 0)..=(user.0, u64::MAX), |_, _| false)?;
    txn.open_table(SPAM_TOKENS)?
        .retain_in((user.0, 0)..=(user.0, u64::MAX), |_, _| false)?;
    txn.open_table(SPAM_TOTALS)?.remove(user.0)?;
    txn.open_table(SPAM_LEARNED)?
        .retain_in((user.0, 0)..=(user.0, u64::MAX), |_, _| false)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_names() {
        for ok in [
            "INBOX",
            "INBOX/a",
            "Archive/2024/März",
            "a b",
            "Ünïcødé",
            "x%y*",
        ] {
            assert_eq!(check_mailbox_name(ok), Ok(()), "{ok}");
        }
        let long = "a".repeat(MAX_MAILBOX_NAME_BYTES + 1);
        for (bad, why) in [
            ("", "empty"),
            (long.as_str(), "too long"),
            ("a\u{7}b", "control character"),
            ("a\u{85}b", "control character"),
            ("a\nb", "control character"),
            ("/a", "empty hierarchy level"),
            ("a/", "empty hierarchy level"),
            ("a//b", "empty hierarchy level"),
            ("inbox", "INBOX must be spelled INBOX"),
            ("Inbox/sub", "INBOX must be spelled INBOX"),
        ] {
            match check_mailbox_name(bad) {
                Err(Refusal::InvalidMailboxName { reason, .. }) => assert_eq!(reason, why),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert_eq!(
            check_mailbox_name(&"a".repeat(MAX_MAILBOX_NAME_BYTES)),
            Ok(())
        );
        assert_eq!(check_mailbox_name("INBOXES"), Ok(()));
    }
}

//! Admin commands executed against an open store. The same code runs in the CLI process (server
//! stopped) and in a worker thread of the server (through the control socket); it is blocking and
//! must never run on the executor thread.

use super::args::AdminCommand;
use crate::config;
use crate::message::{Summary, address};
use crate::store::lists::{ListChange, Posting};
use crate::store::sieve::ScriptChange;
use crate::store::{self, Op, Refusal, Store, flags};
use std::io::Write;
use std::path::Path;

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Bad input from the operator.
    #[error("{0}")]
    Invalid(String),
    /// The store refused or failed.
    #[error("{0}")]
    Store(#[from] store::Error),
    /// Writing output failed.
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
    /// Setting up TLS failed.
    #[error("{0}")]
    Tls(#[from] crate::tls::TlsError),
    /// Making or reading the DKIM keys failed.
    #[error("{0}")]
    Dkim(#[from] crate::dkim::Error),
}

/// What a command changed that a running server must pick up.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changed {
    /// Settings changed: reload the configuration.
    pub config: bool,
}

fn invalid(s: impl Into<String>) -> AdminError {
    AdminError::Invalid(s.into())
}

fn email_arg(s: &str) -> Result<String, AdminError> {
    address::normalize(s).ok_or_else(|| invalid(format!("`{s}` is not a valid email address")))
}

/// An alias address, or `@domain` for the domain's catch-all.
fn alias_arg(s: &str) -> Result<String, AdminError> {
    match s.trim().strip_prefix('@') {
        Some(domain) => Ok(format!("@{}", domain_arg(domain)?)),
        None => email_arg(s),
    }
}

fn emails_arg(list: &[String]) -> Result<Vec<String>, AdminError> {
    list.iter().map(|e| email_arg(e)).collect()
}

pub(super) fn domain_arg(s: &str) -> Result<String, AdminError> {
    let d = s.trim().to_ascii_lowercase();
    if config::is_hostname(&d) && (d.contains('.') || d == "localhost") {
        Ok(d)
    } else {
        Err(invalid(format!("`{s}` is not a valid domain")))
    }
}

/// The machine's host name (for defaults), lower-case.
pub fn machine_hostname() -> String {
    let name = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .to_ascii_lowercase();
    if config::is_hostname(&name) {
        name
    } else {
        "localhost".to_string()
    }
}

/// The domain to use when none is given: the host name if it is fully qualified, else
/// `<hostname>.local` (the name the box answers to on the LAN).
pub fn default_domain() -> String {
    let host = machine_hostname();
    if host.contains('.') {
        host
    } else {
        format!("{host}.local")
    }
}

/// Creates the data folder if needed and makes it owner-only: it holds every message, the
/// password hashes and the TLS private key.
pub fn create_data_dir(data: &Path) -> Result<(), AdminError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if !data.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data)?;
    }
    let mode = std::fs::metadata(data)?.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(data, std::fs::Permissions::from_mode(mode & 0o7700))?;
    }
    Ok(())
}

/// Sets up a store: domain, host name, admin address, self-signed certificate. Idempotent.
pub fn init(
    store: &Store,
    data: &Path,
    domain: &str,
    hostname: Option<&str>,
    admin: Option<&str>,
    out: &mut dyn Write,
) -> Result<Changed, AdminError> {
    let domain = domain_arg(domain)?;
    let hostname = match hostname {
        Some(h) => config::validate("hostname", h).map_err(|e| invalid(e.to_string()))?,
        None => {
            let machine = machine_hostname();
            if machine.contains('.') {
                machine
            } else {
                domain.clone()
            }
        }
    };
    let admin = admin.map(email_arg).transpose()?;
    match store.call_blocking(Op::AddDomain(domain.clone())) {
        Ok(_) | Err(store::Error::Refused(Refusal::DomainExists(_))) => {}
        Err(e) => return Err(e.into()),
    }
    store.call_blocking(Op::SetSetting {
        key: "hostname".into(),
        value: Some(hostname.clone()),
    })?;
    if let Some(a) = &admin {
        store.call_blocking(Op::SetSetting {
            key: "admin".into(),
            value: Some(a.clone()),
        })?;
        // The postmaster administers the box on the web page too, unless someone already does.
        if store.config()?.web_admins.is_empty() {
            store.call_blocking(Op::SetSetting {
                key: "web.admins".into(),
                value: Some(a.clone()),
            })?;
        }
    }
    let created = crate::tls::ensure_self_signed(data, &hostname)?;
    let dkim_dir = crate::tls::dkim_keys::dkim_dir(data);
    let selector = store.config()?.dkim_selector;
    let new_keys =
        !crate::tls::dkim_keys::key_path(&dkim_dir, &selector, crate::dkim::KeyAlgorithm::Rsa)
            .exists();
    crate::tls::dkim_keys::ensure(&dkim_dir, &selector)?;
    writeln!(out, "domain {domain}, host name {hostname}")?;
    if let Some(a) = admin {
        writeln!(
            out,
            "postmaster mail goes to {a}; {a} administers the web page"
        )?;
    }
    if created {
        writeln!(
            out,
            "created a self-signed TLS certificate in {}",
            crate::tls::tls_dir(data).display()
        )?;
    }
    if new_keys {
        writeln!(
            out,
            "created DKIM keys (selector {selector}) in {}; publish them: mailnook dns records",
            dkim_dir.display()
        )?;
    }
    Ok(Changed { config: true })
}

fn hash(store: &Store, password: &str) -> Result<String, AdminError> {
    let cfg = store.config()?;
    crate::auth::hash_password(
        password,
        cfg.auth_argon2_memory_kib,
        cfg.auth_argon2_iterations,
    )
    .map_err(|e| invalid(e.to_string()))
}

/// A UTF-8 text file of at most `max` bytes.
fn read_bounded(path: &Path, max: usize) -> Result<String, AdminError> {
    use std::io::Read;
    let what = |e: std::io::Error| invalid(format!("{}: {e}", path.display()));
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(what)?
        .take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(what)?;
    if bytes.len() > max {
        return Err(invalid(format!(
            "{}: larger than {max} bytes (sieve.max_script_bytes)",
            path.display()
        )));
    }
    String::from_utf8(bytes).map_err(|_| invalid(format!("{}: not UTF-8 text", path.display())))
}

fn user_arg(store: &Store, s: &str) -> Result<store::User, AdminError> {
    let email = email_arg(s)?;
    store
        .user(&email)?
        .ok_or_else(|| invalid(format!("no such user: {email}")))
}

/// `USED bytes used<TAB>quota LIMIT bytes (SIZE, P% used)`, or `… no quota`.
pub fn quota_line(q: store::Quota) -> String {
    if q.limit == 0 {
        return format!("{} bytes used\tno quota", q.used);
    }
    let percent = u128::from(q.used) * 100 / u128::from(q.limit);
    format!(
        "{} bytes used\tquota {} bytes ({}, {percent}% used)",
        q.used,
        q.limit,
        config::format_size(q.limit)
    )
}

fn flag_letters(f: u32) -> String {
    let mut s = String::new();
    for (bit, c) in [
        (flags::SEEN, 'S'),
        (flags::ANSWERED, 'A'),
        (flags::FLAGGED, 'F'),
        (flags::DELETED, 'D'),
        (flags::DRAFT, 'T'),
    ] {
        s.push(if f & bit != 0 { c } else { '-' });
    }
    s
}

fn one_line(s: &str, max: usize) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect()
}

/// Runs one admin command. `init` and `dns records` need the data folder; everything else only
/// the store.
pub fn execute(
    cmd: &AdminCommand,
    store: &Store,
    data: &Path,
    out: &mut dyn Write,
) -> Result<Changed, AdminError> {
    match cmd {
        AdminCommand::Init {
            domain,
            hostname,
            admin,
        } => {
            return init(
                store,
                data,
                domain,
                hostname.as_deref(),
                admin.as_deref(),
                out,
            );
        }
        AdminCommand::UserAdd { email, password } => {
            let email = email_arg(email)?;
            let password = password
                .as_deref()
                .ok_or_else(|| invalid("no password given"))?;
            if !store.is_local_domain(address::domain(&email))? {
                return Err(store::Error::from(Refusal::NoSuchDomain(
                    address::domain(&email).to_string(),
                ))
                .into());
            }
            if store.user(&email)?.is_some() {
                return Err(store::Error::from(Refusal::UserExists(email)).into());
            }
            let password_hash = hash(store, password)?;
            store.call_blocking(Op::AddUser {
                email: email.clone(),
                password_hash,
            })?;
            writeln!(out, "added {email}")?;
        }
        AdminCommand::UserDel(email) => {
            let email = email_arg(email)?;
            store.call_blocking(Op::DelUser(email.clone()))?;
            writeln!(out, "deleted {email} and all their mail")?;
        }
        AdminCommand::UserPasswd { email, password } => {
            let email = email_arg(email)?;
            let password = password
                .as_deref()
                .ok_or_else(|| invalid("no password given"))?;
            if store.user(&email)?.is_none() {
                return Err(store::Error::from(Refusal::NoSuchUser(email)).into());
            }
            let password_hash = hash(store, password)?;
            store.call_blocking(Op::SetPassword {
                email: email.clone(),
                password_hash,
            })?;
            writeln!(out, "password changed for {email}")?;
        }
        AdminCommand::UserList => {
            for u in store.users()? {
                let boxes = store.mailboxes(u.id)?;
                let msgs: u64 = boxes.iter().map(|m| u64::from(m.row.messages)).sum();
                let bytes: u64 = boxes.iter().map(|m| m.row.bytes).sum();
                writeln!(
                    out,
                    "{}\t{} messages\t{} bytes\tsince {}",
                    u.row.email,
                    msgs,
                    bytes,
                    crate::time::iso8601(u.row.created)
                )?;
            }
        }
        AdminCommand::AliasAdd { alias, targets } => {
            let alias = alias_arg(alias)?;
            if address::local_part(&alias).eq_ignore_ascii_case("postmaster") {
                return Err(invalid(
                    "postmaster mail goes to the user named by the `admin` setting; \
                     set it with `mailnook config set admin EMAIL`",
                ));
            }
            let targets = emails_arg(targets)?;
            store.call_blocking(Op::AddAlias {
                address: alias.clone(),
                targets: targets.clone(),
            })?;
            writeln!(out, "{alias} now delivers to {}", targets.join(", "))?;
        }
        AdminCommand::AliasDel { alias, targets } => {
            let alias = alias_arg(alias)?;
            let targets = emails_arg(targets)?;
            store.call_blocking(Op::DelAlias {
                address: alias.clone(),
                targets: targets.clone(),
            })?;
            match store.alias(&alias)? {
                Some(a) => writeln!(out, "{alias} now delivers to {}", a.targets.join(", "))?,
                None => writeln!(out, "deleted alias {alias}")?,
            }
        }
        AdminCommand::SievePut { user, name, file } => {
            let u = user_arg(store, user)?;
            let limits = crate::sieve::Limits::from_config(&store.config()?);
            let text = read_bounded(file, limits.max_script_bytes)?;
            crate::sieve::compile(&text, &limits)
                .map_err(|e| invalid(format!("{}: {e}", file.display())))?;
            store.call_blocking(Op::Script {
                user: u.id,
                change: ScriptChange::Put {
                    name: name.clone(),
                    text,
                },
            })?;
            writeln!(out, "stored script {name} of {}", u.row.email)?;
        }
        AdminCommand::SieveGet { user, name } => {
            let u = user_arg(store, user)?;
            let text = store
                .script(u.id, name)?
                .ok_or_else(|| store::Error::from(Refusal::NoSuchScript(name.clone())))?;
            write!(out, "{text}")?;
        }
        AdminCommand::SieveList(user) => {
            let u = user_arg(store, user)?;
            for (name, active) in store.scripts(u.id)? {
                writeln!(out, "{name}{}", if active { "\tactive" } else { "" })?;
            }
        }
        AdminCommand::SieveActivate { user, name } => {
            let u = user_arg(store, user)?;
            store.call_blocking(Op::Script {
                user: u.id,
                change: ScriptChange::Activate(name.clone()),
            })?;
            match name {
                Some(n) => writeln!(out, "script {n} of {} is active", u.row.email)?,
                None => writeln!(out, "no script of {} is active", u.row.email)?,
            }
        }
        AdminCommand::SieveDel { user, name } => {
            let u = user_arg(store, user)?;
            store.call_blocking(Op::Script {
                user: u.id,
                change: ScriptChange::Delete(name.clone()),
            })?;
            writeln!(out, "deleted script {name} of {}", u.row.email)?;
        }
        AdminCommand::ListSet {
            list,
            posting,
            reply_to_list,
        } => {
            let list = email_arg(list)?;
            let posting = Posting::from_word(posting).ok_or_else(|| {
                invalid(format!(
                    "`{posting}`: who may post is members, anyone or moderators"
                ))
            })?;
            store.call_blocking(Op::List {
                address: list.clone(),
                change: ListChange::Set {
                    posting,
                    reply_to_list: *reply_to_list,
                },
            })?;
            let replies = if *reply_to_list {
                "the list"
            } else {
                "the sender"
            };
            writeln!(
                out,
                "list {list}: {} may post, replies go to {replies}",
                posting.word()
            )?;
        }
        AdminCommand::ListDel(list) => {
            let list = email_arg(list)?;
            store.call_blocking(Op::List {
                address: list.clone(),
                change: ListChange::Delete,
            })?;
            writeln!(out, "deleted list {list}")?;
        }
        AdminCommand::ListMembers {
            list,
            add,
            moderators,
            addresses,
        } => {
            let list = email_arg(list)?;
            let addresses = emails_arg(addresses)?;
            let change = match (moderators, add) {
                (false, true) => ListChange::AddMembers(addresses.clone()),
                (false, false) => ListChange::DelMembers(addresses.clone()),
                (true, true) => ListChange::AddModerators(addresses.clone()),
                (true, false) => ListChange::DelModerators(addresses.clone()),
            };
            store.call_blocking(Op::List {
                address: list.clone(),
                change,
            })?;
            let l = store
                .list(&list)?
                .ok_or_else(|| store::Error::from(Refusal::NoSuchList(list.clone())))?;
            writeln!(
                out,
                "list {list}: {} members, {} moderators",
                l.members.len(),
                l.moderators.len()
            )?;
        }
        AdminCommand::ListShow(None) => {
            for l in store.lists()? {
                writeln!(
                    out,
                    "{}\t{} members\t{} may post",
                    l.address,
                    l.members.len(),
                    l.posting.word()
                )?;
            }
        }
        AdminCommand::ListShow(Some(list)) => {
            let list = email_arg(list)?;
            let l = store
                .list(&list)?
                .ok_or_else(|| store::Error::from(Refusal::NoSuchList(list.clone())))?;
            let replies = if l.reply_to_list {
                "the list"
            } else {
                "the sender"
            };
            writeln!(
                out,
                "{}: {} may post, replies go to {replies}",
                l.address,
                l.posting.word()
            )?;
            for m in &l.moderators {
                writeln!(out, "moderator\t{m}")?;
            }
            for m in &l.members {
                let state = if m.disabled {
                    format!("disabled after {} bounces", m.bounces)
                } else {
                    format!("{} bounces", m.bounces)
                };
                writeln!(out, "member\t{}\t{state}", m.address)?;
            }
        }
        AdminCommand::AliasList => {
            for a in store.aliases()? {
                writeln!(out, "{}\t{}", a.address, a.targets.join(", "))?;
            }
        }
        AdminCommand::QuotaSet { email, size } => {
            let email = email_arg(email)?;
            let bytes = config::parse_size(size)
                .filter(|n| *n <= config::MAX_QUOTA_BYTES)
                .ok_or_else(|| {
                    invalid(format!(
                        "`{size}` is not a quota (a number of bytes, or e.g. 500M, 2G; 0 for unlimited; at most 1024T)"
                    ))
                })?;
            store.call_blocking(Op::SetQuota {
                email: email.clone(),
                bytes,
            })?;
            if bytes == 0 {
                writeln!(out, "{email} has no quota now")?;
            } else {
                writeln!(
                    out,
                    "quota of {email} set to {} ({bytes} bytes)",
                    config::format_size(bytes)
                )?;
            }
        }
        AdminCommand::QuotaShow(user) => {
            let users = match user {
                Some(u) => vec![user_arg(store, u)?],
                None => store.users()?,
            };
            for u in users {
                let q = store
                    .quota(u.id)?
                    .ok_or_else(|| invalid(format!("no such user: {}", u.row.email)))?;
                writeln!(out, "{}\t{}", u.row.email, quota_line(q))?;
            }
        }
        AdminCommand::DomainAdd(d) => {
            let d = domain_arg(d)?;
            store.call_blocking(Op::AddDomain(d.clone()))?;
            writeln!(out, "added domain {d}")?;
        }
        AdminCommand::DomainDel(d) => {
            let d = domain_arg(d)?;
            store.call_blocking(Op::DelDomain(d.clone()))?;
            writeln!(out, "deleted domain {d}")?;
        }
        AdminCommand::DomainList => {
            for d in store.domains()? {
                writeln!(out, "{d}")?;
            }
        }
        AdminCommand::ConfigGet(key) => {
            let spec = config::spec(key).ok_or_else(|| {
                invalid(format!(
                    "unknown setting `{key}` (see `mailnook config list`)"
                ))
            })?;
            let stored = store.settings()?;
            let board = config::board::Board::from_pairs(&stored, store.ram());
            let value = config::value_in_force(&stored, key, &board);
            writeln!(out, "{}", spec.shown(&value))?;
        }
        AdminCommand::ConfigSet(key, value) => {
            let value = config::validate(key, value).map_err(|e| invalid(e.to_string()))?;
            store.call_blocking(Op::SetSetting {
                key: key.clone(),
                value: Some(value.clone()),
            })?;
            let shown = config::spec(key).map_or(String::new(), |s| s.shown(&value));
            writeln!(out, "{key} = {shown}")?;
            return Ok(Changed { config: true });
        }
        AdminCommand::ConfigUnset(key) => {
            let spec =
                config::spec(key).ok_or_else(|| invalid(format!("unknown setting `{key}`")))?;
            store.call_blocking(Op::SetSetting {
                key: key.clone(),
                value: None,
            })?;
            writeln!(
                out,
                "{key} = {} (default)",
                spec.default_on(&store.board()?)
            )?;
            return Ok(Changed { config: true });
        }
        AdminCommand::ConfigList => {
            let stored = store.settings()?;
            let board = config::board::Board::from_pairs(&stored, store.ram());
            writeln!(
                out,
                "# board: {board}; defaults marked `for {}` follow it",
                board.class.name()
            )?;
            for spec in config::SPECS {
                let default = spec.default_on(&board);
                let sized = if spec.is_sized() {
                    format!(" for {}", board.class.name())
                } else {
                    String::new()
                };
                let line = match stored.get(spec.key) {
                    Some(v) if config::validate(spec.key, v).is_ok() => {
                        format!("{} = {}", spec.key, spec.shown(v))
                    }
                    Some(v) => format!(
                        "{} = {default}  # stored value `{}` is invalid; default{sized} used",
                        spec.key,
                        spec.shown(v)
                    ),
                    None => format!("{} = {default}  # default{sized}", spec.key),
                };
                writeln!(out, "{line}\t— {}", spec.help)?;
            }
        }
        AdminCommand::MailList {
            user,
            mailbox: None,
        } => {
            let u = user_arg(store, user)?;
            for m in store.mailboxes(u.id)? {
                let special = m.row.special_use.attribute().unwrap_or("");
                writeln!(
                    out,
                    "{}\t{} messages\t{} unseen\t{} bytes\t{special}",
                    m.row.name, m.row.messages, m.row.unseen, m.row.bytes
                )?;
            }
        }
        AdminCommand::MailList {
            user,
            mailbox: Some(name),
        } => {
            let u = user_arg(store, user)?;
            let mb = store
                .mailbox(u.id, name)?
                .ok_or_else(|| invalid(format!("{} has no mailbox `{name}`", u.row.email)))?;
            writeln!(out, "UID\tDATE\tSIZE\tFLAGS\tFROM\tSUBJECT")?;
            for m in store.messages(mb.id)? {
                let summary = store
                    .summary(store::BodyId(m.row.body))?
                    .and_then(|b| Summary::decode(&b))
                    .unwrap_or_default();
                let from = summary
                    .envelope
                    .from
                    .first()
                    .map(|a| {
                        let part = |p: &Option<Vec<u8>>| {
                            String::from_utf8_lossy(p.as_deref().unwrap_or_default()).into_owned()
                        };
                        format!("{}@{}", part(&a.mailbox), part(&a.host))
                    })
                    .unwrap_or_default();
                let subject = summary.subject.unwrap_or_default();
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    m.uid.get(),
                    crate::time::iso8601(m.row.internal_date),
                    m.row.size,
                    flag_letters(m.row.flags),
                    one_line(&from, 80),
                    one_line(&subject, 120)
                )?;
            }
        }
        AdminCommand::MailShow { user, mailbox, uid } => {
            let u = user_arg(store, user)?;
            let mb = store
                .mailbox(u.id, mailbox)?
                .ok_or_else(|| invalid(format!("{} has no mailbox `{mailbox}`", u.row.email)))?;
            if !store.write_message_blocking(mb.id, *uid, out)? {
                return Err(invalid(format!("no message with UID {uid} in {mailbox}")));
            }
        }
        AdminCommand::Check => {
            let mut problems = store.check()?;
            problems.extend(crate::delivery::summaries::check(store)?);
            if problems.is_empty() {
                writeln!(out, "store ok")?;
            } else {
                for p in &problems {
                    writeln!(out, "{p}")?;
                }
                return Err(invalid(format!("{} problems found", problems.len())));
            }
        }
        AdminCommand::Reparse => {
            let r = crate::delivery::summaries::reparse(store)?;
            for (body, e) in &r.unreadable {
                writeln!(out, "body {}: not read, summary left as is: {e}", body.0)?;
            }
            writeln!(
                out,
                "summaries rewritten: {} of {} stored messages",
                r.rewritten, r.read
            )?;
            if !r.unreadable.is_empty() {
                return Err(invalid(format!(
                    "{} bodies could not be read (see `mailnook check`)",
                    r.unreadable.len()
                )));
            }
        }
        AdminCommand::QueueList => super::queue::list(store, out)?,
        AdminCommand::QueueShow(id) => super::queue::show(store, id, out)?,
        AdminCommand::QueueRetry(id) => super::queue::retry(store, id.as_deref(), out)?,
        AdminCommand::QueueDelete(id) => super::queue::delete(store, id, out)?,
        AdminCommand::DnsRecords { ips } => super::dns_records::records(store, data, ips, out)?,
        AdminCommand::CheckOutbound { domain } => {
            super::outbound::check(store, domain.as_deref(), out)?
        }
        AdminCommand::Transfer(t) => super::transfer::execute(t, store, out)?,
        AdminCommand::Collect(c) => super::collect::execute(c, store, data, out)?,
        AdminCommand::Backup { .. } => {
            let s = super::backup::write_backup(store, data, out)?;
            log::info!(
                "backup written: {} rows, {} files, {} bytes",
                s.rows,
                s.files,
                s.bytes
            );
        }
        AdminCommand::Restore(file) => {
            let f = std::fs::File::open(file).map_err(|e| invalid(format!("{file}: {e}")))?;
            let s = super::backup::restore(store, data, Box::new(f))?;
            log::info!("{}", super::backup::restored_text(&s));
            writeln!(out, "{}", super::backup::restored_text(&s))?;
            return Ok(Changed { config: true });
        }
    }
    Ok(Changed::default())
}

//! `mailnook collect`: periodic collection of mail from external POP3 or IMAP accounts into a
//! local user's mailbox, for servers that cannot receive on port 25.
//!
//! Accounts are kept per user in the STATE table under `collect.<user>` (JSON, at most
//! [`MAX_ACCOUNTS`]); the password is stored there in clear because it is needed to log in,
//! and nothing here ever prints or logs it (`collect list` and the web page mask it). Each
//! account's seen-state lives under `collect-seen/<user>/<id>` and its last result under
//! `collect-result/<user>/<id>`, so collecting never rewrites the account list.
//!
//! Invariants:
//! - TLS always: implicit (POP3 995 RFC 8314, IMAP 993) or STLS/STARTTLS (RFC 2595), the
//!   certificate checked against the bundled web roots or the account's CA file; after the
//!   upgrade nothing the server sent before the handshake is used.
//! - Each message is streamed into the store's upload path ([`MessageSink`], the one IMAP
//!   APPEND uses) and committed whole or not at all; one over `smtp.max_message_bytes` is
//!   reported and skipped. IMAP messages keep their flags and INTERNALDATE; POP3 ones arrive
//!   unseen, dated when collected.
//! - The seen-state is written durably after each message (POP3: the UIDLs fetched that are
//!   still on the server, at most [`MAX_SEEN`]; IMAP: UIDVALIDITY and the last UID of INBOX),
//!   so a crash re-copies at most one message. Messages are deleted on the server (POP3 DELE,
//!   IMAP `\Deleted` + EXPUNGE) only when the account says so, and only once stored here.
//! - One collection at a time per data folder (an exclusive lock on `DATA/collect.lock`), so
//!   the periodic task and `collect run` never copy the same message twice.
//! - All I/O is blocking with the `collect.*` timeouts: the server runs it on the blocking
//!   pool ([`run_task`]), never on the executor thread.

use super::admin::AdminError;
use super::import_imap::{self, Collect, Conn, FetchInto, Timeouts};
use super::transfer::{ImapSource, Security, ensure_mailbox, user_id};
use crate::delivery::MessageSink;
use crate::pop3_client::{self, Piece};
use crate::store::{Op, SpecialUse, Store, UserId};
use futures_lite::future::block_on;
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

/// Most external accounts per user.
pub const MAX_ACCOUNTS: usize = 8;
/// Most POP3 unique-ids remembered per account.
pub const MAX_SEEN: usize = 10_000;
/// Most messages listed by one POP3 server.
const MAX_LISTED: usize = 1_000_000;
/// Longest host, login or mailbox name.
const MAX_FIELD: usize = 255;
/// Longest password.
const MAX_PASSWORD: usize = 1024;
/// How often the server looks for due accounts (shorter when `collect.min_interval_secs` is).
const TICK: Duration = Duration::from_secs(60);

fn failed(what: impl std::fmt::Display) -> AdminError {
    AdminError::Invalid(what.to_string())
}

/// The protocol of an external account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// RFC 1939.
    Pop3,
    /// RFC 9051, INBOX only.
    Imap,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Pop3 => "pop3",
            Protocol::Imap => "imap",
        }
    }
}

/// One external account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Stable number within the user's list.
    pub id: u32,
    /// POP3 or IMAP.
    pub protocol: Protocol,
    /// Host name or address.
    pub host: String,
    /// Port; by protocol and TLS mode when absent.
    pub port: Option<u16>,
    /// STARTTLS/STLS on the plain port instead of implicit TLS.
    pub starttls: bool,
    /// Login name there.
    pub login: String,
    /// Password there (never shown).
    pub password: String,
    /// PEM file of certificate authorities to trust instead of the web roots.
    pub ca: Option<String>,
    /// Local mailbox the mail goes to.
    pub mailbox: String,
    /// Leave the messages on the server.
    pub keep: bool,
    /// Minutes between collections; 0 for `collect.min_interval_secs`.
    pub every_minutes: u32,
}

impl Account {
    fn port(&self) -> u16 {
        self.port.unwrap_or(match (self.protocol, self.starttls) {
            (Protocol::Pop3, false) => 995,
            (Protocol::Pop3, true) => 110,
            (Protocol::Imap, false) => 993,
            (Protocol::Imap, true) => 143,
        })
    }

    /// A one-line description without the password.
    pub fn describe(&self) -> String {
        format!(
            "{} {}@{}:{} {} -> {}, {}, {}; password ********",
            self.protocol.name(),
            self.login,
            self.host,
            self.port(),
            if self.starttls { "starttls" } else { "tls" },
            self.mailbox,
            if self.keep {
                "kept on the server"
            } else {
                "deleted on the server"
            },
            match self.every_minutes {
                0 => "every interval".to_string(),
                m => format!("every {m} min"),
            }
        )
    }

    fn source(&self, user: &str) -> ImapSource {
        ImapSource {
            user: user.to_string(),
            host: self.host.clone(),
            port: Some(self.port()),
            security: if self.starttls {
                Security::StartTls
            } else {
                Security::Tls
            },
            login: self.login.clone(),
            password: Some(self.password.clone()),
            password_file: None,
            ca: self.ca.as_ref().map(PathBuf::from),
        }
    }
}

/// A user's accounts as stored.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Accounts {
    next_id: u32,
    accounts: Vec<Account>,
}

/// The outcome of an account's last collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastResult {
    /// When it ended (Unix seconds).
    pub at: u64,
    /// Whether it worked.
    pub ok: bool,
    /// What happened.
    pub text: String,
}

impl LastResult {
    /// When and what, e.g. `2026-01-02T03:04:05Z: 3 new messages`.
    pub fn describe(&self) -> String {
        format!(
            "{}: {}{}",
            crate::time::iso8601(self.at),
            if self.ok { "" } else { "error: " },
            self.text
        )
    }
}

fn accounts_key(email: &str) -> String {
    format!("collect.{email}")
}

fn seen_key(email: &str, id: u32) -> String {
    format!("collect-seen/{email}/{id}")
}

fn result_key(email: &str, id: u32) -> String {
    format!("collect-result/{email}/{id}")
}

fn load(store: &Store, email: &str) -> Result<Accounts, AdminError> {
    match store.state(&accounts_key(email))? {
        Some(v) => serde_json::from_slice(&v)
            .map_err(|e| failed(format!("stored accounts of {email} unreadable: {e}"))),
        None => Ok(Accounts::default()),
    }
}

fn save(store: &Store, email: &str, a: &Accounts) -> Result<(), AdminError> {
    // Kept when empty too, so numbers are never reused.
    store.call_blocking(Op::SetState {
        key: accounts_key(email),
        value: Some(serde_json::to_vec(a).map_err(|e| failed(e.to_string()))?),
    })?;
    Ok(())
}

/// The accounts of `email` (normalized), with their last results.
pub fn accounts(
    store: &Store,
    email: &str,
) -> Result<Vec<(Account, Option<LastResult>)>, AdminError> {
    let mut out = Vec::new();
    for a in load(store, email)?.accounts {
        let r = store
            .state(&result_key(email, a.id))?
            .and_then(|v| serde_json::from_slice(&v).ok());
        out.push((a, r));
    }
    Ok(out)
}

fn check_field(what: &str, v: &str, max: usize) -> Result<(), AdminError> {
    if v.is_empty() || v.len() > max || v.chars().any(|c| c.is_control() || c == ' ') {
        return Err(failed(format!(
            "{what}: must be 1 to {max} bytes without spaces or control characters"
        )));
    }
    Ok(())
}

/// Adds an account to `email`'s list (validated); returns its id.
pub fn add(store: &Store, email: &str, mut account: Account) -> Result<u32, AdminError> {
    let (user, email) = user_id(store, email)?;
    check_field("host", &account.host, MAX_FIELD)?;
    check_field("login", &account.login, MAX_FIELD)?;
    if account.password.is_empty()
        || account.password.len() > MAX_PASSWORD
        || account.password.chars().any(|c| c.is_control())
    {
        return Err(failed(format!(
            "the password must be 1 to {MAX_PASSWORD} bytes without control characters"
        )));
    }
    if account.port == Some(0) {
        return Err(failed("port 0 is not a port"));
    }
    ensure_mailbox(store, user, &account.mailbox, SpecialUse::None)?;
    let mut all = load(store, &email)?;
    if all.accounts.len() >= MAX_ACCOUNTS {
        return Err(failed(format!(
            "{email} already has {MAX_ACCOUNTS} accounts to collect from"
        )));
    }
    all.next_id = all.next_id.max(1);
    account.id = all.next_id;
    all.next_id += 1;
    all.accounts.push(account);
    save(store, &email, &all)?;
    Ok(all.next_id - 1)
}

/// Removes account `id` of `email`, with its seen-state and last result.
pub fn remove(store: &Store, email: &str, id: u32) -> Result<Account, AdminError> {
    let (_, email) = user_id(store, email)?;
    let mut all = load(store, &email)?;
    let i = all
        .accounts
        .iter()
        .position(|a| a.id == id)
        .ok_or_else(|| failed(format!("{email} has no account {id} to collect from")))?;
    let gone = all.accounts.remove(i);
    save(store, &email, &all)?;
    for key in [seen_key(&email, id), result_key(&email, id)] {
        store.call_blocking(Op::SetState { key, value: None })?;
    }
    Ok(gone)
}

/// Holds `DATA/collect.lock` exclusively while alive.
struct Lock(#[allow(dead_code)] std::fs::File);

fn lock(data: &Path) -> Result<Lock, AdminError> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(data.join("collect.lock"))
        .map_err(|e| failed(format!("collect.lock: {e}")))?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| failed(format!("collect.lock: {e}")))?;
    Ok(Lock(f))
}

/// Collects one account now and records the outcome as its last result.
fn collect_and_record(
    store: &Store,
    (user, email): &(UserId, String),
    account: &Account,
) -> Result<String, AdminError> {
    let result = match account.protocol {
        Protocol::Pop3 => pop3(store, (*user, email), account),
        Protocol::Imap => imap(store, (*user, email), account),
    };
    let last = LastResult {
        at: crate::time::unix_now(),
        ok: result.is_ok(),
        text: match &result {
            Ok(t) => t.clone(),
            Err(e) => e.to_string(),
        },
    };
    store.call_blocking(Op::SetState {
        key: result_key(email, account.id),
        value: Some(serde_json::to_vec(&last).map_err(|e| failed(e.to_string()))?),
    })?;
    result
}

fn timeouts(store: &Store) -> Result<Timeouts, AdminError> {
    let c = store.config()?;
    Ok(Timeouts {
        connect: Duration::from_secs(c.collect_connect_timeout_secs),
        io: Duration::from_secs(c.collect_io_timeout_secs),
    })
}

fn summary(copied: u64, skipped: &[String]) -> String {
    if skipped.is_empty() {
        format!("{copied} new messages")
    } else {
        format!(
            "{copied} new messages, {} skipped ({})",
            skipped.len(),
            skipped.join("; ")
        )
    }
}

/// IMAP: copies INBOX's new messages (RFC 9051 §6.3.2 EXAMINE, or SELECT when deleting).
fn imap(store: &Store, (user, email): (UserId, &str), a: &Account) -> Result<String, AdminError> {
    let src = a.source(email);
    let max_bytes = store.config()?.smtp_max_message_bytes;
    let mailbox = ensure_mailbox(store, user, &a.mailbox, SpecialUse::None)?;
    let mut c = import_imap::connect(&src, max_bytes.max(1), timeouts(store)?)?;
    let caps = import_imap::login(&mut c, &src)?;
    let mut selected = Collect::default();
    c.run(
        if a.keep {
            "EXAMINE INBOX"
        } else {
            "SELECT INBOX"
        },
        &mut selected,
    )?;
    let uidvalidity = selected
        .0
        .iter()
        .find_map(|r| r.code_number("UIDVALIDITY"))
        .ok_or_else(|| failed("the server gave no UIDVALIDITY for INBOX"))?;
    let key = seen_key(email, a.id);
    let last_uid = match import_imap::load_state(store, &key)? {
        Some((v, last)) if v == uidvalidity => last,
        _ => 0,
    };
    let mut into = FetchInto::new(store, mailbox, max_bytes, key, (uidvalidity, last_uid));
    import_imap::copy_new(&mut c, &mut into)?;
    if !a.keep && !into.copied_uids.is_empty() {
        // Only what was stored here is deleted there (RFC 4315 UID EXPUNGE when offered, so
        // messages someone else marked \Deleted stay).
        let uidplus = caps.iter().any(|c| c == "UIDPLUS");
        for chunk in into.copied_uids.chunks(500) {
            let set = chunk
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",");
            c.run(
                &format!("UID STORE {set} +FLAGS.SILENT (\\Deleted)"),
                &mut Collect::default(),
            )?;
            if uidplus {
                c.run(&format!("UID EXPUNGE {set}"), &mut Collect::default())?;
            }
        }
        if !uidplus {
            c.run("EXPUNGE", &mut Collect::default())?;
        }
    }
    let _ = c.run("LOGOUT", &mut Collect::default());
    Ok(summary(into.copied, &into.skipped))
}

/// A POP3 connection: the socket and the sans-IO reader.
struct Pop3 {
    conn: Conn,
    reader: pop3_client::Reader,
    buf: Vec<u8>,
}

impl Pop3 {
    fn fill(&mut self) -> Result<(), AdminError> {
        let data = import_imap::read_some(&mut self.conn, &mut self.buf)?;
        self.reader.feed(data);
        Ok(())
    }

    fn status(&mut self) -> Result<pop3_client::Status, AdminError> {
        loop {
            if let Some(s) = self.reader.status().map_err(failed)? {
                return Ok(s);
            }
            self.fill()?;
        }
    }

    /// Sends `line` and reads its status; `-ERR` is an error naming `verb` (never the
    /// arguments, which may hold the password).
    fn command(&mut self, line: &str, verb: &str) -> Result<String, AdminError> {
        self.conn
            .write_all(format!("{line}\r\n").as_bytes())
            .and_then(|_| self.conn.flush())
            .map_err(|e| failed(format!("writing to the server: {e}")))?;
        let s = self.status()?;
        if s.ok {
            Ok(s.text)
        } else {
            Err(failed(format!("{verb}: -ERR {}", s.text)))
        }
    }

    /// The lines of a multi-line listing (after its `+OK`).
    fn listing(&mut self) -> Result<Vec<Vec<u8>>, AdminError> {
        let mut lines = Vec::new();
        loop {
            match self.reader.listing_line().map_err(failed)? {
                None => self.fill()?,
                Some(None) => return Ok(lines),
                Some(Some(l)) => {
                    if lines.len() >= MAX_LISTED {
                        return Err(failed(format!(
                            "the server listed over {MAX_LISTED} messages"
                        )));
                    }
                    lines.push(l);
                }
            }
        }
    }
}

fn load_seen(store: &Store, key: &str) -> Result<Vec<String>, AdminError> {
    Ok(store
        .state(key)?
        .map(|v| {
            String::from_utf8_lossy(&v)
                .lines()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default())
}

fn save_seen(store: &Store, key: &str, seen: &[String]) -> Result<(), AdminError> {
    let from = seen.len().saturating_sub(MAX_SEEN);
    store.call_blocking(Op::SetState {
        key: key.to_string(),
        value: Some(seen[from..].join("\n").into_bytes()),
    })?;
    Ok(())
}

/// POP3 (RFC 1939): UIDL to find what is new, RETR each new message, DELE when not keeping,
/// QUIT to commit the deletions (§6 UPDATE state).
fn pop3(store: &Store, (user, email): (UserId, &str), a: &Account) -> Result<String, AdminError> {
    let src = a.source(email);
    let max_bytes = store.config()?.smtp_max_message_bytes;
    let mailbox = ensure_mailbox(store, user, &a.mailbox, SpecialUse::None)?;
    let tcp = import_imap::tcp(&src, a.port(), timeouts(store)?)?;
    let conn = if a.starttls {
        Conn::Plain(tcp)
    } else {
        Conn::Tls(import_imap::start_tls(tcp, &src)?)
    };
    let mut p = Pop3 {
        conn,
        reader: pop3_client::Reader::new(),
        buf: vec![0; 64 * 1024],
    };
    let greeting = p.status()?;
    if !greeting.ok {
        return Err(failed(format!(
            "the server greeted with -ERR {}",
            greeting.text
        )));
    }
    if a.starttls {
        // RFC 2595 §4: STLS, then the handshake on the same connection.
        p.command("STLS", "STLS")?;
        if p.reader.has_pending() {
            return Err(failed(
                "the server sent data after STLS before the handshake",
            ));
        }
        p.reader.reset();
        let Conn::Plain(tcp) = p.conn else {
            unreachable!("STLS starts on plain text")
        };
        p.conn = Conn::Tls(import_imap::start_tls(tcp, &src)?);
    }
    let login_failed =
        |e: AdminError| failed(format!("logging in as {} at {}: {e}", a.login, a.host));
    p.command(&format!("USER {}", a.login), "USER")
        .map_err(login_failed)?;
    p.command(&format!("PASS {}", a.password), "PASS")
        .map_err(login_failed)?;
    p.command("UIDL", "UIDL")
        .map_err(|e| failed(format!("{e} (the server must support UIDL)")))?;
    let uidl: Vec<(u32, String)> = p
        .listing()?
        .iter()
        .map(|l| {
            pop3_client::parse_uidl(l).ok_or_else(|| {
                failed(format!(
                    "malformed UIDL line: {}",
                    String::from_utf8_lossy(l)
                        .chars()
                        .take(100)
                        .collect::<String>()
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    p.command("LIST", "LIST")?;
    let sizes: std::collections::HashMap<u32, u64> = p
        .listing()?
        .iter()
        .filter_map(|l| pop3_client::parse_list(l))
        .collect();
    let key = seen_key(email, a.id);
    let on_server: std::collections::HashSet<&str> = uidl.iter().map(|(_, u)| u.as_str()).collect();
    // Unique-ids no longer on the server are forgotten (RFC 1939 §7: they are not reused).
    let mut seen: Vec<String> = load_seen(store, &key)?
        .into_iter()
        .filter(|u| on_server.contains(u.as_str()))
        .collect();
    let mut known: std::collections::HashSet<String> = seen.iter().cloned().collect();
    let (mut copied, mut skipped) = (0u64, Vec::new());
    for (n, uid) in &uidl {
        if known.contains(uid) {
            if !a.keep {
                p.command(&format!("DELE {n}"), "DELE")?;
            }
            continue;
        }
        if let Some(size) = sizes.get(n).filter(|s| **s > max_bytes) {
            skipped.push(format!(
                "message {n}: {size} bytes, over the message size limit of {max_bytes} bytes (smtp.max_message_bytes)"
            ));
            continue;
        }
        p.command(&format!("RETR {n}"), "RETR")?;
        let mut sink = Some(MessageSink::new(store));
        let mut size = 0u64;
        let mut problem = None;
        loop {
            let Some(piece) = p.reader.piece() else {
                p.fill()?;
                continue;
            };
            match piece {
                Piece::Data(d) => {
                    size += d.len() as u64;
                    if size > max_bytes && problem.is_none() {
                        problem = Some(format!(
                            "over the message size limit of {max_bytes} bytes (smtp.max_message_bytes)"
                        ));
                    }
                    if problem.is_some() {
                        if let Some(s) = sink.take() {
                            block_on(s.discard());
                        }
                    } else if let Some(s) = sink.as_mut()
                        && let Err(e) = block_on(s.write(&d))
                    {
                        problem = Some(format!("not stored: {e}"));
                    }
                }
                Piece::End => break,
            }
        }
        let stored = match (problem, sink) {
            (Some(why), sink) => {
                if let Some(s) = sink {
                    block_on(s.discard());
                }
                Err(why)
            }
            (None, Some(s)) => block_on(s.append(mailbox, 0, Vec::new(), crate::time::unix_now()))
                .map(|_| ())
                .map_err(|e| format!("not stored: {e}")),
            (None, None) => Err("not stored".to_string()),
        };
        match stored {
            Ok(()) => {
                copied += 1;
                known.insert(uid.clone());
                seen.push(uid.clone());
                save_seen(store, &key, &seen)?;
                if !a.keep {
                    p.command(&format!("DELE {n}"), "DELE")?;
                }
            }
            Err(why) => skipped.push(format!("message {n}: {why}")),
        }
    }
    save_seen(store, &key, &seen)?;
    p.command("QUIT", "QUIT")?;
    Ok(summary(copied, &skipped))
}

/// Collects every account of `email` now (under the collection lock).
pub fn run_user(
    store: &Store,
    data: &Path,
    email: &str,
    out: &mut dyn Write,
) -> Result<(), AdminError> {
    let user = user_id(store, email)?;
    let _lock = lock(data)?;
    let all = load(store, &user.1)?;
    if all.accounts.is_empty() {
        return Err(failed(format!(
            "{} has no accounts to collect from",
            user.1
        )));
    }
    let mut failures = 0;
    for a in &all.accounts {
        match collect_and_record(store, &user, a) {
            Ok(t) => writeln!(out, "{}\t{}@{}\t{t}", a.id, a.login, a.host)?,
            Err(e) => {
                failures += 1;
                writeln!(out, "{}\t{}@{}\terror: {e}", a.id, a.login, a.host)?
            }
        }
    }
    if failures > 0 {
        return Err(failed(format!("{failures} accounts failed (see above)")));
    }
    Ok(())
}

/// Collects every account whose interval has passed (the server's periodic task; blocking).
pub fn run_due(store: &Store, data: &Path) -> Result<(), AdminError> {
    let floor = store.config()?.collect_min_interval_secs;
    let users = store.states_with_prefix("collect.", 1_000_000)?;
    if users.is_empty() {
        return Ok(());
    }
    let _lock = lock(data)?;
    for (key, _) in users {
        let email = &key["collect.".len()..];
        let user = match user_id(store, email) {
            Ok(u) => u,
            Err(e) => {
                log::warn!("collect: {email}: {e}");
                continue;
            }
        };
        // Read again under the lock: `collect del` may have run meanwhile.
        for (a, last) in accounts(store, &user.1)? {
            let every = (u64::from(a.every_minutes) * 60).max(floor);
            let now = crate::time::unix_now();
            if last.is_some_and(|l| now < l.at.saturating_add(every)) {
                continue;
            }
            match collect_and_record(store, &user, &a) {
                Ok(t) => log::info!(
                    "collect: {} account {} ({}@{}): {t}",
                    user.1,
                    a.id,
                    a.login,
                    a.host
                ),
                Err(e) => log::warn!(
                    "collect: {} account {} ({}@{}): {e}",
                    user.1,
                    a.id,
                    a.login,
                    a.host
                ),
            }
        }
    }
    Ok(())
}

/// The server's collector: wakes every minute (or every `collect.min_interval_secs` when
/// shorter) and collects due accounts on the blocking pool, until shutdown.
pub async fn run_task(
    store: Store,
    data: PathBuf,
    config: Rc<dyn Fn() -> Rc<crate::config::Config>>,
    shutdown: async_channel::Receiver<()>,
) {
    let mut last = std::time::Instant::now();
    loop {
        // A short step, so a changed `collect.min_interval_secs` applies at once.
        let stop = futures_lite::future::or(
            async {
                async_io::Timer::after(Duration::from_secs(1)).await;
                false
            },
            async {
                let _ = shutdown.recv().await;
                true
            },
        )
        .await;
        if stop {
            return;
        }
        let tick = TICK.min(Duration::from_secs(config().collect_min_interval_secs));
        if last.elapsed() < tick {
            continue;
        }
        let (store, data) = (store.clone(), data.clone());
        if let Err(e) = blocking::unblock(move || run_due(&store, &data)).await {
            log::warn!("collect: {e}");
        }
        last = std::time::Instant::now();
    }
}

/// One of `mailnook collect`'s commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollectCommand {
    /// `collect add USER pop3|imap HOST[:PORT] LOGIN ...`
    Add {
        /// The local user.
        user: String,
        /// The account (id assigned when stored; the password read by the CLI).
        account: Account,
        /// `--password-file` as given.
        password_file: Option<PathBuf>,
    },
    /// `collect list [USER]`
    List(Option<String>),
    /// `collect del USER N`
    Del(String, u32),
    /// `collect run USER`
    Run(String),
}

/// Usage lines for `mailnook help`.
pub const USAGE: &str = "  collect add USER pop3|imap HOST[:PORT] LOGIN [--starttls] [--delete]
              [--mailbox M] [--every MINUTES] [--ca PEM] [--password-file F]
                                 collect mail from an external account periodically
                                 (password from the file or stdin)
  collect list [USER]            external accounts (password masked) and last results
  collect del USER N             stop collecting from account N
  collect run USER               collect from USER's accounts now";

fn text(v: OsString, what: &str) -> Result<String, String> {
    v.into_string()
        .map_err(|_| format!("{what} is not valid UTF-8"))
}

/// Parses `collect ...`; `None` if argv is not a collect command.
pub fn parse(args: &[OsString]) -> Option<Result<super::args::Command, String>> {
    use lexopt::prelude::*;
    if args.first().and_then(|a| a.to_str()) != Some("collect") {
        return None;
    }
    let mut p = lexopt::Parser::from_args(args.iter().skip(1).cloned());
    let mut words: Vec<String> = Vec::new();
    let mut data = None;
    let (mut starttls, mut delete, mut mailbox, mut every) = (false, false, None, None);
    let (mut ca, mut password_file, mut password) = (None, None, None);
    let result = (|| -> Result<CollectCommand, String> {
        while let Some(arg) = p.next().map_err(|e| e.to_string())? {
            macro_rules! value {
                () => {
                    p.value().map_err(|e| e.to_string())
                };
            }
            match arg {
                Value(v) => words.push(text(v, "argument")?),
                Long("data") | Short('d') => data = Some(PathBuf::from(value!()?)),
                Long("starttls") => starttls = true,
                Long("delete") => delete = true,
                Long("mailbox") => mailbox = Some(text(value!()?, "--mailbox")?),
                Long("every") => {
                    let v = text(value!()?, "--every")?;
                    every = Some(
                        v.parse::<u32>()
                            .ok()
                            .filter(|m| *m <= 7 * 24 * 60)
                            .ok_or_else(|| {
                                format!("--every: `{v}` is not a number of minutes up to a week")
                            })?,
                    );
                }
                Long("ca") => ca = Some(PathBuf::from(value!()?)),
                Long("password-file") => password_file = Some(PathBuf::from(value!()?)),
                // How the control socket carries the password the CLI read.
                Long("password") => password = Some(text(value!()?, "--password")?),
                other => return Err(other.unexpected().to_string()),
            }
        }
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        let add_only = starttls
            || delete
            || mailbox.is_some()
            || every.is_some()
            || ca.is_some()
            || password_file.is_some()
            || password.is_some();
        if add_only && w.first() != Some(&"add") {
            return Err("these options apply to `collect add` only".into());
        }
        Ok(match w.as_slice() {
            ["add", user, proto, hostport, login] => {
                let protocol = match *proto {
                    "pop3" => Protocol::Pop3,
                    "imap" => Protocol::Imap,
                    other => return Err(format!("`{other}` is not pop3 or imap")),
                };
                let (host, port) = match hostport.rsplit_once(':') {
                    Some((h, p)) if !h.contains(':') || h.starts_with('[') => (
                        h.trim_start_matches('[').trim_end_matches(']').to_string(),
                        Some(
                            p.parse::<u16>()
                                .ok()
                                .filter(|p| *p != 0)
                                .ok_or_else(|| format!("`{p}` is not a port number"))?,
                        ),
                    ),
                    _ => (hostport.to_string(), None),
                };
                CollectCommand::Add {
                    user: user.to_string(),
                    account: Account {
                        id: 0,
                        protocol,
                        host,
                        port,
                        starttls,
                        login: login.to_string(),
                        password: password.take().unwrap_or_default(),
                        ca: ca.take().map(|c: PathBuf| c.to_string_lossy().into_owned()),
                        mailbox: mailbox.take().unwrap_or_else(|| "INBOX".into()),
                        keep: !delete,
                        every_minutes: every.unwrap_or(0),
                    },
                    password_file: password_file.take(),
                }
            }
            ["list"] => CollectCommand::List(None),
            ["list", user] => CollectCommand::List(Some(user.to_string())),
            ["del", user, n] => CollectCommand::Del(
                user.to_string(),
                n.parse()
                    .map_err(|_| format!("`{n}` is not an account number"))?,
            ),
            ["run", user] => CollectCommand::Run(user.to_string()),
            _ => {
                return Err(format!(
                    "incomplete or wrong arguments for `collect {}` (see `mailnook help`)",
                    words.join(" ")
                ));
            }
        })
    })();
    Some(result.map(|cmd| super::args::Command::Admin {
        data: data.unwrap_or_else(super::args::default_data),
        cmd: super::args::AdminCommand::Collect(cmd),
    }))
}

impl CollectCommand {
    /// The argv that parses back to this command (the password included, for the owner-only
    /// control socket only).
    pub fn to_args(&self) -> Vec<String> {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        match self {
            CollectCommand::Add {
                user, account: a, ..
            } => {
                let host = match a.port {
                    Some(p) if a.host.contains(':') => format!("[{}]:{p}", a.host),
                    Some(p) => format!("{}:{p}", a.host),
                    None => a.host.clone(),
                };
                let mut v = s(&["collect", "add", user, a.protocol.name(), &host, &a.login]);
                if a.starttls {
                    v.push("--starttls".into());
                }
                if !a.keep {
                    v.push("--delete".into());
                }
                v.extend(s(&["--mailbox", &a.mailbox]));
                if a.every_minutes > 0 {
                    v.extend(s(&["--every", &a.every_minutes.to_string()]));
                }
                if let Some(ca) = &a.ca {
                    v.extend(s(&["--ca", ca]));
                }
                if !a.password.is_empty() {
                    v.extend(s(&["--password", &a.password]));
                }
                v
            }
            CollectCommand::List(None) => s(&["collect", "list"]),
            CollectCommand::List(Some(u)) => s(&["collect", "list", u]),
            CollectCommand::Del(u, n) => s(&["collect", "del", u, &n.to_string()]),
            CollectCommand::Run(u) => s(&["collect", "run", u]),
        }
    }

    /// What the CLI does before the command runs anywhere: makes the CA path absolute and
    /// reads the password.
    pub fn prepare(
        &mut self,
        read_password: impl Fn(&str) -> Result<String, String>,
    ) -> Result<(), String> {
        let CollectCommand::Add {
            account,
            password_file,
            ..
        } = self
        else {
            return Ok(());
        };
        if let Some(ca) = &mut account.ca {
            *ca = std::path::absolute(&*ca)
                .map_err(|e| format!("{ca}: {e}"))?
                .to_str()
                .ok_or_else(|| format!("{ca}: the path is not valid UTF-8"))?
                .to_string();
        }
        if account.password.is_empty() {
            account.password = match password_file.take() {
                Some(f) => super::transfer::password_from_file(&f)?,
                None => read_password(&format!(
                    "Password for {} at {}: ",
                    account.login, account.host
                ))?,
            };
        }
        Ok(())
    }
}

/// Writes one account's line for `collect list` (password masked).
fn list_line(
    out: &mut dyn Write,
    email: &str,
    a: &Account,
    last: Option<&LastResult>,
) -> std::io::Result<()> {
    let last = last.map_or("not collected yet".to_string(), |l| {
        format!("last {}", l.describe())
    });
    writeln!(out, "{email}\t{}\t{}\t{last}", a.id, a.describe())
}

/// Runs a collect command (blocking).
pub fn execute(
    cmd: &CollectCommand,
    store: &Store,
    data: &Path,
    out: &mut dyn Write,
) -> Result<(), AdminError> {
    match cmd {
        CollectCommand::Add { user, account, .. } => {
            if account.password.is_empty() {
                return Err(failed("no password given"));
            }
            let id = add(store, user, account.clone())?;
            writeln!(out, "added account {id}: {}", account.describe())?;
        }
        CollectCommand::List(user) => {
            let emails: Vec<String> = match user {
                Some(u) => vec![user_id(store, u)?.1],
                None => store
                    .states_with_prefix("collect.", 1_000_000)?
                    .into_iter()
                    .map(|(k, _)| k["collect.".len()..].to_string())
                    .collect(),
            };
            for email in emails {
                for (a, last) in accounts(store, &email)? {
                    list_line(out, &email, &a, last.as_ref())?;
                }
            }
        }
        CollectCommand::Del(user, id) => {
            let gone = remove(store, user, *id)?;
            writeln!(out, "removed account {id}: {}", gone.describe())?;
        }
        CollectCommand::Run(user) => run_user(store, data, user, out)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip_through_their_arguments() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        for argv in [
            &[
                "collect",
                "add",
                "a@example.test",
                "pop3",
                "pop.example.net:1995",
                "me",
                "--starttls",
                "--delete",
                "--mailbox",
                "Old",
                "--every",
                "15",
                "--ca",
                "/ca.pem",
                "--password",
                "pw x",
            ][..],
            &[
                "collect",
                "add",
                "a@example.test",
                "imap",
                "imap.example.net",
                "me",
                "--mailbox",
                "INBOX",
            ],
            &["collect", "list"],
            &["collect", "list", "a@example.test"],
            &["collect", "del", "a@example.test", "3"],
            &["collect", "run", "a@example.test"],
        ] {
            let Some(Ok(super::super::args::Command::Admin {
                cmd: super::super::args::AdminCommand::Collect(c),
                ..
            })) = parse(&args(argv))
            else {
                panic!("{argv:?} does not parse");
            };
            assert_eq!(
                c.to_args(),
                argv.iter().map(|s| s.to_string()).collect::<Vec<_>>()
            );
        }
        assert!(
            parse(&args(&["collect", "add", "u", "smtp", "h", "l"]))
                .unwrap()
                .is_err()
        );
        assert!(
            parse(&args(&["collect", "list", "--delete"]))
                .unwrap()
                .is_err()
        );
        assert!(parse(&args(&["import", "u", "p"])).is_none());
    }

    #[test]
    fn descriptions_never_show_the_password() {
        let a = Account {
            id: 1,
            protocol: Protocol::Pop3,
            host: "h".into(),
            port: None,
            starttls: false,
            login: "l".into(),
            password: "sekrit-pw".into(),
            ca: None,
            mailbox: "INBOX".into(),
            keep: true,
            every_minutes: 0,
        };
        assert!(!a.describe().contains("sekrit"));
        assert!(a.describe().contains("pop3 l@h:995 tls"));
        let mut out = Vec::new();
        list_line(&mut out, "u@x", &a, None).unwrap();
        assert!(!String::from_utf8(out).unwrap().contains("sekrit"));
    }
}

//! Moving mail in and out: `mailnook export`, `mailnook import` and `mailnook import-imap`.
//!
//! These are admin commands like the others ([`super::admin::execute`]): with the server
//! stopped they run in the CLI process on the store; with the server running they travel over
//! the control socket and the server runs them on a worker thread, reading and writing the
//! files itself (both run on the same machine as the same user; the CLI makes every path
//! absolute first, and reads `--password-file` or the password prompt itself). Nothing here
//! runs on the executor thread: file and store I/O block.
//!
//! Invariants:
//! - Export reads each mailbox as one snapshot (its message list from one read transaction,
//!   each body pinned by a [`BodyReader`] while copied) and streams: memory stays at one line
//!   piece per message whatever the mailbox holds. It refuses an output path that exists.
//! - Import appends every message through the store's upload path ([`MessageSink`], the one IMAP
//!   APPEND uses): chunks go to the store as they are read and one durable commit makes the
//!   message appear, so a message is stored whole or not at all. A message over
//!   `smtp.max_message_bytes`, or one the store refuses, is reported with its file and position
//!   and skipped; the import goes on with the next one and exits non-zero at the end if any
//!   was skipped. Import does not look for duplicates: importing the same files twice stores
//!   the messages twice.
//! - Mailboxes missing from the user's account are created (with their superiors).

use super::admin::AdminError;
use crate::delivery::MessageSink;
use crate::mailfile::{self, CrlfFixer, Lines, Meta, Receiver, maildir, mbox};
use crate::store::{self, BodyId, BodyReader, MailboxId, Op, Store, UserId};
use futures_lite::future::block_on;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A folder of mbox files.
    Mbox,
    /// A Maildir++ tree.
    Maildir,
}

/// How `import-imap` talks to the old server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (port 993).
    Tls,
    /// Plain text, then STARTTLS before login (port 143).
    StartTls,
}

/// Where `import-imap` copies from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapSource {
    /// The local user receiving the mail.
    pub user: String,
    /// The old server's host name or address.
    pub host: String,
    /// Its port; 993 or 143 by [`Security`] when absent.
    pub port: Option<u16>,
    /// TLS or STARTTLS.
    pub security: Security,
    /// Login name there.
    pub login: String,
    /// Password there (read by the CLI from `--password-file` or stdin).
    pub password: Option<String>,
    /// `--password-file` as given (the CLI reads it into `password`).
    pub password_file: Option<PathBuf>,
    /// PEM file of certificate authorities to trust instead of the bundled web roots.
    pub ca: Option<PathBuf>,
}

/// One of the commands of this module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferCommand {
    /// `export USER --format mbox|maildir [--out PATH]`
    Export {
        /// The user's address.
        user: String,
        /// The format.
        format: Format,
        /// Where to write; `./USER.mbox` or `./USER.maildir` when absent.
        out: Option<PathBuf>,
    },
    /// `import USER PATH`
    Import {
        /// The user's address.
        user: String,
        /// An mbox file, a folder of mbox files, a Maildir or a Maildir++ tree.
        path: PathBuf,
    },
    /// `import-imap USER --host H ...`
    ImportImap(ImapSource),
}

/// Usage lines for `mailnook help`.
pub const USAGE: &str = "  export USER --format mbox|maildir [--out PATH]
                                 write a user's mail as mbox files or a Maildir++ tree
  import USER PATH               add mail from an mbox file, a folder of mbox files,
                                 a Maildir or a Maildir++ tree (flags and dates kept)
  import-imap USER --host H --user LOGIN [--port P] [--tls|--starttls]
              [--password-file F] [--ca PEM]
                                 copy every folder from another IMAP server (password
                                 from the file or stdin); running it again copies only
                                 what is new";

/// `mailnook help`'s text: the general usage with this module's commands before the options.
pub fn usage() -> String {
    super::args::USAGE.replacen(
        "\n\n  --data DIR",
        &format!("\n{USAGE}\n{}\n\n  --data DIR", super::collect::USAGE),
        1,
    )
}

fn path_arg(v: OsString) -> PathBuf {
    PathBuf::from(v)
}

fn text(v: OsString, what: &str) -> Result<String, String> {
    v.into_string()
        .map_err(|_| format!("{what} is not valid UTF-8"))
}

/// Parses the commands of this module; `None` if argv is not one of them.
pub fn parse(args: &[OsString]) -> Option<Result<super::args::Command, String>> {
    use lexopt::prelude::*;
    let mut p = lexopt::Parser::from_args(args.iter().cloned());
    let mut words: Vec<String> = Vec::new();
    let mut data = None;
    let (mut format, mut out, mut host, mut port, mut login) = (None, None, None, None, None);
    let (mut tls, mut starttls, mut password_file, mut ca) = (false, false, None, None);
    let mut password = None;
    let result = (|| -> Result<Option<TransferCommand>, String> {
        while let Some(arg) = p.next().map_err(|e| e.to_string())? {
            macro_rules! value {
                () => {
                    p.value().map_err(|e| e.to_string())
                };
            }
            match arg {
                Value(v) => {
                    let w = text(v, "argument")?;
                    if words.is_empty()
                        && !matches!(w.as_str(), "export" | "import" | "import-imap")
                    {
                        return Ok(None);
                    }
                    words.push(w);
                }
                Long("data") | Short('d') => data = Some(path_arg(value!()?)),
                _ if words.is_empty() => return Ok(None),
                Long("format") => {
                    format = Some(match text(value!()?, "--format")?.as_str() {
                        "mbox" => Format::Mbox,
                        "maildir" => Format::Maildir,
                        other => return Err(format!("--format: `{other}` is not mbox or maildir")),
                    })
                }
                Long("out") => out = Some(path_arg(value!()?)),
                Long("host") => host = Some(text(value!()?, "--host")?),
                Long("port") => {
                    let v = text(value!()?, "--port")?;
                    port = Some(
                        v.parse::<u16>()
                            .ok()
                            .filter(|p| *p != 0)
                            .ok_or_else(|| format!("--port: `{v}` is not a port number"))?,
                    );
                }
                Long("user") => login = Some(text(value!()?, "--user")?),
                Long("tls") => tls = true,
                Long("starttls") => starttls = true,
                Long("password-file") => password_file = Some(path_arg(value!()?)),
                // How the control socket carries the password the CLI read.
                Long("password") => password = Some(text(value!()?, "--password")?),
                Long("ca") => ca = Some(path_arg(value!()?)),
                other => return Err(other.unexpected().to_string()),
            }
        }
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        let refuse = |flags: &[(&str, bool)]| match flags.iter().find(|(_, set)| *set) {
            Some((name, _)) => Err(format!("{name} does not apply to this command")),
            None => Ok(()),
        };
        let imap_flags = [
            ("--host", host.is_some()),
            ("--port", port.is_some()),
            ("--user", login.is_some()),
            ("--tls", tls),
            ("--starttls", starttls),
            ("--password-file", password_file.is_some()),
            ("--ca", ca.is_some()),
        ];
        Ok(Some(match w.as_slice() {
            ["export", user] => {
                refuse(&imap_flags)?;
                refuse(&[("--password", password.is_some())])?;
                TransferCommand::Export {
                    user: user.to_string(),
                    format: format
                        .take()
                        .ok_or("export needs --format mbox or --format maildir")?,
                    out: out.take(),
                }
            }
            ["import", user, path] => {
                refuse(&imap_flags)?;
                refuse(&[("--password", password.is_some())])?;
                refuse(&[("--format", format.is_some()), ("--out", out.is_some())])?;
                TransferCommand::Import {
                    user: user.to_string(),
                    path: PathBuf::from(path),
                }
            }
            ["import-imap", user] => {
                refuse(&[("--format", format.is_some()), ("--out", out.is_some())])?;
                if tls && starttls {
                    return Err("give --tls or --starttls, not both".into());
                }
                TransferCommand::ImportImap(ImapSource {
                    user: user.to_string(),
                    host: host.take().ok_or("import-imap needs --host H")?,
                    port,
                    security: if starttls {
                        Security::StartTls
                    } else {
                        Security::Tls
                    },
                    login: login.take().ok_or("import-imap needs --user LOGIN")?,
                    password: password.take(),
                    password_file: password_file.take(),
                    ca: ca.take(),
                })
            }
            _ => {
                return Err(format!(
                    "incomplete or wrong arguments for `{}` (see `mailnook help`)",
                    words.join(" ")
                ));
            }
        }))
    })();
    match result {
        Ok(None) => None,
        Ok(Some(cmd)) => Some(Ok(super::args::Command::Admin {
            data: data.unwrap_or_else(super::args::default_data),
            cmd: super::args::AdminCommand::Transfer(cmd),
        })),
        Err(e) => Some(Err(e)),
    }
}

fn path_text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

impl TransferCommand {
    /// The argv that parses back to this command (the password included, for the owner-only
    /// control socket only).
    pub fn to_args(&self) -> Vec<String> {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        match self {
            TransferCommand::Export { user, format, out } => {
                let f = match format {
                    Format::Mbox => "mbox",
                    Format::Maildir => "maildir",
                };
                let mut a = s(&["export", user, "--format", f]);
                if let Some(o) = out {
                    a.extend(s(&["--out", &path_text(o)]));
                }
                a
            }
            TransferCommand::Import { user, path } => s(&["import", user, &path_text(path)]),
            TransferCommand::ImportImap(src) => {
                let mut a = s(&[
                    "import-imap",
                    &src.user,
                    "--host",
                    &src.host,
                    "--user",
                    &src.login,
                ]);
                if let Some(p) = src.port {
                    a.extend(s(&["--port", &p.to_string()]));
                }
                a.push(match src.security {
                    Security::Tls => "--tls".into(),
                    Security::StartTls => "--starttls".into(),
                });
                if let Some(ca) = &src.ca {
                    a.extend(s(&["--ca", &path_text(ca)]));
                }
                if let Some(pw) = &src.password {
                    a.extend(s(&["--password", pw]));
                }
                a
            }
        }
    }

    /// What the CLI does before the command runs anywhere: makes paths absolute (the server's
    /// working folder is not the caller's) and reads the IMAP password.
    pub fn prepare(
        &mut self,
        read_password: impl Fn(&str) -> Result<String, String>,
    ) -> Result<(), String> {
        let abs = |p: &mut PathBuf| -> Result<(), String> {
            *p = std::path::absolute(&*p).map_err(|e| format!("{}: {e}", p.display()))?;
            if p.to_str().is_none() {
                return Err(format!("{}: the path is not valid UTF-8", p.display()));
            }
            Ok(())
        };
        match self {
            TransferCommand::Export { user, format, out } => {
                let mut p = out.take().unwrap_or_else(|| {
                    PathBuf::from(match format {
                        Format::Mbox => format!("{user}.mbox"),
                        Format::Maildir => format!("{user}.maildir"),
                    })
                });
                abs(&mut p)?;
                *out = Some(p);
            }
            TransferCommand::Import { path, .. } => abs(path)?,
            TransferCommand::ImportImap(src) => {
                if let Some(ca) = &mut src.ca {
                    abs(ca)?;
                }
                if src.password.is_none() {
                    src.password = Some(match src.password_file.take() {
                        Some(f) => password_from_file(&f)?,
                        None => {
                            read_password(&format!("Password for {} at {}: ", src.login, src.host))?
                        }
                    });
                }
            }
        }
        Ok(())
    }
}

/// The first line of a password file (at most 4 KiB read); an error if it is empty.
pub(super) fn password_from_file(f: &Path) -> Result<String, String> {
    let mut text = String::new();
    File::open(f)
        .and_then(|h| h.take(4096).read_to_string(&mut text))
        .map_err(|e| format!("{}: {e}", f.display()))?;
    let pw = text.lines().next().unwrap_or("").to_string();
    if pw.is_empty() {
        return Err(format!("{}: no password in the file", f.display()));
    }
    Ok(pw)
}

/// Runs one of these commands on the store (blocking).
pub fn execute(
    cmd: &TransferCommand,
    store: &Store,
    out: &mut dyn Write,
) -> Result<(), AdminError> {
    match cmd {
        TransferCommand::Export {
            user,
            format,
            out: path,
        } => {
            let path = path
                .as_deref()
                .ok_or_else(|| AdminError::Invalid("export needs --out PATH".into()))?;
            export(store, &user_id(store, user)?, *format, path, out)
        }
        TransferCommand::Import { user, path } => import(store, &user_id(store, user)?, path, out),
        TransferCommand::ImportImap(src) => {
            super::import_imap::run(store, &user_id(store, user_of(src))?, src, out)
        }
    }
}

fn user_of(src: &ImapSource) -> &str {
    &src.user
}

/// A user, checked to exist.
pub(super) fn user_id(store: &Store, email: &str) -> Result<(UserId, String), AdminError> {
    let normal = crate::message::address::normalize(email)
        .ok_or_else(|| AdminError::Invalid(format!("`{email}` is not a valid email address")))?;
    let u = store
        .user(&normal)?
        .ok_or_else(|| AdminError::Invalid(format!("no such user: {normal}")))?;
    Ok((u.id, normal))
}

/// A stored body as a [`Read`] (one short read transaction per call).
pub struct BodyRead<'a> {
    reader: &'a BodyReader,
    pos: u64,
}

impl BodyRead<'_> {
    /// Reads `reader` from its start.
    pub fn new(reader: &BodyReader) -> BodyRead<'_> {
        BodyRead { reader, pos: 0 }
    }
}

impl Read for BodyRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.reader.read_at(self.pos, buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// Escapes one mailbox name level as a file name: `%` and a leading `.` become `%XX`, and so
/// does the `.` of a level ending in `.sbd` or `.msf` (Thunderbird's folder and index
/// suffixes).
fn file_level(level: &str) -> String {
    let mut s = String::new();
    for (i, c) in level.chars().enumerate() {
        match c {
            '%' => s.push_str("%25"),
            '.' if i == 0 => s.push_str("%2E"),
            c => s.push(c),
        }
    }
    for suffix in [".sbd", ".msf"] {
        if s.len() > 4 && s.ends_with(suffix) {
            let cut = s.len() - 4;
            s = format!("{}%2E{}", &s[..cut], &suffix[1..]);
        }
    }
    s
}

fn unescape_level(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mbox file of a mailbox inside an export folder: `a/b` is `a.sbd/b` (Thunderbird's
/// layout: the file `a` holds `a`'s own messages, the folder `a.sbd` its children).
pub fn mbox_path(root: &Path, mailbox: &str) -> PathBuf {
    let levels: Vec<&str> = mailbox.split('/').collect();
    let mut p = root.to_path_buf();
    for (i, level) in levels.iter().enumerate() {
        if i + 1 < levels.len() {
            p.push(format!("{}.sbd", file_level(level)));
        } else {
            p.push(file_level(level));
        }
    }
    p
}

/// Names of the mbox files of an export folder, as [`mbox_path`] lays them out, relative.
pub fn mbox_file_name(mailbox: &str) -> String {
    let p = mbox_path(Path::new(""), mailbox);
    p.to_string_lossy().into_owned()
}

fn create_private_dir(p: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().recursive(true).mode(0o700).create(p)
}

fn export(
    store: &Store,
    (user, email): &(UserId, String),
    format: Format,
    root: &Path,
    out: &mut dyn Write,
) -> Result<(), AdminError> {
    if root.exists() {
        return Err(AdminError::Invalid(format!(
            "{} exists; give a new path with --out",
            root.display()
        )));
    }
    create_private_dir(root)?;
    let host = super::admin::machine_hostname();
    let (mut total, mut boxes) = (0u64, 0u64);
    for mb in store.mailboxes(*user)? {
        let messages = store.messages(mb.id)?;
        let mut written = 0u64;
        match format {
            Format::Mbox => {
                let path = mbox_path(root, &mb.row.name);
                if let Some(dir) = path.parent() {
                    create_private_dir(dir)?;
                }
                let mut w = mbox::MboxWriter::new(BufWriter::new(File::create_new(&path)?));
                for m in &messages {
                    let Some(reader) = store.open_body(BodyId(m.row.body))? else {
                        continue; // expunged since the list was read, and its bytes are gone
                    };
                    w.write_message(
                        m.row.internal_date,
                        m.row.flags,
                        &m.row.keywords,
                        BodyRead::new(&reader),
                    )?;
                    written += 1;
                }
                w.finish()?
                    .into_inner()
                    .map_err(|e| e.into_error())?
                    .sync_all()?;
            }
            Format::Maildir => {
                let dir = match maildir::folder_of(&mb.row.name) {
                    Some(f) => root.join(f),
                    None => root.to_path_buf(),
                };
                for sub in ["cur", "new", "tmp"] {
                    create_private_dir(&dir.join(sub))?;
                }
                if dir != root {
                    File::create(dir.join(maildir::FOLDER_MARKER))?;
                }
                let mut letters = maildir::Keywords::default();
                let mut uidlist = format!("3 V{} N{}\n", mb.row.uidvalidity, mb.row.uidnext);
                for m in &messages {
                    let Some(reader) = store.open_body(BodyId(m.row.body))? else {
                        continue;
                    };
                    let (info, lost) = maildir::info(m.row.flags, &m.row.keywords, &mut letters);
                    if !lost.is_empty() {
                        writeln!(
                            out,
                            "{}: UID {}: keywords left out (a Maildir folder has room for {}): {}",
                            mb.row.name,
                            m.uid.get(),
                            maildir::MAX_KEYWORDS,
                            lost.join(" ")
                        )?;
                    }
                    let base = format!(
                        "{}.M{}P{}.{host},S={}",
                        m.row.internal_date,
                        m.uid.get(),
                        std::process::id(),
                        m.row.size
                    );
                    let tmp = dir.join("tmp").join(&base);
                    let mut f = File::create_new(&tmp)?;
                    io::copy(&mut BodyRead::new(&reader), &mut BufWriter::new(&mut f))?;
                    f.set_modified(
                        std::time::UNIX_EPOCH + std::time::Duration::from_secs(m.row.internal_date),
                    )?;
                    drop(f);
                    fs::rename(&tmp, dir.join("cur").join(format!("{base}{info}")))?;
                    uidlist.push_str(&format!("{} :{base}\n", m.uid.get()));
                    written += 1;
                }
                if !letters.is_empty() {
                    fs::write(dir.join(maildir::KEYWORDS_FILE), letters.to_file())?;
                }
                fs::write(dir.join(maildir::UIDLIST_FILE), uidlist)?;
            }
        }
        writeln!(out, "{}\t{written} messages", mb.row.name)?;
        total += written;
        boxes += 1;
    }
    writeln!(
        out,
        "exported {total} messages in {boxes} mailboxes of {email} to {}",
        root.display()
    )?;
    Ok(())
}

/// Counts what goes through it.
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes a user's mail as a tar of mbox files (`mail/INBOX`, `mail/Work.sbd/Projects`, the
/// export layout) to `out`, streaming. A tar entry's size comes before its data, so each
/// mailbox is written twice: once into a counter, then for real, from the same snapshot (its
/// bodies stay pinned in between, so both passes see the same bytes). Blocking.
pub fn write_mbox_tar(store: &Store, user: UserId, out: &mut dyn Write) -> io::Result<()> {
    let err = |e: store::Error| io::Error::other(e.to_string());
    let mut tar = mailfile::tar::TarWriter::new(out);
    let now = crate::time::unix_now();
    for mb in store.mailboxes(user).map_err(err)? {
        let mut pinned = Vec::new();
        for m in store.messages(mb.id).map_err(err)? {
            if let Some(r) = store.open_body(BodyId(m.row.body)).map_err(err)? {
                pinned.push((m, r));
            }
        }
        let write_all = |w: &mut dyn Write| -> io::Result<()> {
            let mut mw = mbox::MboxWriter::new(w);
            for (m, r) in &pinned {
                mw.write_message(
                    m.row.internal_date,
                    m.row.flags,
                    &m.row.keywords,
                    BodyRead::new(r),
                )?;
            }
            mw.finish().map(|_| ())
        };
        let mut count = Counter(0);
        write_all(&mut count)?;
        let path = format!("mail/{}", mbox_file_name(&mb.row.name));
        tar.file(&path, count.0, now, |w| {
            let mut counted = CountingWriter { inner: w, n: 0 };
            write_all(&mut counted)?;
            Ok(counted.n)
        })?;
    }
    tar.finish().map(|_| ())
}

/// Passes writes through, counting them.
struct CountingWriter<'a> {
    inner: &'a mut dyn Write,
    n: u64,
}

impl Write for CountingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// What one source file or folder becomes.
enum Source {
    Mbox(PathBuf),
    Maildir(PathBuf),
}

/// Most entries walked in a folder tree of mbox files or Maildirs.
const MAX_TREE_ENTRIES: usize = 100_000;
/// Deepest folder level walked.
const MAX_TREE_DEPTH: usize = 16;

fn is_maildir(p: &Path) -> bool {
    p.join("cur").is_dir()
}

/// The mailbox an mbox file name stands for (`Inbox`, `inbox.mbox` → INBOX).
fn mailbox_of_file(name: &str) -> String {
    let stem = name
        .strip_suffix(".mbox")
        .or_else(|| name.strip_suffix(".mbx"))
        .filter(|s| !s.is_empty())
        .unwrap_or(name);
    let n = unescape_level(stem);
    if n.eq_ignore_ascii_case("INBOX") {
        "INBOX".into()
    } else {
        n
    }
}

fn normal_mailbox(levels: &[String]) -> String {
    let name = levels.join("/");
    match name.split_once('/') {
        Some((first, rest)) if first.eq_ignore_ascii_case("INBOX") => format!("INBOX/{rest}"),
        _ if name.eq_ignore_ascii_case("INBOX") => "INBOX".into(),
        _ => name,
    }
}

/// Finds what to import under `path`: (mailbox, source) pairs in a stable order.
fn sources(path: &Path) -> Result<Vec<(String, Source)>, AdminError> {
    let meta =
        fs::metadata(path).map_err(|e| AdminError::Invalid(format!("{}: {e}", path.display())))?;
    if meta.is_file() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        return Ok(vec![(
            mailbox_of_file(&name),
            Source::Mbox(path.to_path_buf()),
        )]);
    }
    let mut found = Vec::new();
    if is_maildir(path) {
        found.push(("INBOX".to_string(), Source::Maildir(path.to_path_buf())));
        let mut names: Vec<String> = fs::read_dir(path)?
            .filter_map(|e| e.ok())
            .take(MAX_TREE_ENTRIES)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for n in names {
            let p = path.join(&n);
            if let Some(mb) = maildir::mailbox_of(&n)
                && is_maildir(&p)
            {
                found.push((mb, Source::Maildir(p)));
            }
        }
        return Ok(found);
    }
    let mut seen = 0usize;
    walk(path, &mut Vec::new(), &mut found, &mut seen)?;
    Ok(found)
}

/// Walks a folder of mbox files (Thunderbird `.sbd` folders, mutt folders of mbox files or of
/// Maildirs); hidden entries and Thunderbird's `.msf` index files are skipped.
fn walk(
    dir: &Path,
    levels: &mut Vec<String>,
    found: &mut Vec<(String, Source)>,
    seen: &mut usize,
) -> Result<(), AdminError> {
    if levels.len() >= MAX_TREE_DEPTH {
        return Err(AdminError::Invalid(format!(
            "{}: folders nested too deep",
            dir.display()
        )));
    }
    let mut entries: Vec<(String, PathBuf)> = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        *seen += 1;
        if *seen > MAX_TREE_ENTRIES {
            return Err(AdminError::Invalid(format!(
                "{}: more than {MAX_TREE_ENTRIES} files",
                dir.display()
            )));
        }
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.ends_with(".msf") {
            continue;
        }
        entries.push((name, e.path()));
    }
    entries.sort();
    for (name, p) in entries {
        if p.is_dir() {
            if is_maildir(&p) {
                levels.push(unescape_level(&name));
                found.push((normal_mailbox(levels), Source::Maildir(p)));
            } else {
                levels.push(unescape_level(name.strip_suffix(".sbd").unwrap_or(&name)));
                walk(&p, levels, found, seen)?;
            }
            levels.pop();
        } else if p.is_file() {
            levels.push(mailbox_of_file(&name));
            found.push((normal_mailbox(levels), Source::Mbox(p)));
            levels.pop();
        }
    }
    Ok(())
}

/// Appends messages streamed from files to one mailbox.
struct Importer<'a> {
    store: &'a Store,
    mailbox: MailboxId,
    name: String,
    max_bytes: u64,
    out: &'a mut dyn Write,
    /// Where messages come from, for reports.
    file: String,
    /// Whether `file` is an mbox (reports say which message of it).
    mbox: bool,
    current: Option<Current>,
    imported: u64,
    skipped: u64,
}

struct Current {
    sink: Option<MessageSink>,
    size: u64,
    index: u64,
    offset: u64,
    problem: Option<String>,
}

impl Importer<'_> {
    fn report(&mut self, what: &str) {
        let _ = writeln!(self.out, "{}: {what}", self.file);
    }
}

impl Receiver for Importer<'_> {
    fn begin(&mut self, index: u64, offset: u64) {
        self.current = Some(Current {
            sink: Some(MessageSink::new(self.store)),
            size: 0,
            index,
            offset,
            problem: None,
        });
    }

    fn data(&mut self, bytes: &[u8]) {
        let Some(c) = self.current.as_mut() else {
            return;
        };
        if c.problem.is_some() {
            return;
        }
        c.size += bytes.len() as u64;
        if c.size > self.max_bytes {
            c.problem = Some(format!(
                "larger than the message size limit of {} bytes (smtp.max_message_bytes)",
                self.max_bytes
            ));
        } else if let Some(sink) = c.sink.as_mut()
            && let Err(e) = block_on(sink.write(bytes))
        {
            c.problem = Some(format!("not stored: {e}"));
        }
        if c.problem.is_some()
            && let Some(sink) = c.sink.take()
        {
            block_on(sink.discard());
        }
    }

    fn end(&mut self, meta: Meta) {
        let Some(mut c) = self.current.take() else {
            return;
        };
        let at = if self.mbox {
            format!("message {} (at byte {})", c.index, c.offset)
        } else {
            "message".to_string()
        };
        let mut keywords = Vec::new();
        for k in meta.keywords {
            if store::check_keyword(&k).is_err() {
                self.report(&format!(
                    "{at}: keyword {k:?} is not an IMAP keyword; left out"
                ));
            } else if keywords.len() >= store::schema::MAX_KEYWORDS_PER_MESSAGE {
                self.report(&format!("{at}: too many keywords; {k:?} left out"));
            } else {
                keywords.push(k);
            }
        }
        let result = match (c.problem.take(), c.sink.take()) {
            (Some(p), _) => Err(p),
            (None, Some(sink)) => {
                let date = meta.internal_date.unwrap_or_else(crate::time::unix_now);
                block_on(sink.append(self.mailbox, meta.flags, keywords, date))
                    .map(|_| ())
                    .map_err(|e| format!("not stored: {e}"))
            }
            (None, None) => Err("not stored".into()),
        };
        match result {
            Ok(()) => self.imported += 1,
            Err(why) => {
                self.skipped += 1;
                self.report(&format!("{at}: {why}; skipped"));
            }
        }
    }
}

/// Streams one file through `to` as a single message (Maildir), fixing line endings.
fn read_message_file(path: &Path, index: u64, meta: Meta, to: &mut dyn Receiver) -> io::Result<()> {
    let mut lines = Lines::new(BufReader::with_capacity(64 * 1024, File::open(path)?));
    let mut fixer = CrlfFixer::default();
    let mut buf = Vec::new();
    to.begin(index, 0);
    while lines.advance()? {
        buf.clear();
        fixer.fix(lines.piece(), &mut buf);
        to.data(&buf);
    }
    to.end(meta);
    Ok(())
}

fn mtime(path: &Path) -> Option<u64> {
    fs::metadata(path)
        .ok()?
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

fn import_maildir(dir: &Path, imp: &mut Importer<'_>) -> Result<(), AdminError> {
    let keywords = match File::open(dir.join(maildir::KEYWORDS_FILE)) {
        Ok(f) => {
            let mut text = String::new();
            f.take(64 * 1024).read_to_string(&mut text)?;
            maildir::Keywords::parse(&text)
        }
        Err(_) => maildir::Keywords::default(),
    };
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for sub in ["cur", "new"] {
        let Ok(rd) = fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for e in rd {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') && e.file_type()?.is_file() {
                files.push((name, e.path()));
            }
            if files.len() > 10 * MAX_TREE_ENTRIES {
                return Err(AdminError::Invalid(format!(
                    "{}: too many files",
                    dir.display()
                )));
            }
        }
    }
    // UID order from Dovecot's list where there is one; else (and for files it does not list)
    // oldest first by INTERNALDATE (the file's mtime), then by name.
    let order: std::collections::HashMap<String, usize> =
        match File::open(dir.join(maildir::UIDLIST_FILE)) {
            Ok(f) => {
                let mut text = String::new();
                f.take(64 * 1024 * 1024).read_to_string(&mut text)?;
                maildir::parse_uidlist(&text, files.len() + 1)
                    .into_iter()
                    .enumerate()
                    .map(|(i, n)| (n, i))
                    .collect()
            }
            Err(_) => Default::default(),
        };
    let mut files: Vec<(usize, Option<u64>, String, PathBuf)> = files
        .into_iter()
        .map(|(name, path)| {
            let listed = order
                .get(maildir::base_name(&name))
                .copied()
                .unwrap_or(usize::MAX);
            (listed, mtime(&path), name, path)
        })
        .collect();
    files.sort();
    for (i, (_, date, name, path)) in files.iter().enumerate() {
        let mut meta = maildir::parse_info(name, &keywords);
        meta.internal_date = *date;
        imp.file = path.display().to_string();
        read_message_file(path, i as u64 + 1, meta, imp)?;
    }
    Ok(())
}

/// The id of a user's mailbox, created (with its superiors) if missing.
pub(super) fn ensure_mailbox(
    store: &Store,
    user: UserId,
    name: &str,
    special_use: store::SpecialUse,
) -> Result<MailboxId, AdminError> {
    if let Some(mb) = store.mailbox(user, name)? {
        return Ok(mb.id);
    }
    store::check_mailbox_name(name).map_err(store::Error::from)?;
    match store.call_blocking(Op::CreateMailbox {
        user,
        name: name.to_string(),
        special_use,
    })? {
        store::Done::Mailbox { id, .. } => Ok(id),
        _ => Err(AdminError::Invalid(format!("creating {name} failed"))),
    }
}

fn import(
    store: &Store,
    (user, email): &(UserId, String),
    path: &Path,
    out: &mut dyn Write,
) -> Result<(), AdminError> {
    let max_bytes = store.config()?.smtp_max_message_bytes;
    let (mut imported, mut skipped, mut boxes) = (0u64, 0u64, 0u64);
    for (name, source) in sources(path)? {
        let mailbox = match ensure_mailbox(store, *user, &name, store::SpecialUse::None) {
            Ok(id) => id,
            Err(e) => {
                writeln!(out, "{name}: {e}; folder skipped")?;
                skipped += 1;
                continue;
            }
        };
        let mut imp = Importer {
            store,
            mailbox,
            name: name.clone(),
            max_bytes,
            out: &mut *out,
            file: String::new(),
            mbox: false,
            current: None,
            imported: 0,
            skipped: 0,
        };
        match source {
            Source::Mbox(p) => {
                imp.file = p.display().to_string();
                imp.mbox = true;
                let f = File::open(&p)?;
                if let Err(e) = mbox::read(BufReader::with_capacity(64 * 1024, f), &mut imp) {
                    imp.report(&format!("{e}; file skipped"));
                    imp.skipped += 1;
                }
            }
            Source::Maildir(p) => import_maildir(&p, &mut imp)?,
        }
        let (n, s, label) = (imp.imported, imp.skipped, imp.name);
        writeln!(out, "{label}\t{n} messages imported")?;
        imported += n;
        skipped += s;
        boxes += 1;
    }
    writeln!(
        out,
        "imported {imported} messages into {boxes} mailboxes of {email}"
    )?;
    if skipped > 0 {
        return Err(AdminError::Invalid(format!(
            "{skipped} messages or files were skipped (see above)"
        )));
    }
    Ok(())
}

/// Imports one mbox stream (an upload on the web page) into the user's mailbox `name`, created
/// if missing; writes the same report as `import`. Returns (imported, skipped).
pub fn import_mbox_stream(
    store: &Store,
    user: UserId,
    name: &str,
    input: impl std::io::Read,
    out: &mut dyn Write,
) -> Result<(u64, u64), AdminError> {
    let mailbox = ensure_mailbox(store, user, name, store::SpecialUse::None)?;
    let mut imp = Importer {
        store,
        mailbox,
        name: name.to_string(),
        max_bytes: store.config()?.smtp_max_message_bytes,
        out,
        file: "the uploaded file".into(),
        mbox: true,
        current: None,
        imported: 0,
        skipped: 0,
    };
    if let Err(e) = mbox::read(BufReader::with_capacity(64 * 1024, input), &mut imp) {
        imp.report(&format!("{e}; the rest of the file skipped"));
        imp.skipped += 1;
    }
    let (n, s) = (imp.imported, imp.skipped);
    writeln!(imp.out, "{name}\t{n} messages imported")?;
    Ok((n, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbox_paths_follow_thunderbird_and_escape() {
        assert_eq!(mbox_file_name("INBOX"), "INBOX");
        assert_eq!(mbox_file_name("a/b/c"), "a.sbd/b.sbd/c");
        assert_eq!(mbox_file_name(".hidden/x%y"), "%2Ehidden.sbd/x%25y");
        assert_eq!(mbox_file_name("old.sbd"), "old%2Esbd");
        for name in ["a%b", ".x", "y.msf", "Entwürfe"] {
            assert_eq!(mailbox_of_file(&file_level(name)), name);
        }
        assert_eq!(mailbox_of_file("inbox.mbox"), "INBOX");
    }

    #[test]
    fn parses_and_round_trips_commands() {
        let argv = |s: &str| s.split_whitespace().map(OsString::from).collect::<Vec<_>>();
        for line in [
            "export a@x.test --format mbox --out /tmp/o",
            "export a@x.test --format maildir",
            "import a@x.test /tmp/in",
            "import-imap a@x.test --host h.test --user bob --starttls --port 1143 --ca /c.pem",
        ] {
            let Some(Ok(super::super::args::Command::Admin { cmd, .. })) = parse(&argv(line))
            else {
                panic!("{line}")
            };
            let back = parse(
                &cmd.to_args()
                    .into_iter()
                    .map(OsString::from)
                    .collect::<Vec<_>>(),
            );
            assert!(
                matches!(back, Some(Ok(super::super::args::Command::Admin { cmd: c, .. })) if c == cmd),
                "{line}"
            );
        }
        assert!(parse(&argv("user list")).is_none());
        assert!(
            parse(&argv("export a@x.test"))
                .unwrap()
                .unwrap_err()
                .contains("--format")
        );
        assert!(
            parse(&argv("import a@x.test /p --host x"))
                .unwrap()
                .unwrap_err()
                .contains("does not apply")
        );
        assert!(
            parse(&argv("import-imap a@x.test --host h"))
                .unwrap()
                .unwrap_err()
                .contains("--user")
        );
        assert!(
            parse(&argv(
                "import-imap a@x.test --host h --user u --tls --starttls"
            ))
            .unwrap()
            .is_err()
        );
    }
}

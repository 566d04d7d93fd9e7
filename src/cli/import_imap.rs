//! `mailnook import-imap`: copies every folder of an account on another IMAP server into a
//! local user's mailboxes, with each message's bytes, flags, keywords and INTERNALDATE.
//!
//! Runs where every admin command runs (see [`super::transfer`]): in the CLI process with the
//! server stopped, or on a worker thread of the running server through the control socket. The
//! socket I/O is blocking std I/O with timeouts, never on the executor thread; the protocol
//! parsing is [`crate::imap_client`]'s.
//!
//! Invariants:
//! - TLS always: implicit (`--tls`, port 993) or STARTTLS (`--starttls`, port 143), the
//!   certificate checked against the bundled web roots or the `--ca` file, host name included.
//!   After STARTTLS nothing the server sent before the handshake is used.
//! - Each message is streamed from the FETCH literal into the store's upload path
//!   ([`MessageSink`], the one IMAP APPEND uses) and committed whole, or not at all; a message
//!   over `smtp.max_message_bytes` is reported and skipped.
//! - Re-running copies only what is new: per source folder the STATE table keeps
//!   (UIDVALIDITY, highest UID copied) under a key made from the local user, the host, the login
//!   and the folder, updated durably after each message. A changed UIDVALIDITY means the old
//!   server renumbered the folder: it is copied again from the start. An interrupted run
//!   re-copies at most the one message whose append and bookkeeping a crash separated.
//! - Folders map by name, the remote hierarchy delimiter becoming `/`; folders with an RFC 6154
//!   special use (LIST RETURN (SPECIAL-USE)) or a common name (`Sent Items`, `Deleted
//!   Messages`, `Spam`, ...) go to the user's mailbox of that use. `\All` and `\Flagged`
//!   folders (views of other folders) and `\Noselect` ones are skipped.

use super::admin::AdminError;
use super::transfer::{ImapSource, Security, ensure_mailbox};
use crate::delivery::MessageSink;
use crate::imap_client::{Fragment, ListEntry, Response, ResponseReader, Token, quoted};
use crate::store::{self, MailboxId, Op, SpecialUse, Store, UserId};
use futures_lite::future::block_on;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// Messages fetched per UID FETCH.
const BATCH: usize = 50;
/// Socket timeouts of `import-imap` (collection has its own, from the settings).
const TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(30),
    io: Duration::from_secs(120),
};
/// Most folders copied from one account.
const MAX_FOLDERS: usize = 10_000;

fn failed(what: impl std::fmt::Display) -> AdminError {
    AdminError::Invalid(what.to_string())
}

/// How long to wait for a connection and for each read or write.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timeouts {
    /// Connecting.
    pub connect: Duration,
    /// Each read or write.
    pub io: Duration,
}

/// A connection to the other server, before or after TLS.
pub(super) enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// What a command's responses go to.
pub(super) trait Handler {
    /// A literal of `size` bytes starts in `resp`; true to stream it to
    /// [`Handler::literal_data`], false to keep it in the response (small ones only).
    fn literal_start(&mut self, _resp: &Response, _size: u64) -> bool {
        false
    }
    /// Streamed literal bytes.
    fn literal_data(&mut self, _data: &[u8]) {}
    /// A complete untagged response.
    fn untagged(&mut self, resp: Response);
}

/// Keeps untagged responses.
#[derive(Default)]
pub(super) struct Collect(pub Vec<Response>);

impl Handler for Collect {
    fn untagged(&mut self, resp: Response) {
        self.0.push(resp);
    }
}

/// An IMAP connection with its response reader.
pub(super) struct Client {
    conn: Conn,
    reader: ResponseReader,
    next_tag: u32,
    buf: Vec<u8>,
}

/// Reads what the server sent next into `buf`; an error at its end.
pub(super) fn read_some<'b>(conn: &mut Conn, buf: &'b mut [u8]) -> Result<&'b [u8], AdminError> {
    let n = conn
        .read(buf)
        .map_err(|e| failed(format!("reading from the server: {e}")))?;
    if n == 0 {
        return Err(failed("the server closed the connection"));
    }
    Ok(&buf[..n])
}

impl Client {
    fn fill(&mut self) -> Result<(), AdminError> {
        let data = read_some(&mut self.conn, &mut self.buf)?;
        self.reader.feed(data);
        Ok(())
    }

    /// Reads one whole response, streaming literals as `h` asks.
    fn response(&mut self, h: &mut dyn Handler) -> Result<Response, AdminError> {
        let mut resp = Response::default();
        let mut literals = 0usize;
        let mut inline: Option<Vec<u8>> = None;
        let mut streaming = false;
        loop {
            let Some(frag) = self.reader.next_fragment().map_err(failed)? else {
                self.fill()?;
                continue;
            };
            match frag {
                Fragment::Line { text, literal } => {
                    let text = match literal {
                        Some(_) => &text[..text.iter().rposition(|&b| b == b'{').unwrap_or(0)],
                        None => &text[..],
                    };
                    resp.push_line(text).map_err(failed)?;
                    match literal {
                        None => return Ok(resp),
                        Some(n) => {
                            streaming = h.literal_start(&resp, n);
                            if !streaming {
                                if n > crate::imap_client::MAX_INLINE_LITERAL {
                                    return Err(failed(format!(
                                        "unexpected literal of {n} bytes from the server"
                                    )));
                                }
                                inline = Some(Vec::new());
                            }
                        }
                    }
                }
                Fragment::LiteralData(d) => {
                    if streaming {
                        h.literal_data(&d);
                    } else if let Some(b) = inline.as_mut() {
                        b.extend_from_slice(&d);
                    }
                }
                Fragment::LiteralEnd => {
                    if streaming {
                        resp.tokens.push(Token::Literal(literals));
                        literals += 1;
                    } else {
                        resp.tokens
                            .push(Token::Str(inline.take().unwrap_or_default()));
                    }
                    streaming = false;
                }
            }
        }
    }

    /// Sends a command and reads up to its tagged answer; `Err` unless it is OK.
    pub(super) fn run(
        &mut self,
        command: &str,
        h: &mut dyn Handler,
    ) -> Result<Response, AdminError> {
        self.run_with(command, None, h)
    }

    fn run_with(
        &mut self,
        command: &str,
        continuation: Option<&str>,
        h: &mut dyn Handler,
    ) -> Result<Response, AdminError> {
        self.next_tag += 1;
        let tag = format!("m{}", self.next_tag);
        self.conn
            .write_all(format!("{tag} {command}\r\n").as_bytes())
            .and_then(|_| self.conn.flush())
            .map_err(|e| failed(format!("writing to the server: {e}")))?;
        let verb = command.split(' ').take(2).collect::<Vec<_>>().join(" ");
        loop {
            let resp = self.response(h)?;
            match resp.tag() {
                Some("*") => {
                    if resp.status().is_some_and(|(s, _)| s == "BYE") {
                        return Err(failed(format!(
                            "the server said goodbye: {}",
                            resp.status().map(|s| s.1).unwrap_or_default()
                        )));
                    }
                    h.untagged(resp)
                }
                Some("+") => {
                    let line = continuation.ok_or_else(|| failed("unexpected continuation"))?;
                    self.conn
                        .write_all(format!("{line}\r\n").as_bytes())
                        .and_then(|_| self.conn.flush())
                        .map_err(|e| failed(format!("writing to the server: {e}")))?;
                }
                Some(t) if t == tag => {
                    return match resp.status() {
                        Some((s, _)) if s == "OK" => Ok(resp),
                        Some((s, text)) => Err(failed(format!("{verb}: {s} {text}"))),
                        None => Err(failed(format!("{verb}: malformed answer"))),
                    };
                }
                _ => return Err(failed("the server answered a command it was not sent")),
            }
        }
    }
}

fn tls_config(src: &ImapSource) -> Result<Arc<rustls::ClientConfig>, AdminError> {
    let tls = match &src.ca {
        Some(path) => {
            let pem =
                std::fs::read(path).map_err(|e| failed(format!("{}: {e}", path.display())))?;
            let mut roots = rustls::RootCertStore::empty();
            use rustls::pki_types::pem::PemObject;
            for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| failed(format!("{}: {e}", path.display())))?;
                roots
                    .add(cert)
                    .map_err(|e| failed(format!("{}: {e}", path.display())))?;
            }
            if roots.is_empty() {
                return Err(failed(format!(
                    "{}: no certificate in the file",
                    path.display()
                )));
            }
            crate::tls::client::ClientTls::with_roots(roots)
        }
        None => crate::tls::client::ClientTls::new(),
    }
    .map_err(|e| failed(format!("TLS: {e}")))?;
    let (config, _) = tls
        .config(crate::tls::client::Policy::Strict)
        .map_err(|e| failed(format!("TLS: {e}")))?;
    Ok(config)
}

pub(super) fn start_tls(
    tcp: TcpStream,
    src: &ImapSource,
) -> Result<Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>, AdminError> {
    let name = rustls::pki_types::ServerName::try_from(src.host.clone())
        .map_err(|_| failed(format!("`{}` is not a host name", src.host)))?;
    let conn = rustls::ClientConnection::new(tls_config(src)?, name)
        .map_err(|e| failed(format!("TLS: {e}")))?;
    let mut s = rustls::StreamOwned::new(conn, tcp);
    while s.conn.is_handshaking() {
        s.conn
            .complete_io(&mut s.sock)
            .map_err(|e| failed(format!("TLS with {}: {e}", src.host)))?;
    }
    Ok(Box::new(s))
}

/// A TCP connection to `src` (on `port` unless it names one), with the timeouts set.
pub(super) fn tcp(src: &ImapSource, port: u16, t: Timeouts) -> Result<TcpStream, AdminError> {
    let port = src.port.unwrap_or(port);
    let addrs: Vec<_> = (src.host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| failed(format!("{}: {e}", src.host)))?
        .collect();
    let mut last = None;
    let mut tcp = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, t.connect) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let tcp = tcp.ok_or_else(|| {
        failed(format!(
            "cannot connect to {}:{port}: {}",
            src.host,
            last.map(|e| e.to_string())
                .unwrap_or_else(|| "no address".into())
        ))
    })?;
    tcp.set_read_timeout(Some(t.io))?;
    tcp.set_write_timeout(Some(t.io))?;
    Ok(tcp)
}

/// An IMAP connection to `src`, greeted and (for STARTTLS) secured.
pub(super) fn connect(
    src: &ImapSource,
    max_literal: u64,
    t: Timeouts,
) -> Result<Client, AdminError> {
    let default_port = match src.security {
        Security::Tls => 993,
        Security::StartTls => 143,
    };
    let tcp = tcp(src, default_port, t)?;
    let conn = match src.security {
        Security::Tls => Conn::Tls(start_tls(tcp, src)?),
        Security::StartTls => Conn::Plain(tcp),
    };
    let mut c = Client {
        conn,
        reader: ResponseReader::new(max_literal),
        next_tag: 0,
        buf: vec![0; 64 * 1024],
    };
    let greeting = c.response(&mut Collect::default())?;
    match greeting.status() {
        Some((s, _)) if s == "OK" => {}
        Some((s, text)) => return Err(failed(format!("the server greeted with {s} {text}"))),
        None => return Err(failed("the server did not greet")),
    }
    if src.security == Security::StartTls {
        c.run("STARTTLS", &mut Collect::default())?;
        if c.reader.has_pending() {
            return Err(failed(
                "the server sent data after STARTTLS before the handshake",
            ));
        }
        c.reader.reset();
        let Conn::Plain(tcp) = c.conn else {
            unreachable!("STARTTLS starts on plain text")
        };
        c.conn = Conn::Tls(start_tls(tcp, src)?);
    }
    Ok(c)
}

pub(super) fn login(c: &mut Client, src: &ImapSource) -> Result<Vec<String>, AdminError> {
    let mut caps = Collect::default();
    c.run("CAPABILITY", &mut caps)?;
    let caps: Vec<String> = caps
        .0
        .iter()
        .filter_map(Response::capabilities)
        .flatten()
        .collect();
    let password = src
        .password
        .as_deref()
        .ok_or_else(|| failed("no password given"))?;
    let simple = quoted(&src.login)
        .zip(quoted(password))
        .filter(|_| password.is_ascii());
    let done = match simple {
        Some((u, p)) if !caps.iter().any(|c| c == "LOGINDISABLED") => {
            c.run(&format!("LOGIN {u} {p}"), &mut Collect::default())
        }
        _ => {
            // RFC 4616 PLAIN: authzid NUL authcid NUL passwd.
            let blob =
                crate::base64::encode(format!("\0{}\0{password}", src.login).as_bytes(), true);
            c.run_with("AUTHENTICATE PLAIN", Some(&blob), &mut Collect::default())
        }
    };
    done.map_err(|e| failed(format!("logging in as {} at {}: {e}", src.login, src.host)))?;
    // Capabilities may change after login (RFC 9051 §7.2.2).
    let mut after = Collect::default();
    c.run("CAPABILITY", &mut after)?;
    Ok(after
        .0
        .iter()
        .filter_map(Response::capabilities)
        .flatten()
        .collect())
}

/// The local mailbox a remote folder goes to, and its special use; `None` to skip it.
fn local_name(e: &ListEntry) -> Option<(String, SpecialUse)> {
    let has = |a: &str| e.attributes.iter().any(|x| x == a);
    if has("\\noselect") || has("\\nonexistent") || has("\\all") || has("\\flagged") {
        return None;
    }
    let wire = String::from_utf8_lossy(&e.name).into_owned();
    let name = crate::proto::imap::mutf7::decode(&e.name).unwrap_or(wire);
    let levels: Vec<String> = match e.delimiter {
        Some(d) if d != '/' => name.split(d).map(|l| l.replace('/', "_")).collect(),
        _ => name.split('/').map(str::to_string).collect(),
    };
    let levels: Vec<String> = levels.into_iter().filter(|l| !l.is_empty()).collect();
    let name = levels.join("/");
    if name.eq_ignore_ascii_case("INBOX") {
        return Some(("INBOX".into(), SpecialUse::None));
    }
    for (attr, use_) in [
        ("\\sent", SpecialUse::Sent),
        ("\\drafts", SpecialUse::Drafts),
        ("\\trash", SpecialUse::Trash),
        ("\\junk", SpecialUse::Junk),
        ("\\archive", SpecialUse::Archive),
    ] {
        if has(attr) {
            return Some((name, use_));
        }
    }
    let common = match name.to_ascii_lowercase().as_str() {
        "sent" | "sent items" | "sent messages" | "sent mail" => SpecialUse::Sent,
        "drafts" | "draft" => SpecialUse::Drafts,
        "trash" | "deleted items" | "deleted messages" | "bin" => SpecialUse::Trash,
        "junk" | "spam" | "junk e-mail" | "junk email" | "bulk mail" => SpecialUse::Junk,
        _ => SpecialUse::None,
    };
    let name = match name.split_once('/') {
        Some((first, rest)) if first.eq_ignore_ascii_case("INBOX") => format!("INBOX/{rest}"),
        _ => name,
    };
    Some((name, common))
}

/// The local mailbox for a folder: the user's mailbox of that special use if there is one,
/// else one of that name (created if missing).
fn target(
    store: &Store,
    user: UserId,
    name: &str,
    use_: SpecialUse,
) -> Result<(MailboxId, String), AdminError> {
    if use_ != SpecialUse::None
        && let Some(mb) = store
            .mailboxes(user)?
            .into_iter()
            .find(|m| m.row.special_use == use_)
    {
        return Ok((mb.id, mb.row.name));
    }
    Ok((ensure_mailbox(store, user, name, use_)?, name.to_string()))
}

fn state_key(user: &str, src: &ImapSource, folder: &[u8]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [
        user.as_bytes(),
        src.host.as_bytes(),
        src.login.as_bytes(),
        folder,
    ] {
        ctx.update(part);
        ctx.update(&[0]);
    }
    let hex: String = ctx
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("import-imap/{hex}")
}

pub(super) fn load_state(store: &Store, key: &str) -> Result<Option<(u32, u32)>, AdminError> {
    let Some(v) = store.state(key)? else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&v);
    let mut it = text.split_whitespace();
    Ok(it
        .next()
        .and_then(|a| a.parse().ok())
        .zip(it.next().and_then(|b| b.parse().ok())))
}

/// Appends FETCHed messages to one mailbox, in the order they arrive.
pub(super) struct FetchInto<'a> {
    store: &'a Store,
    mailbox: MailboxId,
    max_bytes: u64,
    state_key: String,
    uidvalidity: u32,
    last_uid: u32,
    sink: Option<MessageSink>,
    size: u64,
    problem: Option<String>,
    /// Messages stored.
    pub copied: u64,
    /// UIDs stored (for collection's delete-after-copy).
    pub copied_uids: Vec<u32>,
    /// What was skipped and why.
    pub skipped: Vec<String>,
    /// A store failure that must stop the copy.
    pub failure: Option<AdminError>,
}

impl<'a> FetchInto<'a> {
    /// Appends to `mailbox`, recording `(uidvalidity, last UID)` under `state_key` after
    /// each message.
    pub(super) fn new(
        store: &'a Store,
        mailbox: MailboxId,
        max_bytes: u64,
        state_key: String,
        (uidvalidity, last_uid): (u32, u32),
    ) -> FetchInto<'a> {
        FetchInto {
            store,
            mailbox,
            max_bytes,
            state_key,
            uidvalidity,
            last_uid,
            sink: None,
            size: 0,
            problem: None,
            copied: 0,
            copied_uids: Vec::new(),
            skipped: Vec::new(),
            failure: None,
        }
    }
}

impl Handler for FetchInto<'_> {
    fn literal_start(&mut self, resp: &Response, size: u64) -> bool {
        if resp.numbered().is_none_or(|(_, k)| k != "FETCH") {
            return false;
        }
        self.size = 0;
        self.problem = None;
        if size > self.max_bytes {
            self.problem = Some(format!(
                "{size} bytes, over the message size limit of {} bytes (smtp.max_message_bytes)",
                self.max_bytes
            ));
            self.sink = None;
        } else {
            self.sink = Some(MessageSink::new(self.store));
        }
        true
    }

    fn literal_data(&mut self, data: &[u8]) {
        self.size += data.len() as u64;
        if let Some(sink) = self.sink.as_mut()
            && let Err(e) = block_on(sink.write(data))
        {
            self.problem = Some(format!("not stored: {e}"));
            if let Some(s) = self.sink.take() {
                block_on(s.discard());
            }
        }
    }

    fn untagged(&mut self, resp: Response) {
        let Some(f) = resp.fetch() else { return };
        if f.body.is_none() && !f.inline_body {
            return; // a flag update, not one of our fetches
        }
        let sink = self.sink.take();
        let Some(uid) = f.uid.filter(|u| *u > self.last_uid) else {
            // `UID FETCH n:*` also returns the highest message when it is below n.
            if let Some(s) = sink {
                block_on(s.discard());
            }
            return;
        };
        let meta = f.flags.unwrap_or_default();
        let result = match (self.problem.take(), sink) {
            (Some(p), _) => Err(p),
            (None, None) => Err("an empty body in a quoted string; not stored".into()),
            (None, Some(s)) => {
                let keywords: Vec<String> = meta
                    .keywords
                    .into_iter()
                    .filter(|k| store::check_keyword(k).is_ok())
                    .take(store::schema::MAX_KEYWORDS_PER_MESSAGE)
                    .collect();
                let date = f.internal_date.unwrap_or_else(crate::time::unix_now);
                block_on(s.append(self.mailbox, meta.flags, keywords, date))
                    .map(|_| ())
                    .map_err(|e| format!("not stored: {e}"))
            }
        };
        match result {
            Ok(()) => {
                self.copied += 1;
                self.copied_uids.push(uid);
            }
            Err(why) => self.skipped.push(format!("UID {uid}: {why}")),
        }
        self.last_uid = uid;
        if let Err(e) = self.store.call_blocking(Op::SetState {
            key: self.state_key.clone(),
            value: Some(format!("{} {uid}", self.uidvalidity).into_bytes()),
        }) && self.failure.is_none()
        {
            self.failure = Some(e.into());
        }
    }
}

/// Copies the messages of the selected folder above `into`'s last UID, in UID order.
pub(super) fn copy_new(c: &mut Client, into: &mut FetchInto<'_>) -> Result<(), AdminError> {
    let last_uid = into.last_uid;
    let mut search = Collect::default();
    c.run(
        &format!("UID SEARCH UID {}:*", u64::from(last_uid) + 1),
        &mut search,
    )?;
    let mut uids: Vec<u32> = search
        .0
        .iter()
        .filter_map(Response::search)
        .flatten()
        .filter(|u| *u > last_uid)
        .collect();
    uids.sort_unstable();
    uids.dedup();
    for batch in uids.chunks(BATCH) {
        let (first, last) = (batch[0], batch[batch.len() - 1]);
        c.run(
            &format!("UID FETCH {first}:{last} (UID FLAGS INTERNALDATE BODY.PEEK[])"),
            into,
        )?;
        if let Some(err) = into.failure.take() {
            return Err(err);
        }
    }
    Ok(())
}

/// Copies the account described by `src` into `user`'s mailboxes.
pub fn run(
    store: &Store,
    (user, email): &(UserId, String),
    src: &ImapSource,
    out: &mut dyn Write,
) -> Result<(), AdminError> {
    let max_bytes = store.config()?.smtp_max_message_bytes;
    let mut c = connect(src, max_bytes.max(1), TIMEOUTS)?;
    let caps = login(&mut c, src)?;
    let mut listed = Collect::default();
    if caps.iter().any(|c| c == "SPECIAL-USE") {
        c.run(r#"LIST "" "*" RETURN (SPECIAL-USE)"#, &mut listed)?;
    } else {
        c.run(r#"LIST "" "*""#, &mut listed)?;
    }
    let entries: Vec<ListEntry> = listed
        .0
        .iter()
        .filter_map(Response::list)
        .take(MAX_FOLDERS)
        .collect();
    let (mut total, mut skipped) = (0u64, 0usize);
    for e in &entries {
        let Some((name, use_)) = local_name(e) else {
            continue;
        };
        let remote = crate::proto::imap::mutf7::decode(&e.name)
            .unwrap_or_else(|| String::from_utf8_lossy(&e.name).into_owned());
        let (mailbox, local) = match target(store, *user, &name, use_) {
            Ok(m) => m,
            Err(err) => {
                writeln!(out, "{name}: {err}; folder skipped")?;
                skipped += 1;
                continue;
            }
        };
        let wire = String::from_utf8_lossy(&e.name).into_owned();
        let wire =
            quoted(&wire).ok_or_else(|| failed(format!("folder name {wire:?} cannot be sent")))?;
        let mut selected = Collect::default();
        c.run(&format!("EXAMINE {wire}"), &mut selected)?;
        let uidvalidity = selected
            .0
            .iter()
            .find_map(|r| r.code_number("UIDVALIDITY"))
            .ok_or_else(|| failed(format!("{name}: the server gave no UIDVALIDITY")))?;
        let key = state_key(email, src, &e.name);
        let last_uid = match load_state(store, &key)? {
            Some((v, last)) if v == uidvalidity => last,
            _ => 0,
        };
        let mut into = FetchInto::new(store, mailbox, max_bytes, key, (uidvalidity, last_uid));
        copy_new(&mut c, &mut into)?;
        for s in &into.skipped {
            writeln!(out, "{name}: {s}; skipped")?;
        }
        skipped += into.skipped.len();
        if remote == local {
            writeln!(out, "{local}\t{} new messages", into.copied)?;
        } else {
            writeln!(out, "{remote} -> {local}\t{} new messages", into.copied)?;
        }
        total += into.copied;
    }
    let _ = c.run("LOGOUT", &mut Collect::default());
    writeln!(
        out,
        "copied {total} new messages from {}@{} to {email}",
        src.login, src.host
    )?;
    if skipped > 0 {
        return Err(failed(format!(
            "{skipped} messages or folders were skipped (see above)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(attrs: &[&str], delim: Option<char>, name: &str) -> ListEntry {
        ListEntry {
            attributes: attrs.iter().map(|s| s.to_string()).collect(),
            delimiter: delim,
            name: name.as_bytes().to_vec(),
        }
    }

    #[test]
    fn maps_folders_by_special_use_common_name_and_delimiter() {
        assert_eq!(
            local_name(&entry(&[], Some('.'), "INBOX.Work.x/y")),
            Some(("INBOX/Work/x_y".into(), SpecialUse::None))
        );
        assert_eq!(
            local_name(&entry(&["\\sent"], Some('/'), "[Gmail]/Sent Mail")),
            Some(("[Gmail]/Sent Mail".into(), SpecialUse::Sent))
        );
        assert_eq!(
            local_name(&entry(&[], Some('/'), "Deleted Items")),
            Some(("Deleted Items".into(), SpecialUse::Trash))
        );
        assert_eq!(
            local_name(&entry(&["\\all"], Some('/'), "[Gmail]/All Mail")),
            None
        );
        assert_eq!(
            local_name(&entry(&["\\noselect"], Some('/'), "[Gmail]")),
            None
        );
        assert_eq!(
            local_name(&entry(&[], Some('/'), "Entw&APw-rfe")),
            Some(("Entwürfe".into(), SpecialUse::None))
        );
        assert_eq!(
            local_name(&entry(&[], None, "inbox")),
            Some(("INBOX".into(), SpecialUse::None))
        );
    }
}

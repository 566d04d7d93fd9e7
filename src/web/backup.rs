//! The Backup page, the backup download, and `multipart/form-data` uploads: a backup restored
//! on a new box (the setup page, or the Backup page while the store is empty), and any other
//! multipart form (the TLS page's PEM files), read into a [`Form`].
//!
//! Invariants:
//! - Neither direction holds a backup in memory: the download is written on the blocking pool
//!   into a bounded channel the connection drains as chunks ([`Streams`]); an upload's file
//!   part goes through a bounded channel to the restore, which reads it on the store's writer
//!   thread. The upload's size limit is `web.max_upload_bytes` (checked on the request head).
//! - The CSRF token is the first part of every multipart form (the pages put it first) and is
//!   checked before any other part is read; a form without it is refused.
//! - Fields of other multipart forms (files included) are bounded by `web.max_body_bytes`
//!   each and together, and must be UTF-8.

use super::html::{self, notice};
use super::pages::{self, Ctx, csrf_refused};
use super::{Web, error_page};
use crate::cli::backup as box_backup;
use crate::config::Config;
use crate::proto::http::{Form, Request, Response};
use crate::proto::multipart::{self, Parser};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::{self, Read, Write};

/// The request body of an upload, as the connection receives it.
pub trait UploadBody {
    /// The next piece of the body; `Ok(None)` once all of it (per `Content-Length`) arrived.
    fn next_chunk(&mut self) -> impl std::future::Future<Output = Result<Option<Vec<u8>>, String>>;
}

/// A streamed response body: pieces produced on the blocking pool, or the error that ended it.
pub type BodyStream = async_channel::Receiver<Result<Vec<u8>, String>>;

/// Streamed response bodies between the handler that starts one and the connection that sends
/// it (the response carries the id, [`Response::stream`]).
#[derive(Debug, Default)]
pub struct Streams {
    next: Cell<u64>,
    open: RefCell<HashMap<u64, BodyStream>>,
}

impl Streams {
    pub(super) fn register(&self, rx: BodyStream) -> u64 {
        let id = self.next.get() + 1;
        self.next.set(id);
        self.open.borrow_mut().insert(id, rx);
        id
    }

    /// The stream of a response, for the connection to send (once).
    pub fn take(&self, id: u64) -> Option<BodyStream> {
        self.open.borrow_mut().remove(&id)
    }
}

/// Pieces of the download sent into the channel (the channel holds a few of them).
const PIECE: usize = 64 * 1024;

/// A `Write` into a bounded channel, for the blocking pool.
pub(super) struct ChannelWriter {
    tx: async_channel::Sender<Result<Vec<u8>, String>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    /// A writer into `tx`.
    pub(super) fn new(tx: async_channel::Sender<Result<Vec<u8>, String>>) -> ChannelWriter {
        ChannelWriter {
            tx,
            buf: Vec::new(),
        }
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= PIECE {
            self.flush()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            let piece = std::mem::take(&mut self.buf);
            self.tx
                .send_blocking(Ok(piece))
                .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
        }
        Ok(())
    }
}

/// A `Read` from a bounded channel, for the store's writer thread; a closed channel is the end,
/// an error item fails the read.
struct ChannelReader {
    rx: async_channel::Receiver<Result<Vec<u8>, String>>,
    cur: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            match self.rx.recv_blocking() {
                Ok(Ok(piece)) => (self.cur, self.pos) = (piece, 0),
                Ok(Err(e)) => return Err(io::Error::other(e)),
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// GET `/admin/backup/download`: the backup, streamed as it is written.
pub(super) fn download(web: &Web) -> Response {
    let (tx, rx) = async_channel::bounded(4);
    let (store, data) = (web.store.clone(), web.data.clone());
    blocking::unblock(move || {
        let mut out = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::new(),
        };
        match box_backup::write_backup(&store, &data, &mut out) {
            Ok(s) => log::info!(
                "web: backup downloaded: {} rows, {} files, {} bytes",
                s.rows,
                s.files,
                s.bytes
            ),
            Err(e) => {
                log::warn!("web: backup download failed: {e}");
                let _ = tx.send_blocking(Err(e.to_string()));
            }
        }
    })
    .detach();
    let mut r = Response::new(200, "application/octet-stream", Vec::new()).with(
        "Content-Disposition",
        format!(
            "attachment; filename=\"{}\"",
            box_backup::file_name(crate::time::unix_now())
        ),
    );
    r.stream = Some(web.streams.register(rx));
    r
}

/// Whether a restore may run: nobody uses the box yet.
fn store_is_new(web: &Web) -> bool {
    web.store.users().is_ok_and(|u| u.is_empty())
}

/// GET `/admin/backup`.
pub(super) fn page(web: &Web, ctx: &Ctx, note: &str, status: u16) -> Response {
    let restore = if store_is_new(web) {
        format!(
            r#"<h2>Restore</h2><p>This box has no users yet: a backup can be restored into it.</p>
<form method="post" action="/admin/backup" enctype="multipart/form-data">{csrf}<label>Backup file <input type="file" name="backup" required></label><button>Restore</button></form>"#,
            csrf = html::csrf_field(&ctx.viewer(web).csrf)
        )
    } else {
        "<h2>Restore</h2><p>A backup is restored into a new box only: on its setup page, or with <code>mailnook restore FILE</code> while it is stopped.</p>".to_string()
    };
    let body = format!(
        r#"{note}<p>A backup holds the whole box: accounts and passwords, every mailbox and message with its flags, the settings and domains, the outbound queue, the spam filter's training, and the data folder's TLS certificates and DKIM keys. It is taken while the box keeps running.</p>
<form method="get" action="/admin/backup/download"><button>Download a backup</button></form>
<p class="muted">Keep the file private: it holds password hashes and private keys.</p>{restore}"#
    );
    ctx.page(web, status, "Backup", &body)
}

/// A multipart body as owned events, pulling chunks from the connection as needed.
struct Reader<'b, B: UploadBody> {
    parser: Parser,
    body: &'b mut B,
}

/// An owned [`multipart::Event`].
enum Part {
    Start(String, Option<String>),
    Data(Vec<u8>),
    End,
    Done,
}

impl<B: UploadBody> Reader<'_, B> {
    async fn next(&mut self) -> Result<Part, String> {
        loop {
            let part = match self.parser.next_event() {
                Ok(Some(multipart::Event::PartStart { name, filename })) => {
                    Some(Part::Start(name, filename))
                }
                Ok(Some(multipart::Event::Data(d))) => Some(Part::Data(d.to_vec())),
                Ok(Some(multipart::Event::PartEnd)) => Some(Part::End),
                Ok(Some(multipart::Event::Done)) => Some(Part::Done),
                Ok(None) => None,
                Err(e) => return Err(e.to_string()),
            };
            if let Some(p) = part {
                return Ok(p);
            }
            if self.parser.is_done() {
                return Ok(Part::Done);
            }
            match self.body.next_chunk().await? {
                Some(c) => self.parser.feed(&c),
                None => {
                    self.parser.finish().map_err(|e| e.to_string())?;
                }
            }
        }
    }

    /// The value of the field just started (bounded by the parser's field limit).
    async fn value(&mut self, max: usize) -> Result<String, String> {
        let mut v = Vec::new();
        loop {
            match self.next().await? {
                Part::Data(d) if v.len() + d.len() <= max => v.extend_from_slice(&d),
                Part::Data(_) => return Err("a form field is too large".into()),
                Part::End => break,
                _ => return Err("malformed form".into()),
            }
        }
        String::from_utf8(v).map_err(|_| "a form field is not UTF-8".into())
    }
}

/// A POST with a `multipart/form-data` body (its CSRF token, the session and the route are
/// checked here; `Web::handle_upload` checked where it came from).
pub(super) async fn upload(
    web: &Web,
    ctx: Ctx,
    req: &Request,
    config: &Config,
    body: &mut impl UploadBody,
) -> Response {
    let Some(boundary) = req.header("content-type").and_then(multipart::boundary) else {
        return error_page(
            400,
            "The form's multipart boundary is missing or not allowed.",
        );
    };
    let max_field = config.web_max_body_bytes;
    let limits = multipart::Limits {
        max_header_bytes: config.web_max_head_bytes.min(16 * 1024),
        max_parts: 32,
        max_field_bytes: max_field,
    };
    let Ok(parser) = Parser::new(&boundary, limits) else {
        return error_page(400, "The form's multipart boundary is not allowed.");
    };
    let mut form = Reader { parser, body };
    // The token comes first; nothing else is read without it.
    let token = match form.next().await {
        Ok(Part::Start(name, None)) if name == "csrf" => form.value(max_field).await,
        Ok(_) => Err("the form does not start with its token".into()),
        Err(e) => Err(e),
    };
    match token {
        Ok(t) if ctx.csrf_ok(web, &t) => {}
        Ok(_) => return csrf_refused(),
        Err(e) => {
            log::info!("web: upload refused: {e}");
            return csrf_refused();
        }
    }
    match req.path.as_str() {
        "/setup/restore" if pages::setup_done(web, config) => Response::see_other("/"),
        "/setup/restore" => match restore(web, &mut form).await {
            Ok(text) => ctx.page(
                web,
                200,
                "Restored",
                &format!(
                    "{}<p><a href=\"/login\">Log in</a> with an account of the restored box.</p>",
                    notice("ok", &text)
                ),
            ),
            Err(e) => ctx.page(
                web,
                400,
                "Restore failed",
                &format!(
                    "{}<p><a href=\"/setup\">Back to the setup page</a></p>",
                    notice("error", &e)
                ),
            ),
        },
        "/me/import" => match ctx.email() {
            None => Response::see_other("/login"),
            Some(email) => {
                let email = email.to_string();
                let result = import_upload(web, &email, &mut form, max_field).await;
                let (kind, status, text) = match result {
                    Ok(text) => ("ok", 200, text),
                    Err(e) => ("error", 400, e),
                };
                ctx.page(
                    web,
                    status,
                    "Import mail",
                    &format!(
                        "{}<p><a href=\"/me\">Back to your page</a></p>",
                        notice(kind, &text)
                    ),
                )
            }
        },
        "/admin/backup" if !ctx.is_admin() => Response::see_other("/login"),
        "/admin/backup" if !store_is_new(web) => page(
            web,
            &ctx,
            &notice("error", "A backup is restored into a new box only."),
            400,
        ),
        "/admin/backup" => match restore(web, &mut form).await {
            Ok(text) => page(web, &ctx, &notice("ok", &text), 200),
            Err(e) => page(web, &ctx, &notice("error", &e), 400),
        },
        _ => {
            let mut fields: Vec<(String, String)> = Vec::new();
            let mut total = 0usize;
            loop {
                match form.next().await {
                    Ok(Part::Start(name, _)) => match form.value(max_field).await {
                        Ok(v) if total + v.len() <= max_field => {
                            total += v.len();
                            fields.push((name, v));
                        }
                        Ok(_) => return error_page(413, "The form is too large."),
                        Err(e) => {
                            return error_page(400, &format!("The form could not be read: {e}."));
                        }
                    },
                    Ok(Part::Done) => break,
                    Ok(_) => return error_page(400, "The form could not be read."),
                    Err(e) => return error_page(400, &format!("The form could not be read: {e}.")),
                }
            }
            pages::dispatch(web, ctx, req, config, Some(Form::from_fields(fields))).await
        }
    }
}

/// Sends the data of the file part just started into `tx` up to its end, or the error that
/// stopped it; stops early when the reader on the other side is gone (its answer says why).
async fn pump_file_part<B: UploadBody>(
    form: &mut Reader<'_, B>,
    tx: &async_channel::Sender<Result<Vec<u8>, String>>,
) {
    loop {
        let piece = match form.next().await {
            Ok(Part::Data(d)) => Ok(d),
            Ok(Part::End) => break,
            Ok(_) => Err("malformed form".to_string()),
            Err(e) => Err(e),
        };
        let failed = piece.is_err();
        if tx.send(piece).await.is_err() || failed {
            break;
        }
    }
}

/// Streams the form's `mbox` file part (after its `mailbox` field) into an import for the
/// signed-in user; the import's report, or why it failed.
async fn import_upload<B: UploadBody>(
    web: &Web,
    email: &str,
    form: &mut Reader<'_, B>,
    max_field: usize,
) -> Result<String, String> {
    let mailbox = match form.next().await? {
        Part::Start(name, None) if name == "mailbox" => form.value(max_field).await?,
        _ => return Err("the form names no mailbox".into()),
    };
    let mailbox = match mailbox.trim() {
        "" => "INBOX".to_string(),
        m => m.to_string(),
    };
    crate::store::check_mailbox_name(&mailbox).map_err(|e| format!("Mailbox: {e}"))?;
    match form.next().await? {
        Part::Start(name, Some(_)) if name == "mbox" => {}
        _ => return Err("the form holds no mbox file".into()),
    }
    let user = {
        let (store, email) = (web.store.clone(), email.to_string());
        blocking::unblock(move || store.user(&email))
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no such user")?
    };
    let (tx, rx) = async_channel::bounded(8);
    let store = web.store.clone();
    let task = blocking::unblock(move || {
        let reader = ChannelReader {
            rx,
            cur: Vec::new(),
            pos: 0,
        };
        let mut report = Vec::new();
        let result = crate::cli::transfer::import_mbox_stream(
            &store,
            user.id,
            &mailbox,
            reader,
            &mut report,
        );
        (result, String::from_utf8_lossy(&report).into_owned())
    });
    pump_file_part(form, &tx).await;
    drop(tx);
    let (result, report) = task.await;
    log::info!(target: "maillog", "web: mail imported for {email}: {}", report.lines().last().unwrap_or(""));
    match result {
        Ok((_, 0)) => Ok(report),
        Ok(_) => Err(report),
        Err(e) => Err(format!("{e}. {report}")),
    }
}

/// Streams the form's `backup` file part into a restore; the restore's report, or why it
/// failed.
async fn restore<B: UploadBody>(web: &Web, form: &mut Reader<'_, B>) -> Result<String, String> {
    match form.next().await? {
        Part::Start(name, Some(_)) if name == "backup" => {}
        _ => return Err("the form holds no backup file".into()),
    }
    let (tx, rx) = async_channel::bounded(8);
    let (store, data) = (web.store.clone(), web.data.clone());
    let task = blocking::unblock(move || {
        let reader = ChannelReader {
            rx,
            cur: Vec::new(),
            pos: 0,
        };
        box_backup::restore(&store, &data, Box::new(reader))
    });
    pump_file_part(form, &tx).await;
    drop(tx);
    let summary = task.await.map_err(|e| e.to_string())?;
    (web.reload)();
    let text = box_backup::restored_text(&summary);
    log::info!(target: "maillog", "web: {text}");
    Ok(text)
}

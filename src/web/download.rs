//! "Download my mail" on the self-service page: `/me/mail.tar`, a tar of the signed-in user's
//! mailboxes as mbox files in the layout of `mailnook export --format mbox`
//! (`cli::transfer::write_mbox_tar`).
//!
//! Invariants: only the session's own user is exported; the body is streamed like the backup
//! download (written on the blocking pool into a bounded channel, sent in chunks by
//! `conn::web`, [`super::backup::Streams`]), never built in memory; each mailbox is one snapshot.

use super::Web;
use super::backup::ChannelWriter;
use crate::proto::http::Response;
use std::io::Write;

/// The path of the download.
pub const PATH: &str = "/me/mail.tar";

/// The download for `email`.
pub(super) fn mail_tar(web: &Web, email: &str) -> Response {
    let user = match web.store.user(email) {
        Ok(Some(u)) => u.id,
        Ok(None) => return super::error_page(404, "There is no such user."),
        Err(e) => {
            log::warn!("web: mail download for {email}: {e}");
            return super::error_page(503, "The mail store is unavailable; try again.");
        }
    };
    let (tx, rx) = async_channel::bounded(4);
    let store = web.store.clone();
    let who = email.to_string();
    blocking::unblock(move || {
        let mut out = ChannelWriter::new(tx.clone());
        let written =
            crate::cli::transfer::write_mbox_tar(&store, user, &mut out).and_then(|_| out.flush());
        if let Err(e) = written {
            log::warn!("web: mail download for {who} failed: {e}");
            let _ = tx.send_blocking(Err(e.to_string()));
        }
    })
    .detach();
    let safe: String = email
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "@.-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut r = Response::new(200, "application/x-tar", Vec::new())
        .with(
            "Content-Disposition",
            format!("attachment; filename=\"mail-{safe}.tar\""),
        )
        .with("Cache-Control", "no-store");
    r.stream = Some(web.streams.register(rx));
    r
}

/// The page section that offers it, and the upload of an mbox file into a folder
/// (`web::backup`, `/me/import`; `csrf` is the form's token field, which must come first).
pub(super) fn section(csrf: &str) -> String {
    format!(
        r#"<h2>Your mail</h2><p><a href="{PATH}" download>Download my mail</a>: every folder as an mbox file, in one .tar (Thunderbird and mutt open mbox files; <code>tar -xf</code> unpacks it).</p>
<form method="post" action="/me/import" enctype="multipart/form-data">{csrf}<label>Folder to import into <input type="text" name="mailbox" value="INBOX" maxlength="200"></label><label>An mbox file (e.g. one from the download above, or exported by Thunderbird) <input type="file" name="mbox" required></label><button>Import</button></form>"#
    )
}

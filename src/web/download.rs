//! "Download my mail" on the self-service page: `/me/mail.tar`, a tar of the signed-in user's
//! mailboxes as mbox files in the layout of `mailnook export --format mbox`
//! (`cli::transfer::write_mbox_tar`).
//!
//! Invariants: only the session's own user is exported; the body is streamed (written on the
//! blocking pool, sent in chunks by `conn::web`), never built in memory; each mailbox is one
//! snapshot.

use super::Web;
use crate::proto::http::{BodySource, Response};
use crate::store::{Store, UserId};
use std::sync::Arc;

/// The path of the download.
pub const PATH: &str = "/me/mail.tar";

#[derive(Debug)]
struct MailTar {
    store: Store,
    user: UserId,
}

impl BodySource for MailTar {
    fn write_to(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        crate::cli::transfer::write_mbox_tar(&self.store, self.user, out)
    }
}

/// The download for `email`.
pub(super) fn mail_tar(web: &Web, email: &str) -> Response {
    let user = match web.store.user(email) {
        Ok(Some(u)) => u.id,
        Ok(None) => return super::error_page(404, "There is no such user."),
        Err(e) => {
            log::warn!("web: download for {email}: {e}");
            return super::error_page(503, "The mail store is unavailable; try again.");
        }
    };
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
    r.stream = Some(Arc::new(MailTar {
        store: web.store.clone(),
        user,
    }));
    r
}

/// The page section that offers it.
pub(super) fn section() -> String {
    format!(
        r#"<h2>Your mail</h2><p><a href="{PATH}" download>Download my mail</a>: every folder as an mbox file, in one .tar (Thunderbird and mutt open mbox files; <code>tar -xf</code> unpacks it).</p>"#
    )
}

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

/// "Move in": copies every folder of the user's account on another IMAP server (the same
/// command as `mailnook import-imap`), the server's certificate checked against the web roots
/// or a pasted certificate authority (for a private server). The request waits for the copy;
/// a second run copies only what is new.
pub(super) async fn import_imap(
    web: &Web,
    email: &str,
    f: &crate::proto::http::Form,
) -> Result<String, String> {
    use crate::cli::transfer::{ImapSource, Security, TransferCommand};
    let host = f.text("host").trim().to_string();
    if !crate::config::is_hostname(&host) {
        return Err("Give the other server's host name.".into());
    }
    let port = match f.text("port").trim() {
        "" => None,
        p => Some(p.parse::<u16>().map_err(|_| "The port is a number.")?),
    };
    let security = match f.text("security") {
        "starttls" => Security::StartTls,
        _ => Security::Tls,
    };
    let ca_pem = f.text("ca").trim().to_string();
    let ca = if ca_pem.is_empty() {
        None
    } else {
        if !ca_pem.starts_with("-----BEGIN CERTIFICATE-----") || ca_pem.len() > 64 * 1024 {
            return Err("The certificate authority must be one PEM certificate.".into());
        }
        let mut r = [0u8; 8];
        getrandom::fill(&mut r).map_err(|e| e.to_string())?;
        let name: String = r.iter().map(|b| format!("{b:02x}")).collect();
        let path = web.data.join(format!("import-ca-{name}.pem"));
        let (p, pem) = (path.clone(), ca_pem.into_bytes());
        blocking::unblock(move || std::fs::write(p, pem))
            .await
            .map_err(|e| e.to_string())?;
        Some(path)
    };
    let cmd = crate::cli::args::AdminCommand::Transfer(TransferCommand::ImportImap(ImapSource {
        user: email.to_string(),
        host,
        port,
        security,
        login: f.text("login").trim().to_string(),
        password: Some(f.text("password").to_string()),
        password_file: None,
        ca: ca.clone(),
    }));
    let result = super::pages::run(web, cmd).await;
    if let Some(p) = ca {
        let _ = blocking::unblock(move || std::fs::remove_file(p)).await;
    }
    result.map_err(|e| e.to_string())
}

/// The page section that offers it, and the upload of an mbox file into a folder
/// (`web::backup`, `/me/import`; `csrf` is the form's token field, which must come first).
pub(super) fn section(csrf: &str) -> String {
    format!(
        r#"<h2>Your mail</h2><p><a href="{PATH}" download>Download my mail</a>: every folder as an mbox file, in one .tar (Thunderbird and mutt open mbox files; <code>tar -xf</code> unpacks it).</p>
<form method="post" action="/me/import" enctype="multipart/form-data">{csrf}<label>Folder to import into <input type="text" name="mailbox" value="INBOX" maxlength="200"></label><label>An mbox file (e.g. one from the download above, or exported by Thunderbird) <input type="file" name="mbox" required></label><button>Import</button></form>
<h2>Move in from another mail account</h2><p>Copies every folder of your account there, with flags and dates; running it again copies only what is new.</p>
<form method="post" action="/me">{csrf}<input type="hidden" name="action" value="import-imap"><label>IMAP server <input type="text" name="host" required maxlength="253"></label><label>Port (empty: the usual one) <input type="text" name="port" maxlength="5"></label><label>Security <select name="security"><option value="tls">SSL/TLS</option><option value="starttls">STARTTLS</option></select></label><label>User name there <input type="text" name="login" required maxlength="256" autocomplete="off"></label><label>Password there <input type="password" name="password" required autocomplete="off"></label><label>Its certificate authority, for a private server (PEM, optional) <textarea name="ca" rows="3"></textarea></label><button>Copy my mail here</button></form>"#
    )
}

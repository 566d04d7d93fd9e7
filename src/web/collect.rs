//! The "Collect mail from other accounts" section of each user's page: their external POP3/IMAP
//! accounts (`cli::collect`) with the last result of each, a form to add one and a button to
//! remove each. Both run the same admin commands as `mailnook collect add|del`, on the
//! blocking pool, for the logged-in user only.
//!
//! Invariants: the password is never written into the page (the list shows it masked, the add
//! form's password field is always empty); every value is escaped; the forms carry the
//! session's CSRF token, checked before any action runs (`pages::route`).

use super::Web;
use super::html::{esc, input};
use super::pages::run;
use crate::cli::args::AdminCommand;
use crate::cli::collect::{self, Account, CollectCommand, Protocol};
use crate::proto::http::Form;

/// Adds (`collect-add`) or removes (`collect-del`) an account of `email`; the notice.
pub(super) async fn action(web: &Web, email: &str, f: &Form) -> Result<String, String> {
    let cmd = match f.text("action") {
        "collect-add" => {
            let protocol = match f.text("protocol") {
                "pop3" => Protocol::Pop3,
                "imap" => Protocol::Imap,
                _ => return Err("Choose POP3 or IMAP.".into()),
            };
            let port = match f.text("port").trim() {
                "" => None,
                p => Some(
                    p.parse::<u16>()
                        .ok()
                        .filter(|p| *p != 0)
                        .ok_or_else(|| format!("“{p}” is not a port number."))?,
                ),
            };
            let mailbox = match f.text("mailbox").trim() {
                "" => "INBOX".to_string(),
                m => m.to_string(),
            };
            if f.text("password").is_empty() {
                return Err("The password is missing.".into());
            }
            CollectCommand::Add {
                user: email.to_string(),
                account: Account {
                    id: 0,
                    protocol,
                    host: f.text("host").trim().to_string(),
                    port,
                    starttls: f.text("starttls") == "1",
                    login: f.text("login").trim().to_string(),
                    password: f.text("password").to_string(),
                    ca: None,
                    mailbox,
                    keep: f.text("delete") != "1",
                    every_minutes: 0,
                },
                password_file: None,
            }
        }
        _ => CollectCommand::Del(
            email.to_string(),
            f.text("id")
                .parse()
                .map_err(|_| "No such account.".to_string())?,
        ),
    };
    run(web, AdminCommand::Collect(cmd))
        .await
        .map_err(|e| e.to_string())
}

/// The section: accounts, their last results and the forms.
pub(super) async fn section(web: &Web, email: &str, csrf: &str) -> String {
    let (store, who) = (web.store.clone(), email.to_string());
    let list = blocking::unblock(move || collect::accounts(&store, &who))
        .await
        .unwrap_or_default();
    let mut rows = String::new();
    for (a, last) in &list {
        let last = last
            .as_ref()
            .map_or("not collected yet".to_string(), |l| l.describe());
        rows.push_str(&format!(
            r#"<tr><td>{desc}</td><td>{last}</td><td><form method="post" action="/me" class="inline">{csrf}<input type="hidden" name="action" value="collect-del"><input type="hidden" name="id" value="{id}"><button class="danger">Remove</button></form></td></tr>"#,
            desc = esc(&a.describe()),
            last = esc(&last),
            id = a.id,
        ));
    }
    let form = if list.len() < collect::MAX_ACCOUNTS {
        format!(
            r#"<form method="post" action="/me">{csrf}<input type="hidden" name="action" value="collect-add"><label>Protocol <select name="protocol"><option value="pop3">POP3</option><option value="imap">IMAP (INBOX)</option></select></label>{host}{port}<label><input type="checkbox" name="starttls" value="1"> STARTTLS instead of TLS</label>{login}{password}{mailbox}<label><input type="checkbox" name="delete" value="1"> Delete collected mail on that server</label><button>Add account</button></form>"#,
            host = input("Server", "host", "text", "", "required maxlength=\"255\""),
            port = input("Port (optional)", "port", "text", "", "maxlength=\"5\""),
            login = input("Login", "login", "text", "", "required maxlength=\"255\""),
            password = input(
                "Password",
                "password",
                "password",
                "",
                "required autocomplete=\"off\" maxlength=\"1024\""
            ),
            mailbox = input(
                "Into mailbox",
                "mailbox",
                "text",
                "INBOX",
                "maxlength=\"255\""
            ),
        )
    } else {
        String::new()
    };
    format!(
        r#"<h2>Collect mail from other accounts</h2><p class="muted">Mail at other providers is fetched here periodically over POP3 or IMAP (TLS required).</p><table><tbody>{rows}</tbody></table>{form}"#
    )
}

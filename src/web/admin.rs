//! The administrators' pages: the overview, users, aliases, domains, the outbound queue,
//! settings groups and the recent log. Every change runs the CLI's own admin command (`cli::admin::execute`) on the
//! blocking pool, so the page and the command line cannot disagree about what a change means.

use super::html::{self, esc, input, notice};
use super::pages::{Ctx, run};
use super::{Web, error_page};
use crate::cli::args::AdminCommand;
use crate::config::Config;
use crate::proto::http::{Form, Response};
use std::fmt::Write;

pub(super) async fn route(
    web: &Web,
    ctx: &Ctx,
    config: &Config,
    path: &str,
    form: Option<Form>,
) -> Response {
    match (path, form) {
        ("/admin", None) => {
            let o = super::overview(web).await;
            let up = web.started.elapsed().as_secs();
            let body = format!(
                r#"<dl><dt>Host name</dt><dd>{host}</dd><dt>Domains</dt><dd>{domains}</dd><dt>Users</dt><dd>{users}</dd>
<dt>Up for</dt><dd>{d} days {h} h {m} min</dd><dt>Memory in use</dt><dd>{rss}</dd><dt>Mail store</dt><dd>{store}</dd>
<dt>Free space</dt><dd>{free}</dd><dt>Outbound queue</dt><dd>{queued} messages</dd></dl>"#,
                host = esc(&config.hostname),
                domains = esc(&o.domains.join(", ")),
                users = o.users,
                d = up / 86_400,
                h = up / 3600 % 24,
                m = up / 60 % 60,
                rss = o.rss.map_or("unknown".into(), html::size),
                store = html::size(o.store_bytes),
                free = o.free_bytes.map_or("unknown".into(), html::size),
                queued = o.queued,
            );
            let body = format!(
                "{body}<h2>Mail per day</h2>{}<h2>Recent deliveries and refusals</h2>{}",
                chart(&web.stats.last(14)),
                recent_mail_lines()
            );
            ctx.page(web, 200, "Overview", &body)
        }
        ("/admin/users", form) => users(web, ctx, form).await,
        ("/admin/queue", form) => queue(web, ctx, form).await,
        ("/admin/settings", form) => settings(web, ctx, form).await,
        ("/admin/log", None) => log_page(web, ctx),
        ("/admin/checks", None) => checks(web, ctx).await,
        ("/admin/tls", form) => tls(web, ctx, form).await,
        ("/admin/domains", form) => domains(web, ctx, form).await,
        ("/admin/aliases", form) => aliases(web, ctx, form).await,
        ("/admin/lists", form) => lists(web, ctx, form).await,
        ("/admin/backup", None) => super::backup::page(web, ctx, "", 200),
        ("/admin/backup/download", None) => super::backup::download(web),
        _ => error_page(404, "There is no such page."),
    }
}

async fn users(web: &Web, ctx: &Ctx, form: Option<Form>) -> Response {
    let mut message = (String::new(), "ok");
    let mut status = 200;
    if let Some(f) = form {
        let email = f.text("email").to_string();
        let cmd = match f.text("action") {
            "add" => Some(AdminCommand::UserAdd {
                email: email.clone(),
                password: Some(f.get("password").unwrap_or("").to_string()),
            }),
            "password" => Some(AdminCommand::UserPasswd {
                email: email.clone(),
                password: Some(f.get("password").unwrap_or("").to_string()),
            }),
            "delete" if f.text("confirm") == email => Some(AdminCommand::UserDel(email.clone())),
            "quota" => Some(AdminCommand::QuotaSet {
                email: email.clone(),
                size: f.text("quota").to_string(),
            }),
            "apppw-revoke" => {
                let who = email.to_ascii_lowercase();
                let op = crate::store::Op::SetState {
                    key: crate::auth::app_passwords::state_key(&who),
                    value: None,
                };
                match web.store.call(op).await {
                    Ok(_) => {
                        log::info!(
                            "web: app passwords of user={} revoked by an administrator",
                            crate::conn::loggable(&who, 80)
                        );
                        message = (format!("every app password of {who} is revoked"), "ok");
                    }
                    Err(e) => {
                        message = (e.to_string(), "error");
                        status = 500;
                    }
                }
                None
            }
            "totp-off" => {
                let who = email.to_ascii_lowercase();
                match super::two_step::set(web, &who, None).await {
                    Ok(()) => {
                        log::info!(
                            "web: two-step login turned off for user={} by an administrator",
                            crate::conn::loggable(&who, 80)
                        );
                        message = (format!("two-step login is off for {who}"), "ok");
                    }
                    Err(e) => {
                        message = (e.to_string(), "error");
                        status = 500;
                    }
                }
                None
            }
            "delete" => {
                message = (
                    "To delete a user, type their address again.".into(),
                    "error",
                );
                status = 400;
                None
            }
            _ => {
                message = ("Unknown action.".into(), "error");
                status = 400;
                None
            }
        };
        if let Some(cmd) = cmd {
            let action = f.text("action").to_string();
            match run(web, cmd).await {
                Ok(out) => {
                    if action == "password" || action == "delete" {
                        // A new password or a deleted user ends that user's sessions.
                        web.sessions
                            .borrow_mut()
                            .end_user(&email.to_ascii_lowercase(), None);
                    }
                    message = (out, "ok");
                }
                Err(e) => {
                    message = (e.to_string(), "error");
                    status = 400;
                }
            }
        }
    }
    let listing = run(web, AdminCommand::UserList).await.unwrap_or_default();
    let quotas = run(web, AdminCommand::QuotaShow(None))
        .await
        .unwrap_or_default();
    let csrf = html::csrf_field(&ctx.viewer(web).csrf);
    let mut rows = String::new();
    for line in listing.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let email = cols.first().copied().unwrap_or("");
        let (quota, current) = quota_cell(&quotas, email);
        let _ = write!(
            rows,
            r#"<tr><td>{e}</td><td>{m}</td><td>{b}</td><td>{quota}</td><td><details><summary>Change</summary>
<form method="post" action="/admin/users">{csrf}<input type="hidden" name="action" value="quota"><input type="hidden" name="email" value="{e}">{q}<button>Set quota</button></form>
<form method="post" action="/admin/users">{csrf}<input type="hidden" name="action" value="password"><input type="hidden" name="email" value="{e}">{p}<button>Set password</button></form>
<form method="post" action="/admin/users">{csrf}<input type="hidden" name="action" value="totp-off"><input type="hidden" name="email" value="{e}"><button>Turn off two-step login</button></form>
<form method="post" action="/admin/users">{csrf}<input type="hidden" name="action" value="apppw-revoke"><input type="hidden" name="email" value="{e}"><button>Revoke all app passwords</button></form>
<form method="post" action="/admin/users">{csrf}<input type="hidden" name="action" value="delete"><input type="hidden" name="email" value="{e}">{c}<button class="danger">Delete with all mail</button></form></details></td></tr>"#,
            e = esc(email),
            m = esc(cols.get(1).copied().unwrap_or("")),
            b = esc(cols.get(2).copied().unwrap_or("")),
            q = input(
                "Quota (e.g. 500M, 2G; 0: unlimited)",
                "quota",
                "text",
                &current,
                "required"
            ),
            p = html::password("New password", "password", true),
            c = input(
                "Type the address to confirm",
                "confirm",
                "text",
                "",
                "required"
            ),
        );
    }
    let body = format!(
        r#"{note}<table><thead><tr><th>Address</th><th>Messages</th><th>Size</th><th>Quota</th><th></th></tr></thead><tbody>{rows}</tbody></table>
<h2>Add a user</h2><form method="post" action="/admin/users">{csrf}<input type="hidden" name="action" value="add">{e}{p}<button>Add user</button></form>"#,
        note = notice(message.1, &message.0),
        e = input("Address", "email", "email", "", "required"),
        p = html::password("Password (at least 8 characters)", "password", true),
    );
    ctx.page(web, status, "Users", &body)
}

/// A user's usage and quota as shown in the users table, and their quota as the form's value,
/// from `quota show` output (`cli::admin::quota_line`).
fn quota_cell(quotas: &str, email: &str) -> (String, String) {
    let Some(line) = quotas.lines().find(|l| l.split('\t').next() == Some(email)) else {
        return (String::new(), String::new());
    };
    let mut cols = line.split('\t').skip(1);
    let number =
        |c: Option<&str>, skip: usize| -> Option<u64> { c?.split(' ').nth(skip)?.parse().ok() };
    let used = number(cols.next(), 0).unwrap_or(0);
    match number(cols.next(), 1) {
        Some(limit) if limit > 0 => (
            format!(
                "{} of {} ({}%)",
                html::size(used),
                html::size(limit),
                u128::from(used) * 100 / u128::from(limit)
            ),
            crate::config::format_size(limit),
        ),
        _ => (format!("{} (no quota)", html::size(used)), "0".into()),
    }
}

async fn queue(web: &Web, ctx: &Ctx, form: Option<Form>) -> Response {
    let mut message = (String::new(), "ok");
    let mut status = 200;
    if let Some(f) = form {
        let id = f.text("id").to_string();
        let cmd = match f.text("action") {
            "retry" if id.is_empty() => AdminCommand::QueueRetry(None),
            "retry" => AdminCommand::QueueRetry(Some(id)),
            "delete" => AdminCommand::QueueDelete(id),
            _ => return error_page(400, "Unknown action."),
        };
        match run(web, cmd).await {
            Ok(out) => message = (out, "ok"),
            Err(e) => {
                message = (e.to_string(), "error");
                status = 400;
            }
        }
    }
    let listing = run(web, AdminCommand::QueueList).await.unwrap_or_default();
    let csrf = html::csrf_field(&ctx.viewer(web).csrf);
    let mut rows = String::new();
    // `queue list`: a heading, then id, age, next attempt, attempts, from, pending/all, last
    // result.
    for line in listing.lines().skip(1).filter(|l| l.contains('\t')) {
        let c: Vec<&str> = line.split('\t').collect();
        let col = |i: usize| esc(c.get(i).copied().unwrap_or(""));
        let _ = write!(
            rows,
            r#"<tr><td>{id}</td><td>{from}</td><td>{age}</td><td>{next}</td><td>{rcpts}</td><td>{last}</td><td>
<form method="post" action="/admin/queue" class="inline">{csrf}<input type="hidden" name="action" value="retry"><input type="hidden" name="id" value="{id}"><button>Retry</button></form>
<form method="post" action="/admin/queue" class="inline">{csrf}<input type="hidden" name="action" value="delete"><input type="hidden" name="id" value="{id}"><button class="danger">Delete</button></form></td></tr>"#,
            id = col(0),
            age = col(1),
            next = col(2),
            from = col(4),
            rcpts = col(5),
            last = col(6),
        );
    }
    let body = if rows.is_empty() {
        format!(
            "{}<p>The outbound queue is empty.</p>",
            notice(message.1, &message.0)
        )
    } else {
        format!(
            r#"{note}<table><thead><tr><th>Id</th><th>From</th><th>Age</th><th>Next try</th><th>Pending</th><th>Last result</th><th></th></tr></thead><tbody>{rows}</tbody></table>
<form method="post" action="/admin/queue">{csrf}<input type="hidden" name="action" value="retry"><button>Retry all now</button></form>"#,
            note = notice(message.1, &message.0),
        )
    };
    ctx.page(web, status, "Outbound queue", &body)
}

/// The settings the page offers, by group: (title, explanation, keys).
const GROUPS: &[(&str, &str, &[&str])] = &[
    (
        "Outbound mail",
        "Leave the relay's host empty to deliver directly (port 25 must be open to the internet); otherwise all mail goes through the relay, e.g. your provider's submission server.",
        &[
            "smarthost.host",
            "smarthost.port",
            "smarthost.tls",
            "smarthost.tls_verify",
            "smarthost.user",
            "smarthost.password",
        ],
    ),
    (
        "Spam",
        "Scores at or above the Junk threshold go to Junk; at the refusal threshold, with evidence beyond the content, mail is refused.",
        &[
            "spam.enabled",
            "spam.junk_tenths",
            "spam.reject_tenths",
            "spam.dnsbl_zones",
            "greylist.enabled",
        ],
    ),
    (
        "Certificate (ACME)",
        "With the box reachable from the internet on port 80 (HTTP-01) or 443 (TLS-ALPN-01) under its host name, a free certificate is obtained and renewed automatically (Let's Encrypt by default).",
        &[
            "acme.enabled",
            "acme.email",
            "acme.challenge",
            "acme.names",
            "acme.directory",
        ],
    ),
    (
        "Web page",
        "Who administers the box, and from where the page answers.",
        &["web.admins", "web.public"],
    ),
];

/// Relays of common providers for homes whose ISP blocks port 25: (name, host, port, TLS).
/// Each needs the account's user name and (app) password afterwards.
pub const RELAY_PRESETS: &[(&str, &str, u16, &str)] = &[
    (
        "Gmail / Google Workspace",
        "smtp.gmail.com",
        587,
        "starttls",
    ),
    ("Outlook.com", "smtp-mail.outlook.com", 587, "starttls"),
    ("Microsoft 365", "smtp.office365.com", 587, "starttls"),
    ("iCloud Mail", "smtp.mail.me.com", 587, "starttls"),
    ("Fastmail", "smtp.fastmail.com", 465, "tls"),
    ("Yahoo Mail", "smtp.mail.yahoo.com", 465, "tls"),
    ("GMX", "mail.gmx.net", 587, "starttls"),
    ("Mailbox.org", "smtp.mailbox.org", 465, "tls"),
];

async fn settings(web: &Web, ctx: &Ctx, form: Option<Form>) -> Response {
    let mut notes = String::new();
    let mut status = 200;
    if let Some(f) = form.as_ref().filter(|f| f.text("group") == "preset") {
        let Some((name, host, port, tls)) = RELAY_PRESETS.iter().find(|p| p.0 == f.text("preset"))
        else {
            return error_page(400, "Unknown provider.");
        };
        for (key, value) in [
            ("smarthost.host", host.to_string()),
            ("smarthost.port", port.to_string()),
            ("smarthost.tls", tls.to_string()),
            ("smarthost.tls_verify", "1".into()),
        ] {
            if let Err(e) = run(web, AdminCommand::ConfigSet(key.into(), value)).await {
                return error_page(500, &e.to_string());
            }
        }
        notes.push_str(&notice("ok", &format!("Outbound mail now goes through {name} ({host}:{port}); enter your account's user name and password below.")));
    }
    let form = form.filter(|f| f.text("group") != "preset");
    let stored = web.store.settings().unwrap_or_default();
    let board = crate::config::board::Board::from_pairs(&stored, web.store.ram());
    let current = |key: &str| {
        stored.get(key).cloned().unwrap_or_else(|| {
            crate::config::spec(key)
                .map(|s| s.default_on(&board).to_string())
                .unwrap_or_default()
        })
    };
    if let Some(f) = form {
        let Some((_, _, keys)) = GROUPS.iter().find(|(t, _, _)| *t == f.text("group")) else {
            return error_page(400, "Unknown settings group.");
        };
        let mut changed = 0;
        for key in keys.iter() {
            let Some(value) = f.get(key) else { continue };
            let value = value.trim();
            let secret = crate::config::spec(key).is_some_and(|s| s.is_secret());
            // A secret is never shown, so an empty field means "unchanged".
            if value == current(key) || (secret && value.is_empty()) {
                continue;
            }
            match run(
                web,
                AdminCommand::ConfigSet(key.to_string(), value.to_string()),
            )
            .await
            {
                Ok(_) => changed += 1,
                Err(e) => {
                    notes.push_str(&notice("error", &e.to_string()));
                    status = 400;
                }
            }
        }
        if status == 200 {
            notes.push_str(&notice("ok", &format!("{changed} settings changed.")));
        }
    }
    let stored = web.store.settings().unwrap_or_default();
    let board = crate::config::board::Board::from_pairs(&stored, web.store.ram());
    let csrf = html::csrf_field(&ctx.viewer(web).csrf);
    let mut body = notes;
    body.push_str(&spam_models(web).await);
    let options: String = RELAY_PRESETS
        .iter()
        .map(|p| format!(r#"<option value="{0}">{0}</option>"#, esc(p.0)))
        .collect();
    let _ = write!(
        body,
        r#"<h2>Send through your provider</h2><p>If your ISP blocks port 25 (see Checks), pick your mail provider; then fill in the user name and password below.</p>
<form method="post" action="/admin/settings">{csrf}<input type="hidden" name="group" value="preset"><label>Provider <select name="preset">{options}</select></label><button>Use this relay</button></form>"#
    );
    for (title, about, keys) in GROUPS {
        let mut fields = String::new();
        for key in keys.iter() {
            let Some(spec) = crate::config::spec(key) else {
                continue;
            };
            let value = stored
                .get(*key)
                .map_or(spec.default_on(&board), String::as_str);
            let (kind, shown) = if spec.is_secret() {
                ("password", "")
            } else {
                ("text", value)
            };
            fields.push_str(&input(key, key, kind, shown, ""));
            let _ = write!(fields, r#"<p class="muted">{}</p>"#, esc(spec.help));
        }
        let _ = write!(
            body,
            r#"<h2>{t}</h2><p>{a}</p><form method="post" action="/admin/settings">{csrf}<input type="hidden" name="group" value="{t}">{fields}<button>Save {t}</button></form>"#,
            t = esc(title),
            a = esc(about),
        );
    }
    ctx.page(web, status, "Settings", &body)
}

fn log_page(web: &Web, ctx: &Ctx) -> Response {
    let lines = crate::logger::recent(300);
    let body = format!(
        "<p class=\"muted\">The newest {} lines, newest first; kept in memory only.</p><pre class=\"log\">{}</pre>",
        lines.len(),
        esc(&lines.join("\n"))
    );
    ctx.page(web, 200, "Recent log", &body)
}

async fn checks(web: &Web, ctx: &Ctx) -> Response {
    let findings = super::checks::run(web).await;
    let mut rows = String::new();
    for f in &findings {
        let (mark, class) = match f.ok {
            Some(true) => ("✓ works", "ok"),
            Some(false) => ("✗ needs you", "bad"),
            None => ("• note", "note"),
        };
        let _ = write!(
            rows,
            r#"<tr class="{class}"><td>{mark}</td><td>{what}</td><td>{detail}</td></tr>"#,
            what = esc(&f.what),
            detail = esc(&f.detail),
        );
    }
    let body = format!(
        r#"<p>What works and what still needs you. <code>mailnook dns records</code> prints every record to publish.</p>
<table><thead><tr><th></th><th>Check</th><th>Found</th></tr></thead><tbody>{rows}</tbody></table>"#
    );
    ctx.page(web, 200, "Checks", &body)
}

/// The newest mail log lines about messages (accepted, delivered, deferred, bounced, refused),
/// from the in-memory log ring, as an HTML list.
fn recent_mail_lines() -> String {
    const WORDS: [&str; 6] = [
        "accepted ",
        "delivered ",
        "deferred ",
        "bounced ",
        "rejected ",
        "refused ",
    ];
    let lines: Vec<String> = crate::logger::recent(2000)
        .into_iter()
        .filter(|l| {
            l.split_once(" maillog: ")
                .is_some_and(|(_, rest)| WORDS.iter().any(|w| rest.starts_with(w)))
        })
        .take(12)
        .collect();
    if lines.is_empty() {
        return "<p class=\"muted\">No mail since the server started.</p>".into();
    }
    format!("<pre class=\"log\">{}</pre>", esc(&lines.join("\n")))
}

async fn tls(web: &Web, ctx: &Ctx, form: Option<Form>) -> Response {
    let mut note = String::new();
    let mut status = 200;
    if let Some(f) = form {
        let data = web.data.clone();
        let result = match f.text("action") {
            "upload" => {
                // Certificates and keys are ASCII; the form's line ends may be CRLF. A chosen
                // file wins over pasted text.
                let pick = |file: &str, text: &str| {
                    let v = match f.text(file) {
                        "" => f.text(text),
                        v => v,
                    };
                    v.replace("\r\n", "\n").into_bytes()
                };
                let (cert, key) = (pick("cert_file", "cert"), pick("key_file", "key"));
                blocking::unblock(move || crate::tls::install_pair(&data, &cert, &key))
                    .await
                    .map(|()| "Certificate installed; it is used within a few seconds.".to_string())
                    .map_err(|e| e.to_string())
            }
            "self-signed" => {
                blocking::unblock(move || {
                    let dir = crate::tls::tls_dir(&data);
                    for f in ["cert.pem", "key.pem"] {
                        match std::fs::remove_file(dir.join(f)) {
                            Ok(()) => {}
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                            Err(e) => return Err(e.to_string()),
                        }
                    }
                    Ok("Back to the self-signed certificate.".to_string())
                })
                .await
            }
            _ => return error_page(400, "Unknown action."),
        };
        match result {
            Ok(text) => {
                log::info!("web: TLS certificate changed ({})", f.text("action"));
                note = notice("ok", &text);
            }
            Err(e) => {
                note = notice("error", &e);
                status = 400;
            }
        }
    }
    let current = super::checks::certificate(web).await;
    let csrf = html::csrf_field(&ctx.viewer(web).csrf);
    let body = format!(
        r#"{note}<p><strong>In use:</strong> {detail}</p>
<p>To have a certificate obtained and renewed automatically, turn on ACME on the <a href="/admin/settings">settings page</a>.</p>
<h2>Install your own certificate</h2><form method="post" action="/admin/tls" enctype="multipart/form-data">{csrf}<input type="hidden" name="action" value="upload">
<p class="muted">Choose the PEM files, or paste their text.</p>
<label>Certificate chain file (PEM, the server's certificate first) <input type="file" name="cert_file" accept=".pem,.crt,.cer"></label>
<label>or its text <textarea name="cert" rows="6"></textarea></label>
<label>Private key file (PEM) <input type="file" name="key_file" accept=".pem,.key"></label>
<label>or its text <textarea name="key" rows="6"></textarea></label><button>Install</button></form>
<h2>Self-signed</h2><form method="post" action="/admin/tls">{csrf}<input type="hidden" name="action" value="self-signed"><button class="danger">Use the self-signed certificate</button></form>"#,
        detail = esc(&current.detail),
    );
    ctx.page(web, status, "TLS certificate", &body)
}

/// The addresses of a form field, separated by commas or white space.
fn address_list(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Runs `cmd` and returns what it said as a notice, with the page's status (400 on a refusal).
async fn noted(web: &Web, cmd: AdminCommand) -> (String, u16) {
    match run(web, cmd).await {
        Ok(out) => (notice("ok", &out), 200),
        Err(e) => (notice("error", &e.to_string()), 400),
    }
}

async fn domains(web: &Web, ctx: &Ctx, form: Option<Form>) -> Response {
    let mut note = String::new();
    let mut status = 200;
    if let Some(f) = form {
        let domain = f.text("domain").to_string();
        let cmd = match f.text("action") {
            "add" => AdminCommand::DomainAdd(domain),
            "delete" => AdminCommand::DomainDel(domain),
            _ => return error_page(400, "Unknown action."),
        };
        (note, status) = noted(web, cmd).await;
    }
    let list = run(web, AdminCommand::DomainList).await.unwrap_or_default();
    let csrf = html::csrf_field(&ctx.viewer(web).csrf);
    let mut rows = String::new();
    for d in list.lines().filter(|l| !l.is_empty()) {
        let _ = write!(
            rows,
            r#"<tr><td>{d}</td><td><form method="post" action="/admin/domains" class="inline">{csrf}<input type="hidden" name="action" value="delete"><input type="hidden" name="domain" value="{d}"><button class="danger">Remove</button></form></td></tr>"#,
            d = esc(d),
        );
    }
    let body = format!(
        r#"{note}<p>Mail for these domains is delivered here. A domain can be removed once no user has an address in it.</p>
<table><tbody>{rows}</tbody></table><h2>Add a domain</h2><form method="post" action="/admin/domains">{csrf}<input type="hidden" name="action" value="add">{d}<button>Add domain</button></form>
<p class="muted">Then publish its records (Checks lists what is missing).</p>"#,
        d = input("Domain", "domain", "text", "", "required"),
    );
    ctx.page(web, status, "Domains", &body)
}

async fn aliases(web: &Web, ctx: &Ctx, form: Option<Form>) -> Response {
    let mut note = String::new();
    let mut status = 200;
    if let Some(f) = form {
        let alias = f.text("alias").trim().to_string();
        let targets = address_list(f.text("targets"));
        let cmd = match f.text("action") {
            "add" if targets.is_empty() => {
                return ctx.page(
                    web,
                    400,
                    "Aliases",
                    &notice("error", "Name at least one user to deliver to."),
                );
            }
            "add" => AdminCommand::AliasAdd { alias, targets },
            "delete" => AdminCommand::AliasDel { alias, targets },
            _ => return error_page(400, "Unknown action."),
        };
        (note, status) = noted(web, cmd).await;
    }
    let list = run(web, AdminCommand::AliasList).await.unwrap_or_default();
    let csrf = html::csrf_field(&ctx.viewer(web).csrf);
    let mut rows = String::new();
    for (alias, targets) in list.lines().filter_map(|l| l.split_once('\t')) {
        let _ = write!(
            rows,
            r#"<tr><td>{a}</td><td>{t}</td><td><form method="post" action="/admin/aliases" class="inline">{csrf}<input type="hidden" name="action" value="delete"><input type="hidden" name="alias" value="{a}"><button class="danger">Remove</button></form></td></tr>"#,
            a = esc(alias),
            t = esc(targets),
        );
    }
    if rows.is_empty() {
        rows.push_str(r#"<tr><td colspan="3" class="muted">No aliases yet.</td></tr>"#);
    }
    let body = format!(
        r#"{note}<p>An alias is an extra address in one of your domains whose mail goes to one or more users or is forwarded to outside addresses, e.g. <code>info@</code> for the whole family. <code>@domain</code> takes every address no one else has. Users may also send as an alias that delivers to them.</p>
<table><thead><tr><th>Alias</th><th>Delivers to</th><th></th></tr></thead><tbody>{rows}</tbody></table>
<h2>Add an alias, or users to one</h2><form method="post" action="/admin/aliases">{csrf}<input type="hidden" name="action" value="add">{a}{t}<button>Add</button></form>"#,
        a = input(
            "Alias address (@domain for every address no one has)",
            "alias",
            "text",
            "",
            "required"
        ),
        t = input(
            "Deliver to (users or outside addresses, separated by commas)",
            "targets",
            "text",
            "",
            "required"
        ),
    );
    ctx.page(web, status, "Aliases", &body)
}

async fn lists(web: &Web, ctx: &Ctx, form: Option<Form>) -> Response {
    let mut note = String::new();
    let mut status = 200;
    if let Some(f) = form {
        let list = f.text("list").trim().to_string();
        let addresses = address_list(f.text("addresses"));
        let members = |add: bool, moderators: bool| AdminCommand::ListMembers {
            list: list.clone(),
            add,
            moderators,
            addresses: addresses.clone(),
        };
        let cmd = match f.text("action") {
            "set" => AdminCommand::ListSet {
                list: list.clone(),
                posting: f.text("posting").to_string(),
                reply_to_list: f.text("reply_to_list") == "1",
            },
            "delete" => AdminCommand::ListDel(list.clone()),
            "join" | "leave" | "mod-add" | "mod-del" if addresses.is_empty() => {
                return ctx.page(
                    web,
                    400,
                    "Mailing lists",
                    &notice("error", "Name at least one address."),
                );
            }
            "join" => members(true, false),
            "leave" => members(false, false),
            "mod-add" => members(true, true),
            "mod-del" => members(false, true),
            _ => return error_page(400, "Unknown action."),
        };
        (note, status) = noted(web, cmd).await;
    }
    let all = {
        let store = web.store.clone();
        blocking::unblock(move || store.lists())
            .await
            .unwrap_or_default()
    };
    let csrf = html::csrf_field(&ctx.viewer(web).csrf);
    let mut body = String::new();
    for l in &all {
        let a = esc(&l.address);
        let mut people = String::new();
        for m in &l.members {
            let state = if m.disabled {
                format!(" (stopped after {} failed deliveries)", m.bounces)
            } else {
                String::new()
            };
            let _ = write!(
                people,
                r#"<li>{m}{state} <form method="post" action="/admin/lists" class="inline">{csrf}<input type="hidden" name="action" value="leave"><input type="hidden" name="list" value="{a}"><input type="hidden" name="addresses" value="{m}"><button class="danger">Remove</button></form></li>"#,
                m = esc(&m.address),
            );
        }
        for m in &l.moderators {
            let _ = write!(
                people,
                r#"<li>{m} (moderator) <form method="post" action="/admin/lists" class="inline">{csrf}<input type="hidden" name="action" value="mod-del"><input type="hidden" name="list" value="{a}"><input type="hidden" name="addresses" value="{m}"><button class="danger">Remove</button></form></li>"#,
                m = esc(m),
            );
        }
        let _ = write!(
            body,
            r#"<h2>{a}</h2><p>{posting} may post; replies go to {replies}.</p><ul>{people}</ul>
<form method="post" action="/admin/lists">{csrf}<input type="hidden" name="action" value="join"><input type="hidden" name="list" value="{a}"><label>Add members (addresses, separated by commas) <input type="text" name="addresses" required></label><button>Add</button></form>
<form method="post" action="/admin/lists">{csrf}<input type="hidden" name="action" value="mod-add"><input type="hidden" name="list" value="{a}"><label>Add moderators <input type="text" name="addresses" required></label><button>Add</button></form>
<form method="post" action="/admin/lists" class="inline">{csrf}<input type="hidden" name="action" value="delete"><input type="hidden" name="list" value="{a}"><button class="danger">Delete the list</button></form>"#,
            posting = l.posting.word(),
            replies = if l.reply_to_list {
                "the list"
            } else {
                "the sender"
            },
        );
    }
    if all.is_empty() {
        body.push_str(r#"<p class="muted">No mailing lists yet.</p>"#);
    }
    let page = format!(
        r#"{note}<p>A mailing list is an address whose mail goes to every member, here or elsewhere, with the headers mail programs use to filter and unsubscribe. Members who cannot be reached are stopped after a few failed deliveries.</p>{body}
<h2>Make a list, or change one</h2><form method="post" action="/admin/lists">{csrf}<input type="hidden" name="action" value="set">{addr}<label>Who may post <select name="posting"><option value="members">members</option><option value="anyone">anyone</option><option value="moderators">moderators</option></select></label><label><input type="checkbox" name="reply_to_list" value="1"> Replies go to the list</label><button>Save</button></form>"#,
        addr = input("List address", "list", "email", "", "required"),
    );
    ctx.page(web, status, "Mailing lists", &page)
}

/// Received, sent and refused counts per day as an inline SVG bar chart (no script, no
/// external resource; colours as attributes, which the Content-Security-Policy allows).
fn chart(days: &[(u64, crate::stats::Day)]) -> String {
    const SERIES: [(&str, &str); 3] = [
        ("received", "#2563eb"),
        ("sent", "#16a34a"),
        ("refused", "#dc2626"),
    ];
    let (w, h, top, bottom) = (560u64, 180u64, 16u64, 28u64);
    let max = days
        .iter()
        .map(|(_, d)| d.received.max(d.sent).max(d.refused))
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = w / days.len().max(1) as u64;
    let bar = (slot.saturating_sub(6) / 3).max(1);
    let plot = h - top - bottom;
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="Mail per day, last {n} days"><text x="0" y="11" font-size="11" fill="currentColor">most: {max}</text>"#,
        n = days.len()
    );
    for (i, (day, d)) in days.iter().enumerate() {
        let x0 = i as u64 * slot + 3;
        for (k, (value, (name, colour))) in [d.received, d.sent, d.refused]
            .iter()
            .zip(SERIES)
            .enumerate()
        {
            let bh = value * plot / max;
            let _ = write!(
                svg,
                r#"<rect x="{x}" y="{y}" width="{bar}" height="{bh}" fill="{colour}"><title>{date}: {value} {name}</title></rect>"#,
                x = x0 + k as u64 * bar,
                y = top + plot - bh,
                date = &crate::time::iso8601(day * 86_400)[..10],
            );
        }
        if i % 2 == days.len() % 2 {
            let _ = write!(
                svg,
                r#"<text x="{x}" y="{y}" font-size="10" fill="currentColor">{label}</text>"#,
                x = x0,
                y = h - 8,
                label = &crate::time::iso8601(day * 86_400)[5..10],
            );
        }
    }
    let total = |f: fn(&crate::stats::Day) -> u64| days.iter().map(|(_, d)| f(d)).sum::<u64>();
    let _ = write!(
        svg,
        r#"</svg><p class="muted"><span class="key received">■</span> received {} · <span class="key sent">■</span> sent {} · <span class="key refused">■</span> refused {} in {} days</p>"#,
        total(|d| d.received),
        total(|d| d.sent),
        total(|d| d.refused),
        days.len()
    );
    svg
}

/// What the spam models have learned: the shared one and each user's own.
async fn spam_models(web: &Web) -> String {
    let store = web.store.clone();
    let rows = blocking::unblock(move || {
        let mut rows = Vec::new();
        if let Ok(t) = store.spam_totals(crate::store::spam::GLOBAL) {
            rows.push(("shared (all users' lessons)".to_string(), t));
        }
        for u in store.users().unwrap_or_default() {
            if let Ok(t) = store.spam_totals(u.id.0) {
                rows.push((u.row.email.clone(), t));
            }
        }
        rows
    })
    .await;
    let mut table = String::new();
    for (who, (ham, spam, tokens)) in &rows {
        let _ = write!(
            table,
            "<tr><td>{}</td><td>{ham}</td><td>{spam}</td><td>{tokens}</td></tr>",
            esc(who)
        );
    }
    format!(
        r#"<h2>Spam models</h2><p>Messages moved into Junk (spam) or out of it (ham) teach the models; each user's own model decides for mail to that user once it has an opinion.</p>
<table><thead><tr><th>Model</th><th>Ham learned</th><th>Spam learned</th><th>Tokens</th></tr></thead><tbody>{table}</tbody></table>"#
    )
}

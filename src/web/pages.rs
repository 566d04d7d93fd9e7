//! The pages behind each route (see the module documentation of `web`): what each GET shows
//! and what each POST changes. Changes go through the same admin commands as the CLI
//! (`cli::admin::execute`), on the blocking pool.

use super::html::{self, Viewer, esc, input, notice};
use super::session::{self, Limits, PRE_COOKIE, Session};
use super::{Origin, Web, error_page, two_step};
use crate::auth::AuthFailure;
use crate::auth::Secret;
use crate::auth::app_passwords::{self, AppPassword};
use crate::cli::admin::{AdminError, execute};
use crate::cli::args::AdminCommand;
use crate::config::Config;
use crate::proto::http::{Form, Method, Request, Response};
use std::fmt::Write;
use std::time::Instant;

fn limits(config: &Config) -> Limits {
    Limits::from_config(config)
}

/// `Set-Cookie` for a cookie that only this site's HTTPS pages see.
fn cookie(name: &str, value: &str, max_age: Option<u64>) -> String {
    let age = max_age
        .map(|s| format!("; Max-Age={s}"))
        .unwrap_or_default();
    format!("{name}={value}; Path=/; Secure; HttpOnly; SameSite=Strict{age}")
}

/// What one request knows about its sender.
pub(super) struct Ctx {
    session: Option<(String, Session)>,
    /// A login that still owes its TOTP code.
    pending: Option<(String, Session)>,
    /// Where the request came from.
    origin: Origin,
    /// When it arrived.
    now: Instant,
    /// The cookie CSRF tokens are made from (session, or pre-login).
    anchor: String,
    /// A pre-login cookie to set with this response.
    new_pre: Option<String>,
}

impl Ctx {
    pub(super) fn viewer(&self, web: &Web) -> Viewer {
        let csrf = web.sessions.borrow().csrf_token(&self.anchor);
        match &self.session {
            Some((_, s)) => Viewer {
                email: s.email.clone(),
                admin: s.admin,
                csrf,
            },
            None => Viewer {
                csrf,
                ..Viewer::default()
            },
        }
    }

    pub(super) fn page(&self, web: &Web, status: u16, title: &str, body: &str) -> Response {
        let mut r = Response::new(
            status,
            "text/html; charset=utf-8",
            html::page(title, &self.viewer(web), body),
        );
        if let Some(pre) = &self.new_pre {
            r = r.with("Set-Cookie", cookie(PRE_COOKIE, pre, None));
        }
        r
    }
}

/// Who sent a request: its session (or pending login) and the cookie its CSRF tokens are made
/// from.
pub(super) fn context(web: &Web, req: &Request, origin: Origin, config: &Config) -> Ctx {
    let now = Instant::now();
    let lim = limits(config);
    let found = req.cookie(session::COOKIE).and_then(|id| {
        let mut s = web.sessions.borrow_mut().get(id, now, &lim)?;
        // Rights follow `web.admins` as it is now, not as it was at login.
        s.admin = config.web_admins.contains(&s.email);
        Some((id.to_string(), s))
    });
    // A login still owing its code opens nothing but the code page.
    let (session, pending) = match found {
        Some((id, s)) if s.code_due => (None, Some((id, s))),
        other => (other, None),
    };
    let pre = req.cookie(PRE_COOKIE).map(str::to_string);
    let (anchor, new_pre) = match (session.as_ref().or(pending.as_ref()), pre) {
        (Some((id, _)), _) => (id.clone(), None),
        (None, Some(p)) => (p, None),
        (None, None) => {
            let p = session::random_token();
            (p.clone(), Some(p))
        }
    };
    Ctx {
        session,
        pending,
        origin,
        now,
        anchor,
        new_pre,
    }
}

impl Ctx {
    /// Whether `token` is the CSRF token of the cookie the request came with: a POST is
    /// honoured only then.
    pub(super) fn csrf_ok(&self, web: &Web, token: &str) -> bool {
        self.new_pre.is_none() && web.sessions.borrow().csrf_ok(&self.anchor, token)
    }

    /// Whether an administrator's session sent the request.
    /// The signed-in user's address.
    pub(super) fn email(&self) -> Option<&str> {
        self.session
            .as_ref()
            .filter(|(_, s)| !s.code_due)
            .map(|(_, s)| s.email.as_str())
    }

    pub(super) fn is_admin(&self) -> bool {
        self.session.as_ref().is_some_and(|(_, s)| s.admin)
    }
}

/// The answer to a POST whose CSRF token is wrong.
pub(super) fn csrf_refused() -> Response {
    error_page(
        403,
        "This form has expired or was not sent from this site. Reload the page and try again.",
    )
}

/// Whether the box is past its first-run setup. The setup page is for a new box only: once any
/// user exists (made here, with the CLI or by a restore), nobody on the network can make
/// themselves administrator through it, even if `web.admins` is emptied later; the CLI names
/// administrators then (`config set web.admins`).
pub(super) fn setup_done(web: &Web, config: &Config) -> bool {
    !config.web_admins.is_empty() || !web.store.users().unwrap_or_default().is_empty()
}

/// Dispatches one HTTPS request.
pub(super) async fn route(web: &Web, req: &Request, origin: Origin, config: &Config) -> Response {
    let ctx = context(web, req, origin, config);
    let form = if req.method == Method::Post {
        let Some(form) = req.form() else {
            return error_page(400, "The form could not be read.");
        };
        if !ctx.csrf_ok(web, form.text("csrf")) {
            return csrf_refused();
        }
        Some(form)
    } else {
        None
    };
    dispatch(web, ctx, req, config, form).await
}

/// Answers a request whose form (if any) passed the CSRF check.
pub(super) async fn dispatch(
    web: &Web,
    ctx: Ctx,
    req: &Request,
    config: &Config,
    form: Option<Form>,
) -> Response {
    let setup_done = setup_done(web, config);
    match (req.path.as_str(), form) {
        ("/metrics", None) => super::metrics::answer(web, req, config).await,
        ("/static/style.css", None) => Response::new(200, "text/css; charset=utf-8", html::STYLE)
            .with("Cache-Control", "max-age=3600"),
        ("/", None) => Response::see_other(match &ctx.session {
            _ if !setup_done => "/setup",
            Some((_, s)) if s.admin => "/admin",
            Some(_) => "/me",
            None => "/login",
        }),
        ("/setup", _) if setup_done => Response::see_other("/"),
        ("/setup", None) => setup_page(web, &ctx, config, &Form::default(), "", 200),
        ("/setup", Some(f)) => setup(web, &ctx, config, &f).await,
        ("/login", None) => login_page(web, &ctx, "", "", 200),
        ("/login", Some(f)) => login(web, &ctx, config, &f).await,
        ("/login/code", None) if ctx.pending.is_some() => code_page(web, &ctx, "", 200),
        ("/login/code", None) => Response::see_other("/login"),
        ("/login/code", Some(f)) => login_code(web, &ctx, config, &f).await,
        ("/logout", Some(_)) => {
            if let Some((id, _)) = ctx.session.as_ref().or(ctx.pending.as_ref()) {
                web.sessions.borrow_mut().end(id);
            }
            Response::see_other("/login").with("Set-Cookie", cookie(session::COOKIE, "", Some(0)))
        }
        (path, form) if path == "/admin" || path.starts_with("/admin/") => match &ctx.session {
            None => Response::see_other("/login"),
            Some((_, s)) if !s.admin => {
                error_page(403, "This page is for the box's administrators.")
            }
            Some(_) => super::admin::route(web, &ctx, config, path, form).await,
        },
        ("/me", form) => match &ctx.session {
            None => Response::see_other("/login"),
            Some(_) => me(web, &ctx, config, req, form).await,
        },
        (super::download::PATH, None) => match &ctx.session {
            None => Response::see_other("/login"),
            Some((_, s)) => super::download::mail_tar(web, &s.email),
        },
        ("/me/mailnook.mobileconfig", None) => match &ctx.session {
            None => Response::see_other("/login"),
            Some((_, s)) => super::clients::mobileconfig(web, &s.email),
        },
        _ => error_page(404, "There is no such page."),
    }
}

/// Runs an admin command on the blocking pool; the text it printed, or why it failed.
pub(super) async fn run(web: &Web, cmd: AdminCommand) -> Result<String, AdminError> {
    let (store, data) = (web.store.clone(), web.data.clone());
    let result = blocking::unblock(move || {
        let mut out = Vec::new();
        execute(&cmd, &store, &data, &mut out).map(|c| (c, out))
    })
    .await;
    match result {
        Ok((changed, out)) => {
            if changed.config {
                (web.reload)();
            }
            Ok(String::from_utf8_lossy(&out).trim().to_string())
        }
        Err(e) => Err(e),
    }
}

fn setup_page(
    web: &Web,
    ctx: &Ctx,
    config: &Config,
    f: &Form,
    error: &str,
    status: u16,
) -> Response {
    let domain = match f.text("domain") {
        "" => web
            .store
            .domains()
            .ok()
            .and_then(|d| d.first().cloned())
            .unwrap_or_default(),
        d => d.to_string(),
    };
    let host = match f.text("hostname") {
        "" => config.hostname.clone(),
        h => h.to_string(),
    };
    let body = format!(
        r#"{err}<p>Welcome. Three answers and this box is your mail server.</p>
<form method="post" action="/setup">{csrf}
{d}<p class="muted">The part after @ in your addresses, e.g. <code>example.com</code>.</p>
{h}<p class="muted">The name phones and other servers use to reach this box, e.g. <code>mail.example.com</code>.</p>
{e}{p}{p2}<button>Set up</button></form>
<h2>Restore from a backup</h2><p>Moving from another box? Restore its backup (made on its Backup page or with <code>mailnook backup</code>) instead of setting up: every account, message and setting comes back.</p>
<form method="post" action="/setup/restore" enctype="multipart/form-data">{csrf}<label>Backup file <input type="file" name="backup" required></label><button>Restore</button></form>"#,
        err = notice("error", error),
        csrf = html::csrf_field(&ctx.viewer(web).csrf),
        d = input("Mail domain", "domain", "text", &domain, "required"),
        h = input("Host name", "hostname", "text", &host, "required"),
        e = input(
            "Your address (you administer the box with it)",
            "email",
            "email",
            f.text("email"),
            "required"
        ),
        p = html::password("Password (at least 8 characters)", "password", true),
        p2 = html::password("Password again", "password2", true),
    );
    ctx.page(web, status, "Set up mailnook", &body)
}

async fn setup(web: &Web, ctx: &Ctx, config: &Config, f: &Form) -> Response {
    let (origin, now) = (ctx.origin, ctx.now);
    let (domain, hostname, email) = (f.text("domain"), f.text("hostname"), f.text("email"));
    let password = f.get("password").unwrap_or("");
    if password != f.get("password2").unwrap_or("") {
        return setup_page(web, ctx, config, f, "The two passwords differ.", 400);
    }
    if let Err(e) = crate::auth::check_policy(password) {
        return setup_page(web, ctx, config, f, &e.to_string(), 400);
    }
    let email = email.to_ascii_lowercase();
    if crate::message::address::domain(&email) != domain.to_ascii_lowercase() {
        return setup_page(
            web,
            ctx,
            config,
            f,
            "Your address must be in the mail domain.",
            400,
        );
    }
    // The administrator is named last, once their account exists: a step that fails leaves
    // the setup page open to try again.
    let init = |admin: Option<String>| AdminCommand::Init {
        domain: domain.to_string(),
        hostname: Some(hostname.to_string()),
        admin,
    };
    let steps = [
        init(None),
        AdminCommand::UserAdd {
            email: email.clone(),
            password: Some(password.to_string()),
        },
        init(Some(email.clone())),
    ];
    for step in steps {
        if let Err(e) = run(web, step).await {
            return setup_page(web, ctx, config, f, &e.to_string(), 400);
        }
    }
    log::info!(target: "maillog", "web: setup done by ip={}: domain={domain} admin={email}", origin.peer.ip());
    let config = (web.config)();
    let id = web
        .sessions
        .borrow_mut()
        .create(&email, true, false, now, &limits(&config));
    // Setup ends with the plain account of what works and what still needs the owner.
    Response::see_other("/admin/checks").with("Set-Cookie", cookie(session::COOKIE, &id, None))
}

fn login_page(web: &Web, ctx: &Ctx, email: &str, error: &str, status: u16) -> Response {
    let body = format!(
        r#"{err}<form method="post" action="/login">{csrf}{e}{p}<button>Log in</button></form>
<p class="muted">Log in with your mail address and its password.</p>"#,
        err = notice("error", error),
        csrf = html::csrf_field(&ctx.viewer(web).csrf),
        e = input(
            "Address",
            "email",
            "email",
            email,
            "required autocomplete=\"username\""
        ),
        p = html::password("Password", "password", false),
    );
    ctx.page(web, status, "Log in", &body)
}

async fn login(web: &Web, ctx: &Ctx, config: &Config, f: &Form) -> Response {
    let (origin, now) = (ctx.origin, ctx.now);
    let email = f.text("email");
    let password = Secret::new(f.get("password").unwrap_or("").to_string());
    match web
        .auth
        .login_main(&web.store, email, &password, origin.peer.ip())
        .await
    {
        Ok(p) => {
            let admin = config.web_admins.contains(&p.email);
            let code_due = two_step::secret(web, &p.email).await.is_some();
            let id =
                web.sessions
                    .borrow_mut()
                    .create(&p.email, admin, code_due, now, &limits(config));
            if code_due {
                return Response::see_other("/login/code")
                    .with("Set-Cookie", cookie(session::COOKIE, &id, None));
            }
            log::info!(
                "web: login user={} ip={}",
                crate::conn::loggable(&p.email, 80),
                origin.peer.ip()
            );
            Response::see_other("/").with("Set-Cookie", cookie(session::COOKIE, &id, None))
        }
        Err(AuthFailure::Invalid) => login_page(web, ctx, email, "Wrong address or password.", 200),
        Err(e) => login_page(web, ctx, email, &e.to_string(), 429).with("Retry-After", "60"),
    }
}

/// The mail settings a client needs, shown on the user's page.
fn client_settings(config: &Config, port_base: u16, email: &str) -> String {
    let host = esc(&config.hostname);
    let p = |n: u16| port_base.saturating_add(n);
    format!(
        r#"<dl><dt>User name</dt><dd>{email}</dd><dt>Incoming (IMAP)</dt><dd>{host}, port {imaps}, SSL/TLS (or {imap} with STARTTLS)</dd>
<dt>Incoming (POP3)</dt><dd>{host}, port {pop3s}, SSL/TLS</dd><dt>Outgoing (SMTP)</dt><dd>{host}, port {smtps}, SSL/TLS (or {smtp} with STARTTLS), password required</dd>
<dt>Filters (ManageSieve)</dt><dd>{host}, port {sieve}, STARTTLS</dd></dl>"#,
        email = esc(email),
        imaps = p(993),
        imap = p(143),
        pop3s = p(995),
        smtps = p(465),
        smtp = p(587),
        sieve = p(4190),
    )
}

/// How much the user stores, and their quota if they have one.
async fn storage_section(web: &Web, email: &str) -> String {
    let (store, email) = (web.store.clone(), email.to_string());
    let quota = blocking::unblock(move || -> crate::store::Result<_> {
        match store.user(&email)? {
            Some(u) => store.quota(u.id),
            None => Ok(None),
        }
    })
    .await;
    let Ok(Some(q)) = quota else {
        return String::new();
    };
    let text = if q.limit == 0 {
        format!("Your mail takes {}.", html::size(q.used))
    } else {
        let full = if q.full() {
            " Your mailbox is full: new mail is refused until you delete some."
        } else {
            ""
        };
        format!(
            "Your mail takes {} of your {} quota ({}%).{full}",
            html::size(q.used),
            html::size(q.limit),
            u128::from(q.used) * 100 / u128::from(q.limit)
        )
    };
    format!(
        r#"<h2>Storage</h2><p id="storage">{}</p>"#,
        html::esc(&text)
    )
}

async fn me(web: &Web, ctx: &Ctx, config: &Config, req: &Request, form: Option<Form>) -> Response {
    let origin = ctx.origin;
    let Some((id, s)) = &ctx.session else {
        return Response::see_other("/login");
    };
    let mut message = (String::new(), "ok");
    let mut status = 200;
    let mut enrolling = s.enrolling.clone();
    let mut new_app_password = None;
    if let Some(f) = form
        .as_ref()
        .filter(|f| f.text("action").starts_with("app-"))
    {
        match app_password_action(web, &s.email, f).await {
            Ok((text, made)) => {
                message = (text, "ok");
                new_app_password = made;
            }
            Err(e) => {
                message = (e, "error");
                status = 400;
            }
        }
    } else if let Some(f) = form.as_ref().filter(|f| f.text("action") == "import-imap") {
        (message, status) = outcome(super::download::import_imap(web, &s.email, f).await);
    } else if let Some(f) = form
        .as_ref()
        .filter(|f| f.text("action").starts_with("collect-"))
    {
        (message, status) = outcome(super::collect::action(web, &s.email, f).await);
    } else if let Some(f) = form
        .as_ref()
        .filter(|f| matches!(f.text("action"), "vacation" | "rule-add" | "rule-del"))
    {
        (message, status) = outcome(filters_action(web, &s.email, f).await);
    } else if let Some(f) = form
        .as_ref()
        .filter(|f| f.text("action").starts_with("totp-"))
    {
        let (text, kind, code) = two_step_action(web, id, s, f).await;
        message = (text, kind);
        status = code;
        enrolling = web
            .sessions
            .borrow_mut()
            .get(id, Instant::now(), &limits(config))
            .and_then(|s| s.enrolling);
    } else if let Some(f) = form {
        let current = Secret::new(f.get("current").unwrap_or("").to_string());
        let new = f.get("password").unwrap_or("");
        if new != f.get("password2").unwrap_or("") {
            message = ("The two new passwords differ.".into(), "error");
            status = 400;
        } else if let Err(e) = web
            .auth
            .login_main(&web.store, &s.email, &current, origin.peer.ip())
            .await
        {
            message = (
                match e {
                    AuthFailure::Invalid => "The current password is wrong.".into(),
                    e => e.to_string(),
                },
                "error",
            );
            status = if e.is_temporary() { 429 } else { 400 };
        } else {
            let cmd = AdminCommand::UserPasswd {
                email: s.email.clone(),
                password: Some(new.to_string()),
            };
            match run(web, cmd).await {
                Ok(_) => {
                    web.sessions.borrow_mut().end_user(&s.email, Some(id));
                    message = (
                        "Password changed; your other sessions were logged out.".into(),
                        "ok",
                    );
                }
                Err(e) => {
                    message = (e.to_string(), "error");
                    status = 400;
                }
            }
        }
    }
    let storage = storage_section(web, &s.email).await;
    let two_step = two_step_section(web, ctx, s, enrolling.as_deref()).await;
    let vacation = vacation_section(web, ctx, s).await;
    let app = app_password_section(web, ctx, s, new_app_password.as_deref()).await;
    let collect =
        super::collect::section(web, &s.email, &html::csrf_field(&ctx.viewer(web).csrf)).await;
    let body = format!(
        r#"{note}{storage}<h2>Your mail settings</h2>{settings}{phone}
<h2>Change your password</h2><form method="post" action="/me">{csrf}{c}{p}{p2}<button>Change password</button></form>{app}{two_step}{vacation}{collect}{download}"#,
        note = notice(message.1, &message.0),
        settings = client_settings(config, web.port_base, &s.email),
        phone = super::clients::setup_section(web, req),
        csrf = html::csrf_field(&ctx.viewer(web).csrf),
        c = html::password("Current password", "current", false),
        p = html::password("New password", "password", true),
        p2 = html::password("New password again", "password2", true),
        download = super::download::section(&html::csrf_field(&ctx.viewer(web).csrf)),
    );
    ctx.page(web, status, "My account", &body)
}

/// Turns two-step login on (start: a new secret shown; confirm: the first code saves it) or off
/// (with a current code). Returns the notice and the status.
async fn two_step_action(
    web: &Web,
    id: &str,
    s: &Session,
    f: &Form,
) -> (String, &'static str, u16) {
    match f.text("action") {
        "totp-start" => match crate::auth::totp::new_secret() {
            Ok(secret) => {
                web.sessions
                    .borrow_mut()
                    .update(id, |s| s.enrolling = Some(secret.to_vec()));
                (
                    "Scan the code below, then enter the code your app shows.".into(),
                    "ok",
                    200,
                )
            }
            Err(e) => (format!("no randomness: {e}"), "error", 500),
        },
        "totp-confirm" => {
            let Some(secret) = s.enrolling.clone() else {
                return ("Start again: the code expired.".into(), "error", 400);
            };
            if !two_step::accept(web, &s.email, &secret, f.text("code")) {
                return (
                    "That code is not right; try the next one.".into(),
                    "error",
                    400,
                );
            }
            match two_step::set(web, &s.email, Some(secret)).await {
                Ok(()) => {
                    web.sessions.borrow_mut().update(id, |s| s.enrolling = None);
                    log::info!(
                        "web: two-step login on for user={}",
                        crate::conn::loggable(&s.email, 80)
                    );
                    (
                        "Two-step login is on: logging in here now asks for a code.".into(),
                        "ok",
                        200,
                    )
                }
                Err(e) => (e.to_string(), "error", 500),
            }
        }
        "totp-off" => {
            let Some(secret) = two_step::secret(web, &s.email).await else {
                return ("Two-step login is already off.".into(), "ok", 200);
            };
            if !two_step::accept(web, &s.email, &secret, f.text("code")) {
                return ("That code is not right.".into(), "error", 400);
            }
            match two_step::set(web, &s.email, None).await {
                Ok(()) => ("Two-step login is off.".into(), "ok", 200),
                Err(e) => (e.to_string(), "error", 500),
            }
        }
        _ => ("Unknown action.".into(), "error", 400),
    }
}

/// The two-step login part of the user's page.
async fn two_step_section(web: &Web, ctx: &Ctx, s: &Session, enrolling: Option<&[u8]>) -> String {
    let csrf = html::csrf_field(&ctx.viewer(web).csrf);
    let code = input(
        "Code from the app",
        "code",
        "text",
        "",
        "required inputmode=\"numeric\" autocomplete=\"one-time-code\"",
    );
    if let Some(secret) = enrolling {
        let uri = crate::auth::totp::otpauth_uri("mailnook", &s.email, secret);
        let qr = super::onboarding::qr_svg(&uri)
            .map(|svg| format!(r#"<div class="qr">{svg}</div>"#))
            .unwrap_or_default();
        return format!(
            r#"<h2>Two-step login</h2><p>Scan this with an authenticator app (or type the key), then enter the code it shows.</p>{qr}
<p class="muted">Key: <code>{key}</code></p><form method="post" action="/me">{csrf}<input type="hidden" name="action" value="totp-confirm">{code}<button>Turn on</button></form>"#,
            key = esc(&crate::auth::totp::base32(secret)),
        );
    }
    if two_step::secret(web, &s.email).await.is_some() {
        format!(
            r#"<h2>Two-step login</h2><p>On: logging in here asks for a code from your app.</p>
<form method="post" action="/me">{csrf}<input type="hidden" name="action" value="totp-off">{code}<button class="danger">Turn off</button></form>"#
        )
    } else {
        format!(
            r#"<h2>Two-step login</h2><p>Off. With it on, logging in here also asks for a code from an authenticator app on your phone.</p>
<form method="post" action="/me">{csrf}<input type="hidden" name="action" value="totp-start"><button>Set up two-step login</button></form>"#
        )
    }
}

fn code_page(web: &Web, ctx: &Ctx, error: &str, status: u16) -> Response {
    let body = format!(
        r#"{err}<form method="post" action="/login/code">{csrf}{code}<button>Continue</button></form>
<p class="muted">Open your authenticator app and enter the code for mailnook.</p>"#,
        err = notice("error", error),
        csrf = html::csrf_field(&ctx.viewer(web).csrf),
        code = input(
            "Code",
            "code",
            "text",
            "",
            "required autofocus inputmode=\"numeric\" autocomplete=\"one-time-code\""
        ),
    );
    ctx.page(web, status, "Enter your code", &body)
}

/// The second step of a login: a half-done session becomes a whole one with a right code.
async fn login_code(web: &Web, ctx: &Ctx, config: &Config, f: &Form) -> Response {
    let (origin, now) = (ctx.origin, ctx.now);
    let Some((id, s)) = &ctx.pending else {
        return Response::see_other("/login");
    };
    let right = match two_step::secret(web, &s.email).await {
        Some(secret) => two_step::accept(web, &s.email, &secret, f.text("code")),
        // Turned off meanwhile by an administrator: the password was enough.
        None => true,
    };
    if !right {
        let mut ended = false;
        web.sessions.borrow_mut().update(id, |s| {
            s.code_failures += 1;
            ended = s.code_failures >= two_step::MAX_CODE_FAILURES;
        });
        log::info!(target: "maillog", "auth failed ip={} user={:?} reason=bad-totp-code", origin.peer.ip(), crate::conn::loggable(&s.email, 80));
        if ended {
            web.sessions.borrow_mut().end(id);
            return Response::see_other("/login")
                .with("Set-Cookie", cookie(session::COOKIE, "", Some(0)));
        }
        return code_page(web, ctx, "That code is not right.", 200);
    }
    // A new session id for the whole login (the half-done one is dropped).
    let mut sessions = web.sessions.borrow_mut();
    sessions.end(id);
    let new = sessions.create(
        &s.email,
        config.web_admins.contains(&s.email),
        false,
        now,
        &limits(config),
    );
    log::info!(
        "web: login user={} ip={} with code",
        crate::conn::loggable(&s.email, 80),
        origin.peer.ip()
    );
    Response::see_other("/").with("Set-Cookie", cookie(session::COOKIE, &new, None))
}

/// A form's result as the page's message and status (400 for a refusal).
fn outcome(r: Result<String, String>) -> ((String, &'static str), u16) {
    match r {
        Ok(text) => ((text, "ok"), 200),
        Err(e) => ((e, "error"), 400),
    }
}

/// Changes the user's vacation reply or rules from a form; says what changed.
async fn filters_action(web: &Web, email: &str, f: &Form) -> Result<String, String> {
    use super::filters::{self, Rule};
    let user = {
        let (store, email) = (web.store.clone(), email.to_string());
        blocking::unblock(move || store.user(&email))
            .await
            .map_err(|e| e.to_string())?
            .ok_or("No such user.")?
    };
    let mut all = filters::get(web, email).await;
    let done = match f.text("action") {
        "vacation" => {
            all.vacation = filters::Vacation {
                on: f.text("on") == "1",
                subject: f.text("subject").to_string(),
                body: f.get("body").unwrap_or("").replace("\r\n", "\n"),
            };
            let state = if all.vacation.on { "on" } else { "off" };
            format!("Vacation reply saved and {state}.")
        }
        "rule-add" => {
            all.rules.push(Rule {
                field: f.text("field").to_string(),
                contains: f.text("contains").trim().to_string(),
                action: f.text("rule").to_string(),
                target: f.text("target").trim().to_string(),
            });
            "Rule added.".to_string()
        }
        _ => {
            let i: usize = f.text("index").parse().map_err(|_| "No such rule.")?;
            if i >= all.rules.len() {
                return Err("No such rule.".into());
            }
            all.rules.remove(i);
            "Rule removed.".to_string()
        }
    };
    filters::set(web, user.id, email, &all).await?;
    Ok(done)
}

/// The vacation reply and rules forms of the user's page.
async fn vacation_section(web: &Web, ctx: &Ctx, s: &Session) -> String {
    use super::filters::{ACTIONS, FIELDS, MAX_TEXT, PAGE_SCRIPT};
    let all = super::filters::get(web, &s.email).await;
    let v = &all.vacation;
    let csrf = html::csrf_field(&ctx.viewer(web).csrf);
    let label = |list: &[(&str, &'static str)], k: &str| {
        list.iter().find(|(x, _)| *x == k).map_or("", |(_, l)| *l)
    };
    let mut rules = String::new();
    for (i, r) in all.rules.iter().enumerate() {
        rules.push_str(&format!(
            r#"<tr><td>{field} contains “{contains}”</td><td>{action} {target}</td><td><form method="post" action="/me" class="inline">{csrf}<input type="hidden" name="action" value="rule-del"><input type="hidden" name="index" value="{i}"><button class="danger">Remove</button></form></td></tr>"#,
            field = label(&FIELDS, &r.field),
            contains = esc(&r.contains),
            action = label(&ACTIONS, &r.action),
            target = esc(&r.target),
        ));
    }
    let options = |list: &[(&str, &str)]| -> String {
        list.iter()
            .map(|(k, l)| format!(r#"<option value="{k}">{l}</option>"#))
            .collect()
    };
    let elsewhere = {
        let (store, email) = (web.store.clone(), s.email.clone());
        blocking::unblock(move || {
            let user = store.user(&email).ok().flatten()?;
            store.active_script(user.id).ok().flatten().map(|(n, _)| n)
        })
        .await
        .filter(|n| n != PAGE_SCRIPT)
    };
    let note = match elsewhere {
        Some(n) => format!(
            r#"<p class="muted">Your mail program's filter script “{}” is in use; saving here puts these filters in its place.</p>"#,
            esc(&n)
        ),
        None => String::new(),
    };
    format!(
        r#"<h2>Vacation reply</h2>{note}<form method="post" action="/me">{csrf}<input type="hidden" name="action" value="vacation">
<label><input type="checkbox" name="on" value="1"{checked}> Reply to incoming mail while I am away</label>{subject}
<label>Message <textarea name="body" rows="5" maxlength="{max}">{body}</textarea></label><button>Save vacation reply</button></form>
<h2>Rules</h2><p class="muted">Applied in order to each message as it arrives.</p><table><tbody>{rules}</tbody></table>
<form method="post" action="/me">{csrf}<input type="hidden" name="action" value="rule-add"><label>When <select name="field">{fields}</select></label>{contains}<label>then <select name="rule">{actions}</select></label>{target}<button>Add rule</button></form>"#,
        fields = options(&FIELDS),
        actions = options(&ACTIONS),
        contains = input(
            "contains",
            "contains",
            "text",
            "",
            &format!("required maxlength=\"{MAX_TEXT}\"")
        ),
        target = input(
            "folder or address",
            "target",
            "text",
            "",
            &format!("maxlength=\"{MAX_TEXT}\"")
        ),
        checked = if v.on { " checked" } else { "" },
        subject = input(
            "Subject",
            "subject",
            "text",
            &v.subject,
            "maxlength=\"200\""
        ),
        max = super::filters::MAX_BODY,
        body = esc(&v.body),
    )
}

async fn app_passwords_of(web: &Web, email: &str) -> Vec<AppPassword> {
    let (store, key) = (web.store.clone(), app_passwords::state_key(email));
    blocking::unblock(move || store.state(&key).ok().flatten())
        .await
        .map(|r| app_passwords::decode(&r))
        .unwrap_or_default()
}

/// Makes (`app-new`) or revokes (`app-revoke`) an app password; the notice, and a new password
/// to show once.
async fn app_password_action(
    web: &Web,
    email: &str,
    f: &Form,
) -> Result<(String, Option<String>), String> {
    let mut list = app_passwords_of(web, email).await;
    let (text, made) = match f.text("action") {
        "app-new" => {
            if list.len() >= app_passwords::MAX_PER_USER {
                return Err(format!(
                    "At most {} app passwords; revoke one first.",
                    app_passwords::MAX_PER_USER
                ));
            }
            let (password, stored) =
                app_passwords::generate(f.text("name"), crate::time::unix_now())?;
            let text = format!(
                "App password \u{201c}{}\u{201d} made; it is shown only now.",
                stored.name
            );
            list.push(stored);
            (text, Some(password))
        }
        "app-revoke" => {
            let before = list.len();
            list.retain(|p| p.id != f.text("id"));
            if list.len() == before {
                return Err("No such app password.".into());
            }
            (
                "App password revoked: it no longer logs in.".to_string(),
                None,
            )
        }
        _ => return Err("Unknown action.".into()),
    };
    web.store
        .call(crate::store::Op::SetState {
            key: app_passwords::state_key(email),
            value: Some(app_passwords::encode(&list)),
        })
        .await
        .map_err(|e| e.to_string())?;
    log::info!(
        "web: {} for user={}",
        f.text("action"),
        crate::conn::loggable(email, 80)
    );
    Ok((text, made))
}

/// The app password part of the user's page.
async fn app_password_section(web: &Web, ctx: &Ctx, s: &Session, made: Option<&str>) -> String {
    let csrf = html::csrf_field(&ctx.viewer(web).csrf);
    let mut rows = String::new();
    for p in app_passwords_of(web, &s.email).await {
        let _ = write!(
            rows,
            r#"<tr><td>{name}</td><td>{date}</td><td><form method="post" action="/me" class="inline">{csrf}<input type="hidden" name="action" value="app-revoke"><input type="hidden" name="id" value="{id}"><button class="danger">Revoke</button></form></td></tr>"#,
            name = esc(&p.name),
            date = &crate::time::iso8601(p.created)[..10],
            id = esc(&p.id),
        );
    }
    let fresh = made
        .map(|pw| {
            format!(
                r#"<p class="notice ok">Type this into the mail program as its password: <code class="secret">{}</code></p>"#,
                esc(&app_passwords::shown(pw))
            )
        })
        .unwrap_or_default();
    format!(
        r#"<h2>App passwords</h2><p>One for each mail program, so you can revoke a lost phone's without changing your password. They work for mail only, not on this page.</p>{fresh}
<table><tbody>{rows}</tbody></table><form method="post" action="/me">{csrf}<input type="hidden" name="action" value="app-new">{name}<button>Make an app password</button></form>"#,
        name = input(
            "Name, e.g. phone",
            "name",
            "text",
            "",
            "required maxlength=\"60\""
        ),
    )
}

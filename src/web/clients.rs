//! Mail client onboarding on the web page: the documents of `web::onboarding` served where
//! clients look for them, and the "set up your phone" part of each user's page.
//!
//! - Thunderbird autoconfig: `GET /.well-known/autoconfig/mail/config-v1.1.xml` and
//!   `GET /mail/config-v1.1.xml` (the `autoconfig.<domain>` form), over HTTP and HTTPS, for the
//!   domain of `?emailaddress=`, else of the `Host` name, else the first local domain.
//! - Outlook autodiscover (POX): `POST /autodiscover/autodiscover.xml` (any case), over HTTPS.
//! - Apple configuration profile: `GET /me/mailnook.mobileconfig`, for the logged-in user.
//! - A QR code on the user's page that opens this page on a phone.
//! - ACME HTTP-01 answers (`/.well-known/acme-challenge/<token>`, RFC 8555 §8.3) while an order
//!   of `acme` runs.
//!
//! Invariants: only addresses and domains this box serves get settings (others get the
//! format's error answer); none of these documents carries a password; the autodiscover body
//! is bounded by the format's own limit before it is parsed.

use super::html::esc;
use super::onboarding::{self, AutodiscoverFault, MailSettings};
use super::{Web, error_page};
use crate::config::Config;
use crate::proto::http::{Method, Request, Response};

/// The settings clients need for `email` (may be empty) in `domain`, with the server's ports.
pub fn settings_for(config: &Config, port_base: u16, email: &str, domain: &str) -> MailSettings {
    let mut s = MailSettings::with_standard_ports(email, "", domain, &config.hostname);
    for port in [
        &mut s.imaps_port,
        &mut s.imap_port,
        &mut s.submissions_port,
        &mut s.submission_port,
        &mut s.pop3s_port,
        &mut s.pop3_port,
    ] {
        *port = port.saturating_add(port_base);
    }
    s
}

/// ACME HTTP-01 answers (RFC 8555 §8.3: the CA fetches the key authorization over plain
/// HTTP). Answered to any address, `web.public` or not: the CA is on the internet.
pub(super) fn acme_route(web: &Web, req: &Request) -> Option<Response> {
    if !req.path.starts_with(crate::acme::challenge::HTTP01_PREFIX)
        || !matches!(req.method, Method::Get | Method::Head)
    {
        return None;
    }
    Some(
        match crate::acme::http01_response(&web.challenges, &req.path) {
            Some(body) => Response::new(200, "application/octet-stream", body),
            None => error_page(404, "No such challenge."),
        },
    )
}

fn is_autoconfig(path: &str) -> bool {
    path == "/.well-known/autoconfig/mail/config-v1.1.xml" || path == "/mail/config-v1.1.xml"
}

fn is_autodiscover(path: &str) -> bool {
    path.eq_ignore_ascii_case("/autodiscover/autodiscover.xml")
}

/// Answers the client configuration requests, which carry no session and no CSRF token;
/// `None` for every other request.
pub(super) async fn public_route(web: &Web, req: &Request, https: bool) -> Option<Response> {
    if is_autoconfig(&req.path) && matches!(req.method, Method::Get | Method::Head) {
        return Some(autoconfig(web, req).await);
    }
    if https && is_autodiscover(&req.path) && req.method == Method::Post {
        return Some(autodiscover(web, req).await);
    }
    None
}

async fn autoconfig(web: &Web, req: &Request) -> Response {
    let config = (web.config)();
    let local = web.store.domains().unwrap_or_default();
    let asked = req
        .query_form()
        .and_then(|f| f.get("emailaddress").map(str::to_ascii_lowercase))
        .and_then(|e| e.rsplit_once('@').map(|(_, d)| d.to_string()));
    let host = super::request_host(req).unwrap_or_default();
    let from_host = host.strip_prefix("autoconfig.").map(str::to_string);
    let domain = match asked.or(from_host) {
        Some(d) if local.contains(&d) => d,
        Some(_) => return error_page(404, "This box does not serve that domain."),
        None => match local.first() {
            Some(d) => d.clone(),
            None => return error_page(404, "No mail domain is set up yet."),
        },
    };
    let s = settings_for(&config, web.port_base, "", &domain);
    Response::new(
        200,
        onboarding::AUTOCONFIG_CONTENT_TYPE,
        onboarding::autoconfig(&s),
    )
}

async fn autodiscover(web: &Web, req: &Request) -> Response {
    let xml = |status: u16, body: String| {
        Response::new(status, onboarding::AUTODISCOVER_CONTENT_TYPE, body)
    };
    let email = match onboarding::parse_autodiscover_request(&req.body) {
        Ok(e) => e,
        Err(e) => return xml(200, onboarding::autodiscover_error_response(e.fault())),
    };
    let domain = crate::message::address::domain(&email).to_string();
    if !web.store.is_local_domain(&domain).unwrap_or(false) {
        return xml(
            200,
            onboarding::autodiscover_error_response(AutodiscoverFault::UnknownAddress),
        );
    }
    let s = settings_for(&(web.config)(), web.port_base, &email, &domain);
    xml(200, onboarding::autodiscover_response(&s))
}

/// The logged-in user's configuration profile, as a download.
pub(super) fn mobileconfig(web: &Web, email: &str) -> Response {
    let config = (web.config)();
    let domain = crate::message::address::domain(email).to_string();
    let s = settings_for(&config, web.port_base, email, &domain);
    Response::new(
        200,
        onboarding::MOBILECONFIG_CONTENT_TYPE,
        onboarding::mobileconfig(&s),
    )
    .with(
        "Content-Disposition",
        "attachment; filename=\"mailnook.mobileconfig\"",
    )
}

/// The "set up a phone or computer" part of the user's page: a QR code that opens this page
/// on a phone, the profile download, and what other programs find by themselves.
pub(super) fn setup_section(web: &Web, req: &Request) -> String {
    let config = (web.config)();
    let host = super::request_host(req).unwrap_or_else(|| config.hostname.clone());
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let port = if web.https_port == 443 {
        String::new()
    } else {
        format!(":{}", web.https_port)
    };
    let url = format!("https://{host}{port}/me");
    let qr = match onboarding::qr_svg(&url) {
        Ok(svg) => format!(r#"<div class="qr">{svg}</div>"#),
        Err(_) => String::new(),
    };
    format!(
        r#"<h2>Set up a phone or computer</h2>
<p>On a phone, scan this code with the camera to open this page there, and log in.</p>{qr}<p class="muted">{url}</p>
<ul><li><a href="/me/mailnook.mobileconfig">iPhone, iPad or Mac: install the profile</a> (then open Settings → Profile Downloaded, and enter your password).</li>
<li>Thunderbird, K-9 Mail and Outlook find the settings by themselves from your address.</li>
<li>Any other program: use the settings above.</li></ul>"#,
        url = esc(&url),
    )
}

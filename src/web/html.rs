//! Server-rendered HTML: escaping and the page frame.
//!
//! Invariants: every piece of text that did not come from this module's literals goes through
//! [`esc`] (element content and attribute values alike); pages load nothing from elsewhere (the
//! one stylesheet is served by this server, there are no scripts), so the strict
//! Content-Security-Policy set by `web` holds; a page is a few KB.

use std::fmt::Write;

/// The stylesheet, served at `/static/style.css`.
pub const STYLE: &str = include_str!("style.css");

/// `s` escaped for HTML element content and double-quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Who the page is shown to, for the navigation bar.
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    /// The logged-in address (empty when not logged in).
    pub email: String,
    /// Whether they administer the box.
    pub admin: bool,
    /// The CSRF token for forms on this page.
    pub csrf: String,
}

/// A whole page: `title`, then `body` (already HTML).
pub fn page(title: &str, viewer: &Viewer, body: &str) -> String {
    let mut nav = String::new();
    if !viewer.email.is_empty() {
        if viewer.admin {
            nav.push_str(
                r#"<a href="/admin">Overview</a> <a href="/admin/users">Users</a> <a href="/admin/aliases">Aliases</a> <a href="/admin/lists">Lists</a> <a href="/admin/domains">Domains</a> <a href="/admin/checks">Checks</a> <a href="/admin/tls">TLS</a> <a href="/admin/queue">Queue</a> <a href="/admin/settings">Settings</a> <a href="/admin/backup">Backup</a> <a href="/admin/log">Log</a> "#,
            );
        }
        let _ = write!(
            nav,
            r#"<a href="/me">My account</a> <form method="post" action="/logout" class="inline">{}<button>Log out {}</button></form>"#,
            csrf_field(&viewer.csrf),
            esc(&viewer.email)
        );
    }
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · mailnook</title><link rel="stylesheet" href="/static/style.css"></head>
<body><header><strong>mailnook</strong> <nav>{nav}</nav></header><main><h1>{title}</h1>
{body}</main></body></html>
"#,
        title = esc(title),
    )
}

/// The hidden CSRF field every form carries.
pub fn csrf_field(token: &str) -> String {
    format!(
        r#"<input type="hidden" name="csrf" value="{}">"#,
        esc(token)
    )
}

/// A notice box (`kind` is `ok` or `error`).
pub fn notice(kind: &str, text: &str) -> String {
    if text.is_empty() {
        return String::new();
    }
    format!(
        r#"<p class="notice {kind}" role="status">{}</p>"#,
        esc(text)
    )
}

/// A labelled input.
pub fn input(label: &str, name: &str, kind: &str, value: &str, extra: &str) -> String {
    format!(
        r#"<label>{} <input type="{kind}" name="{name}" value="{}" {extra}></label>"#,
        esc(label),
        esc(value)
    )
}

/// A labelled, required password field; `new` says whether the browser should offer to make one
/// up (`new-password`) or fill in the saved one (`current-password`).
pub fn password(label: &str, name: &str, new: bool) -> String {
    let which = if new {
        "new-password"
    } else {
        "current-password"
    };
    input(
        label,
        name,
        "password",
        "",
        &format!("required autocomplete=\"{which}\""),
    )
}

/// Bytes as a short human size (KiB, MiB, GiB).
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        let v = Viewer {
            email: "<b>@x".into(),
            admin: false,
            csrf: "\"><script>".into(),
        };
        let p = page("T<i>", &v, "");
        assert!(!p.contains("<b>") && !p.contains("<script>") && !p.contains("T<i>"));
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(3 << 30), "3.0 GiB");
    }
}

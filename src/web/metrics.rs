//! `/metrics`: the box's figures in the Prometheus text exposition format (version 0.0.4), for
//! a monitoring server on the LAN. Off unless `web.metrics_token` is set; every scrape must send
//! `Authorization: Bearer <token>` (compared in constant time).
//!
//! Invariants: only counters and gauges the server already keeps are read (no per-scrape
//! scans beyond listing users and the queue); file reads run on the blocking pool.

use super::{Web, error_page};
use crate::config::Config;
use crate::proto::http::{Request, Response};
use std::fmt::Write;

/// Answers a scrape.
pub(super) async fn answer(web: &Web, req: &Request, config: &Config) -> Response {
    if config.web_metrics_token.is_empty() {
        return error_page(
            404,
            "Metrics are off (set web.metrics_token to turn them on).",
        );
    }
    let offered = req
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !super::session::same(offered.trim(), &config.web_metrics_token) {
        return error_page(401, "A bearer token is needed.").with("WWW-Authenticate", "Bearer");
    }
    let o = super::overview(web).await;
    let (rss, store_bytes, free) = (o.rss.unwrap_or(0), o.store_bytes, o.free_bytes.unwrap_or(0));
    let (users, queued) = (o.users, o.queued);
    let auth = web.auth.stats();
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = write!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        );
    };
    metric(
        "mailnook_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
        web.started.elapsed().as_secs(),
    );
    metric(
        "mailnook_resident_memory_bytes",
        "gauge",
        "Resident set size of the process.",
        rss,
    );
    metric(
        "mailnook_connections_open",
        "gauge",
        "Client connections open, all roles.",
        (web.open_connections)() as u64,
    );
    metric(
        "mailnook_store_bytes",
        "gauge",
        "Size of the store file.",
        store_bytes,
    );
    metric(
        "mailnook_data_free_bytes",
        "gauge",
        "Free space on the data folder's file system.",
        free,
    );
    metric("mailnook_users", "gauge", "Mail users.", users as u64);
    metric(
        "mailnook_queue_messages",
        "gauge",
        "Messages in the outbound queue.",
        queued as u64,
    );
    metric(
        "mailnook_web_sessions",
        "gauge",
        "Web sessions kept.",
        web.sessions.borrow().len() as u64,
    );
    metric(
        "mailnook_auth_verifications_total",
        "counter",
        "Password hashes verified.",
        auth.verifications,
    );
    metric(
        "mailnook_auth_cache_hits_total",
        "counter",
        "Logins answered from the login cache.",
        auth.cache_hits,
    );
    metric(
        "mailnook_auth_failures_total",
        "counter",
        "Logins refused for a wrong password or user.",
        auth.failures,
    );
    metric(
        "mailnook_auth_blocked_total",
        "counter",
        "Logins refused by throttling.",
        auth.blocked,
    );
    Response::new(200, "text/plain; version=0.0.4; charset=utf-8", out)
}

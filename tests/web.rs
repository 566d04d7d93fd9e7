//! The web page with the real binary on loopback: Python's http.client drives the first-run
//! wizard, logins, user administration, each user's page, CSRF and origin checks, sessions and
//! error pages (scenarios in tests/web_clients/suite.py), with imaplib confirming that what the
//! page changed holds for mail too; curl and raw sockets check the request bounds and timeouts.

mod common;
use common::*;
use mailnook::dns::testserver::{TestRecord, TestServer, Zone};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn web(s: &Server) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], s.port_base + 443))
}

fn http(s: &Server) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], s.port_base + 80))
}

/// Runs one suite.py scenario against `s` and asserts it passed; returns its output.
fn scenario(s: &Server, name: &str) -> String {
    web_scenario(s, name, &[("BACKUP", backup_file().into_os_string())])
}

#[test]
fn first_run_wizard_makes_the_state_init_makes() {
    let mut s = Server::start(&[]);
    scenario(&s, "wizard");
    // The same settings `mailnook init --admin` writes, and the account `user add` makes.
    let get = |k: &str| String::from_utf8(s.data.cli_ok(&["config", "get", k])).unwrap();
    assert!(
        get("web.admins").contains("boss@example.test"),
        "{}",
        get("web.admins")
    );
    assert!(get("admin").contains("boss@example.test"));
    assert!(get("hostname").contains(HOSTNAME));
    let users = String::from_utf8(s.data.cli_ok(&["user", "list"])).unwrap();
    assert!(users.starts_with("boss@example.test\t"), "{users}");
    assert!(
        s.log().contains("web: setup done"),
        "{}",
        tail(&s.log(), 10)
    );
    s.assert_alive();
}

#[test]
fn the_setup_page_is_gone_once_users_exist() {
    let s = Server::start(&["alice@example.test"]);
    scenario(&s, "no_setup_once_users_exist");
    let users = String::from_utf8(s.data.cli_ok(&["user", "list"])).unwrap();
    assert!(!users.contains("mallory"), "{users}");
    let admins = String::from_utf8(s.data.cli_ok(&["config", "get", "web.admins"])).unwrap();
    assert!(!admins.contains("mallory"), "{admins}");
}

#[test]
fn users_sessions_and_passwords() {
    let mut s = Server::start(&[]);
    scenario(&s, "users_and_sessions");
    s.assert_alive();
}

#[test]
fn settings_queue_and_log_pages() {
    let d = DataDir::new(&[]);
    // No DNS answers: the queued message waits.
    d.cli_ok(&["config", "set", "dns.nameservers", "127.0.0.1:9"]);
    let s = Server::serve(d);
    scenario(&s, "admin_pages");
    let get = |k: &str| String::from_utf8(s.data.cli_ok(&["config", "get", k])).unwrap();
    assert!(get("smarthost.host").contains("relay.example.net"));
    assert!(get("smarthost.port").contains("2525"));
    assert!(!get("smarthost.password").contains("relay secret"));
    let queue = String::from_utf8(s.data.cli_ok(&["queue", "list"])).unwrap();
    assert!(!queue.contains("friend@remote.test"), "{queue}");
}

#[test]
fn phones_and_mail_programs_find_their_settings() {
    let s = Server::start(&[]);
    scenario(&s, "client_setup");
}

/// Where the backup scenarios keep the downloaded backup (one per test process).
fn backup_file() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("mailnook-web-backup-{}.mnb", std::process::id()))
}

#[test]
fn backup_downloaded_then_restored_by_upload_on_a_new_box() {
    let d = DataDir::new(&[]);
    d.cli_ok(&["config", "set", "tls.reload_check_secs", "1"]);
    let s = Server::serve(d);
    scenario(&s, "backup_download");
    let d = DataDir::new(&[]);
    d.cli_ok(&["config", "set", "tls.reload_check_secs", "1"]);
    let fresh = Server::serve(d);
    scenario(&fresh, "restore_upload");
    let users = String::from_utf8(fresh.data.cli_ok(&["user", "list"])).unwrap();
    assert!(users.starts_with("boss@example.test\t"), "{users}");
    fresh.data.cli_ok(&["check"]);
    let _ = std::fs::remove_file(backup_file());
}

#[test]
fn own_certificate_from_uploaded_files() {
    let d = DataDir::new(&[]);
    d.cli_ok(&["config", "set", "tls.reload_check_secs", "1"]);
    let s = Server::serve(d);
    scenario(&s, "tls_files_upload");
    assert!(!s.data.path().join("tls/cert.pem").exists());
}

#[test]
fn own_certificate_installed_and_removed() {
    let d = DataDir::new(&[]);
    d.cli_ok(&["config", "set", "tls.reload_check_secs", "1"]);
    let s = Server::serve(d);
    scenario(&s, "tls_page");
    assert!(!s.data.path().join("tls/cert.pem").exists());
}

#[test]
fn download_my_mail_streams_the_mbox_export() {
    let s = Server::start(&[]);
    scenario(&s, "download_mail");
    // The download holds what `mailnook export --format mbox` writes, byte for byte.
    let out = s.data.path().join("export");
    s.data.cli_ok(&[
        "export",
        "boss@example.test",
        "--format",
        "mbox",
        "--out",
        out.to_str().unwrap(),
    ]);
    for name in ["INBOX", "Work", "Work.sbd/Projects", "Sent"] {
        assert_eq!(
            std::fs::read(s.data.path().join("download/mail").join(name)).unwrap(),
            std::fs::read(out.join(name)).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn app_passwords_for_mail_programs_only() {
    let s = Server::start(&[]);
    let out = scenario(&s, "app_passwords");
    let password = out
        .lines()
        .find_map(|l| l.strip_prefix("app password "))
        .expect("the scenario names the password");
    assert!(
        !s.log().contains(password),
        "an app password reached the log"
    );
}

#[test]
fn collect_accounts_added_and_removed_on_my_page() {
    let s = Server::start(&[]);
    scenario(&s, "collect_accounts");
    // The page ran the same commands: the CLI sees the one account left, password masked.
    let list = String::from_utf8(s.data.cli_ok(&["collect", "list"])).unwrap();
    assert_eq!(list.lines().count(), 1, "{list}");
    assert!(
        list.starts_with("boss@example.test\t2\timap me2@imap.other.example:1993 starttls"),
        "{list}"
    );
    assert!(!list.contains("ext-Secret-42") && !s.log().contains("ext-Secret-42"));
}

#[test]
fn two_step_login_with_totp() {
    let s = Server::start(&[]);
    scenario(&s, "two_step");
}

#[test]
fn domains_and_the_vacation_reply() {
    let s = Server::start(&[]);
    scenario(&s, "domains_and_vacation");
    let domains = String::from_utf8(s.data.cli_ok(&["domain", "list"])).unwrap();
    assert_eq!(domains.trim(), "example.test");
}

#[test]
fn aliases_made_on_the_page_deliver_mail() {
    let s = Server::start(&[]);
    scenario(&s, "aliases_page");
    assert_eq!(
        String::from_utf8(s.data.cli_ok(&["alias", "list"])).unwrap(),
        "info@example.test\tboss@example.test, carol@example.test\n"
    );
    let msg = "From: x@sender.test\r\nSubject: for info\r\n\r\nhi";
    assert!(
        s.deliver_to("x@sender.test", "info@example.test", msg)
            .starts_with("250")
    );
    for user in ["boss@example.test", "carol@example.test"] {
        assert_eq!(s.messages_of(user, "INBOX").len(), 1, "{user}");
    }
}

#[test]
fn vacation_and_rules_made_on_the_page_apply_to_mail() {
    let s = Server::start(&[]);
    scenario(&s, "page_filters");
    let boss = "boss@example.test";
    assert_eq!(
        String::from_utf8(s.data.cli_ok(&["sieve", "list", boss])).unwrap(),
        "mailnook\tactive\n"
    );
    let msg = "From: x@sender.test\r\nTo: boss@example.test\r\nSubject: Your invoice\r\n\r\nhi";
    assert!(s.deliver_to("x@sender.test", boss, msg).starts_with("250"));
    let bills = s.messages_of(boss, "Bills");
    assert_eq!(bills.len(), 1, "{}", s.log());
    assert!(bills[0].contains("Subject: Your invoice"));
    // The vacation reply went to the queue for the remote sender, once.
    assert!(s.deliver_to("x@sender.test", boss, msg).starts_with("250"));
    let log = s.log();
    assert_eq!(
        log.matches("vacation reply from boss@example.test to <x@sender.test>")
            .count(),
        1,
        "{log}"
    );
}

#[test]
fn quotas_are_set_on_the_users_page_and_shown_on_the_users_own() {
    let s = Server::start(&[]);
    scenario(&s, "quotas");
    let shown = String::from_utf8(s.data.cli_ok(&["quota", "show", "dora@example.test"])).unwrap();
    assert!(shown.contains("\tno quota"), "{shown}");
}

#[test]
fn lists_made_on_the_page_take_posts() {
    let s = Server::start(&[]);
    scenario(&s, "lists_page");
    let shown = String::from_utf8(s.data.cli_ok(&["list", "show", "club@example.test"])).unwrap();
    assert!(shown.contains("anyone may post"), "{shown}");
    assert!(
        shown.contains("member\tboss@example.test\t0 bounces"),
        "{shown}"
    );
    assert!(
        shown.contains("member\tfriend@far.test\t0 bounces"),
        "{shown}"
    );
    let msg = "From: x@sender.test\r\nSubject: hello club\r\n\r\nhi";
    assert!(
        s.deliver_to("x@sender.test", "club@example.test", msg)
            .starts_with("250")
    );
    let got = s.messages_of("boss@example.test", "INBOX");
    assert_eq!(got.len(), 1);
    assert!(
        got[0].contains("List-Id: <club.example.test>"),
        "{}",
        got[0]
    );
}

#[test]
fn forms_need_their_csrf_token_and_our_origin() {
    let s = Server::start(&[]);
    scenario(&s, "csrf_and_origin");
}

#[test]
fn routes_redirects_and_error_pages() {
    let s = Server::start(&[]);
    scenario(&s, "routes_and_errors");
}

/// Sends `request` raw to the plain HTTP port and reads until the server closes: framing and
/// bounds are checked before anything else, so the plain port shows them as HTTPS would.
fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn request_bounds_and_timeouts() {
    let d = DataDir::new(&[]);
    d.cli_ok(&["config", "set", "web.max_head_bytes", "2048"]);
    d.cli_ok(&["config", "set", "web.max_body_bytes", "4096"]);
    d.cli_ok(&["config", "set", "web.timeout_secs", "2"]);
    let mut s = Server::serve(d);
    let status = |r: &str| r.split(' ').nth(1).unwrap_or("").to_string();
    let h = http(&s);
    let big = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n",
        "a".repeat(3000)
    );
    assert_eq!(status(&raw(h, big.as_bytes())), "431");
    let body = "POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n";
    assert_eq!(status(&raw(h, body.as_bytes())), "413");
    let chunked = "POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert_eq!(status(&raw(h, chunked.as_bytes())), "501");
    let two = "POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab";
    assert_eq!(status(&raw(h, two.as_bytes())), "400");
    assert_eq!(
        status(&raw(h, b"GET /../x HTTP/1.1\r\nHost: x\r\n\r\n")),
        "400"
    );
    assert_eq!(status(&raw(h, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n")), "505");
    assert_eq!(
        status(&raw(h, b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03")),
        "400"
    );
    // Keep-alive: two requests on one connection, both answered, then an idle close.
    let two_gets = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
    let started = Instant::now();
    let out = raw(h, two_gets.as_bytes());
    assert_eq!(out.matches("HTTP/1.1 301").count(), 2, "{out}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // Slowloris: a head that never ends is cut off with 408 at the deadline.
    let started = Instant::now();
    let out = raw(h, b"GET / HTTP/1.1\r\nHost: x\r\n");
    assert_eq!(status(&out), "408", "{out}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(10),
        "{took:?}"
    );
    // Over HTTPS with curl: the same page answers, the certificate verifies.
    let out = curl_ok(
        curl_client(&s, &[web(&s).port()], "", "")
            .args(["-o", "/dev/null", "-w", "%{http_code} %{ssl_verify_result}"])
            .arg(format!("https://{HOSTNAME}:{}/login", web(&s).port())),
    );
    assert_eq!(String::from_utf8_lossy(&out), "200 0");
    s.assert_alive();
}

#[test]
fn checks_say_what_works_and_what_needs_the_owner() {
    // Published: the host's address, the MX and SPF; not published: DKIM and DMARC.
    let zone = Zone::new()
        .add(
            HOSTNAME,
            TestRecord::A(std::net::Ipv4Addr::new(192, 0, 2, 7)),
        )
        .add("example.test", TestRecord::Mx(10, format!("{HOSTNAME}.")))
        .add(
            "example.test",
            TestRecord::Txt(vec!["v=spf1 mx -all".into()]),
        );
    let dns = TestServer::start(zone).unwrap();
    let d = DataDir::new(&[]);
    d.cli_ok(&["config", "set", "dns.nameservers", &dns.addr().to_string()]);
    let s = Server::serve(d);
    // Port 25 "out there" is the server's own MX port: open.
    s.data
        .cli_ok(&["config", "set", "web.port25_probe", &s.mx().to_string()]);
    let out = scenario(&s, "checks");
    let line = |what: &str| {
        out.lines()
            .find(|l| l.split('|').nth(1).is_some_and(|w| w.starts_with(what)))
            .unwrap_or_else(|| panic!("no {what} in:\n{out}"))
            .to_string()
    };
    assert!(line("Outbound port 25").starts_with("ok|"), "{out}");
    assert!(
        line("TLS certificate").starts_with("bad|")
            && line("TLS certificate").contains("self-signed")
    );
    assert!(line("Host name").starts_with("ok|") && line("Host name").contains("192.0.2.7"));
    assert!(line("MX of example.test").starts_with("ok|"), "{out}");
    assert!(line("SPF of example.test").starts_with("ok|"), "{out}");
    assert!(
        line("DKIM key mailnook-rsa._domainkey.example.test").starts_with("bad|"),
        "{out}"
    );
    assert!(line("DMARC of example.test").starts_with("bad|"), "{out}");
    let srv = line("Client autoconfiguration of example.test");
    assert!(
        srv.starts_with("note|")
            && srv.contains("_submissions._tcp.example.test. SRV 0 1 465 mx.example.test."),
        "{srv}"
    );
    let mdns = line("Local name mx.local");
    assert!(
        mdns.starts_with("note|") && mdns.contains("off:") && mdns.contains("mdns.enabled 1"),
        "{mdns}"
    );
    // A closed port: blocked, and the relay is suggested.
    s.data
        .cli_ok(&["config", "set", "web.port25_probe", "127.0.0.1:9"]);
    let out = scenario(&s, "checks_again");
    let blocked = out
        .lines()
        .find(|l| l.contains("Outbound port 25"))
        .unwrap_or_default();
    assert!(
        blocked.starts_with("bad|") && blocked.contains("relay"),
        "{out}"
    );
}

#[test]
fn metrics_need_their_token() {
    let s = Server::start(&[]);
    let port = web(&s).port();
    let url = format!("https://{HOSTNAME}:{port}/metrics");
    let code = |extra: &[&str]| {
        let out = curl_ok(
            curl_client(&s, &[port], "", "")
                .args(["-o", "/dev/null", "-w", "%{http_code}"])
                .args(extra)
                .arg(&url),
        );
        String::from_utf8(out).unwrap()
    };
    assert_eq!(code(&[]), "404", "off by default");
    s.data
        .cli_ok(&["config", "set", "web.metrics_token", "s3cret-token"]);
    assert_eq!(code(&[]), "401");
    assert_eq!(code(&["-H", "Authorization: Bearer wrong-token"]), "401");
    let body = curl_ok(
        curl_client(&s, &[port], "", "")
            .args(["-H", "Authorization: Bearer s3cret-token"])
            .arg(&url),
    );
    let text = String::from_utf8(body).unwrap();
    for name in [
        "mailnook_uptime_seconds",
        "mailnook_resident_memory_bytes",
        "mailnook_connections_open 1",
        "mailnook_users 0",
        "mailnook_queue_messages 0",
        "mailnook_auth_failures_total 0",
    ] {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }
    // Every sample line is `name value` under its HELP and TYPE lines.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = line.split_once(' ').unwrap();
        assert!(
            name.starts_with("mailnook_") && value.parse::<u64>().is_ok(),
            "{line}"
        );
        assert!(text.contains(&format!("# TYPE {name} ")), "{line}");
    }
}

#[test]
fn the_overview_charts_mail_per_day_across_restarts() {
    let d = DataDir::new(&["alice@example.test"]);
    d.cli_ok(&["config", "set", "web.admins", "alice@example.test"]);
    let mut s = Server::serve(d);
    for subject in ["one", "two"] {
        let msg = format!("From: x@sender.test\r\nSubject: {subject}\r\n\r\nhi");
        assert!(s.deliver_to_alice("x@sender.test", &msg).starts_with("250"));
    }
    let mut c = s.connect();
    assert!(c.cmd("EHLO mail.sender.test").starts_with("250"));
    assert!(c.cmd("MAIL FROM:<x@sender.test>").starts_with("250"));
    assert!(c.cmd("RCPT TO:<nobody@example.test>").starts_with("550"));
    drop(c);
    let today = |out: &str| {
        out.lines()
            .filter(|l| l.starts_with(&mailnook::time::iso8601(mailnook::time::unix_now())[..10]))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let out = scenario(&s, "chart");
    let lines = today(&out);
    assert!(lines.iter().any(|l| l.ends_with(": 2 received")), "{out}");
    assert!(lines.iter().any(|l| l.ends_with(": 1 refused")), "{out}");
    assert!(out.contains("received 2 · "), "{out}");
    // Saved at shutdown, read back at start.
    assert!(s.stop().success());
    let data = std::mem::replace(&mut s.data, DataDir::new(&[]));
    let s = Server::serve(data);
    let out = scenario(&s, "chart");
    assert!(
        today(&out).iter().any(|l| l.ends_with(": 2 received")),
        "{out}"
    );
}

#[test]
fn sessions_survive_a_restart_and_end_at_logout() {
    let mut s = Server::start(&[]);
    scenario(&s, "keep_session");
    assert!(s.stop().success());
    let data = std::mem::replace(&mut s.data, DataDir::new(&[]));
    let mut s = Server::serve(data);
    scenario(&s, "reuse_session");
    // The logout removed the stored copy: after another restart the cookie is still dead.
    assert!(s.stop().success());
    let cookie = std::fs::read_to_string(s.data.path().join("cookies.txt")).unwrap();
    let data = std::mem::replace(&mut s.data, DataDir::new(&[]));
    let s = Server::serve(data);
    let out = curl_ok(
        curl_client(&s, &[web(&s).port()], "", "")
            .args(["-o", "/dev/null", "-w", "%{http_code} %{redirect_url}"])
            .args(["-H", &format!("Cookie: mn_session={cookie}")])
            .arg(format!("https://{HOSTNAME}:{}/admin", web(&s).port())),
    );
    let out = String::from_utf8(out).unwrap();
    assert!(out.starts_with("303 ") && out.ends_with("/login"), "{out}");
}

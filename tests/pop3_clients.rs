//! Real POP3 clients nobody here wrote, against the real binary on loopback: Python's poplib
//! (scenarios in tests/pop3_clients/suite.py, one per test below; imaplib for the IMAP side), curl
//! and fetchmail; plus the interplay with IMAP, UPDATE-state deletion, the one-session lock,
//! restarts, and hostile input (plaintext logins, long lines, garbage, brute force).
//!
//! The expected behaviour, line for line, is that of RFC 1939, 2449, 2595, 5034 and 3206.
//! Every connection verifies the server's self-signed certificate (host name included). Each
//! test starts its own server.

mod common;
use common::*;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const ALICE: &str = "alice@example.test";
const BOB: &str = "bob@example.test";

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pop3_clients")
}

/// A data folder with `users` and the given settings, served.
fn serve_with(users: &[&str], settings: &[(&str, &str)]) -> Server {
    let data = DataDir::new(users);
    for (k, v) in settings {
        data.cli_ok(&["config", "set", k, v]);
    }
    Server::serve(data)
}

/// Runs one suite.py scenario against `s` and asserts it passed; returns its stdout.
fn scenario(s: &Server, name: &str, user: &str) -> String {
    let out = python_scenario(s, name, user, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.contains(&format!("scenario {name} passed")),
        "scenario {name} failed:\n{stdout}\n{}\n--- server log ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        tail(&s.log(), 40)
    );
    stdout
}

fn python_scenario(s: &Server, name: &str, user: &str, limit: Duration) -> Output {
    let out_dir = s.data.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut cmd = Command::new("python3");
    cmd.arg(scripts().join("suite.py"))
        .arg(name)
        .arg(user)
        .current_dir(scripts())
        .env("POP3_PORT", s.pop3().port().to_string())
        .env("POP3S_PORT", s.pop3s().port().to_string())
        .env("IMAPS_PORT", s.imaps().port().to_string())
        .env("MX_PORT", s.mx().port().to_string())
        .env("CA", s.cert())
        .env("HOSTNAME_TLS", HOSTNAME)
        .env("PASSWORD", PASSWORD)
        .env("OUT", &out_dir)
        .env("PYTHONDONTWRITEBYTECODE", "1");
    run_bounded(&mut cmd, limit)
}

/// Delivers `message` to `rcpt` over SMTP on the MX port (plain SMTP; the MX takes local mail).
fn deliver(s: &Server, rcpt: &str, message: &[u8]) {
    let mut c = s.connect();
    assert!(c.cmd("EHLO client.test").starts_with("250"));
    assert!(c.cmd("MAIL FROM:<sender@remote.test>").starts_with("250"));
    assert!(c.cmd(&format!("RCPT TO:<{rcpt}>")).starts_with("250"));
    assert!(c.cmd("DATA").starts_with("354"));
    let mut data = Vec::new();
    for line in message.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b".") {
            data.push(b'.');
        }
        data.extend_from_slice(line);
    }
    c.send(&data);
    let reply = c.cmd(".");
    assert!(reply.starts_with("250"), "{reply}");
}

fn message(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Sender <sender@remote.test>\r\nTo: alice@example.test\r\nSubject: {subject}\r\n\
         Date: Mon, 02 Jun 2025 10:00:00 +0000\r\nMessage-ID: <{}@remote.test>\r\n\r\n{body}",
        subject.replace(' ', "")
    )
    .into_bytes()
}

/// A body with lines that need dot-stuffing on the wire (SMTP and POP3 alike).
const DOTS: &str = ".\r\n..\r\n.hidden\r\nnormal\r\n.\r\nend\r\n";

/// The stored INBOX of `user` as (UID, bytes).
fn inbox(s: &Server, user: &str) -> Vec<(u32, Vec<u8>)> {
    s.data
        .uids(user, "INBOX")
        .into_iter()
        .map(|u| (u, s.data.show(user, "INBOX", u)))
        .collect()
}

/// An IMAP session (the `imap` crate over verified TLS) logged in as `user`.
fn imap_login(s: &Server, user: &str) -> imap::Session<native_tls::TlsStream<TcpStream>> {
    let pem = std::fs::read(s.cert()).unwrap();
    let connector = native_tls::TlsConnector::builder()
        .add_root_certificate(native_tls::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let tcp = TcpStream::connect(s.imaps()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let tls = connector.connect(HOSTNAME, tcp).unwrap();
    let mut client = imap::Client::new(tls);
    client.read_greeting().unwrap();
    client.login(user, PASSWORD).map_err(|e| e.0).unwrap()
}

/// (EXISTS, UIDVALIDITY) of `user`'s INBOX as an IMAP client sees it.
fn imap_inbox(s: &Server, user: &str) -> (u32, u32) {
    let mut session = imap_login(s, user);
    let mailbox = session.examine("INBOX").unwrap();
    session.logout().unwrap();
    (mailbox.exists, mailbox.uid_validity.expect("UIDVALIDITY"))
}

/// The spec's UIDL value: %08X of the IMAP UID, then %08X of the UIDVALIDITY.
fn uid_string(uid: u32, uidvalidity: u32) -> String {
    format!("{uid:08X}{uidvalidity:08X}")
}

/// Compares files the Python side wrote under OUT with the stored messages.
fn assert_out_equals_store(s: &Server, user: &str, files: &[(&str, u32)]) {
    for (file, uid) in files {
        let served = std::fs::read(s.data.path().join("out").join(file)).unwrap();
        let stored = s.data.show(user, "INBOX", *uid);
        assert!(
            served == stored,
            "{file}: RETR ({} octets) differs from the stored message UID {uid} ({} octets)",
            served.len(),
            stored.len()
        );
    }
}

#[test]
fn poplib_pop3s_capa_login_stat_list_uidl_retr_top_dele_rset_quit() {
    // The scenario provokes more than the default 10 -ERR answers on purpose.
    let s = serve_with(&[ALICE], &[("pop3.max_errors", "100")]);
    scenario(&s, "pop3s_session", ALICE);
    assert_out_equals_store(&s, ALICE, &[("retr-1.eml", 1), ("retr-2.eml", 2)]);
    assert_eq!(s.data.uids(ALICE, "INBOX"), vec![1, 2, 4]);
}

#[test]
fn poplib_stls_upgrade_on_the_plain_port() {
    let s = Server::start(&[ALICE]);
    scenario(&s, "stls_session", ALICE);
}

#[test]
fn poplib_plaintext_login_from_loopback_only_when_configured() {
    let s = serve_with(&[ALICE], &[("pop3.plaintext_loopback", "1")]);
    scenario(&s, "loopback_plaintext", ALICE);
}

#[test]
fn poplib_dot_stuffing_empty_body_and_3mb_message_byte_exact() {
    let s = Server::start(&[ALICE]);
    scenario(&s, "bodies", ALICE);
    assert_out_equals_store(
        &s,
        ALICE,
        &[
            ("retr-dots.eml", 1),
            ("retr-empty.eml", 2),
            ("retr-big.eml", 3),
        ],
    );
}

#[test]
fn poplib_auth_plain_with_and_without_initial_response() {
    // Three wrong passwords on purpose: keep them below the brute-force delay.
    let s = serve_with(&[ALICE], &[("auth.free_failures", "20")]);
    scenario(&s, "auth_plain", ALICE);
}

/// curl for the POP3 ports.
fn curl(s: &Server, user: &str, password: &str) -> Command {
    curl_client(s, &[s.pop3().port(), s.pop3s().port()], user, password)
}

#[test]
fn curl_pop3s_list_retr_uidl_top_dele() {
    if !require_tool("curl") {
        return;
    }
    let s = Server::start(&[ALICE]);
    deliver(&s, ALICE, &message("curl one", "first\r\n"));
    deliver(&s, ALICE, &message("curl two", "second\r\nline 2\r\n"));
    deliver(&s, ALICE, &message("curl dots", DOTS));
    let stored = inbox(&s, ALICE);
    let (_, uidvalidity) = imap_inbox(&s, ALICE);
    let pop3s = format!("pop3s://{HOSTNAME}:{}", s.pop3s().port());
    let pop3 = format!("pop3://{HOSTNAME}:{}", s.pop3().port());
    // LIST.
    let list =
        String::from_utf8(curl_ok(curl(&s, ALICE, PASSWORD).arg(format!("{pop3s}/")))).unwrap();
    let want: String = stored
        .iter()
        .enumerate()
        .map(|(i, (_, m))| format!("{} {}\r\n", i + 1, m.len()))
        .collect();
    assert_eq!(list, want, "LIST through curl");
    // RETR by number: byte-exact with the store (curl undoes the dot-stuffing).
    for (n, (_, m)) in stored.iter().enumerate() {
        let got = curl_ok(curl(&s, ALICE, PASSWORD).arg(format!("{pop3s}/{}", n + 1)));
        assert!(
            got == *m,
            "RETR {} through curl:\n{}\n---- stored ----\n{}",
            n + 1,
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(m)
        );
    }
    // The same over STLS on the plain port.
    let got = curl_ok(
        curl(&s, ALICE, PASSWORD)
            .arg("--ssl-reqd")
            .arg(format!("{pop3}/2")),
    );
    assert_eq!(got, stored[1].1, "RETR 2 over STLS");
    // UIDL and TOP as custom requests.
    let uidl = String::from_utf8(curl_ok(
        curl(&s, ALICE, PASSWORD)
            .arg(format!("{pop3s}/"))
            .args(["-X", "UIDL"]),
    ))
    .unwrap();
    let want: String = (1..=3)
        .map(|n| format!("{n} {}\r\n", uid_string(n, uidvalidity)))
        .collect();
    assert_eq!(uidl, want, "UIDL through curl");
    let top = curl_ok(
        curl(&s, ALICE, PASSWORD)
            .arg(format!("{pop3s}/"))
            .args(["-X", "TOP 2 1"]),
    );
    let m = &stored[1].1;
    let head_end = m.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(
        String::from_utf8_lossy(&top),
        format!("{}second\r\n", String::from_utf8_lossy(&m[..head_end])),
        "TOP 2 1 through curl"
    );
    // DELE: curl QUITs afterwards, so the deletion happens.
    curl_ok(
        curl(&s, ALICE, PASSWORD)
            .arg(format!("{pop3s}/"))
            .args(["-X", "DELE 1", "-I"]),
    );
    assert_eq!(
        s.data.uids(ALICE, "INBOX"),
        vec![2, 3],
        "DELE 1 through curl"
    );
    let list =
        String::from_utf8(curl_ok(curl(&s, ALICE, PASSWORD).arg(format!("{pop3s}/")))).unwrap();
    assert_eq!(
        list,
        format!("1 {}\r\n2 {}\r\n", stored[1].1.len(), stored[2].1.len())
    );
    // Without TLS the server offers no login (no USER, no SASL in CAPA): curl cannot log in.
    let plain = run_bounded(
        curl(&s, ALICE, PASSWORD).arg(format!("{pop3}/1")),
        Duration::from_secs(40),
    );
    assert!(
        !plain.status.success() && plain.stdout.is_empty(),
        "plaintext login must fail: {:?} {}",
        plain.status,
        String::from_utf8_lossy(&plain.stdout)
    );
    // A wrong password: curl's "login denied".
    let wrong = run_bounded(
        curl(&s, ALICE, "wrong-password").arg(format!("{pop3s}/")),
        Duration::from_secs(40),
    );
    assert_eq!(
        wrong.status.code(),
        Some(67),
        "curl: login denied; {}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    assert_eq!(
        s.data.uids(ALICE, "INBOX"),
        vec![2, 3],
        "nothing else deleted"
    );
}

/// A fetchmail setup in a private HOME: an rc file (mode 0600) and an MDA script that appends
/// each message to a local mbox (mboxrd: a `From ` separator line, `>From ` quoting, a blank line
/// after each message).
struct Fetchmail {
    home: PathBuf,
    mbox: PathBuf,
}

/// The separator line's start in the mbox the MDA writes.
const MBOX_FROM: &[u8] = b"From fetchmail@localhost ";

impl Fetchmail {
    fn new(s: &Server) -> Fetchmail {
        use std::os::unix::fs::PermissionsExt;
        let home = s.data.path().join("fetchmail-home");
        std::fs::create_dir_all(&home).unwrap();
        let mbox = home.join("mbox");
        let mda = home.join("mda.sh");
        std::fs::write(
            &mda,
            format!(
                "#!/bin/sh\nset -e\n{{ printf 'From fetchmail@localhost %s\\n' \"$(date -u '+%a %b %e %H:%M:%S %Y')\"; \
                 sed 's/^\\(>*From \\)/>\\1/'; echo; }} >> '{mbox}'\n",
                mbox = mbox.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&mda, std::fs::Permissions::from_mode(0o755)).unwrap();
        let rc = |name: &str, port: u16, tls: &str| {
            let path = home.join(name);
            std::fs::write(
                &path,
                format!(
                    "set no syslog\n\
                     poll {HOSTNAME} via 127.0.0.1 port {port} with proto POP3 auth password\n\
                     \tuser \"{ALICE}\" there with password \"{PASSWORD}\"\n\
                     \toptions {tls} sslcertck sslcertfile \"{cert}\" sslcommonname \"{HOSTNAME}\"\n\
                     \tnokeep fetchall\n\
                     \tmda \"{mda}\"\n",
                    cert = s.cert().display(),
                    mda = mda.display()
                ),
            )
            .unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        };
        rc("pop3s.rc", s.pop3s().port(), "ssl");
        rc("stls.rc", s.pop3().port(), "sslproto \"tls1.2+\"");
        Fetchmail { home, mbox }
    }

    /// Runs fetchmail with one rc file; returns (exit code, output).
    fn run(&self, rc: &str) -> (i32, String) {
        let out = run_bounded(
            Command::new("fetchmail")
                .arg("--fetchmailrc")
                .arg(self.home.join(rc))
                .args(["--nosyslog", "-v", "--nokeep"])
                .env("HOME", &self.home)
                .env("FETCHMAILHOME", &self.home)
                .env_remove("FETCHMAILUSER")
                .current_dir(&self.home),
            Duration::from_secs(60),
        );
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    }

    /// The messages in the mbox, in delivery order, unquoted.
    fn delivered(&self) -> Vec<Vec<u8>> {
        let Ok(mbox) = std::fs::read(&self.mbox) else {
            return Vec::new();
        };
        let mut messages: Vec<Vec<u8>> = Vec::new();
        for line in mbox.split_inclusive(|&b| b == b'\n') {
            if line.starts_with(MBOX_FROM) {
                messages.push(Vec::new());
                continue;
            }
            let m = messages
                .last_mut()
                .expect("the mbox starts with a From line");
            let quoted = line.iter().take_while(|&&b| b == b'>').count();
            if quoted > 0 && line[quoted..].starts_with(b"From ") {
                m.extend_from_slice(&line[1..]);
            } else {
                m.extend_from_slice(line);
            }
        }
        // Each message is followed by the blank line the MDA added.
        for m in &mut messages {
            assert!(m.ends_with(b"\n"), "mbox record without its blank line");
            m.pop();
        }
        messages
    }
}

/// `bytes` with CRLF turned into LF (fetchmail hands an MDA LF line ends).
fn lf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Asserts the MDA got exactly `stored` plus the one Received field fetchmail inserts (after
/// Return-Path).
fn assert_fetched(got: &[u8], stored: &[u8], what: &str) {
    let (got, stored) = (lf(got), lf(stored));
    // The header's fields as byte ranges (a field runs until a line that is not a continuation).
    let mut fields: Vec<std::ops::Range<usize>> = Vec::new();
    let mut i = 0;
    while i < got.len() && got[i] != b'\n' {
        let end = got[i..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(got.len(), |p| i + p + 1);
        match fields.last_mut() {
            Some(last) if matches!(got[i], b' ' | b'\t') => last.end = end,
            _ => fields.push(i..end),
        }
        i = end;
    }
    let ours: Vec<&std::ops::Range<usize>> = fields
        .iter()
        .filter(|r| {
            let f = String::from_utf8_lossy(&got[(*r).clone()]);
            f.starts_with("Received: ") && f.contains("(fetchmail-")
        })
        .collect();
    assert_eq!(
        ours.len(),
        1,
        "{what}: one Received field from fetchmail in\n{}",
        String::from_utf8_lossy(&got)
    );
    let without = [&got[..ours[0].start], &got[ours[0].end..]].concat();
    assert!(
        without == stored,
        "{what}: the MDA got\n{}\n---- stored ----\n{}",
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&stored)
    );
}

#[test]
fn fetchmail_fetches_everything_over_tls_into_an_mbox_and_deletes_with_nokeep() {
    if !require_tool("fetchmail") {
        return;
    }
    let s = Server::start(&[ALICE]);
    deliver(
        &s,
        ALICE,
        &message(
            "fetch one",
            "first message\r\nFrom here on, an mbox quotes\r\n",
        ),
    );
    deliver(&s, ALICE, &message("fetch dots", DOTS));
    deliver(&s, ALICE, &message("fetch empty", ""));
    let stored = inbox(&s, ALICE);
    assert_eq!(stored.len(), 3);
    let f = Fetchmail::new(&s);
    // First run over implicit TLS: all three, deleted on the server.
    let (code, out) = f.run("pop3s.rc");
    assert_eq!(code, 0, "fetchmail retrieved mail:\n{out}");
    assert!(
        out.contains("3 messages for alice@example.test")
            && out.contains("POP3< +OK Bye, 3 messages deleted"),
        "fetchmail saw 3 messages and deleted them:\n{out}"
    );
    let got = f.delivered();
    assert_eq!(got.len(), 3, "three messages handed to the MDA:\n{out}");
    for (i, (uid, m)) in stored.iter().enumerate() {
        assert_fetched(&got[i], m, &format!("message UID {uid}"));
    }
    assert_eq!(
        s.data.uids(ALICE, "INBOX"),
        Vec::<u32>::new(),
        "--nokeep deleted everything:\n{out}"
    );
    assert_eq!(imap_inbox(&s, ALICE).0, 0, "IMAP sees an empty INBOX");
    // Second run: nothing to fetch.
    let (code, out) = f.run("pop3s.rc");
    assert_eq!(code, 1, "fetchmail: no mail:\n{out}");
    assert_eq!(f.delivered().len(), 3, "nothing new delivered:\n{out}");
    // New mail, fetched over STLS on the plain port.
    deliver(
        &s,
        ALICE,
        &message("fetch later", "after the first runs\r\n"),
    );
    let later = inbox(&s, ALICE);
    assert_eq!(later.len(), 1);
    let (code, out) = f.run("stls.rc");
    assert_eq!(code, 0, "fetchmail over STLS:\n{out}");
    assert!(
        out.contains("POP3> STLS") && out.contains("upgrade to TLS succeeded"),
        "fetchmail used STLS:\n{out}"
    );
    let got = f.delivered();
    assert_eq!(got.len(), 4, "{out}");
    assert_fetched(&got[3], &later[0].1, "message fetched over STLS");
    assert_eq!(s.data.uids(ALICE, "INBOX"), Vec::<u32>::new());
    let (code, out) = f.run("stls.rc");
    assert_eq!(code, 1, "nothing left:\n{out}");
}

#[test]
fn imap_session_sees_the_pop3_deletion_and_flags_stay_as_imap_set_them() {
    let s = Server::start(&[ALICE]);
    scenario(&s, "imap_interplay", ALICE);
    assert_eq!(s.data.uids(ALICE, "INBOX"), vec![2, 3]);
}

#[test]
fn uidl_is_the_imap_uid_and_uidvalidity_and_survives_a_restart() {
    let mut s = Server::start(&[ALICE]);
    scenario(&s, "uidl_before", ALICE);
    assert!(s.stop().success());
    let placeholder = DataDir {
        dir: tempfile::tempdir().unwrap(),
    };
    let data = std::mem::replace(&mut s.data, placeholder);
    let s = Server::serve(data);
    scenario(&s, "uidl_after", ALICE);
}

#[test]
fn a_dropped_connection_deletes_nothing() {
    let s = Server::start(&[ALICE]);
    let out = scenario(&s, "drop_without_quit", ALICE);
    for line in out.lines().filter(|l| l.starts_with("logins refused")) {
        eprintln!("{line}");
    }
    assert_eq!(s.data.uids(ALICE, "INBOX"), vec![1, 2]);
}

#[test]
fn a_second_pop3_session_gets_in_use_until_the_first_quits() {
    let s = Server::start(&[ALICE, BOB]);
    scenario(&s, "in_use", ALICE);
    // The lock is per user: Bob is not affected by Alice's sessions.
    scenario(&s, "in_use", BOB);
}

#[test]
fn user_before_stls_is_refused_and_capa_hides_user() {
    let s = Server::start(&[ALICE]);
    scenario(&s, "plaintext_refused", ALICE);
}

#[test]
fn an_overlong_line_gets_line_too_long_and_the_session_survives() {
    let s = Server::start(&[ALICE]);
    scenario(&s, "long_lines", ALICE);
}

#[test]
fn garbage_lines_until_max_errors_then_the_close() {
    let s = serve_with(&[ALICE], &[("pop3.max_errors", "5")]);
    scenario(&s, "garbage", ALICE);
}

#[test]
fn pop3_login_brute_force_is_delayed_then_refused() {
    let s = serve_with(
        &[ALICE],
        &[
            ("auth.free_failures", "2"),
            ("auth.delay_base_ms", "600"),
            ("auth.max_failures_per_ip", "5"),
            ("auth.block_secs", "60"),
        ],
    );
    let out = scenario(&s, "brute_force", ALICE);
    for line in out.lines().filter(|l| l.starts_with("time from")) {
        eprintln!("{line}");
    }
}

#[test]
fn the_expire_policy_is_advertised_and_removes_old_messages_at_quit() {
    let s = serve_with(&[ALICE], &[("pop3.expire_days", "30")]);
    scenario(&s, "expire_capa", ALICE);
}

#[test]
fn an_idle_session_is_logged_out_after_the_timeout() {
    let s = serve_with(&[ALICE], &[("pop3.timeout_secs", "30")]);
    scenario(&s, "autologout", ALICE);
}

//! Real mail clients nobody here wrote (Python's smtplib, swaks, msmtp, curl, the lettre crate)
//! submitting mail on port 587 (STARTTLS) and 465 (implicit TLS) with AUTH PLAIN and LOGIN. Every
//! message goes to a local user, and the copy stored in that user's INBOX must be the one the
//! submission role completed: Bcc removed, Date and Message-ID present, a Received header `with
//! ESMTPSA`, and two DKIM signatures on top.

mod common;
use common::*;

use std::process::{Command, Stdio};
use std::time::Duration;

const ALICE: &str = "alice@example.test";
const BOB: &str = "bob@example.test";
const CAROL: &str = "carol@example.test";

fn start() -> Server {
    Server::start(&[ALICE, BOB, CAROL])
}

/// Header fields of a stored message, unfolded: (lower-case name, value with runs of white
/// space collapsed), in order.
fn fields(header: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in header.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            let last = out.last_mut().expect("continuation line after a field");
            last.1.push(' ');
            last.1.push_str(line.trim());
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("not a header field: {line:?}"));
        out.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    for f in &mut out {
        f.1 = f.1.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    out
}

/// The only message in `user`'s INBOX (which must be UID 1), as text.
fn only_message(s: &Server, user: &str) -> String {
    assert_eq!(s.data.uids(user, "INBOX"), vec![1], "{user} INBOX");
    String::from_utf8(s.data.show(user, "INBOX", 1)).expect("UTF-8 message")
}

/// Checks a message alice submitted as it was stored: header completed and signed, with
/// `subject`, and a body that contains `body`. Returns its header fields.
fn assert_submitted(stored: &str, subject: &str, body: &str) -> Vec<(String, String)> {
    let (header, text) = stored
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of header:\n{stored}"));
    let f = fields(header);
    let get = |name: &str| -> Vec<&str> {
        f.iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    // Prepended by the server, in this order: the local delivery's Return-Path (RFC 5321 §4.4),
    // RSA and Ed25519 signatures, then Received.
    assert_eq!(
        f[0],
        (
            "return-path".to_string(),
            "<alice@example.test>".to_string()
        ),
        "{stored}"
    );
    let f = f[1..].to_vec();
    assert_eq!(f[0].0, "dkim-signature", "{stored}");
    assert_eq!(f[1].0, "dkim-signature", "{stored}");
    assert_eq!(f[2].0, "received", "{stored}");
    assert_eq!(get("dkim-signature").len(), 2, "{stored}");
    let sigs = get("dkim-signature");
    assert!(
        sigs.iter().any(|s| s.contains("a=rsa-sha256"))
            && sigs.iter().any(|s| s.contains("a=ed25519-sha256")),
        "{stored}"
    );
    assert!(
        sigs.iter().all(|s| s.contains("d=example.test")),
        "{stored}"
    );
    assert!(
        f[2].1
            .contains("by mx.example.test (mailnook) with ESMTPSA "),
        "Received: {}",
        f[2].1
    );
    assert_eq!(get("subject"), vec![subject], "{stored}");
    let date = get("date");
    assert_eq!(date.len(), 1, "one Date:\n{stored}");
    let id = get("message-id");
    assert_eq!(id.len(), 1, "one Message-ID:\n{stored}");
    assert!(
        id[0].starts_with('<') && id[0].ends_with('>') && id[0].contains('@'),
        "Message-ID: {}",
        id[0]
    );
    assert!(get("bcc").is_empty(), "Bcc kept:\n{stored}");
    let from = get("from");
    assert_eq!(from.len(), 1, "{stored}");
    assert!(from[0].to_ascii_lowercase().contains(ALICE), "{stored}");
    assert!(text.contains(body), "body {body:?} missing:\n{stored}");
    f
}

fn python(script: &str, args: &[String]) -> std::process::Output {
    run_bounded(
        Command::new("python3").arg("-c").arg(script).args(args),
        Duration::from_secs(60),
    )
}

fn assert_ok(out: &std::process::Output, what: &str) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{text}",
        out.status
    );
    text
}

// ---------------------------------------------------------------------------------------------
// Python smtplib

/// smtplib: `mode` picks the connection (starttls, ssl) and the login (plain: `login()`, login:
/// AUTH LOGIN with an initial response, login-steps: AUTH LOGIN answering both challenges).
const SMTPLIB: &str = r#"
import smtplib, ssl, sys
port, cert, mode, login, user, password, sender, rcpts, msg = sys.argv[1:10]
ctx = ssl.create_default_context(cafile=cert)
ctx.check_hostname = False
if mode == "ssl":
    c = smtplib.SMTP_SSL("127.0.0.1", int(port), local_hostname="client.test", timeout=30, context=ctx)
else:
    c = smtplib.SMTP("127.0.0.1", int(port), local_hostname="client.test", timeout=30)
c.set_debuglevel(1)
c.ehlo()
if mode == "starttls":
    assert not c.has_extn("auth"), "AUTH offered before TLS"
    c.starttls(context=ctx)
    c.ehlo()
assert c.esmtp_features["auth"].split() == ["PLAIN", "LOGIN"], c.esmtp_features
if login == "plain":
    code, text = c.login(user, password)
else:
    c.user, c.password = user, password
    code, text = c.auth("LOGIN", c.auth_login, initial_response_ok=(login == "login"))
assert code == 235, (code, text)
refused = c.sendmail(sender, rcpts.split(","), msg.encode())
assert refused == {}, refused
c.quit()
"#;

fn smtplib(s: &Server, port: u16, mode: &str, login: &str, rcpts: &[&str], msg: &str) -> String {
    let args: Vec<String> = [
        port.to_string(),
        s.cert().display().to_string(),
        mode.into(),
        login.into(),
        ALICE.into(),
        PASSWORD.into(),
        ALICE.into(),
        rcpts.join(","),
        msg.into(),
    ]
    .into();
    assert_ok(&python(SMTPLIB, &args), "smtplib")
}

#[test]
fn smtplib_starttls_login_uses_plain_and_keeps_the_clients_message_id() {
    let s = start();
    let msg = "From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: smtplib plain\r\nDate: Thu, 01 Jan 2026 00:00:00 +0000\r\nMessage-ID: <smtplib-1@client.test>\r\n\r\nHello Bob,\r\n.a leading dot\r\n";
    let out = smtplib(&s, s.submission().port(), "starttls", "plain", &[BOB], msg);
    assert!(out.contains("AUTH PLAIN "), "login() chose PLAIN:\n{out}");
    let stored = only_message(&s, BOB);
    let f = assert_submitted(&stored, "smtplib plain", "Hello Bob,\r\n.a leading dot\r\n");
    let get = |n: &str| f.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(get("message-id").unwrap(), "<smtplib-1@client.test>");
    assert_eq!(get("date").unwrap(), "Thu, 01 Jan 2026 00:00:00 +0000");
    // Below the added fields the message is what the client sent.
    let at = stored.find("From: Alice").expect("client's header");
    assert_eq!(&stored[at..], msg);
    assert!(s.data.uids(ALICE, "INBOX").is_empty());
}

#[test]
fn smtplib_ssl_465_bcc_removed_date_and_message_id_added() {
    let s = start();
    // No Date, no Message-ID; carol only in Bcc (folded over two lines).
    let msg = "From: alice@example.test\r\nTo: Bob <bob@example.test>\r\nBcc: carol@example.test,\r\n secret@far.test\r\nSubject: with bcc\r\n\r\nfor bob and, secretly, carol\r\n";
    smtplib(
        &s,
        s.submissions().port(),
        "ssl",
        "plain",
        &[BOB, CAROL],
        msg,
    );
    for user in [BOB, CAROL] {
        let stored = only_message(&s, user);
        assert_submitted(&stored, "with bcc", "for bob and, secretly, carol\r\n");
        assert!(!stored.contains("carol@example.test,"), "{stored}");
        assert!(!stored.contains("secret@far.test"), "{stored}");
        let f = fields(stored.split_once("\r\n\r\n").unwrap().0);
        let id = &f.iter().find(|(k, _)| k == "message-id").unwrap().1;
        assert!(
            id.ends_with("@mx.example.test>"),
            "generated Message-ID: {id}"
        );
    }
}

#[test]
fn smtplib_auth_login_with_initial_response_over_starttls() {
    let s = start();
    let msg = "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: smtplib login\r\n\r\nvia AUTH LOGIN\r\n";
    let out = smtplib(&s, s.submission().port(), "starttls", "login", &[BOB], msg);
    assert!(out.contains("AUTH LOGIN "), "{out}");
    let stored = only_message(&s, BOB);
    assert_submitted(&stored, "smtplib login", "via AUTH LOGIN\r\n");
}

#[test]
fn smtplib_auth_login_two_challenges_over_465() {
    let s = start();
    let msg = "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: smtplib login steps\r\n\r\nuser name, then password\r\n";
    smtplib(
        &s,
        s.submissions().port(),
        "ssl",
        "login-steps",
        &[BOB],
        msg,
    );
    let stored = only_message(&s, BOB);
    assert_submitted(
        &stored,
        "smtplib login steps",
        "user name, then password\r\n",
    );
}

// ---------------------------------------------------------------------------------------------
// swaks

fn swaks(addr: std::net::SocketAddr, subject: &str, body: &str) -> Command {
    let mut c = Command::new("swaks");
    c.args(["--server", &addr.to_string(), "--helo", "client.test"])
        .args(["--from", ALICE, "--to", BOB])
        .args(["--auth-user", ALICE, "--auth-password", PASSWORD])
        .args(["--header", &format!("Subject: {subject}")])
        .args(["--body", body])
        .args(["--timeout", "30"]);
    c
}

#[test]
fn swaks_starttls_auth_plain_on_587() {
    if !require_tool("swaks") {
        return;
    }
    let s = start();
    let out = run_bounded(
        swaks(s.submission(), "swaks plain", "sent by swaks").args(["--tls", "--auth", "PLAIN"]),
        Duration::from_secs(60),
    );
    let out = assert_ok(&out, "swaks");
    assert!(out.contains("=== TLS started with cipher TLSv1."), "{out}");
    assert!(out.contains("<~  250 AUTH PLAIN LOGIN"), "{out}");
    assert!(out.contains("~> AUTH PLAIN "), "{out}");
    assert!(
        out.contains("<~  235 2.7.0 Authentication successful"),
        "{out}"
    );
    assert!(out.contains("<~  250 2.0.0 Ok: queued as "), "{out}");
    let stored = only_message(&s, BOB);
    assert_submitted(&stored, "swaks plain", "sent by swaks");
}

#[test]
fn swaks_implicit_tls_auth_login_on_465() {
    if !require_tool("swaks") {
        return;
    }
    let s = start();
    let out = run_bounded(
        swaks(s.submissions(), "swaks login", "sent by swaks over 465")
            .args(["--tlsc", "--auth", "LOGIN"]),
        Duration::from_secs(60),
    );
    let out = assert_ok(&out, "swaks");
    assert!(out.contains("~> AUTH LOGIN"), "{out}");
    assert!(
        out.contains("<~  235 2.7.0 Authentication successful"),
        "{out}"
    );
    let stored = only_message(&s, BOB);
    assert_submitted(&stored, "swaks login", "sent by swaks over 465");
}

// ---------------------------------------------------------------------------------------------
// msmtp

/// Runs msmtp with a config file for `port` (STARTTLS or not) and `auth`, the message on stdin.
fn msmtp(s: &Server, port: u16, starttls: bool, auth: &str, msg: &str) -> String {
    let dir = s.data.path();
    let conf = dir.join(format!("msmtprc-{port}"));
    let cert = s.cert();
    std::fs::write(
        &conf,
        format!(
            "defaults\n\
             timeout 30\n\
             account default\n\
             host 127.0.0.1\n\
             port {port}\n\
             domain client.test\n\
             tls on\n\
             tls_starttls {}\n\
             tls_trust_file {}\n\
             tls_host_override {HOSTNAME}\n\
             auth {auth}\n\
             user {ALICE}\n\
             password {PASSWORD}\n\
             from {ALICE}\n",
            if starttls { "on" } else { "off" },
            cert.display()
        ),
    )
    .unwrap();
    // msmtp refuses a file with a password that others can read.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600)).unwrap();
    let msg_path = dir.join(format!("msmtp-{port}.eml"));
    std::fs::write(&msg_path, msg).unwrap();
    let out = run_bounded(
        Command::new("msmtp")
            .arg("-C")
            .arg(&conf)
            .args(["-a", "default", "-v", BOB])
            .stdin(Stdio::from(std::fs::File::open(&msg_path).unwrap())),
        Duration::from_secs(60),
    );
    assert_ok(&out, "msmtp")
}

#[test]
fn msmtp_starttls_auth_on_587_verifies_the_certificate() {
    if !require_tool("msmtp") {
        return;
    }
    let s = start();
    // LF line ends and no Date/Message-ID, as a local program would pipe it.
    let msg = "From: Alice <alice@example.test>\nTo: bob@example.test\nSubject: msmtp starttls\n\nsent by msmtp\n";
    let out = msmtp(&s, s.submission().port(), true, "on", msg);
    assert!(out.contains("<-- 220 2.0.0 Ready to start TLS"), "{out}");
    assert!(out.contains("--> AUTH PLAIN"), "{out}");
    let stored = only_message(&s, BOB);
    assert_submitted(&stored, "msmtp starttls", "sent by msmtp\r\n");
}

#[test]
fn msmtp_implicit_tls_auth_login_on_465() {
    if !require_tool("msmtp") {
        return;
    }
    let s = start();
    let msg = "From: alice@example.test\nTo: bob@example.test\nBcc: carol@example.test\nSubject: msmtp 465\n\nsent by msmtp over 465\n";
    let out = msmtp(&s, s.submissions().port(), false, "login", msg);
    assert!(out.contains("--> AUTH LOGIN"), "{out}");
    let stored = only_message(&s, BOB);
    assert_submitted(&stored, "msmtp 465", "sent by msmtp over 465\r\n");
}

// ---------------------------------------------------------------------------------------------
// curl

const CURL_MSG: &str = "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: curl submission\r\n\r\nsent by curl\r\n.dot line\r\n";

fn curl(s: &Server, url: &str, mechanism: &str) -> Command {
    let file = s.data.path().join("curl.eml");
    std::fs::write(&file, CURL_MSG).unwrap();
    let mut c = Command::new("curl");
    c.args(["-v", "-sS", "--max-time", "30", "--url", url])
        .args(["--user", &format!("{ALICE}:{PASSWORD}")])
        .args(["--login-options", &format!("AUTH={mechanism}")])
        .args(["--mail-from", ALICE, "--mail-rcpt", BOB])
        .arg("--upload-file")
        .arg(&file);
    c
}

#[test]
fn curl_starttls_auth_plain_on_587() {
    if !require_tool("curl") {
        return;
    }
    let s = start();
    let url = format!("smtp://127.0.0.1:{}/client.test", s.submission().port());
    let out = run_bounded(
        curl(&s, &url, "PLAIN").args(["--ssl-reqd", "--insecure"]),
        Duration::from_secs(60),
    );
    let out = assert_ok(&out, "curl");
    assert!(out.contains("> AUTH PLAIN"), "{out}");
    assert!(out.contains("< 235 2.7.0"), "{out}");
    let stored = only_message(&s, BOB);
    assert_submitted(&stored, "curl submission", "sent by curl\r\n.dot line\r\n");
}

#[test]
fn curl_smtps_auth_login_on_465_verifies_the_certificate() {
    if !require_tool("curl") {
        return;
    }
    let s = start();
    let port = s.submissions().port();
    let url = format!("smtps://{HOSTNAME}:{port}/client.test");
    let out = run_bounded(
        curl(&s, &url, "LOGIN")
            .args(["--resolve", &format!("{HOSTNAME}:{port}:127.0.0.1")])
            .arg("--cacert")
            .arg(s.cert()),
        Duration::from_secs(60),
    );
    let out = assert_ok(&out, "curl");
    assert!(out.contains("> AUTH LOGIN"), "{out}");
    let stored = only_message(&s, BOB);
    assert_submitted(&stored, "curl submission", "sent by curl\r\n.dot line\r\n");
}

// ---------------------------------------------------------------------------------------------
// lettre

mod lettre_client {
    use super::*;
    use lettre::smtp::authentication::{Credentials, Mechanism};
    use lettre::smtp::client::net::ClientTlsParameters;
    use lettre::smtp::error::Error as SmtpError;
    use lettre::smtp::extension::ClientId;
    use lettre::{
        ClientSecurity, EmailAddress, Envelope, SendableEmail, SmtpClient, SmtpTransport, Transport,
    };

    /// A transport to 127.0.0.1:`port` that trusts only the server's certificate, checked
    /// against the host name.
    fn transport(
        s: &Server,
        port: u16,
        implicit: bool,
        mechanism: Mechanism,
        password: &str,
    ) -> SmtpTransport {
        let pem = std::fs::read(s.cert()).unwrap();
        let connector = native_tls::TlsConnector::builder()
            .add_root_certificate(native_tls::Certificate::from_pem(&pem).expect("certificate"))
            .build()
            .expect("TLS connector");
        let params = ClientTlsParameters::new(HOSTNAME.into(), connector);
        let security = if implicit {
            ClientSecurity::Wrapper(params)
        } else {
            ClientSecurity::Required(params)
        };
        SmtpClient::new(("127.0.0.1", port), security)
            .expect("client")
            .hello_name(ClientId::Domain("client.test".into()))
            .credentials(Credentials::new(ALICE.into(), password.into()))
            .authentication_mechanism(mechanism)
            .timeout(Some(Duration::from_secs(30)))
            .transport()
    }

    /// A message to bob with carol as a Bcc recipient (in the envelope and the header).
    fn message(subject: &str) -> SendableEmail {
        let addr = |a: &str| EmailAddress::new(a.to_string()).unwrap();
        let envelope = Envelope::new(Some(addr(ALICE)), vec![addr(BOB), addr(CAROL)]).unwrap();
        let text = format!(
            "From: {ALICE}\r\nTo: {BOB}\r\nBcc: {CAROL}\r\nSubject: {subject}\r\n\r\n{subject}, sent by lettre\r\n"
        );
        SendableEmail::new(envelope, subject.to_string(), text.into_bytes())
    }

    fn send(s: &Server, port: u16, implicit: bool, mechanism: Mechanism, subject: &str) {
        let mut mailer = transport(s, port, implicit, mechanism, PASSWORD);
        let response = mailer.send(message(subject)).expect("lettre send");
        assert_eq!(response.code.to_string(), "250");
        for user in [BOB, CAROL] {
            let stored = only_message(s, user);
            assert_submitted(&stored, subject, &format!("{subject}, sent by lettre"));
        }
    }

    #[test]
    fn lettre_starttls_auth_plain_on_587() {
        let s = start();
        send(
            &s,
            s.submission().port(),
            false,
            Mechanism::Plain,
            "lettre plain",
        );
    }

    #[test]
    fn lettre_starttls_auth_login_on_587() {
        let s = start();
        send(
            &s,
            s.submission().port(),
            false,
            Mechanism::Login,
            "lettre login",
        );
    }

    #[test]
    fn lettre_implicit_tls_on_465() {
        let s = start();
        send(
            &s,
            s.submissions().port(),
            true,
            Mechanism::Plain,
            "lettre wrapper",
        );
    }

    #[test]
    fn lettre_refuses_a_wrong_password() {
        let s = start();
        let mut mailer = transport(&s, s.submission().port(), false, Mechanism::Plain, "wrong");
        let err = mailer
            .send(message("never"))
            .expect_err("a wrong password is refused");
        match err {
            SmtpError::Permanent(r) => assert_eq!(r.code.to_string(), "535"),
            other => panic!("not a permanent refusal: {other:?}"),
        }
        assert!(s.data.uids(BOB, "INBOX").is_empty());
    }
}

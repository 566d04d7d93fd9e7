//! Real IMAP clients nobody here wrote, against the real binary on loopback: Python's imaplib
//! (scenarios in tests/imap_clients/suite.py, one per test below), curl, mbsync and the `imap`
//! crate; plus multi-session timing rules (RFC 9051 §7.5.1), IDLE push latency, restarts, and
//! hostile input (names, other users' data, literal floods, garbage, login brute force).
//!
//! Every connection verifies the server's self-signed certificate (host name included) unless a
//! test says why not. Each test starts its own server; the whole file runs well under 2 minutes.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const ALICE: &str = "alice@example.test";
const BOB: &str = "bob@example.test";

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/imap_clients")
}

/// Runs one suite.py scenario against `s` and asserts it passed; returns its stdout.
fn scenario(s: &Server, name: &str, users: &[&str]) -> String {
    let out = python_scenario(s, name, users);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.contains(&format!("scenario {name} passed")),
        "scenario {name} failed:\n{stdout}\n{}\n--- server log ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        tail(&s.log(), 40)
    );
    stdout
}

fn python_scenario(s: &Server, name: &str, users: &[&str]) -> Output {
    let out_dir = s.data.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut cmd = Command::new("python3");
    cmd.arg(scripts().join("suite.py"))
        .arg(name)
        .args(users)
        .current_dir(scripts())
        .env("IMAP_PORT", s.imap().port().to_string())
        .env("IMAPS_PORT", s.imaps().port().to_string())
        .env("MX_PORT", s.mx().port().to_string())
        .env("CA", s.cert())
        .env("HOSTNAME_TLS", HOSTNAME)
        .env("PASSWORD", PASSWORD)
        .env("OUT", &out_dir)
        .env("PYTHONDONTWRITEBYTECODE", "1");
    run_bounded(&mut cmd, Duration::from_secs(90))
}

#[test]
fn imaplib_capability_starttls_login_authenticate_logout() {
    let s = Server::start(&[ALICE]);
    scenario(&s, "session", &[ALICE]);
}

#[test]
fn imaplib_create_delete_rename_subscribe_list_status() {
    let s = Server::start(&[ALICE]);
    scenario(&s, "mailboxes", &[ALICE]);
}

#[test]
fn imaplib_append_select_examine_expunge_close() {
    let s = Server::start(&[ALICE]);
    scenario(&s, "append_select", &[ALICE]);
    // The 5 MB APPEND went through the store as sent.
    let uids = s.data.uids(ALICE, "INBOX");
    assert_eq!(uids.len(), 4, "{uids:?}");
}

#[test]
fn imaplib_search_every_key_charset_and_esearch() {
    let s = Server::start(&[ALICE]);
    scenario(&s, "search_keys", &[ALICE]);
}

#[test]
fn imaplib_fetch_every_item_byte_exact() {
    let s = Server::start(&[ALICE]);
    scenario(&s, "fetch_items_all", &[ALICE]);
    // BODY[] as served equals the stored bytes, byte for byte.
    let served = std::fs::read(s.data.path().join("out/multi-body.eml")).unwrap();
    assert_eq!(served, s.data.show(ALICE, "INBOX", 1));
}

#[test]
fn imaplib_store_copy_move_with_uidplus_and_condstore() {
    let s = Server::start(&[ALICE]);
    scenario(&s, "store_copy_move", &[ALICE]);
}

#[test]
fn imaplib_sort_and_thread() {
    let s = Server::start(&[ALICE]);
    scenario(&s, "sort_thread", &[ALICE]);
}

#[test]
fn idle_pushes_exists_flags_and_expunge_within_a_second() {
    let s = Server::start(&[ALICE]);
    let out = scenario(&s, "idle", &[ALICE]);
    for line in out.lines().filter(|l| l.starts_with("IDLE_LATENCY_MS")) {
        eprintln!("{line}");
    }
}

#[test]
fn compress_deflate_raw_socket() {
    let s = Server::start(&[ALICE]);
    scenario(&s, "compress", &[ALICE]);
}

#[test]
fn two_sessions_see_changes_at_the_allowed_moments() {
    let s = Server::start(&[ALICE, BOB]);
    scenario(&s, "two_sessions", &[ALICE, BOB]);
}

#[test]
fn uidvalidity_and_uids_survive_a_restart_and_are_never_reused() {
    let mut s = Server::start(&[ALICE]);
    scenario(&s, "restart_before", &[ALICE]);
    assert!(s.stop().success());
    let placeholder = DataDir {
        dir: tempfile::tempdir().unwrap(),
    };
    let data = std::mem::replace(&mut s.data, placeholder);
    let s = Server::serve(data);
    scenario(&s, "restart_after", &[ALICE]);
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

fn small_message(subject: &str) -> Vec<u8> {
    format!(
        "From: Sender <sender@remote.test>\r\nTo: alice@example.test\r\nSubject: {subject}\r\n\
         Date: Mon, 02 Jun 2025 10:00:00 +0000\r\nMessage-ID: <{}@remote.test>\r\n\r\nbody of {subject}\r\n",
        subject.replace(' ', "")
    )
    .into_bytes()
}

/// curl for the IMAP ports, as alice.
fn curl(s: &Server) -> Command {
    curl_client(s, &[s.imap().port(), s.imaps().port()], ALICE, PASSWORD)
}

#[test]
fn curl_imap_and_imaps_list_fetch_examine_search_custom() {
    if !require_tool("curl") {
        return;
    }
    let s = Server::start(&[ALICE]);
    deliver(&s, ALICE, &small_message("first one"));
    deliver(&s, ALICE, &small_message("second one"));
    let imaps = format!("imaps://{HOSTNAME}:{}", s.imaps().port());
    let imap = format!("imap://{HOSTNAME}:{}", s.imap().port());
    // LIST over implicit TLS.
    let list = String::from_utf8(curl_ok(curl(&s).arg(format!("{imaps}/")))).unwrap();
    for name in ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"] {
        assert!(list.contains(&format!("\"/\" {name}\r\n")), "{list}");
    }
    // SELECT + UID FETCH BODY[] through the URL: byte-exact with the store, over both ports.
    let one = curl_ok(curl(&s).arg(format!("{imaps}/INBOX;UID=1")));
    assert_eq!(one, s.data.show(ALICE, "INBOX", 1));
    let two = curl_ok(
        curl(&s)
            .arg("--ssl-reqd")
            .arg(format!("{imap}/INBOX;UID=2")),
    );
    assert_eq!(two, s.data.show(ALICE, "INBOX", 2));
    let text = curl_ok(curl(&s).arg(format!("{imaps}/INBOX;UID=2;SECTION=TEXT")));
    assert_eq!(text, b"body of second one\r\n");
    // EXAMINE and UID FETCH as custom requests; SEARCH through the URL query.
    let examine = String::from_utf8(curl_ok(
        curl(&s)
            .arg(format!("{imaps}/INBOX"))
            .args(["-X", "EXAMINE INBOX"]),
    ))
    .unwrap();
    assert!(
        examine.contains("* 2 EXISTS") && examine.contains("[UIDVALIDITY "),
        "{examine}"
    );
    let search = String::from_utf8(curl_ok(
        curl(&s).arg(format!("{imaps}/INBOX?SUBJECT%20second")),
    ))
    .unwrap();
    assert_eq!(search, "* SEARCH 2\r\n");
    let flags = String::from_utf8(curl_ok(
        curl(&s)
            .arg(format!("{imaps}/INBOX"))
            .args(["-X", "UID FETCH 1:* (FLAGS)"]),
    ))
    .unwrap();
    assert_eq!(
        flags, "* 1 FETCH (UID 1 FLAGS (\\Seen))\r\n* 2 FETCH (UID 2 FLAGS (\\Seen))\r\n",
        "fetching set \\Seen"
    );
    // Without TLS the server offers no way to log in (LOGINDISABLED, no AUTH=), so curl gives up;
    // a wrong password is refused too.
    let plain = run_bounded(
        curl(&s).arg(format!("{imap}/INBOX;UID=1")),
        Duration::from_secs(30),
    );
    assert!(
        !plain.status.success() && plain.stdout.is_empty(),
        "plaintext login must fail"
    );
    let mut wrong = curl(&s);
    wrong
        .args(["-u", &format!("{ALICE}:wrong-password")])
        .arg(format!("{imaps}/"));
    let wrong = run_bounded(&mut wrong, Duration::from_secs(30));
    assert_eq!(wrong.status.code(), Some(67), "curl: login denied");
}

/// A message as mbsync keeps it in a Maildir (LF line ends, its own `X-TUID` tracking field)
/// back in the server's form: CRLF, no `X-TUID`.
fn from_maildir(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"X-TUID: ") {
            continue;
        }
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Reads a Maildir folder: file name → (flags after ":2,", bytes).
fn maildir(dir: &Path) -> Vec<(String, String, Vec<u8>)> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for e in entries {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let flags = name.split(":2,").nth(1).unwrap_or("").to_string();
            out.push((name, flags, from_maildir(&std::fs::read(e.path()).unwrap())));
        }
    }
    out.sort_by(|a, b| strip_trace(&a.2).cmp(strip_trace(&b.2)));
    out
}

fn mbsync(cfg: &Path) -> String {
    let out = run_bounded(
        Command::new("mbsync").arg("-c").arg(cfg).arg("-a"),
        Duration::from_secs(60),
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "mbsync failed:\n{text}");
    text
}

#[test]
fn mbsync_two_way_sync_of_flags_messages_and_folders() {
    if !require_tool("mbsync") {
        return;
    }
    let s = Server::start(&[ALICE]);
    let first = small_message("sync one");
    let second = small_message("sync two");
    deliver(&s, ALICE, &first);
    deliver(&s, ALICE, &second);
    let mut c = ImapTls::login(&s, ALICE);
    c.ok("CREATE Projects");
    let proj = small_message("project plan");
    c.append("Projects", &proj);
    let local = s.data.path().join("maildir");
    std::fs::create_dir_all(&local).unwrap();
    let cfg = s.data.path().join("mbsyncrc");
    std::fs::write(
        &cfg,
        format!(
            "IMAPAccount mailnook\nHost 127.0.0.1\nPort {port}\nUser {ALICE}\nPass {PASSWORD}\nSSLType IMAPS\n\
             CertificateFile {cert}\n\nIMAPStore remote\nAccount mailnook\n\n\
             MaildirStore local\nPath {dir}/\nInbox {dir}/INBOX\nSubFolders Verbatim\n\n\
             Channel sync\nFar :remote:\nNear :local:\nPatterns INBOX Projects LocalNew ServerNew\n\
             Create Both\nExpunge Both\nSyncState *\nSync All\n",
            port = s.imaps().port(),
            cert = s.cert().display(),
            dir = local.display()
        ),
    )
    .unwrap();
    // First run: the server's mail arrives in the Maildir unchanged (below the trace fields, and
    // up to mbsync's own line ends and tracking field).
    mbsync(&cfg);
    let inbox = maildir(&local.join("INBOX"));
    assert_eq!(inbox.len(), 2, "{inbox:?}");
    assert_eq!(inbox[0].2, s.data.show(ALICE, "INBOX", 1));
    assert_eq!(strip_trace(&inbox[1].2), second.as_slice());
    let projects = maildir(&local.join("Projects"));
    assert_eq!(projects.len(), 1);
    assert_eq!(projects[0].2, proj);
    // Changes on both sides.
    let (name, _, _) = &inbox[0];
    let base = name.split(":2,").next().unwrap();
    let from = ["new", "cur"]
        .iter()
        .map(|d| local.join("INBOX").join(d).join(name))
        .find(|p| p.exists())
        .unwrap();
    std::fs::rename(&from, local.join("INBOX/cur").join(format!("{base}:2,FS"))).unwrap();
    for d in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(local.join("LocalNew").join(d)).unwrap();
    }
    let local_msg = small_message("written locally");
    std::fs::write(local.join("LocalNew/new/1700000000.1.local"), &local_msg).unwrap();
    c.ok("SELECT INBOX");
    c.ok("UID STORE 2 +FLAGS (\\Answered)");
    c.ok("CREATE ServerNew");
    let server_msg = small_message("written on the server");
    c.append("ServerNew", &server_msg);
    deliver(&s, ALICE, &small_message("sync three"));
    // Second run: each side gets the other's changes.
    mbsync(&cfg);
    let news = c.ok("NOOP");
    assert!(
        news.contains(&"* 1 FETCH (UID 1 FLAGS (\\Seen \\Flagged))".to_string()),
        "{news:?}"
    );
    let flags = c.ok("UID FETCH 1:* (FLAGS)");
    assert_eq!(
        flags,
        vec![
            "* 1 FETCH (UID 1 FLAGS (\\Seen \\Flagged))".to_string(),
            "* 2 FETCH (UID 2 FLAGS (\\Answered))".to_string(),
            "* 3 FETCH (UID 3 FLAGS ())".to_string(),
        ],
        "flags set locally reached the server"
    );
    let lines = c.ok("LIST \"\" LocalNew");
    assert_eq!(
        lines,
        vec!["* LIST (\\HasNoChildren) \"/\" LocalNew".to_string()],
        "new local folder created"
    );
    c.ok("SELECT LocalNew");
    let uids = s.data.uids(ALICE, "LocalNew");
    assert_eq!(uids, vec![1]);
    let uploaded = s.data.show(ALICE, "LocalNew", 1);
    assert_eq!(
        String::from_utf8_lossy(&from_maildir(&uploaded)),
        String::from_utf8_lossy(&local_msg),
        "local message stored as mbsync sent it (it adds X-TUID on upload)"
    );
    let inbox = maildir(&local.join("INBOX"));
    assert_eq!(inbox.len(), 3, "{inbox:?}");
    let answered: Vec<&str> = inbox
        .iter()
        .filter(|m| m.1.contains('R'))
        .map(|m| m.0.as_str())
        .collect();
    assert_eq!(
        answered.len(),
        1,
        "\\Answered reached the Maildir: {inbox:?}"
    );
    assert_eq!(
        strip_trace(&inbox.iter().find(|m| m.1.contains('R')).unwrap().2),
        second.as_slice()
    );
    let server_new = maildir(&local.join("ServerNew"));
    assert_eq!(server_new.len(), 1);
    assert_eq!(server_new[0].2, server_msg);
    // Third run: a local deletion expunges on the server; nothing else changes.
    let victim = ["new", "cur"]
        .iter()
        .flat_map(|d| std::fs::read_dir(local.join("ServerNew").join(d)).unwrap())
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::remove_file(victim).unwrap();
    mbsync(&cfg);
    assert_eq!(
        s.data.uids(ALICE, "ServerNew"),
        Vec::<u32>::new(),
        "local deletion propagated"
    );
    assert_eq!(s.data.uids(ALICE, "INBOX"), vec![1, 2, 3]);
}

/// A line-level IMAP client over verified TLS (native-tls, host name checked).
struct ImapTls {
    stream: BufReader<native_tls::TlsStream<TcpStream>>,
    n: u32,
}

impl ImapTls {
    fn connect(s: &Server) -> ImapTls {
        let tcp = TcpStream::connect(s.imaps()).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let tls = s.tls_connector().connect(HOSTNAME, tcp).unwrap();
        let mut c = ImapTls {
            stream: BufReader::new(tls),
            n: 0,
        };
        let greeting = c.line();
        assert!(greeting.starts_with("* OK "), "{greeting}");
        c
    }

    fn login(s: &Server, user: &str) -> ImapTls {
        let mut c = ImapTls::connect(s);
        c.ok(&format!("LOGIN {user} {PASSWORD}"));
        c
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.get_mut().write_all(bytes).unwrap();
    }

    /// One response line, CRLF stripped; literals are inlined (lossy UTF-8).
    fn line(&mut self) -> String {
        let mut out = Vec::new();
        loop {
            let mut line = Vec::new();
            let n = self.stream.read_until(b'\n', &mut line).expect("read");
            assert!(
                n > 0,
                "connection closed; got {:?}",
                String::from_utf8_lossy(&out)
            );
            let line = line.strip_suffix(b"\r\n").unwrap_or(&line).to_vec();
            out.extend_from_slice(&line);
            let text = String::from_utf8_lossy(&line).into_owned();
            let literal = text
                .strip_suffix('}')
                .and_then(|t| t.rsplit_once('{'))
                .and_then(|(_, n)| n.parse::<usize>().ok());
            match literal {
                Some(n) => {
                    let mut data = vec![0u8; n];
                    self.stream.read_exact(&mut data).unwrap();
                    out.extend_from_slice(b"\r\n");
                    out.extend_from_slice(&data);
                }
                None => return String::from_utf8_lossy(&out).into_owned(),
            }
        }
    }

    /// Sends a tagged command; returns (tagged line, untagged lines).
    fn cmd(&mut self, text: &str) -> (String, Vec<String>) {
        self.n += 1;
        let tag = format!("t{}", self.n);
        self.send(format!("{tag} {text}\r\n").as_bytes());
        let mut untagged = Vec::new();
        loop {
            let line = self.line();
            if line.starts_with(&format!("{tag} ")) {
                return (line, untagged);
            }
            untagged.push(line);
        }
    }

    fn ok(&mut self, text: &str) -> Vec<String> {
        let (tagged, untagged) = self.cmd(text);
        assert!(
            tagged.split(' ').nth(1) == Some("OK"),
            "{text}: {tagged} {untagged:?}"
        );
        untagged
    }

    fn append(&mut self, mailbox: &str, message: &[u8]) {
        self.n += 1;
        let tag = format!("t{}", self.n);
        self.send(format!("{tag} APPEND {mailbox} {{{}+}}\r\n", message.len()).as_bytes());
        self.send(message);
        self.send(b"\r\n");
        let line = self.line();
        assert!(line.starts_with(&format!("{tag} OK [APPENDUID ")), "{line}");
    }
}

#[test]
fn imap_crate_login_select_fetch_store_idle() {
    let s = Server::start(&[ALICE]);
    let first = small_message("crate one");
    deliver(&s, ALICE, &first);
    let mut session = s.imap_session(ALICE);
    let caps = session.capabilities().unwrap();
    for cap in ["IMAP4rev1", "IDLE", "UIDPLUS", "MOVE"] {
        assert!(caps.has_str(cap), "{cap}");
    }
    let mailbox = session.select("INBOX").unwrap();
    assert_eq!(mailbox.exists, 1);
    assert_eq!(mailbox.uid_next, Some(2));
    assert!(mailbox.uid_validity.is_some());
    let fetches = session
        .uid_fetch("1", "(BODY.PEEK[] FLAGS ENVELOPE)")
        .unwrap();
    let m = fetches.iter().next().expect("one message");
    assert_eq!(m.body().unwrap(), s.data.show(ALICE, "INBOX", 1).as_slice());
    assert_eq!(
        m.envelope().unwrap().subject.as_deref(),
        Some(&b"crate one"[..])
    );
    assert!(m.flags().is_empty());
    let stored = session.uid_store("1", "+FLAGS (\\Flagged \\Seen)").unwrap();
    let flags: Vec<String> = stored
        .iter()
        .next()
        .unwrap()
        .flags()
        .iter()
        .map(|f| f.to_string())
        .collect();
    assert_eq!(flags, vec!["\\Seen", "\\Flagged"]);
    let found = session.uid_search("FLAGGED").unwrap();
    assert_eq!(found.into_iter().collect::<Vec<_>>(), vec![1]);
    // IDLE: a delivery from another thread wakes it with EXISTS.
    let mx = s.mx();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let mut c = Smtp::connect(mx);
        assert!(c.cmd("EHLO client.test").starts_with("250"));
        assert!(c.cmd("MAIL FROM:<sender@remote.test>").starts_with("250"));
        assert!(c.cmd(&format!("RCPT TO:<{ALICE}>")).starts_with("250"));
        assert!(c.cmd("DATA").starts_with("354"));
        c.send(b"Subject: during idle\r\n\r\nhi\r\n");
        assert!(c.cmd(".").starts_with("250"));
    });
    let started = Instant::now();
    let mut woke = None;
    session
        .idle()
        .timeout(Duration::from_secs(10))
        .wait_while(|response| {
            if let imap::types::UnsolicitedResponse::Exists(n) = response {
                woke = Some(n);
                return false;
            }
            true
        })
        .unwrap();
    sender.join().unwrap();
    assert_eq!(woke, Some(2), "IDLE woke with EXISTS 2");
    assert!(started.elapsed() < Duration::from_secs(5));
    let fetches = session
        .fetch("2", "BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
        .unwrap();
    assert_eq!(
        fetches.iter().next().unwrap().header(),
        Some(&b"Subject: during idle\r\n\r\n"[..])
    );
    session.logout().unwrap();
}

/// The server's peak resident memory in KiB (VmHWM).
fn vm_hwm_kib(s: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", s.pid())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

fn status_of(tagged: &str) -> &str {
    tagged.split(' ').nth(1).unwrap_or("")
}

/// Every file below `dir`, relative.
fn files_below(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
        }
    }
    out.sort();
    out
}

#[test]
fn hostile_mailbox_names_are_refused_or_harmless() {
    let s = Server::start(&[ALICE]);
    let before = files_below(s.data.path());
    let mut c = ImapTls::login(&s, ALICE);
    // Names are keys in the store, never paths: dot segments are plain names.
    for name in ["\"../../escape\"", "\"..\"", "\"a/../b\""] {
        let (tagged, _) = c.cmd(&format!("CREATE {name}"));
        assert!(
            matches!(status_of(&tagged), "OK" | "NO"),
            "{name}: {tagged}"
        );
    }
    let listed = c.ok("LIST \"\" *");
    assert!(
        listed.contains(&"* LIST (\\HasChildren) \"/\" ..".to_string()),
        "{listed:?}"
    );
    assert!(
        listed.contains(&"* LIST (\\HasNoChildren) \"/\" ../../escape".to_string()),
        "{listed:?}"
    );
    // Refused: a leading or doubled delimiter, empty names, control characters, NUL, overlong.
    for (what, cmd) in [
        ("absolute path", "CREATE /etc/passwd".to_string()),
        ("empty level", "CREATE a//b".to_string()),
        ("empty name", "CREATE \"\"".to_string()),
        ("NUL", "CREATE {3+}\r\na\0b".to_string()),
        ("CR LF", "CREATE {4+}\r\na\r\nb".to_string()),
        ("tab", "CREATE \"a\tb\"".to_string()),
        ("256 bytes", format!("CREATE {}", "x".repeat(256))),
        ("bad modified UTF-7", "CREATE &Jjo".to_string()),
    ] {
        let (tagged, _) = c.cmd(&cmd);
        assert!(
            matches!(status_of(&tagged), "NO" | "BAD"),
            "{what} must be refused: {tagged}"
        );
    }
    let (tagged, _) = c.cmd(&format!("CREATE {}", "x".repeat(255)));
    assert_eq!(status_of(&tagged), "OK", "255 bytes is the limit");
    for cmd in [
        "SELECT /etc/passwd",
        "EXAMINE \"../../../../etc/passwd\"",
        "STATUS \"/etc/passwd\" (MESSAGES)",
        "DELETE /etc",
    ] {
        let (tagged, _) = c.cmd(cmd);
        assert_eq!(status_of(&tagged), "NO", "{cmd}: {tagged}");
    }
    // Wildcards are valid in names (RFC 9051 §5.1) and are quoted when listed.
    c.ok("CREATE \"a%b\"");
    c.ok("CREATE \"c*d\"");
    assert_eq!(
        c.ok("LIST \"\" \"a%b\""),
        vec!["* LIST (\\HasNoChildren) \"/\" \"a%b\"".to_string()]
    );
    assert_eq!(
        c.ok("LIST \"\" c*d"),
        vec!["* LIST (\\HasNoChildren) \"/\" \"c*d\"".to_string()]
    );
    // Regression: a 60000-character pattern overflowed the stack of the recursive matcher and
    // killed the server (every session of every user).
    let pattern = "%".repeat(60_000);
    let lines = c.ok(&format!("LIST \"\" {{{}+}}\r\n{pattern}", pattern.len()));
    assert!(lines.iter().any(|l| l.ends_with(" INBOX")), "{lines:?}");
    let pattern = "a*".repeat(30_000);
    assert!(
        c.ok(&format!("LIST \"\" {{{}+}}\r\n{pattern}", pattern.len()))
            .is_empty()
    );
    c.ok("NOOP");
    // Nothing appeared on disk for any of these names.
    let after = files_below(s.data.path());
    let new: Vec<&String> = after.iter().filter(|f| !before.contains(f)).collect();
    assert!(
        new.iter()
            .all(|f| !f.contains("escape") && !f.contains("passwd") && !f.contains("..")),
        "{new:?}"
    );
}

#[test]
fn users_never_reach_each_others_mailboxes_or_messages() {
    let s = Server::start(&[ALICE, BOB]);
    let secret = small_message("alice secret");
    deliver(&s, ALICE, &secret);
    let mut a = ImapTls::login(&s, ALICE);
    a.ok("CREATE Secret");
    a.append("Secret", &secret);
    let alice_before: Vec<Vec<u8>> = vec![
        s.data.show(ALICE, "INBOX", 1),
        s.data.show(ALICE, "Secret", 1),
    ];
    deliver(&s, BOB, &small_message("bob own"));
    let mut b = ImapTls::login(&s, BOB);
    // Alice's names mean nothing to Bob, however they are spelled.
    for name in [
        "Secret",
        "\"../alice@example.test/Secret\"",
        "\"alice@example.test/INBOX\"",
        "\"#shared/alice\"",
        "\"~alice/INBOX\"",
        "\"/alice/Secret\"",
    ] {
        for cmd in [
            format!("SELECT {name}"),
            format!("EXAMINE {name}"),
            format!("STATUS {name} (MESSAGES UIDNEXT)"),
            format!("DELETE {name}"),
            format!("RENAME {name} Stolen"),
        ] {
            let (tagged, untagged) = b.cmd(&cmd);
            assert_eq!(status_of(&tagged), "NO", "{cmd}: {tagged}");
            assert!(untagged.is_empty(), "{cmd}: {untagged:?}");
        }
        let (tagged, _) = b.cmd(&format!("APPEND {name} {{5+}}\r\nhello"));
        assert_eq!(status_of(&tagged), "NO", "APPEND {name}: {tagged}");
        assert!(tagged.contains("[TRYCREATE]"), "{tagged}");
    }
    let listed = b.ok("LIST \"\" *");
    assert!(!listed.iter().any(|l| l.contains("Secret")), "{listed:?}");
    assert!(b.ok("LIST \"\" \"*Secret*\"").is_empty());
    assert!(b.ok("LIST \"\" \"*alice*\"").is_empty());
    // Subscribing to the name only touches Bob's own list.
    b.ok("SUBSCRIBE Secret");
    assert_eq!(b.ok("LSUB \"\" Secret").len(), 1);
    assert!(
        a.ok("LIST (SUBSCRIBED) \"\" Secret").is_empty(),
        "Alice's subscriptions unchanged"
    );
    // Bob's INBOX holds only his message, whatever UIDs he asks for.
    b.ok("SELECT INBOX");
    let fetched = b.ok("UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    assert_eq!(
        fetched,
        vec![
            "* 1 FETCH (UID 1 BODY[HEADER.FIELDS (SUBJECT)] {20}\r\nSubject: bob own\r\n\r\n)"
                .to_string()
        ]
    );
    assert_eq!(b.ok("UID FETCH 2:99 (FLAGS)"), Vec::<String>::new());
    assert_eq!(b.ok("SEARCH SUBJECT secret"), vec!["* SEARCH".to_string()]);
    for cmd in [
        "COPY 1 Secret",
        "MOVE 1 Secret",
        "UID COPY 1 \"../alice@example.test/INBOX\"",
    ] {
        let (tagged, _) = b.cmd(cmd);
        assert!(
            status_of(&tagged) == "NO" && tagged.contains("[TRYCREATE]"),
            "{cmd}: {tagged}"
        );
    }
    let (tagged, _) = b.cmd("FETCH 2 (BODY[])");
    assert_eq!(status_of(&tagged), "BAD", "no message 2 for Bob: {tagged}");
    // Bob idling on his INBOX hears nothing of Alice's mail.
    b.send(b"i IDLE\r\n");
    assert_eq!(b.line(), "+ idling");
    deliver(&s, ALICE, &small_message("alice again"));
    a.ok("SELECT INBOX");
    a.ok("STORE 1 +FLAGS (\\Deleted)");
    a.ok("EXPUNGE");
    b.send(b"DONE\r\n");
    assert_eq!(
        b.line(),
        "i OK IDLE terminated",
        "nothing was pushed to Bob"
    );
    // Alice's data is intact.
    assert_eq!(s.data.show(ALICE, "Secret", 1), alice_before[1]);
    assert_eq!(s.data.uids(ALICE, "INBOX"), vec![2]);
    assert_eq!(s.data.uids(BOB, "INBOX"), vec![1]);
}

#[test]
fn huge_literals_are_refused_without_allocating() {
    // Sized as a 512 MB board (4 MiB store cache), whatever machine runs the test.
    let data = DataDir::new(&[ALICE]);
    data.cli_ok(&["config", "set", "board.ram_mib", "512"]);
    let s = Server::serve(data);
    let mut c = ImapTls::login(&s, ALICE);
    c.ok("SELECT INBOX");
    let before = vm_hwm_kib(&s);
    // Synchronising: refused before any data (no continuation request), session goes on.
    let (tagged, _) = c.cmd("CREATE {999999999}");
    assert!(tagged.starts_with("t3 BAD "), "{tagged}");
    let (tagged, _) = c.cmd("APPEND INBOX {999999999}");
    assert_eq!(tagged, "t4 NO [TOOBIG] Message too large");
    let (tagged, _) = c.cmd("LOGIN {4294967296}");
    assert_eq!(status_of(&tagged), "BAD", "{tagged}");
    // A length that is not a number at all (20 digits) is a syntax error.
    let (tagged, _) = c.cmd("CREATE {99999999999999999999}");
    assert_eq!(status_of(&tagged), "BAD", "{tagged}");
    c.ok("NOOP");
    // Non-synchronising: the announced bytes are skipped by length, never parsed as commands.
    let junk = b"t99 DELETE INBOX\r\n".repeat(4000);
    c.send(format!("t7 CREATE {{{}+}}\r\n", junk.len() + 2).as_bytes());
    c.send(&junk);
    c.send(b"xx\r\n");
    let line = c.line();
    assert!(line.starts_with("t7 BAD "), "{line}");
    c.n = 7;
    assert_eq!(c.ok("LIST \"\" INBOX").len(), 1, "INBOX still there");
    let after = vm_hwm_kib(&s);
    eprintln!("server VmHWM before {before} KiB, after the refused literals {after} KiB");
    assert!(
        after < before + 2 * 1024,
        "peak RSS grew from {before} to {after} KiB"
    );
    // An accepted 24 MB APPEND streams into the store: the process grows by redb's cache and
    // write buffer (4 MiB by default), never by the message size.
    let line = b"0123456789abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789\r\n";
    let big: Vec<u8> = [
        &b"Subject: big\r\n\r\n"[..],
        &line.repeat(24_000_000 / line.len()),
    ]
    .concat();
    c.send(format!("t9 APPEND INBOX {{{}+}}\r\n", big.len()).as_bytes());
    for chunk in big.chunks(1 << 20) {
        c.send(chunk);
    }
    c.send(b"\r\n");
    let mut reply = c.line();
    while reply.starts_with('*') {
        reply = c.line();
    }
    assert!(reply.starts_with("t9 OK [APPENDUID "), "{reply}");
    c.n = 9;
    let fetched = c.ok("FETCH 1 (RFC822.SIZE BODY.PEEK[]<23000000.10>)");
    let tail = String::from_utf8_lossy(&big[23_000_000..23_000_010]);
    assert_eq!(
        fetched,
        vec![format!(
            "* 1 FETCH (RFC822.SIZE {} BODY[]<23000000> {{10}}\r\n{tail})",
            big.len()
        )]
    );
    let streamed = vm_hwm_kib(&s);
    eprintln!("server VmHWM after a 24 MB APPEND and a partial FETCH: {streamed} KiB");
    assert!(
        streamed < after + 12 * 1024,
        "peak RSS grew from {after} to {streamed} KiB for a 24 MB APPEND"
    );
}

#[test]
fn garbage_lines_get_bad_and_the_session_survives_until_max_errors() {
    let data = DataDir::new(&[ALICE]);
    data.cli_ok(&["config", "set", "imap.max_errors", "6"]);
    let s = Server::serve(data);
    let mut c = ImapTls::connect(&s);
    let garbage: [&[u8]; 5] = [
        b"\x00\x01\x02\xff",
        b"GET / HTTP/1.1",
        b"a1 FROB",
        b"a2 SELECT",
        b"* OK",
    ];
    for (i, g) in garbage.iter().enumerate() {
        c.send(g);
        c.send(b"\r\n");
        let line = c.line();
        assert!(line.contains(" BAD "), "garbage {i}: {line}");
        c.n = 0;
        let (tagged, _) = c.cmd("NOOP");
        assert_eq!(tagged, "t1 OK NOOP completed", "alive after garbage {i}");
    }
    // A NO is not an error; a too-long line is.
    let (tagged, _) = c.cmd(&format!("LOGIN {ALICE} {PASSWORD}"));
    assert_eq!(status_of(&tagged), "OK");
    let (tagged, _) = c.cmd("SELECT Nope");
    assert_eq!(status_of(&tagged), "NO");
    c.send(&vec![b'x'; 70_000]);
    c.send(b"\r\n");
    let line = c.line();
    assert!(
        line == "* BAD Command line too long" || line == "* BAD Command too long",
        "{line}"
    );
    assert_eq!(c.line(), "* BYE Too many errors");
    let mut rest = Vec::new();
    let _ = c.stream.read_to_end(&mut rest);
    assert!(rest.is_empty(), "closed after BYE: {rest:?}");
}

#[test]
fn login_brute_force_is_delayed_then_refused() {
    let data = DataDir::new(&[ALICE]);
    for (k, v) in [
        ("auth.free_failures", "2"),
        ("auth.delay_base_ms", "600"),
        ("auth.max_failures_per_ip", "5"),
        ("auth.block_secs", "60"),
    ] {
        data.cli_ok(&["config", "set", k, v]);
    }
    let s = Server::serve(data);
    // A new connection per attempt; delays count from the previous failure's answer.
    let mut gaps = Vec::new();
    let mut last = Instant::now();
    for i in 0..5 {
        let mut c = ImapTls::connect(&s);
        let (tagged, _) = c.cmd(&format!("LOGIN {ALICE} wrong-{i}"));
        gaps.push(last.elapsed());
        last = Instant::now();
        assert_eq!(
            tagged, "t1 NO [AUTHENTICATIONFAILED] Authentication failed",
            "attempt {i}"
        );
    }
    eprintln!("time from one failed LOGIN answer to the next: {gaps:?}");
    assert!(
        gaps[1] < Duration::from_millis(400) && gaps[2] < Duration::from_millis(400),
        "free failures: {gaps:?}"
    );
    assert!(
        gaps[3] >= Duration::from_millis(600),
        "4th attempt delayed: {gaps:?}"
    );
    assert!(
        gaps[4] >= Duration::from_millis(1200),
        "5th attempt delayed more: {gaps:?}"
    );
    // Blocked now: even the right password is refused at once, on any mechanism.
    let mut c = ImapTls::connect(&s);
    let started = Instant::now();
    let (tagged, _) = c.cmd(&format!("LOGIN {ALICE} {PASSWORD}"));
    assert_eq!(tagged, "t1 NO [UNAVAILABLE] Try again later");
    assert!(started.elapsed() < Duration::from_millis(400));
    let plain = "AGFsaWNlQGV4YW1wbGUudGVzdABjb3JyZWN0LWhvcnNlLTk=";
    let (tagged, _) = c.cmd(&format!("AUTHENTICATE PLAIN {plain}"));
    assert_eq!(tagged, "t2 NO [UNAVAILABLE] Try again later");
}

#[test]
fn a_connection_that_never_logs_in_is_dropped_after_the_login_timeout() {
    let data = DataDir::new(&[ALICE]);
    data.cli_ok(&["config", "set", "imap.login_timeout_secs", "5"]);
    let s = Server::serve(data);
    let started = Instant::now();
    let mut c = ImapTls::connect(&s);
    // A command every 2 s keeps each read well short of the limit: the deadline counts from
    // the connect, so the server still ends the session at 5 s (a per-read limit would let it
    // live until 9 s, or for ever).
    for _ in 0..3 {
        let (tagged, _) = c.cmd("NOOP");
        assert!(tagged.ends_with(" OK NOOP completed"), "{tagged}");
        if started.elapsed() < Duration::from_secs(4) {
            std::thread::sleep(Duration::from_secs(2));
        }
    }
    assert_eq!(c.line(), "* BYE Autologout; idle for too long");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(4500) && waited < Duration::from_secs(8),
        "dropped after {waited:?}"
    );
    let mut rest = Vec::new();
    let _ = c.stream.read_to_end(&mut rest);
    assert!(rest.is_empty(), "closed after BYE: {rest:?}");
}

#[test]
fn moving_into_and_out_of_junk_over_imap_records_training_events() {
    let mut s = Server::start(&[ALICE]);
    deliver(&s, ALICE, &small_message("spam to be"));
    deliver(&s, ALICE, &small_message("ham after all"));
    let mut session = s.imap_session(ALICE);
    session.select("INBOX").unwrap();
    // The user marks both as spam (MOVE into Junk), then one back as ham (MOVE out of Junk).
    session.uid_mv("1:2", "Junk").unwrap();
    session.select("Junk").unwrap();
    session.uid_mv("2", "INBOX").unwrap();
    // Moving between ordinary folders is no signal.
    session.select("INBOX").unwrap();
    session.uid_mv("3", "Archive").unwrap();
    session.logout().unwrap();
    assert!(s.stop().success());
    // The events are in the store the binary wrote (the scorer of a later issue reads them).
    let store = mailnook::store::Store::open(&s.data.path().join("mail.redb"), 1 << 20).unwrap();
    let user = store.user(ALICE).unwrap().expect("alice");
    let events: Vec<bool> = store
        .training_events(user.id)
        .unwrap()
        .iter()
        .map(|e| e.spam)
        .collect();
    assert_eq!(events, vec![true, true, false], "spam, spam, ham");
    store.close();
}

//! `mailnook import-imap` against a real Dovecot: a private Dovecot instance (its own config
//! file in a temporary folder, passwd-file users, Maildir, loopback only) is filled over IMAP by
//! Python's imaplib (APPEND with flags, keywords and dates into INBOX, nested folders, a
//! non-ASCII folder name and a `\Sent` special-use folder under another name), then copied
//! into mailnook with the server stopped (implicit TLS, `--ca`, `--password-file`); both
//! accounts are read back with imaplib and must be equal folder by folder, message by message
//! (bytes, flags, INTERNALDATE). Running it again through the running server (STARTTLS,
//! password on stdin) copies nothing; after one more message arrives at Dovecot it copies
//! exactly that one.

mod common;
use common::*;

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ALICE: &str = "alice@example.test";
const OLD_USER: &str = "olduser";
const OLD_PASSWORD: &str = "old-password-7";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn sh(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A private Dovecot; stopped when dropped.
struct Dovecot {
    dir: tempfile::TempDir,
    imap: u16,
    imaps: u16,
}

impl Dovecot {
    fn start() -> Dovecot {
        let dir = tempfile::Builder::new()
            .prefix("dovecot-test")
            .tempdir()
            .unwrap();
        let d = dir.path();
        use std::os::unix::fs::PermissionsExt;
        // Dovecot's mail processes run as the mail user and must reach the home below.
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        // A private authority and a server certificate it signed (webpki refuses a CA
        // certificate as the server's own).
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        sh(Command::new("openssl")
            .args(["req", "-x509", "-days", "2"])
            .args(ec)
            .args(["-subj", "/CN=import test CA", "-keyout"])
            .arg(d.join("ca.key"))
            .arg("-out")
            .arg(d.join("ca.pem")));
        sh(Command::new("openssl")
            .args(["req"])
            .args(ec)
            .args(["-subj", "/CN=localhost", "-keyout"])
            .arg(d.join("key.pem"))
            .arg("-out")
            .arg(d.join("server.csr")));
        std::fs::write(
            d.join("san.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .unwrap();
        sh(Command::new("openssl")
            .args(["x509", "-req", "-days", "2", "-in"])
            .arg(d.join("server.csr"))
            .arg("-CA")
            .arg(d.join("ca.pem"))
            .arg("-CAkey")
            .arg(d.join("ca.key"))
            .args(["-CAcreateserial", "-extfile"])
            .arg(d.join("san.ext"))
            .arg("-out")
            .arg(d.join("cert.pem")));
        sh(Command::new("openssl")
            .args([
                "genpkey",
                "-genparam",
                "-algorithm",
                "DH",
                "-pkeyopt",
                "dh_param:ffdhe2048",
                "-out",
            ])
            .arg(d.join("dh.pem")));
        let root = rustix::process::geteuid().is_root();
        let (uid, gid) = if root {
            (5000, 5000)
        } else {
            (
                rustix::process::getuid().as_raw(),
                rustix::process::getgid().as_raw(),
            )
        };
        let home = d.join("home");
        std::fs::create_dir(&home).unwrap();
        if root {
            std::os::unix::fs::chown(&home, Some(uid), Some(gid)).unwrap();
        }
        std::fs::write(
            d.join("users"),
            format!(
                "{OLD_USER}:{{PLAIN}}{OLD_PASSWORD}:{uid}:{gid}::{}::\n",
                home.display()
            ),
        )
        .unwrap();
        let (imap, imaps) = (free_port(), free_port());
        let me = if root {
            String::new()
        } else {
            let name =
                String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
            format!(
                "default_internal_user = {0}\ndefault_login_user = {0}\n",
                name.trim()
            )
        };
        let conf = format!(
            r#"base_dir = {d}/run
state_dir = {d}/state
instance_name = mailnook-import-test-{imap}
protocols = imap
listen = 127.0.0.1
log_path = {d}/dovecot.log
{me}ssl = yes
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
ssl_dh = <{d}/dh.pem
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = {d}/users
}}
userdb {{
  driver = passwd-file
  args = {d}/users
}}
first_valid_uid = {uid}
last_valid_uid = {uid}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
  mailbox "Sent Messages" {{
    special_use = \Sent
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"#,
            d = d.display()
        );
        std::fs::write(d.join("dovecot.conf"), conf).unwrap();
        // The master daemonizes; its output goes to the log file, not to pipes it would hold.
        let status = Command::new("dovecot")
            .arg("-c")
            .arg(d.join("dovecot.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("start.log")).unwrap())
            .status()
            .unwrap();
        assert!(
            status.success(),
            "dovecot did not start: {}",
            std::fs::read_to_string(d.join("start.log")).unwrap_or_default()
        );
        let dv = Dovecot { dir, imap, imaps };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", imaps)).is_err() {
            assert!(
                Instant::now() < deadline,
                "dovecot did not start: {}",
                dv.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        dv
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn ca(&self) -> PathBuf {
        self.path().join("ca.pem")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path().join("dovecot.log")).unwrap_or_default()
    }

    fn imaplib(&self, cmd: &str, extra: &[&str]) -> String {
        let mut args = vec![
            cmd.to_string(),
            "127.0.0.1".into(),
            self.imaps.to_string(),
            self.ca().to_str().unwrap().into(),
            "localhost".into(),
            OLD_USER.into(),
            OLD_PASSWORD.into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        boxes(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("doveadm")
            .arg("-c")
            .arg(self.path().join("dovecot.conf"))
            .arg("stop")
            .output();
        // Wait for the master to go, so the folder can be removed.
        let pid_file = self.path().join("run/master.pid");
        let deadline = Instant::now() + Duration::from_secs(10);
        while pid_file.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn dump_mailnook(s: &Server, out: &Path) {
    boxes_on(s, "dump", ALICE, &[out.to_str().unwrap()]);
}

/// `import-imap` arguments for the Dovecot on `port` with the password in `password_file`.
fn import_args<'a>(
    port: &'a str,
    password_file: &'a Path,
    ca: &'a Path,
    security: &'a str,
) -> Vec<&'a str> {
    vec![
        "import-imap",
        ALICE,
        "--host",
        "127.0.0.1",
        "--port",
        port,
        security,
        "--user",
        OLD_USER,
        "--password-file",
        password_file.to_str().unwrap(),
        "--ca",
        ca.to_str().unwrap(),
    ]
}

#[test]
fn copies_every_folder_from_dovecot_and_only_new_mail_on_a_second_run() {
    for tool in ["dovecot", "doveadm", "openssl", "python3"] {
        if !require_tool(tool) {
            return;
        }
    }
    let dv = Dovecot::start();
    dv.imaplib("fill", &["Sent=Sent Messages"]);
    let tmp = tempfile::tempdir().unwrap();
    let t = |n: &str| tmp.path().join(n);
    dv.imaplib("dump", &[t("dovecot.json").to_str().unwrap()]);
    std::fs::write(t("pw"), format!("{OLD_PASSWORD}\n")).unwrap();

    // Server stopped: the CLI copies into the store itself.
    let data = DataDir::new(&[ALICE]);
    let imaps = dv.imaps.to_string();
    let ca = dv.ca();
    let pw = t("pw");
    let out = data.cli(&import_args(&imaps, &pw, &ca, "--tls"));
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}\n{}", dv.log());
    assert!(said.contains("copied 9 new messages"), "{said}");
    assert!(
        said.contains("Sent Messages -> Sent\t1 new messages"),
        "the \\Sent folder goes to Sent: {said}"
    );

    let s = Server::serve(data);
    dump_mailnook(&s, &t("mailnook.json"));
    boxes(&[
        "same",
        t("dovecot.json").to_str().unwrap(),
        t("mailnook.json").to_str().unwrap(),
        "Sent Messages=Sent",
    ]);

    // Again, through the running server, over STARTTLS, the password on stdin: nothing new.
    let rerun = |expect: &str| {
        let mut child = Command::new(bin())
            .args([
                "import-imap",
                ALICE,
                "--host",
                "127.0.0.1",
                "--port",
                &dv.imap.to_string(),
            ])
            .args([
                "--starttls",
                "--user",
                OLD_USER,
                "--ca",
                dv.ca().to_str().unwrap(),
                "--data",
            ])
            .arg(s.data.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{OLD_PASSWORD}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let said = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && said.contains(expect), "{said}");
    };
    rerun("copied 0 new messages");
    dv.imaplib("append-one", &["Work/Projects"]);
    rerun("copied 1 new messages");
    dv.imaplib("dump", &[t("dovecot2.json").to_str().unwrap()]);
    dump_mailnook(&s, &t("mailnook2.json"));
    boxes(&[
        "same",
        t("dovecot2.json").to_str().unwrap(),
        t("mailnook2.json").to_str().unwrap(),
        "Sent Messages=Sent",
    ]);

    // A wrong password is a clear error, and nothing changes.
    std::fs::write(t("bad"), "wrong\n").unwrap();
    let bad = t("bad");
    let out = s.data.cli(&import_args(&imaps, &bad, &ca, "--tls"));
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success() && said.contains("logging in as olduser"),
        "{said}"
    );
}

/// The same copy from the user's web page (the pasted certificate authority standing in for the
/// private server's), equal to what Dovecot holds; a second run copies nothing.
#[test]
fn the_web_page_moves_an_account_in() {
    for tool in ["dovecot", "doveadm", "openssl", "python3"] {
        if !require_tool(tool) {
            return;
        }
    }
    let dv = Dovecot::start();
    dv.imaplib("fill", &["Sent=Sent Messages"]);
    let tmp = tempfile::tempdir().unwrap();
    let t = |n: &str| tmp.path().join(n);
    dv.imaplib("dump", &[t("dovecot.json").to_str().unwrap()]);
    let s = Server::start(&[ALICE]);
    web_scenario(
        &s,
        "move_in",
        &[
            ("DOVECOT_PORT", dv.imaps.to_string().into()),
            ("DOVECOT_CA", dv.ca().into_os_string()),
            ("OLD_USER", OLD_USER.into()),
            ("OLD_PASSWORD", OLD_PASSWORD.into()),
        ],
    );
    dump_mailnook(&s, &t("mailnook.json"));
    boxes(&[
        "same",
        t("dovecot.json").to_str().unwrap(),
        t("mailnook.json").to_str().unwrap(),
        "Sent Messages=Sent",
    ]);
    assert!(!s.log().contains(OLD_PASSWORD), "a password in the log");
    let leftovers: Vec<_> = std::fs::read_dir(s.data.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("import-ca-"))
        .collect();
    assert!(leftovers.is_empty(), "the pasted authority was left behind");
}

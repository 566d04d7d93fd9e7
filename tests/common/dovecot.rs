//! A private Dovecot (IMAP and POP3) for the tests that copy or collect mail from another
//! server: its own config file in a temporary folder, passwd-file users, Maildir, loopback
//! only, a private CA and a certificate for `localhost`.

use super::boxes;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The account on Dovecot.
pub const OLD_USER: &str = "olduser";
/// Its password.
pub const OLD_PASSWORD: &str = "old-password-7";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn sh(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A private Dovecot; stopped when dropped.
pub struct Dovecot {
    dir: tempfile::TempDir,
    /// IMAP with STARTTLS.
    pub imap: u16,
    /// IMAP over TLS.
    pub imaps: u16,
    /// POP3 with STLS.
    pub pop3: u16,
    /// POP3 over TLS.
    pub pop3s: u16,
}

impl Dovecot {
    pub fn start() -> Dovecot {
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
        let (imap, imaps, pop3, pop3s) = (free_port(), free_port(), free_port(), free_port());
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
protocols = imap pop3
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
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {pop3s}
    ssl = yes
  }}
  chroot =
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
        let dv = Dovecot {
            dir,
            imap,
            imaps,
            pop3,
            pop3s,
        };
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

    /// A started Dovecot filled by boxes.py `fill` (`Sent` as `Sent Messages`), or `None`
    /// (the test skips) without Dovecot, doveadm, openssl or python3.
    pub fn filled() -> Option<Dovecot> {
        for tool in ["dovecot", "doveadm", "openssl", "python3"] {
            if !super::require_tool(tool) {
                return None;
            }
        }
        let dv = Dovecot::start();
        dv.imaplib("fill", &["Sent=Sent Messages"]);
        Some(dv)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn ca(&self) -> PathBuf {
        self.path().join("ca.pem")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path().join("dovecot.log")).unwrap_or_default()
    }

    pub fn imaplib(&self, cmd: &str, extra: &[&str]) -> String {
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

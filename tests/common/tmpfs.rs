//! A tmpfs of a chosen size on a folder, in a private mount namespace (for full-disk tests):
//! mounting needs root or an unprivileged user namespace (`unshare -rm`); where neither works
//! [`Tmpfs::mount`] panics and says so.

use super::require_tool;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A tmpfs mounted on a folder in a mount namespace of its own, kept alive by a sleeping process.
pub struct Tmpfs {
    holder: Child,
    dir: PathBuf,
}

impl Tmpfs {
    pub fn mount(dir: &Path, size: &str) -> Tmpfs {
        require_tool("unshare");
        require_tool("nsenter");
        // As root a private mount namespace is enough; otherwise a user namespace maps us to root.
        let user_ns: &[&str] = if rustix::process::geteuid().is_root() {
            &[]
        } else {
            &["-r"]
        };
        let mut holder = Command::new("unshare")
            .args(user_ns)
            .args(["-m", "--propagation", "private", "sh", "-c"])
            .arg("mount -t tmpfs -o size=\"$2\",mode=0700 tmpfs \"$1\" && echo mounted && exec sleep 3600")
            .arg("sh")
            .arg(dir)
            .arg(size)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run unshare");
        let mut line = String::new();
        let _ = BufReader::new(holder.stdout.take().unwrap()).read_line(&mut line);
        if line.trim() != "mounted" {
            let _ = holder.kill();
            let out = holder.wait_with_output().unwrap();
            panic!(
                "cannot mount a tmpfs in a private mount namespace (this test needs root or \
                 unprivileged user namespaces): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Tmpfs {
            holder,
            dir: dir.to_path_buf(),
        }
    }

    /// `nsenter` into the namespace, as a command prefix.
    pub fn enter(&self) -> Vec<std::ffi::OsString> {
        ["nsenter", "-t", &self.holder.id().to_string(), "-m", "--"]
            .iter()
            .map(Into::into)
            .collect()
    }

    /// Changes the filesystem's size while it is in use.
    pub fn resize(&self, size: &str) {
        let st = Command::new("nsenter")
            .args([
                "-t",
                &self.holder.id().to_string(),
                "-m",
                "--",
                "mount",
                "-o",
            ])
            .arg(format!("remount,size={size}"))
            .arg(&self.dir)
            .status()
            .expect("run nsenter mount");
        assert!(st.success(), "remount to {size} failed");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

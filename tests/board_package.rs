//! The Debian package and its systemd unit (board/package-deb, board/mailnook.service,
//! board/deb/): a package built from the binary under test for amd64 holds exactly the expected
//! files, modes and control data, passes lintian, refuses binaries of another architecture; the
//! unit verifies and its exposure score stays low; and the package installs for real into a
//! scratch root with dpkg (the maintainer scripts run with DPKG_ROOT): the user is made, the
//! unit enabled, the installed binary serves with the unit's own ExecStart arguments (the setup
//! page over HTTPS, SMTP's 220) under a system-call trace that stays inside the unit's
//! SystemCallFilter, RestrictAddressFamilies and MemoryDenyWriteExecute; a reinstall keeps
//! the user; remove keeps the store and purge deletes it with the user.

mod common;
use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The exposure score the unit must stay at or under (`systemd-analyze security`; "OK" is < 3).
const MAX_EXPOSURE: f64 = 2.5;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn unit_text() -> String {
    std::fs::read_to_string(repo().join("board/mailnook.service")).unwrap()
}

/// The package version: Cargo's, a pre-release's `-` as `~`, and the Debian revision 1.
fn deb_version() -> String {
    format!("{}-1", env!("CARGO_PKG_VERSION").replace('-', "~"))
}

fn run(cmd: &mut Command) -> Output {
    run_bounded(cmd, Duration::from_secs(300))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// A stripped copy of the binary under test in `dir` (as `cargo build --release` makes one:
/// the release profile strips).
fn stripped_binary(dir: &Path) -> PathBuf {
    let copy = dir.join("mailnook");
    ok(Command::new("objcopy")
        .arg("--strip-all")
        .arg(bin())
        .arg(&copy));
    copy
}

/// `board/package-deb BINARY DEBARCH OUTDIR [--flavour NAME]`.
fn package_deb(binary: &Path, debarch: &str, out: &Path, flavour: Option<&str>) -> Output {
    let mut cmd = Command::new(repo().join("board/package-deb"));
    cmd.arg(binary).arg(debarch).arg(out);
    if let Some(f) = flavour {
        cmd.args(["--flavour", f]);
    }
    run(&mut cmd)
}

/// Builds the amd64 package of the (stripped) binary under test in `dir`; returns its path.
fn build_deb(dir: &Path) -> PathBuf {
    let binary = stripped_binary(dir);
    let out = package_deb(&binary, "amd64", dir, None);
    assert!(
        out.status.success(),
        "package-deb failed:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let deb = dir.join(format!("mailnook_{}_amd64.deb", deb_version()));
    assert_eq!(text(&out.stdout).trim(), deb.to_str().unwrap());
    assert!(deb.is_file());
    deb
}

fn tools_present() -> bool {
    ["dpkg-deb", "readelf", "objcopy", "dpkg-shlibdeps"]
        .iter()
        .all(|t| require_tool(t))
}

#[test]
fn the_package_holds_exactly_the_expected_files_and_control_data() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let deb = build_deb(dir.path());

    // Every path with its mode, owned by root:root.
    let listing = ok(Command::new("dpkg-deb").arg("--contents").arg(&deb));
    let mut got = BTreeMap::new();
    for line in listing.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f[1], "root/root", "{line}");
        got.insert(f[5].to_string(), f[0].to_string());
    }
    let dir_mode = "drwxr-xr-x";
    let mut want: BTreeMap<String, String> = [
        "./",
        "./lib/",
        "./lib/systemd/",
        "./lib/systemd/system/",
        "./usr/",
        "./usr/bin/",
        "./usr/lib/",
        "./usr/lib/sysusers.d/",
        "./usr/share/",
        "./usr/share/doc/",
        "./usr/share/doc/mailnook/",
        "./usr/share/lintian/",
        "./usr/share/lintian/overrides/",
        "./usr/share/man/",
        "./usr/share/man/man1/",
    ]
    .iter()
    .map(|d| (d.to_string(), dir_mode.to_string()))
    .collect();
    want.insert("./usr/bin/mailnook".into(), "-rwxr-xr-x".into());
    for f in [
        "./lib/systemd/system/mailnook.service",
        "./usr/lib/sysusers.d/mailnook.conf",
        "./usr/share/doc/mailnook/changelog.Debian.gz",
        "./usr/share/doc/mailnook/copyright",
        "./usr/share/lintian/overrides/mailnook",
        "./usr/share/man/man1/mailnook.1.gz",
    ] {
        want.insert(f.into(), "-rw-r--r--".into());
    }
    assert_eq!(got, want, "dpkg-deb --contents:\n{listing}");

    // The files are the repository's: the binary given, the unit, the sysusers entry.
    let tree = dir.path().join("tree");
    ok(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tree));
    let extract = |path: &str| std::fs::read(tree.join(path)).unwrap();
    assert!(
        extract("./usr/bin/mailnook") == std::fs::read(dir.path().join("mailnook")).unwrap(),
        "the packaged binary is not the one given"
    );
    assert_eq!(
        text(&extract("./lib/systemd/system/mailnook.service")),
        unit_text()
    );
    let sysusers = text(&extract("./usr/lib/sysusers.d/mailnook.conf"));
    assert!(
        sysusers
            .lines()
            .any(
                |l| l.split_whitespace().collect::<Vec<_>>()[..2] == ["u", "mailnook"]
                    && l.contains("/var/lib/mailnook")
            ),
        "{sysusers}"
    );
    let copyright = text(&extract("./usr/share/doc/mailnook/copyright"));
    assert!(
        copyright.contains("License: Expat or Apache-2.0") && copyright.contains(" rustls v"),
        "{copyright}"
    );

    // The control archive: control, md5sums and the three maintainer scripts (executable).
    let info = ok(Command::new("dpkg-deb").arg("--info").arg(&deb));
    let members: BTreeSet<String> = info
        .lines()
        .filter(|l| l.contains(" bytes,") && l.contains(" lines"))
        .map(|l| {
            // "SIZE bytes, N lines [*] NAME [interpreter]": * marks an executable member.
            let f: Vec<&str> = l.split_whitespace().collect();
            match f[4] {
                "*" => format!("{}*", f[5]),
                name => name.to_string(),
            }
        })
        .collect();
    let want: BTreeSet<String> = ["control", "md5sums", "postinst*", "postrm*", "prerm*"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(members, want, "{info}");
    let field = |name: &str| {
        ok(Command::new("dpkg-deb").arg("--field").arg(&deb).arg(name))
            .trim()
            .to_string()
    };
    assert_eq!(field("Package"), "mailnook");
    assert_eq!(field("Version"), deb_version());
    assert_eq!(field("Architecture"), "amd64");
    assert_eq!(field("Section"), "mail");
    assert_eq!(field("Priority"), "optional");
    assert!(field("Maintainer").contains('@'));
    // Conflicts with the other MTAs (port 25), but provides no mail-transport-agent: that
    // promises a /usr/sbin/sendmail (Debian policy §11.6).
    assert_eq!(field("Conflicts"), "mail-transport-agent");
    assert_eq!(field("Provides"), "");
    assert_eq!(field("Replaces"), "");
    // The binary under test is dynamically linked: dpkg-shlibdeps adds libc6.
    let depends = field("Depends");
    assert!(
        depends.contains("libc6 (>= ") && depends.contains("passwd"),
        "{depends}"
    );
    assert!(field("Description").contains("x86-64"));
    // Installed-Size as dpkg counts it: KiB per file rounded up, 1 per folder.
    let size: u64 = listing
        .lines()
        .filter(|l| !l.ends_with(" ./"))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f[0].starts_with('d') {
                1
            } else {
                f[2].parse::<u64>().unwrap().div_ceil(1024)
            }
        })
        .sum();
    assert_eq!(field("Installed-Size"), size.to_string());

    // --flavour changes the file name only.
    let out = package_deb(
        &dir.path().join("mailnook"),
        "amd64",
        dir.path(),
        Some("pc"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let flavoured = dir
        .path()
        .join(format!("mailnook_{}_amd64-pc.deb", deb_version()));
    assert!(flavoured.is_file());
    assert_eq!(
        ok(Command::new("dpkg-deb").arg("--info").arg(&flavoured)),
        info
    );
}

/// A copy of the binary under test whose ELF header claims machine `e_machine`.
fn with_machine(dir: &Path, e_machine: u16) -> PathBuf {
    let mut b = std::fs::read(dir.join("mailnook")).unwrap();
    b[18..20].copy_from_slice(&e_machine.to_le_bytes());
    let p = dir.join(format!("machine-{e_machine:#x}"));
    std::fs::write(&p, b).unwrap();
    p
}

#[test]
fn the_packager_refuses_a_binary_that_does_not_fit_the_architecture() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let binary = stripped_binary(dir.path());
    let refused = |binary: &Path, debarch: &str, needle: &str| {
        let out = package_deb(binary, debarch, dir.path(), None);
        let err = text(&out.stderr);
        assert!(
            !out.status.success() && err.starts_with("package-deb: ") && err.contains(needle),
            "package-deb {binary:?} {debarch}: {err}"
        );
    };
    refused(&binary, "arm64", "not one for arm64");
    refused(&binary, "armhf", "not one for armhf");
    refused(&binary, "armel", "not one for armel");
    refused(&binary, "riscv64", "DEBARCH must be");
    // An AArch64 header on a dynamically linked binary: the Pi packages take static ones only.
    refused(
        &with_machine(dir.path(), 0xb7),
        "arm64",
        "dynamically linked",
    );
    refused(
        &repo().join("board/mailnook.service"),
        "amd64",
        "not an ELF file",
    );
    let out = package_deb(&binary, "amd64", dir.path(), Some("Armv6"));
    assert!(text(&out.stderr).contains("--flavour"));
    let debs = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("deb".as_ref()))
        .count();
    assert_eq!(debs, 0, "a refused binary left a package behind");
}

#[test]
fn lintian_finds_no_error_or_warning() {
    if !tools_present() || !require_tool("lintian") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let deb = build_deb(dir.path());
    let out = run(Command::new("lintian")
        .args(["--fail-on", "error,warning"])
        .arg(&deb));
    let report = text(&out.stdout);
    assert!(
        out.status.success()
            && !report
                .lines()
                .any(|l| l.starts_with("E:") || l.starts_with("W:")),
        "lintian:\n{report}{}",
        text(&out.stderr)
    );
}

#[test]
fn the_unit_verifies_and_its_exposure_is_low() {
    if !require_tool("systemd-analyze") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // verify checks that ExecStart's program exists: the binary under test stands in for it.
    let unit = dir.path().join("mailnook.service");
    let exec = exec_start(&unit_text());
    assert_eq!(exec[0], "/usr/bin/mailnook");
    std::fs::write(
        &unit,
        unit_text().replace("/usr/bin/mailnook", bin().to_str().unwrap()),
    )
    .unwrap();
    // verify also opens the unit's Documentation= manual page: the package's, found through
    // MANPATH as it will be in /usr/share/man.
    let man1 = dir.path().join("man/man1");
    std::fs::create_dir_all(&man1).unwrap();
    std::fs::copy(repo().join("board/deb/mailnook.1"), man1.join("mailnook.1")).unwrap();
    let out = run(Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .env("MANPATH", dir.path().join("man")));
    let err = text(&out.stderr);
    assert!(
        out.status.success() && !err.contains("mailnook.service"),
        "systemd-analyze verify:\n{}{err}",
        text(&out.stdout)
    );

    let out = ok(Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(repo().join("board/mailnook.service")));
    let score: f64 = out
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for mailnook.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{out}"));
    assert!(
        score <= MAX_EXPOSURE,
        "exposure {score} > {MAX_EXPOSURE}:\n{out}"
    );
    // The settings the score does not show alone.
    let unit = unit_text();
    for line in [
        "User=mailnook",
        "StateDirectory=mailnook",
        "StateDirectoryMode=0700",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "UMask=0077",
        "Restart=on-failure",
    ] {
        assert!(unit.lines().any(|l| l == line), "the unit lacks {line}");
    }
}

/// The words of the unit's ExecStart line.
fn exec_start(unit: &str) -> Vec<String> {
    unit.lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart")
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// The values of every `key=` line of the unit, in order.
fn unit_values(unit: &str, key: &str) -> Vec<String> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(String::from)
        .collect()
}

/// The system calls `SystemCallFilter=` lines allow: the first line's groups and names, minus
/// those of the `~` lines, groups expanded with `systemd-analyze syscall-filter`.
fn allowed_syscalls(filters: &[String]) -> BTreeSet<String> {
    let table = ok(Command::new("systemd-analyze").arg("syscall-filter"));
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = None;
    for line in table.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if !line.starts_with(' ') {
            current = Some(t.to_string());
            groups.insert(t.to_string(), Vec::new());
        } else if let Some(g) = &current {
            groups.get_mut(g).unwrap().push(t.to_string());
        }
    }
    fn expand(name: &str, groups: &BTreeMap<String, Vec<String>>, out: &mut BTreeSet<String>) {
        match groups.get(name) {
            Some(members) => members.iter().for_each(|m| expand(m, groups, out)),
            None => {
                assert!(!name.starts_with('@'), "unknown group {name}");
                out.insert(name.to_string());
            }
        }
    }
    let mut allowed = BTreeSet::new();
    let mut denied = BTreeSet::new();
    for f in filters {
        match f.strip_prefix('~') {
            Some(deny) => deny
                .split_whitespace()
                .for_each(|n| expand(n, &groups, &mut denied)),
            None => f
                .split_whitespace()
                .for_each(|n| expand(n, &groups, &mut allowed)),
        }
    }
    &allowed - &denied
}

/// A scratch root dpkg installs into: its database, and the account files of any system.
fn scratch_root(dir: &Path) -> PathBuf {
    let root = dir.join("root");
    for d in ["var/lib/dpkg/updates", "var/lib/dpkg/info", "etc"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    for (f, body) in [
        ("var/lib/dpkg/status", ""),
        ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
        ("etc/group", "root:x:0:\n"),
        ("etc/shadow", "root:*:19000:0:99999:7:::\n"),
        ("etc/gshadow", "root:*::\n"),
    ] {
        std::fs::write(root.join(f), body).unwrap();
    }
    root
}

/// dpkg on the scratch root, unprivileged-capable: maintainer scripts run outside a chroot with
/// DPKG_ROOT set; the root has no other package, so dependencies are not checked.
fn dpkg(root: &Path, args: &[&str], extra: Option<&Path>) -> String {
    let mut cmd = Command::new("dpkg");
    cmd.arg(format!("--root={}", root.display()))
        .args([
            "--force-not-root",
            "--force-script-chrootless",
            "--force-depends",
            "--log=/dev/null",
        ])
        .args(args);
    if let Some(p) = extra {
        cmd.arg(p);
    }
    ok(&mut cmd)
}

/// A line of the root's /etc/passwd for `user`.
fn passwd_line(root: &Path, user: &str) -> Option<String> {
    std::fs::read_to_string(root.join("etc/passwd"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with(&format!("{user}:")))
        .map(String::from)
}

/// The installed binary run as the unit runs it (ExecStart's arguments, the binary and data
/// folder inside `root`, the port base moved off the standard ports), under `strace -f`.
struct Traced {
    strace: Child,
    server: u32,
    stdout: std::sync::mpsc::Receiver<String>,
    trace: PathBuf,
    port_base: u16,
}

fn serve_traced(root: &Path, trace: &Path, port_base: u16) -> Result<Traced, String> {
    let mut args = exec_start(&unit_text());
    assert_eq!(args[0], "/usr/bin/mailnook");
    let at = |args: &[String], flag: &str| args.iter().position(|a| a == flag).expect(flag) + 1;
    let (base_at, data_at) = (at(&args, "--port-base"), at(&args, "--data"));
    assert_eq!(args[base_at], "0");
    assert_eq!(args[data_at], "/var/lib/mailnook");
    args[base_at] = port_base.to_string();
    args[data_at] = root.join("var/lib/mailnook").to_str().unwrap().to_string();
    args[0] = root.join("usr/bin/mailnook").to_str().unwrap().to_string();
    let mut strace = Command::new("strace")
        .args(["-f", "-qq", "-o"])
        .arg(trace)
        .arg("--")
        .args(&args)
        .env("MAILNOOK_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn strace");
    let (tx, rx) = std::sync::mpsc::channel();
    let out = strace.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = String::new();
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                let ready = line.contains("control socket");
                seen.push_str(&line);
                seen.push('\n');
                if ready {
                    // strace's only child is the server.
                    let children = std::fs::read_to_string(format!(
                        "/proc/{0}/task/{0}/children",
                        strace.id()
                    ))
                    .unwrap();
                    let server = children.split_whitespace().next().unwrap().parse().unwrap();
                    return Ok(Traced {
                        strace,
                        server,
                        stdout: rx,
                        trace: trace.to_path_buf(),
                        port_base,
                    });
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if strace.try_wait().unwrap().is_some() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let _ = strace.kill();
    let out = strace.wait_with_output().unwrap();
    Err(format!("{seen}{}", text(&out.stderr)))
}

impl Traced {
    /// SIGTERM to the server; its exit status as strace reports it.
    fn stop(mut self) -> (std::process::ExitStatus, String) {
        ok(Command::new("kill").args(["-TERM", &self.server.to_string()]));
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(st) = self.strace.try_wait().unwrap() {
                break st;
            }
            assert!(Instant::now() < deadline, "the server ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        let log: Vec<String> = self.stdout.try_iter().collect();
        (
            status,
            std::fs::read_to_string(&self.trace).unwrap() + &log.join("\n"),
        )
    }
}

/// Every port of every role is free on loopback at `base`.
fn free_base() -> u16 {
    let seed = std::process::id() as u16;
    for i in 0..300u16 {
        let base = 30_000 + (seed.wrapping_add(i * 13) % 300) * 100;
        if [25, 80, 110, 143, 443, 465, 587, 993, 995, 4190]
            .iter()
            .all(|p| std::net::TcpListener::bind(("127.0.0.1", base + p)).is_ok())
        {
            return base;
        }
    }
    panic!("no free port base");
}

#[test]
fn the_package_installs_serves_and_purges_in_a_scratch_root() {
    if !tools_present() || !require_tool("dpkg") || !require_tool("strace") {
        return;
    }
    if !require_tool("curl") || !require_tool("systemd-analyze") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let deb = build_deb(dir.path());
    let root = scratch_root(dir.path());

    // Install: the files, the user (sysusers.d entry or useradd), the unit enabled; nothing
    // started (DPKG_ROOT), and the postinst says where the setup page will be.
    let out = dpkg(&root, &["--install"], Some(&deb));
    assert!(out.contains("Setting up mailnook"), "{out}");
    assert!(
        out.contains("starts at the next boot") && out.contains("setup page at https://"),
        "{out}"
    );
    let status = ok(Command::new("dpkg-query")
        .arg(format!(
            "--admindir={}",
            root.join("var/lib/dpkg").display()
        ))
        .args(["-W", "-f", "${Status} ${Version}", "mailnook"]));
    assert_eq!(status, format!("install ok installed {}", deb_version()));
    let user = passwd_line(&root, "mailnook").expect("no mailnook user in the scratch root");
    let f: Vec<&str> = user.split(':').collect();
    assert_eq!(f[5..], ["/var/lib/mailnook", "/usr/sbin/nologin"], "{user}");
    let uid: u32 = f[2].parse().unwrap();
    assert!(uid > 0 && uid < 1000, "not a system user: {user}");
    assert!(
        std::fs::read_to_string(root.join("etc/group"))
            .unwrap()
            .lines()
            .any(|l| l.starts_with("mailnook:")),
        "no mailnook group"
    );
    let wants = root.join("etc/systemd/system/multi-user.target.wants/mailnook.service");
    assert_eq!(
        std::fs::read_link(&wants).expect("the unit is not enabled"),
        Path::new("/lib/systemd/system/mailnook.service")
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(root.join("usr/bin/mailnook"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o755);
    assert!(!root.join("var/lib/mailnook").exists());

    // The installed binary, run as the unit runs it, on an empty store: it initialises it.
    let trace = dir.path().join("trace");
    let mut attempt = 0;
    let server = loop {
        match serve_traced(&root, &trace, free_base()) {
            Ok(s) => break s,
            Err(e) if e.contains("Address already in use") && attempt < 5 => attempt += 1,
            Err(e) => panic!("the installed server did not start:\n{e}"),
        }
    };
    let data = root.join("var/lib/mailnook");
    let data_mode = std::fs::metadata(&data).unwrap().permissions().mode();
    assert_eq!(data_mode & 0o777, 0o700);
    // The CLI as the README tells operators to run it: MAILNOOK_DATA names the folder, and
    // the command goes through the running server's control socket.
    let cli = |args: &[&str]| {
        ok(Command::new(root.join("usr/bin/mailnook"))
            .args(args)
            .env("MAILNOOK_DATA", &data)
            .env("MAILNOOK_LOG", "warn"))
    };
    let hostname = cli(&["config", "get", "hostname"]).trim().to_string();
    assert!(!hostname.is_empty());
    assert_eq!(
        cli(&["user", "list"]).trim(),
        "",
        "a fresh store has no users"
    );
    // The setup page over HTTPS, its self-signed certificate verified for the host name.
    let https = server.port_base + 443;
    let page = ok(Command::new("curl")
        .args(["-sS", "-L", "--max-time", "30", "--cacert"])
        .arg(data.join("tls/selfsigned-cert.pem"))
        .args(["--resolve", &format!("{hostname}:{https}:127.0.0.1")])
        .arg(format!("https://{hostname}:{https}/")));
    assert!(
        page.contains("Three answers and this box is your mail server") && page.contains("/setup"),
        "not the setup page:\n{page}"
    );
    let smtp = Smtp::connect(std::net::SocketAddr::from((
        [127, 0, 0, 1],
        server.port_base + 25,
    )));
    drop(smtp);
    let (status, trace_text) = server.stop();
    assert!(status.success(), "the server exited with {status}");

    // What the unit would have let it do: only allowed system calls, only Internet and Unix
    // sockets, never a writable and executable mapping.
    let unit = unit_text();
    let allowed = allowed_syscalls(&unit_values(&unit, "SystemCallFilter"));
    let families: BTreeSet<String> = unit_values(&unit, "RestrictAddressFamilies")
        .iter()
        .flat_map(|v| v.split_whitespace().map(String::from).collect::<Vec<_>>())
        .collect();
    assert!(unit.lines().any(|l| l == "MemoryDenyWriteExecute=yes"));
    let mut calls = BTreeSet::new();
    let mut exec_seen = false;
    for line in trace_text.lines() {
        // "PID name(args) = ret", "PID <... name resumed>...", "PID +++ exited +++".
        let Some(rest) = line.split_once(' ').map(|(_, r)| r.trim_start()) else {
            continue;
        };
        if rest.starts_with("<...") || rest.starts_with("+++") || rest.starts_with("---") {
            continue;
        }
        let Some(name) = rest.split('(').next() else {
            continue;
        };
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || name.is_empty() {
            continue;
        }
        // The first execve is strace starting the server: systemd does that part.
        if name == "execve" && !exec_seen {
            exec_seen = true;
            continue;
        }
        calls.insert(name.to_string());
        if name == "socket" || name == "socketpair" {
            let family = rest.split(['(', ',']).nth(1).unwrap().trim().to_string();
            assert!(
                families.contains(&family),
                "socket of family {family}: {line}"
            );
        }
        if (name == "mmap" || name == "mprotect")
            && rest.contains("PROT_WRITE")
            && rest.contains("PROT_EXEC")
        {
            panic!("a writable and executable mapping: {line}");
        }
    }
    assert!(calls.contains("epoll_wait") || calls.contains("epoll_pwait"));
    let refused: Vec<&String> = calls.difference(&allowed).collect();
    assert!(
        refused.is_empty(),
        "system calls outside the unit's SystemCallFilter: {refused:?}"
    );

    // Reinstall (an upgrade's path through the scripts): same user, the store untouched.
    let out = dpkg(&root, &["--install"], Some(&deb));
    assert!(!out.contains("setup page"), "{out}");
    assert_eq!(passwd_line(&root, "mailnook"), Some(user));
    assert!(data.join("mail.redb").is_file());

    // Remove keeps the store (every message); purge deletes it, the user and the enablement.
    dpkg(&root, &["--remove", "mailnook"], None);
    assert!(!root.join("usr/bin/mailnook").exists());
    assert!(!root.join("lib/systemd/system/mailnook.service").exists());
    assert!(data.join("mail.redb").is_file(), "remove deleted the store");
    dpkg(&root, &["--purge", "mailnook"], None);
    assert!(!data.exists(), "purge left the store");
    assert_eq!(passwd_line(&root, "mailnook"), None);
    assert!(
        !std::fs::read_to_string(root.join("etc/group"))
            .unwrap()
            .lines()
            .any(|l| l.starts_with("mailnook:")),
        "purge left the group"
    );
    assert!(!wants.exists() && std::fs::symlink_metadata(&wants).is_err());
    assert!(!root.join("etc/systemd/system/mailnook.service").exists());
    let out = run(Command::new("dpkg-query")
        .arg(format!(
            "--admindir={}",
            root.join("var/lib/dpkg").display()
        ))
        .args(["-W", "mailnook"]));
    assert!(!out.status.success(), "mailnook is still known to dpkg");
    let left: Vec<PathBuf> = walk(&root)
        .into_iter()
        .filter(|p| {
            let rel = p.strip_prefix(&root).unwrap();
            !rel.starts_with("var/lib/dpkg") && !rel.starts_with("etc") && p.is_file()
        })
        .collect();
    assert!(left.is_empty(), "purge left files: {left:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

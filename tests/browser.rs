//! The web page in real headless Chromium (Debian's chromium and chromium-driver, driven by
//! Selenium from Python): the walk in tests/web_clients/browser.py. Screenshots of every page
//! are kept under `target/test-artifacts/browser/` (the CI keeps them as test artefacts).

mod common;
use common::*;
use mailnook::dns::testserver::{TestServer, Zone};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Chromium, its driver and Selenium present; installs Selenium with pip if needed. Missing
/// after that is a failure unless MAILNOOK_ALLOW_SKIP=1 (the suite's rule for client programs).
fn have_browser() -> bool {
    let selenium = || {
        Command::new("python3")
            .args(["-c", "import selenium"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !selenium() {
        let _ = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "selenium"])
            .status();
    }
    let ok = selenium()
        && Path::new("/usr/bin/chromium").exists()
        && Path::new("/usr/bin/chromedriver").exists();
    if !ok && std::env::var("MAILNOOK_ALLOW_SKIP").as_deref() == Ok("1") {
        eprintln!("SKIP: chromium, chromium-driver or Selenium is not available");
        return false;
    }
    assert!(
        ok,
        "chromium, chromium-driver (Debian) and Selenium (pip) are needed; run tests/run or set MAILNOOK_ALLOW_SKIP=1"
    );
    true
}

#[test]
fn wizard_users_profile_logout_and_csrf_in_chromium() {
    if !have_browser() {
        return;
    }
    // The checks page after setup asks DNS and tries port 25: answer both on loopback.
    let dns = TestServer::start(Zone::new()).unwrap();
    let d = DataDir::new(&[]);
    d.cli_ok(&["config", "set", "dns.nameservers", &dns.addr().to_string()]);
    d.cli_ok(&["config", "set", "web.port25_probe", "127.0.0.1:9"]);
    let mut s = Server::serve(d);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let artifacts = root.join("target/test-artifacts/browser");
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();
    let downloads = s.data.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let mut cmd = Command::new("python3");
    cmd.arg(root.join("tests/web_clients/browser.py"))
        .env("WEB_PORT", (s.port_base + 443).to_string())
        .env("HOSTNAME_TLS", HOSTNAME)
        .env("ARTIFACTS", &artifacts)
        .env("DOWNLOADS", &downloads)
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let out = run_bounded(&mut cmd, Duration::from_secs(180));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("browser walk passed"),
        "browser walk failed:\n{stdout}\n{}\n--- server log ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        tail(&s.log(), 40)
    );
    let shots = std::fs::read_dir(&artifacts).unwrap().count();
    assert!(shots >= 8, "{shots} screenshots");
    s.assert_alive();
}

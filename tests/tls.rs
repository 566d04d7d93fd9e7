//! TLS on the MX port: the self-signed certificate from init, and an operator's certificate
//! dropped into DATA/tls/ picked up by the running server without a restart.

mod common;
use common::*;
use std::process::Command;

/// STARTTLS with Python's ssl module verifying against `ca` for `host`; returns whether the
/// handshake and a NOOP succeeded.
fn starttls_verifies(s: &Server, ca: &std::path::Path, host: &str) -> bool {
    let script = r#"
import smtplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
c = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20)
c.ehlo("client.test")
c._host = sys.argv[3]
try:
    c.starttls(context=ctx)
except ssl.SSLCertVerificationError as e:
    print("verify failed:", e)
    sys.exit(3)
c.ehlo("client.test")
assert c.noop()[0] == 250
c.quit()
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(s.mx().port().to_string())
        .arg(ca)
        .arg(host)
        .output()
        .unwrap();
    match out.status.code() {
        Some(0) => true,
        Some(3) => false,
        _ => panic!(
            "client failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

#[test]
fn operator_certificate_replaces_the_self_signed_one_without_restart() {
    let d = DataDir::new(&["alice@example.test"]);
    d.cli_ok(&["config", "set", "tls.reload_check_secs", "1"]);
    let s = Server::serve(d);
    // The self-signed certificate names the host name and verifies against itself.
    assert!(starttls_verifies(&s, &s.cert(), HOSTNAME));

    let other = rcgen::generate_simple_self_signed(vec!["mail.operator.test".to_string()]).unwrap();
    let ca = s.data.path().join("operator-ca.pem");
    std::fs::write(&ca, other.cert.pem()).unwrap();
    assert!(
        !starttls_verifies(&s, &ca, "mail.operator.test"),
        "the operator's certificate is not installed yet"
    );

    let tls = s.data.path().join("tls");
    std::fs::write(tls.join("key.pem"), other.signing_key.serialize_pem()).unwrap();
    std::fs::write(tls.join("cert.pem"), other.cert.pem()).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !starttls_verifies(&s, &ca, "mail.operator.test") {
        assert!(
            std::time::Instant::now() < deadline,
            "new certificate not picked up: {}",
            s.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    assert!(
        s.log().contains("TLS certificate loaded from"),
        "{}",
        s.log()
    );

    // A broken replacement is reported and the working certificate stays in use.
    std::fs::write(tls.join("key.pem"), "not a key").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(
        s.log().matches("TLS certificate not reloaded").count(),
        1,
        "reported once: {}",
        s.log()
    );
    assert!(starttls_verifies(&s, &ca, "mail.operator.test"));
}

//! The web page's onboarding documents and second factor, checked with programs nobody here
//! wrote: Python's `plistlib` reads the Apple profile, Python's `xml.etree.ElementTree` the
//! Thunderbird and Outlook documents, `rsvg-convert` (librsvg) rasterizes the QR code and
//! `zbarimg` (ZBar) decodes it, `oathtool` (OATH Toolkit) computes TOTP codes and Python's
//! `urllib.parse` reads the `otpauth://` URI. A missing program fails the test unless
//! `MAILNOOK_ALLOW_SKIP=1` (tests/common); `tests/run` installs them.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use mailnook::auth::totp;
use mailnook::web::onboarding::{
    AutodiscoverError, AutodiscoverFault, MAX_REQUEST_BYTES, MailSettings, autoconfig,
    autodiscover_error_response, autodiscover_response, mobileconfig, parse_autodiscover_request,
    qr_svg,
};

/// Runs `program args` with `input` on stdin; its stdout, or a panic with its stderr.
fn run(program: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Flattens a property list read by `plistlib` into `path -> type:value` lines.
const PLIST_FLATTEN: &str = r#"
import plistlib, sys
doc = plistlib.loads(sys.stdin.buffer.read())
def walk(path, v):
    if isinstance(v, dict):
        for k in sorted(v):
            walk(path + "." + k if path else k, v[k])
    elif isinstance(v, list):
        for i, x in enumerate(v):
            walk("%s[%d]" % (path, i), x)
    else:
        print("%s\t%s:%s" % (path, type(v).__name__, v))
walk("", doc)
"#;

/// Flattens an XML document read by ElementTree: `path -> text` for each element with text,
/// `path@attr -> value` for attributes and `path# -> namespace` for namespaced elements, where
/// a path is local names with the index among same-named siblings.
const XML_FLATTEN: &str = r#"
import sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
def split(tag):
    return tag[1:].split("}", 1) if tag.startswith("{") else ("", tag)
def walk(path, e):
    ns, _ = split(e.tag)
    if ns:
        print("%s#\t%s" % (path, ns))
    for k, v in sorted(e.attrib.items()):
        print("%s@%s\t%s" % (path, k, v))
    text = (e.text or "").strip()
    if text:
        print("%s\t%s" % (path, text))
    seen = {}
    for c in e:
        _, name = split(c.tag)
        i = seen.get(name, 0)
        seen[name] = i + 1
        walk("%s/%s[%d]" % (path, name, i), c)
walk(split(root.tag)[1], root)
"#;

fn flattened(script: &str, document: &str) -> BTreeMap<String, String> {
    let out = run("python3", &["-c", script], document.as_bytes());
    let text = String::from_utf8(out).expect("UTF-8 from python");
    let mut map = BTreeMap::new();
    for line in text.lines() {
        let (k, v) = line.split_once('\t').expect("path<TAB>value");
        assert!(
            map.insert(k.to_string(), v.to_string()).is_none(),
            "duplicate {k}"
        );
    }
    map
}

fn alice() -> MailSettings {
    MailSettings::with_standard_ports(
        "alice@example.test",
        "Alice Ex & <Ample>",
        "example.test",
        "mail.example.test",
    )
}

#[test]
fn mobileconfig_reads_with_plistlib() {
    if !common::require_tool("python3") {
        return;
    }
    let s = alice();
    let doc = mobileconfig(&s);
    let p = flattened(PLIST_FLATTEN, &doc);
    let get = |k: &str| {
        p.get(k)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no {k} in {p:#?}"))
    };
    assert_eq!(get("PayloadType"), "str:Configuration");
    assert_eq!(get("PayloadVersion"), "int:1");
    assert_eq!(get("PayloadRemovalDisallowed"), "bool:False");
    let m = "PayloadContent[0].";
    assert!(
        !p.contains_key("PayloadContent[1].PayloadType"),
        "one payload"
    );
    assert_eq!(
        get(&format!("{m}PayloadType")),
        "str:com.apple.mail.managed"
    );
    assert_eq!(get(&format!("{m}PayloadVersion")), "int:1");
    assert_eq!(get(&format!("{m}EmailAccountType")), "str:EmailTypeIMAP");
    assert_eq!(get(&format!("{m}EmailAddress")), "str:alice@example.test");
    assert_eq!(
        get(&format!("{m}EmailAccountName")),
        "str:Alice Ex & <Ample>"
    );
    assert_eq!(
        get(&format!("{m}IncomingMailServerHostName")),
        "str:mail.example.test"
    );
    assert_eq!(get(&format!("{m}IncomingMailServerPortNumber")), "int:993");
    assert_eq!(get(&format!("{m}IncomingMailServerUseSSL")), "bool:True");
    assert_eq!(
        get(&format!("{m}IncomingMailServerUsername")),
        "str:alice@example.test"
    );
    assert_eq!(
        get(&format!("{m}IncomingMailServerAuthentication")),
        "str:EmailAuthPassword"
    );
    assert_eq!(
        get(&format!("{m}OutgoingMailServerHostName")),
        "str:mail.example.test"
    );
    assert_eq!(get(&format!("{m}OutgoingMailServerPortNumber")), "int:465");
    assert_eq!(get(&format!("{m}OutgoingMailServerUseSSL")), "bool:True");
    assert_eq!(
        get(&format!("{m}OutgoingMailServerUsername")),
        "str:alice@example.test"
    );
    assert_eq!(
        get(&format!("{m}OutgoingMailServerAuthentication")),
        "str:EmailAuthPassword"
    );
    assert_eq!(
        get(&format!("{m}OutgoingPasswordSameAsIncomingPassword")),
        "bool:True"
    );
    assert!(
        p.keys()
            .all(|k| !k.ends_with(".IncomingPassword") && !k.ends_with(".OutgoingPassword")),
        "no password in the profile"
    );
    // Identifiers: reverse-DNS, the payload's under the profile's; UUIDs distinct and stable.
    let id = get("PayloadIdentifier").strip_prefix("str:").unwrap();
    assert!(id.starts_with("test.example.mail.mailnook."), "{id}");
    assert_eq!(
        get(&format!("{m}PayloadIdentifier")),
        format!("str:{id}.mail")
    );
    assert_ne!(get("PayloadUUID"), get(&format!("{m}PayloadUUID")));
    let again = flattened(PLIST_FLATTEN, &mobileconfig(&s));
    assert_eq!(again, p);
    let mut bob = s.clone();
    bob.email = "bob@example.test".into();
    let b = flattened(PLIST_FLATTEN, &mobileconfig(&bob));
    assert_ne!(b["PayloadUUID"], p["PayloadUUID"]);
    assert_ne!(b["PayloadIdentifier"], p["PayloadIdentifier"]);
}

#[test]
fn autoconfig_reads_with_elementtree_as_thunderbird_expects() {
    if !common::require_tool("python3") {
        return;
    }
    let mut s = alice();
    s.email.clear();
    let x = flattened(XML_FLATTEN, &autoconfig(&s));
    let p = "clientConfig/emailProvider[0]";
    let mut expected: BTreeMap<String, String> = [
        ("clientConfig@version".to_string(), "1.1".to_string()),
        (format!("{p}@id"), "example.test".into()),
        (format!("{p}/domain[0]"), "example.test".into()),
        (format!("{p}/displayName[0]"), "example.test mail".into()),
        (format!("{p}/displayShortName[0]"), "example.test".into()),
    ]
    .into_iter()
    .collect();
    let servers = [
        ("incomingServer[0]", "imap", "993", "SSL"),
        ("incomingServer[1]", "imap", "143", "STARTTLS"),
        ("incomingServer[2]", "pop3", "995", "SSL"),
        ("incomingServer[3]", "pop3", "110", "STARTTLS"),
        ("outgoingServer[0]", "smtp", "465", "SSL"),
        ("outgoingServer[1]", "smtp", "587", "STARTTLS"),
    ];
    for (element, kind, port, socket) in servers {
        let e = format!("{p}/{element}");
        expected.insert(format!("{e}@type"), kind.into());
        expected.insert(format!("{e}/hostname[0]"), "mail.example.test".into());
        expected.insert(format!("{e}/port[0]"), port.into());
        expected.insert(format!("{e}/socketType[0]"), socket.into());
        expected.insert(format!("{e}/username[0]"), "%EMAILADDRESS%".into());
        expected.insert(
            format!("{e}/authentication[0]"),
            "password-cleartext".into(),
        );
    }
    assert_eq!(x, expected);
}

#[test]
fn autodiscover_response_reads_with_elementtree() {
    if !common::require_tool("python3") {
        return;
    }
    let x = flattened(XML_FLATTEN, &autodiscover_response(&alice()));
    assert_eq!(
        x["Autodiscover#"],
        "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
    );
    let r = "Autodiscover/Response[0]";
    assert_eq!(
        x[&format!("{r}#")],
        "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
    );
    assert_eq!(
        x[&format!("{r}/User[0]/DisplayName[0]")],
        "Alice Ex & <Ample>"
    );
    let a = format!("{r}/Account[0]");
    assert_eq!(x[&format!("{a}/AccountType[0]")], "email");
    assert_eq!(x[&format!("{a}/Action[0]")], "settings");
    for (i, (kind, port)) in [("IMAP", "993"), ("SMTP", "465"), ("POP3", "995")]
        .into_iter()
        .enumerate()
    {
        let pr = format!("{a}/Protocol[{i}]");
        assert_eq!(x[&format!("{pr}/Type[0]")], kind);
        assert_eq!(x[&format!("{pr}/Server[0]")], "mail.example.test");
        assert_eq!(x[&format!("{pr}/Port[0]")], port);
        assert_eq!(x[&format!("{pr}/SSL[0]")], "on");
        assert_eq!(x[&format!("{pr}/SPA[0]")], "off");
        assert_eq!(x[&format!("{pr}/AuthRequired[0]")], "on");
        assert_eq!(x[&format!("{pr}/LoginName[0]")], "alice@example.test");
        assert_eq!(x[&format!("{pr}/DomainRequired[0]")], "off");
    }
    assert!(!x.contains_key(&format!("{a}/Protocol[3]/Type[0]")));

    let e = flattened(
        XML_FLATTEN,
        &autodiscover_error_response(AutodiscoverFault::InvalidRequest),
    );
    assert_eq!(e["Autodiscover/Response[0]/Error[0]/ErrorCode[0]"], "600");
    assert_eq!(
        e["Autodiscover/Response[0]/Error[0]/Message[0]"],
        "Invalid Request"
    );
    let e = flattened(
        XML_FLATTEN,
        &autodiscover_error_response(AutodiscoverFault::UnknownAddress),
    );
    assert_eq!(e["Autodiscover/Response[0]/Error[0]/ErrorCode[0]"], "500");
}

const OUTLOOK_REQUEST: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n\
<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\">\r\n\
  <Request>\r\n\
    <EMailAddress>Alice@Example.test</EMailAddress>\r\n\
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>\r\n\
  </Request>\r\n\
</Autodiscover>\r\n";

#[test]
fn autodiscover_requests_are_read_or_refused() {
    assert_eq!(
        parse_autodiscover_request(OUTLOOK_REQUEST.as_bytes()),
        Ok("alice@example.test".to_string())
    );
    // Entity tricks: an internal entity standing for the address, a billion-laughs chain, an
    // external entity. Python's own parser would expand the first (the reason to refuse).
    let internal = OUTLOOK_REQUEST.replacen(
        "?>",
        "?><!DOCTYPE Autodiscover [<!ENTITY a \"bob@example.test\">]>",
        1,
    );
    let internal = internal.replace("Alice@Example.test", "&a;");
    let laughs = OUTLOOK_REQUEST.replacen(
        "?>",
        "?><!DOCTYPE Autodiscover [<!ENTITY l \"lol\"><!ENTITY l1 \"&l;&l;&l;&l;&l;&l;&l;&l;&l;&l;\"><!ENTITY l2 \"&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;\">]>",
        1,
    )
    .replace("Alice@Example.test", "&l2;@example.test");
    let external = OUTLOOK_REQUEST
        .replacen(
            "?>",
            "?><!DOCTYPE Autodiscover [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>",
            1,
        )
        .replace("Alice@Example.test", "&x;");
    for body in [&internal, &laughs, &external] {
        assert_eq!(
            parse_autodiscover_request(body.as_bytes()),
            Err(AutodiscoverError::Doctype),
            "{body}"
        );
    }
    let mut big = OUTLOOK_REQUEST.as_bytes().to_vec();
    big.resize(MAX_REQUEST_BYTES + 1, b' ');
    assert_eq!(
        parse_autodiscover_request(&big),
        Err(AutodiscoverError::TooLarge)
    );
    big.truncate(MAX_REQUEST_BYTES);
    assert_eq!(
        parse_autodiscover_request(&big),
        Ok("alice@example.test".to_string()),
        "a body of exactly the limit is read"
    );
    let missing = OUTLOOK_REQUEST.replace("<EMailAddress>Alice@Example.test</EMailAddress>", "");
    assert_eq!(
        parse_autodiscover_request(missing.as_bytes()),
        Err(AutodiscoverError::NoAddress)
    );
    assert_eq!(
        parse_autodiscover_request(b"GET / HTTP/1.1\r\n\r\n"),
        Err(AutodiscoverError::Malformed)
    );
    assert_eq!(
        AutodiscoverError::NoAddress.fault(),
        AutodiscoverFault::InvalidRequest
    );
}

/// Renders `svg` to PNG with rsvg-convert at 8 pixels a module and decodes it with zbarimg.
fn scan(svg: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    let svg_path = dir.path().join("code.svg");
    let png_path = dir.path().join("code.png");
    std::fs::write(&svg_path, svg).expect("write svg");
    let modules: u32 = svg
        .split("viewBox=\"0 0 ")
        .nth(1)
        .and_then(|v| v.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("viewBox in modules");
    let width = (modules * 8).to_string();
    run(
        "rsvg-convert",
        &[
            "-w",
            &width,
            "-h",
            &width,
            "-f",
            "png",
            "-o",
            png_path.to_str().unwrap(),
            svg_path.to_str().unwrap(),
        ],
        b"",
    );
    let mut out = run(
        "zbarimg",
        &[
            "--quiet",
            "--raw",
            "-Sdisable",
            "-Sqrcode.enable",
            png_path.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(
        out.pop(),
        Some(b'\n'),
        "zbarimg ends its output with a newline"
    );
    out
}

#[test]
fn qr_codes_scan_back_to_their_text() {
    if !common::require_tool("rsvg-convert") || !common::require_tool("zbarimg") {
        return;
    }
    let secret = b"12345678901234567890";
    let texts = [
        "https://mail.example.test/setup?u=alice%40example.test".to_string(),
        "Grüße aus Köln – 東京の友だち 😀".to_string(),
        totp::otpauth_uri("mailnook example.test", "alice@example.test", secret),
        "0123456789".to_string(),
        "HTTPS://MAIL.EXAMPLE.TEST/SETUP".to_string(),
        format!("https://mail.example.test/{}", "x".repeat(600)),
    ];
    for text in &texts {
        let svg = qr_svg(text).expect("encodes");
        let got = scan(&svg);
        assert_eq!(
            String::from_utf8_lossy(&got),
            text.as_str(),
            "scanned text differs"
        );
        assert_eq!(got, text.as_bytes());
    }
}

#[test]
fn totp_codes_match_oathtool() {
    if !common::require_tool("oathtool") {
        return;
    }
    let times = [
        0u64,
        59,
        1_111_111_109,
        1_234_567_890,
        1_700_000_015,
        2_000_000_000,
        20_000_000_000,
    ];
    for _ in 0..3 {
        let secret = totp::new_secret().expect("OS randomness");
        let b32 = totp::base32(&secret);
        for &t in &times {
            let out = run(
                "oathtool",
                &[
                    "--totp=sha1",
                    "-d",
                    "6",
                    "-s",
                    "30",
                    "-b",
                    &b32,
                    &format!("--now=@{t}"),
                ],
                b"",
            );
            let theirs = String::from_utf8(out).unwrap().trim().to_string();
            assert_eq!(theirs.len(), 6, "{theirs:?}");
            assert_eq!(
                format!("{:06}", totp::code_at(&secret, t)),
                theirs,
                "t={t} secret={b32}"
            );
            let step = t / 30;
            assert_eq!(totp::verify(&secret, &theirs, t, None), Some(step));
            // The code oathtool gives for 30 s later is accepted now (one step ahead) unless
            // that step was used already.
            let next = run(
                "oathtool",
                &["--totp", "-b", &b32, &format!("--now=@{}", t + 30)],
                b"",
            );
            let next = String::from_utf8(next).unwrap().trim().to_string();
            assert_eq!(totp::verify(&secret, &next, t, Some(step)), Some(step + 1));
            assert_eq!(totp::verify(&secret, &next, t, Some(step + 1)), None);
        }
    }
}

/// Python's `urllib.parse` and `base64` read the URI back: scheme, type, label, secret and
/// parameters.
#[test]
fn otpauth_uri_reads_with_urllib() {
    if !common::require_tool("python3") {
        return;
    }
    let secret = totp::new_secret().expect("OS randomness");
    let issuer = "Mail & Co: Zoë";
    let account = "alice+tag@example.test";
    let uri = totp::otpauth_uri(issuer, account, &secret);
    let script = r#"
import sys, base64, urllib.parse as u
p = u.urlsplit(sys.argv[1])
q = u.parse_qs(p.query, strict_parsing=True)
label = u.unquote(p.path[1:])
issuer, account = p.path[1:].split(":")
sec = q["secret"][0]
print(p.scheme, p.netloc, sep="\n")
print(u.unquote(issuer), u.unquote(account), sep="\n")
print(base64.b32decode(sec + "=" * (-len(sec) % 8)).hex())
print(q["issuer"][0], q["algorithm"][0], q["digits"][0], q["period"][0], len(q), sep="\n")
"#;
    let out = Command::new("python3")
        .args(["-c", script, &uri])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        lines,
        [
            "otpauth", "totp", issuer, account, &hex, issuer, "SHA1", "6", "30", "5"
        ]
    );
}

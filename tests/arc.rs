//! ARC chain validation (`mailnook::dkim::arc`, RFC 8617) against chains sealed by an independent
//! implementation (Python's dkimpy `arc_sign`): one hop, two hops with the body changed between
//! them (a mailing-list footer: the first AMS breaks, the chain still passes), and every way of
//! breaking a chain, each result compared with dkimpy's own `arc_verify`. End to end, the MX
//! records the chain's status in its Authentication-Results field.

mod common;

use common::*;
use futures_lite::future::block_on;
use mailnook::dkim::arc::{self, ArcOutcome, ArcResult};
use mailnook::dkim::keys;
use mailnook::dkim::verify::DkimVerifier;
use mailnook::dns::mock::MockResolver;
use mailnook::dns::testserver::{TestRecord, TestServer, Zone};
use mailnook::dns::{Error, RecordType, Records};
use std::fs;
use std::path::Path;
use std::process::Command;

const SELECTOR: &str = "mn2026";

/// Seals `in.eml` twice: by list.test (the first hop, which saw SPF pass), then, after adding a
/// footer to the body as a mailing list would, by fwd.test. Both use the RSA key in `keydir`.
const DKIMPY_SEAL: &str = r#"
import sys, dkim
keydir, dir = sys.argv[1], sys.argv[2]
key = open(keydir + "/mn2026.rsa.pem", "rb").read()
msg = open(dir + "/in.eml", "rb").read()
msg = b"Authentication-Results: list.test; arc=none; spf=pass smtp.mailfrom=example.org\r\n" + msg
one = b"".join(dkim.arc_sign(msg, b"mn2026-rsa", b"list.test", key, b"list.test")) + msg
open(dir + "/one.eml", "wb").write(one)
hop = b"Authentication-Results: fwd.test; arc=pass\r\n" + one + b"-- \r\nThe list footer\r\n"
two = b"".join(dkim.arc_sign(hop, b"mn2026-rsa", b"fwd.test", key, b"fwd.test")) + hop
open(dir + "/two.eml", "wb").write(two)
"#;

const MESSAGE: &str = "From: Alice <alice@example.org>\r\nTo: list@list.test\r\nSubject: Garden party\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: <arc.1@example.org>\r\n\r\nSee you on Saturday.\r\n";

/// The public key record of the RSA key, at `<selector>-rsa._domainkey.<domain>` for both
/// sealers; returns (name, value) pairs.
fn records(keys: &keys::SelectorKeys) -> Vec<(String, String)> {
    let (_, value) = keys
        .dns_records(SELECTOR, "list.test")
        .into_iter()
        .find(|(n, _)| n.contains("-rsa."))
        .expect("an RSA record");
    ["list.test", "fwd.test"]
        .iter()
        .map(|d| (format!("{SELECTOR}-rsa._domainkey.{d}"), value.clone()))
        .collect()
}

fn ours(msg: &[u8], r: &MockResolver) -> ArcOutcome {
    let i = msg
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header/body separator");
    let mut v = DkimVerifier::new(&msg[..i + 2]);
    for piece in msg[i + 4..].chunks(7) {
        v.update(piece);
    }
    block_on(arc::verify(v.finish().arc, r))
}

fn python(script: &str, args: &[&Path]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "dkimpy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Replaces the first `from` in `msg` with `to`.
fn edit(msg: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(msg.to_vec()).unwrap();
    assert!(text.contains(from), "{from:?} not in the message:\n{text}");
    text.replacen(from, to, 1).into_bytes()
}

/// Removes the field starting with `prefix` (with its folded lines).
fn remove_field(msg: &[u8], prefix: &str) -> Vec<u8> {
    let text = String::from_utf8(msg.to_vec()).unwrap();
    let start = text.find(prefix).expect("field present");
    let mut end = start + text[start..].find("\r\n").unwrap() + 2;
    while text[end..].starts_with([' ', '\t']) {
        end += text[end..].find("\r\n").unwrap() + 2;
    }
    format!("{}{}", &text[..start], &text[end..]).into_bytes()
}

/// A temporary folder with a fresh key, and [`MESSAGE`] sealed once and twice by dkimpy.
struct Sealed {
    dir: tempfile::TempDir,
    keys: keys::SelectorKeys,
    one: Vec<u8>,
    two: Vec<u8>,
}

fn sealed() -> Sealed {
    let dir = tempfile::tempdir().unwrap();
    let keydir = dir.path().join("dkim");
    let keys = keys::ensure(&keydir, SELECTOR).unwrap();
    fs::write(dir.path().join("in.eml"), MESSAGE).unwrap();
    python(DKIMPY_SEAL, &[keydir.as_path(), dir.path()]);
    let one = fs::read(dir.path().join("one.eml")).unwrap();
    let two = fs::read(dir.path().join("two.eml")).unwrap();
    Sealed {
        dir,
        keys,
        one,
        two,
    }
}

#[test]
fn chains_sealed_by_dkimpy_validate_and_every_break_is_found() {
    if !have_dkimpy() {
        return;
    }
    let Sealed {
        dir,
        keys,
        one,
        two,
    } = sealed();
    let records = records(&keys);
    let mut resolver = MockResolver::new();
    for (name, value) in &records {
        resolver = resolver.with(name, Records::Txt(vec![value.clone()]));
    }

    // Intact chains: one hop, then two hops with the body changed in between.
    let o = ours(&one, &resolver);
    assert_eq!(o.result, ArcResult::Pass, "{o:?}");
    assert_eq!((o.instance, o.sealer.as_str()), (1, "list.test"));
    let o = ours(&two, &resolver);
    assert_eq!(o.result, ArcResult::Pass, "{o:?}");
    assert_eq!((o.instance, o.sealer.as_str()), (2, "fwd.test"));
    assert_eq!(ours(MESSAGE.as_bytes(), &resolver).result, ArcResult::None);

    // Broken chains, each with the part of the reason that says where.
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("intact-one", one.clone(), ""),
        ("intact-two", two.clone(), ""),
        ("none", MESSAGE.as_bytes().to_vec(), ""),
        (
            "body-appended",
            [&two[..], b"appended\r\n"].concat(),
            "ARC-Message-Signature i=2",
        ),
        (
            "subject-changed",
            edit(&two, "Subject: Garden party", "Subject: Garden partY"),
            "ARC-Message-Signature i=2",
        ),
        (
            "first-results-changed",
            // The first occurrence is in ARC-Authentication-Results i=1.
            edit(
                &two,
                "smtp.mailfrom=example.org",
                "smtp.mailfrom=example.net",
            ),
            "ARC-Seal i=2 did not verify",
        ),
        (
            "first-seal-removed",
            remove_field(&two, "ARC-Seal: i=1;"),
            "ARC set i=1 is incomplete",
        ),
        (
            "newest-says-fail",
            edit(&two, "cv=pass", "cv=fail"),
            "cv=fail",
        ),
    ];
    let mut files = Vec::new();
    let mut failures = Vec::new();
    for (name, msg, reason) in &cases {
        let path = dir.path().join(format!("{name}.eml"));
        fs::write(&path, msg).unwrap();
        files.push(path);
        let o = ours(msg, &resolver);
        let expected = match *name {
            "none" => "none",
            n if n.starts_with("intact") => "pass",
            _ => "fail",
        };
        if o.result.as_str() != expected {
            failures.push(format!("{name}: expected {expected}, got {o:?}"));
        }
        if let ArcResult::Fail(why) = &o.result
            && !why.contains(reason)
        {
            failures.push(format!("{name}: reason {why:?} lacks {reason:?}"));
        }
    }
    // A sealer's key that is gone, or cannot be fetched now.
    let gone = MockResolver::new().with(&records[1].0, Records::Txt(vec![records[1].1.clone()]));
    match ours(&two, &gone).result {
        ArcResult::Fail(why) => assert!(why.contains("ARC-Seal i=1: permerror"), "{why}"),
        other => panic!("{other:?}"),
    }
    let slow = MockResolver::new()
        .with(&records[1].0, Records::Txt(vec![records[1].1.clone()]))
        .with_error(&records[0].0, RecordType::Txt, Error::Timeout);
    match ours(&two, &slow).result {
        ArcResult::Fail(why) => assert!(why.contains("ARC-Seal i=1: temperror"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // dkimpy agrees on every case.
    let table = dir.path().join("records.tsv");
    let lines: String = records.iter().map(|(n, v)| format!("{n}\t{v}\n")).collect();
    fs::write(&table, lines).unwrap();
    let mut args: Vec<&Path> = vec![Path::new("--arc"), &table];
    args.extend(files.iter().map(|p| p.as_path()));
    let theirs = python(DKIM_VERIFY_PY, &args);
    for line in theirs.lines() {
        let mut cols = line.split('\t');
        let (file, cv) = (cols.next().unwrap(), cols.next().unwrap());
        let name = file.rsplit('/').next().unwrap().trim_end_matches(".eml");
        let (_, msg, _) = cases.iter().find(|(n, _, _)| *n == name).unwrap();
        let o = ours(msg, &resolver);
        assert_eq!(
            o.result.as_str(),
            cv,
            "{name}: dkimpy says {line}, we say {o:?}"
        );
    }
    assert_eq!(theirs.lines().count(), cases.len());
}

#[test]
fn the_mx_records_the_chain_status() {
    if !have_dkimpy() {
        return;
    }
    let Sealed { keys, two, .. } = sealed();
    let two = String::from_utf8(two).unwrap();
    let mut zone = Zone::new();
    for (name, value) in records(&keys) {
        // A TXT record's strings hold at most 255 octets each (RFC 1035 §3.3.14).
        let strings = value
            .as_bytes()
            .chunks(255)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect();
        zone = zone.add(&name, TestRecord::Txt(strings));
    }
    let dns = TestServer::start(zone).unwrap();
    let d = DataDir::new(&["alice@example.test"]);
    d.cli_ok(&["config", "set", "dns.nameservers", &dns.addr().to_string()]);
    d.cli_ok(&["config", "set", "smtp.check_loopback", "1"]);
    let s = Server::serve(d);
    let sent = |msg: &str| {
        let reply = s.deliver_to_alice("list@fwd.test", msg.trim_end_matches("\r\n"));
        assert!(reply.starts_with("250"), "{reply}");
        let inbox = s.alices("INBOX");
        inbox
            .last()
            .unwrap()
            .replace("\r\n\t", " ")
            .replace("\r\n ", " ")
    };
    let ar = |m: &str| {
        m.lines()
            .find(|l| l.starts_with("Authentication-Results: mx.example.test;"))
            .unwrap_or_else(|| panic!("no field of ours: {m}"))
            .to_string()
    };
    let m = sent(&two);
    assert!(ar(&m).contains(" arc=pass"), "{}", ar(&m));
    let broken = two.replacen("Subject: Garden party", "Subject: Garden partY", 1);
    let m = sent(&broken);
    assert!(ar(&m).contains(" arc=fail reason="), "{}", ar(&m));
    let m = sent(MESSAGE);
    assert!(ar(&m).contains(" arc=none"), "{}", ar(&m));
}

//! DKIM signing checked by an independent verifier: Python's dkimpy (with PyNaCl for
//! ed25519-sha256), fed our DNS TXT records through its `dnsfunc` hook, so no DNS is used.
//!
//! Keys are generated into a temporary `dkim/` folder exactly as `init` would, every message is
//! signed with both keys (RSA topmost, then Ed25519), and dkimpy must accept each signature.
//! Tampered copies (body, Subject, an added second From) must fail; changes that relaxed
//! canonicalization forgives (refolding, whitespace runs, trailing blank lines) must still pass.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use mailnook::dkim::{Signer, keys, sign_message};

mod common;
use common::{DKIM_VERIFY_PY as VERIFY_PY, have_dkimpy};

const DOMAIN: &str = "example.org";
const SELECTOR: &str = "mn2026";

struct Setup {
    dir: tempfile::TempDir,
    signers: [Signer; 2],
    records: PathBuf,
    now: u64,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let keydir = dir.path().join("dkim");
    let first = keys::ensure(&keydir, SELECTOR).expect("generate keys");
    let txt_ed = first.ed25519.dns_txt();
    let txt_rsa = first.rsa.dns_txt();
    assert!(txt_ed.starts_with("v=DKIM1; k=ed25519; p="), "{txt_ed}");
    assert!(
        txt_rsa.starts_with("v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"),
        "{txt_rsa}"
    );
    // A second init loads the same keys instead of generating new ones.
    let again = keys::ensure(&keydir, SELECTOR).expect("load keys");
    assert_eq!(again.ed25519.dns_txt(), txt_ed);
    assert_eq!(again.rsa.dns_txt(), txt_rsa);
    for alg in ["ed25519", "rsa"] {
        let p = keydir.join(format!("{SELECTOR}.{alg}.pem"));
        let text = fs::read_to_string(&p).expect("key file");
        assert!(text.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{p:?}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // One TXT record per DNS name: the two keys are published as "<sel>-rsa" and "<sel>-ed25519".
    let recs = again.dns_records(SELECTOR, DOMAIN);
    assert_eq!(
        recs[0],
        (format!("{SELECTOR}-rsa._domainkey.{DOMAIN}"), txt_rsa)
    );
    assert_eq!(
        recs[1],
        (format!("{SELECTOR}-ed25519._domainkey.{DOMAIN}"), txt_ed)
    );
    let records = dir.path().join("records.txt");
    let lines: String = recs.iter().map(|(n, v)| format!("{n}\t{v}\n")).collect();
    fs::write(&records, lines).unwrap();
    let signers = Signer::pair(DOMAIN, SELECTOR, &again).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    Setup {
        dir,
        signers,
        records,
        now,
    }
}

/// Splits a message at its first empty line: (header section incl. its last CRLF, body).
fn split(msg: &[u8]) -> (&[u8], &[u8]) {
    let i = msg
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("message has a header/body separator");
    (&msg[..i + 2], &msg[i + 4..])
}

/// Signs `msg` (CRLF line endings) with both signers; returns the signed message.
fn sign(s: &Setup, msg: &[u8]) -> Vec<u8> {
    let (header, body) = split(msg);
    // Feed the body through a reader that returns small, uneven pieces.
    struct Trickle<'a>(&'a [u8], usize);
    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.1 = self.1 % 7 + 1;
            let n = self.1.min(self.0.len()).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let fields = sign_message(&s.signers, header, Trickle(body, 0), s.now).expect("sign");
    for line in fields.split("\r\n") {
        assert!(line.len() <= 78, "over 78 columns: {line:?}");
    }
    let mut out = fields.into_bytes();
    out.extend_from_slice(msg);
    out
}

/// Runs dkimpy over the messages; returns per message the PASS/FAIL of each signature, in
/// header order, with dkimpy's reason for a failure.
fn verify(s: &Setup, msgs: &[(&str, Vec<u8>)]) -> Vec<(String, Vec<(bool, String)>)> {
    let mut paths = Vec::new();
    for (name, bytes) in msgs {
        let p = s.dir.path().join(format!("{name}.eml"));
        fs::write(&p, bytes).unwrap();
        paths.push(p);
    }
    let out = Command::new("python3")
        .arg("-c")
        .arg(VERIFY_PY)
        .arg(&s.records)
        .args(&paths)
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "verifier failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("dkimpy:\n{stdout}");
    msgs.iter()
        .zip(&paths)
        .map(|((name, _), p)| {
            let p = p.to_string_lossy();
            let results = stdout
                .lines()
                .filter_map(|l| {
                    let mut it = l.splitn(4, '\t');
                    (it.next()? == p).then_some(())?;
                    let _idx = it.next()?;
                    let verdict = it.next()? == "PASS";
                    Some((verdict, it.next().unwrap_or("").to_owned()))
                })
                .collect();
            (name.to_string(), results)
        })
        .collect()
}

fn crlf(s: &str) -> Vec<u8> {
    s.replace("\r\n", "\n").replace('\n', "\r\n").into_bytes()
}

fn messages() -> Vec<(&'static str, Vec<u8>)> {
    let long_to: Vec<String> = (0..12)
        .map(|i| format!("Recipient Number {i} <rcpt{i}@x.test>"))
        .collect();
    let refs: Vec<String> = (0..9)
        .map(|i| format!("<ref{i}.1700000000@example.org>"))
        .collect();
    let b64 =
        "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\nNTY3ODk=\n";
    vec![
        (
            "plain",
            crlf(
                "From: Alice <alice@example.org>\nTo: bob@x.test\nSubject: Hello\nDate: Thu, 26 Nov 2026 10:00:00 +0000\nMessage-ID: <plain.1@example.org>\n\nHi Bob,\n\nsee you.\n-- \nAlice\n",
            ),
        ),
        (
            "multipart",
            crlf(&format!(
                "From: alice@example.org\nTo: bob@x.test\nCc: carol@x.test\nSubject: Report\nDate: Thu, 26 Nov 2026 10:00:00 +0000\nMessage-ID: <mp.1@example.org>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\nThis is a multi-part message.\n\n--b1\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nThe report is attached.\n\n--b1\nContent-Type: application/octet-stream; name=\"r.bin\"\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"r.bin\"\n\n{b64}--b1--\n"
            )),
        ),
        (
            "trailing-blank-lines",
            crlf(
                "From: alice@example.org\nTo: bob@x.test\nSubject: blanks\n\nline with trailing spaces   \n\tindented\tline \t \nlast\n\n\n   \n\n",
            ),
        ),
        (
            "long-headers",
            crlf(&format!(
                "From: \"A very long display name, with a comma\" <alice@example.org>\nTo: {}\nSubject: This subject is rather long so that it has to be folded across\n several lines\tby the user agent, which is allowed by RFC 5322\nReferences: {}\nIn-Reply-To: <ref8.1700000000@example.org>\nReply-To: alice+replies@example.org\nList-Id: Example list <list.example.org>\nList-Unsubscribe: <mailto:unsub@example.org>\nX-Unsigned:    kept   but not signed\nDate: Thu, 26 Nov 2026 10:00:00 +0000\n\nbody\n",
                long_to.join(",\n "),
                refs.join("\n ")
            )),
        ),
        (
            "non-ascii",
            crlf(
                "From: J\u{fc}rgen <j\u{fc}rgen@example.org>\nTo: =?utf-8?q?Bj=C3=B6rk?= <bjork@x.test>\nSubject: Gr\u{fc}\u{df}e aus K\u{f6}ln \u{2013} \u{65e5}\u{672c}\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nSch\u{f6}ne Gr\u{fc}\u{df}e \u{2603}  und   \u{1f600}\n",
            ),
        ),
        (
            "empty-body",
            crlf("From: alice@example.org\nTo: bob@x.test\nSubject: empty\n\n"),
        ),
    ]
}

#[test]
fn dkimpy_verifies_both_signatures_and_rejects_tampering() {
    if !have_dkimpy() {
        return;
    }
    let s = setup();
    let originals = messages();
    let mut batch: Vec<(String, Vec<u8>, bool)> = Vec::new(); // (name, bytes, should pass)
    for (name, msg) in &originals {
        let signed = sign(&s, msg);
        let text = String::from_utf8_lossy(&signed).into_owned();
        let sep = text.find("\r\n\r\n").unwrap();
        let (head, body) = (&text[..sep + 2], &text[sep + 4..]);
        batch.push((name.to_string(), signed.clone(), true));

        // Forgiven by relaxed canonicalization: still valid.
        batch.push((
            format!("{name}-more-trailing-blank-lines"),
            [&signed[..], b"\r\n\r\n"].concat(),
            true,
        ));
        batch.push((
            format!("{name}-refolded-subject"),
            head.replacen("Subject: ", "Subject:   \r\n\t ", 1)
                .into_bytes()
                .into_iter()
                .chain(format!("\r\n{body}").into_bytes())
                .collect(),
            true,
        ));
        if !body.is_empty() {
            // Not forgiven: a changed body, a changed Subject, a second From on top.
            let mut tampered = signed.clone();
            let last_alpha = tampered
                .iter()
                .rposition(|b| b.is_ascii_alphabetic())
                .unwrap();
            tampered[last_alpha] ^= 0x20; // flip the case of the body's last letter
            batch.push((format!("{name}-body-tampered"), tampered, false));
        }
        batch.push((
            format!("{name}-subject-tampered"),
            text.replacen("\r\nSubject: ", "\r\nSubject: Re: ", 1)
                .into_bytes(),
            false,
        ));
        // Fields put on top of the message: a verifier picks instances bottom-up (RFC 6376
        // §5.4.2), so the signed From is still found; only the oversigned "from" entry (which
        // signed "no further From") catches the added one. Same for an absent Reply-To.
        batch.push((
            format!("{name}-second-from-on-top"),
            [&b"From: mallory@evil.test\r\n"[..], &signed].concat(),
            false,
        ));
        if !head.contains("\r\nReply-To:") {
            batch.push((
                format!("{name}-reply-to-on-top"),
                [&b"Reply-To: mallory@evil.test\r\n"[..], &signed].concat(),
                false,
            ));
        }
        // A field outside h= may be added anywhere.
        batch.push((
            format!("{name}-unsigned-field-on-top"),
            [
                &b"Received: from x by y; Thu, 26 Nov 2026 10:00:01 +0000\r\n"[..],
                &signed,
            ]
            .concat(),
            true,
        ));
    }
    let refs: Vec<(&str, Vec<u8>)> = batch
        .iter()
        .map(|(n, b, _)| (n.as_str(), b.clone()))
        .collect();
    let results = verify(&s, &refs);
    let mut failures = Vec::new();
    for ((name, _, should_pass), (_, sigs)) in batch.iter().zip(&results) {
        if sigs.len() != 2 {
            failures.push(format!(
                "{name}: expected 2 signatures, dkimpy saw {}",
                sigs.len()
            ));
            continue;
        }
        for (idx, (ok, why)) in sigs.iter().enumerate() {
            let alg = if idx == 0 { "rsa" } else { "ed25519" };
            if ok != should_pass {
                failures.push(format!(
                    "{name} [{alg}]: got {}, want {} ({why})",
                    ok, should_pass
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "dkimpy disagreed:\n{}",
        failures.join("\n")
    );
    assert!(batch.len() >= 30, "the batch ran ({} cases)", batch.len());
}

#[test]
fn key_files_are_reused_and_broken_ones_refused() {
    let dir = tempfile::tempdir().unwrap();
    let keydir: &Path = &dir.path().join("dkim");
    let k = keys::ensure(keydir, "s1").unwrap();
    assert!(keys::key_path(keydir, "s1", keys::KeyAlgorithm::Rsa).exists());
    let txt = k.rsa.dns_txt();
    let again = keys::ensure(keydir, "s1").unwrap();
    assert_eq!(again.rsa.dns_txt(), txt);
    fs::write(
        keys::key_path(keydir, "s1", keys::KeyAlgorithm::Ed25519),
        "garbage",
    )
    .unwrap();
    assert!(keys::ensure(keydir, "s1").is_err());
    assert!(keys::ensure(keydir, "bad;selector").is_err());
}

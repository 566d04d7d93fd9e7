//! The spam scorer: features in, verdict out. Pure: no I/O, no clock, no store; depends on
//! `message` and crates only (DESIGN.md "Source layout").
//!
//! [`Features`] gather what the other roles found (SPF/DKIM/DMARC results, DNS block list hits,
//! HELO/PTR sanity) plus what this module computes from the message itself: header
//! [`heuristics`], the [`dangerous_attachment`] check and the Bayesian probability from
//! [`model`] over [`tokens`]. [`verdict`] adds up points per reason and compares the sum with
//! [`Thresholds`]. [`x_spam_score`] renders the verdict as a header value.
//!
//! Invariants: every function here is total on arbitrary bytes (fuzzed, `fuzz::fuzz_spam_tokens`);
//! work and memory per message are bounded by the limits in [`tokens`] and [`zip`].

pub mod model;
pub mod tokens;
pub mod zip;

pub use model::{Class, MemModel, TokenCounts};
pub use tokens::{Parsed, tokenize};

/// SPF result (RFC 7208 §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Spf {
    #[default]
    None,
    Neutral,
    Pass,
    Fail,
    SoftFail,
    TempError,
    PermError,
}

/// DKIM result for the message as a whole (any valid signature is a pass).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dkim {
    #[default]
    None,
    Pass,
    Fail,
    TempError,
}

/// DMARC result (RFC 7489), with the domain's policy when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dmarc {
    #[default]
    None,
    Pass,
    /// Failed under `p=none`.
    FailNone,
    FailQuarantine,
    FailReject,
    TempError,
}

/// Sender authentication results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuthSummary {
    pub spf: Spf,
    pub dkim: Dkim,
    pub dmarc: Dmarc,
}

/// Everything the verdict is based on.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Features {
    pub auth: AuthSummary,
    /// Block lists that list the client address.
    pub dnsbl_hits: Vec<String>,
    /// Whether the client's PTR name resolves back and the HELO name is plausible; `None` if
    /// not checked.
    pub helo_ptr_sane: Option<bool>,
    /// What [`dangerous_attachment`] found.
    pub dangerous_attachment: Option<String>,
    /// Bayesian spam probability; `None` without a trained model.
    pub bayes: Option<f64>,
    /// What [`heuristics`] found: (name, points).
    pub heuristics: Vec<(&'static str, f64)>,
}

/// What to do with the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Deliver to the inbox.
    Accept,
    /// Deliver to Junk.
    Junk,
    /// Refuse at end of DATA (5xx).
    Reject,
}

impl Action {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Junk => "junk",
            Action::Reject => "reject",
        }
    }
}

/// Score limits (settings later).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// At or above: Junk.
    pub junk: f64,
    /// At or above: Reject.
    pub reject: f64,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            junk: 5.0,
            reject: 10.0,
        }
    }
}

/// The outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub score: f64,
    pub action: Action,
    /// (reason, points), largest magnitude first; zero-point reasons left out.
    pub reasons: Vec<(String, f64)>,
}

/// Points for a Bayesian probability: 0 at 0.5, down to −6 at 0, up to [`BAYES_MAX_POINTS`]
/// from 0.77. Chi-square combining is bimodal, so the slope above 0.5 is steep: 2/3 alone
/// reaches the default Junk threshold (the cut measured on the SpamAssassin corpus,
/// bench/README.md), and the Bayesian score alone never reaches Reject.
pub fn bayes_points(p: f64) -> f64 {
    if p.is_nan() {
        return 0.0;
    }
    let p = p.clamp(0.0, 1.0);
    if p < 0.5 {
        (p - 0.5) * 12.0
    } else {
        ((p - 0.5) * 30.0).min(BAYES_MAX_POINTS)
    }
}

/// Most points the Bayesian probability gives.
pub const BAYES_MAX_POINTS: f64 = 8.0;

/// Points per DNS block list hit (at most two count).
pub const DNSBL_POINTS: f64 = 3.5;
/// Points for a dangerous attachment: Reject with the default thresholds.
pub const DANGEROUS_POINTS: f64 = 10.0;

/// Adds up the features.
pub fn verdict(f: &Features, t: &Thresholds) -> Verdict {
    let mut reasons: Vec<(String, f64)> = Vec::new();
    let mut add = |name: &str, points: f64| {
        if points != 0.0 && points.is_finite() {
            reasons.push((name.to_string(), points));
        }
    };
    add(
        match f.auth.spf {
            Spf::Fail => "spf-fail",
            Spf::SoftFail => "spf-softfail",
            Spf::PermError => "spf-permerror",
            _ => "spf",
        },
        match f.auth.spf {
            Spf::Fail => 2.0,
            Spf::SoftFail => 0.8,
            Spf::PermError => 0.5,
            Spf::Pass => -0.1,
            _ => 0.0,
        },
    );
    add(
        match f.auth.dkim {
            Dkim::Fail => "dkim-fail",
            _ => "dkim-pass",
        },
        match f.auth.dkim {
            Dkim::Pass => -0.3,
            Dkim::Fail => 1.0,
            _ => 0.0,
        },
    );
    let (dmarc_name, dmarc_points) = match f.auth.dmarc {
        Dmarc::Pass => ("dmarc-pass", -0.5),
        Dmarc::FailNone => ("dmarc-fail", 1.0),
        Dmarc::FailQuarantine => ("dmarc-quarantine", 5.0),
        Dmarc::FailReject => ("dmarc-reject", 10.0),
        _ => ("dmarc", 0.0),
    };
    add(dmarc_name, dmarc_points);
    for hit in f.dnsbl_hits.iter().take(2) {
        add(&format!("dnsbl:{hit}"), DNSBL_POINTS);
    }
    if f.helo_ptr_sane == Some(false) {
        add("helo-ptr", 1.0);
    }
    if let Some(what) = &f.dangerous_attachment {
        add(&format!("attachment:{what}"), DANGEROUS_POINTS);
    }
    if let Some(p) = f.bayes {
        add(&format!("bayes-{:.2}", p.clamp(0.0, 1.0)), bayes_points(p));
    }
    for &(name, points) in f.heuristics.iter().take(32) {
        add(name, points);
    }
    reasons.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    let score: f64 = reasons.iter().map(|r| r.1).sum();
    // Refusing needs evidence beyond the content (a DMARC failure, a blocklist listing, a
    // dangerous attachment): content alone files into Junk at most, so a quirk of the token
    // model never loses mail.
    let hard_evidence = !f.dnsbl_hits.is_empty()
        || f.dangerous_attachment.is_some()
        || matches!(
            f.auth.dmarc,
            Dmarc::FailNone | Dmarc::FailQuarantine | Dmarc::FailReject
        );
    let action = if score >= t.reject && hard_evidence {
        Action::Reject
    } else if score >= t.junk {
        Action::Junk
    } else {
        Action::Accept
    };
    Verdict {
        score,
        action,
        reasons,
    }
}

/// Longest [`x_spam_score`] value.
pub const MAX_HEADER_VALUE: usize = 200;

/// The `X-Spam-Score` header value: `5.3 junk; bayes-0.97=5.6, missing-date=1.0`; printable
/// ASCII only (reason text from the input cannot inject CR/LF), at most [`MAX_HEADER_VALUE`]
/// bytes, reasons that do not fit left off.
pub fn x_spam_score(v: &Verdict) -> String {
    let mut out = format!("{:.1} {}", v.score, v.action.as_str());
    let mut sep = "; ";
    for (name, points) in &v.reasons {
        let clean: String = name
            .chars()
            .filter(|c| c.is_ascii_graphic() && !matches!(c, ',' | ';' | '='))
            .take(40)
            .collect();
        let item = format!("{sep}{clean}={points:.1}");
        if out.len() + item.len() > MAX_HEADER_VALUE {
            break;
        }
        out.push_str(&item);
        sep = ", ";
    }
    out
}

/// File name extensions that run code when opened on common desktops.
const DANGEROUS_EXT: &[&str] = &[
    "exe",
    "scr",
    "com",
    "pif",
    "bat",
    "cmd",
    "vbs",
    "vbe",
    "js",
    "jse",
    "wsf",
    "wsh",
    "hta",
    "msi",
    "msp",
    "jar",
    "lnk",
    "cpl",
    "reg",
    "ps1",
    "psm1",
    "scf",
    "inf",
    "dll",
    "sys",
    "iso",
    "img",
    "vhd",
    "vhdx",
    "appx",
    "msix",
    "application",
    "gadget",
    "chm",
    "xll",
    "sh",
    "elf",
];

fn dangerous_name(name: &str) -> bool {
    let name = name.trim().trim_end_matches(['.', ' ']);
    name.rsplit_once('.').is_some_and(|(_, ext)| {
        let ext = ext.to_ascii_lowercase();
        DANGEROUS_EXT.contains(&ext.as_str())
    })
}

/// What the first bytes say: an executable or script format.
fn dangerous_magic(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(b"MZ") {
        Some("windows executable")
    } else if data.starts_with(b"\x7fELF") {
        Some("ELF executable")
    } else if data.starts_with(b"#!") {
        Some("script")
    } else if data.starts_with(&[0xCF, 0xFA, 0xED, 0xFE])
        || data.starts_with(&[0xCA, 0xFE, 0xBA, 0xBE])
    {
        Some("mach-o executable")
    } else {
        None
    }
}

fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(60).collect()
}

/// The first attachment that runs code: by file name extension, by magic bytes (MZ, ELF,
/// Mach-O, `#!`), or by the names inside a zip archive. `None` if there is none.
pub fn dangerous_attachment(p: &Parsed<'_>) -> Option<String> {
    for a in &p.attachments {
        let label = printable(a.name.as_deref().unwrap_or(&a.content_type));
        if a.name.as_deref().is_some_and(dangerous_name) {
            return Some(format!("{label} (executable name)"));
        }
        if let Some(kind) = dangerous_magic(&a.data) {
            return Some(format!("{label} ({kind})"));
        }
        if zip::is_zip(&a.data)
            && let Some(inner) = zip::entry_names(&a.data)
                .into_iter()
                .find(|n| dangerous_name(n))
        {
            return Some(format!("{label} ({} in archive)", printable(&inner)));
        }
    }
    None
}

/// Header and structure heuristics: `(name, points)` for each that fires.
pub fn heuristics(p: &Parsed<'_>) -> Vec<(&'static str, f64)> {
    let mut out = Vec::new();
    let Some(h) = &p.header else {
        out.push(("no-header", 2.0));
        return out;
    };
    if !p.has_header("Date") {
        out.push(("missing-date", 1.0));
    }
    if !p.has_header("Message-ID") {
        out.push(("missing-message-id", 0.8));
    }
    if !p.has_header("To") && !p.has_header("Cc") {
        out.push(("missing-to", 0.5));
    }
    if let Some(from) = h.from().and_then(|a| a.first()) {
        let dom = from
            .address
            .as_deref()
            .and_then(|a| a.rsplit_once('@'))
            .map(|(_, d)| d.to_ascii_lowercase());
        if let Some(name) = &from.name
            && let Some((_, other)) = name.rsplit_once('@')
        {
            let other: String = other
                .chars()
                .take_while(|c| c.is_alphanumeric() || matches!(c, '.' | '-'))
                .collect::<String>()
                .to_ascii_lowercase();
            if other.contains('.') && dom.as_deref() != Some(other.as_str()) {
                out.push(("from-name-has-other-address", 1.5));
            }
        }
    } else {
        out.push(("missing-from", 1.5));
    }
    if let Some(s) = h.subject() {
        let letters = s.chars().filter(|c| c.is_alphabetic()).count();
        let upper = s.chars().filter(|c| c.is_uppercase()).count();
        if letters >= 10 && upper * 10 >= letters * 9 {
            out.push(("subject-all-caps", 0.8));
        }
    }
    if let Some(raw) = h.header_raw("Subject")
        && !raw.is_ascii()
    {
        out.push(("subject-8bit-unencoded", 0.5));
    }
    let html = p.texts.iter().any(|t| t.subtype == "html");
    let plain = p.texts.iter().any(|t| t.subtype == "plain");
    if html && !plain {
        out.push(("html-only", 0.7));
    }
    if p.texts.iter().any(|t| t.charset_mismatch) {
        out.push(("charset-mismatch", 0.5));
    }
    out
}

/// Everything computed from the message alone, with `model` for the Bayesian part (network
/// results stay at their defaults).
pub fn message_features(p: &Parsed<'_>, model: Option<&dyn TokenCounts>) -> Features {
    Features {
        dangerous_attachment: dangerous_attachment(p),
        heuristics: heuristics(p),
        bayes: model.map(|m| model::score(m, &tokenize(p)).probability),
        ..Features::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(m: &[u8]) -> Parsed<'_> {
        Parsed::new(m)
    }

    #[test]
    fn verdict_adds_points_and_applies_thresholds() {
        let t = Thresholds::default();
        let v = verdict(&Features::default(), &t);
        assert_eq!((v.score, v.action), (0.0, Action::Accept));
        let f = Features {
            bayes: Some(0.99),
            heuristics: vec![("missing-date", 1.0)],
            ..Features::default()
        };
        let v = verdict(&f, &t);
        assert_eq!(v.action, Action::Junk);
        assert_eq!(v.score, 9.0);
        assert!((bayes_points(0.6) - 3.0).abs() < 1e-9);
        assert!(bayes_points(2.0 / 3.0) >= 5.0 - 1e-9);
        assert_eq!(v.reasons[0].0, "bayes-0.99");
        let f = Features {
            dangerous_attachment: Some("x.exe".into()),
            ..Features::default()
        };
        assert_eq!(verdict(&f, &t).action, Action::Reject);
        let f = Features {
            auth: AuthSummary {
                dmarc: Dmarc::FailReject,
                ..AuthSummary::default()
            },
            ..Features::default()
        };
        assert_eq!(verdict(&f, &t).action, Action::Reject);
        let f = Features {
            bayes: Some(0.0),
            dnsbl_hits: vec!["a".into(), "b".into(), "c".into()],
            ..Features::default()
        };
        let v = verdict(&f, &t);
        assert_eq!(v.score, 1.0, "two lists count, bayes -6: {v:?}");
    }

    /// "A trained message affects the very next similar message": one judgement is enough.
    #[test]
    fn one_trained_spam_makes_its_copy_junk() {
        let mut m = MemModel::new();
        for i in 0..5 {
            let ham = format!(
                "From: Ann <ann@a.example>\r\nTo: b@b.example\r\nSubject: project notes {i}\r\n\
Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <{i}@a.example>\r\n\r\n\
Here are the notes from the meeting about the build system and the release plan {i}.\r\n"
            );
            m.train(&tokenize(&parse(ham.as_bytes())), Class::Ham);
        }
        let spam = b"From: Prize Office <win@lottery.example>\r\nTo: b@b.example\r\n\
Subject: Claim your prize today\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\
Message-ID: <x@lottery.example>\r\n\r\nCongratulations winner, send your bank details \
to claim the million dollar lottery prize now http://claim.lottery.example/now\r\n";
        let t = Thresholds::default();
        let before = verdict(&message_features(&parse(spam), Some(&m)), &t);
        assert_eq!(before.action, Action::Accept, "{before:?}");
        m.train(&tokenize(&parse(spam)), Class::Spam);
        let after = verdict(&message_features(&parse(spam), Some(&m)), &t);
        assert_eq!(after.action, Action::Junk, "{after:?}");
        assert!(after.reasons[0].0.starts_with("bayes-"));
    }

    #[test]
    fn header_value_is_bounded_and_clean() {
        let v = Verdict {
            score: 7.25,
            action: Action::Junk,
            reasons: (0..50)
                .map(|i| (format!("r{i}\r\nX-Evil: yes"), 1.0))
                .collect(),
        };
        let h = x_spam_score(&v);
        assert!(h.starts_with("7.2 junk; r0X-Evil:yes=1.0, r1"), "{h}");
        assert!(h.len() <= MAX_HEADER_VALUE);
        assert!(!h.contains('\r') && !h.contains('\n'));
    }

    #[test]
    fn heuristics_fire() {
        let m =
            b"From: \"support@bank.example\" <x@evil.example>\r\nSubject: YOU HAVE WON A PRIZE\r\n\
Content-Type: text/html\r\n\r\n<p>caf\xc3\xa9</p>\r\n";
        let h: Vec<&str> = heuristics(&parse(m)).iter().map(|x| x.0).collect();
        for want in [
            "missing-date",
            "missing-message-id",
            "missing-to",
            "from-name-has-other-address",
            "subject-all-caps",
            "html-only",
            "charset-mismatch",
        ] {
            assert!(h.contains(&want), "{want}: {h:?}");
        }
        let m = b"From: Ann <ann@a.example>\r\nTo: b@b.example\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\
Message-ID: <1@a.example>\r\nSubject: Lunch on Monday?\r\nContent-Type: text/plain; charset=utf-8\r\n\r\ncaf\xc3\xa9\r\n";
        assert!(
            heuristics(&parse(m)).is_empty(),
            "{:?}",
            heuristics(&parse(m))
        );
        let m = b"From: \"ann@a.example\" <ann@a.example>\r\nSubject: x\r\n\r\nx\r\n";
        assert!(
            !heuristics(&parse(m))
                .iter()
                .any(|x| x.0 == "from-name-has-other-address")
        );
    }

    fn b64(data: &[u8]) -> Vec<u8> {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = Vec::new();
        for c in data.chunks(3) {
            let n = c
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
            for i in 0..4 {
                out.push(if i <= c.len() {
                    A[(n >> (18 - 6 * i) & 63) as usize]
                } else {
                    b'='
                });
            }
        }
        out
    }

    fn with_attachment(name: &str, ctype: &str, body: &[u8]) -> Vec<u8> {
        let mut m = format!(
            "From: a@b.example\r\nSubject: doc\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n\
--zz\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--zz\r\nContent-Type: {ctype}\r\n\
Content-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        )
        .into_bytes();
        m.extend_from_slice(&b64(body));
        m.extend_from_slice(b"\r\n--zz--\r\n");
        m
    }

    #[test]
    fn dangerous_attachments_by_name_magic_and_zip() {
        let m = with_attachment("invoice.pdf.exe", "application/octet-stream", b"hello");
        assert!(
            dangerous_attachment(&parse(&m))
                .unwrap()
                .contains("executable name")
        );
        let m = with_attachment("invoice.pdf", "application/pdf", b"MZ\x90\x00rest");
        assert!(
            dangerous_attachment(&parse(&m))
                .unwrap()
                .contains("windows executable")
        );
        let m = with_attachment("data.bin", "application/octet-stream", b"\x7fELF\x02\x01");
        assert!(dangerous_attachment(&parse(&m)).unwrap().contains("ELF"));
        let m = with_attachment("run", "application/octet-stream", b"#!/bin/sh\nrm -rf ~\n");
        assert!(dangerous_attachment(&parse(&m)).unwrap().contains("script"));
        let z = zip::tests::make_zip(&[("readme.txt", b"hi"), ("Scan_0042.js", b"WScript")]);
        let m = with_attachment("scan.zip", "application/zip", &z);
        let found = dangerous_attachment(&parse(&m)).unwrap();
        assert!(found.contains("Scan_0042.js in archive"), "{found}");
        let z = zip::tests::make_zip(&[("report.pdf", b"%PDF")]);
        let m = with_attachment("report.zip", "application/zip", &z);
        assert_eq!(dangerous_attachment(&parse(&m)), None);
        let m = b"From: a@b.example\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n\
Content-Type: text/plain; name=run.js\r\n\r\nWScript.Shell\r\n--zz--\r\n";
        assert!(dangerous_attachment(&parse(m)).unwrap().contains("run.js"));
        let m = with_attachment("photo.jpg", "image/jpeg", b"\xff\xd8\xff\xe0");
        assert_eq!(dangerous_attachment(&parse(&m)), None);
    }
}

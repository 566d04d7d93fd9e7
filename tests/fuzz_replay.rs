//! Replays the committed fuzz corpora through the library's fuzz entry points on stable Rust, so
//! plain `cargo test` exercises every fuzz target even where there is no nightly (STYLE.md "Fuzz
//! targets"). Each `tests/fuzz/corpus/<target>/` holds seeds, minimised fuzzer finds and the
//! inputs of fixed crashes (`crash-*`); fuzzing itself is `cargo +nightly fuzz run`, see
//! `tests/fuzz/Cargo.toml`.

use std::path::{Path, PathBuf};

/// A fuzz entry point.
type Entry = fn(&[u8]);

/// Every fuzz target and its entry point.
const TARGETS: &[(&str, Entry)] = &[
    (
        "smtp_server_session",
        mailnook::fuzz::fuzz_smtp_server_session,
    ),
    ("smtp_data", mailnook::fuzz::fuzz_smtp_data),
    ("mime_summary", mailnook::fuzz::fuzz_mime_summary),
    ("control_request", mailnook::fuzz::fuzz_control_request),
    ("line_splitter", mailnook::fuzz::fuzz_line_splitter),
    ("mime_structure", mailnook::fuzz::fuzz_mime_structure),
    ("imap_session", mailnook::fuzz::fuzz_imap_session),
    ("imap_parsers", mailnook::fuzz::fuzz_imap_parsers),
    ("imap_mutf7", mailnook::fuzz::fuzz_imap_mutf7),
    ("pop3_session", mailnook::fuzz::fuzz_pop3_session),
    (
        "managesieve_session",
        mailnook::fuzz::fuzz_managesieve_session,
    ),
    ("sieve_script", mailnook::fuzz::fuzz_sieve_script),
    ("mbox_reader", mailnook::fuzz::fuzz_mbox_reader),
    ("srs_address", mailnook::fuzz::fuzz_srs_address),
    ("store_ops", mailnook::fuzz::fuzz_store_ops),
    ("smtp_client", mailnook::fuzz::fuzz_smtp_client),
    ("submission_header", mailnook::fuzz::fuzz_submission_header),
    ("dsn", mailnook::fuzz::fuzz_dsn),
    ("http_request", mailnook::fuzz::fuzz_http_request),
    ("dkim_verify", mailnook::fuzz::fuzz_dkim_verify),
    ("dmarc_record", mailnook::fuzz::fuzz_dmarc_record),
    ("dns_response", mailnook::fuzz::fuzz_dns_response),
    ("spf_record", mailnook::fuzz::fuzz_spf_record),
    ("spam_tokens", mailnook::fuzz::fuzz_spam_tokens),
    (
        "autodiscover_request",
        mailnook::fuzz::fuzz_autodiscover_request,
    ),
    ("acme_response", mailnook::fuzz::fuzz_acme_response),
    (
        "imap_client_responses",
        mailnook::fuzz::fuzz_imap_client_responses,
    ),
    ("multipart", mailnook::fuzz::fuzz_multipart),
    (
        "pop3_client_responses",
        mailnook::fuzz::fuzz_pop3_client_responses,
    ),
    ("mdns_packet", mailnook::fuzz::fuzz_mdns_packet),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz")
}

fn names_in(dir: &Path, suffix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            e.expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter_map(|n| n.strip_suffix(suffix).map(str::to_string))
        .collect();
    names.sort();
    names
}

fn replay(target: &str) {
    let run = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, run)| *run)
        .expect("a known target");
    let dir = fuzz_dir().join("corpus").join(target);
    let files = names_in(&dir, "");
    for name in &files {
        let path = dir.join(name);
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            panic!("{target}: {} fails", path.display());
        }
    }
    assert!(
        !files.is_empty(),
        "no inputs to replay in {}",
        dir.display()
    );
}

#[test]
fn smtp_server_session() {
    replay("smtp_server_session");
}

#[test]
fn smtp_data() {
    replay("smtp_data");
}

#[test]
fn mime_summary() {
    replay("mime_summary");
}

#[test]
fn control_request() {
    replay("control_request");
}

#[test]
fn line_splitter() {
    replay("line_splitter");
}

#[test]
fn mime_structure() {
    replay("mime_structure");
}

#[test]
fn imap_session() {
    replay("imap_session");
}

#[test]
fn imap_parsers() {
    replay("imap_parsers");
}

#[test]
fn imap_mutf7() {
    replay("imap_mutf7");
}

#[test]
fn dns_response() {
    replay("dns_response");
}

#[test]
fn srs_address() {
    replay("srs_address");
}

#[test]
fn store_ops() {
    replay("store_ops");
}

#[test]
fn mbox_reader() {
    replay("mbox_reader");
}

#[test]
fn sieve_script() {
    replay("sieve_script");
}

#[test]
fn pop3_session() {
    replay("pop3_session");
}

#[test]
fn managesieve_session() {
    replay("managesieve_session");
}

#[test]
fn smtp_client() {
    replay("smtp_client");
}

/// Every cargo-fuzz target has an entry point here and a corpus, and every corpus a target.
#[test]
fn targets_corpora_and_entry_points_agree() {
    let mut known: Vec<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    known.sort();
    assert_eq!(names_in(&fuzz_dir().join("fuzz_targets"), ".rs"), known);
    assert_eq!(names_in(&fuzz_dir().join("corpus"), ""), known);
}

#[test]
fn submission_header() {
    replay("submission_header");
}

#[test]
fn dsn() {
    replay("dsn");
}

#[test]
fn dkim_verify() {
    replay("dkim_verify");
}

#[test]
fn dmarc_record() {
    replay("dmarc_record");
}

#[test]
fn spf_record() {
    replay("spf_record");
}

#[test]
fn spam_tokens() {
    replay("spam_tokens");
}

#[test]
fn http_request() {
    replay("http_request");
}

#[test]
fn autodiscover_request() {
    replay("autodiscover_request");
}

#[test]
fn acme_response() {
    replay("acme_response");
}

#[test]
fn imap_client_responses() {
    replay("imap_client_responses");
}

#[test]
fn multipart() {
    replay("multipart");
}

#[test]
fn pop3_client_responses() {
    replay("pop3_client_responses");
}

#[test]
fn mdns_packet() {
    replay("mdns_packet");
}

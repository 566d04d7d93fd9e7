//! The architecture's dependency rules (DESIGN.md "Source layout"), checked on the source text:
//! protocol cores, message code and the web page's pure building blocks (onboarding documents,
//! TOTP) stay free of I/O, async and storage; only `store/` uses redb;
//! nothing uses tokio or `unsafe`.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.len() > 10, "found only {} source files", files.len());
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (rel, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// Code lines only: comments dropped, so documentation may name what code may not use.
fn code(text: &str) -> String {
    text.lines()
        .filter(|l| {
            let t = l.trim_start();
            !t.starts_with("//")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn pure_modules_do_no_io() {
    let forbidden = [
        "TcpStream",
        "TcpListener",
        "UdpSocket",
        "UnixStream",
        "std::fs",
        "std::io::stdin",
        "async_io",
        "async_net",
        "async_channel",
        "futures_lite",
        "blocking::",
        "redb",
        "crate::store",
        "crate::conn",
        "crate::server",
        "async fn",
        ".await",
        "std::thread",
        "SystemTime::now",
    ];
    let mut checked = 0;
    for (path, text) in sources() {
        if !(path.starts_with("proto/")
            || path.starts_with("message/")
            || path.starts_with("spam/")
            || path.starts_with("web/onboarding/")
            || path == "auth/totp.rs")
        {
            continue;
        }
        checked += 1;
        let code = code(&text);
        for f in forbidden {
            assert!(
                !code.contains(f),
                "src/{path} uses `{f}`: protocol and message code must stay sans-IO"
            );
        }
    }
    assert!(checked >= 6, "checked only {checked} files");
}

/// DESIGN.md: `spam` → `message` only; the scorer is features in, verdict out.
#[test]
fn spam_depends_only_on_message() {
    let mut checked = 0;
    for (path, text) in sources() {
        if !path.starts_with("spam/") {
            continue;
        }
        checked += 1;
        for (i, _) in code(&text).match_indices("crate::") {
            let rest = &code(&text)[i + 7..];
            assert!(
                rest.starts_with("message") || rest.starts_with("spam"),
                "src/{path} uses crate::{}",
                rest.split(|c: char| !c.is_alphanumeric() && c != '_')
                    .next()
                    .unwrap_or("")
            );
        }
    }
    assert!(checked >= 3, "checked only {checked} files");
}

#[test]
fn only_the_store_uses_redb() {
    for (path, text) in sources() {
        if path.starts_with("store/") {
            continue;
        }
        let code = code(&text);
        assert!(
            !code.contains("redb::") && !code.contains("use redb"),
            "src/{path} uses redb directly; go through crate::store"
        );
    }
}

#[test]
fn no_unsafe_and_no_tokio() {
    for (path, text) in sources() {
        let code = code(&text);
        assert!(!code.contains("unsafe "), "src/{path} contains unsafe");
        assert!(!code.contains("tokio"), "src/{path} mentions tokio");
        assert!(
            !code.contains("smol::spawn"),
            "src/{path} uses the global executor"
        );
    }
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    assert!(lib.contains("#![forbid(unsafe_code)]"));
}

#[test]
fn every_module_states_its_invariants() {
    for (path, text) in sources() {
        assert!(
            text.trim_start().starts_with("//!"),
            "src/{path} has no //! header"
        );
    }
}

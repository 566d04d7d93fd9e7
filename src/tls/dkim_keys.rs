//! DKIM selector key files: `<dir>/<selector>.ed25519.pem` and `<dir>/<selector>.rsa.pem` (the
//! caller passes `DATA/dkim`), each one PEM `PRIVATE KEY` block (PKCS#8), mode 0600, directory
//! 0700. Lives in `tls/` because only this module reads private keys; the key handling itself
//! (PKCS#8 parsing, generation, DNS TXT values, signing) is pure and stays in `crate::dkim::keys`,
//! which re-exports these functions.
//!
//! Invariants:
//! - A key file is written to `<name>.tmp`, fsynced and renamed, so a crash never leaves a
//!   half-written key under the final name; existing keys are never overwritten by [`ensure`].
//! - Private key bytes never appear in `Debug` output or errors.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::dkim::Error;
use crate::dkim::keys::{
    DkimKey, KeyAlgorithm, RSA_BITS, SelectorKeys, generate_ed25519, generate_rsa,
};

/// The folder of the DKIM keys in a data folder.
pub fn dkim_dir(data: &Path) -> PathBuf {
    data.join("dkim")
}

/// The key file of `selector` for `alg` under `dir`.
pub fn key_path(dir: &Path, selector: &str, alg: KeyAlgorithm) -> PathBuf {
    dir.join(format!("{selector}.{}.pem", alg.file_suffix()))
}

fn io_err(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes PKCS#8 DER as a PEM `PRIVATE KEY` file, mode 0600, atomically (tmp + rename).
/// Creates `dir` (mode 0700) if needed. A stale `<path>.tmp` is replaced.
pub fn write_pem(path: &Path, pkcs8: &[u8]) -> Result<(), Error> {
    if let Some(dir) = path.parent() {
        super::create_private_dir(dir).map_err(|e| io_err(dir, e))?;
    }
    let text = pem::encode_config(
        &pem::Pem::new("PRIVATE KEY", pkcs8),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    );
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    // A tmp file left by a crash during an earlier init is stale: nothing else writes keys.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(&tmp, e)),
    }
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| io_err(&tmp, e))?;
    let res = f.write_all(text.as_bytes()).and_then(|()| f.sync_all());
    drop(f);
    if let Err(e) = res.and_then(|()| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(path, e));
    }
    if let Some(dir) = path.parent()
        && let Ok(d) = fs::File::open(dir)
    {
        let _ = d.sync_all(); // make the rename durable; best effort
    }
    Ok(())
}

/// Loads a PEM `PRIVATE KEY` file for `alg`.
pub fn load(path: &Path, alg: KeyAlgorithm) -> Result<DkimKey, Error> {
    let text = fs::read(path).map_err(|e| io_err(path, e))?;
    let bad = |reason: String| Error::BadKey {
        path: path.display().to_string(),
        reason,
    };
    let block = pem::parse(&text).map_err(|e| bad(format!("not PEM: {e}")))?;
    if block.tag() != "PRIVATE KEY" {
        return Err(bad(format!(
            "PEM block is {:?}, want \"PRIVATE KEY\" (PKCS#8)",
            block.tag()
        )));
    }
    DkimKey::from_pkcs8(alg, block.contents()).map_err(bad)
}

/// Init: loads the selector's two keys from `dir`, generating and writing any that is missing.
/// Existing files are kept as they are (a broken one is an error, not replaced).
pub fn ensure(dir: &Path, selector: &str) -> Result<SelectorKeys, Error> {
    crate::dkim::sign::check_dns_name("s", selector)?;
    let get = |alg: KeyAlgorithm| -> Result<DkimKey, Error> {
        let path = key_path(dir, selector, alg);
        if !path.exists() {
            let der = match alg {
                KeyAlgorithm::Ed25519 => generate_ed25519()?,
                KeyAlgorithm::Rsa => generate_rsa(RSA_BITS)?,
            };
            write_pem(&path, &der)?;
        }
        load(&path, alg)
    };
    Ok(SelectorKeys {
        ed25519: get(KeyAlgorithm::Ed25519)?.into(),
        rsa: get(KeyAlgorithm::Rsa)?.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_roundtrip_mode_0600_and_wrong_algorithm_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = key_path(&dir.path().join("dkim"), "sel", KeyAlgorithm::Ed25519);
        let der = generate_ed25519().unwrap();
        write_pem(&path, &der).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dmode, 0o700);
        let k = load(&path, KeyAlgorithm::Ed25519).unwrap();
        assert_eq!(k.algorithm(), KeyAlgorithm::Ed25519);
        assert!(matches!(
            load(&path, KeyAlgorithm::Rsa),
            Err(Error::BadKey { .. })
        ));
    }
}

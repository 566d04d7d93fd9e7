//! Whole-box backup and restore (`mailnook backup`, `mailnook restore`, the web page's Backup
//! page and the setup page's restore): the store ([`crate::store::backup`]) plus the data
//! folder's files a box cannot be rebuilt without.
//!
//! The files kept are the `*.pem` files of [`DATA_DIRS`]: the TLS certificates and keys
//! (`tls/`: the operator's or ACME's pair and the self-signed one) and the DKIM selector keys
//! (`dkim/`, which the published DNS records name). Everything else in the data folder is made
//! again at start (the control socket) or lives in the store.
//!
//! Invariants: a restored file is written only under one of [`DATA_DIRS`], with a name
//! [`crate::store::backup::valid_file_name`] accepts, atomically and owner-only (0600); it is
//! written after every check of the backup passed and before the store commits it.

use super::admin::AdminError;
use crate::store::Store;
use crate::store::backup::{DataFile, MAX_FILE_BYTES, Restore, Summary, valid_file_name};
use std::io::{Read, Write};
use std::path::Path;

/// The data-folder directories whose `*.pem` files a backup holds.
pub const DATA_DIRS: &[&str] = &["tls", "dkim"];

/// Whether a backup's file may be written into the data folder.
fn restorable(name: &str) -> bool {
    valid_file_name(name)
        && name.ends_with(".pem")
        && name
            .split_once('/')
            .is_some_and(|(dir, _)| DATA_DIRS.contains(&dir))
}

/// The files of [`DATA_DIRS`] to keep with the store, sorted by name.
pub fn data_files(data: &Path) -> std::io::Result<Vec<DataFile>> {
    let mut files = Vec::new();
    for dir in DATA_DIRS {
        let entries = match std::fs::read_dir(data.join(dir)) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let Some(file) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let name = format!("{dir}/{file}");
            if !restorable(&name) || !entry.file_type()?.is_file() {
                continue;
            }
            let mut bytes = Vec::new();
            std::fs::File::open(entry.path())?
                .take(MAX_FILE_BYTES as u64 + 1)
                .read_to_end(&mut bytes)?;
            if bytes.len() > MAX_FILE_BYTES {
                log::warn!("backup: {name} is over {MAX_FILE_BYTES} bytes; left out");
                continue;
            }
            files.push(DataFile { name, bytes });
        }
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// Writes a backup's files into the data folder.
fn place_files(data: &Path, files: &[DataFile]) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    for f in files {
        if !restorable(&f.name) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the backup holds {:?}, which is not restored", f.name),
            ));
        }
        let path = data.join(&f.name);
        if let Some(dir) = path.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        crate::tls::write_atomically(&path, &f.bytes, 0o600)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
    }
    Ok(())
}

/// Writes a backup of the store and the data folder's files to `out`. Blocking.
pub fn write_backup(
    store: &Store,
    data: &Path,
    out: &mut dyn Write,
) -> Result<Summary, AdminError> {
    let files = data_files(data)?;
    Ok(store.backup(&files, out)?)
}

/// Restores a backup read from `source` into `store` (which must be empty) and the data
/// folder. Blocking.
pub fn restore(
    store: &Store,
    data: &Path,
    source: Box<dyn Read + Send>,
) -> Result<Summary, AdminError> {
    let data = data.to_path_buf();
    Ok(store.restore_blocking(Restore {
        source,
        place_files: Box::new(move |files| place_files(&data, files)),
    })?)
}

/// The one-line report of a restore.
pub fn restored_text(s: &Summary) -> String {
    format!(
        "restored {} rows in {} tables and {} files ({} bytes, schema {}); restart mailnook if it is running, so every service reads the restored box",
        s.rows, s.tables, s.files, s.bytes, s.schema
    )
}

/// The file name a backup made on `secs` is offered under.
pub fn file_name(secs: u64) -> String {
    let (y, m, d, ..) = crate::time::utc_parts(secs);
    format!("mailnook-backup-{y:04}-{m:02}-{d:02}.mnb")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pem_files_of_the_data_dirs_are_restored() {
        assert!(restorable("tls/cert.pem") && restorable("dkim/mail.rsa.pem"));
        for name in [
            "mail.redb",
            "tls/cert.txt",
            "other/x.pem",
            "tls/../x.pem",
            "x.pem",
        ] {
            assert!(!restorable(name), "{name}");
        }
        assert_eq!(file_name(86_400 * 365), "mailnook-backup-1971-01-01.mnb");
    }
}

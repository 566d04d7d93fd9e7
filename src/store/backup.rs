//! Whole-store backup and restore: every row of every table, plus a few named files the caller
//! adds (the data folder's keys and certificates), as one self-describing stream.
//!
//! Format (integers little-endian, like [`crate::codec`]):
//! - [`MAGIC`], then the format version (u32, [`FORMAT_VERSION`]) and the schema version of
//!   the store it came from (u64, [`SCHEMA_VERSION`]);
//! - records, each a tag byte: `T` a table (u8 length + name), followed by its `R` rows (u32
//!   length + key bytes, u32 length + value bytes, as redb's `Key`/`Value::as_bytes` of the
//!   table's types); `F` a file (u8 length + relative name, u32 length + bytes);
//! - `E`, the number of rows and files (u64 each), then the SHA-256 of every byte before it
//!   (magic included); nothing may follow.
//!
//! Invariants:
//! - A dump is taken inside one read transaction: a consistent snapshot while the server keeps
//!   writing. Both directions stream: neither holds more than one row (or one file) in memory.
//! - Every table is listed once, in [`every_table!`]; a test compares that list with the tables
//!   a store file really has, so a new table cannot be left out of backups.
//! - A restore trusts nothing in the stream: every length is checked against its limit before
//!   anything is allocated, key and value bytes are checked against their redb types before
//!   they are decoded ([`Wire`]), table names must be known and appear once. It runs as one
//!   write transaction on the writer thread (`Op::Restore`), only into an empty store (no
//!   users, messages or queued mail), and commits only after the checksum matched and
//!   `Store::check` found nothing wrong; otherwise the transaction is dropped and the store
//!   stays as it was. The caller's files are handed over (to be written) before that commit.
//! - An older schema's dump is restored and then migrated as `writer::prepare` migrates an
//!   older store file; a newer one is refused.

use super::schema::*;
use super::{Error, Refusal, Result};
use redb::{
    Key, ReadTransaction, ReadableTable, TableDefinition, TableHandle, Value, WriteTransaction,
};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};

/// The first bytes of every backup.
pub const MAGIC: &[u8; 16] = b"MAILNOOK-BACKUP\n";
/// The version of the record format described above.
pub const FORMAT_VERSION: u32 = 1;
/// Longest table name.
pub const MAX_TABLE_NAME: usize = 64;
/// Largest key (the longest keys are greylisting triplets and mailbox names).
pub const MAX_KEY_BYTES: usize = 4096;
/// Largest value (a chunk, a body row or a queue row are far below this).
pub const MAX_VALUE_BYTES: usize = 16 << 20;
/// Most files.
pub const MAX_FILES: usize = 64;
/// Largest file (PEM keys and certificate chains).
pub const MAX_FILE_BYTES: usize = 256 * 1024;
/// Longest file name.
pub const MAX_FILE_NAME: usize = 128;

const TAG_TABLE: u8 = b'T';
const TAG_ROW: u8 = b'R';
const TAG_FILE: u8 = b'F';
const TAG_END: u8 = b'E';

/// A file kept with the store, by its path relative to the data folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// Relative path: `/`-separated segments of `[A-Za-z0-9._-]`, none starting with a dot.
    pub name: String,
    /// Contents.
    pub bytes: Vec<u8>,
}

/// Whether `name` may name a [`DataFile`]: relative, at most two segments, no `.`/`..`, no
/// hidden files, nothing a path could escape through.
pub fn valid_file_name(name: &str) -> bool {
    let segments: Vec<&str> = name.split('/').collect();
    name.len() <= MAX_FILE_NAME
        && (1..=2).contains(&segments.len())
        && segments.iter().all(|s| {
            !s.is_empty()
                && !s.starts_with('.')
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        })
}

/// What a backup or restore moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Tables.
    pub tables: u64,
    /// Rows, all tables together.
    pub rows: u64,
    /// Files.
    pub files: u64,
    /// Bytes of the stream.
    pub bytes: u64,
    /// Schema version of the store the backup came from.
    pub schema: u64,
}

/// A restore's input and what to do with its files.
pub struct Restore {
    /// The backup stream (a file, or an upload fed through a channel).
    pub source: Box<dyn Read + Send>,
    /// Writes the backup's files; called after every check passed, before the commit. An
    /// error refuses the restore.
    pub place_files: PlaceFiles,
}

/// Writes a restore's files (see [`Restore::place_files`]).
pub type PlaceFiles = Box<dyn FnOnce(&[DataFile]) -> io::Result<()> + Send>;

impl std::fmt::Debug for Restore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Restore")
    }
}

fn bad(why: impl Into<String>) -> Error {
    Refusal::BadBackup(why.into()).into()
}

/// Key and value types whose redb encoding can be checked before `Value::from_bytes`, which
/// panics on bytes it did not produce itself.
pub(super) trait Wire: Value {
    /// Whether `b` is an encoding of this type.
    fn valid(b: &[u8]) -> bool;
}

impl Wire for u64 {
    fn valid(b: &[u8]) -> bool {
        b.len() == 8
    }
}
impl Wire for u32 {
    fn valid(b: &[u8]) -> bool {
        b.len() == 4
    }
}
impl Wire for bool {
    fn valid(b: &[u8]) -> bool {
        b == [0] || b == [1]
    }
}
impl Wire for () {
    fn valid(b: &[u8]) -> bool {
        b.is_empty()
    }
}
impl Wire for &str {
    fn valid(b: &[u8]) -> bool {
        std::str::from_utf8(b).is_ok()
    }
}
impl Wire for &[u8] {
    fn valid(_: &[u8]) -> bool {
        true
    }
}

/// Splits off a fixed-width leading tuple element. redb writes a tuple whose elements are all
/// fixed-width but the last as their plain concatenation; tuples with a variable-width element
/// before the last carry length prefixes, which no table here uses, and are refused.
fn lead<A: Wire>(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let w = A::fixed_width()?;
    (b.len() >= w && A::valid(&b[..w])).then(|| b.split_at(w))
}

impl<A: Wire, B: Wire> Wire for (A, B) {
    fn valid(b: &[u8]) -> bool {
        lead::<A>(b).is_some_and(|(_, rest)| B::valid(rest))
    }
}
impl<A: Wire, B: Wire, C: Wire> Wire for (A, B, C) {
    fn valid(b: &[u8]) -> bool {
        lead::<A>(b)
            .and_then(|(_, rest)| lead::<B>(rest))
            .is_some_and(|(_, rest)| C::valid(rest))
    }
}

/// The output side: everything written is hashed.
struct Out<'a> {
    w: BufWriter<&'a mut dyn Write>,
    hash: ring::digest::Context,
    summary: Summary,
}

impl Out<'_> {
    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.hash.update(b);
        self.summary.bytes += b.len() as u64;
        self.w.write_all(b)
    }
    fn bytes32(&mut self, b: &[u8]) -> io::Result<()> {
        self.put(&(b.len() as u32).to_le_bytes())?;
        self.put(b)
    }
    fn bytes8(&mut self, b: &[u8]) -> io::Result<()> {
        self.put(&[b.len() as u8])?;
        self.put(b)
    }
}

/// The input side: everything read is hashed; lengths are checked before reading.
struct In<'a> {
    r: BufReader<&'a mut dyn Read>,
    hash: ring::digest::Context,
    bytes: u64,
}

impl In<'_> {
    fn exact(&mut self, n: usize, buf: &mut Vec<u8>) -> Result<()> {
        buf.clear();
        // Read what arrives instead of allocating a length the file claims.
        (&mut self.r)
            .take(n as u64)
            .read_to_end(buf)
            .map_err(|e| bad(format!("reading the backup: {e}")))?;
        if buf.len() != n {
            return Err(bad("the backup is truncated"));
        }
        self.hash.update(buf);
        self.bytes += n as u64;
        Ok(())
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut buf = Vec::with_capacity(N);
        self.exact(N, &mut buf)?;
        Ok(buf.try_into().expect("N bytes"))
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    /// A length-prefixed field of at most `max` bytes into `buf`.
    fn field(&mut self, wide: bool, max: usize, what: &str, buf: &mut Vec<u8>) -> Result<()> {
        let n = if wide {
            self.u32()? as usize
        } else {
            self.u8()? as usize
        };
        if n > max {
            return Err(bad(format!("{what} of {n} bytes (at most {max})")));
        }
        self.exact(n, buf)
    }
}

/// Writes one table's rows.
fn dump_table<K: Key + 'static, V: Value + 'static>(
    txn: &ReadTransaction,
    def: TableDefinition<'_, K, V>,
    out: &mut Out<'_>,
) -> Result<()> {
    let table = match txn.open_table(def) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    out.put(&[TAG_TABLE])?;
    out.bytes8(def.name().as_bytes())?;
    out.summary.tables += 1;
    for row in table.iter()? {
        let (k, v) = row?;
        out.put(&[TAG_ROW])?;
        out.bytes32(K::as_bytes(&k.value()).as_ref())?;
        out.bytes32(V::as_bytes(&v.value()).as_ref())?;
        out.summary.rows += 1;
    }
    Ok(())
}

/// Reads one table's rows into the (emptied) table; returns the tag after them.
fn load_table<K: Key + Wire + 'static, V: Wire + 'static>(
    txn: &WriteTransaction,
    def: TableDefinition<'_, K, V>,
    input: &mut In<'_>,
    summary: &mut Summary,
) -> Result<u8> {
    let mut table = txn.open_table(def)?;
    let (mut key, mut value) = (Vec::new(), Vec::new());
    loop {
        let tag = input.u8()?;
        if tag != TAG_ROW {
            return Ok(tag);
        }
        input.field(true, MAX_KEY_BYTES, "a key", &mut key)?;
        input.field(true, MAX_VALUE_BYTES, "a value", &mut value)?;
        if !K::valid(&key) || !V::valid(&value) {
            return Err(bad(format!("a malformed row in table {}", def.name())));
        }
        table.insert(K::from_bytes(&key), V::from_bytes(&value))?;
        summary.rows += 1;
    }
}

/// One table's name and its dump, load and clear functions.
struct TableOps {
    name: String,
    dump: fn(&ReadTransaction, &mut Out<'_>) -> Result<()>,
    load: fn(&WriteTransaction, &mut In<'_>, &mut Summary) -> Result<u8>,
    clear: fn(&WriteTransaction) -> Result<()>,
}

/// The one list of tables: a backup holds each of them, a restore empties and refills them.
macro_rules! every_table {
    ($($t:ident),* $(,)?) => {
        fn tables() -> Vec<TableOps> {
            vec![$(TableOps {
                name: $t.name().to_string(),
                dump: |txn, out| dump_table(txn, $t, out),
                load: |txn, input, summary| load_table(txn, $t, input, summary),
                clear: |txn| {
                    txn.delete_table($t)?;
                    txn.open_table($t)?;
                    Ok(())
                },
            }),*]
        }
    };
}

every_table!(
    META,
    SETTINGS,
    DOMAINS,
    USERS,
    USER_BY_EMAIL,
    MAILBOXES,
    MAILBOX_BY_NAME,
    MESSAGES,
    BODIES,
    CHUNKS,
    UPLOADS,
    SUMMARIES,
    PARKED,
    VANISHED,
    SUBSCRIPTIONS,
    TRAINING,
    QUEUE,
    QUEUE_DUE,
    SPAM_TOKENS,
    SPAM_TOTALS,
    SPAM_LEARNED,
    GREYLIST,
    GREYLIST_PASSED,
    STATE,
    ALIASES,
    LISTS,
    SIEVE_SCRIPTS,
    SIEVE_ACTIVE,
    VACATION_SENT,
);

/// Writes a backup of every table as `txn` sees it, then `files`.
pub(super) fn dump(
    txn: &ReadTransaction,
    files: &[DataFile],
    w: &mut dyn Write,
) -> Result<Summary> {
    let mut out = Out {
        w: BufWriter::with_capacity(64 * 1024, w),
        hash: ring::digest::Context::new(&ring::digest::SHA256),
        summary: Summary {
            schema: SCHEMA_VERSION,
            ..Summary::default()
        },
    };
    out.put(MAGIC)?;
    out.put(&FORMAT_VERSION.to_le_bytes())?;
    out.put(&SCHEMA_VERSION.to_le_bytes())?;
    for t in tables() {
        (t.dump)(txn, &mut out)?;
    }
    for f in files {
        if !valid_file_name(&f.name) || f.bytes.len() > MAX_FILE_BYTES {
            return Err(bad(format!("file {:?} cannot be backed up", f.name)));
        }
        out.put(&[TAG_FILE])?;
        out.bytes8(f.name.as_bytes())?;
        out.bytes32(&f.bytes)?;
        out.summary.files += 1;
    }
    out.put(&[TAG_END])?;
    let (rows, nfiles) = (out.summary.rows, out.summary.files);
    out.put(&rows.to_le_bytes())?;
    out.put(&nfiles.to_le_bytes())?;
    let digest = out.hash.clone().finish();
    out.w.write_all(digest.as_ref())?;
    out.summary.bytes += digest.as_ref().len() as u64;
    out.w.flush()?;
    Ok(out.summary)
}

/// Whether the store holds anything a restore would overwrite: users, messages, bodies or
/// queued mail.
pub(super) fn is_empty(txn: &WriteTransaction) -> Result<bool> {
    use redb::ReadableTableMetadata;
    Ok(txn.open_table(USERS)?.is_empty()?
        && txn.open_table(MESSAGES)?.is_empty()?
        && txn.open_table(BODIES)?.is_empty()?
        && txn.open_table(QUEUE)?.is_empty()?)
}

/// Empties every table and loads a backup into them; returns what it read and the files. The
/// caller checks and commits (or drops) the transaction.
pub(super) fn load(
    txn: &WriteTransaction,
    source: &mut dyn Read,
) -> Result<(Summary, Vec<DataFile>)> {
    let mut input = In {
        r: BufReader::with_capacity(64 * 1024, source),
        hash: ring::digest::Context::new(&ring::digest::SHA256),
        bytes: 0,
    };
    let magic: [u8; 16] = input
        .array()
        .map_err(|_| bad("this is not a mailnook backup"))?;
    if &magic != MAGIC {
        return Err(bad("this is not a mailnook backup"));
    }
    let format = input.u32()?;
    if format != FORMAT_VERSION {
        return Err(bad(format!(
            "backup format {format} is not known to this release (it reads format {FORMAT_VERSION})"
        )));
    }
    let mut summary = Summary {
        schema: input.u64()?,
        ..Summary::default()
    };
    if summary.schema > SCHEMA_VERSION {
        return Err(Error::NewerSchema {
            found: summary.schema,
            supported: SCHEMA_VERSION,
        });
    }
    if summary.schema == 0 {
        return Err(bad("the backup names schema version 0"));
    }
    let all = tables();
    for t in &all {
        (t.clear)(txn)?;
    }
    let mut seen = vec![false; all.len()];
    let mut files: Vec<DataFile> = Vec::new();
    let (mut name, mut bytes) = (Vec::new(), Vec::new());
    let mut tag = input.u8()?;
    loop {
        match tag {
            TAG_TABLE => {
                input.field(false, MAX_TABLE_NAME, "a table name", &mut name)?;
                let i = all
                    .iter()
                    .position(|t| t.name.as_bytes() == name.as_slice())
                    .ok_or_else(|| {
                        bad(format!(
                            "unknown table {:?} (a newer release's backup?)",
                            String::from_utf8_lossy(&name)
                        ))
                    })?;
                if std::mem::replace(&mut seen[i], true) {
                    return Err(bad(format!("table {} appears twice", all[i].name)));
                }
                summary.tables += 1;
                tag = (all[i].load)(txn, &mut input, &mut summary)?;
            }
            TAG_FILE => {
                if files.len() == MAX_FILES {
                    return Err(bad(format!("more than {MAX_FILES} files")));
                }
                input.field(false, MAX_FILE_NAME, "a file name", &mut name)?;
                let name = String::from_utf8(std::mem::take(&mut name))
                    .ok()
                    .filter(|n| valid_file_name(n))
                    .ok_or_else(|| bad("a file with a name that is not allowed"))?;
                if files.iter().any(|f| f.name == name) {
                    return Err(bad(format!("file {name} appears twice")));
                }
                input.field(true, MAX_FILE_BYTES, "a file", &mut bytes)?;
                files.push(DataFile {
                    name,
                    bytes: std::mem::take(&mut bytes),
                });
                summary.files += 1;
                tag = input.u8()?;
            }
            TAG_END => break,
            TAG_ROW => return Err(bad("a row outside any table")),
            other => return Err(bad(format!("unknown record tag {other:#04x}"))),
        }
    }
    let (rows, nfiles) = (input.u64()?, input.u64()?);
    let expected = input.hash.clone().finish();
    let mut found = [0u8; 32];
    input
        .r
        .read_exact(&mut found)
        .map_err(|_| bad("the backup is truncated (its checksum is missing)"))?;
    if found.as_slice() != expected.as_ref() {
        return Err(bad("the backup's checksum does not match: it is corrupt"));
    }
    if (rows, nfiles) != (summary.rows, summary.files) {
        return Err(bad("the backup's row count does not match its rows"));
    }
    let trailing = input
        .r
        .fill_buf()
        .map_err(|e| bad(format!("reading the backup: {e}")))?;
    if !trailing.is_empty() {
        return Err(bad("bytes follow the end of the backup"));
    }
    summary.bytes = input.bytes + 32;
    Ok((summary, files))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Delivery, Op, Store};
    use redb::ReadableDatabase;

    /// Every table a store file really has is in the backup's list.
    #[test]
    fn every_table_of_a_store_file_is_backed_up() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb"), 1 << 20).unwrap();
        fill(&store);
        let db = store.db().unwrap();
        let txn = db.begin_read().unwrap();
        let listed: Vec<String> = tables().into_iter().map(|t| t.name).collect();
        let mut found = 0;
        for t in txn.list_tables().unwrap() {
            found += 1;
            assert!(
                listed.iter().any(|n| n == t.name()),
                "table {} is missing from every_table!",
                t.name()
            );
        }
        assert_eq!(found, listed.len(), "every listed table exists");
        drop(txn);
        store.close();
    }

    fn fill(store: &Store) {
        let user = store.add_test_user("a@b.test");
        store
            .call_blocking(Op::SetSetting {
                key: "hostname".into(),
                value: Some("mx.b.test".into()),
            })
            .unwrap();
        // One message with two full chunks and a tail.
        let upload = store.new_upload();
        for i in 0..2u8 {
            store
                .call_blocking(Op::PutChunk {
                    upload,
                    data: vec![b'a' + i; crate::store::CHUNK_BYTES],
                })
                .unwrap();
        }
        store
            .call_blocking(Op::Deliver(Delivery {
                upload,
                chunks_sent: 2,
                prefix: b"Received: x\r\n".to_vec(),
                tail: b"tail\r\n".to_vec(),
                summary: crate::message::Summary::from_message(b"Subject: s\r\n\r\nx").encode(),
                internal_date: 5,
                recipients: vec![crate::store::LocalCopy::inbox(user)],
                quota: true,
                queue: None,
                junk: false,
            }))
            .unwrap();
        store
            .call_blocking(Op::SetState {
                key: "k".into(),
                value: Some(b"v".to_vec()),
            })
            .unwrap();
    }

    fn backup(store: &Store) -> Vec<u8> {
        let mut out = Vec::new();
        store
            .backup(
                &[DataFile {
                    name: "dkim/sel.ed25519.pem".into(),
                    bytes: b"PEM".to_vec(),
                }],
                &mut out,
            )
            .unwrap();
        out
    }

    fn restore(store: &Store, bytes: Vec<u8>) -> Result<(Summary, Vec<DataFile>)> {
        let (tx, rx) = std::sync::mpsc::channel();
        let summary = store.restore_blocking(Restore {
            source: Box::new(std::io::Cursor::new(bytes)),
            place_files: Box::new(move |files| {
                tx.send(files.to_vec()).unwrap();
                Ok(())
            }),
        })?;
        Ok((summary, rx.try_recv().unwrap_or_default()))
    }

    #[test]
    fn a_restored_store_backs_up_to_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let a = Store::open(&dir.path().join("a.redb"), 1 << 20).unwrap();
        fill(&a);
        let first = backup(&a);
        let b = Store::open(&dir.path().join("b.redb"), 1 << 20).unwrap();
        b.call_blocking(Op::AddDomain("other.test".into())).unwrap();
        let (summary, files) = restore(&b, first.clone()).unwrap();
        assert_eq!(summary.bytes, first.len() as u64);
        assert_eq!(files[0].name, "dkim/sel.ed25519.pem");
        assert_eq!(backup(&b), first, "the restored store is the same store");
        assert!(b.check().unwrap().is_empty());
        assert_eq!(b.domains().unwrap(), vec!["b.test"]);
        // New bodies after a restore do not collide with restored ones.
        fill_more(&b);
        assert!(b.check().unwrap().is_empty());
        // A store with users is refused.
        let again = restore(&b, first.clone()).unwrap_err();
        assert!(
            matches!(again, Error::Refused(Refusal::NotEmpty)),
            "{again}"
        );
        a.close();
        b.close();
    }

    fn fill_more(store: &Store) {
        let user = store.user("a@b.test").unwrap().unwrap().id;
        let upload = store.new_upload();
        store
            .call_blocking(Op::Deliver(Delivery {
                upload,
                chunks_sent: 0,
                prefix: Vec::new(),
                tail: b"Subject: t\r\n\r\ny".to_vec(),
                summary: crate::message::Summary::from_message(b"Subject: t\r\n\r\ny").encode(),
                internal_date: 6,
                recipients: vec![crate::store::LocalCopy::inbox(user)],
                quota: true,
                queue: None,
                junk: false,
            }))
            .unwrap();
    }

    #[test]
    fn truncated_or_corrupt_backups_leave_the_store_empty() {
        let dir = tempfile::tempdir().unwrap();
        let a = Store::open(&dir.path().join("a.redb"), 1 << 20).unwrap();
        fill(&a);
        let good = backup(&a);
        let b = Store::open(&dir.path().join("b.redb"), 1 << 20).unwrap();
        let cuts = [
            0,
            5,
            16,
            30,
            good.len() / 2,
            good.len() - 33,
            good.len() - 1,
        ];
        for cut in cuts {
            let e = restore(&b, good[..cut].to_vec()).unwrap_err();
            assert!(matches!(e, Error::Refused(Refusal::BadBackup(_))), "{e}");
        }
        for at in [20, 40, good.len() / 3, good.len() - 40, good.len() - 2] {
            let mut bad = good.clone();
            bad[at] ^= 0x20;
            let e = restore(&b, bad).unwrap_err();
            // Byte 20 is in the schema version, which is read (and refused) first.
            assert!(
                matches!(
                    e,
                    Error::Refused(Refusal::BadBackup(_)) | Error::NewerSchema { .. }
                ),
                "{e}"
            );
        }
        let mut long = good.clone();
        long.push(0);
        assert!(restore(&b, long).is_err());
        assert!(b.users().unwrap().is_empty(), "nothing was written");
        assert!(b.check().unwrap().is_empty());
        restore(&b, good).unwrap();
        assert_eq!(b.users().unwrap().len(), 1);
        a.close();
        b.close();
    }

    #[test]
    fn wire_checks_match_redb_encodings() {
        assert!(<(u64, &str)>::valid(&[1, 0, 0, 0, 0, 0, 0, 0, b'x']));
        assert!(!<(u64, &str)>::valid(&[1, 0, 0]));
        assert!(!<(u64, &str)>::valid(&[1, 0, 0, 0, 0, 0, 0, 0, 0xff]));
        assert!(<(u64, bool, u64)>::valid(&[0; 17]));
        assert!(!<(u64, bool, u64)>::valid(&[2; 17]));
        assert!(!<(u64, u64, u32)>::valid(&[0; 19]));
        assert!(<()>::valid(&[]) && !<()>::valid(&[0]));
        assert!(valid_file_name("tls/key.pem") && valid_file_name("dkim/s.rsa.pem"));
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "tls/.hidden",
            "a/b/c",
            "a\\b",
        ] {
            assert!(!valid_file_name(bad), "{bad}");
        }
    }
}

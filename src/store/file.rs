//! The database file's storage backend: redb's own file backend, plus page-cache hygiene.
//!
//! After each sync the byte ranges written since the previous sync are dropped from the
//! kernel's page cache (`posix_fadvise(DONTNEED)`; they are clean by then, and redb keeps what
//! it needs in its own cache). On kernels with large page-cache folios, a small write into a
//! clean large folio — left by a 64 KiB chunk write, or by readahead — dirties and writes back the
//! whole folio; redb rewrites small B-tree pages all the time, so without this a 4 KiB page
//! update could cost 64 KiB of writes. Readahead is turned off for the same reason (redb reads
//! single pages, never streams). Locking and everything else is redb's `FileBackend`.
//!
//! The file never has holes: when redb grows it, the new range is allocated on the disk first
//! (`fallocate`), so a full disk fails the growth (`ENOSPC`, [`super::Error::Full`]) rather than
//! a later write into a hole, and every page inside the file, once freed, can be written again
//! without new space: deleting mail on a full disk makes room for new mail. Holes left by an
//! older file are filled when it is opened, as far as space allows. A filesystem without
//! `fallocate` keeps redb's plain growth.

use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};
use std::fs::File;
use std::ops::Bound;
use std::sync::Mutex;

/// redb's file backend that also keeps the page cache from holding large clean folios.
#[derive(Debug)]
pub(super) struct DataFile {
    inner: FileBackend,
    /// A second handle on the same open file, for `fadvise`.
    advise: File,
    /// Ranges written since the last sync, as (start, end).
    written: Mutex<Vec<(u64, u64)>>,
}

impl DataFile {
    pub(super) fn new(file: File) -> std::io::Result<DataFile> {
        let advise = file.try_clone()?;
        // Whatever another program (a copy, a backup) left in the page cache goes too.
        let _ = rustix::fs::fadvise(&advise, 0, None, rustix::fs::Advice::DontNeed);
        let _ = rustix::fs::fadvise(&advise, 0, None, rustix::fs::Advice::Random);
        let inner = FileBackend::new(file).map_err(std::io::Error::other)?;
        if let Ok(len) = inner.len() {
            let _ = allocate(&advise, 0, len);
        }
        Ok(DataFile {
            inner,
            advise,
            written: Mutex::new(Vec::new()),
        })
    }

    fn drop_written(&self) {
        let mut ranges = std::mem::take(&mut *self.written.lock().expect("not poisoned"));
        ranges.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
        for (s, e) in ranges {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        for (s, e) in merged {
            let len = std::num::NonZeroU64::new(e - s);
            let _ = rustix::fs::fadvise(&self.advise, s, len, rustix::fs::Advice::DontNeed);
        }
    }
}

/// Allocates `len` bytes from `offset` on the disk (growing the file if they reach past its
/// end). A filesystem that cannot is left to allocate on write.
fn allocate(file: &File, offset: u64, len: u64) -> std::io::Result<()> {
    if len == 0 {
        return Ok(());
    }
    match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), offset, len) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::NOSYS) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

impl StorageBackend for DataFile {
    fn len(&self) -> Result<u64, std::io::Error> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        let old = self.inner.len()?;
        if len > old {
            allocate(&self.advise, old, len - old)?;
        }
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> Result<(), std::io::Error> {
        self.inner.sync_data()?;
        self.drop_written();
        Ok(())
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        self.inner.write(offset, data)?;
        self.written
            .lock()
            .expect("not poisoned")
            .push((offset, offset + data.len() as u64));
        Ok(())
    }
    fn close(&self) -> Result<(), std::io::Error> {
        self.inner.close()
    }
    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_range(start, end)
    }
    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }
    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_range(start, end)
    }
    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(start, end)
    }
    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.unlock_range(start, end)
    }
    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.query_lock_range(start, end)
    }
}

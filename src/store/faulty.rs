//! A storage backend over memory that fails chosen operations: the `store_ops` fuzz target
//! (`crate::fuzz`) runs the store on it to inject I/O errors where its input says.
//!
//! Invariants: the disk keeps the file twice, as the process sees it (every write that returned,
//! and the part of a torn write) and as a power cut leaves it (everything up to the last sync that
//! returned); clones share both. Once armed, every write, resize and sync counts, and the one
//! whose number a [`Fault`] names fails with `EIO` or `ENOSPC`. Reads never fail.

use std::sync::{Arc, Mutex};

/// A torn write leaves a multiple of this many bytes.
const SECTOR: usize = 512;

/// One planned failure: the `at`-th mutating call (write, resize or sync) after setup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// Which mutating call fails, counting from 1 after [`FaultyDisk::arm`].
    pub at: u32,
    /// `ENOSPC` rather than `EIO`.
    pub enospc: bool,
    /// A failed write leaves the first half of its sectors.
    pub torn: bool,
    /// For the caller: reopen on the bytes a power cut leaves, not the process's view. The disk
    /// itself ignores it.
    pub power_cut: bool,
}

#[derive(Debug, Default)]
struct Disk {
    /// The file as the process sees it.
    live: Vec<u8>,
    /// The file as of the last sync that returned.
    durable: Vec<u8>,
    /// Mutating calls since the plan was armed.
    calls: u32,
    armed: bool,
    plan: Vec<Fault>,
    /// Faults that fired and have not been taken by [`FaultyDisk::take_fired`].
    fired: Vec<Fault>,
}

/// A redb backend over memory that fails where the plan says; clones share the bytes.
#[derive(Debug, Clone, Default)]
pub struct FaultyDisk(Arc<Mutex<Disk>>);

impl FaultyDisk {
    /// A disk holding `image`, armed with `plan`, its call counter at `calls` (to go on with the
    /// plan of the disk the image came from).
    pub fn on(image: Vec<u8>, plan: Vec<Fault>, calls: u32) -> FaultyDisk {
        FaultyDisk(Arc::new(Mutex::new(Disk {
            durable: image.clone(),
            live: image,
            calls,
            armed: true,
            plan,
            fired: Vec::new(),
        })))
    }

    fn disk(&self) -> std::sync::MutexGuard<'_, Disk> {
        self.0.lock().expect("not poisoned")
    }

    /// Counts a mutating call and answers whether it fails.
    fn fault(&self) -> Option<Fault> {
        let mut d = self.disk();
        if !d.armed {
            return None;
        }
        d.calls += 1;
        let calls = d.calls;
        let f = d.plan.iter().copied().find(|f| f.at == calls)?;
        d.fired.push(f);
        Some(f)
    }

    /// Starts counting mutating calls; the `plan[i].at`-th one fails.
    pub fn arm(&self, plan: Vec<Fault>) {
        let mut d = self.disk();
        d.plan = plan;
        d.armed = true;
    }

    /// The faults that fired since the last call.
    pub fn take_fired(&self) -> Vec<Fault> {
        std::mem::take(&mut self.disk().fired)
    }

    /// The file as a power cut leaves it (`power_cut`), or as the process sees it.
    pub fn image(&self, power_cut: bool) -> Vec<u8> {
        let d = self.disk();
        if power_cut {
            d.durable.clone()
        } else {
            d.live.clone()
        }
    }

    /// Mutating calls counted since the disk was armed.
    pub fn calls(&self) -> u32 {
        self.disk().calls
    }
}

fn io_error(f: Fault) -> std::io::Error {
    std::io::Error::from_raw_os_error(if f.enospc { 28 } else { 5 })
}

impl redb::StorageBackend for FaultyDisk {
    fn len(&self) -> Result<u64, std::io::Error> {
        Ok(self.disk().live.len() as u64)
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        let d = self.disk();
        let start = usize::try_from(offset).map_err(std::io::Error::other)?;
        let src = d
            .live
            .get(start..start + out.len())
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))?;
        out.copy_from_slice(src);
        Ok(())
    }
    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        if let Some(f) = self.fault() {
            return Err(io_error(f));
        }
        let len = usize::try_from(len).map_err(std::io::Error::other)?;
        self.disk().live.resize(len, 0);
        Ok(())
    }
    fn sync_data(&self) -> Result<(), std::io::Error> {
        if let Some(f) = self.fault() {
            return Err(io_error(f));
        }
        let mut d = self.disk();
        d.durable = d.live.clone();
        Ok(())
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        let fault = self.fault();
        let len = match fault {
            Some(f) if f.torn => (data.len() / 2) & !(SECTOR - 1),
            Some(_) => 0,
            None => data.len(),
        };
        let start = usize::try_from(offset).map_err(std::io::Error::other)?;
        let mut d = self.disk();
        if start + len > d.live.len() {
            d.live.resize(start + len, 0);
        }
        d.live[start..start + len].copy_from_slice(&data[..len]);
        match fault {
            Some(f) => Err(io_error(f)),
            None => Ok(()),
        }
    }
}

//! Streaming body reads, and the pins that keep a body's bytes alive while they are read.
//!
//! A [`BodyReader`] reads one body as a single byte space (prefix, then chunks, then the inline
//! tail), each [`BodyReader::read_at`] in its own short read transaction, so an IMAP FETCH of a
//! large message never holds a transaction across an `.await` and never holds the message in
//! memory.
//!
//! Invariant: while a reader exists, the writer does not delete its body's chunks. The pin table
//! below is shared by readers and the writer:
//! - `open_body` pins first and reads the committed body row second. A body whose deletion the
//!   writer has decided in its open transaction but not yet committed is *dying*; pinning it
//!   fails (its committed row may still be there, but will not be for long).
//! - When a body's last message row goes, the writer (under the table's lock) either marks it
//!   dying and deletes it in the open transaction, or, if readers pin it, *parks* it: the row
//!   stays with `refs` 0, with its summary and chunks, and a `PARKED` row records it on disk.
//! - The last reader of a parked body queues it for collection and wakes the writer, which
//!   deletes it (unless it was pinned again) in its open transaction.
//! - Dying marks are cleared once the commit that deleted the body is durable (or dropped with
//!   the transaction if it failed). A parked deletion interrupted by a crash is finished at the
//!   next open, from the `PARKED` table: pins do not survive the process, so nothing is left.

use super::schema::{BODIES, BodyView, CHUNK_BYTES, CHUNKS};
use super::{BodyId, Error, Request, Result, Shared, Store, Work};
use redb::ReadableDatabase;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
struct Pins {
    /// Body id → live readers.
    readers: HashMap<u64, u32>,
    /// Bodies whose deletion waits for their readers.
    parked: HashSet<u64>,
    /// Parked bodies whose readers are gone, for the writer to collect.
    collect: Vec<u64>,
    /// Bodies deleted in the writer's open transaction.
    dying: HashSet<u64>,
}

/// Readers' pins on bodies and the deletions parked for them; see the module header.
#[derive(Debug, Default)]
pub(super) struct PinTable(Mutex<Pins>);

impl PinTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pins> {
        self.0.lock().expect("not poisoned")
    }

    /// Pins a body for a new reader; false if its deletion is under way.
    fn pin(&self, body: u64) -> bool {
        let mut p = self.lock();
        if p.dying.contains(&body) {
            return false;
        }
        *p.readers.entry(body).or_default() += 1;
        true
    }

    /// Drops one reader's pin; true if that released a parked body (the writer must be woken).
    fn unpin(&self, body: u64) -> bool {
        let mut p = self.lock();
        let Some(n) = p.readers.get_mut(&body) else {
            return false;
        };
        *n -= 1;
        if *n > 0 {
            return false;
        }
        p.readers.remove(&body);
        if p.parked.remove(&body) {
            p.collect.push(body);
            return true;
        }
        false
    }

    /// The writer drops a body's last reference: true to park it (readers pin it), false if the
    /// caller deletes it now (it is then marked dying).
    pub(super) fn park_or_doom(&self, body: u64) -> bool {
        let mut p = self.lock();
        if p.readers.contains_key(&body) {
            p.parked.insert(body);
            true
        } else {
            p.dying.insert(body);
            false
        }
    }

    /// Parked bodies whose readers let go; each is marked dying (the caller deletes it).
    pub(super) fn take_collectable(&self) -> Vec<u64> {
        let mut p = self.lock();
        let Pins {
            readers,
            parked,
            collect,
            dying,
        } = &mut *p;
        let mut out = std::mem::take(collect);
        // Pinned again since (an open that found the row before the writer collected it): parked
        // again, collected when that reader goes.
        out.retain(|b| {
            let pinned = readers.contains_key(b);
            if pinned {
                parked.insert(*b);
            }
            !pinned
        });
        dying.extend(out.iter().copied());
        out
    }

    /// At open: whether a body found in `PARKED` is still pinned (after a reopen, readers of
    /// the old handle may live on); if so it stays parked.
    pub(super) fn keep_parked(&self, body: u64) -> bool {
        let mut p = self.lock();
        if p.readers.contains_key(&body) {
            p.parked.insert(body);
            true
        } else {
            false
        }
    }

    /// The commit deleting these bodies is durable (or was abandoned).
    pub(super) fn settled(&self, bodies: &[u64]) {
        let mut p = self.lock();
        for b in bodies {
            p.dying.remove(b);
        }
    }

    /// The database is being reopened: forget decisions of the lost transaction (`prepare`
    /// rebuilds the parked set from disk).
    pub(super) fn reset(&self) {
        let mut p = self.lock();
        p.dying.clear();
        p.parked.clear();
        p.collect.clear();
    }

    /// Readers alive (for tests and diagnostics).
    fn readers(&self) -> usize {
        self.lock().readers.values().map(|n| *n as usize).sum()
    }
}

/// Reads one body's bytes (trace prefix, then data) at any offset, keeping the body alive until
/// dropped. See the module header of `store::body` for the pinning rules.
pub struct BodyReader {
    shared: Arc<Shared>,
    body: u64,
    size: u64,
    prefix_len: u64,
    chunks: u32,
}

impl std::fmt::Debug for BodyReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyReader")
            .field("body", &self.body)
            .field("size", &self.size)
            .finish()
    }
}

impl Drop for BodyReader {
    fn drop(&mut self) {
        if self.shared.pins.unpin(self.body) {
            // Wake the writer; if the queue is full or closed, the next batch (or the next open)
            // collects it anyway.
            let (reply, _) = async_channel::bounded(1);
            let _ = self.shared.tx.try_send(Request {
                work: Work::Collect,
                reply,
            });
        }
    }
}

fn io_error(e: impl Into<Error>) -> std::io::Error {
    std::io::Error::other(e.into())
}

impl BodyReader {
    /// The body read.
    pub fn body(&self) -> BodyId {
        BodyId(self.body)
    }

    /// Total size in bytes (prefix and data).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Length of the trace prefix written at delivery, the first bytes of the body.
    pub fn prefix_len(&self) -> u64 {
        self.prefix_len
    }

    /// Reads from `offset` into `buf` in one short read transaction; returns the bytes read,
    /// 0 at or past the end. Blocking (a few page reads): fine on the executor thread for one
    /// chunk at a time, never across an `.await`.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        if offset >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let db = self
            .shared
            .db
            .read()
            .expect("not poisoned")
            .clone()
            .ok_or(Error::Unavailable)
            .map_err(io_error)?;
        let txn = db.begin_read().map_err(io_error)?;
        let bodies = txn.open_table(BODIES).map_err(io_error)?;
        let row = bodies
            .get(self.body)
            .map_err(io_error)?
            .ok_or_else(|| io_error(Error::Corrupt("pinned body missing")))?;
        let view =
            BodyView::parse(row.value()).ok_or_else(|| io_error(Error::Corrupt("body row")))?;
        let chunk_end = self.prefix_len + u64::from(self.chunks) * CHUNK_BYTES as u64;
        let mut chunks = None;
        let mut pos = offset;
        let mut n = 0;
        while n < buf.len() && pos < self.size {
            let out = &mut buf[n..];
            let copied = if pos < self.prefix_len {
                copy_from(view.prefix, pos as usize, out)
            } else if pos < chunk_end {
                let within = pos - self.prefix_len;
                let seq = (within / CHUNK_BYTES as u64) as u32;
                if chunks.is_none() {
                    chunks = Some(txn.open_table(CHUNKS).map_err(io_error)?);
                }
                let chunk = chunks
                    .as_ref()
                    .expect("opened above")
                    .get((self.body, seq))
                    .map_err(io_error)?
                    .ok_or_else(|| io_error(Error::Corrupt("chunk missing")))?;
                copy_from(chunk.value(), (within % CHUNK_BYTES as u64) as usize, out)
            } else {
                copy_from(view.inline, (pos - chunk_end) as usize, out)
            };
            if copied == 0 {
                return Err(io_error(Error::Corrupt("body shorter than its size")));
            }
            n += copied;
            pos += copied as u64;
        }
        Ok(n)
    }
}

fn copy_from(src: &[u8], at: usize, out: &mut [u8]) -> usize {
    let src = src.get(at..).unwrap_or_default();
    let n = src.len().min(out.len());
    out[..n].copy_from_slice(&src[..n]);
    n
}

impl Store {
    /// Opens a body for reading and pins it: its bytes stay readable until the reader is dropped,
    /// even if its messages are expunged meanwhile. `None` if there is no such body (or it is
    /// being deleted).
    pub fn open_body(&self, body: BodyId) -> Result<Option<BodyReader>> {
        if !self.shared.pins.pin(body.0) {
            return Ok(None);
        }
        // From here on, dropping `reader` unpins.
        let mut reader = BodyReader {
            shared: self.shared.clone(),
            body: body.0,
            size: 0,
            prefix_len: 0,
            chunks: 0,
        };
        let txn = self.db()?.begin_read()?;
        let t = txn.open_table(BODIES)?;
        let Some(row) = t.get(body.0)? else {
            return Ok(None);
        };
        let view = BodyView::parse(row.value()).ok_or(Error::Corrupt("body row"))?;
        if view.refs == 0 {
            return Ok(None); // parked: no message shows it any more
        }
        reader.size = view.size;
        reader.prefix_len = view.prefix.len() as u64;
        reader.chunks = view.chunks;
        Ok(Some(reader))
    }

    /// Readers alive right now (all bodies).
    #[doc(hidden)]
    pub fn body_readers(&self) -> usize {
        self.shared.pins.readers()
    }
}

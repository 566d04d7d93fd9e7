//! Room on the filesystem that holds the store, and what the last write learned about it.
//!
//! Invariants:
//! - A write that failed with [`super::Error::Full`] marks the store full; the next commit that
//!   succeeds clears the mark (a deletion made room inside the file), and so does the
//!   filesystem showing more free space than it had at the failure (the disk was grown or other
//!   files removed). Until then [`Space::known_full`] says so, and callers refuse new mail early
//!   instead of receiving a message the store cannot keep (RFC 1870 §6.1, RFC 3463 §3.4 X.3.1).
//! - For new mail the mark is a hint, never a lock: [`FULL_RETRY`] after the failure
//!   [`Space::known_full`] stops heeding it, so one message may try again even if nothing visible
//!   changed (redb reuses pages freed inside the file, which `statvfs` does not show). Work that
//!   must not run unless its outcome can be recorded (an outbound attempt: a remote server's 250
//!   that cannot be written down means sending the message again) asks
//!   [`Space::writes_failing`], which heeds the mark until a commit succeeds or room appears.
//! - Free space is read with `statvfs`, which answers from the kernel's in-memory counters of a
//!   local filesystem without disk I/O; it is read once per call, never cached.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a failure's mark holds without any sign of room.
pub const FULL_RETRY: Duration = Duration::from_secs(60);

/// A failed write for lack of space.
#[derive(Debug, Clone, Copy)]
struct Failure {
    at: Instant,
    /// Free bytes on the filesystem right after it (`None`: unknown).
    available: Option<u64>,
}

/// The store's view of its filesystem's room.
#[derive(Debug, Default)]
pub(super) struct Space {
    /// The folder holding the database file (`None` for a caller-supplied backend).
    dir: Option<PathBuf>,
    failure: Mutex<Option<Failure>>,
}

impl Space {
    pub(super) fn new(dir: Option<PathBuf>) -> Space {
        Space {
            dir,
            failure: Mutex::new(None),
        }
    }

    /// Bytes an unprivileged writer may still use on the store's filesystem, if known.
    pub(super) fn available(&self) -> Option<u64> {
        let st = rustix::fs::statvfs(self.dir.as_ref()?).ok()?;
        Some(st.f_bavail.saturating_mul(st.f_frsize))
    }

    /// A write failed for lack of space.
    pub(super) fn failed(&self) {
        let available = self.available();
        *self.failure.lock().expect("not poisoned") = Some(Failure {
            at: Instant::now(),
            available,
        });
    }

    /// A commit succeeded; returns whether that cleared a mark.
    pub(super) fn wrote(&self) -> bool {
        let mut f = self.failure.lock().expect("not poisoned");
        let cleared = f.take().is_some();
        if cleared {
            log::info!("store: writes succeed again");
        }
        cleared
    }

    /// Whether a new message of `size` bytes (if announced) should be refused for lack of
    /// space: free space below `reserve`, the announced size not fitting above it, or a recent
    /// write failure with no sign of room since.
    pub(super) fn known_full(&self, reserve: u64, size: Option<u64>) -> bool {
        let available = self.available();
        if let Some(a) = available
            && (a < reserve || size.is_some_and(|s| s > a - reserve))
        {
            return true;
        }
        self.marked(available, Some(FULL_RETRY))
    }

    /// Whether a write failed for lack of space and neither a successful commit nor more free
    /// space has shown room since (the mark never lapses here).
    pub(super) fn writes_failing(&self) -> bool {
        self.marked(self.available(), None)
    }

    /// Whether the failure mark stands, given the free space now: more of it than at the failure
    /// clears the mark; a mark older than `lapse` is not heeded (but kept).
    fn marked(&self, available: Option<u64>, lapse: Option<Duration>) -> bool {
        let mut failure = self.failure.lock().expect("not poisoned");
        let Some(f) = *failure else { return false };
        let grown = matches!((available, f.available), (Some(now), Some(then)) if now > then);
        if grown {
            *failure = None;
            return false;
        }
        lapse.is_none_or(|lapse| f.at.elapsed() < lapse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_marks_full_until_a_commit_succeeds() {
        let s = Space::new(None);
        assert!(!s.known_full(0, None));
        s.failed();
        assert!(s.known_full(0, None));
        assert!(s.known_full(0, Some(1)));
        s.wrote();
        assert!(!s.known_full(0, None));
    }

    #[test]
    fn the_reserve_and_an_announced_size_are_weighed_against_free_space() {
        let dir = tempfile::tempdir().unwrap();
        let s = Space::new(Some(dir.path().to_path_buf()));
        let free = s.available().expect("statvfs of a temporary folder");
        assert!(!s.known_full(0, None));
        assert!(!s.known_full(0, Some(free / 2)));
        assert!(s.known_full(0, Some(free + 1)));
        assert!(s.known_full(free + 1, None));
        assert!(s.known_full(free / 2, Some(free / 2 + 4096)));
    }

    #[test]
    fn more_free_space_than_at_the_failure_clears_the_mark() {
        let dir = tempfile::tempdir().unwrap();
        let s = Space::new(Some(dir.path().to_path_buf()));
        *s.failure.lock().unwrap() = Some(Failure {
            at: Instant::now(),
            available: Some(0),
        });
        assert!(!s.known_full(0, None));
        *s.failure.lock().unwrap() = Some(Failure {
            at: Instant::now() - FULL_RETRY,
            available: Some(u64::MAX),
        });
        assert!(!s.known_full(0, None), "the mark lapses for new mail");
        assert!(
            s.writes_failing(),
            "but not for work that must record its outcome"
        );
        s.wrote();
        assert!(!s.writes_failing(), "a commit clears it");
    }

    #[test]
    fn writes_fail_until_a_commit_succeeds_or_room_appears() {
        let dir = tempfile::tempdir().unwrap();
        let s = Space::new(Some(dir.path().to_path_buf()));
        assert!(!s.writes_failing());
        s.failed();
        assert!(s.writes_failing());
        s.wrote();
        assert!(!s.writes_failing());
        *s.failure.lock().unwrap() = Some(Failure {
            at: Instant::now(),
            available: Some(0),
        });
        assert!(!s.writes_failing(), "more free space than at the failure");
    }
}

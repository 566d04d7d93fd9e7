//! Stored MIME summaries against their messages: `mailnook check` reports the bodies whose stored
//! summary differs from a parse of their bytes, `mailnook reparse` rewrites those summaries, and
//! a server that starts on summaries an older [`SUMMARY_REVISION`] made rewrites them by itself.
//!
//! A summary is made once, when a message is delivered or appended, and IMAP answers ENVELOPE,
//! BODYSTRUCTURE and SEARCH from it. A parser fix therefore reaches messages stored before it
//! only through a reparse, as does a summary row that was damaged. The store records, under
//! [`REVISION_KEY`], the revision its summaries were last brought to; it is written only after
//! a whole pass, so a pass cut short (a stop, a crash) runs again at the next start. A pass is
//! idempotent: it rewrites only summaries that differ.
//!
//! Invariant: a live body's summary is what [`MimeParser::after_prefix`] (default limits, the
//! body's prefix length) gives for its stored bytes, which is what delivery's
//! `finish_with_prefix` gave. The bytes are read one buffer at a time, so memory stays bounded
//! by the parser's limits whatever the message's size. Blocking: runs in the CLI process or a
//! worker thread of the server, never on the executor.

use crate::message::mime::{MimeLimits, MimeParser};
use crate::message::summary::SUMMARY_REVISION;
use crate::store::{self, BodyId, Op, Store};

/// The store state key holding the [`SUMMARY_REVISION`] the stored summaries were brought to, as
/// 8 little-endian bytes. A store without it predates the record: revision 0.
pub const REVISION_KEY: &str = "summaries.revision";

/// Bytes read from a body at a time.
const READ_BYTES: usize = 64 * 1024;

/// Summaries rewritten per commit by [`reparse`].
const BATCH: usize = 64;

/// Body ids named in [`check`]'s report line; the rest are counted.
const NAMED: usize = 10;

/// What a parse of one body's stored bytes found.
enum Finding {
    /// The stored summary differs from the one the parse gives, which is this (encoded).
    Stale(Vec<u8>),
    /// The body's bytes could not be read (the store's own check names the damage).
    Unreadable(String),
}

/// The summary `body`'s stored bytes give, encoded; `None` if the body is gone (expunged since
/// it was listed).
fn fresh_summary(store: &Store, body: BodyId) -> Result<Option<Vec<u8>>, String> {
    let Some(reader) = store.open_body(body).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let prefix_len = usize::try_from(reader.prefix_len()).unwrap_or(usize::MAX);
    let mut parser = MimeParser::after_prefix(MimeLimits::default(), prefix_len);
    let mut buf = vec![0; READ_BYTES];
    let mut at = 0;
    loop {
        let n = reader.read_at(at, &mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        parser.feed(&buf[..n]);
        at += n as u64;
    }
    Ok(Some(parser.finish().encode()))
}

/// Calls `found` for each of `bodies` whose stored summary differs from a parse of its bytes, or
/// whose bytes cannot be read, until `stop` says so (it is asked before each body). Returns how
/// many bodies were read: all of them unless `stop` cut the pass short.
fn for_each_finding(
    store: &Store,
    bodies: &[BodyId],
    stop: &dyn Fn() -> bool,
    mut found: impl FnMut(BodyId, Finding) -> store::Result<()>,
) -> store::Result<usize> {
    for (read, &body) in bodies.iter().enumerate() {
        if stop() {
            return Ok(read);
        }
        match fresh_summary(store, body) {
            Ok(None) => {}
            Ok(Some(fresh)) => {
                if store.summary(body)?.as_deref() != Some(fresh.as_slice()) {
                    found(body, Finding::Stale(fresh))?;
                }
            }
            Err(e) => found(body, Finding::Unreadable(e))?,
        }
    }
    Ok(bodies.len())
}

/// `check`'s part: one line naming the bodies whose summary is stale, and one per body that
/// could not be read.
pub fn check(store: &Store) -> store::Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut stale = Vec::new();
    let mut count = 0u64;
    for_each_finding(store, &store.live_bodies()?, &|| false, |body, finding| {
        match finding {
            Finding::Stale(_) => {
                count += 1;
                if stale.len() < NAMED {
                    stale.push(body.0.to_string());
                }
            }
            Finding::Unreadable(e) => {
                problems.push(format!("body {}: reading it for its summary: {e}", body.0))
            }
        }
        Ok(())
    })?;
    if count > 0 {
        problems.push(format!(
            "stale summaries (they differ from a parse of their message's bytes): {count}, bodies {}{}; `mailnook reparse` rewrites them",
            stale.join(", "),
            if count > NAMED as u64 { ", …" } else { "" }
        ));
    }
    Ok(problems)
}

/// What [`reparse`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reparsed {
    /// Bodies read.
    pub read: u64,
    /// Summaries rewritten.
    pub rewritten: u64,
    /// Bodies whose bytes could not be read, with why; their summaries are left as they are.
    pub unreadable: Vec<(BodyId, String)>,
    /// Every listed body was read: no stop cut the pass short.
    pub whole: bool,
}

/// `reparse`: rewrites every stale summary, [`BATCH`] to a commit. A message expunged meanwhile
/// is skipped (the writer writes no summary for a body that is gone).
pub fn reparse(store: &Store) -> store::Result<Reparsed> {
    reparse_until(store, &store.live_bodies()?, &|| false)
}

/// [`reparse`] of `bodies` until `stop` says so.
fn reparse_until(
    store: &Store,
    bodies: &[BodyId],
    stop: &dyn Fn() -> bool,
) -> store::Result<Reparsed> {
    let mut batch = Vec::new();
    let mut rewritten = 0;
    let mut unreadable = Vec::new();
    let read = for_each_finding(store, bodies, stop, |body, finding| {
        match finding {
            Finding::Stale(fresh) => {
                batch.push((body, fresh));
                rewritten += 1;
                if batch.len() == BATCH {
                    store.call_blocking(Op::SetSummaries(std::mem::take(&mut batch)))?;
                }
            }
            Finding::Unreadable(e) => unreadable.push((body, e)),
        }
        Ok(())
    })?;
    if !batch.is_empty() {
        store.call_blocking(Op::SetSummaries(batch))?;
    }
    Ok(Reparsed {
        read: read as u64,
        rewritten,
        unreadable,
        whole: read == bodies.len(),
    })
}

/// The [`SUMMARY_REVISION`] the stored summaries were brought to (0: none recorded).
pub fn stored_revision(store: &Store) -> store::Result<u64> {
    Ok(store
        .state(REVISION_KEY)?
        .and_then(|v| Some(u64::from_le_bytes(v.try_into().ok()?)))
        .unwrap_or(0))
}

/// At a server's start: if the stored summaries are of an older revision than this binary's
/// parser, reparses every message (until `stop` says so) and, once the pass is whole, records
/// [`SUMMARY_REVISION`]. `None` when nothing was due or there was nothing to read; else what the
/// pass did. A store of a newer revision (a downgrade) is left alone.
/// Blocking.
pub fn upgrade(store: &Store, stop: &dyn Fn() -> bool) -> store::Result<Option<Reparsed>> {
    let from = stored_revision(store)?;
    if from >= SUMMARY_REVISION {
        return Ok(None);
    }
    let bodies = store.live_bodies()?;
    if !bodies.is_empty() {
        log::info!(
            "summaries: made by revision {from}, this server makes {SUMMARY_REVISION}; stored messages to reparse: {}",
            bodies.len()
        );
    }
    let done = reparse_until(store, &bodies, stop)?;
    if done.whole {
        store.call_blocking(Op::SetState {
            key: REVISION_KEY.to_string(),
            value: Some(SUMMARY_REVISION.to_le_bytes().to_vec()),
        })?;
    }
    Ok((!bodies.is_empty()).then_some(done))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Summary;
    use crate::store::{Delivery, LocalCopy};

    /// A store holding one delivered message whose summary is stale (it names another subject).
    fn store_with_a_stale_summary(dir: &tempfile::TempDir) -> Store {
        let store = Store::open(&dir.path().join("mail.redb"), 1 << 20).unwrap();
        let user = store.add_test_user("a@b.test");
        store
            .call_blocking(Op::Deliver(Delivery {
                upload: store.new_upload(),
                chunks_sent: 0,
                prefix: b"Received: x\r\n".to_vec(),
                tail: b"Subject: fresh\r\n\r\nbody\r\n".to_vec(),
                summary: Summary::from_message(b"Subject: stale\r\n\r\nx").encode(),
                internal_date: 5,
                recipients: vec![LocalCopy::inbox(user)],
                quota: true,
                queue: None,
                junk: false,
            }))
            .unwrap();
        store
    }

    fn subject(store: &Store) -> Option<String> {
        let body = store.live_bodies().unwrap()[0];
        Summary::decode(&store.summary(body).unwrap().unwrap())
            .unwrap()
            .subject
    }

    #[test]
    fn a_pass_cut_short_records_no_revision_and_the_next_start_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_a_stale_summary(&dir);
        assert_eq!(check(&store).unwrap().len(), 1);
        assert_eq!(stored_revision(&store).unwrap(), 0);

        let done = upgrade(&store, &|| true).unwrap().expect("due");
        assert!(!done.whole);
        assert_eq!((done.read, done.rewritten), (0, 0));
        assert_eq!(stored_revision(&store).unwrap(), 0, "not recorded");
        assert_eq!(subject(&store).as_deref(), Some("stale"));

        let done = upgrade(&store, &|| false).unwrap().expect("still due");
        assert!(done.whole);
        assert_eq!((done.read, done.rewritten), (1, 1));
        assert_eq!(stored_revision(&store).unwrap(), SUMMARY_REVISION);
        assert_eq!(subject(&store).as_deref(), Some("fresh"));
        assert!(check(&store).unwrap().is_empty());
        assert!(store.check().unwrap().is_empty());
        assert!(upgrade(&store, &|| false).unwrap().is_none(), "done once");
    }

    #[test]
    fn summaries_of_a_newer_revision_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_a_stale_summary(&dir);
        store
            .call_blocking(Op::SetState {
                key: REVISION_KEY.into(),
                value: Some((SUMMARY_REVISION + 1).to_le_bytes().to_vec()),
            })
            .unwrap();
        assert!(upgrade(&store, &|| false).unwrap().is_none());
        assert_eq!(subject(&store).as_deref(), Some("stale"));
        assert_eq!(stored_revision(&store).unwrap(), SUMMARY_REVISION + 1);
    }

    #[test]
    fn a_summary_for_a_body_that_is_gone_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_a_stale_summary(&dir);
        let body = store.live_bodies().unwrap()[0];
        store
            .call_blocking(Op::SetSummaries(vec![(BodyId(body.0 + 1), vec![1, 2, 3])]))
            .unwrap();
        assert_eq!(store.summary(BodyId(body.0 + 1)).unwrap(), None);
        assert!(store.check().unwrap().is_empty());
    }
}

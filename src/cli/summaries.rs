//! Stored MIME summaries against their messages: `mailnook check` reports the bodies whose stored
//! summary differs from a parse of their bytes, `mailnook reparse` rewrites those summaries.
//!
//! A summary is made once, when a message is delivered or appended, and IMAP answers ENVELOPE,
//! BODYSTRUCTURE and SEARCH from it. A parser fix therefore reaches messages stored before it
//! only through a reparse, as does a summary row that was damaged.
//!
//! Invariant: a live body's summary is what [`MimeParser::after_prefix`] (default limits, the
//! body's prefix length) gives for its stored bytes, which is what delivery's
//! `finish_with_prefix` gave. The bytes are read one buffer at a time, so memory stays bounded
//! by the parser's limits whatever the message's size. Blocking: runs in the CLI process or a
//! worker thread of the server, never on the executor.

use crate::message::mime::{MimeLimits, MimeParser};
use crate::store::{self, BodyId, Op, Store};

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

/// Calls `found` for every live body whose stored summary differs from a parse of its bytes, or
/// whose bytes cannot be read. Returns how many bodies were listed.
fn for_each_finding(
    store: &Store,
    mut found: impl FnMut(BodyId, Finding) -> store::Result<()>,
) -> store::Result<u64> {
    let bodies = store.live_bodies()?;
    for &body in &bodies {
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
    Ok(bodies.len() as u64)
}

/// `check`'s part: one line naming the bodies whose summary is stale, and one per body that
/// could not be read.
pub fn check(store: &Store) -> store::Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut stale = Vec::new();
    let mut count = 0u64;
    for_each_finding(store, |body, finding| {
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
            "{count} bodies have a summary that differs from a parse of their bytes (bodies {}{}); `mailnook reparse` rewrites them",
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
}

/// `reparse`: rewrites every stale summary, [`BATCH`] to a commit. A message expunged meanwhile
/// is skipped (the writer writes no summary for a body that is gone).
pub fn reparse(store: &Store) -> store::Result<Reparsed> {
    let mut batch = Vec::new();
    let mut rewritten = 0;
    let mut unreadable = Vec::new();
    let read = for_each_finding(store, |body, finding| {
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
        read,
        rewritten,
        unreadable,
    })
}

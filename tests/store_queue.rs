//! The outbound queue's rows through the store's public API: a delivery writes its local copies
//! and its queue row in one commit sharing one body; results settle recipients one by one; the
//! last settled recipient removes the row and its body reference in the same commit as any
//! report to the sender; retry and delete; rows and ids survive a reopen. Every step ends with
//! `check()` clean (it counts queue rows as body references).

mod store_support;

use mailnook::store::{
    Done, Error, NewQueued, Op, QueueId, QueueUpdate, RcptState, Refusal, Store,
};
use store_support::*;

fn open(dir: &std::path::Path) -> Store {
    Store::open(&dir.join("mail.redb"), 1 << 20).expect("open store")
}

fn queued_delivery(
    store: &Store,
    tag: &str,
    local: &[mailnook::store::UserId],
    remote: &[&str],
) -> QueueId {
    let up = upload(store, &payload(tag, 100_000));
    let mut d = delivery(up, tag, local);
    d.queue = Some(NewQueued {
        from: "alice@example.test".into(),
        rcpts: remote.iter().map(|s| s.to_string()).collect(),
        now: 1_700_000_000,
    });
    match store.call_blocking(Op::Deliver(d)) {
        Ok(Done::Delivered {
            queued: Some(id), ..
        }) => id,
        other => panic!("expected a queued delivery, got {other:?}"),
    }
}

fn update(id: QueueId, results: &[(&str, RcptState)], next: u64) -> Op {
    Op::QueueUpdate {
        update: Box::new(QueueUpdate {
            id,
            results: results
                .iter()
                .map(|(a, s)| (a.to_string(), *s, format!("250 ok for {a}")))
                .collect(),
            next_attempt: next,
            attempted: true,
            warned: false,
        }),
        report: None,
    }
}

#[test]
fn rows_share_the_body_settle_per_recipient_and_go_with_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let users = setup_users(&store, &["alice@example.test", "carol@example.test"]);
    let id = queued_delivery(
        &store,
        "q1",
        &users[1..],
        &["b@far.test", "c@far.test", "B@FAR.TEST"],
    );
    assert_checked(&store, "after enqueue");
    let rows = store.queue().unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.id, id);
    assert_eq!(
        row.rcpts.len(),
        2,
        "duplicates are kept once: {:?}",
        row.rcpts
    );
    assert_eq!(row.next_attempt, 1_700_000_000);
    // The local copy and the queue row name the same body.
    assert_eq!(store.messages(inbox(&store, users[1])).unwrap().len(), 1);
    let body = row.body;
    // One recipient delivered: the row stays with the other pending.
    store
        .call_blocking(update(
            id,
            &[("b@far.test", RcptState::Delivered)],
            1_700_000_300,
        ))
        .unwrap();
    let row = store.queued(id).unwrap().expect("still queued");
    assert_eq!(row.attempts, 1);
    assert_eq!(row.next_attempt, 1_700_000_300);
    assert_eq!(row.pending().count(), 1);
    assert_eq!(row.rcpts[0].state, RcptState::Delivered);
    assert_eq!(row.rcpts[0].last_result, "250 ok for b@far.test");
    assert_eq!(store.queue_schedule(10).unwrap(), vec![(1_700_000_300, id)]);
    assert_checked(&store, "after a partial result");
    // Retry makes it due; the last result removes the row; the local copy keeps the body.
    store
        .call_blocking(Op::QueueRetry {
            id: Some(id),
            now: 5,
        })
        .unwrap();
    assert_eq!(store.queued(id).unwrap().unwrap().next_attempt, 5);
    store
        .call_blocking(update(id, &[("c@far.test", RcptState::Failed)], 9))
        .unwrap();
    assert!(store.queued(id).unwrap().is_none());
    assert!(store.queue().unwrap().is_empty());
    assert!(
        store.open_body(body).unwrap().is_some(),
        "carol's copy keeps the body"
    );
    assert_checked(&store, "after the last result");
    // A result for a row that is gone is refused.
    assert!(matches!(
        store.call_blocking(update(id, &[("c@far.test", RcptState::Delivered)], 9)),
        Err(Error::Refused(Refusal::NoSuchQueued(_)))
    ));
}

#[test]
fn a_queue_only_message_is_freed_by_delete_and_ids_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    setup_users(&store, &["alice@example.test"]);
    let first = queued_delivery(&store, "q2", &[], &["x@far.test"]);
    let second = queued_delivery(&store, "q3", &[], &["y@far.test"]);
    assert_ne!(first, second);
    assert_checked(&store, "queue only");
    let body = store.queued(first).unwrap().unwrap().body;
    store.call_blocking(Op::QueueDelete(first)).unwrap();
    assert!(
        store.open_body(body).unwrap().is_none(),
        "the body went with the row"
    );
    assert_checked(&store, "after delete");
    store.close();
    let store = open(dir.path());
    let rows = store.queue().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id, second);
    assert_eq!(rows[0].rcpts[0].address, "y@far.test");
    let third = queued_delivery(&store, "q4", &[], &["z@far.test"]);
    assert!(
        third > second,
        "ids are never reused: {third:?} after {second:?}"
    );
    store
        .call_blocking(Op::QueueRetry { id: None, now: 1 })
        .unwrap();
    assert!(store.queue().unwrap().iter().all(|r| r.next_attempt == 1));
    assert_eq!(
        store.queue_schedule(10).unwrap(),
        vec![(1, second), (1, third)],
        "due order, then id"
    );
    store
        .call_blocking(Op::QueueRetry {
            id: Some(second),
            now: 7,
        })
        .unwrap();
    assert_eq!(store.queue_schedule(1).unwrap(), vec![(1, third)]);
    assert_checked(&store, "after reopen");
}

#[test]
fn a_report_lands_in_the_same_commit_as_the_last_result() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let users = setup_users(&store, &["alice@example.test"]);
    let id = queued_delivery(&store, "q5", &[], &["gone@far.test"]);
    let generation = store.queue_generation();
    let report = delivery(
        upload(&store, b"Subject: bounce\r\n\r\nsorry\r\n"),
        "dsn",
        &users,
    );
    store
        .call_blocking(Op::QueueUpdate {
            update: Box::new(QueueUpdate {
                id,
                results: vec![("gone@far.test".into(), RcptState::Failed, "550 no".into())],
                next_attempt: 0,
                attempted: true,
                warned: false,
            }),
            report: Some(Box::new(report)),
        })
        .unwrap();
    assert!(store.queue().unwrap().is_empty());
    assert_eq!(store.messages(inbox(&store, users[0])).unwrap().len(), 1);
    assert_ne!(
        store.queue_generation(),
        generation,
        "the scheduler is told"
    );
    assert_checked(&store, "after the report");
}

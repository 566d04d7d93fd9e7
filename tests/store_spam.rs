//! The spam model's token counts in the store: training a user's model trains the global one
//! too, untraining stops at zero and removes emptied tokens, the size bound prunes the least
//! recently trained tokens, deleting a user deletes their model, and `check()` stays clean.

mod store_support;

use mailnook::store::spam::{GLOBAL, TokenCount, Training};
use mailnook::store::{Op, Store};
use store_support::*;

fn train(store: &Store, user: u64, tokens: &[u64], spam: bool, learn: bool, day: u32, max: u64) {
    store
        .call_blocking(Op::SpamTrain(Training {
            user,
            tokens: tokens.to_vec(),
            spam,
            learn,
            day,
            max_tokens: max,
            body: None,
            seq: None,
        }))
        .expect("train");
}

#[test]
fn counts_per_user_and_global_untrain_and_prune() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("mail.redb"), 1 << 20).unwrap();
    let users = setup_users(&store, &["alice@example.test", "bob@example.test"]);
    let (alice, bob) = (users[0].0, users[1].0);
    train(&store, alice, &[1, 2, 3, 3], true, true, 100, 1000);
    train(&store, bob, &[3, 4], false, true, 101, 1000);
    assert_eq!(store.spam_totals(alice).unwrap(), (0, 1, 3));
    assert_eq!(store.spam_totals(bob).unwrap(), (1, 0, 2));
    assert_eq!(store.spam_totals(GLOBAL).unwrap(), (1, 1, 4));
    let c = store.spam_counts(GLOBAL, &[3, 9]).unwrap();
    assert_eq!(
        c[0],
        TokenCount {
            ham: 1,
            spam: 1,
            day: 101
        }
    );
    assert_eq!(c[1], TokenCount::default());
    assert_checked(&store, "after training");
    // A judgement reversed: alice's message was ham after all.
    train(&store, alice, &[1, 2, 3], true, false, 102, 1000);
    train(&store, alice, &[1, 2, 3], false, true, 102, 1000);
    assert_eq!(store.spam_totals(alice).unwrap(), (1, 0, 3));
    assert_eq!(
        store.spam_counts(alice, &[1]).unwrap()[0],
        TokenCount {
            ham: 1,
            spam: 0,
            day: 102
        }
    );
    // Untraining what was never trained stops at zero and keeps nothing.
    train(&store, bob, &[77], true, false, 103, 1000);
    assert_eq!(
        store.spam_counts(bob, &[77]).unwrap()[0],
        TokenCount::default()
    );
    assert_checked(&store, "after untraining");
    // The bound: 10 tokens at most; the oldest go first, down to 90 %.
    let many: Vec<u64> = (1000..1012).collect();
    train(&store, bob, &many[..6], false, true, 104, 10);
    train(&store, bob, &many[6..], false, true, 105, 10);
    let (_, _, held) = store.spam_totals(bob).unwrap();
    assert!(held <= 10, "{held}");
    // Day-105 tokens all stayed; the older ones went first.
    assert!(
        store
            .spam_counts(bob, &many[6..])
            .unwrap()
            .iter()
            .all(|c| c.ham == 1)
    );
    assert_eq!(
        store.spam_counts(bob, &[3]).unwrap()[0],
        TokenCount::default()
    );
    assert_checked(&store, "after pruning");
    // Deleting a user deletes their model (the global one keeps what it learned).
    store
        .call_blocking(Op::DelUser("bob@example.test".into()))
        .unwrap();
    assert_eq!(store.spam_totals(bob).unwrap(), (0, 0, 0));
    assert!(store.spam_totals(GLOBAL).unwrap().0 >= 1);
    assert_checked(&store, "after deleting a user");
}

//! Change notification: per-mailbox and per-user generations, bumped by the writer after each
//! commit, and futures that wait for them (IMAP IDLE, other sessions on the same mailbox).
//!
//! Generations live in memory only and start at 0. A waiter registers with an
//! [`event_listener::Event`] before it compares generations, so a bump between the comparison and
//! the wait is never missed. Events are sharded by id (a few per store, not one per mailbox), so
//! a commit wakes the waiters of its shards, who look at their own generation and go back to
//! sleep if it did not change.

use event_listener::Event;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// Events per kind; waiters of ids that share a shard wake each other.
const SHARDS: usize = 16;

#[derive(Debug, Default)]
struct Generations {
    mailboxes: HashMap<u64, u64>,
    users: HashMap<u64, u64>,
    queue: u64,
    training: u64,
}

/// Generations and their events.
#[derive(Debug)]
pub(super) struct Notify {
    gens: Mutex<Generations>,
    mailbox_events: [Event; SHARDS],
    user_events: [Event; SHARDS],
    queue_event: Event,
    training_event: Event,
}

impl Default for Notify {
    fn default() -> Notify {
        Notify {
            gens: Mutex::default(),
            mailbox_events: std::array::from_fn(|_| Event::new()),
            user_events: std::array::from_fn(|_| Event::new()),
            queue_event: Event::new(),
            training_event: Event::new(),
        }
    }
}

fn shard(id: u64) -> usize {
    (id % SHARDS as u64) as usize
}

impl Notify {
    pub(super) fn mailbox(&self, id: u64) -> u64 {
        let g = self.gens.lock().expect("not poisoned");
        g.mailboxes.get(&id).copied().unwrap_or(0)
    }

    pub(super) fn user(&self, id: u64) -> u64 {
        let g = self.gens.lock().expect("not poisoned");
        g.users.get(&id).copied().unwrap_or(0)
    }

    /// Called by the writer once a commit touching these is durable. Entries are never removed
    /// (a deleted mailbox's waiters must still see a change), so the maps grow by the number of
    /// mailboxes and users ever touched while the process runs.
    pub(super) fn queue(&self) -> u64 {
        self.gens.lock().expect("not poisoned").queue
    }

    pub(super) fn training(&self) -> u64 {
        self.gens.lock().expect("not poisoned").training
    }

    pub(super) fn publish(
        &self,
        mailboxes: &BTreeSet<u64>,
        users: &BTreeSet<u64>,
        queue: bool,
        training: bool,
    ) {
        if queue {
            self.gens.lock().expect("not poisoned").queue += 1;
            self.queue_event.notify(usize::MAX);
        }
        if training {
            self.gens.lock().expect("not poisoned").training += 1;
            self.training_event.notify(usize::MAX);
        }
        if mailboxes.is_empty() && users.is_empty() {
            return;
        }
        {
            let mut g = self.gens.lock().expect("not poisoned");
            for m in mailboxes {
                *g.mailboxes.entry(*m).or_default() += 1;
            }
            for u in users {
                *g.users.entry(*u).or_default() += 1;
            }
        }
        let mut woken = [false; SHARDS];
        for m in mailboxes {
            if !std::mem::replace(&mut woken[shard(*m)], true) {
                self.mailbox_events[shard(*m)].notify(usize::MAX);
            }
        }
        let mut woken = [false; SHARDS];
        for u in users {
            if !std::mem::replace(&mut woken[shard(*u)], true) {
                self.user_events[shard(*u)].notify(usize::MAX);
            }
        }
    }

    pub(super) async fn wait_mailbox(this: Arc<Notify>, id: u64, seen: u64) {
        loop {
            let listener = this.mailbox_events[shard(id)].listen();
            if this.mailbox(id) != seen {
                return;
            }
            listener.await;
        }
    }

    pub(super) async fn wait_queue(this: Arc<Notify>, seen: u64) {
        loop {
            let listener = this.queue_event.listen();
            if this.queue() != seen {
                return;
            }
            listener.await;
        }
    }

    pub(super) async fn wait_training(this: Arc<Notify>, seen: u64) {
        loop {
            let listener = this.training_event.listen();
            if this.training() != seen {
                return;
            }
            listener.await;
        }
    }

    pub(super) async fn wait_user(this: Arc<Notify>, id: u64, seen: u64) {
        loop {
            let listener = this.user_events[shard(id)].listen();
            if this.user(id) != seen {
                return;
            }
            listener.await;
        }
    }
}

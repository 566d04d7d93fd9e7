//! The outbound queue: a scheduler task on the executor thread that wakes at the earliest due
//! attempt (or when the queue changes), runs at most `queue.concurrency` attempts at once, and
//! records each attempt's per-recipient results, with any report to the sender, in one commit.
//!
//! Delivery is at-least-once: results are recorded only after an attempt ends, so a crash (or
//! kill -9) between a remote server's 250 and that commit sends the message again on restart.
//! Nothing acknowledged is ever lost: the queue row was committed before the client got its 250.
//! No attempt starts while the store's writes fail for lack of space, so a full disk does not
//! turn into the same message sent over and over.
//!
//! Retry policy: 4xx replies, connection and DNS trouble defer a recipient; the next attempt comes
//! after `queue.retry_base_secs · 2^(n-1)` (at most `queue.retry_max_secs`, ±20 % jitter). A 5xx
//! (or a null MX, or NXDOMAIN) fails it at once; a recipient still deferred when the message is
//! `queue.max_age_secs` old fails too. Failures are reported to the sender in one RFC 3464 report
//! per attempt; once the message is `queue.delay_warning_secs` old and still pending, the sender
//! is told once that it is delayed. Reports go straight into the sender's INBOX (they are never
//! queued, so they cannot loop), and never to the null sender.

pub mod retry;
pub mod transport;

use crate::config::Config;
use crate::dns::stub::{ConfiguredResolver, StubResolver};
use crate::message::dsn::{self, DsnInput, DsnKind, DsnRecipient};
use crate::proto::smtp::client::RcptResult;
use crate::store::{
    Delivery, LocalCopy, Op, QueueId, QueueUpdate, QueuedMessage, RcptState, Store,
};
use crate::tls::client::{ClientTls, Policy, Verification};
use async_executor::LocalExecutor;
use retry::Backoff;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// The original header quoted in a report at most (it must fit one stored chunk).
const REPORT_HEADER_BYTES: usize = 16 * 1024;
/// Longest sleep when nothing is due: the scheduler also wakes on every queue change.
const IDLE_WAKE: Duration = Duration::from_secs(3600);

/// What one attempt needs.
pub struct Env {
    /// The store.
    pub store: Store,
    /// Settings in force when the attempt started.
    pub config: Rc<Config>,
    /// The resolver.
    pub resolver: Rc<StubResolver>,
    /// TLS client roots, if they could be loaded.
    pub tls: Option<ClientTls>,
    /// Addresses found unreachable, shared by all attempts.
    pub unreachable: Rc<transport::Unreachable>,
    /// The daily counters (sent, refused).
    pub stats: Rc<crate::stats::Stats>,
}

impl Env {
    fn tls_config(
        &self,
        policy: Policy,
    ) -> Result<(Arc<rustls::ClientConfig>, Arc<Verification>), String> {
        let tls = self
            .tls
            .as_ref()
            .ok_or_else(|| "TLS client unavailable".to_string())?;
        tls.config(policy).map_err(|e| e.to_string())
    }
}

/// The scheduler's services.
pub struct Queue {
    /// The store.
    pub store: Store,
    /// The settings in force now.
    pub config: Rc<dyn Fn() -> Rc<Config>>,
    /// Runs the attempts.
    pub executor: Rc<LocalExecutor<'static>>,
    /// Closed when the server shuts down.
    pub shutdown: async_channel::Receiver<()>,
    /// TLS client roots, parsed on the first attempt (an idle server never holds them).
    tls: RefCell<Option<Option<ClientTls>>>,
    /// The resolver of the `dns.nameservers` setting, shared with the MX role.
    resolver: Rc<ConfiguredResolver>,
    /// Addresses that refused or timed out a connection lately.
    unreachable: Rc<transport::Unreachable>,
    /// The daily counters (sent, refused).
    stats: Rc<crate::stats::Stats>,
}

impl Queue {
    /// A scheduler over `store`.
    pub fn new(
        store: Store,
        config: Rc<dyn Fn() -> Rc<Config>>,
        executor: Rc<LocalExecutor<'static>>,
        shutdown: async_channel::Receiver<()>,
        resolver: Rc<ConfiguredResolver>,
        stats: Rc<crate::stats::Stats>,
    ) -> Queue {
        Queue {
            store,
            config,
            executor,
            shutdown,
            tls: RefCell::new(None),
            resolver,
            unreachable: Rc::default(),
            stats,
        }
    }

    fn client_tls(&self) -> Option<ClientTls> {
        self.tls
            .borrow_mut()
            .get_or_insert_with(|| match ClientTls::new() {
                Ok(t) => Some(t),
                Err(e) => {
                    log::error!("outbound TLS unavailable: {e}");
                    None
                }
            })
            .clone()
    }
}

/// Runs the scheduler until shutdown.
///
/// An attempt runs only when its outcome can be recorded: while the store's writes fail for lack
/// of space ([`Store::writes_failing`]) nothing is attempted (a remote 250 that cannot be written
/// down would send the message again), and the scheduler looks again every
/// `queue.retry_base_secs` (at most a minute). A message whose attempt could not be recorded for
/// another reason waits `queue.retry_base_secs` before the next one, and so does the scheduler
/// when the queue cannot be read (at most 30 s).
pub async fn run(queue: Rc<Queue>) {
    let in_flight: Rc<RefCell<HashSet<QueueId>>> = Rc::default();
    // Messages whose last attempt could not be recorded, and when they may go again (unix time).
    let held: Rc<RefCell<BTreeMap<QueueId, u64>>> = Rc::default();
    let mut waiting_for_room = false;
    let (done_tx, done_rx) = async_channel::unbounded::<()>();
    loop {
        let seen = queue.store.queue_generation();
        let cfg = (queue.config)();
        let now = crate::time::unix_now();
        let mut wait = IDLE_WAKE;
        held.borrow_mut().retain(|_, until| *until > now);
        for until in held.borrow().values() {
            wait = wait.min(Duration::from_secs(until - now));
        }
        // Only the head of the due order is read: the entries in flight or held, then as many
        // as there are free slots, then the first one not yet due (for the timer).
        let limit = in_flight.borrow().len() + held.borrow().len() + cfg.queue_concurrency + 1;
        // Whether the store can record outcomes: asked once per pass, when something is due.
        let mut writable = None;
        match queue.store.queue_schedule(limit) {
            Ok(schedule) => {
                for (due, id) in schedule {
                    if in_flight.borrow().contains(&id) || held.borrow().contains_key(&id) {
                        continue;
                    }
                    if due > now {
                        wait = wait.min(Duration::from_secs(due - now));
                        break;
                    }
                    // Due, but every slot is busy: a finishing attempt wakes the loop.
                    if in_flight.borrow().len() >= cfg.queue_concurrency {
                        break;
                    }
                    if writable.is_none() {
                        let store = queue.store.clone();
                        let failing = blocking::unblock(move || store.writes_failing()).await;
                        if failing != waiting_for_room {
                            if failing {
                                log::warn!("queue: storage full; no attempt until writes succeed");
                            } else {
                                log::info!("queue: storage writable again; attempts resume");
                            }
                            waiting_for_room = failing;
                        }
                        writable = Some(!failing);
                    }
                    if writable == Some(false) {
                        let recheck = cfg.queue_retry_base_secs.min(60);
                        wait = wait.min(Duration::from_secs(recheck));
                        break;
                    }
                    let row = match queue.store.queued(id) {
                        Ok(Some(row)) => row,
                        Ok(None) => continue,
                        Err(e) => {
                            log::warn!("queue: reading {id} failed: {e}");
                            wait = read_retry(&cfg);
                            break;
                        }
                    };
                    in_flight.borrow_mut().insert(id);
                    let env = Env {
                        store: queue.store.clone(),
                        resolver: queue.resolver.get(&cfg.dns_nameservers).await,
                        config: cfg.clone(),
                        tls: queue.client_tls(),
                        unreachable: queue.unreachable.clone(),
                        stats: queue.stats.clone(),
                    };
                    let (in_flight, held, done_tx) =
                        (in_flight.clone(), held.clone(), done_tx.clone());
                    queue
                        .executor
                        .spawn(async move {
                            if let Err(e) = attempt(&env, row).await {
                                log::warn!("queue: recording an attempt on {id} failed: {e}");
                                let until =
                                    crate::time::unix_now() + env.config.queue_retry_base_secs;
                                held.borrow_mut().insert(id, until);
                            }
                            in_flight.borrow_mut().remove(&id);
                            let _ = done_tx.send(()).await;
                        })
                        .detach();
                }
            }
            Err(e) => {
                log::warn!("queue: reading the queue failed: {e}");
                wait = read_retry(&cfg);
            }
        }
        let woke = futures_lite::future::or(
            async {
                futures_lite::future::or(
                    async {
                        async_io::Timer::after(wait).await;
                    },
                    queue.store.queue_changed(seen),
                )
                .await;
                true
            },
            futures_lite::future::or(
                async {
                    let _ = done_rx.recv().await;
                    true
                },
                async {
                    let _ = queue.shutdown.recv().await;
                    false
                },
            ),
        )
        .await;
        if !woke {
            return;
        }
    }
}

/// How long the scheduler waits after the queue could not be read (the store reopening after a
/// failed write, say): `queue.retry_base_secs` (at least 1, by config), at most 30 s.
fn read_retry(cfg: &Config) -> Duration {
    Duration::from_secs(cfg.queue_retry_base_secs.min(30))
}

/// The domain part of an address, lowercased.
fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map_or("", |(_, d)| d)
        .to_ascii_lowercase()
}

/// One attempt on every pending recipient of `row`, then one commit with the results.
async fn attempt(env: &Env, row: QueuedMessage) -> crate::store::Result<()> {
    let cfg = &env.config;
    let size = match env.store.open_body(row.body)? {
        Some(r) => r.size(),
        None => 0,
    };
    // One group per domain, or a single one through the smarthost.
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in row.pending() {
        let key = if cfg.smarthost.is_some() {
            String::new()
        } else {
            domain_of(&r.address)
        };
        groups.entry(key).or_default().push(r.address.clone());
    }
    let now_start = crate::time::unix_now();
    let mut results = Vec::new();
    let last_group = groups.len().saturating_sub(1);
    for (i, (domain, rcpts)) in groups.iter().enumerate() {
        let g = transport::deliver_group(env, &row.from, row.body, size, domain, rcpts).await;
        // Deliveries are recorded before the next domain is tried, so a crash later in the
        // attempt does not send them again. Failures wait for the final commit, which carries
        // their report.
        let delivered: Vec<(String, RcptState, String)> = g
            .rcpts
            .iter()
            .filter_map(|(a, r)| match r {
                RcptResult::Delivered(reply) => Some((
                    a.clone(),
                    RcptState::Delivered,
                    delivered_text(reply, g.relay.as_deref(), g.tls.as_deref()),
                )),
                _ => None,
            })
            .collect();
        if i < last_group && !delivered.is_empty() {
            let op = Op::QueueUpdate {
                update: Box::new(QueueUpdate {
                    id: row.id,
                    results: delivered,
                    next_attempt: row.next_attempt,
                    attempted: false,
                    warned: false,
                }),
                report: None,
            };
            env.store.call(op).await?;
        }
        for (addr, r) in g.rcpts {
            results.push((addr, r, g.relay.clone(), g.tls.clone()));
        }
    }
    let now = crate::time::unix_now().max(now_start);
    let age = now.saturating_sub(row.created);
    let expired = age >= cfg.queue_max_age_secs;
    let mut updates = Vec::new();
    let mut failed = Vec::new();
    let mut pending = Vec::new();
    for (addr, r, relay, tls) in results {
        let (state, text, status, word) = match &r {
            RcptResult::Delivered(reply) => (
                RcptState::Delivered,
                delivered_text(reply, relay.as_deref(), tls.as_deref()),
                None,
                "delivered",
            ),
            RcptResult::Failed(reply) => (
                RcptState::Failed,
                format!("{} {}", reply.code, reply.text),
                Some(dsn::status_from_reply(reply.code, &reply.text)),
                "bounced",
            ),
            // RFC 3463 §3.5: 5.4.7, delivery time expired.
            RcptResult::Deferred(reply) if expired => (
                RcptState::Failed,
                format!(
                    "{} {} (gave up after {} days)",
                    reply.code,
                    reply.text,
                    age / 86_400
                ),
                Some((5, 4, 7)),
                "expired",
            ),
            RcptResult::Deferred(reply) => (
                RcptState::Pending,
                format!("{} {}", reply.code, reply.text),
                Some(dsn::status_from_reply(reply.code, &reply.text)),
                "deferred",
            ),
        };
        match state {
            RcptState::Delivered => env.stats.count(crate::stats::Event::Sent),
            RcptState::Failed => env.stats.count(crate::stats::Event::Refused),
            _ => {}
        }
        log::info!(
            target: "maillog",
            "{word} id={} to=<{}> relay={} tls={} result={text}",
            row.id,
            addr,
            relay.as_deref().unwrap_or("-"),
            tls.as_deref().unwrap_or("none")
        );
        if let Some(status) = status {
            let listed = report_rcpt(&addr, status, relay.as_deref(), &text, now);
            match state {
                RcptState::Failed => failed.push(listed),
                _ => pending.push(listed),
            }
        }
        updates.push((addr, state, text));
    }
    let backoff = Backoff {
        base_secs: cfg.queue_retry_base_secs,
        max_secs: cfg.queue_retry_max_secs,
    };
    let next_attempt = now + backoff.delay_secs(row.attempts.saturating_add(1), retry::jitter());
    let warn_now = !pending.is_empty()
        && failed.is_empty()
        && !row.warned
        && cfg.queue_delay_warning_secs > 0
        && age >= cfg.queue_delay_warning_secs;
    let (kind, listed) = if !failed.is_empty() {
        (Some(DsnKind::Failure), failed)
    } else if warn_now {
        (Some(DsnKind::Delay), pending)
    } else {
        (None, Vec::new())
    };
    // A list's post (sent from its bounce address): failures count against the members, and
    // nobody gets a report.
    let list = match kind {
        Some(_) => crate::delivery::lists::find(&env.store, &row.from.to_ascii_lowercase())?
            .filter(|(_, role)| *role == crate::delivery::lists::Role::Bounces)
            .map(|(l, _)| l.address),
        None => None,
    };
    let bounced: Vec<String> = match (&list, kind) {
        (Some(_), Some(DsnKind::Failure)) => listed
            .iter()
            .map(|r| r.address.to_ascii_lowercase())
            .collect(),
        _ => Vec::new(),
    };
    let report = match kind {
        Some(kind) if !row.from.is_empty() && list.is_none() => {
            report_delivery(env, &row, kind, &listed, now, next_attempt)?
        }
        _ => None,
    };
    let update = QueueUpdate {
        id: row.id,
        results: updates,
        next_attempt,
        attempted: true,
        warned: warn_now && report.is_some(),
    };
    let op = Op::QueueUpdate {
        update: Box::new(update),
        report: report.map(Box::new),
    };
    env.store.call(op).await?;
    if let Some(address) = list
        && !bounced.is_empty()
    {
        let change = crate::store::lists::ListChange::Bounced {
            members: bounced,
            max: cfg.lists_max_bounces,
        };
        env.store.call(Op::List { address, change }).await?;
    }
    Ok(())
}

/// What is kept for a delivered recipient: the reply, the relay and the TLS used.
fn delivered_text(
    reply: &crate::proto::smtp::client::Reply,
    relay: Option<&str>,
    tls: Option<&str>,
) -> String {
    format!(
        "{} {} (relay {}; TLS: {})",
        reply.code,
        reply.text,
        relay.unwrap_or("-"),
        tls.unwrap_or("none")
    )
}

fn report_rcpt(
    address: &str,
    status: (u8, u16, u16),
    relay: Option<&str>,
    diagnostic: &str,
    now: u64,
) -> DsnRecipient {
    DsnRecipient {
        address: address.to_string(),
        status,
        remote_mta: relay.map(|r| r.split(' ').next().unwrap_or(r).to_string()),
        diagnostic: Some(format!("smtp; {diagnostic}")),
        last_attempt: Some(now),
    }
}

/// The report for the sender's INBOX, if the sender is a local user.
fn report_delivery(
    env: &Env,
    row: &QueuedMessage,
    kind: DsnKind,
    recipients: &[DsnRecipient],
    now: u64,
    next_attempt: u64,
) -> crate::store::Result<Option<Delivery>> {
    let Some(user) = env.store.user(&row.from.to_ascii_lowercase())? else {
        log::info!(
            "queue: {} has no local sender <{}> to report to",
            row.id,
            row.from
        );
        return Ok(None);
    };
    let header = original_header(env, row)?;
    let retry_until = (kind == DsnKind::Delay)
        .then(|| row.created + env.config.queue_max_age_secs)
        .map(|t| t.max(next_attempt));
    let id = row.id.to_string();
    let bytes = dsn::build(&DsnInput {
        kind,
        reporting_mta: &env.config.hostname,
        to: &row.from,
        queue_id: &id,
        arrival: row.created,
        now,
        retry_until,
        recipients,
        original_header: &header,
    });
    log::info!(target: "maillog", "report id={} kind={kind:?} to=<{}> rcpts={}", row.id, row.from, recipients.len());
    // Delivered like a message from the null sender (RFC 3464 §2: reports use MAIL FROM:<>),
    // over quota or not: a sender always learns what became of their mail.
    Ok(Some(crate::delivery::report_delivery(
        &env.store,
        bytes,
        now,
        vec![LocalCopy::inbox(user.id)],
        None,
    )))
}

/// The queued message's header section, cut at a line end to [`REPORT_HEADER_BYTES`].
fn original_header(env: &Env, row: &QueuedMessage) -> crate::store::Result<Vec<u8>> {
    let Some(reader) = env.store.open_body(row.body)? else {
        return Ok(Vec::new());
    };
    let mut buf = vec![0u8; REPORT_HEADER_BYTES];
    let mut n = 0;
    while n < buf.len() {
        match reader.read_at(n as u64, &mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => {
                log::warn!("queue: reading {} for a report failed: {e}", row.id);
                break;
            }
        }
    }
    buf.truncate(n);
    if let Some(end) = memchr::memmem::find(&buf, b"\r\n\r\n") {
        buf.truncate(end + 2);
    } else if let Some(last) = memchr::memrchr(b'\n', &buf) {
        buf.truncate(last + 1);
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::stub::Options;
    use crate::dns::testserver::{TestRecord, TestServer, Zone};
    use crate::store::{NewQueued, UserId};

    /// A store with alice@example.test and one queued message from `from` to x@null.test.
    fn queued(dir: &std::path::Path, from: &str) -> (Store, UserId, QueuedMessage) {
        let store = Store::open(&dir.join("mail.redb"), 1 << 20).unwrap();
        let alice = store.add_test_user("alice@example.test");
        let message = b"From: alice@example.test\r\nSubject: s\r\n\r\nhi\r\n".to_vec();
        let d = Delivery {
            upload: store.new_upload(),
            chunks_sent: 0,
            prefix: Vec::new(),
            tail: message,
            summary: vec![1, 2, 3],
            internal_date: 1,
            recipients: Vec::new(),
            queue: Some(NewQueued {
                from: from.into(),
                rcpts: vec!["x@null.test".into()],
                now: 1,
            }),
            junk: false,
            quota: true,
        };
        store.call_blocking(Op::Deliver(d)).unwrap();
        let row = store.queue().unwrap().pop().unwrap();
        (store, alice, row)
    }

    /// One attempt on `row` against a DNS server where null.test has a null MX (RFC 7505).
    fn attempt_once(store: &Store, row: QueuedMessage) {
        let dns =
            TestServer::start(Zone::new().add("null.test", TestRecord::Mx(0, ".".into()))).unwrap();
        let env = Env {
            store: store.clone(),
            config: Rc::new(Config::default()),
            resolver: Rc::new(StubResolver::with_servers(
                vec![dns.addr()],
                Options::default(),
            )),
            tls: None,
            unreachable: Rc::default(),
            stats: Rc::default(),
        };
        futures_lite::future::block_on(attempt(&env, row)).unwrap();
    }

    #[test]
    fn a_failure_is_reported_to_a_local_sender_but_never_to_the_null_sender() {
        for (from, reports) in [("alice@example.test", 1), ("", 0)] {
            let dir = tempfile::tempdir().unwrap();
            let (store, alice, row) = queued(dir.path(), from);
            attempt_once(&store, row);
            assert!(
                store.queue().unwrap().is_empty(),
                "failed and gone ({from:?})"
            );
            let inbox = store.mailbox(alice, "INBOX").unwrap().unwrap();
            assert_eq!(
                store.messages(inbox.id).unwrap().len(),
                reports,
                "reports for {from:?}"
            );
            assert!(store.check().unwrap().is_empty());
            store.close();
        }
    }
}

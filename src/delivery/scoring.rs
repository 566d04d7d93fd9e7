//! The spam verdict of one inbound message, and the trainer that turns users' junk judgements
//! into token counts.
//!
//! Scoring: the first `spam.scan_bytes` of the message are parsed and tokenized on the blocking
//! pool (never on the executor thread); the token counts come from the recipient's own model
//! when the message is for one local user and that model has an opinion (so one user's
//! judgement is not overruled by another's), else from the shared model in the store (user 0,
//! which every user's training also feeds); the features from sender
//! authentication and DNS evidence are added; `crate::spam::verdict` adds the points and decides
//! (refusing only with evidence beyond the content), `crate::spam::model::opinion` says when the
//! token model has an opinion at all.
//!
//! Training: whenever the store records junk training events (a message moved into or out of
//! Junk over IMAP, or `$Junk`/`$NotJunk` set), the trainer reads each event's message, tokenizes
//! it the same way and trains the user's model and the shared one; a reversed judgement is
//! untrained first, and a per-user cursor in the store means no event is learned twice, across
//! restarts too. The next similar message is scored with what was just learned.

use super::sender_auth;
use crate::config::Config;
use crate::spam::model::{self, TokenCounts};
use crate::spam::{self, AuthSummary, Dkim, Dmarc, Features, Parsed, Spf, Thresholds};
use crate::store::spam::{GLOBAL, Training};
use crate::store::{BodyId, Op, Store, UserId};
use std::collections::HashMap;
use std::rc::Rc;

/// One model's counts for one message's tokens, read in one store transaction.
struct Counts {
    tokens: HashMap<u64, (u32, u32)>,
    totals: (u32, u32),
}

impl TokenCounts for Counts {
    fn get(&self, token: u64) -> (u32, u32) {
        self.tokens.get(&token).copied().unwrap_or((0, 0))
    }

    fn totals(&self) -> (u32, u32) {
        self.totals
    }
}

fn clamp(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// What the content says, computed on the blocking pool.
struct Content {
    tokens: Vec<u64>,
    heuristics: Vec<(&'static str, f64)>,
    dangerous: Option<String>,
    /// The token model's opinion (`None` without one, or with `store` absent).
    bayes: Option<f64>,
}

/// What model `user` (a store user id, or [`GLOBAL`]) thinks of `tokens`.
fn opinion_of(store: &Store, user: u64, tokens: &[u64]) -> Option<f64> {
    let (ham, spam_msgs, _) = store.spam_totals(user).ok()?;
    if ham == 0 && spam_msgs == 0 {
        return None;
    }
    let counts = store.spam_counts(user, tokens).ok()?;
    let model = Counts {
        tokens: tokens
            .iter()
            .zip(counts)
            .map(|(t, n)| (*t, (n.ham, n.spam)))
            .collect(),
        totals: (clamp(ham), clamp(spam_msgs)),
    };
    model::opinion(&model, tokens)
}

/// Parses and tokenizes `raw` and, with a store, asks the token model about the tokens (`user`'s
/// own first, then the shared one): all on the blocking pool (a message's token lookups are
/// thousands of B-tree reads).
async fn content(raw: Vec<u8>, store: Option<Store>, user: Option<UserId>) -> Content {
    blocking::unblock(move || {
        let p = Parsed::new(&raw);
        let tokens = spam::tokenize(&p);
        let bayes = store.and_then(|store| {
            user.and_then(|u| opinion_of(&store, u.0, &tokens))
                .or_else(|| opinion_of(&store, GLOBAL, &tokens))
        });
        Content {
            heuristics: spam::heuristics(&p),
            dangerous: spam::dangerous_attachment(&p),
            tokens,
            bayes,
        }
    })
    .await
}

fn auth_summary(v: &sender_auth::Verdict) -> AuthSummary {
    use crate::dkim::verify::DkimResult;
    use crate::dmarc::{Disposition, DmarcResult};
    use crate::spf::SpfResult;
    let spf = match v.spf {
        SpfResult::None => Spf::None,
        SpfResult::Neutral => Spf::Neutral,
        SpfResult::Pass => Spf::Pass,
        SpfResult::Fail => Spf::Fail,
        SpfResult::SoftFail => Spf::SoftFail,
        SpfResult::TempError => Spf::TempError,
        SpfResult::PermError => Spf::PermError,
    };
    let dkim = if v.dkim.iter().any(|s| s.result == DkimResult::Pass) {
        Dkim::Pass
    } else if v
        .dkim
        .iter()
        .any(|s| matches!(s.result, DkimResult::Fail(_)))
    {
        Dkim::Fail
    } else if v
        .dkim
        .iter()
        .any(|s| matches!(s.result, DkimResult::TempError(_)))
    {
        Dkim::TempError
    } else {
        Dkim::None
    };
    let dmarc = match (v.dmarc.result, v.dmarc.policy) {
        (DmarcResult::Pass, _) => Dmarc::Pass,
        (DmarcResult::Fail, Disposition::Reject) => Dmarc::FailReject,
        (DmarcResult::Fail, Disposition::Quarantine) => Dmarc::FailQuarantine,
        (DmarcResult::Fail, Disposition::None) => Dmarc::FailNone,
        (DmarcResult::TempError, _) => Dmarc::TempError,
        _ => Dmarc::None,
    };
    AuthSummary { spf, dkim, dmarc }
}

/// Scores one inbound message: `raw` its first bytes, `auth` the sender checks' verdict, `user`
/// its only local recipient (whose own model is asked first), if it has exactly one.
pub async fn score(
    store: &Store,
    cfg: &Config,
    raw: Vec<u8>,
    auth: &sender_auth::Verdict,
    user: Option<UserId>,
) -> spam::Verdict {
    let c = content(raw, Some(store.clone()), user).await;
    let features = Features {
        auth: auth_summary(auth),
        dnsbl_hits: auth.client.dnsbl_hits.clone(),
        helo_ptr_sane: Some(auth.client.fcrdns && auth.client.helo_is_fqdn),
        dangerous_attachment: c.dangerous,
        bayes: c.bayes,
        heuristics: c.heuristics,
    };
    let thresholds = Thresholds {
        junk: cfg.spam_junk_tenths as f64 / 10.0,
        reject: cfg.spam_reject_tenths as f64 / 10.0,
    };
    spam::verdict(&features, &thresholds)
}

/// The first `limit` bytes of a stored message as it arrived (after the trace and result fields
/// we stored in front of it, which the scorer never sees either), read on the blocking pool.
async fn read_prefix(store: &Store, body: BodyId, limit: usize) -> Option<Vec<u8>> {
    let store = store.clone();
    blocking::unblock(move || {
        let ours = store.body(body).ok()??.prefix.len() as u64;
        let reader = store.open_body(body).ok()??;
        let len = reader.size().saturating_sub(ours) as usize;
        let mut buf = vec![0u8; limit.min(len)];
        let mut n = 0;
        while n < buf.len() {
            match reader.read_at(ours + n as u64, &mut buf[n..]) {
                Ok(0) | Err(_) => break,
                Ok(k) => n += k,
            }
        }
        buf.truncate(n);
        Some(buf)
    })
    .await
}

/// Learns every junk training event not learned yet.
async fn train_pending(store: &Store, cfg: &Config) -> crate::store::Result<usize> {
    let day = (crate::time::unix_now() / 86_400) as u32;
    let mut learned = 0;
    for user in store.users()? {
        let cursor = store.spam_cursor(user.id)?;
        for (seq, ev) in store.training_after(user.id, cursor)? {
            // A message deleted since is skipped (the cursor still moves past it).
            let tokens = match read_prefix(store, ev.body, cfg.spam_scan_bytes).await {
                Some(raw) => content(raw, None, None).await.tokens,
                None => Vec::new(),
            };
            let op = Op::SpamTrain(Training {
                user: user.id.0,
                tokens,
                spam: ev.spam,
                learn: true,
                day,
                max_tokens: cfg.spam_max_tokens,
                body: Some(ev.body.0),
                seq: Some(seq),
            });
            store.call(op).await?;
            learned += 1;
        }
    }
    Ok(learned)
}

/// Runs the trainer until shutdown.
pub async fn run_trainer(
    store: Store,
    config: Rc<dyn Fn() -> Rc<Config>>,
    shutdown: async_channel::Receiver<()>,
) {
    loop {
        let seen = store.training_generation();
        match train_pending(&store, &config()).await {
            Ok(0) => {}
            Ok(n) => log::info!("spam: learned {n} junk judgements"),
            Err(e) => log::warn!("spam: training failed: {e}"),
        }
        let go_on = futures_lite::future::or(
            async {
                store.training_changed(seen).await;
                true
            },
            async {
                let _ = shutdown.recv().await;
                false
            },
        )
        .await;
        if !go_on {
            return;
        }
    }
}

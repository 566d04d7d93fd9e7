//! Each recipient's active Sieve script, applied while a message is delivered: where their
//! copies go and with which flags, redirects, rejects, and vacation replies.
//!
//! Invariants:
//! - runs on the blocking pool (store reads, compiling and running scripts), never on the
//!   executor; a script that no longer compiles, or fails at run time, gives the implicit keep
//!   and a log line, never a lost message;
//! - copies a script did not file explicitly keep their subaddress mailbox, and go to Junk for
//!   junk; a `fileinto` is the user's own decision and is not overridden by the spam verdict;
//! - a redirect to a local address becomes copies for its users (their scripts are not run
//!   again, so scripts cannot loop); other redirects go to the outbound queue, forwarded like an
//!   alias's outside targets (the sender rewritten with SRS by the SMTP driver);
//! - `reject` refuses the message at SMTP time (`550 5.7.1` with the reason, RFC 5429 §2.1)
//!   only when every local recipient rejects and nothing goes to the queue; otherwise the
//!   rejecting recipients keep it (a refusal after acceptance would need a bounce, which is
//!   backscatter for forged senders);
//! - vacation replies (RFC 5230) are only built here, and sent by [`send_replies`] after the
//!   message's durable commit, from the null sender (RFC 3834 §3.3), once per sender per
//!   period (`Op::VacationDue`), never for junk.

use crate::config::Config;
use crate::message::address;
use crate::sieve::{self, MessageView, vacation};
use crate::store::{self, LocalCopy, NewQueued, Op, Store, UserId, flags};

/// What the scripts decided for one message.
#[derive(Debug, Default)]
pub struct Filtered {
    /// The local copies to store.
    pub copies: Vec<LocalCopy>,
    /// Remote addresses to redirect the message to.
    pub redirects: Vec<String>,
    /// Refuse the message with this reason (every local recipient rejected it).
    pub reject: Option<String>,
    /// Vacation replies to send once the message is stored: (user, bytes, recipient).
    pub replies: Vec<(String, Vec<u8>, String)>,
}

/// One message as the scripts see it.
pub struct Incoming<'a> {
    /// The header section.
    pub header: &'a [u8],
    /// Size in bytes.
    pub size: u64,
    /// The envelope sender.
    pub from: &'a str,
    /// The local copies (before filtering) and the address each was given as.
    pub local: &'a [(LocalCopy, String)],
    /// The spam verdict filed it as junk.
    pub junk: bool,
    /// Remote recipients are queued too.
    pub has_remote: bool,
    /// A mailing list post (no vacation replies to lists, RFC 5230 §4.6).
    pub list: bool,
}

/// Applies every recipient's active script (blocking: call from the blocking pool).
pub fn apply(store: &Store, cfg: &Config, m: &Incoming<'_>) -> store::Result<Filtered> {
    let limits = sieve::Limits::from_config(cfg);
    let mut out = Filtered::default();
    let mut users: Vec<UserId> = Vec::new();
    for (c, _) in m.local {
        if !users.contains(&c.user) {
            users.push(c.user);
        }
    }
    let mut rejected: Vec<(UserId, String)> = Vec::new();
    let default_copies = |user: UserId| -> Vec<LocalCopy> {
        m.local
            .iter()
            .filter(|(c, _)| c.user == user)
            .map(|(c, _)| LocalCopy {
                mailbox: c.mailbox.clone().filter(|_| !m.junk),
                ..c.clone()
            })
            .collect()
    };
    for user in users {
        let Some((email, name, text)) = active_script(store, user)? else {
            out.copies.extend(default_copies(user));
            continue;
        };
        let script = match sieve::compile(&text, &limits) {
            Ok(s) => s,
            Err(e) => {
                log::warn!("sieve: script {name:?} of {email} does not compile ({e}); kept");
                out.copies.extend(default_copies(user));
                continue;
            }
        };
        let to = m
            .local
            .iter()
            .find(|(c, _)| c.user == user)
            .map_or(email.as_str(), |(_, shown)| shown.as_str());
        let view = MessageView::new(m.header, m.size, m.from, to);
        let outcome = script.run(&view, &limits);
        if let Some(e) = &outcome.error {
            log::warn!("sieve: script {name:?} of {email} failed ({e}); kept");
        }
        if let Some(reason) = outcome.reject {
            rejected.push((user, reason));
            continue;
        }
        let tagged = default_copies(user);
        for (mailbox, flag_names) in &outcome.keep {
            let (bits, keywords) = flags::from_names(flag_names);
            let mailbox = match mailbox {
                Some(m) => Some(m.clone()),
                None => tagged.first().and_then(|c| c.mailbox.clone()),
            };
            out.copies.push(LocalCopy {
                user,
                mailbox,
                flags: bits,
                keywords,
            });
        }
        for target in &outcome.redirects {
            redirect(store, cfg, target, &mut out)?;
        }
        if let Some(args) = &outcome.vacation
            && !m.junk
            && !m.list
        {
            vacation_reply(store, cfg, user, &email, args, &view, &mut out)?;
        }
    }
    if !rejected.is_empty() {
        let everyone = out.copies.is_empty() && out.redirects.is_empty() && !m.has_remote;
        if everyone {
            out.reject = Some(rejected.swap_remove(0).1);
        } else {
            for (user, _) in rejected {
                log::info!(
                    "sieve: a reject for one of several recipients cannot be made at SMTP time; kept"
                );
                out.copies.extend(default_copies(user));
            }
        }
    }
    Ok(out)
}

/// The user's address and active script (name and text), if they have one.
fn active_script(store: &Store, user: UserId) -> store::Result<Option<(String, String, String)>> {
    let Some((name, text)) = store.active_script(user)? else {
        return Ok(None);
    };
    let email = store
        .user_by_id(user)?
        .map(|u| u.row.email)
        .unwrap_or_default();
    Ok(Some((email, name, text)))
}

fn redirect(store: &Store, cfg: &Config, target: &str, out: &mut Filtered) -> store::Result<()> {
    if !store.is_local_domain(address::domain(target))? {
        if !out.redirects.iter().any(|r| r == target) {
            out.redirects.push(target.to_string());
        }
        return Ok(());
    }
    let (local, domain) = (address::local_part(target), address::domain(target));
    let rcpt = crate::proto::smtp::Recipient::Mailbox {
        local: local.to_string(),
        domain: domain.to_string(),
    };
    match super::check_recipient(store, cfg, &rcpt)? {
        super::RcptDecision::Accept { copies, forward } => {
            out.copies.extend(copies);
            for f in forward {
                if !out.redirects.contains(&f) {
                    out.redirects.push(f);
                }
            }
        }
        _ => {
            log::info!("sieve: redirect to {target} dropped (unknown, full, or a list)")
        }
    }
    Ok(())
}

fn vacation_reply(
    store: &Store,
    cfg: &Config,
    user: UserId,
    email: &str,
    args: &sieve::compile::VacationArgs,
    view: &MessageView,
    out: &mut Filtered,
) -> store::Result<()> {
    let mut own: Vec<String> = vec![email.to_string(), view.envelope_to.clone()];
    own.extend(args.addresses.iter().cloned());
    own.extend(
        store
            .aliases()?
            .into_iter()
            .filter(|a| a.targets.iter().any(|t| t == email))
            .map(|a| a.address),
    );
    if let Some(why) = vacation::refusal(view, &own) {
        log::debug!(
            "sieve: no vacation reply from {email} to <{}>: {why}",
            view.envelope_from
        );
        return Ok(());
    }
    let now = crate::time::unix_now();
    let key = vacation::key(args, &view.envelope_from);
    let until = now + args.days * 86_400;
    match store.call_blocking(Op::VacationDue {
        user,
        key,
        now,
        until,
    })? {
        store::Done::Greylist(None) => {
            let bytes = vacation::reply(args, view, email, &cfg.hostname, now);
            out.replies
                .push((email.to_string(), bytes, view.envelope_from.clone()));
        }
        _ => log::debug!(
            "sieve: vacation reply to <{}> already sent",
            view.envelope_from
        ),
    }
    Ok(())
}

/// Sends the vacation replies [`apply`] built: local recipients get them at once, others
/// through the queue, all from the null sender.
pub async fn send_replies(store: &Store, cfg: &Config, replies: Vec<(String, Vec<u8>, String)>) {
    for (user, bytes, to) in replies {
        if bytes.len() > store::CHUNK_BYTES {
            log::warn!("sieve: vacation reply of {user} is too large to send");
            continue;
        }
        let local = match store.is_local_domain(address::domain(&to)) {
            Ok(true) => {
                let rcpt = crate::proto::smtp::Recipient::Mailbox {
                    local: address::local_part(&to).to_string(),
                    domain: address::domain(&to).to_string(),
                };
                match super::check_recipient(store, cfg, &rcpt) {
                    Ok(super::RcptDecision::Accept { copies, .. }) if !copies.is_empty() => copies,
                    _ => continue,
                }
            }
            Ok(false) => Vec::new(),
            Err(e) => {
                log::warn!("sieve: vacation reply of {user} not sent: {e}");
                continue;
            }
        };
        let now = crate::time::unix_now();
        let queue = local.is_empty().then(|| NewQueued {
            from: String::new(),
            rcpts: vec![to.clone()],
            now,
        });
        let d = super::report_delivery(store, bytes, now, local, queue);
        match store.call(Op::Deliver(d)).await {
            Ok(_) => log::info!(target: "maillog", "vacation reply from {user} to <{to}>"),
            Err(e) => log::warn!("sieve: vacation reply of {user} not sent: {e}"),
        }
    }
}

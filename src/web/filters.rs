//! The filters each user sets on their page: a vacation (out-of-office) reply and simple rules
//! ("when the subject contains X, move it to Y"). The form's contents are kept in the store
//! (`STATE` key `filters.<address>`, JSON) and compiled into the user's Sieve script
//! [`PAGE_SCRIPT`], which is made active whenever it has something to do, so the page and
//! ManageSieve clients share one mechanism (`crate::sieve`, run at delivery by
//! `delivery::filters`).
//!
//! Invariants: the subject is at most [`MAX_SUBJECT`] characters on one line, the body at most
//! [`MAX_BODY`] bytes, at most [`MAX_RULES`] rules with texts of at most [`MAX_TEXT`] bytes; the
//! generated script always compiles (it is compiled before it is stored, and every string in it
//! is escaped); a value that cannot be read counts as "off, no rules".

use super::Web;
use crate::store::sieve::ScriptChange;
use crate::store::{Op, UserId};

/// Longest subject, characters.
pub const MAX_SUBJECT: usize = 200;
/// Longest body, bytes.
pub const MAX_BODY: usize = 4000;
/// Most rules.
pub const MAX_RULES: usize = 20;
/// Longest text in a rule (what to look for, the folder or address), bytes.
pub const MAX_TEXT: usize = 200;
/// The name of the script the page writes.
pub const PAGE_SCRIPT: &str = "mailnook";

/// Where a rule looks.
pub const FIELDS: [(&str, &str); 3] =
    [("from", "From"), ("to", "To or Cc"), ("subject", "Subject")];
/// What a rule does.
pub const ACTIONS: [(&str, &str); 5] = [
    ("move", "move it to the folder"),
    ("read", "mark it as read"),
    ("flag", "flag it"),
    ("forward", "forward a copy to"),
    ("delete", "delete it"),
];

/// A user's vacation reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vacation {
    /// Whether replies are to be sent.
    pub on: bool,
    /// Subject of the reply.
    pub subject: String,
    /// Text of the reply.
    pub body: String,
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// One of [`FIELDS`].
    pub field: String,
    /// The text to look for (anywhere in the field, any case).
    pub contains: String,
    /// One of [`ACTIONS`].
    pub action: String,
    /// The folder (`move`) or address (`forward`).
    pub target: String,
}

/// What the page keeps for a user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// The vacation reply.
    pub vacation: Vacation,
    /// The rules, in order.
    pub rules: Vec<Rule>,
}

fn key(email: &str) -> String {
    format!("filters.{email}")
}

/// The stored filters of `email` (off and empty when none). A vacation reply saved by an
/// earlier version (`STATE` key `vacation.<address>`, the reply alone) is read as one.
pub async fn get(web: &Web, email: &str) -> Filters {
    let (store, keys) = (web.store.clone(), [key(email), format!("vacation.{email}")]);
    let raw = blocking::unblock(move || {
        keys.iter().find_map(|k| {
            store
                .state(k)
                .ok()
                .flatten()
                .map(|v| (k.starts_with("vacation."), v))
        })
    })
    .await;
    let Some((old, v)) = raw.and_then(|(old, r)| {
        serde_json::from_slice::<serde_json::Value>(&r)
            .ok()
            .map(|v| (old, v))
    }) else {
        return Filters::default();
    };
    let v = if old {
        serde_json::json!({ "vacation": v })
    } else {
        v
    };
    let text = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or("").to_string();
    Filters {
        vacation: Vacation {
            on: v["vacation"]["on"].as_bool().unwrap_or(false),
            subject: text(&v["vacation"], "subject"),
            body: text(&v["vacation"], "body"),
        },
        rules: v["rules"]
            .as_array()
            .map(|a| {
                a.iter()
                    .take(MAX_RULES)
                    .map(|r| Rule {
                        field: text(r, "field"),
                        contains: text(r, "contains"),
                        action: text(r, "action"),
                        target: text(r, "target"),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Why `f` cannot be saved, if it cannot.
pub fn check(f: &Filters) -> Result<(), String> {
    let v = &f.vacation;
    if v.subject.chars().count() > MAX_SUBJECT || v.subject.contains(['\r', '\n']) {
        return Err(format!(
            "The subject must be one line of at most {MAX_SUBJECT} characters."
        ));
    }
    if v.body.len() > MAX_BODY {
        return Err(format!("The message must be at most {MAX_BODY} bytes."));
    }
    if v.on && v.body.trim().is_empty() {
        return Err("Write the reply before turning it on.".into());
    }
    if f.rules.len() > MAX_RULES {
        return Err(format!("At most {MAX_RULES} rules."));
    }
    for r in &f.rules {
        if !FIELDS.iter().any(|(k, _)| *k == r.field)
            || !ACTIONS.iter().any(|(k, _)| *k == r.action)
        {
            return Err("Pick what the rule looks at and what it does.".into());
        }
        if r.contains.trim().is_empty() || r.contains.len() > MAX_TEXT || r.target.len() > MAX_TEXT
        {
            return Err(format!(
                "Say what to look for, in at most {MAX_TEXT} bytes."
            ));
        }
        if [&r.contains, &r.target]
            .iter()
            .any(|t| t.contains(['\r', '\n']))
        {
            return Err("A rule's texts are one line each.".into());
        }
        match r.action.as_str() {
            "move" => crate::store::check_mailbox_name(r.target.trim())
                .map_err(|e| format!("Folder: {e}"))?,
            "forward" if crate::message::address::normalize(&r.target).is_none() => {
                return Err(format!("`{}` is not an email address.", r.target));
            }
            _ => {}
        }
    }
    Ok(())
}

/// A Sieve quoted string (RFC 5228 §2.4.2).
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The Sieve script for `f`: the vacation reply first (so every message can get one), then the
/// rules in order.
pub fn script(f: &Filters) -> String {
    let mut out = String::from(
        "# Written by the mailnook web page from its vacation reply and rules.\r\n\
         require [\"fileinto\", \"imap4flags\", \"copy\", \"vacation\"];\r\n",
    );
    let v = &f.vacation;
    if v.on {
        let subject = if v.subject.trim().is_empty() {
            String::new()
        } else {
            format!(":subject {} ", quoted(v.subject.trim()))
        };
        out.push_str(&format!(
            "vacation :days 7 {subject}{};\r\n",
            quoted(&v.body.replace("\r\n", "\n").replace('\n', "\r\n"))
        ));
    }
    for r in &f.rules {
        let test = match r.field.as_str() {
            "from" => format!("address :contains \"from\" {}", quoted(r.contains.trim())),
            "to" => format!(
                "address :contains [\"to\", \"cc\"] {}",
                quoted(r.contains.trim())
            ),
            _ => format!("header :contains \"subject\" {}", quoted(r.contains.trim())),
        };
        let action = match r.action.as_str() {
            "move" => format!("fileinto {}; stop;", quoted(r.target.trim())),
            "read" => "addflag \"\\\\Seen\";".to_string(),
            "flag" => "addflag \"\\\\Flagged\";".to_string(),
            "forward" => format!("redirect :copy {};", quoted(r.target.trim())),
            _ => "discard; stop;".to_string(),
        };
        out.push_str(&format!("if {test} {{ {action} }}\r\n"));
    }
    out
}

/// Checks and stores `f` for the user, writes its script, and makes it the active one when it
/// has something to do (or, when it has nothing, stops it being active).
pub async fn set(web: &Web, user: UserId, email: &str, f: &Filters) -> Result<(), String> {
    check(f)?;
    let text = script(f);
    let limits = crate::sieve::Limits::from_config(&(web.config)());
    crate::sieve::compile(&text, &limits)
        .map_err(|e| format!("These filters are too large ({e})."))?;
    let value = serde_json::json!({
        "vacation": {"on": f.vacation.on, "subject": f.vacation.subject, "body": f.vacation.body},
        "rules": f.rules.iter().map(|r| serde_json::json!({
            "field": r.field, "contains": r.contains, "action": r.action, "target": r.target,
        })).collect::<Vec<_>>(),
    })
    .to_string();
    let store = &web.store;
    let fail = |e: crate::store::Error| e.to_string();
    store
        .call(Op::SetState {
            key: key(email),
            value: Some(value.into_bytes()),
        })
        .await
        .map_err(fail)?;
    store
        .call(Op::Script {
            user,
            change: ScriptChange::Put {
                name: PAGE_SCRIPT.into(),
                text,
            },
        })
        .await
        .map_err(fail)?;
    let wanted = f.vacation.on || !f.rules.is_empty();
    let active = {
        let s = store.clone();
        blocking::unblock(move || s.active_script(user).ok().flatten().map(|(n, _)| n)).await
    };
    let change = match (wanted, active.as_deref()) {
        (true, _) => Some(ScriptChange::Activate(Some(PAGE_SCRIPT.into()))),
        (false, Some(PAGE_SCRIPT)) => Some(ScriptChange::Activate(None)),
        (false, _) => None,
    };
    if let Some(change) = change {
        store
            .call(Op::Script { user, change })
            .await
            .map_err(fail)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_compiles_to_what_it_says() {
        let f = Filters {
            vacation: Vacation {
                on: true,
                subject: "Away \"now\"".into(),
                body: "Back on Monday.\nC:\\path".into(),
            },
            rules: ACTIONS
                .iter()
                .zip(FIELDS.iter().cycle())
                .map(|((a, _), (field, _))| Rule {
                    field: field.to_string(),
                    contains: "a \"quote\" \\ back".into(),
                    action: a.to_string(),
                    target: if *a == "forward" {
                        "x@y.test"
                    } else {
                        "Lists/News"
                    }
                    .into(),
                })
                .collect(),
        };
        assert_eq!(check(&f), Ok(()));
        let s = crate::sieve::compile(&script(&f), &crate::sieve::Limits::default()).unwrap();
        assert_eq!(s.program().len(), 1 + ACTIONS.len());
        let view = crate::sieve::MessageView::new(
            b"From: x@y.test\r\nTo: me@example.test\r\nSubject: a \"quote\" \\ back\r\n",
            10,
            "x@y.test",
            "me@example.test",
        );
        let o = s.run(&view, &crate::sieve::Limits::default());
        // Only the subject rule (flag) matches: the quoting survived.
        assert_eq!(o.keep, vec![(None, vec!["\\Flagged".to_string()])]);
        let v = o.vacation.unwrap();
        assert_eq!(v.subject.as_deref(), Some("Away \"now\""));
        assert_eq!(v.reason, "Back on Monday.\r\nC:\\path");
    }

    #[test]
    fn bad_forms_are_refused() {
        let rule = |field: &str, contains: &str, action: &str, target: &str| Filters {
            rules: vec![Rule {
                field: field.into(),
                contains: contains.into(),
                action: action.into(),
                target: target.into(),
            }],
            ..Filters::default()
        };
        for f in [
            rule("body", "x", "move", "A"),
            rule("from", "x", "explode", ""),
            rule("from", " ", "read", ""),
            rule("from", "x", "forward", "not an address"),
            rule("from", "x", "move", ""),
            rule("from", "x\ny", "read", ""),
        ] {
            assert!(check(&f).is_err(), "{f:?}");
        }
    }
}

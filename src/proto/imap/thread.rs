//! SORT and THREAD (RFC 5256): base-subject extraction, sort orders, and the ORDEREDSUBJECT and
//! REFERENCES threading algorithms, over message facts the driver supplies. Pure and bounded by
//! the number of messages searched.

use std::collections::HashMap;

/// What SORT and THREAD need to know about one message.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The number reported (sequence number or UID).
    pub id: u32,
    /// Sequence number (the final tie-breaker, RFC 5256 §3).
    pub seq: u32,
    /// INTERNALDATE, Unix seconds.
    pub arrival: i64,
    /// Date: header, Unix seconds (None if absent or unparsable: then arrival is used).
    pub sent: Option<i64>,
    /// RFC822.SIZE.
    pub size: u64,
    /// Decoded Subject: header.
    pub subject: String,
    /// First From: address's mailbox (local part), lower-case.
    pub from: String,
    /// First To: address's mailbox, lower-case.
    pub to: String,
    /// First Cc: address's mailbox, lower-case.
    pub cc: String,
    /// First From: display name, or the address if none (RFC 5957 DISPLAYFROM).
    pub display_from: String,
    /// First To: display name, or the address if none (RFC 5957 DISPLAYTO).
    pub display_to: String,
    /// Message-ID, without angle brackets.
    pub message_id: Option<String>,
    /// References: ids in order, then In-Reply-To's first id if References is absent.
    pub references: Vec<String>,
}

/// Extracts the base subject (RFC 5256 §2.1); the bool says whether reply/forward markers were
/// removed (a "subject-reply").
pub fn base_subject(subject: &str) -> (String, bool) {
    // (1) Collapse whitespace runs to one space.
    let mut s: String = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut reply = false;
    loop {
        // (2) Remove trailing "(fwd)" and whitespace.
        loop {
            let lower = s.to_lowercase();
            if lower.ends_with("(fwd)") {
                s.truncate(s.len() - 5);
                s = s.trim_end().to_string();
                reply = true;
            } else {
                break;
            }
        }
        // (3) Remove leading subj-refwd ("re:", "fw:", "fwd:" with optional [blob]) and blobs.
        let mut changed = true;
        while changed {
            changed = false;
            let t = s.trim_start();
            if let Some(rest) = strip_refwd(t) {
                s = rest.to_string();
                reply = true;
                changed = true;
                continue;
            }
            if let Some(rest) = strip_blob(t)
                && !rest.trim().is_empty()
            {
                s = rest.to_string();
                changed = true;
            }
        }
        // (6) "[fwd:" ... "]" wrapper.
        let t = s.trim();
        let lower = t.to_lowercase();
        if lower.starts_with("[fwd:") && t.ends_with(']') {
            s = t[5..t.len() - 1].to_string();
            reply = true;
            continue;
        }
        break;
    }
    (s.trim().to_string(), reply)
}

fn strip_blob(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('[')?;
    let end = rest.find(']')?;
    if rest[..end].contains('[') {
        return None;
    }
    Some(rest[end + 1..].trim_start())
}

fn strip_refwd(s: &str) -> Option<&str> {
    let lower = s.to_lowercase();
    let n = ["re", "fwd", "fw"]
        .iter()
        .find(|p| lower.starts_with(*p))
        .map(|p| p.len())?;
    let mut rest = s[n..].trim_start();
    while let Some(r) = strip_blob(rest) {
        rest = r;
    }
    rest.strip_prefix(':').map(str::trim_start)
}

/// A SORT criterion (RFC 5256 §3, RFC 5957).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    /// INTERNALDATE
    Arrival,
    /// First Cc mailbox
    Cc,
    /// Date: (falls back to INTERNALDATE)
    Date,
    /// First From mailbox
    From,
    /// RFC822.SIZE
    Size,
    /// Base subject
    Subject,
    /// First To mailbox
    To,
    /// From display name
    DisplayFrom,
    /// To display name
    DisplayTo,
}

/// Sorts by the criteria (each possibly reversed); ties fall back to sequence order.
pub fn sort(mut msgs: Vec<Facts>, criteria: &[(SortBy, bool)]) -> Vec<u32> {
    let subjects: HashMap<u32, String> = msgs
        .iter()
        .map(|m| (m.seq, base_subject(&m.subject).0.to_lowercase()))
        .collect();
    msgs.sort_by(|a, b| {
        for &(by, reverse) in criteria {
            let ord = match by {
                SortBy::Arrival => a.arrival.cmp(&b.arrival),
                SortBy::Date => a
                    .sent
                    .unwrap_or(a.arrival)
                    .cmp(&b.sent.unwrap_or(b.arrival)),
                SortBy::Size => a.size.cmp(&b.size),
                SortBy::Subject => subjects[&a.seq].cmp(&subjects[&b.seq]),
                SortBy::From => a.from.cmp(&b.from),
                SortBy::To => a.to.cmp(&b.to),
                SortBy::Cc => a.cc.cmp(&b.cc),
                SortBy::DisplayFrom => a
                    .display_from
                    .to_lowercase()
                    .cmp(&b.display_from.to_lowercase()),
                SortBy::DisplayTo => a
                    .display_to
                    .to_lowercase()
                    .cmp(&b.display_to.to_lowercase()),
            };
            let ord = if reverse { ord.reverse() } else { ord };
            if ord.is_ne() {
                return ord;
            }
        }
        a.seq.cmp(&b.seq)
    });
    msgs.into_iter().map(|m| m.id).collect()
}

/// A thread tree: a message and its children (RFC 5256 §4 thread-list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The message, or `None` for a placeholder grouping siblings.
    pub id: Option<u32>,
    /// Replies.
    pub children: Vec<Node>,
}

fn sent_or_arrival(m: &Facts) -> (i64, u32) {
    (m.sent.unwrap_or(m.arrival), m.seq)
}

/// THREAD=ORDEREDSUBJECT (RFC 5256 §2.2, first algorithm).
pub fn ordered_subject(msgs: &[Facts]) -> Vec<Node> {
    let mut groups: Vec<(String, Vec<&Facts>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut sorted: Vec<&Facts> = msgs.iter().collect();
    sorted.sort_by_key(|m| {
        (
            base_subject(&m.subject).0.to_lowercase(),
            sent_or_arrival(m),
        )
    });
    for m in sorted {
        let key = base_subject(&m.subject).0.to_lowercase();
        match index.get(&key) {
            Some(&i) => groups[i].1.push(m),
            None => {
                index.insert(key.clone(), groups.len());
                groups.push((key, vec![m]));
            }
        }
    }
    // Threads are ordered by their first message's date; within, messages are siblings of the
    // first (RFC 5256: the first is the parent, the rest its children in date order).
    groups.sort_by_key(|(_, ms)| sent_or_arrival(ms[0]));
    groups
        .into_iter()
        .map(|(_, ms)| Node {
            id: Some(ms[0].id),
            children: ms[1..]
                .iter()
                .map(|m| Node {
                    id: Some(m.id),
                    children: Vec::new(),
                })
                .collect(),
        })
        .collect()
}

/// THREAD=REFERENCES (RFC 5256 §2.2, second algorithm: "jwz").
pub fn references(msgs: &[Facts]) -> Vec<Node> {
    #[derive(Default)]
    struct C {
        msg: Option<usize>,
        parent: Option<usize>,
        children: Vec<usize>,
    }
    let mut cs: Vec<C> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut container = |id: &str, cs: &mut Vec<C>| -> usize {
        *by_id.entry(id.to_string()).or_insert_with(|| {
            cs.push(C::default());
            cs.len() - 1
        })
    };
    fn is_ancestor(cs: &[C], anc: usize, mut node: usize) -> bool {
        let mut hops = 0;
        loop {
            if node == anc {
                return true;
            }
            match cs[node].parent {
                Some(p) if hops < cs.len() => {
                    node = p;
                    hops += 1;
                }
                _ => return false,
            }
        }
    }
    fn unlink(cs: &mut [C], child: usize) {
        if let Some(p) = cs[child].parent.take() {
            cs[p].children.retain(|&c| c != child);
        }
    }
    for (i, m) in msgs.iter().enumerate() {
        // (1A) A container per message; duplicate Message-IDs get a fresh one.
        let me = match &m.message_id {
            Some(id) if !id.is_empty() => {
                let c = container(id, &mut cs);
                if cs[c].msg.is_some() {
                    cs.push(C::default());
                    cs.len() - 1
                } else {
                    c
                }
            }
            _ => {
                cs.push(C::default());
                cs.len() - 1
            }
        };
        cs[me].msg = Some(i);
        // (1B) Link the references chain.
        let mut prev: Option<usize> = None;
        for r in &m.references {
            let c = container(r, &mut cs);
            if let Some(p) = prev
                && cs[c].parent.is_none()
                && !is_ancestor(&cs, c, p)
                && c != p
            {
                cs[c].parent = Some(p);
                cs[p].children.push(c);
            }
            prev = Some(c);
        }
        // (1C) The last reference is this message's parent.
        if let Some(p) = prev
            && p != me
            && !is_ancestor(&cs, me, p)
        {
            unlink(&mut cs, me);
            cs[me].parent = Some(p);
            cs[p].children.push(me);
        } else if prev.is_none() {
            unlink(&mut cs, me);
        }
    }
    // (2) Roots.
    let roots: Vec<usize> = (0..cs.len()).filter(|&c| cs[c].parent.is_none()).collect();
    // (4) Prune empty containers (bottom-up).
    fn prune(cs: &mut Vec<C>, c: usize, is_root: bool) -> Vec<usize> {
        let kids = std::mem::take(&mut cs[c].children);
        let mut new_kids = Vec::new();
        for k in kids {
            new_kids.extend(prune(cs, k, false));
        }
        for &k in &new_kids {
            cs[k].parent = Some(c);
        }
        cs[c].children = new_kids;
        if cs[c].msg.is_none() {
            let kids = cs[c].children.clone();
            if kids.is_empty() {
                return Vec::new();
            }
            // Promote children unless that would promote several to the root level.
            if !is_root || kids.len() == 1 {
                return kids;
            }
        }
        vec![c]
    }
    let mut top: Vec<usize> = Vec::new();
    for r in roots {
        top.extend(prune(&mut cs, r, true));
    }
    // (5) Group root-level threads by base subject.
    let subject_of = |cs: &[C], c: usize| -> Option<(String, bool)> {
        let i = cs[c]
            .msg
            .or_else(|| cs[c].children.first().and_then(|&k| cs[k].msg))?;
        let (s, reply) = base_subject(&msgs[i].subject);
        (!s.is_empty()).then(|| (s.to_lowercase(), reply))
    };
    let mut by_subject: HashMap<String, usize> = HashMap::new();
    for &c in &top {
        if let Some((s, _)) = subject_of(&cs, c) {
            let better = match by_subject.get(&s) {
                None => true,
                Some(&o) => {
                    cs[o].msg.is_some() && cs[c].msg.is_none()
                        || (cs[o].msg.is_some()
                            && cs[c].msg.is_some()
                            && subject_of(&cs, o).is_some_and(|x| x.1)
                            && !subject_of(&cs, c).is_some_and(|x| x.1))
                }
            };
            if better {
                by_subject.insert(s, c);
            }
        }
    }
    let mut merged: Vec<usize> = Vec::new();
    for &c in &top {
        let Some((s, reply)) = subject_of(&cs, c) else {
            merged.push(c);
            continue;
        };
        let o = by_subject[&s];
        if o == c {
            merged.push(c);
            continue;
        }
        if cs[o].msg.is_none() && cs[c].msg.is_none() {
            let kids = std::mem::take(&mut cs[c].children);
            cs[o].children.extend(kids);
        } else if cs[o].msg.is_none()
            || (reply && cs[c].msg.is_some() && !subject_of(&cs, o).is_some_and(|x| x.1))
        {
            cs[o].children.push(c);
            cs[c].parent = Some(o);
        } else {
            // Neither is a reply of the other: a new dummy parent holds both.
            cs.push(C::default());
            let d = cs.len() - 1;
            let old = o;
            cs[d].children = vec![old, c];
            by_subject.insert(s, d);
            if let Some(pos) = merged.iter().position(|&x| x == old) {
                merged[pos] = d;
            }
        }
    }
    // (6) Order siblings by date of their first message (RFC 5256: sent date, then sequence).
    fn first_date(cs: &[C], msgs: &[Facts], c: usize) -> (i64, u32) {
        match cs[c].msg {
            Some(i) => sent_or_arrival(&msgs[i]),
            None => cs[c]
                .children
                .iter()
                .map(|&k| first_date(cs, msgs, k))
                .min()
                .unwrap_or((i64::MAX, u32::MAX)),
        }
    }
    fn build(cs: &[C], msgs: &[Facts], c: usize, depth: usize) -> Node {
        let mut kids: Vec<usize> = cs[c].children.clone();
        kids.sort_by_key(|&k| first_date(cs, msgs, k));
        Node {
            id: cs[c].msg.map(|i| msgs[i].id),
            children: if depth > 10_000 {
                Vec::new()
            } else {
                kids.into_iter()
                    .map(|k| build(cs, msgs, k, depth + 1))
                    .collect()
            },
        }
    }
    merged.sort_by_key(|&c| first_date(&cs, msgs, c));
    merged.dedup();
    merged.into_iter().map(|c| build(&cs, msgs, c, 0)).collect()
}

/// Renders threads in the THREAD response syntax (RFC 5256 §4): `(1 2 (3)(4))`.
pub fn render(threads: &[Node]) -> String {
    fn chain(n: &Node, out: &mut String) {
        match n.id {
            Some(id) => {
                out.push_str(&id.to_string());
                match n.children.len() {
                    0 => {}
                    1 => {
                        out.push(' ');
                        chain(&n.children[0], out);
                    }
                    _ => {
                        out.push(' ');
                        for c in &n.children {
                            out.push('(');
                            chain(c, out);
                            out.push(')');
                        }
                    }
                }
            }
            None => {
                for c in &n.children {
                    out.push('(');
                    chain(c, out);
                    out.push(')');
                }
            }
        }
    }
    let mut out = String::new();
    for t in threads {
        out.push('(');
        chain(t, &mut out);
        out.push(')');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(id: u32, subject: &str, mid: &str, refs: &[&str], sent: i64) -> Facts {
        Facts {
            id,
            seq: id,
            arrival: sent,
            sent: Some(sent),
            subject: subject.into(),
            message_id: Some(mid.into()),
            references: refs.iter().map(|s| s.to_string()).collect(),
            ..Facts::default()
        }
    }

    #[test]
    fn extracts_base_subjects() {
        assert_eq!(
            base_subject("Re: [list] Fwd: Hello   World (fwd)"),
            ("Hello World".into(), true)
        );
        assert_eq!(base_subject("[fwd: Re: meeting]"), ("meeting".into(), true));
        assert_eq!(base_subject("plain"), ("plain".into(), false));
        assert_eq!(base_subject("[tag]"), ("[tag]".into(), false));
        assert_eq!(base_subject("RE:re: x"), ("x".into(), true));
    }

    #[test]
    fn sorts_with_reverse_and_ties() {
        let mut a = f(1, "b", "1", &[], 10);
        a.size = 5;
        let mut b = f(2, "a", "2", &[], 20);
        b.size = 5;
        let c = f(3, "Re: a", "3", &[], 5);
        assert_eq!(
            sort(
                vec![a.clone(), b.clone(), c.clone()],
                &[(SortBy::Subject, false), (SortBy::Date, false)]
            ),
            vec![3, 2, 1]
        );
        assert_eq!(
            sort(
                vec![a.clone(), b.clone(), c.clone()],
                &[(SortBy::Date, true)]
            ),
            vec![2, 1, 3]
        );
        assert_eq!(sort(vec![a, b, c], &[(SortBy::Size, false)]), vec![3, 1, 2]);
    }

    #[test]
    fn threads_by_references_and_subject() {
        let msgs = vec![
            f(1, "Hello", "a", &[], 1),
            f(2, "Re: Hello", "b", &["a"], 2),
            f(3, "Other", "c", &[], 3),
            f(4, "Re: Hello", "d", &["a", "b"], 4),
            f(5, "Re: Hello", "e", &["a"], 5),
            f(6, "Re: Other", "f", &["missing"], 6),
        ];
        assert_eq!(render(&references(&msgs)), "(1 (2 4)(5))(3 6)");
        assert_eq!(render(&ordered_subject(&msgs)), "(1 (2)(4)(5))(3 6)");
    }
}

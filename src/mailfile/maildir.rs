//! Maildir (the `cur/`, `new/`, `tmp/` layout, one file per message) and Maildir++ folders, as
//! Dovecot, Courier, mutt and Python's `mailbox.Maildir` use them.
//!
//! - A message file's name ends with the info suffix `:2,` and its flag letters in ASCII order
//!   (the Maildir specification): `D` `\Draft`, `F` `\Flagged`, `P` passed (the `$Forwarded`
//!   keyword), `R` replied (`\Answered`), `S` `\Seen`, `T` trashed (`\Deleted`).
//! - Keywords are lower-case letters `a`..`z` after the flags, mapped to names per folder by the
//!   folder's `dovecot-keywords` file (lines `N name`, N = 0 for `a`), Dovecot's convention. A
//!   folder can thus carry at most 26 distinct keywords ([`Keywords`] says when one does not fit).
//! - The message file's mtime is its INTERNALDATE (Dovecot's reading of a Maildir).
//! - Maildir++: the root Maildir is INBOX; mailbox `a/b` is the folder `.a.b` holding an empty
//!   `maildirfolder` file. Each level is written in modified UTF-7 (RFC 3501 §5.1.3, Dovecot's
//!   default on disk), and a `.` inside a level, which would read as a separator, as `&AC4-`.
//! - `dovecot-uidlist` (Dovecot's version 3 format) lists the files in UID order; export writes
//!   it so order and UIDs survive, import follows it when present.

use super::{FORWARDED, Meta};
use crate::proto::imap::mutf7;
use crate::store::flags;

/// Flag letters and their meaning, in the ASCII order names carry them.
const LETTERS: [(u8, u32); 5] = [
    (b'D', flags::DRAFT),
    (b'F', flags::FLAGGED),
    (b'R', flags::ANSWERED),
    (b'S', flags::SEEN),
    (b'T', flags::DELETED),
];

/// Dovecot's keyword file name.
pub const KEYWORDS_FILE: &str = "dovecot-keywords";
/// Dovecot's UID list file name.
pub const UIDLIST_FILE: &str = "dovecot-uidlist";
/// Marks a Maildir++ folder.
pub const FOLDER_MARKER: &str = "maildirfolder";
/// Most keyword letters a folder has.
pub const MAX_KEYWORDS: usize = 26;

/// One folder's keyword letters (`dovecot-keywords`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keywords {
    names: Vec<Option<String>>,
}

impl Keywords {
    /// Parses a `dovecot-keywords` file; lines it cannot read are ignored.
    pub fn parse(text: &str) -> Keywords {
        let mut k = Keywords::default();
        for line in text.lines() {
            let Some((n, name)) = line.split_once(' ') else {
                continue;
            };
            let Ok(n) = n.parse::<usize>() else { continue };
            let name = name.trim();
            if n < MAX_KEYWORDS && !name.is_empty() {
                if k.names.len() <= n {
                    k.names.resize(n + 1, None);
                }
                k.names[n] = Some(name.to_string());
            }
        }
        k
    }

    /// The file's text.
    pub fn to_file(&self) -> String {
        let mut s = String::new();
        for (i, n) in self.names.iter().enumerate() {
            if let Some(n) = n {
                s.push_str(&format!("{i} {n}\n"));
            }
        }
        s
    }

    /// Whether no keyword has a letter.
    pub fn is_empty(&self) -> bool {
        self.names.iter().all(Option::is_none)
    }

    /// The letter of `k`, giving it one if there is room; `None` when the folder is full.
    pub fn letter(&mut self, k: &str) -> Option<u8> {
        if let Some(i) = self
            .names
            .iter()
            .position(|n| n.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(k)))
        {
            return Some(b'a' + i as u8);
        }
        let free = match self.names.iter().position(Option::is_none) {
            Some(i) => i,
            None if self.names.len() < MAX_KEYWORDS => {
                self.names.push(None);
                self.names.len() - 1
            }
            None => return None,
        };
        self.names[free] = Some(k.to_string());
        Some(b'a' + free as u8)
    }

    fn name(&self, letter: u8) -> Option<&str> {
        self.names
            .get(usize::from(letter.checked_sub(b'a')?))?
            .as_deref()
    }
}

/// The info suffix (`:2,` and letters) for a message; keywords that find no letter are
/// returned as the second value.
pub fn info(flag_bits: u32, keywords: &[String], letters: &mut Keywords) -> (String, Vec<String>) {
    let mut chars: Vec<u8> = Vec::new();
    let mut lost = Vec::new();
    for (c, bit) in LETTERS {
        if flag_bits & bit != 0 {
            chars.push(c);
        }
    }
    for k in keywords {
        if k.eq_ignore_ascii_case(FORWARDED) {
            chars.push(b'P');
            continue;
        }
        match letters.letter(k) {
            Some(c) => chars.push(c),
            None => lost.push(k.clone()),
        }
    }
    chars.sort_unstable();
    chars.dedup();
    (format!(":2,{}", String::from_utf8_lossy(&chars)), lost)
}

/// Flags and keywords from a message file name (nothing for a name without `:2,`).
pub fn parse_info(file_name: &str, letters: &Keywords) -> Meta {
    let mut meta = Meta::default();
    // Some writers use `!` or `;` instead of `:` where a colon is not allowed in file names.
    let Some(pos) = file_name
        .rfind(":2,")
        .or_else(|| file_name.rfind("!2,"))
        .or_else(|| file_name.rfind(";2,"))
    else {
        return meta;
    };
    for c in file_name[pos + 3..].bytes() {
        if let Some((_, bit)) = LETTERS.iter().find(|(l, _)| *l == c) {
            meta.flags |= bit;
        } else if c == b'P' {
            meta.add_keyword(FORWARDED);
        } else if let Some(k) = letters.name(c) {
            meta.add_keyword(k);
        }
    }
    meta
}

/// The unique part of a file name before the info suffix.
pub fn base_name(file_name: &str) -> &str {
    file_name
        .split_once([':', '!', ';'])
        .map_or(file_name, |(b, _)| b)
}

/// The Maildir++ folder (`.a.b`) of a mailbox; `None` for INBOX, which is the root.
pub fn folder_of(mailbox: &str) -> Option<String> {
    if mailbox == "INBOX" {
        return None;
    }
    let mut out = String::new();
    for level in mailbox.split('/') {
        out.push('.');
        out.push_str(&mutf7::encode(level).replace('.', "&AC4-"));
    }
    Some(out)
}

/// The mailbox a Maildir++ folder (`.a.b`) holds; `None` if the name is not one.
pub fn mailbox_of(folder: &str) -> Option<String> {
    let rest = folder.strip_prefix('.')?;
    if rest.is_empty() || rest == "." {
        return None;
    }
    let mut levels = Vec::new();
    for level in rest.split('.') {
        let mut parts = Vec::new();
        for part in level.split("&AC4-") {
            // Names written by tools that store UTF-8 directly are taken as they are.
            parts.push(mutf7::decode(part.as_bytes()).unwrap_or_else(|| part.to_string()));
        }
        levels.push(parts.join("."));
    }
    let name = levels.join("/");
    Some(if name.eq_ignore_ascii_case("INBOX") {
        "INBOX".into()
    } else if name.len() > 6 && name[..6].eq_ignore_ascii_case("INBOX/") {
        format!("INBOX/{}", &name[6..])
    } else {
        name
    })
}

/// The file names a `dovecot-uidlist` lists, in UID order (bounded to `max` entries).
pub fn parse_uidlist(text: &str, max: usize) -> Vec<String> {
    let mut entries: Vec<(u64, String)> = text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let (uid, rest) = line.split_once(' ')?;
            let uid = uid.parse().ok()?;
            // Version 3: optional extension fields, then `:` and the base name.
            let name = rest.rsplit_once(':').map_or(rest, |(_, n)| n);
            Some((uid, name.to_string()))
        })
        .take(max)
        .collect();
    entries.sort_by_key(|(u, _)| *u);
    entries.into_iter().map(|(_, n)| n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_round_trips_flags_and_keywords() {
        let mut k = Keywords::default();
        let (s, lost) = info(
            flags::SEEN | flags::DRAFT | flags::DELETED,
            &["$Forwarded".into(), "work".into(), "Junk".into()],
            &mut k,
        );
        assert_eq!(s, ":2,DPSTab");
        assert!(lost.is_empty());
        assert_eq!(k.to_file(), "0 work\n1 Junk\n");
        let k2 = Keywords::parse(&k.to_file());
        let m = parse_info(&format!("1.M1P2.host,S=10{s}"), &k2);
        assert_eq!(m.flags, flags::SEEN | flags::DRAFT | flags::DELETED);
        assert_eq!(m.keywords, vec!["$Forwarded", "work", "Junk"]);
        let many: Vec<String> = (0..30).map(|i| format!("k{i}")).collect();
        let (_, lost) = info(0, &many, &mut Keywords::default());
        assert_eq!(lost.len(), 4);
    }

    #[test]
    fn folder_names_round_trip() {
        for name in [
            "Sent",
            "a/b",
            "Entwürfe",
            "dotted.name/x",
            "INBOX/sub",
            "A&B",
        ] {
            let f = folder_of(name).unwrap();
            assert!(!f[1..].contains('/'), "{f}");
            assert_eq!(mailbox_of(&f).as_deref(), Some(name), "{f}");
        }
        assert_eq!(folder_of("Entwürfe/x.y").unwrap(), ".Entw&APw-rfe.x&AC4-y");
        assert_eq!(folder_of("INBOX"), None);
        assert_eq!(mailbox_of(".."), None);
        assert_eq!(mailbox_of("cur"), None);
    }

    #[test]
    fn reads_uidlists() {
        let text = "3 V1 N4 Gabc\n3 :c.host\n1 W10 :a.host\n2 :b.host\n";
        assert_eq!(parse_uidlist(text, 10), vec!["a.host", "b.host", "c.host"]);
        assert_eq!(base_name("a.host:2,S"), "a.host");
    }
}

//! LIST pattern matching (RFC 9051 §6.3.9): `*` matches anything, `%` anything but the
//! hierarchy delimiter `/`; `INBOX` matches case-insensitively (RFC 9051 §5.1).

/// The hierarchy delimiter.
pub const DELIMITER: char = '/';

/// Canonical form of a mailbox name: `INBOX` in any case (as a whole or as the first level) is
/// `INBOX`.
pub fn canonical(name: &str) -> String {
    let (first, rest) = match name.find(DELIMITER) {
        Some(i) => (&name[..i], &name[i..]),
        None => (name, ""),
    };
    if first.eq_ignore_ascii_case("INBOX") {
        format!("INBOX{rest}")
    } else {
        name.to_string()
    }
}

/// Joins a reference and a pattern (RFC 9051 §6.3.9: the pattern is interpreted in the
/// reference's context; we have a single namespace, so this is concatenation).
pub fn combine(reference: &str, pattern: &str) -> String {
    format!("{reference}{pattern}")
}

/// Whether `name` matches `pattern`.
///
/// Iterative, with one row of state per name character: O(pattern × name) time, O(name) memory
/// and no recursion, so a client's 64 KiB pattern cannot exhaust the stack (a recursive matcher
/// did, killing the server). Runs of wildcards collapse, and the walk stops as soon as no prefix
/// of the name can match.
pub fn matches(pattern: &str, name: &str) -> bool {
    let pattern = canonical(pattern);
    let name: Vec<char> = canonical(name).chars().collect();
    // reach[j]: the pattern read so far matches exactly name[..j].
    let mut reach = vec![false; name.len() + 1];
    reach[0] = true;
    let mut prev = None;
    for c in pattern.chars() {
        match (c, prev) {
            // `**`, `%%` and `*%` add nothing; `%*` is `*` (checked below by applying `*`).
            ('*' | '%', Some('*')) | ('%', Some('%')) => continue,
            ('*', _) => {
                for j in 1..reach.len() {
                    reach[j] |= reach[j - 1];
                }
            }
            ('%', _) => {
                for j in 1..reach.len() {
                    reach[j] |= reach[j - 1] && name[j - 1] != DELIMITER;
                }
            }
            (c, _) => {
                for j in (1..reach.len()).rev() {
                    reach[j] = reach[j - 1] && name[j - 1] == c;
                }
                reach[0] = false;
            }
        }
        prev = Some(c);
        if !reach.contains(&true) {
            return false;
        }
    }
    reach[name.len()]
}

/// The parent names of `name` (`a/b/c` → `a`, `a/b`), for \Noselect placeholders and
/// \HasChildren.
pub fn parents(name: &str) -> Vec<&str> {
    name.match_indices(DELIMITER)
        .map(|(i, _)| &name[..i])
        .filter(|p| !p.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_patterns_neither_recurse_nor_allocate_per_pattern_byte() {
        let long = "%".repeat(1 << 20);
        assert!(matches(&long, "Sent"));
        assert!(!matches(&long, "a/b"));
        let alternating = "a%".repeat(1 << 16);
        assert!(!matches(&alternating, &"a".repeat(255)));
        assert!(matches(&format!("{}*", "a%".repeat(100)), &"a".repeat(255)));
    }

    #[test]
    fn wildcards_and_inbox() {
        assert!(matches("*", "a/b/c"));
        assert!(matches("%", "Sent"));
        assert!(!matches("%", "a/b"));
        assert!(matches("a/%", "a/b"));
        assert!(!matches("a/%", "a/b/c"));
        assert!(matches("a/*", "a/b/c"));
        assert!(matches("inbox", "INBOX"));
        assert!(matches("INBOX/%", "inbox/x"));
        assert!(!matches("Sent", "sent"));
        assert!(matches("*x*", "abxcd"));
        assert!(!matches("%x", "a/x"));
        assert!(matches("a%*c", "ab/xc") && matches("a*%c", "ab/xc") && !matches("a%%c", "ab/xc"));
        assert!(matches("", "") && !matches("", "a") && !matches("a", ""));
        assert!(matches("%", "") && matches("*", ""));
        assert_eq!(canonical("Inbox/Sub"), "INBOX/Sub");
        assert_eq!(parents("a/b/c"), vec!["a", "a/b"]);
    }
}

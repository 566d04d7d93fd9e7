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
    if first.eq_ignore_ascii_case("INBOX") { format!("INBOX{rest}") } else { name.to_string() }
}

/// Joins a reference and a pattern (RFC 9051 §6.3.9: the pattern is interpreted in the
/// reference's context; we have a single namespace, so this is concatenation).
pub fn combine(reference: &str, pattern: &str) -> String {
    format!("{reference}{pattern}")
}

/// Whether `name` matches `pattern`.
pub fn matches(pattern: &str, name: &str) -> bool {
    let pattern = canonical(pattern);
    let name = canonical(name);
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative wildcard matching with backtracking over the last `*`/`%` (bounded: O(p·n)).
    fn go(p: &[char], n: &[char]) -> bool {
        let mut memo = vec![vec![None; n.len() + 1]; p.len() + 1];
        fn m(p: &[char], n: &[char], i: usize, j: usize, memo: &mut Vec<Vec<Option<bool>>>) -> bool {
            if let Some(r) = memo[i][j] {
                return r;
            }
            let r = if i == p.len() {
                j == n.len()
            } else {
                match p[i] {
                    '*' => m(p, n, i + 1, j, memo) || (j < n.len() && m(p, n, i, j + 1, memo)),
                    '%' => m(p, n, i + 1, j, memo) || (j < n.len() && n[j] != DELIMITER && m(p, n, i, j + 1, memo)),
                    c => j < n.len() && n[j] == c && m(p, n, i + 1, j + 1, memo),
                }
            };
            memo[i][j] = Some(r);
            r
        }
        m(p, n, 0, 0, &mut memo)
    }
    go(&p, &n)
}

/// The parent names of `name` (`a/b/c` → `a`, `a/b`), for \Noselect placeholders and
/// \HasChildren.
pub fn parents(name: &str) -> Vec<&str> {
    name.match_indices(DELIMITER).map(|(i, _)| &name[..i]).filter(|p| !p.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(canonical("Inbox/Sub"), "INBOX/Sub");
        assert_eq!(parents("a/b/c"), vec!["a", "a/b"]);
    }
}

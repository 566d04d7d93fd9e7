//! App passwords: extra passwords a user makes on the web page for one mail program each
//! (IMAP, POP3, submission), revocable one by one without changing the main password. They
//! never open the web page, which keeps needing the main password (and the second factor).
//!
//! Each is 20 random characters from a 32-letter alphabet (100 bits), shown once and stored as
//! its SHA-256: with that much entropy a slow hash adds nothing, and a login costs one hash per
//! stored app password instead of an argon2 run. The list lives in the store's `STATE` table
//! under `apppw.<address>`, one line per password: `id created sha256-hex name`.
//!
//! Invariants: at most [`MAX_PER_USER`] per user; names are one line of at most
//! [`MAX_NAME_CHARS`] characters; the comparison runs over every stored hash without an early
//! exit; the plaintext is never stored or logged.

use ring::digest;

/// Most app passwords per user.
pub const MAX_PER_USER: usize = 20;
/// Longest name.
pub const MAX_NAME_CHARS: usize = 60;
/// Characters of a generated password (in groups of 4 when shown).
pub const LENGTH: usize = 20;
/// Lowercase without i, l and o, and digits without 1: nothing to mistake when typing it from a
/// phone screen.
const ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz023456789";

/// One stored app password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPassword {
    /// Its id (random, for revoking).
    pub id: String,
    /// When it was made, Unix seconds.
    pub created: u64,
    /// SHA-256 of the password, lowercase hex.
    pub hash: String,
    /// What the user called it ("phone", "laptop").
    pub name: String,
}

/// The store key of `email`'s list.
pub fn state_key(email: &str) -> String {
    format!("apppw.{email}")
}

fn sha256_hex(s: &str) -> String {
    digest::digest(&digest::SHA256, s.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads a stored list (unreadable lines are skipped).
pub fn decode(raw: &[u8]) -> Vec<AppPassword> {
    String::from_utf8_lossy(raw)
        .lines()
        .filter_map(|l| {
            let mut parts = l.splitn(4, ' ');
            Some(AppPassword {
                id: parts.next()?.to_string(),
                created: parts.next()?.parse().ok()?,
                hash: parts.next()?.to_string(),
                name: parts.next().unwrap_or("").to_string(),
            })
        })
        .collect()
}

/// Writes a list for the store.
pub fn encode(list: &[AppPassword]) -> Vec<u8> {
    list.iter()
        .map(|p| format!("{} {} {} {}\n", p.id, p.created, p.hash, p.name))
        .collect::<String>()
        .into_bytes()
}

/// A new app password named `name`: the plaintext to show once, and what to store.
pub fn generate(name: &str, now: u64) -> Result<(String, AppPassword), String> {
    let name: String = name.trim().chars().filter(|c| !c.is_control()).collect();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "Give it a name of 1 to {MAX_NAME_CHARS} characters."
        ));
    }
    let mut raw = [0u8; LENGTH + 6];
    getrandom::fill(&mut raw).map_err(|e| format!("no randomness: {e}"))?;
    let password: String = raw[..LENGTH]
        .iter()
        .map(|b| ALPHABET[usize::from(b & 31)] as char)
        .collect();
    let id: String = raw[LENGTH..].iter().map(|b| format!("{b:02x}")).collect();
    let stored = AppPassword {
        id,
        created: now,
        hash: sha256_hex(&password),
        name,
    };
    Ok((password, stored))
}

/// `password` grouped by 4 for reading off a screen (spaces are ignored at login).
pub fn shown(password: &str) -> String {
    password
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `password` (spaces ignored) is one of `list`, checking every entry.
pub fn matches(list: &[AppPassword], password: &str) -> bool {
    let compact: String = password.chars().filter(|c| *c != ' ').collect();
    if compact.len() != LENGTH {
        return false;
    }
    let want = sha256_hex(&compact);
    list.iter().fold(false, |found, p| {
        found | super::same_secret(p.hash.as_bytes(), want.as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_matched_stored_and_revoked() {
        let (pw, a) = generate("phone", 1_800_000_000).unwrap();
        let (_, b) = generate("  laptop \n", 1_800_000_001).unwrap();
        assert_eq!(pw.len(), LENGTH);
        assert!(pw.bytes().all(|c| ALPHABET.contains(&c)));
        assert_eq!(b.name, "laptop");
        let list = decode(&encode(&[a.clone(), b.clone()]));
        assert_eq!(list, vec![a.clone(), b]);
        assert!(matches(&list, &pw));
        assert!(matches(&list, &shown(&pw)));
        assert!(!matches(&list, &pw.to_uppercase()));
        assert!(!matches(&list, ""));
        let revoked: Vec<AppPassword> = list.into_iter().filter(|p| p.id != a.id).collect();
        assert!(!matches(&revoked, &pw));
        assert!(generate("", 0).is_err());
        assert!(generate(&"x".repeat(61), 0).is_err());
        assert_eq!(shown("abcdefghij"), "abcd efgh ij");
    }
}

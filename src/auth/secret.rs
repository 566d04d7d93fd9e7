//! `Secret<T>`: a value that must never reach a log line by accident.
//!
//! Passwords and AUTH payloads travel inside it: its `Debug` prints `<redacted>`, it has no
//! `Display`, and reading the value needs an explicit [`Secret::expose`], which is easy to audit.
//! It has no `PartialEq` either, so nobody compares secrets with a short-circuiting `==`.

use std::fmt;

/// Whether two secrets are equal, in time that depends only on their lengths (no early exit
/// at the first differing byte).
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A value whose `Debug` prints `<redacted>` (the imap-types `Secret` habit).
#[derive(Clone, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Secret<T> {
        Secret(value)
    }

    /// The value itself; every call site is a place where the secret is used on purpose.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Secret<T> {
        Secret(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("hunter2".to_string());
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(&s)), "Some(<redacted>)");
        assert_eq!(s.expose(), "hunter2");
    }
}

//! When to try a deferred message again: exponential backoff with jitter, and when to give up.
//!
//! Pure: the caller passes the time and the random draw. The delay after attempt `n` (1-based)
//! is `base · 2^(n-1)`, at most `max`, then moved by up to ±20 % so that messages deferred
//! together (a remote server's outage) do not all come back in the same second.

/// Retry settings (`queue.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// First delay, seconds.
    pub base_secs: u64,
    /// Longest delay, seconds.
    pub max_secs: u64,
}

impl Backoff {
    /// Seconds to wait after `attempts` attempts (at least 1); `jitter` in `0..=u32::MAX` maps to
    /// −20 %..+20 %.
    pub fn delay_secs(&self, attempts: u32, jitter: u32) -> u64 {
        let shift = attempts.saturating_sub(1).min(40);
        let raw = self
            .base_secs
            .saturating_mul(1u64 << shift)
            .min(self.max_secs)
            .max(1);
        // ±20 %: raw · (0.8 + 0.4 · jitter / u32::MAX)
        let spread = raw / 5;
        let max = u128::from(u32::MAX);
        let offset = ((u128::from(spread) * 2 * u128::from(jitter) + max / 2) / max) as u64;
        (raw - spread + offset).max(1)
    }
}

/// A random `u32` for [`Backoff::delay_secs`] (0 if the system has no randomness to give).
pub fn jitter() -> u32 {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    u32::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_caps_and_jitters_within_a_fifth() {
        let b = Backoff {
            base_secs: 300,
            max_secs: 7200,
        };
        let mid = u32::MAX / 2;
        assert_eq!(b.delay_secs(1, mid), 300);
        assert_eq!(b.delay_secs(2, mid), 600);
        assert_eq!(b.delay_secs(3, mid), 1200);
        assert_eq!(b.delay_secs(10, mid), 7200);
        assert_eq!(b.delay_secs(u32::MAX, mid), 7200);
        assert_eq!(b.delay_secs(1, 0), 240);
        assert_eq!(b.delay_secs(1, u32::MAX), 360);
        let tiny = Backoff {
            base_secs: 1,
            max_secs: 1,
        };
        assert_eq!(tiny.delay_secs(0, 0), 1);
    }
}

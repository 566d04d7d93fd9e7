//! The Bayesian token model: per-token ham/spam counts → a spam probability.
//!
//! Token probabilities follow Robinson (the SpamBayes estimator): `p = s/S / (h/H + s/S)` from
//! the token's counts `h`, `s` and the trained totals `H`, `S`, pulled towards 0.5 by the
//! evidence: `f = (STRENGTH·0.5 + n·p) / (STRENGTH + n)` with `n = h + s`. A token seen once in
//! spam and never in ham therefore already counts (f = 0.75), so one trained message moves the
//! very next similar one. The strongest [`MAX_CLUES`] tokens with `|f − 0.5| ≥ MIN_STRENGTH`
//! are combined with Fisher's chi-square method (`(S − H + 1) / 2`, SpamBayes' `chi2_spamprob`).
//!
//! Size budget: a user's model holds at most [`MAX_TOKENS_PER_USER`] tokens. A stored row is
//! the 8-byte token hash and three `u32` (ham, spam, last-trained generation) = 20 bytes; in
//! memory a [`MemModel`] entry costs about 29 bytes (hashbrown slot plus control byte at 7/8
//! load). 150 000 tokens ≈ 3 MiB stored, ≈ 4.3 MiB in memory: "≤ 4 MiB per user" on disk.
//! [`MemModel::prune`] drops the rarest, longest-untouched tokens first when over budget.

use std::collections::HashMap;

/// Pull of the 0.5 prior against a token's evidence (SpamBayes `unknown_word_strength`; 1.0
/// measured better than SpamBayes' 0.45 on the SpamAssassin corpus, bench/README.md).
pub const STRENGTH: f64 = 1.0;
/// Tokens whose probability is closer to 0.5 than this are ignored.
pub const MIN_STRENGTH: f64 = 0.1;
/// Most tokens combined into one score (300 measured better than SpamBayes' 150).
pub const MAX_CLUES: usize = 300;
/// Token budget per user (see the module documentation).
pub const MAX_TOKENS_PER_USER: usize = 150_000;
/// Bytes of one stored token row (hash, ham, spam, generation).
pub const ROW_BYTES: usize = 20;

/// Ham or spam.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Wanted mail.
    Ham,
    /// Junk.
    Spam,
}

/// Read access to token counts: a [`MemModel`] here, the store's table later.
pub trait TokenCounts {
    /// `(ham, spam)`: how many trained messages of each class held the token.
    fn get(&self, token: u64) -> (u32, u32);
    /// `(ham, spam)`: how many messages of each class were trained.
    fn totals(&self) -> (u32, u32);
}

/// One token's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Entry {
    pub ham: u32,
    pub spam: u32,
    /// The generation (trained messages so far) when the token was last trained.
    pub last: u32,
}

/// An in-memory model.
#[derive(Debug, Clone, Default)]
pub struct MemModel {
    tokens: HashMap<u64, Entry>,
    ham: u32,
    spam: u32,
    generation: u32,
}

/// A score and the tokens that weighed most.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// Spam probability in 0..=1.
    pub probability: f64,
    /// Up to 10 `(token, token probability)`, strongest first.
    pub top: Vec<(u64, f64)>,
    /// Tokens that took part in the combination.
    pub clues: usize,
}

impl TokenCounts for MemModel {
    fn get(&self, token: u64) -> (u32, u32) {
        self.tokens.get(&token).map_or((0, 0), |e| (e.ham, e.spam))
    }
    fn totals(&self) -> (u32, u32) {
        (self.ham, self.spam)
    }
}

impl MemModel {
    /// An empty model.
    pub fn new() -> MemModel {
        MemModel::default()
    }

    /// Records one message's distinct tokens as `class`.
    pub fn train(&mut self, tokens: &[u64], class: Class) {
        self.generation = self.generation.saturating_add(1);
        match class {
            Class::Ham => self.ham = self.ham.saturating_add(1),
            Class::Spam => self.spam = self.spam.saturating_add(1),
        }
        for &t in tokens {
            let e = self.tokens.entry(t).or_default();
            match class {
                Class::Ham => e.ham = e.ham.saturating_add(1),
                Class::Spam => e.spam = e.spam.saturating_add(1),
            }
            e.last = self.generation;
        }
    }

    /// Takes back an earlier `train(tokens, class)` (the user changed their mind).
    pub fn untrain(&mut self, tokens: &[u64], class: Class) {
        match class {
            Class::Ham => self.ham = self.ham.saturating_sub(1),
            Class::Spam => self.spam = self.spam.saturating_sub(1),
        }
        for t in tokens {
            if let Some(e) = self.tokens.get_mut(t) {
                match class {
                    Class::Ham => e.ham = e.ham.saturating_sub(1),
                    Class::Spam => e.spam = e.spam.saturating_sub(1),
                }
                if e.ham == 0 && e.spam == 0 {
                    self.tokens.remove(t);
                }
            }
        }
    }

    /// Distinct tokens held.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether nothing was trained.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Bytes the tokens take as store rows ([`ROW_BYTES`] each).
    pub fn stored_bytes(&self) -> usize {
        self.tokens.len() * ROW_BYTES
    }

    /// Bytes the in-memory table takes (its allocated slots, key, value and control byte).
    pub fn memory_bytes(&self) -> usize {
        self.tokens.capacity() * (std::mem::size_of::<(u64, Entry)>() + 1)
    }

    /// Scores a message's distinct tokens.
    pub fn score(&self, tokens: &[u64]) -> Score {
        score(self, tokens)
    }

    /// When more than `max_tokens` are held, drops tokens until 90 % of it remain: those seen
    /// in the fewest messages first, of those the longest untouched. Returns how many went.
    pub fn prune(&mut self, max_tokens: usize) -> usize {
        if self.tokens.len() <= max_tokens {
            return 0;
        }
        let keep = max_tokens / 10 * 9;
        let mut order: Vec<(u32, u32, u64)> = self
            .tokens
            .iter()
            .map(|(&t, e)| (e.ham.saturating_add(e.spam), e.last, t))
            .collect();
        order.sort_unstable();
        let drop = self.tokens.len() - keep;
        for &(_, _, t) in &order[..drop] {
            self.tokens.remove(&t);
        }
        self.tokens.shrink_to_fit();
        drop
    }
}

/// The probability of one token from its counts and the totals.
pub fn token_probability(ham: u32, spam: u32, total_ham: u32, total_spam: u32) -> f64 {
    let n = f64::from(ham) + f64::from(spam);
    if n == 0.0 {
        return 0.5;
    }
    let hr = f64::from(ham) / f64::from(total_ham.max(1));
    let sr = f64::from(spam) / f64::from(total_spam.max(1));
    let p = if hr + sr == 0.0 { 0.5 } else { sr / (hr + sr) };
    (STRENGTH * 0.5 + n * p) / (STRENGTH + n)
}

/// `P(χ² > x2)` for `v` (even) degrees of freedom.
fn chi2q(x2: f64, v: usize) -> f64 {
    let m = x2 / 2.0;
    let mut term = (-m).exp();
    let mut sum = term;
    for i in 1..v / 2 {
        term *= m / i as f64;
        sum += term;
    }
    sum.min(1.0)
}

/// Fewest strong tokens for the probability to count as an opinion.
pub const MIN_CLUES: usize = 5;
/// Messages of each class a model must have learned before it judges unfamiliar messages.
pub const MATURE_MESSAGES: u32 = 20;

/// The model's opinion of a message, or `None` when it has none worth weighing: fewer than
/// [`MIN_CLUES`] strong tokens, or a young model (fewer than [`MATURE_MESSAGES`] of either
/// class) facing a message most of whose tokens it never saw. A young model sees common words in
/// one class only and would call everything like what it was taught; it still recognises copies
/// and near-copies of what a user judged.
pub fn opinion(counts: &dyn TokenCounts, tokens: &[u64]) -> Option<f64> {
    let (ham, spam) = counts.totals();
    if ham == 0 && spam == 0 {
        return None;
    }
    let s = score(counts, tokens);
    let young = ham.min(spam) < MATURE_MESSAGES;
    let known = tokens.iter().filter(|t| counts.get(**t) != (0, 0)).count();
    let familiar = known * 2 >= tokens.len().max(1);
    (s.clues >= MIN_CLUES && (!young || familiar)).then_some(s.probability)
}

/// Scores distinct tokens against any [`TokenCounts`].
pub fn score(counts: &dyn TokenCounts, tokens: &[u64]) -> Score {
    let (th, ts) = counts.totals();
    let mut clues: Vec<(f64, u64)> = tokens
        .iter()
        .filter_map(|&t| {
            let (h, s) = counts.get(t);
            let p = token_probability(h, s, th, ts);
            ((p - 0.5).abs() >= MIN_STRENGTH).then_some((p, t))
        })
        .collect();
    clues.sort_unstable_by(|a, b| {
        (b.0 - 0.5)
            .abs()
            .total_cmp(&(a.0 - 0.5).abs())
            .then(a.1.cmp(&b.1))
    });
    clues.truncate(MAX_CLUES);
    if clues.is_empty() {
        return Score {
            probability: 0.5,
            top: Vec::new(),
            clues: 0,
        };
    }
    let (mut ln_s, mut ln_h) = (0.0f64, 0.0f64);
    for &(p, _) in &clues {
        let p = p.clamp(1e-9, 1.0 - 1e-9);
        ln_s += (1.0 - p).ln();
        ln_h += p.ln();
    }
    let n = clues.len() * 2;
    let s = 1.0 - chi2q(-2.0 * ln_s, n);
    let h = 1.0 - chi2q(-2.0 * ln_h, n);
    Score {
        probability: ((s - h + 1.0) / 2.0).clamp(0.0, 1.0),
        top: clues.iter().take(10).map(|&(p, t)| (t, p)).collect(),
        clues: clues.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(words: &str) -> Vec<u64> {
        let mut v: Vec<u64> = words
            .split_whitespace()
            .map(|w| super::super::tokens::token_hash(w.as_bytes()))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    #[test]
    fn one_trained_spam_moves_the_next_copy() {
        let mut m = MemModel::new();
        for i in 0..5 {
            m.train(
                &toks(&format!("hello meeting tomorrow agenda notes lunch {i}")),
                Class::Ham,
            );
        }
        let spam = toks("cheap pills online pharmacy discount order now hello");
        assert!(m.score(&spam).probability < 0.9, "not yet known");
        m.train(&spam, Class::Spam);
        let s = m.score(&spam);
        assert!(s.probability > 0.9, "{s:?}");
        assert!(!s.top.is_empty());
        let ham = m.score(&toks("hello meeting agenda lunch"));
        assert!(ham.probability < 0.1, "{ham:?}");
        // And back.
        m.untrain(&spam, Class::Spam);
        assert!(m.score(&spam).probability < 0.9);
        assert_eq!(m.totals(), (5, 0));
    }

    #[test]
    fn unknown_tokens_are_neutral() {
        let m = MemModel::new();
        assert_eq!(m.score(&toks("a b c")).probability, 0.5);
        assert_eq!(token_probability(0, 0, 10, 10), 0.5);
        assert!(token_probability(0, 1, 10, 10) >= 0.75);
        assert!(token_probability(1, 0, 10, 10) <= 0.25);
    }

    #[test]
    fn prune_drops_rare_old_tokens_first() {
        let mut m = MemModel::new();
        let common = toks("common words stay");
        for i in 0..100u64 {
            let mut t = common.clone();
            t.push(1_000_000 + i);
            m.train(&t, if i % 2 == 0 { Class::Ham } else { Class::Spam });
        }
        assert_eq!(m.len(), 103);
        let dropped = m.prune(50);
        assert_eq!(m.len(), 45);
        assert_eq!(dropped, 58);
        for t in &common {
            assert_eq!(m.get(*t), (50, 50));
        }
        // The newest rare tokens survive, the oldest went.
        assert_eq!(m.get(1_000_099), (0, 1));
        assert_eq!(m.get(1_000_000), (0, 0));
        assert_eq!(m.prune(50), 0);
    }

    #[test]
    fn chi2q_limits() {
        assert!((chi2q(0.0, 2) - 1.0).abs() < 1e-12);
        assert!(chi2q(1000.0, 4) < 1e-100);
        assert!(chi2q(2.0, 2) > 0.36 && chi2q(2.0, 2) < 0.37);
    }
}

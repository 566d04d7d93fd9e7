//! The Organizational Domain (RFC 7489 §3.2) from the Public Suffix List (publicsuffix.org).
//!
//! The list is not compiled into the binary (it is ~230 KB of text and changes monthly): it is
//! read at start-up from the file the distribution maintains, Debian's `publicsuffix` package
//! (`/usr/share/publicsuffix/public_suffix_list.dat`). When that file is absent,
//! [`PublicSuffixList::builtin`] is a small fallback: a few dozen common multi-label suffixes
//! (`co.uk`, `com.au`, ...) plus the list algorithm's implicit `*` rule, which makes the
//! Organizational Domain of every other name its last two labels. The fallback is wrong for
//! suffixes it does not know (e.g. `k12.ak.us`, `github.io`): it then treats a public suffix as
//! an organization, so relaxed alignment is looser than with the full list.
//!
//! Both sections of the list, ICANN and PRIVATE, are used, as OpenDMARC and most receivers do:
//! a private suffix such as `github.io` or `blogspot.com` hosts independent registrants, and
//! `alice.github.io` must not be aligned with `mallory.github.io`.
//!
//! Matching follows the algorithm of publicsuffix.org/list: the prevailing rule is an exception
//! (`!`) rule if one matches, else the matching rule with the most labels (a `*` label matches
//! any one label), else `*`. The public suffix is the prevailing rule's labels (an exception
//! drops its leftmost one); the registrable domain is one label more.
//!
//! Invariants:
//! - Names are compared in A-label form, lowercased, without a trailing dot: rules and queried
//!   names with non-ASCII labels are converted with Punycode (RFC 3492), so `食狮.公司.cn` and
//!   `xn--85x722f.xn--55qx5d.cn` get the same answer. Unicode case is folded with
//!   `to_lowercase`, not full IDNA2008 mapping.
//! - Memory: the rules live in one string with a `u32` end offset per rule (no allocation per
//!   rule), sorted for binary search; the full list (9,500 rules) costs ~150 KB of heap.
//! - Parsing never fails: lines that are not rules are skipped. Lookups never panic and cost
//!   a few binary searches per label.

use std::path::Path;

/// Where Debian's `publicsuffix` package installs the list.
pub const SYSTEM_LIST: &str = "/usr/share/publicsuffix/public_suffix_list.dat";

/// The built-in fallback rules (used only when no list file can be read).
const BUILTIN: &str = "\
ac.uk\nco.uk\ngov.uk\nltd.uk\nme.uk\nnet.uk\nnhs.uk\norg.uk\nplc.uk\nsch.uk\n\
com.au\nedu.au\ngov.au\nnet.au\norg.au\nasn.au\nid.au\n\
co.nz\nnet.nz\norg.nz\ngovt.nz\nac.nz\n\
co.jp\nne.jp\nor.jp\nac.jp\ngo.jp\n\
co.za\norg.za\n\
com.br\nnet.br\norg.br\n\
com.cn\nnet.cn\norg.cn\n\
com.mx\nco.in\nco.kr\ncom.tw\ncom.sg\ncom.tr\nco.il\ncom.hk\ncom.ar\n\
";

/// A parsed Public Suffix List.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicSuffixList {
    /// The rules, sorted, concatenated: plain (`co.uk`), wildcard (`*.ck`), exception (`!www.ck`).
    text: Box<str>,
    /// End offset in `text` of each rule; rule `i` starts where rule `i - 1` ends.
    ends: Box<[u32]>,
    fallback: bool,
}

impl PublicSuffixList {
    /// Parses the list format: one rule per line (its first whitespace-delimited word), `//`
    /// comments, blank lines. Both the ICANN and the PRIVATE section are kept. Rules are
    /// lowercased and converted to A-labels; malformed ones (empty labels, `*` not leftmost)
    /// are skipped.
    pub fn parse(text: &str) -> PublicSuffixList {
        // One buffer and a span per rule (no allocation per rule kept), sorted, then packed.
        let mut buf = String::new();
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for word in text.lines().filter_map(|l| l.split_whitespace().next()) {
            if word.starts_with("//") {
                continue;
            }
            if let Some(rule) = normalize_rule(word) {
                spans.push((buf.len(), buf.len() + rule.len()));
                buf.push_str(&rule);
            }
        }
        spans.sort_unstable_by(|a, b| buf[a.0..a.1].cmp(&buf[b.0..b.1]));
        spans.dedup_by(|a, b| buf[a.0..a.1] == buf[b.0..b.1]);
        // Offsets are u32: a list over 4 GiB is not a list (truncate rather than overflow).
        let mut packed = String::with_capacity(buf.len().min(u32::MAX as usize));
        let mut ends = Vec::with_capacity(spans.len());
        for &(a, b) in &spans {
            if packed.len() + (b - a) > u32::MAX as usize {
                break;
            }
            packed.push_str(&buf[a..b]);
            ends.push(packed.len() as u32);
        }
        PublicSuffixList {
            text: packed.into_boxed_str(),
            ends: ends.into_boxed_slice(),
            fallback: false,
        }
    }

    /// The small built-in list described in the module header.
    pub fn builtin() -> PublicSuffixList {
        PublicSuffixList {
            fallback: true,
            ..PublicSuffixList::parse(BUILTIN)
        }
    }

    /// Reads and parses a list file. Blocking: for start-up.
    pub fn from_file_blocking(path: &Path) -> std::io::Result<PublicSuffixList> {
        Ok(PublicSuffixList::parse(&std::fs::read_to_string(path)?))
    }

    /// The system list ([`SYSTEM_LIST`]) if it can be read and has rules, else [`Self::builtin`].
    /// Blocking: for start-up.
    pub fn system_blocking() -> PublicSuffixList {
        match PublicSuffixList::from_file_blocking(Path::new(SYSTEM_LIST)) {
            Ok(list) if !list.is_empty() => list,
            _ => PublicSuffixList::builtin(),
        }
    }

    /// Whether this is the built-in fallback rather than a full list.
    pub fn is_fallback(&self) -> bool {
        self.fallback
    }

    /// The number of rules.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no rules (every name then has the implicit `*` rule only).
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Heap bytes held by the rules.
    pub fn heap_bytes(&self) -> usize {
        self.text.len() + self.ends.len() * std::mem::size_of::<u32>()
    }

    fn rule(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    fn contains(&self, rule: &str) -> bool {
        let i = (0..self.ends.len()).partition_point_by(|i| self.rule(i) < rule);
        i < self.ends.len() && self.rule(i) == rule
    }

    fn has_parts(&self, parts: &[&str]) -> bool {
        let mut key = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        for p in parts {
            key.push_str(p);
        }
        self.contains(&key)
    }

    /// The number of labels of `labels`' public suffix (labels in A-label form, all non-empty).
    fn suffix_labels(&self, labels: &[&str]) -> usize {
        let n = labels.len();
        let mut longest = 1; // the implicit "*" rule
        for k in 1..=n {
            let suffix = labels[n - k..].join(".");
            if self.has_parts(&["!", &suffix]) {
                return k - 1;
            }
            if self.contains(&suffix) {
                longest = k;
            }
            if k >= 2 && self.has_parts(&["*.", &labels[n - k + 1..].join(".")]) {
                longest = k;
            }
        }
        longest
    }

    /// The registrable domain of `domain` (its public suffix plus one label), lowercased,
    /// without a trailing dot, its labels as given (U-labels stay U-labels). `None` when
    /// `domain` is itself a public suffix or not a domain name (empty labels, leading dot).
    /// This is publicsuffix.org's `checkPublicSuffix`.
    pub fn registrable_domain(&self, domain: &str) -> Option<String> {
        let name = domain.strip_suffix('.').unwrap_or(domain).to_lowercase();
        if name.is_empty() || name.len() > 1024 {
            return None;
        }
        let given: Vec<&str> = name.split('.').collect();
        if given.iter().any(|l| l.is_empty()) {
            return None;
        }
        let ascii: Vec<String> = given
            .iter()
            .map(|l| to_ascii_label(l))
            .collect::<Option<_>>()?;
        let ascii: Vec<&str> = ascii.iter().map(String::as_str).collect();
        let keep = self.suffix_labels(&ascii) + 1;
        if keep > given.len() {
            return None;
        }
        Some(given[given.len() - keep..].join("."))
    }

    /// The Organizational Domain of `domain` (RFC 7489 §3.2): its registrable domain, or the
    /// name itself (lowercased, without a trailing dot) when it is a public suffix or not a
    /// valid name, so that it only ever aligns with itself.
    pub fn org_domain(&self, domain: &str) -> String {
        self.registrable_domain(domain)
            .unwrap_or_else(|| domain.strip_suffix('.').unwrap_or(domain).to_lowercase())
    }
}

/// Binary search over an index range (`slice::partition_point` needs a slice).
trait PartitionPoint {
    fn partition_point_by(self, pred: impl FnMut(usize) -> bool) -> usize;
}

impl PartitionPoint for std::ops::Range<usize> {
    fn partition_point_by(self, mut pred: impl FnMut(usize) -> bool) -> usize {
        let (mut lo, mut hi) = (self.start, self.end);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if pred(mid) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// A rule lowercased, in A-label form, with its `!`/`*.` prefix; `None` if malformed.
fn normalize_rule(word: &str) -> Option<String> {
    let (prefix, body) = if let Some(b) = word.strip_prefix('!') {
        ("!", b)
    } else if let Some(b) = word.strip_prefix("*.") {
        ("*.", b)
    } else {
        ("", word)
    };
    let body = body.strip_suffix('.').unwrap_or(body).to_lowercase();
    if body.is_empty() || body.len() > 1024 {
        return None;
    }
    let mut out = String::from(prefix);
    for (i, label) in body.split('.').enumerate() {
        if label.is_empty() || label.contains(['*', '!', '/']) {
            return None;
        }
        if i > 0 {
            out.push('.');
        }
        out.push_str(&to_ascii_label(label)?);
    }
    Some(out)
}

/// A domain name in A-label form: lowercased, without a trailing dot, non-ASCII labels
/// Punycode-encoded with the `xn--` prefix. `None` for an empty name or label.
pub fn to_ascii(domain: &str) -> Option<String> {
    let name = domain.strip_suffix('.').unwrap_or(domain).to_lowercase();
    if name.is_empty() {
        return None;
    }
    let labels: Vec<String> = name
        .split('.')
        .map(|l| {
            if l.is_empty() {
                None
            } else {
                to_ascii_label(l)
            }
        })
        .collect::<Option<_>>()?;
    Some(labels.join("."))
}

/// One label in A-label form (ASCII labels unchanged).
fn to_ascii_label(label: &str) -> Option<String> {
    if label.is_ascii() {
        return Some(label.to_string());
    }
    if label.len() > 252 {
        return None;
    }
    let mut out = String::from("xn--");
    punycode_encode(label, &mut out)?;
    Some(out)
}

/// RFC 3492 §6.3 encoding. `None` on overflow (impossible for DNS-sized labels).
fn punycode_encode(input: &str, out: &mut String) -> Option<()> {
    const BASE: u64 = 36;
    const TMIN: u64 = 1;
    const TMAX: u64 = 26;
    fn adapt(mut delta: u64, points: u64, first: bool) -> u64 {
        delta /= if first { 700 } else { 2 };
        delta += delta / points;
        let mut k = 0;
        while delta > ((BASE - TMIN) * TMAX) / 2 {
            delta /= BASE - TMIN;
            k += BASE;
        }
        k + (BASE - TMIN + 1) * delta / (delta + 38)
    }
    fn digit(d: u64) -> char {
        // 0..=25 are a..z, 26..=35 are 0..9.
        let d = d as u8;
        if d < 26 {
            (b'a' + d) as char
        } else {
            (b'0' + d - 26) as char
        }
    }
    let points: Vec<u64> = input.chars().map(|c| u64::from(u32::from(c))).collect();
    let basic = points.iter().filter(|&&c| c < 0x80).count() as u64;
    out.extend(input.chars().filter(char::is_ascii));
    if basic > 0 {
        out.push('-');
    }
    let (mut n, mut delta, mut bias, mut h) = (0x80u64, 0u64, 72u64, basic);
    while (h as usize) < points.len() {
        let m = points.iter().copied().filter(|&c| c >= n).min()?;
        delta = delta.checked_add((m - n).checked_mul(h + 1)?)?;
        n = m;
        for &c in &points {
            if c < n {
                delta = delta.checked_add(1)?;
            }
            if c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = if k <= bias {
                        TMIN
                    } else if k >= bias + TMAX {
                        TMAX
                    } else {
                        k - bias
                    };
                    if q < t {
                        break;
                    }
                    out.push(digit(t + (q - t) % (BASE - t)));
                    q = (q - t) / (BASE - t);
                    k += BASE;
                }
                out.push(digit(q));
                bias = adapt(delta, h + 1, h == basic);
                delta = 0;
                h += 1;
            }
        }
        delta += 1;
        n += 1;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// publicsuffix.org's tests/test_psl.txt `checkPublicSuffix` cases (input, expected
    /// registrable domain), transcribed; they assume the full list.
    const CHECK_PUBLIC_SUFFIX: &[(&str, Option<&str>)] = &[
        // Mixed case.
        ("COM", None),
        ("example.COM", Some("example.com")),
        ("WwW.example.COM", Some("example.com")),
        // Leading dot.
        (".com", None),
        (".example", None),
        (".example.com", None),
        (".example.example", None),
        // Unlisted TLD.
        ("example", None),
        ("example.example", Some("example.example")),
        ("b.example.example", Some("example.example")),
        ("a.b.example.example", Some("example.example")),
        // TLD with only one rule.
        ("biz", None),
        ("domain.biz", Some("domain.biz")),
        ("b.domain.biz", Some("domain.biz")),
        ("a.b.domain.biz", Some("domain.biz")),
        // TLD with some two-level rules.
        ("com", None),
        ("example.com", Some("example.com")),
        ("b.example.com", Some("example.com")),
        ("a.b.example.com", Some("example.com")),
        ("uk.com", None),
        ("example.uk.com", Some("example.uk.com")),
        ("b.example.uk.com", Some("example.uk.com")),
        ("a.b.example.uk.com", Some("example.uk.com")),
        ("test.ac", Some("test.ac")),
        // TLD with only one (wildcard) rule.
        ("mm", None),
        ("c.mm", None),
        ("b.c.mm", Some("b.c.mm")),
        ("a.b.c.mm", Some("b.c.mm")),
        // More complex TLD.
        ("jp", None),
        ("test.jp", Some("test.jp")),
        ("www.test.jp", Some("test.jp")),
        ("ac.jp", None),
        ("test.ac.jp", Some("test.ac.jp")),
        ("www.test.ac.jp", Some("test.ac.jp")),
        ("kyoto.jp", None),
        ("test.kyoto.jp", Some("test.kyoto.jp")),
        ("ide.kyoto.jp", None),
        ("b.ide.kyoto.jp", Some("b.ide.kyoto.jp")),
        ("a.b.ide.kyoto.jp", Some("b.ide.kyoto.jp")),
        ("c.kobe.jp", None),
        ("b.c.kobe.jp", Some("b.c.kobe.jp")),
        ("a.b.c.kobe.jp", Some("b.c.kobe.jp")),
        ("city.kobe.jp", Some("city.kobe.jp")),
        ("www.city.kobe.jp", Some("city.kobe.jp")),
        // TLD with a wildcard rule and exceptions.
        ("ck", None),
        ("test.ck", None),
        ("b.test.ck", Some("b.test.ck")),
        ("a.b.test.ck", Some("b.test.ck")),
        ("www.ck", Some("www.ck")),
        ("www.www.ck", Some("www.ck")),
        // US K12.
        ("us", None),
        ("test.us", Some("test.us")),
        ("www.test.us", Some("test.us")),
        ("ak.us", None),
        ("test.ak.us", Some("test.ak.us")),
        ("www.test.ak.us", Some("test.ak.us")),
        ("k12.ak.us", None),
        ("test.k12.ak.us", Some("test.k12.ak.us")),
        ("www.test.k12.ak.us", Some("test.k12.ak.us")),
        // IDN labels.
        ("食狮.com.cn", Some("食狮.com.cn")),
        ("食狮.公司.cn", Some("食狮.公司.cn")),
        ("www.食狮.公司.cn", Some("食狮.公司.cn")),
        ("shishi.公司.cn", Some("shishi.公司.cn")),
        ("公司.cn", None),
        ("食狮.中国", Some("食狮.中国")),
        ("www.食狮.中国", Some("食狮.中国")),
        ("shishi.中国", Some("shishi.中国")),
        ("中国", None),
        // The same, Punycode-encoded.
        ("xn--85x722f.com.cn", Some("xn--85x722f.com.cn")),
        (
            "xn--85x722f.xn--55qx5d.cn",
            Some("xn--85x722f.xn--55qx5d.cn"),
        ),
        (
            "www.xn--85x722f.xn--55qx5d.cn",
            Some("xn--85x722f.xn--55qx5d.cn"),
        ),
        ("shishi.xn--55qx5d.cn", Some("shishi.xn--55qx5d.cn")),
        ("xn--55qx5d.cn", None),
        ("xn--85x722f.xn--fiqs8s", Some("xn--85x722f.xn--fiqs8s")),
        ("www.xn--85x722f.xn--fiqs8s", Some("xn--85x722f.xn--fiqs8s")),
        ("shishi.xn--fiqs8s", Some("shishi.xn--fiqs8s")),
        ("xn--fiqs8s", None),
    ];

    /// The rules of the full list the vectors rely on (same sections, same comment syntax), so
    /// the vectors run where the Debian file is absent too.
    const EXCERPT: &str = "\
// ===BEGIN ICANN DOMAINS===
ac
com
biz
// jp : https://en.wikipedia.org/wiki/.jp
jp
ac.jp
kyoto.jp
ide.kyoto.jp
*.kobe.jp
!city.kobe.jp
*.ck
!www.ck
*.mm
us
ak.us
k12.ak.us
cn
com.cn
公司.cn
中国
// ===END ICANN DOMAINS===
// ===BEGIN PRIVATE DOMAINS===
uk.com
// ===END PRIVATE DOMAINS===
";

    fn check_vectors(list: &PublicSuffixList) {
        for &(input, want) in CHECK_PUBLIC_SUFFIX {
            assert_eq!(
                list.registrable_domain(input).as_deref(),
                want,
                "checkPublicSuffix({input:?})"
            );
        }
    }

    #[test]
    fn test_psl_vectors_on_an_excerpt() {
        let list = PublicSuffixList::parse(EXCERPT);
        assert_eq!(list.len(), 20);
        check_vectors(&list);
    }

    #[test]
    fn test_psl_vectors_on_the_system_list() {
        match PublicSuffixList::from_file_blocking(Path::new(SYSTEM_LIST)) {
            Ok(list) => {
                assert!(list.len() > 5000, "{} rules", list.len());
                check_vectors(&list);
                assert!(list.heap_bytes() < 200_000, "{} bytes", list.heap_bytes());
                assert!(!PublicSuffixList::system_blocking().is_fallback());
            }
            Err(e) => eprintln!("{SYSTEM_LIST} not readable ({e}): skipped"),
        }
    }

    #[test]
    fn punycode_matches_rfc_3492() {
        assert_eq!(
            to_ascii("食狮.公司.cn").unwrap(),
            "xn--85x722f.xn--55qx5d.cn"
        );
        assert_eq!(to_ascii("中国.").unwrap(), "xn--fiqs8s");
        assert_eq!(to_ascii("Bücher.Example").unwrap(), "xn--bcher-kva.example");
        // RFC 3492 §7.1 (B), Chinese (simplified).
        assert_eq!(
            to_ascii("他们为什么不说中文").unwrap(),
            "xn--ihqwcrb4cv8a8dqg056pqjye"
        );
        assert_eq!(to_ascii("a..b"), None);
        assert_eq!(to_ascii(""), None);
    }

    #[test]
    fn org_domain_falls_back_to_the_name_itself() {
        let list = PublicSuffixList::parse(EXCERPT);
        assert_eq!(list.org_domain("Mail.Example.COM."), "example.com");
        assert_eq!(list.org_domain("com"), "com");
        assert_eq!(list.org_domain("a..b"), "a..b");
        assert_eq!(list.org_domain("x.y.c.kobe.jp"), "y.c.kobe.jp");
    }

    #[test]
    fn parse_skips_comments_blank_lines_and_malformed_rules() {
        let list = PublicSuffixList::parse(
            "// c\n\n  \nfoo.example extra words\n*.w.example\n!x.w.example\nbad..rule\na.*.b\n\
             *\n!\n.\n//x.example\nFOO.Example\n",
        );
        assert_eq!(list.len(), 3);
        assert_eq!(list.org_domain("a.b.foo.example"), "b.foo.example");
        assert_eq!(list.org_domain("a.b.w.example"), "a.b.w.example");
        assert_eq!(list.org_domain("a.x.w.example"), "x.w.example");
        assert!(PublicSuffixList::parse("").is_empty());
    }

    #[test]
    fn builtin_fallback_knows_common_suffixes_and_takes_two_labels_otherwise() {
        let list = PublicSuffixList::builtin();
        assert!(list.is_fallback());
        assert_eq!(list.org_domain("mail.bbc.co.uk"), "bbc.co.uk");
        assert_eq!(list.org_domain("a.b.example.com.au"), "example.com.au");
        assert_eq!(list.org_domain("a.b.example.com"), "example.com");
        assert_eq!(list.org_domain("x.example.de"), "example.de");
        // The documented weakness: unknown multi-label suffixes.
        assert_eq!(list.org_domain("alice.github.io"), "github.io");
    }

    /// The resident memory the full list costs (run with `--ignored --nocapture`).
    #[test]
    #[ignore = "measures process RSS; run alone"]
    fn system_list_rss() {
        fn rss_kb() -> u64 {
            let s = std::fs::read_to_string("/proc/self/statm").unwrap();
            let pages: u64 = s.split_whitespace().nth(1).unwrap().parse().unwrap();
            pages * 4
        }
        let start = rss_kb();
        // The first load also pays for the thread's malloc arena and code pages.
        drop(PublicSuffixList::system_blocking());
        let warm = rss_kb();
        let list = PublicSuffixList::system_blocking();
        let after = rss_kb();
        eprintln!(
            "{} rules, {} heap bytes; RSS +{} KiB for a list kept, +{} KiB first load and drop",
            list.len(),
            list.heap_bytes(),
            after.saturating_sub(warm),
            warm.saturating_sub(start)
        );
    }
}

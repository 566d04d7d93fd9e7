//! The board's RAM and the defaults it gives the memory-bound settings.
//!
//! Usable RAM is the smaller of `MemTotal` (`/proc/meminfo`) and what the memory limit of the
//! process's control group (cgroup v2 `memory.max`, cgroup v1 `memory.limit_in_bytes`, found
//! through `/proc/self/cgroup`) stands for. Each class keeps its worst case under 40 % of its
//! RAM (below), so a limit L is read as the 40 % share of a board with L × 5/2 of RAM: the
//! service unit's `MemoryMax=40%` (board/mailnook.service) leaves the board its own class, and
//! a tighter limit (a container) lowers it. It is read once when a process opens the store ([`detect`]),
//! never on the executor's hot path; the setting `board.ram_mib` (when not 0) replaces it, for
//! containers, tests and boards shared with other programs. RAM that cannot be read is taken
//! as 1 GiB (the medium class) and said so. A value stored with `mailnook config set` always
//! wins over the default of the class.
//!
//! # Worst-case memory model
//!
//! What the server may hold at once, at the class's defaults ([`worst_case_bytes`]):
//!
//! - the process itself: 8 MiB (a release server's RSS before any connection: 7 MiB);
//! - per mail connection (every one may be at its worst at the same moment): 64 KiB of fixed
//!   cost (read buffer, TLS records both ways, session; an idle logged-in TLS IMAP connection
//!   measures 27 KiB) plus the largest of SMTP data (the header section held up to three times
//!   while it is completed, checked and signed, `3 × smtp.max_header_bytes`, plus the scoring
//!   prefix `spam.scan_bytes`) and an IMAP command (`imap.max_command_bytes` plus 96 KiB of
//!   FETCH and COMPRESS buffers);
//! - the web page: `net.max_conns_per_ip × (web.max_head_bytes + web.max_body_bytes)`; it
//!   answers only loopback and the local network unless `web.public` is 1;
//! - `store.cache_bytes`; `auth.argon2_memory_kib × auth.max_parallel_hashes`;
//!   `queue.concurrency × 128 KiB` (an outbound TLS session streaming from the store);
//!   one spam model being trained, `spam.max_tokens × 29 B`.
//!
//! Each class keeps this under 40 % of the RAM of the smallest board it is meant for (the
//! class's lower bound; for tiny a 256 MB board's 224 MiB `MemTotal`); the rest is the kernel
//! and the page cache, which the store reads through.
//!
//! | class  | RAM        | conns (per IP) | cache  | argon2 × parallel   | queue | header, scan | worst case             |
//! |--------|------------|----------------|--------|---------------------|-------|--------------|------------------------|
//! | tiny   | < 384 MiB  | 128 (16)       | 2 MiB  | 7 MiB × 1, 5 passes | 2     | 64, 64 KiB   | 78 MiB (35 % of 224)   |
//! | small  | < 768 MiB  | 256 (32)       | 4 MiB  | 19 MiB × 1          | 4     | 64, 64 KiB   | 148 MiB (39 % of 384)  |
//! | medium | < 1536 MiB | 512 (32)       | 8 MiB  | 19 MiB × 2          | 8     | 64, 128 KiB  | 284 MiB (37 % of 768)  |
//! | large  | ≥ 1536 MiB | 768 (32)       | 16 MiB | 19 MiB × 4          | 16    | 128, 128 KiB | 571 MiB (37 % of 1536) |
//!
//! Tiny trades argon2 memory for passes along OWASP's equivalent argon2id settings (19 MiB × 2
//! passes, …, 7 MiB × 5 passes: the same resistance); one hash at a time is enough below
//! 768 MiB.
//!
//! The SMTP header section dominates a connection's worst case, so `smtp.max_header_bytes`
//! (64 KiB still above what nearly all mail carries; Postfix truncates at 100 KiB) and
//! `spam.scan_bytes` (SpamAssassin scans 50 KB of each body part) are sized too, and the large
//! class stops at 768 connections: 1024 at 576 KiB each would pass 40 % of 1536 MiB. Settings
//! whose memory is small at any value stay fixed: `auth.cache_entries`,
//! `auth.throttle_entries` and `web.max_sessions` cost a few hundred bytes an entry (under
//! 10 MiB at their maximum); `greylist.max_entries` and `spam.max_tokens` are kept on disk
//! (one model of 150 000 tokens in memory is 4.3 MiB, counted above).

use std::collections::BTreeMap;

/// A RAM class: which set of defaults a board gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// Under 384 MiB: a 256 MB Pi 1 A+, a small VM.
    Tiny,
    /// Under 768 MiB: the 512 MB boards (Pi Zero, Zero W, Zero 2 W, Pi 1 B, Pi 3 A+).
    Small,
    /// Under 1536 MiB: the 1 GB boards (Pi 2, Pi 3 B/B+, 1 GB Pi 4 and 5).
    Medium,
    /// 1536 MiB and more: 2 to 16 GB boards, a PC.
    Large,
}

impl Class {
    /// Every class, smallest first.
    pub const ALL: [Class; 4] = [Class::Tiny, Class::Small, Class::Medium, Class::Large];

    /// The class of `ram_mib` MiB of usable RAM.
    pub fn of(ram_mib: u64) -> Class {
        match ram_mib {
            0..384 => Class::Tiny,
            384..768 => Class::Small,
            768..1536 => Class::Medium,
            _ => Class::Large,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Class::Tiny => "tiny",
            Class::Small => "small",
            Class::Medium => "medium",
            Class::Large => "large",
        }
    }

    /// The RAM of the smallest board the class is meant for, in MiB (what its defaults are
    /// sized against).
    pub fn reference_mib(self) -> u64 {
        match self {
            Class::Tiny => 224,
            Class::Small => 384,
            Class::Medium => 768,
            Class::Large => 1536,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The defaults that depend on the class: key, then the value for tiny, small, medium, large.
const SIZED: &[(&str, [&str; 4])] = &[
    ("net.max_conns", ["128", "256", "512", "768"]),
    ("net.max_conns_per_ip", ["16", "32", "32", "32"]),
    (
        "store.cache_bytes",
        ["2097152", "4194304", "8388608", "16777216"],
    ),
    (
        "auth.argon2_memory_kib",
        ["7168", "19456", "19456", "19456"],
    ),
    ("auth.argon2_iterations", ["5", "2", "2", "2"]),
    ("auth.max_parallel_hashes", ["1", "1", "2", "4"]),
    ("queue.concurrency", ["2", "4", "8", "16"]),
    (
        "smtp.max_header_bytes",
        ["65536", "65536", "65536", "131072"],
    ),
    ("spam.scan_bytes", ["65536", "65536", "131072", "131072"]),
];

/// The keys whose default depends on the class.
pub fn sized_keys() -> impl Iterator<Item = &'static str> {
    SIZED.iter().map(|(k, _)| *k)
}

/// The class's default for `key`, when `key` is one of the sized settings.
pub fn sized_default(key: &str, class: Class) -> Option<&'static str> {
    SIZED
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v[class.index()])
}

/// What [`detect`] found at startup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Detected {
    /// Usable RAM in bytes.
    Bytes(u64),
    /// Nothing readable (and what a store opened without detection carries, so tests do not
    /// depend on the machine's RAM).
    #[default]
    Unknown,
}

/// RAM assumed when it cannot be read: the medium class.
pub const UNKNOWN_RAM_MIB: u64 = 1024;

/// Where a [`Board`]'s RAM figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The setting `board.ram_mib`.
    Setting,
    /// `/proc/meminfo` and the control group's limit.
    Detected,
    /// Neither: [`UNKNOWN_RAM_MIB`] is assumed.
    Unknown,
}

/// The RAM the defaults are sized for, and its class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Board {
    /// RAM in MiB.
    pub ram_mib: u64,
    /// Its class.
    pub class: Class,
    /// Where the figure comes from.
    pub source: Source,
}

impl Board {
    /// The board for the value of `board.ram_mib` (0: use `detected`).
    pub fn new(setting_mib: u64, detected: Detected) -> Board {
        let (ram_mib, source) = match (setting_mib, detected) {
            (n, _) if n > 0 => (n, Source::Setting),
            (_, Detected::Bytes(b)) => (b >> 20, Source::Detected),
            (_, Detected::Unknown) => (UNKNOWN_RAM_MIB, Source::Unknown),
        };
        Board {
            ram_mib,
            class: Class::of(ram_mib),
            source,
        }
    }

    /// The board for stored settings: `board.ram_mib` when stored and valid, else `detected`.
    pub fn from_pairs(pairs: &BTreeMap<String, String>, detected: Detected) -> Board {
        let setting = pairs
            .get("board.ram_mib")
            .and_then(|v| super::validate("board.ram_mib", v).ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Board::new(setting, detected)
    }
}

impl std::fmt::Display for Board {
    /// `512 MiB RAM (small)`, with where the figure came from when it was not detected.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let class = self.class.name();
        match self.source {
            Source::Detected => write!(f, "{} MiB RAM ({class})", self.ram_mib),
            Source::Setting => write!(f, "{} MiB RAM ({class}, board.ram_mib)", self.ram_mib),
            Source::Unknown => write!(
                f,
                "RAM not detected, sized as {} MiB ({class}; set board.ram_mib)",
                self.ram_mib
            ),
        }
    }
}

/// Bytes of `MemTotal` in `/proc/meminfo` text (`MemTotal:  948304 kB`).
pub fn parse_meminfo(text: &str) -> Option<u64> {
    let line = text.lines().find_map(|l| l.strip_prefix("MemTotal:"))?;
    let mut words = line.split_whitespace();
    let n: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => n.checked_mul(1024),
        _ => None,
    }
}

/// Bytes of a control group's memory limit (`memory.max` or `memory.limit_in_bytes`); `None`
/// for `max` (no limit) and anything that is not a number.
pub fn parse_limit(text: &str) -> Option<u64> {
    text.trim().parse().ok().filter(|&n| n > 0)
}

/// The usable RAM: `MemTotal`, lowered to the board size the smallest control-group limit
/// given stands for (the limit × 5/2: the classes' worst case is 40 % of their RAM).
pub fn usable_ram(meminfo: Option<&str>, limits: &[&str]) -> Option<u64> {
    let total = meminfo.and_then(parse_meminfo)?;
    Some(
        limits
            .iter()
            .filter_map(|l| parse_limit(l))
            .map(|limit| limit.saturating_mul(5) / 2)
            .fold(total, u64::min),
    )
}

/// The files that may hold the process's memory limit, from `/proc/self/cgroup` text: cgroup
/// v2 (`0::/path`) gives `/sys/fs/cgroup/path/memory.max`, cgroup v1 (`N:memory:/path`) gives
/// `/sys/fs/cgroup/memory/path/memory.limit_in_bytes`. Inside a cgroup namespace the path is
/// `/` and the files are those at the mount's root.
pub fn limit_files(proc_cgroup: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if path.split('/').any(|c| c == "..") || !path.starts_with('/') {
            continue;
        }
        let rel = path.trim_start_matches('/');
        if controllers.is_empty() {
            out.push(
                std::path::Path::new("/sys/fs/cgroup")
                    .join(rel)
                    .join("memory.max"),
            );
        } else if controllers.split(',').any(|c| c == "memory") {
            out.push(
                std::path::Path::new("/sys/fs/cgroup/memory")
                    .join(rel)
                    .join("memory.limit_in_bytes"),
            );
        }
    }
    out
}

/// Reads the usable RAM of this machine for this process (blocking file reads of `/proc` and
/// `/sys`: call it once at startup, never on the executor thread).
pub fn detect() -> Detected {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok();
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let limits: Vec<String> = limit_files(&cgroup)
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect();
    let limits: Vec<&str> = limits.iter().map(String::as_str).collect();
    match usable_ram(meminfo.as_deref(), &limits) {
        Some(b) => Detected::Bytes(b),
        None => Detected::Unknown,
    }
}

/// Fixed cost of one mail connection in the model (see the module documentation).
const CONN_FIXED_BYTES: u64 = 64 << 10;
/// IMAP buffers beyond the command: a FETCH step and the COMPRESS buffers.
const IMAP_EXTRA_BYTES: u64 = 96 << 10;
/// The process before any connection.
const PROCESS_BYTES: u64 = 8 << 20;
/// One outbound delivery attempt.
const QUEUE_ATTEMPT_BYTES: u64 = 128 << 10;
/// One spam-model token in memory (`spam::model`).
const TOKEN_BYTES: u64 = 29;

/// The most memory the server may hold at once under `c`, by the model in the module
/// documentation.
pub fn worst_case_bytes(c: &super::Config) -> u64 {
    let smtp = 3 * c.smtp_max_header_bytes as u64 + c.spam_scan_bytes as u64;
    let imap = c.imap_max_command_bytes as u64 + IMAP_EXTRA_BYTES;
    let conns = c.net_max_conns as u64 * (CONN_FIXED_BYTES + smtp.max(imap));
    let web =
        c.net_max_conns_per_ip as u64 * (c.web_max_head_bytes as u64 + c.web_max_body_bytes as u64);
    PROCESS_BYTES
        + conns
        + web
        + c.store_cache_bytes as u64
        + u64::from(c.auth_argon2_memory_kib) * 1024 * c.auth_max_parallel_hashes as u64
        + c.queue_concurrency as u64 * QUEUE_ATTEMPT_BYTES
        + c.spam_max_tokens * TOKEN_BYTES
}

/// The startup line: board, class and the limits that follow from it, e.g. `512 MiB RAM
/// (small): max 256 connections, 4 MiB store cache, argon2 19 MiB × 1, worst case 148 MiB`.
pub fn summary(c: &super::Config) -> String {
    format!(
        "{}: max {} connections, {} MiB store cache, argon2 {} MiB × {}, {} outbound, worst case {} MiB",
        c.board,
        c.net_max_conns,
        c.store_cache_bytes >> 20,
        c.auth_argon2_memory_kib >> 10,
        c.auth_max_parallel_hashes,
        c.queue_concurrency,
        (worst_case_bytes(c) + (1 << 19)) >> 20,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, spec, validate};

    #[test]
    fn meminfo_and_limits_parse() {
        let meminfo = "MemTotal:         427328 kB\nMemFree:          300000 kB\n";
        assert_eq!(parse_meminfo(meminfo), Some(427_328 * 1024));
        assert_eq!(parse_meminfo("MemFree: 1 kB\n"), None);
        assert_eq!(parse_meminfo("MemTotal: lots kB\n"), None);
        assert_eq!(parse_meminfo("MemTotal: 12 MB\n"), None);
        assert_eq!(parse_meminfo(""), None);
        assert_eq!(parse_limit("max\n"), None);
        assert_eq!(parse_limit("268435456\n"), Some(256 << 20));
        assert_eq!(parse_limit("garbage"), None);
        assert_eq!(parse_limit("0"), None);
        assert_eq!(parse_limit(""), None);
        // The smaller of MemTotal and the board a numeric limit stands for (limit × 5/2);
        // `max` and garbage are no limit.
        let gib = "MemTotal: 1048576 kB\n";
        assert_eq!(usable_ram(Some(gib), &[]), Some(1 << 30));
        assert_eq!(usable_ram(Some(gib), &["max\n"]), Some(1 << 30));
        assert_eq!(
            usable_ram(Some(gib), &["x", "214748365\n"]),
            Some(512 << 20)
        );
        // The unit's MemoryMax=40% of a 512 MB Pi (MemTotal 427 328 kB) keeps it small.
        let pi = "MemTotal: 427328 kB\n";
        let forty_percent = (427_328u64 * 1024 * 2 / 5).to_string();
        let ram = usable_ram(Some(pi), &[&forty_percent]).unwrap();
        assert!(ram >= (427_328 * 1024) - 2, "{ram}");
        assert_eq!(Class::of(ram >> 20), Class::Small);
        // cgroup v1's "no limit" is a huge number.
        assert_eq!(
            usable_ram(Some(gib), &["9223372036854771712\n"]),
            Some(1 << 30)
        );
        assert_eq!(usable_ram(None, &["536870912"]), None);
        assert_eq!(usable_ram(Some("garbage"), &[]), None);
    }

    #[test]
    fn cgroup_files_are_found_for_v1_and_v2() {
        let v2 = "0::/system.slice/mailnook.service\n";
        assert_eq!(
            limit_files(v2),
            [std::path::PathBuf::from(
                "/sys/fs/cgroup/system.slice/mailnook.service/memory.max"
            )]
        );
        assert_eq!(
            limit_files("0::/\n"),
            [std::path::PathBuf::from("/sys/fs/cgroup/memory.max")]
        );
        let v1 = "9:name=systemd:/\n4:memory:/box/1\n3:cpu,cpuacct:/\n0::/\n";
        assert_eq!(
            limit_files(v1),
            [
                std::path::PathBuf::from("/sys/fs/cgroup/memory/box/1/memory.limit_in_bytes"),
                std::path::PathBuf::from("/sys/fs/cgroup/memory.max"),
            ]
        );
        assert!(limit_files("garbage\n0::/../../etc\n0::relative\n").is_empty());
    }

    #[test]
    fn class_boundaries() {
        for (mib, class) in [
            (0, Class::Tiny),
            (224, Class::Tiny),
            (383, Class::Tiny),
            (384, Class::Small),
            (427, Class::Small),
            (767, Class::Small),
            (768, Class::Medium),
            (1535, Class::Medium),
            (1536, Class::Large),
            (16_000, Class::Large),
        ] {
            assert_eq!(Class::of(mib), class, "{mib} MiB");
        }
        let b = Board::new(0, Detected::Bytes(427_328 * 1024));
        assert_eq!(
            (b.ram_mib, b.class, b.source),
            (417, Class::Small, Source::Detected)
        );
        let b = Board::new(256, Detected::Bytes(16 << 30));
        assert_eq!((b.class, b.source), (Class::Tiny, Source::Setting));
        let b = Board::new(0, Detected::Unknown);
        assert_eq!((b.ram_mib, b.class), (UNKNOWN_RAM_MIB, Class::Medium));
        assert_eq!(
            b.to_string(),
            "RAM not detected, sized as 1024 MiB (medium; set board.ram_mib)"
        );
        assert_eq!(
            Board::new(512, Detected::Unknown).to_string(),
            "512 MiB RAM (small, board.ram_mib)"
        );
    }

    fn board_pairs(mib: u64) -> BTreeMap<String, String> {
        BTreeMap::from([("board.ram_mib".to_string(), mib.to_string())])
    }

    #[test]
    fn every_class_default_validates_and_fits_the_model() {
        for key in sized_keys() {
            let s = spec(key).unwrap_or_else(|| panic!("{key} is not a setting"));
            assert!(s.is_sized());
            // The fixed default in SPECS is the medium class's, the class of unknown RAM.
            assert_eq!(
                s.default,
                sized_default(key, Class::Medium).unwrap(),
                "{key}"
            );
        }
        for class in Class::ALL {
            for key in sized_keys() {
                let v = sized_default(key, class).unwrap();
                assert_eq!(
                    validate(key, v).unwrap_or_else(|e| panic!("{key} ({}): {e}", class.name())),
                    v
                );
            }
            let c = Config::from_pairs(&board_pairs(class.reference_mib()), Detected::Unknown);
            assert_eq!(c.board.class, class);
            let worst = worst_case_bytes(&c);
            assert!(
                worst * 10 < (class.reference_mib() << 20) * 4,
                "{}: worst case {} MiB is 40 % or more of {} MiB",
                class.name(),
                worst >> 20,
                class.reference_mib()
            );
        }
        // Larger classes never get smaller limits.
        for key in sized_keys() {
            let n: Vec<u64> = Class::ALL
                .iter()
                .map(|&c| sized_default(key, c).unwrap().parse().unwrap())
                .collect();
            if key != "auth.argon2_iterations" {
                assert!(n.windows(2).all(|w| w[0] <= w[1]), "{key}: {n:?}");
            }
        }
    }

    #[test]
    fn class_defaults_apply_and_stored_values_win() {
        let small = Config::from_pairs(&board_pairs(512), Detected::Bytes(16 << 30));
        assert_eq!(small.board.class, Class::Small);
        assert_eq!(small.net_max_conns, 256);
        assert_eq!(small.store_cache_bytes, 4 << 20);
        assert_eq!(small.auth_max_parallel_hashes, 1);
        let tiny = Config::from_pairs(&BTreeMap::new(), Detected::Bytes(200 << 20));
        assert_eq!(
            (tiny.board.class, tiny.board.source),
            (Class::Tiny, Source::Detected)
        );
        assert_eq!(tiny.net_max_conns, 128);
        assert_eq!(
            (tiny.auth_argon2_memory_kib, tiny.auth_argon2_iterations),
            (7168, 5)
        );
        let mut pairs = board_pairs(256);
        pairs.insert("net.max_conns".into(), "2000".into());
        pairs.insert("auth.argon2_iterations".into(), "bad".into());
        let c = Config::from_pairs(&pairs, Detected::Unknown);
        assert_eq!(c.net_max_conns, 2000);
        assert_eq!(
            c.auth_argon2_iterations, 5,
            "an invalid value falls back to the class's"
        );
        assert_eq!(c.net_max_conns_per_ip, 16);
        // An invalid board.ram_mib is ignored; detection decides.
        let c = Config::from_pairs(
            &BTreeMap::from([("board.ram_mib".to_string(), "lots".to_string())]),
            Detected::Bytes(2 << 30),
        );
        assert_eq!(
            (c.board.class, c.board.source),
            (Class::Large, Source::Detected)
        );
        // Without detection and setting: the medium class, the same on every machine.
        assert_eq!(Config::default().board.class, Class::Medium);
        assert_eq!(
            summary(&small),
            "512 MiB RAM (small, board.ram_mib): max 256 connections, 4 MiB store cache, \
             argon2 19 MiB × 1, 4 outbound, worst case 148 MiB"
        );
    }
}

//! The process logger: one line per event on stderr (`key=value` fields come from callers).
//!
//! stderr goes to journald (volatile) on the board, so nothing is written to the SD card. The
//! level comes from `MAILNOOK_LOG` (`error`, `warn`, `info`, `debug`, `trace`; default `info`).
//! This is the one piece of global state (the `log` facade requires it); it includes the ring of
//! recent lines the web page shows ([`recent`]): the last [`RING_BYTES`] of lines at `info` and
//! above, in memory only.

use log::{Level, LevelFilter, Log, Metadata, Record};
use std::collections::VecDeque;
use std::io::Write;
use std::sync::Mutex;

/// How much recent log text is kept in memory for the web page.
pub const RING_BYTES: usize = 128 * 1024;

/// Recent lines, oldest first, and their total length.
struct Ring {
    lines: VecDeque<String>,
    bytes: usize,
}

static RING: Mutex<Ring> = Mutex::new(Ring {
    lines: VecDeque::new(),
    bytes: 0,
});

fn remember(line: &str) {
    let Ok(mut ring) = RING.lock() else {
        return;
    };
    let line = line.trim_end().to_string();
    ring.bytes += line.len();
    ring.lines.push_back(line);
    while ring.bytes > RING_BYTES {
        match ring.lines.pop_front() {
            Some(old) => ring.bytes -= old.len(),
            None => break,
        }
    }
}

/// The last `max` lines logged at `info` or above, newest first.
pub fn recent(max: usize) -> Vec<String> {
    RING.lock()
        .map(|ring| ring.lines.iter().rev().take(max).cloned().collect())
        .unwrap_or_default()
}

struct StderrLogger {
    level: LevelFilter,
}

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        };
        let line = format!(
            "{} {level} {}: {}\n",
            crate::time::iso8601(crate::time::unix_now()),
            record.target().trim_start_matches("mailnook::"),
            record.args()
        );
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
        if record.level() <= Level::Info {
            remember(&line);
        }
    }

    fn flush(&self) {}
}

/// Installs the logger (once; later calls are ignored).
pub fn init() {
    let level = match std::env::var("MAILNOOK_LOG").ok().as_deref() {
        Some("error") => LevelFilter::Error,
        Some("warn") => LevelFilter::Warn,
        Some("debug") => LevelFilter::Debug,
        Some("trace") => LevelFilter::Trace,
        Some("off") => LevelFilter::Off,
        _ => LevelFilter::Info,
    };
    if log::set_boxed_logger(Box::new(StderrLogger { level })).is_ok() {
        log::set_max_level(level);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_newest_lines_within_its_size() {
        let line = "x".repeat(1000);
        for i in 0..300 {
            remember(&format!("{i} {line}"));
        }
        let got = recent(1000);
        assert!(
            got.len() <= RING_BYTES / 1000 && got.len() >= RING_BYTES / 1010 - 1,
            "{}",
            got.len()
        );
        assert!(got[0].starts_with("299 "));
        assert_eq!(recent(2).len(), 2);
    }
}

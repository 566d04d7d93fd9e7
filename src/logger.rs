//! The process logger: one line per event on stderr (`key=value` fields come from callers).
//!
//! stderr goes to journald (volatile) on the board, so nothing is written to the SD card. The
//! level comes from `MAILNOOK_LOG` (`error`, `warn`, `info`, `debug`, `trace`; default `info`).
//! This is the one piece of global state (the `log` facade requires it).

use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::Write;

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

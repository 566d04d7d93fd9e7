//! `mailnook spam eval`: trains a fresh [`MemModel`] on `--train DIR` (its `ham/` and `spam/`
//! message files, each judged once, as a user moving mail into and out of Junk would) and
//! scores every message of `--test DIR` with the full scorer minus the network checks (no SPF,
//! DKIM, DMARC, block lists). Needs no data folder. The last output line is always
//! `fp_rate=<f> fn_rate=<f> ms_per_msg=<f>` (scoring time per test message: parse, tokenize,
//! heuristics, attachment check, model, verdict).

use super::args::SpamEvalArgs;
use crate::spam::{self, Action, Class, MemModel, Parsed, Thresholds};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Largest message file read (bigger ones are cut, as the MX's size limit would).
const MAX_FILE: u64 = 32 * 1024 * 1024;

fn files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    Ok(out)
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE).read_to_end(&mut buf))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(buf)
}

/// Counts of one test class.
#[derive(Debug, Default)]
struct Counts {
    total: usize,
    accept: usize,
    junk: usize,
    reject: usize,
}

/// Runs the evaluation; returns the exit code.
pub fn run(a: &SpamEvalArgs) -> i32 {
    match eval(a, &mut std::io::stdout().lock()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("mailnook: {e}");
            1
        }
    }
}

fn eval(a: &SpamEvalArgs, out: &mut dyn std::io::Write) -> Result<(), String> {
    let w = |e: std::io::Error| format!("writing output: {e}");
    let thresholds = Thresholds {
        junk: a.threshold.unwrap_or(Thresholds::default().junk),
        ..Thresholds::default()
    };
    let mut model = MemModel::new();
    let mut train_files: Vec<(PathBuf, Class)> = Vec::new();
    for (sub, class) in [("ham", Class::Ham), ("spam", Class::Spam)] {
        train_files.extend(files(&a.train.join(sub))?.into_iter().map(|p| (p, class)));
    }
    if train_files.is_empty() {
        return Err(format!("{}: no ham/ or spam/ messages", a.train.display()));
    }
    // Both classes interleaved in a fixed pseudo-random order, as mail arrives, so pruning
    // sees them over the same span of time.
    train_files.sort_by_key(|(p, _)| {
        spam::tokens::token_hash(p.file_name().unwrap_or_default().as_encoded_bytes())
    });
    let started = Instant::now();
    for (path, class) in &train_files {
        let raw = read(path)?;
        let p = Parsed::new(&raw);
        model.train(&spam::tokenize(&p), *class);
        model.prune(spam::model::MAX_TOKENS_PER_USER);
    }
    let train_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (th, ts) = spam::TokenCounts::totals(&model);
    writeln!(
        out,
        "trained ham={th} spam={ts} tokens={} stored_bytes={} memory_bytes={} ms_per_msg={:.3}",
        model.len(),
        model.stored_bytes(),
        model.memory_bytes(),
        train_ms / train_files.len() as f64
    )
    .map_err(w)?;
    let mut ham = Counts::default();
    let mut spam_counts = Counts::default();
    let mut elapsed = 0.0f64;
    // Every message's verdict, for tuning (not part of the command line grammar).
    let verbose = std::env::var_os("MAILNOOK_SPAM_EVAL_VERBOSE").is_some();
    for (sub, counts) in [("ham", &mut ham), ("spam", &mut spam_counts)] {
        for path in files(&a.test.join(sub))? {
            let raw = read(&path)?;
            let started = Instant::now();
            let p = Parsed::new(&raw);
            let features = spam::message_features(&p, Some(&model));
            let v = spam::verdict(&features, &thresholds);
            elapsed += started.elapsed().as_secs_f64() * 1000.0;
            counts.total += 1;
            match v.action {
                Action::Accept => counts.accept += 1,
                Action::Junk => counts.junk += 1,
                Action::Reject => counts.reject += 1,
            }
            if verbose {
                let wrong = (sub == "ham") != (v.action == Action::Accept);
                writeln!(
                    out,
                    "{} {sub} {}: {}",
                    if wrong { "wrong" } else { "right" },
                    path.display(),
                    spam::x_spam_score(&v)
                )
                .map_err(w)?;
                if wrong {
                    let mut names = std::collections::HashMap::new();
                    spam::tokens::token_strings(&p, &mut |t| {
                        names.insert(spam::tokens::token_hash(t.as_bytes()), t.to_string());
                    });
                    let score = model.score(&spam::tokenize(&p));
                    for (t, prob) in &score.top {
                        let name = names.get(t).map_or("?", String::as_str);
                        writeln!(out, "    {prob:.3} {name}").map_err(w)?;
                    }
                }
            }
        }
    }
    for (name, c) in [("ham", &ham), ("spam", &spam_counts)] {
        writeln!(
            out,
            "test {name}: total={} accept={} junk={} reject={}",
            c.total, c.accept, c.junk, c.reject
        )
        .map_err(w)?;
    }
    let rate = |n: usize, d: usize| if d == 0 { 0.0 } else { n as f64 / d as f64 };
    let n = ham.total + spam_counts.total;
    writeln!(
        out,
        "fp_rate={:.4} fn_rate={:.4} ms_per_msg={:.3}",
        rate(ham.junk + ham.reject, ham.total),
        rate(spam_counts.accept, spam_counts.total),
        if n == 0 { 0.0 } else { elapsed / n as f64 }
    )
    .map_err(w)?;
    Ok(())
}

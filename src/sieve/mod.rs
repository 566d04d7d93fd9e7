//! Sieve mail filtering (RFC 5228) with the fileinto, envelope, reject/ereject (RFC 5429),
//! vacation (RFC 5230), imap4flags (RFC 5232) and copy (RFC 3894) extensions: tokens
//! ([`lex`]), grammar ([`parse`]), meaning ([`compile`]), and running a program against one
//! message ([`run`]); [`vacation`] holds the rules for when an auto-reply may go and what it
//! looks like.
//!
//! Written here rather than taken from a crate: the one complete Sieve interpreter in Rust
//! (sieve-rs) is AGPL-licensed, which this MIT/Apache project cannot take in.
//!
//! Invariants: everything here is pure and bounded by [`Limits`] (script size, nesting, number
//! of commands, actions and redirects), so a user's script can neither crash nor stall the
//! delivery that runs it; a script that does not compile is never stored (ManageSieve and the
//! web page compile before saving), and one that fails at run time files the message as if
//! there were no script.

pub mod compile;
pub mod lex;
pub mod parse;
pub mod run;
pub mod vacation;

pub use compile::{Cmd, CompileError};
pub use run::{MessageView, Outcome};

/// The extensions mailnook implements, as the ManageSieve `SIEVE` capability lists them.
pub const EXTENSIONS: &str = "fileinto envelope reject ereject vacation imap4flags copy comparator-i;octet comparator-i;ascii-casemap";

/// Bounds on scripts and their runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest script, in bytes (`sieve.max_script_bytes`).
    pub max_script_bytes: usize,
    /// Most redirects one run may make (`sieve.max_redirects`).
    pub max_redirects: usize,
    /// Most actions one run may take.
    pub max_actions: usize,
    /// Deepest nesting of blocks and tests.
    pub max_depth: usize,
    /// Most commands and tests in a script.
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_script_bytes: 64 * 1024,
            max_redirects: 4,
            max_actions: 64,
            max_depth: 32,
            max_nodes: 10_000,
        }
    }
}

impl Limits {
    /// The limits the settings give.
    pub fn from_config(cfg: &crate::config::Config) -> Limits {
        Limits {
            max_script_bytes: cfg.sieve_max_script_bytes,
            max_redirects: cfg.sieve_max_redirects,
            ..Limits::default()
        }
    }
}

/// A compiled script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    program: Vec<Cmd>,
}

impl Script {
    /// Runs the script against one message.
    pub fn run(&self, msg: &MessageView, limits: &Limits) -> Outcome {
        run::run(&self.program, msg, limits)
    }

    /// The commands.
    pub fn program(&self) -> &[Cmd] {
        &self.program
    }
}

/// Compiles a script, or says what is wrong and on which line.
pub fn compile(text: &str, limits: &Limits) -> Result<Script, CompileError> {
    if text.len() > limits.max_script_bytes {
        return Err(CompileError {
            line: 1,
            message: format!(
                "the script is {} bytes; at most {} are allowed",
                text.len(),
                limits.max_script_bytes
            ),
        });
    }
    let tokens = lex::tokens(text).map_err(|e| CompileError {
        line: e.line,
        message: e.message.to_string(),
    })?;
    let commands =
        parse::parse(&tokens, limits.max_depth, limits.max_nodes).map_err(|e| CompileError {
            line: e.line,
            message: e.message,
        })?;
    Ok(Script {
        program: compile::check(&commands)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(header: &str, from: &str, to: &str) -> MessageView {
        MessageView::new(header.as_bytes(), 1234, from, to)
    }

    fn run(script: &str, msg: &MessageView) -> Outcome {
        let limits = Limits::default();
        compile(script, &limits).unwrap().run(msg, &limits)
    }

    const MSG: &str = "From: \"Ann\" <Ann@Example.org>\r\nTo: bob@example.test, list@lists.test\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= and [news]\r\nList-Id: <news.lists.test>\r\n";

    #[test]
    fn header_address_envelope_and_size() {
        let m = view(MSG, "bounce@lists.test", "bob+x@example.test");
        let script = r#"require ["fileinto", "envelope"];
if header :contains "subject" "grüße" { fileinto "Decoded"; }
if address :domain "from" "example.org" { fileinto "FromDomain"; }
if address :localpart :is ["to", "cc"] "list" { fileinto "ToList"; }
if envelope :matches "to" "bob+*@*" { fileinto "Detail"; }
if exists ["list-id", "subject"] { fileinto "Lists"; }
if not exists "x-nothing" { fileinto "NoHeader"; }
if size :over 1K { fileinto "Big"; }
if size :under 1K { fileinto "Small"; }
if header :is "subject" "nope" { fileinto "Never"; }
"#;
        let o = run(script, &m);
        let boxes: Vec<&str> = o.keep.iter().filter_map(|(m, _)| m.as_deref()).collect();
        assert_eq!(
            boxes,
            [
                "Decoded",
                "FromDomain",
                "ToList",
                "Detail",
                "Lists",
                "NoHeader",
                "Big"
            ]
        );
        assert!(o.redirects.is_empty() && o.reject.is_none() && o.error.is_none());
    }

    #[test]
    fn implicit_keep_flags_stop_discard_and_errors() {
        let m = view(MSG, "a@b.test", "bob@example.test");
        assert_eq!(run("", &m), Outcome::implicit_keep(None));
        assert_eq!(run("discard;", &m).keep, vec![]);
        let o = run(
            "require [\"imap4flags\", \"fileinto\", \"copy\"];\naddflag \"\\\\Seen $A\"; removeflag \"$A\"; addflag \"$B\";\nfileinto :copy \"X\";\nif hasflag :contains \"$b\" { stop; }\nkeep;",
            &m,
        );
        let seen_b = vec!["\\Seen".to_string(), "$B".to_string()];
        assert_eq!(
            o.keep,
            vec![(Some("X".into()), seen_b.clone()), (None, seen_b)]
        );
        assert!(compile("redirect :copy \"z@y.test\";", &Limits::default()).is_err());
        let o = run(
            "require \"copy\"; redirect \"x@y.test\"; redirect :copy \"z@y.test\";",
            &m,
        );
        assert_eq!(o.redirects, ["x@y.test", "z@y.test"]);
        assert!(o.keep.is_empty());
        let many: String = (0..5)
            .map(|i| format!("redirect \"r{i}@y.test\";"))
            .collect();
        let o = run(&many, &m);
        assert_eq!(o, Outcome::implicit_keep(o.error.clone()));
        assert!(o.error.unwrap().contains("redirects"));
        let o = run(
            "require [\"reject\", \"fileinto\"]; fileinto \"A\"; reject \"no\";",
            &m,
        );
        assert!(o.error.unwrap().contains("reject beside"));
        let o = run("require \"reject\"; reject \"Not here.\";", &m);
        assert_eq!((o.reject.as_deref(), o.keep.len()), (Some("Not here."), 0));
    }

    #[test]
    fn too_big_is_refused() {
        let limits = Limits {
            max_script_bytes: 10,
            ..Limits::default()
        };
        assert!(
            compile("keep; keep; keep;", &limits)
                .unwrap_err()
                .message
                .contains("at most 10")
        );
    }
}

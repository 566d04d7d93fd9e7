//! ManageSieve fuzz entry point: the server session's framing (lines and literals), states,
//! SASL exchange and script commands.

use super::{chunks, header, into_tokens, until};
use crate::proto::line::Exchange;
use crate::proto::managesieve::{
    Event, LoginFailure, ManageSieveSession, Outcome, SessionConfig, State,
};

const MAX_LINE: usize = 64;
const MAX_SCRIPT: usize = 48;
const MAX_ERRORS: u32 = 5;

const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b" ",
    b"\"",
    b"\\",
    b"{",
    b"}",
    b"+}",
    b"{0+}\r\n",
    b"{3+}\r\n",
    b"{5}\r\n",
    b"{49+}\r\n",
    b"{4294967296+}\r\n",
    b"\"*\"",
    b"\"\"",
    b"\"a\"",
    b"\"b c\"",
    b"\"AGEAYg==\"",
    b"AGEAYg==",
    b"\"PLAIN\"",
    b"keep;",
    b"CAPABILITY",
    b"STARTTLS",
    b"AUTHENTICATE",
    b"LOGOUT",
    b"NOOP",
    b"HAVESPACE",
    b"PUTSCRIPT",
    b"LISTSCRIPTS",
    b"SETACTIVE",
    b"GETSCRIPT",
    b"DELETESCRIPT",
    b"RENAMESCRIPT",
    b"CHECKSCRIPT",
    b"UNAUTHENTICATE",
    b"0",
    b"48",
    b"49",
    b"99999999999",
    b"x",
    b"(",
    b"\0",
    b"\xff",
    b"logout",
];

/// What the driver saw; the chunking comparison runs on this.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Output(Vec<u8>),
    Event(String),
}

struct Run {
    session: ManageSieveSession,
    tape: u16,
    tape_pos: u32,
    transcript: Vec<Seen>,
    fed: usize,
    events: usize,
    held_bound: usize,
    closed: bool,
}

impl Run {
    fn decide(&mut self) -> u16 {
        let bits = (self.tape >> (self.tape_pos % 15)) & 3;
        self.tape_pos += 1;
        bits
    }

    fn flush(&mut self) {
        let out = self.session.output();
        assert!(
            out.is_empty() || out.ends_with(b"\r\n"),
            "output does not end a line: {:?}",
            String::from_utf8_lossy(out)
        );
        if !out.is_empty() {
            self.transcript.push(Seen::Output(out.to_vec()));
        }
        self.session.clear_output();
    }

    fn pump(&mut self) {
        while !self.closed {
            self.events += 1;
            assert!(
                self.events <= 2 * self.fed + 16,
                "{} events for {} input bytes",
                self.events,
                self.fed
            );
            let state = self.session.state();
            let tls = self.session.tls();
            let event = self.session.next_event();
            assert!(
                self.session.buffered_input() <= self.held_bound,
                "input buffer {} > line limit + read {}",
                self.session.buffered_input(),
                self.held_bound
            );
            self.flush();
            if event == Event::NeedInput {
                return;
            }
            self.transcript.push(Seen::Event(format!("{event:?}")));
            let script_command = !matches!(
                event,
                Event::StartTls | Event::AuthPlain(_) | Event::Close | Event::Unauthenticated
            );
            if script_command {
                assert_eq!(state, State::Authenticated, "{event:?} before login");
            }
            match event {
                Event::NeedInput => unreachable!(),
                Event::StartTls => {
                    assert_eq!(state, State::NonAuthenticated);
                    assert!(!tls, "STARTTLS inside TLS");
                    assert_eq!(self.session.buffered_input(), 0, "pre-TLS input kept");
                    self.session.tls_started();
                }
                Event::AuthPlain(_) => {
                    assert_eq!(state, State::NonAuthenticated, "login twice");
                    assert!(tls, "login without TLS");
                    match self.decide() {
                        0 => self.session.login_failed(LoginFailure::Invalid),
                        1 => self.session.login_failed(LoginFailure::Unavailable),
                        2 => self.session.auth_malformed(),
                        _ => self.session.login_ok("a@example.test"),
                    }
                }
                Event::Unauthenticated => {
                    assert_eq!(state, State::Authenticated);
                    assert_eq!(self.session.state(), State::NonAuthenticated);
                }
                Event::PutScript { text, .. } | Event::CheckScript(text) => {
                    assert!(text.len() <= MAX_SCRIPT, "script over the limit");
                    self.answer();
                }
                Event::ListScripts => {
                    if self.decide() == 0 {
                        self.session.done(Outcome::TryLater);
                    } else {
                        self.session
                            .listing(&[("a".into(), true), ("b\"\\".into(), false)]);
                    }
                }
                Event::GetScript(_) => {
                    if self.decide() == 0 {
                        self.session.done(Outcome::NonExistent);
                    } else {
                        self.session.script("keep;\r\n");
                    }
                }
                Event::HaveSpace { .. }
                | Event::SetActive(_)
                | Event::DeleteScript(_)
                | Event::RenameScript { .. } => self.answer(),
                Event::Close => {
                    assert!(self.session.is_closed());
                    self.closed = true;
                }
            }
            self.flush();
        }
    }

    fn answer(&mut self) {
        let outcome = match self.decide() {
            0 => Outcome::Ok,
            1 => Outcome::Invalid("line 1: bad\r\n\"x\"".into()),
            2 => Outcome::MaxSize,
            _ => Outcome::AlreadyExists,
        };
        self.session.done(outcome);
    }
}

fn run(flags: u8, tape: u16, payload: &[u8], sizes: &[u8]) -> Vec<Seen> {
    let mut run = Run {
        session: ManageSieveSession::new(SessionConfig {
            max_line_bytes: MAX_LINE,
            max_errors: MAX_ERRORS,
            max_script_bytes: MAX_SCRIPT,
            starttls: flags & 2 != 0,
            tls_active: flags & 4 != 0,
            extensions: "fileinto vacation".into(),
            max_redirects: 4,
        }),
        tape,
        tape_pos: 0,
        transcript: Vec::new(),
        fed: 0,
        events: 0,
        held_bound: MAX_LINE,
        closed: false,
    };
    run.pump();
    for chunk in chunks(payload, sizes) {
        if run.closed {
            break;
        }
        run.session.feed(chunk);
        run.fed += chunk.len();
        run.held_bound = MAX_LINE + chunk.len();
        run.pump();
    }
    run.transcript
}

/// Drives a [`ManageSieveSession`] as the ManageSieve driver does.
///
/// Input: `[flags, tape0, tape1, size0, size1, size2, payload...]`; `flags` bits: 0 payload as
/// ManageSieve tokens, 1 STARTTLS offered, 2 already in TLS; the tape answers logins and script
/// commands.
///
/// Checks: output ends in CRLF; the input buffer stays within one line plus one read; logins
/// only inside TLS and before authentication, script commands only after it, scripts within the
/// size limit; nothing read before STARTTLS survives it; events are bounded by input bytes; and
/// the session behaves the same when the payload arrives in one read (up to the first
/// STARTTLS, after which the dropped input depends on the reads). Output is compared as one
/// stream, since how it is cut into writes follows the reads.
pub fn fuzz_managesieve_session(data: &[u8]) {
    let (h, rest) = header::<6>(data);
    let flags = h[0];
    let tape = u16::from_le_bytes([h[1], h[2]]);
    let payload = if flags & 1 != 0 {
        into_tokens(rest, TOKENS)
    } else {
        rest.to_vec()
    };
    let chunked = run(flags, tape, &payload, &h[3..6]);
    let whole = run(flags, tape, &payload, &[0]);
    let stream = |t: &[Seen]| {
        let t = until(t, |s| *s == Seen::Event("StartTls".into()));
        let mut merged: Vec<Seen> = Vec::new();
        for s in t {
            match (merged.last_mut(), s) {
                (Some(Seen::Output(a)), Seen::Output(b)) => a.extend_from_slice(b),
                (_, Seen::Output(b)) => merged.push(Seen::Output(b.clone())),
                (_, Seen::Event(e)) => merged.push(Seen::Event(e.clone())),
            }
        }
        merged
    };
    assert_eq!(
        stream(&chunked),
        stream(&whole),
        "the session depends on how its input was split"
    );
}

//! POP3 fuzz entry point: the server session's line framing, states and maildrop commands.

use super::{chunks, header, into_tokens};
use crate::proto::line::Exchange;
use crate::proto::pop3::{
    DotEncoder, Entry, Event, LoginFailure, Maildrop, Pop3Session, SessionConfig, State,
};

const MAX_LINE: usize = 64;
const MAX_ERRORS: u32 = 5;

const POP3_TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b" ",
    b"USER a",
    b"PASS b",
    b"PASS b c",
    b"AUTH",
    b"AUTH PLAIN",
    b"AUTH PLAIN AGEAYg==",
    b"AGEAYg==",
    b"=",
    b"*",
    b"AUTH LOGIN",
    b"STLS",
    b"CAPA",
    b"STAT",
    b"LIST",
    b"LIST 1",
    b"UIDL",
    b"UIDL 2",
    b"RETR 1",
    b"RETR 3",
    b"TOP 1 0",
    b"TOP 2 5",
    b"DELE 1",
    b"DELE 2",
    b"RSET",
    b"NOOP",
    b"QUIT",
    b"APOP a b",
    b"0",
    b"1",
    b"2",
    b"3",
    b"99999999999",
    b"-1",
    b"x",
    b"\0",
    b"\xff",
    b"stat",
    b"quit",
];

/// What the driver saw; the chunking comparison runs on this.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Line(String),
    Event(String),
}

struct Run {
    session: Pop3Session,
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
            "output is not whole lines: {:?}",
            String::from_utf8_lossy(out)
        );
        for line in out.split_inclusive(|&b| b == b'\n') {
            let body = line
                .strip_suffix(b"\r\n")
                .unwrap_or_else(|| panic!("line without CRLF: {line:?}"));
            assert!(!body.contains(&b'\r') && !body.contains(&b'\n'));
            // A continuation request's presence does not depend on the reads; keep it.
            self.transcript
                .push(Seen::Line(String::from_utf8_lossy(body).into_owned()));
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
            match event {
                Event::NeedInput => unreachable!(),
                Event::Login { .. } | Event::AuthPlain(_) => {
                    assert_eq!(state, State::Authorization, "login outside AUTHORIZATION");
                    match self.decide() {
                        0 => self.session.login_failed(LoginFailure::Invalid),
                        1 => self.session.login_failed(LoginFailure::InUse),
                        2 => self.session.auth_malformed(),
                        _ => self.session.login_ok(Maildrop {
                            uidvalidity: 7,
                            entries: vec![
                                Entry { uid: 2, size: 10 },
                                Entry { uid: 5, size: 300 },
                                Entry { uid: 9, size: 0 },
                            ],
                        }),
                    }
                }
                Event::StartTls => {
                    assert_eq!(state, State::Authorization);
                    assert!(!self.session.tls(), "STLS inside TLS");
                    assert_eq!(self.session.buffered_input(), 0, "pre-TLS input kept");
                    self.session.tls_started();
                }
                Event::Retrieve { uid, top } => {
                    assert_eq!(state, State::Transaction);
                    assert!(self.session.maildrop().entries.iter().any(|e| e.uid == uid));
                    if self.decide() == 0 {
                        self.session.retrieve_gone();
                    } else {
                        let mut out = Vec::new();
                        let mut e = DotEncoder::new(top);
                        e.encode(b"A: b\r\n\r\n.x\r\ny", &mut out);
                        e.finish(&mut out);
                        assert!(out.ends_with(b"\r\n.\r\n"));
                        self.session.retrieve_done();
                    }
                }
                Event::Update { delete } => {
                    assert_eq!(state, State::Transaction, "deletions outside UPDATE");
                    assert!(delete.windows(2).all(|w| w[0] < w[1]));
                    let all = &self.session.maildrop().entries;
                    assert!(delete.iter().all(|u| all.iter().any(|e| e.uid == *u)));
                    let n = delete.len();
                    let result = if self.decide() == 0 { Err(()) } else { Ok(n) };
                    self.session.update_done(result);
                }
                Event::Close => {
                    assert!(self.session.is_closed());
                    self.closed = true;
                }
            }
            self.flush();
        }
    }
}

fn run(flags: u8, tape: u16, payload: &[u8], sizes: &[u8]) -> Vec<Seen> {
    let mut run = Run {
        session: Pop3Session::new(SessionConfig {
            max_line_bytes: MAX_LINE,
            max_errors: MAX_ERRORS,
            starttls: flags & 2 != 0,
            tls_active: flags & 4 != 0,
            plaintext_auth: flags & 8 != 0,
            expire_days: 0,
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

/// Drives a [`Pop3Session`] as the POP3 driver does.
///
/// Input: `[flags, tape0, tape1, size0, size1, size2, payload...]`; `flags` bits: 0 payload as
/// POP3 tokens, 1 STLS offered, 2 already in TLS, 3 plaintext logins allowed; the tape answers
/// logins, retrievals and updates.
///
/// Checks: output is whole CRLF lines; the input buffer stays within one line plus one read;
/// logins only in AUTHORIZATION, retrievals and deletions only in TRANSACTION and deletions only
/// for messages of the maildrop; nothing read before STLS survives it; events are bounded by
/// input bytes; and the session behaves the same when the payload arrives in one read (up to
/// the first STLS, after which the dropped input depends on the reads).
pub fn fuzz_pop3_session(data: &[u8]) {
    let (h, rest) = header::<6>(data);
    let flags = h[0];
    let tape = u16::from_le_bytes([h[1], h[2]]);
    let payload = if flags & 1 != 0 {
        into_tokens(rest, POP3_TOKENS)
    } else {
        rest.to_vec()
    };
    let chunked = run(flags, tape, &payload, &h[3..6]);
    let whole = run(flags, tape, &payload, &[0]);
    let cut = |t: &[Seen]| {
        let i = t
            .iter()
            .position(|s| *s == Seen::Event("StartTls".into()))
            .map_or(t.len(), |i| i + 1);
        t[..i].iter().map(|s| format!("{s:?}")).collect::<Vec<_>>()
    };
    assert_eq!(
        cut(&chunked),
        cut(&whole),
        "the session depends on how its input was split"
    );
}

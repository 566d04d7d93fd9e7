//! Fuzz entry points: one `fuzz_*` function per target of the cargo-fuzz crate in `tests/fuzz/`.
//!
//! Each function takes the fuzzer's bytes, is deterministic, and panics when a property of the
//! code under test breaks. Besides "no panic", each checks the bounds its code promises (buffered
//! input, field and list caps, size limits, events per input byte); libFuzzer's memory and time
//! limits catch the rest. `tests/fuzz_replay.rs` runs the committed corpora through these
//! functions on stable Rust, so `cargo test` exercises every target without a nightly.
//!
//! Where a target needs steering (which state to start in, how to chunk the input, how the driver
//! answers), a few leading header bytes decide it and the rest is protocol bytes, so that
//! dictionary tokens survive mutation. A header bit can also map the rest into the protocol's
//! alphabet or a table of protocol tokens (the `into_alphabet` trick of smtp-proto's fuzzer),
//! which lets short random inputs reach deep states.

mod acme;
mod autodiscover_request;
mod dkim_verify;
mod dmarc;
mod dns;
mod http;
mod imap;
mod imap_client;
mod managesieve;
mod mbox;
mod mdns;
mod multipart;
mod outbound;
mod pop3;
mod pop3_client;
mod sieve;
mod smtp_client;
mod spam;
mod spf;
mod srs;
mod store;
pub use acme::fuzz_acme_response;
pub use autodiscover_request::fuzz_autodiscover_request;
pub use dkim_verify::fuzz_dkim_verify;
pub use dmarc::fuzz_dmarc_record;
pub use dns::fuzz_dns_response;
pub use http::fuzz_http_request;
pub use imap::{fuzz_imap_mutf7, fuzz_imap_parsers, fuzz_imap_session};
pub use imap_client::fuzz_imap_client_responses;
pub use managesieve::fuzz_managesieve_session;
pub use mbox::fuzz_mbox_reader;
pub use mdns::fuzz_mdns_packet;
pub use multipart::fuzz_multipart;
pub use outbound::{fuzz_dsn, fuzz_submission_header};
pub use pop3::fuzz_pop3_session;
pub use pop3_client::fuzz_pop3_client_responses;
pub use sieve::fuzz_sieve_script;
pub use smtp_client::fuzz_smtp_client;
pub use spam::fuzz_spam_tokens;
pub use spf::fuzz_spf_record;
pub use srs::fuzz_srs_address;
pub use store::fuzz_store_ops;

use crate::cli::control::{MAX_ARG_BYTES, MAX_ARGS, read_request, read_response, write_request};
use crate::message::mime::{MimeLimits, MimeParser};
use crate::message::summary::{Address, Part, PartBody, Summary};
use crate::proto::line::{Exchange, LineSplitter, Split};
use crate::proto::smtp::data::{DataDecoder, NewlineCheck};
use crate::proto::smtp::reply::r;
use crate::proto::smtp::{Event, Recipient, SaslResponse, SessionConfig, SmtpServerSession};

/// The first `N` bytes of `data` (zero-padded if shorter) and the rest.
fn header<const N: usize>(data: &[u8]) -> ([u8; N], &[u8]) {
    let mut h = [0u8; N];
    let n = data.len().min(N);
    h[..n].copy_from_slice(&data[..n]);
    (h, &data[n..])
}

/// Maps every byte to a character of `alphabet`.
fn into_alphabet(data: &[u8], alphabet: &[u8]) -> Vec<u8> {
    data.iter()
        .map(|&b| alphabet[b as usize % alphabet.len()])
        .collect()
}

/// Maps every byte to a token of `tokens` and concatenates them.
fn into_tokens(data: &[u8], tokens: &[&[u8]]) -> Vec<u8> {
    data.iter()
        .flat_map(|&b| tokens[b as usize % tokens.len()].iter().copied())
        .collect()
}

/// `t` up to and including the first item `stop` picks (all of `t` if none): the part of a
/// transcript that must not depend on how the input was split.
fn until<T>(t: &[T], stop: impl Fn(&T) -> bool) -> &[T] {
    match t.iter().position(stop) {
        Some(i) => &t[..=i],
        None => t,
    }
}

/// Splits `data` into chunks whose sizes cycle through `sizes` (a 0 takes all the rest).
fn chunks<'a>(data: &'a [u8], sizes: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let n = if size == 0 {
            rest.len()
        } else {
            rest.len().min(size as usize)
        };
        let (chunk, tail) = rest.split_at(n);
        out.push(chunk);
        rest = tail;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// SMTP server session
// ---------------------------------------------------------------------------------------------

const HOST: &str = "mx.test";
const MAX_LINE: usize = 100;
/// Small enough that a default-sized (4 KiB) fuzz input can overflow it.
const MAX_MESSAGE: u64 = 2048;
const MAX_RCPTS: usize = 5;
const MAX_ERRORS: u32 = 5;

/// Valid dialogues that put the session in each state before the fuzzed bytes (mox seeds its
/// SMTP fuzzer "in various connection states").
const PREAMBLES: [&[u8]; 6] = [
    b"",
    b"EHLO client.test\r\n",
    b"EHLO client.test\r\nMAIL FROM:<a@client.test>\r\n",
    b"EHLO client.test\r\nMAIL FROM:<a@client.test>\r\nRCPT TO:<u@mx.test>\r\n",
    b"EHLO client.test\r\nMAIL FROM:<a@client.test>\r\nRCPT TO:<u@mx.test>\r\nDATA\r\n",
    b"EHLO client.test\r\nMAIL FROM:<a@client.test>\r\nRCPT TO:<u@mx.test>\r\nBDAT 64\r\n",
];

const SMTP_ALPHABET: &[u8] =
    b"EHLOMAILFROMRCPTTODATABDATLASTRSETQUIT ehlomailrcpt<>@:.=-0123456789\r\n\r\n\r\n\r\n\n.";

const SMTP_TOKENS: &[&[u8]] = &[
    b"EHLO client.test\r\n",
    b"HELO client.test\r\n",
    b"EHLO ",
    b"HELO ",
    b"MAIL FROM:",
    b"RCPT TO:",
    b"<",
    b">",
    b"<>",
    b"@",
    b"a",
    b"u",
    b"mx.test",
    b"<u@mx.test>",
    b"<a@client.test>",
    b"postmaster",
    b"\"q\"",
    b"%",
    b"!",
    b"@r.test:",
    b" SIZE=",
    b" BODY=8BITMIME",
    b" BODY=7BIT",
    b" SMTPUTF8",
    b" NOTIFY=NEVER",
    b" AUTH=<>",
    b"DATA\r\n",
    b"DATA",
    b"BDAT ",
    b" LAST",
    b"0",
    b"1",
    b"7",
    b"64",
    b"2048",
    b"2049",
    b"99999999999",
    b"RSET\r\n",
    b"NOOP\r\n",
    b"QUIT\r\n",
    b"STARTTLS\r\n",
    b"VRFY u\r\n",
    b"HELP\r\n",
    b"EXPN x\r\n",
    b"AUTH PLAIN\r\n",
    b"LHLO x\r\n",
    b"GET / HTTP/1.0\r\n",
    b"\r\n",
    b"\n",
    b"\r",
    b".",
    b"\r\n.\r\n",
    b"..",
    b" ",
    b"\0",
    b"\xc3\xa9",
    b"\xff",
    b"x",
    b"Subject: hi\r\n\r\nbody\r\n",
    b"0123456789abcdef0123456789abcdef0123456789abcdef",
];

/// What the driver saw, in order: the chunking comparison runs on this.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// One reply line as sent (checked to be ASCII).
    Reply(String),
    Mail {
        from: String,
        smtputf8: bool,
        size: Option<u64>,
    },
    Rcpt(Recipient),
    StartTls,
    /// A finished SASL exchange: the PLAIN response, or the LOGIN user and password lines.
    Auth(Vec<u8>, Option<Vec<u8>>),
    MessageStart,
    /// Consecutive Data events are merged: how data is split depends on the reads.
    Data(Vec<u8>),
    MessageEnd,
    MessageAbort,
    Close,
}

/// A driver as `conn::smtp` is, with its decisions taken from the input, checking the session's
/// invariants at every event.
struct SessionRun {
    session: SmtpServerSession,
    /// Decision bits (RCPT and MessageEnd answers, optional MAIL rejections), used cyclically.
    tape: u16,
    tape_pos: u32,
    accept_all: bool,
    reject_some_mail: bool,
    transcript: Vec<Seen>,
    /// Bytes of the session's output already in the transcript.
    recorded: usize,
    /// The code of a multi-line reply whose last line has not been seen yet.
    continuation: Option<[u8; 3]>,
    fed: usize,
    events: usize,
    held_bound: usize,
    /// Between MessageStart and MessageEnd/MessageAbort.
    open: bool,
    message_bytes: u64,
    /// Recipients accepted since the last MAIL.
    rcpts: usize,
    closed: bool,
}

impl SessionRun {
    fn new(cfg: SessionConfig, tape: u16, reject_some_mail: bool) -> SessionRun {
        SessionRun {
            session: SmtpServerSession::new(cfg),
            tape,
            tape_pos: 0,
            accept_all: false,
            reject_some_mail,
            transcript: Vec::new(),
            recorded: 0,
            continuation: None,
            fed: 0,
            events: 0,
            held_bound: 0,
            open: false,
            message_bytes: 0,
            rcpts: 0,
            closed: false,
        }
    }

    fn decide(&mut self) -> bool {
        if self.accept_all {
            return true;
        }
        let bit = (self.tape >> (self.tape_pos % 16)) & 1 == 0;
        self.tape_pos += 1;
        bit
    }

    fn feed(&mut self, chunk: &[u8]) {
        self.session.feed(chunk);
        self.fed += chunk.len();
        // Before a read the session holds less than one command line (the rest was consumed).
        self.held_bound = MAX_LINE + chunk.len();
        assert!(
            self.session.held_input() <= self.held_bound,
            "input buffer {} > line limit + read {}",
            self.session.held_input(),
            self.held_bound
        );
    }

    /// Moves new reply lines into the transcript, checking their form.
    fn record_output(&mut self) {
        let out = &self.session.output()[self.recorded..];
        assert!(
            out.is_empty() || out.ends_with(b"\r\n"),
            "output is not whole lines: {:?}",
            String::from_utf8_lossy(out)
        );
        for line in out.split_inclusive(|&b| b == b'\n') {
            let body = line
                .strip_suffix(b"\r\n")
                .unwrap_or_else(|| panic!("reply line without CRLF: {line:?}"));
            assert!(
                body.len() >= 4
                    && (b'2'..=b'5').contains(&body[0])
                    && body[1..3].iter().all(u8::is_ascii_digit)
                    && matches!(body[3], b' ' | b'-')
                    && body.iter().all(|&b| b == b' ' || b.is_ascii_graphic()),
                "malformed reply line {:?}",
                String::from_utf8_lossy(line)
            );
            let code = [body[0], body[1], body[2]];
            if let Some(c) = self.continuation {
                assert_eq!(c, code, "multi-line reply changes its code");
            }
            self.continuation = (body[3] == b'-').then_some(code);
            if self.transcript.is_empty() {
                assert_eq!(line, b"220 mx.test ESMTP mailnook\r\n", "greeting");
            }
            self.transcript
                .push(Seen::Reply(String::from_utf8_lossy(line).into_owned()));
        }
        self.recorded = self.session.output().len();
    }

    /// Sends the output (the driver does this before every read, before TLS and at close).
    fn flush(&mut self) {
        self.record_output();
        assert!(
            self.continuation.is_none(),
            "output flushed in the middle of a multi-line reply"
        );
        self.session.clear_output();
        self.recorded = 0;
    }

    /// Answers events until the session needs input or closes.
    fn pump(&mut self) {
        while !self.closed {
            self.events += 1;
            assert!(
                self.events <= 3 * self.fed + 16,
                "{} events for {} input bytes: the session does not progress",
                self.events,
                self.fed
            );
            let seen = match self.session.next_event() {
                Event::NeedInput => None,
                Event::Mail {
                    from,
                    smtputf8,
                    size,
                } => Some(Seen::Mail {
                    from: from.to_string(),
                    smtputf8,
                    size,
                }),
                Event::Rcpt(rcpt) => Some(Seen::Rcpt(rcpt.clone())),
                Event::StartTls => Some(Seen::StartTls),
                Event::Auth(SaslResponse::Plain(b)) => Some(Seen::Auth(b.to_vec(), None)),
                Event::Auth(SaslResponse::Login { user, password }) => {
                    Some(Seen::Auth(user.to_vec(), Some(password.to_vec())))
                }
                Event::MessageStart => Some(Seen::MessageStart),
                Event::Data(bytes) => Some(Seen::Data(bytes.to_vec())),
                Event::MessageEnd => Some(Seen::MessageEnd),
                Event::MessageAbort => Some(Seen::MessageAbort),
                Event::Close => Some(Seen::Close),
            };
            assert!(
                self.session.held_input() <= self.held_bound,
                "input buffer grew without a read"
            );
            self.record_output();
            let Some(seen) = seen else {
                self.flush();
                return;
            };
            self.answer(&seen);
            match (self.transcript.last_mut(), seen) {
                (Some(Seen::Data(prev)), Seen::Data(more)) => prev.extend_from_slice(&more),
                (_, Seen::MessageAbort) => {
                    // How much of an aborted message was passed on depends on the reads, and the
                    // driver drops it anyway.
                    let start = self
                        .transcript
                        .iter()
                        .rposition(|s| *s == Seen::MessageStart)
                        .expect("checked in answer");
                    let mut tail = self.transcript.split_off(start + 1);
                    tail.retain(|s| !matches!(s, Seen::Data(_)));
                    self.transcript.append(&mut tail);
                    self.transcript.push(Seen::MessageAbort);
                }
                (_, seen) => self.transcript.push(seen),
            }
        }
    }

    fn answer(&mut self, seen: &Seen) {
        match seen {
            Seen::Reply(_) => unreachable!("not an event"),
            Seen::Mail { from, .. } => {
                assert!(
                    !self.open && self.session.mail_from().is_none(),
                    "MAIL inside a transaction"
                );
                self.rcpts = 0;
                if self.reject_some_mail && !self.decide() {
                    self.session.reject(r::LOCAL_ERROR);
                } else {
                    self.session.accept_mail();
                    assert_eq!(self.session.mail_from(), Some(from.as_str()));
                }
            }
            Seen::Rcpt(_) => {
                assert!(
                    !self.open && self.session.mail_from().is_some(),
                    "RCPT outside a transaction or during a message"
                );
                assert!(self.rcpts < MAX_RCPTS, "RCPT beyond the recipient limit");
                if self.decide() {
                    self.rcpts += 1;
                    self.session.accept_rcpt();
                } else {
                    self.session.reject(r::NO_SUCH_USER);
                }
            }
            Seen::StartTls => {
                assert!(
                    !self.open,
                    "STARTTLS while a message is open: its data would vanish without MessageAbort"
                );
                assert!(!self.session.tls(), "STARTTLS inside TLS");
                self.flush();
                assert_eq!(
                    self.transcript.last(),
                    Some(&Seen::Reply("220 2.0.0 Ready to start TLS\r\n".to_string()))
                );
                // CVE-2011-0411: nothing read before the handshake survives it.
                assert_eq!(self.session.held_input(), 0, "pre-TLS input kept");
                self.session.tls_started();
                assert!(self.session.tls() && self.session.helo().is_none());
                assert!(self.session.mail_from().is_none());
            }
            Seen::Auth(..) => {
                assert!(
                    self.session.tls() && !self.session.authenticated(),
                    "AUTH outside TLS or twice"
                );
                assert!(
                    !self.open && self.session.mail_from().is_none(),
                    "AUTH inside a transaction"
                );
                if self.decide() {
                    self.session.auth_succeeded();
                    assert!(self.session.authenticated());
                } else {
                    self.session.auth_failed(r::AUTH_INVALID);
                }
            }
            Seen::MessageStart => {
                assert!(!self.open, "MessageStart while a message is open");
                assert!(
                    self.rcpts > 0 && self.session.mail_from().is_some(),
                    "message without an accepted recipient"
                );
                self.open = true;
                self.message_bytes = 0;
            }
            Seen::Data(bytes) => {
                assert!(self.open, "Data outside a message");
                assert!(!bytes.is_empty(), "empty Data event");
                self.message_bytes += bytes.len() as u64;
                assert!(
                    self.message_bytes <= MAX_MESSAGE,
                    "{} message bytes passed on, limit {MAX_MESSAGE}",
                    self.message_bytes
                );
            }
            Seen::MessageEnd => {
                assert!(self.open, "MessageEnd without MessageStart");
                self.open = false;
                if self.decide() {
                    let before = self.session.delivered();
                    self.session.message_accepted("ID1");
                    assert_eq!(self.session.delivered(), before + 1);
                } else {
                    self.session.reject(r::LOCAL_ERROR);
                }
                assert!(
                    self.session.mail_from().is_none(),
                    "transaction outlives its message"
                );
            }
            Seen::MessageAbort => {
                assert!(self.open, "MessageAbort without a message in progress");
                self.open = false;
            }
            Seen::Close => {
                assert!(self.session.is_closed());
                assert!(!self.open, "closed with a message still open");
                self.flush();
                self.closed = true;
            }
        }
    }
}

/// Runs the session over `payload` fed in chunks of `sizes`; returns the transcript.
fn run_session(state: usize, flags: u8, tape: u16, payload: &[u8], sizes: &[u8]) -> Vec<Seen> {
    let cfg = SessionConfig {
        hostname: HOST.to_string(),
        max_line_bytes: MAX_LINE,
        max_message_bytes: MAX_MESSAGE,
        max_recipients: MAX_RCPTS,
        max_errors: MAX_ERRORS,
        starttls: flags & 4 != 0,
        tls_active: flags & 8 != 0,
        // Submission needs AUTH before MAIL, which the preambles past EHLO do not send.
        auth: flags & 64 != 0 && state < 2,
    };
    let mut run = SessionRun::new(cfg, tape, flags & 32 != 0);
    run.pump();
    run.accept_all = true;
    if !PREAMBLES[state].is_empty() {
        run.feed(PREAMBLES[state]);
        run.pump();
    }
    // The preambles are valid dialogues: no error replies.
    assert!(!run.closed && (state == 0 || run.session.helo().is_some()));
    assert!(
        run.transcript
            .iter()
            .all(|s| !matches!(s, Seen::Reply(l) if l.as_bytes()[0] >= b'4')),
        "preamble {state} was refused"
    );
    assert_eq!(run.session.in_data(), state >= 4, "preamble {state}");
    assert_eq!(
        run.session.mail_from().is_some(),
        state >= 2,
        "preamble {state}"
    );
    assert_eq!(run.open, state >= 4, "preamble {state}");
    run.accept_all = false;
    for chunk in chunks(payload, sizes) {
        if run.closed {
            break;
        }
        run.feed(chunk);
        run.pump();
    }
    if !run.closed && flags & 16 != 0 {
        // The driver's read timed out.
        run.session.close_with(r::TIMEOUT);
        run.pump();
        assert!(run.closed, "close_with did not close");
    }
    run.transcript
}

/// STARTTLS ends the comparable transcript: after it the session has dropped whatever the last
/// read held, so what follows depends on how the input was split.
fn is_starttls(s: &Seen) -> bool {
    *s == Seen::StartTls
}

/// Drives an [`SmtpServerSession`] as the MX driver does.
///
/// Input: `[state, flags, tape0, tape1, size0, size1, size2, payload...]`. `state` picks a
/// preamble (fresh, EHLO, MAIL, RCPT, inside DATA, inside BDAT); `flags` bits: 0–1 payload as
/// is / SMTP alphabet / SMTP tokens, 2 STARTTLS offered, 3 already in TLS, 4 time out at the
/// end, 5 reject some MAIL; the tape bits answer RCPT, MessageEnd (and MAIL); the payload is fed
/// in chunks of the three sizes (0: all the rest).
///
/// Checks: replies are whole `ddd[ -]text CRLF` lines and a flush never splits a multi-line
/// reply; the input buffer stays within one line plus one read; events follow the protocol
/// (no RCPT outside a transaction, MessageStart only with a recipient, Data/End/Abort only
/// inside a message, at most the message limit passed on as Data); events are bounded by input
/// bytes; and the session behaves the same when the payload arrives in one read (up to the
/// first STARTTLS).
pub fn fuzz_smtp_server_session(data: &[u8]) {
    let (h, rest) = header::<7>(data);
    let state = h[0] as usize % PREAMBLES.len();
    let flags = h[1];
    let tape = u16::from_le_bytes([h[2], h[3]]);
    let payload = match flags & 3 {
        1 => into_alphabet(rest, SMTP_ALPHABET),
        2 => into_tokens(rest, SMTP_TOKENS),
        _ => rest.to_vec(),
    };
    let chunked = run_session(state, flags, tape, &payload, &h[4..7]);
    let whole = run_session(state, flags, tape, &payload, &[0]);
    assert_eq!(
        until(&chunked, is_starttls),
        until(&whole, is_starttls),
        "the session depends on how its input was split"
    );
}

// ---------------------------------------------------------------------------------------------
// DATA decoder
// ---------------------------------------------------------------------------------------------

const DATA_ALPHABET: &[u8] = b".\r\n.\r\nx";

/// Dot-stuffs message bytes as a client does (RFC 5321 §4.5.2).
fn stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 8);
    let mut line_start = true;
    for (i, &b) in message.iter().enumerate() {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n' && i > 0 && message[i - 1] == b'\r';
    }
    out
}

/// Whether some line of clean (CRLF-only) DATA input starts with a single dot that is neither
/// the terminator nor an unfinished tail: input no conforming client sends, whose dot the
/// decoder drops (RFC 5321 §4.5.2), so stuffing cannot give it back.
fn has_unstuffed_dot(input: &[u8]) -> bool {
    (0..input.len()).any(|i| {
        let line_start = i == 0 || input[..i].ends_with(b"\r\n");
        let tail = &input[i + 1..];
        line_start
            && input[i] == b'.'
            && !tail.is_empty()
            && tail[0] != b'.'
            && tail != b"\r"
            && tail != b"\r\n"
    })
}

/// The DATA decoder and the BDAT newline check.
///
/// Input: `[flags, size0, size1, size2, payload...]`; flag bit 0 maps the payload into
/// `. CR LF x`. Checks: the decoder gives the same output, end and bare-newline flag whole and
/// in chunks; its bare flag agrees with [`NewlineCheck`] on the consumed bytes (DATA and BDAT
/// judge line endings alike); decoding the dot-stuffed decoded message gives it back; and for
/// clean, conforming input, re-stuffing the output gives the consumed input back.
pub fn fuzz_smtp_data(data: &[u8]) {
    let (h, rest) = header::<4>(data);
    let input = if h[0] & 1 == 1 {
        into_alphabet(rest, DATA_ALPHABET)
    } else {
        rest.to_vec()
    };

    let mut whole = DataDecoder::default();
    let mut out = Vec::new();
    let (n, ended) = whole.decode(&input, &mut out);
    assert!(n <= input.len() && (ended || n == input.len()));
    assert!(out.len() <= n, "decoding grew the data");

    let mut chunked = DataDecoder::default();
    let (mut out2, mut n2, mut ended2) = (Vec::new(), 0, false);
    let mut check = NewlineCheck::default();
    for chunk in chunks(&input, &h[1..4]) {
        let (k, e) = chunked.decode(chunk, &mut out2);
        assert!(k <= chunk.len() && (e || k == chunk.len()));
        check.scan(&chunk[..k]);
        n2 += k;
        if e {
            ended2 = true;
            break;
        }
    }
    assert_eq!(
        (&out, ended, whole.bare_newline, n),
        (&out2, ended2, chunked.bare_newline, n2),
        "whole and chunked decoding differ"
    );
    assert_eq!(
        check.bare, whole.bare_newline,
        "DATA and BDAT disagree on bare line endings"
    );

    if whole.bare_newline {
        return;
    }
    // Decode ∘ stuff is the identity on clean messages (up to the last complete line).
    let complete = out.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let message = &out[..complete];
    let mut wire = stuff(message);
    wire.extend_from_slice(b".\r\n");
    let mut d = DataDecoder::default();
    let mut back = Vec::new();
    assert_eq!(d.decode(&wire, &mut back), (wire.len(), true));
    assert_eq!(back, message, "stuffed message does not decode back");
    assert!(!d.bare_newline);

    // Stuff ∘ decode is the identity on what a conforming client sends.
    let consumed = &input[..n];
    if has_unstuffed_dot(consumed) {
        return;
    }
    let restuffed = stuff(&out);
    assert!(
        consumed.starts_with(&restuffed),
        "re-stuffed output is not the input"
    );
    let tail = &consumed[restuffed.len()..];
    if ended {
        assert_eq!(tail, b".\r\n", "terminator");
    } else {
        assert!(
            matches!(tail, b"" | b"." | b".\r"),
            "undecoded tail {tail:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Message summary
// ---------------------------------------------------------------------------------------------

const MIME_TOKENS: &[&[u8]] = &[
    b"From: ",
    b"To: ",
    b"Cc: ",
    b"Bcc: ",
    b"Sender: ",
    b"Reply-To: ",
    b"Subject: ",
    b"Date: ",
    b"Message-ID: ",
    b"In-Reply-To: ",
    b"Content-Type: multipart/mixed; boundary=b\r\n",
    b"=?utf-8?q?",
    b"=?utf-8?b?",
    b"=?iso-8859-1?q?",
    b"?=",
    b"=C3=B6",
    b"SGVsbG8=",
    b"<",
    b">",
    b"@",
    b",",
    b";",
    b":",
    b"\"",
    b"(",
    b")",
    b"\\",
    b" ",
    b"\t",
    b"\r\n",
    b"\n",
    b"\r\n\r\n",
    b"\r\n ",
    b"a",
    b"b.test",
    b"Thu, 26 Nov 2026 18:29:11 +0000",
    b"+0000",
    b"-9999",
    b"31 Dec 9999 23:59:60 ",
    b"group: ",
    b"\xc3\xa9",
    b"\xff",
    b"\0",
];

fn check_summary(msg: &[u8]) {
    let s = Summary::from_message(msg);
    let limits = MimeLimits::default();
    assert!(s.header_bytes() <= msg.len() as u64);
    let e = &s.envelope;
    let lists: [&Vec<Address>; 6] = [&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc];
    for list in lists {
        assert!(
            list.len() <= limits.max_addresses,
            "address list not capped"
        );
        for a in list {
            for f in [&a.name, &a.adl, &a.mailbox, &a.host] {
                assert!(f.as_ref().is_none_or(|t| t.len() <= limits.max_field_bytes));
            }
        }
    }
    for f in [&e.subject, &e.in_reply_to, &e.message_id, &e.date] {
        assert!(f.as_ref().is_none_or(|t| t.len() <= limits.max_field_bytes));
    }
    assert_eq!(Summary::decode(&s.encode()).as_ref(), Some(&s));
}

/// [`Summary::from_message`] on the input as is and mapped to header tokens: never
/// panics, keeps its caps, and `decode(encode(s)) == s`. The input is also decoded as a stored
/// summary record: a corrupt record gives `None` or a summary that round-trips.
pub fn fuzz_mime_summary(data: &[u8]) {
    check_summary(data);
    check_summary(&into_tokens(data, MIME_TOKENS));
    if let Some(s) = Summary::decode(data) {
        assert_eq!(Summary::decode(&s.encode()), Some(s));
    }
}

// ---------------------------------------------------------------------------------------------
// Control socket framing
// ---------------------------------------------------------------------------------------------

/// `read_request` and `read_response` on garbage: no panic, results within the protocol's
/// bounds, and an accepted request is exactly what `write_request` writes for its arguments.
pub fn fuzz_control_request(data: &[u8]) {
    let mut r = data;
    if let Ok(args) = read_request(&mut r) {
        assert!(args.len() <= MAX_ARGS as usize);
        assert!(args.iter().all(|a| a.len() <= MAX_ARG_BYTES as usize));
        let consumed = &data[..data.len() - r.len()];
        let mut wire = Vec::new();
        write_request(&mut wire, &args).expect("writing to a Vec");
        assert_eq!(wire, consumed, "request does not round-trip");
    }
    let mut r = data;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let _ = read_response(&mut r, &mut out, &mut err);
    assert!(
        out.len() + err.len() <= data.len(),
        "response output exceeds its input"
    );
}

// ---------------------------------------------------------------------------------------------
// Line splitter
// ---------------------------------------------------------------------------------------------

const LINE_ALPHABET: &[u8] = b"aaaa\r\n\n";

#[derive(Debug, PartialEq, Eq)]
enum Piece {
    Line(Vec<u8>, bool),
    TooLong,
}

/// Splits `input` read in chunks of `sizes` as a session does: unconsumed bytes stay buffered.
fn split_all(max: usize, input: &[u8], sizes: &[u8]) -> Vec<Piece> {
    let limit = max.max(3);
    let mut splitter = LineSplitter::new(max);
    let mut buf = Vec::new();
    let mut found = Vec::new();
    for chunk in chunks(input, sizes) {
        buf.extend_from_slice(chunk);
        let mut pos = 0;
        loop {
            let (n, split) = splitter.split(&buf[pos..]);
            assert!(n <= buf.len() - pos);
            pos += n;
            match split {
                Split::Line { line, crlf } => {
                    assert!(
                        line.len() + 1 + usize::from(crlf) <= limit,
                        "line of {} bytes over the limit {limit}",
                        line.len()
                    );
                    assert!(!line.contains(&b'\n'));
                    found.push(Piece::Line(line.to_vec(), crlf));
                }
                Split::TooLong => found.push(Piece::TooLong),
                Split::Incomplete if n == 0 => break,
                Split::Incomplete => {}
            }
        }
        buf.drain(..pos);
        assert!(
            buf.len() < limit,
            "{} bytes buffered, limit {limit}",
            buf.len()
        );
    }
    found
}

/// The bounded line splitter: no line over the limit, less than one line buffered, and the
/// same lines whether the input arrives whole or in chunks.
///
/// Input: `[max, flags, size0, size1, payload...]`; flag bit 0 maps the payload into `a CR LF`.
pub fn fuzz_line_splitter(data: &[u8]) {
    let (h, rest) = header::<4>(data);
    let max = h[0] as usize;
    let input = if h[1] & 1 == 1 {
        into_alphabet(rest, LINE_ALPHABET)
    } else {
        rest.to_vec()
    };
    let whole = split_all(max, &input, &[0]);
    let chunked = split_all(max, &input, &h[2..4]);
    assert_eq!(whole, chunked, "whole and chunked splitting differ");
}

// ---------------------------------------------------------------------------------------------
// MIME structure
// ---------------------------------------------------------------------------------------------

/// Whole MIME lines and fragments, so short inputs build nested multiparts, digests and
/// encapsulated messages with broken and close delimiters.
const MIME_STRUCTURE_TOKENS: &[&[u8]] = &[
    b"Content-Type: multipart/mixed; boundary=a\r\n",
    b"Content-Type: multipart/digest; boundary=\"ab\"\r\n",
    b"Content-Type: message/rfc822\r\n",
    b"Content-Type: text/plain; charset*0*=utf-8''%41; charset*1=b\r\n",
    b"Content-Type: multipart/alternative; boundary*0=a; boundary*1=b\r\n",
    b"MIME-Version: 1.0\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Disposition: attachment; filename=\"x y\"\r\n",
    b"From: \"N\" <a@b.test>, g: c@d, (x) e;\r\n",
    b"To: <@r:u@h>, broken <\r\n",
    b"Subject: =?utf-8?q?a?= b\r\n",
    b"Date: Thu, 26 Nov 2026 18:29:11 +0000\r\n",
    b"References: <a@b> <c@d>\r\n",
    b" folded\r\n",
    b"\r\n",
    b"\n",
    b"\r",
    b"--a\r\n",
    b"--a--\r\n",
    b"--ab\r\n",
    b"--ab--\n",
    b"--a  \r\n",
    b"--",
    b"a",
    b"text\r\n",
    b"\0",
    b"\xff",
];

/// Limits small enough that short inputs reach every one of them.
fn tiny_mime_limits() -> MimeLimits {
    MimeLimits {
        max_header_bytes: 64,
        max_parts: 6,
        max_depth: 3,
        max_boundary_bytes: 8,
        max_field_bytes: 16,
        max_addresses: 3,
        max_params: 2,
        max_references: 2,
        max_text_bytes: 200,
    }
}

/// Parses `msg` fed in chunks of `sizes`, checking the parser's buffers after every chunk.
fn parse_in_chunks(limits: &MimeLimits, msg: &[u8], sizes: &[u8]) -> Summary {
    parse_stored_in_chunks(limits, 0, msg, sizes)
}

/// As [`parse_in_chunks`] for a message stored behind a trace prefix of `prefix_len` bytes.
fn parse_stored_in_chunks(
    limits: &MimeLimits,
    prefix_len: usize,
    msg: &[u8],
    sizes: &[u8],
) -> Summary {
    // Vec growth may double the header capture once past its limit.
    let bound = 2 * (limits.max_header_bytes + prefix_len + 1)
        + 2 * (limits.max_boundary_bytes + 4)
        + limits.max_boundary_bytes * (limits.max_depth + 1);
    let mut p = MimeParser::after_prefix(limits.clone(), prefix_len);
    for chunk in chunks(msg, sizes) {
        p.feed(chunk);
        assert!(
            p.buffered_bytes() <= bound,
            "{} bytes buffered, bound {bound}",
            p.buffered_bytes()
        );
    }
    p.finish()
}

/// Counts parts and checks depth and field caps below `part`.
fn check_mime_part(p: &Part, depth: usize, limits: &MimeLimits, parts: &mut usize) {
    *parts += 1;
    assert!(depth <= limits.max_depth, "part at depth {depth}");
    let m = &p.mime;
    for f in [
        &m.media_type,
        &m.subtype,
        &m.id,
        &m.description,
        &m.encoding,
        &m.md5,
        &m.location,
    ] {
        assert!(f.as_ref().is_none_or(|v| v.len() <= limits.max_field_bytes));
    }
    assert!(m.params.len() <= limits.max_params);
    match &p.body {
        PartBody::Single => {}
        PartBody::Multipart(children) => {
            for c in children {
                check_mime_part(c, depth + 1, limits, parts);
            }
        }
        PartBody::Message(msg) => {
            for list in [&msg.envelope.from, &msg.envelope.to, &msg.envelope.cc] {
                assert!(list.len() <= limits.max_addresses);
            }
            check_mime_part(&msg.root, depth + 1, limits, parts);
        }
    }
}

/// The streaming MIME parser: no panic; buffers within the limits after every chunk; the
/// same summary whole, in fuzzed chunks and byte by byte; offsets that nest (checked by
/// `decode`, which must round-trip); part count, depth and field caps kept; rendering never
/// panics; a trace prefix only moves offsets. Stored records that decode also round-trip.
///
/// Input: `[flags, size0, size1, payload...]`; flag bit 0 maps the payload to MIME tokens,
/// bit 1 selects tiny limits.
pub fn fuzz_mime_structure(data: &[u8]) {
    if let Some(s) = Summary::decode(data) {
        assert_eq!(Summary::decode(&s.encode()).as_ref(), Some(&s));
    }
    let (h, rest) = header::<3>(data);
    let msg = if h[0] & 1 == 1 {
        into_tokens(rest, MIME_STRUCTURE_TOKENS)
    } else {
        rest.to_vec()
    };
    let limits = if h[0] & 2 == 2 {
        tiny_mime_limits()
    } else {
        MimeLimits::default()
    };
    let whole = parse_in_chunks(&limits, &msg, &[0]);
    assert_eq!(whole.size, msg.len() as u64);
    assert_eq!(
        parse_in_chunks(&limits, &msg, &h[1..3]),
        whole,
        "whole and chunked parsing differ"
    );
    if msg.len() <= 4096 {
        assert_eq!(
            parse_in_chunks(&limits, &msg, &[1]),
            whole,
            "whole and bytewise parsing differ"
        );
    }
    assert_eq!(Summary::decode(&whole.encode()).as_ref(), Some(&whole));
    let mut parts = 0;
    check_mime_part(&whole.root, 0, &limits, &mut parts);
    assert!(parts <= limits.max_parts.max(1), "{parts} parts");
    let _ = crate::message::summary::render_reference_fetch(1, &msg, &whole);
    // A list's prefix: its envelope fields join the header's and meet the text budget last.
    let prefix = b"Return-Path: <a@b.test>\r\nReceived: from x\r\n\tby y; now\r\n\
        Reply-To: List <l@b.test>\r\nList-Id: <l.b.test>\r\n";
    let mut p = MimeParser::new(limits.clone());
    p.feed(&msg);
    let shifted = p.finish_with_prefix(prefix);
    let mut stored = prefix.to_vec();
    stored.extend_from_slice(&msg);
    assert_eq!(
        shifted,
        parse_stored_in_chunks(&limits, prefix.len(), &stored, &h[1..3]),
        "finish_with_prefix differs from parsing the stored bytes"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(chunks(b"abcdef", &[2, 0]), vec![&b"ab"[..], b"cdef"]);
        assert_eq!(chunks(b"abc", &[1]), vec![&b"a"[..], b"b", b"c"]);
        assert_eq!(stuff(b".a\r\n..\r\nb.\r\n."), b"..a\r\n...\r\nb.\r\n..");
        assert!(has_unstuffed_dot(b".a\r\n"));
        assert!(!has_unstuffed_dot(b"..a\r\n.\r\n"));
        assert!(!has_unstuffed_dot(b"a\r\n.\r"));
    }

    #[test]
    fn every_preamble_reaches_its_state() {
        for state in 0..PREAMBLES.len() as u8 {
            fuzz_smtp_server_session(&[state, 0, 0, 0, 0, 0, 0]);
            fuzz_smtp_server_session(&[state, 0b11_1110, 0xff, 0xff, 1, 7, 0, b'Q', b'\n']);
        }
    }
}

//! IMAP fuzz entry points: the server session's framing and state machine, the in-house parsers
//! of extended command syntax (LIST-EXTENDED, SEARCH RETURN, CREATE USE) with the LIST pattern
//! matcher, and modified UTF-7 mailbox names.

use super::{chunks, header, into_tokens, until};
use crate::proto::imap::extended::{is_list, parse_list, split_create_params, split_search_return};
use crate::proto::imap::response::Status;
use crate::proto::imap::{ConnState, Event, ImapSession, Request, SessionConfig, list, mutf7};
use crate::proto::line::Exchange;
use imap_codec::imap_types::command::CommandBody;

/// Small enough that default-sized (4 KiB) fuzz inputs cross every limit.
const MAX_COMMAND: usize = 256;
const MAX_APPEND: u64 = 1024;
const MAX_ERRORS: u32 = 5;

/// Valid dialogues that put the session in a state before the fuzzed bytes.
const PREAMBLES: [&[u8]; 4] = [
    b"",
    b"a LOGIN u p\r\n",
    b"a LOGIN u p\r\nb SELECT INBOX\r\n",
    b"a LOGIN u p\r\nb EXAMINE INBOX\r\n",
];

const IMAP_TOKENS: &[&[u8]] = &[
    b"a ",
    b"b ",
    b"* ",
    b"+ ",
    b"\r\n",
    b"\n",
    b"\r",
    b" ",
    b"(",
    b")",
    b"[",
    b"]",
    b"\"",
    b"\\",
    b"{",
    b"}",
    b"{0}\r\n",
    b"{5}\r\n",
    b"{5+}\r\n",
    b"{9999}\r\n",
    b"{300+}\r\n",
    b"~{3}\r\n",
    b"0",
    b"1",
    b"5",
    b"1:*",
    b"*",
    b"%",
    b"hello",
    b"INBOX",
    b"\"\"",
    b"LOGIN u p",
    b"AUTHENTICATE PLAIN",
    b"AUTHENTICATE PLAIN AHUAcA==",
    b"AHUAcA==",
    b"CAPABILITY",
    b"NOOP",
    b"LOGOUT",
    b"STARTTLS",
    b"COMPRESS DEFLATE",
    b"ENABLE QRESYNC UTF8=ACCEPT",
    b"ID NIL",
    b"SELECT INBOX",
    b"EXAMINE INBOX",
    b" (QRESYNC (1 2 1:3))",
    b" (CONDSTORE)",
    b"CREATE x",
    b"CREATE x (USE (\\Sent))",
    b"DELETE x",
    b"RENAME x y",
    b"SUBSCRIBE x",
    b"LIST \"\" *",
    b"LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (% x/*) RETURN (CHILDREN STATUS (MESSAGES))",
    b"LSUB \"\" %",
    b"STATUS INBOX (MESSAGES UIDNEXT SIZE)",
    b"APPEND INBOX ",
    b"APPEND INBOX (\\Seen) \"01-Jan-2020 00:00:00 +0000\" ",
    b"IDLE",
    b"DONE",
    b"CHECK",
    b"CLOSE",
    b"UNSELECT",
    b"EXPUNGE",
    b"UID ",
    b"SEARCH ",
    b"SEARCH RETURN (MIN MAX COUNT ALL) ",
    b"ALL",
    b"TEXT x",
    b"OR SEEN NOT DELETED",
    b"SORT (DATE) UTF-8 ALL",
    b"THREAD REFERENCES UTF-8 ALL",
    b"FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (Subject)] BINARY[1]<0.5>)",
    b"FETCH 1 BODY[]",
    b"STORE 1 +FLAGS.SILENT (\\Deleted)",
    b"COPY 1 x",
    b"MOVE 1:2 x",
    b"&AOk-",
    b"\xc3\xa9",
    b"\xff",
    b"\0",
];

/// What the driver saw, in order; the chunking comparison runs on this.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// One output line (continuation requests are left out: whether a synchronising literal
    /// needs one depends on whether its data already arrived).
    Line(String),
    Command(String, String),
    AppendStart(u64),
    /// Consecutive data events are merged.
    AppendData(Vec<u8>),
    AppendEnd,
    AppendAbort,
    Sasl(Option<Vec<u8>>),
    IdleDone,
    StartTls,
    Compress,
    Close,
}

/// The command's name for the transcript.
fn request_name(request: &Request) -> String {
    match request {
        Request::Codec(body) => body.name().to_string(),
        Request::List(l) => (if l.lsub { "LSUB" } else { "LIST" }).to_string(),
        Request::Search { .. } => "ESEARCH".to_string(),
        Request::Create { .. } => "CREATE USE".to_string(),
    }
}

/// A driver as `conn::imap` is, answering from a tape of decision bits.
struct Run {
    session: ImapSession,
    tape: u16,
    tape_pos: u32,
    accept_all: bool,
    transcript: Vec<Seen>,
    fed: usize,
    events: usize,
    held_bound: usize,
    /// An accepted APPEND: announced length and bytes seen.
    append: Option<(u64, u64)>,
    closed: bool,
}

impl Run {
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
        self.held_bound = MAX_COMMAND + chunk.len();
        self.check_buffer();
    }

    fn check_buffer(&self) {
        assert!(
            self.session.buffered_input() <= self.held_bound,
            "input buffer {} > command limit + read {}",
            self.session.buffered_input(),
            self.held_bound
        );
    }

    /// Moves the output into the transcript, checking it is whole CRLF lines of the right form.
    fn flush(&mut self) {
        let out = self.session.output();
        assert!(
            out.is_empty() || out.ends_with(b"\r\n"),
            "output is not whole lines: {:?}",
            String::from_utf8_lossy(out)
        );
        let mut lines = Vec::new();
        for line in out.split_inclusive(|&b| b == b'\n') {
            let body = line
                .strip_suffix(b"\r\n")
                .unwrap_or_else(|| panic!("line without CRLF: {line:?}"));
            assert!(
                body.starts_with(b"* ") || body.starts_with(b"+ ") || body.contains(&b' '),
                "malformed response line {:?}",
                String::from_utf8_lossy(body)
            );
            assert!(
                !body.contains(&b'\r') && !body.contains(&b'\n') && !body.contains(&0),
                "control characters in {:?}",
                String::from_utf8_lossy(body)
            );
            if !body.starts_with(b"+ ") {
                lines.push(Seen::Line(String::from_utf8_lossy(body).into_owned()));
            }
        }
        self.transcript.extend(lines);
        self.session.clear_output();
    }

    /// Answers events until the session needs input or closes.
    fn pump(&mut self) {
        while !self.closed {
            self.events += 1;
            assert!(
                self.events <= 4 * self.fed + 16,
                "{} events for {} input bytes: the session does not progress",
                self.events,
                self.fed
            );
            let state = self.session.state();
            let mut command = None;
            let seen = match self.session.next_event() {
                Event::NeedInput => None,
                Event::Command { tag, request } => {
                    let seen = Seen::Command(tag.clone(), request_name(&request));
                    command = Some((tag, request));
                    Some(seen)
                }
                Event::AppendStart(a) => Some(Seen::AppendStart(a.length)),
                Event::AppendData(bytes) => Some(Seen::AppendData(bytes.to_vec())),
                Event::AppendEnd => Some(Seen::AppendEnd),
                Event::AppendAbort => Some(Seen::AppendAbort),
                Event::SaslResponse(r) => Some(Seen::Sasl(r)),
                Event::IdleDone => Some(Seen::IdleDone),
                Event::StartTls => Some(Seen::StartTls),
                Event::Compress => Some(Seen::Compress),
                Event::Close => Some(Seen::Close),
            };
            self.check_buffer();
            // Lines the session wrote on its own (refusals, STARTTLS's OK) precede the event.
            self.flush();
            let Some(seen) = seen else {
                return;
            };
            match command {
                Some((tag, request)) => self.command(state, tag, request),
                None => self.answer(&seen),
            }
            match (self.transcript.last_mut(), seen) {
                (Some(Seen::AppendData(prev)), Seen::AppendData(more)) => {
                    prev.extend_from_slice(&more)
                }
                (_, seen) => self.transcript.push(seen),
            }
            // The driver's answer (tagged lines) follows the event.
            self.flush();
        }
    }

    /// Checks a command against the state it arrived in and executes the state changes the
    /// driver would.
    fn command(&mut self, state: ConnState, tag: String, request: Request) {
        assert!(
            !tag.is_empty() && tag.bytes().all(|b| b.is_ascii_graphic() && b != b'+'),
            "bad tag {tag:?}"
        );
        assert!(self.append.is_none(), "command during APPEND");
        let authenticated = !matches!(state, ConnState::NotAuthenticated | ConnState::Logout);
        let selected = matches!(state, ConnState::Selected { .. });
        let name = request_name(&request);
        let ok = self.decide();
        match request {
            Request::Codec(CommandBody::Login { .. }) => {
                assert!(!authenticated, "LOGIN when authenticated");
                if ok {
                    self.session.set_state(ConnState::Authenticated);
                    self.session.tagged(&tag, Status::Ok, None, "Logged in");
                } else {
                    self.session.tagged(&tag, Status::No, None, "Failed");
                }
            }
            Request::Codec(CommandBody::Authenticate { .. }) => {
                assert!(!authenticated, "AUTHENTICATE when authenticated");
                self.session.sasl_challenge(b"");
            }
            Request::Codec(CommandBody::Select { .. } | CommandBody::Examine { .. }) => {
                assert!(authenticated, "{name} before login");
                let read_only = name == "EXAMINE";
                self.session.set_state(if ok {
                    ConnState::Selected { read_only }
                } else {
                    ConnState::Authenticated
                });
                let status = if ok { Status::Ok } else { Status::No };
                self.session.tagged(&tag, status, None, "done");
            }
            Request::Codec(CommandBody::Close | CommandBody::Unselect) => {
                assert!(selected, "{name} without a mailbox");
                self.session.set_state(ConnState::Authenticated);
                self.session.tagged(&tag, Status::Ok, None, "done");
            }
            Request::Codec(CommandBody::Idle) => {
                assert!(authenticated, "IDLE before login");
                self.session.start_idle();
            }
            Request::Codec(
                CommandBody::Fetch { .. }
                | CommandBody::Store { .. }
                | CommandBody::Search { .. }
                | CommandBody::Sort { .. }
                | CommandBody::Thread { .. }
                | CommandBody::Copy { .. }
                | CommandBody::Move { .. }
                | CommandBody::Expunge
                | CommandBody::ExpungeUid { .. }
                | CommandBody::Check,
            )
            | Request::Search { .. } => {
                assert!(selected, "{name} without a mailbox");
                self.session.tagged(&tag, Status::Ok, None, "done");
            }
            Request::Codec(_) | Request::List(_) | Request::Create { .. } => {
                assert!(
                    authenticated || matches!(name.as_str(), "CAPABILITY" | "NOOP" | "ID"),
                    "{name} before login"
                );
                let status = if ok { Status::Ok } else { Status::No };
                self.session.tagged(&tag, status, None, "done");
            }
        }
    }

    fn answer(&mut self, seen: &Seen) {
        match seen {
            Seen::Line(_) | Seen::Command(..) => {}
            Seen::AppendStart(length) => {
                assert!(self.append.is_none(), "APPEND inside APPEND");
                assert!(*length <= MAX_APPEND, "APPEND over the limit announced");
                assert!(
                    !matches!(self.session.state(), ConnState::NotAuthenticated),
                    "APPEND before login"
                );
                if self.decide() {
                    self.session.accept_append();
                    self.append = Some((*length, 0));
                } else {
                    self.session
                        .reject_append(Status::No, Some("TRYCREATE"), "No");
                }
            }
            Seen::AppendData(bytes) => {
                let (length, got) = self.append.as_mut().expect("data outside APPEND");
                assert!(!bytes.is_empty(), "empty data event");
                *got += bytes.len() as u64;
                assert!(*got <= *length, "more APPEND data than announced");
            }
            Seen::AppendEnd => {
                let (length, got) = self.append.take().expect("APPEND end without start");
                assert_eq!(got, length, "APPEND ended early");
                let tag = self.session.append_tag().to_string();
                assert!(!tag.is_empty());
                let status = if self.decide() {
                    Status::Ok
                } else {
                    Status::No
                };
                self.session.finish_append(status, None, "done");
            }
            Seen::AppendAbort => {
                self.append.take().expect("APPEND abort without start");
            }
            Seen::Sasl(_) => {
                if self.decide() {
                    self.session.set_state(ConnState::Authenticated);
                }
                let tag = "s";
                self.session.tagged(tag, Status::Ok, None, "done");
            }
            Seen::IdleDone => {
                self.session
                    .tagged("i", Status::Ok, None, "IDLE terminated");
            }
            Seen::StartTls => {
                assert!(!self.session.tls(), "STARTTLS inside TLS");
                self.flush();
                // Nothing read before the handshake may survive it (CVE-2011-0411 class).
                assert_eq!(self.session.buffered_input(), 0, "pre-TLS input kept");
                self.session.tls_started();
                assert!(self.session.tls());
            }
            Seen::Compress => {
                self.flush();
                assert_eq!(self.session.buffered_input(), 0, "uncompressed input kept");
                self.session.compress_started();
            }
            Seen::Close => {
                assert!(self.session.is_closed());
                assert!(self.append.is_none(), "closed inside an APPEND");
                self.flush();
                self.closed = true;
            }
        }
    }
}

/// Runs a session over `payload` fed in chunks of `sizes`; returns the transcript.
fn run_session(state: usize, flags: u8, tape: u16, payload: &[u8], sizes: &[u8]) -> Vec<Seen> {
    let cfg = SessionConfig {
        max_command_bytes: MAX_COMMAND,
        max_append_bytes: MAX_APPEND,
        max_errors: MAX_ERRORS,
        starttls: flags & 4 != 0,
        tls_active: flags & 8 != 0,
        plaintext_auth: true,
        compress: flags & 16 != 0,
    };
    let mut run = Run {
        session: ImapSession::new(cfg),
        tape,
        tape_pos: 0,
        accept_all: true,
        transcript: Vec::new(),
        fed: 0,
        events: 0,
        held_bound: MAX_COMMAND,
        append: None,
        closed: false,
    };
    run.pump();
    if !PREAMBLES[state].is_empty() {
        run.feed(PREAMBLES[state]);
        run.pump();
    }
    let expected = match state {
        0 => ConnState::NotAuthenticated,
        1 => ConnState::Authenticated,
        s => ConnState::Selected { read_only: s == 3 },
    };
    assert_eq!(run.session.state(), expected, "preamble {state}");
    run.accept_all = false;
    for write in client_writes(payload) {
        for chunk in chunks(write, sizes) {
            if run.closed {
                break;
            }
            run.feed(chunk);
            run.pump();
        }
    }
    run.transcript
}

/// Splits the payload after every synchronising literal announcement (`{n}` CRLF): a client
/// waits there for the continuation request (RFC 9051 §4.3), so what follows arrives in a later
/// read. (Data that comes without waiting is treated as non-synchronising, which depends on
/// timing; the comparison of chunkings needs well-behaved writes.)
fn client_writes(payload: &[u8]) -> Vec<&[u8]> {
    let mut writes = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while let Some(n) = memchr::memmem::find(&payload[i..], b"}\r\n") {
        let close = i + n;
        let digits = payload[..close]
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits > 0 && close > digits && payload[close - digits - 1] == b'{' {
            writes.push(&payload[start..close + 3]);
            start = close + 3;
        }
        i = close + 3;
    }
    writes.push(&payload[start..]);
    writes
}

/// STARTTLS and COMPRESS end the comparable transcript: after either, the session has dropped
/// whatever the last read held, so what follows depends on how the input was split.
fn is_switch(s: &Seen) -> bool {
    matches!(s, Seen::StartTls | Seen::Compress)
}

/// Drives an [`ImapSession`] as the IMAP driver does.
///
/// Input: `[state, flags, tape0, tape1, size0, size1, size2, payload...]`. `state` picks a
/// preamble (not authenticated, authenticated, SELECTed, EXAMINEd); `flags` bits: 0 payload as
/// IMAP tokens, 2 STARTTLS offered, 3 already in TLS, 4 COMPRESS offered; the tape bits answer
/// commands, APPEND announcements and commits; the payload is fed in chunks of the three sizes.
///
/// Checks: output is whole CRLF lines without stray control characters; the input buffer stays
/// within one command plus one read; commands reach the driver only in states that allow them;
/// APPEND data matches the announced length and stays under the limit; nothing read before
/// STARTTLS or COMPRESS survives it; events are bounded by input bytes; and the session behaves
/// the same when the payload arrives in one read (up to the first STARTTLS or COMPRESS).
pub fn fuzz_imap_session(data: &[u8]) {
    let (h, rest) = header::<7>(data);
    let state = h[0] as usize % PREAMBLES.len();
    let flags = h[1];
    let tape = u16::from_le_bytes([h[2], h[3]]);
    let payload = if flags & 1 != 0 {
        into_tokens(rest, IMAP_TOKENS)
    } else {
        rest.to_vec()
    };
    let chunked = run_session(state, flags, tape, &payload, &h[4..7]);
    let whole = run_session(state, flags, tape, &payload, &[0]);
    assert_eq!(
        until(&chunked, is_switch),
        until(&whole, is_switch),
        "the session depends on how its input was split"
    );
}

/// The in-house parsers of extended syntax and the LIST matcher, on arbitrary command lines.
///
/// Input: `[selector, rest...]`. Checks: no panic; a LIST the parser accepts has patterns;
/// SEARCH RETURN rewriting yields a shorter command; and LIST pattern matching (name and
/// pattern split from the rest at the first NUL) agrees with itself on the canonical name and
/// terminates quickly whatever the wildcards.
pub fn fuzz_imap_parsers(data: &[u8]) {
    let (h, rest) = header::<1>(data);
    let line = if h[0] & 1 != 0 {
        into_tokens(rest, IMAP_TOKENS)
    } else {
        rest.to_vec()
    };
    if is_list(&line)
        && let Some(l) = parse_list(&line)
    {
        assert!(!l.patterns.is_empty(), "LIST without a pattern");
    }
    if let Some(Ok((_, rewritten))) = split_search_return(&line) {
        assert!(rewritten.len() < line.len() + 8, "SEARCH rewrite grew");
    }
    let _ = split_create_params(&line);
    let text = String::from_utf8_lossy(rest);
    let (pattern, name) = text.split_once('\0').unwrap_or((&text, "INBOX/a/b"));
    let pattern: String = pattern.chars().take(64).collect();
    let name: String = name.chars().take(128).collect();
    let m = list::matches(&pattern, &name);
    assert_eq!(
        m,
        list::matches(&pattern, &name),
        "matcher is not deterministic"
    );
    if !pattern.contains(['*', '%']) && list::canonical(&pattern) == list::canonical(&name) {
        assert!(
            list::matches(&list::canonical(&pattern), &list::canonical(&name)),
            "{pattern:?} does not match itself"
        );
    }
    let parents = list::parents(&name);
    assert!(parents.iter().all(|p| name.starts_with(p)));
}

/// Modified UTF-7 (RFC 3501 §5.1.3): decoding arbitrary bytes never panics, and whatever decodes
/// re-encodes to a form that decodes to the same name; any Unicode name round-trips.
pub fn fuzz_imap_mutf7(data: &[u8]) {
    if let Some(name) = mutf7::decode(data) {
        let again = mutf7::encode(&name);
        assert_eq!(
            mutf7::decode(again.as_bytes()).as_deref(),
            Some(name.as_str())
        );
    }
    let name = String::from_utf8_lossy(data);
    let wire = mutf7::encode(&name);
    assert!(wire.is_ascii(), "modified UTF-7 is ASCII: {wire:?}");
    assert_eq!(
        mutf7::decode(wire.as_bytes()).as_deref(),
        Some(&*name),
        "{name:?} does not round-trip"
    );
}

//! The IMAP server session (RFC 9051, RFC 3501) as a sans-IO state machine: framing of command
//! lines and literals, connection states, and the output buffer.
//!
//! Commands are decoded by imap-codec; this module decides when a command is complete, which
//! literals are accepted (continuation requests, LITERAL+/LITERAL- per RFC 7888), and streams the
//! message literal of APPEND out as events instead of buffering it, so memory per connection stays
//! bounded by `max_command_bytes` whatever the message size. The driver executes every command
//! (it owns the store access) and writes responses through the methods here; the session rejects
//! commands that are not allowed in the current state before the driver sees them.
//!
//! Invariants:
//! - buffered input never exceeds `max_command_bytes` plus one read;
//! - a literal is read only after a continuation request was sent (synchronising) or when the
//!   client announced it as non-synchronising within the advertised limits;
//! - a rejected command's literals are skipped by length, so literal bytes are never parsed as
//!   commands (the hazard imap-codec's fragmentizer documents);
//! - input received after STARTTLS or COMPRESS in the same read is discarded (RFC 9051 §6.2.1).

use super::extended::{ListCommand, SearchReturn};
use super::response::{self, Status};
use crate::proto::line::{Buffers, Exchange};
use imap_codec::CommandCodec;
use imap_codec::decode::Decoder;
use imap_codec::imap_types::IntoStatic;
use imap_codec::imap_types::command::{Command, CommandBody};
use imap_codec::imap_types::datetime::DateTime;
use imap_codec::imap_types::flag::Flag;
use imap_codec::imap_types::mailbox::Mailbox;

/// Bytes a discarded line keeps between reads: the longest literal announcement plus "\r".
const DISCARD_KEEP: usize = 24;

/// Limits and facts fixed for one session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Longest command in octets, inline literals included.
    pub max_command_bytes: usize,
    /// Largest message APPEND accepts (advertised as APPENDLIMIT).
    pub max_append_bytes: u64,
    /// Protocol errors before the session is closed.
    pub max_errors: u32,
    /// Whether STARTTLS can be offered.
    pub starttls: bool,
    /// Whether the connection is already inside TLS.
    pub tls_active: bool,
    /// Whether LOGIN/AUTHENTICATE are allowed without TLS (loopback, when configured).
    pub plaintext_auth: bool,
    /// Whether COMPRESS=DEFLATE is offered.
    pub compress: bool,
}

/// Connection state (RFC 9051 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// Before LOGIN/AUTHENTICATE.
    NotAuthenticated,
    /// Logged in, no mailbox selected.
    Authenticated,
    /// A mailbox is selected.
    Selected {
        /// Selected with EXAMINE (or read-only).
        read_only: bool,
    },
    /// After LOGOUT or BYE.
    Logout,
}

/// An APPEND whose message literal will be streamed.
#[derive(Debug, Clone)]
pub struct AppendStart {
    /// Command tag.
    pub tag: String,
    /// Destination mailbox.
    pub mailbox: Mailbox<'static>,
    /// Flags to set.
    pub flags: Vec<Flag<'static>>,
    /// INTERNALDATE to set.
    pub date: Option<DateTime>,
    /// Message size in octets.
    pub length: u64,
}

/// A command for the driver to execute.
#[derive(Debug)]
pub enum Request {
    /// Any command imap-codec decodes.
    Codec(CommandBody<'static>),
    /// LIST or LSUB, basic or extended.
    List(ListCommand),
    /// SEARCH with RETURN options (ESEARCH); `body` is the SEARCH without them.
    Search {
        /// The SEARCH command.
        body: CommandBody<'static>,
        /// Requested results.
        ret: SearchReturn,
    },
    /// CREATE with RFC 6154 USE attributes; `body` is the CREATE without them.
    Create {
        /// The CREATE command.
        body: CommandBody<'static>,
        /// The USE attributes as sent (`\\Archive`, ...).
        special_use: Vec<String>,
    },
}

/// What the session needs from its driver.
#[derive(Debug)]
pub enum Event<'a> {
    /// Send [`ImapSession::output`], then read and [`feed`](ImapSession::feed).
    NeedInput,
    /// A complete command allowed in the current state; execute it and answer with
    /// [`ImapSession::tagged`] (plus any untagged data).
    Command {
        /// Tag.
        tag: String,
        /// The decoded command.
        request: Request,
    },
    /// An APPEND announced its message: answer with `accept_append` or `reject_append`.
    AppendStart(AppendStart),
    /// The next bytes of the APPEND message.
    AppendData(&'a [u8]),
    /// The APPEND message ended and the command is complete: commit it and answer.
    AppendEnd,
    /// The APPEND failed after its data started (bad trailer, size): drop what was stored.
    /// The session has already answered.
    AppendAbort,
    /// A SASL response line for the running AUTHENTICATE (base64 text; `None` = cancelled).
    SaslResponse(Option<Vec<u8>>),
    /// The client ended IDLE with DONE.
    IdleDone,
    /// STARTTLS was accepted: send the output, do the handshake, then call `tls_started`.
    StartTls,
    /// COMPRESS was accepted: send the output, then compress both directions.
    Compress,
    /// Send the output and close the connection.
    Close,
}

#[derive(Debug)]
enum Mode {
    /// Reading a command.
    Command,
    /// A literal of the current command was accepted: wait until the buffer reaches `until`.
    Literal { until: usize },
    /// Dropping a rejected command: skip `literal` bytes, then continue to the end of its line.
    Discard { literal: u64 },
    /// An APPEND literal awaits the driver's decision.
    AppendDecision { length: u64, sync: bool },
    /// Streaming an accepted APPEND literal.
    AppendData { remaining: u64 },
    /// After the APPEND literal: the command must end with CRLF.
    AppendTrailer,
    /// Waiting for the driver to answer a command or event.
    Busy,
    /// AUTHENTICATE waits for a SASL response line.
    Sasl,
    /// IDLE waits for DONE.
    Idle,
    /// The session is over.
    Closed,
}

/// What one internal step produced.
enum Step {
    Continue,
    NeedInput,
    Command(String, Request),
    AppendStart(AppendStart),
    AppendData(usize, usize),
    AppendEnd,
    AppendAbort,
    Sasl(Option<Vec<u8>>),
    IdleDone,
    StartTls,
    Compress,
    Close,
}

/// The server side of one IMAP connection.
#[derive(Debug)]
pub struct ImapSession {
    cfg: SessionConfig,
    state: ConnState,
    mode: Mode,
    io: Buffers,
    errors: u32,
    tls: bool,
    compressed: bool,
    append_tag: String,
    /// Input offset where the data of the literal last sent a continuation request starts (so
    /// an empty synchronising literal gets exactly one).
    acked: Option<usize>,
    /// The line [`line_step`](Self::line_step) is reading has passed `max_command_bytes`.
    line_too_long: bool,
}

fn find_crlf(b: &[u8]) -> Option<usize> {
    memchr::memmem::find(b, b"\r\n")
}

/// If `line` ends with a literal announcement (`{n}`, `{n+}`, `~{n}`), returns (n, non-sync).
fn trailing_literal(line: &[u8]) -> Option<(u64, bool)> {
    let body = line.strip_suffix(b"}")?;
    let open = body.iter().rposition(|&b| b == b'{')?;
    let inner = &body[open + 1..];
    let (digits, nonsync) = match inner.strip_suffix(b"+") {
        Some(d) => (d, true),
        None => (inner, false),
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some((std::str::from_utf8(digits).ok()?.parse().ok()?, nonsync))
}

/// Feed only after [`Event::NeedInput`]. Input held is bounded by `max_command_bytes` plus one
/// read.
impl Exchange for ImapSession {
    fn buffers(&self) -> &Buffers {
        &self.io
    }

    fn buffers_mut(&mut self) -> &mut Buffers {
        &mut self.io
    }

    /// Adds bytes read from the client, dropping what was consumed; offsets into the input
    /// (a literal's end, the continuation mark) move with it.
    fn feed(&mut self, bytes: &[u8]) {
        let pos = self.io.pos;
        if pos > 0 {
            self.io.input.drain(..pos);
            if let Mode::Literal { until } = &mut self.mode {
                *until -= pos;
            }
            self.acked = self.acked.and_then(|a| a.checked_sub(pos));
            self.io.pos = 0;
        }
        self.io.input.extend_from_slice(bytes);
    }
}

impl ImapSession {
    /// Starts a session; the greeting is already in the output.
    pub fn new(cfg: SessionConfig) -> ImapSession {
        let mut s = ImapSession {
            tls: cfg.tls_active,
            cfg,
            state: ConnState::NotAuthenticated,
            mode: Mode::Command,
            io: Buffers::default(),
            errors: 0,
            compressed: false,
            append_tag: String::new(),
            acked: None,
            line_too_long: false,
        };
        let caps = format!("CAPABILITY {}", s.capabilities());
        response::status(
            &mut s.io.out,
            "*",
            Status::Ok,
            Some(&caps),
            "mailnook ready",
        );
        s
    }

    /// The connection state.
    pub fn state(&self) -> ConnState {
        self.state
    }

    /// Sets the connection state (after LOGIN, SELECT, CLOSE, ...).
    pub fn set_state(&mut self, state: ConnState) {
        self.state = state;
    }

    /// Whether the session is inside TLS.
    pub fn tls(&self) -> bool {
        self.tls
    }

    /// Whether bytes of an unfinished command are buffered (the driver bounds its duration).
    pub fn has_partial_input(&self) -> bool {
        self.io.pos < self.io.input.len()
    }

    /// Whether the session waits in IDLE.
    pub fn idling(&self) -> bool {
        matches!(self.mode, Mode::Idle)
    }

    /// Whether an APPEND message is streaming in (the data timeout applies).
    pub fn in_append(&self) -> bool {
        matches!(self.mode, Mode::AppendData { .. } | Mode::AppendTrailer)
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        matches!(self.mode, Mode::Closed)
    }

    /// The capability list for the current state (RFC 9051 §7.2.2).
    pub fn capabilities(&self) -> String {
        let mut caps = vec![
            "IMAP4rev1",
            "IMAP4rev2",
            "LITERAL+",
            "SASL-IR",
            "ID",
            "ENABLE",
            "IDLE",
            "NAMESPACE",
            "UNSELECT",
        ];
        match self.state {
            ConnState::NotAuthenticated => {
                if self.cfg.starttls && !self.tls {
                    caps.push("STARTTLS");
                }
                if self.tls || self.cfg.plaintext_auth {
                    caps.push("AUTH=PLAIN");
                } else {
                    caps.push("LOGINDISABLED");
                }
            }
            _ => {
                caps.extend([
                    "UIDPLUS",
                    "MOVE",
                    "SPECIAL-USE",
                    "CREATE-SPECIAL-USE",
                    "CHILDREN",
                    "LIST-EXTENDED",
                    "LIST-STATUS",
                ]);
                caps.extend([
                    "ESEARCH",
                    "CONDSTORE",
                    "QRESYNC",
                    "STATUS=SIZE",
                    "BINARY",
                    "SORT",
                    "THREAD=REFERENCES",
                ]);
                caps.push("THREAD=ORDEREDSUBJECT");
                // RFC 9208: one quota root per user, the empty name, with STORAGE only.
                caps.extend(["QUOTA", "QUOTA=RES-STORAGE"]);
                if self.cfg.compress {
                    caps.push("COMPRESS=DEFLATE");
                }
            }
        }
        let mut s = caps.join(" ");
        if !matches!(self.state, ConnState::NotAuthenticated) {
            s.push_str(&format!(
                " APPENDLIMIT={}",
                self.cfg.max_append_bytes.min(u64::from(u32::MAX))
            ));
        }
        s
    }

    /// Whether LOGIN/AUTHENTICATE may be used now (RFC 9051 §6.2.3: not before TLS).
    pub fn auth_allowed(&self) -> bool {
        self.tls || self.cfg.plaintext_auth
    }

    /// Appends untagged response bytes (a complete `* ...\r\n` line, literals included).
    pub fn untagged(&mut self, bytes: &[u8]) {
        self.io.out.extend_from_slice(bytes);
    }

    /// The output buffer, for writers that build responses in place.
    pub fn out_mut(&mut self) -> &mut Vec<u8> {
        &mut self.io.out
    }

    /// Completes the current command; NO and BAD count as errors.
    pub fn tagged(&mut self, tag: &str, status: Status, code: Option<&str>, text: &str) {
        response::status(&mut self.io.out, tag, status, code, text);
        if matches!(self.mode, Mode::Busy) {
            self.mode = Mode::Command;
        }
        if status == Status::Bad {
            self.count_error();
        }
    }

    fn count_error(&mut self) {
        self.errors += 1;
        if self.errors >= self.cfg.max_errors && !matches!(self.mode, Mode::Closed) {
            response::status(&mut self.io.out, "*", Status::Bye, None, "Too many errors");
            self.state = ConnState::Logout;
            self.mode = Mode::Closed;
        }
    }

    /// Ends the session with an untagged BYE (timeout, shutdown, LOGOUT).
    pub fn bye(&mut self, text: &str) {
        if !matches!(self.mode, Mode::Closed) {
            response::status(&mut self.io.out, "*", Status::Bye, None, text);
            self.state = ConnState::Logout;
            self.mode = Mode::Closed;
        }
    }

    /// The next thing the driver must do.
    pub fn next_event(&mut self) -> Event<'_> {
        let step = loop {
            match self.step() {
                Step::Continue => continue,
                s => break s,
            }
        };
        match step {
            Step::Continue => unreachable!("filtered by the loop"),
            Step::NeedInput => Event::NeedInput,
            Step::Command(tag, request) => Event::Command { tag, request },
            Step::AppendStart(a) => Event::AppendStart(a),
            Step::AppendData(a, b) => Event::AppendData(&self.io.input[a..b]),
            Step::AppendEnd => Event::AppendEnd,
            Step::AppendAbort => Event::AppendAbort,
            Step::Sasl(r) => Event::SaslResponse(r),
            Step::IdleDone => Event::IdleDone,
            Step::StartTls => Event::StartTls,
            Step::Compress => Event::Compress,
            Step::Close => Event::Close,
        }
    }

    fn step(&mut self) -> Step {
        match self.mode {
            Mode::Closed => Step::Close,
            Mode::Busy | Mode::AppendDecision { .. } => Step::NeedInput,
            Mode::Command => self.command_step(),
            Mode::Literal { until } => {
                if self.io.input.len() >= until {
                    self.mode = Mode::Command;
                    Step::Continue
                } else {
                    Step::NeedInput
                }
            }
            Mode::Discard { literal } => self.discard_step(literal),
            Mode::AppendData { remaining } => {
                let avail = (self.io.input.len() - self.io.pos) as u64;
                if avail == 0 {
                    return Step::NeedInput;
                }
                let take = remaining.min(avail).min(64 * 1024) as usize;
                let (a, b) = (self.io.pos, self.io.pos + take);
                self.io.pos = b;
                let left = remaining - take as u64;
                self.mode = if left == 0 {
                    Mode::AppendTrailer
                } else {
                    Mode::AppendData { remaining: left }
                };
                Step::AppendData(a, b)
            }
            Mode::AppendTrailer => {
                let avail = &self.io.input[self.io.pos..];
                match find_crlf(avail) {
                    Some(0) => {
                        self.io.pos += 2;
                        self.mode = Mode::Busy;
                        Step::AppendEnd
                    }
                    Some(n) => {
                        // MULTIAPPEND is not offered: anything after the literal is an error.
                        let rest = avail[..n].to_vec();
                        self.io.pos += n + 2;
                        let tag = std::mem::take(&mut self.append_tag);
                        self.mode = Mode::Command;
                        if let Some((len, true)) = trailing_literal(&rest) {
                            self.mode = Mode::Discard { literal: len };
                        }
                        self.tagged(&tag, Status::Bad, None, "Unexpected data after the message");
                        Step::AppendAbort
                    }
                    None if avail.len() > self.cfg.max_command_bytes => {
                        self.skip_to_tail();
                        let tag = std::mem::take(&mut self.append_tag);
                        self.mode = Mode::Discard { literal: 0 };
                        self.tagged(&tag, Status::Bad, None, "Unexpected data after the message");
                        Step::AppendAbort
                    }
                    None => Step::NeedInput,
                }
            }
            Mode::Sasl => self.line_step(|s, line| {
                s.mode = Mode::Busy;
                if line == b"*" {
                    return Step::Sasl(None);
                }
                Step::Sasl(Some(line.to_vec()))
            }),
            Mode::Idle => self.line_step(|s, line| {
                s.mode = Mode::Busy;
                // RFC 2177: only DONE ends IDLE; anything else is an error and ends it too.
                if !line.eq_ignore_ascii_case(b"DONE") {
                    s.count_error();
                }
                Step::IdleDone
            }),
        }
    }

    /// Takes one CRLF-terminated line (bounded) and hands it to `f`; a line longer than
    /// `max_command_bytes` (CRLF included, as for commands) is dropped as it arrives and handed over empty once it has ended,
    /// whatever the reads were.
    fn line_step(&mut self, f: impl FnOnce(&mut Self, &[u8]) -> Step) -> Step {
        let avail = &self.io.input[self.io.pos..];
        match find_crlf(avail) {
            Some(n) => {
                let too_long =
                    std::mem::take(&mut self.line_too_long) || n + 2 > self.cfg.max_command_bytes;
                let line = if too_long {
                    Vec::new()
                } else {
                    avail[..n].to_vec()
                };
                self.io.pos += n + 2;
                f(self, &line)
            }
            None if self.line_too_long || avail.len() > self.cfg.max_command_bytes => {
                self.line_too_long = true;
                self.skip_to_tail();
                Step::NeedInput
            }
            None => Step::NeedInput,
        }
    }

    fn discard_step(&mut self, literal: u64) -> Step {
        let avail = (self.io.input.len() - self.io.pos) as u64;
        if literal > 0 {
            if avail == 0 {
                return Step::NeedInput;
            }
            let skip = literal.min(avail);
            self.io.pos += skip as usize;
            self.mode = Mode::Discard {
                literal: literal - skip,
            };
            return Step::Continue;
        }
        match find_crlf(&self.io.input[self.io.pos..]) {
            Some(n) => {
                let line_end = self.io.pos + n;
                let next = trailing_literal(&self.io.input[self.io.pos..line_end]);
                self.io.pos = line_end + 2;
                self.mode = match next {
                    // A non-synchronising literal follows anyway: skip it too.
                    Some((len, true)) => Mode::Discard { literal: len },
                    _ => Mode::Command,
                };
                Step::Continue
            }
            None => {
                self.skip_to_tail();
                Step::NeedInput
            }
        }
    }

    /// Consumes the buffered input of a line being dropped (no CRLF after `pos`) except what
    /// could still become its end: a literal announcement (`{` 20 digits `+}`) and a partial
    /// "\r", so the outcome does not depend on how the line was split into reads.
    fn skip_to_tail(&mut self) {
        let keep = (self.io.input.len() - self.io.pos).min(DISCARD_KEEP);
        self.io.pos = self.io.input.len() - keep;
    }

    fn bad_and_discard(
        &mut self,
        tag: Option<&str>,
        text: &str,
        pending_literal: Option<(u64, bool)>,
    ) -> Step {
        self.tagged(tag.unwrap_or("*"), Status::Bad, None, text);
        if matches!(self.mode, Mode::Closed) {
            return Step::Continue;
        }
        self.mode = match pending_literal {
            // A synchronising literal is never sent once refused: the line ended at its
            // announcement.
            Some((_, false)) => Mode::Command,
            Some((len, true)) => Mode::Discard { literal: len },
            None => Mode::Discard { literal: 0 },
        };
        Step::Continue
    }

    fn command_step(&mut self) -> Step {
        let buf = &self.io.input[self.io.pos..];
        if buf.is_empty() {
            return Step::NeedInput;
        }
        // An APPEND's message literal is streamed, whether or not its data is already here.
        if let Some((header_end, length, nonsync, append)) = self.find_append(buf) {
            let tag = append.tag.clone();
            // A synchronising literal whose data is already here was sent without waiting for
            // the continuation request: treat it as non-synchronising (RFC 7888), so a refusal
            // skips it instead of parsing message bytes as commands.
            let nonsync = nonsync || buf.len() > header_end + 2;
            self.io.pos += header_end + 2;
            let refusal = if !matches!(
                self.state,
                ConnState::Authenticated | ConnState::Selected { .. }
            ) {
                // RFC 9051 §6.3.12: APPEND belongs to the authenticated and selected states.
                Some((Status::Bad, None, "Log in first"))
            } else if length > self.cfg.max_append_bytes {
                // RFC 7889 §4: over APPENDLIMIT.
                Some((Status::No, Some("TOOBIG"), "Message too large"))
            } else {
                None
            };
            if let Some((status, code, text)) = refusal {
                self.tagged(&tag, status, code, text);
                if nonsync && !matches!(self.mode, Mode::Closed) {
                    self.mode = Mode::Discard { literal: length };
                }
                return Step::Continue;
            }
            self.append_tag = tag;
            self.mode = Mode::AppendDecision {
                length,
                sync: !nonsync,
            };
            return Step::AppendStart(append);
        }
        let acked = self.acked.and_then(|a| a.checked_sub(self.io.pos));
        match scan(buf, acked) {
            Scan::Partial { line_start } => {
                if buf.len() > self.cfg.max_command_bytes {
                    let tag = guess_tag(buf);
                    // Drop the command up to its current line, whose end decides what follows
                    // (a trailing literal to skip); earlier lines and literals are done with.
                    self.io.pos += line_start;
                    self.skip_to_tail();
                    return self.bad_and_discard(tag.as_deref(), "Command too long", None);
                }
                Step::NeedInput
            }
            Scan::InLiteral {
                data_start,
                length,
                nonsync,
            } => {
                let tag = guess_tag(buf).unwrap_or_else(|| "*".to_string());
                let already = buf.len() - data_start;
                let abs_data = self.io.pos + data_start;
                let room = self.cfg.max_command_bytes.saturating_sub(data_start) as u64;
                // An announcement line already past the limit is refused even for `{0}`: the
                // same answer as when the limit is noticed before the line's CRLF arrives.
                if data_start > self.cfg.max_command_bytes || length > room {
                    // Skip the part of the literal already here, then the rest as it comes.
                    self.io.pos = abs_data + already;
                    let pending = Some((length - already as u64, nonsync || already > 0));
                    return self.bad_and_discard(Some(&tag), "Command too long", pending);
                }
                // RFC 7888: LITERAL+ literals need no continuation request.
                if !nonsync && already == 0 {
                    self.io
                        .out
                        .extend_from_slice(b"+ Ready for literal data\r\n");
                    self.acked = Some(abs_data);
                }
                self.mode = Mode::Literal {
                    until: abs_data + length as usize,
                };
                Step::Continue
            }
            Scan::Complete(end) if end > self.cfg.max_command_bytes => {
                // Everything arrived in one read, literals included: still over the limit (the same
                // answer as when the limit is noticed part way, whatever the reads were).
                let tag = guess_tag(buf);
                self.io.pos += end;
                self.tagged(
                    tag.as_deref().unwrap_or("*"),
                    Status::Bad,
                    None,
                    "Command too long",
                );
                Step::Continue
            }
            Scan::Complete(end) => {
                let command = buf[..end].to_vec();
                self.io.pos += end;
                self.decode_complete(&command)
            }
        }
    }

    /// Decodes one complete command (literals included).
    fn decode_complete(&mut self, command: &[u8]) -> Step {
        let tag = guess_tag(command);
        if super::extended::is_list(command) {
            return match (tag, super::extended::parse_list(command)) {
                (Some(tag), Some(cmd)) => self.dispatch(tag, Request::List(cmd)),
                (tag, _) => {
                    // RFC 9051 §9: a tag is ASTRING-CHARs other than "+"; without one, the
                    // answer is untagged.
                    let tag = tag.as_deref().unwrap_or("*");
                    self.tagged(tag, Status::Bad, None, "LIST syntax error");
                    Step::Continue
                }
            };
        }
        let decode = |c: &[u8]| {
            CommandCodec::default()
                .decode(c)
                .map(|(_, c)| c.into_static())
                .map_err(|_| ())
        };
        let (search_return, decoded) = match super::extended::split_search_return(command) {
            Some(Ok((ret, rewritten))) => (Some(ret), decode(&rewritten)),
            Some(Err(())) => (None, Err(())),
            None => (None, decode(command)),
        };
        // RFC 6154 §3: CREATE mailbox (USE (...)).
        let (create_use, decoded) = match super::extended::split_create_params(command) {
            Some(Ok((uses, rewritten))) => (Some(uses), decode(&rewritten)),
            Some(Err(())) => (None, Err(())),
            None => (None, decoded),
        };
        match decoded {
            Ok(cmd) => {
                let tag = String::from_utf8_lossy(cmd.tag.inner().as_bytes()).into_owned();
                let request = match (search_return, create_use) {
                    (Some(ret), _) => Request::Search {
                        body: cmd.body,
                        ret,
                    },
                    (None, Some(special_use)) => Request::Create {
                        body: cmd.body,
                        special_use,
                    },
                    (None, None) => Request::Codec(cmd.body),
                };
                self.dispatch(tag, request)
            }
            Err(()) => {
                self.tagged(
                    tag.as_deref().unwrap_or("*"),
                    Status::Bad,
                    None,
                    "Command syntax error",
                );
                Step::Continue
            }
        }
    }

    /// The message literal of an APPEND at the start of `buf`: (end of the announcing line,
    /// length, non-synchronising, decoded arguments). The message is the first literal whose
    /// preceding bytes parse as APPEND arguments; only the mailbox name can come as a literal
    /// before it, so at most the first two literals are tried.
    fn find_append(&self, buf: &[u8]) -> Option<(usize, u64, bool, AppendStart)> {
        if !is_append(buf) {
            return None;
        }
        let tag = guess_tag(buf).unwrap_or_else(|| "*".to_string());
        (0..2).find_map(|n| {
            let (header_end, length, nonsync) = nth_literal(buf, n)?;
            let append = self.as_append(&tag, &buf[..header_end], length)?;
            Some((header_end, length, nonsync, append))
        })
    }

    /// If `header` (the command up to a literal announcement) is an APPEND whose message is that
    /// literal, decodes its arguments.
    fn as_append(&self, tag: &str, header: &[u8], length: u64) -> Option<AppendStart> {
        let open = header.iter().rposition(|&b| b == b'{')?;
        // `~{n}` (RFC 3516 literal8) keeps its `~`: the probe announces an empty literal alike.
        let mut probe = header[..open].to_vec();
        probe.extend_from_slice(b"{0}\r\n\r\n");
        match CommandCodec::default().decode(&probe) {
            Ok((
                [],
                Command {
                    body:
                        CommandBody::Append {
                            mailbox,
                            flags,
                            date,
                            ..
                        },
                    ..
                },
            )) => Some(AppendStart {
                tag: tag.to_string(),
                mailbox: mailbox.into_static(),
                flags: flags.into_iter().map(IntoStatic::into_static).collect(),
                date,
                length,
            }),
            _ => None,
        }
    }

    /// The driver accepts the announced APPEND message.
    pub fn accept_append(&mut self) {
        if let Mode::AppendDecision { length, sync } = self.mode {
            if sync {
                self.io
                    .out
                    .extend_from_slice(b"+ Ready for literal data\r\n");
            }
            self.mode = if length == 0 {
                Mode::AppendTrailer
            } else {
                Mode::AppendData { remaining: length }
            };
        }
    }

    /// The driver refuses the announced APPEND before its data (e.g. no such mailbox).
    pub fn reject_append(&mut self, status: Status, code: Option<&str>, text: &str) {
        if let Mode::AppendDecision { length, sync } = self.mode {
            let tag = std::mem::take(&mut self.append_tag);
            self.mode = Mode::Command;
            self.tagged(&tag, status, code, text);
            if !sync && !matches!(self.mode, Mode::Closed) {
                // RFC 7888: a non-synchronising literal arrives anyway; skip it and the line end.
                self.mode = Mode::Discard { literal: length };
            }
        }
    }

    /// The tag of the APPEND being streamed (for the driver's final answer).
    pub fn append_tag(&self) -> &str {
        &self.append_tag
    }

    /// Completes the APPEND after [`Event::AppendEnd`].
    pub fn finish_append(&mut self, status: Status, code: Option<&str>, text: &str) {
        let tag = std::mem::take(&mut self.append_tag);
        self.mode = Mode::Busy;
        self.tagged(&tag, status, code, text);
    }

    /// Starts IDLE (RFC 2177): sends the continuation request and waits for DONE.
    pub fn start_idle(&mut self) {
        self.io.out.extend_from_slice(b"+ idling\r\n");
        self.mode = Mode::Idle;
    }

    /// Sends a SASL challenge (base64 text, may be empty) and waits for the response line.
    pub fn sasl_challenge(&mut self, challenge: &[u8]) {
        self.io.out.extend_from_slice(b"+ ");
        self.io.out.extend_from_slice(challenge);
        self.io.out.extend_from_slice(b"\r\n");
        self.mode = Mode::Sasl;
    }

    /// The TLS handshake after [`Event::StartTls`] succeeded.
    pub fn tls_started(&mut self) {
        self.tls = true;
        self.io.input.clear();
        self.io.pos = 0;
        self.acked = None;
        self.line_too_long = false;
        self.mode = Mode::Command;
    }

    /// Compression is on after [`Event::Compress`].
    pub fn compress_started(&mut self) {
        self.compressed = true;
        self.io.input.clear();
        self.io.pos = 0;
        self.acked = None;
        self.line_too_long = false;
        self.mode = Mode::Command;
    }

    /// Routes a decoded command: state checks here, execution in the driver.
    fn dispatch(&mut self, tag: String, request: Request) -> Step {
        let state = self.state;
        let selected = matches!(state, ConnState::Selected { .. });
        let authenticated = !matches!(state, ConnState::NotAuthenticated | ConnState::Logout);
        use CommandBody as C;
        let body = match request {
            Request::Codec(body) => body,
            other => {
                let ok = match &other {
                    Request::List(_) | Request::Create { .. } => authenticated,
                    _ => selected,
                };
                if !ok {
                    let text = if authenticated {
                        "No mailbox selected"
                    } else {
                        "Log in first"
                    };
                    self.tagged(&tag, Status::Bad, None, text);
                    return Step::Continue;
                }
                self.mode = Mode::Busy;
                return Step::Command(tag, other);
            }
        };
        // RFC 9051 §3, §6 (RFC 9208 §4 for the QUOTA commands): the states each command belongs
        // to. Every command imap-codec decodes with the features enabled is listed, so a new one
        // fails to compile here until its state is decided.
        let in_selected = || match state {
            ConnState::NotAuthenticated | ConnState::Logout => Some("Log in first"),
            ConnState::Authenticated => Some("No mailbox selected"),
            ConnState::Selected { .. } => None,
        };
        let refusal = match &body {
            C::Capability | C::Noop | C::Logout | C::Id { .. } => None,
            C::StartTLS | C::Login { .. } | C::Authenticate { .. } => {
                authenticated.then_some("Already authenticated")
            }
            // RFC 5161 §3.1: ENABLE only before a mailbox is selected.
            C::Enable { .. } if selected => Some("ENABLE is only allowed before SELECT"),
            C::Enable { .. }
            | C::Select { .. }
            | C::Examine { .. }
            | C::Namespace
            | C::Create { .. }
            | C::Delete { .. }
            | C::Rename { .. }
            | C::Subscribe { .. }
            | C::Unsubscribe { .. }
            | C::List { .. }
            | C::Lsub { .. }
            | C::Status { .. }
            | C::Append { .. }
            | C::Idle
            | C::GetQuota { .. }
            | C::GetQuotaRoot { .. }
            | C::SetQuota { .. }
            | C::Compress { .. } => (!authenticated).then_some("Log in first"),
            C::Check
            | C::Close
            | C::Unselect
            | C::Expunge
            | C::ExpungeUid { .. }
            | C::Search { .. }
            | C::Sort { .. }
            | C::Thread { .. }
            | C::Fetch { .. }
            | C::Store { .. }
            | C::Copy { .. }
            | C::Move { .. } => in_selected(),
        };
        if let Some(text) = refusal {
            self.tagged(&tag, Status::Bad, None, text);
            return Step::Continue;
        }
        match body {
            C::Capability => {
                let caps = format!("* CAPABILITY {}\r\n", self.capabilities());
                self.io.out.extend_from_slice(caps.as_bytes());
                self.tagged(&tag, Status::Ok, None, "CAPABILITY completed");
                Step::Continue
            }
            C::StartTLS => {
                if self.tls || !self.cfg.starttls {
                    self.tagged(&tag, Status::Bad, None, "STARTTLS not available");
                    return Step::Continue;
                }
                self.tagged(&tag, Status::Ok, None, "Begin TLS negotiation now");
                self.io.input.truncate(self.io.pos);
                Step::StartTls
            }
            C::Compress { .. } if !self.cfg.compress => {
                self.tagged(&tag, Status::Bad, None, "COMPRESS not available");
                Step::Continue
            }
            C::Compress { .. } if self.compressed => {
                // RFC 4978 §3: a second COMPRESS is refused and compression stays as it is.
                self.tagged(
                    &tag,
                    Status::No,
                    Some("COMPRESSIONACTIVE"),
                    "DEFLATE already active",
                );
                Step::Continue
            }
            C::Compress { .. } => {
                self.tagged(&tag, Status::Ok, None, "DEFLATE active");
                self.io.input.truncate(self.io.pos);
                Step::Compress
            }
            C::Logout => {
                response::status(&mut self.io.out, "*", Status::Bye, None, "Logging out");
                self.tagged(&tag, Status::Ok, None, "LOGOUT completed");
                self.state = ConnState::Logout;
                self.mode = Mode::Closed;
                Step::Continue
            }
            body => {
                self.mode = Mode::Busy;
                Step::Command(tag, Request::Codec(body))
            }
        }
    }
}

/// How much of a command the buffer holds.
#[derive(Debug, PartialEq, Eq)]
enum Scan {
    /// The command's current line, which starts at this offset (after the last literal), is
    /// not complete.
    Partial { line_start: usize },
    /// The buffer ends inside (or right at the start of) a literal's data.
    InLiteral {
        /// Where the literal data starts.
        data_start: usize,
        /// Announced length.
        length: u64,
        /// `{n+}`: non-synchronising.
        nonsync: bool,
    },
    /// A complete command of this many bytes (final CRLF included).
    Complete(usize),
}

/// The `n`-th (0-based) literal announcement of the command at the start of `buf`, if the
/// buffer reaches it: (end of the announcing line, length, non-synchronising).
fn nth_literal(buf: &[u8], n: usize) -> Option<(usize, u64, bool)> {
    let mut start = 0;
    for i in 0..=n {
        let line_end = start + find_crlf(buf.get(start..)?)?;
        let (length, nonsync) = trailing_literal(&buf[start..line_end])?;
        if i == n {
            return Some((line_end, length, nonsync));
        }
        start = usize::try_from((line_end as u64 + 2).checked_add(length)?).ok()?;
    }
    None
}

/// Whether the command at the start of `buf` is `tag SP APPEND SP ...` (a cheap test before
/// decoding).
fn is_append(buf: &[u8]) -> bool {
    let Some(sp) = buf.iter().position(|&b| b == b' ') else {
        return false;
    };
    buf.get(sp + 1..sp + 8)
        .is_some_and(|w| w.eq_ignore_ascii_case(b"APPEND "))
}

/// Walks the lines and literals of the command at the start of `buf`; `acked` is where the data
/// of a literal already sent its continuation request starts.
fn scan(buf: &[u8], acked: Option<usize>) -> Scan {
    let mut start = 0;
    loop {
        let Some(rel) = find_crlf(&buf[start..]) else {
            return Scan::Partial { line_start: start };
        };
        let n = start + rel;
        match trailing_literal(&buf[start..n]) {
            Some((length, nonsync)) => {
                let data_start = n + 2;
                let end = (data_start as u64).saturating_add(length);
                // RFC 9051 §4.3: the client waits for "+" before the data of a synchronising
                // literal, even an empty one.
                let unacked = !nonsync && data_start == buf.len() && acked != Some(data_start);
                if end > buf.len() as u64 || unacked {
                    return Scan::InLiteral {
                        data_start,
                        length,
                        nonsync,
                    };
                }
                start = end as usize;
            }
            None => return Scan::Complete(n + 2),
        }
    }
}

/// The tag of a malformed command line, if it starts with a valid tag (RFC 9051 §9 `tag`).
fn guess_tag(line: &[u8]) -> Option<String> {
    let end = line
        .iter()
        .position(|&b| matches!(b, b' ' | b'\r' | b'\n'))
        .unwrap_or(line.len());
    let tag = &line[..end];
    let valid = !tag.is_empty()
        && tag.len() <= 64
        && tag
            .iter()
            .all(|&b| b > 0x20 && b < 0x7f && !b"(){%*\"\\+".contains(&b));
    valid.then(|| String::from_utf8_lossy(tag).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> SessionConfig {
        SessionConfig {
            max_command_bytes: 200,
            max_append_bytes: 1000,
            max_errors: 5,
            starttls: true,
            tls_active: false,
            plaintext_auth: false,
            compress: true,
        }
    }

    fn drain(s: &mut ImapSession) -> String {
        let out = String::from_utf8_lossy(s.output()).into_owned();
        s.clear_output();
        out
    }

    #[test]
    fn greets_and_answers_capability_then_refuses_commands_before_login() {
        let mut s = ImapSession::new(cfg());
        let greeting = drain(&mut s);
        assert!(
            greeting.starts_with("* OK [CAPABILITY IMAP4rev1 IMAP4rev2 "),
            "{greeting}"
        );
        assert!(
            greeting.contains("STARTTLS") && greeting.contains("LOGINDISABLED"),
            "{greeting}"
        );
        s.feed(b"a1 CAPABILITY\r\na2 SELECT INBOX\r\n");
        assert!(matches!(s.next_event(), Event::NeedInput));
        let out = drain(&mut s);
        assert!(out.contains("a1 OK CAPABILITY completed\r\n"), "{out}");
        assert!(out.ends_with("a2 BAD Log in first\r\n"), "{out}");
    }

    #[test]
    fn synchronising_literal_gets_a_continuation_and_completes() {
        let mut s = ImapSession::new(cfg());
        drain(&mut s);
        s.feed(b"a1 LOGIN {5}\r\n");
        assert!(matches!(s.next_event(), Event::NeedInput));
        assert_eq!(drain(&mut s), "+ Ready for literal data\r\n");
        s.feed(b"alice secret\r\n");
        match s.next_event() {
            Event::Command {
                tag,
                request: Request::Codec(CommandBody::Login { .. }),
            } => assert_eq!(tag, "a1"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn append_literal_is_streamed_not_buffered() {
        let mut c = cfg();
        c.max_command_bytes = 64;
        let mut s = ImapSession::new(c);
        s.set_state(ConnState::Authenticated);
        drain(&mut s);
        s.feed(b"a1 APPEND INBOX (\\Seen) {300}\r\n");
        let Event::AppendStart(a) = s.next_event() else {
            panic!()
        };
        assert_eq!((a.tag.as_str(), a.length), ("a1", 300));
        s.accept_append();
        assert_eq!(drain(&mut s), "+ Ready for literal data\r\n");
        let body = vec![b'x'; 300];
        let mut got = 0;
        for chunk in body.chunks(70) {
            s.feed(chunk);
            loop {
                match s.next_event() {
                    Event::AppendData(d) => got += d.len(),
                    Event::NeedInput => break,
                    other => panic!("{other:?}"),
                }
            }
        }
        s.feed(b"\r\n");
        assert!(matches!(s.next_event(), Event::AppendEnd));
        assert_eq!(got, 300);
        s.finish_append(Status::Ok, Some("APPENDUID 1 1"), "APPEND completed");
        assert_eq!(drain(&mut s), "a1 OK [APPENDUID 1 1] APPEND completed\r\n");
    }

    #[test]
    fn oversized_literals_are_refused_and_skipped() {
        let mut s = ImapSession::new(cfg());
        s.set_state(ConnState::Authenticated);
        drain(&mut s);
        // Non-synchronising: the data comes anyway and must not be read as commands.
        s.feed(b"a1 CREATE {500+}\r\n");
        s.feed(&[b'x'; 250]);
        s.feed(b"a2 NOOP\r\n");
        let mut rest = vec![b'y'; 241];
        rest.extend_from_slice(b"\r\na3 CAPABILITY\r\n");
        s.feed(&rest);
        let mut seen = Vec::new();
        loop {
            match s.next_event() {
                Event::NeedInput => break,
                Event::Command { tag, .. } => seen.push(tag),
                other => panic!("{other:?}"),
            }
        }
        let out = drain(&mut s);
        assert!(out.starts_with("a1 BAD "), "{out}");
        assert!(out.contains("a3 OK CAPABILITY"), "{out}");
        assert!(seen.is_empty(), "{seen:?}");
        // Synchronising and too big: refused before the data, which the client then never sends.
        s.feed(b"a4 APPEND INBOX {5000}\r\n");
        assert!(matches!(s.next_event(), Event::NeedInput));
        assert_eq!(drain(&mut s), "a4 NO [TOOBIG] Message too large\r\n");
    }

    #[test]
    fn long_lines_garbage_and_error_limit() {
        let mut s = ImapSession::new(cfg());
        drain(&mut s);
        s.feed(&[b'a'; 300]);
        assert!(matches!(s.next_event(), Event::NeedInput));
        s.feed(b"aaa\r\nb1 NOOP\r\n");
        assert!(matches!(s.next_event(), Event::Command { .. }));
        s.tagged("b1", Status::Ok, None, "NOOP completed");
        let out = drain(&mut s);
        assert!(
            out.starts_with("* BAD Command too long\r\n")
                && out.ends_with("b1 OK NOOP completed\r\n"),
            "{out}"
        );
        for i in 0..4 {
            s.feed(format!("c{i} FROB\r\n").as_bytes());
        }
        assert!(matches!(s.next_event(), Event::Close));
        let out = drain(&mut s);
        assert!(
            out.contains("c0 BAD") && out.ends_with("* BYE Too many errors\r\n"),
            "{out}"
        );
    }

    #[test]
    fn second_compress_is_refused() {
        let mut s = ImapSession::new(cfg());
        s.set_state(ConnState::Authenticated);
        drain(&mut s);
        s.feed(b"a1 COMPRESS DEFLATE\r\n");
        assert!(matches!(s.next_event(), Event::Compress));
        s.compress_started();
        s.feed(b"a2 COMPRESS DEFLATE\r\n");
        assert!(matches!(s.next_event(), Event::NeedInput));
        assert_eq!(
            drain(&mut s),
            "a1 OK DEFLATE active\r\na2 NO [COMPRESSIONACTIVE] DEFLATE already active\r\n"
        );
    }

    #[test]
    fn starttls_drops_pipelined_input() {
        let mut s = ImapSession::new(cfg());
        drain(&mut s);
        s.feed(b"a1 STARTTLS\r\na2 LOGIN evil evil\r\n");
        assert!(matches!(s.next_event(), Event::StartTls));
        assert_eq!(drain(&mut s), "a1 OK Begin TLS negotiation now\r\n");
        s.tls_started();
        assert!(matches!(s.next_event(), Event::NeedInput));
        assert!(s.capabilities().contains("AUTH=PLAIN"));
    }

    #[test]
    fn list_with_an_invalid_tag_is_answered_untagged() {
        let mut s = ImapSession::new(cfg());
        s.set_state(ConnState::Authenticated);
        drain(&mut s);
        s.feed(b"a+b LIST \"\" *\r\n");
        assert!(matches!(s.next_event(), Event::NeedInput));
        assert_eq!(drain(&mut s), "* BAD LIST syntax error\r\n");
    }

    #[test]
    fn a_refused_line_split_across_reads_still_skips_its_trailing_literal() {
        // The literal announcement at the end of a discarded line arrives in pieces: the
        // session must still see it and skip the literal, however the reads fall.
        for split in 1..20 {
            let mut s = ImapSession::new(cfg());
            drain(&mut s);
            let input: &[u8] =
                b"a1 APPEND INBOX {5+}\r\nhello {11+}\r\na2 LOGOUT\r\n\r\na3 NOOP\r\n";
            let cut = 29 + split.min(input.len() - 30);
            s.feed(&input[..cut]);
            while !matches!(s.next_event(), Event::NeedInput) {}
            s.feed(&input[cut..]);
            let mut tags = Vec::new();
            loop {
                match s.next_event() {
                    Event::NeedInput => break,
                    Event::Command { tag, .. } => {
                        tags.push(tag.clone());
                        s.tagged(&tag, Status::Ok, None, "done");
                    }
                    Event::Close => panic!("closed at split {split}"),
                    _ => {}
                }
            }
            assert_eq!(tags, ["a3"], "split {split}: {}", drain(&mut s));
        }
    }

    #[test]
    fn a_command_over_the_limit_after_a_literal_is_dropped_once() {
        // The limit is crossed two bytes after an accepted literal, read byte by byte: the
        // literal's announcement line is over, so only the current line is dropped.
        let mut c = cfg();
        c.max_command_bytes = 64;
        c.plaintext_auth = true;
        let mut s = ImapSession::new(c);
        drain(&mut s);
        let head = format!("a1 LOGIN {} {{2+}}\r\nab", "y".repeat(45));
        s.feed(head.as_bytes());
        assert!(matches!(s.next_event(), Event::NeedInput));
        let mut tags = Vec::new();
        for b in b" zzzz\r\na2 NOOP\r\n" {
            s.feed(&[*b]);
            loop {
                match s.next_event() {
                    Event::NeedInput => break,
                    Event::Command { tag, .. } => {
                        s.tagged(&tag, Status::Ok, None, "done");
                        tags.push(tag);
                    }
                    other => panic!("{other:?}"),
                }
            }
        }
        assert_eq!(tags, ["a2"]);
        assert_eq!(drain(&mut s), "a1 BAD Command too long\r\na2 OK done\r\n");
    }
}

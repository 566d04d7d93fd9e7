//! The SMTP server session (RFC 5321) as a sans-IO state machine.
//!
//! The driver feeds bytes with [`SmtpServerSession::feed`] only when [`Event::NeedInput`] asks
//! for them, sends [`SmtpServerSession::output`] before every read, and answers the events that
//! need a decision ([`Event::Mail`], [`Event::Rcpt`], [`Event::MessageEnd`], [`Event::StartTls`]).
//! Until it answers, the session takes no further input, so replies always leave in command
//! order (RFC 2920 pipelining) and buffered input stays bounded by one line plus one read.

use super::data::{DataDecoder, NewlineCheck};
use super::path::{PathKind, classify, raw_path};
use super::reply::{Reply, r};
use crate::proto::line::{Buffers, Exchange, LineSplitter, Split};
use smtp_proto::Request;

/// Limits and facts fixed for one session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// This server's name (greeting, EHLO).
    pub hostname: String,
    /// Longest command line, CRLF included.
    pub max_line_bytes: usize,
    /// Largest message (advertised as SIZE).
    pub max_message_bytes: u64,
    /// Recipients per message.
    pub max_recipients: usize,
    /// Errors before the session is closed.
    pub max_errors: u32,
    /// Whether STARTTLS can be offered (a certificate is loaded and the port is not implicit TLS).
    pub starttls: bool,
    /// Whether the connection is already inside TLS (implicit-TLS port).
    pub tls_active: bool,
    /// Submission (RFC 6409): AUTH PLAIN/LOGIN is offered inside TLS and MAIL needs it
    /// (RFC 4954 §6). Off for the MX role, which answers AUTH with 502.
    pub auth: bool,
}

/// A SASL exchange finished on the client's side: the driver decodes and checks it, then calls
/// [`SmtpServerSession::auth_succeeded`] or [`SmtpServerSession::auth_failed`].
#[derive(Debug, PartialEq, Eq)]
pub enum SaslResponse<'a> {
    /// PLAIN (RFC 4616): the base64 response (empty for the empty response `=`).
    Plain(&'a [u8]),
    /// LOGIN: the base64 user name and password lines.
    Login {
        /// Base64 of the user name.
        user: &'a [u8],
        /// Base64 of the password.
        password: &'a [u8],
    },
}

/// A recipient as the client wrote it, after relay syntax was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// `<postmaster>` without a domain.
    Postmaster,
    /// `local@domain`; the domain is lower-cased.
    Mailbox {
        /// Local part as written.
        local: String,
        /// Domain, lower-case.
        domain: String,
    },
}

/// What the session needs from its driver.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// Send [`SmtpServerSession::output`], then read and [`feed`](SmtpServerSession::feed).
    NeedInput,
    /// MAIL FROM was well-formed; answer with `accept_mail` or `reject`.
    Mail {
        /// Reverse path (empty for the null sender `<>`).
        from: &'a str,
        /// The SMTPUTF8 parameter was given.
        smtputf8: bool,
        /// The SIZE parameter, if given.
        size: Option<u64>,
    },
    /// RCPT TO was well-formed; answer with `accept_rcpt` or `reject`.
    Rcpt(&'a Recipient),
    /// STARTTLS was accepted: send the output, do the handshake, then call `tls_started`.
    StartTls,
    /// AUTH completed its exchange; answer with `auth_succeeded` or `auth_failed`.
    Auth(SaslResponse<'a>),
    /// Message data begins (after 354, or with the first BDAT chunk).
    MessageStart,
    /// The next decoded bytes of the message.
    Data(&'a [u8]),
    /// The message is complete; commit it and answer with `message_accepted` or `reject`.
    MessageEnd,
    /// The message in progress will not be delivered: drop what was stored of it.
    MessageAbort,
    /// Send the output and close the connection.
    Close,
}

#[derive(Debug)]
enum State {
    Command,
    AwaitMail,
    AwaitRcpt,
    AwaitMessage,
    AwaitTls,
    /// After `334 `: the PLAIN response line.
    SaslPlain,
    /// After `334 VXNlcm5hbWU6`: the LOGIN user name line.
    SaslLoginUser,
    /// After `334 UGFzc3dvcmQ6`: the LOGIN password line.
    SaslLoginPassword,
    AwaitAuth,
    Data(DataDecoder),
    /// The DATA terminator was read; finish on the next step.
    DataEnded(bool),
    Bdat {
        left: u64,
        last: bool,
        refuse: Option<Reply>,
    },
    Closing,
    Closed,
}

/// What one internal step produced (owned, so the loop in `next_event` can borrow afterwards).
enum Step {
    Continue,
    NeedInput,
    Mail,
    Rcpt,
    StartTls,
    AuthPlain,
    AuthLogin,
    MessageStart,
    Data,
    DataInput(usize, usize),
    MessageEnd,
    MessageAbort,
    Close,
}

#[derive(Debug, Default)]
struct Transaction {
    from: Option<String>,
    smtputf8: bool,
    recipients: usize,
    /// Message data has started (DATA 354 or a BDAT chunk).
    started: bool,
    bdat: bool,
    bytes: u64,
    too_big: bool,
    newlines: NewlineCheck,
}

/// The SMTP server side of one connection.
#[derive(Debug)]
pub struct SmtpServerSession {
    cfg: SessionConfig,
    state: State,
    splitter: LineSplitter,
    io: Buffers,
    data: Vec<u8>,
    helo: Option<String>,
    esmtp: bool,
    tls: bool,
    errors: u32,
    tx: Transaction,
    pending_from: String,
    pending_size: Option<u64>,
    pending_rcpt: Recipient,
    delivered: u64,
    /// SASL lines of the exchange in progress (wiped once answered).
    sasl: [Vec<u8>; 2],
    authenticated: bool,
}

/// Feed only after [`Event::NeedInput`].
impl Exchange for SmtpServerSession {
    fn buffers(&self) -> &Buffers {
        &self.io
    }

    fn buffers_mut(&mut self) -> &mut Buffers {
        &mut self.io
    }
}

const HTTP_VERBS: &[&str] = &[
    "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "CONNECT", "TRACE", "PATCH",
];
/// Largest slice of input decoded per step, so one event never carries an unbounded buffer.
const DATA_STEP_BYTES: usize = 64 * 1024;

impl SmtpServerSession {
    /// Starts a session; the greeting is already in the output.
    pub fn new(cfg: SessionConfig) -> SmtpServerSession {
        let mut s = SmtpServerSession {
            splitter: LineSplitter::new(cfg.max_line_bytes),
            tls: cfg.tls_active,
            cfg,
            state: State::Command,
            io: Buffers::default(),
            data: Vec::new(),
            helo: None,
            esmtp: false,
            errors: 0,
            tx: Transaction::default(),
            pending_from: String::new(),
            pending_size: None,
            pending_rcpt: Recipient::Postmaster,
            delivered: 0,
            sasl: [Vec::new(), Vec::new()],
            authenticated: false,
        };
        let greeting = format!("{} ESMTP mailnook", s.cfg.hostname);
        s.reply(Reply::owned(220, None, greeting));
        s
    }

    /// The EHLO/HELO name, once given.
    pub fn helo(&self) -> Option<&str> {
        self.helo.as_deref()
    }

    /// Whether the client said EHLO (not HELO).
    pub fn esmtp(&self) -> bool {
        self.esmtp
    }

    /// Whether AUTH succeeded in this session.
    pub fn authenticated(&self) -> bool {
        self.authenticated
    }

    /// Whether the session is inside TLS.
    pub fn tls(&self) -> bool {
        self.tls
    }

    /// Whether the current transaction asked for SMTPUTF8.
    pub fn smtputf8(&self) -> bool {
        self.tx.smtputf8
    }

    /// The reverse path of the current transaction.
    pub fn mail_from(&self) -> Option<&str> {
        self.tx.from.as_deref()
    }

    /// Whether the session is reading message data (the data timeout applies).
    pub fn in_data(&self) -> bool {
        matches!(self.state, State::Data(_) | State::Bdat { .. })
    }

    /// Whether part of a command line (or message data) is buffered, waiting for the rest:
    /// drivers use it to bound the time a whole command line may take.
    pub fn has_partial_input(&self) -> bool {
        self.io.pos < self.io.input.len()
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Messages accepted so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Bytes held in the input buffer, consumed or not (the fuzz target checks its bound).
    #[doc(hidden)]
    pub fn held_input(&self) -> usize {
        self.io.input.len()
    }

    fn reply(&mut self, reply: Reply) {
        reply.write_to(&mut self.io.out);
    }

    /// Replies with an error; closes the session once too many were sent.
    fn error(&mut self, reply: Reply) -> Step {
        let permanent = reply.code >= 500;
        self.reply(reply);
        if permanent {
            self.errors += 1;
            if self.errors >= self.cfg.max_errors {
                self.reply(r::TOO_MANY_ERRORS);
                self.state = State::Closing;
            }
        }
        Step::Continue
    }

    /// Ends the transaction; returns whether stored message data must be dropped.
    fn reset_transaction(&mut self) -> bool {
        let started = self.tx.started;
        self.tx = Transaction::default();
        started
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
            Step::Mail => Event::Mail {
                from: &self.pending_from,
                smtputf8: self.tx.smtputf8,
                size: self.pending_size,
            },
            Step::Rcpt => Event::Rcpt(&self.pending_rcpt),
            Step::StartTls => Event::StartTls,
            Step::AuthPlain => Event::Auth(SaslResponse::Plain(&self.sasl[0])),
            Step::AuthLogin => Event::Auth(SaslResponse::Login {
                user: &self.sasl[0],
                password: &self.sasl[1],
            }),
            Step::MessageStart => Event::MessageStart,
            Step::Data => Event::Data(&self.data),
            Step::DataInput(a, b) => Event::Data(&self.io.input[a..b]),
            Step::MessageEnd => Event::MessageEnd,
            Step::MessageAbort => Event::MessageAbort,
            Step::Close => Event::Close,
        }
    }

    fn step(&mut self) -> Step {
        match &mut self.state {
            State::Closed => Step::Close,
            State::Closing => {
                self.state = State::Closed;
                if self.reset_transaction() {
                    Step::MessageAbort
                } else {
                    Step::Continue
                }
            }
            State::SaslPlain | State::SaslLoginUser | State::SaslLoginPassword => self.sasl_step(),
            State::AwaitMail
            | State::AwaitRcpt
            | State::AwaitMessage
            | State::AwaitTls
            | State::AwaitAuth => {
                // The driver has not answered; asking again is harmless.
                Step::NeedInput
            }
            State::Command => self.command_step(),
            State::Data(_) => self.data_step(),
            State::DataEnded(bare) => {
                let bare = *bare;
                self.state = State::Command;
                if self.tx.too_big {
                    self.reset_transaction();
                    self.reply(r::TOO_BIG);
                    Step::Continue
                } else if bare {
                    self.reset_transaction();
                    self.reply(r::BARE_NEWLINE);
                    Step::MessageAbort
                } else {
                    self.state = State::AwaitMessage;
                    Step::MessageEnd
                }
            }
            State::Bdat { .. } => self.bdat_step(),
        }
    }

    fn command_step(&mut self) -> Step {
        let (n, split) = self.splitter.split(&self.io.input[self.io.pos..]);
        self.io.pos += n;
        match split {
            Split::Incomplete if n == 0 => Step::NeedInput,
            Split::Incomplete => Step::Continue,
            Split::TooLong => self.error(r::LINE_TOO_LONG),
            // RFC 5321 §2.3.8: lines end with CRLF. A bare LF is refused rather than taken as a
            // line end, so a CRLF-only relay in front can never split commands differently.
            Split::Line { crlf: false, .. } => self.error(r::BARE_LF_COMMAND),
            Split::Line { line, .. } => {
                let line = line.to_vec();
                self.command(&line)
            }
        }
    }

    fn command(&mut self, line: &[u8]) -> Step {
        if line.contains(&0) || line.contains(&b'\r') {
            return self.error(r::BAD_CHARS);
        }
        let Ok(text) = std::str::from_utf8(line) else {
            return self.error(r::BAD_CHARS);
        };
        let verb = text.split(' ').next().unwrap_or("").to_ascii_uppercase();
        // Cross-protocol attacks (ALPACA): an HTTP request is never an SMTP session.
        if HTTP_VERBS.contains(&verb.as_str()) && text.len() > verb.len() {
            self.reply(r::HTTP);
            self.state = State::Closing;
            return Step::Continue;
        }
        let no_args = text[verb.len()..].trim().is_empty();
        if verb == "AUTH" {
            return self.auth_command(text);
        }
        let mut wire = Vec::with_capacity(line.len() + 2);
        wire.extend_from_slice(line);
        wire.extend_from_slice(b"\r\n");
        let request = match Request::parse(&mut wire.iter()) {
            Ok(req) => req,
            Err(smtp_proto::Error::UnknownCommand) => return self.error(r::UNKNOWN),
            Err(smtp_proto::Error::UnsupportedParameter { .. })
            | Err(smtp_proto::Error::InvalidParameter { .. }) => {
                return self.error(r::BAD_PARAM);
            }
            Err(smtp_proto::Error::InvalidSenderAddress)
            | Err(smtp_proto::Error::InvalidRecipientAddress) => {
                return self.error(r::BAD_ADDRESS);
            }
            Err(_) => return self.error(r::SYNTAX),
        };
        match request {
            Request::Ehlo { host } => self.hello(host.into_owned(), true),
            Request::Helo { host } => self.hello(host.into_owned(), false),
            Request::Lhlo { .. } => self.error(r::UNKNOWN),
            Request::Mail { from } => self.mail(text, from),
            Request::Rcpt { to } => self.rcpt(text, to),
            Request::Data if !no_args => self.error(r::NO_ARGS),
            Request::Data => self.data_command(),
            // RFC 3030 §3: chunk-size is 1*DIGIT. smtp-proto 0.2.5 wraps an over-long size
            // ("BDAT 99999999999999999999999" parses as 999), which would desynchronise the
            // chunk boundary: take the size only if the text says exactly that number.
            Request::Bdat {
                chunk_size,
                is_last,
            } => match text.split_ascii_whitespace().nth(1).map(str::parse::<u64>) {
                Some(Ok(n)) if n == chunk_size as u64 => self.bdat_command(n, is_last),
                _ => self.error(r::SYNTAX),
            },
            Request::Rset if !no_args => self.error(r::NO_ARGS),
            Request::Rset => {
                self.reply(r::OK);
                if self.reset_transaction() {
                    Step::MessageAbort
                } else {
                    Step::Continue
                }
            }
            Request::Noop { .. } => {
                self.reply(r::OK);
                Step::Continue
            }
            Request::Quit => {
                self.reply(r::BYE);
                self.state = State::Closing;
                Step::Continue
            }
            Request::Vrfy { .. } => {
                self.reply(r::VRFY);
                Step::Continue
            }
            Request::Help { .. } => {
                self.reply(r::HELP);
                Step::Continue
            }
            Request::StartTls => self.starttls(no_args),
            Request::Expn { .. }
            | Request::Auth { .. }
            | Request::Etrn { .. }
            | Request::Atrn { .. }
            | Request::Burl { .. } => self.error(r::NOT_IMPLEMENTED),
        }
    }

    fn hello(&mut self, host: String, esmtp: bool) -> Step {
        let abort = self.reset_transaction();
        self.esmtp = esmtp;
        if esmtp {
            let mut lines = vec![
                self.cfg.hostname.clone(),
                "PIPELINING".to_string(),
                format!("SIZE {}", self.cfg.max_message_bytes),
                "8BITMIME".to_string(),
                "SMTPUTF8".to_string(),
                "ENHANCEDSTATUSCODES".to_string(),
                "CHUNKING".to_string(),
            ];
            if self.cfg.starttls && !self.tls {
                lines.push("STARTTLS".to_string());
            }
            // RFC 4954 §4 with RFC 3207 §6: plaintext mechanisms are advertised only inside TLS.
            if self.cfg.auth && self.tls && !self.authenticated {
                lines.push("AUTH PLAIN LOGIN".to_string());
            }
            self.reply(Reply::owned(250, None, lines.join("\n")));
        } else {
            self.reply(Reply::owned(250, None, self.cfg.hostname.clone()));
        }
        self.helo = Some(host);
        if abort {
            Step::MessageAbort
        } else {
            Step::Continue
        }
    }

    fn mail(&mut self, text: &str, from: smtp_proto::MailFrom<std::borrow::Cow<'_, str>>) -> Step {
        if self.helo.is_none() {
            return self.error(r::HELO_FIRST);
        }
        if self.tx.from.is_some() {
            return self.error(r::NESTED_MAIL);
        }
        if self.cfg.auth && !self.authenticated {
            return self.error(r::AUTH_REQUIRED);
        }
        const KNOWN: u64 =
            smtp_proto::MAIL_BODY_7BIT | smtp_proto::MAIL_BODY_8BITMIME | smtp_proto::MAIL_SMTPUTF8;
        let extra = from.flags & !KNOWN != 0
            || from.trans_id.is_some()
            || from.env_id.is_some()
            || from.solicit.is_some()
            || from.mtrk.is_some()
            // RFC 4954 §5: AUTH= is accepted from an authenticated client and ignored.
            || (from.auth.is_some() && !self.authenticated)
            || from.by != 0
            || from.hold_for != 0
            || from.hold_until != 0
            || from.mt_priority != 0;
        let smtputf8 = from.flags & smtp_proto::MAIL_SMTPUTF8 != 0;
        if extra || (!self.esmtp && (from.flags != 0 || from.size != 0)) {
            return self.error(r::BAD_PARAM);
        }
        // RFC 1870 §6.1. smtp-proto wraps a SIZE too long for usize ("SIZE=99999999999999999999999"
        // becomes 999), so a declared size that does not fit in a u64 is over any limit.
        let params = &text[text.rfind('>').map_or(text.len(), |i| i + 1)..];
        let declared_overflows = params.split_ascii_whitespace().any(|p| {
            p.get(..5).is_some_and(|k| k.eq_ignore_ascii_case("SIZE="))
                && p[5..].parse::<u64>().is_err()
        });
        if declared_overflows || from.size as u64 > self.cfg.max_message_bytes {
            return self.error(r::TOO_BIG);
        }
        if !smtputf8 && !from.address.is_ascii() {
            return self.error(r::NEED_SMTPUTF8);
        }
        // A null reverse path must be written `<>`; anything else must be an address.
        if from.address.is_empty() && raw_path(text).is_none_or(|p| !p.is_empty()) {
            return self.error(r::BAD_ADDRESS);
        }
        self.pending_from = from.address.into_owned();
        self.pending_size = (from.size > 0).then_some(from.size as u64);
        self.tx.smtputf8 = smtputf8;
        self.state = State::AwaitMail;
        Step::Mail
    }

    /// The driver accepts the sender given in [`Event::Mail`].
    pub fn accept_mail(&mut self) {
        if matches!(self.state, State::AwaitMail) {
            self.tx.from = Some(std::mem::take(&mut self.pending_from));
            self.reply(r::MAIL_OK);
            self.state = State::Command;
        }
    }

    fn rcpt(&mut self, text: &str, to: smtp_proto::RcptTo<std::borrow::Cow<'_, str>>) -> Step {
        if self.tx.from.is_none() {
            return self.error(r::MAIL_FIRST);
        }
        // Recipients come before the message (RFC 5321 §3.3), also between BDAT chunks.
        if self.tx.started {
            return self.error(r::BAD_SEQUENCE);
        }
        if to.flags != 0 || to.orcpt.is_some() || to.rrvs != 0 {
            return self.error(r::BAD_PARAM);
        }
        if self.tx.recipients >= self.cfg.max_recipients {
            self.reply(r::TOO_MANY_RCPTS);
            return Step::Continue;
        }
        let Some(raw) = raw_path(text) else {
            return self.error(r::BAD_ADDRESS);
        };
        let recipient = match classify(raw) {
            PathKind::Postmaster => Recipient::Postmaster,
            PathKind::Mailbox { local, domain } => {
                if !self.tx.smtputf8 && !raw.is_ascii() {
                    return self.error(r::NEED_SMTPUTF8);
                }
                Recipient::Mailbox {
                    local: local.to_string(),
                    domain: domain.to_lowercase(),
                }
            }
            PathKind::SourceRoute | PathKind::RelayHack => return self.error(r::RELAY_DENIED),
            PathKind::Quoted => return self.error(r::QUOTED_LOCAL),
            PathKind::Invalid => return self.error(r::BAD_ADDRESS),
        };
        let _ = to;
        self.pending_rcpt = recipient;
        self.state = State::AwaitRcpt;
        Step::Rcpt
    }

    /// The driver accepts the recipient given in [`Event::Rcpt`].
    pub fn accept_rcpt(&mut self) {
        if matches!(self.state, State::AwaitRcpt) {
            self.tx.recipients += 1;
            self.reply(r::RCPT_OK);
            self.state = State::Command;
        }
    }

    /// The driver refuses the pending MAIL, RCPT or message with `reply`.
    pub fn reject(&mut self, reply: Reply) {
        match self.state {
            State::AwaitMail | State::AwaitRcpt => {
                self.state = State::Command;
                let _ = self.error(reply);
            }
            State::AwaitMessage => {
                self.reset_transaction();
                self.state = State::Command;
                self.reply(reply);
            }
            _ => {}
        }
    }

    /// The driver committed the message durably; `id` names it in the reply.
    pub fn message_accepted(&mut self, id: &str) {
        if matches!(self.state, State::AwaitMessage) {
            self.reset_transaction();
            self.delivered += 1;
            self.reply(Reply::owned(
                250,
                Some((2, 0, 0)),
                format!("Ok: queued as {id}"),
            ));
            self.state = State::Command;
        }
    }

    fn data_command(&mut self) -> Step {
        if self.tx.from.is_none() {
            return self.error(r::MAIL_FIRST);
        }
        if self.tx.bdat {
            return self.error(r::BAD_SEQUENCE);
        }
        if self.tx.recipients == 0 {
            return self.error(r::NO_VALID_RCPTS);
        }
        self.reply(r::START_DATA);
        self.tx.started = true;
        self.state = State::Data(DataDecoder::default());
        Step::MessageStart
    }

    fn data_step(&mut self) -> Step {
        let State::Data(decoder) = &mut self.state else {
            unreachable!("called in Data")
        };
        let avail = &self.io.input[self.io.pos..];
        if avail.is_empty() {
            return Step::NeedInput;
        }
        let avail = &avail[..avail.len().min(DATA_STEP_BYTES)];
        self.data.clear();
        let (n, ended) = decoder.decode(avail, &mut self.data);
        let bare = decoder.bare_newline;
        self.io.pos += n;
        if ended {
            self.state = State::DataEnded(bare);
        }
        self.account_data()
    }

    /// Counts decoded bytes against the size limit; decides whether they reach the driver.
    fn account_data(&mut self) -> Step {
        if self.tx.too_big {
            return Step::Continue;
        }
        self.tx.bytes += self.data.len() as u64;
        if self.tx.bytes > self.cfg.max_message_bytes {
            self.tx.too_big = true;
            // Aborted here, so a later reset has nothing to drop (one MessageAbort per message).
            self.tx.started = false;
            return Step::MessageAbort;
        }
        if self.data.is_empty() {
            Step::Continue
        } else {
            Step::Data
        }
    }

    fn bdat_command(&mut self, size: u64, last: bool) -> Step {
        let refuse = if self.helo.is_none() {
            Some(r::HELO_FIRST)
        } else if self.tx.from.is_none() {
            Some(r::MAIL_FIRST)
        } else if self.tx.recipients == 0 {
            Some(r::NO_VALID_RCPTS)
        } else {
            None
        };
        let first = refuse.is_none() && !self.tx.started;
        if refuse.is_none() {
            self.tx.bdat = true;
            if self.tx.bytes.saturating_add(size) > self.cfg.max_message_bytes && !self.tx.too_big {
                self.tx.too_big = true;
                self.state = State::Bdat {
                    left: size,
                    last,
                    refuse,
                };
                // Nothing more reaches the driver: abort a started message once, and never
                // start one for a first chunk that is already too big.
                return if std::mem::take(&mut self.tx.started) {
                    Step::MessageAbort
                } else {
                    Step::Continue
                };
            }
            self.tx.started = true;
        }
        self.state = State::Bdat {
            left: size,
            last,
            refuse,
        };
        if first {
            Step::MessageStart
        } else {
            Step::Continue
        }
    }

    fn bdat_step(&mut self) -> Step {
        let State::Bdat { left, last, refuse } = &mut self.state else {
            unreachable!("called in Bdat")
        };
        if *left > 0 {
            let avail = self.io.input.len() - self.io.pos;
            if avail == 0 {
                return Step::NeedInput;
            }
            let take = (*left).min(avail as u64).min(DATA_STEP_BYTES as u64) as usize;
            *left -= take as u64;
            let (a, b) = (self.io.pos, self.io.pos + take);
            self.io.pos = b;
            if refuse.is_some() || self.tx.too_big {
                return Step::Continue;
            }
            self.tx.newlines.scan(&self.io.input[a..b]);
            self.tx.bytes += take as u64;
            return Step::DataInput(a, b);
        }
        let (last, refuse) = (*last, refuse.take());
        self.state = State::Command;
        if let Some(reply) = refuse {
            return self.error(reply);
        }
        if self.tx.too_big {
            self.reset_transaction();
            self.reply(r::TOO_BIG);
            return Step::Continue;
        }
        if !last {
            let n = self.tx.bytes;
            self.reply(Reply::owned(
                250,
                Some((2, 0, 0)),
                format!("{n} octets received"),
            ));
            return Step::Continue;
        }
        self.tx.newlines.finish();
        if self.tx.newlines.bare {
            self.reset_transaction();
            self.reply(r::BARE_NEWLINE);
            return Step::MessageAbort;
        }
        self.state = State::AwaitMessage;
        Step::MessageEnd
    }

    fn starttls(&mut self, no_args: bool) -> Step {
        if self.tls {
            return self.error(r::ALREADY_TLS);
        }
        // Between BDAT chunks: the restart inside TLS would drop the message without a word.
        if self.tx.started {
            return self.error(r::BAD_SEQUENCE);
        }
        if !self.cfg.starttls {
            return self.error(r::NOT_IMPLEMENTED);
        }
        if !no_args {
            return self.error(r::NO_ARGS);
        }
        self.reply(r::TLS_GO);
        // RFC 3207 §6 / CVE-2011-0411: nothing sent before the handshake may be acted on after it.
        self.io.input.clear();
        self.io.pos = 0;
        self.state = State::AwaitTls;
        Step::StartTls
    }

    fn auth_command(&mut self, text: &str) -> Step {
        let mut words = text.split(' ').skip(1).filter(|w| !w.is_empty());
        let (Some(mechanism), initial, None) = (words.next(), words.next(), words.next()) else {
            return self.error(r::SYNTAX);
        };
        if !self.cfg.auth {
            return self.error(r::NOT_IMPLEMENTED);
        }
        if self.helo.is_none() || !self.esmtp {
            return self.error(r::HELO_FIRST);
        }
        if self.authenticated || self.tx.from.is_some() {
            return self.error(r::AUTH_SEQUENCE);
        }
        let plain = mechanism.eq_ignore_ascii_case("PLAIN");
        if !plain && !mechanism.eq_ignore_ascii_case("LOGIN") {
            return self.error(r::UNKNOWN_MECHANISM);
        }
        if !self.tls {
            return self.error(r::ENCRYPTION_REQUIRED);
        }
        self.sasl = [Vec::new(), Vec::new()];
        match (plain, initial) {
            // RFC 4954 §4: "=" is an empty initial response.
            (true, Some(ir)) => {
                self.sasl[0] = if ir == "=" {
                    Vec::new()
                } else {
                    ir.as_bytes().to_vec()
                };
                self.state = State::AwaitAuth;
                Step::AuthPlain
            }
            (true, None) => {
                self.reply(Reply::owned(334, None, String::new()));
                self.state = State::SaslPlain;
                Step::Continue
            }
            (false, Some(user)) => {
                self.sasl[0] = user.as_bytes().to_vec();
                self.reply(Reply::owned(334, None, "UGFzc3dvcmQ6".into()));
                self.state = State::SaslLoginPassword;
                Step::Continue
            }
            (false, None) => {
                self.reply(Reply::owned(334, None, "VXNlcm5hbWU6".into()));
                self.state = State::SaslLoginUser;
                Step::Continue
            }
        }
    }

    /// One SASL response line (RFC 4954 §4): `*` cancels; anything else goes to the driver.
    fn sasl_step(&mut self) -> Step {
        let (n, split) = self.splitter.split(&self.io.input[self.io.pos..]);
        self.io.pos += n;
        let line = match split {
            Split::Incomplete if n == 0 => return Step::NeedInput,
            Split::Incomplete => return Step::Continue,
            Split::TooLong => {
                self.state = State::Command;
                self.sasl = [Vec::new(), Vec::new()];
                return self.error(r::LINE_TOO_LONG);
            }
            Split::Line { line, .. } => line.to_vec(),
        };
        if line == b"*" {
            self.state = State::Command;
            self.sasl = [Vec::new(), Vec::new()];
            return self.error(r::AUTH_CANCELLED);
        }
        match self.state {
            State::SaslPlain => {
                self.sasl[0] = line;
                self.state = State::AwaitAuth;
                Step::AuthPlain
            }
            State::SaslLoginUser => {
                self.sasl[0] = line;
                self.reply(Reply::owned(334, None, "UGFzc3dvcmQ6".into()));
                self.state = State::SaslLoginPassword;
                Step::Continue
            }
            _ => {
                self.sasl[1] = line;
                self.state = State::AwaitAuth;
                Step::AuthLogin
            }
        }
    }

    /// The credentials of [`Event::Auth`] were accepted.
    pub fn auth_succeeded(&mut self) {
        if matches!(self.state, State::AwaitAuth) {
            self.sasl = [Vec::new(), Vec::new()];
            self.authenticated = true;
            self.reply(r::AUTH_OK);
            self.state = State::Command;
        }
    }

    /// The credentials of [`Event::Auth`] were refused with `reply` (535, 454 or 501).
    pub fn auth_failed(&mut self, reply: Reply) {
        if matches!(self.state, State::AwaitAuth) {
            self.sasl = [Vec::new(), Vec::new()];
            self.state = State::Command;
            let _ = self.error(reply);
        }
    }

    /// The TLS handshake after [`Event::StartTls`] succeeded: the session starts over (RFC 3207 §4.2).
    pub fn tls_started(&mut self) {
        if matches!(self.state, State::AwaitTls) {
            self.tls = true;
            self.authenticated = false;
            self.helo = None;
            self.esmtp = false;
            self.tx = Transaction::default();
            self.io.input.clear();
            self.io.pos = 0;
            self.state = State::Command;
        }
    }

    /// The driver is closing the session for `reply` (timeout, shutdown).
    pub fn close_with(&mut self, reply: Reply) {
        if !matches!(self.state, State::Closed | State::Closing) {
            self.reply(reply);
            self.state = State::Closing;
        }
    }
}

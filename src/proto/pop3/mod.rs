//! The POP3 server session (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH, RFC 3206
//! response codes) as a sans-IO state machine.
//!
//! The session owns the protocol: command lines (split by the bounded [`LineSplitter`] shared
//! with SMTP), the AUTHORIZATION / TRANSACTION / UPDATE states, and, once the driver hands it the
//! maildrop, every answer that needs no message bytes (STAT, LIST, UIDL, DELE, RSET, NOOP). The
//! driver verifies logins, streams RETR/TOP bodies through [`DotEncoder`] and carries out the
//! deletions of the UPDATE state.
//!
//! Invariants:
//! - buffered input never exceeds `max_line_bytes` plus one read;
//! - deletions are only ever requested by QUIT in the TRANSACTION state (RFC 1939 §6): a dropped
//!   connection deletes nothing;
//! - input received after STLS in the same read is discarded (RFC 2595 §4, the STARTTLS
//!   command-injection class);
//! - USER, PASS and AUTH are refused unless TLS is active or plaintext logins are allowed.

pub use super::dot::DotEncoder;

use super::line::{Buffers, Exchange, LineSplitter, Split};

/// Limits and facts fixed for one session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Longest command line in octets, CRLF included.
    pub max_line_bytes: usize,
    /// Protocol errors before the session is closed.
    pub max_errors: u32,
    /// Whether STLS can be offered (a certificate is loaded).
    pub starttls: bool,
    /// Whether the connection is already inside TLS.
    pub tls_active: bool,
    /// Whether logins are allowed without TLS (loopback, when configured).
    pub plaintext_auth: bool,
    /// Leave-on-server policy in days (0: never), advertised as EXPIRE (RFC 2449 §6.7).
    pub expire_days: u64,
}

/// One message of the maildrop, as the driver found it at login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// IMAP UID in INBOX.
    pub uid: u32,
    /// Size in octets (the stored size, as IMAP's RFC822.SIZE).
    pub size: u64,
}

/// The user's INBOX at login.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maildrop {
    /// INBOX's UIDVALIDITY (part of every unique-id listing).
    pub uidvalidity: u32,
    /// Messages in UID order; message number n is `entries[n - 1]`.
    pub entries: Vec<Entry>,
}

/// Connection state (RFC 1939 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Before a successful login.
    Authorization,
    /// Logged in; the maildrop is locked.
    Transaction,
    /// Over (after QUIT, or closed for errors).
    Closed,
}

/// Why a login failed, as the driver reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFailure {
    /// Wrong user or password.
    Invalid,
    /// Throttled, blocked or the store failed: try again later.
    Unavailable,
    /// Another POP3 session holds the maildrop (RFC 2449 §8.1.1 IN-USE).
    InUse,
}

/// What the session needs from its driver.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// Send [`Pop3Session::output`], then read and [`feed`](Pop3Session::feed).
    NeedInput,
    /// USER/PASS or AUTH PLAIN: verify, then call `login_ok` or `login_failed`.
    Login {
        /// Authentication identity.
        user: String,
        /// The password as sent.
        password: String,
    },
    /// An AUTH PLAIN response (base64 text, RFC 4616) to decode; then `login_ok`,
    /// `login_failed` or `auth_malformed`.
    AuthPlain(Vec<u8>),
    /// STLS accepted: send the output, do the handshake, then call `tls_started`.
    StartTls,
    /// RETR or TOP: send the output (the +OK line), then the message through a
    /// [`DotEncoder`] (`top`: body lines for TOP).
    Retrieve {
        /// The message's UID.
        uid: u32,
        /// TOP's line count; `None` for RETR.
        top: Option<u32>,
    },
    /// QUIT in TRANSACTION (the UPDATE state): remove these messages (and, with the EXPIRE
    /// policy, those older than it), then call `update_done`.
    Update {
        /// UIDs marked with DELE.
        delete: Vec<u32>,
    },
    /// Send the output and close the connection.
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Reading command lines.
    Command,
    /// AUTH PLAIN sent "+ ": the next line is the response.
    Sasl,
    /// Waiting for the driver (login, retrieval, update).
    Busy,
}

/// The server side of one POP3 connection.
#[derive(Debug)]
pub struct Pop3Session {
    cfg: SessionConfig,
    state: State,
    mode: Mode,
    splitter: LineSplitter,
    io: Buffers,
    errors: u32,
    tls: bool,
    /// The name given by USER.
    user: Option<String>,
    maildrop: Maildrop,
    deleted: Vec<bool>,
    /// Where the +OK line of a pending RETR/TOP starts in the output.
    retrieve_ok_at: usize,
}

/// Parses a message number: 1..=count, not marked deleted.
enum Msg {
    Ok(usize),
    Err(&'static str),
}

impl Exchange for Pop3Session {
    fn buffers(&self) -> &Buffers {
        &self.io
    }

    fn buffers_mut(&mut self) -> &mut Buffers {
        &mut self.io
    }
}

impl Pop3Session {
    /// Starts a session; the greeting is already in the output.
    pub fn new(cfg: SessionConfig) -> Pop3Session {
        let mut s = Pop3Session {
            splitter: LineSplitter::new(cfg.max_line_bytes),
            tls: cfg.tls_active,
            cfg,
            state: State::Authorization,
            mode: Mode::Command,
            io: Buffers::default(),
            errors: 0,
            user: None,
            maildrop: Maildrop::default(),
            deleted: Vec::new(),
            retrieve_ok_at: 0,
        };
        s.ok("mailnook POP3 ready");
        s
    }

    /// Whether part of a command line is buffered (for the driver's read deadline).
    pub fn has_partial_input(&self) -> bool {
        self.buffered_input() > 0
    }

    /// The connection state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether the connection is inside TLS.
    pub fn tls(&self) -> bool {
        self.tls
    }

    /// Whether the session is over.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// The maildrop of a logged-in session.
    pub fn maildrop(&self) -> &Maildrop {
        &self.maildrop
    }

    fn ok(&mut self, text: &str) {
        self.io.out.extend_from_slice(b"+OK");
        if !text.is_empty() {
            self.io.out.push(b' ');
            self.io.out.extend_from_slice(text.as_bytes());
        }
        self.io.out.extend_from_slice(b"\r\n");
    }

    fn err(&mut self, text: &str) {
        self.io.out.extend_from_slice(b"-ERR ");
        self.io.out.extend_from_slice(text.as_bytes());
        self.io.out.extend_from_slice(b"\r\n");
    }

    /// A protocol error: counted, and past the limit the session ends.
    fn error(&mut self, text: &str) {
        self.err(text);
        self.errors += 1;
        if self.errors >= self.cfg.max_errors {
            self.err("Too many errors, closing");
            self.state = State::Closed;
        }
    }

    fn line(&mut self, text: &str) {
        self.io.out.extend_from_slice(text.as_bytes());
        self.io.out.extend_from_slice(b"\r\n");
    }

    /// Ends the session with an -ERR line (timeouts, shutdown).
    pub fn close_with(&mut self, text: &str) {
        if self.state != State::Closed {
            self.err(text);
            self.state = State::Closed;
        }
    }

    fn login_allowed(&self) -> bool {
        self.tls || self.cfg.plaintext_auth
    }

    /// The CAPA list (RFC 2449 §5) for the current state.
    fn capa(&mut self) {
        self.ok("Capability list follows");
        self.line("TOP");
        self.line("UIDL");
        if self.state == State::Authorization {
            if self.login_allowed() {
                self.line("USER");
                self.line("SASL PLAIN");
            }
            if self.cfg.starttls && !self.tls {
                self.line("STLS");
            }
        }
        self.line("RESP-CODES");
        self.line("AUTH-RESP-CODE");
        self.line("PIPELINING");
        if self.cfg.expire_days == 0 {
            self.line("EXPIRE NEVER");
        } else {
            self.line(&format!("EXPIRE {}", self.cfg.expire_days));
        }
        self.line("IMPLEMENTATION mailnook");
        self.line(".");
    }

    /// What the session needs next.
    pub fn next_event(&mut self) -> Event {
        loop {
            if self.state == State::Closed {
                return Event::Close;
            }
            if self.mode == Mode::Busy {
                return Event::NeedInput;
            }
            let (used, split) = self.splitter.split(&self.io.input[self.io.pos..]);
            let line = match split {
                Split::Incomplete if used == 0 => return Event::NeedInput,
                Split::Incomplete => {
                    self.io.pos += used;
                    continue;
                }
                Split::TooLong => {
                    self.io.pos += used;
                    if self.mode == Mode::Sasl {
                        self.mode = Mode::Command;
                    }
                    self.error("Line too long");
                    continue;
                }
                Split::Line { line, .. } => line.to_vec(),
            };
            self.io.pos += used;
            if self.mode == Mode::Sasl {
                self.mode = Mode::Command;
                if line == b"*" {
                    self.err("Authentication cancelled");
                    continue;
                }
                self.mode = Mode::Busy;
                return Event::AuthPlain(line);
            }
            if let Some(event) = self.command(&line) {
                return event;
            }
        }
    }

    /// Executes one command line; returns an event when the driver must act.
    fn command(&mut self, line: &[u8]) -> Option<Event> {
        let text = String::from_utf8_lossy(line);
        let mut words = text.split(' ');
        let verb = words.next().unwrap_or("").to_ascii_uppercase();
        let args: Vec<&str> = words.collect();
        let authorization = self.state == State::Authorization;
        match verb.as_str() {
            "CAPA" if args.is_empty() => self.capa(),
            "QUIT" if args.is_empty() => {
                if authorization {
                    self.ok("Bye");
                    self.state = State::Closed;
                } else {
                    self.mode = Mode::Busy;
                    let delete = self
                        .maildrop
                        .entries
                        .iter()
                        .zip(&self.deleted)
                        .filter(|(_, d)| **d)
                        .map(|(e, _)| e.uid)
                        .collect();
                    return Some(Event::Update { delete });
                }
            }
            "USER" | "PASS" | "AUTH" | "STLS" if !authorization => {
                self.error("Not allowed in this state")
            }
            "STLS" if args.is_empty() => {
                if self.tls || !self.cfg.starttls {
                    self.error("STLS not available");
                } else {
                    self.ok("Begin TLS negotiation");
                    // RFC 2595 §4: nothing sent before the handshake may count after it.
                    self.io.input.clear();
                    self.io.pos = 0;
                    self.mode = Mode::Busy;
                    return Some(Event::StartTls);
                }
            }
            "USER" | "PASS" | "AUTH" if !self.login_allowed() => {
                self.error("[AUTH] Plaintext authentication disallowed without TLS, use STLS");
            }
            "USER" if args.len() == 1 && !args[0].is_empty() => {
                self.user = Some(args[0].to_string());
                self.ok("");
            }
            "PASS" if !args.is_empty() => {
                // RFC 1939 §7: the password may contain spaces.
                let password = text.split_once(' ').map(|(_, p)| p).unwrap_or("");
                match self.user.take() {
                    Some(user) => {
                        self.mode = Mode::Busy;
                        return Some(Event::Login {
                            user,
                            password: password.to_string(),
                        });
                    }
                    None => self.error("USER first"),
                }
            }
            "AUTH" if args.is_empty() => {
                self.ok("");
                self.line("PLAIN");
                self.line(".");
            }
            "AUTH" if args.len() <= 2 => {
                if !args[0].eq_ignore_ascii_case("PLAIN") {
                    self.err("Unsupported authentication mechanism");
                } else if let Some(initial) = args.get(1) {
                    // RFC 5034 §4: the initial response; "=" is an empty one.
                    self.mode = Mode::Busy;
                    return Some(Event::AuthPlain(initial.as_bytes().to_vec()));
                } else {
                    self.line("+ ");
                    self.mode = Mode::Sasl;
                }
            }
            "STAT" | "LIST" | "UIDL" | "RETR" | "TOP" | "DELE" | "RSET" | "NOOP"
                if authorization =>
            {
                self.error("Not allowed in this state")
            }
            "STAT" if args.is_empty() => {
                let (n, octets) = self.totals();
                self.ok(&format!("{n} {octets}"));
            }
            "LIST" | "UIDL" if args.len() <= 1 => {
                let uidl = verb == "UIDL";
                match args.first() {
                    Some(arg) => match self.number(arg) {
                        Msg::Ok(i) => {
                            let item = self.listing(i, uidl);
                            self.ok(&format!("{} {item}", i + 1));
                        }
                        Msg::Err(e) => self.err(e),
                    },
                    None => {
                        if uidl {
                            self.ok("");
                        } else {
                            let (n, octets) = self.totals();
                            self.ok(&format!("{n} messages ({octets} octets)"));
                        }
                        for i in 0..self.maildrop.entries.len() {
                            if !self.deleted[i] {
                                let item = self.listing(i, uidl);
                                self.line(&format!("{} {item}", i + 1));
                            }
                        }
                        self.line(".");
                    }
                }
            }
            "RETR" if args.len() == 1 => match self.number(args[0]) {
                Msg::Ok(i) => {
                    let e = &self.maildrop.entries[i];
                    let (uid, size) = (e.uid, e.size);
                    self.retrieve_ok_at = self.io.out.len();
                    self.ok(&format!("{size} octets"));
                    self.mode = Mode::Busy;
                    return Some(Event::Retrieve { uid, top: None });
                }
                Msg::Err(e) => self.err(e),
            },
            "TOP" if args.len() == 2 => match (self.number(args[0]), args[1].parse::<u32>()) {
                (Msg::Ok(i), Ok(lines)) if is_number(args[1]) => {
                    let uid = self.maildrop.entries[i].uid;
                    self.retrieve_ok_at = self.io.out.len();
                    self.ok("");
                    self.mode = Mode::Busy;
                    return Some(Event::Retrieve {
                        uid,
                        top: Some(lines),
                    });
                }
                (Msg::Err(e), _) => self.err(e),
                _ => self.error("Syntax error"),
            },
            "DELE" if args.len() == 1 => match self.number(args[0]) {
                Msg::Ok(i) => {
                    self.deleted[i] = true;
                    self.ok("Marked to be deleted");
                }
                Msg::Err(e) => self.err(e),
            },
            "RSET" if args.is_empty() => {
                self.deleted.iter_mut().for_each(|d| *d = false);
                self.ok("");
            }
            "NOOP" if args.is_empty() => self.ok(""),
            "CAPA" | "QUIT" | "STLS" | "USER" | "PASS" | "AUTH" | "STAT" | "LIST" | "UIDL"
            | "RETR" | "TOP" | "DELE" | "RSET" | "NOOP" => self.error("Syntax error"),
            _ => self.error("Unknown command"),
        }
        None
    }

    /// Messages not marked deleted and their octets.
    fn totals(&self) -> (usize, u64) {
        self.maildrop
            .entries
            .iter()
            .zip(&self.deleted)
            .filter(|(_, d)| !**d)
            .fold((0, 0), |(n, o), (e, _)| (n + 1, o + e.size))
    }

    /// LIST's size or UIDL's unique id (RFC 1939 §7: 0x21..0x7E, at most 70 octets): the IMAP
    /// UID and UIDVALIDITY in hexadecimal, as Dovecot's default `%08Xu%08Xv`.
    fn listing(&self, i: usize, uidl: bool) -> String {
        let e = &self.maildrop.entries[i];
        if uidl {
            format!("{:08X}{:08X}", e.uid, self.maildrop.uidvalidity)
        } else {
            e.size.to_string()
        }
    }

    fn number(&self, arg: &str) -> Msg {
        let n = match arg.parse::<usize>() {
            Ok(n) if n > 0 && is_number(arg) => n,
            _ => return Msg::Err("Invalid message number"),
        };
        match self.deleted.get(n - 1) {
            None => Msg::Err("No such message"),
            Some(true) => Msg::Err("Message is deleted"),
            Some(false) => Msg::Ok(n - 1),
        }
    }

    /// The login succeeded: the maildrop is locked and loaded.
    pub fn login_ok(&mut self, maildrop: Maildrop) {
        self.deleted = vec![false; maildrop.entries.len()];
        self.maildrop = maildrop;
        self.state = State::Transaction;
        self.mode = Mode::Command;
        let (n, octets) = self.totals();
        self.ok(&format!("Logged in, {n} messages ({octets} octets)"));
    }

    /// The login failed (RFC 3206 / RFC 2449 response codes).
    pub fn login_failed(&mut self, why: LoginFailure) {
        self.mode = Mode::Command;
        match why {
            LoginFailure::Invalid => self.err("[AUTH] Authentication failed"),
            LoginFailure::Unavailable => self.err("[SYS/TEMP] Try again later"),
            LoginFailure::InUse => self.err("[IN-USE] Mailbox in use by another POP3 session"),
        }
    }

    /// The AUTH PLAIN response did not decode.
    pub fn auth_malformed(&mut self) {
        self.mode = Mode::Command;
        self.error("Malformed PLAIN response");
    }

    /// The retrieval's data has been sent.
    pub fn retrieve_done(&mut self) {
        self.mode = Mode::Command;
    }

    /// The message to retrieve was expunged by another session since login: its +OK line (not
    /// sent yet) becomes an -ERR.
    pub fn retrieve_gone(&mut self) {
        self.io.out.truncate(self.retrieve_ok_at);
        self.err("[SYS/TEMP] Message was removed by another session");
        self.mode = Mode::Command;
    }

    /// The UPDATE state is over: `Ok(n)` messages removed, or the store failed.
    pub fn update_done(&mut self, removed: Result<usize, ()>) {
        match removed {
            Ok(n) => self.ok(&format!("Bye, {n} messages deleted")),
            Err(()) => self.err("[SYS/TEMP] Deleting failed"),
        }
        self.state = State::Closed;
    }

    /// The TLS handshake after [`Event::StartTls`] succeeded.
    pub fn tls_started(&mut self) {
        self.tls = true;
        self.io.input.clear();
        self.io.pos = 0;
        self.splitter = LineSplitter::new(self.cfg.max_line_bytes);
        self.user = None;
        self.mode = Mode::Command;
    }
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> SessionConfig {
        SessionConfig {
            max_line_bytes: 64,
            max_errors: 3,
            starttls: true,
            tls_active: false,
            plaintext_auth: false,
            expire_days: 0,
        }
    }

    fn drain(s: &mut Pop3Session) -> String {
        let out = String::from_utf8_lossy(s.output()).into_owned();
        s.clear_output();
        out
    }

    fn logged_in() -> Pop3Session {
        let mut c = cfg();
        c.plaintext_auth = true;
        let mut s = Pop3Session::new(c);
        s.feed(b"USER a\r\nPASS b c\r\n");
        assert_eq!(
            s.next_event(),
            Event::Login {
                user: "a".into(),
                password: "b c".into()
            }
        );
        s.login_ok(Maildrop {
            uidvalidity: 0x1234,
            entries: vec![Entry { uid: 3, size: 100 }, Entry { uid: 7, size: 20 }],
        });
        assert_eq!(s.next_event(), Event::NeedInput);
        drain(&mut s);
        s
    }

    #[test]
    fn refuses_logins_before_tls_and_drops_input_after_stls() {
        let mut s = Pop3Session::new(cfg());
        assert_eq!(drain(&mut s), "+OK mailnook POP3 ready\r\n");
        s.feed(b"CAPA\r\nUSER a\r\nSTAT\r\nSTLS\r\nUSER injected\r\n");
        assert_eq!(s.next_event(), Event::StartTls);
        let out = drain(&mut s);
        assert!(
            out.contains("\r\nSTLS\r\n") && !out.contains("\r\nUSER\r\n"),
            "{out}"
        );
        assert!(
            out.contains("-ERR [AUTH] Plaintext authentication disallowed"),
            "{out}"
        );
        assert!(out.contains("-ERR Not allowed in this state"), "{out}");
        assert!(out.ends_with("+OK Begin TLS negotiation\r\n"), "{out}");
        s.tls_started();
        assert_eq!(s.next_event(), Event::NeedInput);
        assert_eq!(s.buffered_input(), 0);
    }

    #[test]
    fn transaction_commands_and_update() {
        let mut s = logged_in();
        s.feed(b"STAT\r\nLIST\r\nUIDL 2\r\nDELE 1\r\nDELE 1\r\nLIST 1\r\nSTAT\r\nRSET\r\nDELE 2\r\nQUIT\r\n");
        assert_eq!(s.next_event(), Event::Update { delete: vec![7] });
        assert_eq!(
            drain(&mut s),
            "+OK 2 120\r\n+OK 2 messages (120 octets)\r\n1 100\r\n2 20\r\n.\r\n\
             +OK 2 0000000700001234\r\n+OK Marked to be deleted\r\n-ERR Message is deleted\r\n\
             -ERR Message is deleted\r\n+OK 1 20\r\n+OK\r\n\
             +OK Marked to be deleted\r\n"
        );
        s.update_done(Ok(1));
        assert_eq!(s.next_event(), Event::Close);
        assert_eq!(drain(&mut s), "+OK Bye, 1 messages deleted\r\n");
    }

    #[test]
    fn retrieve_top_and_bad_numbers() {
        let mut s = logged_in();
        s.feed(b"RETR 0\r\nRETR 3\r\nRETR x\r\nTOP 2 5\r\n");
        assert_eq!(
            s.next_event(),
            Event::Retrieve {
                uid: 7,
                top: Some(5)
            }
        );
        assert_eq!(
            drain(&mut s),
            "-ERR Invalid message number\r\n-ERR No such message\r\n-ERR Invalid message number\r\n+OK\r\n"
        );
        s.retrieve_done();
        s.feed(b"RETR 1\r\n");
        assert_eq!(s.next_event(), Event::Retrieve { uid: 3, top: None });
        assert_eq!(drain(&mut s), "+OK 100 octets\r\n");
    }

    #[test]
    fn errors_close_the_session_at_the_limit() {
        let mut s = Pop3Session::new(cfg());
        drain(&mut s);
        let long = vec![b'x'; 100];
        s.feed(&long);
        s.feed(b"\r\nFROB\r\nSTAT\r\nNOOP\r\n");
        assert_eq!(s.next_event(), Event::Close);
        assert_eq!(
            drain(&mut s),
            "-ERR Line too long\r\n-ERR Unknown command\r\n-ERR Not allowed in this state\r\n\
             -ERR Too many errors, closing\r\n"
        );
    }

    #[test]
    fn auth_plain_with_and_without_initial_response() {
        let mut c = cfg();
        c.tls_active = true;
        let mut s = Pop3Session::new(c);
        drain(&mut s);
        s.feed(b"AUTH PLAIN AGEAYg==\r\n");
        assert_eq!(s.next_event(), Event::AuthPlain(b"AGEAYg==".to_vec()));
        s.login_failed(LoginFailure::Invalid);
        s.feed(b"AUTH PLAIN\r\n*\r\nAUTH plain\r\nAGEAYg==\r\n");
        assert_eq!(s.next_event(), Event::AuthPlain(b"AGEAYg==".to_vec()));
        assert_eq!(
            drain(&mut s),
            "-ERR [AUTH] Authentication failed\r\n+ \r\n-ERR Authentication cancelled\r\n+ \r\n"
        );
    }
}

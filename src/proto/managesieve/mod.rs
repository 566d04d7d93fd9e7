//! The ManageSieve server session (RFC 5804) as a sans-IO state machine.
//!
//! The session owns the protocol: command framing with literals ([`frame`]), the
//! non-authenticated and authenticated states, the capability list, SASL PLAIN's exchange and
//! every response's syntax and response code (RFC 5804 §1.3). The driver verifies logins,
//! compiles scripts and reads and changes the user's scripts in the store, and reports back with
//! an [`Outcome`], a listing or a script text.
//!
//! Invariants:
//! - buffered input never exceeds one line plus one read, and a command's literals together are
//!   at most `max_script_bytes` plus one line; a larger literal is skipped octet by octet, so the
//!   session stays in step with the client (answered `NO (QUOTA/MAXSIZE)` for a script);
//! - AUTHENTICATE is refused with `NO (ENCRYPT-NEEDED)` unless TLS is active, and SASL PLAIN is
//!   advertised only inside TLS;
//! - input received after STARTTLS in the same read is discarded (the STARTTLS command-injection
//!   class), and the capabilities are sent again once TLS is up (RFC 5804 §2.2);
//! - script commands are emitted only in the authenticated state, with a name that is UTF-8 and
//!   a script that is UTF-8 and within `max_script_bytes`;
//! - `max_errors` protocol errors end the session with BYE.

pub mod frame;

use super::imap::response::{literal, quoted};
use frame::{Assembled, Assembler, Failure, Part, Token};

use super::line::{Buffers, Exchange};

/// Longest command line the driver allows, in octets, literals excluded: the grammar's longest
/// line is a verb and two quoted strings of 1024 characters, each of which may need escaping
/// (RFC 5804 §4).
pub const MAX_LINE_BYTES: usize = 8 * 1024;

/// Limits and facts fixed for one session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Longest command line in octets, CRLF included, literals excluded.
    pub max_line_bytes: usize,
    /// Protocol errors before the session is closed.
    pub max_errors: u32,
    /// Largest script in octets (PUTSCRIPT, CHECKSCRIPT, HAVESPACE).
    pub max_script_bytes: usize,
    /// Whether STARTTLS can be offered (a certificate is loaded).
    pub starttls: bool,
    /// Whether the connection is already inside TLS.
    pub tls_active: bool,
    /// The Sieve extensions, space-separated (the SIEVE capability, RFC 5804 §1.7).
    pub extensions: String,
    /// Most redirects one script run may make (the MAXREDIRECTS capability).
    pub max_redirects: usize,
}

/// Connection state (RFC 5804 §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Before a successful AUTHENTICATE.
    NonAuthenticated,
    /// Logged in: script commands are allowed.
    Authenticated,
    /// Over (after LOGOUT, or closed).
    Closed,
}

/// Why a login failed, as the driver reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFailure {
    /// Wrong user or password.
    Invalid,
    /// Throttled, blocked or the store failed: `NO (TRYLATER)`.
    Unavailable,
}

/// How a script command ended, as the driver reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done.
    Ok,
    /// `NO (NONEXISTENT)`: no script of that name.
    NonExistent,
    /// `NO (ACTIVE)`: the active script cannot be deleted (RFC 5804 §2.10).
    Active,
    /// `NO (ALREADYEXISTS)`: the new name is taken (RFC 5804 §2.11.1).
    AlreadyExists,
    /// `NO (QUOTA/MAXSCRIPTS)`: the user has as many scripts as allowed.
    MaxScripts,
    /// `NO (QUOTA/MAXSIZE)`: the script is too large.
    MaxSize,
    /// `NO` with this text: the script does not compile, or the name is not valid.
    Invalid(String),
    /// `NO (TRYLATER)`: the store failed.
    TryLater,
}

/// What the session needs from its driver.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// Send [`ManageSieveSession::output`], then read and [`feed`](ManageSieveSession::feed).
    NeedInput,
    /// STARTTLS accepted: send the output, do the handshake, then call `tls_started`.
    StartTls,
    /// An AUTHENTICATE PLAIN response (base64 text, RFC 4616) to decode; then `login_ok`,
    /// `login_failed` or `auth_malformed`.
    AuthPlain(Vec<u8>),
    /// UNAUTHENTICATE: forget the logged-in user (the OK is already in the output).
    Unauthenticated,
    /// HAVESPACE (RFC 5804 §2.5); the size is already within `max_script_bytes`. Answer with
    /// `done`.
    HaveSpace {
        /// The script name.
        name: String,
    },
    /// PUTSCRIPT (RFC 5804 §2.6): compile, then store; answer with `done`.
    PutScript {
        /// The script name.
        name: String,
        /// The script.
        text: String,
    },
    /// CHECKSCRIPT (RFC 5804 §2.12): compile only; answer with `done`.
    CheckScript(String),
    /// LISTSCRIPTS (RFC 5804 §2.7): answer with `listing` or `done`.
    ListScripts,
    /// SETACTIVE (RFC 5804 §2.8); `None` (the empty name) deactivates. Answer with `done`.
    SetActive(Option<String>),
    /// GETSCRIPT (RFC 5804 §2.9): answer with `script` or `done`.
    GetScript(String),
    /// DELETESCRIPT (RFC 5804 §2.10): answer with `done`.
    DeleteScript(String),
    /// RENAMESCRIPT (RFC 5804 §2.11.1): answer with `done`.
    RenameScript {
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// Send the output and close the connection.
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Reading commands.
    Command,
    /// AUTHENTICATE PLAIN sent an empty challenge: the next string is the response.
    Sasl,
    /// Waiting for the driver.
    Busy,
}

/// The server side of one ManageSieve connection.
#[derive(Debug)]
pub struct ManageSieveSession {
    cfg: SessionConfig,
    state: State,
    mode: Mode,
    assembler: Assembler,
    io: Buffers,
    errors: u32,
    tls: bool,
    /// The logged-in user (the OWNER capability).
    owner: Option<String>,
}

/// Writes `s` as a string: quoted when it can be (RFC 5804 §4 `quoted`: UTF-8 allowed, at most
/// 1024 octets), else a literal (`literal-s2c`: the server's literals have no "+"). The string
/// syntax is IMAP's, so IMAP's writers serve.
fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() <= 1024 && !s.iter().any(|&b| matches!(b, 0 | b'\r' | b'\n')) {
        quoted(out, s);
    } else {
        literal(out, s);
    }
}

/// A command's arguments, checked against what each command takes.
struct Args(std::vec::IntoIter<Token>);

impl Args {
    fn string(&mut self) -> Option<Vec<u8>> {
        match self.0.next()? {
            Token::Str(s) => Some(s),
            Token::Atom(_) => None,
        }
    }

    fn name(&mut self) -> Option<String> {
        String::from_utf8(self.string()?).ok()
    }

    fn number(&mut self) -> Option<u64> {
        match self.0.next()? {
            // RFC 5804 §4: number = 1*DIGIT, below 2^32.
            Token::Atom(a) if a.len() <= 10 && a.bytes().all(|b| b.is_ascii_digit()) => {
                a.parse().ok().filter(|&n| n <= u64::from(u32::MAX))
            }
            _ => None,
        }
    }

    fn end(&mut self) -> bool {
        self.0.next().is_none()
    }
}

impl Exchange for ManageSieveSession {
    fn buffers(&self) -> &Buffers {
        &self.io
    }

    fn buffers_mut(&mut self) -> &mut Buffers {
        &mut self.io
    }
}

impl ManageSieveSession {
    /// Starts a session; the greeting (the capabilities, RFC 5804 §1.8) is already in the
    /// output.
    pub fn new(cfg: SessionConfig) -> ManageSieveSession {
        let mut s = ManageSieveSession {
            assembler: Assembler::new(
                cfg.max_line_bytes,
                cfg.max_script_bytes + cfg.max_line_bytes,
            ),
            tls: cfg.tls_active,
            cfg,
            state: State::NonAuthenticated,
            mode: Mode::Command,
            io: Buffers::default(),
            errors: 0,
            owner: None,
        };
        s.capabilities();
        s.ok(None, "mailnook ManageSieve ready");
        s
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

    /// `OK`, `NO` or `BYE` with an optional response code and a text.
    fn respond(&mut self, word: &str, code: Option<&str>, text: &str) {
        self.io.out.extend_from_slice(word.as_bytes());
        if let Some(code) = code {
            self.io.out.extend_from_slice(b" (");
            self.io.out.extend_from_slice(code.as_bytes());
            self.io.out.push(b')');
        }
        if !text.is_empty() {
            self.io.out.push(b' ');
            put_string(&mut self.io.out, text.as_bytes());
        }
        self.io.out.extend_from_slice(b"\r\n");
    }

    fn ok(&mut self, code: Option<&str>, text: &str) {
        self.respond("OK", code, text);
    }

    fn no(&mut self, code: Option<&str>, text: &str) {
        self.respond("NO", code, text);
    }

    /// A protocol error: counted, and past the limit the session ends.
    fn error(&mut self, text: &str) {
        self.no(None, text);
        self.errors += 1;
        if self.errors >= self.cfg.max_errors {
            self.respond("BYE", None, "Too many errors");
            self.state = State::Closed;
        }
    }

    /// Ends the session with BYE (timeouts, shutdown); `code` e.g. `TRYLATER`.
    pub fn close_with(&mut self, code: Option<&str>, text: &str) {
        if self.state != State::Closed {
            self.respond("BYE", code, text);
            self.state = State::Closed;
        }
    }

    fn capability(&mut self, name: &str, value: Option<&str>) {
        put_string(&mut self.io.out, name.as_bytes());
        if let Some(v) = value {
            self.io.out.push(b' ');
            put_string(&mut self.io.out, v.as_bytes());
        }
        self.io.out.extend_from_slice(b"\r\n");
    }

    /// The capability lines (RFC 5804 §1.7), without the closing OK.
    fn capabilities(&mut self) {
        self.capability("IMPLEMENTATION", Some("mailnook"));
        let extensions = self.cfg.extensions.clone();
        self.capability("SIEVE", Some(&extensions));
        if self.tls {
            self.capability("SASL", Some("PLAIN"));
        } else if self.cfg.starttls {
            // §1.7: the list may be empty only when STARTTLS is offered.
            self.capability("SASL", Some(""));
            self.capability("STARTTLS", None);
        }
        if let Some(owner) = self.owner.clone() {
            self.capability("OWNER", Some(&owner));
        }
        self.capability("MAXREDIRECTS", Some(&self.cfg.max_redirects.to_string()));
        self.capability("UNAUTHENTICATE", None);
        self.capability("VERSION", Some("1.0"));
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
            let (used, found) = self.assembler.next(&self.io.input[self.io.pos..]);
            self.io.pos += used;
            let event = match found {
                Assembled::Incomplete => return Event::NeedInput,
                Assembled::Unframeable => {
                    self.close_with(None, "Literal length out of range");
                    continue;
                }
                Assembled::Dropped(failure, first) => {
                    self.dropped(failure, &first);
                    continue;
                }
                Assembled::Command(parts) if self.mode == Mode::Sasl => self.sasl_response(&parts),
                Assembled::Command(parts) => self.command(&parts),
            };
            if let Some(event) = event {
                return event;
            }
        }
    }

    /// A command too long to keep: answered, and the session goes on in step.
    fn dropped(&mut self, failure: Failure, first: &[u8]) {
        if self.mode == Mode::Sasl {
            self.mode = Mode::Command;
            return self.error("Authentication response too long");
        }
        let verb = first.split(|&b| b == b' ').next().unwrap_or(b"");
        let script =
            verb.eq_ignore_ascii_case(b"PUTSCRIPT") || verb.eq_ignore_ascii_case(b"CHECKSCRIPT");
        match failure {
            Failure::TooLarge if script && self.state == State::Authenticated => {
                let text = format!("Script exceeds {} bytes", self.cfg.max_script_bytes);
                self.no(Some("QUOTA/MAXSIZE"), &text);
            }
            Failure::TooLarge => self.error("Command too long"),
            Failure::LineTooLong => self.error("Line too long"),
        }
    }

    /// The string answering AUTHENTICATE's empty challenge (RFC 5804 §2.1).
    fn sasl_response(&mut self, parts: &[Part]) -> Option<Event> {
        self.mode = Mode::Command;
        match frame::tokens(parts).as_deref() {
            Ok([Token::Str(s)]) if s == b"*" => {
                self.no(None, "Authentication cancelled");
                None
            }
            Ok([Token::Str(s)]) => {
                self.mode = Mode::Busy;
                Some(Event::AuthPlain(s.clone()))
            }
            _ => {
                self.error("Malformed authentication response");
                None
            }
        }
    }

    /// Executes one command; returns an event when the driver must act.
    fn command(&mut self, parts: &[Part]) -> Option<Event> {
        let tokens = match frame::tokens(parts) {
            Ok(t) => t,
            Err(e) => {
                self.error(e);
                return None;
            }
        };
        let mut tokens = tokens.into_iter();
        let verb = match tokens.next() {
            Some(Token::Atom(a)) => a.to_ascii_uppercase(),
            None => {
                self.error("Empty command");
                return None;
            }
            Some(Token::Str(_)) => {
                self.error("Unknown command");
                return None;
            }
        };
        let mut args = Args(tokens.collect::<Vec<_>>().into_iter());
        let authenticated = self.state == State::Authenticated;
        match verb.as_str() {
            // Any state (RFC 5804 §2.3, §2.4, §2.13).
            "CAPABILITY" if args.end() => {
                self.capabilities();
                self.ok(None, "");
            }
            "LOGOUT" if args.end() => {
                self.ok(None, "Logout complete");
                self.state = State::Closed;
            }
            "NOOP" => match args.0.len() {
                0 => self.ok(None, "Done"),
                1 => match args.string() {
                    Some(tag) => {
                        // §2.13: the argument is echoed in a TAG response code.
                        let mut code = b"TAG ".to_vec();
                        put_string(&mut code, &tag);
                        if code.contains(&b'\n') {
                            self.error("Invalid NOOP tag");
                        } else {
                            self.ok(Some(&String::from_utf8_lossy(&code)), "Done");
                        }
                    }
                    None => self.error("Syntax error in NOOP"),
                },
                _ => self.error("Syntax error in NOOP"),
            },
            // Non-authenticated state (§2.1, §2.2).
            "STARTTLS" | "AUTHENTICATE" if authenticated => {
                self.error("Not allowed after authentication")
            }
            "STARTTLS" if args.end() => {
                if self.tls || !self.cfg.starttls {
                    self.error("STARTTLS not available");
                } else {
                    self.ok(None, "Begin TLS negotiation now");
                    // Nothing sent before the handshake may count after it.
                    self.io.input.clear();
                    self.io.pos = 0;
                    self.assembler.reset();
                    self.mode = Mode::Busy;
                    return Some(Event::StartTls);
                }
            }
            "AUTHENTICATE" => return self.authenticate(args),
            "HAVESPACE" | "PUTSCRIPT" | "LISTSCRIPTS" | "SETACTIVE" | "GETSCRIPT"
            | "DELETESCRIPT" | "RENAMESCRIPT" | "CHECKSCRIPT" | "UNAUTHENTICATE"
                if !authenticated =>
            {
                self.error("Authenticate first")
            }
            "UNAUTHENTICATE" if args.end() => {
                // §2.14: back to the non-authenticated state.
                self.state = State::NonAuthenticated;
                self.owner = None;
                self.ok(None, "Unauthenticated");
                return Some(Event::Unauthenticated);
            }
            "LISTSCRIPTS" if args.end() => return self.busy(Event::ListScripts),
            "HAVESPACE" => match (args.name(), args.number()) {
                (Some(name), Some(size)) if args.end() => {
                    if size > self.cfg.max_script_bytes as u64 {
                        let text = format!("Script exceeds {} bytes", self.cfg.max_script_bytes);
                        self.no(Some("QUOTA/MAXSIZE"), &text);
                    } else {
                        return self.busy(Event::HaveSpace { name });
                    }
                }
                _ => self.error("Syntax error in HAVESPACE"),
            },
            "PUTSCRIPT" | "CHECKSCRIPT" => {
                let name = if verb == "PUTSCRIPT" {
                    match args.name() {
                        Some(n) => Some(n),
                        None => {
                            self.error("Syntax error in PUTSCRIPT");
                            return None;
                        }
                    }
                } else {
                    None
                };
                let script = args.string();
                match script {
                    Some(script) if args.end() => {
                        if script.len() > self.cfg.max_script_bytes {
                            let text =
                                format!("Script exceeds {} bytes", self.cfg.max_script_bytes);
                            self.no(Some("QUOTA/MAXSIZE"), &text);
                            return None;
                        }
                        let Ok(text) = String::from_utf8(script) else {
                            // RFC 5228 §2.1: scripts are UTF-8.
                            self.no(None, "Script is not UTF-8");
                            return None;
                        };
                        return self.busy(match name {
                            Some(name) => Event::PutScript { name, text },
                            None => Event::CheckScript(text),
                        });
                    }
                    _ => self.error(&format!("Syntax error in {verb}")),
                }
            }
            "SETACTIVE" | "GETSCRIPT" | "DELETESCRIPT" => match args.name() {
                Some(name) if args.end() => {
                    return self.busy(match verb.as_str() {
                        "SETACTIVE" => Event::SetActive(Some(name).filter(|n| !n.is_empty())),
                        "GETSCRIPT" => Event::GetScript(name),
                        _ => Event::DeleteScript(name),
                    });
                }
                _ => self.error(&format!("Syntax error in {verb}")),
            },
            "RENAMESCRIPT" => match (args.name(), args.name()) {
                (Some(from), Some(to)) if args.end() => {
                    return self.busy(Event::RenameScript { from, to });
                }
                _ => self.error("Syntax error in RENAMESCRIPT"),
            },
            "CAPABILITY" | "LOGOUT" | "STARTTLS" | "UNAUTHENTICATE" | "LISTSCRIPTS" => {
                self.error(&format!("Syntax error in {verb}"))
            }
            _ => self.error("Unknown command"),
        }
        None
    }

    fn busy(&mut self, event: Event) -> Option<Event> {
        self.mode = Mode::Busy;
        Some(event)
    }

    /// AUTHENTICATE (RFC 5804 §2.1): PLAIN only, inside TLS only.
    fn authenticate(&mut self, mut args: Args) -> Option<Event> {
        let Some(mechanism) = args.string() else {
            self.error("Syntax error in AUTHENTICATE");
            return None;
        };
        let initial = args.string();
        if !args.end() {
            self.error("Syntax error in AUTHENTICATE");
            return None;
        }
        if !self.tls {
            self.no(
                Some("ENCRYPT-NEEDED"),
                "Authentication requires TLS, use STARTTLS",
            );
            return None;
        }
        if !mechanism.eq_ignore_ascii_case(b"PLAIN") {
            self.no(None, "Unsupported authentication mechanism");
            return None;
        }
        match initial {
            Some(initial) => self.busy(Event::AuthPlain(initial)),
            None => {
                // An empty challenge; the response is a string on a line of its own.
                put_string(&mut self.io.out, b"");
                self.io.out.extend_from_slice(b"\r\n");
                self.mode = Mode::Sasl;
                None
            }
        }
    }

    /// The login succeeded as `owner`.
    pub fn login_ok(&mut self, owner: &str) {
        self.owner = Some(owner.to_string());
        self.state = State::Authenticated;
        self.mode = Mode::Command;
        self.ok(None, "Logged in");
    }

    /// The login failed.
    pub fn login_failed(&mut self, why: LoginFailure) {
        self.mode = Mode::Command;
        match why {
            LoginFailure::Invalid => self.no(None, "Authentication failed"),
            LoginFailure::Unavailable => self.no(Some("TRYLATER"), "Try again later"),
        }
    }

    /// The PLAIN response did not decode.
    pub fn auth_malformed(&mut self) {
        self.mode = Mode::Command;
        self.error("Malformed PLAIN response");
    }

    /// A script command's result.
    pub fn done(&mut self, outcome: Outcome) {
        self.mode = Mode::Command;
        match outcome {
            Outcome::Ok => self.ok(None, ""),
            Outcome::NonExistent => self.no(Some("NONEXISTENT"), "No such script"),
            Outcome::Active => self.no(Some("ACTIVE"), "The active script cannot be deleted"),
            Outcome::AlreadyExists => {
                self.no(Some("ALREADYEXISTS"), "A script with that name exists")
            }
            Outcome::MaxScripts => self.no(Some("QUOTA/MAXSCRIPTS"), "Too many scripts"),
            Outcome::MaxSize => {
                let text = format!("Script exceeds {} bytes", self.cfg.max_script_bytes);
                self.no(Some("QUOTA/MAXSIZE"), &text)
            }
            Outcome::Invalid(text) => self.no(None, &text),
            Outcome::TryLater => self.no(Some("TRYLATER"), "Try again later"),
        }
    }

    /// LISTSCRIPTS' answer: each name, the active one marked (RFC 5804 §2.7).
    pub fn listing(&mut self, scripts: &[(String, bool)]) {
        for (name, active) in scripts {
            put_string(&mut self.io.out, name.as_bytes());
            if *active {
                self.io.out.extend_from_slice(b" ACTIVE");
            }
            self.io.out.extend_from_slice(b"\r\n");
        }
        self.done(Outcome::Ok);
    }

    /// GETSCRIPT's answer: the script as a literal, then OK (RFC 5804 §2.9).
    pub fn script(&mut self, text: &str) {
        literal(&mut self.io.out, text.as_bytes());
        self.io.out.extend_from_slice(b"\r\n");
        self.done(Outcome::Ok);
    }

    /// The TLS handshake after [`Event::StartTls`] succeeded: the capabilities again (§2.2).
    pub fn tls_started(&mut self) {
        self.tls = true;
        self.io.input.clear();
        self.io.pos = 0;
        self.assembler.reset();
        self.mode = Mode::Command;
        self.capabilities();
        self.ok(None, "TLS negotiation successful");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> SessionConfig {
        SessionConfig {
            max_line_bytes: 64,
            max_errors: 3,
            max_script_bytes: 100,
            starttls: true,
            tls_active: false,
            extensions: "fileinto vacation".into(),
            max_redirects: 4,
        }
    }

    fn drain(s: &mut ManageSieveSession) -> String {
        let out = String::from_utf8_lossy(s.output()).into_owned();
        s.clear_output();
        out
    }

    fn logged_in() -> ManageSieveSession {
        let mut c = cfg();
        c.tls_active = true;
        let mut s = ManageSieveSession::new(c);
        s.feed(b"AUTHENTICATE \"PLAIN\" \"AGEAYg==\"\r\n");
        assert_eq!(s.next_event(), Event::AuthPlain(b"AGEAYg==".to_vec()));
        s.login_ok("a@example.test");
        assert_eq!(s.next_event(), Event::NeedInput);
        drain(&mut s);
        s
    }

    #[test]
    fn greeting_and_starttls_then_capabilities_again() {
        let mut s = ManageSieveSession::new(cfg());
        assert_eq!(
            drain(&mut s),
            "\"IMPLEMENTATION\" \"mailnook\"\r\n\"SIEVE\" \"fileinto vacation\"\r\n\
             \"SASL\" \"\"\r\n\"STARTTLS\"\r\n\"MAXREDIRECTS\" \"4\"\r\n\"UNAUTHENTICATE\"\r\n\"VERSION\" \"1.0\"\r\n\
             OK \"mailnook ManageSieve ready\"\r\n"
        );
        s.feed(b"AUTHENTICATE \"PLAIN\" \"AGEAYg==\"\r\nLISTSCRIPTS\r\nSTARTTLS\r\nLOGOUT\r\n");
        assert_eq!(s.next_event(), Event::StartTls);
        assert_eq!(
            drain(&mut s),
            "NO (ENCRYPT-NEEDED) \"Authentication requires TLS, use STARTTLS\"\r\n\
             NO \"Authenticate first\"\r\nOK \"Begin TLS negotiation now\"\r\n"
        );
        s.tls_started();
        assert_eq!(s.buffered_input(), 0);
        assert_eq!(s.next_event(), Event::NeedInput);
        let out = drain(&mut s);
        assert!(out.contains("\"SASL\" \"PLAIN\"\r\n") && !out.contains("STARTTLS"));
        assert!(
            out.ends_with("OK \"TLS negotiation successful\"\r\n"),
            "{out}"
        );
    }

    #[test]
    fn plain_with_a_continuation_and_cancel() {
        let mut c = cfg();
        c.tls_active = true;
        let mut s = ManageSieveSession::new(c);
        drain(&mut s);
        s.feed(
            b"AUTHENTICATE \"PLAIN\"\r\n\"*\"\r\nauthenticate \"plain\"\r\n{8+}\r\nAGEAYg==\r\n",
        );
        assert_eq!(s.next_event(), Event::AuthPlain(b"AGEAYg==".to_vec()));
        assert_eq!(
            drain(&mut s),
            "\"\"\r\nNO \"Authentication cancelled\"\r\n\"\"\r\n"
        );
        s.login_failed(LoginFailure::Unavailable);
        assert_eq!(drain(&mut s), "NO (TRYLATER) \"Try again later\"\r\n");
    }

    #[test]
    fn script_commands_and_their_answers() {
        let mut s = logged_in();
        s.feed(b"PUTSCRIPT \"a b\" {5+}\r\nkeep;\r\n");
        assert_eq!(
            s.next_event(),
            Event::PutScript {
                name: "a b".into(),
                text: "keep;".into()
            }
        );
        s.done(Outcome::Invalid("line 1: bad \"x\"".into()));
        s.feed(b"SETACTIVE \"\"\r\n");
        assert_eq!(s.next_event(), Event::SetActive(None));
        s.done(Outcome::Ok);
        s.feed(b"LISTSCRIPTS\r\n");
        assert_eq!(s.next_event(), Event::ListScripts);
        s.listing(&[("x\"y".into(), true), ("z".into(), false)]);
        s.feed(b"GETSCRIPT \"x\"\r\n");
        assert_eq!(s.next_event(), Event::GetScript("x".into()));
        s.script("keep;\r\n");
        s.feed(b"DELETESCRIPT \"x\"\r\n");
        assert_eq!(s.next_event(), Event::DeleteScript("x".into()));
        s.done(Outcome::Active);
        s.feed(b"RENAMESCRIPT \"x\" \"z\"\r\n");
        assert_eq!(
            s.next_event(),
            Event::RenameScript {
                from: "x".into(),
                to: "z".into()
            }
        );
        s.done(Outcome::AlreadyExists);
        s.feed(b"HAVESPACE \"x\" 101\r\nHAVESPACE \"x\" 100\r\n");
        assert_eq!(s.next_event(), Event::HaveSpace { name: "x".into() });
        s.done(Outcome::MaxScripts);
        s.feed(b"NOOP \"t 1\"\r\n");
        assert_eq!(s.next_event(), Event::NeedInput);
        assert_eq!(
            drain(&mut s),
            "NO \"line 1: bad \\\"x\\\"\"\r\nOK\r\n\"x\\\"y\" ACTIVE\r\n\"z\"\r\nOK\r\n\
             {7}\r\nkeep;\r\n\r\nOK\r\n\
             NO (ACTIVE) \"The active script cannot be deleted\"\r\n\
             NO (ALREADYEXISTS) \"A script with that name exists\"\r\n\
             NO (QUOTA/MAXSIZE) \"Script exceeds 100 bytes\"\r\n\
             NO (QUOTA/MAXSCRIPTS) \"Too many scripts\"\r\n\
             OK (TAG \"t 1\") \"Done\"\r\n"
        );
    }

    #[test]
    fn an_oversized_script_is_refused_in_step() {
        let mut s = logged_in();
        let mut input = b"PUTSCRIPT \"big\" {150+}\r\n".to_vec();
        input.extend_from_slice(&[b'\n'; 150]);
        input.extend_from_slice(b"\r\nCHECKSCRIPT {4+}\r\nstop\r\n");
        s.feed(&input);
        assert_eq!(s.next_event(), Event::CheckScript("stop".into()));
        assert_eq!(
            drain(&mut s),
            "NO (QUOTA/MAXSIZE) \"Script exceeds 100 bytes\"\r\n"
        );
    }

    #[test]
    fn errors_close_the_session_at_the_limit() {
        let mut s = ManageSieveSession::new(cfg());
        drain(&mut s);
        s.feed(b"FROB\r\nNOOP \"x\r\nPUTSCRIPT \"a\" {1+}\r\nx\r\nNOOP\r\n");
        assert_eq!(s.next_event(), Event::Close);
        assert_eq!(
            drain(&mut s),
            "NO \"Unknown command\"\r\nNO \"Unterminated quoted string\"\r\n\
             NO \"Authenticate first\"\r\nBYE \"Too many errors\"\r\n"
        );
    }

    #[test]
    fn quoted_or_literal_strings() {
        let mut out = Vec::new();
        put_string(&mut out, b"a\"b");
        put_string(&mut out, b"two\r\nlines");
        assert_eq!(out, b"\"a\\\"b\"{10}\r\ntwo\r\nlines");
    }
}

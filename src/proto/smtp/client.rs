//! The client side of one SMTP transaction (RFC 5321), as the outbound queue and the smarthost
//! use it: a sans-IO state machine that reads replies, writes commands and reports one result per
//! recipient.
//!
//! Flow: greeting → EHLO (HELO if EHLO is refused, RFC 5321 §4.1.4) → STARTTLS when offered or
//! required (RFC 3207; EHLO again afterwards, §4.2) → AUTH PLAIN (RFC 4616, initial response per
//! RFC 4954) or LOGIN when credentials are configured → MAIL FROM (SIZE, BODY=8BITMIME and
//! SMTPUTF8 when needed and offered) → RCPT TO each → DATA → the driver streams the dot-stuffed
//! message ([`crate::proto::dot::DotEncoder`]) → final reply → QUIT. With PIPELINING (RFC 2920)
//! MAIL, every RCPT and DATA go out in one write and the replies are matched in order.
//!
//! Invariants:
//! - a reply line is at most [`MAX_REPLY_LINE`] octets and a reply at most [`MAX_REPLY_LINES`]
//!   lines; anything else is a protocol error, never an allocation the server controls;
//! - every recipient ends with exactly one result; a reply the client cannot parse makes every
//!   open recipient a temporary failure (the queue tries again);
//! - credentials are sent only inside TLS unless the configuration explicitly allows plaintext;
//! - input received before the TLS handshake is dropped (a server cannot inject replies).

use super::super::line::{LineSplitter, Split};

/// Longest reply line accepted, CRLF included (RFC 5321 §4.5.3.1.5 says 512; be lenient).
pub const MAX_REPLY_LINE: usize = 2048;
/// Most lines in one (multi-line) reply.
pub const MAX_REPLY_LINES: usize = 100;

/// When to use TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsPolicy {
    /// STARTTLS when the server offers it, plaintext otherwise (RFC 3207 opportunistic TLS).
    Opportunistic,
    /// STARTTLS is required; a server without it fails the transaction temporarily.
    Required,
    /// The connection is already inside TLS (implicit TLS, RFC 8314).
    Active,
}

/// Credentials for AUTH (smarthost).
#[derive(Clone)]
pub struct Credentials {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Credentials {{ user: {:?}, password: <hidden> }}",
            self.user
        )
    }
}

/// What one connection is for.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The name this side gives in EHLO.
    pub helo: String,
    /// TLS policy.
    pub tls: TlsPolicy,
    /// AUTH credentials, if the server requires them.
    pub auth: Option<Credentials>,
    /// Allow AUTH without TLS (only for a smarthost on loopback).
    pub auth_without_tls: bool,
}

/// The message to send.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// Reverse path without angle brackets; empty for the null sender (bounces).
    pub mail_from: String,
    /// Forward paths without angle brackets.
    pub rcpts: Vec<String>,
    /// Message size in octets (for SIZE, RFC 1870).
    pub size: u64,
    /// The message has 8-bit content (BODY=8BITMIME, RFC 6152).
    pub eight_bit: bool,
    /// An address or header needs SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
}

/// One reply: its code and its text lines joined by a space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The text of every line.
    pub text: String,
}

impl Reply {
    fn local(code: u16, text: &str) -> Reply {
        Reply {
            code,
            text: text.to_string(),
        }
    }

    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 5xx: the attempt must not be repeated.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }
}

/// A recipient's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptResult {
    /// The server took responsibility (final reply 250 after the data).
    Delivered(Reply),
    /// Try again later.
    Deferred(Reply),
    /// Give up and tell the sender.
    Failed(Reply),
}

/// How the transaction went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// One result per recipient, in envelope order.
    pub rcpts: Vec<RcptResult>,
    /// Whether the message went over TLS.
    pub tls: bool,
}

/// What the session needs from its driver.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// Send [`SmtpClient::output`], then read and [`feed`](SmtpClient::feed) (EOF: call
    /// [`SmtpClient::connection_lost`]).
    NeedInput,
    /// Send the output, do the client TLS handshake, then call [`SmtpClient::tls_started`]
    /// (or [`SmtpClient::tls_failed`]).
    StartTls,
    /// 354: send the message through a [`crate::proto::dot::DotEncoder`], then call
    /// [`SmtpClient::body_sent`].
    SendBody,
    /// The transaction is over; send the output (QUIT) and close.
    Done(Outcome),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    AuthPlain,
    AuthLoginUser,
    AuthResult,
    Mail,
    Rcpt(usize),
    Data,
    Body,
    Final,
    Finished,
}

/// The client side of one SMTP connection carrying one message.
#[derive(Debug)]
pub struct SmtpClient {
    cfg: ClientConfig,
    env: Envelope,
    step: Step,
    splitter: LineSplitter,
    input: Vec<u8>,
    pos: usize,
    out: Vec<u8>,
    /// Lines of the reply being read.
    lines: Vec<(u16, String)>,
    tls: bool,
    /// EHLO keywords (upper case) and their parameters.
    extensions: Vec<(String, String)>,
    results: Vec<Option<RcptResult>>,
    /// RCPT replies that were 250.
    accepted: usize,
    pipelined: bool,
}

impl SmtpClient {
    /// A client for one transaction; waits for the greeting.
    pub fn new(cfg: ClientConfig, env: Envelope) -> SmtpClient {
        let results = vec![None; env.rcpts.len()];
        SmtpClient {
            tls: cfg.tls == TlsPolicy::Active,
            cfg,
            env,
            step: Step::Greeting,
            splitter: LineSplitter::new(MAX_REPLY_LINE),
            input: Vec::new(),
            pos: 0,
            out: Vec::new(),
            lines: Vec::new(),
            extensions: Vec::new(),
            results,
            accepted: 0,
            pipelined: false,
        }
    }

    /// Bytes to send before the next read.
    pub fn output(&self) -> &[u8] {
        &self.out
    }

    /// Call after sending [`output`](Self::output).
    pub fn clear_output(&mut self) {
        self.out.clear();
    }

    /// Adds bytes read from the server.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.pos > 0 {
            self.input.drain(..self.pos);
            self.pos = 0;
        }
        self.input.extend_from_slice(bytes);
    }

    /// Whether the server offered `keyword` in its last EHLO reply.
    pub fn offers(&self, keyword: &str) -> bool {
        self.extensions.iter().any(|(k, _)| k == keyword)
    }

    fn param(&self, keyword: &str) -> Option<&str> {
        self.extensions
            .iter()
            .find(|(k, _)| k == keyword)
            .map(|(_, p)| p.as_str())
    }

    fn send(&mut self, line: &str) {
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// Gives every recipient without a result this one; the transaction is over.
    fn fail_all(&mut self, reply: Reply) -> Event {
        for r in self.results.iter_mut().filter(|r| r.is_none()) {
            *r = Some(if reply.is_permanent() {
                RcptResult::Failed(reply.clone())
            } else {
                RcptResult::Deferred(reply.clone())
            });
        }
        self.finish(true)
    }

    fn finish(&mut self, quit: bool) -> Event {
        if quit && self.step != Step::Finished {
            self.send("QUIT");
        }
        self.step = Step::Finished;
        let rcpts = self
            .results
            .iter()
            .map(|r| {
                r.clone().unwrap_or_else(|| {
                    RcptResult::Deferred(Reply::local(451, "no reply for this recipient"))
                })
            })
            .collect();
        Event::Done(Outcome {
            rcpts,
            tls: self.tls,
        })
    }

    /// The server closed the connection or a read failed.
    pub fn connection_lost(&mut self) -> Event {
        if self.step == Step::Finished {
            return self.finish(false);
        }
        self.step = Step::Finished;
        self.fail_all(Reply::local(421, "connection lost"))
    }

    /// Reads the next complete reply from the input, if there is one.
    fn read_reply(&mut self) -> Result<Option<Reply>, Reply> {
        loop {
            let (used, split) = self.splitter.split(&self.input[self.pos..]);
            let line = match split {
                Split::Incomplete if used == 0 => return Ok(None),
                Split::Incomplete => {
                    self.pos += used;
                    continue;
                }
                Split::TooLong => return Err(Reply::local(451, "reply line too long")),
                Split::Line { line, .. } => line.to_vec(),
            };
            self.pos += used;
            let code = line
                .get(..3)
                .filter(|c| c.iter().all(u8::is_ascii_digit) && (b'2'..=b'5').contains(&c[0]))
                .map(|c| c.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0')));
            let sep = line.get(3).copied();
            let (Some(code), Some(b' ' | b'-') | None) = (code, sep) else {
                return Err(Reply::local(451, "malformed reply from the server"));
            };
            if self.lines.first().is_some_and(|(c, _)| *c != code) {
                return Err(Reply::local(451, "reply changes its code"));
            }
            let text = String::from_utf8_lossy(line.get(4..).unwrap_or_default()).into_owned();
            self.lines.push((code, text));
            if self.lines.len() > MAX_REPLY_LINES {
                return Err(Reply::local(451, "reply too long"));
            }
            if sep != Some(b'-') {
                let lines = std::mem::take(&mut self.lines);
                let text = lines
                    .iter()
                    .map(|(_, t)| t.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                if self.step == Step::Ehlo {
                    self.extensions = lines
                        .iter()
                        .skip(1)
                        .map(|(_, t)| {
                            let (k, p) = t.split_once(' ').unwrap_or((t, ""));
                            (k.to_ascii_uppercase(), p.to_string())
                        })
                        .collect();
                }
                return Ok(Some(Reply { code, text }));
            }
        }
    }

    /// What the client needs next.
    pub fn next_event(&mut self) -> Event {
        loop {
            if self.step == Step::Finished {
                return Event::NeedInput;
            }
            if self.step == Step::Body {
                return Event::NeedInput;
            }
            let reply = match self.read_reply() {
                Ok(Some(r)) => r,
                Ok(None) => return Event::NeedInput,
                Err(e) => return self.fail_all(e),
            };
            if let Some(event) = self.on_reply(reply) {
                return event;
            }
        }
    }

    fn ehlo(&mut self) {
        let line = format!("EHLO {}", self.cfg.helo);
        self.send(&line);
        self.step = Step::Ehlo;
    }

    /// Handles one reply in the current step.
    fn on_reply(&mut self, r: Reply) -> Option<Event> {
        match self.step {
            Step::Greeting if r.code == 220 => self.ehlo(),
            Step::Greeting => return Some(self.fail_all(r)),
            Step::Ehlo if r.is_positive() => return self.after_ehlo(),
            Step::Ehlo if r.is_permanent() && !self.tls => {
                // RFC 5321 §4.1.4: an old server; HELO has no extensions.
                self.extensions.clear();
                let line = format!("HELO {}", self.cfg.helo);
                self.send(&line);
                self.step = Step::Helo;
            }
            Step::Helo if r.is_positive() => return self.after_ehlo(),
            Step::Ehlo | Step::Helo => return Some(self.fail_all(r)),
            Step::StartTls if r.code == 220 => {
                // Nothing the server sent before the handshake may count after it.
                self.input.clear();
                self.pos = 0;
                return Some(Event::StartTls);
            }
            Step::StartTls if self.cfg.tls == TlsPolicy::Required => {
                return Some(self.fail_all(Reply::local(
                    451,
                    &format!("STARTTLS refused: {} {}", r.code, r.text),
                )));
            }
            Step::StartTls => return self.start_mail(),
            Step::AuthPlain | Step::AuthResult if r.code == 235 => return self.start_mail(),
            Step::AuthLoginUser if r.code == 334 => {
                let pass = self
                    .cfg
                    .auth
                    .as_ref()
                    .map(|c| crate::base64::encode(c.password.as_bytes(), true));
                self.send(&pass.unwrap_or_default());
                self.step = Step::AuthResult;
            }
            Step::AuthPlain | Step::AuthLoginUser | Step::AuthResult => {
                // RFC 4954 §6: 535 is a wrong password. It is a fault of this configuration,
                // not of the message, so every recipient is deferred (the operator can fix the
                // credentials before the age limit), never bounced.
                return Some(self.fail_all(Reply {
                    code: 454,
                    text: format!("authentication at the relay failed: {} {}", r.code, r.text),
                }));
            }
            Step::Mail if r.is_positive() => {
                if !self.pipelined {
                    self.rcpt(0);
                } else {
                    self.step = Step::Rcpt(0);
                }
            }
            // Pipelined RCPT and DATA replies may still arrive; the session is over, they are
            // not read.
            Step::Mail => return Some(self.fail_all(r)),
            Step::Rcpt(i) => {
                if r.is_positive() {
                    self.accepted += 1;
                } else {
                    self.results[i] = Some(if r.is_permanent() {
                        RcptResult::Failed(r)
                    } else {
                        RcptResult::Deferred(r)
                    });
                }
                let next = i + 1;
                if next < self.env.rcpts.len() {
                    if self.pipelined {
                        self.step = Step::Rcpt(next);
                    } else {
                        self.rcpt(next);
                    }
                } else if self.accepted == 0 && !self.pipelined {
                    return Some(self.finish(true));
                } else {
                    if !self.pipelined {
                        self.send("DATA");
                    }
                    self.step = Step::Data;
                }
            }
            Step::Data if r.code == 354 => {
                if self.accepted == 0 {
                    // Pipelined DATA accepted with no recipient (RFC 2920 §3.1): end it empty.
                    self.send(".");
                    self.step = Step::Final;
                    return None;
                }
                self.step = Step::Body;
                return Some(Event::SendBody);
            }
            Step::Data => return Some(self.fail_all(r)),
            Step::Final => {
                let accepted_before: Vec<bool> = self.results.iter().map(Option::is_none).collect();
                for (i, open) in accepted_before.into_iter().enumerate() {
                    if open {
                        self.results[i] = Some(if r.is_positive() && self.accepted > 0 {
                            RcptResult::Delivered(r.clone())
                        } else if r.is_permanent() {
                            RcptResult::Failed(r.clone())
                        } else {
                            RcptResult::Deferred(r.clone())
                        });
                    }
                }
                return Some(self.finish(true));
            }
            Step::Body | Step::Finished => {}
        }
        None
    }

    /// EHLO or HELO succeeded: TLS, then AUTH, then the transaction.
    fn after_ehlo(&mut self) -> Option<Event> {
        if !self.tls {
            let offered = self.offers("STARTTLS");
            if offered && self.cfg.tls != TlsPolicy::Active {
                self.send("STARTTLS");
                self.step = Step::StartTls;
                return None;
            }
            if self.cfg.tls == TlsPolicy::Required {
                return Some(
                    self.fail_all(Reply::local(451, "the server does not offer STARTTLS")),
                );
            }
        }
        self.start_mail()
    }

    /// AUTH if configured, else MAIL.
    fn start_mail(&mut self) -> Option<Event> {
        if let Some(creds) = self.cfg.auth.clone()
            && !matches!(self.step, Step::AuthPlain | Step::AuthResult)
        {
            if !self.tls && !self.cfg.auth_without_tls {
                return Some(self.fail_all(Reply::local(
                    451,
                    "refusing to send credentials without TLS",
                )));
            }
            let mechs = self.param("AUTH").unwrap_or("").to_ascii_uppercase();
            let mechs: Vec<&str> = mechs.split(' ').collect();
            if mechs.contains(&"PLAIN") {
                let mut msg = vec![0u8];
                msg.extend_from_slice(creds.user.as_bytes());
                msg.push(0);
                msg.extend_from_slice(creds.password.as_bytes());
                let line = format!("AUTH PLAIN {}", crate::base64::encode(&msg, true));
                self.send(&line);
                self.step = Step::AuthPlain;
            } else if mechs.contains(&"LOGIN") {
                // RFC 4954 §4 initial response for LOGIN is the user name.
                let line = format!(
                    "AUTH LOGIN {}",
                    crate::base64::encode(creds.user.as_bytes(), true)
                );
                self.send(&line);
                self.step = Step::AuthLoginUser;
            } else {
                return Some(self.fail_all(Reply::local(
                    451,
                    "the server offers no AUTH mechanism we support",
                )));
            }
            return None;
        }
        let mut mail = format!("MAIL FROM:<{}>", self.env.mail_from);
        if self.offers("SIZE") {
            mail.push_str(&format!(" SIZE={}", self.env.size));
        }
        if self.env.eight_bit && self.offers("8BITMIME") {
            mail.push_str(" BODY=8BITMIME");
        }
        if self.env.smtputf8 {
            if !self.offers("SMTPUTF8") {
                // RFC 6531 §3.4: the message cannot be downgraded here.
                return Some(self.fail_all(Reply::local(
                    553,
                    "the receiving server does not support SMTPUTF8",
                )));
            }
            mail.push_str(" SMTPUTF8");
        }
        self.send(&mail);
        self.step = Step::Mail;
        self.pipelined = self.offers("PIPELINING");
        if self.pipelined {
            // RFC 2920 §3.1: MAIL, every RCPT and DATA in one group.
            for i in 0..self.env.rcpts.len() {
                let line = format!("RCPT TO:<{}>", self.env.rcpts[i]);
                self.send(&line);
            }
            self.send("DATA");
        }
        None
    }

    fn rcpt(&mut self, i: usize) {
        let line = format!("RCPT TO:<{}>", self.env.rcpts[i]);
        self.send(&line);
        self.step = Step::Rcpt(i);
    }

    /// The TLS handshake succeeded: EHLO again (RFC 3207 §4.2).
    pub fn tls_started(&mut self) {
        self.tls = true;
        self.input.clear();
        self.pos = 0;
        self.extensions.clear();
        self.ehlo();
    }

    /// The TLS handshake failed: the transaction is deferred (the queue may retry without TLS
    /// only if its policy allows).
    pub fn tls_failed(&mut self, why: &str) -> Event {
        self.step = Step::Finished;
        let reply = Reply::local(451, &format!("TLS handshake failed: {why}"));
        self.fail_all(reply)
    }

    /// The dot-stuffed body and its final "." have been written.
    pub fn body_sent(&mut self) {
        self.step = Step::Final;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(tls: TlsPolicy) -> ClientConfig {
        ClientConfig {
            helo: "a.test".into(),
            tls,
            auth: None,
            auth_without_tls: false,
        }
    }

    fn env(rcpts: &[&str]) -> Envelope {
        Envelope {
            mail_from: "s@a.test".into(),
            rcpts: rcpts.iter().map(|r| r.to_string()).collect(),
            size: 100,
            eight_bit: false,
            smtputf8: false,
        }
    }

    fn take(c: &mut SmtpClient) -> String {
        let out = String::from_utf8(c.output().to_vec()).unwrap();
        c.clear_output();
        out
    }

    #[test]
    fn pipelined_transaction_with_one_refused_recipient() {
        let mut c = SmtpClient::new(
            cfg(TlsPolicy::Opportunistic),
            env(&["x@b.test", "y@b.test"]),
        );
        c.feed(b"220 b.test ESMTP\r\n");
        assert_eq!(c.next_event(), Event::NeedInput);
        assert_eq!(take(&mut c), "EHLO a.test\r\n");
        c.feed(b"250-b.test\r\n250-PIPELINING\r\n250 SIZE 1000\r\n");
        assert_eq!(c.next_event(), Event::NeedInput);
        assert_eq!(
            take(&mut c),
            "MAIL FROM:<s@a.test> SIZE=100\r\nRCPT TO:<x@b.test>\r\nRCPT TO:<y@b.test>\r\nDATA\r\n"
        );
        c.feed(b"250 ok\r\n550 5.1.1 no such user\r\n250 ok\r\n354 go\r\n");
        assert_eq!(c.next_event(), Event::SendBody);
        c.body_sent();
        c.feed(b"250 2.0.0 queued as 1\r\n");
        let Event::Done(out) = c.next_event() else {
            panic!()
        };
        assert!(!out.tls);
        assert!(matches!(&out.rcpts[0], RcptResult::Failed(r) if r.code == 550));
        assert!(matches!(&out.rcpts[1], RcptResult::Delivered(r) if r.text == "2.0.0 queued as 1"));
        assert_eq!(take(&mut c), "QUIT\r\n");
    }

    #[test]
    fn starttls_then_ehlo_again_and_auth_plain() {
        let mut config = cfg(TlsPolicy::Required);
        config.auth = Some(Credentials {
            user: "u".into(),
            password: "p".into(),
        });
        let mut c = SmtpClient::new(config, env(&["x@b.test"]));
        c.feed(b"220 hi\r\n250-b\r\n250 STARTTLS\r\n");
        assert_eq!(c.next_event(), Event::NeedInput);
        // The EHLO reply arrived with the greeting: STARTTLS goes out after it.
        assert_eq!(take(&mut c), "EHLO a.test\r\nSTARTTLS\r\n");
        c.feed(b"220 go ahead\r\n250 injected\r\n");
        assert_eq!(c.next_event(), Event::StartTls);
        c.tls_started();
        assert_eq!(c.next_event(), Event::NeedInput);
        assert_eq!(take(&mut c), "EHLO a.test\r\n");
        c.feed(b"250-b\r\n250 AUTH LOGIN PLAIN\r\n");
        c.next_event();
        assert_eq!(take(&mut c), "AUTH PLAIN AHUAcA==\r\n");
        c.feed(b"235 ok\r\n");
        c.next_event();
        assert_eq!(take(&mut c), "MAIL FROM:<s@a.test>\r\n");
        c.feed(b"250 ok\r\n");
        c.next_event();
        assert_eq!(take(&mut c), "RCPT TO:<x@b.test>\r\n");
        c.feed(b"250 ok\r\n");
        c.next_event();
        assert_eq!(take(&mut c), "DATA\r\n");
        c.feed(b"354 go\r\n");
        assert_eq!(c.next_event(), Event::SendBody);
        c.body_sent();
        c.feed(b"451 try later\r\n");
        let Event::Done(out) = c.next_event() else {
            panic!()
        };
        assert!(out.tls);
        assert!(matches!(&out.rcpts[0], RcptResult::Deferred(r) if r.code == 451));
    }

    #[test]
    fn required_tls_without_starttls_and_garbage_defer_everything() {
        let mut c = SmtpClient::new(cfg(TlsPolicy::Required), env(&["x@b.test"]));
        c.feed(b"220 hi\r\n250 b\r\n");
        let Event::Done(out) = c.next_event() else {
            panic!()
        };
        assert!(matches!(&out.rcpts[0], RcptResult::Deferred(r) if r.code == 451));
        let mut c = SmtpClient::new(cfg(TlsPolicy::Opportunistic), env(&["x@b.test"]));
        c.feed(b"220 hi\r\nHTTP/1.1 400 Bad\r\n");
        let Event::Done(out) = c.next_event() else {
            panic!()
        };
        assert!(matches!(&out.rcpts[0], RcptResult::Deferred(r) if r.text.contains("malformed")));
        let mut c = SmtpClient::new(cfg(TlsPolicy::Opportunistic), env(&["x@b.test"]));
        c.feed(b"554 go away\r\n");
        let Event::Done(out) = c.next_event() else {
            panic!()
        };
        assert!(matches!(&out.rcpts[0], RcptResult::Failed(r) if r.code == 554));
        assert_eq!(take(&mut c), "QUIT\r\n");
    }

    #[test]
    fn helo_fallback_and_every_recipient_refused() {
        let mut c = SmtpClient::new(cfg(TlsPolicy::Opportunistic), env(&["x@b.test"]));
        c.feed(b"220 old\r\n500 what\r\n250 hello\r\n250 ok\r\n550 no\r\n");
        let Event::Done(out) = c.next_event() else {
            panic!()
        };
        assert_eq!(
            take(&mut c),
            "EHLO a.test\r\nHELO a.test\r\nMAIL FROM:<s@a.test>\r\nRCPT TO:<x@b.test>\r\nQUIT\r\n"
        );
        assert!(matches!(&out.rcpts[0], RcptResult::Failed(r) if r.code == 550));
    }

    #[test]
    fn replies_are_bounded() {
        let mut c = SmtpClient::new(cfg(TlsPolicy::Opportunistic), env(&["x@b.test"]));
        c.feed(b"220 hi\r\n");
        c.next_event();
        for _ in 0..=MAX_REPLY_LINES {
            c.feed(b"250-x\r\n");
        }
        assert!(matches!(c.next_event(), Event::Done(_)));
        let mut c = SmtpClient::new(cfg(TlsPolicy::Opportunistic), env(&["x@b.test"]));
        c.feed(&vec![b'2'; MAX_REPLY_LINE + 10]);
        assert!(matches!(c.next_event(), Event::Done(_)));
        // A connection lost mid-transaction defers.
        let mut c = SmtpClient::new(cfg(TlsPolicy::Opportunistic), env(&["x@b.test"]));
        let Event::Done(out) = c.connection_lost() else {
            panic!()
        };
        assert!(matches!(&out.rcpts[0], RcptResult::Deferred(r) if r.code == 421));
    }
}

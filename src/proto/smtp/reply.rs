//! SMTP replies (RFC 5321 §4.2) with enhanced status codes (RFC 3463, RFC 2034).
//!
//! The peer sees only these fixed texts: they name no policy, path or setting (STYLE.md
//! "Errors"). Causes go to the log.

use std::borrow::Cow;

/// One reply: code, optional enhanced status code, and text (lines separated by `\n`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Reply {
    /// Three-digit reply code.
    pub code: u16,
    /// Enhanced status code, e.g. `(2, 1, 0)`.
    pub enhanced: Option<(u8, u16, u16)>,
    /// Reply text; `\n` separates the lines of a multi-line reply.
    pub text: Cow<'static, str>,
}

impl Reply {
    /// A reply with an enhanced status code.
    pub const fn new(code: u16, enhanced: (u8, u16, u16), text: &'static str) -> Reply {
        Reply {
            code,
            enhanced: Some(enhanced),
            text: Cow::Borrowed(text),
        }
    }

    /// A reply with computed text.
    pub fn owned(code: u16, enhanced: Option<(u8, u16, u16)>, text: String) -> Reply {
        Reply {
            code,
            enhanced,
            text: Cow::Owned(text),
        }
    }

    /// Whether this is a permanent or transient failure.
    pub fn is_error(&self) -> bool {
        self.code >= 400
    }

    /// Appends the wire form (one line per text line, `-` continuations, CRLF endings).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let lines: Vec<&str> = self.text.split('\n').collect();
        for (i, line) in lines.iter().enumerate() {
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            out.extend_from_slice(format!("{}{}", self.code, sep).as_bytes());
            if let Some((a, b, c)) = self.enhanced {
                out.extend_from_slice(format!("{a}.{b}.{c} ").as_bytes());
            }
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Replies used by the session, in one place so transcripts and code agree.
pub mod r {
    use super::Reply;

    /// 250 after MAIL.
    pub const MAIL_OK: Reply = Reply::new(250, (2, 1, 0), "Sender ok");
    /// 250 after RCPT.
    pub const RCPT_OK: Reply = Reply::new(250, (2, 1, 5), "Recipient ok");
    /// 250 after RSET/NOOP.
    pub const OK: Reply = Reply::new(250, (2, 0, 0), "OK");
    /// 354 after DATA.
    pub const START_DATA: Reply = Reply {
        code: 354,
        enhanced: None,
        text: std::borrow::Cow::Borrowed("End data with <CR><LF>.<CR><LF>"),
    };
    /// 221 after QUIT.
    pub const BYE: Reply = Reply::new(221, (2, 0, 0), "Bye");
    /// 220 after STARTTLS.
    pub const TLS_GO: Reply = Reply::new(220, (2, 0, 0), "Ready to start TLS");
    /// 252 for VRFY (RFC 5321 §3.5.3).
    pub const VRFY: Reply = Reply::new(252, (2, 5, 0), "Cannot VRFY user; try RCPT");
    /// 214 for HELP.
    pub const HELP: Reply = Reply::new(214, (2, 0, 0), "See RFC 5321");
    /// 421 when shutting down.
    pub const SHUTDOWN: Reply =
        Reply::new(421, (4, 3, 2), "Service shutting down, try again later");
    /// 421 after too many errors.
    pub const TOO_MANY_ERRORS: Reply =
        Reply::new(421, (4, 7, 0), "Too many errors, closing connection");
    /// 421 on idle timeout.
    pub const TIMEOUT: Reply = Reply::new(421, (4, 4, 2), "Timeout, closing connection");
    /// 421 when connection limits are reached.
    pub const TOO_MANY_CONNS: Reply =
        Reply::new(421, (4, 7, 0), "Too many connections, try again later");
    /// 421 for an HTTP request on an SMTP port (cross-protocol attacks).
    pub const HTTP: Reply = Reply::new(
        421,
        (4, 7, 0),
        "HTTP is not spoken here, closing connection",
    );
    /// 451 for our own faults (store, resolver).
    pub const LOCAL_ERROR: Reply =
        Reply::new(451, (4, 3, 0), "Local error in processing, try again later");
    /// 452 when the store's disk is full: after the data when the commit failed for lack of
    /// space, at MAIL when the server already knows (RFC 5321 §4.2.2/§4.5.3.1.10 452
    /// "insufficient system storage"; RFC 1870 §6.1 for a SIZE that does not fit; RFC 3463 §3.4:
    /// 4.3.1 mail system full).
    pub const STORAGE_FULL: Reply = Reply::new(452, (4, 3, 1), "Insufficient system storage");
    /// 452 when there are too many recipients (RFC 5321 §4.5.3.1.10).
    pub const TOO_MANY_RCPTS: Reply = Reply::new(452, (4, 5, 3), "Too many recipients");
    /// RCPT for a user already at their quota (RFC 5321 §4.5.3.1.10 allows 452 for "too much
    /// mail"; RFC 3463 §3.3: 4.2.2 mailbox full).
    pub const MAILBOX_FULL_RCPT: Reply = Reply::new(452, (4, 2, 2), "Mailbox full");
    /// End of data: the message does not fit any local recipient's quota (RFC 5321 §4.2.2 552,
    /// RFC 3463 §3.3: 5.2.2 mailbox full).
    pub const MAILBOX_FULL: Reply = Reply::new(552, (5, 2, 2), "Mailbox full");
    /// RCPT of a mailing list together with other recipients: the client sends again in a
    /// transaction of its own (RFC 5321 §4.5.3.1.10: 452 for too many recipients; RFC 3463
    /// §3.6: 4.5.3).
    pub const LIST_ALONE: Reply = Reply::new(
        452,
        (4, 5, 3),
        "Send to the mailing list in a transaction of its own",
    );
    /// RCPT of a mailing list the sender may not post to (RFC 3463 §3.8: 5.7.1).
    pub const LIST_NOT_ALLOWED: Reply =
        Reply::new(550, (5, 7, 1), "You may not post to this mailing list");
    /// 454 when TLS cannot be offered.
    pub const TLS_UNAVAILABLE: Reply = Reply::new(454, (4, 7, 0), "TLS not available");
    /// 500 for an unknown command.
    pub const UNKNOWN: Reply = Reply::new(500, (5, 5, 1), "Command unrecognized");
    /// 500 for an over-long line.
    pub const LINE_TOO_LONG: Reply = Reply::new(500, (5, 5, 2), "Line too long");
    /// 500 for a NUL or bare CR in a command line.
    pub const BAD_CHARS: Reply = Reply::new(500, (5, 5, 2), "Invalid characters in command");
    /// 500 for a command line ended by a bare LF.
    pub const BARE_LF_COMMAND: Reply = Reply::new(500, (5, 5, 2), "Line must end with CRLF");
    /// 501 for a syntax error in arguments.
    pub const SYNTAX: Reply = Reply::new(501, (5, 5, 4), "Syntax error in parameters or arguments");
    /// 501 for a command that takes no arguments.
    pub const NO_ARGS: Reply = Reply::new(501, (5, 5, 4), "This command takes no arguments");
    /// 501 for a bad address.
    pub const BAD_ADDRESS: Reply = Reply::new(501, (5, 1, 3), "Bad address syntax");
    /// 502 for a command that is not implemented.
    pub const NOT_IMPLEMENTED: Reply = Reply::new(502, (5, 5, 1), "Command not implemented");
    /// 503 before EHLO/HELO.
    pub const HELO_FIRST: Reply = Reply::new(503, (5, 5, 1), "Send EHLO first");
    /// 503 for MAIL inside a transaction.
    pub const NESTED_MAIL: Reply = Reply::new(503, (5, 5, 1), "Sender already given");
    /// 503 for RCPT/DATA before MAIL.
    pub const MAIL_FIRST: Reply = Reply::new(503, (5, 5, 1), "Send MAIL first");
    /// 503 for STARTTLS inside TLS.
    pub const ALREADY_TLS: Reply = Reply::new(503, (5, 5, 1), "TLS already active");
    /// 503 for mixing DATA and BDAT.
    pub const BAD_SEQUENCE: Reply = Reply::new(503, (5, 5, 1), "Bad sequence of commands");
    /// 550 for relay attempts.
    pub const RELAY_DENIED: Reply = Reply::new(550, (5, 7, 1), "Relaying denied");
    /// 550 for an unknown local user.
    pub const NO_SUCH_USER: Reply = Reply::new(550, (5, 1, 1), "No such user here");
    /// 550 for a message with bare CR or LF (SMTP smuggling defence).
    pub const BARE_NEWLINE: Reply =
        Reply::new(550, (5, 6, 0), "Message refused: lines must end with CRLF");
    /// 552 for an over-size message (RFC 1870).
    pub const TOO_BIG: Reply = Reply::new(552, (5, 3, 4), "Message size exceeds fixed limit");
    /// 553 for quoted local parts.
    pub const QUOTED_LOCAL: Reply =
        Reply::new(553, (5, 1, 3), "Quoted local parts are not accepted");
    /// 553 for non-ASCII addresses without SMTPUTF8 (RFC 6531 §3.5).
    pub const NEED_SMTPUTF8: Reply =
        Reply::new(553, (5, 6, 7), "Non-ASCII address requires SMTPUTF8");
    /// 554 for DATA without valid recipients (RFC 5321 §3.3).
    pub const NO_VALID_RCPTS: Reply = Reply::new(554, (5, 5, 1), "No valid recipients");
    /// 555 for unsupported MAIL/RCPT parameters.
    pub const BAD_PARAM: Reply = Reply::new(555, (5, 5, 4), "Unsupported parameter");
    /// RFC 4954 §6: AUTH succeeded.
    pub const AUTH_OK: Reply = Reply::new(235, (2, 7, 0), "Authentication successful");
    /// RFC 4954 §6: wrong credentials.
    pub const AUTH_INVALID: Reply =
        Reply::new(535, (5, 7, 8), "Authentication credentials invalid");
    /// RFC 4954 §6: try again later (throttled, or the store is unavailable).
    pub const AUTH_TEMPORARY: Reply =
        Reply::new(454, (4, 7, 0), "Temporary authentication failure");
    /// RFC 4954 §6: submission requires AUTH before MAIL.
    pub const AUTH_REQUIRED: Reply = Reply::new(530, (5, 7, 0), "Authentication required");
    /// RFC 4954 §6: plaintext mechanisms only inside TLS.
    pub const ENCRYPTION_REQUIRED: Reply = Reply::new(
        538,
        (5, 7, 11),
        "Encryption required for requested authentication mechanism",
    );
    /// RFC 4954 §4: unknown mechanism.
    pub const UNKNOWN_MECHANISM: Reply =
        Reply::new(504, (5, 5, 4), "Unrecognized authentication type");
    /// RFC 4954 §4: the client cancelled with `*`.
    pub const AUTH_CANCELLED: Reply = Reply::new(501, (5, 0, 0), "Authentication cancelled");
    /// RFC 4954 §4: a second AUTH, or AUTH inside a transaction.
    pub const AUTH_SEQUENCE: Reply = Reply::new(503, (5, 5, 1), "Already authenticated");
    /// RFC 4954 §4: a response that is not base64 (the driver decodes it).
    pub const AUTH_MALFORMED: Reply = Reply::new(501, (5, 5, 2), "Cannot decode response");
    /// RFC 6409 §4.3 / RFC 5321: the sender is not one of the user's addresses.
    pub const NOT_YOUR_ADDRESS: Reply = Reply::new(
        550,
        (5, 7, 1),
        "Sender address not owned by the authenticated user",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_single_and_multi_line_replies() {
        let mut out = Vec::new();
        r::OK.write_to(&mut out);
        Reply::owned(250, None, "a\nb\nc".into()).write_to(&mut out);
        assert_eq!(out, b"250 2.0.0 OK\r\n250-a\r\n250-b\r\n250 c\r\n");
    }
}

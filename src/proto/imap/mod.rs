//! IMAP (RFC 9051 IMAP4rev2, RFC 3501 IMAP4rev1) as sans-IO pieces: the session state machine
//! with command framing ([`session`]), response syntax ([`response`]) and mailbox-name encoding
//! ([`mutf7`]). Command grammar comes from imap-codec (2.0 alpha, pinned: 1.0 lacks ID,
//! NAMESPACE, CONDSTORE/QRESYNC, UIDPLUS, SORT/THREAD and BINARY).
//!
//! # Known attacks and what stops them
//! - **Literal floods**: a literal is accepted only within `max_command_bytes` (APPEND: the
//!   APPENDLIMIT) and only after a continuation request unless announced non-synchronising; an
//!   oversized one is refused before it is read and, if it arrives anyway, skipped by length so its
//!   bytes are never parsed as commands.
//! - **STARTTLS/COMPRESS injection**: bytes pipelined after the command are dropped.
//! - **Cleartext passwords**: LOGINDISABLED and no AUTH= before TLS (RFC 9051 §6.2.3), unless the
//!   operator allows it on loopback.
//! - **Error loops**: after `max_errors` BAD responses the session ends with BYE.

pub mod extended;
pub mod list;
pub mod mutf7;
pub mod response;
pub mod search;
pub mod session;
pub mod thread;
pub mod view;

pub use session::{AppendStart, ConnState, Event, ImapSession, Request, SessionConfig};

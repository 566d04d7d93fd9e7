//! SMTP (RFC 5321) as sans-IO cores: the server session used by the MX role.
//!
//! Command grammar comes from smtp-proto; this module adds the session state machine, the
//! relay-syntax checks smtp-proto normalises away ([`path`]), and the DATA decoder ([`data`]).
//!
//! # Known attacks and what stops them
//! Each has a transcript under `tests/transcripts/mx/`.
//! - **SMTP smuggling** (bare LF or CR before a dot): only `CRLF . CRLF` ends DATA, and a message
//!   containing any bare CR or LF is refused whole with 550 5.6.0 ([`data`]).
//! - **STARTTLS command injection** (CVE-2011-0411): input buffered after `STARTTLS` is dropped
//!   before the handshake, and the session restarts from scratch inside TLS.
//! - **Cross-protocol requests** (ALPACA): an HTTP request line closes the connection with 421.
//! - **Open relay**: the MX accepts only local recipients (decided by the driver); source routes,
//!   the percent hack, bang paths and quoted local parts are refused here before any lookup.
//! - **Line floods**: command lines over `max_line_bytes` get 500 5.5.2 and are discarded without
//!   being buffered; NUL and bare CR in commands get 500 5.5.2.
//! - **Error loops**: after `max_errors` permanent errors the session ends with 421.
//! - **Size floods**: DATA and BDAT beyond `max_message_bytes` are read and dropped, then refused
//!   with 552 5.3.4; the declared SIZE is checked up front.

pub mod client;
pub mod data;
pub mod path;
pub mod reply;
pub mod server;

pub use reply::Reply;
pub use server::{Event, Recipient, SaslResponse, SessionConfig, SmtpServerSession};

//! Message-level knowledge shared by the roles: address syntax, the MIME structure summary
//! stored beside each body (parsed once while the message streams in, rendered as IMAP
//! ENVELOPE/BODYSTRUCTURE), trace headers and delivery status notifications. Depends only on
//! crates (mail-parser, mail-builder, imap-codec's types), never on I/O.

pub mod address;
pub mod auth_results;
pub mod dsn;
pub mod header;
pub mod mime;
pub mod submit;
pub mod summary;
pub mod text_search;
pub mod trace;
pub mod transfer;

pub use mime::{MimeLimits, MimeParser};
pub use summary::Summary;

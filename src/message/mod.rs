//! Message-level knowledge shared by the roles: address syntax, the parsed summary stored
//! beside each body, and trace headers. Depends only on crates (mail-parser), never on I/O.

pub mod address;
pub mod summary;
pub mod transfer;
pub mod trace;

pub use summary::Summary;

//! Sans-IO protocol cores: bytes in, events and replies out.
//!
//! Nothing here touches sockets, clocks, the store or async code (`tests/layering.rs` checks
//! this). Each session is a state machine that a driver in `conn` pumps; every buffer it keeps is
//! bounded by a limit the driver passes in.

pub mod dot;
pub mod http;
pub mod imap;
pub mod line;
pub mod managesieve;
pub mod mdns;
pub mod multipart;
pub mod pop3;
pub mod smtp;

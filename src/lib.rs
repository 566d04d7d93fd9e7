//! mailnook: a complete mail server for Raspberry-Pi-class boards.
//!
//! One binary, one async executor thread, one embedded redb store. The module tree mirrors the
//! architecture (DESIGN.md): `proto` holds sans-IO protocol cores, `conn` drives them over sockets,
//! `delivery` decides what happens to an inbound message, `store` is the only module that touches
//! redb, and `server` is the only module that wires everything together.
#![forbid(unsafe_code)]
#![allow(missing_docs)]

pub mod acme;
pub mod auth;
pub(crate) mod base64;
pub mod cli;
pub mod codec;
pub mod config;
pub mod conn;
pub mod delivery;
pub mod dkim;
pub mod dmarc;
pub mod dns;
pub mod imap_client;
pub mod logger;
pub mod mailfile;
pub mod message;
pub mod pop3_client;
pub mod proto;
pub mod queue;
pub mod server;
pub mod sieve;
pub mod spam;
pub mod spf;
pub mod srs;
pub mod stats;
pub mod store;
pub mod time;
pub mod tls;
pub mod web;

#[doc(hidden)]
pub mod fuzz;

//! placeholder
use super::admin::AdminError;
use super::transfer::ImapSource;
use crate::store::{Store, UserId};
use std::io::Write;

/// Runs an import.
pub fn run(
    _store: &Store,
    _user: &(UserId, String),
    _src: &ImapSource,
    _out: &mut dyn Write,
) -> Result<(), AdminError> {
    Err(AdminError::Invalid("todo".into()))
}

//! The built-in web page: setup, accounts and the documents that configure users' mail clients.

pub mod onboarding;

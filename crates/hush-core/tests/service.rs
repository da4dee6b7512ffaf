//! The service's tests, one module per capability, each on a SQLite store of its own, in
//! process: no binary, no socket.
// Test helpers outside `#[test]` functions unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

mod apps;
mod audit;
mod auth;
mod env_values;
mod keys;
mod resolve;
mod secrets;
mod sink;
mod tokens;

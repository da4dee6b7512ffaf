//! Integration tests of the `hush` binary, one module per topic.
#![allow(clippy::unwrap_used)]

mod audit;
mod audit_file;
mod backup;
mod bad_input;
mod common;
mod crash;
mod door;
mod envs;
mod events;
mod examples;
mod expiry;
mod fallback;
mod hardening;
mod hostile;
mod hygiene;
mod keys;
mod leaks;
mod local_dev;
mod migrate;
mod nodes;
mod polish;
mod remote;
mod run;
mod sdk;
mod secrets;
mod server;
mod tls;
mod values;
mod watch;
mod webhooks;

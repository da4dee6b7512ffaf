//! hush's domain: secrets and their metadata, the [`Store`] trait every backend implements, the
//! [`KeySource`] trait for where the root key comes from, and the [`Hush`] service that ties
//! cryptography to a store.
//!
//! Backends only ever see sealed data. Plaintext exists only inside [`Hush`] methods and in the
//! [`hush_crypto::SecretBytes`] they return.
//!
//! It owns every rule about secrets, tokens, apps and the audit chain. It must never speak
//! HTTP or the command line (no status codes, routes or `hush …` commands in its errors: the
//! server and the binary add their own hints), log a value, or hand a backend plaintext.
//!
//! The modules stand on one another in one direction; none imports a module above it:
//!
//! 1. `invalid` ([`Invalid`]), `store_error` ([`StoreError`]) and [`audit`] use nothing else
//!    in the crate; [`clock`] and [`model`] (secret rows, metadata, statuses, the naming rules)
//!    use only `invalid`; [`event`] (change events) uses `audit`; [`token`] (roles, principals, [`Actor`], token rows) adds `model`,
//!    and [`app`] (app rows, the manifest rules) adds `store_error`. These are the ground
//!    floor: the row and identity types.
//! 2. [`store`] (the trait backends implement) stands on the ground floor; [`keysource`] on
//!    `store`; [`error`] (the service's [`Error`]) on both.
//! 3. [`patch`], [`manifest`], the audit sink (which writes rows as [`wire`] spells them) and
//!    the group committer on it, then [`service`] (the [`Hush`] service, one module per
//!    capability) and [`wire`] on top.
#![forbid(unsafe_code)]

pub mod app;
pub mod audit;
pub mod clock;
pub mod error;
pub mod event;
mod group;
pub use group::BatchObserver;
mod invalid;
pub mod keysource;
pub mod manifest;
pub mod model;
pub mod patch;
pub mod service;
mod sink;
pub mod store;
mod store_error;
pub mod token;
pub mod webhook;
pub mod wire;

pub use error::{Error, Invalid};
pub use hush_crypto::SecretBytes;
pub use keysource::{EnvKeySource, KeyFileSource, KeySource, KeySourceError, PassphraseSource};
pub use model::{
    ListFilter, Metadata, SealedValue, SecretRow, Status, StoredStatus, TokenType, ValueFormat,
    VersionRow, Workspace,
};
pub use patch::MetadataPatch;
pub use service::{Expect, Hush, KeyAnswer, Resolution, Revealed, RotationReport};
pub use store::{DataKeyRow, RootKeyKind, RootKeyRow, SecretWrite, Store, StoreError};
pub use token::Actor;

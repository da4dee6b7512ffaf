//! hush's domain: secrets and their metadata, the [`Store`] trait every backend implements, the
//! [`KeySource`] trait for where the root key comes from, and the [`Hush`] service that ties
//! cryptography to a store.
//!
//! Backends only ever see sealed data. Plaintext exists only inside [`Hush`] methods and in the
//! [`hush_crypto::SecretBytes`] they return.
#![forbid(unsafe_code)]

pub mod app;
pub mod audit;
pub mod clock;
pub mod error;
mod group;
mod invalid;
pub mod keysource;
pub mod manifest;
pub mod model;
pub mod patch;
pub mod service;
pub mod store;
mod store_error;
pub mod token;
pub mod wire;

pub use error::{Error, Invalid};
pub use hush_crypto::SecretBytes;
pub use keysource::{EnvKeySource, KeyFileSource, KeySource, KeySourceError, PassphraseSource};
pub use model::{
    ListFilter, Metadata, SealedValue, SecretRow, Status, StoredStatus, TokenType, VersionRow,
    Workspace,
};
pub use patch::MetadataPatch;
pub use service::{Hush, Resolution, Revealed, RotationReport};
pub use store::{DataKeyRow, RootKeyKind, RootKeyRow, SecretWrite, Store, StoreError};
pub use token::Actor;

//! Why a store operation failed.
//!
//! Its own module, below the row types rather than beside the [`crate::Store`] trait, so that
//! a row type's helper for backends ([`crate::app::assemble`]) can report a damaged row
//! without the row types depending on the trait that stores them.

/// Why a store operation failed. Never carries a value: a store holds none.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A unique name is taken (a secret key or a workspace name).
    #[error("already exists")]
    Exists,
    /// A compare-and-swap lost: the row changed or vanished since it was read.
    #[error("changed concurrently")]
    Conflict,
    /// The store already holds root keys.
    #[error("the store is already initialised")]
    AlreadyInitialized,
    /// Registered apps name the secret (their names); nothing was deleted.
    #[error("in use by {}", .0.join(", "))]
    InUse(Vec<String>),
    /// The store cannot be reached or answered with an error (database busy, disk full, …).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store holds something this version of hush cannot read.
    #[error("store damaged: {0}")]
    Corrupt(String),
    /// An audit row was to be appended before the store was given the audit key.
    #[error("the store has no audit key to authenticate audit rows with")]
    NoAuditKey,
    /// A load into a store that holds rows (which tables, with how many); nothing was written.
    #[error("the store is not empty (it holds {0})")]
    NotEmpty(String),
}

//! Errors of the hush service. None of them ever carries a secret value.
//!
//! Messages say what is wrong in domain words, never a CLI command or an HTTP route: the
//! edge that talks to the user adds its own hint (the binary's `fail.rs`, the server's
//! `error.rs`).

pub use crate::invalid::Invalid;
use crate::store::StoreError;

/// Everything the hush service can answer instead of a result.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Input broke a rule; nothing was changed.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// No secret with this key in the workspace.
    #[error("secret {key:?} not found in workspace {workspace:?}")]
    NotFound {
        /// The workspace searched.
        workspace: String,
        /// The key asked for.
        key: String,
    },
    /// The secret exists but not this version.
    #[error("secret {key:?} has no version {version}")]
    VersionNotFound {
        /// The key.
        key: String,
        /// The version asked for.
        version: u64,
    },
    /// The secret has no value for this environment: none of its own and none shared.
    #[error("secret {key:?} has no value for environment {env:?} and no value shared by every environment")]
    NoValue {
        /// The key.
        key: String,
        /// The environment read in (empty: none).
        env: String,
    },
    /// No workspace with this name.
    #[error("workspace {name:?} does not exist: it is created by the first secret written to it")]
    WorkspaceNotFound {
        /// The name asked for.
        name: String,
    },
    /// `create` on a key that exists.
    #[error("secret {key:?} already exists")]
    Exists {
        /// The key.
        key: String,
    },
    /// The caller's expected version is not the current one; nothing was written.
    #[error("secret {key:?} is at version {current}, not {expected}: someone changed it; read it again and retry")]
    StaleVersion {
        /// The key.
        key: String,
        /// The version the caller expected.
        expected: u64,
        /// The version the store has.
        current: u64,
    },
    /// The caller's expected revision (an HTTP `ETag`) is not the current one: the secret (its
    /// value or its metadata) changed since it was read; nothing was written.
    #[error("secret {key:?} is at revision {current}, not {expected}: someone changed it; read it again and retry")]
    StaleRevision {
        /// The key.
        key: String,
        /// The revision the caller expected.
        expected: u64,
        /// The revision the store has.
        current: u64,
    },
    /// The caller may not do this (role, scope or environment).
    #[error("forbidden: {reason}")]
    Forbidden {
        /// Why.
        reason: String,
    },
    /// No valid token was presented.
    #[error("missing, unknown, revoked or expired token")]
    Unauthorized,
    /// No token with this id or name.
    #[error("no active token {id:?} in this workspace")]
    TokenNotFound {
        /// What was asked for.
        id: String,
    },
    /// No webhook with this id.
    #[error("no webhook {id:?} in this workspace: `hush webhooks list` shows their ids")]
    WebhookNotFound {
        /// What was asked for.
        id: String,
    },
    /// No registered app with this name.
    #[error("no registered app {app:?} in this workspace")]
    AppNotFound {
        /// The name asked for.
        app: String,
    },
    /// Registered apps name the secret; deleting it would break them.
    #[error("secret {key:?} is in use by {}: remove it from their manifests and register them again", apps.join(", "))]
    InUse {
        /// The key.
        key: String,
        /// The apps whose manifests name it.
        apps: Vec<String>,
    },
    /// The secret is revoked.
    #[error("secret {key:?} is revoked")]
    Revoked {
        /// The key.
        key: String,
    },
    /// The secret expired.
    #[error("secret {key:?} expired at {at_rfc3339} (unix {at})")]
    Expired {
        /// The key.
        key: String,
        /// Unix seconds.
        at: i64,
        /// The same, as RFC 3339.
        at_rfc3339: String,
    },
    /// The store has not been initialised.
    #[error("no hush store here")]
    NotInitialized,
    /// `init` on a store that already has keys.
    #[error("the store is already initialised; nothing was changed")]
    AlreadyInitialized,
    /// The root key from the key source does not open this store.
    #[error("the root key from {source_name} does not open this store (root key version {version}): check the passphrase or root key")]
    WrongRootKey {
        /// Where the key came from (`HUSH_PASSPHRASE`, a key file, …).
        source_name: String,
        /// The root key version the store expects.
        version: u32,
    },
    /// The key source cannot provide a key.
    #[error(transparent)]
    KeySource(#[from] crate::keysource::KeySourceError),
    /// A stored ciphertext did not open: the store was damaged or a row was tampered with.
    #[error("the stored value of {key:?} version {version} does not decrypt: the store was damaged or tampered with")]
    Decrypt {
        /// The key.
        key: String,
        /// The version.
        version: u64,
    },
    /// A data key did not unwrap.
    #[error("data key {version} of workspace {workspace:?} does not unwrap: the store was damaged or tampered with")]
    DataKey {
        /// The workspace.
        workspace: String,
        /// The data key version.
        version: u32,
    },
    /// The audit key did not unwrap: its record was damaged or tampered with.
    #[error("the audit key does not unwrap: the store was damaged or tampered with")]
    AuditKey,
    /// The newest audit row does not match its MAC, so it cannot serve as a head to record.
    #[error("the newest audit row (row {seq}) does not match its MAC: the audit log was tampered with; verify the chain")]
    AuditHeadForged {
        /// Its sequence number.
        seq: i64,
    },
    /// The audit chain does not verify, so it is not pruned: removing rows would remove the
    /// evidence.
    #[error("the audit chain is broken at row {seq} ({reason}): nothing was pruned; the audit log was tampered with, keep it as evidence")]
    AuditBroken {
        /// The first bad row.
        seq: i64,
        /// Why.
        reason: String,
    },
    /// Sealing failed (the system random number generator failed).
    #[error("sealing failed: {0}")]
    Seal(#[from] hush_crypto::SealError),
    /// Too many concurrent writers changed the same secret; nothing was written.
    #[error(
        "secret {key:?} kept changing under concurrent writes; nothing was written, try again"
    )]
    Contention {
        /// The key.
        key: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit file could not be written: the request is refused, as when the store fails
    /// (its audit rows may be committed in the store already; they reach the file once it can
    /// be written again).
    #[error("the audit file {} cannot be written: {cause}", path.display())]
    AuditSink {
        /// The file.
        path: std::path::PathBuf,
        /// What the operating system said.
        cause: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: core messages used to name CLI commands and flags (`hush secrets update`,
    /// `--force`) and API parameters (`?force=true`), and reached API clients unchanged.
    #[test]
    fn messages_name_no_command_flag_or_route() {
        let key = || "k".to_string();
        let errors: Vec<Error> = vec![
            Error::NotFound {
                workspace: "default".into(),
                key: key(),
            },
            Error::VersionNotFound {
                key: key(),
                version: 9,
            },
            Error::WorkspaceNotFound { name: "ops".into() },
            Error::NoValue {
                key: key(),
                env: "prd".into(),
            },
            Error::Exists { key: key() },
            Error::StaleVersion {
                key: key(),
                expected: 1,
                current: 2,
            },
            Error::StaleRevision {
                key: key(),
                expected: 1,
                current: 2,
            },
            Error::TokenNotFound { id: "ci".into() },
            Error::AppNotFound {
                app: "billing".into(),
            },
            Error::InUse {
                key: key(),
                apps: vec!["billing".into()],
            },
            Error::Revoked { key: key() },
            Error::Expired {
                key: key(),
                at: 1,
                at_rfc3339: "1970-01-01T00:00:01Z".into(),
            },
            Error::NotInitialized,
            Error::AlreadyInitialized,
            Error::Contention { key: key() },
            Invalid::MachineToken.into(),
            Invalid::Cursor.into(),
            Invalid::PastExpiry.into(),
            Invalid::PastSecretExpiry.into(),
            Invalid::FormatWithoutValue.into(),
            Invalid::NotJson {
                problem: "syntax error",
                line: 1,
                column: 2,
            }
            .into(),
        ];
        for e in errors {
            let text = e.to_string();
            for word in [
                "`hush ",
                "hush.toml",
                "--",
                "API:",
                "?force",
                "/v1/",
                "next_cursor",
            ] {
                assert!(!text.contains(word), "{text:?} contains {word:?}");
            }
        }
    }
}

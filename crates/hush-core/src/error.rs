//! Errors of the hush service. None of them ever carries a secret value.

use crate::store::StoreError;

/// Input that breaks a rule. Each variant says what was wrong; `Display` says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Invalid {
    /// A key, app, environment or workspace name breaks the naming rule. The message names
    /// the field and the rule, never what was sent (it may be anything, even a value pasted
    /// in the wrong field).
    #[error("invalid {field}: {reason}")]
    Name {
        /// Which kind of name.
        field: &'static str,
        /// The name as given, for callers that show it back to the person who typed it.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The value has no bytes.
    #[error("the value is empty: a secret needs at least 1 byte")]
    EmptyValue,
    /// The value is over 1 MiB.
    #[error("the value is {len} bytes; the limit is 1 MiB (1048576 bytes)")]
    ValueTooLarge {
        /// Its length in bytes.
        len: usize,
    },
    /// A description is over the limit.
    #[error("the description is {len} characters long; the limit is 1024")]
    DescriptionTooLong {
        /// Its length in characters.
        len: usize,
    },
    /// `token_type` is neither `api` nor `access`.
    #[error("unknown token_type: use \"api\" or \"access\"")]
    TokenType {
        /// What was given.
        value: String,
    },
    /// A status filter is not a known status.
    #[error("unknown status: use \"active\", \"revoked\" or \"expired\"")]
    Status {
        /// What was given.
        value: String,
    },
    /// An expiry could not be read.
    #[error("cannot read expiry: give RFC 3339 (2027-01-31T00:00:00Z), unix seconds (1800000000), a duration from now (90d, 12h, 30m, 1w) or \"never\"")]
    Expiry {
        /// What was given.
        value: String,
    },
    /// A machine token needs both an app and an environment; other roles take neither.
    #[error("a machine token needs both --app and --env, and takes no --role; other tokens take a --role and neither --app nor --env")]
    MachineToken,
    /// A token's expiry is not in the future.
    #[error("expires_at is in the past: a new token must expire in the future (or never)")]
    PastExpiry,
    /// A name matches several things.
    #[error("{name:?} names more than one token: use the token id")]
    Ambiguous {
        /// The name.
        name: String,
    },
    /// A manifest breaks a rule.
    #[error("invalid manifest: {reason}")]
    Manifest {
        /// What is wrong and where.
        reason: String,
    },
    /// A text field holds a control character (terminal escapes, CR, LF, tab, DEL, C1).
    #[error("{field} contains a control character (such as ESC, CR, LF or tab): use printable text only")]
    ControlCharacter {
        /// Which field.
        field: &'static str,
    },
    /// A list field has too many entries.
    #[error("{field} has {len} entries; the limit is {max}")]
    TooMany {
        /// Which field.
        field: &'static str,
        /// How many were given.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A list field has an empty entry (`a,,b`).
    #[error("{field} has an empty entry: give names separated by commas, with none left blank")]
    EmptyEntry {
        /// Which field.
        field: &'static str,
    },
    /// An expiry is outside the range of dates hush accepts.
    #[error("{field} is out of range: give unix seconds from 1 to 253402300799 (the end of year 9999){hint}")]
    ExpiryRange {
        /// Which field.
        field: &'static str,
        /// A hint when the number looks like milliseconds.
        hint: &'static str,
    },
    /// A paging cursor is not one this API handed out.
    #[error("cursor is not valid: pass the `next_cursor` of the previous page unchanged, or leave it out to start")]
    Cursor,
    /// A version number is not valid (versions start at 1).
    #[error("invalid version {value}: versions start at 1")]
    Version {
        /// What was given.
        value: u64,
    },
}

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
    #[error("secret {key:?} has no version {version}: see `hush secrets history {key}`")]
    VersionNotFound {
        /// The key.
        key: String,
        /// The version asked for.
        version: u64,
    },
    /// No workspace with this name.
    #[error("workspace {name:?} does not exist: it is created by the first secret written to it")]
    WorkspaceNotFound {
        /// The name asked for.
        name: String,
    },
    /// `create` on a key that exists.
    #[error("secret {key:?} already exists: use `hush secrets update {key}` or `hush secrets set {key}` to replace its value")]
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
    /// No registered app with this name.
    #[error("no registered app {app:?} in this workspace: register its manifest with `hush apps register hush.toml`")]
    AppNotFound {
        /// The name asked for.
        app: String,
    },
    /// Registered apps name the secret; deleting it would break them.
    #[error("secret {key:?} is in use by {}: remove it from their manifests and register them again, or delete with --force (API: ?force=true)", apps.join(", "))]
    InUse {
        /// The key.
        key: String,
        /// The apps whose manifests name it.
        apps: Vec<String>,
    },
    /// The secret is revoked.
    #[error("secret {key:?} is revoked: run `hush secrets restore {key}` to serve it again")]
    Revoked {
        /// The key.
        key: String,
    },
    /// The secret expired.
    #[error("secret {key:?} expired at {at_rfc3339} (unix {at}): set a new expiry with `hush secrets update {key} --expires 90d`")]
    Expired {
        /// The key.
        key: String,
        /// Unix seconds.
        at: i64,
        /// The same, as RFC 3339.
        at_rfc3339: String,
    },
    /// The store has not been initialised.
    #[error("no hush store here: run `hush init` first")]
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
}

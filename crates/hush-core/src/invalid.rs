//! Input that breaks a rule: the one error of the row and identity types.
//!
//! It sits below everything else in the crate (it depends on nothing in it), so the types
//! that validate themselves — names, metadata, roles, manifests — need nothing above them.
//! Messages name the rule in domain words; an edge (the CLI, the API) adds its own hint.

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
    #[error("unknown status: use \"active\", \"expiring\", \"revoked\" or \"expired\"")]
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
    #[error("a machine token needs both an app and an environment, and takes no role; other tokens take a role and neither an app nor an environment")]
    MachineToken,
    /// A token's expiry is not in the future.
    #[error("expires_at is in the past: a new token must expire in the future (or never)")]
    PastExpiry,
    /// A secret's expiry is in the past, and the write did not say a past one is meant.
    #[error("expires_at is in the past (the secret would be expired as soon as it is written)")]
    PastSecretExpiry,
    /// The write asks for a JSON value and the value does not parse. Only the position and
    /// the kind of mistake are kept, never the text.
    #[error("the value is not valid JSON ({problem} at line {line}, column {column})")]
    NotJson {
        /// What is wrong, in serde_json's words (`syntax error`, `unexpected end`).
        problem: &'static str,
        /// Line of the first mistake (from 1).
        line: usize,
        /// Column of the first mistake (from 1).
        column: usize,
    },
    /// A format was given for a write that carries no value.
    #[error("a format checks the value written, and this write gives no value")]
    FormatWithoutValue,
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
    /// A span of time that does not read.
    #[error("{field} {value:?} is not a span of time: give seconds (`3600`) or a duration such as `30d`, `12h`, `1d12h`, `2w`")]
    Span {
        /// Which flag or field.
        field: &'static str,
        /// What was given (cut to 100 characters).
        value: String,
    },
    /// A warning window is negative or longer than hush accepts.
    #[error("notify_before is out of range ({secs}): give seconds from 0 (never warn) to 316224000 (10 years), or a duration like `30d` on the command line")]
    NotifyBeforeRange {
        /// The number given.
        secs: i64,
    },
    /// A paging cursor is not one handed out with a previous page.
    #[error("cursor is not valid")]
    Cursor,
    /// A value for an environment the secret is not available in: it could never be read.
    #[error("the secret is not available in environment {env:?} (its environments: {envs}): add {env:?} to its environments first")]
    EnvNotAvailable {
        /// The environment given.
        env: String,
        /// The secret's environments, comma-separated.
        envs: String,
    },
    /// A time in the past could not be read.
    #[error("cannot read {field}: give RFC 3339 (2026-01-31T00:00:00Z), unix seconds (1800000000) or a duration before now (90d, 12h, 30m, 1w)")]
    PastTime {
        /// Which flag or field.
        field: &'static str,
        /// What was given.
        value: String,
    },
    /// An audit prune time in the future: rows written from now on would be removed too.
    #[error("the prune time {before} is in the future: only rows older than a time already past can be removed")]
    PruneInFuture {
        /// The time given, RFC 3339.
        before: String,
    },
    /// A version number is not valid (versions start at 1).
    #[error("invalid version {value}: versions start at 1")]
    Version {
        /// What was given.
        value: u64,
    },
}

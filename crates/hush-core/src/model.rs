//! Domain types: names, metadata, statuses and what a store keeps about a secret.

use serde::{Deserialize, Serialize};

use crate::invalid::Invalid;

/// Most bytes a value may have: 1 MiB.
pub const MAX_VALUE_LEN: usize = 1024 * 1024;
/// Most characters a key may have.
pub const MAX_KEY_LEN: usize = 128;
/// Most characters an app, environment or workspace name may have.
pub const MAX_NAME_LEN: usize = 64;
/// Most characters a description may have.
pub const MAX_DESCRIPTION_LEN: usize = 1024;
/// Most entries in `scope` or `envs`.
pub const MAX_LIST_LEN: usize = 100;
/// The latest expiry accepted: 9999-12-31T23:59:59Z, in unix seconds. A number above it is
/// almost always milliseconds (`Date.now()`), which would otherwise be a date in year 58,000.
pub const MAX_EXPIRES_AT: i64 = 253_402_300_799;

/// Checks that free text (a description) holds no control character: terminal escapes, CR and
/// LF would colour a terminal or forge table rows when printed.
pub fn validate_text(field: &'static str, text: &str) -> Result<(), Invalid> {
    if text.chars().any(char::is_control) {
        return Err(Invalid::ControlCharacter { field });
    }
    Ok(())
}

/// The warning window of a secret that sets no `notify_before`: 14 days, in seconds.
pub const DEFAULT_NOTIFY_BEFORE: i64 = 14 * 86_400;

/// The longest warning window accepted: 10 years, in seconds.
pub const MAX_NOTIFY_BEFORE: i64 = 10 * 366 * 86_400;

/// Checks a warning window in seconds: from 0 (never `expiring`) to [`MAX_NOTIFY_BEFORE`].
pub fn validate_notify_before(secs: i64) -> Result<(), Invalid> {
    if (0..=MAX_NOTIFY_BEFORE).contains(&secs) {
        Ok(())
    } else {
        Err(Invalid::NotifyBeforeRange { secs })
    }
}

/// Checks an expiry in unix seconds: from 1 to [`MAX_EXPIRES_AT`].
pub fn validate_expires_at(field: &'static str, at: i64) -> Result<(), Invalid> {
    if (1..=MAX_EXPIRES_AT).contains(&at) {
        return Ok(());
    }
    let hint = if at > MAX_EXPIRES_AT && at / 1000 <= MAX_EXPIRES_AT {
        "; this looks like milliseconds: divide by 1000"
    } else {
        ""
    };
    Err(Invalid::ExpiryRange { field, hint })
}

/// Checks a value against the format a write asks for: `json` must parse as one JSON
/// document (any JSON value); `text` takes any bytes.
pub fn validate_format(format: ValueFormat, value: &[u8]) -> Result<(), Invalid> {
    if format == ValueFormat::Text {
        return Ok(());
    }
    // serde_json's error gives a position and a category; its message is not kept, so
    // nothing of the value can come back in an error.
    serde_json::from_slice::<serde::de::IgnoredAny>(value)
        .map(|_| ())
        .map_err(|e| Invalid::NotJson {
            problem: match e.classify() {
                serde_json::error::Category::Eof => "it ends too soon",
                _ => "syntax error",
            },
            line: e.line(),
            column: e.column(),
        })
}

/// Checks a list of names: at most [`MAX_LIST_LEN`] entries, each valid.
pub(crate) fn validate_list(
    field: &'static str,
    names: &[String],
    check: fn(&str) -> Result<(), Invalid>,
) -> Result<(), Invalid> {
    if names.len() > MAX_LIST_LEN {
        return Err(Invalid::TooMany {
            field,
            len: names.len(),
            max: MAX_LIST_LEN,
        });
    }
    names.iter().try_for_each(|n| check(n))
}

pub(crate) fn check_name(field: &'static str, value: &str, max: usize) -> Result<(), Invalid> {
    let bad = |reason: String| Invalid::Name {
        field,
        value: value.chars().take(200).collect(),
        reason,
    };
    if value.is_empty() {
        return Err(bad("it is empty".into()));
    }
    let len = value.chars().count();
    if len > max {
        return Err(bad(format!(
            "it is {len} characters long; the limit is {max}"
        )));
    }
    if value
        .chars()
        .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(bad(
            "it contains a character other than letters A-Z a-z, digits 0-9, '_', '.' and '-'"
                .into(),
        ));
    }
    if value.starts_with('.') || value.starts_with('-') {
        return Err(bad("it starts with '.' or '-'".into()));
    }
    Ok(())
}

/// Checks a secret key: 1 to 128 characters of `A-Z a-z 0-9 _ . -`, not starting with `.` or
/// `-` (so a key is never a path component like `..` nor mistaken for a flag).
pub fn validate_key(key: &str) -> Result<(), Invalid> {
    check_name("key", key, MAX_KEY_LEN)
}

/// Checks an app name (as used in `scope`).
pub fn validate_app(name: &str) -> Result<(), Invalid> {
    check_name("app", name, MAX_NAME_LEN)
}

/// Checks an environment slug (as used in `envs`).
pub fn validate_env(name: &str) -> Result<(), Invalid> {
    check_name("env", name, MAX_NAME_LEN)
}

/// Checks a workspace name.
pub fn validate_workspace(name: &str) -> Result<(), Invalid> {
    check_name("workspace", name, MAX_NAME_LEN)
}

/// Checks a value's size: 1 byte to 1 MiB.
pub fn validate_value_len(len: usize) -> Result<(), Invalid> {
    if len == 0 {
        return Err(Invalid::EmptyValue);
    }
    if len > MAX_VALUE_LEN {
        return Err(Invalid::ValueTooLarge { len });
    }
    Ok(())
}

/// What kind of token a secret holds: the wire type, so that a metadata patch is one type
/// from the SDK to the store.
pub use hush_wire::{TokenType, ValueFormat};

impl From<hush_wire::UnknownTokenType> for Invalid {
    fn from(e: hush_wire::UnknownTokenType) -> Self {
        Invalid::TokenType { value: e.value }
    }
}

/// The status a store records. `expired` is not stored: it follows from `expires_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredStatus {
    /// Served normally.
    Active,
    /// Disabled by `revoke`; undone by `restore`.
    Revoked,
}

impl StoredStatus {
    /// Storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StoredStatus::Active => "active",
            StoredStatus::Revoked => "revoked",
        }
    }

    /// Parses the storage spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(StoredStatus::Active),
            "revoked" => Some(StoredStatus::Revoked),
            _ => None,
        }
    }
}

/// The status a reader sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Served normally.
    Active,
    /// Disabled by `revoke`.
    Revoked,
    /// Served, and within its warning window (`notify_before`) before `expires_at`.
    Expiring,
    /// Past its `expires_at`.
    Expired,
}

impl Status {
    /// Wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Expiring => "expiring",
            Status::Revoked => "revoked",
            Status::Expired => "expired",
        }
    }

    /// Parses `active`, `expiring`, `revoked` or `expired`.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "active" => Ok(Status::Active),
            "expiring" => Ok(Status::Expiring),
            "revoked" => Ok(Status::Revoked),
            "expired" => Ok(Status::Expired),
            other => Err(Invalid::Status {
                value: other.chars().take(64).collect(),
            }),
        }
    }
}

/// The metadata of a secret (Ductape's fields).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// Human-readable description.
    pub description: Option<String>,
    /// Kind of token held.
    pub token_type: Option<TokenType>,
    /// App names allowed to read it; empty means every app.
    pub scope: Vec<String>,
    /// Environment slugs it is available in; empty means every environment.
    pub envs: Vec<String>,
    /// Unix seconds after which it is no longer served; `None` never expires.
    pub expires_at: Option<i64>,
    /// How many seconds before `expires_at` it is `expiring` and reads of it warn; `None`:
    /// [`DEFAULT_NOTIFY_BEFORE`].
    pub notify_before: Option<i64>,
}

impl Metadata {
    /// The warning window in seconds.
    pub fn notify_window(&self) -> i64 {
        self.notify_before.unwrap_or(DEFAULT_NOTIFY_BEFORE)
    }
}

/// A workspace: the tenant boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// Stable id (`ws_…`), bound into every ciphertext of the workspace.
    pub id: String,
    /// The name people use (`default`).
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// What a store keeps about a secret (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRow {
    /// Stable id (`sec_…`), never reused, bound into every ciphertext of the secret.
    pub id: String,
    /// The workspace it lives in.
    pub workspace_id: String,
    /// The key, unique in the workspace.
    pub key: String,
    /// Metadata.
    pub meta: Metadata,
    /// Active or revoked.
    pub status: StoredStatus,
    /// The current version of the value shared by every environment (1 for a new secret;
    /// each value write adds one; 0 when the secret has only environments' own values).
    pub version: u64,
    /// The environments with a value of their own, each with its current version (numbered
    /// from 1 per environment). A read in one of them gets that value; other environments
    /// get the shared one.
    pub env_versions: std::collections::BTreeMap<String, u64>,
    /// Bumped by every write, metadata included: the store's compare-and-swap handle.
    pub revision: u64,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// Actor that created it.
    pub created_by: String,
    /// Actor that last changed it.
    pub updated_by: String,
}

#[cfg(test)]
impl SecretRow {
    /// A row for tests: active, version 1 of the shared value, made at 0 by `t`.
    pub(crate) fn sample(key: &str) -> SecretRow {
        SecretRow {
            id: "sec_1".into(),
            workspace_id: "ws_1".into(),
            key: key.into(),
            meta: Metadata::default(),
            status: StoredStatus::Active,
            version: 1,
            env_versions: Default::default(),
            revision: 1,
            created_at: 0,
            updated_at: 0,
            created_by: "t".into(),
            updated_by: "t".into(),
        }
    }
}

impl SecretRow {
    /// Which value a read in `env` gets: that environment's own value and its current
    /// version, else the shared value (`""`) and its version (0: there is none).
    pub fn value_for<'a>(&self, env: Option<&'a str>) -> (&'a str, u64) {
        match env.and_then(|e| self.env_versions.get(e).map(|v| (e, *v))) {
            Some(own) => own,
            None => ("", self.version),
        }
    }

    /// The status a reader sees at `now`.
    pub fn status_at(&self, now: i64) -> Status {
        match self.status {
            StoredStatus::Revoked => Status::Revoked,
            StoredStatus::Active => match self.meta.expires_at {
                Some(at) if at <= now => Status::Expired,
                Some(at) if at - now <= self.meta.notify_window() => Status::Expiring,
                _ => Status::Active,
            },
        }
    }

    /// Whether it is served at `now` (`active` or `expiring`).
    pub fn servable_at(&self, now: i64) -> bool {
        matches!(self.status_at(now), Status::Active | Status::Expiring)
    }
}

/// One sealed value version.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedValue {
    /// The environment whose own value this is; empty for the shared value.
    pub env: String,
    /// The value version.
    pub version: u64,
    /// The data key version that sealed it.
    pub key_version: u32,
    /// Header, nonce, ciphertext and tag.
    pub ciphertext: Vec<u8>,
    /// Unix seconds.
    pub created_at: i64,
    /// Actor that wrote it.
    pub created_by: String,
}

impl std::fmt::Debug for SealedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedValue")
            .field("version", &self.version)
            .field("key_version", &self.key_version)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish()
    }
}

/// One line of a secret's history (no value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRow {
    /// The environment whose own value this is; empty for the shared value.
    pub env: String,
    /// The value version.
    pub version: u64,
    /// Unix seconds.
    pub created_at: i64,
    /// Actor that wrote it.
    pub created_by: String,
}

/// Filters for listing secrets.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only secrets available in this environment (its `envs` is empty or names it).
    pub env: Option<String>,
    /// Only secrets this app may read (its `scope` is empty or names it).
    pub app: Option<String>,
    /// Only keys starting with this.
    pub prefix: Option<String>,
    /// Only secrets with this status. `active` takes in `expiring` secrets (they are
    /// served); `expiring` only those within their warning window.
    pub status: Option<Status>,
    /// Only keys sorting after this one (the pagination cursor).
    pub after: Option<String>,
    /// At most this many (`None`: all).
    pub limit: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_rules() {
        for ok in [
            "a",
            "githubtoken",
            "STRIPE_API_KEY",
            "gcp-key.json",
            "a-b_c.d",
            &"x".repeat(128),
        ] {
            assert!(validate_key(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".hidden",
            "-flag",
            "a/b",
            "..",
            "a b",
            "ключ",
            "a\0b",
            &"x".repeat(129),
            "%2F",
        ] {
            assert!(validate_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn value_size_rules() {
        assert!(validate_value_len(0).is_err());
        assert!(validate_value_len(1).is_ok());
        assert!(validate_value_len(MAX_VALUE_LEN).is_ok());
        assert!(validate_value_len(MAX_VALUE_LEN + 1).is_err());
    }

    #[test]
    fn status_follows_expiry_and_revocation() {
        let mut row = SecretRow::sample("k");
        row.meta.expires_at = Some(100);
        assert_eq!(
            row.status_at(100 - DEFAULT_NOTIFY_BEFORE - 1),
            Status::Active
        );
        assert_eq!(row.status_at(100 - DEFAULT_NOTIFY_BEFORE), Status::Expiring);
        assert_eq!(row.status_at(99), Status::Expiring);
        assert_eq!(row.status_at(100), Status::Expired);
        row.meta.notify_before = Some(10);
        assert_eq!(row.status_at(89), Status::Active);
        assert_eq!(row.status_at(90), Status::Expiring);
        row.meta.notify_before = Some(0);
        assert_eq!(
            row.status_at(99),
            Status::Active,
            "a window of 0 never warns"
        );
        row.status = StoredStatus::Revoked;
        assert_eq!(row.status_at(100), Status::Revoked);
    }
}

//! hush's wire types: the JSON shapes the CLI prints with `-o json`, the server answers with,
//! and the client SDK parses. They hold no secret-handling logic; a value appears only in
//! [`SecretValue`], which is built on purpose for the one call that reveals it.
//!
//! It owns the API's contract and nothing else: it must never depend on another hush crate,
//! decide a permission, or print a value in `Debug`.
//!
//! What clients send is in [`request`] (re-exported here): the server deserialises exactly
//! these types. Error and refusal codes are the enums of [`codes`], spelt on the wire as the
//! strings they always were.
#![forbid(unsafe_code)]

pub mod codes;
pub mod request;

use serde::{Deserialize, Serialize};

pub use codes::{ErrorCode, Reason};
pub use request::{
    nullable, AuditListQuery, AuditVerifyQuery, DeleteQuery, EnvQuery, MetadataPatch, PageQuery,
    ResolveRequest, RollbackRequest, SecretListQuery, SecretQuery, SecretWriteBody, TokenRequest,
    TokenType, UnknownTokenType, ValueError, ValueFormat, VersionsQuery,
};

/// A secret's metadata. Never carries a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SecretMeta {
    /// Stable id (`sec_…`).
    pub id: String,
    /// Workspace name.
    pub workspace: String,
    /// The key, unique in the workspace.
    pub key: String,
    /// Human-readable description.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub description: Option<String>,
    /// `api`, `access` or null.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<TokenType>))]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub token_type: Option<String>,
    /// Apps allowed to read it; empty means every app.
    pub scope: Vec<String>,
    /// Environments it is available in; empty means every environment.
    pub envs: Vec<String>,
    /// Unix seconds, or null for never.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub expires_at: Option<i64>,
    /// The warning window in seconds: within this long before `expires_at` the secret is
    /// `expiring` and reads of it warn. Null: the default (14 days). Absent from an older
    /// server.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub notify_before: Option<i64>,
    /// `active`, `expiring` (active, and within its warning window before `expires_at`),
    /// `revoked` or `expired`.
    #[cfg_attr(feature = "openapi", schema(value_type = schema::SecretStatus))]
    pub status: String,
    /// The current version of the value shared by every environment (0: the secret has only
    /// environments' own values).
    pub version: u64,
    /// The environments with a value of their own, each with its current version (never the
    /// values): a read in one of them gets its own value, other environments the shared one.
    /// Empty from an older server.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub env_versions: std::collections::BTreeMap<String, u64>,
    /// Moves with every write (value, metadata or status): the `ETag` of the secret's
    /// answers, for `If-Match`. 0 from a server that predates it.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub revision: u64,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// Who created it.
    pub created_by: String,
    /// Who last changed it.
    pub updated_by: String,
    /// The registered apps whose manifests name it, with when each last read it. Present on
    /// `show`, `get` and list answers; absent on write answers.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub used_by: Option<Vec<UsedBy>>,
}

/// One registered app that names a secret in its manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsedBy {
    /// The app.
    pub app: String,
    /// RFC 3339: when the app last resolved the secret; null if never.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub last_read_at: Option<String>,
    /// The environment that last read was made in (the machine token's bound environment, or
    /// the one the request named), whether it got that environment's own value or the shared
    /// one; null when the read named no environment, or never read.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub env: Option<String>,
}

/// How a declared secret reaches a workload.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// In an environment variable.
    #[default]
    Env,
    /// In a private file whose path is in the environment variable.
    File,
}

impl Delivery {
    /// The manifest spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Env => "env",
            Delivery::File => "file",
        }
    }
}

/// One secret a workload declares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SecretDecl {
    /// The environment variable the workload sees.
    pub name: String,
    /// The secret's key.
    pub key: String,
    /// Whether the workload must not start without it.
    #[serde(default = "yes")]
    pub required: bool,
    /// Keys tried in order when `key` is missing, revoked or expired.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback: Vec<String>,
    /// `env` (the default) or `file`.
    #[serde(rename = "as", default)]
    pub delivery: Delivery,
}

fn yes() -> bool {
    true
}

/// An app's manifest: what `hush.toml` declares, and the body of `POST /v1/apps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AppManifest {
    /// The app's name.
    pub app: String,
    /// Its environment.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub env: Option<String>,
    /// The secrets it needs, in declaration order.
    #[serde(default)]
    pub secrets: Vec<SecretDecl>,
}

/// One key a registered app names, with when the app last read it and in which environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppKey {
    /// The secret's key (a declared key or a fallback).
    pub key: String,
    /// RFC 3339, or null if never read by this app.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub last_read_at: Option<String>,
    /// The environment the app's last read was made in, whether it got that environment's own
    /// value or the shared one; null when the read named no environment, or never read.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub env: Option<String>,
}

/// A registered app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppInfo {
    /// The app's name.
    pub app: String,
    /// Its environment.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub env: Option<String>,
    /// The secrets its manifest declares.
    pub secrets: Vec<SecretDecl>,
    /// Every key the manifest names, by key.
    pub keys: Vec<AppKey>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// Who registered it last.
    pub registered_by: String,
}

/// A secret with its decrypted value: the answer of a read, and nothing else.
// Parsed through `SecretValueFields`, not through the flattened `meta`: serde reads a
// flattened struct by first copying every field of the object into a buffer of its own (the
// value included, left behind in freed memory) and reading them again from there, which made
// parsing a resolve of 50 values take 40% longer (230 against 160 µs).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "SecretValueFields")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SecretValue {
    /// The metadata.
    #[serde(flatten)]
    pub meta: SecretMeta,
    /// The environment whose own value this is; null for the shared value.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub value_env: Option<String>,
    /// The version whose value this is (of `value_env`'s own value, or of the shared one).
    pub value_version: u64,
    /// The value, when it is UTF-8 text.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub value: Option<String>,
    /// The value in standard base64, when it is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub value_base64: Option<String>,
    /// What the reader should know about what it got (an expiry close by); absent when
    /// there is nothing to say.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub warnings: Vec<Warning>,
}

/// A [`SecretValue`] written straight from where its parts already are: the server's answer
/// to a read or a resolve, serialised without a copy of each value and its metadata. The same
/// JSON as the owned [`SecretValue`] with the same fields (a test holds the two together);
/// clients parse [`SecretValue`]. Not in the OpenAPI document: the routes name
/// [`SecretValue`].
#[derive(Serialize)]
pub struct SecretValueRef<'a> {
    /// [`SecretMeta::id`].
    pub id: &'a str,
    /// [`SecretMeta::workspace`].
    pub workspace: &'a str,
    /// [`SecretMeta::key`].
    pub key: &'a str,
    /// [`SecretMeta::description`].
    pub description: Option<&'a str>,
    /// [`SecretMeta::token_type`].
    pub token_type: Option<&'a str>,
    /// [`SecretMeta::scope`].
    pub scope: &'a [String],
    /// [`SecretMeta::envs`].
    pub envs: &'a [String],
    /// [`SecretMeta::expires_at`].
    pub expires_at: Option<i64>,
    /// [`SecretMeta::notify_before`].
    pub notify_before: Option<i64>,
    /// [`SecretMeta::status`].
    pub status: &'a str,
    /// [`SecretMeta::version`].
    pub version: u64,
    /// [`SecretMeta::env_versions`].
    pub env_versions: &'a std::collections::BTreeMap<String, u64>,
    /// [`SecretMeta::revision`].
    pub revision: u64,
    /// [`SecretMeta::created_at`].
    pub created_at: &'a str,
    /// [`SecretMeta::updated_at`].
    pub updated_at: &'a str,
    /// [`SecretMeta::created_by`].
    pub created_by: &'a str,
    /// [`SecretMeta::updated_by`].
    pub updated_by: &'a str,
    /// [`SecretMeta::used_by`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used_by: Option<&'a [UsedBy]>,
    /// [`SecretValue::value_env`].
    pub value_env: Option<&'a str>,
    /// [`SecretValue::value_version`].
    pub value_version: u64,
    /// [`SecretValue::value`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<&'a str>,
    /// [`SecretValue::value_base64`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_base64: Option<&'a str>,
    /// [`SecretValue::warnings`].
    #[serde(skip_serializing_if = "<[Warning]>::is_empty")]
    pub warnings: &'a [Warning],
}

impl std::fmt::Debug for SecretValueRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretValueRef")
            .field("key", &self.key)
            .field("value", &"[redacted]")
            .finish()
    }
}

/// Something a reader should act on although the read succeeded. Never carries a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Warning {
    /// The secret it is about.
    pub key: String,
    /// For machines: `expiring` (the secret expires within its warning window).
    #[cfg_attr(feature = "openapi", schema(value_type = schema::WarningCode))]
    pub code: String,
    /// For people: what and when (`STRIPE_KEY expires in 3 days (2026-12-03T10:00:00Z)`).
    pub message: String,
    /// Unix seconds: the expiry it warns of.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expires_at: Option<i64>,
}

/// [`SecretValue`]'s JSON object, field by field as it is written (the metadata's fields and
/// then the value's), with the same defaults: what [`SecretValue`] is parsed from.
#[derive(Deserialize)]
struct SecretValueFields {
    id: String,
    workspace: String,
    key: String,
    description: Option<String>,
    token_type: Option<String>,
    scope: Vec<String>,
    envs: Vec<String>,
    expires_at: Option<i64>,
    #[serde(default)]
    notify_before: Option<i64>,
    status: String,
    version: u64,
    #[serde(default)]
    env_versions: std::collections::BTreeMap<String, u64>,
    #[serde(default)]
    revision: u64,
    created_at: String,
    updated_at: String,
    created_by: String,
    updated_by: String,
    #[serde(default)]
    used_by: Option<Vec<UsedBy>>,
    #[serde(default)]
    value_env: Option<String>,
    value_version: u64,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    value_base64: Option<String>,
    #[serde(default)]
    warnings: Vec<Warning>,
}

impl From<SecretValueFields> for SecretValue {
    fn from(f: SecretValueFields) -> Self {
        SecretValue {
            meta: SecretMeta {
                id: f.id,
                workspace: f.workspace,
                key: f.key,
                description: f.description,
                token_type: f.token_type,
                scope: f.scope,
                envs: f.envs,
                expires_at: f.expires_at,
                notify_before: f.notify_before,
                status: f.status,
                version: f.version,
                env_versions: f.env_versions,
                revision: f.revision,
                created_at: f.created_at,
                updated_at: f.updated_at,
                created_by: f.created_by,
                updated_by: f.updated_by,
                used_by: f.used_by,
            },
            value_env: f.value_env,
            value_version: f.value_version,
            value: f.value,
            value_base64: f.value_base64,
            warnings: f.warnings,
        }
    }
}

impl Drop for SecretValue {
    fn drop(&mut self) {
        // Clear intermediates: the response body is the value's last plaintext copy here.
        if let Some(v) = self.value.as_mut() {
            zeroize::Zeroize::zeroize(v);
        }
        if let Some(v) = self.value_base64.as_mut() {
            zeroize::Zeroize::zeroize(v);
        }
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretValue")
            .field("meta", &self.meta)
            .field("value", &"[redacted]")
            .finish()
    }
}

/// One version in a secret's history. No value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionInfo {
    /// The environment whose own value this version is of; null for the shared value.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub env: Option<String>,
    /// The version number (per environment's own value, or of the shared value).
    pub version: u64,
    /// RFC 3339.
    pub created_at: String,
    /// Who wrote it.
    pub created_by: String,
    /// Whether it is the current version.
    pub current: bool,
}

/// The error body of every failed API call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Error))]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong, for machines (`code`) and people (`message`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// A stable code such as `not_found`, `conflict`, `revoked`.
    pub code: ErrorCode,
    /// What was wrong and what to do.
    pub message: String,
}

/// A token's record. Never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenInfo {
    /// Stable id (`tok_…`).
    pub id: String,
    /// Name.
    pub name: String,
    /// `admin`, `write`, `read` or `machine`.
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Role))]
    pub role: String,
    /// For machine tokens: the app.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub app: Option<String>,
    /// For machine tokens: the environment.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub env: Option<String>,
    /// Unix seconds, or null.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub expires_at: Option<i64>,
    /// `active`, `revoked` or `expired`.
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Status))]
    pub status: String,
    /// RFC 3339.
    pub created_at: String,
    /// Who made it.
    pub created_by: String,
    /// RFC 3339, once revoked.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub revoked_at: Option<String>,
}

/// `GET /v1/whoami`: the token a request was made with, and its workspace. Never the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WhoAmI {
    /// The token's record.
    pub token: TokenInfo,
    /// The workspace it works in.
    pub workspace: String,
}

/// A newly made token: the only answer that carries one.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewToken {
    /// The record.
    #[serde(flatten)]
    pub info: TokenInfo,
    /// The token, shown once.
    pub token: String,
}

impl Drop for NewToken {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.token);
    }
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("info", &self.info)
            .field("token", &"[redacted]")
            .finish()
    }
}

/// One key of an audit row that names several: what was given out (or refused) for it. The
/// row's MAC covers these fields, serialized in this order (absent ones left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditItem {
    /// The secret's key.
    pub key: String,
    /// The value version given out (or read before a refusal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// The environment whose own value it was; absent for the shared value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// `ok`, or why it was refused (`not_found`, `revoked`, `out_of_scope`, …).
    pub outcome: String,
    /// `fallback for A` (a fallback tried), `served by B; skipped A (revoked)` (one that
    /// served).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One row of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditRecord {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// RFC 3339 with milliseconds.
    pub time: String,
    /// Token id, `local`, or `anonymous`.
    pub actor_id: String,
    /// Token name or `local:$USER`.
    pub actor_name: String,
    /// `secret.read`, `secret.create`, `token.create`, `auth.failed`, ….
    pub action: String,
    /// Workspace.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub workspace: Option<String>,
    /// Secret key (or token id for token actions).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub key: Option<String>,
    /// Value version (of `env`'s own value when `env` is set).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub version: Option<u64>,
    /// The environment whose own value was read or written; null for the shared value.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub env: Option<String>,
    /// `ok` or an error code.
    pub outcome: String,
    /// Remote address.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub remote: Option<String>,
    /// The id of the HTTP request that wrote the row (`X-Request-Id`: the client's, or the one
    /// the server made and answered with); absent for rows written by the CLI on the
    /// embedded store and rows from before request ids were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// What else the row records, in words: for `audit.prune`, which rows were removed and
    /// the time given. Absent when there is nothing to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For a request that gave out or refused several keys at once (a resolve of more than
    /// one key): one item per key tried, in order; the row's `key`, `version` and `env` are
    /// then null and its `outcome` is `ok` (every key given out), `partial` or `refused`.
    /// Absent for a row about one key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<AuditItem>,
    /// MAC of the previous row (the name is from before the chain was keyed).
    pub prev_hash: String,
    /// This row's MAC: HMAC-SHA256 under the store's audit key, hex (rows written before the
    /// chain was keyed: SHA-256).
    pub hash: String,
}

/// The answer of `audit verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditVerdict {
    /// Whether the chain is intact (and the expected head, if one was given, is there).
    pub intact: bool,
    /// Rows checked.
    pub rows: usize,
    /// The first bad row, when broken.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub first_bad_seq: Option<i64>,
    /// Why it is bad.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub reason: Option<String>,
    /// How many rows (from row 1) predate the keyed chain: linked by plain SHA-256, and
    /// anchored by the first keyed row after them.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub legacy_rows: usize,
    /// The newest row's sequence number (0: the log is empty).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub head_seq: i64,
    /// The newest row's MAC (not to be trusted when the chain is broken).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub head_mac: String,
    /// Whether an expected head (`head_seq` and `head_mac` query parameters) was checked.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub head_checked: bool,
    /// Where the walk started when older rows were pruned: the last removed row's sequence
    /// number and MAC (the first kept row links to it). Absent while the chain starts at
    /// row 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<AuditHead>,
}

/// `POST /v1/audit/prune`: remove the audit rows older than a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AuditPruneRequest {
    /// Rows written before this time go: RFC 3339 (`2026-01-31T00:00:00Z`), unix seconds
    /// as a string, or a duration before now (`90d`). Not in the future.
    pub before: String,
}

/// The answer of `POST /v1/audit/prune`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditPruned {
    /// How many rows were removed (0: none was older; nothing changed, no row was written).
    pub removed: u64,
    /// Where the chain now starts: the last removed row (null while it starts at row 1).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub checkpoint: Option<AuditHead>,
    /// The newest row after the prune (its own `audit.prune` row when rows were removed): a
    /// head to record.
    pub head: AuditHead,
}

/// A head of the audit chain: a row's sequence number and MAC, to keep elsewhere and give back
/// to `audit verify`, so rows cut off the end are found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditHead {
    /// The row's sequence number (0: the empty log).
    pub seq: i64,
    /// Its MAC, 64 hex digits.
    pub mac: String,
}

/// One page of a collection: every list route answers in this shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    /// This page's items, in the route's order.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page, unchanged (it is opaque); null on the last page.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_cursor: Option<String>,
}

/// A page of secrets, by key.
pub type SecretPage = Page<SecretMeta>;

/// A page of audit rows, in sequence order.
pub type AuditPage = Page<AuditRecord>;

/// `POST /v1/resolve`'s answer: a value per key that could be had, a reason per key that
/// could not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Resolved {
    /// Values by key.
    pub secrets: std::collections::BTreeMap<String, SecretValue>,
    /// Reasons by key (`missing`, `revoked`, `expired`, `out_of_scope`, `decrypt_failed`).
    pub errors: std::collections::BTreeMap<String, Refusal>,
    /// By key wanted, when a key other than it was tried (the request's `fallbacks`): which
    /// key served it and which were skipped. Absent for keys their own key answered.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty", default)]
    pub fallbacks: std::collections::BTreeMap<String, FallbackTrail>,
    /// Warnings about the secrets served (an expiry within its window), in key order;
    /// absent when there is nothing to say.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub warnings: Vec<Warning>,
}

/// How a key wanted in a resolve call was served when its fallbacks were tried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FallbackTrail {
    /// The key whose value was given (in `secrets`, under the key wanted); null when none
    /// could be (`errors` has the last key's reason).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub served_by: Option<String>,
    /// Every key tried that did not serve, in order (the key wanted first), and why.
    pub skipped: Vec<SkippedKey>,
}

/// A key tried for a key wanted, which could not serve it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SkippedKey {
    /// The key tried.
    pub key: String,
    /// Why it could not serve, for machines (`missing`, `revoked`, `expired`, …).
    pub code: Reason,
    /// Why, for people.
    pub message: String,
}

/// Why one key of a resolve call could not be had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Refusal {
    /// The reason, for machines.
    pub code: Reason,
    /// What was wrong and what to do.
    pub message: String,
}

/// Schemas for string fields whose values are a closed set (the Rust types keep them as
/// strings, so an unknown value from a newer server still reads).
#[cfg(feature = "openapi")]
pub mod schema {
    /// A secret's or a token's status.
    #[derive(utoipa::ToSchema)]
    #[schema(rename_all = "lowercase")]
    pub enum Status {
        /// Usable.
        Active,
        /// Disabled by a person.
        Revoked,
        /// Past its expiry.
        Expired,
    }

    /// A secret's status.
    #[derive(utoipa::ToSchema)]
    #[schema(rename_all = "lowercase")]
    pub enum SecretStatus {
        /// Served.
        Active,
        /// Served, and within its warning window (`notify_before`) before `expires_at`.
        Expiring,
        /// Disabled by a person.
        Revoked,
        /// Past its expiry.
        Expired,
    }

    /// What a warning is about.
    #[derive(utoipa::ToSchema)]
    #[schema(rename_all = "lowercase")]
    pub enum WarningCode {
        /// The secret expires within its warning window.
        Expiring,
    }

    /// An expiry as a request gives it: unix seconds, or an RFC 3339 date-time string
    /// (`2027-01-31T00:00:00Z`). Answers always give unix seconds.
    // serde's `untagged` is what makes the schema a plain `oneOf` (utoipa reads it); the
    // type is never serialised.
    #[derive(utoipa::ToSchema, serde::Serialize)]
    #[serde(untagged)]
    #[allow(dead_code)]
    pub enum Expiry {
        /// Unix seconds, 1 to 253402300799 (the end of year 9999).
        Seconds(i64),
        /// An RFC 3339 date-time.
        #[schema(format = DateTime)]
        Date(String),
    }

    /// A token's role.
    #[derive(utoipa::ToSchema)]
    #[schema(rename_all = "lowercase")]
    pub enum Role {
        /// Everything in its workspace.
        Admin,
        /// Read and change secrets.
        Write,
        /// Read secrets.
        Read,
        /// A workload's token, bound to an app and an environment.
        Machine,
    }
}

/// One change event of `GET /v1/events` (the `data:` of a Server-Sent Event, whose `id:` is
/// `id` and whose `event:` is `type`). Never a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// Increasing: give the last one seen as `Last-Event-ID` to resume without a gap.
    pub id: i64,
    /// `created`, `updated`, `revoked`, `restored`, `deleted`, `expiring`, `expired` or
    /// `fallback` (a read served by a fallback key; `key` is the key that served).
    #[serde(rename = "type")]
    pub kind: String,
    /// The workspace.
    pub workspace: String,
    /// The secret's key.
    pub key: String,
    /// The value version written (`created`, `updated`), read (`fallback`) or current.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub version: Option<u64>,
    /// The environment whose own value it was; null for the shared value.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub environment: Option<String>,
    /// When, RFC 3339.
    pub time: String,
    /// More, in words: `served by B; skipped A (revoked)` for a fallback, `expires at …` for
    /// `expiring` and `expired`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A webhook endpoint's record (`GET /v1/webhooks`). Never its signing secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Webhook {
    /// Stable id (`whk_…`).
    pub id: String,
    /// Where events are POSTed (`http` or `https`).
    pub url: String,
    /// The event types it gets: `created`, `updated`, `revoked`, `restored`, `deleted`,
    /// `expiring`, `expired`, `fallback`.
    pub events: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
    /// Who registered it.
    pub created_by: String,
}

/// A newly registered webhook: the only answer that carries its signing secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewWebhook {
    /// The record.
    #[serde(flatten)]
    pub info: Webhook,
    /// The signing secret (`whsec_…`), shown once: each delivery carries
    /// `X-Hush-Signature: sha256=<hex HMAC-SHA256 of the body under it>`.
    pub secret: String,
}

impl Drop for NewWebhook {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret);
    }
}

impl std::fmt::Debug for NewWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewWebhook")
            .field("info", &self.info)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// `POST /v1/webhooks`'s request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    /// Where to POST events: an `http://` or `https://` URL.
    pub url: String,
    /// The event types to send (at least one): `created`, `updated`, `revoked`, `restored`,
    /// `deleted`, `expiring`, `expired`, `fallback`.
    pub events: Vec<String>,
}

/// One delivery of one event to one webhook, and how it went. Never a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookDelivery {
    /// Stable id (`dlv_…`), also sent as `X-Hush-Delivery`.
    pub id: String,
    /// The webhook (`whk_…`).
    pub webhook: String,
    /// The event's id (as in `GET /v1/events`).
    pub event_id: i64,
    /// The event's type.
    pub event: String,
    /// The secret's key the event is about.
    pub key: String,
    /// `pending` (being tried), `delivered` (a 2xx answer) or `failed` (no 2xx within 24 hours).
    pub status: String,
    /// How many times it was POSTed.
    pub attempts: u32,
    /// The HTTP status of the last answer, if there was one.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub last_status: Option<u16>,
    /// Why the last attempt failed (`connection refused`, `timeout after 10 s`, `HTTP 500`).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub last_error: Option<String>,
    /// RFC 3339: when the next attempt is due (pending only).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_attempt_at: Option<String>,
    /// RFC 3339, once delivered.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub delivered_at: Option<String>,
    /// RFC 3339: when the delivery was queued.
    pub created_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> SecretValue {
        SecretValue {
            meta: SecretMeta {
                id: "sec_1".into(),
                workspace: "default".into(),
                key: "STRIPE_KEY".into(),
                description: Some("payments".into()),
                token_type: Some("api".into()),
                scope: vec!["web".into()],
                envs: vec!["prd".into(), "stg".into()],
                expires_at: Some(1_900_000_000),
                notify_before: Some(86_400),
                status: "expiring".into(),
                version: 3,
                env_versions: [("prd".to_string(), 2)].into_iter().collect(),
                revision: 7,
                created_at: "2026-01-01T00:00:00Z".into(),
                updated_at: "2026-02-01T00:00:00Z".into(),
                created_by: "token:ci".into(),
                updated_by: "token:admin".into(),
                used_by: Some(vec![UsedBy {
                    app: "web".into(),
                    last_read_at: None,
                    env: None,
                }]),
            },
            value_env: Some("prd".into()),
            value_version: 2,
            value: Some("planted-wire-value".into()),
            value_base64: None,
            warnings: vec![Warning {
                key: "STRIPE_KEY".into(),
                code: "expiring".into(),
                message: "STRIPE_KEY expires soon".into(),
                expires_at: Some(1_900_000_000),
            }],
        }
    }

    /// Parsed field by field (no flattened buffer), a value reads back as it was written,
    /// whatever the order of its fields; an older server's answer without the later fields
    /// gets their defaults; fields this version does not know are passed over.
    #[test]
    fn a_secret_value_reads_back_as_written() {
        let v = full();
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(
            serde_json::from_value::<SecretValue>(json.clone()).unwrap(),
            v
        );
        let text = serde_json::to_string(&v).unwrap();
        assert_eq!(serde_json::from_str::<SecretValue>(&text).unwrap(), v);
        // Reversed field order, and a field from a later version.
        let mut reversed = serde_json::Map::new();
        for (k, x) in json.as_object().unwrap().iter().rev() {
            reversed.insert(k.clone(), x.clone());
        }
        reversed.insert("from_the_future".into(), serde_json::json!({"a": 1}));
        let text = serde_json::to_string(&reversed).unwrap();
        assert_eq!(serde_json::from_str::<SecretValue>(&text).unwrap(), v);
        // An older server: no notify_before, env_versions, revision, used_by, value_env,
        // warnings; a binary value.
        let old = serde_json::json!({
            "id": "sec_2", "workspace": "default", "key": "K", "description": null,
            "token_type": null, "scope": [], "envs": [], "expires_at": null,
            "status": "active", "version": 1, "created_at": "2025-01-01T00:00:00Z",
            "updated_at": "2025-01-01T00:00:00Z", "created_by": "a", "updated_by": "a",
            "value_version": 1, "value_base64": "AAE="
        });
        let got: SecretValue = serde_json::from_str(&old.to_string()).unwrap();
        assert_eq!(got.meta.revision, 0);
        assert!(got.meta.env_versions.is_empty() && got.meta.used_by.is_none());
        assert_eq!(
            (got.value_env.as_deref(), got.value.as_deref()),
            (None, None)
        );
        assert_eq!(got.value_base64.as_deref(), Some("AAE="));
        // A missing required field is named.
        let mut broken = old.clone();
        broken.as_object_mut().unwrap().remove("value_version");
        let e = serde_json::from_str::<SecretValue>(&broken.to_string()).unwrap_err();
        assert!(e.to_string().contains("value_version"), "{e}");
    }
}

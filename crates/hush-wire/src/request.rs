//! What clients send: the request bodies and query strings of the API, exactly as the server
//! reads them. The SDK serialises these types and the server deserialises the same ones, so
//! the two cannot drift apart.
//!
//! The bodies refuse unknown fields (a misspelt field is an error, not silently ignored), and
//! `null` clears a nullable field where absence leaves it as it is: [`nullable`] tells the two
//! apart. A value in a body is zeroized when the body is dropped.

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize};
use zeroize::{Zeroize as _, Zeroizing};

/// `Option<Option<T>>` from JSON: absent → `None` (with `#[serde(default)]`), `null` →
/// `Some(None)`, a value → `Some(Some(value))`. Without it serde reads `null` as `None`.
pub fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A list where `null` means the empty list (it clears, as `[]` does); absent → `None` (with
/// `#[serde(default)]`).
fn nullable_list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Vec<T>>, D::Error> {
    Option::<Vec<T>>::deserialize(d).map(|v| Some(v.unwrap_or_default()))
}

/// What kind of token a secret holds (Ductape's `token_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    /// An API key.
    Api,
    /// An access token.
    Access,
}

impl TokenType {
    /// The wire and storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Api => "api",
            TokenType::Access => "access",
        }
    }

    /// Parses `api` or `access`.
    pub fn parse(s: &str) -> Result<Self, UnknownTokenType> {
        match s {
            "api" => Ok(TokenType::Api),
            "access" => Ok(TokenType::Access),
            other => Err(UnknownTokenType {
                value: other.chars().take(64).collect(),
            }),
        }
    }
}

/// A `token_type` that is neither `api` nor `access`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownTokenType {
    /// What was given (at most 64 characters of it).
    pub value: String,
}

impl std::fmt::Display for UnknownTokenType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("unknown token_type: use \"api\" or \"access\"")
    }
}

impl std::error::Error for UnknownTokenType {}

/// What a value must be to be written: the `format` of a write (the web UI's Format field,
/// the CLI's `--format`). It is a check at the door, not stored metadata: `json` makes the
/// write refuse a value that does not parse as JSON, and nothing is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ValueFormat {
    /// Any bytes (the default): no check.
    #[default]
    Text,
    /// A JSON document (any JSON value).
    Json,
}

impl ValueFormat {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueFormat::Text => "text",
            ValueFormat::Json => "json",
        }
    }
}

/// `expires_at` as a body gives it: unix seconds (an integer) or an RFC 3339 date-time
/// string, read into unix seconds. The range (and the milliseconds hint) is hush-core's rule.
fn expiry<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    struct V;
    impl<'a> serde::de::Visitor<'a> for V {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("unix seconds or an RFC 3339 date-time such as 2027-01-31T00:00:00Z")
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            i64::try_from(v)
                .map(Some)
                .map_err(|_| E::invalid_value(serde::de::Unexpected::Other("a number"), &self))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            time::OffsetDateTime::parse(v.trim(), &time::format_description::well_known::Rfc3339)
                .map(|t| Some(t.unix_timestamp()))
                // The text is not quoted back: whatever was sent stays out of the error.
                .map_err(|_| E::invalid_value(serde::de::Unexpected::Other("a string"), &self))
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'a>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }
    d.deserialize_option(V)
}

/// An `expires_at` that may be `null` (clear it): see [`expiry`].
fn nullable_expiry<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    expiry(d).map(Some)
}

/// A change to a secret's metadata, as every entry point (API, CLI, web UI, SDK) asks for it:
/// `None` leaves a field as it is. The rules a patch must follow, and how it applies to stored
/// metadata, are hush-core's (`hush_core::patch`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataPatch {
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New token type (`Some(None)` clears it).
    pub token_type: Option<Option<TokenType>>,
    /// New scope (an empty list clears it).
    pub scope: Option<Vec<String>>,
    /// New environments (an empty list clears them).
    pub envs: Option<Vec<String>>,
    /// New expiry (`Some(None)` clears it).
    pub expires_at: Option<Option<i64>>,
    /// New warning window in seconds before the expiry (`Some(None)`: back to the default).
    pub notify_before: Option<Option<i64>>,
    /// How the value written with the patch is checked (`json`: it must parse). Not stored.
    pub format: Option<ValueFormat>,
    /// Accept an `expires_at` in the past (a secret that is expired as soon as it is
    /// written); without it such an expiry is refused. Not stored.
    pub allow_past: bool,
}

impl MetadataPatch {
    /// Whether the patch changes no metadata (`format` and `allow_past` only check a write).
    pub fn is_empty(&self) -> bool {
        self.description.is_none()
            && self.token_type.is_none()
            && self.scope.is_none()
            && self.envs.is_none()
            && self.expires_at.is_none()
            && self.notify_before.is_none()
    }
}

/// Why the value of a [`SecretWriteBody`] cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueError {
    /// Both `value` and `value_base64` were given.
    Both,
    /// `value_base64` is not standard base64.
    Base64,
}

impl std::fmt::Display for ValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ValueError::Both => "give either `value` or `value_base64`, not both",
            ValueError::Base64 => "`value_base64` is not valid standard base64",
        })
    }
}

impl std::error::Error for ValueError {}

/// The body of a secret write (`POST /v1/secrets`, `PUT` and `PATCH /v1/secrets/{key}`).
/// Absent fields are left as they are; `null` clears a nullable field (for `scope` and `envs`,
/// as `[]` does).
#[derive(Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = SecretWrite))]
#[serde(deny_unknown_fields)]
pub struct SecretWriteBody {
    /// The key (`POST` only; on `PUT`, the path's key if given).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key: Option<String>,
    /// The value as UTF-8 text.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub value: Option<String>,
    /// The value as standard base64 (for bytes that are not UTF-8).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub value_base64: Option<String>,
    /// Description (`null` clears it).
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "nullable"
    )]
    pub description: Option<Option<String>>,
    /// `api`, `access` (`null` clears it).
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "nullable"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<TokenType>))]
    pub token_type: Option<Option<String>>,
    /// Apps allowed to read it (`[]` or `null` clears it).
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "nullable_list"
    )]
    pub scope: Option<Vec<String>>,
    /// Environments it is available in (`[]` or `null` clears them).
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "nullable_list"
    )]
    pub envs: Option<Vec<String>>,
    /// Unix seconds or an RFC 3339 date-time (`null` clears it). An expiry in the past is
    /// refused unless `allow_past` is true.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "nullable_expiry"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::schema::Expiry>))]
    pub expires_at: Option<Option<i64>>,
    /// How long before `expires_at` the secret is `expiring` and reads of it warn, in
    /// seconds (`null`: the default, 14 days).
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "nullable"
    )]
    pub notify_before: Option<Option<i64>>,
    /// Accept an `expires_at` in the past: the secret is written already expired.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub allow_past: bool,
    /// `json`: refuse (422) a value that does not parse as JSON; `text` (the default): any
    /// bytes. A check on this write only, not stored.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub format: Option<ValueFormat>,
    /// `PUT` and `PATCH` only: write only if this is still the current value version, else
    /// 409 `stale_version`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expected_version: Option<u64>,
}

impl SecretWriteBody {
    /// The body that writes `value` (as text when it is UTF-8, else as base64) and `patch`.
    pub fn new(key: Option<&str>, value: Option<&[u8]>, patch: MetadataPatch) -> Self {
        let mut b = SecretWriteBody {
            key: key.map(str::to_string),
            value: None,
            value_base64: None,
            description: patch.description,
            token_type: patch.token_type.map(|t| t.map(|t| t.as_str().to_string())),
            scope: patch.scope,
            envs: patch.envs,
            expires_at: patch.expires_at,
            notify_before: patch.notify_before,
            allow_past: patch.allow_past,
            format: patch.format,
            expected_version: None,
        };
        if let Some(v) = value {
            match std::str::from_utf8(v) {
                Ok(s) => b.value = Some(s.to_string()),
                Err(_) => {
                    b.value_base64 = Some(base64::engine::general_purpose::STANDARD.encode(v))
                }
            }
        }
        b
    }

    /// Takes the value out of the body (`value`, or `value_base64` decoded); `None` when the
    /// body gives neither. The body's copies are cleared.
    pub fn take_value(&mut self) -> Result<Option<Zeroizing<Vec<u8>>>, ValueError> {
        match (self.value.take(), self.value_base64.take()) {
            (Some(v), Some(b)) => {
                // Clear intermediates: neither is used.
                drop((Zeroizing::new(v), Zeroizing::new(b)));
                Err(ValueError::Both)
            }
            (Some(v), None) => Ok(Some(Zeroizing::new(v.into_bytes()))),
            (None, Some(b)) => {
                let b = Zeroizing::new(b);
                base64::engine::general_purpose::STANDARD
                    .decode(b.as_bytes())
                    .map(|raw| Some(Zeroizing::new(raw)))
                    .map_err(|_| ValueError::Base64)
            }
            (None, None) => Ok(None),
        }
    }

    /// The metadata change the body asks for.
    pub fn patch(&self) -> Result<MetadataPatch, UnknownTokenType> {
        let token_type = match &self.token_type {
            None => None,
            Some(None) => Some(None),
            Some(Some(t)) => Some(Some(TokenType::parse(t)?)),
        };
        Ok(MetadataPatch {
            description: self.description.clone(),
            token_type,
            scope: self.scope.clone(),
            envs: self.envs.clone(),
            expires_at: self.expires_at,
            notify_before: self.notify_before,
            format: self.format,
            allow_past: self.allow_past,
        })
    }
}

impl Drop for SecretWriteBody {
    fn drop(&mut self) {
        for v in [&mut self.value, &mut self.value_base64]
            .into_iter()
            .flatten()
        {
            v.zeroize();
        }
    }
}

impl std::fmt::Debug for SecretWriteBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretWriteBody")
            .field("key", &self.key)
            .field("value", &"[redacted]")
            .finish()
    }
}

/// `POST /v1/secrets/{key}/rollback`'s body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Rollback))]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The version whose value becomes current again, as a new version.
    pub to: u64,
}

/// `POST /v1/resolve`'s request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Resolve))]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// The app asking (must match a machine token's).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub app: Option<String>,
    /// The environment (must match a machine token's).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub env: Option<String>,
    /// The keys wanted.
    pub keys: Vec<String>,
    /// For a key wanted, the keys to try in its place, in order, when it is missing (or has
    /// no value for the environment), revoked or expired — a manifest's `fallback`. The
    /// answer is under the key wanted; its `fallbacks` entry says which key served and which
    /// were skipped, and why.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty", default)]
    pub fallbacks: std::collections::BTreeMap<String, Vec<String>>,
    /// Check only: answer each key's metadata (no value) or why it cannot be had; nothing is
    /// read and no read is recorded.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub dry_run: bool,
}

/// `POST /v1/tokens`'s request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = TokenCreate))]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// A name to recognise it by (default: the role, or `APP-ENV`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    /// `admin`, `write` or `read` (not with app/env).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub role: Option<String>,
    /// Machine token: the app.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub app: Option<String>,
    /// Machine token: the environment.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub env: Option<String>,
    /// Unix seconds or an RFC 3339 date-time; it must be in the future.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "expiry"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::schema::Expiry>))]
    pub expires_at: Option<i64>,
    /// The workspace the token is for (default: the caller's). Tokens belong to one
    /// workspace: only the caller's own is accepted (403 otherwise, whether it exists or not);
    /// a token for another workspace is made with an admin token of that workspace.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub workspace: Option<String>,
}

/// The query of `GET /v1/secrets/{key}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct SecretQuery {
    /// The version to read (default: the current one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// The environment whose own value this is about (none: the value shared by every
    /// environment). A read in an environment with no value of its own gets the shared one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
}

/// The query of the writes of one secret's value: `POST /v1/secrets`, `PUT` and `PATCH
/// /v1/secrets/{key}`, `POST /v1/secrets/{key}/rollback`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct EnvQuery {
    /// The environment whose own value this is about (none: the value shared by every
    /// environment). A read in an environment with no value of its own gets the shared one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
}

/// The query of `GET /v1/secrets/{key}/versions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct VersionsQuery {
    /// Only the versions of this environment's own value (none: every version, shared and
    /// environments' own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// The previous page's `next_cursor`, unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// The query of `GET /v1/secrets`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct SecretListQuery {
    /// Only secrets available in this environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// Only secrets this app may read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Only keys with this prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// `active` (`expiring` included), `expiring`, `revoked` or `expired`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The previous page's `next_cursor`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// The query of `DELETE /v1/secrets/{key}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// Delete even while registered apps name the secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    /// Delete only if this is still the current value version, else 409 `stale_version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<u64>,
    /// Delete only this environment's own value (every version of it); the secret stays.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
}

/// The query of the list routes that take only a page: `GET /v1/apps`, `GET /v1/tokens`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// The previous page's `next_cursor`, unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// The query of `GET /v1/audit`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct AuditListQuery {
    /// Only rows about this key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Only rows by this actor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Only rows since (unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// Only rows until (unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
    /// The previous page's `next_cursor`, unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// The query of `GET /v1/audit/verify`: a head recorded earlier, given back together or not
/// at all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct AuditVerifyQuery {
    /// The head's sequence number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_seq: Option<i64>,
    /// The head's MAC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_mac: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_null_and_set_are_three_things() {
        let b: SecretWriteBody = serde_json::from_str(
            r#"{"description":null,"token_type":"api","scope":null,"envs":["prd"]}"#,
        )
        .unwrap();
        assert_eq!(b.description, Some(None));
        assert_eq!(b.scope, Some(vec![]));
        assert_eq!(b.expires_at, None);
        let p = b.patch().unwrap();
        assert_eq!(p.token_type, Some(Some(TokenType::Api)));
        assert_eq!(p.envs, Some(vec!["prd".to_string()]));
        let b: SecretWriteBody = serde_json::from_str(r#"{"expires_at":null}"#).unwrap();
        assert_eq!(b.patch().unwrap().expires_at, Some(None));
        assert!(serde_json::from_str::<SecretWriteBody>("{}")
            .unwrap()
            .patch()
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_patch_survives_the_wire() {
        let p = MetadataPatch {
            description: Some(None),
            token_type: Some(Some(TokenType::Access)),
            scope: Some(vec!["a".into()]),
            envs: Some(vec![]),
            expires_at: Some(None),
            ..MetadataPatch::default()
        };
        let json = serde_json::to_string(&SecretWriteBody::new(None, None, p.clone())).unwrap();
        assert_eq!(
            json,
            r#"{"description":null,"token_type":"access","scope":["a"],"envs":[],"expires_at":null}"#
        );
        let back: SecretWriteBody = serde_json::from_str(&json).unwrap();
        assert_eq!(back.patch().unwrap(), p);
    }

    /// Issue 16: an RFC 3339 `expires_at` was refused by the API although the CLI took it.
    #[test]
    fn expires_at_is_unix_seconds_or_rfc3339() {
        let at = |json: &str| {
            serde_json::from_str::<SecretWriteBody>(json)
                .map(|b| b.expires_at)
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            at(r#"{"expires_at":4102444800}"#),
            Ok(Some(Some(4102444800)))
        );
        assert_eq!(
            at(r#"{"expires_at":"2100-01-01T00:00:00Z"}"#),
            Ok(Some(Some(4102444800)))
        );
        assert_eq!(
            at(r#"{"expires_at":"2100-01-01T01:00:00+01:00"}"#),
            Ok(Some(Some(4102444800)))
        );
        assert_eq!(at(r#"{"expires_at":null}"#), Ok(Some(None)));
        assert_eq!(at("{}"), Ok(None));
        // Milliseconds stay a number here: hush-core's range check refuses them with a hint.
        assert_eq!(
            at(r#"{"expires_at":1800000000000}"#),
            Ok(Some(Some(1_800_000_000_000)))
        );
        for bad in [
            r#"{"expires_at":"sk_planted tomorrow"}"#,
            r#"{"expires_at":"2100-01-01"}"#,
            r#"{"expires_at":1.5}"#,
            r#"{"expires_at":true}"#,
            r#"{"expires_at":18446744073709551615}"#,
        ] {
            let e = at(bad).unwrap_err();
            assert!(e.contains("RFC 3339"), "{bad}: {e}");
            assert!(!e.contains("sk_planted"), "{bad}: {e}");
        }
        let t: TokenRequest = serde_json::from_str(
            r#"{"role":"read","expires_at":"2100-01-01T00:00:00Z","workspace":"w"}"#,
        )
        .unwrap();
        assert_eq!(t.expires_at, Some(4102444800));
        assert_eq!(t.workspace.as_deref(), Some("w"));
    }

    #[test]
    fn format_and_allow_past_travel_with_the_patch() {
        let b: SecretWriteBody =
            serde_json::from_str(r#"{"value":"{}","format":"json","allow_past":true}"#).unwrap();
        let p = b.patch().unwrap();
        assert_eq!(p.format, Some(ValueFormat::Json));
        assert!(p.allow_past);
        assert!(p.is_empty(), "they check a write; they change no metadata");
        let json = serde_json::to_string(&SecretWriteBody::new(None, None, p.clone())).unwrap();
        assert_eq!(json, r#"{"allow_past":true,"format":"json"}"#);
        assert!(serde_json::from_str::<SecretWriteBody>(r#"{"format":"yaml"}"#).is_err());
    }

    #[test]
    fn values_go_as_text_or_base64_and_come_back() {
        let mut b = SecretWriteBody::new(Some("k"), Some(b"text"), MetadataPatch::default());
        assert_eq!(b.value.as_deref(), Some("text"));
        assert_eq!(b.take_value().unwrap().unwrap().as_slice(), b"text");
        assert_eq!(b.value, None);
        let mut b = SecretWriteBody::new(None, Some(b"\xff\x00"), MetadataPatch::default());
        assert_eq!(b.value_base64.as_deref(), Some("/wA="));
        assert_eq!(b.take_value().unwrap().unwrap().as_slice(), b"\xff\x00");
        let mut both: SecretWriteBody =
            serde_json::from_str(r#"{"value":"a","value_base64":"YQ=="}"#).unwrap();
        assert_eq!(both.take_value(), Err(ValueError::Both));
        let mut bad: SecretWriteBody = serde_json::from_str(r#"{"value_base64":"!!"}"#).unwrap();
        assert_eq!(bad.take_value(), Err(ValueError::Base64));
        assert_eq!(SecretWriteBody::default().take_value(), Ok(None));
    }

    #[test]
    fn unknown_fields_are_refused_by_name() {
        for (json, known) in [
            (r#"{"vaule":"x"}"#, "`key`, `value`, `value_base64`"),
            (
                r#"{"keys":[],"dryrun":true}"#,
                "`app`, `env`, `keys`, `fallbacks`, `dry_run`",
            ),
            (
                r#"{"nmae":"x"}"#,
                "`name`, `role`, `app`, `env`, `expires_at`",
            ),
            (r#"{"to":1,"from":2}"#, "`to`"),
        ] {
            let errors = [
                serde_json::from_str::<SecretWriteBody>(json).err(),
                serde_json::from_str::<ResolveRequest>(json).err(),
                serde_json::from_str::<TokenRequest>(json).err(),
                serde_json::from_str::<RollbackRequest>(json).err(),
            ];
            assert!(
                errors.iter().flatten().any(|e| {
                    let e = e.to_string();
                    e.contains("unknown field") && e.contains(known)
                }),
                "{json}: {errors:?}"
            );
        }
    }

    #[test]
    fn token_types_parse_and_print() {
        for t in [TokenType::Api, TokenType::Access] {
            assert_eq!(TokenType::parse(t.as_str()), Ok(t));
        }
        let e = TokenType::parse(&"x".repeat(100)).unwrap_err();
        assert_eq!(e.value.len(), 64);
        assert_eq!(
            e.to_string(),
            "unknown token_type: use \"api\" or \"access\""
        );
    }

    #[test]
    fn debug_hides_the_value() {
        let b = SecretWriteBody::new(Some("k"), Some(b"sk_live_planted"), Default::default());
        assert!(!format!("{b:?}").contains("sk_live_planted"));
    }

    #[test]
    fn queries_print_only_what_is_set() {
        let q = SecretListQuery {
            prefix: Some("db".into()),
            limit: Some(1000),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&q).unwrap(),
            serde_json::json!({"prefix": "db", "limit": 1000})
        );
    }
}

/// The query of `GET /v1/events`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Only events about these keys, comma-separated (`DB_PASSWORD,API_TOKEN`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Resume after this event id (as the `Last-Event-ID` header does; the header wins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
}

/// `GET /v1/webhooks/deliveries`' query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// Only this webhook's deliveries (`whk_…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    /// At most this many, newest first: 1 to 1000, 100 when not given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

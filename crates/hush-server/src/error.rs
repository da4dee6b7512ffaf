//! The one error type of the API, and how every failure becomes a JSON error body.
//!
//! 4xx bodies say what was wrong and what to do; 5xx bodies are generic and the cause goes to
//! the log. No body ever carries a value or a token: hush-core's errors hold keys, versions and
//! reasons only.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hush_core::{Error, StoreError};
// `C` keeps each status-and-code line as short as the string it replaced.
use hush_wire::{ErrorBody, ErrorCode as C, ErrorDetail};

/// An API failure: a status, a stable code and a message.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine code.
    pub code: C,
    /// What was wrong and what to do.
    pub message: String,
    /// When the store failed: its kind, counted in the metrics.
    store_kind: Option<&'static str>,
}

impl ApiError {
    /// Builds an error.
    pub fn new(status: StatusCode, code: C, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            store_kind: None,
        }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, C::BadRequest, message)
    }

    /// 422 naming the field.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, C::InvalidField, message)
    }

    /// 500; the cause goes to the server log only.
    pub(crate) fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            C::Internal,
            "internal error; the cause is in the server log",
        )
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let store_kind = match &e {
            Error::Store(StoreError::Unavailable(_)) => Some("unavailable"),
            Error::Store(StoreError::Corrupt(_)) => Some("corrupt"),
            Error::Store(StoreError::NoAuditKey) => Some("no_audit_key"),
            Error::AuditSink { .. } => Some("audit_sink"),
            Error::Store(_) => Some("other"),
            _ => None,
        };
        ApiError {
            store_kind,
            ..Self::from_core(e)
        }
    }
}

impl ApiError {
    fn from_core(e: Error) -> Self {
        let msg = format!("{e}{}", api_hint(&e));
        match &e {
            Error::Invalid(_) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, C::InvalidField, msg),
            Error::NotFound { .. }
            | Error::VersionNotFound { .. }
            | Error::NoValue { .. }
            | Error::WorkspaceNotFound { .. }
            | Error::TokenNotFound { .. }
            | Error::WebhookNotFound { .. }
            | Error::AppNotFound { .. } => Self::new(StatusCode::NOT_FOUND, C::NotFound, msg),
            Error::InUse { .. } => Self::new(StatusCode::CONFLICT, C::InUse, msg),
            Error::Exists { .. } => Self::new(StatusCode::CONFLICT, C::Exists, msg),
            Error::StaleVersion { .. } => Self::new(StatusCode::CONFLICT, C::StaleVersion, msg),
            Error::StaleRevision { .. } => {
                Self::new(StatusCode::PRECONDITION_FAILED, C::PreconditionFailed, msg)
            }
            Error::Contention { .. } => Self::new(StatusCode::CONFLICT, C::Conflict, msg),
            Error::AuditHeadForged { .. } | Error::AuditBroken { .. } => {
                Self::new(StatusCode::CONFLICT, C::AuditBroken, msg)
            }
            Error::Revoked { .. } => Self::new(StatusCode::FORBIDDEN, C::Revoked, msg),
            Error::Forbidden { .. } => Self::new(StatusCode::FORBIDDEN, C::Forbidden, msg),
            Error::Expired { .. } => Self::new(StatusCode::GONE, C::Expired, msg),
            Error::Decrypt { .. } => {
                tracing::error!(cause = %e, "stored value does not decrypt");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, C::DecryptFailed, msg)
            }
            Error::Unauthorized => Self::new(
                StatusCode::UNAUTHORIZED,
                C::Unauthorized,
                "missing, unknown, revoked or expired token: send `Authorization: Bearer <token>`",
            ),
            Error::Store(StoreError::Unavailable(cause)) => {
                tracing::error!(%cause, "store unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    C::Unavailable,
                    "the store is unavailable; try again shortly",
                )
            }
            Error::AuditSink { path, cause } => {
                tracing::error!(
                    path = %path.display(),
                    %cause,
                    "the audit file cannot be written: audited requests fail until it can"
                );
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    C::AuditSinkUnavailable,
                    "the server's audit file cannot be written, so nothing audited is answered; \
                     the cause is in the server log; try again shortly",
                )
            }
            _ => Self::internal(&e),
        }
    }
}

/// What the API adds after a hush-core message (which names no route): the request that
/// helps, in the API's words. Empty when it has nothing to add.
fn api_hint(e: &Error) -> String {
    use hush_core::Invalid;
    match e {
        Error::Exists { key } => format!(": PUT /v1/secrets/{key} replaces its value"),
        Error::VersionNotFound { key, .. } => {
            format!(": GET /v1/secrets/{key}/versions lists its versions")
        }
        Error::AppNotFound { app } => format!(": register its manifest with PUT /v1/apps/{app}"),
        Error::NoValue { key, env } => format!(
            ": give it one with PUT /v1/secrets/{key}?env={env}, or a shared one without `env`"
        ),
        Error::InUse { .. } => ", or delete with ?force=true".into(),
        Error::Revoked { key } => {
            format!(": POST /v1/secrets/{key}/restore serves it again")
        }
        Error::Expired { key, .. } => {
            format!(": set a new `expires_at` with PATCH /v1/secrets/{key}")
        }
        Error::StaleRevision { key, .. } => {
            format!(": GET /v1/secrets/{key} gives the current ETag")
        }
        Error::Invalid(Invalid::MachineToken) => {
            ": send `app` and `env` for a machine token, `role` for any other".into()
        }
        Error::Invalid(Invalid::PastSecretExpiry) => {
            ": give a future `expires_at`, or send `\"allow_past\": true` to write it expired on purpose"
                .into()
        }
        Error::Invalid(Invalid::NotJson { .. }) => {
            ": fix it, or send `\"format\": \"text\"` (the default) to store it as it is".into()
        }
        Error::Invalid(Invalid::FormatWithoutValue) => {
            ": send `value` (or `value_base64`) with `format`, or leave `format` out".into()
        }
        Error::Invalid(Invalid::Cursor) => {
            ": pass the `next_cursor` of the previous page unchanged, or leave it out to start"
                .into()
        }
        _ => String::new(),
    }
}

/// `WWW-Authenticate` on a 401 with no token (RFC 6750).
pub(crate) const CHALLENGE: &str = "Bearer realm=\"hush\"";
/// `WWW-Authenticate` on a 401 for a token that was presented and refused.
pub(crate) const CHALLENGE_INVALID_TOKEN: &str = "Bearer realm=\"hush\", error=\"invalid_token\"";
/// `Retry-After` (seconds) on a 503: the store is expected back shortly.
pub(crate) const UNAVAILABLE_RETRY_AFTER: u64 = 5;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let store_kind = self.store_kind;
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
            },
        };
        let mut res = (self.status, axum::Json(body)).into_response();
        let h = res.headers_mut();
        h.insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        );
        if status == StatusCode::UNAUTHORIZED {
            h.insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static(CHALLENGE),
            );
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            h.insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(UNAVAILABLE_RETRY_AFTER),
            );
        }
        if let Some(kind) = store_kind {
            res.extensions_mut()
                .insert(crate::metrics::StoreErrorKind(kind));
        }
        res
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                C::UnsupportedMediaType,
                "send the body as JSON with `Content-Type: application/json`",
            ),
            // serde_json's syntax messages give a position, never the input.
            JsonRejection::JsonSyntaxError(e) => Self::bad_request(format!(
                "malformed JSON: {}",
                e.body_text()
                    .trim_start_matches("Failed to parse the request body as JSON: ")
            )),
            JsonRejection::JsonDataError(e) => Self::invalid(describe_data_error(&e.body_text())),
            JsonRejection::BytesRejection(e) => {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Self::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        C::TooLarge,
                        "the request body is over the limit (2 MiB); values are at most 1 MiB",
                    )
                } else {
                    Self::bad_request(format!("cannot read the request body: {}", e.body_text()))
                }
            }
            other => Self::bad_request(other.body_text()),
        }
    }
}

/// Describes a JSON data error without any of the input: serde's messages quote rejected
/// strings, numbers and booleans (`invalid type: integer `1234`…`), and a value must never come
/// back in an error. Only the field's path, serde's description of what was expected, and
/// field names that look like field names are kept.
fn describe_data_error(text: &str) -> String {
    let t = text
        .strip_prefix("Failed to deserialize the JSON body into the target type: ")
        .unwrap_or(text);
    let plain_name = |n: &str| {
        !n.is_empty()
            && n.len() <= 64
            && n.bytes().all(|b| {
                b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'[' || b == b']'
            })
    };
    let between = |s: &str, start: &str| {
        s.find(start)
            .and_then(|i| s[i + start.len()..].split('`').next().map(str::to_string))
    };
    if t.contains("unknown field `") {
        // The name sent is not echoed (it may be anything); the names this route takes are
        // ours, listed by serde after "expected one of".
        let known = t
            .find("expected one of ")
            .map(|i| &t[i + "expected one of ".len()..])
            .map(|rest| rest.split(" at line ").next().unwrap_or(rest))
            .filter(|k| k.split(", ").all(|n| plain_name(n.trim_matches('`'))));
        return match known {
            Some(k) => format!("unknown field: this route takes {k} (see /v1/openapi.json)"),
            None => "unknown field: see /v1/openapi.json for the fields this route takes".into(),
        };
    }
    if let Some(name) = between(t, "missing field `") {
        if plain_name(&name) {
            return format!("missing field `{name}`");
        }
    }
    let path = t
        .split(": ")
        .next()
        .filter(|p| plain_name(p) && t.contains(": "))
        .map(str::to_string);
    let expected = t.find(", expected ").map(|i| {
        let rest = &t[i + ", expected ".len()..];
        rest.split(" at line ").next().unwrap_or(rest).to_string()
    });
    let expected = expected.filter(|e| !e.contains('"') && !e.contains('`') && e.len() < 80);
    match (path, expected) {
        (Some(p), Some(e)) => format!("`{p}`: wrong type or value, expected {e}"),
        (Some(p), None) => format!("`{p}`: invalid value"),
        (None, Some(e)) => format!("the body has the wrong shape, expected {e}"),
        (None, None) => "the body has the wrong shape: see /v1/openapi.json".into(),
    }
}

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        // axum's text quotes the segment it could not read: never sent back.
        Self::bad_request(
            "bad path: a path segment is not valid for this route (check its encoding)",
        )
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        match r {
            QueryRejection::FailedToDeserializeQueryString(e) => {
                let text = e.body_text();
                let t = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                // The parameter's name is kept; its value never is.
                let field = t.split(':').next().filter(|f| {
                    f.len() <= 32 && f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                });
                match (field, t.contains("unknown field")) {
                    (_, true) => Self::new(
                        StatusCode::BAD_REQUEST,
                        C::BadRequest,
                        "unknown query parameter: see /v1/openapi.json",
                    ),
                    (Some(f), false) => {
                        Self::invalid(format!("query parameter `{f}` has an invalid value"))
                    }
                    (None, false) => Self::invalid("a query parameter has an invalid value"),
                }
            }
            _ => Self::bad_request("bad query string: check its encoding"),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse as _;

    /// Every 503 (a store that does not answer, on any route or `/readyz`) and every 401 is
    /// made here, so each carries its header. (An outage cannot be made in-process with the
    /// SQLite store; the PostgreSQL outage test in the CLI suite drives real 503s.)
    #[test]
    fn a_503_says_when_to_retry_and_a_401_how_to_authenticate() {
        let down: super::ApiError =
            hush_core::Error::Store(hush_core::StoreError::Unavailable("gone".into())).into();
        let res = down.into_response();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()[header::RETRY_AFTER], "5");
        let res = super::ApiError::from(hush_core::Error::Unauthorized).into_response();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            res.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer realm="hush""#
        );
        let res = super::ApiError::bad_request("x").into_response();
        assert!(res.headers().get(header::WWW_AUTHENTICATE).is_none());
        assert!(res.headers().get(header::RETRY_AFTER).is_none());
    }

    #[test]
    fn data_errors_never_echo_input() {
        let cases = [
            "Failed to deserialize the JSON body into the target type: scope: invalid type: string \"sk_live_planted\", expected a sequence at line 1 column 30",
            "Failed to deserialize the JSON body into the target type: value: invalid type: integer `1234567`, expected a string at line 1 column 30",
            "Failed to deserialize the JSON body into the target type: value: invalid type: floating point `3.14159`, expected a string at line 1 column 3",
            "Failed to deserialize the JSON body into the target type: scope: invalid type: string \"my\\\", secret, value\", expected a sequence at line 1 column 3",
            "Failed to deserialize the JSON body into the target type: sk_live_planted: unknown field `sk_live_planted-x y`, expected one of `key`",
        ];
        for c in cases {
            let out = super::describe_data_error(c);
            for leak in ["sk_live_planted", "1234567", "3.14159", "secret, value"] {
                assert!(!out.contains(leak), "{out}");
            }
        }
        assert_eq!(
            super::describe_data_error(cases[0]),
            "`scope`: wrong type or value, expected a sequence"
        );
    }
}

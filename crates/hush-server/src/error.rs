//! The one error type of the API, and how every failure becomes a JSON error body.
//!
//! 4xx bodies say what was wrong and what to do; 5xx bodies are generic and the cause goes to
//! the log. No body ever carries a value or a token: hush-core's errors hold keys, versions and
//! reasons only.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hush_core::{Error, StoreError};
use hush_wire::{ErrorBody, ErrorDetail};

/// An API failure: a status, a stable code and a message.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine code.
    pub code: &'static str,
    /// What was wrong and what to do.
    pub message: String,
}

impl ApiError {
    /// Builds an error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 422 naming the field.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message)
    }

    fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the cause is in the server log",
        )
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let msg = e.to_string();
        match &e {
            Error::Invalid(_) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", msg),
            Error::NotFound { .. }
            | Error::VersionNotFound { .. }
            | Error::WorkspaceNotFound { .. }
            | Error::TokenNotFound { .. } => Self::new(StatusCode::NOT_FOUND, "not_found", msg),
            Error::Exists { .. } => Self::new(StatusCode::CONFLICT, "exists", msg),
            Error::StaleVersion { .. } => Self::new(StatusCode::CONFLICT, "stale_version", msg),
            Error::Contention { .. } => Self::new(StatusCode::CONFLICT, "conflict", msg),
            Error::Revoked { .. } => Self::new(StatusCode::FORBIDDEN, "revoked", msg),
            Error::Forbidden { .. } => Self::new(StatusCode::FORBIDDEN, "forbidden", msg),
            Error::Expired { .. } => Self::new(StatusCode::GONE, "expired", msg),
            Error::Unauthorized => Self::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing, unknown, revoked or expired token: send `Authorization: Bearer <token>`",
            ),
            Error::Store(StoreError::Unavailable(cause)) => {
                tracing::error!(%cause, "store unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the store is unavailable; try again shortly",
                )
            }
            _ => Self::internal(&e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.into(),
                message: self.message,
            },
        };
        let mut res = (self.status, axum::Json(body)).into_response();
        res.headers_mut().insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        );
        res
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`",
            ),
            JsonRejection::JsonSyntaxError(e) => {
                Self::bad_request(format!("malformed JSON: {}", strip_input(&e.body_text())))
            }
            JsonRejection::JsonDataError(e) => Self::invalid(format!(
                "invalid JSON body: {}",
                strip_input(&e.body_text())
            )),
            JsonRejection::BytesRejection(e) => {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Self::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "too_large",
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

/// serde's messages can quote input (`invalid type: string "…"`): a value must never come back
/// in an error, so anything in quotes after "string" is cut.
fn strip_input(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("string \"") {
        out.push_str(&rest[..i + "string".len()]);
        let after = &rest[i + "string \"".len()..];
        rest = match after.find("\", ") {
            Some(j) => &after[j + 1..],
            None => match after.rfind('"') {
                Some(j) => &after[j + 1..],
                None => "",
            },
        };
    }
    out.push_str(rest);
    out
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        Self::bad_request(format!("bad path: {}", r.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::bad_request(format!("bad query string: {}", r.body_text()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn serde_quotes_are_cut() {
        let msg = "Failed to deserialize the JSON body into the target type: value: invalid type: string \"sk_live_planted\", expected a sequence at line 1 column 30";
        let out = super::strip_input(msg);
        assert!(!out.contains("sk_live_planted"), "{out}");
        assert!(out.contains("expected a sequence"), "{out}");
    }
}

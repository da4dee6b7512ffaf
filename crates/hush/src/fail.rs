//! Exit codes, chosen on purpose and documented in `--help` and the README.

use hush_core::{Error, Invalid, KeySourceError};

pub const OK: i32 = 0;
pub const OTHER: i32 = 1;
pub const USAGE: i32 = 2;
pub const NOT_FOUND: i32 = 3;
pub const CONFLICT: i32 = 4;
pub const FORBIDDEN: i32 = 5;
pub const EXPIRED: i32 = 6;

/// An error the binary itself raises, with the exit code it means.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Failure::new(USAGE, message)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// The exit code for an error anywhere in the chain.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    for cause in err.chain() {
        if let Some(f) = cause.downcast_ref::<Failure>() {
            return f.code;
        }
        if let Some(e) = cause.downcast_ref::<Error>() {
            return match e {
                Error::Invalid(_) => USAGE,
                Error::NotFound { .. }
                | Error::VersionNotFound { .. }
                | Error::WorkspaceNotFound { .. } => NOT_FOUND,
                Error::Exists { .. }
                | Error::StaleVersion { .. }
                | Error::AlreadyInitialized
                | Error::Contention { .. }
                | Error::InUse { .. } => CONFLICT,
                Error::AppNotFound { .. } => NOT_FOUND,
                Error::Revoked { .. } | Error::Forbidden { .. } | Error::Unauthorized => FORBIDDEN,
                Error::TokenNotFound { .. } => NOT_FOUND,
                Error::Expired { .. } => EXPIRED,
                _ => OTHER,
            };
        }
        if let Some(e) = cause.downcast_ref::<hush_client::Error>() {
            use hush_client::Error as C;
            return match e {
                C::Invalid { .. } => USAGE,
                C::NotFound(_) => NOT_FOUND,
                C::Conflict { .. } => CONFLICT,
                C::Forbidden { .. } | C::Unauthorized(_) => FORBIDDEN,
                C::Expired(_) => EXPIRED,
                _ => OTHER,
            };
        }
        if cause.downcast_ref::<Invalid>().is_some() {
            return USAGE;
        }
        if let Some(e) = cause.downcast_ref::<KeySourceError>() {
            return match e {
                KeySourceError::NextKeyNeeded => USAGE,
                _ => OTHER,
            };
        }
    }
    OTHER
}

//! The codes the API answers with: [`ErrorCode`] in every error body, [`Reason`] for each key a
//! resolve call could not give. Both travel as the plain strings they always were
//! (`"not_found"`, `"out_of_scope"`); a code this version does not know (from a newer server)
//! is kept in `Other` rather than failing the whole answer, so clients keep working when the
//! server learns a new code.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An enum of string codes with a fallback for unknown ones: the spelling is written once,
/// for both directions.
macro_rules! codes {
    (
        $(#[$meta:meta])*
        $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $code:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A code this version does not know (a newer server's), as sent. Made by
            /// [`Self::parse`]; a known code is never kept here.
            Other(String),
        }

        impl $name {
            /// Every code this version knows, as spelt on the wire.
            pub const KNOWN: &'static [&'static str] = &[$($code),*];

            /// The wire spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $code,)*
                    Self::Other(code) => code,
                }
            }

            /// Reads a code; an unknown one is kept in `Other`.
            pub fn parse(code: &str) -> Self {
                match code {
                    $($code => Self::$variant,)*
                    other => Self::Other(other.to_string()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        /// A string of the known codes. Clients should still accept a code they do not
        /// know (a newer server's), as [`Self::parse`] does.
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some(Self::KNOWN.iter().copied()))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let code = std::borrow::Cow::<'de, str>::deserialize(d)?;
                Ok(Self::parse(&code))
            }
        }
    };
}

codes! {
    /// The `code` of an error body: what went wrong, for machines.
    ErrorCode {
        /// 400: the request could not be read (syntax, path, query string, header).
        BadRequest = "bad_request",
        /// 422: a field breaks a rule; the message names it.
        InvalidField = "invalid_field",
        /// 401: no, unknown, revoked or expired token.
        Unauthorized = "unauthorized",
        /// 403: the token may not do this (role, scope, environment).
        Forbidden = "forbidden",
        /// 403: the secret is revoked.
        Revoked = "revoked",
        /// 404: no such secret, version, workspace, token, app or route.
        NotFound = "not_found",
        /// 405: the route does not take this method.
        MethodNotAllowed = "method_not_allowed",
        /// 409: the key exists.
        Exists = "exists",
        /// 409: registered apps name the secret.
        InUse = "in_use",
        /// 409: the version expected (`expected_version`) is not the current one.
        StaleVersion = "stale_version",
        /// 409: concurrent writers kept colliding; retry.
        Conflict = "conflict",
        /// 409: the audit chain's head does not check out.
        AuditBroken = "audit_broken",
        /// 412: the secret changed since the `ETag` given in `If-Match` was read.
        PreconditionFailed = "precondition_failed",
        /// 410: the secret expired.
        Expired = "expired",
        /// 413: the body is over the limit.
        TooLarge = "too_large",
        /// 415: not a JSON body, or an encoded one.
        UnsupportedMediaType = "unsupported_media_type",
        /// 429: too many failed authentications from this address.
        RateLimited = "rate_limited",
        /// 500: the cause is in the server log.
        Internal = "internal",
        /// 500: a stored value does not decrypt.
        DecryptFailed = "decrypt_failed",
        /// 503: the store is unavailable.
        Unavailable = "unavailable",
        /// 503: the server's audit file cannot be written, so nothing audited is answered.
        AuditSinkUnavailable = "audit_sink_unavailable",
    }
}

codes! {
    /// Why a resolve call would not give one key.
    Reason {
        /// No such secret (in this environment).
        Missing = "missing",
        /// The secret is disabled.
        Revoked = "revoked",
        /// The secret is past its expiry.
        Expired = "expired",
        /// This app or token may not read it.
        OutOfScope = "out_of_scope",
        /// The stored value does not decrypt.
        DecryptFailed = "decrypt_failed",
    }
}

impl Reason {
    /// The server's code (`missing`, `revoked`, `expired`, `out_of_scope`, …): the same as
    /// [`Reason::as_str`].
    pub fn code(&self) -> &str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_as_their_strings() {
        for code in [
            "missing",
            "revoked",
            "expired",
            "out_of_scope",
            "decrypt_failed",
            "weird",
        ] {
            assert_eq!(Reason::parse(code).code(), code);
            let json = format!("\"{code}\"");
            let r: Reason = serde_json::from_str(&json).unwrap();
            assert_eq!(serde_json::to_string(&r).unwrap(), json);
        }
        assert_eq!(Reason::parse("out_of_scope"), Reason::OutOfScope);
        assert_eq!(Reason::parse("weird"), Reason::Other("weird".into()));
        assert_eq!(
            serde_json::from_str::<ErrorCode>("\"rate_limited\"").unwrap(),
            ErrorCode::RateLimited
        );
        assert_eq!(
            serde_json::from_str::<ErrorCode>("\"from_the_future\"").unwrap(),
            ErrorCode::Other("from_the_future".into())
        );
        assert_eq!(ErrorCode::StaleVersion.to_string(), "stale_version");
        // Escaped JSON strings (not borrowable) are read too.
        assert_eq!(
            serde_json::from_str::<ErrorCode>("\"not\\u005ffound\"").unwrap(),
            ErrorCode::NotFound
        );
        assert!(serde_json::from_str::<ErrorCode>("3").is_err());
    }
}

//! Exit codes, chosen on purpose and documented in `--help` and the README, and the hints the
//! CLI adds to hush-core's messages (which name no command: the edge that talks to the user
//! says what to run).

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
                | Error::NoValue { .. }
                | Error::WorkspaceNotFound { .. } => NOT_FOUND,
                Error::Exists { .. }
                | Error::StaleVersion { .. }
                | Error::StaleRevision { .. }
                | Error::AlreadyInitialized
                | Error::Contention { .. }
                | Error::InUse { .. } => CONFLICT,
                Error::AppNotFound { .. } => NOT_FOUND,
                Error::Revoked { .. } | Error::Forbidden { .. } | Error::Unauthorized => FORBIDDEN,
                Error::TokenNotFound { .. } | Error::WebhookNotFound { .. } => NOT_FOUND,
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

/// What the CLI adds after the message of a hush-core error anywhere in the chain: the command
/// that helps, in the CLI's words. Empty when it has nothing to add.
pub fn hint(err: &anyhow::Error) -> String {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<Error>() {
            return core_hint(e);
        }
        if let Some(e) = cause.downcast_ref::<Invalid>() {
            return invalid_hint(e);
        }
        if let Some(hush_client::Error::Transport { message, .. }) =
            cause.downcast_ref::<hush_client::Error>()
        {
            return transport_hint(message);
        }
    }
    String::new()
}

/// After "cannot reach the hush server at …": what to do about a certificate the client does
/// not trust.
fn transport_hint(message: &str) -> String {
    if message.contains("tls: unknown issuer") || message.contains("UnknownIssuer") {
        " (the server's certificate is not signed by a CA this machine trusts: if it comes from \
         a private CA, pass that CA's PEM with --cacert FILE or HUSH_CACERT)"
            .into()
    } else {
        String::new()
    }
}

/// The CLI's hint for one hush-core error, to follow its message.
pub fn core_hint(e: &Error) -> String {
    match e {
        Error::Invalid(e) => invalid_hint(e),
        Error::Exists { key } => format!(
            ": use `hush secrets update {key}` or `hush secrets set {key}` to replace its value"
        ),
        Error::VersionNotFound { key, .. } => format!(": see `hush secrets history {key}`"),
        Error::NoValue { key, env } => format!(
            ": set one with `hush secrets set {key} --env {env}`, or a shared one without `--env`"
        ),
        Error::AppNotFound { .. } => {
            ": register its manifest with `hush apps register hush.toml`".into()
        }
        Error::InUse { .. } => ", or delete with --force".into(),
        Error::Revoked { key } => format!(": run `hush secrets restore {key}` to serve it again"),
        Error::Expired { key, .. } => {
            format!(": set a new expiry with `hush secrets update {key} --expires 90d`")
        }
        Error::NotInitialized => ": run `hush init` first".into(),
        _ => String::new(),
    }
}

fn invalid_hint(e: &Invalid) -> String {
    match e {
        Invalid::MachineToken => {
            ": give --app and --env for a machine token, --role for any other".into()
        }
        Invalid::PastSecretExpiry => {
            ": give a future --expires, or add --allow-past to write it expired on purpose".into()
        }
        Invalid::NotJson { .. } => {
            ": fix it, or leave out --format json to store it as it is".into()
        }
        Invalid::FormatWithoutValue => {
            ": give the value (--stdin or --from-file) with --format, or leave --format out".into()
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_names_its_command_after_a_core_message() {
        let err = anyhow::Error::from(Error::Exists { key: "k".into() }).context("creating");
        assert_eq!(
            format!("{err:#}{}", hint(&err)),
            "creating: secret \"k\" already exists: use `hush secrets update k` or `hush secrets set k` to replace its value"
        );
        let err = anyhow::Error::from(Error::InUse {
            key: "k".into(),
            apps: vec!["billing".into()],
        });
        assert_eq!(
            format!("{err:#}{}", hint(&err)),
            "secret \"k\" is in use by billing: remove it from their manifests and register them again, or delete with --force"
        );
        let err = anyhow::Error::from(Invalid::MachineToken);
        assert!(hint(&err).contains("--app and --env"), "{}", hint(&err));
        assert_eq!(hint(&anyhow::anyhow!("other")), "");
    }
}

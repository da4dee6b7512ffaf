//! API tokens and who they stand for: roles, machine tokens bound to an app and an
//! environment, what each may do, and the [`Actor`] every service call is made as.
//!
//! A token is `hush_` followed by 43 characters of URL-safe base64 (256 random bits). It is
//! shown once; the store keeps only its SHA-256, and the check compares hashes in constant
//! time. The plaintext token lives in [`TokenSecret`], which prints `[redacted]`.

use base64::Engine as _;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::invalid::Invalid;
use crate::model::SecretRow;

/// Every token starts with this, so scanners can spot a leaked one.
pub const PREFIX: &str = "hush_";
const RANDOM_LEN: usize = 32;
/// Length of a whole token string.
pub const TOKEN_LEN: usize = 5 + 43;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything in its workspace, tokens and audit included.
    Admin,
    /// Read and write secrets.
    Write,
    /// List secrets and read values.
    Read,
    /// Read only the secrets its app may read in its environment.
    Machine,
}

impl Role {
    /// Wire and storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Write => "write",
            Role::Read => "read",
            Role::Machine => "machine",
        }
    }

    /// Parses a role name.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "admin" => Ok(Role::Admin),
            "write" => Ok(Role::Write),
            "read" => Ok(Role::Read),
            "machine" => Ok(Role::Machine),
            other => Err(Invalid::Name {
                field: "role",
                value: other.chars().take(64).collect(),
                reason: "use admin, write or read (machine tokens are made with an app and an env)"
                    .into(),
            }),
        }
    }
}

/// A token's plaintext, shown once at creation.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct TokenSecret(String);

impl TokenSecret {
    /// A fresh random token.
    pub fn generate() -> Result<Self, hush_crypto::SealError> {
        let mut bytes = [0u8; RANDOM_LEN];
        hush_crypto::fill_random(&mut bytes)?;
        let t = format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        );
        bytes.zeroize();
        Ok(TokenSecret(t))
    }

    /// Wraps a token presented by a client.
    pub fn from_presented(s: &str) -> Self {
        TokenSecret(s.to_string())
    }

    /// The token text. Call sites say why they need it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Whether it has the shape of a hush token (prefix, length, alphabet).
    pub fn well_formed(&self) -> bool {
        self.0.len() == TOKEN_LEN
            && self.0.starts_with(PREFIX)
            && self.0[PREFIX.len()..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }

    /// The hash the store keeps.
    pub fn hash(&self) -> String {
        hush_crypto::sha256_hex(self.0.as_bytes())
    }
}

impl std::fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// What a store keeps about a token (never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    /// Stable id (`tok_…`), safe to show and log.
    pub id: String,
    /// The workspace it works in.
    pub workspace_id: String,
    /// A name people recognise (`ci`, `ingest-prd`).
    pub name: String,
    /// SHA-256 of the token, hex.
    pub hash: String,
    /// What it may do.
    pub role: Role,
    /// For machine tokens: the app.
    pub app: Option<String>,
    /// For machine tokens: the environment.
    pub env: Option<String>,
    /// Unix seconds; `None` never expires.
    pub expires_at: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
    /// Who made it.
    pub created_by: String,
    /// Unix seconds, once revoked.
    pub revoked_at: Option<i64>,
}

/// Who is calling, once a token checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Token id (`local` for the CLI on the embedded store).
    pub id: String,
    /// Token name (or `local:$USER`).
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// For machine tokens: the app.
    pub app: Option<String>,
    /// For machine tokens: the environment.
    pub env: Option<String>,
}

/// Who is asking, and from where: recorded in `created_by` and the audit log. Never a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The checked identity and what it may do.
    pub principal: Principal,
    /// Remote address, for requests that came over the network.
    pub remote: Option<String>,
    /// The id of the HTTP request being served (`X-Request-Id`), written into its audit rows.
    pub request_id: Option<String>,
}

impl Actor {
    /// The CLI on the embedded store (it holds the root key: it may do anything).
    pub fn local() -> Self {
        Actor {
            principal: Principal::local(),
            remote: None,
            request_id: None,
        }
    }

    /// The same actor, serving the request with this id.
    pub fn in_request(mut self, request_id: Option<&str>) -> Self {
        self.request_id = request_id.map(str::to_string);
        self
    }

    /// The name written into `created_by` and audit rows.
    pub fn name(&self) -> &str {
        &self.principal.name
    }
}

/// An action a principal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// List metadata.
    List,
    /// Read metadata of one secret.
    Show,
    /// Read a value.
    Read,
    /// Create, update, revoke, restore, roll back or delete.
    Write,
    /// Create, list or revoke tokens; register apps.
    Admin,
    /// Read the audit log.
    Audit,
}

impl Principal {
    /// The CLI working on the embedded store: it holds the root key, so it may do anything.
    pub fn local() -> Self {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into());
        Principal {
            id: "local".into(),
            name: format!("local:{user}"),
            role: Role::Admin,
            app: None,
            env: None,
        }
    }

    /// Whether the role allows the action at all.
    pub fn may(&self, action: Action) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Write => matches!(
                action,
                Action::List | Action::Show | Action::Read | Action::Write
            ),
            Role::Read => matches!(action, Action::List | Action::Show | Action::Read),
            Role::Machine => matches!(action, Action::List | Action::Show | Action::Read),
        }
    }

    /// For a machine token, why this secret is out of its reach (`None`: within reach).
    pub fn out_of_scope(&self, row: &SecretRow) -> Option<String> {
        if self.role != Role::Machine {
            return None;
        }
        if let Some(app) = &self.app {
            if !row.meta.scope.is_empty() && !row.meta.scope.contains(app) {
                return Some(format!(
                    "secret {:?} is not in the scope of app {app:?}",
                    row.key
                ));
            }
        }
        if let Some(env) = &self.env {
            if !row.meta.envs.is_empty() && !row.meta.envs.contains(env) {
                return Some(format!(
                    "secret {:?} is not available in environment {env:?}",
                    row.key
                ));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_well_formed_and_redacted() {
        let t = TokenSecret::generate().unwrap();
        assert!(t.well_formed(), "{}", t.expose_secret().len());
        assert_eq!(format!("{t:?}"), "[redacted]");
        assert_ne!(t.hash(), TokenSecret::generate().unwrap().hash());
        assert!(!TokenSecret::from_presented("hush_short").well_formed());
        assert!(!TokenSecret::from_presented(&format!("hush_{}", "é".repeat(21))).well_formed());
    }

    #[test]
    fn roles_allow_what_they_say() {
        let p = |role| Principal {
            id: "t".into(),
            name: "t".into(),
            role,
            app: None,
            env: None,
        };
        assert!(p(Role::Admin).may(Action::Admin));
        assert!(p(Role::Write).may(Action::Write) && !p(Role::Write).may(Action::Admin));
        assert!(p(Role::Read).may(Action::Read) && !p(Role::Read).may(Action::Write));
        assert!(!p(Role::Machine).may(Action::Write) && !p(Role::Machine).may(Action::Audit));
    }
}

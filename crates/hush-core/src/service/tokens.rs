//! Tokens and web UI sessions: making, listing and revoking API tokens, and the short-lived
//! tokens a web UI sign-in makes (a session is a token named after the one that signed in).

use crate::clock;
use crate::error::{Error, Invalid};
use crate::model::{
    check_name, validate_app, validate_env, validate_expires_at, Workspace, MAX_NAME_LEN,
};
use crate::token::{Action, Actor, Role, TokenRow, TokenSecret};

use super::{new_id, Hush};

/// What marks a web UI session token's name: `<signing token's name>.ui-<random>`
/// ([`Hush::start_session`]).
pub const SESSION_MARK: &str = ".ui-";

impl Hush {
    /// Makes a token for `ws`. Returns the row and the token, which is shown once.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_token(
        &self,
        ws: &Workspace,
        name: &str,
        role: Role,
        app: Option<&str>,
        env: Option<&str>,
        expires_at: Option<i64>,
        actor: &Actor,
    ) -> Result<(TokenRow, TokenSecret), Error> {
        check_name("token name", name, MAX_NAME_LEN)?;
        if name.contains(SESSION_MARK) {
            return Err(Invalid::Name {
                field: "token name",
                value: name.into(),
                reason: format!("{SESSION_MARK:?} marks web UI sessions: pick another name"),
            }
            .into());
        }
        match (role, app, env) {
            (Role::Machine, Some(a), Some(e)) => {
                validate_app(a)?;
                validate_env(e)?;
            }
            (Role::Machine, _, _) => return Err(Invalid::MachineToken.into()),
            (_, None, None) => {}
            _ => return Err(Invalid::MachineToken.into()),
        }
        if let Some(at) = expires_at {
            validate_expires_at("expires_at", at)?;
        }
        if expires_at.is_some_and(|at| at <= clock::now()) {
            return Err(Invalid::PastExpiry.into());
        }
        self.require(actor, Action::Admin, ws, None, "token.create")
            .await?;
        let secret = TokenSecret::generate()?;
        let row = TokenRow {
            id: new_id("tok")?,
            workspace_id: ws.id.clone(),
            name: name.into(),
            hash: secret.hash(),
            role,
            app: app.map(str::to_string),
            env: env.map(str::to_string),
            expires_at,
            created_at: clock::now(),
            created_by: actor.name().to_string(),
            revoked_at: None,
        };
        let audit = self.audit_entry(actor, "token.create", Some(ws), Some(&row.id), None, "ok");
        self.store.insert_token(&row, &audit).await?;
        self.audited().await?;
        Ok((row, secret))
    }

    /// Signs `actor` in to the web UI: a new token with the same role and workspace (never
    /// more), named `<its name>.ui-<random>` (audit rows say who and which session), expiring
    /// after `ttl_secs` or when the signing token
    /// expires, whichever is first. The cookie carries it; [`Hush::end_session`] revokes it.
    /// Machine tokens are for workloads and cannot sign in.
    pub async fn start_session(
        &self,
        ws: &Workspace,
        actor: &Actor,
        ttl_secs: i64,
    ) -> Result<(TokenRow, TokenSecret), Error> {
        if actor.principal.role == Role::Machine {
            return Err(Error::Forbidden {
                reason:
                    "machine tokens are for workloads: sign in with an admin, write or read token"
                        .into(),
            });
        }
        // A session cannot beget another that would outlive its sign-out.
        if actor.name().contains(SESSION_MARK) {
            return Err(Error::Forbidden {
                reason: "that is a web UI session, not an API token: sign in with an API token"
                    .into(),
            });
        }
        let now = clock::now();
        let own_expiry = self
            .store
            .tokens(&ws.id)
            .await?
            .into_iter()
            .find(|t| t.id == actor.principal.id)
            .and_then(|t| t.expires_at);
        let expires_at = own_expiry.map_or(now + ttl_secs, |e| e.min(now + ttl_secs));
        let secret = TokenSecret::generate()?;
        let mut suffix = [0u8; 4];
        hush_crypto::fill_random(&mut suffix)?;
        let row = TokenRow {
            id: new_id("tok")?,
            workspace_id: ws.id.clone(),
            name: format!(
                "{}{SESSION_MARK}{}",
                // Signing in with a session token does not stack the marks; names stay short.
                actor
                    .name()
                    .split(SESSION_MARK)
                    .next()
                    .unwrap_or("ui")
                    .chars()
                    .take(MAX_NAME_LEN - 12)
                    .collect::<String>(),
                suffix
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            ),
            hash: secret.hash(),
            role: actor.principal.role,
            app: None,
            env: None,
            expires_at: Some(expires_at),
            created_at: now,
            created_by: actor.name().to_string(),
            revoked_at: None,
        };
        let audit = self.audit_entry(actor, "session.start", Some(ws), Some(&row.id), None, "ok");
        self.store.insert_token(&row, &audit).await?;
        self.audited().await?;
        Ok((row, secret))
    }

    /// Signs a web UI session out: revokes the session token `actor` authenticated with.
    /// Any other token is left alone (the UI only ever holds session tokens).
    pub async fn end_session(&self, ws: &Workspace, actor: &Actor) -> Result<(), Error> {
        let is_session = self
            .store
            .tokens(&ws.id)
            .await?
            .iter()
            .any(|t| t.id == actor.principal.id && t.name.contains(SESSION_MARK));
        if !is_session {
            return Ok(());
        }
        self.end_one_session(ws, actor, &actor.principal.id).await
    }

    /// Revokes one session token, with its `session.end` audit row.
    async fn end_one_session(&self, ws: &Workspace, actor: &Actor, id: &str) -> Result<(), Error> {
        let audit = self.audit_entry(actor, "session.end", Some(ws), Some(id), None, "ok");
        if self
            .store
            .revoke_token(&ws.id, id, clock::now(), &audit)
            .await?
        {
            self.caches.forget();
            self.audited().await?;
        }
        Ok(())
    }

    /// The tokens of a workspace (never the tokens themselves).
    pub async fn tokens(&self, ws: &Workspace, actor: &Actor) -> Result<Vec<TokenRow>, Error> {
        self.require(actor, Action::Admin, ws, None, "token.list")
            .await?;
        Ok(self.store.tokens(&ws.id).await?)
    }

    /// The caller's own token record (any role may ask): `None` for the CLI on the embedded
    /// store, which works without a token.
    pub async fn whoami(&self, ws: &Workspace, actor: &Actor) -> Result<Option<TokenRow>, Error> {
        if actor.principal.id == crate::token::Principal::local().id {
            return Ok(None);
        }
        let all = self.store.tokens(&ws.id).await?;
        Ok(all.into_iter().find(|t| t.id == actor.principal.id))
    }

    /// Revokes a token by id or name.
    pub async fn revoke_token(
        &self,
        ws: &Workspace,
        id_or_name: &str,
        actor: &Actor,
    ) -> Result<TokenRow, Error> {
        self.require(actor, Action::Admin, ws, None, "token.revoke")
            .await?;
        let all = self.store.tokens(&ws.id).await?;
        let live: Vec<&TokenRow> = all
            .iter()
            .filter(|t| t.revoked_at.is_none() && (t.id == id_or_name || t.name == id_or_name))
            .collect();
        let not_found = || Error::TokenNotFound {
            id: id_or_name.into(),
        };
        let t = match live.as_slice() {
            [one] => (*one).clone(),
            [] => return Err(not_found()),
            _ => {
                return Err(Error::Invalid(Invalid::Ambiguous {
                    name: id_or_name.into(),
                }))
            }
        };
        let audit = self.audit_entry(actor, "token.revoke", Some(ws), Some(&t.id), None, "ok");
        if !self
            .store
            .revoke_token(&ws.id, &t.id, clock::now(), &audit)
            .await?
        {
            return Err(not_found());
        }
        self.caches.forget();
        self.audited().await?;
        // Its web UI sessions end with it (sessions are named after it and made by it; a
        // namesake's sessions ending too errs on the safe side).
        let sessions = all.iter().filter(|s| {
            s.revoked_at.is_none()
                && s.created_by == t.name
                && s.name.contains(SESSION_MARK)
                && s.name.split(SESSION_MARK).next() == Some(t.name.as_str())
        });
        for session in sessions {
            self.end_one_session(ws, actor, &session.id).await?;
        }
        Ok(t)
    }
}

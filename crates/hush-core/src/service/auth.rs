//! Authentication: turning a presented token into the [`Actor`] every other call is made as.

use crate::audit::AuditEntry;
use crate::clock;
use crate::error::Error;
use crate::model::Workspace;
use crate::store::StoreError;
use crate::token::{Actor, Principal, TokenSecret};

use super::{lock, Hush};

impl Hush {
    /// Checks a presented token. Every failure is recorded (`auth.failed`) and answers the same
    /// [`Error::Unauthorized`], so a caller learns nothing about which tokens exist.
    pub async fn authenticate(
        &self,
        presented: &TokenSecret,
        remote: Option<&str>,
    ) -> Result<(Actor, Workspace), Error> {
        self.authenticate_with(presented, remote, None, true).await
    }

    /// As [`Hush::authenticate`] (or, with `audit_failure` false,
    /// [`Hush::authenticate_unaudited`]) for the HTTP request with this id: the actor carries
    /// it, and so does the `auth.failed` row of a failure.
    pub async fn authenticate_request(
        &self,
        presented: &TokenSecret,
        remote: Option<&str>,
        request_id: Option<&str>,
        audit_failure: bool,
    ) -> Result<(Actor, Workspace), Error> {
        self.authenticate_with(presented, remote, request_id, audit_failure)
            .await
    }

    /// As [`Hush::authenticate`], but a failure writes no audit row: for a caller that already
    /// refuses the address for too many failures and counts them itself, so a flood of bad
    /// tokens cannot flood the audit log. A success is the same as with `authenticate`.
    pub async fn authenticate_unaudited(
        &self,
        presented: &TokenSecret,
        remote: Option<&str>,
    ) -> Result<(Actor, Workspace), Error> {
        self.authenticate_with(presented, remote, None, false).await
    }

    async fn authenticate_with(
        &self,
        presented: &TokenSecret,
        remote: Option<&str>,
        request_id: Option<&str>,
        audit_failure: bool,
    ) -> Result<(Actor, Workspace), Error> {
        // Unknown, malformed, revoked and expired tokens take one path: the store is asked for
        // the hash every time (a malformed token's hash is simply never found), and its query
        // leaves out revoked and expired rows, so none of them reads back or decodes a row.
        // The checks below repeat the query's in one expression whose cost does not depend on
        // which fails. Skipping the lookup for some tokens, or reading a revoked row back,
        // would let a caller time which tokens once existed.
        let hash = presented.hash();
        let now = clock::now();
        // A live token this server has seen is answered from the cache (see `cache.rs`); a
        // cached token that has expired since takes the store's path like any other.
        let found = match self.caches.get(&hash) {
            Ok(row) if row.expires_at.is_none_or(|at| at > now) => Some(row),
            Ok(_) => self.store.token_by_hash(&hash, now).await?,
            Err(epoch) => {
                let found = self.store.token_by_hash(&hash, now).await?;
                if let Some(row) = &found {
                    self.caches.keep(epoch, row);
                }
                found
            }
        };
        let ok = found.filter(|t| {
            let hash_ok = hush_crypto::constant_time_eq(t.hash.as_bytes(), hash.as_bytes());
            let live = t.revoked_at.is_none() & t.expires_at.is_none_or(|at| at > now);
            hash_ok & live & presented.well_formed()
        });
        let Some(t) = ok else {
            if !audit_failure {
                return Err(Error::Unauthorized);
            }
            let entry = AuditEntry {
                ts_ms: clock::now_ms(),
                actor_id: "anonymous".into(),
                actor_name: "anonymous".into(),
                action: "auth.failed".into(),
                workspace: None,
                key: None,
                version: None,
                outcome: "unauthorized".into(),
                env: None,
                remote: remote.map(str::to_string),
                request_id: request_id.map(str::to_string),
                detail: None,
                items: Vec::new(),
            };
            self.record(vec![entry], Vec::new()).await?;
            return Err(Error::Unauthorized);
        };
        // Workspaces never change id or name: the cache of unwrapped keys knows most of them.
        let cached = lock(&self.workspaces)
            .values()
            .find(|w| w.workspace.id == t.workspace_id)
            .map(|w| w.workspace.clone());
        let found = match cached {
            Some(ws) => Some(ws),
            None => self
                .store
                .workspaces()
                .await?
                .into_iter()
                .find(|w| w.id == t.workspace_id),
        };
        let ws = found.ok_or_else(|| {
            Error::Store(StoreError::Corrupt(format!(
                "token {} names a missing workspace",
                t.id
            )))
        })?;
        let actor = Actor {
            principal: Principal {
                id: t.id,
                name: t.name,
                role: t.role,
                app: t.app,
                env: t.env,
            },
            remote: remote.map(str::to_string),
            request_id: request_id.map(str::to_string),
        };
        Ok((actor, ws))
    }
}

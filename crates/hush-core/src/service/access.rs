//! What every capability checks of its caller before it acts: the role, a machine token's
//! scope and environment, the keys its app's registered manifest names, and whether a secret
//! may be served at all. Each refusal is written to the audit log before it is answered.

use std::collections::HashSet;

use crate::app::ReadMark;
use crate::clock;
use crate::error::{Error, Invalid};
use crate::model::{SecretRow, Status, Workspace};
use crate::token::{Action, Actor, Principal, Role};

use super::secrets::Expect;
use super::Hush;

/// What a machine token's app manifest (see [`Hush::declared_keys`]) says about `key`.
pub(super) fn undeclared_reason(
    declared: &Option<Result<HashSet<String>, String>>,
    key: &str,
    p: &Principal,
) -> Option<String> {
    match declared {
        None => None,
        Some(Err(why)) => Some(why.clone()),
        Some(Ok(d)) if d.contains(key) => None,
        Some(Ok(_)) => Some(format!(
            "secret {key:?} is not declared in the registered manifest of app {:?}: declare it in the manifest and register the app again",
            p.app.as_deref().unwrap_or_default()
        )),
    }
}

/// Why `row` may not be served at `now` — the audit outcome and the error — or `None`.
pub(super) fn unservable(row: &SecretRow, now: i64) -> Option<(&'static str, Error)> {
    let key = row.key.clone();
    match row.status_at(now) {
        Status::Active | Status::Expiring => None,
        Status::Revoked => Some(("revoked", Error::Revoked { key })),
        Status::Expired => {
            let at = row.meta.expires_at.unwrap_or_default();
            Some((
                "expired",
                Error::Expired {
                    key,
                    at,
                    at_rfc3339: clock::rfc3339(at),
                },
            ))
        }
    }
}

/// Refuses a write guarded by `expect` when the secret has moved past it: the revision first
/// (it moves with every write, so it is the stricter guard), then the value version.
/// Refuses a write of `env`'s own value on a secret not available in `env`.
pub(super) fn require_available(row: &SecretRow, env: Option<&str>) -> Result<(), Error> {
    match env {
        Some(e) if !row.meta.envs.is_empty() && !row.meta.envs.iter().any(|x| x == e) => {
            Err(Invalid::EnvNotAvailable {
                env: e.to_string(),
                envs: row.meta.envs.join(", "),
            }
            .into())
        }
        _ => Ok(()),
    }
}

/// Refuses a write when the secret is not as `expect` says; the version compared is the one
/// of `env`'s own value when an environment is given (0 while it has none), else the shared
/// value's.
pub(super) fn require_expected(
    expect: Expect,
    current: &SecretRow,
    env: Option<&str>,
) -> Result<(), Error> {
    let version = match env {
        Some(e) => current.env_versions.get(e).copied().unwrap_or(0),
        None => current.version,
    };
    if let Some(expected) = expect.revision.filter(|r| *r != current.revision) {
        return Err(Error::StaleRevision {
            key: current.key.clone(),
            expected,
            current: current.revision,
        });
    }
    match expect.version {
        Some(expected) if expected != version => Err(Error::StaleVersion {
            key: current.key.clone(),
            expected,
            current: version,
        }),
        _ => Ok(()),
    }
}

/// Refuses version 0: versions start at 1.
pub(super) fn require_real_version(version: Option<u64>) -> Result<(), Error> {
    match version {
        Some(0) => Err(Invalid::Version { value: 0 }.into()),
        _ => Ok(()),
    }
}

fn action_words(a: Action) -> &'static str {
    match a {
        Action::List => "list secrets",
        Action::Show => "read metadata",
        Action::Read => "read values",
        Action::Write => "change secrets",
        Action::Admin => "manage tokens",
        Action::Audit => "read the audit log",
    }
}

impl Hush {
    /// Refuses what the actor's role does not allow, recording the refusal.
    pub(super) async fn require(
        &self,
        actor: &Actor,
        needed: Action,
        ws: &Workspace,
        key: Option<&str>,
        action: &str,
    ) -> Result<(), Error> {
        if actor.principal.may(needed) {
            return Ok(());
        }
        let entry = self.audit_entry(actor, action, Some(ws), key, None, "forbidden");
        self.record(vec![entry], Vec::new()).await?;
        Err(Error::Forbidden {
            reason: format!(
                "a {} token may not {}",
                actor.principal.role.as_str(),
                action_words(needed)
            ),
        })
    }

    /// Refuses a secret outside a machine token's app and environment, recording the refusal.
    pub(super) async fn require_in_scope(
        &self,
        actor: &Actor,
        ws: &Workspace,
        row: &SecretRow,
        action: &str,
    ) -> Result<(), Error> {
        match actor.principal.out_of_scope(row) {
            None => Ok(()),
            Some(reason) => {
                let entry = self.audit_entry(
                    actor,
                    action,
                    Some(ws),
                    Some(&row.key),
                    None,
                    "out_of_scope",
                );
                self.record(vec![entry], Vec::new()).await?;
                Err(Error::Forbidden { reason })
            }
        }
    }

    /// Refuses a key that a machine token's registered manifest does not name, recording the
    /// refusal. It is asked before the key is looked up, so the answer is the same whether
    /// the key exists or not: a machine token learns nothing about keys beyond its manifest.
    pub(super) async fn require_declared(
        &self,
        actor: &Actor,
        ws: &Workspace,
        key: &str,
        action: &str,
    ) -> Result<(), Error> {
        let declared = self.declared_keys(actor, ws).await?;
        let Some(reason) = undeclared_reason(&declared, key, &actor.principal) else {
            return Ok(());
        };
        let entry = self.audit_entry(actor, action, Some(ws), Some(key), None, "out_of_scope");
        self.record(vec![entry], Vec::new()).await?;
        Err(Error::Forbidden { reason })
    }

    /// For a machine token whose app has a registered manifest: the keys it names. `None` for
    /// every other caller (and for an app with no registered manifest).
    pub(super) async fn declared_keys(
        &self,
        actor: &Actor,
        ws: &Workspace,
    ) -> Result<Option<Result<HashSet<String>, String>>, Error> {
        let p = &actor.principal;
        if p.role != Role::Machine {
            return Ok(None);
        }
        let Some(app) = &p.app else {
            return Ok(Some(Err("this machine token names no app".into())));
        };
        // Until the app registers a manifest, the scope and environment rules alone apply;
        // from then on, only the keys the manifest names.
        Ok(self
            .store
            .app(&ws.id, app)
            .await?
            .map(|row| Ok(row.keys.into_iter().map(|k| k.key).collect())))
    }

    /// The read mark for a read by a machine token (whose app is known), made in `env`.
    pub(super) fn read_mark(
        &self,
        actor: &Actor,
        ws: &Workspace,
        key: &str,
        env: Option<&str>,
    ) -> Option<ReadMark> {
        let p = &actor.principal;
        (p.role == Role::Machine)
            .then_some(p.app.as_ref())
            .flatten()
            .map(|app| ReadMark {
                workspace_id: ws.id.clone(),
                app: app.clone(),
                key: key.into(),
                at: clock::now(),
                env: env.map(str::to_string),
            })
    }
}

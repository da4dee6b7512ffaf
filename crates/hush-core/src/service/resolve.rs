//! Resolve: what a workload gets in one call — each key's value, or why it cannot have it.

use hush_crypto::SecretBytes;

use crate::app::ReadMark;
use crate::clock;
use crate::error::{Error, Invalid};
use crate::model::{validate_app, validate_env, validate_key, SecretRow, Workspace};
use crate::store::SecretRead;
use crate::token::{Action, Actor, Principal, Role};

use super::access::{undeclared_reason, unservable};
use super::Hush;

/// The most keys one resolve call may ask for.
pub const MAX_RESOLVE: usize = 500;

/// One key's answer in [`Hush::resolve`].
#[derive(Debug)]
pub struct Resolution {
    /// The secret.
    pub row: SecretRow,
    /// The environment whose own value was given; `None` for the shared value.
    pub env: Option<String>,
    /// The current version and its value; `None` for a dry run.
    pub value: Option<(u64, SecretBytes)>,
}

impl Hush {
    /// What a workload gets in one call: for each key, its value (or with `dry_run` only its
    /// metadata) or why it cannot be had. `app` and `env` are the workload's: a machine
    /// token's own (asking for others is refused), or for other tokens the app and
    /// environment whose scope rules to apply. Machine tokens reach only keys their app's
    /// registered manifest names. Every value read is in the audit log, durably, before any
    /// value is returned (one transaction for the whole call), with the app's `last_read_at`.
    pub async fn resolve(
        &self,
        ws: &Workspace,
        app: Option<&str>,
        env: Option<&str>,
        keys: &[String],
        dry_run: bool,
        actor: &Actor,
    ) -> Result<Vec<(String, Result<Resolution, Error>)>, Error> {
        if keys.is_empty() || keys.len() > MAX_RESOLVE {
            return Err(Invalid::Manifest {
                reason: format!("give 1 to {MAX_RESOLVE} keys, not {}", keys.len()),
            }
            .into());
        }
        for k in keys {
            validate_key(k)?;
        }
        if let Some(a) = app {
            validate_app(a)?;
        }
        if let Some(e) = env {
            validate_env(e)?;
        }
        let action = if dry_run { Action::Show } else { Action::Read };
        let what = if dry_run {
            "secret.show"
        } else {
            "secret.read"
        };
        self.require(actor, action, ws, None, what).await?;
        let p = &actor.principal;
        let scope = if p.role == Role::Machine {
            for (asked, own, word) in [(app, &p.app, "app"), (env, &p.env, "environment")] {
                if asked.is_some() && asked != own.as_deref() {
                    return Err(Error::Forbidden {
                        reason: format!("this machine token is bound to another {word}"),
                    });
                }
            }
            p.clone()
        } else if app.is_some() || env.is_some() {
            Principal {
                role: Role::Machine,
                app: app.map(str::to_string),
                env: env.map(str::to_string),
                ..p.clone()
            }
        } else {
            p.clone()
        };
        let declared = self.declared_keys(actor, ws).await?;
        let now = clock::now();
        let mut out = Vec::with_capacity(keys.len());
        let mut audit = Vec::new();
        let mut marks = Vec::new();
        for key in keys {
            let refuse = |outcome: &str, err: Error, audit: &mut Vec<_>| {
                if !dry_run {
                    audit.push(self.audit_entry(actor, what, Some(ws), Some(key), None, outcome));
                }
                Err(err)
            };
            // Undeclared keys are refused before they are looked up: the same answer whether
            // they exist or not.
            if let Some(reason) = undeclared_reason(&declared, key, p) {
                let err = Error::Forbidden { reason };
                out.push((key.clone(), refuse("out_of_scope", err, &mut audit)));
                continue;
            }
            let found = self
                .store
                .secret_with_value(&ws.id, key, None, false)
                .await?;
            let Some(SecretRead {
                row, value: sealed, ..
            }) = found
            else {
                let err = Error::NotFound {
                    workspace: ws.name.clone(),
                    key: key.clone(),
                };
                out.push((key.clone(), refuse("not_found", err, &mut audit)));
                continue;
            };
            if let Some(reason) = scope.out_of_scope(&row) {
                let err = Error::Forbidden { reason };
                out.push((key.clone(), refuse("out_of_scope", err, &mut audit)));
                continue;
            }
            if let Some((outcome, err)) = unservable(&row, now) {
                out.push((key.clone(), refuse(outcome, err, &mut audit)));
                continue;
            }
            if dry_run {
                out.push((
                    key.clone(),
                    Ok(Resolution {
                        row,
                        env: None,
                        value: None,
                    }),
                ));
                continue;
            }
            // The environment's own value when it has one, else the shared value.
            let (slot, version) = row.value_for(scope.env.as_deref());
            if version == 0 {
                let err = Error::NoValue {
                    key: key.clone(),
                    env: slot_env(&scope),
                };
                out.push((key.clone(), refuse("not_found", err, &mut audit)));
                continue;
            }
            let sealed = if slot.is_empty() {
                sealed
            } else {
                self.store.value(&row.id, slot, version).await?
            };
            let sealed = sealed.ok_or_else(|| Error::VersionNotFound {
                key: key.clone(),
                version,
            })?;
            let value = match self.open_sealed(ws, &row, &sealed).await {
                Ok(v) => v,
                Err(err @ Error::Decrypt { .. }) => {
                    // One damaged row fails its own key, not the whole call.
                    audit.push(self.audit_entry(
                        actor,
                        what,
                        Some(ws),
                        Some(key),
                        Some(version),
                        "decrypt_failed",
                    ));
                    out.push((key.clone(), Err(err)));
                    continue;
                }
                Err(e) => return Err(e),
            };
            audit.push(
                self.audit_entry(actor, what, Some(ws), Some(key), Some(version), "ok")
                    .in_env((!slot.is_empty()).then_some(slot)),
            );
            if let Some(app) = &scope.app {
                marks.push(ReadMark {
                    workspace_id: ws.id.clone(),
                    app: app.clone(),
                    key: key.clone(),
                    at: now,
                    // The environment asked in, whichever value (its own or shared) it got.
                    env: scope.env.clone(),
                });
            }
            let env = (!slot.is_empty()).then(|| slot.to_string());
            out.push((
                key.clone(),
                Ok(Resolution {
                    row,
                    env,
                    value: Some((version, value)),
                }),
            ));
        }
        if !audit.is_empty() {
            self.record(audit, marks).await?;
        }
        Ok(out)
    }
}

/// The environment a resolve reads in, for messages (empty: none).
fn slot_env(scope: &Principal) -> String {
    scope.env.clone().unwrap_or_default()
}

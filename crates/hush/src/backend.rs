//! Where commands go: the embedded store (this process holds the root key) or a server (the
//! SDK, with `HUSH_ADDR` and `HUSH_TOKEN`, or what `hush login` saved). Both answer with the
//! same wire types, so every command prints the same output and exits with the same codes
//! either way.

use anyhow::Result;
use hush_client::{Client, ValueBytes as _};
use hush_core::audit::{AuditFilter, Head, Verdict};
use hush_core::token::Role;
use hush_core::{
    clock, wire, Actor, Hush, ListFilter, MetadataPatch, SecretBytes, StoredStatus, Workspace,
};
use hush_wire::{
    AppInfo, AppManifest, AuditHead, AuditRecord, AuditVerdict, NewToken, Reason, Refusal,
    Resolved, SecretMeta, TokenInfo, VersionInfo,
};

/// A command's target.
#[allow(clippy::large_enum_variant)] // one per process
pub enum Backend {
    /// The embedded store.
    Local {
        /// The service.
        hush: Hush,
        /// The workspace name asked for.
        workspace: String,
        /// The local user.
        actor: Actor,
    },
    /// A server.
    Remote(Client),
}

/// A value read back, with its metadata.
pub struct Fetched {
    pub meta: hush_wire::SecretValue,
    pub bytes: SecretBytes,
}

impl Backend {
    async fn ws(&self, create: bool) -> Result<(&Hush, Workspace, &Actor)> {
        match self {
            Backend::Local {
                hush,
                workspace,
                actor,
            } => {
                let (ws, created) = hush.workspace(workspace, create).await?;
                if created {
                    eprintln!("created workspace {workspace}");
                }
                Ok((hush, ws, actor))
            }
            Backend::Remote(_) => unreachable!("only called for the local backend"),
        }
    }

    /// Whether the key exists (used to refuse `create` before prompting for a value).
    pub async fn exists(&self, key: &str) -> Result<bool> {
        match self {
            Backend::Local {
                hush, workspace, ..
            } => match hush.workspace(workspace, false).await {
                Ok((ws, _)) => Ok(hush.store().secret(&ws.id, key).await?.is_some()),
                Err(_) => Ok(false),
            },
            Backend::Remote(c) => match c.show(key).await {
                Ok(_) => Ok(true),
                Err(hush_client::Error::NotFound(_)) => Ok(false),
                Err(e) => Err(e.into()),
            },
        }
    }

    pub async fn create(
        &self,
        key: &str,
        value: &SecretBytes,
        patch: &MetadataPatch,
    ) -> Result<SecretMeta> {
        match self {
            Backend::Local { .. } => {
                let (hush, ws, actor) = self.ws(true).await?;
                let row = hush.create(&ws, key, value, patch, actor).await?;
                Ok(wire::meta(&row, &ws.name, clock::now()))
            }
            // EXPOSE: the value travels to the server in the request body.
            Backend::Remote(c) => Ok(c.create(key, value.expose_secret(), patch.clone()).await?),
        }
    }

    /// Create or replace; returns the metadata and whether it was created.
    pub async fn put(
        &self,
        key: &str,
        value: &SecretBytes,
        patch: &MetadataPatch,
    ) -> Result<(SecretMeta, bool)> {
        match self {
            Backend::Local { .. } => {
                let (hush, ws, actor) = self.ws(true).await?;
                let (row, created) = hush.put(&ws, key, value, patch, actor).await?;
                Ok((wire::meta(&row, &ws.name, clock::now()), created))
            }
            Backend::Remote(c) => {
                // EXPOSE: the value travels to the server in the request body.
                let m = c.put(key, value.expose_secret(), patch.clone()).await?;
                let created = m.version == 1;
                Ok((m, created))
            }
        }
    }

    pub async fn update(
        &self,
        key: &str,
        value: Option<&SecretBytes>,
        patch: &MetadataPatch,
        if_version: Option<u64>,
    ) -> Result<SecretMeta> {
        match self {
            Backend::Local { .. } => {
                let (hush, ws, actor) = self.ws(false).await?;
                let row = hush
                    .update(&ws, key, value, patch, if_version, actor)
                    .await?;
                Ok(wire::meta(&row, &ws.name, clock::now()))
            }
            // EXPOSE: the value travels to the server in the request body.
            Backend::Remote(c) => Ok(c
                .update(
                    key,
                    value.map(|v| v.expose_secret()),
                    patch.clone(),
                    if_version,
                )
                .await?),
        }
    }

    pub async fn get(&self, key: &str, version: Option<u64>) -> Result<Fetched> {
        match self {
            Backend::Local { .. } => {
                let (hush, ws, actor) = self.ws(false).await?;
                let r = hush.reveal(&ws, key, version, actor).await?;
                let meta = wire::with_value(&r.row, &ws.name, clock::now(), r.version, &r.value);
                Ok(Fetched {
                    meta,
                    bytes: r.value,
                })
            }
            Backend::Remote(c) => {
                let meta = c.fetch(key, version).await?;
                let bytes = SecretBytes::new(std::mem::take(&mut *meta.bytes()?));
                Ok(Fetched { meta, bytes })
            }
        }
    }

    pub async fn show(&self, key: &str) -> Result<SecretMeta> {
        match self {
            Backend::Local { .. } => {
                let (hush, ws, actor) = self.ws(false).await?;
                let row = hush.show(&ws, key, actor).await?;
                let usage = hush.usage(&ws, &[key.to_string()]).await?;
                let mut m = wire::meta(&row, &ws.name, clock::now());
                m.used_by = Some(wire::used_by(usage.get(key)));
                Ok(m)
            }
            Backend::Remote(c) => Ok(c.show(key).await?),
        }
    }

    pub async fn list(&self, filter: &ListFilter) -> Result<Vec<SecretMeta>> {
        match self {
            Backend::Local { .. } => {
                let (hush, ws, actor) = self.ws(false).await?;
                let now = clock::now();
                let rows = hush.list(&ws, filter, actor).await?;
                let keys: Vec<String> = rows.iter().map(|r| r.key.clone()).collect();
                let usage = hush.usage(&ws, &keys).await?;
                Ok(rows
                    .iter()
                    .map(|r| {
                        let mut m = wire::meta(r, &ws.name, now);
                        m.used_by = Some(wire::used_by(usage.get(&r.key)));
                        m
                    })
                    .collect())
            }
            Backend::Remote(c) => Ok(c
                .list(&hush_client::ListQuery {
                    env: filter.env.clone(),
                    app: filter.app.clone(),
                    prefix: filter.prefix.clone(),
                    status: filter.status.map(|s| s.as_str().to_string()),
                })
                .await?),
        }
    }

    pub async fn history(&self, key: &str) -> Result<Vec<VersionInfo>> {
        match self {
            Backend::Local { .. } => {
                let (hush, ws, actor) = self.ws(false).await?;
                let (row, versions) = hush.history(&ws, key, actor).await?;
                Ok(wire::versions(&row, &versions))
            }
            Backend::Remote(c) => Ok(c.versions(key).await?),
        }
    }

    pub async fn rollback(&self, key: &str, to: u64) -> Result<SecretMeta> {
        match self {
            Backend::Local { .. } => {
                let (hush, ws, actor) = self.ws(false).await?;
                let row = hush.rollback(&ws, key, to, actor).await?;
                Ok(wire::meta(&row, &ws.name, clock::now()))
            }
            Backend::Remote(c) => Ok(c.rollback(key, to).await?),
        }
    }

    pub async fn set_status(&self, key: &str, status: StoredStatus) -> Result<SecretMeta> {
        match self {
            Backend::Local { .. } => {
                let (hush, ws, actor) = self.ws(false).await?;
                let row = hush.set_status(&ws, key, status, actor).await?;
                Ok(wire::meta(&row, &ws.name, clock::now()))
            }
            Backend::Remote(c) => Ok(match status {
                StoredStatus::Revoked => c.revoke(key).await?,
                StoredStatus::Active => c.restore(key).await?,
            }),
        }
    }

    pub async fn delete(&self, key: &str, force: bool) -> Result<()> {
        match self {
            Backend::Local { .. } => {
                let (hush, ws, actor) = self.ws(false).await?;
                hush.delete(&ws, key, None, force, actor).await?;
                Ok(())
            }
            Backend::Remote(c) => Ok(c.delete(key, force).await?),
        }
    }

    pub async fn create_token(
        &self,
        name: &str,
        role: Role,
        app: Option<&str>,
        env: Option<&str>,
        expires_at: Option<i64>,
    ) -> Result<NewToken> {
        match self {
            Backend::Local { .. } => {
                let (hush, ws, actor) = self.ws(false).await?;
                let (row, secret) = hush
                    .create_token(&ws, name, role, app, env, expires_at, actor)
                    .await?;
                // EXPOSE: the one answer that carries the new token.
                Ok(NewToken {
                    info: wire::token(&row, clock::now()),
                    token: secret.expose_secret().to_string(),
                })
            }
            Backend::Remote(c) => Ok(c
                .create_token(&hush_wire::TokenRequest {
                    name: Some(name.to_string()),
                    role: (role != Role::Machine).then(|| role.as_str().to_string()),
                    app: app.map(str::to_string),
                    env: env.map(str::to_string),
                    expires_at,
                })
                .await?),
        }
    }

    pub async fn tokens(&self) -> Result<Vec<TokenInfo>> {
        match self {
            Backend::Local { .. } => {
                let (hush, ws, actor) = self.ws(false).await?;
                let now = clock::now();
                Ok(hush
                    .tokens(&ws, actor)
                    .await?
                    .iter()
                    .map(|t| wire::token(t, now))
                    .collect())
            }
            Backend::Remote(c) => Ok(c.tokens().await?),
        }
    }

    pub async fn revoke_token(&self, id: &str) -> Result<TokenInfo> {
        match self {
            Backend::Local { .. } => {
                let (hush, ws, actor) = self.ws(false).await?;
                let mut t = hush.revoke_token(&ws, id, actor).await?;
                t.revoked_at = Some(clock::now());
                Ok(wire::token(&t, clock::now()))
            }
            Backend::Remote(c) => Ok(c.revoke_token(id).await?),
        }
    }

    pub async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        match self {
            Backend::Local { .. } => {
                let (hush, ws, actor) = self.ws(false).await?;
                Ok(hush
                    .audit_log(&ws, filter, actor)
                    .await?
                    .iter()
                    .map(wire::audit)
                    .collect())
            }
            Backend::Remote(c) => Ok(c
                .audit(&hush_client::AuditQuery {
                    key: filter.key.clone(),
                    actor: filter.actor.clone(),
                    since: filter.since_ms.map(|ms| ms / 1000),
                })
                .await?),
        }
    }

    pub async fn verify_audit(&self, expected: Option<&Head>) -> Result<AuditVerdict> {
        match self {
            Backend::Local { .. } => {
                let (hush, ws, actor) = self.ws(false).await?;
                let v: Verdict = hush.verify_audit(&ws, actor, expected).await?;
                Ok(wire::verdict(&v))
            }
            Backend::Remote(c) => Ok(match expected {
                Some(h) => c.verify_audit_with_head(&wire::audit_head(h)).await?,
                None => c.verify_audit().await?,
            }),
        }
    }

    pub async fn audit_head(&self) -> Result<AuditHead> {
        match self {
            Backend::Local { .. } => {
                let (hush, ws, actor) = self.ws(false).await?;
                Ok(wire::audit_head(&hush.audit_head(&ws, actor).await?))
            }
            Backend::Remote(c) => Ok(c.audit_head().await?),
        }
    }

    /// For a workload: values (or with `dry_run` metadata only) of `keys`, or why each cannot
    /// be had, in one call (one `/v1/resolve` against a server).
    pub async fn resolve(
        &self,
        app: Option<&str>,
        env: Option<&str>,
        keys: &[String],
        dry_run: bool,
    ) -> Result<Resolved> {
        match self {
            Backend::Local { .. } => {
                let (hush, ws, actor) = match self.ws(false).await {
                    Ok(t) => t,
                    // No workspace yet: nothing is stored, so every key is missing.
                    Err(e) if is_workspace_missing(&e) => {
                        return Ok(all_missing(keys));
                    }
                    Err(e) => return Err(e),
                };
                let answers = hush.resolve(&ws, app, env, keys, dry_run, actor).await?;
                Ok(wire::resolved(answers, &ws.name, clock::now(), |e| {
                    e.to_string()
                }))
            }
            Backend::Remote(c) => Ok(if dry_run {
                c.check(app, env, keys).await?
            } else {
                c.resolve(app, env, keys).await?
            }),
        }
    }

    pub async fn register_app(&self, manifest: &AppManifest) -> Result<AppInfo> {
        match self {
            Backend::Local { .. } => {
                let (hush, ws, actor) = self.ws(true).await?;
                let (row, _) = hush.register_app(&ws, manifest, actor).await?;
                Ok(wire::app(&row))
            }
            Backend::Remote(c) => Ok(c.register_app(manifest).await?),
        }
    }

    pub async fn apps(&self) -> Result<Vec<AppInfo>> {
        match self {
            Backend::Local { .. } => {
                let (hush, ws, actor) = self.ws(false).await?;
                Ok(hush.apps(&ws, actor).await?.iter().map(wire::app).collect())
            }
            Backend::Remote(c) => Ok(c.apps().await?),
        }
    }

    pub async fn app(&self, name: &str) -> Result<AppInfo> {
        match self {
            Backend::Local { .. } => {
                let (hush, ws, actor) = self.ws(false).await?;
                Ok(wire::app(&hush.app(&ws, name, actor).await?))
            }
            Backend::Remote(c) => Ok(c.app(name).await?),
        }
    }

    pub async fn delete_app(&self, name: &str) -> Result<()> {
        match self {
            Backend::Local { .. } => {
                let (hush, ws, actor) = self.ws(false).await?;
                Ok(hush.delete_app(&ws, name, actor).await?)
            }
            Backend::Remote(c) => Ok(c.delete_app(name).await?),
        }
    }
}

fn is_workspace_missing(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<hush_core::Error>(),
        Some(hush_core::Error::WorkspaceNotFound { .. })
    )
}

fn all_missing(keys: &[String]) -> Resolved {
    Resolved {
        secrets: Default::default(),
        errors: keys
            .iter()
            .map(|k| {
                (
                    k.clone(),
                    Refusal {
                        code: Reason::Missing,
                        message: format!("secret {k:?} not found: nothing is stored yet"),
                    },
                )
            })
            .collect(),
    }
}

//! Secrets: create, put, update, show, reveal, list, history, rollback, revoke and restore,
//! delete. Every write goes through [`Hush::commit`], under the compare-and-swap retry.

use hush_crypto::SecretBytes;

use crate::app::{ReadMark, UseRow};
use crate::clock;
use crate::error::{Error, Invalid};
use crate::model::{
    validate_app, validate_env, validate_format, validate_key, validate_value_len, ListFilter,
    Metadata, SecretRow, StoredStatus, VersionRow, Workspace,
};
use crate::patch::{MetadataPatch, PatchRules as _};
use crate::store::{Commit, SecretWrite, StoreError};
use crate::token::{Action, Actor, Role};

use super::access::{require_available, require_expected, require_real_version, unservable};
use super::{new_id, with_cas, Hush, MAX_TRIES};

/// A value read from the store, with the row it belongs to.
#[derive(Debug)]
pub struct Revealed {
    /// The secret's metadata.
    pub row: SecretRow,
    /// The environment whose own value was read; `None` for the shared value.
    pub env: Option<String>,
    /// The version that was read (of that environment's value, or of the shared one).
    pub version: u64,
    /// The plaintext.
    pub value: SecretBytes,
    /// The registered apps that name the key, by app.
    pub used_by: Vec<UseRow>,
}

/// What a guarded write expects to find; a field left `None` is not checked. Refused with
/// [`Error::StaleRevision`] or [`Error::StaleVersion`], and nothing is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expect {
    /// The value version the caller read (the API's `expected_version`).
    pub version: Option<u64>,
    /// The row's revision the caller read (the API's `ETag`): it moves with every write,
    /// metadata and status included.
    pub revision: Option<u64>,
}

impl Expect {
    /// Expects nothing: an unguarded write.
    pub const NOTHING: Expect = Expect {
        version: None,
        revision: None,
    };

    /// Expects the value version `version` (`None`: nothing).
    pub fn version(version: Option<u64>) -> Self {
        Expect {
            version,
            revision: None,
        }
    }
}

/// What a write does to a secret's values.
#[derive(Clone, Copy)]
enum ValueChange<'a> {
    /// Metadata or status only.
    Keep,
    /// A new version of the shared value (`None`) or of one environment's own value.
    Set(Option<&'a str>, &'a SecretBytes),
    /// Removes one environment's own value, every version of it.
    Drop(&'a str),
}

/// Checks what a write is given: the key, the environment, the value's size (when it has
/// one) and the patch.
fn check_write(
    key: &str,
    env: Option<&str>,
    value: Option<&SecretBytes>,
    patch: &MetadataPatch,
) -> Result<(), Error> {
    validate_key(key)?;
    if let Some(e) = env {
        validate_env(e)?;
    }
    if let Some(v) = value {
        validate_value_len(v.len())?;
    }
    patch.validate()?;
    match (patch.format, value) {
        // EXPOSE: parsed to check its format; nothing of it is kept or shown.
        (Some(f), Some(v)) => validate_format(f, v.expose_secret())?,
        (Some(_), None) => return Err(Invalid::FormatWithoutValue.into()),
        (None, _) => {}
    }
    Ok(())
}

impl Hush {
    /// Builds and applies one write on top of `current` (`None`: a new secret), with its audit
    /// row in the same transaction.
    #[allow(clippy::too_many_arguments)]
    async fn commit(
        &self,
        ws: &Workspace,
        key: &str,
        current: Option<&SecretRow>,
        patch: &MetadataPatch,
        status: Option<StoredStatus>,
        change: ValueChange<'_>,
        actor: &Actor,
        action: &str,
    ) -> Result<SecretRow, Error> {
        let now = clock::now();
        let mut row = match current {
            Some(c) => c.clone(),
            None => SecretRow {
                id: new_id("sec")?,
                workspace_id: ws.id.clone(),
                key: key.into(),
                meta: Metadata::default(),
                status: StoredStatus::Active,
                version: 0,
                env_versions: Default::default(),
                revision: 0,
                created_at: now,
                updated_at: now,
                created_by: actor.name().to_string(),
                updated_by: actor.name().to_string(),
            },
        };
        patch.apply(&mut row.meta);
        if let Some(s) = status {
            row.status = s;
        }
        row.revision += 1;
        row.updated_at = now;
        row.updated_by = actor.name().to_string();
        let (mut sealed, mut drop_env, mut audit_version) = (None, None, row.version);
        let mut audit_env = None;
        match change {
            ValueChange::Keep => {}
            ValueChange::Set(None, v) => {
                row.version += 1;
                audit_version = row.version;
                sealed = Some(
                    self.seal(ws, &row.id, "", row.version, v, actor, now)
                        .await?,
                );
            }
            ValueChange::Set(Some(env), v) => {
                require_available(&row, Some(env))?;
                let version = row.env_versions.entry(env.to_string()).or_insert(0);
                *version += 1;
                audit_version = *version;
                audit_env = Some(env);
                sealed = Some(self.seal(ws, &row.id, env, *version, v, actor, now).await?);
            }
            ValueChange::Drop(env) => {
                audit_version = row.env_versions.remove(env).unwrap_or(0);
                audit_env = Some(env);
                drop_env = Some(env.to_string());
            }
        }
        let audit = self
            .audit_entry(
                actor,
                action,
                Some(ws),
                Some(key),
                Some(audit_version),
                "ok",
            )
            .in_env(audit_env);
        let write = SecretWrite {
            row,
            expected_revision: current.map(|c| c.revision),
            value: sealed,
            drop_env,
            audit,
        };
        let row = write.row.clone();
        let done = self.group.commit(Commit::Write(Box::new(write))).await;
        // Before the writer is answered, whatever the outcome.
        self.caches.evict(&ws.name, Some(key));
        done?;
        Ok(row)
    }

    async fn existing(&self, ws: &Workspace, key: &str) -> Result<SecretRow, Error> {
        self.store
            .secret(&ws.id, key)
            .await?
            .ok_or_else(|| Error::NotFound {
                workspace: ws.name.clone(),
                key: key.into(),
            })
    }

    /// Creates a secret; [`Error::Exists`] when the key is taken (nothing is changed). With
    /// `env`, the value is that environment's own, and the secret has no shared value yet.
    pub async fn create(
        &self,
        ws: &Workspace,
        key: &str,
        env: Option<&str>,
        value: &SecretBytes,
        patch: &MetadataPatch,
        actor: &Actor,
    ) -> Result<SecretRow, Error> {
        check_write(key, env, Some(value), patch)?;
        self.require(actor, Action::Write, ws, Some(key), "secret.create")
            .await?;
        let exists = || Error::Exists { key: key.into() };
        if self.store.secret(&ws.id, key).await?.is_some() {
            return Err(exists());
        }
        let created = self
            .commit(
                ws,
                key,
                None,
                patch,
                None,
                ValueChange::Set(env, value),
                actor,
                "secret.create",
            )
            .await;
        match created {
            Err(Error::Store(StoreError::Exists)) => Err(exists()),
            other => other,
        }
    }

    /// Creates or replaces a secret's value — the shared one, or `env`'s own — applying
    /// `patch` to its metadata. Returns the row and whether the secret was created.
    pub async fn put(
        &self,
        ws: &Workspace,
        key: &str,
        env: Option<&str>,
        value: &SecretBytes,
        patch: &MetadataPatch,
        actor: &Actor,
    ) -> Result<(SecretRow, bool), Error> {
        check_write(key, env, Some(value), patch)?;
        self.require(actor, Action::Write, ws, Some(key), "secret.put")
            .await?;
        with_cas(MAX_TRIES, key, move || async move {
            let current = self.store.secret(&ws.id, key).await?;
            let action = if current.is_some() {
                "secret.update"
            } else {
                "secret.create"
            };
            let row = self
                .commit(
                    ws,
                    key,
                    current.as_ref(),
                    patch,
                    None,
                    ValueChange::Set(env, value),
                    actor,
                    action,
                )
                .await?;
            Ok((row, current.is_none()))
        })
        .await
    }

    /// Changes the value (when given: the shared one, or `env`'s own) and metadata of an
    /// existing secret, if it is still as `expect` says.
    #[allow(clippy::too_many_arguments)]
    pub async fn update(
        &self,
        ws: &Workspace,
        key: &str,
        env: Option<&str>,
        value: Option<&SecretBytes>,
        patch: &MetadataPatch,
        expect: Expect,
        actor: &Actor,
    ) -> Result<SecretRow, Error> {
        check_write(key, env, value, patch)?;
        self.require(actor, Action::Write, ws, Some(key), "secret.update")
            .await?;
        with_cas(MAX_TRIES, key, move || async move {
            let current = self.existing(ws, key).await?;
            require_expected(expect, &current, env)?;
            let change = match value {
                Some(v) => ValueChange::Set(env, v),
                None => ValueChange::Keep,
            };
            self.commit(
                ws,
                key,
                Some(&current),
                patch,
                None,
                change,
                actor,
                "secret.update",
            )
            .await
        })
        .await
    }

    /// The secret's metadata (never its value).
    pub async fn show(&self, ws: &Workspace, key: &str, actor: &Actor) -> Result<SecretRow, Error> {
        validate_key(key)?;
        self.require(actor, Action::Show, ws, Some(key), "secret.show")
            .await?;
        self.require_declared(actor, ws, key, "secret.show").await?;
        let row = self.existing(ws, key).await?;
        self.require_in_scope(actor, ws, &row, "secret.show")
            .await?;
        Ok(row)
    }

    /// Decrypts the current value (or `version`) that a read in `env` gets: the
    /// environment's own value when it has one, else the shared value. A machine token reads
    /// in its own environment. Refuses revoked and expired secrets. The read is in the audit
    /// log, durably, before the value is returned: if it cannot be recorded, the value is not
    /// given out.
    pub async fn reveal(
        &self,
        ws: &Workspace,
        key: &str,
        env: Option<&str>,
        version: Option<u64>,
        actor: &Actor,
    ) -> Result<Revealed, Error> {
        validate_key(key)?;
        if let Some(e) = env {
            validate_env(e)?;
        }
        require_real_version(version)?;
        let env = read_env(actor, env)?;
        self.require(actor, Action::Read, ws, Some(key), "secret.read")
            .await?;
        self.require_declared(actor, ws, key, "secret.read").await?;
        // The current version's read may come from the cache (see `cache.rs`); an older
        // version's always from the store.
        let cached = match version {
            None => self.caches.read(&ws.name, key),
            Some(_) => Err(u64::MAX),
        };
        let found = match cached {
            Ok(read) => (*read).clone(),
            Err(epoch) => {
                let read = self
                    .store
                    .secret_with_value(&ws.id, key, version, true)
                    .await?
                    .ok_or_else(|| Error::NotFound {
                        workspace: ws.name.clone(),
                        key: key.into(),
                    })?;
                if version.is_none() {
                    self.caches
                        .keep_read(epoch, &ws.name, std::sync::Arc::new(read.clone()));
                }
                read
            }
        };
        let (row, sealed, mut used_by) = (found.row, found.value, found.uses);
        self.require_in_scope(actor, ws, &row, "secret.read")
            .await?;
        // A machine token sees only its own app among the apps using a secret.
        if actor.principal.role == Role::Machine {
            used_by.retain(|u| Some(&u.app) == actor.principal.app.as_ref());
        }
        if let Some((outcome, err)) = unservable(&row, clock::now()) {
            self.record(
                vec![self.audit_entry(actor, "secret.read", Some(ws), Some(key), None, outcome)],
                Vec::new(),
            )
            .await?;
            return Err(err);
        }
        let (slot, current) = row.value_for(env);
        if current == 0 {
            return Err(Error::NoValue {
                key: key.into(),
                env: env.unwrap_or_default().to_string(),
            });
        }
        let v = version.unwrap_or(current);
        let sealed = if slot.is_empty() {
            sealed
        } else {
            self.store.value(&row.id, slot, v).await?
        };
        let sealed = sealed.ok_or_else(|| Error::VersionNotFound {
            key: key.into(),
            version: v,
        })?;
        let value = match self.open_sealed(ws, &row, &sealed).await {
            Ok(v) => v,
            Err(e @ Error::Decrypt { .. }) => {
                // A damaged or tampered row: said in the audit log, refused for this key.
                let entry = self.audit_entry(
                    actor,
                    "secret.read",
                    Some(ws),
                    Some(key),
                    Some(v),
                    "decrypt_failed",
                );
                self.record(vec![entry], Vec::new()).await?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let marks: Vec<ReadMark> = self.read_mark(actor, ws, key, env).into_iter().collect();
        self.record(
            vec![self
                .audit_entry(actor, "secret.read", Some(ws), Some(key), Some(v), "ok")
                .in_env((!slot.is_empty()).then_some(slot))],
            marks,
        )
        .await?;
        Ok(Revealed {
            row,
            env: (!slot.is_empty()).then(|| slot.to_string()),
            version: v,
            value,
            used_by,
        })
    }

    /// Secrets matching `filter` (metadata only). A machine token sees only its app's secrets
    /// in its environment.
    pub async fn list(
        &self,
        ws: &Workspace,
        filter: &ListFilter,
        actor: &Actor,
    ) -> Result<Vec<SecretRow>, Error> {
        if let Some(app) = &filter.app {
            validate_app(app)?;
        }
        if let Some(env) = &filter.env {
            validate_env(env)?;
        }
        self.require(actor, Action::List, ws, None, "secret.list")
            .await?;
        let mut filter = filter.clone();
        if actor.principal.role == Role::Machine {
            for (asked, own, what) in [
                (&mut filter.app, &actor.principal.app, "app"),
                (&mut filter.env, &actor.principal.env, "environment"),
            ] {
                if asked.is_some() && asked != own {
                    return Err(Error::Forbidden {
                        reason: format!("a machine token may only list its own {what}"),
                    });
                }
                asked.clone_from(own);
            }
            // With a registered manifest, only the keys it names: fetched unpaged (a manifest
            // names few keys), filtered, then paged, so pages stay full.
            if let Some(declared) = self.declared_keys(actor, ws).await? {
                let declared = declared.unwrap_or_default();
                let limit = filter.limit.take();
                let mut rows = self.store.list(&ws.id, &filter, clock::now()).await?;
                rows.retain(|r| declared.contains(&r.key));
                if let Some(n) = limit {
                    rows.truncate(n);
                }
                return Ok(rows);
            }
        }
        Ok(self.store.list(&ws.id, &filter, clock::now()).await?)
    }

    /// The value versions of a secret with the row: of `env`'s own value when given, else
    /// of every value (shared first, then each environment's), oldest first.
    pub async fn history(
        &self,
        ws: &Workspace,
        key: &str,
        env: Option<&str>,
        actor: &Actor,
    ) -> Result<(SecretRow, Vec<VersionRow>), Error> {
        if let Some(e) = env {
            validate_env(e)?;
        }
        let row = self.show(ws, key, actor).await?;
        let mut versions = self.store.versions(&row.id).await?;
        if let Some(e) = env {
            versions.retain(|v| v.env == e);
        }
        Ok((row, versions))
    }

    /// Makes version `to`'s value current again, as a new version: of the shared value, or
    /// of `env`'s own.
    pub async fn rollback(
        &self,
        ws: &Workspace,
        key: &str,
        env: Option<&str>,
        to: u64,
        actor: &Actor,
    ) -> Result<SecretRow, Error> {
        validate_key(key)?;
        if let Some(e) = env {
            validate_env(e)?;
        }
        require_real_version(Some(to))?;
        self.require(actor, Action::Write, ws, Some(key), "secret.rollback")
            .await?;
        with_cas(MAX_TRIES, key, move || async move {
            let current = self.existing(ws, key).await?;
            let sealed = self
                .store
                .value(&current.id, env.unwrap_or_default(), to)
                .await?
                .ok_or_else(|| Error::VersionNotFound {
                    key: key.into(),
                    version: to,
                })?;
            let value = self.open_sealed(ws, &current, &sealed).await?;
            self.commit(
                ws,
                key,
                Some(&current),
                &MetadataPatch::default(),
                None,
                ValueChange::Set(env, &value),
                actor,
                "secret.rollback",
            )
            .await
        })
        .await
    }

    /// Sets the stored status (`revoke` / `restore`). A no-op when it already has it.
    pub async fn set_status(
        &self,
        ws: &Workspace,
        key: &str,
        status: StoredStatus,
        actor: &Actor,
    ) -> Result<SecretRow, Error> {
        validate_key(key)?;
        let action = match status {
            StoredStatus::Revoked => "secret.revoke",
            StoredStatus::Active => "secret.restore",
        };
        self.require(actor, Action::Write, ws, Some(key), action)
            .await?;
        with_cas(MAX_TRIES, key, move || async move {
            let current = self.existing(ws, key).await?;
            if current.status == status {
                return Ok(current);
            }
            self.commit(
                ws,
                key,
                Some(&current),
                &MetadataPatch::default(),
                Some(status),
                ValueChange::Keep,
                actor,
                action,
            )
            .await
        })
        .await
    }

    /// Deletes a secret and every version of it, if it is still as `expect` says. With
    /// `env`, removes only that environment's own value (every version of it); the secret and
    /// its other values stay, and reads in `env` get the shared value again.
    pub async fn delete(
        &self,
        ws: &Workspace,
        key: &str,
        env: Option<&str>,
        expect: Expect,
        force: bool,
        actor: &Actor,
    ) -> Result<SecretRow, Error> {
        validate_key(key)?;
        if let Some(e) = env {
            validate_env(e)?;
        }
        self.require(actor, Action::Write, ws, Some(key), "secret.delete")
            .await?;
        with_cas(MAX_TRIES, key, move || async move {
            let current = self.existing(ws, key).await?;
            require_expected(expect, &current, env)?;
            if let Some(e) = env {
                if !current.env_versions.contains_key(e) {
                    return Err(Error::NoValue {
                        key: key.into(),
                        env: e.to_string(),
                    });
                }
                return self
                    .commit(
                        ws,
                        key,
                        Some(&current),
                        &MetadataPatch::default(),
                        None,
                        ValueChange::Drop(e),
                        actor,
                        "secret.delete",
                    )
                    .await;
            }
            let audit = self.audit_entry(
                actor,
                "secret.delete",
                Some(ws),
                Some(key),
                Some(current.version),
                "ok",
            );
            let done = self
                .store
                .delete_secret(&current.id, current.revision, force, &audit)
                .await;
            self.caches.evict(&ws.name, Some(key));
            match done {
                Ok(()) => self.audited().await.map(|()| current),
                Err(StoreError::InUse(apps)) => Err(Error::InUse {
                    key: key.into(),
                    apps,
                }),
                Err(e) => Err(e.into()),
            }
        })
        .await
    }
}

/// The environment a read is in: the one asked for, else a machine token's own. A machine
/// token may not read in another environment.
pub(super) fn read_env<'a>(
    actor: &'a Actor,
    env: Option<&'a str>,
) -> Result<Option<&'a str>, Error> {
    let own = actor.principal.env.as_deref();
    match (env, own) {
        (Some(asked), Some(own)) if actor.principal.role == Role::Machine && asked != own => {
            Err(Error::Forbidden {
                reason: format!(
                    "a machine token reads in its own environment ({own}), not {asked:?}"
                ),
            })
        }
        (Some(asked), _) => Ok(Some(asked)),
        (None, own) if actor.principal.role == Role::Machine => Ok(own),
        (None, _) => Ok(None),
    }
}

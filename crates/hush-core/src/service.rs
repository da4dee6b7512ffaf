//! The hush service: the only place where keys, plaintext and the store meet.
//!
//! Every write follows one pattern: read the secret's row, decide, seal, and hand the store one
//! atomic write guarded by the row's revision. When another writer got in between, the store
//! refuses and the operation starts again from a fresh read (a few times, then
//! [`Error::Contention`]). The database is therefore the single judge of conflicts, which is
//! what lets several processes or nodes share one store safely.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use hush_crypto::{AuditKey, DataKey, Key, RootKey, SecretBytes, ValueSlot};

use crate::app::{named_keys, validate_manifest, AppKeyRow, AppRow, ReadMark, UseRow};
use crate::audit::{self, AuditEntry, AuditFilter, AuditRow, ChainKey, Head, Verdict};
use crate::clock;
use crate::error::{Error, Invalid};
use crate::group::GroupCommit;
use crate::keysource::KeySource;
use crate::model::{
    validate_key, validate_value_len, validate_workspace, Actor, ListFilter, Metadata, SealedValue,
    SecretRow, Status, StoredStatus, VersionRow, Workspace,
};
use crate::patch::{MetadataPatch, PatchRules as _};
use crate::store::{
    AuditKeyRow, Commit, DataKeyRow, RootKeyRow, SecretRead, SecretWrite, Store, StoreError,
};
use crate::token::{Action, Principal, Role, TokenRow, TokenSecret};
use hush_wire::AppManifest;

/// How many times a write starts again after losing a race before giving up.
const MAX_TRIES: usize = 16;

/// The most keys one resolve call may ask for.
pub const MAX_RESOLVE: usize = 500;

/// What a machine token's app manifest (see [`Hush::declared_keys`]) says about `key`.
fn undeclared_reason(
    declared: &Option<Result<HashSet<String>, String>>,
    key: &str,
    p: &Principal,
) -> Option<String> {
    match declared {
        None => None,
        Some(Err(why)) => Some(why.clone()),
        Some(Ok(d)) if d.contains(key) => None,
        Some(Ok(_)) => Some(format!(
            "secret {key:?} is not declared in the registered manifest of app {:?}: add it to hush.toml and run `hush apps register`",
            p.app.as_deref().unwrap_or_default()
        )),
    }
}

/// One key's answer in [`Hush::resolve`].
#[derive(Debug)]
pub struct Resolution {
    /// The secret.
    pub row: SecretRow,
    /// The current version and its value; `None` for a dry run.
    pub value: Option<(u64, SecretBytes)>,
}

/// A fresh random id with a prefix: `sec_` + 32 hex digits.
pub fn new_id(prefix: &str) -> Result<String, Error> {
    let mut b = [0u8; 16];
    hush_crypto::fill_random(&mut b)?;
    let mut s = String::with_capacity(prefix.len() + 33);
    s.push_str(prefix);
    s.push('_');
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    Ok(s)
}

/// A workspace with its unwrapped data keys.
struct WorkspaceKeys {
    workspace: Workspace,
    keys: HashMap<u32, DataKey>,
    current: u32,
}

/// A value read from the store, with the row it belongs to.
#[derive(Debug)]
pub struct Revealed {
    /// The secret's metadata.
    pub row: SecretRow,
    /// The version that was read.
    pub version: u64,
    /// The plaintext.
    pub value: SecretBytes,
    /// The registered apps that name the key, by app.
    pub used_by: Vec<UseRow>,
}

/// What `rotate_keys` did.
#[derive(Debug, Clone)]
pub struct RotationReport {
    /// The new root key version.
    pub root_version: u32,
    /// How many data keys were rewrapped.
    pub rewrapped: usize,
    /// How many workspaces got a new data key version.
    pub workspaces: usize,
    /// Set when the rotation committed but the key source could not forget older versions.
    pub warning: Option<String>,
}

/// What marks a web UI session token's name: `<signing token's name>.ui-<random>`
/// ([`Hush::start_session`]).
pub const SESSION_MARK: &str = ".ui-";

/// The hush service over one store and one key source.
pub struct Hush {
    store: Arc<dyn Store>,
    source: Mutex<Box<dyn KeySource>>,
    roots: Mutex<HashMap<u32, RootKey>>,
    current_root: Mutex<u32>,
    workspaces: Mutex<HashMap<String, Arc<WorkspaceKeys>>>,
    /// The audit key, also given to the store, which authenticates the rows it appends.
    audit_key: ChainKey,
    group: GroupCommit,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves only caches behind; carry on.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Hush {
    /// Initialises an empty store: root key version 1, workspace `default`, its first data key.
    pub async fn initialize(
        store: Arc<dyn Store>,
        mut source: Box<dyn KeySource>,
    ) -> Result<Hush, Error> {
        if !store.root_keys().await?.is_empty() {
            return Err(Error::AlreadyInitialized);
        }
        let now = clock::now();
        let (key, mut row) = source.create_version(1, now)?;
        let root = RootKey { version: 1, key };
        row.check = hush_crypto::root_check(&root)?;
        let workspace = Workspace {
            id: new_id("ws")?,
            name: "default".into(),
            created_at: now,
        };
        let dk = DataKey {
            version: 1,
            key: Key::generate()?,
        };
        let dk_row = DataKeyRow {
            workspace_id: workspace.id.clone(),
            version: 1,
            root_version: 1,
            wrapped: hush_crypto::wrap_data_key(&root, &workspace.id, &dk)?,
            created_at: now,
        };
        let audit_key = ChainKey {
            key: AuditKey::generate()?,
            keyed_from: 1,
        };
        let audit_row = AuditKeyRow {
            root_version: 1,
            wrapped: hush_crypto::wrap_audit_key(&root, 1, &audit_key.key)?,
            keyed_from: 1,
            created_at: now,
        };
        store
            .initialize(&row, &workspace, &dk_row, &audit_row)
            .await
            .map_err(|e| match e {
                StoreError::AlreadyInitialized => Error::AlreadyInitialized,
                other => Error::Store(other),
            })?;
        source.retire_before(1)?;
        store.set_audit_key(audit_key.key.clone());
        let group = GroupCommit::start(Arc::clone(&store));
        Ok(Hush {
            store,
            source: Mutex::new(source),
            roots: Mutex::new(HashMap::from([(1, root)])),
            current_root: Mutex::new(1),
            workspaces: Mutex::new(HashMap::new()),
            audit_key,
            group,
        })
    }

    /// Opens an initialised store, checking that the key source opens its current root key.
    pub async fn open(store: Arc<dyn Store>, source: Box<dyn KeySource>) -> Result<Hush, Error> {
        let rows = store.root_keys().await?;
        let current = rows.last().ok_or(Error::NotInitialized)?.clone();
        let root = open_root(source.as_ref(), &current)?;
        let audit_key = unlock_audit_key(store.as_ref(), source.as_ref(), &root).await?;
        store.set_audit_key(audit_key.key.clone());
        let group = GroupCommit::start(Arc::clone(&store));
        Ok(Hush {
            store,
            source: Mutex::new(source),
            roots: Mutex::new(HashMap::from([(current.version, root)])),
            current_root: Mutex::new(current.version),
            workspaces: Mutex::new(HashMap::new()),
            audit_key,
            group,
        })
    }

    /// Records audit rows and apps' reads durably, in a group commit with other requests'.
    async fn record(&self, entries: Vec<AuditEntry>, marks: Vec<ReadMark>) -> Result<(), Error> {
        self.group.commit(Commit::Reads { entries, marks }).await?;
        Ok(())
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    async fn root_key(&self, version: u32) -> Result<RootKey, Error> {
        if let Some(k) = lock(&self.roots).get(&version) {
            return Ok(k.clone());
        }
        let rows = self.store.root_keys().await?;
        let row = rows.iter().find(|r| r.version == version).ok_or_else(|| {
            Error::Store(StoreError::Corrupt(format!(
                "a data key names root key version {version}, which the store does not record"
            )))
        })?;
        let root = open_root(lock(&self.source).as_ref(), row)?;
        lock(&self.roots).insert(version, root.clone());
        Ok(root)
    }

    async fn load_workspace_keys(&self, workspace: Workspace) -> Result<Arc<WorkspaceKeys>, Error> {
        let rows = self.store.data_keys(Some(&workspace.id)).await?;
        let mut keys = HashMap::with_capacity(rows.len());
        let mut current = 0;
        for r in rows {
            let root = self.root_key(r.root_version).await?;
            let dk = hush_crypto::unwrap_data_key(&root, &workspace.id, r.version, &r.wrapped)
                .map_err(|_| Error::DataKey {
                    workspace: workspace.name.clone(),
                    version: r.version,
                })?;
            current = current.max(r.version);
            keys.insert(r.version, dk);
        }
        if keys.is_empty() {
            return Err(Error::Store(StoreError::Corrupt(format!(
                "workspace {:?} has no data key",
                workspace.name
            ))));
        }
        let wk = Arc::new(WorkspaceKeys {
            workspace,
            keys,
            current,
        });
        lock(&self.workspaces).insert(wk.workspace.name.clone(), wk.clone());
        Ok(wk)
    }

    /// The workspace called `name`, created (with a data key) when `create` is set and it does
    /// not exist yet. Returns the workspace and whether it was created now.
    pub async fn workspace(&self, name: &str, create: bool) -> Result<(Workspace, bool), Error> {
        validate_workspace(name)?;
        if let Some(w) = lock(&self.workspaces).get(name) {
            return Ok((w.workspace.clone(), false));
        }
        if let Some(ws) = self.store.workspace_by_name(name).await? {
            let wk = self.load_workspace_keys(ws).await?;
            return Ok((wk.workspace.clone(), false));
        }
        if !create {
            return Err(Error::WorkspaceNotFound { name: name.into() });
        }
        let now = clock::now();
        // Another process may have rotated since we opened: wrap under the newest root key.
        // The store refuses (Conflict) a data key wrapped by anything older.
        let newest = self
            .store
            .root_keys()
            .await?
            .last()
            .map(|r| r.version)
            .ok_or(Error::NotInitialized)?;
        let root = self.root_key(newest).await?;
        *lock(&self.current_root) = newest;
        let ws = Workspace {
            id: new_id("ws")?,
            name: name.into(),
            created_at: now,
        };
        let dk = DataKey {
            version: 1,
            key: Key::generate()?,
        };
        let row = DataKeyRow {
            workspace_id: ws.id.clone(),
            version: 1,
            root_version: root.version,
            wrapped: hush_crypto::wrap_data_key(&root, &ws.id, &dk)?,
            created_at: now,
        };
        match self.store.create_workspace(&ws, &row).await {
            Ok(()) => {
                let wk = Arc::new(WorkspaceKeys {
                    workspace: ws.clone(),
                    keys: HashMap::from([(1, dk)]),
                    current: 1,
                });
                lock(&self.workspaces).insert(name.into(), wk);
                Ok((ws, true))
            }
            // Someone else created it first: use theirs.
            Err(StoreError::Exists) => Box::pin(self.workspace(name, false)).await,
            // A rotation committed between our read of the root keys and our write.
            Err(StoreError::Conflict) => Box::pin(self.workspace(name, true)).await,
            Err(e) => Err(e.into()),
        }
    }

    /// Every workspace.
    pub async fn workspaces(&self) -> Result<Vec<Workspace>, Error> {
        Ok(self.store.workspaces().await?)
    }

    async fn keys_for(&self, ws: &Workspace) -> Result<Arc<WorkspaceKeys>, Error> {
        if let Some(w) = lock(&self.workspaces).get(&ws.name) {
            if w.workspace.id == ws.id {
                return Ok(w.clone());
            }
        }
        self.load_workspace_keys(ws.clone()).await
    }

    async fn seal(
        &self,
        ws: &Workspace,
        secret_id: &str,
        version: u64,
        value: &SecretBytes,
        actor: &Actor,
        now: i64,
    ) -> Result<SealedValue, Error> {
        let wk = self.keys_for(ws).await?;
        let dk = wk
            .keys
            .get(&wk.current)
            .ok_or_else(|| Error::Store(StoreError::Corrupt("current data key missing".into())))?;
        let ciphertext = hush_crypto::seal_value(
            dk,
            ValueSlot {
                workspace_id: &ws.id,
                secret_id,
                version,
            },
            value,
        )?;
        Ok(SealedValue {
            version,
            key_version: dk.version,
            ciphertext,
            created_at: now,
            created_by: actor.name().to_string(),
        })
    }

    async fn open_sealed(
        &self,
        ws: &Workspace,
        row: &SecretRow,
        sealed: &SealedValue,
    ) -> Result<SecretBytes, Error> {
        let mut wk = self.keys_for(ws).await?;
        if !wk.keys.contains_key(&sealed.key_version) {
            // Rotated by another process since we loaded the keys.
            wk = self.load_workspace_keys(ws.clone()).await?;
        }
        let fail = || Error::Decrypt {
            key: row.key.clone(),
            version: sealed.version,
        };
        let dk = wk.keys.get(&sealed.key_version).ok_or_else(fail)?;
        hush_crypto::open_value(
            dk,
            ValueSlot {
                workspace_id: &ws.id,
                secret_id: &row.id,
                version: sealed.version,
            },
            &sealed.ciphertext,
        )
        .map_err(|_| fail())
    }

    /// An audit row for `actor` doing `action`.
    pub fn audit_entry(
        &self,
        actor: &Actor,
        action: &str,
        ws: Option<&Workspace>,
        key: Option<&str>,
        version: Option<u64>,
        outcome: &str,
    ) -> AuditEntry {
        AuditEntry {
            ts_ms: clock::now_ms(),
            actor_id: actor.principal.id.clone(),
            actor_name: actor.name().to_string(),
            action: action.into(),
            workspace: ws.map(|w| w.name.clone()),
            key: key.map(str::to_string),
            version,
            outcome: outcome.into(),
            remote: actor.remote.clone(),
        }
    }

    /// Refuses what the actor's role does not allow, recording the refusal.
    async fn require(
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
    async fn require_in_scope(
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
        value: Option<&SecretBytes>,
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
        let sealed = match value {
            Some(v) => {
                row.version += 1;
                Some(self.seal(ws, &row.id, row.version, v, actor, now).await?)
            }
            None => None,
        };
        let audit = self.audit_entry(actor, action, Some(ws), Some(key), Some(row.version), "ok");
        let write = SecretWrite {
            row,
            expected_revision: current.map(|c| c.revision),
            value: sealed,
            audit,
        };
        let row = write.row.clone();
        self.group.commit(Commit::Write(Box::new(write))).await?;
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

    /// Creates a secret; [`Error::Exists`] when the key is taken (nothing is changed).
    pub async fn create(
        &self,
        ws: &Workspace,
        key: &str,
        value: &SecretBytes,
        patch: &MetadataPatch,
        actor: &Actor,
    ) -> Result<SecretRow, Error> {
        validate_key(key)?;
        validate_value_len(value.len())?;
        patch.validate()?;
        self.require(actor, Action::Write, ws, Some(key), "secret.create")
            .await?;
        if self.store.secret(&ws.id, key).await?.is_some() {
            return Err(Error::Exists { key: key.into() });
        }
        match self
            .commit(
                ws,
                key,
                None,
                patch,
                None,
                Some(value),
                actor,
                "secret.create",
            )
            .await
        {
            Ok(row) => Ok(row),
            Err(Error::Store(StoreError::Exists)) => Err(Error::Exists { key: key.into() }),
            Err(e) => Err(e),
        }
    }

    /// Creates or replaces a secret's value, applying `patch` to its metadata. Returns the row
    /// and whether the secret was created.
    pub async fn put(
        &self,
        ws: &Workspace,
        key: &str,
        value: &SecretBytes,
        patch: &MetadataPatch,
        actor: &Actor,
    ) -> Result<(SecretRow, bool), Error> {
        validate_key(key)?;
        validate_value_len(value.len())?;
        patch.validate()?;
        self.require(actor, Action::Write, ws, Some(key), "secret.put")
            .await?;
        for _ in 0..MAX_TRIES {
            let current = self.store.secret(&ws.id, key).await?;
            let action = if current.is_some() {
                "secret.update"
            } else {
                "secret.create"
            };
            match self
                .commit(
                    ws,
                    key,
                    current.as_ref(),
                    patch,
                    None,
                    Some(value),
                    actor,
                    action,
                )
                .await
            {
                Ok(row) => return Ok((row, current.is_none())),
                Err(Error::Store(StoreError::Exists | StoreError::Conflict)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Contention { key: key.into() })
    }

    /// Changes the value (when given) and metadata of an existing secret. With `if_version`,
    /// refuses with [`Error::StaleVersion`] unless that is still the current version.
    pub async fn update(
        &self,
        ws: &Workspace,
        key: &str,
        value: Option<&SecretBytes>,
        patch: &MetadataPatch,
        if_version: Option<u64>,
        actor: &Actor,
    ) -> Result<SecretRow, Error> {
        validate_key(key)?;
        if let Some(v) = value {
            validate_value_len(v.len())?;
        }
        patch.validate()?;
        self.require(actor, Action::Write, ws, Some(key), "secret.update")
            .await?;
        for _ in 0..MAX_TRIES {
            let current = self.existing(ws, key).await?;
            if let Some(expected) = if_version {
                if expected != current.version {
                    return Err(Error::StaleVersion {
                        key: key.into(),
                        expected,
                        current: current.version,
                    });
                }
            }
            match self
                .commit(
                    ws,
                    key,
                    Some(&current),
                    patch,
                    None,
                    value,
                    actor,
                    "secret.update",
                )
                .await
            {
                Ok(row) => return Ok(row),
                Err(Error::Store(StoreError::Conflict)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Contention { key: key.into() })
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

    /// Decrypts the current value (or `version`). Refuses revoked and expired secrets. The read
    /// is in the audit log, durably, before the value is returned: if it cannot be recorded,
    /// the value is not given out.
    pub async fn reveal(
        &self,
        ws: &Workspace,
        key: &str,
        version: Option<u64>,
        actor: &Actor,
    ) -> Result<Revealed, Error> {
        validate_key(key)?;
        if version == Some(0) {
            return Err(Invalid::Version { value: 0 }.into());
        }
        self.require(actor, Action::Read, ws, Some(key), "secret.read")
            .await?;
        self.require_declared(actor, ws, key, "secret.read").await?;
        let found = self
            .store
            .secret_with_value(&ws.id, key, version, true)
            .await?
            .ok_or_else(|| Error::NotFound {
                workspace: ws.name.clone(),
                key: key.into(),
            })?;
        let (row, sealed, mut used_by) = (found.row, found.value, found.uses);
        self.require_in_scope(actor, ws, &row, "secret.read")
            .await?;
        // A machine token sees only its own app among the apps using a secret.
        if actor.principal.role == Role::Machine {
            used_by.retain(|u| Some(&u.app) == actor.principal.app.as_ref());
        }
        let refused = match row.status_at(clock::now()) {
            Status::Active => None,
            Status::Revoked => Some(("revoked", Error::Revoked { key: key.into() })),
            Status::Expired => {
                let at = row.meta.expires_at.unwrap_or_default();
                Some((
                    "expired",
                    Error::Expired {
                        key: key.into(),
                        at,
                        at_rfc3339: clock::rfc3339(at),
                    },
                ))
            }
        };
        if let Some((outcome, err)) = refused {
            self.record(
                vec![self.audit_entry(actor, "secret.read", Some(ws), Some(key), None, outcome)],
                Vec::new(),
            )
            .await?;
            return Err(err);
        }
        let v = version.unwrap_or(row.version);
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
        let marks: Vec<ReadMark> = self.read_mark(actor, ws, key).into_iter().collect();
        self.record(
            vec![self.audit_entry(actor, "secret.read", Some(ws), Some(key), Some(v), "ok")],
            marks,
        )
        .await?;
        Ok(Revealed {
            row,
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
            crate::model::validate_app(app)?;
        }
        if let Some(env) = &filter.env {
            crate::model::validate_env(env)?;
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

    /// The value versions of a secret, oldest first, with the row.
    pub async fn history(
        &self,
        ws: &Workspace,
        key: &str,
        actor: &Actor,
    ) -> Result<(SecretRow, Vec<VersionRow>), Error> {
        let row = self.show(ws, key, actor).await?;
        let versions = self.store.versions(&row.id).await?;
        Ok((row, versions))
    }

    /// Makes version `to`'s value current again, as a new version.
    pub async fn rollback(
        &self,
        ws: &Workspace,
        key: &str,
        to: u64,
        actor: &Actor,
    ) -> Result<SecretRow, Error> {
        validate_key(key)?;
        if to == 0 {
            return Err(Invalid::Version { value: 0 }.into());
        }
        self.require(actor, Action::Write, ws, Some(key), "secret.rollback")
            .await?;
        for _ in 0..MAX_TRIES {
            let current = self.existing(ws, key).await?;
            let sealed =
                self.store
                    .value(&current.id, to)
                    .await?
                    .ok_or_else(|| Error::VersionNotFound {
                        key: key.into(),
                        version: to,
                    })?;
            let value = self.open_sealed(ws, &current, &sealed).await?;
            match self
                .commit(
                    ws,
                    key,
                    Some(&current),
                    &MetadataPatch::default(),
                    None,
                    Some(&value),
                    actor,
                    "secret.rollback",
                )
                .await
            {
                Ok(row) => return Ok(row),
                Err(Error::Store(StoreError::Conflict)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Contention { key: key.into() })
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
        for _ in 0..MAX_TRIES {
            let current = self.existing(ws, key).await?;
            if current.status == status {
                return Ok(current);
            }
            match self
                .commit(
                    ws,
                    key,
                    Some(&current),
                    &MetadataPatch::default(),
                    Some(status),
                    None,
                    actor,
                    action,
                )
                .await
            {
                Ok(row) => return Ok(row),
                Err(Error::Store(StoreError::Conflict)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Contention { key: key.into() })
    }

    /// Deletes a secret and every version of it; with `if_version`, only if that is still the
    /// current version.
    pub async fn delete(
        &self,
        ws: &Workspace,
        key: &str,
        if_version: Option<u64>,
        force: bool,
        actor: &Actor,
    ) -> Result<SecretRow, Error> {
        validate_key(key)?;
        self.require(actor, Action::Write, ws, Some(key), "secret.delete")
            .await?;
        for _ in 0..MAX_TRIES {
            let current = self.existing(ws, key).await?;
            if let Some(expected) = if_version {
                if expected != current.version {
                    return Err(Error::StaleVersion {
                        key: key.into(),
                        expected,
                        current: current.version,
                    });
                }
            }
            let audit = self.audit_entry(
                actor,
                "secret.delete",
                Some(ws),
                Some(key),
                Some(current.version),
                "ok",
            );
            match self
                .store
                .delete_secret(&current.id, current.revision, force, &audit)
                .await
            {
                Ok(()) => return Ok(current),
                Err(StoreError::Conflict) => continue,
                Err(StoreError::InUse(apps)) => {
                    return Err(Error::InUse {
                        key: key.into(),
                        apps,
                    })
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Contention { key: key.into() })
    }

    /// Refuses a key that a machine token's registered manifest does not name, recording the
    /// refusal. It is asked before the key is looked up, so the answer is the same whether
    /// the key exists or not: a machine token learns nothing about keys beyond its manifest.
    async fn require_declared(
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
    async fn declared_keys(
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

    /// The read mark for a read by a machine token (whose app is known).
    fn read_mark(&self, actor: &Actor, ws: &Workspace, key: &str) -> Option<ReadMark> {
        let p = &actor.principal;
        (p.role == Role::Machine)
            .then_some(p.app.as_ref())
            .flatten()
            .map(|app| ReadMark {
                workspace_id: ws.id.clone(),
                app: app.clone(),
                key: key.into(),
                at: clock::now(),
            })
    }

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
            crate::model::validate_app(a)?;
        }
        if let Some(e) = env {
            crate::model::validate_env(e)?;
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
            crate::token::Principal {
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
            let refuse = |outcome: &str, err: Error, audit: &mut Vec<AuditEntry>| {
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
            match row.status_at(now) {
                Status::Active => {}
                Status::Revoked => {
                    let err = Error::Revoked { key: key.clone() };
                    out.push((key.clone(), refuse("revoked", err, &mut audit)));
                    continue;
                }
                Status::Expired => {
                    let at = row.meta.expires_at.unwrap_or_default();
                    let err = Error::Expired {
                        key: key.clone(),
                        at,
                        at_rfc3339: clock::rfc3339(at),
                    };
                    out.push((key.clone(), refuse("expired", err, &mut audit)));
                    continue;
                }
            }
            if dry_run {
                out.push((key.clone(), Ok(Resolution { row, value: None })));
                continue;
            }
            let sealed = sealed.ok_or_else(|| Error::VersionNotFound {
                key: key.clone(),
                version: row.version,
            })?;
            let value = match self.open_sealed(ws, &row, &sealed).await {
                Ok(v) => v,
                Err(err @ Error::Decrypt { .. }) => {
                    // One damaged row fails its own key, not the whole call.
                    if !dry_run {
                        audit.push(self.audit_entry(
                            actor,
                            what,
                            Some(ws),
                            Some(key),
                            Some(row.version),
                            "decrypt_failed",
                        ));
                    }
                    out.push((key.clone(), Err(err)));
                    continue;
                }
                Err(e) => return Err(e),
            };
            audit.push(self.audit_entry(actor, what, Some(ws), Some(key), Some(row.version), "ok"));
            if let Some(app) = &scope.app {
                marks.push(ReadMark {
                    workspace_id: ws.id.clone(),
                    app: app.clone(),
                    key: key.clone(),
                    at: now,
                });
            }
            let version = row.version;
            out.push((
                key.clone(),
                Ok(Resolution {
                    row,
                    value: Some((version, value)),
                }),
            ));
        }
        if !audit.is_empty() {
            self.record(audit, marks).await?;
        }
        Ok(out)
    }

    /// Registers an app's manifest (or replaces it). Returns the app and whether it is new.
    pub async fn register_app(
        &self,
        ws: &Workspace,
        manifest: &AppManifest,
        actor: &Actor,
    ) -> Result<(AppRow, bool), Error> {
        validate_manifest(manifest)?;
        self.require(actor, Action::Write, ws, None, "app.register")
            .await?;
        let now = clock::now();
        let existing = self.store.app(&ws.id, &manifest.app).await?;
        let row = AppRow {
            workspace_id: ws.id.clone(),
            manifest: manifest.clone(),
            keys: named_keys(manifest)
                .into_iter()
                .map(|key| AppKeyRow {
                    key,
                    last_read_at: None,
                })
                .collect(),
            created_at: existing.as_ref().map_or(now, |e| e.created_at),
            updated_at: now,
            registered_by: actor.name().to_string(),
        };
        let audit = self.audit_entry(
            actor,
            "app.register",
            Some(ws),
            Some(&manifest.app),
            None,
            "ok",
        );
        let created = self.store.put_app(&row, &audit).await?;
        let stored = self.store.app(&ws.id, &manifest.app).await?.unwrap_or(row);
        Ok((stored, created))
    }

    /// The registered apps.
    pub async fn apps(&self, ws: &Workspace, actor: &Actor) -> Result<Vec<AppRow>, Error> {
        self.require(actor, Action::List, ws, None, "app.list")
            .await?;
        let mut apps = self.store.apps(&ws.id).await?;
        if actor.principal.role == Role::Machine {
            apps.retain(|a| Some(&a.manifest.app) == actor.principal.app.as_ref());
        }
        Ok(apps)
    }

    /// One registered app.
    pub async fn app(&self, ws: &Workspace, name: &str, actor: &Actor) -> Result<AppRow, Error> {
        crate::model::validate_app(name)?;
        self.require(actor, Action::Show, ws, None, "app.show")
            .await?;
        // Another app is "not found" to a machine token, whether it is registered or not.
        let own =
            actor.principal.role != Role::Machine || actor.principal.app.as_deref() == Some(name);
        let found = if own {
            self.store.app(&ws.id, name).await?
        } else {
            None
        };
        found.ok_or_else(|| Error::AppNotFound { app: name.into() })
    }

    /// Unregisters an app: the secrets it named are no longer in use by it.
    pub async fn delete_app(&self, ws: &Workspace, name: &str, actor: &Actor) -> Result<(), Error> {
        crate::model::validate_app(name)?;
        self.require(actor, Action::Write, ws, None, "app.delete")
            .await?;
        let audit = self.audit_entry(actor, "app.delete", Some(ws), Some(name), None, "ok");
        if self.store.delete_app(&ws.id, name, &audit).await? {
            Ok(())
        } else {
            Err(Error::AppNotFound { app: name.into() })
        }
    }

    /// Which registered apps name each of `keys`, with when each last read it.
    pub async fn usage(
        &self,
        ws: &Workspace,
        keys: &[String],
    ) -> Result<HashMap<String, Vec<UseRow>>, Error> {
        let mut by_key: HashMap<String, Vec<UseRow>> = HashMap::new();
        for u in self.store.uses(&ws.id, keys).await? {
            by_key.entry(u.key.clone()).or_default().push(u);
        }
        Ok(by_key)
    }

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
        crate::model::check_name("token name", name, crate::model::MAX_NAME_LEN)?;
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
                crate::model::validate_app(a)?;
                crate::model::validate_env(e)?;
            }
            (Role::Machine, _, _) => return Err(Invalid::MachineToken.into()),
            (_, None, None) => {}
            _ => return Err(Invalid::MachineToken.into()),
        }
        if let Some(at) = expires_at {
            crate::model::validate_expires_at("expires_at", at)?;
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
        let mut audit = self.audit_entry(actor, "token.create", Some(ws), None, None, "ok");
        audit.key = Some(row.id.clone());
        self.store.insert_token(&row, &audit).await?;
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
                    .take(crate::model::MAX_NAME_LEN - 12)
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
        let mut audit = self.audit_entry(actor, "session.start", Some(ws), None, None, "ok");
        audit.key = Some(row.id.clone());
        self.store.insert_token(&row, &audit).await?;
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
        let mut audit = self.audit_entry(actor, "session.end", Some(ws), None, None, "ok");
        audit.key = Some(actor.principal.id.clone());
        self.store
            .revoke_token(&ws.id, &actor.principal.id, clock::now(), &audit)
            .await?;
        Ok(())
    }

    /// The tokens of a workspace (never the tokens themselves).
    pub async fn tokens(&self, ws: &Workspace, actor: &Actor) -> Result<Vec<TokenRow>, Error> {
        self.require(actor, Action::Admin, ws, None, "token.list")
            .await?;
        Ok(self.store.tokens(&ws.id).await?)
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
        let t = match live.as_slice() {
            [one] => (*one).clone(),
            [] => {
                return Err(Error::TokenNotFound {
                    id: id_or_name.into(),
                })
            }
            _ => {
                return Err(Error::Invalid(Invalid::Ambiguous {
                    name: id_or_name.into(),
                }))
            }
        };
        let mut audit = self.audit_entry(actor, "token.revoke", Some(ws), None, None, "ok");
        audit.key = Some(t.id.clone());
        if !self
            .store
            .revoke_token(&ws.id, &t.id, clock::now(), &audit)
            .await?
        {
            return Err(Error::TokenNotFound {
                id: id_or_name.into(),
            });
        }
        // Its web UI sessions end with it (sessions are named after it and made by it; a
        // namesake's sessions ending too errs on the safe side).
        let sessions = all.iter().filter(|s| {
            s.revoked_at.is_none()
                && s.created_by == t.name
                && s.name.contains(SESSION_MARK)
                && s.name.split(SESSION_MARK).next() == Some(t.name.as_str())
        });
        for session in sessions {
            let mut audit = self.audit_entry(actor, "session.end", Some(ws), None, None, "ok");
            audit.key = Some(session.id.clone());
            self.store
                .revoke_token(&ws.id, &session.id, clock::now(), &audit)
                .await?;
        }
        Ok(t)
    }

    /// Checks a presented token. Every failure is recorded (`auth.failed`) and answers the same
    /// [`Error::Unauthorized`], so a caller learns nothing about which tokens exist.
    pub async fn authenticate(
        &self,
        presented: &TokenSecret,
        remote: Option<&str>,
    ) -> Result<(Actor, Workspace), Error> {
        self.authenticate_with(presented, remote, true).await
    }

    /// As [`Hush::authenticate`], but a failure writes no audit row: for a caller that already
    /// refuses the address for too many failures and counts them itself, so a flood of bad
    /// tokens cannot flood the audit log. A success is the same as with `authenticate`.
    pub async fn authenticate_unaudited(
        &self,
        presented: &TokenSecret,
        remote: Option<&str>,
    ) -> Result<(Actor, Workspace), Error> {
        self.authenticate_with(presented, remote, false).await
    }

    async fn authenticate_with(
        &self,
        presented: &TokenSecret,
        remote: Option<&str>,
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
        let found = self.store.token_by_hash(&hash, now).await?;
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
                remote: remote.map(str::to_string),
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
        };
        Ok((actor, ws))
    }

    /// Audit rows (admin only).
    pub async fn audit_log(
        &self,
        ws: &Workspace,
        filter: &AuditFilter,
        actor: &Actor,
    ) -> Result<Vec<AuditRow>, Error> {
        self.require(actor, Action::Audit, ws, None, "audit.read")
            .await?;
        // A workspace's admins see its rows; failed authentications (no workspace) are shown to
        // the admins of `default`, the operator's workspace.
        let mut filter = filter.clone();
        filter.workspace = Some(ws.name.clone());
        filter.include_global = ws.name == "default";
        Ok(self.store.audit(&filter).await?)
    }

    /// Walks the whole audit chain, checking every row's MAC and link; with `expected` (a head
    /// recorded earlier, see [`Hush::audit_head`]), also that it is still there unchanged, so
    /// rows cut off the end are found.
    pub async fn verify_audit(
        &self,
        ws: &Workspace,
        actor: &Actor,
        expected: Option<&Head>,
    ) -> Result<Verdict, Error> {
        self.require(actor, Action::Audit, ws, None, "audit.verify")
            .await?;
        Ok(audit::verify(
            &self.store.audit(&AuditFilter::default()).await?,
            &self.audit_key,
            expected,
        ))
    }

    /// The newest audit row's sequence number and MAC, for the operator to keep elsewhere and
    /// give back to [`Hush::verify_audit`]. The row's own MAC is checked (one row, not the
    /// chain): a head that hush did not write is refused.
    pub async fn audit_head(&self, ws: &Workspace, actor: &Actor) -> Result<Head, Error> {
        self.require(actor, Action::Audit, ws, None, "audit.head")
            .await?;
        let newest = self.store.audit_head().await?;
        if let Some(row) = &newest {
            if !self.audit_key.row_checks_out(row) {
                return Err(Error::AuditHeadForged { seq: row.seq });
            }
        }
        Ok(Head::of(newest.as_slice()))
    }

    /// Rotates keys: a new root key version from the key source, every data key rewrapped under
    /// it, and a new data key version for every workspace (new values use it; old values keep
    /// opening with the version that sealed them). One store transaction; then the key source
    /// may forget older root key versions.
    pub async fn rotate_keys(&self) -> Result<RotationReport, Error> {
        let mut tries = 0;
        loop {
            match self.rotate_once().await {
                Err(Error::Store(StoreError::Conflict)) if tries < 3 => tries += 1,
                Err(Error::Store(StoreError::Conflict)) => {
                    return Err(Error::Contention {
                        key: "(root key)".into(),
                    })
                }
                other => return other,
            }
        }
    }

    async fn rotate_once(&self) -> Result<RotationReport, Error> {
        let rows = self.store.root_keys().await?;
        let current = rows.last().ok_or(Error::NotInitialized)?;
        let old_root = self.root_key(current.version).await?;
        let version = current.version + 1;
        let now = clock::now();
        let (key, mut row) = lock(&self.source).create_version(version, now)?;
        let new_root = RootKey { version, key };
        row.check = hush_crypto::root_check(&new_root)?;

        let all = self.store.data_keys(None).await?;
        let mut rewrapped = Vec::with_capacity(all.len());
        let mut newest: HashMap<String, u32> = HashMap::new();
        for dk_row in &all {
            let root = if dk_row.root_version == old_root.version {
                old_root.clone()
            } else {
                self.root_key(dk_row.root_version).await?
            };
            let dk = hush_crypto::unwrap_data_key(
                &root,
                &dk_row.workspace_id,
                dk_row.version,
                &dk_row.wrapped,
            )
            .map_err(|_| Error::DataKey {
                workspace: dk_row.workspace_id.clone(),
                version: dk_row.version,
            })?;
            rewrapped.push(DataKeyRow {
                workspace_id: dk_row.workspace_id.clone(),
                version: dk_row.version,
                root_version: version,
                wrapped: hush_crypto::wrap_data_key(&new_root, &dk_row.workspace_id, &dk)?,
                created_at: dk_row.created_at,
            });
            let n = newest.entry(dk_row.workspace_id.clone()).or_insert(0);
            *n = (*n).max(dk_row.version);
        }
        let mut added = Vec::with_capacity(newest.len());
        for (ws_id, v) in &newest {
            let dk = DataKey {
                version: v + 1,
                key: Key::generate()?,
            };
            added.push(DataKeyRow {
                workspace_id: ws_id.clone(),
                version: v + 1,
                root_version: version,
                wrapped: hush_crypto::wrap_data_key(&new_root, ws_id, &dk)?,
                created_at: now,
            });
        }
        // The audit key stays the same (old rows keep verifying); only its wrapping changes.
        let audit_key = AuditKeyRow {
            root_version: version,
            wrapped: hush_crypto::wrap_audit_key(
                &new_root,
                self.audit_key.keyed_from,
                &self.audit_key.key,
            )?,
            keyed_from: self.audit_key.keyed_from,
            created_at: now,
        };
        self.store
            .rotate_keys(&row, &rewrapped, &added, &audit_key)
            .await?;
        lock(&self.roots).insert(version, new_root);
        *lock(&self.current_root) = version;
        lock(&self.workspaces).clear();
        // The rotation is committed; failing to forget old versions is worth a warning, not a
        // failure that would make the caller think nothing happened.
        let warning = lock(&self.source)
            .retire_before(version)
            .err()
            .map(|e| e.to_string());
        Ok(RotationReport {
            root_version: version,
            rewrapped: rewrapped.len(),
            workspaces: added.len(),
            warning,
        })
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

/// The store's audit key, unwrapped. A store made by a hush before the keyed chain gets one
/// now: rows so far stay as they are (plain SHA-256 links), the key is bound to the next
/// sequence number, and an `audit.key.create` row authenticated with it is appended in the same
/// transaction, so the older rows are anchored from this moment on.
async fn unlock_audit_key(
    store: &dyn Store,
    source: &dyn KeySource,
    current: &RootKey,
) -> Result<ChainKey, Error> {
    for _ in 0..MAX_TRIES {
        if let Some(row) = store.audit_key().await? {
            let root = if row.root_version == current.version {
                current.clone()
            } else {
                // A rotation committed since the root keys were read.
                let roots = store.root_keys().await?;
                let r = roots
                    .iter()
                    .find(|r| r.version == row.root_version)
                    .ok_or_else(|| {
                        Error::Store(StoreError::Corrupt(format!(
                            "the audit key names root key version {}, which the store does not record",
                            row.root_version
                        )))
                    })?;
                open_root(source, r)?
            };
            let key = hush_crypto::unwrap_audit_key(&root, row.keyed_from, &row.wrapped)
                .map_err(|_| Error::AuditKey)?;
            return Ok(ChainKey {
                key,
                keyed_from: row.keyed_from,
            });
        }
        let keyed_from = store.audit_head().await?.map_or(1, |r| r.seq + 1);
        let key = AuditKey::generate()?;
        let row = AuditKeyRow {
            root_version: current.version,
            wrapped: hush_crypto::wrap_audit_key(current, keyed_from, &key)?,
            keyed_from,
            created_at: clock::now(),
        };
        let entry = AuditEntry {
            ts_ms: clock::now_ms(),
            actor_id: "hush".into(),
            actor_name: "hush".into(),
            action: audit::KEY_CREATED.into(),
            workspace: None,
            key: None,
            version: None,
            outcome: "ok".into(),
            remote: None,
        };
        match store.create_audit_key(&row, &key, &entry).await {
            Ok(()) => return Ok(ChainKey { key, keyed_from }),
            // Another process made it, appended a row or rotated meanwhile: look again.
            Err(StoreError::Exists | StoreError::Conflict) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Contention {
        key: "(audit key)".into(),
    })
}

fn open_root(source: &dyn KeySource, row: &RootKeyRow) -> Result<RootKey, Error> {
    let key = source.key_for(row)?;
    let root = RootKey {
        version: row.version,
        key,
    };
    hush_crypto::verify_root_check(&root, &row.check).map_err(|_| Error::WrongRootKey {
        source_name: source.name(),
        version: row.version,
    })?;
    Ok(root)
}

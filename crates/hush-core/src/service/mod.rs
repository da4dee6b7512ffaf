//! The hush service: the only place where keys, plaintext and the store meet.
//!
//! Every write follows one pattern: read the secret's row, decide, seal, and hand the store one
//! atomic write guarded by the row's revision. When another writer got in between, the store
//! refuses and the operation starts again from a fresh read (a few times, then
//! [`Error::Contention`]; see `cas.rs`). The database is therefore the single judge of
//! conflicts, which is what lets several processes or nodes share one store safely.
//!
//! [`Hush`] is one type with one `impl` block per capability, each in its own module:
//! `secrets` (write, read, history, status, delete), `resolve` (a workload's keys in one
//! call), `apps` (registered manifests), `tokens` (API tokens and web UI sessions), `auth`
//! (checking a presented token), `audit` (reading and verifying the log) and `keys`
//! (rotation, unlocking the root and audit keys). This module holds what they share: the
//! struct, opening a store, workspaces and their data keys, sealing and opening values, and
//! the audit entry builder; `access` holds the checks every capability makes of its caller.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hush_crypto::{AuditKey, DataKey, Key, RootKey, SecretBytes, ValueSlot};

use crate::app::ReadMark;
use crate::audit::{AuditEntry, ChainKey};
use crate::clock;
use crate::error::Error;
use crate::group::GroupCommit;
use crate::keysource::KeySource;
use crate::model::{validate_workspace, SealedValue, SecretRow, Workspace};
use crate::store::{AuditKeyRow, Commit, DataKeyRow, Store, StoreError};
use crate::token::Actor;

mod access;
mod apps;
mod audit;
mod auth;
mod cache;
mod cas;
mod events;
mod keys;
mod resolve;
mod secrets;
mod tokens;
mod webhooks;

pub use events::{EventFeed, EventScope, Follower};
pub use keys::RotationReport;
pub use resolve::{check_fallbacks, falls_back, KeyAnswer, Resolution, MAX_RESOLVE};
pub use secrets::{Expect, Revealed};
pub use tokens::SESSION_MARK;
pub use webhooks::WEBHOOK_SECRET_PREFIX;

use cas::{with_cas, MAX_TRIES};

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
    /// The store's events, followed from the first [`Hush::events`].
    feed: std::sync::OnceLock<Arc<EventFeed>>,
    /// Live tokens by hash and secret rows by key, kept coherent by the feed (unused until it
    /// runs: a server).
    caches: Arc<cache::Caches>,
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
        Ok(Hush::with_keys(store, source, root, audit_key))
    }

    /// Opens an initialised store, checking that the key source opens its current root key.
    pub async fn open(store: Arc<dyn Store>, source: Box<dyn KeySource>) -> Result<Hush, Error> {
        let rows = store.root_keys().await?;
        let current = rows.last().ok_or(Error::NotInitialized)?.clone();
        let root = keys::open_root(source.as_ref(), &current)?;
        let audit_key = keys::unlock_audit_key(store.as_ref(), source.as_ref(), &root).await?;
        Ok(Hush::with_keys(store, source, root, audit_key))
    }

    /// The service over an opened store: the store gets the audit key, the committer starts.
    fn with_keys(
        store: Arc<dyn Store>,
        source: Box<dyn KeySource>,
        root: RootKey,
        audit_key: ChainKey,
    ) -> Hush {
        store.set_audit_key(audit_key.key.clone());
        let group = GroupCommit::start(Arc::clone(&store), None, Arc::default());
        let version = root.version;
        Hush {
            store,
            source: Mutex::new(source),
            roots: Mutex::new(HashMap::from([(version, root)])),
            current_root: Mutex::new(version),
            workspaces: Mutex::new(HashMap::new()),
            audit_key,
            group,
            feed: std::sync::OnceLock::new(),
            caches: Arc::new(cache::Caches::new()),
        }
    }

    /// Streams every audit row to the file at `path` from now on (see `docs/deploy.md`,
    /// "Audit file"): opened (created with mode 0600) now, appended to after every commit that
    /// appends audit rows, before the request is answered. Rows already in the store are not
    /// copied; the file goes on from the chain's current head.
    pub async fn with_audit_sink(mut self, path: &std::path::Path) -> Result<Hush, Error> {
        let head = self.store.audit_head().await?.map_or(0, |r| r.seq);
        let sink = crate::sink::AuditSink::open(path, head)
            .map_err(|e| Error::from(crate::sink::CommitError::Sink(e)))?;
        self.group = GroupCommit::start(
            Arc::clone(&self.store),
            Some(Arc::new(sink)),
            self.group.observer(),
        );
        Ok(self)
    }

    /// Calls `observer` with the number of units (requests' reads and writes) each group
    /// commit carried in one transaction: near 1 when idle, larger under load.
    pub fn observe_batches(&self, observer: crate::group::BatchObserver) {
        self.group.observe(observer);
    }

    /// Records audit rows and apps' reads durably, in a group commit with other requests'.
    async fn record(&self, entries: Vec<AuditEntry>, marks: Vec<ReadMark>) -> Result<(), Error> {
        let marked = !marks.is_empty();
        let done = self.group.commit(Commit::Reads { entries, marks }).await;
        if marked {
            // Apps' last reads moved: `used_by` is read again.
            self.caches.forget_reads();
        }
        done
    }

    /// After an operation that appended its audit row itself (outside the group commit):
    /// brings the audit file, if there is one, up to date before the caller is answered.
    async fn audited(&self) -> Result<(), Error> {
        self.group.flush_audit().await
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
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
        // Someone else creating it first, or a rotation committing between our read of the
        // root keys and our write, is a lost race: the next try finds theirs, or wraps under
        // the new root key.
        with_cas(
            MAX_TRIES,
            &format!("(workspace {name})"),
            move || async move {
                if let Some(ws) = self.store.workspace_by_name(name).await? {
                    let wk = self.load_workspace_keys(ws).await?;
                    return Ok((wk.workspace.clone(), false));
                }
                if !create {
                    return Err(Error::WorkspaceNotFound { name: name.into() });
                }
                self.create_workspace(name).await.map(|ws| (ws, true))
            },
        )
        .await
    }

    /// Creates a workspace with its first data key. The store refuses with
    /// [`StoreError::Exists`] when the name is taken, and with [`StoreError::Conflict`] when the
    /// data key is not wrapped by the newest root key.
    async fn create_workspace(&self, name: &str) -> Result<Workspace, Error> {
        let now = clock::now();
        // Another process may have rotated since we opened: wrap under the newest root key.
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
        self.store.create_workspace(&ws, &row).await?;
        let wk = Arc::new(WorkspaceKeys {
            workspace: ws.clone(),
            keys: HashMap::from([(1, dk)]),
            current: 1,
        });
        lock(&self.workspaces).insert(name.into(), wk);
        Ok(ws)
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

    #[allow(clippy::too_many_arguments)]
    async fn seal(
        &self,
        ws: &Workspace,
        secret_id: &str,
        env: &str,
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
                env,
            },
            value,
        )?;
        Ok(SealedValue {
            env: env.to_string(),
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
                env: &sealed.env,
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
            env: None,
            remote: actor.remote.clone(),
            request_id: actor.request_id.clone(),
            detail: None,
            items: Vec::new(),
        }
    }
}

//! Keys: unlocking the root key and the audit key when a store is opened, root keys of older
//! versions on demand, and rotation.

use std::collections::HashMap;

use hush_crypto::{AuditKey, DataKey, Key, RootKey};

use crate::audit::{self, AuditEntry, ChainKey};
use crate::clock;
use crate::error::Error;
use crate::keysource::KeySource;
use crate::store::{AuditKeyRow, DataKeyRow, RootKeyRow, Store, StoreError};
use crate::token::Actor;

use super::{lock, with_cas, Hush, MAX_TRIES};

/// How many times a rotation is tried: each try asks the key source for a new version (for a
/// passphrase, an Argon2id derivation), so it gives up sooner than a write.
const ROTATION_TRIES: usize = 4;

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

impl Hush {
    /// Root key `version`, opened with the key source the first time it is needed.
    pub(super) async fn root_key(&self, version: u32) -> Result<RootKey, Error> {
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

    /// Rotates keys: a new root key version from the key source, every data key rewrapped under
    /// it, and a new data key version for every workspace (new values use it; old values keep
    /// opening with the version that sealed them). One store transaction; then the key source
    /// may forget older root key versions. The same transaction appends a `keys.rotate` audit
    /// row naming `actor`, the new root key version and the counts (never a key).
    pub async fn rotate_keys(&self, actor: &Actor) -> Result<RotationReport, Error> {
        with_cas(ROTATION_TRIES, "(root key)", move || {
            self.rotate_once(actor)
        })
        .await
    }

    async fn rotate_once(&self, actor: &Actor) -> Result<RotationReport, Error> {
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
        let mut audit = self.audit_entry(actor, audit::KEYS_ROTATED, None, None, None, "ok");
        audit.detail = Some(format!(
            "root key version {version}; {} data key(s) rewrapped; {} workspace(s) got a new data key version",
            rewrapped.len(),
            added.len()
        ));
        self.store
            .rotate_keys(&row, &rewrapped, &added, &audit_key, &audit)
            .await?;
        self.audited().await?;
        lock(&self.roots).insert(version, new_root);
        *lock(&self.current_root) = version;
        lock(&self.workspaces).clear();
        self.caches.evict("", None);
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

/// The store's audit key, unwrapped. A store made by a hush before the keyed chain gets one
/// now: rows so far stay as they are (plain SHA-256 links), the key is bound to the next
/// sequence number, and an `audit.key.create` row authenticated with it is appended in the same
/// transaction, so the older rows are anchored from this moment on. Another process making
/// it, appending a row or rotating meanwhile is a lost race: the next try looks again.
pub(super) async fn unlock_audit_key(
    store: &dyn Store,
    source: &dyn KeySource,
    current: &RootKey,
) -> Result<ChainKey, Error> {
    with_cas(MAX_TRIES, "(audit key)", move || async move {
        match store.audit_key().await? {
            Some(row) => open_audit_key(store, source, current, &row).await,
            None => create_audit_key(store, current).await,
        }
    })
    .await
}

/// Unwraps the audit key `row` records, with the root key version that wraps it.
async fn open_audit_key(
    store: &dyn Store,
    source: &dyn KeySource,
    current: &RootKey,
    row: &AuditKeyRow,
) -> Result<ChainKey, Error> {
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
    Ok(ChainKey {
        key,
        keyed_from: row.keyed_from,
    })
}

/// Makes the audit key of a store that has none, bound to the row after the chain's newest.
async fn create_audit_key(store: &dyn Store, current: &RootKey) -> Result<ChainKey, Error> {
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
        env: None,
        remote: None,
        request_id: None,
        detail: None,
        items: Vec::new(),
    };
    store.create_audit_key(&row, &key, &entry).await?;
    Ok(ChainKey { key, keyed_from })
}

/// Opens the root key `row` records with the key source, checking it is the right one.
pub(super) fn open_root(source: &dyn KeySource, row: &RootKeyRow) -> Result<RootKey, Error> {
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

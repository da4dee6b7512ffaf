//! What every capability's tests share: a new SQLite store in a temporary directory, the
//! service over it, actors of each role, and direct access to the database file for the
//! tests that damage it on purpose.

use std::path::PathBuf;
use std::sync::Arc;

use hush_core::audit::{AuditFilter, AuditRow};
use hush_core::token::{Principal, Role, TokenRow};
use hush_core::{
    Actor, Error, Hush, KeyFileSource, MetadataPatch, Resolution, Revealed, SecretBytes, SecretRow,
    Store, Workspace,
};
use hush_store_sqlite::SqliteStore;
use hush_wire::{AppManifest, Delivery, SecretDecl};

/// A store of its own, initialised, with the service over it and its `default` workspace.
pub struct Env {
    pub hush: Arc<Hush>,
    pub ws: Workspace,
    /// The CLI on the embedded store: an admin.
    pub admin: Actor,
    dir: tempfile::TempDir,
}

impl Env {
    pub async fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("hush.db")).unwrap();
        let source = KeyFileSource::new_file(&dir.path().join("root.key"));
        let hush = Hush::initialize(Arc::new(store), Box::new(source))
            .await
            .unwrap();
        let (ws, created) = hush.workspace("default", false).await.unwrap();
        assert!(!created, "initialize makes `default`");
        Env {
            hush: Arc::new(hush),
            ws,
            admin: Actor::local(),
            dir,
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("hush.db")
    }

    pub fn key_path(&self) -> PathBuf {
        self.dir.path().join("root.key")
    }

    /// The same store opened again by a new service, as another process would.
    pub async fn reopen(&self) -> Hush {
        let store = SqliteStore::open(&self.db_path()).unwrap();
        let source = KeyFileSource::open(&self.key_path()).unwrap();
        Hush::open(Arc::new(store), Box::new(source)).await.unwrap()
    }

    /// The database file, opened directly: for tests that damage a row on purpose.
    pub fn sql(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.db_path()).unwrap()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        self.hush.store()
    }

    /// Every audit row, oldest first.
    pub async fn audit(&self) -> Vec<AuditRow> {
        self.store().audit(&AuditFilter::default()).await.unwrap()
    }

    /// The audit rows appended after the first `n`.
    pub async fn audit_after(&self, n: usize) -> Vec<AuditRow> {
        self.audit().await.split_off(n)
    }

    /// The stored row of `key`, if any, read from the store (not through the service).
    pub async fn row(&self, key: &str) -> Option<SecretRow> {
        self.store().secret(&self.ws.id, key).await.unwrap()
    }

    /// Writes `value` under `key` as the admin.
    pub async fn put(&self, key: &str, value: &[u8]) -> SecretRow {
        self.put_with(key, value, &MetadataPatch::default()).await
    }

    pub async fn put_with(&self, key: &str, value: &[u8], patch: &MetadataPatch) -> SecretRow {
        let (row, _) = self
            .hush
            .put(&self.ws, key, None, &bytes(value), patch, &self.admin)
            .await
            .unwrap();
        row
    }

    /// The current value of `key`, read as the admin.
    pub async fn read(&self, key: &str) -> Vec<u8> {
        self.read_version(key, None).await
    }

    pub async fn read_version(&self, key: &str, version: Option<u64>) -> Vec<u8> {
        let r = self.reveal(key, version).await.unwrap();
        r.value.expose_secret().to_vec()
    }

    /// The admin's create, update, reveal, resolve and token list, in `default`: the calls
    /// whose answer (or refusal) a test looks at.
    pub async fn create(
        &self,
        key: &str,
        value: &SecretBytes,
        patch: &MetadataPatch,
    ) -> Result<SecretRow, Error> {
        self.hush
            .create(&self.ws, key, None, value, patch, &self.admin)
            .await
    }

    pub async fn update(
        &self,
        key: &str,
        value: Option<&SecretBytes>,
        patch: &MetadataPatch,
        if_version: Option<u64>,
    ) -> Result<SecretRow, Error> {
        self.hush
            .update(
                &self.ws,
                key,
                None,
                value,
                patch,
                hush_core::Expect::version(if_version),
                &self.admin,
            )
            .await
    }

    pub async fn reveal(&self, key: &str, version: Option<u64>) -> Result<Revealed, Error> {
        self.hush
            .reveal(&self.ws, key, None, version, &self.admin)
            .await
    }

    pub async fn resolve(
        &self,
        app: Option<&str>,
        env: Option<&str>,
        keys: &[String],
        dry_run: bool,
    ) -> Result<Vec<(String, Result<Resolution, Error>)>, Error> {
        self.hush
            .resolve(&self.ws, app, env, keys, dry_run, &self.admin)
            .await
    }

    pub async fn tokens(&self) -> Result<Vec<TokenRow>, Error> {
        self.hush.tokens(&self.ws, &self.admin).await
    }

    /// Registers `manifest` as the admin.
    pub async fn register(&self, manifest: &AppManifest) {
        self.hush
            .register_app(&self.ws, manifest, &self.admin)
            .await
            .unwrap();
    }
}

pub fn bytes(b: &[u8]) -> SecretBytes {
    SecretBytes::new(b.to_vec())
}

/// An actor holding a token of `role` (the service trusts the actor it is given:
/// authentication is its own capability).
pub fn actor(role: Role) -> Actor {
    Actor {
        principal: Principal {
            id: format!("tok_{}", role.as_str()),
            name: format!("{}-token", role.as_str()),
            role,
            app: None,
            env: None,
        },
        remote: Some("192.0.2.7".into()),
        request_id: None,
    }
}

/// An actor holding a machine token of `app` in `env`.
pub fn machine(app: &str, env: &str) -> Actor {
    let mut a = actor(Role::Machine);
    a.principal.app = Some(app.into());
    a.principal.env = Some(env.into());
    a
}

/// A manifest for `app` declaring `(variable, key, fallbacks)`.
pub fn manifest(app: &str, env: Option<&str>, decls: &[(&str, &str, &[&str])]) -> AppManifest {
    AppManifest {
        app: app.into(),
        env: env.map(str::to_string),
        secrets: decls
            .iter()
            .map(|(name, key, fallback)| SecretDecl {
                name: (*name).into(),
                key: (*key).into(),
                required: true,
                fallback: fallback.iter().map(|f| (*f).to_string()).collect(),
                delivery: Delivery::Env,
            })
            .collect(),
    }
}

/// `(action, key, outcome)` of each row: what a test asserts on.
pub fn summary(rows: &[AuditRow]) -> Vec<(String, Option<String>, String)> {
    rows.iter()
        .map(|r| {
            (
                r.entry.action.clone(),
                r.entry.key.clone(),
                r.entry.outcome.clone(),
            )
        })
        .collect()
}

/// Each row's `(action, key, outcome)`, a row naming several keys (one resolve) as one
/// triple per key.
pub fn per_key(rows: &[AuditRow]) -> Vec<(String, Option<String>, String)> {
    rows.iter()
        .flat_map(|r| {
            let e = &r.entry;
            if e.items.is_empty() {
                vec![(e.action.clone(), e.key.clone(), e.outcome.clone())]
            } else {
                e.items
                    .iter()
                    .map(|i| (e.action.clone(), Some(i.key.clone()), i.outcome.clone()))
                    .collect()
            }
        })
        .collect()
}

/// `(action, key, outcome)` from string slices, to compare with [`summary`].
pub fn rows(expected: &[(&str, Option<&str>, &str)]) -> Vec<(String, Option<String>, String)> {
    expected
        .iter()
        .map(|(a, k, o)| (a.to_string(), k.map(str::to_string), o.to_string()))
        .collect()
}

/// Whether `text` appears anywhere in the audit log (every field of every row).
pub fn audit_mentions(rows: &[AuditRow], text: &str) -> bool {
    rows.iter().any(|r| format!("{r:?}").contains(text))
}

pub fn now() -> i64 {
    hush_core::clock::now()
}

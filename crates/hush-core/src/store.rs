//! The store trait: the one joint every backend plugs into.
//!
//! A store keeps only sealed data: wrapped keys, ciphertexts and metadata. It never sees a
//! plaintext value or key. Every write is a single transaction; conflicting writes are refused
//! by the database itself (unique keys, the `(secret, version)` primary key and a revision
//! compare-and-swap), so two writers — in one process or on two nodes — can never both win.

use async_trait::async_trait;

use crate::app::{AppRow, ReadMark, UseRow};
use crate::audit::{AuditEntry, AuditFilter, AuditRow};
use crate::model::{ListFilter, SealedValue, SecretRow, VersionRow, Workspace};
pub use crate::store_error::StoreError;
use crate::token::TokenRow;
use hush_crypto::AuditKey;

/// How a root key version is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootKeyKind {
    /// 32 random bytes from a key file or `HUSH_ROOT_KEY`.
    Raw,
    /// Derived from `HUSH_PASSPHRASE` with Argon2id, using the recorded salt and parameters.
    Passphrase,
}

impl RootKeyKind {
    /// Storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RootKeyKind::Raw => "raw",
            RootKeyKind::Passphrase => "passphrase",
        }
    }

    /// Parses the storage spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "raw" => Some(RootKeyKind::Raw),
            "passphrase" => Some(RootKeyKind::Passphrase),
            _ => None,
        }
    }
}

/// What a store records about one root key version (never the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootKeyRow {
    /// Version, from 1.
    pub version: u32,
    /// How the key is obtained.
    pub kind: RootKeyKind,
    /// Argon2id salt, for passphrase keys.
    pub salt: Option<Vec<u8>>,
    /// Argon2id parameters `(m_kib, t, p)`, for passphrase keys.
    pub kdf: Option<(u32, u32, u32)>,
    /// A known plaintext sealed under the key, to tell a wrong key apart from damage.
    pub check: Vec<u8>,
    /// Unix seconds.
    pub created_at: i64,
}

/// One wrapped data key version of a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKeyRow {
    /// The workspace.
    pub workspace_id: String,
    /// Version within the workspace, from 1.
    pub version: u32,
    /// The root key version that wraps it.
    pub root_version: u32,
    /// The wrapped key.
    pub wrapped: Vec<u8>,
    /// Unix seconds.
    pub created_at: i64,
}

/// The store's audit key, wrapped (see `docs/key-hierarchy.md`). One per store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditKeyRow {
    /// The root key version that wraps it.
    pub root_version: u32,
    /// The wrapped key, bound to `keyed_from`.
    pub wrapped: Vec<u8>,
    /// The first audit row the key authenticates: 1 for a store made with the keyed chain,
    /// else the row appended when an older store got its key.
    pub keyed_from: i64,
    /// Unix seconds.
    pub created_at: i64,
}

/// A secret as a read finds it ([`Store::secret_with_value`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRead {
    /// The secret.
    pub row: SecretRow,
    /// The asked-for version of the shared value, if it exists.
    pub value: Option<SealedValue>,
    /// The registered apps that name the key, by app (empty unless asked for).
    pub uses: Vec<UseRow>,
}

/// For backends: the apps naming `key` from a JSON array of `[app, last_read_at,
/// last_read_env]` triples (as an aggregate in the read query gives them; `None` when not asked
/// for), sorted by app, since an aggregate's order is not promised.
pub fn uses_from_json(key: &str, json: Option<&str>) -> Result<Vec<UseRow>, StoreError> {
    let Some(json) = json else {
        return Ok(Vec::new());
    };
    let triples: Vec<(String, Option<i64>, Option<String>)> = serde_json::from_str(json)
        .map_err(|e| StoreError::Corrupt(format!("cannot read app uses: {e}")))?;
    let mut uses: Vec<UseRow> = triples
        .into_iter()
        .map(|(app, last_read_at, env)| UseRow {
            key: key.to_string(),
            app,
            last_read_at,
            env,
        })
        .collect();
    uses.sort_by(|a, b| a.app.cmp(&b.app));
    Ok(uses)
}

/// One write to a secret, applied atomically.
#[derive(Debug, Clone)]
pub struct SecretWrite {
    /// The secret's state after the write.
    pub row: SecretRow,
    /// `None`: the secret is new (refused with [`StoreError::Exists`] if the key is taken).
    /// `Some(r)`: applied only if the stored revision is still `r`, else
    /// [`StoreError::Conflict`].
    pub expected_revision: Option<u64>,
    /// A new value version to add: of the shared value (its `env` empty, its version
    /// `row.version`) or of one environment's own value (its version
    /// `row.env_versions[env]`).
    pub value: Option<SealedValue>,
    /// An environment whose own value is removed, every version of it, in the same
    /// transaction (`row.env_versions` no longer names it).
    pub drop_env: Option<String>,
    /// The audit row, appended in the same transaction: no write without its record.
    pub audit: AuditEntry,
}

/// One unit of a group commit ([`Store::commit_batch`]).
#[derive(Debug, Clone)]
pub enum Commit {
    /// A secret write, as [`Store::write_secret`].
    Write(Box<SecretWrite>),
    /// Audit rows and apps' reads, as [`Store::record_reads`].
    Reads {
        /// The audit rows.
        entries: Vec<AuditEntry>,
        /// The reads to mark.
        marks: Vec<ReadMark>,
    },
}

/// A backend: SQLite, PostgreSQL, ….
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Every root key version, oldest first. Empty on a store that was never initialised.
    async fn root_keys(&self) -> Result<Vec<RootKeyRow>, StoreError>;

    /// Records the first root key, the first workspace and its first data key, and the audit
    /// key, in one transaction. [`StoreError::AlreadyInitialized`] when a root key exists.
    async fn initialize(
        &self,
        root: &RootKeyRow,
        workspace: &Workspace,
        data_key: &DataKeyRow,
        audit_key: &AuditKeyRow,
    ) -> Result<(), StoreError>;

    /// Gives the store the audit key it authenticates appended rows with. Until it has one,
    /// every write that appends audit rows fails with [`StoreError::NoAuditKey`] (so nothing is
    /// ever written without its authenticated record).
    fn set_audit_key(&self, key: AuditKey);

    /// The wrapped audit key; `None` on a store made by a hush before the keyed chain.
    async fn audit_key(&self) -> Result<Option<AuditKeyRow>, StoreError>;

    /// For a store without an audit key: records `row` and appends `entry`, authenticated
    /// with `key`, in one transaction — only if the chain's newest row is still
    /// `row.keyed_from - 1`, else [`StoreError::Conflict`]. [`StoreError::Exists`] when the
    /// store has an audit key already.
    async fn create_audit_key(
        &self,
        row: &AuditKeyRow,
        key: &AuditKey,
        entry: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// The newest audit row, if any.
    async fn audit_head(&self) -> Result<Option<AuditRow>, StoreError>;

    /// The workspace with this name.
    async fn workspace_by_name(&self, name: &str) -> Result<Option<Workspace>, StoreError>;

    /// Creates a workspace with its first data key. [`StoreError::Exists`] if the name is taken;
    /// [`StoreError::Conflict`] if the data key is not wrapped by the newest root key version.
    async fn create_workspace(
        &self,
        workspace: &Workspace,
        data_key: &DataKeyRow,
    ) -> Result<(), StoreError>;

    /// All workspaces, by name.
    async fn workspaces(&self) -> Result<Vec<Workspace>, StoreError>;

    /// Data keys of one workspace (`None`: of every workspace), oldest first.
    async fn data_keys(&self, workspace_id: Option<&str>) -> Result<Vec<DataKeyRow>, StoreError>;

    /// Rotation, in one transaction: records a new root key version, replaces the listed data
    /// keys and the audit key with their rewrapped forms, and adds new data key versions.
    /// [`StoreError::Conflict`] when a data key or the audit key would stay wrapped by an older
    /// root key version.
    async fn rotate_keys(
        &self,
        root: &RootKeyRow,
        rewrapped: &[DataKeyRow],
        added: &[DataKeyRow],
        audit_key: &AuditKeyRow,
    ) -> Result<(), StoreError>;

    /// The secret with this key.
    async fn secret(&self, workspace_id: &str, key: &str) -> Result<Option<SecretRow>, StoreError>;

    /// One sealed value version: of the shared value when `env` is empty, else of that
    /// environment's own value.
    async fn value(
        &self,
        secret_id: &str,
        env: &str,
        version: u64,
    ) -> Result<Option<SealedValue>, StoreError>;

    /// What a read needs, which backends may fetch in one query: the secret with this key,
    /// its sealed shared value at `version` (the current one when `None`; `None` when that
    /// version does not exist) and, with `with_uses`, which registered apps name it. (An
    /// environment's own value is fetched after, with [`Store::value`].)
    async fn secret_with_value(
        &self,
        workspace_id: &str,
        key: &str,
        version: Option<u64>,
        with_uses: bool,
    ) -> Result<Option<SecretRead>, StoreError> {
        let Some(row) = self.secret(workspace_id, key).await? else {
            return Ok(None);
        };
        let value = self
            .value(&row.id, "", version.unwrap_or(row.version))
            .await?;
        let uses = if with_uses {
            self.uses(workspace_id, &[key.to_string()]).await?
        } else {
            Vec::new()
        };
        Ok(Some(SecretRead { row, value, uses }))
    }

    /// Every value version of a secret, shared and environments' own, by environment (the
    /// shared value first) then version, without ciphertexts.
    async fn versions(&self, secret_id: &str) -> Result<Vec<VersionRow>, StoreError>;

    /// Secrets matching `filter`, ordered by key. `now` decides what is expired.
    async fn list(
        &self,
        workspace_id: &str,
        filter: &ListFilter,
        now: i64,
    ) -> Result<Vec<SecretRow>, StoreError>;

    /// Applies one write atomically (see [`SecretWrite`]).
    async fn write_secret(&self, write: &SecretWrite) -> Result<(), StoreError>;

    /// Deletes a secret and all its versions if its revision is still `expected_revision`,
    /// appending `audit` in the same transaction. Unless `force` is set, refuses with
    /// [`StoreError::InUse`] (deleting nothing) while a registered app names its key — checked
    /// in the deleting transaction, so a registration racing the delete cannot slip between.
    async fn delete_secret(
        &self,
        secret_id: &str,
        expected_revision: u64,
        force: bool,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Appends rows to the audit chain, authenticated with the audit key, durably, in one
    /// transaction.
    async fn append_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError>;

    /// Appends rows to the audit chain and records apps' reads (`last_read_at`), durably, in
    /// one transaction. A mark for a key the app does not name is ignored.
    async fn record_reads(
        &self,
        entries: &[AuditEntry],
        reads: &[ReadMark],
    ) -> Result<(), StoreError>;

    /// Group commit: applies every unit of `batch` in one durable transaction, each isolated
    /// from the others — a unit that fails (a taken key, a lost compare-and-swap) is rolled
    /// back alone and its error is put in its slot, in order. `Err` when the transaction as a
    /// whole failed: then nothing was applied. A unit's audit rows are committed with it or
    /// not at all, exactly as with [`Store::write_secret`] and [`Store::record_reads`].
    ///
    /// The default applies the units one transaction each; backends override it to pay for
    /// one commit (one `fsync`) per batch.
    async fn commit_batch(
        &self,
        batch: &[Commit],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        let mut out = Vec::with_capacity(batch.len());
        for unit in batch {
            out.push(match unit {
                Commit::Write(w) => self.write_secret(w).await,
                Commit::Reads { entries, marks } => self.record_reads(entries, marks).await,
            });
        }
        Ok(out)
    }

    /// Registers an app or replaces its manifest, appending `audit` in the same transaction.
    /// Keys the new manifest still names keep their `last_read_at`. `true` when it is new.
    async fn put_app(&self, app: &AppRow, audit: &AuditEntry) -> Result<bool, StoreError>;

    /// The registered app with this name, with its keys.
    async fn app(&self, workspace_id: &str, name: &str) -> Result<Option<AppRow>, StoreError>;

    /// The registered apps of a workspace, by name, with their keys.
    async fn apps(&self, workspace_id: &str) -> Result<Vec<AppRow>, StoreError>;

    /// Unregisters an app, appending `audit` in the same transaction. `false` when there was
    /// none.
    async fn delete_app(
        &self,
        workspace_id: &str,
        name: &str,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;

    /// Which registered apps name each of `keys`, ordered by key then app.
    async fn uses(&self, workspace_id: &str, keys: &[String]) -> Result<Vec<UseRow>, StoreError>;

    /// Audit rows matching `filter`, in sequence order (all of them with the default filter).
    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRow>, StoreError>;

    /// Records a token, appending `audit` in the same transaction.
    async fn insert_token(&self, token: &TokenRow, audit: &AuditEntry) -> Result<(), StoreError>;

    /// The live token with this hash: none when it is unknown, revoked, or expired at `now`
    /// (unix seconds). The query itself leaves out revoked and expired tokens, so refusing one
    /// costs the same as refusing an unknown one: no row is read back or decoded for either.
    async fn token_by_hash(&self, hash: &str, now: i64) -> Result<Option<TokenRow>, StoreError>;

    /// The tokens of a workspace, oldest first.
    async fn tokens(&self, workspace_id: &str) -> Result<Vec<TokenRow>, StoreError>;

    /// Marks a token revoked at `at` (unix seconds), appending `audit` in the same
    /// transaction. `false` when no unrevoked token has this id in this workspace.
    async fn revoke_token(
        &self,
        workspace_id: &str,
        id: &str,
        at: i64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
}

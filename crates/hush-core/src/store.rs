//! The store trait: the one joint every backend plugs into.
//!
//! A store keeps only sealed data: wrapped keys, ciphertexts and metadata. It never sees a
//! plaintext value or key. Every write is a single transaction; conflicting writes are refused
//! by the database itself (unique keys, the `(secret, version)` primary key and a revision
//! compare-and-swap), so two writers — in one process or on two nodes — can never both win.

use async_trait::async_trait;

use crate::app::{AppRow, ReadMark, UseRow};
use crate::audit::{AuditEntry, AuditFilter, AuditRow, Checkpoint};
use crate::event::{EventKind, EventRow};
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

/// Every row of a store, table by table, exactly as stored: what [`Store::dump`] reads and
/// [`Store::load`] writes, to move a store from one backend to another (`hush migrate`).
///
/// Values stay sealed and keys wrapped: the rows are copied, never opened, so the copy opens
/// with the same root key. Audit rows keep their sequence numbers and MACs, so the chain
/// verifies on the copy as it did on the original. Each table's rows are ordered by its
/// primary key ([`Dump::sort`]), so two dumps of equal stores are equal.
///
/// The whole store is held in memory (roughly the size of its rows; the audit log is usually
/// the bulk of it).
///
/// Adding a column or a table to a store's schema means adding it here too: [`DUMPED`] lists
/// every column a dump copies, and a backend refuses to dump or load a schema holding one it
/// does not list, so nothing is ever left behind silently.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dump {
    /// `root_keys`.
    pub root_keys: Vec<RootKeyRow>,
    /// `audit_key` (at most one row).
    pub audit_key: Option<AuditKeyRow>,
    /// `workspaces`.
    pub workspaces: Vec<Workspace>,
    /// `data_keys`.
    pub data_keys: Vec<DataKeyRow>,
    /// `secrets`.
    pub secrets: Vec<SecretRow>,
    /// `secret_values`: every version of every shared and environment's own value.
    pub values: Vec<ValueDumpRow>,
    /// `tokens` (hashes only, as stored).
    pub tokens: Vec<TokenRow>,
    /// `apps`.
    pub apps: Vec<AppDumpRow>,
    /// `app_keys`, with each app's last read of each key.
    pub app_keys: Vec<AppKeyDumpRow>,
    /// `audit_log`, every column as stored (sequence numbers, links and MACs included).
    pub audit: Vec<AuditRow>,
    /// `audit_checkpoint` (at most one row): where the chain starts after a prune.
    pub audit_checkpoint: Option<crate::audit::Checkpoint>,
    /// `webhooks` (signing secrets sealed, as stored). Their deliveries are not copied.
    pub webhooks: Vec<crate::webhook::WebhookRow>,
}

/// One row of `secret_values`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueDumpRow {
    /// The secret.
    pub secret_id: String,
    /// The sealed value version (its `env` empty for the shared value).
    pub value: SealedValue,
}

/// One row of `apps`, its manifest as the JSON text stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppDumpRow {
    /// The workspace.
    pub workspace_id: String,
    /// The app's name.
    pub name: String,
    /// The manifest, JSON as stored.
    pub manifest: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// Who registered it last.
    pub registered_by: String,
}

/// One row of `app_keys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppKeyDumpRow {
    /// The workspace.
    pub workspace_id: String,
    /// The app.
    pub app: String,
    /// A key its manifest names.
    pub key: String,
    /// Unix seconds of the app's last read, if any.
    pub last_read_at: Option<i64>,
    /// The environment that read was made in, if it named one.
    pub last_read_env: Option<String>,
}

/// Every table a [`Dump`] copies, with every column of it, in the order the backends select
/// them. A backend's own bookkeeping tables (its schema version, PostgreSQL's `audit_head`,
/// which a load sets from the audit rows) are not listed.
pub const DUMPED: &[(&str, &[&str])] = &[
    (
        "root_keys",
        &[
            "version",
            "kind",
            "salt",
            "kdf_m_kib",
            "kdf_t",
            "kdf_p",
            "check_value",
            "created_at",
        ],
    ),
    (
        "audit_key",
        &["id", "root_version", "wrapped", "keyed_from", "created_at"],
    ),
    ("workspaces", &["id", "name", "created_at"]),
    (
        "data_keys",
        &[
            "workspace_id",
            "version",
            "root_version",
            "wrapped",
            "created_at",
        ],
    ),
    (
        "secrets",
        &[
            "id",
            "workspace_id",
            "key",
            "description",
            "token_type",
            "scope",
            "envs",
            "expires_at",
            "status",
            "version",
            "revision",
            "created_at",
            "updated_at",
            "created_by",
            "updated_by",
            "env_versions",
            "notify_before",
        ],
    ),
    (
        "secret_values",
        &[
            "secret_id",
            "env",
            "version",
            "key_version",
            "ciphertext",
            "created_at",
            "created_by",
        ],
    ),
    (
        "tokens",
        &[
            "id",
            "workspace_id",
            "name",
            "hash",
            "role",
            "app",
            "env",
            "expires_at",
            "created_at",
            "created_by",
            "revoked_at",
        ],
    ),
    (
        "apps",
        &[
            "workspace_id",
            "name",
            "manifest",
            "created_at",
            "updated_at",
            "registered_by",
        ],
    ),
    (
        "app_keys",
        &[
            "workspace_id",
            "app",
            "key",
            "last_read_at",
            "last_read_env",
        ],
    ),
    (
        "audit_log",
        &[
            "seq",
            "ts_ms",
            "actor_id",
            "actor_name",
            "action",
            "workspace",
            "key",
            "version",
            "outcome",
            "remote",
            "prev_mac",
            "mac",
            "env",
            "request_id",
            "detail",
            "items",
        ],
    ),
    (
        "audit_checkpoint",
        &["id", "seq", "mac", "tag", "pruned_at_ms"],
    ),
    (
        "webhooks",
        &[
            "id",
            "workspace_id",
            "url",
            "events",
            "sealed_secret",
            "after_seq",
            "created_at",
            "created_by",
        ],
    ),
];

/// For backends: refuses a schema holding a column or table [`DUMPED`] does not list (`found`:
/// every `(table, column)` of the store's schema; `own`: the backend's bookkeeping tables), so
/// that a dump never leaves data behind without saying so.
pub fn check_dumpable(found: &[(String, String)], own: &[&str]) -> Result<(), StoreError> {
    let unknown: Vec<String> = found
        .iter()
        .filter(|(table, column)| {
            !own.contains(&table.as_str())
                && !DUMPED
                    .iter()
                    .any(|(t, cols)| t == table && cols.contains(&column.as_str()))
        })
        .map(|(table, column)| format!("{table}.{column}"))
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Corrupt(format!(
            "the store has columns this hush does not know how to copy ({}); nothing was copied",
            unknown.join(", ")
        )))
    }
}

impl Dump {
    /// Orders every table's rows by its primary key.
    pub fn sort(&mut self) {
        self.root_keys.sort_by_key(|r| r.version);
        self.workspaces.sort_by(|a, b| a.id.cmp(&b.id));
        self.data_keys
            .sort_by(|a, b| (&a.workspace_id, a.version).cmp(&(&b.workspace_id, b.version)));
        self.secrets.sort_by(|a, b| a.id.cmp(&b.id));
        self.values.sort_by(|a, b| {
            (&a.secret_id, &a.value.env, a.value.version).cmp(&(
                &b.secret_id,
                &b.value.env,
                b.value.version,
            ))
        });
        self.tokens.sort_by(|a, b| a.id.cmp(&b.id));
        self.apps
            .sort_by(|a, b| (&a.workspace_id, &a.name).cmp(&(&b.workspace_id, &b.name)));
        self.app_keys.sort_by(|a, b| {
            (&a.workspace_id, &a.app, &a.key).cmp(&(&b.workspace_id, &b.app, &b.key))
        });
        self.audit.sort_by_key(|r| r.seq);
        self.webhooks.sort_by(|a, b| a.id.cmp(&b.id));
    }

    /// How many rows each table holds, by table, in [`DUMPED`]'s order.
    pub fn counts(&self) -> Vec<(&'static str, usize)> {
        vec![
            ("root_keys", self.root_keys.len()),
            ("audit_key", usize::from(self.audit_key.is_some())),
            ("workspaces", self.workspaces.len()),
            ("data_keys", self.data_keys.len()),
            ("secrets", self.secrets.len()),
            ("secret_values", self.values.len()),
            ("tokens", self.tokens.len()),
            ("apps", self.apps.len()),
            ("app_keys", self.app_keys.len()),
            ("audit_log", self.audit.len()),
            (
                "audit_checkpoint",
                usize::from(self.audit_checkpoint.is_some()),
            ),
            ("webhooks", self.webhooks.len()),
        ]
    }
}

/// For backends: refuses a load into a store that holds rows (`counts`: each table's rows).
pub fn check_empty(counts: &[(String, i64)]) -> Result<(), StoreError> {
    let held: Vec<String> = counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(table, n)| format!("{table}: {n}"))
        .collect();
    if held.is_empty() {
        Ok(())
    } else {
        Err(StoreError::NotEmpty(held.join(", ")))
    }
}

/// A secret whose expiry notice is due ([`Store::notices_due`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeDue {
    /// The secret's id.
    pub secret_id: String,
    /// Its workspace's name.
    pub workspace: String,
    /// Its key.
    pub key: String,
    /// Its current value version.
    pub version: u64,
    /// `expiring` or `expired`.
    pub kind: EventKind,
    /// The expiry the notice is about (unix seconds): a new expiry makes a new notice.
    pub expires_at: i64,
}

impl NoticeDue {
    /// The notice a backend's row `(secret_id, workspace, key, version, expires_at)` stands
    /// for at `now`: `expired` once `expires_at` has passed, else `expiring`.
    pub fn at(row: (String, String, String, i64, i64), now: i64) -> Self {
        let (secret_id, workspace, key, version, expires_at) = row;
        NoticeDue {
            secret_id,
            workspace,
            key,
            version: version as u64,
            kind: if expires_at <= now {
                EventKind::Expired
            } else {
                EventKind::Expiring
            },
            expires_at,
        }
    }
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

    /// Where the chain starts once older rows were pruned ([`Store::prune_audit`]); `None`
    /// while it starts at row 1.
    async fn audit_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError>;

    /// Audit retention, in one transaction: removes every row up to `checkpoint.seq`, records
    /// `checkpoint` as where the chain now starts, and appends `entry` (the prune's own row,
    /// authenticated with the audit key), so the chain never ends up empty. Only if the
    /// stored checkpoint is still at `expected` (`None`: there is none) and the row at
    /// `checkpoint.seq` still carries `checkpoint.mac`, else [`StoreError::Conflict`] and
    /// nothing changed. Returns how many rows were removed.
    async fn prune_audit(
        &self,
        expected: Option<i64>,
        checkpoint: &Checkpoint,
        entry: &AuditEntry,
    ) -> Result<u64, StoreError>;

    /// The audit rows after row `after_seq`, oldest first, at most `limit`: what the audit
    /// file (`hush server --audit-file`) has not written yet, read after every batch. Backends
    /// override it with a query on the primary key alone: [`Store::audit`]'s optional filters
    /// make a scan from the first row.
    async fn audit_after(&self, after_seq: i64, limit: usize) -> Result<Vec<AuditRow>, StoreError> {
        self.audit(&AuditFilter {
            after_seq: Some(after_seq),
            limit: Some(limit),
            ..AuditFilter::default()
        })
        .await
    }

    /// The change events after `after_seq`, oldest first, at most `limit` (see
    /// [`crate::event`]): a query on the events table's primary key alone.
    async fn events_after(&self, after_seq: i64, limit: usize)
        -> Result<Vec<EventRow>, StoreError>;

    /// The newest event's sequence number (0 when there is none): where a follower that
    /// wants only what happens from now on starts.
    async fn event_head(&self) -> Result<i64, StoreError>;

    /// Removes the events older than `before_ms` (unix milliseconds); returns how many.
    async fn prune_events(&self, before_ms: i64) -> Result<u64, StoreError>;

    /// A signal that fires soon after another process or node may have written events
    /// (PostgreSQL: a `LISTEN` on the channel every append `NOTIFY`s). `None` when the
    /// backend has none: followers then look at [`Store::event_head`] often (on SQLite, an
    /// index lookup).
    fn change_signal(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }

    /// The active secrets, in every workspace, with an expiry whose `kind` notice
    /// (`expiring`: within its warning window at `now`; `expired`: past at `now`) has not
    /// been recorded yet. At most `limit`.
    async fn notices_due(&self, now: i64, limit: usize) -> Result<Vec<NoticeDue>, StoreError>;

    /// Records each notice with its audit row (`secret.expiring` / `secret.expired`, which
    /// makes its event) in one transaction; a notice recorded already (by another node)
    /// appends nothing. Returns how many were new.
    async fn record_notices(&self, notices: &[(NoticeDue, AuditEntry)]) -> Result<u64, StoreError>;

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
    /// root key version. `audit` (the `keys.rotate` row) is appended in the same transaction.
    async fn rotate_keys(
        &self,
        root: &RootKeyRow,
        rewrapped: &[DataKeyRow],
        added: &[DataKeyRow],
        audit_key: &AuditKeyRow,
        audit: &AuditEntry,
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

    /// [`Store::secret_with_value`] of several keys at once, each at its current version and
    /// without its apps: one answer per key, in order (`None` for a key with no secret). What
    /// a resolve reads; backends read them in one snapshot where they can (one read
    /// transaction on SQLite, one statement on PostgreSQL) instead of one per key.
    async fn secrets_with_values(
        &self,
        workspace_id: &str,
        keys: &[String],
    ) -> Result<Vec<Option<SecretRead>>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(
                self.secret_with_value(workspace_id, key, None, false)
                    .await?,
            );
        }
        Ok(out)
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

    /// How many active secrets, in every workspace, expire after `now` and at or before
    /// `until` (the `hush_secrets_expiring` gauge). One counting query, no rows read out.
    async fn count_expiring(&self, now: i64, until: i64) -> Result<u64, StoreError>;

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

    /// Records a webhook, appending `audit` in the same transaction.
    async fn insert_webhook(
        &self,
        hook: &crate::webhook::WebhookRow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// The webhooks of a workspace (every workspace's with `None`), oldest first.
    async fn webhooks(
        &self,
        workspace_id: Option<&str>,
    ) -> Result<Vec<crate::webhook::WebhookRow>, StoreError>;

    /// Removes a webhook and its deliveries, appending `audit` in the same transaction.
    /// `false` when the workspace has no webhook with this id.
    async fn delete_webhook(
        &self,
        workspace_id: &str,
        id: &str,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;

    /// Queues deliveries; one whose `(webhook_id, event_seq)` is queued already (by this node
    /// or another) is left as it is. Returns how many were new.
    async fn enqueue_deliveries(
        &self,
        deliveries: &[crate::webhook::DeliveryRow],
    ) -> Result<u64, StoreError>;

    /// Claims at most `limit` pending deliveries due at `now_ms` and not leased by anyone
    /// (or whose lease lapsed), leasing them to `lease` until `lease_until_ms`, atomically: of
    /// several nodes claiming at once, each delivery goes to one.
    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease: &str,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<crate::webhook::DeliveryRow>, StoreError>;

    /// Records the outcome of an attempt (and one more attempt) and lifts the lease, if the
    /// delivery is still leased to `outcome.lease`; `false` otherwise.
    async fn finish_delivery(
        &self,
        outcome: &crate::webhook::DeliveryOutcome,
    ) -> Result<bool, StoreError>;

    /// The deliveries of a workspace's webhooks (of one, with `webhook_id`), newest first, at
    /// most `limit`.
    async fn deliveries(
        &self,
        workspace_id: &str,
        webhook_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<crate::webhook::DeliveryRow>, StoreError>;

    /// Removes the delivered and failed deliveries queued before `before_ms`; returns how many.
    async fn prune_deliveries(&self, before_ms: i64) -> Result<u64, StoreError>;

    /// Every row of every table ([`Dump`]), read in one consistent snapshot (a server may
    /// keep writing meanwhile) and written nowhere: the store is only read.
    async fn dump(&self) -> Result<Dump, StoreError>;

    /// Writes every row of `dump` as it is, in one transaction, into a store that holds no
    /// row (a fresh one, its schema made): [`StoreError::NotEmpty`] otherwise, and nothing is
    /// written. The audit chain continues from the dump's newest row.
    async fn load(&self, dump: &Dump) -> Result<(), StoreError>;
}

//! The embedded SQLite backend: one file in WAL mode, `synchronous=FULL`, migrations embedded
//! and run at open.
//!
//! It owns the SQLite file, its schema and its migrations. It must never see a plaintext value
//! or key (only sealed bytes), decide who may do what (hush-core does), or acknowledge a write
//! before it is on disk.
//!
//! One connection writes (behind a mutex, every write in a `BEGIN IMMEDIATE` transaction);
//! readers take connections from a small pool, so reads proceed while a write commits. The
//! calls are short point queries run in place rather than through a thread hop: on this path
//! a hop per request costs more than the query (see DESIGN.md section 9b).
//!
//! Several processes may open the same file (a CLI beside a server): SQLite's locks and a busy
//! timeout serialise their writes, and revision checks inside the write transaction make sure a
//! stale writer loses cleanly.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use hush_core::app::{AppKeyRow, AppRow, ReadMark, UseRow};
use hush_core::audit::{self, AuditEntry, AuditFilter, AuditKey, AuditRow, Checkpoint};
use hush_core::event::{EventKind, EventRow};
use hush_core::model::{
    ListFilter, Metadata, SealedValue, SecretRow, StoredStatus, TokenType, VersionRow, Workspace,
    DEFAULT_NOTIFY_BEFORE, MAX_NOTIFY_BEFORE,
};
use hush_core::store::{
    uses_from_json, AuditKeyRow, Commit, DataKeyRow, Dump, NoticeDue, RootKeyKind, RootKeyRow,
    SecretRead, SecretWrite, Store, StoreError,
};
use hush_core::token::{Role, TokenRow};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

mod dump;
mod webhooks;

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_initial.sql"),
    include_str!("../migrations/0002_tokens_audit.sql"),
    include_str!("../migrations/0003_apps.sql"),
    include_str!("../migrations/0004_app_keys_index.sql"),
    include_str!("../migrations/0005_audit_no_hash_index.sql"),
    include_str!("../migrations/0006_audit_key.sql"),
    include_str!("../migrations/0007_env_values.sql"),
    include_str!("../migrations/0008_audit_retention.sql"),
    include_str!("../migrations/0009_app_read_env.sql"),
    include_str!("../migrations/0010_notify_before.sql"),
    include_str!("../migrations/0011_events.sql"),
    include_str!("../migrations/0012_webhooks.sql"),
    include_str!("../migrations/0013_audit_items.sql"),
    include_str!("../migrations/0014_audit_unindexed.sql"),
    include_str!("../migrations/0015_live_tokens.sql"),
];

const READ_POOL_MAX: usize = 8;

/// The SQLite store.
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// Set once a reader connection has been opened (reads overlapped a write).
    readers_made: AtomicBool,
    /// The key appended audit rows are authenticated with ([`Store::set_audit_key`]).
    audit_key: RwLock<Option<AuditKey>>,
}

fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation
                && (f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
    )
}

/// `on_unique` for a unique-key violation, else unavailable.
fn conflict_on_unique(e: rusqlite::Error, on_unique: StoreError) -> StoreError {
    if is_unique_violation(&e) {
        on_unique
    } else {
        unavailable(e)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a backup or restore copied: the newest audit row, to record and compare with
/// `hush audit verify --head` later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// The newest audit row's sequence number (0: none).
    pub head_seq: i64,
    /// Its MAC.
    pub head_mac: String,
    /// How many secrets the copy holds.
    pub secrets: i64,
}

fn copy_with_backup_api(from: &Connection, to: &mut Connection) -> Result<(), StoreError> {
    let b = rusqlite::backup::Backup::new(from, to).map_err(unavailable)?;
    // Small steps with pauses, so a running server's writes are not held up for long.
    b.run_to_completion(256, std::time::Duration::from_millis(2), None)
        .map_err(unavailable)
}

fn copied(conn: &Connection) -> Result<Copied, StoreError> {
    let (head_seq, head_mac) = conn
        .query_row(
            "SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(unavailable)?
        .unwrap_or((0, audit::GENESIS.to_string()));
    let secrets = conn
        .query_row("SELECT count(*) FROM secrets", [], |r| r.get(0))
        .map_err(unavailable)?;
    Ok(Copied {
        head_seq,
        head_mac,
        secrets,
    })
}

/// Whether `path` is a hush store this version can open: an SQLite database whose schema
/// version is known and which holds a root key.
fn check_is_store(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let not_store =
        |why: String| StoreError::Corrupt(format!("{} is not a hush store: {why}", path.display()));
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| not_store(e.to_string()))?;
    if version < 1 || version > MIGRATIONS.len() as i64 {
        return Err(not_store(format!("schema version {version}")));
    }
    let roots: i64 = conn
        .query_row("SELECT count(*) FROM root_keys", [], |r| r.get(0))
        .map_err(|e| not_store(e.to_string()))?;
    if roots == 0 {
        return Err(not_store("it holds no root key".into()));
    }
    Ok(())
}

/// A consistent copy of the store at `store` into the new file `dest` (mode 0600), made with
/// SQLite's online backup API: every committed write is in it, also those still in the WAL,
/// while a server keeps writing. `dest` must not exist. The root key is not in the store:
/// back the key file (or passphrase) up separately.
pub fn backup(store: &Path, dest: &Path) -> Result<Copied, StoreError> {
    let from = Connection::open_with_flags(store, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(unavailable)?;
    from.busy_timeout(busy_timeout()).map_err(unavailable)?;
    check_is_store(&from, store)?;
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        opts.open(dest).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => StoreError::Exists,
            _ => StoreError::Unavailable(format!("cannot create {}: {e}", dest.display())),
        })?;
    }
    let mut to = Connection::open(dest).map_err(unavailable)?;
    copy_with_backup_api(&from, &mut to)?;
    copied(&to)
}

/// Replaces the store at `store` with the copy `file` (made by [`backup`]), through the
/// backup API, so a server that has the store open sees the restored content. `file` must be
/// a hush store; the caller decides whether an existing store may be overwritten.
pub fn restore(file: &Path, store: &Path) -> Result<Copied, StoreError> {
    let from =
        Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(unavailable)?;
    check_is_store(&from, file)?;
    #[cfg(unix)]
    if !store.exists() {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(store)
            .map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", store.display()))
            })?;
    }
    let mut to = SqliteStore::connect(store)?;
    copy_with_backup_api(&from, &mut to)?;
    migrate(&to)?;
    copied(&to)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and runs pending migrations. A new
    /// file is created with mode 0600; SQLite gives its WAL and shared-memory files the same.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        #[cfg(unix)]
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .or_else(|e| {
                    if e.kind() == std::io::ErrorKind::AlreadyExists {
                        Ok(std::fs::File::open(path)?)
                    } else {
                        Err(e)
                    }
                })
                .map_err(|e| {
                    StoreError::Unavailable(format!("cannot create {}: {e}", path.display()))
                })?;
        }
        let writer = Self::connect(path)?;
        migrate(&writer)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            readers_made: AtomicBool::new(false),
            audit_key: RwLock::new(None),
        })
    }

    fn connect(path: &Path) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(unavailable)?;
        conn.busy_timeout(busy_timeout()).map_err(unavailable)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(unavailable)?;
        // FULL: a commit is on disk before it is acknowledged, also across power loss.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(unavailable)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(unavailable)?;
        // Deleted values are overwritten, not left in free pages.
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(unavailable)?;
        Ok(conn)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let pooled = lock(&self.readers).pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                // Until reads first overlap a write, the idle writer serves them: a one-shot
                // CLI command then opens one connection (one schema parse, one close), not two.
                // Outside a transaction it reads the latest commit like any reader. From the
                // first overlap on (a server), reads keep to readers, so a long read never
                // holds up the commits every request waits for.
                if !self.readers_made.load(Ordering::Relaxed) {
                    if let Ok(writer) = self.writer.try_lock() {
                        return f(&writer).map_err(unavailable);
                    }
                }
                self.readers_made.store(true, Ordering::Relaxed);
                Self::connect(&self.path)?
            }
        };
        let out = f(&conn).map_err(unavailable);
        let mut pool = lock(&self.readers);
        if pool.len() < READ_POOL_MAX {
            pool.push(conn);
        }
        out
    }

    fn load_apps(&self, workspace_id: &str, name: Option<&str>) -> Result<Vec<AppRow>, StoreError> {
        let rows = self.read(|c| {
            // One app or all: separate statements, so one app is a primary-key lookup.
            let mut st = c.prepare_cached(if name.is_some() {
                "SELECT name, manifest, created_at, updated_at, registered_by FROM apps
                 WHERE workspace_id = ?1 AND name = ?2"
            } else {
                "SELECT name, manifest, created_at, updated_at, registered_by FROM apps
                 WHERE workspace_id = ?1 AND ?2 IS NULL ORDER BY name"
            })?;
            let apps = st
                .query_map(params![workspace_id, name], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut st = c.prepare_cached(if name.is_some() {
                "SELECT app, key, last_read_at, last_read_env FROM app_keys
                 WHERE workspace_id = ?1 AND app = ?2 ORDER BY key"
            } else {
                "SELECT app, key, last_read_at, last_read_env FROM app_keys
                 WHERE workspace_id = ?1 AND ?2 IS NULL ORDER BY app, key"
            })?;
            let keys = st
                .query_map(params![workspace_id, name], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        AppKeyRow {
                            key: r.get(1)?,
                            last_read_at: r.get(2)?,
                            env: r.get(3)?,
                        },
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((apps, keys))
        })?;
        let (apps, keys) = rows;
        hush_core::app::assemble(workspace_id, apps, &keys)
    }

    /// Appends entries to the chain inside the caller's transaction, authenticated with the
    /// audit key the store was given.
    fn append_chain(
        &self,
        tx: &rusqlite::Transaction<'_>,
        entries: &[AuditEntry],
    ) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        self.append_chain_of(tx, &entries.iter().collect::<Vec<_>>())
    }

    /// [`Self::append_chain`] of entries where they are (a batch's, gathered from its units).
    fn append_chain_of(
        &self,
        tx: &rusqlite::Transaction<'_>,
        entries: &[&AuditEntry],
    ) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let key = self
            .audit_key
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or(StoreError::NoAuditKey)?;
        append_chain(tx, &key, entries)
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = lock(&self.writer);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(unavailable)?;
        let out = f(&tx)?;
        tx.commit().map_err(unavailable)?;
        Ok(out)
    }
}

/// How long a write waits for another process's lock before the store reports itself
/// unavailable (the API then answers 503). `HUSH_SQLITE_BUSY_TIMEOUT_MS`, default 10 s.
fn busy_timeout() -> Duration {
    std::env::var("HUSH_SQLITE_BUSY_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(10))
}

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let applied: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(unavailable)?;
    let applied = usize::try_from(applied).unwrap_or(0);
    if applied > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(format!(
            "the database has schema version {applied}, newer than this hush knows ({}): upgrade hush",
            MIGRATIONS.len()
        )));
    }
    if applied == MIGRATIONS.len() {
        return Ok(());
    }
    conn.execute_batch("BEGIN IMMEDIATE").map_err(unavailable)?;
    let run = || -> rusqlite::Result<()> {
        // Re-read under the write lock: another process may have migrated meanwhile.
        let applied: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        for (i, m) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(applied).unwrap_or(0))
        {
            conn.execute_batch(m)?;
            conn.pragma_update(
                None,
                "user_version",
                i64::try_from(i + 1).unwrap_or(i64::MAX),
            )?;
        }
        Ok(())
    };
    match run() {
        Ok(()) => conn.execute_batch("COMMIT").map_err(unavailable),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(unavailable(e))
        }
    }
}

const SECRET_COLUMNS: &str = "id, workspace_id, key, description, token_type, scope, envs, expires_at, status, version, revision, created_at, updated_at, created_by, updated_by, env_versions, notify_before";

fn json_list(text: String) -> rusqlite::Result<Vec<String>> {
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn corrupt(what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("unknown {what}").into(),
    )
}

fn secret_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SecretRow> {
    let token_type: Option<String> = r.get(4)?;
    let status: String = r.get(8)?;
    Ok(SecretRow {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        key: r.get(2)?,
        meta: Metadata {
            description: r.get(3)?,
            token_type: token_type
                .map(|t| TokenType::parse(&t).map_err(|_| corrupt("token type")))
                .transpose()?,
            scope: json_list(r.get(5)?)?,
            envs: json_list(r.get(6)?)?,
            expires_at: r.get(7)?,
            notify_before: r.get(16)?,
        },
        status: StoredStatus::parse(&status).ok_or_else(|| corrupt("status"))?,
        version: r.get::<_, i64>(9)? as u64,
        revision: r.get::<_, i64>(10)? as u64,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
        created_by: r.get(13)?,
        updated_by: r.get(14)?,
        env_versions: env_versions(&r.get::<_, String>(15)?)?,
    })
}

/// The `env_versions` column: a JSON object of environment → current version.
fn env_versions(text: &str) -> rusqlite::Result<std::collections::BTreeMap<String, u64>> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(15, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn env_versions_json(map: &std::collections::BTreeMap<String, u64>) -> String {
    serde_json::to_string(map).unwrap_or_else(|_| "{}".into())
}

fn to_json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

fn insert_value(
    tx: &rusqlite::Transaction<'_>,
    secret_id: &str,
    v: &SealedValue,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO secret_values (secret_id, env, version, key_version, ciphertext, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![secret_id, v.env, v.version as i64, v.key_version, v.ciphertext, v.created_at, v.created_by],
    )
    .map_err(|e| conflict_on_unique(e, StoreError::Conflict))?;
    Ok(())
}

fn insert_data_key(tx: &rusqlite::Transaction<'_>, dk: &DataKeyRow) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO data_keys (workspace_id, version, root_version, wrapped, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![dk.workspace_id, dk.version, dk.root_version, dk.wrapped, dk.created_at],
    )
    .map_err(|e| conflict_on_unique(e, StoreError::Conflict))?;
    Ok(())
}

fn insert_root(tx: &rusqlite::Transaction<'_>, root: &RootKeyRow) -> Result<(), StoreError> {
    let (m, t, p) = match root.kdf {
        Some((m, t, p)) => (Some(m), Some(t), Some(p)),
        None => (None, None, None),
    };
    tx.execute(
        "INSERT INTO root_keys (version, kind, salt, kdf_m_kib, kdf_t, kdf_p, check_value, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![root.version, root.kind.as_str(), root.salt, m, t, p, root.check, root.created_at],
    )
    .map_err(|e| conflict_on_unique(e, StoreError::Conflict))?;
    Ok(())
}

fn insert_workspace(tx: &rusqlite::Transaction<'_>, ws: &Workspace) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO workspaces (id, name, created_at) VALUES (?1, ?2, ?3)",
        params![ws.id, ws.name, ws.created_at],
    )
    .map_err(|e| conflict_on_unique(e, StoreError::Exists))?;
    Ok(())
}

/// The newest audit row, read inside `c` (a transaction or a reader).
fn newest_audit_row(c: &Connection) -> rusqlite::Result<Option<AuditRow>> {
    c.prepare_cached(&format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1"
    ))?
    .query_row([], audit_from_row)
    .optional()
}

/// Appends entries to the chain inside the caller's transaction, each authenticated with
/// `key`. The write lock taken by `BEGIN IMMEDIATE` makes reading the head and appending one
/// step; `seq` being the primary key refuses a fork even if two writers ever got past it.
fn append_chain(
    tx: &rusqlite::Transaction<'_>,
    key: &AuditKey,
    entries: &[&AuditEntry],
) -> Result<(), StoreError> {
    // Only the head's number and MAC: a resolve's row carries fifty items not worth parsing.
    let head = tx
        .prepare_cached("SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1")
        .and_then(|mut st| st.query_row([], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .map_err(unavailable)?;
    let (last_seq, last_mac) = match head {
        Some(head) => head,
        // No row: the chain is new, or every row was just pruned and it goes on from the
        // checkpoint.
        None => tx
            .query_row(
                "SELECT seq, mac FROM audit_checkpoint WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(unavailable)?
            .unwrap_or((0, audit::GENESIS.to_string())),
    };
    let mut st = tx
        .prepare_cached(&format!(
            "INSERT INTO audit_log ({AUDIT_COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
        ))
        .map_err(unavailable)?;
    let links = audit::links(key, last_seq, &last_mac, entries.iter().copied());
    for (link, e) in links.iter().zip(entries) {
        st.execute(params![
            link.seq,
            e.ts_ms,
            e.actor_id,
            e.actor_name,
            e.action,
            e.workspace,
            e.key,
            e.version.map(|v| v as i64),
            e.outcome,
            e.remote,
            link.prev_mac,
            link.mac,
            e.env,
            e.request_id,
            e.detail,
            link.items_json.as_deref().map(|j| j.get())
        ])
        .map_err(|e| conflict_on_unique(e, StoreError::Conflict))?;
        if let Some(ev) = EventRow::from_entry(link.seq, e) {
            insert_event(tx, &ev)?;
        }
    }
    Ok(())
}

/// Records the event an audit row makes, in the row's transaction.
fn insert_event(tx: &rusqlite::Transaction<'_>, ev: &EventRow) -> Result<(), StoreError> {
    tx.prepare_cached(
        // A seq seen before belongs to audit rows cut off the end (tampering the chain's
        // verification reports): the new row's event takes its place.
        "INSERT OR REPLACE INTO events (seq, ts_ms, kind, workspace, key, version, env, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut st| {
        st.execute(params![
            ev.seq,
            ev.ts_ms,
            ev.kind.as_str(),
            ev.workspace,
            ev.key,
            ev.version.map(|v| v as i64),
            ev.env,
            ev.detail
        ])
    })
    .map_err(unavailable)?;
    Ok(())
}

fn event_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EventRow> {
    let kind: String = r.get(2)?;
    Ok(EventRow {
        seq: r.get(0)?,
        ts_ms: r.get(1)?,
        kind: EventKind::parse(&kind).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                2,
                rusqlite::types::Type::Text,
                format!("unknown event kind {kind:?}").into(),
            )
        })?,
        workspace: r.get(3)?,
        key: r.get(4)?,
        version: r.get::<_, Option<i64>>(5)?.map(|v| v as u64),
        env: r.get(6)?,
        detail: r.get(7)?,
    })
}

const AUDIT_COLUMNS: &str =
    "seq, ts_ms, actor_id, actor_name, action, workspace, key, version, outcome, remote, prev_mac, mac, env, request_id, detail, items";

/// The audit checkpoint, if the chain was pruned (also read by the dump).
fn read_checkpoint(c: &Connection) -> rusqlite::Result<Option<Checkpoint>> {
    c.query_row(
        "SELECT seq, mac, tag, pruned_at_ms FROM audit_checkpoint WHERE id = 1",
        [],
        |r| {
            Ok(Checkpoint {
                seq: r.get(0)?,
                mac: r.get(1)?,
                tag: r.get(2)?,
                pruned_at_ms: r.get(3)?,
            })
        },
    )
    .optional()
}

fn audit_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        seq: r.get(0)?,
        entry: AuditEntry {
            ts_ms: r.get(1)?,
            actor_id: r.get(2)?,
            actor_name: r.get(3)?,
            action: r.get(4)?,
            workspace: r.get(5)?,
            key: r.get(6)?,
            version: r.get::<_, Option<i64>>(7)?.map(|v| v as u64),
            outcome: r.get(8)?,
            env: r.get(12)?,
            remote: r.get(9)?,
            request_id: r.get(13)?,
            detail: r.get(14)?,
            // An unreadable list (edited) reads as none: the row's MAC no longer matches,
            // which `hush audit verify` reports.
            items: AuditEntry::items_from_json(r.get::<_, Option<String>>(15)?.as_deref())
                .unwrap_or_default(),
        },
        prev_mac: r.get(10)?,
        mac: r.get(11)?,
    })
}

fn insert_audit_key(tx: &rusqlite::Transaction<'_>, k: &AuditKeyRow) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO audit_key (id, root_version, wrapped, keyed_from, created_at) VALUES (1, ?1, ?2, ?3, ?4)",
        params![k.root_version, k.wrapped, k.keyed_from, k.created_at],
    )
    .map_err(|e| conflict_on_unique(e, StoreError::Exists))?;
    Ok(())
}

/// Applies a secret write (without its audit row) inside the caller's transaction.
fn apply_write(tx: &rusqlite::Transaction<'_>, w: &SecretWrite) -> Result<(), StoreError> {
    let r = &w.row;
    let token_type = r.meta.token_type.map(|t| t.as_str());
    match w.expected_revision {
        None => {
            tx.execute(
                &INSERT_SECRET,
                params![
                    r.id,
                    r.workspace_id,
                    r.key,
                    r.meta.description,
                    token_type,
                    to_json(&r.meta.scope),
                    to_json(&r.meta.envs),
                    r.meta.expires_at,
                    r.status.as_str(),
                    r.version as i64,
                    r.revision as i64,
                    r.created_at,
                    r.updated_at,
                    r.created_by,
                    r.updated_by,
                    env_versions_json(&r.env_versions),
                    r.meta.notify_before
                ],
            )
            .map_err(|e| conflict_on_unique(e, StoreError::Exists))?;
        }
        Some(expected) => {
            let n = tx
                .execute(
                    "UPDATE secrets SET description = ?3, token_type = ?4, scope = ?5, envs = ?6, expires_at = ?7,
                        status = ?8, version = ?9, revision = ?10, updated_at = ?11, updated_by = ?12,
                        env_versions = ?13, notify_before = ?14
                     WHERE id = ?1 AND revision = ?2",
                    params![
                        r.id, expected as i64, r.meta.description, token_type, to_json(&r.meta.scope),
                        to_json(&r.meta.envs), r.meta.expires_at, r.status.as_str(), r.version as i64,
                        r.revision as i64, r.updated_at, r.updated_by, env_versions_json(&r.env_versions),
                        r.meta.notify_before
                    ],
                )
                .map_err(unavailable)?;
            if n != 1 {
                return Err(StoreError::Conflict);
            }
        }
    }
    if let Some(env) = &w.drop_env {
        tx.execute(
            "DELETE FROM secret_values WHERE secret_id = ?1 AND env = ?2",
            params![r.id, env],
        )
        .map_err(unavailable)?;
    }
    if let Some(v) = &w.value {
        insert_value(tx, &r.id, v)?;
    }
    Ok(())
}

/// Records apps' reads inside the caller's transaction.
fn apply_marks(tx: &rusqlite::Transaction<'_>, reads: &[ReadMark]) -> Result<(), StoreError> {
    let mut st = tx
        .prepare_cached(
            "UPDATE app_keys SET last_read_at = ?4, last_read_env = ?5
             WHERE workspace_id = ?1 AND app = ?2 AND key = ?3",
        )
        .map_err(unavailable)?;
    for m in reads {
        st.execute(params![m.workspace_id, m.app, m.key, m.at, m.env])
            .map_err(unavailable)?;
    }
    Ok(())
}

/// Runs `f` inside a savepoint of `tx`: its changes are kept when it succeeds and undone
/// alone when it fails.
fn in_savepoint(
    tx: &rusqlite::Transaction<'_>,
    f: impl FnOnce() -> Result<(), StoreError>,
) -> Result<Result<(), StoreError>, StoreError> {
    let run = |sql: &str| tx.prepare_cached(sql).and_then(|mut st| st.execute([]));
    run("SAVEPOINT unit").map_err(unavailable)?;
    let out = f();
    if out.is_err() {
        run("ROLLBACK TO unit").map_err(unavailable)?;
    }
    run("RELEASE unit").map_err(unavailable)?;
    Ok(out)
}

// The statements on the hot paths, spelled once (not formatted on every call).
static SECRET_BY_KEY: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {SECRET_COLUMNS} FROM secrets WHERE workspace_id = ?1 AND key = ?2")
});
static SECRET_WITH_VALUE: LazyLock<String> = LazyLock::new(|| {
    let columns = SECRET_COLUMNS
        .split(", ")
        .map(|c| format!("s.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT {columns}, v.version, v.key_version, v.ciphertext, v.created_at, v.created_by,
           CASE WHEN ?4 THEN (SELECT json_group_array(json_array(app, last_read_at, last_read_env))
                              FROM app_keys a INDEXED BY app_keys_by_key
                              WHERE a.workspace_id = s.workspace_id AND a.key = s.key) END
         FROM secrets s LEFT JOIN secret_values v
           ON v.secret_id = s.id AND v.env = '' AND v.version = COALESCE(?3, s.version)
         WHERE s.workspace_id = ?1 AND s.key = ?2"
    )
});
/// A row of [`SECRET_WITH_VALUE`]: the secret, its value version if any, the apps' JSON.
type SecretReadRow = (SecretRow, Option<SealedValue>, Option<String>);

fn secret_read_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SecretReadRow> {
    let row = secret_from_row(r)?;
    let value = match r.get::<_, Option<i64>>(17)? {
        None => None,
        Some(v) => Some(SealedValue {
            env: String::new(),
            version: v as u64,
            key_version: r.get(18)?,
            ciphertext: r.get(19)?,
            created_at: r.get(20)?,
            created_by: r.get(21)?,
        }),
    };
    Ok((row, value, r.get::<_, Option<String>>(22)?))
}

fn secret_read((row, value, uses): SecretReadRow) -> Result<SecretRead, StoreError> {
    // Index order already; an ORDER BY inside the aggregate would cost a sorter per read.
    let uses = uses_from_json(&row.key, uses.as_deref())?;
    Ok(SecretRead { row, value, uses })
}

static TOKEN_BY_HASH: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {TOKEN_COLUMNS} FROM tokens INDEXED BY tokens_live \
             WHERE hash = ?1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?2)"
    )
});
static INSERT_SECRET: LazyLock<String> = LazyLock::new(|| {
    format!("INSERT INTO secrets ({SECRET_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)")
});

const TOKEN_COLUMNS: &str =
    "id, workspace_id, name, hash, role, app, env, expires_at, created_at, created_by, revoked_at";

fn token_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRow> {
    let role: String = r.get(4)?;
    Ok(TokenRow {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        name: r.get(2)?,
        hash: r.get(3)?,
        role: Role::parse(&role).map_err(|_| corrupt("role"))?,
        app: r.get(5)?,
        env: r.get(6)?,
        expires_at: r.get(7)?,
        created_at: r.get(8)?,
        created_by: r.get(9)?,
        revoked_at: r.get(10)?,
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn root_keys(&self) -> Result<Vec<RootKeyRow>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT version, kind, salt, kdf_m_kib, kdf_t, kdf_p, check_value, created_at FROM root_keys ORDER BY version",
            )?;
            let rows = st.query_map([], |r| {
                let kind: String = r.get(1)?;
                let m: Option<u32> = r.get(3)?;
                let t: Option<u32> = r.get(4)?;
                let p: Option<u32> = r.get(5)?;
                Ok(RootKeyRow {
                    version: r.get(0)?,
                    kind: RootKeyKind::parse(&kind).ok_or_else(|| corrupt("root key kind"))?,
                    salt: r.get(2)?,
                    kdf: match (m, t, p) {
                        (Some(m), Some(t), Some(p)) => Some((m, t, p)),
                        _ => None,
                    },
                    check: r.get(6)?,
                    created_at: r.get(7)?,
                })
            })?;
            rows.collect()
        })
    }

    async fn initialize(
        &self,
        root: &RootKeyRow,
        workspace: &Workspace,
        data_key: &DataKeyRow,
        audit_key: &AuditKeyRow,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            let n: i64 = tx
                .query_row("SELECT count(*) FROM root_keys", [], |r| r.get(0))
                .map_err(unavailable)?;
            if n > 0 {
                return Err(StoreError::AlreadyInitialized);
            }
            insert_root(tx, root)?;
            insert_workspace(tx, workspace)?;
            insert_data_key(tx, data_key)?;
            insert_audit_key(tx, audit_key).map_err(|e| match e {
                StoreError::Exists => StoreError::AlreadyInitialized,
                other => other,
            })
        })
    }

    fn set_audit_key(&self, key: AuditKey) {
        *self.audit_key.write().unwrap_or_else(|e| e.into_inner()) = Some(key);
    }

    async fn audit_key(&self) -> Result<Option<AuditKeyRow>, StoreError> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT root_version, wrapped, keyed_from, created_at FROM audit_key WHERE id = 1",
            )?
            .query_row([], |r| {
                Ok(AuditKeyRow {
                    root_version: r.get(0)?,
                    wrapped: r.get(1)?,
                    keyed_from: r.get(2)?,
                    created_at: r.get(3)?,
                })
            })
            .optional()
        })
    }

    async fn create_audit_key(
        &self,
        row: &AuditKeyRow,
        key: &AuditKey,
        entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            let has: bool = tx
                .query_row("SELECT count(*) FROM audit_key", [], |r| r.get::<_, i64>(0))
                .map_err(unavailable)?
                > 0;
            if has {
                return Err(StoreError::Exists);
            }
            let newest_root: u32 = tx
                .query_row("SELECT max(version) FROM root_keys", [], |r| r.get(0))
                .map_err(unavailable)?;
            let last = newest_audit_row(tx)
                .map_err(unavailable)?
                .map_or(0, |r| r.seq);
            if row.root_version != newest_root || last + 1 != row.keyed_from {
                return Err(StoreError::Conflict);
            }
            insert_audit_key(tx, row)?;
            append_chain(tx, key, &[entry])
        })
    }

    async fn audit_head(&self) -> Result<Option<AuditRow>, StoreError> {
        self.read(newest_audit_row)
    }

    async fn audit_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        self.read(read_checkpoint)
    }

    async fn prune_audit(
        &self,
        expected: Option<i64>,
        checkpoint: &Checkpoint,
        entry: &AuditEntry,
    ) -> Result<u64, StoreError> {
        self.write(|tx| {
            let current: Option<i64> = tx
                .query_row("SELECT seq FROM audit_checkpoint WHERE id = 1", [], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(unavailable)?;
            let mac: Option<String> = tx
                .query_row(
                    "SELECT mac FROM audit_log WHERE seq = ?1",
                    [checkpoint.seq],
                    |r| r.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            if current != expected || mac.as_deref() != Some(checkpoint.mac.as_str()) {
                return Err(StoreError::Conflict);
            }
            let removed = tx
                .execute("DELETE FROM audit_log WHERE seq <= ?1", [checkpoint.seq])
                .map_err(unavailable)?;
            tx.execute(
                "INSERT INTO audit_checkpoint (id, seq, mac, tag, pruned_at_ms) VALUES (1, ?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, mac = excluded.mac, tag = excluded.tag, pruned_at_ms = excluded.pruned_at_ms",
                params![checkpoint.seq, checkpoint.mac, checkpoint.tag, checkpoint.pruned_at_ms],
            )
            .map_err(unavailable)?;
            self.append_chain(tx, std::slice::from_ref(entry))?;
            Ok(removed as u64)
        })
    }

    async fn audit_after(&self, after_seq: i64, limit: usize) -> Result<Vec<AuditRow>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2"
            ))?;
            let rows = st.query_map(params![after_seq, limit], audit_from_row)?;
            rows.collect()
        })
    }

    async fn events_after(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<EventRow>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT seq, ts_ms, kind, workspace, key, version, env, detail FROM events
                 WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = st.query_map(params![after_seq, limit], event_from_row)?;
            rows.collect()
        })
    }

    async fn event_head(&self) -> Result<i64, StoreError> {
        self.read(|c| {
            c.prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events")?
                .query_row([], |r| r.get(0))
        })
    }

    async fn prune_events(&self, before_ms: i64) -> Result<u64, StoreError> {
        self.write(|tx| {
            let n = tx
                .execute("DELETE FROM events WHERE ts_ms < ?1", [before_ms])
                .map_err(unavailable)?;
            Ok(n as u64)
        })
    }

    async fn notices_due(&self, now: i64, limit: usize) -> Result<Vec<NoticeDue>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<(String, String, String, i64, i64)> = self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT s.id, w.name, s.key, s.version, s.expires_at
                 FROM secrets s JOIN workspaces w ON w.id = s.workspace_id
                 WHERE s.expires_at IS NOT NULL AND s.expires_at <= ?1 + ?2
                   AND s.status = 'active'
                   AND s.expires_at <= ?1 + COALESCE(s.notify_before, ?3)
                   AND NOT EXISTS (
                       SELECT 1 FROM expiry_notices n
                       WHERE n.secret_id = s.id AND n.expires_at = s.expires_at
                         AND n.kind = CASE WHEN s.expires_at <= ?1 THEN 'expired' ELSE 'expiring' END)
                 ORDER BY s.expires_at LIMIT ?4",
            )?;
            let rows = st.query_map(
                params![now, MAX_NOTIFY_BEFORE, DEFAULT_NOTIFY_BEFORE, limit],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )?;
            rows.collect()
        })?;
        Ok(rows.into_iter().map(|r| NoticeDue::at(r, now)).collect())
    }

    async fn record_notices(&self, notices: &[(NoticeDue, AuditEntry)]) -> Result<u64, StoreError> {
        self.write(|tx| {
            let mut entries = Vec::new();
            for (n, entry) in notices {
                let added = tx
                    .prepare_cached(
                        "INSERT INTO expiry_notices (secret_id, kind, expires_at) VALUES (?1, ?2, ?3)
                         ON CONFLICT DO NOTHING",
                    )
                    .and_then(|mut st| st.execute(params![n.secret_id, n.kind.as_str(), n.expires_at]))
                    .map_err(unavailable)?;
                if added == 1 {
                    entries.push(entry.clone());
                }
            }
            self.append_chain(tx, &entries)?;
            Ok(entries.len() as u64)
        })
    }

    async fn workspace_by_name(&self, name: &str) -> Result<Option<Workspace>, StoreError> {
        self.read(|c| {
            c.prepare_cached("SELECT id, name, created_at FROM workspaces WHERE name = ?1")?
                .query_row([name], |r| {
                    Ok(Workspace {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        created_at: r.get(2)?,
                    })
                })
                .optional()
        })
    }

    async fn create_workspace(
        &self,
        workspace: &Workspace,
        data_key: &DataKeyRow,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            let newest: u32 = tx
                .query_row("SELECT max(version) FROM root_keys", [], |r| r.get(0))
                .map_err(unavailable)?;
            if data_key.root_version != newest {
                return Err(StoreError::Conflict);
            }
            insert_workspace(tx, workspace)?;
            insert_data_key(tx, data_key)
        })
    }

    async fn workspaces(&self) -> Result<Vec<Workspace>, StoreError> {
        self.read(|c| {
            let mut st =
                c.prepare_cached("SELECT id, name, created_at FROM workspaces ORDER BY name")?;
            let rows = st.query_map([], |r| {
                Ok(Workspace {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    created_at: r.get(2)?,
                })
            })?;
            rows.collect()
        })
    }

    async fn data_keys(&self, workspace_id: Option<&str>) -> Result<Vec<DataKeyRow>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT workspace_id, version, root_version, wrapped, created_at FROM data_keys
                 WHERE ?1 IS NULL OR workspace_id = ?1 ORDER BY workspace_id, version",
            )?;
            let rows = st.query_map([workspace_id], |r| {
                Ok(DataKeyRow {
                    workspace_id: r.get(0)?,
                    version: r.get(1)?,
                    root_version: r.get(2)?,
                    wrapped: r.get(3)?,
                    created_at: r.get(4)?,
                })
            })?;
            rows.collect()
        })
    }

    async fn rotate_keys(
        &self,
        root: &RootKeyRow,
        rewrapped: &[DataKeyRow],
        added: &[DataKeyRow],
        audit_key: &AuditKeyRow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            insert_root(tx, root)?;
            let n = tx
                .execute(
                    "UPDATE audit_key SET root_version = ?1, wrapped = ?2 WHERE id = 1 AND keyed_from = ?3",
                    params![audit_key.root_version, audit_key.wrapped, audit_key.keyed_from],
                )
                .map_err(unavailable)?;
            if n != 1 || audit_key.root_version != root.version {
                return Err(StoreError::Conflict);
            }
            for dk in rewrapped {
                let n = tx
                    .execute(
                        "UPDATE data_keys SET root_version = ?3, wrapped = ?4 WHERE workspace_id = ?1 AND version = ?2",
                        params![dk.workspace_id, dk.version, dk.root_version, dk.wrapped],
                    )
                    .map_err(unavailable)?;
                if n != 1 {
                    return Err(StoreError::Conflict);
                }
            }
            // A data key this rotation did not see (added concurrently) would stay wrapped by
            // an old root key version: refuse, and let the caller run the rotation again.
            let stale: i64 = tx
                .query_row("SELECT count(*) FROM data_keys WHERE root_version <> ?1", [root.version], |r| r.get(0))
                .map_err(unavailable)?;
            if stale > 0 {
                return Err(StoreError::Conflict);
            }
            for dk in added {
                insert_data_key(tx, dk)?;
            }
            self.append_chain(tx, std::slice::from_ref(audit))
        })
    }

    async fn secret(&self, workspace_id: &str, key: &str) -> Result<Option<SecretRow>, StoreError> {
        self.read(|c| {
            c.prepare_cached(&SECRET_BY_KEY)?
                .query_row([workspace_id, key], secret_from_row)
                .optional()
        })
    }

    async fn secret_with_value(
        &self,
        workspace_id: &str,
        key: &str,
        version: Option<u64>,
        with_uses: bool,
    ) -> Result<Option<SecretRead>, StoreError> {
        let found = self.read(|c| {
            c.prepare_cached(&SECRET_WITH_VALUE)?
                .query_row(
                    params![workspace_id, key, version.map(|v| v as i64), with_uses],
                    secret_read_from_row,
                )
                .optional()
        })?;
        found.map(secret_read).transpose()
    }

    async fn secrets_with_values(
        &self,
        workspace_id: &str,
        keys: &[String],
    ) -> Result<Vec<Option<SecretRead>>, StoreError> {
        // One read transaction for them all: one snapshot, and one take of the WAL's read lock
        // instead of one per key (each statement outside a transaction is its own).
        let found = self.read(|c| {
            let tx = rusqlite::Transaction::new_unchecked(c, TransactionBehavior::Deferred)?;
            let mut out = Vec::with_capacity(keys.len());
            {
                let mut st = tx.prepare_cached(&SECRET_WITH_VALUE)?;
                for key in keys {
                    out.push(
                        st.query_row(
                            params![workspace_id, key, None::<i64>, false],
                            secret_read_from_row,
                        )
                        .optional()?,
                    );
                }
            }
            tx.commit()?;
            Ok(out)
        })?;
        found
            .into_iter()
            .map(|f| f.map(secret_read).transpose())
            .collect()
    }

    async fn value(
        &self,
        secret_id: &str,
        env: &str,
        version: u64,
    ) -> Result<Option<SealedValue>, StoreError> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT version, key_version, ciphertext, created_at, created_by FROM secret_values WHERE secret_id = ?1 AND env = ?2 AND version = ?3",
            )?
            .query_row(params![secret_id, env, version as i64], |r| {
                Ok(SealedValue {
                    env: env.to_string(),
                    version: r.get::<_, i64>(0)? as u64,
                    key_version: r.get(1)?,
                    ciphertext: r.get(2)?,
                    created_at: r.get(3)?,
                    created_by: r.get(4)?,
                })
            })
            .optional()
        })
    }

    async fn versions(&self, secret_id: &str) -> Result<Vec<VersionRow>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT version, created_at, created_by, env FROM secret_values WHERE secret_id = ?1 ORDER BY env, version",
            )?;
            let rows = st.query_map([secret_id], |r| {
                Ok(VersionRow { version: r.get::<_, i64>(0)? as u64, created_at: r.get(1)?, created_by: r.get(2)?, env: r.get(3)? })
            })?;
            rows.collect()
        })
    }

    async fn count_expiring(&self, now: i64, until: i64) -> Result<u64, StoreError> {
        let n: i64 = self.read(|c| {
            c.prepare_cached(
                "SELECT COUNT(*) FROM secrets
                 WHERE status = 'active' AND expires_at > ?1 AND expires_at <= ?2",
            )?
            .query_row(params![now, until], |r| r.get(0))
        })?;
        Ok(n as u64)
    }

    async fn list(
        &self,
        workspace_id: &str,
        filter: &ListFilter,
        now: i64,
    ) -> Result<Vec<SecretRow>, StoreError> {
        let status = filter.status.map(|s| s.as_str());
        // LIKE would treat '_' and '%' in a prefix as wildcards; a range on the key does not.
        let prefix_end = filter.prefix.as_ref().map(|p| format!("{p}\u{10FFFF}"));
        let limit = filter.limit.map(|l| l as i64).unwrap_or(-1);
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {SECRET_COLUMNS} FROM secrets
                 WHERE workspace_id = ?1
                   AND (?2 IS NULL OR json_array_length(envs) = 0 OR EXISTS (SELECT 1 FROM json_each(envs) WHERE value = ?2))
                   AND (?3 IS NULL OR json_array_length(scope) = 0 OR EXISTS (SELECT 1 FROM json_each(scope) WHERE value = ?3))
                   AND (?4 IS NULL OR (key >= ?4 AND key < ?5))
                   AND (?6 IS NULL
                        OR (?6 = 'revoked' AND status = 'revoked')
                        OR (?6 = 'expired' AND status = 'active' AND expires_at IS NOT NULL AND expires_at <= ?7)
                        OR (?6 = 'active' AND status = 'active' AND (expires_at IS NULL OR expires_at > ?7))
                        OR (?6 = 'expiring' AND status = 'active' AND expires_at IS NOT NULL AND expires_at > ?7
                            AND expires_at - COALESCE(notify_before, {DEFAULT_NOTIFY_BEFORE}) <= ?7))
                   AND (?8 IS NULL OR key > ?8)
                 ORDER BY key
                 LIMIT ?9"
            ))?;
            let rows = st.query_map(
                params![workspace_id, filter.env, filter.app, filter.prefix, prefix_end, status, now, filter.after, limit],
                secret_from_row,
            )?;
            rows.collect()
        })
    }

    async fn write_secret(&self, w: &SecretWrite) -> Result<(), StoreError> {
        self.write(|tx| {
            apply_write(tx, w)?;
            self.append_chain(tx, std::slice::from_ref(&w.audit))
        })
    }

    async fn commit_batch(
        &self,
        batch: &[Commit],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        self.write(|tx| {
            let mut out = Vec::with_capacity(batch.len());
            let mut entries: Vec<&AuditEntry> = Vec::new();
            for unit in batch {
                let done = match unit {
                    Commit::Write(w) => in_savepoint(tx, || apply_write(tx, w))?,
                    // Audit rows alone are appended below, all or none with the batch.
                    Commit::Reads { marks, .. } if marks.is_empty() => Ok(()),
                    Commit::Reads { marks, .. } => in_savepoint(tx, || apply_marks(tx, marks))?,
                };
                if done.is_ok() {
                    match unit {
                        Commit::Write(w) => entries.push(&w.audit),
                        Commit::Reads { entries: e, .. } => entries.extend(e.iter()),
                    }
                }
                out.push(done);
            }
            // Every applied unit's rows, chained in one step; if this fails, nothing commits.
            self.append_chain_of(tx, &entries)?;
            Ok(out)
        })
    }

    async fn delete_secret(
        &self,
        secret_id: &str,
        expected_revision: u64,
        force: bool,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            if !force {
                let apps = {
                    let mut st = tx
                        .prepare_cached(
                            "SELECT DISTINCT k.app FROM app_keys k JOIN secrets s
                               ON s.workspace_id = k.workspace_id AND s.key = k.key
                             WHERE s.id = ?1 ORDER BY k.app",
                        )
                        .map_err(unavailable)?;
                    let rows = st
                        .query_map([secret_id], |r| r.get::<_, String>(0))
                        .map_err(unavailable)?;
                    rows.collect::<rusqlite::Result<Vec<_>>>()
                        .map_err(unavailable)?
                };
                if !apps.is_empty() {
                    return Err(StoreError::InUse(apps));
                }
            }
            let n = tx
                .execute(
                    "DELETE FROM secrets WHERE id = ?1 AND revision = ?2",
                    params![secret_id, expected_revision as i64],
                )
                .map_err(unavailable)?;
            if n != 1 {
                return Err(StoreError::Conflict);
            }
            self.append_chain(tx, std::slice::from_ref(audit))
        })
    }

    async fn append_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        self.write(|tx| self.append_chain(tx, entries))
    }

    async fn record_reads(
        &self,
        entries: &[AuditEntry],
        reads: &[ReadMark],
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            apply_marks(tx, reads)?;
            self.append_chain(tx, entries)
        })
    }

    async fn put_app(&self, app: &AppRow, audit: &AuditEntry) -> Result<bool, StoreError> {
        let manifest = serde_json::to_string(&app.manifest)
            .map_err(|e| StoreError::Corrupt(format!("cannot encode manifest: {e}")))?;
        self.write(|tx| {
            let created = tx
                .query_row(
                    "SELECT 1 FROM apps WHERE workspace_id = ?1 AND name = ?2",
                    params![app.workspace_id, app.name()],
                    |_| Ok(()),
                )
                .optional()
                .map_err(unavailable)?
                .is_none();
            tx.execute(
                "INSERT INTO apps (workspace_id, name, manifest, created_at, updated_at, registered_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (workspace_id, name) DO UPDATE SET
                   manifest = excluded.manifest, updated_at = excluded.updated_at,
                   registered_by = excluded.registered_by",
                params![
                    app.workspace_id,
                    app.name(),
                    manifest,
                    app.created_at,
                    app.updated_at,
                    app.registered_by
                ],
            )
            .map_err(unavailable)?;
            let keys: Vec<&str> = app.keys.iter().map(|k| k.key.as_str()).collect();
            let keep = serde_json::to_string(&keys)
                .map_err(|e| StoreError::Corrupt(format!("cannot encode keys: {e}")))?;
            tx.execute(
                "DELETE FROM app_keys WHERE workspace_id = ?1 AND app = ?2
                   AND key NOT IN (SELECT value FROM json_each(?3))",
                params![app.workspace_id, app.name(), keep],
            )
            .map_err(unavailable)?;
            {
                let mut st = tx
                    .prepare_cached(
                        "INSERT INTO app_keys (workspace_id, app, key) VALUES (?1, ?2, ?3)
                         ON CONFLICT DO NOTHING",
                    )
                    .map_err(unavailable)?;
                for k in &keys {
                    st.execute(params![app.workspace_id, app.name(), k])
                        .map_err(unavailable)?;
                }
            }
            self.append_chain(tx, std::slice::from_ref(audit))?;
            Ok(created)
        })
    }

    async fn app(&self, workspace_id: &str, name: &str) -> Result<Option<AppRow>, StoreError> {
        let mut apps = self.load_apps(workspace_id, Some(name))?;
        Ok(apps.pop())
    }

    async fn apps(&self, workspace_id: &str) -> Result<Vec<AppRow>, StoreError> {
        self.load_apps(workspace_id, None)
    }

    async fn delete_app(
        &self,
        workspace_id: &str,
        name: &str,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM app_keys WHERE workspace_id = ?1 AND app = ?2",
                params![workspace_id, name],
            )
            .map_err(unavailable)?;
            let n = tx
                .execute(
                    "DELETE FROM apps WHERE workspace_id = ?1 AND name = ?2",
                    params![workspace_id, name],
                )
                .map_err(unavailable)?;
            if n == 0 {
                return Ok(false);
            }
            self.append_chain(tx, std::slice::from_ref(audit))?;
            Ok(true)
        })
    }

    async fn uses(&self, workspace_id: &str, keys: &[String]) -> Result<Vec<UseRow>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        // One key (every value read) is an index lookup; a page of keys goes as a JSON list.
        let (sql, wanted) = match keys {
            [one] => (
                "SELECT key, app, last_read_at, last_read_env FROM app_keys
                 WHERE workspace_id = ?1 AND key = ?2 ORDER BY app",
                one.clone(),
            ),
            _ => (
                "SELECT key, app, last_read_at, last_read_env FROM app_keys
                 WHERE workspace_id = ?1 AND key IN (SELECT value FROM json_each(?2))
                 ORDER BY key, app",
                serde_json::to_string(keys)
                    .map_err(|e| StoreError::Corrupt(format!("cannot encode keys: {e}")))?,
            ),
        };
        self.read(|c| {
            let mut st = c.prepare_cached(sql)?;
            let rows = st.query_map(params![workspace_id, wanted], |r| {
                Ok(UseRow {
                    key: r.get(0)?,
                    app: r.get(1)?,
                    last_read_at: r.get(2)?,
                    env: r.get(3)?,
                })
            })?;
            rows.collect()
        })
    }

    async fn audit(&self, f: &AuditFilter) -> Result<Vec<AuditRow>, StoreError> {
        let limit = f.limit.map(|l| l as i64).unwrap_or(-1);
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {AUDIT_COLUMNS}
                 FROM audit_log
                 WHERE (?1 IS NULL OR key = ?1
                        OR (instr(items, json_quote(?1)) > 0
                            AND CASE WHEN json_valid(items)
                                THEN EXISTS (SELECT 1 FROM json_each(items) WHERE json_extract(
                                        CASE type WHEN 'object' THEN value END, '$.key') = ?1)
                                -- Edited into something that is not JSON: listed when its
                                -- text names the key, for `verify` to report it.
                                ELSE 1 END))
                   AND (?2 IS NULL OR actor_id = ?2 OR actor_name = ?2)
                   AND (?3 IS NULL OR ts_ms >= ?3)
                   AND (?4 IS NULL OR ts_ms < ?4)
                   AND (?5 IS NULL OR seq > ?5)
                   AND (?7 IS NULL OR workspace = ?7 OR (?8 AND workspace IS NULL))
                 ORDER BY seq LIMIT ?6"
            ))?;
            let rows = st.query_map(
                params![
                    f.key,
                    f.actor,
                    f.since_ms,
                    f.until_ms,
                    f.after_seq,
                    limit,
                    f.workspace,
                    f.include_global
                ],
                audit_from_row,
            )?;
            rows.collect()
        })
    }

    async fn insert_token(&self, t: &TokenRow, audit: &AuditEntry) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                &format!("INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
                params![
                    t.id, t.workspace_id, t.name, t.hash, t.role.as_str(), t.app, t.env, t.expires_at,
                    t.created_at, t.created_by, t.revoked_at
                ],
            )
            .map_err(|e| conflict_on_unique(e, StoreError::Exists))?;
            self.append_chain(tx, std::slice::from_ref(audit))
        })
    }

    async fn token_by_hash(&self, hash: &str, now: i64) -> Result<Option<TokenRow>, StoreError> {
        self.read(|c| {
            c.prepare_cached(&TOKEN_BY_HASH)?
                .query_row(params![hash, now], token_from_row)
                .optional()
        })
    }

    async fn tokens(&self, workspace_id: &str) -> Result<Vec<TokenRow>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens WHERE workspace_id = ?1 ORDER BY created_at, id"
            ))?;
            let rows = st.query_map([workspace_id], token_from_row)?;
            rows.collect()
        })
    }

    async fn revoke_token(
        &self,
        workspace_id: &str,
        id: &str,
        at: i64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.write(|tx| {
            let n = tx
                .execute(
                    "UPDATE tokens SET revoked_at = ?3 WHERE workspace_id = ?1 AND id = ?2 AND revoked_at IS NULL",
                    params![workspace_id, id, at],
                )
                .map_err(unavailable)?;
            if n == 1 {
                self.append_chain(tx, std::slice::from_ref(audit))?;
            }
            Ok(n == 1)
        })
    }

    async fn insert_webhook(
        &self,
        hook: &hush_core::webhook::WebhookRow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.webhook_insert(hook, audit)
    }

    async fn webhooks(
        &self,
        workspace_id: Option<&str>,
    ) -> Result<Vec<hush_core::webhook::WebhookRow>, StoreError> {
        self.webhook_list(workspace_id)
    }

    async fn delete_webhook(
        &self,
        workspace_id: &str,
        id: &str,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.webhook_delete(workspace_id, id, audit)
    }

    async fn enqueue_deliveries(
        &self,
        deliveries: &[hush_core::webhook::DeliveryRow],
    ) -> Result<u64, StoreError> {
        self.delivery_enqueue(deliveries)
    }

    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease: &str,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<hush_core::webhook::DeliveryRow>, StoreError> {
        self.delivery_claim(now_ms, lease, lease_until_ms, limit)
    }

    async fn finish_delivery(
        &self,
        outcome: &hush_core::webhook::DeliveryOutcome,
    ) -> Result<bool, StoreError> {
        self.delivery_finish(outcome)
    }

    async fn deliveries(
        &self,
        workspace_id: &str,
        webhook_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<hush_core::webhook::DeliveryRow>, StoreError> {
        self.delivery_list(workspace_id, webhook_id, limit)
    }

    async fn prune_deliveries(&self, before_ms: i64) -> Result<u64, StoreError> {
        self.write(|tx| {
            let n = tx
                .execute(
                    "DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_ms < ?1",
                    [before_ms],
                )
                .map_err(unavailable)?;
            Ok(n as u64)
        })
    }

    async fn dump(&self) -> Result<Dump, StoreError> {
        self.dump_all()
    }

    async fn load(&self, dump: &Dump) -> Result<(), StoreError> {
        self.load_all(dump)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The SQLite hush links is built as `.cargo/config.toml` says (`LIBSQLITE3_FLAGS`):
    /// without the shared page cache's global mutex and without allocation counting. A build
    /// that loses the setting (a moved config file, a changed variable) fails here instead of
    /// quietly serializing every reader's page fetches again.
    #[test]
    fn sqlite_is_built_without_its_global_locks() {
        let conn = Connection::open_in_memory().unwrap();
        let mut st = conn.prepare("PRAGMA compile_options").unwrap();
        let options: Vec<String> = st
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "SQLite was built with ENABLE_MEMORY_MANAGEMENT: {options:?}"
        );
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "SQLite was built counting its allocations: {options:?}"
        );
        assert!(options.iter().any(|o| o == "THREADSAFE=1"), "{options:?}");
    }

    /// A token lookup does the same work for a revoked and an unknown token (neither is in the
    /// live-token index), counted in SQLite's virtual machine steps; an expired one is refused
    /// from the index's own `expires_at` (a comparison, no table row: `EXPLAIN` shows the row's
    /// seek deferred past it); only a live token's lookup reads its row. Through the unique
    /// index on every hash, as before schema 15, a revoked token took 14 steps and read its row
    /// where an unknown one took 11.
    #[tokio::test]
    async fn a_revoked_an_expired_and_an_unknown_token_cost_the_same_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hush.db");
        let _store = SqliteStore::open(&path).unwrap();
        let conn = SqliteStore::connect(&path).unwrap();
        conn.execute_batch(
            "INSERT INTO workspaces (id, name, created_at) VALUES ('ws_t', 't', 0);
             INSERT INTO tokens (id, workspace_id, name, hash, role, expires_at, created_at,
                                 created_by, revoked_at)
             VALUES ('tok_live', 'ws_t', 'live', 'h-live', 'read', NULL, 0, 't', NULL),
                    ('tok_revoked', 'ws_t', 'revoked', 'h-revoked', 'read', NULL, 0, 't', 5),
                    ('tok_expired', 'ws_t', 'expired', 'h-expired', 'read', 10, 0, 't', NULL);",
        )
        .unwrap();
        let steps = |hash: &str| {
            let mut st = conn.prepare(&TOKEN_BY_HASH).unwrap();
            let found = st
                .query_row(params![hash, 100], token_from_row)
                .optional()
                .unwrap();
            let steps = st.get_status(rusqlite::StatementStatus::VmStep);
            (found.map(|t| t.id), steps)
        };
        let (live, live_steps) = steps("h-live");
        assert_eq!(live.as_deref(), Some("tok_live"));
        let (revoked, revoked_steps) = steps("h-revoked");
        let (expired, expired_steps) = steps("h-expired");
        let (unknown, unknown_steps) = steps("h-nothing");
        assert_eq!((revoked, expired, unknown), (None, None, None));
        assert_eq!(
            revoked_steps, unknown_steps,
            "a revoked token's lookup takes as many steps as an unknown one's"
        );
        assert!(
            unknown_steps < expired_steps && expired_steps < live_steps,
            "unknown {unknown_steps}, expired {expired_steps}, live {live_steps}"
        );
    }

    fn entry(n: i64) -> AuditEntry {
        AuditEntry {
            ts_ms: n,
            actor_id: "tok_t".into(),
            actor_name: "t".into(),
            action: "secret.read".into(),
            workspace: Some("default".into()),
            key: Some(format!("k{n}")),
            version: Some(1),
            outcome: "ok".into(),
            env: None,
            remote: None,
            request_id: None,
            detail: None,
            items: Vec::new(),
        }
    }

    /// A row whose `items` were edited into something that is not a list of objects does
    /// not make a `--key` query fail: it still answers, lists a row whose text is no longer
    /// JSON when that text names the key (so that it is seen), and `verify` reports the edit.
    #[tokio::test]
    async fn edited_items_do_not_break_a_key_query() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("hush.db")).unwrap();
        let key = AuditKey::generate().unwrap();
        store.set_audit_key(key.clone());
        let item = |k: &str| audit::AuditItem {
            key: k.into(),
            version: Some(1),
            env: None,
            outcome: "ok".into(),
            detail: None,
        };
        let mut many = entry(1);
        many.key = None;
        many.items = vec![item("a"), item("b")];
        let entries = [many.clone(), many.clone(), many.clone(), many, entry(5)];
        store.append_audit(&entries).await.unwrap();
        let seqs = |key: &str| {
            let f = AuditFilter {
                key: Some(key.into()),
                ..Default::default()
            };
            let store = &store;
            async move {
                let rows = store.audit(&f).await.unwrap();
                rows.iter().map(|r| r.seq).collect::<Vec<_>>()
            }
        };
        assert_eq!(seqs("a").await, [1, 2, 3, 4]);
        let edits = [
            (1, r#"[{"key":"a""#),
            (2, r#"["a"]"#),
            (3, r#"{"key":"a"}"#),
            (4, r#"[[{"key":"a"}]]"#),
        ];
        for (seq, text) in edits {
            store
                .write(|tx| {
                    tx.execute(
                        "UPDATE audit_log SET items = ?2 WHERE seq = ?1",
                        params![seq, text],
                    )
                    .map(drop)
                    .map_err(unavailable)
                })
                .unwrap();
        }
        assert_eq!(
            seqs("a").await,
            [1],
            "only the row no longer JSON, naming a"
        );
        assert!(seqs("b").await.is_empty());
        assert_eq!(seqs("k5").await, [5]);
        let rows = store.audit(&AuditFilter::default()).await.unwrap();
        let chain_key = audit::ChainKey { key, keyed_from: 1 };
        assert!(
            !matches!(
                audit::verify(&rows, &chain_key, None),
                audit::Verdict::Intact { .. }
            ),
            "verify reports the edited rows"
        );
    }

    /// A store made by an older hush (schema 4, audit rows chained by plain SHA-256 in it) is
    /// upgraded at open: the rows and their links are kept as they were, the random-hash index
    /// is gone, and once the store gets its audit key the new rows link on, keyed, with the old
    /// ones checked as hashes before them.
    #[tokio::test]
    async fn schema_4_stores_are_upgraded_keeping_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hush.db");
        {
            let conn = Connection::open(&path).unwrap();
            for m in &MIGRATIONS[..4] {
                conn.execute_batch(m).unwrap();
            }
            conn.pragma_update(None, "user_version", 4).unwrap();
            // As hush wrote them then.
            let mut prev = audit::GENESIS.to_string();
            for seq in 1..=3 {
                let e = entry(seq);
                let hash = audit::legacy_hash(seq, &e, &prev);
                conn.execute(
                    "INSERT INTO audit_log (seq, ts_ms, actor_id, actor_name, action, workspace, key, version, outcome, remote, prev_hash, hash)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                    params![seq, e.ts_ms, e.actor_id, e.actor_name, e.action, e.workspace, e.key, 1, e.outcome, e.remote, prev, hash],
                )
                .unwrap();
                prev = hash;
            }
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.audit_key().await.unwrap(), None);
        // Without the key nothing can be appended: no row is ever written unauthenticated.
        assert!(matches!(
            store.append_audit(&[entry(9)]).await,
            Err(StoreError::NoAuditKey)
        ));
        let key = AuditKey::generate().unwrap();
        store
            .write(|tx| {
                insert_root(
                    tx,
                    &RootKeyRow {
                        version: 1,
                        kind: RootKeyKind::Raw,
                        salt: None,
                        kdf: None,
                        check: vec![1; 33],
                        created_at: 1,
                    },
                )
            })
            .unwrap();
        let key_row = AuditKeyRow {
            root_version: 1,
            wrapped: vec![7; 60],
            keyed_from: 4,
            created_at: 1,
        };
        let mut created = entry(4);
        created.action = audit::KEY_CREATED.into();
        store
            .create_audit_key(&key_row, &key, &created)
            .await
            .unwrap();
        store.set_audit_key(key.clone());
        store.append_audit(&[entry(5)]).await.unwrap();
        let rows = store.audit(&AuditFilter::default()).await.unwrap();
        assert_eq!(rows.len(), 5);
        let chain_key = audit::ChainKey { key, keyed_from: 4 };
        assert!(
            matches!(
                audit::verify(&rows, &chain_key, None),
                audit::Verdict::Intact {
                    rows: 5,
                    legacy: 3,
                    ..
                }
            ),
            "the chain survives the upgrade: {:?}",
            audit::verify(&rows, &chain_key, None)
        );
        let (version, indexes): (i64, Vec<String>) = store
            .read(|c| {
                let v = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
                let mut st = c.prepare(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_log'",
                )?;
                let names = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
                Ok((v, names))
            })
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        assert!(indexes.is_empty(), "no index on audit_log: {indexes:?}");
        assert_eq!(store.audit_key().await.unwrap(), Some(key_row));
    }
}

//! hush's PostgreSQL store: the same [`Store`] trait as the embedded SQLite store, for several
//! stateless `hush server` nodes on one database.
//!
//! It owns the PostgreSQL schema and its migrations. It must never see a plaintext value or key
//! (only sealed bytes), decide who may do what (hush-core does), or keep a node-local copy of
//! rows that another node could make stale.
//!
//! Every guarantee is the database's, not a node's: unique keys and names are unique
//! constraints, a write applies only if the row's revision is still the one read (a
//! compare-and-swap in the `UPDATE`'s `WHERE`), and the audit chain is appended under a row
//! lock on its one-row head, so two nodes can never both win a conflicting write and the chain
//! never forks. Nodes keep no cache of rows, so a write acknowledged by one node is what every
//! node serves from then on.
//!
//! Connections come from a pool (`HUSH_PG_POOL`, default 16) with an acquire timeout and a
//! statement timeout (`HUSH_PG_TIMEOUT_MS`, default 5000): while the database is unreachable,
//! calls fail within that time with [`StoreError::Unavailable`] (the API answers 503) instead of
//! hanging, and the pool reconnects by itself when it is back. Serialisation failures and
//! deadlocks are retried.
#![forbid(unsafe_code)]

use std::str::FromStr as _;
use std::sync::{LazyLock, RwLock};
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
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row as _, Transaction};

mod dump;

/// Test helpers (a fresh database per test), only with the `testing` feature: the production
/// crate ships none of them.
#[cfg(feature = "testing")]
pub mod testing;

/// Schema migrations, applied in order; `hush_schema` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_initial.sql"),
    include_str!("../migrations/0002_audit_key.sql"),
    include_str!("../migrations/0003_env_values.sql"),
    include_str!("../migrations/0004_audit_retention.sql"),
    include_str!("../migrations/0005_app_read_env.sql"),
    include_str!("../migrations/0006_notify_before.sql"),
    include_str!("../migrations/0007_events.sql"),
    include_str!("../migrations/0008_webhooks.sql"),
    include_str!("../migrations/0009_audit_items.sql"),
];

/// An arbitrary constant: the advisory lock that serialises migrations across nodes.
const MIGRATION_LOCK: i64 = 0x0068_7573_686d_6967;

/// How many times a transaction is retried after a serialisation failure or deadlock.
const RETRIES: usize = 5;

/// The PostgreSQL store.
pub struct PostgresStore {
    pool: PgPool,
    /// The key appended audit rows are authenticated with ([`Store::set_audit_key`]).
    audit_key: RwLock<Option<AuditKey>>,
    /// Bumped by the `LISTEN` task ([`Store::change_signal`]), started on first use.
    signal: std::sync::OnceLock<tokio::sync::watch::Receiver<u64>>,
    /// The audit chain's head as this node last wrote or read it: the guess a batch of reads
    /// is appended after in one statement ([`append_if_head`]), checked there against the
    /// stored head. A wrong guess (another node appended since) costs a retry, never a row.
    head: std::sync::Mutex<Option<(i64, String)>>,
}

fn timeout() -> Duration {
    std::env::var("HUSH_PG_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(5))
}

fn pool_size() -> u32 {
    std::env::var("HUSH_PG_POOL")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(16)
}

/// A database error as the store reports it. Never carries a value: the store holds none, and
/// sqlx's messages name constraints and columns, not bound parameters.
fn unavailable(e: sqlx::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn code(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(d) => d.code().map(|c| c.into_owned()),
        _ => None,
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    code(e).as_deref() == Some("23505")
}

fn is_retryable(e: &StoreError) -> bool {
    matches!(e, StoreError::Unavailable(m) if m.contains("40001") || m.contains("40P01") || m.contains("could not serialize") || m.contains("deadlock"))
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("unknown {what} in the database"))
}

/// Where the URL points, without its password or query (which may hold one), for messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(not a URL)".into();
    };
    let rest = rest.split_once('?').map_or(rest, |(r, _)| r);
    match rest.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _password)) => format!("{scheme}://{name}:***@{host}"),
            None => format!("{scheme}://{user}@{host}"),
        },
        None => format!("{scheme}://{rest}"),
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host:port/db`) and runs pending migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let store = Self::connect_lazy(url)?;
        store.migrate().await?;
        Ok(store)
    }

    /// A store whose connections are made on first use (a server can start, and answer 503,
    /// while the database is down). Call [`PostgresStore::migrate`] before serving.
    pub fn connect_lazy(url: &str) -> Result<Self, StoreError> {
        let t = timeout();
        let opts = PgConnectOptions::from_str(url)
            .map_err(|e| {
                StoreError::Unavailable(format!("bad PostgreSQL URL {}: {e}", redact_url(url)))
            })?
            .options([
                ("statement_timeout", t.as_millis().to_string()),
                ("lock_timeout", t.as_millis().to_string()),
            ]);
        let pool = PgPoolOptions::new()
            .max_connections(pool_size())
            .acquire_timeout(t)
            // A connection taken from the pool is checked with a round trip only after it sat
            // idle (when the database may have restarted or a proxy dropped it), not on every
            // use: under load that ping was one round trip in six of each group commit. A
            // connection that fails anyway is closed by the pool, and the request answered 503.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_AFTER_IDLE {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect_lazy_with(opts);
        Ok(PostgresStore {
            pool,
            audit_key: RwLock::new(None),
            signal: std::sync::OnceLock::new(),
            head: std::sync::Mutex::new(None),
        })
    }

    /// Applies pending migrations, once across any number of nodes starting together.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        sqlx::query("CREATE TABLE IF NOT EXISTS hush_schema (version INTEGER NOT NULL)")
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        let applied: Option<i32> = sqlx::query_scalar("SELECT max(version) FROM hush_schema")
            .fetch_one(&mut *tx)
            .await
            .map_err(unavailable)?;
        let applied = usize::try_from(applied.unwrap_or(0)).unwrap_or(0);
        if applied > MIGRATIONS.len() {
            return Err(StoreError::Corrupt(format!(
                "the database has schema version {applied}, newer than this hush knows ({}): upgrade hush",
                MIGRATIONS.len()
            )));
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(applied) {
            sqlx::raw_sql(m)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
            sqlx::query("INSERT INTO hush_schema (version) VALUES ($1)")
                .bind(i32::try_from(i + 1).unwrap_or(i32::MAX))
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    /// Runs one administrative statement (`CREATE DATABASE …`) outside a transaction. For
    /// tests and tooling; never given user input.
    #[doc(hidden)]
    pub async fn execute_admin(&self, sql: &str) -> Result<(), StoreError> {
        sqlx::raw_sql(sql)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Runs `$body` in a transaction on `$self`'s pool with the transaction bound to `$tx`,
/// committing on `Ok`, rolling back on `Err`, and retrying the whole transaction after a
/// serialisation failure or deadlock.
macro_rules! in_tx {
    ($self:ident, $tx:ident, $body:block) => {{
        let mut tries = 0usize;
        loop {
            let mut $tx = $self.pool.begin().await.map_err(unavailable)?;
            let out = async { $body }.await;
            let out = match out {
                Ok(v) => $tx.commit().await.map(|()| v).map_err(unavailable),
                Err(e) => {
                    let _ = $tx.rollback().await;
                    Err(e)
                }
            };
            match out {
                Err(e) if is_retryable(&e) && tries < RETRIES => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(5 << tries)).await;
                }
                other => break other,
            }
        }
    }};
}

// After `in_tx!`, which it uses.
mod webhooks;

const SECRET_COLUMNS: &str = "id, workspace_id, key, description, token_type, scope, envs, expires_at, status, version, revision, created_at, updated_at, created_by, updated_by, env_versions, notify_before";

// The read path's statements, spelled once (not formatted on every call).
static SECRET_BY_KEY: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {SECRET_COLUMNS} FROM secrets WHERE workspace_id = $1 AND key = $2")
});
/// A secret with one version of its shared value (`version`, SQL) and the apps naming it
/// (`uses`, SQL text or NULL), for the secrets `filter` picks: the columns
/// [`secret_read_from_row`] reads.
fn secret_read_query(version: &str, uses: &str, filter: &str) -> String {
    let columns = SECRET_COLUMNS
        .split(", ")
        .map(|c| format!("s.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT {columns}, v.version, v.key_version, v.ciphertext, v.created_at, v.created_by,
           {uses}
         FROM secrets s LEFT JOIN secret_values v
           ON v.secret_id = s.id AND v.env = '' AND v.version = {version}
         WHERE s.workspace_id = $1 AND {filter}"
    )
}
static SECRET_WITH_VALUE: LazyLock<String> = LazyLock::new(|| {
    secret_read_query(
        "COALESCE($3, s.version)",
        "CASE WHEN $4 THEN (SELECT json_agg(json_build_array(a.app, a.last_read_at, a.last_read_env))::text
                              FROM app_keys a
                              WHERE a.workspace_id = s.workspace_id AND a.key = s.key) END",
        "s.key = $2",
    )
});
/// Each of a resolve's keys at its current version, without apps.
static SECRETS_WITH_VALUES: LazyLock<String> =
    LazyLock::new(|| secret_read_query("s.version", "NULL::text", "s.key = ANY($2)"));

/// A row of [`secret_read_query`].
fn secret_read_from_row(r: &PgRow) -> Result<SecretRead, StoreError> {
    let get = |e: sqlx::Error| unavailable(e);
    let row = secret_from_row(r)?;
    let value = match r.try_get::<Option<i64>, _>(17).map_err(get)? {
        None => None,
        Some(v) => Some(SealedValue {
            env: String::new(),
            version: v as u64,
            key_version: r.try_get::<i32, _>(18).map_err(get)? as u32,
            ciphertext: r.try_get(19).map_err(get)?,
            created_at: r.try_get(20).map_err(get)?,
            created_by: r.try_get(21).map_err(get)?,
        }),
    };
    let uses: Option<String> = r.try_get(22).map_err(get)?;
    let uses = uses_from_json(&row.key, uses.as_deref())?;
    Ok(SecretRead { row, value, uses })
}

fn secret_from_row(r: &PgRow) -> Result<SecretRow, StoreError> {
    let get = |e: sqlx::Error| unavailable(e);
    let token_type: Option<String> = r.try_get(4).map_err(get)?;
    let status: String = r.try_get(8).map_err(get)?;
    Ok(SecretRow {
        id: r.try_get(0).map_err(get)?,
        workspace_id: r.try_get(1).map_err(get)?,
        key: r.try_get(2).map_err(get)?,
        meta: Metadata {
            description: r.try_get(3).map_err(get)?,
            token_type: token_type
                .map(|t| TokenType::parse(&t).map_err(|_| corrupt("token type")))
                .transpose()?,
            scope: r.try_get(5).map_err(get)?,
            envs: r.try_get(6).map_err(get)?,
            expires_at: r.try_get(7).map_err(get)?,
            notify_before: r.try_get(16).map_err(get)?,
        },
        status: StoredStatus::parse(&status).ok_or_else(|| corrupt("status"))?,
        version: r.try_get::<i64, _>(9).map_err(get)? as u64,
        revision: r.try_get::<i64, _>(10).map_err(get)? as u64,
        created_at: r.try_get(11).map_err(get)?,
        updated_at: r.try_get(12).map_err(get)?,
        created_by: r.try_get(13).map_err(get)?,
        updated_by: r.try_get(14).map_err(get)?,
        env_versions: serde_json::from_str(&r.try_get::<String, _>(15).map_err(get)?)
            .map_err(|_| corrupt("env_versions"))?,
    })
}

/// The `env_versions` column: a JSON object of environment → current version.
fn env_versions_json(map: &std::collections::BTreeMap<String, u64>) -> String {
    serde_json::to_string(map).unwrap_or_else(|_| "{}".into())
}

const TOKEN_COLUMNS: &str =
    "id, workspace_id, name, hash, role, app, env, expires_at, created_at, created_by, revoked_at";

fn token_from_row(r: &PgRow) -> Result<TokenRow, StoreError> {
    let get = |e: sqlx::Error| unavailable(e);
    let role: String = r.try_get(4).map_err(get)?;
    Ok(TokenRow {
        id: r.try_get(0).map_err(get)?,
        workspace_id: r.try_get(1).map_err(get)?,
        name: r.try_get(2).map_err(get)?,
        hash: r.try_get(3).map_err(get)?,
        role: Role::parse(&role).map_err(|_| corrupt("role"))?,
        app: r.try_get(5).map_err(get)?,
        env: r.try_get(6).map_err(get)?,
        expires_at: r.try_get(7).map_err(get)?,
        created_at: r.try_get(8).map_err(get)?,
        created_by: r.try_get(9).map_err(get)?,
        revoked_at: r.try_get(10).map_err(get)?,
    })
}

type Tx = Transaction<'static, Postgres>;

fn conflict_on_unique(e: sqlx::Error, on_unique: StoreError) -> StoreError {
    if is_unique_violation(&e) {
        on_unique
    } else {
        unavailable(e)
    }
}

async fn insert_root(tx: &mut Tx, root: &RootKeyRow) -> Result<(), StoreError> {
    let (m, t, p) = match root.kdf {
        Some((m, t, p)) => (Some(i64::from(m)), Some(i64::from(t)), Some(i64::from(p))),
        None => (None, None, None),
    };
    sqlx::query(
        "INSERT INTO root_keys (version, kind, salt, kdf_m_kib, kdf_t, kdf_p, check_value, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(root.version as i32)
    .bind(root.kind.as_str())
    .bind(root.salt.clone())
    .bind(m)
    .bind(t)
    .bind(p)
    .bind(root.check.clone())
    .bind(root.created_at)
    .execute(&mut **tx)
    .await
    .map_err(|e| conflict_on_unique(e, StoreError::Conflict))?;
    Ok(())
}

async fn insert_workspace(tx: &mut Tx, ws: &Workspace) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(&ws.id)
        .bind(&ws.name)
        .bind(ws.created_at)
        .execute(&mut **tx)
        .await
        .map_err(|e| conflict_on_unique(e, StoreError::Exists))?;
    Ok(())
}

async fn insert_data_key(tx: &mut Tx, dk: &DataKeyRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO data_keys (workspace_id, version, root_version, wrapped, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&dk.workspace_id)
    .bind(dk.version as i32)
    .bind(dk.root_version as i32)
    .bind(dk.wrapped.clone())
    .bind(dk.created_at)
    .execute(&mut **tx)
    .await
    .map_err(|e| conflict_on_unique(e, StoreError::Conflict))?;
    Ok(())
}

/// Makes sure the chain's one-row head exists and locks it until the transaction ends:
/// appends from every node are serialised here. Returns the newest row's `(seq, mac)`.
async fn lock_head(tx: &mut Tx) -> Result<(i64, String), StoreError> {
    let head = "SELECT seq, mac FROM audit_head WHERE id = 1 FOR UPDATE";
    if let Some(found) = sqlx::query_as(head)
        .fetch_optional(&mut **tx)
        .await
        .map_err(unavailable)?
    {
        return Ok(found);
    }
    // Only a store's first append: the head row is made once, then locked as always.
    sqlx::query(
        "INSERT INTO audit_head (id, seq, mac) VALUES (1, 0, $1) ON CONFLICT (id) DO NOTHING",
    )
    .bind(audit::GENESIS)
    .execute(&mut **tx)
    .await
    .map_err(unavailable)?;
    sqlx::query_as(head)
        .fetch_one(&mut **tx)
        .await
        .map_err(unavailable)
}

/// Binds an [`AuditColumns`] as `$1` to `$16` of a query (of any kind).
macro_rules! bind_columns {
    ($q:expr, $c:expr) => {{
        let c = $c;
        $q.bind(&c.seq)
            .bind(&c.ts_ms)
            .bind(&c.actor_id)
            .bind(&c.actor_name)
            .bind(&c.action)
            .bind(&c.workspace)
            .bind(&c.key)
            .bind(&c.version)
            .bind(&c.outcome)
            .bind(&c.remote)
            .bind(&c.prev_mac)
            .bind(&c.mac)
            .bind(&c.env)
            .bind(&c.request_id)
            .bind(&c.detail)
            .bind(&c.items)
    }};
}

/// Appends entries to the chain inside the caller's transaction, each authenticated with
/// `key`, holding the head's row lock until it commits. However many entries, the rows go in
/// with one statement (a column of arrays each) that also moves the head, their keys' index
/// with one more: a batch of reads costs a few round trips, not one per row. Returns the new
/// head.
async fn append_chain(
    tx: &mut Tx,
    key: &AuditKey,
    entries: &[&AuditEntry],
) -> Result<Option<(i64, String)>, StoreError> {
    if entries.is_empty() {
        return Ok(None);
    }
    let (last_seq, last_mac) = lock_head(tx).await?;
    let links = audit::links(key, last_seq, &last_mac, entries.iter().copied());
    let Some(last) = links.last() else {
        return Ok(None);
    };
    let cols = AuditColumns::new(&links, entries);
    // The rows, and the head moved to the last of them, in one statement (a data-modifying
    // WITH runs once whether or not the UPDATE reads it).
    bind_columns!(
        sqlx::query(
        "WITH rows AS (
           INSERT INTO audit_log (seq, ts_ms, actor_id, actor_name, action, workspace, key, version, outcome, remote, prev_mac, mac, env, request_id, detail, items)
           SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[],
             $6::text[], $7::text[], $8::bigint[], $9::text[], $10::text[], $11::text[],
             $12::text[], $13::text[], $14::text[], $15::text[], $16::text[]))
         UPDATE audit_head SET seq = $17, mac = $18 WHERE id = 1",
        ),
        &cols
    )
    .bind(last.seq)
    .bind(&last.mac)
    .execute(&mut **tx)
    .await
    .map_err(|e| conflict_on_unique(e, StoreError::Conflict))?;
    if !cols.item_keys.is_empty() {
        sqlx::query(
            // A key tried twice in one request (asked twice, or the fallback of two keys) is
            // indexed once.
            "INSERT INTO audit_keys (key, seq) SELECT * FROM UNNEST($1::text[], $2::bigint[])
             ON CONFLICT DO NOTHING",
        )
        .bind(&cols.item_keys)
        .bind(&cols.item_seqs)
        .execute(&mut **tx)
        .await
        .map_err(unavailable)?;
    }
    let mut evented = false;
    for (l, e) in links.iter().zip(entries) {
        if let Some(ev) = EventRow::from_entry(l.seq, e) {
            insert_event(tx, &ev).await?;
            evented = true;
        }
    }
    if evented {
        // Delivered at commit, to every node's listener (and to none if it rolls back).
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(EVENTS_CHANNEL)
            .execute(&mut **tx)
            .await
            .map_err(unavailable)?;
    }
    Ok(Some((last.seq, last.mac.clone())))
}

/// Appends entries that make no event (reads) in one statement on its own, without a
/// transaction: the rows, their keys' index and the head move together or not at all, and
/// only if the head is still `head`, the one this node saw last. The head's row lock is held
/// only for the statement, and the batch costs one round trip. `Ok(Some(new head))` when
/// appended; `Ok(None)` when the head had moved (another node appended): nothing was written.
async fn append_if_head(
    pool: &PgPool,
    key: &AuditKey,
    head: &(i64, String),
    entries: &[&AuditEntry],
) -> Result<Option<(i64, String)>, StoreError> {
    let links = audit::links(key, head.0, &head.1, entries.iter().copied());
    let Some(last) = links.last() else {
        return Ok(Some(head.clone()));
    };
    let cols = AuditColumns::new(&links, entries);
    // Under READ COMMITTED the UPDATE waits for a concurrent holder of the head's lock and
    // then checks its condition again on the row that holder left: a moved head matches
    // nothing, and then neither insert runs.
    let moved: i64 = bind_columns!(
        sqlx::query_scalar(
            "WITH head AS (
               UPDATE audit_head SET seq = $17, mac = $18
               WHERE id = 1 AND seq = $19 AND mac = $20 RETURNING 1),
             rows AS (
               INSERT INTO audit_log (seq, ts_ms, actor_id, actor_name, action, workspace, key, version, outcome, remote, prev_mac, mac, env, request_id, detail, items)
               SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[],
                 $6::text[], $7::text[], $8::bigint[], $9::text[], $10::text[], $11::text[],
                 $12::text[], $13::text[], $14::text[], $15::text[], $16::text[])
               WHERE EXISTS (SELECT 1 FROM head)),
             keys AS (
               INSERT INTO audit_keys (key, seq)
               SELECT * FROM UNNEST($21::text[], $22::bigint[])
               WHERE EXISTS (SELECT 1 FROM head)
               ON CONFLICT DO NOTHING)
             SELECT count(*) FROM head",
        ),
        &cols
    )
    .bind(last.seq)
        .bind(&last.mac)
        .bind(head.0)
        .bind(&head.1)
        .bind(&cols.item_keys)
        .bind(&cols.item_seqs)
        .fetch_one(pool)
        .await
        .map_err(|e| conflict_on_unique(e, StoreError::Conflict))?;
    Ok((moved == 1).then(|| (last.seq, last.mac.clone())))
}

/// A batch of audit rows as one array per column, for the one insert of [`append_chain`] and
/// [`append_if_head`], with the keys their items name (and each one's row) for `audit_keys`.
struct AuditColumns<'a> {
    seq: Vec<i64>,
    ts_ms: Vec<i64>,
    actor_id: Vec<&'a str>,
    actor_name: Vec<&'a str>,
    action: Vec<&'a str>,
    workspace: Vec<Option<&'a str>>,
    key: Vec<Option<&'a str>>,
    version: Vec<Option<i64>>,
    outcome: Vec<&'a str>,
    remote: Vec<Option<&'a str>>,
    prev_mac: Vec<&'a str>,
    mac: Vec<&'a str>,
    env: Vec<Option<&'a str>>,
    request_id: Vec<Option<&'a str>>,
    detail: Vec<Option<&'a str>>,
    items: Vec<Option<&'a str>>,
    item_keys: Vec<&'a str>,
    item_seqs: Vec<i64>,
}

impl<'a> AuditColumns<'a> {
    fn new(links: &'a [audit::Link], entries: &[&'a AuditEntry]) -> Self {
        let n = links.len();
        let mut c = AuditColumns {
            seq: Vec::with_capacity(n),
            ts_ms: Vec::with_capacity(n),
            actor_id: Vec::with_capacity(n),
            actor_name: Vec::with_capacity(n),
            action: Vec::with_capacity(n),
            workspace: Vec::with_capacity(n),
            key: Vec::with_capacity(n),
            version: Vec::with_capacity(n),
            outcome: Vec::with_capacity(n),
            remote: Vec::with_capacity(n),
            prev_mac: Vec::with_capacity(n),
            mac: Vec::with_capacity(n),
            env: Vec::with_capacity(n),
            request_id: Vec::with_capacity(n),
            detail: Vec::with_capacity(n),
            items: Vec::with_capacity(n),
            item_keys: Vec::new(),
            item_seqs: Vec::new(),
        };
        for (l, e) in links.iter().zip(entries) {
            c.seq.push(l.seq);
            c.ts_ms.push(e.ts_ms);
            c.actor_id.push(&e.actor_id);
            c.actor_name.push(&e.actor_name);
            c.action.push(&e.action);
            c.workspace.push(e.workspace.as_deref());
            c.key.push(e.key.as_deref());
            c.version.push(e.version.map(|v| v as i64));
            c.outcome.push(&e.outcome);
            c.remote.push(e.remote.as_deref());
            c.prev_mac.push(&l.prev_mac);
            c.mac.push(&l.mac);
            c.env.push(e.env.as_deref());
            c.request_id.push(e.request_id.as_deref());
            c.detail.push(e.detail.as_deref());
            // The items as the MAC covered them: serialised once.
            c.items.push(l.items_json.as_deref().map(|j| j.get()));
            for item in &e.items {
                c.item_keys.push(&item.key);
                c.item_seqs.push(l.seq);
            }
        }
        c
    }
}

/// How many times [`PostgresStore::append_alone`] guesses the head before it takes the lock.
const HEAD_GUESSES: usize = 3;

/// How long a pooled connection may sit idle before it is checked with a ping when taken.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// The channel every append that makes an event notifies, and every node listens on.
const EVENTS_CHANNEL: &str = "hush_events";

/// Records the event an audit row makes, in the row's transaction.
async fn insert_event(tx: &mut Tx, ev: &EventRow) -> Result<(), StoreError> {
    sqlx::query(
        // A seq seen before belongs to audit rows cut off the end (tampering the chain's
        // verification reports): the new row's event takes its place.
        "INSERT INTO events (seq, ts_ms, kind, workspace, key, version, env, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (seq) DO UPDATE SET ts_ms = EXCLUDED.ts_ms, kind = EXCLUDED.kind,
           workspace = EXCLUDED.workspace, key = EXCLUDED.key, version = EXCLUDED.version,
           env = EXCLUDED.env, detail = EXCLUDED.detail",
    )
    .bind(ev.seq)
    .bind(ev.ts_ms)
    .bind(ev.kind.as_str())
    .bind(&ev.workspace)
    .bind(&ev.key)
    .bind(ev.version.map(|v| v as i64))
    .bind(&ev.env)
    .bind(&ev.detail)
    .execute(&mut **tx)
    .await
    .map_err(unavailable)?;
    Ok(())
}

type EventDbRow = (
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

fn event_from_db(r: EventDbRow) -> Result<EventRow, StoreError> {
    let (seq, ts_ms, kind, workspace, key, version, env, detail) = r;
    Ok(EventRow {
        seq,
        ts_ms,
        kind: EventKind::parse(&kind)
            .ok_or_else(|| corrupt(&format!("unknown event kind {kind:?}")))?,
        workspace,
        key,
        version: version.map(|v| v as u64),
        env,
        detail,
    })
}

/// Listens on [`EVENTS_CHANNEL`] for as long as the receivers live, bumping `tx` on each
/// notification, and once after every reconnection (a notification sent while the listener
/// was away is lost: followers then read what they missed).
async fn listen_events(pool: PgPool, tx: tokio::sync::watch::Sender<u64>) {
    loop {
        if tx.is_closed() {
            return;
        }
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut listener) => {
                if listener.listen(EVENTS_CHANNEL).await.is_ok() {
                    tx.send_modify(|n| *n += 1);
                    while listener.recv().await.is_ok() {
                        tx.send_modify(|n| *n += 1);
                    }
                }
                tracing::warn!("the PostgreSQL event listener lost its connection; reconnecting");
            }
            Err(e) => {
                tracing::warn!(error = %redact_url(&e.to_string()), "the PostgreSQL event listener cannot connect; retrying");
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn insert_audit_key(tx: &mut Tx, k: &AuditKeyRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_key (id, root_version, wrapped, keyed_from, created_at)
         VALUES (1, $1, $2, $3, $4)",
    )
    .bind(k.root_version as i32)
    .bind(k.wrapped.clone())
    .bind(k.keyed_from)
    .bind(k.created_at)
    .execute(&mut **tx)
    .await
    .map_err(|e| conflict_on_unique(e, StoreError::Exists))?;
    Ok(())
}

const AUDIT_COLUMNS: &str =
    "seq, ts_ms, actor_id, actor_name, action, workspace, key, version, outcome, remote, prev_mac, mac, env, request_id, detail, items";

/// The audit checkpoint, if the chain was pruned (also read by the dump, in its transaction).
async fn read_checkpoint<'e>(
    e: impl sqlx::PgExecutor<'e>,
) -> Result<Option<Checkpoint>, StoreError> {
    let row: Option<(i64, String, String, i64)> =
        sqlx::query_as("SELECT seq, mac, tag, pruned_at_ms FROM audit_checkpoint WHERE id = 1")
            .fetch_optional(e)
            .await
            .map_err(unavailable)?;
    Ok(row.map(|(seq, mac, tag, pruned_at_ms)| Checkpoint {
        seq,
        mac,
        tag,
        pruned_at_ms,
    }))
}

fn audit_from_db(r: AuditDbRow) -> AuditRow {
    AuditRow {
        seq: r.0,
        entry: AuditEntry {
            ts_ms: r.1,
            actor_id: r.2,
            actor_name: r.3,
            action: r.4,
            workspace: r.5,
            key: r.6,
            version: r.7.map(|v| v as u64),
            outcome: r.8,
            env: r.12,
            remote: r.9,
            request_id: r.13,
            detail: r.14,
            // An unreadable list (edited) reads as none: the row's MAC no longer matches,
            // which `hush audit verify` reports.
            items: AuditEntry::items_from_json(r.15.as_deref()).unwrap_or_default(),
        },
        prev_mac: r.10,
        mac: r.11,
    }
}

/// Applies a secret write (without its audit row) inside the caller's transaction.
async fn apply_write(tx: &mut Tx, w: &SecretWrite) -> Result<(), StoreError> {
    let r = &w.row;
    let token_type = r.meta.token_type.map(|t| t.as_str());
    match w.expected_revision {
        None => {
            sqlx::query(&format!(
                "INSERT INTO secrets ({SECRET_COLUMNS})
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
            ))
            .bind(&r.id)
            .bind(&r.workspace_id)
            .bind(&r.key)
            .bind(&r.meta.description)
            .bind(token_type)
            .bind(&r.meta.scope)
            .bind(&r.meta.envs)
            .bind(r.meta.expires_at)
            .bind(r.status.as_str())
            .bind(r.version as i64)
            .bind(r.revision as i64)
            .bind(r.created_at)
            .bind(r.updated_at)
            .bind(&r.created_by)
            .bind(&r.updated_by)
            .bind(env_versions_json(&r.env_versions))
            .bind(r.meta.notify_before)
            .execute(&mut **tx)
            .await
            .map_err(|e| conflict_on_unique(e, StoreError::Exists))?;
        }
        Some(expected) => {
            let n = sqlx::query(
                "UPDATE secrets SET description = $3, token_type = $4, scope = $5, envs = $6,
                    expires_at = $7, status = $8, version = $9, revision = $10,
                    updated_at = $11, updated_by = $12, env_versions = $13, notify_before = $14
                 WHERE id = $1 AND revision = $2",
            )
            .bind(&r.id)
            .bind(expected as i64)
            .bind(&r.meta.description)
            .bind(token_type)
            .bind(&r.meta.scope)
            .bind(&r.meta.envs)
            .bind(r.meta.expires_at)
            .bind(r.status.as_str())
            .bind(r.version as i64)
            .bind(r.revision as i64)
            .bind(r.updated_at)
            .bind(&r.updated_by)
            .bind(env_versions_json(&r.env_versions))
            .bind(r.meta.notify_before)
            .execute(&mut **tx)
            .await
            .map_err(unavailable)?
            .rows_affected();
            if n != 1 {
                return Err(StoreError::Conflict);
            }
        }
    }
    if let Some(env) = &w.drop_env {
        sqlx::query("DELETE FROM secret_values WHERE secret_id = $1 AND env = $2")
            .bind(&r.id)
            .bind(env)
            .execute(&mut **tx)
            .await
            .map_err(unavailable)?;
    }
    if let Some(v) = &w.value {
        sqlx::query(
            "INSERT INTO secret_values (secret_id, env, version, key_version, ciphertext, created_at, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&r.id)
        .bind(&v.env)
        .bind(v.version as i64)
        .bind(v.key_version as i32)
        .bind(v.ciphertext.clone())
        .bind(v.created_at)
        .bind(&v.created_by)
        .execute(&mut **tx)
        .await
        .map_err(|e| conflict_on_unique(e, StoreError::Conflict))?;
    }
    Ok(())
}

/// Records apps' reads inside the caller's transaction.
async fn apply_marks(tx: &mut Tx, reads: &[ReadMark]) -> Result<(), StoreError> {
    for m in reads {
        sqlx::query(
            // The environment goes with the latest read (both sides see the old row).
            "UPDATE app_keys SET last_read_at = GREATEST(COALESCE(last_read_at, 0), $4),
               last_read_env = CASE WHEN $4 >= COALESCE(last_read_at, 0) THEN $5
                                    ELSE last_read_env END
             WHERE workspace_id = $1 AND app = $2 AND key = $3",
        )
        .bind(&m.workspace_id)
        .bind(&m.app)
        .bind(&m.key)
        .bind(m.at)
        .bind(&m.env)
        .execute(&mut **tx)
        .await
        .map_err(unavailable)?;
    }
    Ok(())
}

/// Applies one unit of a group commit inside a savepoint of the caller's transaction: kept
/// when it succeeds, undone alone when it fails. A serialisation failure or deadlock fails the
/// whole transaction instead, so that it is retried as a whole.
async fn apply_unit(tx: &mut Tx, unit: &Commit) -> Result<Result<(), StoreError>, StoreError> {
    sqlx::query("SAVEPOINT unit")
        .execute(&mut **tx)
        .await
        .map_err(unavailable)?;
    let out = match unit {
        Commit::Write(w) => apply_write(tx, w).await,
        Commit::Reads { marks, .. } => apply_marks(tx, marks).await,
    };
    match &out {
        Err(e) if is_retryable(e) => return Err(e.clone()),
        Err(_) => {
            sqlx::query("ROLLBACK TO SAVEPOINT unit")
                .execute(&mut **tx)
                .await
                .map_err(unavailable)?;
        }
        Ok(()) => {}
    }
    sqlx::query("RELEASE SAVEPOINT unit")
        .execute(&mut **tx)
        .await
        .map_err(unavailable)?;
    Ok(out)
}

#[async_trait]
impl Store for PostgresStore {
    async fn root_keys(&self) -> Result<Vec<RootKeyRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT version, kind, salt, kdf_m_kib, kdf_t, kdf_p, check_value, created_at
             FROM root_keys ORDER BY version",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(|r| {
                let get = |e: sqlx::Error| unavailable(e);
                let kind: String = r.try_get(1).map_err(get)?;
                let m: Option<i64> = r.try_get(3).map_err(get)?;
                let t: Option<i64> = r.try_get(4).map_err(get)?;
                let p: Option<i64> = r.try_get(5).map_err(get)?;
                Ok(RootKeyRow {
                    version: r.try_get::<i32, _>(0).map_err(get)? as u32,
                    kind: RootKeyKind::parse(&kind).ok_or_else(|| corrupt("root key kind"))?,
                    salt: r.try_get(2).map_err(get)?,
                    kdf: match (m, t, p) {
                        (Some(m), Some(t), Some(p)) => Some((m as u32, t as u32, p as u32)),
                        _ => None,
                    },
                    check: r.try_get(6).map_err(get)?,
                    created_at: r.try_get(7).map_err(get)?,
                })
            })
            .collect()
    }

    async fn initialize(
        &self,
        root: &RootKeyRow,
        workspace: &Workspace,
        data_key: &DataKeyRow,
        audit_key: &AuditKeyRow,
    ) -> Result<(), StoreError> {
        in_tx!(self, tx, {
            {
                // One initialiser at a time, across nodes.
                sqlx::query("LOCK TABLE root_keys IN EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await
                    .map_err(unavailable)?;
                let n: i64 = sqlx::query_scalar("SELECT count(*) FROM root_keys")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(unavailable)?;
                if n > 0 {
                    return Err(StoreError::AlreadyInitialized);
                }
                insert_root(&mut tx, root).await?;
                insert_workspace(&mut tx, workspace).await?;
                insert_data_key(&mut tx, data_key).await?;
                insert_audit_key(&mut tx, audit_key)
                    .await
                    .map_err(|e| match e {
                        StoreError::Exists => StoreError::AlreadyInitialized,
                        other => other,
                    })
            }
        })
    }

    fn set_audit_key(&self, key: AuditKey) {
        *self.audit_key.write().unwrap_or_else(|e| e.into_inner()) = Some(key);
    }

    async fn audit_key(&self) -> Result<Option<AuditKeyRow>, StoreError> {
        let row: Option<(i32, Vec<u8>, i64, i64)> = sqlx::query_as(
            "SELECT root_version, wrapped, keyed_from, created_at FROM audit_key WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(
            row.map(|(rv, wrapped, keyed_from, created_at)| AuditKeyRow {
                root_version: rv as u32,
                wrapped,
                keyed_from,
                created_at,
            }),
        )
    }

    async fn create_audit_key(
        &self,
        row: &AuditKeyRow,
        key: &AuditKey,
        entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        in_tx!(self, tx, {
            {
                // Against a rotation committing meanwhile (it takes a conflicting lock).
                sqlx::query("LOCK TABLE root_keys IN SHARE MODE")
                    .execute(&mut *tx)
                    .await
                    .map_err(unavailable)?;
                let (last_seq, _) = lock_head(&mut tx).await?;
                let has: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_key")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(unavailable)?;
                if has > 0 {
                    return Err(StoreError::Exists);
                }
                let newest: Option<i32> = sqlx::query_scalar("SELECT max(version) FROM root_keys")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(unavailable)?;
                if newest != Some(row.root_version as i32) || last_seq + 1 != row.keyed_from {
                    return Err(StoreError::Conflict);
                }
                insert_audit_key(&mut tx, row).await?;
                append_chain(&mut tx, key, &[entry]).await.map(|_| ())
            }
        })
    }

    async fn audit_head(&self) -> Result<Option<AuditRow>, StoreError> {
        let row: Option<AuditDbRow> = sqlx::query_as(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1"
        ))
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(row.map(audit_from_db))
    }

    async fn audit_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        read_checkpoint(&self.pool).await
    }

    async fn prune_audit(
        &self,
        expected: Option<i64>,
        checkpoint: &Checkpoint,
        entry: &AuditEntry,
    ) -> Result<u64, StoreError> {
        in_tx!(self, tx, {
            {
                // The head's row lock serialises this with every append and every other prune.
                lock_head(&mut tx).await?;
                let current: Option<i64> =
                    sqlx::query_scalar("SELECT seq FROM audit_checkpoint WHERE id = 1")
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(unavailable)?;
                let mac: Option<String> =
                    sqlx::query_scalar("SELECT mac FROM audit_log WHERE seq = $1")
                        .bind(checkpoint.seq)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(unavailable)?;
                if current != expected || mac.as_deref() != Some(checkpoint.mac.as_str()) {
                    return Err(StoreError::Conflict);
                }
                let removed = sqlx::query("DELETE FROM audit_log WHERE seq <= $1")
                    .bind(checkpoint.seq)
                    .execute(&mut *tx)
                    .await
                    .map_err(unavailable)?
                    .rows_affected();
                sqlx::query("DELETE FROM audit_keys WHERE seq <= $1")
                    .bind(checkpoint.seq)
                    .execute(&mut *tx)
                    .await
                    .map_err(unavailable)?;
                sqlx::query(
                    "INSERT INTO audit_checkpoint (id, seq, mac, tag, pruned_at_ms) VALUES (1, $1, $2, $3, $4)
                     ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, mac = EXCLUDED.mac, tag = EXCLUDED.tag, pruned_at_ms = EXCLUDED.pruned_at_ms",
                )
                .bind(checkpoint.seq)
                .bind(&checkpoint.mac)
                .bind(&checkpoint.tag)
                .bind(checkpoint.pruned_at_ms)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
                self.append_chain(&mut tx, std::slice::from_ref(entry))
                    .await?;
                Ok(removed)
            }
        })
    }

    async fn audit_after(&self, after_seq: i64, limit: usize) -> Result<Vec<AuditRow>, StoreError> {
        let rows: Vec<AuditDbRow> = sqlx::query_as(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
        ))
        .bind(after_seq)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(rows.into_iter().map(audit_from_db).collect())
    }

    async fn workspace_by_name(&self, name: &str) -> Result<Option<Workspace>, StoreError> {
        let row: Option<(String, String, i64)> =
            sqlx::query_as("SELECT id, name, created_at FROM workspaces WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(unavailable)?;
        Ok(row.map(|(id, name, created_at)| Workspace {
            id,
            name,
            created_at,
        }))
    }

    async fn create_workspace(
        &self,
        workspace: &Workspace,
        data_key: &DataKeyRow,
    ) -> Result<(), StoreError> {
        in_tx!(self, tx, {
            {
                // A rotation adds its root key under the same lock: a data key wrapped by an
                // older root key version cannot slip in after it.
                sqlx::query("LOCK TABLE root_keys IN SHARE MODE")
                    .execute(&mut *tx)
                    .await
                    .map_err(unavailable)?;
                let newest: Option<i32> = sqlx::query_scalar("SELECT max(version) FROM root_keys")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(unavailable)?;
                if newest != Some(data_key.root_version as i32) {
                    return Err(StoreError::Conflict);
                }
                insert_workspace(&mut tx, workspace).await?;
                insert_data_key(&mut tx, data_key).await
            }
        })
    }

    async fn workspaces(&self) -> Result<Vec<Workspace>, StoreError> {
        let rows: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT id, name, created_at FROM workspaces ORDER BY name")
                .fetch_all(&self.pool)
                .await
                .map_err(unavailable)?;
        Ok(rows
            .into_iter()
            .map(|(id, name, created_at)| Workspace {
                id,
                name,
                created_at,
            })
            .collect())
    }

    async fn data_keys(&self, workspace_id: Option<&str>) -> Result<Vec<DataKeyRow>, StoreError> {
        let rows: Vec<(String, i32, i32, Vec<u8>, i64)> = sqlx::query_as(
            "SELECT workspace_id, version, root_version, wrapped, created_at FROM data_keys
             WHERE $1::text IS NULL OR workspace_id = $1 ORDER BY workspace_id, version",
        )
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(rows
            .into_iter()
            .map(|(workspace_id, v, rv, wrapped, created_at)| DataKeyRow {
                workspace_id,
                version: v as u32,
                root_version: rv as u32,
                wrapped,
                created_at,
            })
            .collect())
    }

    async fn rotate_keys(
        &self,
        root: &RootKeyRow,
        rewrapped: &[DataKeyRow],
        added: &[DataKeyRow],
        audit_key: &AuditKeyRow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        in_tx!(self, tx, {
            {
                sqlx::query("LOCK TABLE root_keys IN EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await
                    .map_err(unavailable)?;
                insert_root(&mut tx, root).await?;
                let n = sqlx::query(
                    "UPDATE audit_key SET root_version = $1, wrapped = $2
                     WHERE id = 1 AND keyed_from = $3",
                )
                .bind(audit_key.root_version as i32)
                .bind(audit_key.wrapped.clone())
                .bind(audit_key.keyed_from)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?
                .rows_affected();
                if n != 1 || audit_key.root_version != root.version {
                    return Err(StoreError::Conflict);
                }
                for dk in rewrapped {
                    let n = sqlx::query(
                        "UPDATE data_keys SET root_version = $3, wrapped = $4
                         WHERE workspace_id = $1 AND version = $2",
                    )
                    .bind(&dk.workspace_id)
                    .bind(dk.version as i32)
                    .bind(dk.root_version as i32)
                    .bind(dk.wrapped.clone())
                    .execute(&mut *tx)
                    .await
                    .map_err(unavailable)?
                    .rows_affected();
                    if n != 1 {
                        return Err(StoreError::Conflict);
                    }
                }
                let stale: i64 =
                    sqlx::query_scalar("SELECT count(*) FROM data_keys WHERE root_version <> $1")
                        .bind(root.version as i32)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(unavailable)?;
                if stale > 0 {
                    return Err(StoreError::Conflict);
                }
                for dk in added {
                    insert_data_key(&mut tx, dk).await?;
                }
                self.append_chain(&mut tx, std::slice::from_ref(audit))
                    .await
            }
        })
    }

    async fn secret(&self, workspace_id: &str, key: &str) -> Result<Option<SecretRow>, StoreError> {
        let row = sqlx::query(&SECRET_BY_KEY)
            .bind(workspace_id)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.as_ref().map(secret_from_row).transpose()
    }

    async fn secret_with_value(
        &self,
        workspace_id: &str,
        key: &str,
        version: Option<u64>,
        with_uses: bool,
    ) -> Result<Option<SecretRead>, StoreError> {
        // One round trip: the row, the value version and (when asked) the apps naming the key.
        let found = sqlx::query(&SECRET_WITH_VALUE)
            .bind(workspace_id)
            .bind(key)
            .bind(version.map(|v| v as i64))
            .bind(with_uses)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        found.as_ref().map(secret_read_from_row).transpose()
    }

    async fn secrets_with_values(
        &self,
        workspace_id: &str,
        keys: &[String],
    ) -> Result<Vec<Option<SecretRead>>, StoreError> {
        // One statement, one round trip, one snapshot for every key.
        let rows = sqlx::query(&SECRETS_WITH_VALUES)
            .bind(workspace_id)
            .bind(keys)
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        let mut found = std::collections::HashMap::with_capacity(rows.len());
        for r in &rows {
            let read = secret_read_from_row(r)?;
            found.insert(read.row.key.clone(), read);
        }
        Ok(keys.iter().map(|k| found.get(k).cloned()).collect())
    }

    async fn value(
        &self,
        secret_id: &str,
        env: &str,
        version: u64,
    ) -> Result<Option<SealedValue>, StoreError> {
        let row: Option<(i64, i32, Vec<u8>, i64, String)> = sqlx::query_as(
            "SELECT version, key_version, ciphertext, created_at, created_by FROM secret_values
             WHERE secret_id = $1 AND env = $2 AND version = $3",
        )
        .bind(secret_id)
        .bind(env)
        .bind(version as i64)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(
            row.map(|(v, kv, ciphertext, created_at, created_by)| SealedValue {
                env: env.to_string(),
                version: v as u64,
                key_version: kv as u32,
                ciphertext,
                created_at,
                created_by,
            }),
        )
    }

    async fn versions(&self, secret_id: &str) -> Result<Vec<VersionRow>, StoreError> {
        let rows: Vec<(i64, i64, String, String)> = sqlx::query_as(
            "SELECT version, created_at, created_by, env FROM secret_values WHERE secret_id = $1 ORDER BY env, version",
        )
        .bind(secret_id)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(rows
            .into_iter()
            .map(|(v, created_at, created_by, env)| VersionRow {
                env,
                version: v as u64,
                created_at,
                created_by,
            })
            .collect())
    }

    async fn events_after(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<EventRow>, StoreError> {
        let rows: Vec<EventDbRow> = sqlx::query_as(
            "SELECT seq, ts_ms, kind, workspace, key, version, env, detail FROM events
             WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.into_iter().map(event_from_db).collect()
    }

    async fn event_head(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0)::BIGINT FROM events")
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)
    }

    async fn prune_events(&self, before_ms: i64) -> Result<u64, StoreError> {
        let r = sqlx::query("DELETE FROM events WHERE ts_ms < $1")
            .bind(before_ms)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(r.rows_affected())
    }

    fn change_signal(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        let rx = self.signal.get_or_init(|| {
            let (tx, rx) = tokio::sync::watch::channel(0);
            tokio::spawn(listen_events(self.pool.clone(), tx));
            rx
        });
        Some(rx.clone())
    }

    async fn notices_due(&self, now: i64, limit: usize) -> Result<Vec<NoticeDue>, StoreError> {
        let rows: Vec<(String, String, String, i64, i64)> = sqlx::query_as(
            "SELECT s.id, w.name, s.key, s.version, s.expires_at
             FROM secrets s JOIN workspaces w ON w.id = s.workspace_id
             WHERE s.expires_at IS NOT NULL AND s.expires_at <= $1 + $2
               AND s.status = 'active'
               AND s.expires_at <= $1 + COALESCE(s.notify_before, $3)
               AND NOT EXISTS (
                   SELECT 1 FROM expiry_notices n
                   WHERE n.secret_id = s.id AND n.expires_at = s.expires_at
                     AND n.kind = CASE WHEN s.expires_at <= $1 THEN 'expired' ELSE 'expiring' END)
             ORDER BY s.expires_at LIMIT $4",
        )
        .bind(now)
        .bind(MAX_NOTIFY_BEFORE)
        .bind(DEFAULT_NOTIFY_BEFORE)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(rows.into_iter().map(|r| NoticeDue::at(r, now)).collect())
    }

    async fn record_notices(&self, notices: &[(NoticeDue, AuditEntry)]) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let mut entries = Vec::new();
        for (n, entry) in notices {
            let added = sqlx::query(
                "INSERT INTO expiry_notices (secret_id, kind, expires_at) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
            )
            .bind(&n.secret_id)
            .bind(n.kind.as_str())
            .bind(n.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?
            .rows_affected();
            if added == 1 {
                entries.push(entry.clone());
            }
        }
        self.append_chain(&mut tx, &entries).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(entries.len() as u64)
    }

    async fn count_expiring(&self, now: i64, until: i64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM secrets
             WHERE status = 'active' AND expires_at > $1 AND expires_at <= $2",
        )
        .bind(now)
        .bind(until)
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(n as u64)
    }

    async fn list(
        &self,
        workspace_id: &str,
        filter: &ListFilter,
        now: i64,
    ) -> Result<Vec<SecretRow>, StoreError> {
        let status = filter.status.map(|s| s.as_str());
        let prefix_end = filter.prefix.as_ref().map(|p| format!("{p}\u{10FFFF}"));
        let limit = filter.limit.map(|l| l as i64);
        let rows = sqlx::query(&format!(
            "SELECT {SECRET_COLUMNS} FROM secrets
             WHERE workspace_id = $1
               AND ($2::text IS NULL OR cardinality(envs) = 0 OR $2 = ANY(envs))
               AND ($3::text IS NULL OR cardinality(scope) = 0 OR $3 = ANY(scope))
               AND ($4::text IS NULL OR (key >= $4 AND key < $5))
               AND ($6::text IS NULL
                    OR ($6 = 'revoked' AND status = 'revoked')
                    OR ($6 = 'expired' AND status = 'active' AND expires_at IS NOT NULL AND expires_at <= $7)
                    OR ($6 = 'active' AND status = 'active' AND (expires_at IS NULL OR expires_at > $7))
                    OR ($6 = 'expiring' AND status = 'active' AND expires_at IS NOT NULL AND expires_at > $7
                        AND expires_at - COALESCE(notify_before, {DEFAULT_NOTIFY_BEFORE}) <= $7))
               AND ($8::text IS NULL OR key > $8)
             ORDER BY key
             LIMIT $9"
        ))
        .bind(workspace_id)
        .bind(&filter.env)
        .bind(&filter.app)
        .bind(&filter.prefix)
        .bind(prefix_end)
        .bind(status)
        .bind(now)
        .bind(&filter.after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(secret_from_row).collect()
    }

    async fn write_secret(&self, w: &SecretWrite) -> Result<(), StoreError> {
        in_tx!(self, tx, {
            {
                apply_write(&mut tx, w).await?;
                self.append_chain(&mut tx, std::slice::from_ref(&w.audit))
                    .await
            }
        })
    }

    async fn commit_batch(
        &self,
        batch: &[Commit],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        if batch
            .iter()
            .all(|u| matches!(u, Commit::Reads { marks, .. } if marks.is_empty()))
        {
            // Only audit rows (reads by tokens that are not apps): one statement, no
            // transaction around it.
            let entries: Vec<&AuditEntry> = batch
                .iter()
                .flat_map(|u| match u {
                    Commit::Reads { entries, .. } => entries.as_slice(),
                    Commit::Write(_) => &[],
                })
                .collect();
            self.append_alone(&entries).await?;
            return Ok(batch.iter().map(|_| Ok(())).collect());
        }
        in_tx!(self, tx, {
            {
                let mut out = Vec::with_capacity(batch.len());
                let mut entries = Vec::new();
                for unit in batch {
                    let done = match unit {
                        // Audit rows alone are appended below, all or none with the batch.
                        Commit::Reads { marks, .. } if marks.is_empty() => Ok(()),
                        _ => apply_unit(&mut tx, unit).await?,
                    };
                    if done.is_ok() {
                        match unit {
                            Commit::Write(w) => entries.push(&w.audit),
                            Commit::Reads { entries: e, .. } => entries.extend(e.iter()),
                        }
                    }
                    out.push(done);
                }
                // Every applied unit's rows, chained in one step under the head's lock, which
                // is held only from here to the commit.
                self.append_chain_of(&mut tx, &entries).await?;
                Ok(out)
            }
        })
    }

    async fn delete_secret(
        &self,
        secret_id: &str,
        expected_revision: u64,
        force: bool,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        in_tx!(self, tx, {
            {
                // The row, locked; then app_keys in a mode that conflicts with registrations
                // (put_app), so a manifest naming this key cannot be registered between the
                // in-use check and the delete.
                let ws: Option<(String, String)> = sqlx::query_as(
                    "SELECT workspace_id, key FROM secrets WHERE id = $1 AND revision = $2 FOR UPDATE",
                )
                .bind(secret_id)
                .bind(expected_revision as i64)
                .fetch_optional(&mut *tx)
                .await
                .map_err(unavailable)?;
                let Some((workspace_id, key)) = ws else {
                    return Err(StoreError::Conflict);
                };
                if !force {
                    sqlx::query("LOCK TABLE app_keys IN SHARE MODE")
                        .execute(&mut *tx)
                        .await
                        .map_err(unavailable)?;
                    let apps: Vec<String> = sqlx::query_scalar(
                        "SELECT DISTINCT app FROM app_keys WHERE workspace_id = $1 AND key = $2 ORDER BY app",
                    )
                    .bind(&workspace_id)
                    .bind(&key)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(unavailable)?;
                    if !apps.is_empty() {
                        return Err(StoreError::InUse(apps));
                    }
                }
                sqlx::query("DELETE FROM secrets WHERE id = $1")
                    .bind(secret_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(unavailable)?;
                self.append_chain(&mut tx, std::slice::from_ref(audit))
                    .await
            }
        })
    }

    async fn append_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        let entries: Vec<&AuditEntry> = entries.iter().collect();
        self.append_alone(&entries).await
    }

    async fn record_reads(
        &self,
        entries: &[AuditEntry],
        reads: &[ReadMark],
    ) -> Result<(), StoreError> {
        in_tx!(self, tx, {
            {
                apply_marks(&mut tx, reads).await?;
                self.append_chain(&mut tx, entries).await
            }
        })
    }

    async fn audit(&self, f: &AuditFilter) -> Result<Vec<AuditRow>, StoreError> {
        let rows: Vec<AuditDbRow> = sqlx::query_as(&format!(
            "SELECT {AUDIT_COLUMNS}
             FROM audit_log
             WHERE ($1::text IS NULL OR key = $1
                    OR seq IN (SELECT seq FROM audit_keys WHERE key = $1))
               AND ($2::text IS NULL OR actor_id = $2 OR actor_name = $2)
               AND ($3::bigint IS NULL OR ts_ms >= $3)
               AND ($4::bigint IS NULL OR ts_ms < $4)
               AND ($5::bigint IS NULL OR seq > $5)
               AND ($7::text IS NULL OR workspace = $7 OR ($8 AND workspace IS NULL))
             ORDER BY seq LIMIT $6"
        ))
        .bind(&f.key)
        .bind(&f.actor)
        .bind(f.since_ms)
        .bind(f.until_ms)
        .bind(f.after_seq)
        .bind(f.limit.map(|l| l as i64))
        .bind(&f.workspace)
        .bind(f.include_global)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(rows.into_iter().map(audit_from_db).collect())
    }

    async fn insert_token(&self, t: &TokenRow, audit: &AuditEntry) -> Result<(), StoreError> {
        in_tx!(self, tx, {
            {
                sqlx::query(&format!(
                    "INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                ))
                .bind(&t.id)
                .bind(&t.workspace_id)
                .bind(&t.name)
                .bind(&t.hash)
                .bind(t.role.as_str())
                .bind(&t.app)
                .bind(&t.env)
                .bind(t.expires_at)
                .bind(t.created_at)
                .bind(&t.created_by)
                .bind(t.revoked_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| conflict_on_unique(e, StoreError::Exists))?;
                self.append_chain(&mut tx, std::slice::from_ref(audit))
                    .await
            }
        })
    }

    async fn token_by_hash(&self, hash: &str, now: i64) -> Result<Option<TokenRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = $1 AND revoked_at IS NULL \
             AND (expires_at IS NULL OR expires_at > $2)"
        ))
        .bind(hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn tokens(&self, workspace_id: &str) -> Result<Vec<TokenRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens WHERE workspace_id = $1 ORDER BY created_at, id"
        ))
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(token_from_row).collect()
    }

    async fn revoke_token(
        &self,
        workspace_id: &str,
        id: &str,
        at: i64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        in_tx!(self, tx, {
            {
                let n = sqlx::query(
                    "UPDATE tokens SET revoked_at = $3
                     WHERE workspace_id = $1 AND id = $2 AND revoked_at IS NULL",
                )
                .bind(workspace_id)
                .bind(id)
                .bind(at)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?
                .rows_affected();
                if n == 0 {
                    return Ok(false);
                }
                self.append_chain(&mut tx, std::slice::from_ref(audit))
                    .await?;
                Ok(true)
            }
        })
    }

    async fn put_app(&self, app: &AppRow, audit: &AuditEntry) -> Result<bool, StoreError> {
        let manifest = serde_json::to_string(&app.manifest)
            .map_err(|e| StoreError::Corrupt(format!("cannot encode manifest: {e}")))?;
        let keys: Vec<String> = app.keys.iter().map(|k| k.key.clone()).collect();
        in_tx!(self, tx, {
            {
                // Registrations and in-use checks of deletes are serialised on app_keys.
                sqlx::query("LOCK TABLE app_keys IN SHARE ROW EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await
                    .map_err(unavailable)?;
                let created: bool = sqlx::query_scalar(
                    "INSERT INTO apps (workspace_id, name, manifest, created_at, updated_at, registered_by)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (workspace_id, name) DO UPDATE SET
                       manifest = excluded.manifest, updated_at = excluded.updated_at,
                       registered_by = excluded.registered_by
                     RETURNING (xmax = 0)",
                )
                .bind(&app.workspace_id)
                .bind(app.name())
                .bind(&manifest)
                .bind(app.created_at)
                .bind(app.updated_at)
                .bind(&app.registered_by)
                .fetch_one(&mut *tx)
                .await
                .map_err(unavailable)?;
                sqlx::query(
                    "DELETE FROM app_keys WHERE workspace_id = $1 AND app = $2 AND NOT (key = ANY($3))",
                )
                .bind(&app.workspace_id)
                .bind(app.name())
                .bind(&keys)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
                sqlx::query(
                    "INSERT INTO app_keys (workspace_id, app, key)
                     SELECT $1, $2, k FROM unnest($3::text[]) AS k
                     ON CONFLICT DO NOTHING",
                )
                .bind(&app.workspace_id)
                .bind(app.name())
                .bind(&keys)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
                self.append_chain(&mut tx, std::slice::from_ref(audit))
                    .await?;
                Ok(created)
            }
        })
    }

    async fn app(&self, workspace_id: &str, name: &str) -> Result<Option<AppRow>, StoreError> {
        Ok(self.load_apps(workspace_id, Some(name)).await?.pop())
    }

    async fn apps(&self, workspace_id: &str) -> Result<Vec<AppRow>, StoreError> {
        self.load_apps(workspace_id, None).await
    }

    async fn delete_app(
        &self,
        workspace_id: &str,
        name: &str,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        in_tx!(self, tx, {
            {
                sqlx::query("DELETE FROM app_keys WHERE workspace_id = $1 AND app = $2")
                    .bind(workspace_id)
                    .bind(name)
                    .execute(&mut *tx)
                    .await
                    .map_err(unavailable)?;
                let n = sqlx::query("DELETE FROM apps WHERE workspace_id = $1 AND name = $2")
                    .bind(workspace_id)
                    .bind(name)
                    .execute(&mut *tx)
                    .await
                    .map_err(unavailable)?
                    .rows_affected();
                if n == 0 {
                    return Ok(false);
                }
                self.append_chain(&mut tx, std::slice::from_ref(audit))
                    .await?;
                Ok(true)
            }
        })
    }

    async fn uses(&self, workspace_id: &str, keys: &[String]) -> Result<Vec<UseRow>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(String, String, Option<i64>, Option<String>)> = sqlx::query_as(
            "SELECT key, app, last_read_at, last_read_env FROM app_keys
             WHERE workspace_id = $1 AND key = ANY($2) ORDER BY key, app",
        )
        .bind(workspace_id)
        .bind(keys)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(rows
            .into_iter()
            .map(|(key, app, last_read_at, env)| UseRow {
                key,
                app,
                last_read_at,
                env,
            })
            .collect())
    }

    async fn insert_webhook(
        &self,
        hook: &hush_core::webhook::WebhookRow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.webhook_insert(hook, audit).await
    }

    async fn webhooks(
        &self,
        workspace_id: Option<&str>,
    ) -> Result<Vec<hush_core::webhook::WebhookRow>, StoreError> {
        self.webhook_list(workspace_id).await
    }

    async fn delete_webhook(
        &self,
        workspace_id: &str,
        id: &str,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.webhook_delete(workspace_id, id, audit).await
    }

    async fn enqueue_deliveries(
        &self,
        deliveries: &[hush_core::webhook::DeliveryRow],
    ) -> Result<u64, StoreError> {
        self.delivery_enqueue(deliveries).await
    }

    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease: &str,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<hush_core::webhook::DeliveryRow>, StoreError> {
        self.delivery_claim(now_ms, lease, lease_until_ms, limit)
            .await
    }

    async fn finish_delivery(
        &self,
        outcome: &hush_core::webhook::DeliveryOutcome,
    ) -> Result<bool, StoreError> {
        self.delivery_finish(outcome).await
    }

    async fn deliveries(
        &self,
        workspace_id: &str,
        webhook_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<hush_core::webhook::DeliveryRow>, StoreError> {
        self.delivery_list(workspace_id, webhook_id, limit).await
    }

    async fn prune_deliveries(&self, before_ms: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_ms < $1",
        )
        .bind(before_ms)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?
        .rows_affected())
    }

    async fn dump(&self) -> Result<Dump, StoreError> {
        self.dump_all().await
    }

    async fn load(&self, dump: &Dump) -> Result<(), StoreError> {
        self.load_all(dump).await
    }
}

type AuditDbRow = (
    i64,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

impl PostgresStore {
    /// Appends entries to the chain inside the caller's transaction, authenticated with the
    /// audit key the store was given.
    async fn append_chain(&self, tx: &mut Tx, entries: &[AuditEntry]) -> Result<(), StoreError> {
        let entries: Vec<&AuditEntry> = entries.iter().collect();
        self.append_chain_of(tx, &entries).await
    }

    /// [`PostgresStore::append_chain`] for entries where they are (a batch's, from its units).
    async fn append_chain_of(
        &self,
        tx: &mut Tx,
        entries: &[&AuditEntry],
    ) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let key = self.chain_key()?;
        let head = append_chain(tx, &key, entries).await?;
        // Right once the transaction commits; if it does not, the next guess is wrong and
        // [`append_if_head`] finds out.
        *self.head.lock().unwrap_or_else(|e| e.into_inner()) = head;
        Ok(())
    }

    /// The key appended rows are authenticated with.
    fn chain_key(&self) -> Result<AuditKey, StoreError> {
        self.audit_key
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or(StoreError::NoAuditKey)
    }

    /// Appends audit rows that go with nothing else (reads, refusals), durably: in one
    /// statement after the head this node saw last ([`append_if_head`]); if another node
    /// moved the head meanwhile, after the head read again; rows that make an event, a store
    /// without a head yet, or a head that keeps moving take a transaction ([`append_chain`]).
    async fn append_alone(&self, entries: &[&AuditEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let evented = entries.iter().any(|e| EventRow::from_entry(0, e).is_some());
        if !evented {
            let key = self.chain_key()?;
            for _ in 0..HEAD_GUESSES {
                let guess = self.head.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let guess = match guess {
                    Some(g) => g,
                    None => {
                        let stored: Option<(i64, String)> =
                            sqlx::query_as("SELECT seq, mac FROM audit_head WHERE id = 1")
                                .fetch_optional(&self.pool)
                                .await
                                .map_err(unavailable)?;
                        match stored {
                            Some(g) => g,
                            None => break,
                        }
                    }
                };
                let appended = append_if_head(&self.pool, &key, &guess, entries).await?;
                let found = appended.is_some();
                *self.head.lock().unwrap_or_else(|e| e.into_inner()) = appended;
                if found {
                    return Ok(());
                }
            }
        }
        in_tx!(self, tx, { self.append_chain_of(&mut tx, entries).await })
    }

    async fn load_apps(
        &self,
        workspace_id: &str,
        name: Option<&str>,
    ) -> Result<Vec<AppRow>, StoreError> {
        let apps: Vec<(String, String, i64, i64, String)> = sqlx::query_as(
            "SELECT name, manifest, created_at, updated_at, registered_by FROM apps
             WHERE workspace_id = $1 AND ($2::text IS NULL OR name = $2) ORDER BY name",
        )
        .bind(workspace_id)
        .bind(name)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        let keys: Vec<(String, String, Option<i64>, Option<String>)> = sqlx::query_as(
            "SELECT app, key, last_read_at, last_read_env FROM app_keys
             WHERE workspace_id = $1 AND ($2::text IS NULL OR app = $2) ORDER BY app, key",
        )
        .bind(workspace_id)
        .bind(name)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        let keys: Vec<(String, AppKeyRow)> = keys
            .into_iter()
            .map(|(app, key, last_read_at, env)| {
                (
                    app,
                    AppKeyRow {
                        key,
                        last_read_at,
                        env,
                    },
                )
            })
            .collect();
        hush_core::app::assemble(workspace_id, apps, &keys)
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn urls_in_messages_never_carry_the_password() {
        assert_eq!(
            redact_url("postgres://hush:s3cr3t@db.internal:5432/hush?sslmode=require&password=x"),
            "postgres://hush:***@db.internal:5432/hush"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1:5432/test"),
            "postgres://postgres@127.0.0.1:5432/test"
        );
        assert_eq!(redact_url("postgresql://host/db"), "postgresql://host/db");
        assert_eq!(redact_url("not a url s3cr3t"), "(not a URL)");
    }
}

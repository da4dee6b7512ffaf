//! [`Store::dump`] and [`Store::load`] on PostgreSQL: every table's rows as stored, read in
//! one `REPEATABLE READ` snapshot, and written into an empty database in one transaction
//! (`hush migrate`).
//!
//! [`Store::dump`]: hush_core::Store::dump
//! [`Store::load`]: hush_core::Store::load

use hush_core::audit::{AuditEntry, AuditRow};
use hush_core::model::SealedValue;
use hush_core::store::{
    check_dumpable, check_empty, AppDumpRow, AppKeyDumpRow, AuditKeyRow, DataKeyRow, Dump,
    RootKeyKind, RootKeyRow, StoreError, ValueDumpRow, DUMPED,
};
use hush_core::Workspace;
use sqlx::postgres::PgRow;
use sqlx::query_builder::Separated;
use sqlx::{Postgres, QueryBuilder, Row as _};

use super::webhooks::{insert_webhook_row, webhook_from_row, WEBHOOK_COLUMNS};
use super::{
    audit_from_db, corrupt, env_versions_json, read_checkpoint, secret_from_row, token_from_row,
    unavailable, AuditDbRow, PostgresStore, Tx, AUDIT_COLUMNS, SECRET_COLUMNS, TOKEN_COLUMNS,
};

/// The store's own bookkeeping tables, which a dump does not copy: the schema version, and the
/// chain's head, which a load sets from the audit rows, the change events (kept 48 hours, for
/// followers of this store), which expiry notices were given (a migrated store gives them
/// again, once), webhook deliveries (bookkeeping of this store's dispatchers) and `audit_keys`,
/// the index of the keys in audit rows' items, made again from the rows as they are loaded.
const OWN_TABLES: &[&str] = &[
    "hush_schema",
    "audit_head",
    "events",
    "expiry_notices",
    "webhook_deliveries",
    "audit_keys",
];

/// Rows per `INSERT`: well under PostgreSQL's 65535 bound parameters at 16 columns.
const CHUNK: usize = 1000;

/// Every `(table, column)` of the schema the store works in.
async fn schema(tx: &mut Tx) -> Result<Vec<(String, String)>, StoreError> {
    sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text
         FROM information_schema.columns c
         JOIN information_schema.tables t
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name
         WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
         ORDER BY c.table_name, c.ordinal_position",
    )
    .fetch_all(&mut **tx)
    .await
    .map_err(unavailable)
}

async fn rows(tx: &mut Tx, sql: &str) -> Result<Vec<PgRow>, StoreError> {
    sqlx::query(sql)
        .fetch_all(&mut **tx)
        .await
        .map_err(unavailable)
}

/// Every row, read inside `tx` (one snapshot).
async fn read_all(tx: &mut Tx) -> Result<Dump, StoreError> {
    check_dumpable(&schema(tx).await?, OWN_TABLES)?;
    let get = |e: sqlx::Error| unavailable(e);
    let root_keys = rows(
        tx,
        "SELECT version, kind, salt, kdf_m_kib, kdf_t, kdf_p, check_value, created_at FROM root_keys",
    )
    .await?
    .iter()
    .map(|r| {
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
    .collect::<Result<Vec<_>, StoreError>>()?;
    let audit_key: Option<(i32, Vec<u8>, i64, i64)> = sqlx::query_as(
        "SELECT root_version, wrapped, keyed_from, created_at FROM audit_key WHERE id = 1",
    )
    .fetch_optional(&mut **tx)
    .await
    .map_err(unavailable)?;
    let audit_key = audit_key.map(|(rv, wrapped, keyed_from, created_at)| AuditKeyRow {
        root_version: rv as u32,
        wrapped,
        keyed_from,
        created_at,
    });
    let workspaces: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT id, name, created_at FROM workspaces")
            .fetch_all(&mut **tx)
            .await
            .map_err(unavailable)?;
    let workspaces = workspaces
        .into_iter()
        .map(|(id, name, created_at)| Workspace {
            id,
            name,
            created_at,
        })
        .collect();
    let data_keys: Vec<(String, i32, i32, Vec<u8>, i64)> = sqlx::query_as(
        "SELECT workspace_id, version, root_version, wrapped, created_at FROM data_keys",
    )
    .fetch_all(&mut **tx)
    .await
    .map_err(unavailable)?;
    let data_keys = data_keys
        .into_iter()
        .map(
            |(workspace_id, version, root_version, wrapped, created_at)| DataKeyRow {
                workspace_id,
                version: version as u32,
                root_version: root_version as u32,
                wrapped,
                created_at,
            },
        )
        .collect();
    let secrets = rows(tx, &format!("SELECT {SECRET_COLUMNS} FROM secrets"))
        .await?
        .iter()
        .map(secret_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    type ValueDbRow = (String, String, i64, i32, Vec<u8>, i64, String);
    let values: Vec<ValueDbRow> = sqlx::query_as(
        "SELECT secret_id, env, version, key_version, ciphertext, created_at, created_by
         FROM secret_values",
    )
    .fetch_all(&mut **tx)
    .await
    .map_err(unavailable)?;
    let values = values
        .into_iter()
        .map(
            |(secret_id, env, version, key_version, ciphertext, created_at, created_by)| {
                ValueDumpRow {
                    secret_id,
                    value: SealedValue {
                        env,
                        version: version as u64,
                        key_version: key_version as u32,
                        ciphertext,
                        created_at,
                        created_by,
                    },
                }
            },
        )
        .collect();
    let tokens = rows(tx, &format!("SELECT {TOKEN_COLUMNS} FROM tokens"))
        .await?
        .iter()
        .map(token_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let apps: Vec<(String, String, String, i64, i64, String)> = sqlx::query_as(
        "SELECT workspace_id, name, manifest, created_at, updated_at, registered_by FROM apps",
    )
    .fetch_all(&mut **tx)
    .await
    .map_err(unavailable)?;
    let apps = apps
        .into_iter()
        .map(
            |(workspace_id, name, manifest, created_at, updated_at, registered_by)| AppDumpRow {
                workspace_id,
                name,
                manifest,
                created_at,
                updated_at,
                registered_by,
            },
        )
        .collect();
    type AppKeyTuple = (String, String, String, Option<i64>, Option<String>);
    let app_keys: Vec<AppKeyTuple> =
        sqlx::query_as("SELECT workspace_id, app, key, last_read_at, last_read_env FROM app_keys")
            .fetch_all(&mut **tx)
            .await
            .map_err(unavailable)?;
    let app_keys = app_keys
        .into_iter()
        .map(
            |(workspace_id, app, key, last_read_at, last_read_env)| AppKeyDumpRow {
                workspace_id,
                app,
                key,
                last_read_at,
                last_read_env,
            },
        )
        .collect();
    let audit_checkpoint = read_checkpoint(&mut **tx).await?;
    let webhooks = rows(tx, &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks"))
        .await?
        .iter()
        .map(webhook_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let audit: Vec<AuditDbRow> = sqlx::query_as(&format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY seq"
    ))
    .fetch_all(&mut **tx)
    .await
    .map_err(unavailable)?;
    let mut dump = Dump {
        root_keys,
        audit_key,
        workspaces,
        data_keys,
        secrets,
        values,
        tokens,
        apps,
        app_keys,
        audit: audit.into_iter().map(audit_from_db).collect(),
        audit_checkpoint,
        webhooks,
    };
    dump.sort();
    Ok(dump)
}

/// Inserts `rows` into `table` (`columns`: its column list), `CHUNK` rows per statement;
/// `bind` binds one row's values in the columns' order.
async fn insert_rows<'a, T>(
    tx: &mut Tx,
    table: &str,
    columns: &str,
    rows: &'a [T],
    mut bind: impl FnMut(&mut Separated<'_, 'a, Postgres, &'static str>, &'a T),
) -> Result<(), StoreError> {
    for chunk in rows.chunks(CHUNK) {
        let mut qb: QueryBuilder<'a, Postgres> =
            QueryBuilder::new(format!("INSERT INTO {table} ({columns}) "));
        qb.push_values(chunk, |mut b, row| bind(&mut b, row));
        qb.build().execute(&mut **tx).await.map_err(unavailable)?;
    }
    Ok(())
}

/// Binds one audit row's values in [`AUDIT_COLUMNS`]' order. Every field is named (no `..`),
/// so a field added to the row fails to compile here until it is bound too.
fn bind_audit_row<'a>(b: &mut Separated<'_, 'a, Postgres, &'static str>, row: &'a AuditRow) {
    let AuditRow {
        seq,
        entry:
            AuditEntry {
                ts_ms,
                actor_id,
                actor_name,
                action,
                workspace,
                key,
                version,
                outcome,
                env,
                remote,
                request_id,
                detail,
                items,
            },
        prev_mac,
        mac,
    } = row;
    let items = (!items.is_empty()).then(|| serde_json::to_string(items).unwrap_or_default());
    b.push_bind(*seq)
        .push_bind(*ts_ms)
        .push_bind(actor_id)
        .push_bind(actor_name)
        .push_bind(action)
        .push_bind(workspace)
        .push_bind(key)
        .push_bind(version.map(|v| v as i64))
        .push_bind(outcome)
        .push_bind(remote)
        .push_bind(prev_mac)
        .push_bind(mac)
        .push_bind(env)
        .push_bind(request_id)
        .push_bind(detail)
        .push_bind(items);
}

/// Writes every row of `dump` inside `tx`, after checking the database holds none.
async fn write_all(tx: &mut Tx, dump: &Dump) -> Result<(), StoreError> {
    check_dumpable(&schema(tx).await?, OWN_TABLES)?;
    // No other writer may slip a row in between the check and the copy.
    let tables: Vec<&str> = DUMPED.iter().map(|(t, _)| *t).collect();
    sqlx::query(&format!(
        "LOCK TABLE {}, audit_head IN EXCLUSIVE MODE",
        tables.join(", ")
    ))
    .execute(&mut **tx)
    .await
    .map_err(unavailable)?;
    let mut counts = Vec::new();
    for table in &tables {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&mut **tx)
            .await
            .map_err(unavailable)?;
        counts.push((table.to_string(), n));
    }
    let head: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_head WHERE seq > 0")
        .fetch_one(&mut **tx)
        .await
        .map_err(unavailable)?;
    counts.push(("audit_head".to_string(), head));
    check_empty(&counts)?;
    // Parents before children, for the foreign keys.
    insert_rows(
        tx,
        "root_keys",
        "version, kind, salt, kdf_m_kib, kdf_t, kdf_p, check_value, created_at",
        &dump.root_keys,
        |b, r| {
            let (m, t, p) = match r.kdf {
                Some((m, t, p)) => (Some(i64::from(m)), Some(i64::from(t)), Some(i64::from(p))),
                None => (None, None, None),
            };
            b.push_bind(r.version as i32)
                .push_bind(r.kind.as_str())
                .push_bind(&r.salt)
                .push_bind(m)
                .push_bind(t)
                .push_bind(p)
                .push_bind(&r.check)
                .push_bind(r.created_at);
        },
    )
    .await?;
    insert_rows(
        tx,
        "audit_key",
        "id, root_version, wrapped, keyed_from, created_at",
        dump.audit_key.as_slice(),
        |b, k| {
            b.push_bind(1i32)
                .push_bind(k.root_version as i32)
                .push_bind(&k.wrapped)
                .push_bind(k.keyed_from)
                .push_bind(k.created_at);
        },
    )
    .await?;
    insert_rows(
        tx,
        "workspaces",
        "id, name, created_at",
        &dump.workspaces,
        |b, w| {
            b.push_bind(&w.id)
                .push_bind(&w.name)
                .push_bind(w.created_at);
        },
    )
    .await?;
    insert_rows(
        tx,
        "data_keys",
        "workspace_id, version, root_version, wrapped, created_at",
        &dump.data_keys,
        |b, d| {
            b.push_bind(&d.workspace_id)
                .push_bind(d.version as i32)
                .push_bind(d.root_version as i32)
                .push_bind(&d.wrapped)
                .push_bind(d.created_at);
        },
    )
    .await?;
    insert_rows(tx, "secrets", SECRET_COLUMNS, &dump.secrets, |b, r| {
        b.push_bind(&r.id)
            .push_bind(&r.workspace_id)
            .push_bind(&r.key)
            .push_bind(&r.meta.description)
            .push_bind(r.meta.token_type.map(|t| t.as_str()))
            .push_bind(&r.meta.scope)
            .push_bind(&r.meta.envs)
            .push_bind(r.meta.expires_at)
            .push_bind(r.status.as_str())
            .push_bind(r.version as i64)
            .push_bind(r.revision as i64)
            .push_bind(r.created_at)
            .push_bind(r.updated_at)
            .push_bind(&r.created_by)
            .push_bind(&r.updated_by)
            .push_bind(env_versions_json(&r.env_versions))
            .push_bind(r.meta.notify_before);
    })
    .await?;
    insert_rows(
        tx,
        "secret_values",
        "secret_id, env, version, key_version, ciphertext, created_at, created_by",
        &dump.values,
        |b, v| {
            b.push_bind(&v.secret_id)
                .push_bind(&v.value.env)
                .push_bind(v.value.version as i64)
                .push_bind(v.value.key_version as i32)
                .push_bind(&v.value.ciphertext)
                .push_bind(v.value.created_at)
                .push_bind(&v.value.created_by);
        },
    )
    .await?;
    insert_rows(tx, "tokens", TOKEN_COLUMNS, &dump.tokens, |b, t| {
        b.push_bind(&t.id)
            .push_bind(&t.workspace_id)
            .push_bind(&t.name)
            .push_bind(&t.hash)
            .push_bind(t.role.as_str())
            .push_bind(&t.app)
            .push_bind(&t.env)
            .push_bind(t.expires_at)
            .push_bind(t.created_at)
            .push_bind(&t.created_by)
            .push_bind(t.revoked_at);
    })
    .await?;
    insert_rows(
        tx,
        "apps",
        "workspace_id, name, manifest, created_at, updated_at, registered_by",
        &dump.apps,
        |b, a| {
            b.push_bind(&a.workspace_id)
                .push_bind(&a.name)
                .push_bind(&a.manifest)
                .push_bind(a.created_at)
                .push_bind(a.updated_at)
                .push_bind(&a.registered_by);
        },
    )
    .await?;
    insert_rows(
        tx,
        "app_keys",
        "workspace_id, app, key, last_read_at, last_read_env",
        &dump.app_keys,
        |b, k| {
            b.push_bind(&k.workspace_id)
                .push_bind(&k.app)
                .push_bind(&k.key)
                .push_bind(k.last_read_at)
                .push_bind(&k.last_read_env);
        },
    )
    .await?;
    insert_rows(tx, "audit_log", AUDIT_COLUMNS, &dump.audit, bind_audit_row).await?;
    // The index of the keys in rows that name several, made again from the rows.
    sqlx::query(
        "INSERT INTO audit_keys (key, seq)
         SELECT item->>'key', a.seq FROM audit_log a, jsonb_array_elements(a.items::jsonb) AS item
         WHERE a.items IS NOT NULL
         ON CONFLICT DO NOTHING",
    )
    .execute(&mut **tx)
    .await
    .map_err(unavailable)?;
    if let Some(cp) = &dump.audit_checkpoint {
        sqlx::query(
            "INSERT INTO audit_checkpoint (id, seq, mac, tag, pruned_at_ms) VALUES (1, $1, $2, $3, $4)",
        )
        .bind(cp.seq)
        .bind(&cp.mac)
        .bind(&cp.tag)
        .bind(cp.pruned_at_ms)
        .execute(&mut **tx)
        .await
        .map_err(unavailable)?;
    }
    for w in &dump.webhooks {
        insert_webhook_row(tx, w).await?;
    }
    // The chain goes on from the newest copied row.
    if let Some(last) = dump.audit.iter().max_by_key(|r| r.seq) {
        sqlx::query(
            "INSERT INTO audit_head (id, seq, mac) VALUES (1, $1, $2)
             ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, mac = excluded.mac",
        )
        .bind(last.seq)
        .bind(&last.mac)
        .execute(&mut **tx)
        .await
        .map_err(unavailable)?;
    }
    Ok(())
}

impl PostgresStore {
    /// [`hush_core::Store::dump`]: in one read-only `REPEATABLE READ` transaction, so the rows
    /// are one snapshot while other nodes keep writing.
    pub(crate) async fn dump_all(&self) -> Result<Dump, StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        let dump = read_all(&mut tx).await;
        let _ = tx.rollback().await;
        dump
    }

    /// [`hush_core::Store::load`]: one transaction, committed only when every row is in.
    pub(crate) async fn load_all(&self, dump: &Dump) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        match write_all(&mut tx, dump).await {
            Ok(()) => tx.commit().await.map_err(unavailable),
            Err(e) => {
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }
}

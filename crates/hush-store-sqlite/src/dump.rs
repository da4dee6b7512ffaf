//! [`Store::dump`] and [`Store::load`] on SQLite: every table's rows as stored, read in one
//! snapshot, and written into an empty store in one transaction (`hush migrate`).
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
use rusqlite::{params, Connection, OptionalExtension as _};

use super::webhooks::{insert_webhook_row, webhook_from_row, WEBHOOK_COLUMNS};
use super::{
    audit_from_row, corrupt, env_versions_json, insert_audit_key, insert_data_key, insert_root,
    insert_workspace, read_checkpoint, secret_from_row, to_json, token_from_row, unavailable,
    SqliteStore, AUDIT_COLUMNS, INSERT_SECRET, SECRET_COLUMNS, TOKEN_COLUMNS,
};

/// `?1, ?2, …`, one per column of `columns` (a comma-separated list).
fn placeholders(columns: &str) -> String {
    (1..=columns.split(',').count())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every `(table, column)` of the schema.
fn schema(c: &Connection) -> rusqlite::Result<Vec<(String, String)>> {
    let mut st = c.prepare(
        "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid",
    )?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

fn all<T>(
    c: &Connection,
    sql: &str,
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut st = c.prepare(sql)?;
    let rows = st.query_map([], f)?;
    rows.collect()
}

/// Tables a dump does not copy: the change events (kept 48 hours, for followers of this store),
/// which expiry notices were given (a migrated store gives them again, once) and webhook
/// deliveries (bookkeeping of this store's dispatchers).
const OWN_TABLES: &[&str] = &["events", "expiry_notices", "webhook_deliveries"];

/// Every row, read inside `c`'s open transaction (one snapshot).
fn read_all(c: &Connection) -> Result<Dump, StoreError> {
    check_dumpable(&schema(c).map_err(unavailable)?, OWN_TABLES)?;
    let q = |e: rusqlite::Error| unavailable(e);
    let root_keys = all(
        c,
        "SELECT version, kind, salt, kdf_m_kib, kdf_t, kdf_p, check_value, created_at FROM root_keys",
        |r| {
            let kind: String = r.get(1)?;
            let (m, t, p): (Option<u32>, Option<u32>, Option<u32>) =
                (r.get(3)?, r.get(4)?, r.get(5)?);
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
        },
    )
    .map_err(q)?;
    let audit_key = c
        .query_row(
            "SELECT root_version, wrapped, keyed_from, created_at FROM audit_key WHERE id = 1",
            [],
            |r| {
                Ok(AuditKeyRow {
                    root_version: r.get(0)?,
                    wrapped: r.get(1)?,
                    keyed_from: r.get(2)?,
                    created_at: r.get(3)?,
                })
            },
        )
        .optional()
        .map_err(q)?;
    let workspaces = all(c, "SELECT id, name, created_at FROM workspaces", |r| {
        Ok(Workspace {
            id: r.get(0)?,
            name: r.get(1)?,
            created_at: r.get(2)?,
        })
    })
    .map_err(q)?;
    let data_keys = all(
        c,
        "SELECT workspace_id, version, root_version, wrapped, created_at FROM data_keys",
        |r| {
            Ok(DataKeyRow {
                workspace_id: r.get(0)?,
                version: r.get(1)?,
                root_version: r.get(2)?,
                wrapped: r.get(3)?,
                created_at: r.get(4)?,
            })
        },
    )
    .map_err(q)?;
    let secrets = all(
        c,
        &format!("SELECT {SECRET_COLUMNS} FROM secrets"),
        secret_from_row,
    )
    .map_err(q)?;
    let values = all(
        c,
        "SELECT secret_id, env, version, key_version, ciphertext, created_at, created_by FROM secret_values",
        |r| {
            Ok(ValueDumpRow {
                secret_id: r.get(0)?,
                value: SealedValue {
                    env: r.get(1)?,
                    version: r.get::<_, i64>(2)? as u64,
                    key_version: r.get(3)?,
                    ciphertext: r.get(4)?,
                    created_at: r.get(5)?,
                    created_by: r.get(6)?,
                },
            })
        },
    )
    .map_err(q)?;
    let tokens = all(
        c,
        &format!("SELECT {TOKEN_COLUMNS} FROM tokens"),
        token_from_row,
    )
    .map_err(q)?;
    let apps = all(
        c,
        "SELECT workspace_id, name, manifest, created_at, updated_at, registered_by FROM apps",
        |r| {
            Ok(AppDumpRow {
                workspace_id: r.get(0)?,
                name: r.get(1)?,
                manifest: r.get(2)?,
                created_at: r.get(3)?,
                updated_at: r.get(4)?,
                registered_by: r.get(5)?,
            })
        },
    )
    .map_err(q)?;
    let app_keys = all(
        c,
        "SELECT workspace_id, app, key, last_read_at, last_read_env FROM app_keys",
        |r| {
            Ok(AppKeyDumpRow {
                workspace_id: r.get(0)?,
                app: r.get(1)?,
                key: r.get(2)?,
                last_read_at: r.get(3)?,
                last_read_env: r.get(4)?,
            })
        },
    )
    .map_err(q)?;
    let audit = all(
        c,
        &format!("SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY seq"),
        audit_from_row,
    )
    .map_err(q)?;
    let audit_checkpoint = read_checkpoint(c).map_err(q)?;
    let webhooks = all(
        c,
        &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks"),
        webhook_from_row,
    )
    .map_err(q)?;
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
        audit,
        audit_checkpoint,
        webhooks,
    };
    dump.sort();
    Ok(dump)
}

/// Writes one audit row as it is. Every field is named (no `..`), so a field added to the
/// row fails to compile here until it is bound too, in [`AUDIT_COLUMNS`]' order.
fn insert_audit_row(
    st: &mut rusqlite::CachedStatement<'_>,
    row: &AuditRow,
) -> Result<(), StoreError> {
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
    let version = version.map(|v| v as i64);
    let items = (!items.is_empty()).then(|| serde_json::to_string(items).unwrap_or_default());
    st.execute(params![
        seq, ts_ms, actor_id, actor_name, action, workspace, key, version, outcome, remote,
        prev_mac, mac, env, request_id, detail, items
    ])
    .map_err(unavailable)?;
    Ok(())
}

/// Writes every row of `dump` inside `tx`, after checking the store holds none.
fn write_all(tx: &rusqlite::Transaction<'_>, dump: &Dump) -> Result<(), StoreError> {
    check_dumpable(&schema(tx).map_err(unavailable)?, OWN_TABLES)?;
    let mut counts = Vec::new();
    for (table, _) in DUMPED {
        let n: i64 = tx
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .map_err(unavailable)?;
        counts.push((table.to_string(), n));
    }
    check_empty(&counts)?;
    // Parents before children, for the foreign keys.
    for root in &dump.root_keys {
        insert_root(tx, root)?;
    }
    if let Some(k) = &dump.audit_key {
        insert_audit_key(tx, k)?;
    }
    for ws in &dump.workspaces {
        insert_workspace(tx, ws)?;
    }
    for dk in &dump.data_keys {
        insert_data_key(tx, dk)?;
    }
    {
        let mut st = tx.prepare_cached(&INSERT_SECRET).map_err(unavailable)?;
        for r in &dump.secrets {
            st.execute(params![
                r.id,
                r.workspace_id,
                r.key,
                r.meta.description,
                r.meta.token_type.map(|t| t.as_str()),
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
            ])
            .map_err(unavailable)?;
        }
    }
    {
        let mut st = tx
            .prepare_cached(
                "INSERT INTO secret_values (secret_id, env, version, key_version, ciphertext, created_at, created_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .map_err(unavailable)?;
        for ValueDumpRow {
            secret_id,
            value: v,
        } in &dump.values
        {
            st.execute(params![
                secret_id,
                v.env,
                v.version as i64,
                v.key_version,
                v.ciphertext,
                v.created_at,
                v.created_by
            ])
            .map_err(unavailable)?;
        }
    }
    {
        let mut st = tx
            .prepare_cached(&format!(
                "INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES ({})",
                placeholders(TOKEN_COLUMNS)
            ))
            .map_err(unavailable)?;
        for t in &dump.tokens {
            st.execute(params![
                t.id,
                t.workspace_id,
                t.name,
                t.hash,
                t.role.as_str(),
                t.app,
                t.env,
                t.expires_at,
                t.created_at,
                t.created_by,
                t.revoked_at
            ])
            .map_err(unavailable)?;
        }
    }
    {
        let mut st = tx
            .prepare_cached(
                "INSERT INTO apps (workspace_id, name, manifest, created_at, updated_at, registered_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(unavailable)?;
        for a in &dump.apps {
            st.execute(params![
                a.workspace_id,
                a.name,
                a.manifest,
                a.created_at,
                a.updated_at,
                a.registered_by
            ])
            .map_err(unavailable)?;
        }
        let mut st = tx
            .prepare_cached(
                "INSERT INTO app_keys (workspace_id, app, key, last_read_at, last_read_env)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(unavailable)?;
        for k in &dump.app_keys {
            st.execute(params![
                k.workspace_id,
                k.app,
                k.key,
                k.last_read_at,
                k.last_read_env
            ])
            .map_err(unavailable)?;
        }
    }
    let mut st = tx
        .prepare_cached(&format!(
            "INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES ({})",
            placeholders(AUDIT_COLUMNS)
        ))
        .map_err(unavailable)?;
    for row in &dump.audit {
        insert_audit_row(&mut st, row)?;
    }
    if let Some(cp) = &dump.audit_checkpoint {
        tx.execute(
            "INSERT INTO audit_checkpoint (id, seq, mac, tag, pruned_at_ms) VALUES (1, ?1, ?2, ?3, ?4)",
            params![cp.seq, cp.mac, cp.tag, cp.pruned_at_ms],
        )
        .map_err(unavailable)?;
    }
    for w in &dump.webhooks {
        insert_webhook_row(tx, w)?;
    }
    Ok(())
}

impl SqliteStore {
    /// [`hush_core::Store::dump`]: in one read transaction, so the rows are one snapshot
    /// while other connections (a server) keep writing.
    pub(crate) fn dump_all(&self) -> Result<Dump, StoreError> {
        let conn = Self::connect(&self.path)?;
        let tx = conn.unchecked_transaction().map_err(unavailable)?;
        let dump = read_all(&tx)?;
        // Read only: nothing to commit.
        drop(tx);
        Ok(dump)
    }

    /// [`hush_core::Store::load`]: one `BEGIN IMMEDIATE` transaction.
    pub(crate) fn load_all(&self, dump: &Dump) -> Result<(), StoreError> {
        self.write(|tx| write_all(tx, dump))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use hush_core::Store as _;

    use super::*;

    /// A column the dump does not know (as a later schema could add) is refused by name, at
    /// dump and at load, rather than left behind.
    #[tokio::test]
    async fn a_column_the_dump_does_not_copy_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("hush.db")).unwrap();
        let empty = store.dump().await.unwrap();
        assert_eq!(empty, Dump::default());
        store
            .write(|tx| {
                tx.execute_batch("ALTER TABLE audit_log ADD COLUMN later TEXT")
                    .map_err(unavailable)
            })
            .unwrap();
        let e = store.dump().await.unwrap_err();
        assert!(e.to_string().contains("audit_log.later"), "{e}");
        let e = store.load(&empty).await.unwrap_err();
        assert!(e.to_string().contains("audit_log.later"), "{e}");
    }
}

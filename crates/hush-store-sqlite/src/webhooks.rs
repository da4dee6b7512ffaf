//! Webhooks and their deliveries on SQLite (see `hush_core::webhook`). A claim is one
//! `UPDATE … RETURNING` inside a `BEGIN IMMEDIATE` transaction: SQLite has one writer at a
//! time, so of two processes claiming at once, each delivery goes to one.

use hush_core::audit::AuditEntry;
use hush_core::store::StoreError;
use hush_core::webhook::{DeliveryOutcome, DeliveryRow, DeliveryStatus, WebhookRow};
use rusqlite::params;

use super::{conflict_on_unique, corrupt, unavailable, SqliteStore};

pub(crate) const WEBHOOK_COLUMNS: &str =
    "id, workspace_id, url, events, sealed_secret, after_seq, created_at, created_by";

const DELIVERY_COLUMNS: &str =
    "id, webhook_id, event_seq, event_kind, key, event_ms, body, status, \
     attempts, next_attempt_ms, last_status, last_error, delivered_ms, created_ms";

pub(crate) fn webhook_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<WebhookRow> {
    let events: String = r.get(3)?;
    Ok(WebhookRow {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        url: r.get(2)?,
        events: split_events(&events),
        sealed_secret: r.get(4)?,
        after_seq: r.get(5)?,
        created_at: r.get(6)?,
        created_by: r.get(7)?,
    })
}

/// The stored spelling of a webhook's events: comma-separated.
pub(crate) fn split_events(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|e| !e.is_empty())
        .map(str::to_string)
        .collect()
}

pub(crate) fn insert_webhook_row(
    tx: &rusqlite::Transaction<'_>,
    w: &WebhookRow,
) -> Result<(), StoreError> {
    tx.execute(
        &format!(
            "INSERT INTO webhooks ({WEBHOOK_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        ),
        params![
            w.id,
            w.workspace_id,
            w.url,
            w.events.join(","),
            w.sealed_secret,
            w.after_seq,
            w.created_at,
            w.created_by
        ],
    )
    .map_err(|e| conflict_on_unique(e, StoreError::Exists))?;
    Ok(())
}

fn delivery_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeliveryRow> {
    let status: String = r.get(7)?;
    Ok(DeliveryRow {
        id: r.get(0)?,
        webhook_id: r.get(1)?,
        event_seq: r.get(2)?,
        event_kind: r.get(3)?,
        key: r.get(4)?,
        event_ms: r.get(5)?,
        body: r.get(6)?,
        status: DeliveryStatus::parse(&status).ok_or_else(|| corrupt("delivery status"))?,
        attempts: r.get(8)?,
        next_attempt_ms: r.get(9)?,
        last_status: r.get(10)?,
        last_error: r.get(11)?,
        delivered_ms: r.get(12)?,
        created_ms: r.get(13)?,
    })
}

impl SqliteStore {
    pub(crate) fn webhook_insert(
        &self,
        w: &WebhookRow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            insert_webhook_row(tx, w)?;
            self.append_chain(tx, std::slice::from_ref(audit))
        })
    }

    pub(crate) fn webhook_list(
        &self,
        workspace_id: Option<&str>,
    ) -> Result<Vec<WebhookRow>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE ?1 IS NULL OR workspace_id = ?1
                 ORDER BY created_at, id"
            ))?;
            let rows = st.query_map([workspace_id], webhook_from_row)?;
            rows.collect()
        })
    }

    pub(crate) fn webhook_delete(
        &self,
        workspace_id: &str,
        id: &str,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.write(|tx| {
            let n = tx
                .execute(
                    "DELETE FROM webhooks WHERE workspace_id = ?1 AND id = ?2",
                    params![workspace_id, id],
                )
                .map_err(unavailable)?;
            if n == 1 {
                tx.execute("DELETE FROM webhook_deliveries WHERE webhook_id = ?1", [id])
                    .map_err(unavailable)?;
                self.append_chain(tx, std::slice::from_ref(audit))?;
            }
            Ok(n == 1)
        })
    }

    pub(crate) fn delivery_enqueue(&self, ds: &[DeliveryRow]) -> Result<u64, StoreError> {
        if ds.is_empty() {
            return Ok(0);
        }
        self.write(|tx| {
            let mut st = tx
                .prepare_cached(&format!(
                    "INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                     ON CONFLICT (webhook_id, event_seq) DO NOTHING"
                ))
                .map_err(unavailable)?;
            let mut n = 0u64;
            for d in ds {
                n += st
                    .execute(params![
                        d.id,
                        d.webhook_id,
                        d.event_seq,
                        d.event_kind,
                        d.key,
                        d.event_ms,
                        d.body,
                        d.status.as_str(),
                        d.attempts,
                        d.next_attempt_ms,
                        d.last_status,
                        d.last_error,
                        d.delivered_ms,
                        d.created_ms
                    ])
                    .map_err(unavailable)? as u64;
            }
            Ok(n)
        })
    }

    pub(crate) fn delivery_claim(
        &self,
        now_ms: i64,
        lease: &str,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.write(|tx| {
            let mut st = tx
                .prepare_cached(&format!(
                    "UPDATE webhook_deliveries SET lease = ?1, lease_until_ms = ?2
                     WHERE id IN (
                         SELECT id FROM webhook_deliveries
                         WHERE status = 'pending' AND next_attempt_ms <= ?3
                           AND (lease_until_ms IS NULL OR lease_until_ms < ?3)
                         ORDER BY next_attempt_ms LIMIT ?4)
                     RETURNING {DELIVERY_COLUMNS}"
                ))
                .map_err(unavailable)?;
            let rows = st
                .query_map(
                    params![lease, lease_until_ms, now_ms, limit],
                    delivery_from_row,
                )
                .map_err(unavailable)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(unavailable)
        })
    }

    pub(crate) fn delivery_finish(&self, o: &DeliveryOutcome) -> Result<bool, StoreError> {
        self.write(|tx| {
            let n = tx
                .execute(
                    "UPDATE webhook_deliveries SET status = ?3, attempts = attempts + 1,
                         next_attempt_ms = ?4, last_status = ?5, last_error = ?6,
                         delivered_ms = ?7, lease = NULL, lease_until_ms = NULL
                     WHERE id = ?1 AND lease = ?2",
                    params![
                        o.id,
                        o.lease,
                        o.status.as_str(),
                        o.next_attempt_ms,
                        o.last_status,
                        o.last_error,
                        o.delivered_ms
                    ],
                )
                .map_err(unavailable)?;
            Ok(n == 1)
        })
    }

    pub(crate) fn delivery_list(
        &self,
        workspace_id: &str,
        webhook_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let cols = DELIVERY_COLUMNS
            .split(", ")
            .map(|c| format!("d.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {cols} FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
                 WHERE w.workspace_id = ?1 AND (?2 IS NULL OR d.webhook_id = ?2)
                 ORDER BY d.created_ms DESC, d.event_seq DESC LIMIT ?3"
            ))?;
            let rows = st.query_map(params![workspace_id, webhook_id, limit], delivery_from_row)?;
            rows.collect()
        })
    }
}

//! Webhooks and their deliveries on PostgreSQL (see `hush_core::webhook`). Several nodes
//! queue the same delivery (`ON CONFLICT DO NOTHING` on `(webhook_id, event_seq)` keeps one)
//! and claim due ones with `FOR UPDATE SKIP LOCKED`, so each attempt is made by one node.

use hush_core::audit::AuditEntry;
use hush_core::store::StoreError;
use hush_core::webhook::{DeliveryOutcome, DeliveryRow, DeliveryStatus, WebhookRow};
use sqlx::postgres::PgRow;
use sqlx::Row as _;

use super::{conflict_on_unique, corrupt, is_retryable, unavailable, PostgresStore, Tx, RETRIES};
use std::time::Duration;

pub(crate) const WEBHOOK_COLUMNS: &str =
    "id, workspace_id, url, events, sealed_secret, after_seq, created_at, created_by";

const DELIVERY_COLUMNS: &str =
    "id, webhook_id, event_seq, event_kind, key, event_ms, body, status, \
     attempts, next_attempt_ms, last_status, last_error, delivered_ms, created_ms";

pub(crate) fn webhook_from_row(r: &PgRow) -> Result<WebhookRow, StoreError> {
    let get = |e: sqlx::Error| unavailable(e);
    let events: String = r.try_get(3).map_err(get)?;
    Ok(WebhookRow {
        id: r.try_get(0).map_err(get)?,
        workspace_id: r.try_get(1).map_err(get)?,
        url: r.try_get(2).map_err(get)?,
        events: events
            .split(',')
            .filter(|e| !e.is_empty())
            .map(str::to_string)
            .collect(),
        sealed_secret: r.try_get(4).map_err(get)?,
        after_seq: r.try_get(5).map_err(get)?,
        created_at: r.try_get(6).map_err(get)?,
        created_by: r.try_get(7).map_err(get)?,
    })
}

pub(crate) async fn insert_webhook_row(tx: &mut Tx, w: &WebhookRow) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO webhooks ({WEBHOOK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(&w.id)
    .bind(&w.workspace_id)
    .bind(&w.url)
    .bind(w.events.join(","))
    .bind(&w.sealed_secret)
    .bind(w.after_seq)
    .bind(w.created_at)
    .bind(&w.created_by)
    .execute(&mut **tx)
    .await
    .map_err(|e| conflict_on_unique(e, StoreError::Exists))?;
    Ok(())
}

fn delivery_from_row(r: &PgRow) -> Result<DeliveryRow, StoreError> {
    let get = |e: sqlx::Error| unavailable(e);
    let status: String = r.try_get(7).map_err(get)?;
    let attempts: i32 = r.try_get(8).map_err(get)?;
    let last_status: Option<i32> = r.try_get(10).map_err(get)?;
    Ok(DeliveryRow {
        id: r.try_get(0).map_err(get)?,
        webhook_id: r.try_get(1).map_err(get)?,
        event_seq: r.try_get(2).map_err(get)?,
        event_kind: r.try_get(3).map_err(get)?,
        key: r.try_get(4).map_err(get)?,
        event_ms: r.try_get(5).map_err(get)?,
        body: r.try_get(6).map_err(get)?,
        status: DeliveryStatus::parse(&status).ok_or_else(|| corrupt("delivery status"))?,
        attempts: u32::try_from(attempts).map_err(|_| corrupt("delivery attempts"))?,
        next_attempt_ms: r.try_get(9).map_err(get)?,
        last_status: last_status
            .map(u16::try_from)
            .transpose()
            .map_err(|_| corrupt("delivery status code"))?,
        last_error: r.try_get(11).map_err(get)?,
        delivered_ms: r.try_get(12).map_err(get)?,
        created_ms: r.try_get(13).map_err(get)?,
    })
}

impl PostgresStore {
    pub(crate) async fn webhook_insert(
        &self,
        w: &WebhookRow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        in_tx!(self, tx, {
            insert_webhook_row(&mut tx, w).await?;
            self.append_chain(&mut tx, std::slice::from_ref(audit))
                .await
        })
    }

    pub(crate) async fn webhook_list(
        &self,
        workspace_id: Option<&str>,
    ) -> Result<Vec<WebhookRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE $1::TEXT IS NULL OR workspace_id = $1
             ORDER BY created_at, id"
        ))
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(webhook_from_row).collect()
    }

    pub(crate) async fn webhook_delete(
        &self,
        workspace_id: &str,
        id: &str,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        in_tx!(self, tx, {
            let n = sqlx::query("DELETE FROM webhooks WHERE workspace_id = $1 AND id = $2")
                .bind(workspace_id)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?
                .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
            self.append_chain(&mut tx, std::slice::from_ref(audit))
                .await?;
            Ok(true)
        })
    }

    pub(crate) async fn delivery_enqueue(&self, ds: &[DeliveryRow]) -> Result<u64, StoreError> {
        if ds.is_empty() {
            return Ok(0);
        }
        in_tx!(self, tx, {
            let mut n = 0u64;
            for d in ds {
                n += sqlx::query(&format!(
                    "INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS})
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                     ON CONFLICT (webhook_id, event_seq) DO NOTHING"
                ))
                .bind(&d.id)
                .bind(&d.webhook_id)
                .bind(d.event_seq)
                .bind(&d.event_kind)
                .bind(&d.key)
                .bind(d.event_ms)
                .bind(&d.body)
                .bind(d.status.as_str())
                .bind(i32::try_from(d.attempts).unwrap_or(i32::MAX))
                .bind(d.next_attempt_ms)
                .bind(d.last_status.map(i32::from))
                .bind(&d.last_error)
                .bind(d.delivered_ms)
                .bind(d.created_ms)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?
                .rows_affected();
            }
            Ok(n)
        })
    }

    pub(crate) async fn delivery_claim(
        &self,
        now_ms: i64,
        lease: &str,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "UPDATE webhook_deliveries SET lease = $1, lease_until_ms = $2
             WHERE id IN (
                 SELECT id FROM webhook_deliveries
                 WHERE status = 'pending' AND next_attempt_ms <= $3
                   AND (lease_until_ms IS NULL OR lease_until_ms < $3)
                 ORDER BY next_attempt_ms LIMIT $4
                 FOR UPDATE SKIP LOCKED)
             RETURNING {DELIVERY_COLUMNS}"
        ))
        .bind(lease)
        .bind(lease_until_ms)
        .bind(now_ms)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(delivery_from_row).collect()
    }

    pub(crate) async fn delivery_finish(&self, o: &DeliveryOutcome) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE webhook_deliveries SET status = $3, attempts = attempts + 1,
                 next_attempt_ms = $4, last_status = $5, last_error = $6,
                 delivered_ms = $7, lease = NULL, lease_until_ms = NULL
             WHERE id = $1 AND lease = $2",
        )
        .bind(&o.id)
        .bind(&o.lease)
        .bind(o.status.as_str())
        .bind(o.next_attempt_ms)
        .bind(o.last_status.map(i32::from))
        .bind(&o.last_error)
        .bind(o.delivered_ms)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?
        .rows_affected();
        Ok(n == 1)
    }

    pub(crate) async fn delivery_list(
        &self,
        workspace_id: &str,
        webhook_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        let cols = DELIVERY_COLUMNS
            .split(", ")
            .map(|c| format!("d.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(&format!(
            "SELECT {cols} FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
             WHERE w.workspace_id = $1 AND ($2::TEXT IS NULL OR d.webhook_id = $2)
             ORDER BY d.created_ms DESC, d.event_seq DESC LIMIT $3"
        ))
        .bind(workspace_id)
        .bind(webhook_id)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(delivery_from_row).collect()
    }
}

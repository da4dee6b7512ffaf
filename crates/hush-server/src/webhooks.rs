//! Webhooks: `/v1/webhooks` (register, list, remove, deliveries; admin) and the dispatcher
//! every server node runs ([`start_dispatcher`]).
//!
//! The dispatcher follows the store's events and queues one delivery per (webhook, event) it
//! wants; the store keeps one row per pair however many nodes queue it. Due deliveries are
//! claimed atomically (a lease), so each attempt is made by one node. Each is POSTed as the
//! event's JSON (never a value) with `X-Hush-Signature: sha256=<hex HMAC-SHA256 of the body
//! under the webhook's secret>`, `X-Hush-Event` and `X-Hush-Delivery`; a 2xx answer delivers
//! it, anything else is tried again with a growing delay (10 s, 30 s, 90 s, … at most an
//! hour) until 24 hours after the event, when it is marked failed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use hmac::{Hmac, Mac};
use hush_core::event::EventRow;
use hush_core::model::Workspace;
use hush_core::webhook::{
    backoff_ms, wire_delivery, wire_webhook, DeliveryOutcome, DeliveryRow, DeliveryStatus,
    WebhookRow, RETRY_FOR_MS,
};
use hush_core::{clock, Hush};
use hush_wire::request::DeliveriesQuery;
use hush_wire::{Page, PageQuery, WebhookRequest};
use sha2::Sha256;
use tokio::sync::{broadcast, Semaphore};

use crate::{location, page_after, page_limit, ApiError, AppState, Body, Caller};

#[utoipa::path(
    post, path = "/v1/webhooks", tag = "webhooks", operation_id = "createWebhook",
    summary = "Register a webhook (admin); the answer is the only time its signing secret is shown",
    request_body = hush_wire::WebhookRequest,
    responses(
        (status = 201, description = "registered", body = hush_wire::NewWebhook, headers(("Location" = String, description = "`/v1/webhooks/{id}`"))),
        (status = 403, description = "forbidden: the token is not an admin", body = hush_wire::ErrorBody),
        (status = 422, description = "invalid_field: the URL is not http(s), or an event type is unknown; the message names it", body = hush_wire::ErrorBody),
    )
)]
pub(crate) async fn create(
    State(s): State<AppState>,
    c: Caller,
    Body(b): Body<WebhookRequest>,
) -> Result<Response, ApiError> {
    let (row, secret) = s
        .hush
        .add_webhook(&c.ws, &b.url, &b.events, &c.actor)
        .await?;
    // EXPOSE: the one answer that carries the signing secret.
    let body = hush_wire::NewWebhook {
        info: wire_webhook(&row),
        secret: String::from_utf8_lossy(secret.expose_secret()).into_owned(),
    };
    let at = location(&format!("/v1/webhooks/{}", row.id));
    Ok((StatusCode::CREATED, [(LOCATION, at)], Json(body)).into_response())
}

#[utoipa::path(
    get, path = "/v1/webhooks", tag = "webhooks", operation_id = "listWebhooks",
    summary = "The webhooks of the workspace (admin), never their secrets",
    params(hush_wire::PageQuery),
    responses(
        (status = 200, description = "a page of webhooks", body = Page<hush_wire::Webhook>),
        (status = 403, description = "forbidden: the token is not an admin", body = hush_wire::ErrorBody),
    )
)]
pub(crate) async fn list(
    State(s): State<AppState>,
    c: Caller,
    q: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<hush_wire::Webhook>>, ApiError> {
    let Query(q) = q?;
    let limit = page_limit(q.limit)?;
    let all: Vec<_> = s
        .hush
        .webhooks(&c.ws, &c.actor)
        .await?
        .iter()
        .map(wire_webhook)
        .collect();
    Ok(Json(page_after(all, |w| w.id.clone(), q.cursor, limit)?))
}

#[utoipa::path(
    delete, path = "/v1/webhooks/{id}", tag = "webhooks", operation_id = "deleteWebhook",
    summary = "Remove a webhook (admin) and its deliveries",
    params(("id" = String, Path, description = "The id of the webhook (`whk_…`)")),
    responses(
        (status = 204, description = "removed"),
        (status = 403, description = "forbidden: the token is not an admin", body = hush_wire::ErrorBody),
        (status = 404, description = "not_found: no such webhook", body = hush_wire::ErrorBody),
    )
)]
pub(crate) async fn remove(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.hush.remove_webhook(&c.ws, &id, &c.actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get, path = "/v1/webhooks/deliveries", tag = "webhooks", operation_id = "listWebhookDeliveries",
    summary = "The newest deliveries of the workspace's webhooks and their outcomes (admin)",
    params(hush_wire::request::DeliveriesQuery),
    responses(
        (status = 200, description = "deliveries, newest first", body = Vec<hush_wire::WebhookDelivery>),
        (status = 403, description = "forbidden: the token is not an admin", body = hush_wire::ErrorBody),
        (status = 404, description = "not_found: no such webhook", body = hush_wire::ErrorBody),
        (status = 422, description = "invalid_field: a parameter breaks a rule; the message names it", body = hush_wire::ErrorBody),
    )
)]
pub(crate) async fn deliveries(
    State(s): State<AppState>,
    c: Caller,
    q: Result<Query<DeliveriesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<hush_wire::WebhookDelivery>>, ApiError> {
    let Query(q) = q?;
    let limit = page_limit(q.limit)?;
    let rows = s
        .hush
        .webhook_deliveries(&c.ws, q.webhook.as_deref(), limit, &c.actor)
        .await?;
    Ok(Json(rows.iter().map(wire_delivery).collect()))
}

/// How long an attempt may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claim lasts: well over an attempt, so that no other node takes it meanwhile.
const LEASE_MS: i64 = 60_000;
/// Attempts in flight at once, per node.
const CONCURRENCY: usize = 8;
/// Events read per query.
const PAGE: usize = 500;
/// How long finished deliveries are listed (7 days): older ones are dropped once an hour.
const KEEP_MS: i64 = 7 * 24 * 3_600_000;

/// The first retry delay: `HUSH_WEBHOOK_RETRY_MS` (for tests), else 10 s.
fn retry_base_ms() -> i64 {
    std::env::var("HUSH_WEBHOOK_RETRY_MS")
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|v| *v > 0)
        .unwrap_or(10_000)
}

/// Starts this node's dispatcher: it runs until the process ends.
pub fn start_dispatcher(hush: Arc<Hush>) {
    tokio::spawn(async move {
        let client = match reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("hush-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "webhooks: cannot make an HTTP client; no webhook is delivered");
                return;
            }
        };
        let lease = match hush_core::service::new_id("lease") {
            Ok(l) => l,
            Err(_) => return,
        };
        let mut d = Dispatcher {
            rx: hush.events().subscribe(),
            hush,
            client,
            lease,
            cursor: None,
            known: HashSet::new(),
            slots: Arc::new(Semaphore::new(CONCURRENCY)),
            base_ms: retry_base_ms(),
        };
        d.run().await;
    });
}

struct Dispatcher {
    hush: Arc<Hush>,
    rx: broadcast::Receiver<Arc<EventRow>>,
    client: reqwest::Client,
    lease: String,
    /// The newest event looked at.
    cursor: Option<i64>,
    /// The webhooks seen so far (a new one catches up from its `after_seq`).
    known: HashSet<String>,
    slots: Arc<Semaphore>,
    base_ms: i64,
}

impl Dispatcher {
    async fn run(&mut self) {
        let tick = Duration::from_millis(self.base_ms.clamp(50, 1000) as u64);
        let mut last_prune = None::<std::time::Instant>;
        loop {
            if last_prune.is_none_or(|t| t.elapsed() > Duration::from_secs(3600))
                && self
                    .hush
                    .store()
                    .prune_deliveries(clock::now_ms() - KEEP_MS)
                    .await
                    .is_ok()
            {
                last_prune = Some(std::time::Instant::now());
            }
            if let Err(e) = self.queue().await {
                tracing::warn!(error = %e, "webhooks: cannot queue deliveries; trying again");
            }
            if let Err(e) = self.dispatch().await {
                tracing::warn!(error = %e, "webhooks: cannot claim deliveries; trying again");
            }
            // Woken by an event, or by the tick (retries falling due, other nodes' events).
            tokio::select! {
                r = self.rx.recv() => {
                    if let Err(broadcast::error::RecvError::Closed) = r {
                        tokio::time::sleep(tick).await;
                    }
                }
                _ = tokio::time::sleep(tick) => {}
            }
        }
    }

    /// Queues the deliveries of the events since the cursor (and, for a webhook seen for the
    /// first time, of the events since it was registered).
    async fn queue(&mut self) -> Result<(), hush_core::Error> {
        let store = self.hush.store().clone();
        let cursor = match self.cursor {
            Some(c) => c,
            None => {
                let h = store.event_head().await?;
                self.cursor = Some(h);
                h
            }
        };
        // Events first, then webhooks: a webhook registered in between is new below and
        // catches up from its own start.
        let mut events = Vec::new();
        let mut last = cursor;
        loop {
            let page = store.events_after(last, PAGE).await?;
            let n = page.len();
            if let Some(e) = page.last() {
                last = e.seq;
            }
            events.extend(page);
            if n < PAGE {
                break;
            }
        }
        let hooks = store.webhooks(None).await?;
        if hooks.is_empty() {
            self.cursor = Some(last);
            self.known.clear();
            return Ok(());
        }
        let workspaces: HashMap<String, String> = store
            .workspaces()
            .await?
            .into_iter()
            .map(|w| (w.id, w.name))
            .collect();
        let now = clock::now_ms();
        let mut queued = Vec::new();
        for h in &hooks {
            let Some(ws_name) = workspaces.get(&h.workspace_id) else {
                continue;
            };
            if !self.known.contains(&h.id) && h.after_seq < cursor {
                // Catch up: what happened between its registration and our cursor.
                let mut from = h.after_seq;
                'catch: loop {
                    let page = store.events_after(from, PAGE).await?;
                    let n = page.len();
                    for ev in &page {
                        if ev.seq > cursor {
                            break 'catch;
                        }
                        from = ev.seq;
                        if let Some(d) = delivery(h, ws_name, ev, now)? {
                            queued.push(d);
                        }
                    }
                    if n < PAGE {
                        break;
                    }
                }
            }
            for ev in &events {
                if ev.seq <= h.after_seq {
                    continue;
                }
                if let Some(d) = delivery(h, ws_name, ev, now)? {
                    queued.push(d);
                }
            }
        }
        for chunk in queued.chunks(200) {
            store.enqueue_deliveries(chunk).await?;
        }
        self.known = hooks.iter().map(|h| h.id.clone()).collect();
        self.cursor = Some(last);
        Ok(())
    }

    /// Claims due deliveries (as many as there are free slots) and makes their attempts.
    async fn dispatch(&mut self) -> Result<(), hush_core::Error> {
        let free = self.slots.available_permits();
        // No webhook anywhere: nothing to claim (and no write every tick on an idle store).
        if free == 0 || self.known.is_empty() {
            return Ok(());
        }
        let store = self.hush.store().clone();
        let now = clock::now_ms();
        let claimed = store
            .claim_deliveries(now, &self.lease, now + LEASE_MS, free)
            .await?;
        if claimed.is_empty() {
            return Ok(());
        }
        let hooks: HashMap<String, WebhookRow> = store
            .webhooks(None)
            .await?
            .into_iter()
            .map(|h| (h.id.clone(), h))
            .collect();
        let workspaces: HashMap<String, Workspace> = store
            .workspaces()
            .await?
            .into_iter()
            .map(|w| (w.id.clone(), w))
            .collect();
        for d in claimed {
            let Ok(permit) = self.slots.clone().acquire_owned().await else {
                return Ok(());
            };
            let hook = hooks.get(&d.webhook_id).cloned();
            let ws = hook
                .as_ref()
                .and_then(|h| workspaces.get(&h.workspace_id).cloned());
            let hush = self.hush.clone();
            let client = self.client.clone();
            let lease = self.lease.clone();
            let base = self.base_ms;
            tokio::spawn(async move {
                let outcome = match (hook, ws) {
                    (Some(h), Some(ws)) => attempt(&hush, &client, &ws, &h, &d, &lease, base).await,
                    _ => DeliveryOutcome {
                        id: d.id.clone(),
                        lease,
                        status: DeliveryStatus::Failed,
                        next_attempt_ms: clock::now_ms(),
                        last_status: None,
                        last_error: Some("the webhook was removed".into()),
                        delivered_ms: None,
                    },
                };
                if let Err(e) = hush.store().finish_delivery(&outcome).await {
                    tracing::warn!(error = %e, delivery = %outcome.id, "webhooks: cannot record a delivery's outcome; it is tried again");
                }
                drop(permit);
            });
        }
        Ok(())
    }
}

/// The delivery of `ev` to `h`, if it wants it and the event is recent enough to try.
fn delivery(
    h: &WebhookRow,
    ws_name: &str,
    ev: &EventRow,
    now: i64,
) -> Result<Option<DeliveryRow>, hush_core::Error> {
    if ev.workspace.as_deref() != Some(ws_name) || !h.wants(ev.kind) {
        return Ok(None);
    }
    if ev.ts_ms + RETRY_FOR_MS < now {
        return Ok(None);
    }
    let id = hush_core::service::new_id("dlv")?;
    Ok(Some(DeliveryRow {
        body: payload(&h.id, &id, ev),
        id,
        webhook_id: h.id.clone(),
        event_seq: ev.seq,
        event_kind: ev.kind.as_str().to_string(),
        key: ev.key.clone().unwrap_or_default(),
        event_ms: ev.ts_ms,
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_ms: now,
        last_status: None,
        last_error: None,
        delivered_ms: None,
        created_ms: now,
    }))
}

/// The body POSTed: the event as `GET /v1/events` sends it, with the webhook's and the
/// delivery's ids. Never a value.
fn payload(webhook: &str, delivery: &str, ev: &EventRow) -> String {
    let mut v = serde_json::to_value(hush_core::wire::event(ev)).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("webhook".into(), webhook.into());
        o.insert("delivery".into(), delivery.into());
    }
    v.to_string()
}

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let mut s = String::with_capacity(7 + 64);
    s.push_str("sha256=");
    for b in tag {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// One POST of `d` to `h`, and what it leaves.
async fn attempt(
    hush: &Hush,
    client: &reqwest::Client,
    ws: &Workspace,
    h: &WebhookRow,
    d: &DeliveryRow,
    lease: &str,
    base_ms: i64,
) -> DeliveryOutcome {
    let result = match hush.webhook_signing_secret(ws, h).await {
        Ok(secret) => {
            let sig = signature(secret.expose_secret(), d.body.as_bytes());
            client
                .post(&h.url)
                .header("content-type", "application/json")
                .header("x-hush-signature", sig)
                .header("x-hush-event", &d.event_kind)
                .header("x-hush-delivery", &d.id)
                .body(d.body.clone())
                .send()
                .await
                .map_err(|e| transport_error(&e))
        }
        Err(e) => Err(e.to_string()),
    };
    let now = clock::now_ms();
    let (status, error) = match result {
        Ok(res) if res.status().is_success() => {
            return DeliveryOutcome {
                id: d.id.clone(),
                lease: lease.to_string(),
                status: DeliveryStatus::Delivered,
                next_attempt_ms: now,
                last_status: Some(res.status().as_u16()),
                last_error: None,
                delivered_ms: Some(now),
            };
        }
        Ok(res) => (
            Some(res.status().as_u16()),
            format!("HTTP {}", res.status().as_u16()),
        ),
        Err(e) => (None, e),
    };
    let next = now + backoff_ms(base_ms, d.attempts + 1);
    let gave_up = next > d.event_ms + RETRY_FOR_MS;
    DeliveryOutcome {
        id: d.id.clone(),
        lease: lease.to_string(),
        status: if gave_up {
            DeliveryStatus::Failed
        } else {
            DeliveryStatus::Pending
        },
        next_attempt_ms: next,
        last_status: status,
        last_error: Some(error),
        delivered_ms: None,
    }
}

/// A transport error in a few words, without the URL (which may carry a query string).
fn transport_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return format!("timeout after {} s", TIMEOUT.as_secs());
    }
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let what = if e.is_connect() {
        "cannot connect"
    } else if e.is_redirect() {
        "redirected (redirects are not followed)"
    } else if e.is_request() {
        "the request failed"
    } else {
        "no answer"
    };
    format!("{what}: {cause}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2.
    #[test]
    fn signature_is_hmac_sha256_hex() {
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}

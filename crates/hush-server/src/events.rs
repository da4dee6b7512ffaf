//! `GET /v1/events`: the change events a token may see, as Server-Sent Events. Each event is
//! sent once, in order, with its id; `Last-Event-ID` (or `?after=`) resumes after an id with
//! nothing missed (read back from the store, where events are kept 48 hours). A comment line
//! every 15 s keeps proxies from closing a quiet stream. The stream ends when the token is
//! revoked or the server shuts down; the client reconnects with its last id.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use hush_core::clock;
use hush_core::event::{EventKind, EventRow};
use hush_core::service::EventScope;
use hush_core::Hush;
use tokio::sync::broadcast;

use crate::{ApiError, AppState, Caller};

/// How often a quiet stream gets a comment line.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(15);

/// `GET /v1/events`: follow the change events of the secrets this token may see.
#[utoipa::path(
    get, path = "/v1/events", tag = "events", operation_id = "followEvents",
    summary = "Change events, as Server-Sent Events (never a value)",
    description = "A `text/event-stream` of the changes to the secrets this token may see \
        (a machine token: its app's keys, in its environment): `created`, `updated`, \
        `revoked`, `restored`, `deleted`, `expiring`, `expired` and `fallback`. Each event's \
        `id:` is increasing; reconnect with `Last-Event-ID` (or `?after=`) to resume with \
        nothing missed (events are kept 48 hours). A `: heartbeat` comment every 15 s.",
    params(
        hush_wire::request::EventsQuery,
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event id"),
    ),
    responses(
        (status = 200, description = "the event stream; each `data:` is an Event", content_type = "text/event-stream", body = hush_wire::Event),
        (status = 403, description = "forbidden: the role, scope or environment of the token does not allow this", body = hush_wire::ErrorBody),
        (status = 422, description = "invalid_field: a field or parameter breaks a rule; the message names it", body = hush_wire::ErrorBody),
    )
)]
pub(crate) async fn follow(
    State(s): State<AppState>,
    c: Caller,
    headers: HeaderMap,
    q: Result<Query<hush_wire::request::EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Query(q) = q?;
    let after = match headers.get("last-event-id") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "Last-Event-ID must be the id of an event (a whole number, 0 or more)",
                    )
                })?,
        ),
        None => match q.after {
            Some(n) if n < 0 => {
                return Err(ApiError::invalid(
                    "after must be the id of an event (a whole number, 0 or more)",
                ))
            }
            other => other,
        },
    };
    let keys: Vec<String> = q
        .key
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect();
    let scope = s.hush.event_scope(&c.actor, &c.ws, keys).await?;
    let feed = s.hush.events();
    // Subscribe before reading the store, so nothing falls between the two.
    let rx = feed.subscribe();
    let (last, replaying) = match after {
        Some(n) => (n, true),
        None => match feed.head() {
            h if h >= 0 => (h, false),
            _ => (
                s.hush
                    .store()
                    .event_head()
                    .await
                    .map_err(hush_core::Error::from)?,
                false,
            ),
        },
    };
    let follow = Follow {
        hush: s.hush.clone(),
        scope,
        rx,
        last,
        replaying,
        backlog: VecDeque::new(),
        draining: s.draining.clone(),
    };
    let stream = futures_util::stream::unfold(follow, |mut f| async move {
        let ev = f.next().await?;
        Some((Ok::<_, Infallible>(ev), f))
    });
    Ok((
        [("x-accel-buffering", "no")],
        Sse::new(stream).keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat")),
    ))
}

/// One follower's place in the events.
struct Follow {
    hush: Arc<Hush>,
    scope: EventScope,
    rx: broadcast::Receiver<Arc<EventRow>>,
    /// The newest event id handled (sent or not visible).
    last: i64,
    /// Reading from the store (resuming, or after falling behind the live feed).
    replaying: bool,
    backlog: VecDeque<Arc<EventRow>>,
    draining: Arc<std::sync::atomic::AtomicBool>,
}

impl Follow {
    /// The next event to send; `None` ends the stream.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(ev) = self.backlog.pop_front() {
                if ev.seq <= self.last {
                    continue;
                }
                self.last = ev.seq;
                if ev.kind == EventKind::TokenRevoked
                    && ev.key.as_deref() == Some(self.scope_actor_id())
                {
                    return None;
                }
                match self.hush.event_visible(&mut self.scope, &ev).await {
                    Ok(true) => return Some(sse_event(&ev)),
                    Ok(false) => continue,
                    Err(_) => return None,
                }
            }
            if self.replaying {
                match self.hush.store().events_after(self.last, 500).await {
                    Ok(rows) if rows.is_empty() => self.replaying = false,
                    Ok(rows) => self.backlog.extend(rows.into_iter().map(Arc::new)),
                    // The client reconnects with its last id.
                    Err(_) => return None,
                }
                continue;
            }
            tokio::select! {
                r = self.rx.recv() => match r {
                    Ok(ev) => self.backlog.push_back(ev),
                    Err(broadcast::error::RecvError::Lagged(_)) => self.replaying = true,
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = tokio::time::sleep(Duration::from_secs(1)) => {
                    if self.draining.load(Ordering::SeqCst) {
                        return None;
                    }
                }
            }
        }
    }

    fn scope_actor_id(&self) -> &str {
        &self.scope.actor().principal.id
    }
}

/// An event as streamed.
fn sse_event(ev: &EventRow) -> Event {
    let body = wire_event(ev);
    Event::default()
        .id(ev.seq.to_string())
        .event(ev.kind.as_str())
        .json_data(&body)
        .unwrap_or_else(|_| Event::default().comment("unencodable event"))
}

/// An event as `hush-wire` spells it.
pub(crate) fn wire_event(ev: &EventRow) -> hush_wire::Event {
    hush_wire::Event {
        id: ev.seq,
        kind: ev.kind.as_str().to_string(),
        workspace: ev.workspace.clone().unwrap_or_default(),
        key: ev.key.clone().unwrap_or_default(),
        version: ev.version,
        environment: ev.env.clone(),
        time: clock::rfc3339_ms(ev.ts_ms),
        detail: ev.detail.clone(),
    }
}

/// Starts what every node runs beside its requests: following the store's events (so the
/// first stream starts from a known point), the expiry sweep every `every` (each notice is
/// given once across nodes: the store decides), and dropping events past the retention once
/// an hour.
pub fn start_background(hush: Arc<Hush>, every: Duration) {
    hush.events();
    crate::webhooks::start_dispatcher(hush.clone());
    tokio::spawn(async move {
        let mut last_prune = None::<std::time::Instant>;
        loop {
            if let Err(e) = hush.sweep_expiry().await {
                tracing::warn!(error = %e, "the expiry sweep failed; trying again");
            }
            if last_prune.is_none_or(|t| t.elapsed() > Duration::from_secs(3600))
                && hush.prune_events().await.is_ok()
            {
                last_prune = Some(std::time::Instant::now());
            }
            tokio::time::sleep(every).await;
        }
    });
}

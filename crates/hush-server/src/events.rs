//! `GET /v1/events`: the change events a token may see, as Server-Sent Events. Each event is
//! sent once, in order, with its id; `Last-Event-ID` (or `?after=`) resumes after an id with
//! nothing missed (read back from the store, where events are kept 48 hours). A comment line
//! every 15 s keeps proxies from closing a quiet stream. The stream ends when the token is
//! revoked or the server shuts down; the client reconnects with its last id.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use hush_core::event::EventRow;
use hush_core::Hush;

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
    let follower = s.hush.follow(scope, after).await?;
    let draining = s.draining.clone();
    let follow = (follower, s.hush.clone(), draining);
    let stream = futures_util::stream::unfold(follow, |(mut f, hush, draining)| async move {
        loop {
            tokio::select! {
                next = f.next(&hush) => {
                    // The end (the token revoked) or a store failure ends the stream: the
                    // client reconnects with its last id.
                    let ev = next.ok().flatten()?;
                    return Some((Ok::<_, Infallible>(sse_event(&ev)), (f, hush, draining)));
                }
                _ = tokio::time::sleep(Duration::from_secs(1)) => {
                    if draining.load(Ordering::SeqCst) {
                        return None;
                    }
                }
            }
        }
    });
    Ok((
        [("x-accel-buffering", "no")],
        Sse::new(stream).keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat")),
    ))
}

/// An event as streamed.
fn sse_event(ev: &EventRow) -> Event {
    let body = hush_core::wire::event(ev);
    Event::default()
        .id(ev.seq.to_string())
        .event(ev.kind.as_str())
        .json_data(&body)
        .unwrap_or_else(|_| Event::default().comment("unencodable event"))
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

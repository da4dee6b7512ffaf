//! Prometheus metrics in the text exposition format: requests by route and status, a latency
//! histogram, and store errors. Labels are route templates (`/v1/secrets/{key}`), never
//! concrete keys, so no name or value ever becomes a label.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;

const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
    store_errors: u64,
}

/// The counters.
#[derive(Default)]
pub struct Metrics(Mutex<Inner>);

impl Metrics {
    fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *m.requests
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                m.buckets[i] += 1;
            }
        }
        m.count += 1;
        m.sum += seconds;
        if status == 503 {
            m.store_errors += 1;
        }
    }
}

/// The request's id, put in the request's extensions by [`track`] for handlers that record it
/// (the audit row).
#[derive(Clone, Debug)]
pub struct RequestId(pub std::sync::Arc<str>);

/// `X-Request-Id`: the client's when it is 1 to 128 of `A-Z a-z 0-9 . _ -` (anything else is
/// replaced, so a log line cannot be forged through it), else one made here.
pub(crate) fn request_id(headers: &axum::http::HeaderMap) -> String {
    let given = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        });
    match given {
        Some(id) => id.to_string(),
        None => {
            let mut b = [0u8; 12];
            if hush_crypto::fill_random(&mut b).is_err() {
                // Not a secret: a counter still tells requests apart.
                static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                b[..8].copy_from_slice(&n.to_be_bytes());
            }
            b.iter().map(|x| format!("{x:02x}")).collect()
        }
    }
}

/// Metrics, the request id and the access log line of every request: method, route template
/// (never the path's key or a query string), status, latency, and the token's id and name
/// (recorded on the request's span by authentication; never the token).
pub async fn track(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    use tracing::Instrument as _;
    let id = request_id(req.headers());
    req.extensions_mut()
        .insert(RequestId(std::sync::Arc::from(id.as_str())));
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    // Invented methods would each become a label forever: fold them into one.
    let method = match req.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS") => m.to_string(),
        _ => "other".to_string(),
    };
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        token_id = tracing::field::Empty,
        token_name = tracing::field::Empty,
    );
    let start = Instant::now();
    let mut res = next.run(req).instrument(span.clone()).await;
    let elapsed = start.elapsed();
    s.metrics.record(
        &method,
        &route,
        res.status().as_u16(),
        elapsed.as_secs_f64(),
    );
    tracing::info!(
        parent: &span,
        method = %method,
        route = %route,
        status = res.status().as_u16(),
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        "access"
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

#[utoipa::path(
    get, path = "/metrics", tag = "operations", operation_id = "metrics",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain; version=0.0.4", body = String)),
)]
pub async fn render(State(s): State<AppState>) -> impl IntoResponse {
    let m = s.metrics.0.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP hush_http_requests_total HTTP requests by method, route and status."
    );
    let _ = writeln!(out, "# TYPE hush_http_requests_total counter");
    for ((method, route, status), n) in &m.requests {
        let _ = writeln!(out, "hush_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP hush_http_request_duration_seconds Request latency."
    );
    let _ = writeln!(out, "# TYPE hush_http_request_duration_seconds histogram");
    for (i, b) in BUCKETS.iter().enumerate() {
        let _ = writeln!(
            out,
            "hush_http_request_duration_seconds_bucket{{le=\"{b}\"}} {}",
            m.buckets[i]
        );
    }
    let _ = writeln!(
        out,
        "hush_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {}",
        m.count
    );
    let _ = writeln!(out, "hush_http_request_duration_seconds_sum {}", m.sum);
    let _ = writeln!(out, "hush_http_request_duration_seconds_count {}", m.count);
    let _ = writeln!(
        out,
        "# HELP hush_store_errors_total Requests that failed because the store was unavailable."
    );
    let _ = writeln!(out, "# TYPE hush_store_errors_total counter");
    let _ = writeln!(out, "hush_store_errors_total {}", m.store_errors);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        out,
    )
}

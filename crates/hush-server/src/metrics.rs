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

pub async fn track(State(s): State<AppState>, req: Request, next: Next) -> Response {
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
    let start = Instant::now();
    let res = next.run(req).await;
    s.metrics.record(
        &method,
        &route,
        res.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
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

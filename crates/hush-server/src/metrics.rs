//! Prometheus metrics through `prometheus-client`, in the OpenMetrics text format: requests by
//! method, route and status, latency by method, route and status class, store errors by kind,
//! build information and the process's own figures. Labels are route templates
//! (`/v1/secrets/{key}`), never concrete keys, so no name or value ever becomes a label.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::AppState;

/// Latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Group-commit batch size buckets: how many units one store transaction carried.
const BATCH_BUCKETS: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// The `hush_secrets_expiring` gauge counts secrets expiring within this many seconds.
const EXPIRING_GAUGE_WITHIN: i64 = 7 * 86_400;

/// `OpenMetrics` text, which Prometheus negotiates and parses natively.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    method: &'static str,
    route: String,
    status_class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// The registry and the metrics the server records into.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily<LatencyLabels>,
    store_errors: Family<KindLabels, Counter>,
    batch_size: Histogram,
    expiring: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "hush_http_requests",
            "HTTP requests by method, route template and status",
            requests.clone(),
        );
        let latency: HistogramFamily<LatencyLabels> =
            Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS));
        registry.register_with_unit(
            "hush_http_request_duration",
            "Request latency by method, route template and status class",
            prometheus_client::registry::Unit::Seconds,
            latency.clone(),
        );
        let store_errors = Family::<KindLabels, Counter>::default();
        registry.register(
            "hush_store_errors",
            "Requests that failed in the store or the audit file, by kind (unavailable, corrupt, no_audit_key, audit_sink, other)",
            store_errors.clone(),
        );
        let batch_size = Histogram::new(BATCH_BUCKETS);
        registry.register(
            "hush_group_commit_batch_size",
            "Units (requests' reads and writes with their audit rows) committed by one group-commit transaction",
            batch_size.clone(),
        );
        let expiring = Gauge::default();
        registry.register(
            "hush_secrets_expiring",
            "Active secrets, in every workspace, whose expiry falls within the next 7 days (counted at scrape time)",
            expiring.clone(),
        );
        registry.register(
            "hush_build",
            "The running build: its version and commit",
            Info::new(vec![
                ("version", env!("CARGO_PKG_VERSION")),
                ("commit", crate::COMMIT),
            ]),
        );
        if let Err(e) =
            kubert_prometheus_process::register(registry.sub_registry_with_prefix("process"))
        {
            tracing::warn!(error = %e, "process metrics are not available");
        }
        Metrics {
            registry,
            requests,
            latency,
            store_errors,
            batch_size,
            expiring,
        }
    }
}

impl Metrics {
    fn record(&self, method: &'static str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route: route.to_string(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&LatencyLabels {
                method,
                route: route.to_string(),
                status_class: status_class(status),
            })
            .observe(seconds);
    }

    /// Counts a request that failed in the store.
    fn store_error(&self, kind: &'static str) {
        self.store_errors.get_or_create(&KindLabels { kind }).inc();
    }

    /// Records the size of one group-commit batch (units in one transaction).
    pub(crate) fn batch(&self, rows: usize) {
        #[allow(clippy::cast_precision_loss)] // batch sizes are small
        self.batch_size.observe(rows as f64);
    }
}

fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

/// Set on an error answer by `ApiError` when the store failed, so [`track`] counts it by kind.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StoreErrorKind(pub &'static str);

/// The request's id, put in the request's extensions by [`track`] for handlers that record it
/// (the audit row).
#[derive(Clone, Debug)]
pub struct RequestId(pub Arc<str>);

/// `X-Request-Id`: the client's when it is 1 to 128 of `A-Z a-z 0-9 . _ -` (anything else is
/// replaced, so a log line cannot be forged through it), else one made here: a random prefix
/// drawn once per process and a counter, 24 hex digits, unique without a system call.
pub(crate) fn request_id(headers: &axum::http::HeaderMap) -> Arc<str> {
    let given = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        });
    if let Some(id) = given {
        return Arc::from(id);
    }
    static PREFIX: OnceLock<u32> = OnceLock::new();
    static N: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| {
        let mut b = [0u8; 4];
        // Not a secret: without randomness the counter alone still tells requests apart.
        let _ = hush_crypto::fill_random(&mut b);
        u32::from_be_bytes(b)
    });
    let n = N.fetch_add(1, Ordering::Relaxed);
    Arc::from(format!("{prefix:08x}{n:016x}"))
}

/// Folds a method into a label: invented methods would each become a label forever.
fn method_label(m: &axum::http::Method) -> &'static str {
    match m.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// Metrics, the request id and the access log line of every request: method, route template
/// (never the path's key or a query string), status, latency, and the token's id and name
/// (recorded on the request's span by authentication; never the token).
pub async fn track(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    use tracing::Instrument as _;
    let id = request_id(req.headers());
    req.extensions_mut().insert(RequestId(id.clone()));
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = method_label(req.method());
    let span = tracing::info_span!(
        "request",
        request_id = &*id,
        token_id = tracing::field::Empty,
        token_name = tracing::field::Empty,
    );
    let start = Instant::now();
    let mut res = next.run(req).instrument(span.clone()).await;
    let elapsed = start.elapsed();
    let status = res.status().as_u16();
    s.metrics
        .record(method, &route, status, elapsed.as_secs_f64());
    if let Some(StoreErrorKind(kind)) = res.extensions().get::<StoreErrorKind>() {
        s.metrics.store_error(kind);
    }
    tracing::info!(
        parent: &span,
        method,
        route = route.as_str(),
        status,
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
    responses((status = 200, description = "Prometheus metrics in the OpenMetrics text format", content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String)),
)]
pub async fn render(State(s): State<AppState>) -> impl IntoResponse {
    // One counting query per scrape; on a store error the gauge keeps its last value.
    let now = hush_core::clock::now();
    match s
        .hush
        .store()
        .count_expiring(now, now + EXPIRING_GAUGE_WITHIN)
        .await
    {
        Ok(n) => {
            s.metrics.expiring.set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        Err(e) => tracing::warn!(error = %e, "cannot count the expiring secrets"),
    }
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &s.metrics.registry) {
        tracing::error!(error = %e, "cannot encode the metrics");
    }
    ([(axum::http::header::CONTENT_TYPE, CONTENT_TYPE)], out)
}

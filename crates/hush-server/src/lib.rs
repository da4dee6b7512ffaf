//! hush's HTTP API. [`router`] builds the whole app from an [`AppState`], so tests drive it
//! in-process or over a real socket, and `hush server` serves it over HTTP/1.1 and HTTP/2
//! (with TLS when given a certificate).
//!
//! Every route under `/v1` needs `Authorization: Bearer <token>`; what the token may do is
//! decided in hush-core (roles, machine scope), which also writes the audit rows.
//!
//! It owns HTTP: routes, bodies (exactly the `hush-wire` request types), status codes, the
//! throttle, metrics and the web UI (maud templates, sessions, CSRF). It must never decide a
//! permission itself, echo what a client sent into an error, or put a value or a token in a
//! log line, a metric label or a page that did not ask for it.
#![forbid(unsafe_code)]

mod error;
mod events;
pub use events::start_background;
#[doc(hidden)]
pub mod fuzz;
mod metrics;
mod openapi;
mod throttle;
mod ui;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Path, Query, Request, State};
use axum::http::header::{AUTHORIZATION, ETAG, IF_MATCH, LOCATION};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hush_core::audit::AuditFilter;
use hush_core::patch::PatchRules as _;
use hush_core::token::{Role, TokenSecret};
use hush_core::{
    clock, wire, Actor, Expect, Hush, Invalid, ListFilter, MetadataPatch, SecretBytes, Status,
    StoredStatus, Workspace,
};
use hush_wire::{
    AuditListQuery, AuditVerifyQuery, DeleteQuery, EnvQuery, ErrorCode, Page, PageQuery,
    ResolveRequest, RollbackRequest, SecretListQuery, SecretQuery, SecretWriteBody, TokenRequest,
    VersionsQuery,
};

pub use error::ApiError;
pub use ipnet::IpNet;
use throttle::{ClientAddr, Throttle};
pub use throttle::{AUTH_FAILURES_ALLOWED, AUTH_WINDOW, MAX_TRACKED};

/// The commit hush was built from (12 hex digits), or `unknown` (see `build.rs`).
pub const COMMIT: &str = env!("HUSH_COMMIT");

/// `0.1.0 (commit 0123456789ab)`: what `hush --version` prints after the name.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("HUSH_COMMIT"),
    ")"
);

/// Largest request body: a 1 MiB value in base64 plus metadata fits.
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    hush: Arc<Hush>,
    /// Whether the web UI's cookies are `Secure` (the server speaks TLS).
    secure_cookies: bool,
    metrics: Arc<metrics::Metrics>,
    throttle: Arc<Throttle>,
    /// Proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    proxies: Arc<[IpNet]>,
    /// Set when the server is shutting down: `/readyz` answers 503 so load balancers stop
    /// sending new requests while those in flight finish.
    draining: Arc<std::sync::atomic::AtomicBool>,
}

/// Why a presented token was not accepted.
pub(crate) enum AuthFailure {
    /// Unknown, revoked, expired or missing: 401.
    Unauthorized,
    /// As `Unauthorized`, but the address is past its allowance of failures: 429, with
    /// `Retry-After` in seconds.
    Throttled { retry_after: u64 },
    /// The store failed.
    Other(hush_core::Error),
}

impl AppState {
    /// State over an opened service.
    pub fn new(hush: Arc<Hush>) -> Self {
        let metrics = Arc::new(metrics::Metrics::default());
        let observed = Arc::clone(&metrics);
        hush.observe_batches(Arc::new(move |units| observed.batch(units)));
        AppState {
            hush,
            secure_cookies: false,
            metrics,
            throttle: Arc::new(Throttle::default()),
            proxies: Arc::from(Vec::new()),
            draining: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }

    /// Marks the server as shutting down: `/readyz` answers 503 from now on (every clone of
    /// this state shares the mark).
    pub fn start_draining(&self) {
        self.draining
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Marks the web UI's session cookies `Secure`: set when the server speaks TLS.
    pub fn with_secure_cookies(mut self, secure: bool) -> Self {
        self.secure_cookies = secure;
        self
    }

    /// Proxies (load balancers) trusted to name the client in `X-Forwarded-For`: a request from
    /// one of them is throttled and audited under the address it names.
    pub fn with_trusted_proxies(mut self, proxies: Vec<IpNet>) -> Self {
        self.proxies = Arc::from(proxies);
        self
    }

    /// The client of a request that came from `peer`.
    pub(crate) fn client(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> ClientAddr {
        throttle::client_addr(peer, headers, &self.proxies)
    }

    /// Authenticates first, then lets the throttle decide how a failure is answered: a valid
    /// token is never refused; a failure past the address's allowance is 429 and not audited.
    /// The actor, and the `auth.failed` row of a failure, carry the request's id.
    pub(crate) async fn authenticate(
        &self,
        presented: &TokenSecret,
        client: &ClientAddr,
        request_id: Option<&metrics::RequestId>,
    ) -> Result<(Actor, Workspace), AuthFailure> {
        let now = Instant::now();
        let over = client.ip.is_some_and(|ip| self.throttle.over(ip, now));
        let res = self
            .hush
            .authenticate_request(
                presented,
                client.remote.as_deref(),
                request_id.map(|r| &*r.0),
                !over,
            )
            .await;
        match res {
            Ok(v) => Ok(v),
            Err(hush_core::Error::Unauthorized) => {
                match client.ip.and_then(|ip| self.throttle.fail(ip, now)) {
                    Some(wait) => Err(AuthFailure::Throttled {
                        retry_after: throttle::retry_after_secs(wait),
                    }),
                    None => Err(AuthFailure::Unauthorized),
                }
            }
            Err(e) => Err(AuthFailure::Other(e)),
        }
    }
}

/// The `Retry-After` header of a 429.
pub(crate) fn retry_after(secs: u64) -> (axum::http::HeaderName, HeaderValue) {
    (axum::http::header::RETRY_AFTER, HeaderValue::from(secs))
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/secrets", post(create_secret).get(list_secrets))
        .route(
            "/secrets/{key}",
            get(get_secret)
                .put(put_secret)
                .patch(patch_secret)
                .delete(delete_secret),
        )
        .route("/secrets/{key}/revoke", post(revoke_secret))
        .route("/secrets/{key}/restore", post(restore_secret))
        .route("/secrets/{key}/versions", get(versions))
        .route("/secrets/{key}/rollback", post(rollback))
        .route("/resolve", post(resolve))
        .route("/apps", post(register_app).get(list_apps))
        .route(
            "/apps/{name}",
            get(show_app).put(put_app).delete(delete_app),
        )
        .route("/tokens", post(create_token).get(list_tokens))
        .route("/tokens/{id}", axum::routing::delete(delete_token))
        .route("/tokens/{id}/revoke", post(revoke_token))
        .route("/whoami", get(whoami))
        .route("/audit", get(audit))
        .route("/audit/verify", get(audit_verify))
        .route("/audit/head", get(audit_head))
        .route("/audit/prune", post(audit_prune))
        .route("/events", get(events::follow))
        .route("/webhooks", post(webhooks::create).get(webhooks::list))
        .route("/webhooks/deliveries", get(webhooks::deliveries))
        .route("/webhooks/{id}", axum::routing::delete(webhooks::remove))
        .route("/openapi.json", get(openapi::document));
    Router::new()
        .nest("/v1", v1)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .nest("/ui", ui::routes())
        .route("/metrics", get(metrics::render))
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                "no such route: see /v1/openapi.json",
            )
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::MethodNotAllowed,
                "this route does not take that method: see /v1/openapi.json",
            )
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(refuse_content_encoding))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert("cache-control", HeaderValue::from_static("no-store"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// Alive: the process answers (it does not ask the store; `/readyz` does).
#[utoipa::path(
    get, path = "/healthz", tag = "operations", operation_id = "health",
    responses((status = 200, description = "alive, with the version and commit", body = openapi::Alive)),
)]
async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "commit": COMMIT,
    }))
}

#[utoipa::path(
    get, path = "/readyz", tag = "operations", operation_id = "ready",
    summary = "Ready: the store answers",
    responses(
        (status = 200, description = "ready", body = openapi::Health),
        (status = 503, description = "unavailable: the store does not answer", body = hush_wire::ErrorBody),
    )
)]
async fn readyz(State(s): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    if s.draining.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "the server is shutting down: requests in flight finish, new ones go elsewhere",
        ));
    }
    s.hush.workspaces().await.map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "the store does not answer",
        )
    })?;
    Ok(Json(serde_json::json!({"status": "ready"})))
}

/// The authenticated caller of a `/v1` route.
struct Caller {
    actor: Actor,
    ws: Workspace,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Response> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let client = s.client(peer, &parts.headers);
        let bearer = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
            .filter(|t| !t.is_empty());
        let token_given = bearer.is_some();
        let presented = TokenSecret::from_presented(bearer.unwrap_or(""));
        let request_id = parts.extensions.get::<metrics::RequestId>();
        match s.authenticate(&presented, &client, request_id).await {
            // A web UI session lives in an HttpOnly cookie for the UI; as a bearer it would
            // let a stolen cookie mint tokens or read values outside the UI's CSRF checks.
            Ok((actor, _)) if actor.name().contains(hush_core::service::SESSION_MARK) => {
                Err(invalid_token(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::Unauthorized,
                    "a web UI session works only in the web UI at /ui: use an API token",
                )))
            }
            Ok((actor, ws)) => {
                // The access log line names who asked (never the token).
                let span = tracing::Span::current();
                span.record("token_id", actor.principal.id.as_str());
                span.record("token_name", actor.name());
                Ok(Caller { actor, ws })
            }
            Err(AuthFailure::Unauthorized) if !token_given => {
                Err(ApiError::from(hush_core::Error::Unauthorized).into_response())
            }
            Err(AuthFailure::Unauthorized) => Err(invalid_token(ApiError::from(
                hush_core::Error::Unauthorized,
            ))),
            Err(AuthFailure::Throttled { retry_after: secs }) => Err((
                [retry_after(secs)],
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::RateLimited,
                    format!(
                        "too many failed authentications from this address; a valid token is \
                         still accepted, failures are refused for {secs} s"
                    ),
                ),
            )
                .into_response()),
            Err(AuthFailure::Other(e)) => Err(ApiError::from(e).into_response()),
        }
    }
}

/// A 401 for a token that was presented and refused: RFC 6750's `error="invalid_token"` in
/// `WWW-Authenticate` (a 401 with no token gets the bare challenge from [`ApiError`]).
fn invalid_token(e: ApiError) -> Response {
    let mut res = e.into_response();
    res.headers_mut().insert(
        axum::http::header::WWW_AUTHENTICATE,
        HeaderValue::from_static(error::CHALLENGE_INVALID_TOKEN),
    );
    res
}

/// JSON with our error body on every rejection.
struct Body<T>(T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        json_content_type(req.headers())?;
        let Json(v) = Json::<T>::from_request(req, state).await?;
        Ok(Body(v))
    }
}

/// Only `application/json`, with no parameter but `charset=utf-8`: axum alone would also take
/// `application/vnd.anything+json` and ignore a `charset=utf-16` it cannot honour.
fn json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let refused = || {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "send the body as JSON with `Content-Type: application/json` (optionally `; charset=utf-8`)",
        )
    };
    let Some(value) = headers.get(axum::http::header::CONTENT_TYPE) else {
        return Err(refused());
    };
    let mime: mime::Mime = value
        .to_str()
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or_else(refused)?;
    let json = mime.type_() == mime::APPLICATION
        && mime.subtype() == mime::JSON
        && mime.suffix().is_none()
        && mime
            .params()
            .all(|(name, value)| name == mime::CHARSET && value == mime::UTF_8);
    if json {
        Ok(())
    } else {
        Err(refused())
    }
}

/// Refuses a compressed or otherwise encoded body: hush would store the encoded bytes as the
/// value. Only `identity` (or no header) is accepted.
async fn refuse_content_encoding(req: Request, next: Next) -> Response {
    let encoded = req
        .headers()
        .get_all(axum::http::header::CONTENT_ENCODING)
        .iter()
        .any(|v| {
            v.to_str().map_or(true, |v| {
                v.split(',')
                    .any(|e| !e.trim().is_empty() && !e.trim().eq_ignore_ascii_case("identity"))
            })
        });
    if encoded {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "Content-Encoding is not supported: send the body uncompressed",
        )
        .into_response();
    }
    next.run(req).await
}

/// A path segment checked as a secret key.
struct KeyPath(String);

impl<S: Send + Sync> FromRequestParts<S> for KeyPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(key) = Path::<String>::from_request_parts(parts, state).await?;
        hush_core::model::validate_key(&key).map_err(|e| ApiError::invalid(e.to_string()))?;
        Ok(KeyPath(key))
    }
}

/// Takes the value out of a write body (`value`, or `value_base64` decoded).
pub(crate) fn value_of(b: &mut SecretWriteBody) -> Result<Option<SecretBytes>, ApiError> {
    let value = b
        .take_value()
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    Ok(value.map(|mut v| SecretBytes::new(std::mem::take(&mut *v))))
}

/// The metadata change a write body asks for, checked.
pub(crate) fn patch_of(b: &SecretWriteBody) -> Result<MetadataPatch, ApiError> {
    let p = b
        .patch()
        .map_err(|e| ApiError::invalid(format!("token_type: {}", Invalid::from(e))))?;
    p.validate()
        .map_err(|e| ApiError::from(hush_core::Error::Invalid(e)))?;
    Ok(p)
}

/// A secret's metadata as a write answers it: with its `ETag`, and on 201 its `Location`.
fn meta_answer(status: StatusCode, row: &hush_core::SecretRow, ws: &Workspace) -> Response {
    let mut res = (
        status,
        [etag(row)],
        Json(wire::meta(row, &ws.name, clock::now())),
    )
        .into_response();
    if status == StatusCode::CREATED {
        res.headers_mut()
            .insert(LOCATION, location(&format!("/v1/secrets/{}", row.key)));
    }
    res
}

/// A secret's `ETag`: its revision, strong and quoted (`"7"`).
fn etag(row: &hush_core::SecretRow) -> (axum::http::HeaderName, HeaderValue) {
    let value = HeaderValue::from_str(&format!("\"{}\"", row.revision))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
    (ETAG, value)
}

/// A `Location` header for a path built from checked names (`A-Z a-z 0-9 _ . -`).
fn location(path: &str) -> HeaderValue {
    HeaderValue::from_str(path).unwrap_or(HeaderValue::from_static("/v1"))
}

#[utoipa::path(
    post, path = "/v1/secrets", tag = "secrets", operation_id = "createSecret",
    summary = "Create a secret",
    params(hush_wire::EnvQuery),
    request_body = hush_wire::SecretWriteBody,
    responses(
        (status = 201, description = "created", body = hush_wire::SecretMeta, headers(("ETag" = String, description = "The revision of the secret, quoted"), ("Location" = String, description = "`/v1/secrets/{key}`"))),
        (status = 403, description = "forbidden: the role, scope or environment of the token does not allow this", body = hush_wire::ErrorBody),
        (status = 409, description = "exists: the key exists", body = hush_wire::ErrorBody),
        (status = 422, description = "invalid_field: a field or parameter breaks a rule; the message names it", body = hush_wire::ErrorBody),
    )
)]
async fn create_secret(
    State(s): State<AppState>,
    c: Caller,
    q: Result<Query<EnvQuery>, axum::extract::rejection::QueryRejection>,
    Body(mut b): Body<SecretWriteBody>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    let key = b
        .key
        .take()
        .ok_or_else(|| ApiError::invalid("`key` is required"))?;
    let value = value_of(&mut b)?
        .ok_or_else(|| ApiError::invalid("`value` (or `value_base64`) is required"))?;
    let patch = patch_of(&b)?;
    if b.expected_version.is_some() {
        return Err(ApiError::invalid(
            "`expected_version` guards a change (PUT or PATCH); a create expects nothing",
        ));
    }
    let row = s
        .hush
        .create(&c.ws, &key, q.env.as_deref(), &value, &patch, &c.actor)
        .await?;
    Ok(meta_answer(StatusCode::CREATED, &row, &c.ws))
}

#[utoipa::path(
    put, path = "/v1/secrets/{key}", tag = "secrets", operation_id = "putSecret",
    summary = "Create (201) or replace (200) a secret",
    description = "Guarded by `expected_version` in the body (409 `stale_version`) and/or `If-Match` (412): a guarded PUT only replaces (404 when the secret is missing).",
    params(("key" = String, Path, description = "The key of the secret: 1 to 128 of `A-Z a-z 0-9 _ . -`, not starting with `.` or `-`"), ("If-Match" = Option<String>, Header, description = "The ETag an answer gave for the secret (`\"7\"`), or `*`: the write happens only if the secret is still at that revision (412 `precondition_failed` otherwise)"), hush_wire::EnvQuery),
    request_body = hush_wire::SecretWriteBody,
    responses(
        (status = 200, description = "replaced", body = hush_wire::SecretMeta, headers(("ETag" = String, description = "The revision of the secret, quoted (`\"7\"`): send it back in `If-Match`"))),
        (status = 201, description = "created", body = hush_wire::SecretMeta, headers(("ETag" = String, description = "The revision of the secret, quoted"), ("Location" = String, description = "`/v1/secrets/{key}`"))),
        (status = 403, description = "forbidden: the role, scope or environment of the token does not allow this", body = hush_wire::ErrorBody),
        (status = 404, description = "not_found: no such secret", body = hush_wire::ErrorBody),
        (status = 409, description = "stale_version: `expected_version` is not the current version", body = hush_wire::ErrorBody),
        (status = 412, description = "precondition_failed: the secret changed since the ETag in If-Match was read", body = hush_wire::ErrorBody),
        (status = 422, description = "invalid_field: a field or parameter breaks a rule; the message names it", body = hush_wire::ErrorBody),
    )
)]
async fn put_secret(
    State(s): State<AppState>,
    c: Caller,
    KeyPath(key): KeyPath,
    headers: HeaderMap,
    q: Result<Query<EnvQuery>, axum::extract::rejection::QueryRejection>,
    Body(mut b): Body<SecretWriteBody>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    let env = q.env.as_deref();
    if b.key.as_ref().is_some_and(|k| *k != key) {
        return Err(ApiError::invalid(
            "`key` in the body differs from the key in the path",
        ));
    }
    let value = value_of(&mut b)?
        .ok_or_else(|| ApiError::invalid("`value` (or `value_base64`) is required"))?;
    let patch = patch_of(&b)?;
    let expect = expect_of(&headers, b.expected_version)?;
    if let Some(expect) = expect {
        // A guarded replace: only if what the caller read is still current.
        let row = s
            .hush
            .update(&c.ws, &key, env, Some(&value), &patch, expect, &c.actor)
            .await?;
        return Ok(meta_answer(StatusCode::OK, &row, &c.ws));
    }
    let (row, created) = s
        .hush
        .put(&c.ws, &key, env, &value, &patch, &c.actor)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(meta_answer(status, &row, &c.ws))
}

/// What a write expects: `If-Match` (an `ETag`, the revision: 412 when stale) and
/// `expected_version` (the value version: 409 when stale). `None` when neither is given.
fn expect_of(
    headers: &HeaderMap,
    expected_version: Option<u64>,
) -> Result<Option<Expect>, ApiError> {
    let revision = if_match(headers)?;
    Ok(match (revision, expected_version) {
        (None, None) => None,
        (revision, version) => Some(Expect {
            version,
            revision: revision.flatten(),
        }),
    })
}

/// `If-Match`: `None` when absent; `Some(None)` for `*` (any current secret: the write must
/// find it); `Some(Some(r))` for the strong `ETag` `"r"`. A weak `ETag` never matches
/// (RFC 9110 compares `If-Match` strongly): 412 without looking.
fn if_match(headers: &HeaderMap) -> Result<Option<Option<u64>>, ApiError> {
    let Some(v) = headers.get(IF_MATCH) else {
        return Ok(None);
    };
    let refused = || {
        ApiError::bad_request(
            "If-Match takes one ETag as a secret's answer gives it (e.g. `If-Match: \"7\"`), or \
             `*`; to guard on the value version, send `expected_version`",
        )
    };
    let text = v.to_str().map_err(|_| refused())?.trim();
    if text == "*" {
        return Ok(Some(None));
    }
    let (weak, tag) = match text.strip_prefix("W/") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let revision = tag
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .and_then(|t| t.parse::<u64>().ok())
        .ok_or_else(refused)?;
    if weak {
        return Err(ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            ErrorCode::PreconditionFailed,
            "a weak ETag never matches If-Match: send the ETag as a secret's answer gives it",
        ));
    }
    Ok(Some(Some(revision)))
}

#[utoipa::path(
    patch, path = "/v1/secrets/{key}", tag = "secrets", operation_id = "updateSecret",
    summary = "Change the value and/or metadata of a secret",
    params(("key" = String, Path, description = "The key of the secret: 1 to 128 of `A-Z a-z 0-9 _ . -`, not starting with `.` or `-`"), ("If-Match" = Option<String>, Header, description = "The ETag an answer gave for the secret (`\"7\"`), or `*`: the write happens only if the secret is still at that revision (412 `precondition_failed` otherwise)"), hush_wire::EnvQuery),
    request_body = hush_wire::SecretWriteBody,
    responses(
        (status = 200, description = "updated", body = hush_wire::SecretMeta, headers(("ETag" = String, description = "The revision of the secret, quoted (`\"7\"`): send it back in `If-Match`"))),
        (status = 403, description = "forbidden: the role, scope or environment of the token does not allow this", body = hush_wire::ErrorBody),
        (status = 404, description = "not_found: no such secret", body = hush_wire::ErrorBody),
        (status = 409, description = "stale_version: `expected_version` is not the current version", body = hush_wire::ErrorBody),
        (status = 412, description = "precondition_failed: the secret changed since the ETag in If-Match was read", body = hush_wire::ErrorBody),
        (status = 422, description = "invalid_field: a field or parameter breaks a rule; the message names it", body = hush_wire::ErrorBody),
    )
)]
async fn patch_secret(
    State(s): State<AppState>,
    c: Caller,
    KeyPath(key): KeyPath,
    headers: HeaderMap,
    q: Result<Query<EnvQuery>, axum::extract::rejection::QueryRejection>,
    Body(mut b): Body<SecretWriteBody>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    if b.key.is_some() {
        return Err(ApiError::invalid(
            "`key` cannot be changed; create a new secret instead",
        ));
    }
    let expect = expect_of(&headers, b.expected_version)?.unwrap_or_default();
    let value = value_of(&mut b)?;
    let patch = patch_of(&b)?;
    if value.is_none() && patch.is_empty() {
        return Err(ApiError::invalid(
            "nothing to change: give `value` and/or metadata fields",
        ));
    }
    let row = s
        .hush
        .update(
            &c.ws,
            &key,
            q.env.as_deref(),
            value.as_ref(),
            &patch,
            expect,
            &c.actor,
        )
        .await?;
    Ok(meta_answer(StatusCode::OK, &row, &c.ws))
}

#[utoipa::path(
    get, path = "/v1/secrets/{key}", tag = "secrets", operation_id = "getSecret",
    summary = "Read the value and metadata of a secret",
    params(("key" = String, Path, description = "The key of the secret: 1 to 128 of `A-Z a-z 0-9 _ . -`, not starting with `.` or `-`"), hush_wire::SecretQuery),
    responses(
        (status = 200, description = "the secret with its value", body = hush_wire::SecretValue, headers(("ETag" = String, description = "The revision of the secret, quoted (`\"7\"`): send it back in `If-Match`"))),
        (status = 403, description = "forbidden (role, scope, environment) or revoked", body = hush_wire::ErrorBody),
        (status = 404, description = "not_found: no such secret or version", body = hush_wire::ErrorBody),
        (status = 410, description = "expired: the secret is past its expiry", body = hush_wire::ErrorBody),
        (status = 422, description = "invalid_field: a field or parameter breaks a rule; the message names it", body = hush_wire::ErrorBody),
    )
)]
async fn get_secret(
    State(s): State<AppState>,
    c: Caller,
    KeyPath(key): KeyPath,
    q: Result<Query<SecretQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    let r = s
        .hush
        .reveal(&c.ws, &key, q.env.as_deref(), q.version, &c.actor)
        .await?;
    let now = clock::now();
    let used_by = wire::used_by(Some(&r.used_by));
    let warnings = wire::warnings(&r.row, now);
    // Written from the row and the value where they are (the JSON of `wire::with_value`).
    let v = wire::ValueOut {
        row: &r.row,
        workspace: &c.ws.name,
        now,
        env: r.env.as_deref(),
        version: r.version,
        value: Some(&r.value),
        used_by: Some(&used_by),
        warnings: &warnings,
    };
    let hint = ANSWER_BYTES_PER_KEY + r.value.len() * 2;
    Ok(([etag(&r.row)], SizedJson(v, hint)).into_response())
}

#[utoipa::path(
    get, path = "/v1/secrets", tag = "secrets", operation_id = "listSecrets",
    summary = "List the metadata of secrets, by key",
    params(hush_wire::SecretListQuery),
    responses(
        (status = 200, description = "a page of secrets", body = Page<hush_wire::SecretMeta>),
        (status = 422, description = "invalid_field: a field or parameter breaks a rule; the message names it", body = hush_wire::ErrorBody),
    )
)]
async fn list_secrets(
    State(s): State<AppState>,
    c: Caller,
    q: Result<Query<SecretListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<hush_wire::SecretPage>, ApiError> {
    let Query(q) = q?;
    let limit = page_limit(q.limit)?;
    let status = q
        .status
        .as_deref()
        .map(Status::parse)
        .transpose()
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    // The cursor is the last key of the previous page: anything else is refused rather than
    // silently restarting the list.
    if let Some(c) = &q.cursor {
        hush_core::model::validate_key(c)
            .map_err(|_| ApiError::from(hush_core::Error::from(Invalid::Cursor)))?;
    }
    let filter = ListFilter {
        env: q.env,
        app: q.app,
        prefix: q.prefix,
        status,
        after: q.cursor,
        limit: Some(limit + 1),
    };
    let mut rows = s.hush.list(&c.ws, &filter, &c.actor).await?;
    let next = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|r| r.key.clone())
    } else {
        None
    };
    let now = clock::now();
    let keys: Vec<String> = rows.iter().map(|r| r.key.clone()).collect();
    let mut usage = s.hush.usage(&c.ws, &keys).await?;
    // A machine token sees only its own app among the apps using a secret.
    if c.actor.principal.role == Role::Machine {
        for uses in usage.values_mut() {
            uses.retain(|u| Some(&u.app) == c.actor.principal.app.as_ref());
        }
    }
    let items: Vec<_> = rows
        .iter()
        .map(|r| {
            let mut m = wire::meta(r, &c.ws.name, now);
            m.used_by = Some(wire::used_by(usage.get(&r.key)));
            m
        })
        .collect();
    Ok(Json(Page {
        items,
        next_cursor: next,
    }))
}

#[utoipa::path(
    delete, path = "/v1/secrets/{key}", tag = "secrets", operation_id = "deleteSecret",
    summary = "Delete a secret and its versions",
    params(("key" = String, Path, description = "The key of the secret: 1 to 128 of `A-Z a-z 0-9 _ . -`, not starting with `.` or `-`"), ("If-Match" = Option<String>, Header, description = "The ETag an answer gave for the secret (`\"7\"`), or `*`: the write happens only if the secret is still at that revision (412 `precondition_failed` otherwise)"), hush_wire::DeleteQuery),
    responses(
        (status = 204, description = "deleted"),
        (status = 403, description = "forbidden: the role, scope or environment of the token does not allow this", body = hush_wire::ErrorBody),
        (status = 404, description = "not_found: no such secret", body = hush_wire::ErrorBody),
        (status = 409, description = "in_use: registered apps name it (`force=true` deletes anyway), or stale_version", body = hush_wire::ErrorBody),
        (status = 412, description = "precondition_failed: the secret changed since the ETag in If-Match was read", body = hush_wire::ErrorBody),
        (status = 422, description = "invalid_field: a field or parameter breaks a rule; the message names it", body = hush_wire::ErrorBody),
    )
)]
async fn delete_secret(
    State(s): State<AppState>,
    c: Caller,
    KeyPath(key): KeyPath,
    headers: HeaderMap,
    q: Result<Query<DeleteQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<StatusCode, ApiError> {
    let Query(q) = q?;
    let expect = expect_of(&headers, q.expected_version)?.unwrap_or_default();
    s.hush
        .delete(
            &c.ws,
            &key,
            q.env.as_deref(),
            expect,
            q.force.unwrap_or(false),
            &c.actor,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post, path = "/v1/secrets/{key}/revoke", tag = "secrets", operation_id = "revokeSecret",
    summary = "Revoke a secret: reads are refused until it is restored",
    params(("key" = String, Path, description = "The key of the secret: 1 to 128 of `A-Z a-z 0-9 _ . -`, not starting with `.` or `-`")),
    responses(
        (status = 200, description = "revoked", body = hush_wire::SecretMeta, headers(("ETag" = String, description = "The revision of the secret, quoted (`\"7\"`): send it back in `If-Match`"))),
        (status = 403, description = "forbidden: the role, scope or environment of the token does not allow this", body = hush_wire::ErrorBody),
        (status = 404, description = "not_found: no such secret", body = hush_wire::ErrorBody),
        (status = 422, description = "invalid_field: a field or parameter breaks a rule; the message names it", body = hush_wire::ErrorBody),
    )
)]
async fn revoke_secret(
    State(s): State<AppState>,
    c: Caller,
    KeyPath(key): KeyPath,
) -> Result<Response, ApiError> {
    let row = s
        .hush
        .set_status(&c.ws, &key, StoredStatus::Revoked, &c.actor)
        .await?;
    Ok(meta_answer(StatusCode::OK, &row, &c.ws))
}

#[utoipa::path(
    post, path = "/v1/secrets/{key}/restore", tag = "secrets", operation_id = "restoreSecret",
    summary = "Restore a revoked secret",
    params(("key" = String, Path, description = "The key of the secret: 1 to 128 of `A-Z a-z 0-9 _ . -`, not starting with `.` or `-`")),
    responses(
        (status = 200, description = "restored", body = hush_wire::SecretMeta, headers(("ETag" = String, description = "The revision of the secret, quoted (`\"7\"`): send it back in `If-Match`"))),
        (status = 403, description = "forbidden: the role, scope or environment of the token does not allow this", body = hush_wire::ErrorBody),
        (status = 404, description = "not_found: no such secret", body = hush_wire::ErrorBody),
        (status = 422, description = "invalid_field: a field or parameter breaks a rule; the message names it", body = hush_wire::ErrorBody),
    )
)]
async fn restore_secret(
    State(s): State<AppState>,
    c: Caller,
    KeyPath(key): KeyPath,
) -> Result<Response, ApiError> {
    let row = s
        .hush
        .set_status(&c.ws, &key, StoredStatus::Active, &c.actor)
        .await?;
    Ok(meta_answer(StatusCode::OK, &row, &c.ws))
}

#[utoipa::path(
    get, path = "/v1/secrets/{key}/versions", tag = "secrets", operation_id = "listVersions",
    summary = "The versions of a secret, oldest first (no values)",
    params(("key" = String, Path, description = "The key of the secret: 1 to 128 of `A-Z a-z 0-9 _ . -`, not starting with `.` or `-`"), hush_wire::VersionsQuery),
    responses(
        (status = 200, description = "a page of versions", body = Page<hush_wire::VersionInfo>),
        (status = 403, description = "forbidden: the role, scope or environment of the token does not allow this", body = hush_wire::ErrorBody),
        (status = 404, description = "not_found: no such secret", body = hush_wire::ErrorBody),
        (status = 422, description = "invalid_field: a field or parameter breaks a rule; the message names it", body = hush_wire::ErrorBody),
    )
)]
async fn versions(
    State(s): State<AppState>,
    c: Caller,
    KeyPath(key): KeyPath,
    q: Result<Query<VersionsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<hush_wire::VersionInfo>>, ApiError> {
    let Query(q) = q?;
    let limit = page_limit(q.limit)?;
    let (row, versions) = s
        .hush
        .history(&c.ws, &key, q.env.as_deref(), &c.actor)
        .await?;
    let all = wire::versions(&row, &versions);
    // The cursor names a version as `N` (shared) or `ENV:N` (an environment's own).
    Ok(Json(page_after(
        all,
        |v| match &v.env {
            Some(e) => format!("{e}:{}", v.version),
            None => v.version.to_string(),
        },
        q.cursor,
        limit,
    )?))
}

/// The page size a list route was asked for: 1 to 1000, 100 when not given.
fn page_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(100);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::invalid(
            "query parameter `limit` must be 1 to 1000",
        ));
    }
    Ok(limit)
}

/// One page of a short collection read whole (apps, tokens, versions): the items after the
/// one whose id is `cursor`, at most `limit`. The cursor is the last item's id; one that names
/// no item is refused rather than silently restarting the list.
fn page_after<T>(
    all: Vec<T>,
    id: impl Fn(&T) -> String,
    cursor: Option<String>,
    limit: usize,
) -> Result<Page<T>, ApiError> {
    let start = match cursor {
        None => 0,
        Some(c) => {
            all.iter()
                .position(|t| id(t) == c)
                .ok_or_else(|| ApiError::from(hush_core::Error::from(Invalid::Cursor)))?
                + 1
        }
    };
    let mut items: Vec<T> = all.into_iter().skip(start).take(limit + 1).collect();
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(&id)
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

#[utoipa::path(
    post, path = "/v1/secrets/{key}/rollback", tag = "secrets", operation_id = "rollbackSecret",
    summary = "Make the value of an earlier version current again (as a new version)",
    params(("key" = String, Path, description = "The key of the secret: 1 to 128 of `A-Z a-z 0-9 _ . -`, not starting with `.` or `-`"), hush_wire::EnvQuery),
    request_body = hush_wire::RollbackRequest,
    responses(
        (status = 200, description = "rolled back", body = hush_wire::SecretMeta, headers(("ETag" = String, description = "The revision of the secret, quoted (`\"7\"`): send it back in `If-Match`"))),
        (status = 403, description = "forbidden: the role, scope or environment of the token does not allow this", body = hush_wire::ErrorBody),
        (status = 404, description = "not_found: no such secret or version", body = hush_wire::ErrorBody),
        (status = 422, description = "invalid_field: a field or parameter breaks a rule; the message names it", body = hush_wire::ErrorBody),
    )
)]
async fn rollback(
    State(s): State<AppState>,
    c: Caller,
    KeyPath(key): KeyPath,
    q: Result<Query<EnvQuery>, axum::extract::rejection::QueryRejection>,
    Body(b): Body<RollbackRequest>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    let row = s
        .hush
        .rollback(&c.ws, &key, q.env.as_deref(), b.to, &c.actor)
        .await?;
    Ok(meta_answer(StatusCode::OK, &row, &c.ws))
}

/// One call for a workload: each key's value (with `dry_run`, its metadata only), or why it
/// cannot be had (`missing`, `revoked`, `expired`, `out_of_scope`). A key with `fallbacks` is
/// served by the first of them that can be when it cannot (missing, revoked or expired); the
/// answer's `fallbacks` says which served and which were skipped.
#[utoipa::path(
    post, path = "/v1/resolve", tag = "resolve", operation_id = "resolve",
    request_body = hush_wire::ResolveRequest,
    responses(
        (status = 200, description = "a value per key that could be had, a reason per key that could not", body = hush_wire::Resolved),
        (status = 403, description = "forbidden: the role, scope or environment of the token does not allow this", body = hush_wire::ErrorBody),
        (status = 422, description = "invalid_field: a field or parameter breaks a rule; the message names it", body = hush_wire::ErrorBody),
    )
)]
async fn resolve(
    State(s): State<AppState>,
    c: Caller,
    Body(b): Body<ResolveRequest>,
) -> Result<AnswerJson, ApiError> {
    let answers = s
        .hush
        .resolve_with_fallbacks(
            &c.ws,
            b.app.as_deref(),
            b.env.as_deref(),
            &b.keys,
            &b.fallbacks,
            b.dry_run,
            &c.actor,
        )
        .await?;
    // Each refusal says what the API says for its error (and a value that does not decrypt is
    // logged as on every route). The values are written into the response from where they
    // are, not copied into an answer first.
    let answer = wire::answer(answers, &c.ws.name, clock::now(), |e| {
        ApiError::from(e).message
    });
    // Each key's metadata, and its value (twice its length: room for escapes or base64).
    let hint = answer
        .served
        .iter()
        .map(|(_, r)| ANSWER_BYTES_PER_KEY + r.value.as_ref().map_or(0, |(_, v)| v.len() * 2))
        .sum::<usize>()
        + ANSWER_BYTES_PER_KEY * (1 + answer.rest.errors.len());
    Ok(AnswerJson(answer, hint))
}

/// A resolve's answer, written by [`wire::ResolvedAnswer::write_json`] (cached rows' metadata
/// copied, not written again) into a buffer of about the size it will take.
struct AnswerJson(wire::ResolvedAnswer, usize);

impl IntoResponse for AnswerJson {
    fn into_response(self) -> Response {
        let mut buf = Vec::with_capacity(self.1);
        match self.0.write_json(&mut buf) {
            Ok(()) => json_bytes(buf),
            Err(e) => ApiError::internal(&e).into_response(),
        }
    }
}

/// Bytes that are JSON, as a response.
fn json_bytes(buf: Vec<u8>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        buf,
    )
        .into_response()
}

/// About what one key's metadata takes in an answer (a resolve's key with a 40-byte value
/// takes about 460 bytes).
const ANSWER_BYTES_PER_KEY: usize = 640;

/// A JSON answer written into one buffer reserved for about its size. `Json` starts at 128
/// bytes and doubles: for a resolve's tens of kilobytes that is a dozen copies of the answer,
/// values included, each left behind in freed memory, and as many large allocations.
struct SizedJson<T>(T, usize);

impl<T: serde::Serialize> IntoResponse for SizedJson<T> {
    fn into_response(self) -> Response {
        let mut buf = Vec::with_capacity(self.1);
        match serde_json::to_writer(&mut buf, &self.0) {
            Ok(()) => json_bytes(buf),
            Err(e) => ApiError::internal(&e).into_response(),
        }
    }
}

#[utoipa::path(
    post, path = "/v1/apps", tag = "apps", operation_id = "registerApp",
    summary = "Register (201) or replace (200) the manifest of an app",
    request_body = hush_wire::AppManifest,
    responses(
        (status = 200, description = "replaced", body = hush_wire::AppInfo),
        (status = 201, description = "registered", body = hush_wire::AppInfo, headers(("Location" = String, description = "`/v1/apps/{name}`"))),
        (status = 403, description = "forbidden: the role, scope or environment of the token does not allow this", body = hush_wire::ErrorBody),
        (status = 422, description = "invalid_field: a field or parameter breaks a rule; the message names it", body = hush_wire::ErrorBody),
    )
)]
async fn register_app(
    State(s): State<AppState>,
    c: Caller,
    Body(m): Body<hush_wire::AppManifest>,
) -> Result<Response, ApiError> {
    let (row, created) = s.hush.register_app(&c.ws, &m, &c.actor).await?;
    let info = wire::app(&row);
    if created {
        let at = location(&format!("/v1/apps/{}", info.app));
        return Ok((StatusCode::CREATED, [(LOCATION, at)], Json(info)).into_response());
    }
    Ok((StatusCode::OK, Json(info)).into_response())
}

#[utoipa::path(
    put, path = "/v1/apps/{name}", tag = "apps", operation_id = "putApp",
    summary = "Register (201) or replace (200) the app named in the path",
    params(("name" = String, Path, description = "The app")),
    request_body = hush_wire::AppManifest,
    responses(
        (status = 200, description = "replaced", body = hush_wire::AppInfo),
        (status = 201, description = "registered", body = hush_wire::AppInfo, headers(("Location" = String, description = "`/v1/apps/{name}`"))),
        (status = 403, description = "forbidden: the role, scope or environment of the token does not allow this", body = hush_wire::ErrorBody),
        (status = 422, description = "invalid_field: a field or parameter breaks a rule; the message names it", body = hush_wire::ErrorBody),
    )
)]
async fn put_app(
    State(s): State<AppState>,
    c: Caller,
    Path(name): Path<String>,
    Body(m): Body<hush_wire::AppManifest>,
) -> Result<Response, ApiError> {
    if m.app != name {
        return Err(ApiError::invalid(
            "app: the manifest's `app` must match the name in the path",
        ));
    }
    register_app(State(s), c, Body(m)).await
}

#[utoipa::path(
    get, path = "/v1/apps", tag = "apps", operation_id = "listApps",
    summary = "Registered apps, by name",
    params(hush_wire::PageQuery),
    responses(
        (status = 200, description = "a page of apps", body = Page<hush_wire::AppInfo>),
        (status = 422, description = "invalid_field: a field or parameter breaks a rule; the message names it", body = hush_wire::ErrorBody),
    )
)]
async fn list_apps(
    State(s): State<AppState>,
    c: Caller,
    q: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<hush_wire::AppInfo>>, ApiError> {
    let Query(q) = q?;
    let limit = page_limit(q.limit)?;
    let apps = s.hush.apps(&c.ws, &c.actor).await?;
    let all: Vec<_> = apps.iter().map(wire::app).collect();
    Ok(Json(page_after(all, |a| a.app.clone(), q.cursor, limit)?))
}

#[utoipa::path(
    get, path = "/v1/apps/{name}", tag = "apps", operation_id = "getApp",
    summary = "One registered app, with when it last read each key",
    params(("name" = String, Path, description = "The app")),
    responses(
        (status = 200, description = "the app", body = hush_wire::AppInfo),
        (status = 404, description = "not_found: no such app (or not the app of this machine token)", body = hush_wire::ErrorBody),
    )
)]
async fn show_app(
    State(s): State<AppState>,
    c: Caller,
    Path(name): Path<String>,
) -> Result<Json<hush_wire::AppInfo>, ApiError> {
    let row = s.hush.app(&c.ws, &name, &c.actor).await?;
    Ok(Json(wire::app(&row)))
}

#[utoipa::path(
    delete, path = "/v1/apps/{name}", tag = "apps", operation_id = "deleteApp",
    summary = "Remove the registration of an app",
    params(("name" = String, Path, description = "The app")),
    responses(
        (status = 204, description = "deleted"),
        (status = 403, description = "forbidden: the role, scope or environment of the token does not allow this", body = hush_wire::ErrorBody),
        (status = 404, description = "not_found: no such app", body = hush_wire::ErrorBody),
    )
)]
async fn delete_app(
    State(s): State<AppState>,
    c: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.hush.delete_app(&c.ws, &name, &c.actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The role a token request asks for (a machine token when it gives `app` and `env`) and the
/// token's name (given, or the role, or `APP-ENV`).
pub(crate) fn role_and_name(b: &TokenRequest) -> Result<(Role, String), ApiError> {
    let role = match (&b.role, &b.app, &b.env) {
        (Some(r), None, None) => Role::parse(r).map_err(|e| ApiError::invalid(e.to_string()))?,
        (Some(_), _, _) => {
            return Err(ApiError::invalid(
                "give either `role`, or `app` and `env` for a machine token",
            ))
        }
        (None, _, _) => Role::Machine,
    };
    if role == Role::Machine && b.role.is_some() {
        return Err(ApiError::invalid(
            "role: machine tokens are made with `app` and `env`",
        ));
    }
    let name = b.name.clone().unwrap_or_else(|| match (&b.app, &b.env) {
        (Some(a), Some(e)) => format!("{a}-{e}"),
        _ => role.as_str().to_string(),
    });
    Ok((role, name))
}

#[utoipa::path(
    post, path = "/v1/tokens", tag = "tokens", operation_id = "createToken",
    summary = "Make a token (admin); the answer is the only time it is shown",
    request_body = hush_wire::TokenRequest,
    responses(
        (status = 201, description = "created", body = hush_wire::NewToken, headers(("Location" = String, description = "`/v1/tokens/{id}`"))),
        (status = 403, description = "forbidden: the token is not an admin, or `workspace` names a workspace other than its own", body = hush_wire::ErrorBody),
        (status = 422, description = "invalid_field: a field or parameter breaks a rule; the message names it", body = hush_wire::ErrorBody),
    )
)]
async fn create_token(
    State(s): State<AppState>,
    c: Caller,
    Body(b): Body<TokenRequest>,
) -> Result<Response, ApiError> {
    let (role, name) = role_and_name(&b)?;
    // A token belongs to one workspace, and so does the token that makes it: the field may
    // only name the caller's own. The refusal is the same whether the workspace exists or
    // not, so a token cannot learn the names of other workspaces.
    if b.workspace.as_ref().is_some_and(|w| *w != c.ws.name) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            format!(
                "this token belongs to workspace {:?} and can make tokens only there: a token \
                 for another workspace is made with an admin token of that workspace (or by \
                 an operator with `hush tokens create --workspace W --db …`)",
                c.ws.name
            ),
        ));
    }
    let (row, secret) = s
        .hush
        .create_token(
            &c.ws,
            &name,
            role,
            b.app.as_deref(),
            b.env.as_deref(),
            b.expires_at,
            &c.actor,
        )
        .await?;
    // EXPOSE: the one answer that carries the new token.
    let body = hush_wire::NewToken {
        info: wire::token(&row, clock::now()),
        token: secret.expose_secret().to_string(),
    };
    let at = location(&format!("/v1/tokens/{}", body.info.id));
    Ok((StatusCode::CREATED, [(LOCATION, at)], Json(body)).into_response())
}

#[utoipa::path(
    get, path = "/v1/tokens", tag = "tokens", operation_id = "listTokens",
    summary = "The records of tokens (admin), never the tokens",
    params(hush_wire::PageQuery),
    responses(
        (status = 200, description = "a page of tokens", body = Page<hush_wire::TokenInfo>),
        (status = 403, description = "forbidden: the role, scope or environment of the token does not allow this", body = hush_wire::ErrorBody),
        (status = 422, description = "invalid_field: a field or parameter breaks a rule; the message names it", body = hush_wire::ErrorBody),
    )
)]
async fn list_tokens(
    State(s): State<AppState>,
    c: Caller,
    q: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<hush_wire::TokenInfo>>, ApiError> {
    let Query(q) = q?;
    let limit = page_limit(q.limit)?;
    let now = clock::now();
    let all: Vec<_> = s
        .hush
        .tokens(&c.ws, &c.actor)
        .await?
        .iter()
        .map(|t| wire::token(t, now))
        .collect();
    Ok(Json(page_after(all, |t| t.id.clone(), q.cursor, limit)?))
}

/// The caller's own token: any token may ask.
#[utoipa::path(
    get, path = "/v1/whoami", tag = "tokens", operation_id = "whoami",
    summary = "The token this request was made with (its record, never the token) and its workspace",
    responses((status = 200, description = "the token's record", body = hush_wire::WhoAmI)),
)]
async fn whoami(State(s): State<AppState>, c: Caller) -> Result<Json<hush_wire::WhoAmI>, ApiError> {
    let row = s
        .hush
        .whoami(&c.ws, &c.actor)
        .await?
        .ok_or(hush_core::Error::Unauthorized)?;
    Ok(Json(hush_wire::WhoAmI {
        token: wire::token(&row, clock::now()),
        workspace: c.ws.name.clone(),
    }))
}

/// `DELETE /v1/tokens/{id}`: revokes the token (its record stays, for the audit log) and
/// answers 204 like every other delete; `POST …/revoke` answers with the record.
#[utoipa::path(
    delete, path = "/v1/tokens/{id}", tag = "tokens", operation_id = "deleteToken",
    params(("id" = String, Path, description = "The id of the token (`tok_…`)")),
    responses(
        (status = 204, description = "revoked"),
        (status = 403, description = "forbidden: the role, scope or environment of the token does not allow this", body = hush_wire::ErrorBody),
        (status = 404, description = "not_found: no such token", body = hush_wire::ErrorBody),
    )
)]
async fn delete_token(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.hush.revoke_token(&c.ws, &id, &c.actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post, path = "/v1/tokens/{id}/revoke", tag = "tokens", operation_id = "revokeToken",
    summary = "Revoke a token (admin) and answer its record",
    params(("id" = String, Path, description = "The id of the token (`tok_…`)")),
    responses(
        (status = 200, description = "revoked", body = hush_wire::TokenInfo),
        (status = 403, description = "forbidden: the role, scope or environment of the token does not allow this", body = hush_wire::ErrorBody),
        (status = 404, description = "not_found: no such token", body = hush_wire::ErrorBody),
    )
)]
async fn revoke_token(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> Result<Json<hush_wire::TokenInfo>, ApiError> {
    let mut t = s.hush.revoke_token(&c.ws, &id, &c.actor).await?;
    t.revoked_at = Some(clock::now());
    Ok(Json(wire::token(&t, clock::now())))
}

#[utoipa::path(
    get, path = "/v1/audit", tag = "audit", operation_id = "listAudit",
    summary = "Audit rows (admin), in sequence order",
    params(hush_wire::AuditListQuery),
    responses(
        (status = 200, description = "a page of audit rows", body = Page<hush_wire::AuditRecord>),
        (status = 403, description = "forbidden: the role, scope or environment of the token does not allow this", body = hush_wire::ErrorBody),
        (status = 422, description = "invalid_field: a field or parameter breaks a rule; the message names it", body = hush_wire::ErrorBody),
    )
)]
async fn audit(
    State(s): State<AppState>,
    c: Caller,
    q: Result<Query<AuditListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<hush_wire::AuditPage>, ApiError> {
    let Query(q) = q?;
    let limit = page_limit(q.limit)?;
    let ms = |t: Option<i64>, name: &str| -> Result<Option<i64>, ApiError> {
        t.map(|t| {
            t.checked_mul(1000).ok_or_else(|| {
                ApiError::invalid(format!("query parameter `{name}` is out of range"))
            })
        })
        .transpose()
    };
    // The cursor is the last row's sequence number, in decimal: opaque to clients, who pass
    // back what they were given (the integers of earlier servers read the same).
    let after_seq = q
        .cursor
        .as_deref()
        .map(|c| c.parse::<i64>().ok().filter(|n| *n >= 0))
        .map(|n| n.ok_or_else(|| ApiError::from(hush_core::Error::from(Invalid::Cursor))))
        .transpose()?;
    let filter = AuditFilter {
        key: q.key,
        actor: q.actor,
        since_ms: ms(q.since, "since")?,
        until_ms: ms(q.until, "until")?,
        after_seq,
        // One more than the page: a last page that is exactly full says so, with no empty
        // page after it.
        limit: Some(limit + 1),
        ..AuditFilter::default()
    };
    let mut rows = s.hush.audit_log(&c.ws, &filter, &c.actor).await?;
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|r| r.seq.to_string())
    } else {
        None
    };
    let items: Vec<_> = rows.iter().map(wire::audit).collect();
    Ok(Json(Page { items, next_cursor }))
}

/// Walks the chain; with `head_seq` and `head_mac` (a head recorded earlier from
/// `/v1/audit/head`), also checks that row is still there with that MAC.
#[utoipa::path(
    get, path = "/v1/audit/verify", tag = "audit", operation_id = "verifyAudit",
    params(hush_wire::AuditVerifyQuery),
    responses(
        (status = 200, description = "the verdict (`intact` false when broken)", body = hush_wire::AuditVerdict),
        (status = 403, description = "forbidden: the role, scope or environment of the token does not allow this", body = hush_wire::ErrorBody),
        (status = 422, description = "invalid_field: a field or parameter breaks a rule; the message names it", body = hush_wire::ErrorBody),
    )
)]
async fn audit_verify(
    State(s): State<AppState>,
    c: Caller,
    q: Result<Query<AuditVerifyQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<hush_wire::AuditVerdict>, ApiError> {
    let Query(q) = q?;
    let expected = match (q.head_seq, q.head_mac.as_deref()) {
        (None, None) => None,
        (Some(seq), Some(mac)) => Some(hush_core::audit::Head::new(seq, mac).map_err(|e| {
            ApiError::invalid(match e {
                hush_core::audit::HeadError::Seq => "query parameter `head_seq` must be 0 or more",
                _ => "query parameter `head_mac` must be 64 hex digits",
            })
        })?),
        _ => {
            return Err(ApiError::invalid(
                "query parameters `head_seq` and `head_mac` go together: give both or neither",
            ))
        }
    };
    Ok(Json(wire::verdict(
        &s.hush
            .verify_audit(&c.ws, &c.actor, expected.as_ref())
            .await?,
    )))
}

/// Audit retention: removes the rows written before `before` and keeps a checkpoint (the last
/// removed row's sequence number and MAC) from which `/v1/audit/verify` proves the rest; an
/// `audit.prune` row is appended. The log is one chain for every workspace: only an admin of
/// workspace `default` may prune it.
#[utoipa::path(
    post, path = "/v1/audit/prune", tag = "audit", operation_id = "pruneAudit",
    summary = "Remove the audit rows older than a time, keeping a checkpoint",
    request_body = hush_wire::AuditPruneRequest,
    responses(
        (status = 200, description = "how many rows were removed, where the chain now starts, and the newest row", body = hush_wire::AuditPruned),
        (status = 403, description = "forbidden: not an admin, or an admin of a workspace other than `default`", body = hush_wire::ErrorBody),
        (status = 409, description = "audit_broken: the chain does not verify, so nothing was pruned", body = hush_wire::ErrorBody),
        (status = 422, description = "invalid_field: `before` cannot be read or is in the future", body = hush_wire::ErrorBody),
    )
)]
async fn audit_prune(
    State(s): State<AppState>,
    c: Caller,
    Body(body): Body<hush_wire::AuditPruneRequest>,
) -> Result<Json<hush_wire::AuditPruned>, ApiError> {
    let before = hush_core::clock::parse_past("before", &body.before, hush_core::clock::now_ms())
        .map_err(hush_core::Error::from)?;
    Ok(Json(wire::pruned(
        &s.hush.prune_audit(&c.ws, &c.actor, before).await?,
    )))
}

/// The newest audit row's sequence number and MAC, to keep elsewhere.
#[utoipa::path(
    get, path = "/v1/audit/head", tag = "audit", operation_id = "auditHead",
    responses(
        (status = 200, description = "the sequence number and MAC of the newest row", body = hush_wire::AuditHead),
        (status = 403, description = "forbidden: the role, scope or environment of the token does not allow this", body = hush_wire::ErrorBody),
    )
)]
async fn audit_head(
    State(s): State<AppState>,
    c: Caller,
) -> Result<Json<hush_wire::AuditHead>, ApiError> {
    Ok(Json(wire::audit_head(
        &s.hush.audit_head(&c.ws, &c.actor).await?,
    )))
}

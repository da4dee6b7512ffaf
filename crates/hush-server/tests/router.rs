//! The router in process: every route's success and each of its refusals, driven through
//! `tower::ServiceExt::oneshot` on `router(state)` over a real SQLite store in a temporary
//! directory (no binary, no socket). The over-the-socket suites in `crates/hush/tests/cli`
//! cover what only a socket shows (connection limits, TLS, timeouts, the remote CLI).

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use hush_core::token::Role;
use hush_core::{Actor, Hush, KeyFileSource, Workspace};
use hush_server::{router, AppState};
use serde_json::{json, Value};
use tower::ServiceExt as _;

const PLANTED: &str = "sk_live_router_planted_4f1c9a";

/// A router over a fresh store, with an admin token.
struct App {
    router: Router,
    hush: Arc<Hush>,
    ws: Workspace,
    admin: String,
    _dir: tempfile::TempDir,
}

/// What a route answered.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
    text: String,
}

impl Answer {
    /// The error code of an error body.
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
}

impl App {
    async fn new() -> App {
        let dir = tempfile::tempdir().unwrap();
        let store = hush_store_sqlite::SqliteStore::open(&dir.path().join("hush.db")).unwrap();
        let source = KeyFileSource::new_file(&dir.path().join("hush.key"));
        let hush = Arc::new(
            Hush::initialize(Arc::new(store), Box::new(source))
                .await
                .unwrap(),
        );
        let (ws, _) = hush.workspace("default", false).await.unwrap();
        let router = router(AppState::new(Arc::clone(&hush)));
        let mut app = App {
            router,
            hush,
            ws,
            admin: String::new(),
            _dir: dir,
        };
        app.admin = app.token("admin", Role::Admin, None).await;
        app
    }

    /// A token made straight in the service (not through the route under test).
    async fn token(&self, name: &str, role: Role, machine: Option<(&str, &str)>) -> String {
        let (_, secret) = self
            .hush
            .create_token(
                &self.ws,
                name,
                role,
                machine.map(|m| m.0),
                machine.map(|m| m.1),
                None,
                &Actor::local(),
            )
            .await
            .unwrap();
        secret.expose_secret().to_string()
    }

    /// Sends `req`, and checks the answer against the OpenAPI document: the operation and its
    /// status are documented, the body is valid under the documented schema, and every
    /// documented header is present.
    async fn send(&self, req: Request<Body>) -> Answer {
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), 8 << 20)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        contract::check(&method, &path, status, &headers, &bytes);
        Answer {
            status,
            headers,
            body,
            text,
        }
    }

    /// `method uri` with `token`, and `body` as JSON when given.
    async fn call(&self, method: Method, uri: &str, token: &str, body: Option<Value>) -> Answer {
        self.call_with(method, uri, token, &[], body).await
    }

    /// As [`App::call`], with `headers` added.
    async fn call_with(
        &self,
        method: Method,
        uri: &str,
        token: &str,
        headers: &[(header::HeaderName, &str)],
        body: Option<Value>,
    ) -> Answer {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        for (name, value) in headers {
            req = req.header(name, *value);
        }
        let body = match body {
            Some(b) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        self.send(req.body(body).unwrap()).await
    }

    /// `method uri` as the admin with `If-Match: if_match`.
    async fn with_if_match(
        &self,
        method: Method,
        uri: &str,
        if_match: &str,
        body: Option<Value>,
    ) -> Answer {
        let admin = self.admin.clone();
        self.call_with(method, uri, &admin, &[(header::IF_MATCH, if_match)], body)
            .await
    }

    async fn admin(&self, method: Method, uri: &str, body: Option<Value>) -> Answer {
        self.call(method, uri, &self.admin.clone(), body).await
    }

    async fn create(&self, key: &str, value: &str) -> Answer {
        let a = self
            .admin(
                Method::POST,
                "/v1/secrets",
                Some(json!({"key": key, "value": value})),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
        a
    }

    /// The audit rows' `(action, key, outcome)`.
    async fn audit(&self) -> Vec<(String, String, String)> {
        let a = self.admin(Method::GET, "/v1/audit?limit=1000", None).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        a.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let s = |f: &str| r[f].as_str().unwrap_or("").to_string();
                (s("action"), s("key"), s("outcome"))
            })
            .collect()
    }
}

/// Every answer of this suite against the OpenAPI document the server serves (the checked-in
/// copy, which a unit test keeps equal to it).
mod contract {
    use std::sync::OnceLock;

    use axum::http::{HeaderMap, Method, StatusCode};
    use serde_json::{json, Value};

    fn doc() -> &'static Value {
        static DOC: OnceLock<Value> = OnceLock::new();
        DOC.get_or_init(|| serde_json::from_str(include_str!("../openapi.json")).unwrap())
    }

    /// The documented path template `path` falls under (`/v1/secrets/{key}`).
    fn template(path: &str) -> Option<&'static str> {
        let segments: Vec<&str> = path.split('/').collect();
        doc()["paths"].as_object().unwrap().keys().find_map(|t| {
            let ts: Vec<&str> = t.split('/').collect();
            let fits = ts.len() == segments.len()
                && ts
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()));
            fits.then_some(t.as_str())
        })
    }

    /// `#/components/…/Name` → the value there.
    fn resolve(v: &Value) -> &Value {
        match v["$ref"].as_str() {
            Some(r) => {
                let mut at = doc();
                for part in r.trim_start_matches("#/").split('/') {
                    at = &at[part];
                }
                at
            }
            None => v,
        }
    }

    fn valid(schema: &Value, instance: &Value) -> Result<(), String> {
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": doc()["components"],
            "allOf": [schema],
        });
        let validator = jsonschema::draft202012::new(&root).map_err(|e| e.to_string())?;
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    pub fn check(
        method: &Method,
        path: &str,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) {
        if path.starts_with("/ui") {
            return; // HTML pages: not part of the API document.
        }
        let error = json!({"$ref": "#/components/schemas/Error"});
        let what = format!("{method} {path} → {status}");
        let Some(t) = template(path) else {
            // The fallback: an undocumented route is a 404 with the error body.
            assert_eq!(status, StatusCode::NOT_FOUND, "{what}: not in the document");
            let v: Value = serde_json::from_slice(body).unwrap();
            valid(&error, &v).unwrap_or_else(|e| panic!("{what}: {e}"));
            return;
        };
        let op = &doc()["paths"][t][method.as_str().to_ascii_lowercase()];
        if op.is_null() {
            assert_eq!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{what}: method not in the document"
            );
            return;
        }
        let response = resolve(&op["responses"][status.as_str()]);
        assert!(
            !response.is_null(),
            "{what}: status not in the document for {method} {t}"
        );
        for (name, _) in response["headers"].as_object().into_iter().flatten() {
            assert!(
                headers.contains_key(name.as_str()),
                "{what}: no {name} header"
            );
        }
        match response["content"].as_object() {
            None => assert!(body.is_empty(), "{what}: a body where none is documented"),
            Some(content) => {
                let (media, schema) = content.iter().next().unwrap();
                if media.starts_with("application/json") {
                    let v: Value = serde_json::from_slice(body)
                        .unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
                    valid(&schema["schema"], &v).unwrap_or_else(|e| panic!("{what}: {e}"));
                }
            }
        }
    }
}

fn assert_refused(a: &Answer, status: StatusCode, code: &str) {
    assert_eq!(a.status, status, "{}", a.text);
    assert_eq!(a.code(), code, "{}", a.text);
    assert!(!a.message().is_empty(), "{}", a.text);
    assert!(
        !a.text.contains(PLANTED),
        "an error echoed the value: {}",
        a.text
    );
}

// ---------------------------------------------------------------- authentication, framing

#[tokio::test]
async fn every_v1_route_refuses_a_missing_or_unknown_token() {
    let app = App::new().await;
    let routes = [
        (Method::GET, "/v1/secrets"),
        (Method::POST, "/v1/secrets"),
        (Method::GET, "/v1/secrets/K"),
        (Method::PUT, "/v1/secrets/K"),
        (Method::PATCH, "/v1/secrets/K"),
        (Method::DELETE, "/v1/secrets/K"),
        (Method::POST, "/v1/secrets/K/revoke"),
        (Method::POST, "/v1/secrets/K/restore"),
        (Method::GET, "/v1/secrets/K/versions"),
        (Method::POST, "/v1/secrets/K/rollback"),
        (Method::POST, "/v1/resolve"),
        (Method::GET, "/v1/apps"),
        (Method::POST, "/v1/apps"),
        (Method::GET, "/v1/apps/a"),
        (Method::PUT, "/v1/apps/a"),
        (Method::DELETE, "/v1/apps/a"),
        (Method::GET, "/v1/tokens"),
        (Method::POST, "/v1/tokens"),
        (Method::DELETE, "/v1/tokens/t"),
        (Method::POST, "/v1/tokens/t/revoke"),
        (Method::GET, "/v1/audit"),
        (Method::GET, "/v1/audit/verify"),
        (Method::GET, "/v1/audit/head"),
        (Method::POST, "/v1/audit/prune"),
    ];
    for (method, uri) in routes {
        let req = Request::builder()
            .method(method.clone())
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        let a = app.send(req).await;
        assert_refused(&a, StatusCode::UNAUTHORIZED, "unauthorized");
        // RFC 6750: the bare challenge when no token came…
        assert_eq!(
            a.headers[header::WWW_AUTHENTICATE],
            r#"Bearer realm="hush""#,
            "{method} {uri}"
        );
        let a = app
            .call(method.clone(), uri, "hush_notarealtoken", Some(json!({})))
            .await;
        assert_refused(&a, StatusCode::UNAUTHORIZED, "unauthorized");
        // …and `invalid_token` when one came and was refused.
        assert_eq!(
            a.headers[header::WWW_AUTHENTICATE],
            r#"Bearer realm="hush", error="invalid_token""#,
            "{method} {uri}"
        );
    }
    // Nothing was written by any of them.
    assert_eq!(app.count().await, 0);
}

#[tokio::test]
async fn a_revoked_token_is_refused() {
    let app = App::new().await;
    let reader = app.token("reader", Role::Read, None).await;
    assert_eq!(
        app.call(Method::GET, "/v1/secrets", &reader, None)
            .await
            .status,
        StatusCode::OK
    );
    let a = app
        .admin(Method::POST, "/v1/tokens/reader/revoke", None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = app.call(Method::GET, "/v1/secrets", &reader, None).await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn bodies_must_be_json_of_the_known_shape() {
    let app = App::new().await;
    // Not JSON.
    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1/secrets")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.admin))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(format!(
            "{{\"key\": \"K\", \"value\": \"{PLANTED}\""
        )))
        .unwrap();
    assert_refused(&app.send(req).await, StatusCode::BAD_REQUEST, "bad_request");
    // Not sent as JSON.
    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1/secrets")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.admin))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(
            json!({"key": "K", "value": PLANTED}).to_string(),
        ))
        .unwrap();
    assert_refused(
        &app.send(req).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    // Compressed.
    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1/secrets")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.admin))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_ENCODING, "gzip")
        .body(Body::from(
            json!({"key": "K", "value": PLANTED}).to_string(),
        ))
        .unwrap();
    assert_refused(
        &app.send(req).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    // Over the body limit.
    let big = "x".repeat(3 << 20);
    let a = app
        .admin(
            Method::POST,
            "/v1/secrets",
            Some(json!({"key": "K", "value": big})),
        )
        .await;
    assert_refused(&a, StatusCode::PAYLOAD_TOO_LARGE, "too_large");
    // An unknown field is named, with the known ones.
    let a = app
        .admin(
            Method::POST,
            "/v1/secrets",
            Some(json!({"key": "K", "value": PLANTED, "colour": "red"})),
        )
        .await;
    assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert!(a.message().contains("description"), "{}", a.text);
    assert!(
        !a.message().contains("colour"),
        "the field's name is echoed: {}",
        a.text
    );
    // None of it was stored.
    assert_eq!(app.count().await, 0);
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let app = App::new().await;
    let a = app.admin(Method::GET, "/v1/nothing-here", None).await;
    assert_refused(&a, StatusCode::NOT_FOUND, "not_found");
    let a = app.admin(Method::PATCH, "/v1/tokens", None).await;
    assert_refused(&a, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

#[tokio::test]
async fn health_readiness_metrics_and_the_document() {
    let app = App::new().await;
    for uri in ["/healthz", "/readyz"] {
        let req = Request::get(uri).body(Body::empty()).unwrap();
        let a = app.send(req).await;
        assert_eq!(a.status, StatusCode::OK, "{uri}: {}", a.text);
    }
    app.create("METRIC_KEY", PLANTED).await;
    let req = Request::get("/metrics").body(Body::empty()).unwrap();
    let a = app.send(req).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.text.contains("hush_http_requests_total"), "{}", a.text);
    assert!(!a.text.contains("METRIC_KEY") && !a.text.contains(PLANTED));
    let a = app.admin(Method::GET, "/v1/openapi.json", None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        a.body["paths"]["/v1/secrets/{key}"].is_object(),
        "{}",
        a.text
    );
    // Every answer carries the security headers.
    assert_eq!(a.headers["x-content-type-options"], "nosniff");
}

// ---------------------------------------------------------------- secrets

#[tokio::test]
async fn create_secret_and_its_refusals() {
    let app = App::new().await;
    let a = app
        .admin(
            Method::POST,
            "/v1/secrets",
            Some(json!({
                "key": "STRIPE_KEY", "value": PLANTED, "description": "payments",
                "token_type": "api", "scope": ["billing"], "envs": ["prd"],
                "expires_at": 4102444800i64
            })),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.body["key"], "STRIPE_KEY");
    assert_eq!(a.body["version"], 1);
    assert_eq!(a.body["scope"], json!(["billing"]));
    assert!(!a.text.contains(PLANTED), "a create answered the value");
    // Taken.
    let a = app.create_raw("STRIPE_KEY", "other").await;
    assert_refused(&a, StatusCode::CONFLICT, "exists");
    // Bad key, empty value, both value forms, bad base64, bad token type, control character.
    for body in [
        json!({"key": "-bad", "value": PLANTED}),
        json!({"key": "K1", "value": ""}),
        json!({"key": "K1", "value": PLANTED, "value_base64": "eA=="}),
        json!({"key": "K1", "value_base64": "not base64!"}),
        json!({"key": "K1", "value": PLANTED, "token_type": "bearer"}),
        json!({"key": "K1", "value": PLANTED, "description": "a\u{1b}[2Jb"}),
        json!({"key": "K1", "value": PLANTED, "expires_at": 1_900_000_000_000i64}),
        json!({"key": "K1", "value": PLANTED, "scope": ["ok", "not ok"]}),
        json!({"key": "K1", "value": 42}),
    ] {
        let a = app
            .admin(Method::POST, "/v1/secrets", Some(body.clone()))
            .await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            a.text
        );
        assert_eq!(a.code(), "invalid_field", "{body}: {}", a.text);
        assert!(!a.text.contains(PLANTED));
    }
    // A read token may not create.
    let reader = app.token("reader", Role::Read, None).await;
    let a = app
        .call(
            Method::POST,
            "/v1/secrets",
            &reader,
            Some(json!({"key": "K2", "value": PLANTED})),
        )
        .await;
    assert_refused(&a, StatusCode::FORBIDDEN, "forbidden");
    // Only the first create was stored.
    assert_eq!(app.count().await, 1);
}

impl App {
    /// How many secrets the store holds (asked of the service, not a route).
    async fn count(&self) -> usize {
        self.hush
            .list(&self.ws, &Default::default(), &Actor::local())
            .await
            .unwrap()
            .len()
    }

    async fn create_raw(&self, key: &str, value: &str) -> Answer {
        self.admin(
            Method::POST,
            "/v1/secrets",
            Some(json!({"key": key, "value": value})),
        )
        .await
    }
}

#[tokio::test]
async fn get_secret_with_value_version_and_refusals() {
    let app = App::new().await;
    app.create("K", "first").await;
    let a = app
        .admin(
            Method::PUT,
            "/v1/secrets/K",
            Some(json!({"value": PLANTED})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = app.admin(Method::GET, "/v1/secrets/K", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.headers["content-type"], "application/json");
    assert_eq!(a.headers["etag"], "\"2\"");
    assert_eq!(a.body["value"], PLANTED);
    assert_eq!(a.body["value_version"], 2);
    let a = app
        .admin(Method::GET, "/v1/secrets/K?version=1", None)
        .await;
    assert_eq!(a.body["value"], "first");
    // Bytes that are not UTF-8 come back as base64.
    let a = app
        .admin(
            Method::POST,
            "/v1/secrets",
            Some(json!({"key": "BIN", "value_base64": "/wD+"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let a = app.admin(Method::GET, "/v1/secrets/BIN", None).await;
    assert_eq!(a.body["value_base64"], "/wD+");
    assert!(a.body["value"].is_null());
    // Missing key, missing version, bad version, unknown parameter.
    assert_refused(
        &app.admin(Method::GET, "/v1/secrets/NOPE", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_refused(
        &app.admin(Method::GET, "/v1/secrets/K?version=9", None)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let a = app
        .admin(Method::GET, "/v1/secrets/K?version=x", None)
        .await;
    assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    let a = app
        .admin(Method::GET, "/v1/secrets/K?colour=red", None)
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text);
    // Revoked: 403 revoked; expired: 410.
    let a = app.admin(Method::POST, "/v1/secrets/K/revoke", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["status"], "revoked");
    assert_refused(
        &app.admin(Method::GET, "/v1/secrets/K", None).await,
        StatusCode::FORBIDDEN,
        "revoked",
    );
    let a = app.admin(Method::POST, "/v1/secrets/K/restore", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["status"], "active");
    // An expiry already passed, written on purpose: no race with the clock's next second.
    let past = hush_core::clock::now() - 1;
    let a = app
        .admin(
            Method::PATCH,
            "/v1/secrets/K",
            Some(json!({"expires_at": past, "allow_past": true})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_refused(
        &app.admin(Method::GET, "/v1/secrets/K", None).await,
        StatusCode::GONE,
        "expired",
    );
    // Revoke and restore of a missing key.
    for uri in ["/v1/secrets/NOPE/revoke", "/v1/secrets/NOPE/restore"] {
        assert_refused(
            &app.admin(Method::POST, uri, None).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
}

#[tokio::test]
async fn list_secrets_filters_and_pages() {
    let app = App::new().await;
    for k in ["A1", "A2", "A3", "B1"] {
        app.create(k, PLANTED).await;
    }
    let a = app.admin(Method::GET, "/v1/secrets?limit=2", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["items"].as_array().unwrap().len(), 2);
    assert!(!a.text.contains(PLANTED), "a list answered a value");
    let cursor = a.body["next_cursor"].as_str().unwrap().to_string();
    let a = app
        .admin(
            Method::GET,
            &format!("/v1/secrets?limit=2&cursor={cursor}"),
            None,
        )
        .await;
    let keys: Vec<_> = a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys, ["A3", "B1"]);
    let a = app.admin(Method::GET, "/v1/secrets?prefix=B", None).await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 1);
    for bad in [
        "limit=0",
        "limit=1001",
        "status=lost",
        "cursor=%2Fnot-a-key",
    ] {
        let a = app
            .admin(Method::GET, &format!("/v1/secrets?{bad}"), None)
            .await;
        assert!(
            a.status == StatusCode::UNPROCESSABLE_ENTITY || a.status == StatusCode::BAD_REQUEST,
            "{bad}: {}",
            a.text
        );
    }
}

#[tokio::test]
async fn put_patch_and_if_match() {
    let app = App::new().await;
    // PUT creates (201), then replaces (200).
    let a = app
        .admin(Method::PUT, "/v1/secrets/P", Some(json!({"value": "v1"})))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let a = app
        .admin(Method::PUT, "/v1/secrets/P", Some(json!({"value": "v2"})))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["version"], 2);
    // A stale `expected_version` → 409, nothing written.
    let a = app
        .admin(
            Method::PUT,
            "/v1/secrets/P",
            Some(json!({"value": PLANTED, "expected_version": 1})),
        )
        .await;
    assert_refused(&a, StatusCode::CONFLICT, "stale_version");
    // A bare number (the If-Match of earlier servers) is not an ETag: 400 naming both guards.
    for bad in ["not-a-number", "2", r#""1", "2""#] {
        let a = app
            .with_if_match(
                Method::PATCH,
                "/v1/secrets/P",
                bad,
                Some(json!({"description": "x"})),
            )
            .await;
        assert_refused(&a, StatusCode::BAD_REQUEST, "bad_request");
        assert!(a.message().contains("expected_version"), "{}", a.text);
    }
    let a = app.admin(Method::GET, "/v1/secrets/P", None).await;
    assert_eq!(a.body["value"], "v2");
    // PATCH metadata, then clear it with null / [].
    let a = app
        .admin(
            Method::PATCH,
            "/v1/secrets/P",
            Some(json!({"description": "d", "scope": ["a"], "token_type": "access"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["description"], "d");
    assert_eq!(a.body["token_type"], "access");
    let a = app
        .admin(
            Method::PATCH,
            "/v1/secrets/P",
            Some(json!({"description": null, "scope": null, "token_type": null})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(a.body["description"].is_null(), "{}", a.text);
    assert!(a.body["token_type"].is_null(), "{}", a.text);
    assert_eq!(a.body["scope"], json!([]));
    // PATCH of a missing key, and a refused patch that writes nothing.
    assert_refused(
        &app.admin(
            Method::PATCH,
            "/v1/secrets/NOPE",
            Some(json!({"description": "x"})),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let a = app
        .admin(
            Method::PATCH,
            "/v1/secrets/P",
            Some(json!({"envs": ["bad env"]})),
        )
        .await;
    assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    let a = app.admin(Method::GET, "/v1/secrets/P", None).await;
    assert_eq!(a.body["version"], 2);
    assert_eq!(a.body["envs"], json!([]));
}

#[tokio::test]
async fn versions_and_rollback() {
    let app = App::new().await;
    app.create("R", "one").await;
    app.admin(
        Method::PUT,
        "/v1/secrets/R",
        Some(json!({"value": PLANTED})),
    )
    .await;
    let a = app.admin(Method::GET, "/v1/secrets/R/versions", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(!a.text.contains(PLANTED), "versions answered a value");
    let a = app
        .admin(
            Method::POST,
            "/v1/secrets/R/rollback",
            Some(json!({"to": 1})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["version"], 3);
    let a = app.admin(Method::GET, "/v1/secrets/R", None).await;
    assert_eq!(a.body["value"], "one");
    assert_refused(
        &app.admin(
            Method::POST,
            "/v1/secrets/R/rollback",
            Some(json!({"to": 9})),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_refused(
        &app.admin(
            Method::POST,
            "/v1/secrets/R/rollback",
            Some(json!({"to": "1"})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_refused(
        &app.admin(Method::GET, "/v1/secrets/NOPE/versions", None)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

#[tokio::test]
async fn delete_secret_in_use_force_and_missing() {
    let app = App::new().await;
    app.create("D", PLANTED).await;
    let a = app
        .admin(
            Method::POST,
            "/v1/apps",
            Some(json!({"app": "web", "env": "prd", "secrets": [{"name": "D", "key": "D"}]})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let a = app.admin(Method::DELETE, "/v1/secrets/D", None).await;
    assert_refused(&a, StatusCode::CONFLICT, "in_use");
    assert!(a.message().contains("web"), "{}", a.text);
    let a = app
        .admin(Method::DELETE, "/v1/secrets/D?force=true", None)
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    assert!(a.text.is_empty());
    assert_refused(
        &app.admin(Method::DELETE, "/v1/secrets/D", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_refused(
        &app.admin(Method::GET, "/v1/secrets/D", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

// ---------------------------------------------------------------- resolve and machine tokens

#[tokio::test]
async fn resolve_answers_values_and_reasons() {
    let app = App::new().await;
    app.create("OK", PLANTED).await;
    app.create("GONE", "x").await;
    app.admin(Method::POST, "/v1/secrets/GONE/revoke", None)
        .await;
    app.admin(
        Method::POST,
        "/v1/secrets",
        Some(json!({"key": "OTHER", "value": "y", "scope": ["billing"]})),
    )
    .await;
    let a = app
        .admin(
            Method::POST,
            "/v1/resolve",
            Some(json!({"app": "web", "env": "prd", "keys": ["OK", "GONE", "NOPE", "OTHER"]})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.headers["content-type"], "application/json");
    assert_eq!(a.body["secrets"]["OK"]["value"], PLANTED);
    assert_eq!(a.body["errors"]["GONE"]["code"], "revoked");
    assert_eq!(a.body["errors"]["NOPE"]["code"], "missing");
    assert_eq!(a.body["errors"]["OTHER"]["code"], "out_of_scope");
    // A dry run answers metadata only.
    let a = app
        .admin(
            Method::POST,
            "/v1/resolve",
            Some(json!({"keys": ["OK"], "dry_run": true})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(!a.text.contains(PLANTED), "a dry run answered a value");
    // No keys, too many keys, a bad key.
    for body in [
        json!({"keys": []}),
        json!({"keys": (0..501).map(|i| format!("K{i}")).collect::<Vec<_>>()}),
        json!({"keys": ["not a key"]}),
        json!({"keys": "OK"}),
    ] {
        let a = app.admin(Method::POST, "/v1/resolve", Some(body)).await;
        assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    }
    // A body that does not fit names the path of what was wrong (and not what was sent
    // there); one that is not JSON says so.
    let a = app
        .admin(
            Method::POST,
            "/v1/resolve",
            Some(json!({"keys": ["OK", 4711]})),
        )
        .await;
    assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert!(a.message().contains("keys[1]"), "{}", a.text);
    assert!(!a.message().contains("4711"), "{}", a.text);
    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1/resolve")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.admin))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"keys": ["OK"]"#))
        .unwrap();
    let a = app.send(req).await;
    assert_refused(&a, StatusCode::BAD_REQUEST, "bad_request");
    assert!(a.message().starts_with("malformed JSON: "), "{}", a.text);
}

/// Issue 17: `fallbacks` in the request; the answer, under the key asked, is the first that
/// can serve, and its `fallbacks` entry names the key that served and those skipped (checked
/// against the OpenAPI document like every answer here).
#[tokio::test]
async fn resolve_follows_fallbacks_and_says_which_key_served() {
    let app = App::new().await;
    app.create("PRIMARY", "primary-v").await;
    app.create("BACKUP", PLANTED).await;
    app.admin(Method::POST, "/v1/secrets/PRIMARY/revoke", None)
        .await;
    let a = app
        .admin(
            Method::POST,
            "/v1/resolve",
            Some(json!({
                "keys": ["PRIMARY", "LONE"],
                "fallbacks": {"PRIMARY": ["NOPE", "BACKUP"], "LONE": ["NOPE"]},
            })),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["secrets"]["PRIMARY"]["value"], PLANTED);
    assert_eq!(a.body["secrets"]["PRIMARY"]["key"], "BACKUP");
    let trail = &a.body["fallbacks"]["PRIMARY"];
    assert_eq!(trail["served_by"], "BACKUP", "{}", a.text);
    let skipped: Vec<_> = trail["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["key"].as_str().unwrap(), s["code"].as_str().unwrap()))
        .collect();
    assert_eq!(skipped, [("PRIMARY", "revoked"), ("NOPE", "missing")]);
    // None could serve: the last key's reason is the refusal, every key tried is skipped.
    assert_eq!(a.body["errors"]["LONE"]["code"], "missing");
    assert!(
        a.body["fallbacks"]["LONE"]["served_by"].is_null(),
        "{}",
        a.text
    );
    assert_eq!(a.body["fallbacks"]["LONE"]["skipped"][1]["key"], "NOPE");
    assert!(
        !a.text.contains("primary-v"),
        "the revoked value was answered"
    );
    // The one audit row of the call names each key tried, and the switch in the backup's item.
    let a = app.admin(Method::GET, "/v1/audit?key=BACKUP", None).await;
    let read = a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "secret.read")
        .unwrap()
        .clone();
    let items = read["items"].as_array().unwrap();
    let tried: Vec<_> = items
        .iter()
        .map(|i| (i["key"].as_str().unwrap(), i["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        tried,
        [
            ("PRIMARY", "revoked"),
            ("NOPE", "not_found"),
            ("BACKUP", "ok"),
            ("LONE", "not_found"),
            ("NOPE", "not_found")
        ],
        "{read}"
    );
    assert_eq!(read["outcome"], "partial");
    assert_eq!(
        items[2]["detail"],
        "served by BACKUP; skipped PRIMARY (revoked), NOPE (missing)"
    );
    assert_eq!(items[1]["detail"], "fallback for PRIMARY");
    assert_eq!(items[4]["detail"], "fallback for LONE");
    // A key tried twice in the call (the fallback of two keys) finds the row once.
    let a = app.admin(Method::GET, "/v1/audit?key=NOPE", None).await;
    let found: Vec<_> = a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["seq"] == read["seq"])
        .collect();
    assert_eq!(found.len(), 1, "{}", a.body);
    // Without fallbacks the answer has no `fallbacks` member; bad fallbacks are refused.
    let a = app
        .admin(
            Method::POST,
            "/v1/resolve",
            Some(json!({"keys": ["BACKUP"]})),
        )
        .await;
    assert!(a.body.get("fallbacks").is_none(), "{}", a.text);
    for body in [
        json!({"keys": ["A"], "fallbacks": {"B": ["C"]}}),
        json!({"keys": ["A"], "fallbacks": {"A": ["A"]}}),
        json!({"keys": ["A"], "fallbacks": {"A": ["C", "C"]}}),
        json!({"keys": ["A"], "fallbacks": {"A": ["not a key"]}}),
    ] {
        let a = app.admin(Method::POST, "/v1/resolve", Some(body)).await;
        assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    }
}

#[tokio::test]
async fn machine_tokens_reach_only_their_apps_declared_keys() {
    let app = App::new().await;
    app.create("DECLARED", PLANTED).await;
    app.create("UNDECLARED", "z").await;
    let a = app
        .admin(
            Method::POST,
            "/v1/apps",
            Some(json!({"app": "web", "env": "prd", "secrets": [{"name": "DECLARED", "key": "DECLARED"}]})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let machine = app
        .token("web-prd", Role::Machine, Some(("web", "prd")))
        .await;
    let a = app
        .call(
            Method::POST,
            "/v1/resolve",
            &machine,
            Some(json!({"app": "web", "env": "prd", "keys": ["DECLARED"]})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["secrets"]["DECLARED"]["value"], PLANTED);
    let a = app
        .call(Method::GET, "/v1/secrets/UNDECLARED", &machine, None)
        .await;
    assert!(a.status.is_client_error(), "{}", a.text);
    assert!(!a.text.contains("\"value\""));
    let a = app.call(Method::GET, "/v1/secrets", &machine, None).await;
    let keys: Vec<_> = a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys, ["DECLARED"]);
    // Another app's or environment's name in the body is refused.
    let a = app
        .call(
            Method::POST,
            "/v1/resolve",
            &machine,
            Some(json!({"app": "billing", "env": "prd", "keys": ["DECLARED"]})),
        )
        .await;
    assert_refused(&a, StatusCode::FORBIDDEN, "forbidden");
    // Machine tokens may not write or administer.
    let a = app
        .call(
            Method::POST,
            "/v1/secrets",
            &machine,
            Some(json!({"key": "NEW", "value": "v"})),
        )
        .await;
    assert_refused(&a, StatusCode::FORBIDDEN, "forbidden");
    let a = app.call(Method::GET, "/v1/tokens", &machine, None).await;
    assert_refused(&a, StatusCode::FORBIDDEN, "forbidden");
}

/// `used_by` (and an app's keys) name the environment of the app's last read: the machine
/// token's bound environment or the one a resolve named, whichever value it got; null when the
/// read named none.
#[tokio::test]
async fn used_by_names_the_environment_of_the_apps_last_read() {
    let app = App::new().await;
    app.create("K", "shared-v").await;
    let a = app
        .admin(
            Method::PUT,
            "/v1/secrets/K?env=stg",
            Some(json!({"value": "stg-v"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = app
        .admin(
            Method::POST,
            "/v1/apps",
            Some(json!({"app": "web", "env": "prd", "secrets": [{"name": "K", "key": "K"}]})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let a = app.admin(Method::GET, "/v1/secrets/K", None).await;
    assert_eq!(
        a.body["used_by"],
        json!([{"app": "web", "last_read_at": null, "env": null}])
    );

    // A machine token bound to prd reads K (prd has no value of its own: the shared one).
    let machine = app
        .token("web-prd", Role::Machine, Some(("web", "prd")))
        .await;
    let a = app.call(Method::GET, "/v1/secrets/K", &machine, None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        (&a.body["value"], &a.body["value_env"]),
        (&json!("shared-v"), &json!(null))
    );
    let used_by = |a: &Answer| {
        let u = a.body["used_by"].as_array().unwrap().clone();
        assert_eq!(u.len(), 1, "{}", a.text);
        assert_eq!(u[0]["app"], "web", "{}", a.text);
        assert!(u[0]["last_read_at"].is_string(), "{}", a.text);
        u[0]["env"].clone()
    };
    let a = app.admin(Method::GET, "/v1/secrets/K", None).await;
    assert_eq!(used_by(&a), json!("prd"));
    let a = app.admin(Method::GET, "/v1/secrets", None).await;
    assert_eq!(a.body["items"][0]["key"], "K");
    assert_eq!(a.body["items"][0]["used_by"][0]["env"], "prd", "{}", a.text);
    let a = app.admin(Method::GET, "/v1/apps/web", None).await;
    assert_eq!(a.body["keys"][0]["key"], "K");
    assert_eq!(a.body["keys"][0]["env"], "prd", "{}", a.text);
    assert!(a.body["keys"][0]["last_read_at"].is_string(), "{}", a.text);

    // A resolve for the app in stg (its own value), then one naming no environment.
    let resolve = |body: Value| app.admin(Method::POST, "/v1/resolve", Some(body));
    let a = resolve(json!({"app": "web", "env": "stg", "keys": ["K"]})).await;
    assert_eq!(a.body["secrets"]["K"]["value"], "stg-v", "{}", a.text);
    let a = app.admin(Method::GET, "/v1/secrets/K", None).await;
    assert_eq!(used_by(&a), json!("stg"));
    let a = resolve(json!({"app": "web", "keys": ["K"]})).await;
    assert_eq!(a.body["secrets"]["K"]["value"], "shared-v", "{}", a.text);
    let a = app.admin(Method::GET, "/v1/secrets/K", None).await;
    assert_eq!(used_by(&a), json!(null));
    let a = app.admin(Method::GET, "/v1/apps/web", None).await;
    assert_eq!(a.body["keys"][0]["env"], json!(null), "{}", a.text);
    // A dry run reads nothing, so it changes nothing.
    let a = resolve(json!({"app": "web", "env": "prd", "keys": ["K"], "dry_run": true})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = app.admin(Method::GET, "/v1/secrets/K", None).await;
    assert_eq!(used_by(&a), json!(null));
}

// ---------------------------------------------------------------- apps

#[tokio::test]
async fn apps_register_show_replace_delete() {
    let app = App::new().await;
    let manifest =
        json!({"app": "web", "env": "prd", "secrets": [{"name": "DB_URL", "key": "DB_URL"}]});
    let a = app
        .admin(Method::POST, "/v1/apps", Some(manifest.clone()))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let a = app.admin(Method::POST, "/v1/apps", Some(manifest)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = app
        .admin(
            Method::PUT,
            "/v1/apps/web",
            Some(json!({"app": "web", "env": "dev", "secrets": []})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["env"], "dev");
    let a = app
        .admin(
            Method::PUT,
            "/v1/apps/web",
            Some(json!({"app": "api", "env": "dev", "secrets": []})),
        )
        .await;
    assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    let a = app
        .admin(
            Method::POST,
            "/v1/apps",
            Some(json!({"app": "bad app", "env": "dev", "secrets": []})),
        )
        .await;
    assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    let a = app.admin(Method::GET, "/v1/apps", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["items"].as_array().unwrap().len(), 1);
    let a = app.admin(Method::GET, "/v1/apps/web", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["app"], "web");
    assert_refused(
        &app.admin(Method::GET, "/v1/apps/nope", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let a = app.admin(Method::DELETE, "/v1/apps/web", None).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    assert_refused(
        &app.admin(Method::DELETE, "/v1/apps/web", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    // A read token may not register.
    let reader = app.token("reader", Role::Read, None).await;
    let a = app
        .call(
            Method::POST,
            "/v1/apps",
            &reader,
            Some(json!({"app": "web", "env": "prd", "secrets": []})),
        )
        .await;
    assert_refused(&a, StatusCode::FORBIDDEN, "forbidden");
}

// ---------------------------------------------------------------- tokens

#[tokio::test]
async fn tokens_create_list_revoke() {
    let app = App::new().await;
    let a = app
        .admin(
            Method::POST,
            "/v1/tokens",
            Some(json!({"role": "read", "name": "ci"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let token = a.body["token"].as_str().unwrap().to_string();
    let id = a.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.call(Method::GET, "/v1/secrets", &token, None)
            .await
            .status,
        StatusCode::OK
    );
    let a = app
        .admin(
            Method::POST,
            "/v1/tokens",
            Some(json!({"app": "web", "env": "prd"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.body["name"], "web-prd");
    assert_eq!(a.body["role"], "machine");
    let a = app.admin(Method::GET, "/v1/tokens", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(!a.text.contains(&token), "a token list answered a token");
    // Refusals: bad role, role with app, app without env, past expiry, machine role by name.
    for body in [
        json!({"role": "root"}),
        json!({"role": "read", "app": "web", "env": "prd"}),
        json!({"app": "web"}),
        json!({"role": "read", "expires_at": 1}),
        json!({"role": "machine"}),
    ] {
        let a = app
            .admin(Method::POST, "/v1/tokens", Some(body.clone()))
            .await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            a.text
        );
        assert_eq!(a.code(), "invalid_field", "{body}: {}", a.text);
    }
    // Revoke by id (DELETE) and by name (POST …/revoke); unknown → 404.
    // DELETE answers 204 with no body, like every delete.
    let a = app
        .admin(Method::DELETE, &format!("/v1/tokens/{id}"), None)
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    assert!(a.text.is_empty(), "{}", a.text);
    assert_refused(
        &app.call(Method::GET, "/v1/secrets", &token, None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let a = app
        .admin(Method::POST, "/v1/tokens/web-prd/revoke", None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["status"], "revoked");
    assert_refused(
        &app.admin(Method::POST, "/v1/tokens/nope/revoke", None)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    // Only admins manage tokens.
    let writer = app.token("writer", Role::Write, None).await;
    let a = app
        .call(
            Method::POST,
            "/v1/tokens",
            &writer,
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_refused(&a, StatusCode::FORBIDDEN, "forbidden");
    let a = app.call(Method::GET, "/v1/tokens", &writer, None).await;
    assert_refused(&a, StatusCode::FORBIDDEN, "forbidden");
}

// ---------------------------------------------------------------- audit

#[tokio::test]
async fn audit_rows_filters_verify_and_head() {
    let app = App::new().await;
    app.create("AUD", PLANTED).await;
    app.admin(Method::GET, "/v1/secrets/AUD", None).await;
    let rows = app.audit().await;
    assert!(
        rows.iter()
            .any(|(action, key, outcome)| action == "secret.read"
                && key == "AUD"
                && outcome == "ok"),
        "{rows:?}"
    );
    let a = app.admin(Method::GET, "/v1/audit?key=AUD", None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(!a.text.contains(PLANTED), "an audit row holds the value");
    assert!(!a.text.contains(&app.admin), "an audit row holds a token");
    assert!(a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["key"] == "AUD"));
    for bad in ["limit=0", "cursor=-1", "since=yesterday"] {
        let a = app
            .admin(Method::GET, &format!("/v1/audit?{bad}"), None)
            .await;
        assert!(a.status.is_client_error(), "{bad}: {}", a.text);
    }
    let head = app.admin(Method::GET, "/v1/audit/head", None).await;
    assert_eq!(head.status, StatusCode::OK, "{}", head.text);
    let seq = head.body["seq"].as_i64().unwrap();
    let mac = head.body["mac"].as_str().unwrap().to_string();
    assert!(seq > 0 && mac.len() == 64);
    let a = app
        .admin(
            Method::GET,
            &format!("/v1/audit/verify?head_seq={seq}&head_mac={mac}"),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["intact"], true);
    assert_eq!(a.body["head_checked"], true);
    // Half a head, and a forged one.
    let a = app
        .admin(
            Method::GET,
            &format!("/v1/audit/verify?head_seq={seq}"),
            None,
        )
        .await;
    assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert!(a.message().contains("head_mac"), "{}", a.text);
    let forged = "0".repeat(64);
    let a = app
        .admin(
            Method::GET,
            &format!("/v1/audit/verify?head_seq={seq}&head_mac={forged}"),
            None,
        )
        .await;
    assert!(
        a.status == StatusCode::CONFLICT || a.body["intact"] == false,
        "a forged head passed: {}",
        a.text
    );
    // Only admins read the log.
    let reader = app.token("reader", Role::Read, None).await;
    for uri in ["/v1/audit", "/v1/audit/verify", "/v1/audit/head"] {
        let a = app.call(Method::GET, uri, &reader, None).await;
        assert_refused(&a, StatusCode::FORBIDDEN, "forbidden");
    }
}

/// Issue 18: every audit row a request writes names its request id: the client's
/// `X-Request-Id`, or the one the server made and answered with. A failed authentication's
/// row too.
#[tokio::test]
async fn audit_rows_carry_the_request_id() {
    let app = App::new().await;
    let admin = app.admin.clone();
    let given = header::HeaderName::from_static("x-request-id");
    let a = app
        .call_with(
            Method::POST,
            "/v1/secrets",
            &admin,
            &[(given.clone(), "abc-123")],
            Some(json!({"key": "RID", "value": PLANTED})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.headers["x-request-id"], "abc-123");
    let made = app.admin(Method::GET, "/v1/secrets/RID", None).await;
    let made_id = made.headers["x-request-id"].to_str().unwrap().to_string();
    assert!(!made_id.is_empty() && made_id != "abc-123");
    let failed = app
        .call_with(
            Method::GET,
            "/v1/secrets",
            "hush_notarealtoken",
            &[(given, "failed-1")],
            None,
        )
        .await;
    assert_eq!(failed.status, StatusCode::UNAUTHORIZED);

    let a = app.admin(Method::GET, "/v1/audit?limit=1000", None).await;
    let rows = a.body["items"].as_array().unwrap();
    let find = |action: &str| {
        rows.iter()
            .find(|r| r["action"] == action)
            .unwrap_or_else(|| panic!("no {action} row: {}", a.text))
    };
    assert_eq!(find("secret.create")["request_id"], "abc-123");
    assert_eq!(find("secret.read")["request_id"], made_id.as_str());
    assert_eq!(find("auth.failed")["request_id"], "failed-1");
    // Rows without one (the token made straight in the service) leave the field out.
    let token_row = find("token.create");
    assert!(token_row.get("request_id").is_none(), "{token_row}");
    // The chain still verifies, request ids and all.
    let v = app.admin(Method::GET, "/v1/audit/verify", None).await;
    assert_eq!(v.body["intact"], true, "{}", v.text);
    assert!(v.body.get("checkpoint").is_none(), "{}", v.text);
}

/// Issue 18: `POST /v1/audit/prune` removes the older rows, answers how many and the
/// checkpoint, and verify then starts from it; refusals for other roles, a bad or future
/// `before`, and admins of other workspaces.
#[tokio::test]
async fn audit_prune_removes_old_rows_and_verify_starts_from_the_checkpoint() {
    let app = App::new().await;
    app.create("P1", "v").await;
    app.create("P2", "v").await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let before = hush_core::clock::rfc3339_ms(hush_core::clock::now_ms());
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    app.create("P3", "v").await;
    let old = app.admin(Method::GET, "/v1/audit?limit=1000", None).await;
    let old = old.body["items"].as_array().unwrap().clone();
    let kept_from = old.iter().position(|r| r["key"] == "P3").unwrap();
    let last_removed = &old[kept_from - 1];

    // Refusals first: they change nothing.
    let reader = app.token("reader", Role::Read, None).await;
    let a = app
        .call(
            Method::POST,
            "/v1/audit/prune",
            &reader,
            Some(json!({"before": before})),
        )
        .await;
    assert_refused(&a, StatusCode::FORBIDDEN, "forbidden");
    for bad in [
        json!({"before": "yesterday"}),
        json!({"before": "2999-01-01T00:00:00Z"}),
        json!({}),
    ] {
        let a = app
            .admin(Method::POST, "/v1/audit/prune", Some(bad.clone()))
            .await;
        assert!(a.status.is_client_error(), "{bad}: {}", a.text);
        if bad.get("before").is_some() {
            assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
            assert!(
                a.message().contains("before") || a.message().contains("future"),
                "{}",
                a.text
            );
        }
    }
    let (ops, _) = app.hush.workspace("ops", true).await.unwrap();
    let (_, ops_admin) = app
        .hush
        .create_token(
            &ops,
            "ops-admin",
            Role::Admin,
            None,
            None,
            None,
            &Actor::local(),
        )
        .await
        .unwrap();
    let a = app
        .call(
            Method::POST,
            "/v1/audit/prune",
            ops_admin.expose_secret(),
            Some(json!({"before": before})),
        )
        .await;
    assert_refused(&a, StatusCode::FORBIDDEN, "forbidden");
    assert!(a.message().contains("default"), "{}", a.text);
    let v = app.admin(Method::GET, "/v1/audit/verify", None).await;
    assert!(v.body.get("checkpoint").is_none(), "{}", v.text);

    let a = app
        .admin(
            Method::POST,
            "/v1/audit/prune",
            Some(json!({"before": before})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["removed"], kept_from as u64);
    assert_eq!(a.body["checkpoint"]["seq"], last_removed["seq"]);
    assert_eq!(a.body["checkpoint"]["mac"], last_removed["hash"]);
    let rows = app.admin(Method::GET, "/v1/audit?limit=1000", None).await;
    let rows = rows.body["items"].as_array().unwrap().clone();
    assert_eq!(rows[0]["seq"], old[kept_from]["seq"]);
    let prune = rows
        .iter()
        .find(|r| r["action"] == "audit.prune" && r["outcome"] == "ok")
        .unwrap();
    assert!(
        prune["detail"].as_str().unwrap().contains(&before),
        "{prune}"
    );
    assert!(prune["request_id"].is_string(), "{prune}");
    assert_eq!(a.body["head"]["seq"], prune["seq"]);

    let v = app.admin(Method::GET, "/v1/audit/verify", None).await;
    assert_eq!(v.body["intact"], true, "{}", v.text);
    assert_eq!(v.body["checkpoint"], a.body["checkpoint"]);
    assert_eq!(v.body["head_seq"], a.body["head"]["seq"]);
}

// ---------------------------------------------------------------- more refusals

#[tokio::test]
async fn a_web_ui_session_token_is_not_an_api_token() {
    let app = App::new().await;
    let presented = hush_core::token::TokenSecret::from_presented(&app.admin);
    let (actor, _) = app.hush.authenticate(&presented, None).await.unwrap();
    let (_, session) = app.hush.start_session(&app.ws, &actor, 600).await.unwrap();
    let a = app
        .call(Method::GET, "/v1/secrets", session.expose_secret(), None)
        .await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(
        a.headers[header::WWW_AUTHENTICATE],
        r#"Bearer realm="hush", error="invalid_token""#
    );
}

#[tokio::test]
async fn delete_with_a_stale_if_match_and_a_bad_key_in_the_path() {
    let app = App::new().await;
    app.create("IM", PLANTED).await;
    let req = Request::builder()
        .method(Method::DELETE)
        .uri("/v1/secrets/IM")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.admin))
        .header(header::IF_MATCH, r#""7""#)
        .body(Body::empty())
        .unwrap();
    assert_refused(
        &app.send(req).await,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    );
    assert_eq!(app.count().await, 1);
    let a = app
        .admin(Method::DELETE, "/v1/secrets/IM?expected_version=7", None)
        .await;
    assert_refused(&a, StatusCode::CONFLICT, "stale_version");
    assert_eq!(app.count().await, 1);
    let a = app
        .admin(
            Method::PUT,
            "/v1/secrets/-bad",
            Some(json!({"value": PLANTED})),
        )
        .await;
    assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert_eq!(app.count().await, 1);
}

#[tokio::test]
async fn failed_authentications_are_throttled_with_retry_after() {
    let app = App::new().await;
    let mut last = None;
    let peer: std::net::SocketAddr = "192.0.2.7:40000".parse().unwrap();
    for _ in 0..40 {
        let mut req = Request::get("/v1/secrets")
            .header(header::AUTHORIZATION, "Bearer hush_wrongwrongwrong")
            .body(Body::empty())
            .unwrap();
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        let a = app.send(req).await;
        if a.status == StatusCode::TOO_MANY_REQUESTS {
            last = Some(a);
            break;
        }
        assert_refused(&a, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let a = last.expect("40 failed authentications were never throttled");
    assert_eq!(a.code(), "rate_limited", "{}", a.text);
    let secs: u64 = a.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&secs), "Retry-After {secs}");
    // A valid token is never throttled.
    let a = app.admin(Method::GET, "/v1/secrets", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
}

// ---------------------------------------------------------------- the HTTP contract (issue 15)

/// Walks a list route page by page (`limit` each), checking every page's shape: exactly
/// `items` and `next_cursor`, a string cursor on every page but the last, no empty page.
/// Returns every item and the number of pages.
async fn walk(app: &App, uri: &str, limit: usize) -> (Vec<Value>, usize) {
    let sep = if uri.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let page_uri = match &cursor {
            Some(c) => format!("{uri}{sep}limit={limit}&cursor={c}"),
            None => format!("{uri}{sep}limit={limit}"),
        };
        let a = app.admin(Method::GET, &page_uri, None).await;
        assert_eq!(a.status, StatusCode::OK, "{page_uri}: {}", a.text);
        let page = a.body.as_object().unwrap();
        assert_eq!(page.len(), 2, "{page_uri}: {}", a.text);
        let got = page["items"].as_array().unwrap();
        assert!(got.len() <= limit, "{page_uri}: {}", a.text);
        pages += 1;
        items.extend(got.iter().cloned());
        match &page["next_cursor"] {
            Value::Null => return (items, pages),
            Value::String(c) => {
                assert_eq!(
                    got.len(),
                    limit,
                    "a page before the last is full: {}",
                    a.text
                );
                cursor = Some(c.clone());
            }
            other => panic!("{page_uri}: next_cursor {other}"),
        }
    }
}

#[tokio::test]
async fn every_list_route_answers_items_and_next_cursor_and_pages() {
    let app = App::new().await;
    for k in ["L1", "L2", "L3"] {
        app.create(k, PLANTED).await;
    }
    for v in ["two", "three"] {
        app.admin(Method::PUT, "/v1/secrets/L1", Some(json!({"value": v})))
            .await;
    }
    for name in ["a1", "a2", "a3"] {
        let a = app
            .admin(
                Method::POST,
                "/v1/apps",
                Some(json!({"app": name, "secrets": []})),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    }
    app.token("t2", Role::Read, None).await;
    app.token("t3", Role::Read, None).await;
    let routes = [
        ("/v1/secrets", "key", 3),
        ("/v1/secrets/L1/versions", "version", 3),
        ("/v1/apps", "app", 3),
        ("/v1/tokens", "id", 3),
        ("/v1/audit?key=L1", "seq", 3),
    ];
    for (uri, id, count) in routes {
        let (whole, pages) = walk(&app, uri, 1000).await;
        assert_eq!((whole.len(), pages), (count, 1), "{uri}");
        // Exactly full pages: no empty page after the last.
        let (one_by_one, pages) = walk(&app, uri, 1).await;
        assert_eq!(pages, count, "{uri}");
        assert_eq!(one_by_one, whole, "{uri}");
        let (_, pages) = walk(&app, uri, 2).await;
        assert_eq!(pages, 2, "{uri}");
        let ids: Vec<String> = whole.iter().map(|i| i[id].to_string()).collect();
        let mut unique = ids.clone();
        unique.dedup();
        assert_eq!(ids, unique, "{uri}: an item came twice");
        // A cursor that was never handed out is refused, not a restart; so is a bad limit.
        let sep = if uri.contains('?') { '&' } else { '?' };
        for bad in ["cursor=%2Fnever-handed-out", "limit=0", "limit=1001"] {
            let a = app
                .admin(Method::GET, &format!("{uri}{sep}{bad}"), None)
                .await;
            assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        }
    }
}

#[tokio::test]
async fn audit_paging_is_exact_at_the_boundary() {
    let app = App::new().await;
    app.create("B", "v").await;
    for _ in 0..3 {
        app.admin(Method::GET, "/v1/secrets/B", None).await;
    }
    // Four rows about B: a create and three reads.
    let a = app
        .admin(Method::GET, "/v1/audit?key=B&limit=4", None)
        .await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 4, "{}", a.text);
    assert!(a.body["next_cursor"].is_null(), "{}", a.text);
    let a = app
        .admin(Method::GET, "/v1/audit?key=B&limit=3", None)
        .await;
    let cursor = a.body["next_cursor"].as_str().unwrap().to_string();
    let a = app
        .admin(
            Method::GET,
            &format!("/v1/audit?key=B&limit=3&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 1, "{}", a.text);
    assert!(a.body["next_cursor"].is_null(), "{}", a.text);
    // The cursor is a string now; the integers earlier servers handed out read the same.
    let seq = cursor.parse::<i64>().unwrap();
    let a = app
        .admin(
            Method::GET,
            &format!("/v1/audit?key=B&limit=3&cursor={seq}"),
            None,
        )
        .await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 1, "{}", a.text);
    for bad in ["-1", "x", "1.5"] {
        let a = app
            .admin(Method::GET, &format!("/v1/audit?cursor={bad}"), None)
            .await;
        assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    }
}

#[tokio::test]
async fn every_201_names_its_location() {
    let app = App::new().await;
    let a = app.create("LOC", "v").await;
    assert_eq!(a.headers[header::LOCATION], "/v1/secrets/LOC");
    let a = app
        .admin(Method::PUT, "/v1/secrets/LOC2", Some(json!({"value": "v"})))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.headers[header::LOCATION], "/v1/secrets/LOC2");
    // A replace is no creation: no Location.
    let a = app
        .admin(Method::PUT, "/v1/secrets/LOC2", Some(json!({"value": "w"})))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(a.headers.get(header::LOCATION).is_none());
    let a = app
        .admin(
            Method::POST,
            "/v1/apps",
            Some(json!({"app": "billing", "secrets": []})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.headers[header::LOCATION], "/v1/apps/billing");
    let a = app
        .admin(
            Method::PUT,
            "/v1/apps/web",
            Some(json!({"app": "web", "secrets": []})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.headers[header::LOCATION], "/v1/apps/web");
    let a = app
        .admin(Method::POST, "/v1/tokens", Some(json!({"role": "read"})))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let id = a.body["id"].as_str().unwrap();
    assert_eq!(a.headers[header::LOCATION], format!("/v1/tokens/{id}"));
    // The Location answers.
    let a = app.admin(Method::GET, "/v1/apps/billing", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
}

#[tokio::test]
async fn etag_and_if_match_answer_412_while_expected_version_answers_409() {
    let app = App::new().await;
    let a = app.create("E", "one").await;
    let first = a.headers[header::ETAG].to_str().unwrap().to_string();
    assert_eq!(first, format!("\"{}\"", a.body["revision"]));
    let a = app.admin(Method::GET, "/v1/secrets/E", None).await;
    assert_eq!(a.headers[header::ETAG], first.as_str());
    // A metadata change moves the ETag but not the version.
    let a = app
        .with_if_match(
            Method::PATCH,
            "/v1/secrets/E",
            &first,
            Some(json!({"description": "d"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["version"], 1);
    let second = a.headers[header::ETAG].to_str().unwrap().to_string();
    assert_ne!(second, first);
    // The stale ETag is refused on PUT, PATCH and DELETE, and nothing is written.
    for (method, body) in [
        (Method::PUT, Some(json!({"value": PLANTED}))),
        (Method::PATCH, Some(json!({"value": PLANTED}))),
        (Method::DELETE, None),
    ] {
        let a = app
            .with_if_match(method.clone(), "/v1/secrets/E", &first, body)
            .await;
        assert_refused(&a, StatusCode::PRECONDITION_FAILED, "precondition_failed");
    }
    // A weak ETag never matches (If-Match compares strongly).
    let a = app
        .with_if_match(
            Method::PATCH,
            "/v1/secrets/E",
            &format!("W/{second}"),
            Some(json!({"description": "w"})),
        )
        .await;
    assert_refused(&a, StatusCode::PRECONDITION_FAILED, "precondition_failed");
    // The version guard is unchanged by the metadata change: the body's expected_version.
    let a = app
        .admin(
            Method::PATCH,
            "/v1/secrets/E",
            Some(json!({"value": "two", "expected_version": 1})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let third = a.headers[header::ETAG].to_str().unwrap().to_string();
    let a = app
        .admin(
            Method::PATCH,
            "/v1/secrets/E",
            Some(json!({"value": PLANTED, "expected_version": 1})),
        )
        .await;
    assert_refused(&a, StatusCode::CONFLICT, "stale_version");
    // `*` matches any current secret; a create takes no expected_version.
    let a = app
        .with_if_match(
            Method::PUT,
            "/v1/secrets/E",
            "*",
            Some(json!({"value": "three"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = app
        .admin(
            Method::POST,
            "/v1/secrets",
            Some(json!({"key": "E2", "value": "v", "expected_version": 1})),
        )
        .await;
    assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    let a = app.admin(Method::GET, "/v1/secrets/E", None).await;
    assert_eq!(a.body["value"], "three");
    assert_ne!(a.headers[header::ETAG], third.as_str());
    // The current ETag deletes: 204, no body.
    let current = a.headers[header::ETAG].to_str().unwrap().to_string();
    let a = app
        .with_if_match(Method::DELETE, "/v1/secrets/E", &current, None)
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    assert!(a.text.is_empty());
    assert_eq!(app.count().await, 0);
}

// ---------------------------------------------------------------- values per environment

#[tokio::test]
async fn environment_values_are_written_read_versioned_and_deleted_with_env() {
    let app = App::new().await;
    let a = app
        .admin(
            Method::PUT,
            "/v1/secrets/DB_URL",
            Some(json!({"value": "shared-v"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let a = app
        .admin(
            Method::PUT,
            "/v1/secrets/DB_URL?env=prd",
            Some(json!({"value": "prd-v"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["env_versions"], json!({"prd": 1}));
    assert_eq!(a.body["version"], 1);
    let a = app
        .admin(Method::GET, "/v1/secrets/DB_URL?env=prd", None)
        .await;
    assert_eq!(
        (
            &a.body["value"],
            &a.body["value_env"],
            &a.body["value_version"]
        ),
        (&json!("prd-v"), &json!("prd"), &json!(1))
    );
    let a = app
        .admin(Method::GET, "/v1/secrets/DB_URL?env=dev", None)
        .await;
    assert_eq!(
        (&a.body["value"], &a.body["value_env"]),
        (&json!("shared-v"), &Value::Null)
    );
    let a = app
        .admin(
            Method::PATCH,
            "/v1/secrets/DB_URL?env=prd",
            Some(json!({"value": "prd-v2", "expected_version": 1})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = app
        .admin(
            Method::PATCH,
            "/v1/secrets/DB_URL?env=prd",
            Some(json!({"value": "x", "expected_version": 1})),
        )
        .await;
    assert_refused(&a, StatusCode::CONFLICT, "stale_version");
    let a = app
        .admin(Method::GET, "/v1/secrets/DB_URL/versions?env=prd", None)
        .await;
    let versions: Vec<(Value, Value)> = a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["env"].clone(), v["version"].clone()))
        .collect();
    assert_eq!(
        versions,
        [(json!("prd"), json!(1)), (json!("prd"), json!(2))]
    );
    let a = app
        .admin(
            Method::POST,
            "/v1/secrets/DB_URL/rollback?env=prd",
            Some(json!({"to": 1})),
        )
        .await;
    assert_eq!(a.body["env_versions"], json!({"prd": 3}), "{}", a.text);
    let a = app
        .admin(Method::GET, "/v1/secrets/DB_URL?env=prd", None)
        .await;
    assert_eq!(a.body["value"], "prd-v");
    // Deleting prd's value leaves the secret and its shared value.
    let a = app
        .admin(Method::DELETE, "/v1/secrets/DB_URL?env=prd", None)
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    let a = app
        .admin(Method::GET, "/v1/secrets/DB_URL?env=prd", None)
        .await;
    assert_eq!(
        (&a.body["value"], &a.body["value_env"]),
        (&json!("shared-v"), &Value::Null)
    );
    let a = app
        .admin(Method::DELETE, "/v1/secrets/DB_URL?env=prd", None)
        .await;
    assert_refused(&a, StatusCode::NOT_FOUND, "not_found");
    let a = app
        .admin(Method::GET, "/v1/secrets/DB_URL?env=bad%20env", None)
        .await;
    assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    // Resolve in an environment.
    app.admin(
        Method::PUT,
        "/v1/secrets/DB_URL?env=dev",
        Some(json!({"value": "dev-v"})),
    )
    .await;
    let a = app
        .admin(
            Method::POST,
            "/v1/resolve",
            Some(json!({"keys": ["DB_URL"], "env": "dev"})),
        )
        .await;
    assert_eq!(a.body["secrets"]["DB_URL"]["value"], "dev-v", "{}", a.text);
    assert_eq!(a.body["secrets"]["DB_URL"]["value_env"], "dev");
}

/// Shutting down: `/readyz` answers 503 at once (load balancers stop sending), `/healthz` and
/// the API still answer the requests that arrive.
#[tokio::test]
async fn readyz_answers_503_once_draining() {
    let app = App::new().await;
    let state = AppState::new(Arc::clone(&app.hush));
    let router = router(state.clone());
    let ready = |router: Router| async move {
        router
            .oneshot(Request::get("/readyz").body(Body::empty()).unwrap())
            .await
            .unwrap()
    };
    assert_eq!(ready(router.clone()).await.status(), StatusCode::OK);
    state.start_draining();
    let res = ready(router.clone()).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key(header::RETRY_AFTER));
    let res = router
        .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

// ---------------------------------------------------------------- issue 16

/// Issue 16: `{"broken":` was stored as a JSON secret, an RFC 3339 `expires_at` was refused
/// although the CLI takes one, and a past expiry answered 201 `expired` without a word.
#[tokio::test]
async fn values_are_checked_at_the_door() {
    let app = App::new().await;
    let post = |body: Value| {
        let app = &app;
        async move { app.admin(Method::POST, "/v1/secrets", Some(body)).await }
    };
    // `format: json` refuses what does not parse, naming where and never what.
    let a =
        post(json!({"key": "CFG", "value": "{\"broken\": \"sk_planted\"", "format": "json"})).await;
    assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert!(a.message().contains("not valid JSON"), "{}", a.text);
    assert!(a.message().contains("at line 1, column "), "{}", a.text);
    assert!(a.message().contains("\"format\": \"text\""), "{}", a.text);
    assert!(
        !a.text.contains("sk_planted") && !a.text.contains("broken"),
        "{}",
        a.text
    );
    let a = post(json!({"key": "CFG", "value": "x", "format": "yaml"})).await;
    assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert_eq!(app.count().await, 0, "nothing written");
    let a = post(json!({"key": "CFG", "value": "{\"ok\": true}", "format": "json"})).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    // PUT and PATCH check the same way; PATCH with a format and no value is refused.
    for (method, body) in [
        (Method::PUT, json!({"value": "[1,", "format": "json"})),
        (Method::PATCH, json!({"value": "[1,", "format": "json"})),
        (Method::PATCH, json!({"description": "d", "format": "json"})),
    ] {
        let a = app
            .admin(method, "/v1/secrets/CFG", Some(body.clone()))
            .await;
        assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    }
    assert_eq!(
        app.admin(Method::GET, "/v1/secrets/CFG", None).await.body["value"],
        "{\"ok\": true}"
    );

    // expires_at: unix seconds or RFC 3339, read to the same unix seconds.
    for (key, at) in [
        ("E1", json!(4102444800i64)),
        ("E2", json!("2100-01-01T00:00:00Z")),
        ("E3", json!("2100-01-01T01:00:00+01:00")),
    ] {
        let a = post(json!({"key": key, "value": "v", "expires_at": at})).await;
        assert_eq!(a.status, StatusCode::CREATED, "{at}: {}", a.text);
        assert_eq!(a.body["expires_at"], 4102444800i64, "{at}");
    }
    let a = app
        .admin(
            Method::PATCH,
            "/v1/secrets/E1",
            Some(json!({"expires_at": "2101-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["expires_at"], 4133980800i64);
    // Text that is not RFC 3339 is refused naming the field and the forms, not echoed.
    let a = post(json!({"key": "E4", "value": "v", "expires_at": "next tuesday"})).await;
    assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert!(a.message().contains("`expires_at`"), "{}", a.text);
    assert!(a.message().contains("RFC 3339"), "{}", a.text);
    assert!(!a.text.contains("tuesday"), "{}", a.text);
    // Milliseconds (`Date.now()`) are refused with a hint, as a number and not a date.
    let a = post(json!({"key": "E4", "value": "v", "expires_at": 1_900_000_000_000i64})).await;
    assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert!(a.message().contains("milliseconds"), "{}", a.text);

    // A past expiry is refused unless `allow_past` says it is meant.
    for at in [json!(1), json!("2001-01-01T00:00:00Z")] {
        let a = post(json!({"key": "OLD", "value": "v", "expires_at": at})).await;
        assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        assert!(a.message().contains("in the past"), "{}", a.text);
        assert!(a.message().contains("allow_past"), "{}", a.text);
    }
    let a = app
        .admin(
            Method::PATCH,
            "/v1/secrets/E1",
            Some(json!({"expires_at": 1})),
        )
        .await;
    assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert_eq!(app.count().await, 4, "no refused write landed");
    let a = post(json!({"key": "OLD", "value": "v", "expires_at": 1, "allow_past": true})).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.body["status"], "expired");

    // Tokens take RFC 3339 too, and still refuse the past.
    let a = app
        .admin(
            Method::POST,
            "/v1/tokens",
            Some(json!({"role": "read", "expires_at": "2100-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.body["expires_at"], 4102444800i64);
    let a = app
        .admin(
            Method::POST,
            "/v1/tokens",
            Some(json!({"role": "read", "expires_at": "2001-01-01T00:00:00Z"})),
        )
        .await;
    assert_refused(&a, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
}

/// Issue 16: `POST /v1/tokens` with `workspace` answered 422 "unknown field". A token is
/// made for the workspace of the admin token that asks, named or not; another workspace's
/// tokens are made with that workspace's admin token.
#[tokio::test]
async fn a_token_for_a_workspace_is_made_by_an_admin_of_that_workspace() {
    let app = App::new().await;
    let (staging, _) = app.hush.workspace("staging", true).await.unwrap();
    let (_, staging_admin) = app
        .hush
        .create_token(
            &staging,
            "ops",
            Role::Admin,
            None,
            None,
            None,
            &Actor::local(),
        )
        .await
        .unwrap();
    let staging_admin = staging_admin.expose_secret().to_string();

    // Naming its own workspace is the same as not naming one.
    let a = app
        .admin(
            Method::POST,
            "/v1/tokens",
            Some(json!({"role": "read", "workspace": "default"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    // Another workspace, existing or not: the same 403, saying what to do.
    let mut messages = Vec::new();
    for ws in ["staging", "nowhere"] {
        let a = app
            .admin(
                Method::POST,
                "/v1/tokens",
                Some(json!({"role": "read", "workspace": ws})),
            )
            .await;
        assert_refused(&a, StatusCode::FORBIDDEN, "forbidden");
        assert!(
            a.message().contains("admin token of that workspace"),
            "{}",
            a.text
        );
        messages.push(a.message().to_string());
    }
    assert_eq!(
        messages[0], messages[1],
        "the answer tells nothing of which exist"
    );
    // staging's admin makes staging's tokens; they work in staging only.
    let a = app
        .call(
            Method::POST,
            "/v1/tokens",
            &staging_admin,
            Some(json!({"role": "write", "workspace": "staging", "name": "deploy"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let deploy = a.body["token"].as_str().unwrap().to_string();
    let a = app
        .call(
            Method::POST,
            "/v1/secrets",
            &deploy,
            Some(json!({"key": "K", "value": "v"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.body["workspace"], "staging");
    assert_eq!(app.count().await, 0, "default holds nothing");
}

// ---------------------------------------------------------------- expiry warnings (issue 17)

/// Issue 17: a secret within its warning window (`notify_before`, default 14 days) is
/// `expiring` in lists and `show`; reads of it warn (`warnings` on `GET` and at the top of
/// `POST /v1/resolve`); `status=expiring` lists only those; `/metrics` counts the secrets
/// expiring within 7 days.
#[tokio::test]
async fn expiring_secrets_say_so_in_status_warnings_and_the_gauge() {
    let app = App::new().await;
    let now = hush_core::clock::now();
    let day = 86_400;
    for body in [
        json!({"key": "SOON", "value": PLANTED, "expires_at": now + 3 * day}),
        json!({"key": "LATER", "value": "v", "expires_at": now + 30 * day}),
        json!({"key": "WIDE", "value": "v", "expires_at": now + 30 * day, "notify_before": 40 * day}),
        json!({"key": "QUIET", "value": "v", "expires_at": now + day, "notify_before": 0}),
        json!({"key": "NEVER", "value": "v"}),
    ] {
        let a = app.admin(Method::POST, "/v1/secrets", Some(body)).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    }
    let statuses = |a: &Answer| -> Vec<(String, String)> {
        a.body["items"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", a.text))
            .iter()
            .map(|m| {
                let s = |f: &str| m[f].as_str().unwrap().to_string();
                (s("key"), s("status"))
            })
            .collect()
    };
    let all = app.admin(Method::GET, "/v1/secrets", None).await;
    assert_eq!(
        statuses(&all),
        [
            ("LATER".into(), "active".into()),
            ("NEVER".into(), "active".into()),
            ("QUIET".into(), "active".into()),
            ("SOON".into(), "expiring".into()),
            ("WIDE".into(), "expiring".into()),
        ]
    );
    let items = all.body["items"].as_array().unwrap();
    assert_eq!(items[4]["notify_before"], 40 * day);
    assert_eq!(items[3]["notify_before"], Value::Null, "the default");
    let only = app
        .admin(Method::GET, "/v1/secrets?status=expiring", None)
        .await;
    let keys: Vec<_> = statuses(&only).into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["SOON", "WIDE"]);
    let active = app
        .admin(Method::GET, "/v1/secrets?status=active", None)
        .await;
    assert_eq!(statuses(&active).len(), 5, "active takes in expiring");

    // A read warns, and still gives the value.
    let got = app.admin(Method::GET, "/v1/secrets/SOON", None).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text);
    assert_eq!(got.body["value"], PLANTED);
    assert_eq!(got.body["status"], "expiring");
    let w = &got.body["warnings"][0];
    assert_eq!(w["key"], "SOON");
    assert_eq!(w["code"], "expiring");
    assert_eq!(w["expires_at"], now + 3 * day);
    let msg = w["message"].as_str().unwrap();
    assert!(
        msg.starts_with("SOON expires in 2 days (") || msg.starts_with("SOON expires in 3 days ("),
        "{msg}"
    );
    assert!(!msg.contains(PLANTED), "no value in a warning");
    let quiet = app.admin(Method::GET, "/v1/secrets/QUIET", None).await;
    assert!(quiet.body.get("warnings").is_none(), "{}", quiet.text);

    let r = app
        .admin(
            Method::POST,
            "/v1/resolve",
            Some(json!({"keys": ["SOON", "LATER", "WIDE", "QUIET"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let warned: Vec<_> = r.body["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["key"].as_str().unwrap())
        .collect();
    assert_eq!(warned, ["SOON", "WIDE"]);
    assert!(
        r.body["secrets"]["SOON"].get("warnings").is_none(),
        "said once, at the top: {}",
        r.text
    );
    let none = app
        .admin(
            Method::POST,
            "/v1/resolve",
            Some(json!({"keys": ["LATER"]})),
        )
        .await;
    assert!(none.body.get("warnings").is_none(), "{}", none.text);

    // The window is set, changed and cleared through a write; a bad one is refused.
    let p = app
        .admin(
            Method::PATCH,
            "/v1/secrets/LATER",
            Some(json!({"notify_before": 60 * day})),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    assert_eq!(p.body["status"], "expiring");
    let p = app
        .admin(
            Method::PATCH,
            "/v1/secrets/LATER",
            Some(json!({"notify_before": null})),
        )
        .await;
    assert_eq!(p.body["status"], "active", "{}", p.text);
    for bad in [json!(-1), json!(400 * 86_400 * 10), json!("30d")] {
        let p = app
            .admin(
                Method::PATCH,
                "/v1/secrets/LATER",
                Some(json!({ "notify_before": bad })),
            )
            .await;
        assert_eq!(
            p.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            p.text
        );
        assert!(p.message().contains("notify_before"), "{}", p.text);
    }

    // The gauge: SOON (3 days) and QUIET (1 day, whatever its window); not the 30-day ones.
    let req = Request::get("/metrics").body(Body::empty()).unwrap();
    let m = app.send(req).await;
    assert!(
        m.text.lines().any(|l| l == "hush_secrets_expiring 2"),
        "{}",
        m.text
    );
    assert!(!m.text.contains("SOON"), "no key in a metric");
}

/// Issue 17: every token change through the API leaves its audit row, naming the token's id
/// and never the token: creation, and revocation by both routes.
#[tokio::test]
async fn token_creation_and_revocation_through_the_api_are_audited() {
    let app = App::new().await;
    let mut made = Vec::new();
    for name in ["r1", "r2"] {
        let a = app
            .admin(
                Method::POST,
                "/v1/tokens",
                Some(json!({"role": "read", "name": name})),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
        made.push((
            a.body["id"].as_str().unwrap().to_string(),
            a.body["token"].as_str().unwrap().to_string(),
        ));
    }
    let d = app
        .admin(Method::DELETE, &format!("/v1/tokens/{}", made[0].0), None)
        .await;
    assert_eq!(d.status, StatusCode::NO_CONTENT, "{}", d.text);
    let r = app
        .admin(
            Method::POST,
            &format!("/v1/tokens/{}/revoke", made[1].0),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let rows = app.audit().await;
    for (id, _) in &made {
        for action in ["token.create", "token.revoke"] {
            assert!(
                rows.iter()
                    .any(|(a, k, o)| a == action && k == id && o == "ok"),
                "no {action} row for {id}: {rows:?}"
            );
        }
    }
    let raw = app.admin(Method::GET, "/v1/audit?limit=1000", None).await;
    for (_, secret) in &made {
        assert!(
            !raw.text.contains(secret.as_str()),
            "a token in the audit log"
        );
    }
}

//! The real `hush server` on 127.0.0.1: every route, role and error code.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Stdio};

use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{sqlite_only, Home};

/// A running server; killed on drop.
pub struct Server {
    /// Keeps the store's directory alive while the server runs.
    _home: Home,
    child: Child,
    pub base: String,
    pub admin: String,
    http: Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn start() -> Self {
        Self::start_with(&[], Client::new())
    }

    /// SIGKILL, and wait for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The server's home: commands run with it work on the server's store directly.
    pub fn home(&self) -> &Home {
        &self._home
    }

    /// The store's database file.
    pub fn db(&self) -> std::path::PathBuf {
        self._home.db()
    }

    /// A server started with extra environment variables.
    pub fn start_env(env: &[(&str, &str)]) -> Self {
        let mut home = Home::empty();
        for (k, v) in env {
            home = home.with_env(k, v);
        }
        Self::start_in(home, &[], Client::new())
    }

    /// A server started with extra flags, spoken to with `http`.
    pub fn start_with(extra: &[&str], http: Client) -> Self {
        Self::start_in(Home::empty(), extra, http)
    }

    fn start_in(home: Home, extra: &[&str], http: Client) -> Self {
        let mut args = vec!["server", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut c = home.command(&args);
        c.env("HUSH_SQLITE_BUSY_TIMEOUT_MS", "300");
        c.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        let mut child = c.spawn().expect("spawn server");
        let (admin, base, err) = started(&mut child);
        assert!(
            base.starts_with("http://127.0.0.1:") || base.starts_with("https://127.0.0.1:"),
            "no listen line"
        );
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in err.lines() {});
        Server {
            _home: home,
            child,
            base,
            admin,
            http,
        }
    }

    pub fn req(&self, method: &str, path: &str, token: &str) -> RequestBuilder {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = self.http.request(m, format!("{}{}", self.base, path));
        if token.is_empty() {
            r
        } else {
            r.bearer_auth(token)
        }
    }

    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut r = self.req(method, path, token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        split(r.send().unwrap())
    }

    pub fn token(&self, body: Value) -> String {
        let (s, v) = self.call("POST", "/v1/tokens", &self.admin, Some(body));
        assert_eq!(s, 201, "{v}");
        v["token"].as_str().unwrap().to_string()
    }

    pub fn put(&self, key: &str, body: Value) {
        let (s, v) = self.call(
            "PUT",
            &format!("/v1/secrets/{key}"),
            &self.admin,
            Some(body),
        );
        assert!(s.is_success(), "{s} {v}");
    }
}

/// What a `hush server` spawned with piped stdout and stderr says as it starts: the first
/// admin token (stdout's first line) and the address of its "hush listening on" line (empty
/// when none came), with stderr's reader for the rest of its log.
pub fn started(child: &mut Child) -> (String, String, BufReader<std::process::ChildStderr>) {
    let mut admin = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut admin)
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut base = String::new();
    for _ in 0..10 {
        let mut line = String::new();
        err.read_line(&mut line).unwrap();
        if let Some(addr) = line.trim().strip_prefix("hush listening on ") {
            base = addr.to_string();
            break;
        }
    }
    (admin.trim().to_string(), base, err)
}

pub fn split(r: Response) -> (StatusCode, Value) {
    let s = r.status();
    let text = r.text().unwrap();
    (
        s,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// method, path, token, content type, body, expected status.
type Case<'a> = (
    &'a str,
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    u16,
);

#[track_caller]
fn assert_error(got: (StatusCode, Value), status: u16, code: &str) {
    assert_eq!(got.0.as_u16(), status, "{}", got.1);
    assert_eq!(got.1["error"]["code"], code, "{}", got.1);
    assert!(got.1["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
}

#[test]
fn ductape_walkthrough_create_list_fetch_update_revoke_delete() {
    let s = Server::start();
    let a = &s.admin;
    let (st, v) = s.call("POST", "/v1/secrets", a, Some(json!({
        "key": "STRIPE_API_KEY", "value": "sk_live_51ABC123", "description": "Production Stripe API key",
        "token_type": "api", "scope": ["stripe_payments", "checkout_service"], "envs": ["prd", "staging"], "expires_at": 4102444800u64
    })));
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["key"], "STRIPE_API_KEY");
    assert_eq!(v["token_type"], "api");
    assert_eq!(v["expires_at"], 4102444800u64);
    assert!(v.get("value").is_none());
    let (st, list) = s.call("GET", "/v1/secrets", a, None);
    assert_eq!(st, 200);
    assert!(
        !list.to_string().contains("sk_live_51ABC123"),
        "list never carries values"
    );
    assert_eq!(
        list["items"][0]["scope"],
        json!(["stripe_payments", "checkout_service"])
    );
    let (st, one) = s.call("GET", "/v1/secrets/STRIPE_API_KEY", a, None);
    assert_eq!(st, 200);
    assert_eq!(one["value"], "sk_live_51ABC123");
    let (st, up) = s.call(
        "PATCH",
        "/v1/secrets/STRIPE_API_KEY",
        a,
        Some(json!({"value": "sk_live_51NEW", "description": "Rotated"})),
    );
    assert_eq!(st, 200, "{up}");
    assert_eq!(up["version"], 2);
    let (st, up) = s.call(
        "PATCH",
        "/v1/secrets/STRIPE_API_KEY",
        a,
        Some(json!({"scope": ["a"], "expires_at": null})),
    );
    assert_eq!(st, 200, "{up}");
    assert_eq!(up["version"], 2, "metadata only");
    assert_eq!(up["expires_at"], Value::Null);
    let (st, _) = s.call("POST", "/v1/secrets/STRIPE_API_KEY/revoke", a, None);
    assert_eq!(st, 200);
    assert_error(
        s.call("GET", "/v1/secrets/STRIPE_API_KEY", a, None),
        403,
        "revoked",
    );
    s.call("POST", "/v1/secrets/STRIPE_API_KEY/restore", a, None);
    let (st, vs) = s.call("GET", "/v1/secrets/STRIPE_API_KEY/versions", a, None);
    assert_eq!(st, 200);
    assert_eq!(vs["items"].as_array().unwrap().len(), 2);
    let (st, rb) = s.call(
        "POST",
        "/v1/secrets/STRIPE_API_KEY/rollback",
        a,
        Some(json!({"to": 1})),
    );
    assert_eq!(st, 200, "{rb}");
    assert_eq!(
        s.call("GET", "/v1/secrets/STRIPE_API_KEY", a, None).1["value"],
        "sk_live_51ABC123"
    );
    let (st, _) = s.call("DELETE", "/v1/secrets/STRIPE_API_KEY", a, None);
    assert_eq!(st, 204);
    assert_error(
        s.call("GET", "/v1/secrets/STRIPE_API_KEY", a, None),
        404,
        "not_found",
    );
}

#[test]
fn roles_decide_what_a_token_may_do() {
    let s = Server::start();
    s.put("k", json!({"value": "v"}));
    let read = s.token(json!({"role": "read", "name": "reader"}));
    let write = s.token(json!({"role": "write"}));
    assert_eq!(s.call("GET", "/v1/secrets/k", &read, None).1["value"], "v");
    assert_error(
        s.call("PUT", "/v1/secrets/k", &read, Some(json!({"value": "x"}))),
        403,
        "forbidden",
    );
    assert_error(
        s.call(
            "POST",
            "/v1/secrets",
            &read,
            Some(json!({"key": "n", "value": "x"})),
        ),
        403,
        "forbidden",
    );
    assert_error(
        s.call("DELETE", "/v1/secrets/k", &read, None),
        403,
        "forbidden",
    );
    assert_eq!(
        s.call("GET", "/v1/secrets/k", &s.admin, None).1["value"],
        "v",
        "nothing written"
    );
    assert_eq!(
        s.call("PUT", "/v1/secrets/k", &write, Some(json!({"value": "w"})))
            .0,
        200
    );
    assert_error(
        s.call("POST", "/v1/tokens", &write, Some(json!({"role": "admin"}))),
        403,
        "forbidden",
    );
    assert_error(s.call("GET", "/v1/audit", &write, None), 403, "forbidden");
    assert_error(s.call("GET", "/v1/tokens", &read, None), 403, "forbidden");
    let (st, tokens) = s.call("GET", "/v1/tokens", &s.admin, None);
    assert_eq!(st, 200);
    assert!(!tokens.to_string().contains(&read) && !tokens.to_string().contains(&write));
    assert!(tokens["next_cursor"].is_null(), "{tokens}");
    let id = tokens["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "reader")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        s.call("DELETE", &format!("/v1/tokens/{id}"), &s.admin, None),
        (StatusCode::NO_CONTENT, Value::String(String::new())),
        "204 and no body, like every delete"
    );
    assert_error(
        s.call("GET", "/v1/secrets/k", &read, None),
        401,
        "unauthorized",
    );
}

#[test]
fn machine_tokens_read_only_their_app_and_environment() {
    let s = Server::start();
    s.put(
        "ingest-prd",
        json!({"value": "a", "scope": ["ingest"], "envs": ["prd"]}),
    );
    s.put(
        "ingest-dev",
        json!({"value": "b", "scope": ["ingest"], "envs": ["dev"]}),
    );
    s.put("billing", json!({"value": "c", "scope": ["billing"]}));
    s.put("shared", json!({"value": "d"}));
    s.put("revoked", json!({"value": "e"}));
    s.call("POST", "/v1/secrets/revoked/revoke", &s.admin, None);
    s.put(
        "expired",
        json!({"value": "f", "expires_at": 1, "allow_past": true}),
    );
    s.put("undeclared", json!({"value": "g"}));
    let m = s.token(json!({"app": "ingest", "env": "prd"}));
    // Before the app registers a manifest, scope and environment rules alone apply.
    assert_eq!(
        s.call("GET", "/v1/secrets/undeclared", &m, None).1["value"],
        "g"
    );
    let declared: Vec<Value> = [
        "ingest-prd",
        "ingest-dev",
        "billing",
        "shared",
        "revoked",
        "expired",
        "nope",
    ]
    .iter()
    .map(|k| json!({"name": k.to_uppercase().replace('-', "_"), "key": k}))
    .collect();
    let (st, body) = s.call(
        "POST",
        "/v1/apps",
        &s.admin,
        Some(json!({"app": "ingest", "env": "prd", "secrets": declared})),
    );
    assert_eq!(st, 201, "{body}");
    assert_eq!(
        s.call("GET", "/v1/secrets/ingest-prd", &m, None).1["value"],
        "a"
    );
    // Once it has one, a secret in scope but not in the manifest is out of reach.
    assert_error(
        s.call("GET", "/v1/secrets/undeclared", &m, None),
        403,
        "forbidden",
    );
    assert_eq!(
        s.call("GET", "/v1/secrets/shared", &m, None).1["value"],
        "d"
    );
    assert_error(
        s.call("GET", "/v1/secrets/ingest-dev", &m, None),
        403,
        "forbidden",
    );
    assert_error(
        s.call("GET", "/v1/secrets/billing", &m, None),
        403,
        "forbidden",
    );
    assert_error(
        s.call("GET", "/v1/secrets/revoked", &m, None),
        403,
        "revoked",
    );
    assert_error(
        s.call("GET", "/v1/secrets/expired", &m, None),
        410,
        "expired",
    );
    assert_error(
        s.call("PUT", "/v1/secrets/shared", &m, Some(json!({"value": "x"}))),
        403,
        "forbidden",
    );
    let (_, list) = s.call("GET", "/v1/secrets", &m, None);
    let keys: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    // Only the manifest's keys (regression: undeclared keys were listed).
    assert_eq!(keys, ["expired", "ingest-prd", "revoked", "shared"]);
    let (st, r) = s.call(
        "POST",
        "/v1/resolve",
        &m,
        Some(json!({"app": "ingest", "env": "prd",
        "keys": ["ingest-prd", "shared", "billing", "revoked", "expired", "nope"]})),
    );
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["secrets"]["ingest-prd"]["value"], "a");
    assert_eq!(r["secrets"]["shared"]["value"], "d");
    assert_eq!(r["errors"]["billing"]["code"], "out_of_scope");
    assert_eq!(r["errors"]["revoked"]["code"], "revoked");
    assert_eq!(r["errors"]["expired"]["code"], "expired");
    assert_eq!(r["errors"]["nope"]["code"], "missing");
    assert_error(
        s.call(
            "POST",
            "/v1/resolve",
            &m,
            Some(json!({"app": "billing", "keys": ["billing"]})),
        ),
        403,
        "forbidden",
    );
}

#[test]
fn conflicts_and_stale_versions_write_nothing() {
    let s = Server::start();
    let a = &s.admin;
    assert_eq!(
        s.call(
            "POST",
            "/v1/secrets",
            a,
            Some(json!({"key": "k", "value": "one"}))
        )
        .0,
        201
    );
    assert_error(
        s.call(
            "POST",
            "/v1/secrets",
            a,
            Some(json!({"key": "k", "value": "two"})),
        ),
        409,
        "exists",
    );
    assert_eq!(s.call("GET", "/v1/secrets/k", a, None).1["value"], "one");
    let (st, _) = s.call(
        "PATCH",
        "/v1/secrets/k",
        a,
        Some(json!({"value": "v2", "expected_version": 1})),
    );
    assert_eq!(st, 200);
    assert_error(
        s.call(
            "PATCH",
            "/v1/secrets/k",
            a,
            Some(json!({"value": "v3", "expected_version": 1})),
        ),
        409,
        "stale_version",
    );
    let (_, v) = s.call("GET", "/v1/secrets/k", a, None);
    assert_eq!(
        (v["value"].as_str(), v["version"].as_u64()),
        (Some("v2"), Some(2))
    );
}

#[test]
fn bad_input_gets_the_right_4xx_and_writes_nothing() {
    let s = Server::start();
    let a = s.admin.clone();
    s.put("k", json!({"value": "v"}));
    let before = s.call("GET", "/v1/secrets", &a, None).1;
    let big = "x".repeat(3 * 1024 * 1024);
    let cases: Vec<Case> = vec![
        // method, path, token, content-type, body, status
        (
            "POST",
            "/v1/secrets",
            &a,
            Some("application/json"),
            Some("{not json"),
            400,
        ),
        (
            "POST",
            "/v1/secrets",
            &a,
            Some("application/json"),
            Some(""),
            400,
        ),
        (
            "POST",
            "/v1/secrets",
            &a,
            Some("application/json"),
            Some("[]"),
            422,
        ),
        (
            "POST",
            "/v1/secrets",
            &a,
            Some("application/json"),
            Some(r#"{"key":"n","value":"v","bogus":1}"#),
            422,
        ),
        (
            "POST",
            "/v1/secrets",
            &a,
            Some("application/json"),
            Some(r#"{"key":"n","value":5}"#),
            422,
        ),
        (
            "POST",
            "/v1/secrets",
            &a,
            Some("application/json"),
            Some(r#"{"key":"n","value":"v","scope":"pay"}"#),
            422,
        ),
        (
            "POST",
            "/v1/secrets",
            &a,
            Some("application/json"),
            Some(r#"{"key":"n","value":"v","expires_at":"soon"}"#),
            422,
        ),
        (
            "POST",
            "/v1/secrets",
            &a,
            Some("application/json"),
            Some(r#"{"key":"n","value":"v","token_type":"bearer"}"#),
            422,
        ),
        (
            "POST",
            "/v1/secrets",
            &a,
            Some("application/json"),
            Some(r#"{"key":"a/b","value":"v"}"#),
            422,
        ),
        (
            "POST",
            "/v1/secrets",
            &a,
            Some("application/json"),
            Some(r#"{"key":".hidden","value":"v"}"#),
            422,
        ),
        (
            "POST",
            "/v1/secrets",
            &a,
            Some("application/json"),
            Some(r#"{"key":"n","value":""}"#),
            422,
        ),
        (
            "POST",
            "/v1/secrets",
            &a,
            Some("application/json"),
            Some(r#"{"key":"n"}"#),
            422,
        ),
        (
            "POST",
            "/v1/secrets",
            &a,
            Some("application/json"),
            Some(r#"{"value":"v"}"#),
            422,
        ),
        (
            "POST",
            "/v1/secrets",
            &a,
            Some("application/json"),
            Some(r#"{"key":"n","value_base64":"***"}"#),
            422,
        ),
        (
            "POST",
            "/v1/secrets",
            &a,
            Some("application/json"),
            Some(r#"{"key":"n","value":"v","value_base64":"dg=="}"#),
            422,
        ),
        (
            "POST",
            "/v1/secrets",
            &a,
            Some("application/json"),
            Some(r#"{"key":"n","value":"v","envs":["bad env"]}"#),
            422,
        ),
        (
            "POST",
            "/v1/secrets",
            &a,
            Some("text/plain"),
            Some(r#"{"key":"n","value":"v"}"#),
            415,
        ),
        (
            "POST",
            "/v1/secrets",
            &a,
            None,
            Some(r#"{"key":"n","value":"v"}"#),
            415,
        ),
        (
            "PUT",
            "/v1/secrets/..%2Fetc",
            &a,
            Some("application/json"),
            Some(r#"{"value":"v"}"#),
            422,
        ),
        (
            "GET",
            "/v1/secrets/..%2F..%2Fetc%2Fpasswd",
            &a,
            None,
            None,
            422,
        ),
        ("GET", "/v1/secrets/%FF%FE", &a, None, None, 400),
        ("GET", "/v1/secrets/k?version=abc", &a, None, None, 422),
        ("GET", "/v1/secrets/k?version=0", &a, None, None, 422),
        ("GET", "/v1/secrets?limit=0", &a, None, None, 422),
        ("GET", "/v1/secrets?status=gone", &a, None, None, 422),
        ("GET", "/v1/secrets?bogus=1", &a, None, None, 400),
        (
            "PATCH",
            "/v1/secrets/k",
            &a,
            Some("application/json"),
            Some("{}"),
            422,
        ),
        (
            "PATCH",
            "/v1/secrets/k",
            &a,
            Some("application/json"),
            Some(r#"{"key":"other"}"#),
            422,
        ),
        (
            "POST",
            "/v1/secrets/k/rollback",
            &a,
            Some("application/json"),
            Some(r#"{"to":"one"}"#),
            422,
        ),
        (
            "POST",
            "/v1/secrets/k/rollback",
            &a,
            Some("application/json"),
            Some(r#"{"to":0}"#),
            422,
        ),
        (
            "POST",
            "/v1/resolve",
            &a,
            Some("application/json"),
            Some(r#"{"keys":[]}"#),
            422,
        ),
        (
            "POST",
            "/v1/tokens",
            &a,
            Some("application/json"),
            Some(r#"{"role":"root"}"#),
            422,
        ),
        (
            "POST",
            "/v1/tokens",
            &a,
            Some("application/json"),
            Some(r#"{"app":"x"}"#),
            422,
        ),
        ("GET", "/v1/secrets", "", None, None, 401),
        ("GET", "/v1/secrets", "hush_notarealtoken", None, None, 401),
        ("GET", "/v1/secrets", &a[..a.len() - 3], None, None, 401),
        (
            "GET",
            "/v1/secrets",
            "hush_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            None,
            None,
            401,
        ),
        ("DELETE", "/v1/secrets", &a, None, None, 405),
        ("PUT", "/v1/resolve", &a, None, None, 405),
        ("GET", "/v1/nothing-here", &a, None, None, 404),
    ];
    assert!(
        cases.len() + 3 >= 30,
        "the suite sends at least 30 bad requests"
    );
    for (method, path, token, ctype, body, status) in &cases {
        let mut r = s.req(method, path, token);
        if let Some(c) = ctype {
            r = r.header("content-type", *c);
        }
        if let Some(b) = body {
            r = r.body(b.to_string());
        }
        let (st, v) = split(r.send().unwrap());
        assert_eq!(
            st.as_u16(),
            *status,
            "{method} {path} {:?}: {v}",
            body.map(|b| &b[..b.len().min(80)])
        );
        assert!(
            v["error"]["code"].as_str().is_some(),
            "{method} {path}: JSON error body expected, got {v}"
        );
    }
    // A body over the limit, on a connection of its own (the server closes it after answering).
    let r = Client::new()
        .post(format!("{}/v1/secrets", s.base))
        .bearer_auth(&a)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .unwrap();
    assert_eq!(r.status(), 413);
    // Invalid UTF-8 in a JSON body.
    let r = s
        .req("POST", "/v1/secrets", &a)
        .header("content-type", "application/json")
        .body(vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'])
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    // A bad Authorization header that is not even text.
    let r = s
        .req("GET", "/v1/secrets", "")
        .header(
            "authorization",
            reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        )
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        s.call("GET", "/v1/secrets", &a, None).1,
        before,
        "nothing was written"
    );
    assert_eq!(s.call("GET", "/v1/secrets/k", &a, None).1["value"], "v");
}

#[test]
fn a_value_in_a_type_error_is_not_echoed() {
    let s = Server::start();
    let (_, v) = s.call(
        "POST",
        "/v1/secrets",
        &s.admin.clone(),
        Some(json!({"key": "k", "value": "v", "scope": "sk_live_planted_scope"})),
    );
    assert!(!v.to_string().contains("sk_live_planted"), "{v}");
}

#[test]
fn many_failed_authentications_from_one_address_get_429() {
    let s = Server::start();
    let mut last = 0;
    for _ in 0..25 {
        last = s.call("GET", "/v1/secrets", "hush_wrong", None).0.as_u16();
    }
    assert_eq!(last, 429);
    assert_eq!(
        s.call("GET", "/v1/secrets", &s.admin.clone(), None).0,
        200,
        "a valid token is never refused by the throttle (hostile.rs tests the rest)"
    );
}

#[test]
fn health_readiness_metrics_openapi_and_audit() {
    let s = Server::start();
    assert_eq!(s.call("GET", "/healthz", "", None).0, 200);
    assert_eq!(s.call("GET", "/readyz", "", None).0, 200);
    let (st, doc) = s.call("GET", "/v1/openapi.json", "", None);
    assert_eq!(st, 200);
    assert!(doc["paths"]["/v1/resolve"].is_object());
    s.put("k", json!({"value": "planted-metrics-value"}));
    s.call("GET", "/v1/secrets/k", &s.admin.clone(), None);
    s.call("GET", "/v1/secrets/k", "hush_bad", None);
    let m = s.req("GET", "/metrics", "").send().unwrap().text().unwrap();
    assert!(
        m.contains(
            r#"hush_http_requests_total{method="GET",route="/v1/secrets/{key}",status="200"} 1"#
        ),
        "{m}"
    );
    assert!(m.contains("hush_http_request_duration_seconds_bucket"));
    assert!(
        m.contains(r#"hush_http_request_duration_seconds_count{method="GET",route="/v1/secrets/{key}",status_class="2xx"} 1"#),
        "{m}"
    );
    assert!(
        m.contains(r#"hush_http_request_duration_seconds_count{method="GET",route="/v1/secrets/{key}",status_class="4xx"} 1"#),
        "{m}"
    );
    // The build, the process, and the group commit (the write and the read each committed).
    let (_, health) = s.call("GET", "/healthz", "", None);
    let commit = health["commit"].as_str().unwrap_or_default().to_string();
    assert!(
        m.contains(&format!(
            r#"hush_build_info{{version="{}",commit="{commit}"}} 1"#,
            env!("CARGO_PKG_VERSION")
        )),
        "{m}"
    );
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_threads",
    ] {
        assert!(m.contains(name), "{name} missing: {m}");
    }
    let batches: f64 = m
        .lines()
        .find_map(|l| l.strip_prefix("hush_group_commit_batch_size_count "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no batch count: {m}"));
    assert!(batches >= 2.0, "{m}");
    assert!(!m.contains("planted-metrics-value"));
    let (st, log) = s.call("GET", "/v1/audit?key=k", &s.admin.clone(), None);
    assert_eq!(st, 200);
    let actions: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["secret.create", "secret.read"]);
    assert!(log["items"][1]["remote"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    assert_eq!(log["items"][1]["actor_name"], "first-admin");
    let (_, all) = s.call("GET", "/v1/audit", &s.admin.clone(), None);
    assert!(all.to_string().contains("auth.failed"));
    assert!(
        !all.to_string().contains("planted-metrics-value") && !all.to_string().contains(&s.admin)
    );
    let (st, v) = s.call("GET", "/v1/audit/verify", &s.admin.clone(), None);
    assert_eq!(st, 200);
    assert_eq!(v["intact"], true);
}

#[test]
fn plain_http2_with_prior_knowledge_is_served() {
    let http = Client::builder().http2_prior_knowledge().build().unwrap();
    let s = Server::start_with(&[], http);
    let r = s.req("GET", "/v1/secrets", &s.admin).send().unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), 200);
}

#[test]
fn tls_with_a_given_certificate_serves_http2_and_http1() {
    let dir = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let cert_pem = cert.cert.pem();
    std::fs::write(dir.path().join("cert.pem"), &cert_pem).unwrap();
    std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let root = reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap();
    let http = Client::builder()
        .add_root_certificate(root.clone())
        .build()
        .unwrap();
    let c = dir.path().join("cert.pem");
    let k = dir.path().join("key.pem");
    let s = Server::start_with(
        &[
            "--tls-cert",
            c.to_str().unwrap(),
            "--tls-key",
            k.to_str().unwrap(),
        ],
        http,
    );
    assert!(s.base.starts_with("https://"), "{}", s.base);
    s.put("k", json!({"value": "over-tls"}));
    let r = s.req("GET", "/v1/secrets/k", &s.admin).send().unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2, "ALPN picks h2");
    assert_eq!(split(r).1["value"], "over-tls");
    let h1 = Client::builder()
        .add_root_certificate(root)
        .http1_only()
        .build()
        .unwrap();
    let r = h1
        .get(format!("{}/v1/secrets/k", s.base))
        .bearer_auth(&s.admin)
        .send()
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_11);
    assert_eq!(r.status(), 200);
    // Plain HTTP to the TLS port does not get served.
    let plain = s.base.replace("https://", "http://");
    assert!(Client::new()
        .get(format!("{plain}/healthz"))
        .send()
        .is_err());
}

#[test]
fn bad_tls_files_are_refused_at_start() {
    let h = Home::empty();
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let out = h.run(
        &[
            "server",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            junk.to_str().unwrap(),
            "--tls-key",
            junk.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("key") || out.stderr.contains("certificate"),
        "{}",
        out.stderr
    );
}

#[test]
fn expired_tokens_are_refused_and_cannot_be_minted() {
    let s = Server::start();
    assert_error(
        s.call(
            "POST",
            "/v1/tokens",
            &s.admin,
            Some(json!({"role": "read", "expires_at": 1})),
        ),
        422,
        "invalid_field",
    );
    let soon = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 4;
    let t = s.token(json!({"role": "read", "expires_at": soon}));
    // (4 s of life: a loaded machine running the whole suite must not expire it first.)
    assert_eq!(s.call("GET", "/v1/secrets", &t, None).0, 200);
    std::thread::sleep(std::time::Duration::from_millis(5100));
    assert_error(s.call("GET", "/v1/secrets", &t, None), 401, "unauthorized");
}

#[test]
fn review_regressions() {
    let s = Server::start();
    let a = s.admin.clone();
    // Non-string values in a type error are not echoed either.
    for body in [
        json!({"key": "PIN", "value": 1234567}),
        json!({"key": "PIN", "value": 2.71871}),
        json!({"key": "PIN", "value": "v", "scope": "my\", secret, value"}),
    ] {
        let (st, v) = s.call("POST", "/v1/secrets", &a, Some(body));
        assert_eq!(st, 422);
        let text = v.to_string();
        assert!(
            !text.contains("1234567")
                && !text.contains("2.71871")
                && !text.contains("secret, value"),
            "{text}"
        );
    }
    // Out-of-range numbers in queries are 422, never a panic.
    assert_error(
        s.call("GET", "/v1/audit?since=9223372036854775807", &a, None),
        422,
        "invalid_field",
    );
    assert_error(
        s.call("GET", "/v1/secrets?limit=99999999999999999999", &a, None),
        422,
        "invalid_field",
    );
    assert_error(
        s.call("GET", "/v1/secrets/k?version=-1", &a, None),
        422,
        "invalid_field",
    );
    assert_error(
        s.call("GET", "/v1/audit?limit=0", &a, None),
        422,
        "invalid_field",
    );
    // The scheme of Authorization is case-insensitive.
    let r = s
        .req("GET", "/v1/secrets", "")
        .header("authorization", format!("BEARER {a}"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    // PUT and DELETE honour `expected_version` (409) and If-Match on the ETag (412).
    s.put("k", json!({"value": "one"}));
    assert_error(
        s.call(
            "PUT",
            "/v1/secrets/k",
            &a,
            Some(json!({"value": "two", "expected_version": 7})),
        ),
        409,
        "stale_version",
    );
    assert_error(
        s.call("DELETE", "/v1/secrets/k?expected_version=7", &a, None),
        409,
        "stale_version",
    );
    let r = s.req("GET", "/v1/secrets/k", &a).send().unwrap();
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(r.json::<Value>().unwrap()["value"], "one");
    let r = s
        .req("DELETE", "/v1/secrets/k", &a)
        .header("If-Match", r#""7""#)
        .send()
        .unwrap();
    assert_error(split(r), 412, "precondition_failed");
    let r = s
        .req("PUT", "/v1/secrets/k", &a)
        .header("If-Match", &etag)
        .json(&json!({"value": "two", "expected_version": 1}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let r = s
        .req("DELETE", "/v1/secrets/k?expected_version=2", &a)
        .header("If-Match", &etag)
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
    // The SDK refuses path tricks instead of sending them.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = hush_client::Client::new(&s.base, &a).unwrap();
    s.put("STRIPE", json!({"value": "x"}));
    let r = rt.block_on(client.revoke_token("../secrets/STRIPE"));
    assert!(
        matches!(r, Err(hush_client::Error::Invalid { .. })),
        "{r:?}"
    );
    assert_eq!(
        s.call("GET", "/v1/secrets/STRIPE", &a, None).1["status"],
        "active"
    );
    // Invented methods do not become metric labels.
    let m = reqwest::Method::from_bytes(b"MADEUP123").unwrap();
    let _ = Client::new()
        .request(m, format!("{}/healthz", s.base))
        .send();
    let metrics = s.req("GET", "/metrics", "").send().unwrap().text().unwrap();
    assert!(!metrics.contains("MADEUP123"));
}

#[test]
fn an_admin_sees_only_its_own_workspace_audit_rows() {
    let s = Server::start();
    s.put("default-secret", json!({"value": "v"}));
    // The operator makes a second workspace and an admin token for it on the same store.
    let home = &s._home;
    let mut c = home.command(&["secrets", "set", "teamb-secret", "--workspace", "teamb"]);
    c.env("HUSH_SQLITE_BUSY_TIMEOUT_MS", "5000");
    home.run_with(c, Some(b"b")).ok();
    let out = home
        .run(
            &[
                "tokens",
                "create",
                "--role",
                "admin",
                "--workspace",
                "teamb",
            ],
            None,
        )
        .ok();
    let teamb = out.text().trim().to_string();
    let (st, log) = s.call("GET", "/v1/audit", &teamb, None);
    assert_eq!(st, 200);
    let text = log.to_string();
    assert!(text.contains("teamb-secret"), "{text}");
    assert!(
        !text.contains("default-secret") && !text.contains("auth.failed"),
        "{text}"
    );
    let (_, list) = s.call("GET", "/v1/secrets", &teamb, None);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["key"], "teamb-secret");
}

#[test]
fn a_locked_store_answers_503_and_nothing_is_lost() {
    // On PostgreSQL the same is shown by stopping the database: tests/cli/nodes.rs.
    if sqlite_only("locking the SQLite file") {
        return;
    }
    let s = Server::start();
    s.put("k", json!({"value": "before"}));
    // Another process holds the database's write lock.
    let conn = rusqlite::Connection::open(s.db()).unwrap();
    conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
    assert_error(
        s.call(
            "PUT",
            "/v1/secrets/k",
            &s.admin,
            Some(json!({"value": "during"})),
        ),
        503,
        "unavailable",
    );
    // Audit fails closed: a read that cannot be recorded is not answered.
    let (st, v) = s.call("GET", "/v1/secrets/k", &s.admin, None);
    assert_eq!(st, 503, "{v}");
    assert!(!v.to_string().contains("before"));
    conn.execute_batch("ROLLBACK").unwrap();
    drop(conn);
    assert_eq!(
        s.call(
            "PUT",
            "/v1/secrets/k",
            &s.admin,
            Some(json!({"value": "after"}))
        )
        .0,
        200
    );
    assert_eq!(
        s.call("GET", "/v1/secrets/k", &s.admin, None).1["value"],
        "after"
    );
    let m = s.req("GET", "/metrics", "").send().unwrap().text().unwrap();
    assert!(
        m.contains(r#"hush_store_errors_total{kind="unavailable"} 2"#),
        "{m}"
    );
}

#[test]
fn a_client_that_never_finishes_its_headers_is_dropped() {
    use std::io::{Read as _, Write as _};
    let s = Server::start();
    let addr = s.base.trim_start_matches("http://");
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let start = std::time::Instant::now();
    let mut buf = [0u8; 256];
    // Returns when the server closes the connection (or after 20 s, when it did not).
    let _ = tcp.read(&mut buf);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(19),
        "the server kept the connection open"
    );
    // The server still serves others.
    assert_eq!(s.call("GET", "/healthz", "", None).0, 200);
}

/// SIGTERM while a request's body is half sent: the request is answered (201, and the secret
/// is stored), no new connection is accepted, and the server exits 0.
#[test]
fn sigterm_lets_a_request_in_flight_finish_then_exits_0() {
    use std::io::{Read as _, Write as _};
    let mut s = Server::start();
    let addr = s.base.trim_start_matches("http://").to_string();
    let body = r#"{"key":"drained","value":"answered-after-the-signal"}"#;
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        conn,
        "POST /v1/secrets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        s.admin,
        body.len()
    )
    .unwrap();
    let (first, rest) = body.split_at(10);
    conn.write_all(first.as_bytes()).unwrap();
    conn.flush().unwrap();
    // Time for the server to accept the connection and start reading the request.
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let pid = s.child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    // Draining: the listener is closed (soon after the signal), so a new client is refused.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::net::TcpStream::connect(&addr).is_ok() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "a new connection was accepted while draining"
    );
    conn.write_all(rest.as_bytes()).unwrap();
    let mut answer = String::new();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let _ = conn.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let status = s.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    // The write is in the store.
    let h = &s._home;
    assert_eq!(h.get("drained"), b"answered-after-the-signal");
}

/// One access line per request through tracing (JSON with HUSH_LOG_FORMAT=json): method, route
/// template, status, latency, the token's id and name, and the request id, which is taken from
/// `X-Request-Id` (or made) and echoed. Never the token, a value or the query string's values.
#[test]
fn access_log_lines_name_the_route_and_token_never_secrets() {
    let home = Home::empty();
    let mut c = home.command(&["server", "--listen", "127.0.0.1:0"]);
    c.env("HUSH_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let mut child = c.spawn().unwrap();
    let (admin, base, err) = started(&mut child);
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let reader = std::thread::spawn(move || {
        for l in err.lines().map_while(Result::ok) {
            sink.lock().unwrap().push(l);
        }
    });
    let http = Client::new();
    let planted = "planted-access-log-value-77";
    let r = http
        .post(format!("{base}/v1/secrets"))
        .bearer_auth(&admin)
        .json(&json!({"key": "logged", "value": planted}))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = http
        .get(format!("{base}/v1/secrets/logged?version=1"))
        .bearer_auth(&admin)
        .header("x-request-id", "req-abc.123")
        .send()
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "req-abc.123");
    let r = http
        .get(format!("{base}/healthz"))
        .header("x-request-id", "bad id; forged=line")
        .send()
        .unwrap();
    let made = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(
        made.len() == 24 && made.bytes().all(|b| b.is_ascii_hexdigit()),
        "{made}"
    );
    let _ = child.kill();
    let _ = child.wait();
    // Every line the server wrote: the reader ends at the pipe's end.
    reader.join().unwrap();
    let lines = lines.lock().unwrap().clone();
    let access: Vec<Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|j| j["fields"]["message"] == "access")
        .collect();
    let get = access
        .iter()
        .find(|j| j["span"]["request_id"] == "req-abc.123")
        .unwrap_or_else(|| panic!("no access line for the request id: {lines:#?}"));
    assert_eq!(get["fields"]["route"], "/v1/secrets/{key}");
    assert_eq!(get["fields"]["method"], "GET");
    assert_eq!(get["fields"]["status"], 200);
    assert!(get["fields"]["latency_ms"].is_number());
    assert_eq!(get["span"]["token_name"], "first-admin", "{get}");
    assert!(get["span"]["token_id"]
        .as_str()
        .unwrap()
        .starts_with("tok_"));
    assert_eq!(access.len(), 3, "{access:#?}");
    let all = lines.join("\n");
    assert!(!all.contains(&admin), "a token in the log");
    assert!(!all.contains(planted), "a value in the log");
    assert!(!all.contains("version=1"), "a query string in the log");
    assert!(!all.contains("bad id"), "a hostile request id in the log");
}

//! Webhooks: a receiver started by the test (a plain HTTP server on 127.0.0.1) gets each
//! event POSTed once, correctly signed, from one node or two on the same PostgreSQL; a 500 is
//! tried again; the signing secret and values never show where they must not; refusals are
//! clear.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::common::{client_only, contains, Home};
use crate::nodes::{init, shared_database, Node};
use crate::server::started;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A tiny HTTP/1.1 receiver: answers each request with the next status of `answers` (the
/// last one from then on) and keeps what it got.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start(answers: &[u16]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let answers = answers.to_vec();
        let seen = got.clone();
        std::thread::spawn(move || {
            for (n, conn) in listener.incoming().enumerate() {
                let Ok(mut conn) = conn else { continue };
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                let mut r = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                if r.read_line(&mut line).is_err() {
                    continue;
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                let mut headers = Vec::new();
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.trim().split_once(':') {
                        headers.push((k.trim().to_string(), v.trim().to_string()));
                    }
                }
                let len = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.parse::<usize>().ok())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                let _ = r.read_exact(&mut body);
                seen.lock().unwrap().push(Received {
                    path,
                    headers,
                    body,
                });
                let status = answers[n.min(answers.len() - 1)];
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                );
            }
        });
        Receiver { url, got }
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests came (at most `secs`).
    fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        let until = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < until {
            if self.got().len() >= n {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.got()
    }
}

/// What the receiver checks: `sha256=` + hex HMAC-SHA256 of the body under the secret.
fn expected_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// Checks one delivery: signed with `secret`, its headers, and never `value` in it.
fn check_delivery(r: &Received, secret: &str, value: &str) {
    assert_eq!(r.path, "/hook");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.header("x-hush-signature"),
        Some(expected_signature(secret, &r.body).as_str()),
        "the signature is the HMAC-SHA256 of the body under the webhook's secret"
    );
    assert_ne!(
        r.header("x-hush-signature"),
        Some(expected_signature("whsec_wrong", &r.body).as_str())
    );
    let v = r.json();
    assert_eq!(r.header("x-hush-event"), v["type"].as_str());
    assert_eq!(r.header("x-hush-delivery"), v["delivery"].as_str());
    assert!(v["delivery"].as_str().unwrap().starts_with("dlv_"), "{v}");
    assert!(!contains(&r.body, value.as_bytes()), "a value in a payload");
    assert!(
        !contains(&r.body, secret.as_bytes()),
        "the secret in a payload"
    );
    let headers = format!("{:?}", r.headers);
    assert!(!headers.contains(value) && !headers.contains(secret));
}

/// A `hush server` on a fresh home with `env` (the retry base for tests), and its admin token.
struct Single {
    home: Home,
    child: Child,
    base: String,
    admin: String,
}

impl Drop for Single {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Single {
    fn start() -> Single {
        let home = Home::empty().with_env("HUSH_WEBHOOK_RETRY_MS", "300");
        let mut c = home.command(&["server", "--listen", "127.0.0.1:0"]);
        c.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        let mut child = c.spawn().unwrap();
        let (admin, base, err) = started(&mut child);
        assert!(base.starts_with("http://127.0.0.1:"), "no listen line");
        std::thread::spawn(move || for _ in err.lines() {});
        Single {
            home,
            child,
            base,
            admin,
        }
    }

    /// `hush ARGS` against the server with `token`.
    fn hush(&self, token: &str, args: &[&str]) -> crate::common::Out {
        let mut c = self.home.command(args);
        c.env("HUSH_ADDR", &self.base).env("HUSH_TOKEN", token);
        client_only(&mut c);
        self.home.run_with(c, None)
    }

    fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let c = reqwest::blocking::Client::new();
        let mut r = c
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", self.base),
            )
            .bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let res = r.send().unwrap();
        let st = res.status().as_u16();
        let text = res.text().unwrap();
        (
            st,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

#[test]
fn a_webhook_gets_each_event_once_correctly_signed_from_two_nodes() {
    let Some(db) = shared_database() else { return };
    let admin = init(&db.url);
    let env = [
        ("HUSH_WEBHOOK_RETRY_MS", "300"),
        ("HUSH_EXPIRY_SWEEP_MS", "200"),
    ];
    let a = Node::start(&db.url, &env);
    let b = Node::start(&db.url, &env);
    let rx = Receiver::start(&[200]);

    let (st, hook) = a.call(
        "POST",
        "/v1/webhooks",
        &admin,
        Some(json!({"url": rx.url, "events": ["created", "updated", "expiring"]})),
    );
    assert_eq!(st, 201, "{hook}");
    let secret = hook["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{hook}");
    let id = hook["id"].as_str().unwrap().to_string();
    // The other node lists it, without the secret.
    let (st, list) = b.call("GET", "/v1/webhooks", &admin, None);
    assert_eq!(st, 200, "{list}");
    assert_eq!(list["items"][0]["id"], id.as_str());
    assert!(!list.to_string().contains(&secret));

    // A write on node B: both nodes follow the event; the receiver gets it once.
    let value = "canary-webhook-value-8c1f";
    let (st, v) = b.call(
        "POST",
        "/v1/secrets",
        &admin,
        Some(json!({"key": "DB_PASSWORD", "value": value})),
    );
    assert_eq!(st, 201, "{v}");
    let (st, v) = a.call(
        "PATCH",
        "/v1/secrets/DB_PASSWORD",
        &admin,
        Some(json!({"value": format!("{value}-2")})),
    );
    assert_eq!(st, 200, "{v}");
    let got = rx.wait_for(2, 15);
    assert!(got.len() >= 2, "both events arrived: {got:?}");
    // Long enough for a second node's duplicate or a retry to show up, were there one.
    std::thread::sleep(Duration::from_secs(3));
    let mut got = rx.got();
    assert_eq!(got.len(), 2, "each event exactly once: {got:?}");
    // Each delivery is an attempt of its own, possibly by another node: they may arrive in
    // either order, and the event's `id` says which came first.
    got.sort_by_key(|r| r.json()["id"].as_u64());
    for r in &got {
        check_delivery(r, &secret, value);
        assert_eq!(r.json()["webhook"], id.as_str());
        assert_eq!(r.json()["key"], "DB_PASSWORD");
    }
    let kinds: Vec<_> = got.iter().map(|r| r.json()["type"].clone()).collect();
    assert_eq!(kinds, [json!("created"), json!("updated")]);
    assert_eq!(got[1].json()["version"], 2);

    // A secret entering its warning window: both nodes sweep, `expiring` comes once.
    let in_a_day = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 86_400;
    let (st, v) = a.call(
        "POST",
        "/v1/secrets",
        &admin,
        Some(json!({"key": "SOON", "value": value, "expires_at": in_a_day})),
    );
    assert_eq!(st, 201, "{v}");
    let got = rx.wait_for(4, 15);
    std::thread::sleep(Duration::from_secs(2));
    let got_now = rx.got();
    assert_eq!(got_now.len(), got.len(), "nothing more came: {got_now:?}");
    let soon: Vec<_> = got_now
        .iter()
        .filter(|r| r.json()["key"] == "SOON")
        .map(|r| r.json()["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(soon, ["created", "expiring"], "expiring once: {got_now:?}");
    for r in &got_now {
        check_delivery(r, &secret, value);
    }

    // Each delivery's outcome, from either node.
    let (st, ds) = a.call("GET", "/v1/webhooks/deliveries", &admin, None);
    assert_eq!(st, 200, "{ds}");
    let ds = ds.as_array().unwrap();
    assert_eq!(ds.len(), 4, "{ds:?}");
    for d in ds {
        assert_eq!(
            (
                d["status"].as_str(),
                d["attempts"].as_u64(),
                d["last_status"].as_u64()
            ),
            (Some("delivered"), Some(1), Some(200)),
            "{d}"
        );
    }
    let text = serde_json::to_string(ds).unwrap();
    assert!(!text.contains(value) && !text.contains(&secret));
}

#[test]
fn a_500_is_tried_again_with_the_same_signed_body_then_delivered() {
    let srv = Single::start();
    let rx = Receiver::start(&[500, 200]);
    let out = srv
        .hush(
            &srv.admin,
            &["webhooks", "add", &rx.url, "--events", "updated,revoked"],
        )
        .ok();
    let secret = out.text().trim().to_string();
    assert!(secret.starts_with("whsec_"), "stdout is the secret alone");
    assert!(out.all().contains("whk_"), "{}", out.all());
    let list = srv
        .hush(&srv.admin, &["webhooks", "list", "-o", "json"])
        .ok();
    let id = list.json()[0]["id"].as_str().unwrap().to_string();
    assert_eq!(list.json()[0]["events"], json!(["updated", "revoked"]));
    assert!(!list.all().contains(&secret));

    let value = "canary-retry-value-5d2e";
    let (st, v) = srv.call(
        "PUT",
        "/v1/secrets/API_KEY",
        &srv.admin,
        Some(json!({"value": value})),
    );
    assert!(st == 200 || st == 201, "{v}");
    // `created` is not asked for: nothing yet.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        rx.got().is_empty(),
        "an unasked event was sent: {:?}",
        rx.got()
    );
    let (st, v) = srv.call(
        "PATCH",
        "/v1/secrets/API_KEY",
        &srv.admin,
        Some(json!({"value": format!("{value}-v2")})),
    );
    assert_eq!(st, 200, "{v}");
    let got = rx.wait_for(2, 15);
    assert_eq!(got.len(), 2, "a 500, then one more try: {got:?}");
    std::thread::sleep(Duration::from_secs(2));
    let got = rx.got();
    assert_eq!(got.len(), 2, "no try after the 2xx: {got:?}");
    assert_eq!(
        got[0].body, got[1].body,
        "every attempt sends the same body"
    );
    assert_eq!(
        got[0].header("x-hush-delivery"),
        got[1].header("x-hush-delivery")
    );
    for r in &got {
        check_delivery(r, &secret, value);
    }

    let ds = srv
        .hush(&srv.admin, &["webhooks", "deliveries", &id, "-o", "json"])
        .ok();
    let d = &ds.json()[0];
    assert_eq!(
        (
            d["status"].as_str(),
            d["attempts"].as_u64(),
            d["event"].as_str()
        ),
        (Some("delivered"), Some(2), Some("updated")),
        "{d}"
    );
    assert!(d["delivered_at"].is_string(), "{d}");
    let table = srv.hush(&srv.admin, &["webhooks", "deliveries"]).ok();
    assert!(table.text().contains("delivered"), "{}", table.text());

    // The store holds the secret sealed, never in plaintext (nor the values).
    if srv.home.pg.is_none() {
        let bytes = srv.home.store_bytes();
        assert!(
            !contains(&bytes, secret.as_bytes()),
            "the signing secret in the store file"
        );
        assert!(!contains(&bytes, b"whsec_"));
    }

    // Removed: gone from the list, and later events are not sent.
    srv.hush(&srv.admin, &["webhooks", "remove", &id]).ok();
    let list = srv
        .hush(&srv.admin, &["webhooks", "list", "-o", "json"])
        .ok();
    assert_eq!(list.json(), json!([]));
    let (st, _) = srv.call("POST", "/v1/secrets/API_KEY/revoke", &srv.admin, None);
    assert_eq!(st, 200);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(rx.got().len(), 2, "a removed webhook got an event");
    let out = srv.hush(&srv.admin, &["webhooks", "remove", &id]).code(3);
    assert!(out.all().contains("no webhook"), "{}", out.all());
}

#[test]
fn webhooks_are_for_admins_and_bad_urls_and_events_are_refused_clearly() {
    let srv = Single::start();
    let (st, v) = srv.call(
        "POST",
        "/v1/tokens",
        &srv.admin,
        Some(json!({"role": "write", "name": "writer"})),
    );
    assert_eq!(st, 201, "{v}");
    let writer = v["token"].as_str().unwrap().to_string();
    let body = json!({"url": "https://hooks.example.com/x", "events": ["updated"]});
    let (st, v) = srv.call("POST", "/v1/webhooks", &writer, Some(body.clone()));
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{v}"
    );
    let (st, _) = srv.call("GET", "/v1/webhooks", &writer, None);
    assert_eq!(st, 403);
    let (st, _) = srv.call("GET", "/v1/webhooks/deliveries", &writer, None);
    assert_eq!(st, 403);
    let out = srv.hush(&writer, &["webhooks", "list"]);
    assert_ne!(out.code, 0);

    let (st, v) = srv.call(
        "POST",
        "/v1/webhooks",
        &srv.admin,
        Some(json!({"url": "ftp://hooks.example.com/x", "events": ["updated"]})),
    );
    let msg = v["error"]["message"].as_str().unwrap_or("");
    assert_eq!(st, 422, "{v}");
    assert!(msg.contains("webhook url") && msg.contains("http"), "{msg}");
    let (st, v) = srv.call(
        "POST",
        "/v1/webhooks",
        &srv.admin,
        Some(json!({"url": "https://hooks.example.com/x", "events": ["updated", "exploded"]})),
    );
    let msg = v["error"]["message"].as_str().unwrap_or("");
    assert_eq!(st, 422, "{v}");
    assert!(
        msg.contains("\"exploded\"") && msg.contains("expiring") && msg.contains("fallback"),
        "{msg}"
    );
    // On the embedded store too, with the same words.
    let home = Home::new();
    let out = home.run(
        &["webhooks", "add", "not a url", "--events", "updated"],
        None,
    );
    assert_ne!(out.code, 0);
    assert!(out.all().contains("webhook url"), "{}", out.all());
    let out = home.run(
        &[
            "webhooks",
            "add",
            "http://127.0.0.1:9/x",
            "--events",
            "nope",
        ],
        None,
    );
    assert!(
        out.all().contains("\"nope\" is not an event type"),
        "{}",
        out.all()
    );
    let out = home
        .run(
            &[
                "webhooks",
                "add",
                "http://127.0.0.1:9/x",
                "--events",
                "expiring,expired",
            ],
            None,
        )
        .ok();
    assert!(out.text().trim().starts_with("whsec_"));
    let list = home.run(&["webhooks", "list", "-o", "json"], None).ok();
    assert_eq!(list.json()[0]["events"], json!(["expiring", "expired"]));
    // The audit log names the webhook, never its secret.
    let audit = home.run(&["audit", "-o", "json"], None).ok();
    assert!(audit.text().contains("webhook.add"), "{}", audit.text());
    assert!(!audit.text().contains(out.text().trim()));
}

/// `hush migrate` copies webhooks with their sealed secrets: a server on the copy signs with
/// the secret shown when the webhook was added on the original.
#[test]
fn a_migrated_webhook_still_signs_with_its_secret() {
    if crate::common::sqlite_only("a SQLite file copied into another") {
        return;
    }
    let h = Home::new();
    let rx = Receiver::start(&[204]);
    let secret = h
        .run(&["webhooks", "add", &rx.url, "--events", "updated"], None)
        .ok()
        .text()
        .trim()
        .to_string();
    let copy = h.path().join("copy.db");
    let copy = copy.to_str().unwrap();
    let out = h.run(&["migrate", "--to", copy], None).ok();
    assert!(out.stderr.contains("webhooks"), "{}", out.stderr);
    let list = h
        .run(&["--db", copy, "webhooks", "list", "-o", "json"], None)
        .ok();
    assert_eq!(list.json()[0]["url"], rx.url.as_str());
    let before = h
        .run(&["--db", copy, "secrets", "set", "K"], Some(b"v-before"))
        .ok();
    drop(before);
    let mut c = h.command(&["--db", copy, "server", "--listen", "127.0.0.1:0"]);
    c.stdout(Stdio::null())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let mut child = c.spawn().unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut listening = false;
    for _ in 0..20 {
        let mut line = String::new();
        if err.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if line.contains("hush listening on ") {
            listening = true;
            break;
        }
    }
    std::thread::spawn(move || for _ in err.lines() {});
    assert!(listening, "the server on the copy did not start");
    // A write by the CLI on the copy: the server follows it and delivers.
    h.run(
        &["--db", copy, "secrets", "set", "K"],
        Some(b"canary-after-migrate"),
    )
    .ok();
    let got = rx.wait_for(1, 15);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(got.len(), 1, "{got:?}");
    check_delivery(&got[0], &secret, "canary-after-migrate");
    assert_eq!(got[0].json()["version"], 2);
}

/// The web UI's Webhooks page: an admin registers one (its secret shown once), sees it listed
/// with its deliveries, removes it; a bad URL is refused on the form; a write token's session
/// is refused the page.
#[test]
fn the_ui_registers_lists_and_removes_webhooks() {
    let srv = Single::start();
    let rx = Receiver::start(&[200]);
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let sign_in = |token: &str| {
        let r = http
            .post(format!("{}/ui/login", srv.base))
            .form(&[("token", token)])
            .send()
            .unwrap();
        assert_eq!(r.status(), 303, "sign-in");
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix("hush_session="))
            .and_then(|v| v.split(';').next())
            .unwrap()
            .to_string()
    };
    let session = sign_in(&srv.admin);
    let get = |session: &str| {
        http.get(format!("{}/ui/webhooks", srv.base))
            .header("cookie", format!("hush_session={session}"))
            .send()
            .unwrap()
    };
    let page = get(&session).text().unwrap();
    assert!(page.contains("Register a webhook"), "{page}");
    assert!(
        page.contains(r#"href="/ui/webhooks""#),
        "linked from the navigation"
    );
    let csrf = page
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let post = |fields: &[(&str, &str)]| {
        http.post(format!("{}/ui/webhooks", srv.base))
            .header("cookie", format!("hush_session={session}"))
            .form(fields)
            .send()
            .unwrap()
    };
    let r = post(&[("csrf", &csrf), ("url", "ftp://x/y"), ("events", "updated")]);
    assert_eq!(r.status(), 422);
    assert!(r.text().unwrap().contains("http"), "the error says why");
    let r = post(&[("url", &rx.url), ("events", "updated")]);
    assert_eq!(r.status(), 403, "no CSRF field: refused");
    let r = post(&[
        ("csrf", &csrf),
        ("url", &rx.url),
        ("events", "updated"),
        ("events", "revoked"),
    ]);
    assert_eq!(r.status(), 200);
    let shown = r.text().unwrap();
    let secret = shown
        .split(r#"id="new-secret" readonly value=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    assert!(secret.starts_with("whsec_"), "{shown}");
    let (_, hooks) = srv.call("GET", "/v1/webhooks", &srv.admin, None);
    let id = hooks["items"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(hooks["items"][0]["events"], json!(["updated", "revoked"]));

    // A delivery shows on the page; the secret never again.
    srv.call(
        "PUT",
        "/v1/secrets/K",
        &srv.admin,
        Some(json!({"value": "v1-ui"})),
    );
    srv.call("POST", "/v1/secrets/K/revoke", &srv.admin, None);
    let got = rx.wait_for(1, 15);
    check_delivery(&got[0], &secret, "v1-ui");
    // Marked delivered once the server has read the receiver's answer: wait for it.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let mut page = get(&session).text().unwrap();
    while !page.contains("delivered") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        page = get(&session).text().unwrap();
    }
    assert!(page.contains(&id) && page.contains("delivered"), "{page}");
    assert!(!page.contains(&secret), "the secret is shown once");

    let r = http
        .post(format!("{}/ui/webhooks/{id}/remove", srv.base))
        .header("cookie", format!("hush_session={session}"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, hooks) = srv.call("GET", "/v1/webhooks", &srv.admin, None);
    assert_eq!(hooks["items"], json!([]));

    let (_, v) = srv.call(
        "POST",
        "/v1/tokens",
        &srv.admin,
        Some(json!({"role": "write", "name": "w"})),
    );
    let writer = sign_in(v["token"].as_str().unwrap());
    let r = get(&writer);
    assert_eq!(r.status(), 403);
}

//! Change events: `GET /v1/events` (Server-Sent Events) from a real `hush server`, and
//! `hush events` against a server and on the embedded store. Writes by the CLI on the
//! server's store reach the server's followers; a machine token sees only its app's keys; a
//! resumed stream misses nothing; the expiry sweep tells `expiring` and `expired` once; no
//! value is ever in an event.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::Home;
use crate::server::Server;

/// The events of one `GET /v1/events` stream, each with when it arrived, read on a thread.
pub fn follow(
    base: &str,
    token: &str,
    query: &str,
    last_id: Option<i64>,
) -> Receiver<(Instant, Value)> {
    let mut req = reqwest::blocking::Client::builder()
        .timeout(None)
        .build()
        .unwrap()
        .get(format!("{base}/v1/events{query}"))
        .bearer_auth(token);
    if let Some(id) = last_id {
        req = req.header("Last-Event-ID", id.to_string());
    }
    let res = req.send().unwrap();
    assert_eq!(res.status(), 200, "the event stream was refused");
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(res).lines() {
            let Ok(line) = line else { return };
            if let Some(data) = line.strip_prefix("data: ") {
                let v: Value = serde_json::from_str(data).unwrap();
                if tx.send((Instant::now(), v)).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// The next event within `secs` seconds, or a failure naming what was awaited.
pub fn next(rx: &Receiver<(Instant, Value)>, secs: u64, what: &str) -> (Instant, Value) {
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("no event within {secs} s: {what}"))
}

/// No event within `ms` milliseconds.
fn quiet(rx: &Receiver<(Instant, Value)>, ms: u64) {
    if let Ok((_, v)) = rx.recv_timeout(Duration::from_millis(ms)) {
        panic!("an event that should not have come: {v}");
    }
}

#[test]
fn a_cli_write_on_the_servers_store_reaches_its_followers_and_a_resume_misses_nothing() {
    let srv = Server::start();
    let rx = follow(&srv.base, &srv.admin, "", None);
    // Written by the CLI straight on the store, not through the server.
    let t0 = Instant::now();
    srv.home().set("DB_PASSWORD", b"planted-value-1");
    let (at, created) = next(&rx, 10, "created");
    eprintln!(
        "a CLI write reached the server's follower {} ms after the command started",
        at.duration_since(t0).as_millis()
    );
    assert_eq!(created["type"], "created", "{created}");
    assert_eq!(created["key"], "DB_PASSWORD");
    assert_eq!(created["version"], 1);
    assert_eq!(created["workspace"], "default");
    assert!(created["id"].as_i64().unwrap() > 0);

    srv.home().set("DB_PASSWORD", b"planted-value-2");
    let updated = next(&rx, 10, "updated").1;
    assert_eq!(
        (updated["type"].as_str(), updated["version"].as_u64()),
        (Some("updated"), Some(2))
    );
    srv.home()
        .run(&["secrets", "revoke", "DB_PASSWORD"], None)
        .ok();
    assert_eq!(next(&rx, 10, "revoked").1["type"], "revoked");
    srv.home()
        .run(&["secrets", "restore", "DB_PASSWORD"], None)
        .ok();
    assert_eq!(next(&rx, 10, "restored").1["type"], "restored");
    srv.home()
        .run(&["secrets", "delete", "DB_PASSWORD", "--force"], None)
        .ok();
    let deleted = next(&rx, 10, "deleted").1;
    assert_eq!(deleted["type"], "deleted");
    // Reads make no events.
    srv.home().set("OTHER", b"planted-value-3");
    let other = next(&rx, 10, "created OTHER").1;
    srv.home().get("OTHER");
    quiet(&rx, 700);

    // Resuming after the first event replays every later one, in order, once.
    let first = created["id"].as_i64().unwrap();
    let replay = follow(&srv.base, &srv.admin, "", Some(first));
    let kinds: Vec<String> = (0..5)
        .map(|_| {
            next(&replay, 10, "replayed").1["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        kinds,
        ["updated", "revoked", "restored", "deleted", "created"]
    );
    quiet(&replay, 500);
    // …and ?after= does the same; ?key= narrows it.
    let only = follow(
        &srv.base,
        &srv.admin,
        &format!("?after={first}&key=OTHER"),
        None,
    );
    assert_eq!(next(&only, 10, "OTHER only").1["id"], other["id"]);
    quiet(&only, 500);

    // Never a value, in any event.
    for ev in [&created, &updated, &deleted, &other] {
        assert!(!ev.to_string().contains("planted-value"), "{ev}");
    }
}

#[test]
fn a_machine_token_follows_only_its_apps_keys_in_its_environment() {
    let srv = Server::start();
    srv.put("APP_KEY", json!({"value": "v1"}));
    srv.put("NOT_MINE", json!({"value": "v1"}));
    let machine = srv.token(json!({"app": "billing", "env": "prd", "name": "billing-prd"}));
    let (st, v) = srv.call(
        "POST",
        "/v1/apps",
        &srv.admin,
        Some(json!({"app": "billing", "secrets": [{"name": "APP_KEY", "key": "APP_KEY"}]})),
    );
    assert!(st.is_success(), "{v}");
    let rx = follow(&srv.base, &machine, "", None);
    srv.put("NOT_MINE", json!({"value": "v2"}));
    // Another environment's own value of its key: not its business.
    let (st, v) = srv.call(
        "PUT",
        "/v1/secrets/APP_KEY?env=dev",
        &srv.admin,
        Some(json!({"value": "dev-value"})),
    );
    assert!(st.is_success(), "{v}");
    srv.put("APP_KEY", json!({"value": "v2"}));
    let ev = next(&rx, 10, "APP_KEY updated").1;
    assert_eq!(
        (ev["key"].as_str(), ev["type"].as_str()),
        (Some("APP_KEY"), Some("updated")),
        "{ev}"
    );
    assert_eq!(ev["environment"], Value::Null);
    quiet(&rx, 700);

    // A read token may not narrow itself to nothing by a bad key; a bad id is refused.
    let (st, v) = srv.call("GET", "/v1/events?key=bad%20key", &srv.admin, None);
    assert_eq!(st, 422, "{v}");
    let res = srv
        .req("GET", "/v1/events", &srv.admin)
        .header("Last-Event-ID", "yesterday")
        .send()
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().unwrap().contains("Last-Event-ID"));
    let (st, _) = srv.call("GET", "/v1/events", "", None);
    assert_eq!(st, 401);
}

#[test]
fn the_expiry_sweep_tells_expiring_and_expired_once_each() {
    let srv = Server::start_env(&[("HUSH_EXPIRY_SWEEP_MS", "200")]);
    let rx = follow(&srv.base, &srv.admin, "?key=SOON", None);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // Within its 1-hour warning window now, expired in 6 s (room for a loaded machine to
    // write it and sweep it once while it is still active).
    srv.put(
        "SOON",
        json!({"value": "planted-expiring", "expires_at": now + 6, "notify_before": 3600}),
    );
    assert_eq!(next(&rx, 10, "created").1["type"], "created");
    let expiring = next(&rx, 15, "expiring").1;
    assert_eq!(expiring["type"], "expiring", "{expiring}");
    assert!(expiring["detail"]
        .as_str()
        .unwrap()
        .starts_with("expires at "));
    let expired = next(&rx, 20, "expired").1;
    assert_eq!(expired["type"], "expired", "{expired}");
    // Once each: later sweeps give nothing more.
    quiet(&rx, 2500);
    let (st, v) = srv.call("GET", "/v1/audit?key=SOON", &srv.admin, None);
    assert_eq!(st, 200);
    let actions: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "secret.expiring").count(),
        1,
        "{actions:?}"
    );
    assert_eq!(
        actions.iter().filter(|a| **a == "secret.expired").count(),
        1,
        "{actions:?}"
    );
}

/// `hush events ARGS` as a child whose stdout lines arrive on a channel.
fn events_cli(home: &Home, args: &[&str], env: &[(&str, &str)]) -> (Child, Receiver<String>) {
    let mut c = home.command(&[&["events"], args].concat());
    c.envs(env.iter().copied());
    crate::common::client_only(&mut c);
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (child, rx)
}

#[test]
fn hush_events_follows_a_server_and_the_embedded_store() {
    // Against a server, as JSON lines.
    let srv = Server::start();
    let client = Home::empty();
    let (mut child, rx) = events_cli(
        &client,
        &["-o", "json", "--key", "WATCHED"],
        &[("HUSH_ADDR", &srv.base), ("HUSH_TOKEN", &srv.admin)],
    );
    // The follower connects asynchronously: write until the first event shows up.
    let mut got = None;
    for i in 0..20 {
        srv.put("WATCHED", json!({"value": format!("planted-{i}")}));
        srv.put("IGNORED", json!({"value": "planted-x"}));
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
            got = Some(line);
            break;
        }
    }
    let line = got.expect("hush events printed nothing");
    let ev: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(ev["key"], "WATCHED", "{line}");
    assert!(!line.contains("planted"), "{line}");
    let _ = child.kill();
    let _ = child.wait();

    // On the embedded store: a write by another hush process is seen.
    let home = Home::new();
    home.set("LOCAL", b"planted-local-1");
    let (mut child, rx) = events_cli(&home, &[], &[]);
    let mut got = None;
    for i in 0..20 {
        home.set("LOCAL", format!("planted-local-{i}").as_bytes());
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
            got = Some(line);
            break;
        }
    }
    let line = got.expect("hush events on the embedded store printed nothing");
    assert!(line.contains("updated") && line.contains("LOCAL"), "{line}");
    assert!(!line.contains("planted"), "{line}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn no_value_in_the_event_stream_the_server_log_or_the_store_on_the_new_paths() {
    let planted = "planted-canary-events-5150";
    let home = Home::empty().with_env("HUSH_EXPIRY_SWEEP_MS", "200");
    let mut c = home.command(&["server", "--listen", "127.0.0.1:0"]);
    c.env("HUSH_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    crate::common::client_only(&mut c);
    let mut child = c.spawn().unwrap();
    let (admin, base, err) = crate::server::started(&mut child);
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = log.clone();
    std::thread::spawn(move || {
        for l in err.lines().map_while(Result::ok) {
            sink.lock().unwrap().push_str(&l);
        }
    });
    // The raw stream, every byte of it.
    let raw = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let res = reqwest::blocking::Client::builder()
        .timeout(None)
        .build()
        .unwrap()
        .get(format!("{base}/v1/events"))
        .bearer_auth(&admin)
        .send()
        .unwrap();
    let into = raw.clone();
    std::thread::spawn(move || {
        for l in BufReader::new(res).lines().map_while(Result::ok) {
            into.lock().unwrap().push_str(&l);
        }
    });
    let http = reqwest::blocking::Client::new();
    let call = |m: reqwest::Method, path: &str, body: Value| {
        let r = http
            .request(m, format!("{base}{path}"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.text().unwrap());
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    call(
        reqwest::Method::POST,
        "/v1/secrets",
        json!({"key": "PRIMARY", "value": format!("{planted}-1")}),
    );
    call(
        reqwest::Method::POST,
        "/v1/secrets",
        json!({"key": "BACKUP", "value": format!("{planted}-2")}),
    );
    call(
        reqwest::Method::PATCH,
        "/v1/secrets/PRIMARY",
        // Six seconds: the writes before it and the restore after it must land first on a
        // loaded machine, and the 200 ms sweep must find it active once (`expiring`).
        json!({"value": format!("{planted}-3"), "expires_at": now + 6, "notify_before": 60}),
    );
    call(
        reqwest::Method::POST,
        "/v1/secrets/PRIMARY/revoke",
        json!({}),
    );
    // A fallback read: served by the backup.
    call(
        reqwest::Method::POST,
        "/v1/resolve",
        json!({"keys": ["PRIMARY"], "fallbacks": {"PRIMARY": ["BACKUP"]}}),
    );
    call(
        reqwest::Method::POST,
        "/v1/secrets/PRIMARY/restore",
        json!({}),
    );
    let kinds = [
        "created", "updated", "revoked", "fallback", "restored", "expiring", "expired",
    ];
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        let seen = raw.lock().unwrap().clone();
        if kinds.iter().all(|k| seen.contains(&format!("event: {k}"))) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let raw = raw.lock().unwrap().clone();
    for kind in kinds {
        assert!(
            raw.contains(&format!("event: {kind}")),
            "no {kind} event in {raw}"
        );
    }
    assert!(
        raw.contains("served by BACKUP; skipped PRIMARY (revoked)"),
        "{raw}"
    );
    assert!(!raw.contains(planted), "a value in the event stream");
    let log = log.lock().unwrap().clone();
    assert!(!log.contains(planted), "a value in the server log");
    assert!(
        !crate::common::contains(&home.store_bytes(), planted.as_bytes()),
        "a value in the store in plaintext"
    );
}

/// Sends `GET /v1/whoami` with `token` until it is refused: how long after `since` the last
/// request that was still accepted had been sent (zero when none was).
pub fn accepted_for(base: &str, token: &str, since: Instant) -> Duration {
    let http = reqwest::blocking::Client::new();
    let mut last_ok = Duration::ZERO;
    loop {
        let sent = Instant::now();
        let st = http
            .get(format!("{base}/v1/whoami"))
            .bearer_auth(token)
            .send()
            .unwrap()
            .status();
        if st == 401 {
            return last_ok;
        }
        assert_eq!(st, 200);
        last_ok = sent.duration_since(since);
        assert!(
            since.elapsed() < Duration::from_secs(10),
            "the revoked token is still accepted after 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_token_revoked_through_the_cli_is_refused_by_the_server_within_a_second() {
    let srv = Server::start();
    let token = srv.token(json!({"role": "read", "name": "cached"}));
    // Used enough for the server to know it well (its cache).
    for _ in 0..20 {
        let (st, _) = srv.call("GET", "/v1/whoami", &token, None);
        assert_eq!(st, 200);
    }
    srv.home().run(&["tokens", "revoke", "cached"], None).ok();
    let revoked = Instant::now();
    let after = accepted_for(&srv.base, &token, revoked);
    eprintln!(
        "accepted for {} ms after the CLI revoked it",
        after.as_millis()
    );
    assert!(after < Duration::from_secs(1), "{after:?}");
    // Revoked through the server itself: refused at once.
    let other = srv.token(json!({"role": "read", "name": "other"}));
    for _ in 0..5 {
        assert_eq!(srv.call("GET", "/v1/whoami", &other, None).0, 200);
    }
    let (st, _) = srv.call("POST", "/v1/tokens/other/revoke", &srv.admin, None);
    assert_eq!(st, 200);
    assert_eq!(srv.call("GET", "/v1/whoami", &other, None).0, 401);
}

/// `POST /v1/resolve` of `key` until `done` holds of the answer's entry for it: how long
/// after `since` the last answer for which it did not hold had been sent.
pub fn resolved_until(
    base: &str,
    token: &str,
    key: &str,
    since: Instant,
    done: impl Fn(&Value) -> bool,
) -> Duration {
    let http = reqwest::blocking::Client::new();
    let mut last_old = Duration::ZERO;
    loop {
        let sent = Instant::now();
        let v: Value = http
            .post(format!("{base}/v1/resolve"))
            .bearer_auth(token)
            .json(&json!({"keys": [key]}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        if done(&v) {
            return last_old;
        }
        last_old = sent.duration_since(since);
        assert!(
            since.elapsed() < Duration::from_secs(10),
            "still the old answer after 10 s: {v}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn cli_updates_and_revocations_reach_the_servers_resolve_within_a_second() {
    let srv = Server::start();
    srv.put("ROTATED", json!({"value": "first-value"}));
    for _ in 0..20 {
        let (st, v) = srv.call(
            "POST",
            "/v1/resolve",
            &srv.admin,
            Some(json!({"keys": ["ROTATED"]})),
        );
        assert_eq!(
            (st.as_u16(), v["secrets"]["ROTATED"]["value"].as_str()),
            (200, Some("first-value"))
        );
    }
    srv.home().set("ROTATED", b"second-value");
    let t = Instant::now();
    let stale = resolved_until(&srv.base, &srv.admin, "ROTATED", t, |v| {
        v["secrets"]["ROTATED"]["value"] == "second-value"
    });
    eprintln!(
        "the old value was served {} ms after the CLI update",
        stale.as_millis()
    );
    assert!(stale < Duration::from_secs(1), "{stale:?}");
    // GET, whose reads the server caches too: the new value within a second of the write.
    let t = Instant::now();
    loop {
        let sent = t.elapsed();
        let (st, v) = srv.call("GET", "/v1/secrets/ROTATED", &srv.admin, None);
        assert_eq!(st, 200);
        if v["value"] == "second-value" {
            break;
        }
        assert!(
            sent < Duration::from_secs(1),
            "GET still served the old value after {sent:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    srv.home().run(&["secrets", "revoke", "ROTATED"], None).ok();
    let t = Instant::now();
    let stale = resolved_until(&srv.base, &srv.admin, "ROTATED", t, |v| {
        v["errors"]["ROTATED"]["code"] == "revoked"
    });
    eprintln!(
        "the revoked secret was served {} ms after the CLI revoke",
        stale.as_millis()
    );
    assert!(stale < Duration::from_secs(1), "{stale:?}");
    // Written through the server itself: the next resolve has it.
    srv.put("ROTATED", json!({"value": "third-value"}));
    let (_, v) = srv.call("POST", "/v1/secrets/ROTATED/restore", &srv.admin, None);
    assert_eq!(v["status"], "active", "{v}");
    let (_, v) = srv.call(
        "POST",
        "/v1/resolve",
        &srv.admin,
        Some(json!({"keys": ["ROTATED"]})),
    );
    assert_eq!(v["secrets"]["ROTATED"]["value"], "third-value", "{v}");
}

#[test]
fn a_quiet_stream_gets_a_heartbeat_every_15_seconds() {
    let srv = Server::start();
    let res = reqwest::blocking::Client::builder()
        .timeout(None)
        .build()
        .unwrap()
        .get(format!("{}/v1/events", srv.base))
        .bearer_auth(&srv.admin)
        .send()
        .unwrap();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for l in BufReader::new(res).lines().map_while(Result::ok) {
            if tx.send((Instant::now(), l)).is_err() {
                return;
            }
        }
    });
    let start = Instant::now();
    let (at, line) = rx
        .recv_timeout(Duration::from_secs(25))
        .expect("no heartbeat within 25 s");
    assert!(
        line.starts_with(':') && line.contains("heartbeat"),
        "{line}"
    );
    let waited = at.duration_since(start);
    eprintln!("first heartbeat after {} ms", waited.as_millis());
    assert!(waited >= Duration::from_secs(10), "{waited:?}");
}

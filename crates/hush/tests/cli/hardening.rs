//! Issue 13's hostile-input findings, each over a real socket against a real `hush server`:
//! control characters in metadata, encoded and mislabelled bodies, unbounded lists and dates,
//! echoed input, what a machine token can see, web UI sessions as API bearers, the UI's token
//! form, and one undecryptable row.

use reqwest::blocking::Client;
use serde_json::{json, Value};

use crate::common::{audit_parts, contains, sqlite_only};
use crate::server::{split, Server};

#[track_caller]
fn refused(got: (reqwest::StatusCode, Value), status: u16, code: &str) -> String {
    assert_eq!(got.0.as_u16(), status, "{}", got.1);
    assert_eq!(got.1["error"]["code"], code, "{}", got.1);
    got.1["error"]["message"].as_str().unwrap().to_string()
}

fn raw(s: &Server, headers: &[(&str, &str)], body: &str) -> (reqwest::StatusCode, Value) {
    let mut r = s.req("POST", "/v1/secrets", &s.admin);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    split(r.body(body.to_string()).send().unwrap())
}

fn keys_listed(s: &Server, token: &str) -> Vec<String> {
    let (st, v) = s.call("GET", "/v1/secrets", token, None);
    assert_eq!(st, 200, "{v}");
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap().to_string())
        .collect()
}

/// Regression: ESC, CR and LF in a description were stored, and `secrets show`/`list` printed
/// them raw (colouring the terminal, forging a table row).
#[test]
fn control_characters_in_metadata_are_refused_and_nothing_is_written() {
    let s = Server::start();
    for desc in [
        "\u{1b}[31mred",
        "a\r\nINJECT  x",
        "tab\there",
        "del\u{7f}",
        "c1\u{9b}",
    ] {
        let msg = refused(
            s.call(
                "POST",
                "/v1/secrets",
                &s.admin,
                Some(json!({"key": "k", "value": "v", "description": desc})),
            ),
            422,
            "invalid_field",
        );
        assert!(msg.contains("description"), "{msg}");
    }
    s.put("k", json!({"value": "v", "description": "fine"}));
    refused(
        s.call(
            "PATCH",
            "/v1/secrets/k",
            &s.admin,
            Some(json!({"description": "x\u{1b}]0;title\u{7}"})),
        ),
        422,
        "invalid_field",
    );
    let (_, meta) = s.call("GET", "/v1/secrets/k", &s.admin, None);
    assert_eq!(meta["description"], "fine", "nothing was changed");
    assert_eq!(meta["version"], 1);
}

/// The CLI refuses them too (exit 2), on the embedded store.
#[test]
fn the_cli_refuses_control_characters_in_a_description() {
    let h = crate::common::Home::new();
    let out = h
        .run(
            &[
                "secrets",
                "create",
                "k",
                "--description",
                "red\u{1b}[31m\r\nrow",
            ],
            Some(b"value"),
        )
        .code(2);
    assert!(out.stderr.contains("description"), "{}", out.stderr);
    let out = h.run(&["secrets", "list", "-o", "json"], None).ok();
    assert_eq!(out.json(), json!([]), "nothing was written");
}

/// Regression: `Content-Encoding: gzip` was ignored (the compressed bytes became the value),
/// and `charset=utf-16` or `application/vnd.evil+json` were taken as JSON.
#[test]
fn encoded_or_mislabelled_bodies_get_415_and_write_nothing() {
    let s = Server::start();
    let body = r#"{"key":"enc","value":"v"}"#;
    for headers in [
        vec![
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ],
        vec![
            ("content-type", "application/json"),
            ("content-encoding", "identity, br"),
        ],
        vec![("content-type", "application/json; charset=utf-16")],
        vec![("content-type", "application/vnd.evil+json")],
        vec![("content-type", "text/json")],
        vec![("content-type", "application/json; boundary=x")],
    ] {
        let got = raw(&s, &headers, body);
        refused(got, 415, "unsupported_media_type");
    }
    assert!(keys_listed(&s, &s.admin).is_empty(), "nothing was written");
    // What is accepted: plain JSON, with or without charset=utf-8, identity encoding.
    let ok = raw(
        &s,
        &[
            ("content-type", "Application/JSON; charset=UTF-8"),
            ("content-encoding", "identity"),
        ],
        body,
    );
    assert_eq!(ok.0, 201, "{}", ok.1);
}

/// Regression: 10,000-entry `envs`, expiries of -1, 0 and i64::MAX, and a garbage cursor were
/// accepted (the cursor silently restarted the list).
#[test]
fn lists_dates_and_cursors_are_bounded_with_the_field_named() {
    let s = Server::start();
    let many: Vec<String> = (0..10_000).map(|i| format!("e{i}")).collect();
    for (field, v) in [("envs", json!(many)), ("scope", json!(many))] {
        let msg = refused(
            s.call(
                "POST",
                "/v1/secrets",
                &s.admin,
                Some(json!({"key": "k", "value": "v", field: v})),
            ),
            422,
            "invalid_field",
        );
        assert!(msg.contains(field) && msg.contains("100"), "{msg}");
    }
    for at in [
        json!(-1),
        json!(0),
        json!(i64::MAX),
        json!(1_900_000_000_000i64),
    ] {
        let msg = refused(
            s.call(
                "POST",
                "/v1/secrets",
                &s.admin,
                Some(json!({"key": "k", "value": "v", "expires_at": at})),
            ),
            422,
            "invalid_field",
        );
        assert!(msg.contains("expires_at"), "{msg}");
    }
    let msg = refused(
        s.call(
            "POST",
            "/v1/secrets",
            &s.admin,
            Some(json!({"key": "k", "value": "v", "expires_at": 1_900_000_000_000i64})),
        ),
        422,
        "invalid_field",
    );
    assert!(msg.contains("milliseconds"), "{msg}");
    refused(
        s.call(
            "POST",
            "/v1/tokens",
            &s.admin,
            Some(json!({"role": "read", "expires_at": i64::MAX})),
        ),
        422,
        "invalid_field",
    );
    assert!(keys_listed(&s, &s.admin).is_empty(), "nothing was written");
    s.put("a", json!({"value": "v"}));
    for cursor in ["%00%01garbage", "..", "-x", "a%20b"] {
        let msg = refused(
            s.call(
                "GET",
                &format!("/v1/secrets?cursor={cursor}"),
                &s.admin,
                None,
            ),
            422,
            "invalid_field",
        );
        assert!(msg.contains("cursor"), "{msg}");
    }
    let msg = refused(
        s.call("GET", "/v1/audit?cursor=-5", &s.admin, None),
        422,
        "invalid_field",
    );
    assert!(msg.contains("cursor"), "{msg}");
    // A real cursor still pages.
    let (st, v) = s.call("GET", "/v1/secrets?cursor=a", &s.admin, None);
    assert_eq!(st, 200, "{v}");
}

/// Regression: errors echoed what was sent (`token_type "…"`, env names, unknown field names).
#[test]
fn errors_name_the_field_never_what_was_sent() {
    let s = Server::start();
    let planted = "PLANTEDxq7";
    let bodies = [
        json!({"key": "k", "value": "v", "token_type": planted}),
        json!({"key": "k", "value": "v", "envs": [format!("{planted} !")]}),
        json!({"key": "k", "value": "v", "scope": [format!("{planted}/x")]}),
        json!({"key": "k", "value": "v", planted: 1}),
        json!({"key": format!("{planted}!"), "value": "v"}),
    ];
    for b in bodies {
        let (st, v) = s.call("POST", "/v1/secrets", &s.admin, Some(b.clone()));
        assert!(st.is_client_error(), "{b}: {st}");
        assert!(!v.to_string().contains(planted), "echoed: {v}");
    }
    let (st, v) = s.call(
        "GET",
        &format!("/v1/secrets?status={planted}"),
        &s.admin,
        None,
    );
    assert!(st.is_client_error());
    assert!(!v.to_string().contains(planted), "echoed: {v}");
    let (st, v) = s.call(
        "POST",
        "/v1/tokens",
        &s.admin,
        Some(json!({"role": planted})),
    );
    assert!(st.is_client_error());
    assert!(!v.to_string().contains(planted), "echoed: {v}");
    let (st, v) = s.call(
        "POST",
        "/v1/apps",
        &s.admin,
        Some(json!({"app": "a", "secrets": [{"name": format!("{planted}-$(x)"), "key": "k"}]})),
    );
    assert_eq!(st, 422, "{v}");
    assert!(!v.to_string().contains(planted), "echoed: {v}");
    assert!(v.to_string().contains("secrets[0].name"), "{v}");
    // A declaration's fallbacks are bounded too.
    let many: Vec<String> = (0..10_000).map(|i| format!("k{i}")).collect();
    let msg = refused(
        s.call(
            "POST",
            "/v1/apps",
            &s.admin,
            Some(json!({"app": "a", "secrets": [{"name": "V", "key": "k", "fallback": many}]})),
        ),
        422,
        "invalid_field",
    );
    assert!(msg.contains("fallbacks"), "{msg}");
}

/// Regression: a machine token saw more than its manifest — versions of undeclared keys (200
/// where the GET answered 403), every app's manifest and last reads, undeclared keys in the
/// list — and 403 against 404 told whether another app's key existed.
#[test]
fn machine_tokens_see_only_their_manifest() {
    let s = Server::start();
    s.put("mine", json!({"value": "m"}));
    s.put("theirs", json!({"value": "t"}));
    for (app, key) in [("ingest", "mine"), ("billing", "theirs")] {
        let (st, v) = s.call(
            "POST",
            "/v1/apps",
            &s.admin,
            Some(json!({"app": app, "env": "prd", "secrets": [{"name": "V", "key": key}]})),
        );
        assert_eq!(st, 201, "{v}");
    }
    let m = s.token(json!({"app": "ingest", "env": "prd"}));
    let billing = s.token(json!({"app": "billing", "env": "prd"}));
    s.call("GET", "/v1/secrets/theirs", &billing, None);
    s.call("GET", "/v1/secrets/mine", &m, None);

    // An undeclared key answers the same whether it exists or not, on every route.
    for path in ["/v1/secrets/{}", "/v1/secrets/{}/versions"] {
        let existing = s.call("GET", &path.replace("{}", "theirs"), &m, None);
        let missing = s.call("GET", &path.replace("{}", "ghost"), &m, None);
        assert_eq!(existing.0, 403, "{path}: {}", existing.1);
        assert_eq!(existing.0, missing.0, "{path}");
        assert_eq!(existing.1["error"]["code"], missing.1["error"]["code"]);
        assert_eq!(
            existing.1["error"]["message"]
                .as_str()
                .unwrap()
                .replace("theirs", "K"),
            missing.1["error"]["message"]
                .as_str()
                .unwrap()
                .replace("ghost", "K"),
        );
    }
    let (st, r) = s.call(
        "POST",
        "/v1/resolve",
        &m,
        Some(json!({"keys": ["mine", "theirs", "ghost"]})),
    );
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["secrets"]["mine"]["value"], "m");
    assert_eq!(r["errors"]["theirs"]["code"], r["errors"]["ghost"]["code"]);
    assert_eq!(r["errors"]["ghost"]["code"], "out_of_scope");

    // The list holds only the manifest's keys; used_by only its own app.
    assert_eq!(keys_listed(&s, &m), ["mine"]);
    let (_, v) = s.call("GET", "/v1/secrets/mine", &m, None);
    let apps: Vec<&str> = v["used_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["app"].as_str().unwrap())
        .collect();
    assert_eq!(apps, ["ingest"]);

    // Apps: only its own; another app is "not found" like one that does not exist.
    let (st, v) = s.call("GET", "/v1/apps", &m, None);
    assert_eq!(st, 200);
    let names: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["app"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ingest"]);
    let other = s.call("GET", "/v1/apps/billing", &m, None);
    let none = s.call("GET", "/v1/apps/nope", &m, None);
    assert_eq!(other.0, 404);
    assert_eq!(other.0, none.0);
    assert_eq!(
        other.1["error"]["message"]
            .as_str()
            .unwrap()
            .replace("billing", "A"),
        none.1["error"]["message"]
            .as_str()
            .unwrap()
            .replace("nope", "A")
    );
    // Admins still see everything.
    assert_eq!(keys_listed(&s, &s.admin), ["mine", "theirs"]);
    assert_eq!(s.call("GET", "/v1/apps/billing", &s.admin, None).0, 200);
}

/// Signs in to the web UI with `token`; the session cookie's value.
fn ui_session(s: &Server, token: &str) -> (Client, String) {
    let http = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .post(format!("{}/ui/login", s.base))
        .form(&[("token", token)])
        .send()
        .unwrap();
    assert_eq!(r.status(), 303, "sign-in");
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("hush_session="))
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_string();
    (http, cookie)
}

/// Regression: a web UI session token worked as an API bearer, and could mint admin tokens
/// that never expire.
#[test]
fn a_ui_session_token_works_only_in_the_ui() {
    let s = Server::start();
    s.put("k", json!({"value": "v"}));
    let (http, session) = ui_session(&s, &s.admin);
    for (method, path, body) in [
        ("GET", "/v1/secrets", None),
        ("GET", "/v1/secrets/k", None),
        (
            "POST",
            "/v1/tokens",
            Some(json!({"role": "admin", "name": "forever"})),
        ),
    ] {
        let got = s.call(method, path, &session, body);
        refused(got, 401, "unauthorized");
    }
    let (_, tokens) = s.call("GET", "/v1/tokens", &s.admin, None);
    assert!(
        !tokens.to_string().contains("forever"),
        "no token was made: {tokens}"
    );
    // The session itself still works in the UI.
    let page = http
        .get(format!("{}/ui/secrets", s.base))
        .header("cookie", format!("hush_session={session}"))
        .send()
        .unwrap();
    assert_eq!(page.status(), 200);
}

/// Regression: with the role left at "read" and App/Environment filled in, the UI made a
/// workspace-wide read token and dropped App and Environment silently.
#[test]
fn the_ui_token_form_takes_app_and_environment_only_for_machine_tokens() {
    let s = Server::start();
    let (http, session) = ui_session(&s, &s.admin);
    let page = http
        .get(format!("{}/ui/tokens", s.base))
        .header("cookie", format!("hush_session={session}"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("machine tokens only"), "the form says so");
    let csrf = page
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let (_, before) = s.call("GET", "/v1/tokens", &s.admin, None);
    let post = |fields: &[(&str, &str)]| {
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        http.post(format!("{}/ui/tokens", s.base))
            .header("cookie", format!("hush_session={session}"))
            .form(&form)
            .send()
            .unwrap()
    };
    for fields in [
        vec![("role", "read"), ("app", "billing"), ("env", "dev")],
        vec![("role", "admin"), ("app", "billing"), ("env", "")],
        vec![("role", "write"), ("app", ""), ("env", "dev")],
        vec![("role", "machine"), ("app", "billing"), ("env", "")],
    ] {
        let r = post(&fields);
        assert_eq!(r.status(), 422, "{fields:?}");
        let text = r.text().unwrap();
        assert!(text.contains("machine"), "the error says why: {fields:?}");
    }
    let (_, after) = s.call("GET", "/v1/tokens", &s.admin, None);
    assert_eq!(
        before["items"].as_array().unwrap().len(),
        after["items"].as_array().unwrap().len(),
        "no token was made"
    );
    let r = post(&[("role", "machine"), ("app", "billing"), ("env", "dev")]);
    assert_eq!(r.status(), 200);
    let (_, after) = s.call("GET", "/v1/tokens", &s.admin, None);
    let made = after["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "billing-dev")
        .expect("the machine token");
    assert_eq!(made["app"], "billing");
    assert_eq!(made["env"], "dev");
}

/// Regression: a value that failed to decrypt answered a generic 500 with no audit row, and one
/// damaged secret failed a whole `/v1/resolve`.
#[test]
fn an_undecryptable_value_is_audited_and_fails_only_its_key() {
    if sqlite_only("damaging a ciphertext in the SQLite file") {
        return;
    }
    let s = Server::start();
    s.put("good", json!({"value": "good-value"}));
    s.put("bad", json!({"value": "bad-value"}));
    {
        let db = rusqlite::Connection::open(s.db()).unwrap();
        let id: String = db
            .query_row("SELECT id FROM secrets WHERE key = 'bad'", [], |r| r.get(0))
            .unwrap();
        let mut sealed: Vec<u8> = db
            .query_row(
                "SELECT ciphertext FROM secret_values WHERE secret_id = ?1",
                [&id],
                |r| r.get(0),
            )
            .unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 0x01;
        let n = db
            .execute(
                "UPDATE secret_values SET ciphertext = ?1 WHERE secret_id = ?2",
                rusqlite::params![sealed, id],
            )
            .unwrap();
        assert_eq!(n, 1);
    }
    let (st, v) = s.call("GET", "/v1/secrets/bad", &s.admin, None);
    assert_eq!(st, 500, "{v}");
    assert_eq!(v["error"]["code"], "decrypt_failed");
    assert!(!contains(v.to_string().as_bytes(), b"bad-value"));
    let (st, r) = s.call(
        "POST",
        "/v1/resolve",
        &s.admin,
        Some(json!({"keys": ["good", "bad"]})),
    );
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["secrets"]["good"]["value"], "good-value");
    assert_eq!(r["errors"]["bad"]["code"], "decrypt_failed");
    let (_, audit) = s.call("GET", "/v1/audit?key=bad", &s.admin, None);
    let outcomes: Vec<String> = audit_parts(&audit["items"], "bad")
        .iter()
        .filter(|r| r["action"] == "secret.read")
        .map(|r| r["outcome"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(outcomes, ["decrypt_failed", "decrypt_failed"], "{audit}");
}

//! Tokens and the audit log on the embedded store.

use crate::common::{contains, sqlite_only, Home};

#[test]
fn tokens_are_printed_alone_once_and_stored_only_as_hashes() {
    let h = Home::new();
    let out = h
        .run(
            &["tokens", "create", "--role", "read", "--name", "ci"],
            None,
        )
        .ok();
    let token = out.text().trim().to_string();
    assert!(token.starts_with("hush_") && token.len() == 48, "{token:?}");
    assert_eq!(
        out.text(),
        format!("{token}\n"),
        "stdout holds the token alone"
    );
    assert!(!out.stderr.contains(&token));
    let list = h.run(&["tokens", "list", "-o", "json"], None).ok();
    assert!(!list.text().contains(&token));
    let j = list.json();
    assert_eq!(j[0]["name"], "ci");
    assert_eq!(j[0]["role"], "read");
    assert_eq!(j[0]["status"], "active");
    assert!(
        !contains(&h.store_bytes(), token.as_bytes()),
        "only the hash is stored"
    );
    let m = h
        .run(
            &["tokens", "create", "--app", "ingest", "--env", "prd"],
            None,
        )
        .ok();
    let audit = h.run(&["audit", "-o", "json"], None).ok();
    assert!(!audit.text().contains(&token) && !audit.text().contains(m.text().trim()));
    h.run(&["tokens", "revoke", "ci"], None).ok();
    let list = h.run(&["tokens", "list", "-o", "json"], None).ok().json();
    let ci = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ci")
        .unwrap();
    assert_eq!(ci["status"], "revoked");
    h.run(&["tokens", "revoke", "ci"], None).code(3);
    h.run(&["tokens", "create", "--app", "ingest"], None)
        .code(2);
    h.run(&["tokens", "create", "--role", "root"], None).code(2);
    h.run(
        &[
            "tokens", "create", "--role", "read", "--app", "x", "--env", "y",
        ],
        None,
    )
    .code(2);
}

#[test]
fn every_read_and_write_is_audited_without_values() {
    let h = Home::new();
    h.set("k", b"planted-audit-value");
    h.get("k");
    h.run(&["secrets", "revoke", "k"], None).ok();
    h.run(&["secrets", "get", "k"], None).code(5);
    h.run(&["secrets", "delete", "k"], None).ok();
    let out = h.run(&["audit", "--key", "k", "-o", "json"], None).ok();
    assert!(!out.text().contains("planted-audit-value"));
    let rows = out.json();
    let got: Vec<(String, String)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_string(),
                r["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("secret.create", "ok"),
        ("secret.read", "ok"),
        ("secret.revoke", "ok"),
        ("secret.read", "revoked"),
        ("secret.delete", "ok"),
    ];
    assert_eq!(
        got,
        want.iter()
            .map(|(a, o)| (a.to_string(), o.to_string()))
            .collect::<Vec<_>>()
    );
    assert_eq!(rows[0]["actor_name"], "local:tester");
    assert_eq!(rows[1]["version"], 1);
}

#[test]
fn audit_verify_detects_an_edited_and_a_deleted_row() {
    if sqlite_only("editing rows with rusqlite") {
        return;
    }
    let h = Home::new();
    for i in 0..4 {
        h.set(&format!("k{i}"), b"v");
    }
    let out = h.run(&["audit", "verify"], None).ok();
    assert!(out.text().contains("intact: 4 rows"), "{}", out.text());

    let conn = rusqlite::Connection::open(h.db()).unwrap();
    conn.execute("UPDATE audit_log SET outcome = 'denied' WHERE seq = 2", [])
        .unwrap();
    drop(conn);
    let out = h.run(&["audit", "verify", "-o", "json"], None).code(1);
    assert_eq!(out.json()["first_bad_seq"], 2);
    assert!(out.stderr.contains("row 2"), "{}", out.stderr);

    let h = Home::new();
    for i in 0..4 {
        h.set(&format!("k{i}"), b"v");
    }
    let conn = rusqlite::Connection::open(h.db()).unwrap();
    conn.execute("DELETE FROM audit_log WHERE seq = 3", [])
        .unwrap();
    drop(conn);
    let out = h.run(&["audit", "verify"], None).code(1);
    assert!(
        out.text().contains("row 4") && out.text().contains("missing"),
        "{}",
        out.text()
    );
}

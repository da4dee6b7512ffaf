//! `hush backup` and `hush restore`: a consistent copy of the embedded store while a server
//! writes (SQLite's online backup API, not `cp` of a live WAL database), and a restore that
//! refuses to overwrite a store unless told to.

use serde_json::json;

use crate::common::{sqlite_only, Home};
use crate::server::Server;

#[test]
fn backup_copies_everything_and_restore_needs_force() {
    if sqlite_only("backup and restore copy the SQLite file") {
        return;
    }
    let h = Home::new();
    for (k, v) in [("a", "value-a"), ("b", "value-b"), ("c", "value-c")] {
        h.set(k, v.as_bytes());
    }
    let copy = h.path().join("copy.db");
    let out = h.run(&["backup", copy.to_str().unwrap()], None).ok();
    assert!(out.stderr.contains("3 secret(s)"), "{}", out.stderr);
    assert!(out.stderr.contains("audit head"), "{}", out.stderr);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // The copy opens with the same key and its chain is intact.
    let c = copy.to_str().unwrap();
    assert_eq!(
        h.run(&["--db", c, "secrets", "get", "b"], None).ok().stdout,
        b"value-b"
    );
    h.run(&["--db", c, "audit", "verify"], None).ok();
    // Never over an existing file.
    h.run(&["backup", c], None).code(4);
    // A change after the backup; restore without --force changes nothing.
    h.set("d", b"value-d");
    let out = h.run(&["restore", c], None).code(4);
    assert!(out.stderr.contains("--force"), "{}", out.stderr);
    assert_eq!(h.get("d"), b"value-d");
    // With --force the store is the copy again.
    h.run(&["restore", c, "--force"], None).ok();
    h.run(&["secrets", "get", "d"], None).code(3);
    assert_eq!(h.get("a"), b"value-a");
    h.run(&["audit", "verify"], None).ok();
    // Not a hush store: refused, nothing written.
    let junk = h.path().join("junk.db");
    std::fs::write(&junk, b"not a database").unwrap();
    h.run(&["restore", junk.to_str().unwrap(), "--force"], None)
        .code(1);
    assert_eq!(h.get("a"), b"value-a");
}

#[test]
fn a_backup_while_the_server_writes_has_every_acknowledged_row() {
    if sqlite_only("backup copies the SQLite file") {
        return;
    }
    let s = Server::start();
    for i in 0..30 {
        let (st, _) = s.call(
            "PUT",
            &format!("/v1/secrets/k{i}"),
            &s.admin,
            Some(json!({"value": format!("v{i}")})),
        );
        assert!(st.is_success(), "{st}");
    }
    let (_, head) = s.call("GET", "/v1/audit/head", &s.admin, None);
    let db = s.db();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("live-copy.db");
    let h = Home::empty().with_env(
        "HUSH_KEY_FILE",
        db.parent().unwrap().join("root.key").to_str().unwrap(),
    );
    h.run(
        &[
            "--db",
            db.to_str().unwrap(),
            "backup",
            copy.to_str().unwrap(),
        ],
        None,
    )
    .ok();
    let c = copy.to_str().unwrap();
    let v = h
        .run(&["--db", c, "audit", "verify", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(v["intact"], true);
    // Every row the server had acknowledged is in the copy (a `cp` of the file missed the WAL's).
    assert!(
        v["head_seq"].as_i64().unwrap() >= head["seq"].as_i64().unwrap(),
        "{v} vs {head}"
    );
    assert_eq!(
        h.run(&["--db", c, "secrets", "get", "k29"], None)
            .ok()
            .stdout,
        b"v29"
    );
}

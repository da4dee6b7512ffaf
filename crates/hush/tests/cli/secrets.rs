//! The `hush secrets` commands and their contract.

use crate::common::{sqlite_only, Home};

#[test]
fn create_on_existing_key_exits_4_and_changes_nothing() {
    let h = Home::new();
    h.run(
        &["secrets", "create", "k", "--description", "first"],
        Some(b"one"),
    )
    .ok();
    let before = h.show_json("k");
    let out = h
        .run(
            &["secrets", "create", "k", "--description", "second"],
            Some(b"two"),
        )
        .code(4);
    assert!(out.stderr.contains("already exists"), "{}", out.stderr);
    assert_eq!(h.get("k"), b"one");
    assert_eq!(h.show_json("k"), before);
}

#[test]
fn set_creates_then_replaces_keeping_metadata() {
    let h = Home::new();
    h.run(
        &["secrets", "set", "k", "--description", "d", "--envs", "prd"],
        Some(b"one"),
    )
    .ok();
    h.set("k", b"two");
    let j = h.show_json("k");
    assert_eq!(j["version"], 2);
    assert_eq!(j["description"], "d");
    assert_eq!(j["envs"], serde_json::json!(["prd"]));
    assert_eq!(h.get("k"), b"two");
}

#[test]
fn stale_if_version_exits_4_and_changes_nothing() {
    let h = Home::new();
    h.set("k", b"v1");
    h.run(
        &["secrets", "update", "k", "--if-version", "1"],
        Some(b"v2"),
    )
    .ok();
    let out = h
        .run(
            &[
                "secrets",
                "update",
                "k",
                "--if-version",
                "1",
                "--description",
                "x",
            ],
            Some(b"v3"),
        )
        .code(4);
    assert!(out.stderr.contains("version 2"), "{}", out.stderr);
    let out = h
        .run(
            &["secrets", "update", "k", "--if-version", "1"],
            Some(b"v3"),
        )
        .code(4);
    assert!(out.stderr.contains("not 1"), "{}", out.stderr);
    assert_eq!(h.get("k"), b"v2");
    let j = h.show_json("k");
    assert_eq!(j["version"], 2);
    assert_eq!(j["description"], serde_json::Value::Null);
}

#[test]
fn update_reads_a_value_only_when_asked_or_when_no_metadata_is_given() {
    let h = Home::new();
    h.set("k", b"v1");
    // Metadata only: stdin is ignored, the value and version stay.
    h.run(
        &[
            "secrets",
            "update",
            "k",
            "--description",
            "GitHub PAT",
            "--type",
            "api",
            "--scope",
            "a",
            "--scope",
            "b",
            "--envs",
            "prd",
        ],
        Some(b"ignored"),
    )
    .ok();
    assert_eq!(h.get("k"), b"v1");
    let j = h.show_json("k");
    assert_eq!(j["version"], 1);
    assert_eq!(j["description"], "GitHub PAT");
    assert_eq!(j["token_type"], "api");
    assert_eq!(j["scope"], serde_json::json!(["a", "b"]));
    // Metadata and --stdin: both change.
    h.run(
        &["secrets", "update", "k", "--stdin", "--clear-scope"],
        Some(b"v2\n"),
    )
    .ok();
    assert_eq!(h.get("k"), b"v2");
    let j = h.show_json("k");
    assert_eq!(j["version"], 2);
    assert_eq!(j["scope"], serde_json::json!([]));
    // No flags at all: the value comes from stdin.
    h.run(&["secrets", "update", "k"], Some(b"v3")).ok();
    assert_eq!(h.get("k"), b"v3");
    // Update of a missing key: exit 3.
    h.run(&["secrets", "update", "nope"], Some(b"x")).code(3);
}

#[test]
fn revoked_reads_fail_with_5_and_restore_undoes_it() {
    let h = Home::new();
    h.set("k", b"v");
    h.run(&["secrets", "revoke", "k"], None).ok();
    let out = h.run(&["secrets", "get", "k"], None).code(5);
    assert!(out.stderr.contains("revoked"), "{}", out.stderr);
    assert!(out.stdout.is_empty());
    assert_eq!(h.show_json("k")["status"], "revoked");
    h.run(&["secrets", "get", "k", "--version", "1"], None)
        .code(5);
    h.run(&["secrets", "restore", "k"], None).ok();
    assert_eq!(h.get("k"), b"v");
    assert_eq!(h.show_json("k")["status"], "active");
}

#[test]
fn expired_reads_fail_with_6_saying_when() {
    let h = Home::new();
    h.run(
        &[
            "secrets",
            "set",
            "k",
            "--expires",
            "2020-01-01T00:00:00Z",
            "--allow-past",
        ],
        Some(b"v"),
    )
    .ok();
    let out = h.run(&["secrets", "get", "k"], None).code(6);
    assert!(
        out.stderr.contains("expired at 2020-01-01T00:00:00Z"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
    let j = h.show_json("k");
    assert_eq!(j["status"], "expired");
    assert_eq!(j["expires_at"], 1_577_836_800);
    h.run(&["secrets", "update", "k", "--expires", "90d"], None)
        .ok();
    assert_eq!(h.get("k"), b"v");
    h.run(&["secrets", "update", "k", "--expires", "never"], None)
        .ok();
    assert_eq!(h.show_json("k")["expires_at"], serde_json::Value::Null);
}

#[test]
fn history_and_rollback_keep_every_step() {
    let h = Home::new();
    h.set("k", b"one");
    h.set("k", b"two");
    h.set("k", b"three");
    h.run(&["secrets", "rollback", "k", "--to", "1"], None).ok();
    assert_eq!(h.get("k"), b"one");
    let hist = h
        .run(&["secrets", "history", "k", "-o", "json"], None)
        .ok()
        .json();
    let versions: Vec<u64> = hist
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, vec![1, 2, 3, 4]);
    let current: Vec<bool> = hist
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["current"].as_bool().unwrap())
        .collect();
    assert_eq!(current, vec![false, false, false, true]);
    assert_eq!(hist[0]["created_by"], "local:tester");
    assert!(
        !hist.to_string().contains("three"),
        "history carries no values"
    );
    let out = h.run(&["secrets", "get", "k", "--version", "2"], None).ok();
    assert_eq!(out.stdout, b"two");
    h.run(&["secrets", "rollback", "k", "--to", "9"], None)
        .code(3);
    h.run(&["secrets", "get", "k", "--version", "9"], None)
        .code(3);
    let table = h.run(&["secrets", "history", "k"], None).ok().text();
    assert!(
        table.starts_with("ENV") && table.contains("VERSION"),
        "{table}"
    );
    assert!(table.contains("(shared)"), "{table}");
}

#[test]
fn delete_removes_every_version() {
    let h = Home::new();
    h.set("k", b"one");
    h.set("k", b"two");
    h.run(&["secrets", "delete", "k"], None).ok();
    h.run(&["secrets", "get", "k"], None).code(3);
    h.run(&["secrets", "show", "k"], None).code(3);
    h.run(&["secrets", "delete", "k"], None).code(3);
    // A new secret under the same key starts afresh.
    h.set("k", b"three");
    assert_eq!(h.show_json("k")["version"], 1);
    h.run(&["secrets", "delete", "k", "--force"], None).ok();
}

#[test]
fn list_filters_by_env_app_prefix_and_status() {
    let h = Home::new();
    h.run(
        &[
            "secrets",
            "set",
            "STRIPE_KEY_DEV",
            "--envs",
            "dev",
            "--scope",
            "pay",
        ],
        Some(b"a"),
    )
    .ok();
    h.run(
        &[
            "secrets",
            "set",
            "STRIPE_KEY_PROD",
            "--envs",
            "prd",
            "--scope",
            "pay",
        ],
        Some(b"b"),
    )
    .ok();
    h.run(&["secrets", "set", "SENDGRID_KEY"], Some(b"c")).ok();
    h.run(
        &[
            "secrets",
            "set",
            "OLD_KEY",
            "--expires",
            "1",
            "--allow-past",
        ],
        Some(b"d"),
    )
    .ok();
    h.run(&["secrets", "set", "BAD_KEY"], Some(b"e")).ok();
    h.run(&["secrets", "revoke", "BAD_KEY"], None).ok();

    let keys = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["secrets", "list", "-o", "json"];
        a.extend_from_slice(args);
        let j = h.run(&a, None).ok().json();
        j.as_array()
            .unwrap()
            .iter()
            .map(|s| s["key"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        keys(&[]),
        [
            "BAD_KEY",
            "OLD_KEY",
            "SENDGRID_KEY",
            "STRIPE_KEY_DEV",
            "STRIPE_KEY_PROD"
        ]
    );
    assert_eq!(
        keys(&["--env", "prd"]),
        ["BAD_KEY", "OLD_KEY", "SENDGRID_KEY", "STRIPE_KEY_PROD"]
    );
    assert_eq!(
        keys(&["--app", "other"]),
        ["BAD_KEY", "OLD_KEY", "SENDGRID_KEY"]
    );
    assert_eq!(
        keys(&["--app", "pay", "--env", "dev"]),
        ["BAD_KEY", "OLD_KEY", "SENDGRID_KEY", "STRIPE_KEY_DEV"]
    );
    assert_eq!(
        keys(&["--prefix", "STRIPE_"]),
        ["STRIPE_KEY_DEV", "STRIPE_KEY_PROD"]
    );
    assert_eq!(
        keys(&["--prefix", "S_"]),
        Vec::<String>::new(),
        "'_' in a prefix is not a wildcard"
    );
    assert_eq!(keys(&["--status", "revoked"]), ["BAD_KEY"]);
    assert_eq!(keys(&["--status", "expired"]), ["OLD_KEY"]);
    assert_eq!(
        keys(&["--status", "active"]),
        ["SENDGRID_KEY", "STRIPE_KEY_DEV", "STRIPE_KEY_PROD"]
    );
    let table = h.run(&["secrets", "list"], None).ok().text();
    assert!(table.starts_with("KEY"), "{table}");
    assert!(table.contains("STRIPE_KEY_PROD"));
}

#[test]
fn workspaces_are_separate() {
    let h = Home::new();
    h.set("k", b"default-value");
    h.run(
        &["secrets", "set", "k", "--workspace", "team-b"],
        Some(b"b-value"),
    )
    .ok();
    assert_eq!(h.get("k"), b"default-value");
    let mut c = h.command(&["secrets", "get", "k"]);
    c.env("HUSH_WORKSPACE", "team-b");
    assert_eq!(h.run_with(c, None).ok().stdout, b"b-value");
    h.run(&["secrets", "list", "--workspace", "nope"], None)
        .code(3);
}

#[test]
fn init_refuses_an_existing_store() {
    let h = Home::new();
    h.set("k", b"v");
    let key_before = std::fs::read(h.path().join("root.key")).unwrap();
    let out = h.run(&["init"], None).code(4);
    assert!(out.stderr.contains("already exists"), "{}", out.stderr);
    assert_eq!(
        std::fs::read(h.path().join("root.key")).unwrap(),
        key_before
    );
    assert_eq!(h.get("k"), b"v");
}

#[cfg(unix)]
#[test]
fn store_files_are_private() {
    if sqlite_only("the modes of the store's files") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let h = Home::new();
    h.set("k", b"v");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&h.path().join("root.key")), 0o600);
    assert_eq!(mode(&h.db()), 0o600);
    let fresh = crate::common::Home::empty();
    let nested = fresh.path().join("a/b");
    let mut c = fresh.command(&["init"]);
    c.env("HUSH_HOME", &nested);
    fresh.run_with(c, None).ok();
    assert_eq!(mode(&nested), 0o700);
}

#[test]
fn help_documents_exit_codes() {
    let h = Home::empty();
    let out = h.run(&["secrets", "get", "--help"], None).ok();
    for line in [
        "3  not found",
        "4  conflict",
        "5  forbidden or revoked",
        "6  expired",
    ] {
        assert!(out.text().contains(line), "{line} missing from help");
    }
}

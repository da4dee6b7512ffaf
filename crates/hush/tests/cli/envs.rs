//! Values per environment from the CLI, as a Doppler or Infisical user types them: `--env E`
//! picks environment E's value on every `hush secrets` command, `--envs` sets where a secret
//! may be read, and `hush run --env E` gets E's value, else the shared one.

use crate::common::Home;

#[test]
fn set_in_two_environments_keeps_both_values() {
    let h = Home::new();
    h.run(
        &["secrets", "set", "DB_URL", "--env", "dev"],
        Some(b"postgres://dev"),
    )
    .ok();
    let out = h
        .run(
            &["secrets", "set", "DB_URL", "--env", "prd"],
            Some(b"postgres://prd"),
        )
        .ok();
    assert!(
        out.stderr.contains("DB_URL for prd (prd version 1)"),
        "{}",
        out.stderr
    );
    // Neither replaced the other (the trap of issue 16: prd's set used to replace dev's).
    let get = |args: &[&str]| h.run(args, None);
    assert_eq!(
        get(&["secrets", "get", "DB_URL", "--env", "dev"])
            .ok()
            .stdout,
        b"postgres://dev"
    );
    assert_eq!(
        get(&["secrets", "get", "DB_URL", "--env", "prd"])
            .ok()
            .stdout,
        b"postgres://prd"
    );
    // No shared value yet: another environment is refused, saying what to do.
    let out = get(&["secrets", "get", "DB_URL", "--env", "stg"]).code(3);
    assert!(
        out.stderr.contains("no value for environment \"stg\""),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--env stg"), "{}", out.stderr);
    // A shared value serves every other environment.
    h.run(&["secrets", "set", "DB_URL"], Some(b"postgres://shared"))
        .ok();
    assert_eq!(
        get(&["secrets", "get", "DB_URL", "--env", "stg"])
            .ok()
            .stdout,
        b"postgres://shared"
    );
    assert_eq!(
        get(&["secrets", "get", "DB_URL"]).ok().stdout,
        b"postgres://shared"
    );
    // show and list name the environments with their own value, never a value.
    let show = h.show_json("DB_URL");
    assert_eq!(
        show["env_versions"],
        serde_json::json!({"dev": 1, "prd": 1})
    );
    let table = h.run(&["secrets", "list"], None).ok().text();
    assert!(table.contains("dev v1, prd v1"), "{table}");
    assert!(!table.contains("postgres://"), "{table}");
    // The same command serves dev and prd with --env alone.
    for (env, want) in [
        ("dev", "postgres://dev"),
        ("prd", "postgres://prd"),
        ("stg", "postgres://shared"),
    ] {
        let out = h
            .run(
                &[
                    "run",
                    "--no-mask",
                    "--env",
                    env,
                    "--secret",
                    "DB_URL",
                    "--",
                    "printenv",
                    "DB_URL",
                ],
                None,
            )
            .ok();
        assert_eq!(out.text().trim(), want, "{env}");
    }
}

#[test]
fn history_rollback_and_delete_touch_one_environment() {
    let h = Home::new();
    h.run(&["secrets", "set", "K"], Some(b"shared-1")).ok();
    h.run(&["secrets", "set", "K", "--env", "dev"], Some(b"dev-1"))
        .ok();
    h.run(&["secrets", "set", "K", "--env", "dev"], Some(b"dev-2"))
        .ok();
    h.run(&["secrets", "set", "K", "--env", "prd"], Some(b"prd-1"))
        .ok();
    let hist = h
        .run(
            &["secrets", "history", "K", "--env", "dev", "-o", "json"],
            None,
        )
        .ok()
        .json();
    let got: Vec<(String, u64)> = hist
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["env"].as_str().unwrap().to_string(),
                v["version"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [("dev".to_string(), 1), ("dev".to_string(), 2)]);
    let table = h.run(&["secrets", "history", "K"], None).ok().text();
    assert!(
        table.contains("(shared)") && table.contains("prd"),
        "{table}"
    );
    // --if-version is dev's own version.
    h.run(
        &[
            "secrets",
            "update",
            "K",
            "--env",
            "dev",
            "--if-version",
            "1",
        ],
        Some(b"x"),
    )
    .code(4);
    h.run(
        &["secrets", "rollback", "K", "--env", "dev", "--to", "1"],
        None,
    )
    .ok();
    assert_eq!(
        h.run(&["secrets", "get", "K", "--env", "dev"], None)
            .ok()
            .stdout,
        b"dev-1"
    );
    let out = h
        .run(&["secrets", "delete", "K", "--env", "dev"], None)
        .ok();
    assert!(
        out.stderr.contains("deleted the dev value of K"),
        "{}",
        out.stderr
    );
    assert_eq!(
        h.run(&["secrets", "get", "K", "--env", "dev"], None)
            .ok()
            .stdout,
        b"shared-1"
    );
    assert_eq!(
        h.run(&["secrets", "get", "K", "--env", "prd"], None)
            .ok()
            .stdout,
        b"prd-1"
    );
    assert_eq!(h.get("K"), b"shared-1");
}

#[test]
fn envs_sets_availability_and_env_values_must_be_available() {
    let h = Home::new();
    h.run(&["secrets", "set", "S", "--envs", "dev,stg"], Some(b"v"))
        .ok();
    assert_eq!(h.show_json("S")["envs"], serde_json::json!(["dev", "stg"]));
    let out = h
        .run(&["secrets", "set", "S", "--env", "prd"], Some(b"p"))
        .code(2);
    assert!(
        out.stderr.contains("not available in environment \"prd\""),
        "{}",
        out.stderr
    );
    assert!(h.show_json("S")["env_versions"]
        .as_object()
        .unwrap()
        .is_empty());
    let listed = h
        .run(&["secrets", "list", "--env", "prd", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(listed, serde_json::json!([]));
}

#[test]
fn audit_rows_name_the_environment_read_and_written() {
    let h = Home::new();
    h.run(&["secrets", "set", "A", "--env", "prd"], Some(b"prd-value"))
        .ok();
    h.run(&["secrets", "get", "A", "--env", "prd"], None).ok();
    let rows = h
        .run(&["audit", "--key", "A", "-o", "json"], None)
        .ok()
        .json();
    let got: Vec<(String, serde_json::Value)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["action"].as_str().unwrap().to_string(), r["env"].clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("secret.create".to_string(), serde_json::json!("prd")),
            ("secret.read".to_string(), serde_json::json!("prd")),
        ]
    );
    let table = h.run(&["audit", "--key", "A"], None).ok().text();
    assert!(table.contains("ENV") && table.contains("prd"), "{table}");
    assert!(!table.contains("prd-value"), "{table}");
    h.run(&["audit", "verify"], None).ok();
}

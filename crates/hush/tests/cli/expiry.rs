//! Issue 17: expiry warnings (`expiring`, `--notify-before`, `list --expiring`, warnings on
//! stderr from `secrets get` and `run`, locally and against a server) and the audit rows of
//! `hush keys rotate` and of token changes on the embedded store.

use serde_json::Value;

use crate::common::{Home, Out};
use crate::server::Server;

const VALUE: &str = "sk_live_expiry_canary_77a1";

/// Runs `hush ARGS` with a stdin, on the embedded store or against a server.
type Run<'a> = &'a dyn Fn(&[&str], Option<&[u8]>) -> Out;

fn fill(run: Run<'_>) {
    for (key, extra) in [
        ("SOON", &["--expires", "3d"][..]),
        ("LATER", &["--expires", "30d"]),
        ("WIDE", &["--expires", "30d", "--notify-before", "40d"]),
        ("QUIET", &["--expires", "1d", "--notify-before", "0"]),
        ("NEVER", &[]),
    ] {
        let mut a = vec!["secrets", "set", key];
        a.extend_from_slice(extra);
        run(&a, Some(VALUE.as_bytes())).ok();
    }
}

fn keys(j: &Value) -> Vec<String> {
    j.as_array()
        .unwrap()
        .iter()
        .map(|m| m["key"].as_str().unwrap().to_string())
        .collect()
}

/// The whole of the CLI's expiry behaviour, with `run` giving `hush` its arguments (on the
/// embedded store, or against a server).
fn scenario(run: Run<'_>) {
    fill(run);
    // `hush check` calls a secret expiring by its own window, as the API does: WIDE (30 days
    // left, a 40-day window) is, QUIET (1 day left, never warns) is not.
    let check = run(
        &[
            "check", "--secret", "SOON", "--secret", "LATER", "--secret", "WIDE", "--secret",
            "QUIET", "--secret", "NEVER", "-o", "json",
        ],
        None,
    )
    .ok()
    .json();
    let got: Vec<(&str, &str)> = check
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["key"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("SOON", "expiring"),
            ("LATER", "ok"),
            ("WIDE", "expiring"),
            ("QUIET", "ok"),
            ("NEVER", "ok"),
        ],
        "{check}"
    );
    let list = run(&["secrets", "list", "-o", "json"], None).ok().json();
    let status: Vec<(String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["key"].as_str().unwrap().to_string(),
                m["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("LATER", "active"),
        ("NEVER", "active"),
        ("QUIET", "active"),
        ("SOON", "expiring"),
        ("WIDE", "expiring"),
    ];
    assert_eq!(
        status,
        want.map(|(k, s)| (k.to_string(), s.to_string())),
        "{list}"
    );
    let table = run(&["secrets", "list"], None).ok().text();
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("SOON") && l.contains("expiring")),
        "{table}"
    );
    let only = run(
        &["secrets", "list", "--status", "expiring", "-o", "json"],
        None,
    )
    .ok();
    assert_eq!(keys(&only.json()), ["SOON", "WIDE"]);
    let active = run(
        &["secrets", "list", "--status", "active", "-o", "json"],
        None,
    )
    .ok();
    assert_eq!(keys(&active.json()).len(), 5, "active takes in expiring");
    // `--expiring 7d`: what is still served and expires within 7 days, whatever its window.
    let week = run(&["secrets", "list", "--expiring", "7d", "-o", "json"], None).ok();
    assert_eq!(keys(&week.json()), ["QUIET", "SOON"]);
    let bad = run(&["secrets", "list", "--expiring", "soon"], None).code(2);
    assert!(bad.stderr.contains("--expiring"), "{}", bad.stderr);

    let show = run(&["secrets", "show", "WIDE", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(show["status"], "expiring");
    assert_eq!(show["notify_before"], 40 * 86_400);
    let detail = run(&["secrets", "show", "SOON"], None).ok().text();
    assert!(detail.contains("14 days (default)"), "{detail}");

    // `get` warns on stderr and still prints the value alone on stdout.
    let got = run(&["secrets", "get", "SOON"], None).ok();
    assert_eq!(got.text(), VALUE);
    let warn = got
        .stderr
        .lines()
        .find(|l| l.starts_with("hush: warning: SOON expires in "))
        .unwrap_or_else(|| panic!("no warning: {}", got.stderr));
    assert!(warn.contains(" days (20") && warn.ends_with("Z)"), "{warn}");
    assert!(!got.stderr.contains(VALUE));
    let j = run(&["secrets", "get", "SOON", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(j["warnings"][0]["code"], "expiring");
    for quiet in ["LATER", "QUIET", "NEVER"] {
        let out = run(&["secrets", "get", quiet], None).ok();
        assert!(!out.stderr.contains("warning"), "{quiet}: {}", out.stderr);
    }

    // `run` warns once per key it delivers, and runs the command.
    let out = run(
        &[
            "run",
            "--no-mask",
            "--secret",
            "SOON",
            "--secret",
            "WIDE",
            "--secret",
            "LATER",
            "--",
            "sh",
            "-c",
            "echo started",
        ],
        None,
    )
    .ok();
    assert_eq!(out.text(), "started\n");
    let warned: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("hush: warning: "))
        .collect();
    assert_eq!(warned.len(), 2, "{}", out.stderr);
    assert!(warned[0].contains("SOON expires in") && warned[1].contains("WIDE expires in"));
    assert!(!out.stderr.contains(VALUE));

    // The window moves with `update --notify-before`; a bad one is refused before any write.
    let j = run(
        &[
            "secrets",
            "update",
            "LATER",
            "--notify-before",
            "60d",
            "-o",
            "json",
        ],
        None,
    )
    .ok()
    .json();
    assert_eq!(j["status"], "expiring");
    let bad = run(
        &["secrets", "update", "LATER", "--notify-before", "a while"],
        None,
    )
    .code(2);
    assert!(bad.stderr.contains("--notify-before"), "{}", bad.stderr);
    let bad = run(
        &["secrets", "update", "LATER", "--notify-before", "99999w"],
        None,
    )
    .code(2);
    assert!(
        bad.stderr.contains("notify_before is out of range"),
        "{}",
        bad.stderr
    );
}

#[test]
fn expiring_secrets_are_shown_listed_and_warned_of_locally() {
    let h = Home::new();
    scenario(&|args, stdin| h.run(args, stdin));
}

#[test]
fn expiring_secrets_are_shown_listed_and_warned_of_against_a_server() {
    let server = Server::start();
    let client = Home::empty();
    scenario(&|args, stdin| {
        let mut c = client.command(args);
        c.env("HUSH_ADDR", &server.base)
            .env("HUSH_TOKEN", &server.admin);
        client.run_with(c, stdin)
    });
    let metrics = reqwest::blocking::get(format!("{}/metrics", server.base))
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.lines().any(|l| l == "hush_secrets_expiring 2"),
        "{metrics}"
    );
}

/// `hush keys rotate`, `tokens create` and `tokens revoke` on the embedded store each leave an
/// audit row that names no key and no token.
#[test]
fn keys_rotate_and_token_changes_leave_audit_rows_locally() {
    let h = Home::new();
    let token = h
        .run(
            &["tokens", "create", "--role", "read", "--name", "ci"],
            None,
        )
        .ok()
        .text()
        .trim()
        .to_string();
    h.run(&["tokens", "revoke", "ci"], None).ok();
    let key_before = std::fs::read_to_string(h.path().join("root.key")).unwrap();
    h.run(&["keys", "rotate"], None).ok();
    let key_after = std::fs::read_to_string(h.path().join("root.key")).unwrap();
    let rows = h.run(&["audit", "-o", "json"], None).ok();
    let j = rows.json();
    let find = |action: &str| {
        j.as_array()
            .unwrap()
            .iter()
            .find(|r| r["action"] == action)
            .unwrap_or_else(|| panic!("no {action} row: {j}"))
            .clone()
    };
    let created = find("token.create");
    let revoked = find("token.revoke");
    assert_eq!(created["key"], revoked["key"], "both name the token's id");
    assert!(created["key"].as_str().unwrap().starts_with("tok_"));
    let rotated = find("keys.rotate");
    assert_eq!(rotated["outcome"], "ok");
    assert_eq!(rotated["actor_name"], "local:tester");
    let detail = rotated["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("root key version 2"), "{rotated}");
    let all = rows.all();
    for secret in [token.as_str(), key_before.trim(), key_after.trim()] {
        assert!(!all.contains(secret), "a secret in the audit log");
    }
    h.run(&["audit", "verify"], None).ok();
}

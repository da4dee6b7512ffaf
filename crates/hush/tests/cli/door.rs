//! Issue 16: values checked at the door, the same on the embedded store and through a
//! server — a value meant as JSON must parse, and an expiry in the past must be meant.

use crate::common::{Home, Out};
use crate::server::Server;

type Runner<'a> = &'a dyn Fn(&[&str], Option<&[u8]>) -> Out;

fn json_checks(run: Runner<'_>, place: &str) {
    // `{"broken":` was stored as it came: `--format json` refuses it, exit 2, nothing written.
    let out = run(
        &["secrets", "set", "cfg", "--format", "json"],
        Some(b"{\"broken\": \"sk_planted\""),
    )
    .code(2);
    assert!(
        out.stderr.contains("not valid JSON"),
        "{place}: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("at line 1, column"),
        "{place}: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("--format json"),
        "{place}: {}",
        out.stderr
    );
    assert!(!out.all().contains("sk_planted"), "{place}: {}", out.stderr);
    run(&["secrets", "show", "cfg"], None).code(3);
    // `create` and `update` check the same way; a format with no value to check is refused.
    run(
        &["secrets", "create", "cfg", "--format", "json", "--stdin"],
        Some(b"[1,\n"),
    )
    .code(2);
    run(
        &["secrets", "set", "cfg", "--format", "json"],
        Some(b"{\"ok\": [1, 2]}"),
    )
    .ok();
    run(
        &["secrets", "update", "cfg", "--format", "json", "--stdin"],
        Some(b"nope"),
    )
    .code(2);
    let out = run(
        &[
            "secrets",
            "update",
            "cfg",
            "--format",
            "json",
            "--description",
            "d",
        ],
        None,
    )
    .code(2);
    assert!(out.stderr.contains("--format"), "{place}: {}", out.stderr);
    assert_eq!(
        run(&["secrets", "get", "cfg"], None).ok().stdout,
        b"{\"ok\": [1, 2]}",
        "{place}"
    );
    // Text (the default) takes anything.
    run(
        &["secrets", "set", "raw", "--format", "text"],
        Some(b"{\"broken\":"),
    )
    .ok();
}

fn expiry_checks(run: Runner<'_>, place: &str) {
    run(&["secrets", "set", "cfg"], Some(b"v")).ok();
    // A past expiry answered "created" and the secret was expired from its first second.
    for when in ["2001-01-01T00:00:00Z", "1"] {
        let out = run(&["secrets", "set", "old", "--expires", when], Some(b"v")).code(2);
        assert!(
            out.stderr.contains("in the past"),
            "{place}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains("--allow-past"),
            "{place}: {}",
            out.stderr
        );
    }
    run(&["secrets", "show", "old"], None).code(3);
    run(
        &[
            "secrets",
            "update",
            "cfg",
            "--expires",
            "2001-01-01T00:00:00Z",
        ],
        None,
    )
    .code(2);
    run(
        &[
            "secrets",
            "set",
            "old",
            "--expires",
            "2001-01-01T00:00:00Z",
            "--allow-past",
        ],
        Some(b"v"),
    )
    .ok();
    let shown = run(&["secrets", "show", "old", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(shown["status"], "expired", "{place}");
    assert_eq!(shown["expires_at"], 978_307_200, "{place}");
    // Milliseconds (`Date.now()`) are refused with a hint, never read as year 58,000.
    let out = run(
        &["secrets", "set", "ms", "--expires", "1800000000000"],
        Some(b"v"),
    )
    .code(2);
    assert!(
        out.stderr.contains("milliseconds"),
        "{place}: {}",
        out.stderr
    );
}

/// Runs `checks` on the embedded store, then through a real server.
fn locally_and_remotely(checks: fn(Runner<'_>, &str)) {
    let local = Home::new();
    checks(&|args, stdin| local.run(args, stdin), "local");

    let server = Server::start();
    let client = Home::empty();
    checks(
        &|args, stdin| {
            let mut c = client.command(args);
            c.env("HUSH_ADDR", &server.base)
                .env("HUSH_TOKEN", &server.admin);
            client.run_with(c, stdin)
        },
        "remote",
    );
}

#[test]
fn a_value_meant_as_json_must_parse() {
    locally_and_remotely(json_checks);
}

#[test]
fn an_expiry_in_the_past_must_be_meant() {
    locally_and_remotely(expiry_checks);
}

//! The same CLI scenario against the embedded store and against a server.

use crate::common::{Home, Out};
use crate::server::Server;

/// Runs every `hush secrets` / `tokens` / `audit` step, checking exit codes and output.
/// Returns a transcript of (step, exit code, stdout) to compare between backends.
/// Runs `hush ARGS` with optional stdin somewhere (locally or against a server).
type Runner<'a> = &'a dyn Fn(&[&str], Option<&[u8]>) -> Out;

fn scenario(run: Runner<'_>) -> Vec<(String, i32, String)> {
    let mut t = Vec::new();
    let mut step = |name: &str, args: &[&str], stdin: Option<&[u8]>, code: i32| -> Out {
        let out = run(args, stdin);
        assert_eq!(out.code, code, "{name}: {}", out.stderr);
        assert!(
            !out.stderr.contains("planted-remote"),
            "{name} leaked on stderr: {}",
            out.stderr
        );
        t.push((name.to_string(), out.code, out.text()));
        out
    };
    step(
        "set",
        &["secrets", "set", "githubtoken"],
        Some(b"planted-remote-1"),
        0,
    );
    step("get", &["secrets", "get", "githubtoken"], None, 0);
    let bin: Vec<u8> = (0..=255u8).collect();
    step("set binary", &["secrets", "set", "blob"], Some(&bin), 0);
    let out = run(&["secrets", "get", "blob"], None);
    assert_eq!(out.stdout, bin, "binary round trip");
    step(
        "create exists",
        &["secrets", "create", "githubtoken"],
        Some(b"x"),
        4,
    );
    step(
        "create",
        &[
            "secrets",
            "create",
            "gcp-key",
            "--type",
            "access",
            "--envs",
            "prd",
            "--scope",
            "ingest",
            "--description",
            "GCP",
        ],
        Some(b"{\"k\":1}"),
        0,
    );
    step(
        "update stale",
        &["secrets", "update", "githubtoken", "--if-version", "7"],
        Some(b"x"),
        4,
    );
    step(
        "update",
        &[
            "secrets",
            "update",
            "githubtoken",
            "--stdin",
            "--if-version",
            "1",
        ],
        Some(b"planted-remote-2\n"),
        0,
    );
    step(
        "update meta",
        &[
            "secrets",
            "update",
            "githubtoken",
            "--description",
            "GitHub PAT",
            "--expires",
            "never",
        ],
        None,
        0,
    );
    step(
        "get v1",
        &["secrets", "get", "githubtoken", "--version", "1"],
        None,
        0,
    );
    step("get v2", &["secrets", "get", "githubtoken"], None, 0);
    step(
        "history",
        &["secrets", "history", "githubtoken", "-o", "json"],
        None,
        0,
    );
    step(
        "rollback",
        &["secrets", "rollback", "githubtoken", "--to", "1"],
        None,
        0,
    );
    step(
        "get after rollback",
        &["secrets", "get", "githubtoken"],
        None,
        0,
    );
    step("revoke", &["secrets", "revoke", "githubtoken"], None, 0);
    step("get revoked", &["secrets", "get", "githubtoken"], None, 5);
    step("restore", &["secrets", "restore", "githubtoken"], None, 0);
    step(
        "expire",
        &[
            "secrets",
            "update",
            "gcp-key",
            "--expires",
            "1",
            "--allow-past",
        ],
        None,
        0,
    );
    step("get expired", &["secrets", "get", "gcp-key"], None, 6);
    step("list", &["secrets", "list", "--status", "active"], None, 0);
    step(
        "list prd",
        &["secrets", "list", "--env", "prd", "-o", "json"],
        None,
        0,
    );
    step("bad key", &["secrets", "get", "a/b"], None, 2);
    step("bad value", &["secrets", "set", "k"], Some(b""), 2);
    step("delete", &["secrets", "delete", "blob"], None, 0);
    step("get deleted", &["secrets", "get", "blob"], None, 3);
    step("delete missing", &["secrets", "delete", "blob"], None, 3);
    step(
        "token",
        &["tokens", "create", "--role", "read", "--name", "reader"],
        None,
        0,
    );
    step("token list", &["tokens", "list"], None, 0);
    step("token revoke", &["tokens", "revoke", "reader"], None, 0);
    step("audit", &["audit", "--key", "githubtoken"], None, 0);
    step("audit verify", &["audit", "verify"], None, 0);
    t
}

/// Output that differs between runs (ids, times, tokens, hashes) is blanked out.
fn normalise(text: &str) -> String {
    let mut out = String::new();
    for word in text.split_inclusive(|c: char| c.is_whitespace() || c == '"' || c == ',') {
        let w = word.trim_end_matches(|c: char| c.is_whitespace() || c == '"' || c == ',');
        let rest = &word[w.len()..];
        let volatile = w.starts_with("sec_")
            || w.starts_with("tok_")
            || w.starts_with("hush_")
            || w.len() == 64 && w.bytes().all(|b| b.is_ascii_hexdigit())
            || w.len() >= 20 && w.as_bytes().get(4) == Some(&b'-') && w.contains('T');
        out.push_str(if volatile { "<v>" } else { w });
        out.push_str(rest);
    }
    out
}

#[test]
fn the_same_scenario_passes_locally_and_against_a_server() {
    let local = Home::new();
    let local_run = |args: &[&str], stdin: Option<&[u8]>| local.run(args, stdin);
    let a = scenario(&local_run);

    let server = Server::start();
    let client_home = Home::empty();
    let remote_run = |args: &[&str], stdin: Option<&[u8]>| {
        let mut c = client_home.command(args);
        c.env("HUSH_ADDR", &server.base)
            .env("HUSH_TOKEN", &server.admin);
        client_home.run_with(c, stdin)
    };
    let b = scenario(&remote_run);
    assert_eq!(
        std::fs::read_dir(client_home.path()).unwrap().count(),
        0,
        "no local store was touched"
    );

    for ((name, code_a, out_a), (_, code_b, out_b)) in a.iter().zip(&b) {
        assert_eq!(code_a, code_b, "{name}");
        match name.as_str() {
            // Audit rows and token lists differ in actors and counts (the server has its
            // first admin token); compare their shape only.
            "audit" | "audit verify" | "token list" | "token" => {}
            _ => assert_eq!(
                normalise(out_a).replace("local:tester", "<actor>"),
                normalise(out_b).replace("first-admin", "<actor>"),
                "{name}"
            ),
        }
    }
}

#[test]
fn login_saves_the_server_and_token_privately() {
    let server = Server::start();
    let h = Home::empty();
    let cfg = h.path().join("cfg.json");
    let mut c = h.command(&["login", &server.base]);
    c.env("HUSH_CONFIG", &cfg);
    h.run_with(c, Some(format!("{}\n", server.admin).as_bytes()))
        .ok();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&cfg).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let mut c = h.command(&["secrets", "set", "k"]);
    c.env("HUSH_CONFIG", &cfg);
    h.run_with(c, Some(b"v")).ok();
    let mut c = h.command(&["secrets", "get", "k"]);
    c.env("HUSH_CONFIG", &cfg);
    assert_eq!(h.run_with(c, None).ok().stdout, b"v");
    let mut c = h.command(&["login", &server.base]);
    c.env("HUSH_CONFIG", h.path().join("other.json"));
    let out = h
        .run_with(
            c,
            Some(b"hush_wrongwrongwrongwrongwrongwrongwrongwrongwro\n"),
        )
        .code(5);
    assert!(
        !h.path().join("other.json").exists(),
        "a bad token is not saved"
    );
    assert!(!out.all().contains("hush_wrong"));
}

//! Issue 16, "local development as in production": piped values lose the newline `echo`
//! adds, `.secrets` takes every hush key and never expands `$`, each declaration is looked up
//! by its key and by its variable name, a refusal says every place looked at, `hush check`
//! takes the flags `hush run` takes, and `-f` reads a file. Each test failed on the main of
//! 2026-11-29.

use std::path::Path;

use crate::common::{on_postgres, Home, Out};

fn workdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// `hush ARGS` run in `cwd` with `env` added.
fn run_in(h: &Home, cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut c = h.command(args);
    c.current_dir(cwd);
    for (k, v) in env {
        c.env(k, v);
    }
    h.run_with(c, None)
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// Regression: `echo "$TOKEN" | hush secrets set k` stored `TOKEN\n`.
#[test]
fn piped_values_lose_one_trailing_newline_and_raw_keeps_it() {
    let h = Home::new();
    for (key, input, stored) in [
        ("echoed", &b"tok\n"[..], &b"tok"[..]),
        ("crlf", b"tok\r\n", b"tok"),
        ("two", b"tok\n\n", b"tok\n"),
        ("none", b"tok", b"tok"),
    ] {
        h.run(&["secrets", "set", key], Some(input)).ok();
        assert_eq!(h.get(key), stored, "{key}");
    }
    h.run(&["secrets", "create", "made"], Some(b"c\n")).ok();
    assert_eq!(h.get("made"), b"c");
    h.run(&["secrets", "update", "made"], Some(b"u\r\n")).ok();
    assert_eq!(h.get("made"), b"u");
    // --raw keeps the bytes exactly, with --stdin or without.
    h.run(&["secrets", "set", "raw", "--raw"], Some(b"tok\n"))
        .ok();
    assert_eq!(h.get("raw"), b"tok\n");
    h.run(
        &["secrets", "update", "raw", "--stdin", "--raw"],
        Some(b"t\r\n"),
    )
    .ok();
    assert_eq!(h.get("raw"), b"t\r\n");
    // The help of each writing command says so.
    for cmd in ["set", "create", "update"] {
        let help = h.run(&["secrets", cmd, "--help"], None).ok().text();
        assert!(help.contains("trailing newline"), "{cmd}: {help}");
        assert!(help.contains("--raw"), "{cmd}: {help}");
        assert!(help.contains("-f, --from-file"), "{cmd}: {help}");
    }
}

/// Regression: `hush secrets create k -f cert.pem` was refused; a file is always exact.
#[test]
fn dash_f_reads_a_file_byte_for_byte() {
    let h = Home::new();
    let wd = workdir();
    let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    write(wd.path(), "cert.pem", pem);
    let file = wd.path().join("cert.pem");
    let file = file.to_str().unwrap();
    h.run(&["secrets", "create", "cert", "-f", file], None).ok();
    assert_eq!(h.get("cert"), pem.as_bytes());
    h.run(&["secrets", "set", "cert2", "-f", file], None).ok();
    assert_eq!(h.get("cert2"), pem.as_bytes());
    write(wd.path(), "new.pem", "new\n");
    let new = wd.path().join("new.pem");
    h.run(
        &["secrets", "update", "cert", "-f", new.to_str().unwrap()],
        None,
    )
    .ok();
    assert_eq!(h.get("cert"), b"new\n");
    // -f with --raw or --stdin is a usage error, nothing written.
    h.run(&["secrets", "set", "x", "-f", file, "--raw"], None)
        .code(2);
    h.run(&["secrets", "show", "x"], None).code(3);
}

/// Regression: `gcs-key=…` refused the whole file, and `abc$HOMExyz` arrived as `abc`.
#[test]
fn secrets_file_takes_hush_keys_and_never_expands_dollars() {
    let h = Home::empty();
    let wd = workdir();
    write(
        wd.path(),
        ".secrets",
        "gcs-key=gcs-value-1\npw=abc$HOMExyz\nq=\"x${HOME}y\"\n",
    );
    let out = run_in(
        &h,
        wd.path(),
        &[
            "run",
            "--no-mask",
            "--secret",
            "gcs-key=GCS",
            "--secret",
            "pw=PW",
            "--secret",
            "q=Q",
            "--",
            "sh",
            "-c",
            "printf '%s|%s|%s' \"$GCS\" \"$PW\" \"$Q\"",
        ],
        &[("HOME", "/home/someone")],
    )
    .ok();
    assert_eq!(out.text(), "gcs-value-1|abc$HOMExyz|x${HOME}y");
}

/// Parse errors name the line and what was wrong, never the line's text.
#[test]
fn secrets_file_errors_name_the_line() {
    let h = Home::empty();
    let wd = workdir();
    write(
        wd.path(),
        ".secrets",
        "a=1\n# c\nbad=\"sk_live_unclosed_value\n",
    );
    for cmd in [
        &["run", "--secret", "a=A", "--", "true"][..],
        &["check", "--secret", "a=A"],
    ] {
        let out = run_in(&h, wd.path(), cmd, &[]).code(2);
        assert!(out.stderr.contains("line 3: "), "{}", out.stderr);
        assert!(out.stderr.contains("never closed"), "{}", out.stderr);
        assert!(!out.all().contains("sk_live"), "{}", out.all());
    }
}

const TOOLJUMP: &str = "\
app = \"tooljump\"
[secrets.GITHUB_TOKEN]
key = \"GITHUB_TOKEN_PRIMARY\"
fallback = [\"GITHUB_TOKEN_BACKUP\"]
";

/// Regression: with `key = \"GITHUB_TOKEN_PRIMARY\"`, `INTEGRATION_GITHUB_TOKEN` was ignored.
/// The order is `<prefix><KEY>`, `<prefix><VAR>`, `.secrets` by key then by variable, the
/// store; `hush check` names the one that supplied it.
#[test]
fn each_declaration_is_looked_up_by_key_then_by_variable_name() {
    let h = Home::new();
    let wd = workdir();
    write(wd.path(), "hush.toml", TOOLJUMP);
    let show = [
        "run",
        "--no-mask",
        "--prefix",
        "INTEGRATION_",
        "--",
        "sh",
        "-c",
        "printf %s \"$GITHUB_TOKEN\"",
    ];
    let check = ["check", "--prefix", "INTEGRATION_", "-o", "json"];
    let source = |env: &[(&str, &str)]| -> String {
        let j = run_in(&h, wd.path(), &check, env).ok().json();
        j[0]["source"].as_str().unwrap().to_string()
    };
    h.set("GITHUB_TOKEN_PRIMARY", b"from-the-store");
    assert_eq!(
        run_in(&h, wd.path(), &show, &[]).ok().text(),
        "from-the-store"
    );
    assert_eq!(source(&[]), "store");

    write(wd.path(), ".secrets", "GITHUB_TOKEN=file-by-var\n");
    assert_eq!(run_in(&h, wd.path(), &show, &[]).ok().text(), "file-by-var");
    assert!(
        source(&[]).ends_with(".secrets (GITHUB_TOKEN)"),
        "{}",
        source(&[])
    );

    write(
        wd.path(),
        ".secrets",
        "GITHUB_TOKEN=file-by-var\nGITHUB_TOKEN_PRIMARY=file-by-key\n",
    );
    assert_eq!(run_in(&h, wd.path(), &show, &[]).ok().text(), "file-by-key");

    let by_var = [("INTEGRATION_GITHUB_TOKEN", "env-by-var")];
    assert_eq!(
        run_in(&h, wd.path(), &show, &by_var).ok().text(),
        "env-by-var"
    );
    assert_eq!(source(&by_var), "env INTEGRATION_GITHUB_TOKEN");

    let both = [
        ("INTEGRATION_GITHUB_TOKEN", "env-by-var"),
        ("INTEGRATION_GITHUB_TOKEN_PRIMARY", "env-by-key"),
    ];
    assert_eq!(
        run_in(&h, wd.path(), &show, &both).ok().text(),
        "env-by-key"
    );
    assert_eq!(source(&both), "env INTEGRATION_GITHUB_TOKEN_PRIMARY");
}

/// Regression: `AUTH_SECRET` set in the shell was ignored under `hush run` (Tensorleap). It
/// is used only when asked, after every other source.
#[test]
fn the_declared_variable_itself_only_with_inherit() {
    let h = Home::empty();
    let wd = workdir();
    write(
        wd.path(),
        "hush.toml",
        "app = \"tl\"\n[secrets.AUTH_SECRET]\n",
    );
    let show = ["--", "sh", "-c", "printf %s \"$AUTH_SECRET\""];
    let env = [("AUTH_SECRET", "from-the-shell-1")];

    let refused = run_in(&h, wd.path(), &[&["run"][..], &show].concat(), &env).code(125);
    assert!(
        refused.stderr.contains("--inherit-env"),
        "{}",
        refused.stderr
    );
    assert!(!refused.all().contains("from-the-shell-1"));

    let run = [&["run", "--no-mask", "--inherit-env"][..], &show].concat();
    assert_eq!(
        run_in(&h, wd.path(), &run, &env).ok().text(),
        "from-the-shell-1"
    );
    let j = run_in(
        &h,
        wd.path(),
        &["check", "--inherit-env", "-o", "json"],
        &env,
    )
    .ok()
    .json();
    assert_eq!(j[0]["source"], "env AUTH_SECRET (inherited)");

    // inherit = true in the manifest does the same.
    write(
        wd.path(),
        "hush.toml",
        "app = \"tl\"\ninherit = true\n[secrets.AUTH_SECRET]\n",
    );
    let run = [&["run", "--no-mask"][..], &show].concat();
    assert_eq!(
        run_in(&h, wd.path(), &run, &env).ok().text(),
        "from-the-shell-1"
    );
    // A local source still comes first.
    write(wd.path(), ".secrets", "AUTH_SECRET=from-the-file-2\n");
    assert_eq!(
        run_in(&h, wd.path(), &run, &env).ok().text(),
        "from-the-file-2"
    );
}

/// Regression: the refusal said `githubtoken is missing (no hush store here …)`, naming
/// neither the env vars nor `.secrets`.
#[test]
fn a_refusal_lists_every_place_looked_at() {
    let h = Home::new();
    let wd = workdir();
    write(wd.path(), "hush.toml", TOOLJUMP);
    write(wd.path(), ".secrets", "unrelated=1\n");
    let out = run_in(
        &h,
        wd.path(),
        &["run", "--prefix", "INTEGRATION_", "--", "true"],
        &[],
    )
    .code(125);
    let e = &out.stderr;
    for place in [
        "INTEGRATION_GITHUB_TOKEN_PRIMARY",
        "INTEGRATION_GITHUB_TOKEN ",
        "INTEGRATION_GITHUB_TOKEN_BACKUP",
        "fallback key GITHUB_TOKEN_BACKUP",
        "no line for GITHUB_TOKEN_PRIMARY or GITHUB_TOKEN",
        "no line for GITHUB_TOKEN_BACKUP",
    ] {
        assert!(e.contains(place), "{place}: {e}");
    }
    let secrets = wd.path().canonicalize().unwrap().join(".secrets");
    assert!(
        e.contains(&secrets.display().to_string())
            || e.contains(&wd.path().join(".secrets").display().to_string()),
        "{e}"
    );
    if !on_postgres() {
        assert!(e.contains(&h.db().display().to_string()), "{e}");
    } else {
        assert!(e.contains("postgres://"), "{e}");
        assert!(!e.contains("@"), "no user or password: {e}");
    }
    // hush check says the same.
    let check = run_in(&h, wd.path(), &["check", "--prefix", "INTEGRATION_"], &[]).code(125);
    assert!(
        check.stderr.contains("fallback key GITHUB_TOKEN_BACKUP"),
        "{}",
        check.stderr
    );

    // With no store at all, the store's path is named too.
    let none = Home::empty();
    let out = run_in(&none, wd.path(), &["run", "--", "true"], &[]).code(125);
    if !on_postgres() {
        assert!(
            out.stderr.contains(&none.db().display().to_string()),
            "{}",
            out.stderr
        );
    }
    assert!(
        out.stderr.contains("HUSH_SECRET_GITHUB_TOKEN"),
        "{}",
        out.stderr
    );
}

/// Regression: `hush check --secret githubtoken` was refused.
#[test]
fn check_takes_secret_file_and_env_like_run() {
    let h = Home::new();
    h.run(&["secrets", "set", "only-prd", "--envs", "prd"], Some(b"v"))
        .ok();
    let wd = workdir();
    write(wd.path(), ".secrets", "githubtoken=local\ngcs-key=k\n");
    let j = run_in(
        &h,
        wd.path(),
        &[
            "check",
            "--secret",
            "githubtoken",
            "--file",
            "gcs-key=GCS_KEY_FILE",
            "-o",
            "json",
        ],
        &[],
    )
    .ok()
    .json();
    assert_eq!(j[0]["name"], "githubtoken");
    assert_eq!(j[0]["status"], "ok");
    assert_eq!(j[1]["name"], "GCS_KEY_FILE");
    assert_eq!(j[1]["delivery"], "file");
    let prd = ["check", "--secret", "only-prd=X", "--app", "a"];
    run_in(&h, wd.path(), &[&prd[..], &["--env", "prd"]].concat(), &[]).ok();
    run_in(&h, wd.path(), &[&prd[..], &["--env", "dev"]].concat(), &[]).code(125);
    // Nothing to check is a usage error that says what to give.
    let out = run_in(&h, wd.path(), &["check"], &[]).code(2);
    assert!(out.stderr.contains("--secret"), "{}", out.stderr);
}

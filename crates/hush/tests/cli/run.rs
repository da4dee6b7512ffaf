//! `hush run`, `hush check` and `hush apps` driven through the real binary: declared secrets
//! only, the source order, refusals before start, private files, exit codes and signals, and
//! output masking.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{audit_part, audit_parts, contains, Home, Out};

/// A working directory for the workload, beside a home.
fn workdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// `hush ARGS` run in `cwd`.
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

#[test]
fn only_declared_secrets_reach_the_command_and_hush_credentials_never_do() {
    let h = Home::new();
    h.set("alpha", b"VALUE-ALPHA-1234");
    h.set("beta", b"VALUE-BETA-5678");
    let wd = workdir();
    let out = run_in(
        &h,
        wd.path(),
        &["run", "--no-mask", "--secret", "alpha=ALPHA", "--", "env"],
        &[
            ("HUSH_SECRET_gamma", "VALUE-GAMMA-9999"),
            ("HUSH_TOKEN", "hush_notarealtokenbutlookslikeone"),
            ("HUSH_KEY_FILE", h.path().join("root.key").to_str().unwrap()),
        ],
    )
    .ok();
    let env = out.text();
    assert!(env.lines().any(|l| l == "ALPHA=VALUE-ALPHA-1234"), "{env}");
    for absent in [
        "VALUE-BETA-5678",
        "beta",
        "VALUE-GAMMA-9999",
        "HUSH_SECRET_gamma",
        "HUSH_TOKEN",
        "hush_notarealtoken",
    ] {
        assert!(
            !env.contains(absent),
            "{absent} reached the command:\n{env}"
        );
    }
    assert!(env.contains("HUSH_SECRETS_DIR="), "{env}");
    assert!(
        env.contains(r#"HUSH_SECRETS_MAP={"alpha":{"env":"ALPHA"}}"#),
        "{env}"
    );

    // A passphrase-keyed store: the passphrase never reaches the command either.
    let p = Home::empty().with_env("HUSH_PASSPHRASE", "a passphrase that must not leak");
    p.run(&["init"], None).ok();
    p.set("alpha", b"VALUE-ALPHA-1234");
    let env = run_in(
        &p,
        wd.path(),
        &["run", "--no-mask", "--secret", "alpha", "--", "env"],
        &[],
    )
    .ok()
    .text();
    assert!(env.contains("alpha=VALUE-ALPHA-1234"), "{env}");
    assert!(!env.contains("HUSH_PASSPHRASE"), "{env}");
    assert!(!env.contains("a passphrase that must not leak"), "{env}");
}

#[test]
fn without_declarations_every_readable_secret_is_injected_under_its_key() {
    let h = Home::new();
    h.set("API_KEY", b"value-api-key-1");
    h.set("not-an-env-name", b"value-skipped-2");
    h.run(
        &["secrets", "set", "OTHER_ENV", "--envs", "dev"],
        Some(b"value-dev-3"),
    )
    .ok();
    let wd = workdir();
    let out = run_in(
        &h,
        wd.path(),
        &["run", "--no-mask", "--env", "prd", "--", "env"],
        &[],
    )
    .ok();
    let env = out.text();
    assert!(env.contains("API_KEY=value-api-key-1"), "{env}");
    assert!(!env.contains("value-skipped-2"), "{env}");
    assert!(
        !env.contains("value-dev-3"),
        "a dev-only secret reached prd:\n{env}"
    );
    assert!(out.stderr.contains("not-an-env-name"), "{}", out.stderr);
}

#[test]
fn sources_first_match_wins_env_then_secrets_file_then_store() {
    let h = Home::new();
    h.set("k", b"from-the-store-1");
    let wd = workdir();
    let show = [
        "run",
        "--no-mask",
        "--secret",
        "k=K",
        "--",
        "sh",
        "-c",
        "printf %s \"$K\"",
    ];
    assert_eq!(
        run_in(&h, wd.path(), &show, &[]).ok().text(),
        "from-the-store-1"
    );
    write(
        wd.path(),
        ".secrets",
        "# a comment\nother=1\nk=\"from the file\\nsecond line\"\n",
    );
    assert_eq!(
        run_in(&h, wd.path(), &show, &[]).ok().text(),
        "from the file\nsecond line"
    );
    assert_eq!(
        run_in(&h, wd.path(), &show, &[("HUSH_SECRET_k", "from-env-3")])
            .ok()
            .text(),
        "from-env-3"
    );
    // The prefix is configurable, by flag and by env var (mini-loader's ML_S_).
    let mut with_prefix = vec!["run", "--prefix", "ML_S_"];
    with_prefix.extend_from_slice(&show[1..]);
    assert_eq!(
        run_in(
            &h,
            wd.path(),
            &with_prefix,
            &[("ML_S_k", "from-ml-4"), ("HUSH_SECRET_k", "no")]
        )
        .ok()
        .text(),
        "from-ml-4"
    );
    assert_eq!(
        run_in(
            &h,
            wd.path(),
            &show,
            &[
                ("HUSH_SECRET_PREFIX", "INTEGRATION_"),
                ("INTEGRATION_k", "from-tj-5")
            ]
        )
        .ok()
        .text(),
        "from-tj-5"
    );
    // --secrets-file replaces ./.secrets.
    write(wd.path(), "alt.env", "k=from-alt-6\n");
    let mut alt = vec!["run", "--secrets-file", "alt.env"];
    alt.extend_from_slice(&show[1..]);
    assert_eq!(run_in(&h, wd.path(), &alt, &[]).ok().text(), "from-alt-6");
    let mut gone = vec!["run", "--secrets-file", "missing.env"];
    gone.extend_from_slice(&show[1..]);
    run_in(&h, wd.path(), &gone, &[]).code(2);
}

#[test]
fn local_development_needs_no_store() {
    let h = Home::empty();
    let wd = workdir();
    write(wd.path(), ".secrets", "githubtoken=ghp_local_dev_value\n");
    let out = run_in(
        &h,
        wd.path(),
        &[
            "run",
            "--no-mask",
            "--secret",
            "githubtoken=GITHUB_TOKEN",
            "--",
            "sh",
            "-c",
            "printf %s \"$GITHUB_TOKEN\"",
        ],
        &[],
    )
    .ok();
    assert_eq!(out.text(), "ghp_local_dev_value");
    assert!(!h.db().exists(), "a run must not create a store");
    // A key found nowhere is refused, saying where hush looked.
    let out = run_in(
        &h,
        wd.path(),
        &["run", "--secret", "nope=X", "--", "true"],
        &[],
    )
    .code(125);
    assert!(out.stderr.contains("hush init"), "{}", out.stderr);
}

const TOOLJUMP: &str = r#"
app = "tooljump"
env = "prd"

[secrets.GITHUB_TOKEN]
key = "gh-primary"
fallback = ["gh-backup"]

[secrets.SLACK_TOKEN]
key = "slack"

[secrets.OPTIONAL_THING]
key = "optional-thing"
required = false
"#;

#[test]
fn a_missing_required_secret_means_the_command_never_starts() {
    let h = Home::new();
    h.set("gh-primary", b"primary-token-1");
    let wd = workdir();
    write(wd.path(), "hush.toml", TOOLJUMP);
    let out = run_in(&h, wd.path(), &["run", "--", "touch", "started"], &[]).code(125);
    assert!(!wd.path().join("started").exists(), "the command ran");
    assert!(out.stderr.contains("SLACK_TOKEN"), "{}", out.stderr);
    assert!(out.stderr.contains("slack is missing"), "{}", out.stderr);
    assert!(!out.stderr.contains("primary-token-1"));

    // Revoked and expired are refusals too, each named with its reason.
    h.set("slack", b"slack-token-2");
    h.run(&["secrets", "revoke", "slack"], None).ok();
    let out = run_in(&h, wd.path(), &["run", "--", "touch", "started"], &[]).code(125);
    assert!(out.stderr.contains("slack is revoked"), "{}", out.stderr);
    h.run(&["secrets", "restore", "slack"], None).ok();
    h.run(
        &[
            "secrets",
            "update",
            "slack",
            "--expires",
            "2020-01-01T00:00:00Z",
            "--allow-past",
        ],
        None,
    )
    .ok();
    let out = run_in(&h, wd.path(), &["run", "--", "touch", "started"], &[]).code(125);
    assert!(out.stderr.contains("slack is expired"), "{}", out.stderr);
    assert!(!wd.path().join("started").exists());

    // An optional secret only warns.
    h.run(&["secrets", "update", "slack", "--expires", "never"], None)
        .ok();
    let out = run_in(&h, wd.path(), &["run", "--", "touch", "started"], &[]).ok();
    assert!(wd.path().join("started").exists());
    assert!(out.stderr.contains("warning"), "{}", out.stderr);
    assert!(out.stderr.contains("OPTIONAL_THING"), "{}", out.stderr);
}

#[test]
fn fallbacks_are_tried_in_order_when_missing_revoked_or_expired() {
    let h = Home::new();
    h.set("slack", b"slack-token");
    h.set("gh-backup", b"backup-token-2");
    let wd = workdir();
    write(wd.path(), "hush.toml", TOOLJUMP);
    let show = [
        "run",
        "--no-mask",
        "--",
        "sh",
        "-c",
        "printf %s \"$GITHUB_TOKEN\"",
    ];
    assert_eq!(
        run_in(&h, wd.path(), &show, &[]).ok().text(),
        "backup-token-2"
    );
    h.set("gh-primary", b"primary-token-1");
    assert_eq!(
        run_in(&h, wd.path(), &show, &[]).ok().text(),
        "primary-token-1"
    );
    h.run(&["secrets", "revoke", "gh-primary"], None).ok();
    assert_eq!(
        run_in(&h, wd.path(), &show, &[]).ok().text(),
        "backup-token-2"
    );
    // Out of scope is not a reason to fall back: it is a configuration error.
    h.run(&["secrets", "restore", "gh-primary"], None).ok();
    h.run(
        &["secrets", "update", "gh-primary", "--scope", "another-app"],
        None,
    )
    .ok();
    let out = run_in(&h, wd.path(), &show, &[]).code(125);
    assert!(out.stderr.contains("out of scope"), "{}", out.stderr);
}

/// Prints the token, then the map, one a line.
const TOKEN_AND_MAP: &[&str] = &[
    "run",
    "--no-mask",
    "--",
    "sh",
    "-c",
    "printf '%s\\n%s\\n' \"$GITHUB_TOKEN\" \"$HUSH_SECRETS_MAP\"",
];

/// The token a run printed, and its `HUSH_SECRETS_MAP` entry for `key`.
fn token_and_map(out: &Out, key: &str) -> (String, serde_json::Value) {
    let text = out.text();
    let mut lines = text.lines();
    let token = lines.next().unwrap_or_default().to_string();
    let map: serde_json::Value = serde_json::from_str(lines.next().unwrap_or_default()).unwrap();
    (token, map[key].clone())
}

/// Issue 17: a switch from a declaration's key to a fallback is said out loud — a notice on
/// stderr naming the key served and the key skipped with its reason, the audit row of the read,
/// `HUSH_SECRETS_MAP`'s `served_by`, and the app's last read (apps show, used_by) of the
/// fallback. No value anywhere but in the command.
#[test]
fn a_switch_to_a_fallback_is_said_on_stderr_in_the_map_the_audit_row_and_the_apps_read() {
    let h = Home::new();
    h.set("gh-primary", b"primary-token-1");
    h.set("gh-backup", b"backup-token-2");
    h.set("slack", b"slack-token-3");
    let wd = workdir();
    write(wd.path(), "hush.toml", TOOLJUMP);
    let manifest = wd.path().join("hush.toml");
    h.run(&["apps", "register", manifest.to_str().unwrap()], None)
        .ok();

    // The primary serves: nothing to say.
    let out = run_in(&h, wd.path(), TOKEN_AND_MAP, &[]).ok();
    let (token, entry) = token_and_map(&out, "gh-primary");
    assert_eq!(token, "primary-token-1");
    assert_eq!(entry, serde_json::json!({"env": "GITHUB_TOKEN"}));
    assert!(!out.stderr.contains("served by"), "{}", out.stderr);

    h.run(&["secrets", "revoke", "gh-primary"], None).ok();
    let out = run_in(&h, wd.path(), TOKEN_AND_MAP, &[]).ok();
    let (token, entry) = token_and_map(&out, "gh-primary");
    assert_eq!(token, "backup-token-2");
    assert_eq!(
        entry,
        serde_json::json!({"env": "GITHUB_TOKEN", "served_by": "gh-backup"})
    );
    assert!(
        out.stderr
            .contains("hush: GITHUB_TOKEN: served by gh-backup (gh-primary skipped: revoked)"),
        "{}",
        out.stderr
    );

    // The audit: the primary's refusal, then the backup's read naming the switch.
    let rows = h.run(&["audit", "-o", "json"], None).ok().json();
    let last = rows.as_array().unwrap().last().unwrap();
    assert_eq!(
        last["action"], "secret.read",
        "one row for the whole run: {last}"
    );
    let read = audit_part(last, "gh-backup").unwrap();
    assert_eq!(read["outcome"], "ok");
    assert_eq!(
        read["detail"], "served by gh-backup; skipped gh-primary (revoked)",
        "{read}"
    );
    let refused = audit_part(last, "gh-primary").unwrap();
    assert_eq!(refused["outcome"], "revoked", "{refused}");
    let table = h.run(&["audit", "--key", "gh-backup"], None).ok().text();
    assert!(table.contains("skipped gh-primary (revoked)"), "{table}");

    // The app's read is the backup's: in apps show and in the backup's used_by.
    let app = h
        .run(&["apps", "show", "tooljump", "-o", "json"], None)
        .ok()
        .json();
    let backup = app["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == "gh-backup")
        .unwrap()
        .clone();
    assert!(backup["last_read_at"].is_string(), "{app}");
    assert_eq!(backup["env"], "prd", "{app}");
    let table = h.run(&["apps", "show", "tooljump"], None).ok().text();
    let line = table
        .lines()
        .find(|l| l.starts_with("GITHUB_TOKEN"))
        .unwrap_or_default();
    assert!(line.contains("(gh-backup)"), "{table}");
    let shown = h.show_json("gh-backup");
    assert_eq!(shown["used_by"][0]["app"], "tooljump");
    assert!(shown["used_by"][0]["last_read_at"].is_string(), "{shown}");

    // A fallback found in a local source is said too, and the store is not asked for it.
    let backup_rows = |h: &Home| {
        let rows = h
            .run(&["audit", "--key", "gh-backup", "-o", "json"], None)
            .ok()
            .json();
        rows.as_array().unwrap().len()
    };
    let before = backup_rows(&h);
    let out = run_in(
        &h,
        wd.path(),
        TOKEN_AND_MAP,
        &[("HUSH_SECRET_gh-backup", "local-backup-4")],
    )
    .ok();
    assert_eq!(token_and_map(&out, "gh-primary").0, "local-backup-4");
    assert!(
        out.stderr
            .contains("GITHUB_TOKEN: served by gh-backup (gh-primary skipped: revoked)"),
        "{}",
        out.stderr
    );
    assert_eq!(backup_rows(&h), before);

    // No value in hush's own output, the audit log or the app.
    let audit = h.run(&["audit", "-o", "json"], None).ok().stdout;
    for v in ["primary-token-1", "backup-token-2", "slack-token-3"] {
        assert!(!out.stderr.contains(v), "{v} on stderr");
        assert!(!contains(&audit, v.as_bytes()), "{v} in the audit log");
    }
}

#[test]
fn files_are_private_and_removed_when_the_command_ends() {
    let h = Home::new();
    h.set(
        "gcp-json",
        br#"{"type":"service_account","private_key":"k-123456"}"#,
    );
    let wd = workdir();
    let script = r#"stat -c '%a' "$KEY_FILE" "$HUSH_SECRETS_DIR"; printf '%s' "$HUSH_SECRETS_DIR" > dir.txt; cat "$KEY_FILE" > copy.json"#;
    run_in(
        &h,
        wd.path(),
        &[
            "run",
            "--no-mask",
            "--file",
            "gcp-json=KEY_FILE",
            "--",
            "sh",
            "-c",
            script,
        ],
        &[],
    )
    .ok()
    .text()
    .lines()
    .zip(["600", "700"])
    .for_each(|(got, want)| assert_eq!(got, want));
    let dir = std::fs::read_to_string(wd.path().join("dir.txt")).unwrap();
    assert!(!dir.is_empty());
    if Path::new("/dev/shm").is_dir() {
        assert!(dir.starts_with("/dev/shm/"), "{dir}");
    }
    assert!(!Path::new(&dir).exists(), "{dir} is still there");
    assert_eq!(
        std::fs::read(wd.path().join("copy.json")).unwrap(),
        br#"{"type":"service_account","private_key":"k-123456"}"#
    );
}

/// Starts `hush run` in the background; waits for `dir.txt` the command writes.
fn start_background(h: &Home, wd: &Path, script: &str) -> (std::process::Child, String) {
    let mut c = h.command(&[
        "run",
        "--file",
        "gcp-json=KEY_FILE",
        "--",
        "sh",
        "-c",
        script,
    ]);
    c.current_dir(wd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = c.spawn().unwrap();
    let marker = wd.join("dir.txt");
    let start = Instant::now();
    while !marker.exists() || std::fs::read_to_string(&marker).unwrap().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the command never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    let dir = std::fs::read_to_string(&marker).unwrap();
    (child, dir)
}

fn sigterm(pid: u32) {
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[test]
fn sigterm_to_hush_is_forwarded_and_the_files_are_removed() {
    let h = Home::new();
    h.set("gcp-json", b"file-value-123456");
    let wd = workdir();
    // The command traps TERM: its own exit code comes back, proving the signal reached it.
    let (mut child, dir) = start_background(
        &h,
        wd.path(),
        r#"trap 'echo got-term > term.txt; exit 9' TERM; printf '%s' "$HUSH_SECRETS_DIR" > dir.txt; sleep 30 & wait"#,
    );
    assert!(Path::new(&dir).join("gcp-json").exists());
    sigterm(child.id());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(9));
    assert!(wd.path().join("term.txt").exists());
    assert!(!Path::new(&dir).exists(), "{dir} survived SIGTERM");

    // A command killed by the signal: hush exits 128+15.
    std::fs::remove_file(wd.path().join("dir.txt")).unwrap();
    let (mut child, dir) = start_background(
        &h,
        wd.path(),
        r#"printf '%s' "$HUSH_SECRETS_DIR" > dir.txt; exec sleep 30"#,
    );
    sigterm(child.id());
    assert_eq!(child.wait().unwrap().code(), Some(143));
    assert!(!Path::new(&dir).exists(), "{dir} survived SIGTERM");
}

#[test]
fn exit_codes_come_through() {
    let h = Home::new();
    let wd = workdir();
    let run = |args: &[&str]| {
        let mut a = vec!["run", "--"];
        a.extend_from_slice(args);
        run_in(&h, wd.path(), &a, &[])
    };
    run(&["sh", "-c", "exit 7"]).code(7);
    run(&["sh", "-c", "exit 0"]).ok();
    run(&["sh", "-c", "kill -KILL $$"]).code(137);
    let out = run(&["no-such-command-hush-test"]).code(127);
    assert!(out.stderr.contains("not found"), "{}", out.stderr);
    write(wd.path(), "not-exec.sh", "#!/bin/sh\necho hi\n");
    let path = wd.path().join("not-exec.sh");
    run(&[path.to_str().unwrap()]).code(126);
    // stdin reaches the command.
    let mut c = h.command(&["run", "--", "cat"]);
    c.current_dir(wd.path());
    assert_eq!(h.run_with(c, Some(b"piped in")).ok().text(), "piped in");
}

#[test]
fn values_never_reach_hush_output_in_any_form() {
    let h = Home::new();
    let value = r#"s3cr3t/Value+with"quote\and&amp-x_y.z~ "#;
    h.set("tok", value.as_bytes());
    h.set(
        "creds",
        br#"{"type":"service_account","private_key":"PRIVATE-KEY-abcdef","n":1,"t":"ab"}"#,
    );
    let wd = workdir();
    let script = r#"
printf '%s\n' "$TOK"
printf '%s' "$TOK" | head -c 7; sleep 0.2; printf '%s\n' "$TOK" | tail -c +8
printf '%s' "$TOK" | base64 -w0; echo
printf '%s' "$TOK" | base64 -w0 | tr '+/' '-_' | tr -d '='; echo
python3 -c 'import os,urllib.parse; print(urllib.parse.quote(os.environ["TOK"], safe=""))'
python3 -c 'import os,urllib.parse; print(urllib.parse.quote(os.environ["TOK"]))'
python3 -c 'import os,urllib.parse; print(urllib.parse.quote_plus(os.environ["TOK"]))'
python3 -c 'import os,re,urllib.parse; print(re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), urllib.parse.quote(os.environ["TOK"], safe="")))'
python3 -c 'import os,json; print(json.dumps({"v": os.environ["TOK"].strip()}))'
python3 -c 'import os,json; print(json.dumps({"v": os.environ["TOK"]}))'
python3 -c 'import os,json; print(json.loads(os.environ["CREDS"])["private_key"])'
printf '%s\n' "$TOK" >&2
echo done
"#;
    let out = run_in(
        &h,
        wd.path(),
        &[
            "run",
            "--secret",
            "tok=TOK",
            "--secret",
            "creds=CREDS",
            "--",
            "sh",
            "-c",
            script,
        ],
        &[],
    )
    .ok();
    let all = out.all();
    let forms = [
        value.to_string(),
        "s3cr3t/".to_string() + "Value+",
        base64_std(value.as_bytes()),
        base64_std(value.as_bytes())
            .replace('+', "-")
            .replace('/', "_")
            .trim_end_matches('=')
            .to_string(),
        "s3cr3t%2FValue%2Bwith%22quote%5Cand%26amp-x_y.z~%20".to_string(),
        "s3cr3t/Value%2Bwith%22quote%5Cand%26amp-x_y.z~%20".to_string(),
        "s3cr3t%2FValue%2Bwith%22quote%5Cand%26amp-x_y.z~+".to_string(),
        "s3cr3t%2fValue%2bwith%22quote%5cand%26amp-x_y.z~%20".to_string(),
        r#"s3cr3t/Value+with\"quote\\and&amp-x_y.z~"#.to_string(),
        "Value+with".to_string(),
        "PRIVATE-KEY-abcdef".to_string(),
    ];
    for f in &forms {
        assert!(!all.contains(f.as_str()), "{f} leaked:\n{all}");
    }
    assert!(out.text().contains("***"), "{}", out.text());
    assert!(out.stderr.contains("***"), "{}", out.stderr);
    assert!(out.text().ends_with("done\n"), "{}", out.text());
    // A 2-character JSON field is below the masking floor; the warning is about short values.
    assert!(out.text().contains("ab") || !out.text().contains("\"t\""));

    // --no-mask hands the output straight through.
    let out = run_in(
        &h,
        wd.path(),
        &[
            "run",
            "--no-mask",
            "--secret",
            "tok=TOK",
            "--",
            "sh",
            "-c",
            "printf '%s' \"$TOK\"",
        ],
        &[],
    )
    .ok();
    assert_eq!(out.text(), value);
}

fn base64_std(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn short_values_are_not_masked_and_say_so() {
    let h = Home::new();
    h.set("pin", b"123");
    let wd = workdir();
    let out = run_in(
        &h,
        wd.path(),
        &["run", "--secret", "pin=PIN", "--", "sh", "-c", "echo $PIN"],
        &[],
    )
    .ok();
    assert!(
        out.stderr.contains("shorter than 4 bytes"),
        "{}",
        out.stderr
    );
    assert_eq!(out.text(), "123\n");
}

#[test]
fn manifest_errors_name_the_line() {
    let h = Home::new();
    let wd = workdir();
    write(
        wd.path(),
        "hush.toml",
        "app = \"a\"\n\n[secrets.X]\nkey = \"x\"\nrequierd = true\n",
    );
    let out = run_in(&h, wd.path(), &["run", "--", "true"], &[]).code(2);
    assert!(out.stderr.contains("hush.toml line 5"), "{}", out.stderr);
    assert!(out.stderr.contains("requierd"), "{}", out.stderr);
    write(
        wd.path(),
        "bad.toml",
        "app = \"a\"\n[secrets.\"MY-VAR\"]\nkey = \"x\"\n",
    );
    let out = run_in(&h, wd.path(), &["check", "--manifest", "bad.toml"], &[]).code(2);
    assert!(out.stderr.contains("bad.toml line 2"), "{}", out.stderr);
    assert!(
        out.stderr.contains("environment variable name"),
        "{}",
        out.stderr
    );
    std::fs::remove_file(wd.path().join("hush.toml")).unwrap();
    let out = run_in(
        &h,
        wd.path(),
        &["run", "--secret", "my-key", "--", "true"],
        &[],
    )
    .code(2);
    assert!(
        out.stderr.contains("--secret my-key=NAME"),
        "{}",
        out.stderr
    );
}

#[test]
fn check_reports_each_status_and_source_never_a_value() {
    let h = Home::new();
    h.set("ok-key", b"value-ok-1111");
    h.run(
        &["secrets", "set", "soon", "--expires", "3d"],
        Some(b"value-soon-2222"),
    )
    .ok();
    h.run(
        &[
            "secrets",
            "set",
            "old",
            "--expires",
            "2020-01-01T00:00:00Z",
            "--allow-past",
        ],
        Some(b"value-old-3333"),
    )
    .ok();
    h.set("gone", b"value-gone-4444");
    h.run(&["secrets", "revoke", "gone"], None).ok();
    h.run(
        &["secrets", "set", "theirs", "--scope", "billing"],
        Some(b"value-theirs-5555"),
    )
    .ok();
    let wd = workdir();
    write(
        wd.path(),
        "hush.toml",
        r#"app = "ingest"
env = "prd"
[secrets.OK]
key = "ok-key"
[secrets.SOON]
key = "soon"
[secrets.OLD]
key = "old"
[secrets.GONE]
key = "gone"
[secrets.THEIRS]
key = "theirs"
[secrets.NOWHERE]
key = "nowhere"
[secrets.LOCAL]
key = "local-one"
"#,
    );
    let out = run_in(
        &h,
        wd.path(),
        &["check", "-o", "json"],
        &[("HUSH_SECRET_local-one", "value-local-6666")],
    )
    .code(125);
    assert!(
        !out.all().contains("value-"),
        "a value leaked: {}",
        out.all()
    );
    let rows = out.json();
    let status = |name: &str| -> (String, String) {
        let r = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap();
        (
            r["status"].as_str().unwrap().to_string(),
            r["source"].as_str().unwrap_or("-").to_string(),
        )
    };
    assert_eq!(status("OK"), ("ok".into(), "store".into()));
    assert_eq!(status("SOON").0, "expiring");
    assert_eq!(status("OLD").0, "expired");
    assert_eq!(status("GONE").0, "revoked");
    assert_eq!(status("THEIRS").0, "out_of_scope");
    assert_eq!(status("NOWHERE").0, "missing");
    assert_eq!(
        status("LOCAL"),
        ("ok".into(), "env HUSH_SECRET_local-one".into())
    );
    // A check reads no value: nothing in the audit log says so.
    let audit = h.run(&["audit", "-o", "json"], None).ok().json();
    assert!(
        !audit
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == "secret.read"),
        "{audit}"
    );
    // The table, and exit 0 when every required secret is usable.
    write(
        wd.path(),
        "hush.toml",
        "app = \"ingest\"\n[secrets.OK]\nkey = \"ok-key\"\n[secrets.SOON]\nkey = \"soon\"\n[secrets.N]\nkey = \"nowhere\"\nrequired = false\n",
    );
    let out = run_in(&h, wd.path(), &["check"], &[]).ok();
    let t = out.text();
    assert!(t.starts_with("NAME"), "{t}");
    assert!(t.contains("expiring"), "{t}");
    assert!(t.contains("missing"), "{t}");
    run_in(&h, wd.path(), &["check", "--manifest", "nope.toml"], &[]).code(2);
}

#[test]
fn registered_apps_protect_their_secrets_from_delete() {
    let h = Home::new();
    h.set("gh-primary", b"v1-primary");
    h.set("gh-backup", b"v1-backup");
    h.set("slack", b"v1-slack");
    h.set("free", b"v1-free");
    let wd = workdir();
    write(wd.path(), "hush.toml", TOOLJUMP);
    let manifest = wd.path().join("hush.toml");
    h.run(&["apps", "register", manifest.to_str().unwrap()], None)
        .ok();
    let list = h.run(&["apps", "list", "-o", "json"], None).ok().json();
    assert_eq!(list[0]["app"], "tooljump");
    assert_eq!(list[0]["env"], "prd");

    // In use, fallbacks included: refused with exit 4 naming the app; nothing deleted.
    for key in ["gh-primary", "gh-backup"] {
        let out = h.run(&["secrets", "delete", key], None).code(4);
        assert!(out.stderr.contains("tooljump"), "{}", out.stderr);
        assert!(out.stderr.contains("--force"), "{}", out.stderr);
        assert_eq!(h.get(key), format!("v1-{}", &key[3..]).into_bytes());
    }
    h.run(&["secrets", "delete", "free"], None).ok();

    // show and list carry used_by with the app's last read, set by a run.
    let shown = h.show_json("slack");
    assert_eq!(shown["used_by"][0]["app"], "tooljump");
    assert!(shown["used_by"][0]["last_read_at"].is_null());
    assert!(shown["used_by"][0]["env"].is_null(), "{shown}");
    run_in(&h, wd.path(), &["run", "--", "true"], &[]).ok();
    let shown = h.show_json("slack");
    assert!(shown["used_by"][0]["last_read_at"].is_string(), "{shown}");
    // The manifest's environment, though prd has no value of its own (the shared one was read).
    assert_eq!(shown["used_by"][0]["env"], "prd", "{shown}");
    let table = h.run(&["secrets", "show", "slack"], None).ok().text();
    assert!(
        table.contains("used by      tooljump (last read ") && table.contains(" in prd)"),
        "{table}"
    );
    let listed = h.run(&["secrets", "list", "-o", "json"], None).ok().json();
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "gh-primary")
        .unwrap()
        .clone();
    assert_eq!(row["used_by"][0]["app"], "tooljump");
    let app = h
        .run(&["apps", "show", "tooljump", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(app["secrets"][0]["name"], "GITHUB_TOKEN");
    assert_eq!(app["secrets"][0]["fallback"][0], "gh-backup");
    let table = h.run(&["apps", "show", "tooljump"], None).ok().text();
    assert!(table.contains("GITHUB_TOKEN"), "{table}");
    assert!(table.contains("READ IN"), "{table}");
    let slack = table
        .lines()
        .find(|l| l.contains("slack"))
        .unwrap_or_default();
    assert!(slack.trim_end().ends_with("prd"), "{table}");

    // --force deletes; unregistering frees the rest.
    h.run(&["secrets", "delete", "gh-primary", "--force"], None)
        .ok();
    h.run(&["secrets", "get", "gh-primary"], None).code(3);
    h.run(&["apps", "delete", "tooljump"], None).ok();
    h.run(&["apps", "show", "tooljump"], None).code(3);
    h.run(&["secrets", "delete", "slack"], None).ok();
    assert!(!contains(
        &h.run(&["apps", "list"], None).ok().stdout,
        b"tooljump"
    ));
}

#[test]
fn a_workload_on_another_host_resolves_through_the_server_with_a_machine_token() {
    use crate::server::Server;
    use serde_json::json;

    let s = Server::start();
    s.put("githubtoken", json!({"value": "ghp_server_value_1"}));
    s.put("other", json!({"value": "other-value-2"}));
    s.put(
        "gcp-json",
        json!({"value": "{\"private_key\":\"pk-server-3\"}"}),
    );
    let h = Home::empty();
    let wd = workdir();
    write(
        wd.path(),
        "hush.toml",
        "app = \"github-stats\"\nenv = \"prd\"\n[secrets.GITHUB_TOKEN]\nkey = \"githubtoken\"\n[secrets.GCP]\nkey = \"gcp-json\"\nas = \"file\"\n",
    );
    let admin = [
        ("HUSH_ADDR", s.base.as_str()),
        ("HUSH_TOKEN", s.admin.as_str()),
    ];
    run_in(&h, wd.path(), &["apps", "register"], &admin).ok();
    let m = s.token(json!({"app": "github-stats", "env": "prd"}));
    let machine = [("HUSH_ADDR", s.base.as_str()), ("HUSH_TOKEN", m.as_str())];
    let out = run_in(
        &h,
        wd.path(),
        &["run", "--no-mask", "--", "sh", "-c", "printf '%s|' \"$GITHUB_TOKEN\"; cat \"$GCP\"; env | grep HUSH_TOKEN || echo '|no-token'"],
        &machine,
    )
    .ok();
    assert_eq!(
        out.text(),
        "ghp_server_value_1|{\"private_key\":\"pk-server-3\"}|no-token\n"
    );
    assert!(
        !h.db().exists(),
        "a remote run must not create a local store"
    );
    // One resolve call: one read row per key, with the app's last read recorded.
    let (_, audit) = s.call("GET", "/v1/audit?key=githubtoken", &s.admin, None);
    let reads = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "secret.read")
        .count();
    assert_eq!(reads, 1, "{audit}");
    let (_, app) = s.call("GET", "/v1/apps/github-stats", &s.admin, None);
    let key = app["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == "githubtoken")
        .unwrap()
        .clone();
    assert!(key["last_read_at"].is_string(), "{app}");

    // A key the manifest does not name is out of the machine token's reach.
    let out = run_in(
        &h,
        wd.path(),
        &["run", "--secret", "other=OTHER", "--", "touch", "started"],
        &machine,
    )
    .code(125);
    assert!(out.stderr.contains("out of scope"), "{}", out.stderr);
    assert!(!wd.path().join("started").exists());
    // A run in another environment than the token's: not started, each key named, 125.
    let out = run_in(
        &h,
        wd.path(),
        &["run", "--env", "stg", "--", "touch", "started"],
        &machine,
    )
    .code(125);
    assert!(out.stderr.contains("GITHUB_TOKEN"), "{}", out.stderr);
    assert!(out.stderr.contains("out of scope"), "{}", out.stderr);
    let out = run_in(&h, wd.path(), &["check", "-o", "json"], &machine).ok();
    assert_eq!(out.json()[0]["source"], "server");

    // In use: the API refuses the delete with 409 naming the app, unless forced.
    let (st, body) = s.call("DELETE", "/v1/secrets/githubtoken", &s.admin, None);
    assert_eq!(st, 409, "{body}");
    assert_eq!(body["error"]["code"], "in_use");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("github-stats"));
    let out = run_in(&h, wd.path(), &["secrets", "delete", "githubtoken"], &admin).code(4);
    assert!(out.stderr.contains("github-stats"), "{}", out.stderr);
    let (st, _) = s.call(
        "DELETE",
        "/v1/secrets/githubtoken?force=true",
        &s.admin,
        None,
    );
    assert_eq!(st, 204);

    // The SDK gives workload code the same answer against the server.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let env: std::collections::HashMap<String, String> = [
        ("HUSH_ADDR", s.base.as_str()),
        ("HUSH_TOKEN", m.as_str()),
        ("HUSH_APP", "github-stats"),
        ("HUSH_ENV", "prd"),
        // The SDK's fallback snapshot goes here, not into the tester's home.
        ("HUSH_HOME", wd.path().to_str().unwrap()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let sources = hush_client::secrets::Sources::new(env, wd.path().to_path_buf());
    let v = rt.block_on(sources.get("gcp-json")).unwrap();
    assert_eq!(v.expose_str().unwrap(), "{\"private_key\":\"pk-server-3\"}");
    let path = rt.block_on(sources.file("gcp-json")).unwrap();
    assert_eq!(
        std::fs::read_to_string(path).unwrap(),
        "{\"private_key\":\"pk-server-3\"}"
    );
}

/// Issue 17, against a server with a machine token: the server follows the fallback in the
/// same call, so its audit row and the app's read name the backup; the run says so.
#[test]
fn against_a_server_the_switch_to_a_fallback_is_said_and_recorded_by_the_server() {
    use crate::server::Server;
    use serde_json::json;

    let s = Server::start();
    s.put("gh-primary", json!({"value": "primary-token-1"}));
    s.put("gh-backup", json!({"value": "backup-token-2"}));
    s.put("slack", json!({"value": "slack-token-3"}));
    let h = Home::empty();
    let wd = workdir();
    write(wd.path(), "hush.toml", TOOLJUMP);
    let admin = [
        ("HUSH_ADDR", s.base.as_str()),
        ("HUSH_TOKEN", s.admin.as_str()),
    ];
    run_in(&h, wd.path(), &["apps", "register"], &admin).ok();
    let m = s.token(json!({"app": "tooljump", "env": "prd"}));
    let machine = [("HUSH_ADDR", s.base.as_str()), ("HUSH_TOKEN", m.as_str())];

    let (st, _) = s.call("POST", "/v1/secrets/gh-primary/revoke", &s.admin, None);
    assert_eq!(st, 200);
    let out = run_in(&h, wd.path(), TOKEN_AND_MAP, &machine).ok();
    let (token, entry) = token_and_map(&out, "gh-primary");
    assert_eq!(token, "backup-token-2");
    assert_eq!(entry["served_by"], "gh-backup", "{entry}");
    assert!(
        out.stderr
            .contains("hush: GITHUB_TOKEN: served by gh-backup (gh-primary skipped: revoked)"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("token-"), "{}", out.stderr);

    // The server's audit row of the read names the switch; the primary's refusal has its own.
    let (_, audit) = s.call("GET", "/v1/audit?key=gh-backup", &s.admin, None);
    let reads: Vec<_> = audit_parts(&audit["items"], "gh-backup")
        .into_iter()
        .filter(|r| r["action"] == "secret.read")
        .collect();
    assert_eq!(reads.len(), 1, "{audit}");
    assert_eq!(
        reads[0]["detail"], "served by gh-backup; skipped gh-primary (revoked)",
        "{audit}"
    );
    assert_eq!(
        reads[0]["actor_name"], "tooljump-prd",
        "the machine token's read"
    );
    let (_, audit) = s.call("GET", "/v1/audit?key=gh-primary", &s.admin, None);
    assert!(
        audit_parts(&audit["items"], "gh-primary")
            .iter()
            .any(|r| r["action"] == "secret.read" && r["outcome"] == "revoked"),
        "{audit}"
    );

    // The app's read is the backup's, not the primary's.
    let (_, app) = s.call("GET", "/v1/apps/tooljump", &s.admin, None);
    let read = |key: &str| {
        app["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["key"] == key)
            .unwrap()["last_read_at"]
            .clone()
    };
    assert!(read("gh-backup").is_string(), "{app}");
    assert!(read("gh-primary").is_null(), "{app}");
    let table = run_in(&h, wd.path(), &["apps", "show", "tooljump"], &admin)
        .ok()
        .text();
    let line = table
        .lines()
        .find(|l| l.starts_with("GITHUB_TOKEN"))
        .unwrap_or_default();
    assert!(line.contains("(gh-backup)"), "{table}");

    // hush check says which key would serve, reading nothing.
    let out = run_in(&h, wd.path(), &["check", "-o", "json"], &machine).ok();
    let gh = out.json()[0].clone();
    assert_eq!(gh["key"], "gh-backup", "{gh}");
}

#[test]
fn a_closed_output_pipe_ends_the_run_and_secrets_files_env_is_honoured() {
    use std::io::Read as _;
    let h = Home::new();
    h.set("alpha", b"VALUE-ALPHA-1234");
    let wd = workdir();
    // `hush run -- yes | head -c 5`: once the reader is gone, the command gets SIGPIPE.
    let mut c = h.command(&["run", "--secret", "alpha=A", "--", "yes"]);
    c.current_dir(wd.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    let mut first = [0u8; 5];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The read end is dropped here.
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("hush run kept going after its output pipe closed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(141), "the command dies of SIGPIPE");
    assert_eq!(&first, b"y\ny\ny");

    write(wd.path(), "dev.env", "devkey=from-dev-env-file\n");
    let out = run_in(
        &h,
        wd.path(),
        &[
            "run",
            "--no-mask",
            "--secret",
            "devkey=DK",
            "--",
            "sh",
            "-c",
            "printf %s \"$DK\"",
        ],
        &[("HUSH_SECRETS_FILE", "dev.env")],
    )
    .ok();
    assert_eq!(out.text(), "from-dev-env-file");
}

/// Issue 13, finding 5: after `hush login`, `hush run -- sh -c 'cat $HUSH_CONFIG'` printed the
/// saved token, and `$HUSH_HOME/root.key` was the store's key.
#[test]
fn a_workload_cannot_reach_hush_credentials_or_store_through_its_environment() {
    use crate::server::Server;
    use serde_json::json;

    let s = Server::start();
    s.put("k", json!({"value": "value-from-server-1"}));
    let h = Home::new();
    let root_key = std::fs::read(h.path().join("root.key")).unwrap();
    let cfg = h.path().join("cfg.json");
    let mut c = h.command(&["login", &s.base]);
    c.env("HUSH_CONFIG", &cfg);
    h.run_with(c, Some(format!("{}\n", s.admin).as_bytes()))
        .ok();
    let wd = workdir();
    write(wd.path(), "dev.env", "other=undeclared-dotenv-value\n");
    // The command looks everywhere hush's variables could lead it.
    let probe = r#"env; for f in "$HUSH_CONFIG" "$HUSH_HOME/root.key" "$HUSH_KEY_FILE" "$HUSH_SECRETS_FILE" "$HUSH_DB"; do [ -f "$f" ] && cat "$f"; done; true"#;
    let run = [
        "run",
        "--no-mask",
        "--secret",
        "k=K",
        "--",
        "sh",
        "-c",
        probe,
    ];
    let key_file = h.path().join("root.key");
    let key_file = key_file.to_str().unwrap();
    let cfg = cfg.to_str().unwrap();
    let withheld = [
        "HUSH_CONFIG",
        "HUSH_HOME",
        "HUSH_KEY_FILE",
        "HUSH_SECRETS_FILE",
        "HUSH_ADDR",
        "HUSH_TOKEN",
        "HUSH_DB",
        "HUSH_PG_POOL",
        "HUSH_LISTEN",
    ];
    let check = |out: &Out, absent: &[&[u8]]| {
        let text = out.text();
        for name in withheld {
            assert!(
                !text.lines().any(|l| l.starts_with(&format!("{name}="))),
                "{name} reached the command:\n{text}"
            );
        }
        for a in absent {
            assert!(
                !crate::common::contains(&out.stdout, a),
                "{} reached the command:\n{text}",
                String::from_utf8_lossy(a)
            );
        }
        // Names that lead nowhere still pass, for the SDK and nested tools.
        assert!(text.lines().any(|l| l == "HUSH_APP=some-app"), "{text}");
        assert!(text.lines().any(|l| l == "HUSH_ENV=dev"), "{text}");
        assert!(text.contains("HUSH_SECRETS_MAP="), "{text}");
    };
    let common = [
        ("HUSH_KEY_FILE", key_file),
        ("HUSH_SECRETS_FILE", "dev.env"),
        ("HUSH_PG_POOL", "4"),
        ("HUSH_LISTEN", "127.0.0.1:1"),
        ("HUSH_APP", "some-app"),
        ("HUSH_ENV", "dev"),
    ];

    // Logged in: the saved token is behind HUSH_CONFIG.
    let mut env = common.to_vec();
    env.push(("HUSH_CONFIG", cfg));
    let out = run_in(&h, wd.path(), &run, &env).ok();
    assert!(
        out.text().contains("K=value-from-server-1"),
        "{}",
        out.text()
    );
    check(
        &out,
        &[
            s.admin.as_bytes(),
            &root_key,
            b"undeclared-dotenv-value",
            s.base.as_bytes(),
        ],
    );

    // HUSH_ADDR and HUSH_TOKEN.
    let mut env = common.to_vec();
    env.extend([
        ("HUSH_ADDR", s.base.as_str()),
        ("HUSH_TOKEN", s.admin.as_str()),
    ]);
    let out = run_in(&h, wd.path(), &run, &env).ok();
    assert!(
        out.text().contains("K=value-from-server-1"),
        "{}",
        out.text()
    );
    check(&out, &[s.admin.as_bytes(), &root_key, s.base.as_bytes()]);

    // The local store named by HUSH_DB (a SQLite path, or a PostgreSQL URL with its user).
    h.set("k", b"value-from-store-2");
    let db =
        h.pg.as_ref()
            .map_or_else(|| h.db().to_str().unwrap().to_string(), |pg| pg.url.clone());
    let mut env = common.to_vec();
    env.push(("HUSH_DB", db.as_str()));
    let out = run_in(&h, wd.path(), &run, &env).ok();
    assert!(
        out.text().contains("K=value-from-store-2"),
        "{}",
        out.text()
    );
    check(&out, &[&root_key, db.as_bytes()]);
}

/// Issue 13: after SIGKILL of `hush run` the command ran on as an orphan and its secret
/// directory stayed in /dev/shm for good.
#[test]
fn a_sigkilled_run_takes_its_command_along_and_the_next_run_removes_its_files() {
    use crate::hygiene::{gone_within, KillOnDrop};
    use std::os::unix::process::ExitStatusExt as _;

    let h = Home::new();
    h.set("gcp-json", b"file-value-sigkill-1");
    let wd = workdir();
    let (mut killed, stale) = start_background(
        &h,
        wd.path(),
        r#"echo $$ > pid.txt; printf '%s' "$HUSH_SECRETS_DIR" > dir.txt; exec sleep 300"#,
    );
    let command: u32 = std::fs::read_to_string(wd.path().join("pid.txt"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _command = KillOnDrop(command);
    assert!(Path::new(&stale).join("gcp-json").exists());
    killed.kill().unwrap();
    assert_eq!(killed.wait().unwrap().signal(), Some(9));
    assert!(
        gone_within(command, Duration::from_secs(2)),
        "the command outlived hush"
    );
    assert!(Path::new(&stale).exists(), "SIGKILL leaves the directory");

    // A live run, whose directory the next run must leave alone.
    let live_wd = workdir();
    let (mut live, live_dir) = start_background(
        &h,
        live_wd.path(),
        r#"printf '%s' "$HUSH_SECRETS_DIR" > dir.txt; sleep 30 & wait"#,
    );
    let _live = KillOnDrop(live.id());

    // Look-alikes that are not a dead run's directory of this user: kept.
    let base = Path::new(&stale).parent().unwrap();
    let dead = {
        let mut t = std::process::Command::new("true").spawn().unwrap();
        let pid = t.id();
        t.wait().unwrap();
        pid
    };
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(elsewhere.path().join("keep"), b"keep").unwrap();
    let link = base.join(format!("hush-run.{dead}.symlink"));
    std::os::unix::fs::symlink(elsewhere.path(), &link).unwrap();
    let file = base.join(format!("hush-run.{dead}.file"));
    std::fs::write(&file, b"not a directory").unwrap();
    let older = base.join(format!("hush-run-{dead}-olderhush"));
    std::fs::create_dir(&older).unwrap();
    let foreign = base.join(format!("hush-run.{dead}.foreign"));
    let as_root = rustix::process::geteuid().is_root();
    if as_root {
        std::fs::create_dir(&foreign).unwrap();
        std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
    }

    let next = workdir();
    run_in(
        &h,
        next.path(),
        &["run", "--file", "gcp-json=F", "--", "true"],
        &[],
    )
    .ok();
    let kept = [&link, &file, &older]
        .into_iter()
        .map(|p| p.symlink_metadata().is_ok())
        .collect::<Vec<_>>();
    let foreign_kept = !as_root || foreign.exists();
    let _ = std::fs::remove_file(&link);
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_dir(&older);
    let _ = std::fs::remove_dir(&foreign);
    assert!(!Path::new(&stale).exists(), "{stale} is still there");
    assert!(
        Path::new(&live_dir).join("gcp-json").exists(),
        "a live run's directory was removed"
    );
    assert_eq!(
        kept,
        [true, true, true],
        "a look-alike was removed (symlink, file, older hush's)"
    );
    assert!(foreign_kept, "another user's directory was removed");
    assert!(
        elsewhere.path().join("keep").exists(),
        "a symlink was followed"
    );
    sigterm(live.id());
    live.wait().unwrap();
}

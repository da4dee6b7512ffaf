//! `hush migrate --to`: a SQLite store copied into a fresh PostgreSQL database and back, row
//! for row (values sealed, the audit chain intact, tokens still valid), and targets refused:
//! one that holds rows, the source itself, and what is neither a URL nor a path.
//!
//! Every store here is named with `--db`, so the tests run the same in the suite's SQLite and
//! PostgreSQL passes.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::Stdio;

use hush_store_postgres::testing::{admin_url, TestDatabase};
use serde_json::Value;

use crate::common::{Home, Out};

/// `hush --db DB ARGS` in `h`'s home (its key file), optionally in `cwd`.
fn on(h: &Home, db: &str, args: &[&str], stdin: Option<&[u8]>) -> Out {
    let mut all = vec!["--db", db];
    all.extend_from_slice(args);
    h.run(&all, stdin)
}

fn on_in(h: &Home, db: &str, cwd: &Path, args: &[&str]) -> Out {
    let mut all = vec!["--db", db];
    all.extend_from_slice(args);
    let mut c = h.command(&all);
    c.current_dir(cwd);
    h.run_with(c, None)
}

/// What every copy must read back the same: (args of `secrets get`, value).
const VALUES: &[(&[&str], &[u8])] = &[
    (&["secrets", "get", "api-key"], b"api-v2"),
    (&["secrets", "get", "api-key", "--version", "1"], b"api-v1"),
    (&["secrets", "get", "db-url"], b"postgres://shared"),
    (
        &["secrets", "get", "db-url", "--env", "prd"],
        b"postgres://prd",
    ),
    (
        &["secrets", "get", "db-url", "--env", "dev"],
        b"postgres://shared",
    ),
    (
        &["--workspace", "team", "secrets", "get", "team-key"],
        b"team-value",
    ),
];

/// A store with two workspaces, secrets with several versions and an environment's own
/// value, a read token, and an app whose run marked its reads. Returns the token.
fn fill(h: &Home, db: &str) -> String {
    on(h, db, &["init"], None).ok();
    on(
        h,
        db,
        &["secrets", "set", "api-key", "--raw"],
        Some(b"api-v1"),
    )
    .ok();
    on(
        h,
        db,
        &["secrets", "set", "api-key", "--raw"],
        Some(b"api-v2"),
    )
    .ok();
    on(
        h,
        db,
        &["secrets", "set", "db-url", "--raw"],
        Some(b"postgres://shared"),
    )
    .ok();
    on(
        h,
        db,
        &["secrets", "set", "db-url", "--env", "prd", "--raw"],
        Some(b"postgres://prd"),
    )
    .ok();
    on(
        h,
        db,
        &["--workspace", "team", "secrets", "set", "team-key", "--raw"],
        Some(b"team-value"),
    )
    .ok();
    let token = on(
        h,
        db,
        &["tokens", "create", "--role", "read", "--name", "ci"],
        None,
    )
    .ok()
    .text()
    .trim()
    .to_string();
    let wd = tempfile::tempdir().unwrap();
    std::fs::write(
        wd.path().join("hush.toml"),
        "app = \"ingest\"\n[secrets.API]\nkey = \"api-key\"\n[secrets.DB]\nkey = \"db-url\"\n",
    )
    .unwrap();
    on_in(h, db, wd.path(), &["apps", "register"]).ok();
    on_in(h, db, wd.path(), &["run", "--", "true"]).ok();
    token
}

/// The chain's verdict on `db`: intact, with its head.
fn verified(h: &Home, db: &str) -> (i64, String) {
    let v = on(h, db, &["audit", "verify", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(v["intact"], true, "{v}");
    (
        v["head_seq"].as_i64().unwrap(),
        v["head_mac"].as_str().unwrap().to_string(),
    )
}

/// Everything a copy must show as the source does: every value, the app's reads, the tokens.
fn same_as_source(h: &Home, db: &str, head: &(i64, String)) {
    assert_eq!(&verified(h, db), head);
    for (args, value) in VALUES {
        assert_eq!(
            on(h, db, args, None).ok().stdout,
            *value,
            "{args:?} on {db}"
        );
    }
    let app = on(h, db, &["apps", "show", "ingest", "-o", "json"], None)
        .ok()
        .json();
    assert!(
        app.to_string().contains("last_read_at"),
        "the app's reads came along: {app}"
    );
    let shown = on(h, db, &["secrets", "show", "api-key", "-o", "json"], None)
        .ok()
        .json();
    assert!(shown["used_by"][0]["last_read_at"].is_string(), "{shown}");
    let tokens = on(h, db, &["tokens", "list", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(tokens[0]["name"], "ci", "{tokens}");
}

/// The token is accepted by a server on `db`: it reads a value.
fn token_works_against_a_server(h: &Home, db: &str, token: &str) {
    let mut c = h.command(&["--db", db, "server", "--listen", "127.0.0.1:0"]);
    c.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut base = String::new();
    for _ in 0..20 {
        let mut line = String::new();
        if err.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(addr) = line.trim().strip_prefix("hush listening on ") {
            base = addr.to_string();
            break;
        }
    }
    std::thread::spawn(move || for _ in err.lines() {});
    let got = (!base.is_empty()).then(|| {
        reqwest::blocking::Client::new()
            .get(format!("{base}/v1/secrets/api-key"))
            .bearer_auth(token)
            .send()
            .unwrap()
    });
    let _ = child.kill();
    let _ = child.wait();
    let got = got.expect("the server on the copy started");
    assert_eq!(got.status(), 200);
    let body: Value = got.json().unwrap();
    assert_eq!(body["value"], "api-v2", "{body}");
}

#[test]
fn a_sqlite_store_moves_to_postgres_and_back_row_for_row() {
    let Some(admin) = admin_url() else { return };
    let h = Home::empty();
    let src = h.path().join("source.db");
    let src = src.to_str().unwrap();
    let token = fill(&h, src);
    same_as_source(&h, src, &verified(&h, src));
    // Reads append audit rows: the head as migrate finds it.
    let head = verified(&h, src);

    let pg = TestDatabase::create(&admin);
    let out = on(&h, src, &["migrate", "--to", &pg.url], None).ok();
    for line in [
        "secrets",
        "secret_values",
        "tokens",
        "app_keys",
        "audit_log",
    ] {
        assert!(out.stderr.contains(line), "{}", out.stderr);
    }
    assert!(
        out.stderr
            .contains(&format!("audit head {}:{}", head.0, head.1)),
        "{}",
        out.stderr
    );
    assert!(!out.all().contains("api-v2") && !out.all().contains(&token));
    same_as_source(&h, &pg.url, &head);
    assert_eq!(verified(&h, src), head, "the source was only read");
    token_works_against_a_server(&h, &pg.url, &token);

    // And back, into a new SQLite file. The server's own reads above added audit rows.
    let head = verified(&h, &pg.url);
    let back = h.path().join("back.db");
    let back = back.to_str().unwrap();
    let out2 = on(&h, &pg.url, &["migrate", "--to", back], None).ok();
    assert!(out2.stderr.contains("migrated"), "{}", out2.stderr);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(back).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    same_as_source(&h, back, &head);
    token_works_against_a_server(&h, back, &token);
    // The copy keeps going: a write on it links on to the copied chain.
    let before = verified(&h, back).0;
    on(&h, back, &["secrets", "set", "after", "--raw"], Some(b"x")).ok();
    assert_eq!(verified(&h, back).0, before + 1);
}

#[test]
fn targets_with_rows_and_bad_targets_are_refused_and_nothing_is_written() {
    let h = Home::empty();
    let src = h.path().join("source.db");
    let src = src.to_str().unwrap();
    on(&h, src, &["init"], None).ok();
    on(&h, src, &["secrets", "set", "k", "--raw"], Some(b"v")).ok();

    // A store with rows (another store, with its own key): refused, unchanged.
    let h2 = Home::empty();
    let other = h2.path().join("other.db");
    let other = other.to_str().unwrap();
    on(&h2, other, &["init"], None).ok();
    let before = verified(&h2, other);
    let out = on(&h, src, &["migrate", "--to", other], None).code(4);
    assert!(out.stderr.contains("not empty"), "{}", out.stderr);
    assert!(out.stderr.contains("root_keys: 1"), "{}", out.stderr);
    assert!(out.stderr.contains("nothing was written"), "{}", out.stderr);
    assert_eq!(verified(&h2, other), before);
    on(&h2, other, &["secrets", "get", "k"], None).code(3);

    // The source itself.
    let out = on(&h, src, &["migrate", "--to", src], None).code(2);
    assert!(
        out.stderr.contains("store being migrated"),
        "{}",
        out.stderr
    );

    // Neither a PostgreSQL URL nor a path.
    let out = on(&h, src, &["migrate", "--to", "mysql://db/hush"], None).code(2);
    assert!(out.stderr.contains("neither"), "{}", out.stderr);

    // A URL PostgreSQL cannot read: said so, without its password.
    let out = on(
        &h,
        src,
        &[
            "migrate",
            "--to",
            "postgres://hush:pw-s3cret@127.0.0.1:notaport/db",
        ],
        None,
    )
    .code(1);
    assert!(out.stderr.contains("bad PostgreSQL URL"), "{}", out.stderr);
    assert!(!out.stderr.contains("pw-s3cret"), "{}", out.stderr);

    // A path in no directory: said so; nothing created.
    let nowhere = h.path().join("no-such-dir").join("hush.db");
    let out = on(
        &h,
        src,
        &["migrate", "--to", nowhere.to_str().unwrap()],
        None,
    )
    .code(1);
    assert!(out.stderr.contains("cannot"), "{}", out.stderr);
    assert!(!nowhere.exists());

    // No store to copy: exit 3, no target made.
    let fresh = h.path().join("fresh.db");
    let missing = h.path().join("missing.db");
    let out = on(
        &h,
        missing.to_str().unwrap(),
        &["migrate", "--to", fresh.to_str().unwrap()],
        None,
    )
    .code(3);
    assert!(out.stderr.contains("nothing to migrate"), "{}", out.stderr);
    assert!(!fresh.exists() && !missing.exists());

    // A PostgreSQL database with rows: refused, unchanged.
    let Some(admin) = admin_url() else { return };
    let pg = TestDatabase::create(&admin);
    let h3 = Home::empty();
    on(&h3, &pg.url, &["init"], None).ok();
    let before = verified(&h3, &pg.url);
    let out = on(&h, src, &["migrate", "--to", &pg.url], None).code(4);
    assert!(out.stderr.contains("not empty"), "{}", out.stderr);
    assert_eq!(verified(&h3, &pg.url), before);
    on(&h3, &pg.url, &["secrets", "get", "k"], None).code(3);
}

//! `hush keys rotate` with each key source: every value stays readable.

use crate::common::Home;

fn fill(h: &Home) {
    h.set("a", b"alpha-1");
    h.set("a", b"alpha-2");
    h.run(
        &["secrets", "set", "b", "--workspace", "other"],
        Some(b"beta"),
    )
    .ok();
}

fn check(h: &Home) {
    assert_eq!(h.get("a"), b"alpha-2");
    assert_eq!(
        h.run(&["secrets", "get", "a", "--version", "1"], None)
            .ok()
            .stdout,
        b"alpha-1"
    );
    assert_eq!(
        h.run(&["secrets", "get", "b", "--workspace", "other"], None)
            .ok()
            .stdout,
        b"beta"
    );
}

#[test]
fn rotation_with_a_key_file_keeps_every_value_readable() {
    let h = Home::new();
    fill(&h);
    let old_file = std::fs::read(h.path().join("root.key")).unwrap();
    let out = h.run(&["keys", "rotate"], None).ok();
    assert!(out.stderr.contains("root key version 2"), "{}", out.stderr);
    check(&h);
    h.set("a", b"alpha-3");
    h.run(&["keys", "rotate"], None).ok();
    assert_eq!(h.get("a"), b"alpha-3");
    assert_eq!(
        h.run(&["secrets", "get", "a", "--version", "2"], None)
            .ok()
            .stdout,
        b"alpha-2"
    );
    check_versions_after_rotation(&h);
    // The old key file no longer opens the store.
    std::fs::write(h.path().join("root.key"), &old_file).unwrap();
    let out = h.run(&["secrets", "get", "a"], None).code(1);
    assert!(out.stderr.contains("root key version 3"), "{}", out.stderr);
}

fn check_versions_after_rotation(h: &Home) {
    if crate::common::sqlite_only("reading data key rows with rusqlite") {
        return;
    }
    let conn = rusqlite::Connection::open(h.db()).unwrap();
    let versions: Vec<(i64, i64)> = conn
        .prepare("SELECT version, root_version FROM data_keys WHERE workspace_id = (SELECT id FROM workspaces WHERE name = 'default') ORDER BY version")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        versions,
        vec![(1, 3), (2, 3), (3, 3)],
        "every data key rewrapped under the newest root key"
    );
    let sealed_with: Vec<i64> = conn
        .prepare("SELECT key_version FROM secret_values ORDER BY created_at, version")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        sealed_with.contains(&1) && sealed_with.contains(&2),
        "values name the data key that sealed them: {sealed_with:?}"
    );
}

#[test]
fn rotation_with_a_passphrase_moves_to_the_new_passphrase() {
    let h = Home::empty().with_env("HUSH_PASSPHRASE", "first passphrase");
    h.run(&["init"], None).ok();
    fill(&h);
    let mut c = h.command(&["keys", "rotate"]);
    c.env("HUSH_NEW_PASSPHRASE", "second passphrase");
    h.run_with(c, None).ok();
    let out = h.run(&["secrets", "get", "a"], None).code(1);
    assert!(out.stderr.contains("does not open"), "{}", out.stderr);
    let h = Home {
        extra_env: vec![("HUSH_PASSPHRASE".into(), "second passphrase".into())],
        ..h
    };
    check(&h);
}

#[test]
fn rotation_with_an_env_key_needs_the_new_key_and_never_prints_one() {
    let old = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let new = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
    let h = Home::empty().with_env("HUSH_ROOT_KEY", old);
    h.run(&["init"], None).ok();
    fill(&h);
    // Without the new key: refused, nothing changed, no key generated behind the user's back.
    let out = h.run(&["keys", "rotate"], None).code(2);
    assert!(out.stderr.contains("HUSH_NEW_ROOT_KEY"), "{}", out.stderr);
    check(&h);
    let mut c = h.command(&["keys", "rotate"]);
    c.env("HUSH_NEW_ROOT_KEY", new);
    let out = h.run_with(c, None).ok();
    assert!(out.stdout.is_empty(), "no key is printed");
    assert!(!out.all().contains(new) && !out.all().contains(old));
    h.run(&["secrets", "get", "a"], None).code(1);
    let h = Home {
        extra_env: vec![("HUSH_ROOT_KEY".into(), new.into())],
        ..h
    };
    check(&h);
}

#[test]
fn concurrent_rotations_leave_a_store_that_opens() {
    let h = Home::new();
    fill(&h);
    let children: Vec<_> = (0..4)
        .map(|_| {
            let mut c = h.command(&["keys", "rotate"]);
            c.stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            c.spawn().unwrap()
        })
        .collect();
    let ok = children
        .into_iter()
        .map(|mut c| c.wait().unwrap().success())
        .filter(|s| *s)
        .count();
    assert_eq!(ok, 4, "the home lock serialises rotations");
    check(&h);
    let file = std::fs::read_to_string(h.path().join("root.key")).unwrap();
    assert!(file.contains("\"version\": 5"), "{file}");
}

#[test]
fn an_interrupted_init_can_be_run_again() {
    let h = Home::empty();
    // What a kill between creating the database and committing the first root key leaves.
    let conn = rusqlite::Connection::open(h.db()).unwrap();
    conn.execute_batch("CREATE TABLE t (x)").unwrap();
    drop(conn);
    h.run(&["secrets", "list"], None).code(1);
    h.run(&["init"], None).ok();
    h.set("k", b"v");
    assert_eq!(h.get("k"), b"v");
}

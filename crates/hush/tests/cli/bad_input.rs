//! Bad input gets a clear message and changes nothing.

use crate::common::Home;

/// Everything that identifies the store's content, to compare before and after.
fn snapshot(h: &Home) -> String {
    h.run(&["secrets", "list", "-o", "json"], None).ok().text()
}

#[test]
fn bad_key_names_are_refused_before_anything_is_read() {
    let h = Home::new();
    h.set("good", b"v");
    let before = snapshot(&h);
    for bad in [
        ".hidden",
        "-dash",
        "a/b",
        "..",
        "a b",
        "ключ",
        "x%2Fy",
        &"k".repeat(129),
    ] {
        let out = h
            .run(&["secrets", "set", "--", bad], Some(b"value"))
            .code(2);
        assert!(out.stderr.contains("invalid key"), "{bad}: {}", out.stderr);
        assert!(
            out.stderr.contains("A-Z a-z")
                || out.stderr.contains("starts with")
                || out.stderr.contains("limit"),
            "{}",
            out.stderr
        );
    }
    h.run(&["secrets", "create", "a/b"], Some(b"v")).code(2);
    h.run(&["secrets", "get", "a/b"], None).code(2);
    assert_eq!(snapshot(&h), before);
}

#[test]
fn empty_and_oversize_values_are_refused() {
    let h = Home::new();
    let before = snapshot(&h);
    let out = h.run(&["secrets", "set", "k"], Some(b"")).code(2);
    assert!(out.stderr.contains("empty"), "{}", out.stderr);
    let out = h
        .run(&["secrets", "set", "k", "--stdin"], Some(b"\n"))
        .code(2);
    assert!(out.stderr.contains("empty"), "{}", out.stderr);
    let big = vec![b'x'; 1024 * 1024 + 1];
    let out = h.run(&["secrets", "set", "k"], Some(&big)).code(2);
    assert!(out.stderr.contains("1 MiB"), "{}", out.stderr);
    let f = h.path().join("big");
    std::fs::write(&f, &big).unwrap();
    h.run(
        &["secrets", "set", "k", "--from-file", f.to_str().unwrap()],
        None,
    )
    .code(2);
    let out = h
        .run(
            &["secrets", "set", "k", "--from-file", "/nonexistent/file"],
            None,
        )
        .code(2);
    assert!(out.stderr.contains("/nonexistent/file"), "{}", out.stderr);
    assert_eq!(snapshot(&h), before);
}

#[test]
fn bad_metadata_is_refused() {
    let h = Home::new();
    h.set("k", b"v");
    let before = snapshot(&h);
    let out = h
        .run(&["secrets", "update", "k", "--type", "bearer"], None)
        .code(2);
    assert!(
        out.stderr.contains("api") && out.stderr.contains("access"),
        "{}",
        out.stderr
    );
    let out = h
        .run(&["secrets", "update", "k", "--expires", "soon"], None)
        .code(2);
    assert!(
        out.stderr.contains("cannot read expiry") && out.stderr.contains("90d"),
        "{}",
        out.stderr
    );
    let out = h
        .run(
            &["secrets", "set", "k2", "--expires", "tomorrow"],
            Some(b"v"),
        )
        .code(2);
    assert!(out.stderr.contains("cannot read expiry"), "{}", out.stderr);
    let out = h
        .run(&["secrets", "update", "k", "--envs", "bad env"], None)
        .code(2);
    assert!(out.stderr.contains("invalid env"), "{}", out.stderr);
    let out = h
        .run(&["secrets", "update", "k", "--scope", "../x"], None)
        .code(2);
    assert!(out.stderr.contains("invalid app"), "{}", out.stderr);
    let long = "d".repeat(1025);
    h.run(&["secrets", "update", "k", "--description", &long], None)
        .code(2);
    h.run(&["secrets", "list", "--status", "gone"], None)
        .code(2);
    h.run(&["secrets", "get", "k", "--version", "0"], None)
        .code(2);
    h.run(&["secrets", "from-nowhere"], None).code(2);
    assert_eq!(snapshot(&h), before);
}

#[test]
fn missing_store_says_to_run_init_and_creates_nothing() {
    let h = Home::empty();
    for args in [
        &["secrets", "list"][..],
        &["secrets", "get", "k"],
        &["keys", "rotate"],
    ] {
        let out = h.run(args, None).code(1);
        assert!(out.stderr.contains("hush init"), "{}", out.stderr);
    }
    let out = h.run(&["secrets", "set", "k"], Some(b"v")).code(1);
    assert!(out.stderr.contains("hush init"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_dir(h.path()).unwrap().count(),
        0,
        "nothing was created"
    );
}

#[test]
fn wrong_passphrase_is_refused_clearly() {
    let h = Home::empty().with_env("HUSH_PASSPHRASE", "correct horse battery staple");
    h.run(&["init"], None).ok();
    assert!(
        !h.path().join("root.key").exists(),
        "a passphrase store has no key file"
    );
    h.set("k", b"v");
    let before = snapshot(&h);
    let mut c = h.command(&["secrets", "get", "k"]);
    c.env("HUSH_PASSPHRASE", "wrong horse");
    let out = h.run_with(c, None).code(1);
    assert!(
        out.stderr.contains("does not open this store"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("wrong horse"));
    assert!(out.stdout.is_empty());
    let mut c = h.command(&["secrets", "set", "k"]);
    c.env_remove("HUSH_PASSPHRASE");
    let out = h.run_with(c, Some(b"x")).code(1);
    assert!(out.stderr.contains("HUSH_PASSPHRASE"), "{}", out.stderr);
    assert_eq!(snapshot(&h), before);
    assert_eq!(h.get("k"), b"v");
}

#[test]
fn wrong_or_malformed_root_key_is_refused_clearly() {
    let key_a = "q0G2QyBbZ1bWw0uP8rV5mM7oC1Yx3lJtH6nK9sD4eFg=";
    let key_b = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let h = Home::empty().with_env("HUSH_ROOT_KEY", key_a);
    h.run(&["init"], None).ok();
    h.set("k", b"v");
    let before = snapshot(&h);
    let mut c = h.command(&["secrets", "get", "k"]);
    c.env("HUSH_ROOT_KEY", key_b);
    let out = h.run_with(c, None).code(1);
    assert!(
        out.stderr.contains("does not open this store"),
        "{}",
        out.stderr
    );
    let mut c = h.command(&["secrets", "list"]);
    c.env("HUSH_ROOT_KEY", "bm90LWEta2V5");
    let out = h.run_with(c, None).code(1);
    assert!(out.stderr.contains("32"), "{}", out.stderr);
    assert!(
        !out.stderr.contains("bm90LWEta2V5"),
        "the bad key is not echoed"
    );
    let mut c = h.command(&["secrets", "list"]);
    c.env("HUSH_PASSPHRASE", "also set");
    h.run_with(c, None).code(2);
    assert_eq!(snapshot(&h), before);
}

#[test]
fn a_damaged_key_file_is_named() {
    let h = Home::new();
    std::fs::write(h.path().join("root.key"), b"garbage").unwrap();
    let out = h.run(&["secrets", "list"], None).code(1);
    assert!(
        out.stderr.contains("root.key") && out.stderr.contains("damaged"),
        "{}",
        out.stderr
    );
    std::fs::remove_file(h.path().join("root.key")).unwrap();
    let out = h.run(&["secrets", "list"], None).code(1);
    assert!(out.stderr.contains("does not exist"), "{}", out.stderr);
}

#[test]
fn a_value_on_the_command_line_is_refused_without_echoing_it() {
    let h = Home::new();
    for cmd in ["set", "create", "update"] {
        let out = h
            .run(
                &["secrets", cmd, "k", "sk_live_planted_cli_value"],
                Some(b"v"),
            )
            .code(2);
        assert!(out.stderr.contains("command line"), "{}", out.stderr);
        assert!(!out.all().contains("sk_live_planted"), "{}", out.all());
    }
    h.run(&["secrets", "get", "k"], None).code(3);
}

#[test]
fn oversize_input_is_refused_even_with_a_newline_at_the_limit() {
    let h = Home::new();
    let mut v = vec![b'x'; 1024 * 1024];
    v.extend_from_slice(b"\nmore bytes after the limit");
    let out = h.run(&["secrets", "set", "k", "--stdin"], Some(&v)).code(2);
    assert!(out.stderr.contains("larger than 1 MiB"), "{}", out.stderr);
    let mut v = vec![b'x'; 1024 * 1024 - 1];
    v.extend_from_slice(b"\r\nmore");
    h.run(&["secrets", "set", "k", "--stdin"], Some(&v)).code(2);
    h.run(&["secrets", "get", "k"], None).code(3);
}

#[test]
fn bad_input_does_not_create_a_workspace() {
    let h = Home::new();
    h.run(
        &["secrets", "create", "bad key", "--workspace", "newws"],
        Some(b"v"),
    )
    .code(2);
    h.run(&["secrets", "set", "k", "--workspace", "newws"], Some(b""))
        .code(2);
    h.run(
        &[
            "secrets",
            "set",
            "k",
            "--workspace",
            "newws",
            "--expires",
            "soon",
        ],
        Some(b"v"),
    )
    .code(2);
    h.run(&["secrets", "list", "--workspace", "newws"], None)
        .code(3);
    h.run(
        &["secrets", "set", "k", "--workspace", "bad/ws"],
        Some(b"v"),
    )
    .code(2);
}

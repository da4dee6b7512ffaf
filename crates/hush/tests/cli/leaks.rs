//! No plaintext value outside `get`: not in the store's files, not in any other output; and a
//! ciphertext moved into another row does not open.

use crate::common::{contains, sqlite_only, Home};

const PLANTED: &[u8] = b"planted-Secret-Value-7f3a9c";
const PLANTED_FILE: &[u8] = b"{\"private_key\": \"planted-file-key-51bd02\"}";

#[test]
fn no_plaintext_in_the_store_files_or_any_output_but_get() {
    let h = Home::new();
    let uploads = tempfile::tempdir().unwrap();
    let f = uploads.path().join("upload.json");
    std::fs::write(&f, PLANTED_FILE).unwrap();
    let fpath = f.to_str().unwrap().to_string();
    let mut outputs = vec![
        h.run(&["secrets", "set", "planted"], Some(PLANTED)).ok(),
        h.run(
            &[
                "secrets",
                "create",
                "planted-file",
                "--from-file",
                &fpath,
                "-o",
                "json",
            ],
            None,
        )
        .ok(),
        h.run(
            &[
                "secrets",
                "update",
                "planted",
                "--description",
                "d",
                "-o",
                "table",
            ],
            None,
        )
        .ok(),
        h.run(
            &["secrets", "update", "planted", "--if-version", "1"],
            Some(PLANTED),
        )
        .ok(),
        h.run(&["secrets", "create", "planted"], Some(PLANTED))
            .code(4),
        h.run(
            &["secrets", "update", "planted", "--if-version", "1"],
            Some(PLANTED),
        )
        .code(4),
        h.run(&["secrets", "show", "planted"], None).ok(),
        h.run(&["secrets", "show", "planted", "-o", "json"], None)
            .ok(),
        h.run(&["secrets", "list"], None).ok(),
        h.run(&["secrets", "list", "-o", "json"], None).ok(),
        h.run(&["secrets", "history", "planted", "-o", "json"], None)
            .ok(),
        h.run(
            &["secrets", "rollback", "planted", "--to", "1", "-o", "json"],
            None,
        )
        .ok(),
        h.run(&["secrets", "revoke", "planted"], None).ok(),
        h.run(&["secrets", "get", "planted"], None).code(5),
        h.run(&["secrets", "restore", "planted"], None).ok(),
        h.run(&["keys", "rotate"], None).ok(),
        h.run(
            &[
                "secrets",
                "update",
                "planted",
                "--expires",
                "1",
                "--allow-past",
            ],
            None,
        )
        .ok(),
        h.run(&["secrets", "get", "planted"], None).code(6),
    ];
    // Webhooks: their records and deliveries name keys, never values; the signing secret is
    // printed once and stored sealed.
    let hook = h
        .run(
            &[
                "webhooks",
                "add",
                "http://127.0.0.1:9/hook",
                "--events",
                "updated",
            ],
            None,
        )
        .ok();
    let whsec = hook.text().trim().to_string();
    assert!(whsec.starts_with("whsec_"));
    outputs.push(h.run(&["webhooks", "list", "-o", "json"], None).ok());
    outputs.push(h.run(&["webhooks", "deliveries", "-o", "json"], None).ok());
    // Delete leaves no trace of the value either (secure_delete).
    h.run(
        &["secrets", "set", "doomed"],
        Some(b"planted-doomed-value-0c4e"),
    )
    .ok();
    outputs.push(h.run(&["secrets", "delete", "doomed"], None).ok());
    for out in &outputs {
        let all = out.all();
        assert!(
            !all.contains(std::str::from_utf8(PLANTED).unwrap()),
            "leak in: {all}"
        );
        assert!(!all.contains("planted-file-key"), "leak in: {all}");
    }
    let bytes = h.store_bytes();
    assert!(!bytes.is_empty());
    assert!(!contains(&bytes, PLANTED), "plaintext in the store files");
    assert!(
        !contains(&bytes, whsec.as_bytes()),
        "a webhook's signing secret in the store files"
    );
    assert!(
        !contains(&bytes, b"planted-file-key"),
        "plaintext in the store files"
    );
    assert!(
        !contains(&bytes, b"planted-doomed-value"),
        "deleted plaintext in the store files"
    );
    // And `get` still gives it.
    h.run(
        &["secrets", "update", "planted", "--expires", "never"],
        None,
    )
    .ok();
    assert_eq!(h.get("planted"), PLANTED);
}

#[test]
fn no_plaintext_in_the_wal_while_a_writer_is_live() {
    // A process killed mid-stream leaves its WAL behind: that file must hold no plaintext.
    let h = Home::new();
    for i in 0..20 {
        h.set(
            &format!("k{i}"),
            format!("planted-wal-{i:03}-value").as_bytes(),
        );
    }
    let mut c = h.command(&["secrets", "set", "last"]);
    c.stdin(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    // hush is waiting on stdin now with the database open.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let bytes = h.store_bytes();
    child.kill().unwrap();
    let _ = child.wait();
    for i in 0..20 {
        assert!(!contains(&bytes, format!("planted-wal-{i:03}").as_bytes()));
    }
    assert!(!contains(&h.store_bytes(), b"planted-wal-"));
}

fn secret_id(conn: &rusqlite::Connection, key: &str) -> String {
    conn.query_row("SELECT id FROM secrets WHERE key = ?1", [key], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_ciphertext_moved_into_another_row_fails_to_open() {
    if sqlite_only("moving ciphertexts with rusqlite") {
        return;
    }
    let h = Home::new();
    h.set("victim", b"planted-victim-value");
    h.set("attacker", b"attacker-value");
    h.set("attacker", b"attacker-value-2");
    let conn = rusqlite::Connection::open(h.db()).unwrap();
    let victim = secret_id(&conn, "victim");
    let attacker = secret_id(&conn, "attacker");
    // Copy the victim's ciphertext over the attacker's version 2.
    conn.execute(
        "UPDATE secret_values SET ciphertext = (SELECT ciphertext FROM secret_values WHERE secret_id = ?1 AND version = 1)
         WHERE secret_id = ?2 AND version = 2",
        [&victim, &attacker],
    )
    .unwrap();
    // And the attacker's version 1 ciphertext into version 2's place of the same secret
    // would also fail: versions are bound too.
    drop(conn);
    let out = h.run(&["secrets", "get", "attacker"], None).code(1);
    assert!(out.stderr.contains("does not decrypt"), "{}", out.stderr);
    assert!(out.stdout.is_empty());
    assert!(!out.all().contains("planted-victim-value"));
    let conn = rusqlite::Connection::open(h.db()).unwrap();
    conn.execute(
        "UPDATE secret_values SET ciphertext = (SELECT ciphertext FROM secret_values WHERE secret_id = ?1 AND version = 1)
         WHERE secret_id = ?1 AND version = 2",
        [&attacker],
    )
    .unwrap();
    drop(conn);
    h.run(&["secrets", "get", "attacker"], None).code(1);
    assert_eq!(
        h.get("victim"),
        b"planted-victim-value",
        "the source row is untouched"
    );
    assert_eq!(
        h.run(&["secrets", "get", "attacker", "--version", "1"], None)
            .ok()
            .stdout,
        b"attacker-value"
    );
}

#[test]
fn a_secret_moved_to_another_workspace_fails_to_open() {
    if sqlite_only("moving rows with rusqlite") {
        return;
    }
    let h = Home::new();
    h.set("k", b"planted-ws-value");
    h.run(&["secrets", "set", "other", "--workspace", "b"], Some(b"x"))
        .ok();
    let conn = rusqlite::Connection::open(h.db()).unwrap();
    conn.execute(
        "DELETE FROM secrets WHERE workspace_id = (SELECT id FROM workspaces WHERE name = 'b')",
        [],
    )
    .unwrap();
    conn.execute("UPDATE secrets SET workspace_id = (SELECT id FROM workspaces WHERE name = 'b') WHERE key = 'k'", []).unwrap();
    drop(conn);
    let out = h
        .run(&["secrets", "get", "k", "--workspace", "b"], None)
        .code(1);
    assert!(!out.all().contains("planted-ws-value"));
}

//! Tokens and the audit log: on the embedded store, against a server, and as an attacker with
//! write access to the store file but no root key would tamper with it.

use hush_core::audit::{self, AuditEntry, AuditKey, GENESIS};
use rusqlite::{params, Connection};

use crate::common::{contains, sqlite_only, Home};
use crate::server::Server;

#[test]
fn tokens_are_printed_alone_once_and_stored_only_as_hashes() {
    let h = Home::new();
    let out = h
        .run(
            &["tokens", "create", "--role", "read", "--name", "ci"],
            None,
        )
        .ok();
    let token = out.text().trim().to_string();
    assert!(token.starts_with("hush_") && token.len() == 48, "{token:?}");
    assert_eq!(
        out.text(),
        format!("{token}\n"),
        "stdout holds the token alone"
    );
    assert!(!out.stderr.contains(&token));
    let list = h.run(&["tokens", "list", "-o", "json"], None).ok();
    assert!(!list.text().contains(&token));
    let j = list.json();
    assert_eq!(j[0]["name"], "ci");
    assert_eq!(j[0]["role"], "read");
    assert_eq!(j[0]["status"], "active");
    assert!(
        !contains(&h.store_bytes(), token.as_bytes()),
        "only the hash is stored"
    );
    let m = h
        .run(
            &["tokens", "create", "--app", "ingest", "--env", "prd"],
            None,
        )
        .ok();
    let audit = h.run(&["audit", "-o", "json"], None).ok();
    assert!(!audit.text().contains(&token) && !audit.text().contains(m.text().trim()));
    h.run(&["tokens", "revoke", "ci"], None).ok();
    let list = h.run(&["tokens", "list", "-o", "json"], None).ok().json();
    let ci = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ci")
        .unwrap();
    assert_eq!(ci["status"], "revoked");
    h.run(&["tokens", "revoke", "ci"], None).code(3);
    h.run(&["tokens", "create", "--app", "ingest"], None)
        .code(2);
    h.run(&["tokens", "create", "--role", "root"], None).code(2);
    h.run(
        &[
            "tokens", "create", "--role", "read", "--app", "x", "--env", "y",
        ],
        None,
    )
    .code(2);
}

#[test]
fn every_read_and_write_is_audited_without_values() {
    let h = Home::new();
    h.set("k", b"planted-audit-value");
    h.get("k");
    h.run(&["secrets", "revoke", "k"], None).ok();
    h.run(&["secrets", "get", "k"], None).code(5);
    h.run(&["secrets", "delete", "k"], None).ok();
    let out = h.run(&["audit", "--key", "k", "-o", "json"], None).ok();
    assert!(!out.text().contains("planted-audit-value"));
    let rows = out.json();
    let got: Vec<(String, String)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_string(),
                r["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("secret.create", "ok"),
        ("secret.read", "ok"),
        ("secret.revoke", "ok"),
        ("secret.read", "revoked"),
        ("secret.delete", "ok"),
    ];
    assert_eq!(
        got,
        want.iter()
            .map(|(a, o)| (a.to_string(), o.to_string()))
            .collect::<Vec<_>>()
    );
    assert_eq!(rows[0]["actor_name"], "local:tester");
    assert_eq!(rows[1]["version"], 1);
}

#[test]
fn audit_verify_detects_an_edited_and_a_deleted_row() {
    if sqlite_only("editing rows with rusqlite") {
        return;
    }
    let h = Home::new();
    for i in 0..4 {
        h.set(&format!("k{i}"), b"v");
    }
    let out = h.run(&["audit", "verify"], None).ok();
    assert!(out.text().contains("intact: 4 rows"), "{}", out.text());

    let conn = rusqlite::Connection::open(h.db()).unwrap();
    conn.execute("UPDATE audit_log SET outcome = 'denied' WHERE seq = 2", [])
        .unwrap();
    drop(conn);
    let out = h.run(&["audit", "verify", "-o", "json"], None).code(1);
    assert_eq!(out.json()["first_bad_seq"], 2);
    assert!(out.stderr.contains("row 2"), "{}", out.stderr);

    let h = Home::new();
    for i in 0..4 {
        h.set(&format!("k{i}"), b"v");
    }
    let conn = rusqlite::Connection::open(h.db()).unwrap();
    conn.execute("DELETE FROM audit_log WHERE seq = 3", [])
        .unwrap();
    drop(conn);
    let out = h.run(&["audit", "verify"], None).code(1);
    assert!(
        out.text().contains("row 4") && out.text().contains("missing"),
        "{}",
        out.text()
    );
}

/// Every audit row of the SQLite file as an attacker reads it: `(seq, entry)`, in order.
fn rows_of(conn: &Connection) -> Vec<(i64, AuditEntry)> {
    let mut st = conn
        .prepare(
            "SELECT seq, ts_ms, actor_id, actor_name, action, workspace, key, version, outcome, remote
             FROM audit_log ORDER BY seq",
        )
        .unwrap();
    st.query_map([], |r| {
        Ok((
            r.get(0)?,
            AuditEntry {
                ts_ms: r.get(1)?,
                actor_id: r.get(2)?,
                actor_name: r.get(3)?,
                action: r.get(4)?,
                workspace: r.get(5)?,
                key: r.get(6)?,
                version: r.get::<_, Option<i64>>(7)?.map(|v| v as u64),
                outcome: r.get(8)?,
                env: None,
                remote: r.get(9)?,
                request_id: None,
                detail: None,
                items: Vec::new(),
            },
        ))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// Rewrites every link from row `from` on with `link(seq, entry, prev)`, as an attacker who
/// edited or deleted rows before would, to make the chain whole again.
fn relink(
    conn: &Connection,
    from: i64,
    link: impl Fn(i64, &AuditEntry, &str) -> String,
    (prev_col, col): (&str, &str),
) {
    let rows = rows_of(conn);
    let mut prev: String = if from == 1 {
        GENESIS.to_string()
    } else {
        conn.query_row(
            &format!("SELECT {col} FROM audit_log WHERE seq = ?1"),
            [from - 1],
            |r| r.get(0),
        )
        .unwrap()
    };
    for (seq, e) in rows.iter().filter(|(seq, _)| *seq >= from) {
        let mac = link(*seq, e, &prev);
        conn.execute(
            &format!("UPDATE audit_log SET {prev_col} = ?1, {col} = ?2 WHERE seq = ?3"),
            params![prev, mac, seq],
        )
        .unwrap();
        prev = mac;
    }
}

/// Deletes row `seq` and numbers the rows after it down by one, so there is no gap.
fn delete_and_renumber(conn: &Connection, seq: i64) {
    conn.execute("DELETE FROM audit_log WHERE seq = ?1", [seq])
        .unwrap();
    let max: i64 = conn
        .query_row("SELECT max(seq) FROM audit_log", [], |r| r.get(0))
        .unwrap();
    for s in seq + 1..=max {
        conn.execute("UPDATE audit_log SET seq = ?1 WHERE seq = ?2", [s - 1, s])
            .unwrap();
    }
}

fn home_with_rows(n: usize) -> Home {
    let h = Home::new();
    for i in 0..n {
        h.set(&format!("k{i}"), b"v");
    }
    h
}

/// Regression (issue 13, finding 3): with write access to the store but no root key, delete a
/// row, edit another and recompute every link — with plain SHA-256, as the unkeyed chain
/// allowed (main printed "intact" here), or with a key of one's own. `verify` fails and names
/// the first row that does not check out.
#[test]
fn a_chain_recomputed_without_the_audit_key_is_detected() {
    if sqlite_only("rewriting rows with rusqlite") {
        return;
    }
    let cols = ("prev_mac", "mac");
    // Plain SHA-256 over the whole chain: row 1 no longer matches its MAC.
    let h = home_with_rows(6);
    let conn = Connection::open(h.db()).unwrap();
    delete_and_renumber(&conn, 3);
    conn.execute("UPDATE audit_log SET outcome = 'denied' WHERE seq = 4", [])
        .unwrap();
    relink(&conn, 1, audit::legacy_hash, cols);
    drop(conn);
    let out = h.run(&["audit", "verify", "-o", "json"], None).code(1);
    assert_eq!(out.json()["intact"], false);
    assert_eq!(out.json()["first_bad_seq"], 1);
    assert!(out.stderr.contains("row 1"), "{}", out.stderr);
    assert!(!out.text().contains("intact\": true"));

    // A key of the attacker's own, from the edited row on: that row is named.
    let h = home_with_rows(6);
    let attacker = AuditKey::generate().unwrap();
    let conn = Connection::open(h.db()).unwrap();
    delete_and_renumber(&conn, 5);
    conn.execute("UPDATE audit_log SET key = 'other' WHERE seq = 2", [])
        .unwrap();
    relink(
        &conn,
        2,
        |seq, e, prev| audit::row_mac(&attacker, seq, e, prev),
        cols,
    );
    drop(conn);
    let out = h.run(&["audit", "verify"], None).code(1);
    assert!(
        out.text().contains("BROKEN at row 2") && out.text().contains("MAC"),
        "{}",
        out.text()
    );
    assert!(out.stderr.contains("row 2"), "{}", out.stderr);
    // The head is refused too: an operator cannot record a forged one.
    let out = h.run(&["audit", "head"], None).code(1);
    assert!(out.stderr.contains("row 5"), "{}", out.stderr);
    assert!(out.text().is_empty());
}

/// Regression (issue 13, finding 3): rows cut off the end leave a chain that checks out; a head
/// recorded before (`hush audit head`) finds them, also when new rows were written in their
/// place. Rows after the head are fine.
#[test]
fn a_recorded_head_detects_rows_cut_off_the_end() {
    if sqlite_only("deleting rows with rusqlite") {
        return;
    }
    let h = home_with_rows(5);
    let out = h.run(&["audit", "head"], None).ok();
    let head = out.text().trim().to_string();
    let (seq, mac) = head.split_once(':').unwrap();
    assert_eq!(seq, "5");
    assert_eq!(mac.len(), 64);
    let json = h.run(&["audit", "head", "-o", "json"], None).ok().json();
    assert_eq!(json["seq"], 5);
    assert_eq!(json["mac"], mac);
    let head_file = h.path().join("head.json");
    std::fs::write(&head_file, json.to_string()).unwrap();
    let head_txt = h.path().join("head.txt");
    std::fs::write(&head_txt, format!("{head}\n")).unwrap();

    // The chain grows: the recorded head is still there.
    h.set("later", b"v");
    let out = h.run(&["audit", "verify", "--head", &head], None).ok();
    assert!(
        out.text().contains("intact: 6 rows")
            && out.text().contains("recorded head 5 is there unchanged"),
        "{}",
        out.text()
    );
    let v = h
        .run(
            &[
                "audit",
                "verify",
                "--head-file",
                head_txt.to_str().unwrap(),
                "-o",
                "json",
            ],
            None,
        )
        .ok()
        .json();
    assert_eq!(
        (v["head_checked"].clone(), v["head_seq"].clone()),
        (true.into(), 6.into())
    );

    // Cut rows 4 to 6.
    let conn = Connection::open(h.db()).unwrap();
    conn.execute("DELETE FROM audit_log WHERE seq > 3", [])
        .unwrap();
    drop(conn);
    let out = h.run(&["audit", "verify"], None).ok();
    assert!(
        out.text().contains("intact: 3 rows"),
        "without a head, a cut end cannot show: {}",
        out.text()
    );
    let out = h.run(&["audit", "verify", "--head", &head], None).code(1);
    assert!(
        out.text().contains("BROKEN at row 5") && out.text().contains("missing"),
        "{}",
        out.text()
    );
    let out = h
        .run(
            &[
                "audit",
                "verify",
                "--head-file",
                head_file.to_str().unwrap(),
                "-o",
                "json",
            ],
            None,
        )
        .code(1);
    assert_eq!(out.json()["first_bad_seq"], 5);

    // New rows written by hush in place of the cut ones: they check out, but not as the head.
    h.set("again1", b"v");
    h.set("again2", b"v");
    h.run(&["audit", "verify"], None).ok();
    let out = h.run(&["audit", "verify", "--head", &head], None).code(1);
    assert!(
        out.text().contains("BROKEN at row 5") && out.text().contains("recorded head"),
        "{}",
        out.text()
    );
}

/// A malformed head is a usage error naming the flag, never echoing what was given.
#[test]
fn a_malformed_head_is_refused_without_echoing_it() {
    let h = home_with_rows(1);
    for bad in [
        "1:planted-head-text",
        "planted-head-text",
        "-1:planted",
        &format!("x{}:{}", "1", "a".repeat(64)),
    ] {
        let out = h
            .run(&["audit", "verify", &format!("--head={bad}")], None)
            .code(2);
        assert!(out.stderr.contains("--head"), "{}", out.stderr);
        assert!(!out.all().contains("planted"), "{}", out.all());
    }
    let f = h.path().join("bad-head");
    std::fs::write(&f, "{\"seq\": \"planted\"}").unwrap();
    let out = h
        .run(
            &["audit", "verify", "--head-file", f.to_str().unwrap()],
            None,
        )
        .code(2);
    assert!(
        out.stderr.contains("--head-file") && !out.all().contains("planted"),
        "{}",
        out.all()
    );
    h.run(
        &["audit", "verify", "--head-file", "/nonexistent/head"],
        None,
    )
    .code(2);
}

/// Rotation rewraps the audit key with the data keys and forgets the old root key: rows from
/// before and after verify as one chain, and a head recorded before the rotation still checks.
#[test]
fn key_rotation_keeps_old_rows_verifiable() {
    let h = home_with_rows(3);
    let head = h
        .run(&["audit", "head"], None)
        .ok()
        .text()
        .trim()
        .to_string();
    h.run(&["keys", "rotate"], None).ok();
    h.set("between", b"v");
    h.run(&["keys", "rotate"], None).ok();
    h.set("after", b"v");
    let out = h.run(&["audit", "verify", "--head", &head], None).ok();
    assert!(
        // 3 rows, each rotation's `keys.rotate` row (issue 17) and the two writes.
        out.text().contains("intact: 7 rows")
            && out.text().contains("recorded head 3 is there unchanged"),
        "{}",
        out.text()
    );
    let v = h.run(&["audit", "verify", "-o", "json"], None).ok().json();
    assert_eq!(v["legacy_rows"], 0);
    assert_eq!(v["head_seq"], 7);
}

/// A store written by a hush from before the keyed chain: its rows keep their SHA-256 links
/// and are checked as such; the store gets its audit key at the first open, with a keyed row
/// (`audit.key.create`) that anchors them — editing an old row and recomputing the old hashes
/// then breaks that row's link.
#[test]
fn stores_from_before_the_keyed_chain_are_upgraded_and_their_rows_anchored() {
    if sqlite_only("making an older schema with rusqlite") {
        return;
    }
    let h = home_with_rows(3);
    // Back to schema 5 as the previous hush wrote it (without migrations 6 to 15).
    let conn = Connection::open(h.db()).unwrap();
    conn.execute_batch(
        "DROP INDEX tokens_live;
         CREATE INDEX audit_log_key ON audit_log (key);
         ALTER TABLE audit_log DROP COLUMN items;
         DROP TABLE webhook_deliveries;
         DROP TABLE webhooks;
         DROP INDEX secrets_expires;
         DROP TABLE expiry_notices;
         DROP TABLE events;
         ALTER TABLE secrets DROP COLUMN notify_before;
         ALTER TABLE app_keys DROP COLUMN last_read_env;
         DROP TABLE audit_checkpoint;
         ALTER TABLE audit_log DROP COLUMN request_id;
         ALTER TABLE audit_log DROP COLUMN detail;
         ALTER TABLE secrets DROP COLUMN env_versions;
         ALTER TABLE audit_log DROP COLUMN env;
         CREATE TABLE sv (secret_id TEXT NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
             version INTEGER NOT NULL, key_version INTEGER NOT NULL, ciphertext BLOB NOT NULL,
             created_at INTEGER NOT NULL, created_by TEXT NOT NULL,
             PRIMARY KEY (secret_id, version));
         INSERT INTO sv SELECT secret_id, version, key_version, ciphertext, created_at, created_by
             FROM secret_values;
         DROP TABLE secret_values;
         ALTER TABLE sv RENAME TO secret_values;
         DROP TABLE audit_key;
         ALTER TABLE audit_log RENAME COLUMN prev_mac TO prev_hash;
         ALTER TABLE audit_log RENAME COLUMN mac TO hash;
         PRAGMA user_version = 5;",
    )
    .unwrap();
    relink(&conn, 1, audit::legacy_hash, ("prev_hash", "hash"));
    drop(conn);

    let out = h.run(&["audit", "verify"], None).ok();
    assert!(
        out.text()
            .contains("intact: 4 rows (rows 1 to 3 predate the keyed chain"),
        "{}",
        out.text()
    );
    let rows = h.run(&["audit", "-o", "json"], None).ok().json();
    assert_eq!(rows[3]["action"], "audit.key.create");
    assert_eq!(rows[3]["actor_name"], "hush");
    h.set("new", b"v");
    let v = h.run(&["audit", "verify", "-o", "json"], None).ok().json();
    assert_eq!(
        (v["rows"].clone(), v["legacy_rows"].clone()),
        (5.into(), 3.into())
    );

    // An old row edited and the old hashes recomputed: row 4's MAC covers the link it had.
    let conn = Connection::open(h.db()).unwrap();
    conn.execute("UPDATE audit_log SET outcome = 'denied' WHERE seq = 2", [])
        .unwrap();
    let mut prev: String = conn
        .query_row("SELECT mac FROM audit_log WHERE seq = 1", [], |r| r.get(0))
        .unwrap();
    for (seq, e) in rows_of(&conn)
        .into_iter()
        .filter(|(s, _)| (2..=3).contains(s))
    {
        let hash = audit::legacy_hash(seq, &e, &prev);
        conn.execute(
            "UPDATE audit_log SET prev_mac = ?1, mac = ?2 WHERE seq = ?3",
            params![prev, hash, seq],
        )
        .unwrap();
        prev = hash;
    }
    drop(conn);
    let out = h.run(&["audit", "verify", "-o", "json"], None).code(1);
    assert_eq!(out.json()["first_bad_seq"], 4);
}

/// Against a server: `hush audit head` and `verify --head` over the API, the API's head fields
/// and parameters, and a cut end found through them.
#[test]
fn heads_work_against_a_server() {
    let server = Server::start();
    server.put("k", serde_json::json!({"value": "v"}));
    let client = Home::empty();
    let run = |args: &[&str]| {
        let mut c = client.command(args);
        c.env("HUSH_ADDR", &server.base)
            .env("HUSH_TOKEN", &server.admin);
        client.run_with(c, None)
    };
    let head = run(&["audit", "head"]).ok().text().trim().to_string();
    let (seq, mac) = head.split_once(':').unwrap();
    let (s, h) = server.call("GET", "/v1/audit/head", &server.admin, None);
    assert_eq!(s, 200);
    assert_eq!(
        (h["seq"].to_string(), h["mac"].as_str().unwrap()),
        (seq.to_string(), mac)
    );

    let (s, v) = server.call(
        "GET",
        &format!("/v1/audit/verify?head_seq={seq}&head_mac={mac}"),
        &server.admin,
        None,
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["intact"], true);
    assert_eq!(v["head_checked"], true);
    assert_eq!(v["head_seq"].to_string(), seq);
    assert_eq!(v["head_mac"], mac);
    let (s, v) = server.call("GET", "/v1/audit/verify", &server.admin, None);
    assert_eq!((s.as_u16(), v["head_checked"].clone()), (200, false.into()));
    let (s, v) = server.call(
        "GET",
        &format!("/v1/audit/verify?head_seq={seq}&head_mac=planted"),
        &server.admin,
        None,
    );
    assert_eq!(s, 422, "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("head_mac") && !msg.contains("planted"),
        "{msg}"
    );
    let (s, v) = server.call(
        "GET",
        &format!("/v1/audit/verify?head_seq={seq}"),
        &server.admin,
        None,
    );
    assert_eq!(s, 422, "{v}");
    let read = server.token(serde_json::json!({"name": "r", "role": "read"}));
    let (s, _) = server.call("GET", "/v1/audit/head", &read, None);
    assert_eq!(s, 403);

    let out = run(&["audit", "verify", "--head", &head]).ok();
    assert!(out.text().contains("recorded head"), "{}", out.text());
    if sqlite_only("deleting rows of the server's file") {
        return;
    }
    let conn = Connection::open(server.db()).unwrap();
    conn.execute(
        "DELETE FROM audit_log WHERE seq >= ?1",
        [seq.parse::<i64>().unwrap()],
    )
    .unwrap();
    drop(conn);
    let out = run(&["audit", "verify", "--head", &head, "-o", "json"]).code(1);
    assert_eq!(out.json()["first_bad_seq"].to_string(), seq);
}

/// The audit key record is bound to where the keyed chain starts: moving that boundary (to pass
/// keyed rows off as unkeyed ones) or damaging the wrapped key makes hush refuse the store.
#[test]
fn an_altered_audit_key_record_is_refused() {
    if sqlite_only("editing the audit key record with rusqlite") {
        return;
    }
    let h = home_with_rows(2);
    let conn = Connection::open(h.db()).unwrap();
    conn.execute("UPDATE audit_key SET keyed_from = 3", [])
        .unwrap();
    drop(conn);
    let out = h.run(&["audit", "verify"], None).code(1);
    assert!(
        out.stderr.contains("audit key does not unwrap"),
        "{}",
        out.stderr
    );
    let out = h.run(&["secrets", "list"], None).code(1);
    assert!(out.stderr.contains("tampered"), "{}", out.stderr);
}

/// `hush audit export`: JSON lines, oldest first, each row with its sequence number and MAC,
/// bounded by --since/--until; never a value.
#[test]
fn export_writes_json_lines_for_a_siem() {
    let h = Home::new();
    h.set("exported", b"planted-export-value");
    h.get("exported");
    let out = h.run(&["audit", "export"], None).ok();
    let lines: Vec<serde_json::Value> = out
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 2, "{lines:?}");
    let seqs: Vec<i64> = lines.iter().map(|l| l["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert!(lines
        .iter()
        .all(|l| l["hash"].as_str().is_some_and(|m| m.len() == 64)));
    assert!(!out.all().contains("planted-export-value"));
    assert!(out.stderr.contains("exported"), "{}", out.stderr);
    let none = h
        .run(
            &["audit", "export", "--until", "2001-01-01T00:00:00Z"],
            None,
        )
        .ok();
    assert!(none.text().is_empty(), "{}", none.text());
    h.run(&["audit", "export", "--since", "yesterday-ish"], None)
        .code(2);
}

/// A moment between two writes, as RFC 3339 with milliseconds.
fn a_moment() -> String {
    std::thread::sleep(std::time::Duration::from_millis(5));
    let t = hush_core::clock::rfc3339_ms(hush_core::clock::now_ms());
    std::thread::sleep(std::time::Duration::from_millis(5));
    t
}

/// Issue 18: `hush audit prune --before` removes the older rows and keeps a checkpoint;
/// `verify` proves the rest from it and says so; the prune is itself a row; a future or
/// unreadable time is a usage error; a tampered checkpoint is found, and a broken chain is not
/// pruned.
#[test]
fn prune_removes_old_rows_and_verify_starts_from_the_checkpoint() {
    let h = home_with_rows(2);
    let before = a_moment();
    h.set("late", b"planted-prune-value");
    let old = h.run(&["audit", "-o", "json"], None).ok().json();
    let old = old.as_array().unwrap().clone();
    let kept_from = old.iter().position(|r| r["key"] == "late").unwrap();
    let last = &old[kept_from - 1];

    h.run(
        &["audit", "prune", "--before", "2999-01-01T00:00:00Z"],
        None,
    )
    .code(2);
    let out = h.run(&["audit", "prune", "--before", "soon"], None).code(2);
    assert!(out.stderr.contains("--before"), "{}", out.stderr);
    h.run(&["audit", "prune"], None).code(2);

    let out = h.run(&["audit", "prune", "--before", &before], None).ok();
    assert!(
        out.text().contains(&format!(
            "pruned {kept_from} audit row(s) older than {before}"
        )),
        "{}",
        out.text()
    );
    let checkpoint = format!("{}:{}", last["seq"], last["hash"].as_str().unwrap());
    assert!(
        out.text().contains(&format!("checkpoint: {checkpoint}")),
        "{}",
        out.text()
    );
    let rows = h.run(&["audit", "-o", "json"], None).ok().json();
    let rows = rows.as_array().unwrap().clone();
    assert_eq!(rows[0]["seq"], old[kept_from]["seq"]);
    let prune = rows.last().unwrap();
    assert_eq!(prune["action"], "audit.prune");
    assert!(
        prune["detail"].as_str().unwrap().contains(&before),
        "{prune}"
    );
    assert!(
        prune.get("request_id").is_none(),
        "no request on the embedded store"
    );
    let table = h.run(&["audit"], None).ok();
    assert!(table.text().contains("DETAIL") && table.text().contains("audit.prune"));

    let out = h.run(&["audit", "verify"], None).ok();
    assert!(
        out.text().contains(&format!("checkpoint: {checkpoint}")),
        "{}",
        out.text()
    );
    assert!(
        out.text().contains(&format!(
            "head: {}:{}",
            prune["seq"],
            prune["hash"].as_str().unwrap()
        )),
        "{}",
        out.text()
    );
    let v = h.run(&["audit", "verify", "-o", "json"], None).ok().json();
    assert_eq!(v["checkpoint"]["seq"], last["seq"]);
    // A head recorded before the prune, now pruned: the chain runs on past it.
    let old_head = format!("{}:{}", old[0]["seq"], old[0]["hash"].as_str().unwrap());
    let out = h.run(&["audit", "verify", "--head", &old_head], None).ok();
    assert!(out.text().contains("was pruned since"), "{}", out.text());
    // Again: nothing older now.
    let out = h.run(&["audit", "prune", "--before", &before], None).ok();
    assert!(out.text().contains("nothing was pruned"), "{}", out.text());
    let export = h.run(&["audit", "export"], None).ok();
    assert!(export.text().contains("\"detail\""), "{}", export.text());
    assert!(!export.all().contains("planted-prune-value"));

    if sqlite_only("editing the checkpoint with rusqlite") {
        return;
    }
    // The checkpoint moved over a row deleted from the front: found, and no prune then.
    let conn = Connection::open(h.db()).unwrap();
    let first = rows[0]["seq"].as_i64().unwrap();
    conn.execute("DELETE FROM audit_log WHERE seq = ?1", [first])
        .unwrap();
    conn.execute(
        "UPDATE audit_checkpoint SET seq = ?1, mac = ?2",
        params![first, rows[0]["hash"].as_str().unwrap()],
    )
    .unwrap();
    drop(conn);
    let out = h.run(&["audit", "verify"], None).code(1);
    assert!(out.text().contains("checkpoint"), "{}", out.text());
    let out = h.run(&["audit", "prune", "--before", "1s"], None).code(1);
    assert!(out.stderr.contains("nothing was pruned"), "{}", out.stderr);
}

/// Against a server: `hush audit prune` over the API (an admin of `default` only), `verify`
/// from the checkpoint, and the request id of each request in its audit rows.
#[test]
fn prune_and_request_ids_work_against_a_server() {
    let server = Server::start();
    server.put("k", serde_json::json!({"value": "v"}));
    let before = a_moment();
    server.put("k2", serde_json::json!({"value": "v"}));
    let client = Home::empty();
    let run = |token: &str, args: &[&str]| {
        let mut c = client.command(args);
        c.env("HUSH_ADDR", &server.base).env("HUSH_TOKEN", token);
        client.run_with(c, None)
    };
    let read = server.token(serde_json::json!({"name": "r", "role": "read"}));
    run(&read, &["audit", "prune", "--before", &before]).code(5);
    let out = run(
        &server.admin,
        &["audit", "prune", "--before", &before, "-o", "json"],
    )
    .ok();
    let pruned = out.json();
    assert!(pruned["removed"].as_u64().unwrap() >= 1, "{pruned}");
    let out = run(&server.admin, &["audit", "verify"]).ok();
    let cp = &pruned["checkpoint"];
    assert!(
        out.text().contains(&format!(
            "checkpoint: {}:{}",
            cp["seq"],
            cp["mac"].as_str().unwrap()
        )),
        "{}",
        out.text()
    );
    let rows = run(&server.admin, &["audit", "-o", "json"]).ok().json();
    let rows = rows.as_array().unwrap().clone();
    assert_eq!(
        rows[0]["seq"].as_i64().unwrap(),
        cp["seq"].as_i64().unwrap() + 1
    );
    // Every row a request wrote names its request id.
    assert!(
        rows.iter()
            .all(|r| r["request_id"].as_str().is_some_and(|id| !id.is_empty())),
        "{rows:?}"
    );
    let prune = rows
        .iter()
        .find(|r| r["action"] == "audit.prune" && r["outcome"] == "ok")
        .unwrap();
    assert!(
        prune["detail"].as_str().unwrap().contains(&before),
        "{prune}"
    );
}

//! A database made by an older hush is upgraded at connect, keeping what it holds.

use hush_core::audit::{self, AuditEntry, AuditFilter, AuditKey, ChainKey, Verdict};
use hush_core::store::{AuditKeyRow, Store, StoreError};
use hush_store_postgres::testing::{self, TestDatabase, SCHEMA_1};
use hush_store_postgres::PostgresStore;

fn entry(n: i64) -> AuditEntry {
    AuditEntry {
        ts_ms: n,
        actor_id: "tok_t".into(),
        actor_name: "t".into(),
        action: "secret.read".into(),
        workspace: Some("default".into()),
        key: Some(format!("k{n}")),
        version: Some(1),
        outcome: "ok".into(),
        env: None,
        remote: None,
        request_id: None,
        detail: None,
        items: Vec::new(),
    }
}

/// Schema 1 with audit rows chained by plain SHA-256 (as hush wrote them then): the rows and
/// their links are kept, nothing can be appended until the store has its audit key, and once
/// it has, new rows link on keyed with the old ones checked as hashes before them.
#[tokio::test]
async fn schema_1_databases_are_upgraded_keeping_the_chain() {
    let Some(admin) = testing::admin_url() else {
        return;
    };
    let db = TestDatabase::create(&admin);
    let store = PostgresStore::connect_lazy(&db.url).unwrap();
    let mut sql = format!(
        "{SCHEMA_1}
         CREATE TABLE hush_schema (version INTEGER NOT NULL);
         INSERT INTO hush_schema (version) VALUES (1);
         INSERT INTO root_keys (version, kind, check_value, created_at) VALUES (1, 'raw', '\\x01', 1);"
    );
    let mut prev = audit::GENESIS.to_string();
    for seq in 1..=3 {
        let e = entry(seq);
        let hash = audit::legacy_hash(seq, &e, &prev);
        sql.push_str(&format!(
            "INSERT INTO audit_log (seq, ts_ms, actor_id, actor_name, action, workspace, key, version, outcome, remote, prev_hash, hash)
             VALUES ({seq}, {seq}, 'tok_t', 't', 'secret.read', 'default', 'k{seq}', 1, 'ok', NULL, '{prev}', '{hash}');"
        ));
        prev = hash;
    }
    sql.push_str(&format!(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, 3, '{prev}');"
    ));
    store.execute_admin(&sql).await.unwrap();
    store.migrate().await.unwrap();

    assert_eq!(store.audit_key().await.unwrap(), None);
    let r = store.append_audit(&[entry(9)]).await;
    assert!(matches!(r, Err(StoreError::NoAuditKey)), "{r:?}");
    let key = AuditKey::generate().unwrap();
    let row = AuditKeyRow {
        root_version: 1,
        wrapped: vec![7; 60],
        keyed_from: 4,
        created_at: 1,
    };
    let stale = AuditKeyRow {
        keyed_from: 3,
        ..row.clone()
    };
    let r = store.create_audit_key(&stale, &key, &entry(4)).await;
    assert!(
        matches!(r, Err(StoreError::Conflict)),
        "keyed_from must follow the newest row: {r:?}"
    );
    store.create_audit_key(&row, &key, &entry(4)).await.unwrap();
    store.set_audit_key(key.clone());
    store.append_audit(&[entry(5)]).await.unwrap();
    let rows = store.audit(&AuditFilter::default()).await.unwrap();
    let verdict = audit::verify(&rows, &ChainKey { key, keyed_from: 4 }, None);
    assert!(
        matches!(
            verdict,
            Verdict::Intact {
                rows: 5,
                legacy: 3,
                ..
            }
        ),
        "{verdict:?}"
    );
    assert_eq!(store.audit_key().await.unwrap(), Some(row));
    store.close().await;
}

//! The store conformance suite: every behaviour the service relies on, written once against
//! the [`Store`] trait and run unchanged against each backend (rustls's provider tests, teller's
//! provider harness). A backend's test file calls [`conformance_tests!`] with an expression
//! that makes a fresh, empty store.
//!
//! It owns the contract every [`Store`] must keep. It must never depend on one backend's
//! details, or pass a backend that loses a write, forks the audit chain or lets a stale
//! compare-and-swap win.
//!
//! The suite stores made-up bytes where ciphertexts go: a store never looks inside them.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;

use hush_core::app::{AppKeyRow, AppRow, ReadMark, UseRow};
use hush_core::audit::{
    self, AuditEntry, AuditFilter, AuditKey, AuditRow, ChainKey, Checkpoint, Head, Verdict,
};
use hush_core::event::EventKind;
use hush_core::model::{
    ListFilter, Metadata, SealedValue, SecretRow, Status, StoredStatus, Workspace,
};
use hush_core::store::{
    AppKeyDumpRow, AuditKeyRow, Commit, DataKeyRow, Dump, RootKeyKind, RootKeyRow, SecretWrite,
    Store, StoreError,
};
use hush_core::token::{Role, TokenRow};

/// Generates one `#[tokio::test]` per conformance check; `$make` is an async expression giving
/// a fresh, empty `Arc<dyn Store>` (or anything that derefs to a `Store`).
#[macro_export]
macro_rules! conformance_tests {
    (@names $mode:ident $make:expr) => {
        $crate::conformance_tests!(@each $mode $make;
            initialize_once, workspaces_are_unique, workspace_keys_follow_the_newest_root,
            create_conflicts_on_existing_key, cas_refuses_stale_revisions, failed_write_changes_nothing,
            versions_and_values, list_filters, delete_is_guarded, rotation_refuses_unseen_data_keys,
            writes_and_their_audit_rows_commit_together, audit_chain_links_every_append, tokens_by_hash_and_revocation,
            apps_register_replace_and_delete, in_use_secrets_refuse_delete, reads_are_marked_with_their_audit,
            read_marks_name_their_environment,
            a_batch_commits_each_unit_alone, audit_rows_are_keyed_and_never_written_without_the_key,
            the_audit_key_is_recorded_once_and_rewrapped_by_rotation, the_audit_head_is_the_newest_row,
            environment_values_are_kept_apart, audit_prune_keeps_a_checkpoint_and_the_chain_goes_on,
            audit_rows_keep_their_request_id_and_detail, the_audit_tail_is_the_rows_after_one,
            audit_rows_are_found_by_any_key_of_their_items,
            events_are_made_by_the_audit_rows_that_changed_something,
            webhook_deliveries_are_queued_once_and_claimed_by_one);
        $crate::conformance_tests!(@pairs $mode $make;
            a_dump_loads_into_an_empty_store_row_for_row, a_load_into_a_store_with_rows_writes_nothing);
    };
    (@pairs required $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (from, to) = ($make, $make);
                $crate::$name(&*from, &*to).await;
            }
        )*
    };
    (@pairs optional $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test]
            async fn $name() {
                let Some(from) = $make else { return };
                let Some(to) = $make else { return };
                $crate::$name(&*from, &*to).await;
            }
        )*
    };
    (@each required $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test]
            async fn $name() {
                let store = $make;
                $crate::$name(&*store).await;
            }
        )*
    };
    (@each optional $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test]
            async fn $name() {
                // `None`: the backend is not available here (the maker said why).
                let Some(store) = $make else { return };
                $crate::$name(&*store).await;
            }
        )*
    };
    (optional $make:expr) => {
        $crate::conformance_tests!(@names optional $make);
    };
    ($make:expr) => {
        $crate::conformance_tests!(@names required $make);
    };
}

fn entry(action: &str) -> AuditEntry {
    AuditEntry {
        ts_ms: 1,
        actor_id: "tok_t".into(),
        actor_name: "t".into(),
        action: action.into(),
        workspace: Some("default".into()),
        key: Some("k".into()),
        version: None,
        outcome: "ok".into(),
        env: None,
        remote: None,
        request_id: None,
        detail: None,
        items: Vec::new(),
    }
}

fn root(version: u32) -> RootKeyRow {
    RootKeyRow {
        version,
        kind: RootKeyKind::Raw,
        salt: None,
        kdf: None,
        check: vec![version as u8; 33],
        created_at: 1,
    }
}

fn ws(name: &str) -> Workspace {
    Workspace {
        id: format!("ws_{name}"),
        name: name.into(),
        created_at: 1,
    }
}

fn dk(ws: &Workspace, version: u32, root_version: u32) -> DataKeyRow {
    DataKeyRow {
        workspace_id: ws.id.clone(),
        version,
        root_version,
        wrapped: vec![7; 60],
        created_at: 1,
    }
}

/// The audit key the suite's stores authenticate rows with.
fn audit_key() -> AuditKey {
    AuditKey::from_key(hush_crypto::Key::from_bytes([42; 32]))
}

/// The wrapped audit key as recorded under root key `root_version` (made-up bytes: a store
/// never looks inside).
fn audit_key_row(root_version: u32) -> AuditKeyRow {
    AuditKeyRow {
        root_version,
        wrapped: vec![9; 60],
        keyed_from: 1,
        created_at: 1,
    }
}

/// How the suite checks a chain: the suite's key, keyed from row 1.
fn chain_key() -> ChainKey {
    ChainKey {
        key: audit_key(),
        keyed_from: 1,
    }
}

/// The number of rows of an intact chain; panics naming the bad row otherwise.
fn intact(rows: &[AuditRow]) -> usize {
    match audit::verify(rows, &chain_key(), None) {
        Verdict::Intact { rows, .. } => rows,
        Verdict::Broken { seq, reason, .. } => panic!("chain broken at row {seq}: {reason}"),
    }
}

/// An initialised store with workspace `default`, holding the suite's audit key.
async fn ready(s: &dyn Store) -> Workspace {
    let w = ws("default");
    s.initialize(&root(1), &w, &dk(&w, 1, 1), &audit_key_row(1))
        .await
        .unwrap();
    s.set_audit_key(audit_key());
    w
}

fn row(w: &Workspace, key: &str, revision: u64, version: u64) -> SecretRow {
    SecretRow {
        id: format!("sec_{key}"),
        workspace_id: w.id.clone(),
        key: key.into(),
        meta: Metadata::default(),
        status: StoredStatus::Active,
        version,
        env_versions: Default::default(),
        revision,
        created_at: 10,
        updated_at: 10,
        created_by: "t".into(),
        updated_by: "t".into(),
    }
}

fn sealed(version: u64, fill: u8) -> SealedValue {
    SealedValue {
        env: String::new(),
        version,
        key_version: 1,
        ciphertext: vec![fill; 40],
        created_at: 10 + version as i64,
        created_by: "t".into(),
    }
}

async fn create(s: &dyn Store, w: &Workspace, key: &str) -> SecretRow {
    let r = row(w, key, 1, 1);
    s.write_secret(&SecretWrite {
        row: r.clone(),
        expected_revision: None,
        value: Some(sealed(1, 1)),
        drop_env: None,
        audit: entry("w"),
    })
    .await
    .unwrap();
    r
}

/// `initialize` succeeds once; then it is refused and nothing changes.
pub async fn initialize_once(s: &dyn Store) {
    assert!(s.root_keys().await.unwrap().is_empty());
    let w = ready(s).await;
    let again = s
        .initialize(
            &root(1),
            &ws("other"),
            &dk(&ws("other"), 1, 1),
            &audit_key_row(1),
        )
        .await;
    assert!(
        matches!(again, Err(StoreError::AlreadyInitialized)),
        "{again:?}"
    );
    assert_eq!(s.root_keys().await.unwrap(), vec![root(1)]);
    assert_eq!(s.workspaces().await.unwrap(), vec![w]);
}

/// Workspace names are unique.
pub async fn workspaces_are_unique(s: &dyn Store) {
    ready(s).await;
    let b = ws("b");
    s.create_workspace(&b, &dk(&b, 1, 1)).await.unwrap();
    let dup = Workspace {
        id: "ws_other_id".into(),
        ..b.clone()
    };
    let r = s.create_workspace(&dup, &dk(&dup, 1, 1)).await;
    assert!(matches!(r, Err(StoreError::Exists)), "{r:?}");
    assert_eq!(s.workspace_by_name("b").await.unwrap(), Some(b));
    assert_eq!(s.workspace_by_name("nope").await.unwrap(), None);
    assert_eq!(
        s.data_keys(Some("ws_other_id")).await.unwrap(),
        vec![],
        "a refused workspace leaves no key"
    );
}

/// A new workspace's data key must be wrapped by the newest root key version.
pub async fn workspace_keys_follow_the_newest_root(s: &dyn Store) {
    let w = ready(s).await;
    s.rotate_keys(
        &root(2),
        &[dk(&w, 1, 2)],
        &[dk(&w, 2, 2)],
        &audit_key_row(2),
        &entry("keys.rotate"),
    )
    .await
    .unwrap();
    let c = ws("c");
    let r = s.create_workspace(&c, &dk(&c, 1, 1)).await;
    assert!(matches!(r, Err(StoreError::Conflict)), "{r:?}");
    assert_eq!(s.workspace_by_name("c").await.unwrap(), None);
    s.create_workspace(&c, &dk(&c, 1, 2)).await.unwrap();
}

/// Creating a key that exists is refused with `Exists`.
pub async fn create_conflicts_on_existing_key(s: &dyn Store) {
    let w = ready(s).await;
    let first = create(s, &w, "k").await;
    let mut second = row(&w, "k", 1, 1);
    second.id = "sec_other".into();
    let r = s
        .write_secret(&SecretWrite {
            row: second,
            expected_revision: None,
            value: Some(sealed(1, 2)),
            drop_env: None,
            audit: entry("w"),
        })
        .await;
    assert!(matches!(r, Err(StoreError::Exists)), "{r:?}");
    assert_eq!(s.secret(&w.id, "k").await.unwrap(), Some(first));
    assert!(s.value("sec_other", "", 1).await.unwrap().is_none());
}

/// A write based on a stale revision is refused with `Conflict`.
pub async fn cas_refuses_stale_revisions(s: &dyn Store) {
    let w = ready(s).await;
    create(s, &w, "k").await;
    let mut next = row(&w, "k", 2, 2);
    next.meta.description = Some("v2".into());
    s.write_secret(&SecretWrite {
        row: next.clone(),
        expected_revision: Some(1),
        value: Some(sealed(2, 2)),
        drop_env: None,
        audit: entry("w"),
    })
    .await
    .unwrap();
    let mut stale = row(&w, "k", 2, 1);
    stale.meta.description = Some("stale".into());
    let r = s
        .write_secret(&SecretWrite {
            row: stale,
            expected_revision: Some(1),
            value: None,
            drop_env: None,
            audit: entry("w"),
        })
        .await;
    assert!(matches!(r, Err(StoreError::Conflict)), "{r:?}");
    assert_eq!(s.secret(&w.id, "k").await.unwrap(), Some(next));
}

/// When the value insert fails, the row update in the same write is rolled back too.
pub async fn failed_write_changes_nothing(s: &dyn Store) {
    let w = ready(s).await;
    let first = create(s, &w, "k").await;
    let mut bad = row(&w, "k", 2, 1);
    bad.meta.description = Some("should not stick".into());
    // Version 1 exists already: the value insert conflicts.
    let r = s
        .write_secret(&SecretWrite {
            row: bad,
            expected_revision: Some(1),
            value: Some(sealed(1, 9)),
            drop_env: None,
            audit: entry("w"),
        })
        .await;
    assert!(matches!(r, Err(StoreError::Conflict)), "{r:?}");
    assert_eq!(s.secret(&w.id, "k").await.unwrap(), Some(first));
    assert_eq!(
        s.value("sec_k", "", 1).await.unwrap().unwrap().ciphertext,
        vec![1; 40]
    );
}

/// Versions are listed oldest first; values are found by version.
pub async fn versions_and_values(s: &dyn Store) {
    let w = ready(s).await;
    create(s, &w, "k").await;
    for v in 2..=3u64 {
        s.write_secret(&SecretWrite {
            row: row(&w, "k", v, v),
            expected_revision: Some(v - 1),
            value: Some(sealed(v, v as u8)),
            drop_env: None,
            audit: entry("w"),
        })
        .await
        .unwrap();
    }
    let versions: Vec<u64> = s
        .versions("sec_k")
        .await
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(versions, vec![1, 2, 3]);
    assert_eq!(
        s.value("sec_k", "", 2).await.unwrap().unwrap().ciphertext,
        vec![2; 40]
    );
    assert!(s.value("sec_k", "", 4).await.unwrap().is_none());
    // The row with a value, in one call: the current version, a given one, a missing one.
    let r = s
        .secret_with_value(&w.id, "k", None, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((r.row.version, r.value.unwrap()), (3, sealed(3, 3)));
    let r = s
        .secret_with_value(&w.id, "k", Some(2), false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.value.unwrap(), sealed(2, 2));
    let r = s
        .secret_with_value(&w.id, "k", Some(4), true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((r.row.key.as_str(), r.value, r.uses), ("k", None, vec![]));
    let missing = s
        .secret_with_value(&w.id, "nope", None, true)
        .await
        .unwrap();
    assert!(missing.is_none());
    // Several keys at once, as a resolve reads them: one answer per key, in the order asked,
    // a missing key and a key asked twice included, each the same as the one-key read.
    create(s, &w, "j").await;
    let keys: Vec<String> = ["k", "nope", "j", "k"].map(String::from).to_vec();
    let many = s.secrets_with_values(&w.id, &keys).await.unwrap();
    assert_eq!(many.len(), 4);
    for (key, got) in keys.iter().zip(&many) {
        let one = s.secret_with_value(&w.id, key, None, false).await.unwrap();
        assert_eq!(got, &one, "{key}");
    }
    assert_eq!(many[0].as_ref().unwrap().value, Some(sealed(3, 3)));
    assert!(many[1].is_none());
    assert_eq!(many[2].as_ref().unwrap().row.key, "j");
    // Another workspace's key of the same name is not this one's.
    let other = s.secrets_with_values("ws_other", &keys).await.unwrap();
    assert!(other.iter().all(Option::is_none));
}

/// Filters: environment, app, prefix (no wildcards), status, cursor and limit.
pub async fn list_filters(s: &dyn Store) {
    let w = ready(s).await;
    let mk =
        |key: &str, envs: &[&str], scope: &[&str], status: StoredStatus, expires: Option<i64>| {
            let mut r = row(&w, key, 1, 1);
            r.meta.envs = envs.iter().map(|e| e.to_string()).collect();
            r.meta.scope = scope.iter().map(|e| e.to_string()).collect();
            r.meta.expires_at = expires;
            r.status = status;
            r
        };
    let rows = vec![
        mk("A_DEV", &["dev"], &["pay"], StoredStatus::Active, None),
        mk(
            "A_PRD",
            &["prd"],
            &["pay"],
            StoredStatus::Active,
            Some(1_000),
        ),
        mk("B_ALL", &[], &[], StoredStatus::Active, Some(10)),
        mk("C_REV", &[], &[], StoredStatus::Revoked, None),
        mk("AXB", &[], &["other"], StoredStatus::Active, None),
    ];
    for r in rows {
        s.write_secret(&SecretWrite {
            row: r,
            expected_revision: None,
            value: Some(sealed(1, 1)),
            drop_env: None,
            audit: entry("w"),
        })
        .await
        .unwrap();
    }
    let id = w.id.clone();
    let list = |f: ListFilter| {
        let id = id.clone();
        async move {
            s.list(&id, &f, 100)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.key)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list(ListFilter::default()).await,
        ["AXB", "A_DEV", "A_PRD", "B_ALL", "C_REV"]
    );
    assert_eq!(
        list(ListFilter {
            env: Some("prd".into()),
            ..Default::default()
        })
        .await,
        ["AXB", "A_PRD", "B_ALL", "C_REV"]
    );
    assert_eq!(
        list(ListFilter {
            app: Some("pay".into()),
            ..Default::default()
        })
        .await,
        ["A_DEV", "A_PRD", "B_ALL", "C_REV"]
    );
    assert_eq!(
        list(ListFilter {
            prefix: Some("A_".into()),
            ..Default::default()
        })
        .await,
        ["A_DEV", "A_PRD"]
    );
    assert_eq!(
        list(ListFilter {
            status: Some(Status::Expired),
            ..Default::default()
        })
        .await,
        ["B_ALL"]
    );
    assert_eq!(
        list(ListFilter {
            status: Some(Status::Revoked),
            ..Default::default()
        })
        .await,
        ["C_REV"]
    );
    assert_eq!(
        list(ListFilter {
            status: Some(Status::Active),
            ..Default::default()
        })
        .await,
        ["AXB", "A_DEV", "A_PRD"]
    );
    assert_eq!(
        list(ListFilter {
            after: Some("A_DEV".into()),
            limit: Some(2),
            ..Default::default()
        })
        .await,
        ["A_PRD", "B_ALL"]
    );
    // Issue 17: `expiring` is an active secret within its warning window (14 days unless
    // `notify_before` says otherwise); `active` takes it in, as it is still served.
    let mut far = mk("D_FAR", &[], &[], StoredStatus::Active, Some(10_000));
    far.meta.notify_before = Some(60);
    s.write_secret(&SecretWrite {
        row: far,
        expected_revision: None,
        value: Some(sealed(1, 1)),
        drop_env: None,
        audit: entry("w"),
    })
    .await
    .unwrap();
    assert_eq!(
        list(ListFilter {
            status: Some(Status::Expiring),
            ..Default::default()
        })
        .await,
        ["A_PRD"],
        "A_PRD is 900 s from its expiry; D_FAR's window of 60 s has not begun"
    );
    assert_eq!(
        s.list(&w.id, &ListFilter::default(), 100)
            .await
            .unwrap()
            .iter()
            .find(|r| r.key == "D_FAR")
            .and_then(|r| r.meta.notify_before),
        Some(60),
        "notify_before is kept"
    );
    assert_eq!(
        list(ListFilter {
            status: Some(Status::Active),
            ..Default::default()
        })
        .await,
        ["AXB", "A_DEV", "A_PRD", "D_FAR"]
    );
    // The gauge's count: active, not yet expired, expiring by `until`.
    assert_eq!(s.count_expiring(100, 1_000).await.unwrap(), 1);
    assert_eq!(s.count_expiring(100, 10_000).await.unwrap(), 2);
    assert_eq!(s.count_expiring(5, 1_000).await.unwrap(), 2, "B_ALL at 10");
    assert_eq!(s.count_expiring(100, 999).await.unwrap(), 0);
}

/// Delete is guarded by the revision and removes every version.
pub async fn delete_is_guarded(s: &dyn Store) {
    let w = ready(s).await;
    create(s, &w, "k").await;
    let r = s
        .delete_secret("sec_k", 7, false, &entry("secret.delete"))
        .await;
    assert!(matches!(r, Err(StoreError::Conflict)), "{r:?}");
    assert!(s.secret(&w.id, "k").await.unwrap().is_some());
    s.delete_secret("sec_k", 1, false, &entry("secret.delete"))
        .await
        .unwrap();
    assert!(s.secret(&w.id, "k").await.unwrap().is_none());
    assert!(s.value("sec_k", "", 1).await.unwrap().is_none());
    assert!(s.versions("sec_k").await.unwrap().is_empty());
    // The key can be used again.
    create(s, &w, "k").await;
}

/// A rotation that did not rewrap every data key is refused whole.
pub async fn rotation_refuses_unseen_data_keys(s: &dyn Store) {
    let w = ready(s).await;
    let b = ws("b");
    s.create_workspace(&b, &dk(&b, 1, 1)).await.unwrap();
    let r = s
        .rotate_keys(
            &root(2),
            &[dk(&w, 1, 2)],
            &[],
            &audit_key_row(2),
            &entry("keys.rotate"),
        )
        .await;
    assert!(matches!(r, Err(StoreError::Conflict)), "{r:?}");
    assert_eq!(
        s.root_keys().await.unwrap().len(),
        1,
        "nothing of the refused rotation stays"
    );
    assert_eq!(s.data_keys(Some(&w.id)).await.unwrap(), vec![dk(&w, 1, 1)]);
    assert!(
        s.audit(&AuditFilter::default()).await.unwrap().is_empty(),
        "a refused rotation appends no audit row"
    );
    s.rotate_keys(
        &root(2),
        &[dk(&w, 1, 2), dk(&b, 1, 2)],
        &[dk(&w, 2, 2), dk(&b, 2, 2)],
        &audit_key_row(2),
        &entry("keys.rotate"),
    )
    .await
    .unwrap();
    assert_eq!(s.data_keys(None).await.unwrap().len(), 4);
    // Issue 17: the rotation's audit row commits with it.
    let rows = s.audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| r.entry.action.as_str())
            .collect::<Vec<_>>(),
        ["keys.rotate"]
    );
}

/// A write and its audit row commit together; a refused write leaves no audit row.
pub async fn writes_and_their_audit_rows_commit_together(s: &dyn Store) {
    let w = ready(s).await;
    create(s, &w, "k").await;
    assert_eq!(s.audit(&AuditFilter::default()).await.unwrap().len(), 1);
    let r = s
        .write_secret(&SecretWrite {
            row: row(&w, "k", 2, 2),
            expected_revision: Some(9),
            value: None,
            drop_env: None,
            audit: entry("stale"),
        })
        .await;
    assert!(matches!(r, Err(StoreError::Conflict)), "{r:?}");
    let _ = s
        .delete_secret("sec_k", 9, false, &entry("stale-delete"))
        .await;
    let rows = s.audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| r.entry.action.as_str())
            .collect::<Vec<_>>(),
        ["w"],
        "only the committed write left a row"
    );
}

/// Two stores on the same database (two nodes, or a server and the CLI) append to one chain:
/// each in turn, so that each finds the head moved by the other since its own last append,
/// with batches of reads naming several keys and rows of other kinds between them. Every row
/// is there once, the chain is intact, and each key finds its rows.
pub async fn two_nodes_append_to_one_chain(a: &dyn Store, b: &dyn Store) {
    ready(a).await;
    b.set_audit_key(audit_key());
    let read = |node: &str, i: usize| {
        let mut e = entry("secret.read");
        e.actor_name = format!("{node}{i}");
        e.key = None;
        e.items = ["alpha", "beta"]
            .iter()
            .map(|k| hush_core::audit::AuditItem {
                key: (*k).into(),
                version: Some(1),
                env: None,
                outcome: "ok".into(),
                detail: None,
            })
            .collect();
        e
    };
    let reads = |node: &str, i: usize| Commit::Reads {
        entries: vec![read(node, i), read(node, i)],
        marks: Vec::new(),
    };
    let mut appended = 0;
    for i in 0..4 {
        for (node, s) in [("a", a), ("b", b)] {
            let done = s
                .commit_batch(&[reads(node, i), reads(node, i)])
                .await
                .unwrap();
            assert!(done.iter().all(Result::is_ok), "{done:?}");
            s.append_audit(&[entry("token.create")]).await.unwrap();
            appended += 5;
        }
    }
    let all = a.audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(all.len(), appended);
    assert_eq!(intact(&all), appended);
    assert_eq!(
        b.audit_head().await.unwrap().map(|h| h.seq),
        Some(appended as i64)
    );
    for who in ["a0", "b0", "a3", "b3"] {
        assert_eq!(
            all.iter().filter(|r| r.entry.actor_name == who).count(),
            4,
            "{who}'s rows"
        );
    }
    let alpha = a
        .audit(&AuditFilter {
            key: Some("alpha".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(alpha.len(), 32);
}

/// Several stores on the same database commit batches of reads at once, so that their
/// guesses of the chain's head collide all the time: every row is there once, each node's
/// rows are all there, and the chain is intact. The stores must share one database.
pub async fn nodes_appending_at_once_keep_one_chain(nodes: Vec<Arc<dyn Store>>) {
    const BATCHES: usize = 30;
    ready(&*nodes[0]).await;
    let mut tasks = tokio::task::JoinSet::new();
    for (n, node) in nodes.iter().enumerate() {
        node.set_audit_key(audit_key());
        let node = node.clone();
        tasks.spawn(async move {
            for i in 0..BATCHES {
                let unit = |j: usize| {
                    let mut e = entry("secret.read");
                    e.actor_name = format!("node{n}");
                    e.key = Some(format!("k{i}-{j}"));
                    Commit::Reads {
                        entries: vec![e],
                        marks: Vec::new(),
                    }
                };
                let done = node.commit_batch(&[unit(0), unit(1)]).await.unwrap();
                assert!(done.iter().all(Result::is_ok), "{done:?}");
            }
        });
    }
    while let Some(t) = tasks.join_next().await {
        t.unwrap();
    }
    let rows = nodes[0].audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(rows.len(), nodes.len() * BATCHES * 2);
    assert_eq!(intact(&rows), rows.len());
    for n in 0..nodes.len() {
        let who = format!("node{n}");
        let mine = rows.iter().filter(|r| r.entry.actor_name == who).count();
        assert_eq!(mine, BATCHES * 2, "{who}'s rows");
    }
}

/// Appends from several calls form one unbroken chain; filters select rows.
pub async fn audit_chain_links_every_append(s: &dyn Store) {
    ready(s).await;
    for i in 0..5 {
        let mut e = entry("secret.read");
        e.key = Some(format!("k{}", i % 2));
        e.ts_ms = i;
        s.append_audit(&[e.clone(), e]).await.unwrap();
    }
    let all = s.audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(all.len(), 10);
    assert_eq!(all[0].prev_mac, audit::GENESIS);
    assert_eq!(intact(&all), 10);
    let k1 = s
        .audit(&AuditFilter {
            key: Some("k1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(k1.len(), 4);
    let page = s
        .audit(&AuditFilter {
            after_seq: Some(8),
            limit: Some(5),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.iter().map(|r| r.seq).collect::<Vec<_>>(), [9, 10]);
    let since = s
        .audit(&AuditFilter {
            since_ms: Some(3),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(since.len(), 4);
}

/// A row naming several keys (a resolve's `items`) is found by each of them, exactly: not by a
/// key that appears only as another field's value (an environment, a detail), nor by a prefix.
pub async fn audit_rows_are_found_by_any_key_of_their_items(s: &dyn Store) {
    ready(s).await;
    let item = |key: &str, env: Option<&str>, outcome: &str, detail: Option<&str>| {
        hush_core::audit::AuditItem {
            key: key.into(),
            version: Some(1),
            env: env.map(Into::into),
            outcome: outcome.into(),
            detail: detail.map(Into::into),
        }
    };
    let mut one = entry("secret.read");
    one.key = Some("alpha".into());
    let mut many = entry("secret.read");
    many.key = None;
    many.outcome = "partial".into();
    many.items = vec![
        item("alpha", Some("prod"), "ok", None),
        item("beta", None, "not_found", Some("fallback for alpha_old")),
        item("beta", None, "not_found", None),
    ];
    s.append_audit(&[one, many, entry("secret.read")])
        .await
        .unwrap();
    let seqs = |key: &str| {
        let key = key.to_string();
        async move {
            s.audit(&AuditFilter {
                key: Some(key),
                ..Default::default()
            })
            .await
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect::<Vec<_>>()
        }
    };
    assert_eq!(seqs("alpha").await, [1, 2]);
    assert_eq!(
        seqs("beta").await,
        [2],
        "a key tried twice finds its row once"
    );
    assert_eq!(seqs("k").await, [3]);
    for absent in ["prod", "alpha_old", "alph", "bet", "not_found"] {
        assert!(seqs(absent).await.is_empty(), "{absent} is no key of a row");
    }
    let all = s.audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(all[1].entry.items.len(), 3, "the items come back whole");
    assert_eq!(intact(&all), 3);
}

/// Tokens are found by hash, listed per workspace, and revoked once.
pub async fn tokens_by_hash_and_revocation(s: &dyn Store) {
    let w = ready(s).await;
    let t = TokenRow {
        id: "tok_1".into(),
        workspace_id: w.id.clone(),
        name: "ci".into(),
        hash: "ab".repeat(32),
        role: Role::Machine,
        app: Some("ingest".into()),
        env: Some("prd".into()),
        expires_at: Some(99),
        created_at: 1,
        created_by: "t".into(),
        revoked_at: None,
    };
    s.insert_token(&t, &entry("token.create")).await.unwrap();
    let dup = TokenRow {
        id: "tok_2".into(),
        ..t.clone()
    };
    assert!(matches!(
        s.insert_token(&dup, &entry("token.create")).await,
        Err(StoreError::Exists)
    ));
    assert_eq!(
        s.token_by_hash(&"ab".repeat(32), 98).await.unwrap(),
        Some(t.clone())
    );
    assert_eq!(s.token_by_hash(&"cd".repeat(32), 98).await.unwrap(), None);
    // Expired at `now`: not found, as an unknown hash.
    assert_eq!(s.token_by_hash(&"ab".repeat(32), 99).await.unwrap(), None);
    assert_eq!(s.tokens(&w.id).await.unwrap(), vec![t.clone()]);
    assert!(s
        .revoke_token(&w.id, "tok_1", 5, &entry("token.revoke"))
        .await
        .unwrap());
    assert!(
        !s.revoke_token(&w.id, "tok_1", 6, &entry("token.revoke"))
            .await
            .unwrap(),
        "revoked once"
    );
    // Revoked: not found, as an unknown hash (the list still shows it, revoked).
    assert_eq!(s.token_by_hash(&"ab".repeat(32), 6).await.unwrap(), None);
    assert_eq!(s.tokens(&w.id).await.unwrap()[0].revoked_at, Some(5));
    let actions = actions(s).await;
    assert_eq!(actions, ["token.create", "token.revoke"]);
}

fn app_row(w: &Workspace, name: &str, keys: &[&str], at: i64) -> AppRow {
    AppRow {
        workspace_id: w.id.clone(),
        manifest: hush_wire::AppManifest {
            app: name.into(),
            env: Some("prd".into()),
            secrets: keys
                .iter()
                .map(|k| hush_wire::SecretDecl {
                    name: k.to_uppercase().replace('-', "_"),
                    key: (*k).into(),
                    required: true,
                    fallback: vec![],
                    delivery: hush_wire::Delivery::Env,
                })
                .collect(),
        },
        keys: keys
            .iter()
            .map(|k| AppKeyRow {
                key: (*k).into(),
                last_read_at: None,
                env: None,
            })
            .collect(),
        created_at: at,
        updated_at: at,
        registered_by: "t".into(),
    }
}

fn key_names(a: &AppRow) -> Vec<&str> {
    a.keys.iter().map(|k| k.key.as_str()).collect()
}

/// Apps are registered, replaced (keys follow the new manifest) and unregistered, each with
/// its audit row.
pub async fn apps_register_replace_and_delete(s: &dyn Store) {
    let w = ready(s).await;
    let other = ws("other");
    s.create_workspace(&other, &dk(&other, 1, 1)).await.unwrap();
    assert!(s
        .put_app(
            &app_row(&w, "ingest", &["a", "b"], 5),
            &entry("app.register")
        )
        .await
        .unwrap());
    assert!(s
        .put_app(&app_row(&w, "billing", &["b"], 5), &entry("app.register"))
        .await
        .unwrap());
    let a = s.app(&w.id, "ingest").await.unwrap().unwrap();
    assert_eq!(key_names(&a), ["a", "b"]);
    assert_eq!(a.manifest.env.as_deref(), Some("prd"));
    assert!(
        s.app(&other.id, "ingest").await.unwrap().is_none(),
        "apps belong to a workspace"
    );
    // Replacing keeps created_at as given and swaps the keys.
    let mut r = app_row(&w, "ingest", &["b", "c"], 9);
    r.created_at = 5;
    assert!(!s.put_app(&r, &entry("app.register")).await.unwrap());
    let a = s.app(&w.id, "ingest").await.unwrap().unwrap();
    assert_eq!(key_names(&a), ["b", "c"]);
    assert_eq!((a.created_at, a.updated_at), (5, 9));
    let names: Vec<String> = s
        .apps(&w.id)
        .await
        .unwrap()
        .iter()
        .map(|a| a.name().to_string())
        .collect();
    assert_eq!(names, ["billing", "ingest"]);
    let uses = s
        .uses(&w.id, &["b".into(), "c".into(), "a".into()])
        .await
        .unwrap();
    let pairs: Vec<(&str, &str)> = uses
        .iter()
        .map(|u| (u.key.as_str(), u.app.as_str()))
        .collect();
    assert_eq!(pairs, [("b", "billing"), ("b", "ingest"), ("c", "ingest")]);
    assert!(s
        .delete_app(&w.id, "ingest", &entry("app.delete"))
        .await
        .unwrap());
    assert!(!s
        .delete_app(&w.id, "ingest", &entry("app.delete"))
        .await
        .unwrap());
    assert!(s.app(&w.id, "ingest").await.unwrap().is_none());
    assert_eq!(s.uses(&w.id, &["c".into()]).await.unwrap(), []);
    let actions = actions(s).await;
    assert_eq!(actions.iter().filter(|a| *a == "app.register").count(), 3);
    assert_eq!(
        actions.iter().filter(|a| *a == "app.delete").count(),
        1,
        "a no-op delete writes no row"
    );
}

/// A secret named by a registered app is not deleted unless forced; the refusal changes
/// nothing.
pub async fn in_use_secrets_refuse_delete(s: &dyn Store) {
    let w = ready(s).await;
    create(s, &w, "k").await;
    s.put_app(&app_row(&w, "ingest", &["k"], 5), &entry("app.register"))
        .await
        .unwrap();
    s.put_app(&app_row(&w, "billing", &["k"], 5), &entry("app.register"))
        .await
        .unwrap();
    let before = s.audit(&AuditFilter::default()).await.unwrap().len();
    let r = s
        .delete_secret("sec_k", 1, false, &entry("secret.delete"))
        .await;
    match r {
        Err(StoreError::InUse(apps)) => assert_eq!(apps, ["billing", "ingest"]),
        other => panic!("expected InUse, got {other:?}"),
    }
    assert!(s.secret(&w.id, "k").await.unwrap().is_some());
    assert_eq!(
        s.audit(&AuditFilter::default()).await.unwrap().len(),
        before
    );
    s.delete_secret("sec_k", 1, true, &entry("secret.delete"))
        .await
        .unwrap();
    assert!(s.secret(&w.id, "k").await.unwrap().is_none());
    // Not in use once no app names it.
    create(s, &w, "k").await;
    s.delete_app(&w.id, "ingest", &entry("app.delete"))
        .await
        .unwrap();
    s.delete_app(&w.id, "billing", &entry("app.delete"))
        .await
        .unwrap();
    s.delete_secret("sec_k", 1, false, &entry("secret.delete"))
        .await
        .unwrap();
}

/// Reads are marked per app together with their audit rows; a re-registration keeps the marks
/// of keys it still names.
pub async fn reads_are_marked_with_their_audit(s: &dyn Store) {
    let w = ready(s).await;
    s.put_app(
        &app_row(&w, "ingest", &["a", "b"], 5),
        &entry("app.register"),
    )
    .await
    .unwrap();
    let mark = |key: &str, at: i64| ReadMark {
        workspace_id: w.id.clone(),
        app: "ingest".into(),
        key: key.into(),
        at,
        env: None,
    };
    s.record_reads(
        &[entry("secret.read"), entry("secret.read")],
        &[mark("a", 100), mark("zzz", 100)],
    )
    .await
    .unwrap();
    let a = s.app(&w.id, "ingest").await.unwrap().unwrap();
    assert_eq!(a.keys[0].last_read_at, Some(100));
    assert_eq!(a.keys[1].last_read_at, None);
    // A read finds the apps naming its key with their last reads, in one call or alone.
    create(s, &w, "a").await;
    s.put_app(&app_row(&w, "billing", &["a"], 5), &entry("app.register"))
        .await
        .unwrap();
    let expected = vec![
        UseRow {
            key: "a".into(),
            app: "billing".into(),
            last_read_at: None,
            env: None,
        },
        UseRow {
            key: "a".into(),
            app: "ingest".into(),
            last_read_at: Some(100),
            env: None,
        },
    ];
    let read = s.secret_with_value(&w.id, "a", None, true).await.unwrap();
    assert_eq!(read.unwrap().uses, expected);
    assert_eq!(s.uses(&w.id, &["a".into()]).await.unwrap(), expected);
    let read = s.secret_with_value(&w.id, "a", None, false).await.unwrap();
    assert!(read.unwrap().uses.is_empty());
    let uses = s.uses(&w.id, &["zzz".into()]).await.unwrap();
    assert!(
        uses.is_empty(),
        "a mark for an undeclared key declares nothing"
    );
    s.put_app(
        &app_row(&w, "ingest", &["a", "c"], 6),
        &entry("app.register"),
    )
    .await
    .unwrap();
    let a = s.app(&w.id, "ingest").await.unwrap().unwrap();
    assert_eq!(a.keys[0].last_read_at, Some(100));
    let n = s
        .audit(&AuditFilter::default())
        .await
        .unwrap()
        .iter()
        .filter(|r| r.entry.action == "secret.read")
        .count();
    assert_eq!(n, 2);
    intact(&s.audit(&AuditFilter::default()).await.unwrap());
}

/// A read mark records the environment the read was made in, beside its time: the app's keys,
/// `uses` and the aggregate of a value read all give it back; a later read that named no
/// environment sets it back to none.
pub async fn read_marks_name_their_environment(s: &dyn Store) {
    let w = ready(s).await;
    create(s, &w, "a").await;
    s.put_app(&app_row(&w, "web", &["a"], 5), &entry("app.register"))
        .await
        .unwrap();
    s.put_app(&app_row(&w, "cron", &["a"], 5), &entry("app.register"))
        .await
        .unwrap();
    let mark = |app: &str, at: i64, env: Option<&str>| ReadMark {
        workspace_id: w.id.clone(),
        app: app.into(),
        key: "a".into(),
        at,
        env: env.map(str::to_string),
    };
    let uses = |web: (Option<i64>, Option<&str>)| {
        vec![
            UseRow {
                key: "a".into(),
                app: "cron".into(),
                last_read_at: Some(100),
                env: Some("stg-eu".into()),
            },
            UseRow {
                key: "a".into(),
                app: "web".into(),
                last_read_at: web.0,
                env: web.1.map(str::to_string),
            },
        ]
    };
    s.record_reads(
        &[entry("secret.read"), entry("secret.read")],
        &[
            mark("web", 100, Some("prd")),
            mark("cron", 100, Some("stg-eu")),
        ],
    )
    .await
    .unwrap();
    let expected = uses((Some(100), Some("prd")));
    assert_eq!(s.uses(&w.id, &["a".into()]).await.unwrap(), expected);
    assert_eq!(
        s.uses(&w.id, &["a".into(), "zzz".into()]).await.unwrap(),
        expected
    );
    let read = s.secret_with_value(&w.id, "a", None, true).await.unwrap();
    assert_eq!(read.unwrap().uses, expected);
    let web = s.app(&w.id, "web").await.unwrap().unwrap();
    assert_eq!(web.keys[0].last_read_at, Some(100));
    assert_eq!(web.keys[0].env.as_deref(), Some("prd"));
    let all = s.apps(&w.id).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].keys[0].env.as_deref(), Some("prd"), "{all:?}");
    assert_eq!(all[0].keys[0].env.as_deref(), Some("stg-eu"), "{all:?}");

    // A later read that named no environment: its time, and no environment.
    s.record_reads(&[entry("secret.read")], &[mark("web", 200, None)])
        .await
        .unwrap();
    let expected = uses((Some(200), None));
    assert_eq!(s.uses(&w.id, &["a".into()]).await.unwrap(), expected);
    let read = s.secret_with_value(&w.id, "a", None, true).await.unwrap();
    assert_eq!(read.unwrap().uses, expected);
    let web = s.app(&w.id, "web").await.unwrap().unwrap();
    assert_eq!(web.keys[0].env, None);

    // A re-registration that still names the key keeps the environment with the time.
    s.record_reads(&[entry("secret.read")], &[mark("web", 300, Some("prd"))])
        .await
        .unwrap();
    s.put_app(&app_row(&w, "web", &["a", "b"], 6), &entry("app.register"))
        .await
        .unwrap();
    let web = s.app(&w.id, "web").await.unwrap().unwrap();
    assert_eq!(web.keys[0].last_read_at, Some(300));
    assert_eq!(web.keys[0].env.as_deref(), Some("prd"));
    assert_eq!(web.keys[1].env, None);
}

/// A group commit applies each unit on its own: a unit that fails (taken key, stale
/// revision, value version taken) leaves nothing — no row, no value, no audit row — while the
/// units around it commit with their audit rows, chained in order.
pub async fn a_batch_commits_each_unit_alone(s: &dyn Store) {
    let w = ready(s).await;
    create(s, &w, "old").await;
    s.put_app(&app_row(&w, "ingest", &["old"], 5), &entry("app.register"))
        .await
        .unwrap();
    let write = |r: SecretRow, expected: Option<u64>, value: Option<SealedValue>, action: &str| {
        Commit::Write(Box::new(SecretWrite {
            row: r,
            expected_revision: expected,
            value,
            drop_env: None,
            audit: entry(action),
        }))
    };
    let mut taken = row(&w, "a", 1, 1);
    taken.id = "sec_a2".into();
    let mut stale = row(&w, "old", 2, 1);
    stale.meta.description = Some("stale".into());
    let mut bad_version = row(&w, "old", 2, 1);
    bad_version.meta.description = Some("bad version".into());
    let mut next = row(&w, "old", 2, 2);
    next.meta.description = Some("v2".into());
    let batch = [
        write(row(&w, "a", 1, 1), None, Some(sealed(1, 1)), "create-a"),
        write(taken, None, Some(sealed(1, 2)), "create-a-again"),
        write(stale, Some(7), None, "stale"),
        write(bad_version, Some(1), Some(sealed(1, 3)), "bad-version"),
        Commit::Reads {
            entries: vec![entry("read-1"), entry("read-2")],
            marks: vec![ReadMark {
                workspace_id: w.id.clone(),
                app: "ingest".into(),
                key: "old".into(),
                at: 99,
                env: Some("stg".into()),
            }],
        },
        write(next.clone(), Some(1), Some(sealed(2, 4)), "update-old"),
    ];
    let out = s.commit_batch(&batch).await.unwrap();
    assert_eq!(out.len(), 6);
    assert!(out[0].is_ok(), "{:?}", out[0]);
    assert!(matches!(out[1], Err(StoreError::Exists)), "{:?}", out[1]);
    assert!(matches!(out[2], Err(StoreError::Conflict)), "{:?}", out[2]);
    assert!(matches!(out[3], Err(StoreError::Conflict)), "{:?}", out[3]);
    assert!(out[4].is_ok() && out[5].is_ok(), "{out:?}");

    assert_eq!(s.secret(&w.id, "a").await.unwrap().unwrap().id, "sec_a");
    assert!(s.value("sec_a2", "", 1).await.unwrap().is_none());
    assert_eq!(s.secret(&w.id, "old").await.unwrap(), Some(next));
    assert_eq!(
        s.value("sec_old", "", 1).await.unwrap().unwrap().ciphertext,
        vec![1; 40]
    );
    assert_eq!(
        s.value("sec_old", "", 2).await.unwrap().unwrap().ciphertext,
        vec![4; 40]
    );
    let app = s.app(&w.id, "ingest").await.unwrap().unwrap();
    assert_eq!(app.keys[0].last_read_at, Some(99));
    assert_eq!(app.keys[0].env.as_deref(), Some("stg"));
    let all = s.audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|r| r.entry.action.as_str())
            .collect::<Vec<_>>(),
        [
            "w",
            "app.register",
            "create-a",
            "read-1",
            "read-2",
            "update-old"
        ]
    );
    assert_eq!(intact(&all), 6);
    // An empty batch and a batch of only failures commit nothing and keep the chain whole.
    assert!(s.commit_batch(&[]).await.unwrap().is_empty());
    let again = s
        .commit_batch(&[write(row(&w, "a", 1, 1), None, Some(sealed(1, 5)), "dup")])
        .await
        .unwrap();
    assert!(matches!(again[0], Err(StoreError::Exists)), "{again:?}");
    let all = s.audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(intact(&all), 6);
}

/// Appended rows carry MACs under the key the store was given: the chain verifies with that
/// key and not with another, and no link is a plain hash. Before the store has a key, a write
/// that would append an audit row is refused whole.
pub async fn audit_rows_are_keyed_and_never_written_without_the_key(s: &dyn Store) {
    let w = ws("default");
    s.initialize(&root(1), &w, &dk(&w, 1, 1), &audit_key_row(1))
        .await
        .unwrap();
    let r = s.append_audit(&[entry("early")]).await;
    assert!(matches!(r, Err(StoreError::NoAuditKey)), "{r:?}");
    let r = s
        .write_secret(&SecretWrite {
            row: row(&w, "k", 1, 1),
            expected_revision: None,
            value: Some(sealed(1, 1)),
            drop_env: None,
            audit: entry("w"),
        })
        .await;
    assert!(matches!(r, Err(StoreError::NoAuditKey)), "{r:?}");
    assert_eq!(
        s.secret(&w.id, "k").await.unwrap(),
        None,
        "no write without its record"
    );
    assert!(s.audit(&AuditFilter::default()).await.unwrap().is_empty());

    s.set_audit_key(audit_key());
    create(s, &w, "k").await;
    s.append_audit(&[entry("a"), entry("b")]).await.unwrap();
    let all = s.audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(intact(&all), 3);
    for r in &all {
        assert_eq!(
            r.mac,
            audit::row_mac(&audit_key(), r.seq, &r.entry, &r.prev_mac)
        );
        assert_ne!(r.mac, audit::legacy_hash(r.seq, &r.entry, &r.prev_mac));
    }
    let other = ChainKey {
        key: AuditKey::from_key(hush_crypto::Key::from_bytes([7; 32])),
        keyed_from: 1,
    };
    assert!(
        matches!(
            audit::verify(&all, &other, None),
            Verdict::Broken { seq: 1, .. }
        ),
        "another key does not verify the chain"
    );
}

/// The audit key is recorded at initialisation, once; rotation rewraps it with the data keys
/// in the same transaction, and a rotation that names another key record is refused whole.
pub async fn the_audit_key_is_recorded_once_and_rewrapped_by_rotation(s: &dyn Store) {
    assert_eq!(s.audit_key().await.unwrap(), None);
    let w = ready(s).await;
    assert_eq!(s.audit_key().await.unwrap(), Some(audit_key_row(1)));
    let r = s
        .create_audit_key(&audit_key_row(1), &audit_key(), &entry(audit::KEY_CREATED))
        .await;
    assert!(matches!(r, Err(StoreError::Exists)), "{r:?}");
    assert!(
        s.audit(&AuditFilter::default()).await.unwrap().is_empty(),
        "a refused key record appends nothing"
    );

    let moved = AuditKeyRow {
        keyed_from: 5,
        ..audit_key_row(2)
    };
    let r = s
        .rotate_keys(
            &root(2),
            &[dk(&w, 1, 2)],
            &[dk(&w, 2, 2)],
            &moved,
            &entry("keys.rotate"),
        )
        .await;
    assert!(matches!(r, Err(StoreError::Conflict)), "{r:?}");
    assert_eq!(s.root_keys().await.unwrap().len(), 1, "nothing stays");
    assert_eq!(s.audit_key().await.unwrap(), Some(audit_key_row(1)));

    create(s, &w, "k").await;
    let rewrapped = AuditKeyRow {
        wrapped: vec![3; 60],
        ..audit_key_row(2)
    };
    s.rotate_keys(
        &root(2),
        &[dk(&w, 1, 2)],
        &[dk(&w, 2, 2)],
        &rewrapped,
        &entry("keys.rotate"),
    )
    .await
    .unwrap();
    assert_eq!(s.audit_key().await.unwrap(), Some(rewrapped));
    // The key itself did not change: rows before and after the rotation verify as one chain.
    create(s, &w, "k2").await;
    assert_eq!(
        intact(&s.audit(&AuditFilter::default()).await.unwrap()),
        3,
        "with the rotation's row"
    );
}

/// The audit head is the newest row; a head recorded earlier is found in the chain as it
/// grows.
pub async fn the_audit_head_is_the_newest_row(s: &dyn Store) {
    ready(s).await;
    assert_eq!(s.audit_head().await.unwrap(), None);
    s.append_audit(&[entry("a"), entry("b")]).await.unwrap();
    let head = s.audit_head().await.unwrap().unwrap();
    assert_eq!(head.seq, 2);
    assert_eq!(head.entry.action, "b");
    let recorded = Head::of(std::slice::from_ref(&head));
    s.append_audit(&[entry("c")]).await.unwrap();
    let all = s.audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(s.audit_head().await.unwrap().as_ref(), all.last());
    assert!(matches!(
        audit::verify(&all, &chain_key(), Some(&recorded)),
        Verdict::Intact {
            rows: 3,
            head_checked: true,
            ..
        }
    ));
    assert!(matches!(
        audit::verify(&all[..1], &chain_key(), Some(&recorded)),
        Verdict::Broken { seq: 2, .. }
    ));
}

/// Audit retention: a prune removes the rows up to the checkpoint, records it, and appends its
/// own row after it in one transaction; the chain verifies from the checkpoint and appends go
/// on after it, even when every row was removed. A prune whose expected checkpoint moved, or
/// whose checkpoint row no longer carries its MAC, is refused and changes nothing.
pub async fn audit_prune_keeps_a_checkpoint_and_the_chain_goes_on(s: &dyn Store) {
    ready(s).await;
    assert_eq!(s.audit_checkpoint().await.unwrap(), None);
    s.append_audit(&[entry("a"), entry("b"), entry("c"), entry("d")])
        .await
        .unwrap();
    let all = s.audit(&AuditFilter::default()).await.unwrap();
    let key = audit_key();
    let cp = Checkpoint::new(&key, 2, &all[1].mac, 99);

    // Refused: a checkpoint is expected where there is none; the row's MAC is not the one.
    assert!(matches!(
        s.prune_audit(Some(1), &cp, &entry(audit::PRUNED)).await,
        Err(StoreError::Conflict)
    ));
    let wrong = Checkpoint::new(&key, 2, &all[2].mac, 99);
    assert!(matches!(
        s.prune_audit(None, &wrong, &entry(audit::PRUNED)).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(s.audit(&AuditFilter::default()).await.unwrap(), all);
    assert_eq!(s.audit_checkpoint().await.unwrap(), None);

    let mut pruned = entry(audit::PRUNED);
    pruned.detail = Some("removed rows 1 to 2".into());
    assert_eq!(s.prune_audit(None, &cp, &pruned).await.unwrap(), 2);
    assert_eq!(s.audit_checkpoint().await.unwrap(), Some(cp.clone()));
    let kept = s.audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(kept.iter().map(|r| r.seq).collect::<Vec<_>>(), [3, 4, 5]);
    assert_eq!(kept[2].entry.action, audit::PRUNED);
    assert_eq!(kept[2].entry.detail.as_deref(), Some("removed rows 1 to 2"));
    assert_eq!(kept[2].prev_mac, all[3].mac);
    assert!(matches!(
        audit::verify_from(&kept, &chain_key(), Some(&cp), None),
        Verdict::Intact {
            rows: 3,
            checkpoint: Some(_),
            ..
        }
    ));
    // From row 1 it no longer verifies: its start is gone.
    assert!(matches!(
        audit::verify(&kept, &chain_key(), None),
        Verdict::Broken { seq: 3, .. }
    ));
    s.append_audit(&[entry("e")]).await.unwrap();
    assert_eq!(s.audit_head().await.unwrap().unwrap().seq, 6);

    // A second prune expects the first checkpoint; this one removes every row there is.
    assert!(matches!(
        s.prune_audit(None, &cp, &entry(audit::PRUNED)).await,
        Err(StoreError::Conflict)
    ));
    let newest = s.audit_head().await.unwrap().unwrap();
    let cp2 = Checkpoint::new(&key, newest.seq, &newest.mac, 100);
    assert_eq!(
        s.prune_audit(Some(2), &cp2, &entry(audit::PRUNED))
            .await
            .unwrap(),
        4
    );
    let left = s.audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(
        (left[0].seq, left[0].prev_mac.as_str()),
        (7, newest.mac.as_str())
    );
    s.append_audit(&[entry("f")]).await.unwrap();
    let left = s.audit(&AuditFilter::default()).await.unwrap();
    assert!(matches!(
        audit::verify_from(&left, &chain_key(), Some(&cp2), None),
        Verdict::Intact { rows: 2, .. }
    ));
    assert_eq!(s.audit_checkpoint().await.unwrap(), Some(cp2));
}

/// A row's request id and detail are stored and read back (and covered by its MAC).
pub async fn audit_rows_keep_their_request_id_and_detail(s: &dyn Store) {
    ready(s).await;
    let mut e = entry("a");
    e.request_id = Some("abc-123".into());
    e.detail = Some("what else".into());
    s.append_audit(&[e.clone(), entry("b")]).await.unwrap();
    let rows = s.audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(rows[0].entry, e);
    assert_eq!(rows[1].entry.request_id, None);
    assert_eq!(rows[1].entry.detail, None);
    assert_eq!(intact(&rows), 2);
}

/// The rows after one, oldest first, at most `limit`, whatever the chain's length: the audit
/// file's catch-up.
pub async fn the_audit_tail_is_the_rows_after_one(s: &dyn Store) {
    ready(s).await;
    assert!(s.audit_after(0, 10).await.unwrap().is_empty());
    s.append_audit(&[entry("a"), entry("b"), entry("c"), entry("d")])
        .await
        .unwrap();
    let all = s.audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(s.audit_after(0, 10).await.unwrap(), all);
    assert_eq!(s.audit_after(1, 2).await.unwrap(), all[1..3]);
    assert_eq!(s.audit_after(3, 10).await.unwrap(), all[3..]);
    assert!(s.audit_after(4, 10).await.unwrap().is_empty());
    assert!(s.audit_after(99, 10).await.unwrap().is_empty());
}

/// An audit row that changed something makes an event numbered by its seq, in its
/// transaction; reads and refusals make none; old events are pruned by time.
pub async fn events_are_made_by_the_audit_rows_that_changed_something(s: &dyn Store) {
    ready(s).await;
    assert_eq!(s.event_head().await.unwrap(), 0);
    assert!(s.events_after(0, 10).await.unwrap().is_empty());
    let mut refused = entry("secret.update");
    refused.outcome = "forbidden".into();
    let mut updated = entry("secret.update");
    updated.version = Some(2);
    updated.env = Some("prd".into());
    updated.ts_ms = 5;
    s.append_audit(&[
        entry("secret.create"),
        entry("secret.read"),
        refused,
        updated,
        entry("token.revoke"),
    ])
    .await
    .unwrap();
    let events = s.events_after(0, 10).await.unwrap();
    let seen: Vec<(i64, EventKind)> = events.iter().map(|e| (e.seq, e.kind)).collect();
    assert_eq!(
        seen,
        [
            (1, EventKind::Created),
            (4, EventKind::Updated),
            (5, EventKind::TokenRevoked)
        ]
    );
    assert_eq!(
        (
            events[1].version,
            events[1].env.as_deref(),
            events[1].key.as_deref()
        ),
        (Some(2), Some("prd"), Some("k"))
    );
    assert_eq!(s.event_head().await.unwrap(), 5);
    assert_eq!(s.events_after(1, 1).await.unwrap()[0].seq, 4);
    // Pruned by time: the rows of ts 1 go, the row of ts 5 stays.
    assert_eq!(s.prune_events(2).await.unwrap(), 2);
    let left: Vec<i64> = s
        .events_after(0, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(left, [4]);
}

/// The action of every audit row, in order.
async fn actions(s: &dyn Store) -> Vec<String> {
    s.audit(&AuditFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.entry.action)
        .collect()
}

/// Environments' own values live beside the shared value: each has its own versions, a read
/// of one never returns another's, and dropping one removes every version of it, alone.
pub async fn environment_values_are_kept_apart(s: &dyn Store) {
    let w = ready(s).await;
    let mut r = create(s, &w, "db").await;
    let env_sealed = |env: &str, version: u64, fill: u8| SealedValue {
        env: env.into(),
        ..sealed(version, fill)
    };
    for (env, fill) in [("dev", 7u8), ("prd", 8)] {
        let mut next = r.clone();
        next.revision += 1;
        next.env_versions.insert(env.into(), 1);
        s.write_secret(&SecretWrite {
            row: next.clone(),
            expected_revision: Some(r.revision),
            value: Some(env_sealed(env, 1, fill)),
            drop_env: None,
            audit: entry("w"),
        })
        .await
        .unwrap();
        r = next;
    }
    // A second dev version; the shared value and prd are untouched.
    let mut next = r.clone();
    next.revision += 1;
    next.env_versions.insert("dev".into(), 2);
    s.write_secret(&SecretWrite {
        row: next.clone(),
        expected_revision: Some(r.revision),
        value: Some(env_sealed("dev", 2, 9)),
        drop_env: None,
        audit: entry("w"),
    })
    .await
    .unwrap();
    r = next;
    let stored = s.secret(&w.id, "db").await.unwrap().unwrap();
    assert_eq!(stored, r);
    assert_eq!(stored.version, 1);
    let fill = |env: &'static str, v: u64| async move {
        s.value("sec_db", env, v)
            .await
            .unwrap()
            .map(|x| (x.env.clone(), x.ciphertext[0]))
    };
    assert_eq!(fill("", 1).await, Some((String::new(), 1)));
    assert_eq!(fill("dev", 1).await, Some(("dev".into(), 7)));
    assert_eq!(fill("dev", 2).await, Some(("dev".into(), 9)));
    assert_eq!(fill("prd", 1).await, Some(("prd".into(), 8)));
    assert_eq!(fill("stg", 1).await, None);
    // The one-query read gives the shared value, whatever environments have.
    let read = s
        .secret_with_value(&w.id, "db", None, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        read.value.map(|v| (v.env, v.ciphertext[0])),
        Some((String::new(), 1))
    );
    let versions: Vec<(String, u64)> = s
        .versions("sec_db")
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.env, v.version))
        .collect();
    assert_eq!(
        versions,
        [
            ("".into(), 1),
            ("dev".into(), 1),
            ("dev".into(), 2),
            ("prd".into(), 1)
        ]
    );
    // Dropping dev removes both dev versions and nothing else.
    let mut next = r.clone();
    next.revision += 1;
    next.env_versions.remove("dev");
    s.write_secret(&SecretWrite {
        row: next.clone(),
        expected_revision: Some(r.revision),
        value: None,
        drop_env: Some("dev".into()),
        audit: entry("w"),
    })
    .await
    .unwrap();
    assert_eq!(fill("dev", 1).await, None);
    assert_eq!(fill("dev", 2).await, None);
    assert_eq!(fill("prd", 1).await, Some(("prd".into(), 8)));
    assert_eq!(fill("", 1).await, Some((String::new(), 1)));
    assert_eq!(s.secret(&w.id, "db").await.unwrap().unwrap(), next);
    // A version of an environment is unique, like a shared version.
    let mut dup = next.clone();
    dup.revision += 1;
    let err = s
        .write_secret(&SecretWrite {
            row: dup,
            expected_revision: Some(next.revision),
            value: Some(env_sealed("prd", 1, 3)),
            drop_env: None,
            audit: entry("w"),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    assert_eq!(fill("prd", 1).await, Some(("prd".into(), 8)));
}

/// A store with a row in every table: two root key versions (a rotation), two workspaces and
/// their data keys, secrets with several shared versions and environments' own values, rich
/// metadata, tokens (one revoked), apps with reads marked, and the audit rows of all of it.
async fn filled(s: &dyn Store) -> Workspace {
    let w = ready(s).await;
    let other = ws("other");
    s.create_workspace(&other, &dk(&other, 1, 1)).await.unwrap();
    s.insert_webhook(&webhook(&w, "whk_1"), &entry("webhook.add"))
        .await
        .unwrap();
    let mut r = create(s, &w, "db").await;
    let mut next = r.clone();
    next.revision += 1;
    next.version = 2;
    next.meta = Metadata {
        description: Some("the database".into()),
        token_type: Some(hush_core::TokenType::Api),
        scope: vec!["ingest".into()],
        envs: vec!["dev".into(), "prd".into()],
        expires_at: Some(4_000_000_000),
        notify_before: Some(30 * 86_400),
    };
    s.write_secret(&SecretWrite {
        row: next.clone(),
        expected_revision: Some(r.revision),
        value: Some(sealed(2, 2)),
        drop_env: None,
        audit: entry("w"),
    })
    .await
    .unwrap();
    r = next;
    let mut next = r.clone();
    next.revision += 1;
    next.env_versions.insert("prd".into(), 1);
    s.write_secret(&SecretWrite {
        row: next,
        expected_revision: Some(r.revision),
        value: Some(SealedValue {
            env: "prd".into(),
            ..sealed(1, 5)
        }),
        drop_env: None,
        audit: entry("w").in_env(Some("prd")),
    })
    .await
    .unwrap();
    create(s, &other, "elsewhere").await;
    for (id, hash, revoked) in [("tok_1", "ab", false), ("tok_2", "cd", true)] {
        let t = TokenRow {
            id: id.into(),
            workspace_id: w.id.clone(),
            name: id.into(),
            hash: hash.repeat(32),
            role: Role::Machine,
            app: Some("ingest".into()),
            env: Some("prd".into()),
            expires_at: Some(4_000_000_000),
            created_at: 1,
            created_by: "t".into(),
            revoked_at: None,
        };
        s.insert_token(&t, &entry("token.create")).await.unwrap();
        if revoked {
            s.revoke_token(&w.id, id, 5, &entry("token.revoke"))
                .await
                .unwrap();
        }
    }
    s.put_app(
        &app_row(&w, "ingest", &["db", "other"], 5),
        &entry("app.register"),
    )
    .await
    .unwrap();
    s.record_reads(
        &[entry("secret.read")],
        &[ReadMark {
            workspace_id: w.id.clone(),
            app: "ingest".into(),
            key: "db".into(),
            at: 100,
            env: Some("prd".into()),
        }],
    )
    .await
    .unwrap();
    s.rotate_keys(
        &root(2),
        &[dk(&w, 1, 2), dk(&other, 1, 2)],
        &[dk(&w, 2, 2)],
        &AuditKeyRow {
            wrapped: vec![3; 60],
            ..audit_key_row(2)
        },
        &entry("keys.rotate"),
    )
    .await
    .unwrap();
    let mut e = entry("after.rotation");
    e.request_id = Some("req-1".into());
    e.detail = Some("a detail".into());
    s.append_audit(&[e]).await.unwrap();
    // Retention: the two oldest rows go, a checkpoint stays.
    let rows = s.audit(&AuditFilter::default()).await.unwrap();
    let cp = Checkpoint::new(&audit_key(), rows[1].seq, &rows[1].mac, 99);
    s.prune_audit(None, &cp, &entry(audit::PRUNED))
        .await
        .unwrap();
    w
}

/// How many rows verify from `dump`'s checkpoint on (panics naming the broken row).
fn intact_after(rows: &[AuditRow], checkpoint: Option<&Checkpoint>) -> usize {
    match audit::verify_from(rows, &chain_key(), checkpoint, None) {
        Verdict::Intact { rows, .. } => rows,
        Verdict::Broken { seq, reason, .. } => panic!("chain broken at row {seq}: {reason}"),
    }
}

/// `dump` then `load` into an empty store copies every row as it is: a dump of the copy is
/// the same, the chain verifies with the same head, the copy reads the same, and it goes on
/// appending to the chain where the original stopped.
pub async fn a_dump_loads_into_an_empty_store_row_for_row(from: &dyn Store, to: &dyn Store) {
    let w = filled(from).await;
    let dump = from.dump().await.unwrap();
    for (table, n) in dump.counts() {
        assert!(n > 0, "the suite fills every table, but {table} is empty");
    }
    assert_eq!(dump.root_keys.len(), 2);
    assert_eq!(dump.values.len(), 4, "{:?}", dump.values);
    assert_eq!(
        from.dump().await.unwrap(),
        dump,
        "dumping changes nothing and is ordered"
    );
    to.load(&dump).await.unwrap();
    let copy = to.dump().await.unwrap();
    assert_eq!(copy, dump);
    let rows = to.audit(&AuditFilter::default()).await.unwrap();
    let cp = dump.audit_checkpoint.as_ref();
    assert_eq!(intact_after(&rows, cp), dump.audit.len());
    assert_eq!(
        to.audit_checkpoint().await.unwrap().as_ref(),
        cp,
        "the checkpoint is copied"
    );
    assert!(rows
        .iter()
        .any(|r| r.entry.request_id.as_deref() == Some("req-1")));
    assert_eq!(
        to.audit_head().await.unwrap(),
        from.audit_head().await.unwrap()
    );
    assert_eq!(
        to.audit_key().await.unwrap(),
        from.audit_key().await.unwrap()
    );
    assert_eq!(
        to.root_keys().await.unwrap(),
        from.root_keys().await.unwrap()
    );
    assert_eq!(
        to.data_keys(None).await.unwrap(),
        from.data_keys(None).await.unwrap()
    );
    let read = to
        .secret_with_value(&w.id, "db", None, true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        Some(read.clone()),
        from.secret_with_value(&w.id, "db", None, true)
            .await
            .unwrap()
    );
    assert_eq!(read.uses[0].last_read_at, Some(100));
    assert_eq!(read.uses[0].env.as_deref(), Some("prd"));
    assert_eq!(
        to.value(&read.row.id, "prd", 1).await.unwrap(),
        from.value(&read.row.id, "prd", 1).await.unwrap()
    );
    assert_eq!(
        to.tokens(&w.id).await.unwrap(),
        from.tokens(&w.id).await.unwrap()
    );
    assert_eq!(
        to.token_by_hash(&"ab".repeat(32), 10).await.unwrap(),
        from.token_by_hash(&"ab".repeat(32), 10).await.unwrap()
    );
    assert_eq!(
        to.apps(&w.id).await.unwrap(),
        from.apps(&w.id).await.unwrap()
    );
    // The copy's chain goes on from the copied head.
    to.set_audit_key(audit_key());
    to.append_audit(&[entry("on.the.copy")]).await.unwrap();
    let rows = to.audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(intact_after(&rows, cp), dump.audit.len() + 1);
    // The original was only read.
    assert_eq!(from.dump().await.unwrap(), dump);
}

/// A load that fails partway writes nothing; a load into a store that holds any row is
/// refused and writes nothing; an empty dump loads into an empty store.
pub async fn a_load_into_a_store_with_rows_writes_nothing(from: &dyn Store, to: &dyn Store) {
    let w = filled(from).await;
    let dump = from.dump().await.unwrap();
    // A load that fails partway (its last table names an app that is not there) is one
    // transaction: the store stays empty.
    let mut broken = dump.clone();
    broken.app_keys.push(AppKeyDumpRow {
        workspace_id: w.id.clone(),
        app: "ghost".into(),
        key: "k".into(),
        last_read_at: None,
        last_read_env: None,
    });
    assert!(to.load(&broken).await.is_err());
    assert_eq!(to.dump().await.unwrap(), Dump::default());
    to.load(&Dump::default()).await.unwrap();
    assert_eq!(to.dump().await.unwrap(), Dump::default());
    ready(to).await;
    let before = to.dump().await.unwrap();
    let r = to.load(&dump).await;
    assert!(
        matches!(&r, Err(StoreError::NotEmpty(m)) if m.contains("root_keys: 1")),
        "{r:?}"
    );
    assert_eq!(to.dump().await.unwrap(), before, "nothing was written");
    // Nor into the store the dump came from.
    let fresh_rows = from.dump().await.unwrap();
    let r = from.load(&fresh_rows).await;
    assert!(matches!(r, Err(StoreError::NotEmpty(_))), "{r:?}");
    assert_eq!(from.dump().await.unwrap(), dump);
}

fn webhook(w: &Workspace, id: &str) -> hush_core::webhook::WebhookRow {
    hush_core::webhook::WebhookRow {
        id: id.into(),
        workspace_id: w.id.clone(),
        url: "https://hooks.example.com/x".into(),
        events: vec!["updated".into(), "expired".into()],
        sealed_secret: vec![7; 48],
        after_seq: 3,
        created_at: 10,
        created_by: "t".into(),
    }
}

fn delivery(hook: &str, seq: i64, id: &str) -> hush_core::webhook::DeliveryRow {
    hush_core::webhook::DeliveryRow {
        id: id.into(),
        webhook_id: hook.into(),
        event_seq: seq,
        event_kind: "updated".into(),
        key: "db".into(),
        event_ms: 1_000,
        body: format!("{{\"id\":{seq}}}"),
        status: hush_core::webhook::DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_ms: 1_000,
        last_status: None,
        last_error: None,
        delivered_ms: None,
        created_ms: 1_000 + seq,
    }
}

/// Webhooks are kept with their audit rows; a delivery queued twice (two nodes) is one row;
/// a due delivery is claimed by one lease at a time, finished only by its holder, claimable
/// again once its lease lapses; removing a webhook removes its deliveries.
pub async fn webhook_deliveries_are_queued_once_and_claimed_by_one(s: &dyn Store) {
    use hush_core::webhook::{DeliveryOutcome, DeliveryStatus};
    let w = ready(s).await;
    let other = ws("other");
    s.create_workspace(&other, &dk(&other, 1, 1)).await.unwrap();
    let hook = webhook(&w, "whk_a");
    s.insert_webhook(&hook, &entry("webhook.add"))
        .await
        .unwrap();
    s.insert_webhook(&webhook(&other, "whk_b"), &entry("webhook.add"))
        .await
        .unwrap();
    assert!(matches!(
        s.insert_webhook(&hook, &entry("webhook.add")).await,
        Err(StoreError::Exists)
    ));
    assert_eq!(s.webhooks(Some(&w.id)).await.unwrap(), vec![hook.clone()]);
    assert_eq!(s.webhooks(None).await.unwrap().len(), 2);
    assert_eq!(actions(s).await, ["webhook.add", "webhook.add"]);

    // Two nodes queue the same two events: two rows.
    let first = [delivery("whk_a", 5, "dlv_1"), delivery("whk_a", 6, "dlv_2")];
    let again = [delivery("whk_a", 5, "dlv_3"), delivery("whk_a", 6, "dlv_4")];
    assert_eq!(s.enqueue_deliveries(&first).await.unwrap(), 2);
    assert_eq!(s.enqueue_deliveries(&again).await.unwrap(), 0);
    s.enqueue_deliveries(&[delivery("whk_b", 5, "dlv_5")])
        .await
        .unwrap();
    let listed = s.deliveries(&w.id, None, 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["dlv_2", "dlv_1"],
        "newest first, this workspace's only"
    );
    assert_eq!(listed[1], first[0]);

    // Not due yet: nothing. Due: one claimer gets each.
    assert!(s
        .claim_deliveries(999, "n1", 60_999, 10)
        .await
        .unwrap()
        .is_empty());
    let a = s.claim_deliveries(2_000, "n1", 62_000, 1).await.unwrap();
    let b = s.claim_deliveries(2_000, "n2", 62_000, 10).await.unwrap();
    let c = s.claim_deliveries(2_000, "n3", 62_000, 10).await.unwrap();
    assert_eq!((a.len(), b.len()), (1, 2), "{a:?} {b:?}");
    assert!(c.is_empty(), "all leased: {c:?}");
    let mut ids: Vec<_> = a.iter().chain(&b).map(|d| d.id.clone()).collect();
    ids.sort();
    assert_eq!(ids, ["dlv_1", "dlv_2", "dlv_5"]);

    // Only the lease holder records the outcome.
    let mine = &a[0];
    let mut done = DeliveryOutcome {
        id: mine.id.clone(),
        lease: "n2".into(),
        status: DeliveryStatus::Pending,
        next_attempt_ms: 5_000,
        last_status: Some(500),
        last_error: Some("HTTP 500".into()),
        delivered_ms: None,
    };
    assert!(!s.finish_delivery(&done).await.unwrap());
    done.lease = "n1".into();
    assert!(s.finish_delivery(&done).await.unwrap());
    assert!(
        !s.finish_delivery(&done).await.unwrap(),
        "the lease is lifted"
    );
    // Retried when due, by whoever claims then.
    assert!(s
        .claim_deliveries(4_999, "n3", 64_999, 10)
        .await
        .unwrap()
        .is_empty());
    let retry = s.claim_deliveries(5_000, "n3", 65_000, 10).await.unwrap();
    assert_eq!(retry.len(), 1);
    assert_eq!(
        (
            retry[0].attempts,
            retry[0].last_status,
            retry[0].last_error.as_deref()
        ),
        (1, Some(500), Some("HTTP 500"))
    );
    assert!(s
        .finish_delivery(&DeliveryOutcome {
            id: retry[0].id.clone(),
            lease: "n3".into(),
            status: DeliveryStatus::Delivered,
            next_attempt_ms: 5_100,
            last_status: Some(204),
            last_error: None,
            delivered_ms: Some(5_100),
        })
        .await
        .unwrap());
    // A lapsed lease is claimable again; a delivered one never.
    let lapsed = s.claim_deliveries(70_000, "n4", 130_000, 10).await.unwrap();
    assert_eq!(lapsed.len(), 2, "{lapsed:?}");
    assert!(lapsed.iter().all(|d| d.id != retry[0].id));
    let got = s.deliveries(&w.id, Some("whk_a"), 10).await.unwrap();
    let delivered = got.iter().find(|d| d.id == retry[0].id).unwrap();
    assert_eq!(
        (delivered.status, delivered.attempts, delivered.delivered_ms),
        (DeliveryStatus::Delivered, 2, Some(5_100))
    );

    // Pruning drops finished deliveries queued before the time, never a pending one.
    assert_eq!(s.prune_deliveries(999).await.unwrap(), 0);
    assert_eq!(s.prune_deliveries(10_000).await.unwrap(), 1);
    let left = s.deliveries(&w.id, None, 10).await.unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].status, DeliveryStatus::Pending);

    // Removing a webhook removes its deliveries, with an audit row; another workspace's
    // webhook is not found by id.
    assert!(!s
        .delete_webhook(&w.id, "whk_b", &entry("webhook.remove"))
        .await
        .unwrap());
    assert!(s
        .delete_webhook(&w.id, "whk_a", &entry("webhook.remove"))
        .await
        .unwrap());
    assert!(s.webhooks(Some(&w.id)).await.unwrap().is_empty());
    assert!(s.deliveries(&w.id, None, 10).await.unwrap().is_empty());
    assert_eq!(s.deliveries(&other.id, None, 10).await.unwrap().len(), 1);
    assert_eq!(
        actions(s).await,
        ["webhook.add", "webhook.add", "webhook.remove"]
    );
}

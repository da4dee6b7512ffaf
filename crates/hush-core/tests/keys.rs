//! Keys: opening a store (and refusing a wrong root key), workspaces and their data keys, and
//! rotation — after which every value of every version still reads, also from a new process.

use std::sync::Arc;

use hush_core::audit::Verdict;
use hush_core::{Error, Hush, KeyFileSource, MetadataPatch};
use hush_store_sqlite::SqliteStore;

use crate::common::{bytes, Env};

/// Every version written in the rotation test still reads through `hush`.
async fn reads_all(hush: &Hush, env: &Env, ops: &hush_core::Workspace) {
    for (ws, key, version, want) in [
        (&env.ws, "a", 1, &b"a1"[..]),
        (&env.ws, "a", 2, b"a2"),
        (&env.ws, "a", 3, b"a3"),
        (&env.ws, "b", 1, b"b1"),
        (ops, "c", 1, b"c1"),
    ] {
        let r = hush
            .reveal(ws, key, None, Some(version), &env.admin)
            .await
            .unwrap();
        assert_eq!(r.value.expose_secret(), want, "{key} v{version}");
    }
}

#[tokio::test]
async fn a_rotation_keeps_every_value_of_every_version_readable() {
    let env = Env::new().await;
    env.put("a", b"a1").await;
    env.put("a", b"a2").await;
    env.put("b", b"b1").await;
    let (ops, _) = env.hush.workspace("ops", true).await.unwrap();
    env.hush
        .put(
            &ops,
            "c",
            None,
            &bytes(b"c1"),
            &MetadataPatch::default(),
            &env.admin,
        )
        .await
        .unwrap();

    let report = env
        .hush
        .rotate_keys(&hush_core::Actor::local())
        .await
        .unwrap();
    assert_eq!(report.root_version, 2);
    assert_eq!(report.rewrapped, 2, "one data key per workspace so far");
    assert_eq!(report.workspaces, 2);
    assert_eq!(report.warning, None);
    let data_keys = env.store().data_keys(None).await.unwrap();
    assert_eq!(data_keys.len(), 4);
    assert!(data_keys.iter().all(|k| k.root_version == 2));

    // Old values open with the data key version that sealed them; new ones use the new one.
    env.put("a", b"a3").await;
    reads_all(&env.hush, &env, &ops).await;
    let newest = env
        .store()
        .value(&env.row("a").await.unwrap().id, "", 3)
        .await;
    assert_eq!(newest.unwrap().unwrap().key_version, 2);

    // Another process, with the key file as the rotation left it (older versions retired).
    let reopened = env.reopen().await;
    reads_all(&reopened, &env, &ops).await;
    let again = reopened
        .rotate_keys(&hush_core::Actor::local())
        .await
        .unwrap();
    assert_eq!(again.root_version, 3);
    reads_all(&reopened, &env, &ops).await;
    assert!(matches!(
        reopened
            .verify_audit(&env.ws, &env.admin, None)
            .await
            .unwrap(),
        Verdict::Intact { .. }
    ));
}

#[tokio::test]
async fn another_root_key_does_not_open_the_store() {
    let env = Env::new().await;
    let other = Env::new().await;
    let store = SqliteStore::open(&env.db_path()).unwrap();
    let source = KeyFileSource::open(&other.key_path()).unwrap();
    let err = Hush::open(Arc::new(store), Box::new(source))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err, Error::WrongRootKey { version: 1, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_store_is_initialised_once_and_opened_only_once_initialised() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hush.db");
    let key = dir.path().join("root.key");
    let err = Hush::open(
        Arc::new(SqliteStore::open(&db).unwrap()),
        Box::new(KeyFileSource::new_file(&key)),
    )
    .await
    .err()
    .unwrap();
    assert!(matches!(err, Error::NotInitialized), "{err:?}");
    assert_eq!(err.to_string(), "no hush store here");

    Hush::initialize(
        Arc::new(SqliteStore::open(&db).unwrap()),
        Box::new(KeyFileSource::new_file(&key)),
    )
    .await
    .unwrap();
    let err = Hush::initialize(
        Arc::new(SqliteStore::open(&db).unwrap()),
        Box::new(KeyFileSource::open(&key).unwrap()),
    )
    .await
    .err()
    .unwrap();
    assert!(matches!(err, Error::AlreadyInitialized), "{err:?}");
}

#[tokio::test]
async fn a_workspace_is_made_on_demand_with_a_data_key_of_its_own() {
    let env = Env::new().await;
    let err = env.hush.workspace("ops", false).await.unwrap_err();
    assert!(matches!(err, Error::WorkspaceNotFound { .. }), "{err:?}");
    let err = env.hush.workspace("bad name", true).await.unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");

    let (ops, created) = env.hush.workspace("ops", true).await.unwrap();
    assert!(created);
    assert!(ops.id.starts_with("ws_"));
    let (same, created) = env.hush.workspace("ops", true).await.unwrap();
    assert_eq!((same, created), (ops.clone(), false));
    let keys = env.store().data_keys(Some(&ops.id)).await.unwrap();
    assert_eq!(keys.len(), 1);

    // Another process finds it, keys and all.
    let reopened = env.reopen().await;
    let (found, created) = reopened.workspace("ops", false).await.unwrap();
    assert_eq!((found, created), (ops, false));
    let names: Vec<String> = reopened
        .workspaces()
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.name)
        .collect();
    assert_eq!(names, ["default", "ops"]);
}

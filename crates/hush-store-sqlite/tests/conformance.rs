//! The shared store conformance suite against a real SQLite file.

use std::sync::Arc;

/// A fresh store in its own temporary directory (kept alive by leaking the guard: the test
/// process ends soon after).
fn fresh() -> Arc<hush_store_sqlite::SqliteStore> {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = hush_store_sqlite::SqliteStore::open(&dir.path().join("hush.db")).expect("open");
    std::mem::forget(dir);
    Arc::new(store)
}

hush_store_conformance::conformance_tests!(fresh());

/// Two stores on one file (a server and the CLI) append to one chain.
#[tokio::test]
async fn two_nodes_append_to_one_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("hush.db");
    let a = hush_store_sqlite::SqliteStore::open(&path).expect("open");
    let b = hush_store_sqlite::SqliteStore::open(&path).expect("open again");
    hush_store_conformance::two_nodes_append_to_one_chain(&a, &b).await;
}

/// Three stores on one file commit batches of reads at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_appending_at_once_keep_one_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("hush.db");
    let nodes: Vec<Arc<dyn hush_core::store::Store>> = (0..3)
        .map(|_| {
            Arc::new(hush_store_sqlite::SqliteStore::open(&path).expect("open"))
                as Arc<dyn hush_core::store::Store>
        })
        .collect();
    hush_store_conformance::nodes_appending_at_once_keep_one_chain(nodes).await;
}

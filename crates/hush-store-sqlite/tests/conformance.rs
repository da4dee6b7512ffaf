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

//! A fresh database per test, shared by this crate's test files.

use std::sync::Arc;

use hush_store_postgres::testing::{self, TestDatabase};
use hush_store_postgres::PostgresStore;

/// A store on its own new database; the database is dropped when this is dropped.
pub struct TestDb {
    /// The store on the new database.
    pub store: Arc<PostgresStore>,
    _db: TestDatabase,
}

impl TestDb {
    /// Another store on the same database: a second node (not every test file uses it).
    #[allow(dead_code)]
    pub async fn node(&self) -> Arc<PostgresStore> {
        Arc::new(
            PostgresStore::connect(&self._db.url)
                .await
                .expect("connect a second node"),
        )
    }
}

impl std::ops::Deref for TestDb {
    type Target = PostgresStore;
    fn deref(&self) -> &PostgresStore {
        &self.store
    }
}

/// A new empty database and a store on it, or `None` (with a notice) when no server is
/// configured outside CI.
pub async fn fresh() -> Option<TestDb> {
    let db = TestDatabase::create(&testing::admin_url()?);
    let store = PostgresStore::connect(&db.url)
        .await
        .expect("connect to the test database");
    Some(TestDb {
        store: Arc::new(store),
        _db: db,
    })
}

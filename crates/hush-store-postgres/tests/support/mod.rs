//! A fresh database per test, shared by this crate's test files.

use std::sync::Arc;

use hush_store_postgres::PostgresStore;

/// A store on its own new database; the database is dropped when this is dropped.
pub struct TestDb {
    /// The store on the new database.
    pub store: Arc<PostgresStore>,
    admin_url: String,
    name: String,
}

impl std::ops::Deref for TestDb {
    type Target = PostgresStore;
    fn deref(&self) -> &PostgresStore {
        &self.store
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime, whose connections cannot be used from another
        // one: a fresh connection on a thread of its own drops the database, and FORCE ends
        // the test's sessions.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(admin) = PostgresStore::connect_lazy(&url) {
                    let _ = admin
                        .execute_admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    admin.close().await;
                }
            });
        })
        .join();
    }
}

/// The server to test against, or `None` (with a notice) when none is configured outside CI.
pub fn admin_url() -> Option<String> {
    match std::env::var("HUSH_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!("HUSH_TEST_POSTGRES_URL is unset under CI: the PostgreSQL tests must run (see .ci/run)");
            }
            eprintln!("NOTICE: PostgreSQL tests skipped: set HUSH_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres to run them");
            None
        }
    }
}

/// The URL of database `name` on the server of `admin`.
pub fn url_of(admin: &str, name: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin, String::new()),
    };
    let root = match base.rfind('/') {
        Some(i) if i > base.find("://").map_or(0, |j| j + 2) => &base[..i],
        _ => base,
    };
    format!("{root}/{name}{query}")
}

/// A new empty database and a store on it.
pub async fn fresh() -> Option<TestDb> {
    let admin_url = admin_url()?;
    let mut rnd = [0u8; 8];
    getrandom::fill(&mut rnd).expect("random");
    let name = format!(
        "hush_test_{}",
        rnd.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let admin = PostgresStore::connect_lazy(&admin_url).expect("admin url");
    admin
        .execute_admin(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create the test database");
    admin.close().await;
    let store = PostgresStore::connect(&url_of(&admin_url, &name))
        .await
        .expect("connect to the test database");
    Some(TestDb {
        store: Arc::new(store),
        admin_url,
        name,
    })
}

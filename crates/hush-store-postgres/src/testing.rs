//! Fresh databases for tests: each test gets its own, dropped when it ends. Used by this
//! crate's conformance tests and by the `hush` binary's suite when it runs on PostgreSQL.

/// The variable naming the server tests run against (an admin URL, e.g.
/// `postgres://postgres@127.0.0.1:5432/postgres`).
pub const URL_VAR: &str = "HUSH_TEST_POSTGRES_URL";

/// The server to test against, or `None` (with a visible notice) when none is configured
/// outside CI. Under CI (`CI` set) an unset variable is a failure: the tests must run there.
pub fn admin_url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{URL_VAR} is unset under CI: the PostgreSQL tests must run (see .ci/run)"
            );
            eprintln!(
                "NOTICE: PostgreSQL tests skipped: set {URL_VAR}=postgres://postgres@127.0.0.1:5432/postgres to run them"
            );
            None
        }
    }
}

/// The URL of database `name` on the server of `admin` (same user, host, port and options).
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

/// A new, empty database; dropped (with every session on it ended) when this is dropped.
pub struct TestDatabase {
    /// Its URL.
    pub url: String,
    admin_url: String,
    name: String,
}

impl TestDatabase {
    /// Creates `hush_test_<random>` on the server of `admin_url`.
    ///
    /// Runs on a thread of its own with its own runtime, so it may be called from a test's
    /// async runtime as well as from plain code.
    pub fn create(admin_url: &str) -> TestDatabase {
        // Unique without a random source: this process, a counter, and the time.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("hush_test_{}_{n}_{nanos:08x}", std::process::id());
        admin(admin_url, format!("CREATE DATABASE {name}")).expect("create the test database");
        TestDatabase {
            url: url_of(admin_url, &name),
            admin_url: admin_url.to_string(),
            name,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = admin(
            &self.admin_url,
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// One administrative statement on a fresh connection, from a thread of its own.
fn admin(url: &str, sql: String) -> Result<(), String> {
    let url = url.to_string();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async move {
            let store = crate::PostgresStore::connect_lazy(&url).map_err(|e| e.to_string())?;
            let out = store.execute_admin(&sql).await.map_err(|e| e.to_string());
            store.close().await;
            out
        })
    })
    .join()
    .map_err(|_| "the admin thread panicked".to_string())?
}

impl TestDatabase {
    /// Every value of every column of every table, as raw bytes (`bytea` as stored, anything
    /// else as its text form), for tests that search the store for planted plaintext.
    pub fn dump(&self) -> Vec<u8> {
        let url = self.url.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let store = crate::PostgresStore::connect_lazy(&url).expect("test database url");
                let columns: Vec<(String, String, String)> = sqlx::query_as(
                    "SELECT table_name::text, column_name::text, data_type::text
                     FROM information_schema.columns WHERE table_schema = 'public'
                     ORDER BY table_name, ordinal_position",
                )
                .fetch_all(&store.pool)
                .await
                .expect("list columns");
                let mut all = Vec::new();
                for (table, column, ty) in columns {
                    let expr = if ty == "bytea" {
                        format!("\"{column}\"")
                    } else {
                        format!("convert_to(\"{column}\"::text, 'UTF8')")
                    };
                    let rows: Vec<Option<Vec<u8>>> =
                        sqlx::query_scalar(&format!("SELECT {expr} FROM \"{table}\""))
                            .fetch_all(&store.pool)
                            .await
                            .expect("read a column");
                    for v in rows.into_iter().flatten() {
                        all.extend_from_slice(&v);
                        all.push(b'\n');
                    }
                }
                store.close().await;
                all
            })
        })
        .join()
        .expect("dump thread")
    }
}

/// The first schema, as a hush before the keyed audit chain made databases: for upgrade tests.
pub const SCHEMA_1: &str = include_str!("../migrations/0001_initial.sql");

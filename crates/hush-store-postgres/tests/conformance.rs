//! The shared store conformance suite against a real PostgreSQL server: each test gets its own
//! fresh database, dropped afterwards. `HUSH_TEST_POSTGRES_URL` names the server (a database
//! the user may create databases from, e.g. postgres://postgres@127.0.0.1:5432/postgres). When
//! it is unset the tests are skipped with a notice — except under CI, where they must run.

mod support;

hush_store_conformance::conformance_tests!(optional support::fresh().await);

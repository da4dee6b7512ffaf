//! Drives the real `hush` binary on a temporary `HUSH_HOME`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_hush");

/// What one run of the binary gave.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Out {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "expected success, got {}: {}",
            self.code, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn code(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "expected exit {code}, got {}; stderr: {}",
            self.code, self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// Everything the run printed, for leak checks.
    pub fn all(&self) -> String {
        format!("{}{}", self.text(), self.stderr)
    }
}

/// Whether this run of the suite keeps its stores in PostgreSQL (`HUSH_TEST_BACKEND=postgres`,
/// set by `scripts/test` for its second pass): every home's store is then a fresh database
/// named by `HUSH_DB`, dropped when the home is.
pub fn on_postgres() -> bool {
    std::env::var("HUSH_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// For tests of what only the embedded store has (its file on disk): true, with a notice,
/// when the suite runs on PostgreSQL and the test should return.
pub fn sqlite_only(what: &str) -> bool {
    if on_postgres() {
        eprintln!("NOTICE: skipped on PostgreSQL: {what} is about the embedded SQLite file");
    }
    on_postgres()
}

/// A temporary hush home.
pub struct Home {
    pub dir: tempfile::TempDir,
    pub extra_env: Vec<(String, String)>,
    /// The home's store when the suite runs on PostgreSQL.
    pub pg: Option<hush_store_postgres::testing::TestDatabase>,
}

impl Home {
    /// A home with no store yet.
    pub fn empty() -> Self {
        let pg = if on_postgres() {
            let admin = hush_store_postgres::testing::admin_url()
                .expect("HUSH_TEST_BACKEND=postgres needs HUSH_TEST_POSTGRES_URL");
            Some(hush_store_postgres::testing::TestDatabase::create(&admin))
        } else {
            None
        };
        Home {
            dir: tempfile::tempdir().expect("tempdir"),
            extra_env: Vec::new(),
            pg,
        }
    }

    /// A home initialised with the default key file.
    pub fn new() -> Self {
        let h = Self::empty();
        h.run(&["init"], None).ok();
        h
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn db(&self) -> PathBuf {
        self.path().join("hush.db")
    }

    pub fn with_env(mut self, k: &str, v: &str) -> Self {
        self.extra_env.push((k.into(), v.into()));
        self
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .env("HUSH_HOME", self.path())
            .env("USER", "tester")
            .env_remove("HUSH_PASSPHRASE")
            .env_remove("HUSH_NEW_PASSPHRASE")
            .env_remove("HUSH_ROOT_KEY")
            .env_remove("HUSH_NEW_ROOT_KEY")
            .env_remove("HUSH_WORKSPACE")
            .env_remove("HUSH_KEY_FILE")
            .env_remove("HUSH_ADDR")
            .env_remove("HUSH_TOKEN")
            .env_remove("HUSH_DB")
            .env_remove("HUSH_CACERT")
            // No saved login from the machine running the tests may leak in.
            .env("HUSH_CONFIG", "/nonexistent/hush-test-config.json");
        if let Some(pg) = &self.pg {
            c.env("HUSH_DB", &pg.url);
        }
        for (k, v) in &self.extra_env {
            c.env(k, v);
        }
        c
    }

    /// Runs `hush ARGS`, feeding `stdin` (or an empty, non-terminal stdin).
    pub fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Out {
        self.run_with(self.command(args), stdin)
    }

    pub fn run_with(&self, mut c: Command, stdin: Option<&[u8]>) -> Out {
        client_only(&mut c);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn hush");
        {
            let mut sin = child.stdin.take().expect("stdin");
            if let Some(bytes) = stdin {
                // The child may exit before reading everything (e.g. on a usage error).
                let _ = sin.write_all(bytes);
            }
        }
        let out = child.wait_with_output().expect("wait hush");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `hush secrets set KEY --raw` with the value piped in, byte for byte.
    pub fn set(&self, key: &str, value: &[u8]) -> Out {
        self.run(&["secrets", "set", key, "--raw"], Some(value))
            .ok()
    }

    /// `hush secrets get KEY` → the raw bytes.
    pub fn get(&self, key: &str) -> Vec<u8> {
        self.run(&["secrets", "get", key], None).ok().stdout
    }

    pub fn show_json(&self, key: &str) -> serde_json::Value {
        self.run(&["secrets", "show", key, "-o", "json"], None)
            .ok()
            .json()
    }

    /// Every file of the store, concatenated (db, WAL, shared memory, key file), and on
    /// PostgreSQL every value in the database.
    pub fn store_bytes(&self) -> Vec<u8> {
        let mut all = Vec::new();
        for e in std::fs::read_dir(self.path()).expect("read home") {
            let p = e.expect("entry").path();
            if p.is_file() {
                all.extend(std::fs::read(&p).unwrap_or_default());
            }
        }
        if let Some(pg) = &self.pg {
            all.extend(pg.dump());
        }
        all
    }
}

/// A command given a server (HUSH_ADDR, or a saved login) is a client: in the PostgreSQL pass
/// it must not also be pointed at the home's database.
pub fn client_only(c: &mut Command) {
    let client = c.get_envs().any(|(k, v)| {
        (k == "HUSH_ADDR" && v.is_some_and(|v| !v.is_empty()))
            || (k == "HUSH_CONFIG" && v.is_some_and(|v| v != "/nonexistent/hush-test-config.json"))
    });
    if client {
        c.env_remove("HUSH_DB");
    }
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// An audit row's part about `key`: the row itself when it is about that one key, or for a row
/// naming several (one resolve) that key's item with the row's action, actor and request id.
pub fn audit_part(row: &serde_json::Value, key: &str) -> Option<serde_json::Value> {
    if row["key"] == key {
        return Some(row.clone());
    }
    let item = row["items"].as_array()?.iter().find(|i| i["key"] == key)?;
    let mut part = row.clone();
    let obj = part.as_object_mut()?;
    obj.remove("items");
    for field in ["key", "version", "env", "outcome", "detail"] {
        obj.insert(field.into(), item[field].clone());
    }
    Some(part)
}

/// Every audit row's part about `key` (see [`audit_part`]), in order.
pub fn audit_parts(rows: &serde_json::Value, key: &str) -> Vec<serde_json::Value> {
    rows.as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| audit_part(r, key))
        .collect()
}

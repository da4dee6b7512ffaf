//! Several `hush server` nodes on one PostgreSQL database, and a node riding out a database
//! outage. Real processes, a real database per test (dropped afterwards), real HTTP on
//! 127.0.0.1; the outage test runs a private PostgreSQL instance so that stopping it disturbs
//! nothing else.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use hush_store_postgres::testing::{self, TestDatabase};
use reqwest::blocking::Client;
use serde_json::{json, Value};

use crate::common::{on_postgres, BIN};

/// Every node shares this root key (HUSH_ROOT_KEY), as a deployment would.
const ROOT_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// `hush ARGS` as an operator on the database host: `--db URL`, the shared root key.
pub(crate) fn hush(db: &str, args: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    let out = base_command(home.path(), db)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hush {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn base_command(home: &Path, db: &str) -> Command {
    let mut c = Command::new(BIN);
    c.env("HUSH_HOME", home)
        .env("HUSH_ROOT_KEY", ROOT_KEY)
        .env("HUSH_CONFIG", "/nonexistent/hush-test-config.json")
        .env_remove("HUSH_PASSPHRASE")
        .env_remove("HUSH_KEY_FILE")
        .env_remove("HUSH_ADDR")
        .env_remove("HUSH_TOKEN")
        .env_remove("HUSH_WORKSPACE")
        .args(["--db", db]);
    c
}

/// An initialised store on `db` and its first admin token, minted from the CLI.
pub(crate) fn init(db: &str) -> String {
    hush(db, &["init"]);
    let out = hush(
        db,
        &["tokens", "create", "--role", "admin", "--name", "ops"],
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// One `hush server` process (its own empty HUSH_HOME: nodes keep nothing locally).
pub(crate) struct Node {
    child: Child,
    pub(crate) base: String,
    http: Client,
    _home: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    pub(crate) fn start(db: &str, env: &[(&str, &str)]) -> Node {
        let home = tempfile::tempdir().unwrap();
        let mut c = base_command(home.path(), db);
        c.args(["server", "--listen", "127.0.0.1:0"])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut base = String::new();
        let mut seen = String::new();
        for _ in 0..20 {
            let mut line = String::new();
            if err.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            seen.push_str(&line);
            if let Some(addr) = line.trim().strip_prefix("hush listening on ") {
                base = addr.to_string();
                break;
            }
        }
        assert!(
            base.starts_with("http://127.0.0.1:"),
            "no listen line: {seen}"
        );
        std::thread::spawn(move || for _ in err.lines() {});
        // Every request gives up after 15 s: a hang fails the test, not CI.
        let http = Client::builder()
            .timeout(Duration::from_secs(15))
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        Node {
            child,
            base,
            http,
            _home: home,
        }
    }

    pub(crate) fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut r = self
            .http
            .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url)
            .bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let res = r.send().unwrap();
        let status = res.status().as_u16();
        let text = res.text().unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

/// The shared server for the two-node test, or `None` (notice printed) outside CI. Runs in
/// the suite's SQLite pass only: it always uses PostgreSQL, so once is enough.
pub(crate) fn shared_database() -> Option<TestDatabase> {
    if on_postgres() {
        eprintln!("NOTICE: the several-nodes tests run in the suite's first pass");
        return None;
    }
    Some(TestDatabase::create(&testing::admin_url()?))
}

#[test]
fn two_nodes_on_one_database_agree_on_every_write() {
    let Some(db) = shared_database() else { return };
    let admin = init(&db.url);
    let a = Node::start(&db.url, &[]);
    let b = Node::start(&db.url, &[]);
    let nodes = [&a, &b];

    // Created on A, read on B at once.
    let (st, v) = a.call(
        "POST",
        "/v1/secrets",
        &admin,
        Some(json!({"key": "shared", "value": "from-a"})),
    );
    assert_eq!(st, 201, "{v}");
    let (st, v) = b.call("GET", "/v1/secrets/shared", &admin, None);
    assert_eq!((st, v["value"].as_str()), (200, Some("from-a")), "{v}");

    // An update acknowledged by A is what B serves within a second (B caches reads; the
    // change event evicts them — in milliseconds, the test prints how many).
    let (st, v) = a.call(
        "PATCH",
        "/v1/secrets/shared",
        &admin,
        Some(json!({"value": "updated-on-a"})),
    );
    assert_eq!(st, 200, "{v}");
    let stale = served_until(&b, &admin, "shared", |st, v| {
        st == 200 && v["value"] == "updated-on-a" && v["version"] == 2
    });
    eprintln!(
        "B served the old value {} ms after A's update",
        stale.as_millis()
    );
    assert!(stale < Duration::from_secs(1), "{stale:?}");
    // Revoked on B: A refuses to serve it within a second.
    let (st, _) = b.call("POST", "/v1/secrets/shared/revoke", &admin, None);
    assert_eq!(st, 200);
    let stale = served_until(&a, &admin, "shared", |st, v| {
        st == 403 && v["error"]["code"] == "revoked"
    });
    eprintln!(
        "A served the revoked secret {} ms after B's revoke",
        stale.as_millis()
    );
    assert!(stale < Duration::from_secs(1), "{stale:?}");

    // 50 concurrent creates of one key over both nodes: one wins, 49 are told it exists.
    let barrier = Barrier::new(50);
    let statuses: Vec<(u16, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let (node, barrier, admin) = (nodes[i % 2], &barrier, &admin);
                s.spawn(move || {
                    barrier.wait();
                    node.call(
                        "POST",
                        "/v1/secrets",
                        admin,
                        Some(json!({"key": "race", "value": format!("writer-{i}")})),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let created = statuses.iter().filter(|(s, _)| *s == 201).count();
    let exists = statuses
        .iter()
        .filter(|(s, v)| *s == 409 && v["error"]["code"] == "exists")
        .count();
    assert_eq!(
        (created, exists),
        (1, 49),
        "statuses: {:?}",
        statuses.iter().map(|(s, _)| *s).collect::<Vec<_>>()
    );
    let (_, v) = b.call("GET", "/v1/secrets/race", &admin, None);
    assert_eq!(v["version"], 1, "exactly one version was written: {v}");

    // 100 concurrent guarded (`expected_version`) updates across both nodes: every 2xx is a version, nothing lost.
    let (st, v) = a.call(
        "POST",
        "/v1/secrets",
        &admin,
        Some(json!({"key": "counter", "value": "0"})),
    );
    assert_eq!(st, 201, "{v}");
    let barrier = Barrier::new(100);
    let results: Vec<(u16, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..100)
            .map(|i| {
                let (node, barrier, admin) = (nodes[i % 2], &barrier, &admin);
                s.spawn(move || {
                    // Each reads the version it expects and updates at once: some race
                    // and lose (409), none may be lost.
                    barrier.wait();
                    // Staggered over ~500 ms, so that later readers see earlier winners.
                    std::thread::sleep(Duration::from_millis((i as u64 % 25) * 20));
                    let (st, cur) = node.call("GET", "/v1/secrets/counter", admin, None);
                    assert_eq!(st, 200, "{cur}");
                    let seen = cur["version"].as_u64().unwrap();
                    node.call(
                        "PATCH",
                        "/v1/secrets/counter",
                        admin,
                        Some(json!({"value": format!("update-{i}"), "expected_version": seen})),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok = results
        .iter()
        .filter(|(s, _)| (200..300).contains(s))
        .count();
    for (s, v) in &results {
        assert!(
            (200..300).contains(s) || (*s == 409 && v["error"]["code"] == "stale_version"),
            "a guarded update answered {s}: {v}"
        );
    }
    assert!(ok >= 1, "at least one update wins");
    eprintln!("guarded updates: {ok} of 100 answered 2xx, the rest 409 stale_version");
    let (_, v) = a.call("GET", "/v1/secrets/counter", &admin, None);
    assert_eq!(
        v["version"].as_u64(),
        Some(ok as u64 + 1),
        "final version = 2xx answers + 1: {v}"
    );
    let (_, versions) = b.call(
        "GET",
        "/v1/secrets/counter/versions?limit=1000",
        &admin,
        None,
    );
    assert_eq!(
        versions["items"].as_array().map(Vec::len),
        Some(ok + 1),
        "{versions}"
    );

    // The audit chain, appended by both nodes at once, verifies, from either node.
    for node in nodes {
        let (st, v) = node.call("GET", "/v1/audit/verify", &admin, None);
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["intact"], true, "{v}");
        assert!(v["rows"].as_u64().unwrap() > 100, "{v}");
    }
    drop((a, b));
    // And from the CLI on the database host.
    let out = hush(&db.url, &["audit", "verify"]);
    assert!(out.status.success());
}

/// A PostgreSQL instance of the test's own, on a free port, in a temporary directory.
struct PrivatePostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

impl PrivatePostgres {
    /// Where `initdb` and `pg_ctl` are: PATH, else Debian's /usr/lib/postgresql/*/bin.
    fn binaries() -> Option<PathBuf> {
        let on_path = std::env::var_os("PATH").and_then(|p| {
            std::env::split_paths(&p)
                .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
        });
        on_path.or_else(|| {
            let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
                .ok()?
                .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .filter(|b| b.join("initdb").is_file())
                .collect();
            found.sort();
            found.pop()
        })
    }

    fn create() -> Option<PrivatePostgres> {
        let Some(bin) = Self::binaries() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "the outage test needs PostgreSQL's initdb and pg_ctl under CI"
            );
            eprintln!("NOTICE: outage test skipped: no initdb/pg_ctl on this machine");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        // PostgreSQL refuses to run as root: as root, run it as the `postgres` user.
        let as_postgres = rustix::process::geteuid().is_root();
        if as_postgres {
            let out = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "chown: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = PrivatePostgres {
            bin,
            dir,
            port,
            as_postgres,
        };
        let data = pg.data();
        pg.run(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        pg.start();
        Some(pg)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let mut c = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = c.args(args).stdin(Stdio::null()).output().unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-o", &opts, "-l", &log, "-w", "start"],
        );
    }

    /// Stops it the hard way (as a crash or a lost host would).
    fn stop(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let exe = self.bin.join("pg_ctl");
        let data = self.data();
        let mut c = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let _ = c
            .args(["-D", &data, "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn a_database_outage_gives_503s_then_full_service_within_5_seconds_losing_nothing() {
    if on_postgres() {
        eprintln!("NOTICE: the outage test runs in the suite's first pass");
        return;
    }
    let Some(pg) = PrivatePostgres::create() else {
        return;
    };
    let url = pg.url();
    let admin = init(&url);
    // The timeout bounds how long any request may wait on a database that is gone.
    let node = Node::start(&url, &[("HUSH_PG_TIMEOUT_MS", "1000")]);

    let stop = AtomicBool::new(false);
    let acked: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let unavailable = AtomicUsize::new(0);
    let other: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let slowest = Mutex::new(Duration::ZERO);
    let next = AtomicUsize::new(0);

    let (outage_503s, ready_503, recovered_in) = std::thread::scope(|s| {
        // Four writers of distinct keys, without pause.
        for _ in 0..4 {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let key = format!("load-{i}");
                    let started = Instant::now();
                    let (st, v) = node.call(
                        "PUT",
                        &format!("/v1/secrets/{key}"),
                        &admin,
                        Some(json!({"value": format!("value-{i}")})),
                    );
                    let took = started.elapsed();
                    {
                        let mut w = slowest.lock().unwrap();
                        *w = (*w).max(took);
                    }
                    match st {
                        200 | 201 => acked.lock().unwrap().push(key),
                        503 => {
                            assert_eq!(v["error"]["code"], "unavailable", "{v}");
                            unavailable.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        _ => other.lock().unwrap().push(format!("{st} {v}")),
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_millis(1500));
        let before = acked.lock().unwrap().len();
        assert!(before > 0, "writes succeed before the outage");

        pg.stop();
        let down = Instant::now();
        let mut ready_503 = false;
        while down.elapsed() < Duration::from_secs(4) {
            let r = node
                .http
                .get(format!("{}/readyz", node.base))
                .send()
                .unwrap();
            if r.status().as_u16() == 503 {
                // Every 503 says when to try again.
                assert_eq!(r.headers()["retry-after"], "5");
                ready_503 = true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let outage_503s = unavailable.load(Ordering::Relaxed);

        pg.start();
        let back = Instant::now();
        // Full service: ready, and a write and a read both succeed.
        let recovered_in = loop {
            let ready = node.call("GET", "/readyz", "", None).0 == 200;
            let wrote = ready
                && node
                    .call(
                        "PUT",
                        "/v1/secrets/after-outage",
                        &admin,
                        Some(json!({"value": "back"})),
                    )
                    .0
                    < 300;
            let read = wrote && node.call("GET", "/v1/secrets/after-outage", &admin, None).0 == 200;
            if read {
                break Some(back.elapsed());
            }
            if back.elapsed() > Duration::from_secs(20) {
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        std::thread::sleep(Duration::from_millis(500));
        stop.store(true, Ordering::Relaxed);
        (outage_503s, ready_503, recovered_in)
    });

    eprintln!(
        "outage: {} writes acknowledged, {outage_503s} answered 503, slowest {:?}, recovered in {recovered_in:?}",
        acked.lock().unwrap().len(),
        slowest.lock().unwrap()
    );
    assert!(
        ready_503,
        "/readyz answered 503 while the database was down"
    );
    assert!(
        outage_503s > 0,
        "the API answered 503 while the database was down"
    );
    assert!(
        other.lock().unwrap().is_empty(),
        "only 2xx and 503: {:?}",
        other.lock().unwrap()
    );
    assert!(
        *slowest.lock().unwrap() < Duration::from_secs(5),
        "no request hung past the 1 s database timeout (plus connect and retry slack): {:?}",
        slowest.lock().unwrap()
    );
    let recovered_in = recovered_in.expect("the node served again without a restart");
    assert!(
        recovered_in <= Duration::from_secs(5),
        "full service within 5 s of the database's return, took {recovered_in:?}"
    );
    // Every acknowledged write is there, with its value.
    let acked = acked.into_inner().unwrap();
    for key in &acked {
        let (st, v) = node.call("GET", &format!("/v1/secrets/{key}"), &admin, None);
        let i = key.trim_start_matches("load-");
        assert_eq!(
            (st, v["value"].as_str()),
            (200, Some(format!("value-{i}").as_str())),
            "acknowledged write {key} lost: {v}"
        );
    }
    let (st, v) = node.call("GET", "/v1/audit/verify", &admin, None);
    assert_eq!((st, &v["intact"]), (200, &json!(true)), "{v}");
}

#[test]
fn a_write_on_one_node_reaches_an_event_follower_on_the_other() {
    let Some(db) = shared_database() else { return };
    let admin = init(&db.url);
    let a = Node::start(&db.url, &[]);
    let b = Node::start(&db.url, &[]);
    let rx = crate::events::follow(&b.base, &admin, "", None);
    let mut latencies = Vec::new();
    for i in 0..5 {
        let t0 = Instant::now();
        let (st, v) = a.call(
            "PUT",
            "/v1/secrets/crossing",
            &admin,
            Some(json!({"value": format!("planted-node-{i}")})),
        );
        assert!(st == 200 || st == 201, "{v}");
        let (at, ev) = crate::events::next(&rx, 10, "the write on node A, followed on node B");
        assert_eq!(ev["key"], "crossing", "{ev}");
        assert_eq!(ev["version"], i + 1, "{ev}");
        assert!(!ev.to_string().contains("planted"), "{ev}");
        latencies.push(at.duration_since(t0).as_millis());
    }
    // LISTEN/NOTIFY, not the 5 s safety poll: every event arrives well before the poll would
    // bring it (within a second on a quiet machine; the time includes the write itself, so the
    // bound leaves room for a loaded one).
    eprintln!("node A write -> node B event, ms: {latencies:?}");
    assert!(
        latencies.iter().all(|ms| *ms < 2500),
        "an event took 2.5 s or more: {latencies:?}"
    );
}

#[test]
fn a_revocation_on_one_node_is_obeyed_by_the_other_within_a_second() {
    let Some(db) = shared_database() else { return };
    let admin = init(&db.url);
    let a = Node::start(&db.url, &[]);
    let b = Node::start(&db.url, &[]);
    let (st, v) = a.call(
        "POST",
        "/v1/tokens",
        &admin,
        Some(json!({"role": "read", "name": "roaming"})),
    );
    assert_eq!(st, 201, "{v}");
    let token = v["token"].as_str().unwrap().to_string();
    let (st, _) = a.call(
        "PUT",
        "/v1/secrets/guarded",
        &admin,
        Some(json!({"value": "planted-guarded"})),
    );
    assert!(st == 201 || st == 200);
    for _ in 0..20 {
        assert_eq!(b.call("GET", "/v1/secrets/guarded", &token, None).0, 200);
    }
    // The secret revoked on A: B refuses it within a second.
    let (st, _) = a.call("POST", "/v1/secrets/guarded/revoke", &admin, None);
    assert_eq!(st, 200);
    let stale = served_until(&b, &token, "guarded", |st, v| {
        st == 403 && v["error"]["code"] == "revoked"
    });
    eprintln!(
        "node B served the revoked secret {} ms after node A revoked it (GET)",
        stale.as_millis()
    );
    assert!(stale < Duration::from_secs(1), "{stale:?}");
    // Through resolve (whose rows B caches): an update on A is served by B within a second,
    // and a revocation refused within a second.
    let (st, _) = a.call("POST", "/v1/secrets/guarded/restore", &admin, None);
    assert_eq!(st, 200);
    for _ in 0..20 {
        let (st, v) = b.call(
            "POST",
            "/v1/resolve",
            &token,
            Some(json!({"keys": ["guarded"]})),
        );
        assert_eq!(
            (st, v["secrets"]["guarded"]["value"].as_str()),
            (200, Some("planted-guarded")),
            "{v}"
        );
    }
    let (st, _) = a.call(
        "PATCH",
        "/v1/secrets/guarded",
        &admin,
        Some(json!({"value": "planted-new"})),
    );
    assert_eq!(st, 200);
    let t = Instant::now();
    let stale = crate::events::resolved_until(&b.base, &token, "guarded", t, |v| {
        v["secrets"]["guarded"]["value"] == "planted-new"
    });
    assert!(stale < Duration::from_secs(1), "{stale:?}");
    let (st, _) = a.call("POST", "/v1/secrets/guarded/revoke", &admin, None);
    assert_eq!(st, 200);
    let t = Instant::now();
    let stale = crate::events::resolved_until(&b.base, &token, "guarded", t, |v| {
        v["errors"]["guarded"]["code"] == "revoked"
    });
    eprintln!(
        "node B served the revoked secret {} ms after node A revoked it",
        stale.as_millis()
    );
    assert!(stale < Duration::from_secs(1), "{stale:?}");
    // The token revoked on A: B refuses it within a second.
    let (st, _) = a.call("POST", "/v1/tokens/roaming/revoke", &admin, None);
    assert_eq!(st, 200);
    let revoked = Instant::now();
    let after = crate::events::accepted_for(&b.base, &token, revoked);
    eprintln!(
        "node B accepted the token {} ms after node A revoked it",
        after.as_millis()
    );
    assert!(after < Duration::from_secs(1), "{after:?}");
}

/// `GET /v1/secrets/{key}` on `node` until `done(status, body)`: how long after the first
/// request the last answer for which it did not hold had been asked.
fn served_until(
    node: &Node,
    token: &str,
    key: &str,
    done: impl Fn(u16, &Value) -> bool,
) -> Duration {
    let start = Instant::now();
    let mut last_old = Duration::ZERO;
    loop {
        let sent = Instant::now();
        let (st, v) = node.call("GET", &format!("/v1/secrets/{key}"), token, None);
        if done(st, &v) {
            return last_old;
        }
        last_old = sent.duration_since(start);
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still {st} {v} after 10 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

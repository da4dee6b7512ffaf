//! hush under test: a store home (`HUSH_HOME`, a temp dir unless one is given), the `hush`
//! commands run on it (`init`, `tokens create`, `secrets set`), and `hush server` on a free
//! port of 127.0.0.1, held in a [`ChildGuard`] so it is killed when the scenario ends, however
//! it ends.
//!
//! Every `hush` child gets an environment with no `HUSH_*` variable from ours (a developer's
//! `HUSH_ADDR` or `HUSH_DB` would send the benchmark elsewhere) and `HUSH_CONFIG` pointing
//! into the home, so a saved `hush login` is not used either.

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

use crate::child::ChildGuard;

/// A store home and the `hush` binary that works on it.
pub struct Home {
    hush: PathBuf,
    dir: PathBuf,
    db: Option<String>,
    _temp: Option<tempfile::TempDir>,
}

impl Home {
    /// A fresh home in a temp dir; `db` is `--db` for every command (a PostgreSQL URL), if any.
    pub fn temp(hush: &Path, db: Option<String>) -> Result<Self> {
        let temp = tempfile::Builder::new()
            .prefix("hush-bench-")
            .tempdir()
            .context("cannot make a temp dir")?;
        Ok(Home {
            hush: hush.to_path_buf(),
            dir: temp.path().to_path_buf(),
            db,
            _temp: Some(temp),
        })
    }

    /// A home in `dir`, kept after the run (created if missing).
    pub fn kept(hush: &Path, dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let dir = dir
            .canonicalize()
            .with_context(|| format!("cannot resolve {}", dir.display()))?;
        Ok(Home {
            hush: hush.to_path_buf(),
            dir,
            db: None,
            _temp: None,
        })
    }

    /// The home directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The SQLite store file (when no `--db` is used).
    pub fn db_file(&self) -> PathBuf {
        self.dir.join("hush.db")
    }

    /// The SQLite store's bytes on disk: the file and its write-ahead log (0 on PostgreSQL).
    pub fn store_bytes(&self) -> u64 {
        let db = self.db_file();
        let wal = db.with_extension("db-wal");
        [db, wal]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    /// The root key file.
    pub fn key_file(&self) -> PathBuf {
        self.dir.join("root.key")
    }

    /// A `hush` command on this home, with a clean environment.
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::new(&self.hush);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("HUSH_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("HUSH_HOME", &self.dir)
            .env("HUSH_CONFIG", self.dir.join("no-login.json"));
        if let Some(db) = &self.db {
            cmd.env("HUSH_DB", db);
        }
        cmd.args(args);
        cmd
    }

    /// Runs `hush ARGS` to completion with `input` on stdin; returns stdout, fails with
    /// stderr.
    pub fn run(&self, args: &[&str], input: &[u8]) -> Result<String> {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| {
                format!(
                    "cannot run {} (build it: cargo build --release -p hush)",
                    self.hush.display()
                )
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(input)
                .context("cannot write to hush's stdin")?;
        }
        let out = child.wait_with_output().context("hush did not finish")?;
        if !out.status.success() {
            bail!(
                "`hush {}` failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        String::from_utf8(out.stdout).context("hush printed something that is not UTF-8")
    }

    /// `hush init`.
    pub fn init(&self) -> Result<()> {
        self.run(&["init"], b"").map(|_| ())
    }

    /// A new token of `role` (admin, write, read).
    pub fn token(&self, role: &str) -> Result<String> {
        let out = self.run(&["tokens", "create", "--role", role], b"")?;
        let token = out.trim().to_string();
        if !token.starts_with("hush_") {
            bail!("`hush tokens create` printed no token");
        }
        Ok(token)
    }

    /// `hush server` on a free port, ready (`/readyz` answers 200) when this returns. Its log
    /// goes to `server.log` in the home (shown when it fails to start).
    pub fn serve(&self) -> Result<Server> {
        self.serve_with(&[])
    }

    /// As [`Home::serve`], with more `hush server` flags.
    pub fn serve_with(&self, extra: &[&str]) -> Result<Server> {
        self.serve_env(extra, &[])
    }

    /// As [`Home::serve_with`], with environment variables for the server.
    pub fn serve_env(&self, extra: &[&str], env: &[(&str, &str)]) -> Result<Server> {
        let port = free_port()?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let log_path = self.dir.join("server.log");
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("cannot create {}", log_path.display()))?;
        let child = self
            .command(
                ["server", "--listen", &addr.to_string()]
                    .iter()
                    .copied()
                    .chain(extra.iter().copied()),
            )
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {} server", self.hush.display()))?;
        let mut server = Server {
            child: ChildGuard::new(child, "hush server"),
            addr,
            log: Some(log_path),
        };
        server.wait_ready("/readyz")?;
        Ok(server)
    }
}

/// A free TCP port on 127.0.0.1: bind port 0, read the port the kernel chose, let it go.
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("cannot bind 127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// A server process under test (hush or the floor), killed when dropped.
pub struct Server {
    /// The process.
    pub child: ChildGuard,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its log file, if it has one.
    pub log: Option<PathBuf>,
}

impl Server {
    /// `http://ADDR`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until `GET path` answers 200 (at most 30 s), failing early if the process exits.
    pub fn wait_ready(&mut self, path: &str) -> Result<()> {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let url = format!("{}{path}", self.base());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited ({status}) before it was ready{}",
                    self.child.what(),
                    self.log_tail()
                );
            }
            if let Ok(r) = client.get(&url).send() {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} was not ready within 30 s{}",
                    self.child.what(),
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_tail(&self) -> String {
        let Some(p) = &self.log else {
            return String::new();
        };
        let text = std::fs::read_to_string(p).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("; its log ({}):\n{}", p.display(), tail.join("\n"))
    }

    /// A field of `/proc/PID/status` in kB (e.g. `VmRSS`, `VmHWM`).
    pub fn status_kb(&self, field: &str) -> Result<u64> {
        let path = format!("/proc/{}/status", self.child.id());
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
        text.lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {field} in {path}"))
    }
}

/// A blocking HTTP client for set-up and checks (not for the load).
pub fn client() -> Result<reqwest::blocking::Client> {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .context("cannot build an HTTP client")
}

/// `PUT /v1/secrets/{key}` with `value`; fails unless 200 or 201.
pub fn put_secret(
    client: &reqwest::blocking::Client,
    base: &str,
    token: &str,
    key: &str,
    value: &str,
) -> Result<()> {
    let r = client
        .put(format!("{base}/v1/secrets/{key}"))
        .bearer_auth(token)
        .json(&serde_json::json!({ "value": value }))
        .send()
        .with_context(|| format!("PUT {key}"))?;
    if !r.status().is_success() {
        bail!("PUT {key} answered {}: {}", r.status(), r.text()?);
    }
    Ok(())
}

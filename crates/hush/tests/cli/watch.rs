//! `hush run --watch` with real child processes: an update reaches the command (restart and
//! signal modes) against a real server and on the embedded store; `--on-change exit`; the
//! primary's revocation switches to the backup with the notice; a lost required secret is
//! kept with a warning, or stops the command (`--on-loss stop`, 125); the new value is masked.
//! Latencies are printed, not asserted tightly: the waits are generous, the behaviour is what
//! is checked.

use std::io::Read as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{client_only, Home};
use crate::server::Server;

/// How long a test waits for something that should take about a second.
const PATIENCE: Duration = Duration::from_secs(10);

/// A `hush run --watch` in the background, its output collected.
struct Watched {
    child: Child,
    out: Arc<Mutex<Vec<u8>>>,
    err: Arc<Mutex<Vec<u8>>>,
}

impl Watched {
    fn spawn(mut c: Command) -> Watched {
        client_only(&mut c);
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn hush run --watch");
        let collect = |mut r: Box<dyn std::io::Read + Send>| {
            let buf = Arc::new(Mutex::new(Vec::new()));
            let b = buf.clone();
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                while let Ok(n) = r.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    b.lock().unwrap().extend_from_slice(&chunk[..n]);
                }
            });
            buf
        };
        let out = collect(Box::new(child.stdout.take().unwrap()));
        let err = collect(Box::new(child.stderr.take().unwrap()));
        Watched { child, out, err }
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.err.lock().unwrap()).into_owned()
    }

    /// Waits (up to [`PATIENCE`]) for `what` to hold; returns how long it took.
    fn wait_for(&self, label: &str, what: impl Fn(&Watched) -> bool) -> Duration {
        let t = Instant::now();
        while t.elapsed() < PATIENCE {
            if what(self) {
                return t.elapsed();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "waited {PATIENCE:?} for {label}\nstdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
    }

    /// Waits for hush to exit by itself; its exit code.
    fn exit_code(&mut self) -> i32 {
        let t = Instant::now();
        while t.elapsed() < PATIENCE {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code().unwrap_or(-1);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "hush did not exit\nstdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
    }

    /// Whether hush still runs.
    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// The pids the command printed (`started PID`), in order.
    fn started(&self) -> Vec<i32> {
        self.stdout()
            .lines()
            .filter_map(|l| l.strip_prefix("started "))
            .map(|p| p.trim().parse().unwrap())
            .collect()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        // SIGTERM, as a supervisor would: hush forwards it and exits with the command.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn alive(pid: i32) -> bool {
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// A command that says its pid, writes `$DB` to `seen` and prints it (masked) until stopped.
fn printer(seen: &Path) -> String {
    format!(
        "echo \"started $$\"; printf '%s' \"$DB\" > '{}'; while :; do echo \"val=$DB\"; sleep 0.2; done",
        seen.display()
    )
}

/// Restart mode against a real server: the new value reaches a new process within about a
/// second, the old one is gone, and the command's output shows neither value.
#[test]
fn an_update_restarts_the_command_against_a_server() {
    let s = Server::start();
    s.put("dbpass", json!({"value": "first-db-value-1111"}));
    let h = Home::empty();
    let wd = tempfile::tempdir().unwrap();
    let seen = wd.path().join("seen");
    let env = |c: &mut Command| {
        c.env("HUSH_ADDR", &s.base).env("HUSH_TOKEN", &s.admin);
    };
    let mut c = h.command(&[
        "run",
        "--watch",
        "--grace",
        "5s",
        "--secret",
        "dbpass=DB",
        "--",
        "sh",
        "-c",
        &printer(&seen),
    ]);
    env(&mut c);
    let w = Watched::spawn(c);
    w.wait_for("the first value", |_| read(&seen) == "first-db-value-1111");
    let first = w.started()[0];

    let mut set = h.command(&["secrets", "set", "dbpass", "--raw"]);
    env(&mut set);
    let t = Instant::now();
    let out = h.run_with(set, Some(b"second-db-value-2222"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    w.wait_for("the new value", |_| read(&seen) == "second-db-value-2222");
    eprintln!(
        "restart mode (server): new value seen after {:?}",
        t.elapsed()
    );
    w.wait_for("a second start", |w| w.started().len() >= 2);
    let pids = w.started();
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert_ne!(pids[0], pids[1]);
    assert!(!alive(first), "the old command still runs");
    assert!(
        w.stderr().contains("hush: DB changed: restarting sh"),
        "{}",
        w.stderr()
    );
    // The new value is printed, masked; neither value ever reaches the output.
    w.wait_for("the new command's output", |w| {
        w.stdout()
            .split("started ")
            .nth(2)
            .is_some_and(|t| t.contains("val=***"))
    });
    let all = format!("{}{}", w.stdout(), w.stderr());
    assert!(!all.contains("first-db-value"), "{all}");
    assert!(!all.contains("second-db-value"), "{all}");
}

/// Signal mode with a file: the same file, rewritten in place, read again by the same process
/// on SIGUSR1; not restarted.
#[test]
fn an_update_rewrites_the_file_and_signals_the_same_process() {
    let s = Server::start();
    s.put("tlskey", json!({"value": "first-file-value-3333"}));
    let h = Home::empty();
    let wd = tempfile::tempdir().unwrap();
    let seen = wd.path().join("seen");
    let paths = wd.path().join("paths");
    let script = format!(
        "echo \"started $$\"; \
         reread() {{ cat \"$KEY_FILE\" > '{seen}'; echo \"$KEY_FILE\" >> '{paths}'; }}; \
         trap reread USR1; reread; \
         while :; do sleep 0.1; done",
        seen = seen.display(),
        paths = paths.display()
    );
    let env = |c: &mut Command| {
        c.env("HUSH_ADDR", &s.base).env("HUSH_TOKEN", &s.admin);
    };
    let mut c = h.command(&[
        "run",
        "--watch",
        "--on-change",
        "signal:USR1",
        "--file",
        "tlskey=KEY_FILE",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    env(&mut c);
    let mut w = Watched::spawn(c);
    w.wait_for("the first value", |_| {
        read(&seen) == "first-file-value-3333"
    });
    let mut set = h.command(&["secrets", "set", "tlskey", "--raw"]);
    env(&mut set);
    let t = Instant::now();
    assert_eq!(h.run_with(set, Some(b"second-file-value-4444")).code, 0);
    w.wait_for("the new value", |_| read(&seen) == "second-file-value-4444");
    eprintln!(
        "signal mode (server): new value seen after {:?}",
        t.elapsed()
    );
    // One process all along, and one path.
    assert_eq!(w.started().len(), 1, "{}", w.stdout());
    assert!(alive(w.started()[0]));
    let p: Vec<String> = read(&paths).lines().map(str::to_string).collect();
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!(p[0], p[1]);
    // The file is the command's alone.
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&p[0]).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(w.stderr().contains("sent SIGUSR1"), "{}", w.stderr());
    let all = format!("{}{}", w.stdout(), w.stderr());
    assert!(!all.contains("file-value"), "{all}");
    assert!(w.running());
}

/// On the embedded store (a write by another `hush` process), in signal mode: a secret
/// delivered as an env var cannot be signalled in, so the command is restarted, said so.
#[test]
fn the_embedded_store_is_watched_and_an_env_var_forces_a_restart() {
    let h = Home::new();
    h.set("dbpass", b"embedded-one-5555").ok();
    let wd = tempfile::tempdir().unwrap();
    let seen = wd.path().join("seen");
    let c = h.command(&[
        "run",
        "--watch",
        "--on-change",
        "signal:HUP",
        "--secret",
        "dbpass=DB",
        "--",
        "sh",
        "-c",
        &printer(&seen),
    ]);
    let w = Watched::spawn(c);
    w.wait_for("the first value", |_| read(&seen) == "embedded-one-5555");
    let t = Instant::now();
    h.set("dbpass", b"embedded-two-6666").ok();
    w.wait_for("the new value", |_| read(&seen) == "embedded-two-6666");
    eprintln!(
        "restart (embedded store): new value seen after {:?}",
        t.elapsed()
    );
    assert!(
        w.stderr()
            .contains("delivered as an environment variable, which a running command cannot be given: restarting sh instead of sending SIGHUP"),
        "{}",
        w.stderr()
    );
    w.wait_for("a second start", |w| w.started().len() == 2);
    assert!(!alive(w.started()[0]));
    // Changes within a second are applied once. (Each write is a `hush` process of its own: on
    // a loaded machine the second may land more than a second after the first, and then two
    // restarts are right.)
    let t = Instant::now();
    h.set("dbpass", b"embedded-three-7777").ok();
    h.set("dbpass", b"embedded-four-8888").ok();
    let both_within = t.elapsed() < Duration::from_millis(800);
    w.wait_for("the last value", |_| read(&seen) == "embedded-four-8888");
    std::thread::sleep(Duration::from_millis(1500));
    let starts = w.started().len();
    if both_within {
        assert_eq!(starts, 3, "{}", w.stdout());
    } else {
        assert!(
            starts == 3 || starts == 4,
            "{starts} starts: {}",
            w.stdout()
        );
    }
}

/// `--on-change exit`: the command is stopped (SIGTERM) and hush exits with its code.
#[test]
fn exit_mode_stops_the_command_and_passes_its_code_on() {
    let h = Home::new();
    h.set("dbpass", b"exit-mode-value-1").ok();
    let c = h.command(&[
        "run",
        "--watch",
        "--on-change",
        "exit",
        "--secret",
        "dbpass=DB",
        "--",
        "sh",
        "-c",
        "trap 'exit 7' TERM; echo \"started $$\"; while :; do sleep 0.1; done",
    ]);
    let mut w = Watched::spawn(c);
    w.wait_for("the start", |w| !w.started().is_empty());
    h.set("dbpass", b"exit-mode-value-2").ok();
    assert_eq!(w.exit_code(), 7, "{}", w.stderr());
    assert!(
        w.stderr().contains("stopping sh (--on-change exit)"),
        "{}",
        w.stderr()
    );
}

/// The primary's revocation, against a server: the watched workload switches to the backup
/// and says so, as a run that starts on the backup does.
#[test]
fn revoking_the_primary_switches_a_watched_workload_to_the_backup() {
    let s = Server::start();
    s.put("gh-primary", json!({"value": "primary-token-9999"}));
    s.put("gh-backup", json!({"value": "backup-token-0000"}));
    let h = Home::empty();
    let wd = tempfile::tempdir().unwrap();
    std::fs::write(
        wd.path().join("hush.toml"),
        "app = \"tooljump\"\nenv = \"prd\"\n[secrets.GITHUB_TOKEN]\nkey = \"gh-primary\"\nfallback = [\"gh-backup\"]\n",
    )
    .unwrap();
    let seen = wd.path().join("seen");
    let env = |c: &mut Command| {
        c.env("HUSH_ADDR", &s.base)
            .env("HUSH_TOKEN", &s.admin)
            .current_dir(wd.path());
    };
    let mut c = h.command(&[
        "run",
        "--watch",
        "--",
        "sh",
        "-c",
        &format!(
            "echo \"started $$\"; printf '%s' \"$GITHUB_TOKEN\" > '{}'; echo \"$HUSH_SECRETS_MAP\"; while :; do sleep 0.1; done",
            seen.display()
        ),
    ]);
    env(&mut c);
    let w = Watched::spawn(c);
    w.wait_for("the primary", |_| read(&seen) == "primary-token-9999");
    let mut revoke = h.command(&["secrets", "revoke", "gh-primary"]);
    env(&mut revoke);
    let t = Instant::now();
    let out = h.run_with(revoke, None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    w.wait_for("the backup", |_| read(&seen) == "backup-token-0000");
    eprintln!(
        "fallback switch (server): backup seen after {:?}",
        t.elapsed()
    );
    assert!(
        w.stderr()
            .contains("hush: GITHUB_TOKEN: served by gh-backup (gh-primary skipped: revoked)"),
        "{}",
        w.stderr()
    );
    w.wait_for("the new map", |w| {
        w.stdout().contains("\"served_by\":\"gh-backup\"")
    });
    // Restored: the primary serves again.
    let mut restore = h.command(&["secrets", "restore", "gh-primary"]);
    env(&mut restore);
    assert_eq!(h.run_with(restore, None).code, 0);
    w.wait_for("the primary again", |_| read(&seen) == "primary-token-9999");
    assert!(
        w.stderr()
            .contains("GITHUB_TOKEN: served by gh-primary again"),
        "{}",
        w.stderr()
    );
    let all = format!("{}{}", w.stdout(), w.stderr());
    assert!(!all.contains("-token-"), "{all}");
}

/// A required secret lost with no fallback: kept, with a warning naming it and why; with
/// `--on-loss stop`, the command is stopped and hush exits 125.
#[test]
fn a_lost_secret_is_kept_with_a_warning_or_stops_the_command() {
    let h = Home::new();
    h.set("dbpass", b"lost-value-4242").ok();
    let wd = tempfile::tempdir().unwrap();
    let seen = wd.path().join("seen");
    let c = h.command(&[
        "run",
        "--watch",
        "--secret",
        "dbpass=DB",
        "--",
        "sh",
        "-c",
        &printer(&seen),
    ]);
    let mut w = Watched::spawn(c);
    w.wait_for("the start", |w| !w.started().is_empty());
    h.run(&["secrets", "revoke", "dbpass"], None).ok();
    w.wait_for("the warning", |w| {
        w.stderr().contains(
            "hush: warning: DB is unavailable (dbpass: revoked); the command keeps its old value",
        )
    });
    assert!(w.running());
    assert_eq!(w.started().len(), 1);
    drop(w);

    h.run(&["secrets", "restore", "dbpass"], None).ok();
    let c = h.command(&[
        "run",
        "--watch",
        "--on-loss",
        "stop",
        "--grace",
        "2s",
        "--secret",
        "dbpass=DB",
        "--",
        "sh",
        "-c",
        &printer(&seen),
    ]);
    let mut w = Watched::spawn(c);
    w.wait_for("the start", |w| !w.started().is_empty());
    let pid = w.started()[0];
    h.run(&["secrets", "revoke", "dbpass"], None).ok();
    assert_eq!(w.exit_code(), 125, "{}", w.stderr());
    assert!(
        w.stderr().contains(
            "hush: stopping sh: DB is unavailable (dbpass: revoked) and --on-loss is stop"
        ),
        "{}",
        w.stderr()
    );
    assert!(!alive(pid));
    assert!(!w.stderr().contains("lost-value"));
}

/// The watch flags need --watch; a mode or a signal that is not one is a usage error.
#[test]
fn watch_flags_are_checked() {
    let h = Home::new();
    for (args, says) in [
        (vec!["run", "--on-change", "exit", "--", "true"], "--watch"),
        (vec!["run", "--grace", "5s", "--", "true"], "--watch"),
        (
            vec!["run", "--watch", "--on-change", "signal:FOO", "--", "true"],
            "not a signal hush sends",
        ),
        (
            vec!["run", "--watch", "--on-change", "reload", "--", "true"],
            "give restart, exit or signal:NAME",
        ),
        (
            vec!["run", "--watch", "--grace", "soon", "--", "true"],
            "--grace \"soon\" is not a duration",
        ),
        (
            vec!["run", "--watch", "--on-loss", "ignore", "--", "true"],
            "give keep or stop",
        ),
    ] {
        let out = h.run(&args, None).code(2);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
}

/// The server going away while watching: said once, the command keeps running.
#[test]
fn a_lost_server_is_said_once_and_the_command_keeps_running() {
    let s = Server::start();
    s.put("dbpass", json!({"value": "outage-value-1357"}));
    let h = Home::empty();
    let mut c = h.command(&[
        "run",
        "--watch",
        "--no-fallback",
        "--secret",
        "dbpass=DB",
        "--",
        "sh",
        "-c",
        "echo \"started $$\"; while :; do sleep 0.1; done",
    ]);
    c.env("HUSH_ADDR", &s.base).env("HUSH_TOKEN", &s.admin);
    let mut w = Watched::spawn(c);
    w.wait_for("the start", |w| !w.started().is_empty());
    // Connected: give the stream a moment, then stop the server.
    std::thread::sleep(Duration::from_millis(500));
    drop(s);
    let said = "hush: warning: not hearing of changes for now";
    w.wait_for("the warning", |w| w.stderr().contains(said));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(w.stderr().matches(said).count(), 1, "{}", w.stderr());
    assert!(w.running());
    assert_eq!(w.started().len(), 1);
}

/// On the embedded store, with no server sweeping expiries: the watched value's expiry is
/// looked at when it comes, and the backup takes over with the notice.
#[test]
fn an_expiry_on_the_embedded_store_switches_to_the_backup() {
    let h = Home::new();
    h.set("api-primary", b"expiring-primary-2468").ok();
    h.set("api-backup", b"expiring-backup-1357").ok();
    let updated = Instant::now();
    h.run(
        // Room for `hush run` to start and resolve it first on a loaded machine.
        &["secrets", "update", "api-primary", "--expires", "8s"],
        None,
    )
    .ok();
    let wd = tempfile::tempdir().unwrap();
    std::fs::write(
        wd.path().join("hush.toml"),
        "app = \"expiry\"\n[secrets.API_KEY]\nkey = \"api-primary\"\nfallback = [\"api-backup\"]\n",
    )
    .unwrap();
    let seen = wd.path().join("seen");
    let mut c = h.command(&[
        "run",
        "--watch",
        "--",
        "sh",
        "-c",
        &format!(
            "echo \"started $$\"; printf '%s' \"$API_KEY\" > '{}'; while :; do sleep 0.1; done",
            seen.display()
        ),
    ]);
    c.current_dir(wd.path());
    let w = Watched::spawn(c);
    w.wait_for("the primary", |_| read(&seen) == "expiring-primary-2468");
    std::thread::sleep(Duration::from_secs(8).saturating_sub(updated.elapsed()));
    w.wait_for("the backup", |_| read(&seen) == "expiring-backup-1357");
    assert!(
        w.stderr()
            .contains("hush: API_KEY: served by api-backup (api-primary skipped: expired)"),
        "{}",
        w.stderr()
    );
}

//! Process hygiene (issue 13, finding 4): no hush process that holds a key, token or value
//! leaves a core dump, even when its core limit was raised by whoever started it, or raised
//! from outside afterwards by someone of the same user; `hush run`'s command keeps the core
//! limit it would have had without hush.
//!
//! The tests abort the real processes with SIGABRT. Where this machine writes core files
//! into the working directory (`kernel.core_pattern` without `|` or `/`, checked first by
//! aborting a `sleep` started the same way), they also look for the file; elsewhere (a
//! pattern that pipes cores to systemd-coredump or apport) the process's core limit, its exit
//! status (no "core dumped") and the absence of a file are what is checked, and a notice says so.

use std::io::BufRead as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Resource, Rlimit, Signal};

use crate::common::{Home, BIN};

const PLANTED: &str = "planted-core-value-5b0e2c9d41";

/// `hush ARGS` as `home.command` would run it, started through `sh` after `ulimit -c
/// unlimited` (as an operator debugging a crash would), in `cwd`.
fn with_cores_on(home_command: Command, cwd: &Path) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(r#"ulimit -c unlimited 2>/dev/null; exec "$0" "$@""#)
        .arg(BIN)
        .args(home_command.get_args())
        .current_dir(cwd);
    for (k, v) in home_command.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c
}

/// Whether a process started after `ulimit -c unlimited` and then aborted leaves a core file
/// in its working directory on this machine: checked with `sleep`.
fn cores_land_in_cwd() -> bool {
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
    let pattern = pattern.trim();
    if pattern.starts_with('|') || pattern.contains('/') || pattern.is_empty() {
        eprintln!("NOTICE: kernel.core_pattern is {pattern:?}: cores do not land in the working directory; checking the core limit and exit status only");
        return false;
    }
    let cwd = tempfile::tempdir().unwrap();
    let mut c = Command::new("sh");
    c.args(["-c", "ulimit -c unlimited 2>/dev/null; exec sleep 30"])
        .current_dir(cwd.path())
        .stdin(Stdio::null());
    let mut child = c.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    abort(child.id());
    let status = child.wait().unwrap();
    let landed = status.core_dumped() && std::fs::read_dir(cwd.path()).unwrap().count() > 0;
    if !landed {
        eprintln!("NOTICE: an aborted `sleep` left no core in its working directory here (core limit or container policy): checking the core limit and exit status only");
    }
    landed
}

fn abort(pid: u32) {
    rustix::process::kill_process(Pid::from_raw(pid as i32).unwrap(), Signal::ABORT).unwrap();
}

/// The soft and hard core limits of a process, as `/proc/PID/limits` prints them.
fn core_limit(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    let mut f = line["Max core file size".len()..].split_whitespace();
    (f.next().unwrap().into(), f.next().unwrap().into())
}

/// Raises a process's core limit from outside, as someone of the same user (or root) could;
/// false when this test may not (unprivileged, and the hard limit is 0).
fn raise_core_limit(pid: u32) -> bool {
    rustix::process::prlimit(
        Pid::from_raw(pid as i32),
        Resource::Core,
        Rlimit {
            current: None,
            maximum: None,
        },
    )
    .is_ok()
}

/// Waits for a process to end; a zombie nobody reaps counts as ended.
pub fn gone_within(pid: u32, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(stat)
                if stat
                    .rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z') =>
            {
                return true
            }
            Ok(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    false
}

/// Kills a process when dropped, so a failing test leaves no `sleep 300` behind.
pub struct KillOnDrop(pub u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = Pid::from_raw(self.0 as i32) {
            let _ = rustix::process::kill_process(pid, Signal::KILL);
        }
    }
}

/// Every file in `dir` but `except`, and whether any holds the planted value.
fn files_left(dir: &Path, except: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| !except.contains(&e.file_name().to_string_lossy().as_ref()))
        .map(|e| {
            let bytes = std::fs::read(e.path()).unwrap_or_default();
            let holds = crate::common::contains(&bytes, PLANTED.as_bytes());
            format!(
                "{} ({} bytes{})",
                e.file_name().to_string_lossy(),
                bytes.len(),
                if holds {
                    ", holds the planted value"
                } else {
                    ""
                }
            )
        })
        .collect()
}

#[test]
fn an_aborted_server_leaves_no_core_with_its_keys_or_values() {
    let cores_visible = cores_land_in_cwd();
    let home = Home::empty();
    let cwd = tempfile::tempdir().unwrap();
    let mut c = with_cores_on(
        home.command(&["server", "--listen", "127.0.0.1:0"]),
        cwd.path(),
    );
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child: Child = c.spawn().unwrap();
    let _guard = KillOnDrop(child.id());
    let (admin, base, err) = crate::server::started(&mut child);
    assert!(base.starts_with("http://127.0.0.1:"), "no listen line");
    std::thread::spawn(move || for _ in err.lines() {});

    // The root key is unwrapped, the value sealed and opened, the admin token checked.
    let http = reqwest::blocking::Client::new();
    let posted = http
        .post(format!("{base}/v1/secrets"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"key": "planted", "value": PLANTED}))
        .send()
        .unwrap();
    assert_eq!(posted.status(), 201);
    let got: serde_json::Value = http
        .get(format!("{base}/v1/secrets/planted"))
        .bearer_auth(&admin)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(got["value"], PLANTED);

    let pid = child.id();
    assert_eq!(
        core_limit(pid),
        ("0".into(), "0".into()),
        "the server's core limit (soft, hard)"
    );
    // Raised from outside, the limit is no way in either: the process is not dumpable.
    let raised = raise_core_limit(pid);
    if !raised {
        eprintln!("NOTICE: cannot raise the server's core limit from here: the dumpable flag is checked through the limit of 0 only");
    }
    abort(pid);
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(6), "{status:?}");
    assert!(!status.core_dumped(), "the server dumped core");
    let left = files_left(cwd.path(), &[]);
    assert!(left.is_empty(), "the aborted server left {left:?}");
    if !cores_visible {
        eprintln!("NOTICE: core files would not have been visible here; the exit status said no core was dumped");
    }
}

#[test]
fn an_aborted_hush_run_leaves_no_core_and_its_command_keeps_its_own_core_limit() {
    let cores_visible = cores_land_in_cwd();
    let home = Home::empty();
    let cwd = tempfile::tempdir().unwrap();
    // What the command would get without hush.
    let expected = Command::new("sh")
        .args([
            "-c",
            r#"ulimit -c unlimited 2>/dev/null; exec grep "Max core file size" /proc/self/limits"#,
        ])
        .output()
        .unwrap();
    let expected = String::from_utf8(expected.stdout).unwrap();
    let mut c = with_cores_on(
        home.command(&[
            "run",
            "--no-mask",
            "--secret",
            "planted=PLANTED",
            "--",
            "sh",
            "-c",
            r#"grep "Max core file size" /proc/self/limits > limits.txt; echo $$ > child.pid; exec sleep 300"#,
        ]),
        cwd.path(),
    );
    c.env("HUSH_SECRET_planted", PLANTED)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    let _guard = KillOnDrop(child.id());
    let pid_file = cwd.path().join("child.pid");
    let start = Instant::now();
    let command_pid: u32 = loop {
        if let Some(p) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            break p;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no command");
        std::thread::sleep(Duration::from_millis(20));
    };
    let _command_guard = KillOnDrop(command_pid);
    assert_eq!(
        std::fs::read_to_string(cwd.path().join("limits.txt")).unwrap(),
        expected,
        "the command's core limit is the one it would have had without hush"
    );
    let pid = child.id();
    assert_eq!(core_limit(pid).0, "0", "hush run's soft core limit");
    if !raise_core_limit(pid) {
        eprintln!("NOTICE: cannot raise hush run's core limit from here: the dumpable flag is checked through the limit of 0 only");
    }
    abort(pid);
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(6), "{status:?}");
    assert!(!status.core_dumped(), "hush run dumped core");
    assert!(
        gone_within(command_pid, Duration::from_secs(2)),
        "the command outlived hush"
    );
    let left = files_left(cwd.path(), &["child.pid", "limits.txt"]);
    assert!(left.is_empty(), "the aborted run left {left:?}");
    if !cores_visible {
        eprintln!("NOTICE: core files would not have been visible here; the exit status said no core was dumped");
    }
}

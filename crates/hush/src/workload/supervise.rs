//! Supervision: the command started with the environment it was given, tied to hush (it dies
//! with hush), signals forwarded to it, its output masked on the way out, and its exit code
//! passed on.

use std::ffi::OsString;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use hush_core::SecretBytes;

use super::{NOT_EXECUTABLE, NOT_FOUND};

/// The signals hush handles while a workload runs: forwarded to it.
pub(super) struct Signals(Vec<(i32, tokio::signal::unix::Signal)>);

impl Signals {
    pub fn install() -> Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut handlers = Vec::new();
        for kind in [
            SignalKind::interrupt(),
            SignalKind::terminate(),
            SignalKind::hangup(),
            SignalKind::quit(),
            SignalKind::user_defined1(),
            SignalKind::user_defined2(),
            SignalKind::window_change(),
        ] {
            handlers.push((kind.as_raw_value(), signal(kind)?));
        }
        Ok(Signals(handlers))
    }

    /// A terminating signal that arrived before the command could be started.
    pub(super) async fn pending_stop(&mut self) -> Option<i32> {
        // HUP INT QUIT TERM
        const STOPS: [i32; 4] = [1, 2, 3, 15];
        // One turn of the runtime's drivers (no timer tick), so that a signal that arrived
        // while the secrets were fetched is delivered to the streams polled below.
        tokio::task::yield_now().await;
        for (raw, s) in &mut self.0 {
            // Polled once, without a timer (a zero timeout still waits for the timer's tick).
            if STOPS.contains(raw)
                && matches!(
                    std::future::poll_fn(|cx| std::task::Poll::Ready(s.poll_recv(cx))).await,
                    std::task::Poll::Ready(Some(()))
                )
            {
                return Some(*raw);
            }
        }
        None
    }
}

/// How long hush keeps copying output after the command exited (a background process may
/// hold the pipes open).
const DRAIN: Duration = Duration::from_secs(5);

/// Starts the command, forwards signals, masks its output; returns its exit code.
pub(super) async fn supervise(
    command: &[OsString],
    env: Vec<(OsString, OsString)>,
    patterns: Option<Arc<LazyPatterns>>,
    mut signals: Signals,
) -> Result<i32> {
    if let Some(sig) = signals.pending_stop().await {
        return Ok(128 + sig);
    }
    let mut running = match start(command, env, patterns.as_ref(), false)? {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    // Signals that came while it was being started wait in their streams: forwarded now.
    let fwd = Forwarding::start(signals, false);
    fwd.target(running.pid);
    let status = running.child.wait().await?;
    Ok(fwd.finish(running, status, DRAIN).await)
}

/// Signals to hush forwarded to the running command (to its process group under `--watch`):
/// which command is followed as it is restarted; when none runs, a stopping signal is kept
/// (no restart after it) and ends the wait for the last output.
pub(super) struct Forwarding {
    pid: Arc<std::sync::atomic::AtomicI32>,
    stopped: Arc<std::sync::atomic::AtomicI32>,
    stop_draining: Arc<tokio::sync::Notify>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Forwarding {
    /// Forwards `signals` (to the process group of the command when `group`).
    pub fn start(signals: Signals, group: bool) -> Self {
        use std::sync::atomic::{AtomicI32, Ordering};
        let pid = Arc::new(AtomicI32::new(0));
        let stopped = Arc::new(AtomicI32::new(0));
        let stop_draining = Arc::new(tokio::sync::Notify::new());
        let mut tasks = Vec::new();
        for (raw, mut stream) in signals.0 {
            let Some(sig) = rustix::process::Signal::from_named_raw(raw) else {
                continue;
            };
            let (pid, stopped, stop) = (pid.clone(), stopped.clone(), stop_draining.clone());
            tasks.push(tokio::spawn(async move {
                while stream.recv().await.is_some() {
                    match rustix::process::Pid::from_raw(pid.load(Ordering::SeqCst)) {
                        Some(p) => send(p, sig, group),
                        None => {
                            if [1, 2, 3, 15].contains(&raw) {
                                stopped.store(raw, Ordering::SeqCst);
                            }
                            if [1, 2, 15].contains(&raw) {
                                stop.notify_one();
                            }
                        }
                    }
                }
            }));
        }
        Forwarding {
            pid,
            stopped,
            stop_draining,
            tasks,
        }
    }

    /// Signals go to `pid` from now on (none: the command has exited).
    pub fn target(&self, pid: Option<rustix::process::Pid>) {
        self.pid.store(
            pid.map_or(0, |p| p.as_raw_nonzero().get()),
            std::sync::atomic::Ordering::SeqCst,
        );
    }

    /// A stopping signal (HUP, INT, QUIT, TERM) that came while no command ran.
    pub fn stopped(&self) -> Option<i32> {
        match self.stopped.load(std::sync::atomic::Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }

    /// Signals go to `pid`'s process group from now on; a stopping signal that came while
    /// none ran is sent to it now (it was meant for the command).
    pub fn target_group(&self, pid: Option<rustix::process::Pid>) {
        self.target(pid);
        let raw = self.stopped.swap(0, std::sync::atomic::Ordering::SeqCst);
        if let (Some(p), Some(sig)) = (pid, rustix::process::Signal::from_named_raw(raw)) {
            send(p, sig, true);
        }
    }

    /// The command exited with `status`: waits for its last output (at most `drain`, or until
    /// a SIGINT/SIGTERM/SIGHUP), stops forwarding, and returns the exit code to pass on.
    pub async fn finish(
        self,
        running: Running,
        status: std::process::ExitStatus,
        drain: Duration,
    ) -> i32 {
        self.target(None);
        self.drain(running, drain).await;
        for f in self.tasks {
            f.abort();
        }
        exit_code(status)
    }

    /// Waits for a command's last output: at most `drain`, or until a SIGINT/SIGTERM/SIGHUP.
    pub async fn drain(&self, running: Running, drain: Duration) {
        let drained = async {
            for p in running.pumps {
                let _ = p.await;
            }
        };
        tokio::select! {
            _ = tokio::time::timeout(drain, drained) => {}
            _ = self.stop_draining.notified() => {}
        }
    }
}

/// Sends `sig` to `pid`, or to its process group.
pub(super) fn send(pid: rustix::process::Pid, sig: rustix::process::Signal, group: bool) {
    if group {
        let _ = rustix::process::kill_process_group(pid, sig);
    } else {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

/// The exit code hush passes on for a command's `status`.
pub(super) fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(sig)) => 128 + sig,
        (None, None) => 1,
    }
}

/// A started command and the threads copying its output.
pub(super) struct Running {
    pub child: tokio::process::Child,
    pub pid: Option<rustix::process::Pid>,
    pumps: Vec<tokio::sync::oneshot::Receiver<()>>,
}

/// Starts the command with `env`, its output masked with `patterns` (in a process group of
/// its own when `group`, so that a restart reaches what it started); `Err` is the exit code
/// when it cannot be started (not found, not executable), said on stderr.
pub(super) fn start(
    command: &[OsString],
    env: Vec<(OsString, OsString)>,
    patterns: Option<&Arc<LazyPatterns>>,
    group: bool,
) -> Result<Result<Running, i32>> {
    use std::process::Stdio;
    // The command dies with hush and gets back the core limit hush started with
    // (crate::hygiene::tie_to_hush, set up in the child between fork and exec).
    let mut cmd = tokio::process::Command::new(&command[0]);
    cmd.args(&command[1..])
        .env_clear()
        .envs(env)
        .stdin(Stdio::inherit());
    crate::hygiene::tie_to_hush(&mut cmd);
    if group {
        cmd.process_group(0);
    }
    if patterns.is_some() {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let program = command[0].to_string_lossy();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("hush: {program}: command not found");
            return Ok(Err(NOT_FOUND));
        }
        Err(e) => {
            eprintln!("hush: {program}: cannot execute: {e}");
            return Ok(Err(NOT_EXECUTABLE));
        }
    };
    let pid = child
        .id()
        .and_then(|id| rustix::process::Pid::from_raw(id as i32));
    // The output is copied by threads of their own, so a slow reader of hush's output never
    // stalls signal forwarding.
    let mut pumps = Vec::new();
    if let Some(p) = patterns {
        if let Some(out) = child.stdout.take() {
            pumps.push(spawn_pump(out.into_owned_fd()?, p.clone(), false));
        }
        if let Some(err) = child.stderr.take() {
            pumps.push(spawn_pump(err.into_owned_fd()?, p.clone(), true));
        }
    }
    Ok(Ok(Running { child, pid, pumps }))
}

/// Copies one of the command's streams to hush's, through the masker, on a thread; the
/// receiver resolves when the stream ends.
fn spawn_pump(
    from: std::os::fd::OwnedFd,
    patterns: Arc<LazyPatterns>,
    to_stderr: bool,
) -> tokio::sync::oneshot::Receiver<()> {
    let (done, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        pump(std::fs::File::from(from), &patterns, to_stderr);
        let _ = done.send(());
    });
    rx
}

/// The masker's patterns, built by the first pump that has output to mask: a command that
/// writes nothing costs no automaton, and one that does waits for it once, before its first
/// bytes go out (never unmasked). Under `hush run --watch` they grow: values learnt
/// ([`LazyPatterns::learn`]) are masked from the next bytes read on, beside the old ones.
pub(super) struct LazyPatterns {
    state: std::sync::Mutex<PatternState>,
}

struct PatternState {
    values: Vec<SecretBytes>,
    built: Option<Arc<hush_mask::Patterns>>,
}

impl LazyPatterns {
    pub fn new(values: Vec<SecretBytes>) -> Self {
        LazyPatterns {
            state: std::sync::Mutex::new(PatternState {
                values,
                built: None,
            }),
        }
    }

    /// Masks `values` too (those not masked yet), from the next bytes read on.
    pub fn learn(&self, values: impl IntoIterator<Item = SecretBytes>) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut grew = false;
        for v in values {
            // EXPOSE: comparing, to mask each value once.
            if !st
                .values
                .iter()
                .any(|o| o.expose_secret() == v.expose_secret())
            {
                st.values.push(v);
                grew = true;
            }
        }
        if grew {
            st.built = None;
        }
    }

    fn get(&self) -> Arc<hush_mask::Patterns> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = &st.built {
            return p.clone();
        }
        // EXPOSE: the masker needs the values to find them in the output.
        let p = Arc::new(hush_mask::Patterns::new(
            st.values.iter().map(|v| v.expose_secret()),
        ));
        st.built = Some(p.clone());
        p
    }
}

fn pump(mut from: std::fs::File, patterns: &LazyPatterns, to_stderr: bool) {
    use std::io::{Read as _, Write as _};
    let write = |bytes: &[u8]| -> std::io::Result<()> {
        if to_stderr {
            let mut e = std::io::stderr().lock();
            e.write_all(bytes).and_then(|()| e.flush())
        } else {
            let mut o = std::io::stdout().lock();
            o.write_all(bytes).and_then(|()| o.flush())
        }
    };
    // What the masker held back, and the patterns it was held back with: each read is masked
    // with the newest patterns, going on from there.
    let mut held: Option<(Arc<hush_mask::Patterns>, zeroize::Zeroizing<Vec<u8>>)> = None;
    let mut buf = zeroize::Zeroizing::new(vec![0u8; 64 * 1024]);
    loop {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let p = patterns.get();
                let pending = held.take().map(|(_, h)| h).unwrap_or_default();
                let mut m = hush_mask::Masker::resume(&p, pending);
                let out = zeroize::Zeroizing::new(m.push(&buf[..n]));
                let pending = m.into_pending();
                held = Some((p, pending));
                if !out.is_empty() && write(&out).is_err() {
                    // Our reader is gone (`hush run … | head`): close the pipe so the command
                    // gets SIGPIPE/EPIPE on its next write, as it would without hush.
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    if let Some((p, pending)) = held {
        let m = hush_mask::Masker::resume(&p, pending);
        let _ = write(&zeroize::Zeroizing::new(m.finish()));
    }
}

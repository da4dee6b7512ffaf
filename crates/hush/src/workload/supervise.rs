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
    async fn pending_stop(&mut self) -> Option<i32> {
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
    use std::process::Stdio;
    use std::sync::atomic::{AtomicBool, Ordering};

    if let Some(sig) = signals.pending_stop().await {
        return Ok(128 + sig);
    }
    // The command dies with hush and gets back the core limit hush started with
    // (crate::hygiene::tie_to_hush, set up in the child between fork and exec).
    let mut cmd = tokio::process::Command::new(&command[0]);
    cmd.args(&command[1..])
        .env_clear()
        .envs(env)
        .stdin(Stdio::inherit());
    crate::hygiene::tie_to_hush(&mut cmd);
    if patterns.is_some() {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let program = command[0].to_string_lossy();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("hush: {program}: command not found");
            return Ok(NOT_FOUND);
        }
        Err(e) => {
            eprintln!("hush: {program}: cannot execute: {e}");
            return Ok(NOT_EXECUTABLE);
        }
    };
    let pid = child
        .id()
        .and_then(|id| rustix::process::Pid::from_raw(id as i32));
    // While the command runs, signals go to it; once it has exited, a SIGINT/SIGTERM/SIGHUP
    // ends hush's wait for the last output instead (no signal to a reaped, reusable pid).
    let exited = Arc::new(AtomicBool::new(false));
    let stop_draining = Arc::new(tokio::sync::Notify::new());
    let mut forwarders = Vec::new();
    for (raw, mut stream) in signals.0 {
        let Some(sig) = rustix::process::Signal::from_named_raw(raw) else {
            continue;
        };
        let (exited, stop) = (exited.clone(), stop_draining.clone());
        forwarders.push(tokio::spawn(async move {
            while stream.recv().await.is_some() {
                if !exited.load(Ordering::SeqCst) {
                    if let Some(pid) = pid {
                        let _ = rustix::process::kill_process(pid, sig);
                    }
                } else if [1, 2, 15].contains(&raw) {
                    stop.notify_one();
                }
            }
        }));
    }
    // The output is copied by threads of their own, so a slow reader of hush's output never
    // stalls signal forwarding.
    let mut pumps = Vec::new();
    if let Some(p) = &patterns {
        if let Some(out) = child.stdout.take() {
            pumps.push(spawn_pump(out.into_owned_fd()?, p.clone(), false));
        }
        if let Some(err) = child.stderr.take() {
            pumps.push(spawn_pump(err.into_owned_fd()?, p.clone(), true));
        }
    }
    let status = child.wait().await?;
    exited.store(true, Ordering::SeqCst);
    let drained = async {
        for p in pumps {
            let _ = p.await;
        }
    };
    tokio::select! {
        _ = tokio::time::timeout(DRAIN, drained) => {}
        _ = stop_draining.notified() => {}
    }
    for f in forwarders {
        f.abort();
    }
    use std::os::unix::process::ExitStatusExt as _;
    Ok(match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(sig)) => 128 + sig,
        (None, None) => 1,
    })
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
/// bytes go out (never unmasked).
pub(super) struct LazyPatterns {
    values: std::sync::Mutex<Vec<SecretBytes>>,
    built: std::sync::OnceLock<hush_mask::Patterns>,
}

impl LazyPatterns {
    pub fn new(values: Vec<SecretBytes>) -> Self {
        LazyPatterns {
            values: std::sync::Mutex::new(values),
            built: std::sync::OnceLock::new(),
        }
    }

    fn get(&self) -> &hush_mask::Patterns {
        self.built.get_or_init(|| {
            let mut values = self.values.lock().unwrap_or_else(|e| e.into_inner());
            // EXPOSE: the masker needs the values to find them in the output.
            let p = hush_mask::Patterns::new(values.iter().map(|v| v.expose_secret()));
            values.clear();
            p
        })
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
    let mut masker = None;
    let mut buf = zeroize::Zeroizing::new(vec![0u8; 64 * 1024]);
    loop {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let m = masker.get_or_insert_with(|| hush_mask::Masker::new(patterns.get()));
                let out = zeroize::Zeroizing::new(m.push(&buf[..n]));
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
    if let Some(m) = masker {
        let _ = write(&zeroize::Zeroizing::new(m.finish()));
    }
}

//! `hush run --watch`: the command runs as without it, and the secrets it was given are
//! watched ([`crate::backend::Backend::watch`]: a server's event stream, or the embedded
//! store's feed). A change event for a delivered key or one of its fallbacks waits one second
//! for more (a burst is applied once), then everything is looked up again ([`gather`]) and
//! compared with what the command has: nothing differs, nothing happens. What differs is first
//! taught to the masker, then applied as `--on-change` says: `restart` (SIGTERM to the
//! command's process group, SIGKILL after `--grace`, started again with the new values),
//! `signal:NAME` (files rewritten in place, then the signal; a changed env var restarts) or
//! `exit`. A required value that can no longer be had is kept (a warning once a minute), or
//! with `--on-loss stop` the command is stopped and hush exits 125. On the embedded store an
//! expiry has no event of its own without a server's sweep: the soonest expiry of what was
//! delivered is looked at when it comes.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use hush_core::SecretBytes;
use hush_wire::Delivery;
use rustix::process::Signal;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

use super::deliver::{deliver, Delivered};
use super::plan::Plan;
use super::sources::{gather, Got, LocalSources, Outcome, Source, StoreAccess};
use super::supervise::{send, start, Forwarding, LazyPatterns, Running, Signals};
use super::NOT_STARTED;
use crate::backend::Change;
use crate::cli::RunArgs;
use crate::fail::Failure;

/// Changes that come within this of the first are applied with it, once.
const SETTLE: Duration = Duration::from_secs(1);
/// How often a lost required secret is said again.
const WARN_EVERY: Duration = Duration::from_secs(60);
/// How long a restart waits for the stopped command's last output.
const RESTART_DRAIN: Duration = Duration::from_secs(1);
/// How long hush keeps copying output after the command exited by itself.
const DRAIN: Duration = Duration::from_secs(5);

/// What a change does (`--on-change`).
pub(super) enum OnChange {
    Restart,
    /// Rewrite the files, then send the signal (its name as given, for people).
    Signal(Signal, String),
    Exit,
}

/// `--watch`'s options, checked before anything is fetched.
pub(super) struct Options {
    on_change: OnChange,
    grace: Duration,
    stop_on_loss: bool,
}

impl Options {
    /// `None` without `--watch`.
    pub fn parse(args: &RunArgs) -> Result<Option<Options>> {
        if !args.watch {
            return Ok(None);
        }
        let mode = args.on_change.trim();
        let on_change = match mode {
            "restart" => OnChange::Restart,
            "exit" => OnChange::Exit,
            m => match m.strip_prefix("signal:") {
                Some(name) => OnChange::Signal(signal_named(name)?, name.to_uppercase()),
                None => {
                    return Err(Failure::usage(format!(
                        "--on-change {mode:?} is not a mode: give restart, exit or signal:NAME (e.g. signal:HUP)"
                    ))
                    .into())
                }
            },
        };
        let stop_on_loss = match args.on_loss.trim() {
            "keep" => false,
            "stop" => true,
            other => {
                return Err(Failure::usage(format!(
                    "--on-loss {other:?} is not a choice: give keep or stop"
                ))
                .into())
            }
        };
        Ok(Some(Options {
            on_change,
            grace: parse_grace(&args.grace)?,
            stop_on_loss,
        }))
    }
}

/// `HUP`, `SIGHUP`, `hup`: a signal a command may be told to reload with.
fn signal_named(name: &str) -> Result<Signal> {
    let upper = name.trim().to_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    Ok(match bare {
        "HUP" => Signal::HUP,
        "INT" => Signal::INT,
        "QUIT" => Signal::QUIT,
        "TERM" => Signal::TERM,
        "USR1" => Signal::USR1,
        "USR2" => Signal::USR2,
        "WINCH" => Signal::WINCH,
        "ALRM" => Signal::ALARM,
        _ => {
            return Err(Failure::usage(format!(
                "--on-change signal:{name}: not a signal hush sends: give one of HUP, INT, QUIT, TERM, USR1, USR2, WINCH, ALRM"
            ))
            .into())
        }
    })
}

/// `10s`, `1m`, `0s`.
fn parse_grace(text: &str) -> Result<Duration> {
    let t = text.trim();
    let bad = || {
        Failure::usage(format!(
            "--grace {text:?} is not a duration: give e.g. 10s, 30s or 2m"
        ))
    };
    if t.is_empty()
        || !t.ends_with(['s', 'm', 'h'])
        || !t.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(bad().into());
    }
    let now_ms = hush_core::clock::now_ms();
    let since = hush_core::clock::parse_past("--grace", t, now_ms).map_err(|_| bad())?;
    Ok(Duration::from_millis(
        u64::try_from(now_ms - since).unwrap_or(0),
    ))
}

/// What a declaration has now: the key that served it and the value.
struct Held {
    key: String,
    value: SecretBytes,
    expires_at: Option<i64>,
}

impl Held {
    fn from(o: Outcome) -> Option<Held> {
        let Got {
            key,
            value: Some(value),
            expires_at,
            ..
        } = o.got?
        else {
            return None;
        };
        Some(Held {
            key,
            value,
            expires_at,
        })
    }

    /// Whether `other` is the same key and value.
    fn same(&self, other: &Held) -> bool {
        // EXPOSE: comparing the value the command has with the one the store has now.
        self.key == other.key && self.value.expose_secret() == other.value.expose_secret()
    }
}

/// The declarations with what they have, as the outcomes [`deliver`] takes.
fn outcomes(plan: &Plan, held: &[Option<Held>]) -> Vec<Outcome> {
    plan.wants
        .iter()
        .zip(held)
        .map(|(d, h)| Outcome {
            decl: d.clone(),
            got: h.as_ref().map(|h| Got {
                key: h.key.clone(),
                source: Source::Store("store"),
                value: Some(h.value.clone()),
                expires_at: h.expires_at,
                notify_before: None,
            }),
            tried: Vec::new(),
            looked: Vec::new(),
        })
        .collect()
}

/// Why a declaration cannot be had, for the loss warning: `githubtoken: revoked`.
fn why_lost(o: &Outcome) -> String {
    if o.tried.is_empty() {
        return "not found".into();
    }
    o.tried
        .iter()
        .map(|t| format!("{}: {}", t.key, t.status.replace('_', " ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The next change of the watcher, if any (never, once it has ended).
async fn next_change(changes: &mut Option<UnboundedReceiver<Change>>) -> Change {
    if let Some(rx) = changes {
        if let Some(c) = rx.recv().await {
            return c;
        }
    }
    *changes = None;
    std::future::pending().await
}

/// Sleeps until `at`, or forever.
async fn until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// When the soonest of the held values expires (a second after, so the store agrees).
fn next_expiry(held: &[Option<Held>]) -> Option<Instant> {
    let now = hush_core::clock::now_ms() / 1000;
    held.iter()
        .flatten()
        .filter_map(|h| h.expires_at)
        .filter(|&e| e >= now)
        .min()
        .map(|e| Instant::now() + Duration::from_secs(u64::try_from(e - now).unwrap_or(0) + 1))
}

/// Everything a watched run needs besides its command.
pub(super) struct Watched<'a, 'w> {
    pub plan: &'a Plan,
    pub local: &'a LocalSources,
    pub store: &'a mut StoreAccess<'w>,
    pub changes: Option<UnboundedReceiver<Change>>,
    pub prefix: &'a str,
    pub mask: bool,
}

/// Runs `command` under watch (see the module docs) with what the first look-up `first` got
/// (every required value); returns hush's exit code: the command's when it exits by itself or
/// is stopped by `--on-change exit`, 125 when `--on-loss stop` stopped it.
pub(super) async fn run(
    opts: Options,
    command: &[OsString],
    w: Watched<'_, '_>,
    first: Vec<Outcome>,
    mut signals: Signals,
) -> Result<i32> {
    let Watched {
        plan,
        local,
        store,
        mut changes,
        prefix,
        mask,
    } = w;
    let program = command[0].to_string_lossy().into_owned();
    let mut held: Vec<Option<Held>> = first.into_iter().map(Held::from).collect();
    let patterns = mask.then(|| Arc::new(LazyPatterns::new(Vec::new())));
    let mut delivered = deliver(outcomes(plan, &held), prefix, mask)?;
    learn(&patterns, &mut delivered);
    if let Some(sig) = signals.pending_stop().await {
        return Ok(128 + sig);
    }
    let fwd = Forwarding::start(signals, true);
    // Declarations whose required value was lost, and why.
    let mut lost: BTreeMap<usize, String> = BTreeMap::new();
    let mut warned = Instant::now();
    let mut stream_lost = false;
    loop {
        let mut running = match start(command, delivered.env.clone(), patterns.as_ref(), true)? {
            Ok(r) => r,
            Err(code) => return Ok(code),
        };
        fwd.target_group(running.pid);
        // When to look again: SETTLE after the first change event.
        let mut look_at: Option<Instant> = None;
        loop {
            let expiry = next_expiry(&held);
            let warn_at = (!lost.is_empty()).then(|| warned + WARN_EVERY);
            tokio::select! {
                status = running.child.wait() => {
                    let status = status?;
                    return Ok(fwd.finish(running, status, DRAIN).await);
                }
                change = next_change(&mut changes) => match change {
                    Change::Changed => {
                        stream_lost = false;
                        look_at.get_or_insert_with(|| Instant::now() + SETTLE);
                    }
                    Change::Lost(why) => {
                        if !stream_lost {
                            stream_lost = true;
                            eprintln!("hush: warning: not hearing of changes for now ({why}); retrying, {program} keeps running");
                        }
                    }
                },
                () = until(expiry) => {
                    look_at.get_or_insert_with(Instant::now);
                }
                () = until(warn_at) => {
                    warned = Instant::now();
                    warn_lost(plan, &lost);
                }
                () = until(look_at) => {
                    look_at = None;
                    let outs = match gather(plan, local, store, false).await {
                        Ok(o) => o,
                        Err(e) => {
                            eprintln!("hush: warning: cannot look the secrets up again after a change: {e:#}; {program} keeps running");
                            continue;
                        }
                    };
                    store.save_fallback();
                    let (changed, newly_lost) = compare(outs, &mut held, &mut lost);
                    if !newly_lost.is_empty() {
                        if opts.stop_on_loss {
                            for i in &newly_lost {
                                eprintln!("hush: stopping {program}: {} is unavailable ({}) and --on-loss is stop", plan.wants[*i].name, lost[i]);
                            }
                            stop(&mut running, opts.grace).await;
                            fwd.target(None);
                            fwd.drain(running, RESTART_DRAIN).await;
                            return Ok(NOT_STARTED);
                        }
                        warned = Instant::now();
                        warn_lost(plan, &lost);
                    }
                    if changed.is_empty() {
                        continue;
                    }
                    // The masker first: the command may print a new value as soon as it has it.
                    if let Some(p) = &patterns {
                        p.learn(changed.iter().filter_map(|i| held[*i].as_ref().map(|h| h.value.clone())));
                    }
                    let names = changed.iter().map(|i| plan.wants[*i].name.as_str()).collect::<Vec<_>>().join(", ");
                    match &opts.on_change {
                        OnChange::Exit => {
                            eprintln!("hush: {names} changed: stopping {program} (--on-change exit)");
                            let status = stop(&mut running, opts.grace).await;
                            fwd.target(None);
                            fwd.drain(running, RESTART_DRAIN).await;
                            return Ok(status.map_or(NOT_STARTED, super::supervise::exit_code));
                        }
                        OnChange::Restart => {
                            eprintln!("hush: {names} changed: restarting {program}");
                            break;
                        }
                        OnChange::Signal(sig, name) => {
                            let as_env: Vec<&str> = changed
                                .iter()
                                .map(|i| &plan.wants[*i])
                                .filter(|d| d.delivery == Delivery::Env)
                                .map(|d| d.name.as_str())
                                .collect();
                            if !as_env.is_empty() {
                                eprintln!("hush: {} changed and is delivered as an environment variable, which a running command cannot be given: restarting {program} instead of sending SIG{name}", as_env.join(", "));
                                break;
                            }
                            if let Err(e) = rewrite(plan, &held, &changed, &delivered) {
                                eprintln!("hush: cannot rewrite the secret files ({e:#}): restarting {program} instead of sending SIG{name}");
                                break;
                            }
                            eprintln!("hush: {names} changed: rewrote its file and sent SIG{name} to {program}");
                            if let Some(pid) = running.pid {
                                send(pid, *sig, true);
                            }
                        }
                    }
                }
            }
        }
        // A restart.
        stop(&mut running, opts.grace).await;
        fwd.target(None);
        fwd.drain(running, RESTART_DRAIN).await;
        if let Some(sig) = fwd.stopped() {
            // hush itself was told to stop while the command was being stopped.
            return Ok(128 + sig);
        }
        let mut next = deliver(outcomes(plan, &held), prefix, mask)?;
        learn(&patterns, &mut next);
        // The old directory (and its files) goes now that its command has.
        delivered = next;
    }
}

/// Teaches the masker what `delivered` holds.
fn learn(patterns: &Option<Arc<LazyPatterns>>, delivered: &mut Delivered) {
    if let (Some(p), Some(values)) = (patterns, delivered.masked.take()) {
        p.learn(values);
    }
}

/// Compares a new look-up with what is held: takes in what changed and returns which
/// declarations did (said on stderr when a fallback now serves, or the key itself again) and
/// which required ones were newly lost (kept held, recorded in `lost`).
fn compare(
    outs: Vec<Outcome>,
    held: &mut [Option<Held>],
    lost: &mut BTreeMap<usize, String>,
) -> (Vec<usize>, Vec<usize>) {
    let mut changed = Vec::new();
    let mut newly_lost = Vec::new();
    for (i, o) in outs.into_iter().enumerate() {
        let notice = o.fallback_notice();
        let (name, key, required) = (o.decl.name.clone(), o.decl.key.clone(), o.decl.required);
        let why = why_lost(&o);
        match Held::from(o) {
            Some(now) => {
                lost.remove(&i);
                if held[i].as_ref().is_some_and(|h| h.same(&now)) {
                    continue;
                }
                let switched = held[i].as_ref().is_none_or(|h| h.key != now.key);
                if switched {
                    match notice {
                        Some(n) => eprintln!("hush: {n}"),
                        None => eprintln!("hush: {name}: served by {key} again"),
                    }
                }
                held[i] = Some(now);
                changed.push(i);
            }
            None if required => {
                if lost.insert(i, why).is_none() {
                    newly_lost.push(i);
                }
            }
            None => {
                if held[i].take().is_some() {
                    eprintln!(
                        "hush: warning: optional secret {name} is no longer available ({why})"
                    );
                    changed.push(i);
                }
            }
        }
    }
    (changed, newly_lost)
}

/// Says each lost required secret on stderr.
fn warn_lost(plan: &Plan, lost: &BTreeMap<usize, String>) {
    for (i, why) in lost {
        eprintln!(
            "hush: warning: {} is unavailable ({why}); the command keeps its old value",
            plan.wants[*i].name
        );
    }
}

/// Stops the running command: SIGTERM to its process group, SIGKILL after `grace`; its exit
/// status (`None` when it could not be had).
async fn stop(running: &mut Running, grace: Duration) -> Option<std::process::ExitStatus> {
    let Some(pid) = running.pid else {
        return running.child.wait().await.ok();
    };
    send(pid, Signal::TERM, true);
    match tokio::time::timeout(grace, running.child.wait()).await {
        Ok(status) => status.ok(),
        Err(_) => {
            send(pid, Signal::KILL, true);
            running.child.wait().await.ok()
        }
    }
}

/// Rewrites the files of the `changed` declarations in place: the same path the command was
/// given, replaced at once (a temporary file in the same directory, mode 0600, renamed over
/// it), so the command never reads half a value.
fn rewrite(
    plan: &Plan,
    held: &[Option<Held>],
    changed: &[usize],
    delivered: &Delivered,
) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    for &i in changed {
        let d = &plan.wants[i];
        let Some(h) = &held[i] else {
            // An optional value gone: its file goes too.
            if let Some(path) = path_of(delivered, &d.name) {
                let _ = std::fs::remove_file(path);
            }
            continue;
        };
        let Some(path) = path_of(delivered, &d.name) else {
            anyhow::bail!("{} was not delivered as a file", d.name);
        };
        let dir = path
            .parent()
            .ok_or_else(|| anyhow::anyhow!("{} has no directory", path.display()))?;
        // A dot name: never a key, so never a delivered name.
        let tmp = dir.join(format!(".tmp-watch-{}-{i}", std::process::id()));
        let written = (|| -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            // EXPOSE: delivering the new value to the workload as a file, as declared.
            f.write_all(h.value.expose_secret())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.into());
        }
    }
    Ok(())
}

/// The path the command was given in `name` (inside the run's directory only).
fn path_of(delivered: &Delivered, name: &str) -> Option<std::path::PathBuf> {
    let (_, v) = delivered
        .env
        .iter()
        .find(|(k, _)| k.as_bytes() == name.as_bytes())?;
    let path = std::path::PathBuf::from(v);
    path.starts_with(delivered.dir.path()).then_some(path)
}

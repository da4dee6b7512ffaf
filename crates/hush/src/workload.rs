//! `hush run` and `hush check`: give a workload exactly the secrets it declares.
//!
//! What a workload declares (a manifest, `--secret`/`--file` flags, or with neither, everything
//! the caller may read) is looked up per key in three sources, first match wins: an env var
//! `<prefix><KEY>`, a `.secrets` dotenv file, then the store (one `/v1/resolve` call against a
//! server, or the embedded store). A key that the store answers missing, revoked or expired
//! moves on to the declaration's next fallback.

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use base64::Engine as _;
use hush_core::{clock, ListFilter, SecretBytes, Status};
use hush_wire::{Delivery, SecretDecl};

use crate::backend::Backend;
use crate::cli::{CheckArgs, RunArgs, SourceArgs, TableOrJson};
use crate::fail::Failure;
use crate::{manifest, output};

/// hush's exit code when the workload cannot start because a required secret is unavailable.
pub const NOT_STARTED: i32 = 125;
/// The exit code when the command cannot be executed.
pub const NOT_EXECUTABLE: i32 = 126;
/// The exit code when the command is not found.
pub const NOT_FOUND: i32 = 127;

/// How far ahead `hush check` warns of an expiry.
const EXPIRING_WITHIN: i64 = 14 * 86_400;

/// The only `HUSH_*` variables a workload inherits from hush: names that lead nowhere (the
/// SDK's app and environment, the workspace, the log filter, the secret prefix). Every other
/// `HUSH_*` variable is withheld — the token, the root key and passphrases, and every path or
/// address that leads to hush's credentials or store (`HUSH_CONFIG`, `HUSH_HOME`,
/// `HUSH_KEY_FILE`, `HUSH_DB`, `HUSH_ADDR`, `HUSH_SECRETS_FILE`, …), including any hush adds
/// later. `HUSH_SECRETS_DIR` and `HUSH_SECRETS_MAP` are set by `hush run` itself.
const PASSED: &[&str] = &[
    "HUSH_APP",
    "HUSH_ENV",
    "HUSH_WORKSPACE",
    "HUSH_LOG",
    "HUSH_SECRET_PREFIX",
];

/// Whether hush keeps the variable `name` from the workload: hush's own variables but the
/// [`PASSED`] ones, and every `<prefix>*` variable (an undeclared secret).
fn withheld(name: &str, prefix: &str) -> bool {
    (name.starts_with("HUSH_") && !PASSED.contains(&name)) || name.starts_with(prefix)
}

/// What a workload asks for.
struct Plan {
    app: Option<String>,
    env: Option<String>,
    wants: Vec<SecretDecl>,
    /// Whether the secrets were declared (manifest or flags) rather than "everything".
    declared: bool,
}

impl Plan {
    fn candidates(d: &SecretDecl) -> Vec<&str> {
        std::iter::once(d.key.as_str())
            .chain(d.fallback.iter().map(String::as_str))
            .collect()
    }
}

/// Parses `KEY[=NAME]`.
fn flag_decl(spec: &str, delivery: Delivery, flag: &str) -> Result<SecretDecl> {
    let (key, name) = match spec.split_once('=') {
        Some((k, n)) => (k, n),
        None => (spec, spec),
    };
    hush_core::model::validate_key(key)
        .map_err(|e| Failure::usage(format!("{flag} {spec}: {e}")))?;
    hush_core::app::validate_var_name(name).map_err(|e| {
        let hint = if spec.contains('=') {
            String::new()
        } else {
            format!(": give the variable a name, as in {flag} {key}=NAME")
        };
        Failure::usage(format!("{flag} {spec}: {e}{hint}"))
    })?;
    Ok(SecretDecl {
        name: name.into(),
        key: key.into(),
        required: true,
        fallback: Vec::new(),
        delivery,
    })
}

fn plan(
    manifest_path: Option<&Path>,
    app: Option<&str>,
    env: Option<&str>,
    secrets: &[String],
    files: &[String],
) -> Result<Plan> {
    let m = match manifest::locate(manifest_path)? {
        Some(p) => Some(manifest::load(&p)?),
        None => None,
    };
    let mut wants = m.as_ref().map(|m| m.secrets.clone()).unwrap_or_default();
    for s in secrets {
        wants.push(flag_decl(s, Delivery::Env, "--secret")?);
    }
    for f in files {
        wants.push(flag_decl(f, Delivery::File, "--file")?);
    }
    for (i, w) in wants.iter().enumerate() {
        if wants[..i].iter().any(|o| o.name == w.name) {
            return Err(Failure::usage(format!(
                "{} is declared twice (manifest and flags together): give each variable one secret",
                w.name
            ))
            .into());
        }
    }
    if let Some(a) = app {
        hush_core::model::validate_app(a).map_err(|e| Failure::usage(e.to_string()))?;
    }
    if let Some(e) = env {
        hush_core::model::validate_env(e).map_err(|e| Failure::usage(e.to_string()))?;
    }
    Ok(Plan {
        app: app
            .map(str::to_string)
            .or_else(|| m.as_ref().map(|m| m.app.clone())),
        env: env
            .map(str::to_string)
            .or_else(|| m.as_ref().and_then(|m| m.env.clone())),
        declared: m.is_some() || !wants.is_empty(),
        wants,
    })
}

/// Where a value came from.
#[derive(Clone)]
enum Source {
    EnvVar(String),
    SecretsFile(PathBuf),
    Store { remote: bool },
}

impl Source {
    fn label(&self) -> String {
        match self {
            Source::EnvVar(v) => format!("env {v}"),
            Source::SecretsFile(p) => p.display().to_string(),
            Source::Store { remote: true } => "server".into(),
            Source::Store { remote: false } => "store".into(),
        }
    }
}

/// The sources before the store: prefixed env vars and the `.secrets` file.
struct LocalSources {
    prefix: String,
    vars: HashMap<String, SecretBytes>,
    file: Option<(PathBuf, HashMap<String, SecretBytes>)>,
}

impl LocalSources {
    fn read(a: &SourceArgs) -> Result<Self> {
        if a.prefix.is_empty() {
            return Err(Failure::usage(
                "the secret prefix is empty, which would make every env var a secret: set --prefix or HUSH_SECRET_PREFIX to something like HUSH_SECRET_",
            )
            .into());
        }
        let mut vars = HashMap::new();
        for (name, value) in std::env::vars_os() {
            let Some(name) = name.to_str() else { continue };
            if let Some(key) = name.strip_prefix(a.prefix.as_str()) {
                if !key.is_empty() {
                    vars.insert(key.to_string(), SecretBytes::new(value.into_vec()));
                }
            }
        }
        let path = a
            .secrets_file
            .clone()
            .unwrap_or_else(|| PathBuf::from(".secrets"));
        let file = match hush_client::secrets::read_dotenv(&path)
            .map_err(|e| Failure::usage(e.to_string()))?
        {
            Some(entries) => Some((
                path,
                entries
                    .into_iter()
                    .map(|(k, v)| (k, SecretBytes::new(v.expose_bytes().to_vec())))
                    .collect(),
            )),
            None if a.secrets_file.is_some() => {
                return Err(Failure::usage(format!(
                    "no secrets file at {}: check the --secrets-file path",
                    path.display()
                ))
                .into())
            }
            None => None,
        };
        Ok(LocalSources {
            prefix: a.prefix.clone(),
            vars,
            file,
        })
    }

    fn lookup(&self, key: &str) -> Option<(SecretBytes, Source)> {
        if let Some(v) = self.vars.get(key) {
            return Some((v.clone(), Source::EnvVar(format!("{}{key}", self.prefix))));
        }
        let (path, map) = self.file.as_ref()?;
        map.get(key)
            .map(|v| (v.clone(), Source::SecretsFile(path.clone())))
    }

    fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.vars.keys().cloned().collect();
        if let Some((_, m)) = &self.file {
            keys.extend(m.keys().cloned());
        }
        keys
    }
}

/// The store, opened only when a key is not found in the local sources.
pub struct StoreAccess<'w> {
    scope: &'w crate::Scope,
    opened: Option<Result<Backend, String>>,
}

impl<'w> StoreAccess<'w> {
    pub fn new(scope: &'w crate::Scope) -> Self {
        StoreAccess {
            scope,
            opened: None,
        }
    }

    /// Closes the store on a thread of its own, so that the embedded store's closing work
    /// (SQLite copies its log back into the database) runs beside the command rather than
    /// before hush can exit; join the handle before exiting.
    fn close_beside(&mut self) -> Option<std::thread::JoinHandle<()>> {
        let backend = self.opened.take()?;
        std::thread::Builder::new()
            .name("hush-close".into())
            .spawn(move || drop(backend))
            .ok()
    }

    /// The backend, or why there is none (no server configured and no local store).
    async fn get(&mut self) -> Result<Result<&Backend, String>> {
        if self.opened.is_none() {
            let no_store = self.scope.db.is_none()
                && crate::remote::configured()?.is_none()
                && !crate::local::Home::locate().is_ok_and(|h| h.db.exists());
            self.opened = Some(if no_store {
                Err(
                    "no hush store here and no server (run `hush init`, or set HUSH_ADDR and HUSH_TOKEN)"
                        .into(),
                )
            } else {
                Ok(crate::backend(self.scope).await?)
            });
        }
        Ok(match self.opened.as_ref() {
            Some(Ok(b)) => Ok(b),
            Some(Err(why)) => Err(why.clone()),
            None => Err("no store".into()),
        })
    }
}

/// One key tried for a declaration and why it could not be had.
#[derive(serde::Serialize)]
struct Tried {
    key: String,
    status: String,
    message: String,
}

/// What became of one declaration.
struct Outcome {
    decl: SecretDecl,
    /// The key that supplied it, its source, its value (`None` on a dry run) and expiry.
    got: Option<(String, Source, Option<SecretBytes>, Option<i64>)>,
    tried: Vec<Tried>,
}

/// Looks every declaration up, source by source, following fallbacks.
async fn gather(
    plan: &Plan,
    local: &LocalSources,
    store: &mut StoreAccess<'_>,
    dry_run: bool,
) -> Result<Vec<Outcome>> {
    let mut outcomes: Vec<Outcome> = plan
        .wants
        .iter()
        .map(|d| Outcome {
            decl: d.clone(),
            got: None,
            tried: Vec::new(),
        })
        .collect();
    let mut next = vec![0usize; outcomes.len()];
    let mut done = vec![false; outcomes.len()];
    loop {
        let mut ask: Vec<String> = Vec::new();
        let mut waiting = Vec::new();
        for (i, o) in outcomes.iter_mut().enumerate() {
            if done[i] {
                continue;
            }
            let candidates = Plan::candidates(&o.decl);
            let key = candidates[next[i]];
            if let Some((v, src)) = local.lookup(key) {
                o.got = Some((key.to_string(), src, (!dry_run).then_some(v), None));
                done[i] = true;
            } else {
                if !ask.iter().any(|k| k == key) {
                    ask.push(key.to_string());
                }
                waiting.push(i);
            }
        }
        if ask.is_empty() {
            return Ok(outcomes);
        }
        let (mut answer, remote) = match store.get().await? {
            Ok(b) => (
                resolve_all(b, plan, &ask, dry_run).await?,
                matches!(b, Backend::Remote(_)),
            ),
            Err(why) => {
                for i in waiting {
                    let key = Plan::candidates(&outcomes[i].decl)[next[i]].to_string();
                    outcomes[i].tried.push(Tried {
                        key,
                        status: "missing".into(),
                        message: why.clone(),
                    });
                    done[i] = true;
                }
                continue;
            }
        };
        for i in waiting {
            let o = &mut outcomes[i];
            let candidates = Plan::candidates(&o.decl);
            let key = candidates[next[i]];
            if let Some(sv) = answer.secrets.get_mut(key) {
                let value = if dry_run { None } else { Some(take_value(sv)?) };
                let src = Source::Store { remote };
                o.got = Some((key.to_string(), src, value, sv.meta.expires_at));
                done[i] = true;
                continue;
            }
            let (status, message) = match answer.errors.get(key) {
                Some(e) => (e.code.to_string(), e.message.clone()),
                None => (
                    "missing".to_string(),
                    format!("the store did not answer for {key:?}"),
                ),
            };
            let retry = matches!(status.as_str(), "missing" | "revoked" | "expired");
            o.tried.push(Tried {
                key: key.to_string(),
                status,
                message,
            });
            if retry && next[i] + 1 < candidates.len() {
                next[i] += 1;
            } else {
                done[i] = true;
            }
        }
    }
}

/// Resolves `keys` in calls of at most [`hush_core::service::MAX_RESOLVE`]; a refusal of the
/// whole call (a machine token bound to another app or environment) becomes each key's
/// `out_of_scope`.
async fn resolve_all(
    b: &Backend,
    plan: &Plan,
    keys: &[String],
    dry_run: bool,
) -> Result<hush_wire::Resolved> {
    let mut all = hush_wire::Resolved {
        secrets: Default::default(),
        errors: Default::default(),
    };
    for chunk in keys.chunks(hush_core::service::MAX_RESOLVE) {
        let answer = b
            .resolve(plan.app.as_deref(), plan.env.as_deref(), chunk, dry_run)
            .await;
        let refused = |message: String| {
            chunk
                .iter()
                .map(|k| {
                    let code = hush_wire::Reason::OutOfScope;
                    let message = message.clone();
                    (k.clone(), hush_wire::Refusal { code, message })
                })
                .collect::<Vec<_>>()
        };
        match answer {
            Ok(mut a) => {
                all.secrets.append(&mut a.secrets);
                all.errors.append(&mut a.errors);
            }
            Err(e) if is_forbidden(&e) => all.errors.extend(refused(format!("{e:#}"))),
            Err(e) => return Err(e),
        }
    }
    Ok(all)
}

fn is_forbidden(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<hush_core::Error>(),
        Some(hush_core::Error::Forbidden { .. })
    ) || matches!(
        e.downcast_ref::<hush_client::Error>(),
        Some(hush_client::Error::Forbidden { .. })
    )
}

/// The value bytes of a resolved secret (a value is read from the same answer twice when two
/// declarations name one key, so it is copied, not moved).
fn take_value(sv: &hush_wire::SecretValue) -> Result<SecretBytes> {
    if let Some(v) = &sv.value {
        return Ok(SecretBytes::new(v.as_bytes().to_vec()));
    }
    if let Some(b) = &sv.value_base64 {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|_| anyhow::anyhow!("the server sent a value that is not valid base64"))?;
        return Ok(SecretBytes::new(raw));
    }
    Err(anyhow::anyhow!("the server answered without a value"))
}

/// Without declarations: every key the local sources hold, and every active secret the caller
/// may list in the app and environment; keys that cannot be env var names are skipped.
async fn everything(
    plan: &mut Plan,
    local: &LocalSources,
    store: &mut StoreAccess<'_>,
) -> Result<()> {
    let mut keys = local.keys();
    if let Ok(b) = store.get().await? {
        let filter = ListFilter {
            env: plan.env.clone(),
            app: plan.app.clone(),
            status: Some(Status::Active),
            ..ListFilter::default()
        };
        keys.extend(b.list(&filter).await?.into_iter().map(|m| m.key));
    }
    keys.sort();
    keys.dedup();
    for key in keys {
        if !hush_core::app::is_env_name(&key) {
            eprintln!("hush: warning: skipping {key:?}: it is not a valid environment variable name (declare it with --secret {key}=NAME)");
            continue;
        }
        if hush_core::app::validate_var_name(&key).is_err() {
            continue;
        }
        plan.wants.push(SecretDecl {
            name: key.clone(),
            key,
            required: false,
            fallback: Vec::new(),
            delivery: Delivery::Env,
        });
    }
    Ok(())
}

fn describe(o: &Outcome) -> String {
    let tried: Vec<String> = o
        .tried
        .iter()
        .map(|t| {
            format!(
                "{} is {} ({})",
                t.key,
                t.status.replace('_', " "),
                t.message
            )
        })
        .collect();
    format!("{}: {}", o.decl.name, tried.join("; then "))
}

/// A private directory for file-delivered secrets: 0700, on tmpfs where there is one, removed
/// when dropped.
///
/// Its name is `hush-run.<pid>.<random>` and the run holds an exclusive `flock` on it for its
/// whole life (the descriptor is close-on-exec, so the command does not inherit it), so a
/// directory that SIGKILL left behind can be told from a live run's: the next run removes
/// it (see [`sweep`]).
struct SecretsDir {
    path: PathBuf,
    /// The open directory holding the lock; closed (unlocked) after the directory is removed.
    _lock: std::os::fd::OwnedFd,
}

/// The name of every run's directory starts so. Older hush named it `hush-run-<base64>`:
/// the dot, which URL-safe base64 never holds, keeps those from being read as a pid.
const DIR_PREFIX: &str = "hush-run.";

impl SecretsDir {
    fn create() -> Result<Self> {
        use std::os::unix::fs::DirBuilderExt as _;
        let mut bases: Vec<PathBuf> = vec![PathBuf::from("/dev/shm")];
        if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR") {
            bases.push(PathBuf::from(x));
        }
        bases.push(std::env::temp_dir());
        bases.retain(|b| b.is_dir());
        bases.dedup();
        for base in &bases {
            sweep(base);
        }
        let mut last = None;
        for base in bases {
            let mut rnd = [0u8; 12];
            hush_crypto::fill_random(&mut rnd).map_err(|e| anyhow::anyhow!("{e}"))?;
            let name = format!(
                "{DIR_PREFIX}{}.{}",
                std::process::id(),
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rnd)
            );
            let dir = base.join(name);
            let made = std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&dir)
                .and_then(|()| {
                    use std::os::unix::fs::PermissionsExt as _;
                    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
                    let lock = open_dir(&dir)?;
                    rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive)?;
                    Ok(lock)
                });
            match made {
                Ok(lock) => {
                    return Ok(SecretsDir {
                        path: dir,
                        _lock: lock,
                    })
                }
                Err(e) => {
                    let _ = std::fs::remove_dir(&dir);
                    last = Some(e);
                }
            }
        }
        Err(anyhow::anyhow!(
            "cannot make a private directory for secret files: {}",
            last.map_or_else(
                || "no writable temporary directory".into(),
                |e| e.to_string()
            )
        ))
    }

    fn write(&self, key: &str, value: &SecretBytes) -> Result<PathBuf> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let path = self.path.join(key);
        if path.exists() {
            return Ok(path);
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        // EXPOSE: delivering the value to the workload as a file, as declared.
        f.write_all(value.expose_secret())?;
        f.sync_all()?;
        Ok(path)
    }
}

impl Drop for SecretsDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Opens a directory itself, never a symlink to one, close-on-exec.
fn open_dir(path: &Path) -> std::io::Result<std::os::fd::OwnedFd> {
    use rustix::fs::OFlags;
    Ok(rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?)
}

/// Removes the directories of dead runs in `base`: named `hush-run.<pid>.…`, a directory (not
/// a symlink), owned by this user, not locked by a live run, and whose pid is gone (the pid
/// covers the instant between a run's `mkdir` and its lock). A directory of an older hush
/// (no pid in its name) cannot be told from a live run's and is left alone. Errors are
/// ignored: sweeping is housekeeping, never a reason not to run.
fn sweep(base: &Path) {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    let me = rustix::process::geteuid().as_raw();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(DIR_PREFIX))
            .and_then(|rest| rest.split_once('.'))
            .and_then(|(pid, _)| pid.parse::<i32>().ok())
            .and_then(rustix::process::Pid::from_raw)
        else {
            continue;
        };
        let path = entry.path();
        let Ok(dir) = open_dir(&path) else { continue };
        let owned = std::fs::File::from(dir);
        if !owned.metadata().is_ok_and(|m| m.uid() == me && m.is_dir()) {
            continue;
        }
        if rustix::fs::flock(&owned, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err()
        {
            continue; // a live run holds it
        }
        let gone = matches!(
            rustix::process::test_kill_process(pid),
            Err(rustix::io::Errno::SRCH)
        );
        if gone {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// `hush run`: returns the exit code hush should exit with.
pub async fn run(args: RunArgs, scope: &crate::Scope) -> Result<i32> {
    // Handlers first, before any secret is fetched or written: from here on a SIGINT or
    // SIGTERM to hush is handled (forwarded, or ends the run), never fatal, so the secrets
    // directory is always removed.
    let signals = Signals::install()?;
    let mut plan = plan(
        args.manifest.as_deref(),
        args.app.as_deref(),
        args.env.as_deref(),
        &args.secret,
        &args.file,
    )?;
    let local = LocalSources::read(&args.sources)?;
    let mut store = StoreAccess::new(scope);
    let program = args.command[0].to_string_lossy().into_owned();
    // Anything that stops the secrets from being had (the store unreachable, a token refused)
    // means the command is not started: 125, as for a missing secret, never a code the command
    // itself could have returned.
    let gathered = async {
        if !plan.declared {
            everything(&mut plan, &local, &mut store).await?;
        }
        if plan.wants.is_empty() {
            Ok(Vec::new())
        } else {
            gather(&plan, &local, &mut store, false).await
        }
    }
    .await;
    let outcomes = match gathered {
        Ok(o) => o,
        Err(e) => {
            eprintln!("hush: not starting {program}: {e:#}");
            return Ok(NOT_STARTED);
        }
    };
    let mut refused = Vec::new();
    for o in outcomes.iter().filter(|o| o.got.is_none()) {
        if o.decl.required {
            refused.push(describe(o));
        } else {
            eprintln!(
                "hush: warning: optional secret not available: {}",
                describe(o)
            );
        }
    }
    if !refused.is_empty() {
        eprintln!(
            "hush: not starting {program}: {} required secret(s) unavailable:",
            refused.len()
        );
        for r in &refused {
            eprintln!("  {r}");
        }
        return Ok(NOT_STARTED);
    }

    let dir = SecretsDir::create()?;
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| !withheld(&k.to_string_lossy(), &args.sources.prefix))
        .collect();
    let mut map = serde_json::Map::new();
    let mut values: Vec<SecretBytes> = Vec::new();
    let mut masked_keys = std::collections::HashSet::new();
    for o in &outcomes {
        let Some((key, _, Some(value), _)) = &o.got else {
            continue;
        };
        let d = &o.decl;
        let delivered = match d.delivery {
            Delivery::Env => {
                // EXPOSE: handing the value to the workload's environment, as declared.
                if value.expose_secret().contains(&0) {
                    return Err(Failure::usage(format!(
                        "{} ({key}): the value holds a NUL byte, which an environment variable cannot carry: deliver it as a file (as = \"file\" or --file)",
                        d.name
                    ))
                    .into());
                }
                OsString::from_vec(value.expose_secret().to_vec())
            }
            Delivery::File => dir.write(key, value)?.into_os_string(),
        };
        env.retain(|(k, _)| k.as_bytes() != d.name.as_bytes());
        env.push((OsString::from(&d.name), delivered));
        map.entry(d.key.clone())
            .or_insert_with(|| serde_json::json!({ d.delivery.as_str(): d.name }));
        if value.len() < hush_mask::MIN_LEN && !args.no_mask {
            eprintln!(
                "hush: warning: {} is shorter than {} bytes and will not be masked in the output",
                d.name,
                hush_mask::MIN_LEN
            );
        }
        // Each value once: the masker's work grows with what it is given (a key declared under
        // two names, as env and as file, is one value), and none at all without masking.
        if !args.no_mask && masked_keys.insert(key.as_str()) {
            values.push(value.clone());
        }
    }
    env.retain(|(k, _)| k != "HUSH_SECRETS_DIR" && k != "HUSH_SECRETS_MAP");
    env.push(("HUSH_SECRETS_DIR".into(), dir.path.clone().into_os_string()));
    env.push((
        "HUSH_SECRETS_MAP".into(),
        serde_json::Value::Object(map).to_string().into(),
    ));
    let patterns = if args.no_mask {
        None
    } else {
        Some(Arc::new(LazyPatterns::new(values)))
    };
    let closing = store.close_beside();
    let code = supervise(&args.command, env, patterns, signals).await;
    drop(dir);
    if let Some(c) = closing {
        let _ = c.join();
    }
    code
}

/// The signals hush handles while a workload runs: forwarded to it.
struct Signals(Vec<(i32, tokio::signal::unix::Signal)>);

impl Signals {
    fn install() -> Result<Self> {
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
        const STOPS: [i32; 4] = [1, 2, 3, 15]; // HUP INT QUIT TERM
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
async fn supervise(
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
struct LazyPatterns {
    values: std::sync::Mutex<Vec<SecretBytes>>,
    built: std::sync::OnceLock<hush_mask::Patterns>,
}

impl LazyPatterns {
    fn new(values: Vec<SecretBytes>) -> Self {
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

/// One row of `hush check`.
#[derive(serde::Serialize)]
struct CheckRow {
    name: String,
    key: String,
    required: bool,
    delivery: &'static str,
    status: String,
    source: Option<String>,
    expires_at: Option<i64>,
    tried: Vec<Tried>,
}

/// `hush check`: returns the exit code.
pub async fn check(args: CheckArgs, scope: &crate::Scope) -> Result<i32> {
    let Some(path) = manifest::locate(args.manifest.as_deref())? else {
        return Err(Failure::usage(
            "no manifest: there is no hush.toml here; give one with --manifest FILE",
        )
        .into());
    };
    let mut plan = plan(
        Some(&path),
        args.app.as_deref(),
        args.env.as_deref(),
        &[],
        &[],
    )?;
    plan.declared = true;
    let local = LocalSources::read(&args.sources)?;
    let mut store = StoreAccess::new(scope);
    let outcomes = if plan.wants.is_empty() {
        Vec::new()
    } else {
        gather(&plan, &local, &mut store, true).await?
    };
    let now = clock::now();
    let mut all_ok = true;
    let rows: Vec<CheckRow> = outcomes
        .into_iter()
        .map(|o| {
            let (key, status, source, expires_at) = match &o.got {
                Some((key, src, _, exp)) => {
                    let status = match exp {
                        Some(at) if *at - now <= EXPIRING_WITHIN => "expiring",
                        _ => "ok",
                    };
                    (key.clone(), status.to_string(), Some(src.label()), *exp)
                }
                None => {
                    let status = o
                        .tried
                        .first()
                        .map_or_else(|| "missing".to_string(), |t| t.status.clone());
                    (o.decl.key.clone(), status, None, None)
                }
            };
            if o.got.is_none() && o.decl.required {
                all_ok = false;
            }
            CheckRow {
                name: o.decl.name.clone(),
                key,
                required: o.decl.required,
                delivery: o.decl.delivery.as_str(),
                status,
                source,
                expires_at,
                tried: o.tried,
            }
        })
        .collect();
    match args.out.output {
        TableOrJson::Json => output::print_json(&rows)?,
        TableOrJson::Table => {
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.name.clone(),
                        r.key.clone(),
                        if r.required { "yes" } else { "no" }.into(),
                        r.status.replace('_', " "),
                        r.source.clone().unwrap_or_else(|| "-".into()),
                        r.expires_at
                            .map(clock::rfc3339)
                            .unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect();
            output::print_table(
                &["NAME", "KEY", "REQUIRED", "STATUS", "SOURCE", "EXPIRES"],
                &table,
            )?;
            for r in rows.iter().filter(|r| r.source.is_none()) {
                for t in &r.tried {
                    eprintln!("{} ({}): {}", r.name, t.key, t.message);
                }
            }
        }
    }
    Ok(if all_ok { 0 } else { NOT_STARTED })
}

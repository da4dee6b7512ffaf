//! Sources: where each declared value comes from. For a declaration of variable VAR with key
//! KEY, first match wins: the env var `<prefix><KEY>`, then `<prefix><VAR>`; the `.secrets`
//! dotenv file's line for KEY, then for VAR; then the store (the embedded store, or one
//! `/v1/resolve` call against a server). A key that the store answers missing, revoked or
//! expired, or a store that cannot be had, moves on to the declaration's next fallback, looked
//! up the same way (by its own name: VAR belongs to the declared key). Last, only when asked
//! (`--inherit-env`, `inherit = true`), VAR itself in hush's own environment.
//!
//! Every place looked at is recorded, so a refusal can say where to put the value.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::ffi::OsStringExt as _;
use std::path::PathBuf;

use anyhow::Result;
use hush_client::secrets::Reason;
use hush_core::SecretBytes;
use hush_wire::SecretDecl;

use super::plan::Plan;
use crate::backend::{Answer, Answers, Backend};
use crate::cli::SourceArgs;
use crate::fail::Failure;

/// Where a value came from.
#[derive(Clone)]
pub(super) enum Source {
    /// A `<prefix>NAME` env var.
    EnvVar(String),
    /// The `.secrets` file's line for this name.
    SecretsFile(PathBuf, String),
    /// The backend, by its label.
    Store(&'static str),
    /// The declared variable itself, already set in hush's environment.
    Inherited(String),
}

impl Source {
    /// As `hush check` shows it.
    pub fn label(&self) -> String {
        match self {
            Source::EnvVar(v) => format!("env {v}"),
            Source::SecretsFile(p, name) => format!("{} ({name})", p.display()),
            Source::Store(label) => (*label).into(),
            Source::Inherited(v) => format!("env {v} (inherited)"),
        }
    }
}

/// The sources before the store: prefixed env vars and the `.secrets` file; and, after it, the
/// declared variables themselves when inheriting.
pub(super) struct LocalSources {
    prefix: String,
    vars: HashMap<String, SecretBytes>,
    path: PathBuf,
    /// `path` as the user would find it (absolute when relative), for the messages naming it:
    /// worked out once, not once per key looked up.
    shown_path: String,
    file: Option<HashMap<String, SecretBytes>>,
    /// Whether a declared variable already set in hush's environment may supply its secret.
    pub inherit: bool,
}

/// The `.secrets` path as the user would find it: absolute when relative.
fn shown_path(path: &std::path::Path) -> String {
    let p = if path.is_relative() {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    } else {
        path.to_path_buf()
    };
    p.display().to_string()
}

impl LocalSources {
    pub fn read(a: &SourceArgs, inherit: bool) -> Result<Self> {
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
            Some(entries) => Some(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, SecretBytes::new(v.expose_bytes().to_vec())))
                    .collect(),
            ),
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
            shown_path: shown_path(&path),
            path,
            file,
            inherit,
        })
    }

    /// `key`'s value from the env vars or the file, trying the declared variable's name `var`
    /// after the key in each; every place looked at is added to `looked`.
    fn lookup(
        &self,
        key: &str,
        var: Option<&str>,
        looked: &mut Vec<String>,
    ) -> Option<(SecretBytes, Source)> {
        let names: Vec<&str> = std::iter::once(key)
            .chain(var.filter(|v| *v != key))
            .collect();
        for name in &names {
            if let Some(v) = self.vars.get(*name) {
                return Some((v.clone(), Source::EnvVar(format!("{}{name}", self.prefix))));
            }
        }
        looked.push(format!(
            "env {} (unset)",
            names
                .iter()
                .map(|n| format!("{}{n}", self.prefix))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let lines = names.join(" or ");
        match &self.file {
            Some(map) => {
                for name in &names {
                    if let Some(v) = map.get(*name) {
                        return Some((
                            v.clone(),
                            Source::SecretsFile(self.path.clone(), (*name).to_string()),
                        ));
                    }
                }
                looked.push(format!("{} (no line for {lines})", self.shown_path));
            }
            None => looked.push(format!("{} (no such file)", self.shown_path)),
        }
        None
    }

    /// The declared variable itself, from hush's environment, when inheriting.
    fn inherited(&self, var: &str, looked: &mut Vec<String>) -> Option<(SecretBytes, Source)> {
        match std::env::var_os(var) {
            Some(v) if self.inherit => Some((
                SecretBytes::new(v.into_vec()),
                Source::Inherited(var.to_string()),
            )),
            Some(_) => {
                looked.push(format!(
                    "env {var} (set, but only used with --inherit-env or inherit = true)"
                ));
                None
            }
            None if self.inherit => {
                looked.push(format!("env {var} (unset)"));
                None
            }
            None => None,
        }
    }

    /// Whether an env var or the file holds `name` (a fallback key, looked up by its own name
    /// only).
    fn holds(&self, name: &str) -> bool {
        self.vars.contains_key(name) || self.file.as_ref().is_some_and(|m| m.contains_key(name))
    }

    /// Every key they hold.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.vars.keys().cloned().collect();
        if let Some(m) = &self.file {
            keys.extend(m.keys().cloned());
        }
        keys
    }
}

/// The store, opened only when a key is not found in the local sources.
pub(super) struct StoreAccess<'w> {
    scope: &'w crate::Scope,
    opened: Option<Result<Box<dyn Backend>, String>>,
    /// Where the store is, for people: a path or a server address (never a password).
    place: Option<String>,
    /// Against a server, for `hush run`: the offline fallback snapshot.
    fallback: Option<super::snapshot::Fallback>,
}

impl<'w> StoreAccess<'w> {
    pub fn new(scope: &'w crate::Scope) -> Self {
        StoreAccess {
            scope,
            opened: None,
            place: None,
            fallback: None,
        }
    }

    /// Keeps and, when the server fails, uses `fallback`.
    pub fn set_fallback(&mut self, fallback: Option<super::snapshot::Fallback>) {
        self.fallback = fallback;
    }

    /// Keeps what the server answered in this run as the fallback snapshot.
    pub fn save_fallback(&self) {
        if let Some(f) = &self.fallback {
            f.save();
        }
    }

    /// `keys`' answers and where they came from, or why there is no store: from the store or
    /// server, else (the server unreachable, 5xx or timing out) from the fallback snapshot.
    async fn resolve(
        &mut self,
        plan: &Plan,
        keys: &[String],
        follow: &BTreeMap<String, Vec<String>>,
        dry_run: bool,
    ) -> Result<Result<(Answers, &'static str), String>> {
        const SNAPSHOT: &str = "fallback snapshot";
        if let Some(f) = self.fallback.as_mut().filter(|f| f.in_use() && !dry_run) {
            return Ok(Ok((f.answer(keys, follow, None)?, SNAPSHOT)));
        }
        let (answered, label) = match self.get().await? {
            Ok(b) => (
                resolve_all(b, plan, keys, follow, dry_run).await,
                b.source_label(),
            ),
            Err(why) => return Ok(Err(why)),
        };
        match (answered, self.fallback.as_mut()) {
            (Ok(a), Some(f)) if !dry_run => {
                f.keep(&a);
                Ok(Ok((a, label)))
            }
            (Ok(a), _) => Ok(Ok((a, label))),
            (Err(e), Some(f)) if !dry_run => Ok(Ok((f.answer(keys, follow, Some(e))?, SNAPSHOT))),
            (Err(e), _) => Err(e),
        }
    }

    /// Keeps the fallback snapshot ([`StoreAccess::save_fallback`]) and closes the store on a
    /// thread of its own, so that both run beside the command rather than before it starts
    /// (writing the snapshot) or before hush can exit (SQLite copying its log back into the
    /// database); join the handle before exiting.
    pub fn close_beside(&mut self) -> Option<std::thread::JoinHandle<()>> {
        let fallback = self.fallback.take();
        let backend = self.opened.take();
        if fallback.is_none() && backend.is_none() {
            return None;
        }
        std::thread::Builder::new()
            .name("hush-close".into())
            .spawn(move || {
                if let Some(f) = fallback {
                    f.save();
                }
                drop(backend);
            })
            .ok()
    }

    /// The backend, or why there is none (no server configured and no local store).
    pub async fn get(&mut self) -> Result<Result<&dyn Backend, String>> {
        if self.opened.is_none() {
            let place = store_place(self.scope);
            let no_store = match self.scope.db.as_deref() {
                // A database or file named with --db / HUSH_DB that holds no store yet.
                Some(db) => !crate::local::store_initialised(db).await?,
                None => {
                    // Whether a server is configured, without building its client (which
                    // loads the TLS roots): `backend::open` builds the one client.
                    crate::remote::credentials()?.is_none()
                        && !crate::local::Home::locate().is_ok_and(|h| h.db.exists())
                }
            };
            self.opened = Some(if no_store {
                Err(format!(
                    "no hush store at {place} and no server (run `hush init`, or set HUSH_ADDR and HUSH_TOKEN)"
                ))
            } else {
                Ok(crate::backend::open(self.scope).await?)
            });
            self.place = Some(place);
        }
        Ok(match self.opened.as_ref() {
            Some(Ok(b)) => Ok(b.as_ref()),
            Some(Err(why)) => Err(why.clone()),
            None => Err("no store".into()),
        })
    }

    /// Where the store is (after [`StoreAccess::get`]).
    fn place(&self) -> String {
        self.place.clone().unwrap_or_else(|| "the store".into())
    }
}

/// Where `hush run` looks for the store, for people: `--db` (a PostgreSQL URL without its
/// user and password), the server at HUSH_ADDR or saved by `hush login`, or the embedded
/// store's file.
fn store_place(scope: &crate::Scope) -> String {
    if let Some(db) = &scope.db {
        return match db.split_once("://") {
            Some((scheme, rest)) => {
                // Neither the user and password before `@` nor a query (`?password=…`).
                let rest = rest.split(['?', '#']).next().unwrap_or_default();
                let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
                format!("{scheme}://{host}")
            }
            None => db.clone(),
        };
    }
    if let Some(addr) = std::env::var("HUSH_ADDR").ok().filter(|a| !a.is_empty()) {
        return format!("server {addr}");
    }
    if let Some(cfg) = crate::remote::config_path().filter(|p| p.exists()) {
        return format!("the server saved in {}", cfg.display());
    }
    match crate::local::Home::locate() {
        Ok(h) => h.db.display().to_string(),
        Err(_) => "the embedded store (HUSH_HOME unknown)".into(),
    }
}

/// One key tried for a declaration and why it could not be had.
#[derive(serde::Serialize)]
pub(super) struct Tried {
    pub key: String,
    /// The reason's code (`missing`, `revoked`, `expired`, `out_of_scope`, …).
    pub status: String,
    pub message: String,
}

/// The key that supplied a declaration, and from where.
pub(super) struct Got {
    pub key: String,
    pub source: Source,
    /// `None` on a dry run.
    pub value: Option<SecretBytes>,
    pub expires_at: Option<i64>,
    /// Its warning window in seconds (`None`: the default), when a store gave it.
    pub notify_before: Option<i64>,
}

/// What became of one declaration.
pub(super) struct Outcome {
    pub decl: SecretDecl,
    pub got: Option<Got>,
    /// The store's answer for each key it was asked.
    pub tried: Vec<Tried>,
    /// Every place looked at, in order: (what was looked for, e.g. "key githubtoken", the
    /// places).
    pub looked: Vec<(String, Vec<String>)>,
}

impl Outcome {
    /// Where it was looked for and why it could not be had, for people.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .looked
            .iter()
            .map(|(what, places)| format!("{what} in {}", places.join(", ")))
            .collect();
        format!(
            "{}: looked for {}",
            self.decl.name,
            parts.join("; then for ")
        )
    }

    /// The store could not supply candidate `n`, `key`: says where it was looked for (`place`:
    /// the store's; `None` when the store could not be had, and `message` says why) and why.
    fn refused(
        &mut self,
        n: usize,
        key: &str,
        reason: &Reason,
        message: &str,
        place: Option<&str>,
    ) {
        let shown = match place {
            None => message.to_string(),
            Some(place) => format!(
                "{place} ({key} is {}: {message})",
                reason.code().replace('_', " ")
            ),
        };
        self.places(n).push(shown);
        self.tried.push(Tried {
            key: key.to_string(),
            status: reason.code().to_string(),
            message: message.to_string(),
        });
    }

    /// When a fallback supplied the declaration, for stderr: `GITHUB_TOKEN: served by
    /// GITHUB_TOKEN_BACKUP (GITHUB_TOKEN_PRIMARY skipped: revoked)`. Names and reasons only.
    pub fn fallback_notice(&self) -> Option<String> {
        let got = self.got.as_ref()?;
        if got.key == self.decl.key {
            return None;
        }
        let skipped: Vec<String> = self
            .tried
            .iter()
            .map(|t| format!("{} skipped: {}", t.key, t.status.replace('_', " ")))
            .collect();
        let why = if skipped.is_empty() {
            String::new()
        } else {
            format!(" ({})", skipped.join("; "))
        };
        Some(format!("{}: served by {}{why}", self.decl.name, got.key))
    }

    /// The places list of candidate `n` (the key, or a fallback).
    fn places(&mut self, n: usize) -> &mut Vec<String> {
        let key = Plan::candidates(&self.decl)[n];
        let what = if n == 0 {
            format!("key {key}")
        } else {
            format!("fallback key {key}")
        };
        if self.looked.last().is_none_or(|(w, _)| *w != what) {
            self.looked.push((what, Vec::new()));
        }
        let last = self.looked.len() - 1;
        &mut self.looked[last].1
    }
}

/// Looks every declaration up, source by source, following fallbacks. The store follows a
/// key's fallbacks itself, in the same call, up to the first that a local source holds (which
/// is looked at first, as without the store's help): so its audit row and the app's read name
/// the key that served.
pub(super) async fn gather(
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
            looked: Vec::new(),
        })
        .collect();
    let mut next = vec![0usize; outcomes.len()];
    let mut done = vec![false; outcomes.len()];
    loop {
        let mut ask: Vec<String> = Vec::new();
        // The fallbacks the store may follow for a key asked.
        let mut follow: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut waiting = Vec::new();
        for (i, o) in outcomes.iter_mut().enumerate() {
            if done[i] {
                continue;
            }
            let candidates = Plan::candidates(&o.decl);
            let key = candidates[next[i]].to_string();
            let var = (next[i] == 0).then(|| o.decl.name.clone());
            let mut places = Vec::new();
            let found = local.lookup(&key, var.as_deref(), &mut places);
            if let Some((v, source)) = found {
                o.places(next[i]).extend(places);
                o.got = Some(Got {
                    key,
                    source,
                    value: (!dry_run).then_some(v),
                    expires_at: None,
                    notify_before: None,
                });
                done[i] = true;
                continue;
            }
            let chain: Vec<String> = candidates[next[i] + 1..]
                .iter()
                .take_while(|k| !local.holds(k))
                .map(|k| k.to_string())
                .collect();
            if ask.contains(&key) {
                // Asked already for another declaration: with other fallbacks, this one waits
                // for the next call (its places are looked at again then).
                if follow.get(&key).map_or(&[][..], Vec::as_slice) != chain.as_slice() {
                    continue;
                }
            } else {
                ask.push(key.clone());
                if !chain.is_empty() {
                    follow.insert(key, chain);
                }
            }
            o.places(next[i]).extend(places);
            waiting.push(i);
        }
        if ask.is_empty() {
            break;
        }
        let answers = store.resolve(plan, &ask, &follow, dry_run).await?;
        let place = store.place();
        for i in waiting {
            let o = &mut outcomes[i];
            let candidates: Vec<String> = Plan::candidates(&o.decl)
                .into_iter()
                .map(str::to_string)
                .collect();
            let wanted = candidates[next[i]].clone();
            // The candidate index of a key the store tried (from the one asked on).
            let at = |key: &str| {
                candidates[next[i]..]
                    .iter()
                    .position(|c| c == key)
                    .map_or(next[i], |p| next[i] + p)
            };
            let (n, reason) = match &answers {
                Err(why) => {
                    o.refused(next[i], &wanted, &Reason::Missing, why, None);
                    (next[i], Reason::Missing)
                }
                Ok((answers, label)) => match answers.get(&wanted) {
                    Some(a) => {
                        // A fallback the store went on to was in no local source: those places
                        // are said first, as if it had been looked up on its own.
                        let local_places = |o: &mut Outcome, n: usize, key: &str| {
                            if n > next[i] {
                                let mut places = Vec::new();
                                let _ = local.lookup(key, None, &mut places);
                                o.places(n).extend(places);
                            }
                        };
                        for (key, reason, message) in &a.skipped {
                            local_places(o, at(key), key);
                            o.refused(at(key), key, reason, message, Some(&place));
                        }
                        let n = at(&a.key);
                        local_places(o, n, &a.key);
                        match &a.answer {
                            Answer::Found {
                                value,
                                expires_at,
                                notify_before,
                            } => {
                                // Copied, not moved: two declarations may name one key.
                                o.got = Some(Got {
                                    key: a.key.clone(),
                                    source: Source::Store(label),
                                    value: value.clone(),
                                    expires_at: *expires_at,
                                    notify_before: *notify_before,
                                });
                                done[i] = true;
                                continue;
                            }
                            Answer::Refused { reason, message } => {
                                o.refused(n, &a.key, reason, message, Some(&place));
                                (n, reason.clone())
                            }
                        }
                    }
                    None => {
                        let message = format!("the store did not answer for {wanted:?}");
                        o.refused(next[i], &wanted, &Reason::Missing, &message, Some(&place));
                        (next[i], Reason::Missing)
                    }
                },
            };
            let retry = matches!(reason, Reason::Missing | Reason::Revoked | Reason::Expired);
            if retry && n + 1 < candidates.len() {
                next[i] = n + 1;
            } else {
                done[i] = true;
            }
        }
    }
    // Last: the declared variable itself, when inheriting.
    for o in outcomes.iter_mut().filter(|o| o.got.is_none()) {
        let key = o.decl.key.clone();
        let mut places = Vec::new();
        if let Some((v, source)) = local.inherited(&o.decl.name, &mut places) {
            o.got = Some(Got {
                key,
                source,
                value: (!dry_run).then_some(v),
                expires_at: None,
                notify_before: None,
            });
        } else if !places.is_empty() {
            o.looked.push((format!("variable {}", o.decl.name), places));
        }
    }
    Ok(outcomes)
}

/// Resolves `keys` (following `follow`'s fallbacks) in calls of at most
/// [`hush_core::service::MAX_RESOLVE`] keys.
async fn resolve_all(
    b: &dyn Backend,
    plan: &Plan,
    keys: &[String],
    follow: &BTreeMap<String, Vec<String>>,
    dry_run: bool,
) -> Result<Answers> {
    let mut all = Answers::with_capacity(keys.len());
    for chunk in keys.chunks(hush_core::service::MAX_RESOLVE) {
        let fallbacks: BTreeMap<String, Vec<String>> = chunk
            .iter()
            .filter_map(|k| follow.get(k).map(|f| (k.clone(), f.clone())))
            .collect();
        let answers = b
            .resolve(
                plan.app.as_deref(),
                plan.env.as_deref(),
                chunk,
                &fallbacks,
                dry_run,
            )
            .await?;
        all.extend(answers);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refusal names the store; a PostgreSQL URL's user, password and query never appear.
    #[test]
    fn store_place_hides_credentials() {
        let place = |db: &str| {
            store_place(&crate::Scope {
                workspace: "default".into(),
                db: Some(db.into()),
                cacert: None,
            })
        };
        assert_eq!(
            place("postgres://hush:s3cret-pw@db.internal:5432/hush?password=other"),
            "postgres://db.internal:5432/hush"
        );
        assert_eq!(place("/var/lib/hush/hush.db"), "/var/lib/hush/hush.db");
    }
}

//! Sources: where each declared value comes from. Per key, first match wins: an env var
//! `<prefix><KEY>`, the `.secrets` dotenv file, then the store (the embedded store, or one
//! `/v1/resolve` call against a server). A key that the store answers missing, revoked or
//! expired moves on to the declaration's next fallback.

use std::collections::HashMap;
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
    EnvVar(String),
    SecretsFile(PathBuf),
    /// The backend, by its label.
    Store(&'static str),
}

impl Source {
    /// As `hush check` shows it.
    pub fn label(&self) -> String {
        match self {
            Source::EnvVar(v) => format!("env {v}"),
            Source::SecretsFile(p) => p.display().to_string(),
            Source::Store(label) => (*label).into(),
        }
    }
}

/// The sources before the store: prefixed env vars and the `.secrets` file.
pub(super) struct LocalSources {
    prefix: String,
    vars: HashMap<String, SecretBytes>,
    file: Option<(PathBuf, HashMap<String, SecretBytes>)>,
}

impl LocalSources {
    pub fn read(a: &SourceArgs) -> Result<Self> {
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

    /// Every key they hold.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.vars.keys().cloned().collect();
        if let Some((_, m)) = &self.file {
            keys.extend(m.keys().cloned());
        }
        keys
    }
}

/// The store, opened only when a key is not found in the local sources.
pub(super) struct StoreAccess<'w> {
    scope: &'w crate::Scope,
    opened: Option<Result<Box<dyn Backend>, String>>,
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
    pub fn close_beside(&mut self) -> Option<std::thread::JoinHandle<()>> {
        let backend = self.opened.take()?;
        std::thread::Builder::new()
            .name("hush-close".into())
            .spawn(move || drop(backend))
            .ok()
    }

    /// The backend, or why there is none (no server configured and no local store).
    pub async fn get(&mut self) -> Result<Result<&dyn Backend, String>> {
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
                Ok(crate::backend::open(self.scope).await?)
            });
        }
        Ok(match self.opened.as_ref() {
            Some(Ok(b)) => Ok(b.as_ref()),
            Some(Err(why)) => Err(why.clone()),
            None => Err("no store".into()),
        })
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
}

/// What became of one declaration.
pub(super) struct Outcome {
    pub decl: SecretDecl,
    pub got: Option<Got>,
    pub tried: Vec<Tried>,
}

impl Outcome {
    /// Why it could not be had, key by key, for people.
    pub fn describe(&self) -> String {
        let tried: Vec<String> = self
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
        format!("{}: {}", self.decl.name, tried.join("; then "))
    }
}

/// Looks every declaration up, source by source, following fallbacks.
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
            if let Some((v, source)) = local.lookup(key) {
                o.got = Some(Got {
                    key: key.to_string(),
                    source,
                    value: (!dry_run).then_some(v),
                    expires_at: None,
                });
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
        let (answers, label) = match store.get().await? {
            Ok(b) => (resolve_all(b, plan, &ask, dry_run).await?, b.source_label()),
            Err(why) => {
                for i in waiting {
                    let key = Plan::candidates(&outcomes[i].decl)[next[i]].to_string();
                    outcomes[i].tried.push(Tried {
                        key,
                        status: Reason::Missing.code().into(),
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
            let (reason, message) = match answers.get(key) {
                Some(Answer::Found { value, expires_at }) => {
                    // Copied, not moved: two declarations may name one key.
                    o.got = Some(Got {
                        key: key.to_string(),
                        source: Source::Store(label),
                        value: value.clone(),
                        expires_at: *expires_at,
                    });
                    done[i] = true;
                    continue;
                }
                Some(Answer::Refused { reason, message }) => (reason.clone(), message.clone()),
                None => (
                    Reason::Missing,
                    format!("the store did not answer for {key:?}"),
                ),
            };
            let retry = matches!(reason, Reason::Missing | Reason::Revoked | Reason::Expired);
            o.tried.push(Tried {
                key: key.to_string(),
                status: reason.code().to_string(),
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

/// Resolves `keys` in calls of at most [`hush_core::service::MAX_RESOLVE`].
async fn resolve_all(
    b: &dyn Backend,
    plan: &Plan,
    keys: &[String],
    dry_run: bool,
) -> Result<Answers> {
    let mut all = Answers::with_capacity(keys.len());
    for chunk in keys.chunks(hush_core::service::MAX_RESOLVE) {
        let answers = b
            .resolve(plan.app.as_deref(), plan.env.as_deref(), chunk, dry_run)
            .await?;
        all.extend(answers);
    }
    Ok(all)
}

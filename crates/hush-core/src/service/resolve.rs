//! Resolve: what a workload gets in one call — each key's value, or why it cannot have it;
//! with fallbacks, the first of a key's fallbacks that can serve it, and which were skipped.

use std::collections::BTreeMap;
use std::sync::Arc;

use hush_crypto::SecretBytes;

use crate::app::{ReadMark, MAX_FALLBACKS};
use crate::audit::{items_outcome, AuditEntry, AuditItem};
use crate::clock;
use crate::error::{Error, Invalid};
use crate::model::{validate_app, validate_env, validate_key, SecretRow, Workspace};
use crate::store::SecretRead;
use crate::token::{Action, Actor, Principal, Role};

use super::access::{undeclared_reason, unservable};
use super::cache::CachedRow;
use super::Hush;

/// The most keys one resolve call may ask for.
pub const MAX_RESOLVE: usize = 500;

/// One key's answer in [`Hush::resolve`].
#[derive(Debug)]
pub struct Resolution {
    /// The secret (shared with the server's cache: one row, however many answers).
    pub row: Arc<SecretRow>,
    /// The row's metadata as an answer writes it, kept with the cached row (`None`: not from
    /// the cache, written field by field).
    pub json: Option<Arc<crate::wire::RowJson>>,
    /// The environment whose own value was given; `None` for the shared value.
    pub env: Option<String>,
    /// The current version and its value; `None` for a dry run.
    pub value: Option<(u64, SecretBytes)>,
}

/// One wanted key's answer in [`Hush::resolve_with_fallbacks`].
#[derive(Debug)]
pub struct KeyAnswer {
    /// The keys tried before the one that answered (the wanted key first), each with why it
    /// could not serve; empty when the wanted key answered itself.
    pub skipped: Vec<(String, Error)>,
    /// The key that answered: the wanted key or one of its fallbacks.
    pub key: String,
    /// That key's value (or metadata), or why it cannot be had — when no key could serve, the
    /// last key's reason.
    pub answer: Result<Resolution, Error>,
}

impl KeyAnswer {
    /// The audit detail of the row of a fallback that served: `served by B; skipped A
    /// (revoked)`. Names only keys and reasons.
    pub fn detail(&self) -> Option<String> {
        (!self.skipped.is_empty() && self.answer.is_ok()).then(|| {
            format!(
                "served by {}; skipped {}",
                self.key,
                skipped_words(&self.skipped)
            )
        })
    }
}

/// `A (revoked), B (missing)`.
pub fn skipped_words(skipped: &[(String, Error)]) -> String {
    skipped
        .iter()
        .map(|(k, e)| format!("{k} ({})", crate::wire::refusal(e).code().replace('_', " ")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a fallback is tried after a key that failed with `e`: it is missing (or has no
/// value for the environment), revoked or expired — never when it is out of scope or does
/// not decrypt.
pub fn falls_back(e: &Error) -> bool {
    use hush_wire::Reason;
    matches!(
        crate::wire::refusal(e),
        Reason::Missing | Reason::Revoked | Reason::Expired
    )
}

/// Checks a resolve call's `fallbacks`: each names a key asked, and lists at most
/// [`MAX_FALLBACKS`] valid keys, none twice and not the key itself.
pub fn check_fallbacks(
    keys: &[String],
    fallbacks: &BTreeMap<String, Vec<String>>,
) -> Result<(), Error> {
    let bad = |reason: String| Err(Invalid::Manifest { reason }.into());
    for (key, list) in fallbacks {
        if !keys.contains(key) {
            return bad(format!(
                "fallbacks: {key:?} is not among the keys asked; list fallbacks only for keys in `keys`"
            ));
        }
        if list.len() > MAX_FALLBACKS {
            return bad(format!(
                "fallbacks: {key:?} has {} fallbacks; give at most {MAX_FALLBACKS}",
                list.len()
            ));
        }
        for (i, f) in list.iter().enumerate() {
            validate_key(f)?;
            if f == key || list[..i].contains(f) {
                return bad(format!(
                    "fallbacks: {f:?} is listed twice for {key:?}; list each fallback once, not the key itself"
                ));
            }
        }
    }
    Ok(())
}

/// Which keys a resolve may be told about (`Hush::declared_keys`).
type Declared = Option<Result<std::collections::HashSet<String>, String>>;

/// Rows read ahead for a resolve, by key (`None`: no such secret).
type ReadAhead = std::collections::HashMap<String, Option<CachedRow>>;

/// One key tried, before its audit row is written.
enum Attempt {
    /// It can be had; with a value, its audit row's version and environment slot.
    Served(Box<Resolution>, Option<(u64, String)>),
    /// Why not: the audit outcome, the version when one was read, and the error.
    Refused(&'static str, Option<u64>, Error),
}

impl Hush {
    /// What a workload gets in one call: for each key, its value (or with `dry_run` only its
    /// metadata) or why it cannot be had. `app` and `env` are the workload's: a machine
    /// token's own (asking for others is refused), or for other tokens the app and
    /// environment whose scope rules to apply. Machine tokens reach only keys their app's
    /// registered manifest names. Every value read is in the audit log, durably, before any
    /// value is returned (one transaction for the whole call), with the app's `last_read_at`.
    pub async fn resolve(
        &self,
        ws: &Workspace,
        app: Option<&str>,
        env: Option<&str>,
        keys: &[String],
        dry_run: bool,
        actor: &Actor,
    ) -> Result<Vec<(String, Result<Resolution, Error>)>, Error> {
        let answers = self
            .resolve_with_fallbacks(ws, app, env, keys, &BTreeMap::new(), dry_run, actor)
            .await?;
        Ok(answers.into_iter().map(|(k, a)| (k, a.answer)).collect())
    }

    /// [`Hush::resolve`], trying for a key that is missing (or has no value for the
    /// environment), revoked or expired its `fallbacks`, in order: the first that can be had
    /// answers for it. Each key tried is checked as the key itself would be, and has its own
    /// audit row; the row of a fallback that served says so (`served by B; skipped A
    /// (revoked)`), and the app's read is recorded for the key that served.
    #[allow(clippy::too_many_arguments)]
    pub async fn resolve_with_fallbacks(
        &self,
        ws: &Workspace,
        app: Option<&str>,
        env: Option<&str>,
        keys: &[String],
        fallbacks: &BTreeMap<String, Vec<String>>,
        dry_run: bool,
        actor: &Actor,
    ) -> Result<Vec<(String, KeyAnswer)>, Error> {
        if keys.is_empty() || keys.len() > MAX_RESOLVE {
            return Err(Invalid::Manifest {
                reason: format!("give 1 to {MAX_RESOLVE} keys, not {}", keys.len()),
            }
            .into());
        }
        for k in keys {
            validate_key(k)?;
        }
        check_fallbacks(keys, fallbacks)?;
        if let Some(a) = app {
            validate_app(a)?;
        }
        if let Some(e) = env {
            validate_env(e)?;
        }
        let action = if dry_run { Action::Show } else { Action::Read };
        let what = if dry_run {
            "secret.show"
        } else {
            "secret.read"
        };
        self.require(actor, action, ws, None, what).await?;
        let p = &actor.principal;
        let scope = if p.role == Role::Machine {
            for (asked, own, word) in [(app, &p.app, "app"), (env, &p.env, "environment")] {
                if asked.is_some() && asked != own.as_deref() {
                    return Err(Error::Forbidden {
                        reason: format!("this machine token is bound to another {word}"),
                    });
                }
            }
            p.clone()
        } else if app.is_some() || env.is_some() {
            Principal {
                role: Role::Machine,
                app: app.map(str::to_string),
                env: env.map(str::to_string),
                ..p.clone()
            }
        } else {
            p.clone()
        };
        let declared = self.declared_keys(actor, ws).await?;
        let now = clock::now();
        let read = self.read_ahead(ws, keys, &scope, &declared).await?;
        let mut out = Vec::with_capacity(keys.len());
        let mut audit = Vec::new();
        let mut marks = Vec::new();
        for wanted in keys {
            let chain: Vec<&String> = std::iter::once(wanted)
                .chain(fallbacks.get(wanted).into_iter().flatten())
                .collect();
            let mut skipped = Vec::new();
            for (n, key) in chain.iter().enumerate() {
                let attempt = self
                    .attempt(ws, key, &scope, &declared, &read, now, dry_run)
                    .await?;
                let entry = |version: Option<u64>, outcome: &str| -> AuditItem {
                    AuditItem {
                        key: (*key).clone(),
                        version,
                        env: None,
                        outcome: outcome.to_string(),
                        detail: (n > 0).then(|| format!("fallback for {wanted}")),
                    }
                };
                match attempt {
                    Attempt::Refused(outcome, version, err) => {
                        if !dry_run {
                            audit.push(entry(version, outcome));
                        }
                        if falls_back(&err) && n + 1 < chain.len() {
                            skipped.push(((*key).clone(), err));
                            continue;
                        }
                        let answer = KeyAnswer {
                            skipped,
                            key: (*key).clone(),
                            answer: Err(err),
                        };
                        out.push((wanted.clone(), answer));
                        break;
                    }
                    Attempt::Served(resolution, read) => {
                        let answer = KeyAnswer {
                            skipped,
                            key: (*key).clone(),
                            answer: Ok(*resolution),
                        };
                        if let Some((version, slot)) = read {
                            let mut e = entry(Some(version), "ok");
                            e.env = (!slot.is_empty()).then_some(slot);
                            if let Some(d) = answer.detail() {
                                e.detail = Some(d);
                            }
                            audit.push(e);
                            if let Some(app) = &scope.app {
                                marks.push(ReadMark {
                                    workspace_id: ws.id.clone(),
                                    app: app.clone(),
                                    // The key that served: a fallback's read is its own.
                                    key: (*key).clone(),
                                    at: now,
                                    // The environment asked in, whichever value (its own or
                                    // shared) it got.
                                    env: scope.env.clone(),
                                });
                            }
                        }
                        out.push((wanted.clone(), answer));
                        break;
                    }
                }
            }
        }
        if !audit.is_empty() {
            let entry = self.audit_entry(actor, what, Some(ws), None, None, "ok");
            self.record(vec![one_row(entry, audit)], marks).await?;
        }
        Ok(out)
    }

    /// The rows of the keys asked (not their fallbacks) that the cache does not hold, read from
    /// the store in one call ([`crate::store::Store::secrets_with_values`]: one read
    /// transaction or one statement rather than one per key), kept in the cache, and given back
    /// for [`Hush::attempt`]. Undeclared keys are not read: they are refused unread.
    async fn read_ahead(
        &self,
        ws: &Workspace,
        keys: &[String],
        scope: &Principal,
        declared: &Declared,
    ) -> Result<ReadAhead, Error> {
        let mut epoch = None;
        let mut wanted = Vec::new();
        let mut seen = std::collections::HashSet::with_capacity(keys.len());
        for key in keys {
            if undeclared_reason(declared, key, scope).is_some() || !seen.insert(key.as_str()) {
                continue;
            }
            if let Err(e) = self.caches.row(&ws.name, key) {
                epoch.get_or_insert(e);
                wanted.push(key.clone());
            }
        }
        // One key: the attempt reads it as a GET would.
        let (Some(epoch), true) = (epoch, wanted.len() > 1) else {
            return Ok(ReadAhead::new());
        };
        let rows = self.store.secrets_with_values(&ws.id, &wanted).await?;
        Ok(wanted
            .into_iter()
            .zip(rows)
            .map(|(key, found)| {
                let cached = found.map(|SecretRead { row, value, .. }| {
                    let cached = Arc::new((Arc::new(row), value, Arc::default()));
                    self.caches.keep_row(epoch, &ws.name, cached.clone());
                    cached
                });
                (key, cached)
            })
            .collect())
    }

    /// One key tried for a resolve: whether it can be had in `scope`, and with a value unless
    /// `dry_run`. Nothing is recorded here.
    #[allow(clippy::too_many_arguments)]
    async fn attempt(
        &self,
        ws: &Workspace,
        key: &str,
        scope: &Principal,
        declared: &Declared,
        read: &ReadAhead,
        now: i64,
        dry_run: bool,
    ) -> Result<Attempt, Error> {
        // Undeclared keys are refused before they are looked up: the same answer whether they
        // exist or not.
        if let Some(reason) = undeclared_reason(declared, key, scope) {
            return Ok(Attempt::Refused(
                "out_of_scope",
                None,
                Error::Forbidden { reason },
            ));
        }
        // A row read from the store now is written field by field: its metadata's JSON is
        // worth keeping only once answers share the row.
        let mut from_cache = true;
        let found = match self.caches.row(&ws.name, key) {
            Ok(cached) => Some(cached),
            Err(_) if read.contains_key(key) => {
                from_cache = false;
                read[key].clone()
            }
            Err(epoch) => {
                from_cache = false;
                let read = self
                    .store
                    .secret_with_value(&ws.id, key, None, false)
                    .await?;
                read.map(|SecretRead { row, value, .. }| {
                    let cached = Arc::new((Arc::new(row), value, Arc::default()));
                    self.caches.keep_row(epoch, &ws.name, cached.clone());
                    cached
                })
            }
        };
        let Some(cached) = found else {
            let err = Error::NotFound {
                workspace: ws.name.clone(),
                key: key.to_string(),
            };
            return Ok(Attempt::Refused("not_found", None, err));
        };
        let row = &cached.0;
        let cached_json = from_cache.then(|| cached.2.clone());
        if let Some(reason) = scope.out_of_scope(row) {
            return Ok(Attempt::Refused(
                "out_of_scope",
                None,
                Error::Forbidden { reason },
            ));
        }
        if let Some((outcome, err)) = unservable(row, now) {
            return Ok(Attempt::Refused(outcome, None, err));
        }
        if dry_run {
            let r = Resolution {
                row: row.clone(),
                json: cached_json.clone(),
                env: None,
                value: None,
            };
            return Ok(Attempt::Served(Box::new(r), None));
        }
        // The environment's own value when it has one, else the shared value.
        let (slot, version) = row.value_for(scope.env.as_deref());
        if version == 0 {
            let err = Error::NoValue {
                key: key.to_string(),
                env: slot_env(scope),
            };
            return Ok(Attempt::Refused("not_found", None, err));
        }
        let own;
        let sealed = if slot.is_empty() {
            cached.1.as_ref()
        } else {
            own = self.store.value(&row.id, slot, version).await?;
            own.as_ref()
        };
        let sealed = sealed.ok_or_else(|| Error::VersionNotFound {
            key: key.to_string(),
            version,
        })?;
        let value = match self.open_sealed(ws, row, sealed).await {
            Ok(v) => v,
            // One damaged row fails its own key, not the whole call.
            Err(err @ Error::Decrypt { .. }) => {
                return Ok(Attempt::Refused("decrypt_failed", Some(version), err))
            }
            Err(e) => return Err(e),
        };
        let slot = slot.to_string();
        let env = (!slot.is_empty()).then(|| slot.clone());
        let r = Resolution {
            row: row.clone(),
            json: cached_json,
            env,
            value: Some((version, value)),
        };
        Ok(Attempt::Served(Box::new(r), Some((version, slot))))
    }
}

/// The one audit row of a resolve: for one key tried, a row about that key as a read of it
/// alone writes; for several, a row naming them all (`items`), its outcome `ok`, `partial` or
/// `refused`.
fn one_row(mut entry: AuditEntry, mut items: Vec<AuditItem>) -> AuditEntry {
    if items.len() == 1 {
        let item = items.remove(0);
        entry.key = Some(item.key);
        entry.version = item.version;
        entry.env = item.env;
        entry.outcome = item.outcome;
        entry.detail = item.detail;
    } else {
        entry.outcome = items_outcome(&items).to_string();
        entry.items = items;
    }
    entry
}

/// The environment a resolve reads in, for messages (empty: none).
fn slot_env(scope: &Principal) -> String {
    scope.env.clone().unwrap_or_default()
}

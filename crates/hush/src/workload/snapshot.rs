//! The offline fallback: after each resolve a server answered, `hush run` keeps what it
//! resolved in a snapshot, and when the server later cannot be reached, answers 5xx or times
//! out, it answers from that snapshot instead (saying so on stderr, with its age).
//!
//! One snapshot per server, app, environment, manifest (or `--secret`/`--file` flags) and
//! token, in `$HUSH_HOME/state/fallback/` (0700), one file each (0600, written to a temporary
//! file then renamed). The file's name is SHA-256 of all of those, so it names none of them;
//! its content is sealed with AES-256-GCM under a key HKDF-SHA256 derives from the token
//! (`hush_crypto::seal_fallback`): the values are never on disk in the clear, and without the
//! token the file is useless. Another token finds no snapshot at all.
//!
//! An answer of 401, 403, 404 or 410 never falls back: those are the server's decision, and a
//! revoked token or secret must stop a workload, not be papered over.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use base64::Engine as _;
use hush_client::secrets::Reason;
use hush_core::SecretBytes;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize as _, Zeroizing};

use crate::backend::{Answer, Answered, Answers};
use crate::fail::Failure;

/// The snapshot's plaintext (it only ever exists sealed on disk).
#[derive(Serialize, Deserialize)]
struct Content {
    /// The server that answered.
    addr: String,
    /// When it answered (unix seconds).
    resolved_at: i64,
    /// Each key's value (standard base64) and expiry.
    values: BTreeMap<String, Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    value_base64: String,
    expires_at: Option<i64>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.value_base64.zeroize();
    }
}

/// A snapshot read back.
struct Loaded {
    resolved_at: i64,
    values: HashMap<String, (SecretBytes, Option<i64>)>,
}

/// How `hush run` uses and keeps its snapshot against one server.
pub(super) struct Fallback {
    addr: String,
    token: Zeroizing<String>,
    identity: Vec<u8>,
    path: PathBuf,
    max_age: i64,
    max_age_text: String,
    /// Every value the server gave in this run.
    kept: HashMap<String, (SecretBytes, Option<i64>)>,
    /// Whether the server answered a resolve in this run.
    answered: bool,
    /// The snapshot, once the server failed and it was read: then every later resolve of the
    /// run is answered from it too.
    used: Option<Loaded>,
}

/// What identifies a snapshot besides the server and the token.
pub(super) struct Identity<'a> {
    pub app: Option<&'a str>,
    pub env: Option<&'a str>,
    pub manifest: Option<&'a Path>,
    /// The `--secret` and `--file` flags.
    pub flags: Vec<String>,
}

/// Length-prefixed fields, so no two different lists give the same bytes.
fn fields(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(&(p.len() as u64).to_be_bytes());
        out.extend_from_slice(p);
    }
    out
}

/// Where snapshots live: `$HUSH_HOME/state/fallback` (HUSH_HOME defaults to
/// `~/.local/share/hush`).
fn dir() -> Result<PathBuf> {
    Ok(crate::local::Home::locate()?
        .dir
        .join("state")
        .join("fallback"))
}

/// `24h`, `30m`, `1d12h`, `90s` as seconds.
fn parse_max_age(text: &str) -> Result<i64> {
    let t = text.trim();
    let bad = || {
        Failure::usage(format!(
            "--fallback-max-age {text:?} is not a duration: give e.g. 90s, 30m, 24h or 7d"
        ))
    };
    // Only durations: parse_past would also take a date or unix seconds.
    if t.is_empty()
        || !t.ends_with(['s', 'm', 'h', 'd', 'w'])
        || !t.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(bad().into());
    }
    let now_ms = hush_core::clock::now_ms();
    let since = hush_core::clock::parse_past("--fallback-max-age", t, now_ms).map_err(|_| bad())?;
    Ok((now_ms - since) / 1000)
}

/// `2 h 5 min`, `3 s`, `1 d 4 h`: an age for people.
pub(super) fn age(secs: i64) -> String {
    let s = secs.max(0);
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// Whether a failed resolve may be answered from the snapshot: the server could not be
/// reached, timed out, or answered 5xx. Never 401, 403, 404 or 410.
fn may_fall_back(e: &anyhow::Error) -> bool {
    match e.downcast_ref::<hush_client::Error>() {
        Some(hush_client::Error::Transport { .. } | hush_client::Error::Unavailable(_)) => true,
        Some(hush_client::Error::Server { status, .. }) => *status >= 500,
        _ => false,
    }
}

impl Fallback {
    /// The fallback for this run, when hush talks to a server (`None` against a store).
    pub fn new(scope: &crate::Scope, id: Identity<'_>, max_age: &str) -> Result<Option<Self>> {
        let max_age_secs = parse_max_age(max_age)?;
        if scope.db.is_some() {
            return Ok(None);
        }
        let Some((addr, token)) = crate::remote::credentials()? else {
            return Ok(None);
        };
        let manifest = id
            .manifest
            .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()));
        let mut flags = id.flags;
        flags.sort();
        let flags = flags.join("\n");
        let identity = fields(&[
            addr.as_bytes(),
            id.app.unwrap_or_default().as_bytes(),
            id.env.unwrap_or_default().as_bytes(),
            manifest
                .as_ref()
                .map(|p| p.as_os_str().as_encoded_bytes())
                .unwrap_or_default(),
            flags.as_bytes(),
        ]);
        // The name hides the token and everything else: SHA-256 of all of it.
        let name = hush_crypto::sha256_hex(&fields(&[
            b"hush fallback name v1",
            &identity,
            token.as_bytes(),
        ]));
        Ok(Some(Fallback {
            addr,
            token,
            identity,
            path: dir()?.join(name),
            max_age: max_age_secs,
            max_age_text: max_age.trim().to_string(),
            kept: HashMap::new(),
            answered: false,
            used: None,
        }))
    }

    /// Whether this run already answers from the snapshot (the server is not asked again).
    pub fn in_use(&self) -> bool {
        self.used.is_some()
    }

    /// Records what the server answered, to keep it.
    pub fn keep(&mut self, answers: &Answers) {
        self.answered = true;
        // Under the key that served (a declaration's fallback, when the server followed one).
        for a in answers.values() {
            if let Answer::Found {
                value: Some(v),
                expires_at,
                ..
            } = &a.answer
            {
                self.kept.insert(a.key.clone(), (v.clone(), *expires_at));
            }
        }
    }

    /// After a resolve failed with `e`: the snapshot's answers for `keys`, or `e` itself when
    /// it may not fall back or there is no snapshot, or why the snapshot cannot be used.
    pub fn answer(
        &mut self,
        keys: &[String],
        follow: &BTreeMap<String, Vec<String>>,
        e: Option<anyhow::Error>,
    ) -> Result<Answers> {
        if let Some(e) = e {
            if !may_fall_back(&e) {
                if matches!(
                    e.downcast_ref::<hush_client::Error>(),
                    Some(hush_client::Error::Unauthorized(_))
                ) {
                    // The token is refused (revoked, expired): its snapshot goes too.
                    self.remove();
                }
                return Err(e);
            }
            let loaded = match self.load() {
                Ok(Some(l)) => l,
                Ok(None) => return Err(e),
                Err(why) => return Err(e.context(why)),
            };
            let secs = hush_core::clock::now() - loaded.resolved_at;
            if secs > self.max_age {
                return Err(anyhow!(
                    "{e:#}; the fallback snapshot is too old to use: it is from {} ago, and --fallback-max-age is {}",
                    age(secs),
                    self.max_age_text
                ));
            }
            let cause = match e.downcast_ref::<hush_client::Error>() {
                Some(hush_client::Error::Transport { message, .. }) => {
                    format!("cannot be reached ({message})")
                }
                Some(hush_client::Error::Unavailable(m)) => format!("answered 503 ({m})"),
                Some(hush_client::Error::Server { status, message }) => {
                    format!("answered {status} ({message})")
                }
                _ => format!("failed ({e:#})"),
            };
            eprintln!(
                "hush: the server at {} {cause}; using the fallback snapshot from {} ago",
                self.addr,
                age(secs)
            );
            self.used = Some(loaded);
        }
        let Some(loaded) = &self.used else {
            return Err(anyhow!("no fallback snapshot in use"));
        };
        let now = hush_core::clock::now();
        let one = |k: &String| match loaded.values.get(k) {
            Some((_, Some(exp))) if *exp <= now => Answer::Refused {
                reason: Reason::Expired,
                message: format!("{k:?} expired after the fallback snapshot was taken"),
            },
            Some((v, exp)) => Answer::Found {
                value: Some(v.clone()),
                expires_at: *exp,
                notify_before: None,
            },
            None => Answer::Refused {
                reason: Reason::Missing,
                message: format!(
                    "{k:?} is not in the fallback snapshot (the server could not be asked)"
                ),
            },
        };
        // As the server would: the wanted key, then its fallbacks in order, until one serves;
        // when none does, the last one tried gives the refusal.
        Ok(keys
            .iter()
            .map(|k| {
                let mut skipped = Vec::new();
                let tried = std::iter::once(k).chain(follow.get(k).into_iter().flatten());
                let mut last = None;
                for cand in tried {
                    if let Some((key, Answer::Refused { reason, message })) = last.take() {
                        skipped.push((key, reason, message));
                    }
                    let a = one(cand);
                    let found = matches!(a, Answer::Found { .. });
                    last = Some((cand.clone(), a));
                    if found {
                        break;
                    }
                }
                let (key, answer) = last.unwrap_or_else(|| (k.clone(), one(k)));
                (
                    k.clone(),
                    Answered {
                        skipped,
                        key,
                        answer,
                    },
                )
            })
            .collect())
    }

    /// Reads and opens the snapshot: `None` when there is none for this token.
    fn load(&self) -> std::result::Result<Option<Loaded>, String> {
        let sealed = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(format!(
                    "cannot read the fallback snapshot {}: {e}",
                    self.path.display()
                ))
            }
        };
        let damaged = || {
            format!(
                "the fallback snapshot {} does not open (damaged or changed): delete it",
                self.path.display()
            )
        };
        let plain = hush_crypto::open_fallback(self.token.as_bytes(), &self.identity, &sealed)
            .map_err(|_| damaged())?;
        // EXPOSE: the snapshot's plaintext is parsed here, and its values decoded.
        let content: Content =
            serde_json::from_slice(plain.expose_secret()).map_err(|_| damaged())?;
        let mut values = HashMap::with_capacity(content.values.len());
        for (k, e) in &content.values {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(&e.value_base64)
                .map_err(|_| damaged())?;
            values.insert(k.clone(), (SecretBytes::new(raw), e.expires_at));
        }
        Ok(Some(Loaded {
            resolved_at: content.resolved_at,
            values,
        }))
    }

    /// Removes the snapshot, if there is one.
    fn remove(&self) {
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => eprintln!(
                "hush: warning: cannot remove the fallback snapshot {}: {e}",
                self.path.display()
            ),
        }
    }

    /// Keeps what the server answered in this run as the snapshot (replacing the last one),
    /// unless the run answered from the snapshot; when the server gave no value at all (every
    /// key refused, or the token out of scope), removes it. A failure only warns: the run goes
    /// on.
    pub fn save(&self) {
        if !self.answered || self.used.is_some() {
            return;
        }
        if self.kept.is_empty() {
            self.remove();
            return;
        }
        if let Err(e) = self.write() {
            eprintln!(
                "hush: warning: cannot keep the fallback snapshot {}: {e:#}",
                self.path.display()
            );
        }
    }

    fn write(&self) -> Result<()> {
        let content = Content {
            addr: self.addr.clone(),
            resolved_at: hush_core::clock::now(),
            values: self
                .kept
                .iter()
                .map(|(k, (v, exp))| {
                    // EXPOSE: the value is encoded into the plaintext that is sealed next.
                    let b = base64::engine::general_purpose::STANDARD.encode(v.expose_secret());
                    (
                        k.clone(),
                        Entry {
                            value_base64: b,
                            expires_at: *exp,
                        },
                    )
                })
                .collect(),
        };
        let plain = SecretBytes::new(serde_json::to_vec(&content)?);
        drop(content);
        let sealed = hush_crypto::seal_fallback(self.token.as_bytes(), &self.identity, &plain)?;
        drop(plain);
        let dir = self.path.parent().ok_or_else(|| anyhow!("no directory"))?;
        private_dirs(dir)?;
        let tmp = dir.join(format!(
            ".{}.{}.tmp",
            self.path.file_name().unwrap_or_default().to_string_lossy(),
            std::process::id()
        ));
        let result = (|| -> Result<()> {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            {
                use std::os::unix::fs::OpenOptionsExt as _;
                opts.mode(0o600);
            }
            let mut f = opts.open(&tmp)?;
            {
                // An older file under that name may have looser permissions.
                use std::os::unix::fs::PermissionsExt as _;
                f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            }
            f.write_all(&sealed)?;
            // Not synced: the snapshot is a cache, rewritten by every run that reaches the
            // server. A machine crash right after may leave the previous one or a torn file,
            // which fails its authentication and is reported as damaged ("delete it") should
            // an outage need it; the rename keeps a reader from ever seeing a half-written one.
            // The fsync cost most of a millisecond of every `hush run` against a server.
            std::fs::rename(&tmp, &self.path)?;
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

/// Creates `dir` and `state/` above it, each 0700.
fn private_dirs(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true).mode(0o700);
    b.create(dir)?;
    for d in [Some(dir), dir.parent()].into_iter().flatten() {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_max_ages() {
        assert_eq!(age(3), "3 s");
        assert_eq!(age(7500), "2 h 5 min");
        assert_eq!(age(3600), "1 h");
        assert_eq!(age(86_400 + 4 * 3600 + 60), "1 d 4 h");
        assert_eq!(parse_max_age("24h").unwrap(), 86_400);
        assert_eq!(parse_max_age("1s").unwrap(), 1);
        assert_eq!(parse_max_age("1d12h").unwrap(), 129_600);
        for bad in ["", "24", "2025-01-01T00:00:00Z", "soon", "-1h"] {
            assert!(parse_max_age(bad).is_err(), "{bad}");
        }
    }
}

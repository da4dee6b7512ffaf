//! Secrets for code inside a workload: [`get`] and [`file()`] give the same answer inside
//! `hush run`, in local development and against a hush server, so workload code never changes.
//!
//! ```no_run
//! # async fn demo() -> Result<(), hush_client::secrets::Error> {
//! use hush_client::secrets;
//!
//! // A value, as bytes or text.
//! let token = secrets::get("githubtoken").await?;
//! let header = format!("Bearer {}", token.expose_str()?);
//!
//! // A value as a file, for libraries that want a path (a service-account key, a certificate).
//! let key_path: std::path::PathBuf = secrets::file("gcp-key").await?;
//! # let _ = (header, key_path);
//!
//! // Optional: remove the files `file` wrote, e.g. before exiting.
//! secrets::cleanup().ok();
//! # Ok(()) }
//! ```
//!
//! # Where a value comes from
//!
//! The first source that has the key wins:
//!
//! 1. **Inside `hush run`** the environment variable `HUSH_SECRETS_MAP` ([`MAP_VAR`]) is set to
//!    a JSON object naming, for each declared key, how `hush run` delivered it:
//!    `{"githubtoken": {"env": "GITHUB_TOKEN"}, "gcp-key": {"file": "GCP_KEY_FILE"}}`. With
//!    `env`, the value is in that environment variable; with `file`, that environment variable
//!    holds the path of a file containing the value. While the map is set, **only** the map is
//!    consulted: a key that is not in it is [`Error::NotDeclared`] (add it to `hush.toml`).
//! 2. **An environment variable** named `<prefix><key>`, e.g. `HUSH_SECRET_githubtoken`. The
//!    prefix is `HUSH_SECRET_PREFIX` ([`PREFIX_VAR`]) when set and not empty, else
//!    [`DEFAULT_PREFIX`]. The key is matched exactly as written (no case folding).
//! 3. **A `.secrets` file** in the current directory, or the file named by `HUSH_SECRETS_FILE`
//!    ([`SECRETS_FILE_VAR`], relative to the current directory). Its syntax is dotenv, parsed
//!    by the [`dotenvor`] crate with no substitution: **values are literal, a `$` is never
//!    expanded** (`pw=a$b` is `a$b`). `#` comments, `export KEY=…`, single quotes (literal),
//!    double quotes (escapes `\n`, `\r`, `\t`, `\\`, `\"`; any other backslash is kept as
//!    written), and quoted values spanning several lines. A key is any hush key (see
//!    [Keys](#keys)), hyphens included (`gcs-key=…`). A key given twice has the value of its
//!    last line (as python-dotenv and Node's `util.parseEnv` read it). A line that does not
//!    parse, or whose key is not a hush key, refuses the whole file with
//!    [`Error::SecretsFile`], which names the line and what is wrong, never the line's text.
//! 4. **A hush server** when `HUSH_ADDR` ([`ADDR_VAR`]) and `HUSH_TOKEN` ([`TOKEN_VAR`]) are
//!    both set: one `POST /v1/resolve` ([`crate::Client::resolve`]) with the app from
//!    `HUSH_APP` ([`APP_VAR`]) and the environment from `HUSH_ENV` ([`ENV_VAR`]) when set. A
//!    refusal (`missing`, `revoked`, `expired`, `out_of_scope`) is [`Error::Refused`]. The
//!    server's certificate is checked against the system's trust store plus the PEM bundle
//!    named by `HUSH_CACERT` ([`CACERT_VAR`]) when set (a private CA).
//! 5. Otherwise [`Error::NotFound`], whose message says where it looked and what to do.
//!
//! The free functions read the process environment and current directory **once**, on first
//! use, into a process-wide [`Sources`]; build a [`Sources`] yourself to choose them (tests do
//! this with [`Sources::new`]). Files and the server are read on every call; values are not
//! cached. The calls do small blocking file reads, which is fine on an async runtime.
//!
//! # Values as files
//!
//! [`file()`] returns the delivered path when `hush run` delivered the key as a file. Otherwise
//! it writes the value, once, to a private directory (mode 0700) it makes in `HUSH_SECRETS_DIR`
//! ([`SECRETS_DIR_VAR`]) when set, else in `/dev/shm` (memory, not disk) when that is usable,
//! else in [`std::env::temp_dir`]; the file is named after the key and has mode 0600. Later
//! calls for the same key return the same path without resolving again. These files stay
//! for the life of the [`Sources`]: a [`Sources`] removes its directory when dropped, and the
//! process-wide one (which is never dropped) removes it when [`cleanup`] is called — otherwise
//! the directory outlives the process, so call [`cleanup`] before exiting (or run under
//! `hush run`, which points `HUSH_SECRETS_DIR` at a directory it removes itself).
//!
//! # The offline fallback snapshot
//!
//! Against a server (source 4), each value the server gives is kept in a fallback snapshot, as
//! `hush run` keeps one: when the server later **cannot be reached, times out or answers
//! 5xx**, [`Sources::get`] and [`Sources::file`] answer from it and say so on stderr, with its
//! age (`hush: the server at https://hush.internal:8443 cannot be reached (connection
//! refused); using the fallback snapshot of "githubtoken" from 2 h 5 min ago`).
//!
//! - An answer of 401, 403, 404 or 410 never falls back; a 401 also removes the token's
//!   snapshot, and a key the server refuses (`missing`, `revoked`, `expired`) leaves it.
//! - [`Sources::fallback_max_age`] (or `HUSH_FALLBACK_MAX_AGE`, [`FALLBACK_MAX_AGE_VAR`]:
//!   `90s`, `30m`, `7d` or seconds; default 24 hours) bounds a value's age; an older one is
//!   refused, and [`Error::Server`]'s `fallback` says why.
//! - [`Sources::fallback`]`(false)` (or `HUSH_NO_FALLBACK=1`, [`NO_FALLBACK_VAR`]) neither keeps
//!   nor uses one.
//! - One file per server, app, environment and token in `$HUSH_HOME/state/fallback/sdk-rust/`
//!   (directory 0700, file 0600), sealed by `hush_crypto::seal_fallback` (AES-256-GCM under a
//!   key HKDF-SHA256 derives from the token) and named by SHA-256 of all of those: no value,
//!   key or token is readable in it, and another token finds none. The Python and Node SDKs
//!   write the same format.
//!
//! # Keys
//!
//! A key is 1 to 128 characters of `A-Z a-z 0-9 _ . -`, not starting with `.` or `-`
//! (anything else is [`Error::InvalidKey`]), so it is safe as an environment variable suffix,
//! a file name and a URL segment.
//!
//! No error message contains a value. [`Secret`] has no `Display`, prints as `[redacted]`
//! with `Debug` and clears its memory when dropped.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use serde::Deserialize;
use zeroize::{Zeroize as _, Zeroizing};

use crate::fallback::{self, Snapshot};
pub use crate::fallback::{FALLBACK_MAX_AGE_VAR, NO_FALLBACK_VAR};
use crate::private_dir::PrivateDir;
use crate::ValueBytes as _;

/// Set by `hush run`: the JSON map of declared keys to how each was delivered.
pub const MAP_VAR: &str = "HUSH_SECRETS_MAP";
/// Overrides [`DEFAULT_PREFIX`] for the prefixed environment variable source.
pub const PREFIX_VAR: &str = "HUSH_SECRET_PREFIX";
/// The prefix of the environment variable source when [`PREFIX_VAR`] is unset or empty.
pub const DEFAULT_PREFIX: &str = "HUSH_SECRET_";
/// The dotenv file to read instead of `./.secrets`.
pub const SECRETS_FILE_VAR: &str = "HUSH_SECRETS_FILE";
/// The file name of the dotenv source in the current directory.
pub const DEFAULT_SECRETS_FILE: &str = ".secrets";
/// Where [`file()`] makes its private directory.
pub const SECRETS_DIR_VAR: &str = "HUSH_SECRETS_DIR";
/// The server address (`http://HOST:PORT`, `https://HOST`).
pub const ADDR_VAR: &str = "HUSH_ADDR";
/// The token for the server.
pub const TOKEN_VAR: &str = "HUSH_TOKEN";
/// A PEM bundle of CA certificates to trust for the server besides the system's (relative
/// to the current directory).
pub const CACERT_VAR: &str = crate::CACERT_VAR;
/// The app named in the server request.
pub const APP_VAR: &str = "HUSH_APP";
/// The environment named in the server request.
pub const ENV_VAR: &str = "HUSH_ENV";

const MAX_KEY_LEN: usize = 128;

/// A secret's value. It has no `Display`, its `Debug` prints `Secret([redacted])`, and its
/// memory is cleared when it is dropped. Read it with [`Secret::expose_bytes`] or
/// [`Secret::expose_str`], as late and as briefly as you can.
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// The value's bytes.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The value as text; [`Error::NotUtf8`] when it is not UTF-8 (use
    /// [`Secret::expose_bytes`] then).
    pub fn expose_str(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.0).map_err(|_| Error::NotUtf8)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Why a hush server would not give a secret (the wire's code).
pub use hush_wire::Reason;

/// What [`get`] and [`file()`] can fail with. No message contains a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The key is not 1-128 of `A-Z a-z 0-9 _ . -` or starts with `.` or `-`.
    #[error("{key:?} is not a valid secret key: use 1-128 of A-Z a-z 0-9 _ . - (not starting with . or -)")]
    InvalidKey {
        /// The key asked for (at most 64 characters of it).
        key: String,
    },
    /// Inside `hush run`, and the key is not declared for this workload.
    #[error("secret {key:?} is not declared for this workload: add it to hush.toml (inside `hush run` only declared secrets are available)")]
    NotDeclared {
        /// The key.
        key: String,
    },
    /// `HUSH_SECRETS_MAP` is set but is not a valid map.
    #[error("HUSH_SECRETS_MAP is not a valid secrets map ({reason}): it is set by `hush run`; unset it outside `hush run`")]
    BadMap {
        /// What is wrong with it (never its text).
        reason: String,
    },
    /// `HUSH_SECRETS_MAP` says the key is in an environment variable that is not set.
    #[error("secret {key:?} should be delivered in environment variable {var} (says HUSH_SECRETS_MAP), but {var} is not set")]
    Undelivered {
        /// The key.
        key: String,
        /// The environment variable.
        var: String,
    },
    /// An environment variable that configures the sources is not usable.
    #[error("{0}")]
    Config(String),
    /// A file could not be read or written, or the private directory could not be made.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done (`read`, `write`, `make the directory`).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The `.secrets` file has a line that does not parse, or a key that is not a hush key.
    #[error("{}: line {line}: {reason}; nothing in it was used (the line is not shown, as it may hold a value)", path.display())]
    SecretsFile {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: u32,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The hush server answered that this key cannot be had.
    #[error("the hush server will not give secret {key:?} ({reason}): {message}")]
    Refused {
        /// The key.
        key: String,
        /// Why, as a type.
        reason: Reason,
        /// The server's message.
        message: String,
    },
    /// Asking the hush server failed (unreachable, bad token, …), or its answer had no entry
    /// for the key.
    #[error(
        "asking the hush server at HUSH_ADDR for secret {key:?} failed: {source}{}",
        fallback_note(fallback)
    )]
    Server {
        /// The key.
        key: String,
        /// The cause.
        #[source]
        source: crate::Error,
        /// Why the offline fallback snapshot could not answer instead (too old, damaged);
        /// `None` when there is none or it was not tried.
        fallback: Option<String>,
    },
    /// No source has the key.
    #[error("secret {key:?} not found: {looked}")]
    NotFound {
        /// The key.
        key: String,
        /// Where it looked and what to do.
        looked: String,
    },
    /// [`Secret::expose_str`] on a value that is not UTF-8.
    #[error("the secret's value is not UTF-8 text: read it with expose_bytes")]
    NotUtf8,
}

fn fallback_note(why: &Option<String>) -> String {
    why.as_ref().map(|w| format!("; {w}")).unwrap_or_default()
}

/// The value of a key, or the file `hush run` delivered it in.
enum Found {
    Value(Zeroizing<Vec<u8>>),
    File(PathBuf),
}

/// One entry of `HUSH_SECRETS_MAP`: exactly one of the two.
#[derive(Deserialize)]
struct MapEntry {
    env: Option<String>,
    file: Option<String>,
}

/// The private directory of [`Sources::file`] and the files written in it.
#[derive(Default)]
struct Written {
    dir: Option<PrivateDir>,
    paths: HashMap<String, PathBuf>,
}

/// The sources [`get`] and [`file()`] read, built from an environment and a current directory.
///
/// The free functions use one built by [`Sources::from_env`] on first use. Dropping a
/// `Sources` removes the directory [`Sources::file`] wrote values into.
pub struct Sources {
    env: HashMap<String, Zeroizing<Vec<u8>>>,
    cwd: PathBuf,
    /// `Some` when chosen with [`Sources::fallback`], else `HUSH_NO_FALLBACK` decides.
    fallback: Option<bool>,
    /// Seconds, when chosen with [`Sources::fallback_max_age`].
    max_age: Option<i64>,
    client: OnceLock<crate::Client>,
    written: Mutex<Written>,
}

impl fmt::Debug for Sources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sources")
            .field("cwd", &self.cwd)
            .field(
                "env",
                &format_args!("[{} variables, redacted]", self.env.len()),
            )
            .finish_non_exhaustive()
    }
}

impl Sources {
    /// Sources from this environment and current directory (relative paths in the
    /// environment are taken from `cwd`).
    pub fn new(env: HashMap<String, String>, cwd: PathBuf) -> Self {
        let env = env
            .into_iter()
            .map(|(k, v)| (k, Zeroizing::new(v.into_bytes())))
            .collect();
        Self::build(env, cwd)
    }

    /// Sources from the process environment and current directory, read now. Variables whose
    /// names are not UTF-8 are left out; values are kept as their bytes.
    pub fn from_env() -> Self {
        let env = std::env::vars_os()
            .filter_map(|(k, v)| {
                let k = k.into_string().ok()?;
                Some((k, Zeroizing::new(v.into_encoded_bytes())))
            })
            .collect();
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        Self::build(env, cwd)
    }

    fn build(env: HashMap<String, Zeroizing<Vec<u8>>>, cwd: PathBuf) -> Self {
        Sources {
            env,
            cwd,
            fallback: None,
            max_age: None,
            client: OnceLock::new(),
            written: Mutex::new(Written::default()),
        }
    }

    /// Against a server: whether to keep an offline fallback snapshot of each value it gives
    /// and answer from it when the server cannot be reached, times out or answers 5xx (see
    /// [the module docs](self#the-offline-fallback-snapshot)). Default: on, unless
    /// `HUSH_NO_FALLBACK` ([`NO_FALLBACK_VAR`]) is set.
    pub fn fallback(mut self, on: bool) -> Self {
        self.fallback = Some(on);
        self
    }

    /// The oldest snapshot value to use. Default: `HUSH_FALLBACK_MAX_AGE`
    /// ([`FALLBACK_MAX_AGE_VAR`]), else 24 hours.
    pub fn fallback_max_age(mut self, age: std::time::Duration) -> Self {
        self.max_age = Some(i64::try_from(age.as_secs()).unwrap_or(i64::MAX));
        self
    }

    /// The value of `key`, from the first source that has it (see the [module
    /// docs](self)). A value delivered as a file is read from it.
    pub async fn get(&self, key: &str) -> Result<Secret, Error> {
        check_key(key)?;
        match self.find(key).await? {
            Found::Value(v) => Ok(Secret(v)),
            Found::File(path) => read_file(&path).map(Secret),
        }
    }

    /// A path to a file holding exactly the value of `key`: the file `hush run` delivered, or
    /// one written once into this `Sources`' private directory (see the [module
    /// docs](self#values-as-files)).
    pub async fn file(&self, key: &str) -> Result<PathBuf, Error> {
        check_key(key)?;
        if let Some(p) = self.lock().paths.get(key) {
            return Ok(p.clone());
        }
        match self.find(key).await? {
            Found::File(path) => Ok(path),
            Found::Value(v) => self.write_private(key, &v),
        }
    }

    /// Removes the private directory and the files [`Sources::file`] wrote (a later call
    /// writes them again, in a new directory). Dropping the `Sources` does the same.
    pub fn cleanup(&self) -> std::io::Result<()> {
        let dir = {
            let mut w = self.lock();
            w.paths.clear();
            w.dir.take()
        };
        match dir {
            Some(d) => d.close(),
            None => Ok(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Written> {
        self.written.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An environment variable as bytes.
    fn var(&self, name: &str) -> Option<&[u8]> {
        self.env.get(name).map(|v| v.as_slice())
    }

    /// An environment variable as text, `None` when unset or empty.
    fn var_str(&self, name: &str) -> Result<Option<&str>, Error> {
        match self.var(name) {
            None | Some([]) => Ok(None),
            Some(b) => std::str::from_utf8(b).map(Some).map_err(|_| {
                Error::Config(format!("environment variable {name} is not UTF-8 text"))
            }),
        }
    }

    async fn find(&self, key: &str) -> Result<Found, Error> {
        // 1. Inside `hush run`: the map and nothing else.
        if let Some(raw) = self.var(MAP_VAR) {
            return self.lookup_map(key, raw);
        }

        // 2. The prefixed environment variable.
        let prefix = self.var_str(PREFIX_VAR)?.unwrap_or(DEFAULT_PREFIX);
        let env_name = format!("{prefix}{key}");
        if let Some(v) = self.var(&env_name) {
            return Ok(Found::Value(Zeroizing::new(v.to_vec())));
        }

        // 3. The dotenv file.
        let secrets_path = match self.var_str(SECRETS_FILE_VAR)? {
            Some(p) => self.cwd.join(p),
            None => self.cwd.join(DEFAULT_SECRETS_FILE),
        };
        let file_state = match lookup_dotenv(&secrets_path, key)? {
            Ok(v) => return Ok(Found::Value(v)),
            Err(state) => state,
        };

        // 4. The server.
        let addr = self.var_str(ADDR_VAR)?;
        let token = self.var_str(TOKEN_VAR)?;
        if let (Some(addr), Some(token)) = (addr, token) {
            return self.ask_server(key, addr, token).await;
        }

        // 5. Nowhere.
        let unset = match (addr, token) {
            (None, None) => format!("{ADDR_VAR} and {TOKEN_VAR} are unset"),
            (None, _) => format!("{ADDR_VAR} is unset"),
            _ => format!("{TOKEN_VAR} is unset"),
        };
        let file = secrets_path.display();
        Err(Error::NotFound {
            key: key.to_string(),
            looked: format!(
                "looked in environment variable {env_name} (unset), in {file} ({file_state}), \
                 and at no hush server ({unset}); set {env_name}, add a line `{key}=…` to \
                 {file}, set {ADDR_VAR} and {TOKEN_VAR} to ask a hush server, or start the \
                 program with `hush run`"
            ),
        })
    }

    fn lookup_map(&self, key: &str, raw: &[u8]) -> Result<Found, Error> {
        // Only the position of a JSON error is reported: the map's text is never echoed.
        let map: HashMap<String, MapEntry> =
            serde_json::from_slice(raw).map_err(|e| Error::BadMap {
                reason: format!(
                    "not a JSON object of {{\"env\": NAME}} or {{\"file\": NAME}} entries: \
                     {:?} error at line {} column {}",
                    e.classify(),
                    e.line(),
                    e.column()
                ),
            })?;
        let entry = map.get(key).ok_or_else(|| Error::NotDeclared {
            key: key.to_string(),
        })?;
        let (var, is_file) = match (&entry.env, &entry.file) {
            (Some(v), None) => (v.as_str(), false),
            (None, Some(v)) => (v.as_str(), true),
            _ => {
                return Err(Error::BadMap {
                    reason: format!(
                        "the entry for {key:?} must have exactly one of \"env\" and \"file\""
                    ),
                })
            }
        };
        let undelivered = || Error::Undelivered {
            key: key.to_string(),
            var: var.to_string(),
        };
        if is_file {
            let path = self.var_str(var)?.ok_or_else(undelivered)?;
            Ok(Found::File(self.cwd.join(path)))
        } else {
            let v = self.var(var).ok_or_else(undelivered)?;
            Ok(Found::Value(Zeroizing::new(v.to_vec())))
        }
    }

    /// The fallback snapshot for this server, app, environment and token; `None` when off.
    fn snapshot(&self, addr: &str, token: &str) -> Result<Option<Snapshot>, Error> {
        let on = match self.fallback {
            Some(on) => on,
            None => !matches!(
                self.var_str(NO_FALLBACK_VAR)?
                    .map(|v| v.trim().to_ascii_lowercase())
                    .as_deref(),
                Some(v) if !matches!(v, "" | "0" | "false" | "no")
            ),
        };
        if !on {
            return Ok(None);
        }
        let max_age = match (self.max_age, self.var_str(FALLBACK_MAX_AGE_VAR)?) {
            (Some(s), _) => s,
            (None, None) => fallback::DEFAULT_MAX_AGE,
            (None, Some(t)) => fallback::parse_max_age(t).ok_or_else(|| {
                Error::Config(format!(
                    "{FALLBACK_MAX_AGE_VAR} {t:?} is not a duration: give e.g. 90s, 30m, 24h or 7d"
                ))
            })?,
        };
        let Some(dir) = self.state_dir()? else {
            return Ok(None);
        };
        Ok(Some(Snapshot::new(
            &dir,
            addr,
            token.as_bytes(),
            self.var_str(APP_VAR)?,
            self.var_str(ENV_VAR)?,
            max_age,
        )))
    }

    /// `$HUSH_HOME/state/fallback/sdk-rust`; `HUSH_HOME` defaults to `$XDG_DATA_HOME/hush`,
    /// else `~/.local/share/hush`, as the CLI's (`HOME` from this environment, else the
    /// process's). `None` when there is no home at all: then no snapshot is kept.
    fn state_dir(&self) -> Result<Option<PathBuf>, Error> {
        let home = match self.var_str("HUSH_HOME")? {
            Some(h) => self.cwd.join(h),
            None => {
                let base = match self.var_str("XDG_DATA_HOME")? {
                    Some(x) if Path::new(x).is_absolute() => PathBuf::from(x),
                    _ => {
                        let home = match self.var_str("HOME")? {
                            Some(h) => Some(PathBuf::from(h)),
                            None => std::env::var_os("HOME").map(PathBuf::from),
                        };
                        match home.filter(|h| h.is_absolute()) {
                            Some(h) => h.join(".local").join("share"),
                            None => return Ok(None),
                        }
                    }
                };
                base.join("hush")
            }
        };
        Ok(Some(home.join("state").join("fallback").join("sdk-rust")))
    }

    async fn ask_server(&self, key: &str, addr: &str, token: &str) -> Result<Found, Error> {
        let server_err = |source| Error::Server {
            key: key.to_string(),
            source,
            fallback: None,
        };
        let client = match self.client.get() {
            Some(c) => c,
            None => {
                let mut b = crate::Client::builder(addr, token);
                if let Some(ca) = self.var_str(CACERT_VAR)? {
                    b = b.add_ca_file(self.cwd.join(ca)).map_err(server_err)?;
                }
                let c = b.build().map_err(server_err)?;
                self.client.get_or_init(|| c)
            }
        };
        let app = self.var_str(APP_VAR)?;
        let env = self.var_str(ENV_VAR)?;
        let snapshot = self.snapshot(addr, token)?;
        let resolved = match client.resolve(app, env, &[key.to_string()]).await {
            Ok(r) => r,
            Err(e) => {
                let mut why = None;
                if let Some(s) = &snapshot {
                    if matches!(e, crate::Error::Unauthorized(_)) {
                        // The token is refused (revoked, expired): its snapshot goes too.
                        s.remove();
                    } else if fallback::may_fall_back(&e) {
                        match s.answer(key, &e) {
                            Ok(v) => return Ok(Found::Value(v)),
                            Err(w) if w.is_empty() => {}
                            Err(w) => why = Some(w),
                        }
                    }
                }
                return Err(Error::Server {
                    key: key.to_string(),
                    source: e,
                    fallback: why,
                });
            }
        };
        if let Some(v) = resolved.secrets.get(key) {
            let value = v.bytes().map_err(server_err)?;
            if let Some(s) = &snapshot {
                s.keep(key, &value, v.meta.expires_at);
            }
            return Ok(Found::Value(value));
        }
        if let Some(e) = resolved.errors.get(key) {
            if let Some(s) = &snapshot {
                s.forget(key);
            }
            return Err(Error::Refused {
                key: key.to_string(),
                reason: e.code.clone(),
                message: e.message.clone(),
            });
        }
        Err(server_err(crate::Error::Server {
            status: 200,
            message: "the answer has neither a value nor an error for this key".into(),
        }))
    }

    fn write_private(&self, key: &str, value: &[u8]) -> Result<PathBuf, Error> {
        let mut w = self.lock();
        if let Some(p) = w.paths.get(key) {
            return Ok(p.clone());
        }
        let dir = match w.dir.take() {
            Some(d) => d,
            None => self.make_dir()?,
        };
        let written = dir.write(key, value).map_err(|source| Error::Io {
            action: "write",
            path: dir.path().join(key),
            source,
        });
        w.dir = Some(dir);
        let path = written?;
        w.paths.insert(key.to_string(), path.clone());
        Ok(path)
    }

    /// A new 0700 directory in `HUSH_SECRETS_DIR`, else `/dev/shm`, else the temp dir.
    fn make_dir(&self) -> Result<PrivateDir, Error> {
        if let Some(base) = self.var_str(SECRETS_DIR_VAR)? {
            return private_dir(&self.cwd.join(base));
        }
        let shm = Path::new("/dev/shm");
        if shm.is_dir() {
            if let Ok(d) = private_dir(shm) {
                return Ok(d);
            }
        }
        private_dir(&std::env::temp_dir())
    }
}

fn private_dir(base: &Path) -> Result<PrivateDir, Error> {
    PrivateDir::new_in(base, "hush-secrets-").map_err(|source| Error::Io {
        action: "make a private directory in",
        path: base.to_path_buf(),
        source,
    })
}

fn read_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, Error> {
    std::fs::read(path)
        .map(Zeroizing::new)
        .map_err(|source| Error::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        })
}

/// The text of the dotenv file at `path`, or `None` when there is no such file.
fn read_secrets_file(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(Zeroizing::new(b))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The entries of a `.secrets` text, parsed by the [`dotenvor`] crate without substitution (a
/// `$` is a `$`), in file order; a key given twice has the value of its last line. A byte
/// order mark before the first line is skipped. Every key must be a hush key; a line that does
/// not parse, or whose key is not one, refuses the whole file with [`Error::SecretsFile`],
/// which names the line and what is wrong, never its text (a broken line may be a value).
fn parse_dotenv(text: &[u8], path: &Path) -> Result<Vec<(String, Secret)>, Error> {
    let text = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(text);
    let refuse = |line: u32, reason: &'static str| Error::SecretsFile {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let entries = match dotenvor::parse_bytes(text) {
        Ok(entries) => entries,
        Err(dotenvor::Error::InvalidEncoding(e)) => {
            let line = text[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            return Err(refuse(
                u32::try_from(line).unwrap_or(u32::MAX),
                "not UTF-8 text",
            ));
        }
        Err(dotenvor::Error::Parse(e)) => {
            use dotenvor::ParseErrorKind as K;
            let reason = match e.kind {
                K::MissingKey => "no key before the `=`",
                K::InvalidKey => {
                    "the key has a character a hush key cannot have (use A-Z a-z 0-9 _ . -)"
                }
                K::UnterminatedQuote => {
                    "a quote opens here and is never closed (a value over several lines must be quoted)"
                }
                _ => {
                    "not a `KEY=value` line (a quoted value may be followed only by a # comment)"
                }
            };
            return Err(refuse(e.line, reason));
        }
        Err(dotenvor::Error::Io(source)) => {
            return Err(Error::Io {
                action: "read",
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let mut out = Vec::with_capacity(entries.len());
    let mut failed = None;
    for mut e in entries {
        let value = Secret(Zeroizing::new(std::mem::take(&mut e.value).into_bytes()));
        if !valid_key(&e.key) {
            // Such a "key" may be a value written by mistake (a line of an unquoted key file).
            e.key.zeroize();
            failed = Some(failed.map_or(e.line, |l: u32| l.min(e.line)));
            continue;
        }
        out.push((std::mem::take(&mut e.key), value));
    }
    match failed {
        Some(line) => Err(refuse(
            line,
            "the key is not a hush key: 1-128 of A-Z a-z 0-9 _ . -, not starting with . or -",
        )),
        None => Ok(out),
    }
}

/// The value of `key` in the dotenv file at `path`, or, as `Err`, why not (for the not-found
/// message).
fn lookup_dotenv(
    path: &Path,
    key: &str,
) -> Result<Result<Zeroizing<Vec<u8>>, &'static str>, Error> {
    match read_secrets_file(path)? {
        None => Ok(Err("no such file")),
        Some(text) => lookup_dotenv_text(&text, path, key),
    }
}

/// [`lookup_dotenv`] on the file's text. The whole file is parsed whichever key is asked: a
/// file that does not parse is refused for every key, as `hush run` refuses it (found by the
/// fuzz target `secrets_file`).
pub(crate) fn lookup_dotenv_text(
    text: &[u8],
    path: &Path,
    key: &str,
) -> Result<Result<Zeroizing<Vec<u8>>, &'static str>, Error> {
    let found = parse_dotenv(text, path)?
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, mut v)| std::mem::take(&mut v.0));
    Ok(found.ok_or("no line for this key"))
}

/// Every entry of the dotenv file at `path`, in file order (a key given twice has the value of
/// its last line), or `None` when there is no such file. What `hush run` and `hush check` read
/// as their `.secrets` source; the same parsing as [`get`].
pub fn read_dotenv(path: &Path) -> Result<Option<Vec<(String, Secret)>>, Error> {
    match read_secrets_file(path)? {
        None => Ok(None),
        Some(text) => read_dotenv_text(&text, path).map(Some),
    }
}

/// [`read_dotenv`] on the file's text (`path` is only for error messages).
pub(crate) fn read_dotenv_text(text: &[u8], path: &Path) -> Result<Vec<(String, Secret)>, Error> {
    parse_dotenv(text, path)
}

/// Whether `key` is a hush key.
pub(crate) fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && !key.starts_with(['.', '-'])
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn check_key(key: &str) -> Result<(), Error> {
    if valid_key(key) {
        Ok(())
    } else {
        Err(Error::InvalidKey {
            key: key.chars().take(64).collect(),
        })
    }
}

static GLOBAL: OnceLock<Sources> = OnceLock::new();

fn global() -> &'static Sources {
    GLOBAL.get_or_init(Sources::from_env)
}

/// The value of `key` for this process (see the [module docs](self) for where it comes from).
pub async fn get(key: &str) -> Result<Secret, Error> {
    global().get(key).await
}

/// A path to a file holding the value of `key` for this process: the file `hush run`
/// delivered, or one written once into a private directory that stays until [`cleanup`].
pub async fn file(key: &str) -> Result<PathBuf, Error> {
    global().file(key).await
}

/// Removes the private directory and the files [`file()`] wrote in this process. Call it before
/// exiting: the process-wide sources are never dropped, so nothing else removes them.
pub fn cleanup() -> std::io::Result<()> {
    match GLOBAL.get() {
        Some(s) => s.cleanup(),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn sources(dir: &Path, vars: &[(&str, &str)]) -> Sources {
        let env = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Sources::new(env, dir.to_path_buf())
    }

    async fn get_str(s: &Sources, key: &str) -> Result<String, Error> {
        s.get(key)
            .await
            .map(|v| v.expose_str().unwrap().to_string())
    }

    #[cfg(unix)]
    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[tokio::test]
    async fn prefixed_env_var_exact_key() {
        let cwd = tempfile::tempdir().unwrap();
        let s = sources(
            cwd.path(),
            &[
                ("HUSH_SECRET_githubtoken", "ghp_123"),
                ("HUSH_SECRET_OTHER", "x"),
            ],
        );
        assert_eq!(get_str(&s, "githubtoken").await.unwrap(), "ghp_123");
        assert!(matches!(
            s.get("GITHUBTOKEN").await,
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(s.get("other").await, Err(Error::NotFound { .. })));
    }

    #[tokio::test]
    async fn custom_prefix_replaces_default() {
        let cwd = tempfile::tempdir().unwrap();
        let s = sources(
            cwd.path(),
            &[
                ("HUSH_SECRET_PREFIX", "ML_S_"),
                ("ML_S_githubtoken", "from-ml"),
                ("HUSH_SECRET_db", "from-default"),
            ],
        );
        assert_eq!(get_str(&s, "githubtoken").await.unwrap(), "from-ml");
        assert!(matches!(s.get("db").await, Err(Error::NotFound { .. })));
    }

    #[tokio::test]
    async fn secrets_file_dotenv_syntax() {
        let cwd = tempfile::tempdir().unwrap();
        std::fs::write(
            cwd.path().join(".secrets"),
            "# a comment\n\
             plain=abc # trailing comment\n\
             export exported=yes\n\
             single='li$teral \\n'\n\
             double=\"say \\\"hi\\\" $5\\nnext\"\n\
             multi=\"-----BEGIN KEY-----\nline2\nline3\n-----END KEY-----\"\n\
             after=ok\n\
             dup=first\n\
             dup=second\n",
        )
        .unwrap();
        let s = sources(cwd.path(), &[]);
        assert_eq!(get_str(&s, "plain").await.unwrap(), "abc");
        assert_eq!(get_str(&s, "exported").await.unwrap(), "yes");
        assert_eq!(get_str(&s, "single").await.unwrap(), "li$teral \\n");
        assert_eq!(get_str(&s, "double").await.unwrap(), "say \"hi\" $5\nnext");
        assert_eq!(
            get_str(&s, "multi").await.unwrap(),
            "-----BEGIN KEY-----\nline2\nline3\n-----END KEY-----"
        );
        assert_eq!(get_str(&s, "after").await.unwrap(), "ok");
        // The last line for a key wins, as python-dotenv and Node's util.parseEnv read it.
        assert_eq!(get_str(&s, "dup").await.unwrap(), "second");
        assert!(matches!(s.get("absent").await, Err(Error::NotFound { .. })));
    }

    /// Regression (issue 16): `gcs-key=…` refused the whole file ("after its first 0
    /// entries"), and `$NAME` was substituted (`abc$HOMExyz` arrived as `abc`).
    #[tokio::test]
    async fn secrets_file_hyphenated_keys_and_literal_dollars() {
        let cwd = tempfile::tempdir().unwrap();
        std::fs::write(
            cwd.path().join(".secrets"),
            "gcs-key=k1\n\
             pw=abc$HOMExyz\n\
             braces=\"x${HOME}y\"\n\
             single='$HOME'\n",
        )
        .unwrap();
        let s = sources(cwd.path(), &[("HOME", "/home/someone")]);
        assert_eq!(get_str(&s, "gcs-key").await.unwrap(), "k1");
        assert_eq!(get_str(&s, "pw").await.unwrap(), "abc$HOMExyz");
        assert_eq!(get_str(&s, "braces").await.unwrap(), "x${HOME}y");
        assert_eq!(get_str(&s, "single").await.unwrap(), "$HOME");
    }

    /// Parse errors name the line and what is wrong, never the text.
    #[tokio::test]
    async fn secrets_file_errors_name_the_line() {
        let cwd = tempfile::tempdir().unwrap();
        for (text, line, what) in [
            ("ok=1\n\nbad=\"sk_live_unclosed\n", 3, "never closed"),
            ("ok=1\nsk_live_no_equals\n", 2, "KEY=value"),
            ("ok=1\n-sk_live=1\n", 2, "not a hush key"),
            ("ok=1\nsk live=1\n", 2, "character"),
            ("ok=1\n=sk_live\n", 2, "no key"),
        ] {
            std::fs::write(cwd.path().join(".secrets"), text).unwrap();
            let s = sources(cwd.path(), &[]);
            let e = s.get("ok").await.unwrap_err();
            assert!(
                matches!(&e, Error::SecretsFile { line: l, .. } if *l == line),
                "{text:?}: {e:?}"
            );
            let msg = e.to_string();
            assert!(msg.contains(&format!("line {line}: ")), "{msg}");
            assert!(msg.contains(what), "{msg}");
            assert!(!msg.contains("sk_live") && !format!("{e:?}").contains("sk_live"));
        }
        std::fs::write(cwd.path().join(".secrets"), b"ok=1\nk=\xff\n").unwrap();
        let e = sources(cwd.path(), &[]).get("ok").await.unwrap_err();
        assert!(e.to_string().contains("line 2: not UTF-8"), "{e}");
    }

    #[tokio::test]
    async fn secrets_file_from_env_var_relative_to_cwd() {
        let cwd = tempfile::tempdir().unwrap();
        std::fs::create_dir(cwd.path().join("conf")).unwrap();
        std::fs::write(cwd.path().join("conf/dev.env"), "k=from-dev\n").unwrap();
        std::fs::write(cwd.path().join(".secrets"), "k=from-default\n").unwrap();
        let s = sources(cwd.path(), &[("HUSH_SECRETS_FILE", "conf/dev.env")]);
        assert_eq!(get_str(&s, "k").await.unwrap(), "from-dev");
    }

    #[tokio::test]
    async fn secrets_file_parse_error_does_not_show_the_line() {
        let cwd = tempfile::tempdir().unwrap();
        std::fs::write(
            cwd.path().join(".secrets"),
            "ok=1\nbad=\"sk_live_unclosed\n",
        )
        .unwrap();
        let s = sources(cwd.path(), &[]);
        let e = s.get("bad").await.unwrap_err();
        assert!(matches!(e, Error::SecretsFile { line: 2, .. }), "{e:?}");
        assert!(!e.to_string().contains("sk_live"));
        assert!(!format!("{e:?}").contains("sk_live"));
    }

    #[tokio::test]
    async fn order_map_then_prefix_then_file() {
        let cwd = tempfile::tempdir().unwrap();
        std::fs::write(cwd.path().join(".secrets"), "k=from-file\nonly_file=f\n").unwrap();
        let map = r#"{"k": {"env": "K_VAR"}}"#;
        let with_map = sources(
            cwd.path(),
            &[
                ("HUSH_SECRETS_MAP", map),
                ("K_VAR", "from-map"),
                ("HUSH_SECRET_k", "from-prefix"),
            ],
        );
        assert_eq!(get_str(&with_map, "k").await.unwrap(), "from-map");

        let no_map = sources(cwd.path(), &[("HUSH_SECRET_k", "from-prefix")]);
        assert_eq!(get_str(&no_map, "k").await.unwrap(), "from-prefix");
        assert_eq!(get_str(&no_map, "only_file").await.unwrap(), "f");

        let file_only = sources(cwd.path(), &[]);
        assert_eq!(get_str(&file_only, "k").await.unwrap(), "from-file");
    }

    #[tokio::test]
    async fn inside_hush_run_only_the_map_counts() {
        let cwd = tempfile::tempdir().unwrap();
        std::fs::write(cwd.path().join(".secrets"), "undeclared=from-file\n").unwrap();
        let s = sources(
            cwd.path(),
            &[
                ("HUSH_SECRETS_MAP", "{}"),
                ("HUSH_SECRET_undeclared", "from-prefix"),
                ("HUSH_ADDR", "http://127.0.0.1:1"),
                ("HUSH_TOKEN", "t"),
            ],
        );
        let e = s.get("undeclared").await.unwrap_err();
        assert!(matches!(e, Error::NotDeclared { .. }), "{e:?}");
        assert!(e.to_string().contains("hush.toml"));
        assert!(matches!(
            s.file("undeclared").await,
            Err(Error::NotDeclared { .. })
        ));
    }

    #[tokio::test]
    async fn map_errors() {
        let cwd = tempfile::tempdir().unwrap();
        let s = sources(
            cwd.path(),
            &[("HUSH_SECRETS_MAP", r#"{"k": {"env": "NOT_SET"}}"#)],
        );
        let e = s.get("k").await.unwrap_err();
        assert!(
            matches!(&e, Error::Undelivered { var, .. } if var == "NOT_SET"),
            "{e:?}"
        );

        let s = sources(
            cwd.path(),
            &[("HUSH_SECRETS_MAP", r#"{"k": "sk_live_oops"}"#)],
        );
        let e = s.get("k").await.unwrap_err();
        assert!(matches!(e, Error::BadMap { .. }), "{e:?}");
        assert!(!e.to_string().contains("sk_live"));

        let s = sources(
            cwd.path(),
            &[("HUSH_SECRETS_MAP", r#"{"k": {"env": "A", "file": "B"}}"#)],
        );
        assert!(matches!(s.get("k").await, Err(Error::BadMap { .. })));
    }

    #[tokio::test]
    async fn map_file_delivery() {
        let cwd = tempfile::tempdir().unwrap();
        let delivered = cwd.path().join("delivered-key");
        std::fs::write(&delivered, b"{\"private_key\": \"...\"}\n").unwrap();
        let map = r#"{"gcp-key": {"file": "GCP_KEY_FILE"}}"#;
        let s = sources(
            cwd.path(),
            &[
                ("HUSH_SECRETS_MAP", map),
                ("GCP_KEY_FILE", delivered.to_str().unwrap()),
            ],
        );
        assert_eq!(s.file("gcp-key").await.unwrap(), delivered);
        assert_eq!(
            s.get("gcp-key").await.unwrap().expose_bytes(),
            b"{\"private_key\": \"...\"}\n"
        );
        // Nothing was written: the delivered file is the answer.
        assert!(s.lock().dir.is_none());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn file_of_an_env_value_is_private_and_exact() {
        let cwd = tempfile::tempdir().unwrap();
        let base = tempfile::tempdir().unwrap();
        let map = r#"{"gh.token": {"env": "GITHUB_TOKEN"}}"#;
        let s = sources(
            cwd.path(),
            &[
                ("HUSH_SECRETS_MAP", map),
                ("GITHUB_TOKEN", "ghp_line1\nline2"),
                ("HUSH_SECRETS_DIR", base.path().to_str().unwrap()),
            ],
        );
        let p = s.file("gh.token").await.unwrap();
        assert_eq!(p.file_name().unwrap(), "gh.token");
        let dir = p.parent().unwrap().to_path_buf();
        assert_eq!(dir.parent().unwrap(), base.path());
        assert_eq!(std::fs::read(&p).unwrap(), b"ghp_line1\nline2");
        assert_eq!(mode(&p), 0o600);
        assert_eq!(mode(&dir), 0o700);
        // Once per key.
        assert_eq!(s.file("gh.token").await.unwrap(), p);
        // cleanup removes the directory; a later call writes again.
        s.cleanup().unwrap();
        assert!(!dir.exists());
        let p2 = s.file("gh.token").await.unwrap();
        assert_eq!(std::fs::read(&p2).unwrap(), b"ghp_line1\nline2");
        let dir2 = p2.parent().unwrap().to_path_buf();
        // Drop removes it too.
        drop(s);
        assert!(!dir2.exists());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn file_default_location() {
        let cwd = tempfile::tempdir().unwrap();
        let s = sources(cwd.path(), &[("HUSH_SECRET_k", "v")]);
        let p = s.file("k").await.unwrap();
        let dir = p.parent().unwrap().to_path_buf();
        assert!(
            dir.starts_with("/dev/shm") || dir.starts_with(std::env::temp_dir()),
            "{dir:?}"
        );
        assert_eq!(std::fs::read(&p).unwrap(), b"v");
        assert_eq!(mode(&p), 0o600);
        assert_eq!(mode(&dir), 0o700);
        drop(s);
        assert!(!dir.exists());
    }

    #[tokio::test]
    async fn bad_keys_are_refused() {
        let cwd = tempfile::tempdir().unwrap();
        let s = sources(cwd.path(), &[("HUSH_SECRET_", "x")]);
        let long = "a".repeat(129);
        for key in [
            "",
            ".hidden",
            "-x",
            "a/b",
            "../etc",
            "..",
            "a b",
            "k=v",
            "ké",
            long.as_str(),
        ] {
            assert!(
                matches!(s.get(key).await, Err(Error::InvalidKey { .. })),
                "get {key:?}"
            );
            assert!(
                matches!(s.file(key).await, Err(Error::InvalidKey { .. })),
                "file {key:?}"
            );
        }
        for key in ["a", "A.b-c_9", "x.", "gcp-key"] {
            assert!(check_key(key).is_ok(), "{key:?}");
        }
    }

    #[tokio::test]
    async fn not_found_says_where_it_looked() {
        let cwd = tempfile::tempdir().unwrap();
        let s = sources(cwd.path(), &[]);
        let msg = s.get("githubtoken").await.unwrap_err().to_string();
        assert!(msg.contains("HUSH_SECRET_githubtoken"), "{msg}");
        assert!(
            msg.contains(&cwd.path().join(".secrets").display().to_string()),
            "{msg}"
        );
        assert!(msg.contains("HUSH_ADDR and HUSH_TOKEN are unset"), "{msg}");
        assert!(msg.contains("hush run"), "{msg}");

        let s = sources(cwd.path(), &[("HUSH_ADDR", "http://127.0.0.1:1")]);
        let msg = s.get("githubtoken").await.unwrap_err().to_string();
        assert!(msg.contains("HUSH_TOKEN is unset"), "{msg}");
    }

    #[tokio::test]
    async fn server_is_asked_when_configured() {
        // Port 1 refuses at once: the server source was tried and its failure is typed.
        let cwd = tempfile::tempdir().unwrap();
        let s = sources(
            cwd.path(),
            &[
                ("HUSH_ADDR", "http://127.0.0.1:1"),
                ("HUSH_TOKEN", "hush_t"),
            ],
        );
        let e = s.get("k").await.unwrap_err();
        assert!(
            matches!(
                &e,
                Error::Server {
                    source: crate::Error::Transport { .. },
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn secret_does_not_show_its_value() {
        let s = Secret(Zeroizing::new(b"sk_live_51ABC".to_vec()));
        let dbg = format!("{s:?} {:#?}", s);
        assert!(!dbg.contains("sk_live"), "{dbg}");
        assert!(dbg.contains("[redacted]"));
        assert_eq!(s.expose_bytes(), b"sk_live_51ABC");

        let srcs = sources(Path::new("/"), &[("HUSH_SECRET_k", "sk_live_51ABC")]);
        assert!(!format!("{srcs:?}").contains("sk_live"));
    }

    #[test]
    fn expose_str_refuses_non_utf8() {
        let s = Secret(Zeroizing::new(vec![0xff, 0xfe]));
        assert!(matches!(s.expose_str(), Err(Error::NotUtf8)));
        assert_eq!(s.expose_bytes(), [0xff, 0xfe]);
    }

    #[test]
    fn futures_are_send() {
        fn send<T: Send>(_: T) {}
        send(get("k"));
        send(file("k"));
        let s = sources(Path::new("/"), &[]);
        send(s.get("k"));
        send(s.file("k"));
    }
}

//! The offline fallback snapshot of [`crate::secrets::Sources`]' server source, as `hush run`
//! keeps one for a run.
//!
//! After each value a hush server gives, the snapshot keeps it in a file sealed by
//! [`hush_crypto::seal_fallback`] (AES-256-GCM under a key HKDF-SHA256 derives from the token,
//! a fresh random salt per write). When the server later cannot be reached, times out or
//! answers 5xx, the value is answered from the file, and that is said on stderr with its age.
//! An answer of 401, 403, 404 or 410 never falls back, and a 401 removes the token's snapshot.
//!
//! One file per server, app, environment and token in `$HUSH_HOME/state/fallback/sdk-rust/`
//! (directory 0700, file 0600, written to a temporary file then renamed); its name is SHA-256
//! of all of those, so it names none of them, and another token finds no file at all. The
//! Python and Node SDKs write the same format (each in a directory of its own).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize as _, Zeroizing};

/// Turns the fallback snapshot off when set to anything but empty, `0`, `false` or `no`.
pub const NO_FALLBACK_VAR: &str = "HUSH_NO_FALLBACK";
/// The oldest snapshot value to use (`90s`, `30m`, `24h`, `7d`, or seconds); default 24 h.
pub const FALLBACK_MAX_AGE_VAR: &str = "HUSH_FALLBACK_MAX_AGE";
/// The default bound on a snapshot value's age, in seconds.
pub const DEFAULT_MAX_AGE: i64 = 24 * 3600;

const NAME_LABEL: &[u8] = b"hush fallback name sdk v1";

#[derive(Serialize, Deserialize, Default)]
struct Content {
    addr: String,
    values: BTreeMap<String, Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    value_base64: String,
    expires_at: Option<i64>,
    resolved_at: i64,
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.value_base64.zeroize();
    }
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

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `90s`, `30m`, `24h`, `1d12h`, `2w` or whole seconds, as seconds.
pub(crate) fn parse_max_age(text: &str) -> Option<i64> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse().ok();
    }
    let (mut total, mut num, mut any) = (0i64, None::<i64>, false);
    for c in t.chars() {
        if let Some(d) = c.to_digit(10) {
            num = Some(
                num.unwrap_or(0)
                    .checked_mul(10)?
                    .checked_add(i64::from(d))?,
            );
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return None,
        };
        total = total.checked_add(num.take()?.checked_mul(unit)?)?;
        any = true;
    }
    (any && num.is_none()).then_some(total)
}

/// `2 h 5 min`, `3 s`, `1 d 4 h`: an age for people, as `hush run` says it.
pub(crate) fn age(secs: i64) -> String {
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

/// The server could not be reached, timed out or answered 5xx: never 401/403/404/410.
pub(crate) fn may_fall_back(e: &crate::Error) -> bool {
    match e {
        crate::Error::Transport { .. } | crate::Error::Unavailable(_) => true,
        crate::Error::Server { status, .. } => *status >= 500,
        _ => false,
    }
}

fn say(line: &str) {
    // A closed stderr is not an error of the workload's.
    let _ = writeln!(std::io::stderr(), "hush: {line}");
}

/// The snapshot of one server, app, environment and token.
pub(crate) struct Snapshot {
    addr: String,
    token: Zeroizing<Vec<u8>>,
    identity: Vec<u8>,
    pub path: PathBuf,
    max_age: i64,
}

impl Snapshot {
    /// `dir` is `$HUSH_HOME/state/fallback/sdk-rust`.
    pub fn new(
        dir: &Path,
        addr: &str,
        token: &[u8],
        app: Option<&str>,
        env: Option<&str>,
        max_age: i64,
    ) -> Self {
        let identity = fields(&[
            addr.as_bytes(),
            app.unwrap_or_default().as_bytes(),
            env.unwrap_or_default().as_bytes(),
        ]);
        let name = hush_crypto::sha256_hex(&fields(&[NAME_LABEL, &identity, token]));
        Snapshot {
            addr: addr.to_string(),
            token: Zeroizing::new(token.to_vec()),
            identity,
            path: dir.join(name),
            max_age,
        }
    }

    /// The content, `None` when there is no snapshot; why not when it does not open.
    fn load(&self) -> Result<Option<Content>, String> {
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
        let plain = hush_crypto::open_fallback(&self.token, &self.identity, &sealed)
            .map_err(|_| damaged())?;
        // EXPOSE: the snapshot's plaintext is parsed here.
        serde_json::from_slice(plain.expose_secret())
            .map(Some)
            .map_err(|_| damaged())
    }

    fn store(&self, content: &Content) -> std::io::Result<()> {
        if content.values.is_empty() {
            self.remove();
            return Ok(());
        }
        let plain = hush_crypto::SecretBytes::new(serde_json::to_vec(content)?);
        let sealed = hush_crypto::seal_fallback(&self.token, &self.identity, &plain)
            .map_err(std::io::Error::other)?;
        drop(plain);
        let dir = self
            .path
            .parent()
            .ok_or_else(|| std::io::Error::other("no directory"))?;
        private_dirs(dir)?;
        let mut tmp = tempfile::NamedTempFile::with_prefix_in(".tmp-", dir)?;
        // NamedTempFile makes the file 0600.
        tmp.write_all(&sealed)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }

    fn update(&self, key: &str, entry: Option<Entry>) -> std::io::Result<()> {
        // A damaged snapshot is replaced.
        let mut content = self.load().ok().flatten().unwrap_or_default();
        content.addr = self.addr.clone();
        match entry {
            Some(e) => {
                content.values.insert(key.to_string(), e);
            }
            None => {
                if content.values.remove(key).is_none() {
                    return Ok(());
                }
            }
        }
        self.store(&content)
    }

    /// Keeps a value the server gave. A failure only warns: the value is served anyway.
    pub fn keep(&self, key: &str, value: &[u8], expires_at: Option<i64>) {
        let entry = Entry {
            value_base64: base64::engine::general_purpose::STANDARD.encode(value),
            expires_at,
            resolved_at: now(),
        };
        if let Err(e) = self.update(key, Some(entry)) {
            say(&format!(
                "warning: cannot keep the fallback snapshot {}: {e}",
                self.path.display()
            ));
        }
    }

    /// The server refused `key` (missing, revoked, expired): it leaves the snapshot.
    pub fn forget(&self, key: &str) {
        if let Err(e) = self.update(key, None) {
            say(&format!(
                "warning: cannot update the fallback snapshot {}: {e}",
                self.path.display()
            ));
        }
    }

    /// The token is refused: its snapshot goes.
    pub fn remove(&self) {
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => say(&format!(
                "warning: cannot remove the fallback snapshot {}: {e}",
                self.path.display()
            )),
        }
    }

    /// After the server failed with `error` (one that may fall back): the snapshot's value of
    /// `key` (and the notice said on stderr), or why not (empty when there is simply none).
    pub fn answer(&self, key: &str, error: &crate::Error) -> Result<Zeroizing<Vec<u8>>, String> {
        let content = match self.load()? {
            Some(c) => c,
            None => return Err(String::new()),
        };
        let Some(entry) = content.values.get(key) else {
            return Err(String::new());
        };
        let now = now();
        if entry.expires_at.is_some_and(|at| at <= now) {
            return Err("its value in the fallback snapshot has expired since".into());
        }
        let secs = now - entry.resolved_at;
        if secs > self.max_age {
            return Err(format!(
                "the fallback snapshot is too old to use: it is from {} ago, and the fallback max age is {}",
                age(secs),
                age(self.max_age)
            ));
        }
        let value = base64::engine::general_purpose::STANDARD
            .decode(&entry.value_base64)
            .map(Zeroizing::new)
            .map_err(|_| {
                format!(
                    "the fallback snapshot {} does not open: delete it",
                    self.path.display()
                )
            })?;
        let cause = match error {
            crate::Error::Transport { message, .. } => format!("cannot be reached ({message})"),
            crate::Error::Unavailable(m) => format!("answered 503 ({m})"),
            crate::Error::Server { status, message } => format!("answered {status} ({message})"),
            e => format!("failed ({e})"),
        };
        say(&format!(
            "the server at {} {cause}; using the fallback snapshot of {key:?} from {} ago",
            self.addr,
            age(secs)
        ));
        Ok(value)
    }
}

/// Creates `dir` and makes it, `fallback/` and `state/` above it 0700.
fn private_dirs(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mut d = Some(dir);
        for _ in 0..3 {
            let Some(p) = d else { break };
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700))?;
            d = p.parent();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A snapshot the Python SDK sealed (the Node SDK's test opens it too): the three SDKs
    /// and `hush_crypto::open_fallback` agree on the format, the identity and the name.
    pub(crate) const PYTHON_VECTOR: &str = "7846d15a7a6108f5fc092f1b0d72ec8cae36bfc5e11583ae252f5d28ae05f313010000000069afc04726e8fc4b2085015c2836437801254fcd98f074c8571816158c1761b4d86d2bf760591f8107a97c2ddfd4d4d8c78bfae4880cf39286a4006d41f7d428c93c9038c26404abafd2b6c2eb4d7eb85bb0490bb823d3e3074f2b728b062130755224ff51b9e2ecadc45394ad62ffe2c6774146dc0016939cd91726fea1169de691c078753f6b1a0f3af50773876ed2f4e9a28ef775bc56";

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn opens_what_the_python_sdk_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let s = Snapshot::new(
            dir.path(),
            "http://127.0.0.1:9",
            b"hush_vector_token",
            Some("billing"),
            None,
            i64::MAX,
        );
        assert_eq!(
            s.path.file_name().unwrap().to_str().unwrap(),
            "62b7d3de0cf6ce7dcb73db1484a864188a75f58db4b3a28b311a177bf05e31de"
        );
        std::fs::write(&s.path, unhex(PYTHON_VECTOR)).unwrap();
        let e = crate::Error::Transport {
            addr: "http://127.0.0.1:9".into(),
            message: "connection refused".into(),
        };
        assert_eq!(&*s.answer("vk", &e).unwrap(), b"vector-value");
        // Another token: another file; the same file under another token does not open.
        let other = Snapshot::new(
            dir.path(),
            "http://127.0.0.1:9",
            b"hush_other_token",
            Some("billing"),
            None,
            i64::MAX,
        );
        assert_ne!(other.path, s.path);
        std::fs::write(&other.path, unhex(PYTHON_VECTOR)).unwrap();
        assert!(other
            .answer("vk", &e)
            .unwrap_err()
            .contains("does not open"));
    }

    #[test]
    fn ages_and_max_ages() {
        assert_eq!(age(7500), "2 h 5 min");
        assert_eq!(age(3), "3 s");
        assert_eq!(parse_max_age("24h"), Some(86_400));
        assert_eq!(parse_max_age("1d12h"), Some(129_600));
        assert_eq!(parse_max_age("90"), Some(90));
        for bad in ["", "24x", "h", "1h2", "-1h", "soon"] {
            assert_eq!(parse_max_age(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_transport_errors_and_5xx_fall_back() {
        let t = crate::Error::Transport {
            addr: "a".into(),
            message: "m".into(),
        };
        assert!(may_fall_back(&t));
        assert!(may_fall_back(&crate::Error::Unavailable("x".into())));
        assert!(may_fall_back(&crate::Error::Server {
            status: 500,
            message: "x".into()
        }));
        assert!(!may_fall_back(&crate::Error::Unauthorized("x".into())));
        assert!(!may_fall_back(&crate::Error::NotFound("x".into())));
        assert!(!may_fall_back(&crate::Error::Expired("x".into())));
        assert!(!may_fall_back(&crate::Error::RateLimited("x".into())));
    }
}

//! Delivery: each value as declared, in an environment variable or in a file of a private
//! directory, and `HUSH_SECRETS_MAP` saying which (and which key served it, when a fallback
//! did); the rest of the environment is hush's own
//! minus what the workload must not inherit.

use std::collections::HashSet;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
use std::path::PathBuf;

use anyhow::Result;
use hush_client::private_dir::{self, PrivateDir};
use hush_core::SecretBytes;
use hush_wire::Delivery;

use super::sources::{Got, Outcome};
use crate::fail::Failure;

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

/// What the command gets.
pub(super) struct Delivered {
    /// Its whole environment.
    pub env: Vec<(OsString, OsString)>,
    /// The files' directory: removed when dropped, so kept until the command has ended.
    pub dir: PrivateDir,
    /// The values to mask in its output, each once; `None` without masking.
    pub masked: Option<Vec<SecretBytes>>,
}

/// Delivers what `outcomes` got (each value moves on to the masker, or is cleared).
pub(super) fn deliver(outcomes: Vec<Outcome>, prefix: &str, mask: bool) -> Result<Delivered> {
    let dir = run_dir()?;
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| !withheld(&k.to_string_lossy(), prefix))
        .collect();
    let mut map = serde_json::Map::new();
    let mut masked = Vec::new();
    let mut masked_keys = HashSet::new();
    for o in outcomes {
        let Some(Got {
            key,
            value: Some(value),
            ..
        }) = o.got
        else {
            continue;
        };
        let d = o.decl;
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
            Delivery::File => write(&dir, &key, &value)?.into_os_string(),
        };
        env.retain(|(k, _)| k.as_bytes() != d.name.as_bytes());
        env.push((OsString::from(&d.name), delivered));
        if value.len() < hush_mask::MIN_LEN && mask {
            eprintln!(
                "hush: warning: {} is shorter than {} bytes and will not be masked in the output",
                d.name,
                hush_mask::MIN_LEN
            );
        }
        map.entry(d.key.clone()).or_insert_with(|| {
            let mut entry = serde_json::json!({ d.delivery.as_str(): d.name });
            // A fallback supplied it: which one.
            if key != d.key {
                entry["served_by"] = key.clone().into();
            }
            entry
        });
        // Each value once: the masker's work grows with what it is given (a key declared under
        // two names, as env and as file, is one value), and none at all without masking.
        if mask && masked_keys.insert(key) {
            masked.push(value);
        }
    }
    env.retain(|(k, _)| k != "HUSH_SECRETS_DIR" && k != "HUSH_SECRETS_MAP");
    env.push(("HUSH_SECRETS_DIR".into(), dir.path().into()));
    env.push((
        "HUSH_SECRETS_MAP".into(),
        serde_json::Value::Object(map).to_string().into(),
    ));
    Ok(Delivered {
        env,
        dir,
        masked: mask.then_some(masked),
    })
}

/// Writes a value delivered as a file; a key declared twice as a file is one file.
fn write(dir: &PrivateDir, key: &str, value: &SecretBytes) -> Result<PathBuf> {
    // EXPOSE: delivering the value to the workload as a file, as declared.
    match dir.write(key, value.expose_secret()) {
        Ok(path) => Ok(path),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(dir.path().join(key)),
        Err(e) => Err(e.into()),
    }
}

/// The run's private directory: on tmpfs where there is one (`/dev/shm`, then
/// `$XDG_RUNTIME_DIR`), else in the temporary directory; the directories dead runs left in
/// any of them are removed first.
fn run_dir() -> Result<PrivateDir> {
    let mut bases: Vec<PathBuf> = vec![PathBuf::from("/dev/shm")];
    if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR") {
        bases.push(PathBuf::from(x));
    }
    bases.push(std::env::temp_dir());
    bases.retain(|b| b.is_dir());
    bases.dedup();
    for base in &bases {
        private_dir::sweep(base);
    }
    let mut last = None;
    for base in bases {
        match PrivateDir::for_run(&base) {
            Ok(dir) => return Ok(dir),
            Err(e) => last = Some(e),
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

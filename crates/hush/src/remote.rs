//! Talking to a server: `HUSH_ADDR` + `HUSH_TOKEN`, or what `hush login` saved (a 0600 JSON
//! file at `$HUSH_CONFIG`, default `~/.config/hush/config.json`).

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::fail::Failure;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    addr: String,
    token: String,
}

impl Drop for Config {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.token);
    }
}

pub(crate) fn config_path() -> Option<PathBuf> {
    match std::env::var_os("HUSH_CONFIG").filter(|v| !v.is_empty()) {
        Some(p) => Some(PathBuf::from(p)),
        None => dirs::config_dir().map(|d| d.join("hush").join("config.json")),
    }
}

/// A client for `addr`, trusting the system's trust store and `--cacert` / `HUSH_CACERT`.
fn client(addr: &str, token: &str, scope: &crate::Scope) -> Result<hush_client::Client> {
    let usage = |e: hush_client::Error| match e {
        hush_client::Error::Invalid { .. } | hush_client::Error::CaCert { .. } => {
            anyhow::Error::from(Failure::usage(e.to_string()))
        }
        e => anyhow::Error::from(e),
    };
    let mut b = hush_client::Client::builder(addr, token);
    if let Some(ms) = std::env::var("HUSH_TIMEOUT_MS")
        .ok()
        .filter(|v| !v.is_empty())
    {
        let ms: u64 = ms.trim().parse().ok().filter(|ms| *ms > 0).ok_or_else(|| {
            Failure::usage(format!(
                "HUSH_TIMEOUT_MS is {ms:?}: give a number of milliseconds above 0 (default 30000)"
            ))
        })?;
        b = b.timeout(std::time::Duration::from_millis(ms));
    }
    if let Some(ca) = &scope.cacert {
        b = b.add_ca_file(ca).map_err(usage)?;
    }
    b.build().map_err(usage)
}

/// The server to talk to, if one is configured.
pub fn configured(scope: &crate::Scope) -> Result<Option<hush_client::Client>> {
    match credentials()? {
        Some((addr, token)) => Ok(Some(client(&addr, &token, scope)?)),
        None => Ok(None),
    }
}

/// The server's address (without a trailing `/`) and the token, if a server is configured:
/// HUSH_ADDR and HUSH_TOKEN, else what `hush login` saved (HUSH_TOKEN still wins).
pub fn credentials() -> Result<Option<(String, Zeroizing<String>)>> {
    let addr = std::env::var("HUSH_ADDR").ok().filter(|v| !v.is_empty());
    let token = std::env::var("HUSH_TOKEN")
        .ok()
        .filter(|v| !v.is_empty())
        .map(Zeroizing::new);
    if let Some(addr) = addr {
        let token = token.ok_or_else(|| {
            Failure::usage(
                "HUSH_ADDR is set but HUSH_TOKEN is not: set both, or run `hush login ADDR`",
            )
        })?;
        return Ok(Some((addr.trim_end_matches('/').to_string(), token)));
    }
    let Some(path) = config_path() else {
        return Ok(None);
    };
    let text = match std::fs::read(&path) {
        Ok(t) => Zeroizing::new(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let cfg: Config = serde_json::from_slice(&text).map_err(|e| {
        Failure::new(
            1,
            format!(
                "{} is damaged ({e}): run `hush login ADDR` again or delete it",
                path.display()
            ),
        )
    })?;
    let token = token.unwrap_or_else(|| Zeroizing::new(cfg.token.clone()));
    Ok(Some((cfg.addr.trim_end_matches('/').to_string(), token)))
}

/// `hush logout`: removes what `hush login` saved. Not logged in is not an error.
pub fn logout() -> Result<()> {
    let Some(path) = config_path() else {
        eprintln!("not logged in");
        return Ok(());
    };
    match std::fs::remove_file(&path) {
        Ok(()) => eprintln!("logged out: removed {}", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => eprintln!("not logged in"),
        Err(e) => return Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
    if std::env::var_os("HUSH_ADDR").is_some() || std::env::var_os("HUSH_TOKEN").is_some() {
        eprintln!("note: HUSH_ADDR / HUSH_TOKEN are still set in this shell and still used");
    }
    Ok(())
}

/// `hush login ADDR`: checks the token against the server, then saves both (0600).
pub async fn login(addr: &str, scope: &crate::Scope) -> Result<()> {
    let token = match std::env::var("HUSH_TOKEN").ok().filter(|v| !v.is_empty()) {
        Some(t) => Zeroizing::new(t),
        None => {
            use std::io::IsTerminal as _;
            if std::io::stdin().is_terminal() {
                Zeroizing::new(
                    rpassword::prompt_password("Token (input hidden): ")
                        .context("cannot read the token")?,
                )
            } else {
                let mut s = String::new();
                std::io::stdin()
                    .read_line(&mut s)
                    .context("cannot read the token from standard input")?;
                Zeroizing::new(s.trim().to_string())
            }
        }
    };
    client(addr, &token, scope)?
        .list(&hush_client::ListQuery {
            prefix: Some("~~".into()),
            ..Default::default()
        })
        .await?;
    let path = config_path()
        .ok_or_else(|| Failure::usage("cannot tell where to keep the login: set HUSH_CONFIG"))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let cfg = Config {
        addr: addr.trim_end_matches('/').to_string(),
        token: token.to_string(),
    };
    let body = Zeroizing::new(serde_json::to_vec_pretty(&cfg)?);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        // An older file may have looser permissions: tighten them before writing the token.
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(&body)?;
    f.sync_all()?;
    eprintln!("logged in to {}; saved to {}", cfg.addr, path.display());
    Ok(())
}

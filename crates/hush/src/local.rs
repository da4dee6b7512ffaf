//! The embedded store on this machine: where it lives, which key source opens it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result};
use hush_core::{EnvKeySource, Hush, KeyFileSource, KeySource, PassphraseSource};
use hush_store_sqlite::SqliteStore;
use zeroize::Zeroizing;

use crate::fail::Failure;

/// Paths of the embedded store.
pub struct Home {
    pub dir: PathBuf,
    pub db: PathBuf,
    pub key_file: PathBuf,
}

impl Home {
    pub fn locate() -> Result<Self> {
        let dir = match std::env::var_os("HUSH_HOME").filter(|v| !v.is_empty()) {
            Some(d) => PathBuf::from(d),
            None => dirs::data_dir().map(|d| d.join("hush")).ok_or_else(|| {
                Failure::usage("cannot tell where to keep the store: set HUSH_HOME")
            })?,
        };
        let key_file = match std::env::var_os("HUSH_KEY_FILE").filter(|v| !v.is_empty()) {
            Some(f) => PathBuf::from(f),
            None => dir.join("root.key"),
        };
        Ok(Home {
            db: dir.join("hush.db"),
            key_file,
            dir,
        })
    }
}

fn env_secret(name: &str) -> Option<Zeroizing<String>> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .map(Zeroizing::new)
}

/// Which source to use: HUSH_ROOT_KEY, else HUSH_PASSPHRASE, else the key file.
enum SourceChoice {
    Env,
    Passphrase,
    File,
}

fn choose() -> Result<SourceChoice> {
    match (
        env_secret("HUSH_ROOT_KEY").is_some(),
        env_secret("HUSH_PASSPHRASE").is_some(),
    ) {
        (true, true) => Err(Failure::usage(
            "both HUSH_ROOT_KEY and HUSH_PASSPHRASE are set: set only the one this store uses",
        )
        .into()),
        (true, false) => Ok(SourceChoice::Env),
        (false, true) => Ok(SourceChoice::Passphrase),
        (false, false) => Ok(SourceChoice::File),
    }
}

/// The key source for an existing store (with the next key material for rotation, if given).
fn existing_source(
    home: &Home,
    generated_next: Option<&Zeroizing<String>>,
) -> Result<Box<dyn KeySource>> {
    Ok(match choose()? {
        SourceChoice::Env => {
            let key = env_secret("HUSH_ROOT_KEY").unwrap_or_default();
            let next = env_secret("HUSH_NEW_ROOT_KEY").or_else(|| generated_next.cloned());
            Box::new(EnvKeySource::new(
                &key,
                next.as_deref().map(|s| s.as_str()),
            )?)
        }
        SourceChoice::Passphrase => Box::new(PassphraseSource::new(
            env_secret("HUSH_PASSPHRASE").unwrap_or_default(),
            env_secret("HUSH_NEW_PASSPHRASE"),
        )),
        SourceChoice::File => Box::new(KeyFileSource::open(&home.key_file)?),
    })
}

/// Opens the initialised embedded store.
pub async fn open() -> Result<(Hush, Home)> {
    let (hush, home, _) = open_with(false).await?;
    Ok((hush, home))
}

/// Opens the store for `hush keys rotate`. With HUSH_ROOT_KEY and no HUSH_NEW_ROOT_KEY, the
/// next root key is generated here and returned, for the caller to show once.
pub async fn open_for_rotation() -> Result<(Hush, Home, Option<Zeroizing<String>>)> {
    open_with(true).await
}

async fn open_with(rotation: bool) -> Result<(Hush, Home, Option<Zeroizing<String>>)> {
    let home = Home::locate()?;
    if !home.db.exists() {
        return Err(Failure::new(
            1,
            format!("no hush store at {}: run `hush init` first (or point HUSH_HOME at an existing store)", home.dir.display()),
        )
        .into());
    }
    let store = SqliteStore::open(&home.db)
        .with_context(|| format!("cannot open {}", home.db.display()))?;
    let generated = if rotation
        && matches!(choose()?, SourceChoice::Env)
        && env_secret("HUSH_NEW_ROOT_KEY").is_none()
    {
        Some(hush_crypto::Key::generate()?.to_base64())
    } else {
        None
    };
    let source = existing_source(&home, generated.as_ref())?;
    let hush = Hush::open(Arc::new(store), source).await?;
    Ok((hush, home, generated))
}

fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

/// `hush init`: a new store and root key. Refuses to touch an existing one.
pub async fn init() -> Result<(Hush, Home, String)> {
    let home = Home::locate()?;
    let choice = choose()?;
    if home.db.exists() {
        return Err(Failure::new(
            4,
            format!(
                "a hush store already exists at {}; nothing was changed",
                home.db.display()
            ),
        )
        .into());
    }
    if matches!(choice, SourceChoice::File) && home.key_file.exists() {
        return Err(Failure::new(
            4,
            format!("a root key file already exists at {}; nothing was changed (move it away to start a new store)", home.key_file.display()),
        )
        .into());
    }
    create_private_dir(&home.dir)?;
    let (source, described): (Box<dyn KeySource>, String) = match choice {
        SourceChoice::Env => {
            let key = env_secret("HUSH_ROOT_KEY").unwrap_or_default();
            (
                Box::new(EnvKeySource::new(&key, None)?),
                "HUSH_ROOT_KEY".into(),
            )
        }
        SourceChoice::Passphrase => (
            Box::new(PassphraseSource::new(
                env_secret("HUSH_PASSPHRASE").unwrap_or_default(),
                None,
            )),
            "HUSH_PASSPHRASE (Argon2id)".into(),
        ),
        SourceChoice::File => {
            if let Some(parent) = home.key_file.parent() {
                create_private_dir(parent)?;
            }
            (
                Box::new(KeyFileSource::new_file(&home.key_file)),
                format!("the key file {}", home.key_file.display()),
            )
        }
    };
    let store = SqliteStore::open(&home.db)
        .with_context(|| format!("cannot create {}", home.db.display()))?;
    match Hush::initialize(Arc::new(store), source).await {
        Ok(h) => Ok((h, home, described)),
        Err(e) => {
            // Leave nothing half-made behind.
            let _ = std::fs::remove_file(&home.db);
            let _ = std::fs::remove_file(home.db.with_extension("db-wal"));
            let _ = std::fs::remove_file(home.db.with_extension("db-shm"));
            Err(e.into())
        }
    }
}

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
fn existing_source(home: &Home) -> Result<Box<dyn KeySource>> {
    Ok(match choose()? {
        SourceChoice::Env => {
            let key = env_secret("HUSH_ROOT_KEY").unwrap_or_default();
            let next = env_secret("HUSH_NEW_ROOT_KEY");
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
    open_store().await
}

/// For `hush server`: opens the store (at `db` when given), initialising it first when it does
/// not exist. Returns whether it was initialised now.
pub async fn open_or_init(db: Option<&Path>) -> Result<(Hush, bool)> {
    let mut home = Home::locate()?;
    if let Some(db) = db {
        home.db = db.to_path_buf();
    }
    if !home.db.exists() {
        let (hush, _home, _source) = init_at(home).await?;
        return Ok((hush, true));
    }
    let store = SqliteStore::open(&home.db)
        .with_context(|| format!("cannot open {}", home.db.display()))?;
    let source = existing_source(&home)?;
    Ok((Hush::open(Arc::new(store), source).await?, false))
}

/// An exclusive lock on the store's home, held by `init` and `keys rotate` so that two of them
/// never interleave their key file and store updates. Released when dropped.
pub struct HomeLock(#[allow(dead_code)] std::fs::File);

fn lock_home(home: &Home) -> Result<HomeLock> {
    let path = home.dir.join(".hush.lock");
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let f = opts
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    f.lock()
        .with_context(|| format!("cannot lock {}", path.display()))?;
    Ok(HomeLock(f))
}

/// Opens the store for `hush keys rotate`, holding the home lock.
pub async fn open_for_rotation() -> Result<(Hush, Home, HomeLock)> {
    let home = Home::locate()?;
    if !home.db.exists() {
        return Err(not_initialized(&home));
    }
    if matches!(choose()?, SourceChoice::Env) && env_secret("HUSH_NEW_ROOT_KEY").is_none() {
        return Err(hush_core::KeySourceError::NextKeyNeeded.into());
    }
    let guard = lock_home(&home)?;
    let (hush, home) = open().await?;
    Ok((hush, home, guard))
}

fn not_initialized(home: &Home) -> anyhow::Error {
    Failure::new(
        1,
        format!(
            "no hush store at {}: run `hush init` first (or point HUSH_HOME at an existing store)",
            home.dir.display()
        ),
    )
    .into()
}

async fn open_store() -> Result<(Hush, Home)> {
    let home = Home::locate()?;
    if !home.db.exists() {
        return Err(not_initialized(&home));
    }
    let store = SqliteStore::open(&home.db)
        .with_context(|| format!("cannot open {}", home.db.display()))?;
    let source = existing_source(&home)?;
    let hush = Hush::open(Arc::new(store), source).await?;
    Ok((hush, home))
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
    init_at(Home::locate()?).await
}

async fn init_at(home: Home) -> Result<(Hush, Home, String)> {
    let choice = choose()?;
    create_private_dir(&home.dir)?;
    let _guard = lock_home(&home)?;
    if home.db.exists() {
        let initialised = match SqliteStore::open(&home.db) {
            Ok(store) => !hush_core::Store::root_keys(&store)
                .await
                .map(|r| r.is_empty())
                .unwrap_or(false),
            Err(_) => true,
        };
        if initialised {
            return Err(Failure::new(
                4,
                format!(
                    "a hush store already exists at {}; nothing was changed",
                    home.db.display()
                ),
            )
            .into());
        }
        // A database without root keys is what an interrupted `init` leaves: start over.
        remove_db_files(&home.db);
    }
    if matches!(choice, SourceChoice::File) && home.key_file.exists() {
        return Err(Failure::new(
            4,
            format!(
                "a root key file already exists at {} but there is no store beside it (another store's key, or an interrupted `hush init`): \
                 move the key file away to start a new store; nothing was changed",
                home.key_file.display()
            ),
        )
        .into());
    }
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
            // Leave nothing half-made behind (the key file did not exist before: checked above).
            remove_db_files(&home.db);
            if matches!(choose(), Ok(SourceChoice::File)) {
                let _ = std::fs::remove_file(&home.key_file);
            }
            Err(e.into())
        }
    }
}

fn remove_db_files(db: &Path) {
    let _ = std::fs::remove_file(db);
    let _ = std::fs::remove_file(db.with_extension("db-wal"));
    let _ = std::fs::remove_file(db.with_extension("db-shm"));
}

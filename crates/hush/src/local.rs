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

/// Where the store is: the embedded SQLite file, or a PostgreSQL database shared by several
/// nodes (`--db postgres://…` / `HUSH_DB`).
pub enum Location {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Location {
    /// The store `db` names (a path or a `postgres://` URL), else the embedded one in `home`.
    pub fn new(db: Option<&str>, home: &Home) -> Location {
        match db.filter(|d| !d.is_empty()) {
            Some(url) if is_postgres_url(url) => Location::Postgres(url.to_string()),
            Some(path) => Location::Sqlite(PathBuf::from(path)),
            None => Location::Sqlite(home.db.clone()),
        }
    }

    /// For messages: the file, or the database without its password.
    pub fn describe(&self) -> String {
        match self {
            Location::Sqlite(p) => p.display().to_string(),
            Location::Postgres(url) => hush_store_postgres::redact_url(url),
        }
    }

    /// Whether there may be a store there (a SQLite file that exists; any database).
    fn may_exist(&self) -> bool {
        match self {
            Location::Sqlite(p) => p.exists(),
            Location::Postgres(_) => true,
        }
    }

    /// The store, if one has been initialised there (a SQLite file is trusted to be one; a
    /// database must hold a root key). Creates nothing but PostgreSQL's schema.
    async fn initialised(&self) -> Result<Option<Arc<dyn hush_core::Store>>> {
        if !self.may_exist() {
            return Ok(None);
        }
        let store = self.connect().await?;
        if matches!(self, Location::Postgres(_)) && store.root_keys().await?.is_empty() {
            return Ok(None);
        }
        Ok(Some(store))
    }

    /// Connects (and, for PostgreSQL, applies pending migrations).
    async fn connect(&self) -> Result<Arc<dyn hush_core::Store>> {
        Ok(match self {
            Location::Sqlite(p) => Arc::new(
                SqliteStore::open(p).with_context(|| format!("cannot open {}", p.display()))?,
            ),
            Location::Postgres(url) => Arc::new(
                hush_store_postgres::PostgresStore::connect(url)
                    .await
                    .with_context(|| format!("cannot open the store at {}", self.describe()))?,
            ),
        })
    }
}

/// Whether `db` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// Whether the store `db` names (a file or a PostgreSQL database) has been initialised.
pub async fn store_initialised(db: &str) -> Result<bool> {
    let home = Home::locate()?;
    Ok(Location::new(Some(db), &home)
        .initialised()
        .await?
        .is_some())
}

/// Opens the initialised store: the embedded one, or the one `db` names.
pub async fn open(db: Option<&str>) -> Result<(Hush, Home)> {
    let home = Home::locate()?;
    let location = Location::new(db, &home);
    let Some(store) = location.initialised().await? else {
        return Err(not_initialized(&home, &location));
    };
    let source = existing_source(&home)?;
    Ok((Hush::open(store, source).await?, home))
}

/// For `hush server`: opens the store (the one `db` names when given), initialising it first
/// when it does not exist. Returns whether it was initialised now.
pub async fn open_or_init(db: Option<&str>) -> Result<(Hush, bool)> {
    let home = Home::locate()?;
    let location = Location::new(db, &home);
    if location.initialised().await?.is_none() {
        match init_at(home, location).await {
            Ok((hush, _home, _source)) => return Ok((hush, true)),
            // Another node initialised the shared database first: open it like any node.
            Err(e) if is_already_initialized(&e) && db.is_some_and(is_postgres_url) => {}
            Err(e) => return Err(e),
        }
    }
    let (hush, _home) = open(db).await?;
    Ok((hush, false))
}

fn is_already_initialized(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<hush_core::Error>(),
            Some(hush_core::Error::AlreadyInitialized)
        )
    })
}

/// An exclusive lock on the store's home, held by `init` and `keys rotate` so that two of them
/// never interleave their key file and store updates. Released when dropped.
pub struct HomeLock(#[allow(dead_code)] Option<std::fs::File>);

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
    Ok(HomeLock(Some(f)))
}

/// The home lock where there is something in the home to protect: the embedded store, or the
/// key file. A PostgreSQL store opened by passphrase or root key needs no home at all (the
/// database serialises its own writers).
fn lock_home_if_used(home: &Home, location: &Location, choice: &SourceChoice) -> Result<HomeLock> {
    if matches!(location, Location::Postgres(_)) && !matches!(choice, SourceChoice::File) {
        return Ok(HomeLock(None));
    }
    create_private_dir(&home.dir)?;
    lock_home(home)
}

/// Opens the store for `hush keys rotate`, holding the home lock.
pub async fn open_for_rotation(db: Option<&str>) -> Result<(Hush, Home, HomeLock)> {
    let home = Home::locate()?;
    let location = Location::new(db, &home);
    if location.initialised().await?.is_none() {
        return Err(not_initialized(&home, &location));
    }
    let choice = choose()?;
    if matches!(choice, SourceChoice::Env) && env_secret("HUSH_NEW_ROOT_KEY").is_none() {
        return Err(hush_core::KeySourceError::NextKeyNeeded.into());
    }
    let guard = lock_home_if_used(&home, &location, &choice)?;
    let (hush, home) = open(db).await?;
    Ok((hush, home, guard))
}

fn not_initialized(home: &Home, location: &Location) -> anyhow::Error {
    let message = match location {
        Location::Postgres(_) => format!(
            "no hush store in {}: run `hush init --db URL` first",
            location.describe()
        ),
        Location::Sqlite(p) if *p != home.db => format!(
            "no hush store at {}: run `hush init` first (or point --db / HUSH_DB at an existing store)",
            p.display()
        ),
        Location::Sqlite(_) => format!(
            "no hush store at {}: run `hush init` first (or point HUSH_HOME at an existing store)",
            home.dir.display()
        ),
    };
    Failure::new(1, message).into()
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

/// `hush init`: a new store and root key (the embedded store, or the one `db` names).
/// Refuses to touch an existing one.
pub async fn init(db: Option<&str>) -> Result<(Hush, Home, String)> {
    let home = Home::locate()?;
    let location = Location::new(db, &home);
    init_at(home, location).await
}

async fn init_at(home: Home, location: Location) -> Result<(Hush, Home, String)> {
    let choice = choose()?;
    let _guard = lock_home_if_used(&home, &location, &choice)?;
    let exists = || {
        Failure::new(
            4,
            format!(
                "a hush store already exists at {}; nothing was changed",
                location.describe()
            ),
        )
    };
    let store = match &location {
        Location::Sqlite(db) => {
            if db.exists() {
                let initialised = match SqliteStore::open(db) {
                    Ok(store) => !hush_core::Store::root_keys(&store)
                        .await
                        .map(|r| r.is_empty())
                        .unwrap_or(false),
                    Err(_) => true,
                };
                if initialised {
                    return Err(exists().into());
                }
                // A database without root keys is what an interrupted `init` leaves: start over.
                remove_db_files(db);
            }
            None
        }
        Location::Postgres(_) => {
            let store = location.connect().await?;
            if !store.root_keys().await?.is_empty() {
                return Err(exists().into());
            }
            Some(store)
        }
    };
    if matches!(choice, SourceChoice::File) && home.key_file.exists() {
        return Err(Failure::new(
            4,
            format!(
                "a root key file already exists at {} but the store at {} has no keys (another store's key, or an interrupted `hush init`): \
                 move the key file away to start a new store; nothing was changed",
                home.key_file.display(),
                location.describe()
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
    let store = match store {
        Some(s) => s,
        None => location.connect().await?,
    };
    match Hush::initialize(store, source).await {
        Ok(h) => Ok((h, home, described)),
        Err(e) => {
            // Leave nothing half-made behind (the key file did not exist before: checked above).
            if let Location::Sqlite(db) = &location {
                remove_db_files(db);
            }
            if matches!(choose(), Ok(SourceChoice::File)) {
                let _ = std::fs::remove_file(&home.key_file);
            }
            match e {
                hush_core::Error::AlreadyInitialized => {
                    Err(anyhow::Error::new(e).context(exists()))
                }
                e => Err(e.into()),
            }
        }
    }
}

fn remove_db_files(db: &Path) {
    let _ = std::fs::remove_file(db);
    let _ = std::fs::remove_file(db.with_extension("db-wal"));
    let _ = std::fs::remove_file(db.with_extension("db-shm"));
}

//! `hush migrate --to TARGET`: copies the store `--db` / `HUSH_DB` names (else the embedded
//! one) into an empty store on another backend, or the same one: a SQLite file to a PostgreSQL
//! database and back.
//!
//! Every row is copied as it is stored ([`hush_core::Store::dump`], then
//! [`hush_core::Store::load`]): values stay sealed and keys wrapped, so no key is needed and
//! the copy opens with the same root key; audit rows keep their sequence numbers and MACs, so
//! `hush audit verify` passes on the copy with the same head. The source is only read, in one
//! snapshot. The target is written in one transaction, only if it holds no row: a refused or
//! interrupted migrate leaves it empty. The whole store is held in memory meanwhile.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result};
use hush_core::store::{Dump, StoreError};
use hush_core::Store;
use hush_store_postgres::PostgresStore;
use hush_store_sqlite::SqliteStore;

use crate::fail::{Failure, CONFLICT, NOT_FOUND};
use crate::local::{is_postgres_url, Home, Location};

/// Where `--to` points; refuses what is neither a PostgreSQL URL nor a file path.
fn target(to: &str) -> Result<Location> {
    if to.is_empty() {
        return Err(Failure::usage(
            "--to is empty: give a postgres://user@host:5432/db URL or a SQLite file path",
        )
        .into());
    }
    if is_postgres_url(to) {
        return Ok(Location::Postgres(to.to_string()));
    }
    if let Some((scheme, _)) = to.split_once("://") {
        return Err(Failure::usage(format!(
            "--to {scheme}://… is neither a PostgreSQL URL (postgres://user@host:5432/db) nor a \
             SQLite file path"
        ))
        .into());
    }
    Ok(Location::Sqlite(PathBuf::from(to)))
}

/// Whether the two name the same store (the same file, or the same URL).
fn same(a: &Location, b: &Location) -> bool {
    match (a, b) {
        (Location::Sqlite(a), Location::Sqlite(b)) => match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => a == b,
        },
        (Location::Postgres(a), Location::Postgres(b)) => a == b,
        _ => false,
    }
}

/// The initialised store to copy from; creates nothing.
async fn open_source(at: &Location) -> Result<Arc<dyn Store>> {
    let missing = || {
        Failure::new(
            NOT_FOUND,
            format!(
                "no hush store at {}: nothing to migrate (point --db / HUSH_DB at the store to copy)",
                at.describe()
            ),
        )
    };
    let store: Arc<dyn Store> = match at {
        Location::Sqlite(p) => {
            if !p.is_file() {
                return Err(missing().into());
            }
            Arc::new(SqliteStore::open(p).with_context(|| format!("cannot open {}", p.display()))?)
        }
        Location::Postgres(url) => Arc::new(
            PostgresStore::connect(url)
                .await
                .with_context(|| format!("cannot open the store at {}", at.describe()))?,
        ),
    };
    if store.root_keys().await?.is_empty() {
        return Err(missing().into());
    }
    Ok(store)
}

/// The store to copy into, its schema made (a new SQLite file is created, mode 0600); with
/// the file it created, if any, to remove again when nothing could be copied.
async fn open_target(at: &Location) -> Result<(Arc<dyn Store>, Option<PathBuf>)> {
    Ok(match at {
        Location::Sqlite(p) => {
            let created = (!p.exists()).then(|| p.clone());
            let store = SqliteStore::open(p).map_err(|e| {
                if let Some(p) = &created {
                    remove_sqlite_files(p);
                }
                anyhow::Error::new(e)
                    .context(format!("cannot open the target store at {}", p.display()))
            })?;
            (Arc::new(store), created)
        }
        Location::Postgres(url) => {
            (
                Arc::new(PostgresStore::connect(url).await.with_context(|| {
                    format!("cannot open the target store at {}", at.describe())
                })?),
                None,
            )
        }
    })
}

fn remove_sqlite_files(p: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = p.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

/// `hush migrate --to TARGET`.
pub async fn run(db: Option<&str>, to: &str) -> Result<()> {
    let home = Home::locate()?;
    let from_at = Location::new(db, &home);
    let to_at = target(to)?;
    if same(&from_at, &to_at) {
        return Err(Failure::usage(format!(
            "--to names the store being migrated ({}): give an empty store to copy into",
            to_at.describe()
        ))
        .into());
    }
    let from = open_source(&from_at).await?;
    let dump = from
        .dump()
        .await
        .with_context(|| format!("cannot read the store at {}", from_at.describe()))?;
    let (to_store, created) = open_target(&to_at).await?;
    if let Err(e) = to_store.load(&dump).await {
        drop(to_store);
        if let Some(p) = &created {
            remove_sqlite_files(p);
        }
        return Err(match e {
            StoreError::NotEmpty(held) => Failure::new(
                CONFLICT,
                format!(
                    "the target store at {} is not empty (it holds {held}): migrate copies only \
                     into an empty store (a new file, or a new database); nothing was written",
                    to_at.describe()
                ),
            )
            .into(),
            e => anyhow::Error::new(e).context(format!(
                "cannot copy into {}; nothing was written",
                to_at.describe()
            )),
        });
    }
    // Read the copy back: it must be the source row for row.
    let copy = to_store.dump().await?;
    if copy != dump {
        anyhow::bail!(
            "the copy at {} differs from the source after loading; do not use it (empty the \
             target before trying again)",
            to_at.describe()
        );
    }
    say(&from_at, &to_at, &dump);
    Ok(())
}

/// The summary: rows per table and the audit head, to check the copy with.
fn say(from: &Location, to: &Location, dump: &Dump) {
    eprintln!("migrated {} to {}", from.describe(), to.describe());
    for (table, n) in dump.counts() {
        eprintln!("  {table:<14} {n:>8}");
    }
    match dump.audit.last() {
        Some(head) => eprintln!(
            "audit head {}:{} (`hush --db <target> audit verify --head {}:{}` checks the copy)",
            head.seq, head.mac, head.seq, head.mac
        ),
        None => eprintln!("the audit log is empty"),
    }
    eprintln!(
        "the copy opens with the same root key: point --db / HUSH_DB at {} to use it",
        to.describe()
    );
}

//! The `hush` binary: the CLI over the embedded store.
//!
//! It owns the command line, the server's sockets, process hygiene and `hush run` (planning,
//! sources, delivery, supervision). It must never put a value in an argument, a log line, an
//! error message or a child's environment it was not asked for, and it leaves every decision
//! about who may read what to hush-core.
// One `unsafe` block, in `hygiene::tie_to_hush` (a `pre_exec` hook); everything else is safe.
#![deny(unsafe_code)]

mod apps;
mod backend;
mod cli;
mod events;
mod fail;
mod hygiene;
mod local;
mod manifest;
mod migrate;
mod output;
mod remote;
mod secrets;
mod server;
mod tls;
mod tokens;
mod value;
mod webhooks;
mod workload;

use std::io::Write as _;

use anyhow::Result;

use crate::cli::{Cli, Command, KeysCommand};

fn main() {
    // Before anything is read: no process that may hold a key, token or value dumps core. Done
    // for every command (`--help` holds nothing, but the rule is simpler without exceptions).
    // Failing closed: hush does not run with its memory open to a dump.
    if let Err(e) = hygiene::no_core_dumps() {
        eprintln!("hush: cannot turn off core dumps: {e}");
        std::process::exit(fail::OTHER);
    }
    let cli = Cli::parse_args();
    // `hush run` keeps the hard core limit, to give its command back the limit it had.
    if !matches!(cli.command, Command::Run(_)) {
        if let Err(e) = hygiene::no_core_dumps_ever() {
            eprintln!("hush: cannot turn off core dumps: {e}");
            std::process::exit(fail::OTHER);
        }
    }
    let rt = if matches!(cli.command, Command::Server(_)) {
        init_logging();
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    } else {
        // On the main thread: `hush run`'s command gets its parent-death signal when the thread
        // that spawned it ends (workload::supervise).
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hush: cannot start: {e}");
            std::process::exit(fail::OTHER);
        }
    };
    let code = match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            // Messages never hold a value: hush-core's errors carry keys and versions only.
            let _ = writeln!(std::io::stderr(), "hush: {e:#}{}", fail::hint(&e));
            fail::exit_code(&e)
        }
    };
    std::process::exit(code);
}

/// Where a command acts: the workspace, and the store named by `--db` / `HUSH_DB` if any.
pub(crate) struct Scope {
    pub workspace: String,
    pub db: Option<String>,
    /// `--cacert` / `HUSH_CACERT`: CA certificates to trust for a server.
    pub cacert: Option<std::path::PathBuf>,
}

/// Server logs go to stderr; `HUSH_LOG` (or `RUST_LOG`) sets the filter, default `info`;
/// `HUSH_LOG_FORMAT=json` writes one JSON object per line.
fn init_logging() {
    let filter = std::env::var("HUSH_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let _ = if std::env::var("HUSH_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

async fn run(cli: Cli) -> Result<i32> {
    let scope = Scope {
        workspace: cli.workspace,
        db: cli.db.filter(|d| !d.is_empty()),
        cacert: cli.cacert.filter(|c| !c.as_os_str().is_empty()),
    };
    match cli.command {
        Command::Run(args) => return workload::run(args, &scope).await,
        Command::Check(args) => return workload::check(args, &scope).await,
        Command::Apps(cmd) => apps::run(&*backend::open(&scope).await?, cmd).await?,
        cmd => run_other(cmd, &scope).await?,
    }
    Ok(fail::OK)
}

/// Writes generated text to stdout; a reader that stopped early (`| head`) is not an error.
fn print_quietly(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// `hush man`: the root page on stdout, or every page into `dir`.
fn man(dir: Option<&std::path::Path>) -> Result<()> {
    let cmd = <Cli as clap::CommandFactory>::command();
    let Some(dir) = dir else {
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut page)?;
        return print_quietly(&page);
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    fn write_pages(cmd: clap::Command, name: &str, dir: &std::path::Path) -> Result<usize> {
        let mut n = 0;
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            n += write_pages(sub.clone(), &format!("{name}-{}", sub.get_name()), dir)?;
        }
        let path = dir.join(format!("{name}.1"));
        let mut out = Vec::new();
        clap_mangen::Man::new(cmd)
            .title(name.to_string())
            .render(&mut out)?;
        std::fs::write(&path, out)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        Ok(n + 1)
    }
    let n = write_pages(cmd, "hush", dir)?;
    eprintln!("wrote {n} manual pages to {}", dir.display());
    Ok(())
}

async fn run_other(command: Command, scope: &Scope) -> Result<()> {
    match command {
        Command::Run(_) | Command::Check(_) | Command::Apps(_) => unreachable!("handled in run"),
        Command::Server(args) => server::run(args, scope).await,
        Command::Init => {
            let db = scope.db.as_deref();
            let (_hush, home, source) = local::init(db).await?;
            let location = local::Location::new(db, &home);
            match location {
                local::Location::Sqlite(_) if db.is_none() => {
                    eprintln!("initialised a hush store at {}", home.dir.display())
                }
                _ => eprintln!("initialised a hush store at {}", location.describe()),
            }
            eprintln!("root key: {source}");
            if source.starts_with("the key file") {
                eprintln!("keep a backup of the key file: without it the store cannot be opened");
            }
            Ok(())
        }
        Command::Login(a) => remote::login(&a.addr, scope).await,
        Command::Logout => remote::logout(),
        Command::Whoami(a) => tokens::whoami(&*backend::open(scope).await?, scope, a).await,
        Command::Completions(a) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(a.shell, &mut cmd, "hush", &mut script);
            print_quietly(&script)
        }
        Command::Man(a) => man(a.dir.as_deref()),
        Command::Backup(a) => local::backup(scope.db.as_deref(), &a.file),
        Command::Restore(a) => local::restore(scope.db.as_deref(), &a.file, a.force),
        Command::Migrate(a) => migrate::run(scope.db.as_deref(), &a.to).await,
        Command::Tokens(cmd) => tokens::run(&*backend::open(scope).await?, cmd).await,
        Command::Webhooks(cmd) => webhooks::run(&*backend::open(scope).await?, cmd).await,
        Command::Audit(args) => tokens::audit(&*backend::open(scope).await?, args).await,
        Command::Events(args) => events::run(&*backend::open(scope).await?, args).await,
        Command::Secrets(cmd) => {
            secrets::run(&*backend::open(scope).await?, &scope.workspace, cmd).await
        }
        Command::Keys(KeysCommand::Rotate) => {
            let (hush, _home, _lock) = local::open_for_rotation(scope.db.as_deref()).await?;
            let report = hush.rotate_keys(&hush_core::Actor::local()).await?;
            eprintln!(
                "rotated: root key version {} now wraps {} data key(s); {} workspace(s) got a new data key version",
                report.root_version, report.rewrapped, report.workspaces
            );
            if let Some(w) = report.warning {
                eprintln!("warning: the rotation is done, but older root key versions could not be removed from the key source: {w}");
            }
            if std::env::var_os("HUSH_NEW_ROOT_KEY").is_some() {
                eprintln!("set HUSH_ROOT_KEY to the value of HUSH_NEW_ROOT_KEY: the old key no longer opens this store");
            } else if std::env::var_os("HUSH_NEW_PASSPHRASE").is_some() {
                eprintln!(
                    "use the new passphrase from now on: the old one no longer opens this store"
                );
            }
            Ok(())
        }
    }
}

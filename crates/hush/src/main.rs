//! The `hush` binary: the CLI over the embedded store.
#![forbid(unsafe_code)]

mod apps;
mod backend;
mod cli;
mod fail;
mod local;
mod manifest;
mod output;
mod remote;
mod secrets;
mod server;
mod tokens;
mod value;
mod workload;

use std::io::Write as _;

use anyhow::Result;
use clap::Parser as _;

use crate::cli::{Cli, Command, KeysCommand};

fn main() {
    let cli = Cli::parse();
    let rt = if matches!(cli.command, Command::Server(_)) {
        init_logging();
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    } else {
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
            let _ = writeln!(std::io::stderr(), "hush: {e:#}");
            fail::exit_code(&e)
        }
    };
    std::process::exit(code);
}

/// A server when one is configured (HUSH_ADDR, or `hush login`), else the embedded store.
pub(crate) async fn backend(workspace: &str) -> Result<backend::Backend> {
    if let Some(client) = remote::configured()? {
        if workspace != "default" {
            return Err(fail::Failure::usage(
                "against a server the workspace is the token's own: drop --workspace / HUSH_WORKSPACE, or use a token of that workspace",
            )
            .into());
        }
        return Ok(backend::Backend::Remote(client));
    }
    let (hush, _home) = local::open().await?;
    Ok(backend::Backend::Local {
        hush,
        workspace: workspace.to_string(),
        actor: hush_core::Actor::local(),
    })
}

/// Server logs go to stderr; `HUSH_LOG` (or `RUST_LOG`) sets the filter, default `info`.
fn init_logging() {
    let filter = std::env::var("HUSH_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

async fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Run(args) => return workload::run(args, &cli.workspace).await,
        Command::Check(args) => return workload::check(args, &cli.workspace).await,
        Command::Apps(cmd) => apps::run(&backend(&cli.workspace).await?, cmd).await?,
        cmd => run_other(cmd, &cli.workspace).await?,
    }
    Ok(fail::OK)
}

async fn run_other(command: Command, workspace: &str) -> Result<()> {
    let cli = Cli {
        workspace: workspace.to_string(),
        command,
    };
    match cli.command {
        Command::Run(_) | Command::Check(_) | Command::Apps(_) => unreachable!("handled in run"),
        Command::Server(args) => server::run(args, &cli.workspace).await,
        Command::Init => {
            let (_hush, home, source) = local::init().await?;
            eprintln!("initialised a hush store at {}", home.dir.display());
            eprintln!("root key: {source}");
            if source.starts_with("the key file") {
                eprintln!("keep a backup of the key file: without it the store cannot be opened");
            }
            Ok(())
        }
        Command::Login(a) => remote::login(&a.addr).await,
        Command::Tokens(cmd) => tokens::run(&backend(&cli.workspace).await?, cmd).await,
        Command::Audit(args) => tokens::audit(&backend(&cli.workspace).await?, args).await,
        Command::Secrets(cmd) => {
            secrets::run(&backend(&cli.workspace).await?, &cli.workspace, cmd).await
        }
        Command::Keys(KeysCommand::Rotate) => {
            let (hush, _home, _lock) = local::open_for_rotation().await?;
            let report = hush.rotate_keys().await?;
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

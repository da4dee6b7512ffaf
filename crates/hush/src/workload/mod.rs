//! `hush run` and `hush check`: give a workload exactly the secrets it declares.
//!
//! A run goes through four steps, a module each: [`plan`] reads what the workload declares (a
//! manifest, `--secret`/`--file` flags, or with neither, everything the caller may read);
//! [`sources`] looks each key up (prefixed env vars, a `.secrets` file, then the store or
//! server through the [`crate::backend::Backend`] trait, following fallbacks, and when asked
//! the declared variable itself); [`deliver`]
//! hands the values over (env vars, files in a private directory, `HUSH_SECRETS_MAP`); and
//! [`mod@supervise`] runs the command (signals, masking, exit codes). [`mod@check`] is the first two
//! steps without reading a value. Values stay [`hush_core::SecretBytes`] from the store to the
//! command: they are never text in between.

mod check;
mod deliver;
mod plan;
mod snapshot;
mod sources;
mod supervise;
mod watch;

use std::sync::Arc;

use anyhow::Result;

pub use self::check::check;
use self::plan::Plan;
use self::sources::{gather, LocalSources, StoreAccess};
use self::supervise::{supervise, LazyPatterns, Signals};
use crate::cli::RunArgs;

/// hush's exit code when the workload cannot start because a required secret is unavailable.
pub const NOT_STARTED: i32 = 125;
/// The exit code when the command cannot be executed.
pub const NOT_EXECUTABLE: i32 = 126;
/// The exit code when the command is not found.
pub const NOT_FOUND: i32 = 127;

/// `hush run`: returns the exit code hush should exit with.
pub async fn run(args: RunArgs, scope: &crate::Scope) -> Result<i32> {
    // Handlers first, before any secret is fetched or written: from here on a SIGINT or
    // SIGTERM to hush is handled (forwarded, or ends the run), never fatal, so the secrets
    // directory is always removed.
    let signals = Signals::install()?;
    let watching = watch::Options::parse(&args)?;
    let mut plan = Plan::new(
        args.manifest.as_deref(),
        args.app.as_deref(),
        args.env.as_deref(),
        &args.secret,
        &args.file,
    )?;
    let local = LocalSources::read(&args.sources, args.inherit_env || plan.inherit)?;
    let mut store = StoreAccess::new(scope);
    if !args.no_fallback {
        let manifest = crate::manifest::locate(args.manifest.as_deref())?;
        let flags = args
            .secret
            .iter()
            .map(|s| format!("secret {s}"))
            .chain(args.file.iter().map(|f| format!("file {f}")))
            .collect();
        let id = snapshot::Identity {
            app: plan.app.as_deref(),
            env: plan.env.as_deref(),
            manifest: manifest.as_deref(),
            flags,
        };
        store.set_fallback(snapshot::Fallback::new(scope, id, &args.fallback_max_age)?);
    }
    let program = args.command[0].to_string_lossy().into_owned();
    // Anything that stops the secrets from being had (the store unreachable, a token refused)
    // means the command is not started: 125, as for a missing secret, never a code the command
    // itself could have returned.
    let mut changes = None;
    let gathered = async {
        if !plan.declared {
            plan.add_everything(&local, &mut store).await?;
        }
        if watching.is_some() {
            // Followed from before the first look-up: nothing written after it is missed.
            let keys: Vec<String> = plan
                .wants
                .iter()
                .flat_map(|d| Plan::candidates(d).into_iter().map(str::to_string))
                .collect();
            match store.get().await? {
                Ok(b) => changes = Some(b.watch(&keys)),
                Err(why) => eprintln!("hush: warning: --watch: no store to watch ({why})"),
            }
        }
        if plan.wants.is_empty() {
            Ok(Vec::new())
        } else {
            gather(&plan, &local, &mut store, false).await
        }
    }
    .await;
    // The fallback snapshot of what the server answered is kept on every path from here: beside
    // the command when it starts (`close_beside`), before returning otherwise.
    let outcomes = match gathered {
        Ok(o) => o,
        Err(e) => {
            eprintln!("hush: not starting {program}: {e:#}");
            return Ok(NOT_STARTED);
        }
    };
    // A switch to a fallback is said out loud.
    for notice in outcomes.iter().filter_map(|o| o.fallback_notice()) {
        eprintln!("hush: {notice}");
    }
    let mut refused = Vec::new();
    for o in outcomes.iter().filter(|o| o.got.is_none()) {
        if o.decl.required {
            refused.push(o.describe());
        } else {
            eprintln!(
                "hush: warning: optional secret not available: {}",
                o.describe()
            );
        }
    }
    if !refused.is_empty() {
        eprintln!(
            "hush: not starting {program}: {} required secret(s) unavailable:",
            refused.len()
        );
        for r in &refused {
            eprintln!("  {r}");
        }
        store.save_fallback();
        return Ok(NOT_STARTED);
    }

    if let Some(opts) = watching {
        store.save_fallback();
        let w = watch::Watched {
            plan: &plan,
            local: &local,
            store: &mut store,
            changes,
            prefix: &args.sources.prefix,
            mask: !args.no_mask,
        };
        return watch::run(opts, &args.command, w, outcomes, signals).await;
    }
    let delivered = match deliver::deliver(outcomes, &args.sources.prefix, !args.no_mask) {
        Ok(d) => d,
        Err(e) => {
            store.save_fallback();
            return Err(e);
        }
    };
    let patterns = delivered.masked.map(|v| Arc::new(LazyPatterns::new(v)));
    let closing = store.close_beside();
    let code = supervise(&args.command, delivered.env, patterns, signals).await;
    drop(delivered.dir);
    if let Some(c) = closing {
        let _ = c.join();
    }
    code
}

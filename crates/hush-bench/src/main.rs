//! `hush-bench`: the performance issue's scenarios, one subcommand each, every figure printed
//! beside a floor measured in the same run on the same machine, the ratio, the target and
//! whether it is met, then one `RESULT scenario=… figure=… floor=… ratio=… target=… met=…`
//! line. `scripts/bench SCENARIO [ARGS…]` installs what is missing, builds, and runs it. It
//! must never report a figure without its floor from the same run, or count a scenario as met
//! when its checks (lost writes, a broken chain, a leaked value) failed.
//!
//! HTTP load comes from Debian's `wrk` (`src/wrk.rs`); servers run as separate processes on
//! free ports of 127.0.0.1 and are killed when a scenario ends, also on error
//! (`src/child.rs`). Exit status: 0 when every scenario ran (whether or not its target was
//! met: that is in the RESULT line), 1 when one could not run or its checks failed (errors in
//! the responses, lost writes, a leaked value).
#![forbid(unsafe_code)]

mod child;
mod floor;
mod rand;
mod report;
mod scenarios;
mod server;
mod wrk;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::scenarios::{authtiming, mask, read, resolve, run, scale, write};

/// Benchmarks for hush: each scenario against its floor, measured in the same run.
#[derive(Debug, Parser)]
#[command(name = "hush-bench", version, about)]
pub struct Cli {
    /// The hush binary under test (build it with `cargo build --release -p hush`).
    #[arg(
        long,
        global = true,
        default_value = "target/release/hush",
        value_name = "PATH"
    )]
    pub hush: PathBuf,
    /// The wrk load generator (Debian's `wrk` package).
    #[arg(long, global = true, default_value = "wrk", value_name = "PATH")]
    pub wrk: PathBuf,
    /// The scenario.
    #[command(subcommand)]
    pub command: Scenario,
}

/// One subcommand per scenario.
#[derive(Debug, Subcommand)]
pub enum Scenario {
    /// GET /v1/secrets/{key} with a read token vs a constant-body server on the same stack.
    Read(read::ReadArgs),
    /// POST /v1/resolve of 50 keys vs a constant-body server on the same stack.
    Resolve(resolve::ResolveArgs),
    /// Durable PUTs of distinct keys (SQLite, PostgreSQL or both); checks none was lost.
    Write(write::WriteArgs),
    /// `hush run -- /bin/true` with 50 declared secrets (embedded store, then a local server)
    /// vs `env FOO=bar /bin/true`.
    Run(run::RunArgs),
    /// The output masker's throughput vs a plain copy of the same chunks.
    Mask(mask::MaskArgs),
    /// GET and list p50 on a large SQLite store vs a small one; the server's memory.
    Scale(scale::ScaleArgs),
    /// Whether a revoked token is refused slower than an unknown one (medians of interleaved
    /// requests; target: within 2 µs).
    Authtiming(authtiming::AuthTimingArgs),
    /// Every scenario in turn, with default options (or short ones with --smoke).
    All(AllArgs),
    /// The floor server (used by read and resolve).
    #[command(hide = true)]
    Floor(FloorArgs),
}

/// `all`'s options.
#[derive(Debug, Args)]
pub struct AllArgs {
    /// A short pass: 2 s loads, 10 runs, 10 MB, 2000 secrets.
    #[arg(long)]
    pub smoke: bool,
}

/// The hidden floor server's options.
#[derive(Debug, Args)]
pub struct FloorArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR")]
    pub listen: String,
    /// The response body, sent for every request.
    #[arg(long, value_name = "FILE")]
    pub body_file: PathBuf,
}

/// What every scenario needs: the binaries it drives.
pub struct Ctx {
    /// hush.
    pub hush: PathBuf,
    /// wrk.
    pub wrk: PathBuf,
}

/// Parses a duration given in seconds: `10`, `10s`, or `500ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration: give seconds (10, 10s) or milliseconds (500ms)");
    if let Some(ms) = s.strip_suffix("ms") {
        return ms.parse().map(Duration::from_millis).map_err(|_| bad());
    }
    let secs: f64 = s
        .strip_suffix('s')
        .unwrap_or(s)
        .parse()
        .map_err(|_| bad())?;
    if !(secs > 0.0 && secs.is_finite()) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

fn main() {
    let cli = Cli::parse();
    // Absolute, since some children run in another directory (`hush run` in its work dir).
    let hush = std::fs::canonicalize(&cli.hush).unwrap_or(cli.hush);
    let ctx = Ctx { hush, wrk: cli.wrk };
    if !matches!(cli.command, Scenario::Floor(_) | Scenario::All(_)) {
        report::mark_start();
    }
    let result = match cli.command {
        Scenario::Floor(a) => floor::serve(&a.listen, &a.body_file),
        Scenario::Read(a) => read::run_and_print(&ctx, &a),
        Scenario::Resolve(a) => resolve::run(&ctx, &a).map(|r| r.print()),
        Scenario::Write(a) => write::run(&ctx, &a),
        Scenario::Run(a) => run::run(&ctx, &a).map(|r| r.print()),
        Scenario::Mask(a) => mask::run(&a).map(|r| r.print()),
        Scenario::Scale(a) => scale::run(&ctx, &a).map(|r| r.print()),
        Scenario::Authtiming(a) => authtiming::run(&ctx, &a).map(|r| r.print()),
        Scenario::All(a) => scenarios::all(&ctx, a.smoke),
    };
    if let Err(e) = result {
        eprintln!("hush-bench: {e:#}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_seconds_or_milliseconds() {
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("ten").is_err());
    }

    #[test]
    fn the_cli_is_well_formed() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }
}

//! The scenarios, one module each, and `all`, which runs them in turn.

pub mod authtiming;
pub mod mask;
pub mod read;
pub mod resolve;
pub mod run;
pub mod scale;
pub mod write;

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Result};

use crate::report::{f2, Report, ResultFields};
use crate::server::Home;
use crate::wrk::{self, Load, Outcome};
use crate::{floor, Ctx};

/// HTTP load options shared by `read` and `resolve`.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpArgs {
    /// How long each load runs (whole seconds for wrk).
    #[arg(long, default_value = "10s", value_parser = crate::parse_duration)]
    pub duration: Duration,
    /// wrk connections (-c).
    #[arg(long, default_value_t = 64)]
    pub connections: u32,
    /// wrk threads (-t).
    #[arg(long, default_value_t = 2)]
    pub threads: u32,
}

impl HttpArgs {
    /// wrk's settings.
    pub fn load(&self, ctx: &Ctx) -> Load {
        Load {
            wrk: ctx.wrk.clone(),
            threads: self.threads,
            connections: self.connections,
            duration: self.duration,
        }
    }
}

/// The floor with `body`, then hush (restarted on `home`), one after the other with the same
/// wrk options and script against `path`. Fails if either saw a non-2xx answer or a socket
/// error.
pub fn floor_then_hush(
    home: &Home,
    load: &Load,
    path: &str,
    script: &Path,
    body: &[u8],
) -> Result<(Outcome, Outcome)> {
    floor_then_hush_env(home, load, path, script, body, &[])
}

/// As [`floor_then_hush`], with environment variables for the hush server.
pub fn floor_then_hush_env(
    home: &Home,
    load: &Load,
    path: &str,
    script: &Path,
    body: &[u8],
    env: &[(&str, &str)],
) -> Result<(Outcome, Outcome)> {
    let floor = {
        let server = floor::spawn(body, home.dir())?;
        eprintln!("floor: wrk on {}{path} …", server.base());
        wrk::run(load, &format!("{}{path}", server.base()), script)?
    };
    floor.require_clean("the floor server")?;
    let hush = {
        let server = home.serve_env(&[], env)?;
        eprintln!("hush: wrk on {}{path} …", server.base());
        wrk::run(load, &format!("{}{path}", server.base()), script)?
    };
    hush.require_clean("hush")?;
    Ok((hush, floor))
}

/// A report of requests/s against the floor's, with a minimum ratio (and a p99 ceiling).
pub fn throughput_report(
    scenario: &str,
    hush: &Outcome,
    floor: &Outcome,
    min_ratio: f64,
    max_p99: Option<Duration>,
    load: &Load,
    body_len: usize,
) -> Report {
    let ratio = hush.rps / floor.rps;
    let p99_ok = max_p99.is_none_or(|m| hush.p99 <= m);
    let describe = |o: &Outcome| {
        format!(
            "{:.1} req/s (p50 {:.2} ms, p99 {:.2} ms, {} requests)",
            o.rps,
            wrk::ms(o.p50),
            wrk::ms(o.p99),
            o.requests
        )
    };
    let (target, target_kv) = match max_p99 {
        Some(m) => (
            format!(
                "ratio of requests/s >= {min_ratio} and hush p99 <= {} ms",
                f2(wrk::ms(m))
            ),
            format!("ratio>={min_ratio},p99<={}ms", f2(wrk::ms(m))),
        ),
        None => (
            format!("ratio of requests/s >= {min_ratio}"),
            format!("ratio>={min_ratio}"),
        ),
    };
    let mut r = Report {
        scenario: scenario.into(),
        figure: format!("hush {}", describe(hush)),
        floor: format!(
            "constant {body_len}-byte body on axum/hyper {}",
            describe(floor)
        ),
        ratio: format!("{ratio:.3} (hush req/s / floor req/s)"),
        target,
        met: ratio >= min_ratio && p99_ok,
        result: ResultFields {
            figure: format!("{:.1}", hush.rps),
            floor: format!("{:.1}", floor.rps),
            ratio: format!("{ratio:.3}"),
            target: target_kv,
        },
        notes: vec![format!("{}, floor first, then hush", load.describe())],
        extra: vec![],
    };
    r.extra("unit", "req/s");
    r.extra("p50_ms", f2(wrk::ms(hush.p50)));
    r.extra("p99_ms", f2(wrk::ms(hush.p99)));
    r.extra("floor_p50_ms", f2(wrk::ms(floor.p50)));
    r.extra("floor_p99_ms", f2(wrk::ms(floor.p99)));
    r.extra("body_bytes", body_len);
    r.extra("connections", load.connections);
    r.extra("duration_s", load.seconds());
    r
}

/// Every scenario with its defaults (short ones with `smoke`), in turn; a failure is reported
/// and the rest still run.
pub fn all(ctx: &Ctx, smoke: bool) -> Result<()> {
    use clap::Parser as _;
    let d = if smoke { "2s" } else { "10s" };
    let mut failed = Vec::new();
    let mut step = |name: &str, f: &mut dyn FnMut() -> Result<()>| {
        eprintln!("==== {name} ====");
        crate::report::mark_start();
        if let Err(e) = f() {
            eprintln!("hush-bench: {name} failed: {e:#}");
            println!("RESULT scenario={name} met=no error=yes");
            failed.push(name.to_string());
        }
    };
    #[derive(clap::Parser)]
    struct Wrap<T: clap::Args> {
        #[command(flatten)]
        inner: T,
    }
    fn args<T: clap::Args>(list: &[&str]) -> Result<T> {
        let it = std::iter::once("hush-bench").chain(list.iter().copied());
        Ok(Wrap::<T>::try_parse_from(it)?.inner)
    }
    step("read", &mut || {
        read::run(ctx, &args(&["--duration", d])?).map(|r| r.print())
    });
    if !smoke {
        step("read-postgres", &mut || {
            read::run_and_print(ctx, &args(&["--duration", d, "--backend", "postgres"])?)
        });
    }
    step("resolve", &mut || {
        resolve::run(ctx, &args(&["--duration", d])?).map(|r| r.print())
    });
    step("write", &mut || {
        // Both backends in a full pass; the smoke pass needs no PostgreSQL.
        let backend = if smoke { "sqlite" } else { "both" };
        write::run(ctx, &args(&["--duration", d, "--backend", backend])?)
    });
    step("run", &mut || {
        let runs = if smoke { "10" } else { "40" };
        run::run(ctx, &args(&["--runs", runs])?).map(|r| r.print())
    });
    step("mask", &mut || {
        let mb = if smoke { "10" } else { "100" };
        mask::run(&args(&["--megabytes", mb])?).map(|r| r.print())
    });
    step("scale", &mut || {
        let n = if smoke { "2000" } else { "1000000" };
        scale::run(ctx, &args(&["--secrets", n, "--duration", d])?).map(|r| r.print())
    });
    step("authtiming", &mut || {
        let n = if smoke { "200" } else { "2000" };
        authtiming::run(ctx, &args(&["--samples", n])?).map(|r| r.print())
    });
    if !failed.is_empty() {
        bail!("these scenarios failed: {}", failed.join(", "));
    }
    Ok(())
}

//! `read`: `GET /v1/secrets/{key}` with a read token — authentication, decryption and the audit
//! row written before the answer — with 64 connections for 10 s. The floor answers the same
//! requests with hush's own response bytes (fetched once), so both send the same bytes back.
//! Target (issue 19): hush's requests/s at least half the floor's, and hush's p99 at most twice
//! the floor's. The store's growth per read (the audit row, once the server stopped) is
//! reported beside.
//! `--backend postgres` runs it on a fresh PostgreSQL database (target 0.4× the floor, the
//! token cache warm), then again with the server's token cache off (`HUSH_CACHE=off`):
//! the cache-miss figure, reported without a target.

use anyhow::{bail, Context as _, Result};

use super::write::PgDatabase;
use super::{floor_then_hush_env, throughput_report, HttpArgs};
use crate::rand::Rng;
use crate::report::Report;
use crate::server::{self, Home};
use crate::{wrk, Ctx};

/// `read`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct ReadArgs {
    /// Load options.
    #[command(flatten)]
    pub http: HttpArgs,
    /// The store: the embedded SQLite file, or a fresh PostgreSQL database.
    #[arg(long, value_enum, default_value = "sqlite")]
    pub backend: ReadBackend,
    /// The PostgreSQL server for `--backend postgres` (user and host; the bench database's
    /// name is added).
    #[arg(
        long,
        default_value = "postgres://postgres@127.0.0.1:5432",
        value_name = "URL"
    )]
    pub postgres: String,
}

/// `read`'s stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReadBackend {
    /// The embedded SQLite file.
    Sqlite,
    /// A fresh PostgreSQL database (dropped afterwards).
    Postgres,
}

/// Runs the scenario, printing its report (two on PostgreSQL: cache hit, then miss).
pub fn run_and_print(ctx: &Ctx, args: &ReadArgs) -> Result<()> {
    for r in run_all(ctx, args)? {
        r.print();
    }
    Ok(())
}

/// Runs the scenario: one report on SQLite; on PostgreSQL the cache hit then the miss.
pub fn run_all(ctx: &Ctx, args: &ReadArgs) -> Result<Vec<Report>> {
    match args.backend {
        ReadBackend::Sqlite => Ok(vec![run(ctx, args)?]),
        ReadBackend::Postgres => {
            let pg = PgDatabase::create(&args.postgres)?;
            let hit = one(ctx, args, Some(pg.url()), false)?;
            let pg = PgDatabase::create(&args.postgres)?;
            let miss = one(ctx, args, Some(pg.url()), true)?;
            Ok(vec![hit, miss])
        }
    }
}

/// The key read.
const KEY: &str = "bench-read";

/// Runs the scenario on SQLite.
pub fn run(ctx: &Ctx, args: &ReadArgs) -> Result<Report> {
    one(ctx, args, None, false)
}

/// One run on `db` (`None`: SQLite), the server's token cache off with `cold`.
fn one(ctx: &Ctx, args: &ReadArgs, db: Option<String>, cold: bool) -> Result<Report> {
    wrk::require(&ctx.wrk)?;
    let load = args.http.load(ctx);
    let on_pg = db.is_some();
    let home = Home::temp(&ctx.hush, db)?;
    home.init()?;
    let admin = home.token("admin")?;
    let reader = home.token("read")?;
    let path = format!("/v1/secrets/{KEY}");
    let body = {
        let server = home.serve()?;
        let client = server::client()?;
        let value = Rng::from_time().alnum(40);
        server::put_secret(&client, &server.base(), &admin, KEY, &value)?;
        let r = client
            .get(format!("{}{path}", server.base()))
            .bearer_auth(&reader)
            .send()
            .context("GET the secret once")?;
        if !r.status().is_success() {
            bail!("GET {path} with the read token answered {}", r.status());
        }
        r.bytes()?.to_vec()
    };
    eprintln!("read: hush answers {} bytes", body.len());
    let lua = format!(
        "wrk.method = \"GET\"\nwrk.headers[\"Authorization\"] = {}\n",
        wrk::lua_string(&format!("Bearer {reader}"))
    );
    let script = wrk::script(home.dir(), "read.lua", &lua)?;
    let env: &[(&str, &str)] = if cold { &[("HUSH_CACHE", "off")] } else { &[] };
    let before = home.store_bytes();
    let (hush, floor) = floor_then_hush_env(&home, &load, &path, &script, &body, env)?;
    let grown = home.store_bytes().saturating_sub(before);
    let (name, ratio, p99) = match (on_pg, cold) {
        // Issue 19: p99 at most twice the floor's.
        (false, _) => ("read", 0.5, Some(floor.p99 * 2)),
        (true, false) => ("read-postgres", 0.4, None),
        // Reported, no target.
        (true, true) => ("read-postgres-miss", 0.0, None),
    };
    let mut r = throughput_report(name, &hush, &floor, ratio, p99, &load, body.len());
    r.extra("backend", if on_pg { "postgres" } else { "sqlite" });
    r.extra("token_cache", if cold { "off" } else { "on" });
    if !on_pg {
        // The server stopped after the load, its WAL checkpointed: the audit's bytes per read.
        let per_read = grown as f64 / hush.requests.max(1) as f64;
        eprintln!(
            "read: the store grew {grown} bytes for {} reads: {per_read:.1} bytes per read",
            hush.requests
        );
        r.extra("audit_bytes_per_read", format!("{per_read:.1}"));
    }
    Ok(r)
}

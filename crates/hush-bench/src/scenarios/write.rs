//! `write`: durable `PUT /v1/secrets/{key}` of distinct keys with a write token, 32
//! connections for 10 s, on SQLite or PostgreSQL (`--backend both` runs one after the other).
//! Each wrk thread gets an id in `setup`, each request a fresh key `w-<thread>-<n>` and a body
//! `{"value":"<40 random characters>"}`. There is no floor: the figure is acknowledged writes
//! per second (201 answers over wrk's elapsed time). Target: 2000/s on SQLite, 1000/s on
//! PostgreSQL.
//!
//! Afterwards the store is checked: every acknowledged key is there, and no more than were
//! sent (wrk stops with requests in flight, which the server may still commit: those are
//! counted apart), and `GET /v1/audit/verify` says the chain is intact.

use std::process::{Command, Stdio};

use anyhow::{bail, Context as _, Result};

use crate::report::{f2, Report, ResultFields};
use crate::server::{self, Home};
use crate::{wrk, Ctx};

/// Which store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// The embedded SQLite file.
    Sqlite,
    /// A fresh PostgreSQL database (dropped afterwards).
    Postgres,
    /// SQLite, then PostgreSQL.
    Both,
}

/// `write`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct WriteArgs {
    /// The store to write to.
    #[arg(long, value_enum, default_value = "sqlite")]
    pub backend: Backend,
    /// How long the load runs (whole seconds for wrk).
    #[arg(long, default_value = "10s", value_parser = crate::parse_duration)]
    pub duration: std::time::Duration,
    /// wrk connections (-c).
    #[arg(long, default_value_t = 32)]
    pub connections: u32,
    /// wrk threads (-t).
    #[arg(long, default_value_t = 2)]
    pub threads: u32,
    /// The PostgreSQL server (user and host; the bench database's name is added).
    #[arg(
        long,
        default_value = "postgres://postgres@127.0.0.1:5432",
        value_name = "URL"
    )]
    pub postgres: String,
}

/// Runs the scenario on each backend asked for, printing a report for each.
pub fn run(ctx: &Ctx, args: &WriteArgs) -> Result<()> {
    let backends: &[Backend] = match args.backend {
        Backend::Both => &[Backend::Sqlite, Backend::Postgres],
        Backend::Sqlite => &[Backend::Sqlite],
        Backend::Postgres => &[Backend::Postgres],
    };
    wrk::require(&ctx.wrk)?;
    for b in backends {
        one(ctx, args, *b)?.print();
    }
    Ok(())
}

/// The wrk script: fresh keys per thread, random values, 201s counted.
const LUA: &str = r#"
local counter = 0
local threads = {}
local chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  n = 0
  created = 0
  other = 0
  math.randomseed(os.time() * 1000 + id)
end

function request()
  n = n + 1
  local t = {}
  for i = 1, 40 do
    local r = math.random(1, #chars)
    t[i] = string.sub(chars, r, r)
  end
  local body = '{"value":"' .. table.concat(t) .. '"}'
  return wrk.format("PUT", "/v1/secrets/w-" .. id .. "-" .. n, nil, body)
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local s, c, o = 0, 0, 0
  for _, t in ipairs(threads) do
    s = s + t:get("n")
    c = c + t:get("created")
    o = o + t:get("other")
  end
  io.write(string.format("BENCH sent=%d created=%d other=%d\n", s, c, o))
end
"#;

/// A fresh PostgreSQL database, dropped (`WITH (FORCE)`) when this is dropped.
pub(crate) struct PgDatabase {
    server: String,
    name: String,
}

impl PgDatabase {
    pub(crate) fn create(server: &str) -> Result<Self> {
        let name = format!(
            "hush_bench_{}_{}",
            std::process::id(),
            crate::rand::Rng::from_time().below(1_000_000_000)
        );
        let db = PgDatabase {
            server: server.trim_end_matches('/').to_string(),
            name,
        };
        db.psql(&format!("CREATE DATABASE {}", db.name))
            .context("cannot create the bench database (is PostgreSQL up at --postgres?)")?;
        Ok(db)
    }

    pub(crate) fn url(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }

    fn psql(&self, sql: &str) -> Result<()> {
        let out = Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(format!("{}/postgres", self.server))
            .arg("-c")
            .arg(sql)
            .stdin(Stdio::null())
            .output()
            .context("cannot run psql")?;
        if !out.status.success() {
            bail!(
                "psql -c {sql:?} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Err(e) = self.psql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )) {
            eprintln!("hush-bench: could not drop {}: {e:#}", self.name);
        }
    }
}

fn one(ctx: &Ctx, args: &WriteArgs, backend: Backend) -> Result<Report> {
    let (name, target) = match backend {
        Backend::Postgres => ("postgres", 1000.0),
        _ => ("sqlite", 2000.0),
    };
    // Dropped last: after the server (declared later) is killed.
    let pg = match backend {
        Backend::Postgres => Some(PgDatabase::create(&args.postgres)?),
        _ => None,
    };
    let home = Home::temp(&ctx.hush, pg.as_ref().map(PgDatabase::url))?;
    home.init()?;
    let admin = home.token("admin")?;
    let writer = home.token("write")?;
    let lua = format!(
        "wrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Authorization\"] = {}\n{LUA}",
        wrk::lua_string(&format!("Bearer {writer}"))
    );
    let script = wrk::script(home.dir(), "write.lua", &lua)?;
    let load = wrk::Load {
        wrk: ctx.wrk.clone(),
        threads: args.threads,
        connections: args.connections,
        duration: args.duration,
    };
    let server = home.serve()?;
    eprintln!("write ({name}): wrk on {} …", server.base());
    let o = wrk::run(&load, &server.base(), &script)?;
    let sent = o
        .script_value("sent")
        .context("the script reported nothing")?;
    let created = o.script_value("created").unwrap_or(0);
    let other = o.script_value("other").unwrap_or(0);
    if other > 0 || o.non_2xx > 0 {
        bail!(
            "{other} answers were not 201 ({} non-2xx/3xx); wrk's report:\n{}",
            o.non_2xx,
            o.raw
        );
    }
    let client = server::client()?;
    let stored = count_keys(&client, &server.base(), &admin, "w-")?;
    if stored < created {
        bail!("{created} writes were acknowledged (201) but only {stored} keys are stored");
    }
    if stored > sent {
        bail!("{stored} keys are stored but only {sent} were sent");
    }
    let verdict: serde_json::Value = client
        .get(format!("{}/v1/audit/verify", server.base()))
        .bearer_auth(&admin)
        .send()?
        .error_for_status()?
        .json()?;
    if verdict["intact"] != serde_json::Value::Bool(true) {
        bail!("the audit chain is not intact after the load: {verdict}");
    }
    drop(server);
    let secs = o.elapsed.as_secs_f64().max(1e-9);
    let rate = created as f64 / secs;
    let met = rate >= target;
    let mut r = Report {
        scenario: "write".into(),
        figure: format!(
            "{rate:.1} writes/s on {name} ({created} acknowledged in {secs:.2} s; p50 {:.2} ms, p99 {:.2} ms)",
            wrk::ms(o.p50),
            wrk::ms(o.p99)
        ),
        floor: "none".into(),
        ratio: "none".into(),
        target: format!("{target} writes/s or more on {name}"),
        met,
        result: ResultFields {
            figure: format!("{rate:.1}"),
            floor: "none".into(),
            ratio: "none".into(),
            target: format!(">={target}/s"),
        },
        notes: vec![
            format!(
                "{}, PUT of fresh keys w-<thread>-<n>, write token",
                load.describe()
            ),
            format!(
                "check: {stored} keys stored = {created} acknowledged (201) + {} committed while in flight at wrk's stop (sent {sent}); audit chain intact ({} rows)",
                stored - created,
                verdict["rows"]
            ),
        ],
        extra: vec![],
    };
    r.extra("backend", name);
    r.extra("unit", "writes/s");
    r.extra("acknowledged", created);
    r.extra("stored", stored);
    r.extra("sent", sent);
    r.extra("audit_intact", "yes");
    r.extra("p50_ms", f2(wrk::ms(o.p50)));
    r.extra("p99_ms", f2(wrk::ms(o.p99)));
    r.extra("connections", load.connections);
    r.extra("duration_s", load.seconds());
    Ok(r)
}

/// How many keys start with `prefix`, paging through `GET /v1/secrets`.
fn count_keys(
    client: &reqwest::blocking::Client,
    base: &str,
    token: &str,
    prefix: &str,
) -> Result<u64> {
    let mut count = 0u64;
    let mut cursor: Option<String> = None;
    loop {
        let mut req = client
            .get(format!("{base}/v1/secrets"))
            .bearer_auth(token)
            .query(&[("prefix", prefix), ("limit", "1000")]);
        if let Some(c) = &cursor {
            req = req.query(&[("cursor", c.as_str())]);
        }
        let page: serde_json::Value = req.send()?.error_for_status()?.json()?;
        count += page["items"].as_array().map_or(0, |a| a.len()) as u64;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return Ok(count),
        }
    }
}

//! `read`: `GET /v1/secrets/{key}` with a read token — authentication, decryption and the audit
//! row written before the answer — with 64 connections for 10 s. The floor answers the same
//! requests with hush's own response bytes (fetched once), so both send the same bytes back.
//! Target: hush's requests/s at least half the floor's, and hush's p99 at most 5 ms.

use std::time::Duration;

use anyhow::{bail, Context as _, Result};

use super::{floor_then_hush, throughput_report, HttpArgs};
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
}

/// The key read.
const KEY: &str = "bench-read";

/// Runs the scenario.
pub fn run(ctx: &Ctx, args: &ReadArgs) -> Result<Report> {
    wrk::require(&ctx.wrk)?;
    let load = args.http.load(ctx);
    let home = Home::temp(&ctx.hush, None)?;
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
    let (hush, floor) = floor_then_hush(&home, &load, &path, &script, &body)?;
    Ok(throughput_report(
        "read",
        &hush,
        &floor,
        0.5,
        Some(Duration::from_millis(5)),
        &load,
        body.len(),
    ))
}

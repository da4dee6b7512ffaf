//! `resolve`: `POST /v1/resolve` of 50 keys (values of 40 bytes) with a read token — one audit
//! transaction for the 50 reads — with 64 connections for 10 s. The floor answers with hush's
//! own response bytes; then a `GET` of one of the keys with the same token and load (the read
//! figure of the same run). Target (issue 19): resolve's requests/s at least 0.3 of that read
//! figure; the ratio to the floor is reported beside.

use anyhow::{bail, Context as _, Result};

use super::{floor_then_hush, throughput_report, HttpArgs};
use crate::rand::Rng;
use crate::report::Report;
use crate::server::{self, Home};
use crate::{wrk, Ctx};

/// `resolve`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct ResolveArgs {
    /// Load options.
    #[command(flatten)]
    pub http: HttpArgs,
    /// How many keys one request resolves (each created beforehand).
    #[arg(long, default_value_t = 50)]
    pub keys: usize,
}

/// Runs the scenario.
pub fn run(ctx: &Ctx, args: &ResolveArgs) -> Result<Report> {
    wrk::require(&ctx.wrk)?;
    let load = args.http.load(ctx);
    let home = Home::temp(&ctx.hush, None)?;
    home.init()?;
    let admin = home.token("admin")?;
    let reader = home.token("read")?;
    let keys: Vec<String> = (0..args.keys).map(|i| format!("resolve-{i:02}")).collect();
    let request = serde_json::json!({ "keys": keys }).to_string();
    let path = "/v1/resolve";
    let body = {
        let server = home.serve()?;
        let client = server::client()?;
        let mut rng = Rng::from_time();
        for k in &keys {
            server::put_secret(&client, &server.base(), &admin, k, &rng.alnum(40))?;
        }
        let r = client
            .post(format!("{}{path}", server.base()))
            .bearer_auth(&reader)
            .header("Content-Type", "application/json")
            .body(request.clone())
            .send()
            .context("POST /v1/resolve once")?;
        if !r.status().is_success() {
            bail!("POST {path} answered {}", r.status());
        }
        let bytes = r.bytes()?.to_vec();
        let v: serde_json::Value = serde_json::from_slice(&bytes).context("resolve answer")?;
        let resolved = v["secrets"].as_object().map_or(0, |m| m.len());
        let errors = v["errors"].as_object().map_or(0, |m| m.len());
        if resolved != keys.len() || errors != 0 {
            bail!(
                "resolve gave {resolved} of {} secrets and {errors} errors",
                keys.len()
            );
        }
        bytes
    };
    eprintln!(
        "resolve: {} keys, request {} bytes, hush answers {} bytes",
        keys.len(),
        request.len(),
        body.len()
    );
    let lua = format!(
        "wrk.method = \"POST\"\nwrk.body = {}\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Authorization\"] = {}\n",
        wrk::lua_string(&request),
        wrk::lua_string(&format!("Bearer {reader}"))
    );
    let script = wrk::script(home.dir(), "resolve.lua", &lua)?;
    // The store's size before and after hush's load (the server stopped each time, so the
    // WAL is checkpointed into the file): what the audit of each value read costs on disk.
    let before = home.store_bytes();
    let (hush, floor) = floor_then_hush(&home, &load, path, &script, &body)?;
    let after = home.store_bytes();
    // Issue 19's target compares resolve with a single read of the same run: GET of one of
    // the keys with the same token and load, on the same store.
    let read = {
        let server = home.serve()?;
        let lua = format!(
            "wrk.method = \"GET\"\nwrk.headers[\"Authorization\"] = {}\n",
            wrk::lua_string(&format!("Bearer {reader}"))
        );
        let script = wrk::script(home.dir(), "resolve-read.lua", &lua)?;
        let url = format!("{}/v1/secrets/{}", server.base(), keys[0]);
        eprintln!("resolve: the read of the same run, wrk on {url} …");
        wrk::run(&load, &url, &script)?
    };
    read.require_clean("hush (read)")?;
    let target = 0.3;
    let mut r = throughput_report("resolve", &hush, &floor, 0.0, None, &load, body.len());
    let of_read = hush.rps / read.rps;
    r.ratio = format!(
        "{of_read:.3} (resolve req/s / read req/s {:.1} in this run; {:.3} of the floor)",
        read.rps,
        hush.rps / floor.rps
    );
    r.target = format!("resolve req/s >= {target} x the read req/s of the same run");
    r.met = of_read >= target;
    r.result.ratio = format!("{of_read:.3}");
    r.result.target = format!("ratio_to_read>={target}");
    r.extra("read_rps", format!("{:.1}", read.rps));
    r.extra("ratio_to_floor", format!("{:.3}", hush.rps / floor.rps));
    r.extra("keys", keys.len());
    // Every answered request read every key: bytes of store per value read.
    let values = hush.requests.saturating_mul(keys.len() as u64).max(1);
    let per_value = after.saturating_sub(before) as f64 / values as f64;
    eprintln!(
        "resolve: the store grew {} bytes for {} values read: {per_value:.1} bytes per value read",
        after.saturating_sub(before),
        values
    );
    r.extra("audit_bytes_per_value", format!("{per_value:.1}"));
    Ok(r)
}

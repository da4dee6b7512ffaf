//! `authtiming`: does a revoked token take longer to refuse than an unknown one? If it did, a
//! caller could tell that a leaked token once existed. hush makes a token and revokes it, then
//! `GET /v1/secrets` is sent N times with the revoked token and N times with an unknown token
//! of the same shape, interleaved (ABBA, so drift in the machine's load falls on both), over
//! one kept-alive connection. Every request comes "from" a new address through a trusted
//! proxy's `X-Forwarded-For`, so none is throttled: each takes the full path of a first
//! failure (lookup, audit row, 401), as an attacker spread over many addresses would see it.
//! Target: the two medians within 2 µs. Not a timed test: a figure to read.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

use crate::rand::Rng;
use crate::report::{Report, ResultFields};
use crate::server::{self, Home};
use crate::Ctx;

/// `authtiming`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct AuthTimingArgs {
    /// Requests with each token (after a warm-up of a tenth as many).
    #[arg(long, default_value_t = 2000)]
    pub samples: usize,
}

/// The largest difference of medians that is met, in microseconds.
const TARGET_US: f64 = 2.0;

fn median(v: &mut [Duration]) -> Duration {
    v.sort_unstable();
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Runs the scenario.
pub fn run(ctx: &Ctx, args: &AuthTimingArgs) -> Result<Report> {
    if args.samples == 0 {
        bail!("--samples must be at least 1");
    }
    let home = Home::temp(&ctx.hush, None)?;
    home.init()?;
    let revoked = home.run(
        &["tokens", "create", "--role", "read", "--name", "leaked"],
        b"",
    )?;
    let revoked = revoked.trim().to_string();
    home.run(&["tokens", "revoke", "leaked"], b"")?;
    let mut rng = Rng::from_time();
    let prefix = "hush_";
    let body_len = revoked.len().saturating_sub(prefix.len());
    if !revoked.starts_with(prefix) || body_len == 0 {
        bail!("`hush tokens create` printed no token");
    }
    // The same shape as a real token, so both pass the same format checks.
    let unknown = format!("{prefix}{}", rng.alnum(body_len));
    let server = home.serve_with(&["--trusted-proxy", "127.0.0.1"])?;
    let client = server::client()?;
    let url = format!("{}/v1/secrets", server.base());
    let mut addr = 0u32;
    let mut send = |token: &str| -> Result<Duration> {
        addr += 1;
        // 10.0.0.0/8 leaves room for 16 million distinct first-time clients.
        let xff = std::net::Ipv4Addr::from(0x0a00_0000 | (addr & 0x00ff_ffff)).to_string();
        let start = Instant::now();
        let r = client
            .get(&url)
            .bearer_auth(token)
            .header("x-forwarded-for", xff)
            .send()
            .context("GET /v1/secrets")?;
        let status = r.status();
        r.bytes().context("read the answer")?;
        let took = start.elapsed();
        if status != 401 {
            bail!("a refused token was answered {status}, not 401");
        }
        Ok(took)
    };
    let warmup = (args.samples / 10).max(1);
    for _ in 0..warmup {
        send(&unknown)?;
        send(&revoked)?;
    }
    let mut u = Vec::with_capacity(args.samples);
    let mut r = Vec::with_capacity(args.samples);
    for i in 0..args.samples {
        if i % 2 == 0 {
            u.push(send(&unknown)?);
            r.push(send(&revoked)?);
        } else {
            r.push(send(&revoked)?);
            u.push(send(&unknown)?);
        }
    }
    // Each pair was sent back to back: the median of their differences, and a sign test (how
    // often the revoked one was the slower, as a z-score: |z| above 3 is a systematic
    // difference, however noisy the machine).
    let mut paired: Vec<f64> = u
        .iter()
        .zip(&r)
        .map(|(a, b)| micros(*b) - micros(*a))
        .collect();
    paired.sort_unstable_by(f64::total_cmp);
    let paired_median = paired[paired.len() / 2];
    let slower = paired.iter().filter(|d| **d > 0.0).count() as f64;
    let faster = paired.iter().filter(|d| **d < 0.0).count() as f64;
    let z = if slower + faster > 0.0 {
        (slower - faster) / (slower + faster).sqrt()
    } else {
        0.0
    };
    let (mu, mr) = (micros(median(&mut u)), micros(median(&mut r)));
    let diff = mr - mu;
    let met = diff.abs() <= TARGET_US;
    Ok(Report {
        scenario: "authtiming".into(),
        figure: format!("revoked token refused in {mr:.1} µs (median of {})", args.samples),
        floor: format!("unknown token refused in {mu:.1} µs (median of {})", args.samples),
        ratio: format!("{diff:+.2} µs (revoked − unknown)"),
        target: format!("|revoked − unknown| <= {TARGET_US} µs"),
        met,
        result: ResultFields {
            figure: format!("{mr:.2}"),
            floor: format!("{mu:.2}"),
            ratio: format!("{diff:+.2}"),
            target: format!("|diff_us|<={TARGET_US}"),
        },
        notes: vec![
            format!(
                "GET /v1/secrets over one kept-alive HTTP/1.1 connection, tokens interleaved, \
                 {warmup} warm-up requests each, each request from a new forwarded address"
            ),
            format!(
                "paired: median of (revoked − unknown) over back-to-back pairs {paired_median:+.2} µs; \
                 sign test z = {z:+.2} (revoked slower in {slower} pairs, faster in {faster})"
            ),
        ],
        extra: vec![
            ("unit".into(), "us".into()),
            ("paired_median_us".into(), format!("{paired_median:+.2}")),
            ("sign_z".into(), format!("{z:+.2}")),
        ],
    })
}

//! `authtiming`: does a revoked token take longer to refuse than an unknown one? If it did, a
//! caller could tell that a leaked token once existed. hush makes a token and revokes it, then
//! `GET /v1/secrets` is sent N times with the revoked token and N times with an unknown token
//! of the same shape, interleaved (ABBA, so drift in the machine's load falls on both), over
//! one kept-alive connection, in two phases: first failures (each request "from" a new address
//! through a trusted proxy's `X-Forwarded-For`, so each takes the full path: lookup, audit row,
//! 401), then failures past one address's allowance (429, no audit write: the lookup alone,
//! without the fsync's noise). Printed: both medians per phase, their difference, the median of
//! back-to-back paired differences and a sign test (|z| > 3 is a systematic difference however
//! noisy the machine). Target: both differences of medians within 2 µs. Not a timed test.

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

/// The failures an address may make before it is throttled (hush-server's
/// `AUTH_FAILURES_ALLOWED`).
const ALLOWANCE: u32 = 20;

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
    let warmup = (args.samples / 10).max(1);
    // First failures: every request from a new forwarded address, so each is audited.
    let mut addr = 0u32;
    let audited = measure(args.samples, warmup, &unknown, &revoked, |token| {
        addr += 1;
        // 10.0.0.0/8 leaves room for 16 million distinct first-time clients.
        let xff = std::net::Ipv4Addr::from(0x0a00_0000 | (addr & 0x00ff_ffff)).to_string();
        timed(&client, &url, token, &xff, 401)
    })?;
    // Past the allowance: one address, every failure answered 429 without an audit row, so
    // the figure is the lookup alone, without the noise of the audit write's fsync.
    for _ in 0..ALLOWANCE {
        timed(&client, &url, &unknown, "192.0.2.1", 401)?;
    }
    let throttled = measure(args.samples, warmup, &unknown, &revoked, |token| {
        timed(&client, &url, token, "192.0.2.1", 429)
    })?;
    let met = audited.diff().abs() <= TARGET_US && throttled.diff().abs() <= TARGET_US;
    let (mr, mu, diff) = (audited.revoked, audited.unknown, audited.diff());
    Ok(Report {
        scenario: "authtiming".into(),
        figure: format!(
            "revoked token refused in {mr:.1} µs (median of {})",
            args.samples
        ),
        floor: format!(
            "unknown token refused in {mu:.1} µs (median of {})",
            args.samples
        ),
        ratio: format!("{diff:+.2} µs (revoked − unknown)"),
        target: format!("|revoked − unknown| <= {TARGET_US} µs, audited and throttled"),
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
                 {warmup} warm-up requests each"
            ),
            audited.describe("first failures (401, audited, each from a new forwarded address)"),
            throttled.describe("past the allowance (429, not audited: the lookup alone)"),
        ],
        extra: vec![
            ("unit".into(), "us".into()),
            (
                "paired_median_us".into(),
                format!("{:+.2}", audited.paired_median),
            ),
            ("sign_z".into(), format!("{:+.2}", audited.z)),
            (
                "throttled_diff_us".into(),
                format!("{:+.2}", throttled.diff()),
            ),
            (
                "throttled_paired_median_us".into(),
                format!("{:+.2}", throttled.paired_median),
            ),
            ("throttled_sign_z".into(), format!("{:+.2}", throttled.z)),
        ],
    })
}

/// One request with `token` from forwarded address `xff`: its time, checked to answer `want`.
fn timed(
    client: &reqwest::blocking::Client,
    url: &str,
    token: &str,
    xff: &str,
    want: u16,
) -> Result<Duration> {
    let start = Instant::now();
    let r = client
        .get(url)
        .bearer_auth(token)
        .header("x-forwarded-for", xff)
        .send()
        .context("GET /v1/secrets")?;
    let status = r.status();
    r.bytes().context("read the answer")?;
    let took = start.elapsed();
    if status != want {
        bail!("a refused token was answered {status}, not {want}");
    }
    Ok(took)
}

/// Medians of one phase, in microseconds, and the paired statistics.
struct Phase {
    unknown: f64,
    revoked: f64,
    /// Median of (revoked − unknown) over pairs sent back to back.
    paired_median: f64,
    /// Sign test: how often the revoked one was the slower, as a z-score (|z| above 3 is a
    /// systematic difference, however noisy the machine).
    z: f64,
    slower: usize,
    faster: usize,
}

impl Phase {
    fn diff(&self) -> f64 {
        self.revoked - self.unknown
    }

    fn describe(&self, what: &str) -> String {
        format!(
            "{what}: revoked {:.1} µs, unknown {:.1} µs, difference {:+.2} µs; paired median \
             {:+.2} µs; sign test z = {:+.2} (revoked slower in {} pairs, faster in {})",
            self.revoked,
            self.unknown,
            self.diff(),
            self.paired_median,
            self.z,
            self.slower,
            self.faster
        )
    }
}

/// `samples` pairs (ABBA order) after `warmup` pairs.
fn measure(
    samples: usize,
    warmup: usize,
    unknown: &str,
    revoked: &str,
    mut send: impl FnMut(&str) -> Result<Duration>,
) -> Result<Phase> {
    for _ in 0..warmup {
        send(unknown)?;
        send(revoked)?;
    }
    let mut u = Vec::with_capacity(samples);
    let mut r = Vec::with_capacity(samples);
    for i in 0..samples {
        if i % 2 == 0 {
            u.push(send(unknown)?);
            r.push(send(revoked)?);
        } else {
            r.push(send(revoked)?);
            u.push(send(unknown)?);
        }
    }
    let mut paired: Vec<f64> = u
        .iter()
        .zip(&r)
        .map(|(a, b)| micros(*b) - micros(*a))
        .collect();
    paired.sort_unstable_by(f64::total_cmp);
    let slower = paired.iter().filter(|d| **d > 0.0).count();
    let faster = paired.iter().filter(|d| **d < 0.0).count();
    let n = (slower + faster) as f64;
    Ok(Phase {
        unknown: micros(median(&mut u)),
        revoked: micros(median(&mut r)),
        paired_median: paired[paired.len() / 2],
        z: if n > 0.0 {
            (slower as f64 - faster as f64) / n.sqrt()
        } else {
            0.0
        },
        slower,
        faster,
    })
}

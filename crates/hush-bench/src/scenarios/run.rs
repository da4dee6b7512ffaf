//! `run`: what `hush run` adds to starting a command. With 50 secrets declared in a
//! `hush.toml`, `hush run -- /bin/true` and the floor, `env FOO=bar /bin/true` (a process that
//! sets a variable and execs the command, as `hush run` ends up doing), are timed alternately
//! (after warm-ups), and the medians compared: on the embedded store (target: at most 2.0×
//! the floor), then against a local `hush server` (`run-server`, target: at most 3.0×).
//!
//! When dotenvx is installed (`scripts/bench run` puts it in `target/bench-tools`), `dotenvx
//! run -f .env -- /bin/true` with the same 50 values is timed the same way and shown beside,
//! for information.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

use crate::rand::Rng;
use crate::report::{f2, Report, ResultFields};
use crate::server::Home;
use crate::Ctx;

/// `run`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Timed runs of each command (after the warm-ups).
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
    /// Untimed runs of each command first.
    #[arg(long, default_value_t = 3)]
    pub warmups: u32,
    /// Secrets declared in the manifest.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub secrets: u32,
    /// dotenvx, timed beside when it exists.
    #[arg(
        long,
        default_value = "target/bench-tools/node_modules/.bin/dotenvx",
        value_name = "PATH"
    )]
    pub dotenvx: PathBuf,
}

const TRUE: &str = "/bin/true";

/// Runs `cmd` once (output discarded), timed; fails if it fails.
fn time(cmd: &mut Command) -> Result<Duration> {
    let start = Instant::now();
    let status = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    let took = start.elapsed();
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(took)
}

/// The median of `d` (sorted in place).
fn median(d: &mut [Duration]) -> Duration {
    d.sort();
    let n = d.len();
    if n == 0 {
        return Duration::ZERO;
    }
    if n % 2 == 1 {
        d[n / 2]
    } else {
        (d[n / 2 - 1] + d[n / 2]) / 2
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Runs the scenario.
pub fn run(ctx: &Ctx, args: &RunArgs) -> Result<Report> {
    let home = Home::temp(&ctx.hush, None)?;
    home.init()?;
    let work = home.dir().join("work");
    std::fs::create_dir(&work).context("cannot make the work dir")?;
    let mut rng = Rng::from_time();
    let n = args.secrets as usize;
    let secrets: Vec<(String, String, String)> = (0..n)
        .map(|i| {
            (
                format!("BENCH_{i:02}"),
                format!("bench-run-{i:02}"),
                rng.alnum(40),
            )
        })
        .collect();
    eprintln!("run: creating {n} secrets on a local store …");
    let mut manifest = String::from("app = \"bench\"\n");
    let mut dotenv = String::new();
    for (var, key, value) in &secrets {
        home.run(&["secrets", "set", key], value.as_bytes())?;
        manifest.push_str(&format!("\n[secrets.{var}]\nkey = \"{key}\"\n"));
        dotenv.push_str(&format!("{var}={value}\n"));
    }
    std::fs::write(work.join("hush.toml"), &manifest).context("cannot write hush.toml")?;
    std::fs::write(work.join(".env"), &dotenv).context("cannot write .env")?;

    let hush_true = || {
        let mut c = home.command(["run", "--", TRUE]);
        c.current_dir(&work);
        c
    };
    let bare_true = || {
        let mut c = Command::new("env");
        c.args(["FOO=bar", TRUE]).current_dir(&work);
        c
    };
    check_injection(&home, &work, &secrets)?;
    time(&mut hush_true()).context("the first `hush run -- /bin/true`")?;

    let dotenvx = dotenvx_path(&args.dotenvx);
    let dotenvx_true = |p: &Path| {
        let mut c = Command::new(p);
        c.args(["run", "-f", ".env", "--", TRUE]).current_dir(&work);
        c
    };
    let dotenvx = match &dotenvx {
        Some(p) => match time(&mut dotenvx_true(p)) {
            Ok(_) => Some(p.clone()),
            Err(e) => {
                eprintln!("run: dotenvx does not work here, skipped: {e:#}");
                None
            }
        },
        None => {
            eprintln!(
                "run: no dotenvx at {} (scripts/bench run installs it): not timed",
                args.dotenvx.display()
            );
            None
        }
    };

    // hush and the bare spawn alternate, so drift hits both alike; dotenvx (a Node.js start of
    // about a quarter second, which leaves the caches cold for whatever runs next) is timed in
    // a block of its own afterwards.
    for _ in 0..args.warmups {
        time(&mut hush_true())?;
        time(&mut bare_true())?;
    }
    eprintln!(
        "run: timing {} runs each, alternating hush and bare …",
        args.runs
    );
    let (mut h, mut b, mut x) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..args.runs {
        h.push(time(&mut hush_true())?);
        b.push(time(&mut bare_true())?);
    }
    if let Some(p) = &dotenvx {
        eprintln!("run: timing {} runs of dotenvx …", args.runs);
        for _ in 0..args.warmups {
            time(&mut dotenvx_true(p))?;
        }
        for _ in 0..args.runs {
            x.push(time(&mut dotenvx_true(p))?);
        }
    }
    // Against a local server: the same manifest, the values from `/v1/resolve`.
    let (mut hs, mut bs) = (Vec::new(), Vec::new());
    {
        let server = home.serve()?;
        let token = home.token("read")?;
        let base = server.base();
        let hush_remote = || {
            let mut c = home.command(["run", "--", TRUE]);
            c.current_dir(&work)
                .env("HUSH_ADDR", &base)
                .env("HUSH_TOKEN", &token);
            c
        };
        time(&mut hush_remote()).context("the first `hush run -- /bin/true` against a server")?;
        for _ in 0..args.warmups {
            time(&mut hush_remote())?;
            time(&mut bare_true())?;
        }
        eprintln!(
            "run: timing {} runs each against a local server …",
            args.runs
        );
        for _ in 0..args.runs {
            hs.push(time(&mut hush_remote())?);
            bs.push(time(&mut bare_true())?);
        }
    }
    let (mhs, mbs) = (median(&mut hs), median(&mut bs));
    let server_ratio = ms(mhs) / ms(mbs);
    let server_target = 3.0;
    let mut rs = Report {
        scenario: "run-server".into(),
        figure: format!(
            "median hush run -- /bin/true against a local server {:.2} ms (min {:.2} ms)",
            ms(mhs),
            ms(hs[0])
        ),
        floor: format!(
            "median env FOO=bar /bin/true {:.2} ms (min {:.2} ms)",
            ms(mbs),
            ms(bs[0])
        ),
        ratio: format!("{server_ratio:.2}"),
        target: format!("<= {server_target:.1}x the floor"),
        met: server_ratio <= server_target,
        result: ResultFields {
            figure: f2(ms(mhs)),
            floor: f2(ms(mbs)),
            ratio: format!("{server_ratio:.2}"),
            target: format!("<={server_target}x"),
        },
        notes: vec![format!(
            "{} timed runs each after {} warm-ups, alternating; a read token over HTTP on 127.0.0.1, {n} secrets in one /v1/resolve, the fallback snapshot written each run",
            args.runs, args.warmups
        )],
        extra: vec![],
    };
    rs.extra("unit", "ms");
    rs.extra("runs", args.runs);
    rs.extra("secrets", n);
    rs.print();

    let (mh, mb) = (median(&mut h), median(&mut b));
    let added = ms(mh) - ms(mb);
    let ratio = ms(mh) / ms(mb);
    let target = 2.0;
    let mut notes = vec![format!(
        "{} timed runs each after {} warm-ups, hush and bare alternating, dotenvx in a block of its own; local SQLite store, {n} secrets declared in hush.toml",
        args.runs, args.warmups
    )];
    let mx = (!x.is_empty()).then(|| median(&mut x));
    match mx {
        Some(mx) => notes.push(format!(
            "dotenvx run -f .env -- /bin/true (same {n} values, informational): median {:.2} ms, {:.2} ms over the floor",
            ms(mx),
            ms(mx) - ms(mb)
        )),
        None => notes.push("dotenvx: not timed".into()),
    }
    let mut r = Report {
        scenario: "run".into(),
        figure: format!(
            "added {added:.2} ms (median hush run -- /bin/true {:.2} ms, min {:.2} ms)",
            ms(mh),
            ms(h[0])
        ),
        floor: format!(
            "median env FOO=bar /bin/true {:.2} ms (min {:.2} ms)",
            ms(mb),
            ms(b[0])
        ),
        ratio: format!("{ratio:.2} (hush run / floor)"),
        target: format!("<= {target:.1}x the floor"),
        met: ratio <= target,
        result: ResultFields {
            figure: f2(ms(mh)),
            floor: f2(ms(mb)),
            ratio: format!("{ratio:.2}"),
            target: format!("<={target}x"),
        },
        notes,
        extra: vec![],
    };
    r.extra("unit", "ms");
    r.extra("added_ms", f2(added));
    r.extra("hush_median_ms", f2(ms(mh)));
    r.extra("bare_median_ms", f2(ms(mb)));
    r.extra(
        "dotenvx_median_ms",
        mx.map_or_else(|| "none".to_string(), |d| f2(ms(d))),
    );
    r.extra("runs", args.runs);
    r.extra("secrets", n);
    Ok(r)
}

/// The dotenvx binary, if it is there.
fn dotenvx_path(p: &Path) -> Option<PathBuf> {
    p.is_file().then(|| p.canonicalize().ok()).flatten()
}

/// `hush run` really injects the declared values: a shell compares the first and last
/// variables with what was stored (given as other variables, which hush passes through).
fn check_injection(home: &Home, work: &Path, secrets: &[(String, String, String)]) -> Result<()> {
    let mut script = String::from("true");
    let mut cmd = home.command(["run", "--", "sh", "-c"]);
    for (i, (var, _, value)) in [secrets.first(), secrets.last()]
        .into_iter()
        .flatten()
        .enumerate()
    {
        script.push_str(&format!(" && test \"${var}\" = \"$EXPECT_{i}\""));
        cmd.env(format!("EXPECT_{i}"), value);
    }
    cmd.arg(script).current_dir(work);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .context("cannot run hush run")?;
    if !out.status.success() {
        bail!(
            "`hush run` did not give the command the stored values ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

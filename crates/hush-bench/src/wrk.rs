//! The load generator: Debian's `wrk`, an established tool, driven by a Lua script written to
//! a temp dir and run with `--latency` for percentiles. Its report is parsed here:
//! `Requests/sec:`, the `Latency Distribution` lines (units us, ms, s, m), the request count
//! and elapsed time, `Socket errors:` and `Non-2xx or 3xx responses:`. Lines the scripts print
//! from their `done` hook start with `BENCH ` and are handed back as they are.
//!
//! Every run is bounded: wrk's own `--duration`, and a kill by the guard when it has not
//! finished a minute after that.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context as _, Result};

use crate::child::ChildGuard;

/// How to load.
#[derive(Clone, Debug)]
pub struct Load {
    /// `wrk`'s path.
    pub wrk: PathBuf,
    /// `-t`.
    pub threads: u32,
    /// `-c`.
    pub connections: u32,
    /// `-d`.
    pub duration: Duration,
}

impl Load {
    /// wrk's command line, for reports.
    pub fn describe(&self) -> String {
        format!(
            "wrk -t{} -c{} -d{}s --timeout {TIMEOUT_S}s --latency",
            self.threads,
            self.connections,
            self.seconds()
        )
    }

    /// `-d` in whole seconds (at least 1).
    pub fn seconds(&self) -> u64 {
        self.duration.as_secs().max(1)
    }
}

/// wrk's `--timeout`, above its 2 s default: a slow answer is then counted in the latencies
/// (and shows in p99) rather than dropped as a socket error.
const TIMEOUT_S: u64 = 10;

/// Socket errors as wrk counts them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SocketErrors {
    /// Failed connects.
    pub connect: u64,
    /// Failed reads.
    pub read: u64,
    /// Failed writes.
    pub write: u64,
    /// Requests without an answer within wrk's timeout.
    pub timeout: u64,
}

impl SocketErrors {
    /// Their sum.
    pub fn total(&self) -> u64 {
        self.connect + self.read + self.write + self.timeout
    }
}

/// What one wrk run measured.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Responses per second.
    pub rps: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Responses received.
    pub requests: u64,
    /// The run's length as wrk measured it.
    pub elapsed: Duration,
    /// Responses whose status was neither 2xx nor 3xx.
    pub non_2xx: u64,
    /// Socket errors.
    pub errors: SocketErrors,
    /// `BENCH …` lines from the script, without the prefix.
    pub script_lines: Vec<String>,
    /// wrk's whole report.
    pub raw: String,
}

impl Outcome {
    /// Fails, showing wrk's report, when a response was not 2xx/3xx or a socket error
    /// happened: a benchmark of errors is no benchmark.
    pub fn require_clean(&self, what: &str) -> Result<()> {
        if self.non_2xx > 0 || self.errors.total() > 0 {
            bail!(
                "{what}: wrk saw {} non-2xx/3xx responses and socket errors {:?}; its report:\n{}",
                self.non_2xx,
                self.errors,
                self.raw
            );
        }
        if self.requests == 0 {
            bail!(
                "{what}: wrk completed no request; its report:\n{}",
                self.raw
            );
        }
        Ok(())
    }

    /// The value of `key=` in the script's `BENCH` lines.
    pub fn script_value(&self, key: &str) -> Option<u64> {
        self.script_lines.iter().find_map(|l| {
            l.split_whitespace()
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                .and_then(|v| v.parse().ok())
        })
    }
}

/// Fails early, before any store is made, when wrk cannot be run.
pub fn require(wrk: &Path) -> Result<()> {
    Command::new(wrk)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|_| ())
        .with_context(|| {
            format!(
                "cannot run {} (install it: apt-get install wrk, or use scripts/bench)",
                wrk.display()
            )
        })
}

/// Writes `lua` to `dir/name` for wrk's `--script`.
pub fn script(dir: &Path, name: &str, lua: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, lua).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// Escapes `s` for a double-quoted Lua string.
pub fn lua_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Runs wrk against `url` with `script`, bounded in time.
pub fn run(load: &Load, url: &str, script: &Path) -> Result<Outcome> {
    let secs = load.seconds();
    let mut cmd = Command::new(&load.wrk);
    cmd.arg(format!("-t{}", load.threads))
        .arg(format!("-c{}", load.connections))
        .arg(format!("-d{secs}s"))
        .arg("--timeout")
        .arg(format!("{TIMEOUT_S}s"))
        .arg("--latency")
        .arg("--script")
        .arg(script)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().with_context(|| {
        format!(
            "cannot run {} (install it: apt-get install wrk, or use scripts/bench)",
            load.wrk.display()
        )
    })?;
    let mut guard = ChildGuard::new(child, "wrk");
    let mut stdout = guard.child_mut().stdout.take();
    let mut stderr = guard.child_mut().stderr.take();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(o) = stdout.as_mut() {
            let _ = o.read_to_string(&mut s);
        }
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let status = guard.wait_for(Duration::from_secs(secs + 60))?;
    let raw = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    if !status.success() {
        bail!("wrk failed ({status}):\n{raw}{err}");
    }
    parse(&raw).with_context(|| format!("cannot read wrk's report:\n{raw}{err}"))
}

/// A wrk duration such as `562.00us`, `1.23ms`, `2.00s` or `1.00m`.
fn duration(text: &str) -> Option<Duration> {
    let (num, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = text.strip_suffix('h') {
        (n, 3600.0)
    } else {
        return None;
    };
    let v: f64 = num.trim().parse().ok()?;
    Some(Duration::from_secs_f64(v * scale))
}

/// Parses wrk's report.
pub fn parse(raw: &str) -> Result<Outcome> {
    let mut o = Outcome {
        raw: raw.to_string(),
        ..Outcome::default()
    };
    let (mut got_rps, mut got_p50, mut got_p99) = (false, false, false);
    let mut in_distribution = false;
    for line in raw.lines() {
        let t = line.trim();
        if let Some(rest) = line.strip_prefix("BENCH ") {
            o.script_lines.push(rest.to_string());
            continue;
        }
        if t.starts_with("Latency Distribution") {
            in_distribution = true;
            continue;
        }
        if in_distribution {
            let mut parts = t.split_whitespace();
            match (parts.next(), parts.next()) {
                (Some(pct), Some(value)) if pct.ends_with('%') => {
                    let d = duration(value)
                        .with_context(|| format!("bad latency {value:?} in {line:?}"))?;
                    match pct {
                        "50%" | "50.000%" => {
                            o.p50 = d;
                            got_p50 = true;
                        }
                        "99%" | "99.000%" => {
                            o.p99 = d;
                            got_p99 = true;
                        }
                        _ => {}
                    }
                    continue;
                }
                _ => in_distribution = false,
            }
        }
        if let Some(v) = t.strip_prefix("Requests/sec:") {
            o.rps = v.trim().parse().context("bad Requests/sec")?;
            got_rps = true;
        } else if let Some(v) = t.strip_prefix("Non-2xx or 3xx responses:") {
            o.non_2xx = v.trim().parse().context("bad Non-2xx count")?;
        } else if let Some(v) = t.strip_prefix("Socket errors:") {
            for part in v.split(',') {
                let mut kv = part.split_whitespace();
                let (Some(k), Some(n)) = (kv.next(), kv.next()) else {
                    continue;
                };
                let n: u64 = n.parse().context("bad socket error count")?;
                match k {
                    "connect" => o.errors.connect = n,
                    "read" => o.errors.read = n,
                    "write" => o.errors.write = n,
                    "timeout" => o.errors.timeout = n,
                    _ => {}
                }
            }
        } else if let Some((count, rest)) = t.split_once(" requests in ") {
            if let Ok(n) = count.trim().parse() {
                o.requests = n;
                if let Some(d) = rest.split(',').next().and_then(duration) {
                    o.elapsed = d;
                }
            }
        }
    }
    if !(got_rps && got_p50 && got_p99) {
        bail!("no Requests/sec or no 50%/99% latency lines");
    }
    Ok(o)
}

/// A duration in milliseconds, for printing.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 10s test @ http://127.0.0.1:1234/v1/secrets/k
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.61ms    2.01ms  42.10ms   93.11%
    Req/Sec    23.50k     1.82k   28.40k    71.50%
  Latency Distribution
     50%  562.00us
     75%    1.58ms
     90%    3.48ms
     99%   10.20ms
  467811 requests in 10.01s, 120.45MB read
  Socket errors: connect 0, read 2, write 0, timeout 5
  Non-2xx or 3xx responses: 12
Requests/sec:  46734.21
Transfer/sec:     12.03MB
BENCH sent=10 created=9
";

    #[test]
    fn parses_every_figure_of_a_report() {
        let o = parse(REPORT).unwrap();
        assert!((o.rps - 46734.21).abs() < 1e-6);
        assert_eq!(o.p50, Duration::from_micros(562));
        assert_eq!(o.p99, Duration::from_micros(10_200));
        assert_eq!(o.requests, 467_811);
        assert_eq!(o.elapsed, Duration::from_millis(10_010));
        assert_eq!(o.non_2xx, 12);
        assert_eq!(o.errors.read, 2);
        assert_eq!(o.errors.timeout, 5);
        assert_eq!(o.script_value("created"), Some(9));
        assert_eq!(o.script_value("sent"), Some(10));
        assert!(o.require_clean("test").is_err());
    }

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(duration("1.50s"), Some(Duration::from_millis(1500)));
        assert_eq!(duration("2.00m"), Some(Duration::from_secs(120)));
        assert_eq!(duration("7.00us"), Some(Duration::from_micros(7)));
        assert_eq!(duration("bad"), None);
    }

    #[test]
    fn a_report_without_latencies_is_refused() {
        assert!(parse("Requests/sec: 1.0\n").is_err());
    }

    #[test]
    fn lua_strings_are_escaped() {
        assert_eq!(lua_string(r#"{"a":"b\c"}"#), r#""{\"a\":\"b\\c\"}""#);
    }
}

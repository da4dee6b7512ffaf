//! `mask`: the throughput of `hush run`'s output masker, in process. 100 secrets of 32 random
//! characters; a log-like stream (lines of pseudo-random words, 100 MB by default, with one
//! of the secrets planted every ~64 KB) fed in 64 KiB chunks. Masking (`Masker::push` over
//! every chunk, then `finish`) is timed against the floor, a plain copy of the same chunks into
//! an output buffer. MB means 10^6 bytes. Target: 500 MB/s or more (absolute). The output is
//! checked: no planted value survives, and there are as many `***` as values planted.

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use hush_mask::{Masker, Patterns, MASK};

use crate::rand::Rng;
use crate::report::{f2, Report, ResultFields};

/// `mask`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct MaskArgs {
    /// Size of the stream in MB (10^6 bytes).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=10000))]
    pub megabytes: u64,
    /// Secrets to mask.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub secrets: u32,
    /// Timed passes of each (the median is reported).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub passes: u32,
}

/// Chunk size, as a pipe read gives it.
const CHUNK: usize = 64 * 1024;
/// About how far apart planted values are.
const PLANT_EVERY: usize = 64 * 1024;

const WORDS: &[&str] = &[
    "INFO",
    "WARN",
    "DEBUG",
    "request",
    "response",
    "user",
    "session",
    "GET",
    "POST",
    "/api/v1",
    "status=200",
    "status=404",
    "latency_ms",
    "cache",
    "miss",
    "hit",
    "db",
    "query",
    "rows",
    "connection",
    "opened",
    "closed",
    "retry",
    "backoff",
    "worker",
    "job",
    "queued",
    "done",
    "payload",
    "bytes",
    "upstream",
    "timeout",
    "tls",
    "handshake",
    "ok",
    "error",
    "id",
    "trace",
    "span",
    "checkout",
    "payment",
    "invoice",
    "region=eu-west-1",
    "pod",
    "node",
];

/// The stream and how many values were planted in it.
fn generate(size: usize, secrets: &[String], rng: &mut Rng) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(size + 256);
    let mut planted = 0;
    let mut next_plant = PLANT_EVERY / 2 + rng.below(PLANT_EVERY as u64) as usize;
    let mut line_no = 0u64;
    while out.len() < size {
        line_no += 1;
        out.extend_from_slice(format!("2025-01-01T00:00:{:02}Z ", line_no % 60).as_bytes());
        let words = 6 + rng.below(12);
        for _ in 0..words {
            out.extend_from_slice(WORDS[rng.below(WORDS.len() as u64) as usize].as_bytes());
            out.push(b' ');
        }
        if out.len() >= next_plant {
            let s = &secrets[planted % secrets.len()];
            out.extend_from_slice(b"token=");
            out.extend_from_slice(s.as_bytes());
            out.push(b' ');
            planted += 1;
            next_plant = out.len() + PLANT_EVERY / 2 + rng.below(PLANT_EVERY as u64) as usize;
        }
        out.extend_from_slice(format!("seq={line_no}\n").as_bytes());
    }
    (out, planted)
}

/// Masks every chunk; returns the output and the time taken.
fn mask_pass(patterns: &Patterns, chunks: &[&[u8]], capacity: usize) -> (Vec<u8>, Duration) {
    let mut out = Vec::with_capacity(capacity);
    let start = Instant::now();
    let mut m = Masker::new(patterns);
    for c in chunks {
        let o = m.push(black_box(c));
        out.extend_from_slice(&o);
    }
    out.extend_from_slice(&m.finish());
    let took = start.elapsed();
    (black_box(out), took)
}

/// Copies every chunk; returns the output and the time taken.
fn copy_pass(chunks: &[&[u8]], capacity: usize) -> (Vec<u8>, Duration) {
    let mut out = Vec::with_capacity(capacity);
    let start = Instant::now();
    for c in chunks {
        out.extend_from_slice(black_box(c));
    }
    let took = start.elapsed();
    (black_box(out), took)
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        if &hay[i..i + needle.len()] == needle {
            n += 1;
            i += needle.len();
        } else {
            i += 1;
        }
    }
    n
}

/// Runs the scenario.
pub fn run(args: &MaskArgs) -> Result<Report> {
    let size = (args.megabytes * 1_000_000) as usize;
    let mut rng = Rng::from_time();
    let secrets: Vec<String> = (0..args.secrets).map(|_| rng.alnum(32)).collect();
    let (stream, planted) = generate(size, &secrets, &mut rng);
    if count(&stream, MASK) != 0 {
        bail!("the generated stream already holds the mask");
    }
    let built = Instant::now();
    let patterns = Patterns::new(secrets.iter().map(|s| s.as_bytes()));
    let build_time = built.elapsed();
    let chunks: Vec<&[u8]> = stream.chunks(CHUNK).collect();
    let mb = stream.len() as f64 / 1e6;
    eprintln!(
        "mask: {mb:.1} MB in {} chunks of {CHUNK} bytes, {} secrets, {planted} planted; {} passes each",
        chunks.len(),
        secrets.len(),
        args.passes
    );

    let (mut mask_times, mut copy_times) = (Vec::new(), Vec::new());
    let mut checked = false;
    for _ in 0..args.passes {
        let (copied, t) = copy_pass(&chunks, stream.len());
        copy_times.push(t);
        if copied.len() != stream.len() {
            bail!("the copy lost bytes");
        }
        drop(copied);
        let (masked, t) = mask_pass(&patterns, &chunks, stream.len());
        mask_times.push(t);
        if !checked {
            check(&masked, &secrets, planted)?;
            checked = true;
        }
    }
    let (tm, tc) = (median(mask_times), median(copy_times));
    let rate = mb / tm.as_secs_f64();
    let floor = mb / tc.as_secs_f64();
    let ratio = rate / floor;
    let target = 500.0;
    let mut r = Report {
        scenario: "mask".into(),
        figure: format!(
            "{rate:.1} MB/s masked (MB = 10^6 bytes; {mb:.1} MB in {:.1} ms, median of {})",
            tm.as_secs_f64() * 1e3,
            args.passes
        ),
        floor: format!(
            "{floor:.1} MB/s plain copy of the same chunks ({:.1} ms)",
            tc.as_secs_f64() * 1e3
        ),
        ratio: format!("{ratio:.4} (mask / copy)"),
        target: format!("{target} MB/s or more (absolute)"),
        met: rate >= target,
        result: ResultFields {
            figure: format!("{rate:.1}"),
            floor: format!("{floor:.1}"),
            ratio: format!("{ratio:.4}"),
            target: format!(">={target}MB/s"),
        },
        notes: vec![
            format!(
                "{} secrets of 32 characters ({:.1} ms to build the patterns), {CHUNK}-byte chunks",
                secrets.len(),
                build_time.as_secs_f64() * 1e3
            ),
            format!("check: no planted value in the output; {planted} planted = {planted} ***"),
        ],
        extra: vec![],
    };
    r.extra("unit", "MB/s");
    r.extra("megabytes", f2(mb));
    r.extra("planted", planted);
    r.extra("secrets", secrets.len());
    Ok(r)
}

/// The masked output holds no secret and one `***` per planted value. The secrets are 32
/// letters and digits, so any copy of one lies inside a run of at least 32 such bytes: only
/// those runs are searched.
fn check(masked: &[u8], secrets: &[String], planted: usize) -> Result<()> {
    let masks = count(masked, MASK);
    if masks != planted {
        bail!("{planted} values were planted but the output holds {masks} ***");
    }
    let set: std::collections::HashSet<&[u8]> = secrets.iter().map(|s| s.as_bytes()).collect();
    let len = secrets.iter().map(|s| s.len()).min().unwrap_or(0);
    for run in masked.split(|b| !b.is_ascii_alphanumeric()) {
        if run.len() >= len && run.windows(len).any(|w| set.contains(w)) {
            bail!("a planted value survived masking");
        }
    }
    Ok(())
}

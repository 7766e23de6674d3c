//! Throughput of `oktaflow normalize` against a plain serde_json `Value` round trip.
//!
//! Generates realistic Okta events with `oktaflow_sim::generate::EventGenerator` into
//! a temporary NDJSON file, then, alternating in the same run, times
//!
//! * (a) the optimized `oktaflow normalize` binary reading that file, once per output
//!   schema (`--schema ecs`, `elastic`, `ocsf`), output to `/dev/null` (measured from
//!   spawn to exit, peak RSS: the child's `VmHWM`), and
//! * (b) an identity pass: every line parsed into a `serde_json::Value` and
//!   serialized again, with the same I/O shape (256 KiB `BufReader` lines into a
//!   256 KiB `BufWriter` on `/dev/null`),
//!
//! and prints them, the ratio of each schema (a / b: lower is better; issue 11's goal
//! is ≤ 0.6 for `ecs`, ≤ 0.8 for the others) and the peak RSS of (a).
//!
//! Run: `cargo bench -p oktaflow-benches --bench normalize_throughput` (builds the
//! release `oktaflow` binary first, or set `OKTAFLOW_BIN`).
//! Environment: `OKTAFLOW_BENCH_EVENTS` (default 200000), `OKTAFLOW_BENCH_RUNS`
//! (default 3; the median is reported), `OKTAFLOW_BENCH_SEED` (default 42).

mod support;

use std::collections::HashSet;
use std::error::Error;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::DateTime;
use oktaflow_sim::generate::EventGenerator;

const IO_BUFFER_BYTES: usize = 256 * 1024;

/// The output schemas timed (`oktaflow normalize --schema ...`).
const SCHEMAS: &[&str] = &["ecs", "elastic", "ocsf"];

fn main() -> Result<(), Box<dyn Error>> {
    let binary = support::oktaflow_binary()?;
    println!("oktaflow binary: {}", binary.display());
    let events = env_number("OKTAFLOW_BENCH_EVENTS", 200_000)?;
    let runs = env_number("OKTAFLOW_BENCH_RUNS", 3)?.max(1);
    let seed = env_number("OKTAFLOW_BENCH_SEED", 42)?;

    let dir = tempfile::tempdir()?;
    let input = dir.path().join("events.ndjson");
    let started = Instant::now();
    let corpus = generate(&input, events, seed)?;
    println!(
        "normalize_throughput: {} events, {:.1} MiB ({} B/event on average), {} distinct user agents \
         (generated in {:.1} s, seed {seed})",
        corpus.events,
        mib(corpus.bytes),
        corpus.bytes / corpus.events.max(1),
        corpus.user_agents,
        started.elapsed().as_secs_f64(),
    );

    println!("load average before: {}", load_average());
    // One timing series per output schema, against the same identity pass.
    let mut normalize_times = vec![Vec::new(); SCHEMAS.len()];
    let mut identity_times = Vec::new();
    let mut ratios = vec![Vec::new(); SCHEMAS.len()];
    let mut peak_rss_kib = 0;
    for run in 1..=runs {
        let identity = time_identity(&input)?;
        identity_times.push(identity);
        for (i, schema) in SCHEMAS.iter().enumerate() {
            let (elapsed, rss_kib) =
                time_normalize(&input, &dir.path().join("dead.ndjson"), schema)?;
            let ratio = elapsed.as_secs_f64() / identity.as_secs_f64();
            println!(
                "run {run}/{runs}: oktaflow normalize --schema {schema} {} (peak RSS {:.1} MiB) | serde_json Value round trip {} | ratio {ratio:.2}",
                rate(elapsed, &corpus),
                rss_kib as f64 / 1024.0,
                rate(identity, &corpus),
            );
            ratios[i].push(ratio);
            normalize_times[i].push(elapsed);
            peak_rss_kib = peak_rss_kib.max(rss_kib);
        }
    }
    let identity = median(&mut identity_times);
    println!("median of {runs} run(s):");
    println!("  serde_json Value round trip  {}", rate(identity, &corpus));
    for (i, schema) in SCHEMAS.iter().enumerate() {
        let normalize = median(&mut normalize_times[i]);
        println!(
            "  oktaflow normalize --schema {schema:<8} {}",
            rate(normalize, &corpus)
        );
        ratios[i].sort_by(f64::total_cmp);
        println!(
            "  ratio {schema:<8} / identity     {:.2}  (median of the per-run ratios; goal: ecs <= 0.6, others <= 0.8)",
            ratios[i][ratios[i].len() / 2]
        );
    }
    println!(
        "  peak RSS of oktaflow normalize {:.1} MiB (max over runs and schemas)",
        peak_rss_kib as f64 / 1024.0
    );
    println!(
        "load average after: {} (numbers from a busy machine are noisy)",
        load_average()
    );
    Ok(())
}

/// The 1/5/15-minute load averages, to judge how busy the machine was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// What was generated.
struct Corpus {
    events: u64,
    bytes: u64,
    user_agents: usize,
}

/// Writes `count` generated events, one per line, published 250 ms apart.
fn generate(path: &Path, count: u64, seed: u64) -> Result<Corpus, Box<dyn Error>> {
    let mut generator = EventGenerator::new(seed);
    let mut out = BufWriter::with_capacity(IO_BUFFER_BYTES, File::create(path)?);
    let start = DateTime::from_timestamp(1_714_521_600, 0).ok_or("bad start time")?;
    let mut user_agents = HashSet::new();
    let mut bytes = 0u64;
    for i in 0..count {
        let published = start + chrono::Duration::milliseconds(250 * i as i64);
        let event = generator.event(published);
        if let Some(ua) = raw_user_agent(&event) {
            if !user_agents.contains(ua) {
                user_agents.insert(ua.to_owned());
            }
        }
        out.write_all(event.as_bytes())?;
        out.write_all(b"\n")?;
        bytes += event.len() as u64 + 1;
    }
    out.flush()?;
    Ok(Corpus {
        events: count,
        bytes,
        user_agents: user_agents.len(),
    })
}

/// The `client.userAgent.rawUserAgent` string of a compact LogEvent, if any.
fn raw_user_agent(event: &str) -> Option<&str> {
    const KEY: &str = "\"rawUserAgent\":\"";
    let start = event.find(KEY)? + KEY.len();
    let len = event[start..].find('"')?;
    Some(&event[start..start + len])
}

/// Runs the release `oktaflow normalize` on `input` with output to /dev/null;
/// returns the wall time from spawn to exit and the child's peak RSS in KiB.
fn time_normalize(
    input: &Path,
    dead_letter: &Path,
    schema: &str,
) -> Result<(Duration, u64), Box<dyn Error>> {
    let mut cmd = support::oktaflow();
    cmd.arg("normalize")
        .arg("--schema")
        .arg(schema)
        .arg("--input")
        .arg(input)
        .arg("--dead-letter")
        .arg(dead_letter);
    match support::timed(&mut cmd) {
        Ok(run) => Ok((run.elapsed, run.rss_kib)),
        Err(e) => {
            let dead = std::fs::read_to_string(dead_letter).unwrap_or_default();
            Err(format!(
                "{e}; {} generated events rejected, the first: {}",
                dead.lines().count(),
                dead.lines().next().unwrap_or("(none)")
            )
            .into())
        }
    }
}

/// Parses every line into a `serde_json::Value` and serializes it again to /dev/null.
fn time_identity(input: &Path) -> Result<Duration, Box<dyn Error>> {
    let started = Instant::now();
    let mut reader = BufReader::with_capacity(IO_BUFFER_BYTES, File::open(input)?);
    let mut out = BufWriter::with_capacity(IO_BUFFER_BYTES, File::create("/dev/null")?);
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let value: serde_json::Value = serde_json::from_slice(&line)?;
        serde_json::to_writer(&mut out, &value)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(started.elapsed())
}

fn rate(elapsed: Duration, corpus: &Corpus) -> String {
    let secs = elapsed.as_secs_f64();
    format!(
        "{secs:6.2} s  {:8.0} events/s  {:6.1} MiB/s",
        corpus.events as f64 / secs,
        mib(corpus.bytes) / secs
    )
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn env_number(name: &str, default: u64) -> Result<u64, Box<dyn Error>> {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .map_err(|e| format!("{name}={value:?}: {e}").into()),
        Err(_) => Ok(default),
    }
}

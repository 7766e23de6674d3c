//! End-to-end backfill speed of `oktaflow run` against the in-process Okta API simulator.
//!
//! * (a) No rate limit (the simulator announces a huge one, so the pacer never waits): a
//!   backlog of N events (default 200,000) backfilled into the file sink with `--once`, with
//!   `--backfill-concurrency` 1 and 4; wall time from spawn to exit and peak RSS (`wait4`).
//!   Compared with `oktaflow normalize` alone on the same events (fetched from the simulator
//!   once, saved as NDJSON) writing to a file in the same directory. Target: pipeline ≤ 1.5×
//!   normalize.
//! * (b) The org allows 600 requests/min and each page takes 50 ms; oktaflow's default share
//!   is 50 %, i.e. 300 requests/min. Achieved request rate (requests the simulator received ÷
//!   the pipeline's wall time) as a share of those 300/min. Target ≥ 90 %. Peak RSS < 150 MB.
//!
//! Run: `cargo bench -p oktaflow-benches --bench pipeline_backfill`.
//! Environment: `OKTAFLOW_BENCH_EVENTS` (default 200000), `OKTAFLOW_BENCH_SEED` (default 42),
//! `OKTAFLOW_BENCH_RUNS` (interleaved rounds of (a), default 3; medians are compared),
//! `OKTAFLOW_BENCH_SKIP_RATE_LIMITED=1` skips (b).

mod support;

use std::error::Error;
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use oktaflow_fetch::{Auth, ClientConfig, LogSource, OrgUrl, Secret, SourceOptions, StartPoint};
use oktaflow_sim::{SimConfig, SimHandle, Simulator};
use support::{count_lines, env_number, load_average, report, timed};

const TOKEN: &str = "bench-token";

fn main() -> Result<(), Box<dyn Error>> {
    let binary = support::oktaflow_binary()?;
    println!("oktaflow binary: {}", binary.display());
    let events = env_number("OKTAFLOW_BENCH_EVENTS", 200_000)? as usize;
    let seed = env_number("OKTAFLOW_BENCH_SEED", 42)?;
    let runs = env_number("OKTAFLOW_BENCH_RUNS", 3)?.max(1) as usize;
    let skip_b = std::env::var("OKTAFLOW_BENCH_SKIP_RATE_LIMITED").is_ok_and(|v| v == "1");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    println!("pipeline_backfill: {events} events, seed {seed}");
    println!("load average before: {}", load_average());

    // (a) No rate limit.
    let started = Instant::now();
    let sim = runtime.block_on(start_sim(SimConfig {
        seed,
        events,
        late_fraction: 0.0,
        rate_limit_per_minute: Some(100_000_000),
        api_token: TOKEN.into(),
        ..SimConfig::default()
    }))?;
    println!(
        "simulator: {} events generated in {:.1} s",
        sim.visible_events(),
        started.elapsed().as_secs_f64()
    );
    let raw = dir.path().join("raw.ndjson");
    let fetched = runtime.block_on(fetch_all(&sim, &raw))?;
    println!(
        "fetched once to NDJSON for `oktaflow normalize`: {fetched} events, {:.1} MiB",
        std::fs::metadata(&raw)?.len() as f64 / (1024.0 * 1024.0)
    );

    // The machine's speed drifts between runs (a shared VM): normalize and the pipeline runs
    // are interleaved, repeated, and compared by their medians.
    let normalized = dir.path().join("normalized.ndjson");
    let mut normalize_runs = Vec::new();
    let mut pipeline_runs: [Vec<support::Run>; 2] = [Vec::new(), Vec::new()];
    for round in 1..=runs {
        println!("round {round} of {runs}");
        let normalize = timed(
            support::oktaflow()
                .arg("normalize")
                .arg("--input")
                .arg(&raw)
                .arg("--output")
                .arg(&normalized)
                .arg("--dead-letter")
                .arg(dir.path().join("normalize-dead.ndjson")),
        )?;
        report("  oktaflow normalize (file → file)", fetched, &normalize);
        normalize_runs.push(normalize);
        for (slot, k) in [1, 4].into_iter().enumerate() {
            let out = dir.path().join(format!("pipeline-k{k}.ndjson"));
            let state = dir.path().join(format!("state-k{k}-{round}"));
            let run = timed(&mut run_command(&sim, &out, &state, k))?;
            let written = count_lines(&out)?;
            if written != fetched {
                return Err(
                    format!("pipeline K={k} wrote {written} events, expected {fetched}").into(),
                );
            }
            report(
                &format!("  oktaflow run --once, backfill concurrency {k}"),
                written,
                &run,
            );
            std::fs::remove_file(&out)?;
            pipeline_runs[slot].push(run);
        }
    }
    let median = |runs: &[support::Run], of: fn(&support::Run) -> f64| {
        let mut values: Vec<f64> = runs.iter().map(of).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let wall = |r: &support::Run| r.elapsed.as_secs_f64();
    let cpu = |r: &support::Run| r.cpu.as_secs_f64();
    let rss = |r: &support::Run| r.rss_kib as f64 / 1024.0;
    let normalize_wall = median(&normalize_runs, wall);
    let normalize_cpu = median(&normalize_runs, cpu);
    println!(
        "medians of {runs}: oktaflow normalize {normalize_wall:.2} s = {:.0} events/s, CPU {normalize_cpu:.2} s",
        fetched as f64 / normalize_wall
    );
    for (slot, k) in [1, 4].into_iter().enumerate() {
        let runs = &pipeline_runs[slot];
        let (w, c) = (median(runs, wall), median(runs, cpu));
        let ratios: Vec<String> = runs
            .iter()
            .zip(&normalize_runs)
            .map(|(p, n)| format!("{:.2}", wall(p) / wall(n)))
            .collect();
        println!(
            "  K={k}: {w:.2} s = {:.0} events/s, CPU {c:.2} s, peak RSS {:.1} MiB (max); \
             pipeline / normalize: wall time {:.2} (target ≤ 1.5; per round {}), CPU time {:.2}",
            fetched as f64 / w,
            runs.iter().map(rss).fold(0.0, f64::max),
            w / normalize_wall,
            ratios.join(", "),
            c / normalize_cpu
        );
    }
    runtime.block_on(sim.shutdown());

    if skip_b {
        return Ok(());
    }
    // (b) 600 requests/min, 50 ms per page, default share 0.5.
    let sim = runtime.block_on(start_sim(SimConfig {
        seed,
        events,
        late_fraction: 0.0,
        rate_limit_per_minute: Some(600),
        page_latency: Duration::from_millis(50),
        api_token: TOKEN.into(),
        ..SimConfig::default()
    }))?;
    let out = dir.path().join("pipeline-limited.ndjson");
    let state = dir.path().join("state-limited");
    let run = timed(&mut run_command(&sim, &out, &state, 4))?;
    let time = run.elapsed;
    let written = count_lines(&out)?;
    let stats = sim.stats();
    report(
        "oktaflow run --once, 600 req/min org limit, 50 ms/page, K=4",
        written,
        &run,
    );
    let allowed_per_minute = 600.0 * 0.5;
    let achieved_per_minute = stats.requests as f64 / time.as_secs_f64() * 60.0;
    println!(
        "  requests: {} ({} pages, {} answered 429) in {:.1} s = {:.1}/min of {:.0}/min allowed: {:.1} % (target ≥ 90 %)",
        stats.requests,
        stats.pages_served,
        stats.rate_limited,
        time.as_secs_f64(),
        achieved_per_minute,
        allowed_per_minute,
        100.0 * achieved_per_minute / allowed_per_minute
    );
    runtime.block_on(sim.shutdown());
    println!("load average after: {}", load_average());
    Ok(())
}

async fn start_sim(config: SimConfig) -> Result<SimHandle, Box<dyn Error>> {
    Ok(Simulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0))).await?)
}

/// Polls the whole org once with the fetch library; writes the raw events as NDJSON.
async fn fetch_all(sim: &SimHandle, path: &Path) -> Result<usize, Box<dyn Error>> {
    let org = OrgUrl::from_base_url(&sim.base_url())?;
    let mut config = ClientConfig::new(org, Auth::ApiToken(Secret::new(TOKEN)));
    config.rate_limit_share = 1.0;
    let start = StartPoint::Since(Utc::now() - TimeDelta::days(2));
    let mut source = LogSource::new(config, start, SourceOptions::default())?;
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    let mut count = 0;
    loop {
        let page = source.next_page().await?;
        for event in &page.events {
            out.write_all(event.as_bytes())?;
            out.write_all(b"\n")?;
        }
        count += page.events.len();
        if page.caught_up {
            break;
        }
    }
    out.flush()?;
    Ok(count)
}

fn run_command(sim: &SimHandle, out: &Path, state: &Path, k: usize) -> Command {
    let mut cmd = support::oktaflow();
    cmd.env_clear()
        .env("OKTA_API_TOKEN", TOKEN)
        .env("OKTAFLOW_PAGE_SIZE", "1000")
        .env("RUST_LOG", "warn")
        .args(["run", "--once", "--start-from", "2d", "--okta-url"])
        .arg(sim.base_url())
        .arg("--state-dir")
        .arg(state)
        .arg("--sink")
        .arg(format!("file:{}", out.display()))
        .arg("--backfill-concurrency")
        .arg(k.to_string());
    cmd
}

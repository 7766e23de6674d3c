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
//! Run: `cargo bench -p oktaflow --bench pipeline_backfill`.
//! Environment: `OKTAFLOW_BENCH_EVENTS` (default 200000), `OKTAFLOW_BENCH_SEED` (default 42),
//! `OKTAFLOW_BENCH_SKIP_RATE_LIMITED=1` skips (b).

use std::error::Error;
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use oktaflow_fetch::{Auth, ClientConfig, LogSource, OrgUrl, Secret, SourceOptions, StartPoint};
use oktaflow_sim::{SimConfig, SimHandle, Simulator};

const TOKEN: &str = "bench-token";

fn main() -> Result<(), Box<dyn Error>> {
    let events = env_number("OKTAFLOW_BENCH_EVENTS", 200_000)? as usize;
    let seed = env_number("OKTAFLOW_BENCH_SEED", 42)?;
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

    let normalized = dir.path().join("normalized.ndjson");
    let normalize = timed(
        Command::new(env!("CARGO_BIN_EXE_oktaflow"))
            .arg("normalize")
            .arg("--input")
            .arg(&raw)
            .arg("--output")
            .arg(&normalized)
            .arg("--dead-letter")
            .arg(dir.path().join("normalize-dead.ndjson")),
    )?;
    report("oktaflow normalize (file → file)", fetched, &normalize);

    for k in [1, 4] {
        let out = dir.path().join(format!("pipeline-k{k}.ndjson"));
        let state = dir.path().join(format!("state-k{k}"));
        let run = timed(&mut run_command(&sim, &out, &state, k))?;
        let written = count_lines(&out)?;
        if written != fetched {
            return Err(
                format!("pipeline K={k} wrote {written} events, expected {fetched}").into(),
            );
        }
        report(
            &format!("oktaflow run --once, backfill concurrency {k}"),
            written,
            &run,
        );
        println!(
            "  pipeline / normalize: wall time {:.2} (target ≤ 1.5), CPU time {:.2}",
            run.elapsed.as_secs_f64() / normalize.elapsed.as_secs_f64(),
            run.cpu.as_secs_f64() / normalize.cpu.as_secs_f64()
        );
        std::fs::remove_file(&out)?;
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
            out.write_all(event.get().as_bytes())?;
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
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_oktaflow"));
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

/// Runs a command to its end: wall time and peak RSS (KiB).
///
/// The peak is the child's own `VmHWM`, sampled from `/proc` every 10 ms until it exits:
/// `wait4`'s `ru_maxrss` would include this (large, simulator-holding) process's RSS, which
/// Linux carries over into a forked child's high-water mark.
fn timed(cmd: &mut Command) -> Result<Run, Box<dyn Error>> {
    let started = Instant::now();
    let child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).spawn()?;
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(kib) = vm_hwm_kib(pid) {
                    peak = peak.max(kib);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            peak
        })
    };
    let waited = wait_with_rusage(pid);
    let elapsed = started.elapsed();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let rss = sampler.join().map_err(|_| "the RSS sampler panicked")?;
    let (code, cpu) = waited?;
    if code != Some(0) {
        return Err(format!("{cmd:?} exited with {code:?}").into());
    }
    Ok(Run {
        elapsed,
        cpu,
        rss_kib: rss,
    })
}

/// What one child run took.
struct Run {
    /// Wall time from spawn to exit.
    elapsed: Duration,
    /// User + system CPU time of the child.
    cpu: Duration,
    /// Peak RSS in KiB.
    rss_kib: u64,
}

/// Reaps the child with `wait4`, which also reports its resource usage.
fn wait_with_rusage(pid: u32) -> Result<(Option<i32>, Duration), Box<dyn Error>> {
    let pid = libc::pid_t::try_from(pid)?;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own unreaped child (its `Child` is never waited on), and both
        // out-pointers point to live, writable locals.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error.into());
        }
    }
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    let seconds = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    Ok((code, seconds(usage.ru_utime) + seconds(usage.ru_stime)))
}

/// `VmHWM` of a running process in KiB (`None` once it exited).
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn report(what: &str, events: usize, run: &Run) {
    println!(
        "{what}: {events} events in {:.2} s = {:.0} events/s, CPU {:.2} s, peak RSS {:.1} MiB",
        run.elapsed.as_secs_f64(),
        events as f64 / run.elapsed.as_secs_f64(),
        run.cpu.as_secs_f64(),
        run.rss_kib as f64 / 1024.0
    );
}

fn count_lines(path: &Path) -> Result<usize, Box<dyn Error>> {
    let bytes = std::fs::read(path)?;
    Ok(bytes.iter().filter(|&&b| b == b'\n').count())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn env_number(name: &str, default: u64) -> Result<u64, Box<dyn Error>> {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .map_err(|e| format!("{name}={value:?}: {e}").into()),
        Err(_) => Ok(default),
    }
}

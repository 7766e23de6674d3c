//! End-to-end backfill speed of `oktaflow run --once` into each store, from the in-process
//! Okta API simulator (no rate limit), on loopback.
//!
//! Sinks: the file sink (baseline), the Elasticsearch `_bulk` **emulator**
//! (`oktaflow_store_emulators::elasticsearch::EsEmulator`, in this process: it is not Elasticsearch, and
//! it shares the machine's cores with oktaflow), and ClickHouse when
//! `OKTAFLOW_TEST_CLICKHOUSE_URL` is set (a table made with `oktaflow setup clickhouse`,
//! dropped afterwards). For each: wall time from spawn to exit, events/s, CPU time and the
//! peak RSS (`VmHWM`) of the oktaflow process; the store's count is checked afterwards.
//! Targets (issue 5): ≥ 50,000 events/s end to end, RSS < 200 MB.
//!
//! Run: `cargo bench -p oktaflow-benches --bench sinks_backfill`.
//! Environment: `OKTAFLOW_BENCH_EVENTS` (default 1000000), `OKTAFLOW_BENCH_SEED` (default 42),
//! `OKTAFLOW_BENCH_SINKS` (comma-separated subset of
//! `file,es-gzip,es-plain,clickhouse,clickhouse-plain`).

mod support;

use std::error::Error;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oktaflow_sim::{SimConfig, SimHandle, Simulator};
use oktaflow_store_emulators::elasticsearch::EsEmulator;
use support::{count_lines, env_number, load_average, report, timed};

const TOKEN: &str = "bench-token";
const ES_INDEX: &str = "logs-okta.system-default";

fn main() -> Result<(), Box<dyn Error>> {
    let binary = support::oktaflow_binary()?;
    println!("oktaflow binary: {}", binary.display());
    let events = env_number("OKTAFLOW_BENCH_EVENTS", 1_000_000)? as usize;
    let seed = env_number("OKTAFLOW_BENCH_SEED", 42)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    println!("sinks_backfill: {events} events, seed {seed}");
    println!("load average before: {}", load_average());

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

    // Baseline: the file sink.
    if wanted("file") {
        let out = dir.path().join("out.ndjson");
        let run = timed(&mut run_command(
            &sim,
            &dir.path().join("state-file"),
            &format!("file:{}", out.display()),
        ))?;
        let written = count_lines(&out)?;
        check(written, events, "file")?;
        report("file sink", written, &run);
        std::fs::remove_file(&out)?;
    }

    // The Elasticsearch bulk emulator: with the default gzip request bodies, and without
    // (what a cluster on the same host or LAN is best served with).
    for (label, options) in [
        ("gzip", ""),
        ("no compression", "?request.compression=false"),
    ] {
        if !wanted(&format!(
            "es-{}",
            if options.is_empty() { "gzip" } else { "plain" }
        )) {
            continue;
        }
        let es = runtime.block_on(EsEmulator::start(SocketAddr::from(([127, 0, 0, 1], 0))))?;
        let own_cpu_before = own_cpu();
        let run = timed(&mut run_command(
            &sim,
            &dir.path()
                .join(format!("state-es-{}", es.local_addr().port())),
            &format!("elasticsearch:{}{options}", es.base_url()),
        ))?;
        let stored = es.count(ES_INDEX);
        check(stored, events, "the Elasticsearch emulator")?;
        report(
            &format!("Elasticsearch sink ({label}) → bulk emulator (in the bench process)"),
            stored,
            &run,
        );
        println!(
            "  bulk requests: {}; CPU of the bench process (emulator + simulator) meanwhile: {:.2} s",
            es.bulk_requests(),
            own_cpu().saturating_sub(own_cpu_before).as_secs_f64()
        );
        runtime.block_on(es.shutdown());
    }

    // ClickHouse, when a server is given: gzip (the default) and plain inserts. The server's
    // own CPU time is read from /proc when it runs on this machine (`pgrep`-free: the
    // bench looks for a process named clickhouse-server).
    let clickhouse_url = std::env::var("OKTAFLOW_TEST_CLICKHOUSE_URL").unwrap_or_default();
    if clickhouse_url.is_empty() {
        println!("ClickHouse: skipped (set OKTAFLOW_TEST_CLICKHOUSE_URL)");
    }
    for (label, name, options) in [
        ("gzip", "clickhouse", ""),
        (
            "no compression",
            "clickhouse-plain",
            "&request.compression=false",
        ),
    ] {
        if clickhouse_url.is_empty() || !wanted(name) {
            continue;
        }
        let url = clickhouse_url.trim_end_matches('/').to_owned();
        let table = format!("oktaflow_bench_{}_{}", std::process::id(), name.len());
        let target = format!("{url}?table={table}");
        let setup = support::oktaflow()
            .args(["setup", "clickhouse", &target])
            .stdout(Stdio::null())
            .status()?;
        if !setup.success() {
            return Err(format!("oktaflow setup clickhouse {target} failed").into());
        }
        let server_before = server_cpu("clickhouse-serv");
        let run = timed(&mut run_command(
            &sim,
            &dir.path().join(format!("state-{name}")),
            &format!("clickhouse:{target}{options}"),
        ));
        let server_after = server_cpu("clickhouse-serv");
        let counted = runtime.block_on(sql(&url, &format!("SELECT count() FROM {table}")));
        runtime.block_on(sql(&url, &format!("DROP TABLE IF EXISTS {table}")))?;
        let (run, stored) = (run?, counted?.parse::<usize>()?);
        check(stored, events, "ClickHouse")?;
        report(
            &format!("ClickHouse sink ({label}) → clickhouse-server"),
            stored,
            &run,
        );
        if let (Some(before), Some(after)) = (server_before, server_after) {
            println!(
                "  CPU of clickhouse-server meanwhile: {:.2} s ({:.1} µs per row)",
                after.saturating_sub(before).as_secs_f64(),
                after.saturating_sub(before).as_secs_f64() * 1e6 / stored.max(1) as f64
            );
        }
    }
    runtime.block_on(sim.shutdown());
    println!("load average after: {}", load_average());
    Ok(())
}

async fn start_sim(config: SimConfig) -> Result<SimHandle, Box<dyn Error>> {
    Ok(Simulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0))).await?)
}

/// Runs a query over ClickHouse's HTTP interface; the trimmed answer.
async fn sql(url: &str, query: &str) -> Result<String, Box<dyn Error>> {
    let response = reqwest::Client::new()
        .post(url)
        .body(query.to_owned())
        .send()
        .await?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        return Err(format!("{query}: HTTP {status}: {text}").into());
    }
    Ok(text.trim().to_owned())
}

/// Whether `sink` (`file`, `es-gzip`, `es-plain`, `clickhouse`, `clickhouse-plain`) is in
/// `OKTAFLOW_BENCH_SINKS`
/// (comma-separated; all when unset).
fn wanted(sink: &str) -> bool {
    match std::env::var("OKTAFLOW_BENCH_SINKS") {
        Ok(list) if !list.trim().is_empty() => list.split(',').any(|s| s.trim() == sink),
        _ => true,
    }
}

fn check(stored: usize, events: usize, store: &str) -> Result<(), Box<dyn Error>> {
    if stored == events {
        Ok(())
    } else {
        Err(format!("{store} holds {stored} events, expected {events}").into())
    }
}

fn run_command(sim: &SimHandle, state: &std::path::Path, sink: &str) -> Command {
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
        .arg(sink);
    cmd
}

/// User + system CPU time of the local process whose `comm` is `name` (15 characters at
/// most), if there is one.
fn server_cpu(name: &str) -> Option<Duration> {
    let ticks = 100.0; // USER_HZ on Linux
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((comm, rest)) = stat.split_once(") ") else {
            continue;
        };
        if comm.rsplit_once('(').map(|(_, c)| c) != Some(name) {
            continue;
        }
        // Fields after the command: state is field 3; utime and stime are fields 14 and 15.
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        return Some(Duration::from_secs_f64((utime + stime) / ticks));
    }
    None
}

/// User + system CPU time of this process (the in-process simulator and emulator).
fn own_cpu() -> Duration {
    support::cpu_time("self").unwrap_or(Duration::ZERO)
}

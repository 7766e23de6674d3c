//! End-to-end backfill speed of `oktaflow run --once` into each store, from the in-process
//! Okta API simulator (no rate limit), on loopback.
//!
//! Sinks: the file sink (baseline), the Elasticsearch `_bulk` **emulator**
//! (`oktaflow_store_emulators::elasticsearch::EsEmulator`, in this process: it is not Elasticsearch, and
//! it shares the machine's cores with oktaflow), and ClickHouse when
//! `OKTAFLOW_TEST_CLICKHOUSE_URL` is set (a table made with `oktaflow setup clickhouse`,
//! dropped afterwards). For each: wall time from spawn to exit, events/s, CPU time and the
//! peak RSS (`VmHWM`) of the oktaflow process; the store's count is checked afterwards.
//! Targets (issue 5): ≥ 50,000 events/s end to end, RSS < 200 MB (issue 10: < 150 MB).
//!
//! ClickHouse is also compared with a **direct insert** of the same rows (issue 10: oktaflow
//! end to end ≥ 80 % of its rows/s): the rows oktaflow stored are exported in event order
//! (`SELECT * … ORDER BY timestamp … FORMAT JSONEachRow`), then POSTed one request after the
//! other to a fresh `CREATE TABLE … AS` copy, in chunks of exactly the rows of oktaflow's
//! batches (read from its `batch committed` debug log, in order) with the same compression.
//! Timed: each request, including the compression (LZ4 blocks of 256 KB of rows made while the
//! body is sent, with the sink's own `compress_block`, as the sink does); not timed: reading a
//! chunk from the file. oktaflow's time also
//! includes fetching, normalizing and encoding the rows as JSONEachRow, which the direct insert
//! gets for free. The two sides alternate which goes first over `OKTAFLOW_BENCH_RUNS` rounds;
//! the ratio oktaflow ÷ direct is printed per round and as a median. The server's INSERT count
//! (`system.events`) and CPU time are shown for both.
//!
//! Run: `cargo bench -p oktaflow-benches --bench sinks_backfill`.
//! Environment: `OKTAFLOW_BENCH_EVENTS` (default 1000000), `OKTAFLOW_BENCH_SEED` (default 42),
//! `OKTAFLOW_BENCH_SINKS` (comma-separated subset of
//! `file,es-gzip,es-plain,clickhouse,clickhouse-plain`), `OKTAFLOW_BENCH_RUNS` (rounds of the
//! ClickHouse comparison, default 2).

mod support;

use std::error::Error;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oktaflow_sim::{SimConfig, SimHandle, Simulator};
use oktaflow_sink::{parse_sink_spec, ClickHouseSink, Sink, SinkSpec};
use oktaflow_store_emulators::elasticsearch::EsEmulator;
use support::{count_lines, env_number, load_average, report, timed};

const TOKEN: &str = "bench-token";
const ES_INDEX: &str = "logs-okta.system-default";

fn main() -> Result<(), Box<dyn Error>> {
    let binary = support::oktaflow_binary()?;
    println!("oktaflow binary: {}", binary.display());
    let events = env_number("OKTAFLOW_BENCH_EVENTS", 1_000_000)? as usize;
    let seed = env_number("OKTAFLOW_BENCH_SEED", 42)?;
    let rounds = env_number("OKTAFLOW_BENCH_RUNS", 2)?.max(1) as usize;
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

    // ClickHouse, when a server is given: gzip (the default) and plain inserts, each against a
    // direct insert of the same rows (see `clickhouse_rounds`).
    let clickhouse_url = std::env::var("OKTAFLOW_TEST_CLICKHOUSE_URL").unwrap_or_default();
    if clickhouse_url.is_empty() {
        println!("ClickHouse: skipped (set OKTAFLOW_TEST_CLICKHOUSE_URL)");
    }
    for (label, name, options) in [
        ("LZ4", "clickhouse", ""),
        (
            "no compression",
            "clickhouse-plain",
            "&request.compression=false",
        ),
    ] {
        if clickhouse_url.is_empty() || !wanted(name) {
            continue;
        }
        let bench = ClickHouseBench {
            url: clickhouse_url.trim_end_matches('/').to_owned(),
            label,
            name,
            options,
            events,
            rounds,
        };
        clickhouse_rounds(&runtime, &sim, dir.path(), &bench)?;
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

/// Waits (at most 60 s) until the local ClickHouse server has used under 2 % of a core for a
/// whole second: the merges and part removals left by the previous side (or export) must not
/// weigh on the next one. A guard, not a measured cause: on 2026-12-06 the server was always
/// idle already (settled in 1.0 s) and the rounds varied as much with it as without.
/// Prints how long it waited. Does nothing when the server is not a local process.
fn settle_server() {
    let started = Instant::now();
    let Some(mut before) = server_cpu("clickhouse-serv") else {
        return;
    };
    while started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_secs(1));
        let Some(now) = server_cpu("clickhouse-serv") else {
            return;
        };
        if now.saturating_sub(before) < Duration::from_millis(20) {
            break;
        }
        before = now;
    }
    println!(
        "  server settled in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// User + system CPU time of this process (the in-process simulator and emulator).
fn own_cpu() -> Duration {
    support::cpu_time("self").unwrap_or(Duration::ZERO)
}

/// One ClickHouse variant of the bench: oktaflow end to end against a direct insert.
struct ClickHouseBench<'a> {
    /// The server's HTTP URL, without a trailing slash.
    url: String,
    /// `LZ4` or `no compression`.
    label: &'a str,
    /// `clickhouse` or `clickhouse-plain` (as in `OKTAFLOW_BENCH_SINKS`).
    name: &'a str,
    /// Extra spec options (`&request.compression=false`).
    options: &'a str,
    /// Events in the simulator.
    events: usize,
    /// Interleaved rounds.
    rounds: usize,
}

/// One timed side of a round.
struct Side {
    /// Rows stored (checked against the event count).
    rows: usize,
    /// Wall time: oktaflow's from spawn to exit; the direct insert's sum of its POSTs.
    elapsed: Duration,
    /// CPU of the local clickhouse-server meanwhile.
    server_cpu: Option<Duration>,
    /// INSERT queries the server counted meanwhile.
    inserts: u64,
}

impl Side {
    fn rows_per_second(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64()
    }

    fn print_server(&self) {
        let per_insert = self.rows as f64 / self.inserts.max(1) as f64;
        match self.server_cpu {
            Some(cpu) => println!(
                "  {} INSERTs ({per_insert:.0} rows each); CPU of clickhouse-server meanwhile: {:.2} s ({:.1} µs per row)",
                self.inserts,
                cpu.as_secs_f64(),
                cpu.as_secs_f64() * 1e6 / self.rows.max(1) as f64
            ),
            None => println!("  {} INSERTs ({per_insert:.0} rows each)", self.inserts),
        }
    }
}

/// `bench.rounds` interleaved rounds of: `oktaflow run --once` into a fresh table, and a
/// direct insert of the same rows (exported from oktaflow's first table as JSONEachRow)
/// into a fresh copy of the table, POSTed sequentially in chunks of the sink's preferred
/// batch (`Sink::preferred_batch`: rows and uncompressed bytes, cut as the sink cuts them)
/// with the same compression. Even rounds run the direct insert first, and each side waits until
/// the server is idle (`settle_server`), so background merges left by the previous side weigh
/// on neither. Prints rows/s of both, the ratio
/// oktaflow ÷ direct per round and its median.
fn clickhouse_rounds(
    runtime: &tokio::runtime::Runtime,
    sim: &SimHandle,
    dir: &std::path::Path,
    bench: &ClickHouseBench<'_>,
) -> Result<(), Box<dyn Error>> {
    let (url, name) = (&bench.url, bench.name);
    let spec = format!("clickhouse:{url}?table=unused{}", bench.options);
    let SinkSpec::ClickHouse(config) = parse_sink_spec(&spec)? else {
        return Err(format!("{spec} is not a ClickHouse spec").into());
    };
    let limits = ClickHouseSink::new(&config)?.preferred_batch();
    let compression = config
        .request
        .compression(oktaflow_sink::clickhouse::DEFAULTS.request);
    println!(
        "ClickHouse ({}): preferred batch {} rows / {} bytes, compression {compression}; {} rounds; \
         the direct insert uses oktaflow's batches",
        bench.label, limits.max_docs, limits.max_bytes, bench.rounds
    );
    let prefix = format!("oktaflow_bench_{}_{}", std::process::id(), name.len());
    // The template the direct insert's tables copy (`CREATE TABLE x AS template`).
    let template = format!("{prefix}_template");
    setup_table(url, &template)?;
    let rows_file = dir.join(format!("{name}-rows.ndjson"));
    let mut ratios = Vec::new();
    let mut result = Ok(());
    // The rows of each batch of the latest oktaflow run, in order: the direct insert's chunks.
    let mut batches: Vec<usize> = Vec::new();
    for round in 1..=bench.rounds {
        // Round 1 runs oktaflow first: its batches cut the direct insert of round 2.
        let direct_first = round % 2 == 0;
        let mut direct = None;
        if direct_first {
            match direct_side(
                runtime,
                bench,
                &template,
                round,
                &rows_file,
                &batches,
                compression,
            ) {
                Ok(side) => direct = Some(side),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        let oktaflow = match oktaflow_side(runtime, sim, dir, bench, round, &rows_file) {
            Ok((side, cut)) => {
                batches = cut;
                side
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        };
        let direct = match direct {
            Some(side) => side,
            None => match direct_side(
                runtime,
                bench,
                &template,
                round,
                &rows_file,
                &batches,
                compression,
            ) {
                Ok(side) => side,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            },
        };
        let ratio = oktaflow.rows_per_second() / direct.rows_per_second();
        println!(
            "  round {round} ({}): oktaflow {:.0} rows/s, direct insert {:.0} rows/s: oktaflow ÷ direct = {ratio:.2}",
            if direct_first { "direct first" } else { "oktaflow first" },
            oktaflow.rows_per_second(),
            direct.rows_per_second(),
        );
        ratios.push(ratio);
    }
    runtime.block_on(sql(url, &format!("DROP TABLE IF EXISTS {template}")))?;
    let _ = std::fs::remove_file(&rows_file);
    result?;
    let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
    println!(
        "ClickHouse ({}): oktaflow ÷ direct insert, median of {}: {:.2} (rounds {}); target ≥ 0.80",
        bench.label,
        ratios.len(),
        median(&mut ratios),
        shown.join(", ")
    );
    Ok(())
}

/// `oktaflow setup clickhouse` of `table`.
fn setup_table(url: &str, table: &str) -> Result<(), Box<dyn Error>> {
    let target = format!("{url}?table={table}");
    let setup = support::oktaflow()
        .args(["setup", "clickhouse", &target])
        .stdout(Stdio::null())
        .status()?;
    if !setup.success() {
        return Err(format!("oktaflow setup clickhouse {target} failed").into());
    }
    Ok(())
}

/// `oktaflow run --once` into a fresh table; its rows are exported to `rows_file` when that
/// does not exist yet. The table is dropped afterwards. Also returns the documents of each
/// batch oktaflow committed, in order (from its JSON debug log).
fn oktaflow_side(
    runtime: &tokio::runtime::Runtime,
    sim: &SimHandle,
    dir: &std::path::Path,
    bench: &ClickHouseBench<'_>,
    round: usize,
    rows_file: &std::path::Path,
) -> Result<(Side, Vec<usize>), Box<dyn Error>> {
    let (url, name) = (&bench.url, bench.name);
    let table = format!(
        "oktaflow_bench_{}_{}_{round}",
        std::process::id(),
        name.len()
    );
    setup_table(url, &table)?;
    settle_server();
    let counters_before = runtime.block_on(insert_counters(url))?;
    let server_before = server_cpu("clickhouse-serv");
    let log = dir.join(format!("{name}-{round}.log"));
    let run = timed(
        run_command(
            sim,
            &dir.join(format!("state-{name}-{round}")),
            &format!("clickhouse:{url}?table={table}{}", bench.options),
        )
        .env("RUST_LOG", "warn,oktaflow::pipeline_log=debug")
        .env("OKTAFLOW_LOG_FORMAT", "json")
        .stderr(std::fs::File::create(&log)?),
    );
    let server_after = server_cpu("clickhouse-serv");
    let counters_after = runtime.block_on(insert_counters(url))?;
    let outcome = (|| -> Result<(Side, Vec<usize>), Box<dyn Error>> {
        let run = run?;
        let batches = committed_batches(&log)?;
        let stored = runtime
            .block_on(sql(url, &format!("SELECT count() FROM {table}")))?
            .parse::<usize>()?;
        check(stored, bench.events, "ClickHouse")?;
        report(
            &format!(
                "  round {round}: ClickHouse sink ({}) → clickhouse-server",
                bench.label
            ),
            stored,
            &run,
        );
        if !rows_file.exists() {
            let started = Instant::now();
            runtime.block_on(export(url, &table, rows_file))?;
            println!(
                "  exported the rows for the direct insert in {:.1} s ({:.1} MiB of JSONEachRow)",
                started.elapsed().as_secs_f64(),
                std::fs::metadata(rows_file)?.len() as f64 / (1024.0 * 1024.0)
            );
        }
        check(batches.iter().sum(), bench.events, "oktaflow's batch log")?;
        let side = Side {
            rows: stored,
            elapsed: run.elapsed,
            server_cpu: server_after
                .zip(server_before)
                .map(|(a, b)| a.saturating_sub(b)),
            inserts: counters_after.saturating_sub(counters_before),
        };
        Ok((side, batches))
    })();
    runtime.block_on(sql(url, &format!("DROP TABLE IF EXISTS {table}")))?;
    let _ = std::fs::remove_file(&log);
    let (side, batches) = outcome?;
    let largest = batches.iter().max().copied().unwrap_or(0);
    println!(
        "  {} batches, {:.0} documents each on average, {largest} at most",
        batches.len(),
        side.rows as f64 / batches.len().max(1) as f64
    );
    side.print_server();
    Ok((side, batches))
}

/// The `events` of each `batch committed` line of oktaflow's JSON log, in order.
fn committed_batches(log: &std::path::Path) -> Result<Vec<usize>, Box<dyn Error>> {
    let mut batches = Vec::new();
    for line in std::fs::read_to_string(log)?.lines() {
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let fields = entry.get("fields").unwrap_or(&entry);
        if fields["message"] == "batch committed" {
            let events = fields["events"]
                .as_u64()
                .ok_or_else(|| format!("no event count in {line}"))?;
            batches.push(events as usize);
        }
    }
    Ok(batches)
}

/// The direct insert of `rows_file` into a fresh copy of `template`, dropped afterwards.
fn direct_side(
    runtime: &tokio::runtime::Runtime,
    bench: &ClickHouseBench<'_>,
    template: &str,
    round: usize,
    rows_file: &std::path::Path,
    batches: &[usize],
    compression: bool,
) -> Result<Side, Box<dyn Error>> {
    let url = &bench.url;
    let table = format!("{template}_direct_{round}");
    runtime.block_on(sql(url, &format!("CREATE TABLE {table} AS {template}")))?;
    settle_server();
    let counters_before = runtime.block_on(insert_counters(url))?;
    let server_before = server_cpu("clickhouse-serv");
    let inserted = runtime.block_on(direct_insert(url, &table, rows_file, batches, compression));
    let server_after = server_cpu("clickhouse-serv");
    let counters_after = runtime.block_on(insert_counters(url))?;
    let counted = runtime.block_on(sql(url, &format!("SELECT count() FROM {table}")));
    runtime.block_on(sql(url, &format!("DROP TABLE IF EXISTS {table}")))?;
    let (elapsed, rows) = inserted?;
    let stored = counted?.parse::<usize>()?;
    check(stored, bench.events, "the direct insert's table")?;
    check(rows, bench.events, "the exported rows")?;
    println!(
        "  round {round}: direct insert ({}, sequential POSTs of oktaflow's batches, compression timed): {stored} rows in {:.2} s = {:.0} rows/s",
        bench.label,
        elapsed.as_secs_f64(),
        stored as f64 / elapsed.as_secs_f64()
    );
    let side = Side {
        rows: stored,
        elapsed,
        server_cpu: server_after
            .zip(server_before)
            .map(|(a, b)| a.saturating_sub(b)),
        inserts: counters_after.saturating_sub(counters_before),
    };
    side.print_server();
    Ok(side)
}

/// POSTs the JSONEachRow lines of `rows_file` to `INSERT INTO table` one request after the
/// other, `batches[i]` lines in the i-th, compressed (LZ4 blocks of 256 KB of rows made while
/// the body is sent, as the sink does) when `compression`. Reading a chunk is not timed; the answer is the
/// sum of the requests' wall times (compression included), and the rows sent.
async fn direct_insert(
    url: &str,
    table: &str,
    rows_file: &std::path::Path,
    batches: &[usize],
    compression: bool,
) -> Result<(Duration, usize), Box<dyn Error>> {
    use std::io::BufRead;
    let client = reqwest::Client::new();
    let query = format!("INSERT INTO {table} FORMAT JSONEachRow");
    let mut reader = std::io::BufReader::new(std::fs::File::open(rows_file)?);
    let mut rows = 0;
    let mut elapsed = Duration::ZERO;
    for &docs in batches {
        let mut chunk = Vec::new();
        for _ in 0..docs {
            let before = chunk.len();
            if reader.read_until(b'\n', &mut chunk)? == 0 {
                return Err(format!("{} ends before row {}", rows_file.display(), rows).into());
            }
            if chunk.len() > before && !chunk.ends_with(b"\n") {
                chunk.push(b'\n');
            }
            rows += 1;
        }
        let chunk = bytes::Bytes::from(chunk);
        let mut request = client.post(url).query(&[("query", query.as_str())]);
        let started = Instant::now();
        if compression {
            request = request
                .query(&[("decompress", "1")])
                .body(reqwest::Body::wrap_stream(block_stream(chunk)));
        } else {
            request = request.body(chunk);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        elapsed += started.elapsed();
        if !status.is_success() {
            return Err(format!("{query}: HTTP {status}: {}", text.trim()).into());
        }
    }
    Ok((elapsed, rows))
}

/// `body` as ClickHouse compressed blocks (the sink's `compress_block`) of about 256 KB of
/// rows each, the last row of a block being the one that passes 256 KB (as the sink cuts its
/// pieces), made as the request is sent.
fn block_stream(
    body: bytes::Bytes,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static {
    const PIECE: usize = 256 * 1024;
    futures_util::stream::unfold((body, 0), |(body, offset)| async move {
        if offset >= body.len() {
            return None;
        }
        let end = match body[(offset + PIECE).min(body.len())..]
            .iter()
            .position(|&b| b == b'\n')
        {
            Some(newline) => (offset + PIECE).min(body.len()) + newline + 1,
            None => body.len(),
        };
        let block = oktaflow_sink::clickhouse::compress_block(&body[offset..end]);
        Some((block.map(bytes::Bytes::from), (body, end)))
    })
}

/// `SELECT * FROM table … ORDER BY` the event time and id `FORMAT JSONEachRow` into `path`:
/// the order oktaflow wrote the rows in, up to events of the same microsecond. Exported one
/// window of about 40,000 rows at a time (a sort of the whole table would pass the server's
/// memory limit).
async fn export(url: &str, table: &str, path: &std::path::Path) -> Result<(), Box<dyn Error>> {
    let micros = sql(
        url,
        &format!(
            "SELECT count() FROM system.columns WHERE table = '{table}' AND name = 'timestamp_us'"
        ),
    )
    .await?;
    let order = if micros == "1" {
        "timestamp, timestamp_us, id"
    } else {
        "timestamp, id"
    };
    let range = sql(
        url,
        &format!(
            "SELECT toUInt32(min(timestamp)), toUInt32(max(timestamp)), count() FROM {table} FORMAT TSV"
        ),
    )
    .await?;
    let numbers: Vec<u64> = range
        .split('\t')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("time range of {table}: {range:?}: {e}"))?;
    let [first, last, rows] = numbers[..] else {
        return Err(format!("time range of {table}: {range:?}").into());
    };
    // Windows of about 40,000 rows: each sorted in memory by the server.
    let window = ((last - first + 1) * 40_000 / rows.max(1)).max(1);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut start = first;
    while start <= last {
        let end = start + window;
        export_query(
            url,
            &format!(
                "SELECT * FROM {table} WHERE toUInt32(timestamp) >= {start} \
                 AND toUInt32(timestamp) < {end} ORDER BY {order} FORMAT JSONEachRow"
            ),
            &mut out,
        )
        .await?;
        start = end;
    }
    std::io::Write::flush(&mut out)?;
    Ok(())
}

/// Streams the answer of `query` into `out`.
async fn export_query(
    url: &str,
    query: &str,
    out: &mut impl std::io::Write,
) -> Result<(), Box<dyn Error>> {
    let mut response = reqwest::Client::new()
        .post(url)
        .body(query.to_owned())
        .send()
        .await?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await?;
        return Err(format!("{query}: HTTP {status}: {}", text.trim()).into());
    }
    while let Some(bytes) = response.chunk().await? {
        out.write_all(&bytes)?;
    }
    Ok(())
}

/// The INSERT queries the server counted so far (`system.events`; absent, so 0, before the
/// first insert).
async fn insert_counters(url: &str) -> Result<u64, Box<dyn Error>> {
    let text = sql(
        url,
        "SELECT sum(value) FROM system.events WHERE event = 'InsertQuery'",
    )
    .await?;
    Ok(text.parse()?)
}

/// The median of `values` (sorted in place; 0 when empty).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

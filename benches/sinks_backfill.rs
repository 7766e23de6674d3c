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
//! end to end ≥ 80 % of its rows/s): the rows oktaflow stored are exported
//! (`SELECT * … FORMAT JSONEachRow`), then POSTed one request after the other to a fresh
//! `CREATE TABLE … AS` copy, in chunks of the sink's preferred batch (`Sink::preferred_batch`,
//! rows and bytes) with the same compression; only the requests are timed (reading and
//! gzipping a chunk are not). The two sides alternate which goes first over
//! `OKTAFLOW_BENCH_RUNS` rounds; the ratio oktaflow ÷ direct is printed per round and as a
//! median. The server's INSERT count (`system.events`) and CPU time are shown for both.
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
use oktaflow_sink::{parse_sink_spec, BatchLimits, ClickHouseSink, Sink, SinkSpec};
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

/// User + system CPU time of this process (the in-process simulator and emulator).
fn own_cpu() -> Duration {
    support::cpu_time("self").unwrap_or(Duration::ZERO)
}

/// One ClickHouse variant of the bench: oktaflow end to end against a direct insert.
struct ClickHouseBench<'a> {
    /// The server's HTTP URL, without a trailing slash.
    url: String,
    /// `gzip` or `no compression`.
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
/// with the same compression. Even rounds run the direct insert first, so background merges
/// left by the previous side weigh on both sides alike. Prints rows/s of both, the ratio
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
        "ClickHouse ({}): preferred batch {} rows / {} bytes, gzip {compression}; {} rounds",
        bench.label, limits.max_docs, limits.max_bytes, bench.rounds
    );
    let prefix = format!("oktaflow_bench_{}_{}", std::process::id(), name.len());
    // The template the direct insert's tables copy (`CREATE TABLE x AS template`).
    let template = format!("{prefix}_template");
    setup_table(url, &template)?;
    let rows_file = dir.join(format!("{name}-rows.ndjson"));
    let mut ratios = Vec::new();
    let mut result = Ok(());
    for round in 1..=bench.rounds {
        let direct_first = round % 2 == 0;
        let mut direct = None;
        if direct_first {
            match direct_side(
                runtime,
                bench,
                &template,
                round,
                &rows_file,
                limits,
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
            Ok(side) => side,
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
                limits,
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
/// does not exist yet. The table is dropped afterwards.
fn oktaflow_side(
    runtime: &tokio::runtime::Runtime,
    sim: &SimHandle,
    dir: &std::path::Path,
    bench: &ClickHouseBench<'_>,
    round: usize,
    rows_file: &std::path::Path,
) -> Result<Side, Box<dyn Error>> {
    let (url, name) = (&bench.url, bench.name);
    let table = format!(
        "oktaflow_bench_{}_{}_{round}",
        std::process::id(),
        name.len()
    );
    setup_table(url, &table)?;
    let counters_before = runtime.block_on(insert_counters(url))?;
    let server_before = server_cpu("clickhouse-serv");
    let run = timed(&mut run_command(
        sim,
        &dir.join(format!("state-{name}-{round}")),
        &format!("clickhouse:{url}?table={table}{}", bench.options),
    ));
    let server_after = server_cpu("clickhouse-serv");
    let counters_after = runtime.block_on(insert_counters(url))?;
    let outcome = (|| -> Result<Side, Box<dyn Error>> {
        let run = run?;
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
        Ok(Side {
            rows: stored,
            elapsed: run.elapsed,
            server_cpu: server_after
                .zip(server_before)
                .map(|(a, b)| a.saturating_sub(b)),
            inserts: counters_after.saturating_sub(counters_before),
        })
    })();
    runtime.block_on(sql(url, &format!("DROP TABLE IF EXISTS {table}")))?;
    let side = outcome?;
    side.print_server();
    Ok(side)
}

/// The direct insert of `rows_file` into a fresh copy of `template`, dropped afterwards.
fn direct_side(
    runtime: &tokio::runtime::Runtime,
    bench: &ClickHouseBench<'_>,
    template: &str,
    round: usize,
    rows_file: &std::path::Path,
    limits: BatchLimits,
    compression: bool,
) -> Result<Side, Box<dyn Error>> {
    let url = &bench.url;
    let table = format!("{template}_direct_{round}");
    runtime.block_on(sql(url, &format!("CREATE TABLE {table} AS {template}")))?;
    let counters_before = runtime.block_on(insert_counters(url))?;
    let server_before = server_cpu("clickhouse-serv");
    let inserted = runtime.block_on(direct_insert(url, &table, rows_file, limits, compression));
    let server_after = server_cpu("clickhouse-serv");
    let counters_after = runtime.block_on(insert_counters(url))?;
    let counted = runtime.block_on(sql(url, &format!("SELECT count() FROM {table}")));
    runtime.block_on(sql(url, &format!("DROP TABLE IF EXISTS {table}")))?;
    let (elapsed, rows) = inserted?;
    let stored = counted?.parse::<usize>()?;
    check(stored, bench.events, "the direct insert's table")?;
    check(rows, bench.events, "the exported rows")?;
    println!(
        "  round {round}: direct insert ({}, sequential POSTs, timed alone): {stored} rows in {:.2} s = {:.0} rows/s",
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
/// other, in chunks cut as the sink cuts its batch (`limits`: a new chunk when it holds
/// `max_docs` rows or the next line would pass `max_bytes`), gzipped (level 1, as the sink)
/// when `compression`. Reading and compressing a chunk are not timed: the answer is the sum
/// of the requests' wall times, and the rows sent.
async fn direct_insert(
    url: &str,
    table: &str,
    rows_file: &std::path::Path,
    limits: BatchLimits,
    compression: bool,
) -> Result<(Duration, usize), Box<dyn Error>> {
    use std::io::BufRead;
    let client = reqwest::Client::new();
    let query = format!("INSERT INTO {table} FORMAT JSONEachRow");
    let mut reader = std::io::BufReader::new(std::fs::File::open(rows_file)?);
    let (mut chunk, mut docs, mut rows) = (Vec::new(), 0, 0);
    let mut line = Vec::new();
    let mut elapsed = Duration::ZERO;
    loop {
        line.clear();
        let end = reader.read_until(b'\n', &mut line)? == 0;
        if !end && !line.ends_with(b"\n") {
            line.push(b'\n');
        }
        let full =
            docs > 0 && (docs == limits.max_docs || chunk.len() + line.len() > limits.max_bytes);
        if docs > 0 && (end || full) {
            let body = if compression {
                let mut encoder = flate2::write::GzEncoder::new(
                    Vec::with_capacity(chunk.len() / 6 + 64),
                    flate2::Compression::fast(),
                );
                std::io::Write::write_all(&mut encoder, &chunk)?;
                chunk.clear();
                encoder.finish()?
            } else {
                std::mem::take(&mut chunk)
            };
            let mut request = client.post(url).query(&[("query", query.as_str())]);
            if compression {
                request = request.header(reqwest::header::CONTENT_ENCODING, "gzip");
            }
            let started = Instant::now();
            let response = request.body(body).send().await?;
            let status = response.status();
            let text = response.text().await?;
            elapsed += started.elapsed();
            if !status.is_success() {
                return Err(format!("{query}: HTTP {status}: {}", text.trim()).into());
            }
            rows += docs;
            docs = 0;
        }
        if end {
            return Ok((elapsed, rows));
        }
        chunk.extend_from_slice(&line);
        docs += 1;
    }
}

/// `SELECT * FROM table FORMAT JSONEachRow` into `path`, streamed.
async fn export(url: &str, table: &str, path: &std::path::Path) -> Result<(), Box<dyn Error>> {
    use std::io::Write;
    let mut response = reqwest::Client::new()
        .post(url)
        .body(format!("SELECT * FROM {table} FORMAT JSONEachRow"))
        .send()
        .await?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await?;
        return Err(format!("export of {table}: HTTP {status}: {}", text.trim()).into());
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    while let Some(bytes) = response.chunk().await? {
        out.write_all(&bytes)?;
    }
    out.flush()?;
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

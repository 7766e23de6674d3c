//! A burst at the push receiver: `oktaflow run` with a `kind = "eventbridge"` source (plain
//! HTTP on loopback, file sink) is sent EventBridge envelopes at a fixed offered rate (default
//! 20,000 events/s) for a fixed time (default 30 s), one event per request as an API
//! destination sends them, over many keep-alive connections (an open loop: request *k* is sent
//! at `k / rate`, or as soon as a connection is free when all are busy).
//!
//! Reports the events accepted (`200`: durable) per second, the `429` answers (the in-flight
//! bound reached: back-pressure instead of memory), `503`s and failures, the ack latency
//! (median, p99), the oktaflow process's RSS each second and its peak (`VmHWM` from
//! `/proc/<pid>/status`), and checks that the file holds exactly the accepted events.
//!
//! Run: `cargo bench -p oktaflow-benches --bench push_burst`.
//! Environment: `OKTAFLOW_BENCH_RATE` (events/s, default 20000), `OKTAFLOW_BENCH_SECS`
//! (default 30), `OKTAFLOW_BENCH_CONNECTIONS` (default 1000), `OKTAFLOW_BENCH_MAX_IN_FLIGHT`
//! (the receiver's `max_in_flight`, default 500).
//!
//! Why not the defaults (2,000 in flight): the receiver serves at most `max_connections`
//! (1,024) connections and an HTTP/1.1 connection carries one request at a time, so with the
//! defaults the bound that holds first is the connection limit (further connections wait in
//! the kernel's accept queue, unanswered) and `429` never comes. The bench keeps its
//! connections under that limit and the in-flight bound under its connections, so the
//! in-flight bound is what a burst meets. A request unanswered after 10 s counts as "no
//! answer".

mod support;

use std::error::Error;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use oktaflow_sim::generate::EventGenerator;
use support::{count_lines, env_number, load_average, vm_hwm_kib};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const KEY: &str = "push-burst-bench-key";

/// Envelope templates: the body is `prefix + uuid + suffix`.
struct Template {
    prefix: String,
    suffix: String,
}

fn templates(count: usize) -> Vec<Template> {
    let mut generator = EventGenerator::new(42);
    let start = Utc::now() - TimeDelta::hours(1);
    (0..count)
        .map(|i| {
            let published = start + TimeDelta::milliseconds(i as i64 * 7);
            let event = generator.next_event(published);
            let envelope = format!(
                r#"{{"version":"0","id":"{}","detail-type":"SystemLog","source":"aws.partner/okta.com/bench-org/bench","account":"123456789012","time":"{}","region":"us-east-1","resources":[],"detail":{}}}"#,
                event.uuid,
                published.format("%Y-%m-%dT%H:%M:%SZ"),
                event.json
            );
            let needle = format!(r#""uuid":"{}""#, event.uuid);
            let at = envelope
                .find(&needle)
                .map(|i| i + r#""uuid":""#.len())
                .expect("the generated event has its uuid");
            Template {
                prefix: envelope[..at].to_string(),
                suffix: envelope[at + event.uuid.len()..].to_string(),
            }
        })
        .collect()
}

#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    ok: AtomicU64,
    throttled: AtomicU64,
    unavailable: AtomicU64,
    other: AtomicU64,
    failed: AtomicU64,
}

/// One keep-alive connection: takes the next request index, waits for its time, sends it
/// and reads the answer, until the schedule ends.
#[allow(clippy::too_many_arguments)]
async fn connection(
    addr: std::net::SocketAddr,
    templates: Arc<Vec<Template>>,
    next: Arc<AtomicU64>,
    total: u64,
    rate: f64,
    started: tokio::time::Instant,
    counts: Arc<Counts>,
    latencies: Arc<Mutex<Vec<u32>>>,
) {
    let mut stream: Option<BufReader<TcpStream>> = None;
    let mut mine = Vec::new();
    loop {
        let k = next.fetch_add(1, Ordering::Relaxed);
        if k >= total {
            break;
        }
        let due = started + Duration::from_secs_f64(k as f64 / rate);
        tokio::time::sleep_until(due).await;
        let template = &templates[(k as usize) % templates.len()];
        let uuid = format!("{:08x}-b0b0-4000-8000-{:012x}", 0x5eed_u32, k);
        let body_len = template.prefix.len() + uuid.len() + template.suffix.len();
        let request = format!(
            "POST / HTTP/1.1\r\nHost: {addr}\r\nx-oktaflow-key: {KEY}\r\nContent-Type: application/json\r\nContent-Length: {body_len}\r\n\r\n{}{uuid}{}",
            template.prefix, template.suffix
        );
        counts.sent.fetch_add(1, Ordering::Relaxed);
        let sent_at = Instant::now();
        let exchange = async {
            if stream.is_none() {
                let s = TcpStream::connect(addr).await.ok()?;
                let _ = s.set_nodelay(true);
                stream = Some(BufReader::new(s));
            }
            let s = stream.as_mut()?;
            s.get_mut().write_all(request.as_bytes()).await.ok()?;
            let mut line = String::new();
            s.read_line(&mut line).await.ok()?;
            let status: u16 = line.split(' ').nth(1)?.parse().ok()?;
            let mut length = 0usize;
            let mut close = false;
            loop {
                line.clear();
                s.read_line(&mut line).await.ok()?;
                let header = line.trim_end();
                if header.is_empty() {
                    break;
                }
                let lower = header.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().ok()?;
                }
                if lower.starts_with("connection:") && lower.contains("close") {
                    close = true;
                }
            }
            let mut body = vec![0; length];
            s.read_exact(&mut body).await.ok()?;
            if close {
                stream = None;
            }
            Some(status)
        };
        let status = tokio::time::timeout(Duration::from_secs(10), exchange)
            .await
            .ok()
            .flatten();
        match status {
            Some(200) => {
                counts.ok.fetch_add(1, Ordering::Relaxed);
                mine.push(sent_at.elapsed().as_micros().min(u32::MAX as u128) as u32);
            }
            Some(429) => {
                counts.throttled.fetch_add(1, Ordering::Relaxed);
            }
            Some(503) => {
                counts.unavailable.fetch_add(1, Ordering::Relaxed);
            }
            Some(_) => {
                counts.other.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                counts.failed.fetch_add(1, Ordering::Relaxed);
                stream = None;
            }
        }
    }
    if let Ok(mut all) = latencies.lock() {
        all.extend(mine);
    }
}

fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> Result<(), Box<dyn Error>> {
    let binary = support::oktaflow_binary()?;
    println!("oktaflow binary: {}", binary.display());
    let rate = env_number("OKTAFLOW_BENCH_RATE", 20_000)? as f64;
    let secs = env_number("OKTAFLOW_BENCH_SECS", 30)?;
    let connections = env_number("OKTAFLOW_BENCH_CONNECTIONS", 1_000)? as usize;
    let max_in_flight = env_number("OKTAFLOW_BENCH_MAX_IN_FLIGHT", 500)?;
    let total = (rate * secs as f64) as u64;
    let dir = tempfile::tempdir()?;
    let state = dir.path().join("state");
    let out = dir.path().join("out.ndjson");
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let config = dir.path().join("oktaflow.toml");
    let mut text = format!(
        "state_dir = \"{}\"\nsinks = [\"file:{}\"]\n\n[[sources]]\nname = \"okta\"\nkind = \"eventbridge\"\ndomain = \"acme.okta.com\"\n\n[sources.eventbridge]\nlisten = \"{addr}\"\napi_key_header = \"x-oktaflow-key\"\napi_key_env = \"OKTAFLOW_PUSH_KEY\"\n",
        state.display(),
        out.display()
    );
    text.push_str(&format!("max_in_flight = {max_in_flight}\n"));
    std::fs::write(&config, text)?;
    println!(
        "push_burst: {rate:.0} events/s offered for {secs} s ({total} requests) over {connections} connections; max_in_flight {max_in_flight}"
    );
    println!("load average before: {}", load_average());

    let templates = Arc::new(templates(2_000));
    let mut child = support::oktaflow()
        .env_clear()
        .env("OKTAFLOW_PUSH_KEY", KEY)
        .env("RUST_LOG", "error")
        .arg("run")
        .arg("--config")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()?;
    let pid = child.id();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // Wait until the receiver answers.
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err("the receiver did not start listening within 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let rss_idle = vm_rss_kib(pid).unwrap_or(0);

    let counts = Arc::new(Counts::default());
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_secs(1));
                samples.push(vm_rss_kib(pid).unwrap_or(0));
            }
            samples
        })
    };
    let started = Instant::now();
    runtime.block_on(async {
        let next = Arc::new(AtomicU64::new(0));
        let t0 = tokio::time::Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..connections {
            tasks.spawn(connection(
                addr,
                templates.clone(),
                next.clone(),
                total,
                rate,
                t0,
                counts.clone(),
                latencies.clone(),
            ));
        }
        while tasks.join_next().await.is_some() {}
    });
    let elapsed = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let samples = sampler.join().map_err(|_| "the RSS sampler panicked")?;
    let peak = vm_hwm_kib(pid).unwrap_or(0);
    let load = load_average();
    let _ = child.kill();
    let _ = child.wait();
    let lines = count_lines(&out).unwrap_or(0);

    let ok = counts.ok.load(Ordering::Relaxed);
    let mut lat = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map_or(0.0, |us| *us as f64 / 1000.0)
    };
    println!(
        "sent {} requests in {:.1} s ({:.0}/s offered and sent)",
        counts.sent.load(Ordering::Relaxed),
        elapsed.as_secs_f64(),
        counts.sent.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64()
    );
    println!(
        "accepted (200): {ok} = {:.0} events/s; 429: {}; 503: {}; other: {}; no answer: {}",
        ok as f64 / elapsed.as_secs_f64(),
        counts.throttled.load(Ordering::Relaxed),
        counts.unavailable.load(Ordering::Relaxed),
        counts.other.load(Ordering::Relaxed),
        counts.failed.load(Ordering::Relaxed)
    );
    println!(
        "ack latency of accepted events: median {:.0} ms, p99 {:.0} ms",
        pct(0.5),
        pct(0.99)
    );
    println!(
        "oktaflow RSS: idle {:.1} MiB, per second {:?} MiB, peak (VmHWM) {:.1} MiB",
        rss_idle as f64 / 1024.0,
        samples
            .iter()
            .map(|k| (*k as f64 / 1024.0).round() as u64)
            .collect::<Vec<_>>(),
        peak as f64 / 1024.0
    );
    println!("file sink: {lines} lines (accepted: {ok})");
    println!("load average after: {load}");
    if (lines as u64) < ok {
        return Err(format!("{ok} events answered 200 but only {lines} in the file").into());
    }
    Ok(())
}

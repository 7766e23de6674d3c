//! Batch throughput of the network sinks on loopback:
//! `cargo bench -p oktaflow-benches --bench sinks` (set `OKTAFLOW_TEST_CLICKHOUSE_URL`
//! for ClickHouse, `OKTAFLOW_BENCH_EVENTS` to change the number of documents).
//!
//! Documents are the ECS fixture `policy_evaluate_sign_on_allow.json` (~2.4 KB) with
//! a distinct id each, written in batches of 1000 (the pipeline's page size). The
//! Elasticsearch target is the in-process emulator (same process, same 2 cores), so
//! the number is the sink's own cost plus the emulator's, not a cluster's.

use std::time::Instant;

use oktaflow_sink::clickhouse::{ClickHouseConfig, ClickHouseSink};
use oktaflow_sink::elasticsearch::{ElasticsearchConfig, ElasticsearchSink, Flavor};
use oktaflow_sink::{Document, Sink};
use oktaflow_store_emulators::elasticsearch::EsEmulator;

fn documents(n: usize) -> Vec<Document> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/ecs/policy_evaluate_sign_on_allow.json"
    );
    let text = std::fs::read_to_string(path).expect("the ECS fixture is in the checkout");
    let mut template: serde_json::Value = serde_json::from_str(&text).expect("the fixture is JSON");
    (0..n)
        .map(|i| {
            let id = format!("7ee56053-c32d-11ef-{:04x}-{:012x}", i % 0xffff, i);
            template["event"]["id"] = serde_json::Value::from(id.clone());
            Document {
                id,
                json: serde_json::to_vec(&template).expect("a Value serializes"),
            }
        })
        .collect()
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn run(label: &str, sink: &mut dyn Sink, docs: &[Document]) {
    sink.recover(None).await.expect("recover");
    let bytes: usize = docs.iter().map(|d| d.json.len()).sum();
    let started = Instant::now();
    for batch in docs.chunks(1000) {
        let ack = sink.write_batch(batch).await.expect("write");
        assert!(ack.rejected.is_empty());
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{label:<40} {:>8} docs in {secs:>6.2} s = {:>8.0} docs/s, {:>6.1} MB/s of JSON",
        docs.len(),
        docs.len() as f64 / secs,
        bytes as f64 / secs / 1e6
    );
}

fn main() {
    let n: usize = std::env::var("OKTAFLOW_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let docs = documents(n);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        for compression in [true, false] {
            let es = EsEmulator::start("127.0.0.1:0".parse().expect("literal"))
                .await
                .expect("emulator");
            let config = ElasticsearchConfig {
                url: es.base_url(),
                request: oktaflow_sink::RequestOptions {
                    compression: Some(compression),
                    ..Default::default()
                },
                ..ElasticsearchConfig::default()
            };
            let mut sink = ElasticsearchSink::new(Flavor::Elasticsearch, &config).expect("sink");
            let label = format!("elasticsearch emulator, gzip={compression}");
            run(&label, &mut sink, &docs).await;
            assert_eq!(es.count(oktaflow_sink::elasticsearch::DEFAULT_INDEX), n);
            es.shutdown().await;
        }
        match std::env::var("OKTAFLOW_TEST_CLICKHOUSE_URL") {
            Ok(url) if !url.is_empty() => {
                let table = format!("oktaflow_bench_{}", std::process::id());
                let config = ClickHouseConfig {
                    url: url.clone(),
                    table: table.clone(),
                    ..ClickHouseConfig::default()
                };
                let mut sink = ClickHouseSink::new(&config).expect("sink");
                sink.setup().await.expect("setup");
                run("clickhouse (real server), gzip=true", &mut sink, &docs).await;
                let client = reqwest::Client::new();
                let count = client
                    .post(&url)
                    .body(format!("SELECT count() FROM {table} FINAL"))
                    .send()
                    .await
                    .and_then(|r| r.error_for_status())
                    .expect("count");
                let count = count.text().await.expect("count body");
                assert_eq!(count.trim(), n.to_string());
                let _ = client
                    .post(&url)
                    .body(format!("DROP TABLE {table}"))
                    .send()
                    .await;
            }
            _ => println!("clickhouse: skipped (set OKTAFLOW_TEST_CLICKHOUSE_URL)"),
        }
    });
    println!(
        "peak RSS of the bench process (documents + emulator + sink): {:.0} MB",
        peak_rss_mb()
    );
}

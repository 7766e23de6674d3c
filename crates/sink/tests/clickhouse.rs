//! ClickHouse sink tests against a real server.
//!
//! They need `OKTAFLOW_TEST_CLICKHOUSE_URL` (e.g. `http://127.0.0.1:8123`), so they are
//! `#[ignore]`d: `cargo test` reports them as ignored. `.ci/run` starts a throwaway server
//! with `.ci/clickhouse.sh`, sets the variable and runs them with `--ignored`; run
//! explicitly without it, they fail.
//! Each test works in its own table and drops it at the end.

use std::net::SocketAddr;
use std::sync::Arc;

use oktaflow_sink::clickhouse::{ClickHouseConfig, ClickHouseSink};
use oktaflow_sink::{Document, Sink, SinkError};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

/// The server of `OKTAFLOW_TEST_CLICKHOUSE_URL`; a run without it fails (these tests are
/// `#[ignore]`d, so only an explicit run gets here).
fn server_url() -> String {
    match std::env::var("OKTAFLOW_TEST_CLICKHOUSE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "OKTAFLOW_TEST_CLICKHOUSE_URL is not set: start a server with \
             `source .ci/clickhouse.sh && clickhouse_start` (as .ci/run does)"
        ),
    }
}

fn unique_table(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("oktaflow_test_{name}_{}_{nanos}", std::process::id())
}

fn doc(id: &str, user: &str) -> Document {
    Document {
        id: id.to_owned(),
        json: json!({
            "@timestamp": "2024-04-22T07:58:12.998001Z",
            "event": {"id": id, "action": "user.session.start", "category": ["authentication", "session"],
                      "outcome": "success", "severity": 2, "reason": "User login to Okta"},
            "source": {"ip": "89.160.20.128", "geo": {"country_name": "Sweden"}},
            "user": {"name": user},
            "okta": {"system": {"debug": {"requestId": "r1"}}}
        })
        .to_string()
        .into_bytes(),
    }
}

fn docs(prefix: &str, n: usize) -> Vec<Document> {
    (0..n)
        .map(|i| doc(&format!("{prefix}-{i:05}"), "alice@example.com"))
        .collect()
}

/// Runs SQL through the HTTP interface and returns the trimmed answer.
async fn sql(url: &str, query: &str) -> String {
    let response = reqwest::Client::new()
        .post(url)
        .body(query.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{query}: {text}");
    text.trim().to_owned()
}

fn config(url: &str, table: &str) -> ClickHouseConfig {
    ClickHouseConfig {
        url: url.to_owned(),
        table: table.to_owned(),
        ..ClickHouseConfig::default()
    }
}

async fn ready_sink(url: &str, table: &str) -> ClickHouseSink {
    let mut sink = ClickHouseSink::new(&config(url, table)).unwrap();
    sink.setup().await.unwrap();
    sink.recover(None).await.unwrap();
    sink
}

#[tokio::test]
#[ignore = "needs a ClickHouse server: set OKTAFLOW_TEST_CLICKHOUSE_URL"]
async fn setup_is_idempotent_and_a_missing_table_is_explained() {
    let url = server_url();
    let table = unique_table("setup");
    let mut sink = ClickHouseSink::new(&config(&url, &table)).unwrap();
    let err = sink.recover(None).await.unwrap_err();
    assert!(matches!(err, SinkError::Refused { .. }), "{err}");
    assert!(!err.is_retryable());
    assert!(
        err.to_string().contains("run `oktaflow setup clickhouse`"),
        "{err}"
    );

    let first = sink.setup().await.unwrap();
    assert!(
        first.last().unwrap().contains("ReplacingMergeTree"),
        "{first:?}"
    );
    sink.setup().await.unwrap();
    sink.recover(None).await.unwrap();
    let engine = sql(
        &url,
        &format!("SELECT engine FROM system.tables WHERE name = '{table}'"),
    )
    .await;
    assert_eq!(engine, "ReplacingMergeTree");
    sql(&url, &format!("DROP TABLE {table}")).await;
}

#[tokio::test]
#[ignore = "needs a ClickHouse server: set OKTAFLOW_TEST_CLICKHOUSE_URL"]
async fn a_batch_written_twice_reads_once_with_its_fields() {
    let url = server_url();
    let table = unique_table("once");
    let mut sink = ready_sink(&url, &table).await;
    let batch = docs("once", 300);
    let ack = sink.write_batch(&batch).await.unwrap();
    assert!(ack.rejected.is_empty() && ack.position.is_null());
    // A crash before the checkpoint: a restarted sink sends the batch again.
    let mut restarted = ClickHouseSink::new(&config(&url, &table)).unwrap();
    restarted.recover(Some(&ack.position)).await.unwrap();
    restarted.write_batch(&batch).await.unwrap();

    let q = |s: &str| s.replace("{T}", &table);
    assert_eq!(sql(&url, &q("SELECT count() FROM {T} FINAL")).await, "300");
    assert_eq!(sql(&url, &q("SELECT uniqExact(id) FROM {T}")).await, "300");
    sql(&url, &q("OPTIMIZE TABLE {T} FINAL")).await;
    assert_eq!(sql(&url, &q("SELECT count() FROM {T}")).await, "300");
    let row = sql(
        &url,
        &q("SELECT event_action, source_ip, source_country, user_name, event_severity, \
            arrayStringConcat(event_category, ','), toString(timestamp) FROM {T} WHERE id = 'once-00042' FORMAT TSV"),
    )
    .await;
    let fields: Vec<&str> = row.split('\t').collect();
    assert_eq!(
        &fields[..6],
        [
            "user.session.start",
            "89.160.20.128",
            "Sweden",
            "alice@example.com",
            "2",
            "authentication,session"
        ]
    );
    assert!(fields[6].starts_with("2024-04-22 07:58:12"), "{row}");
    // visitParamExtract* exists on every version (JSONExtract* only from 19.x).
    let request_id = sql(&url, &q("SELECT visitParamExtractString(document, 'requestId') FROM {T} WHERE id = 'once-00042'")).await;
    assert_eq!(request_id, "r1");
    let document = sql(
        &url,
        &q("SELECT document FROM {T} WHERE id = 'once-00042' FORMAT TSVRaw"),
    )
    .await;
    assert_eq!(document.as_bytes(), &batch[42].json[..]);
    sql(&url, &q("DROP TABLE {T}")).await;
}

#[tokio::test]
#[ignore = "needs a ClickHouse server: set OKTAFLOW_TEST_CLICKHOUSE_URL"]
async fn compressed_and_plain_inserts_store_the_same_rows() {
    // 3,000 documents make a body of several 256 KB pieces: several LZ4 blocks in one insert.
    let url = server_url();
    let batch = docs("lz4", 3000);
    let mut sums = Vec::new();
    for compression in [true, false] {
        let table = unique_table(if compression { "lz4" } else { "plain" });
        let mut config = config(&url, &table);
        config.request.compression = Some(compression);
        let mut sink = ClickHouseSink::new(&config).unwrap();
        sink.setup().await.unwrap();
        sink.recover(None).await.unwrap();
        let ack = sink.write_batch(&batch).await.unwrap();
        assert!(ack.rejected.is_empty(), "{:?}", ack.rejected);
        let q = |s: &str| s.replace("{T}", &table);
        assert_eq!(sql(&url, &q("SELECT count() FROM {T}")).await, "3000");
        sums.push(sql(&url, &q("SELECT sum(cityHash64(id, document)) FROM {T}")).await);
        sql(&url, &q("DROP TABLE {T}")).await;
    }
    assert_eq!(sums[0], sums[1]);
}

#[tokio::test]
#[ignore = "needs a ClickHouse server: set OKTAFLOW_TEST_CLICKHOUSE_URL"]
async fn refused_rows_are_dead_lettered_with_the_servers_reason_and_the_rest_is_stored() {
    let url = server_url();
    let table = unique_table("refused");
    let sink = ready_sink(&url, &table).await;
    drop(sink);
    // An operator changed a column's type: rows whose user name is not a number no
    // longer fit, the others still do.
    sql(
        &url,
        &format!("ALTER TABLE {table} MODIFY COLUMN user_name UInt64"),
    )
    .await;
    let mut sink = ClickHouseSink::new(&config(&url, &table)).unwrap();
    sink.recover(None).await.unwrap();
    let mut batch: Vec<Document> = (0..20)
        .map(|i| doc(&format!("num-{i:02}"), &format!("{i}")))
        .collect();
    batch[3] = doc("bad-a", "alice@example.com");
    batch[17] = doc("bad-b", "bob@example.com");
    let mut broken = doc("not-json", "");
    broken.json = b"{\"@timestamp\": ".to_vec();
    batch.push(broken);
    let ack = sink.write_batch(&batch).await.unwrap();
    let mut ids: Vec<&str> = ack.rejected.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["bad-a", "bad-b", "not-json"]);
    let bad = ack.rejected.iter().find(|r| r.id == "bad-a").unwrap();
    assert!(
        bad.reason.starts_with("ClickHouse refused the row: Code: "),
        "{}",
        bad.reason
    );
    assert_eq!(
        sql(&url, &format!("SELECT count() FROM {table} FINAL")).await,
        "18"
    );
    sql(&url, &format!("DROP TABLE {table}")).await;
}

/// A TCP forwarder to the real server that can be cut and restored: "store down".
struct Forwarder {
    addr: SocketAddr,
    target: SocketAddr,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Forwarder {
    async fn start(target: SocketAddr) -> Forwarder {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let forwarder = Forwarder {
            addr,
            target,
            task: Mutex::new(None),
            conns: Arc::new(Mutex::new(Vec::new())),
        };
        forwarder.serve(listener).await;
        forwarder
    }

    async fn serve(&self, listener: TcpListener) {
        let target = self.target;
        let conns = self.conns.clone();
        *self.task.lock().await = Some(tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let conn = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns.lock().await.push(conn);
            }
        }));
    }

    async fn down(&self) {
        if let Some(task) = self.task.lock().await.take() {
            task.abort();
            let _ = task.await;
        }
        for conn in self.conns.lock().await.drain(..) {
            conn.abort();
        }
    }

    async fn up(&self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener).await;
    }
}

#[tokio::test]
#[ignore = "needs a ClickHouse server: set OKTAFLOW_TEST_CLICKHOUSE_URL"]
async fn a_server_that_is_down_gives_retryable_errors_then_the_retry_lands_once() {
    let url = server_url();
    let table = unique_table("down");
    ready_sink(&url, &table).await;
    let target: SocketAddr = reqwest::Url::parse(&url)
        .unwrap()
        .socket_addrs(|| Some(8123))
        .unwrap()[0];
    let forwarder = Forwarder::start(target).await;
    let mut sink =
        ClickHouseSink::new(&config(&format!("http://{}", forwarder.addr), &table)).unwrap();
    sink.recover(None).await.unwrap();
    sink.write_batch(&docs("before", 10)).await.unwrap();
    forwarder.down().await;
    let batch = docs("during", 10);
    let err = sink.write_batch(&batch).await.unwrap_err();
    assert!(matches!(err, SinkError::Unreachable { .. }), "{err}");
    assert!(err.is_retryable());
    forwarder.up().await;
    sink.write_batch(&batch).await.unwrap();
    sink.write_batch(&batch).await.unwrap();
    assert_eq!(
        sql(&url, &format!("SELECT count() FROM {table} FINAL")).await,
        "20"
    );
    sql(&url, &format!("DROP TABLE {table}")).await;
}

#[tokio::test]
#[ignore = "needs a ClickHouse server: set OKTAFLOW_TEST_CLICKHOUSE_URL"]
async fn wrong_credentials_are_not_retryable_and_the_password_is_never_shown() {
    let url = server_url();
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("ch-password");
    std::fs::write(&password_file, "Sup3r-s3cret").unwrap();
    let mut sink = ClickHouseSink::new(&ClickHouseConfig {
        url: url.clone(),
        user: Some("default".into()),
        password_file: Some(password_file),
        ..ClickHouseConfig::default()
    })
    .unwrap();
    let err = sink.recover(None).await.unwrap_err();
    assert!(matches!(err, SinkError::Auth { .. }), "{err}");
    assert!(!err.is_retryable());
    let text = format!("{err} {err:?} {sink:?}");
    assert!(!text.contains("Sup3r-s3cret"), "{text}");
    assert!(!err.to_string().contains('\n'));
}

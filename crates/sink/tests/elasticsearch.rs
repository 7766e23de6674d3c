//! Elasticsearch sink tests.
//!
//! By default they run against `oktaflow_store_emulators::elasticsearch::EsEmulator`, an
//! in-process **emulator** of the `_bulk` API (not Elasticsearch). With
//! `OKTAFLOW_TEST_ES_URL=https://host:9200` set, the tests that need no fault
//! injection run against that real cluster instead (each in its own data stream
//! `logs-okta.system-t<random>`, which they leave behind); authenticate with an API
//! key in `OKTAFLOW_TEST_ES_API_KEY` and, for a self-signed certificate, set
//! `OKTAFLOW_TEST_ES_INSECURE=1`. The fault-injection tests always use the emulator.

use oktaflow_sink::elasticsearch::{ElasticsearchConfig, ElasticsearchSink, Flavor};
use oktaflow_sink::{Document, Sink, SinkError};
use oktaflow_store_emulators::elasticsearch::{EsAuth, EsEmulator, FieldType};
use serde_json::{json, Value};

fn doc(id: &str, ip: &str) -> Document {
    Document {
        id: id.to_owned(),
        json: json!({
            "@timestamp": "2024-04-22T07:58:12.998000Z",
            "event": {"id": id, "action": "user.session.start", "category": ["authentication"]},
            "source": {"ip": ip},
            "okta": {"system": {"debug": {"requestId": "r1"}}}
        })
        .to_string()
        .into_bytes(),
    }
}

fn docs(prefix: &str, n: usize) -> Vec<Document> {
    (0..n)
        .map(|i| doc(&format!("{prefix}-{i:05}"), "89.160.20.128"))
        .collect()
}

/// Where the documents go: the emulator, or a real cluster.
enum Store {
    Emulator(EsEmulator),
    Real {
        url: String,
        client: reqwest::Client,
    },
}

impl Store {
    async fn new() -> Store {
        match std::env::var("OKTAFLOW_TEST_ES_URL") {
            Ok(url) if !url.is_empty() => {
                let insecure = std::env::var("OKTAFLOW_TEST_ES_INSECURE").is_ok_and(|v| v == "1");
                let client = reqwest::Client::builder()
                    .tls_danger_accept_invalid_certs(insecure)
                    .build()
                    .unwrap();
                Store::Real { url, client }
            }
            _ => Store::Emulator(
                EsEmulator::start("127.0.0.1:0".parse().unwrap())
                    .await
                    .unwrap(),
            ),
        }
    }

    fn config(&self, index: &str) -> ElasticsearchConfig {
        match self {
            Store::Emulator(es) => ElasticsearchConfig {
                url: es.base_url(),
                index: index.to_owned(),
                retry_delay: std::time::Duration::from_millis(1),
                ..ElasticsearchConfig::default()
            },
            Store::Real { url, .. } => ElasticsearchConfig {
                url: url.clone(),
                index: index.to_owned(),
                api_key_env: std::env::var("OKTAFLOW_TEST_ES_API_KEY")
                    .ok()
                    .map(|_| "OKTAFLOW_TEST_ES_API_KEY".to_owned()),
                tls: oktaflow_plumbing::TlsConfig {
                    verify_certificate: std::env::var("OKTAFLOW_TEST_ES_INSECURE")
                        .map_or(true, |v| v != "1"),
                    ..Default::default()
                },
                ..ElasticsearchConfig::default()
            },
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let Store::Real { url, client } = self else {
            unreachable!("only for a real cluster")
        };
        let mut request = client.request(method, format!("{}/{path}", url.trim_end_matches('/')));
        if let Ok(key) = std::env::var("OKTAFLOW_TEST_ES_API_KEY") {
            request = request.header("Authorization", format!("ApiKey {key}"));
        }
        request
    }

    async fn count(&self, index: &str) -> usize {
        match self {
            Store::Emulator(es) => es.count(index),
            Store::Real { .. } => {
                self.request(reqwest::Method::POST, &format!("{index}/_refresh"))
                    .send()
                    .await
                    .unwrap();
                let body: Value = self
                    .request(reqwest::Method::GET, &format!("{index}/_count"))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                body["count"].as_u64().unwrap() as usize
            }
        }
    }

    async fn document(&self, index: &str, id: &str) -> Option<Value> {
        match self {
            Store::Emulator(es) => es.document(index, id),
            Store::Real { .. } => {
                self.request(reqwest::Method::POST, &format!("{index}/_refresh"))
                    .send()
                    .await
                    .unwrap();
                let body: Value = self
                    .request(reqwest::Method::GET, &format!("{index}/_search?q=_id:{id}"))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                body["hits"]["hits"].get(0).map(|h| h["_source"].clone())
            }
        }
    }
}

fn unique_index() -> String {
    format!("logs-okta.system-t{}", rand_suffix())
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    nanos ^ (std::process::id() as u64) << 32
}

fn emulator_only(store: &Store) -> Option<&EsEmulator> {
    match store {
        Store::Emulator(es) => Some(es),
        Store::Real { .. } => {
            eprintln!("fault injection needs the emulator: this part is skipped against OKTAFLOW_TEST_ES_URL");
            None
        }
    }
}

#[tokio::test]
async fn a_batch_sent_again_creates_no_duplicate() {
    let store = Store::new().await;
    let index = unique_index();
    let mut sink = ElasticsearchSink::new(Flavor::Elasticsearch, &store.config(&index)).unwrap();
    sink.recover(None).await.unwrap();
    let batch = docs("once", 50);
    let first = sink.write_batch(&batch).await.unwrap();
    assert_eq!(first.position, Value::Null);
    assert!(first.rejected.is_empty());
    // The pipeline crashed before its checkpoint: after a restart the batch (and a
    // bit more) is sent again.
    let mut restarted =
        ElasticsearchSink::new(Flavor::Elasticsearch, &store.config(&index)).unwrap();
    restarted.recover(Some(&first.position)).await.unwrap();
    let mut again = batch.clone();
    again.extend(docs("more", 10));
    let second = restarted.write_batch(&again).await.unwrap();
    assert!(second.rejected.is_empty(), "{:?}", second.rejected);
    assert_eq!(store.count(&index).await, 60);
    let stored = store.document(&index, "once-00007").await.unwrap();
    assert_eq!(stored["event"]["id"], "once-00007");
    if let Some(es) = emulator_only(&store) {
        let mut expected: Vec<String> = again.iter().map(|d| d.id.clone()).collect();
        expected.sort();
        let mut ids = es.ids(&index);
        ids.sort();
        assert_eq!(ids, expected);
    }
}

#[tokio::test]
async fn large_batches_are_split_by_count_and_bytes() {
    let store = Store::new().await;
    let Some(es) = emulator_only(&store) else {
        return;
    };
    let index = unique_index();
    let mut config = store.config(&index);
    config.batch.max_docs = Some(100);
    config.concurrency = 3;
    let mut sink = ElasticsearchSink::new(Flavor::Elasticsearch, &config).unwrap();
    sink.write_batch(&docs("split", 1050)).await.unwrap();
    assert_eq!(es.count(&index), 1050);
    assert_eq!(es.bulk_requests(), 11);

    let index = unique_index();
    let mut config = store.config(&index);
    config.batch.max_bytes = Some(4096); // ~12 documents of ~300 bytes each
    let mut sink = ElasticsearchSink::new(Flavor::Elasticsearch, &config).unwrap();
    let before = es.bulk_requests();
    sink.write_batch(&docs("bytes", 100)).await.unwrap();
    assert_eq!(es.count(&index), 100);
    assert!(
        es.bulk_requests() - before >= 8,
        "{} requests",
        es.bulk_requests() - before
    );
}

#[tokio::test]
async fn items_failing_with_429_are_retried_alone() {
    let store = Store::new().await;
    let Some(es) = emulator_only(&store) else {
        return;
    };
    let index = unique_index();
    let mut sink = ElasticsearchSink::new(Flavor::Elasticsearch, &store.config(&index)).unwrap();
    es.fail_items(3, 429);
    let ack = sink.write_batch(&docs("retry", 20)).await.unwrap();
    assert!(ack.rejected.is_empty());
    assert_eq!(es.count(&index), 20);
    // One request for the batch, one for the three refused items.
    assert_eq!(es.bulk_requests(), 2);
}

#[tokio::test]
async fn items_still_failing_after_the_retries_give_a_retryable_error() {
    let store = Store::new().await;
    let Some(es) = emulator_only(&store) else {
        return;
    };
    let index = unique_index();
    let mut config = store.config(&index);
    config.max_item_retries = 2;
    let mut sink = ElasticsearchSink::new(Flavor::Elasticsearch, &config).unwrap();
    es.fail_items(1000, 503);
    let err = sink.write_batch(&docs("busy", 5)).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(matches!(err, SinkError::Busy { status: 503, .. }), "{err}");
    assert!(
        err.to_string()
            .contains("5 documents still failing after 2 retries"),
        "{err}"
    );
    assert_eq!(es.bulk_requests(), 3);
}

#[tokio::test]
async fn documents_with_mapping_errors_are_rejected_with_the_reason() {
    let store = Store::new().await;
    let index = unique_index();
    let sink_config = store.config(&index);
    let mut sink = ElasticsearchSink::new(Flavor::Elasticsearch, &sink_config).unwrap();
    match &store {
        Store::Emulator(es) => es.map_field("source.ip", FieldType::Ip),
        // The real cluster maps source.ip as `ip` through oktaflow's template.
        Store::Real { .. } => {
            sink.setup(false).await.unwrap();
        }
    }
    let mut batch = docs("map", 4);
    batch.insert(2, doc("bad-ip", "not-an-address"));
    let ack = sink.write_batch(&batch).await.unwrap();
    assert_eq!(ack.rejected.len(), 1, "{:?}", ack.rejected);
    assert_eq!(ack.rejected[0].id, "bad-ip");
    let reason = &ack.rejected[0].reason;
    assert!(
        reason.contains("source.ip") && reason.contains("parsing_exception"),
        "{reason}"
    );
    assert_eq!(store.count(&index).await, 4);
}

#[tokio::test]
async fn whole_request_429_and_503_are_retryable_and_the_retry_lands_once() {
    let store = Store::new().await;
    let Some(es) = emulator_only(&store) else {
        return;
    };
    let index = unique_index();
    let mut sink = ElasticsearchSink::new(Flavor::Elasticsearch, &store.config(&index)).unwrap();
    let batch = docs("whole", 10);
    for status in [429, 503] {
        es.fail_requests(1, status);
        let err = sink.write_batch(&batch).await.unwrap_err();
        assert!(
            matches!(err, SinkError::Busy { status: s, .. } if s == status),
            "{err}"
        );
        assert!(err.is_retryable());
    }
    sink.write_batch(&batch).await.unwrap();
    sink.write_batch(&batch).await.unwrap();
    assert_eq!(es.count(&index), 10);
}

#[tokio::test]
async fn a_store_that_is_down_gives_retryable_errors_until_it_is_back() {
    let store = Store::new().await;
    let Some(es) = emulator_only(&store) else {
        return;
    };
    let index = unique_index();
    let mut sink = ElasticsearchSink::new(Flavor::Elasticsearch, &store.config(&index)).unwrap();
    sink.write_batch(&docs("before", 5)).await.unwrap();
    es.go_down().await;
    let batch = docs("during", 5);
    for _ in 0..2 {
        let err = sink.write_batch(&batch).await.unwrap_err();
        assert!(matches!(err, SinkError::Unreachable { .. }), "{err}");
        assert!(err.is_retryable());
        assert!(!err.to_string().contains('\n'));
    }
    es.come_back().await.unwrap();
    sink.write_batch(&batch).await.unwrap();
    assert_eq!(es.count(&index), 10);
}

#[tokio::test]
async fn basic_auth_and_api_keys_are_sent_and_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("es-password");
    std::fs::write(&password_file, "s3cret-Pa55\n").unwrap();
    let es = EsEmulator::start_with_auth(
        "127.0.0.1:0".parse().unwrap(),
        EsAuth::Basic {
            user: "oktaflow".into(),
            password: "s3cret-Pa55".into(),
        },
    )
    .await
    .unwrap();
    let config = ElasticsearchConfig {
        url: es.base_url(),
        user: Some("oktaflow".into()),
        password_file: Some(password_file.clone()),
        ..ElasticsearchConfig::default()
    };
    let mut sink = ElasticsearchSink::new(Flavor::Elasticsearch, &config).unwrap();
    sink.write_batch(&docs("auth", 3)).await.unwrap();
    assert_eq!(es.count(oktaflow_sink::elasticsearch::DEFAULT_INDEX), 3);
    assert!(!format!("{sink:?}").contains("s3cret"));

    std::fs::write(&password_file, "wrong-Pa55").unwrap();
    let mut wrong = ElasticsearchSink::new(Flavor::Elasticsearch, &config).unwrap();
    let err = wrong.write_batch(&docs("auth", 3)).await.unwrap_err();
    assert!(matches!(err, SinkError::Auth { status: 401, .. }), "{err}");
    assert!(!err.is_retryable());
    let text = format!("{err} {err:?} {wrong:?}");
    assert!(
        !text.contains("wrong-Pa55") && !text.contains("s3cret"),
        "{text}"
    );
    assert!(text.contains("security_exception"), "{text}");

    let keyed = EsEmulator::start_with_auth(
        "127.0.0.1:0".parse().unwrap(),
        EsAuth::ApiKey("a2V5OnZhbHVl".into()),
    )
    .await
    .unwrap();
    let key_file = dir.path().join("es-api-key");
    std::fs::write(&key_file, "a2V5OnZhbHVl").unwrap();
    let config = ElasticsearchConfig {
        url: keyed.base_url(),
        api_key_file: Some(key_file),
        ..ElasticsearchConfig::default()
    };
    let mut sink = ElasticsearchSink::new(Flavor::Elasticsearch, &config).unwrap();
    sink.write_batch(&docs("key", 2)).await.unwrap();
    assert_eq!(keyed.count(oktaflow_sink::elasticsearch::DEFAULT_INDEX), 2);
}

#[tokio::test]
async fn setup_installs_the_template_and_data_stream_idempotently() {
    let store = Store::new().await;
    let index = unique_index();
    let sink = ElasticsearchSink::new(Flavor::Elasticsearch, &store.config(&index)).unwrap();
    let first = sink.setup(true).await.unwrap();
    assert_eq!(
        first[0],
        "index template logs-okta.system installed (index pattern logs-okta.system-*)"
    );
    assert_eq!(first[1], format!("data stream {index} created"));
    let second = sink.setup(true).await.unwrap();
    assert_eq!(second[1], format!("data stream {index} already exists"));
    if let Some(es) = emulator_only(&store) {
        let template = es.template("logs-okta.system").unwrap();
        assert_eq!(
            template["template"]["mappings"]["properties"]["source"]["properties"]["ip"]["type"],
            "ip"
        );
        assert_eq!(es.data_streams(), vec![index]);
    }
}

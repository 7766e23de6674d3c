//! HTTP and Splunk HEC sink tests against `oktaflow_store_emulators::splunk::HecEmulator`, an
//! in-process emulator of a HEC endpoint and of a plain NDJSON collector (not Splunk).

use oktaflow_sink::http::{HttpConfig, HttpMode, HttpSink};
use oktaflow_sink::{BatchOptions, Document, Sink, SinkError};
use oktaflow_store_emulators::splunk::HecEmulator;
use serde_json::{json, Value};

const TOKEN: &str = "11111111-2222-3333-4444-555555555555";

fn doc(id: &str) -> Document {
    Document {
        id: id.to_owned(),
        json: json!({"@timestamp": "2024-04-22T07:58:12.998001Z", "event": {"id": id}})
            .to_string()
            .into_bytes(),
    }
}

fn docs(prefix: &str, n: usize) -> Vec<Document> {
    (0..n).map(|i| doc(&format!("{prefix}-{i:03}"))).collect()
}

async fn hec() -> (HecEmulator, tempfile::TempDir, HttpConfig) {
    let emulator = HecEmulator::start("127.0.0.1:0".parse().unwrap(), TOKEN)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("hec-token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let config = HttpConfig {
        url: emulator.base_url(),
        token_file: Some(token_file),
        index: Some("okta".into()),
        request: oktaflow_sink::RequestOptions {
            compression: Some(true),
            ..Default::default()
        },
        ..HttpConfig::default()
    };
    (emulator, dir, config)
}

#[tokio::test]
async fn splunk_events_carry_the_envelope_and_the_document() {
    let (emulator, _dir, config) = hec().await;
    let mut sink = HttpSink::new(HttpMode::SplunkHec, &config).unwrap();
    assert_eq!(
        sink.name(),
        format!("splunk:{}/services/collector/event", emulator.base_url())
    );
    sink.recover(None).await.unwrap();
    let batch = docs("hec", 3);
    let ack = sink.write_batch(&batch).await.unwrap();
    assert!(ack.rejected.is_empty() && ack.position.is_null());
    let events = emulator.events();
    assert_eq!(events.len(), 3);
    assert_eq!(
        events[1],
        json!({"time": 1713772692.998001, "sourcetype": "okta:system", "index": "okta",
               "event": {"@timestamp": "2024-04-22T07:58:12.998001Z", "event": {"id": "hec-001"}}})
    );
    let request = &emulator.requests()[0];
    assert_eq!(request.path, "/services/collector/event");
    assert!(request.gzip);
    assert!(request
        .headers
        .contains(&("authorization".into(), format!("Splunk {TOKEN}"))));
}

#[tokio::test]
async fn an_event_hec_refuses_is_dead_lettered_and_the_rest_is_delivered_once() {
    let (emulator, _dir, config) = hec().await;
    let mut sink = HttpSink::new(HttpMode::SplunkHec, &config).unwrap();
    emulator.refuse_events_containing("bad-");
    let mut batch = docs("ok", 6);
    batch.insert(2, doc("bad-1"));
    batch.insert(5, doc("bad-2"));
    let ack = sink.write_batch(&batch).await.unwrap();
    let ids: Vec<&str> = ack.rejected.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["bad-1", "bad-2"]);
    assert_eq!(
        ack.rejected[0].reason,
        "Splunk HEC refused the event: Invalid data format (code 6)"
    );
    let delivered: Vec<String> = emulator
        .events()
        .iter()
        .map(|e| e["event"]["event"]["id"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = (0..6).map(|i| format!("ok-{i:03}")).collect();
    assert_eq!(delivered, expected);
    assert_eq!(emulator.requests().len(), 3);
}

#[tokio::test]
async fn busy_and_down_collectors_give_retryable_errors_then_deliver() {
    let (emulator, _dir, config) = hec().await;
    let mut sink = HttpSink::new(HttpMode::SplunkHec, &config).unwrap();
    emulator.fail_requests(1, 503);
    let err = sink.write_batch(&docs("a", 2)).await.unwrap_err();
    assert!(matches!(err, SinkError::Busy { status: 503, .. }), "{err}");
    assert!(err.is_retryable());
    emulator.go_down().await;
    let err = sink.write_batch(&docs("a", 2)).await.unwrap_err();
    assert!(matches!(err, SinkError::Unreachable { .. }), "{err}");
    assert!(err.is_retryable());
    emulator.come_back().await.unwrap();
    sink.write_batch(&docs("a", 2)).await.unwrap();
    assert_eq!(emulator.events().len(), 2);
}

#[tokio::test]
async fn a_wrong_token_is_not_retryable_and_never_shown() {
    let (emulator, dir, mut config) = hec().await;
    let wrong = dir.path().join("wrong-token");
    std::fs::write(&wrong, "wrong-token-value").unwrap();
    config.token_file = Some(wrong);
    let mut sink = HttpSink::new(HttpMode::SplunkHec, &config).unwrap();
    let err = sink.write_batch(&docs("a", 1)).await.unwrap_err();
    assert!(matches!(err, SinkError::Auth { status: 403, .. }), "{err}");
    assert!(!err.is_retryable());
    let text = format!("{err} {err:?} {sink:?} {config:?}");
    assert!(
        !text.contains("wrong-token-value") && !text.contains(TOKEN),
        "{text}"
    );
    assert!(emulator.events().is_empty());
}

#[tokio::test]
async fn ndjson_posts_lines_with_configured_headers() {
    let emulator = HecEmulator::start("127.0.0.1:0".parse().unwrap(), TOKEN)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let auth = dir.path().join("auth");
    std::fs::write(&auth, "Bearer abc.def").unwrap();
    let config = HttpConfig {
        url: format!("{}/ingest/okta", emulator.base_url()),
        headers: [("X-Source".to_owned(), "oktaflow".to_owned())].into(),
        auth_header_file: Some(auth),
        batch: BatchOptions {
            max_docs: Some(4),
            ..Default::default()
        },
        ..HttpConfig::default()
    };
    let mut sink = HttpSink::new(HttpMode::Ndjson, &config).unwrap();
    assert!(!format!("{sink:?}").contains("abc.def"));
    let batch = docs("line", 10);
    sink.write_batch(&batch).await.unwrap();
    let lines = emulator.lines();
    let expected: Vec<Value> = batch
        .iter()
        .map(|d| serde_json::from_slice(&d.json).unwrap())
        .collect();
    assert_eq!(lines, expected);
    let requests = emulator.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].path, "/ingest/okta");
    assert!(!requests[0].gzip);
    let has = |k: &str, v: &str| requests[0].headers.contains(&(k.to_owned(), v.to_owned()));
    assert!(
        has("x-source", "oktaflow")
            && has("authorization", "Bearer abc.def")
            && has("content-type", "application/x-ndjson")
    );
}

/// An NDJSON sink posting to the emulator's plain collector at `/ingest/okta`.
async fn collector(max_docs: usize) -> (HecEmulator, HttpSink) {
    let emulator = HecEmulator::start("127.0.0.1:0".parse().unwrap(), TOKEN)
        .await
        .unwrap();
    let config = HttpConfig {
        url: format!("{}/ingest/okta", emulator.base_url()),
        batch: BatchOptions {
            max_docs: Some(max_docs),
            ..Default::default()
        },
        ..HttpConfig::default()
    };
    let sink = HttpSink::new(HttpMode::Ndjson, &config).unwrap();
    (emulator, sink)
}

/// The `event.id`s a collector stored, in order (NDJSON lines, or HEC envelopes).
fn stored(emulator: &HecEmulator) -> Vec<String> {
    let hec = emulator.events();
    let docs = emulator
        .lines()
        .into_iter()
        .chain(hec.iter().map(|e| e["event"].clone()));
    docs.map(|d| d["event"]["id"].as_str().unwrap().to_owned())
        .collect()
}

fn ids(batch: &[Document]) -> Vec<String> {
    batch.iter().map(|d| d.id.clone()).collect()
}

#[tokio::test]
async fn documents_a_collector_refuses_with_400_are_found_by_halving_and_dead_lettered() {
    let (emulator, mut sink) = collector(8).await;
    emulator.refuse_events_containing("bad-");
    let mut batch = docs("ok", 10);
    batch.insert(3, doc("bad-1"));
    batch.insert(9, doc("bad-2"));
    let ack = sink.write_batch(&batch).await.unwrap();
    let refused: Vec<&str> = ack.rejected.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(refused, ["bad-1", "bad-2"]);
    assert_eq!(
        ack.rejected[0].reason,
        "the collector refused the document (HTTP 400): line 1: invalid document"
    );
    assert_eq!(
        stored(&emulator),
        ids(&docs("ok", 10)),
        "the others once, in order"
    );
}

#[tokio::test]
async fn a_batch_retried_after_a_failed_request_resumes_after_the_acknowledged_ones() {
    let (emulator, mut sink) = collector(2).await;
    let batch = docs("r", 7);
    emulator.fail_requests_after(2, 1, 503);
    let err = sink.write_batch(&batch).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(stored(&emulator), ids(&batch[..4]));
    emulator.go_down().await;
    assert!(sink.write_batch(&batch).await.unwrap_err().is_retryable());
    emulator.come_back().await.unwrap();
    let ack = sink.write_batch(&batch).await.unwrap();
    assert!(ack.rejected.is_empty());
    assert_eq!(stored(&emulator), ids(&batch), "each document once");
    // 2 served, 1 refused with 503, then 2 for the rest (none while down).
    assert_eq!(emulator.requests().len(), 5);

    // Another batch after a failure is sent whole.
    emulator.fail_requests_after(1, 1, 503);
    let next = docs("n", 4);
    sink.write_batch(&next).await.unwrap_err();
    let other = docs("o", 3);
    sink.write_batch(&other).await.unwrap();
    let mut expected = ids(&batch);
    expected.extend(ids(&next[..2]));
    expected.extend(ids(&other));
    assert_eq!(stored(&emulator), expected);
}

#[tokio::test]
async fn a_hec_refusal_before_a_failed_request_is_kept_for_the_retry() {
    let (emulator, _dir, config) = hec().await;
    let mut sink = HttpSink::new(
        HttpMode::SplunkHec,
        &HttpConfig {
            batch: BatchOptions {
                max_docs: Some(3),
                ..Default::default()
            },
            ..config
        },
    )
    .unwrap();
    emulator.refuse_events_containing("bad-");
    let mut batch = docs("ok", 5);
    batch.insert(1, doc("bad-1"));
    // [ok-000, bad-1, ok-001] → ok-000 indexed, bad-1 refused; [ok-001] indexed; then
    // [ok-002, ok-003, ok-004] fails once.
    emulator.fail_requests_after(2, 1, 503);
    assert!(sink.write_batch(&batch).await.unwrap_err().is_retryable());
    let ack = sink.write_batch(&batch).await.unwrap();
    let refused: Vec<&str> = ack.rejected.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(refused, ["bad-1"]);
    assert_eq!(stored(&emulator), ids(&docs("ok", 5)));
    assert_eq!(emulator.requests().len(), 4);
}

#[test]
fn configuration_mistakes_are_named() {
    let err = HttpSink::new(
        HttpMode::SplunkHec,
        &HttpConfig {
            url: "https://hec:8088".into(),
            ..HttpConfig::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "token_env: a HEC token is required: give token_env or token_file"
    );
    let err = HttpSink::new(
        HttpMode::Ndjson,
        &HttpConfig {
            url: "https://c/x".into(),
            headers: [("Authorization".to_owned(), "Bearer x".to_owned())].into(),
            ..HttpConfig::default()
        },
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("headers: Authorization is a secret"),
        "{err}"
    );
}

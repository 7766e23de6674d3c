//! The client and the consumer against a real SQS-compatible server (`moto` in server mode:
//! `.ci/sqs.sh`, run by `.ci/run`). Without `OKTAFLOW_TEST_SQS_URL` these tests are ignored.

use std::time::Duration;

use oktaflow_sqs::testing::{create_queue, depth, send};
use oktaflow_sqs::{Consumer, SqsClient, SqsError};
use tokio::sync::watch;

#[tokio::test]
#[ignore = "needs an SQS server: OKTAFLOW_TEST_SQS_URL (.ci/sqs.sh)"]
async fn the_server_supports_what_the_consumer_uses() {
    let config = create_queue("ops", 30).await.unwrap();
    let client = SqsClient::new(&config).unwrap();
    for i in 0..12 {
        send(&client, &format!("m{i}")).await.unwrap();
    }
    // At most 10 per receive.
    let first = client.receive(10, Duration::from_secs(2)).await.unwrap();
    assert!(!first.is_empty() && first.len() <= 10, "{}", first.len());
    let handles: Vec<String> = first.iter().map(|m| m.receipt_handle.clone()).collect();
    // ChangeMessageVisibilityBatch: extended past the 2 s given at receive.
    let refused = client
        .change_visibility(&handles, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(refused.is_empty(), "{refused:?}");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut rest = Vec::new();
    while rest.len() < 12 - first.len() {
        let got = client.receive(10, Duration::from_secs(30)).await.unwrap();
        assert!(!got.is_empty(), "the remaining messages did not come");
        rest.extend(got);
    }
    for m in &rest {
        assert!(
            !first.iter().any(|f| f.message_id == m.message_id),
            "a message whose visibility was extended came back"
        );
    }
    // DeleteMessageBatch, more than ten handles (two requests), one bogus handle refused.
    let mut all: Vec<String> = first
        .iter()
        .chain(&rest)
        .map(|m| m.receipt_handle.clone())
        .collect();
    all.push("not-a-receipt-handle".into());
    let refused = client.delete(&all).await.unwrap();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].receipt_handle, "not-a-receipt-handle");
    assert_eq!(depth(&client).await.unwrap(), (0, 0));

    // Long polling: a receive started on the empty queue returns a message sent while it
    // waits.
    let mut waiting = config.clone();
    waiting.wait_time = Duration::from_secs(10);
    let waiter = SqsClient::new(&waiting).unwrap();
    let poll = tokio::spawn(async move { waiter.receive(10, Duration::from_secs(30)).await });
    tokio::time::sleep(Duration::from_millis(700)).await;
    send(&client, "late").await.unwrap();
    let got = poll.await.unwrap().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, "late");
}

#[tokio::test]
#[ignore = "needs an SQS server: OKTAFLOW_TEST_SQS_URL (.ci/sqs.sh)"]
async fn a_missing_queue_is_a_one_line_permanent_error() {
    let mut config = create_queue("missing", 30).await.unwrap();
    config.queue_url = format!("{}-gone", config.queue_url);
    let client = SqsClient::new(&config).unwrap();
    let error = client.attributes().await.unwrap_err();
    assert!(!error.is_transient(), "{error}");
    assert!(matches!(&error, SqsError::Service { code, .. } if code == "QueueDoesNotExist"));
    assert!(!error.to_string().contains('\n'));
    assert!(!error.to_string().contains("oktaflow-test-secret-key"));
    // The consumer ends with it and closes its delivery queue.
    let (_stop_tx, stop) = watch::channel(false);
    let (consumer, mut deliveries) = Consumer::spawn(client, &config, stop);
    assert!(deliveries.recv().await.is_none());
    let error = consumer.finish(Duration::from_secs(10)).await.unwrap_err();
    assert!(error.to_string().contains("QueueDoesNotExist"), "{error}");
}

#[tokio::test]
#[ignore = "needs an SQS server: OKTAFLOW_TEST_SQS_URL (.ci/sqs.sh)"]
async fn acknowledged_messages_are_deleted_and_failed_ones_come_back_at_once() {
    let mut config = create_queue("ack", 30).await.unwrap();
    config.visibility_timeout = Duration::from_secs(30);
    let client = SqsClient::new(&config).unwrap();
    for i in 0..25 {
        send(&client, &format!("{{\"n\":{i}}}")).await.unwrap();
    }
    let (stop_tx, stop) = watch::channel(false);
    let (consumer, mut deliveries) = Consumer::spawn(client.clone(), &config, stop);
    let stats = consumer.stats();
    // The first three bodies are failed the first time they come: they must come back at
    // once (visibility 0), not after 30 s. Every other delivery is acknowledged.
    let mut times: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    let mut failed = Vec::new();
    let mut acked = std::collections::HashSet::new();
    while acked.len() < 25 {
        let delivery = tokio::time::timeout(Duration::from_secs(10), deliveries.recv())
            .await
            .expect("every message (the failed ones again) well before their 30 s visibility")
            .expect("the consumer is running");
        let body = String::from_utf8(delivery.body.to_vec()).unwrap();
        *times.entry(body.clone()).or_default() += 1;
        if failed.len() < 3 && !failed.contains(&body) && !acked.contains(&body) {
            failed.push(body);
            delivery.fail("test: not durable");
        } else {
            acked.insert(body);
            delivery.ack();
        }
    }
    for body in &failed {
        assert_eq!(times[body], 2, "{body}");
    }
    assert_eq!(times.values().sum::<u32>(), 28, "{times:?}");
    // Deleted only after the ack: the queue ends empty.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while stats.deleted() < 25 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stats.deleted(), 25);
    assert_eq!(stats.released(), 3);
    assert!(stats.receives() >= 3, "10 per receive at most");
    assert_eq!(depth(&client).await.unwrap(), (0, 0));
    stop_tx.send(true).unwrap();
    consumer.finish(Duration::from_secs(10)).await.unwrap();
}

#[tokio::test]
#[ignore = "needs an SQS server: OKTAFLOW_TEST_SQS_URL (.ci/sqs.sh)"]
async fn visibility_is_extended_while_a_delivery_waits() {
    let mut config = create_queue("slow", 2).await.unwrap();
    config.visibility_timeout = Duration::from_secs(2);
    let client = SqsClient::new(&config).unwrap();
    send(&client, "{\"slow\":true}").await.unwrap();
    let (stop_tx, stop) = watch::channel(false);
    let (consumer, mut deliveries) = Consumer::spawn(client.clone(), &config, stop);
    let stats = consumer.stats();
    let delivery = tokio::time::timeout(Duration::from_secs(20), deliveries.recv())
        .await
        .unwrap()
        .unwrap();
    // Held for three visibility timeouts: another receiver never gets it meanwhile.
    let mut spy_config = config.clone();
    spy_config.wait_time = Duration::from_secs(1);
    let spy = SqsClient::new(&spy_config).unwrap();
    let held = tokio::time::Instant::now();
    while held.elapsed() < Duration::from_secs(6) {
        let got = spy.receive(10, Duration::from_secs(1)).await.unwrap();
        assert!(got.is_empty(), "the message became visible while in flight");
    }
    assert!(stats.extended() >= 2, "extended {} times", stats.extended());
    assert_eq!(stats.received(), 1);
    delivery.ack();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while stats.deleted() < 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stats.deleted(), 1);
    assert_eq!(depth(&client).await.unwrap(), (0, 0));
    stop_tx.send(true).unwrap();
    consumer.finish(Duration::from_secs(10)).await.unwrap();
}

#[tokio::test]
#[ignore = "needs an SQS server: OKTAFLOW_TEST_SQS_URL (.ci/sqs.sh)"]
async fn finish_after_the_push_run_ended_abandons_the_long_poll() {
    let mut config = create_queue("halt", 30).await.unwrap();
    config.wait_time = Duration::from_secs(20);
    let client = SqsClient::new(&config).unwrap();
    // No stop request: the push run ended on its own (e.g. a sink failed for good).
    let (_stop_tx, stop) = watch::channel(false);
    let (consumer, deliveries) = Consumer::spawn(client, &config, stop);
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(deliveries);
    let started = std::time::Instant::now();
    consumer.finish(Duration::from_secs(60)).await.unwrap();
    // Not after the 20 s long poll, nor after the 60 s grace.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

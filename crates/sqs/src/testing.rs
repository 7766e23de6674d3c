//! Helpers for tests against an SQS-compatible server (`moto` in server mode, started by
//! `.ci/sqs.sh`, its URL in `OKTAFLOW_TEST_SQS_URL`). Test code only: nothing here is used
//! by the consumer.

use oktaflow_plumbing::Secret;
use serde_json::json;

use crate::{Credentials, SqsClient, SqsConfig, SqsError};

/// The environment variable naming the test server.
pub const SERVER_ENV: &str = "OKTAFLOW_TEST_SQS_URL";

/// The test server's URL; panics with how to start one when it is not set (the tests that
/// call it are `#[ignore]`d, so this only runs when asked for).
pub fn server_url() -> String {
    match std::env::var(SERVER_ENV) {
        Ok(url) if !url.trim().is_empty() => url.trim().trim_end_matches('/').to_string(),
        _ => {
            panic!("{SERVER_ENV} is not set: start a server with `source .ci/sqs.sh && sqs_start`")
        }
    }
}

/// Credentials the test server accepts (it does not check signatures).
pub fn test_credentials() -> Credentials {
    Credentials {
        access_key_id: "AKIDOKTAFLOWTEST".into(),
        secret_access_key: Secret::unlisted("oktaflow-test-secret-key"),
        session_token: None,
    }
}

/// Creates a queue with a unique name starting with `prefix` (default visibility timeout
/// `visibility_secs`) on the test server; its configuration with a short long poll.
pub async fn create_queue(prefix: &str, visibility_secs: u64) -> Result<SqsConfig, SqsError> {
    let url = server_url();
    let name = format!(
        "{prefix}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    );
    let mut config = SqsConfig::new(
        format!("{url}/123456789012/bootstrap"),
        "us-east-1",
        test_credentials(),
    );
    config.wait_time = std::time::Duration::from_secs(1);
    let bootstrap = SqsClient::new(&config)?;
    let answer = bootstrap
        .request(
            "CreateQueue",
            &json!({"QueueName": name, "Attributes": {"VisibilityTimeout": visibility_secs.to_string()}}),
        )
        .await?;
    let queue_url = answer
        .get("QueueUrl")
        .and_then(|u| u.as_str())
        .ok_or_else(|| SqsError::Body {
            action: "CreateQueue",
            reason: format!("no QueueUrl in {answer}"),
        })?;
    config.queue_url = queue_url.to_string();
    config.visibility_timeout = std::time::Duration::from_secs(visibility_secs);
    Ok(config)
}

/// Sends `body` to the queue of `client`.
pub async fn send(client: &SqsClient, body: &str) -> Result<(), SqsError> {
    client
        .request(
            "SendMessage",
            &json!({"QueueUrl": client.queue_url(), "MessageBody": body}),
        )
        .await
        .map(|_| ())
}

/// How many messages the queue holds: `(visible, in flight)`.
pub async fn depth(client: &SqsClient) -> Result<(u64, u64), SqsError> {
    let attributes = client.attributes().await?;
    let number = |name: &str| {
        attributes
            .get(name)
            .and_then(|n| n.parse().ok())
            .unwrap_or_default()
    };
    Ok((
        number("ApproximateNumberOfMessages"),
        number("ApproximateNumberOfMessagesNotVisible"),
    ))
}

//! [`SqsClient`]: signed requests of the SQS JSON protocol.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use oktaflow_plumbing::{build_client, error_chain, ClientOptions};
use reqwest::Url;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::{ConfigError, Credentials, SqsConfig};
use crate::sigv4;

/// The longest answer body kept in an error message.
const ERROR_BODY_LIMIT: usize = 300;

/// A request to SQS failed.
#[derive(Debug, thiserror::Error)]
pub enum SqsError {
    /// A setting cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No answer: connection refused, DNS, TLS, timeout.
    #[error("SQS {action}: {reason}")]
    Network {
        /// The action (`ReceiveMessage`, ...).
        action: &'static str,
        /// The error chain, on one line.
        reason: String,
    },
    /// SQS answered with an error.
    #[error("SQS {action}: {code} (HTTP {status}): {message}")]
    Service {
        /// The action (`ReceiveMessage`, ...).
        action: &'static str,
        /// The HTTP status.
        status: u16,
        /// The error code (`AccessDenied`, `QueueDoesNotExist`, `InvalidClientTokenId`, ...).
        code: String,
        /// AWS's message.
        message: String,
    },
    /// An answer that is not what the protocol says.
    #[error("SQS {action}: unreadable answer: {reason}")]
    Body {
        /// The action (`ReceiveMessage`, ...).
        action: &'static str,
        /// What was wrong.
        reason: String,
    },
}

impl SqsError {
    /// True when a retry may succeed (no answer, throttling, a 5xx, an unreadable body);
    /// false for what only an operator can fix (credentials, permissions, a missing queue,
    /// a bad setting).
    pub fn is_transient(&self) -> bool {
        match self {
            SqsError::Config(_) => false,
            SqsError::Network { .. } | SqsError::Body { .. } => true,
            SqsError::Service { status, code, .. } => {
                *status >= 500
                    || *status == 429
                    || *status == 408
                    || code.contains("Throttl")
                    || code == "RequestThrottled"
                    || code == "ServiceUnavailable"
                    || code == "InternalError"
                    || code == "InternalFailure"
            }
        }
    }

    /// A hint for the operator of a permanent error, or `None`.
    pub fn hint(&self) -> Option<&'static str> {
        let SqsError::Service { code, .. } = self else {
            return None;
        };
        Some(match code.as_str() {
            "AccessDenied" | "AccessDeniedException" => {
                "the key's IAM policy must allow sqs:ReceiveMessage, sqs:DeleteMessage, sqs:ChangeMessageVisibility and sqs:GetQueueAttributes on the queue (docs/push.md)"
            }
            "InvalidClientTokenId" | "UnrecognizedClientException" => {
                "the access key id is not known to AWS; check sqs.access_key_id"
            }
            "SignatureDoesNotMatch" | "IncompleteSignature" => {
                "the secret access key does not belong to the access key id; check sqs.secret_access_key"
            }
            "ExpiredToken" | "ExpiredTokenException" => {
                "the session token has expired; renew the temporary credentials"
            }
            "QueueDoesNotExist" | "AWS.SimpleQueueService.NonExistentQueue" => {
                "check sqs.queue_url and sqs.region (the queue's own region)"
            }
            _ => return None,
        })
    }
}

/// A received message.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Message {
    /// SQS's id of the message.
    pub message_id: String,
    /// The handle that deletes it or changes its visibility (valid for this receive only).
    pub receipt_handle: String,
    /// The body: an EventBridge envelope when the rule targets the queue.
    #[serde(default)]
    pub body: String,
    /// The system attributes asked for (`ApproximateReceiveCount`, `SentTimestamp`).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

impl Message {
    /// How many times SQS has handed this message out (1 the first time).
    pub fn receive_count(&self) -> u32 {
        self.attributes
            .get("ApproximateReceiveCount")
            .and_then(|n| n.parse().ok())
            .unwrap_or(1)
    }
}

/// An entry of a batch request SQS refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchFailure {
    /// The receipt handle of the entry.
    pub receipt_handle: String,
    /// SQS's code (`ReceiptHandleIsInvalid`, ...).
    pub code: String,
    /// SQS's message.
    pub message: String,
}

#[derive(Deserialize)]
struct ReceiveAnswer {
    #[serde(rename = "Messages", default)]
    messages: Vec<Message>,
}

#[derive(Deserialize)]
struct BatchAnswer {
    #[serde(rename = "Failed", default)]
    failed: Vec<BatchFailed>,
}

#[derive(Deserialize)]
struct BatchFailed {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Code", default)]
    code: String,
    #[serde(rename = "Message", default)]
    message: String,
}

#[derive(Deserialize)]
struct AttributesAnswer {
    #[serde(rename = "Attributes", default)]
    attributes: BTreeMap<String, String>,
}

/// Signed requests to one queue.
#[derive(Clone)]
pub struct SqsClient {
    http: reqwest::Client,
    endpoint: Url,
    host: String,
    queue_url: String,
    region: String,
    credentials: Credentials,
    wait_time: Duration,
}

impl std::fmt::Debug for SqsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqsClient")
            .field("endpoint", &self.endpoint.as_str())
            .field("queue_url", &self.queue_url)
            .field("region", &self.region)
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl SqsClient {
    /// The client of `config`'s queue (checks the settings, builds the HTTP client; sends
    /// nothing).
    pub fn new(config: &SqsConfig) -> Result<SqsClient, SqsError> {
        config.check()?;
        let endpoint = config.endpoint_url()?;
        let mut options = ClientOptions::new(
            config.tls.clone(),
            // A long poll holds the request for up to wait_time.
            config.wait_time + Duration::from_secs(15),
        );
        options.proxy_url = config.proxy_url.clone();
        let http = build_client(&endpoint, &options).map_err(|e| {
            SqsError::Config(ConfigError {
                key: if e.to_string().contains("proxy") {
                    "proxy_url"
                } else {
                    "tls"
                },
                reason: e.to_string(),
            })
        })?;
        let host = match (endpoint.host_str(), endpoint.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            (None, _) => {
                return Err(SqsError::Config(ConfigError {
                    key: "endpoint",
                    reason: "has no host".into(),
                }))
            }
        };
        Ok(SqsClient {
            http,
            endpoint,
            host,
            queue_url: config.queue_url.trim().to_string(),
            region: config.region.trim().to_string(),
            credentials: config.credentials.clone(),
            wait_time: config.wait_time,
        })
    }

    /// The queue's URL.
    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    /// Sends `action` (`ReceiveMessage`, `CreateQueue`, ...) with the JSON `input` and
    /// returns the answer's JSON. Any SQS action of the JSON protocol; the consumer uses
    /// the typed methods below.
    pub async fn request(&self, action: &'static str, input: &Value) -> Result<Value, SqsError> {
        let bytes = self.send(action, input).await?;
        if bytes.is_empty() {
            return Ok(Value::Object(Default::default()));
        }
        serde_json::from_slice(&bytes).map_err(|e| SqsError::Body {
            action,
            reason: e.to_string(),
        })
    }

    async fn send(&self, action: &'static str, input: &Value) -> Result<bytes::Bytes, SqsError> {
        let body = serde_json::to_vec(input).map_err(|e| SqsError::Body {
            action,
            reason: e.to_string(),
        })?;
        let target = format!("AmazonSQS.{action}");
        let content_type = "application/x-amz-json-1.0";
        let request = sigv4::Request {
            method: "POST",
            path: "/",
            query: "",
            headers: vec![
                ("content-type", content_type.to_string()),
                ("host", self.host.clone()),
                ("x-amz-target", target.clone()),
            ],
            body: &body,
        };
        let signed = sigv4::sign(&request, &self.credentials, &self.region, "sqs", Utc::now());
        let mut builder = self
            .http
            .post(self.endpoint.clone())
            .header("content-type", content_type)
            .header("x-amz-target", target);
        for (name, value) in signed {
            builder = builder.header(name, value);
        }
        let response = builder
            .body(body)
            .send()
            .await
            .map_err(|e| SqsError::Network {
                action,
                reason: error_chain(&e),
            })?;
        let status = response.status();
        let query_error = response
            .headers()
            .get("x-amzn-query-error")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_string);
        let bytes = response.bytes().await.map_err(|e| SqsError::Network {
            action,
            reason: error_chain(&e),
        })?;
        if status.is_success() {
            return Ok(bytes);
        }
        Err(service_error(action, status.as_u16(), query_error, &bytes))
    }

    /// `ReceiveMessage`: up to `max` messages (1..=10), waiting up to the configured long
    /// poll for the first, each made invisible to other receivers for `visibility`.
    pub async fn receive(&self, max: u32, visibility: Duration) -> Result<Vec<Message>, SqsError> {
        let input = json!({
            "QueueUrl": self.queue_url,
            "MaxNumberOfMessages": max.clamp(1, 10),
            "WaitTimeSeconds": self.wait_time.as_secs().min(20),
            "VisibilityTimeout": visibility.as_secs(),
            "MessageSystemAttributeNames": ["ApproximateReceiveCount", "SentTimestamp"],
        });
        let bytes = self.send("ReceiveMessage", &input).await?;
        if bytes.is_empty() {
            return Ok(Vec::new());
        }
        let answer: ReceiveAnswer = serde_json::from_slice(&bytes).map_err(|e| SqsError::Body {
            action: "ReceiveMessage",
            reason: e.to_string(),
        })?;
        Ok(answer.messages)
    }

    /// `DeleteMessageBatch` of every handle (ten per request); the entries SQS refused.
    pub async fn delete(&self, handles: &[String]) -> Result<Vec<BatchFailure>, SqsError> {
        let mut failures = Vec::new();
        for chunk in handles.chunks(10) {
            let entries: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, handle)| json!({"Id": i.to_string(), "ReceiptHandle": handle}))
                .collect();
            let input = json!({"QueueUrl": self.queue_url, "Entries": entries});
            let bytes = self.send("DeleteMessageBatch", &input).await?;
            failures.extend(batch_failures("DeleteMessageBatch", &bytes, chunk)?);
        }
        Ok(failures)
    }

    /// `ChangeMessageVisibilityBatch` of every handle to `timeout` (ten per request; 0
    /// makes them visible again at once); the entries SQS refused.
    pub async fn change_visibility(
        &self,
        handles: &[String],
        timeout: Duration,
    ) -> Result<Vec<BatchFailure>, SqsError> {
        let mut failures = Vec::new();
        for chunk in handles.chunks(10) {
            let entries: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, handle)| {
                    json!({"Id": i.to_string(), "ReceiptHandle": handle, "VisibilityTimeout": timeout.as_secs()})
                })
                .collect();
            let input = json!({"QueueUrl": self.queue_url, "Entries": entries});
            let bytes = self.send("ChangeMessageVisibilityBatch", &input).await?;
            failures.extend(batch_failures(
                "ChangeMessageVisibilityBatch",
                &bytes,
                chunk,
            )?);
        }
        Ok(failures)
    }

    /// `GetQueueAttributes` (all of them): what `oktaflow check` shows and how it proves
    /// the queue exists and the key may read it.
    pub async fn attributes(&self) -> Result<BTreeMap<String, String>, SqsError> {
        let input = json!({"QueueUrl": self.queue_url, "AttributeNames": ["All"]});
        let bytes = self.send("GetQueueAttributes", &input).await?;
        if bytes.is_empty() {
            return Ok(BTreeMap::new());
        }
        let answer: AttributesAnswer =
            serde_json::from_slice(&bytes).map_err(|e| SqsError::Body {
                action: "GetQueueAttributes",
                reason: e.to_string(),
            })?;
        Ok(answer.attributes)
    }
}

fn batch_failures(
    action: &'static str,
    bytes: &[u8],
    chunk: &[String],
) -> Result<Vec<BatchFailure>, SqsError> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let answer: BatchAnswer = serde_json::from_slice(bytes).map_err(|e| SqsError::Body {
        action,
        reason: e.to_string(),
    })?;
    Ok(answer
        .failed
        .into_iter()
        .filter_map(|f| {
            let index: usize = f.id.parse().ok()?;
            Some(BatchFailure {
                receipt_handle: chunk.get(index)?.clone(),
                code: f.code,
                message: f.message,
            })
        })
        .collect())
}

/// The error of a non-2xx answer: the code from `__type` (after its `#`), the
/// `x-amzn-query-error` header or the status; the message from `message`/`Message`.
fn service_error(
    action: &'static str,
    status: u16,
    query_error: Option<String>,
    body: &[u8],
) -> SqsError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    // Some answers (authentication failures from some endpoints) are the query protocol's
    // XML `<Error><Code>..</Code><Message>..</Message></Error>`.
    let text = String::from_utf8_lossy(body);
    let xml = |tag: &str| {
        let open = format!("<{tag}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{tag}>"))? + start;
        Some(text[start..end].trim().to_string()).filter(|t| !t.is_empty())
    };
    let code = field("__type")
        .map(|t| t.rsplit('#').next().unwrap_or_default().to_string())
        .filter(|c| !c.is_empty())
        .or_else(|| xml("Code"))
        .or(query_error)
        .unwrap_or_else(|| format!("HTTP{status}"));
    let message = field("message")
        .or_else(|| field("Message"))
        .or_else(|| xml("Message"))
        .unwrap_or_else(|| {
            let text = text.trim();
            let mut end = text.len().min(ERROR_BODY_LIMIT);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text[..end].replace(['\n', '\r'], " ")
        });
    SqsError::Service {
        action,
        status,
        code,
        message: oktaflow_plumbing::scrub(&message).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_errors_read_the_json_protocol_type_and_message() {
        let e = service_error(
            "ReceiveMessage",
            400,
            Some("AWS.SimpleQueueService.NonExistentQueue".into()),
            br#"{"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "The specified queue does not exist."}"#,
        );
        assert_eq!(
            e.to_string(),
            "SQS ReceiveMessage: QueueDoesNotExist (HTTP 400): The specified queue does not exist."
        );
        assert!(!e.is_transient());
        assert!(e.hint().is_some());
        let throttled = service_error(
            "ReceiveMessage",
            400,
            None,
            br#"{"__type":"com.amazonaws.sqs#ThrottlingException","Message":"Rate exceeded"}"#,
        );
        assert!(throttled.is_transient());
        let gateway = service_error(
            "DeleteMessageBatch",
            502,
            None,
            b"<html>\nBad gateway</html>",
        );
        assert!(gateway.is_transient());
        assert_eq!(
            gateway.to_string(),
            "SQS DeleteMessageBatch: HTTP502 (HTTP 502): <html> Bad gateway</html>"
        );
        let denied = service_error(
            "ReceiveMessage",
            403,
            None,
            br#"{"__type":"com.amazon.coral.service#AccessDeniedException","Message":"User: arn:aws:iam::1:user/x is not authorized"}"#,
        );
        assert!(!denied.is_transient());
        assert!(denied
            .hint()
            .is_some_and(|h| h.contains("sqs:DeleteMessage")));
        let xml = service_error(
            "GetQueueAttributes",
            403,
            None,
            b"<ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match.</Message></Error></Errors></ErrorResponse>",
        );
        assert_eq!(
            xml.to_string(),
            "SQS GetQueueAttributes: SignatureDoesNotMatch (HTTP 403): The request signature we calculated does not match."
        );
        assert!(!xml.is_transient());
    }

    #[test]
    fn batch_failures_name_their_receipt_handle() {
        let chunk = vec!["h0".to_string(), "h1".to_string()];
        let failures = batch_failures(
            "DeleteMessageBatch",
            br#"{"Successful":[{"Id":"0"}],"Failed":[{"Id":"1","SenderFault":true,"Code":"ReceiptHandleIsInvalid","Message":"bad"}]}"#,
            &chunk,
        )
        .unwrap();
        assert_eq!(
            failures,
            [BatchFailure {
                receipt_handle: "h1".into(),
                code: "ReceiptHandleIsInvalid".into(),
                message: "bad".into()
            }]
        );
    }
}

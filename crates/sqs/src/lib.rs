//! The SQS consumer of oktaflow: Okta Log Streaming events that an AWS EventBridge rule
//! sends to an **SQS queue** (the other route next to an API destination, `oktaflow-push`).
//!
//! * [`SqsConfig`]: the queue URL, region, credentials ([`Credentials`], the secret key a
//!   [`Secret`](oktaflow_plumbing::Secret)), an optional endpoint (tests, VPC endpoints),
//!   long-poll wait, visibility timeout and messages per receive.
//! * [`SqsClient`]: the five SQS actions the consumer uses (`ReceiveMessage`,
//!   `DeleteMessageBatch`, `ChangeMessageVisibilityBatch`, `GetQueueAttributes`, and
//!   [`SqsClient::request`] for any other), over the SQS JSON protocol
//!   (`X-Amz-Target: AmazonSQS.<Action>`, `application/x-amz-json-1.0`) on the reqwest
//!   client of `oktaflow-plumbing`, signed with Signature Version 4 by hand (`sigv4`:
//!   HMAC-SHA256 from `aws-lc-rs`, already compiled for rustls). The AWS SDK was weighed and
//!   not taken: see `docs/push.md`.
//! * [`Consumer`]: long-polls the queue and turns every message into a
//!   [`Delivery`](oktaflow_push::Delivery) on the same [`Deliveries`](oktaflow_push::Deliveries)
//!   queue the EventBridge receiver feeds, so the pipeline's push run
//!   (`Pipeline::run_push`: uuid de-duplication window in the checkpoint, batches in
//!   `published` order, ack after the checkpoint) handles both routes alike. A message is
//!   deleted (`DeleteMessageBatch`) only once its delivery is acknowledged, i.e. durable in
//!   every sink and the checkpoint; its visibility is extended while it waits; a failed
//!   delivery is made visible again at once. A message the pipeline cannot read (not JSON,
//!   not an envelope) is dead-lettered by the pipeline with its reason, acknowledged and
//!   therefore deleted.
//!
//! Errors ([`SqsError`]) are one line, never hold a credential, and say whether retrying
//! can help ([`SqsError::is_transient`]): a bad key, a missing queue or `AccessDenied` end
//! the run; throttling, 5xx answers and network failures are retried with backoff.

mod client;
mod config;
mod consumer;
mod settings;
mod sigv4;

pub use client::{BatchFailure, Message, SqsClient, SqsError};
pub use config::{
    region_of_queue_url, ConfigError, Credentials, SqsConfig, DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_VISIBILITY_TIMEOUT, DEFAULT_WAIT_TIME, MAX_WAIT_TIME,
};
pub use consumer::{Consumer, ConsumerStats};
pub use settings::SqsSettings;

#[cfg(feature = "testing")]
pub mod testing;

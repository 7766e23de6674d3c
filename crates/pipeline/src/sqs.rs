//! The SQS route of a push source ([`Pipeline::with_sqs`]): an EventBridge rule sends Okta
//! Log Streaming events to an SQS queue and `oktaflow-sqs`'s [`Consumer`] long-polls it.
//! Each message becomes a delivery on the same queue the API-destination receiver feeds,
//! so [`Pipeline::run_push`] handles it alike: the uuid window of the checkpoint drops
//! redeliveries (a message received again after a crash, a duplicate sent by Log
//! Streaming), batches go in `published` order, a body that is not an envelope with a
//! LogEvent `detail` is dead-lettered with its reason. A message is deleted only once its
//! delivery is acknowledged, i.e. once its event is durable in every sink and in the
//! checkpoint; until then its visibility is extended, and a delivery that failed is made
//! visible again at once.

use std::time::Duration;

use oktaflow_sqs::{Consumer, SqsClient, SqsConfig, SqsError};
use tokio::sync::watch;

use crate::observer::PipelineObserver;
use crate::pipeline::{Pipeline, RunSummary};
use crate::push::PushOptions;
use crate::PipelineError;

/// How long the end of a run waits for the consumer to delete or release what it holds.
const FINISH_GRACE: Duration = Duration::from_secs(15);

/// The default linger of an SQS batch: longer than the receiver's (no 5 s deadline to
/// meet), so that a batch gathers several receives of ten messages.
pub const DEFAULT_SQS_LINGER: Duration = Duration::from_millis(250);

/// A permanent SQS error as the one-line configuration error of the run.
fn sqs_error(source: &str, error: &SqsError) -> PipelineError {
    let hint = error.hint().map(|h| format!(" — {h}")).unwrap_or_default();
    PipelineError::Config(format!("source {source}: {error}{hint}"))
}

impl Pipeline {
    /// Makes this pipeline an SQS push source: [`Pipeline::run`] then consumes `sqs`'s queue
    /// and runs [`Pipeline::run_push`] on its messages, with `options`
    /// ([`DEFAULT_SQS_LINGER`] is a good linger).
    pub fn with_sqs(mut self, sqs: SqsConfig, options: PushOptions) -> Pipeline {
        self.sqs = Some((sqs, options));
        self
    }

    /// Builds the client (a bad setting is a one-line [`PipelineError::Config`]), reads the
    /// queue's attributes (a missing queue, a bad key or a missing permission is one too,
    /// before anything runs), starts the consumer, runs the push loop on its deliveries until `stop` (or until the
    /// consumer ends on a permanent error: bad credentials, no permission, no queue), then
    /// lets the consumer delete what was acknowledged.
    pub(crate) async fn run_sqs(
        self,
        sqs: SqsConfig,
        options: PushOptions,
        stop: watch::Receiver<bool>,
    ) -> Result<RunSummary, PipelineError> {
        let source = self.config.source.name.clone();
        let client = SqsClient::new(&sqs).map_err(|e| sqs_error(&source, &e))?;
        // What only an operator can fix (no queue, a bad key, no permission) is found before
        // the run starts; a transient failure is left to the consumer's retries.
        match client.attributes().await {
            Err(error) if !error.is_transient() => return Err(sqs_error(&source, &error)),
            Err(error) => {
                tracing::warn!(source = %source, error = %error, "SQS queue not reachable yet; retrying while running");
            }
            Ok(_) => {}
        }
        let observers = self.observers.clone();
        tracing::info!(source = %source, queue = %sqs.queue_url, "SQS consumer polling");
        let (consumer, deliveries) = Consumer::spawn(client, &sqs, stop.clone());
        let result = self.run_push(deliveries, options, stop).await;
        match (result, consumer.finish(FINISH_GRACE).await) {
            (Ok(_), Err(error)) => {
                let error = sqs_error(&source, &error);
                observers.halted(&source, &error);
                Err(error)
            }
            (result, _) => result,
        }
    }
}

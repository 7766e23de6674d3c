//! The [`Sink`] trait.

use crate::{Ack, BatchLimits, Document, SinkError};

/// A store that oktaflow delivers ECS documents to.
///
/// The pipeline calls [`recover`](Sink::recover) once, then
/// [`write_batch`](Sink::write_batch) for each batch in order, and checkpoints the
/// returned position only after every configured sink acknowledged the batch.
#[async_trait::async_trait]
pub trait Sink: Send {
    /// A name unique among the configured sinks and stable across runs (e.g.
    /// `file:/var/lib/okta.ndjson`): the key of this sink's position in the checkpoint.
    fn name(&self) -> &str;

    /// Called once at start with the position this sink recorded in the last
    /// checkpoint (`None` on a first run). Makes the store consistent with it (the
    /// file sink truncates what was written after it).
    async fn recover(&mut self, position: Option<&serde_json::Value>) -> Result<(), SinkError>;

    /// Writes an ordered batch and returns only when it is durable. Returns the
    /// position to record in the checkpoint.
    async fn write_batch(&mut self, batch: &[Document]) -> Result<Ack, SinkError>;

    /// The batch this sink writes best: up to this many documents and about this many bytes
    /// of documents per [`write_batch`](Sink::write_batch). A preference, not a limit: a
    /// sink handed a larger batch still writes all of it (the network sinks cut it into
    /// requests of their own limits). The pipeline sizes its batches from the preferences of
    /// all its sinks within its memory bound (see the `oktaflow-pipeline` documentation).
    /// Default: [`BatchLimits::DEFAULT_PREFERRED`].
    fn preferred_batch(&self) -> BatchLimits {
        BatchLimits::DEFAULT_PREFERRED
    }

    /// The local file this sink writes, if it writes one (the file sink's active file), so
    /// that the pipeline can refuse two sinks writing one file, or a sink writing one of its
    /// own state files. Default: `None`.
    fn file(&self) -> Option<&std::path::Path> {
        None
    }
}

//! [`PipelineLog`]: the pipeline's log lines, as an observer of it.

use std::time::Duration;

use oktaflow_pipeline::{Committed, PipelineError, PipelineObserver, RunSummary, Started};
use oktaflow_sink::SinkError;
use tracing::{debug, info, warn};

/// Logs what a pipeline does: its start and end (`info`), each committed batch with its
/// stage times (`debug`), dead letters and sink retries (`warn`), and the live follow.
#[derive(Debug, Default)]
pub struct PipelineLog;

impl PipelineObserver for PipelineLog {
    fn started(&self, started: &Started<'_>) {
        info!(
            source = %started.source,
            org = started.org,
            resumed = started.resumed,
            sinks = ?started.sinks,
            batch_events = started.batch.max_docs,
            batch_bytes = started.batch.max_bytes,
            "pipeline started"
        );
    }

    fn batch_committed(&self, batch: &Committed<'_>) {
        if batch.dead_lettered > 0 {
            warn!(
                source = %batch.source,
                count = batch.dead_lettered,
                file = %batch.dead_letter_path.display(),
                "events dead-lettered"
            );
        }
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        debug!(
            source = %batch.source,
            events = batch.documents,
            waited_ms = ms(batch.times.waited),
            normalize_ms = ms(batch.times.normalize),
            write_ms = ms(batch.times.write),
            checkpoint_ms = ms(batch.times.checkpoint),
            "batch committed"
        );
    }

    fn sink_failed(&self, sink: &str, error: &SinkError, retry_in: Option<Duration>) {
        if let Some(delay) = retry_in {
            warn!(sink, error = %error, retry_in_ms = delay.as_millis() as u64, "retrying the batch");
        }
    }

    fn following(&self, source: &str, follow: Duration) {
        info!(source = %source, follow_secs = follow.as_secs_f64(), "caught up; following live events");
    }

    fn halted(&self, _source: &str, _error: &PipelineError) {
        // The caller reports the error (one line, or per source when several run).
    }

    fn stopped(&self, summary: &RunSummary) {
        info!(
            source = %summary.source,
            written = summary.written,
            dead_lettered = summary.rejected + summary.refused_by_sinks,
            pages = summary.pages,
            requests = summary.fetch.requests,
            rate_limited = summary.fetch.rate_limited,
            retries = summary.fetch.retries,
            stopped = ?summary.stopped,
            "pipeline stopped"
        );
    }
}

//! [`NormalizeStage`]: normalizes fetched pages off the async threads, one batch ahead of the
//! writer, so that normalizing the next batch overlaps with writing (and fsyncing) this one.
//!
//! ```text
//!  fetch task ──pages──▶ normalize stage ──batches──▶ writer (sinks, dead letters, checkpoint)
//!  (Prefetcher)          (this module)                 (Pipeline::run)
//! ```
//!
//! Each stage holds a bounded number of items, so memory stays bounded while a sink is slow
//! or down: the writer stops taking batches, the stage stops taking pages, the fetch task
//! stops fetching. Nothing here decides what is committed: batches reach the writer in page
//! order and carry the state to checkpoint once they are durable, so a batch normalized but
//! never written is simply fetched and normalized again after a restart.

use std::sync::Arc;

use chrono::Utc;
use oktaflow_fetch::FetchStats;
use oktaflow_normalize::Normalizer;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::batch::{Batch, BatchBuilder};
use super::prefetch::Prefetcher;
use super::PipelineError;

/// Normalized batches waiting for the writer (besides the one being normalized).
const BATCHES_AHEAD: usize = 1;

/// Normalizes the pages of a [`Prefetcher`] into [`Batch`]es of up to `max_batch_events`
/// events (pages already fetched are grouped into one batch, so a backfill pays one round
/// of fsyncs for several pages). Dropping the stage stops it and the fetch task.
#[derive(Debug)]
pub struct NormalizeStage {
    batches: mpsc::Receiver<Result<Batch, PipelineError>>,
    task: JoinHandle<()>,
    stats: Arc<FetchStats>,
}

impl NormalizeStage {
    /// Starts normalizing `pages` with `normalizer`, on up to `threads` threads per batch.
    pub fn start(
        pages: Prefetcher,
        normalizer: Normalizer,
        threads: usize,
        max_batch_events: usize,
    ) -> NormalizeStage {
        let stats = pages.stats().clone();
        let (tx, batches) = mpsc::channel(BATCHES_AHEAD);
        let builder = BatchBuilder::new(normalizer, threads);
        let task = tokio::spawn(run(pages, builder, max_batch_events, tx));
        NormalizeStage {
            batches,
            task,
            stats,
        }
    }

    /// The next batch, in page order; an error ends the run (a halt of the source, after
    /// every batch before it). Cancel-safe.
    pub async fn next(&mut self) -> Result<Batch, PipelineError> {
        match self.batches.recv().await {
            Some(batch) => batch,
            None => Err(PipelineError::Internal(
                "the normalize stage stopped unexpectedly".into(),
            )),
        }
    }

    /// The source's request counters.
    pub fn stats(&self) -> &Arc<FetchStats> {
        &self.stats
    }
}

impl Drop for NormalizeStage {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(
    mut pages: Prefetcher,
    builder: BatchBuilder,
    max_batch_events: usize,
    tx: mpsc::Sender<Result<Batch, PipelineError>>,
) {
    let mut builder = Some(builder);
    // A halt met while grouping pages: sent after the batch of the pages before it.
    let mut deferred_halt = None;
    loop {
        if let Some(halt) = deferred_halt.take() {
            let _ = tx.send(Err(PipelineError::Halt(halt))).await;
            return;
        }
        let page = tokio::select! {
            page = pages.next() => page,
            () = tx.closed() => return,
        };
        let mut page = match page {
            Ok(page) => page,
            Err(halt) => {
                let _ = tx.send(Err(PipelineError::Halt(halt))).await;
                return;
            }
        };
        while !page.caught_up && page.events.len() < max_batch_events {
            match pages.ready() {
                Some(Ok(next)) => {
                    page.events.extend(next.events);
                    page.state_after = next.state_after;
                    page.caught_up = next.caught_up;
                }
                Some(Err(halt)) => {
                    deferred_halt = Some(halt);
                    break;
                }
                None => break,
            }
        }
        let received_at = Utc::now();
        let Some(mut working) = builder.take() else {
            return;
        };
        let built = tokio::task::spawn_blocking(move || {
            let batch = working.build(page.events, page.state_after, page.caught_up, received_at);
            (working, batch)
        })
        .await;
        let batch = match built {
            Ok((returned, batch)) => {
                builder = Some(returned);
                Ok(batch)
            }
            Err(error) => Err(PipelineError::Internal(format!(
                "normalizing a batch failed: {error}"
            ))),
        };
        let failed = batch.is_err();
        if tx.send(batch).await.is_err() || failed {
            return;
        }
    }
}

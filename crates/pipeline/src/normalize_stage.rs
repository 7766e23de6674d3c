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
use std::time::Duration;

use chrono::Utc;
use oktaflow_fetch::{FetchError, FetchStats, Page};
use oktaflow_normalize::Normalizer;
use oktaflow_sink::BatchLimits;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::detect::DetectStage;
use oktaflow_enrich::ProfileHandle;

use crate::batch::{Batch, BatchBuilder};
use crate::detect::detect_batch;
use crate::pipeline::sleep_until_opt;
use crate::prefetch::Prefetcher;
use crate::PipelineError;

/// Normalized batches waiting for the writer. The next batch is normalized only when there
/// is room for it here, so the stage holds at most this many batches with their documents
/// besides the one being written (plus the raw pages grouped for the next one).
const BATCHES_AHEAD: usize = 1;

/// While backfilling, a batch below its size waits this long at most (from its first page)
/// for further pages: long enough to group the pages of a fast backfill into the batch the
/// sinks prefer, short enough that a slow or paced source still commits promptly. Only
/// batches larger than [`BatchLimits::DEFAULT_PREFERRED`] wait (a sink asked for large
/// inserts); otherwise a batch groups the pages already fetched and is written at once.
pub const BATCH_LINGER: Duration = Duration::from_millis(250);

/// Normalizes the pages of a [`Prefetcher`] into [`Batch`]es within `limits` (events, and
/// bytes of raw events). Pages are grouped into one batch until it reaches the limits, the
/// source is caught up, or no further page arrives within [`BATCH_LINGER`]: a backfill pays
/// one round of fsyncs for several pages and a sink gets the batch it prefers. Dropping the
/// stage stops it and the fetch task.
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
        limits: BatchLimits,
    ) -> NormalizeStage {
        NormalizeStage::start_detecting(pages, normalizer, threads, limits, None)
    }

    /// [`start`](Self::start), with `detector` run over each batch in order after it is
    /// normalized ([`detect_batch`]): each batch carries its alerts and the detector's state
    /// after it.
    pub fn start_detecting(
        pages: Prefetcher,
        normalizer: Normalizer,
        threads: usize,
        limits: BatchLimits,
        detector: Option<DetectStage>,
    ) -> NormalizeStage {
        NormalizeStage::start_with(
            pages,
            BatchBuilder::new(normalizer, threads),
            limits,
            detector,
            None,
        )
    }

    /// [`start_detecting`](Self::start_detecting) with `builder` (its normalizers, threads
    /// and the other schemas it writes, [`BatchBuilder::with_schemas`]), joining the latest
    /// snapshot of `profiles` (identity enrichment) onto each batch in every schema: the
    /// snapshot is taken when the batch is normalized, never waited for.
    pub fn start_with(
        pages: Prefetcher,
        builder: BatchBuilder,
        limits: BatchLimits,
        detector: Option<DetectStage>,
        profiles: Option<ProfileHandle>,
    ) -> NormalizeStage {
        let builder = builder.with_detect_parts(detector.is_some());
        let stats = pages.stats().clone();
        let (tx, batches) = mpsc::channel(BATCHES_AHEAD);
        let task = tokio::spawn(run(pages, (builder, detector), limits, tx, profiles));
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

/// Bytes of a page's raw events.
fn page_bytes(page: &Page) -> usize {
    page.events.iter().map(|e| e.len()).sum()
}

/// What ended the grouping of a batch besides its size.
enum Grouped {
    /// Nothing: the batch is complete.
    Done,
    /// The next page would have made the batch larger than the limits: it starts the next one.
    Held(Page),
    /// The source halted after the batch's pages: sent after the batch.
    Halt(FetchError),
}

/// Adds pages to `page` until the next one would exceed `limits`, the source is caught up, or
/// no page comes within [`BATCH_LINGER`] (no page is ready, for limits no larger than the
/// default preference). A batch is never larger than the limits unless its
/// first page alone is.
async fn group(
    pages: &mut Prefetcher,
    page: &mut Page,
    limits: BatchLimits,
    tx: &mpsc::Sender<Result<Batch, PipelineError>>,
) -> Grouped {
    let linger = (limits.max_docs > BatchLimits::DEFAULT_PREFERRED.max_docs)
        .then(|| tokio::time::Instant::now() + BATCH_LINGER);
    let mut bytes = page_bytes(page);
    while !page.caught_up && page.events.len() < limits.max_docs && bytes < limits.max_bytes {
        let next = match pages.ready() {
            Some(next) => next,
            None if linger.is_none() => return Grouped::Done,
            None => tokio::select! {
                next = pages.next() => next,
                () = sleep_until_opt(linger) => return Grouped::Done,
                () = tx.closed() => return Grouped::Done,
            },
        };
        let next = match next {
            Ok(next) => next,
            Err(halt) => return Grouped::Halt(halt),
        };
        let next_bytes = page_bytes(&next);
        if page.events.len() + next.events.len() > limits.max_docs
            || bytes + next_bytes > limits.max_bytes
        {
            return Grouped::Held(next);
        }
        bytes += next_bytes;
        page.events.extend(next.events);
        page.state_after = next.state_after;
        page.caught_up = next.caught_up;
    }
    Grouped::Done
}

async fn run(
    mut pages: Prefetcher,
    builder: (BatchBuilder, Option<DetectStage>),
    limits: BatchLimits,
    tx: mpsc::Sender<Result<Batch, PipelineError>>,
    profiles: Option<ProfileHandle>,
) {
    let mut builder = Some(builder);
    // A page that did not fit the previous batch: it starts the next one.
    let mut held: Option<Page> = None;
    // A halt met while grouping pages: sent after the batch of the pages before it.
    let mut deferred_halt = None;
    loop {
        if let Some(halt) = deferred_halt.take() {
            let _ = tx.send(Err(PipelineError::Halt(halt))).await;
            return;
        }
        let page = match held.take() {
            Some(page) => Ok(page),
            None => tokio::select! {
                page = pages.next() => page,
                () = tx.closed() => return,
            },
        };
        let mut page = match page {
            Ok(page) => page,
            Err(halt) => {
                let _ = tx.send(Err(PipelineError::Halt(halt))).await;
                return;
            }
        };
        match group(&mut pages, &mut page, limits, &tx).await {
            Grouped::Done => {}
            Grouped::Held(next) => held = Some(next),
            Grouped::Halt(halt) => deferred_halt = Some(halt),
        }
        // Normalize only once the writer has taken the batch before: at most two batches
        // with their documents are in memory (the one being written, this one), not three.
        let Ok(permit) = tx.reserve().await else {
            return;
        };
        let received_at = Utc::now();
        let Some((mut working, mut detector)) = builder.take() else {
            return;
        };
        if let Some(profiles) = &profiles {
            working.set_profiles(profiles.current());
        }
        let built = tokio::task::spawn_blocking(move || {
            let mut batch =
                working.build(page.events, page.state_after, page.caught_up, received_at);
            let detected = match &mut detector {
                Some(detector) => detect_batch(detector, &mut batch),
                None => Ok(()),
            };
            ((working, detector), detected.map(|()| batch))
        })
        .await;
        let batch = match built {
            Ok((returned, batch)) => {
                builder = Some(returned);
                batch.map_err(PipelineError::from)
            }
            Err(error) => Err(PipelineError::Internal(format!(
                "normalizing a batch failed: {error}"
            ))),
        };
        let failed = batch.is_err();
        permit.send(batch);
        if failed {
            return;
        }
    }
}

//! [`Prefetcher`]: fetches the next page while the current one is normalized and written.

use std::sync::Arc;
use std::time::Instant;

use oktaflow_fetch::{FetchError, FetchStats, LogSource, Page};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::observer::PipelineObserver;

/// Runs a [`LogSource`] in its own task, at most `depth` pages ahead of the pipeline (plus the
/// one being fetched), so fetching overlaps with normalizing and writing while memory stays
/// bounded. Pages carry their own `state_after`; a page fetched but never committed is simply
/// fetched again after a restart. Dropping the prefetcher stops the task (a fetch in flight is
/// abandoned).
#[derive(Debug)]
pub struct Prefetcher {
    pages: mpsc::Receiver<Result<Page, FetchError>>,
    task: JoinHandle<()>,
    stats: Arc<FetchStats>,
    org: String,
}

impl Prefetcher {
    /// Starts fetching from `source`'s current state; every page fetched is reported to
    /// `observer`.
    pub fn start(
        mut source: LogSource,
        depth: usize,
        observer: Arc<dyn PipelineObserver>,
    ) -> Prefetcher {
        let stats = source.stats();
        let org = source.org().to_string();
        let (tx, pages) = mpsc::channel(depth.max(1));
        let task = tokio::spawn(async move {
            // Fetch time is only measured when no poll-interval wait precedes the request.
            let mut waits = false;
            loop {
                let started = Instant::now();
                let page = tokio::select! {
                    page = source.next_page() => page,
                    () = tx.closed() => return,
                };
                if let Ok(page) = &page {
                    observer.page_fetched(page.events.len(), (!waits).then(|| started.elapsed()));
                    waits = page.caught_up;
                }
                let halted = page.is_err();
                if tx.send(page).await.is_err() || halted {
                    return;
                }
            }
        });
        Prefetcher {
            pages,
            task,
            stats,
            org,
        }
    }

    /// The next page, in order; an error is a halt. Cancel-safe.
    pub async fn next(&mut self) -> Result<Page, FetchError> {
        match self.pages.recv().await {
            Some(page) => page,
            None => Err(FetchError::Protocol {
                org: self.org.clone(),
                detail: "the fetch task stopped unexpectedly".into(),
            }),
        }
    }

    /// A page that is already fetched, without waiting; `None` when none is ready. A halt is
    /// returned like a page.
    pub fn ready(&mut self) -> Option<Result<Page, FetchError>> {
        self.pages.try_recv().ok()
    }

    /// The source's request counters.
    pub fn stats(&self) -> &Arc<FetchStats> {
        &self.stats
    }
}

impl Drop for Prefetcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

//! Fan-out: one batch to every sink at once, each retried on its own until it is durable —
//! and the one rule for an output that fails ([`OutputRetry`]), which the checkpoint and the
//! dead-letter file follow too.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use oktaflow_plumbing::{Backoff, RetryPolicy};
use oktaflow_sink::{Ack, Document, Sink, SinkError};
use tokio::sync::watch;

use crate::observer::PipelineObserver;

/// Why a batch was not written to every sink.
#[derive(Debug)]
pub enum FanOutError {
    /// A sink failed in a way retrying cannot fix.
    Sink(SinkError),
    /// A sink kept failing for the whole retry limit ([`OutputRetry::limit`]).
    GaveUp {
        /// Its last error.
        error: SinkError,
        /// How long it had been failing.
        after: Duration,
    },
    /// Stop was requested while a sink was waiting to retry; the batch is not committed.
    Stopped,
}

/// How an output that fails with an error that may pass (a full disk, a store that is down)
/// is retried: the same write again after a capped, jittered backoff, for at most `limit`
/// after its first failure (`None`: until it succeeds or a stop is requested).
#[derive(Debug, Clone, Copy)]
pub struct OutputRetry {
    /// The backoff between attempts.
    pub backoff: RetryPolicy,
    /// How long an output may keep failing before the run gives up on it.
    pub limit: Option<Duration>,
}

/// One output's retries: what the next failure leads to.
pub(crate) struct Retrying {
    rule: OutputRetry,
    backoff: Backoff,
    failing_since: Option<Instant>,
}

/// What to do after a failure that may pass.
pub(crate) enum Next {
    /// Try again (the wait is over).
    Again,
    /// A stop was requested during the wait.
    Stopped,
    /// The output has been failing for longer than the limit, this long.
    GiveUp(Duration),
}

impl Retrying {
    pub(crate) fn new(rule: OutputRetry) -> Retrying {
        Retrying {
            rule,
            backoff: Backoff::new(rule.backoff),
            failing_since: None,
        }
    }

    /// Whether the output failed at least once (then its success is worth reporting).
    pub(crate) fn failed(&self) -> bool {
        self.failing_since.is_some()
    }

    /// After `error` on `output`: reports it and waits the backoff, unless the limit is
    /// reached (reported with no retry) or a stop is requested.
    pub(crate) async fn after(
        &mut self,
        output: &str,
        error: &SinkError,
        stop: &mut watch::Receiver<bool>,
        observer: &dyn PipelineObserver,
    ) -> Next {
        let since = *self.failing_since.get_or_insert_with(Instant::now);
        if let Some(limit) = self.rule.limit {
            if since.elapsed() >= limit {
                observer.sink_failed(output, error, None);
                return Next::GiveUp(since.elapsed());
            }
        }
        let delay = self.backoff.next_delay(&mut rand::rng());
        let delay = match self.rule.limit {
            // The last wait ends at the limit: one more attempt, then give up.
            Some(limit) => delay.min(limit.saturating_sub(since.elapsed())),
            None => delay,
        };
        observer.sink_failed(output, error, Some(delay));
        if *stop.borrow() {
            return Next::Stopped;
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => Next::Again,
            Ok(()) = stop.changed() => Next::Stopped,
        }
    }
}

/// Writes `batch` to every sink concurrently and returns their acknowledgements in sink order.
///
/// A sink whose error is retryable is retried with the same batch as `retry` says (the other
/// sinks' acknowledgements are kept, their writes are not repeated). No further page is
/// fetched meanwhile, so memory stays bounded while a store is down or a disk is full. A stop
/// request interrupts only the waits between retries, never a write in progress.
pub async fn write_to_all(
    sinks: &mut [Box<dyn Sink>],
    batch: &[Document],
    retry: OutputRetry,
    stop: &watch::Receiver<bool>,
    observer: &dyn PipelineObserver,
) -> Result<Vec<Ack>, FanOutError> {
    let batches = vec![batch; sinks.len()];
    write_each(sinks, &batches, retry, stop, observer).await
}

/// [`write_to_all`] with a batch per sink: `sinks[i]` gets `batches[i]` (the same events in
/// the schema of that sink; a sink without a batch gets none).
pub async fn write_each(
    sinks: &mut [Box<dyn Sink>],
    batches: &[&[Document]],
    retry: OutputRetry,
    stop: &watch::Receiver<bool>,
    observer: &dyn PipelineObserver,
) -> Result<Vec<Ack>, FanOutError> {
    let writes = sinks.iter_mut().enumerate().map(|(i, sink)| {
        let mut stop = stop.clone();
        let batch = batches.get(i).copied().unwrap_or(&[]);
        async move { write_one(sink.as_mut(), batch, retry, &mut stop, observer).await }
    });
    let results = join_all(writes).await;
    let mut acks = Vec::with_capacity(results.len());
    let mut stopped = false;
    for result in results {
        match result {
            Ok(ack) => acks.push(ack),
            Err(FanOutError::Stopped) => stopped = true,
            Err(error) => return Err(error),
        }
    }
    if stopped {
        return Err(FanOutError::Stopped);
    }
    Ok(acks)
}

async fn write_one(
    sink: &mut dyn Sink,
    batch: &[Document],
    retry: OutputRetry,
    stop: &mut watch::Receiver<bool>,
    observer: &dyn PipelineObserver,
) -> Result<Ack, FanOutError> {
    let mut retrying = Retrying::new(retry);
    loop {
        let started = Instant::now();
        match sink.write_batch(batch).await {
            Ok(ack) => {
                observer.sink_ok(sink.name(), started.elapsed());
                return Ok(ack);
            }
            Err(error) if error.is_retryable() => {
                match retrying.after(sink.name(), &error, stop, observer).await {
                    Next::Again => {}
                    Next::Stopped => return Err(FanOutError::Stopped),
                    Next::GiveUp(after) => return Err(FanOutError::GaveUp { error, after }),
                }
            }
            Err(error) => {
                observer.sink_failed(sink.name(), &error, None);
                return Err(FanOutError::Sink(error));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    struct NoObserver;
    impl PipelineObserver for NoObserver {}

    /// Fails with a retryable error `failures` times, then accepts.
    struct Flaky {
        name: String,
        failures: usize,
        writes: Arc<AtomicUsize>,
        fatal: bool,
    }

    #[async_trait::async_trait]
    impl Sink for Flaky {
        fn name(&self) -> &str {
            &self.name
        }
        async fn recover(&mut self, _: Option<&serde_json::Value>) -> Result<(), SinkError> {
            Ok(())
        }
        async fn write_batch(&mut self, batch: &[Document]) -> Result<Ack, SinkError> {
            let n = self.writes.fetch_add(1, Ordering::SeqCst);
            if n < self.failures {
                let kind = if self.fatal {
                    std::io::ErrorKind::PermissionDenied
                } else {
                    std::io::ErrorKind::StorageFull
                };
                return Err(SinkError::Io {
                    sink: self.name.clone(),
                    action: "write batch",
                    error: kind.into(),
                });
            }
            Ok(Ack::accepted(serde_json::json!({ "count": batch.len() })))
        }
    }

    fn flaky(name: &str, failures: usize, fatal: bool) -> (Box<dyn Sink>, Arc<AtomicUsize>) {
        let writes = Arc::new(AtomicUsize::new(0));
        let sink = Flaky {
            name: name.into(),
            failures,
            writes: writes.clone(),
            fatal,
        };
        (Box::new(sink), writes)
    }

    fn retry() -> OutputRetry {
        OutputRetry {
            backoff: RetryPolicy {
                base: Duration::from_millis(1),
                cap: Duration::from_millis(5),
            },
            limit: None,
        }
    }

    fn batch() -> Vec<Document> {
        vec![Document {
            id: "a".into(),
            json: b"{}".to_vec(),
        }]
    }

    #[tokio::test]
    async fn a_failing_sink_is_retried_alone_until_durable() {
        let (good, good_writes) = flaky("good", 0, false);
        let (bad, bad_writes) = flaky("bad", 3, false);
        let mut sinks = vec![good, bad];
        let (_tx, stop) = watch::channel(false);
        let acks = write_to_all(&mut sinks, &batch(), retry(), &stop, &NoObserver)
            .await
            .unwrap();
        assert_eq!(acks.len(), 2);
        assert_eq!(acks[1].position["count"], 1);
        assert_eq!(good_writes.load(Ordering::SeqCst), 1);
        assert_eq!(bad_writes.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_fatal_error_is_returned_and_a_stop_interrupts_retries() {
        let (fatal, _) = flaky("fatal", 1, true);
        let mut sinks = vec![fatal];
        let (tx, stop) = watch::channel(false);
        match write_to_all(&mut sinks, &batch(), retry(), &stop, &NoObserver).await {
            Err(FanOutError::Sink(e)) => assert!(!e.is_retryable()),
            other => panic!("expected a sink error, got {other:?}"),
        }
        let (down, writes) = flaky("down", usize::MAX, false);
        let mut sinks = vec![down];
        tx.send(true).unwrap();
        assert!(matches!(
            write_to_all(&mut sinks, &batch(), retry(), &stop, &NoObserver).await,
            Err(FanOutError::Stopped)
        ));
        assert_eq!(writes.load(Ordering::SeqCst), 1);
    }

    /// A sink that keeps failing with a full disk is given up after the retry limit, with
    /// its last error (without a limit it is retried until a stop, as above).
    #[tokio::test]
    async fn a_limit_gives_up_on_a_sink_that_keeps_failing() {
        let (full, writes) = flaky("full", usize::MAX, false);
        let mut sinks = vec![full];
        let (_tx, stop) = watch::channel(false);
        let limited = OutputRetry {
            limit: Some(Duration::from_millis(30)),
            ..retry()
        };
        match write_to_all(&mut sinks, &batch(), limited, &stop, &NoObserver).await {
            Err(FanOutError::GaveUp { error, after }) => {
                assert_eq!(error.kind(), "storage_full");
                assert!(after >= Duration::from_millis(30), "{after:?}");
            }
            other => panic!("expected to give up, got {other:?}"),
        }
        assert!(
            writes.load(Ordering::SeqCst) >= 2,
            "retried before giving up"
        );
    }
}

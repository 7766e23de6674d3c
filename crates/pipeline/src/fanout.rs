//! Fan-out: one batch to every sink at once, each retried on its own until it is durable.

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
    /// Stop was requested while a sink was waiting to retry; the batch is not committed.
    Stopped,
}

/// Writes `batch` to every sink concurrently and returns their acknowledgements in sink order.
///
/// A sink whose error is retryable is retried with the same batch after a capped, jittered
/// backoff (the other sinks' acknowledgements are kept, their writes are not repeated). No
/// further page is fetched meanwhile, so memory stays bounded while a store is down. A stop
/// request interrupts only the waits between retries, never a write in progress.
pub async fn write_to_all(
    sinks: &mut [Box<dyn Sink>],
    batch: &[Document],
    retry: RetryPolicy,
    stop: &watch::Receiver<bool>,
    observer: &dyn PipelineObserver,
) -> Result<Vec<Ack>, FanOutError> {
    let writes = sinks.iter_mut().map(|sink| {
        let mut stop = stop.clone();
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
    retry: RetryPolicy,
    stop: &mut watch::Receiver<bool>,
    observer: &dyn PipelineObserver,
) -> Result<Ack, FanOutError> {
    let mut backoff = Backoff::new(retry);
    loop {
        let started = std::time::Instant::now();
        match sink.write_batch(batch).await {
            Ok(ack) => {
                observer.sink_ok(sink.name(), started.elapsed());
                return Ok(ack);
            }
            Err(error) if error.is_retryable() => {
                let delay = backoff.next_delay(&mut rand::rng());
                observer.sink_failed(sink.name(), &error, Some(delay));
                if *stop.borrow() {
                    return Err(FanOutError::Stopped);
                }
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    Ok(()) = stop.changed() => return Err(FanOutError::Stopped),
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

    fn retry() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
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
}

//! What the pipeline's in-process tests share: the simulator, a polling source config, file
//! sinks, an observer that stops a run after some batches, and a sink that fails for good in
//! the middle of a batch. Each test binary uses part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::TimeDelta;
use oktaflow_fetch::{Auth, ClientConfig, OrgUrl, Secret, SourceOptions};
use oktaflow_pipeline::{Committed, PipelineConfig, PipelineObserver, SourceConfig, StopWhen};
use oktaflow_sim::{SimConfig, SimHandle, Simulator};
use oktaflow_sink::{Ack, BatchLimits, Document, ExistingFile, FileSink, Sink, SinkError};
use tokio::sync::watch;

/// The simulator's API token.
pub const TOKEN: &str = "t";

/// A simulator of `events` events, none late, rate limit out of the way.
pub async fn start_sim(events: usize) -> SimHandle {
    Simulator::start(
        SimConfig {
            events,
            late_fraction: 0.0,
            rate_limit_per_minute: Some(60_000),
            api_token: TOKEN.into(),
            ..SimConfig::default()
        },
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .expect("simulator starts")
}

/// A source reading the whole simulator once (100-event pages, `backfill_concurrency`
/// slices), in batches of two pages.
pub fn config(sim: &SimHandle, state: &Path, backfill_concurrency: usize) -> PipelineConfig {
    let mut client = ClientConfig::new(
        OrgUrl::from_base_url(&sim.base_url()).unwrap(),
        Auth::ApiToken(Secret::new(TOKEN)),
    );
    client.page_size = 100;
    client.rate_limit_share = 1.0;
    let source = SourceConfig {
        name: "okta".into(),
        client,
        start_from: sim.oldest_published().unwrap() - TimeDelta::seconds(1),
        options: SourceOptions {
            backfill_concurrency,
            ..SourceOptions::default()
        },
    };
    let mut config = PipelineConfig::new(source, state);
    config.stop_when = StopWhen::CaughtUp;
    // Batches of two pages: several batches per run.
    config.max_batch = BatchLimits {
        max_docs: 200,
        max_bytes: 16_000_000,
    };
    config
}

/// A file sink at `path` (refuses an existing file).
pub fn file_sink(path: &Path) -> Box<dyn Sink> {
    Box::new(FileSink::new(path, ExistingFile::Refuse).unwrap())
}

/// Requests a stop once `after` batches are committed.
pub struct StopAfter {
    /// Batches before the stop request.
    pub after: usize,
    /// Batches committed so far.
    pub committed: AtomicUsize,
    /// Where the stop is requested.
    pub stop: watch::Sender<bool>,
}

impl PipelineObserver for StopAfter {
    fn batch_committed(&self, _batch: &Committed<'_>) {
        if self.committed.fetch_add(1, Ordering::SeqCst) + 1 == self.after {
            let _ = self.stop.send(true);
        }
    }
}

/// The file sink, until its `fail_on`-th batch: that one is half written (and fsynced),
/// then the write fails for good, as a disk that turned read-only would.
pub struct FailsMidBatch {
    /// The file sink written to.
    pub inner: FileSink,
    /// Non-empty batches seen.
    pub batches: usize,
    /// The batch that is half written, then fails.
    pub fail_on: usize,
}

#[async_trait::async_trait]
impl Sink for FailsMidBatch {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn recover(&mut self, position: Option<&serde_json::Value>) -> Result<(), SinkError> {
        self.inner.recover(position).await
    }

    async fn write_batch(&mut self, batch: &[Document]) -> Result<Ack, SinkError> {
        if batch.is_empty() {
            return self.inner.write_batch(batch).await;
        }
        self.batches += 1;
        if self.batches == self.fail_on {
            self.inner.write_batch(&batch[..batch.len() / 2]).await?;
            return Err(SinkError::Io {
                sink: self.inner.name().to_string(),
                action: "write batch",
                error: std::io::ErrorKind::PermissionDenied.into(),
            });
        }
        self.inner.write_batch(batch).await
    }
}

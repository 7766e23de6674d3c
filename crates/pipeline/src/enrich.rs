//! Identity enrichment beside the pipeline: the profile sync of one source
//! ([`oktaflow_enrich::Enricher`]) as a background task, and the snapshot handle the normalize
//! stage joins onto each batch.
//!
//! Log polling keeps priority: the sync has its own client and pacers (another endpoint, its
//! own share of that endpoint's limit), sends one request at a time, and the normalize stage
//! only reads the latest snapshot, never waits for a refresh.

use std::sync::Arc;

use oktaflow_enrich::{store_file_name, EnrichOptions, Enricher, ProfileHandle};
use oktaflow_fetch::OktaClient;
use tokio::task::JoinHandle;

use tracing::warn;

use crate::config::{PipelineConfig, StopWhen};
use crate::PipelineError;

/// The running sync; aborted when dropped (with the run). An interrupted refresh leaves the
/// store at the last committed one.
#[derive(Debug)]
pub struct EnrichTask(JoinHandle<()>);

impl Drop for EnrichTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Opens the source's profile store (`profiles-<source>.redb` in the state directory) and
/// starts its sync; the handle gives the normalize stage the latest snapshot at once (the
/// stored one after a restart). A run that ends when caught up (`--once`) on a store never
/// synced syncs it first (otherwise it would end before the first refresh); a continuous
/// run never waits.
pub async fn start(
    config: &PipelineConfig,
    options: &EnrichOptions,
) -> Result<(ProfileHandle, EnrichTask), PipelineError> {
    let client = OktaClient::new(config.source.client.clone())
        .map_err(|e| PipelineError::Config(format!("enrichment: {e}")))?;
    let path = config.state_dir.join(store_file_name(&config.source.name));
    let enricher = Enricher::open(&path, Arc::new(client), options.clone())
        .map_err(|e| PipelineError::Config(format!("enrichment: {e}")))?;
    let handle = enricher.handle();
    let never_synced = handle.current().is_none_or(|p| p.version == 0);
    if config.stop_when == StopWhen::CaughtUp && never_synced {
        if let Err(e) = enricher.refresh().await {
            warn!(error = %e, "first profile refresh failed; events are not enriched");
        }
    }
    Ok((handle, EnrichTask(tokio::spawn(enricher.run()))))
}

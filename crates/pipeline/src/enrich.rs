//! Identity enrichment beside the pipeline: the profile sync of one source
//! ([`oktaflow_enrich::Enricher`]) as a background task, and the snapshot handle the normalize
//! stage joins onto each batch.
//!
//! Log polling keeps priority: the sync has its own client and pacers (another endpoint, its
//! own share of that endpoint's limit), sends one request at a time, and the normalize stage
//! only reads the latest snapshot, never waits for a refresh.

use std::sync::Arc;

use oktaflow_enrich::{store_file_name, EnrichOptions, Enricher, ProfileHandle, RefreshOutcome};
use oktaflow_fetch::OktaClient;
use tokio::task::JoinHandle;

use tracing::warn;

use crate::config::{PipelineConfig, StopWhen};
use crate::observer::{Observers, PipelineObserver, ProfilesSynced};
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
/// synced syncs it first (otherwise it would end before the first refresh), as does one with
/// [`PipelineConfig::profiles_first`]; any other run never waits. `observers` hear the store's state at once and after every refresh.
pub(crate) async fn start(
    config: &PipelineConfig,
    options: &EnrichOptions,
    observers: Observers,
) -> Result<(ProfileHandle, EnrichTask), PipelineError> {
    let client = OktaClient::new(config.source.client.clone())
        .map_err(|e| PipelineError::Config(format!("enrichment: {e}")))?;
    let path = config.state_dir.join(store_file_name(&config.source.name));
    let enricher = Enricher::open(&path, Arc::new(client), options.clone())
        .map_err(|e| PipelineError::Config(format!("enrichment: {e}")))?;
    let handle = enricher.handle();
    let never_synced = handle.current().is_none_or(|p| p.version == 0);
    let source = config.source.name.clone();
    let mut synced = (0, (0, 0));
    if (config.stop_when == StopWhen::CaughtUp || config.profiles_first) && never_synced {
        match enricher.refresh().await {
            Ok(r) => {
                synced = (
                    r.requests,
                    (
                        r.committed.changed_users.len(),
                        r.committed.changed_devices.len(),
                    ),
                )
            }
            Err(e) => {
                warn!(error = %e, "first profile refresh failed; events are not enriched");
                observers.profiles_sync_failed(&source, &e);
            }
        }
    }
    match enricher.status() {
        Ok(status) => observers.profiles_synced(&ProfilesSynced {
            source: &source,
            status: &status,
            requests: synced.0,
            changed: synced.1,
        }),
        Err(e) => warn!(error = %e, "cannot read the profile store's counts"),
    }
    let task = enricher.run_reporting(move |outcome| match outcome {
        RefreshOutcome::Refreshed(report, status) => observers.profiles_synced(&ProfilesSynced {
            source: &source,
            status,
            requests: report.requests,
            changed: (
                report.committed.changed_users.len(),
                report.committed.changed_devices.len(),
            ),
        }),
        RefreshOutcome::Failed(error) => observers.profiles_sync_failed(&source, error),
    });
    Ok((handle, EnrichTask(tokio::spawn(task))))
}

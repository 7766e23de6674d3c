//! [`PipelineConfig`]: everything one source's pipeline needs besides its sinks.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use oktaflow_fetch::{ClientConfig, SourceOptions};
use oktaflow_plumbing::RetryPolicy;
use oktaflow_sink::BatchLimits;

/// File name of the dead-letter file in the state directory (one source).
pub const DEAD_LETTER_FILE: &str = "dead-letter.ndjson";

/// The [`PipelineConfig::output_retry_limit`] a run that ends once caught up (`oktaflow run
/// --once`) uses when none is configured: such a run never waits for an output for ever.
pub const ONCE_OUTPUT_RETRY_LIMIT: Duration = Duration::from_secs(60);

/// The pipeline's memory bound on a batch, whatever its sinks prefer: 20,000 events or
/// 6 MB of raw events. At most two batches are in memory with their documents (one being
/// written, the next one normalized; the normalize stage starts a batch only when the writer
/// took the one before), each as raw events plus documents (about 2.2 times the raw bytes),
/// plus the raw pages grouped for the batch after: about 35 MB of a backfill's memory. The
/// rest of the 150 MB peak RSS budget of a 1,000,000-event backfill goes to the detector's
/// state (about 40 MB after a simulated day: one key per Okta session), the allocator's
/// fragmentation, the prefetched pages and the process itself. ClickHouse's 20,000-row
/// preference is cut here to about 2,000 simulator events (two pages) per insert; 12 MB
/// batches peaked at 166 MiB with detections on (see docs/performance.md).
pub const MAX_BATCH: BatchLimits = BatchLimits {
    max_docs: 20_000,
    max_bytes: 6_000_000,
};

/// One Okta org to read.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// Unique name; names the checkpoint file (`<state_dir>/<name>.checkpoint.json`).
    pub name: String,
    /// How to reach and authenticate to the org.
    pub client: ClientConfig,
    /// Where the first run starts (ignored when a checkpoint exists).
    pub start_from: DateTime<Utc>,
    /// Poll interval, backfill concurrency, settle time.
    pub options: SourceOptions,
}

/// When a run ends by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopWhen {
    /// Never: poll forever (until a stop request or a halt).
    Never,
    /// After the first page that is caught up (`--once`).
    CaughtUp,
    /// This long after the first caught-up page (the demo's live follow).
    FollowFor(Duration),
}

/// The typed input of a [`Pipeline`](crate::Pipeline): the source and how to run it.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// The source.
    pub source: SourceConfig,
    /// Where the checkpoint and the dead-letter file live.
    pub state_dir: PathBuf,
    /// When to end.
    pub stop_when: StopWhen,
    /// Backoff between retries of an output that failed with an error that may pass (a sink,
    /// the dead-letter file or the checkpoint: a full disk, a store that is down).
    pub sink_retry: RetryPolicy,
    /// How long such an output may keep failing before the run ends with
    /// [`PipelineError::OutputDown`](crate::PipelineError::OutputDown) (`None`: retried until
    /// it succeeds or a stop is requested — meanwhile nothing is fetched and nothing is
    /// lost).
    pub output_retry_limit: Option<Duration>,
    /// Normalizer options (GeoIP, `event.original`, ...); `normalize.schema` is the
    /// source's schema.
    pub normalize: oktaflow_normalize::Options,
    /// The schema of each event sink, in the order the sinks are given to
    /// [`Pipeline::new`](crate::Pipeline::new) (`None`: the source's); empty: every sink
    /// takes the source's. Each event is normalized once per distinct schema
    /// ([`SchemaPlan`]).
    pub sink_schemas: Vec<Option<oktaflow_normalize::Schema>>,
    /// The dead-letter file's name in `state_dir` (sources sharing a state directory need
    /// one each: its offset is part of each source's checkpoint).
    pub dead_letter_file: String,
    /// The largest batch, whatever the sinks prefer (the memory bound; see
    /// [`batch_size`](crate::batch_size)).
    pub max_batch: BatchLimits,
    /// The detect stage's rules (`None`: detections off). Where the alerts go is given to
    /// [`Pipeline::with_alert_sinks`](crate::Pipeline::with_alert_sinks).
    pub detect: Option<oktaflow_detect::RulesConfig>,
    /// Identity enrichment (`None`: off): user and device profiles synced into
    /// `profiles-<source>.redb` in `state_dir` by a background task and joined onto every
    /// event at normalize time.
    pub enrich: Option<oktaflow_enrich::EnrichOptions>,
    /// Sync a never-synced profile store before the first fetch, so that the first events
    /// are joined too (the demo). A run that ends when caught up always does; otherwise log
    /// polling never waits for the profiles.
    pub profiles_first: bool,
}

impl PipelineConfig {
    /// Defaults for everything but the source and the state directory: run until stopped,
    /// output retries from 500 ms up to 30 s without a limit, default normalizer options,
    /// [`DEAD_LETTER_FILE`], batches bounded by [`MAX_BATCH`].
    pub fn new(source: SourceConfig, state_dir: impl Into<PathBuf>) -> PipelineConfig {
        PipelineConfig {
            source,
            state_dir: state_dir.into(),
            stop_when: StopWhen::Never,
            sink_retry: RetryPolicy {
                base: Duration::from_millis(500),
                cap: Duration::from_secs(30),
            },
            output_retry_limit: None,
            normalize: oktaflow_normalize::Options::default(),
            sink_schemas: Vec::new(),
            dead_letter_file: DEAD_LETTER_FILE.to_string(),
            max_batch: MAX_BATCH,
            detect: None,
            enrich: None,
            profiles_first: false,
        }
    }
}

/// Which documents each event sink receives: the schemas written besides the source's and,
/// for each sink, its slot (`0`: the source's schema; `k + 1`: `others[k]`; see
/// [`Batch::documents_for`](crate::batch::Batch::documents_for)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaPlan {
    /// The distinct schemas other than the source's, in the order their first sink appears.
    pub others: Vec<oktaflow_normalize::Schema>,
    /// The slot of each of the `sinks` sinks.
    pub slots: Vec<usize>,
}

impl PipelineConfig {
    /// The [`SchemaPlan`] for `sinks` event sinks (a sink beyond
    /// [`sink_schemas`](Self::sink_schemas) takes the source's schema).
    pub fn schema_plan(&self, sinks: usize) -> SchemaPlan {
        let source = self.normalize.schema;
        let mut others = Vec::new();
        let slots = (0..sinks)
            .map(|i| {
                let schema = self
                    .sink_schemas
                    .get(i)
                    .copied()
                    .flatten()
                    .unwrap_or(source);
                if schema == source {
                    return 0;
                }
                let k = others.iter().position(|&s| s == schema).unwrap_or_else(|| {
                    others.push(schema);
                    others.len() - 1
                });
                k + 1
            })
            .collect();
        SchemaPlan { others, slots }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oktaflow_fetch::{Auth, OrgUrl, Secret};
    use oktaflow_normalize::Schema;

    #[test]
    fn each_distinct_schema_gets_one_slot_and_the_sources_is_slot_zero() {
        let client = ClientConfig::new(
            OrgUrl::from_domain("acme.okta.com").expect("a domain"),
            Auth::ApiToken(Secret::new("t")),
        );
        let source = SourceConfig {
            name: "okta".into(),
            client,
            start_from: Utc::now(),
            options: SourceOptions::default(),
        };
        let mut config = PipelineConfig::new(source, "/tmp/state");
        assert_eq!(
            config.schema_plan(2),
            SchemaPlan {
                others: vec![],
                slots: vec![0, 0]
            }
        );
        config.sink_schemas = vec![
            Some(Schema::Ocsf),
            None,
            Some(Schema::Ecs),
            Some(Schema::Elastic),
            Some(Schema::Ocsf),
        ];
        assert_eq!(
            config.schema_plan(6),
            SchemaPlan {
                others: vec![Schema::Ocsf, Schema::Elastic],
                slots: vec![1, 0, 0, 2, 1, 0]
            }
        );
        config.normalize.schema = Schema::Ocsf;
        assert_eq!(
            config.schema_plan(3),
            SchemaPlan {
                others: vec![Schema::Ecs],
                slots: vec![0, 0, 1]
            }
        );
    }
}

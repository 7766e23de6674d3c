//! The detect stage: every normalized batch goes through an [`oktaflow_detect::Detector`], in
//! the batch's order (the order Okta returned the events, `published` order per source), and
//! the alerts it raises become a second stream of documents committed with the batch.
//!
//! ```text
//!  normalize stage ──batch──▶ detect (same task, in order) ──batch + alerts + state──▶ writer
//! ```
//!
//! Exactly once with state:
//!
//! * the stage runs in the normalize task, one batch ahead of the writer; each [`Batch`]
//!   carries the alerts of its events and what the state became after them
//!   ([`Batch::detect`]: the changes since the batch before, or now and then the whole state,
//!   see [`DetectStage`]), like it carries the source state after them;
//! * the writer writes the alerts to the alert sinks with the events, then makes the state
//!   update durable in the state directory ([`crate::detect_store`]) and saves the checkpoint
//!   naming it, with the cursor and every sink's position (alert sinks included): the
//!   checkpoint is the commit point of the state too;
//! * on start the detector is restored from the checkpoint ([`Detector::restore_with_sigma`]:
//!   the configured Sigma rules are read again; the state of
//!   a removed or disabled rule is dropped), and the alert sinks recover to their checkpointed
//!   positions like any sink. Alert ids are derived from rule, group and window, so the alerts
//!   of a batch replayed after a crash are the same documents with the same ids.
//!
//! Where alerts go by default ([`default_alert_specs`]): beside the events. A file sink
//! `dir/events.ndjson` gets `dir/alerts.ndjson` (a stem without `events` gets `.alerts` added:
//! `okta.ndjson` → `okta.alerts.ndjson`), an Elasticsearch / OpenSearch sink the index
//! `logs-okta.alert-<namespace>` on the same cluster. stdout, ClickHouse, HTTP and Splunk
//! sinks get no alert stream unless one is configured (`[detect] alerts`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use std::sync::Arc;

use oktaflow_detect::{
    Detector, DetectorState, DetectorStats, Ecs, EventView, RulesConfig, SigmaRules,
};
use oktaflow_sink::{Document, FileConfig, SinkSpec};

use crate::batch::Batch;
use crate::checkpoint::CheckpointError;
use crate::detect_store::{GenerationFiles, SavedSizes, StateUpdate};

/// The journal grows to at least this many bytes before the whole state is written again
/// (`OKTAFLOW_DETECT_JOURNAL_MIN_BYTES` overrides it: the crash tests make it small so that
/// kills land around new generations too).
const MIN_JOURNAL_BYTES: u64 = 4 << 20;

/// The detector of one run, with the policy that decides what each batch saves of its state:
/// the changes since the batch before (a journal line, in proportion to what the batch
/// touched), or the whole state (a new generation) when there is none saved yet or when the
/// journal has grown past the whole state's size (and [`MIN_JOURNAL_BYTES`]). A restart then
/// replays at most about twice the state, and each change is written about twice on average.
///
/// A whole state is streamed from the detector's maps straight into the new generation's
/// temporary file ([`GenerationFiles::write_full`]), never held in memory: the batch carries
/// only its generation and length, and the writer renames the file into place when it commits
/// the batch.
pub struct DetectStage {
    detector: Detector,
    /// Where whole states are written.
    files: GenerationFiles,
    /// The generation of the latest whole state written (or loaded); 0: none.
    generation: u64,
    /// Whether a whole state was saved (or loaded) this generation.
    has_full: bool,
    /// Bytes of the generation's whole state.
    full_bytes: u64,
    /// Journal bytes of the generation so far.
    journal_bytes: u64,
    /// [`MIN_JOURNAL_BYTES`] or its override.
    min_journal_bytes: u64,
}

impl std::fmt::Debug for DetectStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DetectStage")
            .field("generation", &self.generation)
            .field("has_full", &self.has_full)
            .field("full_bytes", &self.full_bytes)
            .field("journal_bytes", &self.journal_bytes)
            .finish_non_exhaustive()
    }
}

impl DetectStage {
    /// The stage for `detector`, writing whole states to `files`, restored from files of
    /// `saved` sizes (`None`: nothing saved in the state directory: the first batch saves the
    /// whole state, as generation 1).
    pub fn new(detector: Detector, files: GenerationFiles, saved: Option<SavedSizes>) -> Self {
        DetectStage {
            detector,
            files,
            generation: saved.map_or(0, |s| s.generation),
            has_full: saved.is_some(),
            full_bytes: saved.map_or(0, |s| s.full_bytes),
            journal_bytes: saved.map_or(0, |s| s.journal_bytes),
            min_journal_bytes: std::env::var("OKTAFLOW_DETECT_JOURNAL_MIN_BYTES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(MIN_JOURNAL_BYTES),
        }
    }

    /// The detector.
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// What to save of the state after the events observed so far. A whole state that cannot
    /// be written is an error when there is none yet; otherwise the changes are journaled
    /// instead (nothing is lost: the next batch tries the whole state again).
    fn update(&mut self) -> Result<StateUpdate, CheckpointError> {
        let compact = self.journal_bytes > self.full_bytes.max(self.min_journal_bytes);
        if !self.has_full || compact {
            let generation = self.generation + 1;
            let detector = &self.detector;
            let written = self.files.write_full(generation, |out| {
                detector.write_state(out).map_err(std::io::Error::from)
            });
            match written {
                Ok(bytes) => {
                    self.detector.clear_changes();
                    self.generation = generation;
                    self.has_full = true;
                    self.full_bytes = bytes;
                    self.journal_bytes = 0;
                    return Ok(StateUpdate::Full { generation, bytes });
                }
                Err(error) if !self.has_full => return Err(error),
                Err(error) => tracing::warn!(
                    "detections: the whole state could not be written, its changes are \
                     journaled instead: {error}"
                ),
            }
        }
        let changes = self.detector.take_changes();
        let mut line = serde_json::to_vec(&changes).unwrap_or_else(|_| b"{}".to_vec());
        line.push(b'\n');
        self.journal_bytes += line.len() as u64;
        Ok(StateUpdate::Changes(Arc::new(line)))
    }
}

/// The detect stage's configuration (the binary's `[detect]` section). The default: every
/// built-in rule with its defaults, alerts beside the events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DetectConfig {
    /// The rules and their tuning.
    pub rules: RulesConfig,
    /// Where alerts go; `None`: beside the events ([`default_alert_specs`]).
    pub alerts: Option<Vec<SinkSpec>>,
}

impl DetectConfig {
    /// The alert sinks of one source whose event sinks are `event_sinks` (already derived per
    /// source): the configured ones (a file per source when `several` sources share them, like
    /// [`per_source_spec`](crate::sinks::per_source_spec)), else [`default_alert_specs`].
    pub fn alert_specs(
        &self,
        event_sinks: &[SinkSpec],
        source: &str,
        several: bool,
    ) -> Vec<SinkSpec> {
        match &self.alerts {
            Some(alerts) => alerts
                .iter()
                .map(|spec| crate::sinks::per_source_spec(spec, source, several))
                .collect(),
            None => default_alert_specs(event_sinks),
        }
    }
}

/// What the detect stage made of one batch.
#[derive(Debug, Default)]
pub struct BatchDetections {
    /// The alert documents (id: the alert's `event.id`), in the order they were raised.
    pub alerts: Vec<Document>,
    /// `rule.id` of each alert, in the same order.
    pub rules: Vec<&'static str>,
    /// What to save of the detector's state after the batch's events: made durable with the
    /// batch's checkpoint.
    pub state: StateUpdate,
    /// Keys held and evicted per rule after the batch.
    pub stats: DetectorStats,
    /// Time spent detecting.
    pub time: std::time::Duration,
}

/// Runs `detector` over `batch`'s documents in order (each with its raw event and its ECS
/// document) and stores the alerts and the state after them in [`Batch::detect`]. Events the
/// normalizer refused are not seen (they are dead-lettered). Writes a new generation's whole
/// state when one is due (file I/O: call it off the async threads); fails only when the first
/// whole state cannot be written (the batch must not be committed without it).
pub fn detect_batch(stage: &mut DetectStage, batch: &mut Batch) -> Result<(), CheckpointError> {
    let started = Instant::now();
    let detector = &mut stage.detector;
    let mut raised = Vec::new();
    for (index, doc) in batch.documents.iter().enumerate() {
        let Some(raw) = batch.raw_at(index) else {
            continue;
        };
        // The normalizer accepted the event, so it is JSON with a uuid, published and
        // eventType (the detector reads it without checking the JSON again); an event the
        // detector still cannot read is skipped (it is delivered all the same).
        if let Ok(view) = EventView::from_checked_bytes(raw.as_bytes(), Some(Ecs::Bytes(&doc.json)))
        {
            detector.observe_into(&view, &mut raised);
        }
    }
    let mut detections = BatchDetections {
        alerts: Vec::with_capacity(raised.len()),
        rules: Vec::with_capacity(raised.len()),
        stats: detector.stats(),
        state: stage.update()?,
        time: std::time::Duration::ZERO,
    };
    for alert in raised {
        detections.rules.push(alert.rule.id);
        detections.alerts.push(Document {
            json: alert.to_json_bytes(),
            id: alert.id,
        });
    }
    detections.time = started.elapsed();
    batch.detect = Some(detections);
    Ok(())
}

/// The alert sinks for `event_sinks` when none are configured: beside the events (see the
/// [module documentation](self)). Duplicates are listed once.
pub fn default_alert_specs(event_sinks: &[SinkSpec]) -> Vec<SinkSpec> {
    let mut specs = Vec::new();
    for spec in event_sinks {
        let alert = match spec {
            SinkSpec::File(file) => Some(SinkSpec::File(FileConfig::new(alert_path(&file.path)))),
            SinkSpec::Elasticsearch(es) => {
                let mut es = es.clone();
                es.index = alert_index(&es.index);
                Some(SinkSpec::Elasticsearch(es))
            }
            SinkSpec::OpenSearch(es) => {
                let mut es = es.clone();
                es.index = alert_index(&es.index);
                Some(SinkSpec::OpenSearch(es))
            }
            _ => None,
        };
        if let Some(alert) = alert {
            if !specs.contains(&alert) {
                specs.push(alert);
            }
        }
    }
    specs
}

/// `dir/events.ndjson` → `dir/alerts.ndjson`, `dir/events.acme.ndjson` →
/// `dir/alerts.acme.ndjson`, `dir/okta.ndjson` → `dir/okta.alerts.ndjson`.
pub fn alert_path(events: &Path) -> PathBuf {
    let name = events
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let alerts = if name.contains("events") {
        name.replacen("events", "alerts", 1)
    } else {
        match name.split_once('.') {
            Some((stem, rest)) => format!("{stem}.alerts.{rest}"),
            None => format!("{name}.alerts"),
        }
    };
    events.with_file_name(alerts)
}

/// `logs-okta.system-NS` → `logs-okta.alert-NS`; any other index → `logs-okta.alert-default`.
pub fn alert_index(events: &str) -> String {
    match events.strip_prefix("logs-okta.system-") {
        Some(namespace) if !namespace.is_empty() => format!("logs-okta.alert-{namespace}"),
        _ => "logs-okta.alert-default".to_string(),
    }
}

/// A detector for a run: the built-in rules of `rules` and the Sigma rule files and folders
/// it names (read now), restored from the checkpoint's state when there is one (the state of
/// a rule no longer configured is dropped).
pub(crate) fn detector_for(
    rules: &RulesConfig,
    saved: Option<DetectorState>,
) -> Result<Detector, oktaflow_detect::DetectError> {
    let sigma = SigmaRules::load(&rules.rules)?;
    match saved {
        Some(state) => {
            let detector = Detector::restore_with_sigma(rules.clone(), &sigma, state)?;
            for note in detector.restore_notes() {
                tracing::warn!("detections: {note}");
            }
            Ok(detector)
        }
        None => Detector::with_sigma(rules.clone(), &sigma),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_go_beside_the_events() {
        assert_eq!(
            alert_path(Path::new("/d/events.ndjson")),
            Path::new("/d/alerts.ndjson")
        );
        assert_eq!(
            alert_path(Path::new("/d/events.acme.ndjson")),
            Path::new("/d/alerts.acme.ndjson")
        );
        assert_eq!(
            alert_path(Path::new("/d/okta.ndjson")),
            Path::new("/d/okta.alerts.ndjson")
        );
        assert_eq!(alert_path(Path::new("out")), Path::new("out.alerts"));
        assert_eq!(alert_index("logs-okta.system-prod"), "logs-okta.alert-prod");
        assert_eq!(alert_index("okta"), "logs-okta.alert-default");
        let specs: Vec<SinkSpec> = [
            "file:/d/events.ndjson",
            "stdout",
            "elasticsearch:http://127.0.0.1:9200",
            "clickhouse:http://127.0.0.1:8123",
        ]
        .iter()
        .map(|s| oktaflow_sink::parse_sink_spec(s).unwrap())
        .collect();
        let alerts = default_alert_specs(&specs);
        assert_eq!(alerts.len(), 2);
        assert_eq!(
            alerts[0],
            SinkSpec::File(FileConfig::new("/d/alerts.ndjson"))
        );
        let SinkSpec::Elasticsearch(es) = &alerts[1] else {
            panic!("{:?}", alerts[1]);
        };
        assert_eq!(es.index, "logs-okta.alert-default");
    }
}

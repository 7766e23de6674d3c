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
    Detector, DetectorState, DetectorStats, Ecs, EventParts, EventView, PartyParts, Piece,
    RulesConfig, SigmaRules, TopPart,
};
use oktaflow_normalize::{ParsedDebugDataState, ParsedEvent, ParsedParty, ParsedValue, TextRef};
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
        // Serialized straight from the rules' maps (no JSON tree per changed key).
        let mut line = Vec::new();
        if let Err(error) = self.detector.write_changes(&mut line) {
            // Nothing was lost: the detector keeps the changes for the next line.
            tracing::warn!(
                "detections: the state's changes could not be journaled, the next batch's \
                 line carries them: {error}"
            );
            line.extend_from_slice(b"{}");
        }
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
        // eventType (the detector reads it without checking the JSON again), and it handed
        // over what the rules read of most events ([`event_parts`]); an event the detector
        // still cannot read is skipped (it is delivered all the same).
        let raw = raw.as_bytes();
        let ecs = Some(Ecs::Bytes(&doc.json));
        let view = match batch.parts_at(index) {
            // An event no rule can use (most events: types no rule reads) is only counted.
            Some(parts) if detector.observe_unread(raw, parts) => continue,
            Some(parts) => match EventView::from_parts(raw, parts, ecs) {
                Some(view) => view,
                None => EventView::from_checked_bytes(raw, ecs),
            },
            None => EventView::from_checked_bytes(raw, ecs),
        };
        if let Ok(view) = view {
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
    for mut alert in raised {
        detections.rules.push(alert.rule.id);
        let id = std::mem::take(&mut alert.id);
        detections.alerts.push(Document {
            json: alert.into_json_bytes(),
            id,
        });
    }
    detections.time = started.elapsed();
    batch.detect = Some(detections);
    Ok(())
}

/// What the detect stage reads of the plain LogEvent `raw`, taken from the normalizer's parse
/// of it (`event`), so that the stage does not read `raw` again: every text member a string
/// without escapes (a byte range of `raw`) or a boolean. `None` (the stage reads `raw`
/// instead) when a member the rules read is a number or an escaped string where text is
/// read (the normalizer's text of a number is not always the detector's), or has a type the
/// normalizer's model does not take (it keeps an earlier value of the member then), or a
/// `debugData` member the rules read is a number.
///
/// Both read a member given twice as the last one, and both take `null`, `[]` and `{}` for an
/// absent text, so the facts are those [`EventView::from_checked_bytes`] reads from `raw`
/// (`tests::parts_give_the_facts_the_reader_gives`).
pub fn event_parts(raw: &[u8], event: &ParsedEvent<'_, '_>) -> Option<EventParts> {
    if event.misfits() {
        return None;
    }
    let mut parts = EventParts {
        uuid: piece(raw, event.uuid())?,
        published: piece(raw, event.published())?,
        event_type: piece(raw, event.event_type())?,
        // The normalizer read every top-level value but `detail` (a raw value) into its
        // model as serde_json reads it into a `Value` (its fast reader gives up on anything
        // it does not read exactly so).
        values_checked: true,
        ..EventParts::default()
    };
    if let Some(actor) = event.actor() {
        parts.actor = Some(party(raw, &actor)?);
    }
    if let Some(target) = event.first_target() {
        parts.target = Some(party(raw, &target)?);
    }
    if let Some(client) = event.client() {
        if client.misfits {
            return None;
        }
        parts.client_id = piece(raw, client.id)?;
        parts.client_ip = piece(raw, client.ip_address)?;
        if let Some(geo) = client.geo {
            if geo.misfits {
                return None;
            }
            parts.geo_city = piece(raw, geo.city)?;
            parts.geo_state = piece(raw, geo.state)?;
            parts.geo_country = piece(raw, geo.country)?;
            parts.lat = geo.lat;
            parts.lon = geo.lon;
        }
    }
    if let Some((result, reason, misfits)) = event.outcome() {
        if misfits {
            return None;
        }
        parts.outcome_result = piece(raw, result)?;
        parts.outcome_reason = piece(raw, reason)?;
    }
    if let Some((as_number, as_org, misfits)) = event.security_context() {
        if misfits {
            return None;
        }
        // A whole number the normalizer read; the detector reads the same number as a float.
        parts.as_number = as_number.map(|n| n as f64);
        parts.as_org = piece(raw, as_org)?;
    }
    if let Some((session, misfits)) = event.external_session_id() {
        if misfits {
            return None;
        }
        parts.external_session_id = piece(raw, session)?;
    }
    if let Some(debug) = event.debug_data() {
        let member = |name: &str| match debug.get(name) {
            None | Some(ParsedValue::Null | ParsedValue::Array | ParsedValue::Object) => Some(None),
            Some(ParsedValue::Bool(b)) => Some(Some(if b { Piece::True } else { Piece::False })),
            Some(ParsedValue::Str(s)) => piece(raw, Some(s)),
            Some(ParsedValue::Number(_)) => None,
        };
        parts.privilege_granted = member("privilegeGranted")?;
        parts.dt_hash = member("dtHash")?;
        parts.factor = member("factor")?;
        parts.push_only_response_type = member("pushOnlyResponseType")?;
    }
    // The Sigma prefilter's shortcuts: only names the Sigma event would also read under
    // these names (ASCII case ignored) make them unsound.
    let mut other_event_type = false;
    let mut others = [false; 2];
    for name in event.other_names() {
        other_event_type |= name.eq_ignore_ascii_case("eventType");
        others[0] |= name.eq_ignore_ascii_case("displayMessage");
        others[1] |= name.eq_ignore_ascii_case("legacyEventType");
    }
    parts.event_type_alone = !other_event_type;
    // With no misfit, a member the model holds no text for is absent, `null`, or containers
    // of `null` and `""` only (the model's empty values): no Sigma string test holds on it.
    let top = |text: Option<TextRef<'_, '_>>, other: bool| match piece(raw, text) {
        Some(Some(Piece::Span { start, end })) if !other => TopPart::Plain { start, end },
        Some(None) if !other => TopPart::NoText,
        _ => TopPart::Other,
    };
    parts.display_message = top(event.display_message(), others[0]);
    parts.legacy_event_type = top(event.legacy_event_type(), others[1]);
    parts.request_uri = request_uri(raw, event);
    parts.is_proxy = is_proxy(event);
    Some(parts)
}

/// `name` begins with `prefix`, ASCII case ignored.
fn begins(name: &str, prefix: &str) -> bool {
    name.len() >= prefix.len()
        && name.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// `securityContext.isProxy` for the Sigma prefilter ([`TopPart`]): known only when no other
/// member, at either level, is one the Sigma event could read under that path (names compared
/// without regard to ASCII case, dotted names read as paths), and the normalizer's model took
/// every member of `securityContext`.
fn is_proxy(event: &ParsedEvent<'_, '_>) -> TopPart {
    if event.other_names().any(|n| begins(n, "securityContext")) {
        return TopPart::Other;
    }
    let Some(context) = event.security_context_fields() else {
        return TopPart::Absent;
    };
    if !context.is_object()
        || context
            .other_names()
            .any(|n| n.eq_ignore_ascii_case("isProxy") || begins(n, "isProxy."))
    {
        return TopPart::Other;
    }
    match context.is_proxy() {
        Some(flag) => TopPart::Flag(flag),
        None => TopPart::NoText,
    }
}

/// `parts` with the normalizer's parse of `published` ([`EventParts::published_ms`]): the
/// detector parses it the same way, so it need not parse it again. Not when the normalizer
/// could not parse it (its `@timestamp` is then the fetch time): the detector decides.
pub fn with_published(
    parts: Option<EventParts>,
    summary: &oktaflow_normalize::EventSummary,
) -> Option<EventParts> {
    let mut parts = parts?;
    if !summary.published_fallback {
        parts.published_ms = Some(summary.published.timestamp_millis());
    }
    Some(parts)
}

/// `debugContext.debugData.requestUri` for the Sigma prefilter ([`TopPart`]): known only when
/// no other member, at any level, is one the Sigma event could read under that path (names
/// compared without regard to ASCII case, dotted names read as paths).
fn request_uri(raw: &[u8], event: &ParsedEvent<'_, '_>) -> TopPart {
    // `name` begins with `prefix`, ASCII case ignored.
    let begins = |name: &str, prefix: &str| {
        name.len() >= prefix.len()
            && name.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    };
    if event.other_names().any(|n| begins(n, "debugContext")) {
        return TopPart::Other;
    }
    let Some(context) = event.debug_context() else {
        return TopPart::Absent;
    };
    if !context.is_object() || context.other_names().any(|n| begins(n, "debugData")) {
        return TopPart::Other;
    }
    let data = match context.debug_data() {
        ParsedDebugDataState::Absent => return TopPart::Absent,
        ParsedDebugDataState::Object(data) => data,
        ParsedDebugDataState::Other => return TopPart::Other,
    };
    let mut found = TopPart::Absent;
    for (name, value) in data.members() {
        if !(name.eq_ignore_ascii_case("requestUri") || begins(name, "requestUri.")) {
            continue;
        }
        if found != TopPart::Absent || name != "requestUri" {
            return TopPart::Other;
        }
        found = match value {
            ParsedValue::Str(s) => match piece(raw, Some(s)) {
                Some(Some(Piece::Span { start, end })) => TopPart::Plain { start, end },
                _ => return TopPart::Other,
            },
            _ => return TopPart::Other,
        };
    }
    found
}

/// A text member as a [`Piece`] of `raw` (`Some(None)`: absent; `None`: not a piece).
fn piece(raw: &[u8], text: Option<TextRef<'_, '_>>) -> Option<Option<Piece>> {
    let Some(text) = text else {
        return Some(None);
    };
    let std::borrow::Cow::Borrowed(s) = text else {
        // An escaped string, or a number's text.
        return None;
    };
    let start = (s.as_ptr() as usize).wrapping_sub(raw.as_ptr() as usize);
    match start.checked_add(s.len()) {
        Some(end) if start <= raw.len() && end <= raw.len() => Some(Some(Piece::Span {
            start: u32::try_from(start).ok()?,
            end: u32::try_from(end).ok()?,
        })),
        // Not in `raw`: the text of a boolean.
        _ => match *s {
            "true" => Some(Some(Piece::True)),
            "false" => Some(Some(Piece::False)),
            _ => None,
        },
    }
}

fn party(raw: &[u8], p: &ParsedParty<'_, '_>) -> Option<PartyParts> {
    if p.misfits {
        return None;
    }
    Some(PartyParts {
        id: piece(raw, p.id)?,
        kind: piece(raw, p.kind)?,
        alternate_id: piece(raw, p.alternate_id)?,
        display_name: piece(raw, p.display_name)?,
    })
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

    /// The normalizer's parts of `raw` (outer `None`: it refused the event; inner `None`: it
    /// gave no parts).
    fn parts_of(raw: &[u8]) -> Option<Option<EventParts>> {
        let mut normalizer = oktaflow_normalize::Normalizer::default();
        let mut out = Vec::new();
        normalizer
            .normalize_fetched_into_with(raw, chrono::Utc::now(), &mut out, |event| {
                event_parts(raw, event)
            })
            .ok()
            .map(|(summary, parts)| with_published(parts.flatten(), &summary))
    }

    fn facts(view: Result<EventView<'_>, oktaflow_detect::DetectError>) -> String {
        match view {
            Ok(view) => format!("{:?}", view.facts()),
            Err(error) => format!("error: {error}"),
        }
    }

    /// Checks that the parts of `raw`, when the normalizer gives them, read the facts the
    /// byte readers read, and that the Sigma prefilter's shortcuts they claim hold in the
    /// event as `serde_json::Value` reads it (duplicates merged, last one kept). True when
    /// parts were given.
    fn check(raw: &[u8]) -> bool {
        let text = String::from_utf8_lossy(raw);
        let Some(Some(parts)) = parts_of(raw) else {
            return false;
        };
        let view = EventView::from_parts(raw, &parts, None).expect("pieces in range");
        let from_parts = facts(view);
        assert_eq!(
            from_parts,
            facts(EventView::from_bytes(raw, None)),
            "{text}"
        );
        assert_eq!(
            from_parts,
            facts(EventView::from_checked_bytes(raw, None)),
            "{text}"
        );
        let value: serde_json::Value = serde_json::from_slice(raw).expect("JSON");
        let names: Vec<&String> = value.as_object().expect("an object").keys().collect();
        let spelled = |name: &str| {
            names
                .iter()
                .filter(|n| n.eq_ignore_ascii_case(name))
                .collect::<Vec<_>>()
        };
        if parts.event_type_alone {
            assert_eq!(spelled("eventType"), [&"eventType"], "{text}");
        }
        for (part, name) in [
            (parts.display_message, "displayMessage"),
            (parts.legacy_event_type, "legacyEventType"),
        ] {
            match part {
                TopPart::Plain { start, end } => {
                    assert_eq!(spelled(name), [&name], "{text}");
                    assert_eq!(
                        value[name].as_str().map(str::as_bytes),
                        Some(&raw[start as usize..end as usize]),
                        "{text}"
                    );
                }
                TopPart::NoText => {
                    assert!(spelled(name).iter().all(|n| **n == name), "{text}");
                    assert!(value.get(name).is_none_or(holds_no_text), "{text}");
                }
                TopPart::Absent => assert!(spelled(name).is_empty(), "{text}"),
                TopPart::Flag(_) => panic!("{name} is never a flag: {text}"),
                TopPart::Other => {}
            }
        }
        let uris = request_uris(&value).map(|values| {
            values
                .iter()
                .map(|v| v.as_str().map(str::as_bytes))
                .collect::<Vec<_>>()
        });
        match parts.request_uri {
            TopPart::Plain { start, end } => assert_eq!(
                uris,
                Some(vec![Some(&raw[start as usize..end as usize])]),
                "{text}"
            ),
            TopPart::Absent => assert_eq!(uris, Some(vec![]), "{text}"),
            TopPart::NoText => panic!("requestUri is never NoText: {text}"),
            TopPart::Flag(_) => panic!("requestUri is never a flag: {text}"),
            TopPart::Other => {}
        }
        let proxies = sigma_values(&value, &["securityContext", "isProxy"]);
        match parts.is_proxy {
            TopPart::Flag(flag) => {
                let word = if flag { "true" } else { "false" };
                let values = proxies.expect("known");
                assert_eq!(values.len(), 1, "{text}");
                assert!(
                    values[0].as_bool() == Some(flag)
                        || values[0]
                            .as_str()
                            .is_some_and(|s| s.eq_ignore_ascii_case(word)),
                    "{text}"
                );
            }
            TopPart::NoText => {
                assert!(
                    proxies.expect("known").into_iter().all(holds_no_text),
                    "{text}"
                )
            }
            TopPart::Absent => assert_eq!(proxies, Some(vec![]), "{text}"),
            TopPart::Plain { .. } => panic!("isProxy is never plain text: {text}"),
            TopPart::Other => {}
        }
        true
    }

    /// Whether the Sigma event reads member `name` for the path segment `segment`: the same
    /// name, or the name followed by a `.` (a flat dotted key), ASCII case ignored.
    fn segment_hit(name: &str, segment: &str) -> bool {
        let n = name.as_bytes();
        name.eq_ignore_ascii_case(segment)
            || (n.len() > segment.len()
                && n[..segment.len()].eq_ignore_ascii_case(segment.as_bytes())
                && n[segment.len()] == b'.')
    }

    /// The values the Sigma event could read under the path `segments` in `value`: names
    /// equal to a segment, or beginning with it and a `.`, without regard to ASCII case, at
    /// every level, arrays crossed (at any depth), `null` passed over; `None` when such a name
    /// is spelled otherwise than the segment, or a scalar stands where the path goes on.
    fn sigma_values<'v>(
        value: &'v serde_json::Value,
        segments: &[&str],
    ) -> Option<Vec<&'v serde_json::Value>> {
        use serde_json::Value;
        fn flatten<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
            match v {
                Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
                other => out.push(other),
            }
        }
        let mut level = vec![value];
        for segment in segments {
            let mut next = Vec::new();
            let mut items = Vec::new();
            for v in level {
                flatten(v, &mut items);
            }
            for v in items {
                match v {
                    Value::Null => {}
                    Value::Object(members) => {
                        for (name, child) in members {
                            let hit = segment_hit(name, segment);
                            if hit && name != segment {
                                return None;
                            }
                            if hit {
                                next.push(child);
                            }
                        }
                    }
                    _ => return None,
                }
            }
            level = next;
        }
        Some(level)
    }

    /// `value` holds no text a Sigma string test with a non-empty literal could hold on:
    /// `null`, `""`, or arrays and objects of those.
    fn holds_no_text(value: &serde_json::Value) -> bool {
        use serde_json::Value;
        match value {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Bool(_) | Value::Number(_) => false,
            Value::Array(items) => items.iter().all(holds_no_text),
            Value::Object(members) => members.values().all(holds_no_text),
        }
    }

    /// The values the Sigma event could read under `debugContext.debugData.requestUri` in
    /// `value` (names equal to a segment, or beginning with it and a `.`, without regard to
    /// ASCII case, at every level), when every such name is spelled exactly so (`None`:
    /// another spelling, or a value the walk does not follow).
    fn request_uris(value: &serde_json::Value) -> Option<Vec<&serde_json::Value>> {
        use serde_json::Value;
        let mut level = vec![value];
        for segment in ["debugContext", "debugData", "requestUri"] {
            let mut next = Vec::new();
            for v in level {
                match v {
                    Value::Null => {}
                    Value::Array(a) if a.is_empty() => {}
                    Value::Object(members) => {
                        for (name, child) in members {
                            let hit = segment_hit(name, segment);
                            if hit && name != segment {
                                return None;
                            }
                            if hit {
                                next.push(child);
                            }
                        }
                    }
                    _ => return None,
                }
            }
            level = next;
        }
        Some(level)
    }

    #[test]
    fn request_uri_is_known_only_when_spelled_once_exactly() {
        let head =
            r#"{"uuid":"u1","published":"2024-05-01T10:00:00Z","eventType":"user.session.start""#;
        // (the rest of the event, what the parts say: the plain text, "absent" or "other")
        let cases = [
            (
                r#","debugContext":{"debugData":{"requestUri":"/admin/x"}}"#,
                "/admin/x",
            ),
            (r#""#, "absent"),
            (r#","debugContext":{"debugData":{"dtHash":"a"}}"#, "absent"),
            (r#","debugContext":{"other":1}"#, "absent"),
            (r#","debugContext":null"#, "absent"),
            (r#","debugContext":{"debugData":{}}"#, "absent"),
            // Another spelling, a dotted name, twice, a number, an escape, not a string.
            (
                r#","debugContext":{"debugData":{"requesturi":"/admin"}}"#,
                "other",
            ),
            (
                r#","debugContext":{"debugData":{"requestUri":"/a","RequestUri":"/admin"}}"#,
                "other",
            ),
            (
                r#","debugContext":{"debugData":{"requestUri":"/a","requestUri":"/admin"}}"#,
                "other",
            ),
            (
                r#","debugContext":{"debugData":{"requestUri.x":"/admin"}}"#,
                "other",
            ),
            (
                r#","debugContext":{"debugData":{"requestUri":42}}"#,
                "other",
            ),
            (
                r#","debugContext":{"debugData":{"requestUri":"\/admin"}}"#,
                "other",
            ),
            (
                r#","debugContext":{"debugData":{"requestUri":"\u0061dmin"}}"#,
                "other",
            ),
            (
                r#","debugContext":{"debugData":{"requestUri":["/admin"]}}"#,
                "other",
            ),
            (
                r#","debugContext":{"debugData":{"requestUri":null}}"#,
                "other",
            ),
            (
                r#","debugContext":{"debugData":{"requestUri":true}}"#,
                "other",
            ),
            (
                r#","debugContext":{"debugData":{"requestUri":{"p":"/admin"}}}"#,
                "other",
            ),
            // An escaped name is read unescaped, by the normalizer and the Sigma event alike.
            (
                r#","debugContext":{"debugData":{"requ\u0065stUri":"/admin"}}"#,
                "/admin",
            ),
            (
                r#","debugContext":{"debugData":[{"requestUri":"/admin"}]}"#,
                "other",
            ),
            (r#","debugContext":{"debugData":"requestUri"}"#, "other"),
            (
                r#","debugContext":[{"debugData":{"requestUri":"/admin"}}]"#,
                "other",
            ),
            (
                r#","debugContext":{"DebugData":{"requestUri":"/admin"}}"#,
                "other",
            ),
            (
                r#","debugContext":{"debugData":{"requestUri":"/a"},"debugData.requestUri":"/admin"}"#,
                "other",
            ),
            (
                r#","debugcontext":{"debugData":{"requestUri":"/admin"}}"#,
                "other",
            ),
            (r#","debugContext.debugData.requestUri":"/admin""#, "other"),
            (
                r#","debugContext":{"debugData":{"requestUri":"/a"}},"DebugContext.debugData":{"requestUri":"/admin"}"#,
                "other",
            ),
            // Duplicated containers: the last one, in the model and the Sigma event alike.
            (
                r#","debugContext":{"debugData":{"requestUri":"/admin"}},"debugContext":{"debugData":{"requestUri":"/a"}}"#,
                "/a",
            ),
            (
                r#","debugContext":{"debugData":{"requestUri":"/admin"},"debugData":{"x":"y"}}"#,
                "absent",
            ),
        ];
        for (case, want) in cases {
            let raw = format!("{head}{case}}}");
            let parts = parts_of(raw.as_bytes())
                .flatten()
                .unwrap_or_else(|| panic!("no parts: {raw}"));
            let got = match parts.request_uri {
                TopPart::Plain { start, end } => &raw[start as usize..end as usize],
                TopPart::Absent => "absent",
                TopPart::NoText => "no text",
                TopPart::Flag(_) => "flag",
                TopPart::Other => "other",
            };
            assert_eq!(got, want, "{raw}");
            assert!(check(raw.as_bytes()), "{raw}");
        }
    }

    /// Alerts (and the final state) of the shipped Sigma rules over `events`, read from the
    /// normalizer's parts where it gives them (as the pipeline does), with the Sigma prefilter
    /// on or off.
    fn sigma_alerts(events: &[Vec<u8>], gate: bool) -> Vec<String> {
        sigma_alerts_with(events, gate, true)
    }

    /// [`sigma_alerts`] with the projection of events for the Sigma engine on or off.
    fn sigma_alerts_with(events: &[Vec<u8>], gate: bool, projection: bool) -> Vec<String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/sigma/okta");
        let rules = SigmaRules::load(&[root]).expect("the shipped rules");
        let mut detector =
            oktaflow_detect::Detector::with_sigma(RulesConfig::none(), &rules).expect("detector");
        detector.set_sigma_gate(gate);
        detector.set_sigma_projection(projection);
        let mut alerts = Vec::new();
        let mut from_parts = 0;
        for raw in events {
            let parts = parts_of(raw).flatten();
            let view = match &parts {
                Some(parts) => {
                    from_parts += 1;
                    EventView::from_parts(raw, parts, None).expect("pieces in range")
                }
                None => EventView::from_checked_bytes(raw, None),
            };
            if let Ok(view) = view {
                detector.observe_into(&view, &mut alerts);
            }
        }
        assert!(
            from_parts * 2 >= events.len(),
            "{from_parts} of {}",
            events.len()
        );
        let mut out: Vec<String> = alerts.iter().map(|a| a.to_json()).collect();
        out.push(serde_json::to_string(&detector.state()).expect("state"));
        out
    }

    #[test]
    fn the_sigma_prefilter_on_parts_lets_through_what_it_must() {
        // `requestUri|contains: admin` (with `securityContext.isProxy: 'true'`): the literal
        // in other cases, other members, escapes, twice, as a number, nested paths.
        let cases = [
            r#","debugContext":{"debugData":{"requestUri":"/admin/app"}}"#,
            r#","debugContext":{"debugData":{"requestUri":"/ADMIN/app"}}"#,
            r#","debugContext":{"debugData":{"requestUri":"/AdMiN"}}"#,
            r#","debugContext":{"debugData":{"requestUri":"/app","url":"/admin"}}"#,
            r#","debugContext":{"debugData":{"requestUri":"/app"}},"displayMessage":"admin""#,
            r#","debugContext":{"debugData":{"requesturi":"/admin"}}"#,
            r#","debugContext":{"debugData":{"RequestUri":"/Admin"}}"#,
            r#","debugContext":{"debugData":{"requestUri":"/a","requestUri":"/admin"}}"#,
            r#","debugContext":{"debugData":{"requestUri":"/admin","requestUri":"/a"}}"#,
            r#","debugContext":{"debugData":{"requestUri":"\/admin"}}"#,
            r#","debugContext":{"debugData":{"requestUri":"\u0061dmin"}}"#,
            r#","debugContext":{"debugData":{"requestUri":"\u0041DMIN"}}"#,
            r#","debugContext":{"debugData":{"requestUri":"/\"admin\""}}"#,
            r#","debugContext":{"debugData":{"requestUri":42}}"#,
            r#","debugContext":{"debugData":{"requestUri":["/x","/admin"]}}"#,
            r#","debugContext":{"debugData":{"requestUri":{"path":"/admin"}}}"#,
            r#","debugContext":{"debugData":[{"requestUri":"/admin"}]}"#,
            r#","debugContext":[{"debugData":{"requestUri":"/admin"}}]"#,
            r#","debugContext":{"DebugData":{"requestUri":"/admin"}}"#,
            r#","debugcontext":{"debugdata":{"requesturi":"/admin"}}"#,
            r#","debugContext":{"debugData":{"requestUri":"/a"},"debugData.requestUri":"/admin"}"#,
            r#","debugContext.debugData.requestUri":"/admin""#,
            r#","debugContext":{"debugData":{"requestUri":"/a"}},"debugContext.debugData.requestUri":"/admin""#,
            r#","debugContext":{"debugData":{"requestUri":"/admin"}},"debugContext":{"debugData":{"requestUri":"/a"}}"#,
            r#","debugContext":{"debugData":{"requestUri":"/a"}},"debugContext":{"debugData":{"requestUri":"/admin"}}"#,
            r#","debugContext":{"debugData":{"requestUri":"/admin"},"debugData":{"requestUri":"/a"}}"#,
            r#","debugContext":{"debugData":{"requestUri":"/admin"}},"debugContext":null"#,
            r#","debugContext":{"debugData":{"requestUri":"/app"}}"#,
            r#","debugContext":{"debugData":{"requestUri":"/ädmin/ÄDMIN"}}"#,
            r#","debugContext":{"debugData":{"requestUri":"/KADMIN"}}"#,
        ];
        let events: Vec<Vec<u8>> = cases
            .iter()
            .enumerate()
            .map(|(i, case)| {
                format!(
                    r#"{{"uuid":"r{i}","published":"2024-05-01T10:00:00Z","eventType":"user.session.start","securityContext":{{"isProxy":true}}{case}}}"#
                )
                .into_bytes()
            })
            .collect();
        let on = sigma_alerts(&events, true);
        assert_eq!(on, sigma_alerts(&events, false));
        // The rule fires on the plain member in any case, and on the other readings of it.
        for id in [
            "r0", "r1", "r2", "r6", "r7", "r9", "r10", "r11", "r24", "r29",
        ] {
            assert!(
                on.iter().any(|a| a.contains(&format!("\"{id}\""))),
                "{id} raised nothing: {on:#?}"
            );
        }
    }

    /// The parts say the normalizer checked every top-level value but `detail`
    /// ([`EventParts::values_checked`]): the Sigma engine's projection then parses only the
    /// members it keeps. The alerts and state are those of the whole event (projection off),
    /// over the fixtures and events the normalizer accepts with names escaped, cased, dotted or
    /// given twice, and a `detail` the whole parse refuses.
    /// `Detector::observe_unread` skips the events no rule can use without changing anything:
    /// over the simulator's background traffic with its attack scenarios merged in by
    /// `published`, the fixtures and the shipped rules' cases, every built-in rule (with a key
    /// cap small enough to evict) and the shipped Sigma rules raise the same alerts and end in
    /// the same state and counters with the shortcut on and off; and the shortcut skips a good
    /// part of the simulator's events (47 %: sign-ins, SSO and MFA are read).
    #[test]
    fn events_no_rule_can_use_are_skipped_without_changing_anything() {
        use chrono::TimeZone;
        let start = chrono::Utc
            .timestamp_millis_opt(1_700_000_000_000)
            .single()
            .expect("a time");
        let mut generator = oktaflow_sim::generate::EventGenerator::new(11);
        let mut timed: Vec<(i64, Vec<u8>)> = (0..6_000)
            .map(|i| {
                let at = start + chrono::Duration::milliseconds(i * 3_000);
                (at.timestamp_millis(), generator.event(at).into_bytes())
            })
            .collect();
        let end = start.timestamp_millis() + 6_000 * 3_000;
        let attacks = oktaflow_sim::attacks::scenarios(3, start.timestamp_millis(), end);
        timed.extend(
            attacks
                .events
                .iter()
                .map(|e| (e.published_ms, e.json.clone().into_bytes())),
        );
        timed.sort_by_key(|(ms, _)| *ms);
        let mut events: Vec<Vec<u8>> = timed.into_iter().map(|(_, e)| e).collect();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        events.extend(
            std::fs::read_to_string(root.join("fixtures/okta-sample.ndjson"))
                .expect("fixtures/okta-sample.ndjson")
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.as_bytes().to_vec()),
        );
        let rules = SigmaRules::load(&[root.join("rules/sigma/okta")]).expect("the shipped rules");
        let parts: Vec<Option<EventParts>> =
            events.iter().map(|raw| parts_of(raw).flatten()).collect();
        let run = |skip: bool| {
            let config = RulesConfig {
                max_keys_per_rule: 40,
                ..RulesConfig::default()
            };
            let mut detector =
                oktaflow_detect::Detector::with_sigma(config, &rules).expect("detector");
            detector.set_skip_unread(skip);
            let mut alerts = Vec::new();
            let mut skipped = 0;
            for (raw, parts) in events.iter().zip(&parts) {
                if let Some(parts) = parts {
                    if detector.observe_unread(raw, parts) {
                        skipped += 1;
                        continue;
                    }
                }
                let view = match parts {
                    Some(parts) => EventView::from_parts(raw, parts, None).expect("in range"),
                    None => EventView::from_checked_bytes(raw, None),
                };
                if let Ok(view) = view {
                    detector.observe_into(&view, &mut alerts);
                }
            }
            let alerts: Vec<String> = alerts.iter().map(|a| a.to_json()).collect();
            let state = serde_json::to_string(&detector.state()).expect("state");
            (alerts, state, detector.stats(), skipped)
        };
        let (alerts, state, stats, skipped) = run(true);
        let (alerts_off, state_off, stats_off, none) = run(false);
        assert_eq!(none, 0);
        assert!(skipped * 3 > events.len(), "{skipped} of {}", events.len());
        assert!(alerts.len() > 100, "{} alerts", alerts.len());
        for rule in [
            "okta.brute_force_logins",
            "okta.api_key_created",
            "okta.mfa_push_bombing",
        ] {
            assert!(alerts.iter().any(|a| a.contains(rule)), "{rule}");
        }
        assert!(stats.evicted.values().any(|n| *n > 0), "{stats:?}");
        assert!(stats.expired.values().any(|n| *n > 0), "{stats:?}");
        assert_eq!(alerts, alerts_off);
        assert_eq!(state, state_off);
        assert_eq!(stats, stats_off);
    }

    #[test]
    fn the_projection_of_checked_parts_gives_the_alerts_of_the_whole_event() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut events: Vec<Vec<u8>> =
            std::fs::read_to_string(root.join("fixtures/okta-sample.ndjson"))
                .expect("fixtures/okta-sample.ndjson")
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.as_bytes().to_vec())
                .collect();
        for entry in std::fs::read_dir(root.join("fixtures/okta")).expect("fixtures/okta") {
            let path = entry.expect("a directory entry").path();
            if path.extension().is_some_and(|e| e == "json") {
                events.push(std::fs::read(&path).expect("a fixture"));
            }
        }
        for entry in std::fs::read_dir(root.join("rules/sigma/okta")).expect("the rules") {
            let path = entry.expect("a directory entry").path();
            if !path.to_string_lossy().ends_with(".tests.json") {
                continue;
            }
            let cases: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).expect("cases")).expect("JSON");
            for case in cases["cases"].as_array().into_iter().flatten() {
                for event in case["events"].as_array().into_iter().flatten() {
                    events.push(serde_json::to_vec(event).expect("JSON"));
                }
            }
        }
        let head = r#"{"uuid":"t{i}","published":"2024-05-01T10:00:00Z""#;
        let cases = [
            r#","eventType":"zone.delete""#,
            r#","event\u0054ype":"zone.delete""#,
            r#","eventType":"zone.delete","displayMessage":"Max sign in attempts exceeded""#,
            r#","eventType":"x","display\u004dessage":"Max sign in attempts exceeded""#,
            r#","eventType":"zone.delete","eventType":"x""#,
            r#","eventType":"x","eventType":"zone.delete","EventType":"y""#,
            r#","eventType":"user.session.start","securityContext":{"isProxy":true},"securityContext":{"isProxy":false}"#,
            r#","eventType":"user.session.start","securityContext":{"isProxy":false},"securityContext":{"isProxy":true}"#,
            r#","eventType":"user.session.start","securityContext.isProxy":"true""#,
            r#","eventType":"user.session.start","SecurityContext":{"IsProxy":"TRUE"}"#,
            r#","eventType":"policy.evaluate_sign_on","target":[{"displayName":"Okta Admin Console"}],"debugContext":{"debugData":{"behaviors":"New Device=POSITIVE"}}"#,
            r#","eventType":"policy.evaluate_sign_on","target":[{"displayName":"x"}],"target":[{"displayName":"Okta Admin Console"}],"debugContext":{"debugData":{"logOnlySecurityData":"{\"a\":\"POSITIVE\"}"}}"#,
            r#","eventType":"zone.delete","other":{"x":[1,2.5e3,"\u00e9\ud83d\ude00",null,true]}"#,
            // A `detail` the normalizer takes as a raw value, which the whole parse refuses.
            r#","eventType":"zone.delete","detail":{"n":1e400}"#,
            r#","eventType":"zone.delete","detail":"\ud800""#,
            r#","eventType":"zone.delete","detail":{"ok":1}"#,
        ];
        events.extend(cases.iter().enumerate().map(|(i, case)| {
            format!("{}{case}}}", head.replace("{i}", &i.to_string())).into_bytes()
        }));
        let given = events
            .iter()
            .filter(|raw| matches!(parts_of(raw), Some(Some(p)) if p.values_checked))
            .count();
        assert!(
            given * 10 >= events.len() * 8,
            "{given} of {}",
            events.len()
        );
        let whole = sigma_alerts_with(&events, false, false);
        assert!(whole.len() > 20, "{} alerts", whole.len() - 1);
        assert_eq!(sigma_alerts_with(&events, false, true), whole);
        assert_eq!(sigma_alerts_with(&events, true, true), whole);
        // The plain `eventType` fires; a `detail` the whole parse refuses hides the event
        // from Sigma rules either way.
        for (id, fires) in [
            ("t0", true),
            ("t4", false),
            ("t5", true),
            ("t13", false),
            ("t15", true),
        ] {
            assert_eq!(
                whole.iter().any(|a| a.contains(&format!("\"{id}\""))),
                fires,
                "{id}: {whole:#?}"
            );
        }
    }

    #[test]
    fn the_sigma_prefilter_on_parts_reads_is_proxy_right() {
        // `eventType: user.session.start` with `securityContext.isProxy: 'true'`: the flag in
        // every spelling, other members, other names, twice, misfits, arrays.
        let cases = [
            r#","securityContext":{"isProxy":true}"#,
            r#","securityContext":{"isProxy":"TRUE"}"#,
            r#","securityContext":{"isProxy":"True","asOrg":"x"}"#,
            r#","securityContext":{"isProxy":"\u0074rue"}"#,
            r#","securityContext":{"isProxy":false,"isProxy":true}"#,
            r#","securityContext":{"isProxy":false},"securityContext":{"isProxy":true}"#,
            r#","securityContext":[{"isProxy":true}]"#,
            r#","securityContext":{"IsProxy":true}"#,
            r#","securityContext":{"isproxy":"true","isProxy":false}"#,
            r#","securityContext":{"isProxy.x":true}"#,
            r#","SecurityContext":{"isProxy":true}"#,
            r#","securityContext.isProxy":true"#,
            r#","securityContext":{"isProxy":false},"securityContext.isProxy":"true""#,
            r#","securityContext":{"isProxy":["true"]}"#,
            r#","securityContext":{"isProxy":1}"#,
            r#","securityContext":{"isProxy":"yes"}"#,
            r#","securityContext":{"isProxy":true,"asNumber":"x"}"#,
            r#","securityContext":{"isProxy":{"a":true}}"#,
            r#","securityContext":{"isProxy":false}"#,
            r#","securityContext":{"isProxy":null}"#,
            r#","securityContext":{"isProxy":""}"#,
            r#","securityContext":{"isProxy":[null,""]}"#,
            r#","securityContext":{"isProxy":true,"isProxy":null}"#,
            r#","securityContext":null"#,
            r#","securityContext":{}"#,
            r#""#,
            r#","displayMessage":"true""#,
        ];
        let events: Vec<Vec<u8>> = cases
            .iter()
            .enumerate()
            .map(|(i, case)| {
                format!(
                    r#"{{"uuid":"p{i}","published":"2024-05-01T10:00:00Z","eventType":"user.session.start"{case}}}"#
                )
                .into_bytes()
            })
            .collect();
        for raw in &events {
            check(raw);
        }
        let on = sigma_alerts(&events, true);
        assert_eq!(on, sigma_alerts(&events, false));
        for id in ["p0", "p1", "p2", "p3", "p4", "p5"] {
            assert!(
                on.iter().any(|a| a.contains(&format!("\"{id}\""))),
                "{id} raised nothing: {on:#?}"
            );
        }
        for id in ["p18", "p19", "p20", "p22", "p23", "p24", "p25", "p26"] {
            assert!(
                !on.iter().any(|a| a.contains(&format!("\"{id}\""))),
                "{id} raised an alert: {on:#?}"
            );
        }
        // The parts know the flag where it is plain, and give no answer elsewhere.
        let known = |i: usize| {
            parts_of(&events[i])
                .flatten()
                .map(|p| p.is_proxy)
                .unwrap_or(TopPart::Other)
        };
        assert_eq!(known(0), TopPart::Flag(true));
        assert_eq!(known(1), TopPart::Flag(true));
        assert_eq!(known(18), TopPart::Flag(false));
        assert_eq!(known(19), TopPart::NoText);
        assert_eq!(known(25), TopPart::Absent);
        for i in [6, 7, 8, 9, 10, 11, 12] {
            assert_eq!(known(i), TopPart::Other, "{}", cases[i]);
        }
    }

    #[test]
    fn parts_are_given_for_the_fixture_events_and_read_the_same_facts() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
        let mut events: Vec<Vec<u8>> = std::fs::read_to_string(root.join("okta-sample.ndjson"))
            .expect("fixtures/okta-sample.ndjson")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.as_bytes().to_vec())
            .collect();
        for entry in std::fs::read_dir(root.join("okta")).expect("fixtures/okta") {
            let path = entry.expect("a directory entry").path();
            if path.extension().is_some_and(|e| e == "json") {
                events.push(std::fs::read(&path).expect("a fixture"));
            }
        }
        let given = events.iter().filter(|raw| check(raw)).count();
        assert!(
            given * 10 >= events.len() * 8,
            "{given} of {}",
            events.len()
        );
    }

    #[test]
    fn parts_read_edge_cases_like_the_reader() {
        let head =
            r#"{"uuid":"u1","published":"2024-05-01T10:00:00Z","eventType":"user.session.start""#;
        let cases = [
            // Duplicates: the last one, in the model, the reader and the Value alike.
            r#","actor":{"id":"a","id":"b","alternateId":"x@y","alternateId":null}"#,
            r#","uuid":"u2","eventType":"x","eventType":"y""#,
            r#","client":{"ipAddress":"1.2.3.4"},"client":5"#,
            r#","debugContext":{"debugData":{"dtHash":"a","dtHash":"b","factor":true}}"#,
            // Misfits after a value: the model keeps the earlier value, so no parts.
            r#","actor":{"id":"a","id":{"k":1}}"#,
            r#","eventType":{"k":1}"#,
            // Numbers where text is read, escapes, case variants, empty containers.
            r#","client":{"ipAddress":42}"#,
            r#","client":{"ipAddress":1.5e3}"#,
            r#","actor":{"displayName":"A\u0042"}"#,
            r#","debugContext":{"debugData":{"dtHash":7}}"#,
            r#","EventType":"z","displayMessage":"A","DisplayMessage":"B""#,
            r#","actor":{"id":[],"type":{},"alternateId":{"a":null}},"target":[null,3,{"id":"t"}]"#,
            r#","securityContext":{"asNumber":"3215"},"client":{"geographicalContext":{"geolocation":{"lat":"1.5","lon":2}}}"#,
            r#","securityContext":{"asNumber":"3215.0"}"#,
            r#","securityContext":{"asNumber":5000000000}"#,
            r#","client":{"geographicalContext":{"geolocation":{"lat":"north","lon":2}}}"#,
            r#","published":"yesterday""#,
            r#","published":null"#,
            r#","u\u0075id":"u3","displayMessage":"plain","legacyEventType":"l""#,
        ];
        for case in cases {
            check(format!("{head}{case}}}").as_bytes());
        }
        assert!(check(format!("{head}{}}}", cases[0]).as_bytes()));
        assert!(!check(format!("{head}{}}}", cases[4]).as_bytes()));
    }

    mod generated {
        use proptest::prelude::*;
        use proptest::strategy::Union;

        /// A value where text is read: strings plain and escaped, numbers, booleans, null
        /// and containers.
        fn text() -> BoxedStrategy<String> {
            prop::sample::select(vec![
                r#""a""#,
                r#""""#,
                r#"" ""#,
                r#""Alice@Example.com""#,
                r#""unknown""#,
                r#""SUCCESS""#,
                r#""a\u0041""#,
                r#""q\"q""#,
                "42",
                "-3",
                "1.5",
                "1e20",
                "true",
                "false",
                "null",
                "[]",
                "{}",
                "[1]",
                r#"{"k":"v"}"#,
                r#"{"k":null}"#,
            ])
            .prop_map(str::to_owned)
            .boxed()
        }

        /// A value where a number is read.
        fn number() -> BoxedStrategy<String> {
            prop::sample::select(vec![
                "48.5",
                "-1e-2",
                "3215",
                r#""3215""#,
                r#""3215.0""#,
                "1.5e3",
                r#""north""#,
                "-1",
                "5000000000",
                "null",
                "[]",
                "true",
                r#"" 42 ""#,
                r#""""#,
                "0",
                "-0",
            ])
            .prop_map(str::to_owned)
            .boxed()
        }

        /// An object of up to `max` members drawn (with repeats) from `pool`.
        fn object(
            pool: Vec<(&'static str, BoxedStrategy<String>)>,
            max: usize,
        ) -> BoxedStrategy<String> {
            let members: Vec<BoxedStrategy<String>> = pool
                .into_iter()
                .map(|(name, value)| value.prop_map(move |v| format!(r#""{name}":{v}"#)).boxed())
                .collect();
            prop::collection::vec(Union::new(members), 0..max)
                .prop_map(|members| format!("{{{}}}", members.join(",")))
                .boxed()
        }

        /// `object` or, now and then, another value.
        fn or_other(object: BoxedStrategy<String>) -> BoxedStrategy<String> {
            prop_oneof![4 => object, 1 => text()].boxed()
        }

        fn party() -> BoxedStrategy<String> {
            object(
                vec![
                    ("id", text()),
                    ("type", text()),
                    ("alternateId", text()),
                    ("displayName", text()),
                    ("ID", text()),
                    ("i\\u0064", text()),
                    ("detailEntry", text()),
                ],
                6,
            )
        }

        fn client() -> BoxedStrategy<String> {
            let location = object(
                vec![("lat", number()), ("lon", number()), ("Lat", number())],
                4,
            );
            let geo = object(
                vec![
                    ("city", text()),
                    ("state", text()),
                    ("country", text()),
                    ("postalCode", text()),
                    ("geolocation", or_other(location)),
                ],
                6,
            );
            object(
                vec![
                    ("id", text()),
                    ("ipAddress", text()),
                    ("zone", text()),
                    ("geographicalContext", or_other(geo)),
                ],
                5,
            )
        }

        fn event() -> BoxedStrategy<String> {
            let targets = prop::collection::vec(or_other(party()), 0..3)
                .prop_map(|t| format!("[{}]", t.join(",")))
                .boxed();
            let debug_data = object(
                vec![
                    ("privilegeGranted", text()),
                    ("dtHash", text()),
                    ("factor", text()),
                    ("pushOnlyResponseType", text()),
                    ("requestUri", text()),
                    ("DTHash", text()),
                    ("RequestUri", text()),
                    ("requestUri.x", text()),
                ],
                6,
            );
            let top = object(
                vec![
                    ("uuid", text()),
                    ("published", text()),
                    ("eventType", text()),
                    ("actor", or_other(party())),
                    ("target", prop_oneof![4 => targets, 1 => text()].boxed()),
                    ("client", or_other(client())),
                    (
                        "outcome",
                        or_other(object(vec![("result", text()), ("reason", text())], 3)),
                    ),
                    (
                        "securityContext",
                        or_other(object(vec![("asNumber", number()), ("asOrg", text())], 3)),
                    ),
                    (
                        "authenticationContext",
                        or_other(object(vec![("externalSessionId", text())], 2)),
                    ),
                    (
                        "debugContext",
                        or_other(object(
                            vec![
                                ("debugData", or_other(debug_data)),
                                ("DebugData", text()),
                                ("debugData.requestUri", text()),
                                ("x", text()),
                            ],
                            3,
                        )),
                    ),
                    ("displayMessage", text()),
                    ("legacyEventType", text()),
                    ("eventtype", text()),
                    ("DisplayMessage", text()),
                    ("severity", text()),
                    ("debugcontext", text()),
                    ("debugContext.debugData.requestUri", text()),
                ],
                10,
            );
            top.prop_map(|members| {
                // A valid head the rest may repeat (and so replace).
                let head = r#"{"uuid":"u1","published":"2024-05-01T10:00:00Z","eventType":"user.session.start""#;
                match &members[1..members.len() - 1] {
                    "" => format!("{head}}}"),
                    rest => format!("{head},{rest}}}"),
                }
            })
            .boxed()
        }

        /// Facts from the normalizer's parts equal the byte readers' on random events
        /// (duplicates, case variants, numbers and escapes where text is read, misfits), and
        /// parts are given for a good share of them (so the comparison is made).
        #[test]
        fn parts_give_the_facts_the_reader_gives() {
            use proptest::strategy::ValueTree;
            let mut runner = proptest::test_runner::TestRunner::deterministic();
            let strategy = event();
            let (mut given, mut refused, total) = (0, 0, 20_000);
            for _ in 0..total {
                let raw = strategy.new_tree(&mut runner).expect("an event").current();
                match super::parts_of(raw.as_bytes()) {
                    None => refused += 1,
                    Some(_) => given += usize::from(super::check(raw.as_bytes())),
                }
            }
            assert!(
                given * 4 >= total && refused * 4 <= total,
                "parts for {given}, refused {refused} of {total}"
            );
            eprintln!("parts for {given}, refused {refused} of {total}");
        }
    }

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

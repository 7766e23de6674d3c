//! Sigma rules: detection rules and correlation rules (`event_count`, `value_count`,
//! `temporal`, ...) evaluated by the `rsigma-eval` engine on the raw Okta fields of each event,
//! with the event's `published` as its time. Their alerts are the same [`Alert`] documents as
//! the built-in rules' (`rule.ruleset: sigma`), and their correlation state is part of
//! [`crate::DetectorState`].
//!
//! * [`SigmaRules`] is a parsed, checked rule set; [`SigmaRules::from_yaml`] reads one YAML text
//!   (one or more documents) without I/O. Reading files and folders is in [`SigmaRules::load`]
//!   (module `load`, the only file I/O of this crate).
//! * [`cases`] runs the test cases kept beside rule files (`oktaflow rules test DIR`).
//!
//! Field names are the LogEvent's (`eventType`, `debugContext.debugData.requestUri`); see
//! `docs/detections.md` for the lookup order (Okta name, then any case, then the ECS document).

pub mod cases;
mod event;
mod gate;
mod load;

use std::collections::{HashMap, HashSet};

use rsigma_eval::{
    CorrelationAction, CorrelationConfig, CorrelationEngine, CorrelationEventMode,
    CorrelationSnapshot, EvaluationResult, ResultBody, TimestampFallback,
};
use rsigma_parser::{Level, SigmaCollection};
use serde_json::{json, Value};

use crate::alert::{build_with, Alert, Firing, Reference, RuleExtra, RuleMeta, Severity, Trigger};
use crate::error::DetectError;
use crate::event::{EventView, Glance, Raw, TopText};

pub use load::{cases_path, find_rule_files, test_rules_dir, CASES_SUFFIX};

/// `rule.ruleset` of alerts raised by Sigma rules.
pub const SIGMA_RULESET: &str = "sigma";

/// The key of the Sigma correlation state in [`crate::DetectorState::rules`].
pub const SIGMA_STATE_KEY: &str = "sigma";

/// What an alert of one Sigma rule says about the rule.
#[derive(Debug, Clone)]
struct SigmaMeta {
    meta: RuleMeta,
    references: Vec<String>,
    severity: Severity,
    author: Option<String>,
    license: Option<String>,
}

/// One rule file (or YAML text) of a [`SigmaRules`] set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigmaSource {
    /// Where the rules came from (a file path, or the name given to
    /// [`SigmaRules::from_yaml`]).
    pub name: String,
    /// The `rule.id` of every rule it defines: the Sigma `id`, or the title when a rule has no
    /// id.
    pub rule_ids: Vec<String>,
}

/// A parsed and checked set of Sigma rules, ready to give to
/// [`crate::Detector::with_sigma`].
#[derive(Debug, Clone)]
pub struct SigmaRules {
    collection: SigmaCollection,
    sources: Vec<SigmaSource>,
    meta: HashMap<String, SigmaMeta>,
}

impl Default for SigmaRules {
    fn default() -> Self {
        SigmaRules {
            collection: SigmaCollection::new(),
            sources: Vec::new(),
            meta: HashMap::new(),
        }
    }
}

/// Sigma: a `temporal` (or `temporal_ordered`) correlation without a condition needs every
/// referenced rule to match within the timespan. The parser reads a missing condition as
/// `gte: 1` (any one rule), so that reading (also an explicit `gte: 1`, which would make the
/// correlation a plain detection) becomes `gte: <number of rules>`.
fn every_rule_for_temporal(corr: &mut rsigma_parser::CorrelationRule) {
    use rsigma_parser::{ConditionOperator, CorrelationCondition, CorrelationType};
    if !matches!(
        corr.correlation_type,
        CorrelationType::Temporal | CorrelationType::TemporalOrdered
    ) {
        return;
    }
    if let CorrelationCondition::Threshold {
        predicates,
        field: None,
        ..
    } = &mut corr.condition
    {
        if predicates.as_slice() == [(ConditionOperator::Gte, 1)] {
            predicates[0].1 = corr.rules.len() as u64;
        }
    }
}

/// The `rule.id`s of the detection rules that only feed correlations: referenced (by id or
/// name) by a correlation without `generate: true`. Sigma says they raise nothing themselves.
/// (The engine's own filter only knows references by id.)
fn correlation_only(collection: &SigmaCollection) -> HashSet<String> {
    let mut quiet = HashSet::new();
    for corr in collection.correlations.iter().filter(|c| !c.generate) {
        for reference in &corr.rules {
            for rule in &collection.rules {
                if rule.id.as_deref() == Some(reference.as_str())
                    || rule.name.as_deref() == Some(reference.as_str())
                {
                    quiet.insert(rule.id.clone().unwrap_or_else(|| rule.title.clone()));
                }
            }
        }
    }
    quiet
}

impl SigmaRules {
    /// The rules of one YAML text (one or more `---` separated documents); `name` names it in
    /// errors and in [`SigmaRules::sources`].
    pub fn from_yaml(name: &str, yaml: &str) -> Result<SigmaRules, DetectError> {
        let mut rules = SigmaRules::default();
        rules.add_yaml(name, yaml)?;
        rules.check()?;
        Ok(rules)
    }

    /// Adds the rules of one YAML text. Each detection rule is compiled here, so an error
    /// names its file; references between rules are checked by [`SigmaRules::check`].
    pub(crate) fn add_yaml(&mut self, name: &str, yaml: &str) -> Result<(), DetectError> {
        let bad = |reason: String| DetectError::Sigma {
            origin: name.to_owned(),
            reason,
        };
        let mut parsed = rsigma_parser::parse_sigma_yaml(yaml).map_err(|e| bad(e.to_string()))?;
        for corr in &mut parsed.correlations {
            every_rule_for_temporal(corr);
        }
        if let Some(first) = parsed.errors.first() {
            return Err(bad(first.clone()));
        }
        if parsed.rules.is_empty() && parsed.correlations.is_empty() && parsed.filters.is_empty() {
            return Err(bad("no Sigma rule in it".into()));
        }
        let mut ids = Vec::new();
        for rule in &parsed.rules {
            rsigma_eval::compile_rule(rule)
                .map_err(|e| bad(format!("rule `{}`: {e}", rule.title)))?;
            let id = rule.id.clone().unwrap_or_else(|| rule.title.clone());
            let meta = SigmaMeta::new(
                &id,
                &rule.title,
                rule.description.as_deref(),
                &rule.references,
                rule.level,
                rule.author.as_deref(),
                rule.license.as_deref(),
            );
            self.insert(name, id.clone(), meta)?;
            ids.push(id);
        }
        for corr in &parsed.correlations {
            let id = corr.id.clone().unwrap_or_else(|| corr.title.clone());
            let meta = SigmaMeta::new(
                &id,
                &corr.title,
                corr.description.as_deref(),
                &corr.references,
                corr.level,
                corr.author.as_deref(),
                corr.license.as_deref(),
            );
            self.insert(name, id.clone(), meta)?;
            ids.push(id);
        }
        self.collection.rules.extend(parsed.rules);
        self.collection.correlations.extend(parsed.correlations);
        self.collection.filters.extend(parsed.filters);
        self.sources.push(SigmaSource {
            name: name.to_owned(),
            rule_ids: ids,
        });
        Ok(())
    }

    fn insert(&mut self, source: &str, id: String, meta: SigmaMeta) -> Result<(), DetectError> {
        if self.meta.contains_key(&id) {
            return Err(DetectError::Sigma {
                origin: source.to_owned(),
                reason: format!("rule id `{id}` is defined twice in the rule set"),
            });
        }
        self.meta.insert(id, meta);
        Ok(())
    }

    /// Builds an engine from the whole set once: correlations must name rules that exist and
    /// must not refer to each other in a cycle.
    pub(crate) fn check(&self) -> Result<(), DetectError> {
        self.engine(CorrelationConfig::default()).map(drop)
    }

    fn engine(&self, config: CorrelationConfig) -> Result<CorrelationEngine, DetectError> {
        let mut engine = CorrelationEngine::new(config);
        engine
            .add_collection(&self.collection)
            .map_err(|e| DetectError::Sigma {
                origin: self.names(),
                reason: e.to_string(),
            })?;
        Ok(engine)
    }

    fn names(&self) -> String {
        let names: Vec<&str> = self.sources.iter().map(|s| s.name.as_str()).collect();
        if names.is_empty() {
            "(no rule files)".into()
        } else {
            names.join(", ")
        }
    }

    /// True when the set has no rule.
    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    /// How many rules (detection and correlation) the set holds.
    pub fn len(&self) -> usize {
        self.meta.len()
    }

    /// The rule files (or texts) the set was read from, in load order.
    pub fn sources(&self) -> &[SigmaSource] {
        &self.sources
    }
}

impl SigmaMeta {
    fn new(
        id: &str,
        title: &str,
        description: Option<&str>,
        references: &[String],
        level: Option<Level>,
        author: Option<&str>,
        license: Option<&str>,
    ) -> SigmaMeta {
        let severity = match level {
            Some(Level::Critical) => Severity::Critical,
            Some(Level::High) => Severity::High,
            Some(Level::Medium) | None => Severity::Medium,
            Some(Level::Low) | Some(Level::Informational) => Severity::Low,
        };
        // A rule set is loaded once per process: its texts live as long as the detectors
        // built from it, and `RuleMeta` holds `&'static str` like the built-in rules'.
        let leak = |s: &str| -> &'static str { Box::leak(s.to_owned().into_boxed_str()) };
        SigmaMeta {
            meta: RuleMeta {
                id: leak(id),
                name: leak(title),
                description: leak(description.unwrap_or("").trim()),
                reference: leak(references.first().map_or("", String::as_str)),
                ruleset: SIGMA_RULESET,
                category: "iam",
            },
            references: references.to_vec(),
            severity,
            author: author.map(str::to_owned),
            license: license.map(str::to_owned),
        }
    }
}

/// The Sigma part of a running [`crate::Detector`].
pub(crate) struct SigmaEngine {
    engine: CorrelationEngine,
    meta: HashMap<String, SigmaMeta>,
    /// Detection rules whose matches only feed correlations.
    quiet: HashSet<String>,
    /// Which events some rule can match ([`gate`]); the others skip the engine.
    gate: gate::Gate,
    /// The byte prefilter in front of the gate ([`gate::Prefilter`]), when it can say no.
    prefilter: Option<gate::Prefilter>,
    /// Whether the gate is used (off: every event goes through the engine, for differential
    /// tests and benchmarks).
    gated: bool,
    /// The engine's cap on correlation state (`max_state_entries`).
    max_state: usize,
    /// What the engine is shown of each event ([`event::Projection`]), learned from the paths it
    /// asks for.
    projection: event::Projection,
    /// Whether events are projected (off: the engine sees the whole parsed event, for
    /// differential tests and benchmarks).
    projected: bool,
}

impl SigmaEngine {
    /// An engine for `rules`; correlation state is capped at `max_keys` groups and
    /// `max_events` events per group.
    pub(crate) fn new(
        rules: &SigmaRules,
        max_keys: usize,
        max_events: usize,
    ) -> Result<SigmaEngine, DetectError> {
        let config = CorrelationConfig {
            // The time is always given: the event's `published`.
            timestamp_fields: Vec::new(),
            timestamp_fallback: TimestampFallback::Skip,
            max_state_entries: max_keys,
            max_group_entries: Some(max_events),
            suppress: None,
            // A threshold met raises one alert and starts over (a rule may say otherwise
            // with `rsigma.action: alert`).
            action_on_match: CorrelationAction::Reset,
            // Sigma: rules referenced by a correlation raise nothing themselves unless the
            // correlation says `generate: true`.
            emit_detections: false,
            correlation_event_mode: CorrelationEventMode::Refs,
            max_correlation_events: max_events,
        };
        let engine = rules.engine(config)?;
        let gate = gate::Gate::build(engine.engine().rules());
        Ok(SigmaEngine {
            prefilter: gate::Prefilter::build(&gate),
            gate,
            engine,
            meta: rules.meta.clone(),
            quiet: correlation_only(&rules.collection),
            gated: true,
            max_state: max_keys,
            projection: event::Projection::default(),
            projected: true,
        })
    }

    /// Turns the gate on (the default) or off.
    pub(crate) fn set_gated(&mut self, gated: bool) {
        self.gated = gated;
    }

    /// Turns the projection of events on (the default) or off.
    pub(crate) fn set_projected(&mut self, projected: bool) {
        self.projected = projected;
    }

    /// True when the gate can skip events (some rule set has no rule that matches every
    /// event).
    pub(crate) fn is_gated(&self) -> bool {
        self.gated && !self.gate.is_open()
    }

    /// Whether some rule may match the event whose raw JSON text is `bytes` (the gate on): the
    /// byte prefilter first (the parsed `eventType`, a few searches in the bytes); where it has
    /// no answer, the gate's scan of the JSON. `false`: the engine would return nothing.
    fn may_match(
        &mut self,
        bytes: &[u8],
        event_type: &str,
        event_type_alone: bool,
        top_texts: &[TopText<'_>; 4],
    ) -> bool {
        match self
            .prefilter
            .as_mut()
            .and_then(|p| p.check(bytes, event_type, event_type_alone, top_texts))
        {
            Some(pass) => pass,
            None => self.gate.check(bytes),
        }
    }

    /// What the engine does for an event no rule can match: nothing, except that at the state
    /// cap it evicts before an event, whatever the event (done the same).
    pub(crate) fn skip(&mut self, published_ms: i64) {
        if self.engine.correlation_rule_count() > 0 && self.engine.state_count() >= self.max_state {
            let secs = published_ms.div_euclid(1000);
            let results = self
                .engine
                .process_with_detections(&event::NoFields, Vec::new(), secs);
            debug_assert!(results.is_empty());
        }
    }

    /// Whether [`crate::Detector::observe_unread`] may skip its event: the gate is on and no
    /// rule can match it (then [`SigmaEngine::skip`] is what observing it would do).
    pub(crate) fn rules_out(&mut self, bytes: &[u8], glance: &Glance<'_>) -> bool {
        self.gated
            && !self.may_match(
                bytes,
                glance.event_type,
                glance.event_type_alone,
                &glance.top_texts,
            )
    }

    /// Evaluates every rule on `event`, appending the alerts.
    pub(crate) fn observe(&mut self, event: &EventView<'_>, out: &mut Vec<Alert>) {
        if self.gated {
            if let Raw::Bytes(bytes) = event.raw() {
                if !self.may_match(
                    bytes,
                    &event.facts().event_type,
                    event.event_type_alone(),
                    event.top_texts(),
                ) {
                    self.skip(event.facts().published_ms);
                    return;
                }
            }
        }
        let facts = event.facts();
        let secs = facts.published_ms.div_euclid(1000);
        let projected = match event.raw() {
            Raw::Bytes(bytes) if self.projected => {
                // Text whose values the caller's parse checked already: only the kept members
                // are parsed (the same projection).
                let projected = if event.values_checked() {
                    self.projection.project_checked(bytes)
                } else {
                    self.projection.project(bytes)
                };
                projected.map(|projected| (projected, bytes))
            }
            _ => None,
        };
        let results = if let Some((projected, bytes)) = projected {
            // Only the members the rules read, built as a `Value` (the same parse checks the
            // rest); a path not yet covered is answered from the whole event, and learned.
            let sigma_event = event::SigmaEvent::projected(
                &projected,
                &self.projection,
                bytes,
                event.ecs(),
                &facts.uuid,
            );
            let results = self.engine.process_event_at(&sigma_event, secs);
            for path in sigma_event.missed() {
                self.projection.learn(&path);
            }
            results
        } else {
            let parsed;
            let raw: &Value = match event.raw() {
                Raw::Value(v) => v,
                Raw::Bytes(bytes) => match serde_json::from_slice::<Value>(bytes) {
                    Ok(v) => {
                        parsed = v;
                        &parsed
                    }
                    // EventView::from_bytes already read these bytes as JSON.
                    Err(_) => return,
                },
            };
            let unwrapped;
            let log_event: &Value = match event::log_event_of(raw) {
                event::Inner::Borrowed(v) => v,
                event::Inner::Owned(v) => {
                    unwrapped = v;
                    &unwrapped
                }
            };
            let sigma_event = event::SigmaEvent::new(log_event, event.ecs(), &facts.uuid);
            self.engine.process_event_at(&sigma_event, secs)
        };
        for result in results {
            if result.is_detection() {
                let key = result
                    .header
                    .rule_id
                    .as_ref()
                    .unwrap_or(&result.header.rule_title);
                if self.quiet.contains(key) {
                    continue;
                }
            }
            out.push(self.alert(event, result));
        }
    }

    fn alert(&self, event: &EventView<'_>, result: EvaluationResult) -> Alert {
        let facts = event.facts();
        let header = result.header;
        let key = header.rule_id.clone().unwrap_or(header.rule_title.clone());
        let fallback;
        let meta = match self.meta.get(&key) {
            Some(m) => m,
            None => {
                fallback = SigmaMeta::new(
                    &key,
                    &header.rule_title,
                    None,
                    &[],
                    header.level,
                    None,
                    None,
                );
                &fallback
            }
        };
        let actor = facts
            .actor_alternate_id
            .as_deref()
            .unwrap_or("unknown actor");
        let this = Trigger {
            ts: facts.published_ms,
            id: facts.uuid.clone().into_owned(),
        };
        let (group, window, triggers, message, details) = match result.body {
            ResultBody::Detection(d) => (
                String::new(),
                this.id.clone(),
                vec![this],
                format!(
                    "Sigma rule \"{}\": {} by {actor}",
                    meta.meta.name, facts.event_type
                ),
                {
                    // The engine lists them in hash-map order: sorted, the document is the
                    // same in every run.
                    let mut selections = d.matched_selections;
                    selections.sort();
                    json!({ "matched_selections": selections })
                },
            ),
            ResultBody::Correlation(c) => {
                let group: Vec<String> = c
                    .group_key
                    .iter()
                    .map(|(field, value)| format!("{field}={value}"))
                    .collect();
                let group = group.join(",");
                let mut triggers: Vec<Trigger> = c
                    .event_refs
                    .unwrap_or_default()
                    .into_iter()
                    .map(|r| Trigger {
                        ts: r.timestamp.saturating_mul(1000),
                        id: r.id.unwrap_or_default(),
                    })
                    .collect();
                // The completing event keeps its exact time (the engine counts in seconds).
                match triggers.last_mut() {
                    Some(last) if last.id == this.id => last.ts = this.ts,
                    _ => triggers.push(this),
                }
                let window = format!(
                    "{}..{}#{}",
                    triggers.first().map_or("", |t| t.id.as_str()),
                    triggers.last().map_or("", |t| t.id.as_str()),
                    triggers.len()
                );
                let corr_type = serde_json::to_value(c.correlation_type).unwrap_or(Value::Null);
                let message = format!(
                    "Sigma correlation \"{}\": {} {} within {}s{}",
                    meta.meta.name,
                    corr_type.as_str().unwrap_or("correlation"),
                    c.aggregated_value,
                    c.timespan_secs,
                    if group.is_empty() {
                        String::new()
                    } else {
                        format!(" for {group}")
                    }
                );
                let details = json!({
                    "correlation_type": corr_type,
                    "aggregated_value": c.aggregated_value,
                    "timespan_secs": c.timespan_secs,
                    "group_by": c.group_key.iter().map(|(f, v)| json!({"field": f, "value": v})).collect::<Vec<_>>(),
                });
                (group, window, triggers, message, details)
            }
        };
        let extra = RuleExtra {
            reference: match meta.references.len() {
                0 => Reference::Absent,
                1 => Reference::Meta,
                _ => Reference::Many(&meta.references),
            },
            author: meta.author.as_deref(),
            license: meta.license.as_deref(),
            tags: &header.tags,
        };
        build_with(
            Firing {
                rule: meta.meta,
                severity: meta.severity,
                group,
                window,
                event,
                triggers,
                message,
                details,
            },
            &extra,
        )
    }

    /// The correlation state, in a canonical order (the engine keeps hash maps): the same
    /// state always serializes the same way.
    pub(crate) fn state(&self) -> Option<Value> {
        let mut value = serde_json::to_value(self.engine.export_state()).ok()?;
        if let Value::Object(top) = &mut value {
            for part in top.values_mut() {
                if let Value::Object(per_rule) = part {
                    for groups in per_rule.values_mut() {
                        if let Value::Array(items) = groups {
                            items.sort_by_cached_key(|v| v.to_string());
                        }
                    }
                }
            }
        }
        Some(value)
    }

    /// Goes on from saved correlation state; state of correlations no longer in the set is
    /// dropped, unreadable state (another format) starts empty.
    pub(crate) fn restore(&mut self, value: Option<Value>) {
        if let Some(snapshot) =
            value.and_then(|v| serde_json::from_value::<CorrelationSnapshot>(v).ok())
        {
            self.engine.import_state(snapshot);
        }
    }

    /// Correlation groups held.
    pub(crate) fn keys(&self) -> usize {
        self.engine.state_count()
    }
}

//! The detector: the enabled rules, fed every event of one source in `published` order, and the
//! state they keep, saved with the checkpoint and restored from it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::alert::Alert;
use crate::config::RulesConfig;
use crate::error::DetectError;
use crate::event::{EventParts, EventView};
use crate::rules::geo::GeoImprobable;
use crate::rules::session::StolenSession;
use crate::rules::single::{AdminRoleAssigned, ApiKey};
use crate::rules::spray::PasswordSpraying;
use crate::rules::threshold::Threshold;
use crate::rules::{
    BRUTE_FORCE_LOGINS, GEO_IMPROBABLE_ACCESS, MFA_PUSH_BOMBING, PASSWORD_SPRAYING, STOLEN_SESSION,
};
use crate::sigma::{SigmaEngine, SigmaRules, SIGMA_STATE_KEY};
use crate::state::EXPIRE_EVERY_MS;

/// The version of [`DetectorState`] this build writes. Version 2 writes each rule's entries
/// with short member names and events as `[ts, "uuid"]` pairs, and saves
/// [`DetectorState::latest`]; version 1 states (long names, `{"ts", "id"}` objects) are still
/// read. A newer version is refused.
pub const STATE_VERSION: u32 = 2;

/// Everything the rules remember (windows, counters, last known locations, sessions), to be
/// saved atomically with the pipeline checkpoint that covers the same events.
///
/// Each stateful rule's state is kept under its rule id. On [`Detector::restore`], the state of
/// a rule that is no longer built in, or is disabled, is dropped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DetectorState {
    /// [`STATE_VERSION`] of the build that wrote it.
    pub version: u32,
    /// Rule id → that rule's state.
    #[serde(default)]
    pub rules: BTreeMap<String, Value>,
    /// The latest `published` (ms) observed: keys are expired relative to it, never to a
    /// clock. Absent before any event, and in version 1 states.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<i64>,
}

/// What changed in a [`Detector`]'s state since its changes were last taken
/// ([`Detector::take_changes`]): the entries of the keys each rule created, touched, expired
/// or evicted (`None`: removed), the Sigma correlations' whole state, and the latest
/// `published`. Applied in order to the [`DetectorState`] taken before them
/// ([`DetectorState::apply`]) it gives the state after them: the pipeline journals one per
/// committed batch instead of rewriting every key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StateChanges {
    /// The latest `published` (ms) observed, when any was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<i64>,
    /// Rule id → changed key → its entry now (`None`: the key was removed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rules: BTreeMap<String, BTreeMap<String, Option<Value>>>,
    /// The Sigma correlations' whole state, when Sigma rules run (`Null`: empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigma: Option<Value>,
}

impl StateChanges {
    /// Changed keys, over all rules (the Sigma state counts as one).
    pub fn len(&self) -> usize {
        self.rules.values().map(BTreeMap::len).sum::<usize>() + usize::from(self.sigma.is_some())
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl DetectorState {
    /// This state with `changes` (taken after it) applied: the state after them.
    pub fn apply(&mut self, changes: StateChanges) {
        if changes.latest.is_some() {
            self.latest = changes.latest;
        }
        for (rule, keys) in changes.rules {
            let entry = self
                .rules
                .entry(rule)
                .or_insert_with(|| Value::Object(serde_json::Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(serde_json::Map::new());
            }
            if let Value::Object(map) = entry {
                for (key, value) in keys {
                    match value {
                        Some(value) => {
                            map.insert(key, value);
                        }
                        None => {
                            map.remove(&key);
                        }
                    }
                }
            }
        }
        match changes.sigma {
            Some(Value::Null) => {
                self.rules.remove(SIGMA_STATE_KEY);
            }
            Some(value) => {
                self.rules.insert(SIGMA_STATE_KEY.to_owned(), value);
            }
            None => {}
        }
    }
}

/// Counters for metrics: keys held and keys evicted per stateful rule, events and alerts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DetectorStats {
    /// Events observed since this detector was built or restored.
    pub events: u64,
    /// Alerts raised since this detector was built or restored.
    pub alerts: u64,
    /// Rule id → keys (accounts, IPs, sessions) currently held.
    pub keys: BTreeMap<&'static str, usize>,
    /// Rule id → keys evicted by the cap since this detector was built or restored.
    pub evicted: BTreeMap<&'static str, u64>,
    /// Rule id → keys expired (not seen for longer than the rule can use them, relative to the
    /// latest `published`) since this detector was built or restored.
    pub expired: BTreeMap<&'static str, u64>,
}

/// Evaluates the built-in rules on a stream of events.
///
/// Feed it the events of one source in `published` order (the order Okta returns them). It
/// does no I/O and reads no clock: every time it uses is an event's `published`, so the same
/// events after the same state always give the same alerts, with the same ids.
pub struct Detector {
    admin_role: Option<AdminRoleAssigned>,
    api_key_created: Option<ApiKey>,
    api_key_revoked: Option<ApiKey>,
    brute_force: Option<Threshold>,
    geo: Option<GeoImprobable>,
    spraying: Option<PasswordSpraying>,
    push_bombing: Option<Threshold>,
    session: Option<StolenSession>,
    sigma: Option<SigmaEngine>,
    events: u64,
    alerts: u64,
    /// The latest `published` observed (`i64::MIN` before any).
    latest: i64,
    /// Keys expired per rule, in [`BUILTIN_STATEFUL`] order.
    expired: [u64; 5],
    /// What restoring dropped, and why.
    restore_notes: Vec<String>,
    /// Whether [`Detector::observe_unread`] may skip events (on unless a test turns it off).
    skip_unread: bool,
}

/// The stateful built-in rules, in the order of `Detector::expired`.
const BUILTIN_STATEFUL: [&str; 5] = [
    BRUTE_FORCE_LOGINS.id,
    MFA_PUSH_BOMBING.id,
    PASSWORD_SPRAYING.id,
    GEO_IMPROBABLE_ACCESS.id,
    STOLEN_SESSION.id,
];

impl Detector {
    /// A detector with empty state, running the built-in rules of `config`. A configuration
    /// that names Sigma rule files (`rules`) is refused ([`DetectError::SigmaNotLoaded`]): use
    /// [`Detector::load`] or [`Detector::with_sigma`].
    pub fn new(config: RulesConfig) -> Result<Detector, DetectError> {
        if !config.rules.is_empty() {
            return Err(DetectError::SigmaNotLoaded);
        }
        Detector::with_sigma(config, &SigmaRules::default())
    }

    /// A detector with empty state that reads the Sigma rule files and folders of
    /// `config.rules` (file I/O) and runs them beside the built-in rules.
    pub fn load(config: RulesConfig) -> Result<Detector, DetectError> {
        let sigma = SigmaRules::load(&config.rules)?;
        Detector::with_sigma(config, &sigma)
    }

    /// A detector with empty state running the built-in rules of `config` and the Sigma rules
    /// `sigma` (`config.rules` is not read: `sigma` is the loaded set).
    pub fn with_sigma(config: RulesConfig, sigma: &SigmaRules) -> Result<Detector, DetectError> {
        config.validate()?;
        let max_keys = config.max_keys_per_rule;
        let max_events = config.max_events_per_key;
        Ok(Detector {
            admin_role: config
                .admin_role_assigned
                .enabled
                .then(|| AdminRoleAssigned::new(&config.admin_role_assigned)),
            api_key_created: config.api_key_created.enabled.then(ApiKey::created),
            api_key_revoked: config.api_key_revoked.enabled.then(ApiKey::revoked),
            brute_force: config
                .brute_force_logins
                .enabled
                .then(|| Threshold::brute_force(&config.brute_force_logins, max_keys, max_events)),
            geo: config
                .geo_improbable_access
                .enabled
                .then(|| GeoImprobable::new(&config.geo_improbable_access, max_keys)),
            spraying: config
                .password_spraying
                .enabled
                .then(|| PasswordSpraying::new(&config.password_spraying, max_keys, max_events)),
            push_bombing: config
                .mfa_push_bombing
                .enabled
                .then(|| Threshold::push_bombing(&config.mfa_push_bombing, max_keys, max_events)),
            session: config
                .stolen_session
                .enabled
                .then(|| StolenSession::new(&config.stolen_session, max_keys)),
            sigma: if sigma.is_empty() {
                None
            } else {
                Some(SigmaEngine::new(sigma, max_keys, max_events)?)
            },
            events: 0,
            alerts: 0,
            latest: i64::MIN,
            expired: [0; 5],
            restore_notes: Vec::new(),
            skip_unread: true,
        })
    }

    /// A detector that goes on from saved `state`. The state of rules that are gone or
    /// disabled is dropped; a rule whose saved state no longer reads starts empty.
    pub fn restore(config: RulesConfig, state: DetectorState) -> Result<Detector, DetectError> {
        if !config.rules.is_empty() {
            return Err(DetectError::SigmaNotLoaded);
        }
        Detector::restore_with_sigma(config, &SigmaRules::default(), state)
    }

    /// Like [`Detector::restore`], with the Sigma rules `sigma`. The correlation state of a
    /// Sigma correlation no longer in `sigma` is dropped.
    pub fn restore_with_sigma(
        config: RulesConfig,
        sigma: &SigmaRules,
        state: DetectorState,
    ) -> Result<Detector, DetectError> {
        if state.version > STATE_VERSION {
            return Err(DetectError::StateVersion {
                found: state.version,
                supported: STATE_VERSION,
            });
        }
        let mut detector = Detector::with_sigma(config, sigma)?;
        detector.latest = state.latest.unwrap_or(i64::MIN);
        let mut rules = state.rules;
        let mut notes = Vec::new();
        let mut take = |id: &str| rules.remove(id);
        if let Some(rule) = &mut detector.brute_force {
            rule.keys = decode(
                BRUTE_FORCE_LOGINS.id,
                take(BRUTE_FORCE_LOGINS.id),
                &mut notes,
            );
        }
        if let Some(rule) = &mut detector.push_bombing {
            rule.keys = decode(MFA_PUSH_BOMBING.id, take(MFA_PUSH_BOMBING.id), &mut notes);
        }
        if let Some(rule) = &mut detector.spraying {
            rule.keys = decode(PASSWORD_SPRAYING.id, take(PASSWORD_SPRAYING.id), &mut notes);
        }
        if let Some(rule) = &mut detector.geo {
            rule.keys = decode(
                GEO_IMPROBABLE_ACCESS.id,
                take(GEO_IMPROBABLE_ACCESS.id),
                &mut notes,
            );
        }
        if let Some(rule) = &mut detector.session {
            rule.keys = decode(STOLEN_SESSION.id, take(STOLEN_SESSION.id), &mut notes);
        }
        if let Some(engine) = &mut detector.sigma {
            engine.restore(take(SIGMA_STATE_KEY));
        }
        // Whatever is left in `rules` belonged to removed or disabled rules: dropped.
        for id in rules.keys() {
            notes.push(format!(
                "the saved state of `{id}` was dropped: the rule is no longer enabled"
            ));
        }
        detector.restore_notes = notes;
        Ok(detector)
    }

    /// What [`Detector::restore`] dropped from the saved state, and why (one sentence each;
    /// empty when everything was restored). For the caller's log.
    pub fn restore_notes(&self) -> &[String] {
        &self.restore_notes
    }

    /// Drops the keys every stateful rule is done with: not seen for longer than the rule can
    /// use them (its window or quiet period, the session TTL, the time to cross half the earth),
    /// relative to the latest `published`. For events in `published` order, an expired key
    /// behaves exactly as one never seen.
    ///
    /// Each map visits only the keys whose scheduled minute came (see `state.rs`): the keys
    /// removed are those last seen before `latest − horizon`, as if every key were looked at.
    fn expire(&mut self) {
        let latest = self.latest;
        if let Some(r) = &mut self.brute_force {
            self.expired[0] += r.keys.expire(latest, r.horizon_ms());
        }
        if let Some(r) = &mut self.push_bombing {
            self.expired[1] += r.keys.expire(latest, r.horizon_ms());
        }
        if let Some(r) = &mut self.spraying {
            self.expired[2] += r.keys.expire(latest, r.horizon_ms());
        }
        if let Some(r) = &mut self.geo {
            self.expired[3] += r.keys.expire(latest, r.horizon_ms());
        }
        if let Some(r) = &mut self.session {
            self.expired[4] += r.keys.expire(latest, r.horizon_ms());
        }
    }

    /// Turns the Sigma pre-check on (the default) or off. The pre-check skips the Sigma engine
    /// for events no loaded Sigma rule can match (see `docs/detections.md`, Speed); the alerts
    /// are the same either way. Off is for differential tests and benchmarks.
    pub fn set_sigma_gate(&mut self, on: bool) {
        if let Some(engine) = &mut self.sigma {
            engine.set_gated(on);
        }
    }

    /// Turns the projection of events for the Sigma engine on (the default) or off: the engine
    /// is shown only the members of each event its rules read, learned from its lookups (see
    /// `docs/detections.md`, Speed); the alerts are the same either way. Off is for
    /// differential tests and benchmarks.
    pub fn set_sigma_projection(&mut self, on: bool) {
        if let Some(engine) = &mut self.sigma {
            engine.set_projected(on);
        }
    }

    /// True when Sigma rules are loaded and the pre-check can skip events for them (false
    /// when one rule could match any event, e.g. a keyword rule).
    pub fn sigma_gated(&self) -> bool {
        self.sigma.as_ref().is_some_and(SigmaEngine::is_gated)
    }

    /// Evaluates every enabled rule on `event`; returns the alerts it raised (usually none).
    pub fn observe(&mut self, event: &EventView<'_>) -> Vec<Alert> {
        let mut out = Vec::new();
        self.observe_into(event, &mut out);
        out
    }

    /// Counts an event published at `ts` and moves the latest `published` on.
    fn arrive(&mut self, ts: i64) {
        self.events += 1;
        if ts > self.latest {
            // Expiry runs when the latest `published` enters a new minute: a function of the
            // events alone, so a restored detector expires exactly as the one that saved.
            let due = self.latest == i64::MIN
                || ts.div_euclid(EXPIRE_EVERY_MS) != self.latest.div_euclid(EXPIRE_EVERY_MS);
            self.latest = ts;
            if due {
                self.expire();
            }
        }
    }

    /// Whether some built-in rule reads events of `event_type` (each rule ignores every other
    /// type).
    fn builtin_reads(&self, event_type: &str) -> bool {
        self.admin_role
            .as_ref()
            .is_some_and(|r| r.reads(event_type))
            || self
                .api_key_created
                .as_ref()
                .is_some_and(|r| r.reads(event_type))
            || self
                .api_key_revoked
                .as_ref()
                .is_some_and(|r| r.reads(event_type))
            || self
                .brute_force
                .as_ref()
                .is_some_and(|r| r.reads(event_type))
            || self.geo.as_ref().is_some_and(|r| r.reads(event_type))
            || self.spraying.as_ref().is_some_and(|r| r.reads(event_type))
            || self
                .push_bombing
                .as_ref()
                .is_some_and(|r| r.reads(event_type))
            || self.session.as_ref().is_some_and(|r| r.reads(event_type))
    }

    /// Observes the event whose raw JSON text is `raw`, as parsed by the caller (`parts`, see
    /// [`EventView::from_parts`]), without reading the rest of it when no rule can use it: no
    /// built-in rule reads its `eventType` and the Sigma prefilter rules out every Sigma rule.
    /// Then the event is counted and its time moves the detector on exactly as
    /// [`Detector::observe_into`] would (expiry, the Sigma state cap), and `true` is returned.
    /// `false`: nothing was done; the caller reads the event and calls
    /// [`Detector::observe_into`]. Most events of an org are of types no rule reads (SSO
    /// policy evaluations, MFA verifications, OAuth grants, sign-outs), so they skip building
    /// the event's facts.
    pub fn observe_unread(&mut self, raw: &[u8], parts: &EventParts) -> bool {
        if !self.skip_unread {
            return false;
        }
        let Some(glance) = crate::event::glance(raw, parts) else {
            return false;
        };
        if self.builtin_reads(glance.event_type) {
            return false;
        }
        if let Some(engine) = &mut self.sigma {
            if !engine.rules_out(raw, &glance) {
                return false;
            }
        }
        // What observing it would do, in the same order.
        self.arrive(glance.published_ms);
        if let Some(engine) = &mut self.sigma {
            engine.skip(glance.published_ms);
        }
        true
    }

    /// Turns [`Detector::observe_unread`]'s shortcut on (the default) or off (it then always
    /// returns `false`: for differential tests and benchmarks).
    pub fn set_skip_unread(&mut self, on: bool) {
        self.skip_unread = on;
    }

    /// Like [`Detector::observe`], appending to `out` (no allocation when nothing fires).
    pub fn observe_into(&mut self, event: &EventView<'_>, out: &mut Vec<Alert>) {
        let before = out.len();
        self.arrive(event.facts().published_ms);
        if let Some(rule) = &self.admin_role {
            rule.observe(event, out);
        }
        if let Some(rule) = &self.api_key_created {
            rule.observe(event, out);
        }
        if let Some(rule) = &self.api_key_revoked {
            rule.observe(event, out);
        }
        if let Some(rule) = &mut self.brute_force {
            rule.observe(event, out);
        }
        if let Some(rule) = &mut self.geo {
            rule.observe(event, out);
        }
        if let Some(rule) = &mut self.spraying {
            rule.observe(event, out);
        }
        if let Some(rule) = &mut self.push_bombing {
            rule.observe(event, out);
        }
        if let Some(rule) = &mut self.session {
            rule.observe(event, out);
        }
        if let Some(engine) = &mut self.sigma {
            engine.observe(event, out);
        }
        self.alerts += (out.len() - before) as u64;
    }

    /// The state to save with the checkpoint that covers every event observed so far.
    pub fn state(&self) -> DetectorState {
        let mut rules = BTreeMap::new();
        let mut put = |id: &str, value: Result<Value, serde_json::Error>| {
            // Serializing maps of strings and numbers cannot fail; an error would only drop
            // that rule's state, never the checkpoint.
            if let Ok(value) = value {
                rules.insert(id.to_owned(), value);
            }
        };
        if let Some(rule) = &self.brute_force {
            put(BRUTE_FORCE_LOGINS.id, serde_json::to_value(&rule.keys));
        }
        if let Some(rule) = &self.push_bombing {
            put(MFA_PUSH_BOMBING.id, serde_json::to_value(&rule.keys));
        }
        if let Some(rule) = &self.spraying {
            put(PASSWORD_SPRAYING.id, serde_json::to_value(&rule.keys));
        }
        if let Some(rule) = &self.geo {
            put(GEO_IMPROBABLE_ACCESS.id, serde_json::to_value(&rule.keys));
        }
        if let Some(rule) = &self.session {
            put(STOLEN_SESSION.id, serde_json::to_value(&rule.keys));
        }
        if let Some(value) = self.sigma.as_ref().and_then(SigmaEngine::state) {
            rules.insert(SIGMA_STATE_KEY.to_owned(), value);
        }
        DetectorState {
            version: STATE_VERSION,
            rules,
            latest: (self.latest != i64::MIN).then_some(self.latest),
        }
    }

    /// The changes to the state since the detector was built or restored, or since the last
    /// call (or [`Detector::clear_changes`], [`Detector::write_changes`]); the list of changes
    /// starts over. What [`Detector::write_changes`] writes, read back (the pipeline journals
    /// with that one: no JSON tree is built).
    pub fn take_changes(&mut self) -> StateChanges {
        let mut line = Vec::new();
        // Written to memory from maps of strings and numbers: neither writing nor reading it
        // back fails.
        match self.write_changes(&mut line) {
            Ok(()) => serde_json::from_slice(&line).unwrap_or_default(),
            Err(_) => StateChanges::default(),
        }
    }

    /// Appends the changes to the state (see [`Detector::take_changes`]) to `out` as one JSON
    /// object that reads back as [`StateChanges`] (without a newline), serialized straight from
    /// the rules' maps; the list of changes starts over. On an error nothing is appended and
    /// the changes are kept (the next call writes them).
    pub fn write_changes(&mut self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        let start = out.len();
        match self.serialize_changes(out) {
            Ok(()) => {
                self.clear_changes();
                Ok(())
            }
            Err(error) => {
                out.truncate(start);
                Err(error)
            }
        }
    }

    /// The JSON of [`StateChanges`] (the same members, each map in key order), written from the
    /// rules' maps by hand ([`crate::json_out`]: the text serde writes, at a fraction of the
    /// cost; a journal line holds every key a batch changed); leaves the list of changes as it
    /// is. Fails only when the Sigma state does not serialize (nothing is appended then).
    fn serialize_changes(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        use crate::json_out::{write_i64, write_map, write_name};
        use crate::state::Changes;
        /// One rule's changed keys.
        enum RuleChanges<'a> {
            Window(Changes<'a, crate::rules::threshold::Window>),
            Spray(Changes<'a, crate::rules::spray::Spray>),
            Geo(Changes<'a, crate::rules::geo::LastLogin>),
            Session(Changes<'a, crate::rules::session::Origin>),
        }
        impl RuleChanges<'_> {
            fn write_json(&self, out: &mut Vec<u8>) {
                match self {
                    RuleChanges::Window(c) => c.write_json(out),
                    RuleChanges::Spray(c) => c.write_json(out),
                    RuleChanges::Geo(c) => c.write_json(out),
                    RuleChanges::Session(c) => c.write_json(out),
                }
            }
        }
        // Rule ids in order, as the `BTreeMap` of `StateChanges`; rules without changes left
        // out.
        let mut rules: BTreeMap<&str, RuleChanges<'_>> = BTreeMap::new();
        if let Some(c) = self.brute_force.as_ref().and_then(|r| r.keys.changes()) {
            rules.insert(BRUTE_FORCE_LOGINS.id, RuleChanges::Window(c));
        }
        if let Some(c) = self.push_bombing.as_ref().and_then(|r| r.keys.changes()) {
            rules.insert(MFA_PUSH_BOMBING.id, RuleChanges::Window(c));
        }
        if let Some(c) = self.spraying.as_ref().and_then(|r| r.keys.changes()) {
            rules.insert(PASSWORD_SPRAYING.id, RuleChanges::Spray(c));
        }
        if let Some(c) = self.geo.as_ref().and_then(|r| r.keys.changes()) {
            rules.insert(GEO_IMPROBABLE_ACCESS.id, RuleChanges::Geo(c));
        }
        if let Some(c) = self.session.as_ref().and_then(|r| r.keys.changes()) {
            rules.insert(STOLEN_SESSION.id, RuleChanges::Session(c));
        }
        // The Sigma part first: it is the only one that can fail.
        let sigma = match &self.sigma {
            Some(engine) => Some(serde_json::to_vec(&engine.state().unwrap_or(Value::Null))?),
            None => None,
        };
        let mut first = true;
        let mut member = |out: &mut Vec<u8>, name: &str| {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            write_name(out, name);
        };
        out.push(b'{');
        if self.latest != i64::MIN {
            member(out, "latest");
            write_i64(out, self.latest);
        }
        if !rules.is_empty() {
            member(out, "rules");
            write_map(out, rules.iter().map(|(id, c)| (*id, c)), |out, c| {
                c.write_json(out)
            });
        }
        if let Some(sigma) = sigma {
            member(out, "sigma");
            out.extend_from_slice(&sigma);
        }
        out.push(b'}');
        Ok(())
    }

    /// Forgets the changes made so far (after [`Detector::write_state`] saved all of it).
    pub fn clear_changes(&mut self) {
        if let Some(rule) = &mut self.brute_force {
            rule.keys.clear_changes();
        }
        if let Some(rule) = &mut self.push_bombing {
            rule.keys.clear_changes();
        }
        if let Some(rule) = &mut self.spraying {
            rule.keys.clear_changes();
        }
        if let Some(rule) = &mut self.geo {
            rule.keys.clear_changes();
        }
        if let Some(rule) = &mut self.session {
            rule.keys.clear_changes();
        }
    }

    /// Writes [`Detector::state`] as JSON to `out` straight from the rules' maps (no
    /// intermediate JSON tree: a state of millions of keys is written with little memory).
    /// It reads back as a [`DetectorState`].
    pub fn write_state(&self, out: &mut impl std::io::Write) -> Result<(), serde_json::Error> {
        use serde::ser::{SerializeMap, Serializer as _};
        /// One rule's entries, serialized in place.
        enum RuleKeys<'a> {
            Window(&'a crate::state::Keyed<crate::rules::threshold::Window>),
            Spray(&'a crate::state::Keyed<crate::rules::spray::Spray>),
            Geo(&'a crate::state::Keyed<crate::rules::geo::LastLogin>),
            Session(&'a crate::state::Keyed<crate::rules::session::Origin>),
            Sigma(Value),
        }
        impl Serialize for RuleKeys<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    RuleKeys::Window(k) => k.serialize(s),
                    RuleKeys::Spray(k) => k.serialize(s),
                    RuleKeys::Geo(k) => k.serialize(s),
                    RuleKeys::Session(k) => k.serialize(s),
                    RuleKeys::Sigma(v) => v.serialize(s),
                }
            }
        }
        let mut rules: BTreeMap<&str, RuleKeys<'_>> = BTreeMap::new();
        if let Some(rule) = &self.brute_force {
            rules.insert(BRUTE_FORCE_LOGINS.id, RuleKeys::Window(&rule.keys));
        }
        if let Some(rule) = &self.push_bombing {
            rules.insert(MFA_PUSH_BOMBING.id, RuleKeys::Window(&rule.keys));
        }
        if let Some(rule) = &self.spraying {
            rules.insert(PASSWORD_SPRAYING.id, RuleKeys::Spray(&rule.keys));
        }
        if let Some(rule) = &self.geo {
            rules.insert(GEO_IMPROBABLE_ACCESS.id, RuleKeys::Geo(&rule.keys));
        }
        if let Some(rule) = &self.session {
            rules.insert(STOLEN_SESSION.id, RuleKeys::Session(&rule.keys));
        }
        if let Some(value) = self.sigma.as_ref().and_then(SigmaEngine::state) {
            rules.insert(SIGMA_STATE_KEY, RuleKeys::Sigma(value));
        }
        let mut ser = serde_json::Serializer::new(out);
        let mut map = (&mut ser).serialize_map(None)?;
        map.serialize_entry("version", &STATE_VERSION)?;
        map.serialize_entry("rules", &rules)?;
        if self.latest != i64::MIN {
            map.serialize_entry("latest", &self.latest)?;
        }
        map.end()
    }

    /// Counters for metrics (keys held and evicted per stateful rule).
    pub fn stats(&self) -> DetectorStats {
        let mut stats = DetectorStats {
            events: self.events,
            alerts: self.alerts,
            ..DetectorStats::default()
        };
        let mut add = |id: &'static str, keys: usize, evicted: u64| {
            stats.keys.insert(id, keys);
            stats.evicted.insert(id, evicted);
        };
        if let Some(r) = &self.brute_force {
            add(r.meta().id, r.keys.len(), r.evicted);
        }
        if let Some(r) = &self.push_bombing {
            add(r.meta().id, r.keys.len(), r.evicted);
        }
        if let Some(r) = &self.spraying {
            add(PASSWORD_SPRAYING.id, r.keys.len(), r.evicted);
        }
        if let Some(r) = &self.geo {
            add(GEO_IMPROBABLE_ACCESS.id, r.keys.len(), r.evicted);
        }
        if let Some(r) = &self.session {
            add(STOLEN_SESSION.id, r.keys.len(), r.evicted);
        }
        if let Some(engine) = &self.sigma {
            // Evictions inside the Sigma engine are not counted by it.
            add(SIGMA_STATE_KEY, engine.keys(), 0);
        }
        let enabled = [
            self.brute_force.is_some(),
            self.push_bombing.is_some(),
            self.spraying.is_some(),
            self.geo.is_some(),
            self.session.is_some(),
        ];
        for (i, id) in BUILTIN_STATEFUL.iter().enumerate() {
            if enabled[i] {
                stats.expired.insert(id, self.expired[i]);
            }
        }
        stats
    }
}

/// One rule's saved state; absent → empty; unreadable → empty, with a note saying why.
fn decode<T: serde::de::DeserializeOwned + Default>(
    id: &str,
    value: Option<Value>,
    notes: &mut Vec<String>,
) -> T {
    let Some(value) = value else {
        return T::default();
    };
    match serde_json::from_value(value) {
        Ok(state) => state,
        Err(e) => {
            notes.push(format!(
                "the saved state of `{id}` was dropped (the rule starts empty): it does not read: {e}"
            ));
            T::default()
        }
    }
}

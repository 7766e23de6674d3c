//! The detector: the enabled rules, fed every event of one source in `published` order, and the
//! state they keep, saved with the checkpoint and restored from it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::alert::Alert;
use crate::config::RulesConfig;
use crate::error::DetectError;
use crate::event::EventView;
use crate::rules::geo::GeoImprobable;
use crate::rules::session::StolenSession;
use crate::rules::single::{AdminRoleAssigned, ApiKey};
use crate::rules::spray::PasswordSpraying;
use crate::rules::threshold::Threshold;
use crate::rules::{
    BRUTE_FORCE_LOGINS, GEO_IMPROBABLE_ACCESS, MFA_PUSH_BOMBING, PASSWORD_SPRAYING, STOLEN_SESSION,
};
use crate::sigma::{SigmaEngine, SigmaRules, SIGMA_STATE_KEY};

/// The version of [`DetectorState`] this build writes and reads.
pub const STATE_VERSION: u32 = 1;

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
}

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
        let mut rules = state.rules;
        let mut take = |id: &str| rules.remove(id);
        if let Some(rule) = &mut detector.brute_force {
            rule.keys = decode(take(BRUTE_FORCE_LOGINS.id));
        }
        if let Some(rule) = &mut detector.push_bombing {
            rule.keys = decode(take(MFA_PUSH_BOMBING.id));
        }
        if let Some(rule) = &mut detector.spraying {
            rule.keys = decode(take(PASSWORD_SPRAYING.id));
        }
        if let Some(rule) = &mut detector.geo {
            rule.keys = decode(take(GEO_IMPROBABLE_ACCESS.id));
        }
        if let Some(rule) = &mut detector.session {
            rule.keys = decode(take(STOLEN_SESSION.id));
        }
        if let Some(engine) = &mut detector.sigma {
            engine.restore(take(SIGMA_STATE_KEY));
        }
        // Whatever is left in `rules` belonged to removed or disabled rules: dropped.
        Ok(detector)
    }

    /// Evaluates every enabled rule on `event`; returns the alerts it raised (usually none).
    pub fn observe(&mut self, event: &EventView<'_>) -> Vec<Alert> {
        let mut out = Vec::new();
        self.observe_into(event, &mut out);
        out
    }

    /// Like [`Detector::observe`], appending to `out` (no allocation when nothing fires).
    pub fn observe_into(&mut self, event: &EventView<'_>, out: &mut Vec<Alert>) {
        let before = out.len();
        self.events += 1;
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
        }
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
        stats
    }
}

/// One rule's saved state; absent or unreadable (an older layout) → empty.
fn decode<T: serde::de::DeserializeOwned + Default>(value: Option<Value>) -> T {
    value
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

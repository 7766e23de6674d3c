//! # oktaflow-detect
//!
//! Detections on the Okta System Log stream. oktaflow sees every event first, in order and
//! exactly once; this crate raises alerts from them, for any store, and loses none across a
//! crash.
//!
//! * [`Detector`] evaluates the built-in rules on the events of one source in `published`
//!   order. Each event is an [`EventView`]: the Okta fields the rules read (taken from the raw
//!   LogEvent in one borrowing pass), the raw event and, when the caller has it, the
//!   normalized ECS document.
//! * The built-in rules ([`rules::BUILTIN_RULES`]) are on by default and each can be turned off
//!   or tuned in [`RulesConfig`]; `docs/detections.md` describes every one.
//! * An [`Alert`] is an ECS document of its own (`event.kind: alert`). Its `event.id` is
//!   derived from the rule, the group key and the window ([`alert_id`]): replaying events after
//!   a crash raises the same alerts with the same ids, so an idempotent store never doubles one.
//! * [`Detector::state`] is everything the rules remember, to be saved atomically with the
//!   checkpoint that covers the same events; [`Detector::restore`] goes on from it. State is
//!   bounded: each stateful rule keeps at most `max_keys_per_rule` keys and evicts the least
//!   recently seen ones beyond it ([`DetectorStats`] counts them for a metric).
//! * Sigma rules ([`SigmaRules`], module [`sigma`]): detection and correlation rules on the
//!   raw Okta fields, evaluated by `rsigma-eval`; their correlation state is part of
//!   [`DetectorState`]. [`Detector::with_sigma`] takes a loaded set; [`SigmaRules::load`]
//!   reads rule files and folders (the only file I/O of this crate).
//! * No I/O (but the Sigma loader) and no clock: every time a rule uses is an event's `published`.
//!
//! ```
//! use oktaflow_detect::{Detector, EventView, RulesConfig};
//!
//! let mut detector = Detector::new(RulesConfig::default()).expect("default rules");
//! let raw = br#"{"uuid":"e1","published":"2024-05-01T10:00:00Z",
//!     "eventType":"system.api_token.create","outcome":{"result":"SUCCESS"},
//!     "actor":{"alternateId":"admin@example.com"},
//!     "target":[{"id":"00T1","type":"Token","displayName":"ci-token"}]}"#;
//! let event = EventView::from_bytes(raw, None).expect("a LogEvent");
//! let alerts = detector.observe(&event);
//! assert_eq!(alerts.len(), 1);
//! assert_eq!(alerts[0].rule.id, "okta.api_key_created");
//! assert_eq!(alerts[0].document()["event"]["kind"], "alert");
//! ```

mod alert;
mod config;
mod engine;
mod error;
mod event;
mod json_out;
pub mod rules;
pub mod sigma;
mod state;

pub use alert::{alert_id, Alert, RuleMeta, Severity, Trigger, BUILTIN_RULESET};
pub use config::{
    AdminRoleConfig, GeoConfig, RulesConfig, SessionConfig, ThresholdConfig, Toggle,
    DEFAULT_MAX_KEYS_PER_RULE,
};
pub use engine::{Detector, DetectorState, DetectorStats, StateChanges, STATE_VERSION};
pub use error::DetectError;
pub use event::{
    Ecs, EventParts, EventView, Facts, GeoPoint, Party, PartyParts, Piece, Raw, TopPart,
};
pub use rules::geo::distance_km;
pub use sigma::{SigmaRules, SigmaSource, SIGMA_RULESET};

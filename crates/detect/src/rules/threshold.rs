//! Threshold rules: at least `threshold` matching events for one key within a sliding window
//! raise one alert at the event that reaches it; the key is then quiet for `suppression`.
//! `okta.brute_force_logins` and `okta.mfa_push_bombing`.
//!
//! * The window slides: an event counts while the newest event is at most `window` after it
//!   (both ends included). It is never anchored at the first failure, so pacing the attempts
//!   does not reset it.
//! * At an alert the window is emptied: the next alert needs `threshold` new events.
//! * During the quiet period events are still counted, never alerted on: an attack that goes on
//!   raises its next alert at the first event after the quiet period; one that stopped does not.
//! * The alert id: rule, key, first and last triggering event.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{millis, BRUTE_FORCE_LOGINS, MFA_PUSH_BOMBING};
use crate::alert::{build, Alert, Firing, RuleMeta, Severity, Trigger};
use crate::config::ThresholdConfig;
use crate::event::{EventView, Facts};
use crate::json_out::{write_name, write_quiet_and_last, WriteJson};
use crate::state::{Hit, Keyed, LastSeen};

/// One key's window. Saved with short names (`h`, `q`, `l`); version 1's long names are read.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct Window {
    /// The counted events, oldest first.
    #[serde(
        rename = "h",
        alias = "hits",
        default,
        skip_serializing_if = "VecDeque::is_empty"
    )]
    hits: VecDeque<Hit>,
    /// No alert before this time (ms), after an alert.
    #[serde(
        rename = "q",
        alias = "quiet_until",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    quiet_until: Option<i64>,
    #[serde(rename = "l", alias = "last_seen")]
    last_seen: i64,
}

impl WriteJson for Window {
    /// `{"h":[[ts,"id"],…],"q":n,"l":n}`, `h` and `q` left out as serde does.
    fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        if !self.hits.is_empty() {
            write_name(out, "h");
            out.push(b'[');
            for (i, hit) in self.hits.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                hit.write_json(out);
            }
            out.extend_from_slice(b"],");
        }
        write_quiet_and_last(out, self.quiet_until, self.last_seen);
    }
}

impl LastSeen for Window {
    fn last_seen(&self) -> i64 {
        self.last_seen
    }
}

/// Which events a threshold rule counts, and for which key.
type Matcher = fn(&Facts<'_>) -> Option<String>;

/// What a threshold rule counts: the matcher, and every event type it can count (it returns
/// `None` for any other).
#[derive(Clone, Copy)]
struct Counted {
    matcher: Matcher,
    event_types: &'static [&'static str],
}

/// Failed sign-ins, per account.
const FAILED_SIGN_INS: Counted = Counted {
    matcher: failed_sign_in_by_account,
    event_types: &["user.session.start"],
};

/// Rejected or unanswered Okta Verify pushes, per user.
const PUSHES_REFUSED: Counted = Counted {
    matcher: push_rejected_or_unanswered,
    event_types: &[
        "user.mfa.okta_verify.deny_push",
        "user.authentication.auth_via_mfa",
    ],
};

pub(crate) struct Threshold {
    meta: RuleMeta,
    severity: Severity,
    counted: Counted,
    what: &'static str,
    threshold: usize,
    window_ms: i64,
    suppression_ms: i64,
    max_keys: usize,
    max_events: usize,
    pub(crate) keys: Keyed<Window>,
    pub(crate) evicted: u64,
}

impl Threshold {
    pub(crate) fn brute_force(
        config: &ThresholdConfig,
        max_keys: usize,
        max_events: usize,
    ) -> Self {
        Threshold::new(
            BRUTE_FORCE_LOGINS,
            Severity::Medium,
            FAILED_SIGN_INS,
            "failed sign-ins",
            config,
            max_keys,
            max_events,
        )
    }

    pub(crate) fn push_bombing(
        config: &ThresholdConfig,
        max_keys: usize,
        max_events: usize,
    ) -> Self {
        Threshold::new(
            MFA_PUSH_BOMBING,
            Severity::High,
            PUSHES_REFUSED,
            "rejected or unanswered Okta Verify pushes",
            config,
            max_keys,
            max_events,
        )
    }

    fn new(
        meta: RuleMeta,
        severity: Severity,
        counted: Counted,
        what: &'static str,
        config: &ThresholdConfig,
        max_keys: usize,
        max_events: usize,
    ) -> Self {
        Threshold {
            meta,
            severity,
            counted,
            what,
            threshold: config.threshold,
            window_ms: millis(config.window),
            suppression_ms: millis(config.suppression),
            max_keys,
            max_events,
            keys: Keyed::default(),
            evicted: 0,
        }
    }

    pub(crate) fn meta(&self) -> RuleMeta {
        self.meta
    }

    /// How long after its last event a key can still matter: its window, or its quiet
    /// period. Past it, the key is as good as absent (for events in `published` order).
    pub(crate) fn horizon_ms(&self) -> i64 {
        self.window_ms.max(self.suppression_ms)
    }

    /// Whether an event of `event_type` can concern the rule.
    pub(crate) fn reads(&self, event_type: &str) -> bool {
        self.counted.event_types.contains(&event_type)
    }

    pub(crate) fn observe(&mut self, event: &EventView<'_>, out: &mut Vec<Alert>) {
        let f = event.facts();
        let Some(key) = (self.counted.matcher)(f) else {
            return;
        };
        let ts = f.published_ms;
        let mut w = self
            .keys
            .entry(&key, self.max_keys, &mut self.evicted, Window::default);
        w.last_seen = w.last_seen.max(ts);
        w.hits.push_back(Hit::new(ts, &f.uuid));
        let oldest = ts.saturating_sub(self.window_ms);
        while w.hits.front().is_some_and(|h| h.ts() < oldest) || w.hits.len() > self.max_events {
            w.hits.pop_front();
        }
        if w.quiet_until.is_some_and(|q| ts < q) || w.hits.len() < self.threshold {
            return;
        }
        w.quiet_until = Some(ts.saturating_add(self.suppression_ms));
        let triggers: Vec<Trigger> = w.hits.drain(..).map(|h| h.trigger()).collect();
        let first = &triggers[0];
        let window = format!("{}/{}/{}/{}", first.ts, first.id, ts, f.uuid);
        let count = triggers.len();
        out.push(build(Firing {
            rule: self.meta,
            severity: self.severity,
            group: key.clone(),
            window,
            event,
            message: format!(
                "{count} {} for {key} within {}",
                self.what,
                crate::rules::spray::minutes(self.window_ms)
            ),
            details: json!({ "count": count, "threshold": self.threshold,
                             "window_ms": self.window_ms }),
            triggers,
        }));
    }
}

/// `user.session.start` with FAILURE, whatever the reason, keyed on the actor's `alternateId`.
fn failed_sign_in_by_account(f: &Facts<'_>) -> Option<String> {
    if f.event_type == "user.session.start" && f.outcome_is("FAILURE") {
        f.actor_key()
    } else {
        None
    }
}

/// An Okta Verify push the user rejected or let time out, keyed on the actor (the user):
///
/// * Classic Engine: `user.mfa.okta_verify.deny_push` (written by Classic V1 API calls).
/// * Identity Engine: `user.authentication.auth_via_mfa`, FAILURE, with
///   `debugData.pushOnlyResponseType` `OV_RESPONSE_DENY` (Okta logs a denied push as a failed
///   authentication with reason `INVALID_CREDENTIALS`).
/// * A push that timed out: `user.authentication.auth_via_mfa` with factor `OKTA_VERIFY_PUSH`
///   whose outcome is `UNANSWERED`, or FAILURE with a reason that says it timed out.
fn push_rejected_or_unanswered(f: &Facts<'_>) -> Option<String> {
    let matched = match &*f.event_type {
        "user.mfa.okta_verify.deny_push" => true,
        "user.authentication.auth_via_mfa" => {
            let denied = f.outcome_is("FAILURE")
                && f.push_only_response_type.as_deref() == Some("OV_RESPONSE_DENY");
            let push = f.factor.as_deref() == Some("OKTA_VERIFY_PUSH");
            let unanswered = f.outcome_is("UNANSWERED")
                || (f.outcome_is("FAILURE")
                    && f.outcome_reason.as_deref().is_some_and(|r| {
                        let r = r.to_ascii_lowercase();
                        r.contains("timeout") || r.contains("timed out")
                    }));
            denied || (push && unanswered)
        }
        _ => false,
    };
    if matched {
        f.actor_key()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json_out::WriteJson;

    /// `reads` is exact: each matcher counts nothing outside its `event_types`, even an event
    /// that has everything else it looks for.
    #[test]
    fn matchers_count_only_their_event_types() {
        let all = [
            "user.session.start",
            "user.mfa.okta_verify.deny_push",
            "user.authentication.auth_via_mfa",
            "user.authentication.sso",
            "policy.evaluate_sign_on",
            "user.session.start ",
        ];
        for counted in [FAILED_SIGN_INS, PUSHES_REFUSED] {
            for event_type in all {
                for (result, reason) in [("FAILURE", "timeout"), ("UNANSWERED", "x")] {
                    let raw = serde_json::json!({
                        "uuid": "u", "published": "2024-05-01T10:00:00Z",
                        "eventType": event_type,
                        "actor": {"alternateId": "a@example.com"},
                        "outcome": {"result": result, "reason": reason},
                        "debugContext": {"debugData": {
                            "factor": "OKTA_VERIFY_PUSH",
                            "pushOnlyResponseType": "OV_RESPONSE_DENY"}},
                    });
                    let view = EventView::from_value(&raw, None).expect("an event");
                    if (counted.matcher)(view.facts()).is_some() {
                        assert!(counted.event_types.contains(&event_type), "{event_type}");
                    }
                }
            }
        }
    }

    #[test]
    fn journal_json_is_what_serde_writes() {
        let values = [
            Window::default(),
            Window {
                hits: [
                    Hit::new(1, "2f9e0c1a-0000-11ee-8000-000000000001"),
                    Hit::new(2, "x\u{7}"),
                ]
                .into_iter()
                .collect(),
                quiet_until: Some(-3),
                last_seen: 2,
            },
            Window {
                hits: VecDeque::new(),
                quiet_until: Some(9),
                last_seen: 9,
            },
        ];
        for value in values {
            let mut out = Vec::new();
            value.write_json(&mut out);
            assert_eq!(out, serde_json::to_vec(&value).unwrap());
        }
    }
}

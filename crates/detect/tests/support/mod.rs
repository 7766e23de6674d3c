//! Building Okta LogEvents for the scenario tests.
#![allow(dead_code)]

use oktaflow_detect::{Alert, Detector, EventView, RulesConfig};
use serde_json::{json, Value};

/// 2024-05-01T10:00:00Z, the start of every scenario.
pub const T0_MS: i64 = 1_714_557_600_000;

/// A LogEvent at `T0 + at_ms`.
pub struct Ev {
    pub v: Value,
}

impl Ev {
    pub fn new(uuid: &str, at_ms: i64, event_type: &str, result: &str) -> Ev {
        let published = chrono::DateTime::from_timestamp_millis(T0_MS + at_ms)
            .expect("in range")
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        Ev {
            v: json!({
                "uuid": uuid,
                "published": published,
                "eventType": event_type,
                "outcome": { "result": result },
                "actor": { "id": "00u0", "type": "User", "alternateId": "nobody@example.com",
                           "displayName": "Nobody" },
                "client": { "ipAddress": "198.51.100.1" },
            }),
        }
    }

    pub fn actor(mut self, alternate_id: &str) -> Ev {
        self.v["actor"]["alternateId"] = json!(alternate_id);
        self.v["actor"]["id"] = json!(format!("00u-{alternate_id}"));
        self
    }

    pub fn ip(mut self, ip: &str) -> Ev {
        self.v["client"]["ipAddress"] = json!(ip);
        self
    }

    pub fn reason(mut self, reason: &str) -> Ev {
        self.v["outcome"]["reason"] = json!(reason);
        self
    }

    pub fn geo(mut self, city: &str, lat: f64, lon: f64) -> Ev {
        self.v["client"]["geographicalContext"] = json!({ "city": city, "country": "Somewhere", "geolocation": { "lat": lat, "lon": lon } });
        self
    }

    pub fn asn(mut self, number: i64) -> Ev {
        self.v["securityContext"] = json!({ "asNumber": number, "asOrg": format!("AS{number}") });
        self
    }

    pub fn session(mut self, external_session_id: &str) -> Ev {
        self.v["authenticationContext"] = json!({ "externalSessionId": external_session_id });
        self
    }

    pub fn debug(mut self, key: &str, value: &str) -> Ev {
        if !self.v["debugContext"]["debugData"].is_object() {
            self.v["debugContext"] = json!({ "debugData": {} });
        }
        self.v["debugContext"]["debugData"][key] = json!(value);
        self
    }

    pub fn client_id(mut self, id: &str) -> Ev {
        self.v["client"]["id"] = json!(id);
        self
    }

    pub fn target(mut self, alternate_id: &str, display_name: &str) -> Ev {
        self.v["target"] = json!([{ "id": format!("00t-{alternate_id}"), "type": "User",
                                    "alternateId": alternate_id, "displayName": display_name }]);
        self
    }

    pub fn bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.v).expect("serializable")
    }
}

/// Runs `events` through a fresh detector; every alert in order.
pub fn run(config: RulesConfig, events: &[Ev]) -> Vec<Alert> {
    let mut detector = Detector::new(config).expect("valid config");
    feed(&mut detector, events)
}

pub fn feed(detector: &mut Detector, events: &[Ev]) -> Vec<Alert> {
    let mut alerts = Vec::new();
    for ev in events {
        let bytes = ev.bytes();
        let view = EventView::from_bytes(&bytes, None).expect("a valid LogEvent");
        detector.observe_into(&view, &mut alerts);
    }
    alerts
}

/// Only the rule `id` turned on (with its defaults).
pub fn only(id: &str) -> RulesConfig {
    let mut c = RulesConfig::none();
    match id {
        "okta.admin_role_assigned" => c.admin_role_assigned.enabled = true,
        "okta.api_key_created" => c.api_key_created.enabled = true,
        "okta.api_key_revoked" => c.api_key_revoked.enabled = true,
        "okta.brute_force_logins" => c.brute_force_logins.enabled = true,
        "okta.geo_improbable_access" => c.geo_improbable_access.enabled = true,
        "okta.password_spraying" => c.password_spraying.enabled = true,
        "okta.mfa_push_bombing" => c.mfa_push_bombing.enabled = true,
        "okta.stolen_session" => c.stolen_session.enabled = true,
        other => panic!("no rule {other}"),
    }
    c
}

pub const MIN: i64 = 60_000;

/// The triggering event ids of an alert.
pub fn trigger_ids(alert: &Alert) -> Vec<&str> {
    alert.triggers.iter().map(|t| t.id.as_str()).collect()
}

//! The detect bench's input, shared with the profiling example and the differential test:
//! 20,000 simulator-like events built from the real-shaped events of
//! `fixtures/okta-sample.ndjson` (fresh uuids, increasing `published`, actors from 5,000 users,
//! IPs from 2,000 addresses, 2 % attack traffic).

use serde_json::{json, Value};

/// How many events.
pub const EVENTS: usize = 20_000;

/// A small deterministic generator (no dependency on `rand` for a bench input).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

/// The events, as raw JSON texts, in `published` order.
pub fn events() -> Vec<Vec<u8>> {
    let sample = include_str!("../../../../fixtures/okta-sample.ndjson");
    let templates: Vec<Value> = sample
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("fixture line"))
        // The wrapper forms carry the LogEvent as text; the bench uses plain LogEvents.
        .filter(|v: &Value| v.get("uuid").is_some())
        .collect();
    let mut rng = Lcg(7);
    let start = chrono::DateTime::parse_from_rfc3339("2024-05-01T00:00:00Z").expect("time");
    (0..EVENTS)
        .map(|i| {
            let mut ev = if rng.next().is_multiple_of(50) {
                attack(&mut rng)
            } else {
                templates[i % templates.len()].clone()
            };
            let user = rng.next() % 5_000;
            ev["uuid"] = json!(format!("bench-{i:08}"));
            ev["published"] = json!((start + chrono::Duration::milliseconds(i as i64 * 50))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
            if ev["actor"].is_object() && ev["actor"]["type"] == "User" {
                ev["actor"]["alternateId"] = json!(format!("user{user}@example.com"));
            }
            if ev["client"].is_object() {
                ev["client"]["ipAddress"] =
                    json!(format!("198.51.{}.{}", rng.next() % 8, rng.next() % 250));
            }
            serde_json::to_vec(&ev).expect("serializable")
        })
        .collect()
}

fn attack(rng: &mut Lcg) -> Value {
    let user = format!("target{}@example.com", rng.next() % 20);
    match rng.next() % 3 {
        0 => json!({"eventType": "user.session.start", "outcome": {"result": "FAILURE",
                    "reason": "INVALID_CREDENTIALS"}, "actor": {"type": "User", "alternateId": user},
                    "client": {"ipAddress": "203.0.113.5"}}),
        1 => {
            json!({"eventType": "user.mfa.okta_verify.deny_push", "outcome": {"result": "SUCCESS"},
                    "actor": {"type": "User", "alternateId": user}, "client": {"ipAddress": "203.0.113.6"}})
        }
        _ => {
            let (lat, lon) = if rng.next().is_multiple_of(2) {
                (48.85, 2.35)
            } else {
                (-33.87, 151.21)
            };
            json!({"eventType": "user.session.start", "outcome": {"result": "SUCCESS"},
                   "actor": {"type": "User", "alternateId": user},
                   "client": {"ipAddress": "203.0.113.7", "geographicalContext":
                              {"city": "X", "geolocation": {"lat": lat, "lon": lon}}}})
        }
    }
}

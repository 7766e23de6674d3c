//! The detect stage alone, every built-in rule on, on simulator-like events: the 62 real-shaped
//! events of `fixtures/okta-sample.ndjson` replayed with fresh uuids, increasing `published`,
//! actors drawn from 5,000 users and IPs from 2,000 addresses, and 2 % attack traffic
//! (failed sign-ins, push denials, far-apart logins). Each iteration reads the event from its
//! raw bytes (`EventView::from_bytes`) and observes it, as the pipeline stage will.
//!
//! A second case adds the shipped SigmaHQ Okta rules (`rules/sigma/okta/`, 21 rules).
//!
//! `cargo bench -p oktaflow-detect --bench detect`; the target is ≥ 100,000 events/s on one core.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use oktaflow_detect::{Detector, EventView, RulesConfig, SigmaRules};
use serde_json::{json, Value};

const EVENTS: usize = 20_000;

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

fn events() -> Vec<Vec<u8>> {
    let sample = include_str!("../../../fixtures/okta-sample.ndjson");
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

fn detect(c: &mut Criterion) {
    let events = events();
    let bytes: usize = events.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("detect");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.sample_size(20);
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/sigma/okta");
    let sigma = SigmaRules::load(&[shipped]).expect("the shipped Sigma rules load");
    for (label, rules) in [
        ("all built-in rules", SigmaRules::default()),
        ("all built-in rules + shipped Sigma rules", sigma),
    ] {
        group.bench_function(
            format!(
                "{} events ({} bytes avg), {label}",
                events.len(),
                bytes / events.len()
            ),
            |b| {
                b.iter(|| {
                    let mut detector =
                        Detector::with_sigma(RulesConfig::default(), &rules).expect("config");
                    let mut alerts = Vec::new();
                    for raw in &events {
                        let view = EventView::from_bytes(raw, None).expect("valid event");
                        detector.observe_into(&view, &mut alerts);
                    }
                    assert!(!alerts.is_empty(), "the attack traffic raises alerts");
                    alerts.len()
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, detect);
criterion_main!(benches);

//! The detect stage alone, every built-in rule on, on simulator-like events: the 62 real-shaped
//! events of `fixtures/okta-sample.ndjson` replayed with fresh uuids, increasing `published`,
//! actors drawn from 5,000 users and IPs from 2,000 addresses, and 2 % attack traffic
//! (failed sign-ins, push denials, far-apart logins). Each iteration reads the event from its
//! raw bytes (`EventView::from_bytes`) and observes it, as the pipeline stage will.
//!
//! A second case adds the shipped SigmaHQ Okta rules (`rules/sigma/okta/`, 21 rules); a third
//! runs them with the Sigma pre-check off (every event through the engine), as before it
//! existed.
//!
//! `cargo bench -p oktaflow-detect --bench detect`; the target is ≥ 100,000 events/s on one core
//! for the second case (every built-in rule and the 21 shipped Sigma rules, pre-check on, as the
//! pipeline runs them). Criterion reports wall time; on a shared machine, the `detect_profile`
//! example's `speed` mode reports the same loop per second of CPU time.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use oktaflow_detect::{Detector, EventView, RulesConfig, SigmaRules};

#[path = "support/events.rs"]
mod events;

use events::events;

fn detect(c: &mut Criterion) {
    let events = events();
    let bytes: usize = events.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("detect");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.sample_size(20);
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/sigma/okta");
    let sigma = SigmaRules::load(&[shipped]).expect("the shipped Sigma rules load");
    for (label, rules, gate) in [
        ("all built-in rules", SigmaRules::default(), true),
        (
            "all built-in rules + shipped Sigma rules",
            sigma.clone(),
            true,
        ),
        (
            "all built-in rules + shipped Sigma rules, Sigma pre-check off",
            sigma,
            false,
        ),
    ] {
        group.bench_function(
            format!(
                "{} events ({} bytes avg), {label}",
                events.len(),
                bytes / events.len()
            ),
            |b| {
                // The detector is built outside the measured time (loading and compiling the
                // rules is once per process): each iteration is the stage on the 20,000 events.
                b.iter_batched(
                    || {
                        let mut detector =
                            Detector::with_sigma(RulesConfig::default(), &rules).expect("config");
                        detector.set_sigma_gate(gate);
                        detector
                    },
                    |mut detector| {
                        let mut alerts = Vec::new();
                        for raw in &events {
                            let view = EventView::from_bytes(raw, None).expect("valid event");
                            detector.observe_into(&view, &mut alerts);
                        }
                        assert!(!alerts.is_empty(), "the attack traffic raises alerts");
                        alerts.len()
                    },
                    BatchSize::LargeInput,
                )
            },
        );
    }
    group.finish();
}

criterion_group!(benches, detect);
criterion_main!(benches);

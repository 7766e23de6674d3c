//! The detect bench's events through a detector: one pass for profiling with callgrind
//! (instruction counts are repeatable on a loaded machine, wall time is not), or timed passes
//! that report events per second of CPU time (user + system of this process, which waiting
//! for a busy CPU does not inflate):
//!
//! ```text
//! cargo build --profile bench -p oktaflow-detect --example detect_profile
//! valgrind --tool=callgrind target/release/examples/detect_profile sigma
//! target/release/examples/detect_profile speed
//! ```
//!
//! Argument: `builtin` (the built-in rules), `sigma` (+ the shipped Sigma rules), `nogate`
//! (+ the shipped Sigma rules, pre-check off): one pass, prints the number of alerts; with
//! `serde` after it (`sigma serde`), each event is read by `EventView::from_bytes` (the serde
//! pass that checks the JSON) instead of `EventView::from_checked_bytes` (what the pipeline
//! stage calls on the events the normalizer accepted). `speed`: `builtin` and `sigma`, 10
//! passes each with either reader, prints events per CPU second of each (reading each event
//! from its bytes and observing it, as the pipeline stage does).

#[path = "../benches/support/events.rs"]
mod events;

use std::time::Duration;

use oktaflow_detect::{Alert, Detector, EventView, RulesConfig, SigmaRules};

fn run(events: &[Vec<u8>], sigma: &SigmaRules, gate: bool, serde: bool) -> Vec<Alert> {
    let mut detector = Detector::with_sigma(RulesConfig::default(), sigma).expect("config");
    detector.set_sigma_gate(gate);
    let mut alerts = Vec::new();
    for raw in events {
        let view = if serde {
            EventView::from_bytes(raw, None)
        } else {
            EventView::from_checked_bytes(raw, None)
        }
        .expect("valid event");
        detector.observe_into(&view, &mut alerts);
    }
    alerts
}

/// User + system CPU time of this process (`/proc/self/stat`).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command (which may hold spaces): state is field 3, utime 14, stime 15.
    let after = stat.rsplit_once(')').expect("a stat line").1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields[i].parse::<u64>().expect("a number of ticks");
    let per_second = rustix::param::clock_ticks_per_second();
    Duration::from_secs_f64((ticks(11) + ticks(12)) as f64 / per_second as f64)
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "sigma".into());
    let events = events::events();
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/sigma/okta");
    let shipped = SigmaRules::load(&[shipped]).expect("the shipped Sigma rules load");
    if mode == "speed" {
        const PASSES: usize = 10;
        for (label, sigma, serde) in [
            (
                "built-in rules, checked reader",
                SigmaRules::default(),
                false,
            ),
            ("built-in rules, serde reader", SigmaRules::default(), true),
            (
                "built-in rules + 21 shipped Sigma rules, checked reader",
                shipped.clone(),
                false,
            ),
            (
                "built-in rules + 21 shipped Sigma rules, serde reader",
                shipped.clone(),
                true,
            ),
        ] {
            let before = cpu_time();
            let mut alerts = 0;
            for _ in 0..PASSES {
                alerts += run(&events, &sigma, true, serde).len();
            }
            let cpu = cpu_time() - before;
            let n = (events.len() * PASSES) as f64;
            println!(
                "{label}: {n} events in {:.2} s CPU: {:.0} events/s ({:.2} µs/event), {} alerts/pass",
                cpu.as_secs_f64(),
                n / cpu.as_secs_f64(),
                cpu.as_secs_f64() * 1e6 / n,
                alerts / PASSES
            );
        }
        return;
    }
    let sigma = if mode == "builtin" {
        SigmaRules::default()
    } else {
        shipped
    };
    let serde = std::env::args().nth(2).is_some_and(|a| a == "serde");
    let alerts = run(&events, &sigma, mode != "nogate", serde);
    println!("{mode}: {} events, {} alerts", events.len(), alerts.len());
}

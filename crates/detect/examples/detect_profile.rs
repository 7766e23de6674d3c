//! One pass of the detect bench's events through a detector, for profiling with callgrind
//! (instruction counts are repeatable on a loaded machine, wall time is not):
//!
//! ```text
//! cargo build --profile bench -p oktaflow-detect --example detect_profile
//! valgrind --tool=callgrind target/release/examples/detect_profile sigma
//! ```
//!
//! Argument: `builtin` (the built-in rules), `sigma` (+ the shipped Sigma rules) or `nogate`
//! (+ the shipped Sigma rules, pre-check off). Prints the number of alerts.

#[path = "../benches/support/events.rs"]
mod events;

use oktaflow_detect::{Detector, EventView, RulesConfig, SigmaRules};

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "sigma".into());
    let events = events::events();
    let sigma = if mode == "builtin" {
        SigmaRules::default()
    } else {
        let shipped =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/sigma/okta");
        SigmaRules::load(&[shipped]).expect("the shipped Sigma rules load")
    };
    let mut detector = Detector::with_sigma(RulesConfig::default(), &sigma).expect("config");
    detector.set_sigma_gate(mode != "nogate");
    let mut alerts = Vec::new();
    for raw in &events {
        let view = EventView::from_bytes(raw, None).expect("valid event");
        detector.observe_into(&view, &mut alerts);
    }
    println!("{mode}: {} events, {} alerts", events.len(), alerts.len());
}

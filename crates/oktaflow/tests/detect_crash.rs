//! Detections exactly once across crashes: `oktaflow run` over a simulated org holding the
//! simulator's attack scenarios, killed with `kill -9` at random moments and restarted each
//! time, then run to the end: every alert appears exactly once in the alert file beside the
//! events (by `event.id`), none is missing, none is doubled, and the event file is still
//! exactly the org's events.

mod support;

use std::time::Duration;

use oktaflow_detect::{Detector, EventView, RulesConfig};
use oktaflow_sim::SimConfig;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::*;

/// The alert documents of an NDJSON file, in file order.
fn documents(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("a whole JSON line"))
        .collect()
}

/// The ids (`event.id`) of the alerts an uninterrupted detector raises over the org's
/// events, in the order it raises them.
fn reference_alerts(events: &[String]) -> Vec<String> {
    let mut detector = Detector::new(RulesConfig::default()).expect("default rules");
    let mut alerts = Vec::new();
    for event in events {
        let view = EventView::from_bytes(event.as_bytes(), None).expect("a LogEvent");
        alerts.extend(detector.observe(&view).into_iter().map(|alert| alert.id));
    }
    alerts
}

/// The `event.id`s of the part of `path` the checkpoint calls committed (its sink position's
/// offset; nothing before the first checkpoint).
fn committed_ids(work: &Workdir, path: &std::path::Path) -> Vec<String> {
    ids_of(&work.committed_text(path))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_detection_raises_every_alert_exactly_once() {
    let sim = start_sim(SimConfig {
        attacks: true,
        // About what the kills let through (a few hundred events per run), so that they land
        // all along the backfill and its attack scenarios (spread over the whole day).
        // Each page of 50 is served 40 ms late: without it, a release build (or a fast
        // machine) backfills all 4,551 events before the first kill lands and the kills
        // test nothing (seen: "generations {4, 5}").
        page_latency: Duration::from_millis(40),
        ..quiet(4_500)
    })
    .await;
    let scenarios = sim.attacks().clone();
    // No live events: the org's events, and so the alerts, are known before the first run.
    let delivered = sim.delivered_order();
    let reference = reference_alerts(&sim.delivered_events());
    assert_eq!(scenarios.expected.len(), 8, "one attack per built-in rule");
    let work = Workdir::new();
    // Small pages: many batches, so many checkpoints with detector state between kills.
    work.write_config(&sim, 50, "rate_limit_share = 1.0\ninterval = \"10s\"");
    let alerts_path = work.dir.path().join("out.alerts.ndjson");

    let mut rng = StdRng::seed_from_u64(0x6465_7465_6374);
    let mut kills = 0;
    let mut runs = 0;
    let mut generations = std::collections::BTreeSet::new();
    while kills < 22 && runs < 40 {
        runs += 1;
        let delay = Duration::from_millis(rng.random_range(100..1_300));
        let mut run = work.run_cmd(Some(TOKEN), &[]);
        // A small journal: the whole state is written again every few batches, so kills
        // also land around the switch to a new generation of state files.
        run.env("OKTAFLOW_DETECT_JOURNAL_MIN_BYTES", "2000");
        if kill_after(run, delay).await {
            kills += 1;
        }
        if work.checkpoint_path().exists() {
            if let Some(generation) = work.checkpoint()["detect_files"]["generation"].as_u64() {
                generations.insert(generation);
            }
        }
        // Whole lines or not (a kill may tear the last one): only counted here.
        let count = |path: &std::path::Path| {
            std::fs::read(path).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
        };
        let (events, alerts) = (
            committed_ids(&work, &work.out),
            committed_ids(&work, &alerts_path),
        );
        assert_eq!(
            events[..],
            delivered[..events.len()],
            "a prefix of the org's events"
        );
        assert_eq!(
            alerts[..],
            reference[..alerts.len()],
            "a prefix of the uninterrupted run's alerts"
        );
        eprintln!(
            "killed after {delay:?}: {} event and {} alert lines in the files, {} and {} \
             committed",
            count(&work.out),
            count(&alerts_path),
            events.len(),
            alerts.len()
        );
    }
    assert!(kills >= 20, "{kills} kills landed");
    assert!(
        generations.len() >= 3,
        "the state was written whole again between kills: generations {generations:?}"
    );

    let mut last = work.run_cmd(Some(TOKEN), &["--once"]);
    last.env("OKTAFLOW_DETECT_JOURNAL_MIN_BYTES", "2000");
    let output = finish(last).await;
    assert_success(&output);

    // The events: exactly the org's, once each, in its order.
    let written = ids(&work.out);
    assert_unique(&written);
    assert_eq!(written, delivered, "the event file is exact");

    // The alerts: once each, exactly those an uninterrupted detector raises.
    let alerts = documents(&alerts_path);
    let alert_ids: Vec<String> = alerts
        .iter()
        .map(|a| a["event"]["id"].as_str().expect("event.id").to_string())
        .collect();
    assert_unique(&alert_ids);
    assert_eq!(
        alert_ids, reference,
        "the alerts of an uninterrupted run, in its order, no more"
    );
    assert_eq!(
        std::fs::metadata(&alerts_path).expect("alert file").len(),
        work.checkpoint()["sinks"][format!(
            "file:{}",
            std::path::absolute(&alerts_path).expect("path").display()
        )]["offset"]
            .as_u64()
            .expect("the alert file's offset in the checkpoint"),
        "the checkpoint covers the whole alert file"
    );
    // The detector state is in files beside the checkpoint, which names them.
    let files = &work.checkpoint()["detect_files"];
    let generation = files["generation"]
        .as_u64()
        .expect("the checkpoint names the state");
    let state_dir = work
        .checkpoint_path()
        .parent()
        .expect("state dir")
        .to_path_buf();
    let full = state_dir.join(format!("okta.detect-{generation}.json"));
    let journal = state_dir.join(format!("okta.detect-{generation}.journal"));
    assert!(full.exists(), "{} exists", full.display());
    assert_eq!(
        std::fs::metadata(&journal).expect("journal").len(),
        files["journal_bytes"].as_u64().expect("journal_bytes"),
        "the journal holds exactly what the checkpoint covers"
    );

    // The simulator's ground truth: each attack's alert exactly once with its triggering
    // events, and no alert for a control.
    for attack in &scenarios.expected {
        let matching: Vec<&serde_json::Value> = alerts
            .iter()
            .filter(|a| {
                a["rule"]["id"] == attack.rule
                    && a["oktaflow"]["alert"]["group"] == attack.group.as_str()
            })
            .collect();
        assert_eq!(matching.len(), 1, "{} for {}", attack.rule, attack.group);
        let triggers: Vec<&str> = matching[0]["oktaflow"]["alert"]["event_ids"]
            .as_array()
            .expect("event_ids")
            .iter()
            .map(|id| id.as_str().expect("an id"))
            .collect();
        assert_eq!(
            triggers, attack.triggers,
            "{} for {}",
            attack.rule, attack.group
        );
    }
    for control in &scenarios.controls {
        assert!(
            !alerts.iter().any(|a| a["rule"]["id"] == control.rule
                && a["oktaflow"]["alert"]["group"] == control.group.as_str()),
            "{} fired for the control {} ({})",
            control.rule,
            control.group,
            control.what
        );
    }
    eprintln!(
        "{kills} kills in {runs} runs; {} events, {} alerts ({} from the attack scenarios)",
        written.len(),
        alerts.len(),
        scenarios.expected.len()
    );
    sim.shutdown().await;
}

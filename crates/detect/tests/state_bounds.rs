//! The state is small and bounded: keys a rule is done with expire relative to the latest
//! `published` (never a clock), the cap evicts beyond `max_keys_per_rule` and counts it, and a
//! version 1 state (before the compact layout) still restores.

mod support;

use std::collections::BTreeMap;

use oktaflow_detect::{Detector, DetectorState, RulesConfig, STATE_VERSION};
use serde_json::json;
use support::*;

const SEC: i64 = 1_000;
const HOUR: i64 = 3_600 * SEC;

/// One successful sign-in every `every_ms` for `hours`, each from a user, a session and a
/// device never seen before, and a failed one beside it: the worst case for every key.
fn distinct_stream(hours: i64, every_ms: i64) -> Vec<Ev> {
    (0..hours * HOUR / every_ms)
        .flat_map(|i| {
            let at = i * every_ms;
            let user = format!("user{i}@example.com");
            [
                Ev::new(&format!("s{i}"), at, "user.session.start", "SUCCESS")
                    .actor(&user)
                    .ip(&format!("198.51.{}.{}", i / 250 % 250, i % 250))
                    .geo("Paris", 48.85, 2.35)
                    .asn(64_496)
                    .session(&format!("sid-{i}"))
                    .debug("dtHash", &format!("{i:064x}")),
                Ev::new(&format!("f{i}"), at + 1, "user.session.start", "FAILURE")
                    .actor(&format!("other{i}@example.com"))
                    .ip(&format!("203.0.{}.{}", i / 250 % 250, i % 250)),
            ]
        })
        .collect()
}

fn state_bytes(detector: &Detector) -> usize {
    serde_json::to_string(&detector.state())
        .expect("state serializes")
        .len()
}

#[test]
fn state_stays_bounded_over_a_long_stream_of_distinct_users_and_sessions() {
    // 4 days, a new user, session and device every 20 s (17,280 sign-ins, as many failures).
    let every = 20 * SEC;
    let events = distinct_stream(96, every);
    let mut detector = Detector::new(RulesConfig::default()).expect("default rules");
    let mut sizes = Vec::new();
    for (i, ev) in events.iter().enumerate() {
        let bytes = ev.bytes();
        let view = oktaflow_detect::EventView::from_bytes(&bytes, None).expect("event");
        detector.observe_into(&view, &mut Vec::new());
        if i % 2_880 == 2_879 {
            sizes.push(state_bytes(&detector));
        }
    }
    let stats = detector.stats();
    let per = |hours: f64| (hours * HOUR as f64 / every as f64).ceil() as usize;
    // Keys live as long as the rule can use them, plus the minute between two expiries.
    let session_ttl = 24.0;
    assert!(
        stats.keys["okta.stolen_session"] <= 2 * (per(session_ttl) + per(1.0 / 60.0) + 1),
        "{stats:?}"
    );
    assert!(
        stats.keys["okta.geo_improbable_access"] <= per(22.3) + per(1.0 / 60.0) + 1,
        "{stats:?}"
    );
    for rule in ["okta.brute_force_logins", "okta.password_spraying"] {
        assert!(
            stats.keys[rule] <= per(1.0) + per(1.0 / 60.0) + 1,
            "{rule}: {stats:?}"
        );
    }
    assert!(stats.expired["okta.stolen_session"] > 0, "{stats:?}");
    assert!(stats.expired["okta.brute_force_logins"] > 0, "{stats:?}");
    assert_eq!(stats.evicted["okta.stolen_session"], 0, "no cap needed");
    // After the first day the size stops growing (within the minute of slack).
    let day_one = sizes[sizes.len() / 4 + 1];
    let last = *sizes.last().expect("sizes");
    assert!(
        last <= day_one + day_one / 20,
        "grows after a day: {day_one} then {last} ({sizes:?})"
    );
    eprintln!("state sizes every 16 h of published time: {sizes:?} bytes");
}

#[test]
fn the_cap_bounds_what_expiry_does_not_and_counts_it() {
    let config = RulesConfig {
        max_keys_per_rule: 500,
        ..RulesConfig::default()
    };
    let events = distinct_stream(3, 5 * SEC);
    let mut detector = Detector::new(config).expect("config");
    feed(&mut detector, &events);
    let stats = detector.stats();
    for (rule, keys) in &stats.keys {
        assert!(*keys <= 500, "{rule}: {keys}");
    }
    assert!(stats.evicted["okta.stolen_session"] > 0, "{stats:?}");
    assert!(stats.evicted["okta.geo_improbable_access"] > 0, "{stats:?}");
}

#[test]
fn expiry_changes_no_alert() {
    // Alerts of sessions, logins and failures spread over days, with gaps longer than every
    // horizon: the same alerts as a detector that never expires (a run cut into pieces that
    // each start from the saved state, expired or not, gives the same).
    let mut events = Vec::new();
    for day in 0..3i64 {
        let at = day * 30 * HOUR;
        events.push(
            Ev::new(&format!("a{day}"), at, "user.session.start", "SUCCESS")
                .actor("mallory@x")
                .geo("Paris", 48.85, 2.35)
                .asn(1)
                .session("sid-shared"),
        );
        events.push(
            Ev::new(
                &format!("b{day}"),
                at + HOUR,
                "user.session.start",
                "SUCCESS",
            )
            .actor("mallory@x")
            .geo("Sydney", -33.87, 151.21)
            .asn(2)
            .session("sid-shared"),
        );
        for i in 0..5 {
            events.push(
                Ev::new(
                    &format!("f{day}-{i}"),
                    at + 2 * HOUR + i * 60 * SEC,
                    "user.session.start",
                    "FAILURE",
                )
                .actor("victim@x"),
            );
        }
    }
    let alerts = run(RulesConfig::default(), &events);
    let ids: Vec<&str> = alerts.iter().map(|a| a.rule.id).collect();
    // Each day: a session moved, an impossible trip, a brute force.
    for rule in [
        "okta.stolen_session",
        "okta.geo_improbable_access",
        "okta.brute_force_logins",
    ] {
        assert_eq!(
            ids.iter().filter(|r| **r == rule).count(),
            3,
            "{rule}: {ids:?}"
        );
    }
    // Cut anywhere, restored: the same alerts.
    for cut in [1, 7, 8, 15, 20] {
        let mut first = Detector::new(RulesConfig::default()).expect("config");
        let mut got = feed(&mut first, &events[..cut]);
        let text = serde_json::to_string(&first.state()).expect("state");
        let state: DetectorState = serde_json::from_str(&text).expect("reads");
        let mut second = Detector::restore(RulesConfig::default(), state).expect("restore");
        assert!(second.restore_notes().is_empty());
        got.extend(feed(&mut second, &events[cut..]));
        assert_eq!(got, alerts, "cut at {cut}");
    }
}

#[test]
fn a_version_1_state_restores() {
    // Written by the build before the compact layout: long names, triggers as objects.
    let mut rules = BTreeMap::new();
    rules.insert(
        "okta.brute_force_logins".to_string(),
        json!({"victim@x": {"hits": [
            {"ts": T0_MS, "id": "v1-a"}, {"ts": T0_MS + 60_000, "id": "v1-b"},
            {"ts": T0_MS + 120_000, "id": "v1-c"}, {"ts": T0_MS + 180_000, "id": "v1-d"}],
            "last_seen": T0_MS + 180_000}}),
    );
    rules.insert(
        "okta.stolen_session".to_string(),
        json!({"sid:s1": {"first": {"ts": T0_MS, "id": "v1-s"}, "ip": "198.51.100.1",
               "asn": 1, "last_seen": T0_MS, "alerted": false}}),
    );
    rules.insert(
        "okta.geo_improbable_access".to_string(),
        json!({"mallory@x": {"ts": T0_MS, "id": "v1-g", "lat": 48.85, "lon": 2.35,
               "city": "Paris", "country": "France", "ip": "198.51.100.1"}}),
    );
    let state = DetectorState {
        version: 1,
        rules,
        latest: None,
    };
    let mut detector = Detector::restore(RulesConfig::default(), state).expect("restores");
    assert!(
        detector.restore_notes().is_empty(),
        "{:?}",
        detector.restore_notes()
    );
    let events = [
        Ev::new("n1", 240_000, "user.session.start", "FAILURE").actor("victim@x"),
        Ev::new("n2", 300_000, "user.session.start", "SUCCESS")
            .actor("mallory@x")
            .geo("Sydney", -33.87, 151.21)
            .asn(2)
            .session("s1"),
    ];
    let alerts = feed(&mut detector, &events);
    let fired: Vec<(&str, Vec<&str>)> = alerts
        .iter()
        .map(|a| {
            (
                a.rule.id,
                a.triggers.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
            )
        })
        .collect();
    assert!(fired.contains(&(
        "okta.brute_force_logins",
        vec!["v1-a", "v1-b", "v1-c", "v1-d", "n1"]
    )));
    assert!(fired.contains(&("okta.stolen_session", vec!["v1-s", "n2"])));
    assert!(fired.contains(&("okta.geo_improbable_access", vec!["v1-g", "n2"])));
    // Saved again, it is the current version.
    assert_eq!(detector.state().version, STATE_VERSION);
}

#[test]
fn unreadable_state_is_dropped_with_a_reason() {
    let mut rules = BTreeMap::new();
    rules.insert("okta.brute_force_logins".to_string(), json!([1, 2, 3]));
    rules.insert("okta.retired".to_string(), json!({}));
    let state = DetectorState {
        version: 1,
        rules,
        latest: None,
    };
    let detector = Detector::restore(RulesConfig::default(), state).expect("never fails");
    let notes = detector.restore_notes().join("\n");
    assert!(
        notes.contains("okta.brute_force_logins") && notes.contains("does not read"),
        "{notes}"
    );
    assert!(notes.contains("okta.retired"), "{notes}");
}

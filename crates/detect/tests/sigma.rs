//! Sigma rules: the shipped SigmaHQ Okta rules and their cases, alert documents, correlation
//! rules (event count, value count, temporal) on `published` time, and their state saved and
//! restored like the built-in rules' (a replay after a restore gives the uninterrupted alerts).

mod support;

use std::path::{Path, PathBuf};

use oktaflow_detect::sigma::{cases_path, test_rules_dir};
use oktaflow_detect::{
    Alert, DetectError, Detector, DetectorState, RulesConfig, SigmaRules, SIGMA_RULESET,
};
use support::*;

fn shipped_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/sigma/okta")
}

const CORRELATIONS: &str = r#"
title: Failed Okta sign-in
id: 6a1c0000-0000-4000-8000-000000000001
name: okta_failed_sign_in
description: One failed sign-in.
author: oktaflow tests
logsource: { product: okta, service: okta }
detection:
    selection:
        eventType: user.session.start
        outcome.result: FAILURE
    condition: selection
level: low
---
title: MFA factors reset
id: 6a1c0000-0000-4000-8000-000000000002
name: okta_mfa_reset
logsource: { product: okta, service: okta }
detection:
    selection:
        eventType: user.mfa.factor.reset_all
    condition: selection
level: low
---
title: Admin role granted
id: 6a1c0000-0000-4000-8000-000000000003
name: okta_admin_grant
logsource: { product: okta, service: okta }
detection:
    selection:
        eventType: user.account.privilege.grant
    condition: selection
level: low
---
title: Many failed sign-ins for one account
id: 6a1c0000-0000-4000-8000-0000000000c1
correlation:
    type: event_count
    rules: [okta_failed_sign_in]
    group-by: [actor.alternateId]
    timespan: 10m
    condition: { gte: 3 }
level: high
---
title: One IP failing against many accounts
id: 6a1c0000-0000-4000-8000-0000000000c2
correlation:
    type: value_count
    rules: [okta_failed_sign_in]
    group-by: [client.ipAddress]
    timespan: 15m
    condition: { field: actor.alternateId, gte: 3 }
level: critical
---
title: MFA reset and admin role for one actor
id: 6a1c0000-0000-4000-8000-0000000000c3
correlation:
    type: temporal
    rules: [okta_mfa_reset, okta_admin_grant]
    group-by: [actor.alternateId]
    timespan: 30m
level: high
"#;

const EVENT_COUNT: &str = "6a1c0000-0000-4000-8000-0000000000c1";
const VALUE_COUNT: &str = "6a1c0000-0000-4000-8000-0000000000c2";
const TEMPORAL: &str = "6a1c0000-0000-4000-8000-0000000000c3";

fn correlations() -> SigmaRules {
    SigmaRules::from_yaml("correlations.yml", CORRELATIONS).expect("the correlation rules load")
}

fn sigma_detector(rules: &SigmaRules) -> Detector {
    Detector::with_sigma(RulesConfig::none(), rules).expect("detector")
}

fn fail(id: &str, at: i64, user: &str, ip: &str) -> Ev {
    Ev::new(id, at, "user.session.start", "FAILURE")
        .actor(user)
        .ip(ip)
}

fn rule_ids(alerts: &[Alert]) -> Vec<&str> {
    alerts.iter().map(|a| a.rule.id).collect()
}

#[test]
fn every_shipped_rule_loads_and_passes_its_cases() {
    let dir = shipped_dir();
    let rules = SigmaRules::load(std::slice::from_ref(&dir)).expect("every shipped rule loads");
    assert_eq!(rules.sources().len(), 21, "the 21 SigmaHQ Okta rules");
    let outcomes = test_rules_dir(&dir).expect("cases run");
    let failed: Vec<_> = outcomes.iter().filter(|o| !o.passed()).collect();
    assert!(failed.is_empty(), "failed cases: {failed:#?}");
    // Every rule has a case where it fires and one where it stays quiet.
    for source in rules.sources() {
        assert!(
            cases_path(Path::new(&source.name)).is_file(),
            "{}",
            source.name
        );
        for id in &source.rule_ids {
            let mine: Vec<_> = outcomes
                .iter()
                .filter(|o| o.file == cases_path(Path::new(&source.name)).display().to_string())
                .collect();
            assert!(
                mine.iter().any(|o| o.expected.contains(id)),
                "{id}: no positive case"
            );
            assert!(
                mine.iter().any(|o| o.expected.is_empty()),
                "{id}: no negative case"
            );
        }
    }
}

#[test]
fn a_failing_case_and_a_missing_case_file_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rule = std::fs::read_to_string(shipped_dir().join("okta_api_token_created.yml"))
        .expect("shipped rule");
    std::fs::write(dir.path().join("token.yml"), &rule).expect("write");
    std::fs::write(
        dir.path().join("other.yml"),
        rule.replace("19951c21", "29951c21"),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("token.tests.json"),
        r#"{"cases":[{"name":"wrongly expects nothing","expect":[],
            "events":[{"uuid":"a","published":"2024-05-01T10:00:00Z",
                       "eventType":"system.api_token.create"}]}]}"#,
    )
    .expect("write");
    let outcomes = test_rules_dir(dir.path()).expect("runs");
    assert_eq!(outcomes.len(), 2);
    let other = outcomes
        .iter()
        .find(|o| o.file.ends_with("other.yml"))
        .expect("other");
    assert!(!other.passed());
    assert!(other
        .error
        .as_deref()
        .is_some_and(|e| e.contains("no test cases")));
    let token = outcomes
        .iter()
        .find(|o| o.file.ends_with("token.tests.json"))
        .expect("token");
    assert!(!token.passed());
    assert_eq!(token.got, vec!["19951c21-229d-4ccb-8774-b993c3ff3c5c"]);
}

#[test]
fn a_sigma_alert_is_an_alert_document() {
    let rules =
        SigmaRules::load(&[shipped_dir().join("okta_user_session_start_via_anonymised_proxy.yml")])
            .expect("loads");
    let mut ev = Ev::new("p1", 0, "user.session.start", "SUCCESS").actor("alice@example.com");
    ev.v["securityContext"] = serde_json::json!({ "isProxy": true, "asNumber": 9009 });
    let alerts = feed(&mut sigma_detector(&rules), std::slice::from_ref(&ev));
    assert_eq!(alerts.len(), 1);
    let again = feed(&mut sigma_detector(&rules), std::slice::from_ref(&ev));
    assert_eq!(alerts, again, "same event, same alert and id");
    let doc = &alerts[0].document();
    assert_eq!(doc["event"]["kind"], "alert");
    assert_eq!(doc["event"]["id"], alerts[0].id.as_str());
    assert_eq!(doc["rule"]["id"], "bde30855-5c53-4c18-ae90-1ff79ebc9578");
    assert_eq!(
        doc["rule"]["name"],
        "Okta User Session Start Via An Anonymising Proxy Service"
    );
    assert_eq!(doc["rule"]["ruleset"], SIGMA_RULESET);
    assert!(doc["rule"]["description"]
        .as_str()
        .is_some_and(|d| d.contains("anonymising proxy")));
    assert_eq!(
        doc["rule"]["reference"][0],
        "https://developer.okta.com/docs/reference/api/system-log/"
    );
    assert_eq!(doc["rule"]["author"][0], "kelnage");
    // level: high
    assert_eq!(doc["labels"]["severity"], "high");
    assert_eq!(doc["event"]["risk_score"], 73);
    assert_eq!(doc["oktaflow"]["alert"]["event_ids"][0], "p1");
    assert_eq!(doc["user"]["name"], "alice@example.com");
}

#[test]
fn event_count_fires_at_the_threshold_on_published_time_then_starts_over() {
    let rules = correlations();
    let events = [
        // alice: 3 failures within 10 minutes → one alert at the third.
        fail("a1", 0, "alice@x", "198.51.100.1"),
        fail("a2", 4 * MIN, "alice@x", "198.51.100.1"),
        fail("a3", 9 * MIN, "alice@x", "198.51.100.1"),
        // alice again: the window started over at the alert, so a2, a3 (within 10 minutes
        // of a4) are not counted again: a4, a5 raise nothing, a6 a second alert.
        fail("a4", 12 * MIN, "alice@x", "198.51.100.1"),
        fail("a5", 13 * MIN, "alice@x", "198.51.100.1"),
        fail("a6", 14 * MIN, "alice@x", "198.51.100.1"),
        // bob: 3 failures spread over 12 minutes → nothing.
        fail("b1", 20 * MIN, "bob@x", "198.51.100.2"),
        fail("b2", 26 * MIN, "bob@x", "198.51.100.2"),
        fail("b3", 32 * MIN, "bob@x", "198.51.100.2"),
    ];
    let alerts = feed(&mut sigma_detector(&rules), &events);
    assert_eq!(
        rule_ids(&alerts),
        vec![EVENT_COUNT, EVENT_COUNT],
        "{alerts:#?}"
    );
    assert_eq!(trigger_ids(&alerts[1]), vec!["a4", "a5", "a6"]);
    assert_ne!(alerts[0].id, alerts[1].id);
    let alert = &alerts[0];
    assert_eq!(trigger_ids(alert), vec!["a1", "a2", "a3"]);
    assert_eq!(alert.group, "actor.alternateId=alice@x");
    assert_eq!(alert.document()["labels"]["severity"], "high");
    assert_eq!(
        alert.document()["@timestamp"],
        events[2].v["published"].as_str().expect("text")
    );
    // Only the correlation alerted: the referenced detection rule raises nothing itself
    // (Sigma: `generate` defaults to false), checked by `rule_ids` above.
}

#[test]
fn value_count_counts_distinct_values() {
    let rules = correlations();
    let events = [
        // One IP, one account three times → no value_count alert (event_count fires).
        fail("s1", 0, "u1@x", "203.0.113.7"),
        fail("s2", MIN, "u1@x", "203.0.113.7"),
        fail("s3", 2 * MIN, "u1@x", "203.0.113.7"),
        // Two more accounts from the same IP → the third distinct account alerts.
        fail("s4", 3 * MIN, "u2@x", "203.0.113.7"),
        fail("s5", 4 * MIN, "u3@x", "203.0.113.7"),
    ];
    let alerts = feed(&mut sigma_detector(&rules), &events);
    assert_eq!(rule_ids(&alerts), vec![EVENT_COUNT, VALUE_COUNT]);
    assert_eq!(alerts[1].group, "client.ipAddress=203.0.113.7");
    assert_eq!(alerts[1].document()["labels"]["severity"], "critical");
}

#[test]
fn temporal_needs_every_rule_within_the_timespan() {
    let rules = correlations();
    let reset = |id: &str, at: i64, user: &str| {
        Ev::new(id, at, "user.mfa.factor.reset_all", "SUCCESS").actor(user)
    };
    let grant = |id: &str, at: i64, user: &str| {
        Ev::new(id, at, "user.account.privilege.grant", "SUCCESS").actor(user)
    };
    let events = [
        reset("t1", 0, "mallory@x"),
        grant("t2", 20 * MIN, "mallory@x"), // within 30 minutes → alert
        reset("t3", 60 * MIN, "trent@x"),
        grant("t4", 100 * MIN, "trent@x"), // 40 minutes later → nothing
        grant("t5", 110 * MIN, "walter@x"), // only one of the two → nothing
    ];
    let alerts = feed(&mut sigma_detector(&rules), &events);
    assert_eq!(rule_ids(&alerts), vec![TEMPORAL], "{alerts:#?}");
    assert_eq!(trigger_ids(&alerts[0]), vec!["t1", "t2"]);
}

/// A stream where all three correlations fire several times, with noise.
fn correlation_stream() -> Vec<Ev> {
    let mut events = Vec::new();
    for minute in 0..150i64 {
        let at = minute * MIN;
        let user = format!("user{}@x", minute % 4);
        events.push(fail(&format!("f{minute:03}"), at, &user, "203.0.113.9"));
        if minute % 3 == 0 {
            events.push(fail(
                &format!("g{minute:03}"),
                at + 10_000,
                "solo@x",
                "198.51.100.5",
            ));
        }
        if minute % 25 == 0 {
            events.push(
                Ev::new(
                    &format!("r{minute:03}"),
                    at + 20_000,
                    "user.mfa.factor.reset_all",
                    "SUCCESS",
                )
                .actor("mallory@x"),
            );
        }
        if minute % 25 == 10 {
            events.push(
                Ev::new(
                    &format!("p{minute:03}"),
                    at + 30_000,
                    "user.account.privilege.grant",
                    "SUCCESS",
                )
                .actor("mallory@x"),
            );
        }
        events.push(
            Ev::new(
                &format!("n{minute:03}"),
                at + 40_000,
                "user.session.start",
                "SUCCESS",
            )
            .actor("noise@x"),
        );
    }
    events
}

fn save(detector: &Detector) -> DetectorState {
    let text = serde_json::to_string(&detector.state()).expect("state serializes");
    serde_json::from_str(&text).expect("state reads back")
}

#[test]
fn restore_at_every_cut_point_gives_the_uninterrupted_sigma_alerts() {
    let rules = correlations();
    let config = RulesConfig::default; // built-in rules on too: one state for both
    let events = correlation_stream();
    let mut detector = Detector::with_sigma(config(), &rules).expect("detector");
    let mut states = vec![save(&detector)];
    let mut per_event = Vec::new();
    for ev in &events {
        per_event.push(feed(&mut detector, std::slice::from_ref(ev)));
        states.push(save(&detector));
    }
    let all = per_event.concat();
    for id in [EVENT_COUNT, VALUE_COUNT, TEMPORAL] {
        assert!(
            all.iter().filter(|a| a.rule.id == id).count() >= 2,
            "{id} fires on the stream"
        );
    }
    let mut unique: Vec<&str> = all.iter().map(|a| a.id.as_str()).collect();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), all.len(), "alert ids are unique");
    const BATCH: usize = 30;
    for cut in 0..events.len() {
        let end = (cut + BATCH).min(events.len());
        let mut restored =
            Detector::restore_with_sigma(config(), &rules, states[cut].clone()).expect("restore");
        let replayed = feed(&mut restored, &events[cut..end]);
        assert_eq!(
            replayed,
            per_event[cut..end].concat(),
            "cut after event {cut}"
        );
        assert_eq!(
            save(&restored),
            states[end],
            "state after replaying from {cut}"
        );
    }
}

#[test]
fn state_of_a_removed_correlation_is_dropped() {
    let rules = correlations();
    let mut detector = sigma_detector(&rules);
    feed(
        &mut detector,
        &[
            fail("x1", 0, "alice@x", "198.51.100.1"),
            fail("x2", MIN, "alice@x", "198.51.100.1"),
        ],
    );
    let state = save(&detector);
    let held = state.rules["sigma"]["windows"].clone();
    assert!(held.get(EVENT_COUNT).is_some(), "{held}");
    // The same set without the event_count correlation.
    let docs: Vec<&str> = CORRELATIONS
        .split("\n---\n")
        .filter(|d| !d.contains(EVENT_COUNT))
        .collect();
    let fewer = SigmaRules::from_yaml("fewer.yml", &docs.join("\n---\n")).expect("loads");
    let restored =
        Detector::restore_with_sigma(RulesConfig::none(), &fewer, state).expect("restore");
    let after = save(&restored);
    assert!(after.rules["sigma"]["windows"].get(EVENT_COUNT).is_none());
    assert!(after.rules["sigma"]["windows"].get(VALUE_COUNT).is_some());
}

#[test]
fn bad_rules_are_refused_with_their_file() {
    let err = SigmaRules::from_yaml("broken.yml", "title: x\ndetection: [").unwrap_err();
    assert!(err.to_string().contains("broken.yml"), "{err}");
    let unknown_ref = r#"
title: Counting nothing
correlation:
    type: event_count
    rules: [no_such_rule]
    timespan: 5m
    condition: { gte: 2 }
"#;
    let err = SigmaRules::from_yaml("ref.yml", unknown_ref).unwrap_err();
    assert!(err.to_string().contains("ref.yml"), "{err}");
    let twice = format!(
        "{}\n---\n{}",
        CORRELATIONS.split("\n---\n").next().expect("first"),
        CORRELATIONS.split("\n---\n").next().expect("first")
    );
    let err = SigmaRules::from_yaml("twice.yml", &twice).unwrap_err();
    assert!(err.to_string().contains("defined twice"), "{err}");
    let err = SigmaRules::load(&[PathBuf::from("/nonexistent/rules")]).unwrap_err();
    assert!(matches!(err, DetectError::RuleFile { .. }), "{err}");
}

#[test]
fn configured_rule_paths_are_loaded_by_detector_load_only() {
    let mut config = RulesConfig::none();
    config.rules = vec![shipped_dir()];
    assert!(matches!(
        Detector::new(config.clone()),
        Err(DetectError::SigmaNotLoaded)
    ));
    let mut detector = Detector::load(config).expect("loads the shipped rules");
    let alerts = feed(
        &mut detector,
        &[Ev::new("k1", 0, "system.api_token.create", "SUCCESS")],
    );
    assert_eq!(
        rule_ids(&alerts),
        vec!["19951c21-229d-4ccb-8774-b993c3ff3c5c"]
    );
}

#[test]
fn the_detector_can_move_to_another_thread() {
    fn send<T: Send>(_: &T) {}
    send(&sigma_detector(&correlations()));
}

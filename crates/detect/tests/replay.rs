//! Exactly once with state: the state saved after batch N, restored, then batch N+1 replayed,
//! gives the same alerts (same ids, same documents) as an uninterrupted run; a crash that loses
//! everything since the last checkpoint only replays alerts with the ids already written.
//! Also: bounded state, and state surviving a change of the rule set.

mod support;

use std::collections::BTreeMap;

use oktaflow_detect::{Alert, Detector, DetectorState, RulesConfig};
use proptest::prelude::*;
use support::*;

/// A stream with every stateful rule firing several times, interleaved with noise.
fn attack_stream() -> Vec<Ev> {
    let mut events = Vec::new();
    let mut n = 0;
    let mut next = |events: &mut Vec<Ev>, at: i64, make: &dyn Fn(String, i64) -> Ev| {
        n += 1;
        events.push(make(format!("e{n:04}"), at));
    };
    for minute in 0..180i64 {
        let at = minute * MIN;
        // Brute force on two accounts, paced one failure a minute.
        for (user, every) in [("alice@x", 1), ("bob@x", 2)] {
            if minute % every == 0 {
                next(&mut events, at, &|id, t| {
                    Ev::new(&id, t, "user.session.start", "FAILURE").actor(user)
                });
            }
        }
        // Spraying: one IP, a new account every 30 seconds.
        next(&mut events, at + 30_000, &|id, t| {
            Ev::new(&id, t, "user.session.start", "FAILURE")
                .actor(&format!("victim{}@x", minute % 40))
                .ip("203.0.113.66")
        });
        // Push bombing every other minute.
        if minute % 2 == 1 {
            next(&mut events, at + 10_000, &|id, t| {
                Ev::new(&id, t, "user.mfa.okta_verify.deny_push", "SUCCESS").actor("carol@x")
            });
        }
        // Logins alternating between two far cities for one user, every 20 minutes.
        if minute % 20 == 0 {
            let (city, lat, lon) = if (minute / 20) % 2 == 0 {
                ("Paris", 48.85, 2.35)
            } else {
                ("Sydney", -33.87, 151.21)
            };
            next(&mut events, at + 5_000, &|id, t| {
                Ev::new(&id, t, "user.session.start", "SUCCESS")
                    .actor("dave@x")
                    .geo(city, lat, lon)
            });
        }
        // A new session every 15 minutes, used from a second network 7 minutes later.
        let sid = format!("sid{}", minute / 15);
        let asn = if minute % 15 >= 7 { 64_500 } else { 7922 };
        next(&mut events, at + 20_000, &|id, t| {
            Ev::new(&id, t, "user.authentication.sso", "SUCCESS")
                .actor("erin@x")
                .session(&sid)
                .asn(asn)
        });
        // Single-event rules now and then; plain noise every minute.
        if minute % 37 == 0 {
            next(&mut events, at + 40_000, &|id, t| {
                Ev::new(&id, t, "system.api_token.create", "SUCCESS")
            });
        }
        next(&mut events, at + 50_000, &|id, t| {
            Ev::new(&id, t, "user.session.start", "SUCCESS").actor("frank@x")
        });
    }
    events
}

/// The stream and the alerts of its uninterrupted run, computed once for all tests.
fn stream_and_alerts() -> &'static (Vec<Ev>, Vec<Alert>) {
    static ONCE: std::sync::OnceLock<(Vec<Ev>, Vec<Alert>)> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        let events = attack_stream();
        let alerts = run(RulesConfig::default(), &events);
        (events, alerts)
    })
}

fn ids(alerts: &[Alert]) -> Vec<String> {
    alerts.iter().map(|a| a.id.clone()).collect()
}

/// Saves state as the pipeline would (serialized into the checkpoint) and reads it back.
fn save(detector: &Detector) -> DetectorState {
    let text = serde_json::to_string(&detector.state()).expect("state serializes");
    serde_json::from_str(&text).expect("state reads back")
}

#[test]
fn the_stream_fires_every_stateful_rule() {
    let alerts = &stream_and_alerts().1;
    let mut per_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for a in alerts {
        *per_rule.entry(a.rule.id).or_default() += 1;
    }
    for rule in [
        "okta.brute_force_logins",
        "okta.password_spraying",
        "okta.mfa_push_bombing",
        "okta.geo_improbable_access",
        "okta.stolen_session",
        "okta.api_key_created",
    ] {
        assert!(
            per_rule.get(rule).copied().unwrap_or(0) >= 2,
            "{rule}: {per_rule:?}"
        );
    }
    let mut unique = ids(alerts);
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), alerts.len(), "alert ids are unique");
}

#[test]
fn restore_at_every_cut_point_gives_the_uninterrupted_alerts() {
    // The uninterrupted run, with its state after every event and the alerts of every event.
    let (events, expected) = stream_and_alerts();
    let mut detector = Detector::new(RulesConfig::default()).expect("config");
    let mut states = vec![save(&detector)];
    let mut per_event = Vec::new();
    for ev in events {
        per_event.push(feed(&mut detector, std::slice::from_ref(ev)));
        states.push(save(&detector));
    }
    assert_eq!(&per_event.concat(), expected);
    // At every cut point: restore the state saved there and replay the next batch. Same
    // alerts (ids and documents), and the same state at the end of the batch.
    const BATCH: usize = 40;
    for cut in 0..events.len() {
        let end = (cut + BATCH).min(events.len());
        let mut restored =
            Detector::restore(RulesConfig::default(), states[cut].clone()).expect("restore");
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// Batches of random sizes; after some batches the process "crashes" part-way through the
    /// next one (its alerts up to there were written, its state was not saved) and restarts
    /// from the last checkpoint. Every alert written is one of the uninterrupted run's, with
    /// the same document; deduplicated by id (as an idempotent store does) they are exactly
    /// the uninterrupted run's alerts.
    #[test]
    fn crashes_and_replays_write_each_alert_once_by_id(
        batches in prop::collection::vec(1usize..60, 1..40),
        crashes in prop::collection::vec((any::<bool>(), 0usize..60), 40),
    ) {
        let (events, expected) = stream_and_alerts();
        let by_id: BTreeMap<String, &Alert> = expected.iter().map(|a| (a.id.clone(), a)).collect();

        let mut written: Vec<Alert> = Vec::new();
        let mut checkpoint = (0usize, DetectorState::default());
        let mut detector = Detector::new(RulesConfig::default()).expect("config");
        let mut at = 0;
        let mut sizes = batches.iter().cycle();
        let mut crash_plan = crashes.iter().cycle();
        let mut steps = 0;
        while at < events.len() {
            steps += 1;
            prop_assert!(steps < 10_000, "no progress");
            let size = *sizes.next().expect("cycle");
            let end = (at + size).min(events.len());
            let (crash, crash_after) = *crash_plan.next().expect("cycle");
            if crash && steps % 3 == 0 {
                // Part of the batch is observed and its alerts written, then kill -9.
                let partial = (at + crash_after % size).min(end);
                written.extend(feed(&mut detector, &events[at..partial]));
                detector = Detector::restore(RulesConfig::default(), checkpoint.1.clone())
                    .expect("restore");
                at = checkpoint.0;
                continue;
            }
            written.extend(feed(&mut detector, &events[at..end]));
            checkpoint = (end, save(&detector));
            at = end;
        }
        for alert in &written {
            let original = by_id.get(&alert.id);
            prop_assert!(original.is_some(), "alert {} is not in the uninterrupted run", alert.id);
            prop_assert_eq!(*original.expect("checked"), alert);
        }
        let mut got: Vec<String> = ids(&written);
        got.sort();
        got.dedup();
        let mut want = ids(expected);
        want.sort();
        prop_assert_eq!(got, want);
    }
}

#[test]
fn state_is_bounded_and_evictions_are_counted() {
    let config = RulesConfig {
        max_keys_per_rule: 50,
        ..RulesConfig::default()
    };
    let events: Vec<Ev> = (0..1_000)
        .map(|i| {
            Ev::new(&format!("f{i}"), i * 1_000, "user.session.start", "FAILURE")
                .actor(&format!("user{i}@x"))
                .ip(&format!("10.0.{}.{}", i / 250, i % 250))
        })
        .collect();
    let mut detector = Detector::new(config).expect("config");
    feed(&mut detector, &events);
    let stats = detector.stats();
    for rule in ["okta.brute_force_logins", "okta.password_spraying"] {
        assert!(stats.keys[rule] <= 50, "{rule}: {stats:?}");
        assert!(stats.evicted[rule] >= 950, "{rule}: {stats:?}");
    }
    assert_eq!(stats.events, 1_000);
    // The newest users are the ones kept.
    let state = detector.state();
    let brute = state.rules["okta.brute_force_logins"]
        .as_object()
        .expect("map");
    assert!(brute.contains_key("user999@x"));
    assert!(!brute.contains_key("user0@x"));
}

#[test]
fn removed_or_disabled_rules_state_is_dropped_on_restore() {
    let events: Vec<Ev> = (0..3)
        .map(|i| Ev::new(&format!("f{i}"), i * MIN, "user.session.start", "FAILURE").actor("a@x"))
        .collect();
    let mut detector = Detector::new(RulesConfig::default()).expect("config");
    feed(&mut detector, &events);
    let mut state = save(&detector);
    assert!(state.rules.contains_key("okta.brute_force_logins"));
    // A rule of an older build that no longer exists.
    state
        .rules
        .insert("okta.retired_rule".into(), serde_json::json!({"k": 1}));
    let mut config = RulesConfig::default();
    config.brute_force_logins.enabled = false;
    let restored = Detector::restore(config, state.clone()).expect("restore");
    let after = restored.state();
    assert!(!after.rules.contains_key("okta.brute_force_logins"));
    assert!(!after.rules.contains_key("okta.retired_rule"));
    assert!(after.rules.contains_key("okta.password_spraying"));
    // Turned on again later, the rule starts empty: two more failures do not reach five.
    let mut again = Detector::restore(RulesConfig::default(), after).expect("restore");
    let more: Vec<Ev> = (3..5)
        .map(|i| Ev::new(&format!("f{i}"), i * MIN, "user.session.start", "FAILURE").actor("a@x"))
        .collect();
    assert!(feed(&mut again, &more).is_empty());
    // With its state kept, the same two failures complete the window.
    let mut kept = Detector::restore(RulesConfig::default(), state).expect("restore");
    assert_eq!(feed(&mut kept, &more).len(), 1);
}

#[test]
fn state_of_a_newer_format_is_refused() {
    let state = DetectorState {
        version: oktaflow_detect::STATE_VERSION + 1,
        rules: BTreeMap::new(),
        latest: None,
    };
    let err = Detector::restore(RulesConfig::default(), state)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("not supported"), "{err}");
}

/// The pipeline journals [`Detector::write_changes`] after each batch instead of the whole
/// state: a full state written with [`Detector::write_state`] plus the journaled changes,
/// applied in order, must be exactly the detector's state at every batch boundary, and a
/// detector restored from it must go on with the uninterrupted alerts. Also with a cap small
/// enough that keys are evicted (removals are journaled too).
#[test]
fn a_full_state_plus_journaled_changes_is_the_state_at_every_batch() {
    let (events, expected) = stream_and_alerts();
    for cap in [100_000usize, 12] {
        let config = RulesConfig {
            max_keys_per_rule: cap,
            ..RulesConfig::default()
        };
        let expected_here = if cap == 100_000 {
            expected.clone()
        } else {
            run(config.clone(), events)
        };
        let mut detector = Detector::new(config.clone()).expect("config");
        let mut alerts = Vec::new();
        // The first batch's state is written whole, the next ones as changes.
        let mut journal: Option<DetectorState> = None;
        for (n, batch) in events.chunks(37).enumerate() {
            alerts.extend(feed(&mut detector, batch));
            match &mut journal {
                None => {
                    let mut bytes = Vec::new();
                    detector.write_state(&mut bytes).expect("writes");
                    detector.clear_changes();
                    let full: DetectorState = serde_json::from_slice(&bytes).expect("reads back");
                    assert_eq!(full, save(&detector), "written whole at batch {n}");
                    journal = Some(full);
                }
                Some(state) => {
                    // The pipeline's line, written straight from the maps; every other batch
                    // the form of earlier builds (entries as JSON trees, members sorted),
                    // which a journal may still hold.
                    let line = if n % 2 == 0 {
                        let mut line = Vec::new();
                        detector.write_changes(&mut line).expect("writes");
                        line
                    } else {
                        serde_json::to_vec(&detector.take_changes()).expect("serializes")
                    };
                    state.apply(serde_json::from_slice(&line).expect("reads back"));
                    assert_eq!(state, &save(&detector), "cap {cap}, batch {n}");
                }
            }
            // Restoring from the journaled state and going on gives the same alerts.
            if n % 9 == 4 {
                let restored = journal.clone().expect("present");
                let mut other = Detector::restore(config.clone(), restored).expect("restores");
                let mut replayed = alerts.clone();
                replayed.extend(feed(&mut other, &events[(n + 1) * 37..]));
                assert_eq!(ids(&replayed), ids(&expected_here), "cap {cap}, cut {n}");
            }
        }
        assert_eq!(ids(&alerts), ids(&expected_here));
        // Nothing changed since the last take: the next changes are empty but for `latest`.
        assert!(detector.take_changes().rules.is_empty());
    }
}

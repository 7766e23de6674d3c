//! The Sigma pre-check and the projection of events for the engine change nothing but speed:
//! the alerts (documents and ids) and the state with each on and off are equal, over the detect
//! bench's events, the fixtures, the shipped rules' cases, and events built to trip a careless
//! pre-check or projection (field names in another case, flat dotted keys, arrays, booleans,
//! numbers, escapes, duplicate members, input the whole parse refuses, envelopes).

#[path = "../benches/support/events.rs"]
mod bench_events;

use std::path::{Path, PathBuf};

use oktaflow_detect::{Detector, EventView, RulesConfig, SigmaRules};
use serde_json::{json, Value};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shipped() -> SigmaRules {
    SigmaRules::load(&[repo().join("rules/sigma/okta")]).expect("the shipped rules load")
}

/// Rules beyond the shipped ones: other modifiers, an `or`, a `not`, a cased literal, a
/// number, a nested array field, a correlation over a gated rule.
const EXTRA: &str = r#"
title: Extra contains and startswith
id: 7e570000-0000-4000-8000-000000000001
logsource: {product: okta, service: okta}
detection:
    a:
        client.userAgent.rawUserAgent|contains: 'CURL'
    b:
        target.alternateId|startswith: 'svc-'
        eventType|endswith: '.grant'
    condition: a or b
level: low
---
title: Extra cased and number
id: 7e570000-0000-4000-8000-000000000002
logsource: {product: okta, service: okta}
detection:
    sel:
        outcome.reason|cased: 'INVALID_CREDENTIALS'
        securityContext.asNumber: 64496
    filter:
        actor.type: 'SystemPrincipal'
    condition: sel and not filter
level: low
---
title: Extra all of
id: 7e570000-0000-4000-8000-000000000003
name: extra_all_of
logsource: {product: okta, service: okta}
detection:
    sel_one:
        debugContext.debugData.behaviors|contains|all:
            - 'New Geo-Location=POSITIVE'
            - 'New Device=POSITIVE'
    sel_two:
        eventType: user.session.start
    condition: all of sel_*
level: medium
---
title: Extra correlation
id: 7e570000-0000-4000-8000-000000000004
correlation:
    type: event_count
    rules:
        - extra_all_of
    group-by:
        - actor.alternateId
    timespan: 1h
    condition:
        gte: 2
level: high
"#;

fn extra() -> SigmaRules {
    SigmaRules::from_yaml("extra.yml", EXTRA).expect("the extra rules load")
}

fn all_rules() -> SigmaRules {
    let mut text = String::new();
    for entry in std::fs::read_dir(repo().join("rules/sigma/okta")).expect("rules dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "yml") {
            text.push_str(&std::fs::read_to_string(&path).expect("rule"));
            text.push_str("\n---\n");
        }
    }
    text.push_str(EXTRA);
    SigmaRules::from_yaml("all.yml", &text).expect("shipped + extra load")
}

/// Every alert (as its JSON text) and the final state, with the pre-check `on` or off.
fn run(rules: &SigmaRules, config: RulesConfig, events: &[Vec<u8>], on: bool) -> Vec<String> {
    let mut detector = Detector::with_sigma(config, rules).expect("detector");
    detector.set_sigma_gate(on);
    let mut alerts = Vec::new();
    for raw in events {
        if let Ok(view) = EventView::from_bytes(raw, None) {
            detector.observe_into(&view, &mut alerts);
        }
    }
    let mut out: Vec<String> = alerts.iter().map(|a| a.to_json()).collect();
    out.push(serde_json::to_string(&detector.state()).expect("state"));
    out
}

fn assert_same(rules: &SigmaRules, events: &[Vec<u8>], what: &str) -> usize {
    let on = run(rules, RulesConfig::none(), events, true);
    let off = run(rules, RulesConfig::none(), events, false);
    assert_eq!(on.len(), off.len(), "{what}: alert counts differ");
    for (a, b) in on.iter().zip(&off) {
        assert_eq!(a, b, "{what}");
    }
    on.len() - 1
}

fn fixtures() -> Vec<Vec<u8>> {
    let mut events: Vec<Vec<u8>> =
        std::fs::read_to_string(repo().join("fixtures/okta-sample.ndjson"))
            .expect("sample")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.as_bytes().to_vec())
            .collect();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(repo().join("fixtures/okta"))
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read(&path).expect("fixture");
        match serde_json::from_slice::<Value>(&text) {
            Ok(Value::Array(items)) => {
                events.extend(items.iter().map(|i| serde_json::to_vec(i).expect("json")))
            }
            Ok(_) => events.push(text),
            Err(_) => {}
        }
    }
    // The shipped rules' own test cases, positives and negatives.
    let mut cases: Vec<PathBuf> = std::fs::read_dir(repo().join("rules/sigma/okta"))
        .expect("rules")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".tests.json"))
        .collect();
    cases.sort();
    for path in cases {
        let v: Value =
            serde_json::from_slice(&std::fs::read(&path).expect("cases")).expect("cases json");
        for case in v["cases"].as_array().into_iter().flatten() {
            for event in case["events"].as_array().into_iter().flatten() {
                events.push(serde_json::to_vec(event).expect("json"));
            }
        }
    }
    events
}

#[test]
fn same_alerts_over_the_bench_events() {
    let events = bench_events::events();
    let alerts = assert_same(&shipped(), &events, "bench events, shipped rules");
    assert!(alerts > 0, "the shipped rules fire on the bench events");
    assert_same(&all_rules(), &events, "bench events, shipped + extra rules");
    // And with the built-in rules on too, as the bench runs them.
    let on = run(&shipped(), RulesConfig::default(), &events, true);
    let off = run(&shipped(), RulesConfig::default(), &events, false);
    assert_eq!(on, off);
}

#[test]
fn same_alerts_over_the_fixtures_and_rule_cases() {
    let events = fixtures();
    assert!(events.len() > 100, "{}", events.len());
    let alerts = assert_same(&shipped(), &events, "fixtures, shipped rules");
    assert!(alerts > 10, "{alerts}");
    assert_same(&all_rules(), &events, "fixtures, shipped + extra rules");
    assert_same(&extra(), &events, "fixtures, extra rules");
}

/// A LogEvent with `extra` merged in at the top.
fn ev(uuid: &str, extra: Value) -> Value {
    let mut v = json!({"uuid": uuid, "published": "2024-05-01T10:00:00.000Z",
                       "eventType": "user.session.start",
                       "actor": {"type": "User", "alternateId": "a@example.com"}});
    if let (Value::Object(base), Value::Object(more)) = (&mut v, extra) {
        base.extend(more);
    }
    v
}

#[test]
fn tricky_spellings_are_let_through() {
    let rules = all_rules();
    let cases = vec![
        // Field names in another case (the Sigma event reads them whatever their case).
        ev(
            "c1",
            json!({"DisplayMessage": "Max sign in attempts exceeded"}),
        ),
        ev(
            "c2",
            json!({"LEGACYEVENTTYPE": "core.user_auth.login_failed",
                         "actor": {"alternateId": "hunter2"}}),
        ),
        ev("c3", json!({"securitycontext": {"ISPROXY": true}})),
        // A flat dotted key.
        ev("c4", json!({"securityContext.isProxy": "true"})),
        // Values in arrays and arrays of objects.
        ev(
            "c5",
            json!({"displayMessage": ["x", "User attempted unauthorized access to app"]}),
        ),
        ev(
            "c6",
            json!({"target": [{"alternateId": "x"}, {"alternateId": "SVC-deploy"}],
                         "eventType": "group.privilege.grant"}),
        ),
        // Booleans and numbers as text, escapes, case of values.
        ev(
            "c7",
            json!({"securityContext": {"isProxy": "TRUE", "asNumber": 64496},
                         "outcome": {"reason": "INVALID_CREDENTIALS"}}),
        ),
        ev(
            "c8",
            json!({"displayMessage": "Max sign in attempts exceeded"}),
        ),
        ev(
            "c9",
            json!({"client": {"userAgent": {"rawUserAgent": "curl/8.1"}}}),
        ),
        ev(
            "c10",
            json!({"debugContext": {"debugData": {"behaviors":
            "{New Geo-Location=POSITIVE, New Device=POSITIVE}"}}}),
        ),
        ev(
            "c11",
            json!({"debugContext": {"debugData": {"behaviors":
            "{New Geo-Location=POSITIVE, New Device=POSITIVE}"}},
            "actor": {"alternateId": "a@example.com"}}),
        ),
        ev(
            "c12",
            json!({"securityContext": {"isProxy": null}, "displayMessage": null}),
        ),
    ];
    let mut events: Vec<Vec<u8>> = cases
        .iter()
        .map(|v| serde_json::to_vec(v).expect("json"))
        .collect();
    // An escaped value and an escaped key.
    events.push(
        br#"{"uuid":"c13","published":"2024-05-01T10:00:00Z","eventType":"user.lifecycle.\u0063reate"}"#
            .to_vec(),
    );
    events.push(
        br#"{"uuid":"c14","published":"2024-05-01T10:00:00Z","eventType":"x","display\u004dessage":"Max sign in attempts exceeded"}"#
            .to_vec(),
    );
    // An EventBridge envelope and a message wrapper.
    let inner = ev("c15", json!({"eventType": "system.api_token.create"}));
    events.push(serde_json::to_vec(&json!({"version": "0", "detail": inner})).expect("json"));
    let inner = ev("c16", json!({"eventType": "zone.delete"}));
    events.push(serde_json::to_vec(&json!({"message": inner.to_string()})).expect("json"));
    let on = run(&rules, RulesConfig::none(), &events, true);
    let off = run(&rules, RulesConfig::none(), &events, false);
    assert_eq!(on, off);
    // Every one of them but c12 raises an alert (c10 and c11 feed the correlation).
    let raised: Vec<Value> = on[..on.len() - 1]
        .iter()
        .map(|a| serde_json::from_str(a).expect("alert json"))
        .collect();
    for id in [
        "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10", "c13", "c14", "c15", "c16",
    ] {
        assert!(
            raised
                .iter()
                .any(|a| a.to_string().contains(&format!("\"{id}\""))),
            "{id} raised nothing: {raised:#?}"
        );
    }
}

#[test]
fn the_pre_check_skips_for_the_shipped_rules_only_when_it_can() {
    let detector = Detector::with_sigma(RulesConfig::none(), &shipped()).expect("detector");
    assert!(detector.sigma_gated(), "the shipped rules are all gated");
    // A keyword rule can match any event: no pre-check.
    let keyword = SigmaRules::from_yaml(
        "kw.yml",
        "title: kw\nlogsource: {product: okta}\ndetection:\n    keywords:\n        - '*evil*'\n    condition: keywords\n",
    )
    .expect("loads");
    let detector = Detector::with_sigma(RulesConfig::none(), &keyword).expect("detector");
    assert!(!detector.sigma_gated());
    let event =
        serde_json::to_vec(&ev("k1", json!({"displayMessage": "something evil"}))).expect("json");
    let on = run(
        &keyword,
        RulesConfig::none(),
        std::slice::from_ref(&event),
        true,
    );
    assert_eq!(on.len(), 2, "{on:?}");
}

#[test]
fn the_byte_prefilter_lets_through_what_it_must() {
    let rules = all_rules();
    let mut events: Vec<Vec<u8>> = [
        // Non-ASCII elsewhere in the event.
        ev(
            "d1",
            json!({"displayMessage": "Max sign in attempts exceeded",
                   "client": {"geographicalContext": {"city": "Zürich"}}}),
        ),
        // A second member named eventType in another case: the rule reads `eventType`.
        ev("d2", json!({"eventType": "x", "EventType": "zone.delete"})),
        // The Kelvin sign folds to an ASCII `k`.
        ev(
            "d4",
            json!({"eventType": "policy.evaluate_sign_on",
                   "target": [{"displayName": "O\u{212A}ta Admin Console"}],
                   "debugContext": {"debugData": {"behaviors": "{New Device=POSITIVE}"}}}),
        ),
        // The name `eventtype` as a value.
        ev(
            "d5",
            json!({"eventType": "zone.delete", "displayMessage": "eventType"}),
        ),
        // `displayMessage` and `legacyEventType` (compared as values when plain) in another
        // case, twice, as a number, beside a canonical one.
        ev(
            "d6",
            json!({"displaymessage": "Max sign in attempts exceeded"}),
        ),
        ev(
            "d7",
            json!({"displayMessage": "x", "DISPLAYMESSAGE": "Max sign in attempts exceeded"}),
        ),
        ev(
            "d8",
            json!({"LegacyEventType": "core.user_auth.login_failed",
                   "actor": {"alternateId": "hunter2"}}),
        ),
        ev("d9", json!({"displayMessage": 42, "legacyEventType": true})),
        ev(
            "d10",
            json!({"legacyEventType": "core.user_auth.login_failed",
                   "actor": {"alternateId": "hunter2"}}),
        ),
    ]
    .iter()
    .map(|v| serde_json::to_vec(v).expect("json"))
    .collect();
    // Escapes other than `\u`: `\/` and `\"` in values.
    events.push(
        br#"{"uuid":"d3","published":"2024-05-01T10:00:00Z","eventType":"x","client":{"userAgent":{"rawUserAgent":"curl\/8.1 \"q\""}},"displayMessage":"User attempted unauthorized access to app"}"#
            .to_vec(),
    );
    // Escapes in the compared values.
    events.push(
        br#"{"uuid":"d11","published":"2024-05-01T10:00:00Z","eventType":"x","displayMessage":"Max sign in attempts exceeded\/"}"#
            .to_vec(),
    );
    events.push(
        br#"{"uuid":"d12","published":"2024-05-01T10:00:00Z","eventType":"x","displayMessage":"Max sign in attempts \u0065xceeded"}"#
            .to_vec(),
    );
    // `requestUri|contains: admin` (searched in the bytes when the reader has no parts): in
    // other cases, other members, twice, escaped, as a number, on other paths.
    for (i, rest) in [
        r#""debugContext":{"debugData":{"requestUri":"/ADMIN/x"}}"#,
        r#""debugContext":{"debugData":{"requesturi":"/Admin"}}"#,
        r#""debugContext":{"debugData":{"requestUri":"/a","requestUri":"/admin"}}"#,
        r#""debugContext":{"debugData":{"requestUri":"\/\u0061dmin"}}"#,
        r#""debugContext":{"debugData":{"requestUri":42}}"#,
        r#""debugContext.debugData.requestUri":"/admin""#,
        r#""debugContext":{"debugData":{"requestUri":["/x","/admin"]}}"#,
        r#""debugContext":{"debugData":{"requestUri":"/x"}},"displayMessage":"admin""#,
    ]
    .iter()
    .enumerate()
    {
        events.push(
            format!(
                r#"{{"uuid":"e{i}","published":"2024-05-01T10:00:00Z","eventType":"x","securityContext":{{"isProxy":true}},{rest}}}"#
            )
            .into_bytes(),
        );
    }
    let on = run(&rules, RulesConfig::none(), &events, true);
    let off = run(&rules, RulesConfig::none(), &events, false);
    assert_eq!(on, off);
    for id in ["d1", "d3", "d5", "d6", "d8", "d10", "d12", "e0", "e3"] {
        assert!(
            on.iter().any(|a| a.contains(&format!("\"{id}\""))),
            "{id} raised nothing: {on:#?}"
        );
    }
}

/// Every alert and the final state with the pre-check off (so every event reaches the engine)
/// and the projection of events `projected` or not.
fn run_projected(rules: &SigmaRules, events: &[Vec<u8>], projected: bool) -> Vec<String> {
    let mut detector = Detector::with_sigma(RulesConfig::default(), rules).expect("detector");
    detector.set_sigma_gate(false);
    detector.set_sigma_projection(projected);
    let mut alerts = Vec::new();
    for raw in events {
        if let Ok(view) = EventView::from_checked_bytes(raw, None) {
            detector.observe_into(&view, &mut alerts);
        }
    }
    let mut out: Vec<String> = alerts.iter().map(|a| a.to_json()).collect();
    out.push(serde_json::to_string(&detector.state()).expect("state"));
    out
}

fn assert_same_projected(rules: &SigmaRules, events: &[Vec<u8>], what: &str) -> usize {
    let on = run_projected(rules, events, true);
    let off = run_projected(rules, events, false);
    assert_eq!(on.len(), off.len(), "{what}: alert counts differ");
    for (a, b) in on.iter().zip(&off) {
        assert_eq!(a, b, "{what}");
    }
    on.len() - 1
}

/// The projection of events for the engine changes nothing but speed: the same alerts and
/// state as the whole parsed event, over the bench events, the fixtures and rule cases, and
/// events built to trip a careless projection.
#[test]
fn the_projection_gives_the_same_alerts_as_the_whole_event() {
    let events = bench_events::events();
    assert!(assert_same_projected(&shipped(), &events, "bench events, shipped") > 0);
    assert_same_projected(&all_rules(), &events, "bench events, shipped + extra");
    let fixtures = fixtures();
    assert!(assert_same_projected(&all_rules(), &fixtures, "fixtures, shipped + extra") > 10);
    let mut tricky: Vec<Vec<u8>> = [
        // Names in another case, twice in different cases, flat dotted keys.
        ev(
            "p1",
            json!({"DisplayMessage": "Max sign in attempts exceeded"}),
        ),
        ev("p2", json!({"eventType": "x", "EventType": "zone.delete"})),
        ev("p3", json!({"securityContext.isProxy": "true"})),
        ev("p4", json!({"SECURITYCONTEXT": {"IsProxy": true}})),
        // Arrays of objects, arrays of arrays, a scalar where a path goes on.
        ev(
            "p5",
            json!({"target": [{"alternateId": "x"}, [{"alternateId": "SVC-a"}]],
                        "eventType": "group.privilege.grant"}),
        ),
        ev(
            "p6",
            json!({"target": "SVC-b", "debugContext": 5, "eventType": "group.privilege.grant"}),
        ),
        // Members the correlation engine reads an id from.
        ev(
            "p7",
            json!({"id": "own-id", "debugContext": {"debugData": {"behaviors":
            "{New Geo-Location=POSITIVE, New Device=POSITIVE}"}}}),
        ),
        ev(
            "p8",
            json!({"event_id": 17, "debugContext": {"debugData": {"behaviors":
            "{New Geo-Location=POSITIVE, New Device=POSITIVE}"}}}),
        ),
        ev(
            "p9",
            json!({"_id": "x", "event.id": "y", "debugContext": {"debugData": {"behaviors":
            "{New Geo-Location=POSITIVE, New Device=POSITIVE}"}}}),
        ),
    ]
    .iter()
    .map(|v| serde_json::to_vec(v).expect("json"))
    .collect();
    // Duplicate members (the last one counts, as in the whole parse), an escaped name.
    tricky.push(
        br#"{"uuid":"p10","published":"2024-05-01T10:00:00Z","eventType":"x","displayMessage":"nothing","displayMessage":"Max sign in attempts exceeded"}"#
            .to_vec(),
    );
    tricky.push(
        br#"{"uuid":"p11","published":"2024-05-01T10:00:00Z","eventType":"x","display\u004dessage":"Max sign in attempts exceeded"}"#
            .to_vec(),
    );
    // Input the whole parse refuses in a member the rules do not read: a lone surrogate, a
    // number out of range, nesting too deep, a control character. No alert either way.
    for (i, bad) in [
        r#""client":{"device":"\ud800"}"#.to_owned(),
        r#""client":{"zone":1e400}"#.to_owned(),
        format!(r#""request":{}{}"#, "[".repeat(200), "]".repeat(200)),
        "\"client\":{\"device\":\"a\u{1}b\"}".to_owned(),
    ]
    .iter()
    .enumerate()
    {
        tricky.push(
            format!(
                r#"{{"uuid":"bad{i}","published":"2024-05-01T10:00:00Z","eventType":"zone.delete",{bad}}}"#
            )
            .into_bytes(),
        );
    }
    // Not a plain LogEvent: an envelope and a wrapper.
    let inner = ev("p12", json!({"eventType": "system.api_token.create"}));
    tricky.push(serde_json::to_vec(&json!({"version": "0", "detail": inner})).expect("json"));
    let inner = ev("p13", json!({"eventType": "zone.delete"}));
    tricky.push(serde_json::to_vec(&json!({"message": inner.to_string()})).expect("json"));
    // After the engine has learned its paths from the bench events, and from nothing.
    for lead in [events.as_slice(), &[]] {
        let mut all: Vec<Vec<u8>> = lead.to_vec();
        all.extend(tricky.iter().cloned());
        assert_same_projected(&all_rules(), &all, "tricky events");
    }
    let raised = run_projected(&all_rules(), &tricky, true).join("\n");
    for id in ["p1", "p3", "p4", "p5", "p10", "p11", "p12", "p13"] {
        assert!(raised.contains(&format!("\"{id}\"")), "{id} raised nothing");
    }
    for i in 0..4 {
        assert!(
            !raised.contains(&format!("\"bad{i}\"")),
            "bad{i} raised an alert"
        );
    }
}

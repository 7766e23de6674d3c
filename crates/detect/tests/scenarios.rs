//! Scenario tests of the eight built-in rules: below, at and above their thresholds, window
//! edges, several users, first login.

mod support;

use oktaflow_detect::{distance_km, GeoPoint, RulesConfig, Severity};
use support::*;

const BRUTE: &str = "okta.brute_force_logins";

fn fail(uuid: &str, at_ms: i64, actor: &str) -> Ev {
    Ev::new(uuid, at_ms, "user.session.start", "FAILURE")
        .actor(actor)
        .reason("INVALID_CREDENTIALS")
}

fn fails(prefix: &str, actor: &str, times_ms: &[i64]) -> Vec<Ev> {
    times_ms
        .iter()
        .enumerate()
        .map(|(i, &t)| fail(&format!("{prefix}{i}"), t, actor))
        .collect()
}

// ---- okta.brute_force_logins ---------------------------------------------------------------

#[test]
fn brute_force_below_threshold_raises_nothing() {
    let events = fails("f", "alice@example.com", &[0, MIN, 2 * MIN, 3 * MIN]);
    assert!(run(only(BRUTE), &events).is_empty());
}

#[test]
fn brute_force_alerts_once_at_the_fifth_failure() {
    let events = fails(
        "f",
        "alice@example.com",
        &[0, MIN, 2 * MIN, 3 * MIN, 4 * MIN],
    );
    let alerts = run(only(BRUTE), &events);
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(a.rule.id, BRUTE);
    assert_eq!(a.group, "alice@example.com");
    assert_eq!(trigger_ids(a), ["f0", "f1", "f2", "f3", "f4"]);
    assert_eq!(a.timestamp_ms, T0_MS + 4 * MIN);
    assert_eq!(a.severity, Severity::Medium);
    let doc = &a.document();
    assert_eq!(doc["event"]["kind"], "alert");
    assert_eq!(doc["event"]["id"], a.id.as_str());
    assert_eq!(doc["event"]["risk_score"], 47);
    assert_eq!(doc["event"]["start"], "2024-05-01T10:00:00.000Z");
    assert_eq!(doc["@timestamp"], "2024-05-01T10:04:00.000Z");
    assert_eq!(doc["rule"]["id"], BRUTE);
    assert_eq!(doc["rule"]["ruleset"], "oktaflow-builtin");
    assert!(doc["rule"]["name"].is_string() && doc["rule"]["description"].is_string());
    assert!(doc["rule"]["reference"]
        .as_str()
        .is_some_and(|r| r.starts_with("https://")));
    assert_eq!(doc["user"]["name"], "alice@example.com");
    assert_eq!(doc["source"]["ip"], "198.51.100.1");
    assert_eq!(
        doc["oktaflow"]["alert"]["event_ids"]
            .as_array()
            .map(Vec::len),
        Some(5)
    );
}

#[test]
fn brute_force_above_threshold_stays_quiet_for_the_suppression_period() {
    // Ten failures in ten minutes: one alert (at the 5th), the rest fall in the quiet period.
    let times: Vec<i64> = (0..10).map(|i| i * MIN).collect();
    let alerts = run(only(BRUTE), &fails("f", "alice@example.com", &times));
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].triggers.last().map(|t| t.id.as_str()), Some("f4"));
}

#[test]
fn brute_force_alerts_again_after_the_suppression_period() {
    // Alert at 4 min; quiet until 64 min. Failures go on every minute until 70 min: the first
    // one at or after 64 min raises the second alert, with the failures of its window.
    let times: Vec<i64> = (0..=70).map(|i| i * MIN).collect();
    let alerts = run(only(BRUTE), &fails("f", "alice@example.com", &times));
    assert_eq!(
        alerts.len(),
        2,
        "{:?}",
        alerts.iter().map(trigger_ids).collect::<Vec<_>>()
    );
    assert_eq!(alerts[1].timestamp_ms, T0_MS + 64 * MIN);
    assert_ne!(alerts[0].id, alerts[1].id);
    // The second alert's window holds the failures of the last 15 minutes (49..=64).
    assert_eq!(alerts[1].triggers.len(), 16);
    assert_eq!(alerts[1].triggers[0].id, "f49");
}

#[test]
fn brute_force_quiet_period_ends_exactly_after_sixty_minutes() {
    let mut times: Vec<i64> = (0..5).map(|i| i * MIN).collect();
    // Just before the end of the quiet period (4 min + 60 min), then at its end.
    times.extend([
        60 * MIN,
        61 * MIN,
        62 * MIN,
        63 * MIN,
        64 * MIN - 1,
        64 * MIN,
    ]);
    let alerts = run(only(BRUTE), &fails("f", "alice@example.com", &times));
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[1].timestamp_ms, T0_MS + 64 * MIN);
}

#[test]
fn brute_force_window_edges_are_inclusive_at_fifteen_minutes() {
    let at_edge = [0, MIN, 2 * MIN, 3 * MIN, 15 * MIN];
    assert_eq!(run(only(BRUTE), &fails("f", "a@x", &at_edge)).len(), 1);
    let past_edge = [0, MIN, 2 * MIN, 3 * MIN, 15 * MIN + 1];
    assert!(run(only(BRUTE), &fails("f", "a@x", &past_edge)).is_empty());
}

#[test]
fn brute_force_window_slides_where_an_anchored_window_would_miss() {
    // A window anchored at the first failure ([0, 15) then [16, 31)) sees 3 and 3; the sliding
    // window at 18 min holds 13, 14, 16, 17, 18.
    let times = [0, 13 * MIN, 14 * MIN, 16 * MIN, 17 * MIN, 18 * MIN];
    let alerts = run(only(BRUTE), &fails("f", "a@x", &times));
    assert_eq!(alerts.len(), 1);
    assert_eq!(trigger_ids(&alerts[0]), ["f1", "f2", "f3", "f4", "f5"]);
}

#[test]
fn brute_force_counts_every_failure_reason_together() {
    let reasons = [
        "INVALID_CREDENTIALS",
        "VERIFICATION_ERROR",
        "LOCKED_OUT",
        "INVALID_CREDENTIALS",
        "VERIFICATION_ERROR",
    ];
    let events: Vec<Ev> = reasons
        .iter()
        .enumerate()
        .map(|(i, r)| {
            Ev::new(
                &format!("f{i}"),
                i as i64 * MIN,
                "user.session.start",
                "FAILURE",
            )
            .actor("a@x")
            .reason(r)
        })
        .collect();
    assert_eq!(run(only(BRUTE), &events).len(), 1);
}

#[test]
fn brute_force_groups_by_account_case_insensitively_and_separates_users() {
    let mut events = Vec::new();
    for i in 0..5 {
        // Alice in mixed case; Bob four times only; successes never count.
        let alice = if i % 2 == 0 {
            "Alice@Example.com"
        } else {
            "alice@example.com"
        };
        events.push(fail(&format!("a{i}"), i * MIN, alice));
        if i < 4 {
            events.push(fail(&format!("b{i}"), i * MIN + 1, "bob@example.com"));
        }
        events.push(
            Ev::new(
                &format!("s{i}"),
                i * MIN + 2,
                "user.session.start",
                "SUCCESS",
            )
            .actor("bob@example.com"),
        );
    }
    let alerts = run(only(BRUTE), &events);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].group, "alice@example.com");
}

#[test]
fn brute_force_is_tunable() {
    let mut config = only(BRUTE);
    config.brute_force_logins.threshold = 3;
    config.brute_force_logins.window = std::time::Duration::from_secs(60);
    let events = fails("f", "a@x", &[0, 30_000, 60_000]);
    assert_eq!(run(config.clone(), &events).len(), 1);
    let slower = fails("f", "a@x", &[0, 30_000, 60_001]);
    assert!(run(config, &slower).is_empty());
}

// ---- okta.password_spraying ----------------------------------------------------------------

const SPRAY: &str = "okta.password_spraying";

fn spray(accounts: usize, ip: &str, step_ms: i64) -> Vec<Ev> {
    (0..accounts)
        .map(|i| {
            fail(
                &format!("{ip}-{i}"),
                i as i64 * step_ms,
                &format!("user{i}@example.com"),
            )
            .ip(ip)
        })
        .collect()
}

#[test]
fn spraying_needs_ten_distinct_accounts() {
    assert!(run(only(SPRAY), &spray(9, "203.0.113.7", MIN)).is_empty());
    let alerts = run(only(SPRAY), &spray(10, "203.0.113.7", MIN));
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].group, "203.0.113.7");
    assert_eq!(alerts[0].triggers.len(), 10);
    assert_eq!(alerts[0].severity, Severity::High);
    // Above: 30 accounts, one alert (the IP is then quiet).
    assert_eq!(run(only(SPRAY), &spray(30, "203.0.113.7", 10_000)).len(), 1);
}

#[test]
fn spraying_does_not_count_one_account_many_times() {
    let events: Vec<Ev> = (0..30)
        .map(|i| fail(&format!("f{i}"), i * 1_000, "same@example.com").ip("203.0.113.7"))
        .collect();
    assert!(run(only(SPRAY), &events).is_empty());
}

#[test]
fn spraying_window_edge_and_two_ips() {
    // Ten accounts spread over exactly 15 minutes: alert; over 15 min + 9 ms: none.
    let step = 15 * MIN / 9;
    assert_eq!(run(only(SPRAY), &spray(10, "203.0.113.7", step)).len(), 1);
    assert!(run(only(SPRAY), &spray(10, "203.0.113.7", step + 1)).is_empty());
    // Five accounts from each of two IPs: no IP reaches ten.
    let mut events = spray(5, "203.0.113.7", MIN);
    events.extend(spray(5, "203.0.113.8", MIN));
    assert!(run(only(SPRAY), &events).is_empty());
}

// ---- okta.mfa_push_bombing -----------------------------------------------------------------

const PUSH: &str = "okta.mfa_push_bombing";

fn deny_classic(uuid: &str, at: i64, user: &str) -> Ev {
    Ev::new(uuid, at, "user.mfa.okta_verify.deny_push", "SUCCESS").actor(user)
}

fn deny_oie(uuid: &str, at: i64, user: &str) -> Ev {
    Ev::new(uuid, at, "user.authentication.auth_via_mfa", "FAILURE")
        .actor(user)
        .reason("INVALID_CREDENTIALS")
        .debug("factor", "OKTA_VERIFY_PUSH")
        .debug("pushOnlyResponseType", "OV_RESPONSE_DENY")
}

fn timeout_oie(uuid: &str, at: i64, user: &str) -> Ev {
    Ev::new(uuid, at, "user.authentication.auth_via_mfa", "UNANSWERED")
        .actor(user)
        .debug("factor", "OKTA_VERIFY_PUSH")
}

#[test]
fn push_bombing_below_at_and_above_threshold() {
    let below: Vec<Ev> = (0..4)
        .map(|i| deny_classic(&format!("d{i}"), i * MIN, "v@x"))
        .collect();
    assert!(run(only(PUSH), &below).is_empty());
    let at: Vec<Ev> = (0..5)
        .map(|i| deny_classic(&format!("d{i}"), i * MIN, "v@x"))
        .collect();
    let alerts = run(only(PUSH), &at);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].severity, Severity::High);
    let above: Vec<Ev> = (0..9)
        .map(|i| deny_classic(&format!("d{i}"), i * MIN, "v@x"))
        .collect();
    assert_eq!(run(only(PUSH), &above).len(), 1);
}

#[test]
fn push_bombing_counts_rejections_and_time_outs_of_both_engines() {
    let events = vec![
        deny_classic("d0", 0, "v@x"),
        deny_oie("d1", MIN, "v@x"),
        timeout_oie("d2", 2 * MIN, "v@x"),
        Ev::new("d3", 3 * MIN, "user.authentication.auth_via_mfa", "FAILURE")
            .actor("v@x")
            .reason("Okta Verify push timed out")
            .debug("factor", "OKTA_VERIFY_PUSH"),
        deny_oie("d4", 4 * MIN, "v@x"),
    ];
    let alerts = run(only(PUSH), &events);
    assert_eq!(alerts.len(), 1);
    assert_eq!(trigger_ids(&alerts[0]), ["d0", "d1", "d2", "d3", "d4"]);
}

#[test]
fn push_bombing_ignores_approvals_and_other_factors() {
    let mut events: Vec<Ev> = (0..4)
        .map(|i| deny_oie(&format!("d{i}"), i * MIN, "v@x"))
        .collect();
    events.push(
        Ev::new("ok", 5 * MIN, "user.authentication.auth_via_mfa", "SUCCESS")
            .actor("v@x")
            .debug("factor", "OKTA_VERIFY_PUSH")
            .debug("pushOnlyResponseType", "OV_RESPONSE_APPROVE"),
    );
    events.push(
        Ev::new(
            "sms",
            6 * MIN,
            "user.authentication.auth_via_mfa",
            "FAILURE",
        )
        .actor("v@x")
        .reason("INVALID_CREDENTIALS")
        .debug("factor", "SMS_FACTOR"),
    );
    assert!(run(only(PUSH), &events).is_empty());
}

#[test]
fn push_bombing_window_is_ten_minutes_and_per_user() {
    let edge: Vec<Ev> = [0, MIN, 2 * MIN, 3 * MIN, 10 * MIN]
        .iter()
        .enumerate()
        .map(|(i, &t)| deny_classic(&format!("d{i}"), t, "v@x"))
        .collect();
    assert_eq!(run(only(PUSH), &edge).len(), 1);
    let past: Vec<Ev> = [0, MIN, 2 * MIN, 3 * MIN, 10 * MIN + 1]
        .iter()
        .enumerate()
        .map(|(i, &t)| deny_classic(&format!("d{i}"), t, "v@x"))
        .collect();
    assert!(run(only(PUSH), &past).is_empty());
    let two_users: Vec<Ev> = (0..8)
        .map(|i| {
            deny_classic(
                &format!("d{i}"),
                i * 1_000,
                if i % 2 == 0 { "a@x" } else { "b@x" },
            )
        })
        .collect();
    assert!(run(only(PUSH), &two_users).is_empty());
}

// ---- okta.geo_improbable_access ------------------------------------------------------------

const GEO: &str = "okta.geo_improbable_access";
const PARIS: (f64, f64) = (48.8566, 2.3522);
const NEW_YORK: (f64, f64) = (40.7128, -74.0060);

fn login(uuid: &str, at: i64, user: &str, city: &str, (lat, lon): (f64, f64)) -> Ev {
    Ev::new(uuid, at, "user.session.start", "SUCCESS")
        .actor(user)
        .geo(city, lat, lon)
}

fn paris_new_york_km() -> f64 {
    distance_km(
        GeoPoint {
            lat: PARIS.0,
            lon: PARIS.1,
        },
        GeoPoint {
            lat: NEW_YORK.0,
            lon: NEW_YORK.1,
        },
    )
}

#[test]
fn geo_first_login_ever_raises_nothing() {
    let events = [login("l0", 0, "u@x", "New York", NEW_YORK)];
    assert!(run(only(GEO), &events).is_empty());
}

#[test]
fn geo_alerts_above_900_kmh_and_not_at_or_below() {
    let km = paris_new_york_km();
    // The time at which the speed is exactly 900 km/h, in ms.
    let exact_ms = (km / 900.0 * 3_600_000.0).ceil() as i64;
    let too_fast = [
        login("l0", 0, "u@x", "Paris", PARIS),
        login("l1", exact_ms - 1_000, "u@x", "New York", NEW_YORK),
    ];
    let alerts = run(only(GEO), &too_fast);
    assert_eq!(alerts.len(), 1);
    assert_eq!(trigger_ids(&alerts[0]), ["l0", "l1"]);
    assert_eq!(alerts[0].severity, Severity::High);
    assert_eq!(
        alerts[0].document()["oktaflow"]["alert"]["details"]["previous"]["city_name"],
        "Paris"
    );
    let possible = [
        login("l0", 0, "u@x", "Paris", PARIS),
        login("l1", exact_ms, "u@x", "New York", NEW_YORK),
    ];
    assert!(run(only(GEO), &possible).is_empty());
}

#[test]
fn geo_compares_with_the_last_login_and_per_user() {
    let events = [
        login("a0", 0, "a@x", "Paris", PARIS),
        // Bob's first login, in New York, right after Alice's in Paris: nothing (other user).
        login("b0", MIN, "b@x", "New York", NEW_YORK),
        // Alice in New York 12 hours later: possible. Then Paris one hour after: improbable.
        login("a1", 12 * 60 * MIN, "a@x", "New York", NEW_YORK),
        login("a2", 13 * 60 * MIN, "a@x", "Paris", PARIS),
        // Failures and logins without coordinates neither alert nor move the user.
        Ev::new("a3", 13 * 60 * MIN + 1, "user.session.start", "FAILURE")
            .actor("a@x")
            .geo("New York", NEW_YORK.0, NEW_YORK.1),
        Ev::new("a4", 13 * 60 * MIN + 2, "user.session.start", "SUCCESS").actor("a@x"),
    ];
    let alerts = run(only(GEO), &events);
    assert_eq!(alerts.len(), 1);
    assert_eq!(trigger_ids(&alerts[0]), ["a1", "a2"]);
}

#[test]
fn geo_min_distance_is_tunable() {
    let mut config = only(GEO);
    let events = [
        login("l0", 0, "u@x", "A", (48.80, 2.35)),
        login("l1", 1_000, "u@x", "B", (48.90, 2.35)),
    ];
    assert_eq!(
        run(config.clone(), &events).len(),
        1,
        "11 km in 1 s is fast"
    );
    config.geo_improbable_access.min_distance_km = 50.0;
    assert!(run(config, &events).is_empty());
}

// ---- okta.stolen_session -------------------------------------------------------------------

const SESSION: &str = "okta.stolen_session";

fn use_session(uuid: &str, at: i64, sid: &str, ip: &str, asn: i64) -> Ev {
    Ev::new(uuid, at, "user.authentication.sso", "SUCCESS")
        .actor("u@x")
        .session(sid)
        .ip(ip)
        .asn(asn)
}

#[test]
fn session_from_a_second_network_alerts_once() {
    let events = [
        use_session("s0", 0, "102sid", "198.51.100.1", 7922),
        use_session("s1", MIN, "102sid", "198.51.100.1", 7922),
        use_session("s2", 2 * MIN, "102sid", "203.0.113.9", 9009),
        use_session("s3", 3 * MIN, "102sid", "192.0.2.4", 16509),
    ];
    let alerts = run(only(SESSION), &events);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].group, "sid:102sid");
    assert_eq!(trigger_ids(&alerts[0]), ["s0", "s2"]);
}

#[test]
fn session_new_ip_in_the_same_network_is_tunable() {
    let events = [
        use_session("s0", 0, "102sid", "198.51.100.1", 7922),
        use_session("s1", MIN, "102sid", "198.51.100.2", 7922),
    ];
    assert!(run(only(SESSION), &events).is_empty());
    let mut config = only(SESSION);
    config.stolen_session.require_asn_change = false;
    assert_eq!(run(config, &events).len(), 1);
}

#[test]
fn session_followed_by_device_token_too() {
    let events = [
        Ev::new("d0", 0, "user.session.start", "SUCCESS")
            .debug("dtHash", "abc")
            .asn(1),
        Ev::new("d1", MIN, "user.session.start", "SUCCESS")
            .debug("dtHash", "abc")
            .ip("203.0.113.9")
            .asn(2),
        // Other sessions and devices: no alert.
        use_session("x0", 2 * MIN, "other", "203.0.113.9", 3),
    ];
    let alerts = run(only(SESSION), &events);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].group, "dt:abc");
}

#[test]
fn session_ttl_and_ignored_clients() {
    let day = 24 * 60 * MIN;
    let events = [
        use_session("s0", 0, "sid", "198.51.100.1", 1),
        use_session("s1", day + 1, "sid", "203.0.113.9", 2),
        use_session("s2", day + 2, "sid", "192.0.2.1", 3)
            .client_id("okta.b58d5b75-07d4-5f25-bf59-368a1261a405"),
    ];
    assert!(run(only(SESSION), &events).is_empty());
}

#[test]
fn session_with_both_keys_moving_alerts_once() {
    let events = [
        use_session("s0", 0, "sid", "198.51.100.1", 1).debug("dtHash", "dev"),
        use_session("s1", MIN, "sid", "203.0.113.9", 2).debug("dtHash", "dev"),
    ];
    assert_eq!(run(only(SESSION), &events).len(), 1);
}

// ---- single-event rules --------------------------------------------------------------------

#[test]
fn admin_role_severity_follows_the_granted_roles() {
    let grant = |uuid: &str, roles: &str, result: &str| {
        Ev::new(uuid, 0, "user.account.privilege.grant", result)
            .target("alice@example.com", "Alice")
            .debug("privilegeGranted", roles)
    };
    let config = only("okta.admin_role_assigned");
    let alerts = run(
        config.clone(),
        &[
            grant(
                "g0",
                "Super administrator, Application administrator (all)",
                "SUCCESS",
            ),
            grant("g1", "Organization administrator", "SUCCESS"),
            grant("g2", "Read only admin", "SUCCESS"),
            grant("g3", "Report viewer", "SUCCESS"),
            grant("g4", "Super administrator", "FAILURE"),
        ],
    );
    let got: Vec<(&str, Severity)> = alerts
        .iter()
        .map(|a| (a.triggers[0].id.as_str(), a.severity))
        .collect();
    assert_eq!(
        got,
        [
            ("g0", Severity::High),
            ("g1", Severity::Medium),
            ("g2", Severity::Medium)
        ]
    );
    assert_eq!(
        alerts[0].document()["user"]["target"]["name"],
        "alice@example.com"
    );
}

#[test]
fn admin_role_on_the_real_fixture_event() {
    let raw = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/okta/user_account_privilege_grant.json"
    ))
    .expect("fixture");
    let mut detector =
        oktaflow_detect::Detector::new(only("okta.admin_role_assigned")).expect("config");
    let view = oktaflow_detect::EventView::from_bytes(&raw, None).expect("LogEvent");
    let alerts = detector.observe(&view);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].severity, Severity::High);
    assert_eq!(alerts[0].document()["source"]["ip"], "216.160.83.56");
    assert_eq!(
        alerts[0].document()["user"]["name"],
        "priya.raman@example.com"
    );
}

#[test]
fn api_keys_created_and_revoked() {
    let token = |uuid: &str, ty: &str, result: &str| {
        let mut ev = Ev::new(uuid, 0, ty, result);
        ev.v["target"] =
            serde_json::json!([{ "id": "00T1", "type": "Token", "displayName": "ci" }]);
        ev
    };
    let alerts = run(
        RulesConfig::default(),
        &[
            token("c0", "system.api_token.create", "SUCCESS"),
            token("c1", "system.api_token.create", "FAILURE"),
            token("r0", "system.api_token.revoke", "SUCCESS"),
        ],
    );
    let got: Vec<(&str, Severity)> = alerts.iter().map(|a| (a.rule.id, a.severity)).collect();
    assert_eq!(
        got,
        [
            ("okta.api_key_created", Severity::Medium),
            ("okta.api_key_revoked", Severity::Low)
        ]
    );
}

#[test]
fn disabled_rules_raise_nothing() {
    let mut config = RulesConfig::default();
    config.brute_force_logins.enabled = false;
    let times: Vec<i64> = (0..10).map(|i| i * MIN).collect();
    assert!(run(config, &fails("f", "a@x", &times)).is_empty());
}

#[test]
fn alert_parties_come_from_the_normalized_document_when_given() {
    let raw = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/okta/user_account_privilege_grant.json"
    ))
    .expect("fixture");
    let ecs = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/ecs/user_account_privilege_grant.json"
    ))
    .expect("golden ECS document");
    let mut detector = oktaflow_detect::Detector::new(RulesConfig::default()).expect("config");
    let view =
        oktaflow_detect::EventView::from_bytes(&raw, Some(oktaflow_detect::Ecs::Bytes(&ecs)))
            .expect("LogEvent");
    let alerts = detector.observe(&view);
    assert_eq!(alerts.len(), 1);
    let doc = &alerts[0].document();
    // Fields only the normalizer produces (domain from the AS context, parsed user agent).
    assert_eq!(doc["source"]["domain"], "qwest.net");
    assert_eq!(doc["user_agent"]["name"], "Chrome");
    assert_eq!(doc["user"]["target"]["roles"][0], "Super administrator");
    // The alert's own fields are never taken from the event.
    assert_eq!(doc["event"]["kind"], "alert");
    assert_eq!(doc["event"]["id"], alerts[0].id.as_str());
}

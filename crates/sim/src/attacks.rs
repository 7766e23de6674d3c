//! Attack scenarios: events that trigger each of oktaflow's eight built-in detection rules,
//! plus controls that come close and must not fire, with the alerts they must raise (the
//! ground truth a test compares with).
//!
//! Turned on by [`SimConfig::attacks`](crate::SimConfig::attacks): the scenarios are merged
//! into the backlog (visible at once, never late), spread over its time span. Every scenario
//! uses its own accounts (`@attack.example`), IP addresses (documentation ranges) and session
//! ids, so the background traffic never completes or spoils one; the background may still
//! raise alerts of its own (the generated org's users sign in from several places).
//!
//! | Rule | Attack | Control (no alert) |
//! |---|---|---|
//! | `okta.admin_role_assigned` | Super administrator granted | the same grant, FAILURE |
//! | `okta.api_key_created` | a token created | a creation that failed |
//! | `okta.api_key_revoked` | the same token revoked | a revocation that failed |
//! | `okta.brute_force_logins` | 5 failed sign-ins in 8 min, mixed reasons | 4 failures |
//! | `okta.geo_improbable_access` | New York then London 30 min later | London then Paris 2 h later |
//! | `okta.password_spraying` | one IP, 10 accounts in 5 min | another IP, 9 accounts |
//! | `okta.mfa_push_bombing` | 5 denied pushes in 5 min | 4 denied pushes |
//! | `okta.stolen_session` | one session from two networks (AS) | one session, two IPs of one AS |

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::rng::Rng;

/// An alert the scenarios must raise exactly once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedAlert {
    /// `rule.id`.
    pub rule: &'static str,
    /// `oktaflow.alert.group`: the account, IP, token or session it groups on.
    pub group: String,
    /// `oktaflow.alert.event_ids`: the triggering events' uuids, oldest first.
    pub triggers: Vec<String>,
}

/// A near miss that must raise no alert of `rule` for `group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Control {
    /// `rule.id`.
    pub rule: &'static str,
    /// The group that must stay quiet.
    pub group: String,
    /// What it is.
    pub what: &'static str,
}

/// One injected event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioEvent {
    /// `published`, epoch milliseconds.
    pub published_ms: i64,
    /// `uuid`.
    pub uuid: String,
    /// The LogEvent as compact JSON.
    pub json: String,
}

/// The scenarios' events and their ground truth.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttackScenarios {
    /// The events, ascending by `published`.
    pub events: Vec<ScenarioEvent>,
    /// The alerts they must raise, each exactly once.
    pub expected: Vec<ExpectedAlert>,
    /// The near misses that must raise nothing.
    pub controls: Vec<Control>,
}

const MIN: i64 = 60_000;

/// Builds the scenarios between `start_ms` and `end_ms` (the backlog's span; each scenario
/// takes at most 2 h 10 min, scenarios may overlap in time). Same seed, same events.
pub fn scenarios(seed: u64, start_ms: i64, end_ms: i64) -> AttackScenarios {
    let mut b = Builder {
        rng: Rng::new(seed ^ 0x6174_7461_636b),
        out: AttackScenarios::default(),
    };
    // Eight slots across the span, the last one ending before `end_ms`.
    let span = (end_ms - start_ms - 135 * MIN).max(8);
    let slot = |k: i64| start_ms + span * (k + 1) / 10;

    // okta.admin_role_assigned
    let t = slot(0);
    let grant = b.admin_grant(t, "new.admin@attack.example", "SUCCESS");
    b.expect(
        "okta.admin_role_assigned",
        "new.admin@attack.example",
        vec![grant],
    );
    b.admin_grant(t + MIN, "not.admin@attack.example", "FAILURE");
    b.control(
        "okta.admin_role_assigned",
        "not.admin@attack.example",
        "a grant that failed",
    );

    // okta.api_key_created / okta.api_key_revoked
    let t = slot(1);
    let created = b.token(t, "system.api_token.create", "attack-token", "SUCCESS");
    b.expect("okta.api_key_created", "attack-token", vec![created]);
    let revoked = b.token(
        t + 5 * MIN,
        "system.api_token.revoke",
        "attack-token",
        "SUCCESS",
    );
    b.expect("okta.api_key_revoked", "attack-token", vec![revoked]);
    b.token(
        t + 6 * MIN,
        "system.api_token.create",
        "failed-token",
        "FAILURE",
    );
    b.token(
        t + 7 * MIN,
        "system.api_token.revoke",
        "failed-token",
        "FAILURE",
    );
    b.control(
        "okta.api_key_created",
        "failed-token",
        "a creation that failed",
    );
    b.control(
        "okta.api_key_revoked",
        "failed-token",
        "a revocation that failed",
    );

    // okta.brute_force_logins: 5 failures in 8 min (mixed reasons) → one alert at the 5th.
    let t = slot(2);
    let victim = "bf.victim@attack.example";
    let mut failures = Vec::new();
    for (i, reason) in [
        "INVALID_CREDENTIALS",
        "INVALID_CREDENTIALS",
        "LOCKED_OUT",
        "INVALID_CREDENTIALS",
        "LOCKED_OUT",
    ]
    .iter()
    .enumerate()
    {
        failures.push(b.sign_in(
            t + 2 * MIN * i as i64,
            victim,
            "FAILURE",
            Some(reason),
            &NET_A,
        ));
    }
    b.expect("okta.brute_force_logins", victim, failures);
    for i in 0..4 {
        b.sign_in(
            t + 3 * MIN * i,
            "bf.control@attack.example",
            "FAILURE",
            Some("INVALID_CREDENTIALS"),
            &NET_B,
        );
    }
    b.control(
        "okta.brute_force_logins",
        "bf.control@attack.example",
        "4 failures (threshold 5)",
    );

    // okta.geo_improbable_access: New York, then London 30 min later (≈ 11,000 km/h).
    let t = slot(3);
    let traveller = "geo.traveller@attack.example";
    let ny = b.sign_in(t, traveller, "SUCCESS", None, &NEW_YORK);
    let london = b.sign_in(t + 30 * MIN, traveller, "SUCCESS", None, &LONDON);
    b.expect("okta.geo_improbable_access", traveller, vec![ny, london]);
    let commuter = "geo.commuter@attack.example";
    b.sign_in(t, commuter, "SUCCESS", None, &LONDON);
    b.sign_in(t + 120 * MIN, commuter, "SUCCESS", None, &PARIS);
    b.control(
        "okta.geo_improbable_access",
        commuter,
        "London then Paris 2 h later (≈ 170 km/h)",
    );

    // okta.password_spraying: one IP against 10 accounts in 5 min.
    let t = slot(4);
    let mut sprayed = Vec::new();
    for i in 0..10 {
        let user = format!("spray{i:02}@attack.example");
        sprayed.push(b.sign_in(
            t + 30_000 * i,
            &user,
            "FAILURE",
            Some("INVALID_CREDENTIALS"),
            &SPRAYER,
        ));
    }
    b.expect("okta.password_spraying", SPRAYER.ip, sprayed);
    for i in 0..9 {
        let user = format!("nospray{i:02}@attack.example");
        b.sign_in(
            t + 30_000 * i,
            &user,
            "FAILURE",
            Some("INVALID_CREDENTIALS"),
            &NOT_SPRAYER,
        );
    }
    b.control(
        "okta.password_spraying",
        NOT_SPRAYER.ip,
        "9 accounts (threshold 10)",
    );

    // okta.mfa_push_bombing: 5 denied pushes in 5 min.
    let t = slot(5);
    let bombed = "push.victim@attack.example";
    let pushes: Vec<String> = (0..5)
        .map(|i| b.push_denied(t + 75_000 * i, bombed))
        .collect();
    b.expect("okta.mfa_push_bombing", bombed, pushes);
    for i in 0..4 {
        b.push_denied(t + 75_000 * i, "push.control@attack.example");
    }
    b.control(
        "okta.mfa_push_bombing",
        "push.control@attack.example",
        "4 denied pushes (threshold 5)",
    );

    // okta.stolen_session: one session, then the same session from another network.
    let t = slot(6);
    let sid = "102attackSessionStolen01";
    let first = b.session(t, "session.victim@attack.example", sid, &NET_A);
    let stolen = b.session(t + 10 * MIN, "session.victim@attack.example", sid, &THIEF);
    b.expect(
        "okta.stolen_session",
        &format!("sid:{sid}"),
        vec![first, stolen],
    );
    let sid = "102attackSessionRoaming1";
    b.session(t, "session.roamer@attack.example", sid, &NET_B);
    b.session(t + 10 * MIN, "session.roamer@attack.example", sid, &NET_B2);
    b.control(
        "okta.stolen_session",
        &format!("sid:{sid}"),
        "a new IP in the same AS",
    );

    b.out.events.sort_by_key(|e| e.published_ms);
    b.out
}

/// Where an event comes from.
struct Net {
    ip: &'static str,
    asn: u32,
    as_org: &'static str,
    geo: Option<(&'static str, &'static str, f64, f64)>,
}

const NET_A: Net = Net {
    ip: "198.51.100.10",
    asn: 7922,
    as_org: "comcast",
    geo: None,
};
const NET_B: Net = Net {
    ip: "198.51.100.20",
    asn: 701,
    as_org: "verizon",
    geo: None,
};
const NET_B2: Net = Net {
    ip: "198.51.100.21",
    asn: 701,
    as_org: "verizon",
    geo: None,
};
const THIEF: Net = Net {
    ip: "203.0.113.50",
    asn: 14061,
    as_org: "digitalocean",
    geo: None,
};
const SPRAYER: Net = Net {
    ip: "203.0.113.66",
    asn: 16276,
    as_org: "ovh",
    geo: None,
};
const NOT_SPRAYER: Net = Net {
    ip: "203.0.113.77",
    asn: 16276,
    as_org: "ovh",
    geo: None,
};
const NEW_YORK: Net = Net {
    ip: "198.51.100.30",
    asn: 7922,
    as_org: "comcast",
    geo: Some(("New York", "United States", 40.7128, -74.006)),
};
const LONDON: Net = Net {
    ip: "198.51.100.40",
    asn: 2856,
    as_org: "british telecommunications plc",
    geo: Some(("London", "United Kingdom", 51.5074, -0.1278)),
};
const PARIS: Net = Net {
    ip: "198.51.100.50",
    asn: 3215,
    as_org: "orange s.a.",
    geo: Some(("Paris", "France", 48.8566, 2.3522)),
};

struct Builder {
    rng: Rng,
    out: AttackScenarios,
}

impl Builder {
    fn expect(&mut self, rule: &'static str, group: &str, triggers: Vec<String>) {
        self.out.expected.push(ExpectedAlert {
            rule,
            group: group.to_string(),
            triggers,
        });
    }

    fn control(&mut self, rule: &'static str, group: &str, what: &'static str) {
        self.out.controls.push(Control {
            rule,
            group: group.to_string(),
            what,
        });
    }

    fn uuid(&mut self) -> String {
        let a = self.rng.next_u64();
        let b = self.rng.next_u64();
        format!(
            "{:08x}-{:04x}-11ef-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }

    /// Adds an event of `event_type` at `ms` with the given members; returns its uuid.
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        ms: i64,
        event_type: &str,
        message: &str,
        actor: &str,
        outcome: (&str, Option<&str>),
        net: &Net,
        extra: Value,
    ) -> String {
        let uuid = self.uuid();
        let published = DateTime::<Utc>::from_timestamp_millis(ms)
            .unwrap_or_default()
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        let geo = match net.geo {
            Some((city, country, lat, lon)) => json!({
                "city": city, "country": country,
                "geolocation": {"lat": lat, "lon": lon}
            }),
            None => Value::Null,
        };
        let mut event = json!({
            "uuid": uuid,
            "published": published,
            "eventType": event_type,
            "version": "0",
            "severity": if outcome.0 == "SUCCESS" { "INFO" } else { "WARN" },
            "legacyEventType": Value::Null,
            "displayMessage": message,
            "actor": {
                "id": format!("00u{}", &uuid[..8]),
                "type": "User",
                "alternateId": actor,
                "displayName": actor.split('@').next().unwrap_or(actor),
            },
            "client": {
                "ipAddress": net.ip,
                "userAgent": {
                    "rawUserAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
                    "os": "Windows 10", "browser": "CHROME"
                },
                "zone": "null",
                "device": "Computer",
                "geographicalContext": geo,
            },
            "outcome": {"result": outcome.0, "reason": outcome.1},
            "securityContext": {
                "asNumber": net.asn, "asOrg": net.as_org, "isp": net.as_org,
                "domain": Value::Null, "isProxy": false
            },
            "transaction": {"type": "WEB", "id": format!("attack-{}", &uuid[..8]), "detail": {}},
            "debugContext": {"debugData": {}},
            "request": {"ipChain": [{"ip": net.ip, "version": "V4"}]},
            "target": Value::Null,
        });
        if let (Value::Object(event), Value::Object(extra)) = (&mut event, extra) {
            for (key, value) in extra {
                event.insert(key, value);
            }
        }
        self.out.events.push(ScenarioEvent {
            published_ms: ms,
            uuid: uuid.clone(),
            json: event.to_string(),
        });
        uuid
    }

    fn sign_in(
        &mut self,
        ms: i64,
        user: &str,
        result: &str,
        reason: Option<&str>,
        net: &Net,
    ) -> String {
        self.push(
            ms,
            "user.session.start",
            "User login to Okta",
            user,
            (result, reason),
            net,
            json!({}),
        )
    }

    fn admin_grant(&mut self, ms: i64, target: &str, result: &str) -> String {
        self.push(
            ms,
            "user.account.privilege.grant",
            "Grant user privilege",
            "security.admin@attack.example",
            (result, None),
            &NET_A,
            json!({
                "debugContext": {"debugData": {"privilegeGranted": "Super administrator"}},
                "target": [{
                    "id": "00uattackadmin", "type": "User",
                    "alternateId": target, "displayName": target
                }],
            }),
        )
    }

    fn token(&mut self, ms: i64, event_type: &str, name: &str, result: &str) -> String {
        self.push(
            ms,
            event_type,
            if event_type.ends_with("create") {
                "Create API token"
            } else {
                "Revoke API token"
            },
            "security.admin@attack.example",
            (result, None),
            &NET_A,
            json!({
                "target": [{"id": format!("00T{name}"), "type": "Token", "displayName": name}],
            }),
        )
    }

    fn push_denied(&mut self, ms: i64, user: &str) -> String {
        self.push(
            ms,
            "user.authentication.auth_via_mfa",
            "Authentication of user via MFA",
            user,
            ("FAILURE", Some("INVALID_CREDENTIALS")),
            &NET_A,
            json!({
                "debugContext": {"debugData": {
                    "factor": "OKTA_VERIFY_PUSH",
                    "pushOnlyResponseType": "OV_RESPONSE_DENY"
                }},
            }),
        )
    }

    fn session(&mut self, ms: i64, user: &str, sid: &str, net: &Net) -> String {
        self.push(
            ms,
            "user.authentication.sso",
            "User single sign on to app",
            user,
            ("SUCCESS", None),
            net,
            json!({
                "authenticationContext": {"externalSessionId": sid},
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_an_attack_and_a_control_and_events_are_in_order() {
        let s = scenarios(7, 0, 24 * 60 * MIN);
        let mut rules: Vec<&str> = s.expected.iter().map(|e| e.rule).collect();
        rules.sort_unstable();
        rules.dedup();
        assert_eq!(rules.len(), 8);
        assert_eq!(s.controls.len(), 8);
        assert!(s
            .events
            .windows(2)
            .all(|w| w[0].published_ms <= w[1].published_ms));
        assert!(s
            .events
            .iter()
            .all(|e| (0..24 * 60 * MIN).contains(&e.published_ms)));
        let uuids: std::collections::HashSet<&str> =
            s.events.iter().map(|e| e.uuid.as_str()).collect();
        assert_eq!(uuids.len(), s.events.len());
        for alert in &s.expected {
            assert!(alert.triggers.iter().all(|t| uuids.contains(t.as_str())));
        }
        assert_eq!(s, scenarios(7, 0, 24 * 60 * MIN), "same seed, same events");
    }
}

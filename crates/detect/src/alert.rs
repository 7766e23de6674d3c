//! Alerts: documents of their own (`event.kind: alert`), with an id derived from the rule, the
//! group key and the window, so a replay after a crash and an idempotent store never double one.

use serde_json::{json, Map, Value};

use crate::event::{format_ms, Ecs, EventView, Facts};

/// The ruleset name of the built-in rules (`rule.ruleset`).
pub const BUILTIN_RULESET: &str = "oktaflow-builtin";

/// How serious an alert is. The risk score follows the usual 0–100 bands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Informational, worth a look.
    Low,
    /// Likely unwanted.
    Medium,
    /// Likely an attack or a dangerous change.
    High,
    /// Act now.
    Critical,
}

impl Severity {
    /// `low`, `medium`, `high`, `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// `event.risk_score` (and `event.severity`): 21, 47, 73, 99.
    pub fn risk_score(self) -> u8 {
        match self {
            Severity::Low => 21,
            Severity::Medium => 47,
            Severity::High => 73,
            Severity::Critical => 99,
        }
    }
}

/// What a rule is: its `rule.*` fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleMeta {
    /// `rule.id`, e.g. `okta.brute_force_logins`.
    pub id: &'static str,
    /// `rule.name`.
    pub name: &'static str,
    /// `rule.description`.
    pub description: &'static str,
    /// `rule.reference`.
    pub reference: &'static str,
    /// `rule.ruleset`.
    pub ruleset: &'static str,
    /// `event.category` of the alert.
    pub category: &'static str,
}

/// One event that took part in an alert.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Trigger {
    /// `published`, ms since the epoch.
    pub ts: i64,
    /// The event's `uuid`.
    pub id: String,
}

/// An alert raised by a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// `event.id`: derived from the rule, the group key and the window (see [`alert_id`]).
    pub id: String,
    /// The rule that raised it.
    pub rule: RuleMeta,
    /// Its severity.
    pub severity: Severity,
    /// What the rule grouped on (an account, an IP, a session), `""` for single-event rules.
    pub group: String,
    /// `@timestamp`: the `published` of the event that completed the alert (ms).
    pub timestamp_ms: i64,
    /// The triggering events' ids, oldest first (all of them for a threshold rule).
    pub triggers: Vec<Trigger>,
    /// The alert document (ECS).
    pub document: Value,
}

impl Alert {
    /// The document as compact JSON (what a sink writes).
    pub fn to_json(&self) -> String {
        self.document.to_string()
    }

    /// The same text as [`Alert::to_json`], as bytes: written straight into a buffer instead
    /// of through `Display`'s formatter (a third of the instructions).
    pub fn to_json_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.document).unwrap_or_else(|_| self.to_json().into_bytes())
    }
}

/// The id of the alert of `rule` for `group` over `window` (an opaque, stable text such as the
/// first and last triggering event ids): a UUID (version 8) made of a 128-bit FNV-1a hash, the
/// same in every run, every build and on every machine.
pub fn alert_id(rule: &str, group: &str, window: &str) -> String {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    let mut hash = OFFSET;
    for part in [rule, group, window] {
        // Each part is length-prefixed so ("ab", "c") and ("a", "bc") differ.
        for byte in (part.len() as u64)
            .to_le_bytes()
            .iter()
            .chain(part.as_bytes())
        {
            hash ^= u128::from(*byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    // RFC 9562 version 8 (custom) and the RFC variant.
    let hash = (hash & !(0xF << 76)) | (0x8 << 76);
    let hash = (hash & !(0x3 << 62)) | (0x2 << 62);
    let h = format!("{hash:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// What a rule knows when it fires; turned into an [`Alert`] by [`build`].
pub(crate) struct Firing<'e, 'a> {
    pub rule: RuleMeta,
    pub severity: Severity,
    pub group: String,
    /// The window part of the id.
    pub window: String,
    pub event: &'e EventView<'a>,
    pub triggers: Vec<Trigger>,
    /// A one-line summary (`message`).
    pub message: String,
    /// Rule-specific details under `oktaflow.alert.details`.
    pub details: Value,
}

pub(crate) fn build(firing: Firing<'_, '_>) -> Alert {
    let Firing {
        rule,
        severity,
        group,
        window,
        event,
        triggers,
        message,
        details,
    } = firing;
    let facts = event.facts();
    let id = alert_id(rule.id, &group, &window);
    let ts = facts.published_ms;
    let start = triggers.first().map_or(ts, |t| t.ts);
    let ids: Vec<&str> = triggers.iter().map(|t| t.id.as_str()).collect();
    let mut doc = json!({
        "@timestamp": format_ms(ts),
        "message": message,
        "event": {
            "kind": "alert",
            "id": id,
            "category": [rule.category],
            "type": ["info"],
            "action": facts.event_type,
            "severity": severity.risk_score(),
            "risk_score": severity.risk_score(),
            "start": format_ms(start),
            "end": format_ms(ts),
            "dataset": "okta.alert",
            "module": "okta",
        },
        "rule": {
            "id": rule.id,
            "name": rule.name,
            "description": rule.description,
            "reference": rule.reference,
            "ruleset": rule.ruleset,
        },
        "labels": { "severity": severity.as_str() },
        "oktaflow": { "alert": {
            "group": group,
            "event_ids": ids,
            "count": triggers.len(),
            "details": details,
        }},
        "observer": { "vendor": "Okta", "product": "Okta Identity Cloud", "type": "iam" },
    });
    if let Value::Object(top) = &mut doc {
        add_parties(top, facts, event);
    }
    Alert {
        id,
        rule,
        severity,
        group,
        timestamp_ms: ts,
        triggers,
        document: doc,
    }
}

/// Actor (`user`), target (`user.target`), `source` (IP, AS, geo) of the triggering event: from
/// the normalized document when the caller passed it (it has the GeoIP enrichment and the
/// normalizer's exact layout), else from the raw Okta fields.
fn add_parties(top: &mut Map<String, Value>, facts: &Facts<'_>, event: &EventView<'_>) {
    let copied = match event.ecs() {
        Some(Ecs::Value(Value::Object(ecs))) => {
            for key in PARTY_KEYS {
                if let Some(v) = ecs.get(key) {
                    top.insert(key.to_owned(), v.clone());
                }
            }
            true
        }
        Some(Ecs::Value(_)) | None => false,
        // Only the copied members are decoded; the rest of the document is skipped.
        Some(Ecs::Bytes(bytes)) => match parties(bytes) {
            Some(members) => {
                for (key, value) in PARTY_KEYS.iter().zip(members) {
                    if let Some(value) = value {
                        top.insert((*key).to_owned(), value);
                    }
                }
                true
            }
            None => false,
        },
    };
    if copied && (top.contains_key("user") || top.contains_key("source")) {
        return;
    }
    let mut user = Map::new();
    put(&mut user, "id", facts.actor_id.as_deref());
    put(&mut user, "name", facts.actor_alternate_id.as_deref());
    put(&mut user, "full_name", facts.actor_display_name.as_deref());
    if let Some(target) = &facts.target {
        let mut t = Map::new();
        put(&mut t, "id", target.id.as_deref());
        put(&mut t, "name", target.alternate_id.as_deref());
        put(&mut t, "full_name", target.display_name.as_deref());
        if !t.is_empty() {
            user.insert("target".into(), Value::Object(t));
        }
    }
    if !user.is_empty() {
        top.insert("user".into(), Value::Object(user));
    }
    let mut source = Map::new();
    put(&mut source, "ip", facts.client_ip.as_deref());
    let mut geo = Map::new();
    put(&mut geo, "city_name", facts.geo_city.as_deref());
    put(&mut geo, "region_name", facts.geo_state.as_deref());
    put(&mut geo, "country_name", facts.geo_country.as_deref());
    if let Some(p) = facts.geo_point {
        geo.insert("location".into(), json!({ "lat": p.lat, "lon": p.lon }));
    }
    if !geo.is_empty() {
        source.insert("geo".into(), Value::Object(geo));
    }
    let mut asn = Map::new();
    if let Some(n) = facts.as_number {
        asn.insert("number".into(), json!(n));
    }
    if let Some(org) = facts.as_org.as_deref() {
        asn.insert("organization".into(), json!({ "name": org }));
    }
    if !asn.is_empty() {
        source.insert("as".into(), Value::Object(asn));
    }
    if !source.is_empty() {
        top.insert("source".into(), Value::Object(source));
    }
}

/// The members of the normalized document an alert copies.
const PARTY_KEYS: [&str; 5] = ["user", "source", "client", "user_agent", "related"];

/// The [`PARTY_KEYS`] members of the normalized document `bytes` (`None`: not a JSON object).
/// The members are found by a scan that skips the rest of the document by its brackets and
/// quotes (a fraction of serde's pass, which reads every byte: ~70,000 instructions per alert on
/// the simulator's documents), then decoded; where the scan gives up (an escaped member name,
/// text it cannot follow), serde reads the whole document.
fn parties(bytes: &[u8]) -> Option<[Option<Value>; 5]> {
    if let Some(spans) = crate::event::top_members(bytes, &PARTY_KEYS) {
        let mut out: [Option<Value>; 5] = Default::default();
        let decoded = spans.iter().zip(&mut out).all(|(span, slot)| match span {
            None => true,
            Some(text) => match serde_json::from_slice(text) {
                Ok(value) => {
                    *slot = Some(value);
                    true
                }
                Err(_) => false,
            },
        });
        if decoded {
            return Some(out);
        }
    }
    serde_json::from_slice::<Parties>(bytes).ok().map(|p| p.0)
}

/// The [`PARTY_KEYS`] members of a normalized document (the last one when a member is given
/// twice, as a parsed `Value` keeps it); any other member is skipped undecoded. A document
/// that is not a JSON object does not read.
struct Parties([Option<Value>; 5]);

impl<'de> serde::Deserialize<'de> for Parties {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Parties;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Parties, A::Error> {
                let mut out: [Option<Value>; 5] = Default::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match PARTY_KEYS.iter().position(|k| *k == key) {
                        Some(i) => out[i] = Some(map.next_value()?),
                        None => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(Parties(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn put(map: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), Value::String(v.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_bytes_are_the_json_text() {
        let alert = Alert {
            id: "i".into(),
            rule: RuleMeta {
                id: "r",
                name: "n",
                description: "d",
                reference: "",
                ruleset: BUILTIN_RULESET,
                category: "iam",
            },
            severity: Severity::High,
            group: "g".into(),
            timestamp_ms: 0,
            triggers: Vec::new(),
            document: json!({"b": [1, 2.5, "x\"y\u{1}é"], "a": {"z": null, "c": true}}),
        };
        assert_eq!(alert.to_json_bytes(), alert.to_json().into_bytes());
    }

    #[test]
    fn alert_ids_are_stable_uuids() {
        let a = alert_id("okta.brute_force_logins", "alice@example.com", "w1");
        assert_eq!(
            a,
            alert_id("okta.brute_force_logins", "alice@example.com", "w1")
        );
        assert_ne!(
            a,
            alert_id("okta.brute_force_logins", "alice@example.com", "w2")
        );
        assert_ne!(
            a,
            alert_id("okta.brute_force_logins", "bob@example.com", "w1")
        );
        assert_ne!(alert_id("r", "ab", "c"), alert_id("r", "a", "bc"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "8", "version 8: {a}");
        assert!(
            matches!(&a[19..20], "8" | "9" | "a" | "b"),
            "RFC variant: {a}"
        );
    }
}

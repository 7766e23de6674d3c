//! debugData that never fails: random and malformed `debugContext.debugData` (JSON
//! values, JSON text, text cut short, `{k=v}` strings) never make the normalizer panic or
//! refuse the event, and every key that carries a value is somewhere in the document:
//! an object key (`okta.system.debug.<key>`, `okta.debug_context.debug_data.*`), or
//! inside a value kept as text (`okta.system.unmapped`, a string that is not JSON).

mod support;

use std::collections::BTreeSet;

use oktaflow_normalize::Normalizer;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// debugData keys the normalizer reads, and a few others.
const KEYS: &[&str] = &[
    "logOnlySecurityData",
    "tunnels",
    "originalPrincipal",
    "risk",
    "behaviors",
    "threatSuspected",
    "dtHash",
    "rootSessionId",
    "rootApiTokenId",
    "requestApiTokenId",
    "requestId",
    "privilegeGranted",
    "level",
    "reasons",
    "anonymous",
    "New Device",
    "zzUnknown",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        "[a-zA-Z0-9 ,{}=\\[\\]\":-]{0,16}".prop_map(Value::from),
        Just(json!(
            "{reasons=Anomalous Device, Anomalous Location, level=MEDIUM}"
        )),
        Just(json!("{New Geo-Location=NEGATIVE, New Device=POSITIVE}")),
        Just(json!(
            "{previousLevel=LOW, level=HIGH, detectionName=x, issuer=OKTA}"
        )),
        Just(json!("{level=}")),
        Just(json!("{}")),
        Just(json!("POSITIVE")),
        Just(json!("true")),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..4).prop_map(|members| {
                Value::Object(
                    members
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

/// A debugData member value: a JSON value, its JSON text, or its text cut short.
fn member_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => value(),
        3 => value().prop_map(|v| Value::from(v.to_string())),
        2 => (value(), any::<prop::sample::Index>()).prop_map(|(v, cut)| {
            let text = v.to_string();
            let mut at = cut.index(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            Value::from(&text[..at])
        }),
    ]
}

fn debug_data() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((prop::sample::select(KEYS), member_value()), 0..8).prop_map(|members| {
        members
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
    })
}

/// The normalizer's "nothing here": null, "", containers with nothing in them.
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.iter().all(is_empty),
        Value::Object(members) => members.values().all(is_empty),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Every key of `members` (and, recursively, of what they hold, JSON text included)
/// whose value carries something.
fn required_keys(members: &Map<String, Value>, keys: &mut BTreeSet<String>) {
    for (key, value) in members {
        let empty = is_empty(value);
        if empty {
            continue;
        }
        keys.insert(key.clone());
        nested_keys(value, keys);
    }
}

fn nested_keys(value: &Value, keys: &mut BTreeSet<String>) {
    match value {
        Value::Object(members) => required_keys(members, keys),
        Value::Array(items) => items.iter().for_each(|i| nested_keys(i, keys)),
        Value::String(s) if s.trim_start().starts_with(['{', '[']) => {
            if let Ok(parsed) = serde_json::from_str::<Value>(s) {
                nested_keys(&parsed, keys);
            }
        }
        _ => {}
    }
}

/// Every object key and every string in `doc`.
fn keys_and_strings(doc: &Value, keys: &mut BTreeSet<String>, strings: &mut Vec<String>) {
    match doc {
        Value::Object(members) => {
            for (k, v) in members {
                keys.insert(k.clone());
                keys_and_strings(v, keys, strings);
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|i| keys_and_strings(i, keys, strings)),
        Value::String(s) => strings.push(s.clone()),
        _ => {}
    }
}

proptest! {
    // Committed seeds in debug_data.proptest-regressions (if any) are replayed first; a
    // new failure's seed is printed, never written (see support/seeds.rs).
    #![proptest_config(ProptestConfig {
        cases: support::seeds::cases(512),
        failure_persistence: support::seeds::committed_seeds(),
        ..ProptestConfig::default()
    })]

    #[test]
    fn debug_data_never_fails_and_loses_no_key(data in debug_data()) {
        let event = json!({
            "uuid": "p1",
            "published": "2024-05-01T10:00:00Z",
            "eventType": "policy.evaluate_sign_on",
            "debugContext": {"debugData": Value::Object(data.clone())},
        });
        let doc = Normalizer::default()
            .normalize_value(event.to_string().as_bytes())
            .expect("debugData never makes an event fail");

        let mut required = BTreeSet::new();
        required_keys(&data, &mut required);
        let mut keys = BTreeSet::new();
        let mut strings = Vec::new();
        keys_and_strings(&doc, &mut keys, &mut strings);
        for key in &required {
            let found = keys.contains(key)
                || keys.iter().chain(&strings).any(|s| s.contains(key.as_str()));
            prop_assert!(found, "key `{}` of {} is not in {}", key, Value::Object(data.clone()), doc);
        }
    }
}

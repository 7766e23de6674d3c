//! Property tests of the OCSF output: no input makes `normalize_ocsf_into` panic, errors
//! leave the output untouched, and no Okta member is lost: members of random type and name
//! put anywhere in the golden fixtures come out (mapped, or under `unmapped`), and the
//! event still validates against the kept OCSF 1.8.0 schema.

mod support;

#[path = "support/ocsf_validator.rs"]
mod validator;

use std::fs;
use std::sync::OnceLock;

use oktaflow_normalize::{NormalizeError, Normalizer};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Where a random member is put: top level, or an Okta object (`target` means `target[0]`).
const PLACES: &[&str] = &[
    "",
    "actor",
    "client",
    "client.userAgent",
    "client.geographicalContext",
    "client.geographicalContext.geolocation",
    "authenticationContext",
    "authenticationContext.issuer",
    "securityContext",
    "debugContext",
    "debugContext.debugData",
    "outcome",
    "transaction",
    "request",
    "target",
];

/// Member names: Okta's own (replacing a value with one of another type) and new ones.
const KEYS: &[&str] = &[
    "actor",
    "client",
    "device",
    "authenticationContext",
    "securityContext",
    "debugContext",
    "outcome",
    "transaction",
    "request",
    "target",
    "severity",
    "version",
    "displayMessage",
    "legacyEventType",
    "id",
    "type",
    "alternateId",
    "displayName",
    "detailEntry",
    "userAgent",
    "rawUserAgent",
    "ipAddress",
    "zone",
    "geographicalContext",
    "geolocation",
    "lat",
    "lon",
    "city",
    "country",
    "asNumber",
    "isProxy",
    "domain",
    "debugData",
    "risk",
    "privilegeGranted",
    "grantedScopes",
    "threatDetections",
    "requestUri",
    "ipChain",
    "ip",
    "result",
    "reason",
    "issuer",
    "externalSessionId",
    "authenticationStep",
    "somethingNew",
    "futureContext",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        Just(json!("{level=HIGH, detectionName=Some Detection}")),
        Just(json!("198.51.100.7")),
        Just(json!("unknown")),
        Just(json!("Super administrator, Help Desk administrator")),
        Just(json!("{\"Password Spray\":\"HIGH\"}")),
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

/// The raw LogEvent fixtures (the wrapper and envelope forms left out).
fn fixtures() -> &'static [(String, Value)] {
    static FIXTURES: OnceLock<Vec<(String, Value)>> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let dir = validator::root().join("okta");
        let mut files = Vec::new();
        validator::files_under(&dir, &mut files);
        files.sort();
        files
            .iter()
            .map(|p| {
                let name = p.file_stem().and_then(|s| s.to_str()).unwrap_or("?");
                (name.to_owned(), validator::read_json(p))
            })
            .filter(|(_, v)| v.get("uuid").is_some() && v.get("detail").is_none())
            .collect()
    })
}

fn schema() -> &'static validator::Schema {
    static SCHEMA: OnceLock<validator::Schema> = OnceLock::new();
    SCHEMA.get_or_init(validator::Schema::load)
}

/// Puts `key: value` at `place` in `event` (creating the objects on the way; a
/// non-object on the way is replaced by an object).
fn insert(event: &mut Value, place: &str, key: &str, value: Value) {
    let mut at = event;
    for part in place.split('.').filter(|p| !p.is_empty()) {
        let slot = if part == "target" {
            let target = &mut at[part];
            if !matches!(target, Value::Array(items) if !items.is_empty() && items[0].is_object()) {
                *target = json!([{}]);
            }
            &mut target[0]
        } else {
            &mut at[part]
        };
        if !slot.is_object() {
            *slot = json!({});
        }
        at = slot;
    }
    at[key] = value;
}

/// Every leaf of `v` that carries information, as text (strings trimmed, numbers and
/// booleans as JSON text).
fn leaves(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Null => {}
        Value::Bool(b) => out.push(b.to_string()),
        Value::Number(n) => out.push(n.to_string()),
        Value::String(s) if s.trim().is_empty() => {}
        Value::String(s) => out.push(s.trim().to_owned()),
        Value::Array(items) => items.iter().for_each(|i| leaves(i, out)),
        Value::Object(members) => members.values().for_each(|m| leaves(m, out)),
    }
}

/// Member names whose value carries information (empty values are written nowhere).
fn keys(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| keys(i, out)),
        Value::Object(members) => {
            for (k, m) in members {
                let mut inside = Vec::new();
                leaves(m, &mut inside);
                if !inside.is_empty() {
                    out.push(k.clone());
                }
                keys(m, out);
            }
        }
        _ => {}
    }
}

/// Whether the input leaf `leaf` is in the output: as (part of) a string leaf, or, for
/// a value the mapping coerced (`"12"` → 12, `"TRUE"` → true), as the same number / boolean.
/// Numbers are compared as numbers.
fn found(leaf: &str, out_leaves: &[String]) -> bool {
    if out_leaves.iter().any(|o| o.contains(leaf)) {
        return true;
    }
    if let Ok(n) = leaf.parse::<f64>() {
        if out_leaves
            .iter()
            .any(|o| o.parse::<f64>().is_ok_and(|m| same_number(m, n)))
        {
            return true;
        }
    }
    let lower = leaf.to_ascii_lowercase();
    (lower == "true" || lower == "false") && out_leaves.contains(&lower)
}

/// Equal numbers, up to the last digits serde_json's default (not round-trip exact) float
/// parsing may change (`4.46643092510125e-36` is read as `4.4664309251012494e-36`).
fn same_number(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= a.abs().max(b.abs()) * 1e-12
}

fn ocsf(input: &[u8]) -> Result<Value, NormalizeError> {
    let mut normalizer = Normalizer::default();
    let mut out = b"previous\n".to_vec();
    match normalizer.normalize_ocsf_into(input, None, &mut out) {
        Ok(summary) => {
            let doc: Value = serde_json::from_slice(&out[9..]).expect("output is JSON");
            assert_eq!(doc["metadata"]["uid"], Value::from(summary.id.clone()));
            Ok(doc)
        }
        Err(e) => {
            assert_eq!(out, b"previous\n", "output untouched on error");
            Err(e)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: support::seeds::cases(256),
        failure_persistence: support::seeds::committed_seeds(),
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_and_json_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        v in value(),
    ) {
        let _ = ocsf(&bytes);
        let _ = ocsf(&serde_json::to_vec(&v).expect("serializable"));
        let wrapped = json!({"message": v.to_string()});
        let _ = ocsf(wrapped.to_string().as_bytes());
    }

    #[test]
    fn no_okta_member_is_lost_and_the_event_stays_valid_ocsf(
        fixture in 0usize..1000,
        members in prop::collection::vec(
            (prop::sample::select(PLACES), prop::sample::select(KEYS), value()),
            1..4,
        ),
    ) {
        let all = fixtures();
        let (name, base) = &all[fixture % all.len()];
        let mut event = base.clone();
        for (place, key, v) in members {
            insert(&mut event, place, key, v);
        }
        let doc = ocsf(event.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{name}: a valid event must map: {e}\n{event}"));

        let mut input_leaves = Vec::new();
        leaves(&event, &mut input_leaves);
        let mut out_leaves = Vec::new();
        leaves(&doc, &mut out_leaves);
        for leaf in &input_leaves {
            prop_assert!(found(leaf, &out_leaves), "{}: `{}` lost\ninput {}\noutput {}", name, leaf, event, doc);
        }
        // The names of unknown members (with a value) are kept too.
        let mut in_keys = Vec::new();
        keys(&event, &mut in_keys);
        let mut out_keys = Vec::new();
        keys(&doc, &mut out_keys);
        for key in in_keys.iter().filter(|k| ["somethingNew", "futureContext"].contains(&k.as_str())) {
            prop_assert!(out_keys.contains(key), "{}: member `{}` lost\n{}", name, key, doc);
        }
        let errors = schema().validate(&doc);
        prop_assert!(errors.is_empty(), "{}: not valid OCSF: {:?}\n{}", name, errors, doc);
    }
}

#[test]
fn every_fixture_keeps_every_value() {
    // The same check without random changes: what the goldens show is complete.
    let mut normalizer = Normalizer::default();
    for (name, event) in fixtures() {
        let doc = normalizer
            .normalize_ocsf_value(event.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut input_leaves = Vec::new();
        leaves(event, &mut input_leaves);
        let mut out_leaves = Vec::new();
        leaves(&doc, &mut out_leaves);
        let lost: Vec<&String> = input_leaves
            .iter()
            .filter(|l| !found(l, &out_leaves))
            .collect();
        assert!(lost.is_empty(), "{name}: lost {lost:?}");
    }
    assert!(
        fixtures().len() > 60,
        "fixtures found: {}",
        fixtures().len()
    );
    let _ = fs::metadata(validator::root()).expect("fixtures dir");
}

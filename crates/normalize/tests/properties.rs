//! Property tests: no input makes the normalizer panic, errors leave the
//! output untouched, and every valid event yields an object with its uuid.

mod support;

use oktaflow_normalize::{NormalizeError, Normalizer};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const OKTA_KEYS: &[&str] = &[
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
    "message",
    "detail",
    "detail-type",
    "somethingNew",
];

/// Member names that reach the typed paths of nested Okta objects.
const NESTED_KEYS: &[&str] = &[
    "id",
    "type",
    "alternateId",
    "displayName",
    "detailEntry",
    "userAgent",
    "rawUserAgent",
    "ipAddress",
    "geographicalContext",
    "geolocation",
    "lat",
    "lon",
    "city",
    "asNumber",
    "domain",
    "debugData",
    "behaviors",
    "risk",
    "threatSuspected",
    "ipChain",
    "ip",
    "ipDetails",
    "ipServiceCategories",
    "result",
    "issuer",
    "externalSessionId",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        Just(json!("{k=v, New IP=NEGATIVE}")),
        Just(json!("1.2.3.4")),
        Just(json!("example.co.uk")),
        Just(json!("unknown")),
        Just(json!(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0.0.0 Safari/537.36"
        )),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(NESTED_KEYS), inner), 0..6).prop_map(
                |members| {
                    Value::Object(
                        members
                            .into_iter()
                            .map(|(k, v)| (k.to_owned(), v))
                            .collect::<Map<_, _>>(),
                    )
                }
            ),
        ]
    })
}

/// A field that is valid with some probability, else an arbitrary value.
fn maybe(valid: impl Strategy<Value = Value>) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        3 => valid.prop_map(Some),
        1 => value().prop_map(Some),
        1 => Just(None),
    ]
}

fn valid_published() -> impl Strategy<Value = Value> {
    (
        2000i32..2100,
        1u32..13,
        1u32..29,
        0u32..24,
        0u32..60,
        0u32..60,
        0u32..1000,
    )
        .prop_map(|(y, mo, d, h, mi, s, ms)| {
            json!(format!(
                "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z"
            ))
        })
}

fn event_like() -> impl Strategy<Value = Value> {
    (
        maybe("[a-f0-9-]{1,36}".prop_map(Value::from)),
        maybe(valid_published()),
        maybe("[a-z_.]{1,30}".prop_map(Value::from)),
        prop::collection::vec((prop::sample::select(OKTA_KEYS), value()), 0..8),
    )
        .prop_map(|(uuid, published, event_type, others)| {
            let mut map = Map::new();
            for (k, v) in others {
                map.insert(k.to_owned(), v);
            }
            for (k, v) in [
                ("uuid", uuid),
                ("published", published),
                ("eventType", event_type),
            ] {
                if let Some(v) = v {
                    map.insert(k.to_owned(), v);
                }
            }
            Value::Object(map)
        })
}

fn is_valid_event(v: &Value) -> Option<String> {
    let uuid = v.get("uuid")?.as_str().filter(|s| !s.is_empty())?;
    let published = v.get("published")?.as_str()?;
    chrono::DateTime::parse_from_rfc3339(published).ok()?;
    v.get("eventType")?.as_str().filter(|s| !s.is_empty())?;
    // Envelope keys change the form; those cases are checked for no-panic only.
    if v.get("detail").is_some() {
        return None;
    }
    Some(uuid.to_owned())
}

fn check(input: &[u8]) -> Result<Value, NormalizeError> {
    let mut normalizer = Normalizer::default();
    let mut out = b"previous document\n".to_vec();
    match normalizer.normalize_into(input, &mut out) {
        Ok(summary) => {
            let doc: Value = serde_json::from_slice(&out[18..]).expect("output is JSON");
            assert!(doc.is_object(), "output is an object");
            assert_eq!(doc["event"]["id"], Value::from(summary.id.clone()));
            Ok(doc)
        }
        Err(e) => {
            assert_eq!(out, b"previous document\n", "output untouched on error");
            assert!(!e.to_string().is_empty());
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
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = check(&bytes);
    }

    #[test]
    fn arbitrary_json_never_panics(v in value()) {
        let _ = check(&serde_json::to_vec(&v).expect("serializable"));
    }

    #[test]
    fn event_like_objects_never_panic_and_valid_ones_succeed(v in event_like()) {
        let bytes = serde_json::to_vec(&v).expect("serializable");
        let result = check(&bytes);
        if let Some(uuid) = is_valid_event(&v) {
            let doc = result.expect("a valid event normalizes");
            prop_assert_eq!(&doc["event"]["id"], &Value::from(uuid));
        }
        // The wrapper form of the same object behaves like the raw form.
        let wrapped = serde_json::to_vec(&json!({"message": String::from_utf8_lossy(&bytes)})).expect("serializable");
        let _ = check(&wrapped);
    }
}

//! Search-engine mapping stability and documentation coverage.
//!
//! * Every field of the golden outputs (`fixtures/ecs/*.json`) has one JSON
//!   type across all of them, so no document is rejected for a mapping
//!   conflict (arrays are transparent, dotted keys nest, free-form Okta objects
//!   are checked as objects only; see `support/types.rs`).
//! * The same holds for events whose known members get values of random JSON
//!   types (proptest): every field keeps the type the golden outputs give it.
//! * Every field path of the golden outputs is listed in `docs/fields.md`.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use oktaflow_normalize::Normalizer;
use proptest::prelude::*;
use serde_json::{json, Value};
use support::types::{collect, conflicts, Types};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no JSON files in {}", dir.display());
    paths
}

fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The golden outputs, from the normalizer (so a stale expected file cannot
/// hide a conflict; the golden test keeps them equal to the files).
fn golden_outputs() -> &'static Vec<(String, Value)> {
    static OUTPUTS: OnceLock<Vec<(String, Value)>> = OnceLock::new();
    OUTPUTS.get_or_init(|| {
        let mut normalizer = Normalizer::default();
        json_files(&fixtures().join("okta"))
            .iter()
            .map(|p| {
                let raw = std::fs::read(p).expect("fixture is readable");
                let doc = normalizer
                    .normalize_value(&raw)
                    .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                let name = p.file_stem().and_then(|s| s.to_str()).unwrap_or("?");
                (name.to_owned(), doc)
            })
            .collect()
    })
}

fn no_skip(_: &str) -> bool {
    false
}

/// Field types of all golden outputs.
fn golden_types() -> &'static Types {
    static TYPES: OnceLock<Types> = OnceLock::new();
    TYPES.get_or_init(|| {
        let mut types = Types::new();
        for (_, doc) in golden_outputs() {
            collect(doc, &mut types, &no_skip);
        }
        types
    })
}

#[test]
fn every_golden_field_has_one_json_type() {
    let found = conflicts(golden_types());
    assert!(
        found.is_empty(),
        "fields with more than one JSON type across fixtures/ecs:\n{}",
        found.join("\n")
    );
    // The check sees the documents' fields (a wrong walk would pass vacuously).
    let types = golden_types();
    assert!(types["@timestamp"].contains("string"));
    assert!(types["source.geo.location.lat"].contains("number"));
    assert!(types["okta.system.debug.behaviors"].contains("object"));
    assert!(types["okta.system.unmapped.path"].contains("string"));
}

/// Backticked field names in the first column of the `## Fields` table of
/// docs/fields.md; `<key>` and a trailing `*` are wildcards.
fn documented_fields() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/fields.md");
    let doc = std::fs::read_to_string(&path).expect("docs/fields.md is readable");
    let table = doc
        .split("\n## ")
        .find(|section| section.starts_with("Fields"))
        .expect("docs/fields.md has a `## Fields` section");
    let mut names = Vec::new();
    for line in table.lines().filter(|l| l.starts_with("| `")) {
        let first = line.split(" | ").next().unwrap_or("");
        names.extend(
            first
                .split('`')
                .skip(1)
                .step_by(2)
                .map(|name| name.to_owned()),
        );
    }
    names
}

fn matches(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.split('.').collect();
    let f: Vec<&str> = path.split('.').collect();
    for (i, part) in p.iter().enumerate() {
        match *part {
            "*" => return f.len() > i,
            part if part.starts_with('<') && part.ends_with('>') => {
                if f.len() <= i {
                    return false;
                }
            }
            part => {
                if f.get(i) != Some(&part) {
                    return false;
                }
            }
        }
    }
    p.len() == f.len()
}

#[test]
fn every_golden_field_is_documented() {
    let documented = documented_fields();
    assert!(
        documented.len() > 50,
        "too few documented fields: {documented:?}"
    );
    let mut missing = BTreeSet::new();
    for (path, kinds) in golden_types() {
        // Objects are documented through their fields.
        if kinds.len() == 1
            && kinds.contains("object")
            && !support::types::FREE_FORM.contains(&path.as_str())
        {
            continue;
        }
        if !documented.iter().any(|d| matches(d, path)) {
            missing.insert(path.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "fields in fixtures/ecs not listed in docs/fields.md:\n{}",
        missing.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn field_patterns_match_as_documented() {
    assert!(matches("user.name", "user.name"));
    assert!(!matches("user.name", "user.name.x"));
    assert!(matches(
        "okta.system.debug.<key>",
        "okta.system.debug.requestId"
    ));
    assert!(!matches("okta.system.debug.<key>", "okta.system.debug"));
    assert!(matches("okta.system.client.*", "okta.system.client.a.b"));
    assert!(!matches("okta.system.client.*", "okta.system.client"));
}

// --- randomized member types -------------------------------------------------

/// Okta members (JSON pointers) whose value the property test replaces.
const MEMBERS: &[&str] = &[
    "/actor",
    "/actor/id",
    "/actor/alternateId",
    "/actor/displayName",
    "/actor/detailEntry",
    "/client",
    "/client/ipAddress",
    "/client/zone",
    "/client/device",
    "/client/id",
    "/client/userAgent",
    "/client/userAgent/rawUserAgent",
    "/client/userAgent/os",
    "/client/geographicalContext",
    "/client/geographicalContext/city",
    "/client/geographicalContext/postalCode",
    "/client/geographicalContext/geolocation",
    "/client/geographicalContext/geolocation/lat",
    "/client/geographicalContext/geolocation/lon",
    "/device",
    "/authenticationContext",
    "/authenticationContext/authenticationStep",
    "/authenticationContext/externalSessionId",
    "/authenticationContext/issuer",
    "/securityContext",
    "/securityContext/asNumber",
    "/securityContext/asOrg",
    "/securityContext/domain",
    "/securityContext/isProxy",
    "/securityContext/ipDetails",
    "/debugContext",
    "/debugContext/debugData",
    "/debugContext/debugData/behaviors",
    "/debugContext/debugData/risk",
    "/debugContext/debugData/threatSuspected",
    "/debugContext/debugData/requestId",
    "/debugContext/debugData/privilegeGranted",
    "/outcome",
    "/outcome/result",
    "/outcome/reason",
    "/transaction",
    "/transaction/detail",
    "/request",
    "/request/ipChain",
    "/request/ipChain/0",
    "/request/ipChain/0/ip",
    "/request/ipChain/0/geographicalContext",
    "/request/ipChain/0/geographicalContext/geolocation/lat",
    "/request/ipChain/0/ipDetails",
    "/target",
    "/target/0",
    "/target/0/displayName",
    "/target/0/detailEntry",
    "/target/1/alternateId",
    "/severity",
    "/displayMessage",
    "/legacyEventType",
    "/version",
];

/// Names of unknown members the random objects use: kept verbatim (Okta's
/// types, not ours), so the check skips them.
const UNKNOWN_PREFIX: &str = "zz";

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        (-1000.0f64..1000.0).prop_map(Value::from),
        "[a-zA-Z0-9 ,{}=@-]{0,12}".prop_map(Value::from),
        Just(json!("{k=v, New IP=NEGATIVE}")),
        Just(json!("17")),
        Just(json!("-33.86")),
        Just(json!("false")),
        Just(json!("1.2.3.4")),
        Just(json!("unknown")),
    ]
}

fn random_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::vec(inner, 0..3).prop_map(|items| {
                Value::Object(
                    items
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| (format!("{UNKNOWN_PREFIX}{i}"), v))
                        .collect(),
                )
            }),
        ]
    })
}

/// Sets the member at `pointer` when its parent exists.
fn set(event: &mut Value, pointer: &str, value: Value) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    match event.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.insert(last.to_owned(), value);
        }
        Some(Value::Array(items)) => {
            if let Some(slot) = last.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                *slot = value;
            }
        }
        _ => {}
    }
}

fn skip_unknown(path: &str) -> bool {
    path.split('.').any(|part| part.starts_with(UNKNOWN_PREFIX))
}

proptest! {
    // Committed seeds in mapping.proptest-regressions are replayed first; a new
    // failure's seed is printed, never written (see support/seeds.rs).
    #![proptest_config(ProptestConfig {
        cases: support::seeds::cases(128),
        failure_persistence: support::seeds::committed_seeds(),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_member_types_keep_every_field_type(
        fixture in any::<prop::sample::Index>(),
        changes in prop::collection::vec(
            (prop::sample::select(MEMBERS), random_value()),
            1..6,
        ),
    ) {
        let outputs = golden_outputs();
        let (name, _) = fixture.get(outputs);
        let raw = read_json(&fixtures().join("okta").join(format!("{name}.json")));
        let mut event = raw.clone();
        for (pointer, value) in &changes {
            set(&mut event, pointer, value.clone());
        }
        let bytes = serde_json::to_vec(&event).expect("serializable");
        // A change may remove what every LogEvent needs: not this test's concern.
        if let Ok(doc) = Normalizer::default().normalize_value(&bytes) {
            let mut types = golden_types().clone();
            collect(&doc, &mut types, &skip_unknown);
            let found = conflicts(&types);
            prop_assert!(
                found.is_empty(),
                "{name} with {changes:?}: types differ from the golden outputs:\n{}",
                found.join("\n")
            );
        }
    }
}

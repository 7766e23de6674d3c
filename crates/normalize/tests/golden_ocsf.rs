//! OCSF golden tests: every raw Okta event `fixtures/okta/<name>.json` must map (with
//! `Normalizer::default()`, `normalize_ocsf_into`) to the OCSF event stored in
//! `fixtures/ocsf/<name>.json`. Every one of those is also validated against the OCSF 1.8.0
//! schema subset kept in `fixtures/ocsf-schema-1.8.0/` (`tests/ocsf_schema.rs`).
//!
//! Re-bless with the same command as the ECS goldens, `OKTAFLOW_BLESS=1 cargo test -p
//! oktaflow-normalize --test golden_ocsf` (or `--test golden --test golden_ocsf`), then
//! review `git diff fixtures/ocsf`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use oktaflow_normalize::Normalizer;
use serde_json::Value;

const BLESS_ENV: &str = "OKTAFLOW_BLESS";
const BLESS_HINT: &str = "OKTAFLOW_BLESS=1 cargo test -p oktaflow-normalize --test golden_ocsf";

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn okta_dir() -> PathBuf {
    fixtures_root().join("okta")
}

fn ocsf_dir() -> PathBuf {
    fixtures_root().join("ocsf")
}

fn blessing() -> bool {
    std::env::var_os(BLESS_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

fn json_stems(dir: &Path) -> BTreeSet<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return BTreeSet::new();
    };
    entries
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            if path.extension()? != "json" {
                return None;
            }
            Some(path.file_stem()?.to_str()?.to_owned())
        })
        .collect()
}

fn fixture_names() -> BTreeSet<String> {
    let names = json_stems(&okta_dir());
    assert!(!names.is_empty(), "no fixtures in {}", okta_dir().display());
    names
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn pretty(value: &Value) -> String {
    let mut text =
        serde_json::to_string_pretty(value).expect("a serde_json::Value always serializes");
    text.push('\n');
    text
}

fn show(value: &Value) -> String {
    serde_json::to_string(value).expect("a serde_json::Value always serializes")
}

/// One line per difference between `expected` and `actual` under `path`.
fn diff(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let keys: BTreeSet<&String> = e.keys().chain(a.keys()).collect();
            for key in keys {
                let sub = join(key);
                match (e.get(key), a.get(key)) {
                    (Some(ev), Some(av)) => diff(&sub, ev, av, out),
                    (Some(ev), None) => out.push(format!("missing {sub} (expected {})", show(ev))),
                    (None, Some(av)) => out.push(format!("extra   {sub} = {}", show(av))),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            for i in 0..e.len().max(a.len()) {
                let sub = format!("{path}[{i}]");
                match (e.get(i), a.get(i)) {
                    (Some(ev), Some(av)) => diff(&sub, ev, av, out),
                    (Some(ev), None) => out.push(format!("missing {sub} (expected {})", show(ev))),
                    (None, Some(av)) => out.push(format!("extra   {sub} = {}", show(av))),
                    (None, None) => {}
                }
            }
        }
        _ if expected != actual => out.push(format!(
            "changed {path}: expected {}, got {}",
            show(expected),
            show(actual)
        )),
        _ => {}
    }
}

#[test]
fn every_fixture_matches_its_expected_ocsf_event() {
    let bless = blessing();
    let mut normalizer = Normalizer::default();
    let mut failures = String::new();
    let mut blessed = Vec::new();
    let names = fixture_names();
    for name in &names {
        let raw = read(&okta_dir().join(format!("{name}.json")));
        let path = ocsf_dir().join(format!("{name}.json"));
        let actual = match normalizer.normalize_ocsf_value(&raw) {
            Ok(value) => value,
            Err(e) => {
                let _ = writeln!(failures, "\n{name}: OCSF mapping failed: {e}");
                continue;
            }
        };
        if bless {
            let text = pretty(&actual);
            if fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                fs::create_dir_all(ocsf_dir()).expect("cannot create fixtures/ocsf");
                fs::write(&path, text)
                    .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
                blessed.push(name.as_str());
            }
            continue;
        }
        let Ok(expected_bytes) = fs::read(&path) else {
            let _ = writeln!(
                failures,
                "\n{name}: no expected file {}; create it with `{BLESS_HINT}` and review it",
                path.display()
            );
            continue;
        };
        let expected: Value = match serde_json::from_slice(&expected_bytes) {
            Ok(v) => v,
            Err(e) => {
                let _ = writeln!(failures, "\n{name}: {} is not JSON: {e}", path.display());
                continue;
            }
        };
        let mut lines = Vec::new();
        diff("", &expected, &actual, &mut lines);
        if !lines.is_empty() {
            let _ = writeln!(failures, "\n{name}: {} difference(s)", lines.len());
            for line in lines {
                let _ = writeln!(failures, "    {line}");
            }
        }
    }
    if bless {
        eprintln!(
            "blessed {} of {} OCSF file(s): {}",
            blessed.len(),
            names.len(),
            blessed.join(", ")
        );
    }
    assert!(
        failures.is_empty(),
        "OCSF golden mismatches (expected = fixtures/ocsf):\n{failures}\n\
         If the new output is right, re-bless with `{BLESS_HINT}` and review `git diff fixtures/ocsf`."
    );
}

#[test]
fn every_expected_ocsf_file_has_a_raw_fixture() {
    let raw = fixture_names();
    let orphans: Vec<String> = json_stems(&ocsf_dir()).difference(&raw).cloned().collect();
    if blessing() {
        for name in &orphans {
            let path = ocsf_dir().join(format!("{name}.json"));
            fs::remove_file(&path)
                .unwrap_or_else(|e| panic!("cannot remove {}: {e}", path.display()));
        }
        return;
    }
    assert!(
        orphans.is_empty(),
        "fixtures/ocsf files without a raw fixture in fixtures/okta/: {}",
        orphans.join(", ")
    );
}

#[test]
fn normalize_ocsf_into_appends_one_compact_document_and_a_matching_summary() {
    const PREFIX: &[u8] = b"previous\n";
    let mut normalizer = Normalizer::default();
    for name in fixture_names() {
        let raw = read(&okta_dir().join(format!("{name}.json")));
        let mut out = PREFIX.to_vec();
        let summary = normalizer
            .normalize_ocsf_into(&raw, None, &mut out)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(out.starts_with(PREFIX), "{name}: changed what out held");
        let appended = &out[PREFIX.len()..];
        assert!(!appended.contains(&b'\n'), "{name}: not one compact line");
        let doc: Value = serde_json::from_slice(appended).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(doc["metadata"]["uid"], summary.id.as_str(), "{name}");
        assert_eq!(
            doc["time"].as_i64(),
            Some(summary.published.timestamp_millis()),
            "{name}"
        );
        // The ECS summary of the same event says the same.
        let ecs = normalizer
            .normalize_into(&raw, &mut Vec::new())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(ecs, summary, "{name}");
        // A failing input leaves `out` as it was.
        let before = out.clone();
        assert!(normalizer
            .normalize_ocsf_into(b"{\"uuid\":\"x\"}", None, &mut out)
            .is_err());
        assert_eq!(out, before);
    }
}

#[test]
fn an_unparsable_published_falls_back_to_the_fetch_time_and_is_marked() {
    let fetched: chrono::DateTime<chrono::Utc> =
        "2024-05-01T10:00:05.123456Z".parse().expect("a time");
    let event = br#"{"uuid":"u4","published":"01/05/2024 10:00","eventType":"system.idp.lifecycle.create"}"#;
    let mut normalizer = Normalizer::default();
    let mut out = Vec::new();
    assert!(normalizer
        .normalize_ocsf_into(event, None, &mut out)
        .is_err());
    assert!(out.is_empty());
    let summary = normalizer
        .normalize_ocsf_into(event, Some(fetched), &mut out)
        .expect("kept with the fetch time");
    assert!(summary.published_fallback);
    let doc: Value = serde_json::from_slice(&out).expect("JSON");
    assert_eq!(doc["time"], fetched.timestamp_millis());
    assert_eq!(doc["metadata"]["original_time"], "01/05/2024 10:00");
    assert_eq!(
        doc["metadata"]["labels"],
        serde_json::json!([oktaflow_normalize::PUBLISHED_UNPARSABLE_TAG])
    );
    // A usable `published` is the time, unmarked, whatever the fetch time.
    let good =
        br#"{"uuid":"u6","published":"2024-05-01T09:00:00.250Z","eventType":"user.session.start"}"#;
    let mut out = Vec::new();
    let summary = normalizer
        .normalize_ocsf_into(good, Some(fetched), &mut out)
        .expect("maps");
    assert!(!summary.published_fallback);
    let doc: Value = serde_json::from_slice(&out).expect("JSON");
    assert_eq!(doc["time"], 1_714_554_000_250_i64);
    assert!(doc["metadata"].get("labels").is_none());
}

#[test]
fn the_raw_event_is_raw_data_when_asked_for() {
    let event =
        r#"{"uuid":"u7","published":"2024-05-01T09:00:00Z","eventType":"user.session.end"}"#;
    let mut normalizer = Normalizer::new(oktaflow_normalize::Options {
        include_original: true,
        ..Default::default()
    });
    let doc = normalizer
        .normalize_ocsf_value(event.as_bytes())
        .expect("maps");
    assert_eq!(doc["raw_data"], event);
    let doc = Normalizer::default()
        .normalize_ocsf_value(event.as_bytes())
        .expect("maps");
    assert!(doc.get("raw_data").is_none());
    // Without an actor, the required user is there, of type Unknown, named as Okta names
    // users it could not identify (OCSF wants a name or uid).
    assert_eq!(
        doc["user"],
        serde_json::json!({"name": "unknown", "type_id": 0})
    );
    assert_eq!(doc["class_uid"], 3002);
    assert_eq!(doc["type_uid"], 300202);
}

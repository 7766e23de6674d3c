//! Golden tests: every raw Okta event `fixtures/okta/<name>.json` must normalize, in
//! every schema (`Schema::ALL`, default options otherwise), to the document stored in
//! `fixtures/<schema>/<name>.json` (`fixtures/ecs/`, `fixtures/elastic/`, ...).
//!
//! Documents compare as JSON values; a mismatch prints a field-by-field diff (dotted paths)
//! for every failing fixture, and the test fails once all fixtures have been checked.
//!
//! Re-bless (rewrite the expected files from the current output) with
//! `OKTAFLOW_BLESS=1 cargo test -p oktaflow-normalize --test golden`, then review
//! `git diff fixtures/` before committing: a blessed file is a claim that the output is right.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use oktaflow_normalize::{Normalizer, Options, Schema};
use serde_json::Value;

/// Environment variable that switches the golden test from comparing to rewriting.
const BLESS_ENV: &str = "OKTAFLOW_BLESS";

const BLESS_HINT: &str = "OKTAFLOW_BLESS=1 cargo test -p oktaflow-normalize --test golden";

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn okta_dir() -> PathBuf {
    fixtures_root().join("okta")
}

/// `fixtures/<schema name>`: the expected documents of one schema.
fn schema_dir(schema: Schema) -> PathBuf {
    fixtures_root().join(schema.name())
}

fn normalizer(schema: Schema) -> Normalizer {
    Normalizer::new(Options {
        schema,
        ..Options::default()
    })
}

fn blessing() -> bool {
    std::env::var_os(BLESS_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Stems of the `*.json` files in `dir`, sorted. A missing directory is an empty set.
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

/// The raw fixture names; panics (fails the test) when there are none, so that a wrong
/// path can never make the golden test pass vacuously.
fn fixture_names() -> BTreeSet<String> {
    let names = json_stems(&okta_dir());
    assert!(
        !names.is_empty(),
        "no fixtures found in {}",
        okta_dir().display()
    );
    names
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn parse_json(path: &Path, bytes: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("{} is not valid JSON: {e}", path.display()))
}

/// Pretty JSON with a trailing newline: the on-disk form of expected files.
fn pretty(value: &Value) -> String {
    let mut text =
        serde_json::to_string_pretty(value).expect("a serde_json::Value always serializes");
    text.push('\n');
    text
}

fn show(value: &Value) -> String {
    serde_json::to_string(value).expect("a serde_json::Value always serializes")
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Appends one line per difference between `expected` and `actual` under `path`:
/// `missing` (only in expected), `extra` (only in actual) or `changed` (both, different).
fn diff(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    let shown = |p: &str| {
        if p.is_empty() {
            "<root>".to_owned()
        } else {
            p.to_owned()
        }
    };
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let keys: BTreeSet<&String> = e.keys().chain(a.keys()).collect();
            for key in keys {
                let sub = join(path, key);
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
            "changed {}: expected {}, got {}",
            shown(path),
            show(expected),
            show(actual)
        )),
        _ => {}
    }
}

#[test]
fn every_fixture_matches_its_expected_document_in_every_schema() {
    let mut failures = String::new();
    for schema in Schema::ALL {
        failures.push_str(&check_schema(*schema));
    }
    assert!(
        failures.is_empty(),
        "golden mismatches (expected = fixtures/<schema>, got = normalizer output):\n{failures}\n\
         If the new output is right, re-bless with `{BLESS_HINT}` and review `git diff fixtures/`."
    );
}

/// Compares (or blesses) one schema's expected files; returns the failures.
fn check_schema(schema: Schema) -> String {
    let bless = blessing();
    let mut normalizer = normalizer(schema);
    let mut failures = String::new();
    let mut blessed = Vec::new();
    let names = fixture_names();
    let dir = schema_dir(schema);

    for name in &names {
        let raw_path = okta_dir().join(format!("{name}.json"));
        let ecs_path = dir.join(format!("{name}.json"));
        let actual = match normalizer.normalize_value(&read(&raw_path)) {
            Ok(value) => value,
            Err(e) => {
                let _ = writeln!(failures, "\n{schema}/{name}: normalize failed: {e}");
                continue;
            }
        };

        if bless {
            let text = pretty(&actual);
            if fs::read_to_string(&ecs_path).ok().as_deref() != Some(text.as_str()) {
                fs::create_dir_all(&dir).expect("cannot create the schema's fixture folder");
                fs::write(&ecs_path, text)
                    .unwrap_or_else(|e| panic!("cannot write {}: {e}", ecs_path.display()));
                blessed.push(name.as_str());
            }
            continue;
        }

        if !ecs_path.exists() {
            let _ = writeln!(
                failures,
                "\n{schema}/{name}: no expected file {}; create it with `{BLESS_HINT}` and review it",
                ecs_path.display()
            );
            continue;
        }
        let expected = match parse_json(&ecs_path, &read(&ecs_path)) {
            Ok(value) => value,
            Err(e) => {
                let _ = writeln!(failures, "\n{name}: {e}");
                continue;
            }
        };
        let mut lines = Vec::new();
        diff("", &expected, &actual, &mut lines);
        if !lines.is_empty() {
            let _ = writeln!(failures, "\n{schema}/{name}: {} difference(s)", lines.len());
            for line in lines {
                let _ = writeln!(failures, "    {line}");
            }
        }
    }

    if bless {
        eprintln!(
            "{schema}: blessed {} of {} expected file(s){}{}",
            blessed.len(),
            names.len(),
            if blessed.is_empty() { "" } else { ": " },
            blessed.join(", ")
        );
    }
    failures
}

#[test]
fn every_expected_file_has_a_raw_fixture() {
    let raw = fixture_names();
    let orphans: Vec<PathBuf> = Schema::ALL
        .iter()
        .flat_map(|schema| {
            let dir = schema_dir(*schema);
            json_stems(&dir)
                .difference(&raw)
                .map(|name| dir.join(format!("{name}.json")))
                .collect::<Vec<_>>()
        })
        .collect();
    if blessing() {
        for path in &orphans {
            fs::remove_file(path)
                .unwrap_or_else(|e| panic!("cannot remove {}: {e}", path.display()));
            eprintln!("removed orphan expected file {}", path.display());
        }
        return;
    }
    assert!(
        orphans.is_empty(),
        "expected files without a raw fixture in fixtures/okta/ (rename or delete them; \
         blessing removes them): {orphans:?}"
    );
}

#[test]
fn normalize_into_appends_the_same_document_as_normalize_value() {
    const PREFIX: &[u8] = b"previous document\n";
    let mut failures = Vec::new();

    for (schema, name) in Schema::ALL
        .iter()
        .flat_map(|s| fixture_names().into_iter().map(move |n| (*s, n)))
    {
        let mut normalizer = normalizer(schema);
        let name = format!("{schema}/{name}");
        let name = name.as_str();
        let raw = read(&okta_dir().join(format!("{}.json", &name[schema.name().len() + 1..])));
        let value = normalizer
            .normalize_value(&raw)
            .unwrap_or_else(|e| panic!("{name}: normalize_value failed: {e}"));
        let mut out = PREFIX.to_vec();
        let summary = normalizer
            .normalize_into(&raw, &mut out)
            .unwrap_or_else(|e| panic!("{name}: normalize_into failed: {e}"));

        if !out.starts_with(PREFIX) {
            failures.push(format!(
                "{name}: normalize_into changed what `out` already held"
            ));
            continue;
        }
        let appended = &out[PREFIX.len()..];
        if appended.last() == Some(&b'\n') || appended.contains(&b'\n') {
            failures.push(format!(
                "{name}: output is not one compact line without newline"
            ));
        }
        match serde_json::from_slice::<Value>(appended) {
            Ok(parsed) if parsed == value => {}
            Ok(parsed) => {
                let mut lines = Vec::new();
                diff("", &value, &parsed, &mut lines);
                failures.push(format!(
                    "{name}: normalize_into differs from normalize_value (expected = value):\n    {}",
                    lines.join("\n    ")
                ));
            }
            Err(e) => failures.push(format!("{name}: normalize_into wrote invalid JSON: {e}")),
        }

        // The summary must agree with the document it describes.
        let (id, category, timestamp) = match schema {
            // OCSF: `metadata.uid`, `time` in epoch milliseconds; `EventSummary::category`
            // is the ECS category, which the OCSF event does not carry.
            Schema::Ocsf => (
                value.pointer("/metadata/uid").and_then(Value::as_str),
                Some(summary.category),
                value
                    .get("time")
                    .and_then(Value::as_i64)
                    .and_then(DateTime::<Utc>::from_timestamp_millis),
            ),
            Schema::Ecs | Schema::Elastic => (
                value.pointer("/event/id").and_then(Value::as_str),
                value.pointer("/event/category/0").and_then(Value::as_str),
                value
                    .get("@timestamp")
                    .and_then(Value::as_str)
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc)),
            ),
        };
        if id != Some(summary.id.as_str()) {
            failures.push(format!(
                "{name}: summary.id {:?} != the document's id {id:?}",
                summary.id
            ));
        }
        if category != Some(summary.category) {
            failures.push(format!(
                "{name}: summary.category {:?} != event.category[0]",
                summary.category
            ));
        }
        // OCSF `time` has millisecond precision.
        let published = match schema {
            Schema::Ocsf => {
                DateTime::<Utc>::from_timestamp_millis(summary.published.timestamp_millis())
            }
            Schema::Ecs | Schema::Elastic => Some(summary.published),
        };
        if timestamp != published {
            failures.push(format!(
                "{name}: summary.published {} != the document's time {timestamp:?}",
                summary.published
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn sample_ndjson_holds_every_fixture_once() {
    let path = fixtures_root().join("okta-sample.ndjson");
    let text = String::from_utf8(read(&path)).expect("okta-sample.ndjson is UTF-8");
    let mut sample = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let value =
            parse_json(&path, line.as_bytes()).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        sample.push(show(&value));
    }
    let mut fixtures: Vec<String> = fixture_names()
        .iter()
        .map(|name| {
            let p = okta_dir().join(format!("{name}.json"));
            show(&parse_json(&p, &read(&p)).unwrap_or_else(|e| panic!("{e}")))
        })
        .collect();
    sample.sort();
    fixtures.sort();
    assert_eq!(
        sample, fixtures,
        "fixtures/okta-sample.ndjson must hold each fixtures/okta/*.json exactly once, one per line"
    );
}

#[test]
fn diff_reports_missing_extra_and_changed_fields_by_dotted_path() {
    let expected = serde_json::json!({
        "event": {"action": "a", "category": ["iam", "session"]},
        "user": {"name": "x"},
        "gone": 1
    });
    let actual = serde_json::json!({
        "event": {"action": "b", "category": ["iam"]},
        "user": {"name": "x", "id": "7"},
    });
    let mut lines = Vec::new();
    diff("", &expected, &actual, &mut lines);
    assert_eq!(
        lines,
        [
            r#"changed event.action: expected "a", got "b""#,
            r#"missing event.category[1] (expected "session")"#,
            "missing gone (expected 1)",
            r#"extra   user.id = "7""#,
        ]
    );
    let mut none = Vec::new();
    diff("", &expected, &expected, &mut none);
    assert!(none.is_empty());
}

/// The field names of the `## Elastic schema fields` table of docs/fields.md: backticked
/// names of the first column; `.x` continues the first name's parent, a trailing `.*`
/// or `[]` covers everything below.
fn elastic_documented() -> Vec<String> {
    let path = fixtures_root().join("../docs/fields.md");
    let doc = String::from_utf8(read(&path)).expect("docs/fields.md is UTF-8");
    let table = doc
        .split("\n## ")
        .find(|s| s.starts_with("Elastic schema fields"))
        .expect("docs/fields.md has `## Elastic schema fields`");
    let mut names = Vec::new();
    for line in table.lines().filter(|l| l.starts_with("| `")) {
        let first = line.split(" | ").next().unwrap_or("");
        let mut base = String::new();
        for name in first.split('`').skip(1).step_by(2) {
            if let Some(rel) = name.strip_prefix('.') {
                names.push(format!("{base}.{rel}"));
            } else {
                base = name.rsplit_once('.').map_or("", |(b, _)| b).to_owned();
                names.push(name.to_owned());
            }
        }
    }
    names
}

/// Leaf paths of `v` (array items share their array's path; a `{lat, lon}` object is one leaf).
fn leaf_paths(path: &str, v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) if !(map.contains_key("lat") && map.contains_key("lon")) => {
            for (k, v) in map {
                leaf_paths(&join(path, k), v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| leaf_paths(path, i, out)),
        _ => {
            out.insert(path.to_owned());
        }
    }
}

#[test]
fn every_elastic_field_is_documented() {
    let documented = elastic_documented();
    assert!(documented.len() > 50, "too few: {documented:?}");
    let covers = |name: &str, field: &str| {
        let whole = name.strip_suffix(".*").or(name.strip_suffix("[]"));
        field == name.trim_end_matches("[]")
            || whole.is_some_and(|w| field.starts_with(&format!("{w}.")))
    };
    let mut fields = BTreeSet::new();
    for name in fixture_names() {
        let path = schema_dir(Schema::Elastic).join(format!("{name}.json"));
        let doc = parse_json(&path, &read(&path)).unwrap_or_else(|e| panic!("{e}"));
        leaf_paths("", &doc, &mut fields);
    }
    assert!(fields.contains("okta.client.ip"), "{fields:?}");
    let missing: Vec<&String> = fields
        .iter()
        .filter(|f| !documented.iter().any(|d| covers(d, f)))
        .collect();
    assert!(
        missing.is_empty(),
        "fields in fixtures/elastic not in docs/fields.md (`## Elastic schema fields`): {missing:?}"
    );
}

//! Conformance of the `elastic` schema with Elastic's own Okta integration: its
//! pipeline tests (`packages/okta/data_stream/system/_dev/test/pipeline/` of
//! elastic/integrations: inputs `test-*.log` / `test-*.json` and the documents Elastic's
//! ingest pipeline produces for them, `*-expected.json`).
//!
//! Those files are under the Elastic License 2.0 and are not part of this repository:
//! the test reads them from the folder named by `OKTAFLOW_ELASTIC_PIPELINE_TESTS` (a
//! checkout of that folder). It is `#[ignore]`d; run it with
//! `OKTAFLOW_ELASTIC_PIPELINE_TESTS=DIR cargo test -p oktaflow-normalize --test
//! elastic_conformance -- --ignored --nocapture` (it fails when the variable is unset).
//!
//! Every input goes through `Schema::Elastic`; every leaf of the expected document
//! (dotted path; arrays of scalars compared as sets, arrays of objects item by item) is
//! compared with ours, except the fields listed in `EXCLUDED` (Elastic's GeoIP
//! databases, its user-agent parser, ingest metadata; reasons in
//! `docs/conformance.md`). Fields we add are not counted. A disagreement fails the test
//! unless its field is listed between the `elastic-differences` markers of
//! `docs/conformance.md`, and a listed field that agrees everywhere fails too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use oktaflow_normalize::{Normalizer, Options, Schema};
use serde_json::Value;

const ENV: &str = "OKTAFLOW_ELASTIC_PIPELINE_TESTS";
const START: &str = "<!-- elastic-differences:start -->";
const END: &str = "<!-- elastic-differences:end -->";

/// Fields not compared, by prefix: they come from Elastic's GeoIP databases
/// (`source.geo`, `source.as`), its user-agent parser (`user_agent.*` but `original`),
/// or the ingest run itself (`event.ingested`, `event.created`, `event.original` and the
/// `preserve_original_event` tag that keeps it, `_conf`).
const EXCLUDED: &[&str] = &[
    "source.geo",
    "source.as",
    "destination.geo",
    "destination.as",
    "user_agent.name",
    "user_agent.version",
    "user_agent.os",
    "user_agent.device",
    "event.ingested",
    "event.created",
    "event.original",
    "tags",
    "_conf",
];

fn docs_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/conformance.md")
}

/// The fields listed between the markers of docs/conformance.md
/// (``- field: `F` | ...``).
fn documented(doc: &str) -> BTreeSet<String> {
    let start = doc
        .find(START)
        .expect("docs/conformance.md has the start marker")
        + START.len();
    let end = doc
        .find(END)
        .expect("docs/conformance.md has the end marker");
    doc[start..end]
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- field: `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect()
}

/// Leaves of `v` by dotted path; an array of scalars is one leaf (sorted), an array of
/// objects gives `path[i].…`.
fn leaves(path: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let sub = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                leaves(&sub, v, out);
            }
        }
        Value::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {
            for (i, item) in items.iter().enumerate() {
                leaves(&format!("{path}[{i}]"), item, out);
            }
        }
        Value::Array(items) => {
            let mut sorted: Vec<String> = items.iter().map(Value::to_string).collect();
            sorted.sort();
            out.insert(path.to_owned(), Value::from(sorted));
        }
        other => {
            out.insert(path.to_owned(), other.clone());
        }
    }
}

/// Same value, numbers compared as floats (`0.00` and `0.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// The inputs of one pipeline test file: lines of a `.log`, `events[]` of a `.json`.
fn inputs(path: &Path) -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "json") {
        let value: Value = serde_json::from_str(&text).expect("a pipeline test .json input");
        value["events"]
            .as_array()
            .expect("`events` array")
            .iter()
            .map(|e| e.to_string().into_bytes())
            .collect()
    } else {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.as_bytes().to_vec())
            .collect()
    }
}

fn excluded(field: &str) -> bool {
    EXCLUDED
        .iter()
        .any(|p| field == *p || field.starts_with(&format!("{p}.")))
}

#[test]
#[ignore = "needs Elastic's okta pipeline tests: set OKTAFLOW_ELASTIC_PIPELINE_TESTS"]
fn the_elastic_schema_reproduces_elastics_pipeline_tests() {
    let dir = PathBuf::from(std::env::var_os(ENV).unwrap_or_else(|| {
        panic!("{ENV} is not set: point it at packages/okta/data_stream/system/_dev/test/pipeline")
    }));
    let doc = std::fs::read_to_string(docs_path()).expect("docs/conformance.md");
    let listed = documented(&doc);
    let mut normalizer = Normalizer::new(Options {
        schema: Schema::Elastic,
        include_original: true,
        ..Options::default()
    });

    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with("-expected.json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *-expected.json in {}", dir.display());

    let (mut documents, mut compared, mut agreeing) = (0, 0, 0);
    let mut unexplained = Vec::new();
    let mut differing: BTreeSet<String> = BTreeSet::new();
    for expected_path in &files {
        let name = expected_path.to_string_lossy();
        let input_path = PathBuf::from(name.trim_end_matches("-expected.json"));
        let inputs = inputs(&input_path);
        let expected: Value =
            serde_json::from_slice(&std::fs::read(expected_path).expect("expected file"))
                .expect("expected file is JSON");
        let expected = expected["expected"].as_array().expect("`expected` array");
        assert_eq!(
            inputs.len(),
            expected.len(),
            "{}: inputs and expected documents differ in number",
            input_path.display()
        );
        let before = (documents, compared, agreeing);
        for (i, (input, want)) in inputs.iter().zip(expected).enumerate() {
            let case = format!(
                "{}#{i}",
                input_path.file_name().unwrap_or_default().to_string_lossy()
            );
            let got = match normalizer.normalize_value(input) {
                Ok(v) => v,
                Err(e) => {
                    unexplained.push(format!("{case}: not normalized: {e}"));
                    continue;
                }
            };
            documents += 1;
            let (mut want_leaves, mut got_leaves) = (BTreeMap::new(), BTreeMap::new());
            leaves("", want, &mut want_leaves);
            leaves("", &got, &mut got_leaves);
            for (field, value) in want_leaves.iter().filter(|(f, _)| !excluded(f)) {
                compared += 1;
                match got_leaves.get(field) {
                    Some(ours) if same(ours, value) => agreeing += 1,
                    ours => {
                        let generic: String = field
                            .split('[')
                            .map(|p| p.split_once(']').map_or(p, |(_, rest)| rest))
                            .collect();
                        differing.insert(generic.clone());
                        if !listed.contains(&generic) {
                            unexplained.push(format!(
                                "{case}: {field}: elastic {value}, ours {}",
                                ours.map_or("absent".to_owned(), Value::to_string)
                            ));
                        }
                    }
                }
            }
        }
        eprintln!(
            "{}: {} documents, {} fields compared, {} agree",
            input_path.display(),
            documents - before.0,
            compared - before.1,
            agreeing - before.2
        );
    }
    eprintln!(
        "elastic conformance: {documents} documents, {compared} fields compared, {agreeing} agree \
         ({} differ; excluded: {})",
        compared - agreeing,
        EXCLUDED.join(", ")
    );
    let stale: Vec<&String> = listed.difference(&differing).collect();
    assert!(
        unexplained.is_empty(),
        "disagreements not listed in docs/conformance.md:\n{}",
        unexplained.join("\n")
    );
    assert!(
        stale.is_empty(),
        "listed in docs/conformance.md but agreeing everywhere (remove them): {stale:?}"
    );
}

#[test]
fn leaves_sort_scalar_arrays_and_index_object_arrays() {
    let mut out = BTreeMap::new();
    leaves(
        "",
        &serde_json::json!({"a": {"b": ["y", "x"]}, "t": [{"id": 1}]}),
        &mut out,
    );
    assert_eq!(out["a.b"], serde_json::json!(["\"x\"", "\"y\""]));
    assert_eq!(out["t[0].id"], serde_json::json!(1));
    assert!(excluded("user_agent.os.full") && !excluded("user_agent.original"));
    assert!(same(&serde_json::json!(0.0), &serde_json::json!(0)));
}

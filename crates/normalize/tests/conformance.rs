//! Conformance with the Sekoia.io Okta parser's own test cases.
//!
//! Reads `<workspace>/../shared/conformance/sekoia/cases/*.json`, feeds each
//! `input.message` to the normalizer and compares the output with `expected`
//! leaf by leaf (dotted paths; arrays compared whole), ignoring `message`,
//! `sekoia.*` and `event.original`. Fields we add are extra information and
//! only counted. It fails on any disagreement except:
//! * `@timestamp` values that differ only in trailing zero digits of the fraction;
//! * `user_agent.*` differences listed in `docs/conformance.md` (parsed here,
//!   so the doc and the test cannot drift: a listed difference that no longer
//!   occurs fails too);
//! * deliberate differences on other fields, listed the same way in their own
//!   block of `docs/conformance.md` (where following Sekoia.io would be wrong).
//!
//! The test is `#[ignore]`d, since the data sits outside the checkout: `cargo
//! test` reports it as ignored; `.ci/run` runs it with `--ignored` (run as
//! `cargo test -p oktaflow-normalize --test conformance -- --ignored`), and it
//! fails when the conformance folder is missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oktaflow_normalize::{Normalizer, Options};
use serde_json::Value;

const START: &str = "<!-- user-agent-differences:start -->";
const END: &str = "<!-- user-agent-differences:end -->";
const DELIBERATE_START: &str = "<!-- deliberate-differences:start -->";
const DELIBERATE_END: &str = "<!-- deliberate-differences:end -->";

/// One documented difference (`user_agent.*`, or a deliberate one).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Difference {
    case: String,
    field: String,
    sekoia: String,
    ours: String,
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/sekoia/cases")
}

fn docs_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/conformance.md")
}

/// Parses the bullet list between the `user_agent` markers of docs/conformance.md:
/// ``- case: `C` | field: `F` | sekoia: `JSON or absent` | ours: `JSON or absent` ``
fn documented_differences(doc: &str) -> Vec<Difference> {
    differences_between(doc, START, END)
}

/// Parses the bullet list between `start_marker` and `end_marker`.
fn differences_between(doc: &str, start_marker: &str, end_marker: &str) -> Vec<Difference> {
    let start = doc
        .find(start_marker)
        .unwrap_or_else(|| panic!("docs/conformance.md has the marker {start_marker}"))
        + start_marker.len();
    let end = doc
        .find(end_marker)
        .unwrap_or_else(|| panic!("docs/conformance.md has the marker {end_marker}"));
    let mut out = Vec::new();
    for line in doc[start..end]
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("- "))
    {
        let mut fields = BTreeMap::new();
        for part in line[2..].split(" | ") {
            let (name, value) = part
                .split_once(": ")
                .unwrap_or_else(|| panic!("malformed line: {line}"));
            let value = value.trim().trim_matches('`');
            fields.insert(name.trim().to_owned(), value.to_owned());
        }
        let get = |k: &str| {
            fields
                .get(k)
                .cloned()
                .unwrap_or_else(|| panic!("line lacks `{k}`: {line}"))
        };
        out.push(Difference {
            case: get("case"),
            field: get("field"),
            sekoia: get("sekoia"),
            ours: get("ours"),
        });
    }
    out
}

/// Flattens an object to dotted leaves; arrays and scalars are leaves.
fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, v, out);
            }
        }
        other => {
            out.insert(prefix.to_owned(), other.clone());
        }
    }
}

fn ignored(path: &str) -> bool {
    path == "message" || path == "event.original" || path == "sekoia" || path.starts_with("sekoia.")
}

/// `@timestamp` values equal up to trailing zeros of the fraction.
fn same_instant(a: &Value, b: &Value) -> bool {
    fn canonical(v: &Value) -> Option<String> {
        let s = v.as_str()?.strip_suffix('Z')?;
        Some(match s.split_once('.') {
            Some((whole, frac)) => {
                let frac = frac.trim_end_matches('0');
                if frac.is_empty() {
                    whole.to_owned()
                } else {
                    format!("{whole}.{frac}")
                }
            }
            None => s.to_owned(),
        })
    }
    canonical(a).is_some() && canonical(a) == canonical(b)
}

fn render(v: Option<&Value>) -> String {
    v.map_or_else(|| "absent".to_owned(), Value::to_string)
}

#[test]
#[ignore = "needs the conformance cases in ../shared/conformance beside the checkout"]
fn sekoia_cases_conform() {
    let dir = cases_dir();
    assert!(
        dir.is_dir(),
        "conformance cases not found at {}: they sit beside the checkout (.ci/run requires them)",
        dir.display()
    );
    let doc = std::fs::read_to_string(docs_path()).expect("docs/conformance.md is readable");
    let documented = documented_differences(&doc);
    let deliberate = differences_between(&doc, DELIBERATE_START, DELIBERATE_END);

    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("cases directory is readable")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no cases in {}", dir.display());

    let mut normalizer = Normalizer::new(Options::default());
    // field -> (agree, documented, disagree)
    let mut per_field: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let mut observed: Vec<Difference> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let mut extra_fields = 0usize;

    for path in &paths {
        let case = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("UTF-8 file name")
            .to_owned();
        let text = std::fs::read_to_string(path).expect("case is readable");
        let parsed: Value = serde_json::from_str(&text).expect("case is JSON");
        let message = parsed["input"]["message"]
            .as_str()
            .expect("input.message is a string");
        let ours = normalizer
            .normalize_value(message.as_bytes())
            .unwrap_or_else(|e| panic!("{case}: normalize failed: {e}"));
        // The wrapper form must give the same document.
        let wrapped = serde_json::to_vec(&parsed["input"]).expect("serializable");
        let via_wrapper = normalizer
            .normalize_value(&wrapped)
            .expect("wrapper form normalizes");
        assert_eq!(
            ours, via_wrapper,
            "{case}: wrapper form differs from raw form"
        );

        let mut expected_leaves = BTreeMap::new();
        flatten("", &parsed["expected"], &mut expected_leaves);
        let mut our_leaves = BTreeMap::new();
        flatten("", &ours, &mut our_leaves);
        expected_leaves.retain(|k, _| !ignored(k));

        extra_fields += our_leaves
            .keys()
            .filter(|k| !expected_leaves.contains_key(*k))
            .count();
        for (field, expected) in &expected_leaves {
            let got = our_leaves.get(field);
            let counts = per_field.entry(field.clone()).or_default();
            let agree = match got {
                Some(g) if g == expected => true,
                Some(g) if field == "@timestamp" => same_instant(g, expected),
                _ => false,
            };
            if agree {
                counts.0 += 1;
                continue;
            }
            if field.starts_with("user_agent.") {
                let diff = Difference {
                    case: case.clone(),
                    field: field.clone(),
                    sekoia: expected.to_string(),
                    ours: render(got),
                };
                if documented.contains(&diff) {
                    counts.1 += 1;
                    observed.push(diff);
                    continue;
                }
                failures.push(format!(
                    "{case}: undocumented user_agent difference; add to docs/conformance.md:\n  - case: `{}` | field: `{}` | sekoia: `{}` | ours: `{}`",
                    diff.case, diff.field, diff.sekoia, diff.ours
                ));
            } else {
                let diff = Difference {
                    case: case.clone(),
                    field: field.clone(),
                    sekoia: expected.to_string(),
                    ours: render(got),
                };
                if deliberate.contains(&diff) {
                    counts.1 += 1;
                    observed.push(diff);
                    continue;
                }
                failures.push(format!(
                    "{case}: {field}: Sekoia {expected}, ours {}",
                    render(got)
                ));
            }
            counts.2 += 1;
        }
        // user_agent fields we emit that Sekoia lacks are also differences of the parsers.
        for (field, got) in our_leaves
            .iter()
            .filter(|(k, _)| k.starts_with("user_agent."))
        {
            if !expected_leaves.contains_key(field)
                && expected_leaves.keys().any(|k| k.starts_with("user_agent."))
            {
                let diff = Difference {
                    case: case.clone(),
                    field: field.clone(),
                    sekoia: "absent".to_owned(),
                    ours: got.to_string(),
                };
                if documented.contains(&diff) {
                    observed.push(diff);
                } else {
                    failures.push(format!(
                        "{case}: undocumented user_agent field; add to docs/conformance.md:\n  - case: `{}` | field: `{}` | sekoia: `absent` | ours: `{}`",
                        diff.case, diff.field, diff.ours
                    ));
                }
            }
        }
    }

    println!("Sekoia.io conformance: {} cases", paths.len());
    println!(
        "{:<55} {:>6} {:>11} {:>9}",
        "field", "agree", "documented", "disagree"
    );
    let (mut agree, mut doc_count, mut disagree) = (0, 0, 0);
    for (field, (a, d, x)) in &per_field {
        println!("{field:<55} {a:>6} {d:>11} {x:>9}");
        agree += a;
        doc_count += d;
        disagree += x;
    }
    println!("total compared leaves: {agree} agree, {doc_count} documented differences (user_agent and deliberate), {disagree} disagree");
    println!("extra leaves we emit that Sekoia does not: {extra_fields}");

    for diff in documented.iter().chain(&deliberate) {
        if !observed.contains(diff) {
            failures.push(format!(
                "docs/conformance.md lists a difference that no longer occurs: {diff:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "conformance failures:\n{}",
        failures.join("\n")
    );
}

#[test]
fn deliberate_difference_list_parses() {
    let doc = format!(
        "intro\n{DELIBERATE_START}\n- case: `c` | field: `event.category` | sekoia: `[\"session\"]` | ours: `[\"authentication\",\"session\"]`\n{DELIBERATE_END}\n"
    );
    assert_eq!(
        differences_between(&doc, DELIBERATE_START, DELIBERATE_END),
        vec![Difference {
            case: "c".into(),
            field: "event.category".into(),
            sekoia: "[\"session\"]".into(),
            ours: "[\"authentication\",\"session\"]".into()
        }]
    );
}

#[test]
fn difference_list_parses() {
    let doc = format!(
        "intro\n{START}\n- case: `c` | field: `user_agent.name` | sekoia: `\"A\"` | ours: `absent`\n{END}\n"
    );
    assert_eq!(
        documented_differences(&doc),
        vec![Difference {
            case: "c".into(),
            field: "user_agent.name".into(),
            sekoia: "\"A\"".into(),
            ours: "absent".into()
        }]
    );
}

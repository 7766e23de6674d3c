//! The fast reader against the serde path: unit cases and a differential property test.

use std::path::Path;

use proptest::prelude::*;

use super::log_event;
use crate::input;
use crate::{Normalizer, Options, Schema};

/// Every schema's document (or refusal) of `input`, with the model from `parse`.
fn documents(
    input: &str,
    parse: fn(&str) -> Result<crate::model::LogEvent<'_>, crate::NormalizeError>,
) -> Vec<String> {
    let fetched: chrono::DateTime<chrono::Utc> = "2024-05-01T10:00:09Z".parse().expect("time");
    let mut docs = Vec::new();
    for &schema in Schema::ALL {
        for include_original in [false, true] {
            let mut normalizer = Normalizer::new(Options {
                schema,
                include_original,
                ..Options::default()
            });
            let mut out = b"x".to_vec();
            let result = parse(input).and_then(|top| {
                normalizer.normalize_parsed(input.as_bytes(), top, Some(fetched), &mut out, None)
            });
            docs.push(match result {
                Ok(summary) => format!("{schema} {summary:?} {}", String::from_utf8_lossy(&out)),
                Err(e) => format!("{schema} refused: {e} {}", String::from_utf8_lossy(&out)),
            });
        }
    }
    docs
}

/// Checks that the fast reader gives up on `input` or reads exactly the serde path's
/// model, and that the normalizer (fast path first) writes exactly what the serde path
/// alone writes, refusals included. True when the fast reader took the input.
fn same_as_serde(input: &str) -> bool {
    let fast = log_event(input);
    if let Some(fast) = &fast {
        let serde = match input::parse_top_serde(input) {
            Ok(serde) => serde,
            Err(e) => panic!("the fast path took what serde refuses ({e}): {input}"),
        };
        assert_eq!(
            format!("{fast:?}"),
            format!("{serde:?}"),
            "model of {input}"
        );
    }
    assert_eq!(
        documents(input, input::parse_top_str),
        documents(input, input::parse_top_serde),
        "documents of {input}"
    );
    fast.is_some()
}

/// The compact text of every `fixtures/okta/*.json` and of every conformance case's
/// input (its `{"message": ...}` wrapper and the raw event in it).
fn fixture_events() -> &'static [String] {
    static EVENTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    EVENTS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut events = Vec::new();
        for dir in ["fixtures/okta", "../shared/conformance/sekoia/cases"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
                continue;
            };
            let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            for path in paths
                .iter()
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
            {
                let text = std::fs::read_to_string(path).expect("fixture is UTF-8");
                let value: serde_json::Value = serde_json::from_str(&text).expect("JSON");
                match value.get("input") {
                    Some(input) => {
                        events.push(input.to_string());
                        if let Some(serde_json::Value::String(raw)) = input.get("message") {
                            let raw: serde_json::Value =
                                serde_json::from_str(raw).expect("raw event is JSON");
                            events.push(raw.to_string());
                        }
                    }
                    None => events.push(value.to_string()),
                }
            }
        }
        events
    })
}

#[test]
fn fixtures_are_read_by_the_fast_path_as_by_serde() {
    let events = fixture_events();
    assert!(events.len() >= 60, "{} fixtures", events.len());
    let mut fast = 0;
    for event in events {
        fast += usize::from(same_as_serde(event));
        // The same with whitespace between every token.
        let pretty: serde_json::Value = serde_json::from_str(event).expect("JSON");
        let pretty = serde_json::to_string_pretty(&pretty).expect("JSON");
        same_as_serde(&pretty);
    }
    // Only the EventBridge envelopes (a `detail` member at the top) take the serde path.
    let envelopes = events
        .iter()
        .filter(|e| {
            let v: serde_json::Value = serde_json::from_str(e).expect("JSON");
            v.get("detail").is_some()
        })
        .count();
    assert_eq!(fast + envelopes, events.len());
}

#[test]
fn members_of_every_odd_shape_are_read_as_by_serde() {
    let cases = [
        // Escapes in values and in member names (a known member spelled with an escape).
        r#"{"uuid":"a\"b\\c\/d\b\f\n\r\t\u00e9\u20ac","eventType":"x","u\u0075id":"e"}"#,
        r#"{"uuid":"u","eventType":"x","actor":{"displayName":"J\u00f6rg \"JD\""}}"#,
        // Surrogates: the serde path decides (and refuses a lone one).
        r#"{"uuid":"\ud83d\ude00","eventType":"x"}"#,
        r#"{"uuid":"\ud83d","eventType":"x"}"#,
        r#"{"uuid":"\ude00x","eventType":"x"}"#,
        // A member given twice, as a value then a misfit and the other way round.
        r#"{"uuid":"u","eventType":"x","uuid":"v","outcome":{"result":"SUCCESS"},"outcome":{"reason":"r"}}"#,
        r#"{"uuid":"u","eventType":"x","securityContext":{"asNumber":5,"asNumber":"z"}}"#,
        r#"{"uuid":"u","eventType":"x","securityContext":{"asNumber":"z","asNumber":null}}"#,
        // Numbers of every form, where text, integers, floats and free-form JSON are read.
        r#"{"uuid":12,"eventType":-3,"version":1.5e3,"severity":-0,"displayMessage":1E-2,"legacyEventType":18446744073709551616}"#,
        r#"{"uuid":"u","eventType":"x","securityContext":{"asNumber":3741.0,"isProxy":"TRUE"},"authenticationContext":{"authenticationStep":"7"}}"#,
        r#"{"uuid":"u","eventType":"x","client":{"geographicalContext":{"geolocation":{"lat":-33.8688,"lon":"151.2093"}}}}"#,
        r#"{"uuid":"u","eventType":"x","client":{"geographicalContext":{"geolocation":{"lat":1e400,"lon":0.1e-400}}}}"#,
        r#"{"uuid":"u","eventType":"x","debugContext":{"debugData":{"n":[0,-0,1.0,123456789012345678901234567890,-9223372036854775809,2.5E+10]}}}"#,
        r#"{"uuid":"u","eventType":"x","securityContext":{"asNumber":01}}"#,
        r#"{"uuid":"u","eventType":"x","securityContext":{"asNumber":1.}}"#,
        r#"{"uuid":"u","eventType":"x","securityContext":{"asNumber":-}}"#,
        // Wrong types everywhere.
        r#"{"uuid":"u","eventType":"x","actor":"someone","client":[1,2],"target":{"id":"t"},"request":{"ipChain":[null,3,{"ip":"1.2.3.4"}]}}"#,
        r#"{"uuid":"u","eventType":"x","actor":{"id":{"a":1}},"outcome":{"result":[]},"target":[],"debugContext":null}"#,
        r#"{"uuid":"u","eventType":"x","client":{"userAgent":{"rawUserAgent":true,"os":false}},"transaction":{"detail":{}}}"#,
        // Free-form members, nested, and unknown members.
        r#"{"uuid":"u","eventType":"x","debugContext":{"debugData":{"a":{"b":[{"c":null},"",[[]]]},"d":"e"}},"zz":{"y":[1,{"x":"w"}]}}"#,
        // Wrapper and envelope forms.
        r#"{"message":"{\"uuid\":\"u\",\"eventType\":\"x\"}","host":"h"}"#,
        r#"{"message":"{\"uuid\":\"u\",\"eventType\":\"x\"} trailing"}"#,
        r#"{"detail-type":"SystemLog","detail":{"uuid":"u","eventType":"x"},"id":"i"}"#,
        // Not JSON, not an object, trailing bytes, truncations, control bytes, BOM.
        "",
        "[1]",
        "\"text\"",
        r#"{"uuid":"u","eventType":"x"} {}"#,
        r#"{"uuid":"u","eventType":"x"}   "#,
        r#"{"uuid":"u","eventType":"x""#,
        r#"{"uuid":"u","eventType":"x",}"#,
        r#"{"uuid":"u" "eventType":"x"}"#,
        "{\"uuid\":\"u\u{1}\",\"eventType\":\"x\"}",
        "\u{feff}{\"uuid\":\"u\",\"eventType\":\"x\"}",
        r#"{"uuid":"u","eventType":"x","a":nul}"#,
        r#"{"uuid":"u","eventType":"x","a":"\x"}"#,
        r#"{"uuid":"u","eventType":"x","a":"\u12G4"}"#,
        r#"{}"#,
        r#" { "uuid" : "u" , "eventType" : "x" , "target" : [ { "id" : "t" } , null ] } "#,
    ];
    let mut fast = 0;
    for case in cases {
        fast += usize::from(same_as_serde(case));
    }
    assert!(fast >= 15, "the fast path took only {fast} cases");
    // Nesting deeper than the fast path reads, and deeper than serde_json reads.
    for depth in [50, 99, 101, 200] {
        let deep = format!(
            r#"{{"uuid":"u","eventType":"x","d":{}1{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        assert_eq!(same_as_serde(&deep), depth <= 99, "depth {depth}");
    }
}

/// A JSON tree whose scalars are kept as text, so numbers and strings can take every
/// form (escapes, exponents, invalid ones).
#[derive(Debug, Clone)]
enum Gen {
    Raw(String),
    Arr(Vec<Gen>),
    Obj(Vec<(String, Gen)>),
}

impl Gen {
    fn from_value(v: &serde_json::Value) -> Gen {
        match v {
            serde_json::Value::Array(items) => {
                Gen::Arr(items.iter().map(Gen::from_value).collect())
            }
            serde_json::Value::Object(members) => Gen::Obj(
                members
                    .iter()
                    .map(|(k, v)| (serde_json::to_string(k).expect("key"), Gen::from_value(v)))
                    .collect(),
            ),
            scalar => Gen::Raw(scalar.to_string()),
        }
    }

    fn write(&self, out: &mut String, spaced: bool) {
        let sp = |out: &mut String| {
            if spaced {
                out.push_str(" \n");
            }
        };
        match self {
            Gen::Raw(text) => out.push_str(text),
            Gen::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    sp(out);
                    item.write(out, spaced);
                }
                sp(out);
                out.push(']');
            }
            Gen::Obj(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    sp(out);
                    out.push_str(key);
                    sp(out);
                    out.push(':');
                    value.write(out, spaced);
                }
                sp(out);
                out.push('}');
            }
        }
    }

    /// The number of values in the tree.
    fn size(&self) -> usize {
        1 + match self {
            Gen::Raw(_) => 0,
            Gen::Arr(items) => items.iter().map(Gen::size).sum(),
            Gen::Obj(members) => members.iter().map(|(_, v)| v.size()).sum(),
        }
    }

    /// The `n`-th value in pre-order.
    fn nth(&mut self, n: usize) -> &mut Gen {
        if n == 0 {
            return self;
        }
        let mut n = n - 1;
        let children: Vec<&mut Gen> = match self {
            Gen::Raw(_) => return self,
            Gen::Arr(items) => items.iter_mut().collect(),
            Gen::Obj(members) => members.iter_mut().map(|(_, v)| v).collect(),
        };
        for child in children {
            let size = child.size();
            if n < size {
                return child.nth(n);
            }
            n -= size;
        }
        unreachable!("n is below the tree's size")
    }
}

/// Member names of the model (so random values land on typed members), and others.
const KEYS: &[&str] = &[
    "\"uuid\"",
    "\"published\"",
    "\"eventType\"",
    "\"version\"",
    "\"severity\"",
    "\"displayMessage\"",
    "\"actor\"",
    "\"client\"",
    "\"device\"",
    "\"authenticationContext\"",
    "\"securityContext\"",
    "\"debugContext\"",
    "\"debugData\"",
    "\"outcome\"",
    "\"result\"",
    "\"transaction\"",
    "\"request\"",
    "\"ipChain\"",
    "\"target\"",
    "\"message\"",
    "\"id\"",
    "\"type\"",
    "\"alternateId\"",
    "\"displayName\"",
    "\"detailEntry\"",
    "\"userAgent\"",
    "\"rawUserAgent\"",
    "\"ipAddress\"",
    "\"geographicalContext\"",
    "\"geolocation\"",
    "\"lat\"",
    "\"lon\"",
    "\"asNumber\"",
    "\"isProxy\"",
    "\"authenticationStep\"",
    "\"ip\"",
    "\"changeDetails\"",
    "\"u\\u0075id\"",
    "\"a\\\"b\"",
    "\"zz\"",
    "\"\"",
];

fn scalar() -> impl Strategy<Value = Gen> {
    prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        Just("nul".to_owned()),
        "-?(0|[1-9][0-9]{0,24})(\\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?",
        "-?0[0-9]{1,3}|[0-9]+\\.|-|[0-9]e|-?[0-9]{1,3}\\.e5",
        "\"([a-zA-Z0-9 .:/@-]|é|𝄞|\\\\[\"\\\\/bfnrt]|\\\\u00[0-9a-f]{2}|\\\\u20ac|\\\\ud83d\\\\ude00|\\\\ud83d|\\\\ude00|\\\\x|\\\\u12G4|\u{1}|\t){0,12}\"",
        Just("\"\"".to_owned()),
        Just("\"true\"".to_owned()),
        Just("\"FALSE\"".to_owned()),
        Just("\"3741\"".to_owned()),
        Just("\"-33.8688\"".to_owned()),
    ]
    .prop_map(Gen::Raw)
}

fn value() -> impl Strategy<Value = Gen> {
    scalar().prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Gen::Arr),
            prop::collection::vec(
                (prop::sample::select(KEYS).prop_map(str::to_owned), inner),
                0..5
            )
            .prop_map(Gen::Obj),
        ]
    })
}

/// One change to an event's tree.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the n-th value.
    Replace(usize, Gen),
    /// Add a member to the n-th value (when an object), at its front or back.
    Insert(usize, String, Gen, bool),
    /// Give the n-th value's first member twice (when an object).
    Duplicate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), value()).prop_map(|(n, v)| Mutation::Replace(n, v)),
        (
            any::<usize>(),
            prop::sample::select(KEYS).prop_map(str::to_owned),
            value(),
            any::<bool>()
        )
            .prop_map(|(n, k, v, front)| Mutation::Insert(n, k, v, front)),
        any::<usize>().prop_map(Mutation::Duplicate),
    ]
}

/// A text-level change after the tree is written.
#[derive(Debug, Clone)]
enum Damage {
    None,
    /// Cut the text at a fraction of its length (on a character boundary).
    Truncate(f64),
    /// Put a byte (as a character) at a fraction of its length.
    Insert(f64, char),
    /// Remove the character at a fraction of its length.
    Remove(f64),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        6 => Just(Damage::None),
        1 => (0.0..1.0f64).prop_map(Damage::Truncate),
        1 => (0.0..1.0f64, prop::sample::select(vec!['"', '\\', '{', '}', '[', ']', ',', ':', '0', '-', 'e', ' ', '\u{1}', 'é']))
            .prop_map(|(at, c)| Damage::Insert(at, c)),
        1 => (0.0..1.0f64).prop_map(Damage::Remove),
    ]
}

fn boundary(text: &str, at: f64) -> usize {
    let mut i = ((text.len() as f64) * at) as usize;
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn mutated(base: &str, mutations: &[Mutation], spaced: bool, damage: &Damage) -> String {
    let value: serde_json::Value = serde_json::from_str(base).expect("fixture is JSON");
    let mut tree = Gen::from_value(&value);
    for m in mutations {
        let size = tree.size();
        match m.clone() {
            Mutation::Replace(n, v) => *tree.nth(n % size) = v,
            Mutation::Insert(n, k, v, front) => {
                if let Gen::Obj(members) = tree.nth(n % size) {
                    if front {
                        members.insert(0, (k, v));
                    } else {
                        members.push((k, v));
                    }
                }
            }
            Mutation::Duplicate(n) => {
                if let Gen::Obj(members) = tree.nth(n % size) {
                    if let Some(first) = members.first().cloned() {
                        members.push(first);
                    }
                }
            }
        }
    }
    let mut text = String::new();
    tree.write(&mut text, spaced);
    match damage {
        Damage::None => {}
        Damage::Truncate(at) => text.truncate(boundary(&text, *at)),
        Damage::Insert(at, c) => text.insert(boundary(&text, *at), *c),
        Damage::Remove(at) => {
            let i = boundary(&text, *at);
            if i < text.len() {
                text.remove(i);
            }
        }
    }
    text
}

/// Random and mutated LogEvents: the fast path gives up or yields exactly what the serde
/// path yields (model, the documents of all three schemas, refusals). Also checks that
/// the fast path takes a good share of them, so the comparison is not vacuous.
#[test]
fn fast_path_is_the_serde_path_or_gives_up() {
    let events = fixture_events();
    let strategy = (
        any::<prop::sample::Index>(),
        prop::collection::vec(mutation(), 0..4),
        any::<bool>(),
        damage(),
    );
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 1000,
        ..ProptestConfig::default()
    });
    let taken = std::cell::Cell::new(0u32);
    let result = runner.run(&strategy, |(base, mutations, spaced, damage)| {
        let base = &events[base.index(events.len())];
        let input = mutated(base, &mutations, spaced, &damage);
        taken.set(taken.get() + u32::from(same_as_serde(&input)));
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(
        taken.get() >= 300,
        "the fast path took {} of 1000",
        taken.get()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// Free-form random JSON at the top.
    #[test]
    fn random_json_is_read_as_by_serde(top in value(), spaced in any::<bool>()) {
        let mut text = String::new();
        top.write(&mut text, spaced);
        same_as_serde(&text);
    }
}

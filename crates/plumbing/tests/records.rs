//! Property tests of [`Records`]: any stream of JSON values (objects and arrays of
//! objects, compact or pretty-printed, one per line or run together) gives back exactly
//! its events; a stream with values cut short loses no content (every byte but whitespace
//! and array punctuation is in some record, for the dead letters) and the values after a
//! value cut inside a string are read intact.

// The committed-seed persistence of the normalizer's property tests: committed
// `records.proptest-regressions` seeds are replayed, new failures printed, never written.
#[path = "../../normalize/tests/support/seeds.rs"]
mod seeds;

use std::io::BufReader;

use oktaflow_plumbing::framing::{Record, Records};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        "[a-z ,:{}\\[\\]\"\\\\\n]{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z{}\\[\\],\"]{0,4}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// An event: an object.
fn event() -> impl Strategy<Value = Value> {
    (
        prop::collection::btree_map("[a-z]{1,4}", value(), 0..5),
        "[a-f0-9]{1,8}",
    )
        .prop_map(|(members, uuid)| {
            let mut map: Map<String, Value> = members.into_iter().collect();
            map.insert("uuid".to_owned(), json!(uuid));
            Value::Object(map)
        })
}

/// One top-level item of a stream: an event, or an array of events.
#[derive(Debug, Clone)]
enum Item {
    Event(Value),
    Array(Vec<Value>),
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        4 => event().prop_map(Item::Event),
        1 => prop::collection::vec(event(), 0..4).prop_map(Item::Array),
    ]
}

const SEPARATORS: &[&str] = &["\n", "", " ", "\n\n", "\r\n", "\t\n  "];

fn render(v: &Value, pretty: bool) -> String {
    if pretty {
        serde_json::to_string_pretty(v).expect("serializable")
    } else {
        serde_json::to_string(v).expect("serializable")
    }
}

/// Reads `input` through a tiny buffer (the full scan) and a large one (whole lines in
/// the buffer: the NDJSON fast path), which must agree; each record as `Ok(event bytes)`
/// or `Err(raw)`.
fn read(input: &[u8]) -> Vec<Result<Vec<u8>, Vec<u8>>> {
    let tiny = read_with(input, 5);
    let large = read_with(input, 1 << 16);
    assert_eq!(
        tiny,
        large,
        "buffer sizes disagree on {:?}",
        String::from_utf8_lossy(input)
    );
    large
}

fn read_with(input: &[u8], capacity: usize) -> Vec<Result<Vec<u8>, Vec<u8>>> {
    let mut records = Records::new(BufReader::with_capacity(capacity, input)).expect("in memory");
    let mut out = Vec::new();
    while let Some((_, record)) = records.next_record().expect("in memory") {
        out.push(match record {
            Record::Event(b) => Ok(b.to_vec()),
            Record::Malformed { raw, .. } => Err(raw.to_vec()),
            Record::TooLong { prefix, .. } => Err(prefix.to_vec()),
        });
    }
    out
}

/// The bytes that carry content: whitespace and the punctuation of top-level arrays (which
/// a broken value can leave behind, and the reader takes as array framing) left out.
fn content(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace() && !matches!(b, b'[' | b']' | b','))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: seeds::cases(256),
        failure_persistence: seeds::committed_seeds(),
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_stream_of_values_gives_back_its_events(
        items in prop::collection::vec((item(), any::<bool>(), prop::sample::select(SEPARATORS)), 0..8),
    ) {
        let mut input = String::new();
        let mut expected = Vec::new();
        for (item, pretty, separator) in &items {
            match item {
                Item::Event(v) => {
                    input.push_str(&render(v, *pretty));
                    expected.push(v.clone());
                }
                Item::Array(vs) => {
                    input.push_str(&render(&Value::Array(vs.clone()), *pretty));
                    expected.extend(vs.iter().cloned());
                }
            }
            // Two compact arrays run together would read as one `][` stream: still fine.
            input.push_str(separator);
        }
        let records = read(input.as_bytes());
        let got: Vec<Value> = records
            .iter()
            .map(|r| match r {
                Ok(bytes) => serde_json::from_slice(bytes).expect("an event is one JSON value"),
                Err(raw) => panic!("malformed record {:?} in {input:?}", String::from_utf8_lossy(raw)),
            })
            .collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn cut_values_lose_no_byte_and_a_broken_string_costs_one_record(
        events in prop::collection::vec((event(), any::<bool>()), 1..6),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 1..3),
        broken in any::<prop::sample::Index>(),
    ) {
        // Nothing is lost: some values cut anywhere, one per line (or pretty).
        let mut input = String::new();
        for (i, (v, pretty)) in events.iter().enumerate() {
            let text = render(v, *pretty);
            match cuts.iter().find(|c| c.index(events.len()) == i) {
                Some(cut) => {
                    let mut at = cut.index(text.len());
                    while !text.is_char_boundary(at) {
                        at -= 1;
                    }
                    input.push_str(&text[..at]);
                }
                None => input.push_str(&text),
            }
            input.push('\n');
        }
        // (The two buffer sizes may split a cut value differently: a line cut just after
        // an inner `}` is one record on the fast path.)
        for capacity in [5, 1 << 16] {
            let records = read_with(input.as_bytes(), capacity);
            let kept: Vec<u8> = records
                .iter()
                .flat_map(|r| match r { Ok(b) | Err(b) => content(b) })
                .collect();
            prop_assert_eq!(kept, content(input.as_bytes()), "{:?}", input);
        }

        // A compact value cut inside a string: the values after it are read intact.
        let at = broken.index(events.len());
        let mut input = String::new();
        let mut after = Vec::new();
        for (i, (v, _)) in events.iter().enumerate() {
            let text = render(v, false);
            if i == at {
                // Cut just after the opening quote of the uuid's value.
                let quote = text.find("\"uuid\":\"").expect("a uuid") + "\"uuid\":\"".len();
                input.push_str(&text[..quote]);
            } else {
                input.push_str(&text);
                if i > at {
                    after.push(v.clone());
                }
            }
            input.push('\n');
        }
        let records = read(input.as_bytes());
        let tail: Vec<Value> = records
            .iter()
            .skip(at + 1)
            .map(|r| match r {
                Ok(bytes) => serde_json::from_slice(bytes).expect("intact"),
                Err(raw) => panic!("malformed {:?} in {input:?}", String::from_utf8_lossy(raw)),
            })
            .collect();
        prop_assert!(records[at].is_err(), "the cut value is malformed: {:?}", input);
        prop_assert_eq!(tail, after);
    }
}

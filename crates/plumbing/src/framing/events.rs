//! [`RawEvent`] and [`split_events`]: a page body cut into its events without parsing them.
//!
//! A `/api/v1/logs` body is a JSON array of LogEvent objects. The pipeline parses every event
//! once, in the normalizer; parsing it here as well (into `serde_json` values or boxed raw
//! values) would scan and copy every byte a second time. So the body is only *split*: a
//! byte-level scan follows strings, escapes and nesting depth to find where each element of
//! the top-level array starts and ends, and each event is handed on as a zero-copy slice of
//! the response body ([`bytes::Bytes`]).
//!
//! The scan checks the array's structure: a body that is not an array, or that is cut off
//! (the connection dropped mid-body), is an error and the page is fetched again. What is
//! *inside* an element is not checked here: an element that is not a valid LogEvent reaches
//! the normalizer, which names what is wrong with it, and it is dead-lettered rather than
//! retried forever.

use std::borrow::Cow;

use bytes::Bytes;

use super::scan::ElementScan;

/// One raw LogEvent: a slice of the page body it came in (no copy).
#[derive(Clone, PartialEq, Eq)]
pub struct RawEvent(Bytes);

impl RawEvent {
    /// Wraps bytes that hold one event's JSON.
    pub fn new(bytes: impl Into<Bytes>) -> RawEvent {
        RawEvent(bytes.into())
    }

    /// The event's JSON text as it arrived.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The event's JSON text, with invalid UTF-8 (never sent by Okta) replaced by U+FFFD.
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for an empty slice (never produced by [`split_events`]).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for RawEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RawEvent({})", self.text())
    }
}

/// Why a body could not be split into events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} at byte {offset}")]
pub struct SplitError {
    /// What is wrong.
    pub reason: &'static str,
    /// Where, in bytes from the start of the body.
    pub offset: usize,
}

/// Splits a JSON array into its elements, in order, as slices of `body`. Whitespace around
/// the array and its elements is allowed (a UTF-8 byte order mark is not: Okta sends none).
pub fn split_events(body: &Bytes) -> Result<Vec<RawEvent>, SplitError> {
    let spans = split_array(body)?;
    Ok(spans
        .into_iter()
        .map(|(start, end)| RawEvent(body.slice(start..end)))
        .collect())
}

/// Element spans `(start, end)` of the JSON array in `text`.
fn split_array(text: &[u8]) -> Result<Vec<(usize, usize)>, SplitError> {
    let error = |reason, offset| Err(SplitError { reason, offset });
    let mut pos = skip_ws(text, 0);
    if text.get(pos) != Some(&b'[') {
        return error("the body is not a JSON array", pos);
    }
    pos = skip_ws(text, pos + 1);
    let mut spans = Vec::new();
    if text.get(pos) == Some(&b']') {
        pos += 1;
    } else {
        loop {
            let start = pos;
            let mut scan = ElementScan::default();
            let (taken, terminator) = scan.feed(&text[start..]);
            let end = start + taken;
            let Some(terminator) = terminator else {
                return if scan.is_complete() && !scan.has_trailing_data() {
                    error("the body ends inside the array (truncated)", end)
                } else {
                    error("the body ends inside an array element (truncated)", end)
                };
            };
            let element = text[start..end].trim_ascii_end();
            if element.is_empty() {
                return error("expected an array element", start);
            }
            if scan.has_trailing_data() {
                return error("expected `,` or `]` after an array element", start);
            }
            spans.push((start, start + element.len()));
            pos = end + 1;
            if terminator == b']' {
                break;
            }
            pos = skip_ws(text, pos);
        }
    }
    let tail = skip_ws(text, pos);
    if tail != text.len() {
        return error("data after the end of the array", tail);
    }
    Ok(spans)
}

fn skip_ws(text: &[u8], mut pos: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = text.get(pos) {
        pos += 1;
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Result<Vec<String>, SplitError> {
        split_events(&Bytes::copy_from_slice(text.as_bytes()))
            .map(|events| events.iter().map(|e| e.text().into_owned()).collect())
    }

    #[test]
    fn splits_elements_without_surrounding_whitespace() {
        assert_eq!(split("[]").unwrap(), Vec::<String>::new());
        assert_eq!(split(" [ \n ] \n").unwrap(), Vec::<String>::new());
        assert_eq!(
            split(r#"[{"a":1}, {"b":[1,{"c":"]}"}]} ,{}]"#).unwrap(),
            [r#"{"a":1}"#, r#"{"b":[1,{"c":"]}"}]}"#, "{}"]
        );
    }

    #[test]
    fn strings_with_escapes_and_brackets_do_not_confuse_the_scan() {
        let text = r#"[{"s":"a\"}]\\","t":"\\"},{"u":"\u005d"}]"#;
        assert_eq!(
            split(text).unwrap(),
            [r#"{"s":"a\"}]\\","t":"\\"}"#, r#"{"u":"\u005d"}"#]
        );
    }

    #[test]
    fn scalars_and_non_objects_are_elements_for_the_normalizer_to_refuse() {
        assert_eq!(
            split(r#"[1, "x", null,tru]"#).unwrap(),
            ["1", "\"x\"", "null", "tru"]
        );
    }

    #[test]
    fn truncated_or_foreign_bodies_are_errors() {
        for (text, reason) in [
            ("", "the body is not a JSON array"),
            ("<html>", "the body is not a JSON array"),
            (r#"{"errorCode":"E0000"}"#, "the body is not a JSON array"),
            (
                r#"[{"a":1},{"b":"#,
                "the body ends inside an array element (truncated)",
            ),
            (
                r#"[{"a":"unterminated"#,
                "the body ends inside an array element (truncated)",
            ),
            (r#"[{"a":1}"#, "the body ends inside the array (truncated)"),
            (
                r#"[{"a":1},"#,
                "the body ends inside an array element (truncated)",
            ),
            (
                r#"[{"a":1} {"b":2}]"#,
                "expected `,` or `]` after an array element",
            ),
            (r#"[,{}]"#, "expected an array element"),
            (r#"[{}] x"#, "data after the end of the array"),
            (r#"[{}][]"#, "data after the end of the array"),
        ] {
            assert_eq!(split(text).unwrap_err().reason, reason, "{text}");
        }
    }

    #[test]
    fn events_are_slices_of_the_body() {
        let body = Bytes::from_static(br#"[{"uuid":"a"},{"uuid":"b"}]"#);
        let events = split_events(&body).unwrap();
        assert_eq!(events[1].as_bytes(), br#"{"uuid":"b"}"#);
        assert_eq!(events[1].as_bytes().as_ptr(), body[14..].as_ptr());
        assert_eq!(format!("{:?}", events[0]), r#"RawEvent({"uuid":"a"})"#);
    }

    #[test]
    fn agrees_with_serde_on_generated_arrays() {
        // Every element serde_json sees, the scan sees, byte for byte.
        let text = r#"[{"a":"x\\\"y","b":[[],{}],"c":{"d":"}"}},{"e":-1.5e3,"f":true},[],"s"]"#;
        let serde: Vec<Box<serde_json::value::RawValue>> = serde_json::from_str(text).unwrap();
        let ours = split(text).unwrap();
        let theirs: Vec<&str> = serde.iter().map(|r| r.get()).collect();
        assert_eq!(ours, theirs);
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            // Quotes, backslashes, brackets and control characters inside strings.
            "[\\\\\"\\[\\]{},:a-z\\n\\t\\u{1}é😀]{0,12}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                proptest::collection::btree_map("[a-z\\\\\"]{0,4}", inner, 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        // A failure prints its seed and writes nothing: a test run never adds or changes
        // files in the checkout (proptest's default would save a regressions file).
        #![proptest_config(proptest::test_runner::Config {
            failure_persistence: None,
            ..proptest::test_runner::Config::default()
        })]

        #[test]
        fn splits_any_array_like_serde(
            elements in proptest::collection::vec(json_value(), 0..8),
            pretty in proptest::bool::ANY,
        ) {
            let array = serde_json::Value::Array(elements.clone());
            let text = if pretty {
                serde_json::to_string_pretty(&array).unwrap()
            } else {
                serde_json::to_string(&array).unwrap()
            };
            let events = split_events(&Bytes::from(text.clone().into_bytes())).unwrap();
            proptest::prop_assert_eq!(events.len(), elements.len());
            for (event, element) in events.iter().zip(&elements) {
                let parsed: serde_json::Value = serde_json::from_slice(event.as_bytes()).unwrap();
                proptest::prop_assert_eq!(&parsed, element);
            }
            // Every cut of the body is refused, never split into fewer events.
            for cut in 0..text.len() {
                if text.is_char_boundary(cut) && !text[cut..].trim().is_empty() {
                    let head = Bytes::copy_from_slice(&text.as_bytes()[..cut]);
                    proptest::prop_assert!(split_events(&head).is_err(), "cut at {}", cut);
                }
            }
        }
    }
}

//! An Okta event as a Sigma rule sees it: the raw LogEvent's fields under their Okta names
//! (`eventType`, `displayMessage`, `debugContext.debugData.requestUri`, `target.displayName`
//! over every target), then, for a name the LogEvent does not have, the same name matched
//! without regard to case (older rules write `eventtype`, `displaymessage`), then the
//! normalized ECS document (`event.action`, `source.ip`, `user.name`, ...).

use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::collections::HashSet;
use std::fmt;

use rsigma_eval::event::{Event, EventValue, JsonEvent};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::event::Ecs;

/// The top-level members of an Okta LogEvent: a field under one of these roots is read from
/// the LogEvent only; any other root (`event`, `source`, `user`, ...) from the ECS document.
pub(crate) const OKTA_ROOTS: [&str; 17] = [
    "actor",
    "authenticationContext",
    "client",
    "debugContext",
    "device",
    "displayMessage",
    "eventType",
    "legacyEventType",
    "outcome",
    "published",
    "request",
    "securityContext",
    "severity",
    "target",
    "transaction",
    "uuid",
    "version",
];

/// The LogEvent inside an input, borrowed when it is there as is.
pub(crate) enum Inner<'a> {
    /// The event itself, or an EventBridge envelope's `detail`.
    Borrowed(&'a Value),
    /// The parsed text of a `{"message": "..."}` wrapper.
    Owned(Value),
}

/// The LogEvent inside `top` (the event itself, an EventBridge envelope's `detail`, or the
/// parsed text of a `{"message": "..."}` wrapper).
pub(crate) fn log_event_of(top: &Value) -> Inner<'_> {
    if top.get("eventType").is_some() || top.get("uuid").is_some() {
        return Inner::Borrowed(top);
    }
    if let Some(detail @ Value::Object(_)) = top.get("detail") {
        return Inner::Borrowed(detail);
    }
    if let Some(Value::String(text)) = top.get("message") {
        if let Ok(inner @ Value::Object(_)) = serde_json::from_str::<Value>(text) {
            return Inner::Owned(inner);
        }
    }
    Inner::Borrowed(top)
}

/// The event handed to the Sigma engine.
pub(crate) struct SigmaEvent<'a> {
    raw: JsonEvent<'a>,
    raw_value: &'a Value,
    /// When `raw_value` is a projection ([`Projection::project`]): how to answer what it
    /// does not hold.
    whole: Option<Whole<'a>>,
    ecs: Option<Ecs<'a>>,
    /// The ECS document, parsed the first time a rule asks for one of its fields.
    ecs_event: OnceCell<Option<JsonEvent<'a>>>,
    uuid: &'a str,
}

/// The whole LogEvent behind a projected [`SigmaEvent`], parsed only if the engine asks for a
/// path the projection does not answer (it then learns that path for the next events).
struct Whole<'a> {
    /// The paths the projection answers exactly as the whole event would.
    covered: &'a HashSet<String>,
    bytes: &'a [u8],
    value: OnceCell<Option<Value>>,
    event: OnceCell<Option<JsonEvent<'static>>>,
    /// Paths asked for that the projection did not answer.
    missed: RefCell<Vec<String>>,
}

impl Whole<'_> {
    fn value(&self) -> Option<&Value> {
        self.value
            .get_or_init(|| serde_json::from_slice(self.bytes).ok())
            .as_ref()
    }

    fn event(&self) -> Option<&JsonEvent<'static>> {
        self.event
            .get_or_init(|| self.value().cloned().map(JsonEvent::owned))
            .as_ref()
    }
}

impl<'a> SigmaEvent<'a> {
    pub(crate) fn new(raw: &'a Value, ecs: Option<Ecs<'a>>, uuid: &'a str) -> SigmaEvent<'a> {
        SigmaEvent {
            raw: JsonEvent::borrow(raw),
            raw_value: raw,
            whole: None,
            ecs,
            ecs_event: OnceCell::new(),
            uuid,
        }
    }

    /// The event whose raw JSON text is `bytes`, seen through `projected`, its projection by
    /// `projection`: a path the projection does not cover is answered from the whole event
    /// (parsed then) and listed in [`SigmaEvent::missed`].
    pub(crate) fn projected(
        projected: &'a Value,
        projection: &'a Projection,
        bytes: &'a [u8],
        ecs: Option<Ecs<'a>>,
        uuid: &'a str,
    ) -> SigmaEvent<'a> {
        SigmaEvent {
            whole: Some(Whole {
                covered: &projection.covered,
                bytes,
                value: OnceCell::new(),
                event: OnceCell::new(),
                missed: RefCell::new(Vec::new()),
            }),
            ..SigmaEvent::new(projected, ecs, uuid)
        }
    }

    /// The paths asked for that the projection did not answer (for [`Projection::learn`]).
    pub(crate) fn missed(self) -> Vec<String> {
        self.whole
            .map(|w| w.missed.into_inner())
            .unwrap_or_default()
    }

    /// The whole event, for a projected event (`None`: not projected, or it does not parse).
    fn whole_event(&self) -> Option<&JsonEvent<'static>> {
        self.whole.as_ref().and_then(Whole::event)
    }

    fn ecs_event(&self) -> Option<&JsonEvent<'a>> {
        self.ecs_event
            .get_or_init(|| match self.ecs? {
                Ecs::Value(v) => Some(JsonEvent::borrow(v)),
                Ecs::Bytes(bytes) => serde_json::from_slice(bytes).ok().map(JsonEvent::owned),
            })
            .as_ref()
    }
}

impl Event for SigmaEvent<'_> {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        let (raw, raw_value) = match &self.whole {
            Some(whole) if !whole.covered.contains(path) => {
                whole.missed.borrow_mut().push(path.to_owned());
                match (whole.event(), whole.value()) {
                    (Some(event), Some(value)) => (event as &dyn Event, value),
                    _ => (&self.raw as &dyn Event, self.raw_value),
                }
            }
            _ => (&self.raw as &dyn Event, self.raw_value),
        };
        if let Some(v) = raw.get_field(path) {
            return Some(v);
        }
        let root = path.split('.').next().unwrap_or(path);
        if OKTA_ROOTS.iter().any(|r| r.eq_ignore_ascii_case(root)) {
            // `eventtype`, `DisplayMessage`: the LogEvent's member whatever its case.
            let segments: Vec<&str> = path.split('.').collect();
            let mut found = Vec::new();
            collect_ignore_case(raw_value, &segments, &mut found);
            return match found.len() {
                0 => None,
                1 => found.pop(),
                _ => Some(EventValue::Array(found)),
            };
        }
        self.ecs_event().and_then(|ecs| ecs.get_field(path))
    }

    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        match self.whole_event() {
            Some(whole) => whole.any_string_value(pred),
            None => self.raw.any_string_value(pred),
        }
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        match self.whole_event() {
            Some(whole) => whole.all_string_values(),
            None => self.raw.all_string_values(),
        }
    }

    /// The LogEvent with its `uuid` also under `event_id`, where the correlation engine looks
    /// for the ids of the events it keeps (Okta's LogEvent has no `id`). For a projected event,
    /// the projection: it keeps every member the engine reads an id from
    /// ([`ID_MEMBERS`]), and the engine is not asked to copy events into alerts.
    fn to_json(&self) -> Value {
        let mut json = self.raw_value.clone();
        if let Value::Object(map) = &mut json {
            map.entry("event_id")
                .or_insert_with(|| Value::String(self.uuid.to_owned()));
        }
        json
    }
}

/// The top-level members where the correlation engine looks for an event's id (`id`, `_id`,
/// `event_id`, `EventRecordID`, a flat `event.id`): a projection keeps them whole.
const ID_MEMBERS: [&str; 5] = ["id", "_id", "event_id", "EventRecordID", "event.id"];

/// What a projected event keeps of a LogEvent: the members on the field paths the engine asked
/// for, learned from its lookups ([`Projection::learn`]), each kept whole where its path ends
/// and reduced to the members on the paths elsewhere; arrays crossed. Everything else is
/// skipped (checked as JSON, not built as a `Value`).
///
/// A covered path reads the same from the projection as from the whole event: the engine's
/// path walk (exact names, a flat top-level name, arrays crossed) and the walk without regard
/// to case only ever visit members whose names equal a segment of the path, ASCII case
/// ignored, which the projection keeps (all of them, duplicates resolved as in the whole
/// parse, in the same order). A path with an index or an escape (`a[0]`, `a\.b`) is never
/// covered: it is answered from the whole event each time.
#[derive(Debug, Clone)]
pub(crate) struct Projection {
    covered: HashSet<String>,
    root: Node,
}

/// One level of a [`Projection`]: the names kept (ASCII lower case) and what is kept below.
#[derive(Debug, Clone, Default, PartialEq)]
struct Node {
    /// A path ends here: the value is kept whole.
    whole: bool,
    children: Vec<(String, Node)>,
}

impl Node {
    fn child(&self, name: &str) -> Option<&Node> {
        self.children
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, node)| node)
    }

    fn insert(&mut self, segments: &[&str]) {
        if self.whole {
            return;
        }
        let Some((first, rest)) = segments.split_first() else {
            self.whole = true;
            self.children.clear();
            return;
        };
        let i = match self
            .children
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(first))
        {
            Some(i) => i,
            None => {
                self.children
                    .push((first.to_ascii_lowercase(), Node::default()));
                self.children.len() - 1
            }
        };
        self.children[i].1.insert(rest);
    }
}

impl Default for Projection {
    fn default() -> Self {
        let mut root = Node::default();
        for id in ID_MEMBERS {
            root.insert(&[id]);
        }
        Projection {
            covered: HashSet::new(),
            root,
        }
    }
}

impl Projection {
    /// Covers `path` from now on (a path with an index, an escape or an empty segment stays
    /// uncovered).
    pub(crate) fn learn(&mut self, path: &str) {
        if self.covered.contains(path)
            || path.contains(['[', ']', '\\'])
            || path.split('.').any(str::is_empty)
        {
            return;
        }
        let segments: Vec<&str> = path.split('.').collect();
        self.root.insert(&segments);
        // The engine also reads a dotted path as one flat top-level name.
        self.root.insert(&[path]);
        self.covered.insert(path.to_owned());
    }

    /// The projection of the LogEvent whose raw JSON text is `bytes`; `None` when it is not a
    /// plain LogEvent (no top-level `eventType` or `uuid`: an envelope or a wrapper) or is not
    /// JSON. Every skipped value is checked as `serde_json` checks it when it builds a
    /// `Value` (strings, escapes, numbers, nesting depth), so this answers `None` exactly
    /// when the whole parse fails, or for a not-plain event.
    pub(crate) fn project(&self, bytes: &[u8]) -> Option<Value> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let mut plain = false;
        let value = Top {
            node: &self.root,
            plain: &mut plain,
        }
        .deserialize(&mut de)
        .ok()?;
        de.end().ok()?;
        plain.then_some(value)
    }

    /// [`Projection::project`] of text that serde_json reads as a `serde_json::Value`, except
    /// perhaps the value of a top-level `detail` (`EventParts::values_checked`): the top-level
    /// members are found by a byte scan ([`crate::event::top_spans`]); only those the
    /// projection keeps are parsed, each from its own text, the others are skipped unchecked
    /// (below a kept member too: passed over as `IgnoredAny`, which fails on nothing a
    /// `Value` parse accepts).
    ///
    /// On such text the answer is [`Projection::project`]'s: that one fails only where the
    /// whole parse fails, and the kept members are read by the same seeds from the same bytes,
    /// in the same order into the same map (a member given twice: the last one, in the first
    /// one's place). Where the scan has no answer (an escaped member name, a member name that
    /// is not UTF-8, a kept member that does not parse alone) or the text has a top-level
    /// `detail` (which the caller's parse may have checked less), [`Projection::project`]
    /// answers.
    pub(crate) fn project_checked(&self, bytes: &[u8]) -> Option<Value> {
        let mut out = Map::new();
        let mut plain = false;
        let scanned = crate::event::top_spans(bytes, |name, value| {
            if name == b"detail" {
                return None;
            }
            if name == b"eventType" || name == b"uuid" {
                plain = true;
            }
            let name = std::str::from_utf8(name).ok()?;
            if let Some(node) = self.root.child(name) {
                let mut de = serde_json::Deserializer::from_slice(value);
                let value = Project {
                    node,
                    checked: true,
                }
                .deserialize(&mut de)
                .ok()?;
                de.end().ok()?;
                out.insert(name.to_owned(), value);
            }
            Some(())
        });
        match scanned {
            Some(()) => plain.then_some(Value::Object(out)),
            None => self.project(bytes),
        }
    }
}

/// The top-level object: its projection, noting whether it is a plain LogEvent.
struct Top<'n, 'p> {
    node: &'n Node,
    plain: &'p mut bool,
}

impl<'de> DeserializeSeed<'de> for Top<'_, '_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a LogEvent object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(Key)? {
            if key == "eventType" || key == "uuid" {
                *self.plain = true;
            }
            match self.node.child(&key) {
                Some(node) => {
                    let value = map.next_value_seed(Project {
                        node,
                        checked: false,
                    })?;
                    out.insert(key.into_owned(), value);
                }
                None => map.next_value_seed(Check)?,
            }
        }
        Ok(Value::Object(out))
    }
}

/// A value below a kept member: whole, or reduced to the members of `node`.
struct Project<'n> {
    node: &'n Node,
    /// The text is known to read as a `Value` ([`Projection::project_checked`]): skipped
    /// members are passed over (`IgnoredAny`), not checked.
    checked: bool,
}

impl<'de> DeserializeSeed<'de> for Project<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.node.whole {
            Value::deserialize(d)
        } else {
            d.deserialize_any(self)
        }
    }
}

impl<'de> Visitor<'de> for Project<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    // A scalar where a path goes on holds nothing any covered path reads: `null` stands for it.
    fn visit_bool<E>(self, _: bool) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_str<E>(self, _: &str) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Project {
            node: self.node,
            checked: self.checked,
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(Key)? {
            match self.node.child(&key) {
                Some(node) => {
                    let value = map.next_value_seed(Project {
                        node,
                        checked: self.checked,
                    })?;
                    out.insert(key.into_owned(), value);
                }
                None if self.checked => {
                    map.next_value::<IgnoredAny>()?;
                }
                None => map.next_value_seed(Check)?,
            }
        }
        Ok(Value::Object(out))
    }
}

/// A member name, borrowed from the input when it has no escape.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v))
    }
}

/// A skipped value, read through the same `deserialize_any` calls as a `Value` is (so it fails
/// where that parse fails: bad strings, escapes, numbers out of range, nesting too deep),
/// building nothing.
struct Check;

impl<'de> DeserializeSeed<'de> for Check {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Check {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Check)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(Check)?.is_some() {
            map.next_value_seed(Check)?;
        }
        Ok(())
    }
}

/// Follows `segments` through `value`, comparing member names without regard to ASCII case and
/// crossing arrays (every member), collecting the terminal values.
fn collect_ignore_case<'v>(value: &'v Value, segments: &[&str], out: &mut Vec<EventValue<'v>>) {
    let Some((segment, rest)) = segments.split_first() else {
        out.push(EventValue::from(value));
        return;
    };
    match value {
        Value::Object(map) => {
            for (key, member) in map {
                if key.eq_ignore_ascii_case(segment) {
                    collect_ignore_case(member, rest, out);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_ignore_case(item, segments, out);
            }
        }
        _ => {}
    }
}

/// An event with no fields: what the correlation engine is given for an event the gate let
/// no rule see (so its state housekeeping runs exactly as for an event that matched nothing).
pub(crate) struct NoFields;

impl Event for NoFields {
    fn get_field(&self, _path: &str) -> Option<EventValue<'_>> {
        None
    }

    fn any_string_value(&self, _pred: &dyn Fn(&str) -> bool) -> bool {
        false
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        Vec::new()
    }

    fn to_json(&self) -> Value {
        Value::Null
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(v: Option<EventValue<'_>>) -> Option<String> {
        v.and_then(|v| v.as_str().map(Cow::into_owned))
    }

    #[test]
    fn reads_okta_names_then_any_case_then_ecs() {
        let raw = json!({"eventType": "user.session.start",
            "target": [{"displayName": "A"}, {"displayName": "Okta Admin Console"}],
            "securityContext": {"isProxy": true}});
        let ecs = json!({"event": {"action": "from-ecs"}, "eventType": "not read"});
        let event = SigmaEvent::new(&raw, Some(Ecs::Value(&ecs)), "u1");
        assert_eq!(
            text(event.get_field("eventtype")).as_deref(),
            Some("user.session.start")
        );
        assert!(matches!(
            event.get_field("TARGET.displayname"),
            Some(EventValue::Array(v)) if v.len() == 2
        ));
        assert_eq!(
            text(event.get_field("event.action")).as_deref(),
            Some("from-ecs")
        );
        assert!(event.get_field("nothing.here").is_none());
        assert_eq!(event.to_json()["event_id"], "u1");
    }

    #[test]
    fn ecs_bytes_are_parsed_on_demand() {
        let raw = json!({"eventType": "x"});
        let ecs = br#"{"source":{"ip":"203.0.113.9"}}"#;
        let event = SigmaEvent::new(&raw, Some(Ecs::Bytes(ecs)), "u1");
        assert_eq!(
            text(event.get_field("source.ip")).as_deref(),
            Some("203.0.113.9")
        );
    }

    #[test]
    fn a_projection_keeps_only_the_learned_paths() {
        let mut projection = Projection::default();
        projection.learn("eventType");
        projection.learn("debugContext.debugData.requestUri");
        projection.learn("target.displayName");
        let raw = br#"{"uuid":"u","eventType":"x","displayMessage":"m",
            "debugContext":{"debugData":{"requestUri":"/a","behaviors":"b"},"other":1},
            "target":[{"displayName":"A","id":"1"},{"DisplayName":"B"}],"id":7}"#;
        let projected = projection.project(raw).expect("a plain LogEvent");
        assert_eq!(
            projected,
            json!({"eventType": "x", "debugContext": {"debugData": {"requestUri": "/a"}},
                   "target": [{"displayName": "A"}, {"DisplayName": "B"}], "id": 7})
        );
        // What the whole parse refuses, the projection refuses; an envelope is not projected.
        assert!(projection
            .project(br#"{"uuid":"u","skipped":1e400}"#)
            .is_none());
        assert!(projection.project(br#"{"detail":{"uuid":"u"}}"#).is_none());
        // A path with an index is never covered.
        projection.learn("target[0].id");
        assert!(!projection.covered.contains("target[0].id"));
    }

    /// A projection that covers what the shipped rules read, in the spellings they use and
    /// others.
    fn rule_projection() -> Projection {
        let mut projection = Projection::default();
        for path in [
            "eventType",
            "eventtype",
            "debugContext.debugData.requestUri",
            "securityContext.isProxy",
            "outcome.reason",
            "outcome.result",
            "target.displayName",
            "debugContext.debugData.behaviors",
            "debugContext.debugData.logOnlySecurityData",
            "legacyEventType",
            "displayMessage",
            "actor.alternateId",
            "client.userAgent.rawUserAgent",
        ] {
            projection.learn(path);
        }
        projection
    }

    /// `project_checked` answers as `project` does on `raw` (text serde_json reads as a
    /// `Value`: the contract of `project_checked`).
    fn assert_same_projection(projection: &Projection, raw: &[u8]) {
        assert!(serde_json::from_slice::<Value>(raw).is_ok());
        assert_eq!(
            projection.project_checked(raw),
            projection.project(raw),
            "{}",
            String::from_utf8_lossy(raw)
        );
    }

    #[test]
    fn a_projection_by_spans_is_the_projection() {
        let projection = rule_projection();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
        let mut events: Vec<Vec<u8>> = std::fs::read_to_string(root.join("okta-sample.ndjson"))
            .expect("the sample")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.as_bytes().to_vec())
            .collect();
        let mut paths: Vec<_> = std::fs::read_dir(root.join("okta"))
            .expect("the fixtures")
            .map(|e| e.expect("an entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read(&path).expect("a fixture");
            match serde_json::from_slice::<Value>(&text) {
                Ok(Value::Array(items)) => {
                    events.extend(items.iter().map(|i| serde_json::to_vec(i).expect("JSON")));
                    // As written, white space and all.
                    events.push(text);
                }
                Ok(_) => events.push(text),
                Err(_) => {}
            }
        }
        // Only text serde_json reads as a `Value` (a fixture may be broken on purpose).
        events.retain(|raw| serde_json::from_slice::<Value>(raw).is_ok());
        let fixtures = events.len();
        assert!(fixtures > 20, "{fixtures} fixture events");
        let projected = events
            .iter()
            .filter(|raw| projection.project(raw).is_some())
            .count();
        assert!(projected > 10, "{projected} plain LogEvents");
        events.extend(
            [
                // Escaped member names (the scan gives up: the checked projection answers).
                r#"{"uuid":"u","event\u0054ype":"zone.delete","displayMessage":"m"}"#,
                r#"{"uuid":"u","eventType":"x","display\u004dessage":"m","target":[{"displayName":"A"}]}"#,
                r#"{"\u0075uid":"u","outcome":{"result":"FAILURE"}}"#,
                // Escapes in kept and skipped values.
                r#"{"uuid":"u\"1","eventType":"a\/b","displayMessage":"\u00e9\ud83d\ude00","other":"\u0000\\"}"#,
                // Members given twice, in the same and in other cases, kept and skipped.
                r#"{"uuid":"u","eventType":"a","eventType":"b","EventType":"c","eventtype":"d"}"#,
                r#"{"uuid":"u","target":[{"displayName":"A"}],"skipped":1,"target":{"displayName":"B"},"skipped":[2]}"#,
                r#"{"uuid":"u","outcome":{"result":"A","result":"B","Result":"C"},"outcome":null}"#,
                // Flat dotted names, cased roots, scalars where a path goes on.
                r#"{"uuid":"u","securityContext.isProxy":"true","SECURITYCONTEXT":{"IsProxy":true}}"#,
                r#"{"uuid":"u","debugContext":5,"target":"SVC","actor":[{"alternateId":["a",{"x":1}]}]}"#,
                r#"{"eventType":"x","debugContext":{"debugData":{"requestUri":"/admin","behaviors":{"a":[1,2.5,-3e2,true,null]}}}}"#,
                // Ids the correlation engine reads, kept whole.
                r#"{"uuid":"u","id":{"a":[1,{"b":"c"}]},"_id":7,"event_id":"e","EventRecordID":1.5,"event.id":null}"#,
                // White space everywhere, big and small numbers, deep nesting.
                " \n{ \"uuid\" : \"u\" ,\t\"eventType\" : \"x\" , \"n\" : -0.0e-0 , \"big\" : 123456789012345678901234567890 }\r\n",
                r#"{"uuid":"u","deep":[[[[[[[[[[[[[[[[{"a":[[[[[[[[1]]]]]]]]}]]]]]]]]]]]]]]]],"target":[[[[{"displayName":[[["x"]]]}]]]]}"#,
                // Not a plain LogEvent: envelopes, wrappers, empty objects.
                r#"{"detail":{"uuid":"u","eventType":"x"},"detail-type":"SystemLog"}"#,
                r#"{"message":"{\"uuid\":\"u\"}"}"#,
                r#"{}"#,
                r#"{"UUID":"u","EventType":"x"}"#,
            ]
            .map(|s| s.as_bytes().to_vec()),
        );
        for raw in &events {
            assert_same_projection(&projection, raw);
        }
        // A top-level `detail` (which the caller's parse may have checked less) is read by
        // the checked projection: a value the whole parse refuses refuses the projection.
        let detail = br#"{"uuid":"u","eventType":"x","detail":{"n":1e400}}"#;
        assert!(serde_json::from_slice::<Value>(detail).is_err());
        assert_eq!(projection.project_checked(detail), None);
        let detail = br#"{"uuid":"u","eventType":"x","detail":{"n":"\ud800"}}"#;
        assert_eq!(projection.project_checked(detail), None);
    }

    mod generated {
        use super::*;
        use proptest::prelude::*;

        /// A JSON string literal: plain text, or with escapes (a member name too).
        fn string() -> BoxedStrategy<String> {
            prop_oneof![
                "[a-zA-Z .]{0,8}".prop_map(|s| format!("\"{s}\"")),
                Just(r#""\u0041b\"c\\\/\n""#.to_owned()),
                Just(r#""\u00e9\ud83d\ude00""#.to_owned()),
                prop::sample::select(vec![
                    "eventType",
                    "EventType",
                    "uuid",
                    "target",
                    "displayName",
                    "DisplayName",
                    "debugContext",
                    "debugData",
                    "requestUri",
                    "securityContext.isProxy",
                    "outcome",
                    "result",
                    "id",
                    "detail",
                    "event\\u0054ype",
                ])
                .prop_map(|s| format!("\"{s}\"")),
            ]
            .boxed()
        }

        fn value() -> BoxedStrategy<String> {
            let leaf = prop_oneof![
                string(),
                Just("true".to_owned()),
                Just("false".to_owned()),
                Just("null".to_owned()),
                prop::sample::select(vec![
                    "0",
                    "-1",
                    "2.5",
                    "1e3",
                    "-0.0",
                    "18446744073709551616"
                ])
                .prop_map(str::to_owned),
            ];
            leaf.prop_recursive(4, 32, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4)
                        .prop_map(|items| format!("[{}]", items.join(","))),
                    prop::collection::vec((string(), inner), 0..4).prop_map(|members| {
                        let members: Vec<String> =
                            members.iter().map(|(k, v)| format!("{k} : {v}")).collect();
                        format!("{{ {} }}", members.join(","))
                    }),
                ]
            })
            .boxed()
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

            /// Over generated objects (names escaped, cased, dotted, given twice; values of
            /// every kind), the projection by spans is the projection wherever serde_json reads
            /// the text as a `Value`.
            #[test]
            fn on_generated_events(
                members in prop::collection::vec((string(), value()), 0..10),
                plain in any::<bool>(),
            ) {
                let mut members: Vec<String> =
                    members.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                if plain {
                    members.push(r#""uuid":"u""#.to_owned());
                }
                let raw = format!("{{{}}}", members.join(","));
                let projection = rule_projection();
                if serde_json::from_slice::<Value>(raw.as_bytes()).is_ok() {
                    prop_assert_eq!(
                        projection.project_checked(raw.as_bytes()),
                        projection.project(raw.as_bytes()),
                        "{}", raw
                    );
                }
            }
        }
    }

    #[test]
    fn finds_the_log_event_in_envelopes() {
        let inner = json!({"uuid": "u", "eventType": "x"});
        let envelope = json!({"detail": inner.clone()});
        assert!(matches!(log_event_of(&envelope), Inner::Borrowed(v) if *v == inner));
        let wrapper = json!({ "message": inner.to_string() });
        assert!(matches!(log_event_of(&wrapper), Inner::Owned(v) if v == inner));
        assert!(matches!(log_event_of(&inner), Inner::Borrowed(v) if *v == inner));
    }
}

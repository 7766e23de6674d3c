//! An Okta event as a Sigma rule sees it: the raw LogEvent's fields under their Okta names
//! (`eventType`, `displayMessage`, `debugContext.debugData.requestUri`, `target.displayName`
//! over every target), then, for a name the LogEvent does not have, the same name matched
//! without regard to case (older rules write `eventtype`, `displaymessage`), then the
//! normalized ECS document (`event.action`, `source.ip`, `user.name`, ...).

use std::borrow::Cow;
use std::cell::OnceCell;

use rsigma_eval::event::{Event, EventValue, JsonEvent};
use serde_json::Value;

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
    ecs: Option<Ecs<'a>>,
    /// The ECS document, parsed the first time a rule asks for one of its fields.
    ecs_event: OnceCell<Option<JsonEvent<'a>>>,
    uuid: &'a str,
}

impl<'a> SigmaEvent<'a> {
    pub(crate) fn new(raw: &'a Value, ecs: Option<Ecs<'a>>, uuid: &'a str) -> SigmaEvent<'a> {
        SigmaEvent {
            raw: JsonEvent::borrow(raw),
            raw_value: raw,
            ecs,
            ecs_event: OnceCell::new(),
            uuid,
        }
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
        if let Some(v) = self.raw.get_field(path) {
            return Some(v);
        }
        let root = path.split('.').next().unwrap_or(path);
        if OKTA_ROOTS.iter().any(|r| r.eq_ignore_ascii_case(root)) {
            // `eventtype`, `DisplayMessage`: the LogEvent's member whatever its case.
            let segments: Vec<&str> = path.split('.').collect();
            let mut found = Vec::new();
            collect_ignore_case(self.raw_value, &segments, &mut found);
            return match found.len() {
                0 => None,
                1 => found.pop(),
                _ => Some(EventValue::Array(found)),
            };
        }
        self.ecs_event().and_then(|ecs| ecs.get_field(path))
    }

    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        self.raw.any_string_value(pred)
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        self.raw.all_string_values()
    }

    /// The LogEvent with its `uuid` also under `event_id`, where the correlation engine looks
    /// for the ids of the events it keeps (Okta's LogEvent has no `id`).
    fn to_json(&self) -> Value {
        let mut json = self.raw_value.clone();
        if let Value::Object(map) = &mut json {
            map.entry("event_id")
                .or_insert_with(|| Value::String(self.uuid.to_owned()));
        }
        json
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
    fn finds_the_log_event_in_envelopes() {
        let inner = json!({"uuid": "u", "eventType": "x"});
        let envelope = json!({"detail": inner.clone()});
        assert!(matches!(log_event_of(&envelope), Inner::Borrowed(v) if *v == inner));
        let wrapper = json!({ "message": inner.to_string() });
        assert!(matches!(log_event_of(&wrapper), Inner::Owned(v) if v == inner));
        assert!(matches!(log_event_of(&inner), Inner::Borrowed(v) if *v == inner));
    }
}

//! The JSON type of every field of ECS documents, as a search engine's
//! mapping sees it: arrays are transparent (an array of strings is a string
//! field), a key with dots names nested objects, and each dotted prefix of a
//! path is an object.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// Free-form Okta objects, kept verbatim: their inside is Okta's, not ours
/// (map them as `flattened`); only their own type (object) is checked.
pub const FREE_FORM: &[&str] = &[
    "okta.system.actor.detail_entry",
    "okta.system.targets.detailEntry",
    "okta.system.targets.changeDetails",
    "okta.system.device",
    "okta.system.transaction.detail",
    "okta.system.security_context.ip_details",
    "okta.system.request.ip_chain.ip_details",
    "okta.system.ip_chain.ip_service_categories",
];

/// Field path → JSON types seen there.
pub type Types = BTreeMap<String, BTreeSet<&'static str>>;

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Adds the type of every field of `doc` to `types`; `skip` leaves out paths
/// (and what is under them) for which it returns true.
pub fn collect(doc: &Value, types: &mut Types, skip: &dyn Fn(&str) -> bool) {
    walk("", doc, types, skip);
}

fn walk(path: &str, v: &Value, types: &mut Types, skip: &dyn Fn(&str) -> bool) {
    if !path.is_empty() && skip(path) {
        return;
    }
    match v {
        Value::Array(items) => {
            for item in items {
                walk(path, item, types, skip);
            }
        }
        Value::Object(map) => {
            if !path.is_empty() {
                record(path, "object", types);
            }
            if FREE_FORM.contains(&path) {
                return;
            }
            for (k, item) in map {
                let sub = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                walk(&sub, item, types, skip);
            }
        }
        other => record(path, type_name(other), types),
    }
}

fn record(path: &str, kind: &'static str, types: &mut Types) {
    types.entry(path.to_owned()).or_default().insert(kind);
    // `a.b` inside one key is `a` → `b` for the search engine.
    let mut prefix = path;
    while let Some((head, _)) = prefix.rsplit_once('.') {
        types.entry(head.to_owned()).or_default().insert("object");
        prefix = head;
    }
}

/// Lines describing every path with more than one type.
pub fn conflicts(types: &Types) -> Vec<String> {
    types
        .iter()
        .filter(|(_, kinds)| kinds.len() > 1)
        .map(|(path, kinds)| format!("{path}: {kinds:?}"))
        .collect()
}

//! A compact OCSF schema compiler and validator over the subset kept in
//! `fixtures/ocsf-schema-1.8.0/` (see `tests/ocsf_schema.rs` for what it checks).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

pub fn read_json(path: &Path) -> Value {
    let text = fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One compiled attribute.
#[derive(Debug, Clone, Default)]
pub struct Attr {
    /// A dictionary type (`string_t`, ...), an object name, or `object` (any object).
    pub kind: String,
    pub is_array: bool,
    pub required: bool,
    /// Allowed values, when enumerated (as JSON text of the key: `1`, `"GET"`).
    pub enumeration: Option<Vec<String>>,
}

/// A compiled class or object: its attributes by name.
pub type Attrs = BTreeMap<String, Attr>;

pub struct Schema {
    pub dictionary: Map<String, Value>,
    /// Type name -> its parent type (`ip_t` -> `string_t`), primitives -> None.
    pub types: BTreeMap<String, Option<String>>,
    /// Class name -> (class_uid, category_uid, attributes).
    pub classes: BTreeMap<String, (u64, u64, Attrs)>,
    pub objects: BTreeMap<String, Attrs>,
    /// `class:<name>` / `object:<name>` -> its constraints (`at_least_one`, `just_one`), from
    /// the nearest definition along `extends` that has some.
    pub constraints: BTreeMap<String, Vec<(String, Vec<String>)>>,
}

pub fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files_under(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

/// Definitions by `name`.
fn by_name(dir: &Path) -> BTreeMap<String, Map<String, Value>> {
    let mut files = Vec::new();
    files_under(dir, &mut files);
    files
        .iter()
        .map(|p| {
            let Value::Object(def) = read_json(p) else {
                panic!("{} is not an object", p.display())
            };
            let name = def["name"].as_str().expect("a name").to_owned();
            (name, def)
        })
        .collect()
}

/// The chain of definitions from the root ancestor down to `name`.
fn chain<'d>(
    defs: &'d BTreeMap<String, Map<String, Value>>,
    name: &str,
) -> Vec<&'d Map<String, Value>> {
    let mut out = Vec::new();
    let mut at = Some(name.to_owned());
    while let Some(n) = at {
        let def = defs
            .get(&n)
            .unwrap_or_else(|| panic!("`{n}` is not in the kept schema"));
        out.push(def);
        at = def
            .get("extends")
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    out.reverse();
    out
}

/// The constraints of the nearest definition along `defs` (root first) that has some.
fn constraints(defs: &[&Map<String, Value>]) -> Vec<(String, Vec<String>)> {
    let Some(Value::Object(found)) = defs.iter().rev().find_map(|d| d.get("constraints")) else {
        return Vec::new();
    };
    found
        .iter()
        .map(|(kind, names)| {
            let names = names
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
            (kind.clone(), names)
        })
        .collect()
}

fn enum_keys(v: Option<&Value>) -> Option<Vec<String>> {
    v.and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
}

impl Schema {
    pub fn load() -> Schema {
        let dir = root().join("ocsf-schema-1.8.0");
        assert_eq!(
            read_json(&dir.join("version.json"))["version"],
            "1.8.0",
            "kept schema version"
        );
        let dict = read_json(&dir.join("dictionary.json"));
        let dictionary = dict["attributes"].as_object().expect("attributes").clone();
        let types = dict["types"]["attributes"]
            .as_object()
            .expect("types")
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.get("type").and_then(Value::as_str).map(str::to_owned),
                )
            })
            .collect();
        let categories = read_json(&dir.join("categories.json"));
        let mut schema = Schema {
            dictionary,
            types,
            classes: BTreeMap::new(),
            objects: BTreeMap::new(),
            constraints: BTreeMap::new(),
        };
        let objects = by_name(&dir.join("objects"));
        for name in objects.keys() {
            let defs = chain(&objects, name);
            let attrs = schema.compile(&defs);
            schema.objects.insert(name.clone(), attrs);
            schema
                .constraints
                .insert(format!("object:{name}"), constraints(&defs));
        }
        // As the OCSF server does: the observable type ids are the `observable` numbers of
        // the dictionary's types and attributes and of the objects.
        let marks = dict["types"]["attributes"]
            .as_object()
            .into_iter()
            .flatten()
            .chain(schema.dictionary.iter())
            .filter_map(|(_, v)| v.get("observable").and_then(Value::as_u64))
            .chain(
                objects
                    .values()
                    .filter_map(|o| o.get("observable").and_then(Value::as_u64)),
            )
            .map(|n| n.to_string())
            .collect::<Vec<_>>();
        if let Some(type_id) = schema
            .objects
            .get_mut("observable")
            .and_then(|o| o.get_mut("type_id"))
        {
            type_id
                .enumeration
                .get_or_insert_with(Vec::new)
                .extend(marks);
        }
        let events = by_name(&dir.join("events"));
        for (name, def) in &events {
            let Some(uid) = def.get("uid").and_then(Value::as_u64) else {
                continue; // an abstract class (base_event, iam, ...)
            };
            let defs = chain(&events, name);
            let category = defs
                .iter()
                .rev()
                .find_map(|d| d.get("category").and_then(Value::as_str))
                .expect("a category");
            let category_uid = categories["attributes"][category]["uid"]
                .as_u64()
                .expect("category uid");
            schema
                .constraints
                .insert(format!("class:{name}"), constraints(&defs));
            let mut attrs = schema.compile(&defs);
            // As the OCSF server compiles a class: its own uids are the only values of
            // class_uid and category_uid, and type_uid is class_uid * 100 + activity_id.
            let class_uid = category_uid * 1000 + uid;
            let only = |attrs: &mut Attrs, name: &str, values: Vec<String>| {
                if let Some(attr) = attrs.get_mut(name) {
                    attr.enumeration = Some(values);
                }
            };
            only(&mut attrs, "class_uid", vec![class_uid.to_string()]);
            only(&mut attrs, "category_uid", vec![category_uid.to_string()]);
            let type_uids = attrs["activity_id"]
                .enumeration
                .iter()
                .flatten()
                .filter_map(|a| a.parse::<u64>().ok())
                .map(|a| (class_uid * 100 + a).to_string())
                .collect();
            only(&mut attrs, "type_uid", type_uids);
            schema.classes.insert(
                name.clone(),
                (category_uid * 1000 + uid, category_uid, attrs),
            );
        }
        schema
    }

    /// Merges the attributes along `defs` (root first) over the dictionary's.
    fn compile(&self, defs: &[&Map<String, Value>]) -> Attrs {
        let mut attrs = Attrs::new();
        for def in defs {
            let Some(Value::Object(members)) = def.get("attributes") else {
                continue;
            };
            for (name, over) in members {
                if name == "$include" {
                    continue; // profiles are not compiled in
                }
                let attr = attrs.entry(name.clone()).or_insert_with(|| {
                    let d = self
                        .dictionary
                        .get(name)
                        .unwrap_or_else(|| panic!("`{name}` is not in the dictionary"));
                    Attr {
                        kind: d["type"].as_str().expect("a type").to_owned(),
                        is_array: d.get("is_array").and_then(Value::as_bool) == Some(true),
                        required: false,
                        enumeration: enum_keys(d.get("enum")),
                    }
                });
                if let Some(kind) = over.get("type").and_then(Value::as_str) {
                    attr.kind = kind.to_owned();
                }
                if let Some(is_array) = over.get("is_array").and_then(Value::as_bool) {
                    attr.is_array = is_array;
                }
                if let Some(req) = over.get("requirement").and_then(Value::as_str) {
                    attr.required = req == "required";
                }
                if let Some(keys) = enum_keys(over.get("enum")) {
                    let all = attr.enumeration.get_or_insert_with(Vec::new);
                    all.extend(keys);
                }
            }
        }
        attrs
    }

    /// The primitive a dictionary type comes down to, or `None` for an object type.
    fn primitive<'t>(&'t self, kind: &'t str) -> Option<&'t str> {
        let mut at = kind;
        loop {
            match self.types.get(at) {
                Some(Some(parent)) => at = parent,
                Some(None) => return Some(at),
                None => return None,
            }
        }
    }

    fn check_attrs(
        &self,
        owner: &str,
        attrs: &Attrs,
        doc: &Value,
        path: &str,
        errors: &mut Vec<String>,
    ) {
        let Value::Object(members) = doc else {
            errors.push(format!("{path}: not an object"));
            return;
        };
        for (kind, names) in self.constraints.get(owner).into_iter().flatten() {
            let present = names.iter().filter(|n| members.contains_key(*n)).count();
            let fits = match kind.as_str() {
                "at_least_one" => present >= 1,
                "just_one" => present == 1,
                other => {
                    errors.push(format!("{path}: unknown constraint {other}"));
                    true
                }
            };
            if !fits {
                errors.push(format!("{path}: constraint {kind} of {names:?} not met"));
            }
        }
        for (name, attr) in attrs {
            if attr.required && !members.contains_key(name) {
                errors.push(format!("{path}: required `{name}` missing"));
            }
        }
        for (name, value) in members {
            let at = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}.{name}")
            };
            match attrs.get(name) {
                None => errors.push(format!("{at}: not an attribute here")),
                Some(attr) if attr.is_array => match value {
                    Value::Array(items) => {
                        for (i, item) in items.iter().enumerate() {
                            self.check_value(attr, item, &format!("{at}[{i}]"), errors);
                        }
                    }
                    _ => errors.push(format!("{at}: expected an array")),
                },
                Some(attr) => self.check_value(attr, value, &at, errors),
            }
        }
    }

    fn check_value(&self, attr: &Attr, value: &Value, at: &str, errors: &mut Vec<String>) {
        let fits = match self.primitive(&attr.kind) {
            Some("string_t") => value.is_string(),
            Some("integer_t" | "long_t") => value.is_i64() || value.is_u64(),
            Some("float_t") => value.is_number(),
            Some("boolean_t") => value.is_boolean(),
            Some("json_t") => true,
            Some(other) => {
                errors.push(format!("{at}: unknown primitive type {other}"));
                return;
            }
            None if attr.kind == "object" => value.is_object(),
            None => match self.objects.get(&attr.kind) {
                Some(object) => {
                    self.check_attrs(&format!("object:{}", attr.kind), object, value, at, errors);
                    true
                }
                None => {
                    errors.push(format!(
                        "{at}: object type `{}` is not in the kept schema",
                        attr.kind
                    ));
                    return;
                }
            },
        };
        if !fits {
            errors.push(format!("{at}: {value} is not of type {}", attr.kind));
            return;
        }
        if let Some(allowed) = &attr.enumeration {
            let key = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if !allowed.contains(&key) {
                errors.push(format!(
                    "{at}: {value} is not one of its enum values {allowed:?}"
                ));
            }
        }
    }

    /// Every problem of `doc` as an event.
    pub fn validate(&self, doc: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        let Some(class_uid) = doc.get("class_uid").and_then(Value::as_u64) else {
            return vec!["class_uid missing or not an integer".to_owned()];
        };
        let Some((class_name, (_, category_uid, attrs))) = self
            .classes
            .iter()
            .find(|(_, (uid, _, _))| *uid == class_uid)
        else {
            return vec![format!("class_uid {class_uid} is not a kept class")];
        };
        if doc.get("category_uid").and_then(Value::as_u64) != Some(*category_uid) {
            errors.push(format!("category_uid is not {category_uid}"));
        }
        let activity = doc.get("activity_id").and_then(Value::as_u64);
        if let Some(activity) = activity {
            if doc.get("type_uid").and_then(Value::as_u64) != Some(class_uid * 100 + activity) {
                errors.push(format!("type_uid is not {}", class_uid * 100 + activity));
            }
        }
        self.check_attrs(&format!("class:{class_name}"), attrs, doc, "", &mut errors);
        errors
    }
}

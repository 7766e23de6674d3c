//! The index template installed by `oktaflow setup elasticsearch`: ECS mappings for
//! every field oktaflow writes (see `docs/fields.md` and `fixtures/ecs/`).

use serde_json::{json, Value};

use super::Flavor;

/// The template name and index pattern for `index`: for a data stream named
/// `type-dataset-namespace` (e.g. `logs-okta.system-default`) they are
/// `type-dataset` and `type-dataset-*` (every namespace); for any other name, the
/// name itself for both.
pub(crate) fn template_name_and_pattern(index: &str) -> (String, String) {
    match index.rsplit_once('-') {
        Some((base, _namespace)) if base.contains('-') => (base.to_owned(), format!("{base}-*")),
        _ => (index.to_owned(), index.to_owned()),
    }
}

/// The name and body of the composable index template (`PUT _index_template/NAME`)
/// for `index`: its pattern (see `template_name_and_pattern`), a data stream, priority 200 (above the
/// built-in `logs-*-*` template), and explicit ECS mappings. `okta.system` (Okta's own
/// fields, whose shape varies by event type) is one `flattened` field
/// (`flat_object` on OpenSearch): every leaf is searchable as a keyword without a
/// mapping explosion. Unknown fields added later are mapped as keywords.
pub fn index_template(flavor: Flavor, index: &str) -> (String, Value) {
    index_template_for(flavor, index, Layout::Ecs)
}

/// The layout of the documents an index holds (the normalizer's output schema), which
/// decides the mappings of its template.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Layout {
    /// oktaflow's ECS layout (`--schema ecs`).
    #[default]
    Ecs,
    /// The layout of Elastic's Okta integration (`--schema elastic`): its ECS fields
    /// and `okta.*` fields, typed as in the integration's `fields.yml`.
    Elastic,
}

/// As [`index_template`], for documents of `layout`.
pub fn index_template_for(flavor: Flavor, index: &str, layout: Layout) -> (String, Value) {
    let (name, pattern) = template_name_and_pattern(index);
    if layout == Layout::Elastic {
        let mut mappings = elastic_mappings(flavor);
        if flavor == Flavor::OpenSearch {
            replace_match_only_text(&mut mappings);
        }
        let body = json!({
            "index_patterns": [pattern],
            "data_stream": {},
            "priority": 200,
            "_meta": {"managed_by": "oktaflow", "description": "Okta System Log in the layout of Elastic's Okta integration, written by oktaflow"},
            "template": {
                "settings": {"index": {"codec": "best_compression"}},
                "mappings": mappings,
            }
        });
        return (name, body);
    }
    let keyword_text = || {
        json!({"type": "keyword", "ignore_above": 1024,
               "fields": {"text": {"type": "match_only_text"}}})
    };
    let text_keyword = || json!({"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 1024}}});
    let user = |with_target: bool| {
        let mut fields = vec![
            ("id", keyword()),
            ("name", keyword_text()),
            ("email", keyword()),
            ("full_name", keyword_text()),
        ];
        if with_target {
            fields.push((
                "target",
                objects(&[
                    ("id", keyword()),
                    ("name", keyword_text()),
                    ("email", keyword()),
                    ("full_name", keyword_text()),
                    ("roles", keyword()),
                    ("group", objects(&[("id", keyword()), ("name", keyword())])),
                ]),
            ));
        }
        objects(&fields)
    };
    let okta_system = free_form(flavor);
    // match_only_text is Elasticsearch-only; OpenSearch gets plain text.
    let mut mappings = json!({
        "dynamic_templates": [
            {"strings_as_keyword": {"match_mapping_type": "string",
                                     "mapping": {"type": "keyword", "ignore_above": 1024}}}
        ],
        "properties": {
            "@timestamp": {"type": "date"},
            "data_stream": objects(&[
                ("type", json!({"type": "constant_keyword"})),
                ("dataset", json!({"type": "constant_keyword"})),
                ("namespace", json!({"type": "constant_keyword"})),
            ]),
            "event": objects(&[
                ("kind", keyword()),
                ("id", keyword()),
                ("action", keyword()),
                ("category", keyword()),
                ("type", keyword()),
                ("outcome", keyword()),
                ("severity", json!({"type": "long"})),
                ("reason", text_keyword()),
                ("dataset", keyword()),
                ("original", json!({"type": "keyword", "index": false, "doc_values": false})),
            ]),
            "observer": objects(&[
                ("vendor", keyword()),
                ("product", keyword()),
                ("type", keyword()),
            ]),
            "source": objects(&[
                ("ip", json!({"type": "ip"})),
                ("address", keyword()),
                ("domain", keyword()),
                ("registered_domain", keyword()),
                ("top_level_domain", keyword()),
                ("subdomain", keyword()),
                ("as", objects(&[
                    ("number", json!({"type": "long"})),
                    ("organization", objects(&[("name", keyword_text())])),
                ])),
                ("geo", objects(&[
                    ("city_name", keyword()),
                    ("region_name", keyword()),
                    ("country_name", keyword()),
                    ("country_iso_code", keyword()),
                    ("continent_name", keyword()),
                    ("postal_code", keyword()),
                    ("timezone", keyword()),
                    ("location", json!({"type": "geo_point"})),
                ])),
                ("user", objects(&[("id", keyword())])),
            ]),
            "user": user(true),
            "group": objects(&[("id", keyword()), ("name", keyword())]),
            "user_agent": objects(&[
                ("original", keyword_text()),
                ("name", keyword()),
                ("version", keyword()),
                ("device", objects(&[("name", keyword())])),
                ("os", objects(&[("name", keyword()), ("full", keyword()), ("version", keyword())])),
            ]),
            "related": objects(&[
                ("ip", json!({"type": "ip"})),
                ("user", keyword()),
                ("hosts", keyword()),
            ]),
            "cloud": objects(&[
                ("provider", keyword()),
                ("region", keyword()),
                ("account", objects(&[("id", keyword())])),
            ]),
            "device": objects(&[("id", keyword())]),
            "error": objects(&[("message", text_keyword())]),
            "tags": keyword(),
            "okta": objects(&[
                ("system", okta_system.clone()),
                // The parsed view of `debugData` (docs/fields.md): typed where the shape is
                // known, the variable parts (`logOnlySecurityData`, `tunnels`,
                // `originalPrincipal`) as one flattened field each, like `okta.system`.
                ("debug_context", objects(&[("debug_data", objects(&[
                    ("risk_level", keyword()),
                    ("risk_reasons", keyword()),
                    ("risk_previous_level", keyword()),
                    ("risk_detection_name", keyword()),
                    ("risk_issuer", keyword()),
                    ("risk_behaviors", keyword()),
                    ("threat_suspected", json!({"type": "boolean"})),
                    ("dt_hash", keyword()),
                    ("root_session_id", keyword()),
                    ("root_api_token_id", keyword()),
                    ("request_api_token_id", keyword()),
                    ("logOnlySecurityData", okta_system.clone()),
                    ("tunnels", okta_system.clone()),
                    ("originalPrincipal", okta_system.clone()),
                ]))])),
                ("eventbridge", objects(&[
                    ("id", keyword()),
                    ("detail_type", keyword()),
                    ("source", keyword()),
                    ("version", keyword()),
                    ("time", json!({"type": "date"})),
                ])),
            ]),
        }
    });
    if flavor == Flavor::OpenSearch {
        replace_match_only_text(&mut mappings);
    }
    let body = json!({
        "index_patterns": [pattern],
        "data_stream": {},
        "priority": 200,
        "_meta": {"managed_by": "oktaflow", "description": "Okta System Log as ECS, written by oktaflow"},
        "template": {
            "settings": {"index": {"codec": "best_compression"}},
            "mappings": mappings,
        }
    });
    (name, body)
}

/// Mappings for the `elastic` schema: the ECS fields Elastic's Okta integration writes
/// and its `okta.*` fields with the integration's types (`okta.target`,
/// `okta.request.ip_chain` and the whole debugData flattened).
fn elastic_mappings(flavor: Flavor) -> Value {
    let flattened = || free_form(flavor);
    let ip = || json!({"type": "ip"});
    let long = || json!({"type": "long"});
    let boolean = || json!({"type": "boolean"});
    let keywords = |names: &[&str]| -> Value {
        let fields: Vec<(&str, Value)> = names.iter().map(|n| (*n, keyword())).collect();
        objects(&fields)
    };
    let pseudo_user = || keywords(&["id", "name", "full_name", "email"]);
    let debug_leaf = |kind: &str| {
        json!({"path_match": "okta.debug_context.debug_data.*", "match_mapping_type": kind,
               "mapping": {"type": "keyword", "ignore_above": 1024}})
    };
    let geo = || {
        objects(&[
            ("city_name", keyword()),
            ("region_name", keyword()),
            ("region_iso_code", keyword()),
            ("country_name", keyword()),
            ("country_iso_code", keyword()),
            ("continent_name", keyword()),
            ("postal_code", keyword()),
            ("timezone", keyword()),
            ("location", json!({"type": "geo_point"})),
        ])
    };
    let as_ = || {
        objects(&[
            ("number", long()),
            (
                "organization",
                objects(&[(
                    "name",
                    json!({"type": "keyword", "ignore_above": 1024, "fields": {"text": {"type": "match_only_text"}}}),
                )]),
            ),
        ])
    };
    json!({
        "dynamic_templates": [
            // debugData's members copied as Elastic's `remove_flattened_debug` layout
            // writes them: every leaf a keyword, whatever its JSON type (objects stay
            // objects).
            {"okta_debug_data_strings": debug_leaf("string")},
            {"okta_debug_data_longs": debug_leaf("long")},
            {"okta_debug_data_doubles": debug_leaf("double")},
            {"okta_debug_data_booleans": debug_leaf("boolean")},
            {"strings_as_keyword": {"match_mapping_type": "string",
                                     "mapping": {"type": "keyword", "ignore_above": 1024}}}
        ],
        "properties": {
            "@timestamp": {"type": "date"},
            "ecs": keywords(&["version"]),
            "data_stream": objects(&[
                ("type", json!({"type": "constant_keyword"})),
                ("dataset", json!({"type": "constant_keyword"})),
                ("namespace", json!({"type": "constant_keyword"})),
            ]),
            "event": objects(&[
                ("kind", keyword()),
                ("id", keyword()),
                ("action", keyword()),
                ("category", keyword()),
                ("type", keyword()),
                ("outcome", keyword()),
                ("dataset", keyword()),
                ("original", json!({"type": "keyword", "index": false, "doc_values": false})),
            ]),
            "client": objects(&[
                ("ip", ip()),
                ("domain", keyword()),
                ("geo", geo()),
                ("as", as_()),
                ("user", pseudo_user()),
            ]),
            "source": objects(&[
                ("ip", ip()),
                ("domain", keyword()),
                ("geo", geo()),
                ("as", as_()),
                ("user", pseudo_user()),
            ]),
            "user": objects(&[
                ("name", keyword()),
                ("full_name", keyword()),
                ("email", keyword()),
                ("target", objects(&[
                    ("id", keyword()),
                    ("full_name", keyword()),
                    ("email", keyword()),
                    ("group", keywords(&["id", "name"])),
                ])),
            ]),
            "user_agent": objects(&[
                ("original", keyword()),
                ("name", keyword()),
                ("version", keyword()),
                ("device", keywords(&["name"])),
                ("os", keywords(&["name", "full", "version"])),
            ]),
            "related": objects(&[("ip", ip()), ("user", keyword())]),
            "cloud": objects(&[
                ("provider", keyword()),
                ("region", keyword()),
                ("account", keywords(&["id"])),
            ]),
            "error": objects(&[("message", json!({"type": "match_only_text"}))]),
            "tags": keyword(),
            "okta": objects(&[
                ("uuid", keyword()),
                ("event_type", keyword()),
                ("version", keyword()),
                ("severity", keyword()),
                ("display_message", keyword()),
                ("legacy_event_type", keyword()),
                ("published", keyword()),
                ("actor", objects(&[
                    ("id", keyword()),
                    ("type", keyword()),
                    ("alternate_id", keyword()),
                    ("display_name", keyword()),
                    ("detail_entry", flattened()),
                ])),
                ("client", objects(&[
                    ("ip", ip()),
                    ("id", keyword()),
                    ("zone", keyword()),
                    ("device", keyword()),
                    ("user_agent", keywords(&["raw_user_agent", "os", "browser"])),
                ])),
                ("device", objects(&[
                    ("device_integrator", flattened()),
                    ("disk_encryption_type", keyword()),
                    ("id", keyword()),
                    ("jailbreak", boolean()),
                    ("managed", boolean()),
                    ("name", keyword()),
                    ("os_platform", keyword()),
                    ("os_version", keyword()),
                    ("registered", boolean()),
                    ("screen_lock_type", keyword()),
                    ("secure_hardware_present", boolean()),
                ])),
                ("outcome", keywords(&["reason", "result"])),
                ("target", flattened()),
                ("transaction", objects(&[
                    ("id", keyword()),
                    ("type", keyword()),
                    ("detail", keywords(&["request_api_token_id", "root_api_token_id"])),
                ])),
                ("debug_context", objects(&[("debug_data", objects(&[
                    ("authn_request_id", keyword()),
                    ("device_fingerprint", keyword()),
                    ("dt_hash", keyword()),
                    ("factor", keyword()),
                    ("request_id", keyword()),
                    ("request_uri", keyword()),
                    ("threat_suspected", keyword()),
                    ("risk_behaviors", keyword()),
                    ("risk_level", keyword()),
                    ("risk_reasons", keyword()),
                    ("url", keyword()),
                    ("client_secret", keyword()),
                    ("grant_type", keyword()),
                    ("granted_scopes", keyword()),
                    ("requested_scopes", keyword()),
                    ("flattened", flattened()),
                ]))])),
                ("authentication_context", objects(&[
                    ("authentication_provider", keyword()),
                    ("authentication_step", long()),
                    ("credential_provider", keyword()),
                    ("credential_type", keyword()),
                    ("external_session_id", keyword()),
                    ("root_session_id", keyword()),
                    ("interface", keyword()),
                    ("issuer", keywords(&["id", "type"])),
                ])),
                ("security_context", objects(&[
                    ("as", objects(&[
                        ("number", long()),
                        ("organization", keywords(&["name"])),
                    ])),
                    ("isp", keyword()),
                    ("domain", keyword()),
                    ("is_proxy", boolean()),
                ])),
                ("request", objects(&[("ip_chain", flattened())])),
                ("unmapped", objects(&[("path", keyword()), ("value", json!({"type": "keyword", "index": false, "doc_values": false}))])),
            ]),
        }
    })
}

/// A `keyword` mapping (`ignore_above` 1024, as Elastic's templates).
fn keyword() -> Value {
    json!({"type": "keyword", "ignore_above": 1024})
}

/// An object mapping with these properties.
fn objects(fields: &[(&str, Value)]) -> Value {
    let props: serde_json::Map<String, Value> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    json!({"properties": props})
}

/// A free-form object mapped whole: `flattened` on Elasticsearch, `flat_object` on
/// OpenSearch.
fn free_form(flavor: Flavor) -> Value {
    match flavor {
        Flavor::Elasticsearch => {
            json!({"type": "flattened", "ignore_above": 1024, "depth_limit": 30})
        }
        Flavor::OpenSearch => json!({"type": "flat_object"}),
    }
}

fn replace_match_only_text(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("type").and_then(Value::as_str) == Some("match_only_text") {
                map.insert("type".into(), json!("text"));
            }
            map.values_mut().for_each(replace_match_only_text);
        }
        Value::Array(items) => items.iter_mut().for_each(replace_match_only_text),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every leaf of `doc`, as a dotted path; a field mapped whole (flattened, geo point) is
    /// one leaf.
    fn leaves(prefix: &str, doc: &Value, out: &mut Vec<String>) {
        match doc {
            Value::Object(map) => {
                for (k, v) in map {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    let whole = [
                        "okta.system",
                        "source.geo.location",
                        "okta.debug_context.debug_data.logOnlySecurityData",
                        "okta.debug_context.debug_data.tunnels",
                        "okta.debug_context.debug_data.originalPrincipal",
                    ];
                    if whole.contains(&path.as_str()) {
                        out.push(path);
                    } else {
                        leaves(&path, v, out);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| leaves(prefix, v, out)),
            _ => out.push(prefix.to_owned()),
        }
    }

    fn mapping<'a>(mappings: &'a Value, path: &str) -> Option<&'a Value> {
        let mut node = mappings;
        for part in path.split('.') {
            node = node.get("properties")?.get(part)?;
        }
        Some(node)
    }

    #[test]
    fn maps_every_field_of_the_ecs_fixtures_explicitly() {
        let (name, template) = index_template(Flavor::Elasticsearch, "logs-okta.system-default");
        assert_eq!(name, "logs-okta.system");
        assert_eq!(template["index_patterns"], json!(["logs-okta.system-*"]));
        let mappings = &template["template"]["mappings"];
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ecs");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue; // e.g. the reviewed event-type table
            }
            let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let mut paths = Vec::new();
            leaves("", &doc, &mut paths);
            for field in paths {
                assert!(
                    mapping(mappings, &field).is_some(),
                    "{}: {field} has no explicit mapping",
                    path.display()
                );
                checked += 1;
            }
        }
        assert!(checked > 100, "only {checked} fields checked");
        assert_eq!(mapping(mappings, "source.ip").unwrap()["type"], "ip");
        assert_eq!(
            mapping(mappings, "okta.system").unwrap()["type"],
            "flattened"
        );
        assert_eq!(mapping(mappings, "event.reason").unwrap()["type"], "text");
        assert_eq!(
            mapping(mappings, "source.geo.location").unwrap()["type"],
            "geo_point"
        );
    }

    #[test]
    fn the_elastic_layout_maps_every_field_of_the_elastic_fixtures() {
        let (name, template) = index_template_for(
            Flavor::Elasticsearch,
            "logs-okta.system-default",
            Layout::Elastic,
        );
        assert_eq!(name, "logs-okta.system");
        let mappings = &template["template"]["mappings"];
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/elastic");
        let whole = [
            "okta.target",
            "okta.request.ip_chain",
            "okta.debug_context.debug_data.flattened",
            "okta.device.device_integrator",
            "okta.actor.detail_entry",
            "source.geo.location",
            "client.geo.location",
        ];
        let mut checked = 0;
        let mut missing = std::collections::BTreeSet::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let mut paths = Vec::new();
            leaves("", &doc, &mut paths);
            for field in paths {
                let mapped = whole
                    .iter()
                    .find(|w| field == **w || field.starts_with(&format!("{w}.")))
                    .map_or(field.as_str(), |w| w);
                // debugData's direct copy is mapped by its dynamic template.
                let dynamic = field.starts_with("okta.debug_context.debug_data.");
                if mapping(mappings, mapped).is_none() && !dynamic {
                    missing.insert(field);
                }
                checked += 1;
            }
        }
        assert!(
            missing.is_empty(),
            "fields without an explicit mapping: {missing:?}"
        );
        assert!(checked > 100, "only {checked} fields checked");
        assert_eq!(mapping(mappings, "okta.client.ip").unwrap()["type"], "ip");
        assert_eq!(
            mapping(mappings, "okta.target").unwrap()["type"],
            "flattened"
        );
        for (i, kind) in ["string", "long", "double", "boolean"].iter().enumerate() {
            let template = mappings["dynamic_templates"][i]
                .as_object()
                .and_then(|t| t.values().next())
                .unwrap();
            assert_eq!(template["path_match"], "okta.debug_context.debug_data.*");
            assert_eq!(template["match_mapping_type"], *kind);
        }
        // The ECS layout's template is unchanged.
        assert_eq!(
            index_template(Flavor::Elasticsearch, "logs-okta.system-default"),
            index_template_for(
                Flavor::Elasticsearch,
                "logs-okta.system-default",
                Layout::Ecs
            )
        );
    }

    #[test]
    fn opensearch_gets_flat_object_and_plain_text() {
        let (_, template) = index_template(Flavor::OpenSearch, "logs-okta.system-default");
        let text = template.to_string();
        assert!(!text.contains("match_only_text") && !text.contains("flattened"));
        assert!(text.contains("flat_object"));
    }

    #[test]
    fn custom_index_names_give_their_own_pattern() {
        let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(
            template_name_and_pattern("logs-okta.system-prod"),
            pair("logs-okta.system", "logs-okta.system-*")
        );
        assert_eq!(
            template_name_and_pattern("okta-events"),
            pair("okta-events", "okta-events")
        );
        assert_eq!(template_name_and_pattern("okta"), pair("okta", "okta"));
    }
}

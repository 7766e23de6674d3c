//! Validates every OCSF golden (`fixtures/ocsf/*.json`) against the OCSF 1.8.0 schema subset
//! kept in `fixtures/ocsf-schema-1.8.0/` (see its README): the class exists and
//! `class_uid`/`category_uid` are its own; every attribute present is defined for the class
//! or, recursively, for its object; JSON types match the attribute types (string, integer,
//! long, timestamp, float, boolean, object, array); required attributes are present;
//! enumerated ids (`activity_id`, `severity_id`, `status_id`, every other `*_id` with an
//! enum) hold a defined value; `type_uid` is `class_uid * 100 + activity_id`; the classes' and
//! objects' constraints (`at_least_one`, `just_one`) hold.
//!
//! A compact schema compiler: classes and objects inherit attributes along `extends`
//! (child settings override, enums merge), every attribute takes its type and enum from
//! `dictionary.json` unless the class or object overrides them. Profiles are not compiled in.

use std::fs;

use serde_json::Value;

#[path = "support/ocsf_validator.rs"]
mod validator;

use validator::{files_under, read_json, root, Schema};

fn goldens() -> Vec<(String, Value)> {
    let dir = root().join("ocsf");
    let mut files = Vec::new();
    files_under(&dir, &mut files);
    files.sort();
    files
        .iter()
        .map(|p| {
            let name = p
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("?")
                .to_owned();
            (name, read_json(p))
        })
        .collect()
}

#[test]
fn every_ocsf_golden_validates_against_the_schema() {
    let schema = Schema::load();
    let goldens = goldens();
    let okta = fs::read_dir(root().join("okta"))
        .expect("fixtures/okta")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json"))
        })
        .count();
    assert_eq!(goldens.len(), okta, "one OCSF golden per Okta fixture");
    let mut failures = Vec::new();
    for (name, doc) in &goldens {
        for error in schema.validate(doc) {
            failures.push(format!("{name}: {error}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_kept_classes_are_the_ones_oktaflow_writes() {
    let schema = Schema::load();
    let uids: Vec<u64> = schema.classes.values().map(|(uid, _, _)| *uid).collect();
    for uid in [3001, 3002, 3003, 3004, 3005, 3006, 2004, 6003] {
        assert!(uids.contains(&uid), "class {uid} not kept: {uids:?}");
    }
    let auth = &schema.classes["authentication"].2;
    assert!(auth["user"].required && auth["metadata"].required && auth["time"].required);
    let activities = auth["activity_id"].enumeration.clone().unwrap_or_default();
    for id in ["0", "1", "2", "7", "99"] {
        assert!(activities.contains(&id.to_owned()), "{activities:?}");
    }
    // Finding status_id merges base_event's and the finding's own values.
    let finding = &schema.classes["detection_finding"].2;
    let status = finding["status_id"].enumeration.clone().unwrap_or_default();
    assert!(status.contains(&"99".to_owned()) && status.contains(&"6".to_owned()));
}

#[test]
fn the_validator_rejects_what_is_not_ocsf() {
    let schema = Schema::load();
    let (_, good) = goldens()
        .into_iter()
        .find(|(n, _)| n == "user_session_start_chrome_windows")
        .expect("the golden");
    assert!(schema.validate(&good).is_empty());
    let broken = |change: &dyn Fn(&mut Value)| {
        let mut doc = good.clone();
        change(&mut doc);
        schema.validate(&doc)
    };
    type Change<'c> = &'c dyn Fn(&mut Value);
    let cases: [(&str, Change<'_>); 11] = [
        ("unknown attribute", &|d| d["okta"] = Value::from(1)),
        ("nested unknown attribute", &|d| {
            d["user"]["nickname"] = "x".into()
        }),
        ("missing required", &|d| {
            d.as_object_mut().map(|m| m.remove("user"));
        }),
        ("required in object", &|d| {
            d["metadata"].as_object_mut().map(|m| m.remove("product"));
        }),
        ("wrong type", &|d| d["time"] = "2024-01-01".into()),
        ("bad enum", &|d| d["severity_id"] = 7.into()),
        ("bad activity", &|d| {
            d["activity_id"] = 8.into();
            d["type_uid"] = 300208.into();
        }),
        ("bad type_uid", &|d| d["type_uid"] = 300202.into()),
        ("constraint", &|d| {
            d["user"] = serde_json::json!({"type_id": 1})
        }),
        ("bad observable type", &|d| {
            d["observables"][0]["type_id"] = 98.into()
        }),
        ("array expected", &|d| {
            d["http_request"]["x_forwarded_for"] = "192.0.2.1".into()
        }),
    ];
    for (what, change) in cases {
        assert!(!broken(change).is_empty(), "{what} passed validation");
    }
    let mut unknown_class = good.clone();
    unknown_class["class_uid"] = 9999.into();
    assert!(!schema.validate(&unknown_class).is_empty());
}

/// The value at an observable's `name` (`evidences[0].src_endpoint.ip`).
fn at_path<'v>(doc: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.')
        .try_fold(doc, |v, part| match part.split_once('[') {
            Some((key, index)) => v
                .get(key)?
                .get(index.trim_end_matches(']').parse::<usize>().ok()?),
            None => v.get(part),
        })
}

#[test]
fn every_observable_names_the_attribute_holding_its_value() {
    let mut seen = 0;
    for (name, doc) in goldens() {
        for o in doc["observables"].as_array().into_iter().flatten() {
            let path = o["name"].as_str().expect("observable name");
            assert_eq!(
                at_path(&doc, path),
                Some(&o["value"]),
                "{name}: observable {path}"
            );
            seen += 1;
        }
    }
    assert!(seen > 100, "only {seen} observables in the goldens");
}

/// A snapshot knowing every user (actor and `User` targets) and device of `events`.
fn profiles_for(events: &[Value]) -> oktaflow_normalize::Profiles {
    use oktaflow_normalize::{DeviceProfile, UserProfile};
    use std::sync::Arc;
    let mut p = oktaflow_normalize::Profiles::new(true, true);
    p.version = 7;
    p.as_of = Some("2020-01-01T00:00:00Z".parse().expect("time"));
    let group: Arc<str> = Arc::from("Finance");
    let mut user_ids: Vec<&str> = Vec::new();
    for ev in events {
        user_ids.extend(ev["actor"]["id"].as_str());
        if let Some(targets) = ev["target"].as_array() {
            user_ids.extend(
                targets
                    .iter()
                    .filter(|t| t["type"] == "User")
                    .filter_map(|t| t["id"].as_str()),
            );
        }
        if let Some(id) = ev["device"]["id"].as_str() {
            p.insert_device(DeviceProfile {
                id: id.into(),
                name: Some("Jane's \"laptop\"".into()),
                platform: Some("WINDOWS".into()),
                model: Some("Latitude 7440".into()),
                manufacturer: Some("Dell".into()),
                os_version: Some("10.0.22631".into()),
                status: Some("ACTIVE".into()),
                managed: Some(true),
                registered: Some(true),
                users: vec!["00u1jane".into()],
                last_updated: Some("2019-12-01T00:00:00.000Z".into()),
            });
        }
    }
    for (i, id) in user_ids.into_iter().enumerate() {
        p.insert_user(UserProfile {
            id: id.into(),
            login: Some(format!("user{i}@example.com").into()),
            email: Some(format!("user{i}@example.com").into()),
            first_name: Some("Jane".into()),
            last_name: Some("Doe".into()),
            display_name: Some("Jane Doe".into()),
            status: Some(
                if i % 2 == 0 {
                    "ACTIVE"
                } else {
                    "DEPROVISIONED"
                }
                .into(),
            ),
            department: Some("Finance".into()),
            title: Some("Controller".into()),
            manager: Some("John Smith".into()),
            employee_number: Some("4711".into()),
            organization: Some("Acme".into()),
            last_updated: Some("2019-12-01T00:00:00.000Z".into()),
            groups: vec![group.clone(), Arc::from("Everyone")],
            roles: if i % 3 == 0 {
                vec![Arc::from("SUPER_ADMIN")]
            } else {
                Vec::new()
            },
        });
    }
    p
}

#[test]
fn enriched_ocsf_validates_against_the_schema() {
    // Every Okta fixture, normalized to OCSF with every actor, target user and device known
    // (groups, department, title, roles: what enrichment adds to `actor.user` and
    // `unmapped`), validates like the goldens.
    let schema = Schema::load();
    let mut files = Vec::new();
    files_under(&root().join("okta"), &mut files);
    files.retain(|p| p.extension().is_some_and(|x| x == "json"));
    files.sort();
    let events: Vec<Value> = files.iter().map(|p| read_json(p)).collect();
    let profiles = std::sync::Arc::new(profiles_for(&events));
    let mut n = oktaflow_normalize::Normalizer::new(oktaflow_normalize::Options {
        profiles: Some(profiles),
        ..oktaflow_normalize::Options::default()
    });
    let mut failures = Vec::new();
    let mut enriched_actors = 0;
    for (path, event) in files.iter().zip(&events) {
        let doc = n
            .normalize_ocsf_value(event.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if doc["actor"]["user"]["groups"].is_array() {
            enriched_actors += 1;
        }
        assert!(
            doc["unmapped"]["okta_profile"]["enrichment"]["version"] == 7,
            "{}: no enrichment stamp",
            path.display()
        );
        for error in schema.validate(&doc) {
            failures.push(format!("{}: {error}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        enriched_actors * 2 > files.len(),
        "only {enriched_actors} of {} documents got the actor's profile",
        files.len()
    );
}

//! Identity enrichment: user and device profiles joined onto ECS and OCSF documents.

use std::sync::Arc;

use oktaflow_normalize::{DeviceProfile, Normalizer, Options, Profiles, UserProfile};
use serde_json::{json, Value};

fn profiles() -> Arc<Profiles> {
    let mut p = Profiles::new(true, true);
    p.version = 3;
    p.as_of = Some("2024-05-01T09:00:00Z".parse().expect("time"));
    let finance: Arc<str> = Arc::from("Finance");
    p.insert_user(UserProfile {
        id: "00u1jane".into(),
        login: Some("jane.doe@example.com".into()),
        email: Some("jane.doe@example.com".into()),
        first_name: Some("Jane".into()),
        last_name: Some("Doe".into()),
        display_name: Some("Jane Doe".into()),
        status: Some("ACTIVE".into()),
        department: Some("Finance".into()),
        title: Some("Controller".into()),
        manager: Some("John Smith".into()),
        employee_number: Some("4711".into()),
        organization: Some("Acme".into()),
        last_updated: Some("2024-04-30T08:00:00.000Z".into()),
        groups: vec![finance, Arc::from("Everyone")],
        roles: vec![Arc::from("SUPER_ADMIN")],
    });
    p.insert_device(DeviceProfile {
        id: "guo1laptop".into(),
        name: Some("Jane's laptop".into()),
        platform: Some("WINDOWS".into()),
        model: Some("Latitude 7440".into()),
        manufacturer: Some("Dell".into()),
        os_version: Some("10.0.22631".into()),
        status: Some("ACTIVE".into()),
        managed: Some(false),
        registered: Some(true),
        users: vec!["00u1jane".into()],
        last_updated: None,
    });
    Arc::new(p)
}

const LOGIN: &str = r#"{"uuid":"e1","published":"2024-05-01T10:00:00Z","eventType":"user.session.start",
  "actor":{"id":"00u1jane","type":"User","alternateId":"jane.doe@example.com","displayName":"Jane Doe"},
  "device":{"id":"guo1laptop","name":"laptop"},
  "target":[{"id":"00u2nobody","type":"User","alternateId":"x@example.com"}],
  "outcome":{"result":"SUCCESS"}}"#;

#[test]
fn ecs_document_carries_the_profiles() {
    let mut n = Normalizer::new(Options {
        profiles: Some(profiles()),
        ..Options::default()
    });
    let doc = n.normalize_value(LOGIN.as_bytes()).expect("normalizes");
    assert_eq!(doc["user"]["roles"], json!(["SUPER_ADMIN"]));
    assert_eq!(doc["user"]["group"]["name"], json!(["Finance", "Everyone"]));
    let actor = &doc["okta"]["profile"]["actor"];
    assert_eq!(actor["known"], true);
    assert_eq!(actor["department"], "Finance");
    assert_eq!(actor["status"], "ACTIVE");
    assert_eq!(actor["privileged"], true);
    assert_eq!(actor["manager"], "John Smith");
    // The target is not in the store: the document says so.
    assert_eq!(doc["okta"]["profile"]["target"], json!({"known": false}));
    assert_eq!(doc["device"]["manufacturer"], "Dell");
    assert_eq!(doc["device"]["model"]["identifier"], "Latitude 7440");
    assert_eq!(doc["okta"]["profile"]["device"]["managed"], false);
    assert_eq!(
        doc["okta"]["enrichment"],
        json!({"version": 3, "as_of": "2024-05-01T09:00:00.000Z", "age_s": 3600})
    );
}

#[test]
fn ocsf_event_carries_the_profiles() {
    let mut n = Normalizer::new(Options {
        profiles: Some(profiles()),
        ..Options::default()
    });
    let doc = n
        .normalize_ocsf_value(LOGIN.as_bytes())
        .expect("normalizes");
    let user = &doc["actor"]["user"];
    assert_eq!(user["groups"][0]["name"], "Finance");
    assert_eq!(user["org"]["ou_name"], "Finance");
    assert_eq!(user["ldap_person"]["job_title"], "Controller");
    let profile = &doc["unmapped"]["okta_profile"];
    assert_eq!(profile["actor"]["roles"], json!(["SUPER_ADMIN"]));
    assert_eq!(profile["target"]["known"], false);
    assert_eq!(profile["device"]["platform"], "WINDOWS");
    assert_eq!(profile["enrichment"]["version"], 3);
}

#[test]
fn without_profiles_nothing_is_added() {
    let plain: Value = Normalizer::default()
        .normalize_value(LOGIN.as_bytes())
        .expect("normalizes");
    assert!(plain["okta"].get("profile").is_none());
    assert!(plain["okta"].get("enrichment").is_none());
    assert!(plain["user"].get("roles").is_none());
    // Users off: no user field, devices still joined.
    let mut p = (*profiles()).clone();
    p.users_enabled = false;
    let mut n = Normalizer::default();
    n.set_profiles(Some(Arc::new(p)));
    let doc = n.normalize_value(LOGIN.as_bytes()).expect("normalizes");
    assert!(doc["okta"]["profile"].get("actor").is_none());
    assert_eq!(doc["okta"]["profile"]["device"]["known"], true);
}

#[test]
fn elastic_document_carries_the_profiles() {
    let mut n = Normalizer::new(Options {
        profiles: Some(profiles()),
        schema: oktaflow_normalize::Schema::Elastic,
        ..Options::default()
    });
    let doc = n.normalize_value(LOGIN.as_bytes()).expect("normalizes");
    assert_eq!(doc["user"]["roles"], json!(["SUPER_ADMIN"]));
    assert_eq!(doc["user"]["group"]["name"], json!(["Finance", "Everyone"]));
    assert_eq!(doc["okta"]["profile"]["actor"]["department"], "Finance");
    assert_eq!(doc["okta"]["profile"]["target"]["known"], false);
    assert_eq!(doc["device"]["manufacturer"], "Dell");
    assert_eq!(doc["okta"]["enrichment"]["version"], 3);
    // Okta's own device object stays where Elastic keeps it.
    assert_eq!(doc["okta"]["device"]["id"], "guo1laptop");
}

/// An admin grants a role to two users and adds a group: three targets, two of them users
/// (one known, one not), in between a group.
const TWO_TARGET_USERS: &str = r#"{"uuid":"e2","published":"2024-05-01T10:00:00Z","eventType":"user.account.privilege.grant",
  "actor":{"id":"00u2nobody","type":"User","alternateId":"admin@example.com"},
  "target":[{"id":"00u9gone","type":"User","alternateId":"gone@example.com"},
            {"id":"00g1finance","type":"UserGroup","displayName":"Finance"},
            {"id":"00u1jane","type":"User","alternateId":"jane.doe@example.com"}],
  "outcome":{"result":"SUCCESS"}}"#;

/// Every schema: `target` is the first User target, `targets` every User target in order.
fn assert_every_target_user(profile: &Value) {
    assert_eq!(profile["actor"], json!({"known": false}));
    assert_eq!(profile["target"], json!({"known": false}));
    let targets = profile["targets"].as_array().expect("targets is an array");
    assert_eq!(targets.len(), 2, "{profile}");
    assert_eq!(targets[0], json!({"known": false}));
    assert_eq!(targets[1]["known"], true);
    assert_eq!(targets[1]["id"], "00u1jane");
    assert_eq!(targets[1]["department"], "Finance");
    assert_eq!(targets[1]["roles"], json!(["SUPER_ADMIN"]));
    assert_eq!(targets[1]["privileged"], true);
}

#[test]
fn every_target_user_is_joined_in_every_schema() {
    for schema in [
        oktaflow_normalize::Schema::Ecs,
        oktaflow_normalize::Schema::Elastic,
    ] {
        let mut n = Normalizer::new(Options {
            profiles: Some(profiles()),
            schema,
            ..Options::default()
        });
        let doc = n
            .normalize_value(TWO_TARGET_USERS.as_bytes())
            .expect("normalizes");
        assert_every_target_user(&doc["okta"]["profile"]);
    }
    let mut n = Normalizer::new(Options {
        profiles: Some(profiles()),
        ..Options::default()
    });
    let doc = n
        .normalize_ocsf_value(TWO_TARGET_USERS.as_bytes())
        .expect("normalizes");
    assert_every_target_user(&doc["unmapped"]["okta_profile"]);
    // One User target: `targets` holds it too (the same object as `target`).
    let doc = n.normalize_value(LOGIN.as_bytes()).expect("normalizes");
    assert_eq!(
        doc["okta"]["profile"]["targets"],
        json!([doc["okta"]["profile"]["target"]])
    );
    // No User target: no `targets`.
    let no_target = LOGIN.replace(
        r#""type":"User","alternateId":"x@"#,
        r#""type":"AppUser","alternateId":"x@"#,
    );
    let doc = n.normalize_value(no_target.as_bytes()).expect("normalizes");
    assert!(doc["okta"]["profile"].get("targets").is_none(), "{doc}");
}

#[test]
fn a_profile_is_written_the_same_every_time() {
    // The first document renders a profile's details once; later ones copy that text: the
    // bytes must not change, whichever schema or position (actor, target, targets) used it.
    let profiles = profiles();
    let mut n = Normalizer::new(Options {
        profiles: Some(profiles.clone()),
        ..Options::default()
    });
    let first = n.normalize_value(LOGIN.as_bytes()).expect("normalizes");
    let again = n.normalize_value(LOGIN.as_bytes()).expect("normalizes");
    assert_eq!(first, again);
    let as_target = n
        .normalize_value(TWO_TARGET_USERS.as_bytes())
        .expect("normalizes");
    assert_eq!(
        first["okta"]["profile"]["actor"],
        as_target["okta"]["profile"]["targets"][1]
    );
    // A fresh snapshot (nothing rendered yet) writes the same document, byte for byte.
    let mut fresh = Normalizer::new(Options {
        profiles: Some(Arc::new((*profiles).clone())),
        ..Options::default()
    });
    let mut a = Vec::new();
    let mut b = Vec::new();
    n.normalize_into(LOGIN.as_bytes(), &mut a)
        .expect("normalizes");
    fresh
        .normalize_into(LOGIN.as_bytes(), &mut b)
        .expect("normalizes");
    assert_eq!(String::from_utf8_lossy(&a), String::from_utf8_lossy(&b));
}

#[test]
fn a_restamped_copy_writes_its_own_as_of() {
    // The sync republishes unchanged profiles with a new version and time (a clone): the
    // stamp formatted for the old snapshot must not leak into the new one.
    let old = profiles();
    let mut n = Normalizer::new(Options {
        profiles: Some(old.clone()),
        ..Options::default()
    });
    let doc = n.normalize_value(LOGIN.as_bytes()).expect("normalizes");
    assert_eq!(
        doc["okta"]["enrichment"]["as_of"],
        "2024-05-01T09:00:00.000Z"
    );
    let mut new = (*old).clone();
    new.version = 4;
    new.as_of = Some("2024-05-01T09:30:00Z".parse().expect("time"));
    n.set_profiles(Some(Arc::new(new)));
    let doc = n.normalize_value(LOGIN.as_bytes()).expect("normalizes");
    assert_eq!(
        doc["okta"]["enrichment"],
        json!({"version": 4, "as_of": "2024-05-01T09:30:00.000Z", "age_s": 1800})
    );
}

/// One parse written in several schemas (sinks with their own `schema`): the profiles are
/// joined in each, exactly as a normalizer of that schema joins them.
#[test]
fn every_schema_of_one_parse_carries_the_profiles() {
    use oktaflow_normalize::Schema;
    let mut each = Normalizer::new(Options {
        profiles: Some(profiles()),
        ..Options::default()
    });
    let (mut ecs, mut ocsf, mut elastic) = (Vec::new(), Vec::new(), Vec::new());
    let results = each
        .normalize_each_into(
            LOGIN.as_bytes(),
            None,
            &mut [
                (Schema::Ecs, &mut ecs),
                (Schema::Ocsf, &mut ocsf),
                (Schema::Elastic, &mut elastic),
            ],
        )
        .expect("an event");
    assert!(results.iter().all(Result::is_ok));
    for (schema, out) in [
        (Schema::Ecs, &ecs),
        (Schema::Ocsf, &ocsf),
        (Schema::Elastic, &elastic),
    ] {
        let mut alone = Normalizer::new(Options {
            profiles: Some(profiles()),
            schema,
            ..Options::default()
        });
        let mut expected = Vec::new();
        alone
            .normalize_into(LOGIN.as_bytes(), &mut expected)
            .expect("normalizes");
        assert_eq!(out, &expected, "{schema}");
    }
    let ecs: Value = serde_json::from_slice(&ecs).expect("JSON");
    assert_eq!(ecs["okta"]["profile"]["actor"]["department"], "Finance");
    let ocsf = String::from_utf8(ocsf).expect("UTF-8");
    assert!(
        ocsf.contains("Finance") && ocsf.contains("SUPER_ADMIN"),
        "{ocsf}"
    );
}

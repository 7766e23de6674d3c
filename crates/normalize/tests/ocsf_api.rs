//! The OCSF entry points of `Normalizer` (`normalize_ocsf_into`, `normalize_ocsf_value`):
//! appending, the summary, the fetch-time fallback, `raw_data`. The expected OCSF event of
//! every fixture is compared by `tests/golden.rs` (`fixtures/ocsf/`, one of `Schema::ALL`)
//! and validated against the OCSF 1.8.0 schema by `tests/ocsf_schema.rs`.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use oktaflow_normalize::Normalizer;
use serde_json::Value;

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn okta_dir() -> PathBuf {
    fixtures_root().join("okta")
}

fn json_stems(dir: &Path) -> BTreeSet<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return BTreeSet::new();
    };
    entries
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            if path.extension()? != "json" {
                return None;
            }
            Some(path.file_stem()?.to_str()?.to_owned())
        })
        .collect()
}

fn fixture_names() -> BTreeSet<String> {
    let names = json_stems(&okta_dir());
    assert!(!names.is_empty(), "no fixtures in {}", okta_dir().display());
    names
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

#[test]
fn normalize_ocsf_into_appends_one_compact_document_and_a_matching_summary() {
    const PREFIX: &[u8] = b"previous\n";
    let mut normalizer = Normalizer::default();
    for name in fixture_names() {
        let raw = read(&okta_dir().join(format!("{name}.json")));
        let mut out = PREFIX.to_vec();
        let summary = normalizer
            .normalize_ocsf_into(&raw, None, &mut out)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(out.starts_with(PREFIX), "{name}: changed what out held");
        let appended = &out[PREFIX.len()..];
        assert!(!appended.contains(&b'\n'), "{name}: not one compact line");
        let doc: Value = serde_json::from_slice(appended).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(doc["metadata"]["uid"], summary.id.as_str(), "{name}");
        assert_eq!(
            doc["time"].as_i64(),
            Some(summary.published.timestamp_millis()),
            "{name}"
        );
        // The ECS summary of the same event says the same.
        let ecs = normalizer
            .normalize_into(&raw, &mut Vec::new())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(ecs, summary, "{name}");
        // A failing input leaves `out` as it was.
        let before = out.clone();
        assert!(normalizer
            .normalize_ocsf_into(b"{\"uuid\":\"x\"}", None, &mut out)
            .is_err());
        assert_eq!(out, before);
    }
}

#[test]
fn an_unparsable_published_falls_back_to_the_fetch_time_and_is_marked() {
    let fetched: chrono::DateTime<chrono::Utc> =
        "2024-05-01T10:00:05.123456Z".parse().expect("a time");
    let event = br#"{"uuid":"u4","published":"01/05/2024 10:00","eventType":"system.idp.lifecycle.create"}"#;
    let mut normalizer = Normalizer::default();
    let mut out = Vec::new();
    assert!(normalizer
        .normalize_ocsf_into(event, None, &mut out)
        .is_err());
    assert!(out.is_empty());
    let summary = normalizer
        .normalize_ocsf_into(event, Some(fetched), &mut out)
        .expect("kept with the fetch time");
    assert!(summary.published_fallback);
    let doc: Value = serde_json::from_slice(&out).expect("JSON");
    assert_eq!(doc["time"], fetched.timestamp_millis());
    assert_eq!(doc["metadata"]["original_time"], "01/05/2024 10:00");
    assert_eq!(
        doc["metadata"]["labels"],
        serde_json::json!([oktaflow_normalize::PUBLISHED_UNPARSABLE_TAG])
    );
    // A usable `published` is the time, unmarked, whatever the fetch time.
    let good =
        br#"{"uuid":"u6","published":"2024-05-01T09:00:00.250Z","eventType":"user.session.start"}"#;
    let mut out = Vec::new();
    let summary = normalizer
        .normalize_ocsf_into(good, Some(fetched), &mut out)
        .expect("maps");
    assert!(!summary.published_fallback);
    let doc: Value = serde_json::from_slice(&out).expect("JSON");
    assert_eq!(doc["time"], 1_714_554_000_250_i64);
    assert!(doc["metadata"].get("labels").is_none());
}

#[test]
fn the_raw_event_is_raw_data_when_asked_for() {
    let event =
        r#"{"uuid":"u7","published":"2024-05-01T09:00:00Z","eventType":"user.session.end"}"#;
    let mut normalizer = Normalizer::new(oktaflow_normalize::Options {
        include_original: true,
        ..Default::default()
    });
    let doc = normalizer
        .normalize_ocsf_value(event.as_bytes())
        .expect("maps");
    assert_eq!(doc["raw_data"], event);
    let doc = Normalizer::default()
        .normalize_ocsf_value(event.as_bytes())
        .expect("maps");
    assert!(doc.get("raw_data").is_none());
    // Without an actor, the required user is there, of type Unknown, named as Okta names
    // users it could not identify (OCSF wants a name or uid).
    assert_eq!(
        doc["user"],
        serde_json::json!({"name": "unknown", "type_id": 0})
    );
    assert_eq!(doc["class_uid"], 3002);
    assert_eq!(doc["type_uid"], 300202);
}

#[test]
fn a_client_without_an_address_has_no_src_endpoint_and_keeps_its_members_unmapped() {
    // A sign-in (Authentication: src_endpoint optional) whose client has no address and no
    // domain: OCSF's `at_least_one` on network_endpoint cannot hold, so the object is left
    // out and what it would have carried stays under `unmapped`, by its Okta name.
    let event = br#"{"uuid":"u9","published":"2024-05-01T09:00:00Z","eventType":"user.session.start",
        "actor":{"id":"00u1","type":"User","alternateId":"a@example.com"},
        "client":{"ipAddress":null,"zone":"LAN","device":"Computer",
          "geographicalContext":{"city":"Oslo","state":"Oslo","country":"Norway","postalCode":"0150",
            "geolocation":{"lat":59.9,"lon":10.7}}},
        "securityContext":{"asNumber":2119,"asOrg":"telenor","isp":"Telenor","domain":null}}"#;
    let mut out = Vec::new();
    Normalizer::default()
        .normalize_ocsf_into(event, None, &mut out)
        .expect("maps");
    let doc: Value = serde_json::from_slice(&out).expect("JSON");
    assert_eq!(doc["class_uid"], 3002, "Authentication");
    assert!(doc.get("src_endpoint").is_none(), "{doc}");
    let client = &doc["unmapped"]["client"];
    assert_eq!(client["zone"], "LAN");
    assert_eq!(client["device"], "Computer");
    let geo = &client["geographicalContext"];
    assert_eq!(geo["city"], "Oslo");
    assert_eq!(geo["state"], "Oslo");
    assert_eq!(geo["postalCode"], "0150");
    assert_eq!(geo["country"], "Norway");
    assert_eq!(geo["geolocation"]["lat"], 59.9);
    assert_eq!(geo["geolocation"]["lon"], 10.7);
    let security = &doc["unmapped"]["securityContext"];
    assert_eq!(security["asNumber"], 2119);
    assert_eq!(security["asOrg"], "telenor");
    assert_eq!(security["isp"], "Telenor");

    // With an address, the same members are src_endpoint's, not unmapped.
    let with_ip =
        String::from_utf8_lossy(event).replace(r#""ipAddress":null"#, r#""ipAddress":"192.0.2.7""#);
    let mut out = Vec::new();
    Normalizer::default()
        .normalize_ocsf_into(with_ip.as_bytes(), None, &mut out)
        .expect("maps");
    let doc: Value = serde_json::from_slice(&out).expect("JSON");
    assert_eq!(doc["src_endpoint"]["ip"], "192.0.2.7");
    assert_eq!(doc["src_endpoint"]["location"]["city"], "Oslo");
    assert_eq!(doc["src_endpoint"]["isp"], "Telenor");
    assert!(doc["unmapped"]["client"].get("device").is_none());
    assert!(doc["unmapped"]["securityContext"].get("isp").is_none());
}

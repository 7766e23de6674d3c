//! MaxMind enrichment of the OCSF `src_endpoint` (tiny databases from `support::mmdb`).

mod support;

#[path = "support/ocsf_validator.rs"]
mod validator;

use std::net::Ipv4Addr;

use oktaflow_normalize::{GeoIp, Normalizer, Options};
use serde_json::{json, Value};
use support::mmdb::{build, map, s, V};

fn normalizer() -> Normalizer {
    let city = map(vec![
        ("city", map(vec![("names", map(vec![("en", s("London"))]))])),
        (
            "continent",
            map(vec![("names", map(vec![("en", s("Europe"))]))]),
        ),
        (
            "country",
            map(vec![
                ("iso_code", s("GB")),
                ("names", map(vec![("en", s("United Kingdom"))])),
            ]),
        ),
        (
            "location",
            map(vec![
                ("latitude", V::F64(51.5142)),
                ("longitude", V::F64(-0.0931)),
            ]),
        ),
    ]);
    let asn = map(vec![
        ("autonomous_system_number", V::U32(64500)),
        ("autonomous_system_organization", s("Example Transit")),
    ]);
    let geoip = GeoIp::from_bytes(
        Some(build(
            "GeoLite2-City",
            &[(Ipv4Addr::new(81, 2, 69, 0), 24, city)],
        )),
        Some(build(
            "GeoLite2-ASN",
            &[(Ipv4Addr::new(81, 2, 0, 0), 16, asn)],
        )),
    )
    .expect("test databases are valid");
    Normalizer::new(Options {
        geoip: Some(geoip),
        ..Options::default()
    })
}

fn event(geo: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "uuid": "9f0c7e52-1111-4a4b-8c8c-000000000002",
        "published": "2024-03-01T08:00:00.000Z",
        "eventType": "user.session.start",
        "client": {"ipAddress": "81.2.69.160", "geographicalContext": geo},
    }))
    .expect("serializable")
}

#[test]
fn geoip_fills_the_location_okta_left_empty_and_the_iso_country() {
    let doc = normalizer()
        .normalize_ocsf_value(&event(Value::Null))
        .expect("maps");
    assert_eq!(
        doc["src_endpoint"]["location"],
        json!({"city": "London", "country": "GB", "continent": "Europe",
               "lat": 51.5142, "long": -0.0931})
    );
    assert_eq!(
        doc["src_endpoint"]["autonomous_system"],
        json!({"number": 64500, "name": "Example Transit"})
    );
    assert!(validator::Schema::load().validate(&doc).is_empty(), "{doc}");
}

#[test]
fn okta_values_win_and_its_country_name_stays_unmapped() {
    let doc = normalizer()
        .normalize_ocsf_value(&event(json!({
            "city": "Paris", "country": "France", "geolocation": {"lat": 48.85, "lon": 2.35}
        })))
        .expect("maps");
    let location = &doc["src_endpoint"]["location"];
    assert_eq!(location["city"], "Paris");
    assert_eq!(location["lat"], 48.85);
    // OCSF's country is the ISO code, which only GeoIP has.
    assert_eq!(location["country"], "GB");
    assert_eq!(
        doc["unmapped"]["client"]["geographicalContext"]["country"],
        "France"
    );
}

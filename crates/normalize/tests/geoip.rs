//! MaxMind enrichment against tiny databases written by `support::mmdb`.

mod support;

use std::net::Ipv4Addr;

use oktaflow_normalize::{GeoIp, GeoIpError, Normalizer, Options};
use serde_json::{json, Value};
use support::mmdb::{build, map, s, V};

fn city_db() -> Vec<u8> {
    let london = map(vec![
        ("city", map(vec![("names", map(vec![("en", s("London"))]))])),
        (
            "continent",
            map(vec![
                ("code", s("EU")),
                ("names", map(vec![("en", s("Europe"))])),
            ]),
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
                ("time_zone", s("Europe/London")),
            ]),
        ),
        ("postal", map(vec![("code", s("EC2V"))])),
        (
            "subdivisions",
            V::Arr(vec![map(vec![("names", map(vec![("en", s("England"))]))])]),
        ),
    ]);
    build(
        "GeoLite2-City",
        &[(Ipv4Addr::new(81, 2, 69, 0), 24, london)],
    )
}

fn asn_db() -> Vec<u8> {
    let asn = map(vec![
        ("autonomous_system_number", V::U32(64500)),
        ("autonomous_system_organization", s("Example Transit")),
    ]);
    build("GeoLite2-ASN", &[(Ipv4Addr::new(81, 2, 0, 0), 16, asn)])
}

fn normalizer() -> Normalizer {
    let geoip =
        GeoIp::from_bytes(Some(city_db()), Some(asn_db())).expect("test databases are valid");
    Normalizer::new(Options {
        geoip: Some(geoip),
        ..Options::default()
    })
}

fn event(client: Value, security: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "uuid": "9f0c7e52-1111-4a4b-8c8c-000000000001",
        "published": "2024-03-01T08:00:00.000Z",
        "eventType": "user.session.start",
        "client": client,
        "securityContext": security,
    }))
    .expect("serializable")
}

#[test]
fn fills_what_okta_left_empty() {
    let doc = normalizer()
        .normalize_value(&event(
            json!({"ipAddress": "81.2.69.160", "geographicalContext": null}),
            json!({"asNumber": null, "asOrg": null}),
        ))
        .expect("valid event");
    assert_eq!(
        doc["source"]["geo"],
        json!({
            "city_name": "London",
            "region_name": "England",
            "country_name": "United Kingdom",
            "country_iso_code": "GB",
            "continent_name": "Europe",
            "timezone": "Europe/London",
            "postal_code": "EC2V",
            "location": {"lat": 51.5142, "lon": -0.0931}
        })
    );
    assert_eq!(
        doc["source"]["as"],
        json!({"number": 64500, "organization": {"name": "Example Transit"}})
    );
}

#[test]
fn never_overrides_okta_values() {
    let doc = normalizer()
        .normalize_value(&event(
            json!({"ipAddress": "81.2.69.160", "geographicalContext": {
                "city": "Paris", "state": "Ile-de-France", "country": "France", "postalCode": "75000",
                "geolocation": {"lat": 48.85, "lon": 2.35}}}),
            json!({"asNumber": 3741, "asOrg": "Easttel"}),
        ))
        .expect("valid event");
    let geo = &doc["source"]["geo"];
    assert_eq!(geo["city_name"], "Paris");
    assert_eq!(geo["region_name"], "Ile-de-France");
    assert_eq!(geo["country_name"], "France");
    assert_eq!(geo["postal_code"], "75000");
    assert_eq!(geo["location"], json!({"lat": 48.85, "lon": 2.35}));
    // Okta has no ISO code, continent or time zone: those always come from MaxMind.
    assert_eq!(geo["country_iso_code"], "GB");
    assert_eq!(geo["continent_name"], "Europe");
    assert_eq!(geo["timezone"], "Europe/London");
    assert_eq!(
        doc["source"]["as"],
        json!({"number": 3741, "organization": {"name": "Easttel"}})
    );
}

#[test]
fn addresses_outside_the_databases_get_nothing() {
    let doc = normalizer()
        .normalize_value(&event(json!({"ipAddress": "192.0.2.1"}), json!({})))
        .expect("valid event");
    assert_eq!(
        doc["source"],
        json!({"ip": "192.0.2.1", "address": "192.0.2.1"})
    );
    let no_ip = normalizer()
        .normalize_value(&event(json!({"ipAddress": "not-an-ip"}), json!({})))
        .expect("valid event");
    assert!(no_ip["source"].get("geo").is_none());
    assert_eq!(no_ip["okta"]["system"]["client"]["ip_address"], "not-an-ip");
}

#[test]
fn one_database_is_enough() {
    let geoip = GeoIp::from_bytes(None, Some(asn_db())).expect("valid ASN database");
    let mut n = Normalizer::new(Options {
        geoip: Some(geoip),
        ..Options::default()
    });
    let doc = n
        .normalize_value(&event(json!({"ipAddress": "81.2.1.1"}), json!({})))
        .expect("valid event");
    assert_eq!(doc["source"]["as"]["number"], 64500);
    assert!(doc["source"].get("geo").is_none());
}

#[test]
fn bad_databases_are_refused_with_a_reason() {
    assert!(matches!(
        GeoIp::from_bytes(None, None),
        Err(GeoIpError::NoDatabase)
    ));
    let err = GeoIp::from_bytes(Some(b"not a database".to_vec()), None).expect_err("garbage");
    assert!(matches!(
        err,
        GeoIpError::InvalidDatabase { which: "city", .. }
    ));
    assert!(err.to_string().contains("city"), "{err}");
}

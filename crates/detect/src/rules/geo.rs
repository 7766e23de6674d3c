//! `okta.geo_improbable_access`: two successful sign-ins (`user.session.start`, SUCCESS) of one
//! user (actor `alternateId`) whose Okta geolocations
//! (`client.geographicalContext.geolocation`) imply a speed above `max_speed_kmh`: the
//! great-circle distance over the time between them (at least one second). The first sign-in
//! ever seen for a user raises nothing; every sign-in with a location becomes the user's last
//! known location. Sign-ins without coordinates are skipped (they neither alert nor move the
//! user).
//!
//! The alert id: rule, user, the previous and the current sign-in.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::GEO_IMPROBABLE_ACCESS;
use crate::alert::{build, Alert, Firing, Severity, Trigger};
use crate::config::GeoConfig;
use crate::event::{EventView, GeoPoint};
use crate::json_out::{write_f64, write_i64, write_name, write_str, WriteJson};
use crate::state::{Keyed, LastSeen};

/// Mean earth radius (km), as the haversine formula uses it.
const EARTH_RADIUS_KM: f64 = 6371.0;

/// A user's last known sign-in. Saved with short names; version 1's long names are read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct LastLogin {
    #[serde(rename = "t", alias = "ts")]
    ts: i64,
    #[serde(rename = "i", alias = "id")]
    id: String,
    lat: f64,
    lon: f64,
    #[serde(
        rename = "c",
        alias = "city",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    city: Option<String>,
    #[serde(
        rename = "k",
        alias = "country",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ip: Option<String>,
}

impl WriteJson for LastLogin {
    /// `{"t":n,"i":"id","lat":x,"lon":y,"c":"…","k":"…","ip":"…"}`, the optional ones left
    /// out as serde does.
    fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        write_name(out, "t");
        write_i64(out, self.ts);
        out.push(b',');
        write_name(out, "i");
        write_str(out, &self.id);
        out.push(b',');
        write_name(out, "lat");
        write_f64(out, self.lat);
        out.push(b',');
        write_name(out, "lon");
        write_f64(out, self.lon);
        for (name, value) in [("c", &self.city), ("k", &self.country), ("ip", &self.ip)] {
            if let Some(value) = value {
                out.push(b',');
                write_name(out, name);
                write_str(out, value);
            }
        }
        out.push(b'}');
    }
}

impl LastSeen for LastLogin {
    fn last_seen(&self) -> i64 {
        self.ts
    }
}

pub(crate) struct GeoImprobable {
    max_speed_kmh: f64,
    min_distance_km: f64,
    max_keys: usize,
    pub(crate) keys: Keyed<LastLogin>,
    pub(crate) evicted: u64,
}

/// Great-circle distance between two points (haversine), km.
pub fn distance_km(a: GeoPoint, b: GeoPoint) -> f64 {
    let (lat1, lat2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

impl GeoImprobable {
    pub(crate) fn new(config: &GeoConfig, max_keys: usize) -> Self {
        GeoImprobable {
            max_speed_kmh: config.max_speed_kmh,
            min_distance_km: config.min_distance_km,
            max_keys,
            keys: Keyed::default(),
            evicted: 0,
        }
    }

    /// How long a last sign-in can matter: past the time it takes to go half around the
    /// earth at `max_speed_kmh`, no next sign-in can be improbable, and one is then as good as
    /// a first sign-in (it raises nothing and becomes the last known one).
    pub(crate) fn horizon_ms(&self) -> i64 {
        let hours = std::f64::consts::PI * EARTH_RADIUS_KM / self.max_speed_kmh;
        // A second more, for rounding; at least a second (sign-ins in the same second).
        let ms = (hours * 3_600_000.0).ceil() + 1_000.0;
        if ms.is_finite() && ms < i64::MAX as f64 {
            ms as i64
        } else {
            i64::MAX
        }
    }

    /// Whether an event of `event_type` can concern the rule (the only type it reads).
    pub(crate) fn reads(&self, event_type: &str) -> bool {
        event_type == "user.session.start"
    }

    pub(crate) fn observe(&mut self, event: &EventView<'_>, out: &mut Vec<Alert>) {
        let f = event.facts();
        if !self.reads(&f.event_type) || !f.outcome_is("SUCCESS") {
            return;
        }
        let (Some(user), Some(here)) = (f.actor_key(), f.geo_point) else {
            return;
        };
        let ts = f.published_ms;
        let current = LastLogin {
            ts,
            id: f.uuid.to_string(),
            lat: here.lat,
            lon: here.lon,
            city: f.geo_city.as_deref().map(str::to_owned),
            country: f.geo_country.as_deref().map(str::to_owned),
            ip: f.client_ip.as_deref().map(str::to_owned),
        };
        if !self.keys.contains(&user) {
            // The first sign-in seen for this user: remember it, raise nothing.
            self.keys
                .entry(&user, self.max_keys, &mut self.evicted, || current);
            return;
        }
        let Some(mut previous) = self.keys.get_mut(&user) else {
            return;
        };
        // A late sign-in replaces a later one: the key's last-seen time may go down (the
        // expiry schedule follows when `previous` is dropped).
        let prev = std::mem::replace(&mut *previous, current);
        let there = GeoPoint {
            lat: prev.lat,
            lon: prev.lon,
        };
        let km = distance_km(there, here);
        // At least one second apart: two sign-ins in the same millisecond are not infinitely fast.
        let hours = ((ts - prev.ts).abs().max(1_000)) as f64 / 3_600_000.0;
        let speed = km / hours;
        if km < self.min_distance_km || speed <= self.max_speed_kmh {
            return;
        }
        let place = |city: Option<&str>, country: Option<&str>| match (city, country) {
            (Some(c), Some(k)) => format!("{c}, {k}"),
            (Some(c), None) => c.to_owned(),
            (None, Some(k)) => k.to_owned(),
            (None, None) => "unknown place".to_owned(),
        };
        let from = place(prev.city.as_deref(), prev.country.as_deref());
        let to = place(f.geo_city.as_deref(), f.geo_country.as_deref());
        let window = format!("{}/{}/{}/{}", prev.ts, prev.id, ts, f.uuid);
        out.push(build(Firing {
            rule: GEO_IMPROBABLE_ACCESS,
            severity: Severity::High,
            group: user.clone(),
            window,
            event,
            message: format!(
                "{user} signed in from {from} then {to}: {km:.0} km in {:.1} h ({speed:.0} km/h)",
                hours
            ),
            details: json!({
                "distance_km": (km * 10.0).round() / 10.0,
                "hours": hours,
                "speed_kmh": speed.round(),
                "previous": {
                    "@timestamp": crate::event::format_ms(prev.ts),
                    "event_id": prev.id,
                    "ip": prev.ip,
                    "city_name": prev.city,
                    "country_name": prev.country,
                    "location": { "lat": prev.lat, "lon": prev.lon },
                },
            }),
            triggers: vec![
                Trigger {
                    ts: prev.ts,
                    id: prev.id.clone(),
                },
                Trigger {
                    ts,
                    id: f.uuid.to_string(),
                },
            ],
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_json_is_what_serde_writes() {
        let full = LastLogin {
            ts: -5,
            id: "2f9e0c1a-0000-11ee-8000-000000000001".into(),
            lat: 48.8566,
            lon: -2.5e-7,
            city: Some("São \"Paulo\"".into()),
            country: Some("Brazil".into()),
            ip: Some("2001:db8::1".into()),
        };
        let bare = LastLogin {
            ts: 1_700_000_000_000,
            id: "not\\a uuid\u{1}".into(),
            lat: 0.0,
            lon: 180.0,
            city: None,
            country: None,
            ip: None,
        };
        for value in [full, bare] {
            let mut out = Vec::new();
            value.write_json(&mut out);
            assert_eq!(out, serde_json::to_vec(&value).unwrap());
        }
    }

    #[test]
    fn haversine_matches_known_distances() {
        let paris = GeoPoint {
            lat: 48.8566,
            lon: 2.3522,
        };
        let new_york = GeoPoint {
            lat: 40.7128,
            lon: -74.0060,
        };
        // About 5,837 km on a 6,371 km sphere.
        let d = distance_km(paris, new_york);
        assert!((5_800.0..5_880.0).contains(&d), "{d}");
        assert!(distance_km(paris, paris).abs() < 1e-9);
        // Antipodes: half the circumference.
        let d = distance_km(
            GeoPoint { lat: 0.0, lon: 0.0 },
            GeoPoint {
                lat: 0.0,
                lon: 180.0,
            },
        );
        assert!(
            (d - std::f64::consts::PI * EARTH_RADIUS_KM).abs() < 1e-6,
            "{d}"
        );
    }
}

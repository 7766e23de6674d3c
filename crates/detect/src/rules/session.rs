//! `okta.stolen_session`: one Okta session used from a second network. A session is followed
//! under each of its keys, `authenticationContext.externalSessionId` and
//! `debugContext.debugData.dtHash` (the device token), on the configured event types. The first
//! event of a key records its IP (`client.ipAddress`) and AS (`securityContext.asNumber`); a
//! later event of the same key from another AS (or, with `require_asn_change = false`, from
//! another IP) raises one alert for that key, never a second. A key not seen for `session_ttl`
//! starts over. Events of the `ignore_client_ids` (Okta's Admin Console acts from Okta's own
//! addresses) are skipped. When both keys of one event change network, one alert is raised.
//!
//! The alert id: rule, session key, the session's first event and the event from the new
//! network.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{millis, STOLEN_SESSION};
use crate::alert::{build, Alert, Firing, Severity, Trigger};
use crate::config::SessionConfig;
use crate::event::EventView;
use crate::json_out::{write_i64, write_name, write_plain_str, write_str, WriteJson};
use crate::state::{Hit, Keyed, LastSeen};

/// One session key's origin. Saved with short names (`f`, `ip`, `a`, `l`, `x`); version 1's
/// long names are read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Origin {
    #[serde(rename = "f", alias = "first")]
    first: Hit,
    ip: Address,
    #[serde(
        rename = "a",
        alias = "asn",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    asn: Option<i64>,
    #[serde(rename = "l", alias = "last_seen")]
    last_seen: i64,
    #[serde(
        rename = "x",
        alias = "alerted",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    alerted: bool,
}

/// A `client.ipAddress` as the state keeps it: the 4 bytes of an IPv4 address written the
/// usual way (dotted decimal, no leading zeros), else the text. Both give back the exact text,
/// and two addresses are equal exactly when their texts are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Address {
    /// A canonical IPv4 address.
    V4([u8; 4]),
    /// Any other text (IPv6 included).
    Text(Box<str>),
}

impl Address {
    fn new(ip: &str) -> Address {
        match ip.parse::<std::net::Ipv4Addr>() {
            Ok(v4) if canonical_v4(ip) => Address::V4(v4.octets()),
            _ => Address::Text(ip.into()),
        }
    }

    /// Whether `ip` is this address's text (no allocation).
    fn is(&self, ip: &str) -> bool {
        self.with_text(|text| text == ip)
    }

    fn as_string(&self) -> String {
        self.with_text(str::to_owned)
    }

    /// Calls `f` with the address's text, an IPv4 address formatted on the stack (a session's
    /// address is written to the journal whenever the session changes).
    fn with_text<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        match self {
            Address::V4(octets) => {
                let mut out = [0u8; 15];
                let mut len = 0;
                for (i, &octet) in octets.iter().enumerate() {
                    if i > 0 {
                        out[len] = b'.';
                        len += 1;
                    }
                    if octet >= 100 {
                        out[len] = b'0' + octet / 100;
                        len += 1;
                    }
                    if octet >= 10 {
                        out[len] = b'0' + octet / 10 % 10;
                        len += 1;
                    }
                    out[len] = b'0' + octet % 10;
                    len += 1;
                }
                // Digits and dots: always UTF-8.
                f(std::str::from_utf8(&out[..len]).unwrap_or_default())
            }
            Address::Text(text) => f(text),
        }
    }
}

/// Whether `ip`, which parses as an IPv4 address, is written the usual way (what formatting
/// the address gives back): no octet with a leading zero. The standard parser takes only four
/// octets of one to three digits; it refuses leading zeros too, checked here all the same
/// since the exact text must come back.
fn canonical_v4(ip: &str) -> bool {
    ip.split('.').all(|octet| {
        octet.bytes().all(|b| b.is_ascii_digit()) && (octet.len() == 1 || !octet.starts_with('0'))
    })
}

impl WriteJson for Address {
    fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            // Digits and dots: nothing to escape.
            Address::V4(_) => self.with_text(|text| write_plain_str(out, text.as_bytes())),
            Address::Text(text) => write_str(out, text),
        }
    }
}

impl WriteJson for Origin {
    /// `{"f":[ts,"id"],"ip":"…","a":n,"l":n,"x":true}`, `a` and `x` left out as serde does.
    fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        write_name(out, "f");
        self.first.write_json(out);
        out.push(b',');
        write_name(out, "ip");
        self.ip.write_json(out);
        if let Some(asn) = self.asn {
            out.push(b',');
            write_name(out, "a");
            write_i64(out, asn);
        }
        out.push(b',');
        write_name(out, "l");
        write_i64(out, self.last_seen);
        if self.alerted {
            out.extend_from_slice(b",\"x\":true");
        }
        out.push(b'}');
    }
}

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.with_text(|text| s.serialize_str(text))
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(Address::new(&text))
    }
}

impl LastSeen for Origin {
    fn last_seen(&self) -> i64 {
        self.last_seen
    }
}

pub(crate) struct StolenSession {
    event_types: Vec<String>,
    require_asn_change: bool,
    ttl_ms: i64,
    ignore_client_ids: Vec<String>,
    max_keys: usize,
    pub(crate) keys: Keyed<Origin>,
    pub(crate) evicted: u64,
}

impl StolenSession {
    pub(crate) fn new(config: &SessionConfig, max_keys: usize) -> Self {
        StolenSession {
            event_types: config.event_types.clone(),
            require_asn_change: config.require_asn_change,
            ttl_ms: millis(config.session_ttl),
            ignore_client_ids: config.ignore_client_ids.clone(),
            max_keys,
            keys: Keyed::default(),
            evicted: 0,
        }
    }

    /// A session key not seen for `session_ttl` starts over: past it, it is as good as absent.
    pub(crate) fn horizon_ms(&self) -> i64 {
        self.ttl_ms
    }

    /// Whether an event of `event_type` can concern the rule (one of its `event_types`).
    pub(crate) fn reads(&self, event_type: &str) -> bool {
        self.event_types.iter().any(|t| t == event_type)
    }

    pub(crate) fn observe(&mut self, event: &EventView<'_>, out: &mut Vec<Alert>) {
        let f = event.facts();
        if !self.reads(&f.event_type) {
            return;
        }
        if f.client_id
            .as_deref()
            .is_some_and(|id| self.ignore_client_ids.iter().any(|i| i == id))
        {
            return;
        }
        let Some(ip) = f.client_ip.as_deref() else {
            return;
        };
        let ts = f.published_ms;
        let keys = [
            f.external_session_id
                .as_deref()
                .map(|s| session_key("sid:", s)),
            f.dt_hash.as_deref().map(|d| session_key("dt:", d)),
        ];
        let mut fired = false;
        for key in keys.into_iter().flatten() {
            let fresh = || Origin {
                first: Hit::new(ts, &f.uuid),
                ip: Address::new(ip),
                asn: f.as_number,
                last_seen: ts,
                alerted: false,
            };
            let mut origin = self
                .keys
                .entry(&key, self.max_keys, &mut self.evicted, fresh);
            if ts.saturating_sub(origin.last_seen) > self.ttl_ms {
                *origin = fresh();
                continue;
            }
            origin.last_seen = origin.last_seen.max(ts);
            let moved = if self.require_asn_change {
                matches!((origin.asn, f.as_number), (Some(a), Some(b)) if a != b)
            } else {
                !origin.ip.is(ip)
            };
            if !moved || origin.alerted {
                continue;
            }
            origin.alerted = true;
            if fired {
                continue;
            }
            fired = true;
            let first = origin.first.trigger();
            let window = format!("{}/{}/{}/{}", first.ts, first.id, ts, f.uuid);
            let this = Trigger {
                ts,
                id: f.uuid.to_string(),
            };
            let (first_ip, first_asn) = (origin.ip.as_string(), origin.asn);
            let user = f.actor_alternate_id.as_deref().unwrap_or("unknown user");
            out.push(build(Firing {
                rule: STOLEN_SESSION,
                severity: Severity::High,
                group: key.clone(),
                window,
                event,
                message: format!(
                    "session {key} of {user} started from {first_ip} (AS {}) and is now used from {ip} (AS {})",
                    first_asn.map_or("unknown".into(), |a| a.to_string()),
                    f.as_number.map_or("unknown".into(), |a| a.to_string()),
                ),
                details: json!({
                    "session": key,
                    "first": { "ip": first_ip, "as_number": first_asn, "event_id": first.id },
                    "now": { "ip": ip, "as_number": f.as_number },
                }),
                triggers: vec![first, this],
            }));
        }
    }
}

/// `prefix` + `id`: one allocation of the right size, without the formatting machinery (two
/// keys for most events of the configured types).
fn session_key(prefix: &str, id: &str) -> String {
    let mut key = String::with_capacity(prefix.len() + id.len());
    key.push_str(prefix);
    key.push_str(id);
    key
}

#[cfg(test)]
mod tests {
    use super::Address;

    #[test]
    fn journal_json_is_what_serde_writes() {
        use super::{Hit, Origin};
        use crate::json_out::WriteJson;
        let values = [
            Origin {
                first: Hit::new(1, "2f9e0c1a-0000-11ee-8000-000000000001"),
                ip: Address::new("10.0.0.1"),
                asn: Some(64_496),
                last_seen: 2,
                alerted: true,
            },
            Origin {
                first: Hit::new(-1, "odd \"id\""),
                ip: Address::new("2001:db8::1"),
                asn: None,
                last_seen: i64::MAX,
                alerted: false,
            },
        ];
        for value in values {
            let mut out = Vec::new();
            value.write_json(&mut out);
            assert_eq!(out, serde_json::to_vec(&value).unwrap());
        }
    }

    #[test]
    fn addresses_give_back_their_exact_text_and_compare_as_text() {
        let texts = [
            "1.2.3.4",
            "255.255.255.255",
            "0.0.0.0",
            "01.2.3.4",
            "1.2.3.04",
            "1.2.3.4 ",
            " 1.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "0x1.2.3.4",
            "2001:db8::1",
            "::ffff:1.2.3.4",
            "",
        ];
        for a in texts {
            let address = Address::new(a);
            assert_eq!(address.as_string(), a);
            assert_eq!(
                serde_json::to_string(&address).unwrap(),
                serde_json::to_string(a).unwrap()
            );
            let back: Address = serde_json::from_str(&serde_json::to_string(a).unwrap()).unwrap();
            assert_eq!(back, address);
            for b in texts {
                assert_eq!(address.is(b), a == b, "{a:?} against {b:?}");
                assert_eq!(address == Address::new(b), a == b, "{a:?} against {b:?}");
            }
        }
        assert!(matches!(Address::new("10.0.0.1"), Address::V4(_)));
    }

    #[test]
    fn ipv4_addresses_are_written_as_the_standard_library_writes_them() {
        for x in 0..=255u8 {
            let v4 = std::net::Ipv4Addr::new(x, 255 - x, x / 7, x.wrapping_mul(13));
            let text = v4.to_string();
            let address = Address::new(&text);
            assert_eq!(address, Address::V4(v4.octets()), "{text}");
            assert_eq!(address.as_string(), text);
            assert!(address.is(&text));
        }
    }
}

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
use crate::state::{Hit, Keyed, LastSeen};

/// One session key's origin. Saved with short names (`f`, `ip`, `a`, `l`, `x`); version 1's
/// long names are read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Origin {
    #[serde(rename = "f", alias = "first")]
    first: Hit,
    ip: String,
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

    pub(crate) fn observe(&mut self, event: &EventView<'_>, out: &mut Vec<Alert>) {
        let f = event.facts();
        if !self.event_types.iter().any(|t| *t == f.event_type) {
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
            f.external_session_id.as_deref().map(|s| format!("sid:{s}")),
            f.dt_hash.as_deref().map(|d| format!("dt:{d}")),
        ];
        let mut fired = false;
        for key in keys.into_iter().flatten() {
            let this = Trigger {
                ts,
                id: f.uuid.to_string(),
            };
            let fresh = || Origin {
                first: Hit(this.clone()),
                ip: ip.to_owned(),
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
                origin.ip != ip
            };
            if !moved || origin.alerted {
                continue;
            }
            origin.alerted = true;
            if fired {
                continue;
            }
            fired = true;
            let window = format!(
                "{}/{}/{}/{}",
                origin.first.0.ts, origin.first.0.id, ts, f.uuid
            );
            let first = origin.first.0.clone();
            let (first_ip, first_asn) = (origin.ip.clone(), origin.asn);
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

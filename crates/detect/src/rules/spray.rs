//! `okta.password_spraying`: failed sign-ins (`user.session.start`, FAILURE) from one source IP
//! (`client.ipAddress`) against at least `threshold` distinct accounts (actor `alternateId`)
//! within the sliding window; then the IP is quiet for `suppression`.
//!
//! Each IP keeps the latest failure per account; an account counts while its latest failure is
//! at most `window` before the newest event. The triggering events are those latest failures,
//! one per account, oldest first. Same window, quiet-period and id rules as
//! [`super::threshold`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{millis, PASSWORD_SPRAYING};
use crate::alert::{build, Alert, Firing, Severity, Trigger};
use crate::config::ThresholdConfig;
use crate::event::EventView;
use crate::json_out::{write_map, write_name, write_quiet_and_last, WriteJson};
use crate::state::{Hit, Keyed, LastSeen};

/// One IP's accounts. Saved with short names (`a`, `q`, `l`); version 1's long names are read.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct Spray {
    /// Account → its latest failure.
    #[serde(
        rename = "a",
        alias = "accounts",
        default,
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    accounts: BTreeMap<String, Hit>,
    #[serde(
        rename = "q",
        alias = "quiet_until",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    quiet_until: Option<i64>,
    #[serde(rename = "l", alias = "last_seen")]
    last_seen: i64,
}

impl WriteJson for Spray {
    /// `{"a":{"account":[ts,"id"],…},"q":n,"l":n}`, `a` and `q` left out as serde does.
    fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        if !self.accounts.is_empty() {
            write_name(out, "a");
            write_map(
                out,
                self.accounts.iter().map(|(a, hit)| (a.as_str(), hit)),
                |out, hit| hit.write_json(out),
            );
            out.push(b',');
        }
        write_quiet_and_last(out, self.quiet_until, self.last_seen);
    }
}

impl LastSeen for Spray {
    fn last_seen(&self) -> i64 {
        self.last_seen
    }
}

pub(crate) struct PasswordSpraying {
    threshold: usize,
    window_ms: i64,
    suppression_ms: i64,
    max_keys: usize,
    max_accounts: usize,
    pub(crate) keys: Keyed<Spray>,
    pub(crate) evicted: u64,
}

impl PasswordSpraying {
    pub(crate) fn new(config: &ThresholdConfig, max_keys: usize, max_accounts: usize) -> Self {
        PasswordSpraying {
            threshold: config.threshold,
            window_ms: millis(config.window),
            suppression_ms: millis(config.suppression),
            max_keys,
            max_accounts,
            keys: Keyed::default(),
            evicted: 0,
        }
    }

    /// How long after its last failure an IP can still matter (see
    /// [`super::threshold::Threshold::horizon_ms`]).
    pub(crate) fn horizon_ms(&self) -> i64 {
        self.window_ms.max(self.suppression_ms)
    }

    /// Whether an event of `event_type` can concern the rule (the only type it reads).
    pub(crate) fn reads(&self, event_type: &str) -> bool {
        event_type == "user.session.start"
    }

    pub(crate) fn observe(&mut self, event: &EventView<'_>, out: &mut Vec<Alert>) {
        let f = event.facts();
        if !self.reads(&f.event_type) || !f.outcome_is("FAILURE") {
            return;
        }
        let (Some(ip), Some(account)) = (f.client_ip.as_deref(), f.actor_key()) else {
            return;
        };
        let ts = f.published_ms;
        let mut s = self
            .keys
            .entry(ip, self.max_keys, &mut self.evicted, Spray::default);
        s.last_seen = s.last_seen.max(ts);
        s.accounts.insert(account, Hit::new(ts, &f.uuid));
        let oldest = ts.saturating_sub(self.window_ms);
        s.accounts.retain(|_, t| t.ts() >= oldest);
        while s.accounts.len() > self.max_accounts {
            // Drop the account whose latest failure is the oldest (ties: smallest account).
            let victim = s
                .accounts
                .iter()
                .min_by(|a, b| (a.1.ts(), a.0).cmp(&(b.1.ts(), b.0)))
                .map(|(k, _)| k.clone());
            if let Some(victim) = victim {
                s.accounts.remove(&victim);
            }
        }
        if s.quiet_until.is_some_and(|q| ts < q) || s.accounts.len() < self.threshold {
            return;
        }
        s.quiet_until = Some(ts.saturating_add(self.suppression_ms));
        let accounts: Vec<String> = s.accounts.keys().cloned().collect();
        let mut triggers: Vec<Trigger> = std::mem::take(&mut s.accounts)
            .into_values()
            .map(|h| h.trigger())
            .collect();
        triggers.sort_by(|a, b| (a.ts, &a.id).cmp(&(b.ts, &b.id)));
        let first = &triggers[0];
        let window = format!("{}/{}/{}/{}", first.ts, first.id, ts, f.uuid);
        let count = accounts.len();
        out.push(build(Firing {
            rule: PASSWORD_SPRAYING,
            severity: Severity::High,
            group: ip.to_owned(),
            window,
            event,
            message: format!(
                "failed sign-ins from {ip} against {count} accounts within {}",
                minutes(self.window_ms)
            ),
            details: json!({ "accounts": accounts, "count": count,
                             "threshold": self.threshold, "window_ms": self.window_ms }),
            triggers,
        }));
    }
}

/// `15m`, `90s`: a window for a message.
pub(crate) fn minutes(ms: i64) -> String {
    if ms % 60_000 == 0 {
        format!("{}m", ms / 60_000)
    } else {
        format!("{}s", ms / 1_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json_out::WriteJson;

    #[test]
    fn journal_json_is_what_serde_writes() {
        let values = [
            Spray::default(),
            Spray {
                accounts: [
                    ("alice@example.com".to_owned(), Hit::new(1, "a")),
                    (
                        "\"quoted\"\\".to_owned(),
                        Hit::new(2, "2f9e0c1a-0000-11ee-8000-000000000001"),
                    ),
                ]
                .into_iter()
                .collect(),
                quiet_until: Some(5),
                last_seen: 2,
            },
        ];
        for value in values {
            let mut out = Vec::new();
            value.write_json(&mut out);
            assert_eq!(out, serde_json::to_vec(&value).unwrap());
        }
    }
}

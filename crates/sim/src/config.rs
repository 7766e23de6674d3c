//! Simulator configuration.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::SimError;
use crate::oauth::{parse_public_key, OAuthClientConfig};

/// Everything that shapes a simulated Okta org and its API behaviour.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Seed of every random choice: same seed, same events (uuids included).
    pub seed: u64,
    /// Number of events in the initial backlog.
    pub events: usize,
    /// Time span the backlog's `published` times cover, ending at `backlog_end`.
    pub backlog_span: Duration,
    /// End of the backlog; `None` = the moment the simulator starts. Fix it to
    /// make even the `published` times reproducible.
    pub backlog_end: Option<DateTime<Utc>>,
    /// New events per second added while running (published ≈ now); 0 = none.
    pub live_events_per_sec: f64,
    /// Requests per minute allowed on `/api/v1/logs`; `None` = unlimited and no
    /// `X-Rate-Limit-*` headers.
    pub rate_limit_per_minute: Option<u32>,
    /// Per-minute rate limit of each directory endpoint family (`/api/v1/users`,
    /// `/api/v1/groups`, `/api/v1/iam`, `/api/v1/devices`), each counted alone as Okta does;
    /// `None`: no limit and no rate-limit headers on them.
    pub directory_rate_limit_per_minute: Option<u32>,
    /// Requests per minute that "other integrations" of the org spend from the
    /// same budget, spread evenly over the window (0 = none).
    pub other_integrations_per_minute: u32,
    /// Length of the rate-limit window (Okta's is one minute). `rate_limit_per_minute` and
    /// `other_integrations_per_minute` then count per window. A window of a few seconds makes
    /// rate-limit storms pass quickly in tests; clients still read the limit as per minute.
    pub rate_limit_window: Duration,
    /// Probability (0..=1) that a `/api/v1/logs` request gets a fault instead of its answer.
    pub fault_rate: f64,
    /// Which faults may be injected.
    pub faults: FaultKinds,
    /// Share (0..=1) of events that become visible `late_delay` after their `published`.
    pub late_fraction: f64,
    /// How long after `published` a late event becomes visible.
    pub late_delay: Duration,
    /// Extra latency added to every successful `/api/v1/logs` page.
    pub page_latency: Duration,
    /// The accepted `Authorization: SSWS <token>` value.
    pub api_token: String,
    /// OAuth 2.0 service app accepted at `/oauth2/v1/token`; `None` = OAuth disabled.
    pub oauth: Option<OAuthClientConfig>,
    /// If set, requests whose `Host` (name, or name:port) differs get 404, like a wrong Okta domain.
    pub expected_host: Option<String>,
    /// Inject the attack scenarios of [`crate::attacks`] into the backlog (each built-in
    /// detection rule triggered once, plus controls that must not fire); needs a
    /// `backlog_span` of at least 3 hours.
    pub attacks: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            events: 10_000,
            backlog_span: Duration::from_secs(24 * 3600),
            backlog_end: None,
            live_events_per_sec: 0.0,
            rate_limit_per_minute: None,
            directory_rate_limit_per_minute: None,
            other_integrations_per_minute: 0,
            rate_limit_window: Duration::from_secs(60),
            fault_rate: 0.0,
            faults: FaultKinds::default(),
            late_fraction: 0.01,
            late_delay: Duration::from_secs(120),
            page_latency: Duration::ZERO,
            api_token: "sim-api-token".to_string(),
            oauth: None,
            expected_host: None,
            attacks: false,
        }
    }
}

impl SimConfig {
    /// Checks ranges and parses the OAuth public key; the simulator refuses to start otherwise.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |msg: String| Err(SimError::InvalidConfig(msg));
        if !(0.0..=1.0).contains(&self.fault_rate) {
            return bad(format!(
                "fault_rate must be within 0..=1, got {}",
                self.fault_rate
            ));
        }
        if self.fault_rate > 0.0 && self.faults.enabled().is_empty() {
            return bad("fault_rate > 0 but no fault kind is enabled".to_string());
        }
        if !(0.0..=1.0).contains(&self.late_fraction) {
            return bad(format!(
                "late_fraction must be within 0..=1, got {}",
                self.late_fraction
            ));
        }
        if !self.live_events_per_sec.is_finite() || self.live_events_per_sec < 0.0 {
            return bad(format!(
                "live_events_per_sec must be a finite number >= 0, got {}",
                self.live_events_per_sec
            ));
        }
        if self.rate_limit_per_minute == Some(0) {
            return bad(
                "rate_limit_per_minute must be at least 1 (use None for no limit)".to_string(),
            );
        }
        if self.rate_limit_window < Duration::from_secs(1) {
            return bad(format!(
                "rate_limit_window must be at least 1s, got {:?}",
                self.rate_limit_window
            ));
        }
        if self.attacks && self.backlog_span < Duration::from_secs(3 * 3600) {
            return bad(format!(
                "attack scenarios need a backlog span of at least 3h, got {:?}",
                self.backlog_span
            ));
        }
        if self.api_token.is_empty() {
            return bad("api_token must not be empty".to_string());
        }
        if u32::try_from(self.events).is_err() {
            return bad(format!("events must be below 2^32, got {}", self.events));
        }
        if let Some(oauth) = &self.oauth {
            parse_public_key(&oauth.public_key_pem)?;
            if oauth.client_id.is_empty() {
                return bad("oauth.client_id must not be empty".to_string());
            }
        }
        Ok(())
    }
}

/// Which faults the simulator may inject, and how slow a slow response is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultKinds {
    /// HTTP 500 with an Okta error body (`E0000009`).
    pub internal_error: bool,
    /// HTTP 503 with an Okta error body.
    pub service_unavailable: bool,
    /// The connection is closed without any response.
    pub drop_connection: bool,
    /// The response is delayed by `slow_delay` (then served normally).
    pub slow_response: bool,
    /// The status and headers arrive, the body stops half-way and the connection closes.
    pub truncated_body: bool,
    /// Delay of a slow response; longer than a typical client timeout.
    pub slow_delay: Duration,
}

impl Default for FaultKinds {
    /// All kinds, with a 35 s slow response.
    fn default() -> Self {
        FaultKinds {
            internal_error: true,
            service_unavailable: true,
            drop_connection: true,
            slow_response: true,
            truncated_body: true,
            slow_delay: Duration::from_secs(35),
        }
    }
}

/// One kind of injected fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// HTTP 500.
    InternalError,
    /// HTTP 503.
    ServiceUnavailable,
    /// Connection closed with no response.
    DropConnection,
    /// Response delayed by `slow_delay`.
    SlowResponse,
    /// Body cut short.
    TruncatedBody,
}

impl FaultKind {
    /// The short name used by [`FaultKinds::from_str`] (`500`, `503`, `drop`, `slow`, `truncate`).
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::InternalError => "500",
            FaultKind::ServiceUnavailable => "503",
            FaultKind::DropConnection => "drop",
            FaultKind::SlowResponse => "slow",
            FaultKind::TruncatedBody => "truncate",
        }
    }
}

impl FaultKinds {
    /// No fault kind enabled.
    pub fn none() -> Self {
        FaultKinds {
            internal_error: false,
            service_unavailable: false,
            drop_connection: false,
            slow_response: false,
            truncated_body: false,
            slow_delay: Duration::from_secs(35),
        }
    }

    /// Only `kind` enabled.
    pub fn only(kind: FaultKind) -> Self {
        let mut kinds = FaultKinds::none();
        kinds.set(kind, true);
        kinds
    }

    /// Enables or disables one kind.
    pub fn set(&mut self, kind: FaultKind, on: bool) {
        match kind {
            FaultKind::InternalError => self.internal_error = on,
            FaultKind::ServiceUnavailable => self.service_unavailable = on,
            FaultKind::DropConnection => self.drop_connection = on,
            FaultKind::SlowResponse => self.slow_response = on,
            FaultKind::TruncatedBody => self.truncated_body = on,
        }
    }

    /// The enabled kinds, in a fixed order.
    pub fn enabled(&self) -> Vec<FaultKind> {
        [
            (self.internal_error, FaultKind::InternalError),
            (self.service_unavailable, FaultKind::ServiceUnavailable),
            (self.drop_connection, FaultKind::DropConnection),
            (self.slow_response, FaultKind::SlowResponse),
            (self.truncated_body, FaultKind::TruncatedBody),
        ]
        .into_iter()
        .filter_map(|(on, kind)| on.then_some(kind))
        .collect()
    }
}

impl FromStr for FaultKinds {
    type Err = SimError;

    /// Parses a comma-separated list of `500`, `503`, `drop`, `slow`, `truncate`
    /// (or `all` / `none`), e.g. `500,drop,truncate`. The slow delay keeps its default.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut kinds = FaultKinds::none();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            match item {
                "all" => kinds = FaultKinds::default(),
                "none" => kinds = FaultKinds::none(),
                "500" => kinds.internal_error = true,
                "503" => kinds.service_unavailable = true,
                "drop" => kinds.drop_connection = true,
                "slow" => kinds.slow_response = true,
                "truncate" => kinds.truncated_body = true,
                other => {
                    return Err(SimError::InvalidConfig(format!(
                        "unknown fault kind {other:?}: expected 500, 503, drop, slow, truncate, all or none"
                    )))
                }
            }
        }
        Ok(kinds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_kinds_parse_and_reject_unknown_names() {
        let kinds: FaultKinds = "500, drop,truncate".parse().expect("valid list");
        assert_eq!(
            kinds.enabled(),
            vec![
                FaultKind::InternalError,
                FaultKind::DropConnection,
                FaultKind::TruncatedBody
            ]
        );
        assert_eq!("all".parse::<FaultKinds>().expect("all").enabled().len(), 5);
        let err = "500,teapot"
            .parse::<FaultKinds>()
            .expect_err("unknown kind");
        assert!(err.to_string().contains("teapot"));
    }

    #[test]
    fn validate_rejects_out_of_range_values() {
        assert!(SimConfig::default().validate().is_ok());
        let cfg = SimConfig {
            fault_rate: 1.5,
            ..SimConfig::default()
        };
        assert!(cfg.validate().is_err());
        let cfg = SimConfig {
            rate_limit_per_minute: Some(0),
            ..SimConfig::default()
        };
        assert!(cfg.validate().is_err());
        let cfg = SimConfig {
            live_events_per_sec: f64::NAN,
            ..SimConfig::default()
        };
        assert!(cfg.validate().is_err());
        let cfg = SimConfig {
            fault_rate: 0.5,
            faults: FaultKinds::none(),
            ..SimConfig::default()
        };
        assert!(cfg.validate().is_err());
    }
}

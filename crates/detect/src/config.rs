//! The configuration of the built-in rules: each one on by default, each one can be turned off
//! or tuned. Durations are strings (`"15m"`), read with `oktaflow_plumbing::units::de`.
//!
//! ```toml
//! [detect]
//! max_keys_per_rule = 100000
//!
//! [detect.brute_force_logins]
//! threshold = 8
//! window = "10m"
//!
//! [detect.api_key_revoked]
//! enabled = false
//! ```

use std::path::PathBuf;
use std::time::Duration;

use oktaflow_plumbing::units::de as units;
use serde::Deserialize;

use crate::error::DetectError;

/// Default cap on the keys (users, IPs, sessions) one stateful rule keeps.
pub const DEFAULT_MAX_KEYS_PER_RULE: usize = 100_000;

/// Settings of every built-in rule, plus the state bounds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesConfig {
    /// The most keys (accounts, IPs, sessions) one stateful rule keeps; beyond it the least
    /// recently seen keys are evicted (oldest first).
    pub max_keys_per_rule: usize,
    /// The most events one key keeps in a window (the oldest are dropped beyond it).
    pub max_events_per_key: usize,
    /// `okta.admin_role_assigned`.
    pub admin_role_assigned: AdminRoleConfig,
    /// `okta.api_key_created`.
    pub api_key_created: Toggle,
    /// `okta.api_key_revoked`.
    pub api_key_revoked: Toggle,
    /// `okta.brute_force_logins`.
    pub brute_force_logins: ThresholdConfig,
    /// `okta.geo_improbable_access`.
    pub geo_improbable_access: GeoConfig,
    /// `okta.password_spraying`.
    pub password_spraying: ThresholdConfig,
    /// `okta.mfa_push_bombing`.
    pub mfa_push_bombing: ThresholdConfig,
    /// `okta.stolen_session`.
    pub stolen_session: SessionConfig,
    /// Sigma rule files or folders (every `.yml` / `.yaml` under a folder), read by
    /// [`crate::SigmaRules::load`] (or [`crate::Detector::load`]); default none.
    pub rules: Vec<PathBuf>,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            max_keys_per_rule: DEFAULT_MAX_KEYS_PER_RULE,
            max_events_per_key: 1_000,
            admin_role_assigned: AdminRoleConfig::default(),
            api_key_created: Toggle::default(),
            api_key_revoked: Toggle::default(),
            brute_force_logins: ThresholdConfig::new(5, 15 * 60, 60 * 60),
            geo_improbable_access: GeoConfig::default(),
            password_spraying: ThresholdConfig::new(10, 15 * 60, 60 * 60),
            mfa_push_bombing: ThresholdConfig::new(5, 10 * 60, 60 * 60),
            stolen_session: SessionConfig::default(),
            rules: Vec::new(),
        }
    }
}

impl RulesConfig {
    /// Every built-in rule turned off (a starting point for tests and `--rules` runs).
    pub fn none() -> RulesConfig {
        let mut config = RulesConfig::default();
        config.admin_role_assigned.enabled = false;
        config.api_key_created.enabled = false;
        config.api_key_revoked.enabled = false;
        config.brute_force_logins.enabled = false;
        config.geo_improbable_access.enabled = false;
        config.password_spraying.enabled = false;
        config.mfa_push_bombing.enabled = false;
        config.stolen_session.enabled = false;
        config
    }

    /// Checks every value; the first problem is returned.
    pub(crate) fn validate(&self) -> Result<(), DetectError> {
        if self.max_keys_per_rule == 0 {
            return Err(invalid("detect", "max_keys_per_rule must be at least 1"));
        }
        if self.max_events_per_key == 0 {
            return Err(invalid("detect", "max_events_per_key must be at least 1"));
        }
        for (rule, t) in [
            ("okta.brute_force_logins", &self.brute_force_logins),
            ("okta.password_spraying", &self.password_spraying),
            ("okta.mfa_push_bombing", &self.mfa_push_bombing),
        ] {
            if t.threshold == 0 {
                return Err(invalid(rule, "threshold must be at least 1"));
            }
            if t.window.is_zero() {
                return Err(invalid(rule, "window must be longer than 0s, e.g. \"15m\""));
            }
            if t.threshold > self.max_events_per_key {
                return Err(invalid(
                    rule,
                    format!(
                        "threshold {} is above max_events_per_key {}",
                        t.threshold, self.max_events_per_key
                    ),
                ));
            }
        }
        let g = &self.geo_improbable_access;
        if !(g.max_speed_kmh.is_finite() && g.max_speed_kmh > 0.0) {
            return Err(invalid(
                "okta.geo_improbable_access",
                "max_speed_kmh must be a positive number, e.g. 900",
            ));
        }
        if !(g.min_distance_km.is_finite() && g.min_distance_km >= 0.0) {
            return Err(invalid(
                "okta.geo_improbable_access",
                "min_distance_km must be 0 or more",
            ));
        }
        if self.admin_role_assigned.admin_patterns.is_empty() {
            return Err(invalid(
                "okta.admin_role_assigned",
                "admin_patterns must name at least one pattern, e.g. [\"admin\"]",
            ));
        }
        if self.stolen_session.session_ttl.is_zero() {
            return Err(invalid(
                "okta.stolen_session",
                "session_ttl must be longer than 0s, e.g. \"24h\"",
            ));
        }
        Ok(())
    }
}

fn invalid(rule: &'static str, reason: impl Into<String>) -> DetectError {
    DetectError::InvalidConfig {
        rule,
        reason: reason.into(),
    }
}

/// A rule with nothing to tune but on/off.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Toggle {
    /// Whether the rule runs (default true).
    pub enabled: bool,
}

impl Default for Toggle {
    fn default() -> Self {
        Toggle { enabled: true }
    }
}

/// `okta.admin_role_assigned`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminRoleConfig {
    /// Whether the rule runs (default true).
    pub enabled: bool,
    /// A granted role whose name contains one of these (case-insensitive) is an administrator
    /// role (default `["admin"]`: "Super administrator", "Read only admin", ...).
    pub admin_patterns: Vec<String>,
    /// Roles (case-insensitive, whole name) that make the alert high; others are medium
    /// (default `["Super administrator"]`).
    pub high_roles: Vec<String>,
}

impl Default for AdminRoleConfig {
    fn default() -> Self {
        AdminRoleConfig {
            enabled: true,
            admin_patterns: vec!["admin".into()],
            high_roles: vec!["Super administrator".into()],
        }
    }
}

/// A threshold rule: at least `threshold` matching events for one key within a sliding
/// `window`, one alert, then `suppression` of quiet for that key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThresholdConfig {
    /// Whether the rule runs (default true).
    pub enabled: bool,
    /// How many events (or distinct accounts, for password spraying) raise the alert.
    pub threshold: usize,
    /// The sliding window (`"15m"`): the first and the last counted event are at most this
    /// far apart.
    #[serde(deserialize_with = "units::duration")]
    pub window: Duration,
    /// After an alert, the key raises nothing more for this long (`"60m"`; `"0s"` turns
    /// suppression off).
    #[serde(deserialize_with = "units::duration")]
    pub suppression: Duration,
}

impl ThresholdConfig {
    fn new(threshold: usize, window_secs: u64, suppression_secs: u64) -> ThresholdConfig {
        ThresholdConfig {
            enabled: true,
            threshold,
            window: Duration::from_secs(window_secs),
            suppression: Duration::from_secs(suppression_secs),
        }
    }
}

impl Default for ThresholdConfig {
    fn default() -> Self {
        ThresholdConfig::new(5, 15 * 60, 60 * 60)
    }
}

/// `okta.geo_improbable_access`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GeoConfig {
    /// Whether the rule runs (default true).
    pub enabled: bool,
    /// Speeds above this (km/h, great-circle distance over time) are improbable (default 900).
    pub max_speed_kmh: f64,
    /// Two logins closer than this (km) never alert, whatever the time between them
    /// (default 0: GeoIP jitter between nearby cities can be tuned away here).
    pub min_distance_km: f64,
}

impl Default for GeoConfig {
    fn default() -> Self {
        GeoConfig {
            enabled: true,
            max_speed_kmh: 900.0,
            min_distance_km: 0.0,
        }
    }
}

/// `okta.stolen_session`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// Whether the rule runs (default true).
    pub enabled: bool,
    /// The event types whose session is followed (default: sign-in, app SSO, admin app).
    pub event_types: Vec<String>,
    /// When true (the default), only a change of network (AS number) alerts; a new IP in the
    /// same AS (a DHCP renewal, a carrier NAT) does not. When false any new IP alerts.
    pub require_asn_change: bool,
    /// A session key not seen for this long is forgotten (`"24h"`).
    #[serde(deserialize_with = "units::duration")]
    pub session_ttl: Duration,
    /// `client.id`s whose events are ignored: Okta's own Admin Console acts from Okta's IPs.
    pub ignore_client_ids: Vec<String>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            enabled: true,
            event_types: vec![
                "user.session.start".into(),
                "user.authentication.sso".into(),
                "user.session.access_admin_app".into(),
            ],
            require_asn_change: true,
            session_ttl: Duration::from_secs(24 * 3600),
            ignore_client_ids: vec!["okta.b58d5b75-07d4-5f25-bf59-368a1261a405".into()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_durations_and_partial_tables() {
        let config: RulesConfig = serde_json::from_str(
            r#"{"brute_force_logins":{"threshold":8,"window":"10m"},
                "api_key_revoked":{"enabled":false}}"#,
        )
        .expect("valid config");
        assert_eq!(config.brute_force_logins.threshold, 8);
        assert_eq!(config.brute_force_logins.window, Duration::from_secs(600));
        assert_eq!(
            config.brute_force_logins.suppression,
            Duration::from_secs(3600)
        );
        assert!(!config.api_key_revoked.enabled);
        assert!(config.api_key_created.enabled);
        config.validate().expect("valid");
    }

    #[test]
    fn rejects_unknown_keys_and_bare_numbers() {
        let err = serde_json::from_str::<RulesConfig>(r#"{"brute_force":{}}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        let err = serde_json::from_str::<RulesConfig>(r#"{"brute_force_logins":{"window":900}}"#)
            .unwrap_err();
        assert!(err.to_string().contains("needs a unit"), "{err}");
    }

    #[test]
    fn validate_names_the_rule() {
        let mut config = RulesConfig::default();
        config.password_spraying.threshold = 0;
        let err = config.validate().unwrap_err().to_string();
        assert!(
            err.contains("okta.password_spraying") && err.contains("threshold"),
            "{err}"
        );
    }
}

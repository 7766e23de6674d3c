//! Rules on one event each, without state: `okta.admin_role_assigned`,
//! `okta.api_key_created`, `okta.api_key_revoked`.
//!
//! Their alert id is derived from the rule and the triggering event's `uuid` (the group is the
//! target, the window the event): the same event always gives the same alert.

use serde_json::json;

use super::{ADMIN_ROLE_ASSIGNED, API_KEY_CREATED, API_KEY_REVOKED};
use crate::alert::{build, Alert, Firing, RuleMeta, Severity, Trigger};
use crate::config::AdminRoleConfig;
use crate::event::EventView;

/// `okta.admin_role_assigned`: `user.account.privilege.grant`, SUCCESS, and
/// `debugData.privilegeGranted` (a comma-separated list of role names) names an administrator
/// role. High when one of the granted roles is in `high_roles`, medium otherwise.
pub(crate) struct AdminRoleAssigned {
    patterns: Vec<String>,
    high_roles: Vec<String>,
}

impl AdminRoleAssigned {
    pub(crate) fn new(config: &AdminRoleConfig) -> AdminRoleAssigned {
        AdminRoleAssigned {
            patterns: config
                .admin_patterns
                .iter()
                .map(|p| p.trim().to_lowercase())
                .filter(|p| !p.is_empty())
                .collect(),
            high_roles: config
                .high_roles
                .iter()
                .map(|r| r.trim().to_lowercase())
                .collect(),
        }
    }

    /// Whether an event of `event_type` can concern the rule (the only type it reads).
    pub(crate) fn reads(&self, event_type: &str) -> bool {
        event_type == "user.account.privilege.grant"
    }

    pub(crate) fn observe(&self, event: &EventView<'_>, out: &mut Vec<Alert>) {
        let f = event.facts();
        if !self.reads(&f.event_type) || !f.outcome_is("SUCCESS") {
            return;
        }
        let Some(granted) = f.privilege_granted.as_deref() else {
            return;
        };
        let roles: Vec<&str> = granted
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .collect();
        let admin_roles: Vec<&str> = roles
            .iter()
            .copied()
            .filter(|role| {
                let lower = role.to_lowercase();
                self.patterns.iter().any(|p| lower.contains(p.as_str()))
            })
            .collect();
        if admin_roles.is_empty() {
            return;
        }
        let high = roles
            .iter()
            .any(|role| self.high_roles.contains(&role.to_lowercase()));
        let severity = if high {
            Severity::High
        } else {
            Severity::Medium
        };
        let target = f
            .target
            .as_ref()
            .and_then(|t| t.alternate_id.as_deref().or(t.id.as_deref()))
            .unwrap_or("unknown target");
        let actor = f.actor_alternate_id.as_deref().unwrap_or("unknown actor");
        out.push(single(
            ADMIN_ROLE_ASSIGNED,
            severity,
            event,
            target,
            format!("{actor} granted [{granted}] to {target}"),
            json!({ "privilege_granted": granted, "admin_roles": admin_roles }),
        ));
    }
}

/// `okta.api_key_created` / `okta.api_key_revoked`: `system.api_token.create` / `.revoke`
/// with SUCCESS.
pub(crate) struct ApiKey {
    meta: RuleMeta,
    event_type: &'static str,
    verb: &'static str,
    severity: Severity,
}

impl ApiKey {
    pub(crate) fn created() -> ApiKey {
        ApiKey {
            meta: API_KEY_CREATED,
            event_type: "system.api_token.create",
            verb: "created",
            severity: Severity::Medium,
        }
    }

    pub(crate) fn revoked() -> ApiKey {
        ApiKey {
            meta: API_KEY_REVOKED,
            event_type: "system.api_token.revoke",
            verb: "revoked",
            severity: Severity::Low,
        }
    }

    /// Whether an event of `event_type` can concern the rule (the only type it reads).
    pub(crate) fn reads(&self, event_type: &str) -> bool {
        event_type == self.event_type
    }

    pub(crate) fn observe(&self, event: &EventView<'_>, out: &mut Vec<Alert>) {
        let f = event.facts();
        if !self.reads(&f.event_type) || !f.outcome_is("SUCCESS") {
            return;
        }
        let key = f
            .target
            .as_ref()
            .and_then(|t| t.display_name.as_deref().or(t.id.as_deref()))
            .unwrap_or("unknown token");
        let actor = f.actor_alternate_id.as_deref().unwrap_or("unknown actor");
        out.push(single(
            self.meta,
            self.severity,
            event,
            key,
            format!("{actor} {} API token {key}", self.verb),
            json!({ "token": key }),
        ));
    }
}

fn single(
    rule: RuleMeta,
    severity: Severity,
    event: &EventView<'_>,
    group: &str,
    message: String,
    details: serde_json::Value,
) -> Alert {
    let f = event.facts();
    build(Firing {
        rule,
        severity,
        group: group.to_owned(),
        window: f.uuid.to_string(),
        event,
        triggers: vec![Trigger {
            ts: f.published_ms,
            id: f.uuid.to_string(),
        }],
        message,
        details,
    })
}

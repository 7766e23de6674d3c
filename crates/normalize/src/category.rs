//! `eventType` → ECS `event.category` / `event.type`.
//!
//! An exact table first, then prefix rules (most specific first), then a
//! fallback by the eventType's first segment, and finally `iam`/`info`. Every
//! pair uses ECS allowed values; `docs/fields.md` holds the table.

/// ECS categorization of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Class {
    /// `event.category` values.
    pub(crate) category: &'static [&'static str],
    /// `event.type` values.
    pub(crate) kind: &'static [&'static str],
}

const fn c(category: &'static [&'static str], kind: &'static [&'static str]) -> Class {
    Class { category, kind }
}

const AUTH_START: Class = c(&["authentication"], &["start"]);
const AUTH_INFO: Class = c(&["authentication"], &["info"]);
const SESSION_START: Class = c(&["session"], &["start"]);
const SESSION_END: Class = c(&["session"], &["end"]);
const SESSION_INFO: Class = c(&["session"], &["info"]);
const IAM_INFO: Class = c(&["iam"], &["info"]);
const IAM_CHANGE: Class = c(&["iam"], &["change"]);
const USER_CREATION: Class = c(&["iam"], &["user", "creation"]);
const USER_CHANGE: Class = c(&["iam"], &["user", "change"]);
const USER_DELETION: Class = c(&["iam"], &["user", "deletion"]);
const USER_INFO: Class = c(&["iam"], &["user", "info"]);
const GROUP_CREATION: Class = c(&["iam"], &["group", "creation"]);
const GROUP_CHANGE: Class = c(&["iam"], &["group", "change"]);
const GROUP_DELETION: Class = c(&["iam"], &["group", "deletion"]);
const GROUP_INFO: Class = c(&["iam"], &["group", "info"]);
const ADMIN_CREATION: Class = c(&["iam"], &["admin", "creation"]);
const ADMIN_CHANGE: Class = c(&["iam"], &["admin", "change"]);
const ADMIN_DELETION: Class = c(&["iam"], &["admin", "deletion"]);
const CONF_CREATION: Class = c(&["configuration"], &["creation"]);
const CONF_CHANGE: Class = c(&["configuration"], &["change"]);
const CONF_DELETION: Class = c(&["configuration"], &["deletion"]);
const CONF_INFO: Class = c(&["configuration"], &["info"]);
const HOST_CHANGE: Class = c(&["host"], &["change"]);
const HOST_INFO: Class = c(&["host"], &["info"]);
const IDS_INFO: Class = c(&["intrusion_detection"], &["info"]);

const IDS_DENIED_NETWORK: Class = c(&["intrusion_detection", "network"], &["denied"]);
const IAM_CREATION: Class = c(&["iam"], &["creation"]);
const IAM_DELETION: Class = c(&["iam"], &["deletion"]);

/// Exact eventTypes. The `app.*` rows marked Sekoia, `credential.*` and
/// `user.session.*` follow Sekoia.io's table; the rest are ours.
const EXACT: &[(&str, Class)] = &[
    // Sessions (Sekoia: user.session.* is [session] with a type table).
    ("user.session.start", SESSION_START),
    ("user.session.end", SESSION_END),
    ("user.session.clear", SESSION_END),
    ("user.session.expire", SESSION_END),
    ("user.session.impersonation.initiate", SESSION_START),
    ("user.session.impersonation.end", SESSION_END),
    // Sekoia gives [session]/[creation|deletion]; ECS does not allow those
    // types for `session`, so the grant/revoke of impersonation rights is iam/admin.
    ("user.session.impersonation.grant", ADMIN_CREATION),
    ("user.session.impersonation.revoke", ADMIN_DELETION),
    ("user.session.impersonation.extend", ADMIN_CHANGE),
    // Multi-factor enrolment.
    ("user.mfa.factor.activate", USER_CREATION),
    ("user.mfa.factor.deactivate", USER_DELETION),
    ("user.mfa.factor.reset_all", USER_DELETION),
    ("user.mfa.factor.suspend", USER_CHANGE),
    ("user.mfa.factor.unsuspend", USER_CHANGE),
    ("user.mfa.factor.update", USER_CHANGE),
    // User lifecycle.
    ("user.lifecycle.create", USER_CREATION),
    ("user.lifecycle.delete.initiated", USER_DELETION),
    ("user.lifecycle.delete.completed", USER_DELETION),
    // Groups.
    ("group.user_membership.add", GROUP_CHANGE),
    ("group.user_membership.remove", GROUP_CHANGE),
    ("group.lifecycle.create", GROUP_CREATION),
    ("group.lifecycle.delete", GROUP_DELETION),
    // Applications.
    ("application.lifecycle.create", CONF_CREATION),
    ("application.lifecycle.delete", CONF_DELETION),
    ("application.user_membership.add", USER_CHANGE),
    ("application.user_membership.remove", USER_CHANGE),
    // OAuth 2.0 (Sekoia.io rows first; the category of app.oauth2 sign-ins is session).
    ("app.oauth2.as.authorize", SESSION_START),
    ("app.oauth2.authorize.code", SESSION_START),
    ("app.oauth2.signon", SESSION_START),
    ("app.oauth2.token.grant.access_token", SESSION_START),
    ("app.inbound_del_auth.login_success", SESSION_START),
    ("app.oauth2.as.token.grant", SESSION_INFO),
    // Sekoia gives iam/[end], which ECS does not allow for iam.
    ("app.oauth2.token.grant.revoke", SESSION_END),
    ("app.oauth2.as.token.revoke", SESSION_END),
    ("app.oauth2.token.revoke", SESSION_END),
    ("app.oauth2.as.authorize.scope_denied", IAM_INFO),
    ("app.oauth2.as.token.detect_reuse", IDS_INFO),
    ("app.oauth2.client.lifecycle.create", CONF_CREATION),
    ("app.oauth2.client.lifecycle.delete", CONF_DELETION),
    ("app.access_request.approver.approve", ADMIN_CHANGE),
    ("app.access_request.approver.deny", ADMIN_CHANGE),
    ("app.oauth2.admin.consent.grant", ADMIN_CHANGE),
    ("app.oauth2.admin.consent.revoke", ADMIN_CHANGE),
    ("app.access_request.approver.delete", ADMIN_DELETION),
    ("app.access_request.request", IAM_CREATION),
    ("app.keys.clone", IAM_CREATION),
    ("app.keys.generate", IAM_CREATION),
    ("app.oauth2.api_resource.create", IAM_CREATION),
    ("app.access_request.grant", IAM_CHANGE),
    ("app.access_request.deny", IAM_CHANGE),
    ("app.access_request.expire", IAM_CHANGE),
    ("app.keys.rotate", IAM_CHANGE),
    ("app.oauth2.api_resource.update", IAM_CHANGE),
    ("app.oauth2.api_resource.delete", IAM_DELETION),
    (
        "app.ldap.password.change.failed",
        c(&["iam"], &["change", "user"]),
    ),
    ("credential.register", USER_CREATION),
    ("credential.revoke", USER_DELETION),
    // API tokens.
    ("system.api_token.create", ADMIN_CREATION),
    ("system.api_token.revoke", ADMIN_DELETION),
    // Policies and network zones.
    ("policy.lifecycle.create", CONF_CREATION),
    ("policy.rule.add", CONF_CREATION),
    ("policy.rule.create", CONF_CREATION),
    ("zone.create", CONF_CREATION),
    ("policy.lifecycle.delete", CONF_DELETION),
    ("policy.rule.delete", CONF_DELETION),
    ("zone.delete", CONF_DELETION),
    ("policy.evaluate_sign_on", AUTH_INFO),
    // Threats.
    ("security.threat.detected", IDS_INFO),
    ("security.request.blocked", IDS_DENIED_NETWORK),
    // Active Directory agent.
    ("system.agent.ad.create", CONF_CREATION),
    ("system.agent.ad.delete", CONF_DELETION),
];

/// eventTypes that report a detection by Okta: `event.kind` `alert`.
const ALERTS: &[&str] = &[
    "security.threat.detected",
    "security.attack.start",
    "security.breached_credential.detected",
    "app.oauth2.as.token.detect_reuse",
    "user.account.report_suspicious_activity_by_enduser",
];

/// ECS `event.kind`: `alert` for Okta's detections (ThreatInsight threats and
/// attacks, breached credentials, refresh-token reuse, a user reporting
/// suspicious activity), `event` for everything else, including
/// `security.request.blocked` (Okta enforced a block list or ThreatInsight
/// rule: a record of a denied request, not a finding to triage).
pub(crate) fn event_kind(event_type: &str) -> &'static str {
    if ALERTS.contains(&event_type) {
        "alert"
    } else {
        "event"
    }
}

/// Prefix rules, most specific first.
const PREFIXES: &[(&str, Class)] = &[
    ("user.session.", SESSION_INFO),
    ("user.authentication.", AUTH_START),
    // Sekoia.io: factor challenges sent by push/SMS/email/voice start an authentication.
    ("system.push.", AUTH_START),
    ("system.sms.", AUTH_START),
    ("system.email.", AUTH_START),
    ("system.voice.", AUTH_START),
    ("user.mfa.factor.", USER_CHANGE),
    ("user.mfa.", AUTH_INFO),
    // Sekoia.io: every user.account.* event is iam/change.
    ("user.account.", IAM_CHANGE),
    ("user.lifecycle.", USER_CHANGE),
    ("user.credential.", USER_CHANGE),
    ("group.user_membership.", GROUP_CHANGE),
    ("group.", GROUP_INFO),
    ("application.user_membership.", USER_CHANGE),
    ("application.lifecycle.", CONF_CHANGE),
    ("application.", CONF_INFO),
    // Current (custom and org authorization server) names.
    ("app.oauth2.as.authorize.", SESSION_START),
    ("app.oauth2.authorize.", SESSION_START),
    ("app.oauth2.as.token.grant.", SESSION_START),
    ("app.oauth2.token.grant.", SESSION_START),
    ("app.oauth2.as.token.revoke.", SESSION_END),
    ("app.oauth2.token.revoke.", SESSION_END),
    ("app.oauth2.as.consent.", USER_CHANGE),
    ("app.oauth2.consent.", USER_CHANGE),
    ("app.oauth2.client.", CONF_CHANGE),
    ("app.oauth2.", IAM_INFO),
    ("system.api_token.", ADMIN_CHANGE),
    ("system.agent.ad.", USER_CHANGE),
    ("system.agent.", CONF_INFO),
    ("policy.lifecycle.", CONF_CHANGE),
    ("policy.rule.", CONF_CHANGE),
    ("policy.", CONF_INFO),
    ("zone.", CONF_CHANGE),
    ("network_zone.", CONF_CHANGE),
    ("security.", IDS_INFO),
    ("device.lifecycle.", HOST_CHANGE),
    ("device.", HOST_INFO),
    ("user.", USER_INFO),
    ("system.", CONF_INFO),
];

/// Categorizes an eventType. Never fails: unknown types get a class from
/// their prefix, else Sekoia.io's fallback `iam`/`info`.
pub(crate) fn classify(event_type: &str) -> Class {
    if let Some((_, class)) = EXACT.iter().find(|(t, _)| *t == event_type) {
        return *class;
    }
    PREFIXES
        .iter()
        .find(|(prefix, _)| event_type.starts_with(prefix))
        .map_or(IAM_INFO, |(_, class)| *class)
}

/// ECS allowed `event.type` values for each `event.category` used here.
#[cfg(test)]
fn allowed_types(category: &str) -> &'static [&'static str] {
    match category {
        "authentication" | "session" => &["start", "end", "info"],
        "iam" => &[
            "admin", "change", "creation", "deletion", "group", "info", "user",
        ],
        "configuration" => &["access", "change", "creation", "deletion", "info"],
        "host" => &["access", "change", "end", "info", "start"],
        "intrusion_detection" => &["allowed", "denied", "info", "start"],
        "network" => &[
            "access",
            "allowed",
            "connection",
            "denied",
            "end",
            "info",
            "protocol",
            "start",
        ],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One eventType of every family the issue lists, with its expected class.
    const FAMILIES: &[(&str, &[&str], &[&str])] = &[
        ("user.session.start", &["session"], &["start"]),
        ("user.session.end", &["session"], &["end"]),
        ("user.authentication.sso", &["authentication"], &["start"]),
        (
            "user.authentication.auth_via_mfa",
            &["authentication"],
            &["start"],
        ),
        (
            "user.authentication.auth_via_IDP",
            &["authentication"],
            &["start"],
        ),
        (
            "user.authentication.verify",
            &["authentication"],
            &["start"],
        ),
        ("user.mfa.factor.activate", &["iam"], &["user", "creation"]),
        (
            "user.mfa.factor.deactivate",
            &["iam"],
            &["user", "deletion"],
        ),
        ("user.mfa.factor.reset_all", &["iam"], &["user", "deletion"]),
        ("user.mfa.factor.suspend", &["iam"], &["user", "change"]),
        ("user.account.lock", &["iam"], &["change"]),
        ("user.account.unlock", &["iam"], &["change"]),
        ("user.account.reset_password", &["iam"], &["change"]),
        ("user.account.update_password", &["iam"], &["change"]),
        ("user.account.privilege.grant", &["iam"], &["change"]),
        ("user.account.privilege.revoke", &["iam"], &["change"]),
        (
            "user.account.report_suspicious_activity_by_enduser",
            &["iam"],
            &["change"],
        ),
        ("user.lifecycle.create", &["iam"], &["user", "creation"]),
        ("user.lifecycle.activate", &["iam"], &["user", "change"]),
        ("user.lifecycle.deactivate", &["iam"], &["user", "change"]),
        ("user.lifecycle.suspend", &["iam"], &["user", "change"]),
        (
            "user.lifecycle.delete.initiated",
            &["iam"],
            &["user", "deletion"],
        ),
        ("group.user_membership.add", &["iam"], &["group", "change"]),
        (
            "group.user_membership.remove",
            &["iam"],
            &["group", "change"],
        ),
        (
            "application.lifecycle.create",
            &["configuration"],
            &["creation"],
        ),
        (
            "application.lifecycle.update",
            &["configuration"],
            &["change"],
        ),
        (
            "application.user_membership.add",
            &["iam"],
            &["user", "change"],
        ),
        ("app.oauth2.as.authorize", &["session"], &["start"]),
        (
            "app.oauth2.as.token.grant.access_token",
            &["session"],
            &["start"],
        ),
        (
            "app.oauth2.as.token.grant.id_token",
            &["session"],
            &["start"],
        ),
        ("app.oauth2.as.authorize.code", &["session"], &["start"]),
        ("app.oauth2.as.token.revoke", &["session"], &["end"]),
        ("app.oauth2.as.consent.grant", &["iam"], &["user", "change"]),
        (
            "app.oauth2.as.consent.revoke",
            &["iam"],
            &["user", "change"],
        ),
        (
            "app.oauth2.token.revoke.implicit.user",
            &["session"],
            &["end"],
        ),
        ("system.api_token.create", &["iam"], &["admin", "creation"]),
        ("system.api_token.revoke", &["iam"], &["admin", "deletion"]),
        ("policy.lifecycle.update", &["configuration"], &["change"]),
        ("policy.rule.update", &["configuration"], &["change"]),
        ("zone.update", &["configuration"], &["change"]),
        (
            "security.threat.detected",
            &["intrusion_detection"],
            &["info"],
        ),
        (
            "security.request.blocked",
            &["intrusion_detection", "network"],
            &["denied"],
        ),
        ("system.agent.ad.update_user", &["iam"], &["user", "change"]),
        (
            "user.session.impersonation.initiate",
            &["session"],
            &["start"],
        ),
        (
            "user.session.impersonation.grant",
            &["iam"],
            &["admin", "creation"],
        ),
        ("device.lifecycle.deactivate", &["host"], &["change"]),
        ("device.enrollment.create", &["host"], &["info"]),
        (
            "system.push.send_factor_verify_push",
            &["authentication"],
            &["start"],
        ),
    ];

    #[test]
    fn every_listed_family_has_its_class() {
        for (event_type, category, kind) in FAMILIES {
            let class = classify(event_type);
            assert_eq!(class.category, *category, "{event_type}");
            assert_eq!(class.kind, *kind, "{event_type}");
        }
    }

    #[test]
    fn unknown_event_types_fall_back_by_prefix() {
        assert_eq!(classify("user.brand_new_thing"), USER_INFO);
        assert_eq!(classify("group.something"), GROUP_INFO);
        assert_eq!(classify("totally.unknown"), IAM_INFO);
        assert_eq!(classify(""), IAM_INFO);
    }

    /// Every class the table can produce: exact rows, prefix rules, fallback.
    fn every_class() -> Vec<(String, Class)> {
        let mut classes: Vec<(String, Class)> = EXACT
            .iter()
            .chain(PREFIXES)
            .map(|(name, class)| ((*name).to_owned(), *class))
            .collect();
        classes.push(("fallback".to_owned(), classify("no.such.family")));
        classes
    }

    #[test]
    fn every_table_entry_uses_ecs_allowed_values_and_pairs() {
        for (name, class) in every_class() {
            assert!(
                !class.category.is_empty() && !class.kind.is_empty(),
                "{name}"
            );
            for category in class.category {
                let allowed = allowed_types(category);
                assert!(!allowed.is_empty(), "{name}: unknown category {category}");
                for kind in class.kind {
                    assert!(
                        allowed.contains(kind),
                        "{name}: {category}/{kind} not allowed by ECS"
                    );
                }
            }
        }
    }

    #[test]
    fn exact_rows_are_unique_and_not_shadowed() {
        for (i, (name, _)) in EXACT.iter().enumerate() {
            assert!(
                !EXACT[..i].iter().any(|(other, _)| other == name),
                "{name} listed twice"
            );
        }
        // Prefix rules must be reachable: none is shadowed by an earlier, shorter one.
        for (i, (prefix, _)) in PREFIXES.iter().enumerate() {
            assert!(
                !PREFIXES[..i]
                    .iter()
                    .any(|(earlier, _)| prefix.starts_with(earlier)),
                "{prefix} is shadowed by an earlier rule"
            );
        }
    }

    #[test]
    fn detections_are_alerts() {
        assert_eq!(event_kind("security.threat.detected"), "alert");
        assert_eq!(event_kind("app.oauth2.as.token.detect_reuse"), "alert");
        assert_eq!(event_kind("security.request.blocked"), "event");
        assert_eq!(event_kind("user.session.start"), "event");
        for alert in ALERTS {
            let class = classify(alert);
            assert!(!class.category.is_empty(), "{alert}");
        }
    }
}

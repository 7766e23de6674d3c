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

/// Exact eventTypes. The `app.*`, `credential.*` and `user.session.*` rows
/// are Sekoia.io's table; the rest are ours.
fn exact(event_type: &str) -> Option<Class> {
    Some(match event_type {
        // Sessions (Sekoia: user.session.* is [session] with a type table).
        "user.session.start" => SESSION_START,
        "user.session.end" | "user.session.clear" | "user.session.expire" => SESSION_END,
        "user.session.impersonation.initiate" => SESSION_START,
        "user.session.impersonation.end" => SESSION_END,
        // Sekoia gives [session]/[creation|deletion]; ECS does not allow those
        // types for `session`, so the grant/revoke of impersonation rights is iam/admin.
        "user.session.impersonation.grant" => ADMIN_CREATION,
        "user.session.impersonation.revoke" => ADMIN_DELETION,
        "user.session.impersonation.extend" => ADMIN_CHANGE,
        // Multi-factor enrolment.
        "user.mfa.factor.activate" => USER_CREATION,
        "user.mfa.factor.deactivate" | "user.mfa.factor.reset_all" => USER_DELETION,
        "user.mfa.factor.suspend" | "user.mfa.factor.unsuspend" | "user.mfa.factor.update" => {
            USER_CHANGE
        }
        // User lifecycle.
        "user.lifecycle.create" => USER_CREATION,
        "user.lifecycle.delete.initiated" | "user.lifecycle.delete.completed" => USER_DELETION,
        // Groups.
        "group.user_membership.add" | "group.user_membership.remove" => GROUP_CHANGE,
        "group.lifecycle.create" => GROUP_CREATION,
        "group.lifecycle.delete" => GROUP_DELETION,
        // Applications.
        "application.lifecycle.create" => CONF_CREATION,
        "application.lifecycle.delete" => CONF_DELETION,
        "application.user_membership.add" | "application.user_membership.remove" => USER_CHANGE,
        // Sekoia.io's app.* / credential.* table (category iam unless noted).
        "app.oauth2.as.authorize"
        | "app.oauth2.authorize.code"
        | "app.oauth2.signon"
        | "app.oauth2.token.grant.access_token"
        | "app.inbound_del_auth.login_success" => SESSION_START,
        "app.oauth2.as.token.grant" => SESSION_INFO,
        // Sekoia gives iam/[end], which ECS does not allow for iam.
        "app.oauth2.token.grant.revoke" => SESSION_END,
        "app.access_request.approver.approve"
        | "app.access_request.approver.deny"
        | "app.oauth2.admin.consent.grant"
        | "app.oauth2.admin.consent.revoke" => ADMIN_CHANGE,
        "app.access_request.approver.delete" => ADMIN_DELETION,
        "app.access_request.request"
        | "app.keys.clone"
        | "app.keys.generate"
        | "app.oauth2.api_resource.create" => c(&["iam"], &["creation"]),
        "app.access_request.grant"
        | "app.access_request.deny"
        | "app.access_request.expire"
        | "app.keys.rotate"
        | "app.oauth2.api_resource.update" => IAM_CHANGE,
        "app.oauth2.api_resource.delete" => c(&["iam"], &["deletion"]),
        "app.ldap.password.change.failed" => c(&["iam"], &["change", "user"]),
        "app.oauth2.as.consent.grant"
        | "app.oauth2.as.consent.revoke"
        | "app.oauth2.as.consent.revoke.user" => c(&["iam"], &["user", "change"]),
        "credential.register" => USER_CREATION,
        "credential.revoke" => USER_DELETION,
        // API tokens.
        "system.api_token.create" => ADMIN_CREATION,
        "system.api_token.revoke" => ADMIN_DELETION,
        // Policies and network zones.
        "policy.lifecycle.create" | "policy.rule.add" | "policy.rule.create" | "zone.create" => {
            CONF_CREATION
        }
        "policy.lifecycle.delete" | "policy.rule.delete" | "zone.delete" => CONF_DELETION,
        "policy.evaluate_sign_on" => AUTH_INFO,
        // Threats.
        "security.threat.detected" => IDS_INFO,
        "security.request.blocked" => c(&["intrusion_detection", "network"], &["denied"]),
        // Active Directory agent.
        "system.agent.ad.create" => CONF_CREATION,
        "system.agent.ad.delete" => CONF_DELETION,
        _ => return None,
    })
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
    if let Some(class) = exact(event_type) {
        return class;
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
        ("app.oauth2.as.token.grant.id_token", &["iam"], &["info"]),
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

    #[test]
    fn every_class_uses_ecs_allowed_values() {
        let mut classes: Vec<(String, Class)> = PREFIXES
            .iter()
            .map(|(p, c)| ((*p).to_owned(), *c))
            .collect();
        classes.extend(
            FAMILIES
                .iter()
                .map(|(t, _, _)| ((*t).to_owned(), classify(t))),
        );
        for probe in [
            "app.keys.clone",
            "app.ldap.password.change.failed",
            "credential.revoke",
        ] {
            classes.push((probe.to_owned(), classify(probe)));
        }
        for (name, class) in classes {
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
}

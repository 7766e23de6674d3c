//! The built-in rules. Each one is a small struct with its own state type; the
//! [`crate::Detector`] holds the enabled ones and feeds them every event in order.

pub(crate) mod geo;
pub(crate) mod session;
pub(crate) mod single;
pub(crate) mod spray;
pub(crate) mod threshold;

use crate::alert::{RuleMeta, BUILTIN_RULESET};

/// Okta's documentation of its System Log event types.
const EVENT_TYPES_REF: &str = "https://developer.okta.com/docs/reference/api/event-types/";

/// `okta.admin_role_assigned`.
pub const ADMIN_ROLE_ASSIGNED: RuleMeta = RuleMeta {
    id: "okta.admin_role_assigned",
    name: "Okta administrator role assigned",
    description: "A user was granted an Okta administrator role (user.account.privilege.grant, \
                  SUCCESS, debugData.privilegeGranted names an administrator role).",
    reference:
        "https://help.okta.com/en-us/content/topics/security/administrators-admin-comparison.htm",
    ruleset: BUILTIN_RULESET,
    category: "iam",
};

/// `okta.api_key_created`.
pub const API_KEY_CREATED: RuleMeta = RuleMeta {
    id: "okta.api_key_created",
    name: "Okta API token created",
    description: "An Okta API token was created (system.api_token.create, SUCCESS).",
    reference: "https://help.okta.com/en-us/content/topics/security/api.htm",
    ruleset: BUILTIN_RULESET,
    category: "iam",
};

/// `okta.api_key_revoked`.
pub const API_KEY_REVOKED: RuleMeta = RuleMeta {
    id: "okta.api_key_revoked",
    name: "Okta API token revoked",
    description: "An Okta API token was revoked (system.api_token.revoke, SUCCESS).",
    reference: "https://help.okta.com/en-us/content/topics/security/api.htm",
    ruleset: BUILTIN_RULESET,
    category: "iam",
};

/// `okta.brute_force_logins`.
pub const BRUTE_FORCE_LOGINS: RuleMeta = RuleMeta {
    id: "okta.brute_force_logins",
    name: "Okta brute force logins",
    description: "Failed sign-ins (user.session.start, FAILURE, any reason) for one account \
                  reached the threshold within the sliding window.",
    reference: "https://support.okta.com/help/s/article/How-to-Configure-the-Number-of-Failed-Login-Attempts-Before-User-Lockout",
    ruleset: BUILTIN_RULESET,
    category: "authentication",
};

/// `okta.geo_improbable_access`.
pub const GEO_IMPROBABLE_ACCESS: RuleMeta = RuleMeta {
    id: "okta.geo_improbable_access",
    name: "Okta geographically improbable sign-in",
    description: "Two successful sign-ins of one user whose Okta geolocations are further \
                  apart than anyone can travel in the time between them.",
    reference: EVENT_TYPES_REF,
    ruleset: BUILTIN_RULESET,
    category: "authentication",
};

/// `okta.password_spraying`.
pub const PASSWORD_SPRAYING: RuleMeta = RuleMeta {
    id: "okta.password_spraying",
    name: "Okta password spraying",
    description: "One source IP failed to sign in to many distinct accounts within the \
                  sliding window.",
    reference: "https://attack.mitre.org/techniques/T1110/003/",
    ruleset: BUILTIN_RULESET,
    category: "authentication",
};

/// `okta.mfa_push_bombing`.
pub const MFA_PUSH_BOMBING: RuleMeta = RuleMeta {
    id: "okta.mfa_push_bombing",
    name: "Okta Verify push bombing",
    description: "One user rejected (or let time out) many Okta Verify push notifications \
                  within the sliding window: someone with the password is pushing until the \
                  user gives in.",
    reference: "https://attack.mitre.org/techniques/T1621/",
    ruleset: BUILTIN_RULESET,
    category: "authentication",
};

/// `okta.stolen_session`.
pub const STOLEN_SESSION: RuleMeta = RuleMeta {
    id: "okta.stolen_session",
    name: "Okta session used from a second network",
    description: "One Okta session (same externalSessionId or device token dtHash) was used \
                  from a second IP address and network (AS): the pattern of a stolen session \
                  cookie replayed elsewhere.",
    reference: "https://attack.mitre.org/techniques/T1539/",
    ruleset: BUILTIN_RULESET,
    category: "session",
};

/// Every built-in rule, in the order the detector runs them.
pub const BUILTIN_RULES: [RuleMeta; 8] = [
    ADMIN_ROLE_ASSIGNED,
    API_KEY_CREATED,
    API_KEY_REVOKED,
    BRUTE_FORCE_LOGINS,
    GEO_IMPROBABLE_ACCESS,
    PASSWORD_SPRAYING,
    MFA_PUSH_BOMBING,
    STOLEN_SESSION,
];

/// Milliseconds of a configured duration (saturating).
pub(crate) fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

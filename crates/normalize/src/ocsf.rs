//! The mapping of one [`LogEvent`] to an [OCSF 1.8.0](https://schema.ocsf.io/1.8.0/) event
//! (see the OCSF section of `docs/fields.md`).
//!
//! * One class per event, chosen by eventType family ([`choose`]): Authentication (3002),
//!   Account Change (3001), Authorize Session (3003), Entity Management (3004), User Access
//!   Management (3005), Group Management (3006), Detection Finding (2004) for Okta's own
//!   detections (ThreatInsight, Identity Threat Protection, what the event-type catalog marks
//!   as an alert), API Activity (6003) for everything else. A class whose required object
//!   the event cannot fill (no group target for Group Management, no privileges for User
//!   Access Management, ...) gives way to API Activity.
//! * Nothing is lost: every Okta member that has no OCSF attribute, and every value whose
//!   JSON type does not fit its attribute, is written under `unmapped` with its Okta name
//!   and nesting (`unmapped.client.geographicalContext.country`, `unmapped.debugContext`,
//!   the full `unmapped.target` list, unknown members, ...).
//! * Required attributes are always present and OCSF's constraints hold: a user Okta could
//!   not identify is named `unknown` (as Okta names it), API Activity without a client
//!   address has `src_endpoint.svc_name` `Okta`, a sign-in to Okta itself has `service.name`
//!   `Okta`.
//! * `observables` list the source IP, user names, email addresses and user agent.

use std::borrow::Cow;
use std::net::IpAddr;

use chrono::{DateTime, SubsecRound, Utc};

use crate::category::classify;
use crate::ecs::scalar_text;
use crate::error::NormalizeError;
use crate::geoip::{GeoFacts, GeoIp};
use crate::json::{Json, List, OktaObject};
use crate::kv;
use crate::model::{
    text, Actor, AuthenticationContext, Client, Envelope, Geo, Geolocation, IpChainEntry, Issuer,
    LogEvent, SecurityContext, Target, Transaction, UserAgent,
};
use crate::outcome::event_outcome;
use crate::profile::{
    write_device_details, write_stamp, write_user_details, write_users_details, DeviceLookup,
    Profiles, UserLookup,
};
use crate::timestamp;
use crate::user_agent::{os_name_and_version, UserAgentParser};
use crate::writer::{k, JsonWriter, Key};
use crate::{EventSummary, User};

/// The OCSF schema version written in `metadata.version`.
pub(crate) const OCSF_VERSION: &str = "1.8.0";
/// `metadata.product.name`.
const PRODUCT_NAME: &str = "Okta System Log";
/// `metadata.product.vendor_name`.
const VENDOR_NAME: &str = "Okta";
/// `metadata.labels` value when `time` is the fetch time.
const PUBLISHED_FALLBACK_LABEL: &str = crate::PUBLISHED_UNPARSABLE_TAG;

/// What the mapping needs besides the event.
pub(crate) struct Context<'n> {
    pub(crate) geoip: Option<&'n GeoIp>,
    pub(crate) user_agents: &'n mut UserAgentParser,
    /// When the event was fetched: `time` when `published` is unusable.
    pub(crate) fetched_at: Option<DateTime<Utc>>,
    /// Identity enrichment, when on.
    pub(crate) profiles: Option<&'n Profiles>,
}

/// The object a LogEvent arrived in, when it was not sent bare.
#[derive(Clone, Copy)]
pub(crate) enum Outer<'s, 'a> {
    /// `{"message": "<LogEvent JSON text>", ...}`: kept as `unmapped.wrapper`.
    Wrapper(&'s Envelope<'a>),
    /// AWS EventBridge envelope: kept as `unmapped.eventbridge`.
    EventBridge(&'s Envelope<'a>),
}

/// An OCSF event class used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OcsfClass {
    /// 3001.
    AccountChange,
    /// 3002.
    Authentication,
    /// 3003.
    AuthorizeSession,
    /// 3004.
    EntityManagement,
    /// 3005.
    UserAccess,
    /// 3006.
    GroupManagement,
    /// 2004.
    DetectionFinding,
    /// 6003.
    ApiActivity,
}

impl OcsfClass {
    /// `class_uid`.
    pub(crate) fn uid(self) -> u64 {
        match self {
            OcsfClass::AccountChange => 3001,
            OcsfClass::Authentication => 3002,
            OcsfClass::AuthorizeSession => 3003,
            OcsfClass::EntityManagement => 3004,
            OcsfClass::UserAccess => 3005,
            OcsfClass::GroupManagement => 3006,
            OcsfClass::DetectionFinding => 2004,
            OcsfClass::ApiActivity => 6003,
        }
    }

    fn name(self) -> &'static str {
        match self {
            OcsfClass::AccountChange => "Account Change",
            OcsfClass::Authentication => "Authentication",
            OcsfClass::AuthorizeSession => "Authorize Session",
            OcsfClass::EntityManagement => "Entity Management",
            OcsfClass::UserAccess => "User Access Management",
            OcsfClass::GroupManagement => "Group Management",
            OcsfClass::DetectionFinding => "Detection Finding",
            OcsfClass::ApiActivity => "API Activity",
        }
    }

    fn category(self) -> (u64, &'static str) {
        match self {
            OcsfClass::DetectionFinding => (2, "Findings"),
            OcsfClass::ApiActivity => (6, "Application Activity"),
            _ => (3, "Identity & Access Management"),
        }
    }

    /// The caption of `activity_id` (OCSF 1.8.0); 0 is Unknown and 99 Other everywhere.
    fn activity_name(self, id: u8) -> &'static str {
        const ACCOUNT: &[&str] = &[
            "Create",
            "Enable",
            "Password Change",
            "Password Reset",
            "Disable",
            "Delete",
            "Attach Policy",
            "Detach Policy",
            "Lock",
            "MFA Factor Enable",
            "MFA Factor Disable",
            "Unlock",
        ];
        const AUTHENTICATION: &[&str] = &[
            "Logon",
            "Logoff",
            "Authentication Ticket",
            "Service Ticket Request",
            "Service Ticket Renew",
            "Preauth",
            "Account Switch",
        ];
        const AUTHORIZE: &[&str] = &["Assign Privileges", "Assign Groups"];
        const ENTITY: &[&str] = &[
            "Create",
            "Read",
            "Update",
            "Delete",
            "Move",
            "Enroll",
            "Unenroll",
            "Enable",
            "Disable",
            "Activate",
            "Deactivate",
            "Suspend",
            "Resume",
        ];
        const ACCESS: &[&str] = &["Assign Privileges", "Revoke Privileges"];
        const GROUP: &[&str] = &[
            "Assign Privileges",
            "Revoke Privileges",
            "Add User",
            "Remove User",
            "Delete",
            "Create",
            "Add Subgroup",
            "Remove Subgroup",
        ];
        const FINDING: &[&str] = &["Create", "Update", "Close"];
        const API: &[&str] = &["Create", "Read", "Update", "Delete"];
        let names = match self {
            OcsfClass::AccountChange => ACCOUNT,
            OcsfClass::Authentication => AUTHENTICATION,
            OcsfClass::AuthorizeSession => AUTHORIZE,
            OcsfClass::EntityManagement => ENTITY,
            OcsfClass::UserAccess => ACCESS,
            OcsfClass::GroupManagement => GROUP,
            OcsfClass::DetectionFinding => FINDING,
            OcsfClass::ApiActivity => API,
        };
        match id {
            0 => "Unknown",
            n => names.get(usize::from(n) - 1).copied().unwrap_or("Other"),
        }
    }
}

/// The class and activity of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Choice {
    pub(crate) class: OcsfClass,
    pub(crate) activity: u8,
}

const OTHER: u8 = 99;

/// What [`choose`] may ask about the event besides its type.
#[derive(Default, Clone, Copy)]
pub(crate) struct Facts {
    /// debugData has privileges (`privilegeGranted` / `privilegeRevoked`).
    pub(crate) privileges: bool,
    /// debugData has OAuth 2.0 `grantedScopes`.
    pub(crate) scopes: bool,
    /// A target of type `UserGroup`.
    pub(crate) group_target: bool,
    /// A target with an id or a name (one OCSF can name as the managed entity).
    pub(crate) any_target: bool,
}

/// The last segment of an eventType.
fn last(event_type: &str) -> &str {
    event_type.rsplit('.').next().unwrap_or(event_type)
}

/// True when `last` is `verb` or starts with `verb_`.
fn is_verb(last: &str, verbs: &[&str]) -> bool {
    verbs.iter().any(|v| {
        last.strip_prefix(v)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('_'))
    })
}

/// The class and activity of `event_type` (the table in `docs/fields.md`, OCSF section).
pub(crate) fn choose(event_type: &str, facts: Facts) -> Choice {
    let pick = |class, activity| Choice { class, activity };
    let verb = last(event_type);
    let starts = |p: &str| event_type.starts_with(p);

    // Okta's own detections.
    // (Not their configuration: `security.threat.configuration.*`,
    // `security.events.provider.create` ... are administration.)
    if event_type == "security.threat.detected"
        || event_type == "security.events.provider.receive_event"
        || starts("security.attack.")
        || starts("user.risk.")
        || classify(event_type).alert
    {
        return pick(OcsfClass::DetectionFinding, 1);
    }

    // Sign-in, sign-out, factor verification, sign-on policy.
    if starts("user.session.") {
        let activity = match event_type {
            "user.session.start" => 1,
            "user.session.end" | "user.session.expire" | "user.session.clear" => 2,
            "user.session.impersonation.initiate" => 7,
            "user.session.impersonation.end" => 2,
            _ => OTHER,
        };
        return pick(OcsfClass::Authentication, activity);
    }
    if starts("user.authentication.") {
        // Single and universal logout end sessions; every other step signs in.
        let logout =
            verb == "slo" || event_type.starts_with("user.authentication.universal_logout");
        return pick(OcsfClass::Authentication, if logout { 2 } else { 1 });
    }
    match event_type {
        "user.device_session.start" => return pick(OcsfClass::Authentication, 1),
        "user.device_session.end" => return pick(OcsfClass::Authentication, 2),
        _ => {}
    }
    if event_type == "policy.evaluate_sign_on"
        || event_type == "user.mfa.attempt_bypass"
        || starts("user.mfa.okta_verify")
    {
        return pick(OcsfClass::Authentication, OTHER);
    }

    // Privileges of a user.
    if event_type == "user.account.privilege.grant" && facts.privileges {
        return pick(OcsfClass::UserAccess, 1);
    }
    if event_type == "user.account.privilege.revoke" && facts.privileges {
        return pick(OcsfClass::UserAccess, 2);
    }

    // OAuth 2.0 tokens granted with scopes: privileges of the new session.
    if (starts("app.oauth2.as.token.grant") || starts("app.oauth2.token.grant")) && facts.scopes {
        return pick(OcsfClass::AuthorizeSession, 1);
    }

    // The user account.
    if (starts("user.lifecycle.") || starts("user.account.") || starts("user.mfa.factor."))
        && !starts("user.account.privilege.")
    {
        let activity = if starts("user.mfa.factor.") {
            match verb {
                "activate" | "unsuspend" => 10,
                "deactivate" | "reset_all" | "suspend" => 11,
                _ => OTHER,
            }
        } else if starts("user.lifecycle.delete") {
            6
        } else {
            match verb {
                "create" => 1,
                "activate" | "reactivate" | "unsuspend" => 2,
                "update_password" => 3,
                "reset_password" | "password_reset" | "expire_password" => 4,
                "deactivate" | "suspend" => 5,
                "delete" => 6,
                "lock" | "limit" => 9,
                "unlock" | "unlock_by_admin" => 12,
                _ => OTHER,
            }
        };
        return pick(OcsfClass::AccountChange, activity);
    }

    // Groups.
    if starts("group.") && facts.group_target {
        let activity = match event_type {
            "group.user_membership.add" => Some(3),
            "group.user_membership.remove" => Some(4),
            "group.lifecycle.create" => Some(6),
            "group.lifecycle.delete" => Some(5),
            "group.privilege.grant" => Some(1),
            "group.privilege.revoke" => Some(2),
            _ => None,
        };
        if let Some(activity) = activity {
            return pick(OcsfClass::GroupManagement, activity);
        }
    }

    // Okta objects an administrator manages.
    const MANAGED: &[&str] = &[
        "application.lifecycle.",
        "application.user_membership.",
        "device.",
        "group.",
        "iam.resourceset.",
        "iam.role.",
        "policy.branch.",
        "policy.lifecycle.",
        "policy.mapping.",
        "policy.rule.",
        "security.authenticator.lifecycle.",
        "security.trusted_origin.",
        "system.api_token.",
        "system.idp.",
        "zone.",
    ];
    if facts.any_target && MANAGED.iter().any(|p| starts(p)) {
        return pick(OcsfClass::EntityManagement, entity_activity(verb));
    }

    // The verb is the last segment, or the one before (`token.grant.access_token`).
    let before = event_type.rsplit('.').nth(1).unwrap_or("");
    let activity = match api_activity(verb) {
        OTHER => api_activity(before),
        a => a,
    };
    pick(OcsfClass::ApiActivity, activity)
}

/// Entity Management `activity_id` from the verb of an eventType.
fn entity_activity(verb: &str) -> u8 {
    match verb {
        _ if is_verb(verb, &["create", "add"]) => 1,
        _ if is_verb(verb, &["read", "view", "list", "search", "export"]) => 2,
        _ if is_verb(verb, &["deactivate"]) => 11,
        _ if is_verb(verb, &["activate"]) => 10,
        _ if is_verb(verb, &["unsuspend", "resume"]) => 13,
        _ if is_verb(verb, &["suspend"]) => 12,
        _ if is_verb(verb, &["unenroll"]) => 7,
        _ if is_verb(verb, &["enroll"]) => 6,
        _ if is_verb(verb, &["delete", "remove", "revoke"]) => 4,
        _ if is_verb(
            verb,
            &["update", "change", "make", "modify", "set", "rename"],
        ) =>
        {
            3
        }
        _ => OTHER,
    }
}

/// API Activity `activity_id` from the verb of an eventType.
fn api_activity(verb: &str) -> u8 {
    match verb {
        _ if is_verb(
            verb,
            &["create", "add", "grant", "register", "enroll", "generate"],
        ) =>
        {
            1
        }
        _ if is_verb(verb, &["read", "view", "list", "search", "export", "get"]) => 2,
        _ if is_verb(
            verb,
            &[
                "update",
                "change",
                "activate",
                "deactivate",
                "modify",
                "set",
                "suspend",
                "unsuspend",
                "reset",
            ],
        ) =>
        {
            3
        }
        _ if is_verb(verb, &["delete", "remove", "revoke"]) => 4,
        _ => OTHER,
    }
}

/// `severity_id` and `severity` for an Okta severity: DEBUG and INFO 1
/// (Informational), WARN 3 (Medium), ERROR 4 (High); missing 0 (Unknown); anything else 99
/// (Other, `severity` is Okta's text).
fn severity(okta: Option<&str>) -> (u64, Cow<'_, str>) {
    let Some(s) = okta else {
        return (0, Cow::Borrowed("Unknown"));
    };
    const LEVELS: &[(&str, u64, &str)] = &[
        ("DEBUG", 1, "Informational"),
        ("INFO", 1, "Informational"),
        ("WARN", 3, "Medium"),
        ("WARNING", 3, "Medium"),
        ("ERROR", 4, "High"),
    ];
    match LEVELS.iter().find(|(n, _, _)| n.eq_ignore_ascii_case(s)) {
        Some((_, id, caption)) => (*id, Cow::Borrowed(*caption)),
        None => (OTHER.into(), Cow::Borrowed(s)),
    }
}

/// `status_id` and `status` for an Okta `outcome.result`: success 1, failure 2 (as
/// `event.outcome`), missing 0, anything else (SKIPPED, CHALLENGE, ...) 99 with Okta's text.
fn status(result: Option<&str>) -> (u64, &str) {
    match result {
        None => (0, "Unknown"),
        Some(r) => match event_outcome(r) {
            "success" => (1, "Success"),
            "failure" => (2, "Failure"),
            _ => (OTHER.into(), r),
        },
    }
}

/// `risk_level_id` and `risk_level` for an Okta risk level.
fn risk_level(level: &str) -> (u64, &str) {
    const LEVELS: &[(&str, u64, &str)] = &[
        ("NONE", 0, "Info"),
        ("INFO", 0, "Info"),
        ("LOW", 1, "Low"),
        ("MEDIUM", 2, "Medium"),
        ("HIGH", 3, "High"),
        ("CRITICAL", 4, "Critical"),
    ];
    match LEVELS
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(level))
    {
        Some((_, id, caption)) => (*id, caption),
        None => (OTHER.into(), level),
    }
}

/// `user.type_id` for an Okta actor / target type.
fn user_type_id(kind: Option<&str>) -> u64 {
    match kind {
        Some("User") => 1,
        Some("SystemPrincipal") => 3,
        Some("PublicClientApp") => 4,
        None => 0,
        Some(_) => 99,
    }
}

/// `os.type_id` for an OS name.
fn os_type_id(name: &str) -> u64 {
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("windows phone") || lower.starts_with("windows mobile") {
        101
    } else if lower.starts_with("windows") {
        100
    } else if lower.starts_with("android") {
        201
    } else if lower.starts_with("ipados") || lower == "ipad" {
        302
    } else if lower.starts_with("ios") || lower == "iphone" {
        301
    } else if lower.starts_with("mac") {
        300
    } else if lower.contains("linux") || lower.contains("ubuntu") || lower.contains("chrome os") {
        200
    } else {
        99
    }
}

/// `managed_entity.type_id` for an Okta target type.
fn entity_type_id(kind: Option<&str>) -> u64 {
    match kind {
        Some("Device") => 1,
        Some("User") => 2,
        Some("UserGroup") => 3,
        Some("PolicyEntity" | "PolicyRule" | "Policy") => 5,
        Some("NetworkZone" | "Zone") => 7,
        None => 0,
        Some(_) => 99,
    }
}

/// The typed object of an optional member, when it is an object.
fn obj<'s, 'a: 's, T: OktaObject<'a>>(value: &'s Option<T>) -> Option<&'s T> {
    value.as_ref().filter(|v| v.other().is_none())
}

/// The items of an optional array member.
fn items<'s, 'a, T>(value: &'s Option<List<'a, T>>) -> &'s [T] {
    value.as_ref().map_or(&[][..], |l| &l.items)
}

/// The first target (an object) whose type is one of `kinds`.
fn first_target<'s, 'a>(targets: &'s [Target<'a>], kinds: &[&str]) -> Option<&'s Target<'a>> {
    targets
        .iter()
        .find(|t| t.other.is_none() && text(&t.kind).is_some_and(|k| kinds.contains(&k)))
}

/// A target OCSF can name as a managed entity: an object with an `id` or a
/// `displayName` (the entity's `at_least_one` of uid and name).
fn names_an_entity(t: &Target<'_>) -> bool {
    t.other.is_none()
        && (text(&t.id).is_some_and(|s| !s.is_empty())
            || text(&t.display_name).is_some_and(|s| !s.is_empty()))
}

/// debugData member `key`, when it is a non-empty string.
fn debug_str<'s>(debug_data: &'s [(Cow<'_, str>, Json<'_>)], key: &str) -> Option<&'s str> {
    debug_data
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| match v {
            Json::Str(s) if !s.trim().is_empty() => Some(s.as_ref()),
            _ => None,
        })
}

/// `{key=value}` pairs of debugData `risk` (text or object).
fn risk_pairs<'s>(debug_data: &'s [(Cow<'_, str>, Json<'_>)]) -> Vec<(Cow<'s, str>, Cow<'s, str>)> {
    let Some((_, value)) = debug_data.iter().rev().find(|(k, _)| k == "risk") else {
        return Vec::new();
    };
    match value {
        Json::Str(s) => kv::parse(s).unwrap_or_default(),
        Json::Obj(members) => members
            .iter()
            .filter_map(|(k, v)| Some((Cow::Borrowed(k.as_ref()), scalar_text(v)?)))
            .collect(),
        _ => Vec::new(),
    }
}

fn pair<'p>(pairs: &'p [(Cow<'_, str>, Cow<'_, str>)], key: &str) -> Option<&'p str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_ref())
        .filter(|v| !v.is_empty())
}

/// Maps `ev` and appends its OCSF event to `out`. `original` is the raw LogEvent text for
/// `raw_data`, when wanted. On error nothing is written.
pub(crate) fn write_event(
    cx: &mut Context<'_>,
    ev: &LogEvent<'_>,
    outer: Option<Outer<'_, '_>>,
    original: Option<&str>,
    out: &mut Vec<u8>,
) -> Result<EventSummary, NormalizeError> {
    let id = text(&ev.uuid).ok_or(NormalizeError::MissingField("uuid"))?;
    let event_type = text(&ev.event_type).ok_or(NormalizeError::MissingField("eventType"))?;
    let published_text = text(&ev.published);
    let parsed = match published_text {
        Some(t) => timestamp::parse(t).map_err(|reason| NormalizeError::InvalidField {
            field: "published",
            reason,
        }),
        None => Err(NormalizeError::MissingField("published")),
    };
    let (published, fallback) = match (parsed, cx.fetched_at) {
        (Ok(t), _) => (t, false),
        (Err(_), Some(fetched_at)) => (fetched_at, true),
        (Err(e), None) => return Err(e),
    };

    let actor = obj(&ev.actor);
    let client = obj(&ev.client);
    let security = obj(&ev.security_context);
    let auth = obj(&ev.authentication_context);
    let outcome = obj(&ev.outcome);
    let targets = items(&ev.target);
    let debug_data: &[(Cow<'_, str>, Json<'_>)] =
        match obj(&ev.debug_context).and_then(|d| d.debug_data.as_ref()) {
            Some(Json::Obj(members)) => members,
            _ => &[],
        };
    let privileges: Vec<&str> = ["privilegeGranted", "privilegeRevoked"]
        .iter()
        .filter_map(|key| debug_str(debug_data, key))
        .flat_map(|list| list.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let scopes: Vec<&str> = debug_str(debug_data, "grantedScopes")
        .map(|s| s.split_whitespace().collect())
        .unwrap_or_default();
    let user_target =
        first_target(targets, &["User"]).or_else(|| first_target(targets, &["AppUser"]));
    let group_target = first_target(targets, &["UserGroup"]);
    let app_target = first_target(targets, &["AppInstance"]);
    let choice = choose(
        event_type,
        Facts {
            privileges: !privileges.is_empty(),
            scopes: !scopes.is_empty(),
            group_target: group_target.is_some(),
            any_target: targets.iter().any(names_an_entity),
        },
    );
    let class = choice.class;
    let finding = class == OcsfClass::DetectionFinding;

    // Source address facts.
    let ip_text = client.and_then(|c| text(&c.ip_address)).map(str::trim);
    let ip: Option<IpAddr> = ip_text.and_then(|s| s.parse().ok());
    let facts = match (cx.geoip, ip) {
        (Some(g), Some(ip)) => g.lookup(ip),
        _ => GeoFacts::default(),
    };
    let raw_ua = client
        .and_then(|c| obj(&c.user_agent))
        .and_then(|ua| text(&ua.raw_user_agent));
    let okta_os = client
        .and_then(|c| obj(&c.user_agent))
        .and_then(|ua| text(&ua.os))
        .filter(|os| !os.eq_ignore_ascii_case("unknown"));
    let ua_info = raw_ua.map(|raw| cx.user_agents.parse(raw));
    let os: Option<(&str, Option<&str>)> =
        match ua_info.as_deref().and_then(|i| i.os_name.as_deref()) {
            Some(name) => Some((
                name,
                ua_info.as_deref().and_then(|i| i.os_version.as_deref()),
            )),
            None => okta_os.map(os_name_and_version),
        };
    let external_session = auth
        .and_then(|a| text(&a.external_session_id))
        .filter(|s| !s.eq_ignore_ascii_case("unknown"));
    let risk = risk_pairs(debug_data);

    let start = out.len();
    let mut w = JsonWriter::new(out);
    let (category_uid, category_name) = class.category();
    let activity_name = class.activity_name(choice.activity);
    w.u64(k!("activity_id"), Some(choice.activity.into()));
    w.str(k!("activity_name"), Some(activity_name));
    w.u64(k!("category_uid"), Some(category_uid));
    w.str(k!("category_name"), Some(category_name));
    w.u64(k!("class_uid"), Some(class.uid()));
    w.str(k!("class_name"), Some(class.name()));
    w.u64(
        k!("type_uid"),
        Some(class.uid() * 100 + u64::from(choice.activity)),
    );
    let type_name = format!("{}: {activity_name}", class.name());
    w.str(k!("type_name"), Some(&type_name));
    let okta_severity = text(&ev.severity);
    let (severity_id, severity_text) = severity(okta_severity);
    w.u64(k!("severity_id"), Some(severity_id));
    w.str(k!("severity"), Some(&severity_text));
    w.json(
        k!("time"),
        Some(&Json::Num(published.timestamp_millis().into())),
    );
    w.text(k!("message"), &ev.display_message);
    w.str(k!("raw_data"), original);

    // Outcome: a finding's status is its own life cycle, so only the code and detail.
    let result = outcome.and_then(|o| text(&o.result));
    if !finding {
        let (status_id, status_text) = status(result);
        w.u64(k!("status_id"), Some(status_id));
        w.str(k!("status"), Some(status_text));
    }
    w.str(k!("status_code"), result);
    w.str(k!("status_detail"), outcome.and_then(|o| text(&o.reason)));

    // metadata
    w.open_object(k!("metadata"));
    w.str(k!("version"), Some(OCSF_VERSION));
    w.open_object(k!("product"));
    w.str(k!("name"), Some(PRODUCT_NAME));
    w.str(k!("vendor_name"), Some(VENDOR_NAME));
    w.close();
    w.str(k!("uid"), Some(id));
    w.str(k!("original_time"), published_text);
    w.str(k!("event_code"), Some(event_type));
    w.str(k!("log_name"), Some("System Log"));
    w.str(k!("log_level"), okta_severity);
    w.text(k!("log_version"), &ev.version);
    w.str(
        k!("correlation_uid"),
        obj(&ev.transaction).and_then(|t| text(&t.id)),
    );
    if fallback {
        w.str_array(k!("labels"), [PUBLISHED_FALLBACK_LABEL]);
    }
    w.close();

    // Who, from where.
    let parts = Parts {
        actor,
        client,
        security,
        ip_text,
        ip,
        facts: &facts,
        os,
        raw_ua,
        ip_chain: obj(&ev.request).map_or(&[][..], |r| items(&r.ip_chain)),
        located: client
            .and_then(|c| obj(&c.geographical_context))
            .is_some_and(|g| {
                [&g.city, &g.state, &g.postal_code]
                    .iter()
                    .any(|t| text(t).is_some())
            })
            || facts.city_name.is_some()
            || facts.region_name.is_some()
            || facts.postal_code.is_some()
            || facts.country_iso_code.is_some(),
        endpoint: ip.is_some()
            || security.and_then(|s| text(&s.domain)).is_some()
            || (class == OcsfClass::ApiActivity && !finding),
        request_uri: debug_str(debug_data, "requestUri"),
        external_session,
        enrichment: cx.profiles.map(|profiles| {
            let actor_id = actor
                .filter(|a| text(&a.kind) == Some("User"))
                .and_then(|a| text(&a.id));
            let target_id = first_target(targets, &["User"]).and_then(|t| text(&t.id));
            let device_id = match ev.device.as_ref() {
                Some(Json::Obj(members)) => {
                    members
                        .iter()
                        .rev()
                        .find_map(|(k, v)| match (k.as_ref(), v) {
                            ("id", Json::Str(id)) => Some(id.as_ref()),
                            _ => None,
                        })
                }
                _ => None,
            };
            Enrichment {
                profiles,
                actor: profiles.lookup_user(actor_id),
                target: profiles.lookup_user(target_id),
                device: profiles.lookup_device(device_id),
                published,
            }
        }),
    };
    if finding {
        write_finding(&mut w, ev, event_type, id, published, &risk, debug_data);
        w.open_array(k!("evidences"));
        w.open_object(k!(""));
        write_actor(&mut w, &parts, true);
        write_src_endpoint(&mut w, &parts);
        write_http_request(&mut w, &parts);
        if let Some(t) = user_target {
            write_target_user(&mut w, k!("user"), t);
        }
        w.close();
        w.close();
        write_resources(&mut w, targets);
    } else {
        write_actor(&mut w, &parts, class != OcsfClass::Authentication);
        write_src_endpoint(&mut w, &parts);
        write_http_request(&mut w, &parts);
    }

    // The class's own attributes.
    match class {
        OcsfClass::Authentication => {
            // Who signs in is an Okta user: an app account (AppUser, the SSO target) is not.
            write_user(&mut w, first_target(targets, &["User"]), actor);
            w.open_object(k!("session"));
            w.str(k!("uid"), external_session);
            w.close();
            // What is signed in to: the app (SSO), else Okta itself (OCSF wants a service or
            // a destination endpoint).
            w.open_object(k!("service"));
            match app_target {
                Some(app) => {
                    w.text(k!("uid"), &app.id);
                    w.text(k!("name"), &app.display_name);
                }
                None => w.str(k!("name"), Some("Okta")),
            }
            w.close();
            let mfa = event_type == "user.authentication.auth_via_mfa"
                || auth.and_then(|a| text(&a.authentication_provider)) == Some("FACTOR_PROVIDER");
            if mfa {
                w.bool(k!("is_mfa"), Some(true));
            }
        }
        OcsfClass::AccountChange => write_user(&mut w, user_target, actor),
        OcsfClass::AuthorizeSession => {
            write_user(&mut w, user_target, actor);
            w.str_array(k!("privileges"), scopes.iter().copied());
            w.open_object(k!("session"));
            w.str(k!("uid"), external_session);
            w.close();
        }
        OcsfClass::UserAccess => {
            write_user(&mut w, user_target, actor);
            w.str_array(k!("privileges"), privileges.iter().copied());
        }
        OcsfClass::GroupManagement => {
            if let Some(g) = group_target {
                w.open_object(k!("group"));
                w.text(k!("uid"), &g.id);
                w.text(k!("name"), &g.display_name);
                w.close();
            }
            if let Some(u) = first_target(targets, &["User"]) {
                write_target_user(&mut w, k!("user"), u);
            }
        }
        OcsfClass::EntityManagement => {
            let entity = first_target(targets, &["AppUser"])
                .filter(|t| {
                    event_type.starts_with("application.user_membership.") && names_an_entity(t)
                })
                .or_else(|| targets.iter().find(|t| names_an_entity(t)));
            if let Some(e) = entity {
                w.open_object(k!("entity"));
                w.text(k!("uid"), &e.id);
                w.text(k!("name"), &e.display_name);
                w.text(k!("type"), &e.kind);
                w.u64(k!("type_id"), Some(entity_type_id(text(&e.kind))));
                w.close();
            }
        }
        OcsfClass::ApiActivity => {
            w.open_object(k!("api"));
            w.str(k!("operation"), Some(event_type));
            w.open_object(k!("service"));
            w.str(k!("name"), Some("Okta"));
            w.close();
            w.open_object(k!("request"));
            w.str(k!("uid"), debug_str(debug_data, "requestId"));
            w.close();
            w.close();
            write_resources(&mut w, targets);
        }
        OcsfClass::DetectionFinding => {}
    }

    // The alternateId of the `user` written above, for the observables.
    let user_alternate_id = match class {
        OcsfClass::Authentication => user_alternate_id_of(first_target(targets, &["User"]), actor),
        OcsfClass::AccountChange | OcsfClass::AuthorizeSession | OcsfClass::UserAccess => {
            user_alternate_id_of(user_target, actor)
        }
        OcsfClass::GroupManagement => {
            first_target(targets, &["User"]).and_then(|t| text(&t.alternate_id))
        }
        OcsfClass::DetectionFinding => user_target.and_then(|t| text(&t.alternate_id)),
        OcsfClass::EntityManagement | OcsfClass::ApiActivity => None,
    };
    write_observables(&mut w, finding, &parts, user_alternate_id);

    w.open_object(k!("unmapped"));
    write_unmapped(&mut w, ev, outer, &parts);
    w.close();
    w.finish();
    debug_assert!(out.len() > start);

    Ok(EventSummary {
        id: id.to_owned(),
        published: published.trunc_subsecs(6),
        category: classify(event_type)
            .category
            .first()
            .copied()
            .unwrap_or("iam"),
        published_fallback: fallback,
    })
}

/// The parts of the event several writers need, already validated.
struct Parts<'s, 'a> {
    actor: Option<&'s Actor<'a>>,
    client: Option<&'s Client<'a>>,
    security: Option<&'s SecurityContext<'a>>,
    ip_text: Option<&'s str>,
    ip: Option<IpAddr>,
    facts: &'s GeoFacts,
    os: Option<(&'s str, Option<&'s str>)>,
    raw_ua: Option<&'s str>,
    ip_chain: &'s [IpChainEntry<'a>],
    /// The client location has a place (city, region, postal code or country): only then
    /// are coordinates `src_endpoint.location.lat`/`long` (OCSF wants a place).
    located: bool,
    /// `src_endpoint` is written: the client has an address or a domain, or the class
    /// requires the object (API Activity, then named `Okta`). Otherwise OCSF's
    /// `at_least_one` cannot hold, and the client's members stay under `unmapped`.
    endpoint: bool,
    request_uri: Option<&'s str>,
    external_session: Option<&'s str>,
    /// Identity enrichment of this event, when on.
    enrichment: Option<Enrichment<'s>>,
}

/// The profiles joined onto one event.
struct Enrichment<'p> {
    profiles: &'p Profiles,
    actor: UserLookup<'p>,
    target: UserLookup<'p>,
    device: DeviceLookup<'p>,
    published: DateTime<Utc>,
}

impl Parts<'_, '_> {
    fn actor_profile(&self) -> Option<User<'_>> {
        match self.enrichment.as_ref().map(|e| &e.actor) {
            Some(UserLookup::Found(p)) => Some(*p),
            _ => None,
        }
    }
}

/// A value that is not Okta's placeholder `unknown` (such values stay under `unmapped`).
fn known(s: &str) -> bool {
    !s.eq_ignore_ascii_case("unknown")
}

/// The alternateId of the `user` [`write_user`] writes for `target` and `actor`.
fn user_alternate_id_of<'s>(
    target: Option<&'s Target<'_>>,
    actor: Option<&'s Actor<'_>>,
) -> Option<&'s str> {
    match target {
        Some(t) => text(&t.alternate_id),
        None => actor.and_then(|a| text(&a.alternate_id)),
    }
}

/// `user.name` of a user without a known name or id (Okta's own placeholder).
const UNKNOWN_USER: &str = "unknown";

/// `user.name` and `user.email_addr` from an Okta `alternateId`.
fn name_and_email(alternate_id: Option<&str>) -> (Option<&str>, Option<&str>) {
    let name = alternate_id.filter(|s| known(s));
    let email = name.filter(|a| a.contains('@') && !a.contains(char::is_whitespace));
    (name, email)
}

/// `observables`: the IP address, user names, email addresses and user agent of the event,
/// each with the attribute it is at (`name`).
fn write_observables(
    w: &mut JsonWriter<'_>,
    finding: bool,
    p: &Parts<'_, '_>,
    user_alternate_id: Option<&str>,
) {
    let actor_alternate_id = p.actor.and_then(|a| text(&a.alternate_id));
    let (actor_name, actor_email) = name_and_email(actor_alternate_id);
    let (user_name, user_email) = name_and_email(user_alternate_id);
    let at =
        |plain: &'static str, in_finding: &'static str| if finding { in_finding } else { plain };
    let all = [
        (
            at("src_endpoint.ip", "evidences[0].src_endpoint.ip"),
            2,
            "IP Address",
            p.ip.and(p.ip_text),
        ),
        (
            at("actor.user.name", "evidences[0].actor.user.name"),
            4,
            "User Name",
            actor_name,
        ),
        (
            at(
                "actor.user.email_addr",
                "evidences[0].actor.user.email_addr",
            ),
            5,
            "Email Address",
            actor_email,
        ),
        (
            at("user.name", "evidences[0].user.name"),
            4,
            "User Name",
            user_name,
        ),
        (
            at("user.email_addr", "evidences[0].user.email_addr"),
            5,
            "Email Address",
            user_email,
        ),
        (
            at(
                "http_request.user_agent",
                "evidences[0].http_request.user_agent",
            ),
            16,
            "HTTP User-Agent",
            p.raw_ua,
        ),
    ];
    w.open_array(k!("observables"));
    for (name, type_id, kind, value) in all {
        if let Some(value) = value {
            w.open_object(k!(""));
            w.str(k!("name"), Some(name));
            w.u64(k!("type_id"), Some(type_id));
            w.str(k!("type"), Some(kind));
            w.str(k!("value"), Some(value));
            w.close();
        }
    }
    w.close();
}

/// `user` from an Okta actor or target (same members); placeholders left out.
fn write_okta_user(
    w: &mut JsonWriter<'_>,
    key: Key<'_>,
    id: Option<&str>,
    kind: Option<&str>,
    alternate_id: Option<&str>,
    display_name: Option<&str>,
    profile: Option<User<'_>>,
) {
    let (name, email) = name_and_email(alternate_id);
    let email = email.or(profile.and_then(|p| p.email()));
    let id = id.filter(|s| known(s));
    // OCSF wants a name or uid: a user Okta could not identify is named as Okta does.
    let name = match (id, name) {
        (None, None) => Some(UNKNOWN_USER),
        (_, name) => name,
    };
    w.open_object(key);
    w.str(k!("uid"), id);
    w.str(k!("name"), name);
    w.str(k!("email_addr"), email);
    let display_name = display_name.filter(|s| known(s));
    w.str(k!("full_name"), display_name);
    w.str(k!("type"), kind);
    w.u64(k!("type_id"), Some(user_type_id(kind)));
    if let Some(p) = profile {
        w.open_array(k!("groups"));
        for group in p.groups() {
            w.open_object(k!(""));
            w.str(k!("name"), Some(group));
            w.close();
        }
        w.close();
        w.open_object(k!("org"));
        w.str(k!("name"), p.organization());
        w.str(k!("ou_name"), p.department());
        w.close();
        w.open_object(k!("ldap_person"));
        w.str(k!("job_title"), p.title());
        w.str(k!("employee_uid"), p.employee_number());
        w.str(k!("given_name"), p.first_name());
        w.str(k!("surname"), p.last_name());
        w.close();
    }
    w.close();
}

fn write_target_user(w: &mut JsonWriter<'_>, key: Key<'_>, t: &Target<'_>) {
    write_okta_user(
        w,
        key,
        text(&t.id),
        text(&t.kind),
        text(&t.alternate_id),
        text(&t.display_name),
        None,
    );
}

fn write_actor_user(
    w: &mut JsonWriter<'_>,
    key: Key<'_>,
    a: &Actor<'_>,
    profile: Option<User<'_>>,
) {
    write_okta_user(
        w,
        key,
        text(&a.id),
        text(&a.kind),
        text(&a.alternate_id),
        text(&a.display_name),
        profile,
    );
}

/// The class's `user` (required): the User target, else the app account, else the actor,
/// else a user of type Unknown.
fn write_user(w: &mut JsonWriter<'_>, target: Option<&Target<'_>>, actor: Option<&Actor<'_>>) {
    match (target, actor) {
        (Some(t), _) => write_target_user(w, k!("user"), t),
        (None, Some(a)) => write_actor_user(w, k!("user"), a, None),
        (None, None) => write_okta_user(w, k!("user"), None, None, None, None, None),
    }
}

fn write_actor(w: &mut JsonWriter<'_>, p: &Parts<'_, '_>, with_session: bool) {
    w.open_object(k!("actor"));
    match p.actor {
        Some(a) => write_actor_user(w, k!("user"), a, p.actor_profile()),
        None => write_okta_user(w, k!("user"), None, None, None, None, None),
    }
    w.str(k!("app_uid"), p.client.and_then(|c| text(&c.id)));
    if with_session {
        w.open_object(k!("session"));
        w.str(k!("uid"), p.external_session);
        w.close();
    }
    w.close();
}

/// `src_endpoint`: the client. `required`: written (as type Unknown) even without a client.
fn write_src_endpoint(w: &mut JsonWriter<'_>, p: &Parts<'_, '_>) {
    if !p.endpoint {
        return;
    }
    let client = p.client;
    let geo = client.and_then(|c| obj(&c.geographical_context));
    let geolocation = geo.and_then(|g| obj(&g.geolocation));
    let facts = p.facts;
    w.open_object(k!("src_endpoint"));
    w.str(k!("ip"), p.ip.and(p.ip_text));
    w.str(k!("domain"), p.security.and_then(|s| text(&s.domain)));
    w.str(
        k!("zone"),
        client.and_then(|c| text(&c.zone)).filter(|z| *z != "null"),
    );
    w.str(k!("isp"), p.security.and_then(|s| text(&s.isp)));
    let device = client.and_then(|c| text(&c.device));
    let device_type = match device {
        Some(d) if d.eq_ignore_ascii_case("Mobile") => Some(5),
        Some(d) if d.eq_ignore_ascii_case("Tablet") => Some(4),
        Some(d) if d.eq_ignore_ascii_case("Unknown") => Some(0),
        Some(_) => Some(99),
        None => None,
    };
    w.str(k!("type"), device);
    w.u64(k!("type_id"), device_type);
    // Required (API Activity) without a client address: the request came from Okta itself
    // (its jobs and system principal), and OCSF wants an address or a name.
    if p.ip.is_none() && p.security.and_then(|s| text(&s.domain)).is_none() {
        w.str(k!("svc_name"), Some("Okta"));
    }

    w.open_object(k!("location"));
    w.str(
        k!("city"),
        geo.and_then(|g| text(&g.city))
            .or(facts.city_name.as_deref()),
    );
    w.str(
        k!("region"),
        geo.and_then(|g| text(&g.state))
            .or(facts.region_name.as_deref()),
    );
    // OCSF: the ISO 3166-1 alpha-2 code, which only GeoIP gives (Okta's country name is
    // kept under unmapped).
    w.str(k!("country"), facts.country_iso_code.as_deref());
    w.str(k!("continent"), facts.continent_name.as_deref());
    w.str(
        k!("postal_code"),
        geo.and_then(|g| text(&g.postal_code))
            .or(facts.postal_code.as_deref()),
    );
    let lat_lon = geolocation
        .and_then(|g| Some((g.lat?.0, g.lon?.0)))
        .or(facts.location);
    if let Some((lat, lon)) = lat_lon.filter(|_| p.located) {
        w.f64(k!("lat"), Some(lat));
        w.f64(k!("long"), Some(lon));
    }
    w.close();

    w.open_object(k!("autonomous_system"));
    w.u64(
        k!("number"),
        p.security
            .and_then(|s| s.as_number)
            .map(|n| n.0)
            .or(facts.as_number)
            .filter(|n| i64::try_from(*n).is_ok()),
    );
    w.str(
        k!("name"),
        p.security
            .and_then(|s| text(&s.as_org))
            .or(facts.as_organization.as_deref()),
    );
    w.close();

    if let Some((name, version)) = p.os {
        w.open_object(k!("os"));
        w.str(k!("name"), Some(name));
        w.str(k!("version"), version);
        w.u64(k!("type_id"), Some(os_type_id(name)));
        w.close();
    }
    w.close();
}

fn write_http_request(w: &mut JsonWriter<'_>, p: &Parts<'_, '_>) {
    w.open_object(k!("http_request"));
    w.str(k!("user_agent"), p.raw_ua);
    w.str_array(
        k!("x_forwarded_for"),
        p.ip_chain
            .iter()
            .filter_map(|e| text(&e.ip).map(str::trim))
            .filter(|s| s.parse::<IpAddr>().is_ok()),
    );
    if let Some(uri) = p.request_uri {
        w.open_object(k!("url"));
        w.str(k!("path"), Some(uri));
        w.close();
    }
    w.close();
}

/// `resources`: every target with a uid or a name (OCSF's `at_least_one` of
/// `resource_details`), as uid, name, type. The full list is `unmapped.target`.
fn write_resources(w: &mut JsonWriter<'_>, targets: &[Target<'_>]) {
    w.open_array(k!("resources"));
    for t in targets.iter().filter(|t| t.other.is_none()) {
        let uid = text(&t.id).filter(|s| !s.is_empty() && known(s));
        let name = text(&t.display_name).filter(|s| !s.is_empty() && known(s));
        if uid.is_none() && name.is_none() {
            continue;
        }
        w.open_object(k!(""));
        w.str(k!("uid"), uid);
        w.str(k!("name"), name);
        w.text(k!("type"), &t.kind);
        w.close();
    }
    w.close();
}

/// `finding_info` and the risk of a Detection Finding.
fn write_finding(
    w: &mut JsonWriter<'_>,
    ev: &LogEvent<'_>,
    event_type: &str,
    id: &str,
    published: DateTime<Utc>,
    risk: &[(Cow<'_, str>, Cow<'_, str>)],
    debug_data: &[(Cow<'_, str>, Json<'_>)],
) {
    // ThreatInsight: `threatDetections` is JSON text {"<detection>": "<level>"}.
    let threat = debug_str(debug_data, "threatDetections")
        .and_then(|t| serde_json::from_str::<Json<'_>>(t).ok());
    let threat_first = match &threat {
        Some(Json::Obj(members)) => members
            .iter()
            .find_map(|(k, v)| scalar_text(v).map(|level| (k.to_string(), level.into_owned()))),
        _ => None,
    };
    let detection = pair(risk, "detectionName")
        .map(str::to_owned)
        .or_else(|| threat_first.as_ref().map(|(name, _)| name.clone()));
    let level = pair(risk, "level")
        .map(str::to_owned)
        .or_else(|| threat_first.as_ref().map(|(_, level)| level.clone()));

    w.open_object(k!("finding_info"));
    w.str(k!("uid"), Some(id));
    w.str(k!("title"), text(&ev.display_message).or(Some(event_type)));
    w.str_array(k!("types"), [event_type]);
    w.json(
        k!("created_time"),
        Some(&Json::Num(published.timestamp_millis().into())),
    );
    if let Some(name) = &detection {
        w.open_object(k!("analytic"));
        w.str(k!("name"), Some(name));
        w.u64(k!("type_id"), Some(0));
        w.str(k!("type"), Some("Unknown"));
        w.close();
    }
    w.str(k!("desc"), pair(risk, "reasons"));
    w.close();
    w.bool(k!("is_alert"), Some(true));
    if let Some(level) = &level {
        let (id, caption) = risk_level(level);
        w.u64(k!("risk_level_id"), Some(id));
        w.str(k!("risk_level"), Some(caption));
    }
}

/// `unmapped`: every Okta member without an OCSF attribute, by its Okta name and nesting.
fn write_unmapped(
    w: &mut JsonWriter<'_>,
    ev: &LogEvent<'_>,
    outer: Option<Outer<'_, '_>>,
    p: &Parts<'_, '_>,
) {
    w.text(k!("legacyEventType"), &ev.legacy_event_type);
    if let Some(e) = &p.enrichment {
        w.open_object(k!("okta_profile"));
        write_user_details(w, k!("actor"), &e.actor);
        write_user_details(w, k!("target"), &e.target);
        write_users_details(
            w,
            k!("targets"),
            e.profiles,
            crate::ecs::user_target_ids(items(&ev.target)),
        );
        write_device_details(w, k!("device"), &e.device);
        write_stamp(w, k!("enrichment"), e.profiles, e.published);
        w.close();
    }

    // actor: detailEntry and whatever else it carries.
    match &ev.actor {
        Some(a) if a.other.is_some() => w.json(k!("actor"), a.other.as_ref()),
        Some(a) => {
            w.open_object(k!("actor"));
            // Okta's placeholders, left out of `actor.user`.
            for (key, value) in [
                (k!("id"), &a.id),
                (k!("alternateId"), &a.alternate_id),
                (k!("displayName"), &a.display_name),
            ] {
                w.str(key, text(value).filter(|s| !known(s)));
            }
            w.json(k!("detailEntry"), a.detail_entry.as_ref());
            rest(w, a);
            w.close();
        }
        None => {}
    }

    match &ev.client {
        Some(c) if c.other.is_some() => w.json(k!("client"), c.other.as_ref()),
        Some(c) => {
            w.open_object(k!("client"));
            w.str(k!("ipAddress"), p.ip_text.filter(|_| p.ip.is_none()));
            w.str(
                k!("zone"),
                text(&c.zone).filter(|z| *z == "null" || !p.endpoint),
            );
            // Without `src_endpoint`, the device and the place have no OCSF home.
            w.str(k!("device"), text(&c.device).filter(|_| !p.endpoint));
            if let Some(ua) = &c.user_agent {
                echo_user_agent(w, ua);
            }
            if let Some(geo) = &c.geographical_context {
                echo_geo(w, geo, p.endpoint, p.located && p.endpoint);
            }
            rest(w, c);
            w.close();
        }
        None => {}
    }

    w.json(k!("device"), ev.device.as_ref());

    if let Some(ac) = &ev.authentication_context {
        echo_authentication_context(w, ac);
    }

    match &ev.security_context {
        Some(s) if s.other.is_some() => w.json(k!("securityContext"), s.other.as_ref()),
        Some(s) => {
            w.open_object(k!("securityContext"));
            w.bool(k!("isProxy"), s.is_proxy.map(|f| f.0));
            w.json(k!("ipDetails"), s.ip_details.as_ref());
            // asNumber beyond OCSF's integer range, or everything `src_endpoint` would
            // have carried when there is none.
            w.u64(
                k!("asNumber"),
                s.as_number
                    .map(|n| n.0)
                    .filter(|n| i64::try_from(*n).is_err() || !p.endpoint),
            );
            w.str(k!("asOrg"), text(&s.as_org).filter(|_| !p.endpoint));
            w.str(k!("isp"), text(&s.isp).filter(|_| !p.endpoint));
            rest(w, s);
            w.close();
        }
        None => {}
    }

    match &ev.debug_context {
        Some(d) if d.other.is_some() => w.json(k!("debugContext"), d.other.as_ref()),
        Some(d) => {
            w.open_object(k!("debugContext"));
            w.json(k!("debugData"), d.debug_data.as_ref());
            rest(w, d);
            w.close();
        }
        None => {}
    }

    match &ev.outcome {
        Some(o) if o.other.is_some() => w.json(k!("outcome"), o.other.as_ref()),
        Some(o) => {
            w.open_object(k!("outcome"));
            rest(w, o);
            w.close();
        }
        None => {}
    }

    if let Some(tx) = &ev.transaction {
        echo_transaction(w, tx);
    }

    match &ev.request {
        Some(r) if r.other.is_some() => w.json(k!("request"), r.other.as_ref()),
        Some(r) => {
            w.open_object(k!("request"));
            if let Some(chain) = &r.ip_chain {
                w.open_array(k!("ipChain"));
                for entry in &chain.items {
                    echo_ip_chain_entry(w, entry);
                }
                w.close();
                w.json(k!("ipChain"), chain.other.as_ref());
            }
            rest(w, r);
            w.close();
        }
        None => {}
    }

    if let Some(targets) = &ev.target {
        w.open_array(k!("target"));
        for t in &targets.items {
            echo_target(w, t);
        }
        w.close();
        w.json(k!("target"), targets.other.as_ref());
    }

    // Members that recognise the other input forms, when a bare LogEvent has them.
    w.json(k!("message"), ev.message.as_ref());
    w.json(k!("detail-type"), ev.detail_type.as_ref());
    if let Some(detail) = ev.detail {
        if let Ok(value) = serde_json::from_str::<Json<'_>>(detail.get()) {
            w.json(k!("detail"), Some(&value));
        }
    }
    rest(w, ev);

    if let Some(outer) = outer {
        let (key, envelope) = match outer {
            Outer::Wrapper(e) => (k!("wrapper"), e),
            Outer::EventBridge(e) => (k!("eventbridge"), e),
        };
        w.open_object(key);
        w.text(k!("id"), &envelope.id);
        w.text(k!("version"), &envelope.version);
        w.text(k!("detail-type"), &envelope.detail_type);
        w.text(k!("source"), &envelope.source);
        w.text(k!("account"), &envelope.account);
        w.text(k!("time"), &envelope.time);
        w.text(k!("region"), &envelope.region);
        if let Some(resources) = &envelope.resources {
            w.open_array(k!("resources"));
            for r in &resources.items {
                w.json(k!(""), Some(r));
            }
            w.close();
            w.json(k!("resources"), resources.other.as_ref());
        }
        rest(w, envelope);
        w.close();
    }
}

/// The members of `obj` the model does not know, and its known members of unusable type,
/// verbatim under their Okta names.
fn rest<'a, T: OktaObject<'a>>(w: &mut JsonWriter<'_>, obj: &T) {
    for (key, value) in obj.extra() {
        w.json(key, Some(value));
    }
    for (key, value) in obj.misfits() {
        w.json(*key, Some(value));
    }
}

fn echo_user_agent(w: &mut JsonWriter<'_>, ua: &UserAgent<'_>) {
    if ua.other.is_some() {
        w.json(k!("userAgent"), ua.other.as_ref());
        return;
    }
    w.open_object(k!("userAgent"));
    // rawUserAgent is http_request.user_agent; Okta's own reading of it stays here.
    w.text(k!("os"), &ua.os);
    w.text(k!("browser"), &ua.browser);
    rest(w, ua);
    w.close();
}

/// A geographicalContext. `mapped`: city, state and postalCode are `src_endpoint.location`
/// (the client's), and so is a full lat/lon pair when `coords_mapped`; everything else is
/// kept.
fn echo_geo(w: &mut JsonWriter<'_>, geo: &Geo<'_>, mapped: bool, coords_mapped: bool) {
    if geo.other.is_some() {
        w.json(k!("geographicalContext"), geo.other.as_ref());
        return;
    }
    w.open_object(k!("geographicalContext"));
    if !mapped {
        w.text(k!("city"), &geo.city);
        w.text(k!("state"), &geo.state);
        w.text(k!("postalCode"), &geo.postal_code);
    }
    w.text(k!("country"), &geo.country);
    if let Some(g) = &geo.geolocation {
        echo_geolocation(w, g, coords_mapped);
    }
    rest(w, geo);
    w.close();
}

fn echo_geolocation(w: &mut JsonWriter<'_>, g: &Geolocation<'_>, mapped: bool) {
    if g.other.is_some() {
        w.json(k!("geolocation"), g.other.as_ref());
        return;
    }
    w.open_object(k!("geolocation"));
    // A lone coordinate has no place in `location` (which needs both).
    if !(mapped && g.lat.is_some() && g.lon.is_some()) {
        w.f64(k!("lat"), g.lat.map(|l| l.0));
        w.f64(k!("lon"), g.lon.map(|l| l.0));
    }
    rest(w, g);
    w.close();
}

fn echo_authentication_context(w: &mut JsonWriter<'_>, ac: &AuthenticationContext<'_>) {
    if ac.other.is_some() {
        w.json(k!("authenticationContext"), ac.other.as_ref());
        return;
    }
    w.open_object(k!("authenticationContext"));
    w.str(
        k!("authenticationProvider"),
        text(&ac.authentication_provider),
    );
    w.text(k!("credentialProvider"), &ac.credential_provider);
    w.text(k!("credentialType"), &ac.credential_type);
    if let Some(issuer) = &ac.issuer {
        echo_issuer(w, issuer);
    }
    w.text(k!("interface"), &ac.interface);
    w.u64(
        k!("authenticationStep"),
        ac.authentication_step.map(|s| s.0),
    );
    // Okta's placeholder "unknown" is no session id.
    w.str(
        k!("externalSessionId"),
        text(&ac.external_session_id).filter(|s| s.eq_ignore_ascii_case("unknown")),
    );
    w.text(k!("rootSessionId"), &ac.root_session_id);
    rest(w, ac);
    w.close();
}

fn echo_issuer(w: &mut JsonWriter<'_>, issuer: &Issuer<'_>) {
    if issuer.other.is_some() {
        w.json(k!("issuer"), issuer.other.as_ref());
        return;
    }
    w.open_object(k!("issuer"));
    w.text(k!("id"), &issuer.id);
    w.text(k!("type"), &issuer.kind);
    rest(w, issuer);
    w.close();
}

fn echo_transaction(w: &mut JsonWriter<'_>, tx: &Transaction<'_>) {
    if tx.other.is_some() {
        w.json(k!("transaction"), tx.other.as_ref());
        return;
    }
    w.open_object(k!("transaction"));
    // `id` is metadata.correlation_uid.
    w.text(k!("type"), &tx.kind);
    w.json(k!("detail"), tx.detail.as_ref());
    rest(w, tx);
    w.close();
}

fn echo_ip_chain_entry(w: &mut JsonWriter<'_>, entry: &IpChainEntry<'_>) {
    if entry.other.is_some() {
        w.json(k!(""), entry.other.as_ref());
        return;
    }
    w.open_object(k!(""));
    w.text(k!("ip"), &entry.ip);
    if let Some(geo) = &entry.geographical_context {
        echo_geo(w, geo, false, false);
    }
    w.text(k!("version"), &entry.version);
    w.text(k!("source"), &entry.source);
    w.json(k!("ipDetails"), entry.ip_details.as_ref());
    rest(w, entry);
    w.close();
}

fn echo_target(w: &mut JsonWriter<'_>, t: &Target<'_>) {
    if t.other.is_some() {
        w.json(k!(""), t.other.as_ref());
        return;
    }
    w.open_object(k!(""));
    w.text(k!("id"), &t.id);
    w.text(k!("type"), &t.kind);
    w.text(k!("alternateId"), &t.alternate_id);
    w.text(k!("displayName"), &t.display_name);
    w.json(k!("detailEntry"), t.detail_entry.as_ref());
    w.json(k!("changeDetails"), t.change_details.as_ref());
    rest(w, t);
    w.close();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(event_type: &str) -> Choice {
        choose(
            event_type,
            Facts {
                privileges: true,
                scopes: true,
                group_target: true,
                any_target: true,
            },
        )
    }

    #[test]
    fn families_get_their_class_and_activity() {
        let cases = [
            ("user.session.start", OcsfClass::Authentication, 1),
            ("user.session.end", OcsfClass::Authentication, 2),
            (
                "user.session.impersonation.initiate",
                OcsfClass::Authentication,
                7,
            ),
            ("user.authentication.sso", OcsfClass::Authentication, 1),
            ("user.authentication.slo", OcsfClass::Authentication, 2),
            (
                "user.authentication.universal_logout.scheduled",
                OcsfClass::Authentication,
                2,
            ),
            ("security.events.provider.update", OcsfClass::ApiActivity, 3),
            (
                "security.threat.configuration.update",
                OcsfClass::ApiActivity,
                3,
            ),
            ("policy.evaluate_sign_on", OcsfClass::Authentication, 99),
            ("user.device_session.end", OcsfClass::Authentication, 2),
            (
                "security.trusted_origin.deactivate",
                OcsfClass::EntityManagement,
                11,
            ),
            ("iam.role.create", OcsfClass::EntityManagement, 1),
            ("user.lifecycle.create", OcsfClass::AccountChange, 1),
            ("user.lifecycle.activate", OcsfClass::AccountChange, 2),
            ("user.account.update_password", OcsfClass::AccountChange, 3),
            ("user.account.reset_password", OcsfClass::AccountChange, 4),
            ("user.lifecycle.suspend", OcsfClass::AccountChange, 5),
            (
                "user.lifecycle.delete.initiated",
                OcsfClass::AccountChange,
                6,
            ),
            ("user.account.lock", OcsfClass::AccountChange, 9),
            ("user.mfa.factor.activate", OcsfClass::AccountChange, 10),
            ("user.mfa.factor.reset_all", OcsfClass::AccountChange, 11),
            ("user.account.unlock", OcsfClass::AccountChange, 12),
            ("user.account.privilege.grant", OcsfClass::UserAccess, 1),
            ("user.account.privilege.revoke", OcsfClass::UserAccess, 2),
            (
                "app.oauth2.as.token.grant.access_token",
                OcsfClass::AuthorizeSession,
                1,
            ),
            ("group.user_membership.add", OcsfClass::GroupManagement, 3),
            (
                "group.user_membership.remove",
                OcsfClass::GroupManagement,
                4,
            ),
            (
                "application.lifecycle.create",
                OcsfClass::EntityManagement,
                1,
            ),
            ("policy.rule.deactivate", OcsfClass::EntityManagement, 11),
            ("device.enrollment.create", OcsfClass::EntityManagement, 1),
            ("zone.update", OcsfClass::EntityManagement, 3),
            ("security.threat.detected", OcsfClass::DetectionFinding, 1),
            ("user.risk.detect", OcsfClass::DetectionFinding, 1),
            (
                "security.events.provider.receive_event",
                OcsfClass::DetectionFinding,
                1,
            ),
            ("system.agent.ad.import_users", OcsfClass::ApiActivity, 99),
            ("widget.frobnicator.spin", OcsfClass::ApiActivity, 99),
        ];
        for (event_type, class, activity) in cases {
            assert_eq!(pick(event_type), Choice { class, activity }, "{event_type}");
        }
    }

    #[test]
    fn a_class_without_its_required_object_gives_way_to_api_activity() {
        let none = Facts::default();
        assert_eq!(
            choose("user.account.privilege.grant", none).class,
            OcsfClass::ApiActivity
        );
        assert_eq!(
            choose("group.user_membership.add", none).class,
            OcsfClass::ApiActivity
        );
        assert_eq!(
            choose("application.lifecycle.create", none).class,
            OcsfClass::ApiActivity
        );
        assert_eq!(
            choose("app.oauth2.as.token.grant.access_token", none),
            Choice {
                class: OcsfClass::ApiActivity,
                activity: 1
            }
        );
    }

    #[test]
    fn activity_names_follow_the_ids() {
        assert_eq!(OcsfClass::Authentication.activity_name(7), "Account Switch");
        assert_eq!(OcsfClass::AccountChange.activity_name(12), "Unlock");
        assert_eq!(OcsfClass::EntityManagement.activity_name(13), "Resume");
        assert_eq!(
            OcsfClass::GroupManagement.activity_name(8),
            "Remove Subgroup"
        );
        assert_eq!(OcsfClass::ApiActivity.activity_name(99), "Other");
        assert_eq!(OcsfClass::ApiActivity.activity_name(0), "Unknown");
    }

    #[test]
    fn severity_status_and_risk_levels() {
        assert_eq!(severity(Some("INFO")).0, 1);
        assert_eq!(severity(Some("warn")).0, 3);
        assert_eq!(severity(Some("ERROR")).0, 4);
        assert_eq!(severity(None).0, 0);
        assert_eq!(severity(Some("LOUD")), (99, Cow::Borrowed("LOUD")));
        assert_eq!(status(Some("SUCCESS")), (1, "Success"));
        assert_eq!(status(Some("DENY")), (2, "Failure"));
        assert_eq!(status(Some("CHALLENGE")), (99, "CHALLENGE"));
        assert_eq!(status(None), (0, "Unknown"));
        assert_eq!(risk_level("medium"), (2, "Medium"));
        assert_eq!(risk_level("SEVERE"), (99, "SEVERE"));
    }
}

//! Realistic, seeded Okta System Log `LogEvent` generation.
//!
//! [`EventGenerator`] builds a simulated organization (600 users, a handful of
//! admins, 21 applications, 25 groups, 36 network locations with consistent
//! geo / AS data, IPv4 and IPv6, a few hundred distinct user agents) and then
//! emits events whose type mix resembles a real org: mostly SSO, sign-ins, MFA
//! and sign-on policy evaluations, with a tail of administrative, security,
//! directory-agent, impersonation and device events. Each event carries the full
//! LogEvent shape (`actor`, `client`, `device`, `authenticationContext`,
//! `outcome`, `securityContext`, `debugContext.debugData` with
//! requestId/requestUri/dtHash/behaviors/risk, `transaction`, `request.ipChain`,
//! `target`) in Okta's field order, about 2 KB of compact JSON on average.
//! Users travel plausibly: each is at home or on one trip per 3-day block, and
//! signs in from nowhere while flying between the two, so their sign-ins never
//! imply an improbable speed. Sessions and devices recur as in a real org: a
//! user's events from one browser at one place share an
//! `authenticationContext.externalSessionId` for a working day
//! ([`SESSION_MS`]) and a `debugContext.debugData.dtHash` (and device
//! fingerprint) for as long as the user uses that browser there (see
//! [`Owner`]).
//!
//! Output is a pure function of the seed and the sequence of `published` times
//! passed in: the same seed always yields the same events, uuids included.

mod json;
mod org;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::rng::{splitmix64, Rng};
use json::{fragment, JsonWriter};
pub(crate) use org::Org;
use org::{okta_id, push_base62, write_ip_chain_entry};

/// One generated event: its uuid and its compact JSON text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedEvent {
    /// The event's `uuid` field.
    pub uuid: String,
    /// The whole LogEvent as compact JSON (no trailing newline).
    pub json: String,
}

/// Deterministic generator of realistic Okta LogEvents.
pub struct EventGenerator {
    rng: Rng,
    org: Org,
    cumulative_weights: Vec<u32>,
}

/// How an event type's actor, targets and context are built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// A user signing in/out or verifying, no target.
    UserAuth,
    /// A user signing in to an app: app + app-user targets.
    AppSso,
    /// Sign-on policy evaluation for a user.
    PolicyEvaluation,
    /// A factor change on a user, by the user or an admin.
    MfaFactor,
    /// An admin acting on a user account.
    AdminOnUser,
    /// A user acting on their own account.
    SelfService,
    /// A user added to / removed from a group, by an admin or a group rule.
    GroupMembership,
    /// An admin changing an application.
    AppAdmin,
    /// An app assignment change.
    AppMembership,
    /// OAuth 2.0 authorization server activity.
    OAuth,
    /// API token administration.
    ApiToken,
    /// Policy / rule administration.
    PolicyAdmin,
    /// Network zone administration.
    Zone,
    /// ThreatInsight detection.
    Threat,
    /// A request blocked by a zone or ThreatInsight.
    Blocked,
    /// Active Directory agent activity.
    AdAgent,
    /// Okta support impersonation.
    Impersonation,
    /// Device lifecycle (Okta Verify / FastPass registered devices).
    Device,
    /// Identity Threat Protection: risk detections, session context changes,
    /// session re-evaluation, entity risk policy, security events providers.
    Itp,
}

/// `(eventType, legacyEventType, displayMessage, relative weight, shape, failure probability)`
type Spec = (
    &'static str,
    Option<&'static str>,
    &'static str,
    u32,
    Shape,
    f64,
);

const SPECS: &[Spec] = &[
    (
        "user.authentication.sso",
        Some("app.auth.sso"),
        "User single sign on to app",
        260,
        Shape::AppSso,
        0.02,
    ),
    (
        "user.session.start",
        Some("core.user_auth.login_success"),
        "User login to Okta",
        140,
        Shape::UserAuth,
        0.08,
    ),
    (
        "policy.evaluate_sign_on",
        None,
        "Evaluation of sign-on policy",
        90,
        Shape::PolicyEvaluation,
        0.03,
    ),
    (
        "user.authentication.auth_via_mfa",
        Some("core.user.factor.attempt_success"),
        "Authentication of user via MFA",
        80,
        Shape::UserAuth,
        0.05,
    ),
    (
        "user.authentication.verify",
        None,
        "Verify user identity",
        70,
        Shape::UserAuth,
        0.06,
    ),
    (
        "user.session.end",
        Some("core.user_auth.logout_success"),
        "User logout from Okta",
        50,
        Shape::UserAuth,
        0.0,
    ),
    (
        "app.oauth2.as.authorize",
        None,
        "OAuth2 authorization request",
        35,
        Shape::OAuth,
        0.03,
    ),
    (
        "app.oauth2.as.token.grant.access_token",
        None,
        "OAuth2 access token is granted",
        35,
        Shape::OAuth,
        0.01,
    ),
    (
        "app.oauth2.as.token.grant.id_token",
        None,
        "OAuth2 id token is granted",
        15,
        Shape::OAuth,
        0.01,
    ),
    (
        "user.authentication.auth_via_IDP",
        Some("core.user_auth.idp.auth_success"),
        "Authenticate user via IDP",
        15,
        Shape::UserAuth,
        0.04,
    ),
    (
        "user.authentication.authenticate",
        None,
        "User attempted authentication",
        10,
        Shape::UserAuth,
        0.1,
    ),
    (
        "user.session.access_admin_app",
        None,
        "User accessing Okta admin app",
        10,
        Shape::UserAuth,
        0.0,
    ),
    (
        "user.account.update_password",
        Some("core.user.config.password_update.success"),
        "User update password for Okta",
        6,
        Shape::SelfService,
        0.1,
    ),
    (
        "user.account.reset_password",
        Some("core.user.config.password_reset.success"),
        "Fired when the user's Okta password is reset",
        4,
        Shape::AdminOnUser,
        0.0,
    ),
    (
        "user.account.lock",
        Some("core.user_auth.account_locked"),
        "Max sign in attempts exceeded",
        5,
        Shape::SelfService,
        0.0,
    ),
    (
        "user.account.unlock",
        Some("core.user.account.unlocked"),
        "Unlock user account",
        3,
        Shape::AdminOnUser,
        0.0,
    ),
    (
        "user.account.privilege.grant",
        None,
        "Grant user privilege",
        1,
        Shape::AdminOnUser,
        0.0,
    ),
    (
        "user.account.privilege.revoke",
        None,
        "Revoke user privilege",
        1,
        Shape::AdminOnUser,
        0.0,
    ),
    (
        "user.account.report_suspicious_activity_by_enduser",
        None,
        "User report suspicious activity",
        1,
        Shape::SelfService,
        0.0,
    ),
    (
        "user.mfa.factor.activate",
        Some("core.user.factor.activate"),
        "User set up factor",
        6,
        Shape::MfaFactor,
        0.0,
    ),
    (
        "user.mfa.factor.deactivate",
        Some("core.user.factor.deactivate"),
        "Reset factor for user",
        3,
        Shape::MfaFactor,
        0.0,
    ),
    (
        "user.mfa.factor.reset_all",
        Some("core.user.factor.reset_all"),
        "Reset all factors for user",
        2,
        Shape::MfaFactor,
        0.0,
    ),
    (
        "user.mfa.factor.suspend",
        None,
        "Suspend factor for user",
        1,
        Shape::MfaFactor,
        0.0,
    ),
    (
        "user.mfa.factor.update",
        None,
        "Update factor for user",
        3,
        Shape::MfaFactor,
        0.0,
    ),
    (
        "user.lifecycle.create",
        Some("core.user.config.user_creation.success"),
        "Create Okta user",
        4,
        Shape::AdminOnUser,
        0.0,
    ),
    (
        "user.lifecycle.activate",
        Some("core.user.config.user_activated"),
        "Activate Okta user",
        4,
        Shape::AdminOnUser,
        0.0,
    ),
    (
        "user.lifecycle.deactivate",
        Some("core.user.config.user_deactivated"),
        "Deactivate Okta user",
        2,
        Shape::AdminOnUser,
        0.0,
    ),
    (
        "user.lifecycle.suspend",
        Some("core.user.config.user_status.suspended"),
        "Suspend Okta user",
        1,
        Shape::AdminOnUser,
        0.0,
    ),
    (
        "user.lifecycle.unsuspend",
        Some("core.user.config.user_status.unsuspended"),
        "Unsuspend Okta user",
        1,
        Shape::AdminOnUser,
        0.0,
    ),
    (
        "user.lifecycle.delete.initiated",
        None,
        "Delete Okta user",
        1,
        Shape::AdminOnUser,
        0.0,
    ),
    (
        "group.user_membership.add",
        Some("core.user_group_member.user_add"),
        "Add user to group membership",
        12,
        Shape::GroupMembership,
        0.0,
    ),
    (
        "group.user_membership.remove",
        Some("core.user_group_member.user_remove"),
        "Remove user from group membership",
        4,
        Shape::GroupMembership,
        0.0,
    ),
    (
        "application.user_membership.add",
        Some("app.generic.provision.assign_user_to_app"),
        "Add user to application membership",
        6,
        Shape::AppMembership,
        0.0,
    ),
    (
        "application.user_membership.remove",
        Some("app.generic.unprovision.unassign_user_from_app"),
        "Remove user from application membership",
        2,
        Shape::AppMembership,
        0.0,
    ),
    (
        "application.user_membership.change_username",
        None,
        "Change users application username",
        1,
        Shape::AppMembership,
        0.0,
    ),
    (
        "application.lifecycle.create",
        Some("app.generic.config.app_created"),
        "Create application",
        1,
        Shape::AppAdmin,
        0.0,
    ),
    (
        "application.lifecycle.update",
        Some("app.generic.config.app_updated"),
        "Update application",
        2,
        Shape::AppAdmin,
        0.0,
    ),
    (
        "application.lifecycle.activate",
        Some("app.generic.config.app_activated"),
        "Activate application",
        1,
        Shape::AppAdmin,
        0.0,
    ),
    (
        "application.lifecycle.deactivate",
        Some("app.generic.config.app_deactivated"),
        "Deactivate application",
        1,
        Shape::AppAdmin,
        0.0,
    ),
    (
        "app.oauth2.token.revoke",
        None,
        "OAuth2 token revocation request",
        3,
        Shape::OAuth,
        0.0,
    ),
    (
        "app.oauth2.as.consent.grant",
        None,
        "User granted consent to app",
        2,
        Shape::OAuth,
        0.0,
    ),
    (
        "system.api_token.create",
        Some("api.token.create"),
        "Create API token",
        1,
        Shape::ApiToken,
        0.0,
    ),
    (
        "system.api_token.revoke",
        Some("api.token.revoke"),
        "Revoke API token",
        1,
        Shape::ApiToken,
        0.0,
    ),
    (
        "policy.lifecycle.create",
        Some("policy.lifecycle.create"),
        "Create policy",
        1,
        Shape::PolicyAdmin,
        0.0,
    ),
    (
        "policy.lifecycle.update",
        Some("policy.lifecycle.update"),
        "Update policy",
        1,
        Shape::PolicyAdmin,
        0.0,
    ),
    (
        "policy.rule.add",
        Some("policy.rule.add"),
        "Add policy rule",
        1,
        Shape::PolicyAdmin,
        0.0,
    ),
    (
        "policy.rule.update",
        Some("policy.rule.update"),
        "Update policy rule",
        1,
        Shape::PolicyAdmin,
        0.0,
    ),
    (
        "policy.rule.activate",
        Some("policy.rule.activate"),
        "Activate policy rule",
        1,
        Shape::PolicyAdmin,
        0.0,
    ),
    (
        "zone.update",
        Some("zone.update"),
        "Update network zone",
        1,
        Shape::Zone,
        0.0,
    ),
    (
        "zone.create",
        Some("zone.create"),
        "Create network zone",
        1,
        Shape::Zone,
        0.0,
    ),
    (
        "zone.make_blacklist",
        Some("zone.make_blacklist"),
        "Mark network zone as a blocklist",
        1,
        Shape::Zone,
        0.0,
    ),
    (
        "security.threat.detected",
        Some("security.threat.detected"),
        "Request from suspicious actor",
        4,
        Shape::Threat,
        0.0,
    ),
    (
        "security.request.blocked",
        Some("security.request.blocked"),
        "Request blocked by network zone",
        6,
        Shape::Blocked,
        1.0,
    ),
    (
        "system.agent.ad.read_topology",
        None,
        "Read AD topology",
        3,
        Shape::AdAgent,
        0.0,
    ),
    (
        "system.agent.ad.read_dirsync",
        None,
        "Read AD incremental changes",
        3,
        Shape::AdAgent,
        0.0,
    ),
    (
        "system.agent.ad.import_user",
        None,
        "Import user from Active Directory",
        3,
        Shape::AdAgent,
        0.02,
    ),
    (
        "system.agent.ad.write_ldap",
        None,
        "Write user attributes to Active Directory",
        1,
        Shape::AdAgent,
        0.05,
    ),
    (
        "system.agent.ad.upgrade",
        None,
        "Upgrade AD agent",
        1,
        Shape::AdAgent,
        0.0,
    ),
    (
        "user.session.impersonation.initiate",
        Some("core.user.impersonation.session.initiated"),
        "User session impersonation initiated",
        1,
        Shape::Impersonation,
        0.0,
    ),
    (
        "user.session.impersonation.grant",
        Some("core.user.impersonation.grant.enabled"),
        "Enable impersonation grant",
        1,
        Shape::Impersonation,
        0.0,
    ),
    (
        "user.session.impersonation.extend",
        Some("core.user.impersonation.grant.extended"),
        "Extend impersonation grant",
        1,
        Shape::Impersonation,
        0.0,
    ),
    (
        "user.session.impersonation.end",
        Some("core.user.impersonation.session.ended"),
        "User session impersonation ended",
        1,
        Shape::Impersonation,
        0.0,
    ),
    (
        "device.enrollment.create",
        None,
        "Enroll device",
        2,
        Shape::Device,
        0.0,
    ),
    (
        "device.user.add",
        None,
        "Add device user",
        2,
        Shape::Device,
        0.0,
    ),
    (
        "device.lifecycle.activate",
        None,
        "Activate device",
        1,
        Shape::Device,
        0.0,
    ),
    (
        "device.lifecycle.deactivate",
        None,
        "Deactivate device",
        1,
        Shape::Device,
        0.0,
    ),
    (
        "device.lifecycle.suspend",
        None,
        "Suspend device",
        1,
        Shape::Device,
        0.0,
    ),
    (
        "device.lifecycle.delete",
        None,
        "Delete device",
        1,
        Shape::Device,
        0.0,
    ),
    (
        "user.risk.detect",
        None,
        "User risk detected",
        2,
        Shape::Itp,
        0.0,
    ),
    (
        "user.risk.change",
        None,
        "User risk level changed",
        2,
        Shape::Itp,
        0.0,
    ),
    (
        "user.session.context.change",
        None,
        "User session context changed",
        3,
        Shape::Itp,
        0.0,
    ),
    (
        "policy.auth_reevaluate.enforce",
        None,
        "Evaluation of a post auth session",
        2,
        Shape::Itp,
        0.0,
    ),
    (
        "policy.auth_reevaluate.fail",
        None,
        "Auth policy re-evaluation resulted in a policy violation",
        2,
        Shape::Itp,
        0.0,
    ),
    (
        "policy.auth_reevaluate.action",
        None,
        "Invocation of a post auth session action",
        2,
        Shape::Itp,
        0.0,
    ),
    (
        "policy.continuous_access.evaluate",
        None,
        "Evaluation of Continuous Access Policy",
        1,
        Shape::Itp,
        0.0,
    ),
    (
        "policy.continuous_access.action",
        None,
        "Continuous Access policy action invocation",
        1,
        Shape::Itp,
        0.0,
    ),
    (
        "policy.entity_risk.evaluate",
        None,
        "Evaluation of Entity Risk policy",
        2,
        Shape::Itp,
        0.0,
    ),
    (
        "policy.entity_risk.action",
        None,
        "Entity Risk policy action invocation",
        2,
        Shape::Itp,
        0.0,
    ),
    (
        "security.events.provider.receive_event",
        None,
        "Security events provider reported a risk",
        2,
        Shape::Itp,
        0.0,
    ),
    (
        "security.events.provider.create",
        None,
        "Create a security events provider",
        1,
        Shape::Itp,
        0.0,
    ),
    (
        "security.events.provider.update",
        None,
        "Update a security events provider",
        1,
        Shape::Itp,
        0.0,
    ),
    (
        "security.events.provider.activate",
        None,
        "Activate a security events provider",
        1,
        Shape::Itp,
        0.0,
    ),
    (
        "security.events.provider.deactivate",
        None,
        "Deactivate a security events provider",
        1,
        Shape::Itp,
        0.0,
    ),
    (
        "security.events.provider.delete",
        None,
        "Delete a security events provider",
        1,
        Shape::Itp,
        0.0,
    ),
];

const FACTORS: &[(&str, &str)] = &[
    ("OKTA_VERIFY_PUSH", "Okta Verify"),
    ("SIGNED_NONCE", "Okta FastPass"),
    ("TOKEN_SOFTWARE_TOTP", "Google Authenticator"),
    ("WEBAUTHN", "Security Key or Biometric"),
    ("SMS_FACTOR", "Phone"),
    ("EMAIL_FACTOR", "Email"),
];

const FAILURE_REASONS: &[&str] = &[
    "INVALID_CREDENTIALS",
    "VERIFICATION_ERROR",
    "Sign-on policy evaluation resulted in DENY",
    "User not assigned to app",
    "FastPass declined phishing attempt",
    "LOCKED_OUT",
];

/// What differs from event to event, gathered before rendering.
struct Parts<'a> {
    actor: &'a str,
    client: Option<ClientParts<'a>>,
    device: Option<String>,
    auth_provider: Option<&'static str>,
    credential_type: Option<&'static str>,
    result: &'static str,
    reason: Option<&'static str>,
    severity: &'static str,
    request_uri: String,
    /// `debugData.risk` instead of the one derived from the client context.
    risk: Option<String>,
    extra_debug: Vec<(&'static str, String)>,
    job: bool,
    targets: Vec<&'a str>,
    owned_targets: Vec<String>,
}

struct ClientParts<'a> {
    /// Whose session and device the event belongs to; `None`: a one-off (attackers,
    /// Okta's support), whose session and device are drawn at random.
    owner: Option<Owner>,
    ua_json: &'a str,
    device: &'static str,
    ip: String,
    v6: bool,
    geo_json: &'a str,
    security_json: &'a str,
    zone: &'static str,
    away: bool,
    client_id: Option<&'a str>,
}

const UNKNOWN_ACTOR: &str = "{\"id\":\"unknown\",\"type\":\"User\",\"alternateId\":\"unknown\",\"displayName\":\"Unknown\",\"detailEntry\":null}";
const NULL_CLIENT: &str = "{\"userAgent\":null,\"zone\":null,\"device\":null,\"id\":null,\"ipAddress\":null,\"geographicalContext\":null}";
const NULL_SECURITY: &str =
    "{\"asNumber\":null,\"asOrg\":null,\"isp\":null,\"domain\":null,\"isProxy\":null}";
const CORPORATE_EGRESS_GEO: &str = "{\"city\":\"San Francisco\",\"state\":\"California\",\"country\":\"United States\",\"postalCode\":\"94107\",\"geolocation\":{\"lat\":37.7697,\"lon\":-122.3933}}";

impl EventGenerator {
    /// The simulated organization's people, groups and admins (for the directory API).
    pub(crate) fn org(&self) -> &Org {
        &self.org
    }

    /// A generator whose organization and event stream are fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        let mut org_rng = Rng::new(seed ^ 0x6f6b_7461_666c_6f77);
        let org = Org::new(&mut org_rng);
        let mut total = 0;
        let cumulative_weights = SPECS
            .iter()
            .map(|spec| {
                total += spec.3;
                total
            })
            .collect();
        EventGenerator {
            rng: Rng::new(seed),
            org,
            cumulative_weights,
        }
    }

    /// The next event, published at `published`, as compact JSON text.
    pub fn event(&mut self, published: DateTime<Utc>) -> String {
        self.next_event(published).json
    }

    /// The next event, published at `published`, parsed as a JSON value.
    pub fn event_value(&mut self, published: DateTime<Utc>) -> serde_json::Value {
        let text = self.event(published);
        serde_json::from_str(&text).expect("the generator always writes valid JSON")
    }

    /// The next event, published at `published`, with its uuid.
    pub fn next_event(&mut self, published: DateTime<Utc>) -> GeneratedEvent {
        let mut json = String::with_capacity(2600);
        let uuid = self.write_event(published, &mut json);
        GeneratedEvent { uuid, json }
    }

    /// Appends the next event, published at `published`, to `out` and returns its uuid.
    pub fn write_event(&mut self, published: DateTime<Utc>, out: &mut String) -> String {
        let EventGenerator {
            rng,
            org,
            cumulative_weights,
        } = self;
        let total = *cumulative_weights.last().expect("SPECS is not empty");
        let draw = rng.below(total as usize) as u32;
        let index = cumulative_weights.partition_point(|&c| c <= draw);
        let spec = &SPECS[index];
        let uuid = uuid(rng);
        let parts = parts(rng, org, spec, published.timestamp_millis());
        render(rng, spec, &parts, &uuid, published, out);
        uuid
    }
}

/// A version-1-style uuid drawn from the seeded stream.
fn uuid(rng: &mut Rng) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let a = rng.next_u64();
    let b = rng.next_u64();
    let mut nibbles = [0u8; 32];
    for i in 0..16 {
        nibbles[i] = HEX[((a >> (60 - 4 * i)) & 15) as usize];
        nibbles[16 + i] = HEX[((b >> (60 - 4 * i)) & 15) as usize];
    }
    nibbles[12] = b'1'; // version 1 (time-based), like Okta's uuids
    nibbles[16] = HEX[(8 | (b >> 62)) as usize]; // RFC 4122 variant
    let mut s = String::with_capacity(36);
    for (i, &c) in nibbles.iter().enumerate() {
        if matches!(i, 8 | 12 | 16 | 20) {
            s.push('-');
        }
        s.push(c as char);
    }
    s
}

fn random_token(rng: &mut Rng, len: usize) -> String {
    let mut s = String::with_capacity(len);
    push_base62(rng, &mut s, len);
    s
}

fn push_hex(rng: &mut Rng, out: &mut String, len: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut bits = rng.next_u64();
    for i in 0..len {
        if i % 16 == 0 && i > 0 {
            bits = rng.next_u64();
        }
        out.push(HEX[(bits & 15) as usize] as char);
        bits >>= 4;
    }
}

/// How long one travel plan lasts: each user is at home or on one trip for a whole block.
const TRIP_BLOCK_MS: i64 = 3 * 24 * 3_600_000;
/// The share of blocks a user spends on a trip.
const TRIP_CHANCE: f64 = 0.08;
/// The speed of travel between two places (an airliner, below the 900 km/h that the
/// `geo_improbable_access` rule calls improbable).
const TRAVEL_KMH: f64 = 750.0;

/// Where a user is at one moment (see [`whereabouts`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Whereabouts {
    /// At the home location.
    Home,
    /// On a trip, at this location.
    Away(usize),
    /// Travelling to or from a trip: no events (the user is in the air).
    Transit,
}

/// Where user `u` is at `at` (ms since the epoch), a pure function of the org's seed: time is
/// cut into [`TRIP_BLOCK_MS`] blocks (shifted per user); in [`TRIP_CHANCE`] of them the user is
/// away at another (non-hosting) location. The first hours of a block whose location differs
/// from the previous block's are [`Whereabouts::Transit`], as long as the flight takes at
/// [`TRAVEL_KMH`], so the user's events never imply an improbable speed. Admins stay home.
fn whereabouts(org: &Org, u: usize, at: i64) -> Whereabouts {
    if org.admins.contains(&u) {
        return Whereabouts::Home;
    }
    let home = org.users[u].home;
    let mut phase_state = org.travel_salt ^ (u as u64).wrapping_mul(0xA076_1D64_78BD_642F);
    let phase = (splitmix64(&mut phase_state) % TRIP_BLOCK_MS as u64) as i64;
    let shifted = at.saturating_sub(phase);
    let block = shifted.div_euclid(TRIP_BLOCK_MS);
    let into = shifted.rem_euclid(TRIP_BLOCK_MS);
    let here = trip_location(org, u, block).unwrap_or(home);
    let before = trip_location(org, u, block - 1).unwrap_or(home);
    if here != before && into < flight_ms(&org.locations[before], &org.locations[here]) {
        return Whereabouts::Transit;
    }
    if here == home {
        Whereabouts::Home
    } else {
        Whereabouts::Away(here)
    }
}

/// The location of user `u`'s trip in `block`, if the user travels then.
fn trip_location(org: &Org, u: usize, block: i64) -> Option<usize> {
    let mut state = org.travel_salt
        ^ (u as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (block as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93);
    let draw = splitmix64(&mut state);
    if (draw >> 11) as f64 * (1.0 / (1u64 << 53) as f64) >= TRIP_CHANCE {
        return None;
    }
    let destinations = org.locations.len();
    let start = (splitmix64(&mut state) % destinations as u64) as usize;
    let home = org.users[u].home;
    (0..destinations)
        .map(|i| (start + i) % destinations)
        .find(|&loc| loc != home && !org.locations[loc].hosting)
}

/// How long a flight between two locations takes at [`TRAVEL_KMH`], plus an hour.
fn flight_ms(from: &org::Location, to: &org::Location) -> i64 {
    let km = great_circle_km(from.lat, from.lon, to.lat, to.lon);
    (km / TRAVEL_KMH * 3_600_000.0) as i64 + 3_600_000
}

/// The great-circle distance between two points, in km (haversine, mean earth radius).
fn great_circle_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6_371.0 * a.sqrt().min(1.0).asin()
}

/// How long one sign-in session lasts: a working day. Each user's sessions start at a
/// per-user phase, so they do not all roll over at once.
const SESSION_MS: i64 = 8 * 3_600_000;

/// Whose session and device an event belongs to: user `u` with one of the user's browsers
/// (user agent) at one location. Okta keeps a session (`externalSessionId`) across the events
/// of one sign-in and a device token (`dtHash`) across the sessions of one browser; here a
/// session is one user, browser and location for a [`SESSION_MS`] slot, and a device is one
/// user, browser and location. The location is part of both, so a session or device never
/// changes network in the generated traffic (that is the `okta.stolen_session` attack
/// scenario's job, with its own sessions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Owner {
    /// Seeds the device's ids.
    device: u64,
    /// Seeds the session's id.
    session: u64,
}

impl Owner {
    fn new(org: &Org, u: usize, agent: usize, location: usize, at: i64) -> Owner {
        let mut device = org.travel_salt
            ^ 0x5E55_10D0_DE71_CE00
            ^ (u as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (agent as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
            ^ (location as u64).wrapping_mul(0x1656_67B1_9E37_79F9);
        let device = splitmix64(&mut device);
        let mut phase_state = device;
        let phase = (splitmix64(&mut phase_state) % SESSION_MS as u64) as i64;
        let slot = at.saturating_sub(phase).div_euclid(SESSION_MS);
        let mut session = device ^ (slot as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93);
        Owner {
            device,
            session: splitmix64(&mut session),
        }
    }

    /// The session's id (22 base-62 characters, like Okta's after its `102` prefix).
    fn session_id(self) -> String {
        let mut rng = Rng::new(self.session);
        random_token(&mut rng, 22)
    }

    /// The device's `dtHash` (64 hex digits) and `deviceFingerprint` (32 hex digits).
    fn device_ids(self) -> (String, String) {
        let mut rng = Rng::new(self.device);
        let mut dt_hash = String::with_capacity(64);
        push_hex(&mut rng, &mut dt_hash, 64);
        let mut fingerprint = String::with_capacity(32);
        push_hex(&mut rng, &mut fingerprint, 32);
        (dt_hash, fingerprint)
    }
}

/// A user for an event at `at`, drawn at random; one in transit then gives way to the next.
fn pick_user(rng: &mut Rng, org: &Org, at: i64) -> usize {
    let users = org.users.len();
    let first = rng.below(users);
    (0..users)
        .map(|i| (first + i) % users)
        .find(|&u| whereabouts(org, u, at) != Whereabouts::Transit)
        .unwrap_or(first)
}

/// A client context for user `u` at `at` (ms since the epoch): from where the user is then
/// ([`whereabouts`]): at home, usually from the home address, or on a trip.
fn user_client<'a>(rng: &mut Rng, org: &'a Org, u: usize, at: i64) -> ClientParts<'a> {
    let user = &org.users[u];
    let trip = match whereabouts(org, u, at) {
        Whereabouts::Away(location) => Some(location),
        Whereabouts::Home | Whereabouts::Transit => None,
    };
    let away = trip.is_some();
    let (location, ip, v6) = if let Some(loc) = trip {
        let (ip, v6) = org.locations[loc].address(rng, 0.2);
        (loc, ip, v6)
    } else if rng.chance(0.75) {
        (user.home, user.home_ip.clone(), user.home_v6)
    } else {
        let (ip, v6) = org.locations[user.home].address(rng, 0.2);
        (user.home, ip, v6)
    };
    let agent = *rng.pick(&user.agents);
    let ua = &org.user_agents[agent];
    let loc = &org.locations[location];
    ClientParts {
        owner: Some(Owner::new(org, u, agent, location, at)),
        ua_json: &ua.json,
        device: ua.device,
        ip,
        v6,
        geo_json: &loc.geo_json,
        security_json: &loc.security_json,
        zone: if !away && rng.chance(0.3) {
            "Corporate Offices"
        } else {
            "null"
        },
        away,
        client_id: None,
    }
}

/// A client on a hosting/VPN network with any agent (attackers, scripts).
fn hostile_client<'a>(rng: &mut Rng, org: &'a Org) -> ClientParts<'a> {
    let loc = *rng.pick(&org.hosting_locations);
    let (ip, v6) = org.locations[loc].address(rng, 0.1);
    let ua = rng.pick(&org.user_agents);
    let loc = &org.locations[loc];
    ClientParts {
        owner: None,
        ua_json: &ua.json,
        device: ua.device,
        ip,
        v6,
        geo_json: &loc.geo_json,
        security_json: &loc.security_json,
        zone: "null",
        away: true,
        client_id: None,
    }
}

fn simple_target(
    id: &str,
    kind: &str,
    alternate_id: &str,
    display_name: &str,
    detail: Option<&str>,
) -> String {
    fragment(|w| {
        w.open();
        w.kv("id", id);
        w.kv("type", kind);
        w.kv("alternateId", alternate_id);
        w.kv("displayName", display_name);
        match detail {
            Some(d) => w.kv_raw("detailEntry", d),
            None => {
                w.key("detailEntry");
                w.null();
            }
        }
        w.close();
    })
}

/// Chooses actor, client, targets and details for one event of type `spec`.
/// `at`: the event's `published` time in milliseconds since the Unix epoch.
fn parts<'a>(rng: &mut Rng, org: &'a Org, spec: &Spec, at: i64) -> Parts<'a> {
    let (event_type, _, _, _, shape, fail_rate) = *spec;
    let failed = rng.chance(fail_rate);
    let user = pick_user(rng, org, at);
    let admin = *rng.pick(&org.admins);
    let (result, reason) = if failed {
        let reason = match shape {
            Shape::Blocked if rng.chance(0.5) => "Blocked by ThreatInsight",
            Shape::Blocked => "Request from blocked network zone",
            _ => *rng.pick(FAILURE_REASONS),
        };
        let result = if shape == Shape::Blocked {
            "DENY"
        } else {
            "FAILURE"
        };
        (result, Some(reason))
    } else {
        ("SUCCESS", None)
    };
    let mut parts = Parts {
        actor: &org.users[user].actor_json,
        client: None,
        device: None,
        auth_provider: None,
        credential_type: None,
        result,
        reason,
        severity: if failed { "WARN" } else { "INFO" },
        request_uri: String::new(),
        risk: None,
        extra_debug: Vec::with_capacity(6),
        job: false,
        targets: Vec::with_capacity(3),
        owned_targets: Vec::new(),
    };
    match shape {
        Shape::UserAuth | Shape::PolicyEvaluation => {
            let (uri, provider, credential) = match event_type {
                "user.session.start" => (
                    "/idp/idx/identify",
                    Some("OKTA_AUTHENTICATION_PROVIDER"),
                    Some("PASSWORD"),
                ),
                "user.authentication.auth_via_mfa" => (
                    "/idp/idx/challenge/answer",
                    Some("FACTOR_PROVIDER"),
                    Some("OTP"),
                ),
                "user.authentication.auth_via_IDP" => {
                    ("/oauth2/v1/authorize/callback", Some("SOCIAL"), Some("IWA"))
                }
                "user.session.end" => ("/login/signout", None, None),
                "user.session.access_admin_app" => ("/admin/dashboard", None, None),
                "policy.evaluate_sign_on" => ("/idp/idx/introspect", None, None),
                _ => (
                    "/idp/idx/challenge/answer",
                    Some("OKTA_AUTHENTICATION_PROVIDER"),
                    Some("PASSWORD"),
                ),
            };
            parts.request_uri = uri.to_string();
            parts.auth_provider = provider;
            parts.credential_type = credential;
            if matches!(
                event_type,
                "user.authentication.auth_via_mfa" | "user.authentication.verify"
            ) {
                let (factor, name) = *rng.pick(FACTORS);
                parts.extra_debug.push(("factor", factor.to_string()));
                parts
                    .extra_debug
                    .push(("factorIntent", "AUTHENTICATION".to_string()));
                let detail = format!("{{\"methodTypeUsed\":\"{name}\",\"methodUsedVerifiedProperties\":\"[POSSESSION, USER_PRESENCE]\"}}");
                parts.owned_targets.push(simple_target(
                    &okta_id(rng, "pfd"),
                    "AuthenticatorEnrollment",
                    "unknown",
                    name,
                    Some(&detail),
                ));
            }
            if event_type == "user.authentication.auth_via_IDP" {
                parts.targets.push(&org.idp_json);
            }
            if shape == Shape::PolicyEvaluation {
                parts.targets.push(&org.policies[rng.below(3)]);
                let rule_name = if failed {
                    "Deny risky sign-ins"
                } else {
                    "Catch-all Rule"
                };
                parts.owned_targets.push(simple_target(
                    &okta_id(rng, "0pr"),
                    "PolicyRule",
                    "unknown",
                    rule_name,
                    Some("{\"policyRuleFactorMode\":\"2FA\"}"),
                ));
                parts.result = if failed { "DENY" } else { "ALLOW" };
            }
            parts.client = Some(user_client(rng, org, user, at));
        }
        Shape::AppSso => {
            let app = &org.apps[rng.below(org.apps.len())];
            parts.request_uri = format!("/app/{}/exk{}/sso/saml", app.name, &app.id[3..]);
            parts
                .extra_debug
                .push(("signOnMode", app.sign_on_mode.replace('_', " ")));
            parts.extra_debug.push((
                "initiationType",
                if rng.chance(0.7) {
                    "IDP_INITIATED"
                } else {
                    "SP_INITIATED"
                }
                .to_string(),
            ));
            parts.targets.push(&app.target_json);
            parts.targets.push(&org.users[user].app_user_json);
            parts.client = Some(user_client(rng, org, user, at));
        }
        Shape::MfaFactor => {
            let by_admin = rng.chance(0.3);
            let (factor, _) = *rng.pick(FACTORS);
            parts.request_uri = format!("/api/v1/users/{}/factors", org.users[user].id);
            parts.extra_debug.push(("factor", factor.to_string()));
            let actor = if by_admin { admin } else { user };
            parts.actor = &org.users[actor].actor_json;
            parts.targets.push(&org.users[user].actor_json);
            parts.client = Some(user_client(rng, org, actor, at));
        }
        Shape::AdminOnUser | Shape::SelfService => {
            let actor = if shape == Shape::SelfService {
                user
            } else {
                admin
            };
            if event_type == "user.account.lock" {
                parts.severity = "WARN";
                parts.result = "FAILURE";
                parts.reason = Some("LOCKED_OUT");
            }
            if event_type.starts_with("user.account.privilege") {
                parts
                    .extra_debug
                    .push(("privilegeGranted", "Read-only Administrator".to_string()));
            }
            parts.request_uri = format!("/api/v1/users/{}/lifecycle", org.users[user].id);
            parts.actor = &org.users[actor].actor_json;
            parts.targets.push(&org.users[user].actor_json);
            if event_type.starts_with("user.lifecycle") && rng.chance(0.4) {
                // Provisioning from HR/SCIM runs as a system job.
                parts.job = true;
                parts.actor = &org.system_actor_json;
            } else {
                parts.client = Some(user_client(rng, org, actor, at));
            }
        }
        Shape::GroupMembership => {
            let by_rule = rng.chance(0.5);
            parts.request_uri = "/api/v1/groups/members".to_string();
            parts.actor = if by_rule {
                &org.system_actor_json
            } else {
                &org.users[admin].actor_json
            };
            parts.job = by_rule;
            parts.targets.push(&org.users[user].actor_json);
            parts
                .targets
                .push(&org.groups[rng.below(org.groups.len())].target_json);
            if !by_rule {
                parts.client = Some(user_client(rng, org, admin, at));
            }
        }
        Shape::AppAdmin | Shape::AppMembership => {
            let app = &org.apps[rng.below(org.apps.len())];
            parts.request_uri = format!("/api/v1/apps/{}", app.id);
            parts.actor = &org.users[admin].actor_json;
            if shape == Shape::AppMembership {
                parts.targets.push(&org.users[user].app_user_json);
                parts.targets.push(&app.target_json);
                parts.targets.push(&org.users[user].actor_json);
            } else {
                parts.targets.push(&app.target_json);
            }
            parts.client = Some(user_client(rng, org, admin, at));
        }
        Shape::OAuth => {
            let oidc: Vec<&org::App> = org
                .apps
                .iter()
                .filter(|a| a.sign_on_mode == "OPENID_CONNECT")
                .collect();
            let app = *rng.pick(&oidc);
            parts.request_uri = match event_type {
                "app.oauth2.as.authorize" => "/oauth2/default/v1/authorize",
                "app.oauth2.token.revoke" => "/oauth2/default/v1/revoke",
                _ => "/oauth2/default/v1/token",
            }
            .to_string();
            let grant = if rng.chance(0.7) {
                "authorization_code"
            } else {
                "refresh_token"
            };
            parts.extra_debug.push(("grantType", grant.to_string()));
            parts.extra_debug.push((
                "grantedScopes",
                "openid, profile, email, offline_access".to_string(),
            ));
            parts.targets.push(&org.authorization_server_json);
            let detail = format!(
                "{{\"expires\":\"3600\",\"subject\":\"{}\",\"hash\":\"{}\"}}",
                org.users[user].id,
                random_token(rng, 22)
            );
            parts.owned_targets.push(simple_target(
                &okta_id(rng, "AT."),
                "access_token",
                "unknown",
                "Access Token",
                Some(&detail),
            ));
            let mut client = user_client(rng, org, user, at);
            client.client_id = Some(&app.id);
            parts.client = Some(client);
        }
        Shape::ApiToken => {
            let name = format!("siem-integration-{}", rng.below(20));
            parts.request_uri = "/api/internal/tokens".to_string();
            parts.actor = &org.users[admin].actor_json;
            parts.owned_targets.push(simple_target(
                &okta_id(rng, "00T"),
                "Token",
                "unknown",
                &name,
                None,
            ));
            parts.client = Some(user_client(rng, org, admin, at));
        }
        Shape::PolicyAdmin => {
            parts.request_uri = "/api/v1/policies".to_string();
            parts.actor = &org.users[admin].actor_json;
            parts
                .targets
                .push(&org.policies[rng.below(org.policies.len())]);
            parts.client = Some(user_client(rng, org, admin, at));
        }
        Shape::Zone => {
            parts.request_uri = "/api/v1/zones".to_string();
            parts.actor = &org.users[admin].actor_json;
            parts.targets.push(&org.zones[rng.below(org.zones.len())]);
            parts.client = Some(user_client(rng, org, admin, at));
        }
        Shape::Threat | Shape::Blocked => {
            parts.severity = "WARN";
            parts.request_uri = "/api/v1/authn".to_string();
            parts.extra_debug.push((
                "threatDetections",
                "{\"Password Spray\":\"ThreatInsight\"}".to_string(),
            ));
            if shape == Shape::Threat {
                parts.result = "DENY";
                parts.reason = Some("Password Spray");
            }
            if rng.chance(0.4) {
                parts.actor = UNKNOWN_ACTOR;
            }
            parts.client = Some(hostile_client(rng, org));
        }
        Shape::AdAgent => {
            parts.request_uri = "/api/1/internal/agent/ad".to_string();
            parts
                .extra_debug
                .push(("agentVersion", "3.17.0.0".to_string()));
            parts.actor = &org.ad_agent_json;
            parts.job = true;
            if event_type.ends_with("import_user") || event_type.ends_with("write_ldap") {
                parts.targets.push(&org.users[user].actor_json);
            }
        }
        Shape::Impersonation => {
            parts.request_uri = "/api/internal/impersonation".to_string();
            parts.severity = "WARN";
            parts.actor = &org.support_actor_json;
            parts.targets.push(&org.users[admin].actor_json);
            let loc = &org.locations[0];
            let (ip, v6) = loc.address(rng, 0.0);
            parts.client = Some(ClientParts {
                owner: None,
                ua_json: &org.user_agents[0].json,
                device: "Computer",
                ip,
                v6,
                geo_json: &loc.geo_json,
                security_json: &loc.security_json,
                zone: "null",
                away: false,
                client_id: None,
            });
        }
        Shape::Device => {
            let u = &org.users[user];
            parts.request_uri = "/api/v1/devices".to_string();
            let by_admin = !matches!(event_type, "device.enrollment.create" | "device.user.add");
            if by_admin {
                parts.actor = &org.users[admin].actor_json;
            }
            let mobile = rng.chance(0.4);
            let (name, platform, version) = if mobile {
                ("iPhone 15", "IOS", "17.4.1")
            } else {
                ("MacBook Pro", "OSX", "14.4.1")
            };
            parts.device = Some(format!(
                "{{\"id\":\"{}\",\"name\":\"{name}\",\"os_platform\":\"{platform}\",\"os_version\":\"{version}\",\"managed\":{},\"registered\":true,\"device_integrator\":null,\"disk_encryption_type\":\"ALL_INTERNAL_VOLUMES\",\"screen_lock_type\":\"BIOMETRIC\",\"jailbreak\":{},\"secure_hardware_present\":true}}",
                u.device_id,
                !mobile,
                if mobile { "false" } else { "null" }
            ));
            parts.owned_targets.push(simple_target(
                &u.device_id,
                "Device",
                &u.device_id,
                name,
                None,
            ));
            let mut client = user_client(rng, org, user, at);
            if by_admin {
                // An admin acting on the user's device (from the user's client context, as
                // generated so far): not the user's session, a one-off of its own.
                client.owner = None;
            }
            parts.client = Some(client);
        }
        Shape::Itp => itp_parts(rng, org, event_type, user, admin, at, &mut parts),
    }
    parts
}

/// Identity Threat Protection detections: `(detectionName, reasons, previous
/// level, level)`. The names are Okta's (help.okta.com, ITP "Risk detections");
/// the first row is the example of Okta's ITP event-type reference.
const DETECTIONS: &[(&str, &str, &str, &str)] = &[
    (
        "Session Influenced User Risk",
        "Associated sessionId is suspected to be hijacked",
        "LOW",
        "MEDIUM",
    ),
    (
        "Suspected Brute Force Attack",
        "Repeated failed sign-in attempts for the user",
        "LOW",
        "MEDIUM",
    ),
    (
        "Okta Threat Intelligence",
        "Sign-in from known threat actor infrastructure",
        "MEDIUM",
        "HIGH",
    ),
    (
        "Entity Critical Action From High Threat IP",
        "Critical action from an IP flagged by ThreatInsight",
        "LOW",
        "HIGH",
    ),
    (
        "Admin Reported User Risk",
        "Admin reported user risk",
        "LOW",
        "HIGH",
    ),
    (
        "User reported suspicious activity",
        "User reported suspicious activity",
        "MEDIUM",
        "HIGH",
    ),
];

/// The Shared Signals (SSF) transmitter the simulated org receives risk from.
const PROVIDER_ID: &str = "0sp1k9x7ZfQ3mYbT40h8";
const PROVIDER_NAME: &str = "Example EDR";
const PROVIDER_ISSUER: &str = "https://ssf.edr.example.com";
const PROVIDER_ACTOR: &str = "{\"id\":\"0sp1k9x7ZfQ3mYbT40h8\",\"type\":\"SecurityEventProvider\",\"alternateId\":\"https://ssf.edr.example.com\",\"displayName\":\"Example EDR\",\"detailEntry\":null}";

/// `(SSF event type, reason_admin)` a provider reports (CAEP / RISC event types).
const PROVIDER_REPORTS: &[(&str, &str)] = &[
    (
        "https://schemas.openid.net/secevent/caep/event-type/session-revoked",
        "Malware detected",
    ),
    (
        "https://schemas.openid.net/secevent/caep/event-type/device-compliance-change",
        "Device out of compliance",
    ),
    (
        "https://schemas.openid.net/secevent/risc/event-type/credential-compromise",
        "Credential found in an infostealer log",
    ),
];

/// The session risk Okta's ITP reference shows for a re-evaluated session.
const SESSION_RISK_HIGH: &str = "{reasons=Anomalous Geo-Distance, New Device, New ASN, New IP, New State, New Country, New City, level=HIGH}";

/// `alternateId` of an actor/target JSON built by `org`.
fn alternate_id(actor_json: &str) -> &str {
    actor_json
        .split_once("\"alternateId\":\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map_or("unknown", |(id, _)| id)
}

/// An OIE session id (`idx…`).
fn idx_session(rng: &mut Rng) -> String {
    let mut id = String::from("idx");
    push_base62(rng, &mut id, 22);
    id
}

/// Actor, client, targets and debugData of an Identity Threat Protection event,
/// after Okta's ITP event-type reference (developer.okta.com, "Identity Threat
/// Protection Event Types"): every one carries a `traceId`; risk is the
/// `{key=value, …}` string Okta writes.
fn itp_parts<'a>(
    rng: &mut Rng,
    org: &'a Org,
    event_type: &str,
    user: usize,
    admin: usize,
    at: i64,
    parts: &mut Parts<'a>,
) {
    let u = &org.users[user];
    parts.extra_debug.push(("traceId", uuid(rng)));
    parts.targets.push(&u.actor_json);
    // Asynchronous evaluations run as the system principal, without a client.
    let system = |parts: &mut Parts<'a>| {
        parts.actor = &org.system_actor_json;
        parts.job = true;
    };
    match event_type {
        "user.risk.detect" | "user.risk.change" => {
            let (name, reasons, previous, level) = *rng.pick(DETECTIONS);
            let from_provider = rng.chance(0.2);
            let (name, reasons, issuer) = if from_provider {
                let (_, reason) = *rng.pick(PROVIDER_REPORTS);
                (
                    "Security Events Provider Reported Risk",
                    reason,
                    PROVIDER_ISSUER,
                )
            } else {
                (name, reasons, "OKTA")
            };
            parts.risk = Some(format!(
                "{{previousLevel={previous}, level={level}, detectionName={name}, reasons={reasons}, issuer={issuer}}}"
            ));
            if level == "HIGH" {
                parts.severity = "WARN";
            }
            if name == "Admin Reported User Risk" {
                parts.actor = &org.users[admin].actor_json;
                parts.request_uri = format!("/api/v1/users/{}/risk", u.id);
                parts.client = Some(user_client(rng, org, admin, at));
            } else if from_provider {
                parts.actor = PROVIDER_ACTOR;
                parts.request_uri = "/security/api/v1/security-events".to_string();
            } else {
                system(parts);
            }
        }
        "user.session.context.change" => {
            let hijack = rng.chance(0.5);
            let client = if hijack {
                hostile_client(rng, org)
            } else {
                user_client(rng, org, user, at)
            };
            let session = idx_session(rng);
            let device_change = !hijack && rng.chance(0.4);
            let cause = if device_change {
                "[deviceContext.change]"
            } else {
                "[ipAddress.change]"
            };
            parts.extra_debug.push(("causes", cause.to_string()));
            parts
                .extra_debug
                .push(("externalSessionId", session.clone()));
            parts
                .extra_debug
                .push(("previousIpAddress", u.home_ip.clone()));
            parts.extra_debug.push(("newIpAddress", client.ip.clone()));
            if device_change {
                parts.extra_debug.push((
                    "changedDeviceSignals",
                    "{\"device.profile.managed\":{\"oldValue\":true,\"newValue\":false}}"
                        .to_string(),
                ));
            }
            parts.extra_debug.push(("source", "OKTA".to_string()));
            parts.risk = Some(if hijack {
                SESSION_RISK_HIGH.to_string()
            } else {
                "{reasons=New IP, level=MEDIUM}".to_string()
            });
            if hijack {
                parts.severity = "WARN";
            }
            parts.request_uri = "/idp/idx/introspect".to_string();
            parts.owned_targets.push(simple_target(
                &session, "Session", "unknown", "Session", None,
            ));
            parts.client = Some(client);
        }
        "policy.auth_reevaluate.enforce"
        | "policy.auth_reevaluate.fail"
        | "policy.auth_reevaluate.action"
        | "policy.continuous_access.evaluate"
        | "policy.continuous_access.action" => {
            parts.risk = Some(SESSION_RISK_HIGH.to_string());
            if rng.chance(0.5) {
                parts.client = Some(hostile_client(rng, org));
                parts.request_uri = "/idp/idx/introspect".to_string();
            } else {
                system(parts);
            }
            parts.targets.push(&org.policies[rng.below(2)]);
            if event_type.ends_with(".action") {
                let logout_all = rng.chance(0.7);
                let (action, detail) = if logout_all {
                    ("TERMINATE_SESSION", "{\"ruleAction\":\"TERMINATE_SESSION\",\"singleLogOutEnabled\":true,\"singleLogOutSelectionMode\":\"ALL\"}".to_string())
                } else {
                    (
                        "RUN_WORKFLOW",
                        "{\"ruleAction\":\"RUN_WORKFLOW\",\"workflowId\":\"572749\"}".to_string(),
                    )
                };
                parts.owned_targets.push(simple_target(
                    &okta_id(rng, "0pr"),
                    "Rule",
                    "unknown",
                    "Session Protection Rule",
                    Some(&detail),
                ));
                let policy_detail = format!("{{\"policyAction\":\"{action}\"}}");
                parts.owned_targets.push(simple_target(
                    &okta_id(rng, "00p"),
                    "PolicyAction",
                    "unknown",
                    action,
                    Some(&policy_detail),
                ));
            } else {
                let deny = event_type.ends_with(".fail") && rng.chance(0.5);
                if event_type.ends_with(".fail") {
                    parts
                        .extra_debug
                        .push(("caeEnforceMode", rng.chance(0.8).to_string()));
                }
                parts
                    .extra_debug
                    .push(("serverStatus", "ACTIVE".to_string()));
                let app = &org.apps[rng.below(org.apps.len())];
                let detail = format!(
                    "{{\"policyType\":\"OKTA_SIGN_ON\",\"matchedRuleAction\":\"{}\",\"matchedRuleAssuranceMet\":{},\"matchedRuleDisplayName\":\"Require phishing-resistant MFA\",\"matchedRuleId\":\"{}\",\"appInstanceIds\":[\"{}\"]}}",
                    if deny { "DENY" } else { "ALLOW" },
                    if deny { "null" } else { "false" },
                    okta_id(rng, "0pr"),
                    app.id
                );
                parts.owned_targets.push(simple_target(
                    &okta_id(rng, "00p"),
                    "PolicyEvaluation",
                    "unknown",
                    "Global Session Policy",
                    Some(&detail),
                ));
            }
        }
        "policy.entity_risk.evaluate" | "policy.entity_risk.action" => {
            let (name, reasons, _, level) = *rng.pick(DETECTIONS);
            parts.risk = Some(format!(
                "{{level={level}, detectionName={name}, reasons={reasons}, issuer=OKTA}}"
            ));
            system(parts);
            parts.owned_targets.push(simple_target(
                &okta_id(rng, "rst"),
                "Policy",
                "unknown",
                "Entity Risk Policy",
                None,
            ));
            let workflow = rng.chance(0.4);
            let rule_detail = if workflow {
                "{\"ruleAction\":\"RUN_WORKFLOW\",\"workflowId\":\"572749\"}"
            } else {
                "{\"ruleAction\":\"TERMINATE_ALL_SESSIONS\"}"
            };
            parts.owned_targets.push(simple_target(
                &okta_id(rng, "0pr"),
                "Rule",
                "unknown",
                "High risk users",
                Some(rule_detail),
            ));
            if event_type.ends_with(".action") {
                let action = if workflow {
                    "RUN_WORKFLOW"
                } else {
                    "TERMINATE_ALL_SESSIONS"
                };
                let detail = format!("{{\"policyAction\":\"{action}\"}}");
                parts.owned_targets.push(simple_target(
                    &okta_id(rng, "rst"),
                    "PolicyAction",
                    "unknown",
                    action,
                    Some(&detail),
                ));
            }
        }
        "security.events.provider.receive_event" => {
            let (kind, reason) = *rng.pick(PROVIDER_REPORTS);
            let report = format!(
                "{{\"issuer\":\"{PROVIDER_ISSUER}\",\"{kind}\":{{\"subject\":{{\"user\":{{\"format\":\"email\",\"email\":\"{}\"}},\"device\":{{\"format\":\"opaque\",\"sub\":\"{}\"}}}},\"event_timestamp\":{},\"reason_admin\":{{\"en\":\"{reason}\"}}}}}}",
                alternate_id(&u.actor_json),
                u.device_id,
                1_700_000_000 + rng.below(100_000_000)
            );
            parts.extra_debug.push(("partnerRiskReportData", report));
            parts.actor = PROVIDER_ACTOR;
            parts.request_uri = "/security/api/v1/security-events".to_string();
        }
        // security.events.provider.{create,update,activate,deactivate,delete}
        _ => {
            parts.targets.clear();
            parts.actor = &org.users[admin].actor_json;
            parts.request_uri = "/api/v1/risk/providers".to_string();
            parts.owned_targets.push(simple_target(
                PROVIDER_ID,
                "SecurityEventProvider",
                PROVIDER_ISSUER,
                PROVIDER_NAME,
                None,
            ));
            parts.client = Some(user_client(rng, org, admin, at));
        }
    }
}

/// Writes the LogEvent in Okta's field order.
fn render(
    rng: &mut Rng,
    spec: &Spec,
    parts: &Parts<'_>,
    uuid: &str,
    published: DateTime<Utc>,
    out: &mut String,
) {
    let (event_type, legacy, message, _, shape, _) = *spec;
    let risky = matches!(shape, Shape::Threat | Shape::Blocked);
    let mut w = JsonWriter::new(out);
    w.open();
    w.kv_raw("actor", parts.actor);

    w.key("client");
    match &parts.client {
        Some(c) => {
            w.open();
            w.kv_raw("userAgent", c.ua_json);
            w.kv("zone", c.zone);
            w.kv("device", c.device);
            w.kv_opt("id", c.client_id);
            w.kv("ipAddress", &c.ip);
            w.kv_raw("geographicalContext", c.geo_json);
            w.close();
        }
        None => w.raw(NULL_CLIENT),
    }
    w.key("device");
    match &parts.device {
        Some(d) => w.raw(d),
        None => w.null(),
    }

    w.key("authenticationContext");
    w.open();
    w.kv_opt("authenticationProvider", parts.auth_provider);
    w.kv_opt(
        "credentialProvider",
        parts.auth_provider.map(|_| "OKTA_CREDENTIAL_PROVIDER"),
    );
    w.kv_opt("credentialType", parts.credential_type);
    w.key("issuer");
    w.null();
    w.key("interface");
    w.null();
    w.key("authenticationStep");
    w.int(0);
    if parts.job {
        w.kv("externalSessionId", "unknown");
    } else {
        // Drawn for every event, used or not, so that the rest of a seed's stream (every other
        // field of every later event) does not depend on whose session this is.
        let drawn = random_token(rng, 22);
        let session = match parts.client.as_ref().and_then(|c| c.owner) {
            Some(owner) => owner.session_id(),
            None => drawn,
        };
        w.kv("rootSessionId", &format!("102{session}"));
        w.kv("externalSessionId", &format!("102{session}"));
    }
    w.close();

    w.kv("displayMessage", message);
    w.kv("eventType", event_type);
    w.key("outcome");
    w.open();
    w.kv("result", parts.result);
    w.kv_opt("reason", parts.reason);
    w.close();
    w.kv(
        "published",
        &published.to_rfc3339_opts(SecondsFormat::Millis, true),
    );
    w.kv_raw(
        "securityContext",
        parts
            .client
            .as_ref()
            .map_or(NULL_SECURITY, |c| c.security_json),
    );
    w.kv("severity", parts.severity);

    let request_id = {
        let mut id = random_token(rng, 24);
        id.push_str("AAA");
        id
    };
    w.key("debugContext");
    w.open();
    w.key("debugData");
    w.open();
    w.kv("requestId", &request_id);
    w.kv("requestUri", &parts.request_uri);
    w.kv("url", &format!("{}?", parts.request_uri));
    if let Some(c) = &parts.client {
        // Drawn either way, like the session id above.
        let mut dt_hash = String::with_capacity(64);
        push_hex(rng, &mut dt_hash, 64);
        let mut fingerprint = String::with_capacity(32);
        push_hex(rng, &mut fingerprint, 32);
        if let Some(owner) = c.owner {
            (dt_hash, fingerprint) = owner.device_ids();
        }
        w.kv("dtHash", &dt_hash);
        w.kv("deviceFingerprint", &fingerprint);
        let flag = |b: bool| if b { "POSITIVE" } else { "NEGATIVE" };
        let new_device = rng.chance(if c.away { 0.3 } else { 0.03 });
        let behaviors = format!(
            "{{New Geo-Location={}, New Device={}, New IP={}, New State={}, New Country={}, Velocity={}, New City={}}}",
            flag(c.away),
            flag(new_device),
            flag(c.away || rng.chance(0.1)),
            flag(c.away),
            flag(c.away && rng.chance(0.5)),
            flag(risky),
            flag(c.away)
        );
        let level = if risky {
            "HIGH"
        } else if c.away || new_device {
            "MEDIUM"
        } else {
            "LOW"
        };
        let risk = if level == "LOW" {
            "{level=LOW}".to_string()
        } else {
            format!("{{reasons=Anomalous Location, Anomalous Device, level={level}}}")
        };
        w.kv("threatSuspected", if risky { "true" } else { "false" });
        w.kv("behaviors", &behaviors);
        w.kv("risk", parts.risk.as_deref().unwrap_or(&risk));
        // Okta also ships the same data as a JSON document inside a string.
        let log_only = format!(
            "{{\"risk\":{{\"level\":\"{level}\"}},\"behaviors\":{{\"New Geo-Location\":\"{}\",\"New Device\":\"{}\",\"New IP\":\"{}\"}},\"network\":{{\"ip\":\"{}\",\"version\":\"{}\"}}}}",
            flag(c.away),
            flag(new_device),
            flag(c.away),
            c.ip,
            if c.v6 { "V6" } else { "V4" }
        );
        w.kv("logOnlySecurityData", &log_only);
    } else if let Some(risk) = &parts.risk {
        w.kv("risk", risk);
    }
    for (key, value) in &parts.extra_debug {
        w.kv(key, value);
    }
    w.close();
    w.close();

    w.kv_opt("legacyEventType", legacy);
    w.key("transaction");
    w.open();
    w.kv("type", if parts.job { "JOB" } else { "WEB" });
    w.kv("id", &request_id);
    w.key("detail");
    if parts.job {
        let token = okta_id(rng, "00T");
        w.raw(&format!("{{\"requestApiTokenId\":\"{token}\"}}"));
    } else {
        w.raw("{}");
    }
    w.close();
    w.kv("uuid", uuid);
    w.kv("version", "0");

    w.key("request");
    w.open();
    w.key("ipChain");
    w.open_array();
    if let Some(c) = &parts.client {
        write_ip_chain_entry(&mut w, &c.ip, c.v6, c.geo_json, None);
        if c.zone == "Corporate Offices" && !c.v6 {
            // Traffic through the office egress proxy shows both hops.
            let proxy = format!("198.51.100.{}", 1 + rng.below(250));
            write_ip_chain_entry(
                &mut w,
                &proxy,
                false,
                CORPORATE_EGRESS_GEO,
                Some("ForwardedFor"),
            );
        }
    }
    w.close_array();
    w.close();

    w.key("target");
    if parts.targets.is_empty() && parts.owned_targets.is_empty() {
        w.null();
    } else {
        w.open_array();
        for t in &parts.targets {
            w.raw(t);
        }
        for t in &parts.owned_targets {
            w.raw(t);
        }
        w.close_array();
    }
    w.close();
    w.finish();
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::collections::{BTreeSet, HashSet};

    fn at(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(1_700_000_000_000 + ms)
            .single()
            .expect("valid test timestamp")
    }

    /// A day of events, one every 4 s: sessions and devices recur (many events per session
    /// id and per dtHash), each belongs to one actor, never changes AS (network), and a
    /// session lasts at most a [`SESSION_MS`] slot.
    #[test]
    fn sessions_and_devices_recur_and_never_change_network() {
        let mut generator = EventGenerator::new(7);
        // session id -> (actor, AS, first and last ms), dtHash -> (actor, AS, events)
        type Seen = (String, serde_json::Value);
        let mut sessions: std::collections::HashMap<String, (Seen, i64, i64, usize)> =
            Default::default();
        let mut devices: std::collections::HashMap<String, (Seen, usize)> = Default::default();
        for i in 0..20_000 {
            let ms = i * 4_000;
            let event = generator.event_value(at(ms));
            let sid = event["authenticationContext"]["externalSessionId"].as_str();
            let dt = event["debugContext"]["debugData"]["dtHash"].as_str();
            let (Some(sid), Some(dt)) = (sid, dt) else {
                continue;
            };
            if sid == "unknown" || event["client"]["ipAddress"].is_null() {
                continue;
            }
            let actor = event["actor"]["alternateId"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            let asn = event["securityContext"]["asNumber"].clone();
            let seen = (actor, asn);
            let s = sessions
                .entry(sid.to_owned())
                .or_insert_with(|| (seen.clone(), ms, ms, 0));
            assert_eq!(
                s.0, seen,
                "session {sid}: one actor, one AS ({})",
                event["eventType"]
            );
            s.2 = ms;
            s.3 += 1;
            assert!(s.2 - s.1 < SESSION_MS, "session {sid} outlives its slot");
            let d = devices
                .entry(dt.to_owned())
                .or_insert_with(|| (seen.clone(), 0));
            assert_eq!(d.0, seen, "device {dt}: one actor, one AS");
            d.1 += 1;
        }
        let in_sessions: usize = sessions.values().map(|s| s.3).sum();
        let recurring: usize = sessions.values().filter(|s| s.3 > 1).map(|s| s.3).sum();
        assert!(
            recurring * 2 > in_sessions,
            "most events share their session with another: {recurring} of {in_sessions}"
        );
        assert!(
            devices.len() * 2 < in_sessions,
            "devices recur: {} for {in_sessions} events",
            devices.len()
        );
        // Attackers' and other one-off clients still get sessions of their own.
        assert!(sessions.values().any(|s| s.3 == 1));
    }

    /// Every user's whereabouts, sampled every 10 minutes for 60 days: some users travel,
    /// admins never do, and no two consecutive places imply more than 900 km/h (the
    /// `geo_improbable_access` threshold), transit included.
    #[test]
    fn users_travel_at_plausible_speeds() {
        let generator = EventGenerator::new(42);
        let org = generator.org();
        let step = 600_000;
        let mut travellers = 0;
        let mut transits = 0;
        for u in 0..org.users.len() {
            let home = org.users[u].home;
            let mut last: Option<(usize, i64)> = None;
            let mut travelled = false;
            for i in 0..(60 * 24 * 6) {
                let t = 1_700_000_000_000 + i * step;
                let place = match whereabouts(org, u, t) {
                    Whereabouts::Transit => {
                        transits += 1;
                        continue;
                    }
                    Whereabouts::Home => home,
                    Whereabouts::Away(loc) => {
                        assert_ne!(loc, home);
                        assert!(!org.locations[loc].hosting, "trips go to real places");
                        travelled = true;
                        loc
                    }
                };
                if let Some((before, since)) = last {
                    if before != place {
                        let (a, b) = (&org.locations[before], &org.locations[place]);
                        let km = great_circle_km(a.lat, a.lon, b.lat, b.lon);
                        let hours = (t - since) as f64 / 3_600_000.0;
                        assert!(
                            km / hours <= 900.0,
                            "user {u}: {km:.0} km in {hours:.2} h at {t}"
                        );
                    }
                }
                last = Some((place, t));
            }
            if org.admins.contains(&u) {
                assert!(!travelled, "admins stay home");
            }
            travellers += usize::from(travelled);
        }
        assert!(
            travellers > org.users.len() / 2,
            "{travellers} of 600 users travel"
        );
        assert!(transits > 0);
    }

    /// Successful sign-ins of the generated stream: a user's consecutive ones never imply
    /// more than 900 km/h, and some are away from home (the stream does not teleport users,
    /// which would make `geo_improbable_access` fire on background traffic).
    #[test]
    fn sign_ins_never_imply_an_improbable_speed() {
        let mut generator = EventGenerator::new(7);
        let mut last: std::collections::HashMap<String, (f64, f64, i64)> = Default::default();
        let mut places = HashSet::new();
        let mut sign_ins = 0;
        // 40,000 events over 4 days: ~15 sign-ins per user.
        for i in 0..40_000i64 {
            let t = i * 8_640;
            let event = generator.event(at(t));
            if !event.contains("\"eventType\":\"user.session.start\"")
                || !event.contains("\"result\":\"SUCCESS\"")
            {
                continue;
            }
            let value: serde_json::Value = serde_json::from_str(&event).expect("JSON");
            let user = value["actor"]["alternateId"]
                .as_str()
                .expect("actor")
                .to_string();
            let geo = &value["client"]["geographicalContext"]["geolocation"];
            let (Some(lat), Some(lon)) = (geo["lat"].as_f64(), geo["lon"].as_f64()) else {
                continue;
            };
            sign_ins += 1;
            places.insert((user.clone(), geo.to_string()));
            if let Some((lat0, lon0, t0)) = last.insert(user.clone(), (lat, lon, t)) {
                let km = great_circle_km(lat0, lon0, lat, lon);
                if km > 0.0 {
                    let hours = (t - t0) as f64 / 3_600_000.0;
                    assert!(km / hours <= 900.0, "{user}: {km:.0} km in {hours:.2} h");
                }
            }
        }
        assert!(sign_ins > 3_000, "{sign_ins} sign-ins");
        // Some users signed in from more than one place (trips happen).
        assert!(
            places.len() > last.len() + 20,
            "{} places, {} users",
            places.len(),
            last.len()
        );
    }

    /// Identity Threat Protection eventTypes (issue 11: the simulator emits each).
    const ITP_TYPES: &[&str] = &[
        "user.risk.detect",
        "user.risk.change",
        "user.session.context.change",
        "policy.auth_reevaluate.enforce",
        "policy.auth_reevaluate.fail",
        "policy.auth_reevaluate.action",
        "policy.continuous_access.evaluate",
        "policy.continuous_access.action",
        "policy.entity_risk.evaluate",
        "policy.entity_risk.action",
        "security.events.provider.receive_event",
        "security.events.provider.create",
        "security.events.provider.update",
        "security.events.provider.activate",
        "security.events.provider.deactivate",
        "security.events.provider.delete",
    ];

    #[test]
    fn itp_events_carry_their_risk_payloads() {
        let mut g = EventGenerator::new(11);
        let mut seen = BTreeSet::new();
        for i in 0..20_000 {
            let v = g.event_value(at(i));
            let event_type = v["eventType"].as_str().expect("eventType").to_owned();
            if !ITP_TYPES.contains(&event_type.as_str()) {
                continue;
            }
            let debug = &v["debugContext"]["debugData"];
            assert!(
                debug["traceId"].as_str().is_some_and(|t| t.len() == 36),
                "{event_type}: traceId"
            );
            let risk = debug["risk"].as_str().unwrap_or_default();
            match event_type.as_str() {
                "user.risk.detect" | "user.risk.change" => {
                    for key in [
                        "previousLevel=",
                        "level=",
                        "detectionName=",
                        "reasons=",
                        "issuer=",
                    ] {
                        assert!(risk.contains(key), "{event_type}: risk {risk} lacks {key}");
                    }
                    assert_eq!(v["target"][0]["type"], "User", "{event_type}");
                }
                "user.session.context.change" => {
                    assert!(risk.contains("level="), "{event_type}: {risk}");
                    for key in [
                        "causes",
                        "externalSessionId",
                        "previousIpAddress",
                        "newIpAddress",
                    ] {
                        assert!(debug[key].is_string(), "{event_type}: {key}");
                    }
                    assert_eq!(debug["newIpAddress"], v["client"]["ipAddress"]);
                }
                "security.events.provider.receive_event" => {
                    let report: serde_json::Value = serde_json::from_str(
                        debug["partnerRiskReportData"]
                            .as_str()
                            .expect("report text"),
                    )
                    .expect("the report is JSON text");
                    assert_eq!(report["issuer"], "https://ssf.edr.example.com");
                    assert_eq!(v["actor"]["type"], "SecurityEventProvider");
                }
                t if t.starts_with("security.events.provider.") => {
                    assert_eq!(v["target"][0]["type"], "SecurityEventProvider", "{t}");
                }
                t => assert!(risk.contains("level="), "{t}: risk {risk}"),
            }
            seen.insert(event_type);
        }
        assert_eq!(seen.len(), ITP_TYPES.len(), "ITP types seen: {seen:?}");
    }

    #[test]
    fn same_seed_same_events_different_seed_different_events() {
        let mut a = EventGenerator::new(7);
        let mut b = EventGenerator::new(7);
        let mut c = EventGenerator::new(8);
        for i in 0..200 {
            let ea = a.next_event(at(i));
            assert_eq!(ea, b.next_event(at(i)));
            assert_ne!(ea, c.next_event(at(i)));
        }
    }

    #[test]
    fn events_are_complete_realistic_log_events() {
        let mut g = EventGenerator::new(1);
        let mut types = BTreeSet::new();
        let mut agents = HashSet::new();
        let mut uuids = HashSet::new();
        let mut v6 = 0;
        let mut total_len = 0;
        let n = 8_000;
        for i in 0..n {
            let e = g.next_event(at(i));
            total_len += e.json.len();
            let v: serde_json::Value = serde_json::from_str(&e.json).expect("valid JSON");
            assert_eq!(v["uuid"].as_str(), Some(e.uuid.as_str()));
            assert!(uuids.insert(e.uuid.clone()), "uuids are unique");
            assert_eq!(
                v["published"].as_str(),
                Some(at(i).to_rfc3339_opts(SecondsFormat::Millis, true).as_str())
            );
            for field in [
                "actor",
                "client",
                "authenticationContext",
                "outcome",
                "securityContext",
                "debugContext",
                "transaction",
                "request",
            ] {
                assert!(v[field].is_object(), "{field} missing in {}", e.json);
            }
            let debug = &v["debugContext"]["debugData"];
            assert!(debug["requestId"].is_string() && debug["requestUri"].is_string());
            types.insert(v["eventType"].as_str().expect("eventType").to_string());
            if let Some(ua) = v["client"]["userAgent"]["rawUserAgent"].as_str() {
                agents.insert(ua.to_string());
                assert!(debug["dtHash"].as_str().is_some_and(|h| h.len() == 64));
                assert!(debug["behaviors"].is_string() && debug["risk"].is_string());
                let ip = v["client"]["ipAddress"].as_str().expect("ip with client");
                assert_eq!(v["request"]["ipChain"][0]["ip"].as_str(), Some(ip));
                if ip.contains(':') {
                    v6 += 1;
                }
            }
        }
        for family in [
            "user.session.start",
            "user.session.end",
            "user.authentication.sso",
            "user.authentication.auth_via_mfa",
            "user.authentication.auth_via_IDP",
            "user.authentication.verify",
            "user.mfa.factor.activate",
            "user.mfa.factor.deactivate",
            "user.mfa.factor.reset_all",
            "user.mfa.factor.suspend",
            "user.account.lock",
            "user.account.unlock",
            "user.account.reset_password",
            "user.account.update_password",
            "user.account.privilege.grant",
            "user.account.privilege.revoke",
            "user.account.report_suspicious_activity_by_enduser",
            "user.lifecycle.create",
            "user.lifecycle.activate",
            "user.lifecycle.deactivate",
            "user.lifecycle.suspend",
            "user.lifecycle.delete.initiated",
            "group.user_membership.add",
            "group.user_membership.remove",
            "application.user_membership.add",
            "application.lifecycle.update",
            "app.oauth2.as.authorize",
            "system.api_token.create",
            "system.api_token.revoke",
            "policy.evaluate_sign_on",
            "policy.rule.update",
            "zone.update",
            "security.threat.detected",
            "security.request.blocked",
            "system.agent.ad.import_user",
            "user.session.impersonation.initiate",
            "device.enrollment.create",
        ] {
            assert!(types.contains(family), "{family} never generated");
        }
        for itp in ITP_TYPES {
            assert!(types.contains(*itp), "{itp} never generated");
        }
        assert!(
            agents.len() >= 200,
            "only {} distinct user agents",
            agents.len()
        );
        assert!(v6 > 0, "no IPv6 client");
        let average = total_len / n as usize;
        assert!(
            (1500..=3000).contains(&average),
            "average event size {average} bytes"
        );
    }
}
